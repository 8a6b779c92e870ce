"""OpenAI Chat Completions (``/chat/completions``) and the many servers that speak it.

Compatibility flags (``ModelInfo.compat``; every one listed in ``_providers.COMPAT_FLAGS``) adapt the
request to OpenAI-compatible servers: ``supports_developer_role``, ``supports_reasoning_effort``,
``supports_usage_in_streaming``, ``supports_store``, ``supports_top_k``, ``max_tokens_field``,
``requires_tool_result_name``, ``requires_assistant_after_tool_result``, ``requires_thinking_as_text``,
``requires_mistral_tool_ids``, ``requires_content_string`` (``""`` instead of ``null`` beside tool
calls), ``response_format`` (``json_schema`` / ``json_object_schema``) and ``thinking_format``
(``openai`` / ``zai`` / ``qwen``). Nothing depends on ``ModelInfo.local`` itself: the local rows (and
providers on a loopback address) carry the flags they need.

Inputs: images as ``image_url`` (a URL or a ``data:`` URL), PDFs and other files as ``file`` parts
(bytes only), audio as ``input_audio`` (wav or mp3 bytes). Tool messages carry text only, so the
images and files of a tool result follow the run of tool results in a user message.

Reasoning arrives under several names (``reasoning_content``: DeepSeek, xAI; ``reasoning``:
Groq, OpenRouter, Ollama; ``reasoning_text`` + ``reasoning_opaque``: GitHub Copilot). Usage
counts prompt tokens *including* cached ones, so uncached input is ``prompt - cached``; cached
counts appear as ``prompt_tokens_details.cached_tokens`` (OpenAI), ``prompt_cache_hit_tokens``
(DeepSeek), ``num_cached_tokens`` (Mistral) or a top-level ``cached_tokens``; a cached count above
the prompt count (Azure AI Foundry) was left out of it. ``prompt_tokens_details.audio_tokens`` that
``total_tokens`` shows outside ``prompt_tokens`` (Mistral's voxtral) are input too.

In a stream the usage arrives in a last chunk after ``finish_reason``, so decoding goes on until
``[DONE]``; a body that ends without ``[DONE]`` after a finish reason is complete all the same (some
servers never send it), one that ends before any finish reason is an error. Choices and tool-call
fragments are matched by their ``index`` (never their position in a list). Finish reasons: see
``_FINISH``; absent or unknown ones are ``stop`` (the raw value stays in ``provider_finish_reason``),
and ``error`` ends a stream with an ``error`` event.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

from pydantic import Field
from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import InvalidMessage, StreamError, UnsupportedInput
from sycophant_py._handoff import MISTRAL_IDS, OPENAI_CHAT_IDS, HandoffRules, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._params import SharedParams
from sycophant_py._types import (
    AudioPart,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    Usage,
)
from sycophant_py.wire._base import (
    Request,
    StreamContinue,
    StreamFailed,
    StreamResult,
    WireProtocol,
)
from sycophant_py.wire._media import check_inputs
from sycophant_py.wire._overflow import as_overflow
from sycophant_py.wire._util import (
    body_message,
    finish_or_fail,
    int_of,
    invalid_body,
    is_done_marker,
    new_call_id,
    object_of,
)

__all__ = ["OpenAIChat", "OpenAIChatParams", "decode_usage", "map_finish_reason"]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "end_turn": "stop",
    "eos": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "tool_use": "tool_use",
    "content_filter": "content_filter",
    "error": "error",
    "abort": "error",  # vLLM: the request was aborted before the answer was complete
    "insufficient_system_resource": "error",  # DeepSeek
}
_MAX_COMPLETION_PROVIDERS = frozenset({"openai", "azure", "github-copilot"})
_REASONING_KEYS = ("reasoning_content", "reasoning", "reasoning_text")


class OpenAIChatParams(SharedParams):
    """Params of ``openai_chat`` beyond the shared ones."""

    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise repeated tokens by frequency."""
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise tokens already present."""
    logprobs: bool | None = None
    """Return log probabilities."""
    top_logprobs: int | None = Field(None, ge=0, le=20)
    """How many alternatives per token when ``logprobs`` is on."""
    logit_bias: dict[str, float] | None = None
    """Token id to bias."""
    user: str | None = None
    """End-user id for abuse monitoring."""
    store: bool | None = None
    """Store the completion (OpenAI)."""
    metadata: dict[str, str] | None = None
    """Metadata stored with the completion."""
    response_format: dict[str, Any] | None = None
    """A raw ``response_format`` (``generate_object`` sets it for you)."""
    verbosity: Literal["low", "medium", "high"] | None = None
    """Answer verbosity (GPT-5 family)."""
    prompt_cache_key: str | None = None
    """Groups requests that share a prompt prefix, for cache hits (OpenAI)."""
    prompt_cache_retention: Literal["in-memory", "24h"] | None = None
    """How long a cached prefix is kept (OpenAI)."""
    safety_identifier: str | None = None
    """A stable id of the end user for abuse monitoring (OpenAI)."""
    extra_body: dict[str, Any] | None = None
    """Extra top-level fields merged into the body as they are (server-specific options)."""


def map_finish_reason(value: str | None, has_tool_calls: bool) -> FinishReason:
    """Map a provider finish reason to the unified set (empty, absent or unknown: ``stop``)."""
    reason = _FINISH.get(value, "stop") if isinstance(value, str) else "stop"
    if reason == "stop" and has_tool_calls:
        return "tool_use"
    return reason


def _cached(u: Mapping[str, Any], pdet: Mapping[str, Any]) -> int:
    for value in (
        pdet.get("cached_tokens"),
        u.get("prompt_cache_hit_tokens"),
        u.get("num_cached_tokens"),
        u.get("cached_tokens"),
    ):
        if int_of(value):
            return int_of(value)
    return 0


def decode_usage(u: Mapping[str, Any] | None) -> Usage:
    """Usage from a chat-completions ``usage`` object (see the module docstring for each server's way).

    ``total_tokens`` is only read to find counts the other fields leave out: audio input outside
    ``prompt_tokens`` first, then reasoning outside ``completion_tokens``.
    """
    if not isinstance(u, Mapping) or not u:
        return Usage()
    pdet = u.get("prompt_tokens_details")
    pdet = pdet if isinstance(pdet, Mapping) else {}
    cdet = u.get("completion_tokens_details")
    cdet = cdet if isinstance(cdet, Mapping) else {}
    prompt = int_of(u.get("prompt_tokens"))
    output = int_of(u.get("completion_tokens"))
    cached = _cached(u, pdet)
    reasoning = int_of(cdet.get("reasoning_tokens")) or int_of(u.get("reasoning_tokens"))
    total = u.get("total_tokens")
    gap = int_of(total) - prompt - output if total is not None else 0
    # Audio input (Mistral's voxtral) may be left out of prompt_tokens while total_tokens counts it:
    # it is input, never hidden reasoning.
    audio = min(int_of(pdet.get("audio_tokens")), max(gap, 0))
    prompt += audio
    gap -= audio
    # Cached tokens are part of prompt_tokens (OpenAI, DeepSeek...), except on servers that report them
    # beside it (Azure AI Foundry, where total_tokens = prompt + completion): a cached count above the
    # prompt count tells.
    uncached = prompt if cached > prompt else prompt - cached
    # Cache writes are part of the prompt too: a write count that would exceed what is left (OpenRouter
    # has reported read = write = most of the prompt) is capped.
    written = min(int_of(pdet.get("cache_write_tokens") or pdet.get("cache_creation_tokens")), uncached)
    # xAI, GitHub Copilot (Gemini models) and Gemini's compatible endpoint leave reasoning out of
    # completion_tokens while total_tokens counts it: output includes reasoning, so add it back.
    if gap > 0 and reasoning in (0, gap):
        output += gap
        reasoning = gap
    return Usage(
        input_tokens=uncached - written,
        output_tokens=output,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
    )


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


def handoff_rules(model: ModelInfo) -> HandoffRules:
    """Tool-call ids of at most 64 characters (exactly 9 alphanumerics with ``requires_mistral_tool_ids``)."""
    return _MISTRAL_RULES if model.compat.get("requires_mistral_tool_ids") else _RULES


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
            out.append(
                self.tool_result(
                    Message.tool_result(
                        call_id, "Error: no result was provided for this tool call.", name=name, is_error=True
                    )
                )
            )
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
        texts: list[str] = []
        thinking: list[str] = []
        calls: list[dict[str, Any]] = []
        for p in msg.parts:
            if isinstance(p, TextPart):
                texts.append(p.text)
            elif isinstance(p, ThinkingPart):
                if self.thinking_as_text and p.text:
                    thinking.append(p.text)
            elif isinstance(p, ToolCall):
                calls.append(
                    {
                        "id": p.id,
                        "type": "function",
                        "function": {"name": p.name, "arguments": p.arguments_json or "{}"},
                    }
                )
        # Some servers (llama.cpp) refuse a null content next to tool calls; OpenAI takes either.
        empty = "" if self.model.compat.get("requires_content_string") else None
        answer = "".join(texts)
        if thinking:
            answer = "\n\n".join([*thinking, answer]) if answer else "\n\n".join(thinking)
        out: dict[str, Any] = {"role": "assistant", "content": answer if answer or not calls else empty}
        if calls:
            out["tool_calls"] = calls
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


def _strict_ok(schema: Mapping[str, Any]) -> bool:
    """True when a schema already meets OpenAI's strict-mode rules (closed objects, all required)."""
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or ()) != set(props):
            return False
        return all(_strict_ok(v) for v in props.values() if isinstance(v, Mapping))
    items = schema.get("items")
    if isinstance(items, Mapping):
        return _strict_ok(items)
    for key in ("anyOf", "oneOf", "allOf"):
        subs = schema.get(key)
        if isinstance(subs, list) and not all(_strict_ok(s) for s in subs if isinstance(s, Mapping)):
            return False
    return True


