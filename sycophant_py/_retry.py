"""Retry policy: one pure predicate, Retry-After parsing, and the composed tenacity strategies.

``is_retryable(exc)`` is the only place that decides: connection errors, timeouts, 408, 409,
429, 5xx and "overloaded" are retried; every other 4xx never is; ``x-should-retry: false``
forbids a retry. The wait honours ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)
up to the policy's cap, else exponential backoff with jitter. Retries wrap a single transport
attempt, and a stream is never retried once it delivered an event (the pipeline only retries the
opening of a stream). No retry is made whose wait would end past the call's ``timeout=``
deadline: the last error is raised instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from sycophant_py._config import RetryPolicy
from sycophant_py._exceptions import (
    Overloaded,
    ProviderConnectionError,
    ProviderError,
    RateLimited,
    ServerError,
    Timeout,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["compute_wait", "is_retryable", "parse_retry_after"]

_RETRY_STATUS = frozenset({408, 409, 429})


def is_retryable(exc: BaseException | None) -> bool:
    """True when retrying the attempt that raised ``exc`` may succeed (walks ``__cause__``)."""
    while exc is not None:
        if isinstance(exc, ProviderError):
            if getattr(exc, "should_retry", None) is False:
                return False
            if isinstance(exc, (ProviderConnectionError, Timeout, RateLimited, Overloaded, ServerError)):
                return True
            status = exc.status_code
            return status is not None and (status in _RETRY_STATUS or status >= 500)
        exc = exc.__cause__
    return False


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def compute_wait(policy: RetryPolicy, attempt: int, exc: BaseException | None) -> float:
    """Seconds to sleep before retry number ``attempt`` (1-based)."""
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, (int, float)) and retry_after >= 0:
        return float(min(retry_after, policy.max_retry_after))
    base = min(policy.initial_backoff * (2 ** (attempt - 1)), policy.max_backoff)
    return float(base * (0.75 + random.random() * 0.25))  # jitter, not crypto


def _now(policy: RetryPolicy) -> float:
    return policy.clock() if policy.clock is not None else time.monotonic()


def tenacity_kwargs(policy: RetryPolicy, before_sleep: Any, deadline: float | None = None) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` built from the policy.

    Args:
        policy: Attempts, backoff, the Retry-After cap and the injectable sleep and clock.
        before_sleep: Called before each wait (logging, hooks).
        deadline: The call's total-timeout deadline (on the policy's clock): a retry whose wait
            would end at or after it is not made, so ``timeout=`` bounds the whole call.
    """
    from tenacity import retry_if_exception, stop_after_attempt

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return compute_wait(policy, state.attempt_number, exc)

    attempts = stop_after_attempt(policy.max_retries + 1)

    def stop(state: RetryCallState) -> bool:
        if attempts(state):
            return True
        return deadline is not None and _now(policy) + state.upcoming_sleep >= deadline

    kw: dict[str, Any] = {
        "retry": retry_if_exception(is_retryable),
        "stop": stop,
        "wait": wait,
        "reraise": True,
        "before_sleep": before_sleep,
    }
    if policy.sleep is not None:
        kw["sleep"] = policy.sleep
    return kw
