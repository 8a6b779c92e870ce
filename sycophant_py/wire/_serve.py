"""Serving a dialect: the reverse direction of a wire protocol, shared by every served API.

A *served dialect* turns a caller's request body in that API's shape into our terms
(:class:`ServedChat`: messages, params, tools, a response schema) and turns our answer back
(a :class:`~sycophant_py.Response` into that API's JSON, our stream events into its SSE frames,
our errors into its error body). Dialects are pure: no I/O, no clock beyond a ``created``
timestamp. The gateway (``sycophant_py._gateway``) only routes to them; a new served dialect is
a ``serve.py`` in its protocol's package (found through the registry), and touches no server code.

Errors: :func:`error_info` maps any exception of ours to an HTTP status and a neutral *kind*
(``invalid_request``, ``authentication``, ``permission``, ``not_found``, ``request_too_large``,
``rate_limit``, ``overloaded``, ``upstream``, ``timeout``, ``internal``); each dialect spells the
kind in its own error vocabulary. Caller mistakes are 400 (404 for an unknown model or alias),
upstream authentication problems 401, ``RateLimited`` 429 (with ``retry_after``), ``Overloaded``
503, ``Timeout`` 504, other upstream failures 502. A request a dialect cannot honour without
changing its meaning raises :class:`ServeError` (400) from ``decode_request``.

Structured output that a protocol answers with a forced tool (Anthropic) is turned back into
answer text here, once, for every dialect: :func:`answer_of` for a whole response and
:class:`SchemaAsText` for a stream.
"""

from __future__ import annotations

import importlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from sycophant_py._events import EventType, StreamEvent
from sycophant_py._exceptions import (
    AllModelsFailed,
    AuthenticationFailed,
    BadRequest,
    ContentFiltered,
    InvalidError,
    MissingCredentials,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    Timeout,
    UnknownName,
)
from sycophant_py._types import EmbeddingResponse, Message, Response, TextPart, Tool, ToolCall

if TYPE_CHECKING:
    from sycophant_py._registry import Kind

__all__ = [
    "ChatDialect",
    "EmbedDialect",
    "ErrorInfo",
    "ModelEntry",
    "SchemaAsText",
    "ServeError",
    "ServedChat",
    "ServedEmbed",
    "StreamEncoder",
    "answer_of",
    "dumps",
    "error_info",
    "served_chat",
    "served_embed",
    "sse",
    "model_of",
    "tool_call_of",
    "tool_of",
    "tools_of",
]


_SURROGATES = re.compile("[\ud800-\udfff]")


# -- what a caller asked, in our terms ------------------------------------------------------


@dataclass(slots=True)
class ServedChat:
    """A caller's chat request, decoded by a served dialect."""

    model: str | list[str]
    """A ``provider:model`` spec, an alias, or a list of specs (an ordered fallback)."""
    messages: list[Message]
    """The conversation."""
    params: dict[str, Any] = field(default_factory=dict)
    """Call params (shared names: ``temperature``, ``max_tokens``...; the pipeline validates them)."""
    tools: list[Tool] = field(default_factory=list)
    """Tool definitions (never run by the gateway: calls go back to the caller)."""
    stream: bool = False
    """The caller asked for a stream."""
    response_schema: dict[str, Any] | None = None
    """A JSON Schema the answer must follow (structured output)."""
    schema_name: str = "response"
    """The schema's name (the forced tool's name where a protocol uses one)."""
    options: dict[str, Any] = field(default_factory=dict)
    """How the dialect wants its answer shaped (``include_usage``...); never sent upstream."""


