"""Gateway benchmark: our gateway vs LiteLLM's proxy vs the raw upstream, side by side on loopback.

Run ``python bench/gateway.py`` (``make bench-gateway``); not part of ``make test``. Every server is its own
process on 127.0.0.1: the scripted upstream (``bench/server.py``: pre-rendered OpenAI chat answers), our
gateway (``python -m sycophant_py._gateway``) and LiteLLM's proxy (installed by this script into
``bench/.venvs/litellm_proxy``, the way ``bench/peers.py`` installs peers). This process is the load
generator: a lean HTTP/1.1 client on raw asyncio sockets (keep-alive, pre-built requests), so that the
numbers are the servers', not an SDK's.

Measured, per target:

* added latency at a fixed rate (open loop, 200 req/s by default, latency counted from the scheduled send
  time so a stalled server cannot hide its queue): non-streaming calls (whole answer) and streams (time to
  the first body chunk); "added" is the target's percentile minus the upstream's;
* the most requests per second it sustains (closed loop, 32 connections), with 1 and 2 workers;
* its resident memory (the whole process tree) when idle and after the load;
* 1,000 concurrent relayed streams (20 events each, one every 500 ms ±50%): how many came back whole.

``--profile`` also runs our gateway (one worker) under cProfile during a throughput run and prints where
its time goes. ``--quick`` shortens every phase (a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from common import MODEL, PROMPT, words  # noqa: E402
from peers import LITELLM_DEPS, Peer, ensure  # noqa: E402

LITELLM_PROXY_DEPS = (  # litellm 1.109.1's ``proxy`` extra (installed with the --no-deps trick of peers.py)
    "gunicorn>=23.0.0,<24.0",
    "uvicorn>=0.33.0,<1.0",
    "granian>=2.7.4,<3.0",
    "uvloop>=0.22.1,<1.0",
    "fastapi>=0.136.3,<1.0",
    "starlette>=1.0.1,<2.0",
    "backoff>=2.2.1,<3.0",
    "rq>=2.7.0,<3.0",
    "orjson>=3.11.6,<4.0",
    "hiredis>=3.0.0,<4.0",
    "apscheduler>=3.11.2,<4.0",
    "fastapi-sso>=0.19.0,<1.0",
    "pyjwt>=2.13.0,<3.0",
    "python-multipart>=0.0.27,<1.0",
    "cryptography>=49.0.0,<51.0",
    "pynacl>=1.6.2,<2.0",
    "websockets>=15.0.1,<16.0",
    "azure-identity>=1.25.2,<2.0",
    "azure-storage-blob>=12.28.0,<13.0",
    "mcp>=2.3.0,<3",
    "httpx2>=2.10.0,<3",
    "litellm-proxy-extras>=0.4.110",  # 0.4.113, the pin of litellm 1.109.1, is not on the index here
    "litellm-enterprise==0.1.82",
    "restrictedpython>=8.5,<9.0",
    "rich>=13.9.4,<14.0",
    "inquirerpy>=0.3.4,<1.0",
    "tomlkit>=0.13.3,<1.0",
    "polars>=1.38.1,<2.0",
    "soundfile>=0.12.1,<1.0",
    "pyroscope-io>=0.8.16,<1.0",
    "expression>=5.6.0,<6.0",
    "backports-zstd>=1.0.0,<2.0",
)
LITELLM_PROXY = Peer(
    "litellm_proxy",
    "LiteLLM proxy",
    "litellm.proxy.proxy_server",
    LITELLM_DEPS + LITELLM_PROXY_DEPS,
    ("litellm==1.109.1",),
    dists=("litellm", "fastapi", "uvicorn"),
    venv="litellm_proxy",
)
ROUTES = {"json": "json", "stream": "s10", "paced": "paced"}  # our provider name -> upstream route
STREAM_EVENTS = 10  # content events of the streams whose time to first chunk is measured
PACED_EVENTS = 20
BENCH_KEY = "sk-bench-" + "5eed" * 16  # LiteLLM refuses to start without a strong master key; every target gets it


# -- a lean HTTP/1.1 client -------------------------------------------------------------------


def _request(port: int, path: str, body: dict[str, Any], key: str | None = None) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n{auth}"
        f"content-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


@dataclass
class Answer:
    status: int
    first: float  # monotonic time of the first body bytes
    end: float
    body: bytes


class Conn:
    """One keep-alive connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.alive = True

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, request: bytes) -> Answer:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        first = time.monotonic()
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:] if ln)}
        if headers.get(b"connection", b"").lower() == b"close":
            self.alive = False
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await self._chunks()
        else:
            body = await self.reader.read()
            self.alive = False
        return Answer(status, first, time.monotonic(), body)

    async def _chunks(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return b"".join(parts)
            parts.append((await self.reader.readexactly(size + 2))[:-2])

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Idle keep-alive connections to one port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[Conn] = []

    async def send(self, request: bytes) -> Answer:
        """Send on an idle connection (a fresh one when none); a reused connection the server had closed
        meanwhile (keep-alive timeout) is retried once on a fresh one, as HTTP clients do."""
        reused = bool(self.idle)
        conn = self.idle.pop() if reused else await Conn.open(self.port)
        try:
            answer = await conn.send(request)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            conn.close()
            if (
                not reused
                or getattr(exc, "partial", b"")
                or not isinstance(exc, (asyncio.IncompleteReadError, ConnectionResetError))
            ):
                raise
            conn = await Conn.open(self.port)
            answer = await conn.send(request)
        except BaseException:
            conn.close()
            raise
        if conn.alive:
            self.idle.append(conn)
        else:
            conn.close()
        return answer

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


def _text_of_stream(body: bytes) -> tuple[str, bool]:
    """(joined content deltas, saw [DONE]) of an OpenAI chat SSE body."""
    text = []
    done = False
    for line in body.split(b"\n"):
        if not line.startswith(b"data: "):
            continue
        data = line[6:].strip()
        if data == b"[DONE]":
            done = True
            continue
        chunk = json.loads(data)
        for choice in chunk.get("choices") or ():
            text.append((choice.get("delta") or {}).get("content") or "")
    return "".join(text), done


# -- the load patterns ------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fixed_rate(pool: Pool, request: bytes, rate: float, seconds: float, first_chunk: bool) -> dict[str, Any]:
    """Open loop: one request every 1/rate s; latency from the scheduled time (whole answer, or first chunk)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            ans = await pool.send(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors += 1
            kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
            return
        if ans.status != 200:
            errors += 1
            kinds[f"HTTP {ans.status}"] = kinds.get(f"HTTP {ans.status}", 0) + 1
            return
        latencies.append(((ans.first if first_chunk else ans.end) - scheduled) * 1000)

    n = int(rate * seconds)
    start = loop.time() + 0.05
    tasks = []
    for i in range(n):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(time.monotonic() + (due - loop.time()))))
    await asyncio.gather(*tasks)
    return {"n": n, "errors": errors, "kinds": kinds, "p50": _pct(latencies, 0.50), "p99": _pct(latencies, 0.99)}


async def max_rate(port: int, request: bytes, seconds: float, connections: int = 32) -> dict[str, Any]:
    """Closed loop: ``connections`` clients back to back for ``seconds``; completed requests per second."""
    done = 0
    errors = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done, errors
        pool = Pool(port)
        try:
            while time.monotonic() < stop:
                try:
                    ans = await pool.send(request)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    continue
                if ans.status == 200:
                    done += 1
                else:
                    errors += 1
        finally:
            pool.close()

    t0 = time.monotonic()
    cpu0 = time.process_time()
    await asyncio.gather(*(client() for _ in range(connections)))
    wall = time.monotonic() - t0
    return {"rps": done / wall, "errors": errors, "loadgen_cpu": (time.process_time() - cpu0) / wall}


async def concurrent_streams(port: int, request: bytes, count: int) -> dict[str, Any]:
    """``count`` long streams at once; each must come back whole (every event, then [DONE])."""
    want = "".join(words(PACED_EVENTS))
    ok = wrong = lost = 0

    async def one() -> None:
        nonlocal ok, wrong, lost
        conn = None
        try:
            conn = await Conn.open(port)
            ans = await conn.send(request)
            text, done = _text_of_stream(ans.body)
            if ans.status == 200 and done and text == want:
                ok += 1
            else:
                wrong += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            lost += 1
        finally:
            if conn is not None:
                conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(count)))
    return {"ok": ok, "wrong": wrong, "lost": lost, "wall": time.monotonic() - t0}


# -- the servers --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:"))
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


@dataclass
class Target:
    """A server under test: how to start it and what to send it."""

    label: str
    cmd: list[str]
    health: str
    models: dict[str, str]  # kind -> model name
    path: str = "/v1/chat/completions"
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def request(self, kind: str, stream: bool) -> bytes:
        body: dict[str, Any] = {
            "model": self.models[kind],
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": 64,
        }
        if stream:
            body["stream"] = True
        return _request(self.port, self.path.format(route=ROUTES[kind]), body, BENCH_KEY)

    def start(self) -> None:
        log = open(BENCH / ".venvs" / f"{self.label.replace(' ', '_')}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited; see {log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(f"GET {self.health} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.label} did not become healthy")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _upstream() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "gateway.py"), "--upstream"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, int(line.split()[1])


def _ours(upstream: int, workers: int, tmp: Path, profile: Path | None = None) -> Target:
    config = tmp / "sycophant.toml"
    config.write_text(
        "".join(
            f'[custom_providers.{name}]\nbase_url = "http://127.0.0.1:{upstream}/{route}/v1"\nauth = "none"\n'
            for name, route in ROUTES.items()
        )
    )
    port = _free_port()
    if profile is not None:
        cmd = [sys.executable, str(BENCH / "gateway.py"), "--profiled-gateway", str(port), str(config), str(profile)]
    else:
        cmd = [sys.executable, "-m", "sycophant_py._gateway", "--port", str(port), "--config", str(config)]
        cmd += ["--workers", str(workers), "--log-level", "warning"]
    label = f"sycophant gateway ({workers} worker{'s' if workers > 1 else ''})" + (" profiled" if profile else "")
    models = {kind: f"{kind}:{MODEL}" for kind in ROUTES}
    env = {"PYTHONPATH": str(ROOT)}
    return Target(label, cmd, "/healthz", models, env=env, port=port)


def _litellm(upstream: int, workers: int, tmp: Path, python: Path) -> Target:
    config = tmp / "litellm.yaml"
    entries = "".join(
        f"  - model_name: {name}\n    litellm_params:\n      model: openai/{MODEL}\n"
        f"      api_base: http://127.0.0.1:{upstream}/{route}/v1\n      api_key: sk-bench\n"
        for name, route in ROUTES.items()
    )
    config.write_text(f"model_list:\n{entries}litellm_settings:\n  telemetry: false\n  drop_params: true\n")
    port = _free_port()
    litellm = python.parent / "litellm"
    cmd = [str(litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--num_workers", str(workers)]
    from common import offline_env

    env = offline_env({"LITELLM_MASTER_KEY": BENCH_KEY})
    label = f"LiteLLM proxy ({workers} worker{'s' if workers > 1 else ''})"
    return Target(
        label, cmd, "/health/liveliness", dict.fromkeys(ROUTES, "") | {k: k for k in ROUTES}, env=env, port=port
    )


def _floor(upstream: int) -> Target:
    return Target(
        "upstream (floor)", [], "", dict.fromkeys(ROUTES, MODEL), path="/{route}/v1/chat/completions", port=upstream
    )


# -- the runs -----------------------------------------------------------------------------------


@dataclass
class Settings:
    rates: tuple[float, ...] = (200.0, 50.0)  # the target rate, and one LiteLLM's proxy can sustain
    seconds: float = 10.0
    warmup: float = 2.0
    throughput_seconds: float = 8.0
    streams: int = 1000


async def _latency(t: Target, s: Settings, rate: float) -> dict[str, Any]:
    pool = Pool(t.port)
    try:
        for kind, stream in (("json", False), ("stream", True)):
            await fixed_rate(pool, t.request(kind, stream), rate, s.warmup, stream)
        if "profiled" in t.label and t.proc is not None:
            t.proc.send_signal(signal.SIGUSR1)
        json_run = await fixed_rate(pool, t.request("json", False), rate, s.seconds, False)
        stream_run = await fixed_rate(pool, t.request("stream", True), rate, s.seconds, True)
    finally:
        pool.close()
    return {"json": json_run, "stream": stream_run}


def _run(coro: Awaitable[Any]) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]


def measure(t: Target, s: Settings, what: set[str]) -> dict[str, Any]:
    """Every measure of one target (it is started and stopped here, except the floor)."""
    out: dict[str, Any] = {"label": t.label, "latency": {}}
    if t.cmd:
        t.start()
    try:
        pid = t.proc.pid if t.proc else None
        out["rss_idle"] = _rss_mb(pid) if pid else None
        if "latency" in what:
            for rate in s.rates[:1] if "profiled" in t.label else s.rates:
                out["latency"][rate] = _run(_latency(t, s, rate))
        if "throughput" in what:
            request = t.request("json", False)
            _run(max_rate(t.port, request, 1.0))
            out["throughput"] = _run(max_rate(t.port, request, s.throughput_seconds))
        if "streams" in what:
            out["streams"] = _run(concurrent_streams(t.port, t.request("paced", True), s.streams))
        out["rss_after"] = _rss_mb(pid) if pid else None
    finally:
        t.stop(signal.SIGINT if "profiled" in t.label else signal.SIGTERM)
    return out


# -- report ---------------------------------------------------------------------------------


def _f(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _latency_table(results: list[dict[str, Any]], rate: float) -> list[str]:
    floor = next(r for r in results if r["label"].startswith("upstream"))["latency"][rate]
    lines = [
        f"### {rate:.0f} requests/s (open loop; ms from the scheduled send time)",
        "",
        "| target | JSON p50 | JSON p99 | **added p50** | **added p99** | TTFC p50 | TTFC p99 | **added p50** "
        "| **added p99** | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        run = r["latency"].get(rate)
        if not run:
            continue
        j, st = run["json"], run["stream"]
        is_floor = r["label"].startswith("upstream")

        def added(x: dict[str, Any], base: dict[str, Any], q: str, is_floor: bool = is_floor) -> str:
            return "—" if is_floor else f"**{_f(x[q] - base[q])}**"

        lines.append(
            f"| {r['label']} | {_f(j['p50'])} | {_f(j['p99'])} | {added(j, floor['json'], 'p50')} "
            f"| {added(j, floor['json'], 'p99')} | {_f(st['p50'])} | {_f(st['p99'])} "
            f"| {added(st, floor['stream'], 'p50')} | {added(st, floor['stream'], 'p99')} "
            f"| {j['errors'] + st['errors']} |"
        )
    return lines


def report(results: list[dict[str, Any]], s: Settings, load: tuple[float, float]) -> str:
    lines = [
        f"## Gateway benchmark (loopback, {os.cpu_count()} cores shared by the upstream, the load generator and the "
        f"server under test; {s.seconds:.0f} s per latency run)",
        "",
        f"Load average before / after the run: {load[0]:.2f} / {load[1]:.2f} (other work on the machine shows here).",
        "",
        "Non-streaming calls (JSON: the whole answer) and streams of "
        f"{STREAM_EVENTS} events (TTFC: time to the first body chunk); *added* is the target's percentile minus "
        "the upstream's.",
        "",
    ]
    for rate in s.rates:
        lines += [*_latency_table(results, rate), ""]
    lines += [
        "### Throughput, memory and 1,000 concurrent streams",
        "",
        "| target | max req/s (32 conns) | load-gen CPU | RSS idle / after (MB) | 1,000 streams ok / wrong / lost "
        "| wall (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        tp = r.get("throughput") or {}
        sm = r.get("streams") or {}
        streams = f"{sm['ok']} / {sm['wrong']} / {sm['lost']}" if sm else "—"
        rss = f"{_f(r.get('rss_idle'), 0)} / {_f(r.get('rss_after'), 0)}" if r.get("rss_idle") else "—"
        lines.append(
            f"| {r['label']} | {_f(tp.get('rps'), 0)} | {_f(tp.get('loadgen_cpu'))} | {rss} | {streams} "
            f"| {_f(sm.get('wall'), 1) if sm else '—'} |"
        )
    return "\n".join(lines)


# -- profiling ------------------------------------------------------------------------------

_GROUPS = (
    ("sycophant_py/_gateway", "gateway (routing, relay, keys, logs)"),
    ("sycophant_py/wire/openai_chat_serve", "served dialect (decode request, encode answer)"),
    ("sycophant_py/wire/_serve", "served dialect (decode request, encode answer)"),
    ("sycophant_py/wire", "client codec (encode request, decode answer)"),
    ("sycophant_py/_sse", "client codec (encode request, decode answer)"),
    ("sycophant_py/_transport", "library transport (httpx glue)"),
    ("sycophant_py", "library pipeline (resolve, params, credentials, run)"),
    ("httpcore", "httpx / httpcore"),
    ("httpx", "httpx / httpcore"),
    ("h11", "httpx / httpcore"),
    ("anyio", "anyio"),
    ("starlette", "starlette"),
    ("uvicorn", "uvicorn"),
    ("pydantic", "pydantic (param validation)"),
    ("structlog", "logging"),
    ("logging", "logging"),
    ("json", "json"),
    ("asyncio", "asyncio / event loop"),
    ("uvloop", "asyncio / event loop"),
)


def _group(filename: str) -> str:
    for marker, name in _GROUPS:
        if marker in filename:
            return name
    if filename.startswith("~") or filename == "":
        return "builtins (socket I/O, C calls)"
    return "other"


def profile_summary(path: Path) -> str:
    stats = pstats.Stats(str(path))
    by_group: dict[str, float] = {}
    top: list[tuple[float, str]] = []
    for (filename, line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        group = _group(filename)
        if group.startswith("builtins") and any(w in func for w in ("select", "poll", "epoll")):
            group = "idle (waiting in the event loop)"
        by_group[group] = by_group.get(group, 0.0) + tottime
        top.append((tottime, f"{Path(filename).name}:{line} {func}"))
    busy = sum(v for k, v in by_group.items() if not k.startswith("idle"))
    lines = [
        "## Where our gateway's time goes (cProfile, one worker, the fixed-rate latency run; share of busy time)",
        "",
    ]
    lines += ["| part | share |", "|---|---|"]
    for name, v in sorted(by_group.items(), key=lambda kv: -kv[1]):
        if not name.startswith("idle"):
            lines.append(f"| {name} | {100 * v / busy:.1f}% |")
    lines += ["", "Top functions by own time:", ""]
    lines += [f"- {100 * t / busy:.1f}% {name}" for t, name in sorted(top, reverse=True)[:15]]
    return "\n".join(lines)


def _profiled_gateway(port: int, config: str, out: str) -> None:
    """Child mode: serve one worker; SIGUSR1 starts cProfile (after the warm-up), SIGINT ends it and writes the stats."""
    from sycophant_py._gateway import serve

    prof = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
    try:
        serve(port=port, config=config, log_level="warning")
    except KeyboardInterrupt:
        pass
    finally:
        prof.disable()
        prof.dump_stats(out)


# -- the upstream -----------------------------------------------------------------------------


def _serve_upstream() -> None:
    """Child mode: ``bench/server.py``'s pre-rendered upstream, plus a short stream route (``/s10``)."""
    import server

    class Upstream(server.Server):
        def __init__(self) -> None:
            super().__init__(0.5)
            body = b"".join(server._chunked(server.chat_stream_events(STREAM_EVENTS)))
            self.whole["s10"] = server.SSE_HEADERS + body + b"0\r\n\r\n"

    async def run() -> None:
        up = Upstream()
        srv = await asyncio.start_server(up.handle, "127.0.0.1", 0, backlog=4096, limit=1 << 20)
        print(f"PORT {srv.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        srv.close()

    _run(run())


# -- main -----------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short phases (a smoke run)")
    ap.add_argument("--skip-litellm", action="store_true", help="leave LiteLLM's proxy out")
    ap.add_argument("--profile", action="store_true", help="also profile our gateway during a throughput run")
    ap.add_argument("--profiled-gateway", nargs=3, metavar=("PORT", "CONFIG", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.upstream:
        _serve_upstream()
        return 0
    if args.profiled_gateway:
        port, config, out = args.profiled_gateway
        _profiled_gateway(int(port), config, out)
        return 0
    s = Settings()
    if args.quick:
        s = Settings(seconds=2.0, warmup=0.5, throughput_seconds=2.0, streams=100)
    (BENCH / ".venvs").mkdir(exist_ok=True)
    load_before = os.getloadavg()[0]
    upstream, up_port = _upstream()
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            results.append(measure(_floor(up_port), s, {"latency", "throughput"}))
            results.append(measure(_ours(up_port, 1, tmp), s, {"latency", "throughput", "streams"}))
            results.append(measure(_ours(up_port, 2, tmp), s, {"throughput"}))
            if not args.skip_litellm:
                installed = ensure(LITELLM_PROXY)
                if installed.python is None:
                    print(f"[bench] LiteLLM proxy unavailable: {installed.error}", file=sys.stderr)
                else:
                    print(f"[bench] LiteLLM versions: {installed.versions}", file=sys.stderr)
                    results.append(
                        measure(_litellm(up_port, 1, tmp, installed.python), s, {"latency", "throughput", "streams"})
                    )
                    results.append(measure(_litellm(up_port, 2, tmp, installed.python), s, {"throughput"}))
            print(report(results, s, (load_before, os.getloadavg()[0])))
            if args.profile:
                prof = tmp / "gateway.prof"
                measure(_ours(up_port, 1, tmp, profile=prof), s, {"latency"})
                print()
                print(profile_summary(prof))
    finally:
        if upstream.stdin:
            upstream.stdin.close()
        upstream.wait(10)
    print("\n```json\n" + json.dumps(results, indent=1, default=str) + "\n```", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
