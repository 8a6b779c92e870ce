"""Provider factories (plug-my-ai's ``RegisterFactory``): providers built from ``[[instances]]``.

A factory is a function ``factory(name, config) -> provider`` registered under a type name::

    syc.register_provider_factory("mybackend", factory)

and used by config entries of that type (TOML, or JSON with the same schema)::

    [[instances]]
    type = "mybackend"
    name = "mybackend-1"
    config = { api_key = "sk-...", model = "my-model-v1" }

``name`` is the instance's provider id (``syc.generate_text("mybackend-1:my-model-v1", ...)``) and
``config`` is the entry's ``config`` table, as a plain dict. The factory checks it with its own
schema, best through :func:`factory_config`, whose errors name the config file, the instance and
the field. It returns one of two things:

- a :class:`ProviderDefinition` (or a dict with its keys): applied exactly like
  ``register_provider(name, ...)``, over the provider named by ``extends`` when it is given;
- a :class:`ProviderBackend`: an object with ``available()``, ``models()`` and
  ``complete(model, context, options)`` (a custom stream function: see ``_custom_stream``).

Policy:

- Every catalog provider id (and short alias) and every chat wire protocol name is already a type,
  built by the library (``_instances``); no factory may be registered under those names, so a
  plug-in can never take over the instances (and keys) of ``type = "openai"``.
- Third-party packages register factories through the entry-point group
  ``sycophant_py.providers``. The entry point names a module (importing it registers, like
  plug-my-ai's blank import) or a factory function (registered under the entry point's name).
  They load once, on first use (the first instance of a type that is not built in, or the first
  ``register_provider_factory``), never at ``import sycophant_py``; ``SYCOPHANT_EXTENSIONS=0``
  turns loading off. A failing entry point is logged (``provider_factory.failed``), not fatal, and
  an instance of its type then says why it cannot be built.
- A factory runs when its instance is first used, once per distinct config: the provider it
  returns is kept while the entry and the factory stay the same.
"""

from __future__ import annotations

import contextvars
import importlib
import os
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar, runtime_checkable

from sycophant_py._exceptions import InvalidRegistration
from sycophant_py._log import log

if TYPE_CHECKING:
    from sycophant_py._custom_stream import StreamOptions
    from sycophant_py._instances import Where
    from sycophant_py._models import ModelInfo
    from sycophant_py._providers import ModelConfig
    from sycophant_py._types import Context

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderBackend",
    "ProviderDefinition",
    "ProviderFactory",
    "factory_config",
    "lookup",
    "register_provider_factory",
    "unregister_provider_factory",
]

ENTRY_POINT_GROUP = "sycophant_py.providers"
"""The entry-point group scanned for third-party provider factories."""

T = TypeVar("T")


@dataclass
class ProviderDefinition:
    """A provider described as data: what ``register_provider(name, ...)`` takes.

    A factory returning one gets exactly what ``register_provider(name, **fields)`` would make
    (see ``docs/providers.md``), over the provider ``extends`` names when it is set.
    """

    base_url: str | None = None
    """API endpoint; required for a new provider unless ``stream`` is given."""
    api_key: str | None = None
    """The key: a literal, the name of an env var holding it, ``"env:NAME"`` or ``"literal:KEY"``."""
    api: str | None = None
    """Wire protocol name (pi's names are accepted)."""
    headers: Mapping[str, str] | None = None
    """Extra headers (values may name env vars)."""
    models: Sequence[ModelConfig | Mapping[str, Any]] | None = None
    """Model entries; when given they replace the provider's models."""
    auth_header: bool | None = None
    """Send the key as ``Authorization: Bearer <key>``."""
    auth: str | None = None
    """Auth mode: ``required``, ``optional`` or ``none``."""
    auth_strategy: str | None = None
    """Name of a registered auth strategy."""
    compat: Mapping[str, Any] | None = None
    """Compatibility flags for every model (those its protocol declares in ``compat_flags``)."""
    oauth: Any = None
    """An OAuth login (``syc.OAuth(...)``)."""
    stream: Callable[..., Any] | None = None
    """A custom stream function ``fn(model, context, options)``."""
    extends: str | None = None
    """Start from this provider (a catalog id, a custom or registered provider); None: a new one."""


