"""HTTP transport: the only module that imports httpx.

Keeping every ``import httpx`` here makes a switch to ``httpx2`` a one-file change. The rules this
module keeps (docs/reliability.md has the user-facing version):

- **Clients** are created once and reused: one sync client per process, one async client per
  running event loop (closed with the loop). After ``os.fork()`` the child starts with no client
  (it never touches the parent's sockets). ``configure()`` from any thread *retires* the current
  clients: requests in flight finish on them, new requests get new clients, and a retired client
  is closed when its last request ends. Nothing is ever re-sent because of a configuration change.
- **Leases**: every request holds a lease on its client until its body is read or its stream is
  closed; that is how a retired client knows when it may close.
- **Deadlines**: the call's total ``timeout=`` reaches every socket operation through a context
  variable read by a thin wrapper around httpcore's network backend, so a server trickling headers
  or body one byte at a time cannot outlive the call.
- **Limits**: bodies are read raw and decompressed here with bounded output (gzip and deflate are
  the only encodings offered), so a compression bomb never inflates past ``max_body_bytes``.
- **Abandoned streams** are released without ever taking a lock from a finaliser: the socket is
  shut at once (the provider stops generating) and the pool's bookkeeping is done by the next call
  into this module (the *reaper*), from an ordinary calling context.
- **Redirects** are followed here (at most 5), never by httpx: a request that leaves its origin
  loses every credential header and query param the library added, whoever's client is in use.

httpx exceptions never leave this module: they become ``Timeout`` or ``ProviderConnectionError``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import ssl
import threading
import weakref
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpcore
import httpx
from typing_extensions import override

from sycophant_py import _config
from sycophant_py._content import ACCEPT_ENCODING, ContentDecoder
from sycophant_py._exceptions import ProviderConnectionError, ProviderError, Timeout
from sycophant_py.auth._base import HttpRequest, is_secret_header

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "RawResponse",
    "StreamHandle",
    "aclose",
    "asend",
    "astream",
    "close",
    "pool_stats",
    "reset_clients",
    "send",
    "stream",
]

_USER_AGENT = "sycophant_py/0.1.0"
# Only encodings we decode ourselves, with bounded output (see ``_Decoder``).
_HEADERS = {"user-agent": _USER_AGENT, "accept-encoding": ACCEPT_ENCODING}
_MAX_REDIRECTS = 5
_DRAIN_SECONDS = 0.05
_DRAIN_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("sycophant_deadline", default=None)
"""The monotonic deadline (on the policy clock) of the call running in this context."""


@dataclass(slots=True)
class RawResponse:
    """A complete HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes


# -- deadlines: a wrapper around httpcore's network backend -----------------------------------


def _clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    """The socket timeout for one operation: never past the call's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - _config.now()
    if left <= 0:
        raise expired("the call's total timeout expired")
    return left if timeout is None or timeout > left else timeout


class _Stream(httpcore.NetworkStream):
    """A socket stream whose every read and write respects the call's deadline."""

    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    @override
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    @override
    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    @override
    def close(self) -> None:
        self._inner.close()

    @override
    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)))

    @override
    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore's sync backend with deadlines."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    @override
    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        t = _clamp(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, t, local_address, socket_options))

    @override
    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _clamp(timeout, httpcore.ConnectTimeout), socket_options))

    @override
    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    """The async twin of ``_Stream``."""

    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    @override
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    @override
    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    @override
    async def aclose(self) -> None:
        await self._inner.aclose()

    @override
    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        t = _clamp(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, t))

    @override
    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    """httpcore's async backend with deadlines."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    @override
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        t = _clamp(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_tcp(host, port, t, local_address, socket_options))

    @override
    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        t = _clamp(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_unix_socket(path, t, socket_options))

    @override
    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _with_deadlines(client: httpx.Client | httpx.AsyncClient) -> None:
    """Wrap the network backend of every pool of a client we built (env proxies included)."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        inner = getattr(pool, "_network_backend", None)
        if inner is None or isinstance(inner, (_Backend, _AsyncBackend)):
            continue  # an httpcore without the attribute: deadlines are then checked between chunks only
        pool._network_backend = _Backend(inner) if isinstance(client, httpx.Client) else _AsyncBackend(inner)  # type: ignore[union-attr]  # pool is httpcore's ConnectionPool here


