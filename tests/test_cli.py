"""``sycophant chat``, its errors and exit codes, run as a real subprocess (``python -m sycophant_py``).

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
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer, free_port
from tests.cli_support import (
    ENV_KEY,
    Cli,
    GatedChunks,
    Reader,
    completion,
    isolated_env,
    make_cli,
    no_traceback,
    reap,
    stream_chunks,
    streamed,
    text_of,
)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    yield from make_cli(tmp_path)


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
        reap(proc)
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
        reap(proc)
    assert proc.returncode == 130, err
    assert first + rest == b"Partial ans\n", err
    assert err.decode() == "interrupted\n"  # no traceback, no "Exception ignored"
    assert took < 5


def test_ctrl_c_before_the_provider_answers(tmp_path: Path) -> None:
    gate = threading.Event()

    def slow(rec: RecordedRequest) -> Reply:
        gate.wait(15)  # no headers until the test is over
        return streamed("too late")

    with ScriptedServer(handler=slow) as server:
        cli = Cli(tmp_path, server, isolated_env(tmp_path, server))
        proc = subprocess.Popen(
            cli.argv("chat", "fake:m1", "--stream", "hi"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**cli.env, "FAKE_API_KEY": ENV_KEY},
        )
        try:
            deadline = time.monotonic() + 20
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.02)
            assert server.requests, "the request never arrived"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        finally:
            gate.set()
            reap(proc)
    assert (proc.returncode, out, err) == (130, b"", b"interrupted\n")


def test_chat_error_mid_stream_keeps_the_partial_text(cli: Cli) -> None:
    cli.server.add(Reply(200, {"content-type": "text/event-stream"}, stream_chunks("So far", " so good"), drop_after=2))
    proc = cli.run("chat", "fake:m1", "--stream", "hi", env={"FAKE_API_KEY": ENV_KEY})
    assert proc.returncode == 1
    assert proc.stdout == "So far so good\n"
    no_traceback(proc)
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
        reap(proc)
        os.close(master)
    first, second = (r.json for r in cli.requests())
    assert first["stream"] is True
    assert first["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "first question"},
    ]
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2]["role"] == "assistant"
    assert text_of(second["messages"][2]["content"]) == "First answer."
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
        reap(proc)
        os.close(master)
    assert cli.requests() == []


# -- errors -----------------------------------------------------------------------------------------


def test_missing_key_names_the_env_var_and_keys_set(cli: Cli) -> None:
    proc = cli.run("chat", "fake:m1", "hi")
    assert (proc.returncode, proc.stdout) == (2, "")
    no_traceback(proc)
    assert "FAKE_API_KEY" in proc.stderr
    assert "`sycophant keys set fake`" in proc.stderr
    assert cli.server.requests == []


def test_caller_errors_exit_2_and_provider_errors_exit_1(cli: Cli) -> None:
    bad_param = cli.run("chat", "fake:m1", "hi", "-o", "temperature=5", env={"FAKE_API_KEY": ENV_KEY})
    assert bad_param.returncode == 2
    no_traceback(bad_param)
    assert "temperature" in bad_param.stderr
    unknown = cli.run("chat", "nosuchprovider:m", "hi")
    assert unknown.returncode == 2
    no_traceback(unknown)
    assert "`sycophant providers` lists them" in unknown.stderr
    assert cli.server.requests == []

    cli.server.add(Reply.json({"error": {"message": "bad key", "type": "invalid_request_error"}}, status=401))
    refused = cli.run("chat", "fake:m1", "hi", env={"FAKE_API_KEY": ENV_KEY})
    assert (refused.returncode, refused.stdout) == (1, "")
    no_traceback(refused)
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
    no_traceback(proc)
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
