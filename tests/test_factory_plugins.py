"""Third-party provider factories through the ``sycophant_py.providers`` entry-point group.

``tests/fixtures_pkg/mybackend_pkg`` is a real package with its own ``pyproject.toml``: pip builds
it (offline, with hatchling from the dev environment) and installs it into a temporary directory,
deleted afterwards; nothing is installed into the environment itself. ``importlib.metadata`` finds
it there like any installed distribution once the directory is on ``sys.path``. Entry points load
once per process, so each scenario runs in a fresh subprocess that talks only to a ScriptedServer
on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tests" / "fixtures_pkg" / "mybackend_pkg"


@pytest.fixture(scope="module")
def site() -> Iterator[Path]:
    """A directory holding the installed plug-in (built and installed by pip, offline)."""
    with tempfile.TemporaryDirectory(prefix="syc-plugin-") as tmp:
        target = Path(tmp) / "site"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-build-isolation",
                "--no-index",
                "--no-deps",
                "--disable-pip-version-check",
                "--target",
                str(target),
                str(PACKAGE),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (target / "mybackend_syc" / "__init__.py").is_file()
        yield target
    assert not (PACKAGE / "build").exists()  # pip built it out of tree: the fixture stays clean


PRELUDE = """
import json, logging, os, sys
import sycophant_py as syc
from sycophant_py import _factories
from sycophant_py.testing import Reply, ScriptedServer

records = []
class Capture(logging.Handler):
    def emit(self, record):
        records.append({"event": record.getMessage(), "entry_point": str(record.__dict__.get("entry_point"))})
logging.getLogger("sycophant_py").addHandler(Capture())
logging.getLogger("sycophant_py").setLevel(logging.WARNING)
out = {"imported_at_import": "mybackend_syc" in sys.modules, "loaded_at_import": _factories._state["loaded"]}
srv = ScriptedServer().start()
config = os.path.join(os.environ["WORK_DIR"], "config.toml")
with open(config, "w") as f:
    f.write(os.environ["CONFIG"].replace("SRV", srv.url))
os.environ["SYCOPHANT_CONFIG"] = config
"""

EPILOGUE = """
out["records"] = records
out["requests"] = [{"path": r.path, "headers": r.headers, "json": r.json} for r in srv.requests]
srv.stop()
print("RESULT " + json.dumps(out))
"""

CONFIG = """
[[instances]]
type = "mybackend"
name = "mybackend-1"
config = { api_key = "sk-mb-0123456789abcdef", model = "my-model-v1", base_url = "SRV" }

[[instances]]
type = "mybackend"
name = "mybackend-nokey"
config = { base_url = "SRV" }

[[instances]]
type = "echo-backend"
name = "echo"
config = { url = "SRV" }

[[instances]]
type = "broken-backend"
name = "broken"
"""


def run(site: Path, body: str, **env: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="syc-plugin-run-") as work:
        script = PRELUDE + textwrap.dedent(body) + EPILOGUE
        environ = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
            "WORK_DIR": work,
            "CONFIG": CONFIG,
            **env,
        }
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=120, check=False
        )
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


def test_an_installed_plugin_is_enabled_from_the_config_file(site: Path) -> None:
    result = run(
        site,
        """
        out["listed"] = sorted(p for p in syc.providers() if p in ("mybackend-1", "mybackend-nokey", "echo", "broken"))
        out["loaded_after_listing"] = "mybackend_syc" in sys.modules
        out["available"] = [syc.available("mybackend-1"), syc.available("mybackend-nokey")]
        out["loaded_after_use"] = "mybackend_syc" in sys.modules
        out["models"] = [m.id for m in syc.models("mybackend-1")]
        srv.add(Reply(200, {}, [b'{"text": "Hel"}\\n', b'{"text": "lo"}\\n',
                                b'{"done": true, "finish": "stop", "usage": {"in": 3, "out": 2}}\\n']))
        events = list(syc.stream_text("mybackend-1:my-model-v1", "Hi there"))
        final = events[-1].response
        out["stream"] = [[e.type for e in events], final.text, final.usage.input_tokens, final.usage.output_tokens]
        srv.add(Reply.json({"choices": [{"message": {"content": "echoed"}, "finish_reason": "stop"}]}))
        out["echo"] = syc.generate_text("echo:echo-1", "x").text
        try:
            syc.get_model("broken:m")
        except syc.InvalidConfig as exc:
            out["broken"] = str(exc)
        out["in_available_list"] = sorted(set(syc.providers(available=True)) & {"mybackend-1", "mybackend-nokey", "broken"})
        """,
    )
    assert (result["imported_at_import"], result["loaded_at_import"]) == (False, False)
    assert result["listed"] == ["broken", "echo", "mybackend-1", "mybackend-nokey"]
    assert result["loaded_after_listing"] is False  # listing builds nothing: no plug-in is loaded
    assert result["available"] == [True, False]
    assert result["loaded_after_use"] is True
    assert result["models"] == ["my-model-v1"]
    types, text, tokens_in, tokens_out = result["stream"]
    assert types == ["start", "text_start", "text_delta", "text_delta", "text_end", "done"]
    assert (text, tokens_in, tokens_out) == ("Hello", 3, 2)
    generate = result["requests"][0]
    assert (generate["path"], generate["headers"]["x-mybackend-key"], generate["json"]) == (
        "/generate",
        "sk-mb-0123456789abcdef",
        {"model": "my-model-v1", "prompt": "Hi there"},
    )
    assert result["echo"] == "echoed"
    assert result["requests"][1]["path"] == "/v1/chat/completions"
    assert "[[instances]] #4 (name='broken'): type 'broken-backend': its entry point" in result["broken"]
    assert "No module named 'mybackend_syc.no_such_module'" in result["broken"]
    failed = [r["entry_point"] for r in result["records"] if r["event"] == "provider_factory.failed"]
    assert failed == ["broken-backend"]  # logged once, when the entry points loaded
    assert result["in_available_list"] == ["mybackend-1"]


def test_the_applications_registration_wins_over_the_plugins(site: Path) -> None:
    result = run(
        site,
        """
        class Mine:
            def available(self): return True
            def models(self): return ["mine"]
            def complete(self, model, context, options):
                yield options["emit"].text("from the application")
                yield options["emit"].done()
        syc.register_provider_factory("mybackend", lambda name, config: Mine())  # loads the plug-ins first
        out["loaded"] = "mybackend_syc" in sys.modules
        out["text"] = syc.generate_text("mybackend-1:mine", "hi").text
        """,
    )
    assert result["loaded"] is True
    assert result["text"] == "from the application"


def test_loading_can_be_turned_off(site: Path) -> None:
    result = run(
        site,
        """
        try:
            syc.get_model("mybackend-1:my-model-v1")
        except syc.InvalidConfig as exc:
            out["error"] = str(exc)
        out["imported"] = "mybackend_syc" in sys.modules
        """,
        SYCOPHANT_EXTENSIONS="0",
    )
    assert "unknown type 'mybackend'" in result["error"]
    assert result["imported"] is False
