"""Ollama's native chat API: ``POST /api/chat`` (NDJSON streaming); embeddings are ``ollama_embed``.

The ``ollama`` provider row points at the OpenAI-compatible ``/v1`` prefix; when this protocol is
selected the trailing ``/v1`` is dropped (``resolve_base_url``) and the native paths are used.

What differs from OpenAI chat: sampling params go in an ``options`` object (``max_tokens`` is
``num_predict``); images are base64 strings in a message's ``images`` list (Ollama fetches no
URLs); tool-call arguments are JSON *objects*, not strings, and carry no ids (unique ids are
made up here); tool results name the tool (``tool_name``) instead of a call id; reasoning is a
``thinking`` string next to ``content``, switched on with ``think`` (a bool or a level);
structured output is ``format`` holding the JSON schema. A stream is one JSON object per line;
the line with ``done: true`` carries ``done_reason`` and the token counts, and a line with
``error`` ends the stream with a failure.

The package follows the protocol template (``docs/architecture.md``): this module holds the class,
its descriptor and its params; ``encode``, ``decode`` and ``stream`` the rest.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from typing_extensions import override

from sycophant_py._handoff import ANY_IDS, HandoffRules
from sycophant_py._params import SharedParams
from sycophant_py.wire._util import strip_v1
from sycophant_py.wire.ollama_native.decode import FINISH_REASONS, Decoding
from sycophant_py.wire.ollama_native.encode import Encoding, ThinkLevel
from sycophant_py.wire.ollama_native.stream import Streaming

__all__ = ["OllamaNative", "OllamaNativeParams"]


class OllamaNativeParams(SharedParams):
    """Params of ``ollama_native`` beyond the shared ones (most become ``options`` entries)."""

    keep_alive: str | int | None = None
    """How long the model stays loaded after the call (``"5m"``, seconds, ``0`` unloads, ``-1`` keeps)."""
    think: bool | ThinkLevel | None = None
    """Return reasoning separately: a bool, or a level for models that take one (wins over
    ``reasoning_effort``)."""
    format: Literal["json"] | dict[str, Any] | None = None
    """``"json"`` or a JSON schema (``generate_object`` sets the schema for you)."""
    num_ctx: int | None = Field(None, ge=1)
    """Context window size in tokens."""
    num_keep: int | None = None
    """Tokens of the prompt kept when the context is shifted."""
    num_batch: int | None = Field(None, ge=1)
    """Prompt-processing batch size."""
    num_gpu: int | None = Field(None, ge=0)
    """Layers offloaded to the GPU."""
    num_thread: int | None = Field(None, ge=1)
    """CPU threads."""
    repeat_penalty: float | None = Field(None, ge=0.0)
    """Penalty for repeated tokens."""
    repeat_last_n: int | None = Field(None, ge=-1)
    """How far back ``repeat_penalty`` looks (0 off, -1 the whole context)."""
    presence_penalty: float | None = None
    """Penalise tokens already present."""
    frequency_penalty: float | None = None
    """Penalise tokens by frequency."""
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    """Minimum probability relative to the most likely token."""
    typical_p: float | None = Field(None, ge=0.0, le=1.0)
    """Locally typical sampling mass."""
    mirostat: Literal[0, 1, 2] | None = None
    """Mirostat sampling (0 off, 1, 2)."""
    mirostat_tau: float | None = None
    """Mirostat target entropy."""
    mirostat_eta: float | None = None
    """Mirostat learning rate."""
    options: dict[str, Any] | None = None
    """Raw ``options`` entries, passed as they are (named params win over the same key here)."""
    logprobs: bool | None = None
    """Return log probabilities (kept in ``resp.raw``)."""
    top_logprobs: int | None = Field(None, ge=0)
    """Alternatives per token when ``logprobs`` is on."""


class OllamaNative(Encoding, Decoding, Streaming):
    """Ollama's own ``/api/chat``: NDJSON streams, ``options``, ``think`` and ``format``."""

    name = "ollama_native"
    path = "/api/chat"
    handoff = HandoffRules(tool_ids=ANY_IDS, thinking_separator="\n\n")  # no call ids: results name the tool
    embedding = "ollama_embed"
    params = OllamaNativeParams
    stream_transport = "ndjson"
    finish_reasons = FINISH_REASONS
    models_path = "/api/tags"

    @override
    def resolve_base_url(self, base_url: str) -> str:
        """The host root: the ``ollama`` row's ``/v1`` prefix is dropped."""
        return strip_v1(base_url)
