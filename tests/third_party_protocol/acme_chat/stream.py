"""Stream decoding for ``acme_chat``: SSE events into the shared accumulator."""

from __future__ import annotations

import json
from typing import Any

from typing_extensions import override

from sycophant_py.wire import StreamAccumulator, StreamContinue, StreamDone, StreamResult, WireProtocol
from tests.third_party_protocol.acme_chat.decode import decode_usage, finish_of

__all__ = ["AcmeStream", "Streaming"]


class AcmeStream(StreamAccumulator):
    """Stream state: the accumulator plus whether the ``end`` event came."""

    def __init__(self) -> None:
        super().__init__()
        self.ended = False


class Streaming(WireProtocol[AcmeStream]):
    """The stream half of ``acme_chat``."""

    stream_state = AcmeStream

    @override
    def decode_stream_chunk(self, state: AcmeStream, event: Any) -> StreamResult[AcmeStream]:
        payload = json.loads(event.data)
        kind = payload.get("type")
        if kind == "text":
            state.text(payload["delta"])
        elif kind == "call":
            state.tool_call(payload["id"], id=payload["id"], name=payload.get("name"), arguments=payload["delta"])
        elif kind == "end":
            state.usage = decode_usage(payload["usage"])
            state.provider_finish_reason = payload["stop"]
            calls = any(b.kind == "tool_call" for b in state.blocks)
            return StreamDone(state.finish(finish_of(self.finish_reasons, payload["stop"], calls)), state.drain())
        return StreamContinue(state, state.drain())
