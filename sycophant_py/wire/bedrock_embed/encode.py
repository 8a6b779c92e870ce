"""Request encoding for ``bedrock_embed``: the body of the model's family (Cohere v3 / v4, Titan)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from typing_extensions import override

from sycophant_py._exceptions import InvalidParams
from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol
from sycophant_py.wire.bedrock_converse.encode import model_path

__all__ = ["COHERE_MAX", "Encoding", "Family", "family_of"]

Family = Literal["cohere_v3", "cohere_v4", "titan_v1", "titan_v2", "titan_image"]
_FAMILIES: tuple[Family, ...] = get_args(Family)
COHERE_MAX = 96
"""The most texts Cohere takes in one request."""
_COHERE_INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering"})
_COHERE_V4_DIMS = frozenset({256, 512, 1024, 1536})
_TITAN_V2_DIMS = frozenset({256, 512, 1024})


def family_of(model_id: str, forced: str | None = None) -> Family:
    """The body format of a Bedrock embedding model.

    Raises:
        InvalidParams: the id names no known family and none was forced.
    """
    for family in _FAMILIES:
        if forced == family:
            return family
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
    if len(req.inputs) > COHERE_MAX:
        raise InvalidParams(f"bedrock_embed: Cohere takes at most {COHERE_MAX} texts per request", param="batch_size")
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


class Encoding(EmbeddingWireProtocol):
    """The request half of ``bedrock_embed``: ``InvokeModel`` with the body of the model's family."""

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
