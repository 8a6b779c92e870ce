"""Stream decoding for ``anthropic_messages``: one SSE event in, accumulator calls out.

The event sequence is ``message_start``, then per content block ``content_block_start`` /
``content_block_delta``\\* / ``content_block_stop``, then ``message_delta`` (stop reason and
usage) and ``message_stop`` (the end marker: the stream is ``done``). ``ping`` events are
ignored, as are event and block types this module does not know (the API adds them over time).

* Deltas: ``text_delta`` (text), ``thinking_delta`` (thinking), ``signature_delta`` (the thinking
  block's signature, appended), ``input_json_delta`` (a tool call's raw JSON arguments).
  ``citations_delta`` and the deltas of server-side tool blocks are not content of ours.
* ``tool_use`` blocks that repeat a tool-call id are one call (a proxy splits one call over several
  blocks: the first has the id, the name and a first fragment, the next ones the same id and further
  fragments). A tool block that stops with arguments that are not yet whole JSON is held open
  until a block that is not its continuation starts (or ``message_delta``), so the call ends once.
* A body that ends after ``message_delta`` gave a stop reason but before ``message_stop`` is
  complete; one that ends earlier is an error.
* Usage is merged **per field**: ``message_start`` gives the first counts, and a field present in
  ``message_delta`` replaces the value so far (the counts are cumulative, never summed); a field
  it leaves out keeps ``message_start``'s value.
* An ``error`` event fails the stream with the exception for its error type
  (``overloaded_error`` is :class:`~sycophant_py.Overloaded`...), keeping the partial content.
* A second ``message_start`` for the same message is ignored; one for another message while the
  first is still open fails the stream (:class:`~sycophant_py.ResponseInvalid`): the bytes of two
  responses were spliced together.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import ResponseInvalid
from sycophant_py.wire._base import StreamContinue, StreamFailed, StreamResult, WireProtocol
from sycophant_py.wire._util import field_of, finish_or_fail, invalid_body, is_done_marker, map_finish
from sycophant_py.wire.anthropic_messages.decode import FINISH_REASONS, decode_usage, error_for
from sycophant_py.wire.anthropic_messages.encode import PROTOCOL_MARK

__all__ = ["AnthropicStream", "Streaming"]

_NAME = "anthropic_messages"

_KINDS = {"text": "text", "thinking": "thinking", "redacted_thinking": "thinking", "tool_use": "tool"}


class AnthropicStream(StreamAccumulator):
    """Stream state: the shared accumulator plus what the Messages event sequence needs."""

    def __init__(self) -> None:
        super().__init__()
        self.message_id: str | None = None
        """The id from ``message_start``."""
        self.kinds: dict[int, str] = {}
        """Content block index -> ``text``, ``thinking``, ``tool`` or ``other`` (not ours)."""
        self.start_input: dict[int, str] = {}
        """A tool call's input given whole in ``content_block_start``, used when no delta follows."""
        self.usage_raw: dict[str, Any] = {}
        """The provider's usage fields so far (merged per field)."""
        self.stop_reason: str | None = None
        """The raw ``stop_reason`` from ``message_delta``."""
        self.block_keys: dict[int, Hashable] = {}
        """Content block index -> accumulator key (blocks that continue one tool call share one)."""
        self.call_keys: dict[str, Hashable] = {}
        """Tool-call id -> accumulator key of that call."""
        self.call_args: dict[Hashable, str] = {}
        """The arguments JSON received so far per tool call."""
        self.held: Hashable | None = None
        """A tool call whose block stopped with incomplete arguments: another block may continue it."""

    def key(self, index: int) -> Hashable:
        """The accumulator key of content block ``index``."""
        return self.block_keys.get(index, ("block", index))

    def release(self) -> None:
        """Close the held tool call (no block continues it)."""
        if self.held is not None:
            self.end_key(self.held)
            self.held = None


