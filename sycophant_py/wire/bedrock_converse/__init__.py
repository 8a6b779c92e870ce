"""Amazon Bedrock Converse (``POST /model/{id}/converse`` and ``/converse-stream``).

The base URL is the host root (``https://bedrock-runtime.{region}.amazonaws.com``); the model id
is percent-encoded into the path (``anthropic.claude-3-5-sonnet-20241022-v2:0`` becomes
``anthropic.claude-3-5-sonnet-20241022-v2%3A0``; an ARN's ``/`` becomes ``%2F``). Streams are AWS
binary event-stream frames (``stream_transport = "event_stream"``), decoded by
``sycophant_py._eventstream`` and handed here one frame at a time.

The package follows the protocol template (``docs/architecture.md``): this module holds the class,
its descriptor and its params; ``encode`` (request mapping, ``_map_*``), ``decode`` (responses,
usage, errors), ``stream`` (event-stream frames into the shared accumulator) and ``media`` (image,
document and audio blocks).

Request mapping:

* System messages go to the top-level ``system`` blocks. Tool results are ``toolResult`` blocks
  in a **user** turn (status ``error`` for ``is_error``); consecutive turns of one role are merged
  (tool results first). A tool call left without a result gets a synthetic error result, and a
  result whose call is not in the assistant turn before it is sent as text. The conversation
  first goes through ``prepare_history`` (:func:`handoff_rules`): tool-call ids outside the
  spec's ``ToolUseId`` (``[a-zA-Z0-9_.:-]{1,64}``; for Claude without ``.`` and ``:``, as
  Anthropic's pattern) are rewritten stably in the call and its result, failed turns are left out, and thinking from
  another provider becomes text or is dropped. When the history holds tool blocks but the call has
  no tools, tool specs are derived from the history (Bedrock refuses tool blocks without a
  ``toolConfig``).
* Images, documents and audio are sent as bytes (``{format, source: {bytes}}``; ``s3://`` URLs as
  ``s3Location``), documents with a ``name`` made of the characters Bedrock allows. Other URLs
  raise ``UnsupportedInput`` before sending: Bedrock does not fetch them. A tool result may hold
  images and documents, not audio. Blank text (empty or whitespace only) is left out, since
  Bedrock refuses it; a conversation left with no turn raises ``InvalidMessage``.
* Thinking is replayed as ``reasoningContent`` (``reasoningText {text, signature}`` or
  ``redactedContent``) when it came from this protocol (or from ``anthropic_messages`` for a
  Claude model: the signatures are interchangeable) and carries a signature; other thinking is
  sent as text, and opaque thinking from elsewhere is dropped.
* ``Message.cache=True`` appends a ``cachePoint`` block after that message's content.
* ``max_tokens``, ``temperature`` (0..1 here), ``top_p`` and ``stop`` go to ``inferenceConfig``;
  ``top_k`` to ``additionalModelRequestFields`` (``top_k``; ``inferenceConfig.topK`` for Nova).
  For Claude, ``reasoning_budget`` (or ``reasoning_effort``: minimal 1024, low 2048, medium 8192,
  high 16384, xhigh 32768 tokens) becomes ``thinking: {type: enabled, budget_tokens}`` (not
  when the conversation ends inside a tool-use turn that does not start with reasoning, which
  Claude refuses: one thinking configuration per turn); while thinking, ``maxTokens`` is raised
  above the budget and ``temperature`` / ``top_k`` (and a
  ``top_p`` below 0.95) are not sent, as the model refuses them. Nova 2 gets
  ``reasoningConfig.maxReasoningEffort``; ``openai.gpt-oss`` models ``reasoning_effort``.
  ``seed`` and ``parallel_tool_calls`` have no Converse equivalent and are not sent (they are named
  in the ``params.dropped`` warning, as are the sampling params a thinking Claude refuses).
* ``tool_choice``: ``auto`` / ``required`` (``any``) / a tool name; ``none`` does not exist in
  Converse, so the tools are left out (or, with tool blocks in the history, sent without a choice).
* Structured output uses a forced tool named after the schema (the library reads its arguments);
  while Claude is thinking the tool is offered with ``auto``, since a forced tool is refused.
  ``structured_output="native"`` uses ``outputConfig.textFormat`` (JSON schema) instead.

Responses: ``stopReason`` ``end_turn`` / ``stop_sequence`` -> ``stop``, ``max_tokens`` /
``model_context_window_exceeded`` -> ``length``, ``tool_use`` -> ``tool_use``,
``guardrail_intervened`` / ``content_filtered`` -> ``content_filter``, malformed output ->
``error`` (in a stream: an ``error`` event), anything else -> ``stop``. Usage: ``inputTokens``
already excludes cache reads and writes (``cacheReadInputTokens`` / ``cacheWriteInputTokens``). Server-side tool calls
(``type: server_tool_use``) and their ``toolResult`` blocks run on Bedrock: they stay in ``raw``.

Streams: ``messageStop`` records the stop reason but does not end the stream, because the
``metadata`` event with the usage comes after it: the stream is done once both were seen (in
either order: some recorded fixtures put ``metadata`` first). A body that ends after
``messageStop`` without ``metadata`` is still complete. Exception frames (``:message-type
exception``) end the stream with an ``error`` event keeping the partial content:
``throttlingException`` -> ``RateLimited``, ``serviceUnavailableException`` -> ``Overloaded``,
``internalServerException`` / ``modelStreamErrorException`` -> ``ServerError``,
``validationException`` -> ``BadRequest``, ``modelTimeoutException`` -> ``Timeout``.

Errors: a Bedrock error body is ``{"message": ...}``; its type travels in the ``x-amzn-errortype``
header, which ``decode_error`` does not see, so the type is the body's ``__type`` / ``code`` when
present, else the one exception ``service-2.json`` declares for that status.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sycophant_py._params import SharedParams
from sycophant_py.wire._util import EFFORT_BUDGETS
from sycophant_py.wire.bedrock_converse.decode import FINISH_REASONS, Decoding, decode_usage, error_message
from sycophant_py.wire.bedrock_converse.encode import PROTOCOL_MARK, Encoding, model_path, tool_id
from sycophant_py.wire.bedrock_converse.stream import ConverseStream, Streaming

__all__ = [
    "EFFORT_BUDGETS",
    "PROTOCOL_MARK",
    "BedrockConverse",
    "BedrockConverseParams",
    "ConverseStream",
    "decode_usage",
    "error_message",
    "model_path",
    "tool_id",
]


class BedrockConverseParams(SharedParams):
    """Params of ``bedrock_converse`` beyond the shared ones."""

    temperature: float | None = Field(None, ge=0.0, le=1.0)
    """Sampling temperature (Converse accepts 0..1)."""
    additional_model_request_fields: dict[str, Any] | None = None
    """Model-specific fields merged into ``additionalModelRequestFields`` (they win over the mapping)."""
    additional_model_response_field_paths: list[str] | None = None
    """JSON pointers of model-specific response fields to return (``["/stop_sequence"]``)."""
    guardrail_config: dict[str, Any] | None = None
    """``guardrailConfig`` (``guardrailIdentifier``, ``guardrailVersion``, ``trace``...)."""
    performance_config: dict[str, Any] | None = None
    """``performanceConfig`` (``{"latency": "optimized"}``)."""
    request_metadata: dict[str, str] | None = None
    """``requestMetadata`` key-value pairs for invocation logs."""
    prompt_variables: dict[str, Any] | None = None
    """``promptVariables`` for a Prompt-management model id."""
    structured_output: Literal["tool", "native"] | None = None
    """How ``generate_object`` asks for JSON: a forced tool (default) or ``outputConfig`` (``native``)."""


class BedrockConverse(Encoding, Decoding, Streaming):
    """Amazon Bedrock's Converse API, SigV4-signed: the model id is in the path, streams are AWS
    event-stream frames, and embeddings go through ``bedrock_embed``."""

    name = "bedrock_converse"
    aliases = ("bedrock-converse-stream",)
    default_auth = "bedrock"
    embedding = "bedrock_embed"
    params = BedrockConverseParams
    stream_transport = "event_stream"
    finish_reasons = FINISH_REASONS
