"""Benchmark worker: drives ONE client library inside that library's own virtual environment.

Usage::

    python bench/worker.py CLIENT URL SCENARIO     # one shot: print one JSON result and exit
    python bench/worker.py CLIENT URL --serve      # JSON commands on stdin, one JSON answer per line

CLIENT is one of ``ours httpx openai litellm any_llm pydantic_ai``; SCENARIO is one of ``json stream50
stream1000 tools anthropic`` (checked then measured), ``concurrent`` (1,000 async streams; run it one shot so
that peak RSS belongs to it alone) or ``decoders`` (pure decoding, no I/O).  Results go to the original
stdout; anything the libraries print goes to stderr.  CPU is ``time.process_time()`` of this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ANTHROPIC_MODEL,
    CHUNKS,
    MAX_TOKENS,
    MODEL,
    PROMPT,
    ROUTES,
    TOOL_SPEC,
    TOOL_SPEC_TIME,
    check,
    chunk_count,
    install_network_guard,
)

Result = dict[str, Any]
SYNC_SCENARIOS = ("json", "stream50", "stream1000", "tools", "anthropic")


class NotApplicableError(Exception):
    """The client cannot do this scenario (reported as ``n/a: <reason>``)."""


def _msgs() -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPT}]


class Acc:
    """Accumulates OpenAI-shaped stream chunks (objects or dicts) into the normalised result."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tools: dict[int, list[Any]] = {}
        self.usage: tuple[int, int] | None = None

    def result(self) -> Result:
        """Normalised output for :func:`common.check`."""
        out: Result = {"text": "".join(self.text)}
        if self.usage:
            out["input_tokens"], out["output_tokens"] = self.usage
        if self.tools:
            out["tool_calls"] = [[t[0], "".join(t[1])] for _, t in sorted(self.tools.items())]
        return out


# ---------------------------------------------------------------------------------------------- clients


class Client:
    """Adapter interface: one method per scenario, each returning the normalised output."""

    name = "?"

    def __init__(self, url: str) -> None:
        self.url = url

    def base(self, scenario: str) -> str:
        """OpenAI-style base URL (``.../v1``) serving ``scenario``."""
        return f"{self.url}/{ROUTES[scenario]}/v1"

    def run(self, scenario: str) -> Result:
        """One call of a sync scenario."""
        if scenario == "json":
            return self.json()
        if scenario == "tools":
            return self.tools()
        if scenario == "anthropic":
            return self.anthropic()
        return self.stream(scenario)

    def json(self) -> Result:
        """Non-streaming chat completion."""
        raise NotApplicableError("not supported")

    def stream(self, scenario: str) -> Result:
        """Streamed chat completion (text deltas + usage)."""
        raise NotApplicableError("not supported")

    def tools(self) -> Result:
        """Streamed tool calls."""
        raise NotApplicableError("not supported")

    def anthropic(self) -> Result:
        """Anthropic Messages stream."""
        raise NotApplicableError("not supported")

    async def astream(self, scenario: str) -> Result:
        """One async stream (for the concurrency scenario)."""
        raise NotApplicableError("no async streaming adapter")

    def decoders(self) -> Callable[[list[bytes]], int]:
        """Return a function that decodes pre-split SSE bytes and returns the number of chunks seen."""
        raise NotApplicableError("no pure decoder")

    async def aclose(self) -> None:
        """Release async resources."""


