"""Amazon Bedrock embeddings through ``POST /model/{id}/invoke`` (the model's own JSON body).

The body depends on the model family, read from the model id (or forced with the
``model_family`` param for ids that do not name it, such as application inference profile ARNs):

* **Cohere Embed v3** (``cohere.embed-english-v3``, ``cohere.embed-multilingual-v3``):
  ``{"texts": [...], "input_type": "search_document", "embedding_types": ["float"]}``; up to 96
  texts per request. ``input_type`` may be ``search_query``, ``classification`` or
  ``clustering``; ``dimensions`` is refused (v3 has one size).
* **Cohere Embed v4** (``cohere.embed-v4``): the same plus ``output_dimension`` (256, 512, 1024 or
  1536) from ``dimensions``; ``truncate`` is ``NONE`` unless given.
* **Amazon Titan** (``amazon.titan-embed-text-v2``, ``-v1``, ``amazon.titan-embed-image-v1``):
  **one** text per request, ``{"inputText": ...}`` plus, for v2, ``dimensions`` (256, 512, 1024)
  and ``normalize`` (default true); the image model takes
  ``embeddingConfig.outputEmbeddingLength``.

Responses: Cohere answers ``{"embeddings": {"float": [[...], ...]}}`` when embedding types were
asked for (always, here) and ``{"embeddings": [[...], ...]}`` otherwise; Titan answers
``{"embedding": [...], "inputTextTokenCount": n}``. Vectors are always lists of floats (an
``encoding_format`` param is accepted and ignored).

**Batching.** The pipeline splits inputs by the protocol's class-level ``max_batch``, which cannot
depend on the model, so it is 1 (right for Titan, slow for Cohere). Pass ``batch_size=96`` for
Cohere models to send 96 texts per request; a Titan request with more than one input raises
``InvalidParams``. :meth:`BedrockEmbed.max_batch_for` gives the per-model limit for a pipeline that
asks. **Usage:** Titan reports its input tokens in the body; Cohere on Bedrock reports them only
in the ``x-amzn-bedrock-input-token-count`` header, which ``decode_response`` does not see, so
Cohere usage is 0 unless the body carries Cohere's ``meta.billed_units``. Errors are Converse's
(``{"message": ...}``), and so is the path rule (``bedrock_converse.model_path``).

The package follows the template of an embedding protocol (``docs/architecture.md``): this module
holds the class, its descriptor and its params; ``encode`` (the family's body) and ``decode`` the rest.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict

from sycophant_py._models import ModelInfo
from sycophant_py._params import EmbeddingParams
from sycophant_py.wire.bedrock_embed.decode import Decoding
from sycophant_py.wire.bedrock_embed.encode import COHERE_MAX, Encoding, Family, family_of

__all__ = ["BedrockEmbed", "BedrockEmbedParams", "Family", "family_of"]


class BedrockEmbedParams(EmbeddingParams):
    """Params of ``bedrock_embed`` beyond the shared embedding ones."""

    # ``model_family`` is a param name, not pydantic's: pydantic < 2.10 warns about the ``model_`` prefix.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, protected_namespaces=())

    model_family: Family | None = None
    """The body format, when the model id does not tell (an inference profile ARN...)."""
    normalize: bool | None = None
    """Titan v2: normalise the vector (the model's default is true)."""
    truncate: Literal["NONE", "START", "END"] | None = None
    """Cohere: how over-long inputs are cut (default ``NONE``: an error)."""


class BedrockEmbed(Encoding, Decoding):
    """The ``bedrock_embed`` protocol: Cohere and Titan bodies over ``InvokeModel``."""

    name = "bedrock_embed"
    default_auth = "bedrock"
    params = BedrockEmbedParams
    max_batch: ClassVar[int] = 1
    """One input per request unless ``batch_size`` says more (see the package docstring)."""

    @staticmethod
    def max_batch_for(model: ModelInfo, forced: str | None = None) -> int:
        """The most inputs one request may carry for ``model`` (96 for Cohere, 1 for Titan)."""
        return COHERE_MAX if family_of(model.id, forced).startswith("cohere") else 1
