"""Small helpers the wire protocols share (written once here, never per protocol).

* :func:`finish_map` / :func:`map_finish`: a protocol's finish reasons, and the one policy for them:
  the protocol's ``finish_reasons`` map gives the known values; an absent, empty or unknown value
  is ``stop`` (the raw value stays in ``Response.provider_finish_reason``), and ``stop`` with tool
  calls is ``tool_use``.
* :func:`int_of` / :func:`first_int`: token counts as the providers send them (ints, floats, numeric
  strings; ``null`` and an absent field alike mean "not reported").
* :func:`str_or_none`, :func:`stop_list`, :func:`strip_v1`: small shapes every encoder and decoder
  meets (a string field, the ``stop`` param as a list, a base URL without its ``/v1``).
* :func:`function_tool`, :func:`is_strict_schema`: tools in OpenAI's function shape, and its
  strict-mode rule.
* :func:`new_call_id`, :data:`MISSING_RESULT`: the id rule for a call sent without one, and the
  text of the synthetic result a call left unanswered gets.
* :data:`EFFORT_BUDGETS` / :func:`thinking_budget`: ``reasoning_effort`` as a thinking budget in
  tokens, for the APIs that take a budget.
* :func:`fail_stream` / :func:`stream_error`: a provider error met in a stream becomes the terminal
  ``error`` event (``ContextOverflow`` when its words say so).
* :func:`decoded`: the :class:`~sycophant_py.Response` of a whole body, its finish reason by
  :func:`map_finish`; decoders hand over parts, never joined text.
* :func:`copy_params`, :func:`finish_body`: params an API takes as they are, and the end every body
  shares (``stream``, ``extra_body``).
* :class:`Turns`: conversation turns with consecutive blocks of one role merged (Anthropic's and
  Bedrock's message shape), the system blocks and the calls awaiting a result.
* :func:`replay_thinking`: what a thinking part becomes when a conversation is sent again.
* :func:`error_table`: a provider's error types, grouped by the exception they raise.
* :func:`body_message` / :func:`invalid_body`: a success body that does not have the shape a
  protocol needs (``{"detail": "Not Found"}`` from a proxy, a JSON list, an error object with a 200)
  becomes a :class:`~sycophant_py.ResponseInvalid` carrying the body and the provider's own words.
* :func:`finish_or_fail`: the end of a stream whose finish reason maps to ``error`` is an ``error``
  event, never a ``done`` (the terminal ``done`` only has ``stop`` / ``length`` / ``tool_use`` /
  ``content_filter``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import ProviderError, ResponseInvalid, StreamError
from sycophant_py._parts import joined_text
from sycophant_py._types import FinishReason, Message, Part, Response, ThinkingPart, Tool, ToolCall, Usage
from sycophant_py.wire._base import StreamDone, StreamFailed
from sycophant_py.wire._overflow import as_overflow

__all__ = [
    "EFFORT_BUDGETS",
    "Turns",
    "assistant_pieces",
    "MIN_THINKING_BUDGET",
    "MISSING_RESULT",
    "body_message",
    "copy_params",
    "decoded",
    "error_table",
    "finish_body",
    "fail_stream",
    "field_of",
    "function_tool",
    "finish_or_fail",
    "finish_map",
    "first_int",
    "int_of",
    "invalid_body",
    "is_done_marker",
    "is_strict_schema",
    "map_finish",
    "new_call_id",
    "object_of",
    "refused_while_thinking",
    "replay_thinking",
    "stream_error",
    "stop_list",
    "str_or_none",
    "strip_v1",
    "thinking_budget",
    "vector_of",
]

MISSING_RESULT = "Error: no result was provided for this tool call."
"""The result a tool call left without one is sent with (APIs refuse an unanswered call)."""
EFFORT_BUDGETS: Mapping[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}
"""``reasoning_effort`` as a thinking budget in tokens (``none`` is 0: thinking off)."""
MIN_THINKING_BUDGET = 1024
"""The smallest thinking budget the budget-taking APIs accept."""

_MESSAGE_KEYS = ("message", "Message", "msg", "detail", "error_message", "errorMessage", "title")
_MAX_MESSAGE = 500


def int_of(value: Any) -> int:
    """A token count as an int: ints, whole floats and numeric strings; anything else (``None``,
    booleans, text, negative numbers) is 0."""
    if type(value) is int:  # the common case, first
        return value if value > 0 else 0
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return max(int(value), 0)
    if isinstance(value, str):
        try:
            return max(int(float(value.strip())), 0)
        except ValueError:
            return 0
    return 0


def finish_map(
    *,
    stop: Iterable[str] = (),
    length: Iterable[str] = (),
    tool_use: Iterable[str] = (),
    content_filter: Iterable[str] = (),
    error: Iterable[str] = (),
    aborted: Iterable[str] = (),
) -> Mapping[str, FinishReason]:
    """A protocol's ``finish_reasons``: the provider's values, grouped by the unified reason they mean."""
    groups: dict[FinishReason, Iterable[str]] = {
        "stop": stop,
        "length": length,
        "tool_use": tool_use,
        "content_filter": content_filter,
        "error": error,
        "aborted": aborted,
    }
    return MappingProxyType({raw: reason for reason, raws in groups.items() for raw in raws})


def map_finish(table: Mapping[str, FinishReason], raw: Any, has_tool_calls: bool = False) -> FinishReason:
    """A provider's finish reason in the unified set (see the module docstring for the policy).

    Args:
        table: The protocol's ``finish_reasons``.
        raw: The provider's value (anything: only a known string maps to something else than ``stop``).
        has_tool_calls: The answer holds tool calls (``stop`` then becomes ``tool_use``).
    """
    reason = table.get(raw, "stop") if isinstance(raw, str) else "stop"
    return "tool_use" if reason == "stop" and has_tool_calls else reason


def str_or_none(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None (ids, model names, raw finish reasons)."""
    return value if isinstance(value, str) and value else None


