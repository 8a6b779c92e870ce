"""Response decoding for ``ollama_embed``: an ``/api/embed`` body to vectors and usage."""

from __future__ import annotations

from typing import Any

from sycophant_py._types import EmbeddingResponse, Usage
from sycophant_py.wire._util import int_of, invalid_body, object_of, vector_of

__all__ = ["decode_body"]

_NAME = "ollama_embed"


def decode_body(body: Any) -> EmbeddingResponse:
    """The vectors of an ``/api/embed`` body (``ResponseInvalid`` when it has no ``embeddings`` list)."""
    body = object_of(_NAME, body)
    vectors = body.get("embeddings")
    if not isinstance(vectors, list):
        raise invalid_body(_NAME, "no 'embeddings' list", body)
    return EmbeddingResponse(
        vectors=[vector_of(_NAME, v, body) for v in vectors],
        usage=Usage(input_tokens=int_of(body.get("prompt_eval_count"))),
        model=body.get("model"),
        raw=body,
    )