@runtime_checkable
class ProviderBackend(Protocol):
    """A provider that is code: plug-my-ai's ``Provider`` interface.

    ``available()`` and ``models()`` are called from sync code and should be quick (a backend's
    ``available()`` that takes longer than a second counts as unavailable in
    ``syc.providers(available=True)``). ``complete`` is a custom stream function: it builds
    events with ``options["emit"]`` and yields them (sync or async), exactly as a
    ``register_provider(stream=...)`` function does; ``emit.done(reason, usage=...)`` is
    plug-my-ai's final chunk with ``Done``, ``FinishReason`` and ``Usage``.
    """

    def available(self) -> bool:
        """True when the backend can take calls now (its key is set, its server answers...)."""
        ...

    def models(self) -> Sequence[ModelConfig | Mapping[str, Any] | str]:
        """The models it serves: ``ModelConfig`` objects, model-entry dicts or plain ids."""
        ...

    def complete(self, model: ModelInfo, context: Context, options: StreamOptions) -> Any:
        """Stream one answer: return (or be) a sync or async iterable of events."""
        ...


ProviderFactory: TypeAlias = Callable[[str, dict[str, Any]], "ProviderDefinition | Mapping[str, Any] | ProviderBackend"]
"""``factory(name, config) -> ProviderDefinition | dict | ProviderBackend``."""

_lock = threading.RLock()
_FACTORIES: dict[str, ProviderFactory] = {}
_state = {"loaded": False, "loading": False}
_failed: dict[str, str] = {}
"""Entry points that failed to load: name -> error text (named when an instance needs that type)."""

_WHERE: contextvars.ContextVar[Where | None] = contextvars.ContextVar("sycophant_factory_where", default=None)
"""The instance being built in this context (``factory_config`` names it in errors)."""


def _check_type_name(type_name: Any) -> None:
    if not isinstance(type_name, str) or not type_name or ":" in type_name:
        raise InvalidRegistration(f"a factory type name must be a non-empty string without ':', not {type_name!r}")
    from sycophant_py._instances import is_builtin_type

    if is_builtin_type(type_name):
        raise InvalidRegistration(
            f"{type_name!r} is a built-in instance type (a catalog provider or a wire protocol): "
            "register the factory under another name"
        )


def register_provider_factory(type_name: str, factory: ProviderFactory) -> None:
    """Register a factory for ``[[instances]]`` entries of type ``type_name``.

    Registering a type again replaces its factory; instances of the type are built again on
    their next use.

    Args:
        type_name: The ``type`` of the config entries it builds (no ``:``; not a catalog
            provider id or alias, nor a wire protocol name: those are built-in types).
        factory: ``factory(name, config) -> provider``: ``name`` is the instance's provider id,
            ``config`` its ``config`` table as a dict. It returns a :class:`ProviderDefinition`
            (or a dict with its keys) or a :class:`ProviderBackend`.

    Raises:
        InvalidRegistration: the name is not usable or is a built-in type, or ``factory`` is not
            callable.
    """
    _check_type_name(type_name)
    if not callable(factory):
        raise InvalidRegistration(f"the factory for {type_name!r} must be callable, not {type(factory).__name__}")
    ensure_loaded()  # entry points first, so the application's own registration wins
    with _lock:
        _FACTORIES[type_name] = factory
    _changed()


def unregister_provider_factory(type_name: str) -> None:
    """Remove the factory of ``type_name`` (instances of that type can no longer be built).

    Raises:
        UnknownName: no factory is registered under that name.
    """
    ensure_loaded()
    with _lock:
        if type_name not in _FACTORIES:
            from sycophant_py._exceptions import UnknownName

            raise UnknownName("provider factory", type_name, sorted(_FACTORIES))
        del _FACTORIES[type_name]
    _changed()


