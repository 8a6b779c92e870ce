"""Response decoding for ``ollama_embed``: an ``/api/embed`` body to vectors and usage."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from sycophant_py._types import EmbeddingResponse, Usage
from sycophant_py.wire._base import EmbeddingWireProtocol, error_fields
from sycophant_py.wire._util import field_of, int_of, object_of, vector_of
from sycophant_py.wire.ollama_native.decode import error_text

__all__ = ["Decoding"]

_NAME = "ollama_embed"


class Decoding(EmbeddingWireProtocol):
    """The response half of ``ollama_embed``: the vectors, usage and Ollama's ``{"error": ...}`` bodies."""

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        """The vectors of an ``/api/embed`` body (``ResponseInvalid`` when it has no ``embeddings`` list)."""
        body = object_of(self.name, body)
        vectors = field_of(self.name, body, "embeddings", list, "no 'embeddings' list")
        return EmbeddingResponse(
            vectors=[vector_of(self.name, v, body) for v in vectors],
            usage=Usage(input_tokens=int_of(body.get("prompt_eval_count"))),
            model=body.get("model"),
            raw=body,
        )

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """Ollama's errors are ``{"error": "text"}``."""
        return error_text(body) or error_fields(status, body)
