"""Connection lifecycle under abuse: abandoned and cancelled streams, ``with``, fork, and swapping clients.

DESIGN.md ("Lifecycle, limits and errors"): a stream releases its connection when it ends, is
closed, is left by ``break``, is cancelled or is garbage-collected, and no finaliser takes a lock;
clients are per process (reset after ``fork``) and per event loop; ``configure()`` from any
thread swaps clients without breaking or re-sending requests in flight. Every check is made from
the server's side: which connections are open, and when the client hung each one up.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from tests.faults import plans
from tests.faults.harness import pool_stats, register, text_of
from tests.faults.server import LAST_CHUNK, Action, FaultServer, Hang, Pause, Plan, SeenRequest, Send, chunk

PROTOCOL = "openai_chat"
ABANDONED = 1000
"""Streams abandoned per scenario."""
CANCELLED = 100
"""Streams whose consuming task is cancelled."""
WATCHDOG = 30.0
"""Seconds a scenario child may run before its watchdog dumps the stacks and exits."""
ROOT = Path(__file__).resolve().parents[2]
MAX_OPEN = 20
"""The most connections the server may see open at once while streams are being abandoned."""
CALL_TIMEOUT = 5.0
"""Every call here has a deadline: a request lost on a broken connection fails instead of hanging."""
RETRY = syc.RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.02)


@pytest.fixture
def lc() -> Iterator[tuple[FaultServer, str]]:
    """A fault server with provider ``contract`` (``openai_chat``) on it; the model spec."""
    syc.configure(retry=RETRY)
    with FaultServer() as srv:
        yield srv, register(plans.dialect(PROTOCOL), srv.url)
        syc.close()


def _endless_stream() -> Plan:
    """The first events of a stream, then nothing: the provider is still generating."""
    return plans.stream_after_prefix(PROTOCOL, [Hang(10.0)])


def _assert_no_active() -> None:
    stats = pool_stats()
    if stats is not None:
        assert stats["active"] == 0, stats


def _scenario(name: str, n: int) -> dict[str, Any]:
    """Run an abandoned-stream scenario of ``tests.faults.abandon`` in a child process (a deadlock there
    is killed by its watchdog and reported with every thread's stack, instead of hanging the suite)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-W", "error::ResourceWarning", "-m", "tests.faults.abandon", name, str(n), str(WATCHDOG)]
    try:
        proc = subprocess.run(
            cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WATCHDOG + 10
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"scenario {name} hung past its watchdog: {exc.stderr!r}") from None
    assert proc.returncode == 0, (
        f"scenario {name} failed or deadlocked (exit {proc.returncode}):\n{proc.stderr[-6000:]}"
    )
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _assert_released(out: dict[str, Any], n: int, *, each_within: bool = True) -> None:
    assert out["requests"] == n, out
    assert out["max_open"] <= MAX_OPEN, f"{out['max_open']} connections were open at once"
    assert out["open_after"] == 0, f"{out['open_after']} abandoned connection(s) still open 1 s after the loop"
    if each_within:
        assert out["n_late"] == 0, f"{out['n_late']} abandoned connection(s) not hung up within 1 s: {out['late']}"
    if out["pool"] is not None:
        assert out["pool"]["active"] == 0, out["pool"]
    assert out["unraisable"] == [], out["unraisable"]


# -- abandoned streams -------------------------------------------------------------------------


@pytest.mark.timeout(WATCHDOG + 20)
def test_sync_streams_left_by_break_release_their_connections() -> None:
    _assert_released(_scenario("sync_break", ABANDONED), ABANDONED)


@pytest.mark.timeout(WATCHDOG + 20)
def test_sync_streams_in_reference_cycles_are_collected_without_deadlock() -> None:
    """Garbage collection may run anywhere, inside the HTTP client's own locked sections too."""
    _assert_released(_scenario("sync_cycle", ABANDONED), ABANDONED, each_within=False)


@pytest.mark.timeout(WATCHDOG + 20)
def test_async_streams_left_by_break_release_their_connections_without_gc() -> None:
    _assert_released(_scenario("async_break", ABANDONED), ABANDONED)


@pytest.mark.timeout(WATCHDOG + 20)
def test_async_stream_whose_task_is_cancelled_is_aborted_and_released() -> None:
    out = _scenario("async_cancel", CANCELLED)
    assert out["n_problems"] == 0, f"{out['n_problems']} cancelled stream(s) did not end aborted: {out['problems']}"
    _assert_released(out, CANCELLED)


# -- context managers --------------------------------------------------------------------------


def test_with_block_closes_the_stream(lc: tuple[FaultServer, str]) -> None:
    srv, model = lc
    srv.add(_endless_stream())
    with syc.stream_text(model, "hi") as stream:
        got = []
        for ev in stream:
            got.append(ev)
            if text_of(got) == plans.PREFIX_TEXT:
                break
        assert srv.open_count == 1
    left = srv.wait_client_closed(srv.connections, 1.0)
    assert not left, "leaving the with block did not hang up the connection"
    resp = stream.response()  # the stream object is still referenced: only __exit__ could close it
    assert resp.finish_reason == "aborted"
    assert resp.text == plans.PREFIX_TEXT
    _assert_no_active()


def test_async_with_block_closes_the_stream(lc: tuple[FaultServer, str]) -> None:
    srv, model = lc
    srv.add(_endless_stream())

    async def run() -> tuple[syc.Response, list[Any]]:
        async with syc.astream_text(model, "hi") as stream:
            got: list[syc.StreamEvent] = []
            async for ev in stream:
                got.append(ev)
                if text_of(got) == plans.PREFIX_TEXT:
                    break
            assert srv.open_count == 1
        left = await asyncio.to_thread(srv.wait_client_closed, srv.connections, 1.0)
        return await stream.response(), left

    resp, left = asyncio.run(run())
    assert not left, "leaving the async with block did not hang up the connection"
    assert resp.finish_reason == "aborted"
    assert resp.text == plans.PREFIX_TEXT


# -- fork ----------------------------------------------------------------------------------------


def _echo(req: SeenRequest) -> Plan:
    """Answer with the prompt of the request itself (after a short pause, so calls overlap)."""
    prompt = req.json["messages"][-1]["content"]
    text = prompt if isinstance(prompt, str) else "".join(p.get("text", "") for p in prompt)
    return [Pause(0.005), *plans.text_plan(PROTOCOL, f"echo {text}")]


def _calls(model: str, tag: str, n: int = 20, workers: int = 4) -> list[str]:
    """``n`` concurrent calls, each checking it got the answer to its own prompt; the problems."""

    def one(i: int) -> str | None:
        prompt = f"{tag}-{os.getpid()}-{i}"
        try:
            text = syc.generate_text(model, prompt, timeout=CALL_TIMEOUT).text
        except Exception as exc:  # noqa: BLE001 - reported as a problem
            return f"{prompt}: {type(exc).__name__}: {exc}"
        return None if text == f"echo {prompt}" else f"{prompt}: got {text!r}"

    with ThreadPoolExecutor(workers) as ex:
        return [p for p in ex.map(one, range(n)) if p]


def _fork() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "fork() in a multi-threaded process" (3.12+)
        return os.fork()


def _wait_child(pid: int, within: float) -> int:
    end = time.monotonic() + within
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the child did not finish within {within}s")


def _read_all(fd: int) -> str:
    out = b""
    while chunk_ := os.read(fd, 65536):
        out += chunk_
    os.close(fd)
    return out.decode(errors="replace")


@pytest.mark.timeout(60)
def test_os_fork_child_and_parent_never_share_a_connection(lc: tuple[FaultServer, str]) -> None:
    srv, model = lc
    srv.handler = _echo
    assert _calls(model, "warm", 8) == []  # the pool now holds idle connections the child inherits
    r, w = os.pipe()
    pid = _fork()
    if pid == 0:  # the child: report, then leave without running any of pytest's teardown
        code = 3
        try:
            os.close(r)
            problems = _calls(model, "child")
            os.write(w, json.dumps(problems).encode()[:32000])
            code = 1 if problems else 0
        except BaseException as exc:  # noqa: BLE001 - the exit status carries it
            os.write(w, repr(exc).encode()[:4000])
            code = 2
        finally:
            os._exit(code)
    os.close(w)
    parent = _calls(model, "parent")
    code = _wait_child(pid, 30)
    report = _read_all(r)
    assert code == 0, f"child exit status {code}: {report}"
    assert parent == [], parent
    assert _calls(model, "after", 8) == [], "the parent's pool broke when the child exited"
    assert srv.bad_requests == [], srv.bad_requests
    assert len(srv.requests) == 8 + 20 + 20 + 8, "requests were re-sent"


def _mp_child(model: str, conn: Connection) -> None:
    problems = _calls(model, "mp-child")
    conn.send(problems)
    conn.close()
    assert problems == [], problems


@pytest.mark.timeout(60)
def test_multiprocessing_fork_child_and_parent_never_share_a_connection(lc: tuple[FaultServer, str]) -> None:
    srv, model = lc
    srv.handler = _echo
    assert _calls(model, "warm", 8) == []
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_mp_child, args=(model, sender))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    sender.close()
    try:
        parent = _calls(model, "mp-parent")
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        report = receiver.recv() if receiver.poll(1) else "no report"
        exitcode = proc.exitcode
    finally:
        receiver.close()
        proc.close()
    assert exitcode == 0, f"child exit status {exitcode}: {report}"
    assert parent == [], parent
    assert report == [], report
    assert _calls(model, "after", 8) == []
    assert srv.bad_requests == []
    assert len(srv.requests) == 8 + 20 + 20 + 8


