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

from typing import Any

from typing_extensions import override

from sycophant_py._params import EmbeddingParams
from sycophant_py._types import EmbeddingResponse
from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol
from sycophant_py.wire.google_embed.decode import decode_body
from sycophant_py.wire.google_embed.encode import encode_body, task_type_of
from sycophant_py.wire.google_gemini.decode import error_message

__all__ = ["GoogleEmbed", "GoogleEmbedParams", "task_type_of"]


class GoogleEmbedParams(EmbeddingParams):
    """Params of ``google_embed`` beyond the shared embedding ones."""

    task_type: str | None = None
    """Gemini ``taskType`` (``RETRIEVAL_QUERY``, ``RETRIEVAL_DOCUMENT``, ``SEMANTIC_SIMILARITY``...)."""
    title: str | None = None
    """Document title, used with ``taskType: RETRIEVAL_DOCUMENT``."""


class GoogleEmbed(EmbeddingWireProtocol):
    """The ``google_embed`` embedding protocol."""

    name = "google_embed"
    default_auth = "google"
    params = GoogleEmbedParams
    max_batch = 100

    @override
    def request_path(self, request: EmbeddingRequest) -> str:
        method = "embedContent" if len(request.inputs) == 1 else "batchEmbedContents"
        collection = "" if "/" in request.model.id else "/models"
        return f"{collection}/{{model}}:{method}"

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        return encode_body(request)

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        return decode_body(body)

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        return error_message(status, body)
