"""Request encoding for ``openai_embed``: the inputs and params to an ``/embeddings`` body."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol

__all__ = ["Encoding"]


class Encoding(EmbeddingWireProtocol):
    """The request half of ``openai_embed``: ``POST /embeddings`` and its body."""

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        """``{"model", "input": [...], "encoding_format"}`` plus ``dimensions`` and ``input_type`` when given."""
        body: dict[str, Any] = {"model": request.model.id, "input": list(request.inputs)}
        params = request.params
        if "dimensions" in params:
            body["dimensions"] = params["dimensions"]
        body["encoding_format"] = params.get("encoding_format", "float")
        if "input_type" in params:
            body["input_type"] = params["input_type"]
        return body
