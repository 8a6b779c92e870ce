"""Stream decoding for ``anthropic_messages``: one SSE event in, accumulator calls out.

The event sequence is ``message_start``, then per content block ``content_block_start`` /
``content_block_delta``\\* / ``content_block_stop``, then ``message_delta`` (stop reason and
usage) and ``message_stop`` (the end marker: the stream is ``done``). ``ping`` events are
ignored, as are event and block types this module does not know (the API adds them over time).

* Deltas: ``text_delta`` (text), ``thinking_delta`` (thinking), ``signature_delta`` (the thinking
  block's signature, appended), ``input_json_delta`` (a tool call's raw JSON arguments).
  ``citations_delta`` and the deltas of server-side tool blocks are not content of ours.
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
from collections.abc import Mapping
from typing import Any

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import ResponseInvalid
from sycophant_py.wire._base import StreamContinue, StreamDone, StreamFailed, StreamResult
from sycophant_py.wire.anthropic_messages.decode import decode_usage, error_for, map_finish_reason
from sycophant_py.wire.anthropic_messages.encode import PROTOCOL_MARK

__all__ = ["AnthropicStream", "decode_event"]

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


def _key(index: int) -> tuple[str, int]:
    return ("block", index)


def _index(payload: Mapping[str, Any]) -> int:
    """The event's content block ``index`` (``ValueError`` for ``1e400``, which JSON reads as infinity)."""
    try:
        return int(payload["index"])
    except OverflowError:
        raise ValueError(f"content block index {payload['index']!r} is not an integer") from None


def _merge_usage(acc: AnthropicStream, usage: Any) -> None:
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
    index = _index(payload)
    block = payload.get("content_block") or {}
    btype = block.get("type")
    kind = _KINDS.get(str(btype), "other")
    acc.kinds[index] = kind
    if kind == "text":
        acc.text(str(block.get("text") or ""), key=_key(index))
    elif btype == "redacted_thinking":
        acc.thinking(
            key=_key(index), signature=block.get("data") or None, redacted=True, provider_data=dict(PROTOCOL_MARK)
        )
    elif kind == "thinking":
        acc.thinking(
            str(block.get("thinking") or ""),
            key=_key(index),
            signature=block.get("signature") or None,
            provider_data=dict(PROTOCOL_MARK),
        )
    elif kind == "tool":
        acc.tool_call(_key(index), id=str(block.get("id") or ""), name=str(block.get("name") or ""))
        initial = block.get("input")
        if initial:  # normally {} with the arguments following as input_json_delta
            acc.start_input[index] = initial if isinstance(initial, str) else json.dumps(initial, ensure_ascii=False)


def _block_delta(acc: AnthropicStream, payload: Mapping[str, Any]) -> None:
    index = _index(payload)
    delta = payload.get("delta") or {}
    dtype = delta.get("type")
    kind = acc.kinds.get(index)
    if dtype == "text_delta" and kind in (None, "text"):
        acc.kinds[index] = "text"
        acc.text(str(delta.get("text") or ""), key=_key(index))
    elif dtype == "thinking_delta" and kind in (None, "thinking"):
        acc.kinds[index] = "thinking"
        acc.thinking(str(delta.get("thinking") or ""), key=_key(index))
    elif dtype == "signature_delta" and kind in (None, "thinking"):
        acc.kinds[index] = "thinking"
        acc.thinking(key=_key(index), signature=str(delta.get("signature") or ""))
    elif dtype == "input_json_delta" and kind == "tool":
        fragment = str(delta.get("partial_json") or "")
        if fragment:
            acc.start_input.pop(index, None)  # the deltas carry the whole input
            acc.tool_call(_key(index), arguments=fragment)
    # citations_delta, compaction_delta and the deltas of server-side tool blocks: not ours


def _block_stop(acc: AnthropicStream, index: int) -> None:
    initial = acc.start_input.pop(index, None)
    if initial is not None:
        acc.tool_call(_key(index), arguments=initial)
    if acc.kinds.get(index, "other") != "other":
        acc.end_key(_key(index))


def _message_stop(acc: AnthropicStream) -> StreamDone:
    for index in list(acc.start_input):
        _block_stop(acc, index)
    calls = any(b.kind == "tool_call" for b in acc.blocks)
    acc.provider_finish_reason = acc.stop_reason
    resp = acc.finish(map_finish_reason(acc.stop_reason, calls))
    return StreamDone(resp, acc.drain())


def decode_event(acc: AnthropicStream, event: Any) -> StreamResult:
    """Decode one SSE event (``event.data`` is the JSON payload, ``event.event`` its name).

    Raises:
        ValueError: the payload is not JSON (the pipeline turns that into ``ResponseInvalid``).
    """
    data: str = event.data
    if data == "[DONE]":  # not Anthropic's, but some gateways append it: the end marker is message_stop
        return StreamContinue(acc, acc.drain())
    payload = json.loads(data)
    if not isinstance(payload, Mapping):
        return _fail(
            acc,
            ResponseInvalid(
                f"anthropic_messages: stream event is not an object: {data[:200]}",
                provider=acc.provider,
                model=acc.model,
            ),
        )
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
        _block_stop(acc, _index(payload))
    elif etype == "message_delta":
        acc.stop_reason = (payload.get("delta") or {}).get("stop_reason") or acc.stop_reason
        _merge_usage(acc, payload.get("usage"))
    elif etype == "message_stop":
        return _message_stop(acc)
    elif etype == "error":
        return _fail(acc, error_for(payload, provider=acc.provider, model=acc.model))
    return StreamContinue(acc, acc.drain())
