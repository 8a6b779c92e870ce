"""A raw-socket HTTP/1.1 server on 127.0.0.1 for fault injection, with byte-exact control.

:class:`sycophant_py.testing.ScriptedServer` answers at the level of "a status, headers and body
chunks". Faults need less than that: a reply here is a :class:`Plan`, a list of wire actions played
in order on the connection that carried the request::

    Send(bytes)           write bytes as they are (status line, headers, chunk framing included)
    Trickle(bytes, dt)    write one byte every ``dt`` seconds (``budget``: then the rest at once)
    Pause(dt)             wait, watching for the client to hang up
    Hang(max)             send nothing more until the client hangs up (or ``max`` seconds pass)
    Reset()               abort the connection with a TCP RST (``SO_LINGER`` 0)
    Close()               close the connection (FIN)

A plan that ends without ``Hang``/``Reset``/``Close`` leaves the connection open for the next
request (keep-alive). The server records every request (:class:`SeenRequest`) and every connection
(:class:`Conn`): when it opened, which requests it carried, and when the *client* closed it (an
EOF or RST seen by the server) or the server did. Handlers poll a stop flag, so :meth:`stop` ends
hanging handlers and every thread is joined: nothing outlives a test. Client disconnects are
expected here and never printed.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = [
    "LAST_CHUNK",
    "Action",
    "Close",
    "Conn",
    "FaultServer",
    "Hang",
    "Pause",
    "Plan",
    "Reset",
    "Script",
    "SeenRequest",
    "Send",
    "Trickle",
    "chunk",
    "head",
]

_POLL = 0.25
"""The longest a waiting thread sleeps in ``select`` (``stop()`` wakes every one of them at once)."""


@dataclass(frozen=True)
class Send:
    """Write these bytes."""

    data: bytes


@dataclass(frozen=True)
class Trickle:
    """Write one byte every ``interval`` seconds; after ``budget`` seconds write the rest at once."""

    data: bytes
    interval: float
    budget: float | None = None


@dataclass(frozen=True)
class Pause:
    """Wait ``seconds`` (a client hang-up ends the plan)."""

    seconds: float


@dataclass(frozen=True)
class Hang:
    """Send nothing until the client hangs up, the server stops, or ``max_seconds`` pass (then close)."""

    max_seconds: float = 5.0


@dataclass(frozen=True)
class Reset:
    """Abort the connection: ``SO_LINGER`` 0, so closing sends an RST."""


@dataclass(frozen=True)
class Close:
    """Close the connection normally (FIN)."""


Action = Send | Trickle | Pause | Hang | Reset | Close
Plan = Sequence[Action]
"""One scripted reply: the actions played on the connection after a request was read."""
Script = Plan | Callable[["SeenRequest"], Plan]
"""A queued reply: a plan, or a function choosing the plan from the request (a redirect to its path)."""


def head(status: int, headers: dict[str, str] | None = None) -> bytes:
    """An HTTP/1.1 status line and header block (the blank line included)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Status"
    lines = [f"HTTP/1.1 {status} {phrase}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One chunk of a ``transfer-encoding: chunked`` body."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


LAST_CHUNK = b"0\r\n\r\n"
"""The end of a chunked body."""


@dataclass
class SeenRequest:
    """A request the server read completely."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    conn: int
    """The id of the connection that carried it."""
    at: float
    """``time.monotonic()`` when it was read."""

    @property
    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body) if self.body else None


@dataclass
class Conn:
    """One accepted connection, as the server saw it."""

    id: int
    opened_at: float
    requests: int = 0
    client_closed_at: float | None = None
    """When the server saw the client hang up (EOF or RST), if it did."""
    client_close_kind: str | None = None
    """``"eof"`` or ``"reset"``."""
    server_closed_at: float | None = None
    """When the server closed it (end of a plan, ``stop()``)."""

    @property
    def open(self) -> bool:
        """Neither side has closed it yet (as far as the server knows)."""
        return self.client_closed_at is None and self.server_closed_at is None


class _ClientGone(Exception):
    """The client hung up."""


class _Stopping(Exception):
    """The server is shutting down."""


@dataclass
class _Link:
    """A connection being served: its socket, its record and the bytes read ahead."""

    sock: socket.socket
    conn: Conn
    buf: bytearray = field(default_factory=bytearray)


class FaultServer:
    """A threaded HTTP/1.1 server answering from a queue of :class:`Plan` (or a handler function).

    Args:
        handler: Called with each request to choose its plan (instead of the queue).
    """

    def __init__(self, handler: Callable[[SeenRequest], Plan] | None = None) -> None:
        self.handler = handler
        self.requests: list[SeenRequest] = []
        self.connections: list[Conn] = []
        self.bad_requests: list[bytes] = []
        """Request heads that could not be parsed (a corrupted request line, interleaved writes)."""
        self.max_open = 0
        """The most connections open at once."""
        self._plans: list[Script] = []
        self._last: Script | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        # stop() writes to this pair: every thread selects on its reading end, so all wake at once
        self._wake_r, self._wake_w = socket.socketpair()
        self._accept_thread = threading.Thread(target=self._accept_loop, name="fault-accept", daemon=True)

    # -- public surface -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, *plans: Script) -> FaultServer:
        """Queue replies, served in order; the last one served repeats once the queue is empty."""
        with self._lock:
            self._plans.extend(plans)
        return self

    @property
    def open_count(self) -> int:
        """Connections open now."""
        with self._lock:
            return sum(1 for c in self.connections if c.open)

    @property
    def threads_alive(self) -> int:
        """The server's threads still running (the acceptor and the connection handlers)."""
        with self._lock:
            handlers = sum(1 for t in self._threads if t.is_alive())
        return handlers + int(self._accept_thread.is_alive())

    def wait_open_count(self, target: int, within: float) -> int:
        """Wait up to ``within`` seconds for at most ``target`` open connections; return the count."""
        end = time.monotonic() + within
        while True:
            n = self.open_count
            if n <= target or time.monotonic() >= end:
                return n
            time.sleep(0.005)

    def wait_client_closed(self, conns: Sequence[Conn], within: float) -> list[Conn]:
        """Wait up to ``within`` seconds for the client to hang up ``conns``; return those it did not."""
        end = time.monotonic() + within
        while True:
            left = [c for c in conns if c.client_closed_at is None]
            if not left or time.monotonic() >= end:
                return left
            time.sleep(0.005)

    def start(self) -> FaultServer:
        """Start accepting in a background thread."""
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Stop: end hanging handlers, close every socket, join every thread."""
        self._stop.set()
        self._wake_w.send(b"!")
        self._accept_thread.join(5)
        self._listener.close()
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(5)
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- accepting and serving ------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._listener, self._wake_r], [], [], _POLL)
            if self._listener not in ready or self._stop.is_set():
                continue
            try:
                sock, _ = self._listener.accept()
            except OSError:
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            with self._lock:
                conn = Conn(len(self.connections), time.monotonic())
                self.connections.append(conn)
                self.max_open = max(self.max_open, sum(1 for c in self.connections if c.open))
                t = threading.Thread(target=self._serve, args=(_Link(sock, conn),), daemon=True)
                self._threads = [x for x in self._threads if x.is_alive()]
                self._threads.append(t)
            t.start()

    def _serve(self, link: _Link) -> None:
        try:
            while True:
                req = self._read_request(link)
                if req is None:
                    return
                plan = self._plan_for(req)
                if plan is None or not self._play(link, plan):
                    return
        except _ClientGone:
            pass
        except _Stopping:
            pass
        finally:
            self._close(link)

    def _plan_for(self, req: SeenRequest) -> Plan | None:
        """The request's plan; None (the connection is dropped) when choosing it failed."""
        script: Script | None
        with self._lock:
            self.requests.append(req)
            script = self.handler
            if script is None and self._plans:
                self._last = self._plans.pop(0)
            if script is None:
                script = self._last
        if script is None:
            body = b'{"error": {"message": "no scripted reply"}}'
            return [Send(head(500, {"content-type": "application/json", "content-length": str(len(body))}) + body)]
        if not callable(script):
            return script
        try:
            return script(req)
        except Exception as exc:  # noqa: BLE001 - a request a handler cannot read (a corrupted body)
            with self._lock:
                self.bad_requests.append(f"{type(exc).__name__}: {exc}: ".encode() + req.body[:200])
            return None

    def _close(self, link: _Link, *, reset: bool = False) -> None:
        if link.conn.server_closed_at is None and link.conn.client_closed_at is None:
            link.conn.server_closed_at = time.monotonic()
        if reset:
            link.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        link.sock.close()

    # -- reading -------------------------------------------------------------------------------

    def _client_gone(self, link: _Link, kind: str) -> _ClientGone:
        if link.conn.client_closed_at is None and link.conn.server_closed_at is None:
            link.conn.client_closed_at = time.monotonic()
            link.conn.client_close_kind = kind
        return _ClientGone()

    def _pull(self, link: _Link, timeout: float) -> None:
        """Wait up to ``timeout`` for bytes; buffer them. Raises on hang-up or shutdown."""
        ready, _, _ = select.select([link.sock, self._wake_r], [], [], timeout)
        if self._stop.is_set():
            raise _Stopping
        if link.sock not in ready:
            return
        try:
            data = link.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            raise self._client_gone(link, "reset") from None
        except BlockingIOError:
            return
        if not data:
            raise self._client_gone(link, "eof")
        link.buf += data

    def _read_exact(self, link: _Link, n: int) -> bytes:
        while len(link.buf) < n:
            self._pull(link, _POLL)
        out = bytes(link.buf[:n])
        del link.buf[:n]
        return out

    def _read_until(self, link: _Link, marker: bytes) -> bytes:
        while marker not in link.buf:
            self._pull(link, _POLL)
        i = link.buf.index(marker) + len(marker)
        out = bytes(link.buf[:i])
        del link.buf[:i]
        return out

    def _read_request(self, link: _Link) -> SeenRequest | None:
        raw = self._read_until(link, b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
            with self._lock:
                self.bad_requests.append(raw[:200])
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                with self._lock:
                    self.bad_requests.append(raw[:200])
                return None
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked(link)
        else:
            body = self._read_exact(link, int(headers.get("content-length") or 0))
        link.conn.requests += 1
        return SeenRequest(parts[0], parts[1], headers, body, link.conn.id, time.monotonic())

    def _read_chunked(self, link: _Link) -> bytes:
        out = bytearray()
        while True:
            size = int(self._read_until(link, b"\r\n").split(b";")[0], 16)
            if size == 0:
                self._read_until(link, b"\r\n")
                return bytes(out)
            out += self._read_exact(link, size)
            self._read_exact(link, 2)

    # -- writing -------------------------------------------------------------------------------

    def _send(self, link: _Link, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([self._wake_r], [link.sock], [], _POLL)
            if self._stop.is_set():
                raise _Stopping
            if not ready:
                continue
            try:
                n = link.sock.send(view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                raise self._client_gone(link, "reset") from None
            view = view[n:]

    def _wait(self, link: _Link, seconds: float) -> None:
        """Wait, noticing a hang-up (bytes the client sends meanwhile are kept for the next request)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self._pull(link, min(left, _POLL))

    def _trickle(self, link: _Link, action: Trickle) -> None:
        started = time.monotonic()
        for i in range(len(action.data)):
            if action.budget is not None and time.monotonic() - started >= action.budget:
                self._send(link, action.data[i:])
                return
            self._send(link, action.data[i : i + 1])
            self._wait(link, action.interval)

    def _play(self, link: _Link, plan: Plan) -> bool:
        """Play a plan; True when the connection stays open for another request."""
        for action in plan:
            if isinstance(action, Send):
                self._send(link, action.data)
            elif isinstance(action, Trickle):
                self._trickle(link, action)
            elif isinstance(action, Pause):
                self._wait(link, action.seconds)
            elif isinstance(action, Hang):
                self._wait(link, action.max_seconds)
                return False
            elif isinstance(action, Reset):
                self._close(link, reset=True)
                return False
            else:
                return False
        return True