# -- clients, leases and the reaper -----------------------------------------------------------


class _Pool:
    """One client we built, and how many requests hold it."""

    __slots__ = ("client", "closer", "inflight", "loop", "retired")

    def __init__(self, client: httpx.Client | httpx.AsyncClient, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.client = client
        self.inflight = 0
        self.retired = False
        self.loop = loop
        self.closer: AsyncGenerator[None, None] | None = None


class _State:
    """Per-process transport state (a fresh one in a forked child)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.sync: _Pool | None = None
        self.loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


_state = _State()
_reap: deque[StreamHandle] = deque()
"""Streams abandoned without ``close()``: their socket is shut; the pool's bookkeeping waits here."""
_leftovers: list[Any] = []
"""A forked child keeps its parent's clients referenced (never closed nor collected: closing them
could send a TLS close alert on a connection the parent still uses)."""
_tasks: set[asyncio.Task[None]] = set()
_ssl: ssl.SSLContext | None = None


def _after_fork_in_child() -> None:
    global _state
    old = _state
    _leftovers.append((old.sync, list(old.loops.values())))
    _state = _State()
    _reap.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


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


def _timeout(read: float, deadline: float | None) -> httpx.Timeout:
    policy = _config.settings().retry
    connect, pool = policy.connect_timeout, None
    if deadline is not None:
        remaining = max(deadline - _config.now(), 0.001)
        connect, read, pool = min(connect, remaining), min(read, remaining), remaining
    return httpx.Timeout(connect=connect, read=read, write=read, pool=pool)


def _reap_abandoned() -> None:
    """Finish releasing streams abandoned without ``close()`` (called from ordinary contexts only)."""
    while _reap:
        try:
            handle = _reap.popleft()
        except IndexError:
            return
        handle.close()


def _lease_sync() -> tuple[httpx.Client, _Pool | None]:
    if _reap:
        _reap_abandoned()
    user = _config.settings().http_client
    if user is not None:
        _with_deadlines(user)  # acts only inside our calls (the deadline context variable is ours)
        return user, None
    st = _state
    with st.lock:
        pool = st.sync
        if pool is None:
            client = httpx.Client(limits=_limits(), headers=_HEADERS, verify=_ssl_context())
            _with_deadlines(client)
            pool = st.sync = _Pool(client)
        pool.inflight += 1
    return pool.client, pool  # type: ignore[return-value]  # a sync pool holds an httpx.Client


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


async def _lease_async() -> tuple[httpx.AsyncClient, _Pool | None]:
    if _reap:
        _reap_abandoned()
    user = _config.settings().async_http_client
    if user is not None:
        _with_deadlines(user)
        return user, None
    import asyncio

    loop = asyncio.get_running_loop()
    st = _state
    with st.lock:
        pool = st.loops.get(loop)
        fresh = pool is None
        if pool is None:
            client = httpx.AsyncClient(limits=_limits(), headers=_HEADERS, verify=_ssl_context())
            _with_deadlines(client)
            pool = st.loops[loop] = _Pool(client, loop)
        pool.inflight += 1
    if fresh:
        closer = _close_with_loop(pool.client)  # type: ignore[arg-type]  # an async pool holds an AsyncClient
        await closer.__anext__()  # registers the generator with the running loop; does not suspend
        pool.closer = closer
    return pool.client, pool  # type: ignore[return-value]  # an async pool holds an httpx.AsyncClient


def _release(pool: _Pool | None) -> None:
    """A request is done with its client; a retired client closes with its last request."""
    if pool is None:
        return
    with _state.lock:
        pool.inflight -= 1
        last = pool.retired and pool.inflight == 0
    if last:
        _dispose(pool)


def _dispose(pool: _Pool) -> None:
    client = pool.client
    if isinstance(client, httpx.Client):
        client.close()
        return
    loop = pool.loop
    if loop is None or loop.is_closed():
        return  # the loop's shutdown closed (or will close) it through ``_close_with_loop``
    closing = pool.closer.aclose() if pool.closer is not None else client.aclose()
    try:
        loop.call_soon_threadsafe(_spawn, closing)
    except RuntimeError:  # the loop closed meanwhile
        closing.close()


def _spawn(coro: Any) -> None:
    """Run ``coro`` as a task of the running loop, kept referenced until it ends."""
    import asyncio

    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def pool_stats() -> dict[str, int]:
    """Connections of the clients this process built: ``active`` (in use) and ``idle``.

    Counts the sync client and the async client of the running event loop, if any (after finishing
    the release of abandoned streams, as any call into this module does).
    """
    _reap_abandoned()
    clients: list[Any] = []
    if _state.sync is not None:
        clients.append(_state.sync.client)
    try:
        import asyncio

        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and loop in _state.loops:
        clients.append(_state.loops[loop].client)
    active = idle = 0
    for client in clients:
        for transport in [client._transport, *client._mounts.values()]:
            for conn in getattr(getattr(transport, "_pool", None), "connections", ()):
                if conn.is_closed():
                    continue
                if conn.is_idle():
                    idle += 1
                else:
                    active += 1
    return {"active": active, "idle": idle}


# -- bounded bodies ---------------------------------------------------------------------------


def _decoder(resp: httpx.Response, cap: int | None) -> ContentDecoder:
    return ContentDecoder(resp.headers.get("content-encoding", ""), cap)


# -- requests, redirects and error mapping ----------------------------------------------------


def _build(client: httpx.Client | httpx.AsyncClient, req: HttpRequest, timeout: httpx.Timeout) -> httpx.Request:
    # Query params are merged into the URL's own query (httpx's params= would replace it).
    url = httpx.URL(req.url).copy_merge_params(req.params) if req.params else req.url
    return client.build_request(req.method, url, headers=req.headers, content=req.content, timeout=timeout)


def _map(exc: Exception, where: str) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"{type(exc).__name__} while {where}: {exc}")
    return ProviderConnectionError(f"{type(exc).__name__} while {where}: {exc}")


