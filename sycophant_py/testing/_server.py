"""A scripted HTTP server on 127.0.0.1 for tests: it records every request and answers from a script.

It runs in a background thread (stdlib ``http.server``), so sync and async clients alike talk
real HTTP to it. Each reply is a :class:`Reply`: a status, headers and a body given whole, as
chunks written with a flush between them (to split streams at chosen byte boundaries), or cut
off mid-body (``drop_after``) to simulate a broken connection.

Example::

    with ScriptedServer() as srv:
        srv.add(Reply.json({"choices": [...]}))
        syc.configure(custom_providers={"fake": {"base_url": srv.url + "/v1", "auth": "none"}})
        syc.generate_text("fake:any", "hi")
        assert srv.requests[0].json["model"] == "any"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import override

__all__ = ["RecordedRequest", "Reply", "ScriptedServer", "sse_body"]


@dataclass
class RecordedRequest:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    drop_after: int | None = None
    """Close the connection abruptly after this many chunks."""
    delay: float = 0.0
    """Seconds to wait between chunks."""

    @classmethod
    def json(cls, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """A JSON reply."""
        data = json.dumps(body).encode()
        return cls(status, {"content-type": "application/json", **(headers or {})}, [data])

    @classmethod
    def sse(
        cls,
        events: Iterable[Any],
        *,
        done: bool = True,
        chunk_size: int | None = None,
        drop_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """An SSE stream of JSON payloads (``str`` items are sent as raw data lines)."""
        body = sse_body(events, done=done)
        chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)] if chunk_size else [body]
        return cls(200, {"content-type": "text/event-stream", **(headers or {})}, chunks, drop_after)

    @classmethod
    def reset(cls) -> Reply:
        """Close the connection without answering (a connection reset)."""
        return cls(status=0)

    @classmethod
    def raw(
        cls,
        body: bytes,
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """A reply with a literal body."""
        return cls(status, {"content-type": content_type, **(headers or {})}, [body])


def sse_body(events: Iterable[Any], *, done: bool = True) -> bytes:
    """Render payloads as an SSE body (``(event, payload)`` tuples set the event name)."""
    out = []
    for item in events:
        name, ev = item if isinstance(item, tuple) else (None, item)
        data = ev if isinstance(ev, str) else json.dumps(ev)
        out.append((f"event: {name}\n" if name else "") + f"data: {data}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up early (a closed stream, a timeout) is not an error worth printing."""

    @override
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class ScriptedServer:
    """An HTTP server on 127.0.0.1 answering from a queue of replies (or a handler function)."""

    def __init__(self, handler: Callable[[RecordedRequest], Reply] | None = None, port: int = 0) -> None:
        self.requests: list[RecordedRequest] = []
        self.replies: list[Reply] = []
        self.handler = handler
        self._last: Reply | None = None
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, not after a delayed ACK

            @override
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                rec = RecordedRequest(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(n) if n else b"",
                )
                server._reply(self, rec)

            do_POST = do_GET = do_PUT = do_DELETE = _serve  # noqa: N815 - the names http.server dispatches to

        self._httpd = _QuietServer(("127.0.0.1", port), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, *replies: Reply) -> ScriptedServer:
        """Queue replies (served in order; the last one served repeats once the queue is empty)."""
        with self._lock:
            self.replies.extend(replies)
        return self

    def _next(self, rec: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(rec)
            if self.handler is not None:
                return self.handler(rec)
            if self.replies:
                self._last = self.replies.pop(0)
            if self._last is None:
                return Reply.json({"error": {"message": "no scripted reply"}}, status=500)
            return self._last

    def _reply(self, h: BaseHTTPRequestHandler, rec: RecordedRequest) -> None:
        reply = self._next(rec)
        if reply.status == 0:
            import socket
            import struct

            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.close_connection = True
            return
        h.send_response(reply.status)
        streamed = reply.drop_after is not None or len(reply.chunks) > 1
        for k, v in reply.headers.items():
            h.send_header(k, v)
        if streamed:
            h.send_header("connection", "close")
        else:
            h.send_header("content-length", str(sum(len(c) for c in reply.chunks)))
        h.end_headers()
        for i, chunk in enumerate(reply.chunks):
            if reply.drop_after is not None and i >= reply.drop_after:
                break
            if reply.delay and i:
                time.sleep(reply.delay)
            h.wfile.write(chunk)
            h.wfile.flush()
        if streamed:
            h.close_connection = True

    def start(self) -> ScriptedServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
