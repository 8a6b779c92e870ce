"""Providers built from ``[[instances]]`` entries (the config file and ``configure(instances=...)``).

An entry ``{type, name, enabled, config}`` becomes provider ``name``:

- a **built-in type** (a catalog provider id or short alias, or a chat wire protocol name) is
  built here: ``config`` is a custom-provider table plus ``api_key`` (unknown keys are errors,
  checked with the rest of the config). It is layered over provider ``type`` exactly as
  ``register_provider`` layers (so ``base_url`` and ``headers`` also replace a model's own, and
  ``api`` brings its protocol's auth); a protocol type makes a new provider speaking it and needs
  ``base_url``. ``env``, ``settings_env``, ``capabilities``, ``local``, ``embed_api`` and ``name``
  are set on the provider; ``api_key`` is the instance's own key, read at the config layer. A
  custom or registered provider's name also works as a type;
- any other type is a **registered factory** (``_factories``): its result, a
  ``ProviderDefinition`` or a ``ProviderBackend``, becomes the provider.

Where an instance sits among the sources: above the catalog and ``custom_providers`` (an instance
named like an existing provider replaces it), below ``register_provider`` registrations. A
disabled entry, or a later entry of the same name that is disabled, makes no provider.

Instances are built on first use, never while the config is read. A failing build raises
``InvalidConfig`` naming the file (or ``configure()``), the instance and the field, on every use
until it is fixed. A built provider is kept while its entry and the configuration stay the same;
a factory's result is kept while its entry, config and factory stay the same.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sycophant_py import _catalog, _config, _factories
from sycophant_py._exceptions import InvalidConfig, InvalidError
from sycophant_py._log import log

__all__ = ["Where", "instance_names", "instance_row", "is_builtin_type"]

_SET_KEYS = ("name", "env", "settings_env", "capabilities", "local", "embed_api")
_MERGED = frozenset({"settings_env", "capabilities"})


@dataclass(frozen=True, slots=True)
class Where:
    """Where an instance entry was written, for error messages."""

    head: str
    """``config file <path>`` or ``configure()``."""
    table: str
    """``[[instances]] #2 (name='work')`` (the file) or ``instances[1] (name='work')`` (``configure()``)."""
    file: str | None
    """The config file's path, None for ``configure()``."""

    def line(self, loc: Sequence[Any], message: str) -> str:
        """One problem with field ``config.<loc>`` of this instance."""
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        if not self.table:
            return f"{path.lstrip('.') or 'config'}: {message}"
        sep = " " if self.file is not None else "."
        return f"{self.table}{sep}config{path}: {message}"

    def error(self, problems: list[str]) -> InvalidConfig:
        """The error for these problems (at most five shown)."""
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        return InvalidConfig(f"{self.head}: {shown}", file=self.file, errors=problems)

    def about(self, message: str) -> InvalidConfig:
        """An error about the instance as a whole."""
        text = f"{self.table}: {message}" if self.table else message
        return InvalidConfig(f"{self.head}: {text}", file=self.file, errors=[text])


def is_builtin_type(type_name: str) -> bool:
    """True for a type the library builds itself: a catalog provider id (or short alias) or a
    registered chat protocol name. No factory may be registered under such a name."""
    from sycophant_py._registry import known_protocols

    pid = _catalog.canonical_provider(type_name)
    return pid in _catalog.catalog_provider_ids() or type_name in known_protocols("chat")


# -- the entries ----------------------------------------------------------------------------------


def _entries() -> dict[str, dict[str, Any]]:
    """Enabled entries by provider id (a name that is a short alias means its provider); a later
    entry of a name replaces an earlier one."""
    out: dict[str, dict[str, Any]] = {}
    for entry in _config.settings().instances:
        out[_catalog.canonical_provider(str(entry.get("name")))] = entry
    return {name: e for name, e in out.items() if e.get("enabled", True)}


def instance_names() -> list[str]:
    """Names of the enabled instances (nothing is built)."""
    return sorted(_entries())


_lock = threading.RLock()
_rows: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {}
_results: dict[tuple[Any, ...], Any] = {}


