"""Run-time providers (pi-style ``registerProvider``) and catalog listings.

``register_provider(name, ...)`` layers a registration over the provider row built from the
catalog and the config layer:

- ``base_url`` and/or ``headers`` without ``models``: every existing model is kept and uses them;
- ``models=[...]``: they replace the provider's models (dicts or :class:`ModelConfig`, snake_case
  keys with pi's camelCase names accepted as aliases);
- ``api_key`` and header values may name env vars (see ``_headers.resolve_value``), resolved at
  call time so an unset variable is an error, never a key;
- ``auth_header=True`` sends ``Authorization: Bearer <key>``.

``unregister_provider(name)`` drops the registration, which restores the built-in row exactly.
Calls made after a registration see it at once: the resolution cache is invalidated.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sycophant_py import _catalog, _config
from sycophant_py._exceptions import InvalidError, UnknownProvider
from sycophant_py._models import ModelInfo

__all__ = ["ModelConfig", "models", "providers", "register_provider", "unregister_provider"]

_lock = threading.Lock()

_ALIASES = {
    "contextWindow": "context_window",
    "maxTokens": "max_tokens",
    "baseUrl": "base_url",
    "wire_protocol": "api",
    "cacheRead": "cache_read",
    "cacheWrite": "cache_write",
}
_MODEL_KEYS = frozenset(
    {
        "id",
        "name",
        "api",
        "reasoning",
        "input",
        "cost",
        "context_window",
        "max_tokens",
        "headers",
        "base_url",
        "compat",
        "capabilities",
    }
)
_API_ALIASES = {
    "openai-completions": "openai_chat",
    "openai-responses": "openai_responses",
    "anthropic-messages": "anthropic_messages",
    "google-generative-ai": "google_gemini",
    "bedrock-converse-stream": "bedrock_converse",
}


@dataclass
class ModelConfig:
    """A model entry for ``register_provider(models=[...])`` or ``custom_providers``."""

    id: str
    """Model id sent to the provider."""
    name: str | None = None
    """Display name."""
    api: str | None = None
    """Wire protocol for this model (overrides the provider's)."""
    reasoning: bool | None = None
    """Supports extended thinking."""
    input: list[str] = field(default_factory=lambda: ["text"])
    """Input modalities: ``text``, ``image``, ``pdf``, ``audio``."""
    cost: dict[str, float] | None = None
    """USD per million tokens: ``input``, ``output``, ``cache_read``, ``cache_write``."""
    context_window: int | None = None
    """Context window in tokens."""
    max_tokens: int | None = None
    """Maximum output tokens."""
    headers: dict[str, str] | None = None
    """Headers for this model only."""
    base_url: str | None = None
    """Base URL for this model only."""
    compat: dict[str, Any] | None = None
    """``openai_chat`` compatibility flags."""
    capabilities: dict[str, bool] | None = None
    """Capability flags."""


def _snake(key: str) -> str:
    if key in _ALIASES:
        return _ALIASES[key]
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
    return out


def _normalise_model(entry: ModelConfig | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    raw = asdict(entry) if isinstance(entry, ModelConfig) else dict(entry)
    row: dict[str, Any] = {}
    for k, v in raw.items():
        key = _snake(k)
        if key not in _MODEL_KEYS:
            raise InvalidError(f"unknown model field {k!r} (known: {', '.join(sorted(_MODEL_KEYS))})")
        if v is None:
            continue
        if key in ("cost", "compat"):
            row[key] = {_snake(ck): cv for ck, cv in v.items()}
        elif key == "api":
            row[key] = _API_ALIASES.get(v, v)
        else:
            row[key] = v
    model_id = row.pop("id", None)
    if not model_id:
        raise InvalidError("every model entry needs an 'id'")
    if "image" in row.get("input", ()):
        row.setdefault("capabilities", {}).setdefault("vision", True)
    return str(model_id), row


def register_provider(
    name: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    api: str | None = None,
    headers: Mapping[str, str] | None = None,
    models: Sequence[ModelConfig | Mapping[str, Any]] | None = None,
    auth_header: bool | None = None,
    auth: str | None = None,
    auth_strategy: str | None = None,
    compat: Mapping[str, Any] | None = None,
    oauth: Any = None,
    stream: Any = None,
) -> None:
    """Register or override a provider at run time (pi's ``registerProvider``).

    Args:
        name: Provider id (a new one, or a built-in to override).
        base_url: API endpoint; required when the provider is new.
        api_key: The key, or the name of an env var holding it (``"env:NAME"`` / ``"literal:KEY"``
            force either reading).
        api: Wire protocol name (pi's ``openai-completions`` style names are accepted too).
        headers: Extra headers (values may name env vars).
        models: Model entries; when given they replace the provider's models.
        auth_header: Send ``Authorization: Bearer <key>``.
        auth: Auth mode: ``required``, ``optional`` or ``none``.
        auth_strategy: Name of a registered auth strategy.
        compat: ``openai_chat`` compatibility flags for every model of the provider.
        oauth: Not supported yet (raises).
        stream: Not supported yet (raises).

    Raises:
        InvalidError: a new provider without ``base_url`` or models, or an invalid model entry.
    """
    if oauth is not None or stream is not None:
        raise InvalidError("register_provider: oauth= and stream= are not supported in this version")
    pid = _catalog.canonical_provider(name)
    with _lock:
        base = _current_row(pid)
        if base is None and (not base_url or models is None):
            raise InvalidError(f"register_provider({name!r}): a new provider needs base_url and models")
        row: dict[str, Any] = copy.deepcopy(base) if base is not None else {"custom": True}
        if base_url is not None:
            row["base_url"] = base_url
            for m in row.get("models", {}).values():
                m.pop("base_url", None)
        if headers is not None:
            row["headers"] = {**row.get("headers", {}), **headers}
        if api is not None:
            row["api"] = _API_ALIASES.get(api, api)
        if compat is not None:
            row["compat"] = {**row.get("compat", {}), **{_snake(k): v for k, v in compat.items()}}
        if models is not None:
            row["models"] = dict(_normalise_model(m) for m in models)
            row["registered_models"] = True
        if api_key is not None:
            row["_api_key_ref"] = api_key
            row.setdefault("auth", "required")
        if auth is not None:
            row["auth"] = auth
        if auth_header:
            row["auth_strategy"] = "bearer"
        elif auth_strategy is not None:
            row["auth_strategy"] = auth_strategy
        _catalog.REGISTERED[pid] = row
    _config.bump()


def _current_row(pid: str) -> dict[str, Any] | None:
    rows = _catalog.provider_rows()
    return rows.get(pid)


def unregister_provider(name: str) -> None:
    """Remove a registration; a built-in provider it overrode is restored exactly.

    Raises:
        UnknownProvider: nothing was registered under ``name``.
    """
    pid = _catalog.canonical_provider(name)
    with _lock:
        if pid not in _catalog.REGISTERED:
            raise UnknownProvider(name, sorted(_catalog.REGISTERED))
        del _catalog.REGISTERED[pid]
    _config.bump()


def providers() -> list[str]:
    """Ids of every known provider (catalog, configured and registered)."""
    return _catalog.known_providers()


def models(provider: str | None = None) -> list[ModelInfo]:
    """Every listed model (of one provider when ``provider`` is given)."""
    rows = _catalog.provider_rows()
    ids = [_catalog.canonical_provider(provider)] if provider else sorted(rows)
    out: list[ModelInfo] = []
    for pid in ids:
        row = rows.get(pid)
        if row is None:
            raise UnknownProvider(pid, sorted(rows))
        out.extend(_catalog.resolve_model(f"{pid}:{mid}") for mid in row.get("models") or {})
    return out
