"""Response decoding for ``bedrock_embed``: Titan's ``embedding`` or Cohere's ``embeddings``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._types import EmbeddingResponse, Usage
from sycophant_py.wire._base import EmbeddingWireProtocol
from sycophant_py.wire._util import int_of, invalid_body, object_of, vector_of
from sycophant_py.wire.bedrock_converse.decode import error_message

__all__ = ["Decoding"]

_NAME = "bedrock_embed"


def _floats(vectors: Any, body: Any) -> list[list[float]]:
    if not isinstance(vectors, list):
        raise invalid_body(_NAME, "no 'embedding' / 'embeddings' list", body)
    return [vector_of(_NAME, v, body) for v in vectors]


class Decoding(EmbeddingWireProtocol):
    """The response half of ``bedrock_embed``: Titan's and Cohere's answers, and Converse-style error bodies."""

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
