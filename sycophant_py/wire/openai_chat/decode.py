"""Response decoding for ``openai_chat``: a chat-completions body (or a piece of one) to our types.

``_process_*`` helpers read one field each; :class:`Decoding` (the response half of the protocol
class) assembles the response of a non-streaming call; :mod:`.stream` reads the same fields from
each chunk. Finish reasons: see :data:`FINISH_REASONS` (the shared policy of
``wire._util.map_finish`` for the rest).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._types import Part, Response, TextPart, ThinkingPart, ToolCall, Usage
from sycophant_py.wire._base import WireProtocol, error_fields
from sycophant_py.wire._util import decoded, finish_map, int_of, invalid_body, new_call_id, object_of, str_or_none

if TYPE_CHECKING:
    from sycophant_py.wire.openai_chat.stream import ChatStream

__all__ = ["FINISH_REASONS", "Decoding", "arguments_text", "decode_usage", "function_of", "reasoning_of", "text_of"]

_NAME = "openai_chat"

FINISH_REASONS = finish_map(
    stop=("stop", "end_turn", "eos"),
    length=("length", "max_tokens", "model_length"),
    tool_use=("tool_calls", "function_call", "tool_use"),
    content_filter=("content_filter",),
    # vLLM's "abort": the request was aborted before the answer was complete; DeepSeek's resource error.
    error=("error", "abort", "insufficient_system_resource"),
)
"""Chat-completions ``finish_reason`` values (OpenAI's and the compatible servers') in the unified set."""
_REASONING_KEYS = ("reasoning_content", "reasoning", "reasoning_text")


def _cached(u: Mapping[str, Any], pdet: Mapping[str, Any]) -> int:
    for value in (
        pdet.get("cached_tokens"),
        u.get("prompt_cache_hit_tokens"),
        u.get("num_cached_tokens"),
        u.get("cached_tokens"),
    ):
        if int_of(value):
            return int_of(value)
    return 0


def decode_usage(u: Mapping[str, Any] | None) -> Usage:
    """Usage from a chat-completions ``usage`` object (see the module docstring for each server's way).

    ``total_tokens`` is only read to find counts the other fields leave out: audio input outside
    ``prompt_tokens`` first, then reasoning outside ``completion_tokens``.
    """
    if not isinstance(u, Mapping) or not u:
        return Usage()
    pdet = u.get("prompt_tokens_details")
    pdet = pdet if isinstance(pdet, Mapping) else {}
    cdet = u.get("completion_tokens_details")
    cdet = cdet if isinstance(cdet, Mapping) else {}
    prompt = int_of(u.get("prompt_tokens"))
    output = int_of(u.get("completion_tokens"))
    cached = _cached(u, pdet)
    reasoning = int_of(cdet.get("reasoning_tokens")) or int_of(u.get("reasoning_tokens"))
    total = u.get("total_tokens")
    gap = int_of(total) - prompt - output if total is not None else 0
    # Audio input (Mistral's voxtral) may be left out of prompt_tokens while total_tokens counts it:
    # it is input, never hidden reasoning.
    audio = min(int_of(pdet.get("audio_tokens")), max(gap, 0))
    prompt += audio
    gap -= audio
    # Cached tokens are part of prompt_tokens (OpenAI, DeepSeek...), except on servers that report them
    # beside it (Azure AI Foundry, where total_tokens = prompt + completion): a cached count above the
    # prompt count tells.
    uncached = prompt if cached > prompt else prompt - cached
    # Cache writes are part of the prompt too: a write count that would exceed what is left (OpenRouter
    # has reported read = write = most of the prompt) is capped.
    written = min(int_of(pdet.get("cache_write_tokens") or pdet.get("cache_creation_tokens")), uncached)
    # xAI, GitHub Copilot (Gemini models) and Gemini's compatible endpoint leave reasoning out of
    # completion_tokens while total_tokens counts it: output includes reasoning, so add it back.
    if gap > 0 and reasoning in (0, gap):
        output += gap
        reasoning = gap
    return Usage(
        input_tokens=uncached - written,
        output_tokens=output,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
    )


def text_of(content: Any) -> tuple[str, str]:
    """(text, thinking) of a message content that may be a string or a list of typed parts."""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return "", ""
    text: list[str] = []
    thinking: list[str] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "thinking":
            inner = part.get("thinking")
            thinking.extend(t.get("text", "") for t in inner or () if isinstance(t, Mapping))
            if isinstance(inner, str):
                thinking.append(inner)
        elif isinstance(part.get("text"), str):
            text.append(part["text"])
    return "".join(text), "".join(thinking)


def reasoning_of(obj: Mapping[str, Any]) -> str:
    for key in _REASONING_KEYS:
        v = obj.get(key)
        if isinstance(v, str) and v:
            return v
    return ""


def function_of(tc: Mapping[str, Any]) -> Mapping[str, Any]:
    fn = tc.get("function")
    return fn if isinstance(fn, Mapping) else {}


def arguments_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _process_choice(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The choice whose ``index`` is 0 (the first one when none says so)."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise invalid_body(_NAME, "no 'choices'" if not choices else "a 'choices' that is not a list", body)
    if not all(isinstance(c, Mapping) for c in choices):
        raise invalid_body(_NAME, "a choice that is not an object", body)
    return next((c for c in choices if int_of(c.get("index")) == 0), choices[0])


def _process_message(body: Mapping[str, Any], choice: Mapping[str, Any]) -> Mapping[str, Any]:
    msg = choice.get("message")
    if msg is None and isinstance(choice.get("finish_reason"), str):
        return {}  # an empty answer (nothing generated before the finish reason)
    if not isinstance(msg, Mapping):
        raise invalid_body(_NAME, "a choice without a 'message' object", body)
    content = msg.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise invalid_body(_NAME, f"a message 'content' that is a {type(content).__name__}", body)
    calls = msg.get("tool_calls")
    if calls is not None and (not isinstance(calls, list) or not all(isinstance(c, Mapping) for c in calls)):
        raise invalid_body(_NAME, "a 'tool_calls' that is not a list of objects", body)
    return msg


def _process_parts(msg: Mapping[str, Any]) -> list[Part]:
    """Thinking (with Copilot's opaque reasoning as its signature), text, then the tool calls."""
    text, thinking = text_of(msg.get("content"))
    thinking = thinking or reasoning_of(msg)
    parts: list[Part] = []
    opaque = msg.get("reasoning_opaque") if isinstance(msg.get("reasoning_opaque"), str) else None
    if thinking or opaque:
        parts.append(ThinkingPart(thinking, opaque, provider=None))
    if text:
        parts.append(TextPart(text))
    for tc in msg.get("tool_calls") or ():
        fn = function_of(tc)
        call_id = str_or_none(tc.get("id")) or new_call_id()
        parts.append(ToolCall.from_json(call_id, str(fn.get("name") or ""), arguments_text(fn.get("arguments"))))
    return parts


class Decoding(WireProtocol["ChatStream"]):  # the state is the stream module's (imported for types only)
    """The response half of ``openai_chat``: a chat-completions body, and error bodies."""

    @override
    def decode_response(self, body: Any) -> Response:
        """Turn a chat-completions body into a Response (choice ``index`` 0).

        Raises:
            ResponseInvalid: the body is not a chat completion (no ``choices`` list, no message, wrong
                types); the provider's own message, when the body has one, is in the exception text.
        """
        body = object_of(self.name, body)
        choice = _process_choice(body)
        parts = _process_parts(_process_message(body, choice))
        raw_reason = str_or_none(choice.get("finish_reason"))
        return decoded(
            self.finish_reasons,
            parts,
            raw_reason,
            usage=decode_usage(body.get("usage")),
            raw=body,
            id=str_or_none(body.get("id")),
            model=str_or_none(body.get("model")),
        )

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """``(message, error type)`` of an error body; OpenRouter's upstream words are added to the message."""
        message, err_type = error_fields(status, body)
        err = body.get("error") if isinstance(body, Mapping) else None
        meta = err.get("metadata") if isinstance(err, Mapping) else None
        raw = meta.get("raw") if isinstance(meta, Mapping) else None
        if isinstance(raw, str) and raw and raw not in message:
            # OpenRouter: "Provider returned error", with the upstream provider's own words in metadata.
            upstream = meta.get("provider_name") if isinstance(meta, Mapping) else None
            message = f"{message} ({upstream or 'upstream'}: {raw})"
        return message, err_type
