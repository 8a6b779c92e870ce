"""Streaming: one lifecycle for every stream, and the pure core that decodes one.

``StreamCore`` is sans-I/O: it takes body chunks and yields unified events, turning every way a
stream can end (the provider's end marker, an error event, a dropped connection, a body that ends
early, a frame that cannot be decoded, a frame past the size limits) into exactly one terminal event
that keeps the partial content and usage.

``TextStream`` and ``AsyncTextStream`` are the two thin I/O shells every stream uses, whatever
feeds it: an HTTP response decoded by a wire protocol, or a provider's custom stream function
(``_custom_stream``). A *source* opens (retried until the provider accepts), hands out items and
closes; a *core* turns items into events. The shells hold the only loop.

Lifecycle rules (DESIGN.md "Lifecycle, limits and errors"):

- A stream releases its connection as soon as its terminal event is decoded, when it is closed,
  when the caller leaves it by ``break`` (it is released when the last reference goes), when its
  task is cancelled, and when it is garbage-collected.
- There is no reference cycle between a stream and anything it owns (no generator holds the
  stream), so a dropped stream is released at once by reference counting, not at some later
  garbage collection; and the finaliser never takes a lock (``StreamHandle.abandon``).
- Errors before the first event are raised from iteration (after the retries); after it, they
  are the terminal ``error`` event. ``response()`` after a cancellation or ``close()`` returns
  the partial response with reason ``aborted``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self

from typing_extensions import override

from sycophant_py import _config, _run
from sycophant_py._events import StreamAccumulator, StreamEvent
from sycophant_py._exceptions import ProviderError, ResponseInvalid, StreamAborted
from sycophant_py._pipeline import Call, finish_response
from sycophant_py._sse import NDJSONDecoder, SSEDecoder
from sycophant_py._types import Response, TextPart, ThinkingPart, ToolCall
from sycophant_py.wire._base import StreamContinue, StreamDone, StreamFailed, StreamResult

if TYPE_CHECKING:
    from sycophant_py._transport import StreamHandle

__all__ = ["AsyncTextStream", "StreamCore", "TextStream", "replay_response"]


class FrameDecoder(Protocol):
    """A sans-I/O decoder of a streamed body: bytes in, the frames a protocol decodes out."""

    def feed(self, data: bytes, /) -> Sequence[object]: ...
    def flush(self) -> Sequence[object]: ...


def _decoder(transport: str) -> FrameDecoder:
    cap = _config.settings().limits.max_event_bytes
    if transport == "sse":
        return SSEDecoder(max_event_bytes=cap)
    if transport == "ndjson":
        return NDJSONDecoder(max_event_bytes=cap)
    if transport == "event_stream":
        from sycophant_py._eventstream import EventStreamDecoder  # Bedrock's framing, loaded only when used

        return EventStreamDecoder(max_frame_bytes=cap)
    raise ValueError(f"unknown stream transport {transport!r}")


class Core(Protocol):
    """What the shells need of a stream core (HTTP ``StreamCore`` or a stream function's)."""

    final: Response | None

    def begin(self) -> Iterable[StreamEvent]: ...
    def feed(self, item: Any) -> Iterable[StreamEvent]: ...
    def end(self) -> Iterable[StreamEvent]: ...
    def fail(self, exc: Exception) -> Iterable[StreamEvent]: ...
    def abort(self) -> Response: ...


class StreamCore:
    """Pure stream state for one call: body chunks in, unified events out."""

    __slots__ = ("call", "decoder", "final", "headers", "proto", "state")

    def __init__(self, call: Call, headers: dict[str, str]) -> None:
        self.call = call
        self.proto = call.chat_protocol
        self.headers = headers
        state: StreamAccumulator = self.proto.init_stream()
        state.provider = call.model.provider
        state.model = state.model or call.model.id
        self.state = state
        self.decoder = _decoder(self.proto.stream_transport)
        self.final: Response | None = None

    def begin(self) -> list[StreamEvent]:
        """The ``start`` event, as soon as the provider accepted the request."""
        self.state.start()
        return self.state.drain()

    def _result(self, result: StreamResult) -> list[StreamEvent]:
        if isinstance(result, StreamContinue):
            self.state = result.state
            return result.events
        if isinstance(result, StreamDone):
            self.final = finish_response(self.call, result.response, self.headers)
            _run.emit_response(self.call, self.final)
            return result.events
        events = result.events
        terminal = events[-1] if events and events[-1].type == "error" else None
        if terminal is None or terminal.response is None:
            resp = self.state.fail(result.error)
            events = events + self.state.drain()
        else:
            resp = terminal.response
        self.final = finish_response(self.call, resp, self.headers)
        _run.emit_error(self.call, result.error, self.final)
        return events

    def _invalid(self, exc: Exception) -> list[StreamEvent]:
        if isinstance(exc, ProviderError):
            exc.provider = exc.provider or self.call.model.provider
            exc.model = exc.model or self.call.model.id
            return self.fail(exc)
        err = ResponseInvalid(
            f"cannot decode stream frame: {type(exc).__name__}: {exc}"[:1000],
            provider=self.call.model.provider,
            model=self.call.model.id,
        )
        err.__cause__ = exc
        return self.fail(err)

    def _decode(self, frames: Iterable[Any]) -> Iterator[StreamEvent]:
        # One frame at a time: its events are delivered before the next frame is decoded, so the
        # live ``event.partial`` never runs ahead of the events the caller has seen.
        for frame in frames:
            try:
                events = self._result(self.proto.decode_stream_chunk(self.state, frame))
            except Exception as exc:  # noqa: BLE001 - a decoder's surprise ends the stream as ResponseInvalid
                events = self._invalid(exc)
            yield from events
            if self.final is not None:
                return

    def feed(self, chunk: bytes) -> Iterator[StreamEvent]:
        """Decode a body chunk; yields its events (the last is terminal once ``final`` is set)."""
        try:
            frames = self.decoder.feed(chunk)
        except Exception as exc:  # noqa: BLE001 - framing errors and size limits end the stream
            yield from self._invalid(exc)
            return
        yield from self._decode(frames)
        if self.final is None and self.call.deadline is not None:
            try:
                self.call.remaining()
            except ProviderError as exc:
                yield from self.fail(exc)

    def end(self) -> Iterator[StreamEvent]:
        """The body ended: flush the decoder, then let the protocol judge the ending."""
        try:
            frames = self.decoder.flush()
        except Exception as exc:  # noqa: BLE001 - as in ``feed``
            yield from self._invalid(exc)
            return
        yield from self._decode(frames)
        if self.final is None:
            try:
                events = self._result(self.proto.end_of_stream(self.state))
            except Exception as exc:  # noqa: BLE001 - as in ``_decode``
                events = self._invalid(exc)
            yield from events

    def fail(self, exc: Exception) -> list[StreamEvent]:
        """End the stream with an ``error`` event keeping the partial content."""
        if self.final is not None:
            return []
        return self._result(StreamFailed(exc, []))

    def abort(self) -> Response:
        """The caller closed the stream: the partial response with reason ``aborted``."""
        if self.final is None:
            resp = self.state.fail(StreamAborted("the stream was closed by the caller"), "aborted")
            self.state.drain()
            self.final = finish_response(self.call, resp, self.headers)
        return self.final


def replay_response(acc: StreamAccumulator, resp: Response) -> Response:
    """Feed a complete response into an accumulator as the events a stream would have produced."""
    for i, part in enumerate(resp.parts):
        if isinstance(part, TextPart):
            acc.text(part.text, key=("part", i))
        elif isinstance(part, ThinkingPart):
            acc.thinking(part.text, key=("part", i), signature=part.signature, redacted=part.redacted)
        elif isinstance(part, ToolCall):
            acc.tool_call(("part", i), id=part.id, name=part.name, arguments=part.arguments_json)
        else:
            continue
        acc.end_key(("part", i))
    acc.usage = resp.usage
    acc.id = resp.id or acc.id
    acc.model = resp.model or acc.model
    acc.raw = resp.raw
    acc.provider_finish_reason = resp.provider_finish_reason
    if resp.finish_reason in ("error", "aborted"):
        return acc.fail(resp.error or ResponseInvalid("the provider reported an error"), "error")
    return acc.finish(resp.finish_reason)


class _WholeBody(StreamCore):
    """A streaming request answered with one JSON body (some servers ignore ``stream``)."""

    __slots__ = ("_events",)

    def load(self, raw: bytes) -> None:
        """Decode the body into the events a stream would have given, or raise the provider's message."""
        call = self.call
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        try:
            resp = call.chat_protocol.decode_response(body)
            if isinstance(body, dict) and body.get("error") and not resp.parts:
                raise ValueError("an error body")
        except Exception as exc:
            message, _ = call.protocol.decode_error(200, body)
            raise ResponseInvalid(
                f"the provider answered a streaming request with a JSON body: {message}"[:1000],
                status_code=200,
                provider=call.model.provider,
                model=call.model.id,
                body=body,
            ) from exc
        self.state.start()
        final = replay_response(self.state, resp)
        self.final = finish_response(call, final, self.headers)
        self._events = self.state.drain()
        _run.emit_response(call, self.final)

    @override
    def begin(self) -> list[StreamEvent]:
        return self._events


def _is_json(handle: StreamHandle) -> bool:
    ctype = handle.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype == "application/json"


def _whole_or_stream(call: Call, headers: dict[str, str], body: bytes) -> Core:
    """The core for a streaming request answered ``application/json``: one JSON body is an answer (or
    an error, raised), except that newline-delimited JSON mislabelled so is decoded as the stream it is."""
    if call.chat_protocol.stream_transport == "ndjson" and len(body.strip().splitlines()) > 1:
        core = StreamCore(call, headers)
        return core
    whole = _WholeBody(call, headers)
    whole.load(body)
    return whole


class HttpSource:
    """Items from an HTTP streamed response: the opening is retried, then body chunks."""

    __slots__ = ("call", "handle")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.handle: StreamHandle | None = None

    def open(self) -> tuple[Core, Iterator[Any]]:
        """Send the request and wait until the provider accepts it (sync)."""
        self.handle = handle = _run.open_stream(self.call)
        if not _is_json(handle):
            return StreamCore(self.call, handle.headers), handle.iter_bytes()
        try:
            body = handle.read()
        finally:
            self.close()
        core = _whole_or_stream(self.call, handle.headers, body)
        return core, iter(() if isinstance(core, _WholeBody) else (body,))

    async def aopen(self) -> tuple[Core, AsyncIterator[Any]]:
        """Async twin of :meth:`open` (credentials are prepared here: ``astream_text`` is not a coroutine)."""
        if not self.call.prepared:
            await _run.aprepare(self.call)
        self.handle = handle = await _run.aopen_stream(self.call)
        if not _is_json(handle):
            return StreamCore(self.call, handle.headers), handle.aiter_bytes()
        try:
            body = await handle.aread()
        finally:
            await self.aclose()
        core = _whole_or_stream(self.call, handle.headers, body)
        return core, _empty() if isinstance(core, _WholeBody) else _once(body)

    def fallback_core(self) -> Core:
        """A core for a stream that never opened (to give a closed stream its aborted response)."""
        return StreamCore(self.call, {})

    def close(self) -> None:
        """Release the connection (sync)."""
        if self.handle is not None:
            self.handle.close()

    async def aclose(self) -> None:
        """Release the connection (async)."""
        if self.handle is not None:
            await self.handle.aclose()

    def finish(self) -> None:
        """The stream ended with ``done``: give the connection back to the pool when it can be reused."""
        if self.handle is not None:
            self.handle.finish()

    async def afinish(self) -> None:
        """Async twin of :meth:`finish`."""
        if self.handle is not None:
            await self.handle.afinish()

    def abandon(self) -> None:
        """Release from a finaliser (no lock, nothing awaited)."""
        if self.handle is not None:
            self.handle.abandon()


async def _once(item: Any) -> AsyncIterator[Any]:
    yield item


async def _empty() -> AsyncIterator[Any]:
    return
    yield  # an async generator that yields nothing


class Source(Protocol):
    """Where a stream's items come from."""

    def open(self) -> tuple[Core, Iterator[Any]]: ...
    async def aopen(self) -> tuple[Core, AsyncIterator[Any]]: ...
    def fallback_core(self) -> Core: ...
    def close(self) -> None: ...
    async def aclose(self) -> None: ...
    def finish(self) -> None: ...
    async def afinish(self) -> None: ...
    def abandon(self) -> None: ...


_NEW, _OPEN, _ENDED, _FAILED = 0, 1, 2, 3
_TERMINAL = frozenset({"done", "error"})


class _Base:
    """State shared by the sync and async shells (no I/O here)."""

    __slots__ = ("__weakref__", "_call", "_core", "_error", "_items", "_pending", "_source", "_state")

    def __init__(self, source: Source, call: Call) -> None:
        self._source = source
        self._call = call
        self._core: Core | None = None
        self._items: Any = None
        self._pending: Iterator[StreamEvent] = iter(())
        self._state = _NEW
        self._error: BaseException | None = None

    def _opened(self, core: Core, items: Any) -> None:
        self._core, self._items, self._state = core, items, _OPEN
        self._pending = iter(core.begin())

    def _aborted(self) -> Response:
        """Mark the stream closed by the caller; the final (or aborted partial) response."""
        self._state = _ENDED
        self._pending = iter(())
        if self._core is None:
            self._core = self._source.fallback_core()
        return self._core.abort()

    def _final(self) -> Response:
        if self._state == _FAILED and self._error is not None:
            raise self._error
        if self._core is None or self._core.final is None:
            return self._aborted()
        return self._core.final

    def __del__(self) -> None:
        if self._state == _OPEN:
            with contextlib.suppress(Exception):  # a finaliser must never raise
                self._source.abandon()


class TextStream(_Base):
    """Iterator of unified events from ``stream_text``; also ``.response()`` and ``.close()``.

    ``with syc.stream_text(...) as s:`` closes the stream on exit.
    """

    __slots__ = ()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> StreamEvent:
        while True:
            ev = next(self._pending, None)
            if ev is not None:
                if self._state == _OPEN and ev.type in _TERMINAL:
                    self._state = _ENDED  # the connection goes back to the pool before the caller sees the end
                    if ev.type == "done":
                        self._source.finish()
                    else:
                        self._source.close()
                return ev
            if self._state >= _ENDED:
                raise StopIteration
            self._step()

    def _step(self) -> None:
        if self._state == _NEW:
            try:
                self._opened(*self._source.open())
            except BaseException as exc:
                self._state, self._error = _FAILED, exc
                raise
            return
        assert self._core is not None
        try:
            item = next(self._items)
        except StopIteration:
            self._pending = iter(self._core.end())
        except Exception as exc:  # noqa: BLE001 - becomes the terminal error event
            self._pending = iter(self._core.fail(exc))
        except BaseException:
            self.close()
            raise
        else:
            self._pending = iter(self._core.feed(item))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def response(self) -> Response:
        """Drain the stream and return the final response (partial, with ``error`` set, on failure).

        Raises:
            ProviderError: the stream failed before its first event (as iteration does).
        """
        if self._state != _FAILED:
            for _ in self:
                pass
        return self._final()

    def close(self) -> None:
        """Stop reading and release the connection; the partial response becomes ``aborted``.

        After ``close()`` iteration stops and ``response()`` returns that response (with
        ``finish_reason == "aborted"``, or the final one when the stream had already ended).
        Closing before iterating sends nothing.
        """
        if self._state == _OPEN:
            self._state = _ENDED
            try:
                self._source.close()
            finally:
                self._aborted()
        elif self._state == _NEW:
            self._aborted()


class AsyncTextStream(_Base):
    """Async iterator of unified events from ``astream_text``; ``await .response()``, ``.aclose()``.

    ``async with syc.astream_text(...) as s:`` closes the stream on exit. A task cancelled while it
    awaits the next event releases the connection at once; ``await response()`` then returns the
    partial response with reason ``aborted``.
    """

    __slots__ = ()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StreamEvent:
        while True:
            ev = next(self._pending, None)
            if ev is not None:
                if self._state == _OPEN and ev.type in _TERMINAL:
                    self._state = _ENDED
                    if ev.type == "done":
                        await self._source.afinish()
                    else:
                        await self._source.aclose()
                return ev
            if self._state >= _ENDED:
                raise StopAsyncIteration
            await self._step()

    async def _step(self) -> None:
        if self._state == _NEW:
            try:
                self._opened(*await self._source.aopen())
            except BaseException as exc:
                if isinstance(exc, Exception):
                    self._state, self._error = _FAILED, exc
                else:  # cancelled before the provider answered
                    self._aborted()
                raise
            return
        assert self._core is not None
        try:
            item = await anext(self._items)
        except StopAsyncIteration:
            self._pending = iter(self._core.end())
        except Exception as exc:  # noqa: BLE001 - becomes the terminal error event
            self._pending = iter(self._core.fail(exc))
        except BaseException:
            self._cancelled()
            raise
        else:
            self._pending = iter(self._core.feed(item))

    def _cancelled(self) -> None:
        """Cancelled mid-read: release without awaiting (the task must not wait), keep the partial."""
        if self._state == _OPEN:
            self._state = _ENDED
            self._source.abandon()
            self._aborted()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def response(self) -> Response:
        """Drain the stream and return the final response (partial on failure, ``aborted`` if cancelled)."""
        if self._state != _FAILED:
            async for _ in self:
                pass
        return self._final()

    async def aclose(self) -> None:
        """Stop reading and release the connection; the partial response becomes ``aborted``.

        After ``aclose()`` iteration stops and ``await response()`` returns that response (see
        :meth:`TextStream.close`).
        """
        if self._state == _OPEN:
            self._state = _ENDED
            try:
                await self._source.aclose()
            finally:
                self._aborted()
        elif self._state == _NEW:
            self._aborted()