@dataclass(slots=True)
class ServedEmbed:
    """A caller's embedding request, decoded by a served dialect."""

    model: str | list[str]
    """A spec, an alias or a fallback list."""
    inputs: list[str]
    """The texts, in order."""
    params: dict[str, Any] = field(default_factory=dict)
    """Embedding params (``dimensions``...)."""
    options: dict[str, Any] = field(default_factory=dict)
    """How the dialect wants its answer shaped (``encoding_format``...)."""


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model the gateway lists."""

    id: str
    """``provider:model`` or an alias name."""
    owned_by: str
    """The provider id (``alias`` for an alias)."""
    name: str = ""
    """A display name."""


# -- errors ---------------------------------------------------------------------------------


class ServeError(Exception):
    """A request the gateway refuses before calling anything; encoded in the caller's error shape.

    Attributes:
        status: The HTTP status.
        kind: The neutral error kind (see the module docstring).
        message: What is wrong, for the caller.
        param: The request field at fault, when there is one.
    """

    def __init__(
        self, message: str, *, status: int = 400, kind: str = "invalid_request", param: str | None = None
    ) -> None:
        self.status = status
        self.kind = kind
        self.message = message
        self.param = param
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error ready to encode: status, kind, message, and a ``Retry-After`` when known."""

    status: int
    kind: str
    message: str
    param: str | None = None
    retry_after: float | None = None


def _upstream_status(exc: ProviderError) -> ErrorInfo:
    """An upstream failure that is not one of the named classes, by its status."""
    status = exc.status_code
    if status == 429:
        return ErrorInfo(429, "rate_limit", str(exc), retry_after=exc.retry_after)
    if isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 404, 408):
        return ErrorInfo(status, "request_too_large" if status == 413 else "invalid_request", str(exc))
    return ErrorInfo(502, "upstream", str(exc))


def _provider_info(exc: ProviderError) -> ErrorInfo:
    msg = str(exc)
    if isinstance(exc, RateLimited):
        return ErrorInfo(429, "rate_limit", msg, retry_after=exc.retry_after)
    if isinstance(exc, AuthenticationFailed):
        forbidden = exc.status_code == 403
        return ErrorInfo(403 if forbidden else 401, "permission" if forbidden else "authentication", msg)
    if isinstance(exc, NotFound):
        return ErrorInfo(404, "not_found", msg)
    if isinstance(exc, Overloaded):
        return ErrorInfo(503, "overloaded", msg, retry_after=exc.retry_after)
    if isinstance(exc, Timeout):
        return ErrorInfo(504, "timeout", msg)
    if isinstance(exc, (BadRequest, ContentFiltered)):
        status = exc.status_code if isinstance(exc.status_code, int) and 400 <= exc.status_code < 500 else 400
        return ErrorInfo(status, "request_too_large" if status == 413 else "invalid_request", msg)
    return _upstream_status(exc)


def error_info(exc: BaseException) -> ErrorInfo:
    """The status and kind an exception of ours is served as (see the module docstring).

    ``AllModelsFailed`` is served as its last attempt's error, with the whole story as message.
    A ``MissingCredentials`` is the gateway's own configuration, served as 401 naming the
    provider (never a key). Anything unexpected is a 500 naming only the exception type.
    """
    if isinstance(exc, ServeError):
        return ErrorInfo(exc.status, exc.kind, exc.message, exc.param)
    if isinstance(exc, AllModelsFailed) and exc.errors:
        return replace(error_info(exc.errors[-1]), message=str(exc))
    if isinstance(exc, MissingCredentials):
        return ErrorInfo(401, "authentication", f"the gateway has no credentials for provider {exc.provider!r}")
    if isinstance(exc, UnknownName):
        return ErrorInfo(404, "not_found", str(exc), "model")
    if isinstance(exc, InvalidError):
        return ErrorInfo(400, "invalid_request", str(exc), getattr(exc, "param", None))
    if isinstance(exc, ProviderError):
        return _provider_info(exc)
    return ErrorInfo(500, "internal", f"internal error ({type(exc).__name__})")


# -- the dialect behaviours -----------------------------------------------------------------


class StreamEncoder(ABC):
    """Turns one stream's events into a dialect's SSE frames (stateful, pure)."""

    @abstractmethod
    def frames(self, ev: StreamEvent) -> bytes:
        """The bytes to send for one event (empty when the event has no frame of its own)."""

    @abstractmethod
    def error_frames(self, info: ErrorInfo) -> bytes:
        """The bytes that end a stream that failed after it started."""


