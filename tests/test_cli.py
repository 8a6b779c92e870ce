"""The ``sycophant`` command line, run as a real subprocess (``python -m sycophant_py``).

Each test gets its own config file (``SYCOPHANT_CONFIG``), credential store (``SYCOPHANT_AUTH_FILE``)
and ``HOME`` in a temp directory, and an environment holding no provider key unless the test sets
one. Provider ``fake`` (openai_chat, key required from ``FAKE_API_KEY``) points at a
``ScriptedServer`` on 127.0.0.1, so every test checks what was sent as well as what was printed.
The interactive session runs on a pseudo-terminal; Ctrl-C is a real SIGINT sent mid-stream.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import stat
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer, free_port, sse_body

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


def _config_text(url: str) -> str:
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


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    with ScriptedServer() as server:
        (tmp_path / "home").mkdir()
        config = tmp_path / "config.toml"
        config.write_text(_config_text(server.url))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path / "home"),
            "PYTHONPATH": str(ROOT),
            "SYCOPHANT_CONFIG": str(config),
            "SYCOPHANT_AUTH_FILE": str(tmp_path / "data" / "sycophant" / "auth.json"),
            "NO_PROXY": "*",
            "LANG": "C.UTF-8",
        }
        yield Cli(tmp_path, server, env)


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# -- chat ---------------------------------------------------------------------------------------------


def test_chat_prompt_from_arguments_with_system_and_options(cli: Cli) -> None:
    cli.server.add(Reply.json(completion("Rayleigh scattering.")))
    proc = cli.run(
        "chat",
        "fake:m1",
        "Why is the sky",
        "blue?",
        "-s",
        "Be brief.",
        "-o",
        "temperature=0.2",
        "-o",
        "max_tokens=50",
        "-o",
        'stop=["END"]',
        "-o",
        "service_tier=flex",
        env={"FAKE_API_KEY": ENV_KEY},
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Rayleigh scattering.\n", "")
    [req] = cli.requests()
    body = req.json
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why is the sky blue?"},
    ]
    # JSON values where they parse (a float, an int, a list), the raw string otherwise.
    assert (body["temperature"], body["max_tokens"], body["stop"], body["service_tier"]) == (0.2, 50, ["END"], "flex")
    assert not body.get("stream")
    assert req.headers["authorization"] == f"Bearer {ENV_KEY}"


def test_chat_prompt_from_stdin(cli: Cli) -> None:
    cli.server.add(Reply.json(completion("Two lines read.")))
    proc = cli.run("chat", "fake:m1", stdin="first line\nsecond line\n", env={"FAKE_API_KEY": ENV_KEY})
    assert (proc.returncode, proc.stdout) == (0, "Two lines read.\n")
    assert cli.requests()[0].json["messages"] == [{"role": "user", "content": "first line\nsecond line\n"}]


def test_chat_json(cli: Cli) -> None:
    cli.server.add(Reply.json(completion("Blue light scatters most.", prompt_tokens=1000, completion_tokens=500)))
    proc = cli.run("chat", "fake:m1", "why?", "--json", env={"FAKE_API_KEY": ENV_KEY})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["text"] == "Blue light scatters most."
    assert (out["finish_reason"], out["model"], out["provider"]) == ("stop", "m1", "fake")
    usage = out["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (1000, 500, 1500)
    # the config's prices, USD per million tokens: 1000 * 1.0 + 500 * 2.0
    assert usage["cost"]["total"] == pytest.approx(0.002)


def test_chat_streams_each_delta_before_the_rest_is_sent(cli: Cli) -> None:
    gate = threading.Event()
    cli.server.add(
        Reply(200, {"content-type": "text/event-stream"}, GatedChunks(stream_chunks("Hel", "lo, ", "world!"), gate))
    )
    proc = subprocess.Popen(
        cli.argv("chat", "fake:m1", "--stream", "hi"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**cli.env, "FAKE_API_KEY": ENV_KEY},
    )
    try:
        assert proc.stdout is not None
        first = Reader(proc.stdout.fileno()).until(b"Hel")
        assert first == b"Hel"  # printed while the server still holds the rest of the stream
        gate.set()
        rest, err = proc.communicate(timeout=20)
    finally:
        gate.set()
        _reap(proc)
    assert (proc.returncode, first + rest, err) == (0, b"Hello, world!\n", b"")
    assert cli.requests()[0].json["stream"] is True


def test_ctrl_c_mid_stream_prints_what_arrived_and_exits_130(cli: Cli) -> None:
    gate = threading.Event()  # never opened before the signal: the stream hangs after its first delta
    cli.server.add(
        Reply(200, {"content-type": "text/event-stream"}, GatedChunks(stream_chunks("Partial ans", "wer"), gate))
    )
    proc = subprocess.Popen(
        cli.argv("chat", "fake:m1", "--stream", "hi"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**cli.env, "FAKE_API_KEY": ENV_KEY},
    )
    try:
        assert proc.stdout is not None
        first = Reader(proc.stdout.fileno()).until(b"Partial ans")
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
        took = time.monotonic() - started
    finally:
        gate.set()
        _reap(proc)
    assert proc.returncode == 130, err
    assert first + rest == b"Partial ans\n", err
    assert err.decode() == "interrupted\n"  # no traceback, no "Exception ignored"
    assert took < 5


def test_chat_error_mid_stream_keeps_the_partial_text(cli: Cli) -> None:
    cli.server.add(Reply(200, {"content-type": "text/event-stream"}, stream_chunks("So far", " so good"), drop_after=2))
    proc = cli.run("chat", "fake:m1", "--stream", "hi", env={"FAKE_API_KEY": ENV_KEY})
    assert proc.returncode == 1
    assert proc.stdout == "So far so good\n"
    _no_traceback(proc)
    assert proc.stderr.startswith("sycophant: error: ")


def test_interactive_session_keeps_the_context(cli: Cli) -> None:
    cli.server.add(streamed("First ", "answer."), streamed("Second ", "answer."))
    master, slave = pty.openpty()
    env = {**cli.env, "FAKE_API_KEY": ENV_KEY, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    proc = subprocess.Popen(
        cli.argv("chat", "fake:m1", "-s", "Be kind."), stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    term = Reader(master)
    try:
        assert b"Chatting with fake:m1" in term.until(b"> ")
        os.write(master, b"first question\n")
        term.until(b"First answer.")
        term.until(b"> ")
        os.write(master, b"second question\n")
        term.until(b"Second answer.")
        term.until(b"> ")
        os.write(master, b"/exit\n")
        assert proc.wait(timeout=20) == 0
    finally:
        _reap(proc)
        os.close(master)
    first, second = (r.json for r in cli.requests())
    assert first["stream"] is True
    assert first["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "first question"},
    ]
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2]["role"] == "assistant"
    assert _text(second["messages"][2]["content"]) == "First answer."
    assert second["messages"][3] == {"role": "user", "content": "second question"}
    assert len(second["messages"]) == 4


def test_interactive_session_ends_on_ctrl_d(cli: Cli) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        cli.argv("chat", "fake:m1"), stdin=slave, stdout=slave, stderr=slave, env={**cli.env, "TERM": "dumb"}
    )
    os.close(slave)
    try:
        Reader(master).until(b"> ")
        os.write(master, b"\x04")  # Ctrl-D at an empty prompt
        assert proc.wait(timeout=20) == 0
    finally:
        _reap(proc)
        os.close(master)
    assert cli.requests() == []


# -- errors -----------------------------------------------------------------------------------------


def test_missing_key_names_the_env_var_and_keys_set(cli: Cli) -> None:
    proc = cli.run("chat", "fake:m1", "hi")
    assert (proc.returncode, proc.stdout) == (2, "")
    _no_traceback(proc)
    assert "FAKE_API_KEY" in proc.stderr
    assert "`sycophant keys set fake`" in proc.stderr
    assert cli.server.requests == []


def test_caller_errors_exit_2_and_provider_errors_exit_1(cli: Cli) -> None:
    bad_param = cli.run("chat", "fake:m1", "hi", "-o", "temperature=5", env={"FAKE_API_KEY": ENV_KEY})
    assert bad_param.returncode == 2
    _no_traceback(bad_param)
    assert "temperature" in bad_param.stderr
    unknown = cli.run("chat", "nosuchprovider:m", "hi")
    assert unknown.returncode == 2
    _no_traceback(unknown)
    assert "`sycophant providers` lists them" in unknown.stderr
    assert cli.server.requests == []

    cli.server.add(Reply.json({"error": {"message": "bad key", "type": "invalid_request_error"}}, status=401))
    refused = cli.run("chat", "fake:m1", "hi", env={"FAKE_API_KEY": ENV_KEY})
    assert (refused.returncode, refused.stdout) == (1, "")
    _no_traceback(refused)
    assert "401" in refused.stderr
    assert ENV_KEY not in refused.stderr


def test_usage_errors(cli: Cli) -> None:
    no_equals = cli.run("chat", "fake:m1", "-o", "temperature", "hi")
    assert no_equals.returncode == 2
    assert "KEY=VALUE" in no_equals.stderr
    no_prompt = cli.run("chat", "fake:m1", stdin="")
    assert no_prompt.returncode == 2
    assert "no prompt" in no_prompt.stderr
    assert cli.server.requests == []


def test_refused_connection_says_where_it_tried(cli: Cli) -> None:
    port = free_port()
    proc = cli.run("chat", "llamacpp:smollm2", "hi", env={"LLAMACPP_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    assert proc.returncode == 1
    _no_traceback(proc)
    assert f"http://127.0.0.1:{port}/v1" in proc.stderr
    assert "LLAMACPP_BASE_URL" in proc.stderr


def test_debug_prints_the_traceback(cli: Cli) -> None:
    proc = cli.run("--debug", "chat", "fake:m1", "hi")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert "MissingCredentials" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("sycophant: error: no api_key for provider 'fake'")


def test_a_closed_pipe_ends_quietly(cli: Cli) -> None:
    proc = subprocess.Popen(cli.argv("models"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env)
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdout.readline()  # then stop reading, as `| head -1` does
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=30) == 141
    assert err == b""


# -- models and providers ---------------------------------------------------------------------------------


def test_models_and_providers(cli: Cli) -> None:
    as_json = cli.run("models", "--provider", "fake", "--json")
    assert as_json.returncode == 0, as_json.stderr
    by_spec = {m["spec"]: m for m in json.loads(as_json.stdout)}
    assert sorted(by_spec) == ["fake:emb", "fake:m1"]
    m1 = by_spec["fake:m1"]
    assert (m1["name"], m1["context_window"], m1["cost"]["input"], m1["cost"]["output"]) == ("Fake One", 1000, 1.0, 2.0)

    plain = cli.run("models", "-p", "fake")
    assert sorted(plain.stdout.splitlines()) == ["fake:emb\temb\t\t\t", "fake:m1\tFake One\t1000\t1\t2"]
    assert not ANSI.search(plain.stdout)

    providers = cli.run("providers", "--json")
    assert providers.returncode == 0
    rows = {p["id"]: p for p in json.loads(providers.stdout)}
    assert rows["fake"] == {
        "id": "fake",
        "name": "Fake Provider",
        "base_url": cli.server.url + "/v1",
        "auth": "required",
        "env": ["FAKE_API_KEY"],
        "local": False,
        "models": 2,
    }
    assert {"openai", "anthropic", "llamacpp"} <= set(rows)
    listed = cli.run("providers").stdout.splitlines()
    assert f"fake\tFake Provider\trequired\tFAKE_API_KEY\t2\t{cli.server.url}/v1" in listed

    unknown = cli.run("models", "-p", "nosuch")
    assert unknown.returncode == 2


@pytest.mark.xfail(strict=True, reason="needs syc.available from the factories branch")
def test_providers_available(cli: Cli) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    env = {f"{n}_BASE_URL": closed for n in ("OLLAMA", "VLLM", "LMSTUDIO", "LLAMACPP")}
    without = cli.run("providers", "--available", "--json", env=env)
    assert without.returncode == 0, without.stderr
    assert "fake" not in {p["id"] for p in json.loads(without.stdout)}
    with_key = cli.run("providers", "--available", "--json", env={**env, "FAKE_API_KEY": ENV_KEY})
    ids = {p["id"] for p in json.loads(with_key.stdout)}
    assert "fake" in ids
    assert "openai" not in ids


# -- keys, login, logout -----------------------------------------------------------------------------------


def test_keys_set_list_remove(cli: Cli) -> None:
    stored = cli.run("keys", "set", "fake", stdin=STORE_KEY + "\n")
    assert stored.returncode == 0, stored.stderr
    assert STORE_KEY not in stored.stderr + stored.stdout
    assert stat.S_IMODE(cli.store.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.store.parent.stat().st_mode) == 0o700
    assert json.loads(cli.store.read_text()) == {"fake": {"type": "api_key", "key": STORE_KEY}}

    listed = cli.run("keys", "list")
    assert listed.stdout == "fake\tapi_key\t***2222\n"
    assert json.loads(cli.run("keys", "list", "--json").stdout) == [
        {"provider": "fake", "type": "api_key", "detail": "***2222"}
    ]

    cli.server.add(Reply.json(completion("ok")))
    assert cli.run("chat", "fake:m1", "hi").returncode == 0  # no env var: the stored key is used
    assert cli.requests()[0].headers["authorization"] == f"Bearer {STORE_KEY}"

    assert cli.run("keys", "set", "fake", "sk-argument-key-dddddddd4444").returncode == 0
    assert json.loads(cli.store.read_text())["fake"]["key"] == "sk-argument-key-dddddddd4444"

    removed = cli.run("keys", "remove", "fake")
    assert removed.returncode == 0
    assert json.loads(cli.store.read_text()) == {}
    again = cli.run("keys", "remove", "fake")
    assert again.returncode == 1
    _no_traceback(again)
    assert cli.run("keys", "list").stdout == ""


def test_keys_set_refuses_unknown_providers_and_empty_keys(cli: Cli) -> None:
    typo = cli.run("keys", "set", "opnai", stdin="sk-whatever-key-eeeeeeee5555")
    assert typo.returncode == 2
    _no_traceback(typo)
    assert "'openai'" in typo.stderr
    assert "--force" in typo.stderr
    assert not cli.store.exists()
    forced = cli.run("keys", "set", "opnai", "--force", stdin="sk-whatever-key-eeeeeeee5555")
    assert forced.returncode == 0
    empty = cli.run("keys", "set", "fake", stdin="  \n")
    assert empty.returncode == 2
    _no_traceback(empty)
    assert set(json.loads(cli.store.read_text())) == {"opnai"}


def test_keys_set_prompts_without_echo_on_a_terminal(cli: Cli) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(cli.argv("keys", "set", "fake"), stdin=slave, stdout=slave, stderr=slave, env=cli.env)
    os.close(slave)
    try:
        Reader(master).until(b"API key for fake:")
        os.write(master, STORE_KEY.encode() + b"\n")
        assert proc.wait(timeout=20) == 0
        shown = _drain(master)
    finally:
        _reap(proc)
        os.close(master)
    assert STORE_KEY.encode() not in shown  # not echoed, and only masked in the confirmation
    assert b"***2222" in shown
    assert json.loads(cli.store.read_text()) == {"fake": {"type": "api_key", "key": STORE_KEY}}


def test_login_and_logout_github_copilot(cli: Cli) -> None:
    from tests.fake_idp import FakeIdP

    gh = "gho_device_flow_token_0123456789"
    with FakeIdP() as idp:
        idp.copilot_accounts.add(gh)
        idp.device_interval = 0.05  # type: ignore[assignment]  # seconds between polls, kept short
        idp.device_polls = [{"error": "authorization_pending"}, {"access_token": gh}]
        with cli.config.open("a") as f:
            f.write(f'\n[providers.github-copilot]\ntoken_url = "{idp.url}/copilot_internal/v2/token"\n')
        proc = cli.run("login", "github-copilot", env={"SYCOPHANT_GITHUB_URL": idp.url})
    assert proc.returncode == 0, proc.stderr
    assert f"Go to {idp.url}/login/device and enter the code: ABCD-1234" in proc.stderr
    entry = json.loads(cli.store.read_text())["github-copilot"]
    assert (entry["type"], entry["refresh"]) == ("oauth", gh)
    assert stat.S_IMODE(cli.store.stat().st_mode) == 0o600
    listed = cli.run("keys", "list").stdout
    assert listed.startswith("github-copilot\toauth\tlogin (")
    assert gh not in listed
    assert cli.run("keys", "remove", "github-copilot").returncode == 2  # an OAuth login: logout removes it
    assert cli.run("logout", "github-copilot").returncode == 0
    assert json.loads(cli.store.read_text()) == {}
    assert cli.run("logout", "github-copilot").returncode == 1
    no_login = cli.run("login", "fake")
    assert no_login.returncode == 2
    _no_traceback(no_login)


# -- embed --------------------------------------------------------------------------------------------------


def test_embed(cli: Cli) -> None:
    body = {
        "data": [{"index": 0, "embedding": [0.1, 0.2]}, {"index": 1, "embedding": [0.3, 0.4]}],
        "model": "emb",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    cli.server.add(Reply.json(body))
    proc = cli.run("embed", "fake:emb", "hello", "world", "-o", "dimensions=2", env={"FAKE_API_KEY": ENV_KEY})
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [[0.1, 0.2], [0.3, 0.4]]
    [req] = cli.requests("/v1/embeddings")
    assert (req.json["input"], req.json["dimensions"], req.json["model"]) == (["hello", "world"], 2, "emb")

    from_stdin = cli.run("embed", "fake:emb", "--json", stdin="hello\nworld\n", env={"FAKE_API_KEY": ENV_KEY})
    out = json.loads(from_stdin.stdout)
    assert (out["vectors"], out["usage"]["input_tokens"], out["provider"]) == ([[0.1, 0.2], [0.3, 0.4]], 4, "fake")
    assert cli.requests("/v1/embeddings")[1].json["input"] == ["hello", "world"]


# -- doctor --------------------------------------------------------------------------------------------------


def test_doctor_shows_where_each_key_comes_from(cli: Cli) -> None:
    with cli.config.open("a") as f:
        f.write(f'\n[providers.fake]\napi_key = "{CONFIG_KEY}"\n')
    assert cli.run("keys", "set", "fake", STORE_KEY).returncode == 0
    closed = f"http://127.0.0.1:{free_port()}/v1"
    env = {"FAKE_API_KEY": ENV_KEY, "OPENAI_API_KEY": "sk-openai-key-ffffffff6666", "OLLAMA_BASE_URL": closed}
    env.update({f"{n}_BASE_URL": closed for n in ("VLLM", "LMSTUDIO", "LLAMACPP")})
    started = time.monotonic()
    proc = cli.run("doctor", "--json", env=env)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    for secret in (CONFIG_KEY, STORE_KEY, ENV_KEY, "sk-openai-key-ffffffff6666"):
        assert secret not in proc.stdout
    report = json.loads(proc.stdout)
    assert report["config"] == {"path": str(cli.config), "from_env": True, "exists": True, "ok": True, "error": None}
    assert report["store"] == {
        "path": str(cli.store),
        "exists": True,
        "mode": "0600",
        "ok": True,
        "error": None,
        "entries": 1,
    }
    creds = {c["provider"]: c for c in report["credentials"]}
    assert creds["fake"]["sources"] == [
        {"layer": "config", "what": "api_key", "value": "***3333", "used": True},
        {"layer": "store", "what": "api_key", "value": "***2222"},
        {"layer": "env", "what": "FAKE_API_KEY", "value": "***1111"},
    ]
    assert creds["openai"]["sources"] == [{"layer": "env", "what": "OPENAI_API_KEY", "value": "***6666", "used": True}]
    assert creds["openai"]["status"] == "ok"
    assert [s["name"] for s in report["local_servers"]] == ["ollama", "vllm", "lmstudio", "llamacpp"]
    assert {s["base_url"] for s in report["local_servers"]} == {closed}
    assert took < 10

    plain = cli.run("doctor", env=env)
    assert plain.returncode == 0
    assert not ANSI.search(plain.stdout)
    assert "  fake: ok; config api_key ***3333 (used); store api_key ***2222; env FAKE_API_KEY ***1111" in (
        plain.stdout.splitlines()
    )


def test_doctor_reports_a_broken_config_and_store(cli: Cli) -> None:
    cli.config.write_text("[custom_providers.fake\n")
    cli.store.parent.mkdir(parents=True)
    cli.store.write_text("{not json")
    proc = cli.run("doctor", "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["config"]["ok"] is False
    assert str(cli.config) in report["config"]["error"]
    assert report["store"]["ok"] is False
    assert "not valid JSON" in report["store"]["error"]
    assert report["credentials"] is None


@pytest.mark.xfail(strict=True, reason="needs syc.available from the factories branch")
def test_doctor_probes_local_servers(cli: Cli) -> None:
    with ScriptedServer() as llama:
        llama.add(Reply.json({"object": "list", "data": [{"id": "smollm2", "object": "model"}]}))
        closed = f"http://127.0.0.1:{free_port()}/v1"
        env = {f"{n}_BASE_URL": closed for n in ("OLLAMA", "VLLM", "LMSTUDIO")}
        env["LLAMACPP_BASE_URL"] = llama.url + "/v1"
        started = time.monotonic()
        proc = cli.run("doctor", "--json", env=env)
        took = time.monotonic() - started
    report = json.loads(proc.stdout)
    reachable = {s["name"]: s["reachable"] for s in report["local_servers"]}
    assert reachable == {"ollama": False, "vllm": False, "lmstudio": False, "llamacpp": True}
    assert llama.requests  # it was really asked
    assert took < 10


# -- packaging ----------------------------------------------------------------------------------------------


def test_console_script_entry_point() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"sycophant": "sycophant_py._cli:main"}
    module, _, attr = scripts["sycophant"].partition(":")
    code = f"import sys; from {module} import {attr}; sys.exit({attr}(['--version']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=_bare_env())
    assert (proc.returncode, proc.stdout) == (0, "sycophant, version 0.1.0\n")


def test_without_the_cli_extra_one_line_says_what_to_install() -> None:
    code = "import sys; sys.modules['rich'] = None; from sycophant_py._cli import main; sys.exit(main(['models']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=_bare_env())
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "sycophant: the command line needs click and rich: pip install 'sycophant_py[cli]'\n"


def test_importing_the_library_loads_neither_click_nor_rich() -> None:
    code = (
        "import sys, json, sycophant_py, sycophant_py._cli\n"
        "print(json.dumps([m for m in ('click', 'rich') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_bare_env())
    assert json.loads(out.stdout) == []


def test_piped_output_never_loads_rich(cli: Cli) -> None:
    code = "import sys; from sycophant_py._cli import main; main(['providers']); print('rich' in sys.modules, file=sys.stderr)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=cli.env)
    assert proc.stderr == "False\n"


# -- helpers ------------------------------------------------------------------------------------------------


def _bare_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"}


def _text(content: Any) -> str:
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


def _drain(fd: int) -> bytes:
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


def _reap(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=20)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
