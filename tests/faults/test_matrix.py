"""The fault matrix: every fault a provider (or the network to it) can throw, per protocol, per API.

Each test is one fault x one protocol x streamed or not x sync or async, against a raw-socket
:class:`~tests.faults.server.FaultServer` with provider ``contract`` registered on it (with
credentials, so auth headers travel). Only meaningful combinations are generated: event-stream
faults for ``bedrock_converse``, SSE faults for the SSE protocols.

The contract (DESIGN.md, "Lifecycle, limits and errors"):

- non-streaming: a deadline (``timeout=``) bounds a hang or a trickle however slowly bytes come,
  and is not followed by a retry; a dropped connection is retried; a body past ``max_body_bytes``
  (a gzip bomb too) is ``ResponseTooLarge`` without inflating it; a wrong-shape 200 is
  ``ResponseInvalid`` naming what the provider said; redirects to another origin never carry the
  library's credentials.
- streaming: a failure before the first event is raised; after it, exactly one terminal ``error``
  event of the right class keeps the text delivered so far; a stream is never retried once it began.
- always: whatever the client gave up on, the server sees it hang up within a second, and no
  connection is left active in the library's pools.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from typing_extensions import override

import sycophant_py as syc
from tests.faults import plans
from tests.faults.harness import CallSpec, Observed, credential_leaks, observe, register, text_of
from tests.faults.server import LAST_CHUNK, FaultServer, Hang, Plan, Script, Send, Trickle

pytestmark = pytest.mark.timeout(40)

TIMEOUT = 0.8
"""``timeout=`` of the timing faults."""
SLACK = 0.5
"""How much later than ``timeout=`` a timed-out call may end."""
RSS_GROWTH_MAX_KB = 64 << 10
RETRY = syc.RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.02)
LIMITS = {"max_body_bytes": 1 << 20, "max_event_bytes": 64 << 10}
ALL = frozenset(plans.PROTOCOLS)
SSE = frozenset(p for p in plans.PROTOCOLS if plans.FAMILY[p] == "sse")
EVENT_STREAM = frozenset(p for p in plans.PROTOCOLS if plans.FAMILY[p] == "event_stream")


@dataclass(frozen=True)
class Expect:
    """What the call must do."""

    outcome: str
    """``ok`` (the valid answer), ``raise`` (an exception, no event) or ``error_event`` (a terminal one)."""
    exc: type[BaseException] | None = None
    requests: int = 1
    """Requests server A must see."""
    timed: bool = False
    """Call with ``timeout=TIMEOUT`` and require the call to end by ``TIMEOUT + SLACK``."""
    client_closes: bool = False
    """The server must see the client hang up every connection it used."""
    prefix: bool = False
    """The error event's response keeps ``PREFIX_TEXT``."""
    message: str | None = None
    """Text ``str(error)`` must contain."""
    memory: bool = False
    """Peak RSS may grow by less than ``RSS_GROWTH_MAX_KB`` during the call."""
    redirect: str | None = None
    """``cross``, ``cross_user_client`` or ``same``."""


@dataclass(frozen=True)
class Fault:
    """One fault: what server A plays (given B's URL), for which protocols and APIs, and the contract."""

    name: str
    stream: bool
    protocols: frozenset[str]
    build: Callable[[str, FaultServer, FaultServer], list[Script]]
    expect: Expect


@dataclass(frozen=True)
class Case:
    """One generated test."""

    fault: Fault
    protocol: str

    @override
    def __str__(self) -> str:
        return f"{'stream' if self.fault.stream else 'call'}-{self.protocol}-{self.fault.name}"


def _one(fn: Callable[[str], Plan]) -> Callable[[str, FaultServer, FaultServer], list[Script]]:
    return lambda p, a, b: [fn(p)]


def _ok(stream: bool) -> Callable[[str], Plan]:
    return plans.stream_plan if stream else plans.text_plan


def _status_then_ok(status: int, stream: bool) -> Callable[[str, FaultServer, FaultServer], list[Script]]:
    return lambda p, a, b: [plans.status_plan(p, status), _ok(stream)(p)]


