"""Stream decoding for ``ollama_native``: one NDJSON line at a time into the shared accumulator.

The line with ``done: true`` carries ``done_reason`` and the token counts; a line with ``error``
ends the stream with a failure. A tool call arrives whole in one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py.wire._base import StreamContinue, StreamDone, StreamFailed, StreamResult, WireProtocol
from sycophant_py.wire._util import body_message, invalid_body, map_finish, object_of, stream_error
from sycophant_py.wire.ollama_native.decode import (
    decode_usage,
    text_field,
    tool_call_fields,
)

__all__ = ["Streaming"]


def _stream_tool_call(acc: StreamAccumulator, tc: Mapping[str, Any]) -> None:
    # A call arrives whole in one line: open it, give the arguments as one delta, close it.
    call_id, name, arguments = tool_call_fields(tc)
    key = ("tc", len(acc.blocks))  # a new block each time
    acc.tool_call(key, id=call_id, name=name, arguments=arguments)
    acc.end_key(key)


class Streaming(WireProtocol):
    """The stream half of ``ollama_native``: NDJSON lines into the accumulator."""

    stream_state = StreamAccumulator

    @override
    def decode_stream_chunk(self, state: StreamAccumulator, event: Any) -> StreamResult:
        """Decode one NDJSON line (text, or an already parsed object)."""
        acc = state
        payload = json.loads(event) if isinstance(event, (str, bytes)) else event
        payload = object_of(self.name, payload, stream=acc)
        if payload.get("error"):
            return self._stream_error(acc, payload)
        msg = payload.get("message")
        if msg is None and not payload.get("done") and body_message(payload):
            raise invalid_body(self.name, "no 'message' object", payload, stream=acc)
        msg = msg if isinstance(msg, Mapping) else {}
        acc.raw = payload
        if isinstance(payload.get("model"), str) and payload["model"]:
            acc.model = payload["model"]
        if text_field(msg.get("thinking")):
            acc.thinking(text_field(msg.get("thinking")))
        if text_field(msg.get("content")):
            acc.text(text_field(msg.get("content")))
        for tc in msg.get("tool_calls") or ():
            if isinstance(tc, Mapping):
                _stream_tool_call(acc, tc)
        if payload.get("done"):
            acc.usage = decode_usage(payload)
            reason = payload.get("done_reason")
            acc.provider_finish_reason = reason if isinstance(reason, str) else None
            resp = acc.finish(map_finish(self.finish_reasons, acc.provider_finish_reason))
            return StreamDone(resp, acc.drain())
        return StreamContinue(acc, acc.drain())

    def _stream_error(self, acc: StreamAccumulator, payload: Mapping[str, Any]) -> StreamFailed:
        message, _ = self.decode_error(200, payload)
        return stream_error(acc, message, body=dict(payload))
