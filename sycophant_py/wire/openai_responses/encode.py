"""Request encoding for ``openai_responses``: our messages, tools and params to a ``/responses`` body.

* Leading system messages become ``instructions`` (joined with a blank line); a system message
  later in the conversation stays in ``input`` as a ``system`` message.
* User messages carry ``input_text`` / ``input_image`` / ``input_file`` parts (plain text stays a
  string); tool results become ``function_call_output`` items; assistant text becomes an
  assistant message, assistant tool calls ``function_call`` items (``call_id``, ``name``,
  ``arguments``). A call left without a result gets a synthetic error result, as in
  ``openai_chat`` (the API refuses a call with no output).
* Reasoning is replayed as ``reasoning`` items (id, summary or reasoning text, and
  ``encrypted_content`` from ``ThinkingPart.signature``) only when it came from this protocol
  (``provider_data["api"] == "openai_responses"``) and the same provider. The API insists that a
  replayed reasoning item is followed by the item that followed it originally, with its id, so an
  assistant turn's reasoning is replayed only when every reasoning item can be: it has an id, it
  can be resolved (encrypted content, reasoning text, or ``store`` not false) and it is followed by
  one of our function calls (sent with its ``fc_`` id) or by a message whose id the decoder
  recorded (``next_message_id``, sent as an ``output_text`` message with that id). Otherwise the
  turn's reasoning is left out and its items go without ids (item ids are only sent where a
  replayed reasoning item needs them). Thinking from another provider has been turned into text
  (or dropped) by ``prepare_history``; other thinking that cannot be replayed is left out.
* ``include: ["reasoning.encrypted_content"]`` is asked for when ``store`` is false and reasoning
  is on (``reasoning_effort`` other than ``none``, or a model the catalog marks as reasoning).
* Function tools always say ``strict`` (the API's default is true): the tool's own choice, else
  true exactly when the schema meets the strict-mode rules. Structured output is ``text.format``
  (a ``json_schema`` named after the schema, the name cut to the API's character set).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._exceptions import InvalidMessage
from sycophant_py._handoff import HandoffRules, ToolIdRule, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._types import DocumentPart, ImagePart, Message, Part, TextPart, ThinkingPart, Tool, ToolCall
from sycophant_py.wire._base import Request, WireProtocol
from sycophant_py.wire._media import check_inputs
from sycophant_py.wire._util import finish_body, is_strict_schema
from sycophant_py.wire.openai_responses.decode import API

if TYPE_CHECKING:
    from sycophant_py.wire.openai_responses.stream import ResponsesStream

__all__ = ["OPENAI_RESPONSES_IDS", "Encoding"]

OPENAI_RESPONSES_IDS = ToolIdRule(
    max_length=64,
    source="OpenAI OpenAPI spec 2.3.0, FunctionCallOutputItemParam.call_id: minLength 1, maxLength 64",
)
"""``call_id`` of 1 to 64 characters."""

_ENCRYPTED = "reasoning.encrypted_content"
_REASONING_PARAMS = (("effort", "reasoning_effort"), ("summary", "reasoning_summary"), ("context", "reasoning_context"))
_PLAIN_PARAMS = (
    "temperature",
    "top_p",
    "service_tier",
    "store",
    "previous_response_id",
    "truncation",
    "metadata",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "max_tool_calls",
    "top_logprobs",
)
_NO_RESULT = "Error: no result was provided for this tool call."
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")


def _ours(part: ThinkingPart | ToolCall, provider: str) -> bool:
    """True for a part this protocol decoded (and, for thinking, from the same provider)."""
    if (part.provider_data or {}).get("api") != API:
        return False
    return not isinstance(part, ThinkingPart) or part.provider in (None, provider)


def _pd(part: ThinkingPart | ToolCall) -> Mapping[str, Any]:
    return part.provider_data or {}


class _Encoder:
    """Turns our messages into ``instructions`` and ``input`` items for one request."""

    def __init__(self, model: ModelInfo, store: bool | None) -> None:
        self.provider = model.provider
        self.store = store

    def encode(self, messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
        instructions: list[str] = []
        items: list[dict[str, Any]] = []
        pending: dict[str, str] = {}  # call id -> tool name, awaiting a result
        leading = True
        for msg in messages:
            if msg.role != "tool_result" and pending:
                items.extend(self._no_results(pending))
            if msg.role == "system":
                if leading:
                    instructions.append(msg.text)
                else:
                    items.append({"role": "system", "content": msg.text})
                continue
            leading = False
            if msg.role == "user":
                items.append({"role": "user", "content": self.user_content(msg)})
            elif msg.role == "assistant":
                items.extend(self.assistant(msg))
                pending = {tc.id: tc.name for tc in msg.tool_calls}
            else:
                pending.pop(msg.tool_call_id or "", None)
                items.append(self.tool_result(msg))
        if pending:
            items.extend(self._no_results(pending))
        return ("\n\n".join(instructions) if instructions else None), items

    @staticmethod
    def _no_results(pending: dict[str, str]) -> list[dict[str, Any]]:
        # A call left without a result makes the API answer 400: tell the model instead.
        out = [{"type": "function_call_output", "call_id": call_id, "output": _NO_RESULT} for call_id in pending]
        pending.clear()
        return out

    def user_content(self, msg: Message) -> str | list[dict[str, Any]]:
        if isinstance(msg.content, str):
            return msg.content
        # An empty text part says nothing; a message left with no part is sent as "".
        return [self.input_part(p, "user message") for p in msg.content if not _empty_text(p)] or ""

    @staticmethod
    def input_part(p: Part, where: str) -> dict[str, Any]:
        if isinstance(p, TextPart):
            return {"type": "input_text", "text": p.text}
        if isinstance(p, ImagePart):
            return {"type": "input_image", "image_url": p.data_url(), "detail": p.detail or "auto"}
        if isinstance(p, DocumentPart):
            return _map_document(p)
        raise InvalidMessage(f"openai_responses: a {where} cannot hold a {p.kind} part")

    def tool_result(self, msg: Message) -> dict[str, Any]:
        output: str | list[dict[str, Any]]
        if isinstance(msg.content, str) or all(isinstance(p, TextPart) for p in msg.content):
            output = msg.text
        else:
            output = [self.input_part(p, "tool result") for p in msg.content if not _empty_text(p)]
        return {"type": "function_call_output", "call_id": msg.tool_call_id or "", "output": output}

    def _our_thinking(self, part: Part | None) -> bool:
        return isinstance(part, ThinkingPart) and _ours(part, self.provider)

    def replays_reasoning(self, parts: Sequence[Part]) -> bool:
        """True when the turn has reasoning items and every one can be sent back (module docstring)."""
        if not any(self._our_thinking(p) for p in parts):
            return False
        for i, p in enumerate(parts):
            if not isinstance(p, ThinkingPart) or not _ours(p, self.provider):
                continue
            pd = _pd(p)
            if not pd.get("item_id"):
                return False
            if not (p.signature or self.store is not False or pd.get("reasoning_content")):
                return False
            j = i + 1
            while j < len(parts) and self._our_thinking(parts[j]):
                j += 1  # a run of reasoning items is followed by what follows the last one
            follower, last = (parts[j] if j < len(parts) else None), parts[j - 1]
            if isinstance(follower, ToolCall) and _ours(follower, self.provider) and _pd(follower).get("item_id"):
                continue
            if isinstance(follower, TextPart) and isinstance(last, ThinkingPart) and _pd(last).get("next_message_id"):
                continue
            return False
        return True

    def assistant(self, msg: Message) -> list[dict[str, Any]]:
        parts = msg.parts
        replay = self.replays_reasoning(parts)
        items: list[dict[str, Any]] = []
        texts: list[str] = []
        message_id: str | None = None  # the id of the message that followed a replayed reasoning item

        def flush() -> None:
            nonlocal message_id
            text = "".join(texts)
            texts.clear()
            if text and message_id:
                items.append(
                    {
                        "type": "message",
                        "role": "assistant",
                        "id": message_id,
                        "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
                    }
                )
            elif text:
                items.append({"role": "assistant", "content": text})
            message_id = None

        for p in parts:
            if isinstance(p, TextPart):
                texts.append(p.text)
                continue
            flush()
            if isinstance(p, ThinkingPart):
                if replay and _ours(p, self.provider):
                    items.append(_map_reasoning(p))
                    message_id = _pd(p).get("next_message_id")
            elif isinstance(p, ToolCall):
                items.append(_map_function_call(p, with_id=replay and _ours(p, self.provider)))
            else:
                raise InvalidMessage(f"openai_responses: an assistant message cannot hold a {p.kind} part")
        flush()
        return items


def _empty_text(p: Part) -> bool:
    return isinstance(p, TextPart) and not p.text


def _url_ok(kind: str, url: str) -> bool:
    """Images (``image_url``) and files (``file_url``) may be URLs the API fetches."""
    return True


def _map_document(p: DocumentPart) -> dict[str, Any]:
    if p.media_type.startswith("text/") and p.data is not None:
        return {"type": "input_text", "text": p.data.decode("utf-8", "replace")}
    if p.data is None:
        return {"type": "input_file", "file_url": p.url}
    data = base64.b64encode(p.data).decode("ascii")
    return {
        "type": "input_file",
        "filename": p.name or "document.pdf",
        "file_data": f"data:{p.media_type};base64,{data}",
    }


def _map_reasoning(p: ThinkingPart) -> dict[str, Any]:
    pd = _pd(p)
    item: dict[str, Any] = {"type": "reasoning", "id": pd["item_id"], "summary": []}
    if pd.get("reasoning_content"):
        item["content"] = [{"type": "reasoning_text", "text": p.text}]
    else:
        texts = pd.get("summary_parts") or ([p.text] if p.text else [])
        item["summary"] = [{"type": "summary_text", "text": t} for t in texts]
    if p.signature:
        item["encrypted_content"] = p.signature
    return item


def _map_function_call(tc: ToolCall, *, with_id: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "function_call",
        "call_id": tc.id,
        "name": tc.name,
        "arguments": tc.arguments_json or "{}",
    }
    if with_id and _pd(tc).get("item_id"):
        item["id"] = _pd(tc)["item_id"]
    return item


def _map_response_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    """A chat-style ``response_format`` as a Responses ``text.format``."""
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), Mapping):
        return {"type": "json_schema", **fmt["json_schema"]}
    return dict(fmt)


def _map_params(body: dict[str, Any], params: Mapping[str, Any], model: ModelInfo) -> None:
    for key in _PLAIN_PARAMS:
        if key in params:
            body[key] = params[key]
    if "max_tokens" in params:
        body["max_output_tokens"] = params["max_tokens"]
    reasoning = {field: params[param] for field, param in _REASONING_PARAMS if params.get(param) is not None}
    if reasoning:
        body["reasoning"] = reasoning
    effort = params.get("reasoning_effort")
    include = list(params.get("include") or ())
    reasoning_on = effort not in (None, "none") or (effort is None and bool(model.reasoning))
    if params.get("store") is False and reasoning_on and _ENCRYPTED not in include:
        include.append(_ENCRYPTED)
    if include:
        body["include"] = include


def _map_tool_params(body: dict[str, Any], params: Mapping[str, Any]) -> None:
    choice = params.get("tool_choice")
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        choice = {"type": "function", "name": choice}
    if choice is not None:
        body["tool_choice"] = choice
    if "parallel_tool_calls" in params:
        body["parallel_tool_calls"] = params["parallel_tool_calls"]


class Encoding(WireProtocol["ResponsesStream"]):  # the state is the stream module's (imported for types only)
    """The request half of ``openai_responses``: path, history rules, body, tools and structured output."""

    @override
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        """``call_id`` of 1 to 64 characters (the spec's ``FunctionCallOutputItemParam.call_id``)."""
        return HandoffRules(tool_ids=OPENAI_RESPONSES_IDS, thinking_separator="\n\n")

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The ``/responses`` body of a request.

        Raises:
            UnsupportedInput: the model's row refuses an input kind, or it is audio (the Responses API
                takes none), before anything is sent.
        """
        model, params = request.model, request.params
        check_inputs(model, request.messages, self.name, accepts=("image", "pdf", "document"), url_ok=_url_ok)
        messages = prepare_history(request, self.handoff_rules(model))
        instructions, items = _Encoder(model, params.get("store")).encode(messages)
        body: dict[str, Any] = {"model": model.id}
        if instructions is not None:
            body["instructions"] = instructions
        body["input"] = items
        _map_params(body, params, model)
        if request.tools:
            body["tools"] = self.encode_tools(request.tools)
            _map_tool_params(body, params)
        text = self._text(request)
        if text:
            body["text"] = text
        return finish_body(body, request.stream, params)

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        """Function tools; ``strict`` is always sent (the Responses API defaults it to true)."""
        out = []
        for t in tools:
            schema = t.json_schema()
            tool: dict[str, Any] = {"type": "function", "name": t.name}
            if t.description:
                tool["description"] = t.description
            tool["parameters"] = schema
            tool["strict"] = t.strict if t.strict is not None else is_strict_schema(schema)
            out.append(tool)
        return out

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        """A ``text.format`` of type ``json_schema`` (strict when the schema allows it)."""
        safe = _SCHEMA_NAME.sub("_", name)[:64] or "response"
        return {"type": "json_schema", "name": safe, "schema": dict(schema), "strict": is_strict_schema(schema)}

    def _text(self, request: Request) -> dict[str, Any]:
        params = request.params
        text: dict[str, Any] = {}
        if request.response_schema is not None:
            text["format"] = self.encode_response_schema(request.response_schema, request.schema_name)
        elif params.get("response_format"):
            text["format"] = _map_response_format(params["response_format"])
        if "verbosity" in params:
            text["verbosity"] = params["verbosity"]
        return text
