"""``register_provider(stream=fn)``: pi's ``streamSimple`` in Python.

The docs example (an API with its own JSON shape, executed from docs/providers.md) is checked on
the wire against a ScriptedServer; the rest pins the rules of ``_custom_stream``: events built
with the emitter, errors as terminal events keeping partial content, retries before the first
event, sync and async functions, keyed by provider, closing, timeouts, hooks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _hooks
from sycophant_py._custom_stream import StreamEmitter
from sycophant_py._events import StreamAccumulator, StreamEvent
from sycophant_py.testing import FakeClock, Reply, ScriptedServer
from tests.test_testing_contract import docs_example, ndjson

OPENAI_OK = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "http"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


@pytest.fixture
def acme(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    """The docs' Acme provider, pointed at the scripted server (layered over the docs' registration)."""
    monkeypatch.setenv("ACME_API_KEY", "acme-key")
    exec_registration()
    syc.register_provider("acme", base_url=srv.url + "/v1")
    return srv


def exec_registration() -> None:
    """The docs' ``register_provider`` call (the docs module ran it once, at its first import)."""
    ns = docs_example()
    syc.register_provider(
        "acme",
        base_url="https://api.acme.example/v1",
        api_key="ACME_API_KEY",
        api="acme-generate",
        models=[
            {
                "id": "acme-1",
                "contextWindow": 32000,
                "maxTokens": 4096,
                "cost": {"input": 0.5, "output": 1.5, "cacheRead": 0.05, "cacheWrite": 0.5},
            }
        ],
        stream=ns["stream_acme"],
    )


def tokens(prompt: int, completion: int, hit: int = 0, new: int = 0) -> dict[str, int]:
    return {"prompt": prompt, "completion": completion, "cache_hit": hit, "cache_new": new}


# -- the docs example on the wire ----------------------------------------------------------------


def test_docs_example_registration_is_what_the_docs_say() -> None:
    exec_registration()
    info = syc.get_model("acme:acme-1")
    assert (info.api, info.base_url, info.context_window, info.max_tokens) == (
        "acme-generate",
        "https://api.acme.example/v1",
        32000,
        4096,
    )
    assert info.extra["_stream"] is docs_example()["stream_acme"]


def test_docs_example_generate_text(acme: ScriptedServer) -> None:
    acme.add(
        ndjson([{"delta": "Hello"}, {"delta": " there"}, {"finish": "complete", "tokens": tokens(1000, 500, 200, 100)}])
    )
    resp = syc.generate_text(
        "acme:acme-1", [syc.Message.system("Be brief."), syc.Message.user("Hi")], temperature=0.5, max_tokens=64
    )
    req = acme.requests[0]
    assert (req.method, req.path) == ("POST", "/v1/generate")
    assert req.headers["authorization"] == "Bearer acme-key"
    assert req.headers["content-type"] == "application/json"
    assert req.json == {
        "model": "acme-1",
        "input": [{"role": "system", "text": "Be brief."}, {"role": "user", "text": "Hi"}],
        "config": {"temperature": 0.5, "max_output": 64},
    }
    assert (resp.text, resp.finish_reason, resp.provider, resp.model) == ("Hello there", "stop", "acme", "acme-1")
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (700, 500, 200, 100)
    assert u.cost == syc.Cost(700 * 0.5 / 1e6, 500 * 1.5 / 1e6, 200 * 0.05 / 1e6, 100 * 0.5 / 1e6)
    assert resp.context.messages[-1].text == "Hello there"


