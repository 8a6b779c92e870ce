"""Decoding shared by whole responses and streams: finish reasons, usage, error bodies and chunk shapes.

A whole body is decoded as the chunks of a stream (``stream.decode_body``): this module holds what
both read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._types import Usage
from sycophant_py.wire._base import WireProtocol, error_fields
from sycophant_py.wire._util import body_message, finish_map, first_int, int_of, invalid_body

if TYPE_CHECKING:
    from sycophant_py.wire.google_gemini.stream import GeminiStream

__all__ = [
    "FINISH_REASONS",
    "Decoding",
    "body_chunks",
    "decode_usage",
    "error_message",
    "error_of",
    "gemini_error",
    "has_counts",
    "retry_delay",
    "whole_body_chunks",
]

FINISH_REASONS = finish_map(
    stop=("STOP",),
    length=("MAX_TOKENS",),
    content_filter=(
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    ),
    # The values the API documents as a failed generation.
    error=(
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
)  # a value the API adds later is ``stop`` (the raw value stays in provider_finish_reason)


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


def error_message(status: int, body: Any) -> tuple[str, str | None]:
    """``(message, error type)`` of an error body: Google's shape (:func:`gemini_error`), else the common ones."""
    return gemini_error(body) or error_fields(status, body)


_CHUNK_KEYS = ("candidates", "usageMetadata", "promptFeedback", "modelVersion", "responseId")
_NAME = "google_gemini"


def body_chunks(payload: Any, stream: StreamAccumulator | None = None) -> list[Mapping[str, Any]]:
    """The ``GenerateContentResponse`` objects of a payload (one, or a list), checked for shape."""
    chunks = payload if isinstance(payload, list) else [payload]
    for chunk in chunks:
        if not isinstance(chunk, Mapping):
            raise invalid_body(_NAME, "no GenerateContentResponse object", payload, stream=stream)
        candidates = chunk.get("candidates")
        if candidates is not None and (
            not isinstance(candidates, list) or not all(isinstance(c, Mapping) for c in candidates)
        ):
            raise invalid_body(_NAME, "a 'candidates' that is not a list of objects", payload, stream=stream)
        if not any(k in chunk for k in _CHUNK_KEYS) and body_message(chunk):
            raise invalid_body(_NAME, "no 'candidates'", payload, stream=stream)
    return chunks


def whole_body_chunks(body: Any) -> list[Mapping[str, Any]]:
    """The chunks of a whole body, which must hold a candidate or say why the prompt was blocked."""
    chunks = body_chunks(body)
    for chunk in chunks:
        feedback = chunk.get("promptFeedback")
        if chunk.get("candidates") or (isinstance(feedback, Mapping) and feedback.get("blockReason")):
            return chunks
    raise invalid_body(_NAME, "no 'candidates'", body)


class Decoding(WireProtocol["GeminiStream"]):  # the state is the stream module's (imported for types only)
    """The error half of ``google_gemini``'s decoding: Google's error bodies and ``RetryInfo``
    (a whole response is decoded as a stream that came at once: ``stream.Streaming``)."""

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        return error_message(status, body)

    @override
    def retry_after(self, body: Any) -> float | None:
        return retry_delay(body)
