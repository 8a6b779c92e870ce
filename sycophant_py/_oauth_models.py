"""``modify_models``: an OAuth login reshapes its provider's model list (pi's ``modifyModels``).

The registration keeps the models it was given as ``_oauth_base_models``; ``modify_models(models,
credentials)`` always starts from those (never from an earlier result), gets them as
``ModelConfig`` entries with ``base_url`` filled in, and its result becomes the provider's
``models`` (fields it leaves unset keep the registered values). It runs after a login, after each
refresh, when a provider is registered while the store already holds a login for it, and when a
call finds credentials in the store that the current models were not made for (another process
logged in or refreshed). ``logout`` and ``unregister_provider`` bring the registered models back.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from sycophant_py import _catalog, _config
from sycophant_py._oauth import OAuth, OAuthCredentials, _is_async, call_async, call_sync

__all__ = ["async_sync_models", "on_register", "reset_models", "sync_models"]

# provider id -> fingerprint of the credentials its current models were made for
_applied: dict[str, str] = {}


def _fingerprint(creds: OAuthCredentials) -> str:
    return hashlib.sha256(json.dumps(creds.to_dict(), sort_keys=True).encode()).hexdigest()


def _pending(pid: str, creds: OAuthCredentials, force: bool) -> tuple[dict[str, Any], OAuth, str] | None:
    """The registered row, its OAuth and the fingerprint, when ``modify_models`` must run."""
    row = _catalog.REGISTERED.get(pid)
    oauth = row.get("_oauth") if row is not None else None
    if row is None or not isinstance(oauth, OAuth) or oauth.modify_models is None:
        return None
    fp = _fingerprint(creds)
    if not force and _applied.get(pid) == fp:
        return None
    return row, oauth, fp


def _model_configs(row: dict[str, Any]) -> list[Any]:
    from sycophant_py._providers import _MODEL_KEYS, ModelConfig

    out = []
    for mid, m in (row.get("_oauth_base_models") or {}).items():
        kw = {k: copy.deepcopy(v) for k, v in m.items() if k in _MODEL_KEYS and k != "id"}
        if not kw.get("base_url"):
            kw["base_url"] = row.get("base_url")
        out.append(ModelConfig(id=mid, **kw))
    return out


def _commit(pid: str, row: dict[str, Any], fp: str, result: Any) -> bool:
    from sycophant_py import _providers

    base: dict[str, dict[str, Any]] = row.get("_oauth_base_models") or {}
    new = _providers.normalise_models(result)
    models = {mid: {**copy.deepcopy(base.get(mid, {})), **m} for mid, m in new.items()}
    with _providers._lock:
        if _catalog.REGISTERED.get(pid) is not row:
            return False  # registered again meanwhile: that registration decides
        row["models"] = models
        _applied[pid] = fp
    _config.bump()
    return True


def sync_models(pid: str, creds: OAuthCredentials, *, force: bool = False) -> bool:
    """Run the provider's ``modify_models`` for ``creds`` unless its models were made for them.

    Returns:
        True when the model list changed.
    """
    todo = _pending(pid, creds, force)
    if todo is None:
        return False
    row, oauth, fp = todo
    assert oauth.modify_models is not None
    result = call_sync(oauth.modify_models, _model_configs(row), creds, what=f"modify_models of {pid!r}")
    return _commit(pid, row, fp, result)


async def async_sync_models(pid: str, creds: OAuthCredentials, *, force: bool = False) -> bool:
    """Async twin of :func:`sync_models` (``modify_models`` may be async)."""
    todo = _pending(pid, creds, force)
    if todo is None:
        return False
    row, oauth, fp = todo
    assert oauth.modify_models is not None
    result = await call_async(oauth.modify_models, _model_configs(row), creds)
    return _commit(pid, row, fp, result)


def reset_models(pid: str) -> None:
    """Back to the registered models (after a logout)."""
    from sycophant_py import _providers

    _applied.pop(pid, None)
    row = _catalog.REGISTERED.get(pid)
    if row is None or "_oauth_base_models" not in row:
        return
    with _providers._lock:
        row["models"] = copy.deepcopy(row["_oauth_base_models"])
    _config.bump()


def on_register(pid: str) -> None:
    """After ``register_provider(oauth=...)``: shape the models for a login the store already holds.

    A store that cannot be read, or an async ``modify_models``, waits for the first call (which
    raises the store's error, or runs the function on its event loop).
    """
    from sycophant_py._exceptions import CredentialStoreError
    from sycophant_py._store import cached_entry

    _applied.pop(pid, None)
    row = _catalog.REGISTERED.get(pid) or {}
    oauth = row.get("_oauth")
    if not isinstance(oauth, OAuth) or oauth.modify_models is None or _is_async(oauth.modify_models):
        return
    try:
        entry = cached_entry(pid)
    except CredentialStoreError:
        return
    if entry is not None and entry.get("type") == "oauth":
        sync_models(pid, OAuthCredentials.from_dict(entry), force=True)
