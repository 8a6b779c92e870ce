"""Request encoding for ``google_gemini``: our messages to ``systemInstruction`` + ``contents``, tools
to ``functionDeclarations``, params to ``generationConfig`` (with its ``thinkingConfig``)."""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._exceptions import InvalidMessage
from sycophant_py._handoff import ANY_IDS, HandoffRules, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._types import AudioPart, DocumentPart, ImagePart, Message, TextPart, ThinkingPart, Tool, ToolCall
from sycophant_py.wire._base import Request, WireProtocol
from sycophant_py.wire._media import check_inputs
from sycophant_py.wire._util import MISSING_RESULT, finish_body, stop_list
from sycophant_py.wire.google_gemini.schema import to_gemini_schema

if TYPE_CHECKING:
    from sycophant_py.wire.google_gemini.stream import GeminiStream

__all__ = ["MARK", "SKIP_SIGNATURE", "Encoder", "Encoding", "handoff_rules", "model_family", "thinking_config"]


SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented placeholder signature for function calls that did not come from Gemini."""
MARK = "gemini"  # provider_data key of the thinking parts this protocol creates
_BUDGETS = {"none": 0, "minimal": 512, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}
_LEVELS = {"none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH"}
_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def _version(model: ModelInfo) -> tuple[int, int] | None:
    m = _VERSION.search(model.id)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def model_family(model_id: str) -> str | None:
    """``gemini-<major>`` of a Gemini model id (None for another id): thought signatures of one
    generation are refused by another, so thinking from another family is replayed as text."""
    m = _VERSION.search(model_id)
    return f"gemini-{m.group(1)}" if m else None


def handoff_rules(model: ModelInfo) -> HandoffRules:
    """Any id (ids are sent only for calls Gemini made; results are matched by name and order);
    signatures only within the Gemini generation of ``model``."""
    return HandoffRules(tool_ids=ANY_IDS, family=model_family)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _media_part(p: ImagePart | DocumentPart | AudioPart) -> dict[str, Any]:
    """Bytes as ``inlineData``; a URL (a Files API or ``gs://`` URI) as ``fileData``."""
    if p.data is not None:
        return {"inlineData": {"mimeType": p.media_type, "data": _b64(p.data)}}
    url = p.url or ""
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
    return {"fileData": {"mimeType": guessed or p.media_type, "fileUri": url}}


class Encoder:
    """Turns our messages into ``systemInstruction`` + ``contents`` for one model."""

    def __init__(self, model: ModelInfo) -> None:
        self.provider = model.provider
        flag = model.compat.get("thought_signature_required")
        version = _version(model)
        self.placeholder = bool(flag) if flag is not None else bool(version and version[0] >= 3)
        self.names: dict[str, str] = {}  # tool-call id -> tool name
        self.gemini_ids: dict[str, str] = {}  # tool-call id -> the id Gemini gave it

    def encode(self, messages: Sequence[Message]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        system: list[dict[str, Any]] = []
        contents: list[dict[str, Any]] = []
        pending: dict[str, str] = {}  # calls of the last model turn still waiting for a result
        for msg in messages:
            if msg.role != "tool_result" and pending:
                self._missing_results(contents, pending)
            if msg.role == "system":
                if msg.text:
                    system.append({"text": msg.text})
            elif msg.role == "user":
                _add(contents, "user", self.user_parts(msg))
            elif msg.role == "assistant":
                _add(contents, "model", self.model_parts(msg))
                pending = {tc.id: tc.name for tc in msg.tool_calls}
            else:
                pending.pop(msg.tool_call_id or "", None)
                _add(contents, "user", self.result_parts(msg))
        if pending:
            self._missing_results(contents, pending)
        return ({"parts": system} if system else None), contents

    def _missing_results(self, contents: list[dict[str, Any]], pending: dict[str, str]) -> None:
        # Gemini wants one functionResponse per functionCall of the turn: tell the model instead of a 400.
        for call_id, name in pending.items():
            msg = Message.tool_result(call_id, MISSING_RESULT, name=name, is_error=True)
            _add(contents, "user", self.result_parts(msg))
        pending.clear()

    def user_parts(self, msg: Message) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in msg.parts:
            if isinstance(p, TextPart):
                if p.text:
                    out.append({"text": p.text})
            elif isinstance(p, (ImagePart, DocumentPart, AudioPart)):
                out.append(_media_part(p))
            else:
                raise InvalidMessage(f"google_gemini: a user message cannot hold a {p.kind} part")
        return out

    def model_parts(self, msg: Message) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in msg.parts:
            if isinstance(p, TextPart):
                if p.text:
                    out.append({"text": p.text})
            elif isinstance(p, ThinkingPart):
                self._thinking(out, p)
            elif isinstance(p, ToolCall):
                out.append(self._call(p))
            else:
                out.append(_media_part(p))
        calls = [part for part in out if "functionCall" in part]
        if self.placeholder and calls and "thoughtSignature" not in calls[0]:
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE
        return out

    def _call(self, tc: ToolCall) -> dict[str, Any]:
        data = tc.provider_data or {}
        self.names[tc.id] = tc.name
        fc: dict[str, Any] = {"name": tc.name, "args": dict(tc.arguments)}
        if data.get("gemini_id") == tc.id:
            fc["id"] = tc.id
            self.gemini_ids[tc.id] = tc.id
        part: dict[str, Any] = {"functionCall": fc}
        sig = data.get("thought_signature")
        if isinstance(sig, str) and sig:
            part["thoughtSignature"] = sig
        return part

    def _thinking(self, out: list[dict[str, Any]], p: ThinkingPart) -> None:
        data = p.provider_data or {}
        kind = data.get(MARK)
        if kind is None or p.provider not in (None, self.provider):
            if p.text and not p.redacted:  # another provider's reasoning: plain text, never a signature
                out.append({"text": p.text})
            return
        raw = data.get("part")
        if kind == "part" and isinstance(raw, Mapping):
            out.append(json.loads(json.dumps(raw)))
        elif kind == "text_signature" and p.signature:
            last = out[-1] if out else None
            if last is not None and "text" in last and not last.get("thought") and "thoughtSignature" not in last:
                last["thoughtSignature"] = p.signature
            else:
                out.append({"text": "", "thoughtSignature": p.signature})
        elif kind == "thought":
            part: dict[str, Any] = {"text": p.text, "thought": True}
            if p.signature:
                part["thoughtSignature"] = p.signature
            if p.text or p.signature:
                out.append(part)

    def result_parts(self, msg: Message) -> list[dict[str, Any]]:
        call_id = msg.tool_call_id or ""
        name = msg.name or self.names.get(call_id)
        if not name:
            raise InvalidMessage(
                f"google_gemini: the tool result for call {call_id!r} needs the tool name "
                "(Message.tool_result(..., name=...)): Gemini matches results by name"
            )
        fr: dict[str, Any] = {"name": name, "response": {"error" if msg.is_error else "result": msg.text}}
        if call_id in self.gemini_ids:
            fr["id"] = self.gemini_ids[call_id]
        out: list[dict[str, Any]] = [{"functionResponse": fr}]
        out.extend(_media_part(p) for p in msg.parts if isinstance(p, (ImagePart, DocumentPart, AudioPart)))
        return out


def _has_results(parts: list[dict[str, Any]]) -> bool:
    return any("functionResponse" in p for p in parts)


def _add(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    # Function responses of one turn share a content; they are never mixed with plain user turns
    # (recorded traffic never does; consecutive contents of one role are accepted).
    if not parts:
        return
    if contents and contents[-1]["role"] == role and _has_results(contents[-1]["parts"]) == _has_results(parts):
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def thinking_config(params: Mapping[str, Any], model: ModelInfo) -> dict[str, Any] | None:
    """``thinkingConfig``: a budget, or a level on Gemini 3+ (compat ``thinking_format``); thoughts included when on."""
    budget, effort = params.get("reasoning_budget"), params.get("reasoning_effort")
    level, include = params.get("thinking_level"), params.get("include_thoughts")
    fmt = model.compat.get("thinking_format")
    version = _version(model)
    levels = fmt == "level" if fmt is not None else bool(version and version[0] >= 3)
    pro = "pro" in model.id
    cfg: dict[str, Any] = {}
    on = False
    if budget is not None:
        cfg["thinkingBudget"], on = budget, budget != 0
    elif level is not None:
        cfg["thinkingLevel"], on = level.upper(), True
    elif effort is not None:
        on = effort != "none"
        if levels:
            value = _LEVELS[effort]
            cfg["thinkingLevel"] = "LOW" if value == "MINIMAL" and pro else value
        else:  # 2.5 Pro cannot switch thinking off (its least budget is 128); Flash tops out at 24576
            cfg["thinkingBudget"] = max(_BUDGETS[effort], 128) if pro else min(_BUDGETS[effort], 24576)
    if include is not None:
        cfg["includeThoughts"] = include
    elif on:
        cfg["includeThoughts"] = True
    return cfg or None


_ACCEPTS = frozenset({"image", "pdf", "document", "audio"})


def _url_ok(kind: str, url: str) -> bool:
    """Any input may be a file URI (``fileData``): a Files API URI, ``gs://`` on Vertex AI."""
    return True


def _map_generation_config(params: Mapping[str, Any], model: ModelInfo) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, field in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("max_tokens", "maxOutputTokens"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("response_mime_type", "responseMimeType"),
    ):
        if key in params:
            config[field] = params[key]
    if "stop" in params:
        config["stopSequences"] = stop_list(params["stop"])
    thinking = thinking_config(params, model)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _map_tool_choice(choice: Any) -> dict[str, Any]:
    if isinstance(choice, Mapping):
        return dict(choice)
    modes = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}
    if choice in modes:
        return {"mode": modes[choice]}
    return {"mode": "ANY", "allowedFunctionNames": [str(choice)]}


class Encoding(WireProtocol["GeminiStream"]):  # the state is the stream module's (imported for types only)
    """The request half of ``google_gemini``: path, history rules, body, tools and structured output."""

    @override
    def request_path(self, request: Request) -> str:
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        collection = "" if "/" in request.model.id else "/models"
        return f"{collection}/{{model}}:{method}"

    @override
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        return handoff_rules(model)

    @override
    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """``parallel_tool_calls`` and ``service_tier``: Gemini has no field for them."""
        return [k for k in ("parallel_tool_calls", "service_tier") if k in params]

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The JSON body.

        Raises:
            UnsupportedInput: the model's row refuses an input kind, before anything is sent.
            InvalidMessage: a part cannot be represented.
        """
        model, params = request.model, request.params
        check_inputs(model, request.messages, self.name, accepts=_ACCEPTS, url_ok=_url_ok)
        system, contents = Encoder(model).encode(prepare_history(request, self.handoff_rules(model)))
        if not contents:
            # Gemini refuses an empty ``contents`` but answers a user turn whose text is empty.
            contents = [{"role": "user", "parts": [{"text": ""}]}]
        body: dict[str, Any] = {"contents": contents}
        if system is not None:
            body["systemInstruction"] = system
        if request.tools:
            body["tools"] = self.encode_tools(request.tools)
            if "tool_choice" in params:
                body["toolConfig"] = {"functionCallingConfig": _map_tool_choice(params["tool_choice"])}
        config = _map_generation_config(params, model)
        if request.response_schema is not None:
            config.update(self.encode_response_schema(request.response_schema, request.schema_name, model))
        if config:
            body["generationConfig"] = config
        if params.get("safety_settings"):
            body["safetySettings"] = list(params["safety_settings"])
        if params.get("cached_content"):
            body["cachedContent"] = params["cached_content"]
        return finish_body(body, False, params)  # the stream is in the path, not the body

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        """One ``functionDeclarations`` tool (parameter schemas converted to Gemini's OpenAPI subset)."""
        declarations = []
        for t in tools:
            decl: dict[str, Any] = {"name": t.name}
            if t.description:
                decl["description"] = t.description
            params = to_gemini_schema(t.json_schema())
            if params.get("properties"):  # Gemini refuses an OBJECT without properties: leave it out
                decl["parameters"] = params
            declarations.append(decl)
        return [{"functionDeclarations": declarations}]

    @override
    def encode_response_schema(
        self, schema: Mapping[str, Any], name: str = "response", model: ModelInfo | None = None
    ) -> dict[str, Any]:
        """The ``generationConfig`` fields of structured output (``responseJsonSchema``, or the converted
        ``responseSchema`` where compat ``response_schema_field`` says so)."""
        field = model.compat.get("response_schema_field") if model is not None else None
        if field == "responseSchema":
            return {"responseMimeType": "application/json", "responseSchema": to_gemini_schema(schema)}
        return {
            "responseMimeType": "application/json",
            "responseJsonSchema": {k: v for k, v in schema.items() if k != "$schema"},
        }
