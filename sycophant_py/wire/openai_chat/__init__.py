"""OpenAI Chat Completions (``/chat/completions``) and the many servers that speak it.

Compatibility flags (``ModelInfo.compat``; every one listed in :data:`COMPAT_FLAGS`) adapt the
request to OpenAI-compatible servers: ``supports_developer_role``, ``supports_reasoning_effort``,
``supports_usage_in_streaming``, ``supports_store``, ``supports_top_k``, ``max_tokens_field``,
``requires_tool_result_name``, ``requires_assistant_after_tool_result``, ``requires_thinking_as_text``,
``requires_mistral_tool_ids``, ``requires_content_string`` (``""`` instead of ``null`` beside tool
calls), ``response_format`` (``json_schema`` / ``json_object_schema``) and ``thinking_format``
(``openai`` / ``zai`` / ``qwen``). Nothing depends on ``ModelInfo.local`` itself: the local rows (and
providers on a loopback address) carry the flags they need.

Inputs: images as ``image_url`` (a URL or a ``data:`` URL), PDFs and other files as ``file`` parts
(bytes only), audio as ``input_audio`` (wav or mp3 bytes). Tool messages carry text only, so the
images and files of a tool result follow the run of tool results in a user message.

Reasoning arrives under several names (``reasoning_content``: DeepSeek, xAI; ``reasoning``:
Groq, OpenRouter, Ollama; ``reasoning_text`` + ``reasoning_opaque``: GitHub Copilot). Usage
counts prompt tokens *including* cached ones, so uncached input is ``prompt - cached``; cached
counts appear as ``prompt_tokens_details.cached_tokens`` (OpenAI), ``prompt_cache_hit_tokens``
(DeepSeek), ``num_cached_tokens`` (Mistral) or a top-level ``cached_tokens``; a cached count above
the prompt count (Azure AI Foundry) was left out of it. ``prompt_tokens_details.audio_tokens`` that
``total_tokens`` shows outside ``prompt_tokens`` (Mistral's voxtral) are input too.

In a stream the usage arrives in a last chunk after ``finish_reason``, so decoding goes on until
``[DONE]``; a body that ends without ``[DONE]`` after a finish reason is complete all the same (some
servers never send it), one that ends before any finish reason is an error. Choices and tool-call
fragments are matched by their ``index`` (never their position in a list).

The package follows the protocol template (``docs/architecture.md``): this module holds the class,
its descriptor and its params; ``encode`` (our types to a body), ``decode`` (a body to our types)
and ``stream`` (SSE events into the shared accumulator) the rest. Finish reasons: see
``decode.FINISH_REASONS``; absent or unknown ones are ``stop`` (the raw value stays in ``provider_finish_reason``),
and ``error`` ends a stream with an ``error`` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from sycophant_py._params import ExtraBody, SharedParams
from sycophant_py.wire.openai_chat.decode import FINISH_REASONS, Decoding, decode_usage
from sycophant_py.wire.openai_chat.encode import Encoding
from sycophant_py.wire.openai_chat.stream import Streaming

__all__ = ["COMPAT_FLAGS", "OpenAIChat", "OpenAIChatParams", "decode_usage"]

_BOOL = (True, False)
COMPAT_FLAGS: Mapping[str, tuple[Any, ...]] = {
    "supports_store": _BOOL,
    "supports_developer_role": _BOOL,
    "supports_reasoning_effort": _BOOL,
    "supports_usage_in_streaming": _BOOL,
    "supports_top_k": _BOOL,
    "max_tokens_field": ("max_completion_tokens", "max_tokens"),
    "requires_tool_result_name": _BOOL,
    "requires_assistant_after_tool_result": _BOOL,
    "requires_thinking_as_text": _BOOL,
    "requires_mistral_tool_ids": _BOOL,
    "requires_content_string": _BOOL,
    "response_format": ("json_schema", "json_object_schema"),
    "thinking_format": ("openai", "zai", "qwen"),
}
"""The compat flags this protocol reads, with their allowed values."""


class OpenAIChatParams(SharedParams, ExtraBody):
    """Params of ``openai_chat`` beyond the shared ones."""

    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise repeated tokens by frequency."""
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise tokens already present."""
    logprobs: bool | None = None
    """Return log probabilities."""
    top_logprobs: int | None = Field(None, ge=0, le=20)
    """How many alternatives per token when ``logprobs`` is on."""
    logit_bias: dict[str, float] | None = None
    """Token id to bias."""
    user: str | None = None
    """End-user id for abuse monitoring."""
    store: bool | None = None
    """Store the completion (OpenAI)."""
    metadata: dict[str, str] | None = None
    """Metadata stored with the completion."""
    response_format: dict[str, Any] | None = None
    """A raw ``response_format`` (``generate_object`` sets it for you)."""
    verbosity: Literal["low", "medium", "high"] | None = None
    """Answer verbosity (GPT-5 family)."""
    prompt_cache_key: str | None = None
    """Groups requests that share a prompt prefix, for cache hits (OpenAI)."""
    prompt_cache_retention: Literal["in-memory", "24h"] | None = None
    """How long a cached prefix is kept (OpenAI)."""
    safety_identifier: str | None = None
    """A stable id of the end user for abuse monitoring (OpenAI)."""


class OpenAIChat(Encoding, Decoding, Streaming):
    """OpenAI's Chat Completions, spoken by most servers: compat flags adapt the body to each."""

    name = "openai_chat"
    aliases = ("openai-completions",)
    path = "/chat/completions"
    embedding = "openai_embed"
    params = OpenAIChatParams
    compat_flags = COMPAT_FLAGS
    finish_reasons = FINISH_REASONS
    models_path = "/models"
