"""Response decoding for ``google_embed``: ``embedding`` (one input) or ``embeddings`` (a batch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._types import EmbeddingResponse, Usage
from sycophant_py.wire._base import EmbeddingWireProtocol
from sycophant_py.wire._util import int_of, invalid_body, object_of, vector_of
from sycophant_py.wire.google_gemini.decode import error_message

__all__ = ["Decoding"]

_NAME = "google_embed"


def _values(item: Any, where: str, body: Any) -> list[float]:
    values = item.get("values") if isinstance(item, Mapping) else None
    if not isinstance(values, list):
        raise invalid_body(_NAME, f"no {where}.values list", body)
    return vector_of(_NAME, values, body)


class Decoding(EmbeddingWireProtocol):
    """The response half of ``google_embed``: the vectors, usage and Google's error bodies."""

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        """The vectors and, when the model reports it, ``usageMetadata.promptTokenCount``."""
        body = object_of(self.name, body)
        if "embedding" in body:
            vectors = [_values(body["embedding"], "embedding", body)]
        elif isinstance(body.get("embeddings"), list):
            vectors = [_values(e, "embeddings[]", body) for e in body["embeddings"]]
        else:
            raise invalid_body(self.name, "neither 'embedding' nor 'embeddings'", body)
        usage = body.get("usageMetadata")
        prompt = usage.get("promptTokenCount") if isinstance(usage, Mapping) else None
        return EmbeddingResponse(vectors=vectors, usage=Usage(input_tokens=int_of(prompt)), raw=body)

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        return error_message(status, body)
