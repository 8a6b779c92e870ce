"""Shared, stdlib-only pieces of the benchmark: fixtures, expected outputs and the network guard.

Imported by the orchestrator, the server and by workers running in every peer venv, so it must not
import anything outside the standard library.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude"
PROMPT = "hi"
MAX_TOKENS = 64
INPUT_TOKENS = 11
CREATED = 1_700_000_000

# Scenario name -> URL prefix served by bench/server.py.  Clients get base_url = f"{url}/{prefix}/v1".
ROUTES = {
    "json": "json",  # non-streaming chat completion
    "stream50": "s50",
    "stream1000": "s1000",
    "tools": "tools",
    "anthropic": "anth",
    "concurrent": "paced",  # slow, long-lived stream for the concurrency test
}
CHUNKS = {"stream50": 50, "stream1000": 1000, "concurrent": 20}
PACE_SECONDS = 0.5  # mean gap between events of the paced stream (jittered ±50%)
TOOL_CALLS = (
    ("get_weather", {"city": "Paris", "unit": "celsius", "days": 3}),
    ("get_time", {"timezone": "Europe/Paris"}),
)
TOOL_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
TOOL_SPEC_TIME: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Time in a timezone.",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
    },
}
TOOL_ARG_PIECES = 8  # each tool call's JSON arguments are split into this many deltas


def words(n: int) -> list[str]:
    """The ``n`` text deltas of a stream: short, varied, token-like pieces."""
    vocab = ("The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".", " Ça", " va", "?")
    return [f"{vocab[i % len(vocab)]}{i}" if i % 7 == 0 else vocab[i % len(vocab)] for i in range(n)]


def expected(scenario: str) -> dict[str, Any]:
    """What a correct client must return for ``scenario``."""
    if scenario == "json":
        text = "".join(words(12))
        return {"text": text, "input_tokens": INPUT_TOKENS, "output_tokens": 12}
    if scenario in CHUNKS:
        n = CHUNKS[scenario]
        return {"text": "".join(words(n)), "input_tokens": INPUT_TOKENS, "output_tokens": n}
    if scenario == "tools":
        return {
            "text": "",
            "tool_calls": [[name, args] for name, args in TOOL_CALLS],
            "input_tokens": INPUT_TOKENS,
            "output_tokens": 2 * TOOL_ARG_PIECES + 2,
        }
    if scenario == "anthropic":
        n = 50
        return {"text": "".join(words(n)), "input_tokens": INPUT_TOKENS, "output_tokens": n}
    raise KeyError(scenario)


def chunk_count(scenario: str) -> int:
    """Number of SSE events of ``scenario`` that carry payload (for per-chunk figures)."""
    if scenario in CHUNKS:
        return CHUNKS[scenario]
    if scenario == "tools":
        return len(TOOL_CALLS) * (TOOL_ARG_PIECES + 1)
    if scenario == "anthropic":
        return 50
    return 1


def check(scenario: str, got: dict[str, Any]) -> str | None:
    """Compare a worker's normalised output with :func:`expected`; ``None`` when correct."""
    want = expected(scenario)
    for key, value in want.items():
        have = got.get(key)
        if key == "tool_calls":
            have = [[n, json.loads(a) if isinstance(a, str) else a] for n, a in (have or [])]
        if have != value:
            shown = repr(have)
            return f"{key}: got {shown[:80]}{'...' if len(shown) > 80 else ''}, want {repr(value)[:60]}"
    return None


def offline_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for peer processes: no telemetry, no model-price downloads, no proxies."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOG": "ERROR",
            "ANONYMIZED_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            "OPENAI_API_KEY": "sk-bench",
            "ANTHROPIC_API_KEY": "sk-bench",
            "HF_HUB_OFFLINE": "1",
            "NO_PROXY": "*",
            "PYTHONDONTWRITEBYTECODE": "",
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE")
    if extra:
        env.update(extra)
    return env


_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    return isinstance(host, str) and (host in _LOOPBACK_NAMES or host.startswith("127."))


def install_network_guard() -> None:
    """Refuse any socket connection or name lookup that is not loopback (belt and braces)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _check(address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise OSError(f"bench network guard: refusing connection to {address[0]!r}")

    def connect(self: socket.socket, address: Any) -> None:
        _check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(f"bench network guard: refusing lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
