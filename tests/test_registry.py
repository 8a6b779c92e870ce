from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from typing_extensions import override

import sycophant_py as syc
from sycophant_py._registry import get_protocol
from sycophant_py.auth import Auth, Credentials, HttpRequest, Middleware, add_headers
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire import (
    Request,
    StreamAccumulator,
    StreamContinue,
    StreamDone,
    StreamResult,
    WireProtocol,
)


class EchoProtocol(WireProtocol):
    """A custom dialect: POST /generate {"prompt": ...} -> {"output": ..., "tokens": [in, out]}."""

    name = "echo_chat"

    @override
    def request_path(self, request: Request) -> str:
        return "/generate"

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        return {
            "prompt": "\n".join(m.text for m in request.messages),
            "stream": request.stream,
            "max": request.params.get("max_tokens"),
        }

    @override
    def decode_response(self, body: Any) -> syc.Response:
        return syc.Response(
            text=body["output"], usage=syc.Usage(*body["tokens"]), raw=body, parts=[syc.TextPart(body["output"])]
        )

    @override
    def encode_tools(self, tools: Sequence[syc.Tool]) -> list[dict[str, Any]]:
        return []

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        return dict(schema)

    @override
    def init_stream(self) -> StreamAccumulator:
        return StreamAccumulator()

    @override
    def decode_stream_chunk(self, state: Any, event: Any) -> StreamResult:
        acc: StreamAccumulator = state
        if event.data == "END":
            return StreamDone(acc.finish("stop"), acc.drain())
        acc.text(event.data)
        return StreamContinue(acc, acc.drain())


class HeaderAuth(Auth):
    name = "header_auth"

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        return [add_headers({"x-custom-key": str(credentials.api_key)})]


@pytest.fixture
def server() -> Any:
    with ScriptedServer() as srv:
        yield srv


def _declare(srv: ScriptedServer) -> None:
    syc.register_protocol("chat", "echo_chat", EchoProtocol)
    syc.register_auth("custom", HeaderAuth)
    syc.configure(
        custom_providers={"custom": {"base_url": srv.url, "models": {"m1": {"wire_protocol": "echo_chat"}}}},
        providers={"custom": {"api_key": "k-123"}},
    )


def test_custom_protocol_sync_and_stream(server: ScriptedServer) -> None:
    _declare(server)
    server.add(Reply.json({"output": "pong", "tokens": [3, 1]}))
    resp = syc.generate_text("custom:m1", [syc.Message.user("ping")], max_tokens=5)
    assert resp.text == "pong"
    assert resp.usage.total_tokens == 4
    req = server.requests[-1]
    assert req.path == "/generate"
    assert req.json == {"prompt": "ping", "stream": False, "max": 5}
    assert req.headers["x-custom-key"] == "k-123"
    assert "authorization" not in req.headers

    server.add(Reply(200, {"content-type": "text/event-stream"}, [b"data: po\n\n", b"data: ng\n\ndata: END\n\n"]))
    events = list(syc.stream_text("custom:m1", "ping"))
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_delta", "text_end", "done"]
    assert events[-1].response is not None
    assert events[-1].response.text == "pong"
    assert server.requests[-1].json["stream"] is True


def test_custom_protocol_async(server: ScriptedServer) -> None:
    import asyncio

    _declare(server)
    server.add(Reply.json({"output": "pong", "tokens": [3, 1]}))

    async def main() -> tuple[str, str]:
        resp = await syc.agenerate_text("custom:m1", "ping")
        server.add(Reply(200, {"content-type": "text/event-stream"}, [b"data: a\n\ndata: b\n\ndata: END\n\n"]))
        final = await syc.astream_text("custom:m1", "ping").response()
        await syc.aclose()
        return resp.text, final.text

    assert asyncio.run(main()) == ("pong", "ab")
    assert server.requests[0].headers["x-custom-key"] == "k-123"


def test_provider_may_name_a_protocol_registered_later(server: ScriptedServer) -> None:
    syc.configure(custom_providers={"late": {"base_url": server.url, "auth": "none", "api": "late_proto"}})
    with pytest.raises(syc.UnknownName, match="late_proto"):
        syc.generate_text("late:x", "hi")
    syc.register_protocol("chat", "late_proto", EchoProtocol)
    server.add(Reply.json({"output": "ok", "tokens": [1, 1]}))
    assert syc.generate_text("late:x", "hi").text == "ok"


def test_registration_checks_the_behaviour() -> None:
    class Half(WireProtocol):
        name = "half"

        @override
        def request_path(self, request: Request) -> str:
            return "/"

    with pytest.raises(syc.InvalidRegistration, match=r"missing .*decode_response.*encode_request") as info:
        syc.register_protocol("chat", "half", Half)
    assert "init_stream (or a declared stream_state)" in str(info.value)

    class NoPath(EchoProtocol):  # neither a declared path nor a request_path of its own
        request_path = WireProtocol.request_path

    with pytest.raises(syc.InvalidRegistration, match=r"missing request_path \(or a declared path\)"):
        syc.register_protocol("chat", "no_path", NoPath)

    class DeclaredPath(NoPath):
        path = "/generate"

    syc.register_protocol("chat", "declared_path", DeclaredPath)
    assert (
        get_protocol("chat", "declared_path").request_path(Request(syc.ModelInfo(provider="p", id="m"), []))
        == "/generate"
    )

    class NotAProtocol:
        def request_path(self) -> str:
            return "/"

    with pytest.raises(syc.InvalidRegistration, match=r"must subclass sycophant_py\.wire\.WireProtocol"):
        syc.register_protocol("chat", "nope", NotAProtocol)
    with pytest.raises(syc.InvalidRegistration, match="expected a class"):
        syc.register_protocol("chat", "inst", EchoProtocol())  # type: ignore[arg-type]
    with pytest.raises(syc.InvalidRegistration, match=r"must subclass sycophant_py\.auth\.Auth"):
        syc.register_auth("x", EchoProtocol)
    with pytest.raises(syc.UnknownName, match="protocol kind"):
        syc.register_protocol("vision", "x", EchoProtocol)  # type: ignore[arg-type]


def test_unknown_names_list_known_ones_and_suggest() -> None:
    with pytest.raises(syc.UnknownName) as info:
        get_protocol("chat", "openai_chta")
    msg = str(info.value)
    assert "Did you mean 'openai_chat'" in msg
    assert "Known: " in msg
    assert "ollama_native" in msg
    with pytest.raises(syc.UnknownProvider, match="Did you mean 'openai'"):
        syc.get_model("opnai:gpt-4o")


def test_builtins_are_lazy_references() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sycophant_py._registry as r\n"
        "assert 'sycophant_py.wire.openai_chat' not in sys.modules\n"
        "p = r.get_protocol('chat', 'openai_chat')\n"
        "assert type(p).__name__ == 'OpenAIChat'\n"
        "assert r.get_protocol('chat', 'openai_chat') is p\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_http_request_repr_hides_secret_headers() -> None:
    req = HttpRequest("POST", "http://x", {"authorization": "Bearer sk-secret-1234567890", "x-api-key": "k"})
    assert "sk-secret" not in repr(req)
    creds = Credentials(api_key="sk-secret-1234567890", region="eu")
    assert "sk-secret" not in repr(creds)
    assert "eu" in repr(creds)
