"""Sync/async parity: the two entry points are thin shells around the same steps.

Each scenario is scripted once and run through the sync and then the async entry point against the
same server; the outcomes (result fields, stream event types, the exception, what was sent, the
retry waits) must be equal.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from typing_extensions import override

import sycophant_py as syc
from sycophant_py import _retry
from sycophant_py._hooks import HookName
from sycophant_py.testing import FakeClock, Reply, ScriptedServer, sse_body

SSE = {"content-type": "text/event-stream"}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def chat(
    text: str | None = "ok", *, tool_calls: list[dict[str, Any]] | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-p",
        "model": "served",
        "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": usage or {"prompt_tokens": 9, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}},
    }


def delta(content: str | None = None, *, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = dict(extra)
    if content is not None:
        d["content"] = content
    return {"id": "chatcmpl-s", "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


def stream_body(*pieces: str) -> bytes:
    events = [
        delta(role="assistant"),
        *(delta(p) for p in pieces),
        delta(finish="stop"),
        {"id": "chatcmpl-s", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 4}},
    ]
    return sse_body(events)


def weather(city: str) -> str:
    return f"22 C in {city}"


@dataclass
class Scenario:
    """Replies to script, then one call: ``kind`` is ``generate`` or ``stream``."""

    replies: Callable[[], list[Reply]]
    kind: str = "generate"
    messages: Any = "hi"
    kwargs: dict[str, Any] = field(default_factory=dict)


def _tool_call() -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}


SCENARIOS: dict[str, Scenario] = {
    "text": Scenario(
        lambda: [Reply.json(chat("Hello there"), headers={"x-request-id": "r1"})],
        messages=[syc.Message.system("Be brief."), syc.Message.user("Hello")],
        kwargs={"temperature": 0.3, "max_tokens": 20},
    ),
    "tool_loop": Scenario(
        lambda: [Reply.json(chat(None, tool_calls=[_tool_call()])), Reply.json(chat("It is 22 C."))],
        kwargs={"tools": [syc.Tool("weather", "Weather", WEATHER, function=weather)]},
    ),
    "tool_calls_no_function": Scenario(
        lambda: [Reply.json(chat(None, tool_calls=[_tool_call()]))],
        kwargs={"tools": [syc.Tool("weather", "Weather", WEATHER)], "tool_choice": "required"},
    ),
    "max_steps": Scenario(
        lambda: [Reply.json(chat(None, tool_calls=[_tool_call()]))],
        kwargs={"tools": [syc.Tool("weather", "", WEATHER, function=weather)], "max_steps": 1},
    ),
    "retry_429": Scenario(
        lambda: [
            Reply.json({"error": {"message": "slow down"}}, 429, {"retry-after": "2"}),
            Reply.json(chat("after wait")),
        ]
    ),
    "retry_exhausted": Scenario(lambda: [Reply.json({"error": {"message": "down"}}, 503, {"retry-after-ms": "250"})]),
    "not_found": Scenario(
        lambda: [
            Reply.json({"error": {"message": "no such model", "type": "not_found"}}, 404, {"x-request-id": "r404"})
        ]
    ),
    "reset_then_ok": Scenario(lambda: [Reply.reset(), Reply.json(chat("fine"))], kwargs={"timeout": 30}),
    "stream": Scenario(
        lambda: [Reply(200, SSE, [b[i : i + 5] for b in [stream_body("Hel", "lo", "!")] for i in range(0, len(b), 5)])],
        kind="stream",
    ),
    "stream_thinking_tools": Scenario(
        lambda: [
            Reply.sse(
                [
                    delta(role="assistant"),
                    delta(reasoning_content="hmm"),
                    delta("ok "),
                    delta(tool_calls=[{"index": 0, "id": "c1", "function": {"name": "weather", "arguments": '{"ci'}}]),
                    delta(tool_calls=[{"index": 0, "function": {"arguments": 'ty": "Rome"}'}}]),
                    delta(finish="tool_calls"),
                ]
            )
        ],
        kind="stream",
        kwargs={"tools": [syc.Tool("weather", "", WEATHER)]},
    ),
    "stream_dropped": Scenario(
        lambda: [
            Reply(
                200,
                {**SSE, "content-length": "99999"},
                [sse_body([delta(role="assistant")], done=False), sse_body([delta("part")], done=False), b"never"],
                drop_after=2,
            )
        ],
        kind="stream",
    ),
    "stream_open_retry": Scenario(
        lambda: [
            Reply.json({"error": {"message": "busy"}}, 529, {"retry-after": "1"}),
            Reply(200, SSE, [stream_body("x")]),
        ],
        kind="stream",
    ),
    "embed": Scenario(
        lambda: [
            Reply.json(
                {
                    "data": [{"index": 1, "embedding": [0.5, 0.25]}, {"index": 0, "embedding": [1.0, 0.0]}],
                    "model": "emb",
                    "usage": {"prompt_tokens": 4, "total_tokens": 4},
                }
            )
        ],
        kind="embed",
        messages=["a", "b"],
    ),
    "stream_json_body": Scenario(lambda: [Reply.json(chat("whole body"))], kind="stream"),
    "invalid_body": Scenario(lambda: [Reply.json({"detail": "not a completion"})]),
    "stream_invalid_frame": Scenario(
        lambda: [Reply(200, SSE, [sse_body([delta("a")], done=False) + b"data: {oops\n\n"])], kind="stream"
    ),
}


def _response(resp: syc.Response) -> dict[str, Any]:
    return {
        "text": resp.text,
        "reasoning": resp.reasoning,
        "finish_reason": resp.finish_reason,
        "usage": resp.usage.to_dict(),
        "tool_calls": [(c.id, c.name, dict(c.arguments), c.arguments_json) for c in resp.tool_calls],
        "id": resp.id,
        "model": resp.model,
        "provider": resp.provider,
        "request_id": resp.request_id,
        "steps": len(resp.steps),
        "stopped_early": resp.stopped_early,
        "error": None if resp.error is None else type(resp.error).__name__,
        "context": [m.to_dict() for m in resp.context.messages],
    }


def _error(exc: syc.ProviderError) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "str": str(exc),
        "status": exc.status_code,
        "provider": exc.provider,
        "model": exc.model,
        "request_id": exc.request_id,
        "body": exc.body,
    }


def _event(ev: syc.StreamEvent) -> tuple[Any, ...]:
    tc = ev.tool_call
    return (
        ev.type,
        ev.content_index,
        ev.delta,
        ev.reason,
        None if tc is None else (tc.id, tc.name, dict(tc.arguments)),
        None if ev.error is None else type(ev.error).__name__,
    )


def _embedding(resp: syc.EmbeddingResponse) -> dict[str, Any]:
    return {"vectors": resp.vectors, "usage": resp.usage.to_dict(), "model": resp.model, "provider": resp.provider}


def _sync(s: Scenario) -> Any:
    if s.kind == "embed":
        return _embedding(syc.embed("fake:emb", s.messages, **s.kwargs))
    if s.kind == "generate":
        return _response(syc.generate_text("fake:m", s.messages, **s.kwargs))
    stream = syc.stream_text("fake:m", s.messages, **s.kwargs)
    events = [_event(ev) for ev in stream]
    return events, _response(stream.response())


async def _async(s: Scenario) -> Any:
    if s.kind == "embed":
        return _embedding(await syc.aembed("fake:emb", s.messages, **s.kwargs))
    if s.kind == "generate":
        return _response(await syc.agenerate_text("fake:m", s.messages, **s.kwargs))
    stream = syc.astream_text("fake:m", s.messages, **s.kwargs)
    events = [_event(ev) async for ev in stream]
    return events, _response(await stream.response())


class _Events(logging.Handler):
    """Every log event of the library: its name and field names (values vary: times, ids)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str, list[str]]] = []

    @override
    def emit(self, record: logging.LogRecord) -> None:
        fields = sorted(k for k in record.__dict__ if k not in _RECORD_ATTRS and k != "timestamp")
        self.seen.append((record.levelname, record.getMessage(), fields))


