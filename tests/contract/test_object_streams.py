"""``stream_object`` / ``astream_object``: the public stream classes, ``tools=`` and how they end.

The ``tools=`` checks run on every registered chat protocol (through its contract dialect, like
``test_tools_objects.py``); the lifecycle checks (close, errors raised again, deduplication) run on
``openai_chat``, whose stream shell is the same for every protocol.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import sycophant_py as syc
from sycophant_py import _objects
from sycophant_py._exceptions import InvalidRegistration
from sycophant_py._registry import get_protocol, known_protocols
from sycophant_py.testing import Reply, ScriptedServer
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
    syc.configure(reset=True)
    syc.close()


class Person(BaseModel):
    name: str
    age: int


def weather(city: str) -> str:
    """Current weather.

    Args:
        city: City name.
    """
    return f"sunny in {city}"


def _model(d: Dialect) -> str:
    return f"contract:{d.model}"


# -- the public classes -------------------------------------------------------------------------------


def test_object_streams_are_public_twins_without_an_override() -> None:
    assert syc.ObjectStream is _objects.ObjectStream
    assert syc.AsyncObjectStream is _objects.AsyncObjectStream
    # Siblings over one private base: the async class does not override the sync one's methods.
    assert not issubclass(syc.AsyncObjectStream, syc.ObjectStream)
    assert syc.ObjectStream.__mro__[1] is syc.AsyncObjectStream.__mro__[1] is _objects._ObjectStreamBase
    sync_api = {"response", "close", "__iter__", "__next__", "__enter__", "__exit__"}
    async_api = {"response", "aclose", "__aiter__", "__anext__", "__aenter__", "__aexit__"}
    assert sync_api <= set(dir(syc.ObjectStream))
    assert async_api <= set(dir(syc.AsyncObjectStream))
    assert not inspect.iscoroutinefunction(syc.ObjectStream.response)
    assert inspect.iscoroutinefunction(syc.AsyncObjectStream.response)
    assert inspect.iscoroutinefunction(syc.AsyncObjectStream.aclose)
    sync_sig, async_sig = inspect.signature(syc.stream_object), inspect.signature(syc.astream_object)
    assert sync_sig.parameters == async_sig.parameters
    # generate_object's parameters (tools= included), in the same order, but repair_retries
    generate = [p for p in inspect.signature(syc.generate_object).parameters if p != "repair_retries"]
    assert list(sync_sig.parameters) == generate
    assert "tools" in generate


# -- tools= on every protocol -------------------------------------------------------------------------


def test_stream_object_sends_tools(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.stream(['{"name": "Ad', 'a", "age": 36}'], U(10, 8)))
    tool = syc.Tool.from_function(weather)
    with syc.stream_object(_model(dialect), "Who?", schema=Person, tools=[tool]) as stream:
        partials = list(stream)
        final = stream.response()
    assert partials[-1] == {"name": "Ada", "age": 36}
    assert final.object == Person(name="Ada", age=36)
    body = server.requests[-1].json
    dialect.validate(body)
    assert "weather" in dialect.sent_tools(body)
    schema = dialect.sent_schema(body)
    assert schema is not None
    assert schema["required"] == ["name", "age"]


def test_astream_object_sends_tools(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.stream(['{"name": "Bo",', ' "age": 2}'], U(4, 4)))

    async def main() -> tuple[list[Any], Any]:
        async with syc.astream_object(
            _model(dialect), "Who?", schema=Person, tools=[syc.Tool.from_function(weather)]
        ) as stream:
            seen = [p async for p in stream]
            final = await stream.response()
        await syc.aclose()
        return seen, final.object

    seen, obj = asyncio.run(main())
    assert seen[-1] == {"name": "Bo", "age": 2}
    assert obj == Person(name="Bo", age=2)
    assert "weather" in dialect.sent_tools(server.requests[-1].json)


def test_forced_schema_tool_brings_partials(dialect: Dialect, server: ScriptedServer) -> None:
    """Protocols that force a tool named after the schema stream the object as that call's arguments."""
    server.add(dialect.tool_calls_stream([Call("c1", "Person", {"name": "Ada", "age": 36})], U(5, 5)))
    stream = syc.stream_object(_model(dialect), "Who?", schema=Person, tools=[syc.Tool.from_function(weather)])
    partials = list(stream)
    assert partials
    assert partials[-1] == {"name": "Ada", "age": 36}
    assert stream.response().object == Person(name="Ada", age=36)


