"""Running one call (sync or async, streamed or not) against fault servers, and what to observe.

:func:`observe` makes the call, keeps the stream object alive while it looks (so a connection is
never released by garbage collection behind the test's back), and records: the events, the
response or the exception, the elapsed time, whether the server saw the client hang up every
connection it gave up on (within :data:`CLOSE_WITHIN` seconds of the end of the call), the
library's pool counters (``_transport.pool_stats()``, when the library has it) and the growth of
the process's peak RSS during the call.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

import sycophant_py as syc
from sycophant_py import _transport
from sycophant_py.testing.contract import PROVIDER, Dialect
from tests.contract.dialects.bedrock_converse import CREDENTIALS
from tests.faults.server import Conn, FaultServer

API_KEY = "sk-fault-SECRET-4242"
"""The key every fault-suite provider sends (never to another origin)."""
SECRETS = (API_KEY, CREDENTIALS["session_token"], CREDENTIALS["access_key_id"], CREDENTIALS["secret_access_key"])
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key", "x-amz-security-token")
CLOSE_WITHIN = 1.0
"""Seconds after the end of a call by which the server must have seen the client hang up."""


def register(d: Dialect, url: str) -> str:
    """Register provider ``contract`` against ``url`` with credentials; return the model spec."""
    kw = d.provider(url)
    if kw.get("auth") == "none":
        kw.update(auth="required", api_key=f"literal:{API_KEY}")
    syc.register_provider(PROVIDER, **kw)
    return f"{PROVIDER}:{d.model}"


def pool_stats() -> dict[str, int] | None:
    """The library's pool counters, when it offers them (``_transport.pool_stats``)."""
    fn: Callable[[], dict[str, int]] | None = getattr(_transport, "pool_stats", None)
    return None if fn is None else dict(fn())


def _status_kb(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/self/status")


class PeakRss:
    """Measures how much the process's peak RSS grows between :meth:`start` and :meth:`growth_kb`.

    The kernel's peak (``VmHWM``) is reset through ``/proc/self/clear_refs``; where that is not
    allowed, a thread samples ``VmRSS`` every millisecond instead.
    """

    def __init__(self, *, kernel: bool = True) -> None:
        self._base = 0
        self._peak = 0
        self._kernel = kernel
        self._done = threading.Event()
        self._sampler: threading.Thread | None = None

    def start(self) -> PeakRss:
        """Start measuring."""
        if self._kernel:
            try:
                with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                    f.write("5")
            except OSError:
                self._kernel = False
        self._base = self._peak = _status_kb("VmRSS")
        if not self._kernel:
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.001):
            self._peak = max(self._peak, _status_kb("VmRSS"))

    def growth_kb(self) -> int:
        """Stop measuring: the peak RSS growth in kB."""
        if self._sampler is not None:
            self._done.set()
            self._sampler.join()
            return self._peak - self._base
        return _status_kb("VmHWM") - self._base


@dataclass
class Observed:
    """What one call did."""

    events: list[syc.StreamEvent] = field(default_factory=list)
    response: syc.Response | None = None
    error: BaseException | None = None
    elapsed: float = 0.0
    not_closed: list[Conn] = field(default_factory=list)
    """Connections the client was expected to hang up and had not, ``CLOSE_WITHIN`` s after the call."""
    pool: dict[str, int] | None = None
    rss_growth_kb: int = 0

    def describe(self) -> str:
        """A one-line summary for assertion messages."""
        types = [e.type for e in self.events]
        err = f"{type(self.error).__name__}: {self.error}" if self.error is not None else None
        text = self.response.text if self.response is not None else None
        return f"error={err!r} events={types} text={text!r} elapsed={self.elapsed:.2f}s"


@dataclass
class CallSpec:
    """How to make the call and what to watch afterwards."""

    model: str
    stream: bool
    timeout: float | None = None
    watch: FaultServer | None = None
    """The server whose connections the client must hang up after the call (None: no check)."""
    user_client: bool = False
    """Configure the caller's own ``httpx`` client with ``follow_redirects=True``."""


