"""Response decoding for ``bedrock_converse``: a ``ConverseResponse`` (or a stream's blocks) to our types.

Finish reasons: :data:`FINISH_REASONS` (malformed output is ``error``; in a stream an ``error``
event). Usage: ``inputTokens`` already excludes cache reads and writes. Errors: the body is
``{"message": ...}``; :func:`error_message` finds its type (see the package docstring).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py import _exceptions
from sycophant_py._types import Part, Response, TextPart, ThinkingPart, ToolCall, Usage
from sycophant_py.wire import _util
from sycophant_py.wire._base import WireProtocol
from sycophant_py.wire.bedrock_converse.encode import PROTOCOL_MARK

if TYPE_CHECKING:
    from sycophant_py.wire.bedrock_converse.stream import ConverseStream

__all__ = ["EXCEPTIONS", "FINISH_REASONS", "Decoding", "decode_block", "decode_usage", "error_message"]

FINISH_REASONS = _util.finish_map(
    stop=("end_turn", "stop_sequence"),
    length=("max_tokens", "model_context_window_exceeded"),
    tool_use=("tool_use",),
    content_filter=("guardrail_intervened", "content_filtered"),
    error=("malformed_model_output", "malformed_tool_use"),
)
"""Converse ``stopReason`` values in the unified set."""
EXCEPTIONS = _util.error_table(
    {
        _exceptions.RateLimited: {"ThrottlingException": 429, "ModelNotReadyException": 429},
        _exceptions.Overloaded: {"ServiceUnavailableException": 503},
        _exceptions.ServerError: {
            "InternalServerException": 500,
            "ModelStreamErrorException": 424,
            "ModelErrorException": 424,
        },
        _exceptions.BadRequest: {
            "ValidationException": 400,
            "ServiceQuotaExceededException": 400,
            "ConflictException": 400,
        },
        _exceptions.Timeout: {"ModelTimeoutException": 408},
        _exceptions.AuthenticationFailed: {"AccessDeniedException": 403},
        _exceptions.NotFound: {"ResourceNotFoundException": 404},
    }
)
"""The exceptions Bedrock declares (``service-2.json``), lower-cased: the class each raises and its HTTP status."""
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
        input_tokens=_util.int_of(u.get("inputTokens")),
        output_tokens=_util.int_of(u.get("outputTokens")),
        cache_read_tokens=_util.first_int(u, "cacheReadInputTokens", "cacheReadInputTokenCount"),
        cache_write_tokens=_util.first_int(u, "cacheWriteInputTokens", "cacheWriteInputTokenCount"),
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


class Decoding(WireProtocol["ConverseStream"]):  # the state is the stream module's (imported for types only)
    """The response half of ``bedrock_converse``: a ``ConverseResponse``, and error bodies."""

    @override
    def decode_response(self, body: Any) -> Response:
        """Turn a ``ConverseResponse`` into a Response.

        Raises:
            ResponseInvalid: the body has no ``output.message.content`` list of blocks; Bedrock's
                message, when the body carries one, is in the exception text.
        """
        body = _util.object_of(self.name, body)
        output = body.get("output")
        message = output.get("message") if isinstance(output, Mapping) else None
        blocks = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(blocks, list) or not all(isinstance(b, Mapping) for b in blocks):
            raise _util.invalid_body(self.name, "no 'output.message.content' list of blocks", body)
        parts = [p for p in (decode_block(b) for b in blocks) if p]
        raw_reason = _util.str_or_none(body.get("stopReason"))
        return _util.decoded(self.finish_reasons, parts, raw_reason, usage=decode_usage(body.get("usage")), raw=body)

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """``(message, error type)`` of ``{"message": ...}`` (see :func:`error_message`)."""
        return error_message(status, body)