def _headers(resp: httpx.Response) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in resp.headers.raw}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _redirected(req: HttpRequest, resp: httpx.Response) -> HttpRequest:
    """The request to send after a redirect; credentials are dropped when it leaves the origin."""
    old = httpx.URL(req.url)
    new = old.join(resp.headers["location"])
    method, content = req.method, req.content
    if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
        method, content = "GET", b""  # what browsers and httpx do
    headers = dict(req.headers)
    params = dict(req.params)
    upgrade = old.scheme == "http" and new.scheme == "https" and old.host == new.host
    if _origin(old) != _origin(new) and not upgrade:
        headers = {k: v for k, v in headers.items() if k not in req.auth_headers and not is_secret_header(k)}
        params = {k: v for k, v in params.items() if k not in req.auth_params}
    if not content:
        headers.pop("content-type", None)
    return HttpRequest(method, str(new.copy_with(query=None)) if params else str(new), headers, params, content)


def _is_redirect(resp: httpx.Response) -> bool:
    return resp.status_code in _REDIRECTS and "location" in resp.headers


Tap = Callable[[HttpRequest, int, dict[str, str], bytes], None]
TAP: Tap | None = None
"""When set (by ``sycophant_py.testing.record``), every exchange is reported here once complete."""


def _open(req: HttpRequest, read: float, deadline: float | None) -> tuple[httpx.Response, _Pool | None, HttpRequest]:
    """Send ``req`` and read the headers (sync), following redirects; the caller owns the lease."""
    client, pool = _lease_sync()
    try:
        for _ in range(_MAX_REDIRECTS + 1):
            resp = client.send(_build(client, req, _timeout(read, deadline)), stream=True, follow_redirects=False)
            if not _is_redirect(resp):
                return resp, pool, req
            resp.close()
            req = _redirected(req, resp)
        raise ProviderConnectionError(f"more than {_MAX_REDIRECTS} redirects")
    except httpx.HTTPError as exc:
        _release(pool)
        raise _map(exc, "sending the request") from exc
    except BaseException:
        _release(pool)
        raise


