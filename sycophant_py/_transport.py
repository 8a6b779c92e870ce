"""HTTP transport: the only module that imports httpx.

Keeping every ``import httpx`` here makes a switch to ``httpx2`` a one-file change. Clients are
created once and reused: one sync client per process, one async client per running event loop
(dropped with the loop). ``close()`` / ``aclose()`` release the pools. Users may hand in their own
clients with ``configure(http_client=..., async_http_client=...)``; environment proxy settings
are honoured (httpx's ``trust_env``).

httpx exceptions never leave this module: they become ``Timeout`` or
``ProviderConnectionError``.
"""

from __future__ import annotations

import ssl
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from sycophant_py import _config
from sycophant_py._exceptions import ProviderConnectionError, ProviderError, Timeout
from sycophant_py.auth._base import HttpRequest

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "RawResponse",
    "StreamHandle",
    "aclose",
    "asend",
    "astream",
    "close",
    "reset_clients",
    "send",
    "stream",
]

_USER_AGENT = "sycophant_py/0.1.0"
_lock = threading.Lock()
_sync_client: httpx.Client | None = None
_async_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
] = weakref.WeakKeyDictionary()
# Clients replaced by a configuration change: still closed with their loop, never mid-request.
_retired: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[AsyncGenerator[None, None]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(slots=True)
class RawResponse:
    """A complete HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes


_HEADERS = {"user-agent": _USER_AGENT}
_ssl: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client we build (loading the CA bundle costs tens of ms)."""
    global _ssl
    if _ssl is None:
        _ssl = httpx.create_ssl_context()
    return _ssl


def _limits() -> httpx.Limits:
    n = _config.settings().max_connections
    # No cap below what callers ask for unless configured: concurrency is the caller's choice.
    return httpx.Limits(max_connections=n, max_keepalive_connections=min(n or 100, 100))


def _timeout(read: float, remaining: float | None) -> httpx.Timeout:
    policy = _config.settings().retry
    connect = policy.connect_timeout
    if remaining is not None:
        remaining = max(remaining, 0.001)
        connect, read = min(connect, remaining), min(read, remaining)
    return httpx.Timeout(connect=connect, read=read, write=read, pool=None)


def _client() -> httpx.Client:
    global _sync_client
    user = _config.settings().http_client
    if user is not None:
        return user  # type: ignore[no-any-return]
    client = _sync_client
    if client is None:
        with _lock:
            if _sync_client is None:
                _sync_client = httpx.Client(limits=_limits(), headers=_HEADERS, verify=_ssl_context())
            client = _sync_client
    return client


async def _close_with_loop(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Keeps ``client`` open until the loop shuts down its async generators, then closes it.

    Started once inside the loop, this generator is registered by the loop's async-generator hooks,
    so ``asyncio.run()`` (``loop.shutdown_asyncgens()``) closes the client with the loop: no
    connection outlives the loop that opened it.
    """
    try:
        yield
    finally:
        await client.aclose()


async def _async_client() -> httpx.AsyncClient:
    user = _config.settings().async_http_client
    if user is not None:
        return user  # type: ignore[no-any-return]
    import asyncio

    loop = asyncio.get_running_loop()
    entry = _async_clients.get(loop)
    if entry is None:
        client = httpx.AsyncClient(limits=_limits(), headers=_HEADERS, verify=_ssl_context())
        closer = _close_with_loop(client)
        _async_clients[loop] = entry = (client, closer)
        await closer.__anext__()  # registers the generator with the running loop; does not suspend
    return entry[0]


def _build(client: httpx.Client | httpx.AsyncClient, req: HttpRequest, timeout: httpx.Timeout) -> httpx.Request:
    # Query params are merged into the URL's own query (httpx's params= would replace it).
    url = httpx.URL(req.url).copy_merge_params(req.params) if req.params else req.url
    return client.build_request(
        req.method,
        url,
        headers=req.headers,
        content=req.content,
        timeout=timeout,
    )


def _map(exc: Exception, where: str) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"{type(exc).__name__} while {where}: {exc}")
    return ProviderConnectionError(f"{type(exc).__name__} while {where}: {exc}")


def _headers(resp: httpx.Response) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in resp.headers.raw}


Tap = Callable[[HttpRequest, int, dict[str, str], bytes], None]
TAP: Tap | None = None
"""When set (by ``sycophant_py.testing.record``), every exchange is reported here once complete."""


def send(req: HttpRequest, *, remaining: float | None = None) -> RawResponse:
    """Send a request and read the whole body (sync)."""
    client = _client()
    try:
        resp = client.send(_build(client, req, _timeout(_config.settings().retry.read_timeout, remaining)))
    except httpx.HTTPError as exc:
        raise _map(exc, "sending the request") from exc
    raw = RawResponse(resp.status_code, _headers(resp), resp.content)
    if TAP is not None:
        TAP(req, raw.status, raw.headers, raw.body)
    return raw


async def asend(req: HttpRequest, *, remaining: float | None = None) -> RawResponse:
    """Send a request and read the whole body (async)."""
    client = await _async_client()
    try:
        resp = await client.send(_build(client, req, _timeout(_config.settings().retry.read_timeout, remaining)))
    except httpx.HTTPError as exc:
        raise _map(exc, "sending the request") from exc
    raw = RawResponse(resp.status_code, _headers(resp), resp.content)
    if TAP is not None:
        TAP(req, raw.status, raw.headers, raw.body)
    return raw


class StreamHandle:
    """An open streamed response: status, headers, and the body as chunks."""

    __slots__ = ("_resp", "_tapped", "headers", "req", "status")

    def __init__(self, resp: httpx.Response, req: HttpRequest) -> None:
        self._resp = resp
        self.req = req
        self.status = resp.status_code
        self.headers = _headers(resp)
        self._tapped: list[bytes] | None = [] if TAP is not None else None

    def iter_bytes(self) -> Iterator[bytes]:
        """Body chunks as they arrive, content-decoded (sync); transport errors become library errors."""
        tapped = self._tapped
        try:
            for chunk in self._resp.iter_bytes():
                if tapped is not None:
                    tapped.append(chunk)
                yield chunk
        except httpx.HTTPError as exc:
            raise _map(exc, "reading the stream") from exc

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive, content-decoded (async)."""
        tapped = self._tapped
        try:
            async for chunk in self._resp.aiter_bytes():
                if tapped is not None:
                    tapped.append(chunk)
                yield chunk
        except httpx.HTTPError as exc:
            raise _map(exc, "reading the stream") from exc

    def _report(self, body: bytes | None = None) -> None:
        if self._tapped is not None and TAP is not None:
            TAP(self.req, self.status, self.headers, body if body is not None else b"".join(self._tapped))
            self._tapped = None

    def read(self) -> bytes:
        """Read the rest of the body (sync; for error statuses)."""
        try:
            body = self._resp.read()
        except httpx.HTTPError as exc:
            raise _map(exc, "reading the error body") from exc
        self._report(body)
        return body

    async def aread(self) -> bytes:
        """Read the rest of the body (async)."""
        try:
            body = await self._resp.aread()
        except httpx.HTTPError as exc:
            raise _map(exc, "reading the error body") from exc
        self._report(body)
        return body

    def close(self) -> None:
        """Close the response (sync)."""
        self._report()
        self._resp.close()

    async def aclose(self) -> None:
        """Close the response (async)."""
        self._report()
        await self._resp.aclose()


def stream(req: HttpRequest, *, remaining: float | None = None) -> StreamHandle:
    """Open a streamed response (sync); the caller closes it."""
    client = _client()
    idle = _config.settings().retry.stream_idle_timeout
    try:
        resp = client.send(_build(client, req, _timeout(idle, remaining)), stream=True)
    except httpx.HTTPError as exc:
        raise _map(exc, "opening the stream") from exc
    return StreamHandle(resp, req)


async def astream(req: HttpRequest, *, remaining: float | None = None) -> StreamHandle:
    """Open a streamed response (async); the caller closes it."""
    client = await _async_client()
    idle = _config.settings().retry.stream_idle_timeout
    try:
        resp = await client.send(_build(client, req, _timeout(idle, remaining)), stream=True)
    except httpx.HTTPError as exc:
        raise _map(exc, "opening the stream") from exc
    return StreamHandle(resp, req)


def reset_clients() -> None:
    """Forget cached clients (after a configuration change); the sync one is closed.

    Async clients may still be in use by a running loop: they are retired, and closed with their
    loop (or by ``aclose()`` in it).
    """
    global _sync_client
    with _lock:
        client, _sync_client = _sync_client, None
        for loop, (_, closer) in list(_async_clients.items()):
            _retired.setdefault(loop, []).append(closer)
        _async_clients.clear()
    if client is not None:
        client.close()


def close() -> None:
    """Release the sync connection pool (a new one is made on next use)."""
    reset_clients()


async def aclose() -> None:
    """Release the async connection pool of the running loop (and the sync one)."""
    import asyncio

    try:
        loop: Any = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    closers: list[AsyncGenerator[None, None]] = []
    if loop is not None:
        with _lock:
            entry = _async_clients.pop(loop, None)
            closers = _retired.pop(loop, [])
        if entry is not None:
            closers.append(entry[1])
    for closer in closers:
        await closer.aclose()
    close()
