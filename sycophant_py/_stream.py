"""Streaming: the pure stream core, and the sync and async iterators users get.

``StreamCore`` is sans-I/O: it takes body chunks and yields unified events, turning every way a
stream can end (the provider's end marker, an error event, a dropped connection, a body that
ends early, a frame that cannot be decoded) into exactly one terminal event that keeps the
partial content and usage. ``TextStream`` and ``AsyncTextStream`` are the two thin I/O loops.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sycophant_py import _hooks
from sycophant_py._events import StreamAccumulator, StreamEvent
from sycophant_py._exceptions import ProviderError, ResponseInvalid, SycophantError
from sycophant_py._pipeline import Call, finish_response
from sycophant_py._sse import NDJSONDecoder, SSEDecoder
from sycophant_py._types import Response
from sycophant_py.wire._base import StreamContinue, StreamDone, StreamFailed, StreamResult

if TYPE_CHECKING:
    from sycophant_py._transport import StreamHandle

__all__ = ["AsyncTextStream", "StreamAborted", "StreamCore", "TextStream"]

_DECODE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)


class StreamAborted(SycophantError):
    """The caller closed the stream before it ended."""


def _decoder(transport: str) -> Any:
    if transport == "sse":
        return SSEDecoder()
    if transport == "ndjson":
        return NDJSONDecoder()
    if transport == "event_stream":
        module = importlib.import_module("sycophant_py._eventstream")  # Bedrock, loaded only when used
        return module.EventStreamDecoder()
    raise ValueError(f"unknown stream transport {transport!r}")


class StreamCore:
    """Pure stream state for one call: chunks in, unified events out."""

    __slots__ = ("call", "decoder", "final", "headers", "proto", "state")

    def __init__(self, call: Call, headers: dict[str, str]) -> None:
        self.call = call
        self.proto = call.protocol
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
            if _hooks.active("response"):
                _hooks.emit(
                    "response", {"provider": self.final.provider, "model": self.call.model.id, "response": self.final}
                )
            return result.events
        events = result.events
        terminal = events[-1] if events and events[-1].type == "error" else None
        if terminal is None or terminal.response is None:
            resp = self.state.fail(result.error)
            events = events + self.state.drain()
        else:
            resp = terminal.response
        self.final = finish_response(self.call, resp, self.headers)
        _hooks.emit(
            "error",
            {
                "provider": self.final.provider,
                "model": self.call.model.id,
                "error": result.error,
                "response": self.final,
            },
        )
        return events

    def _invalid(self, exc: Exception) -> list[StreamEvent]:
        err = ResponseInvalid(
            f"cannot decode stream frame: {exc}", provider=self.call.model.provider, model=self.call.model.id
        )
        err.__cause__ = exc
        return self.fail(err)

    def _decode(self, frames: Iterable[Any]) -> Iterator[StreamEvent]:
        # One frame at a time: its events are delivered before the next frame is decoded, so the
        # live ``event.partial`` never runs ahead of the events the caller has seen.
        for frame in frames:
            try:
                events = self._result(self.proto.decode_stream_chunk(self.state, frame))
            except ProviderError as exc:
                events = self.fail(exc)
            except _DECODE_ERRORS as exc:
                events = self._invalid(exc)
            yield from events
            if self.final is not None:
                return

    def feed(self, chunk: bytes) -> Iterator[StreamEvent]:
        """Decode a body chunk; yields its events (the last is terminal once ``final`` is set)."""
        try:
            frames = self.decoder.feed(chunk)
        except _DECODE_ERRORS as exc:
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
        except _DECODE_ERRORS as exc:
            yield from self._invalid(exc)
            return
        yield from self._decode(frames)
        if self.final is None:
            try:
                events = self._result(self.proto.end_of_stream(self.state))
            except _DECODE_ERRORS as exc:
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


class TextStream:
    """Iterator of unified events from ``stream_text``; also ``.response()`` and ``.close()``."""

    def __init__(self, opener: Callable[[], tuple[StreamHandle, StreamCore]], call: Call) -> None:
        self._opener = opener
        self._call = call
        self._core: StreamCore | None = None
        self._gen: Generator[StreamEvent, None, None] | None = None
        self._closed = False

    def _events(self) -> Generator[StreamEvent, None, None]:
        handle, core = self._opener()
        self._core = core
        try:
            yield from core.begin()
            chunks = handle.iter_bytes()
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except ProviderError as exc:
                    yield from core.fail(exc)
                    return
                yield from core.feed(chunk)
                if core.final is not None:
                    return
            yield from core.end()
        finally:
            handle.close()

    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> StreamEvent:
        if self._closed:
            raise StopIteration
        if self._gen is None:
            self._gen = self._events()
        return next(self._gen)

    def __enter__(self) -> TextStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def response(self) -> Response:
        """Drain the stream and return the final response (partial, with ``error`` set, on failure)."""
        for _ in self:
            pass
        if self._core is None or self._core.final is None:  # pragma: no cover - the loop always ends a stream
            raise RuntimeError("stream ended without a final response")
        return self._core.final

    def close(self) -> None:
        """Stop reading and release the connection; the partial response becomes ``aborted``.

        After ``close()`` iteration stops and ``response()`` returns that response (with
        ``finish_reason == "aborted"``, or the final one when the stream had already ended).
        Closing before iterating sends nothing.
        """
        self._closed = True
        if self._gen is not None:
            self._gen.close()
        if self._core is None:
            self._core = StreamCore(self._call, {})
        self._core.abort()


class AsyncTextStream:
    """Async iterator of unified events from ``astream_text``; ``await .response()``, ``.aclose()``."""

    def __init__(self, opener: Callable[[], Any], call: Call) -> None:
        self._opener = opener
        self._call = call
        self._core: StreamCore | None = None
        self._gen: AsyncGenerator[StreamEvent, None] | None = None
        self._closed = False

    async def _events(self) -> AsyncGenerator[StreamEvent, None]:
        handle, core = await self._opener()
        self._core = core
        try:
            for ev in core.begin():
                yield ev
            chunks = handle.aiter_bytes()
            while True:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except ProviderError as exc:
                    for ev in core.fail(exc):
                        yield ev
                    return
                for ev in core.feed(chunk):
                    yield ev
                if core.final is not None:
                    return
            for ev in core.end():
                yield ev
        finally:
            await handle.aclose()

    def __aiter__(self) -> AsyncTextStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._closed:
            raise StopAsyncIteration
        if self._gen is None:
            self._gen = self._events()
        return await self._gen.__anext__()

    async def __aenter__(self) -> AsyncTextStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def response(self) -> Response:
        """Drain the stream and return the final response."""
        async for _ in self:
            pass
        if self._core is None or self._core.final is None:  # pragma: no cover - the loop always ends a stream
            raise RuntimeError("stream ended without a final response")
        return self._core.final

    async def aclose(self) -> None:
        """Stop reading and release the connection; the partial response becomes ``aborted``.

        After ``aclose()`` iteration stops and ``await response()`` returns that response (see
        :meth:`TextStream.close`).
        """
        self._closed = True
        if self._gen is not None:
            await self._gen.aclose()
        if self._core is None:
            self._core = StreamCore(self._call, {})
        self._core.abort()