def test_docs_example_stream_events(acme: ScriptedServer) -> None:
    acme.add(
        ndjson(
            [
                {"delta": "Let me look."},
                {"call": {"id": "c1", "tool": "search", "args": '{"q": '}},
                {"call": {"id": "c1", "args": '"llamas"}'}},
                {"finish": "tool_calls", "tokens": tokens(10, 5)},
            ],
            chunk_size=4,
        )
    )
    stream = syc.stream_text("acme:acme-1", "find llamas", tools=[syc.Tool("search", "Search")])
    events: list[StreamEvent] = []
    partial_args: list[dict[str, Any]] = []
    for e in stream:
        events.append(e)
        if e.type == "toolcall_delta":
            partial_args.append(dict(e.partial.tool_calls[0].arguments))  # the live view, as it is now
    assert partial_args == [{}, {"q": "llamas"}]
    assert [(e.type, e.content_index, e.delta) for e in events] == [
        ("start", -1, ""),
        ("text_start", 0, ""),
        ("text_delta", 0, "Let me look."),
        ("toolcall_start", 1, ""),
        ("toolcall_delta", 1, '{"q": '),
        ("toolcall_delta", 1, '"llamas"}'),
        ("text_end", 0, ""),
        ("toolcall_end", 1, ""),
        ("done", -1, ""),
    ]
    end = events[7].tool_call
    assert end is not None
    assert (end.id, end.name, dict(end.arguments)) == ("c1", "search", {"q": "llamas"})
    assert events[-1].reason == "tool_use"
    assert stream.response().tool_calls == [end]
    assert acme.requests[0].json["tools"] == [
        {"name": "search", "description": "Search", "input_schema": {"type": "object", "properties": {}}}
    ]


def test_docs_example_failure_line_keeps_partial_content(acme: ScriptedServer) -> None:
    acme.add(ndjson([{"delta": "Half an ans"}, {"failure": {"message": "model crashed"}}]))
    events = list(syc.stream_text("acme:acme-1", "Hi"))
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_end", "error"]
    last = events[-1]
    assert last.reason == "error"
    assert last.response is not None
    assert last.response.text == "Half an ans"
    assert isinstance(last.error, syc.StreamError)
    assert "model crashed" in str(last.error)
    with pytest.raises(syc.StreamError, match="model crashed"):
        syc.generate_text("acme:acme-1", "Hi")


def test_docs_example_http_errors_are_retried_then_raised(acme: ScriptedServer) -> None:
    acme.add(
        Reply.json({"error": {"message": "slow down"}}, status=429, headers={"retry-after": "2"}),
        ndjson([{"delta": "ok"}, {"finish": "complete", "tokens": tokens(1, 1)}]),
    )
    with FakeClock() as clock:
        assert syc.generate_text("acme:acme-1", "Hi").text == "ok"
    assert clock.sleeps == [2.0]
    assert len(acme.requests) == 2
    acme.add(Reply.json({"error": {"message": "bad input"}}, status=400))
    with pytest.raises(syc.BadRequest, match="bad input") as info:
        syc.generate_text("acme:acme-1", "Hi")
    assert (info.value.status_code, info.value.provider, info.value.model) == (400, "acme", "acme-1")
    assert len(acme.requests) == 3  # a 400 is never retried
    events = list(syc.stream_text("acme:acme-1", "Hi"))
    assert [e.type for e in events] == ["error"]  # start need not precede error
    assert isinstance(events[0].error, syc.BadRequest)


def test_docs_example_async(acme: ScriptedServer) -> None:
    acme.add(ndjson([{"delta": "a"}, {"delta": "b"}, {"finish": "complete", "tokens": tokens(2, 2)}]))

    async def run() -> tuple[str, list[str]]:
        r = await syc.agenerate_text("acme:acme-1", "Hi")
        types: list[str] = [e.type async for e in syc.astream_text("acme:acme-1", "Hi")]
        return r.text, types

    assert asyncio.run(run()) == (
        "ab",
        ["start", "text_start", "text_delta", "text_delta", "text_end", "done"],
    )


# -- the driver's rules ----------------------------------------------------------------------------


def register(fn: Any, **kw: Any) -> None:
    syc.register_provider("fn", stream=fn, auth="none", **kw)


