"""The gateway's ASGI app: routing, caller keys, limits, relaying and access logs; no format logic.

Every API shape lives in a served dialect (``wire/_serve``: decode the caller's request, encode our
answer); this module only wires dialects to routes. What it does itself:

* **Keys**: with keys configured, a request must present one as ``Authorization: Bearer <key>``
  (the OpenAI SDK, and the Anthropic SDK's ``auth_token``) or ``x-api-key: <key>`` (the Anthropic
  SDK's ``api_key``); compared in constant time, else 401 in the caller's error shape.
  ``/healthz`` needs no key.
* **Limits**: a body above ``max_request_bytes`` is refused with a 413 before it is read whole.
* **Streams** are relayed event by event as the upstream produces them (one ``send`` per event, so
  the server's flow control pushes back on the upstream read); nothing is buffered. The status is
  decided once the upstream has answered (an error before the first content is an HTTP error, so
  SDKs retry it as usual); after that a failure is the dialect's error frame.
* **Disconnects**: a caller that goes away cancels its upstream request at once, streaming or not
  (the cancelled stream releases its connection: ``AsyncTextStream``).
* **Logs**: one ``gateway.request`` event per request (method, path, status, model, stream,
  duration_ms, bytes_in, bytes_out, and for streams how they ended) on the library's structured
  logger. Never a key, never a message body.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from typing_extensions import override

import sycophant_py as syc
from sycophant_py._events import StreamEvent
from sycophant_py._gateway import _calls
from sycophant_py._gateway._settings import GatewayOptions, resolve
from sycophant_py._log import log
from sycophant_py._stream import AsyncTextStream
from sycophant_py.wire._serve import (
    ChatDialect,
    EmbedDialect,
    ServedChat,
    ServeError,
    StreamEncoder,
    dumps,
    error_info,
    served_chat,
    served_embed,
)

__all__ = ["app_from_config", "create_app"]

T = TypeVar("T")
Dialect = ChatDialect | EmbedDialect
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(slots=True)
class _Access:
    """What one request's access-log event reports."""

    method: str
    path: str
    started: float
    bytes_in: int = 0
    model: str | None = None
    stream: bool = False

    def emit(self, status: int, bytes_out: int, **extra: Any) -> None:
        if log.enabled(20):
            log.info(
                "gateway.request",
                method=self.method,
                path=self.path,
                status=status,
                model=self.model,
                stream=self.stream,
                duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
                bytes_in=self.bytes_in,
                bytes_out=bytes_out,
                **extra,
            )


def _model_name(model: str | list[str]) -> str:
    """The model name answers report: what the caller sent (the first spec of a list)."""
    return model if isinstance(model, str) else model[0]


def _presented(headers: Mapping[str, str]) -> list[str]:
    keys = []
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        keys.append(auth[7:].strip())
    if "x-api-key" in headers:
        keys.append(headers["x-api-key"].strip())
    return keys


async def _until_disconnect(receive: Receive, work: Callable[[], Awaitable[T]]) -> tuple[T | None, bool]:
    """``await work()``, cancelled the moment the caller disconnects; (result, disconnected)."""
    result: T | None = None
    error: Exception | None = None
    disconnected = False
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal disconnected
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected = True
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        try:
            result = await work()
        except Exception as exc:  # noqa: BLE001 - raised below as it is, not wrapped in an ExceptionGroup
            error = exc
        tg.cancel_scope.cancel()
    if error is not None:
        raise error
    return result, disconnected


async def _head(stream: AsyncTextStream) -> list[StreamEvent]:
    """The stream's events up to its first one that is not ``start`` (the upstream has answered by then)."""
    events: list[StreamEvent] = []
    async for ev in stream:
        events.append(ev)
        if ev.type != "start":
            break
    return events