def _redirect(kind: str, stream: bool) -> Callable[[str, FaultServer, FaultServer], list[Script]]:
    def build(p: str, a: FaultServer, b: FaultServer) -> list[Script]:
        if kind == "same":
            return [plans.redirect_to(a.url), _ok(stream)(p)]
        b.add(_ok(stream)(p))
        return [plans.redirect_to(b.url)]

    return build


def _redirect_faults(stream: bool) -> list[Fault]:
    return [
        Fault("redirect_cross_origin", stream, ALL, _redirect("cross", stream), Expect("ok", redirect="cross")),
        Fault(
            "redirect_cross_origin_user_client",
            stream,
            ALL,
            _redirect("cross", stream),
            Expect("ok", redirect="cross_user_client"),
        ),
        Fault(
            "redirect_same_origin", stream, ALL, _redirect("same", stream), Expect("ok", requests=2, redirect="same")
        ),
    ]


def _common_status_faults(stream: bool) -> list[Fault]:
    return [
        Fault("status_429_then_ok", stream, ALL, _status_then_ok(429, stream), Expect("ok", requests=2)),
        Fault("status_503_then_ok", stream, ALL, _status_then_ok(503, stream), Expect("ok", requests=2)),
        Fault(
            "status_429_forever",
            stream,
            ALL,
            _one(lambda p: plans.status_plan(p, 429)),
            Expect("raise", syc.RateLimited, requests=3, message="scripted 429"),
        ),
    ]


def _call_faults() -> list[Fault]:
    def trickle_head(p: str) -> Plan:
        h, body = plans.text_head_and_body(p)
        return plans.trickled_head_plan(h, body)

    def trickle_body(p: str) -> Plan:
        h, body = plans.text_head_and_body(p)
        return [Send(h), Trickle(body, plans.INTERVAL, plans.BUDGET)]

    timeout = Expect("raise", syc.Timeout, timed=True, client_closes=True)
    dropped = Expect("raise", syc.ProviderConnectionError, requests=3)
    too_large = Expect("raise", syc.ResponseTooLarge, client_closes=True, memory=True)
    return [
        Fault("hang_before_headers", False, ALL, _one(lambda p: [Hang(plans.HANG)]), timeout),
        Fault("trickle_headers", False, ALL, _one(trickle_head), timeout),
        Fault("trickle_body", False, ALL, _one(trickle_body), timeout),
        Fault("headers_then_close", False, ALL, _one(lambda p: plans.headers_then_close(p, False)), dropped),
        Fault("reset_mid_body", False, ALL, _one(lambda p: plans.reset_plan(p, False)), dropped),
        Fault("gzip_bomb", False, ALL, _one(plans.bomb_plan), too_large),
        Fault("huge_body", False, ALL, _one(plans.huge_body_plan), too_large),
        *_common_status_faults(False),
        Fault(
            "json_200_detail",
            False,
            ALL,
            _one(lambda p: plans.json_plan(200, {"detail": "boom"})),
            Expect("raise", syc.ResponseInvalid, message="boom"),
        ),
        Fault(
            "json_200_list",
            False,
            ALL,
            _one(lambda p: plans.json_plan(200, [{"detail": "boom"}])),
            Expect("raise", syc.ResponseInvalid),
        ),
        *_redirect_faults(False),
    ]


def _json_error_200(p: str) -> Plan:
    reply = plans.dialect(p).error(400, "boom-in-stream")
    body = plans.body_of(reply)
    return [
        Send(plans.json_head(200, len(body), {k: v for k, v in reply.headers.items() if k != "content-type"}) + body)
    ]


