"""Response decoding for ``anthropic_messages``: a Messages body (or its parts) to our types.

* Content blocks: ``text`` to text, ``thinking`` (with its ``signature``) and ``redacted_thinking``
  (its ``data`` kept as the signature) to thinking, ``tool_use`` to tool calls. Server-side tool
  blocks (``server_tool_use``, ``*_tool_result``, ``mcp_*``), ``compaction`` and ``fallback``
  blocks are the provider's own bookkeeping: they stay in ``Response.raw`` only. ``tool_use``
  blocks that repeat one id (a proxy that splits one call over several blocks) are one call.
* ``stop_reason``: ``end_turn`` / ``stop_sequence`` / ``pause_turn`` are ``stop``, ``max_tokens``
  and ``model_context_window_exceeded`` are ``length``, ``tool_use`` is ``tool_use``, ``refusal``
  is ``content_filter``. The raw value stays in ``provider_finish_reason``.
* Usage: ``input_tokens`` already excludes cache reads (``cache_read_input_tokens``) and cache
  writes (``cache_creation_input_tokens``), so each maps as it is; ``output_tokens`` includes
  thinking, which ``output_tokens_details.thinking_tokens`` reports separately when present.
* Errors: ``{"type": "error", "error": {"type": ..., "message": ...}}`` in a body or a stream
  event; :func:`error_for` maps the error type to the exception tree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._exceptions import (
    AuthenticationFailed,
    BadRequest,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    ServerError,
    StreamError,
    Timeout,
)
from sycophant_py._types import Part, Response, TextPart, ThinkingPart, ToolCall, Usage
from sycophant_py.wire import _util
from sycophant_py.wire._base import WireProtocol
from sycophant_py.wire._overflow import as_overflow
from sycophant_py.wire.anthropic_messages.encode import PROTOCOL_MARK

if TYPE_CHECKING:
    from sycophant_py.wire.anthropic_messages.stream import AnthropicStream

__all__ = ["FINISH_REASONS", "Decoding", "decode_usage", "error_for", "error_message", "merge_inputs"]

_NAME = "anthropic_messages"

FINISH_REASONS = _util.finish_map(
    stop=("end_turn", "stop_sequence", "pause_turn"),
    length=("max_tokens", "model_context_window_exceeded"),
    tool_use=("tool_use",),
    content_filter=("refusal",),
)
"""Messages ``stop_reason`` values in the unified set."""

_ERRORS = _util.error_table(
    {
        BadRequest: {"invalid_request_error": 400, "billing_error": 402, "request_too_large": 413},
        AuthenticationFailed: {"authentication_error": 401, "permission_error": 403},
        NotFound: {"not_found_error": 404},
        RateLimited: {"rate_limit_error": 429},
        ServerError: {"api_error": 500},
        Timeout: {"timeout_error": 504},
        Overloaded: {"overloaded_error": 529},
    }
)
"""Anthropic's error types: the exception each raises and the HTTP status the API uses for it."""


def decode_usage(u: Mapping[str, Any] | None) -> Usage:
    """Usage from a Messages ``usage`` object (input counts exclude cache reads and writes).

    ``cache_creation_input_tokens`` is the total of cache writes; a body that only gives the
    per-TTL ``cache_creation`` breakdown is summed from it.
    """
    if not isinstance(u, Mapping) or not u:
        return Usage()
    details = u.get("output_tokens_details")
    thinking = _util.int_of(details.get("thinking_tokens")) if isinstance(details, Mapping) else 0
    written = u.get("cache_creation_input_tokens")
    breakdown = u.get("cache_creation")
    if written is None and isinstance(breakdown, Mapping):
        written = sum(_util.int_of(v) for v in breakdown.values())
    return Usage(
        input_tokens=_util.int_of(u.get("input_tokens")),
        output_tokens=_util.int_of(u.get("output_tokens")),
        cache_read_tokens=_util.int_of(u.get("cache_read_input_tokens")),
        cache_write_tokens=_util.int_of(written),
        reasoning_tokens=thinking,
    )


def merge_inputs(inputs: list[Any]) -> str:
    """The arguments JSON of one tool call given as several ``tool_use`` blocks (or one).

    Objects are merged key by key; when any piece is text (a proxy splitting the JSON text over
    blocks), the pieces are joined in order instead.
    """
    pieces = [i for i in inputs if i is not None and i != {}]
    if all(isinstance(i, Mapping) for i in pieces):
        merged: dict[str, Any] = {}
        for i in pieces:
            merged.update(i)
        return json.dumps(merged, ensure_ascii=False)
    return "".join(i if isinstance(i, str) else json.dumps(i, ensure_ascii=False) for i in pieces)