def test_options_and_context() -> None:
    seen: dict[str, Any] = {}

    def fn(model: syc.ModelInfo, context: syc.Context, options: Any) -> Iterator[Any]:
        seen.update(options, model=model, context=context)
        yield options["emit"].done()

    syc.register_provider(
        "fn",
        stream=fn,
        base_url="http://127.0.0.1:9/{region}",
        api_key="literal:sekret",
        headers={"X-Team": "a"},
        models=[{"id": "m", "headers": {"X-Model": "b"}}],
    )
    tool = syc.Tool("t", "a tool")
    syc.generate_text(
        "fn:m",
        [syc.Message.user("hi")],
        tools=[tool],
        temperature=0.1,
        acme_mode="fast",
        credentials={"region": "eu"},
        timeout=30,
    )
    assert seen["base_url"] == "http://127.0.0.1:9/eu"
    assert seen["headers"] == {"x-team": "a", "x-model": "b", "authorization": "Bearer sekret"}
    assert seen["api_key"] == "sekret"
    assert seen["params"] == {"temperature": 0.1, "acme_mode": "fast"}  # unknown params pass through
    assert seen["tools"] == (tool,)
    assert (seen["response_schema"], seen["schema_name"]) == (None, "response")
    assert 0 < seen["timeout"] <= 30
    assert isinstance(seen["emit"], StreamEmitter)
    assert seen["model"].id == "m"
    assert seen["context"].messages == (syc.Message.user("hi"),)
    assert "sekret" not in repr(seen["credentials"])


def test_shared_params_are_validated_before_the_function_runs() -> None:
    calls: list[int] = []

    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        calls.append(1)
        yield options["emit"].done()

    register(fn)
    with pytest.raises(syc.InvalidParams, match="temperature"):
        syc.generate_text("fn:m", "hi", temperature="hot")
    assert calls == []


def test_exception_mid_stream_keeps_partial_content() -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        out = options["emit"]
        yield out.thinking("hmm", signature="sig")
        yield out.text("partial")
        out.set_usage(input_tokens=4, output_tokens=2)
        raise KeyError("boom")

    register(fn)
    events = list(syc.stream_text("fn:m", "hi"))
    assert [e.type for e in events] == [
        "start",
        "thinking_start",
        "thinking_delta",
        "thinking_end",
        "text_start",
        "text_delta",
        "text_end",
        "error",
    ]
    err = events[-1].error
    assert isinstance(err, syc.StreamError)
    assert isinstance(err.__cause__, KeyError)
    resp = events[-1].response
    assert resp is not None
    assert (resp.text, resp.reasoning, resp.finish_reason) == ("partial", "hmm", "error")
    assert resp.parts[0] == syc.ThinkingPart("hmm", "sig", provider="fn")
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (4, 2)
    with pytest.raises(syc.StreamError, match="KeyError"):
        syc.generate_text("fn:m", "hi")


def test_returning_without_done_is_an_error() -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        yield options["emit"].text("cut")

    register(fn)
    events = list(syc.stream_text("fn:m", "hi"))
    assert events[-1].type == "error"
    assert isinstance(events[-1].error, syc.ResponseInvalid)
    assert events[-1].response is not None
    assert events[-1].response.text == "cut"


def test_yielding_something_else_is_an_error() -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        yield "text"

    register(fn)
    events = list(syc.stream_text("fn:m", "hi"))
    assert [e.type for e in events] == ["error"]
    assert "yielded a str" in str(events[0].error)


def test_events_after_done_are_ignored_and_the_function_is_closed() -> None:
    closed: list[bool] = []

    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        out = options["emit"]
        try:
            yield from out.text("a")  # yield from works as well as yielding the list
            yield out.done()
            yield out.text("never")
        finally:
            closed.append(True)

    register(fn)
    events = list(syc.stream_text("fn:m", "hi"))
    assert [e.type for e in events][-1] == "done"
    assert closed == [True]


def test_hand_built_events_get_a_start() -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        acc = StreamAccumulator("fn", model.id)
        acc.text("x")
        events = [e for e in acc.drain() if e.type != "start"]
        acc.finish("stop")
        yield [*events, *acc.drain()]

    register(fn)
    events = list(syc.stream_text("fn:m", "hi"))
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_end", "done"]
    assert len({id(e.partial) for e in events}) == 1
    assert events[-1].response is not None
    assert events[-1].response.text == "x"


def test_invalid_error_before_the_first_event_is_raised() -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        raise syc.InvalidMessage("images are not supported")
        yield  # pragma: no cover

    register(fn)
    with pytest.raises(syc.InvalidMessage):
        list(syc.stream_text("fn:m", "hi"))
    with pytest.raises(syc.InvalidMessage):
        syc.generate_text("fn:m", "hi")


