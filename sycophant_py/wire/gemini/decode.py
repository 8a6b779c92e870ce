"""Decoding shared by whole responses and streams: finish reasons, usage and error bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sycophant_py._types import FinishReason, Usage
from sycophant_py.wire._util import first_int, int_of

__all__ = ["decode_usage", "error_of", "gemini_error", "has_counts", "map_finish_reason"]

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **dict.fromkeys(
        (
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT",
            "IMAGE_RECITATION",
        ),
        "content_filter",
    ),
    # The values the API documents as a failed generation.
    **dict.fromkeys(
        (
            "FINISH_REASON_UNSPECIFIED",
            "OTHER",
            "LANGUAGE",
            "MALFORMED_FUNCTION_CALL",
            "UNEXPECTED_TOOL_CALL",
            "TOO_MANY_TOOL_CALLS",
            "MISSING_THOUGHT_SIGNATURE",
            "IMAGE_OTHER",
            "NO_IMAGE",
        ),
        "error",
    ),
}  # a value the API adds later is ``stop`` (the raw value stays in provider_finish_reason)


def map_finish_reason(value: str | None, has_tool_calls: bool) -> FinishReason:
    """Map a Gemini ``finishReason`` to the unified set (absent or unknown: ``stop``; see ``_FINISH``)."""
    reason: FinishReason = _FINISH.get(value, "stop") if isinstance(value, str) and value else "stop"
    if reason == "stop" and has_tool_calls:
        return "tool_use"
    return reason


def decode_usage(u: Mapping[str, Any] | None) -> Usage:
    """Usage from ``usageMetadata`` (see the package docstring for what each count includes).

    A cached count above the prompt count was reported beside it, not inside: input is then the
    whole prompt count (never 0 because of the cache).
    """
    if not isinstance(u, Mapping) or not u:
        return Usage()
    prompt, cached = int_of(u.get("promptTokenCount")), int_of(u.get("cachedContentTokenCount"))
    thoughts = int_of(u.get("thoughtsTokenCount"))
    uncached = prompt if cached > prompt else prompt - cached
    return Usage(
        input_tokens=uncached + int_of(u.get("toolUsePromptTokenCount")),
        output_tokens=first_int(u, "candidatesTokenCount", "responseTokenCount") + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def has_counts(u: Any) -> bool:
    return isinstance(u, Mapping) and any(k.endswith("TokenCount") for k in u)


def error_of(payload: Any) -> Mapping[str, Any] | None:
    if isinstance(payload, list) and payload:
        payload = payload[0]
    err = payload.get("error") if isinstance(payload, Mapping) else None
    return err if isinstance(err, Mapping) else None


def retry_delay(body: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "34.4s"``), if the error has one."""
    err = error_of(body)
    for detail in (err or {}).get("details") or ():
        if isinstance(detail, Mapping) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay") or "")
            try:
                return max(float(delay.removesuffix("s")), 0.0)
            except ValueError:
                return None
    return None


def gemini_error(body: Any) -> tuple[str, str | None] | None:
    """``(message, status)`` of a Google error body (``{"error": {"code", "message", "status"}}``,
    possibly inside a one-element list), or None for another shape. A 503 whose message says the model
    is overloaded gets the type ``UNAVAILABLE (overloaded)`` so the pipeline raises ``Overloaded``."""
    err = error_of(body)
    if err is None:
        return None
    message = str(err.get("message") or err.get("status") or "Gemini API error")
    kind = err.get("status")
    err_type = None if kind is None else str(kind)
    if err_type == "UNAVAILABLE" and "overloaded" in message.lower():
        err_type = "UNAVAILABLE (overloaded)"
    return message, err_type
