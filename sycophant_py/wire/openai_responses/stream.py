"""Stream decoding for ``openai_responses``: one SSE event in, accumulator calls out.

Blocks are keyed by ``output_index`` (GitHub Copilot rotates ``item_id`` on every event). Each
text, reasoning-summary, reasoning-text and function-argument delta becomes one unified delta; a
``*.done`` event (or ``output_item.done``) fills in what no delta carried, for servers that only
send whole texts. Parts are matched by the ``content_index`` / ``summary_index`` their events carry,
which is an index, not a position in the finished item's list: a finished item's parts are matched to
what was received by their text. Summary parts after the first are separated by a ``"\\n\\n"`` thinking delta, so
the streamed reasoning equals the non-streamed one. The encrypted content is taken from
``output_item.done`` (the one in ``output_item.added`` may be incomplete).

A finished reasoning item stays open until the next item starts, so the id of a message that
directly follows it can be recorded (``next_message_id``, needed to replay the reasoning).
OpenRouter finishes a reasoning item only after the following message began; its metadata then
goes onto the block the accumulator already closed.

``response.completed`` and ``response.incomplete`` end the stream with ``done`` (a stream that sent
no output item events takes its content from that final response's ``output``);
``response.failed`` and ``error`` events end it with ``error`` (a ``StreamError`` whose
``error_type`` is the provider's code). A stream that stops before one of them is an error (the
behaviour's default ``end_of_stream``). OpenRouter's ``data: [DONE]`` after the end is ignored.
``content_part.*``, annotations and built-in tool progress events carry nothing of ours.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._types import TextPart, ThinkingPart, ToolCall
from sycophant_py.wire._base import StreamContinue, StreamDone, StreamFailed, StreamResult, WireProtocol
from sycophant_py.wire._util import invalid_body, is_done_marker, object_of, stream_error
from sycophant_py.wire.openai_responses.decode import (
    API,
    arguments_text,
    decode_usage,
    error_of,
    incomplete_reason,
    int_of,
    map_status,
    process_output,
    reasoning_data,
    texts,
)

__all__ = ["ResponsesStream", "Streaming"]


class ResponsesStream(StreamAccumulator):
    """Stream state: the accumulator plus what the ``*.done`` fallbacks and finish reason need."""

    def __init__(self) -> None:
        super().__init__()
        self.got: set[Hashable] = set()
        """Keys of function calls that received their arguments (``*.done`` then adds nothing)."""
        self.texts: dict[Hashable, dict[tuple[str, int], str]] = {}
        """Per output item: the text received for each part, by kind (``t`` output text or refusal,
        ``s`` summary, ``c`` reasoning text) and the part's *index* as the event gave it."""
        self.summaries: dict[Hashable, set[int]] = {}
        """Summary indexes started per reasoning item (for the blank-line separator)."""
        self.reasoning_blocks: dict[Hashable, int] = {}
        """Block index of each reasoning item (to find it once the accumulator has closed it)."""
        self.open_reasoning: Hashable | None = None
        """A finished reasoning item kept open until the next item says what followed it."""
        self.prev_reasoning: Hashable | None = None
        """The reasoning item the next output item directly follows."""
        self.refused = False


def _key(payload: Mapping[str, Any]) -> Hashable:
    index = payload.get("output_index")
    return ("out", int_of(index) if index is not None else payload.get("item_id"))


