"""Serving OpenAI Chat Completions: the reverse of ``openai_chat`` (pure; see ``wire/_serve``).

Requests (``POST /v1/chat/completions``) become our messages, tools and params:

* ``system`` and ``developer`` messages are system messages; ``user`` content may be text,
  ``image_url`` parts (data URLs are decoded) and ``file`` parts carrying ``file_data``; an
  ``assistant`` message's text and ``tool_calls`` (ids kept) are one assistant message; a ``tool``
  message is a tool result (its tool name looked up from the call it answers).
* Params passed on (the pipeline validates them and drops, with one warning, those the upstream
  protocol does not know): ``temperature``, ``top_p``, ``seed``, ``stop``, ``max_completion_tokens``
  (or ``max_tokens``) as ``max_tokens``, ``tool_choice`` (a ``{"type": "function"}`` choice becomes
  the tool's name), ``parallel_tool_calls``, ``reasoning_effort``, ``service_tier``,
  ``frequency_penalty``, ``presence_penalty``, ``logit_bias``, ``user``, ``store``, ``verbosity``
  and ``top_k``. ``response_format`` ``json_schema`` is a response schema (``json_object`` is the
  schema ``{"type": "object"}``; ``text`` is no schema).
* Ignored (harmless): ``metadata`` (OpenAI's stored-completion tags, which other providers would
  refuse), ``prediction``, ``stream_options`` beyond ``include_usage``, ``n: 1``, ``logprobs:
  false`` and any field this module does not know.
* Refused with a 400 (honouring them is impossible, and ignoring them would change what the
  caller gets): ``n`` above 1, ``logprobs`` / ``top_logprobs``, audio (``audio``, a non-text
  ``modalities``, ``input_audio`` parts), ``web_search_options``, the legacy ``functions`` /
  ``function_call``, ``file_id`` references, tools of a type other than ``function``, and
  ``function`` role messages.

Answers: ``finish_reason`` ``stop`` / ``length`` / ``tool_calls`` / ``content_filter``; usage with
cached tokens inside ``prompt_tokens`` (``prompt_tokens_details.cached_tokens``; cache writes as
``cache_write_tokens`` beside it) and reasoning in ``completion_tokens_details``; reasoning text as
``reasoning_content`` (and a thinking signature as ``reasoning_opaque``), the fields our own
``openai_chat`` client reads. Streams are ``chat.completion.chunk`` frames ending with ``data:
[DONE]``, plus the usage chunk (``choices: []``) when ``stream_options.include_usage`` asked for
it; a failure after the stream started is an ``{"error": ...}`` frame, which the OpenAI SDK raises.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._events import StreamEvent
from sycophant_py._types import DocumentPart, ImagePart, Message, Part, Response, TextPart, ThinkingPart, Usage
from sycophant_py.wire import _serve

__all__ = ["DIALECT", "OpenAIChatServe", "encode_error", "encode_usage"]

_FINISH = {"stop": "stop", "length": "length", "tool_use": "tool_calls", "content_filter": "content_filter"}
_PASSED = (
    "temperature",
    "top_p",
    "seed",
    "stop",
    "parallel_tool_calls",
    "reasoning_effort",
    "service_tier",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "user",
    "store",
    "verbosity",
    "top_k",
)
_REFUSED = {
    "functions": "the legacy 'functions' field is not supported: send 'tools'",
    "function_call": "the legacy 'function_call' field is not supported: send 'tool_choice'",
    "audio": "audio output is not supported by this gateway",
    "web_search_options": "web search options are not supported by this gateway",
    "top_logprobs": "log probabilities are not supported by this gateway",
}
_TYPES = {
    "invalid_request": "invalid_request_error",
    "request_too_large": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "rate_limit": "rate_limit_error",
    "overloaded": "server_error",
    "upstream": "upstream_error",
    "timeout": "timeout_error",
    "internal": "server_error",
}
_CODES = {
    "authentication": "invalid_api_key",
    "not_found": "model_not_found",
    "rate_limit": "rate_limit_exceeded",
    "request_too_large": "request_too_large",
}


def _bad(message: str, param: str | None = None) -> _serve.ServeError:
    return _serve.ServeError(message, param=param)


# -- requests -------------------------------------------------------------------------------


def _refuse(body: Mapping[str, Any]) -> None:
    for key, why in _REFUSED.items():
        if body.get(key) is not None:
            raise _bad(why, key)
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad("only one choice is served: 'n' must be 1", "n")
    if body.get("logprobs"):
        raise _bad("log probabilities are not supported by this gateway", "logprobs")
    modalities = body.get("modalities")
    if isinstance(modalities, list) and any(m != "text" for m in modalities):
        raise _bad("only text output is supported by this gateway", "modalities")


def _text(content: Any, where: str) -> str:
    """Text content: a string, or a list of text parts (joined)."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise _bad(f"{where}: content must be a string or a list of parts", "messages")
    texts = []
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") not in ("text", "refusal"):
            raise _bad(f"{where}: only text parts are supported here", "messages")
        if part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
    return "".join(texts)