class ChatDialect(ABC):
    """A served chat API: decode a caller's request, encode our answer in its shape."""

    name: ClassVar[str] = ""
    """The dialect's name (the protocol it serves)."""
    paths: ClassVar[tuple[str, ...]] = ()
    """The request paths it answers (``POST``)."""

    @abstractmethod
    def claims(self, headers: Mapping[str, str]) -> bool:
        """True when a request on a shared path (``/v1/models``) comes from this dialect's SDKs."""

    @abstractmethod
    def decode_request(self, body: Any) -> ServedChat:
        """The caller's request in our terms.

        Raises:
            ServeError: the body is malformed, or asks for something the gateway cannot honour.
        """

    @abstractmethod
    def encode_response(self, resp: Response, req: ServedChat, model: str) -> dict[str, Any]:
        """A complete answer as this dialect's JSON body (``model``: the name to report)."""

    @abstractmethod
    def stream_encoder(self, req: ServedChat, model: str) -> StreamEncoder:
        """A fresh encoder for one streamed answer."""

    @abstractmethod
    def encode_error(self, info: ErrorInfo) -> dict[str, Any]:
        """An error as this dialect's JSON error body."""

    @abstractmethod
    def encode_models(self, models: list[ModelEntry]) -> dict[str, Any]:
        """The model list as this dialect's JSON body."""


class EmbedDialect(ABC):
    """A served embedding API."""

    name: ClassVar[str] = ""
    """The dialect's name."""
    paths: ClassVar[tuple[str, ...]] = ()
    """The request paths it answers (``POST``)."""

    @abstractmethod
    def decode_request(self, body: Any) -> ServedEmbed:
        """The caller's request in our terms.

        Raises:
            ServeError: the body is malformed or asks for what the gateway cannot do.
        """

    @abstractmethod
    def encode_response(self, emb: EmbeddingResponse, req: ServedEmbed, model: str) -> dict[str, Any]:
        """The vectors as this dialect's JSON body."""

    @abstractmethod
    def encode_error(self, info: ErrorInfo) -> dict[str, Any]:
        """An error as this dialect's JSON error body."""


def _served(kind: Kind) -> list[Any]:
    """The ``DIALECT`` of every registered protocol of ``kind`` whose package has a ``serve`` module.

    A protocol package that can be served holds its reverse direction in ``serve.py`` (the
    template: see docs/architecture.md); the registry's default protocol comes first (it answers
    the paths two dialects share). A new servable dialect touches no server code.
    """
    from sycophant_py._registry import DEFAULT_CHAT, DEFAULT_EMBEDDING, known_protocols, protocol_class

    default = DEFAULT_CHAT if kind == "chat" else DEFAULT_EMBEDDING
    names = sorted(known_protocols(kind), key=lambda n: n != default)
    out: list[Any] = []
    for name in names:
        cls = protocol_class(kind, name)
        if cls is None:
            continue
        try:
            module = importlib.import_module(f"{cls.__module__}.serve")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"{cls.__module__}.serve", cls.__module__):
                raise
            continue
        out.append(module.DIALECT)
    return out


def served_chat() -> list[ChatDialect]:
    """The served chat dialects (the default protocol's first: it answers the paths dialects share)."""
    dialects: list[ChatDialect] = _served("chat")
    return dialects


def served_embed() -> list[EmbedDialect]:
    """The served embedding dialects."""
    dialects: list[EmbedDialect] = _served("embedding")
    return dialects


# -- helpers every dialect uses -------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    """Compact JSON as UTF-8; lone surrogates (which Python strings may hold) become U+FFFD."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def sse(obj: Any, event: str | None = None) -> bytes:
    """One SSE frame carrying ``obj`` as JSON (a ``str`` is sent as it is)."""
    data = obj.encode() if isinstance(obj, str) else dumps(obj)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + b"\n\n"