async def _aopen(
    req: HttpRequest, read: float, deadline: float | None
) -> tuple[httpx.Response, _Pool | None, HttpRequest]:
    """Async twin of ``_open``."""
    client, pool = await _lease_async()
    try:
        for _ in range(_MAX_REDIRECTS + 1):
            resp = await client.send(_build(client, req, _timeout(read, deadline)), stream=True, follow_redirects=False)
            if not _is_redirect(resp):
                return resp, pool, req
            await resp.aclose()
            req = _redirected(req, resp)
        raise ProviderConnectionError(f"more than {_MAX_REDIRECTS} redirects")
    except httpx.HTTPError as exc:
        _release(pool)
        raise _map(exc, "sending the request") from exc
    except BaseException:
        _release(pool)
        raise


def send(req: HttpRequest, *, deadline: float | None = None) -> RawResponse:
    """Send a request and read the whole body, decoded and capped (sync)."""
    token = _DEADLINE.set(deadline)
    try:
        resp, pool, sent = _open(req, _config.settings().retry.read_timeout, deadline)
        try:
            body = _decoder(resp, _config.settings().limits.max_body_bytes).read_all(resp.iter_raw())
        except httpx.HTTPError as exc:
            raise _map(exc, "reading the response") from exc
        finally:
            resp.close()
            _release(pool)
    finally:
        _DEADLINE.reset(token)
    raw = RawResponse(resp.status_code, _headers(resp), body)
    if TAP is not None:
        TAP(sent, raw.status, raw.headers, raw.body)
    return raw


async def asend(req: HttpRequest, *, deadline: float | None = None) -> RawResponse:
    """Send a request and read the whole body, decoded and capped (async)."""
    token = _DEADLINE.set(deadline)
    try:
        resp, pool, sent = await _aopen(req, _config.settings().retry.read_timeout, deadline)
        try:
            dec = _decoder(resp, _config.settings().limits.max_body_bytes)
            parts = [piece async for raw in resp.aiter_raw() for piece in dec.decode(raw)]
            body = b"".join(parts)
        except httpx.HTTPError as exc:
            raise _map(exc, "reading the response") from exc
        finally:
            await resp.aclose()
            _release(pool)
    finally:
        _DEADLINE.reset(token)
    raw = RawResponse(resp.status_code, _headers(resp), body)
    if TAP is not None:
        TAP(sent, raw.status, raw.headers, raw.body)
    return raw