class RawHttpx(Client):
    """The floor: httpx + ``json.loads`` per SSE data line, nothing else."""

    name = "httpx"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import httpx

        self.httpx = httpx
        self.headers = {"authorization": "Bearer sk-bench"}
        self.client = httpx.Client(timeout=60)
        self.aclient: Any = None

    def _body(self, stream: bool, tools: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"model": MODEL, "messages": _msgs(), "max_tokens": MAX_TOKENS}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if tools:
            body["tools"] = [TOOL_SPEC, TOOL_SPEC_TIME]
        return body

    @staticmethod
    def _feed(acc: Acc, line: str) -> bool:
        if not line.startswith("data: "):
            return True
        data = line[6:]
        if data == "[DONE]":
            return False
        obj = json.loads(data)
        for choice in obj["choices"]:
            delta = choice["delta"]
            if delta.get("content"):
                acc.text.append(delta["content"])
            for tc in delta.get("tool_calls") or ():
                slot = acc.tools.setdefault(tc["index"], ["", []])
                fn = tc.get("function") or {}
                if fn.get("name"):
                    slot[0] = fn["name"]
                if fn.get("arguments"):
                    slot[1].append(fn["arguments"])
        if obj.get("usage"):
            acc.usage = (obj["usage"]["prompt_tokens"], obj["usage"]["completion_tokens"])
        return True

    def json(self) -> Result:
        r = self.client.post(self.base("json") + "/chat/completions", json=self._body(False), headers=self.headers)
        r.raise_for_status()
        obj = r.json()
        u = obj["usage"]
        return {
            "text": obj["choices"][0]["message"]["content"],
            "input_tokens": u["prompt_tokens"],
            "output_tokens": u["completion_tokens"],
        }

    def _stream(self, scenario: str, tools: bool = False) -> Result:
        acc = Acc()
        with self.client.stream(
            "POST", self.base(scenario) + "/chat/completions", json=self._body(True, tools), headers=self.headers
        ) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if not self._feed(acc, line):
                    break
        return acc.result()

    def stream(self, scenario: str) -> Result:
        return self._stream(scenario)

    def tools(self) -> Result:
        return self._stream("tools", tools=True)

    def anthropic(self) -> Result:
        body = {"model": ANTHROPIC_MODEL, "messages": _msgs(), "max_tokens": MAX_TOKENS, "stream": True}
        headers = {"x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}
        text: list[str] = []
        usage = [0, 0]
        with self.client.stream("POST", f"{self.url}/anth/v1/messages", json=body, headers=headers) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                obj = json.loads(line[6:])
                kind = obj["type"]
                if kind == "content_block_delta" and obj["delta"]["type"] == "text_delta":
                    text.append(obj["delta"]["text"])
                elif kind == "message_start":
                    usage[0] = obj["message"]["usage"]["input_tokens"]
                elif kind == "message_delta":
                    usage[1] = obj["usage"]["output_tokens"]
                elif kind == "message_stop":
                    break
        return {"text": "".join(text), "input_tokens": usage[0], "output_tokens": usage[1]}

    async def astream(self, scenario: str) -> Result:
        if self.aclient is None:
            limits = self.httpx.Limits(max_connections=None, max_keepalive_connections=None)
            self.aclient = self.httpx.AsyncClient(timeout=120, limits=limits)
        acc = Acc()
        async with self.aclient.stream(
            "POST", self.base(scenario) + "/chat/completions", json=self._body(True), headers=self.headers
        ) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not self._feed(acc, line):
                    break
        return acc.result()

    def decoders(self) -> Callable[[list[bytes]], int]:
        def decode(pieces: list[bytes]) -> int:
            acc = Acc()
            buf = b""
            n = 0
            for piece in pieces:
                buf += piece
                *events, buf = buf.split(b"\n\n")
                for ev in events:
                    for line in ev.decode().split("\n"):
                        self._feed(acc, line)
                    n += 1
            return n

        return decode

    async def aclose(self) -> None:
        if self.aclient is not None:
            await self.aclient.aclose()


def _openai_chunk(acc: Acc, chunk: Any) -> None:
    for choice in chunk.choices or ():
        delta = choice.delta
        if delta.content:
            acc.text.append(delta.content)
        for tc in delta.tool_calls or ():
            slot = acc.tools.setdefault(tc.index, ["", []])
            if tc.function is not None:
                if tc.function.name:
                    slot[0] = tc.function.name
                if tc.function.arguments:
                    slot[1].append(tc.function.arguments)
    usage = getattr(chunk, "usage", None)
    if usage:
        acc.usage = (usage.prompt_tokens, usage.completion_tokens)


class OpenAI(Client):
    """The official ``openai`` SDK, one client per route, reused."""

    name = "openai"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import openai

        self.openai = openai
        self.clients = {
            s: openai.OpenAI(base_url=self.base(s), api_key="sk-bench", max_retries=0)
            for s in ("json", "stream50", "stream1000", "tools")
        }
        self.aclients: dict[str, Any] = {}

    def json(self) -> Result:
        r = self.clients["json"].chat.completions.create(
            model=MODEL,
            messages=_msgs(),  # type: ignore[arg-type]
            max_tokens=MAX_TOKENS,
        )
        return {
            "text": r.choices[0].message.content,
            "input_tokens": r.usage.prompt_tokens,
            "output_tokens": r.usage.completion_tokens,
        }

    def _stream(self, scenario: str, **kw: Any) -> Result:
        acc = Acc()
        stream = self.clients[scenario].chat.completions.create(
            model=MODEL,
            messages=_msgs(),
            max_tokens=MAX_TOKENS,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
            **kw,
        )
        for chunk in stream:
            _openai_chunk(acc, chunk)
        return acc.result()

    def stream(self, scenario: str) -> Result:
        return self._stream(scenario)

    def tools(self) -> Result:
        return self._stream("tools", tools=[TOOL_SPEC, TOOL_SPEC_TIME])

    def anthropic(self) -> Result:
        raise NotApplicableError("OpenAI SDK has no Anthropic Messages client")

    async def astream(self, scenario: str) -> Result:
        if scenario not in self.aclients:
            self.aclients[scenario] = self.openai.AsyncOpenAI(
                base_url=self.base(scenario), api_key="sk-bench", max_retries=0, timeout=120
            )
        acc = Acc()
        stream = await self.aclients[scenario].chat.completions.create(
            model=MODEL, messages=_msgs(), max_tokens=MAX_TOKENS, stream=True, stream_options={"include_usage": True}
        )
        async for chunk in stream:
            _openai_chunk(acc, chunk)
        return acc.result()

    async def aclose(self) -> None:
        for c in self.aclients.values():
            await c.close()


class LiteLLM(Client):
    """``litellm.completion`` with ``openai/`` and ``anthropic/`` model prefixes and ``api_base``."""

    name = "litellm"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import litellm

        self.litellm = litellm
        litellm.suppress_debug_info = True
        litellm.telemetry = False

    def json(self) -> Result:
        r = self.litellm.completion(
            model=f"openai/{MODEL}",
            messages=_msgs(),
            max_tokens=MAX_TOKENS,
            api_base=self.base("json"),
            api_key="sk-bench",
        )
        return {
            "text": r.choices[0].message.content,
            "input_tokens": r.usage.prompt_tokens,
            "output_tokens": r.usage.completion_tokens,
        }

    def _stream(self, scenario: str, **kw: Any) -> Result:
        acc = Acc()
        stream = self.litellm.completion(
            model=f"openai/{MODEL}",
            messages=_msgs(),
            max_tokens=MAX_TOKENS,
            api_base=self.base(scenario),
            api_key="sk-bench",
            stream=True,
            stream_options={"include_usage": True},
            **kw,
        )
        for chunk in stream:
            _openai_chunk(acc, chunk)
        return acc.result()

    def stream(self, scenario: str) -> Result:
        return self._stream(scenario)

    def tools(self) -> Result:
        return self._stream("tools", tools=[TOOL_SPEC, TOOL_SPEC_TIME])

    def anthropic(self) -> Result:
        acc = Acc()
        stream = self.litellm.completion(
            model=f"anthropic/{ANTHROPIC_MODEL}",
            messages=_msgs(),
            max_tokens=MAX_TOKENS,
            api_base=f"{self.url}/anth/v1/messages",
            api_key="sk-bench",
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            _openai_chunk(acc, chunk)
        return acc.result()


class AnyLLM(Client):
    """any-llm's reusable ``AnyLLM.create("openai", api_base=...)`` object (the per-call ``completion()``
    helper builds a new provider client every call)."""

    name = "any_llm"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        from any_llm import AnyLLM as _AnyLLM

        self.llms = {
            s: _AnyLLM.create("openai", api_key="sk-bench", api_base=self.base(s))
            for s in ("json", "stream50", "stream1000", "tools")
        }

    def json(self) -> Result:
        r = self.llms["json"].completion(model=MODEL, messages=_msgs(), max_tokens=MAX_TOKENS)
        return {
            "text": r.choices[0].message.content,
            "input_tokens": r.usage.prompt_tokens,
            "output_tokens": r.usage.completion_tokens,
        }

    def _stream(self, scenario: str, **kw: Any) -> Result:
        acc = Acc()
        for chunk in self.llms[scenario].completion(
            model=MODEL,
            messages=_msgs(),
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
            **kw,
        ):
            _openai_chunk(acc, chunk)
        return acc.result()

    def stream(self, scenario: str) -> Result:
        return self._stream(scenario)

    def tools(self) -> Result:
        return self._stream("tools", tools=[TOOL_SPEC, TOOL_SPEC_TIME])

    def anthropic(self) -> Result:
        raise NotApplicableError("needs any-llm-sdk[anthropic] (official anthropic SDK); not benchmarked")


class PydanticAI(Client):
    """pydantic-ai ``Agent`` over ``OpenAIChatModel``; streams via ``run_stream``/``stream_text`` undebounced."""

    name = "pydantic_ai"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        from pydantic_ai import Agent
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        self.agents = {
            s: Agent(
                OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=self.base(s), api_key="sk-bench")),
                model_settings={"max_tokens": MAX_TOKENS},
            )
            for s in ("json", "stream50", "stream1000")
        }
        self.loop = asyncio.new_event_loop()

    def json(self) -> Result:
        r = self.agents["json"].run_sync(PROMPT)
        u = r.usage
        return {"text": r.output, "input_tokens": u.input_tokens, "output_tokens": u.output_tokens}

    async def astream(self, scenario: str) -> Result:
        parts: list[str] = []
        async with self.agents[scenario].run_stream(PROMPT) as r:
            async for t in r.stream_text(delta=True, debounce_by=None):
                parts.append(t)
            u = r.usage
        return {"text": "".join(parts), "input_tokens": u.input_tokens, "output_tokens": u.output_tokens}

    def stream(self, scenario: str) -> Result:
        return self.loop.run_until_complete(self.astream(scenario))

    def tools(self) -> Result:
        raise NotApplicableError("Agent executes tools itself; raw tool-call deltas are not exposed the same way")

    def anthropic(self) -> Result:
        raise NotApplicableError("needs pydantic-ai-slim[anthropic] (official anthropic SDK); not benchmarked")