def stop_list(stop: str | list[str] | tuple[str, ...]) -> list[str]:
    """The ``stop`` param as a list (one string, or several)."""
    return [stop] if isinstance(stop, str) else list(stop)


def strip_v1(base_url: str) -> str:
    """A base URL without a trailing ``/v1`` (the OpenAI-compatible prefix a row may carry)."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def thinking_budget(budget: int | None, effort: str | None) -> int | None:
    """The thinking budget asked for: ``reasoning_budget``, else ``reasoning_effort`` as tokens.

    Returns:
        None when neither is given, 0 for thinking off, else at least :data:`MIN_THINKING_BUDGET`.
    """
    if budget is None and effort is not None:
        budget = EFFORT_BUDGETS.get(effort, 0)
    if budget is None:
        return None
    return max(int(budget), MIN_THINKING_BUDGET) if budget else 0


def refused_while_thinking(params: Mapping[str, Any]) -> list[str]:
    """The sampling params Claude refuses while it thinks (Anthropic's API and Bedrock's Converse
    alike): ``temperature``, ``top_k``, and a ``top_p`` below 0.95."""
    out = [k for k in ("temperature", "top_k") if k in params]
    if "top_p" in params and params["top_p"] < 0.95:
        out.append("top_p")
    return out


def field_of(
    protocol: str, body: Mapping[str, Any], key: str, kind: type, what: str, *, stream: StreamAccumulator | None = None
) -> Any:
    """``body[key]`` when it is a ``kind`` (``Mapping``, ``list``...), else raise :class:`ResponseInvalid`
    saying ``what`` the body has (see :func:`invalid_body`)."""
    value = body.get(key)
    if not isinstance(value, kind):
        raise invalid_body(protocol, what, body, stream=stream)
    return value


def fail_stream(acc: StreamAccumulator, exc: ProviderError) -> StreamFailed:
    """End a stream with an ``error`` event for ``exc`` (a ``ContextOverflow`` when its words say so)."""
    err = as_overflow(exc)
    acc.fail(err)
    return StreamFailed(err, acc.drain())


def is_strict_schema(schema: Mapping[str, Any]) -> bool:
    """True when a schema already meets OpenAI's strict-mode rules (closed objects, all required): the
    ``openai_*`` protocols then ask for strict adherence."""
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or ()) != set(props):
            return False
        return all(is_strict_schema(v) for v in props.values() if isinstance(v, Mapping))
    items = schema.get("items")
    if isinstance(items, Mapping):
        return is_strict_schema(items)
    for key in ("anyOf", "oneOf", "allOf"):
        subs = schema.get(key)
        if isinstance(subs, list) and not all(is_strict_schema(s) for s in subs if isinstance(s, Mapping)):
            return False
    return True


def function_tool(tool: Tool, *, strict: bool | None = None) -> dict[str, Any]:
    """A tool in the ``{"type": "function", "function": {...}}`` shape OpenAI's API and its
    followers take (``strict`` only when true)."""
    fn: dict[str, Any] = {"name": tool.name, "parameters": tool.json_schema()}
    if tool.description:
        fn["description"] = tool.description
    if strict:
        fn["strict"] = True
    return {"type": "function", "function": fn}


def new_call_id() -> str:
    """A tool-call id unique across responses, for a call the provider sent without one."""
    return f"call_{uuid.uuid4().hex[:16]}"


def is_done_marker(data: str) -> bool:
    """True for an SSE ``data: [DONE]`` payload (whitespace around it allowed)."""
    return data.strip() == "[DONE]"


def first_int(obj: Mapping[str, Any], *keys: str) -> int:
    """The count under the first of ``keys`` that is present and not ``null`` (0 when none is)."""
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return int_of(value)
    return 0


def _text(value: Any) -> str | None:
    """A message-like value as text: a string, or the messages of a FastAPI-style ``detail`` list."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        texts = [t for t in (_text(v) if not isinstance(v, Mapping) else body_message(v) for v in value) if t]
        return "; ".join(texts) or None
    if isinstance(value, Mapping):
        return body_message(value)
    return None


