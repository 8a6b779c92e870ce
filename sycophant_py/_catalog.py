"""Model resolution: ``"provider:model-id"`` to a :class:`ModelInfo`.

Sources, later ones winning per provider:

1. the packaged catalog data file (``_data/catalog.json``; loaded on first use, never at import);
2. providers from ``configure(custom_providers=...)`` / the config file, and ``[[instances]]``;
3. providers registered at run time (``register_provider``).

A spec is split on the first colon only. Local providers (``local: true``) and custom providers
accept any model id. Resolved rows are cached until the configuration changes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from sycophant_py import _config
from sycophant_py._exceptions import InvalidError, UnknownProvider
from sycophant_py._models import AuthMode, ModelCost, ModelInfo

__all__ = ["canonical_provider", "get_model", "known_providers", "provider_rows", "resolve_model"]

# Providers registered at run time (register_provider); filled by _providers.py.
REGISTERED: dict[str, dict[str, Any]] = {}

_cache: dict[str, ModelInfo] = {}
_cache_version = -1
_lock = threading.Lock()


@cache
def _data() -> dict[str, Any]:
    text = resources.files("sycophant_py").joinpath("_data/catalog.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for pid, row in _data()["providers"].items():
        for a in row.get("aliases", ()):
            out[a] = pid
    return out


def canonical_provider(name: str) -> str:
    """The models.dev provider id for a name or short alias."""
    return _aliases().get(name, name)


def _instance_rows() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for inst in _config.settings().instances:
        if not inst.get("enabled", True):
            continue
        kind, name = inst.get("type"), inst.get("name")
        if not kind or not name:
            raise InvalidError(f"config instance needs 'type' and 'name': {sorted(inst)}")
        base = provider_rows().get(canonical_provider(str(kind)))
        if base is None:
            raise UnknownProvider(str(kind), sorted(provider_rows()))
        cfg = dict(inst.get("config") or {})
        row = {**base, **{k: v for k, v in cfg.items() if k != "api_key"}, "instance_of": kind}
        if "api_key" in cfg:
            row["_instance_credentials"] = {"api_key": cfg["api_key"]}
        out[str(name)] = row
    return out


def provider_rows() -> dict[str, dict[str, Any]]:
    """Every provider row after merging the catalog, the config layer and registrations."""
    rows: dict[str, dict[str, Any]] = {k: dict(v) for k, v in _data()["providers"].items()}
    for name, custom in _config.settings().custom_providers.items():
        pid = canonical_provider(name)
        base = rows.get(pid)
        merged = {**base, **custom} if base else {"custom": True, **custom}
        if base and "models" in custom:
            merged["models"] = {**base.get("models", {}), **custom["models"]}
        rows[pid] = merged
    for pid, reg in REGISTERED.items():
        rows[pid] = reg
    return rows


def known_providers() -> list[str]:
    """Ids of every known provider."""
    rows = provider_rows()
    return sorted(set(rows) | set(_instance_rows()))


def _tuple(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    return tuple(str(x) for x in v)


def _build(pid: str, prow: Mapping[str, Any], model_id: str, mrow: Mapping[str, Any] | None) -> ModelInfo:
    m: Mapping[str, Any] = mrow or {}
    caps = {**prow.get("capabilities", {}), **m.get("capabilities", {})}
    cost = m.get("cost")
    api = m.get("api") or m.get("wire_protocol") or prow.get("api") or prow.get("wire_protocol") or "openai_chat"
    auth: AuthMode = prow.get("auth", "required")
    if auth not in ("required", "optional", "none"):
        raise InvalidError(f"provider {pid!r}: auth must be 'required', 'optional' or 'none', not {auth!r}")
    settings_env = {k: _tuple(v) for k, v in prow.get("settings_env", {}).items()}
    extra = {k: v for k, v in prow.items() if k.startswith("_") or k in ("embed_api", "instance_of")}
    return ModelInfo(
        provider=pid,
        id=model_id,
        name=str(m.get("name", model_id)),
        api=str(api),
        base_url=str(m.get("base_url") or prow.get("base_url") or ""),
        auth=auth,
        auth_strategy=prow.get("auth_strategy"),
        env=_tuple(prow.get("env")),
        settings_env=MappingProxyType(settings_env),
        capabilities=MappingProxyType(caps),
        context_window=m.get("context_window", m.get("contextWindow")),
        max_tokens=m.get("max_tokens", m.get("maxTokens")),
        cost=ModelCost.from_mapping(cost) if cost else None,
        reasoning=m.get("reasoning"),
        input=_tuple(m.get("input")),
        headers=MappingProxyType({**prow.get("headers", {}), **m.get("headers", {})}),
        compat=MappingProxyType({**prow.get("compat", {}), **m.get("compat", {})}),
        known=mrow is not None,
        local=bool(prow.get("local")),
        extra=MappingProxyType(extra),
    )


def resolve_model(spec: str) -> ModelInfo:
    """Resolve ``"provider:model-id"`` (split on the first colon).

    Raises:
        InvalidError: the spec has no ``provider:`` prefix.
        UnknownProvider: the provider is not known (the message suggests close names).
    """
    global _cache_version
    version = _config.settings().version
    if version != _cache_version:
        with _lock:
            _cache.clear()
            _cache_version = version
    hit = _cache.get(spec)
    if hit is not None:
        return hit
    provider, sep, model_id = spec.partition(":")
    if not sep or not provider or not model_id:
        raise InvalidError(f"model spec must be 'provider:model-id', got {spec!r}")
    pid = canonical_provider(provider)
    rows = provider_rows()
    prow = rows.get(pid)
    if prow is None:
        prow = _instance_rows().get(pid)
    if prow is None:
        raise UnknownProvider(provider, known_providers())
    models: Mapping[str, Any] = prow.get("models") or {}
    info = _build(pid, prow, model_id, models.get(model_id))
    if not info.known and not info.local and not prow.get("custom") and models:
        from sycophant_py._log import log

        log.warning("model.unknown", provider=pid, model=model_id, known=len(models))
    _cache[spec] = info
    return info


def get_model(spec: str) -> ModelInfo:
    """The resolved catalog row for ``"provider:model-id"``.

    Args:
        spec: ``"provider:model-id"``; the provider may be a short alias (``together``).

    Returns:
        The row: base URL, wire protocol, auth mode, env vars, capabilities, limits and prices.
    """
    return resolve_model(spec)
