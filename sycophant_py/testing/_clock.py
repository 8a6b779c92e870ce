"""An injectable clock: retries and timeouts run in test time, never real time."""

from __future__ import annotations

from dataclasses import replace

from sycophant_py import _config

__all__ = ["FakeClock"]


class FakeClock:
    """A monotonic clock whose ``sleep`` advances time instantly and records each wait.

    ``install()`` puts it into the retry policy (sync and async sleeps and the clock);
    ``uninstall()`` restores the previous policy. Usable as a context manager.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._saved: _config.RetryPolicy | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and advance the clock."""
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        """Async twin of ``sleep``."""
        self.sleep(seconds)

    def install(self) -> FakeClock:
        """Use this clock for retries and call deadlines."""
        s = _config.settings()
        self._saved = s.retry
        s.retry = replace(s.retry, sleep=self.sleep, async_sleep=self.async_sleep, clock=self)
        return self

    def uninstall(self) -> None:
        """Restore the previous retry policy."""
        if self._saved is not None:
            _config.settings().retry = self._saved
            self._saved = None

    def __enter__(self) -> FakeClock:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()
