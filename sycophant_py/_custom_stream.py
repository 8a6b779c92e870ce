"""Custom streaming functions: ``register_provider(..., stream=fn)`` (pi's ``streamSimple``).

A stream function speaks a non-standard API itself and yields the library's unified events::

    def stream_acme(model: ModelInfo, context: Context, options: StreamOptions) -> Iterator[Any]:
        out = options["emit"]                      # a StreamEmitter bound to this call
        yield out.start()
        for chunk in ...:                          # the function does its own HTTP
            yield out.text(chunk["text"])
        yield out.done(usage={"input_tokens": 12, "output_tokens": 5})

Rules (docs/providers.md has the long form):

- Keyed by provider: the function serves its provider's models whose protocol is the
  registration's ``api`` (or forced to it with ``api=``), never another provider's.
- Yield what the :class:`StreamEmitter` methods return (or hand-built events); anything else ends
  the stream with ``ResponseInvalid``. ``start`` is supplied when the function does not send it.
- The first ``done`` / ``error`` ends the stream and the function is closed. An exception it raises
  (a non-library one wrapped in ``StreamError``), returning without a terminal event, or the
  call's ``timeout=`` become a terminal ``error`` event keeping the partial content and usage.
  Before the first event, a retryable ``ProviderError`` (``emit.http_error(429, ...)``) is retried
  by the retry policy and an ``InvalidError`` is raised, as in the HTTP protocols.
- ``generate_text`` (and ``generate_object``, tool loops) drain the stream and raise its error.
- Sync entry points take sync functions; async ones take those (run inline in the loop) and async
  generators or coroutines. Closing the stream closes the function's generator (pi's abort).
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, TypedDict

from typing_extensions import override

from sycophant_py import _config, _run
from sycophant_py._events import StreamAccumulator, StreamEvent
from sycophant_py._exceptions import (
    InvalidError,
    ProviderError,
    ResponseInvalid,
    StreamAborted,
    StreamError,
    SycophantError,
)
from sycophant_py._extensions import ensure_loaded
from sycophant_py._handoff import prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._pipeline import (
    PREPARE,
    Call,
    apply_auth,
    finish_response,
    step_resolve_model,
    step_validate_params,
)
from sycophant_py._types import Context, FinishReason, Response, Tool, Usage
from sycophant_py.auth._base import Credentials
from sycophant_py.wire._base import Request, StreamResult, WireProtocol

__all__ = [
    "CustomStreamProtocol",
    "FunctionSource",
    "StreamEmitter",
    "StreamFunction",
    "StreamOptions",
    "check_sync",
    "is_custom",
    "prepare_steps",
]

_DONE_REASONS: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_use": "tool_use"}
_DONE_REASONS.update(toolUse="tool_use", content_filter="content_filter")  # pi's toolUse
# Usage keys: ours, without the ``_tokens`` suffix, and pi's camelCase.
_USAGE_KEYS = {
    f"{k}{s}": f"{k}_tokens"
    for k in ("input", "output", "cache_read", "cache_write", "reasoning")
    for s in ("", "_tokens")
}
_USAGE_KEYS.update(cacheRead="cache_read_tokens", cacheWrite="cache_write_tokens")
_NOT_HEADERS = frozenset({"content-type", "accept"})


class StreamOptions(TypedDict):
    """What a stream function receives besides the model and the conversation."""

    emit: StreamEmitter
    """An emitter bound to this call: build every event with it."""
    api_key: str | None
    """The resolved key (per-request, config, registration ``api_key``, env), if any."""
    credentials: Credentials
    """All resolved credentials and settings (secrets masked in ``repr``)."""
    base_url: str
    """The provider's (or model's) base URL, templates filled."""
    headers: dict[str, str]
    """Headers to send: the provider's and model's (values resolved) and the auth headers."""
    params: dict[str, Any]
    """The call's params: shared ones validated, any others passed through as given."""
    tools: tuple[Tool, ...]
    """Tool definitions the model may call."""
    response_schema: dict[str, Any] | None
    """JSON Schema the answer must follow (``generate_object``), else None."""
    schema_name: str
    """A name for that schema."""
    timeout: float | None
    """Seconds left of the call's ``timeout=``, else None."""


