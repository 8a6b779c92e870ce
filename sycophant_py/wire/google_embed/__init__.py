"""Google Gemini embeddings (the ``google_embed`` protocol): ``:embedContent`` and ``:batchEmbedContents``.

The base URL holds the ``/v1beta`` prefix. One input is sent to ``/models/{model}:embedContent`` as
``{"content": {"parts": [{"text": ...}]}}``; several go to ``/models/{model}:batchEmbedContents`` as
``{"requests": [{"model": "models/<id>", "content": ...}, ...]}`` (at most 100 per request, so the
pipeline splits larger calls). ``dimensions`` is ``outputDimensionality``; ``task_type`` (or the
shared ``input_type``: ``query`` -> ``RETRIEVAL_QUERY``, ``document`` -> ``RETRIEVAL_DOCUMENT``, ...)
is ``taskType``; ``title`` goes with ``RETRIEVAL_DOCUMENT``. Gemini always answers with floats, so
``encoding_format`` is ignored. Usage is ``usageMetadata.promptTokenCount`` when the model reports it.
Errors are Gemini's.

The package follows the template of an embedding protocol (``docs/architecture.md``): this module
holds the class, its descriptor and its params; ``encode`` and ``decode`` the rest.
"""

from __future__ import annotations

from sycophant_py._params import EmbeddingParams
from sycophant_py.wire.google_embed.decode import Decoding
from sycophant_py.wire.google_embed.encode import Encoding, task_type_of

__all__ = ["GoogleEmbed", "GoogleEmbedParams", "task_type_of"]


class GoogleEmbedParams(EmbeddingParams):
    """Params of ``google_embed`` beyond the shared embedding ones."""

    task_type: str | None = None
    """Gemini ``taskType`` (``RETRIEVAL_QUERY``, ``RETRIEVAL_DOCUMENT``, ``SEMANTIC_SIMILARITY``...)."""
    title: str | None = None
    """Document title, used with ``taskType: RETRIEVAL_DOCUMENT``."""


class GoogleEmbed(Encoding, Decoding):
    """The ``google_embed`` embedding protocol."""

    name = "google_embed"
    default_auth = "google"
    params = GoogleEmbedParams
    max_batch = 100
