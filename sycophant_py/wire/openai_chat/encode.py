"""Request encoding for ``openai_chat``: our messages, tools and params to a chat-completions body.

``_Encoder`` maps messages for one model's compat flags; :class:`Encoding` (the request half of the
protocol class) assembles the body. Everything here is pure.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._exceptions import InvalidMessage, UnsupportedInput
from sycophant_py._handoff import HandoffRules, ToolIdRule, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._types import AudioPart, DocumentPart, ImagePart, Message, TextPart, Tool
from sycophant_py.wire._base import Request, WireProtocol
from sycophant_py.wire._media import check_inputs
from sycophant_py.wire._util import MISSING_RESULT, assistant_pieces, function_tool, is_strict_schema, stop_list

if TYPE_CHECKING:
    from sycophant_py.wire.openai_chat.stream import ChatStream

__all__ = ["MISTRAL_IDS", "OPENAI_CHAT_IDS", "Encoding"]


OPENAI_CHAT_IDS = ToolIdRule(
    max_length=64,
    source="OpenAI Chat Completions refuses a longer messages[].tool_calls[].id "
    "('string too long. Expected a string with maximum length 64'; 40 before 2026); the OpenAPI spec "
    "gives no limit",
)
"""Tool-call ids: at most 64 characters, any characters."""
MISTRAL_IDS = ToolIdRule(
    length=9,
    alphabet="a-zA-Z0-9",
    source="Mistral's 400 (and mistral-common's validator): 'Tool call id was ... but must be a-z, A-Z, "
    "0-9, with a length of 9'",
)
"""Tool-call ids with the ``requires_mistral_tool_ids`` compat flag: exactly 9 alphanumerics."""


_MAX_COMPLETION_PROVIDERS = frozenset({"openai", "azure", "github-copilot"})


_RULES = HandoffRules(tool_ids=OPENAI_CHAT_IDS, thinking_separator="\n\n")


_MISTRAL_RULES = HandoffRules(tool_ids=MISTRAL_IDS, thinking_separator="\n\n")


_ACCEPTS = frozenset({"image", "pdf", "document", "audio"})


def _url_ok(kind: str, url: str) -> bool:
    """Images go by URL; files and audio only as bytes (chat completions has no URL for them)."""
    return kind == "image"


def _audio(p: AudioPart) -> dict[str, Any]:
    """``input_audio``: base64 data in ``wav`` or ``mp3`` (what chat completions documents)."""
    fmt = p.format
    if fmt not in ("wav", "mp3") or p.data is None:
        raise UnsupportedInput(f"openai_chat takes wav or mp3 audio, not {p.media_type}", kind="audio")
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(p.data).decode("ascii"), "format": fmt}}


class _Encoder:
    """Turns our messages into chat-completions messages for one model's compat flags."""

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        compat = model.compat
        self.developer = bool(compat.get("supports_developer_role", model.provider == "openai")) and bool(
            model.reasoning
        )
        self.tool_name = bool(compat.get("requires_tool_result_name"))
        self.assistant_after_tool = bool(compat.get("requires_assistant_after_tool_result"))
        self.thinking_as_text = bool(compat.get("requires_thinking_as_text"))
        self.result_media: list[dict[str, Any]] = []  # tool results' attachments, sent after the results

    def messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        pending: dict[str, str] = {}  # tool-call id -> name, awaiting a result
        for msg in messages:
            if msg.role != "tool_result" and pending:
                self._synthetic_results(out, pending)
            if msg.role != "tool_result":
                self._flush_result_media(out)
            if msg.role == "system":
                out.append({"role": "developer" if self.developer else "system", "content": msg.text})
            elif msg.role == "user":
                if out and out[-1]["role"] == "tool" and self.assistant_after_tool:
                    out.append({"role": "assistant", "content": "I have processed the tool results."})
                out.append({"role": "user", "content": self.user_content(msg)})
            elif msg.role == "assistant":
                out.append(self.assistant(msg))
                pending = {tc.id: tc.name for tc in msg.tool_calls}
            else:
                name = pending.pop(msg.tool_call_id or "", None)
                out.append(self.tool_result(msg, name))
        if pending:
            self._synthetic_results(out, pending)
        self._flush_result_media(out)
        return out

    def _flush_result_media(self, out: list[dict[str, Any]]) -> None:
        """Tool messages carry text only: a tool result's images follow the results in a user message."""
        if not self.result_media:
            return
        if self.assistant_after_tool:
            out.append({"role": "assistant", "content": "I have processed the tool results."})
        out.append({"role": "user", "content": self.result_media})
        self.result_media = []

    def _synthetic_results(self, out: list[dict[str, Any]], pending: dict[str, str]) -> None:
        # A call left without a result would make the provider answer 400: tell the model instead.
        for call_id, name in pending.items():
            out.append(self.tool_result(Message.tool_result(call_id, MISSING_RESULT, name=name, is_error=True)))
        pending.clear()

    def user_content(self, msg: Message) -> str | list[dict[str, Any]]:
        if isinstance(msg.content, str):
            return msg.content
        parts: list[dict[str, Any]] = []
        for p in msg.content:
            if isinstance(p, TextPart):
                if p.text:  # an empty text part says nothing (a message left empty is sent as "")
                    parts.append({"type": "text", "text": p.text})
            elif isinstance(p, (ImagePart, DocumentPart, AudioPart)):
                parts.append(self.media(p))
            else:
                raise InvalidMessage(f"openai_chat: a user message cannot hold a {p.kind} part")
        return parts or ""

    def media(self, p: ImagePart | DocumentPart | AudioPart) -> dict[str, Any]:
        if isinstance(p, ImagePart):
            image: dict[str, Any] = {"url": p.data_url()}
            if p.detail:
                image["detail"] = p.detail
            return {"type": "image_url", "image_url": image}
        if isinstance(p, AudioPart):
            return _audio(p)
        return self.document(p)

    def document(self, p: DocumentPart) -> dict[str, Any]:
        if p.media_type.startswith("text/") and p.data is not None:
            return {"type": "text", "text": p.data.decode("utf-8", "replace")}
        if p.data is None:
            raise UnsupportedInput("openai_chat takes documents as bytes, not by URL (the library does not fetch URLs)")
        data = base64.b64encode(p.data).decode("ascii")
        return {
            "type": "file",
            "file": {"filename": p.name or "document.pdf", "file_data": f"data:{p.media_type};base64,{data}"},
        }

    def assistant(self, msg: Message) -> dict[str, Any]:
        answer, thinking, calls = assistant_pieces(msg, thinking=self.thinking_as_text)
        # Some servers (llama.cpp) refuse a null content next to tool calls; OpenAI takes either.
        empty = "" if self.model.compat.get("requires_content_string") else None
        if thinking:
            answer = "\n\n".join([*thinking, answer]) if answer else "\n\n".join(thinking)
        out: dict[str, Any] = {"role": "assistant", "content": answer if answer or not calls else empty}
        if calls:
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json or "{}"}}
                for c in calls
            ]
        return out

    def tool_result(self, msg: Message, call_name: str | None = None) -> dict[str, Any]:
        text = msg.text
        media = [self.media(p) for p in msg.parts if isinstance(p, (ImagePart, DocumentPart, AudioPart))]
        if media:
            # Tool messages carry text only: the attachments follow the tool results in a user message.
            label = f"Attachments of the result of tool call {msg.tool_call_id or '?'}"
            self.result_media += [{"type": "text", "text": f"{label}{f' ({msg.name})' if msg.name else ''}:"}, *media]
            note = f"[{len(media)} attachment(s) follow in the next user message]"
            text = f"{text}\n{note}" if text else note
        out: dict[str, Any] = {
            "role": "tool",
            "tool_call_id": msg.tool_call_id or "",
            "content": text,
        }
        name = msg.name or call_name
        if self.tool_name and name:
            out["name"] = name
        return out


