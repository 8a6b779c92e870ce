"""Third-party extensions: the ``sycophant_py.extensions`` entry-point group.

A package extends the library by declaring an entry point in that group whose object is a
function taking one argument, the registration API (:class:`ExtensionAPI`)::

    # pyproject.toml of the extension package
    [project.entry-points."sycophant_py.extensions"]
    acme = "acme_llm.sycophant:setup"

    # acme_llm/sycophant.py
    def setup(api):
        api.register_provider("acme", base_url="https://api.acme.test/v1", api_key="ACME_API_KEY",
                              models=[{"id": "acme-large"}])

Policy:

- Extensions are loaded **once, on first use**: the first model resolution, call, registration or
  listing, never at ``import sycophant_py``. ``SYCOPHANT_EXTENSIONS=0`` in the environment turns
  loading off.
- They are loaded in entry-point name order, **before** the first registration made by the
  application, so the application's own ``register_provider`` calls layer over theirs.
- A registration an extension makes later (from a hook registered with ``api.on``) applies at
  once, like any other.
- A failing extension (its module does not import, its function raises) is **logged, not fatal**:
  an ``extension.failed`` warning on the ``sycophant_py`` logger names it and the error, the
  registrations it made before failing are kept, and the other extensions still load. A library
  that talks to many providers should not stop working because one plug-in broke.
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from typing_extensions import override

from sycophant_py._log import log

if TYPE_CHECKING:
    from sycophant_py._hooks import Hook, HookName
    from sycophant_py._registry import Kind

__all__ = ["ENTRY_POINT_GROUP", "Extension", "ExtensionAPI", "ensure_loaded", "load_extensions", "loaded_extensions"]

ENTRY_POINT_GROUP = "sycophant_py.extensions"
"""The entry-point group scanned for extensions."""

_lock = threading.RLock()
_state = {"loaded": False, "loading": False}
_loaded_names: list[str] = []


class ExtensionAPI:
    """What an extension function receives: the library's registration functions.

    Each method is the public function of the same name (``sycophant_py.register_provider``...),
    so what an extension registers behaves exactly like an application's own registration.

    Attributes:
        name: The entry-point name of the extension being loaded (for its own logging).
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def register_provider(self, name: str, config: Any = None, /, **kwargs: Any) -> None:
        """Register or override a provider; see :func:`sycophant_py.register_provider`."""
        from sycophant_py._providers import register_provider

        register_provider(name, config, **kwargs)

    def unregister_provider(self, name: str) -> None:
        """Remove a provider registration; see :func:`sycophant_py.unregister_provider`."""
        from sycophant_py._providers import unregister_provider

        unregister_provider(name)

    def register_protocol(self, kind: Kind, name: str, cls: type[Any]) -> None:
        """Register a wire protocol class; see :func:`sycophant_py.register_protocol`."""
        from sycophant_py._registry import register_protocol

        register_protocol(kind, name, cls)

    def register_auth(self, provider: str, cls: type[Any]) -> None:
        """Register an auth strategy; see :func:`sycophant_py.register_auth`."""
        from sycophant_py._registry import register_auth

        register_auth(provider, cls)

    def on(self, event: HookName, fn: Hook) -> Hook:
        """Run ``fn(payload)`` on every ``request`` / ``response`` / ``error`` / ``retry`` event.

        pi's ``session_start`` has no counterpart: the extension function itself runs at the
        library's first use, which is where such set-up belongs.
        """
        from sycophant_py._hooks import on

        return on(event, fn)

    @override
    def __repr__(self) -> str:
        return f"ExtensionAPI({self.name!r})"


Extension: TypeAlias = Callable[[ExtensionAPI], Any]
"""The shape of an extension entry point."""


def ensure_loaded() -> None:
    """Load the extensions unless that was done already (cheap after the first call).

    Re-entrant: a registration made by an extension while it loads does not load again.
    """
    if _state["loaded"]:
        return
    with _lock:
        if _state["loaded"] or _state["loading"]:
            return
        _state["loading"] = True
        try:
            if os.environ.get("SYCOPHANT_EXTENSIONS", "1").strip().lower() not in ("0", "false", "no", "off"):
                load_extensions()
        finally:
            _state["loading"] = False
            _state["loaded"] = True


def load_extensions() -> list[str]:
    """Load every extension of the entry-point group now, in name order.

    Normally called for you at first use (see the module docstring); calling it again loads the
    extensions again.

    Returns:
        The names of the extensions that loaded without error.
    """
    from importlib.metadata import entry_points

    loaded: list[str] = []
    seen: set[str] = set()
    with _lock:
        was_loading = _state["loading"]
        _state["loading"] = True  # what the extensions register must not start another load
        try:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
                if ep.name in seen:  # the same distribution found twice on sys.path
                    continue
                seen.add(ep.name)
                if _run(ep.name, ep.value, ep.load):
                    loaded.append(ep.name)
        finally:
            _state["loading"] = was_loading
            _state["loaded"] = True
        _loaded_names[:] = loaded
    return loaded


def _run(name: str, value: str, load: Callable[[], Any]) -> bool:
    try:
        fn = load()
        result = fn(ExtensionAPI(name))
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError("an extension function must be synchronous (it runs at the library's first use)")
    except Exception as exc:  # noqa: BLE001 - a broken extension is logged, never fatal (module docstring)
        log.warning("extension.failed", extension=name, target=value, error=f"{type(exc).__name__}: {exc}")
        return False
    log.debug("extension.loaded", extension=name, target=value)
    return True


def loaded_extensions() -> list[str]:
    """Names of the extensions that loaded without error (empty before the first use)."""
    return list(_loaded_names)
