"""Public namespace for writing wire protocols: the behaviours, their request/result types,
the shared stream accumulator and the sans-I/O decoders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sycophant_py._events import PartialResponse, StreamAccumulator, StreamEvent
from sycophant_py._partial_json import parse_partial_json
from sycophant_py._sse import NDJSONDecoder, SSEDecoder, SSEEvent
from sycophant_py.wire._base import (
    EmbeddingRequest,
    EmbeddingWireProtocol,
    Request,
    StreamContinue,
    StreamDone,
    StreamFailed,
    StreamResult,
    StreamTransport,
    WireProtocol,
)

if TYPE_CHECKING:
    from sycophant_py._params import EmbeddingParams, SharedParams

__all__ = [
    "EmbeddingParams",
    "EmbeddingRequest",
    "EmbeddingWireProtocol",
    "NDJSONDecoder",
    "PartialResponse",
    "Request",
    "SSEDecoder",
    "SSEEvent",
    "SharedParams",
    "StreamAccumulator",
    "StreamContinue",
    "StreamDone",
    "StreamEvent",
    "StreamFailed",
    "StreamResult",
    "StreamTransport",
    "WireProtocol",
    "parse_partial_json",
]


def __getattr__(name: str) -> Any:
    if name in ("SharedParams", "EmbeddingParams"):
        from sycophant_py import _params

        return getattr(_params, name)
    raise AttributeError(f"module 'sycophant_py.wire' has no attribute {name!r}")
