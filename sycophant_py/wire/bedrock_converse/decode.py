"""Response decoding for ``bedrock_converse``: a ``ConverseResponse`` (or a stream's blocks) to our types.

Finish reasons: :data:`FINISH_REASONS` (malformed output is ``error``; in a stream an ``error``
event). Usage: ``inputTokens`` already excludes cache reads and writes. Errors: the body is
``{"message": ...}``; :func:`error_message` finds its type (see the package docstring).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._exceptions import (
    AuthenticationFailed,
    BadRequest,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    ServerError,
    Timeout,
)
from sycophant_py._types import FinishReason, Part, Response, TextPart, ThinkingPart, ToolCall, Usage
from sycophant_py.wire._base import WireProtocol
from sycophant_py.wire._util import decoded, first_int, int_of, invalid_body, object_of, str_or_none
from sycophant_py.wire.bedrock_converse.encode import PROTOCOL_MARK

__all__ = ["EXCEPTIONS", "FINISH_REASONS", "Decoding", "decode_block", "decode_usage", "error_message"]

FINISH_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_use",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}
"""Converse ``stopReason`` values in the unified set."""
# Exceptions Bedrock declares (service-2.json): name -> (class, HTTP status).
EXCEPTIONS: dict[str, tuple[type[ProviderError], int]] = {
    "throttlingexception": (RateLimited, 429),
    "modelnotreadyexception": (RateLimited, 429),
    "serviceunavailableexception": (Overloaded, 503),
    "internalserverexception": (ServerError, 500),
    "modelstreamerrorexception": (ServerError, 424),
    "modelerrorexception": (ServerError, 424),
    "validationexception": (BadRequest, 400),
    "servicequotaexceededexception": (BadRequest, 400),
    "conflictexception": (BadRequest, 400),
    "modeltimeoutexception": (Timeout, 408),
    "accessdeniedexception": (AuthenticationFailed, 403),
    "resourcenotfoundexception": (NotFound, 404),
}
_TYPE_BY_STATUS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def decode_usage(u: Mapping[str, Any] | None) -> Usage:
    """Usage from a Converse ``usage`` object (``inputTokens`` already excludes cache reads and writes).

    ``totalTokens`` is not read: the total is always the sum of the parts.
    """
    if not isinstance(u, Mapping) or not u:
        return Usage()
    return Usage(
        input_tokens=int_of(u.get("inputTokens")),
        output_tokens=int_of(u.get("outputTokens")),
        cache_read_tokens=first_int(u, "cacheReadInputTokens", "cacheReadInputTokenCount"),
        cache_write_tokens=first_int(u, "cacheWriteInputTokens", "cacheWriteInputTokenCount"),
    )


def decode_block(block: Mapping[str, Any]) -> Part | None:
    if "text" in block:
        return TextPart(str(block["text"]))
    use = block.get("toolUse")
    if isinstance(use, Mapping):
        if use.get("type") == "server_tool_use":
            return None
        args = use.get("input")
        text = args if isinstance(args, str) else json.dumps(args if args is not None else {}, ensure_ascii=False)
        return ToolCall.from_json(str(use.get("toolUseId") or ""), str(use.get("name") or ""), text)
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, Mapping):
        rt = reasoning.get("reasoningText")
        if isinstance(rt, Mapping):
            return ThinkingPart(str(rt.get("text") or ""), rt.get("signature") or None, provider_data=PROTOCOL_MARK)
        if reasoning.get("redactedContent"):
            return ThinkingPart("", str(reasoning["redactedContent"]), redacted=True, provider_data=PROTOCOL_MARK)
    cited = block.get("citationsContent")
    if isinstance(cited, Mapping):
        return TextPart("".join(str(c.get("text", "")) for c in cited.get("content") or () if isinstance(c, Mapping)))
    return None


def error_message(status: int, body: Any) -> tuple[str, str | None]:
    """``(message, error type)`` of a Bedrock error body (``{"message": ...}``).

    The type travels in the ``x-amzn-errortype`` header, which the behaviour's ``decode_error`` does
    not receive: it is the body's ``__type`` / ``code`` when present (namespace and URL suffix
    removed), else the one exception ``service-2.json`` declares for the status.
    """
    by_status = _TYPE_BY_STATUS.get(status)
    if isinstance(body, Mapping):
        message = body.get("message") or body.get("Message")
        raw_type = body.get("__type") or body.get("code")
        err_type = str(raw_type).rsplit("#", 1)[-1].split(":", 1)[0] if raw_type else by_status
        return str(message or body or f"HTTP {status}"), err_type
    text = body if isinstance(body, str) else repr(body)
    return text[:500] or f"HTTP {status}", by_status if body else None


class Decoding(WireProtocol):
    """The response half of ``bedrock_converse``: a ``ConverseResponse``, and error bodies."""

    @override
    def decode_response(self, body: Any) -> Response:
        """Turn a ``ConverseResponse`` into a Response.

        Raises:
            ResponseInvalid: the body has no ``output.message.content`` list of blocks; Bedrock's
                message, when the body carries one, is in the exception text.
        """
        body = object_of(self.name, body)
        output = body.get("output")
        message = output.get("message") if isinstance(output, Mapping) else None
        blocks = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(blocks, list) or not all(isinstance(b, Mapping) for b in blocks):
            raise invalid_body(self.name, "no 'output.message.content' list of blocks", body)
        parts = [p for p in (decode_block(b) for b in blocks) if p]
        raw_reason = str_or_none(body.get("stopReason"))
        return decoded(self.finish_reasons, parts, raw_reason, usage=decode_usage(body.get("usage")), raw=body)

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """``(message, error type)`` of ``{"message": ...}`` (see :func:`error_message`)."""
        return error_message(status, body)