def test_retryable_error_before_the_first_event_is_retried() -> None:
    attempts: list[int] = []

    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        out = options["emit"]
        attempts.append(1)
        if len(attempts) < 3:
            raise out.http_error(503, {"error": {"message": "busy"}})
        yield out.text("finally")
        yield out.done()

    register(fn)
    with FakeClock() as clock:
        assert syc.generate_text("fn:m", "hi").text == "finally"
    assert len(attempts) == 3
    assert len(clock.sleeps) == 2


def test_an_error_after_the_first_event_is_never_retried() -> None:
    attempts: list[int] = []

    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        attempts.append(1)
        out = options["emit"]
        yield out.start()
        raise out.http_error(503, {"error": {"message": "busy"}})

    register(fn)
    with FakeClock():
        events = list(syc.stream_text("fn:m", "hi"))
    assert [e.type for e in events] == ["start", "error"]
    assert isinstance(events[-1].error, syc.ServerError)
    assert attempts == [1]


def test_close_closes_the_function_and_aborts() -> None:
    closed: list[str] = []

    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        out = options["emit"]
        try:
            for i in range(100):
                yield out.text(f"{i} ")
            yield out.done()
        finally:
            closed.append("closed")

    register(fn)
    stream = syc.stream_text("fn:m", "hi")
    seen = [next(stream) for _ in range(4)]
    assert [e.type for e in seen] == ["start", "text_start", "text_delta", "text_delta"]
    stream.close()
    assert closed == ["closed"]
    resp = stream.response()
    assert (resp.finish_reason, resp.text) == ("aborted", "0 1 ")
    assert list(stream) == []


def test_closing_before_iterating_never_calls_the_function() -> None:
    calls: list[int] = []

    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        calls.append(1)
        yield options["emit"].done()

    register(fn)
    stream = syc.stream_text("fn:m", "hi")
    stream.close()
    assert stream.response().finish_reason == "aborted"
    assert calls == []


def test_total_timeout_ends_the_stream() -> None:
    with FakeClock() as clock:

        def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
            out = options["emit"]
            for piece in ("a", "b", "c"):
                clock.now += 4
                yield out.text(piece)
            yield out.done()

        register(fn)
        events = list(syc.stream_text("fn:m", "hi", timeout=10))
    assert [e.delta for e in events if e.type == "text_delta"] == ["a", "b", "c"]
    assert events[-1].type == "error"
    assert isinstance(events[-1].error, syc.Timeout)


def test_hooks_see_custom_stream_calls() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        yield options["emit"].done(usage={"input": 1, "output": 1})

    register(fn, base_url="http://127.0.0.1:9/api")
    try:
        for name in ("request", "response", "error"):
            syc.on(name, lambda p, n=name: seen.append((n, p)))  # type: ignore[misc]
        resp = syc.generate_text("fn:m", "hi")
    finally:
        for hooks in _hooks._HOOKS.values():
            hooks.clear()
    assert [n for n, _ in seen] == ["request", "response"]
    assert seen[0][1]["url"] == "http://127.0.0.1:9/api"
    assert seen[1][1]["response"] is resp


# -- sync and async functions ---------------------------------------------------------------------


def test_async_generator_function() -> None:
    async def fn(model: Any, context: Any, options: Any) -> AsyncIterator[Any]:
        out = options["emit"]
        yield out.start()
        await asyncio.sleep(0)
        yield out.text("async")
        yield out.done()

    register(fn)

    async def run() -> tuple[str, str, list[str]]:
        a = (await syc.agenerate_text("fn:m", "hi")).text
        b = (await syc.astream_text("fn:m", "hi").response()).text
        events: list[str] = [e.type async for e in syc.astream_text("fn:m", "hi")]
        return a, b, events

    assert asyncio.run(run()) == ("async", "async", ["start", "text_start", "text_delta", "text_end", "done"])
    with pytest.raises(syc.InvalidError, match="async"):
        syc.generate_text("fn:m", "hi")
    with pytest.raises(syc.InvalidError, match="async"):
        syc.stream_text("fn:m", "hi")


