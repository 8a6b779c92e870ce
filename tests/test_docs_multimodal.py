"""The examples of docs/multimodal.md and the overflow example of docs/getting-started.md, run as written.

Each ``<!-- example: NAME -->`` block is executed in a directory holding the files it names
(``cat.png``, ``report.pdf``, ``question.wav``), with the providers it calls pointed at a scripted
server on 127.0.0.1; the test then checks what was sent and what the example printed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.testing.contract import PNG_1X1, WAV_HEADER
from tests.contract.dialect import U
from tests.contract.dialects import dialect_for

DOCS = Path(__file__).resolve().parents[1] / "docs"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def example(page: str, name: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {name} -->\s*```python\n(.*?)```", text, re.S)
    assert match, f"docs/{page} lost its {name!r} example"
    return match.group(1)


def run(page: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"docs_{name}"}
    exec(compile(example(page, name), str(DOCS / page), "exec"), namespace)  # our own documentation
    return namespace


def reply(api: str, text: str) -> Reply:
    dialect = dialect_for(api)
    assert dialect is not None
    return dialect.text(text, U(40, 5))


@pytest.fixture
def srv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    (tmp_path / "cat.png").write_bytes(PNG_1X1)
    (tmp_path / "report.pdf").write_bytes(PDF)
    (tmp_path / "question.wav").write_bytes(WAV_HEADER)
    monkeypatch.chdir(tmp_path)
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(var, "test-key-not-secret")
    with ScriptedServer() as server:
        syc.register_provider("openai", base_url=server.url + "/v1")
        syc.register_provider("anthropic", base_url=server.url)
        syc.register_provider("google", base_url=server.url + "/v1beta")
        yield server


def test_parts(srv: ScriptedServer) -> None:
    ns = run("multimodal.md", "parts")
    assert [type(p).__name__ for p in ns["msg2"].parts] == ["TextPart", "ImagePart", "DocumentPart"]
    assert ns["report"].name == "report.pdf"
    assert srv.requests == []


def test_image(srv: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.add(reply("openai_chat", "A cat."))
    run("multimodal.md", "image")
    assert capsys.readouterr().out == "A cat.\n"
    image = srv.requests[0].json["messages"][0]["content"][1]
    png = base64.b64encode(PNG_1X1).decode()
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}", "detail": "low"}}


def test_pdf(srv: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.add(reply("anthropic_messages", "Sales rose."))
    run("multimodal.md", "pdf")
    assert capsys.readouterr().out == "Sales rose.\n"
    request = srv.requests[0]
    assert request.path == "/v1/messages"
    document = request.json["messages"][0]["content"][0]
    assert document["type"] == "document"
    assert document["source"]["media_type"] == "application/pdf"
    assert base64.b64decode(document["source"]["data"]) == PDF


def test_audio(srv: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.add(reply("google_gemini", "Paris."))
    run("multimodal.md", "audio")
    assert capsys.readouterr().out == "Paris.\n"
    request = srv.requests[0]
    assert request.path.endswith("/models/gemini-2.5-flash:generateContent")
    audio = request.json["contents"][0]["parts"][1]
    assert audio == {"inlineData": {"mimeType": "audio/wav", "data": base64.b64encode(WAV_HEADER).decode()}}


def test_unsupported(srv: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    run("multimodal.md", "unsupported")
    out = capsys.readouterr().out
    assert out.startswith("image openai:o3-mini does not accept image input")
    assert srv.requests == []


def test_tool_image(srv: ScriptedServer) -> None:
    srv.add(reply("openai_chat", "Up."))
    run("multimodal.md", "tool-image")
    messages = srv.requests[0].json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user"]
    assert messages[3]["content"][1]["type"] == "image_url"


def test_overflow(srv: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    dialect = dialect_for("openai_chat")
    assert dialect is not None
    srv.add(dialect.overflow(128000, 250013), reply("openai_chat", "Short."))
    ns = run("getting-started.md", "overflow")
    assert capsys.readouterr().out == "openai: 250013 tokens sent, the window is 128000\n"
    assert ns["resp"].text == "Short."
    assert len(srv.requests) == 2