class StreamHandle:
    """An open streamed response: status, headers, and the body as decoded chunks.

    The handle holds a lease on its client until ``close()`` / ``aclose()``. ``abandon()`` is the
    finaliser's path: it takes no lock (see the module docstring).
    """

    __slots__ = ("_closed", "_deadline", "_pool", "_raw", "_resp", "_tapped", "headers", "req", "status")

    def __init__(self, resp: httpx.Response, req: HttpRequest, pool: _Pool | None, deadline: float | None) -> None:
        self._resp = resp
        self._pool = pool
        self._deadline = deadline
        self._closed = False
        self.req = req
        self.status = resp.status_code
        self.headers = _headers(resp)
        self._tapped: list[bytes] | None = [] if TAP is not None else None
        self._raw: Any = None

    def iter_bytes(self) -> Iterator[bytes]:
        """Body chunks as they arrive, content-decoded (sync); transport errors become library errors.

        The returned iterator holds no reference to a stream object above it (no cycle).
        """
        self._raw = raw = self._resp.iter_raw()
        return _iter_bytes(raw, _decoder(self._resp, None), self._deadline, self._tapped)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive, content-decoded (async)."""
        self._raw = raw = self._resp.aiter_raw()
        return _aiter_bytes(raw, _decoder(self._resp, None), self._deadline, self._tapped)

    def finish(self) -> None:
        """The stream ended well: read the little that may follow its end marker (the chunked
        terminator, usually already in the socket buffer) for at most ``_DRAIN_SECONDS``, so the
        connection goes back to the pool instead of being dropped; then close (sync)."""
        if self._closed or self._raw is None:
            self.close()
            return
        token = _DEADLINE.set(_config.now() + _DRAIN_SECONDS)
        try:
            size = 0
            for raw in self._raw:
                size += len(raw)
                if size > _DRAIN_BYTES:
                    break
        except (httpx.HTTPError, httpcore.TimeoutException):
            pass  # the connection is dropped by close(), as it would have been without the drain
        finally:
            _DEADLINE.reset(token)
            self.close()

    async def afinish(self) -> None:
        """Async twin of :meth:`finish`."""
        if self._closed or self._raw is None:
            await self.aclose()
            return
        token = _DEADLINE.set(_config.now() + _DRAIN_SECONDS)
        try:
            size = 0
            async for raw in self._raw:
                size += len(raw)
                if size > _DRAIN_BYTES:
                    break
        except (httpx.HTTPError, httpcore.TimeoutException):
            pass
        finally:
            _DEADLINE.reset(token)
            await self.aclose()

    def _report(self, body: bytes | None = None) -> None:
        if self._tapped is not None and TAP is not None:
            TAP(self.req, self.status, self.headers, body if body is not None else b"".join(self._tapped))
            self._tapped = None

    def _error_cap(self) -> int:
        return _config.settings().limits.max_body_bytes

    def read(self) -> bytes:
        """Read the rest of the body, truncated at ``max_body_bytes`` (sync; for error statuses)."""
        cap, out, size = self._error_cap(), [], 0
        token = _DEADLINE.set(self._deadline)
        try:
            dec = _decoder(self._resp, None)
            for raw in self._resp.iter_raw():
                for piece in dec.decode(raw):
                    out.append(piece)
                    size += len(piece)
                    if size >= cap:
                        break
                if size >= cap:
                    break
        except httpx.HTTPError as exc:
            raise _map(exc, "reading the error body") from exc
        finally:
            _DEADLINE.reset(token)
        body = b"".join(out)[:cap]
        self._report(body)
        return body

    async def aread(self) -> bytes:
        """Read the rest of the body, truncated at ``max_body_bytes`` (async)."""
        cap, out, size = self._error_cap(), [], 0
        token = _DEADLINE.set(self._deadline)
        try:
            dec = _decoder(self._resp, None)
            async for raw in self._resp.aiter_raw():
                for piece in dec.decode(raw):
                    out.append(piece)
                    size += len(piece)
                    if size >= cap:
                        break
                if size >= cap:
                    break
        except httpx.HTTPError as exc:
            raise _map(exc, "reading the error body") from exc
        finally:
            _DEADLINE.reset(token)
        body = b"".join(out)[:cap]
        self._report(body)
        return body

    def close(self) -> None:
        """Close the response and release the lease (sync; idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._report()
            self._resp.close()
        finally:
            _release(self._pool)

    async def aclose(self) -> None:
        """Close the response and release the lease (async; idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._report()
            await self._resp.aclose()
        finally:
            _release(self._pool)

    def abandon(self) -> None:
        """Release from a finaliser: no lock taken, no I/O awaited.

        Sync: the socket is shut now and the pool is told later, by the next call into this module.
        Async: the close is scheduled on the stream's own event loop.
        """
        if self._closed:
            return
        if isinstance(self._resp.stream, httpx.SyncByteStream):
            stream = self._resp.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(2)  # SHUT_RDWR: the server sees the client leave at once
            _reap.append(self)
            return
        loop = self._pool.loop if self._pool is not None else None
        if loop is not None and not loop.is_closed():
            closing = self.aclose()
            try:
                loop.call_soon_threadsafe(_spawn, closing)
            except RuntimeError:  # the loop closed meanwhile
                closing.close()


def _iter_bytes(
    raw_iter: Iterator[bytes], dec: ContentDecoder, deadline: float | None, tapped: list[bytes] | None
) -> Iterator[bytes]:
    plain = dec.identity and tapped is None
    try:
        while True:
            if deadline is None and _DEADLINE.get() is None:
                raw = next(raw_iter, None)  # the hot path: nothing to set, nothing to decode
            else:
                token = _DEADLINE.set(deadline)
                try:
                    raw = next(raw_iter, None)
                finally:
                    _DEADLINE.reset(token)
            if raw is None:
                return
            if plain:
                yield raw
                continue
            for piece in dec.decode(raw):
                if tapped is not None:
                    tapped.append(piece)
                yield piece
    except httpx.HTTPError as exc:
        raise _map(exc, "reading the stream") from exc


async def _aiter_bytes(
    raw_iter: AsyncIterator[bytes], dec: ContentDecoder, deadline: float | None, tapped: list[bytes] | None
) -> AsyncIterator[bytes]:
    plain = dec.identity and tapped is None
    try:
        while True:
            if deadline is None and _DEADLINE.get() is None:
                raw = await anext(raw_iter, None)
            else:
                token = _DEADLINE.set(deadline)
                try:
                    raw = await anext(raw_iter, None)
                finally:
                    _DEADLINE.reset(token)
            if raw is None:
                return
            if plain:
                yield raw
                continue
            for piece in dec.decode(raw):
                if tapped is not None:
                    tapped.append(piece)
                yield piece
    except httpx.HTTPError as exc:
        raise _map(exc, "reading the stream") from exc


def stream(req: HttpRequest, *, deadline: float | None = None) -> StreamHandle:
    """Open a streamed response (sync); the caller closes it."""
    token = _DEADLINE.set(deadline)
    try:
        resp, pool, sent = _open(req, _config.settings().retry.stream_idle_timeout, deadline)
    finally:
        _DEADLINE.reset(token)
    return StreamHandle(resp, sent, pool, deadline)


async def astream(req: HttpRequest, *, deadline: float | None = None) -> StreamHandle:
    """Open a streamed response (async); the caller closes it."""
    token = _DEADLINE.set(deadline)
    try:
        resp, pool, sent = await _aopen(req, _config.settings().retry.stream_idle_timeout, deadline)
    finally:
        _DEADLINE.reset(token)
    return StreamHandle(resp, sent, pool, deadline)


# -- configuration changes and closing --------------------------------------------------------


def _retire(pool: _Pool | None) -> bool:
    """Mark a pool retired (under the lock); True when it may be disposed of at once."""
    if pool is None or pool.retired:
        return False
    pool.retired = True
    return pool.inflight == 0


def reset_clients() -> None:
    """Retire the current clients (after a configuration change; from any thread).

    Requests in flight finish on their client, which is closed when the last one ends; new
    requests get a new client. Nothing in flight is broken or re-sent.
    """
    st = _state
    with st.lock:
        pools = [st.sync, *st.loops.values()]
        st.sync = None
        st.loops.clear()
        idle = [p for p in pools if p is not None and _retire(p)]
    for pool in idle:
        _dispose(pool)


def close() -> None:
    """Release the sync connection pool (a new one is made on next use)."""
    _reap_abandoned()
    st = _state
    with st.lock:
        pool, st.sync = st.sync, None
        idle = _retire(pool)
    if idle and pool is not None:
        _dispose(pool)


async def aclose() -> None:
    """Release the async connection pool of the running loop (and the sync one)."""
    import asyncio

    loop = asyncio.get_running_loop()
    st = _state
    with st.lock:
        pool = st.loops.pop(loop, None)
        idle = _retire(pool)
    if pool is not None and idle:
        if pool.closer is not None:
            await pool.closer.aclose()
        else:
            await pool.client.aclose()  # type: ignore[union-attr]  # an async pool holds an AsyncClient
    close()
