"""OpenAI Responses (``POST /responses``): OpenAI, Azure OpenAI, GitHub Copilot, OpenRouter, xAI.

The provider's base URL holds the ``/v1`` prefix (as for ``openai_chat``); the path is
``/responses``. The package follows the protocol template (``docs/architecture.md``): ``encode``
(our types to a request body, including when reasoning is replayed), ``decode`` (a response body to
our types, usage and finish reasons) and ``stream`` (one SSE event at a time into the shared
accumulator); this module holds the class, its descriptor and its params. pi's
``azure-openai-responses`` selects it with the ``azure`` auth.

Params: the shared ones except ``stop``, ``seed``, ``top_k`` and ``reasoning_budget``, which the
Responses API has no field for: the params model leaves them out, so the pipeline drops them with
its ``params.dropped`` warning. ``max_tokens`` is sent as ``max_output_tokens``;
``reasoning_effort`` / ``reasoning_summary`` / ``reasoning_context`` form ``reasoning``;
``verbosity`` and a chat-style ``response_format`` go into ``text``; the rest (``store``,
``previous_response_id``, ``include``, ``truncation``, ``metadata``, ``safety_identifier``...) are
sent as they are. With ``previous_response_id``, send only the new messages.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Literal

from pydantic import ConfigDict, Field

from sycophant_py._params import ExtraBody, ToolChoice
from sycophant_py.wire.openai_responses.decode import API, FINISH_REASONS, Decoding, decode_usage, map_status
from sycophant_py.wire.openai_responses.encode import Encoding
from sycophant_py.wire.openai_responses.stream import ResponsesStream, Streaming

__all__ = [
    "API",
    "UNSUPPORTED_SHARED",
    "OpenAIResponses",
    "OpenAIResponsesParams",
    "ResponsesStream",
    "decode_usage",
    "map_status",
]

UNSUPPORTED_SHARED = frozenset({"stop", "seed", "top_k", "reasoning_budget"})
"""Shared params the Responses API has no field for (left out of the params model)."""


class OpenAIResponsesParams(ExtraBody):
    """Params of ``openai_responses``: the shared ones it supports plus its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    """Sampling temperature."""
    max_tokens: int | None = Field(None, ge=1)
    """Maximum output tokens (sent as ``max_output_tokens``; reasoning tokens count)."""
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    """Nucleus sampling mass."""
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    """``reasoning.effort``."""
    tool_choice: ToolChoice | None = None
    """``auto``, ``none``, ``required``, a tool name, or a raw tool-choice object."""
    parallel_tool_calls: bool | None = None
    """Allow several tool calls in one answer."""
    service_tier: str | None = None
    """``auto``, ``default``, ``flex``, ``priority``..."""
    foreign_thinking: Literal["text", "drop"] | None = None
    """Thinking from another provider in the conversation: replayed as ``text`` or ``drop``ped."""
    reasoning_summary: Literal["auto", "concise", "detailed"] | None = None
    """``reasoning.summary``: ask for a summary of the reasoning."""
    reasoning_context: Literal["auto", "current_turn", "all_turns"] | None = None
    """``reasoning.context``: which earlier reasoning items the model sees on later turns."""
    verbosity: Literal["low", "medium", "high"] | None = None
    """``text.verbosity`` (GPT-5 family)."""
    store: bool | None = None
    """Store the response server-side (the API's default is true)."""
    previous_response_id: str | None = None
    """Continue from a stored response (send only the new messages then)."""
    include: list[str] | None = None
    """Extra output data (``reasoning.encrypted_content``, ``web_search_call.action.sources``...)."""
    truncation: Literal["auto", "disabled"] | None = None
    """Drop early input when it exceeds the context window (``auto``) or fail (``disabled``)."""
    metadata: dict[str, str] | None = None
    """Metadata stored with the response."""
    user: str | None = None
    """End-user id (deprecated by OpenAI in favour of ``safety_identifier``)."""
    safety_identifier: str | None = None
    """A stable id of the end user for abuse monitoring."""
    prompt_cache_key: str | None = None
    """Groups requests that share a prompt prefix, for cache hits."""
    prompt_cache_retention: Literal["in-memory", "24h"] | None = None
    """How long a cached prefix is kept."""
    max_tool_calls: int | None = Field(None, ge=1)
    """Most built-in tool calls in one response."""
    top_logprobs: int | None = Field(None, ge=0, le=20)
    """Alternatives per token in the output's log probabilities."""
    response_format: dict[str, Any] | None = None
    """A chat-style ``response_format`` (``json_object`` / ``json_schema``), sent as ``text.format``."""


class OpenAIResponses(Encoding, Decoding, Streaming):
    """OpenAI's Responses API (also Azure's, with pi's ``azure-openai-responses`` alias and its auth)."""

    name = "openai_responses"
    aliases = ("openai-responses", "azure-openai-responses")
    path = "/responses"
    implied_auth_for_alias = MappingProxyType({"azure-openai-responses": "azure"})
    embedding = "openai_embed"
    params = OpenAIResponsesParams
    finish_reasons = FINISH_REASONS
    models_path = "/models"
