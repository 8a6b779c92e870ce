"""Running the gateway for tests: uvicorn in a background thread on 127.0.0.1, and scripted upstreams.

``running_gateway(**settings)`` serves ``create_app(**settings)`` exactly as ``serve`` does (uvicorn,
uvloop and httptools when installed, graceful shutdown), on a free port, and yields its base URL.
``Upstream`` registers a provider speaking one built-in protocol against a ``ScriptedServer``,
with replies rendered by that protocol's contract dialect.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sycophant_py as syc
from sycophant_py.testing import ScriptedServer
from tests.contract.dialect import Dialect
from tests.contract.dialects import dialect_for

CHAT_PROTOCOLS = [
    "openai_chat",
    "openai_responses",
    "anthropic_messages",
    "google_gemini",
    "bedrock_converse",
    "ollama_native",
]


@contextmanager
def running_gateway(**settings: Any) -> Iterator[str]:
    """The gateway app served by uvicorn in a thread; yields ``http://127.0.0.1:PORT``."""
    import uvicorn

    from sycophant_py._gateway import create_app

    app = create_app(**settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass
class Upstream:
    """A provider speaking ``protocol`` against a scripted server; ``spec`` is its model spec."""

    protocol: str
    server: ScriptedServer
    dialect: Dialect
    spec: str

    @classmethod
    def start(
        cls, protocol: str, name: str | None = None, models: list[dict[str, Any]] | None = None, api: str | None = None
    ) -> Upstream:
        """Start a scripted server and register provider ``name`` (default ``up-<protocol>``) on it.

        ``api`` overrides the protocol the provider is registered with (an embedding protocol).
        """
        d = dialect_for(protocol)
        assert d is not None
        provider = name or f"up-{protocol.replace('_', '-')}"
        srv = ScriptedServer().start()
        settings = d.provider(srv.url)
        if models is not None:
            settings["models"] = models
        if api is not None:
            settings["api"] = api
        syc.register_provider(provider, **settings)
        if protocol == "bedrock_converse":
            from tests.contract.dialects.bedrock_converse import CREDENTIALS

            syc.configure(providers={provider: dict(CREDENTIALS)})
        return cls(protocol, srv, d, f"{provider}:{d.model}")

    def sent(self, index: int = -1) -> dict[str, Any]:
        """The JSON body of a request the upstream received."""
        body: dict[str, Any] = self.server.requests[index].json
        return body

    def stop(self) -> None:
        """Stop the scripted server."""
        self.server.stop()
