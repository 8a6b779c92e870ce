"""Public namespace for writing wire protocols: the behaviours, their request/result types,
the shared stream accumulator, the sans-I/O decoders and the cross-provider history rules
(:func:`prepare_history` with a protocol's :class:`HandoffRules`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sycophant_py._events import PartialResponse, StreamAccumulator, StreamEvent
from sycophant_py._handoff import HandoffRules, ToolIdRule, prepare_history
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
    "HandoffRules",
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
    "ToolIdRule",
    "WireProtocol",
    "parse_partial_json",
    "prepare_history",
]


def __getattr__(name: str) -> Any:
    if name in ("SharedParams", "EmbeddingParams"):
        from sycophant_py import _params

        return getattr(_params, name)
    raise AttributeError(f"module 'sycophant_py.wire' has no attribute {name!r}")
