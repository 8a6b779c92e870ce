"""Retry policy and error mapping against a scripted server on 127.0.0.1 (DESIGN.md: Transport rules).

Every test installs a :class:`FakeClock`, so retries never really sleep: the waits are asserted from
``clock.sleeps``. Each scenario runs through the sync and the async entry point.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py.testing import FakeClock, Reply, ScriptedServer, sse_body

MODES = ["sync", "async"]
ERR = {"error": {"message": "boom", "type": "server_error"}}


def chat(text: str = "ok") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


def chunks(*pieces: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    out += [{"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    out.append({"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out.append({"id": "chatcmpl-s", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    return out


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    with FakeClock() as c:
        yield c


def generate(mode: str, model: str = "fake:m", messages: Any = "hi", **kw: Any) -> syc.Response:
    if mode == "sync":
        return syc.generate_text(model, messages, **kw)
    return asyncio.run(syc.agenerate_text(model, messages, **kw))


def stream_events(mode: str, model: str = "fake:m", messages: Any = "hi", **kw: Any) -> list[syc.StreamEvent]:
    if mode == "sync":
        return list(syc.stream_text(model, messages, **kw))

    async def run() -> list[syc.StreamEvent]:
        return [ev async for ev in syc.astream_text(model, messages, **kw)]

    return asyncio.run(run())


# -- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_429_retry_after_seconds_then_success(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 429, {"retry-after": "3"}), Reply.json(chat("done")))
    resp = generate(mode)
    assert resp.text == "done"
    assert len(srv.requests) == 2
    assert clock.sleeps == [3.0]
    assert srv.requests[0].json == srv.requests[1].json  # the same request, sent again


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_ms_wins(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 429, {"retry-after-ms": "1500", "retry-after": "9"}), Reply.json(chat()))
    generate(mode)
    assert clock.sleeps == [1.5]


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_http_date(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    srv.add(Reply.json(ERR, 429, {"retry-after": when}), Reply.json(chat()))
    generate(mode)
    assert len(clock.sleeps) == 1
    assert 27.0 <= clock.sleeps[0] <= 30.0


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_above_cap_is_capped(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 429, {"retry-after": "3600"}), Reply.json(chat()))
    generate(mode)
    assert clock.sleeps == [60.0]
    assert len(srv.requests) == 2


@pytest.mark.parametrize("mode", MODES)
def test_rate_limited_exhausted_carries_retry_after(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 429, {"retry-after": "2", "x-request-id": "req-429"}))
    with pytest.raises(syc.RateLimited) as info:
        generate(mode)
    assert info.value.retry_after == 2.0
    assert info.value.status_code == 429
    assert info.value.request_id == "req-429"
    assert len(srv.requests) == 3
    assert clock.sleeps == [2.0, 2.0]


# -- 5xx, connection errors --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_500_then_success_backs_off(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 500), Reply.json(chat("recovered")))
    assert generate(mode).text == "recovered"
    assert len(srv.requests) == 2
    assert len(clock.sleeps) == 1
    assert 0.0 < clock.sleeps[0] <= 0.5  # initial backoff 0.5 s with jitter


@pytest.mark.parametrize("mode", MODES)
def test_503_three_times_gives_server_error_after_three_attempts(
    srv: ScriptedServer, clock: FakeClock, mode: str
) -> None:
    srv.add(Reply.json(ERR, 503, {"x-request-id": "req-503"}))
    with pytest.raises(syc.ServerError) as info:
        generate(mode)
    assert len(srv.requests) == 3
    assert len(clock.sleeps) == 2
    assert clock.sleeps[0] < clock.sleeps[1] <= 1.0  # exponential
    exc = info.value
    assert (exc.status_code, exc.provider, exc.model, exc.request_id) == (503, "fake", "m", "req-503")
    assert exc.body == ERR


@pytest.mark.parametrize("mode", MODES)
def test_connection_reset_then_success(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.reset(), Reply.json(chat("after reset")))
    assert generate(mode).text == "after reset"
    assert len(srv.requests) == 2
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("mode", MODES)
def test_connection_reset_every_time_is_connection_error(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.reset())
    with pytest.raises(syc.ProviderConnectionError) as info:
        generate(mode)
    assert len(srv.requests) == 3
    assert info.value.provider is None or info.value.provider == "fake"
    assert info.value.__cause__ is not None  # chained from the transport error


# -- 4xx: mapped, never retried ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, syc.BadRequest),
        (401, syc.AuthenticationFailed),
        (403, syc.AuthenticationFailed),
        (404, syc.NotFound),
        (422, syc.BadRequest),
    ],
)
def test_client_errors_are_mapped_and_never_retried(
    srv: ScriptedServer, clock: FakeClock, mode: str, status: int, cls: type[syc.ProviderError]
) -> None:
    body = {"error": {"message": f"nope {status}", "type": "invalid_request_error", "code": None}}
    srv.add(Reply.json(body, status, {"x-request-id": f"req-{status}", "x-should-retry": "true"}), Reply.json(chat()))
    with pytest.raises(cls) as info:
        generate(mode)
    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, syc.ProviderError)
    assert (exc.status_code, exc.provider, exc.model, exc.request_id) == (status, "fake", "m", f"req-{status}")
    assert exc.body == body
    assert f"nope {status}" in str(exc)
    assert len(srv.requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("mode", MODES)
def test_invalid_success_body_is_response_invalid_and_not_retried(
    srv: ScriptedServer, clock: FakeClock, mode: str
) -> None:
    srv.add(Reply.raw(b"<html>not json</html>", 200, "text/html", {"x-request-id": "req-html"}), Reply.json(chat()))
    with pytest.raises(syc.ResponseInvalid) as info:
        generate(mode)
    assert info.value.request_id == "req-html"
    assert len(srv.requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("mode", MODES)
def test_non_json_error_body_is_kept_as_text(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.raw(b"<html>bad gateway</html>", 400, "text/html"))
    with pytest.raises(syc.BadRequest) as info:
        generate(mode)
    assert info.value.body == "<html>bad gateway</html>"


# -- overloaded, 408, 409, x-should-retry ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        (503, {"error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ],
)
def test_overloaded_is_retried(srv: ScriptedServer, clock: FakeClock, mode: str, status: int, body: Any) -> None:
    srv.add(Reply.json(body, status), Reply.json(chat("fine")))
    assert generate(mode).text == "fine"
    assert len(srv.requests) == 2
    srv.requests.clear()
    srv.replies.clear()
    srv.add(Reply.json(body, status))
    with pytest.raises(syc.Overloaded) as info:
        generate(mode)
    assert info.value.status_code == status
    assert info.value.error_type == "overloaded_error"  # the decoded type travels on every provider error
    assert len(srv.requests) == 3


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [408, 409])
def test_408_and_409_are_retried(srv: ScriptedServer, clock: FakeClock, mode: str, status: int) -> None:
    srv.add(Reply.json(ERR, status), Reply.json(chat("again")))
    assert generate(mode).text == "again"
    assert len(srv.requests) == 2
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("mode", MODES)
def test_x_should_retry_false_stops_retries(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 500, {"x-should-retry": "false"}), Reply.json(chat()))
    with pytest.raises(syc.ServerError):
        generate(mode)
    assert len(srv.requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("mode", MODES)
def test_retry_policy_is_configurable(srv: ScriptedServer, mode: str) -> None:
    with FakeClock() as clock:
        syc.configure(
            retry=syc.RetryPolicy(max_retries=0, sleep=clock.sleep, async_sleep=clock.async_sleep, clock=clock)
        )
        srv.add(Reply.json(ERR, 500), Reply.json(chat()))
        with pytest.raises(syc.ServerError):
            generate(mode)
    assert len(srv.requests) == 1
    assert clock.sleeps == []


# -- streams -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stream_open_429_is_retried_before_any_event(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 429, {"retry-after": "2"}), Reply.sse(chunks("Hel", "lo")))
    events = stream_events(mode)
    assert len(srv.requests) == 2
    assert clock.sleeps == [2.0]
    assert events[0].type == "start"
    assert events[-1].type == "done"
    assert events[-1].response is not None
    assert events[-1].response.text == "Hello"


@pytest.mark.parametrize("mode", MODES)
def test_stream_open_error_exhausted_is_raised(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 503))
    with pytest.raises(syc.ServerError):
        stream_events(mode)
    assert len(srv.requests) == 3


@pytest.mark.parametrize("mode", MODES)
def test_stream_open_401_is_raised_not_retried(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json({"error": {"message": "bad key"}}, 401))
    with pytest.raises(syc.AuthenticationFailed):
        stream_events(mode)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_stream_dropped_after_events_is_not_retried(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    # one SSE event per chunk, and a content-length the body never reaches: a broken connection
    parts = [sse_body([c], done=False) for c in chunks("one ", "two ", "three")]
    reply = Reply(200, {"content-type": "text/event-stream", "content-length": "100000"}, parts, drop_after=3)
    srv.add(reply, Reply.sse(chunks("never sent")))
    events = stream_events(mode)
    assert len(srv.requests) == 1
    assert clock.sleeps == []
    last = events[-1]
    assert last.type == "error"
    assert [e.type for e in events].count("error") == 1
    assert isinstance(last.error, syc.ProviderConnectionError)
    assert last.response is not None
    assert last.response.text == "one two "
    assert last.response.finish_reason == "error"


# -- logging, total timeout ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_request_retrying_log_event(
    srv: ScriptedServer, clock: FakeClock, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sycophant_py")
    srv.add(Reply.json(ERR, 500), Reply.json(ERR, 429, {"retry-after": "1"}), Reply.json(chat()))
    generate(mode)
    records = [r for r in caplog.records if r.getMessage() == "request.retrying"]
    assert [getattr(r, "attempt", None) for r in records] == [1, 2]
    assert [getattr(r, "status", None) for r in records] == [500, 429]
    assert records[1].__dict__["wait"] == 1.0
    assert all(r.__dict__["provider"] == "fake" and r.__dict__["model"] == "m" for r in records)
    assert all(r.levelno == logging.INFO and r.name == "sycophant_py" for r in records)


@pytest.mark.parametrize("mode", MODES)
def test_total_timeout_bounds_the_call(srv: ScriptedServer, mode: str) -> None:
    # The body's second half comes 5 s after the first: only the call's total timeout can end it.
    slow = Reply(200, {"content-type": "application/json"}, [b'{"choices": [', b"]}"], delay=5.0)
    srv.add(slow)
    started = time.monotonic()
    with pytest.raises(syc.Timeout):
        generate(mode, timeout=0.5)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert len(srv.requests) == 1  # no time is left for another attempt


@pytest.mark.parametrize("mode", MODES)
def test_total_timeout_counts_retry_waits(srv: ScriptedServer, clock: FakeClock, mode: str) -> None:
    srv.add(Reply.json(ERR, 429, {"retry-after": "3"}), Reply.json(ERR, 429, {"retry-after": "3"}), Reply.json(chat()))
    with pytest.raises(syc.RateLimited):
        generate(mode, timeout=5.0)
    assert clock.sleeps == [3.0]  # a second 3 s wait would pass the deadline
    assert len(srv.requests) == 2


def test_invalid_timeout_is_rejected_before_sending(srv: ScriptedServer) -> None:
    with pytest.raises(syc.InvalidError):
        syc.generate_text("fake:m", "hi", timeout=0)
    assert srv.requests == []
