"""Tools and structured output on every chat protocol (the contract suite, continued).

Parametrised over the registry like ``test_contract.py``: single, parallel and streamed tool
calls, the automatic loop (results, ``max_steps``, errors the model sees), and structured output
(valid, invalid, repair, streaming partials).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import sycophant_py as syc
from sycophant_py._exceptions import InvalidObject, InvalidRegistration
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
            continue
        out.append(name)
    return out


@pytest.fixture(params=_available())
def dialect(request: pytest.FixtureRequest) -> Dialect:
    d = dialect_for(request.param)
    if d is None:
        pytest.fail(f"chat protocol {request.param!r} has no contract dialect")
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


class Person(BaseModel):
    name: str
    age: int


PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def weather(city: str, unit: str = "c") -> dict[str, Any]:
    """Current weather.

    Args:
        city: City name.
        unit: c or f.
    """
    return {"city": city, "temp": 21 if unit == "c" else 70}


def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: Why.
    """
    raise RuntimeError(f"tool failed: {reason}")


def test_single_tool_call_from_function(dialect: Dialect, server: ScriptedServer) -> None:
    tool = syc.Tool.from_function(weather)
    server.add(dialect.tool_calls([Call("call_1", "weather", {"city": "Oslo"})], U(10, 4)))
    resp = syc.generate_text(
        _model(dialect), "Weather?", tools=[syc.Tool(tool.name, tool.description, tool.parameters)]
    )
    assert [(c.name, dict(c.arguments)) for c in resp.tool_calls] == [("weather", {"city": "Oslo"})]
    assert dialect.sent_tools(_sent(server, dialect)) == ["weather"]


def test_parallel_calls_run_and_results_go_back(dialect: Dialect, server: ScriptedServer) -> None:
    calls = [Call("call_p1", "weather", {"city": "Oslo"}), Call("call_p2", "weather", {"city": "Rome", "unit": "f"})]
    server.add(dialect.tool_calls(calls, U(10, 8)), dialect.text("Oslo 21, Rome 70.", U(30, 6)))
    resp = syc.generate_text(_model(dialect), "Both?", tools=[syc.Tool.from_function(weather)])
    assert resp.text == "Oslo 21, Rome 70."
    assert len(resp.steps) == 2
    sent = dialect.sent_messages(_sent(server, dialect))
    results = [text for role, text in sent if role == "tool_result"]
    assert sorted(json.loads(r)["city"] for r in results) == ["Oslo", "Rome"]
    assert {"city": "Rome", "temp": 70} in [json.loads(r) for r in results]
    assert resp.usage.output_tokens == 14


def test_tool_errors_are_sent_to_the_model(dialect: Dialect, server: ScriptedServer) -> None:
    calls = [
        Call("call_e1", "explode", {"reason": "disk full"}),
        Call("call_e2", "weather", {"town": "Oslo"}),  # invalid arguments: city missing
        Call("call_e3", "missing_tool", {}),
    ]
    server.add(dialect.tool_calls(calls, U(10, 8)), dialect.text("Sorry.", U(20, 2)))
    tools = [syc.Tool.from_function(explode), syc.Tool.from_function(weather)]
    resp = syc.generate_text(_model(dialect), "Go", tools=tools)
    assert resp.text == "Sorry."
    results = [t for role, t in dialect.sent_messages(_sent(server, dialect)) if role == "tool_result"]
    assert any("RuntimeError: tool failed: disk full" in r for r in results)
    assert any("invalid arguments" in r and "city" in r for r in results)
    assert any("unknown tool 'missing_tool'" in r for r in results)