def _data_url(url: str) -> tuple[str, bytes]:
    """(media type, bytes) of a ``data:`` URL, or of bare base64 taken as a PDF."""
    header, sep, payload = url.partition(",")
    media, raw = (header[5:].split(";")[0], payload) if sep and header.startswith("data:") else ("", url)
    try:
        return media or "application/pdf", base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("file_data is not valid base64", "messages") from None


def _image(part: Mapping[str, Any], where: str) -> ImagePart:
    image = part.get("image_url")
    if isinstance(image, str):
        image = {"url": image}
    if not isinstance(image, Mapping) or not isinstance(image.get("url"), str):
        raise _bad(f"{where}: an image_url part needs a url", "messages")
    detail = image.get("detail")
    return ImagePart(url=image["url"], detail=detail if isinstance(detail, str) else None)


def _file(part: Mapping[str, Any], where: str) -> DocumentPart:
    file = part.get("file")
    if not isinstance(file, Mapping) or not isinstance(file.get("file_data"), str):
        raise _bad(f"{where}: only files given inline as file_data are supported (not file_id)", "messages")
    media, data = _data_url(file["file_data"])
    name = file.get("filename")
    return DocumentPart(data=data, media_type=media, name=name if isinstance(name, str) else None)


def _user_part(part: Any, where: str) -> Part:
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind == "text":
        return TextPart(str(part.get("text") or ""))
    if kind == "image_url":
        return _image(part, where)
    if kind == "file":
        return _file(part, where)
    raise _bad(f"{where}: unsupported content part {kind!r}", "messages")


def _user(content: Any, where: str) -> Message:
    if isinstance(content, str):
        return Message.user(content)
    if not isinstance(content, list):
        raise _bad(f"{where}: content must be a string or a list of parts", "messages")
    return Message.user([_user_part(p, f"{where}.content[{i}]") for i, p in enumerate(content)])


