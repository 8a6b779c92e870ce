"""Response decoding for ``openai_embed``: the vectors in input order (each item's ``index``) and usage."""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._types import EmbeddingResponse, Usage
from sycophant_py.wire._base import EmbeddingWireProtocol
from sycophant_py.wire._util import int_of, invalid_body, object_of, str_or_none, vector_of

__all__ = ["Decoding"]

_NAME = "openai_embed"


def _vector(raw: Any, body: Any) -> list[float]:
    if isinstance(raw, str):
        try:
            data = base64.b64decode(raw, validate=True)
        except ValueError:
            raise invalid_body(_NAME, "an embedding that is neither numbers nor base64 text", body) from None
        return list(struct.unpack(f"<{len(data) // 4}f", data[: len(data) // 4 * 4]))
    return vector_of(_NAME, raw, body)


def _position(item: Mapping[str, Any], pos: int) -> int:
    """Where an item goes: its ``index`` (an index, which the list order need not follow), else its place."""
    index = item.get("index")
    return int_of(index) if index is not None else pos


class Decoding(EmbeddingWireProtocol):
    """The response half of ``openai_embed``: the vectors in input order, and usage."""

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        """The vectors in input order, by each item's ``index``.

        Raises:
            ResponseInvalid: no ``data`` list of objects, or an embedding that is neither numbers nor
                base64 text; the provider's message, when the body has one, is in the exception text.
        """
        body = object_of(self.name, body)
        items = body.get("data")
        if not isinstance(items, list) or not all(isinstance(d, Mapping) for d in items):
            raise invalid_body(self.name, "no 'data' list of embeddings", body)
        ordered = [d for _, d in sorted(((_position(d, i), i), d) for i, d in enumerate(items))]
        usage = body.get("usage")
        usage = usage if isinstance(usage, Mapping) else {}
        prompt = int_of(usage.get("prompt_tokens")) or int_of(usage.get("total_tokens"))
        return EmbeddingResponse(
            vectors=[_vector(d.get("embedding"), body) for d in ordered],
            usage=Usage(input_tokens=prompt),
            model=str_or_none(body.get("model")),
            raw=body,
        )
