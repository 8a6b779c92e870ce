"""Request encoding for ``bedrock_converse``: our messages, tools and params to a Converse body.

``_Messages`` builds the ``system`` blocks and the turns; :class:`Encoding` (the request half of
the protocol class) assembles the body
(the rules are in the package docstring). Everything here is pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from typing_extensions import override

from sycophant_py._exceptions import InvalidMessage, UnsupportedInput
from sycophant_py._handoff import HandoffRules, ToolIdRule, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._types import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
)
from sycophant_py.wire import _util
from sycophant_py.wire._base import Request, WireProtocol
from sycophant_py.wire._media import check_inputs, is_blank
from sycophant_py.wire.anthropic_messages.encode import PROTOCOL_MARK as ANTHROPIC_MARK
from sycophant_py.wire.bedrock_converse.media import ACCEPTS, map_audio, map_document, map_image, s3_url

if TYPE_CHECKING:
    from sycophant_py.wire.bedrock_converse.stream import ConverseStream

__all__ = [
    "BEDROCK_CLAUDE_IDS",
    "BEDROCK_IDS",
    "PROTOCOL_MARK",
    "Encoding",
    "is_claude",
    "model_path",
    "thinking_budget_of",
    "tool_id",
]

_NAME = "bedrock_converse"
PROTOCOL_MARK: dict[str, str] = {"protocol": _NAME}
"""``provider_data`` of thinking decoded by this protocol."""
BEDROCK_IDS = ToolIdRule(
    max_length=64,
    alphabet="a-zA-Z0-9_.:-",
    source="bedrock-runtime service-2.json, ToolUseId: min 1, max 64, pattern [a-zA-Z0-9_.:-]+",
)
"""``toolUseId`` of 1 to 64 of ``[a-zA-Z0-9_.:-]`` (Kimi on Bedrock makes ``functions.get_temperature:0``
and gets it back verbatim)."""
BEDROCK_CLAUDE_IDS = ToolIdRule(
    max_length=64,
    alphabet="a-zA-Z0-9_-",
    source="bedrock-runtime service-2.json ToolUseId, narrowed to Anthropic's ^[a-zA-Z0-9_-]+$ for the "
    "Claude models behind Converse",
)
"""For a Claude model: ``[a-zA-Z0-9_-]{1,64}``."""
_DEFAULT_MAX_TOKENS = 4096
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_EMPTY_RESULT = "(empty result)"


def model_path(model_id: str) -> str:
    """``/model/{id}`` with the id percent-encoded (``:`` and ``/`` included), as the API requires."""
    return "/model/" + quote(model_id, safe="")


def tool_id(raw: str) -> str:
    """A tool-use id Bedrock accepts: ``raw`` itself when valid, else a stable rewrite of it
    (``BEDROCK_IDS``; inside a conversation ``prepare_history`` also keeps ids unique)."""
    return BEDROCK_IDS.fit(raw)


def _tool_name(name: str) -> str:
    return _NAME_BAD.sub("_", name)[:64] or "response"


def is_claude(model: ModelInfo) -> bool:
    return "claude" in model.id.lower()


def _native_thinking(part: ThinkingPart, model: ModelInfo) -> bool:
    """True when Bedrock can verify the thinking's signature for ``model``."""
    claude = is_claude(model)
    if part.provider is not None:
        return part.provider in (model.provider, "amazon-bedrock") or (claude and part.provider == "anthropic")
    mark = dict(part.provider_data or {}).get("protocol")
    return mark == PROTOCOL_MARK["protocol"] or (claude and mark == ANTHROPIC_MARK["protocol"])


def _map_thinking(part: ThinkingPart, model: ModelInfo) -> dict[str, Any] | None:
    kind = _util.replay_thinking(part, _native_thinking(part, model))
    if kind == "redacted":
        return {"reasoningContent": {"redactedContent": part.signature}}
    if kind == "signed":
        return {"reasoningContent": {"reasoningText": {"text": part.text, "signature": part.signature}}}
    return {"text": part.text} if kind == "text" else None


