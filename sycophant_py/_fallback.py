"""Ordered fallbacks and aliases: ``generate_text(["openai:gpt-4o", "ollama:llama3"], ...)``.

A model argument that is a list of specs, or a name without a colon (an alias from
``configure(aliases=...)`` or ``[aliases]`` in the config file), is an ordered fallback:

- the next model is tried at once (no wait, no retry of the failed one) when a model fails with
  429, a 5xx or "overloaded", a timeout, a connection error or ``ContextOverflow``;
- never on another 4xx, a caller error or an undecodable answer: that error is raised as it is;
- never after a stream delivered content: a stream whose provider fails *before* its first
  text, thinking or tool-call event moves on (the caller never sees the failed attempt, nor a
  second ``start``); after that, a failure is the stream's ``error`` event as usual;
- the last model keeps the normal retry policy; ``timeout=`` bounds all the attempts together;
- when every model failed, ``AllModelsFailed`` carries each attempt's error (``.errors``), in order.

The response names the model that answered (``resp.provider``, ``resp.model``). An alias given
weights (``{"models": [...], "weights": [3, 1]}``) draws its order per call by weight: load
balancing between equivalent deployments, the others staying fallbacks.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from sycophant_py import _config
from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import (
    AllModelsFailed,
    ContextOverflow,
    InvalidError,
    Overloaded,
    ProviderConnectionError,
    ProviderError,
    RateLimited,
    ServerError,
    StreamAborted,
    SycophantError,
    Timeout,
    UnknownName,
)
from sycophant_py._log import log
from sycophant_py._types import Response

__all__ = ["FallbackSource", "arun", "candidates", "is_fallback_error", "run"]

T = TypeVar("T")
_FALLBACK = (RateLimited, Overloaded, ServerError, Timeout, ProviderConnectionError, ContextOverflow)
_CONTENT = frozenset(
    {"text_start", "text_delta", "thinking_start", "thinking_delta", "toolcall_start", "toolcall_delta"}
)


def is_fallback_error(exc: BaseException) -> bool:
    """True when the next model of a fallback list should be tried after ``exc``."""
    if isinstance(exc, _FALLBACK):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(exc, ProviderError) and isinstance(status, int) and (status == 429 or status >= 500)


def _weighted(models: list[str], weights: list[float]) -> list[str]:
    """An order drawn by weight, without replacement (not crypto: load balancing)."""
    pool = list(zip(models, weights, strict=True))
    out: list[str] = []
    while pool:
        pick = random.random() * sum(w for _, w in pool)  # load balancing, not security
        for i, (model, w) in enumerate(pool):
            pick -= w
            if pick <= 0 or i == len(pool) - 1:
                out.append(model)
                del pool[i]
                break
    return out


def _expand(name: str, aliases: dict[str, dict[str, Any]], seen: tuple[str, ...]) -> list[str]:
    if ":" in name:
        return [name]
    alias = aliases.get(name)
    if alias is None:
        raise UnknownName("model alias (a model spec is 'provider:model-id')", name, list(aliases))
    if name in seen:
        raise InvalidError(f"alias {name!r} refers to itself: {' -> '.join((*seen, name))}")
    models = list(alias["models"])
    weights = alias.get("weights")
    order = _weighted(models, list(weights)) if weights else models
    return [spec for item in order for spec in _expand(item, aliases, (*seen, name))]


def candidates(model: str | Sequence[str]) -> list[str] | None:
    """The specs to try in order, or None for one plain ``provider:model`` spec (no fallback).

    Raises:
        InvalidError: an empty list, a non-string entry, an unknown alias or an alias cycle.
    """
    if isinstance(model, str):
        if ":" in model:
            return None
        names: Sequence[Any] = [model]
    else:
        names = model
        if not names:
            raise InvalidError("the model list is empty: give at least one 'provider:model' spec")
    aliases = _config.settings().aliases
    out: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise InvalidError(f"a model list holds specs (strings), not {type(name).__name__}")
        for spec in _expand(name, aliases, ()):
            if spec not in out:
                out.append(spec)
    return out


def _all_failed(errors: list[tuple[str, SycophantError]]) -> AllModelsFailed:
    lines = "; ".join(f"{spec}: {type(e).__name__}: {str(e)[:200]}" for spec, e in errors)
    last = errors[-1][1]
    kw: dict[str, Any] = {}
    if isinstance(last, ProviderError):
        kw = {"status_code": last.status_code, "provider": last.provider, "model": last.model}
    err = AllModelsFailed(f"all {len(errors)} models failed: {lines}", errors=[e for _, e in errors], **kw)
    err.__cause__ = last
    return err


def _moving_on(spec: str, exc: BaseException, nxt: str) -> None:
    log.info("fallback.next", failed=spec, error=type(exc).__name__, status=getattr(exc, "status_code", None), next=nxt)


def run(specs: list[str], attempt: Callable[[str, bool], T]) -> T:
    """``attempt(spec, last)`` for each spec in order until one succeeds (sync)."""
    errors: list[tuple[str, SycophantError]] = []
    for i, spec in enumerate(specs):
        last = i == len(specs) - 1
        try:
            return attempt(spec, last)
        except ProviderError as exc:
            if not is_fallback_error(exc) and not errors:
                raise
            errors.append((spec, exc))
            if last or not is_fallback_error(exc):
                raise _all_failed(errors) from exc
            _moving_on(spec, exc, specs[i + 1])
    raise AssertionError("unreachable")  # pragma: no cover


async def arun(specs: list[str], attempt: Callable[[str, bool], Awaitable[T]]) -> T:
    """Async twin of :func:`run`."""
    errors: list[tuple[str, SycophantError]] = []
    for i, spec in enumerate(specs):
        last = i == len(specs) - 1
        try:
            return await attempt(spec, last)
        except ProviderError as exc:
            if not is_fallback_error(exc) and not errors:
                raise
            errors.append((spec, exc))
            if last or not is_fallback_error(exc):
                raise _all_failed(errors) from exc
            _moving_on(spec, exc, specs[i + 1])
    raise AssertionError("unreachable")  # pragma: no cover


# -- streams ---------------------------------------------------------------------------------


class _Buffered:
    """A stream core whose first events were read ahead (to decide whether to move on)."""

    def __init__(self, core: Any, events: list[StreamEvent]) -> None:
        self._core = core
        self._events = events

    @property
    def final(self) -> Response | None:
        final: Response | None = self._core.final
        return final

    def begin(self) -> list[StreamEvent]:
        events, self._events = self._events, []
        return events

    def feed(self, item: Any) -> Any:
        return self._core.feed(item)

    def end(self) -> Any:
        return self._core.end()

    def fail(self, exc: Exception) -> Any:
        return self._core.fail(exc)

    def abort(self) -> Response:
        resp: Response = self._core.abort()
        return resp


class _Unopened:
    """The core of a fallback stream closed before any candidate was opened."""

    final: Response | None = None

    def __init__(self, spec: str) -> None:
        self._spec = spec

    def abort(self) -> Response:
        if self.final is None:
            provider, _, model = self._spec.partition(":")
            error = StreamAborted("the stream was closed by the caller")
            self.final = Response(finish_reason="aborted", provider=provider, model=model, error=error)
        return self.final


def _decided(events: list[StreamEvent]) -> bool:
    return any(ev.type in _CONTENT or ev.type in ("done", "error") for ev in events)


def _failure(events: list[StreamEvent]) -> BaseException | None:
    """The error of a stream that failed before any content (None when it delivered content or ended well)."""
    if events and events[-1].type == "error" and not any(ev.type in _CONTENT for ev in events):
        return events[-1].error
    return None


class FallbackSource:
    """The ``Source`` of a stream over a fallback list: opens the candidates in order.

    Args:
        specs: The model specs, in order.
        source_for: Builds the prepared source of one spec (``last`` tells whether retries apply).
        asource_for: The async twin (credentials are prepared on first use).
    """

    def __init__(
        self,
        specs: list[str],
        source_for: Callable[[str, bool], Any],
        asource_for: Callable[[str, bool], Any] | None = None,
    ) -> None:
        self._specs = specs
        self._source_for = source_for
        self._asource_for = asource_for
        self._inner: Any = None
        self._errors: list[tuple[str, SycophantError]] = []

    def _give_up(self, i: int, spec: str, exc: BaseException) -> bool:
        """Record a failed attempt; True when the next spec is to be tried."""
        if not isinstance(exc, ProviderError) or (not is_fallback_error(exc) and not self._errors):
            return False
        self._errors.append((spec, exc))
        if i == len(self._specs) - 1 or not is_fallback_error(exc):
            raise _all_failed(self._errors) from exc
        _moving_on(spec, exc, self._specs[i + 1])
        return True

    def open(self) -> tuple[Any, Iterator[Any]]:
        """Open the candidates in order until one starts well (sync)."""
        for i, spec in enumerate(self._specs):
            try:
                source = self._source_for(spec, i == len(self._specs) - 1)
                core, items = source.open()
                events = list(core.begin())
                while not _decided(events):
                    try:
                        item = next(items)
                    except StopIteration:
                        events += list(core.end())
                    except Exception as exc:  # noqa: BLE001 - becomes the error event, as in the shells
                        events += list(core.fail(exc))
                    else:
                        events += list(core.feed(item))
                failed = _failure(events)
                if failed is not None and i < len(self._specs) - 1 and self._give_up(i, spec, failed):
                    source.close()
                    continue
                self._inner = source
                return _Buffered(core, events), items
            except ProviderError as exc:
                if not self._give_up(i, spec, exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def aopen(self) -> tuple[Any, AsyncIterator[Any]]:
        """Async twin of :meth:`open`."""
        assert self._asource_for is not None
        for i, spec in enumerate(self._specs):
            try:
                source = self._asource_for(spec, i == len(self._specs) - 1)
                core, items = await source.aopen()
                events = list(core.begin())
                while not _decided(events):
                    try:
                        item = await anext(items)
                    except StopAsyncIteration:
                        events += list(core.end())
                    except Exception as exc:  # noqa: BLE001 - becomes the error event
                        events += list(core.fail(exc))
                    else:
                        events += list(core.feed(item))
                failed = _failure(events)
                if failed is not None and i < len(self._specs) - 1 and self._give_up(i, spec, failed):
                    await source.aclose()
                    continue
                self._inner = source
                return _Buffered(core, events), items
            except ProviderError as exc:
                if not self._give_up(i, spec, exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def fallback_core(self) -> Any:
        """A core for a stream closed before it opened (nothing was resolved nor sent)."""
        if self._inner is not None:
            return self._inner.fallback_core()
        return _Unopened(self._specs[0])

    def close(self) -> None:
        """Release the open candidate (sync)."""
        if self._inner is not None:
            self._inner.close()

    async def aclose(self) -> None:
        """Release the open candidate (async)."""
        if self._inner is not None:
            await self._inner.aclose()

    def finish(self) -> None:
        """The stream ended well (sync)."""
        if self._inner is not None:
            self._inner.finish()

    async def afinish(self) -> None:
        """The stream ended well (async)."""
        if self._inner is not None:
            await self._inner.afinish()

    def abandon(self) -> None:
        """Release from a finaliser."""
        if self._inner is not None:
            self._inner.abandon()