def answer_of(resp: Response, schema_name: str | None) -> Response:
    """``resp`` with a structured answer given as a forced tool call (``schema_name``) turned into text.

    Protocols without a native JSON-schema mode answer with a tool call whose arguments are the
    object; the caller asked for text, so that call becomes the text (and ``tool_use`` becomes
    ``stop`` when it was the only call).
    """
    if schema_name is None or resp.text.strip():
        return resp
    call = next((c for c in resp.tool_calls if c.name == schema_name), None)
    if call is None:
        return resp
    parts = [TextPart(call.arguments_json) if p is call else p for p in resp.parts]
    calls = [c for c in resp.tool_calls if c is not call]
    reason = "stop" if resp.finish_reason == "tool_use" and not calls else resp.finish_reason
    return replace(resp, parts=parts, finish_reason=reason)  # text and tool_calls follow from the parts


_AS_TEXT: dict[str, EventType] = {
    "toolcall_start": "text_start",
    "toolcall_delta": "text_delta",
    "toolcall_end": "text_end",
}


class SchemaAsText:
    """Stream twin of :func:`answer_of`: the forced tool call's events become text events."""

    __slots__ = ("_indexes", "_name")

    def __init__(self, schema_name: str) -> None:
        self._name = schema_name
        self._indexes: set[int] = set()

    def __call__(self, ev: StreamEvent) -> StreamEvent:
        """The event to encode in place of ``ev``."""
        kind = ev.type
        if kind == "toolcall_start":
            call = ev.tool_call
            if call is not None and call.name == self._name:
                self._indexes.add(ev.content_index)
        if kind in _AS_TEXT and ev.content_index in self._indexes:
            return StreamEvent(_AS_TEXT[kind], ev.partial, ev.content_index, ev.delta)
        if kind == "done" and self._indexes and ev.response is not None:
            out = StreamEvent("done", ev.partial)
            out.response = answer_of(ev.response, self._name)
            out.reason = out.response.finish_reason
            return out
        return ev


def model_of(body: Mapping[str, Any]) -> str | list[str]:
    """The caller's ``model``: a ``provider:model`` spec, an alias, or a list of specs (a fallback)."""
    model = body.get("model")
    if isinstance(model, str) and model:
        return model
    if isinstance(model, list) and model and all(isinstance(m, str) and m for m in model):
        return list(model)
    raise ServeError("'model' must be a 'provider:model' spec, an alias or a list of specs", param="model")


def tools_of(raw: Any, definition: Callable[[int, Any], Mapping[str, Any]], schema_key: str) -> list[Tool]:
    """A caller's ``tools`` list: ``definition(i, entry)`` finds each entry's function definition
    (or raises :class:`ServeError` for a kind the dialect refuses); each is read with :func:`tool_of`."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ServeError("'tools' must be a list", param="tools")
    return [tool_of(definition(i, t), schema_key, f"tools[{i}]") for i, t in enumerate(raw)]


def tool_of(raw: Mapping[str, Any], schema_key: str, where: str) -> Tool:
    """A tool definition from a caller's request (``schema_key``: where its JSON Schema is).

    Raises:
        ServeError: the tool has no name.
        InvalidError: its schema is not an object schema (the pipeline's own check).
    """
    name, desc, strict = raw.get("name"), raw.get("description"), raw.get("strict")
    if not isinstance(name, str) or not name:
        raise ServeError(f"{where}: a tool needs a name", param="tools")
    return Tool(
        name, desc if isinstance(desc, str) else "", raw.get(schema_key), None, True if strict is True else None
    )


def tool_call_of(call_id: str, name: str, arguments: Any) -> ToolCall:
    """A tool call from a caller's message: ``arguments`` as JSON text (OpenAI) or an object (Anthropic)."""
    if isinstance(arguments, str):
        return ToolCall.from_json(call_id, name, arguments)
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise ServeError(f"tool call {call_id!r}: the arguments must be an object", param="messages")
    return ToolCall(call_id, name, dict(arguments), json.dumps(arguments, ensure_ascii=False))