def instance_row(name: str) -> dict[str, Any] | None:
    """The provider row of instance ``name`` (built on first use), or None when there is none.

    Raises:
        InvalidConfig: the instance cannot be built (unknown type, bad config, failing factory).
    """
    if not _config.settings().instances:
        return None
    entry = _entries().get(name)
    if entry is None:
        return None
    version = _config.settings().version
    with _lock:
        hit = _rows.get(name)
        if hit is not None and hit[0] == version and hit[1] is entry:
            return hit[2]
        row = _build(entry)
        _rows[name] = (version, entry, row)
        return row


def _where(entry: Mapping[str, Any]) -> Where:
    where = entry.get("where")
    return where if isinstance(where, Where) else Where("configure()", f"instance {entry.get('name')!r}", None)


def _build(entry: Mapping[str, Any]) -> dict[str, Any]:
    type_name, name = str(entry["type"]), str(entry["name"])
    config: dict[str, Any] = dict(entry.get("config") or {})
    where = _where(entry)
    if is_builtin_type(type_name):
        return _builtin_row(type_name, config, where)
    factory = _factories.lookup(type_name)
    if factory is not None:
        result = _run_factory(factory, type_name, name, config, where)
        return _result_row(name, type_name, result, where)
    if _catalog.provider_row(_catalog.canonical_provider(type_name), instances=False) is not None:
        return _builtin_row(type_name, config, where)  # a custom or registered provider as the type
    raise where.about(_unknown_type(type_name))


