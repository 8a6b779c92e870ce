"""Serving Anthropic Messages: the reverse of this package's client codec (pure; see ``wire/_serve``).

Requests (``POST /v1/messages``) become our messages, tools and params:

* ``system`` (a string or text blocks; ``cache_control`` kept as ``Message.cache``) is one system
  message per block. ``user`` turns hold ``text``, ``image`` and ``document`` blocks (base64, URL
  or plain-text sources) and ``tool_result`` blocks, which become tool-result messages in place
  (their tool name looked up from the call they answer). ``assistant`` turns hold ``text``,
  ``thinking`` (with its signature), ``redacted_thinking`` and ``tool_use`` blocks (ids kept).
  Thinking is marked as Anthropic's, so an Anthropic upstream gets it back signed.
* Params: ``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``stop_sequences`` (as ``stop``),
  ``service_tier``; ``thinking`` ``enabled`` gives ``reasoning_budget`` (``disabled`` a budget of
  0; another type is passed as the raw ``thinking`` param, which only an Anthropic upstream uses);
  ``tool_choice`` ``auto`` / ``any`` (``required``) / ``none`` / ``tool`` (its name), with
  ``disable_parallel_tool_use`` as ``parallel_tool_calls=False``; ``output_format`` (or
  ``output_config.format``) ``json_schema`` is a response schema and ``output_config.effort`` a
  ``reasoning_effort``.
* Ignored (harmless): ``metadata``, ``cache_control`` on tools, ``context_management`` and any
  field this module does not know.
* Refused with a 400 (they change what the model does in ways only Anthropic's servers can):
  server tools (a tool whose ``type`` is not ``custom``), ``mcp_servers``, ``container``, and
  content blocks of server tools, search results or other kinds this module does not know.

Answers: a ``message`` object with ``text``, ``thinking`` (signature, or ``""`` when the upstream
gave none), ``redacted_thinking`` and ``tool_use`` blocks; ``stop_reason`` ``end_turn`` (or
``stop_sequence`` when the upstream said so) / ``max_tokens`` / ``tool_use`` / ``refusal``; usage with
cache reads and writes beside ``input_tokens`` (Anthropic's convention). Streams are
``message_start``, ``content_block_start`` / ``_delta`` (``text_delta``, ``thinking_delta``,
``signature_delta``, ``input_json_delta``) / ``_stop``, ``message_delta`` (stop reason and the whole
usage) and ``message_stop``; a failure after the stream started is an ``error`` event.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._events import StreamEvent
from sycophant_py._types import (
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Response,
    TextPart,
    ThinkingPart,
    ToolCall,
    Usage,
)
from sycophant_py.wire import _serve
from sycophant_py.wire.anthropic_messages.encode import PROTOCOL_MARK

__all__ = ["DIALECT", "AnthropicServe", "encode_error", "encode_usage"]

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_use": "tool_use", "content_filter": "refusal"}
_TYPES = {
    "invalid_request": "invalid_request_error",
    "request_too_large": "request_too_large",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "rate_limit": "rate_limit_error",
    "overloaded": "overloaded_error",
    "upstream": "api_error",
    "timeout": "timeout_error",
    "internal": "api_error",
}
_REFUSED = {
    "mcp_servers": "MCP servers run on Anthropic's side and are not supported by this gateway",
    "container": "code-execution containers are not supported by this gateway",
}


def _bad(message: str, param: str | None = None) -> _serve.ServeError:
    return _serve.ServeError(message, param=param)


# -- requests -------------------------------------------------------------------------------


def _source(block: Mapping[str, Any], where: str) -> tuple[str, bytes | None, str | None]:
    """(media type, bytes, url) of an image or document ``source``."""
    src = block.get("source")
    kind = src.get("type") if isinstance(src, Mapping) else None
    if kind == "url" and isinstance(src, Mapping) and isinstance(src.get("url"), str):
        return "", None, src["url"]
    if kind == "text" and isinstance(src, Mapping) and isinstance(src.get("data"), str):
        return "text/plain", src["data"].encode("utf-8"), None
    if kind == "base64" and isinstance(src, Mapping) and isinstance(src.get("data"), str):
        try:
            data = base64.b64decode(src["data"], validate=True)
        except (binascii.Error, ValueError):
            raise _bad(f"{where}: the source data is not valid base64", "messages") from None
        return str(src.get("media_type") or ""), data, None
    raise _bad(f"{where}: unsupported source {kind!r} (base64, url or text)", "messages")


def _media(block: Mapping[str, Any], where: str) -> Part:
    media, data, url = _source(block, where)
    if block["type"] == "image":
        return ImagePart(data=data, url=url, media_type=media or "image/png")
    title = block.get("title")
    return DocumentPart(
        data=data, url=url, media_type=media or "application/pdf", name=title if isinstance(title, str) else None
    )


def _user_part(block: Mapping[str, Any], where: str) -> Part:
    kind = block.get("type")
    if kind == "text":
        return TextPart(str(block.get("text") or ""))
    if kind in ("image", "document"):
        return _media(block, where)
    raise _bad(f"{where}: unsupported content block {kind!r}", "messages")


def _result_content(content: Any, where: str) -> str | list[Part]:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise _bad(f"{where}: tool_result content must be a string or a list of blocks", "messages")
    return [_user_part(_block(b, f"{where}.content[{i}]"), f"{where}.content[{i}]") for i, b in enumerate(content)]


def _block(b: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(b, Mapping):
        raise _bad(f"{where} must be an object", "messages")
    return b


class _Turns:
    """Our messages, built turn by turn; tool results split a user turn where they stand."""

    def __init__(self) -> None:
        self.out: list[Message] = []
        self.names: dict[str, str] = {}

    def user(self, content: Any, where: str) -> None:
        if isinstance(content, str):
            self.out.append(Message.user(content))
            return
        parts: list[Part] = []
        cache = False
        for i, raw in enumerate(content):
            b = _block(raw, f"{where}.content[{i}]")
            if b.get("type") == "tool_result":
                self._flush(parts, cache)
                parts, cache = [], False
                self._result(b, f"{where}.content[{i}]")
                continue
            parts.append(_user_part(b, f"{where}.content[{i}]"))
            cache = cache or bool(b.get("cache_control"))
        self._flush(parts, cache)

    def _flush(self, parts: list[Part], cache: bool) -> None:
        if parts:
            self.out.append(Message.user(parts, cache=cache))

    def _result(self, b: Mapping[str, Any], where: str) -> None:
        call_id = b.get("tool_use_id")
        if not isinstance(call_id, str):
            raise _bad(f"{where}: a tool_result needs a tool_use_id", "messages")
        content = _result_content(b.get("content"), where)
        error = bool(b.get("is_error"))
        self.out.append(Message.tool_result(call_id, content, name=self.names.get(call_id), is_error=error))

    def assistant(self, content: Any, where: str) -> None:
        if isinstance(content, str):
            self.out.append(Message.assistant(content))
            return
        parts = [
            self._assistant_part(_block(b, f"{where}.content[{i}]"), f"{where}.content[{i}]")
            for i, b in enumerate(content)
        ]
        self.out.append(Message("assistant", tuple(parts)))

    def _assistant_part(self, b: Mapping[str, Any], where: str) -> Part:
        kind = b.get("type")
        if kind == "text":
            return TextPart(str(b.get("text") or ""))
        if kind == "thinking":
            sig = b.get("signature")
            return ThinkingPart(str(b.get("thinking") or ""), sig or None, provider_data=dict(PROTOCOL_MARK))
        if kind == "redacted_thinking":
            return ThinkingPart("", b.get("data") or None, redacted=True, provider_data=dict(PROTOCOL_MARK))
        if kind == "tool_use" and isinstance(b.get("id"), str) and isinstance(b.get("name"), str):
            call = _serve.tool_call_of(b["id"], b["name"], b.get("input"))
            self.names[call.id] = call.name
            return call
        raise _bad(f"{where}: unsupported content block {kind!r}", "messages")


def _system(raw: Any) -> list[Message]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [Message.system(raw)]
    if not isinstance(raw, list):
        raise _bad("'system' must be a string or a list of text blocks", "system")
    out = []
    for b in raw:
        if not isinstance(b, Mapping) or b.get("type") != "text":
            raise _bad("'system' blocks must be text blocks", "system")
        out.append(Message.system(str(b.get("text") or ""), cache=bool(b.get("cache_control"))))
    return out


def _messages(body: Mapping[str, Any]) -> list[Message]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _bad("'messages' must be a non-empty list", "messages")
    turns = _Turns()
    turns.out.extend(_system(body.get("system")))
    for i, item in enumerate(raw):
        where = f"messages[{i}]"
        m = _block(item, where)
        content = m.get("content")
        if not isinstance(content, (str, list)):
            raise _bad(f"{where}: content must be a string or a list of blocks", "messages")
        if m.get("role") == "user":
            turns.user(content, where)
        elif m.get("role") == "assistant":
            turns.assistant(content, where)
        else:
            raise _bad(f"{where}: role must be 'user' or 'assistant'", "messages")
    return turns.out


def _client_tool(i: int, t: Any) -> Mapping[str, Any]:
    """A client tool's definition (the tool itself); server tools are refused."""
    if not isinstance(t, Mapping) or t.get("type", "custom") != "custom":
        kind = t.get("type") if isinstance(t, Mapping) else None
        raise _bad(f"tools[{i}]: server tools ({kind!r}) are not supported: only client tools", "tools")
    return t


