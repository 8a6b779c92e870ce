"""The contract every chat wire protocol passes against scripted servers.

Parametrised over the registry: each registered chat protocol that loads runs every test here
through the public API, with replies rendered by its dialect (``tests/contract/dialects``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._exceptions import InvalidRegistration
from sycophant_py._registry import get_protocol, known_protocols
from sycophant_py.testing import ScriptedServer
from tests.contract.dialect import Call, Dialect, U
from tests.contract.dialects import dialect_for


def _available() -> list[str]:
    out = []
    for name in known_protocols("chat"):
        try:
            get_protocol("chat", name)
        except InvalidRegistration:
            continue  # a built-in whose module is not in this version yet
        out.append(name)
    return out


PROTOCOLS = _available()


@pytest.fixture(params=PROTOCOLS)
def dialect(request: pytest.FixtureRequest) -> Dialect:
    d = dialect_for(request.param)
    if d is None:
        pytest.fail(f"chat protocol {request.param!r} has no contract dialect in tests/contract/dialects/")
    return d


@pytest.fixture
def server(dialect: Dialect) -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        syc.configure(custom_providers={"contract": dialect.provider(srv.url)})
        yield srv


def _model(d: Dialect) -> str:
    return f"contract:{d.model}"


def _sent(srv: ScriptedServer, d: Dialect, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = srv.requests[index].json
    d.validate(body)
    return body


def _check_usage(resp: syc.Response, u: U, d: Dialect) -> None:
    usage = resp.usage
    assert (usage.input_tokens, usage.output_tokens) == (u.input, u.output)
    if d.reports_cache:
        assert (usage.cache_read_tokens, usage.cache_write_tokens) == (u.cache_read, u.cache_write)
    assert usage.total_tokens == (
        usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    )


def _well_formed(events: list[syc.StreamEvent]) -> None:
    types = [e.type for e in events]
    assert types[0] == "start"
    assert types.count("done") + types.count("error") == 1
    assert types[-1] in ("done", "error")
    open_blocks: dict[int, str] = {}
    for e in events[1:-1]:
        kind, _, phase = e.type.rpartition("_")
        if phase == "start":
            assert e.content_index not in open_blocks
            open_blocks[e.content_index] = kind
        elif phase == "delta":
            assert open_blocks.get(e.content_index) == kind, e
        elif phase == "end":
            assert open_blocks.pop(e.content_index) == kind
    assert not open_blocks
    assert len({id(e.partial) for e in events}) == 1


def test_text(dialect: Dialect, server: ScriptedServer) -> None:
    u = U(input=11, output=7, cache_read=3, cache_write=2 if dialect.reports_cache else 0)
    server.add(dialect.text("Hello there.", u))
    resp = syc.generate_text(_model(dialect), [syc.Message.user("Hi")], max_tokens=50, temperature=0.3)
    assert resp.text == "Hello there."
    assert resp.finish_reason == "stop"
    assert resp.tool_calls == []
    _check_usage(resp, u, dialect)
    assert dialect.sent_messages(_sent(server, dialect)) == [("user", "Hi")]
    assert resp.context.messages[-1].text == "Hello there."


def test_length_finish(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.text("Cut", U(3, 50), finish="length"))
    assert syc.generate_text(_model(dialect), "Hi", max_tokens=50).finish_reason == "length"


def test_system_prompt_and_multi_turn(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.text("Paris.", U(20, 2)), dialect.text("About 2 million.", U(30, 4)))
    first = syc.generate_text(_model(dialect), [syc.Message.system("Be brief."), syc.Message.user("Capital?")])
    second = syc.generate_text(_model(dialect), first.context.add(syc.Message.user("Population?")))
    assert second.text == "About 2 million."
    sent = dialect.sent_messages(_sent(server, dialect))
    assert sent == [("system", "Be brief."), ("user", "Capital?"), ("assistant", "Paris."), ("user", "Population?")]


def test_tools_sent_and_calls_decoded(dialect: Dialect, server: ScriptedServer) -> None:
    calls = [Call("call_a1", "get_weather", {"city": "Paris", "unit": "c"}), Call("call_b2", "get_time", {"tz": "CET"})]
    server.add(dialect.tool_calls(calls, U(40, 20)))
    tools = [
        syc.Tool(
            "get_weather",
            "Weather for a city",
            {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        ),
        syc.Tool("get_time", "Time in a zone", {"type": "object", "properties": {"tz": {"type": "string"}}}),
    ]
    resp = syc.generate_text(_model(dialect), "Weather and time?", tools=tools)
    assert resp.finish_reason == "tool_use"
    assert [(c.name, dict(c.arguments)) for c in resp.tool_calls] == [(c.name, c.arguments) for c in calls]
    assert all(c.id for c in resp.tool_calls)
    assert dialect.sent_tools(_sent(server, dialect)) == ["get_weather", "get_time"]
    # continue with results: the ids round-trip
    server.add(dialect.text("Sunny, 14:00.", U(60, 5)))
    results = [
        syc.Message.tool_result(c.id, "sunny" if c.name == "get_weather" else "14:00", name=c.name)
        for c in resp.tool_calls
    ]
    final = syc.generate_text(_model(dialect), resp.context.add(*results))
    assert final.text == "Sunny, 14:00."
    sent = dialect.sent_messages(_sent(server, dialect))
    assert ("tool_call", "get_weather") in sent
    assert ("tool_result", "sunny") in sent
    assert ("tool_result", "14:00") in sent


def test_tool_loop_runs_functions(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(
        dialect.tool_calls([Call("call_1", "add", {"a": 2, "b": 3})], U(10, 5)), dialect.text("It is 5.", U(20, 3))
    )
    seen: list[tuple[int, int]] = []

    def add(a: int, b: int) -> int:
        seen.append((a, b))
        return a + b

    tool = syc.Tool(
        "add",
        "Add numbers",
        {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]},
        function=add,
    )
    resp = syc.generate_text(_model(dialect), "2+3?", tools=[tool])
    assert seen == [(2, 3)]
    assert resp.text == "It is 5."
    assert len(resp.steps) == 2
    assert resp.usage.input_tokens == 30
    assert ("tool_result", "5") in dialect.sent_messages(_sent(server, dialect))


@pytest.mark.parametrize("chunk_size", [None, 1, 7])
def test_stream_text(dialect: Dialect, server: ScriptedServer, chunk_size: int | None) -> None:
    u = U(9, 4, cache_read=1 if dialect.reports_cache else 0)
    pieces = ["Hel", "lo, ", "wörld", " ✓"]
    server.add(dialect.stream(pieces, u, chunk_size))
    events = list(syc.stream_text(_model(dialect), "Hi"))
    _well_formed(events)
    assert [e.delta for e in events if e.type == "text_delta"] == pieces
    final = events[-1]
    assert final.type == "done"
    assert final.reason == "stop"
    assert final.response is not None
    assert final.response.text == "Hello, wörld ✓"
    _check_usage(final.response, u, dialect)


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_stream_tool_calls(dialect: Dialect, server: ScriptedServer, chunk_size: int | None) -> None:
    calls = [Call("call_x", "search", {"query": "llama ✓", "limit": 3}), Call("call_y", "noop", {})]
    server.add(dialect.tool_calls_stream(calls, U(15, 9), chunk_size))
    stream = syc.stream_text(_model(dialect), "find", tools=[syc.Tool("search"), syc.Tool("noop")])
    events = list(stream)
    _well_formed(events)
    ends = [e.tool_call for e in events if e.type == "toolcall_end"]
    assert [(c.name, dict(c.arguments)) for c in ends if c] == [(c.name, c.arguments) for c in calls]
    assert events[-1].reason == "tool_use"
    resp = stream.response()
    assert [c.name for c in resp.tool_calls] == ["search", "noop"]
    assert resp.finish_reason == "tool_use"


def test_structured_output_at_protocol_level(dialect: Dialect, server: ScriptedServer) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    server.add(dialect.text(json.dumps({"name": "Ada", "age": 36}), U(12, 8)))
    out = syc.generate_object(_model(dialect), "Who?", schema=schema)
    assert out.object == {"name": "Ada", "age": 36}
    assert dialect.sent_schema(_sent(server, dialect)) == schema


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, syc.BadRequest),
        (401, syc.AuthenticationFailed),
        (404, syc.NotFound),
        (429, syc.RateLimited),
        (500, syc.ServerError),
    ],
)
def test_error_mapping(dialect: Dialect, server: ScriptedServer, status: int, exc: type[Exception]) -> None:
    from sycophant_py.testing import FakeClock

    server.add(dialect.error(status, f"scripted failure {status}"))
    with FakeClock(), pytest.raises(exc) as info:
        syc.generate_text(_model(dialect), "Hi")
    err = info.value
    assert isinstance(err, syc.ProviderError)
    assert err.status_code == status
    assert f"scripted failure {status}" in str(err)
    assert (err.provider, err.model) == ("contract", dialect.model)


def test_async_matches_sync(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.text("same", U(2, 1)), dialect.stream(["sa", "me"], U(2, 1)))

    async def run() -> tuple[str, str]:
        a = await syc.agenerate_text(_model(dialect), "Hi")
        b = await syc.astream_text(_model(dialect), "Hi").response()
        await syc.aclose()
        return a.text, b.text

    assert asyncio.run(run()) == ("same", "same")