def _index(acc: AnthropicStream, payload: Mapping[str, Any]) -> int:
    index = payload.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise invalid_body(_NAME, f"a {payload.get('type')} event without an integer 'index'", payload, stream=acc)
    return index


def _merge_usage(acc: AnthropicStream, usage: Any) -> None:
    """Merge counts per field: a present count replaces the earlier one (they are cumulative; the API
    itself replaces ``message_start``'s ``output_tokens: 1`` by 0 in a refusal), ``null`` keeps it."""
    if isinstance(usage, Mapping):
        acc.usage_raw.update({k: v for k, v in usage.items() if v is not None})
        acc.usage = decode_usage(acc.usage_raw)


def _fail(acc: AnthropicStream, exc: Exception) -> StreamFailed:
    acc.fail(exc)
    return StreamFailed(exc, acc.drain())


def _message_start(acc: AnthropicStream, payload: Mapping[str, Any]) -> StreamFailed | None:
    message = payload.get("message") or {}
    msg_id = message.get("id")
    if acc.message_id is not None:
        if msg_id == acc.message_id:
            return None  # a repeated message_start for the open message
        return _fail(
            acc,
            ResponseInvalid(
                f"anthropic_messages: message {msg_id!r} started while message {acc.message_id!r} was still open",
                provider=acc.provider,
                model=acc.model,
                body=dict(payload),
            ),
        )
    acc.message_id = msg_id if isinstance(msg_id, str) else ""
    acc.id = msg_id
    acc.model = message.get("model") or acc.model
    _merge_usage(acc, message.get("usage"))
    acc.start()
    return None


def _block_start(acc: AnthropicStream, payload: Mapping[str, Any]) -> None:
    index = _index(acc, payload)
    what = "a content_block_start without a 'content_block' object"
    block = field_of(_NAME, payload, "content_block", Mapping, what, stream=acc)
    btype = block.get("type")
    kind = _KINDS.get(str(btype), "other")
    acc.kinds[index] = kind
    if kind == "tool":
        _tool_start(acc, index, block)
        return
    acc.release()
    key = acc.key(index)
    if kind == "text":
        acc.text(str(block.get("text") or ""), key=key)
    elif btype == "redacted_thinking":
        acc.thinking(key=key, signature=block.get("data") or None, redacted=True, provider_data=dict(PROTOCOL_MARK))
    elif kind == "thinking":
        acc.thinking(
            str(block.get("thinking") or ""),
            key=key,
            signature=block.get("signature") or None,
            provider_data=dict(PROTOCOL_MARK),
        )


def _tool_start(acc: AnthropicStream, index: int, block: Mapping[str, Any]) -> None:
    """A ``tool_use`` block: a new call, or the continuation of the held call with the same id."""
    call_id = str(block.get("id") or "")
    known = acc.call_keys.get(call_id) if call_id else None
    if known is not None and known != acc.held:
        acc.kinds[index] = "other"  # a finished call's id again: nothing more can join it
        return
    if known is None:
        acc.release()
        known = ("block", index)
        if call_id:
            acc.call_keys[call_id] = known
        acc.tool_call(known, id=call_id, name=str(block.get("name") or ""))
    acc.held = None
    acc.block_keys[index] = known
    initial = block.get("input")
    if initial:  # normally {} with the arguments following as input_json_delta
        acc.start_input[index] = initial if isinstance(initial, str) else json.dumps(initial, ensure_ascii=False)


def _arguments(acc: AnthropicStream, index: int, fragment: str) -> None:
    key = acc.key(index)
    acc.call_args[key] = acc.call_args.get(key, "") + fragment
    acc.tool_call(key, arguments=fragment)


