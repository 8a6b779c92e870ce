"""``sycophant models``, ``providers``, ``keys``, ``login``/``logout``, ``embed``, ``doctor`` and the packaging.

Run as real subprocesses with the isolated environment of ``tests/cli_support.py``; the Copilot
login talks to the fake identity provider of ``tests/fake_idp.py``.
"""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from sycophant_py.testing import Reply, ScriptedServer, free_port
from tests.cli_support import (
    ANSI,
    CONFIG_KEY,
    ENV_KEY,
    ROOT,
    STORE_KEY,
    Cli,
    Reader,
    bare_env,
    completion,
    drain,
    make_cli,
    no_traceback,
    reap,
)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    yield from make_cli(tmp_path)


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
        "local": True,  # a configured provider on 127.0.0.1 gets the local defaults (its own auth wins)
        "models": 2,
    }
    assert {"openai", "anthropic", "llamacpp"} <= set(rows)
    listed = cli.run("providers").stdout.splitlines()
    assert f"fake\tFake Provider\trequired\tFAKE_API_KEY\t2\t{cli.server.url}/v1" in listed

    unknown = cli.run("models", "-p", "nosuch")
    assert unknown.returncode == 2


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
    no_traceback(again)
    assert cli.run("keys", "list").stdout == ""


def test_keys_set_refuses_unknown_providers_and_empty_keys(cli: Cli) -> None:
    typo = cli.run("keys", "set", "opnai", stdin="sk-whatever-key-eeeeeeee5555")
    assert typo.returncode == 2
    no_traceback(typo)
    assert "'openai'" in typo.stderr
    assert "--force" in typo.stderr
    assert not cli.store.exists()
    forced = cli.run("keys", "set", "opnai", "--force", stdin="sk-whatever-key-eeeeeeee5555")
    assert forced.returncode == 0
    empty = cli.run("keys", "set", "fake", stdin="  \n")
    assert empty.returncode == 2
    no_traceback(empty)
    assert set(json.loads(cli.store.read_text())) == {"opnai"}


def test_keys_set_prompts_without_echo_on_a_terminal(cli: Cli) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(cli.argv("keys", "set", "fake"), stdin=slave, stdout=slave, stderr=slave, env=cli.env)
    os.close(slave)
    try:
        Reader(master).until(b"API key for fake:")
        os.write(master, STORE_KEY.encode() + b"\n")
        assert proc.wait(timeout=20) == 0
        shown = drain(master)
    finally:
        reap(proc)
        os.close(master)
    assert STORE_KEY.encode() not in shown  # not echoed, and only masked in the confirmation
    assert b"***2222" in shown
    assert json.loads(cli.store.read_text()) == {"fake": {"type": "api_key", "key": STORE_KEY}}


def test_login_and_logout_github_copilot(cli: Cli) -> None:
    from tests.fake_idp import FakeIdP

    gh = "gho_device_flow_token_0123456789"
    with FakeIdP() as idp:
        idp.copilot_accounts.add(gh)
        idp.device_interval = 0.05  # type: ignore[assignment]  # a float: polls 50 ms apart
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
    no_traceback(no_login)


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
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=bare_env())
    assert (proc.returncode, proc.stdout) == (0, "sycophant, version 0.1.0\n")


def test_without_the_cli_extra_one_line_says_what_to_install() -> None:
    code = "import sys; sys.modules['rich'] = None; from sycophant_py._cli import main; sys.exit(main(['models']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=bare_env())
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "sycophant: the command line needs click and rich: pip install 'sycophant_py[cli]'\n"


def test_importing_the_library_loads_neither_click_nor_rich() -> None:
    code = (
        "import sys, json, sycophant_py, sycophant_py._cli\n"
        "print(json.dumps([m for m in ('click', 'rich') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=bare_env())
    assert json.loads(out.stdout) == []


def test_piped_output_never_loads_rich(cli: Cli) -> None:
    code = "import sys; from sycophant_py._cli import main; main(['providers']); print('rich' in sys.modules, file=sys.stderr)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=cli.env)
    assert proc.stderr == "False\n"
