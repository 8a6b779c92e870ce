"""Streaming over real HTTP when the bytes arrive badly, or not at all (DESIGN.md: Streaming events).

Every way a stream can end becomes exactly one terminal event: ``done``, or ``error`` keeping the
partial content (a dropped connection, a body that ends without ``[DONE]``, a frame that is not
JSON). Closing a stream releases its connection and leaves an ``aborted`` response. Each scenario
runs through ``stream_text`` and ``astream_text``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _transport
from sycophant_py.testing import Reply, ScriptedServer, sse_body

MODES = ["sync", "async"]
SSE = {"content-type": "text/event-stream"}
BROKEN = {"content-type": "text/event-stream", "content-length": "1000000"}  # the body never gets there


def delta(content: str | None = None, *, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = dict(extra)
    if content is not None:
        d["content"] = content
    return {"id": "chatcmpl-s", "model": "served", "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


def usage_chunk(prompt: int = 7, completion: int = 3) -> dict[str, Any]:
    return {"id": "chatcmpl-s", "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def text_stream(*pieces: str) -> list[dict[str, Any]]:
    return [delta(role="assistant"), *(delta(p) for p in pieces), delta(finish="stop"), usage_chunk()]


def frames(events: list[Any], *, done: bool = True) -> list[bytes]:
    """One SSE event per chunk (the server flushes between chunks)."""
    out = [sse_body([e], done=False) for e in events]
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def collect(mode: str, **kw: Any) -> tuple[list[syc.StreamEvent], syc.Response]:
    """All events of a stream, and what ``response()`` says afterwards."""
    if mode == "sync":
        s = syc.stream_text("fake:m", "hi", **kw)
        events = list(s)
        return events, s.response()

    async def run() -> tuple[list[syc.StreamEvent], syc.Response]:
        s = syc.astream_text("fake:m", "hi", **kw)
        events = [ev async for ev in s]
        return events, await s.response()

    return asyncio.run(run())


def signature(events: list[syc.StreamEvent]) -> list[tuple[str, int, str]]:
    return [(e.type, e.content_index, e.delta) for e in events]


_KIND = {"text": "text", "thinking": "thinking", "toolcall": "toolcall"}


def assert_well_formed(events: list[syc.StreamEvent]) -> None:
    """``start`` first; per content index ``*_start`` then ``*_delta``s then ``*_end``; one terminal, last."""
    types = [e.type for e in events]
    assert types[0] in ("start", "error"), types
    assert types.count("start") <= 1
    terminals = [t for t in types if t in ("done", "error")]
    assert len(terminals) == 1, types
    assert types[-1] in ("done", "error"), types
    state: dict[int, tuple[str, str]] = {}  # index -> (kind, phase)
    for e in events[:-1]:
        if e.type == "start":
            continue
        kind, _, phase = e.type.rpartition("_")
        assert kind in _KIND, e.type
        idx = e.content_index
        assert idx >= 0
        if phase == "start":
            assert idx not in state, f"block {idx} started twice"
            state[idx] = (kind, "open")
            continue
        assert idx in state, f"{e.type} before {kind}_start for block {idx}"
        assert state[idx] == (kind, "open"), f"{e.type} on block {idx} in state {state[idx]}"
        if phase == "end":
            state[idx] = (kind, "ended")
        else:
            assert phase == "delta"
    assert all(phase == "ended" for _, phase in state.values()), state
    assert sorted(state) == list(range(len(state)))  # indexes are dense, in order of appearance


# -- byte-level splitting --------------------------------------------------------------------------


def _awkward_body() -> bytes:
    """CRLF line endings, comments, a multi-line data field and multi-byte UTF-8."""
    first = json.dumps(delta(role="assistant"))
    hello = json.dumps(delta("h\u00e9llo w\u00f6rld "), ensure_ascii=False)
    globe = json.dumps(delta("\U0001f30d \u65e5\u672c\u8a9e "), ensure_ascii=False)
    # one JSON document over two data lines (joined with "\n", which JSON allows between tokens)
    split_doc = '{"id": "chatcmpl-s",\r\ndata: "choices": [{"index": 0, "delta": {"content": "\u00bfqu\u00e9?"}}]}'
    parts = [
        ": keep-alive\r\n\r\n",
        f"data: {first}\r\n\r\n",
        f": comment between events\r\ndata: {hello}\r\n\r\n",
        f"event: message\r\nid: 3\r\ndata: {globe}\r\n\r\n",
        f"data: {split_doc}\r\n\r\n",
        f"data: {json.dumps(delta(finish='stop'))}\r\n\r\n",
        f"data: {json.dumps(usage_chunk(11, 6))}\r\n\r\n",
        "data: [DONE]\r\n\r\n",
    ]
    return "".join(parts).encode("utf-8")


EXPECTED_TEXT = "h\u00e9llo w\u00f6rld \U0001f30d \u65e5\u672c\u8a9e \u00bfqu\u00e9?"


@pytest.mark.parametrize("mode", MODES)
def test_byte_split_streams_give_the_same_events(srv: ScriptedServer, mode: str) -> None:
    body = _awkward_body()
    srv.add(Reply(200, SSE, [body]))
    baseline, resp = collect(mode)
    assert resp.text == EXPECTED_TEXT
    assert resp.finish_reason == "stop"
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (11, 6)
    assert_well_formed(baseline)
    assert [e.delta for e in baseline if e.type == "text_delta"] == [
        "h\u00e9llo w\u00f6rld ",
        "\U0001f30d \u65e5\u672c\u8a9e ",
        "\u00bfqu\u00e9?",
    ]
    for size in range(1, 8):
        srv.replies.clear()
        srv.add(Reply(200, SSE, [body[i : i + size] for i in range(0, len(body), size)]))
        events, split_resp = collect(mode)
        assert signature(events) == signature(baseline), f"chunk size {size}"
        assert split_resp.text == EXPECTED_TEXT
        assert split_resp.usage.total_tokens == 17


@pytest.mark.parametrize("mode", MODES)
def test_event_sequence_is_well_formed_with_thinking_and_tools(srv: ScriptedServer, mode: str) -> None:
    events_in = [
        delta(role="assistant"),
        delta(reasoning_content="Think"),
        delta(reasoning_content="ing..."),
        delta("Let me "),
        delta("look."),
        delta(
            tool_calls=[
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ]
        ),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]),
        delta(finish="tool_calls"),
        usage_chunk(),
    ]
    srv.add(Reply(200, SSE, frames(events_in)))
    events, resp = collect(mode)
    assert_well_formed(events)
    assert [e.type for e in events] == [
        "start",
        "thinking_start",
        "thinking_delta",
        "thinking_delta",
        "thinking_end",
        "text_start",
        "text_delta",
        "text_delta",
        "toolcall_start",
        "toolcall_delta",
        "toolcall_delta",
        "text_end",
        "toolcall_end",
        "done",
    ]
    assert events[-1].reason == "tool_use"
    assert resp.reasoning == "Thinking..."
    assert resp.text == "Let me look."
    assert resp.tool_calls[0].arguments == {"city": "Paris"}


# -- faults after the stream started ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_dropped_connection_is_an_error_event_keeping_the_partial(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply(200, BROKEN, frames(text_stream("Hello", ", wor", "ld")), drop_after=3))
    events, resp = collect(mode)
    assert_well_formed(events)
    last = events[-1]
    assert last.type == "error"
    assert last.reason == "error"
    assert isinstance(last.error, syc.ProviderConnectionError)
    assert last.response is not None
    assert last.response.text == "Hello, wor"
    assert last.response.error is last.error
    assert last.response.finish_reason == "error"
    assert resp is last.response or (resp.text, resp.finish_reason) == ("Hello, wor", "error")
    assert isinstance(resp.error, syc.ProviderConnectionError)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_clean_close_without_done_marker_is_response_invalid(srv: ScriptedServer, mode: str) -> None:
    srv.add(
        Reply(
            200,
            SSE,
            frames([delta(role="assistant"), delta("partial "), delta("text"), usage_chunk(4, 2)], done=False),
            drop_after=4,
        )
    )
    events, resp = collect(mode)
    assert_well_formed(events)
    last = events[-1]
    assert last.type == "error"
    assert isinstance(last.error, syc.ResponseInvalid)
    assert resp.text == "partial text"
    assert resp.finish_reason == "error"
    assert resp.usage.output_tokens == 2  # usage seen before the failure is kept
    assert isinstance(resp.error, syc.ResponseInvalid)


@pytest.mark.parametrize("mode", MODES)
def test_invalid_json_frame_is_response_invalid(srv: ScriptedServer, mode: str) -> None:
    good = frames([delta(role="assistant"), delta("good ")], done=False)
    body = [*good, b"data: {not json\n\n", *frames([delta("never seen")])]
    srv.add(Reply(200, SSE, body))
    events, resp = collect(mode)
    assert_well_formed(events)
    last = events[-1]
    assert last.type == "error"
    assert isinstance(last.error, syc.ResponseInvalid)
    assert last.response is not None
    assert last.response.text == "good "
    assert resp.finish_reason == "error"
    assert resp.text == "good "
    assert "never seen" not in [e.delta for e in events]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "frame", [b"data: 42\n\n", b"data: [1, 2]\n\n", b'data: "text"\n\n', b'data: {"choices": "nope"}\n\n']
)
def test_frame_that_is_not_a_chunk_object_is_response_invalid(srv: ScriptedServer, mode: str, frame: bytes) -> None:
    srv.add(Reply(200, SSE, [*frames([delta(role="assistant"), delta("kept")], done=False), frame]))
    events, resp = collect(mode)
    assert_well_formed(events)
    assert isinstance(events[-1].error, syc.ResponseInvalid)
    assert resp.text == "kept"
    assert resp.finish_reason == "error"


@pytest.mark.parametrize("mode", MODES)
def test_error_event_inside_the_stream(srv: ScriptedServer, mode: str) -> None:
    body = frames([delta(role="assistant"), delta("so far ")], done=False) + frames(
        [{"error": {"message": "model crashed", "type": "server_error"}}], done=False
    )
    srv.add(Reply(200, SSE, body))
    events, resp = collect(mode)
    assert_well_formed(events)
    assert isinstance(events[-1].error, syc.StreamError)
    assert "model crashed" in str(events[-1].error)
    assert resp.text == "so far "
    assert resp.finish_reason == "error"


@pytest.mark.parametrize("mode", MODES)
def test_total_timeout_ends_a_trickling_stream(srv: ScriptedServer, mode: str) -> None:
    # every chunk arrives well within the idle timeout, but the whole call may only take 0.6 s
    srv.add(Reply(200, SSE, frames(text_stream(*(f"{i} " for i in range(40)))), delay=0.1))
    started = time.monotonic()
    events, resp = collect(mode, timeout=0.6)
    assert time.monotonic() - started < 3.0
    assert_well_formed(events)
    assert isinstance(events[-1].error, syc.Timeout)
    assert resp.finish_reason == "error"
    assert resp.text.startswith("0 1 ")
    assert len(srv.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_failure_before_the_first_byte_is_raised(srv: ScriptedServer, mode: str) -> None:
    syc.configure(retry=syc.RetryPolicy(max_retries=0))
    srv.add(Reply.reset())
    with pytest.raises(syc.ProviderConnectionError):
        collect(mode)


# -- the live partial ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_partial_is_one_live_object(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply(200, SSE, frames(text_stream("a", "bc", "def"))))
    seen: list[str] = []
    if mode == "sync":
        events = []
        for ev in syc.stream_text("fake:m", "hi"):
            events.append(ev)
            seen.append(ev.partial.text)
    else:

        async def run() -> list[syc.StreamEvent]:
            out = []
            async for ev in syc.astream_text("fake:m", "hi"):
                out.append(ev)
                seen.append(ev.partial.text)
            return out

        events = asyncio.run(run())
    partial = events[0].partial
    assert all(ev.partial is partial for ev in events)
    deltas = [(ev.delta, text) for ev, text in zip(events, seen, strict=True) if ev.type == "text_delta"]
    assert [text for _, text in deltas] == ["a", "abc", "abcdef"]
    assert all(a.startswith(b) for a, b in zip(seen[1:], seen, strict=False))
    assert partial.text == "abcdef"
    assert partial.usage.output_tokens == 3


@pytest.mark.parametrize("mode", MODES)
def test_tool_call_deltas_merge_by_index(srv: ScriptedServer, mode: str) -> None:
    def tc(index: int, args: str, **head: Any) -> dict[str, Any]:
        fn: dict[str, Any] = {"arguments": args}
        if "name" in head:
            fn["name"] = head.pop("name")
        return delta(tool_calls=[{"index": index, **head, "function": fn}])

    events_in = [
        delta(role="assistant"),
        tc(0, "", id="call_a", type="function", name="get_weather"),
        tc(0, '{"ci'),
        tc(1, "", id="call_b", type="function", name="get_time"),
        tc(0, 'ty": "Par'),
        tc(1, '{"tz": "UTC"}'),
        tc(0, 'is", "days": [1, 2]}'),
        delta(finish="tool_calls"),
        usage_chunk(),
    ]
    srv.add(Reply(200, SSE, frames(events_in)))
    mid: list[dict[str, Any]] = []
    ends: list[syc.ToolCall] = []

    def watch(ev: syc.StreamEvent) -> None:
        if ev.type == "toolcall_delta" and ev.content_index == 0:
            mid.append(dict(ev.partial.tool_calls[0].arguments))
        if ev.type == "toolcall_end":
            assert ev.tool_call is not None
            ends.append(ev.tool_call)

    if mode == "sync":
        s = syc.stream_text("fake:m", "hi")
        for ev in s:
            watch(ev)
        resp = s.response()
    else:

        async def run() -> syc.Response:
            s = syc.astream_text("fake:m", "hi")
            async for ev in s:
                watch(ev)
            return await s.response()

        resp = asyncio.run(run())
    assert mid == [{}, {"city": "Par"}, {"city": "Paris", "days": [1, 2]}]
    assert [(c.id, c.name, dict(c.arguments)) for c in ends] == [
        ("call_a", "get_weather", {"city": "Paris", "days": [1, 2]}),
        ("call_b", "get_time", {"tz": "UTC"}),
    ]
    assert resp.finish_reason == "tool_use"
    assert [c.id for c in resp.tool_calls] == ["call_a", "call_b"]
    assert resp.tool_calls[0].arguments_json == '{"city": "Paris", "days": [1, 2]}'


# -- closing mid-way -----------------------------------------------------------------------------------


def _active() -> int:
    return _transport.pool_stats()["active"]


def _slow_stream() -> Reply:
    # the first chunk holds the first two events; the rest trickles in
    events = frames(text_stream("Hel", "lo", " there", " and", " more"))
    return Reply(200, SSE, [events[0] + events[1], *events[2:]], delay=0.3)


def test_close_midway_releases_the_connection_and_aborts(srv: ScriptedServer) -> None:
    srv.add(_slow_stream())
    s = syc.stream_text("fake:m", "hi")
    assert next(s).type == "start"
    assert next(s).type == "text_start"
    s.close()
    assert _active() == 0
    with pytest.raises(StopIteration):
        next(s)
    resp = s.response()
    assert resp.finish_reason == "aborted"
    assert resp.text == "Hel"
    assert isinstance(resp.error, syc.StreamAborted)
    s.close()  # idempotent
    assert s.response() is resp
    # the pool still works
    srv.replies.clear()
    srv.add(Reply(200, SSE, frames(text_stream("ok"))))
    assert syc.stream_text("fake:m", "again").response().text == "ok"


def test_aclose_midway_releases_the_connection_and_aborts(srv: ScriptedServer) -> None:
    srv.add(_slow_stream())

    async def run() -> syc.Response:
        s = syc.astream_text("fake:m", "hi")
        assert (await s.__anext__()).type == "start"
        assert (await s.__anext__()).type == "text_start"
        await s.aclose()
        assert _active() == 0
        with pytest.raises(StopAsyncIteration):
            await s.__anext__()
        resp = await s.response()
        await s.aclose()
        assert await s.response() is resp
        return resp

    resp = asyncio.run(run())
    assert resp.finish_reason == "aborted"
    assert resp.text == "Hel"
    assert isinstance(resp.error, syc.StreamAborted)


def test_context_manager_closes_the_stream(srv: ScriptedServer) -> None:
    srv.add(_slow_stream())
    with syc.stream_text("fake:m", "hi") as s:
        for ev in s:
            if ev.type == "text_delta":
                break
    assert s.response().finish_reason == "aborted"
    assert _active() == 0

    async def run() -> syc.Response:
        async with syc.astream_text("fake:m", "hi") as a:
            async for ev in a:
                if ev.type == "text_delta":
                    break
        return await a.response()

    srv.replies.clear()
    srv.add(_slow_stream())
    assert asyncio.run(run()).finish_reason == "aborted"


@pytest.mark.parametrize("mode", MODES)
def test_close_before_iterating_sends_nothing(srv: ScriptedServer, mode: str) -> None:
    if mode == "sync":
        s = syc.stream_text("fake:m", "hi")
        s.close()
        assert list(s) == []
        resp = s.response()
    else:

        async def run() -> syc.Response:
            a = syc.astream_text("fake:m", "hi")
            await a.aclose()
            assert [ev async for ev in a] == []
            return await a.response()

        resp = asyncio.run(run())
    assert resp.finish_reason == "aborted"
    assert resp.text == ""
    assert srv.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_close_after_the_end_keeps_the_final_response(srv: ScriptedServer, mode: str) -> None:
    srv.add(Reply(200, SSE, frames(text_stream("complete"))))
    if mode == "sync":
        s = syc.stream_text("fake:m", "hi")
        list(s)
        s.close()
        resp = s.response()
    else:

        async def run() -> syc.Response:
            a = syc.astream_text("fake:m", "hi")
            _ = [ev async for ev in a]
            await a.aclose()
            return await a.response()

        resp = asyncio.run(run())
    assert resp.finish_reason == "stop"
    assert resp.text == "complete"
    assert resp.error is None
