"""Request encoding for ``anthropic_messages``: our messages, tools and params to a Messages body.

``_map_*`` functions turn the library's types into payload fragments; :class:`Encoding` (the request
half of the protocol class) assembles them. Everything here is pure.

Message rules (what the Messages API requires):

* System messages go to the top-level ``system`` (a string, or text blocks when there are several
  or one asks for caching). For a model whose ``compat`` has ``supports_inline_system``, a system
  message after the first turn stays where it is, as a ``{"role": "system"}`` turn (never between
  a tool call and its result); other models get every system message at the top.
* Tool results are ``tool_result`` blocks in a **user** turn; consecutive turns of one role are
  merged into one turn (tool results stay first in it). A tool call left without a result gets a
  synthetic error result, since the API refuses a ``tool_use`` with no answer; a result whose
  call is not in the assistant turn just before it (a trimmed history) is sent as text, since the
  API refuses that too.
* The conversation first goes through ``prepare_history`` with :func:`handoff_rules`: tool-call ids
  that do not match ``^[a-zA-Z0-9_-]{1,64}$`` are rewritten stably (in the call and in its
  result), failed turns are left out, and thinking from another provider becomes text (or is
  dropped) without its signature.
* Thinking is replayed as a ``thinking`` block (with its signature) or ``redacted_thinking``
  block only when it came from this provider or from ``anthropic`` and carries a signature;
  other thinking is sent as plain text, and opaque thinking from elsewhere is dropped.
* ``Message.cache=True`` puts ``cache_control: {"type": "ephemeral"}`` on the last block of that
  message (never on a thinking block, which the API forbids).
* Empty and whitespace-only text blocks are left out (the API refuses them), a turn left empty is
  dropped, and a conversation left with no turn raises ``InvalidMessage`` before sending. A final
  assistant turn (a prefill) loses its trailing whitespace, which the API refuses too.
* Images and PDFs go as base64 or URL sources, text documents as text sources; audio and other
  documents raise ``UnsupportedInput`` (as does an input the model's catalog row refuses).
* Thinking is not asked for when the conversation ends inside a tool-use turn whose assistant
  message does not start with a thinking block (a loop begun on another provider or without
  thinking): the API keeps one thinking configuration per turn and refuses that request.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._exceptions import InvalidMessage
from sycophant_py._handoff import HandoffRules, ToolIdRule, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._types import DocumentPart, ImagePart, Message, Part, TextPart, ThinkingPart, Tool, ToolCall
from sycophant_py.wire import _util
from sycophant_py.wire._base import Request, WireProtocol
from sycophant_py.wire._media import check_inputs, is_blank

if TYPE_CHECKING:
    from sycophant_py.wire.anthropic_messages.stream import AnthropicStream

__all__ = [
    "ANTHROPIC_IDS",
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "PROTOCOL_MARK",
    "Encoding",
    "is_thinking",
    "map_messages",
    "map_tool_choice",
    "tool_id",
]

ANTHROPIC_IDS = ToolIdRule(
    max_length=64,
    alphabet="a-zA-Z0-9_-",
    source="Messages API validation: tool_use.id must match ^[a-zA-Z0-9_-]+$ (its 400 message); "
    "64 characters kept as the cap Bedrock documents for the same models",
)
"""Tool-call ids: ``^[a-zA-Z0-9_-]+$``, at most 64 characters."""
ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` every request carries (the one API version there is)."""
DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when neither the caller nor the catalog gives one (the API requires a value)."""
PROTOCOL_MARK: dict[str, str] = {"protocol": "anthropic_messages"}
"""``provider_data`` of thinking decoded by this protocol (its signature is in Anthropic's format)."""

_CACHE: dict[str, str] = {"type": "ephemeral"}
_THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})


