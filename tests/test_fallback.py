"""Ordered fallbacks and aliases (``_fallback``), against two scripted servers on 127.0.0.1.

Each test asserts which server saw how many requests: a failed model is not retried when another
follows it (the next one is tried at once), the last one keeps the retry policy, and nothing is
tried after content was delivered.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _fallback
from sycophant_py.testing import FakeClock, Reply, ScriptedServer, sse_body

SSE = {"content-type": "text/event-stream"}
MODES = ["sync", "async"]


def chat(text: str) -> dict[str, Any]:
    return {
        "id": "c",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {"id": "s", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def stream(*pieces: str) -> Reply:
    return Reply(200, SSE, [sse_body([chunk(p) for p in pieces] + [chunk(finish="stop")])])


def error(status: int, message: str = "nope", headers: dict[str, str] | None = None) -> Reply:
    return Reply.json({"error": {"message": message, "type": "x"}}, status, headers)


@pytest.fixture
def a() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        syc.configure(custom_providers={"a": {"base_url": server.url + "/v1", "auth": "none"}})
        yield server


@pytest.fixture
def b() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        syc.configure(custom_providers={"b": {"base_url": server.url + "/v1", "auth": "none"}})
        yield server


def generate(mode: str, model: Any, messages: Any = "hi", **kw: Any) -> syc.Response:
    if mode == "sync":
        return syc.generate_text(model, messages, **kw)
    return asyncio.run(syc.agenerate_text(model, messages, **kw))


def stream_events(mode: str, model: Any, **kw: Any) -> tuple[list[syc.StreamEvent], syc.Response]:
    if mode == "sync":
        s = syc.stream_text(model, "hi", **kw)
        return list(s), s.response()

    async def run() -> tuple[list[syc.StreamEvent], syc.Response]:
        s = syc.astream_text(model, "hi", **kw)
        return [ev async for ev in s], await s.response()

    return asyncio.run(run())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [429, 500, 503, 529])
def test_next_model_is_tried_at_once(a: ScriptedServer, b: ScriptedServer, mode: str, status: int) -> None:
    a.add(error(status, headers={"retry-after": "30"}))
    b.add(Reply.json(chat("from b")))
    with FakeClock() as clock:
        resp = generate(mode, ["a:m1", "b:m2"])
    assert resp.text == "from b"
    assert (resp.provider, resp.model) == ("b", "m")
    assert len(a.requests) == 1  # not retried: the next model was tried at once
    assert clock.sleeps == []  # and without waiting for Retry-After
    assert b.requests[0].json["model"] == "m2"


@pytest.mark.parametrize("mode", MODES)
def test_other_4xx_is_raised_without_trying_the_next(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    a.add(error(400, "bad request body"))
    with pytest.raises(syc.BadRequest, match="bad request body"):
        generate(mode, ["a:m1", "b:m2"])
    assert len(a.requests) == 1
    assert b.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_all_failed_carries_every_error_and_the_last_keeps_its_retries(
    a: ScriptedServer, b: ScriptedServer, mode: str
) -> None:
    a.add(error(429, "slow down"))
    b.add(error(503, "down"), error(503, "down"), error(503, "still down"))
    with FakeClock(), pytest.raises(syc.AllModelsFailed) as info:
        generate(mode, ["a:m1", "b:m2"])
    assert [type(e) for e in info.value.errors] == [syc.RateLimited, syc.ServerError]
    assert "a:m1" in str(info.value)
    assert "b:m2" in str(info.value)
    assert "still down" in str(info.value)
    assert len(a.requests) == 1
    assert len(b.requests) == 3  # the last model: the normal policy (2 retries)
    assert isinstance(info.value, syc.ProviderError)


@pytest.mark.parametrize("mode", MODES)
def test_a_failure_after_a_fallback_is_reported_with_the_earlier_ones(
    a: ScriptedServer, b: ScriptedServer, mode: str
) -> None:
    a.add(error(500))
    b.add(error(401, "bad key"))
    with pytest.raises(syc.AllModelsFailed) as info:
        generate(mode, ["a:m1", "b:m2"])
    assert [type(e) for e in info.value.errors] == [syc.ServerError, syc.AuthenticationFailed]


@pytest.mark.parametrize("mode", MODES)
def test_connection_error_moves_on(b: ScriptedServer, mode: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    syc.configure(custom_providers={"dead": {"base_url": f"http://127.0.0.1:{port}/v1", "auth": "none"}})
    b.add(Reply.json(chat("alive")))
    assert generate(mode, ["dead:x", "b:y"]).text == "alive"


@pytest.mark.parametrize("mode", MODES)
def test_a_read_timeout_moves_on(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    a.add(Reply(200, {"content-type": "application/json"}, [b"{", b"}"], delay=2.0))
    b.add(Reply.json(chat("in time")))
    syc.configure(retry=syc.RetryPolicy(read_timeout=0.3))
    assert generate(mode, ["a:slow", "b:fast"]).text == "in time"


@pytest.mark.parametrize("mode", MODES)
def test_aliases_from_configure(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    syc.configure(aliases={"best": ["a:big", "b:small"], "any": ["best", "b:other"]})
    a.add(error(429), error(429))
    b.add(Reply.json(chat("small")), Reply.json(chat("small again")))
    assert generate(mode, "best").text == "small"
    resp = generate(mode, "any")  # an alias of an alias: a:big, b:small, b:other
    assert resp.text == "small again"
    assert [r.json["model"] for r in b.requests] == ["small", "small"]


def test_aliases_from_the_config_file(
    a: ScriptedServer, b: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[custom_providers.a]\nbase_url = "{a.url}/v1"\nauth = "none"\n'
        f'[custom_providers.b]\nbase_url = "{b.url}/v1"\nauth = "none"\n'
        '[aliases]\nfast = ["a:one", "b:two"]\nsolo = "b:three"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)
    a.add(error(503))
    b.add(Reply.json(chat("two")), Reply.json(chat("three")))
    assert syc.generate_text("fast", "hi").text == "two"
    assert syc.generate_text("solo", "hi").text == "three"
    assert [r.json["model"] for r in b.requests] == ["two", "three"]


def test_bad_aliases_and_lists_are_caller_errors(a: ScriptedServer) -> None:
    syc.configure(aliases={"best": ["a:x"]})
    with pytest.raises(syc.UnknownName, match="Did you mean 'best'"):
        syc.generate_text("bets", "hi")
    syc.configure(aliases={"loop": ["a:x", "loop2"], "loop2": ["loop"]})
    with pytest.raises(syc.InvalidError, match="refers to itself"):
        syc.generate_text("loop", "hi")
    with pytest.raises(syc.InvalidError, match="empty"):
        syc.generate_text([], "hi")
    with pytest.raises(syc.InvalidConfig, match="no ':'"):
        syc.configure(aliases={"a:b": ["a:x"]})
    with pytest.raises(syc.InvalidConfig, match="weights"):
        syc.configure(aliases={"w": {"models": ["a:x", "a:y"], "weights": [1]}})
    assert a.requests == []


def test_weighted_aliases_balance_by_weight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fallback, "random", random.Random(7))
    syc.configure(aliases={"pool": {"models": ["a:x", "b:y"], "weights": [3, 1]}})
    firsts = [_fallback.candidates("pool")[0] for _ in range(2000)]  # type: ignore[index]
    share = firsts.count("a:x") / len(firsts)
    assert 0.70 < share < 0.80  # 3:1
    assert all(sorted(_fallback.candidates("pool") or []) == ["a:x", "b:y"] for _ in range(20))


@pytest.mark.parametrize("mode", MODES)
def test_stream_falls_back_when_the_first_fails_before_content(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    a.add(error(429))
    b.add(stream("Hel", "lo"))
    events, resp = stream_events(mode, ["a:m1", "b:m2"])
    assert [e.type for e in events].count("start") == 1
    assert events[-1].type == "done"
    assert resp.text == "Hello"
    assert resp.provider == "b"
    assert len(a.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_stream_that_breaks_before_its_first_content_moves_on(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    a.add(Reply(200, {**SSE, "content-length": "9999"}, [b": keep-alive\n\n", b"never"], drop_after=1))
    b.add(stream("ok"))
    events, resp = stream_events(mode, ["a:m1", "b:m2"])
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_end", "done"]
    assert resp.text == "ok"


@pytest.mark.parametrize("mode", MODES)
def test_stream_never_falls_back_after_content(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    body = sse_body([chunk("Hel")], done=False)
    a.add(Reply(200, {**SSE, "content-length": "9999"}, [body, b"never"], drop_after=1))
    events, resp = stream_events(mode, ["a:m1", "b:m2"])
    assert events[-1].type == "error"
    assert isinstance(events[-1].error, syc.ProviderConnectionError)
    assert resp.text == "Hel"
    assert b.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_stream_list_exhausted_raises_all_failed(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    a.add(error(500))
    b.add(error(500), error(500), error(500))
    with FakeClock(), pytest.raises(syc.AllModelsFailed):
        stream_events(mode, ["a:m1", "b:m2"])
    assert (len(a.requests), len(b.requests)) == (1, 3)


def test_closing_a_fallback_stream_before_iterating_sends_nothing(a: ScriptedServer) -> None:
    s = syc.stream_text(["a:m1", "a:m2"], "hi")
    s.close()
    assert s.response().finish_reason == "aborted"
    assert a.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_tool_loop_falls_back_on_its_first_step_only(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"x": 1, "y": 2}'}}
    tool_turn = {
        "id": "t",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "tool_calls": [call]}, "finish_reason": "tool_calls"}
        ],
    }
    ran: list[int] = []

    def add(x: int, y: int) -> int:
        ran.append(x + y)
        return x + y

    a.add(error(503))
    b.add(Reply.json(tool_turn), error(503), error(503), error(503))
    tools = [syc.Tool.from_function(add)]
    with FakeClock(), pytest.raises(syc.ServerError) as info:
        generate(mode, ["a:m1", "b:m2"], tools=tools)
    assert ran == [3]  # the tool ran once; the failed second step is not sent to another model
    assert len(a.requests) == 1
    assert len(b.requests) == 4  # first step, then the second step with its retries
    assert info.value.steps is not None
    assert len(info.value.steps) == 1


def test_a_total_timeout_spans_every_model(a: ScriptedServer, b: ScriptedServer) -> None:
    import time

    a.add(Reply(200, {"content-type": "application/json"}, [b"{", b"}"], delay=3.0))
    b.add(Reply(200, {"content-type": "application/json"}, [b"{", b"}"], delay=3.0))
    t0 = time.monotonic()
    with pytest.raises(syc.SycophantError):
        syc.generate_text(["a:x", "b:y"], "hi", timeout=1.0)
    assert time.monotonic() - t0 < 1.8


@pytest.mark.parametrize("mode", MODES)
def test_embeddings_fall_back_too(a: ScriptedServer, b: ScriptedServer, mode: str) -> None:
    a.add(error(503))
    b.add(Reply.json({"data": [{"index": 0, "embedding": [0.5, 0.5]}], "usage": {"prompt_tokens": 1}}))
    emb = syc.embed(["a:e1", "b:e2"], "x") if mode == "sync" else asyncio.run(syc.aembed(["a:e1", "b:e2"], "x"))
    assert emb.vectors == [[0.5, 0.5]]
    assert emb.provider == "b"
    assert len(a.requests) == 1