def _map_params(body: dict[str, Any], params: Mapping[str, Any], model: ModelInfo, tools: bool) -> None:
    compat = model.compat
    for key in (
        "temperature",
        "top_p",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "user",
        "metadata",
        "service_tier",
        "verbosity",
        "response_format",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
    ):
        if key in params:
            body[key] = params[key]
    if "stop" in params:
        body["stop"] = stop_list(params["stop"])
    if "max_tokens" in params:
        default = "max_completion_tokens" if model.provider in _MAX_COMPLETION_PROVIDERS else "max_tokens"
        body[str(compat.get("max_tokens_field", default))] = params["max_tokens"]
    if "top_k" in params and compat.get("supports_top_k"):
        body["top_k"] = params["top_k"]
    if "store" in params and compat.get("supports_store", True):
        body["store"] = params["store"]
    _map_reasoning(body, params, compat)
    if tools:
        if "tool_choice" in params:
            body["tool_choice"] = _map_tool_choice(params["tool_choice"])
        if "parallel_tool_calls" in params:
            body["parallel_tool_calls"] = params["parallel_tool_calls"]
    if params.get("extra_body"):
        body.update(params["extra_body"])


def _map_reasoning(body: dict[str, Any], params: Mapping[str, Any], compat: Mapping[str, Any]) -> None:
    effort = params.get("reasoning_effort")
    fmt = compat.get("thinking_format", "openai")
    if fmt == "zai" and effort is not None:
        body["thinking"] = {"type": "disabled" if effort == "none" else "enabled"}
    elif fmt == "qwen" and effort is not None:
        body["enable_thinking"] = effort != "none"
    elif effort is not None and compat.get("supports_reasoning_effort", True):
        body["reasoning_effort"] = effort


