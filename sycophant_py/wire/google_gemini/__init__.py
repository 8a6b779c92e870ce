"""Google Gemini ``generateContent`` / ``streamGenerateContent?alt=sse`` (the ``google_gemini`` protocol).

The base URL holds the ``/v1beta`` prefix; the paths are ``/models/{model}:generateContent`` and
``/models/{model}:streamGenerateContent?alt=sse`` (a model id that already names its collection, such
as ``tunedModels/x``, is used as it is).

Encoding: system messages become ``systemInstruction``; the conversation becomes ``contents`` with
roles ``user`` and ``model`` (consecutive messages of one role share a content, except that the
function responses of a turn travel together in a content of their own). Parts are ``text``,
``inlineData`` (bytes), ``fileData`` (URLs),
``functionCall`` and ``functionResponse`` (``{"result": text}`` or ``{"error": text}``). Tool
definitions become one ``functionDeclarations`` tool whose parameter schemas are converted to the
OpenAPI subset Gemini accepts (:func:`to_gemini_schema`). Structured output uses
``responseJsonSchema`` (full JSON Schema; recorded traffic shows Gemini 2.0 and later taking it), or the
converted ``responseSchema`` where compat ``response_schema_field`` is ``"responseSchema"``.
Reasoning: ``reasoning_budget`` is ``thinkingBudget``;
``reasoning_effort`` is ``thinkingLevel`` on Gemini 3+ and a budget before (compat
``thinking_format``: ``level`` / ``budget``); ``includeThoughts`` is on whenever thinking is asked for.

Thought signatures (https://ai.google.dev/gemini-api/docs/thought-signatures) are data the model
needs back on the *same part*. A signature on a ``functionCall`` lives in the tool call's
``provider_data["thought_signature"]``; on a thought part in the ``ThinkingPart.signature``; on a
plain text part in a signature-only ``ThinkingPart`` placed right after that text (marked
``provider_data["gemini"] == "text_signature"``), which the encoder folds back onto the text part.
Parts the library does not model (code execution, server-side tool calls) are kept whole in a
``ThinkingPart`` with empty text and replayed verbatim on the same provider. Gemini 3 rejects a
function-call turn without a signature; one that has none (it came from another provider) gets
Google's documented placeholder.

Decoding: tool calls keep Gemini's ``id`` when it sends one (``provider_data["gemini_id"]``, echoed
back in the ``functionResponse``), otherwise a unique ``call_<uuid hex>`` is made up. Usage:
``promptTokenCount`` *includes* ``cachedContentTokenCount`` and ``candidatesTokenCount`` *excludes*
``thoughtsTokenCount``, so input = prompt - cached + tool-use prompt tokens and output = candidates +
thoughts (the total then equals Gemini's ``totalTokenCount``). A stream is a sequence of complete
``GenerateContentResponse`` chunks with no terminator: the chunk with ``finishReason`` is the end
marker, usage comes from the last chunk that reports it, and the body ending after a finish reason
is a normal end. Vertex AI's streamed function-call arguments (``partialArgs`` with JSON paths) are
re-assembled into JSON text, one ``toolcall_delta`` per fragment.

The package follows the protocol template (``docs/architecture.md``): this module holds the class,
its descriptor and its params; ``encode`` (our messages to ``contents``, tools, thinking config),
``decode`` (finish reasons, usage, error bodies, chunk shapes), ``stream`` (chunks into the shared
accumulator; a whole body is decoded as one stream) and ``schema`` (JSON Schema to Gemini's
``Schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from sycophant_py._params import ExtraBody, SharedParams
from sycophant_py.wire.google_gemini.decode import FINISH_REASONS, Decoding, decode_usage, gemini_error
from sycophant_py.wire.google_gemini.encode import SKIP_SIGNATURE, Encoding
from sycophant_py.wire.google_gemini.schema import to_gemini_schema
from sycophant_py.wire.google_gemini.stream import Streaming

__all__ = [
    "COMPAT_FLAGS",
    "SKIP_SIGNATURE",
    "GoogleGemini",
    "GoogleGeminiParams",
    "decode_usage",
    "gemini_error",
    "to_gemini_schema",
]

_BOOL = (True, False)
COMPAT_FLAGS: Mapping[str, tuple[Any, ...]] = {
    "thinking_format": ("level", "budget"),
    "response_schema_field": ("responseJsonSchema", "responseSchema"),
    "thought_signature_required": _BOOL,
}
"""The compat flags this protocol reads, with their allowed values."""


class GoogleGeminiParams(SharedParams, ExtraBody):
    """Params of ``google_gemini`` beyond the shared ones (``parallel_tool_calls`` and ``service_tier``
    have no Gemini equivalent: they are named in the ``params.dropped`` warning and not sent)."""

    safety_settings: list[dict[str, Any]] | None = None
    """``safetySettings`` as Gemini takes them: ``[{"category": ..., "threshold": ...}]``."""
    include_thoughts: bool | None = None
    """Return thought summaries (on by default whenever thinking is asked for)."""
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None
    """Gemini 3 ``thinkingLevel``, when ``reasoning_effort`` does not map the way you want."""
    response_mime_type: str | None = None
    """``responseMimeType`` (``application/json`` for JSON mode without a schema)."""
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise tokens already present."""
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise repeated tokens by frequency."""
    cached_content: str | None = None
    """Name of a cached content (``cachedContents/...``) to use as the prompt prefix."""


class GoogleGemini(Encoding, Decoding, Streaming):
    """Gemini's ``generateContent`` (AI Studio with ``x-goog-api-key``; Vertex AI with its own auth)."""

    name = "google_gemini"
    aliases = ("google-generative-ai",)
    default_auth = "google"
    embedding = "google_embed"
    params = GoogleGeminiParams
    compat_flags = COMPAT_FLAGS
    finish_reasons = FINISH_REASONS