CLIENTS: dict[str, type[Client]] = {
    "httpx": RawHttpx,
    "openai": OpenAI,
    "litellm": LiteLLM,
    "any_llm": AnyLLM,
    "pydantic_ai": PydanticAI,
}


def _register_ours() -> None:
    from bench_ours import Ours  # bench/bench_ours.py: the adapter for sycophant_py

    CLIENTS["ours"] = Ours


# ---------------------------------------------------------------------------------------------- scenarios


def measure(fn: Callable[[], Any], min_cpu: float, min_iters: int, max_iters: int) -> Result:
    """Call ``fn`` until ``min_cpu`` CPU seconds and ``min_iters`` calls; CPU and wall per call."""
    pt, pc = time.process_time, time.perf_counter
    n = 0
    c0, w0 = pt(), pc()
    while True:
        fn()
        n += 1
        cpu = pt() - c0
        if n >= max_iters or (n >= min_iters and cpu >= min_cpu):
            break
    return {"cpu": cpu / n, "wall": (pc() - w0) / n, "iters": n}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _ticker(lags: list[tuple[float, float]], stop: asyncio.Event, period: float = 0.01) -> None:
    """Sleep ``period`` in a loop; record (overshoot, this process's CPU time spent meanwhile)."""
    loop = asyncio.get_running_loop()
    pt = time.process_time
    while not stop.is_set():
        t, c = loop.time(), pt()
        await asyncio.sleep(period)
        lags.append((loop.time() - t - period, pt() - c))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def concurrent(client: Client, n: int, ramp: float) -> Result:
    """``n`` simultaneous async streams of the paced 50-chunk route through one client.

    Stream ``i`` starts at ``i * ramp / n`` seconds (``ramp=0``: all in the same loop tick).
    """
    first = await client.astream("concurrent")  # warm-up: connection, lazy imports
    if (err := check("concurrent", first)) is not None:
        return {"error": f"wrong output: {err}"}
    rss0 = _rss_mb()
    lags: list[tuple[float, float]] = []
    stop = asyncio.Event()
    in_flight = [0, 0]  # now, peak

    async def one(i: int) -> Result:
        if ramp:
            await asyncio.sleep(i * ramp / n)
        in_flight[0] += 1
        in_flight[1] = max(in_flight[1], in_flight[0])
        try:
            return await client.astream("concurrent")
        finally:
            in_flight[0] -= 1

    ticker = asyncio.create_task(_ticker(lags, stop))
    await asyncio.sleep(0.05)
    lags.clear()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    c0, w0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    stop.set()
    await ticker
    wall_lag = [lag for lag, _ in lags]
    # Lag the process caused itself: it cannot exceed the CPU it burnt while the ticker slept.  The rest is
    # time the OS gave to other processes (a busy machine), not time the event loop was blocked.
    cpu_lag = [max(0.0, min(lag, cpu)) for lag, cpu in lags]
    lost = [r for r in results if isinstance(r, BaseException)]
    wrong = [r for r in results if not isinstance(r, BaseException) and check("concurrent", r) is not None]
    await client.aclose()
    return {
        "n": n,
        "ramp": ramp,
        "peak_in_flight": in_flight[1],
        "wall": wall,
        "cpu": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss0,
        "lag_p50_ms": _pct(wall_lag, 0.5) * 1e3,
        "lag_p99_ms": _pct(wall_lag, 0.99) * 1e3,
        "lag_max_ms": max(wall_lag, default=0.0) * 1e3,
        "lag_samples": len(lags),
        "cpu_lag_p50_ms": _pct(cpu_lag, 0.5) * 1e3,
        "cpu_lag_p99_ms": _pct(cpu_lag, 0.99) * 1e3,
        "involuntary_switches": ru1.ru_nivcsw - ru0.ru_nivcsw,
        "lost": len(lost),
        "wrong": len(wrong),
        "first_error": repr(lost[0])[:200] if lost else (repr(wrong[0])[:200] if wrong else None),
    }