def _stream_faults() -> list[Fault]:
    def trickle_head(p: str) -> Plan:
        return plans.trickled_head_plan(plans.stream_head(p), plans.chunks(plans.stream_events(p)) + LAST_CHUNK)

    def trickle_body(p: str) -> Plan:
        rest = plans.chunks(plans.rest_events(p)) + LAST_CHUNK
        return plans.stream_after_prefix(p, [Trickle(rest, plans.INTERVAL, plans.BUDGET)])

    raised_timeout = Expect("raise", syc.Timeout, timed=True, client_closes=True)
    timed_out = Expect("error_event", syc.Timeout, timed=True, client_closes=True, prefix=True)
    invalid_open = Expect("error_event", syc.ResponseInvalid, client_closes=True, prefix=True)
    invalid_ended = Expect("error_event", syc.ResponseInvalid, prefix=True)
    too_large = Expect("error_event", syc.ResponseTooLarge, client_closes=True, prefix=True, memory=True)
    return [
        Fault("hang_before_headers", True, ALL, _one(lambda p: [Hang(plans.HANG)]), raised_timeout),
        Fault("trickle_headers", True, ALL, _one(trickle_head), raised_timeout),
        Fault(
            "hang_mid_stream", True, ALL, _one(lambda p: plans.stream_after_prefix(p, [Hang(plans.HANG)])), timed_out
        ),
        Fault("trickle_body", True, ALL, _one(trickle_body), timed_out),
        Fault(
            "headers_then_close",
            True,
            ALL,
            _one(lambda p: plans.headers_then_close(p, True)),
            Expect("error_event", syc.ResponseInvalid),
        ),
        Fault(
            "reset_mid_stream",
            True,
            ALL,
            _one(lambda p: plans.reset_plan(p, True)),
            Expect("error_event", syc.ProviderConnectionError, prefix=True),
        ),
        Fault("garbage", True, ALL, _one(lambda p: plans.bad_bytes_then_end(p, plans.garbage(p))), invalid_ended),
        Fault(
            "invalid_json", True, ALL, _one(lambda p: plans.bad_bytes_then_hang(p, plans.invalid_json(p))), invalid_open
        ),
        Fault(
            "unterminated_event",
            True,
            SSE,
            _one(lambda p: plans.bad_bytes_then_end(p, plans.unterminated(p))),
            invalid_ended,
        ),
        Fault("huge_line", True, ALL, _one(plans.huge_line_plan), too_large),
        Fault(
            "truncated_frame",
            True,
            EVENT_STREAM,
            _one(lambda p: plans.bad_bytes_then_end(p, plans.truncated(p))),
            invalid_ended,
        ),
        Fault(
            "crc_corrupt",
            True,
            EVENT_STREAM,
            _one(lambda p: plans.bad_bytes_then_hang(p, plans.crc_corrupt(p))),
            invalid_open,
        ),
        Fault("gzip_bomb", True, ALL, _one(plans.bomb_stream_plan), too_large),
        *_common_status_faults(True),
        Fault(
            "json_error_200",
            True,
            ALL,
            _one(_json_error_200),
            Expect("raise", syc.ProviderError, message="boom-in-stream"),
        ),
        *_redirect_faults(True),
    ]


FAULTS = _call_faults() + _stream_faults()
CASES = [Case(f, p) for f in FAULTS for p in plans.PROTOCOLS if p in f.protocols]


@pytest.fixture
def servers() -> Iterator[tuple[FaultServer, FaultServer]]:
    """Server A (the provider) and server B (another origin, for redirects)."""
    syc.configure(retry=RETRY, limits=LIMITS)
    with FaultServer() as a, FaultServer() as b:
        yield a, b
    syc.close()


def _check_ok(case: Case, obs: Observed) -> None:
    assert obs.error is None, obs.describe()
    assert obs.response is not None
    assert obs.response.text == plans.FULL_TEXT, obs.describe()
    if case.fault.stream:
        types = [e.type for e in obs.events]
        assert types[-1] == "done", obs.describe()
        assert types.count("done") + types.count("error") == 1, types
        assert text_of(obs.events) == plans.FULL_TEXT


def _check_raised(e: Expect, obs: Observed) -> None:
    assert e.exc is not None
    assert isinstance(obs.error, e.exc), f"expected {e.exc.__name__} raised; got {obs.describe()}"
    assert obs.events == [], f"a failure before the first event is raised, with no events: {obs.describe()}"
    if e.exc is syc.ProviderError:  # "ResponseInvalid or a more specific provider error"
        assert not isinstance(obs.error, (syc.Timeout, syc.ProviderConnectionError)), obs.describe()


