"""The examples of ``docs/factories.md``, executed from the page against a ScriptedServer.

The docs' backend host (``https://api.mybackend.example``) and gateway URL are replaced by the
scripted server's; nothing else of the code is changed. The TOML and JSON config examples are
written to files and read as the config file, and must mean the same.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _config, _factories, _instances, _probe
from sycophant_py.testing import Reply, ScriptedServer

DOCS = Path(__file__).resolve().parents[1] / "docs" / "factories.md"
PLUGIN = Path(__file__).resolve().parent / "fixtures_pkg" / "mybackend_pkg" / "pyproject.toml"


def example(name: str) -> tuple[str, str]:
    """(language, code) of the page's example ``name``."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {name} -->\s*```(\w+)\n(.*?)```", text, re.S)
    assert match, f"docs/factories.md lost its {name} example"
    return match.group(1), match.group(2)


def run(name: str, namespace: dict[str, Any], url: str = "") -> dict[str, Any]:
    lang, code = example(name)
    assert lang == "python"
    code = code.replace("https://api.mybackend.example", url)
    exec(compile(code, str(DOCS), "exec"), namespace)  # our own documentation
    return namespace


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    _factories._FACTORIES.clear()
    _instances._reset_for_tests()
    _probe.clear_cache()


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


def use_example_file(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lang, text = example(name)
    path = tmp_path / f"config.{lang}"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)


def summary() -> dict[str, Any]:
    s = _config.settings()
    return {
        "instances": [(i["type"], i["name"], i["config"]) for i in s.instances],
        "gateway": s.gateway,
        "aliases": s.aliases,
        "providers": s.providers,
    }


NDJSON = [b'{"text": "Hi"}\n', b'{"text": "!"}\n', b'{"done": true, "finish": "stop", "usage": {"in": 4, "out": 2}}\n']


def test_the_backend_example_from_either_config_file(
    srv: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = run("mybackend", {"__name__": "docs_factories"}, srv.url)
    use_example_file("config-json", tmp_path, monkeypatch)
    from_json = summary()
    use_example_file("config-toml", tmp_path, monkeypatch)
    assert summary() == from_json
    assert _config.settings().gateway["keys"] == ["sk-gw-caller-key"]
    srv.add(Reply(200, {}, NDJSON))
    run("mybackend-use", ns)
    assert capsys.readouterr().out == "Hi! 4 2\n"
    sent = srv.requests[-1]
    assert (sent.path, sent.headers["x-mybackend-key"], sent.json) == (
        "/generate",
        "sk-mb-...",
        {"model": "my-model-v1", "prompt": "Hello"},
    )
    with socket.socket() as closed:  # whatever runs on this machine's :11434, the test's ollama is down
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("OLLAMA_BASE_URL", f"http://127.0.0.1:{closed.getsockname()[1]}/v1")
    run("available", ns)
    assert capsys.readouterr().out == "True False\n"
    run("models", ns)
    assert capsys.readouterr().out == "live ['my-model-v1']\n"
    srv.add(Reply(200, {}, NDJSON))
    assert syc.generate_text("best", "x").text == "Hi!"  # the alias from the file


def test_the_definition_example(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    run("definition", {"__name__": "docs_factories", "Any": Any, "syc": syc})
    monkeypatch.setenv("CORP_GATEWAY_KEY", "sk-corp-0123456789")
    syc.configure(instances=[{"type": "corp-gateway", "name": "corp", "config": {"url": srv.url, "team": "ml"}}])
    srv.add(Reply.json({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}))
    assert syc.generate_text("corp:gpt-4o-mini", "hi").text == "ok"
    sent = srv.requests[0]
    assert (sent.path, sent.headers["authorization"], sent.headers["x-team"]) == (
        "/v1/chat/completions",
        "Bearer sk-corp-0123456789",
        "ml",
    )
    assert syc.get_model("corp:gpt-4o-mini").known  # extends="openai": OpenAI's models


def test_the_entry_point_snippet_matches_the_plugin_fixture() -> None:
    text = DOCS.read_text(encoding="utf-8")
    plugin = PLUGIN.read_text(encoding="utf-8")
    for line in ('[project.entry-points."sycophant_py.providers"]', 'mybackend = "mybackend_syc"'):
        assert line in text
        assert line in plugin
    assert json.loads(example("config-json")[1])["instances"][0]["type"] == "mybackend"