class _Relay(Response):
    """A streamed answer: the encoder's frames, sent as the events arrive, cancelled on disconnect."""

    def __init__(
        self, encoder: StreamEncoder, stream: AsyncTextStream, head: list[StreamEvent], access: _Access
    ) -> None:
        self.status_code = 200
        self.background = None
        self.media_type = "text/event-stream"
        self.init_headers(_SSE_HEADERS)
        self._encoder = encoder
        self._stream = stream
        self._head = head
        self._access = access
        self._sent = 0
        self._outcome = "disconnected"

    async def _send(self, send: Send, ev: StreamEvent) -> None:
        data = self._encoder.frames(ev)
        if ev.type in ("done", "error"):
            self._outcome = ev.type
        if data:
            self._sent += len(data)
            await send({"type": "http.response.body", "body": data, "more_body": True})

    async def _pump(self, send: Send) -> None:
        try:
            for ev in self._head:
                await self._send(send, ev)
            async for ev in self._stream:
                await self._send(send, ev)
        except Exception as exc:  # noqa: BLE001 - the status is sent: the failure becomes the error frame
            data = self._encoder.error_frames(error_info(exc))
            self._sent += len(data)
            self._outcome = "error"
            await send({"type": "http.response.body", "body": data, "more_body": True})
        finally:
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()  # a no-op after the terminal event; releases it otherwise
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @override
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        try:
            await _until_disconnect(receive, lambda: self._pump(send))
        finally:
            self._access.emit(200, self._sent, outcome=self._outcome)


