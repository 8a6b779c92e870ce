"""The per-user credential store: location, file rules, locking, corruption, and its place among the layers.

Every test points ``SYCOPHANT_AUTH_FILE`` into its own temp directory (the ``auth_file`` fixture).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _store
from sycophant_py.testing import Reply, ScriptedServer

CHAT = {
    "id": "c1",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


@pytest.fixture
def auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "sycophant" / "auth.json"
    monkeypatch.setenv("SYCOPHANT_AUTH_FILE", str(path))
    return path


@pytest.fixture
def keyed(auth_file: Path) -> Iterator[ScriptedServer]:
    """A provider whose auth is required, with an env var, on a scripted server."""
    with ScriptedServer() as server:
        server.add(Reply.json(CHAT))
        syc.configure(
            custom_providers={"keyed": {"base_url": server.url + "/v1", "auth": "required", "env": ["KEYED_KEY"]}}
        )
        yield server


def _bearers(server: ScriptedServer) -> list[str]:
    return [r.headers.get("authorization", "") for r in server.requests]


# -- location and file rules ------------------------------------------------------------------------


def test_location(auth_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert syc.CredentialStore().path == auth_file == _store.default_path()
    assert syc.CredentialStore(auth_file.parent / "other.json").path.name == "other.json"
    monkeypatch.delenv("SYCOPHANT_AUTH_FILE")
    from platformdirs import user_data_dir

    assert syc.CredentialStore().path == Path(user_data_dir("sycophant", appauthor=False)) / "auth.json"


def test_set_get_remove_with_modes(auth_file: Path) -> None:
    store = syc.CredentialStore()
    assert store.get("openai") is None
    assert store.providers() == []
    assert not auth_file.exists()
    store.set_api_key("openai", "  sk-test-0123456789  ")
    store.set_api_key("copilot", "gho_x")  # aliases are stored under the canonical id
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(auth_file.parent.stat().st_mode) == 0o700
    assert json.loads(auth_file.read_text()) == {
        "github-copilot": {"type": "api_key", "key": "gho_x"},
        "openai": {"type": "api_key", "key": "sk-test-0123456789"},
    }
    assert store.providers() == ["github-copilot", "openai"]
    got = store.get("openai")
    assert got == {"type": "api_key", "key": "sk-test-0123456789"}
    got["key"] = "changed"  # a copy
    assert store.get("openai") == {"type": "api_key", "key": "sk-test-0123456789"}
    store.set_oauth("corp", {"refresh": "r", "access": "a", "expires": 1767225600000})  # ms: converted
    assert store.get("corp") == {"type": "oauth", "refresh": "r", "access": "a", "expires": 1767225600.0}
    assert store.remove("copilot") is True
    assert store.remove("copilot") is False
    assert store.providers() == ["corp", "openai"]
    with pytest.raises(syc.CredentialStoreError, match="empty API key"):
        store.set_api_key("openai", " ")
    assert "sk-test" not in repr(store)
    assert not [p for p in auth_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_an_existing_directory_keeps_its_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    syc.CredentialStore(shared / "auth.json").set_api_key("openai", "k")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # not ours to change
    assert stat.S_IMODE((shared / "auth.json").stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_whole(auth_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = syc.CredentialStore()
    store.set_api_key("openai", "old-key")
    before = auth_file.read_bytes()

    def crash(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space"):
        store.set_api_key("openai", "new-key")
    assert auth_file.read_bytes() == before
    assert not [p for p in auth_file.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "content", [b'{"openai": {"type": "api_key", "key": "sk-secret', b'["sk-secret"]', b'{"a": "sk-secret"}']
)
def test_a_corrupt_file_is_never_overwritten(auth_file: Path, keyed: ScriptedServer, content: bytes) -> None:
    auth_file.parent.mkdir(parents=True, exist_ok=True)
    auth_file.write_bytes(content)
    store = syc.CredentialStore()
    with pytest.raises(syc.CredentialStoreError) as err:
        store.get("openai")
    assert str(auth_file) in str(err.value)
    assert "sk-secret" not in str(err.value)
    with pytest.raises(syc.CredentialStoreError):
        store.set_api_key("openai", "new")
    with pytest.raises(syc.CredentialStoreError):
        syc.generate_text("keyed:m", "hi")  # the call path says so too, rather than skip a layer
    assert auth_file.read_bytes() == content
    assert keyed.requests == []


def test_an_empty_file_is_an_empty_store(auth_file: Path) -> None:
    auth_file.parent.mkdir(parents=True)
    auth_file.write_text("\n")
    assert syc.CredentialStore().providers() == []


# -- the lock ---------------------------------------------------------------------------------------


def test_the_lock_serialises_read_modify_write(auth_file: Path) -> None:
    store = syc.CredentialStore()
    store.set_entry("counter", {"type": "settings", "n": 0})

    def bump() -> None:
        for _ in range(5):
            with store.lock() as tx:
                n = tx.get("counter")["n"]  # type: ignore[index]
                tx.put("counter", {"type": "settings", "n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def abump() -> None:
        async with store.alock() as tx:
            n = tx.get("counter")["n"]  # type: ignore[index]
            await asyncio.sleep(0)
            tx.put("counter", {"type": "settings", "n": n + 1})

    async def many() -> None:
        await asyncio.gather(*(abump() for _ in range(6)))

    asyncio.run(many())
    assert store.get("counter") == {"type": "settings", "n": 46}


def test_the_lock_times_out_with_a_clear_error(auth_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_store, "LOCK_TIMEOUT", 0.1)
    store = syc.CredentialStore()
    with store.lock(), pytest.raises(syc.CredentialStoreError, match="timed out"):
        store.set_api_key("openai", "k")  # the same thread is excluded too: a new lock each time
    store.set_api_key("openai", "k")


# -- the store among the credential layers ---------------------------------------------------------


def test_precedence_per_request_config_store_environment(
    keyed: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYED_KEY", "env-key")
    syc.generate_text("keyed:m", "hi")
    syc.CredentialStore().set_api_key("keyed", "store-key")
    syc.generate_text("keyed:m", "hi")
    syc.configure(providers={"keyed": {"api_key": "config-key"}})
    syc.generate_text("keyed:m", "hi")
    syc.generate_text("keyed:m", "hi", credentials={"api_key": "request-key"})
    assert _bearers(keyed) == [f"Bearer {k}" for k in ("env-key", "store-key", "config-key", "request-key")]


def test_stored_settings_and_foreign_entries(keyed: ScriptedServer) -> None:
    store = syc.CredentialStore()
    store.set_entry("keyed", {"type": "settings", "api_key": "not-taken-from-settings", "region": "eu"})
    with pytest.raises(syc.MissingCredentials):
        syc.generate_text("keyed:m", "hi")
    store.set_oauth("keyed", {"refresh": "r", "access": "a-token", "expires": None})
    with pytest.raises(syc.MissingCredentials):  # no OAuth registered for it: the login is not used
        syc.generate_text("keyed:m", "hi")
    assert keyed.requests == []
    from sycophant_py._credentials import resolve_credentials

    store.set_entry("keyed", {"type": "settings", "region": "eu"})
    creds = resolve_credentials(syc.get_model("keyed:m"), {"api_key": "k"})
    assert creds["region"] == "eu"


def test_the_call_path_reads_the_file_only_when_it_changed(
    keyed: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Path] = []
    real = _store._read

    def counting(path: Path) -> dict[str, Any]:
        reads.append(path)
        return real(path)

    syc.CredentialStore().set_api_key("keyed", "k1")
    monkeypatch.setattr(_store, "_read", counting)
    for _ in range(5):
        syc.generate_text("keyed:m", "hi")
    assert len(reads) == 1
    syc.CredentialStore().set_api_key("keyed", "k2")  # (one read under the lock)
    syc.generate_text("keyed:m", "hi")
    syc.generate_text("keyed:m", "hi")
    assert len(reads) == 3
    assert _bearers(keyed)[-1] == "Bearer k2"


def test_import_stays_light(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    syc.CredentialStore(path).set_api_key("openai", "sk-stored")
    code = (
        "import sys, json, sycophant_py\n"
        "before = [m for m in ('filelock', 'platformdirs') if m in sys.modules]\n"
        "from sycophant_py._credentials import resolve_credentials\n"
        "creds = resolve_credentials(sycophant_py.get_model('openai:gpt-4o-mini'))\n"
        "after = [m for m in ('filelock', 'platformdirs') if m in sys.modules]\n"
        "print(json.dumps([before, after, creds.api_key]))\n"
    )
    env = {**os.environ, "SYCOPHANT_AUTH_FILE": str(path)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env).stdout
    assert json.loads(out) == [[], [], "sk-stored"]  # reading needs no lock and no platformdirs