def body_message(body: Any) -> str | None:
    """The provider's own message in a body of an unexpected shape, or None when it carries none.

    Looks at ``error`` (an object's ``message``, or a string), then ``message`` / ``msg`` /
    ``detail`` (a string, or FastAPI's list of ``{"msg": ...}``) and the like; a list body is read
    through its first element; a text body is its own message.
    """
    text: str | None
    if isinstance(body, str):
        text = body.strip()
    elif isinstance(body, list):
        text = body_message(body[0]) if body else None
    elif isinstance(body, Mapping):
        text = _text(body.get("error"))
        for key in _MESSAGE_KEYS:
            if text:
                break
            text = _text(body.get(key))
    else:
        text = None
    return text[:_MAX_MESSAGE] if text else None


def invalid_body(protocol: str, what: str, body: Any, *, stream: StreamAccumulator | None = None) -> ResponseInvalid:
    """A :class:`ResponseInvalid` for a body that lacks ``what``, with the provider's message if any.

    Args:
        protocol: The wire protocol's name (starts the message).
        what: What is missing or wrong (``"no 'choices' list"``).
        body: The decoded body (or stream frame), kept on the exception.
        stream: For a stream frame: the stream's state (gives the provider and model).

    Returns:
        The exception (the caller raises it).
    """
    said = body_message(body)
    text = f"{protocol}: {'a stream frame' if stream is not None else 'the response'} has {what}"
    if said:
        text += f"; the provider said: {said}"
    elif not isinstance(body, (Mapping, list)):
        text += f" (got {type(body).__name__})"
    else:
        text += f": {json.dumps(body, default=str)[:200]}"
    if stream is None:
        return ResponseInvalid(text, body=body)
    return ResponseInvalid(text, provider=stream.provider, model=stream.model, body=body)


def object_of(protocol: str, body: Any, *, stream: StreamAccumulator | None = None) -> Mapping[str, Any]:
    """``body`` when it is a JSON object, else raise :class:`ResponseInvalid` (see :func:`invalid_body`)."""
    if not isinstance(body, Mapping):
        raise invalid_body(protocol, f"a JSON {_json_kind(body)} where an object was expected", body, stream=stream)
    return body


def vector_of(protocol: str, raw: Any, body: Any) -> list[float]:
    """An embedding given as a JSON list of numbers, as floats; else raise :class:`ResponseInvalid`."""
    if not isinstance(raw, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw):
        raise invalid_body(protocol, "an embedding that is not a list of numbers", body)
    return [float(x) for x in raw]


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def finish_or_fail(acc: StreamAccumulator, reason: FinishReason, protocol: str) -> StreamDone | StreamFailed:
    """End a stream: ``done`` with ``reason``, or an ``error`` event when the reason is ``error``.

    ``acc.provider_finish_reason`` should hold the provider's value (it names the failure).
    """
    if reason != "error":
        return StreamDone(acc.finish(reason), acc.drain())
    raw = acc.provider_finish_reason or "error"
    exc = StreamError(
        f"{protocol}: the model stopped with finish reason {raw!r}",
        provider=acc.provider,
        model=acc.model,
        body=acc.raw,
        error_type=raw,
    )
    acc.fail(exc)
    return StreamFailed(exc, acc.drain())


