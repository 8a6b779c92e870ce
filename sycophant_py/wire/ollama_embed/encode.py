"""Request encoding for ``ollama_embed``: the inputs and params to an ``/api/embed`` body."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol

__all__ = ["Encoding"]


class Encoding(EmbeddingWireProtocol):
    """The request half of ``ollama_embed``: ``POST /api/embed`` and its body."""

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        """``{"model", "input": [...]}`` plus ``truncate``, ``dimensions``, ``keep_alive`` and ``options``."""
        params = request.params
        body: dict[str, Any] = {"model": request.model.id, "input": list(request.inputs)}
        if "truncate" in params:
            body["truncate"] = params["truncate"]
        if "dimensions" in params:
            body["dimensions"] = params["dimensions"]
        if "keep_alive" in params:
            keep = params["keep_alive"]
            body["keep_alive"] = f"{keep}s" if isinstance(keep, int) else keep  # the spec wants a duration text
        if params.get("options"):
            body["options"] = dict(params["options"])
        return body
