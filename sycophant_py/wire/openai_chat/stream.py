"""Stream decoding for ``openai_chat``: one SSE event at a time into the shared accumulator.

In a stream the usage arrives in a last chunk after ``finish_reason``, so decoding goes on until
``[DONE]``; a body that ends without ``[DONE]`` after a finish reason is complete all the same (some
servers never send it), one that ends before any finish reason is an error. Choices and tool-call
fragments are matched by their ``index`` (never their position in a list). This is the hot path of
the library: the checks compare exact types (``json.loads`` makes dicts and lists).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py.wire._base import StreamContinue, StreamFailed, StreamResult, WireProtocol
from sycophant_py.wire._util import (
    body_message,
    finish_or_fail,
    int_of,
    invalid_body,
    is_done_marker,
    map_finish,
    new_call_id,
    object_of,
    stream_error,
)
from sycophant_py.wire.openai_chat.decode import arguments_text, decode_usage, function_of, reasoning_of, text_of

__all__ = ["ChatStream", "Streaming"]

_NAME = "openai_chat"


class ChatStream(StreamAccumulator):
    """Stream state: the accumulator plus the finish reason seen before ``[DONE]`` and the tool-call keys."""

    def __init__(self) -> None:
        super().__init__()
        self.finish_reason: str | None = None
        self.slots: dict[int, tuple[Hashable, str | None]] = {}
        """Tool-call ``index`` -> (accumulator key, call id) of the call now at that index."""
        self.last_call: Hashable | None = None
        """The key of the last tool call fragment (continued by fragments with neither index nor id)."""
        self.made_up_ids: dict[Hashable, str] = {}
        """Ids given to calls whose first fragment came without one (ids must be unique)."""

    def call_key(self, tc: Mapping[str, Any], pos: int) -> Hashable:
        """The accumulator key of a streamed tool-call fragment.

        ``index`` identifies a call, unless a fragment brings another id at the same index (some
        servers number every call 0): that is a new call. Without an index the id identifies it,
        and a fragment with neither continues the last call (or, after the first one of its chunk,
        starts another).
        """
        call_id = tc.get("id") if isinstance(tc.get("id"), str) and tc.get("id") else None
        index = tc.get("index")
        if isinstance(index, (int, str)) and not isinstance(index, bool) and str(index).strip().isdigit():
            slot = int_of(index)
            key, known = self.slots.get(slot, (("tc", slot), None))
            if call_id is not None and known is not None and call_id != known:
                key = ("tc", slot, call_id)
            self.slots[slot] = (key, call_id or known)
        elif call_id is not None:
            key = ("id", call_id)
        elif pos == 0 and self.last_call is not None:
            key = self.last_call
        else:
            key = ("anon", len(self.blocks), pos)
        self.last_call = key
        return key


def _choices(acc: ChatStream, choices: list[Any], payload: Mapping[str, Any]) -> None:
    for choice in choices:
        if type(choice) is not dict:
            raise invalid_body(_NAME, "a 'choices' that is not a list of objects", payload, stream=acc)
        index = choice.get("index")
        if index == 0 or int_of(index) == 0:  # the first choice; a missing or null index counts as 0
            _delta(acc, choice, payload)


def _delta(acc: ChatStream, choice: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
    delta = choice.get("delta")
    if delta is None:
        delta = {}
    elif type(delta) is not dict:
        raise invalid_body(_NAME, "a 'delta' that is not an object", payload, stream=acc)
    calls = delta.get("tool_calls")
    if calls is not None and (type(calls) is not list or any(type(t) is not dict for t in calls)):
        raise invalid_body(_NAME, "a 'tool_calls' that is not a list of objects", payload, stream=acc)
    reasoning = reasoning_of(delta)
    opaque = delta.get("reasoning_opaque")
    content = delta.get("content")
    text, thinking = (content, "") if isinstance(content, str) or content is None else text_of(content)
    opaque = opaque if isinstance(opaque, str) else None
    if reasoning or thinking or opaque:
        acc.thinking(reasoning or thinking, signature=opaque)
    if text:
        acc.text(text)
    for pos, tc in enumerate(calls or ()):
        fn = function_of(tc)
        key = acc.call_key(tc, pos)
        call_id = tc.get("id") if isinstance(tc.get("id"), str) and tc.get("id") else None
        acc.tool_call(
            key,
            id=call_id or acc.made_up_ids.setdefault(key, new_call_id()),
            name=fn.get("name") if isinstance(fn.get("name"), str) else None,
            arguments=arguments_text(fn.get("arguments")),
        )
    reason = choice.get("finish_reason")
    if isinstance(reason, str) and reason:
        acc.finish_reason = reason
        acc.provider_finish_reason = reason


class Streaming(WireProtocol[ChatStream]):
    """The stream half of ``openai_chat``: SSE chunks into the accumulator."""

    stream_state = ChatStream

    @override
    def decode_stream_chunk(self, state: ChatStream, event: Any) -> StreamResult[ChatStream]:
        """Decode one SSE event; ``[DONE]`` ends the stream.

        Raises:
            ValueError: the payload is not JSON.
            ResponseInvalid: the frame is not a chunk (the pipeline ends the stream with ``error``).
        """
        acc = state
        data: str = event.data
        if data[:1] != "{" and is_done_marker(data):  # a chunk is a JSON object: only check other payloads
            return finish_or_fail(acc, map_finish(self.finish_reasons, acc.finish_reason), self.name)
        payload = json.loads(data)
        if type(payload) is not dict:  # the hot path checks exact types: json.loads makes dicts and lists
            payload = object_of(self.name, payload, stream=acc)
        if event.event == "error" or payload.get("error"):
            return self._stream_error(acc, payload)
        choices = payload.get("choices")
        usage = payload.get("usage")
        if not usage or type(usage) is not dict:
            groq = payload.get("x_groq")
            usage = groq.get("usage") if type(groq) is dict else None
        if choices is None:
            if not usage and body_message(payload):  # {"detail": "..."} and the like from a proxy
                raise invalid_body(_NAME, "no 'choices'", payload, stream=acc)
        elif type(choices) is not list:
            raise invalid_body(_NAME, "a 'choices' that is not a list of objects", payload, stream=acc)
        acc.raw = payload
        if acc.id is None:
            chunk_id = payload.get("id")
            if isinstance(chunk_id, str) and chunk_id:
                acc.id = chunk_id
                acc.model = payload.get("model") or acc.model
        if usage and type(usage) is dict:
            acc.usage = decode_usage(usage)
        if choices:
            _choices(acc, choices, payload)
        return StreamContinue(acc, acc.drain())

    @override
    def end_of_stream(self, state: ChatStream) -> StreamResult[ChatStream]:
        """The body ended without ``[DONE]``: complete when a finish reason came, else an error.

        Some OpenAI-compatible servers close the stream after the chunk with ``finish_reason`` (and
        the usage chunk, when they send one); the answer is whole then.
        """
        if state.finish_reason is None:
            return super().end_of_stream(state)
        return finish_or_fail(state, map_finish(self.finish_reasons, state.finish_reason), self.name)

    def _stream_error(self, acc: ChatStream, payload: Any) -> StreamFailed:
        message, err_type = self.decode_error(200, payload)
        status = payload.get("status_code") if isinstance(payload, Mapping) else None
        err = payload.get("error") if isinstance(payload, Mapping) else None
        if isinstance(err, Mapping):
            for key in ("status_code", "code"):  # Groq: error.status_code; OpenRouter: numeric error.code
                if not isinstance(status, int) and isinstance(err.get(key), int):
                    status = err[key]
        usage = payload.get("usage") if isinstance(payload, Mapping) else None
        if isinstance(usage, Mapping) and usage:
            acc.usage = decode_usage(usage)  # OpenRouter sends the final usage in the error chunk
        return stream_error(
            acc, message, body=payload, status=status if isinstance(status, int) else None, error_type=err_type
        )