_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_HOOKS: tuple[HookName, ...] = ("request", "response", "error", "retry")


def _recorder(hooks: list[tuple[str, list[str]]], name: str) -> Callable[[dict[str, Any]], None]:
    """A hook that records its name and the payload's keys."""

    def record(payload: dict[str, Any]) -> None:
        hooks.append((name, sorted(payload)))

    return record


def _run(srv: ScriptedServer, scenario: Scenario, mode: str) -> dict[str, Any]:
    srv.requests.clear()
    srv.replies.clear()
    srv.add(*scenario.replies())
    logger = logging.getLogger("sycophant_py")
    events, level = _Events(), logger.level
    hooks: list[tuple[str, list[str]]] = []
    fns = {name: syc.on(name, _recorder(hooks, name)) for name in _HOOKS}
    logger.addHandler(events)
    logger.setLevel(logging.DEBUG)
    try:
        with FakeClock() as clock, pytest.MonkeyPatch.context() as mp:
            mp.setattr(_retry, "random", random.Random(0))  # the same backoff jitter for both runs
            try:
                result = _sync(scenario) if mode == "sync" else asyncio.run(_async(scenario))
            except syc.ProviderError as exc:
                result = _error(exc)
    finally:
        logger.removeHandler(events)
        logger.setLevel(level)
        for name, fn in fns.items():
            syc.off(name, fn)
    sent = [
        (r.method, r.path, {k: v for k, v in r.headers.items() if k != "content-length"}, r.json) for r in srv.requests
    ]
    return {"result": result, "sent": sent, "sleeps": clock.sleeps, "log": events.seen, "hooks": hooks}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_sync_and_async_agree(srv: ScriptedServer, name: str) -> None:
    scenario = SCENARIOS[name]
    sync = _run(srv, scenario, "sync")
    asyn = _run(srv, scenario, "async")
    assert json.loads(json.dumps(sync, default=repr)) == json.loads(json.dumps(asyn, default=repr))
    assert sync["sent"], "the scenario must send something"
    assert sync["log"], "the scenario must log"
    assert sync["hooks"], "the scenario must reach the hooks"


