"""Extensions through the ``sycophant_py.extensions`` entry-point group, with real entry points.

A temporary directory holds three tiny packages and a ``*.dist-info`` whose ``entry_points.txt``
names them; put on ``sys.path``, ``importlib.metadata`` finds them as it finds any installed
distribution. Loading happens once per process, so each scenario runs in a fresh subprocess
(that talks only to a ScriptedServer on 127.0.0.1).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _extensions, _hooks
from sycophant_py._extensions import ENTRY_POINT_GROUP, ExtensionAPI, load_extensions

ACME_EXT = """
import os

from sycophant_py.auth import Auth, add_headers
from sycophant_py.wire.openai_chat import OpenAIChat

CALLS = []


class ExtChat(OpenAIChat):
    name = "ext_chat"

    def request_path(self, request):
        return "/ext/chat"


class ExtAuth(Auth):
    name = "ext_auth"

    def middlewares(self, credentials):
        return [add_headers({"x-ext-auth": "yes"})]


def setup(api):
    CALLS.append(api.name)
    url = os.environ["EXT_URL"]
    api.register_protocol("chat", "ext_chat", ExtChat)
    api.register_auth("ext-provider", ExtAuth)
    api.register_provider(
        "ext-provider",
        base_url=url,
        auth="none",
        api="openai-completions",
        headers={"X-From": "extension"},
        models=[{"id": "m"}, {"id": "m2", "api": "ext_chat"}],
    )

    def later(payload):
        if payload["provider"] == "ext-provider":
            api.register_provider("late-provider", base_url=url, auth="none", api="openai-completions")

    api.on("response", later)
"""

BROKEN_EXT = """
def setup(api):
    api.register_provider("half-done", base_url="http://127.0.0.1:9", auth="none")
    raise RuntimeError("broken on purpose")
"""

ENTRY_POINTS = f"""
[{ENTRY_POINT_GROUP}]
acme = acme_ext:setup
broken = broken_ext:setup
missing = no_such_module_xyz:setup
"""

PRELUDE = """
import json, logging, os, sys
import sycophant_py as syc
from sycophant_py import _extensions
from sycophant_py.testing import Reply, ScriptedServer

records = []
class Capture(logging.Handler):
    def emit(self, record):
        records.append({"event": record.getMessage(), **{k: str(v) for k, v in record.__dict__.items()
                        if k in ("extension", "target", "error")}})