def _tool_choice(choice: Any, params: dict[str, Any]) -> None:
    if not isinstance(choice, Mapping):
        raise _bad("tool_choice must be an object", "tool_choice")
    kind = choice.get("type")
    if kind in ("auto", "none"):
        params["tool_choice"] = kind
    elif kind == "any":
        params["tool_choice"] = "required"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        params["tool_choice"] = choice["name"]
    else:
        raise _bad("tool_choice type must be auto, any, none or tool (with a name)", "tool_choice")
    if choice.get("disable_parallel_tool_use"):
        params["parallel_tool_calls"] = False


def _thinking(thinking: Any, params: dict[str, Any]) -> None:
    if not isinstance(thinking, Mapping):
        raise _bad("thinking must be an object", "thinking")
    if thinking.get("type") == "enabled":
        params["reasoning_budget"] = thinking.get("budget_tokens")
    elif thinking.get("type") == "disabled":
        params["reasoning_budget"] = 0
    else:
        params["thinking"] = dict(thinking)


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    params = {
        k: body[k] for k in ("max_tokens", "temperature", "top_p", "top_k", "service_tier") if body.get(k) is not None
    }
    if body.get("stop_sequences") is not None:
        params["stop"] = body["stop_sequences"]
    if body.get("thinking") is not None:
        _thinking(body["thinking"], params)
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], params)
    config = body.get("output_config")
    if isinstance(config, Mapping) and isinstance(config.get("effort"), str):
        params["reasoning_effort"] = config["effort"]
    return params