def decoder_input() -> list[bytes]:
    """The 1,000-chunk stream's SSE body, one piece per event (as chunked transfer delivers it)."""
    from server import chat_stream_events

    return [e.encode() for e in chat_stream_events(CHUNKS["stream1000"])]


def run_decoders(client: Client, min_cpu: float) -> Result:
    """Events per CPU second through the client's pure decoding path."""
    decode = client.decoders()
    pieces = decoder_input()
    events = decode(pieces)
    if events < CHUNKS["stream1000"]:
        return {"error": f"decoder saw {events} events"}
    for _ in range(3):
        decode(pieces)
    m = measure(lambda: decode(pieces), min_cpu, 5, 10_000)
    return {"events": events, "cpu_per_stream": m["cpu"], "events_per_s": events / m["cpu"], "iters": m["iters"]}


class Worker:
    """Holds one client and answers commands."""

    def __init__(self, name: str, url: str) -> None:
        if name == "ours":
            _register_ours()
        self.client = CLIENTS[name](url)
        self.warm: set[str] = set()

    def check(self, scenario: str) -> Result:
        """Run ``scenario`` once and compare with the expected output."""
        try:
            got = self.client.run(scenario)
        except NotApplicableError as e:
            return {"status": "n/a", "reason": str(e)}
        except Exception as e:  # noqa: BLE001 - any client failure is a result to report
            return {"status": "error", "reason": f"{type(e).__name__}: {e}"[:300]}
        err = check(scenario, got)
        return {"status": "ok"} if err is None else {"status": "wrong", "reason": err}

    def measure(self, scenario: str, min_cpu: float = 0.15, min_iters: int = 2, max_iters: int = 5000) -> Result:
        """CPU per call of ``scenario`` (after a warm-up the first time)."""
        fn = lambda: self.client.run(scenario)  # noqa: E731
        if scenario not in self.warm:
            measure(fn, min(min_cpu, 0.1), 1, max_iters)
            self.warm.add(scenario)
        m = measure(fn, min_cpu, min_iters, max_iters)
        m["cpu_per_chunk"] = m["cpu"] / chunk_count(scenario)
        return m

    def handle(self, cmd: Result) -> Result:
        """Dispatch one command."""
        op = cmd.pop("op")
        try:
            if op == "check":
                return self.check(cmd["scenario"])
            if op == "measure":
                return self.measure(**cmd)
            if op == "decoders":
                return run_decoders(self.client, cmd.get("min_cpu", 0.2))
            if op == "concurrent":
                return asyncio.run(concurrent(self.client, cmd.get("n", 1000), cmd.get("ramp", 0.0)))
        except NotApplicableError as e:
            return {"status": "n/a", "reason": str(e)}
        except Exception as e:  # noqa: BLE001 - reported, the worker keeps serving
            return {"error": f"{type(e).__name__}: {e}"[:300]}
        return {"error": f"unknown op {op}"}


