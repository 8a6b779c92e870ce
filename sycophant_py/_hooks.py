"""Event hooks: ``on("request" | "response" | "error" | "retry", fn)``.

A hook is a plain callable receiving one dict payload. A hook that raises is logged
(``hook.failed``) and never breaks the call.

No secret reaches a hook: ``emit`` passes ``_redact.redact(payload)``, a copy in which every value
under a secret's name, every remembered key and every recognisable key shape is masked, however
deep (dicts, lists, dataclasses, objects, exceptions). What holds no secret is passed as it is (the
``response`` hook receives the very ``Response`` the call returns). It runs only when hooks are
registered for the event. Async calls accept async hooks too; sync calls skip
(and log) coroutine results they cannot await.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

from sycophant_py._exceptions import UnknownName

__all__ = ["HookName", "active", "emit", "off", "on"]

HookName: TypeAlias = Literal["request", "response", "error", "retry"]
Hook: TypeAlias = Callable[[dict[str, Any]], Any]

_HOOKS: dict[str, list[Hook]] = {"request": [], "response": [], "error": [], "retry": []}
_lock = threading.Lock()


def on(name: HookName, fn: Hook) -> Hook:
    """Call ``fn(payload)`` on every event ``name``; returns ``fn`` (usable as a decorator factory).

    Raises:
        UnknownName: ``name`` is not a hook event.
    """
    if name not in _HOOKS:
        raise UnknownName("hook event", name, list(_HOOKS))
    with _lock:
        _HOOKS[name].append(fn)
    return fn


def off(name: HookName, fn: Hook) -> None:
    """Remove a hook added with ``on``."""
    with _lock:
        if fn in _HOOKS.get(name, []):
            _HOOKS[name].remove(fn)


def active(name: str) -> bool:
    """True when hooks are registered for ``name`` (so payloads are built only when needed)."""
    return bool(_HOOKS.get(name))


def emit(name: str, payload: dict[str, Any]) -> None:
    """Run the hooks of ``name``; failures are logged, never raised."""
    hooks = _HOOKS.get(name)
    if not hooks:
        return
    from sycophant_py._redact import redact

    payload = redact(payload)
    for fn in list(hooks):
        try:
            result = fn(payload)
            if inspect.iscoroutine(result):
                result.close()
                raise TypeError("async hook called from a sync call")
        except Exception as exc:  # noqa: BLE001 - a failing hook must never break the call
            from sycophant_py._log import log

            log.warning("hook.failed", hook=name, error=f"{type(exc).__name__}: {exc}")