def _changed() -> None:
    from sycophant_py import _config

    _config.bump()


def lookup(type_name: str) -> ProviderFactory | None:
    """The factory registered for ``type_name`` (entry points are loaded first), else None."""
    ensure_loaded()
    return _FACTORIES.get(type_name)


def factory_types() -> list[str]:
    """The registered factory type names."""
    ensure_loaded()
    return sorted(_FACTORIES)


def failed_entry_point(type_name: str) -> str | None:
    """Why the entry point of that name failed to load, if it did."""
    return _failed.get(type_name)


def factory_config(schema: type[T], config: Mapping[str, Any]) -> T:
    """Check a factory's ``config`` with a pydantic model (or any type pydantic validates).

    Errors name the config file (or ``configure()``), the instance and the field, as the library's
    own config errors do: ``config file P: [[instances]] #2 (name='work') config.api_key: Field
    required``. A key the model does not declare is an error (with a close-match suggestion),
    unless the model sets ``extra="allow"``. Values are never shown (they may be keys).

    Args:
        schema: A pydantic ``BaseModel`` subclass (or a dataclass, ``TypedDict``...).
        config: The ``config`` the factory received.

    Returns:
        The validated instance of ``schema``.

    Raises:
        InvalidConfig: the config does not fit the schema.
    """
    from sycophant_py._factory_config import validate

    return validate(schema, config, _WHERE.get())


def building(where: Where) -> contextvars.Token[Where | None]:
    """Mark the instance being built (for :func:`factory_config`); reset with the token."""
    return _WHERE.set(where)


def done_building(token: contextvars.Token[Where | None]) -> None:
    """Undo :func:`building`."""
    _WHERE.reset(token)


# -- entry points ---------------------------------------------------------------------------------


def ensure_loaded() -> None:
    """Load the ``sycophant_py.providers`` entry points unless done already (cheap after that)."""
    if _state["loaded"]:
        return
    with _lock:
        if _state["loaded"] or _state["loading"]:
            return
        _state["loading"] = True
        try:
            if os.environ.get("SYCOPHANT_EXTENSIONS", "1").strip().lower() not in ("0", "false", "no", "off"):
                load_entry_points()
        finally:
            _state["loading"] = False
            _state["loaded"] = True


def load_entry_points() -> list[str]:
    """Load every entry point of the group now, in name order.

    Returns:
        The names of the entry points that loaded without error.
    """
    from importlib.metadata import entry_points

    loaded: list[str] = []
    seen: set[str] = set()
    with _lock:
        was_loading = _state["loading"]
        _state["loading"] = True  # a module registering on import must not start another load
        try:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
                if ep.name in seen:  # the same distribution found twice on sys.path
                    continue
                seen.add(ep.name)
                if _load_one(ep.name, ep.value, ep.load):
                    loaded.append(ep.name)
        finally:
            _state["loading"] = was_loading
            _state["loaded"] = True
    return loaded


def _load_one(name: str, value: str, load: Callable[[], Any]) -> bool:
    try:
        target = load()
        if not isinstance(target, types.ModuleType):
            _check_type_name(name)
            if not callable(target):
                raise TypeError(f"{value} is neither a module nor a factory function")
            _FACTORIES[name] = target
    except Exception as exc:  # noqa: BLE001 - a broken plug-in is logged, never fatal (module docstring)
        _failed[name] = f"{type(exc).__name__}: {exc}"
        log.warning("provider_factory.failed", entry_point=name, target=value, error=_failed[name])
        return False
    _failed.pop(name, None)
    log.debug("provider_factory.loaded", entry_point=name, target=value)
    return True


def _reset_for_tests() -> None:
    """Forget the entry-point load (the next use loads again) and every factory registered."""
    with _lock:
        _FACTORIES.clear()
        _failed.clear()
        _state["loaded"] = False
    importlib.invalidate_caches()