def test_a_call_of_the_callers_tool_is_not_the_object(dialect: Dialect, server: ScriptedServer) -> None:
    server.add(dialect.tool_calls_stream([Call("c1", "weather", {"city": "Lima"})], U(5, 5)))
    stream = syc.stream_object(_model(dialect), "Who?", schema=Person, tools=[syc.Tool.from_function(weather)])
    seen: list[Any] = []
    with pytest.raises(syc.InvalidObject) as info:
        seen.extend(stream)
    assert seen == []  # {"city": "Lima"} never passed for a partial Person
    with pytest.raises(syc.InvalidObject) as again:
        stream.response()
    assert again.value is info.value
    assert len(server.requests) == 1  # the tool is not run: no second request


# -- lifecycle (openai_chat) --------------------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    import json

    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return "data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "choices": [choice]}) + "\n\n"


def _sse(*pieces: str, end: bool = True) -> Reply:
    body = "".join(_chunk({"content": p}) for p in pieces)
    if end:
        body += _chunk({}, "stop") + "data: [DONE]\n\n"
    return Reply(200, {"content-type": "text/event-stream"}, chunks=[body.encode()])


@pytest.fixture
def chat() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        syc.configure(custom_providers={"oc": {"base_url": srv.url + "/v1", "auth": "none"}})
        yield srv
    syc.configure(reset=True)
    syc.close()


def test_partials_are_given_once_each(chat: ScriptedServer) -> None:
    chat.add(_sse('{"name"', ": ", '"Ada"', ", ", '"age": 3', "6}"))
    partials = list(syc.stream_object("oc:m", "Who?", schema=Person))
    # six deltas, three distinct partials (a number is left out until it is complete)
    assert partials == [{}, {"name": "Ada"}, {"name": "Ada", "age": 36}]


def test_close_before_the_end_makes_response_raise_stream_aborted(chat: ScriptedServer) -> None:
    chat.add(_sse('{"name": "Ada",', ' "age": 36}'))
    stream = syc.stream_object("oc:m", "Who?", schema=Person)
    assert next(stream) == {"name": "Ada"}
    stream.close()
    assert list(stream) == []
    with pytest.raises(syc.StreamAborted, match="closed before the object was complete"):
        stream.response()


def test_close_after_the_end_keeps_the_object(chat: ScriptedServer) -> None:
    chat.add(_sse('{"name": "Ada", "age": 36}'))
    with syc.stream_object("oc:m", "Who?", schema=Person) as stream:
        assert list(stream) == [{"name": "Ada", "age": 36}]
    assert stream.response().object == Person(name="Ada", age=36)


def test_a_failed_stream_raises_its_error_from_iteration_and_response(chat: ScriptedServer) -> None:
    chat.add(_sse('{"name": "Ada",', end=False))  # the body ends without finish_reason nor [DONE]
    stream = syc.stream_object("oc:m", "Who?", schema=Person)
    seen: list[Any] = []
    with pytest.raises(syc.ProviderError) as info:
        seen.extend(stream)
    assert seen == [{"name": "Ada"}]
    with pytest.raises(syc.ProviderError) as again:
        stream.response()
    assert again.value is info.value


def test_async_close_and_errors(chat: ScriptedServer) -> None:
    chat.add(_sse('{"name": "Ada",', ' "age": 36}'), _sse('{"name": "Ada", "age": "old"}'))

    async def main() -> None:
        stream = syc.astream_object("oc:m", "Who?", schema=Person)
        assert await anext(stream) == {"name": "Ada"}
        await stream.aclose()
        with pytest.raises(syc.StreamAborted):
            await stream.response()
        invalid = syc.astream_object("oc:m", "Who?", schema=Person)
        with pytest.raises(syc.InvalidObject) as info:
            [p async for p in invalid]
        with pytest.raises(syc.InvalidObject) as again:
            await invalid.response()
        assert again.value is info.value
        assert any("age" in e for e in info.value.errors)
        await syc.aclose()

    asyncio.run(main())