def test_coroutine_returning_a_list_in_async_entry_points() -> None:
    async def fn(model: Any, context: Any, options: Any) -> list[Any]:
        out = options["emit"]
        return [out.text("from a coroutine"), out.done()]

    register(fn)
    assert asyncio.run(syc.agenerate_text("fn:m", "hi")).text == "from a coroutine"


def test_plain_function_returning_a_list_works_everywhere() -> None:
    def fn(model: Any, context: Any, options: Any) -> list[list[StreamEvent]]:
        out = options["emit"]
        return [out.text("list"), out.done()]

    register(fn)
    assert syc.generate_text("fn:m", "hi").text == "list"
    assert asyncio.run(syc.agenerate_text("fn:m", "hi")).text == "list"


def test_sync_function_returning_a_coroutine_in_a_sync_entry_point() -> None:
    async def make(out: StreamEmitter) -> list[Any]:
        return [out.done()]

    def fn(model: Any, context: Any, options: Any) -> Any:
        return make(options["emit"])

    register(fn)
    with pytest.raises(syc.InvalidError, match="returned coroutine"):
        syc.generate_text("fn:m", "hi")


def test_async_aclose_closes_the_async_generator() -> None:
    closed: list[bool] = []

    async def fn(model: Any, context: Any, options: Any) -> AsyncIterator[Any]:
        out = options["emit"]
        try:
            for i in range(10):
                yield out.text(str(i))
            yield out.done()
        finally:
            closed.append(True)

    register(fn)

    async def run() -> syc.Response:
        stream = syc.astream_text("fn:m", "hi")
        async for ev in stream:
            if ev.type == "text_delta":
                break
        await stream.aclose()
        return await stream.response()

    resp = asyncio.run(run())
    assert closed == [True]
    assert (resp.finish_reason, resp.text) == ("aborted", "0")


def test_async_errors_keep_partial_content() -> None:
    async def fn(model: Any, context: Any, options: Any) -> AsyncIterator[Any]:
        yield options["emit"].text("part")
        raise RuntimeError("async boom")

    register(fn)

    async def run() -> syc.Response:
        return await syc.astream_text("fn:m", "hi").response()

    resp = asyncio.run(run())
    assert (resp.finish_reason, resp.text) == ("error", "part")
    assert "async boom" in str(resp.error)
    with pytest.raises(syc.StreamError, match="async boom"):
        asyncio.run(syc.agenerate_text("fn:m", "hi"))


# -- keyed by provider ----------------------------------------------------------------------------


def test_stream_function_never_touches_other_providers(srv: ScriptedServer) -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        yield options["emit"].text("function")
        yield options["emit"].done()

    syc.register_provider("with-fn", stream=fn, base_url=srv.url + "/v1", api="openai-completions", auth="none")
    syc.register_provider("plain", base_url=srv.url + "/v1", api="openai-completions", auth="none")
    srv.add(Reply.json(OPENAI_OK))
    assert syc.generate_text("with-fn:m", "hi").text == "function"
    assert syc.generate_text("plain:m", "hi").text == "http"
    assert len(srv.requests) == 1
    assert srv.requests[0].json["model"] == "m"


def test_a_model_with_another_api_uses_that_protocol(srv: ScriptedServer) -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        yield options["emit"].text("function")
        yield options["emit"].done()

    syc.register_provider(
        "mixed",
        stream=fn,
        base_url=srv.url + "/v1",
        auth="none",
        api="acme-generate",
        models=[{"id": "custom"}, {"id": "compatible", "api": "openai-completions"}],
    )
    srv.add(Reply.json(OPENAI_OK))
    assert syc.generate_text("mixed:custom", "hi").text == "function"
    assert syc.generate_text("mixed:compatible", "hi").text == "http"
    assert syc.generate_text("mixed:custom", "hi", api="openai_chat").text == "http"  # api= forces a protocol
    assert syc.generate_text("mixed:compatible", "hi", api="acme-generate").text == "function"