def test_loop_stops_at_max_steps(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(
        dialect.tool_calls([Call("call_m1", "weather", {"city": "A"})], U(5, 1)),
        dialect.tool_calls([Call("call_m2", "weather", {"city": "B"})], U(6, 1)),
        dialect.tool_calls([Call("call_m3", "weather", {"city": "C"})], U(7, 1)),
    )
    resp = syc.generate_text(_model(dialect), "Loop", tools=[syc.Tool.from_function(weather)], max_steps=3)
    assert resp.stopped_early is True
    assert len(resp.steps) == 3
    assert len(server.requests) == 3
    assert resp.usage.input_tokens == 18
    assert [c.arguments["city"] for c in resp.tool_calls] == ["C"]


def test_async_loop_accepts_async_functions(dialect: Dialect, server: ScriptedServer) -> None:
    async def lookup(city: str) -> str:
        """Async lookup.

        Args:
            city: City.
        """
        await asyncio.sleep(0)
        return f"{city}: sunny"

    server.add(
        dialect.tool_calls([Call("call_a1", "lookup", {"city": "Lima"})], U(5, 2)), dialect.text("Sunny.", U(9, 1))
    )

    async def main() -> syc.Response:
        resp = await syc.agenerate_text(_model(dialect), "Lima?", tools=[syc.Tool.from_function(lookup)])
        await syc.aclose()
        return resp

    resp = asyncio.run(main())
    assert resp.text == "Sunny."
    assert ("tool_result", "Lima: sunny") in dialect.sent_messages(_sent(server, dialect))


def test_sync_entry_point_reports_async_tool_as_an_error_result(dialect: Dialect, server: ScriptedServer) -> None:
    async def lookup(city: str) -> str:
        """Async lookup.

        Args:
            city: City.
        """
        return city

    server.add(dialect.tool_calls([Call("call_s1", "lookup", {"city": "Lima"})], U(5, 2)), dialect.text("ok", U(9, 1)))
    syc.generate_text(_model(dialect), "Lima?", tools=[syc.Tool.from_function(lookup)])
    results = [t for role, t in dialect.sent_messages(_sent(server, dialect)) if role == "tool_result"]
    assert "async tool functions need an async entry point" in results[0]


def test_named_tool_choice_must_name_a_tool(dialect: Dialect, server: ScriptedServer) -> None:
    with pytest.raises(syc.InvalidParams, match="tool_choice='nope' names no tool"):
        syc.generate_text(_model(dialect), "x", tools=[syc.Tool.from_function(weather)], tool_choice="nope")
    assert server.requests == []


def test_object_valid_pydantic_and_dict(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.text('{"name": "Ada", "age": 36}', U(10, 8)), dialect.text('{"name": "Bo", "age": 2}', U(1, 1)))
    out = syc.generate_object(_model(dialect), "Who?", schema=Person)
    assert out.object == Person(name="Ada", age=36)
    assert out.text == '{"name": "Ada", "age": 36}'
    schema = dialect.sent_schema(_sent(server, dialect))
    assert schema is not None
    assert schema["required"] == ["name", "age"]
    out2 = syc.generate_object(_model(dialect), "Who?", schema=PERSON)
    assert out2.object == {"name": "Bo", "age": 2}


def test_object_invalid_raises_with_text_and_errors(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.text('{"name": "Ada", "age": "old"}', U(10, 8)))
    with pytest.raises(InvalidObject) as info:
        syc.generate_object(_model(dialect), "Who?", schema=PERSON)
    assert info.value.text == '{"name": "Ada", "age": "old"}'
    assert any("age" in e and "integer" in e for e in info.value.errors)
    server.add(dialect.text("not json at all", U(3, 3)))
    with pytest.raises(InvalidObject, match="not JSON"):
        syc.generate_object(_model(dialect), "Who?", schema=PERSON)


def test_object_repair_sends_errors_back(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.text('{"name": "Ada"}', U(10, 5)), dialect.text('{"name": "Ada", "age": 36}', U(25, 8)))
    out = syc.generate_object(_model(dialect), "Who?", schema=Person, repair_retries=2)
    assert out.object == Person(name="Ada", age=36)
    assert len(server.requests) == 2
    assert out.usage.input_tokens == 35
    assert out.usage.output_tokens == 13
    sent = dialect.sent_messages(_sent(server, dialect))
    assert sent[-2] == ("assistant", '{"name": "Ada"}')
    assert sent[-1][0] == "user"
    assert "'age' is a required property" in sent[-1][1]


def test_stream_object_yields_growing_partials(dialect: Dialect, server: ScriptedServer) -> None:
    pieces = ['{"na', 'me": "Ad', 'a", "a', 'ge": 3', "6}"]
    server.add(dialect.stream(pieces, U(10, 8)))
    stream = syc.stream_object(_model(dialect), "Who?", schema=Person)
    partials = list(stream)
    assert partials[0] == {}
    assert {"name": "Ad"} in partials
    assert partials[-1] == {"name": "Ada", "age": 36}
    assert stream.response().object == Person(name="Ada", age=36)


def test_astream_object(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.stream(['{"name": "Bo",', ' "age": 2}'], U(4, 4)))

    async def main() -> tuple[list[Any], Any]:
        stream = syc.astream_object(_model(dialect), "Who?", schema=PERSON)
        seen = [p async for p in stream]
        final = await stream.response()
        await syc.aclose()
        return seen, final.object

    seen, obj = asyncio.run(main())
    assert seen[-1] == {"name": "Bo", "age": 2}
    assert obj == {"name": "Bo", "age": 2}