def _map_tool_choice(choice: Any) -> Any:
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "function": {"name": choice}}
    return choice


class Encoding(WireProtocol["ChatStream"]):  # the state is the stream module's (imported for types only)
    """The request half of ``openai_chat``: path, history rules, body, tools and structured output."""

    @override
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        """Tool-call ids of at most 64 characters (exactly 9 alphanumerics with ``requires_mistral_tool_ids``)."""
        return _MISTRAL_RULES if model.compat.get("requires_mistral_tool_ids") else _RULES

    @override
    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """``reasoning_budget`` always; ``top_k``, ``store`` and ``reasoning_effort`` where the compat
        flags say the server takes none (``supports_top_k``, ``supports_store``, ``supports_reasoning_effort``)."""
        compat = model.compat
        out = ["reasoning_budget"] if "reasoning_budget" in params else []
        if "top_k" in params and not compat.get("supports_top_k"):
            out.append("top_k")
        if "store" in params and not compat.get("supports_store", True):
            out.append("store")
        fmt = compat.get("thinking_format", "openai")
        if "reasoning_effort" in params and fmt == "openai" and not compat.get("supports_reasoning_effort", True):
            out.append("reasoning_effort")
        return out

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The JSON body.

        Raises:
            UnsupportedInput: the model's row refuses an input kind, or the API cannot carry it (audio
                other than wav/mp3, documents by URL), before anything is sent.
            InvalidMessage: a part cannot be represented.
        """
        model = request.model
        check_inputs(model, request.messages, self.name, accepts=_ACCEPTS, url_ok=_url_ok)
        messages = prepare_history(request, self.handoff_rules(model))
        body: dict[str, Any] = {"model": model.id, "messages": _Encoder(model).messages(messages)}
        _map_params(body, request.params, model, bool(request.tools))
        if request.tools:
            body["tools"] = self.encode_tools(request.tools, model)
        schema = request.response_schema
        if schema is not None:
            if model.compat.get("response_format") == "json_object_schema":
                # llama.cpp servers: {"type": "json_object", "schema": ...} (llama-cpp-python knows no json_schema)
                body["response_format"] = {"type": "json_object", "schema": dict(schema)}
            else:
                body["response_format"] = self.encode_response_schema(schema, request.schema_name)
        if request.stream:
            body["stream"] = True
            if model.compat.get("supports_usage_in_streaming", True):
                body["stream_options"] = {"include_usage": True}
        return body

    @override
    def encode_tools(self, tools: Sequence[Tool], model: ModelInfo | None = None) -> list[dict[str, Any]]:
        """Function tools; strict where the tool says so, or for ``openai`` when the schema allows it."""
        openai = model is not None and model.provider == "openai"
        return [
            function_tool(t, strict=t.strict if t.strict is not None else openai and is_strict_schema(t.json_schema()))
            for t in tools
        ]

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        """A ``json_schema`` response format (strict when the schema meets the strict-mode rules)."""
        spec: dict[str, Any] = {"name": name, "schema": dict(schema)}
        if is_strict_schema(schema):
            spec["strict"] = True
        return {"type": "json_schema", "json_schema": spec}
