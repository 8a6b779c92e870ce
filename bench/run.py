"""Benchmark suite: sycophant_py against raw httpx and peer client libraries (``make bench``).

One run: install peers into ``bench/.venvs/<name>`` (first run only), re-enter a private network namespace
with only loopback (when ``unshare`` works), start the replay server (bench/server.py), then measure every
client in its own worker process (bench/worker.py), interleaved round-robin, and write ``bench/results.md``
and the results section of ``docs/performance.md``.  See docs/performance.md for the method.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import peers  # noqa: E402
import report  # noqa: E402
from common import PACE_SECONDS, offline_env  # noqa: E402

SCENARIOS = ("json", "stream50", "stream1000", "tools", "anthropic")
DECODER_CLIENTS = ("ours", "httpx")
SERVER_CPU, CLIENT_CPU = 0, 1


def log(msg: str) -> None:
    """Progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pin(pid: int, cpu: int) -> None:
    """Pin ``pid`` to one core (server and clients get a core each on a 2-core machine); no-op if impossible."""
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {cpu})


# ------------------------------------------------------------------------------------------ namespace


def _loopback_up() -> None:
    """Bring ``lo`` up inside a fresh network namespace (SIOCGIFFLAGS / SIOCSIFFLAGS)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, ifr))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 0x1))
    finally:
        s.close()


def reexec_offline(argv: list[str]) -> None:
    """Re-run this script in a new network namespace that has loopback only; return if impossible."""
    unshare = shutil.which("unshare")
    if unshare is None or os.environ.get("BENCH_NETNS") == "off":
        return
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        log("unshare -n not permitted; relying on the in-process network guard")
        return
    os.execv(unshare, [unshare, "-n", "--", sys.executable, str(Path(__file__).resolve()), *argv, "--in-netns"])


# ------------------------------------------------------------------------------------------ processes


@dataclass
class Server:
    """The replay server subprocess."""

    proc: subprocess.Popen[str]
    url: str

    @classmethod
    def start(cls, pace: float) -> Server:
        """Start bench/server.py on a free loopback port (pinned to its own core)."""
        proc = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "server.py"), str(pace)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        pin(proc.pid, SERVER_CPU)
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            proc.kill()
            raise RuntimeError(f"server did not start: {line}")
        return cls(proc, f"http://127.0.0.1:{line[1]}")

    def stop(self) -> None:
        """Close stdin (the server exits on EOF) and reap it."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class Worker:
    """A persistent worker subprocess for one client."""

    name: str
    proc: subprocess.Popen[str]
    stderr: IO[str]
    ready: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, name: str, python: Path, url: str, logdir: Path) -> Worker:
        """Spawn ``worker.py NAME URL --serve`` with that client's interpreter."""
        err = (logdir / f"worker-{name}.log").open("w")
        proc = subprocess.Popen(
            [str(python), str(BENCH_DIR / "worker.py"), name, url, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=offline_env(),
        )
        w = cls(name, proc, err)
        w.ready = w._read()
        return w

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            return {"fatal": f"worker exited (see {self.stderr.name})"}
        return dict(json.loads(line))

    def ask(self, **cmd: Any) -> dict[str, Any]:
        """Send one command, wait for its answer."""
        assert self.proc.stdin is not None
        if self.proc.poll() is not None:
            return {"error": "worker died"}
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self) -> None:
        """EOF on stdin ends the worker."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.stderr.close()


def one_shot(
    name: str, python: Path, url: str, what: str, *, timeout: float, logdir: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``worker.py NAME URL WHAT`` in a fresh process and return its JSON answer."""
    with (logdir / f"oneshot-{name}-{what}.log").open("w") as err:
        try:
            proc = subprocess.run(
                [str(python), str(BENCH_DIR / "worker.py"), name, url, what],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                timeout=timeout,
                check=False,
                env=offline_env(env),
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {"error": f"exit {proc.returncode}, see {err.name}"}


# ------------------------------------------------------------------------------------------ phases


def _rotate(items: list[str], k: int) -> list[str]:
    return items[k % len(items) :] + items[: k % len(items)] if items else items


def _wall(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}")
    return wall, p.stdout


def measure_imports(clients: dict[str, peers.InstallResult], runs: int) -> dict[str, Any]:
    """Median import wall time in fresh processes: ``-c 'import X'`` minus ``-c pass`` (and in-process timer)."""
    env = offline_env()
    code = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"
    out: dict[str, Any] = {}
    ok: list[str] = []
    for name, inst in clients.items():
        assert inst.python is not None
        try:  # compile bytecode and warm the page cache first
            _wall([str(inst.python), "-c", f"import {inst.peer.module}"], env)
            ok.append(name)
            out[name] = {"diff": [], "inproc": []}
        except RuntimeError as e:
            out[name] = {"error": str(e)[:200]}
    for r in range(runs):
        for name in _rotate(ok, r):
            py = str(clients[name].python)
            base, _ = _wall([py, "-c", "pass"], env)
            wall, printed = _wall([py, "-c", code.format(m=clients[name].peer.module)], env)
            out[name]["diff"].append(wall - base)
            out[name]["inproc"].append(float(printed.strip().splitlines()[-1]))
    for name in ok:
        d = out[name]
        d["median_s"] = statistics.median(d["diff"])
        d["inproc_median_s"] = statistics.median(d["inproc"])
    return out


def run_sync(workers: dict[str, Worker], rounds: int, min_cpu: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Correctness checks, then interleaved CPU measurements of every sync scenario."""
    checks: dict[str, dict[str, Any]] = {}
    for name, w in workers.items():
        checks[name] = {s: w.ask(op="check", scenario=s) for s in SCENARIOS}
        bad = {s: c for s, c in checks[name].items() if c.get("status") != "ok"}
        log(f"checked {name}: " + (", ".join(f"{s}={c.get('status')}" for s, c in bad.items()) or "all ok"))
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {n: {s: [] for s in SCENARIOS} for n in workers}
    names = list(workers)
    for r in range(rounds):
        t0 = time.perf_counter()
        for s in SCENARIOS:
            for name in _rotate(names, r):
                if checks[name][s].get("status") == "ok":
                    samples[name][s].append(workers[name].ask(op="measure", scenario=s, min_cpu=min_cpu))
        log(f"round {r + 1}/{rounds} done in {time.perf_counter() - t0:.1f} s")
    return checks, samples


def run_decoders(workers: dict[str, Worker], rounds: int) -> dict[str, list[dict[str, Any]]]:
    """Pure decoding throughput, interleaved."""
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in DECODER_CLIENTS if n in workers}
    for r in range(rounds):
        for name in _rotate(list(out), r):
            out[name].append(workers[name].ask(op="decoders", min_cpu=0.2))
    return out


def run_concurrent(
    clients: dict[str, peers.InstallResult], url: str, rounds: int, logdir: Path, *, which: list[str], ramp: float
) -> dict[str, list[dict[str, Any]]]:
    """1,000 concurrent async streams, each run in a dedicated process (peak RSS is its own)."""
    names = [n for n in which if n in clients]
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(rounds):
        for name in _rotate(names, r):
            res = one_shot(
                name,
                clients[name].python,  # type: ignore[arg-type]
                url,
                "concurrent",
                timeout=180,
                logdir=logdir,
                env={"BENCH_RAMP": str(ramp)},
            )
            out[name].append(res)
            log(
                f"concurrent {name}: "
                + (
                    res.get("error")
                    or res.get("reason")
                    or f"{res.get('wall', 0):.1f} s, {res.get('peak_rss_mb', 0):.0f} MB, lost {res.get('lost')}, "
                    f"lag p99 {res.get('lag_p99_ms', 0):.0f} ms (own CPU {res.get('cpu_lag_p99_ms', 0):.0f} ms)"
                )
            )
    return out


def profile_ours(tools: peers.InstallResult, url: str, logdir: Path, scenario: str) -> str:
    """Sample ours with py-spy (GIL holder only, so socket waits drop out) after warm-up; hot functions."""
    import profile_summary

    if tools.python is None:
        return f"profiler not installed: {tools.error}"
    seconds = 5
    raw = logdir / f"profile-ours-{scenario}.txt"
    worker = subprocess.Popen(
        [str(peers.PROJECT_PYTHON), str(BENCH_DIR / "worker.py"), "ours", url, f"profile:{scenario}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=offline_env({"BENCH_PROFILE_SECONDS": str(seconds + 2)}),
    )
    assert worker.stdout is not None
    first = json.loads(worker.stdout.readline() or "{}")
    if "profiling" not in first:
        worker.kill()
        return f"worker did not start profiling: {first}"
    cmd = [
        str(tools.python.parent / "py-spy"),
        "record",
        "--pid",
        str(worker.pid),
        "--duration",
        str(seconds),
        "--rate",
        "1000",
        "--gil",
        "--format",
        "raw",
        "--output",
        str(raw),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    worker.wait(60)
    if p.returncode != 0 or not raw.exists():
        return f"py-spy failed: {(p.stderr or p.stdout).strip()[-300:]}"
    return profile_summary.summarise(raw.read_text(), focus="sycophant_py")


# ------------------------------------------------------------------------------------------ main


def parse(argv: list[str]) -> argparse.Namespace:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the CPU measurements")
    ap.add_argument("--import-runs", type=int, default=7, help="fresh-process imports per client")
    ap.add_argument("--concurrent-rounds", type=int, default=2)
    ap.add_argument("--concurrent-clients", default="ours,httpx", help="clients of the 1,000-stream test")
    ap.add_argument(
        "--pace", type=float, default=PACE_SECONDS, help="mean seconds between events of a concurrent stream"
    )
    ap.add_argument(
        "--ramp", type=float, default=0.0, help="start the 1,000 streams over this many seconds (0: one loop tick)"
    )
    ap.add_argument("--min-cpu", type=float, default=0.15, help="CPU seconds per sample")
    ap.add_argument("--clients", default="", help="comma-separated subset, e.g. ours,httpx,openai")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, few imports, no docs update")
    ap.add_argument("--profile", action="store_true", help="also sample ours with py-spy (needs bench/.venvs/tools)")
    ap.add_argument("--no-install", action="store_true", help="use only venvs that already exist")
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--install-log", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.import_runs, args.concurrent_rounds, args.min_cpu = 1, 3, 1, 0.05
        args.pace = min(args.pace, 0.05)
    return args


def install(args: argparse.Namespace) -> dict[str, Any]:
    """Make every peer venv (network allowed here); return what happened, for the report."""
    wanted = [p for p in peers.PEERS if not args.clients or p.name in args.clients.split(",")]
    extra = [peers.PROFILER] if args.profile else []
    out: dict[str, Any] = {}
    for p in [*wanted, *extra]:
        if args.no_install and p.venv and not peers.venv_python(p).exists():
            out[p.name] = {"error": "venv missing and --no-install given", "seconds": 0.0, "reused": False}
            continue
        r = peers.ensure(p)
        out[p.name] = {"error": r.error, "seconds": r.seconds, "reused": r.reused, "versions": r.versions}
    return out


def main(argv: list[str]) -> int:
    """Run the whole suite."""
    args = parse(argv)
    t_start = time.perf_counter()
    if not args.in_netns:
        installs = install(args)
        path = BENCH_DIR / ".venvs" / "last-install.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"installs": installs, "t_start_wall": time.time()}))
        reexec_offline([*argv, "--install-log", str(path)])  # returns only when namespaces are unavailable
        install_info = {"installs": installs, "t_start_wall": time.time() - (time.perf_counter() - t_start)}
        offline = "in-process guard only"
    else:
        _loopback_up()
        install_info = json.loads(Path(args.install_log).read_text())
        offline = "network namespace with loopback only"
    installs = install_info["installs"]
    log(f"network: {offline}")

    clients: dict[str, peers.InstallResult] = {}
    for p in [*peers.PEERS, peers.PROFILER]:
        info = installs.get(p.name)
        if info is None:
            continue
        clients[p.name] = peers.InstallResult(
            p,
            None if info["error"] else peers.venv_python(p),
            info["seconds"],
            info["reused"],
            info["error"],
            info.get("versions", {}),
        )
    tools = clients.pop("tools", None)
    usable = {n: c for n, c in clients.items() if c.python is not None}

    pin(0, CLIENT_CPU)  # this process and every client process it starts; the server moves to its own core
    logdir = BENCH_DIR / ".venvs" / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    server = Server.start(args.pace)
    log(f"server at {server.url}")
    results: dict[str, Any] = {
        "installs": installs,
        "network": offline,
        "machine": report.machine(),
        "args": {k: v for k, v in vars(args).items() if k not in ("install_log",)},
    }
    try:
        log("imports ...")
        results["imports"] = measure_imports(usable, args.import_runs)
        workers: dict[str, Worker] = {}
        for name, inst in usable.items():
            w = Worker.start(name, inst.python, server.url, logdir)  # type: ignore[arg-type]
            if "fatal" in w.ready:
                log(f"{name}: worker failed to start: {w.ready['fatal']}")
                results.setdefault("fatal", {})[name] = w.ready["fatal"]
                w.stop()
                continue
            workers[name] = w
        try:
            results["checks"], results["sync"] = run_sync(workers, args.rounds, args.min_cpu)
            results["decoders"] = run_decoders(workers, args.rounds)
        finally:
            for w in workers.values():
                w.stop()
        conc = {n: c for n, c in usable.items() if n in workers}
        results["concurrent"] = run_concurrent(
            conc, server.url, args.concurrent_rounds, logdir, which=args.concurrent_clients.split(","), ramp=args.ramp
        )
        if args.profile and "ours" in workers and tools is not None:
            log("profiling ours ...")
            results["profile"] = {
                s: profile_ours(tools, server.url, logdir, s) for s in ("json", "stream50", "stream1000")
            }
    finally:
        server.stop()
    results["total_s"] = time.time() - install_info["t_start_wall"]
    results["load"] = {"before": load_before, "after": os.getloadavg()}
    text = report.render(results, clients)
    print(text)
    if not args.quick:
        (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=1, default=str))
        (BENCH_DIR / "results.md").write_text(text)
        report.update_docs(BENCH_DIR.parent / "docs" / "performance.md", text)
        log("wrote bench/results.md, bench/results.json and docs/performance.md")
    log(f"total {results['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