logging.getLogger("sycophant_py").addHandler(Capture())
logging.getLogger("sycophant_py").setLevel(logging.WARNING)
OK = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1}}
out = {"imported_at_import": "acme_ext" in sys.modules, "loaded_at_import": _extensions._state["loaded"]}
srv = ScriptedServer().start()
os.environ["EXT_URL"] = srv.url + "/v1"
srv.add(Reply.json(OK))
"""

EPILOGUE = """
out["records"] = records
out["requests"] = [{"path": r.path, "headers": r.headers} for r in srv.requests]
srv.stop()
print("RESULT " + json.dumps(out))
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A directory that looks like site-packages with the three extensions installed."""
    (tmp_path / "acme_ext").mkdir()
    (tmp_path / "acme_ext" / "__init__.py").write_text(ACME_EXT)
    (tmp_path / "broken_ext").mkdir()
    (tmp_path / "broken_ext" / "__init__.py").write_text(BROKEN_EXT)
    info = tmp_path / "acme_ext-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-ext\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return tmp_path


def run(site: Path, body: str, **env: str) -> dict[str, Any]:
    script = PRELUDE + textwrap.dedent(body) + EPILOGUE
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(Path(__file__).resolve().parent.parent)]),
        "SYCOPHANT_CONFIG": str(site / "no-config.toml"),
        **env,
    }
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


def failures(result: dict[str, Any]) -> dict[str, str]:
    return {r["extension"]: r["error"] for r in result["records"] if r["event"] == "extension.failed"}


def test_loaded_at_first_call_not_at_import(site: Path) -> None:
    result = run(
        site,
        """
        out["before_call"] = "acme_ext" in sys.modules
        out["text"] = syc.generate_text("ext-provider:m", "hi").text
        import acme_ext
        out["setup_calls"] = acme_ext.CALLS
        out["loaded"] = _extensions.loaded_extensions()
        """,
    )
    assert (result["imported_at_import"], result["loaded_at_import"], result["before_call"]) == (False, False, False)
    assert result["text"] == "ok"
    assert result["setup_calls"] == ["acme"]  # loaded once
    assert result["loaded"] == ["acme"]
    assert result["requests"][0]["path"] == "/v1/chat/completions"
    assert result["requests"][0]["headers"]["x-from"] == "extension"
    assert result["requests"][0]["headers"]["x-ext-auth"] == "yes"  # the extension's auth strategy


def test_a_failing_extension_is_logged_not_fatal(site: Path) -> None:
    result = run(
        site,
        """
        out["text"] = syc.generate_text("ext-provider:m", "hi").text
        out["half_done"] = syc.get_model("half-done:x").base_url
        """,
    )
    assert result["text"] == "ok"
    errors = failures(result)
    assert set(errors) == {"broken", "missing"}
    assert errors["broken"] == "RuntimeError: broken on purpose"
    assert "no_such_module_xyz" in errors["missing"]
    assert result["half_done"] == "http://127.0.0.1:9"  # what it registered before failing is kept


def test_protocol_from_an_extension_and_a_later_registration(site: Path) -> None:
    result = run(
        site,
        """
        srv.add(Reply.json(OK))
        syc.generate_text("ext-provider:m2", "hi")      # the extension's protocol
        out["late"] = syc.generate_text("late-provider:x", "hi").text  # registered by its hook after that call
        """,
    )
    assert [r["path"] for r in result["requests"]] == ["/v1/ext/chat", "/v1/chat/completions"]
    assert result["late"] == "ok"


def test_applications_registrations_layer_over_the_extensions(site: Path) -> None:
    result = run(
        site,
        """
        syc.register_provider("ext-provider", headers={"X-From": "application", "X-App": "1"})  # the first use
        syc.generate_text("ext-provider:m", "hi")
        """,
    )
    headers = result["requests"][0]["headers"]
    assert (headers["x-from"], headers["x-app"]) == ("application", "1")
    assert result["requests"][0]["path"] == "/v1/chat/completions"  # the extension's URL is kept


def test_listing_providers_is_a_first_use(site: Path) -> None:
    result = run(site, 'out["listed"] = "ext-provider" in syc.providers()')
    assert result["listed"] is True


def test_get_model_is_a_first_use(site: Path) -> None:
    result = run(site, 'out["api"] = syc.get_model("ext-provider:m2").api')
    assert result["api"] == "ext_chat"


def test_loading_can_be_turned_off(site: Path) -> None:
    result = run(
        site,
        """
        try:
            syc.generate_text("ext-provider:m", "hi")
        except syc.UnknownProvider:
            out["unknown"] = True
        out["imported"] = "acme_ext" in sys.modules
        """,
        SYCOPHANT_EXTENSIONS="0",
    )
    assert (result["unknown"], result["imported"]) == (True, False)


# -- in process ------------------------------------------------------------------------------------


def test_load_extensions_in_process(
    site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("EXT_URL", "http://127.0.0.1:9/v1")
    importlib.invalidate_caches()
    try:
        with caplog.at_level(logging.WARNING, logger="sycophant_py"):
            assert load_extensions() == ["acme"]
        assert sorted(r.__dict__["extension"] for r in caplog.records if r.getMessage() == "extension.failed") == [
            "broken",
            "missing",
        ]
        assert syc.get_model("ext-provider:m2").api == "ext_chat"
    finally:
        for hooks in _hooks._HOOKS.values():
            hooks.clear()
        for name in ("acme_ext", "broken_ext"):
            sys.modules.pop(name, None)


def test_async_extension_functions_are_refused(caplog: pytest.LogCaptureFixture) -> None:
    async def setup(api: ExtensionAPI) -> None:
        pass  # pragma: no cover

    with caplog.at_level(logging.WARNING, logger="sycophant_py"):
        assert _extensions._run("async-one", "pkg:setup", lambda: setup) is False
    (record,) = [r for r in caplog.records if r.getMessage() == "extension.failed"]
    assert "synchronous" in record.__dict__["error"]


def test_extension_api_is_the_public_api(monkeypatch: pytest.MonkeyPatch) -> None:
    api = ExtensionAPI("t")
    assert repr(api) == "ExtensionAPI('t')"
    api.register_provider("from-ext", {"baseUrl": "http://127.0.0.1:9"}, auth="none")
    assert syc.get_model("from-ext:x").base_url == "http://127.0.0.1:9"
    api.unregister_provider("from-ext")
    with pytest.raises(syc.UnknownProvider):
        syc.get_model("from-ext:x")
    hook = api.on("retry", lambda payload: None)
    try:
        assert hook in _hooks._HOOKS["retry"]
    finally:
        _hooks.off("retry", hook)


def test_ensure_loaded_is_reentrant_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_load() -> list[str]:
        calls.append("load")
        _extensions.ensure_loaded()  # an extension's registration re-enters: no second load
        return []

    monkeypatch.setattr(_extensions, "_state", {"loaded": False, "loading": False})
    monkeypatch.setattr(_extensions, "load_extensions", fake_load)
    _extensions.ensure_loaded()
    _extensions.ensure_loaded()
    assert calls == ["load"]
