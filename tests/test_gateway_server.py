"""The gateway as a server: caller keys, limits, disconnects, back-pressure, logs, the bind rule, SIGTERM.

In-process tests run the app under uvicorn in a thread (``running_gateway``); the process-level
ones start ``python -m sycophant_py._gateway`` as a subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

import sycophant_py as syc
from sycophant_py._gateway._settings import GatewayOptions, check_bind, is_loopback, resolve
from sycophant_py.testing import Reply, ScriptedServer
from tests.gateway_support import running_gateway

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-gw-test-key-4242"
HI: Any = [{"role": "user", "content": "Hi"}]


def _chunk(text: str) -> bytes:
    return (
        b"data: " + json.dumps({"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}]}).encode() + b"\n\n"
    )


@pytest.fixture
def upstream() -> Iterator[ScriptedServer]:
    """Provider ``up`` (openai_chat, no auth) on a scripted server."""
    with ScriptedServer() as srv:
        syc.configure(custom_providers={"up": {"base_url": srv.url + "/v1", "auth": "none"}})
        yield srv


def _text_reply(text: str = "ok") -> Reply:
    return Reply.json({"id": "c1", "choices": [{"index": 0, "message": {"content": text}, "finish_reason": "stop"}]})


# -- caller keys ------------------------------------------------------------------------------


def test_keys_missing_or_wrong_get_401_in_the_callers_shape(upstream: ScriptedServer) -> None:
    upstream.add(_text_reply())
    with running_gateway(keys=[KEY, "second-key"]) as url:
        with openai.OpenAI(api_key="wrong", base_url=f"{url}/v1", max_retries=0) as client:
            with pytest.raises(openai.AuthenticationError) as oai_err:
                client.chat.completions.create(model="up:m", messages=HI)
        assert oai_err.value.status_code == 401
        assert isinstance(oai_err.value.body, dict)
        assert oai_err.value.body["type"] == "authentication_error"
        with anthropic.Anthropic(api_key="wrong", base_url=url, max_retries=0) as ant:
            with pytest.raises(anthropic.AuthenticationError) as ant_err:
                ant.messages.create(model="up:m", max_tokens=5, messages=HI)
        assert ant_err.value.body == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "a valid gateway key is required"},
        }
        with httpx.Client(base_url=url) as http:
            missing = http.post("/v1/chat/completions", json={"model": "up:m", "messages": HI})
            assert missing.status_code == 401
            assert missing.json()["error"]["code"] == "invalid_api_key"
            assert http.get("/v1/models").status_code == 401
            assert http.get("/healthz").status_code == 200  # health needs no key
            by_header = http.post(
                "/v1/messages",
                json={"model": "up:m", "max_tokens": 5, "messages": HI},
                headers={"x-api-key": "second-key", "anthropic-version": "2023-06-01"},
            )
            assert by_header.status_code == 200
            assert by_header.json()["content"] == [{"type": "text", "text": "ok"}]
        with openai.OpenAI(api_key=KEY, base_url=f"{url}/v1", max_retries=0) as client:
            assert client.chat.completions.create(model="up:m", messages=HI).choices[0].message.content == "ok"
    assert len(upstream.requests) == 2  # refused requests never reached the upstream


def test_keys_are_compared_by_digest_and_never_printed() -> None:
    options = resolve(keys=[KEY])
    assert options.accepts([KEY])
    assert not options.accepts(["sk-gw-test-key-424", KEY + "x", ""])
    assert resolve(keys=[]).accepts([])
    assert KEY not in repr(options)
    assert "keys=1" in repr(options)


def test_keys_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[gateway]\nkeys = ["{KEY}"]\nmax_request_bytes = 4096\n')
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(config))
    syc.configure(reset=True)
    options = resolve()
    assert options.accepts([KEY])
    assert not options.accepts(["other"])
    assert options.max_request_bytes == 4096


# -- limits ----------------------------------------------------------------------------------


def test_request_size_limit_is_413_in_the_callers_shape(upstream: ScriptedServer) -> None:
    big: Any = [{"role": "user", "content": "x" * 5000}]
    with running_gateway(max_request_bytes=2000) as url:
        with openai.OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0) as client:
            with pytest.raises(openai.APIStatusError) as oai_err:
                client.chat.completions.create(model="up:m", messages=big)
        assert oai_err.value.status_code == 413
        assert isinstance(oai_err.value.body, dict)
        assert oai_err.value.body["code"] == "request_too_large"
        with anthropic.Anthropic(api_key="k", base_url=url, max_retries=0) as ant:
            with pytest.raises(anthropic.APIStatusError) as ant_err:
                ant.messages.create(model="up:m", max_tokens=5, messages=big)
        assert ant_err.value.status_code == 413
        assert isinstance(ant_err.value.body, dict)
        assert ant_err.value.body["error"]["type"] == "request_too_large"

        def chunked() -> Iterator[bytes]:  # no content-length: counted while it is read
            yield b'{"model": "up:m", "messages": [{"role": "user", "content": "'
            yield b"y" * 3000
            yield b'"}]}'

        with httpx.Client(base_url=url) as http:
            assert http.post("/v1/chat/completions", content=chunked()).status_code == 413
            upstream.add(_text_reply())
            small = http.post("/v1/chat/completions", json={"model": "up:m", "messages": HI})
            assert small.status_code == 200
    assert len(upstream.requests) == 1


# -- streams: relayed as they come, cancelled when the caller leaves --------------------------


def test_stream_chunks_are_relayed_as_they_arrive(upstream: ScriptedServer) -> None:
    delay = 0.4
    chunks = [_chunk("A"), _chunk("B"), _chunk("C"), b"data: [DONE]\n\n"]
    upstream.add(Reply(200, {"content-type": "text/event-stream"}, chunks, delay=delay))
    with running_gateway() as url, openai.OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0) as client:
        t0 = time.monotonic()
        seen: list[tuple[str, float]] = []
        for chunk in client.chat.completions.create(model="up:m", messages=HI, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                seen.append((chunk.choices[0].delta.content, time.monotonic() - t0))
    assert [t for t, _ in seen] == ["A", "B", "C"]
    assert seen[0][1] < delay  # the first piece came before the upstream sent the second
    assert seen[1][1] >= delay * 0.9
    assert seen[2][1] >= 2 * delay * 0.9


class _Hanging:
    """An upstream that reads a request, optionally sends a first SSE event, then waits for the client
    to close the connection, noting when it did."""

    def __init__(self, first: bytes | None) -> None:
        self.first = first
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.answered = threading.Event()
        self.closed_at: float | None = None
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _read_request(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")) if k.lower() == b"content-length"
        )
        while len(body) < length:
            body += conn.recv(65536)

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            self._read_request(conn)
            if self.first is not None:
                head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
                conn.sendall(head + self.first)
            self.answered.set()
            conn.settimeout(10)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            self.closed_at = time.monotonic()
            self.closed.set()

    def close(self) -> None:
        self.listener.close()
        self.thread.join(11)


def test_a_caller_closing_a_stream_closes_the_upstream_at_once() -> None:
    up = _Hanging(_chunk("Hel"))
    try:
        syc.register_provider("hang", base_url=up.url + "/v1", auth="none", api="openai_chat")
        with running_gateway() as url, openai.OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0) as client:
            stream = client.chat.completions.create(model="hang:m", messages=HI, stream=True)
            pieces = iter(stream)
            while not (chunk := next(pieces)).choices or chunk.choices[0].delta.content != "Hel":
                pass
            t0 = time.monotonic()
            stream.close()
            assert up.closed.wait(5), "the upstream connection was never closed"
            assert up.closed_at is not None
            assert up.closed_at - t0 < 0.1
    finally:
        up.close()


def test_a_caller_leaving_a_non_streaming_call_closes_the_upstream_at_once() -> None:
    up = _Hanging(None)
    try:
        syc.register_provider("hang", base_url=up.url + "/v1", auth="none", api="openai_chat")
        with running_gateway() as url, httpx.Client(base_url=url, timeout=httpx.Timeout(5.0, read=0.5)) as http:
            with pytest.raises(httpx.ReadTimeout):
                http.post("/v1/chat/completions", json={"model": "hang:m", "messages": HI})
            t0 = time.monotonic()  # the client closed its connection when it gave up
            assert up.closed.wait(5), "the upstream connection was never closed"
            assert up.closed_at is not None
            assert up.closed_at - t0 < 0.1
    finally:
        up.close()


# -- access logs -----------------------------------------------------------------------------


def _access_records(caplog: pytest.LogCaptureFixture, count: int) -> list[logging.LogRecord]:
    deadline = time.monotonic() + 2
    while True:
        records = [r for r in caplog.records if r.getMessage() == "gateway.request"]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.01)


def test_access_log_has_the_fields_and_never_a_key_or_a_body(
    upstream: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sycophant_py")
    secret_text = "my-private-prompt-text"
    upstream.add(_text_reply("private-answer-text"))
    with running_gateway(keys=[KEY]) as url, openai.OpenAI(api_key=KEY, base_url=f"{url}/v1", max_retries=0) as client:
        client.chat.completions.create(model="up:m", messages=[{"role": "user", "content": secret_text}])
        upstream.add(
            Reply.sse([{"id": "c", "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}])
        )
        list(client.chat.completions.create(model="up:m", messages=HI, stream=True))
        records = _access_records(caplog, 2)
    fields = [
        {k: getattr(r, k) for k in ("method", "path", "status", "model", "stream", "outcome") if hasattr(r, k)}
        for r in records
    ]
    assert fields == [
        {"method": "POST", "path": "/v1/chat/completions", "status": 200, "model": "up:m", "stream": False},
        {
            "method": "POST",
            "path": "/v1/chat/completions",
            "status": 200,
            "model": "up:m",
            "stream": True,
            "outcome": "done",
        },
    ]
    for r in records:
        assert r.bytes_in > 0  # type: ignore[attr-defined]
        assert r.bytes_out > 0  # type: ignore[attr-defined]
        assert r.duration_ms >= 0  # type: ignore[attr-defined]
    everything = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    for leaked in (KEY, secret_text, "private-answer-text"):
        assert leaked not in everything


# -- CORS ------------------------------------------------------------------------------------


def test_cors_preflight_when_origins_are_configured() -> None:
    with running_gateway(keys=[KEY], cors_origins=["https://app.example"]) as url, httpx.Client(base_url=url) as http:
        pre = http.options(
            "/v1/chat/completions",
            headers={"origin": "https://app.example", "access-control-request-method": "POST"},
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://app.example"
        other = http.options(
            "/v1/chat/completions", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
        )
        assert "access-control-allow-origin" not in other.headers


# -- the bind rule and the command line ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("gateway.example", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_non_loopback_needs_keys() -> None:
    with pytest.raises(syc.InvalidConfig, match=r"refusing to listen on '0\.0\.0\.0' without caller keys"):
        check_bind("0.0.0.0", GatewayOptions())
    check_bind("0.0.0.0", resolve(keys=[KEY]))
    check_bind("127.0.0.1", GatewayOptions())


def test_serve_refuses_a_public_address_without_keys_before_listening() -> None:
    from sycophant_py._gateway import serve

    with pytest.raises(syc.InvalidConfig, match="without caller keys"):
        serve(host="0.0.0.0", port=1)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_command_line_refuses_a_public_address_without_keys() -> None:
    cmd = [sys.executable, "-m", "sycophant_py._gateway", "--host", "0.0.0.0", "--port", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=_env(), cwd=ROOT, check=False)
    assert done.returncode == 2
    assert "refusing to listen on '0.0.0.0' without caller keys" in done.stderr
    assert done.stderr.count("\n") == 1  # one line, no traceback


def test_missing_server_extra_is_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from sycophant_py._gateway import create_app

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(ImportError, match=r'pip install "sycophant_py\[server\]"'):
        create_app()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited: {proc.communicate()[1]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the gateway did not start")


def test_sigterm_lets_a_stream_finish_then_exits(tmp_path: Path) -> None:
    delay = 0.5
    pieces = ["one ", "two ", "three ", "four"]
    body = [_chunk(p) for p in pieces] + [b"data: [DONE]\n\n"]
    with ScriptedServer() as up:
        up.add(Reply(200, {"content-type": "text/event-stream"}, body, delay=delay))
        config = tmp_path / "config.toml"
        config.write_text(f'[custom_providers.slow]\nbase_url = "{up.url}/v1"\nauth = "none"\n')
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "sycophant_py._gateway", "--port", str(port), "--config", str(config)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
        try:
            _wait_healthy(url, proc)
            with openai.OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0) as client:
                stream = client.chat.completions.create(model="slow:m", messages=HI, stream=True)
                got = []
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        got.append(chunk.choices[0].delta.content)
                        if len(got) == 1:
                            proc.send_signal(signal.SIGTERM)
                            time.sleep(0.2)
                            with pytest.raises(httpx.TransportError):  # no new connections while draining
                                httpx.get(f"{url}/healthz", timeout=1)
                    assert proc.poll() is None or got == pieces  # alive until the stream is complete
            assert got == pieces
            # uvicorn re-raises the signal it caught once the drain is over (exit status -SIGTERM).
            assert proc.wait(15) in (0, -signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()
            _, stderr = proc.communicate()
    logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [e for e in logs if e.get("event") == "gateway.request" and e.get("stream")]
    assert access
    assert access[-1]["outcome"] == "done"


def test_the_cli_serves_the_gateway(tmp_path: Path) -> None:
    """``sycophant serve`` / ``python -m sycophant_py serve``: the same server, flags and config file."""
    with ScriptedServer() as up:
        up.add(Reply(200, {"content-type": "text/event-stream"}, [_chunk("via "), _chunk("cli"), b"data: [DONE]\n\n"]))
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"custom_providers": {"cli": {"base_url": f"{up.url}/v1", "auth": "none"}}}))
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "sycophant_py", "serve", "--port", str(port), "--config", str(config)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
        try:
            _wait_healthy(url, proc)
            with openai.OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0) as client:
                stream = client.chat.completions.create(model="cli:m", messages=HI, stream=True)
                text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert text == "via cli"
            assert up.requests[0].json["model"] == "m"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) in (0, -signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def test_the_cli_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "sycophant_py", "serve", "--host", "0.0.0.0", "--port", "1"]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "keys" in done.stderr