class _Messages(_util.Turns):
    """Builds the ``system`` and ``messages`` of one request (see the module docstring)."""

    def __init__(self, model: ModelInfo) -> None:
        super().__init__()
        self.model = model
        self.docs = 0
        self.tool_names: dict[str, None] = {}

    def _add_results(self, blocks: list[dict[str, Any]]) -> None:
        """Tool results go first in a user turn (after the results already there, before any text)."""
        turn = self.turns[-1] if self.turns and self.turns[-1]["role"] == "user" else None
        if turn is None:
            self.add_blocks("user", blocks)
            return
        content = turn["content"]
        at = 0
        while at < len(content) and ("toolResult" in content[at] or "cachePoint" in content[at]):
            at += 1
        content[at:at] = blocks

    def _close_pending(self) -> None:
        self._add_results(
            [
                {"toolResult": {"toolUseId": cid, "content": [{"text": _util.MISSING_RESULT}], "status": "error"}}
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
            return map_image(part)
        if isinstance(part, AudioPart):
            return map_audio(part)
        if isinstance(part, DocumentPart):
            self.docs += 1
            return map_document(part, self.docs)
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
            self.add_blocks("user", [{"text": f"Result of tool {msg.name or call_id}: {msg.text}"}])
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
            self.add_blocks("user", self._cache([b for b in map(self._user_part, msg.parts) if b is not None], msg))
        else:
            self.add_blocks("assistant", self._cache([b for b in map(self._assistant_part, msg.parts) if b], msg))

    def finish(self) -> None:
        if self.pending:
            self._close_pending()

    @property
    def has_tool_blocks(self) -> bool:
        return any("toolUse" in b or "toolResult" in b for t in self.turns for b in t["content"])


# -- request: params, tools, reasoning ---------------------------------------------------------


def thinking_budget_of(model: ModelInfo, params: Mapping[str, Any]) -> int | None:
    """The Claude thinking budget asked for (None: thinking not requested; 0: disabled)."""
    if not is_claude(model):
        return None
    return _util.thinking_budget(params.get("reasoning_budget"), params.get("reasoning_effort"))


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
        out["stopSequences"] = _util.stop_list(stop)
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


def _map_extras(body: dict[str, Any], request: Request) -> None:
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


class Encoding(WireProtocol["ConverseStream"]):  # the state is the stream module's (imported for types only)
    """The request half of ``bedrock_converse``: path, history rules, body, tools and structured output."""

    @override
    def request_path(self, request: Request) -> str:
        return model_path(request.model.id) + ("/converse-stream" if request.stream else "/converse")

    @override
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        """Ids of ``[a-zA-Z0-9_.:-]{1,64}`` (``[a-zA-Z0-9_-]`` for Claude, which also verifies
        ``anthropic`` thinking signatures)."""
        if is_claude(model):
            return HandoffRules(tool_ids=BEDROCK_CLAUDE_IDS, verifies=frozenset({"amazon-bedrock", "anthropic"}))
        return HandoffRules(tool_ids=BEDROCK_IDS, verifies=frozenset({"amazon-bedrock"}))

    @override
    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """``seed`` and ``parallel_tool_calls`` (no Converse field); reasoning params a model family
        has no mapping for; while Claude thinks, ``temperature``, ``top_k`` and a ``top_p`` below 0.95."""
        out = [k for k in ("seed", "parallel_tool_calls") if k in params]
        claude = is_claude(model)
        if "reasoning_budget" in params and not claude:
            out.append("reasoning_budget")
        effort = params.get("reasoning_effort")
        if effort not in (None, "none") and not (claude or "nova-2" in model.id or "openai.gpt-oss" in model.id):
            out.append("reasoning_effort")
        return out + _util.refused_while_thinking(params) if thinking_budget_of(model, params) else out

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The JSON body.

        Raises:
            UnsupportedInput: the model's row refuses an input kind, or Converse cannot carry it (an
                http URL: Bedrock reads bytes and ``s3://`` only), before anything is sent.
            InvalidMessage: a part cannot be represented, or no message has content.
        """
        model, params = request.model, request.params
        check_inputs(model, request.messages, self.name, accepts=ACCEPTS, url_ok=s3_url)
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
        budget = thinking_budget_of(model, params)
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
        _map_extras(body, request)
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

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        """``toolSpec`` entries."""
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