def _check_error_event(e: Expect, obs: Observed) -> None:
    assert e.exc is not None
    assert obs.error is None, f"a failure after the stream began must be an error event: {obs.describe()}"
    types = [ev.type for ev in obs.events]
    assert types, obs.describe()
    assert types[-1] == "error", obs.describe()
    assert types.count("error") + types.count("done") == 1, types
    last = obs.events[-1]
    assert isinstance(last.error, e.exc), f"expected an error event with {e.exc.__name__}; got {last.error!r}"
    assert last.response is not None
    assert last.response.finish_reason == "error"
    assert last.response.text == text_of(obs.events), obs.describe()
    if e.prefix:
        assert last.response.text.startswith(plans.PREFIX_TEXT), obs.describe()


def _check_redirect(e: Expect, a: FaultServer, b: FaultServer) -> None:
    first = a.requests[0]
    assert credential_leaks(first.headers), "the provider was not sent credentials: the check below proves nothing"
    if e.redirect == "same":
        assert len(b.requests) == 0
        second = a.requests[1]
        assert "hop=1" in second.path
        kept, sent = set(credential_leaks(second.headers)), set(credential_leaks(first.headers))
        assert kept == sent, f"a same-origin redirect dropped {sorted(sent - kept)}"
        return
    assert len(b.requests) == 1, "the redirect to the other origin was not followed"
    moved = b.requests[0]
    assert "hop=1" in moved.path
    assert moved.method == first.method
    assert moved.body == first.body
    assert credential_leaks(moved.headers) == [], f"credentials went to another origin: {moved.headers}"


def _check(case: Case, obs: Observed, a: FaultServer, b: FaultServer) -> None:
    e = case.fault.expect
    if e.outcome == "ok":
        _check_ok(case, obs)
    elif e.outcome == "raise":
        _check_raised(e, obs)
    else:
        _check_error_event(e, obs)
    if e.message is not None:
        err = obs.error if obs.error is not None else obs.events[-1].error
        assert e.message in str(err), f"{str(err)!r} does not say {e.message!r}"
    if e.redirect is not None:
        _check_redirect(e, a, b)
    assert len(a.requests) == e.requests, f"server saw {len(a.requests)} request(s), expected {e.requests}"
    if e.timed:
        assert obs.elapsed <= TIMEOUT + SLACK, f"timeout={TIMEOUT} but the call took {obs.elapsed:.2f}s"
    if e.memory:
        assert obs.rss_growth_kb < RSS_GROWTH_MAX_KB, f"peak RSS grew by {obs.rss_growth_kb >> 10} MiB"
    assert not obs.not_closed, f"the client did not hang up {obs.not_closed} within 1 s (the provider keeps going)"
    if obs.pool is not None:
        assert obs.pool.get("active") == 0, f"connections left active: {obs.pool}"
    assert a.bad_requests == []
    assert b.bad_requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case: Case, mode: str, servers: tuple[FaultServer, FaultServer]) -> None:
    a, b = servers
    a.add(*case.fault.build(case.protocol, a, b))
    e = case.fault.expect
    model = register(plans.dialect(case.protocol), a.url)
    spec = CallSpec(
        model,
        case.fault.stream,
        timeout=TIMEOUT if e.timed else None,
        watch=a if e.client_closes else None,
        user_client=e.redirect == "cross_user_client",
    )
    obs = observe(mode, spec, memory=e.memory)
    _check(case, obs, a, b)


def test_the_matrix_covers_every_fault_and_protocol() -> None:
    """No fault is generated for no protocol, and every protocol meets every common fault."""
    names = {(c.fault.name, c.fault.stream) for c in CASES}
    assert len(names) == len(FAULTS)
    for p in plans.PROTOCOLS:
        mine = {c.fault.name for c in CASES if c.protocol == p and c.fault.stream}
        assert {"hang_mid_stream", "reset_mid_stream", "invalid_json", "huge_line", "gzip_bomb"} <= mine
