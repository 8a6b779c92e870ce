"""Amazon Bedrock Converse (``POST /model/{id}/converse`` and ``/converse-stream``).

The base URL is the host root (``https://bedrock-runtime.{region}.amazonaws.com``); the model id
is percent-encoded into the path (``anthropic.claude-3-5-sonnet-20241022-v2:0`` becomes
``anthropic.claude-3-5-sonnet-20241022-v2%3A0``; an ARN's ``/`` becomes ``%2F``). Streams are AWS
binary event-stream frames (``stream_transport = "event_stream"``), decoded by
``sycophant_py._eventstream`` and handed here one frame at a time.

Request mapping (``_map_*``):

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

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field
from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import (
    AuthenticationFailed,
    BadRequest,
    InvalidMessage,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    ServerError,
    StreamError,
    Timeout,
    UnsupportedInput,
)
from sycophant_py._handoff import BEDROCK_CLAUDE_IDS, BEDROCK_IDS, HandoffRules, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._params import SharedParams
from sycophant_py._types import (
    AudioPart,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    Part,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    Usage,
)
from sycophant_py.wire._base import Request, StreamContinue, StreamFailed, StreamResult, WireProtocol
from sycophant_py.wire._bedrock_media import ACCEPTS as _ACCEPTS
from sycophant_py.wire._bedrock_media import map_audio as _map_audio
from sycophant_py.wire._bedrock_media import map_document as _map_document
from sycophant_py.wire._bedrock_media import map_image as _map_image
from sycophant_py.wire._bedrock_media import s3_url as _s3_url
from sycophant_py.wire._media import check_inputs, is_blank
from sycophant_py.wire._overflow import as_overflow
from sycophant_py.wire._util import finish_or_fail, first_int, int_of, invalid_body, object_of

__all__ = [
    "EFFORT_BUDGETS",
    "PROTOCOL_MARK",
    "BedrockConverse",
    "BedrockConverseParams",
    "ConverseStream",
    "decode_usage",
    "error_message",
    "handoff_rules",
    "map_finish_reason",
    "model_path",
    "tool_id",
]

PROTOCOL_MARK: dict[str, str] = {"protocol": "bedrock_converse"}
"""``provider_data`` of thinking decoded by this protocol."""
EFFORT_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}
"""``reasoning_effort`` to a Claude thinking budget in tokens."""
_MIN_BUDGET = 1024
_DEFAULT_MAX_TOKENS = 4096
_STOP: dict[str, FinishReason] = {
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
# Exceptions Bedrock declares (service-2.json): name -> (class, HTTP status).
_EXCEPTIONS: dict[str, tuple[type[ProviderError], int]] = {
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
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_MISSING_RESULT = "Error: no result was provided for this tool call."
_EMPTY_RESULT = "(empty result)"


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


def model_path(model_id: str) -> str:
    """``/model/{id}`` with the id percent-encoded (``:`` and ``/`` included), as the API requires."""
    return "/model/" + quote(model_id, safe="")


def tool_id(raw: str) -> str:
    """A tool-use id Bedrock accepts: ``raw`` itself when valid, else a stable rewrite of it
    (``BEDROCK_IDS``; inside a conversation ``prepare_history`` also keeps ids unique)."""
    return BEDROCK_IDS.fit(raw)


def handoff_rules(model: ModelInfo) -> HandoffRules:
    """Ids of ``[a-zA-Z0-9_.:-]{1,64}`` (``[a-zA-Z0-9_-]`` for Claude, which also verifies
    ``anthropic`` thinking signatures)."""
    if _is_claude(model):
        return HandoffRules(tool_ids=BEDROCK_CLAUDE_IDS, verifies=frozenset({"amazon-bedrock", "anthropic"}))
    return HandoffRules(tool_ids=BEDROCK_IDS, verifies=frozenset({"amazon-bedrock"}))


def _tool_name(name: str) -> str:
    return _NAME_BAD.sub("_", name)[:64] or "response"


def _is_claude(model: ModelInfo) -> bool:
    return "claude" in model.id.lower()


# -- request: messages ------------------------------------------------------------------------


def _native_thinking(part: ThinkingPart, model: ModelInfo) -> bool:
    """True when Bedrock can verify the thinking's signature for ``model``."""
    claude = _is_claude(model)
    if part.provider is not None:
        return part.provider in (model.provider, "amazon-bedrock") or (claude and part.provider == "anthropic")
    mark = dict(part.provider_data or {}).get("protocol")
    return mark == PROTOCOL_MARK["protocol"] or (claude and mark == "anthropic_messages")


