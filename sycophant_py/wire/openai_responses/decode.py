"""Response decoding for ``openai_responses``: output items to parts, usage, finish reasons.

Each output item, in order: a ``message`` gives one ``TextPart`` (its ``output_text`` and
``refusal`` parts joined), a ``function_call`` a ``ToolCall`` (the ``call_id`` is the id; the item id
is kept in ``provider_data``), a ``reasoning`` item a ``ThinkingPart`` (summary parts joined with a
blank line, else the reasoning text; ``encrypted_content`` as the signature; the item id, and the id
of a message that directly follows it, in ``provider_data``). Other items (web search, code
interpreter, MCP...) stay in ``raw``.

``status`` and ``incomplete_details`` give the finish reason: ``completed`` is ``stop``
(``tool_use`` with function calls, ``content_filter`` with a refusal), ``incomplete`` is ``length``
(``content_filter`` when the reason says so), ``failed`` is ``error`` (the response's ``error``
becomes ``Response.error``), ``cancelled`` is ``aborted``; ``queued`` / ``in_progress``
(background mode, which this library does not poll) are ``stop``.

Usage: ``input_tokens`` includes cache reads (``input_tokens_details.cached_tokens``) and writes
(``cache_write_tokens``), so uncached input is ``input - cached - written``; ``output_tokens``
already includes the reasoning tokens (they are not added again).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._exceptions import ProviderError
from sycophant_py._types import FinishReason, Part, Response, TextPart, ThinkingPart, ToolCall, Usage
from sycophant_py.wire._base import WireProtocol
from sycophant_py.wire._util import finish_map, int_of, invalid_body, map_finish, object_of

if TYPE_CHECKING:
    from sycophant_py.wire.openai_responses.stream import ResponsesStream

__all__ = [
    "API",
    "FINISH_REASONS",
    "arguments_text",
    "Decoding",
    "decode_usage",
    "error_of",
    "incomplete_reason",
    "int_of",
    "map_status",
    "process_output",
    "reasoning_data",
    "texts",
]

API = "openai_responses"
"""The protocol name, also the ``provider_data["api"]`` marker of parts this protocol decoded."""


def _details(u: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    details = u.get(key)
    return details if isinstance(details, Mapping) else {}


def decode_usage(u: Mapping[str, Any] | None) -> Usage:
    """Usage from a Responses ``usage`` object.

    ``input_tokens`` includes cache reads and writes (a cached count above it was reported beside
    it, as some compatible servers do, and is not taken off); ``output_tokens`` includes reasoning.
    """
    if not isinstance(u, Mapping) or not u:
        return Usage()
    details = _details(u, "input_tokens_details")
    prompt = int_of(u.get("input_tokens"))
    cached = int_of(details.get("cached_tokens"))
    uncached = prompt if cached > prompt else prompt - cached
    written = min(int_of(details.get("cache_write_tokens")), uncached)
    return Usage(
        input_tokens=uncached - written,
        output_tokens=int_of(u.get("output_tokens")),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=int_of(_details(u, "output_tokens_details").get("reasoning_tokens")),
    )


FINISH_REASONS = finish_map(stop=("completed",), length=("incomplete",), error=("failed",), aborted=("cancelled",))
"""Response ``status`` values in the unified set (``queued`` / ``in_progress`` and the rest: ``stop``)."""


def map_status(
    status: str | None, incomplete_reason: str | None, *, tool_calls: bool = False, refused: bool = False
) -> FinishReason:
    """The unified finish reason of a response ``status`` (see the module docstring)."""
    if status == "incomplete" and incomplete_reason == "content_filter":
        return "content_filter"
    reason = map_finish(FINISH_REASONS, status, tool_calls)
    return "content_filter" if refused and reason in ("stop", "tool_use") else reason


def incomplete_reason(resp: Mapping[str, Any]) -> str | None:
    """``incomplete_details.reason`` of a response, when there is one."""
    details = resp.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    return str(reason) if reason is not None else None


def texts(entries: Any, kind: str) -> list[str]:
    """The ``text`` of the entries of one ``type`` (summary or reasoning-text parts)."""
    return [str(e.get("text") or "") for e in entries or () if isinstance(e, Mapping) and e.get("type") == kind]


def reasoning_data(item: Mapping[str, Any]) -> dict[str, Any]:
    """The ``provider_data`` of a reasoning item's ``ThinkingPart`` (without ``next_message_id``)."""
    summary = texts(item.get("summary"), "summary_text")
    data: dict[str, Any] = {"api": API, "item_id": item.get("id")}
    if len(summary) > 1:
        data["summary_parts"] = summary
    if not summary and texts(item.get("content"), "reasoning_text"):
        data["reasoning_content"] = True
    return data