def test_override_a_built_in_provider_with_a_function() -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        yield options["emit"].text(f"{model.provider}:{model.id}")
        yield options["emit"].done()

    before = syc.get_model("openai:gpt-4o-mini")
    syc.register_provider("openai", stream=fn)
    resp = syc.generate_text("openai:gpt-4o-mini", "hi", credentials={"api_key": "k"})
    assert resp.text == "openai:gpt-4o-mini"
    assert resp.usage.cost is not None  # the catalog's prices still apply
    syc.unregister_provider("openai")
    assert syc.get_model("openai:gpt-4o-mini") == before


def test_generate_object_and_tool_loop_through_a_function() -> None:
    def fn(model: Any, context: Any, options: Any) -> Iterator[Any]:
        out = options["emit"]
        last = context.messages[-1]
        if options["response_schema"] is not None:
            yield out.text(json.dumps({"answer": 42}))
        elif last.role == "tool_result":
            yield out.text(f"the tool said {last.text}")
        else:
            yield out.tool_call("call_1", "double", {"x": 21})
        yield out.done()

    register(fn)
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    assert syc.generate_object("fn:m", "?", schema=schema).object == {"answer": 42}
    tool = syc.Tool(
        "double", "", {"type": "object", "properties": {"x": {"type": "integer"}}}, function=lambda x: x * 2
    )
    resp = syc.generate_text("fn:m", "double 21", tools=[tool])
    assert resp.text == "the tool said 42"
    assert len(resp.steps) == 2


# -- the emitter ----------------------------------------------------------------------------------


def model() -> syc.ModelInfo:
    return syc.ModelInfo(provider="p", id="m")


def test_emitter_blocks_and_reasons() -> None:
    out = StreamEmitter(model())
    assert [e.type for e in out.start()] == ["start"]
    assert out.start() == []
    assert [e.type for e in out.thinking("t")] == ["thinking_start", "thinking_delta"]
    assert [e.type for e in out.text("x")] == ["thinking_end", "text_start", "text_delta"]
    assert [e.type for e in out.end()] == ["text_end"]
    assert [e.type for e in out.tool_call("a", "f", {"k": 1})] == ["toolcall_start", "toolcall_delta", "toolcall_end"]
    assert [e.type for e in out.tool_call("b", "g", '{"z"')] == ["toolcall_start", "toolcall_delta"]
    assert [e.type for e in out.tool_call("b", arguments=": 2}")] == ["toolcall_delta"]
    assert [e.type for e in out.end("b")] == ["toolcall_end"]
    out.set_usage({"input": 3, "cacheRead": 1}, output=2, total_tokens=6)
    done = out.done("toolUse", id="resp-1", raw={"x": 1})
    assert [e.type for e in done] == ["done"]
    resp = done[0].response
    assert resp is not None
    assert (resp.finish_reason, resp.id, resp.raw, resp.provider_finish_reason) == (
        "tool_use",
        "resp-1",
        {"x": 1},
        "toolUse",
    )
    assert [(c.id, dict(c.arguments)) for c in resp.tool_calls] == [("a", {"k": 1}), ("b", {"z": 2})]
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.cache_read_tokens) == (3, 2, 1)
    assert out.partial.text == "x"


def test_emitter_rejects_bad_values() -> None:
    out = StreamEmitter(model())
    with pytest.raises(ValueError, match="done"):
        out.done("finished")
    with pytest.raises(ValueError, match="usage field"):
        out.set_usage(tokens=3)


def test_emitter_errors_and_http_errors() -> None:
    out = StreamEmitter(model())
    out.text("x")
    aborted = out.error("stopped", aborted=True)
    assert aborted[-1].reason == "aborted"
    assert isinstance(aborted[-1].error, syc.StreamError)
    err = out.http_error(429, b'{"error": {"message": "later"}}', {"Retry-After": "3"})
    assert isinstance(err, syc.RateLimited)
    assert (err.retry_after, err.provider, err.model, err.status_code) == (3.0, "p", "m", 429)
    assert "later" in str(err)
    assert isinstance(out.http_error(503, "down"), syc.ServerError)
    assert isinstance(out.http_error(401), syc.AuthenticationFailed)
