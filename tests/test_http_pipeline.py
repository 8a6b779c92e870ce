"""The whole pipeline over real HTTP to a scripted server: what is sent, and what comes back.

Requests are checked at the wire boundary (``server.requests``: path, headers, JSON body) for the
``openai_chat`` protocol; responses are checked through the public API. Each scenario runs through
the sync and the async entry point.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py.auth._base import Credentials
from sycophant_py.testing import FakeClock, Reply, ScriptedServer

MODES = ["sync", "async"]
SECRET = "sk-secret-abcdef123456"
OPENAI_KEY = "sk-test-123456789012"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def chat(
    text: str | None = "ok",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-abc",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "served-model",
        "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


def tool_call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def sse_chunks(*pieces: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    out += [{"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    out.append({"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out.append({"id": "chatcmpl-s", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    return out


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SYCOPHANT_CONFIG", "/nonexistent/sycophant-test-config.toml")
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FAKE_API_KEY", "OLLAMA_API_KEY", "OLLAMA_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    syc.configure(reset=True)
    yield
    syc.configure(reset=True)


@pytest.fixture
def openai_srv() -> Iterator[ScriptedServer]:
    """The built-in ``openai`` provider (catalog prices, bearer auth) pointed at the scripted server."""
    with ScriptedServer() as server:
        syc.configure(custom_providers={"openai": {"base_url": server.url + "/v1"}})
        yield server


def generate(mode: str, model: str, messages: Any, **kw: Any) -> syc.Response:
    if mode == "sync":
        return syc.generate_text(model, messages, **kw)
    return asyncio.run(syc.agenerate_text(model, messages, **kw))


def stream_response(mode: str, model: str, messages: Any, **kw: Any) -> syc.Response:
    if mode == "sync":
        return syc.stream_text(model, messages, **kw).response()

    async def run() -> syc.Response:
        return await syc.astream_text(model, messages, **kw).response()

    return asyncio.run(run())


# -- the request body ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_body_model_messages_and_params(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.json(chat("Hi!")))
    msgs = [syc.Message.system("Be brief."), syc.Message.user("Hello")]
    resp = generate(mode, "fake:my-model", msgs, temperature=0.2, max_tokens=64, top_p=0.9, stop="END", seed=7)
    assert resp.text == "Hi!"
    (req,) = srv.requests
    assert req.method == "POST"
    assert req.path == "/v1/chat/completions"
    assert req.json == {
        "model": "my-model",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["END"],
        "max_tokens": 64,
    }


@pytest.mark.parametrize("mode", MODES)
def test_model_id_keeps_colons_after_the_first(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.json(chat()))
    generate(mode, "fake:llama3:8b", "hi")
    assert srv.requests[0].json["model"] == "llama3:8b"
    assert srv.requests[0].json["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("mode", MODES)
def test_image_parts(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.json(chat("a cat")))
    png = b"\x89PNG\r\n\x1a\nfake"
    msg = syc.Message.user(
        [
            syc.TextPart("What is in these images?"),
            syc.ImagePart(data=png, media_type="image/png", detail="low"),
            syc.ImagePart(url="https://example.com/cat.jpg"),
        ]
    )
    generate(mode, "fake:vision", [msg])
    content = srv.requests[0].json["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "What is in these images?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode(), "detail": "low"},
        },
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize("mode", MODES)
def test_tool_definitions_and_tool_choice(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.json(chat()))
    tools = [syc.Tool("get_weather", "Weather for a city", WEATHER_SCHEMA), syc.Tool("now")]
    generate(mode, "fake:m", "weather?", tools=tools, tool_choice="get_weather", parallel_tool_calls=False)
    body = srv.requests[0].json
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_SCHEMA},
        },
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False


@pytest.mark.parametrize("mode", MODES)
def test_tool_results_in_history(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.json(chat("It is 22 C in Paris.")))
    call = syc.ToolCall("call_1", "get_weather", {"city": "Paris"}, '{"city": "Paris"}')
    msgs = [
        syc.Message.user("Weather in Paris?"),
        syc.Message.assistant("Let me check.", tool_calls=[call]),
        syc.Message.tool_result("call_1", "22 C", name="get_weather"),
    ]
    resp = generate(mode, "fake:m", msgs, tools=[syc.Tool("get_weather", "", WEATHER_SCHEMA)])
    assert resp.text == "It is 22 C in Paris."
    assert srv.requests[0].json["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "22 C"},
    ]


@pytest.mark.parametrize("mode", MODES)
def test_max_tokens_field_openai_vs_local(openai_srv: ScriptedServer, mode: str) -> None:
    openai_srv.add(Reply.json(chat()))
    generate(mode, "openai:gpt-4o-mini", "hi", max_tokens=32, credentials={"api_key": OPENAI_KEY})
    body = openai_srv.requests[0].json
    assert body["max_completion_tokens"] == 32
    assert "max_tokens" not in body

    syc.configure(custom_providers={"vllm": {"base_url": openai_srv.url + "/v1", "auth": "none"}})
    generate(mode, "vllm:mistral-7b", "hi", max_tokens=32)
    body = openai_srv.requests[1].json
    assert body["max_tokens"] == 32
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize("mode", MODES)
def test_stream_body_and_accept_header(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.sse(sse_chunks("Hel", "lo")))
    resp = stream_response(mode, "fake:m", "hi")
    assert resp.text == "Hello"
    assert resp.usage.input_tokens == 3
    assert resp.usage.output_tokens == 2
    req = srv.requests[0]
    assert req.json["stream"] is True
    assert req.json["stream_options"] == {"include_usage": True}
    assert req.headers["accept"] == "text/event-stream"
    assert req.headers["content-type"] == "application/json"


@pytest.mark.parametrize("mode", MODES)
def test_unknown_params_are_dropped_with_one_warning(
    srv: ScriptedServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sycophant_py")
    srv.add(Reply.json(chat()))
    generate(mode, "fake:m", "hi", temperature=0.5, not_a_param=1, another_unknown="x")
    body = srv.requests[0].json
    assert "not_a_param" not in body
    assert "another_unknown" not in body
    assert body["temperature"] == 0.5
    dropped = [r for r in caplog.records if r.getMessage() == "params.dropped"]
    assert len(dropped) == 1
    assert dropped[0].__dict__["params"] == ["another_unknown", "not_a_param"]


@pytest.mark.parametrize("mode", MODES)
def test_invalid_param_raises_before_sending(srv: ScriptedServer, mode: str) -> None:
    with pytest.raises(syc.InvalidParams) as info:
        generate(mode, "fake:m", "hi", temperature="hot")
    assert info.value.param == "temperature"
    assert srv.requests == []


# -- headers and credentials ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_headers_without_auth(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.json(chat()))
    # auth "none": a key given anyway is never sent
    generate(mode, "fake:m", "hi", credentials={"api_key": "sk-ignored-0000000000"})
    h = srv.requests[0].headers
    assert h["content-type"] == "application/json"
    assert h["accept"] == "application/json"
    assert h["user-agent"].startswith("sycophant_py/")
    assert "authorization" not in h
    assert json.loads(srv.requests[0].body) == srv.requests[0].json  # compact JSON body


@pytest.mark.parametrize("mode", MODES)
def test_bearer_from_env_when_required(srv: ScriptedServer, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    syc.configure(
        custom_providers={"keyed": {"base_url": srv.url + "/v1", "auth": "required", "env": ["FAKE_API_KEY"]}}
    )
    monkeypatch.setenv("FAKE_API_KEY", "env-key-1234567890")
    srv.add(Reply.json(chat()))
    generate(mode, "keyed:m", "hi")
    generate(mode, "keyed:m", "hi", credentials={"api_key": "request-key-0987654321"})
    assert srv.requests[0].headers["authorization"] == "Bearer env-key-1234567890"
    assert srv.requests[1].headers["authorization"] == "Bearer request-key-0987654321"


@pytest.mark.parametrize("mode", MODES)
def test_missing_key_is_an_actionable_error(srv: ScriptedServer, mode: str) -> None:
    syc.configure(
        custom_providers={"keyed": {"base_url": srv.url + "/v1", "auth": "required", "env": ["FAKE_API_KEY"]}}
    )
    with pytest.raises(syc.MissingCredentials) as info:
        generate(mode, "keyed:m", "hi")
    assert "FAKE_API_KEY" in str(info.value)
    assert "api_key" in str(info.value)
    assert srv.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_optional_auth_sends_a_key_only_when_there_is_one(srv: ScriptedServer, mode: str) -> None:
    syc.configure(custom_providers={"opt": {"base_url": srv.url + "/v1", "auth": "optional"}})
    srv.add(Reply.json(chat()))
    generate(mode, "opt:m", "hi")
    generate(mode, "opt:m", "hi", credentials={"api_key": "opt-key-1234567890"})
    assert "authorization" not in srv.requests[0].headers
    assert srv.requests[1].headers["authorization"] == "Bearer opt-key-1234567890"


# -- what comes back -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_request_id_and_response_fields(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.json(chat("hello"), headers={"x-request-id": "req_123"}))
    resp = generate(mode, "fake:m", "hi")
    assert resp.request_id == "req_123"
    assert resp.id == "chatcmpl-abc"
    assert resp.model == "served-model"
    assert resp.provider == "fake"
    assert resp.finish_reason == "stop"
    assert resp.provider_finish_reason == "stop"
    assert resp.raw == chat("hello")
    assert resp.tool_calls == []


@pytest.mark.parametrize("mode", MODES)
def test_usage_and_cost_from_catalog_prices(openai_srv: ScriptedServer, mode: str) -> None:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 200},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    openai_srv.add(Reply.json(chat("priced", usage=usage)))
    resp = generate(mode, "openai:gpt-4o-mini", "hi", credentials={"api_key": OPENAI_KEY})
    assert openai_srv.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (800, 500, 200, 0)
    assert u.total_tokens == 1500
    assert u.cost is not None
    assert u.cost.input == pytest.approx(800 * 0.15 / 1e6)
    assert u.cost.output == pytest.approx(500 * 0.6 / 1e6)
    assert u.cost.cache_read == pytest.approx(200 * 0.075 / 1e6)
    assert u.cost.cache_write == 0
    assert u.cost.total == pytest.approx((800 * 0.15 + 500 * 0.6 + 200 * 0.075) / 1e6)
    assert syc.calculate_cost("openai:gpt-4o-mini", u) == u.cost


@pytest.mark.parametrize("mode", MODES)
def test_streamed_usage_gets_a_cost(openai_srv: ScriptedServer, mode: str) -> None:
    openai_srv.add(Reply.sse(sse_chunks("a", "b")))
    resp = stream_response(mode, "openai:gpt-4o-mini", "hi", credentials={"api_key": OPENAI_KEY})
    assert resp.usage.cost is not None
    assert resp.usage.cost.total == pytest.approx((3 * 0.15 + 2 * 0.6) / 1e6)


@pytest.mark.parametrize("mode", MODES)
def test_context_continuation_sends_the_whole_conversation(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply.json(chat("Paris.")), Reply.json(chat("About 2.1 million.")))
    first = generate(
        mode, "fake:m", [syc.Message.system("Be brief."), syc.Message.user("Capital of France?")], temperature=0.1
    )
    ctx = first.context.add(syc.Message.user("Population?"))
    second = generate(mode, "fake:m", ctx)
    assert second.text == "About 2.1 million."
    body = srv.requests[1].json
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Population?"},
    ]
    assert body["temperature"] == 0.1  # the context's params apply
    assert len(second.context) == 5
    # the context survives JSON
    third_ctx = syc.Context.from_json(second.context.to_json()).add(syc.Message.user("Thanks"))
    srv.add(Reply.json(chat("You're welcome.")))
    generate(mode, "fake:m", third_ctx)
    assert len(srv.requests[2].json["messages"]) == 6


@pytest.mark.parametrize("mode", MODES)
def test_tool_calls_are_decoded(srv: ScriptedServer, mode: str) -> None:
    calls = [
        tool_call("call_a", "get_weather", {"city": "Paris"}),
        tool_call("call_b", "get_weather", {"city": "Oslo"}),
    ]
    srv.add(Reply.json(chat(None, tool_calls=calls, finish="tool_calls")))
    resp = generate(mode, "fake:m", "weather?", tools=[syc.Tool("get_weather", "", WEATHER_SCHEMA)])
    assert resp.finish_reason == "tool_use"
    assert resp.text == ""
    assert [(c.id, c.name, dict(c.arguments)) for c in resp.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]
    assert resp.tool_calls[0].arguments_json == '{"city": "Paris"}'
    assert len(srv.requests) == 1  # no function: no tool loop


# -- the tool loop -----------------------------------------------------------------------------------


def _weather(city: str) -> dict[str, Any]:
    return {"city": city, "temp_c": 22}


async def _aweather(city: str) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"city": city, "temp_c": 22}


@pytest.mark.parametrize(("mode", "fn"), [("sync", _weather), ("async", _weather), ("async", _aweather)])
def test_tool_loop_runs_functions_and_sends_results(srv: ScriptedServer, mode: str, fn: Any) -> None:
    srv.add(
        Reply.json(
            chat(
                None,
                tool_calls=[tool_call("call_1", "get_weather", {"city": "Paris"})],
                finish="tool_calls",
                usage={"prompt_tokens": 20, "completion_tokens": 5},
            )
        ),
        Reply.json(chat("It is 22 C in Paris.", usage={"prompt_tokens": 40, "completion_tokens": 8})),
    )
    tool = syc.Tool("get_weather", "Weather for a city", WEATHER_SCHEMA, function=fn)
    resp = generate(mode, "fake:m", "Weather in Paris?", tools=[tool])
    assert resp.text == "It is 22 C in Paris."
    assert len(srv.requests) == 2
    second = srv.requests[1].json
    assert second["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",  # a provider on 127.0.0.1 gets the local defaults (requires_content_string)
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"city": "Paris", "temp_c": 22}'},
    ]
    assert second["tools"] == srv.requests[0].json["tools"]
    assert len(resp.steps) == 2
    assert resp.steps[0].finish_reason == "tool_use"
    assert resp.steps[0].tool_calls[0].name == "get_weather"
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (60, 13)
    assert resp.stopped_early is False
    assert [m.role for m in resp.context.messages] == ["user", "assistant", "tool_result", "assistant"]


@pytest.mark.parametrize("mode", MODES)
def test_tool_loop_error_result_is_sent_to_the_model(srv: ScriptedServer, mode: str) -> None:
    def broken(city: str) -> str:
        raise RuntimeError(f"no data for {city}")

    srv.add(
        Reply.json(chat(None, tool_calls=[tool_call("call_1", "get_weather", {"city": "Atlantis"})])),
        Reply.json(chat("Sorry, no data.")),
    )
    resp = generate(mode, "fake:m", "Weather?", tools=[syc.Tool("get_weather", "", WEATHER_SCHEMA, function=broken)])
    assert resp.text == "Sorry, no data."
    result = srv.requests[1].json["messages"][-1]
    assert result["role"] == "tool"
    assert "no data for Atlantis" in result["content"]


@pytest.mark.parametrize("mode", MODES)
def test_max_steps_one_stops_early(srv: ScriptedServer, mode: str) -> None:
    srv.add(
        Reply.json(chat(None, tool_calls=[tool_call("call_1", "get_weather", {"city": "Paris"})])),
        Reply.json(chat("never")),
    )
    tool = syc.Tool("get_weather", "", WEATHER_SCHEMA, function=_weather)
    resp = generate(mode, "fake:m", "Weather?", tools=[tool], max_steps=1)
    assert len(srv.requests) == 1
    assert resp.stopped_early is True
    assert resp.finish_reason == "tool_use"
    assert len(resp.steps) == 1


def test_tool_loop_response_round_trips(srv: ScriptedServer) -> None:
    srv.add(
        Reply.json(chat(None, tool_calls=[tool_call("call_1", "get_weather", {"city": "Paris"})])),
        Reply.json(chat("22 C")),
    )
    resp = syc.generate_text(
        "fake:m", "Weather?", tools=[syc.Tool("get_weather", "", WEATHER_SCHEMA, function=_weather)]
    )
    again = syc.Response.from_json(resp.to_json())
    assert again.text == "22 C"
    assert len(again.steps) == 2
    assert again.usage.total_tokens == sum(s.usage.total_tokens for s in again.steps)


# -- zero configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_ollama_needs_no_configuration(mode: str) -> None:
    try:
        server = ScriptedServer(port=11434)
    except OSError as exc:
        pytest.fail(f"port 11434 (the ollama default) is busy on 127.0.0.1, cannot run this test: {exc}")
    with server:
        server.add(Reply.json(chat("hi from ollama")))
        resp = generate(mode, "ollama:llama3", [syc.Message.user("hi")])
    assert resp.text == "hi from ollama"
    (req,) = server.requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["host"] == "localhost:11434"
    assert req.json == {"model": "llama3", "messages": [{"role": "user", "content": "hi"}]}
    assert "authorization" not in req.headers


# -- secrets ---------------------------------------------------------------------------------------------


def _reachable_reprs(root: object, limit: int = 2000) -> Iterator[str]:
    """str/repr of ``root`` and of everything reachable from it through attributes and containers."""
    seen: set[int] = set()
    todo = [root]
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (int, float, bool, type)) or callable(obj):
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes)):
            continue  # a string is data: what matters is how the objects holding it print
        yield repr(obj)
        yield str(obj)
        if isinstance(obj, Credentials):
            continue  # it holds the key (as data) and masks it: checked by the repr above
        if isinstance(obj, dict):
            todo.extend(obj.keys())
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
        if isinstance(obj, BaseException):
            todo.extend([obj.__cause__, obj.__context__, *obj.args])
        attrs = getattr(obj, "__dict__", None)
        if isinstance(attrs, dict):
            todo.extend(attrs.values())
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if isinstance(slot, str) and hasattr(obj, slot):
                    todo.append(getattr(obj, slot))


@pytest.mark.parametrize("mode", MODES)
def test_keys_never_reach_logs_exceptions_or_reprs(
    srv: ScriptedServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sycophant_py")
    syc.configure(
        custom_providers={"keyed": {"base_url": srv.url + "/v1", "auth": "required", "env": ["FAKE_API_KEY"]}}
    )
    payloads: list[dict[str, Any]] = []
    hook = syc.on("retry", payloads.append)
    err = {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}}
    srv.add(
        Reply.json({"error": {"message": "try later"}}, 500, {"x-request-id": "req-1"}),
        Reply.json(err, 401, {"x-request-id": "req-2"}),
    )
    try:
        with FakeClock(), pytest.raises(syc.AuthenticationFailed) as info:
            generate(mode, "keyed:m", "hi", credentials={"api_key": SECRET}, temperature=0.3)
    finally:
        syc.off("retry", hook)
    assert srv.requests[0].headers["authorization"] == f"Bearer {SECRET}"  # it was sent...
    assert len(payloads) == 1
    assert set(payloads[0]) == {"provider", "model", "attempt", "wait", "error"}  # never the call itself
    assert payloads[0]["attempt"] == 1
    assert isinstance(payloads[0]["error"], syc.ServerError)
    texts = [str(info.value), repr(info.value)]
    texts += list(_reachable_reprs(info.value))
    texts += list(_reachable_reprs(payloads))
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.extend(list(_reachable_reprs(record.__dict__)))
    assert caplog.records, "DEBUG logging should have produced events"
    assert [t for t in texts if SECRET in t] == []


# -- connection pools ---------------------------------------------------------------------------------


def test_async_client_is_reused_in_a_loop_and_closed_with_it(srv: ScriptedServer) -> None:
    from sycophant_py import _transport

    srv.add(Reply.json(chat()))

    async def run() -> Any:
        await syc.agenerate_text("fake:m", "one")
        client = _transport._state.loops[asyncio.get_running_loop()].client
        await syc.agenerate_text("fake:m", "two")
        assert _transport._state.loops[asyncio.get_running_loop()].client is client
        return client

    client = asyncio.run(run())
    assert client.is_closed  # asyncio.run() shut the loop down, and the client with it
    assert asyncio.run(run()) is not client  # a new loop gets its own client


def test_aclose_releases_the_async_pool(srv: ScriptedServer) -> None:
    from sycophant_py import _transport

    srv.add(Reply.json(chat()))

    async def run() -> None:
        await syc.agenerate_text("fake:m", "one")
        loop = asyncio.get_running_loop()
        client = _transport._state.loops[loop].client
        await syc.aclose()
        assert client.is_closed
        assert loop not in _transport._state.loops
        await syc.agenerate_text("fake:m", "two")  # a fresh pool is made on next use

    asyncio.run(run())
    assert len(srv.requests) == 2


def test_sync_client_is_reused(srv: ScriptedServer) -> None:
    from sycophant_py import _transport

    srv.add(Reply.json(chat()))
    syc.generate_text("fake:m", "one")
    assert _transport._state.sync is not None
    client = _transport._state.sync.client
    syc.generate_text("fake:m", "two")
    assert _transport._state.sync.client is client
    syc.close()
    assert client.is_closed


def test_reconfiguring_inside_a_loop_retires_the_old_client(srv: ScriptedServer) -> None:
    from sycophant_py import _transport

    srv.add(Reply.json(chat()))

    async def run() -> list[Any]:
        await syc.agenerate_text("fake:m", "one")
        old = _transport._state.loops[asyncio.get_running_loop()].client
        syc.configure(max_connections=4)  # new pool settings: a new client; the idle old one is closed
        await syc.agenerate_text("fake:m", "two")
        new = _transport._state.loops[asyncio.get_running_loop()].client
        assert new is not old
        await asyncio.sleep(0)
        assert old.is_closed
        return [old, new]

    clients = asyncio.run(run())
    assert all(c.is_closed for c in clients)