def _assistant(m: Mapping[str, Any], where: str) -> Message:
    calls = []
    raw_calls = m.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise _bad(f"{where}: tool_calls must be a list", "messages")
    for tc in raw_calls:
        fn = tc.get("function") if isinstance(tc, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(tc.get("id"), str) or not isinstance(fn.get("name"), str):
            raise _bad(f"{where}: a tool call needs an id and a function name", "messages")
        calls.append(_serve.tool_call_of(tc["id"], fn["name"], fn.get("arguments")))
    return Message.assistant(_text(m.get("content"), where), tool_calls=calls)


def _message(m: Any, i: int, names: dict[str, str]) -> Message:
    where = f"messages[{i}]"
    if not isinstance(m, Mapping):
        raise _bad(f"{where} must be an object", "messages")
    role = m.get("role")
    if role in ("system", "developer"):
        return Message.system(_text(m.get("content"), where))
    if role == "user":
        return _user(m.get("content"), where)
    if role == "assistant":
        msg = _assistant(m, where)
        names.update((c.id, c.name) for c in msg.tool_calls)
        return msg
    if role == "tool":
        call_id = m.get("tool_call_id")
        if not isinstance(call_id, str):
            raise _bad(f"{where}: a tool message needs a tool_call_id", "messages")
        return Message.tool_result(call_id, _text(m.get("content"), where), name=names.get(call_id))
    raise _bad(f"{where}: unsupported role {role!r}", "messages")


def _messages(raw: Any) -> list[Message]:
    if not isinstance(raw, list) or not raw:
        raise _bad("'messages' must be a non-empty list", "messages")
    names: dict[str, str] = {}
    return [_message(m, i, names) for i, m in enumerate(raw)]


def _function_tool(i: int, t: Any) -> Mapping[str, Any]:
    """A function tool's ``function`` definition; other tool kinds are refused."""
    fn = t.get("function") if isinstance(t, Mapping) else None
    if not isinstance(t, Mapping) or t.get("type", "function") != "function" or not isinstance(fn, Mapping):
        raise _bad(f"tools[{i}]: only function tools are supported", "tools")
    return fn


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        if choice.get("type") == "function" and isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            return fn["name"]
        raise _bad("tool_choice must be 'auto', 'none', 'required' or a function choice", "tool_choice")
    return choice


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    params = {k: body[k] for k in _PASSED if body.get(k) is not None}
    limit = body.get("max_completion_tokens")
    limit = body.get("max_tokens") if limit is None else limit
    if limit is not None:
        params["max_tokens"] = limit
    if body.get("tool_choice") is not None:
        params["tool_choice"] = _tool_choice(body["tool_choice"])
    return params


def _response_format(rf: Any) -> tuple[dict[str, Any] | None, str]:
    if rf is None:
        return None, "response"
    kind = rf.get("type") if isinstance(rf, Mapping) else None
    if kind == "text":
        return None, "response"
    if kind == "json_object":
        return {"type": "object"}, "json_object"
    spec = rf.get("json_schema") if kind == "json_schema" else None
    if not isinstance(spec, Mapping) or not isinstance(spec.get("schema", {}), Mapping):
        raise _bad("response_format must be text, json_object or json_schema with a schema", "response_format")
    name = spec.get("name")
    return dict(spec.get("schema") or {"type": "object"}), name if isinstance(name, str) and name else "response"


# -- answers --------------------------------------------------------------------------------


def encode_usage(u: Usage) -> dict[str, Any]:
    """Chat-completions usage: cached tokens (reads and writes) inside ``prompt_tokens``."""
    prompt = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens
    details: dict[str, Any] = {"cached_tokens": u.cache_read_tokens}
    if u.cache_write_tokens:
        details["cache_write_tokens"] = u.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": details,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def encode_error(info: _serve.ErrorInfo) -> dict[str, Any]:
    """``{"error": {message, type, param, code}}``."""
    return {
        "error": {
            "message": info.message,
            "type": _TYPES.get(info.kind, "server_error"),
            "param": info.param,
            "code": _CODES.get(info.kind, info.kind),
        }
    }


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _signature(resp_parts: list[Part]) -> str | None:
    return next((p.signature for p in resp_parts if isinstance(p, ThinkingPart) and p.signature), None)


def _message_of(resp: Response) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": resp.text if resp.text or not resp.tool_calls else None}
    if resp.reasoning:
        message["reasoning_content"] = resp.reasoning
    signature = _signature(resp.parts)
    if signature:
        message["reasoning_opaque"] = signature
    if resp.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json}}
            for c in resp.tool_calls
        ]
    return message