class _Gateway:
    """The endpoints, bound to one app's settings."""

    def __init__(self, options: GatewayOptions) -> None:
        self.options = options
        self.chat_dialects = served_chat()

    # -- shared steps ---------------------------------------------------------------------------

    def _dialect_for(self, headers: Mapping[str, str]) -> ChatDialect:
        return next((d for d in self.chat_dialects if d.claims(headers)), self.chat_dialects[0])

    def _check_key(self, request: Request) -> None:
        if not self.options.accepts(_presented(request.headers)):
            raise ServeError("a valid gateway key is required", status=401, kind="authentication")

    async def _read_json(self, request: Request, access: _Access) -> Any:
        limit = self.options.max_request_bytes
        length = request.headers.get("content-length", "")
        too_large = ServeError(f"the request body is larger than {limit} bytes", status=413, kind="request_too_large")
        if length.isdigit() and int(length) > limit:
            access.bytes_in = int(length)
            raise too_large
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large
        access.bytes_in = len(body)
        try:
            return json.loads(body)
        except ValueError:
            raise ServeError("the request body is not valid JSON") from None

    @staticmethod
    def _json(access: _Access, status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
        data = dumps(body)
        access.emit(status, len(data))
        return Response(data, status, headers, media_type="application/json")

    def _error(self, access: _Access, dialect: Dialect, exc: BaseException) -> Response:
        info = error_info(exc)
        if info.status >= 500 and info.kind == "internal":
            log.error("gateway.error", path=access.path, error=type(exc).__name__)
        headers = {"retry-after": str(math.ceil(info.retry_after))} if info.retry_after else None
        return self._json(access, info.status, dialect.encode_error(info), headers)

    @staticmethod
    def _access(request: Request) -> _Access:
        return _Access(request.method, request.url.path, time.perf_counter())

    # -- endpoints ------------------------------------------------------------------------------

    def chat(self, dialect: ChatDialect) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint of one chat dialect."""

        async def endpoint(request: Request) -> Response:
            access = self._access(request)
            try:
                self._check_key(request)
                req = dialect.decode_request(await self._read_json(request, access))
                access.model, access.stream = _model_name(req.model), req.stream
                if req.stream:
                    return await self._stream(dialect, req, request, access)
                resp, gone = await _until_disconnect(request.receive, lambda: _calls.complete(req))
                if gone or resp is None:
                    return self._json(access, 499, {})
                answer = dialect.encode_response(resp, req, access.model)
                served_by = ":".join(p for p in (resp.provider, resp.model) if p)
                return self._json(access, 200, answer, {"x-sycophant-model": served_by} if served_by else None)
            except Exception as exc:  # noqa: BLE001 - every failure is answered in the caller's shape
                return self._error(access, dialect, exc)

        return endpoint

    async def _stream(self, dialect: ChatDialect, req: ServedChat, request: Request, access: _Access) -> Response:
        stream = _calls.open_stream(req)
        try:
            head, gone = await _until_disconnect(request.receive, lambda: _head(stream))
        except BaseException:
            await stream.aclose()
            raise
        if gone or not head:
            await stream.aclose()
            return self._json(access, 499, {})
        last = head[-1]
        if last.type == "error" and last.error is not None:
            raise last.error  # failed before any content: an HTTP error the SDK can retry
        return _Relay(dialect.stream_encoder(req, access.model or ""), stream, head, access)

    def embeddings(self, dialect: EmbedDialect) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint of one embedding dialect."""

        async def endpoint(request: Request) -> Response:
            access = self._access(request)
            try:
                self._check_key(request)
                req = dialect.decode_request(await self._read_json(request, access))
                access.model = _model_name(req.model)
                emb, gone = await _until_disconnect(request.receive, lambda: _calls.embed(req))
                if gone or emb is None:
                    return self._json(access, 499, {})
                return self._json(access, 200, dialect.encode_response(emb, req, access.model))
            except Exception as exc:  # noqa: BLE001 - every failure is answered in the caller's shape
                return self._error(access, dialect, exc)

        return endpoint

    async def models(self, request: Request) -> Response:
        """``GET /v1/models``: every available model and alias, in the calling SDK's shape."""
        access = self._access(request)
        dialect = self._dialect_for(request.headers)
        try:
            self._check_key(request)
            entries = await anyio.to_thread.run_sync(_calls.model_entries)
            return self._json(access, 200, dialect.encode_models(entries))
        except Exception as exc:  # noqa: BLE001 - answered in the caller's shape
            return self._error(access, dialect, exc)

    async def health(self, request: Request) -> Response:
        """``GET /healthz``: the process is up (no key needed, nothing revealed)."""
        return self._json(self._access(request), 200, {"status": "ok"})

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """Unknown paths and methods, answered in the caller's shape."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        kind = "not_found" if status == 404 else "invalid_request"
        err = ServeError(
            f"{request.method} {request.url.path}: {getattr(exc, 'detail', 'error')}", status=status, kind=kind
        )
        return self._error(self._access(request), self._dialect_for(request.headers), err)


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await syc.aclose()  # the connection pools of this event loop


def create_app(
    *,
    keys: list[str] | None = None,
    max_request_bytes: int | None = None,
    cors_origins: list[str] | None = None,
) -> Starlette:
    """The gateway as a plain Starlette ASGI app (mount it, test it in-process, or ``serve`` it).

    Args:
        keys: Keys callers must present (default: ``[gateway] keys``; none means no key is asked).
        max_request_bytes: Largest request body (default: ``[gateway]``'s, else 32 MiB).
        cors_origins: Browser origins allowed by CORS (default: ``[gateway]``'s, else none).

    Returns:
        The app. Routes come from the served dialects' paths, plus ``/v1/models`` and ``/healthz``.

    Raises:
        InvalidConfig: a setting of the wrong type.
    """
    options = resolve(keys=keys, max_request_bytes=max_request_bytes, cors_origins=cors_origins)
    gw = _Gateway(options)
    routes = [Route(p, gw.chat(d), methods=["POST"]) for d in gw.chat_dialects for p in d.paths]
    routes += [Route(p, gw.embeddings(d), methods=["POST"]) for d in served_embed() for p in d.paths]
    routes += [Route(p, gw.models, methods=["GET"]) for p in ("/v1/models", "/models")]
    routes.append(Route("/healthz", gw.health, methods=["GET"]))
    middleware = []
    if options.cors_origins:
        origins = list(options.cors_origins)
        middleware.append(Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"]))
    return Starlette(
        routes=routes, middleware=middleware, exception_handlers={HTTPException: gw.http_error}, lifespan=_lifespan
    )


def app_from_config() -> Starlette:
    """The app as ``serve`` runs it (uvicorn's factory): settings from the config file and the environment."""
    from sycophant_py._gateway._server import setup_logging_from_env

    setup_logging_from_env()
    return create_app()
