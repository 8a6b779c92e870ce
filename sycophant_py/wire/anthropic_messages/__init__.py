"""Anthropic Messages (``POST /v1/messages``) and the servers that speak it.

The provider's base URL is the bare host (``https://api.anthropic.com``); a trailing ``/v1`` in
source data is stripped and the path ``/v1/messages`` appended. Every request carries the
``anthropic-version`` header (:data:`ANTHROPIC_VERSION`, unless the provider's headers set one; the
``anthropic`` auth strategy may send another from the credentials). The package follows the
protocol template (``docs/architecture.md``): ``encode`` (our types to a request body), ``decode``
(a response body to our types, usage, stop reasons and errors) and ``stream`` (one SSE event at a
time into the shared accumulator); this module holds the class, its descriptor and its params.

Params beyond the shared ones: ``max_tokens`` is required by the API, so it is the caller's
value, else the catalog's ``max_tokens``, else 4096, and it is raised above a thinking budget
(which counts toward it). ``reasoning_budget`` (or ``reasoning_effort``, mapped to a budget:
minimal 1024, low 2048, medium 8192, high 16384, xhigh 32768; ``none`` or a budget of 0 disables
thinking) becomes ``thinking: {type: enabled, budget_tokens}``; a raw ``thinking`` dict wins.
While thinking, ``temperature`` and ``top_k`` are not sent and ``top_p`` only from 0.95 (the API
refuses anything else). ``stop`` becomes ``stop_sequences``; ``seed`` has no Anthropic
equivalent and is not sent. ``tool_choice`` maps ``auto`` / ``none`` / ``required`` (``any``) /
a tool name, and ``parallel_tool_calls=False`` sets ``disable_parallel_tool_use``; ``service_tier``
(``auto`` / ``standard_only``) is sent as it is.

Structured output uses a forced tool named after the schema whose input is the answer; the
library reads that tool call's arguments when the text is empty. While thinking the API refuses
a forced tool, so the model is then offered the tool with ``tool_choice: auto``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field
from typing_extensions import override

from sycophant_py._params import ExtraBody, SharedParams
from sycophant_py.wire._util import strip_v1
from sycophant_py.wire.anthropic_messages.decode import FINISH_REASONS, Decoding, decode_usage, error_for
from sycophant_py.wire.anthropic_messages.encode import ANTHROPIC_VERSION, Encoding
from sycophant_py.wire.anthropic_messages.stream import AnthropicStream, Streaming

__all__ = [
    "ANTHROPIC_VERSION",
    "COMPAT_FLAGS",
    "AnthropicMessages",
    "AnthropicParams",
    "AnthropicStream",
    "decode_usage",
    "error_for",
]

COMPAT_FLAGS: Mapping[str, tuple[Any, ...]] = {"supports_inline_system": (True, False)}
"""The compat flags this protocol reads, with their allowed values."""


class AnthropicParams(SharedParams, ExtraBody):
    """Params of ``anthropic_messages`` beyond the shared ones."""

    user: str | None = Field(None, max_length=256)
    """An opaque end-user id, sent as ``metadata.user_id`` (for abuse detection)."""
    metadata: dict[str, str] | None = None
    """Request ``metadata`` as the API defines it (``user_id``)."""
    anthropic_beta: list[str] | None = None
    """Beta features for the ``anthropic-beta`` header (see :meth:`AnthropicMessages.request_headers`)."""
    thinking: dict[str, Any] | None = None
    """A raw ``thinking`` config (``{"type": "adaptive"}``...), sent as it is instead of the mapping."""


class AnthropicMessages(Encoding, Decoding, Streaming):
    """Anthropic's Messages API: ``x-api-key`` auth by default, the bare host as base URL, named SSE
    events; Claude elsewhere (Vertex AI: ``anthropic_vertex``) builds on it."""

    name = "anthropic_messages"
    aliases = ("anthropic-messages",)
    path = "/v1/messages"
    default_auth = "anthropic"
    params = AnthropicParams
    compat_flags = COMPAT_FLAGS
    finish_reasons = FINISH_REASONS
    models_path: ClassVar[str | None] = "/v1/models"

    @override
    def resolve_base_url(self, base_url: str) -> str:
        """The bare host: a trailing ``/v1`` (the path's own prefix) is stripped."""
        return strip_v1(base_url)