class _ChatStream(StreamAccumulator):
    """Stream state: the accumulator plus the finish reason seen before ``[DONE]`` and the tool-call keys."""

    def __init__(self) -> None:
        super().__init__()
        self.finish_reason: str | None = None
        self.slots: dict[int, tuple[Hashable, str | None]] = {}
        """Tool-call ``index`` -> (accumulator key, call id) of the call now at that index."""
        self.last_call: Hashable | None = None
        """The key of the last tool call fragment (continued by fragments with neither index nor id)."""
        self.made_up_ids: dict[Hashable, str] = {}
        """Ids given to calls whose first fragment came without one (ids must be unique)."""

    def call_key(self, tc: Mapping[str, Any], pos: int) -> Hashable:
        """The accumulator key of a streamed tool-call fragment.

        ``index`` identifies a call, unless a fragment brings another id at the same index (some
        servers number every call 0): that is a new call. Without an index the id identifies it,
        and a fragment with neither continues the last call (or, after the first one of its chunk,
        starts another).
        """
        call_id = tc.get("id") if isinstance(tc.get("id"), str) and tc.get("id") else None
        index = tc.get("index")
        if isinstance(index, (int, str)) and not isinstance(index, bool) and str(index).strip().isdigit():
            slot = int_of(index)
            key, known = self.slots.get(slot, (("tc", slot), None))
            if call_id is not None and known is not None and call_id != known:
                key = ("tc", slot, call_id)
            self.slots[slot] = (key, call_id or known)
        elif call_id is not None:
            key = ("id", call_id)
        elif pos == 0 and self.last_call is not None:
            key = self.last_call
        else:
            key = ("anon", len(self.blocks), pos)
        self.last_call = key
        return key


