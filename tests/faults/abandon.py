"""Abandoned-stream scenarios, run in a child process: ``python -m tests.faults.abandon SCENARIO N``.

A library whose stream finaliser takes a lock can deadlock when the garbage collector runs inside
the HTTP client's own locked code; a deadlock inside a finaliser cannot even be interrupted (the
exception pytest-timeout raises is swallowed as "unraisable"). So each scenario runs in its own
process with a watchdog (``faulthandler`` dumps every thread's stack and exits), and prints one
JSON line of observations for the test to assert on.

Scenarios: ``sync_break`` (``for ev in stream_text(...): break``), ``sync_cycle`` (the same with
the stream kept in a reference cycle, the collector made to run very often), ``async_break``
(``async for ... : break`` without ``aclose``) and ``async_cancel`` (the task consuming the stream
is cancelled while it awaits the next event; ``await stream.response()`` afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import sycophant_py as syc
from tests.faults import plans
from tests.faults.harness import pool_stats, register, text_of
from tests.faults.server import FaultServer, Hang

PROTOCOL = "openai_chat"
CLOSE_WITHIN = 1.0


def _late(srv: FaultServer, abandoned_at: list[float]) -> list[Any]:
    """Streams whose connection was not hung up within ``CLOSE_WITHIN`` s (connection i = stream i)."""
    conns = srv.connections
    if len(conns) != len(abandoned_at):
        return [f"{len(conns)} connections for {len(abandoned_at)} streams"]
    return [
        [c.id, None if c.client_closed_at is None else round(c.client_closed_at - t, 3)]
        for c, t in zip(conns, abandoned_at, strict=True)
        if c.client_closed_at is None or c.client_closed_at - t > CLOSE_WITHIN
    ]


def sync_break(model: str, n: int) -> dict[str, Any]:
    """Streams left by ``break`` after their first event."""
    abandoned_at = []
    for _ in range(n):
        for _ev in syc.stream_text(model, "hi"):
            break
        abandoned_at.append(time.monotonic())
    return {"abandoned_at": abandoned_at}


def sync_cycle(model: str, n: int) -> dict[str, Any]:
    """Streams left by ``break`` and only reachable through a reference cycle; gc runs very often."""
    threshold = gc.get_threshold()
    gc.set_threshold(10, 2, 2)
    try:
        for i in range(n):
            stream = syc.stream_text(model, "hi")
            cycle: list[Any] = [stream]
            cycle.append(cycle)
            for _ev in stream:
                break
            del stream, cycle
            if i % 10 == 0:
                gc.collect()
    finally:
        gc.set_threshold(*threshold)
    gc.collect()
    return {}


async def _async_break(model: str, n: int) -> dict[str, Any]:
    abandoned_at = []
    for _ in range(n):
        async for _ev in syc.astream_text(model, "hi"):
            break
        abandoned_at.append(time.monotonic())
    return {"abandoned_at": abandoned_at}


async def _cancel_one(model: str) -> tuple[syc.Response, str, float]:
    stream = syc.astream_text(model, "hi")
    got: list[syc.StreamEvent] = []
    prefix_in = asyncio.Event()

    async def consume() -> None:
        async for ev in stream:
            got.append(ev)
            if text_of(got) == plans.PREFIX_TEXT:
                prefix_in.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(prefix_in.wait(), 5)
    await asyncio.sleep(0.005)  # the task now awaits the next event on a silent connection
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    cancelled_at = time.monotonic()
    return await stream.response(), text_of(got), cancelled_at


async def _async_cancel(model: str, n: int) -> dict[str, Any]:
    abandoned_at, problems = [], []
    for i in range(n):
        try:
            resp, seen, at = await _cancel_one(model)
        except Exception as exc:  # noqa: BLE001 - reported
            problems.append(f"stream {i}: {type(exc).__name__}: {exc}")
            abandoned_at.append(time.monotonic())
            continue
        abandoned_at.append(at)
        if (resp.finish_reason, resp.text, seen) != ("aborted", plans.PREFIX_TEXT, plans.PREFIX_TEXT):
            problems.append(f"stream {i}: finish_reason={resp.finish_reason!r} text={resp.text!r} seen={seen!r}")
    return {"abandoned_at": abandoned_at, "problems": problems[:10], "n_problems": len(problems)}


def _in_loop(fn: Callable[[str, int], Any], srv: FaultServer) -> Callable[[str, int], dict[str, Any]]:
    """Run an async scenario in a fresh loop; measure the close-down while the loop still runs."""

    def run(model: str, n: int) -> dict[str, Any]:
        async def main() -> dict[str, Any]:
            out: dict[str, Any] = await fn(model, n)
            out["open_after"] = await asyncio.to_thread(srv.wait_open_count, 0, CLOSE_WITHIN)
            out["pool"] = pool_stats()
            return out

        return asyncio.run(main())

    return run


def run(scenario: str, n: int) -> dict[str, Any]:
    """Run a scenario against a fresh server; the observations."""
    unraisable: list[str] = []
    sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value} in {u.object!r}")
    syc.configure(retry=syc.RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.02))
    with FaultServer() as srv:
        model = register(plans.dialect(PROTOCOL), srv.url)
        srv.add(plans.stream_after_prefix(PROTOCOL, [Hang(10.0)]))
        scenarios: dict[str, Callable[[str, int], dict[str, Any]]] = {
            "sync_break": sync_break,
            "sync_cycle": sync_cycle,
            "async_break": _in_loop(_async_break, srv),
            "async_cancel": _in_loop(_async_cancel, srv),
        }
        started = time.monotonic()
        out = scenarios[scenario](model, n)
        out["elapsed"] = round(time.monotonic() - started, 2)
        if "open_after" not in out:
            out["open_after"] = srv.wait_open_count(0, CLOSE_WITHIN)
            out["pool"] = pool_stats()
        abandoned_at = out.pop("abandoned_at", None)
        late = _late(srv, abandoned_at) if abandoned_at is not None else []
        out.update(
            max_open=srv.max_open,
            requests=len(srv.requests),
            late=late[:10],
            n_late=len(late),
            unraisable=unraisable[:5],
        )
        syc.close()
    return out


def main() -> None:
    """Entry point: ``SCENARIO N [WATCHDOG_SECONDS]``; prints one JSON line."""
    scenario, n = sys.argv[1], int(sys.argv[2])
    watchdog = float(sys.argv[3]) if len(sys.argv) > 3 else 25.0
    faulthandler.dump_traceback_later(watchdog, exit=True)
    os.environ.setdefault("SYCOPHANT_CONFIG", os.devnull + ".does-not-exist.toml")
    print(json.dumps(run(scenario, n)), flush=True)
    faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    main()