def _item(acc: ResponsesStream, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    item = payload.get("item")
    if not isinstance(item, Mapping):
        raise invalid_body(API, "an output item event without an 'item' object", payload, stream=acc)
    return item


def _index(payload: Mapping[str, Any], field: str) -> int:
    """A part index (``content_index``, ``summary_index``) of an event: 0 when absent."""
    return int_of(payload.get(field))


def _missing(received: list[str], given: list[str]) -> list[int]:
    """Positions of the parts of a finished item (``given``, in order) that no event delivered.

    Events name parts by their index, which need not be the part's position in the finished item
    (a message whose only part has ``content_index: 1``), so parts are matched by their text: one
    whose text was received is there; when as many parts were received as the item has, none is
    missing (their texts may differ in whitespace); otherwise the unmatched ones are.
    """
    if not received:
        return [i for i, text in enumerate(given) if text]
    left = list(received)
    out: list[int] = []
    for i, text in enumerate(given):
        if text in left:
            left.remove(text)
        elif text and len(received) < len(given):
            out.append(i)
    return out


class _StreamDecoder:
    """Applies one Responses stream event to the accumulator (one method per event family)."""

    def __init__(self, acc: ResponsesStream) -> None:
        self.acc = acc

    # lifecycle ----------------------------------------------------------------------------------
    def lifecycle(self, p: Mapping[str, Any]) -> None:
        resp = p.get("response")
        if isinstance(resp, Mapping):
            self.acc.raw = resp
            self.acc.id = resp.get("id") or self.acc.id
            self.acc.model = resp.get("model") or self.acc.model
            if resp.get("usage"):
                self.acc.usage = decode_usage(resp["usage"])

    # output items -------------------------------------------------------------------------------
    def item_added(self, p: Mapping[str, Any]) -> None:
        acc, key, item = self.acc, _key(p), _item(self.acc, p)
        kind = item.get("type")
        if acc.prev_reasoning is not None and kind == "message" and item.get("id"):
            self._reasoning_meta(acc.prev_reasoning, provider_data={"next_message_id": item["id"]})
        if acc.open_reasoning is not None:
            acc.end_key(acc.open_reasoning)
            acc.open_reasoning = None
        acc.prev_reasoning = key if kind == "reasoning" else None
        if kind == "reasoning":
            self._think(key, provider_data={"api": API, "item_id": item.get("id")})
        elif kind == "function_call":  # arguments come as deltas, or whole with the *.done events
            acc.tool_call(
                key,
                id=item.get("call_id"),
                name=item.get("name"),
                provider_data={"api": API, "item_id": item.get("id")},
            )

    def item_done(self, p: Mapping[str, Any]) -> None:
        acc, key, item = self.acc, _key(p), _item(self.acc, p)
        kind = item.get("type")
        if kind == "reasoning":
            self._reasoning_done(key, item)
        elif kind == "function_call":
            if key not in acc.got:
                acc.tool_call(key, arguments=arguments_text(item.get("arguments")))
            acc.tool_call(
                key,
                id=item.get("call_id"),
                name=item.get("name"),
                provider_data={"api": API, "item_id": item.get("id")},
            )
            acc.end_key(key)
        elif kind == "message":
            self._message_done(key, item)
            acc.end_key(key)

    def _message_done(self, key: Hashable, item: Mapping[str, Any]) -> None:
        parts = [c for c in item.get("content") or () if isinstance(c, Mapping)]
        raw = [c.get("refusal") if c.get("type") == "refusal" else c.get("text") for c in parts]
        given = [t if isinstance(t, str) else "" for t in raw]
        for pos in _missing(self._received(key, "t"), given):
            refusal = parts[pos].get("type") == "refusal"
            self._text_fallback(key, -1 - pos, given[pos], refusal=refusal)

    def _received(self, key: Hashable, kind: str) -> list[str]:
        return [text for (k, _), text in self.acc.texts.get(key, {}).items() if k == kind]

    def _record(self, key: Hashable, kind: str, index: int, text: str) -> None:
        item = self.acc.texts.setdefault(key, {})
        item[(kind, index)] = item.get((kind, index), "") + text

    def _has(self, key: Hashable, kind: str, index: int) -> bool:
        return (kind, index) in self.acc.texts.get(key, {})

    def _reasoning_done(self, key: Hashable, item: Mapping[str, Any]) -> None:
        summary = texts(item.get("summary"), "summary_text")
        started = self.acc.summaries.get(key, set())
        fresh = max(started, default=-1) + 1
        for n, pos in enumerate(_missing(self._received(key, "s"), summary)):
            self._summary_text(key, fresh + n, summary[pos])
            self._record(key, "s", fresh + n, summary[pos])
        if not summary:
            content = texts(item.get("content"), "reasoning_text")
            for pos in _missing(self._received(key, "c"), content):
                self._reasoning_text(key, content[pos])
                self._record(key, "c", -1 - pos, content[pos])
        signature = item.get("encrypted_content") or None
        if self._reasoning_meta(key, signature=signature, provider_data=reasoning_data(item)):
            self.acc.open_reasoning = key  # ended when the next item starts, once we know what it is

    def _think(self, key: Hashable, text: str = "", **kw: Any) -> None:
        self.acc.thinking(text, key=key, **kw)
        self.acc.reasoning_blocks.setdefault(key, len(self.acc.blocks) - 1)

    def _reasoning_meta(
        self, key: Hashable, *, signature: str | None = None, provider_data: dict[str, Any] | None = None
    ) -> bool:
        """Attach a signature / provider data to a reasoning item's block; True when it is still open."""
        index = self.acc.reasoning_blocks.get(key)
        block = self.acc.blocks[index] if index is not None else None
        if block is None or not block.ended:
            self._think(key, signature=signature, provider_data=provider_data)
            return True
        # OpenRouter finishes a reasoning item after the next message began, and the accumulator closed
        # the thinking block when that text started: the metadata goes onto the closed block.
        if signature is not None:
            block.signature = signature
        if provider_data:
            block.provider_data = {**(block.provider_data or {}), **provider_data}
        return False

    # text ---------------------------------------------------------------------------------------
    def text_delta(self, p: Mapping[str, Any], *, refusal: bool = False) -> None:
        delta = p.get("delta")
        if isinstance(delta, str) and delta:
            key = _key(p)
            self.acc.text(delta, key=key)
            self._record(key, "t", _index(p, "content_index"), delta)
            self.acc.refused = self.acc.refused or refusal

    def text_done(self, p: Mapping[str, Any], *, refusal: bool = False) -> None:
        text = p.get("refusal") if refusal else p.get("text")
        self._text_fallback(_key(p), _index(p, "content_index"), text, refusal=refusal)

    def _text_fallback(self, key: Hashable, index: int, text: Any, *, refusal: bool) -> None:
        if self._has(key, "t", index) or not isinstance(text, str) or not text:
            return
        self.acc.text(text, key=key)
        self._record(key, "t", index, text)
        self.acc.refused = self.acc.refused or refusal

    # reasoning ----------------------------------------------------------------------------------
    def summary_part(self, p: Mapping[str, Any]) -> None:
        self._summary_text(_key(p), _index(p, "summary_index"), "")

    def summary_delta(self, p: Mapping[str, Any]) -> None:
        key, index = _key(p), _index(p, "summary_index")
        delta = str(p.get("delta") or "")
        self._summary_text(key, index, delta)
        self._record(key, "s", index, delta)

    def summary_done(self, p: Mapping[str, Any]) -> None:
        key, index = _key(p), _index(p, "summary_index")
        if not self._has(key, "s", index):
            text = str(p.get("text") or "")
            self._summary_text(key, index, text)
            self._record(key, "s", index, text)

    def _summary_text(self, key: Hashable, index: int, text: str) -> None:
        started = self.acc.summaries.setdefault(key, set())
        if index not in started:
            if started:
                self._think(key, "\n\n")
            started.add(index)
        self._think(key, text)

    def reasoning_delta(self, p: Mapping[str, Any]) -> None:
        key, index = _key(p), _index(p, "content_index")
        delta = str(p.get("delta") or "")
        self._reasoning_text(key, delta)
        self._record(key, "c", index, delta)

    def reasoning_done(self, p: Mapping[str, Any]) -> None:
        key, index = _key(p), _index(p, "content_index")
        if not self._has(key, "c", index):
            text = str(p.get("text") or "")
            self._reasoning_text(key, text)
            self._record(key, "c", index, text)

    def _reasoning_text(self, key: Hashable, text: str) -> None:
        self._think(key, text, provider_data={"reasoning_content": True} if text else None)

    # tool calls ---------------------------------------------------------------------------------
    def arguments_delta(self, p: Mapping[str, Any]) -> None:
        delta = p.get("delta")
        if isinstance(delta, str) and delta:
            key = _key(p)
            self.acc.tool_call(key, arguments=delta)
            self.acc.got.add(key)

    def arguments_done(self, p: Mapping[str, Any]) -> None:
        key, args = _key(p), p.get("arguments")
        if key not in self.acc.got and isinstance(args, str) and args:
            self.acc.tool_call(key, arguments=args)
            self.acc.got.add(key)


_HANDLERS: dict[str, Any] = {
    "response.created": _StreamDecoder.lifecycle,
    "response.in_progress": _StreamDecoder.lifecycle,
    "response.queued": _StreamDecoder.lifecycle,
    "response.output_item.added": _StreamDecoder.item_added,
    "response.output_item.done": _StreamDecoder.item_done,
    "response.output_text.delta": _StreamDecoder.text_delta,
    "response.output_text.done": _StreamDecoder.text_done,
    "response.refusal.delta": lambda d, p: d.text_delta(p, refusal=True),
    "response.refusal.done": lambda d, p: d.text_done(p, refusal=True),
    "response.reasoning_summary_part.added": _StreamDecoder.summary_part,
    "response.reasoning_summary_text.delta": _StreamDecoder.summary_delta,
    "response.reasoning_summary_text.done": _StreamDecoder.summary_done,
    "response.reasoning_text.delta": _StreamDecoder.reasoning_delta,
    "response.reasoning_text.done": _StreamDecoder.reasoning_done,
    "response.function_call_arguments.delta": _StreamDecoder.arguments_delta,
    "response.function_call_arguments.done": _StreamDecoder.arguments_done,
}
"""Events that add content. ``content_part.*``, annotations and built-in tool progress events need
nothing: their content arrives in the events above or stays in the final ``raw`` response."""


def _terminal(acc: ResponsesStream, kind: str, payload: Mapping[str, Any]) -> StreamResult[ResponsesStream]:
    _StreamDecoder(acc).lifecycle(payload)
    resp = payload.get("response")
    if not isinstance(resp, Mapping):
        resp = {}
    status = resp.get("status") or kind.rpartition(".")[2]
    if kind == "response.failed" or status == "failed":
        return _fail(acc, resp, payload)
    if not acc.blocks:
        _fill_from_output(acc, resp.get("output"))
    incomplete = incomplete_reason(resp)
    acc.provider_finish_reason = incomplete or (status if isinstance(status, str) else None)
    final = acc.finish(map_status(status, incomplete, refused=acc.refused))
    return StreamDone(final, acc.drain())


def _fill_from_output(acc: ResponsesStream, output: Any) -> None:
    """A stream that sent no item events: the content comes from the final response's ``output``."""
    if not isinstance(output, list):
        return
    parts, refused = process_output([i for i in output if isinstance(i, Mapping)])
    acc.refused = acc.refused or refused
    for n, part in enumerate(parts):
        key = ("final", n)
        if isinstance(part, TextPart):
            acc.text(part.text, key=key)
        elif isinstance(part, ThinkingPart):
            data = dict(part.provider_data) if part.provider_data else None
            acc.thinking(part.text, key=key, signature=part.signature, provider_data=data)
        elif isinstance(part, ToolCall):
            data = dict(part.provider_data) if part.provider_data else None
            acc.tool_call(key, id=part.id, name=part.name, arguments=part.arguments_json, provider_data=data)
        acc.end_key(key)


def _fail(acc: ResponsesStream, source: Any, payload: Any) -> StreamFailed:
    message, code = error_of(source)
    acc.provider_finish_reason = "failed"
    return stream_error(acc, message, body=payload, error_type=code)


class Streaming(WireProtocol[ResponsesStream]):
    """The stream half of ``openai_responses``: SSE events into the accumulator."""

    stream_state = ResponsesStream

    @override
    def decode_stream_chunk(self, state: ResponsesStream, event: Any) -> StreamResult[ResponsesStream]:
        """Apply one SSE event (``event.data`` JSON; its ``type``, else the SSE event name)."""
        acc = state
        data: str = event.data
        if is_done_marker(data):  # OpenRouter adds one after response.completed; the end marker is that
            return StreamContinue(acc, acc.drain())
        payload = object_of(API, json.loads(data), stream=acc)
        kind = payload.get("type") or event.event
        if kind == "error":
            return _fail(acc, payload, payload)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(_StreamDecoder(acc), payload)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            return _terminal(acc, kind, payload)
        return StreamContinue(acc, acc.drain())