def stream_error(
    acc: StreamAccumulator,
    message: str,
    *,
    body: Any,
    status: int | None = None,
    error_type: str | None = None,
    cls: type[ProviderError] = StreamError,
) -> StreamFailed:
    """End a stream with the error a provider reported in it (see :func:`fail_stream`)."""
    exc = cls(message, status_code=status, provider=acc.provider, model=acc.model, body=body, error_type=error_type)
    return fail_stream(acc, exc)


def decoded(
    table: Mapping[str, FinishReason],
    parts: list[Part],
    raw_reason: str | None,
    *,
    usage: Usage,
    raw: Any,
    **fields: Any,
) -> Response:
    """The :class:`~sycophant_py.Response` of a whole body.

    Args:
        table: The protocol's ``finish_reasons``.
        parts: The answer's parts, in order.
        raw_reason: The provider's finish reason (kept as ``provider_finish_reason``).
        usage: The token counts.
        raw: The body.
        **fields: Other ``Response`` fields (``id``, ``model``, ``error``...).
    """
    reason = map_finish(table, raw_reason, any(isinstance(p, ToolCall) for p in parts))
    return Response(
        finish_reason=reason, usage=usage, parts=parts, raw=raw, provider_finish_reason=raw_reason, **fields
    )


def copy_params(body: dict[str, Any], params: Mapping[str, Any], names: Iterable[str | tuple[str, str]]) -> None:
    """Copy the params an API takes as they are into ``body`` (a ``(param, field)`` pair renames one)."""
    for name in names:
        param, key = name if isinstance(name, tuple) else (name, name)
        if param in params:
            body[key] = params[param]


def finish_body(body: dict[str, Any], stream: bool, params: Mapping[str, Any]) -> dict[str, Any]:
    """The end every body shares: ``"stream": true`` for a stream, then ``extra_body`` merged as it is."""
    if stream:
        body["stream"] = True
    if params.get("extra_body"):
        body.update(params["extra_body"])
    return body


class Turns:
    """A conversation as alternating turns ``{"role", "content": [blocks]}``: blocks of one role that
    follow each other share a turn. Keeps the system blocks and the tool calls awaiting a result
    (call id -> tool name) beside them."""

    def __init__(self) -> None:
        self.system: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []
        self.pending: dict[str, str] = {}

    def add_blocks(self, role: str, blocks: list[dict[str, Any]]) -> None:
        """Append ``blocks`` to the last turn when it has ``role``, else as a new turn (none: nothing)."""
        if not blocks:
            return
        if self.turns and self.turns[-1]["role"] == role:
            self.turns[-1]["content"].extend(blocks)
        else:
            self.turns.append({"role": role, "content": blocks})


def assistant_pieces(message: Message, *, thinking: bool) -> tuple[str, list[str], list[ToolCall]]:
    """An assistant message as APIs with one text field take it: the text, the readable thinking
    (empty unless ``thinking``: redacted and empty thinking never), and the tool calls."""
    texts = joined_text(message.parts)
    thoughts = [p.text for p in message.parts if thinking and isinstance(p, ThinkingPart) and p.text and not p.redacted]
    return texts, thoughts, message.tool_calls


def replay_thinking(part: ThinkingPart, native: bool) -> Literal["signed", "redacted", "text"] | None:
    """What a thinking part becomes in a request: ``signed`` / ``redacted`` thinking when the target can
    verify its signature (``native``), else its text as plain text (``text``), else nothing."""
    if part.signature and native:
        return "redacted" if part.redacted else "signed"
    if part.text and not part.redacted:
        return "text"  # unverifiable thinking: the model still sees what it thought
    return None


def error_table(groups: Mapping[type[ProviderError], Mapping[str, int]]) -> dict[str, tuple[type[ProviderError], int]]:
    """A provider's error types (lower case) -> (exception class, the HTTP status the API uses for it),
    written grouped by class."""
    return {name.lower(): (cls, status) for cls, names in groups.items() for name, status in names.items()}