def _map_thinking(part: ThinkingPart, model: ModelInfo) -> dict[str, Any] | None:
    if part.signature and _native_thinking(part, model):
        if part.redacted:
            return {"reasoningContent": {"redactedContent": part.signature}}
        return {"reasoningContent": {"reasoningText": {"text": part.text, "signature": part.signature}}}
    if part.text and not part.redacted:
        return {"text": part.text}  # unverifiable thinking: the model still sees what it thought
    return None


class _Messages:
    """Builds the ``system`` and ``messages`` of one request (see the module docstring)."""

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        self.system: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []
        self.pending: dict[str, str] = {}  # tool-call id -> name, awaiting a result
        self.docs = 0
        self.tool_names: dict[str, None] = {}

    def _add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if self.turns and self.turns[-1]["role"] == role:
            self.turns[-1]["content"].extend(blocks)
        else:
            self.turns.append({"role": role, "content": blocks})

    def _add_results(self, blocks: list[dict[str, Any]]) -> None:
        """Tool results go first in a user turn (after the results already there, before any text)."""
        turn = self.turns[-1] if self.turns and self.turns[-1]["role"] == "user" else None
        if turn is None:
            self._add("user", blocks)
            return
        content = turn["content"]
        at = 0
        while at < len(content) and ("toolResult" in content[at] or "cachePoint" in content[at]):
            at += 1
        content[at:at] = blocks

    def _close_pending(self) -> None:
        self._add_results(
            [
                {"toolResult": {"toolUseId": cid, "content": [{"text": _MISSING_RESULT}], "status": "error"}}
                for cid in self.pending
            ]
        )
        self.pending.clear()

    def _cache(self, blocks: list[dict[str, Any]], msg: Message) -> list[dict[str, Any]]:
        return [*blocks, {"cachePoint": {"type": "default"}}] if msg.cache and blocks else blocks

    def _user_part(self, part: Part) -> dict[str, Any] | None:
        if isinstance(part, TextPart):
            return None if is_blank(part.text) else {"text": part.text}  # Bedrock refuses blank text
        if isinstance(part, ImagePart):
            return _map_image(part)
        if isinstance(part, AudioPart):
            return _map_audio(part)
        if isinstance(part, DocumentPart):
            self.docs += 1
            return _map_document(part, self.docs)
        raise InvalidMessage(f"bedrock_converse: a user message cannot hold a {part.kind} part")

    def _assistant_part(self, part: Part) -> dict[str, Any] | None:
        if isinstance(part, TextPart):
            return None if is_blank(part.text) else {"text": part.text}
        if isinstance(part, ThinkingPart):
            return _map_thinking(part, self.model)
        if isinstance(part, ToolCall):
            self.pending[part.id] = part.name
            self.tool_names[part.name] = None
            args = dict(part.arguments) if isinstance(part.arguments, Mapping) else {}
            return {"toolUse": {"toolUseId": part.id, "name": part.name, "input": args}}
        raise InvalidMessage(f"bedrock_converse: an assistant message cannot hold a {part.kind} part")

    def _tool_result(self, msg: Message) -> None:
        call_id = msg.tool_call_id or ""
        if call_id not in self.pending:
            # The call is not in the turn before (a trimmed history): Bedrock refuses an orphan result.
            self._add("user", [{"text": f"Result of tool {msg.name or call_id}: {msg.text}"}])
            return
        self.pending.pop(call_id)
        if any(isinstance(p, AudioPart) for p in msg.parts):
            raise UnsupportedInput("bedrock_converse: a tool result cannot hold audio (toolResult has no audio block)")
        content = [b for b in (self._user_part(p) for p in msg.parts) if b is not None] or [{"text": _EMPTY_RESULT}]
        result: dict[str, Any] = {"toolUseId": call_id, "content": content}
        if msg.is_error:
            result["status"] = "error"
        self._add_results(self._cache([{"toolResult": result}], msg))

    def add(self, msg: Message) -> None:
        if msg.role != "tool_result" and self.pending:
            self._close_pending()
        if msg.role == "system":
            if not is_blank(msg.text):
                self.system.extend(self._cache([{"text": msg.text}], msg))
        elif msg.role == "tool_result":
            self._tool_result(msg)
        elif msg.role == "user":
            self._add("user", self._cache([b for b in map(self._user_part, msg.parts) if b is not None], msg))
        else:
            self._add("assistant", self._cache([b for b in map(self._assistant_part, msg.parts) if b], msg))

    def finish(self) -> None:
        if self.pending:
            self._close_pending()

    @property
    def has_tool_blocks(self) -> bool:
        return any("toolUse" in b or "toolResult" in b for t in self.turns for b in t["content"])