def _parts(blocks: list[Any]) -> list[Part]:
    """The parts of a message's content; ``tool_use`` blocks that share an id are one call."""
    parts: list[Part | None] = []
    calls: dict[str, tuple[int, str, list[Any]]] = {}  # id -> (position, name, the inputs of its blocks)
    for block in blocks:
        if block.get("type") != "tool_use":
            part = _part(block)
            if part is not None:
                parts.append(part)
            continue
        call_id = str(block.get("id") or "")
        if call_id and call_id in calls:
            calls[call_id][2].append(block.get("input"))
            continue
        calls[call_id or f"#{len(parts)}"] = (len(parts), str(block.get("name") or ""), [block.get("input")])
        parts.append(None)
    for key, (pos, name, inputs) in calls.items():
        parts[pos] = ToolCall.from_json("" if key.startswith("#") else key, name, merge_inputs(inputs))
    return [p for p in parts if p is not None]


def _part(block: Mapping[str, Any]) -> Part | None:
    kind = block.get("type")
    if kind == "text":
        return TextPart(str(block.get("text") or ""))
    if kind == "thinking":
        return ThinkingPart(
            str(block.get("thinking") or ""), block.get("signature") or None, provider_data=dict(PROTOCOL_MARK)
        )
    if kind == "redacted_thinking":
        return ThinkingPart("", block.get("data") or None, redacted=True, provider_data=dict(PROTOCOL_MARK))
    return None  # server-side tool blocks, compaction, fallback...: kept in ``raw`` only


def error_message(body: Any) -> tuple[str, str | None]:
    """``(message, error type)`` of an Anthropic error body (or of anything else, best effort)."""
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            message = err.get("message") or err.get("detail") or body.get("message")
            typ = err.get("type") if err is not body else body.get("type")
            if typ == "error":
                typ = None
            return str(message or json.dumps(body)[:500]), None if typ is None else str(typ)
        if isinstance(err, str):
            return err, None
    text = body if isinstance(body, str) else repr(body)
    return text[:500], None


def error_for(body: Any, *, provider: str | None = None, model: str | None = None) -> ProviderError:
    """The exception for an error body or stream event, by its error type.

    ``overloaded_error`` is :class:`Overloaded`, ``rate_limit_error`` :class:`RateLimited`,
    ``api_error`` :class:`ServerError`, ``invalid_request_error`` :class:`BadRequest`, and so on;
    an unknown type is a :class:`StreamError`. ``status_code`` is the status the API uses for
    that type, and ``error_type`` keeps the type itself.
    """
    message, err_type = error_message(body)
    cls, status = _ERRORS.get(err_type or "", (StreamError, None))
    request_id = body.get("request_id") if isinstance(body, Mapping) else None
    exc = cls(
        message,
        status_code=status,
        provider=provider,
        model=model,
        request_id=request_id if isinstance(request_id, str) else None,
        body=body,
        error_type=err_type,
    )
    return as_overflow(exc)


class Decoding(WireProtocol["AnthropicStream"]):  # the state is the stream module's (imported for types only)
    """The response half of ``anthropic_messages``: a Messages body, and error bodies."""

    @override
    def decode_response(self, body: Any) -> Response:
        """Turn a non-streaming Messages body into a Response (``context`` is filled by the pipeline).

        Raises:
            ResponseInvalid: the body is not a message object.
            ProviderError: the body is an error object (the class follows the error type).
        """
        body = _util.object_of(self.name, body)
        if body.get("type") == "error":
            raise error_for(body)
        blocks = body.get("content")
        if not isinstance(blocks, list):
            raise _util.invalid_body(self.name, "no 'content' list", body)
        if not all(isinstance(b, Mapping) for b in blocks):
            raise _util.invalid_body(self.name, "a content block that is not an object", body)
        parts = _parts(blocks)
        raw_reason = _util.str_or_none(body.get("stop_reason"))
        return Response(
            finish_reason=_util.map_finish(
                self.finish_reasons, raw_reason, any(isinstance(p, ToolCall) for p in parts)
            ),
            usage=decode_usage(body.get("usage")),
            parts=parts,
            raw=body,
            id=body.get("id"),
            model=body.get("model"),
            provider_finish_reason=raw_reason,
        )

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """``(message, error type)`` of ``{"type": "error", "error": {"type", "message"}}``."""
        message, err_type = error_message(body)
        return message or f"HTTP {status}", err_type