def _output_schema(body: Mapping[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = body.get("output_format")
    if fmt is None and isinstance(config, Mapping):
        fmt = config.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), Mapping):
        raise _bad("output_format must be {type: json_schema, schema: {...}}", "output_format")
    return dict(fmt["schema"])


# -- answers --------------------------------------------------------------------------------


def encode_usage(u: Usage) -> dict[str, Any]:
    """Messages usage: cache reads and writes beside (not inside) ``input_tokens``."""
    out: dict[str, Any] = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    }
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return out


def encode_error(info: _serve.ErrorInfo) -> dict[str, Any]:
    """``{"type": "error", "error": {type, message}}``."""
    return {"type": "error", "error": {"type": _TYPES.get(info.kind, "api_error"), "message": info.message}}


def _stop_reason(resp: Response) -> str:
    if resp.finish_reason == "stop" and resp.provider_finish_reason == "stop_sequence":
        return "stop_sequence"
    return _STOP.get(resp.finish_reason, "end_turn")


def _content_block(p: Part) -> dict[str, Any] | None:
    if isinstance(p, TextPart):
        return {"type": "text", "text": p.text} if p.text else None
    if isinstance(p, ThinkingPart):
        if p.redacted:
            return {"type": "redacted_thinking", "data": p.signature or ""}
        return {"type": "thinking", "thinking": p.text, "signature": p.signature or ""}
    if isinstance(p, ToolCall):
        return {"type": "tool_use", "id": p.id, "name": p.name, "input": dict(p.arguments)}
    return None


def _new_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