def _process_reasoning(item: Mapping[str, Any]) -> ThinkingPart:
    text = "\n\n".join(texts(item.get("summary"), "summary_text")) + "".join(
        texts(item.get("content"), "reasoning_text")
    )
    return ThinkingPart(text, item.get("encrypted_content") or None, provider=None, provider_data=reasoning_data(item))


def _process_message(item: Mapping[str, Any]) -> tuple[str, bool]:
    """(text, refused) of an output message."""
    text: list[str] = []
    refused = False
    for c in item.get("content") or ():
        if not isinstance(c, Mapping):
            continue
        if c.get("type") == "refusal":
            refused = True
            text.append(str(c.get("refusal") or ""))
        elif isinstance(c.get("text"), str):
            text.append(c["text"])
    return "".join(text), refused


def arguments_text(value: Any) -> str:
    """Tool-call arguments as JSON text (some servers send an object)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _process_function_call(item: Mapping[str, Any]) -> ToolCall:
    return ToolCall.from_json(
        str(item.get("call_id") or item.get("id") or ""),
        str(item.get("name") or ""),
        arguments_text(item.get("arguments")),
        provider_data={"api": API, "item_id": item.get("id")},
    )


def process_output(output: Any) -> tuple[list[Part], bool]:
    """The parts of a response's ``output`` list, and whether the model refused."""
    parts: list[Part] = []
    refused = False
    reasoning_at: int | None = None  # index of a reasoning part the next item directly follows
    for item in output or ():
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "message" and reasoning_at is not None and item.get("id"):
            prev = parts[reasoning_at]
            assert isinstance(prev, ThinkingPart)
            parts[reasoning_at] = replace(
                prev, provider_data={**(prev.provider_data or {}), "next_message_id": item["id"]}
            )
        reasoning_at = None
        if kind == "reasoning":
            parts.append(_process_reasoning(item))
            reasoning_at = len(parts) - 1
        elif kind == "message":
            text, refusal = _process_message(item)
            refused = refused or refusal
            if text:
                parts.append(TextPart(text))
        elif kind == "function_call":
            parts.append(_process_function_call(item))
    return parts, refused


def error_of(obj: Any) -> tuple[str, str | None]:
    """``(message, code)`` of an ``error`` event or a failed response's ``error`` object."""
    err = obj.get("error") if isinstance(obj, Mapping) and isinstance(obj.get("error"), Mapping) else obj
    if not isinstance(err, Mapping):
        return "the response failed", None
    code = err.get("code") or err.get("type")
    return str(err.get("message") or code or "the response failed"), None if code is None else str(code)


_NO_OUTPUT_YET = frozenset({"failed", "cancelled", "queued", "in_progress", "incomplete"})
"""Statuses whose body may come without an ``output`` list."""


class Decoding(WireProtocol["ResponsesStream"]):  # the state is the stream module's (imported for types only)
    """The response half of ``openai_responses``: a response body."""

    @override
    def decode_response(self, body: Any) -> Response:
        """A response body (``POST /responses`` or a retrieved response) as a :class:`Response`.

        Raises:
            ResponseInvalid: the body is not a response object (no ``output`` list, or an ``output`` that
                is not a list of objects); the provider's message, when the body has one, is in the text.
        """
        body = object_of(API, body)
        output = body.get("output")
        if output is None and body.get("status") not in _NO_OUTPUT_YET:
            raise invalid_body(API, "no 'output' list", body)
        if output is not None and (not isinstance(output, list) or not all(isinstance(i, Mapping) for i in output)):
            raise invalid_body(API, "an 'output' that is not a list of objects", body)
        parts, refused = process_output(output)
        calls = [p for p in parts if isinstance(p, ToolCall)]
        status = body.get("status")
        incomplete = incomplete_reason(body)
        error: BaseException | None = None
        if status == "failed":
            message, code = error_of(body)
            error = ProviderError(message, body=body.get("error"), model=body.get("model"), error_type=code)
        return Response(
            finish_reason=map_status(status, incomplete, tool_calls=bool(calls), refused=refused),
            usage=decode_usage(body.get("usage")),
            parts=parts,
            raw=body,
            id=body.get("id") if isinstance(body.get("id"), str) else None,
            model=body.get("model") if isinstance(body.get("model"), str) else None,
            provider_finish_reason=incomplete or (status if isinstance(status, str) else None),
            error=error,
        )