def tool_id(raw: str) -> str:
    """A tool-call id the API accepts: ``raw`` itself when valid, else a stable rewrite of it
    (``ANTHROPIC_IDS``; inside a conversation ``prepare_history`` also keeps ids unique)."""
    return ANTHROPIC_IDS.fit(raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _map_image(part: ImagePart) -> dict[str, Any]:
    source: dict[str, Any]
    if part.data is not None:
        source = {"type": "base64", "media_type": part.media_type, "data": _b64(part.data)}
    else:
        source = {"type": "url", "url": part.url}
    return {"type": "image", "source": source}


def _map_document(part: DocumentPart) -> dict[str, Any]:
    if part.data is None:
        source: dict[str, Any] = {"type": "url", "url": part.url}
    elif part.media_type == "application/pdf":
        source = {"type": "base64", "media_type": "application/pdf", "data": _b64(part.data)}
    elif part.media_type.startswith("text/"):
        source = {"type": "text", "media_type": "text/plain", "data": part.data.decode("utf-8", "replace")}
    else:
        raise InvalidMessage(f"anthropic_messages: documents must be PDF or text, not {part.media_type!r}")
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.name:
        block["title"] = part.name
    return block


def _map_user_part(part: Part) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return None if is_blank(part.text) else _text_block(part.text)
    if isinstance(part, ImagePart):
        return _map_image(part)
    if isinstance(part, DocumentPart):
        return _map_document(part)
    raise InvalidMessage(f"anthropic_messages: a user message cannot hold a {part.kind} part")


def _is_native(part: ThinkingPart, model: ModelInfo) -> bool:
    """True when the thinking's signature can be verified by this provider."""
    if part.provider is not None:
        return part.provider in ("anthropic", model.provider)
    return dict(part.provider_data or {}).get("protocol") == PROTOCOL_MARK["protocol"]


def _map_thinking(part: ThinkingPart, model: ModelInfo) -> dict[str, Any] | None:
    kind = _util.replay_thinking(part, _is_native(part, model))
    if kind == "redacted":
        return {"type": "redacted_thinking", "data": part.signature}
    if kind == "signed":
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    return _text_block(part.text) if kind == "text" else None


def _map_assistant_part(part: Part, model: ModelInfo) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return None if is_blank(part.text) else _text_block(part.text)
    if isinstance(part, ThinkingPart):
        return _map_thinking(part, model)
    if isinstance(part, ToolCall):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": dict(part.arguments)}
    raise InvalidMessage(f"anthropic_messages: an assistant message cannot hold a {part.kind} part")


def _map_tool_result(msg: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": msg.tool_call_id or ""}
    parts = msg.parts
    if all(isinstance(p, TextPart) for p in parts):
        if not is_blank(msg.text):
            block["content"] = msg.text
    else:
        content = [b for b in (_map_user_part(p) for p in parts) if b is not None]
        if content:
            block["content"] = content
    if msg.is_error:
        block["is_error"] = True
    return block


def _orphan_result(msg: Message) -> list[dict[str, Any]]:
    label = f"[Result of tool {msg.name or msg.tool_call_id or '?'}{' (error)' if msg.is_error else ''}]"
    blocks = [b for b in (_map_user_part(p) for p in msg.parts) if b is not None]
    return [_text_block(label), *blocks]


def _mark_cache(blocks: list[dict[str, Any]]) -> None:
    for block in reversed(blocks):
        if block["type"] not in _THINKING_TYPES:
            block["cache_control"] = dict(_CACHE)
            return


class _Turns(_util.Turns):
    """The conversation being built: turns of alternating roles, blocks merged per role."""

    def __init__(self, model: ModelInfo) -> None:
        super().__init__()
        self.model = model
        self.answerable: set[str] = set()  # ids of the calls a tool result may answer now
        self.inline_system = bool(model.compat.get("supports_inline_system"))
        self.deferred: list[dict[str, Any]] = []  # inline system blocks waiting for tool results

    def add(self, role: str, blocks: list[dict[str, Any]], cache: bool) -> None:
        if not blocks:
            return
        if cache:
            _mark_cache(blocks)
        self.add_blocks(role, blocks)

    def flush_pending(self) -> None:
        # A call left without a result would make the API answer 400: tell the model instead.
        results = [
            _map_tool_result(Message.tool_result(call_id, _util.MISSING_RESULT, name=name, is_error=True))
            for call_id, name in self.pending.items()
        ]
        self.pending.clear()
        self.add("user", results, cache=False)

    def system_message(self, msg: Message) -> None:
        if is_blank(msg.text):
            return
        blocks = [_text_block(msg.text)]
        if msg.cache:
            _mark_cache(blocks)
        if not (self.inline_system and self.turns):
            self.system.extend(blocks)
        elif self.pending:
            self.deferred.extend(blocks)  # never between a tool call and its result
        else:
            self.add("system", blocks, cache=False)

    def flush(self) -> None:
        """Before a message that is not a tool result: close the open tool calls, then deferred system text."""
        if self.pending:
            self.flush_pending()
        self.answerable = set()
        if self.deferred:
            self.add("system", self.deferred, cache=False)
            self.deferred = []

    def message(self, msg: Message) -> None:
        if msg.role == "system":
            self.system_message(msg)
            return
        if msg.role != "tool_result":
            self.flush()
        if msg.role == "user":
            blocks = [b for b in (_map_user_part(p) for p in msg.parts) if b is not None]
            self.add("user", blocks, msg.cache)
        elif msg.role == "assistant":
            blocks = [b for b in (_map_assistant_part(p, self.model) for p in msg.parts) if b is not None]
            self.add("assistant", blocks, msg.cache)
            self.pending = {tc.id: tc.name for tc in msg.tool_calls}
            self.answerable = set(self.pending)
        elif (msg.tool_call_id or "") in self.answerable:
            self.pending.pop(msg.tool_call_id or "", None)
            self.add("user", [_map_tool_result(msg)], msg.cache)
        else:
            self.add("user", _orphan_result(msg), msg.cache)


def _trim_final_assistant(turns: list[dict[str, Any]]) -> None:
    """The API refuses a final assistant turn (a prefill) ending in whitespace: trim it."""
    if not turns or turns[-1]["role"] != "assistant":
        return
    last = turns[-1]["content"][-1]
    if last.get("type") == "text":
        last["text"] = last["text"].rstrip()


def _compact(turn: dict[str, Any]) -> dict[str, Any]:
    """A turn whose only block is plain text is sent in the API's string shorthand."""
    blocks = turn["content"]
    if len(blocks) == 1 and set(blocks[0]) == {"type", "text"} and blocks[0]["type"] == "text":
        return {"role": turn["role"], "content": blocks[0]["text"]}
    return turn


def map_messages(
    messages: Sequence[Message], model: ModelInfo
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """Encode a conversation.

    Returns:
        ``(system, messages)``: ``system`` is None without a system prompt, a string for one
        plain system message, else a list of text blocks.

    Raises:
        InvalidMessage: a part cannot be sent to the Messages API, or no message has content.
    """
    turns = _Turns(model)
    for msg in messages:
        turns.message(msg)
    turns.flush()
    if not turns.turns:
        raise InvalidMessage(
            "anthropic_messages: nothing to send: the conversation has no message with content "
            "(empty and whitespace-only text is left out, since the API refuses it)"
        )
    _trim_final_assistant(turns.turns)
    system: str | list[dict[str, Any]] | None = turns.system or None
    if turns.system and len(turns.system) == 1 and "cache_control" not in turns.system[0]:
        system = turns.system[0]["text"]
    return system, [_compact(t) for t in turns.turns]


def map_tool_choice(choice: Any) -> dict[str, Any]:
    """``auto`` / ``none`` / ``required`` (or ``any``) / a tool name / a raw dict to ``tool_choice``."""
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice in ("auto", "none", "any"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": str(choice)}


# -- params ---------------------------------------------------------------------------------


def _thinking(params: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = params.get("thinking")
    if raw is not None:
        return dict(raw)
    budget = _util.thinking_budget(params.get("reasoning_budget"), params.get("reasoning_effort"))
    if budget is None:
        return None
    return {"type": "enabled", "budget_tokens": budget} if budget else {"type": "disabled"}


def _max_tokens(params: Mapping[str, Any], model: ModelInfo, thinking: dict[str, Any] | None) -> int:
    """The caller's value, else the catalog's, else 4096; raised above the thinking budget."""
    value = int(params.get("max_tokens") or model.max_tokens or DEFAULT_MAX_TOKENS)
    budget = thinking.get("budget_tokens") if thinking and thinking.get("type") == "enabled" else None
    if not isinstance(budget, int) or value > budget + _util.MIN_THINKING_BUDGET:
        return value
    # The budget counts toward max_tokens: keep room for the answer itself.
    raised = budget + min(value, DEFAULT_MAX_TOKENS)
    if model.max_tokens and raised > model.max_tokens:
        raised = model.max_tokens
        if thinking is not None and "thinking" not in params:
            thinking["budget_tokens"] = max(_util.MIN_THINKING_BUDGET, raised - _util.MIN_THINKING_BUDGET)
    return raised


def _sampling(body: dict[str, Any], params: Mapping[str, Any], thinking_on: bool) -> None:
    # With thinking on, the API accepts no temperature other than 1, no top_k, and top_p >= 0.95.
    if "temperature" in params and not thinking_on:
        body["temperature"] = params["temperature"]
    if "top_k" in params and not thinking_on:
        body["top_k"] = params["top_k"]
    if "top_p" in params and (not thinking_on or params["top_p"] >= 0.95):
        body["top_p"] = params["top_p"]
    if "stop" in params:
        body["stop_sequences"] = _util.stop_list(params["stop"])


def _metadata(params: Mapping[str, Any]) -> dict[str, Any] | None:
    meta: dict[str, Any] = dict(params.get("metadata") or {})
    if params.get("user"):
        meta["user_id"] = params["user"]
    return meta or None


def _tool_choice(params: Mapping[str, Any], forced: dict[str, Any] | None, thinking_on: bool) -> dict[str, Any] | None:
    choice: dict[str, Any] | None = None
    if forced is not None:
        # The API refuses a forced tool while thinking; the model is then asked, not forced.
        choice = {"type": "auto"} if thinking_on else dict(forced)
    elif "tool_choice" in params:
        choice = map_tool_choice(params["tool_choice"])
    if params.get("parallel_tool_calls") is False and (choice is None or choice.get("type") != "none"):
        choice = {"type": "auto", **(choice or {}), "disable_parallel_tool_use": True}
    return choice


def _url_ok(kind: str, url: str) -> bool:
    """Images and PDFs may be URLs the API fetches (``source.type: url``)."""
    return True


def is_thinking(params: Mapping[str, Any]) -> bool:
    """True when the params switch extended thinking on (sampling params are then restricted)."""
    thinking = _thinking(params)
    return thinking is not None and thinking.get("type") != "disabled"


def _open_turn_unthought(turns: list[dict[str, Any]]) -> bool:
    """True when the conversation ends inside a tool-use turn that does not start with thinking.

    A tool-use loop is one assistant turn with one thinking configuration: with thinking on, the
    API refuses a last assistant message (before the final tool results) that does not start with
    a ``thinking`` block, as when the loop began on another provider or with thinking off. Such a
    request is sent without thinking; the next turn thinks again.
    """
    if len(turns) < 2 or turns[-1]["role"] != "user" or turns[-2]["role"] != "assistant":
        return False
    results = turns[-1]["content"]
    if isinstance(results, str) or not any(b.get("type") == "tool_result" for b in results):
        return False
    blocks = turns[-2]["content"]
    return isinstance(blocks, str) or not blocks or blocks[0].get("type") not in _THINKING_TYPES


def _has_header(request: Request, name: str) -> bool:
    return any(k.lower() == name for k in request.model.headers)


class Encoding(WireProtocol["AnthropicStream"]):  # the state is the stream module's (imported for types only)
    """The request half of ``anthropic_messages``: path, headers, history rules, body, tools and the
    forced tool of structured output."""

    @override
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        """Ids of ``^[a-zA-Z0-9_-]{1,64}$``; thinking signatures of this provider (and ``anthropic``)."""
        return HandoffRules(tool_ids=ANTHROPIC_IDS, verifies=frozenset({"anthropic"}))

    @override
    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """``seed`` (no Anthropic equivalent); while thinking, ``temperature``, ``top_k`` and a ``top_p``
        below 0.95 (the API refuses them then)."""
        out = ["seed"] if "seed" in params else []
        return out + _util.refused_while_thinking(params) if is_thinking(params) else out

    @override
    def request_headers(self, request: Request) -> dict[str, str]:
        """Headers a request needs beyond auth: ``anthropic-version`` (unless the provider's headers
        set it) and ``anthropic-beta`` from the ``anthropic_beta`` param.

        Args:
            request: The request being sent.

        Returns:
            Header names (lower case) and values.
        """
        out = {} if _has_header(request, "anthropic-version") else {"anthropic-version": ANTHROPIC_VERSION}
        betas = request.params.get("anthropic_beta") or ()
        if betas:
            out["anthropic-beta"] = ",".join(dict.fromkeys(betas))
        return out

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The complete JSON body of one Messages request (see the module docstring for the rules).

        Raises:
            UnsupportedInput: the model's row refuses an input kind, or the API cannot carry it (audio,
                documents other than PDF and text), before anything is sent.
            InvalidMessage: a part cannot be sent, or no message has content.
        """
        model, params = request.model, request.params
        check_inputs(model, request.messages, self.name, accepts=("image", "pdf"), url_ok=_url_ok)
        system, turns = map_messages(prepare_history(request, self.handoff_rules(model)), model)
        thinking = _thinking(params)
        if thinking is not None and thinking.get("type") != "disabled" and _open_turn_unthought(turns):
            thinking = None
        thinking_on = thinking is not None and thinking.get("type") != "disabled"
        body: dict[str, Any] = {"model": model.id, "max_tokens": _max_tokens(params, model, thinking)}
        if system is not None:
            body["system"] = system
        body["messages"] = turns
        if thinking is not None:
            body["thinking"] = thinking
        _sampling(body, params, thinking_on)
        meta = _metadata(params)
        if meta:
            body["metadata"] = meta
        if "service_tier" in params:
            body["service_tier"] = params["service_tier"]
        tool_defs = self.encode_tools(request.tools)
        forced: dict[str, Any] | None = None
        if request.response_schema is not None:
            fragment = self.encode_response_schema(request.response_schema, request.schema_name)
            tool_defs.extend(fragment["tools"])
            forced = fragment["tool_choice"]
        if tool_defs:
            body["tools"] = tool_defs
            choice = _tool_choice(params, forced, thinking_on)
            if choice is not None:
                body["tool_choice"] = choice
        return _util.finish_body(body, request.stream, params)

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        """Tool definitions: ``name``, ``description`` and the JSON Schema as ``input_schema``."""
        out: list[dict[str, Any]] = []
        for t in tools:
            tool: dict[str, Any] = {"name": t.name, "input_schema": t.json_schema()}
            if t.description:
                tool["description"] = t.description
            if t.strict:
                tool["strict"] = True
            out.append(tool)
        return out

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        """Structured output as a forced tool whose input is the answer (``name`` is the tool name)."""
        tool = {
            "name": name,
            "description": "Respond with the final answer as this tool's input, following its schema exactly.",
            "input_schema": dict(schema),
        }
        return {"tools": [tool], "tool_choice": {"type": "tool", "name": name}}