def _block_delta(acc: AnthropicStream, payload: Mapping[str, Any]) -> None:
    index = _index(acc, payload)
    delta = field_of(_NAME, payload, "delta", Mapping, "a content_block_delta without a 'delta' object", stream=acc)
    dtype = delta.get("type")
    kind = acc.kinds.get(index)
    if dtype == "text_delta" and kind in (None, "text"):
        acc.kinds[index] = "text"
        acc.text(str(delta.get("text") or ""), key=acc.key(index))
    elif dtype == "thinking_delta" and kind in (None, "thinking"):
        acc.kinds[index] = "thinking"
        acc.thinking(str(delta.get("thinking") or ""), key=acc.key(index))
    elif dtype == "signature_delta" and kind in (None, "thinking"):
        acc.kinds[index] = "thinking"
        acc.thinking(key=acc.key(index), signature=str(delta.get("signature") or ""))
    elif dtype == "input_json_delta" and kind == "tool":
        fragment = str(delta.get("partial_json") or "")
        if fragment:
            acc.start_input.pop(index, None)  # the deltas carry the whole input
            _arguments(acc, index, fragment)
    # citations_delta, compaction_delta and the deltas of server-side tool blocks: not ours


def _complete(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _block_stop(acc: AnthropicStream, index: int) -> None:
    initial = acc.start_input.pop(index, None)
    if initial is not None:
        _arguments(acc, index, initial)
    kind = acc.kinds.get(index, "other")
    if kind == "tool" and not _complete(acc.call_args.get(acc.key(index), "")):
        acc.held = acc.key(index)  # a proxy may go on with this call in a block of the same id
    elif kind != "other":
        acc.end_key(acc.key(index))


def _message_stop(acc: AnthropicStream) -> StreamResult[AnthropicStream]:
    for index in list(acc.start_input):
        _block_stop(acc, index)
    acc.release()
    calls = any(b.kind == "tool_call" for b in acc.blocks)
    acc.provider_finish_reason = acc.stop_reason
    return finish_or_fail(acc, map_finish(FINISH_REASONS, acc.stop_reason, calls), _NAME)


class Streaming(WireProtocol[AnthropicStream]):
    """The stream half of ``anthropic_messages``: named SSE events into the accumulator."""

    stream_state = AnthropicStream

    @override
    def decode_stream_chunk(self, state: AnthropicStream, event: Any) -> StreamResult[AnthropicStream]:
        """Decode one SSE event (``event.data`` is the JSON payload, ``event.event`` its name).

        Raises:
            ValueError: the payload is not JSON (the pipeline turns that into ``ResponseInvalid``).
        """
        acc = state
        data: str = event.data
        if is_done_marker(data):  # not Anthropic's, but some gateways append it: the end marker is message_stop
            return StreamContinue(acc, acc.drain())
        payload = json.loads(data)
        if not isinstance(payload, Mapping):
            return _fail(acc, invalid_body(self.name, "no event object", payload, stream=acc))
        etype = payload.get("type") or event.event
        acc.raw = payload
        if etype == "message_start":
            failed = _message_start(acc, payload)
            if failed is not None:
                return failed
        elif etype == "content_block_start":
            _block_start(acc, payload)
        elif etype == "content_block_delta":
            _block_delta(acc, payload)
        elif etype == "content_block_stop":
            _block_stop(acc, _index(acc, payload))
        elif etype == "message_delta":
            acc.release()
            delta = payload.get("delta")
            reason = delta.get("stop_reason") if isinstance(delta, Mapping) else None
            acc.stop_reason = reason if isinstance(reason, str) and reason else acc.stop_reason
            _merge_usage(acc, payload.get("usage"))
        elif etype == "message_stop":
            return _message_stop(acc)
        elif etype == "error":
            return _fail(acc, error_for(payload, provider=acc.provider, model=acc.model))
        return StreamContinue(acc, acc.drain())

    @override
    def end_of_stream(self, state: AnthropicStream) -> StreamResult[AnthropicStream]:
        """The body ended without ``message_stop``: complete when ``message_delta`` gave the stop
        reason (the answer is whole then; some proxies drop the last event), else an error."""
        if state.stop_reason is None:
            return super().end_of_stream(state)
        return _message_stop(state)