def test_scenarios_cover_what_they_claim(srv: ScriptedServer) -> None:
    """A few anchors, so parity is not parity of two identical failures."""
    assert _run(srv, SCENARIOS["text"], "sync")["result"]["text"] == "Hello there"
    assert _run(srv, SCENARIOS["tool_loop"], "sync")["result"]["steps"] == 2
    assert _run(srv, SCENARIOS["retry_429"], "sync")["sleeps"] == [2.0]
    assert _run(srv, SCENARIOS["retry_exhausted"], "sync")["result"]["type"] == "ServerError"
    assert _run(srv, SCENARIOS["not_found"], "sync")["result"]["type"] == "NotFound"
    events, resp = _run(srv, SCENARIOS["stream"], "sync")["result"]
    assert resp["text"] == "Hello!"
    assert events[-1][0] == "done"
    events, resp = _run(srv, SCENARIOS["stream_dropped"], "sync")["result"]
    assert (events[-1][0], resp["text"], resp["error"]) == ("error", "part", "ProviderConnectionError")
    events, resp = _run(srv, SCENARIOS["stream_invalid_frame"], "sync")["result"]
    assert (events[-1][0], resp["error"]) == ("error", "ResponseInvalid")
    run = _run(srv, SCENARIOS["stream_open_retry"], "sync")
    assert (run["sleeps"], len(run["sent"])) == ([1.0], 2)


@pytest.mark.parametrize(
    ("sync_name", "async_name"),
    [
        ("generate_text", "agenerate_text"),
        ("stream_text", "astream_text"),
        ("embed", "aembed"),
        ("generate_object", "agenerate_object"),
        ("stream_object", "astream_object"),
        ("close", "aclose"),
    ],
)
def test_async_twins_have_the_same_signature(sync_name: str, async_name: str) -> None:
    sync_fn, async_fn = getattr(syc, sync_name), getattr(syc, async_name)
    assert inspect.signature(sync_fn).parameters == inspect.signature(async_fn).parameters
    streaming = sync_name.startswith("stream")
    # stream twins return an async iterator at once (bad input raises before anything is awaited)
    assert inspect.iscoroutinefunction(async_fn) is not streaming


def test_stream_objects_offer_the_same_surface() -> None:
    sync_api = {"response", "close", "__iter__", "__next__", "__enter__", "__exit__"}
    async_api = {"response", "aclose", "__aiter__", "__anext__", "__aenter__", "__aexit__"}
    assert sync_api <= set(dir(syc.TextStream))
    assert async_api <= set(dir(syc.AsyncTextStream))
    assert inspect.iscoroutinefunction(syc.AsyncTextStream.response)
    assert inspect.iscoroutinefunction(syc.AsyncTextStream.aclose)