class _Events(_serve.StreamEncoder):
    """Messages SSE events for one stream; our content blocks get consecutive indices as they start."""

    def __init__(self, model: str, schema_name: str | None) -> None:
        self.model = model
        self.adapt = _serve.SchemaAsText(schema_name) if schema_name is not None else None
        self.index: dict[int, int] = {}
        """Our content index -> the block index in the events (assigned when the block starts)."""
        self.handlers: dict[str, Callable[[StreamEvent], bytes]] = {
            "start": self._start,
            "text_start": self._text_start,
            "text_delta": self._text_delta,
            "text_end": self._stop,
            "thinking_start": self._thinking,
            "thinking_delta": self._thinking_delta,
            "thinking_end": self._thinking,
            "toolcall_delta": self._tool,
            "toolcall_end": self._tool,
            "done": self._done,
            "error": self._error,
        }

    def _start(self, ev: StreamEvent) -> bytes:
        message: dict[str, Any] = {
            "id": ev.partial.id or _new_id(),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": encode_usage(ev.partial.usage),
        }
        return _serve.sse({"type": "message_start", "message": message}, "message_start")

    def _open(self, ev: StreamEvent, block: dict[str, Any]) -> bytes:
        index = self.index[ev.content_index] = len(self.index)
        return _serve.sse(
            {"type": "content_block_start", "index": index, "content_block": block}, "content_block_start"
        )

    def _delta(self, ev: StreamEvent, delta: dict[str, Any]) -> bytes:
        body = {"type": "content_block_delta", "index": self.index[ev.content_index], "delta": delta}
        return _serve.sse(body, "content_block_delta")

    def _stop(self, ev: StreamEvent) -> bytes:
        return _serve.sse({"type": "content_block_stop", "index": self.index[ev.content_index]}, "content_block_stop")

    def _thinking(self, ev: StreamEvent) -> bytes:
        part = ev.partial.parts[ev.content_index]
        assert isinstance(part, ThinkingPart)
        if ev.type == "thinking_start":
            block = _content_block(part) or {}
            if not part.redacted:
                block.update(thinking="", signature="")
            return self._open(ev, block)
        out = b""
        if part.signature and not part.redacted:
            out = self._delta(ev, {"type": "signature_delta", "signature": part.signature})
        return out + self._stop(ev)

    def _tool(self, ev: StreamEvent) -> bytes:
        out = b""
        if ev.content_index not in self.index:  # started lazily: the id and name are known by now
            call = ev.tool_call
            block = {"type": "tool_use", "id": call.id if call else "", "name": call.name if call else "", "input": {}}
            out = self._open(ev, block)
        if ev.type == "toolcall_delta" and ev.delta:
            out += self._delta(ev, {"type": "input_json_delta", "partial_json": ev.delta})
        elif ev.type == "toolcall_end":
            out += self._stop(ev)
        return out

    def _done(self, ev: StreamEvent) -> bytes:
        resp = ev.response or Response()
        delta = {"stop_reason": _stop_reason(resp), "stop_sequence": None}
        out = _serve.sse({"type": "message_delta", "delta": delta, "usage": encode_usage(resp.usage)}, "message_delta")
        return out + _serve.sse({"type": "message_stop"}, "message_stop")

    def _text_delta(self, ev: StreamEvent) -> bytes:
        return self._delta(ev, {"type": "text_delta", "text": ev.delta})

    def _thinking_delta(self, ev: StreamEvent) -> bytes:
        return self._delta(ev, {"type": "thinking_delta", "thinking": ev.delta})

    def _text_start(self, ev: StreamEvent) -> bytes:
        return self._open(ev, {"type": "text", "text": ""})

    def _error(self, ev: StreamEvent) -> bytes:
        return self.error_frames(_serve.error_info(ev.error or RuntimeError("stream failed")))

    @override
    def frames(self, ev: StreamEvent) -> bytes:
        if self.adapt is not None:
            ev = self.adapt(ev)
        handler = self.handlers.get(ev.type)
        return handler(ev) if handler is not None else b""  # toolcall_start: the block starts with its first fragment

    @override
    def error_frames(self, info: _serve.ErrorInfo) -> bytes:
        return _serve.sse(encode_error(info), "error")


class AnthropicServe(_serve.ChatDialect):
    """The Anthropic Messages API, served (see the module docstring)."""

    name = "anthropic_messages"
    paths = ("/v1/messages", "/messages", "/v1/v1/messages")
    """``/messages`` for clients whose base URL ends in ``/v1``; ``/v1/v1/messages`` for the Anthropic SDK
    given such a base URL (it appends ``/v1/messages`` to whatever it is given)."""

    @override
    def claims(self, headers: Mapping[str, str]) -> bool:
        return "anthropic-version" in headers

    @override
    def decode_request(self, body: Any) -> _serve.ServedChat:
        if not isinstance(body, Mapping):
            raise _bad("the request body must be a JSON object")
        for key, why in _REFUSED.items():
            if body.get(key) is not None:
                raise _bad(why, key)
        schema = _output_schema(body)
        return _serve.ServedChat(
            model=_serve.model_of(body),
            messages=_messages(body),
            params=_params(body),
            tools=_serve.tools_of(body.get("tools"), _client_tool, "input_schema"),
            stream=body.get("stream") is True,
            response_schema=schema,
            schema_name="response",
        )

    @override
    def encode_response(self, resp: Response, req: _serve.ServedChat, model: str) -> dict[str, Any]:
        resp = _serve.answer_of(resp, req.schema_name if req.response_schema is not None else None)
        blocks = [b for b in (_content_block(p) for p in resp.parts) if b is not None]
        return {
            "id": resp.id or _new_id(),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": _stop_reason(resp),
            "stop_sequence": None,
            "usage": encode_usage(resp.usage),
        }

    @override
    def stream_encoder(self, req: _serve.ServedChat, model: str) -> _serve.StreamEncoder:
        return _Events(model, req.schema_name if req.response_schema is not None else None)

    @override
    def encode_error(self, info: _serve.ErrorInfo) -> dict[str, Any]:
        return encode_error(info)

    @override
    def encode_models(self, models: list[_serve.ModelEntry]) -> dict[str, Any]:
        data = [
            {"type": "model", "id": m.id, "display_name": m.name or m.id, "created_at": "1970-01-01T00:00:00Z"}
            for m in models
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }


DIALECT = AnthropicServe()
"""The served dialect instance the gateway routes to."""
