"""Response decoding for ``ollama_native`` (and ``ollama_embed``'s errors): ``/api/chat`` bodies to our types.

Tool-call arguments are JSON *objects*, not strings, and carry no ids (unique ids are made up
here); reasoning is a ``thinking`` string next to ``content``; ``done_reason`` is the finish reason
(:data:`FINISH_REASONS`) and ``prompt_eval_count`` / ``eval_count`` the usage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._types import Part, Response, TextPart, ThinkingPart, ToolCall, Usage
from sycophant_py.wire._base import WireProtocol, error_fields
from sycophant_py.wire._util import (
    decoded,
    field_of,
    finish_map,
    int_of,
    invalid_body,
    new_call_id,
    object_of,
    str_or_none,
)

__all__ = ["FINISH_REASONS", "Decoding", "decode_usage", "error_text", "text_field", "tool_call_fields"]

FINISH_REASONS = finish_map(stop=("stop", "load", "unload"), length=("length",))
"""Ollama's ``done_reason`` values in the unified set."""


def text_field(value: Any) -> str:
    """A text field of a message (``content``, ``thinking``): the string, else empty."""
    return value if isinstance(value, str) else ""


def decode_usage(body: Mapping[str, Any]) -> Usage:
    """Usage from the token counts of a body (or of a stream's last line)."""
    return Usage(input_tokens=int_of(body.get("prompt_eval_count")), output_tokens=int_of(body.get("eval_count")))


def error_text(body: Any) -> tuple[str, str | None] | None:
    """``(message, None)`` of Ollama's ``{"error": "text"}``, else None."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        return body["error"], None
    return None


def _arguments(raw: Any) -> tuple[str, Any]:
    """``(arguments_json, parsed)`` of tool-call arguments Ollama sends as an object (or text)."""
    if raw is None:
        return "{}", {}
    if isinstance(raw, str):
        try:
            return raw or "{}", json.loads(raw or "{}")
        except ValueError:
            return raw, {}
    return json.dumps(raw, ensure_ascii=False), raw


def tool_call_fields(tc: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(id, name, arguments JSON)`` of a tool call (its arguments are an object; a missing id is made up)."""
    fn = tc.get("function")
    fn = fn if isinstance(fn, Mapping) else {}
    raw_json, _ = _arguments(fn.get("arguments"))
    return str(tc.get("id") or new_call_id()), str(fn.get("name") or ""), raw_json


class Decoding(WireProtocol):
    """The response half of ``ollama_native``: an ``/api/chat`` body, and ``{"error": ...}`` bodies."""

    @override
    def decode_response(self, body: Any) -> Response:
        """Turn an ``/api/chat`` body into a Response (``ResponseInvalid`` when it has no message)."""
        body = object_of(self.name, body)
        msg = field_of(self.name, body, "message", Mapping, "no 'message' object")
        text = text_field(msg.get("content"))
        thinking = text_field(msg.get("thinking"))
        parts: list[Part] = []
        if thinking:
            parts.append(ThinkingPart(thinking))
        if text:
            parts.append(TextPart(text))
        tool_calls = msg.get("tool_calls")
        if tool_calls is not None and not isinstance(tool_calls, list):
            raise invalid_body(self.name, "a 'tool_calls' that is not a list", body)
        calls = [ToolCall.from_json(*tool_call_fields(tc)) for tc in tool_calls or () if isinstance(tc, Mapping)]
        parts.extend(calls)
        raw_reason = str_or_none(body.get("done_reason"))
        return decoded(
            self.finish_reasons, parts, raw_reason, usage=decode_usage(body), raw=body, model=body.get("model")
        )

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """Ollama's errors are ``{"error": "text"}``."""
        return error_text(body) or error_fields(status, body)