def _unknown_type(type_name: str) -> str:
    import difflib

    from sycophant_py._registry import known_protocols

    factories = _factories.factory_types()
    failed = _factories.failed_entry_point(type_name)
    if failed is not None:
        return f"type {type_name!r}: its entry point ({_factories.ENTRY_POINT_GROUP}) failed to load: {failed}"
    candidates = [*factories, *known_protocols("chat"), *_catalog.known_providers(with_instances=False)]
    close = difflib.get_close_matches(type_name, candidates, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(factories) or "none"
    return (
        f"unknown type {type_name!r}{hint}: a type is a registered factory ({listed}), a provider id "
        "or a chat wire protocol name"
    )


# -- built-in types -------------------------------------------------------------------------------


def _builtin_row(type_name: str, config: Mapping[str, Any], where: Where) -> dict[str, Any]:
    from sycophant_py._factory_config import check_builtin_config
    from sycophant_py._registry import known_protocols

    cfg = check_builtin_config(type_name, config, where)
    base = _catalog.provider_row(_catalog.canonical_provider(type_name), instances=False)
    if base is None and type_name not in known_protocols("chat"):
        raise where.about(_unknown_type(type_name))
    return _layered(base, type_name, cfg)


def _layered(base: dict[str, Any] | None, type_name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """A built-in type's provider: ``cfg`` layered over ``base`` the way ``register_provider`` layers."""
    from sycophant_py._providers import Registration, apply_registration

    api_key = cfg.pop("api_key", None)
    api = cfg.pop("api", None) or (type_name if base is None else None)
    reg = Registration(
        base_url=cfg.pop("base_url", None),
        api_key=None,
        api=api,
        api_auth=None,
        headers=cfg.pop("headers", None),
        models=cfg.pop("models", None),
        auth_header=False,
        auth=cfg.pop("auth", None),
        auth_strategy=cfg.pop("auth_strategy", None),
        compat=cfg.pop("compat", None),
        stream=None,
        oauth=None,
    )
    row = apply_registration(copy.deepcopy(base) if base is not None else None, reg)
    for key in _SET_KEYS:
        if key in cfg:
            row[key] = {**(row.get(key) or {}), **cfg[key]} if key in _MERGED else cfg[key]
    if api_key:
        row["_instance_credentials"] = {"api_key": api_key}
    row["instance_of"] = type_name
    return row


# -- registered factories -------------------------------------------------------------------------


def _run_factory(factory: Any, type_name: str, name: str, config: dict[str, Any], where: Where) -> Any:
    """The factory's result for this entry (kept while the entry, config and factory stay the same)."""
    from sycophant_py._redact import remember_credentials

    try:
        key: tuple[Any, ...] = (type_name, name, json.dumps(config, sort_keys=True, default=repr), factory)
    except (TypeError, ValueError):  # pragma: no cover - config tables hold plain values
        key = (type_name, name, repr(config), factory)
    with _lock:
        if key in _results:
            return _results[key]
    remember_credentials(config)  # a key in the config is masked wherever it shows up later
    token = _factories.building(where)
    try:
        result = factory(name, copy.deepcopy(config))
    except InvalidConfig:
        raise
    except Exception as exc:
        raise _factory_error(exc, type_name, where) from exc
    finally:
        _factories.done_building(token)
    with _lock:
        for old in [k for k in _results if k[:2] == (type_name, name)]:
            del _results[old]
        _results[key] = result
    return result


def _factory_error(exc: Exception, type_name: str, where: Where) -> InvalidConfig:
    from sycophant_py._redact import redact_text

    if type(exc).__name__ == "ValidationError" and type(exc).__module__.startswith("pydantic"):
        from pydantic import ValidationError

        from sycophant_py._factory_config import problems_of

        if isinstance(exc, ValidationError):
            return where.error([where.line(loc, msg) for loc, msg in problems_of(exc)])
    return where.about(f"the {type_name!r} factory failed: {type(exc).__name__}: {redact_text(str(exc))}")


def _result_row(name: str, type_name: str, result: Any, where: Where) -> dict[str, Any]:
    from sycophant_py._factories import ProviderBackend, ProviderDefinition

    try:
        if isinstance(result, (ProviderDefinition, Mapping)):
            row = _definition_row(name, result)
        elif isinstance(result, ProviderBackend):
            row = _backend_row(name, result)
        else:
            raise InvalidError(
                f"it returned {type(result).__name__}: a factory returns a ProviderDefinition, a dict with its "
                "keys, or a ProviderBackend (available(), models(), complete())"
            )
    except InvalidError as exc:
        raise where.about(f"the {type_name!r} factory's provider is invalid: {exc}") from exc
    row["instance_of"] = type_name
    return row


_DEFINITION_KEYS = frozenset(f.name for f in fields(_factories.ProviderDefinition))


def _definition_row(name: str, result: Any) -> dict[str, Any]:
    from sycophant_py._providers import CONFIG_KEYS, apply_registration, validate_registration

    if isinstance(result, _factories.ProviderDefinition):
        opts = {f: getattr(result, f) for f in _DEFINITION_KEYS}
    else:
        opts = {CONFIG_KEYS.get(str(k), str(k)): v for k, v in result.items()}
        unknown = sorted(set(opts) - _DEFINITION_KEYS)
        if unknown:
            from sycophant_py._exceptions import UnknownName

            raise UnknownName("provider definition key", unknown[0], sorted(_DEFINITION_KEYS))
    extends = opts.pop("extends", None)
    reg = validate_registration(name, {k: opts.get(k) for k in _DEFINITION_KEYS - {"extends"}})
    base = None
    if extends is not None:
        base = _catalog.provider_row(_catalog.canonical_provider(str(extends)), instances=False)
        if base is None:
            raise InvalidError(f"extends={extends!r} names no known provider")
    if base is None and not reg.base_url and reg.stream is None:
        raise InvalidError("a new provider needs base_url (or stream=)")
    return apply_registration(copy.deepcopy(base) if base is not None else None, reg)


def _backend_row(name: str, backend: Any) -> dict[str, Any]:
    from sycophant_py._providers import CUSTOM_STREAM_API

    return {
        "custom": True,
        "name": name,
        "base_url": "",
        "api": CUSTOM_STREAM_API,
        "auth": "none",
        "_stream": backend.complete,
        "_stream_api": CUSTOM_STREAM_API,
        "_backend": backend,
        "models": backend_models(name, backend, strict=False),
    }


def backend_models(name: str, backend: Any, *, strict: bool) -> dict[str, dict[str, Any]]:
    """A backend's ``models()`` as model rows by id.

    Args:
        name: The instance's name (for the log event).
        backend: The backend.
        strict: Raise what went wrong (else log ``provider.models_failed`` and return ``{}``).
    """
    from sycophant_py._providers import normalise_models

    try:
        listed = backend.models()
        if isinstance(listed, (str, Mapping)) or not isinstance(listed, Sequence):
            raise InvalidError(f"models() must return a list, not {type(listed).__name__}")
        return normalise_models([{"id": m} if isinstance(m, str) else m for m in listed])
    except Exception as exc:
        if strict:
            raise
        log.warning("provider.models_failed", provider=name, error=f"{type(exc).__name__}: {exc}")
        return {}


def _reset_for_tests() -> None:
    with _lock:
        _rows.clear()
        _results.clear()
