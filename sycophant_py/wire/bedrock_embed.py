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
Cohere usage is 0 unless the body carries Cohere's ``meta.billed_units``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict
from typing_extensions import override

from sycophant_py._exceptions import InvalidParams
from sycophant_py._models import ModelInfo
from sycophant_py._params import EmbeddingParams
from sycophant_py._types import EmbeddingResponse, Usage
from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol
from sycophant_py.wire._util import int_of, invalid_body, object_of, vector_of
from sycophant_py.wire.bedrock_converse import error_message, model_path

__all__ = ["BedrockEmbed", "BedrockEmbedParams", "Family", "family_of"]

Family = Literal["cohere_v3", "cohere_v4", "titan_v1", "titan_v2", "titan_image"]
_COHERE_MAX = 96
_COHERE_INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering"})
_COHERE_V4_DIMS = frozenset({256, 512, 1024, 1536})
_TITAN_V2_DIMS = frozenset({256, 512, 1024})


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


def family_of(model_id: str, forced: str | None = None) -> Family:
    """The body format of a Bedrock embedding model.

    Raises:
        InvalidParams: the id names no known family and none was forced.
    """
    if forced:
        return forced  # type: ignore[return-value]
    mid = model_id.lower()
    if "cohere.embed" in mid:
        return "cohere_v4" if "embed-v4" in mid else "cohere_v3"
    if "titan-embed-image" in mid:
        return "titan_image"
    if "titan-embed-text-v1" in mid or "titan-embed-g1" in mid:
        return "titan_v1"
    if "titan-embed" in mid:
        return "titan_v2"
    raise InvalidParams(
        f"bedrock_embed: cannot tell the body format of {model_id!r}; pass model_family= one of "
        "cohere_v3, cohere_v4, titan_v1, titan_v2, titan_image",
        param="model_family",
    )


def _cohere(req: EmbeddingRequest, v4: bool) -> dict[str, Any]:
    p = req.params
    input_type = p.get("input_type") or "search_document"
    if input_type not in _COHERE_INPUT_TYPES:
        raise InvalidParams(
            f"bedrock_embed: input_type must be one of {sorted(_COHERE_INPUT_TYPES)}", param="input_type"
        )
    if len(req.inputs) > _COHERE_MAX:
        raise InvalidParams(f"bedrock_embed: Cohere takes at most {_COHERE_MAX} texts per request", param="batch_size")
    body: dict[str, Any] = {"texts": list(req.inputs), "input_type": input_type, "embedding_types": ["float"]}
    dims = p.get("dimensions")
    if dims is not None:
        if not v4 or dims not in _COHERE_V4_DIMS:
            raise InvalidParams(
                "bedrock_embed: dimensions must be 256, 512, 1024 or 1536 (Cohere v4 only)", param="dimensions"
            )
        body["output_dimension"] = dims
    if p.get("truncate") or v4:
        body["truncate"] = p.get("truncate") or "NONE"
    return body


def _titan(req: EmbeddingRequest, family: Family) -> dict[str, Any]:
    if len(req.inputs) != 1:
        raise InvalidParams("bedrock_embed: Titan models embed one text per request (batch_size=1)", param="batch_size")
    p = req.params
    body: dict[str, Any] = {"inputText": req.inputs[0]}
    dims = p.get("dimensions")
    if family == "titan_v2":
        if dims is not None:
            if dims not in _TITAN_V2_DIMS:
                raise InvalidParams("bedrock_embed: Titan v2 dimensions must be 256, 512 or 1024", param="dimensions")
            body["dimensions"] = dims
        body["normalize"] = p.get("normalize", True)
    elif family == "titan_image" and dims is not None:
        body["embeddingConfig"] = {"outputEmbeddingLength": dims}
    elif dims is not None:
        raise InvalidParams("bedrock_embed: Titan v1 has a fixed size (no dimensions)", param="dimensions")
    return body


def _floats(vectors: Any, body: Any) -> list[list[float]]:
    if not isinstance(vectors, list):
        raise invalid_body("bedrock_embed", "no 'embedding' / 'embeddings' list", body)
    return [vector_of("bedrock_embed", v, body) for v in vectors]


class BedrockEmbed(EmbeddingWireProtocol):
    """The ``bedrock_embed`` protocol: Cohere and Titan bodies over ``InvokeModel``."""

    name = "bedrock_embed"
    max_batch: ClassVar[int] = 1
    """One input per request unless ``batch_size`` says more (see the module docstring)."""

    @classmethod
    @override
    def param_schema(cls) -> type[BedrockEmbedParams]:
        return BedrockEmbedParams

    @staticmethod
    def max_batch_for(model: ModelInfo, forced: str | None = None) -> int:
        """The most inputs one request may carry for ``model`` (96 for Cohere, 1 for Titan)."""
        return _COHERE_MAX if family_of(model.id, forced).startswith("cohere") else 1

    @override
    def request_path(self, request: EmbeddingRequest) -> str:
        return model_path(request.model.id) + "/invoke"

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        """The model family's body (raises ``InvalidParams`` for what the family cannot take)."""
        family = family_of(request.model.id, request.params.get("model_family"))
        if family.startswith("cohere"):
            return _cohere(request, family == "cohere_v4")
        return _titan(request, family)

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        """Titan's ``embedding`` or Cohere's ``embeddings`` (a list, or ``{"float": [...]}``).

        Raises:
            ResponseInvalid: neither is there as a list of numbers (Bedrock's ``message``, when the
                body has one, is in the exception text).
        """
        body = object_of(self.name, body)
        if "embedding" in body:  # Titan
            usage = Usage(input_tokens=int_of(body.get("inputTextTokenCount")))
            return EmbeddingResponse(_floats([body["embedding"]], body), usage, raw=body)
        embeddings = body.get("embeddings")
        vectors = _floats(embeddings.get("float") if isinstance(embeddings, Mapping) else embeddings, body)
        meta = body.get("meta")
        billed = meta.get("billed_units") if isinstance(meta, Mapping) else None
        tokens = billed.get("input_tokens") if isinstance(billed, Mapping) else None
        return EmbeddingResponse(vectors, Usage(input_tokens=int_of(tokens)), raw=body)

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """``{"message": ...}`` like Converse errors."""
        return error_message(status, body)
