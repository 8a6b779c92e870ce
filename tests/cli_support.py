"""Shared pieces of the command-line tests (``test_cli.py``, ``test_cli_admin.py``).

``Cli`` runs ``python -m sycophant_py`` in a real subprocess with an isolated environment: its own
config file (``SYCOPHANT_CONFIG``), credential store (``SYCOPHANT_AUTH_FILE``) and ``HOME``, and no
provider key unless a test sets one. Provider ``fake`` (openai_chat, key required from
``FAKE_API_KEY``) points at a ``ScriptedServer`` on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing_extensions import override

from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer, sse_body

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[")
ENV_KEY = "sk-env-key-aaaaaaaaaaaa1111"
STORE_KEY = "sk-store-key-bbbbbbbbbb2222"
CONFIG_KEY = "sk-config-key-cccccccccc3333"


def completion(text: str, prompt_tokens: int = 10, completion_tokens: int = 4) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "m1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def stream_chunks(*deltas: str) -> list[bytes]:
    """An openai_chat stream, one SSE event per chunk (the first carries the role)."""
    events: list[Any] = []
    for i, delta in enumerate(deltas):
        d = {"role": "assistant", "content": delta} if i == 0 else {"content": delta}
        events.append({"id": "c1", "model": "m1", "choices": [{"index": 0, "delta": d, "finish_reason": None}]})
    events.append({"id": "c1", "model": "m1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({"id": "c1", "model": "m1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}})
    return [sse_body([e], done=False) for e in events] + [b"data: [DONE]\n\n"]


def streamed(*deltas: str) -> Reply:
    return Reply(200, {"content-type": "text/event-stream"}, stream_chunks(*deltas))


class GatedChunks(list[bytes]):
    """Chunks served in order; everything after the first waits until ``gate`` is set."""

    def __init__(self, chunks: Sequence[bytes], gate: threading.Event) -> None:
        super().__init__(chunks)
        self.gate = gate

    @override
    def __iter__(self) -> Iterator[bytes]:
        items = list(super().__iter__())
        yield items[0]
        self.gate.wait(15)
        yield from items[1:]


@dataclass
class Cli:
    """Runs ``python -m sycophant_py`` with an isolated environment."""

    tmp: Path
    server: ScriptedServer
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return Path(self.env["SYCOPHANT_CONFIG"])

    @property
    def store(self) -> Path:
        return Path(self.env["SYCOPHANT_AUTH_FILE"])

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sycophant_py", *args]

    def run(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=60,
            check=False,
        )

    def requests(self, path: str = "/v1/chat/completions") -> list[RecordedRequest]:
        return [r for r in self.server.requests if r.path == path]


def config_text(url: str) -> str:
    return f"""
[custom_providers.fake]
name = "Fake Provider"
base_url = "{url}/v1"
auth = "required"
env = ["FAKE_API_KEY"]

[custom_providers.fake.models.m1]
name = "Fake One"
context_window = 1000
cost = {{ input = 1.0, output = 2.0 }}

[custom_providers.fake.models.emb]
api = "openai_embed"
capabilities = {{ embeddings = true }}
"""


def isolated_env(tmp_path: Path, server: ScriptedServer) -> dict[str, str]:
    """No provider key, a config file naming ``fake`` on ``server``, a store and a HOME of its own."""
    (tmp_path / "home").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(config_text(server.url))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
        "SYCOPHANT_CONFIG": str(config),
        "SYCOPHANT_AUTH_FILE": str(tmp_path / "data" / "sycophant" / "auth.json"),
        "NO_PROXY": "*",
        "LANG": "C.UTF-8",
    }


def make_cli(tmp_path: Path) -> Iterator[Cli]:
    """The body of each test module's ``cli`` fixture: a started server and a ``Cli`` on it."""
    with ScriptedServer() as server:
        yield Cli(tmp_path, server, isolated_env(tmp_path, server))


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def bare_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"}


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content)


class Reader:
    """Reads a pipe or a pty as one growing buffer; ``until`` waits for text past what it already matched."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.pos = 0

    def until(self, pattern: bytes, timeout: float = 20) -> bytes:
        """Everything from the last match's end through the next ``pattern`` (a pty's EIO at exit ends it)."""
        deadline = time.monotonic() + timeout
        while (found := self.buf.find(pattern, self.pos)) < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen within {timeout}s; got {self.buf[self.pos :]!r}")
            if not select.select([self.fd], [], [], left)[0]:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"{pattern!r} not seen before the end; got {self.buf[self.pos :]!r}")
            self.buf += chunk
        start, self.pos = self.pos, found + len(pattern)
        return self.buf[start : self.pos]


def drain(fd: int) -> bytes:
    buf = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def reap(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=20)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
