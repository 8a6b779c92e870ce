"""Stream decoding for ``bedrock_converse``: AWS event-stream frames into the shared accumulator.

``messageStop`` records the stop reason but does not end the stream, because the ``metadata``
event with the usage comes after it: the stream is done once both were seen (in either order). A
body that ends after ``messageStop`` without ``metadata`` is still complete. Exception frames end
the stream with an ``error`` event keeping the partial content (the exception class by name:
``decode.EXCEPTIONS``). One handler per event type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import StreamError
from sycophant_py.wire._base import StreamContinue, StreamFailed, StreamResult, WireProtocol
from sycophant_py.wire._util import finish_or_fail, int_of, map_finish, object_of, stream_error
from sycophant_py.wire.bedrock_converse.decode import EXCEPTIONS, decode_usage
from sycophant_py.wire.bedrock_converse.encode import PROTOCOL_MARK

__all__ = ["ConverseStream", "Streaming"]


class ConverseStream(StreamAccumulator):
    """Stream state: the accumulator plus the stop reason seen in ``messageStop``."""

    def __init__(self) -> None:
        super().__init__()
        self.stop_reason: str | None = None
        self.stopped = False
        self.metadata_seen = False
        self.server_blocks: set[int] = set()


def _stream_error(acc: ConverseStream, event: Any) -> StreamFailed:
    try:
        payload = event.json()
    except ValueError:
        payload = event.payload.decode("utf-8", "replace")
    name = event.exception_type or str(event.headers.get(":error-code") or "")
    message = (payload.get("message") or payload.get("Message") if isinstance(payload, Mapping) else None) or str(
        event.headers.get(":error-message") or payload or name
    )
    cls, status = EXCEPTIONS.get(name.lower(), (StreamError, None))
    text = f"{name}: {message}" if name else message
    return stream_error(acc, text, body=payload, status=status, error_type=name or None, cls=cls)


class Streaming(WireProtocol[ConverseStream]):
    """The stream half of ``bedrock_converse``: event-stream frames into the accumulator."""

    stream_state = ConverseStream

    @override
    def decode_stream_chunk(self, state: ConverseStream, event: Any) -> StreamResult[ConverseStream]:
        """Decode one event-stream frame (an event, or an exception that ends the stream)."""
        acc = state
        if event.message_type != "event":
            return _stream_error(acc, event)
        payload = object_of(self.name, event.json(), stream=acc)
        handler = _HANDLERS.get(event.event_type or "")
        if handler is not None:
            handler(acc, payload)
        if event.event_type == "metadata":
            acc.raw = payload
        if acc.stopped and acc.metadata_seen:
            return finish_or_fail(acc, map_finish(self.finish_reasons, acc.stop_reason), self.name)
        return StreamContinue(acc, acc.drain())

    @override
    def end_of_stream(self, state: ConverseStream) -> StreamResult[ConverseStream]:
        """Complete when ``messageStop`` was seen (``metadata`` may be missing), else an error."""
        if state.stopped:
            return finish_or_fail(state, map_finish(self.finish_reasons, state.stop_reason), self.name)
        return super().end_of_stream(state)


# -- stream event handlers (one per event type) -----------------------------------------------


def _on_start(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    acc.start()


def _on_block_start(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    index = int_of(payload.get("contentBlockIndex"))
    start = payload.get("start")
    if not isinstance(start, Mapping):
        return
    use = start.get("toolUse")
    if isinstance(use, Mapping):
        if use.get("type") == "server_tool_use":
            acc.server_blocks.add(index)
            return
        acc.tool_call(index, id=use.get("toolUseId"), name=use.get("name"))
    elif "toolResult" in start:
        acc.server_blocks.add(index)


def _on_block_delta(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    index = int_of(payload.get("contentBlockIndex"))
    delta = payload.get("delta")
    if index in acc.server_blocks or not isinstance(delta, Mapping):
        return
    if "text" in delta:
        acc.text(str(delta["text"]), key=index)
    elif isinstance(delta.get("toolUse"), Mapping):
        acc.tool_call(index, arguments=str(delta["toolUse"].get("input") or ""))
    elif isinstance(delta.get("reasoningContent"), Mapping):
        rc = delta["reasoningContent"]
        redacted = rc.get("redactedContent")
        acc.thinking(
            str(rc.get("text") or ""),
            key=index,
            signature=rc.get("signature") or redacted or None,
            redacted=bool(redacted),
            provider_data=dict(PROTOCOL_MARK),
        )


def _on_block_stop(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    acc.end_key(int_of(payload.get("contentBlockIndex")))


def _on_message_stop(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    acc.stopped = True
    reason = payload.get("stopReason")
    acc.stop_reason = reason if isinstance(reason, str) else None
    acc.provider_finish_reason = acc.stop_reason


def _on_metadata(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    acc.metadata_seen = True
    if payload.get("usage"):
        acc.usage = decode_usage(payload["usage"])


_HANDLERS = {
    "messageStart": _on_start,
    "contentBlockStart": _on_block_start,
    "contentBlockDelta": _on_block_delta,
    "contentBlockStop": _on_block_stop,
    "messageStop": _on_message_stop,
    "metadata": _on_metadata,
}