StreamFunction = Callable[[ModelInfo, Context, StreamOptions], Any]
"""``fn(model, context, options)`` returning (or being) a sync or async iterable of events."""


def _wrap(exc: BaseException, provider: str | None, model: str | None) -> SycophantError:
    """The library exception for what a stream function raised (provider and model filled in)."""
    if isinstance(exc, ProviderError):
        exc.provider = exc.provider or provider
        exc.model = exc.model or model
        return exc
    if isinstance(exc, SycophantError):
        return exc
    err = StreamError(
        f"the stream function of provider {provider!r} raised {type(exc).__name__}: {exc}",
        provider=provider,
        model=model,
    )
    err.__cause__ = exc
    return err


class StreamEmitter:
    """Builds correct unified events for a stream function.

    It wraps the shared :class:`~sycophant_py.wire.StreamAccumulator`: every method records what
    arrived and returns the events that produced (``start`` first, ``*_start`` / ``*_end`` around
    blocks, one terminal event), which the function yields. Blocks open implicitly; a text or
    thinking block is closed by the next one, every open block by ``done`` / ``error``.

    Args:
        model: The model the events are for (what the stream function received).
    """

    def __init__(self, model: ModelInfo, *, _call: Call | None = None) -> None:
        self._model = model
        self._call = _call
        self._acc = StreamAccumulator(model.provider, model.id)

    @property
    def accumulator(self) -> StreamAccumulator:
        """The underlying accumulator (the partial response's state)."""
        return self._acc

    @property
    def partial(self) -> Any:
        """The live view of the response so far (``event.partial``)."""
        return self._acc.view

    def start(self) -> list[StreamEvent]:
        """The ``start`` event (sent once; content methods send it when it was not)."""
        self._acc.start()
        return self._acc.drain()

    def text(self, delta: str, *, key: Hashable | None = None) -> list[StreamEvent]:
        """Append text (``text_start`` first when no text block is open).

        Args:
            delta: The text received.
            key: Identifies a block when the API interleaves several (default: the open one).
        """
        self._acc.text(delta, key)
        return self._acc.drain()

    def thinking(
        self, delta: str = "", *, signature: str | None = None, redacted: bool = False, key: Hashable | None = None
    ) -> list[StreamEvent]:
        """Append reasoning text and/or its signature (kept for a round trip on this provider)."""
        self._acc.thinking(delta, key=key, signature=signature, redacted=redacted)
        return self._acc.drain()

    def tool_call(
        self,
        id: str,  # noqa: A002 - the tool-call id, as everywhere in the library
        name: str | None = None,
        arguments: str | Mapping[str, Any] = "",
        *,
        key: Hashable | None = None,
    ) -> list[StreamEvent]:
        """Start or continue a tool call.

        Args:
            id: The provider's tool-call id (also the block key unless ``key`` is given).
            name: The tool name (needed on the first call for an id).
            arguments: A raw JSON fragment to append (call again with the same id for the next),
                or the complete arguments as a mapping (the call is then ended at once).
            key: Identifies the call when the API streams by index rather than id.
        """
        block = ("tool_call", key if key is not None else id)
        complete = isinstance(arguments, Mapping)
        raw = json.dumps(dict(arguments), ensure_ascii=False) if isinstance(arguments, Mapping) else arguments
        self._acc.tool_call(block, id=id, name=name, arguments=raw)
        if complete:
            self._acc.end_key(block)
        return self._acc.drain()

    def end(self, key: Hashable | None = None) -> list[StreamEvent]:
        """Close a block: the one opened with ``key`` (a tool call's id), else the latest open one."""
        if key is not None:
            self._acc.end_key(("tool_call", key))
            self._acc.end_key(key)
        else:
            open_blocks = [i for i, b in enumerate(self._acc.blocks) if not b.ended]
            if open_blocks:
                self._acc.end_block(open_blocks[-1])
        return self._acc.drain()

    def set_usage(self, usage: Usage | Mapping[str, int] | None = None, /, **counts: int) -> list[StreamEvent]:
        """Record token counts (kept by an ``error`` ending too); returns no events.

        Args:
            usage: A ``Usage``, or a mapping with ``input_tokens`` (uncached input),
                ``output_tokens`` (reasoning included), ``cache_read_tokens``,
                ``cache_write_tokens``, ``reasoning_tokens`` (pi's ``input``, ``output``,
                ``cacheRead``, ``cacheWrite`` are accepted).
            **counts: The same keys as keyword arguments.
        """
        if isinstance(usage, Usage):
            self._acc.usage = usage
            return []
        values = {**(usage or {}), **counts}
        new = Usage()
        for k, v in values.items():
            if k == "total_tokens":
                continue  # derived: input + output + cache read + cache write
            name = _USAGE_KEYS.get(k)
            if name is None:
                raise ValueError(f"unknown usage field {k!r} (known: {', '.join(sorted(_USAGE_KEYS))})")
            setattr(new, name, int(v))
        self._acc.usage = new
        return []

    def done(
        self,
        reason: str = "stop",
        *,
        usage: Usage | Mapping[str, int] | None = None,
        id: str | None = None,  # noqa: A002 - the response id
        raw: Any = None,
        provider_reason: str | None = None,
    ) -> list[StreamEvent]:
        """End the stream successfully: closes open blocks and sends ``done``.

        Args:
            reason: ``stop``, ``length``, ``tool_use`` or ``content_filter`` (``stop`` becomes
                ``tool_use`` when the answer holds tool calls).
            usage: Token counts (see :meth:`set_usage`).
            id: The provider's response id.
            raw: The provider's last payload (``response.raw``).
            provider_reason: The provider's own finish reason (``response.provider_finish_reason``).
        """
        mapped = _DONE_REASONS.get(reason)
        if mapped is None:
            raise ValueError(f"done(reason={reason!r}): use one of {sorted(set(_DONE_REASONS.values()))}")
        if usage is not None:
            self.set_usage(usage)
        if id is not None:
            self._acc.id = id
        if raw is not None:
            self._acc.raw = raw
        self._acc.provider_finish_reason = provider_reason or reason
        self._acc.finish(mapped)
        return self._acc.drain()

    def error(self, error: BaseException | str, *, aborted: bool = False) -> list[StreamEvent]:
        """End the stream with an ``error`` event that keeps the partial content and usage.

        Args:
            error: The exception (a library ``ProviderError`` keeps its class), or a message.
            aborted: The reason is ``aborted`` rather than ``error``.
        """
        exc: BaseException = StreamError(error) if isinstance(error, str) else error
        self._acc.fail(_wrap(exc, self._model.provider, self._model.id), "aborted" if aborted else "error")
        return self._acc.drain()

    def http_error(
        self, status: int, body: bytes | str | Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> ProviderError:
        """The library exception for an HTTP error answer, to ``raise``.

        The class follows the status (``RateLimited`` for 429 with its ``retry_after``,
        ``ServerError`` for 5xx...), so the retry policy treats it as it treats the built-in
        protocols' errors. The message comes from ``body["error"]["message"]`` (or similar).

        Args:
            status: The HTTP status.
            body: The response body (bytes, text, or decoded JSON).
            headers: The response headers (``retry-after``, request id).
        """
        from sycophant_py._pipeline import error_from_response

        call = self._call or Call.resolved(self._model, _PROTOCOL)
        if isinstance(body, Mapping):
            data = json.dumps(body).encode()
        else:
            data = body.encode() if isinstance(body, str) else body or b""
        return error_from_response(call, status, {k.lower(): v for k, v in (headers or {}).items()}, data)


class CustomStreamProtocol(WireProtocol):
    """Stands in the pipeline's protocol slot for a call served by a stream function.

    The pipeline's steps still run (credentials, the URL and the headers are resolved as for any
    call, so an unset env var in a header is an error before the function runs); nothing here
    encodes or decodes: the function does.
    """

    name = "custom_stream"

    @override
    def request_path(self, request: Request) -> str:
        return ""

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        return {}

    @override
    def decode_response(self, body: Any) -> Response:
        raise NotImplementedError("a stream function's calls are never decoded by a protocol")

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        return []

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        return {}

    @override
    def init_stream(self) -> StreamAccumulator:
        return StreamAccumulator()

    @override
    def decode_stream_chunk(self, state: Any, event: Any) -> StreamResult:
        raise NotImplementedError("a stream function's calls are never decoded by a protocol")


_PROTOCOL = CustomStreamProtocol()


# -- the pipeline steps of a call served by a stream function ---------------------------------


def _stream_fn(model: ModelInfo, api: str | None) -> StreamFunction | None:
    from sycophant_py._providers import canonical_api

    fn: StreamFunction | None = model.extra.get("_stream")
    if fn is None:
        return None
    wanted = canonical_api(api) if api is not None else model.api
    return fn if wanted == model.extra.get("_stream_api") else None


def _step_resolve(call: Call) -> Call:
    """Resolve the model; the protocol slot gets the stand-in."""
    from sycophant_py._catalog import resolve_model
    from sycophant_py._log import log

    call.model = model = resolve_model(call.spec)
    call.protocol = _PROTOCOL
    call.log = log.bind(provider=model.provider, model=model.id, wire_protocol=f"{model.api} (stream function)")
    return call


def _step_params(call: Call) -> Call:
    """Validate the shared params; pass any others through (the function defines its own API)."""
    if not call.raw_params:
        return call
    from sycophant_py._params import SharedParams, validate_params

    validated, others = validate_params(SharedParams, call.raw_params)
    call.params = {**validated, **{k: call.raw_params[k] for k in others if call.raw_params[k] is not None}}
    return call


_REPLACED: dict[Callable[[Call], Call], Callable[[Call], Call]] = {
    step_resolve_model: _step_resolve,
    step_validate_params: _step_params,
}


def prepare_steps(call: Call) -> list[Callable[[Call], Call]]:
    """The PREPARE steps for a call: the stream function's when one serves it, else ``PREPARE``.

    Loads the extensions first (an extension may have registered the function).
    """
    ensure_loaded()
    if call.kind != "chat":
        return PREPARE
    from sycophant_py._catalog import resolve_model

    if _stream_fn(resolve_model(call.spec), call.api) is None:
        return PREPARE
    return [_REPLACED.get(step, step) for step in PREPARE]


def is_custom(call: Call) -> bool:
    """True when a stream function serves this (prepared) call."""
    return isinstance(call.protocol, CustomStreamProtocol)


# -- the sans-I/O driver ----------------------------------------------------------------------


class _Core:
    """Checks and completes what a stream function yields (the stream shells' core)."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.emit = StreamEmitter(call.model, _call=call)
        self.acc = self.emit.accumulator
        self.delivered = False
        self.final: Response | None = None
        self._preloaded: list[StreamEvent] = []

    def options(self) -> StreamOptions:
        req = apply_auth(self.call)
        creds = self.call.credentials
        return StreamOptions(
            emit=self.emit,
            api_key=creds.api_key,
            credentials=creds,
            base_url=req.url,
            headers={k: v for k, v in req.headers.items() if k not in _NOT_HEADERS},
            params=dict(self.call.params),
            tools=self.call.tools,
            response_schema=dict(self.call.response_schema) if self.call.response_schema is not None else None,
            schema_name=self.call.schema_name,
            timeout=self.call.remaining(),
        )

    def context(self) -> Context:
        """The conversation as the function receives it: prepared for its provider like any protocol's
        (failed turns left out, other providers' thinking as text or dropped, their signatures removed)."""
        call = self.call
        req = Request(call.model, call.messages, call.params, foreign_thinking=_config.settings().foreign_thinking)
        messages = prepare_history(req, call.chat_protocol.handoff_rules(call.model))
        return Context(messages, dict(call.params), call.tools)

    def _items(self, item: Any) -> list[StreamEvent] | None:
        if isinstance(item, StreamEvent):
            return [item]
        if isinstance(item, (list, tuple)) and all(isinstance(e, StreamEvent) for e in item):
            return list(item)
        return None

    def preload(self, events: list[StreamEvent]) -> None:
        """Events decided while opening (a failure before the first item), delivered by ``begin``."""
        self._preloaded = events

    def begin(self) -> list[StreamEvent]:
        """Events decided while opening (a failure before the first item)."""
        events, self._preloaded = self._preloaded, []
        return events

    def feed(self, item: Any) -> list[StreamEvent]:
        """The events to deliver for one yielded item (up to and including a terminal one)."""
        if self.final is not None:
            return []
        events = self._items(item)
        if events is None:
            what = type(item).__name__
            return self.fail(ResponseInvalid(f"a stream function yielded a {what}; yield the emitter's events"))
        out: list[StreamEvent] = []
        for ev in events:
            self.acc = ev.partial._acc  # the events' own accumulator holds the partial content
            if ev.type == "start":
                if self.delivered:
                    continue
            elif not self.delivered and ev.type != "error":
                self.acc.started = True
                out.append(StreamEvent("start", self.acc.view))
            self.delivered = True
            out.append(ev)
            if ev.type in ("done", "error"):
                self._finish(ev)
                break
        if self.final is None and self.call.deadline is not None:
            try:
                self.call.remaining()
            except ProviderError as exc:
                out.extend(self.fail(exc))
        return out

    def _finish(self, ev: StreamEvent) -> None:
        model = self.call.model
        if ev.type == "done":
            resp = ev.response if ev.response is not None else self.acc.build(ev.reason or "stop")
            ev.reason = ev.reason or resp.finish_reason
        else:
            err = _wrap(ev.error or StreamError("stream function error"), model.provider, model.id)
            ev.error = err
            resp = ev.response if ev.response is not None else self.acc.build("error", err)
            resp.error = err
            ev.reason = ev.reason or "error"
        self.acc.finished = True
        ev.response = self.final = finish_response(self.call, resp)
        if ev.type == "done":
            _run.emit_response(self.call, self.final)
        else:
            _run.emit_error(self.call, err, self.final)

    def fail(self, exc: BaseException) -> list[StreamEvent]:
        """End with an ``error`` event keeping the partial content (what the function raised)."""
        if self.final is not None:
            return []
        model = self.call.model
        self.acc.fail(_wrap(exc, model.provider, model.id))
        events = [e for e in self.acc.drain() if e.type != "start" or not self.delivered]
        self._finish(events[-1])
        self.delivered = True
        return events

    def end(self) -> list[StreamEvent]:
        """The function returned: an error unless it sent a terminal event."""
        provider = self.call.model.provider
        return self.fail(ResponseInvalid(f"the stream function of provider {provider!r} ended without done/error"))

    def abort(self) -> Response:
        """The caller closed the stream: the partial response with reason ``aborted``."""
        if self.final is None:
            resp = self.acc.fail(StreamAborted("the stream was closed by the caller"), "aborted")
            self.acc.drain()
            self.final = finish_response(self.call, resp)
        return self.final


def _function(call: Call) -> StreamFunction:
    fn: StreamFunction = call.model.extra["_stream"]
    return fn


def check_sync(call: Call) -> None:
    """A sync entry point cannot run an async stream function: say so before anything runs."""
    fn = _function(call)
    if inspect.isasyncgenfunction(fn) or inspect.iscoroutinefunction(fn):
        raise InvalidError(
            f"the stream function of provider {call.model.provider!r} is async: "
            "call it through an async entry point (astream_text, agenerate_text...)"
        )


def _sync_source(result: Any, call: Call) -> Iterator[Any]:
    if inspect.isawaitable(result) or not hasattr(result, "__iter__"):
        if inspect.iscoroutine(result):
            result.close()
        raise InvalidError(
            f"the stream function of provider {call.model.provider!r} returned {type(result).__name__}, "
            "not an iterable of events (async functions need an async entry point)"
        )
    return iter(result)


def _close(source: Any) -> None:
    close = getattr(source, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - a function failing while it is closed must not mask the result
            from sycophant_py._log import log

            log.warning("stream_function.close_failed", exc_info=True)


async def _aiter(result: Any, call: Call) -> AsyncIterator[Any]:
    """A stream function's result as one async iterator: async iterables, or sync ones run inline."""
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
        return
    source = _sync_source(result, call)
    try:
        for item in source:
            yield item
    finally:
        _close(source)


async def _aclose(source: Any) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:  # noqa: BLE001 - see _close
        from sycophant_py._log import log

        log.warning("stream_function.close_failed", exc_info=True)


class FunctionSource:
    """Items yielded by a provider's stream function (the ``Source`` of the stream shells).

    The function is called (and its first item read) inside the retry loop, so a retryable
    ``ProviderError`` raised before the first event is retried; an ``InvalidError`` is raised; any
    other failure before the first event becomes the terminal ``error`` event.
    """

    __slots__ = ("call", "gen")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.gen: Any = None

    def _call_function(self, core: _Core) -> Any:
        call = self.call
        _run.emit_request(call, call.http)
        return _function(call)(call.model, core.context(), core.options())

    def open(self) -> tuple[_Core, Iterator[Any]]:
        """Call the function and read its first item (sync)."""
        call = self.call
        try:
            for attempt in _run.retrying(call):
                with attempt:
                    core = _Core(call)
                    self.gen = source = _sync_source(self._call_function(core), call)
                    first = next(source, _END)
                    return core, (source if first is _END else itertools.chain((first,), source))
        except InvalidError:
            raise
        except Exception as exc:  # noqa: BLE001 - becomes the terminal error event (module docstring)
            return _failed(call, exc), iter(())
        raise AssertionError("unreachable")  # pragma: no cover

    async def aopen(self) -> tuple[_Core, AsyncIterator[Any]]:
        """Async twin of :meth:`open` (credentials are prepared here on first use)."""
        call = self.call
        if not call.prepared:
            await _run.aprepare(call)
        try:
            async for attempt in _run.aretrying(call):
                with attempt:
                    core = _Core(call)
                    self.gen = source = _aiter(self._call_function(core), call)
                    first = await anext(source, _END)
                    return core, (source if first is _END else _prepend(first, source))
        except InvalidError:
            raise
        except Exception as exc:  # noqa: BLE001 - becomes the terminal error event
            return _failed(call, exc), _nothing()
        raise AssertionError("unreachable")  # pragma: no cover

    def fallback_core(self) -> _Core:
        """A core for a stream that never opened."""
        return _Core(self.call)

    def close(self) -> None:
        """Close the function's generator (pi's abort)."""
        if self.gen is not None:
            _close(self.gen)

    async def aclose(self) -> None:
        """Close the function's async generator."""
        if self.gen is not None:
            await _aclose(self.gen)

    def finish(self) -> None:
        """The stream ended with ``done``: close the function's generator."""
        self.close()

    async def afinish(self) -> None:
        """Async twin of :meth:`finish`."""
        await self.aclose()

    def abandon(self) -> None:
        """Dropped without closing: the generator is finalised by Python itself, nothing else is held."""
        self.gen = None


_END = object()


def _failed(call: Call, exc: Exception) -> _Core:
    """A core whose stream failed before the first item: its first events are the terminal error."""
    core = _Core(call)
    core.preload(core.fail(exc))
    return core


async def _prepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for item in rest:
        yield item


async def _nothing() -> AsyncIterator[Any]:
    return
    yield  # an async generator that yields nothing
