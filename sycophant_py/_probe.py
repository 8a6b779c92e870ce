"""Reachability probes for local servers, and checks run side by side under one time bound.

A probe opens a TCP connection to the URL's host, sends ``GET <path>`` and waits for the first
bytes of an HTTP answer: any status counts (a 401 or a 404 still means a server is there). It never
takes longer than :data:`PROBE_TIMEOUT` from start to answer: a closed port fails at once, a
socket that accepts but never answers (or never accepts) fails at the deadline. Nothing secret is
sent. Answers are cached per URL for :data:`PROBE_TTL` seconds, so listing providers twice in a row
costs one round of probes.

:func:`run_bounded` runs checks (probes, backends' ``available()``) in daemon threads at the same
time and waits at most ``timeout`` for all of them: many local providers cost one bound, not one
each. A check still running at the bound counts as False (its thread finishes on its own).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from urllib.parse import urlsplit

from sycophant_py._log import log

__all__ = ["PROBE_TIMEOUT", "PROBE_TTL", "probe", "reachable", "run_bounded"]

PROBE_TIMEOUT = 0.8
"""Seconds a probe may take, connect to first answer byte (below the 1 s promised to callers)."""
PROBE_TTL = 5.0
"""Seconds a probe's answer is reused."""
WAIT_TIMEOUT = 1.0
"""The bound on a batch of checks (probes and backends' ``available()``)."""

_cache: dict[str, tuple[float, bool]] = {}
_cache_lock = threading.Lock()


def _request(host: str, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sycophant_py-probe\r\n"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "replace")


def _read_status(sock: socket.socket, deadline: float) -> bool:
    """True once the first five bytes read ``HTTP/`` (before the deadline)."""
    data = b""
    while len(data) < 5:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        chunk = sock.recv(5 - len(data))
        if not chunk:
            return False
        data += chunk
    return data.startswith(b"HTTP/")


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether an HTTP server answers at ``url`` within ``timeout`` seconds (not cached).

    Args:
        url: ``http://`` or ``https://`` URL; its path is what is requested.
        timeout: The bound, connect to first answer byte.
    """
    parts = urlsplit(url)
    host, tls = parts.hostname, parts.scheme == "https"
    if not host or parts.scheme not in ("http", "https"):
        return False
    deadline = time.monotonic() + timeout
    try:
        port = parts.port or (443 if tls else 80)
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
            if tls:
                sock = stack.enter_context(_tls_context().wrap_socket(sock, server_hostname=host))
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(_request(parts.netloc, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")))
            return _read_status(sock, deadline)
    except (OSError, ValueError):
        return False


def _tls_context() -> ssl.SSLContext:
    # Only "is a server there?" is asked and nothing secret is sent, so a local server's
    # self-signed certificate does not make it unreachable.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _cached(url: str) -> bool | None:
    with _cache_lock:
        hit = _cache.get(url)
    if hit is None or hit[0] <= time.monotonic():
        return None
    return hit[1]


def _store(url: str, ok: bool) -> None:
    with _cache_lock:
        _cache[url] = (time.monotonic() + PROBE_TTL, ok)


def reachable(urls: Iterable[str], timeout: float = WAIT_TIMEOUT) -> dict[str, bool]:
    """Probe several URLs side by side (cached answers reused) within ``timeout`` in all.

    Returns:
        URL -> whether a server answered.
    """
    out: dict[str, bool] = {}
    pending: dict[Hashable, Callable[[], bool]] = {}
    bound = min(PROBE_TIMEOUT, timeout)
    for url in dict.fromkeys(urls):
        hit = _cached(url)
        if hit is None:
            pending[url] = functools.partial(probe, url, bound)
        else:
            out[url] = hit
    for key, ok in run_bounded(pending, timeout).items():
        _store(str(key), ok)
        out[str(key)] = ok
    return out


def run_bounded(checks: Mapping[Hashable, Callable[[], bool]], timeout: float = WAIT_TIMEOUT) -> dict[Hashable, bool]:
    """Run checks in daemon threads at once and wait at most ``timeout`` seconds for them all.

    A check that raises, or is still running at the bound, counts as False (a ``check.failed`` /
    ``check.timed_out`` debug event says which).

    Returns:
        Key -> the check's answer (``bool(...)`` of what it returned).
    """
    results: dict[Hashable, bool] = {}

    def run(key: Hashable, check: Callable[[], bool]) -> None:
        try:
            results[key] = bool(check())
        except Exception as exc:  # noqa: BLE001 - a failing check means "not available"
            log.debug("check.failed", check=str(key), error=f"{type(exc).__name__}: {exc}")
            results[key] = False

    if len(checks) == 1:  # no thread for a single check: it bounds itself or is the caller's
        ((key, check),) = checks.items()
        run(key, check)
        return results
    threads = [threading.Thread(target=run, args=item, daemon=True, name="sycophant-check") for item in checks.items()]
    for t in threads:
        t.start()
    end = time.monotonic() + timeout
    for t in threads:
        t.join(max(end - time.monotonic(), 0))
    out = {key: results.get(key, False) for key in checks}
    for key in checks:
        if key not in results:
            log.debug("check.timed_out", check=str(key), timeout=timeout)
    return out


def clear_cache() -> None:
    """Forget every cached probe answer."""
    with _cache_lock:
        _cache.clear()
