"""``sycophant chat llamacpp:smollm2 "hi"`` against the real llama.cpp server, on a terminal.

Standard output is a pseudo-terminal (so the command streams, as it does for a person) and
standard error a pipe (so no spinner or stats line mixes in): the answer must arrive in several
pieces, be non-empty, and the command must exit 0 with nothing on standard error.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from sycophant_py.testing import LocalServer

ROOT = Path(__file__).resolve().parent.parent.parent


def test_chat_streams_a_real_answer(llama_server: LocalServer, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "SYCOPHANT_CONFIG": str(tmp_path / "none.toml"),
        "SYCOPHANT_AUTH_FILE": str(tmp_path / "auth.json"),
        "LLAMACPP_BASE_URL": llama_server.base_url,
        "NO_PROXY": "*",
        "TERM": "xterm-256color",
    }
    master, slave = pty.openpty()
    argv = [sys.executable, "-m", "sycophant_py", "chat", "llamacpp:smollm2", "hi", "-o", "max_tokens=40"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    pieces: list[tuple[float, bytes]] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1.0)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            pieces.append((time.monotonic(), chunk))
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        os.close(master)
    text = b"".join(chunk for _, chunk in pieces).decode()
    assert err == b""
    assert text.strip()
    assert text.endswith("\r\n")  # the command ends the answer's line
    assert len(pieces) >= 2, pieces  # streamed: printed as the tokens came, not at once