def _watched(srv: FaultServer | None) -> list[Conn]:
    if srv is None:
        return []
    return [c for c in srv.connections if c.requests and c.server_closed_at is None]


def _sync_call(spec: CallSpec, obs: Observed) -> Any:
    kw: dict[str, Any] = {"timeout": spec.timeout} if spec.timeout else {}
    if not spec.stream:
        obs.response = syc.generate_text(spec.model, "Hi", **kw)
        return None
    stream = syc.stream_text(spec.model, "Hi", **kw)
    for ev in stream:
        obs.events.append(ev)
    return stream


async def _async_call(spec: CallSpec, obs: Observed) -> Any:
    kw: dict[str, Any] = {"timeout": spec.timeout} if spec.timeout else {}
    if not spec.stream:
        obs.response = await syc.agenerate_text(spec.model, "Hi", **kw)
        return None
    stream = syc.astream_text(spec.model, "Hi", **kw)
    async for ev in stream:
        obs.events.append(ev)
    return stream


def _finish(obs: Observed, started: float) -> float:
    ended = time.monotonic()
    obs.elapsed = ended - started
    if obs.events and obs.events[-1].response is not None and obs.response is None:
        obs.response = obs.events[-1].response
    return ended


def observe_sync(spec: CallSpec, memory: bool = False) -> Observed:
    """Make the call with the sync API and observe it."""
    obs = Observed()
    client = httpx.Client(follow_redirects=True) if spec.user_client else None
    if client is not None:
        syc.configure(http_client=client)
    try:
        rss = PeakRss().start() if memory else None
        started = time.monotonic()
        stream = None
        try:
            stream = _sync_call(spec, obs)
        except Exception as exc:  # noqa: BLE001 - the observation is the exception
            obs.error = exc
        ended = _finish(obs, started)
        if rss is not None:
            obs.rss_growth_kb = rss.growth_kb()
        watch = spec.watch
        if watch is not None:
            obs.not_closed = watch.wait_client_closed(
                _watched(watch), max(0.0, ended + CLOSE_WITHIN - time.monotonic())
            )
        obs.pool = pool_stats()
        del stream  # only now may the stream be collected
    finally:
        if client is not None:
            client.close()
    return obs


def observe_async(spec: CallSpec, memory: bool = False) -> Observed:
    """Make the call with the async API (in a fresh event loop) and observe it."""

    async def run() -> Observed:
        obs = Observed()
        client = httpx.AsyncClient(follow_redirects=True) if spec.user_client else None
        if client is not None:
            syc.configure(async_http_client=client)
        try:
            rss = PeakRss().start() if memory else None
            started = time.monotonic()
            stream = None
            try:
                stream = await _async_call(spec, obs)
            except Exception as exc:  # noqa: BLE001 - the observation is the exception
                obs.error = exc
            ended = _finish(obs, started)
            if rss is not None:
                obs.rss_growth_kb = rss.growth_kb()
            watch = spec.watch
            if watch is not None:
                within = max(0.0, ended + CLOSE_WITHIN - time.monotonic())
                # the loop keeps running meanwhile: a close the library scheduled may happen
                obs.not_closed = await asyncio.to_thread(watch.wait_client_closed, _watched(watch), within)
            obs.pool = pool_stats()
            del stream
        finally:
            if client is not None:
                await client.aclose()
        return obs

    return asyncio.run(run())


def observe(mode: str, spec: CallSpec, memory: bool = False) -> Observed:
    """Make the call in ``mode`` (``"sync"`` or ``"async"``) and observe it."""
    return observe_sync(spec, memory) if mode == "sync" else observe_async(spec, memory)


def text_of(events: Sequence[syc.StreamEvent]) -> str:
    """The text of the ``text_delta`` events."""
    return "".join(e.delta for e in events if e.type == "text_delta")


def credential_leaks(headers: dict[str, str]) -> list[str]:
    """Credential headers present, and headers carrying a secret."""
    found = [h for h in CREDENTIAL_HEADERS if h in headers]
    found += [f"{k} (a secret)" for k, v in headers.items() if any(s in v for s in SECRETS)]
    return found