def _text_of(content: Any) -> tuple[str, str]:
    """(text, thinking) of a message content that may be a string or a list of typed parts."""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return "", ""
    text: list[str] = []
    thinking: list[str] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "thinking":
            inner = part.get("thinking")
            thinking.extend(t.get("text", "") for t in inner or () if isinstance(t, Mapping))
            if isinstance(inner, str):
                thinking.append(inner)
        elif isinstance(part.get("text"), str):
            text.append(part["text"])
    return "".join(text), "".join(thinking)


def _reasoning_of(obj: Mapping[str, Any]) -> str:
    for key in _REASONING_KEYS:
        v = obj.get(key)
        if isinstance(v, str) and v:
            return v
    return ""


def _function(tc: Mapping[str, Any]) -> Mapping[str, Any]:
    fn = tc.get("function")
    return fn if isinstance(fn, Mapping) else {}


def _arguments_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


class OpenAIChat(WireProtocol):
    """The ``openai_chat`` wire protocol."""

    name = "openai_chat"
    stream_transport = "sse"

    @classmethod
    @override
    def param_schema(cls) -> type[OpenAIChatParams]:
        return OpenAIChatParams

    @override
    def request_path(self, request: Request) -> str:
        return "/chat/completions"

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
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        return handoff_rules(model)

    # -- encode ------------------------------------------------------------------------------
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
        self._params(body, request.params, model, bool(request.tools))
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

    def _params(self, body: dict[str, Any], params: Mapping[str, Any], model: ModelInfo, tools: bool) -> None:
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
            stop = params["stop"]
            body["stop"] = [stop] if isinstance(stop, str) else list(stop)
        if "max_tokens" in params:
            default = "max_completion_tokens" if model.provider in _MAX_COMPLETION_PROVIDERS else "max_tokens"
            body[str(compat.get("max_tokens_field", default))] = params["max_tokens"]
        if "top_k" in params and compat.get("supports_top_k"):
            body["top_k"] = params["top_k"]
        if "store" in params and compat.get("supports_store", True):
            body["store"] = params["store"]
        self._reasoning(body, params, compat)
        if tools:
            if "tool_choice" in params:
                body["tool_choice"] = self._tool_choice(params["tool_choice"])
            if "parallel_tool_calls" in params:
                body["parallel_tool_calls"] = params["parallel_tool_calls"]
        if params.get("extra_body"):
            body.update(params["extra_body"])

    @staticmethod
    def _reasoning(body: dict[str, Any], params: Mapping[str, Any], compat: Mapping[str, Any]) -> None:
        effort = params.get("reasoning_effort")
        fmt = compat.get("thinking_format", "openai")
        if fmt == "zai" and effort is not None:
            body["thinking"] = {"type": "disabled" if effort == "none" else "enabled"}
        elif fmt == "qwen" and effort is not None:
            body["enable_thinking"] = effort != "none"
        elif effort is not None and compat.get("supports_reasoning_effort", True):
            body["reasoning_effort"] = effort

    @staticmethod
    def _tool_choice(choice: Any) -> Any:
        if isinstance(choice, str) and choice not in ("auto", "none", "required"):
            return {"type": "function", "function": {"name": choice}}
        return choice

    @override
    def encode_tools(self, tools: Sequence[Tool], model: ModelInfo | None = None) -> list[dict[str, Any]]:
        out = []
        for t in tools:
            schema = t.json_schema()
            fn: dict[str, Any] = {"name": t.name, "parameters": schema}
            if t.description:
                fn["description"] = t.description
            strict = t.strict
            if strict is None and model is not None and model.provider == "openai" and _strict_ok(schema):
                strict = True
            if strict:
                fn["strict"] = True
            out.append({"type": "function", "function": fn})
        return out

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        spec: dict[str, Any] = {"name": name, "schema": dict(schema)}
        if _strict_ok(schema):
            spec["strict"] = True
        return {"type": "json_schema", "json_schema": spec}

    # -- decode ------------------------------------------------------------------------------
    @override
    def decode_response(self, body: Any) -> Response:
        """Turn a chat-completions body into a Response (choice ``index`` 0).

        Raises:
            ResponseInvalid: the body is not a chat completion (no ``choices`` list, no message, wrong
                types); the provider's own message, when the body has one, is in the exception text.
        """
        body = object_of(self.name, body)
        choice = self._choice(body)
        msg = self._message(body, choice)
        text, thinking = _text_of(msg.get("content"))
        thinking = thinking or _reasoning_of(msg)
        parts: list[Any] = []
        opaque = msg.get("reasoning_opaque") if isinstance(msg.get("reasoning_opaque"), str) else None
        if thinking or opaque:
            parts.append(ThinkingPart(thinking, opaque, provider=None))
        if text:
            parts.append(TextPart(text))
        calls = [
            ToolCall.from_json(
                tc["id"] if isinstance(tc.get("id"), str) and tc["id"] else new_call_id(),
                str(_function(tc).get("name") or ""),
                _arguments_text(_function(tc).get("arguments")),
            )
            for tc in msg.get("tool_calls") or ()
        ]
        parts.extend(calls)
        raw_reason = choice.get("finish_reason")
        raw_reason = raw_reason if isinstance(raw_reason, str) else None
        return Response(
            finish_reason=map_finish_reason(raw_reason, bool(calls)),
            usage=decode_usage(body.get("usage")),
            parts=parts,
            raw=body,
            id=body.get("id") if isinstance(body.get("id"), str) else None,
            model=body.get("model") if isinstance(body.get("model"), str) else None,
            provider_finish_reason=raw_reason,
        )

    def _choice(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """The choice whose ``index`` is 0 (the first one when none says so)."""
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices:
            raise invalid_body(self.name, "no 'choices'" if not choices else "a 'choices' that is not a list", body)
        if not all(isinstance(c, Mapping) for c in choices):
            raise invalid_body(self.name, "a choice that is not an object", body)
        return next((c for c in choices if int_of(c.get("index")) == 0), choices[0])

    def _message(self, body: Mapping[str, Any], choice: Mapping[str, Any]) -> Mapping[str, Any]:
        msg = choice.get("message")
        if msg is None and isinstance(choice.get("finish_reason"), str):
            return {}  # an empty answer (nothing generated before the finish reason)
        if not isinstance(msg, Mapping):
            raise invalid_body(self.name, "a choice without a 'message' object", body)
        content = msg.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise invalid_body(self.name, f"a message 'content' that is a {type(content).__name__}", body)
        calls = msg.get("tool_calls")
        if calls is not None and (not isinstance(calls, list) or not all(isinstance(c, Mapping) for c in calls)):
            raise invalid_body(self.name, "a 'tool_calls' that is not a list of objects", body)
        return msg

    @override
    def init_stream(self) -> _ChatStream:
        return _ChatStream()

    @override
    def decode_stream_chunk(self, state: Any, event: Any) -> StreamResult:
        """Decode one SSE event; ``[DONE]`` ends the stream.

        Raises:
            ValueError: the payload is not JSON.
            ResponseInvalid: the frame is not a chunk (the pipeline ends the stream with ``error``).
        """
        acc: _ChatStream = state
        data: str = event.data
        if data[:1] != "{" and is_done_marker(data):  # a chunk is a JSON object: only check other payloads
            return finish_or_fail(acc, map_finish_reason(acc.finish_reason, False), self.name)
        payload = json.loads(data)
        if type(payload) is not dict:  # the hot path checks exact types: json.loads makes dicts and lists
            payload = object_of(self.name, payload, stream=acc)
        if event.event == "error" or payload.get("error"):
            return self._stream_error(acc, payload)
        choices = payload.get("choices")
        usage = payload.get("usage")
        if not usage or type(usage) is not dict:
            groq = payload.get("x_groq")
            usage = groq.get("usage") if type(groq) is dict else None
        if choices is None:
            if not usage and body_message(payload):  # {"detail": "..."} and the like from a proxy
                raise invalid_body(self.name, "no 'choices'", payload, stream=acc)
        elif type(choices) is not list:
            raise invalid_body(self.name, "a 'choices' that is not a list of objects", payload, stream=acc)
        acc.raw = payload
        if acc.id is None:
            chunk_id = payload.get("id")
            if isinstance(chunk_id, str) and chunk_id:
                acc.id = chunk_id
                acc.model = payload.get("model") or acc.model
        if usage and type(usage) is dict:
            acc.usage = decode_usage(usage)
        if choices:
            self._choices(acc, choices, payload)
        return StreamContinue(acc, acc.drain())

    def _choices(self, acc: _ChatStream, choices: list[Any], payload: Mapping[str, Any]) -> None:
        for choice in choices:
            if type(choice) is not dict:
                raise invalid_body(self.name, "a 'choices' that is not a list of objects", payload, stream=acc)
            index = choice.get("index")
            if index == 0 or int_of(index) == 0:  # the first choice; a missing or null index counts as 0
                self._delta(acc, choice, payload)

    @override
    def end_of_stream(self, state: Any) -> StreamResult:
        """The body ended without ``[DONE]``: complete when a finish reason came, else an error.

        Some OpenAI-compatible servers close the stream after the chunk with ``finish_reason`` (and
        the usage chunk, when they send one); the answer is whole then.
        """
        acc: _ChatStream = state
        if acc.finish_reason is None:
            return super().end_of_stream(acc)
        return finish_or_fail(acc, map_finish_reason(acc.finish_reason, False), self.name)

    def _delta(self, acc: _ChatStream, choice: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
        delta = choice.get("delta")
        if delta is None:
            delta = {}
        elif type(delta) is not dict:
            raise invalid_body(self.name, "a 'delta' that is not an object", payload, stream=acc)
        calls = delta.get("tool_calls")
        if calls is not None and (type(calls) is not list or any(type(t) is not dict for t in calls)):
            raise invalid_body(self.name, "a 'tool_calls' that is not a list of objects", payload, stream=acc)
        reasoning = _reasoning_of(delta)
        opaque = delta.get("reasoning_opaque")
        content = delta.get("content")
        text, thinking = (content, "") if isinstance(content, str) or content is None else _text_of(content)
        opaque = opaque if isinstance(opaque, str) else None
        if reasoning or thinking or opaque:
            acc.thinking(reasoning or thinking, signature=opaque)
        if text:
            acc.text(text)
        for pos, tc in enumerate(calls or ()):
            fn = _function(tc)
            key = acc.call_key(tc, pos)
            call_id = tc.get("id") if isinstance(tc.get("id"), str) and tc.get("id") else None
            acc.tool_call(
                key,
                id=call_id or acc.made_up_ids.setdefault(key, new_call_id()),
                name=fn.get("name") if isinstance(fn.get("name"), str) else None,
                arguments=_arguments_text(fn.get("arguments")),
            )
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            acc.finish_reason = reason
            acc.provider_finish_reason = reason

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        message, err_type = super().decode_error(status, body)
        err = body.get("error") if isinstance(body, Mapping) else None
        meta = err.get("metadata") if isinstance(err, Mapping) else None
        raw = meta.get("raw") if isinstance(meta, Mapping) else None
        if isinstance(raw, str) and raw and raw not in message:
            # OpenRouter: "Provider returned error", with the upstream provider's own words in metadata.
            upstream = meta.get("provider_name") if isinstance(meta, Mapping) else None
            message = f"{message} ({upstream or 'upstream'}: {raw})"
        return message, err_type

    def _stream_error(self, acc: _ChatStream, payload: Any) -> StreamFailed:
        message, err_type = self.decode_error(200, payload)
        status = payload.get("status_code") if isinstance(payload, Mapping) else None
        err = payload.get("error") if isinstance(payload, Mapping) else None
        if isinstance(err, Mapping):
            for key in ("status_code", "code"):  # Groq: error.status_code; OpenRouter: numeric error.code
                if not isinstance(status, int) and isinstance(err.get(key), int):
                    status = err[key]
        usage = payload.get("usage") if isinstance(payload, Mapping) else None
        if isinstance(usage, Mapping) and usage:
            acc.usage = decode_usage(usage)  # OpenRouter sends the final usage in the error chunk
        err_exc = StreamError(
            message,
            status_code=status if isinstance(status, int) else None,
            provider=acc.provider,
            model=acc.model,
            body=payload,
            error_type=err_type,
        )
        exc = as_overflow(err_exc)
        acc.fail(exc)
        return StreamFailed(exc, acc.drain())
