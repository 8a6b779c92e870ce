"""Request encoding for ``openai_embed``: the inputs and params to an ``/embeddings`` body."""

from __future__ import annotations

from typing import Any

from sycophant_py.wire._base import EmbeddingRequest

__all__ = ["encode_body"]


def encode_body(request: EmbeddingRequest) -> dict[str, Any]:
    """``{"model", "input": [...], "encoding_format"}`` plus ``dimensions`` and ``input_type`` when given."""
    body: dict[str, Any] = {"model": request.model.id, "input": list(request.inputs)}
    params = request.params
    if "dimensions" in params:
        body["dimensions"] = params["dimensions"]
    body["encoding_format"] = params.get("encoding_format", "float")
    if "input_type" in params:
        body["input_type"] = params["input_type"]
    return body