def main(argv: list[str]) -> int:
    """Entry point; see the module docstring."""
    install_network_guard()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library chatter must not corrupt the JSON channel
    sys.stdout = sys.stderr
    name, url, what = argv[1], argv[2], argv[3]
    t0 = time.perf_counter()
    try:
        worker = Worker(name, url)
    except Exception as e:  # noqa: BLE001 - reported as a fatal result
        out.write(json.dumps({"fatal": f"{type(e).__name__}: {e}"[:300]}) + "\n")
        return 1
    setup = time.perf_counter() - t0
    if what != "--serve":
        op = what if what in ("concurrent", "decoders") else "measure"
        cmd: Result = {"op": op} if op != "measure" else {"op": op, "scenario": what}
        if op == "concurrent":
            cmd["ramp"] = float(os.environ.get("BENCH_RAMP", "0"))
        if what.startswith("profile:"):  # warm up, say so, then run long for a profiler attached by pid
            scenario = what.split(":", 1)[1]
            worker.measure(scenario, min_cpu=0.5)
            out.write(json.dumps({"profiling": os.getpid()}) + "\n")
            seconds = float(os.environ.get("BENCH_PROFILE_SECONDS", "6"))
            cmd = {"op": "measure", "scenario": scenario, "min_cpu": seconds, "max_iters": 10**6}
        out.write(json.dumps(worker.handle(cmd)) + "\n")
        return 0
    out.write(json.dumps({"ready": True, "setup_s": setup}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        out.write(json.dumps(worker.handle(json.loads(line))) + "\n")
    return 0


if __name__ == "__main__":
    sys.modules["worker"] = sys.modules[__name__]  # bench_ours imports from "worker": one module, one class set
    sys.exit(main(sys.argv))