class _Chunks(_serve.StreamEncoder):
    """``chat.completion.chunk`` frames for one stream."""

    def __init__(self, model: str, include_usage: bool, schema_name: str | None) -> None:
        self.model = model
        self.include_usage = include_usage
        self.adapt = _serve.SchemaAsText(schema_name) if schema_name is not None else None
        self.id: str | None = None
        self.created = int(time.time())
        self.tools: dict[int, int] = {}
        """Content index -> the tool call's index in the chunks (0, 1, ...)."""

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        if self.id is None:
            self.id = _new_id()
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        return _serve.sse({**body, "choices": [choice]})

    def _tool(self, ev: StreamEvent) -> bytes:
        if ev.content_index in self.tools:
            if not ev.delta:
                return b""
            return self._chunk(
                {"tool_calls": [{"index": self.tools[ev.content_index], "function": {"arguments": ev.delta}}]}
            )
        index = self.tools[ev.content_index] = len(self.tools)
        call = ev.tool_call
        head = {
            "index": index,
            "id": call.id if call else "",
            "type": "function",
            "function": {"name": call.name if call else "", "arguments": ev.delta},
        }
        return self._chunk({"tool_calls": [head]})

    def _done(self, ev: StreamEvent) -> bytes:
        out = self._chunk({}, _FINISH.get(ev.reason or "stop", "stop"))
        if self.include_usage and ev.response is not None:
            usage = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
            out += _serve.sse({**usage, "choices": [], "usage": encode_usage(ev.response.usage)})
        return out + b"data: [DONE]\n\n"

    @override
    def frames(self, ev: StreamEvent) -> bytes:
        if self.adapt is not None:
            ev = self.adapt(ev)
        kind = ev.type
        if kind == "text_delta":
            return self._chunk({"content": ev.delta})
        if kind == "thinking_delta":
            return self._chunk({"reasoning_content": ev.delta})
        if kind in ("toolcall_delta", "toolcall_start", "toolcall_end"):
            return self._tool(ev) if kind != "toolcall_start" or ev.delta else b""
        if kind == "start":
            self.id = ev.partial.id or _new_id()
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "thinking_end":
            part = ev.partial.parts[ev.content_index]
            signature = part.signature if isinstance(part, ThinkingPart) else None
            return self._chunk({"reasoning_opaque": signature}) if signature else b""
        if kind == "done":
            return self._done(ev)
        if kind == "error":
            return self.error_frames(_serve.error_info(ev.error or RuntimeError("stream failed")))
        return b""

    @override
    def error_frames(self, info: _serve.ErrorInfo) -> bytes:
        return _serve.sse(encode_error(info))


class OpenAIChatServe(_serve.ChatDialect):
    """The OpenAI Chat Completions API, served (see the module docstring)."""

    name = "openai_chat"
    paths = ("/v1/chat/completions", "/chat/completions")

    @override
    def claims(self, headers: Mapping[str, str]) -> bool:
        return False  # the default dialect of shared paths: it needs no evidence

    @override
    def decode_request(self, body: Any) -> _serve.ServedChat:
        if not isinstance(body, Mapping):
            raise _bad("the request body must be a JSON object")
        _refuse(body)
        schema, name = _response_format(body.get("response_format"))
        stream = body.get("stream") is True
        options = body.get("stream_options")
        include_usage = stream and isinstance(options, Mapping) and bool(options.get("include_usage"))
        return _serve.ServedChat(
            model=_serve.model_of(body),
            messages=_messages(body.get("messages")),
            params=_params(body),
            tools=_serve.tools_of(body.get("tools"), _function_tool, "parameters"),
            stream=stream,
            response_schema=schema,
            schema_name=name,
            options={"include_usage": include_usage},
        )

    @override
    def encode_response(self, resp: Response, req: _serve.ServedChat, model: str) -> dict[str, Any]:
        resp = _serve.answer_of(resp, req.schema_name if req.response_schema is not None else None)
        choice = {
            "index": 0,
            "message": _message_of(resp),
            "finish_reason": _FINISH.get(resp.finish_reason, "stop"),
            "logprobs": None,
        }
        return {
            "id": resp.id or _new_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": encode_usage(resp.usage),
        }

    @override
    def stream_encoder(self, req: _serve.ServedChat, model: str) -> _serve.StreamEncoder:
        schema = req.schema_name if req.response_schema is not None else None
        return _Chunks(model, bool(req.options.get("include_usage")), schema)

    @override
    def encode_error(self, info: _serve.ErrorInfo) -> dict[str, Any]:
        return encode_error(info)

    @override
    def encode_models(self, models: list[_serve.ModelEntry]) -> dict[str, Any]:
        data = [{"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by} for m in models]
        return {"object": "list", "data": data}


DIALECT = OpenAIChatServe()
"""The served dialect instance the gateway routes to."""
