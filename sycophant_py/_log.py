"""Structured log events on the standard ``sycophant_py`` logger, rendered through structlog.

Events are short names with fields (``request.sent``, ``request.retrying``, ``params.dropped``).
The library never configures logging: the ``sycophant_py`` logger gets a ``NullHandler`` so an
application that configures nothing sees nothing. The level check happens first, so a disabled
event costs one method call; structlog is imported at the first event that is actually emitted.
The records carry the fields as attributes (``record.provider``...) for ``logging`` users, and
structlog's ``ProcessorFormatter`` renders them too.

No key reaches an event: the first processor runs ``_redact.redact_fields`` over the event dict,
so a field with a secret's name is masked whatever its value, and remembered keys or recognisable
key shapes inside any value (a URL with ``?key=``, an error text) are masked too. It runs only for
events that are actually emitted.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

__all__ = ["BoundLog", "log"]

_logger = logging.getLogger("sycophant_py")
_logger.addHandler(logging.NullHandler())

_wrapped: Any = None


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    from sycophant_py._redact import redact_fields

    safe = redact_fields(event_dict)
    event_dict.clear()
    event_dict.update(safe)
    return event_dict


def _structlog_logger() -> Any:
    global _wrapped
    if _wrapped is None:
        import structlog

        _wrapped = structlog.wrap_logger(
            _logger,
            processors=[
                _redact,
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso"),
                structlog.stdlib.render_to_log_kwargs,
            ],
            wrapper_class=structlog.stdlib.BoundLogger,
        )
    return _wrapped


class BoundLog:
    """A logger bound to some fields; methods are no-ops unless the level is enabled."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: dict[str, Any] | None = None) -> None:
        self._ctx = ctx or {}

    def bind(self, **fields: Any) -> BoundLog:
        """Return a logger with more fields bound."""
        return BoundLog({**self._ctx, **fields})

    def _emit(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if not _logger.isEnabledFor(level):
            return
        method = logging.getLevelName(level).lower()
        getattr(_structlog_logger(), method)(event, **self._ctx, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        """Emit a debug event."""
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        """Emit an info event."""
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Emit a warning event."""
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Emit an error event."""
        self._emit(logging.ERROR, event, fields)

    def enabled(self, level: int = logging.DEBUG) -> bool:
        """True when events of ``level`` would be emitted."""
        return _logger.isEnabledFor(level)


log = BoundLog()