# -- request: params, tools, reasoning ---------------------------------------------------------


def _thinking_budget(model: ModelInfo, params: Mapping[str, Any]) -> int | None:
    """The Claude thinking budget asked for (None: thinking not requested; 0: disabled)."""
    if not _is_claude(model):
        return None
    budget = params.get("reasoning_budget")
    effort = params.get("reasoning_effort")
    if budget is None and effort is not None:
        budget = 0 if effort == "none" else EFFORT_BUDGETS[effort]
    if budget is None:
        return None
    return max(int(budget), _MIN_BUDGET) if budget else 0


def _open_turn_unthought(turns: list[dict[str, Any]]) -> bool:
    """True when the conversation ends inside a tool-use turn that does not start with reasoning
    (Claude keeps one thinking configuration per turn: such a request is sent without thinking)."""
    if len(turns) < 2 or turns[-1]["role"] != "user" or turns[-2]["role"] != "assistant":
        return False
    if not any("toolResult" in b for b in turns[-1]["content"]):
        return False
    blocks = turns[-2]["content"]
    return not blocks or "reasoningContent" not in blocks[0]


def _reasoning_fields(model: ModelInfo, params: Mapping[str, Any], budget: int | None) -> dict[str, Any]:
    if budget is not None:
        return {"thinking": {"type": "enabled", "budget_tokens": budget} if budget else {"type": "disabled"}}
    effort = params.get("reasoning_effort")
    if effort is None or effort == "none":
        return {}
    if "nova-2" in model.id:
        level = {"minimal": "low", "xhigh": "high"}.get(effort, effort)
        return {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": level}}
    if "openai.gpt-oss" in model.id:
        return {"reasoning_effort": {"minimal": "low", "xhigh": "high"}.get(effort, effort)}
    return {}


def _inference(params: Mapping[str, Any], model: ModelInfo, budget: int | None) -> dict[str, Any]:
    thinking = bool(budget)
    out: dict[str, Any] = {}
    max_tokens = params.get("max_tokens")
    if thinking and budget is not None and (max_tokens is None or max_tokens <= budget):
        # The budget counts toward maxTokens, which must exceed it: leave room for the answer too.
        max_tokens = budget + (max_tokens or _DEFAULT_MAX_TOKENS)
        if model.max_tokens and max_tokens > model.max_tokens:
            max_tokens = max(model.max_tokens, budget + 1)
    if max_tokens is not None:
        out["maxTokens"] = max_tokens
    if "temperature" in params and not thinking:
        out["temperature"] = params["temperature"]
    if "top_p" in params and (not thinking or params["top_p"] >= 0.95):
        out["topP"] = params["top_p"]
    stop = params.get("stop")
    if stop:
        out["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    return out


def _top_k(model: ModelInfo, k: int) -> dict[str, Any]:
    return {"inferenceConfig": {"topK": k}} if "amazon.nova" in model.id else {"top_k": k}


def _tool_spec(name: str, description: str, schema: Mapping[str, Any], strict: bool | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "inputSchema": {"json": dict(schema)}}
    if description:
        spec["description"] = description
    if strict:
        spec["strict"] = True
    return {"toolSpec": spec}


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None or choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    if isinstance(choice, str):
        return {"tool": {"name": choice}}
    return dict(choice)


class ConverseStream(StreamAccumulator):
    """Stream state: the accumulator plus the stop reason seen in ``messageStop``."""

    def __init__(self) -> None:
        super().__init__()
        self.stop_reason: str | None = None
        self.stopped = False
        self.metadata_seen = False
        self.server_blocks: set[int] = set()


def map_finish_reason(value: str | None, has_tool_calls: bool = False) -> FinishReason:
    """Map a Converse ``stopReason`` to the unified set (absent: ``stop``, or ``tool_use`` with calls)."""
    reason = _STOP.get(value or "", "stop")
    return "tool_use" if reason == "stop" and has_tool_calls else reason


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


def _decode_block(block: Mapping[str, Any]) -> Part | None:
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


class BedrockConverse(WireProtocol):
    """The ``bedrock_converse`` wire protocol (pure; see the module docstring)."""

    name = "bedrock_converse"
    stream_transport = "event_stream"

    @classmethod
    @override
    def param_schema(cls) -> type[BedrockConverseParams]:
        return BedrockConverseParams

    @override
    def request_path(self, request: Request) -> str:
        return model_path(request.model.id) + ("/converse-stream" if request.stream else "/converse")

    @override
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        return handoff_rules(model)

    # -- encode ------------------------------------------------------------------------------
    @override
    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """``seed`` and ``parallel_tool_calls`` (no Converse field); reasoning params a model family
        has no mapping for; while Claude thinks, ``temperature``, ``top_k`` and a ``top_p`` below 0.95."""
        out = [k for k in ("seed", "parallel_tool_calls") if k in params]
        claude = _is_claude(model)
        if "reasoning_budget" in params and not claude:
            out.append("reasoning_budget")
        effort = params.get("reasoning_effort")
        if effort not in (None, "none") and not (claude or "nova-2" in model.id or "openai.gpt-oss" in model.id):
            out.append("reasoning_effort")
        if _thinking_budget(model, params):
            out += [k for k in ("temperature", "top_k") if k in params]
            if "top_p" in params and params["top_p"] < 0.95:
                out.append("top_p")
        return out

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The JSON body.

        Raises:
            UnsupportedInput: the model's row refuses an input kind, or Converse cannot carry it (an
                http URL: Bedrock reads bytes and ``s3://`` only), before anything is sent.
            InvalidMessage: a part cannot be represented, or no message has content.
        """
        model, params = request.model, request.params
        check_inputs(model, request.messages, self.name, accepts=_ACCEPTS, url_ok=_s3_url)
        msgs = _Messages(model)
        for m in prepare_history(request, self.handoff_rules(model)):
            msgs.add(m)
        msgs.finish()
        if not msgs.turns:
            raise InvalidMessage(
                "bedrock_converse: nothing to send: the conversation has no message with content "
                "(blank text is left out, since Bedrock refuses it)"
            )
        body: dict[str, Any] = {"messages": msgs.turns}
        if msgs.system:
            body["system"] = msgs.system
        budget = _thinking_budget(model, params)
        if budget and _open_turn_unthought(msgs.turns):
            budget = None
        inference = _inference(params, model, budget)
        if inference:
            body["inferenceConfig"] = inference
        extra = _reasoning_fields(model, params, budget)
        if "top_k" in params and not budget:
            extra.update(_top_k(model, params["top_k"]))
        extra.update(params.get("additional_model_request_fields") or {})
        if extra:
            body["additionalModelRequestFields"] = extra
        tool_config = self._tool_config(request, msgs, bool(budget))
        if tool_config:
            body["toolConfig"] = tool_config
        self._extras(body, request)
        return body

    def _tool_config(self, request: Request, msgs: _Messages, thinking: bool) -> dict[str, Any] | None:
        params = request.params
        choice = params.get("tool_choice")
        tools = self.encode_tools(request.tools) if choice != "none" or msgs.has_tool_blocks else []
        if not tools and msgs.has_tool_blocks:
            # Bedrock refuses toolUse/toolResult blocks without a toolConfig: describe the tools used.
            tools = [_tool_spec(n, "", {"type": "object"}) for n in msgs.tool_names]
        config: dict[str, Any] = {"tools": tools} if tools else {}
        if tools and request.tools and choice not in (None, "none"):
            config["toolChoice"] = _tool_choice(choice)
        schema = request.response_schema
        if schema is not None and params.get("structured_output") != "native":
            forced = self.encode_response_schema(schema, request.schema_name)["toolConfig"]
            config["tools"] = [*config.get("tools", ()), *forced["tools"]]
            config["toolChoice"] = {"auto": {}} if thinking else forced["toolChoice"]
        return config or None

    @staticmethod
    def _extras(body: dict[str, Any], request: Request) -> None:
        params = request.params
        for key, field in (
            ("additional_model_response_field_paths", "additionalModelResponseFieldPaths"),
            ("guardrail_config", "guardrailConfig"),
            ("performance_config", "performanceConfig"),
            ("request_metadata", "requestMetadata"),
            ("prompt_variables", "promptVariables"),
        ):
            if params.get(key):
                body[field] = params[key]
        if params.get("service_tier"):
            body["serviceTier"] = {"type": params["service_tier"]}
        schema = request.response_schema
        if schema is not None and params.get("structured_output") == "native":
            spec: dict[str, Any] = {"schema": json.dumps(dict(schema)), "name": _tool_name(request.schema_name)}
            if isinstance(schema.get("description"), str) and schema["description"]:
                spec["description"] = schema["description"]
            body["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": spec}}}

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        return [_tool_spec(t.name, t.description, t.json_schema(), t.strict) for t in tools]

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        """A ``toolConfig`` fragment forcing a tool whose input follows ``schema``."""
        tool = _tool_name(name)
        description = schema.get("description")
        if not isinstance(description, str) or not description:
            description = "Respond with the final answer as this tool's input."
        spec = _tool_spec(tool, description, schema)
        return {"toolConfig": {"tools": [spec], "toolChoice": {"tool": {"name": tool}}}}

    # -- decode ------------------------------------------------------------------------------
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
        parts = [p for p in (_decode_block(b) for b in blocks) if p]
        calls = [p for p in parts if isinstance(p, ToolCall)]
        raw_reason = body.get("stopReason")
        raw_reason = raw_reason if isinstance(raw_reason, str) else None
        return Response(
            finish_reason=map_finish_reason(raw_reason, bool(calls)),
            usage=decode_usage(body.get("usage")),
            parts=parts,
            raw=body,
            provider_finish_reason=raw_reason,
        )

    @override
    def init_stream(self) -> ConverseStream:
        return ConverseStream()

    @override
    def decode_stream_chunk(self, state: Any, event: Any) -> StreamResult:
        acc: ConverseStream = state
        kind = event.message_type
        if kind != "event":
            return self._stream_error(acc, event)
        payload = object_of(self.name, event.json(), stream=acc)
        handler = _HANDLERS.get(event.event_type or "")
        if handler is not None:
            handler(acc, payload)
        if event.event_type == "metadata":
            acc.raw = payload
        if acc.stopped and acc.metadata_seen:
            return finish_or_fail(acc, map_finish_reason(acc.stop_reason), self.name)
        return StreamContinue(acc, acc.drain())

    @override
    def end_of_stream(self, state: Any) -> StreamResult:
        """Complete when ``messageStop`` was seen (``metadata`` may be missing), else an error."""
        acc: ConverseStream = state
        if acc.stopped:
            return finish_or_fail(acc, map_finish_reason(acc.stop_reason), self.name)
        return super().end_of_stream(acc)

    def _stream_error(self, acc: ConverseStream, event: Any) -> StreamFailed:
        try:
            payload = event.json()
        except ValueError:
            payload = event.payload.decode("utf-8", "replace")
        name = event.exception_type or str(event.headers.get(":error-code") or "")
        message = (payload.get("message") or payload.get("Message") if isinstance(payload, Mapping) else None) or str(
            event.headers.get(":error-message") or payload or name
        )
        cls, status = _EXCEPTIONS.get(name.lower(), (StreamError, None))
        err = cls(
            f"{name}: {message}" if name else message,
            status_code=status,
            provider=acc.provider,
            model=acc.model,
            body=payload,
            error_type=name or None,
        )
        exc = as_overflow(err)
        acc.fail(exc)
        return StreamFailed(exc, acc.drain())

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """``(message, error type)`` of ``{"message": ...}`` (see :func:`error_message`)."""
        return error_message(status, body)


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


# -- stream event handlers (one per event type) -----------------------------------------------


def _on_start(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    acc.start()


def _on_block_start(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    index = int_of(payload.get("contentBlockIndex"))
    start = payload.get("start")
    if not isinstance(start, Mapping):
        return
    use = start.get("toolUse")
    if isinstance(use, Mapping):
        if use.get("type") == "server_tool_use":
            acc.server_blocks.add(index)
            return
        acc.tool_call(index, id=use.get("toolUseId"), name=use.get("name"))
    elif "toolResult" in start:
        acc.server_blocks.add(index)


def _on_block_delta(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    index = int_of(payload.get("contentBlockIndex"))
    delta = payload.get("delta")
    if index in acc.server_blocks or not isinstance(delta, Mapping):
        return
    if "text" in delta:
        acc.text(str(delta["text"]), key=index)
    elif isinstance(delta.get("toolUse"), Mapping):
        acc.tool_call(index, arguments=str(delta["toolUse"].get("input") or ""))
    elif isinstance(delta.get("reasoningContent"), Mapping):
        rc = delta["reasoningContent"]
        redacted = rc.get("redactedContent")
        acc.thinking(
            str(rc.get("text") or ""),
            key=index,
            signature=rc.get("signature") or redacted or None,
            redacted=bool(redacted),
            provider_data=dict(PROTOCOL_MARK),
        )


def _on_block_stop(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    acc.end_key(int_of(payload.get("contentBlockIndex")))


def _on_message_stop(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    acc.stopped = True
    reason = payload.get("stopReason")
    acc.stop_reason = reason if isinstance(reason, str) else None
    acc.provider_finish_reason = acc.stop_reason


def _on_metadata(acc: ConverseStream, payload: Mapping[str, Any]) -> None:
    acc.metadata_seen = True
    if payload.get("usage"):
        acc.usage = decode_usage(payload["usage"])


_HANDLERS = {
    "messageStart": _on_start,
    "contentBlockStart": _on_block_start,
    "contentBlockDelta": _on_block_delta,
    "contentBlockStop": _on_block_stop,
    "messageStop": _on_message_stop,
    "metadata": _on_metadata,
}