# -- configure() from another thread while calls are in flight ---------------------------------


def _mixed(req: SeenRequest) -> Plan:
    """A streamed answer with pauses between events, or a plain one after a pause."""
    if req.json.get("stream"):
        acts: list[Action] = [Send(plans.stream_head(PROTOCOL))]
        for ev in plans.stream_events(PROTOCOL):
            acts += [Pause(0.003), Send(chunk(ev))]
        return [*acts, Send(LAST_CHUNK)]
    return [Pause(0.01), *plans.text_plan(PROTOCOL)]


@pytest.mark.timeout(60)
def test_configure_from_another_thread_never_breaks_or_resends_calls(lc: tuple[FaultServer, str]) -> None:
    srv, model = lc
    srv.handler = _mixed
    threads, per_thread = 16, 8
    problems: list[str] = []
    done = threading.Event()
    swaps = 0

    def worker(n: int) -> None:
        for i in range(per_thread):
            try:
                if i % 2:
                    events = list(syc.stream_text(model, f"w{n}-{i}", timeout=CALL_TIMEOUT))
                    last = events[-1]
                    if last.type != "done" or text_of(events) != plans.FULL_TEXT:
                        problems.append(f"w{n}-{i}: stream ended {last.type}: {last.error!r}")
                else:
                    text = syc.generate_text(model, f"w{n}-{i}", timeout=CALL_TIMEOUT).text
                    if text != plans.FULL_TEXT:
                        problems.append(f"w{n}-{i}: got {text!r}")
            except Exception as exc:  # noqa: BLE001 - reported as a problem
                problems.append(f"w{n}-{i}: {type(exc).__name__}: {exc}")

    def reconfigure() -> None:
        nonlocal swaps
        sizes = [4, 8, 16, 64]
        while not done.is_set():
            syc.configure(max_connections=sizes[swaps % len(sizes)])
            swaps += 1
            time.sleep(0.005)

    swapper = threading.Thread(target=reconfigure)
    swapper.start()
    try:
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(worker, range(threads)))
    finally:
        done.set()
        swapper.join()
    assert problems == [], problems[:10]
    assert swaps >= 10, "the clients were hardly swapped: the test proves nothing"
    assert len(srv.requests) == threads * per_thread, "requests were re-sent"
    assert srv.bad_requests == []
    _assert_no_active()
