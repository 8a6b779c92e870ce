"""Run-time providers (pi-style ``registerProvider``) and catalog listings.

``register_provider(name, ...)`` layers a registration over the provider as it stands (catalog,
config layer and earlier registrations) and stores the result as that provider's row:

- ``base_url`` and/or ``headers`` without ``models``: every existing model is kept and now uses
  them (a model's own URL, and its own value of a header the registration sets, give way);
- ``models=[...]``: they replace the provider's models. Entries are :class:`ModelConfig` or dicts
  with snake_case keys; pi's camelCase names (``contextWindow``, ``maxTokens``, ``cacheRead``...)
  are accepted as aliases, in entries and in their ``cost`` and ``compat``;
- ``api``: a wire protocol name, or one of its aliases (pi's names, such as
  ``openai-completions``: each protocol declares its own). A name that is neither stays as it is
  and is resolved at first use (so the protocol may be registered later);
- ``api_key`` and header values: a literal, or the name of an env var (``MY_API_KEY``), or the
  explicit ``"env:NAME"`` / ``"literal:TEXT"`` forms. They are resolved at call time; a value
  that looks like an env var name but is unset is an error naming it, never sent;
- ``auth_header=True``: the key travels as ``Authorization: Bearer <key>`` (see below);
- ``stream=fn``: a custom streaming function (pi's ``streamSimple``) for the models of *this*
  provider whose protocol is the registration's ``api``; other providers never see it
  (see ``_custom_stream``);
- ``oauth=syc.OAuth(...)`` (or the seeds' dict with ``login``, ``refreshToken``, ``getApiKey``,
  ``modifyModels``, ``name``): ``syc.login(name)`` runs its flow and stores the credentials; each
  call refreshes them when needed and sends ``get_api_key(credentials)`` through the provider's
  usual auth header (see ``_oauth`` and ``auth/oauth.py``). ``modify_models`` reshapes the models
  for the stored login (see ``_oauth_models``).

Two registrations of one provider layer (the second is applied over the first).
``unregister_provider(name)`` drops every registration of the provider, which restores it exactly
as the catalog and the config layer define it: ``get_model()`` answers as it did before the first
registration. Both take effect at once: the resolution cache is invalidated.

Defaults chosen here (pi leaves them to each provider's SDK):

- an ``api`` (of the provider, or of one model) whose API has its own key header names that auth
  strategy: the protocol's ``default_auth`` (Anthropic's ``x-api-key``, Google's
  ``x-goog-api-key``, Bedrock's SigV4), or the one its alias implies (pi's
  ``azure-openai-responses``: ``azure``); see ``_registry.implied_auth``. Other protocols keep
  the provider's registered auth (``register_auth``), else bearer;
- ``auth_header=True`` switches to bearer. pi adds the header beside the SDK's own key header; we
  send the key once, as ``Authorization`` (a key in two headers is one more place for it to leak,
  and gateways that want a bearer token ignore ``x-api-key``). Headers a protocol needs whatever
  the auth (Anthropic's ``anthropic-version``) are the protocol's own and are kept;
- a new provider whose base URL is a loopback address is treated as a local server (as is one
  added with ``configure(custom_providers=...)``): it is ``local``, its auth mode is ``optional``
  and, for the default chat protocol, it gets the compat flags of the hand-written local rows
  (``_catalog.LOCAL_COMPAT``: ``supports_developer_role: False``, ``max_tokens_field:
  "max_tokens"``, ``supports_store: False``, ``supports_top_k: True``,
  ``requires_content_string: True``), unless the registration sets them. The response format stays
  OpenAI's ``json_schema``, which LM Studio, vLLM, Ollama and llama.cpp's own server take; a
  llama-cpp-python server needs ``compat={"response_format": "json_object_schema"}``, as the
  ``llamacpp`` row has;
- a new provider accepts model ids it does not list, like ``custom_providers``;
- an ``api_key`` given to a provider whose auth mode is ``none`` makes it ``optional``.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sycophant_py import _catalog, _config
from sycophant_py._exceptions import InvalidError, UnknownName, UnknownProvider
from sycophant_py._extensions import ensure_loaded
from sycophant_py._models import ModelList
from sycophant_py._registry import canonical_api, compat_flags, implied_auth, implied_auths

__all__ = [
    "CONFIG_KEYS",
    "Registration",
    "apply_registration",
    "is_loopback",
    "normalise_models",
    "validate_registration",
    "ModelConfig",
    "canonical_api",
    "models",
    "providers",
    "register_provider",
    "unregister_provider",
]

_lock = threading.RLock()

CUSTOM_STREAM_API = "custom_stream"
"""The protocol name a ``stream=`` registration gets when it names none."""

_ALIASES = {
    "contextWindow": "context_window",
    "maxTokens": "max_tokens",
    "baseUrl": "base_url",
    "wire_protocol": "api",
    "wireProtocol": "api",
    "cacheRead": "cache_read",
    "cacheWrite": "cache_write",
}
_INPUTS = frozenset({"text", "image", "pdf", "audio"})
_BOOL = (True, False)
_COST_KEYS = frozenset({"input", "output", "cache_read", "cache_write"})

CONFIG_KEYS: Mapping[str, str] = {
    "baseUrl": "base_url",
    "apiKey": "api_key",
    "authHeader": "auth_header",
    "authStrategy": "auth_strategy",
    "streamSimple": "stream",
}


@dataclass
class ModelConfig:
    """A model entry for ``register_provider(models=[...])`` or ``custom_providers``.

    Unset fields (None) are unknown: the provider's value, or the library's default, applies.
    """

    id: str
    """Model id sent to the provider."""
    name: str | None = None
    """Display name (the id when unset)."""
    api: str | None = None
    """Wire protocol for this model (overrides the provider's; pi's names are accepted)."""
    reasoning: bool | None = None
    """Supports extended thinking (also selects the ``developer`` role where compat allows)."""
    input: list[str] | None = None
    """Input modalities: ``text``, ``image``, ``pdf``, ``audio``."""
    cost: dict[str, float] | None = None
    """USD per million tokens: ``input``, ``output``, ``cache_read``, ``cache_write``."""
    context_window: int | None = None
    """Context window in tokens."""
    max_tokens: int | None = None
    """Maximum output tokens."""
    headers: dict[str, str] | None = None
    """Headers for this model only (values may name env vars)."""
    base_url: str | None = None
    """Base URL for this model only."""
    compat: dict[str, Any] | None = None
    """Compatibility flags (the ``compat_flags`` the protocols declare)."""
    capabilities: dict[str, bool] | None = None
    """Capability flags (``chat``, ``tools``, ``json``, ``vision``, ``pdf``, ``reasoning``...)."""


_MODEL_KEYS = frozenset(f.name for f in fields(ModelConfig))


def _snake(key: str) -> str:
    if key in _ALIASES:
        return _ALIASES[key]
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _normalise_compat(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Compat flags checked against those the protocols declare (``compat_flags`` of their descriptors)."""
    flags = compat_flags()
    out: dict[str, Any] = {}
    for k, v in raw.items():
        key = _snake(k)
        allowed = flags.get(key)
        if allowed is None:
            raise UnknownName(f"compat flag ({where})", k, list(flags))
        if v not in allowed or (set(allowed) == set(_BOOL) and not isinstance(v, bool)):
            raise InvalidError(f"{where}: compat flag {key} must be one of {list(allowed)}, not {v!r}")
        out[key] = v
    return out


def _normalise_cost(raw: Mapping[str, Any], where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in raw.items():
        key = _snake(k)
        if key not in _COST_KEYS:
            raise UnknownName(f"cost field ({where})", k, list(_COST_KEYS))
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InvalidError(f"{where}: cost.{key} must be a number (USD per million tokens), not {v!r}")
        out[key] = float(v)
    return out


def _check_field(key: str, v: Any, where: str) -> Any:
    if key in ("context_window", "max_tokens") and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
        raise InvalidError(f"{where}: {key} must be a positive int, not {v!r}")
    if key == "input":
        items = [v] if isinstance(v, str) else list(v)
        unknown = [i for i in items if i not in _INPUTS]
        if unknown:
            raise InvalidError(f"{where}: unknown input type(s) {unknown} (known: {sorted(_INPUTS)})")
        return items
    if key in ("headers", "capabilities") and not isinstance(v, Mapping):
        raise InvalidError(f"{where}: {key} must be a mapping, not {type(v).__name__}")
    if key in ("headers", "capabilities"):
        return dict(v)
    return v


def _normalise_model(entry: ModelConfig | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    raw: dict[str, Any] = (
        {f.name: getattr(entry, f.name) for f in fields(ModelConfig)} if isinstance(entry, ModelConfig) else dict(entry)
    )
    where = f"model {raw.get('id')!r}"
    row: dict[str, Any] = {}
    for k, v in raw.items():
        key = _snake(k)
        if key not in _MODEL_KEYS:
            raise UnknownName(f"model field ({where})", k, list(_MODEL_KEYS))
        if v is None:
            continue
        if key == "cost":
            row[key] = _normalise_cost(v, where)
        elif key == "compat":
            row[key] = _normalise_compat(v, where)
        elif key == "api":
            row[key] = canonical_api(str(v))
        else:
            row[key] = _check_field(key, v, where)
    model_id = row.pop("id", None)
    if not model_id or not isinstance(model_id, str):
        raise InvalidError(f"every model entry needs a string 'id' (got {raw!r})")
    caps: dict[str, bool] = row.setdefault("capabilities", {})
    if "image" in row.get("input", ()):
        caps.setdefault("vision", True)
    if "pdf" in row.get("input", ()):
        caps.setdefault("pdf", True)
    if isinstance(row.get("reasoning"), bool):
        caps.setdefault("reasoning", row["reasoning"])
    if not caps:
        del row["capabilities"]
    return model_id, row


def normalise_models(entries: Sequence[ModelConfig | Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Model entries (``ModelConfig`` or dicts, pi's camelCase accepted) as rows keyed by id.

    Raises:
        InvalidError: an entry is invalid, or an id is listed twice.
        UnknownName: an entry has an unknown field.
    """
    if isinstance(entries, (str, Mapping)):
        raise InvalidError("models must be a list of model entries (dicts or ModelConfig)")
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        model_id, row = _normalise_model(entry)
        if model_id in out:
            raise InvalidError(f"model {model_id!r} is listed twice")
        out[model_id] = row
    return out


def _merge_headers(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """``old`` updated with ``new``, header names compared case-insensitively."""
    replaced = {k.lower() for k in new}
    return {**{k: v for k, v in old.items() if k.lower() not in replaced}, **new}


is_loopback = _catalog.is_loopback
"""True when the URL's host is ``localhost`` or a loopback address."""


def _from_config(config: Mapping[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Merge a pi-style config mapping (camelCase or snake_case keys) under the keyword arguments."""
    if config is None:
        return kwargs
    if not isinstance(config, Mapping):
        raise InvalidError(f"register_provider: the config must be a mapping, not {type(config).__name__}")
    out = {CONFIG_KEYS.get(k, k): v for k, v in config.items()}
    unknown = sorted(set(out) - set(kwargs))
    if unknown:
        raise UnknownName("register_provider option", unknown[0], list(kwargs))
    return {k: (kwargs[k] if kwargs[k] is not None else out.get(k)) for k in kwargs}


@dataclass
class Registration:
    """One ``register_provider`` call (or provider definition), normalised."""

    base_url: str | None
    api_key: str | None
    api: str | None
    api_auth: str | None
    headers: dict[str, str] | None
    models: dict[str, dict[str, Any]] | None
    auth_header: bool
    auth: str | None
    auth_strategy: str | None
    compat: dict[str, Any] | None
    stream: Callable[..., Any] | None
    oauth: Any


def validate_registration(name: str, opts: Mapping[str, Any]) -> Registration:
    """Check and normalise ``register_provider``'s options (all keys present, None when unset).

    Raises:
        InvalidError: an option has the wrong type or value.
        UnknownName: a model field, cost field or compat flag is unknown.
    """
    for key in ("base_url", "api_key", "api", "auth", "auth_strategy"):
        if opts[key] is not None and not isinstance(opts[key], str):
            raise InvalidError(f"register_provider({name!r}): {key} must be a string, not {type(opts[key]).__name__}")
    if opts["auth"] not in (None, "required", "optional", "none"):
        raise InvalidError(f"register_provider({name!r}): auth must be 'required', 'optional' or 'none'")
    stream = opts["stream"]
    if stream is not None and not callable(stream):
        raise InvalidError(f"register_provider({name!r}): stream must be a function, not {type(stream).__name__}")
    headers = opts["headers"]
    if headers is not None and (
        not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values())
    ):
        raise InvalidError(f"register_provider({name!r}): headers must map names to string values")
    api = opts["api"]
    return Registration(
        base_url=opts["base_url"],
        api_key=opts["api_key"],
        api=canonical_api(api) if api is not None else None,
        api_auth=implied_auth(api) if api is not None else None,
        headers=dict(headers) if headers is not None else None,
        models=normalise_models(opts["models"]) if opts["models"] is not None else None,
        auth_header=bool(opts["auth_header"]),
        auth=opts["auth"],
        auth_strategy=opts["auth_strategy"],
        compat=_normalise_compat(opts["compat"], f"provider {name!r}") if opts["compat"] is not None else None,
        stream=stream,
        oauth=_oauth(name, opts["oauth"]),
    )


def _oauth(name: str, value: Any) -> Any:
    if value is None:
        return None
    from sycophant_py._oauth import build_oauth

    return build_oauth(value, f"register_provider({name!r})")


def register_provider(
    name: str,
    config: Mapping[str, Any] | None = None,
    /,
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
    stream: Callable[..., Any] | None = None,
) -> None:
    """Register or override a provider at run time (pi's ``registerProvider``).

    See the module docstring for the semantics. The call applies at once, also to a program that
    has already made calls.

    Args:
        name: Provider id (a new one, or a built-in to override; short aliases work).
        config: Optional pi-style options mapping (``{"baseUrl": ..., "apiKey": ..., "models":
            [...], "streamSimple": fn}``, camelCase or snake_case keys); keyword arguments win.
        base_url: API endpoint (what it holds depends on the protocol: see DESIGN's table).
        api_key: The key, or the name of an env var holding it (``"env:NAME"`` /
            ``"literal:KEY"`` force either reading).
        api: Wire protocol name (pi's ``openai-completions`` style names are accepted).
        headers: Extra headers (values may name env vars, as ``api_key``).
        models: Model entries; when given they replace the provider's models.
        auth_header: Send the key as ``Authorization: Bearer <key>``.
        auth: Auth mode: ``required``, ``optional`` or ``none``.
        auth_strategy: Name of a registered auth strategy.
        compat: Compatibility flags for every model of the provider (``_registry.compat_flags()``).
        oauth: An OAuth login (``syc.OAuth(...)``, or pi's dict with ``name``, ``login``,
            ``refreshToken``, ``getApiKey`` and optional ``modifyModels``); ``syc.login(name)`` runs it.
        stream: A custom streaming function ``fn(model, context, options)`` (pi's ``streamSimple``).

    Raises:
        InvalidError: an option has the wrong type or value, a model entry is invalid, or a new
            provider has neither ``base_url`` nor ``stream``.
        UnknownName: a model field, cost field, compat flag or config key is unknown.
    """
    opts = _from_config(
        config,
        {
            "base_url": base_url,
            "api_key": api_key,
            "api": api,
            "headers": headers,
            "models": models,
            "auth_header": auth_header,
            "auth": auth,
            "auth_strategy": auth_strategy,
            "compat": compat,
            "oauth": oauth,
            "stream": stream,
        },
    )
    reg = validate_registration(name, opts)
    ensure_loaded()  # extensions register first, so the application's registrations layer over theirs
    pid = _catalog.canonical_provider(name)
    with _lock:
        base = _catalog.provider_row(pid)
        if base is None and not reg.base_url and reg.stream is None:
            raise InvalidError(f"register_provider({name!r}): a new provider needs base_url (or stream=)")
        _catalog.REGISTERED[pid] = apply_registration(copy.deepcopy(base) if base is not None else None, reg)
    _config.bump()
    if _catalog.REGISTERED[pid].get("_oauth") is not None:
        from sycophant_py._oauth_models import on_register

        on_register(pid)


def apply_registration(row: dict[str, Any] | None, reg: Registration) -> dict[str, Any]:
    """The provider row ``row`` (None for a new provider) with one registration applied."""
    out: dict[str, Any] = {"custom": True} if row is None else row
    if "_oauth_base_models" in out:  # layer over the registered models, not over modify_models' result
        out["models"] = out.pop("_oauth_base_models")
    _apply_endpoint(out, reg)
    if reg.models is not None:
        out["models"] = reg.models
    if reg.api is not None:
        out["api"] = reg.api
    if reg.stream is not None:
        out.setdefault("api", CUSTOM_STREAM_API)
        out["_stream"] = reg.stream
        out["_stream_api"] = out["api"]
    _apply_auth(out, reg)
    if reg.compat is not None:
        out["compat"] = {**(out.get("compat") or {}), **reg.compat}
    if row is None:
        out = _catalog.local_defaults(out)
    if reg.oauth is not None:
        out["_oauth"] = reg.oauth
    if out.get("_oauth") is not None and out["_oauth"].modify_models is not None:
        out["_oauth_base_models"] = copy.deepcopy(out.get("models") or {})
    return out


def _apply_endpoint(out: dict[str, Any], reg: Registration) -> None:
    """A new URL or headers also replace the existing models' own (unless models are replaced too)."""
    kept_models: dict[str, dict[str, Any]] = (out.get("models") or {}) if reg.models is None else {}
    if reg.base_url is not None:
        out["base_url"] = reg.base_url
        for m in kept_models.values():
            m.pop("base_url", None)
    if reg.headers is not None:
        out["headers"] = _merge_headers(out.get("headers") or {}, reg.headers)
        replaced = {h.lower() for h in reg.headers}
        for m in kept_models.values():
            if m.get("headers"):
                m["headers"] = {k: v for k, v in m["headers"].items() if k.lower() not in replaced}


def _apply_auth(out: dict[str, Any], reg: Registration) -> None:
    if reg.api_key is not None:
        out["_api_key_ref"] = reg.api_key
        if out.get("auth") == "none" and reg.auth is None:
            out["auth"] = "optional"
    if reg.auth is not None:
        out["auth"] = reg.auth
    if reg.auth_header:
        out["auth_strategy"] = "bearer"
    elif reg.auth_strategy is not None:
        out["auth_strategy"] = reg.auth_strategy
    elif reg.api is not None:
        if reg.api_auth is not None:
            out["auth_strategy"] = reg.api_auth
        elif out.get("auth_strategy") in implied_auths():
            del out["auth_strategy"]  # back to the provider's registered auth, else bearer
    if reg.models is not None and reg.auth_strategy is None and not reg.auth_header:
        for m in reg.models.values():  # a model speaking another protocol gets that protocol's auth
            implied = implied_auth(m["api"]) if m.get("api") else None
            if implied is not None:
                m["auth_strategy"] = implied
            elif m.get("api") and out.get("auth_strategy") in implied_auths():
                m["auth_strategy"] = "bearer"


def unregister_provider(name: str) -> None:
    """Remove every registration of a provider; a built-in provider it overrode is restored exactly.

    Models, URL, headers, auth, compat flags, the custom stream function and the OAuth login all
    return to what the catalog and the config layer define (a provider that only existed through
    registration is gone; a built-in login such as GitHub Copilot's applies again). Credentials in
    the credential store stay there (``syc.logout`` removes them). Applies at once.

    Raises:
        UnknownProvider: nothing is registered under ``name`` (the message lists what is).
    """
    ensure_loaded()
    pid = _catalog.canonical_provider(name)
    with _lock:
        if pid not in _catalog.REGISTERED:
            raise UnknownProvider(name, sorted(_catalog.REGISTERED))
        del _catalog.REGISTERED[pid]
    _config.bump()


def providers(*, available: bool = False) -> list[str]:
    """Ids of every known provider: catalog, configured, ``[[instances]]`` and registered.

    Args:
        available: Only those that can take calls now (see :func:`sycophant_py.available`): their
            credentials resolve, local servers answer a probe, factory backends say so. The checks
            run side by side and take one second at most in all.

    Returns:
        Sorted provider ids. Without ``available`` nothing is read but the provider index.
    """
    ensure_loaded()
    ids = _catalog.known_providers()
    if not available:
        return ids
    from sycophant_py._discovery import which_available

    return which_available(ids)


def models(provider: str | None = None, *, live: bool = True, timeout: float = 2.0) -> ModelList:
    """Listed models: one provider's (live from its server where it can list them), or every one's.

    Args:
        provider: A provider id, short alias or ``[[instances]]`` name; None lists every
            provider's catalog rows (nothing is asked of any server).
        live: For one provider, ask its server (``GET {base_url}/models``, Ollama's ``/api/tags``,
            a factory backend's ``models()``) and fall back to the catalog's rows when it cannot
            (no key, no answer, an error); False reads the catalog only.
        timeout: Seconds the live listing may take.

    Returns:
        A :class:`ModelList` (a ``list`` of ``ModelInfo``) whose ``source`` is ``"live"`` or
        ``"catalog"`` and whose ``error`` says why a live listing failed.

    ``provider`` may be a catalog, configured or registered provider, or one built from a config
    ``[[instances]]`` entry (whose models are those of the provider type it copies).

    Raises:
        UnknownProvider: ``provider`` is not known.
        InvalidConfig: ``provider`` is an ``[[instances]]`` entry that cannot be built.
    """
    ensure_loaded()
    if provider is not None:
        from sycophant_py._discovery import list_models

        return list_models(provider, live=live, timeout=timeout)
    rows = _catalog.provider_rows()
    out = ModelList(source="catalog")
    for pid in sorted(rows):
        out.extend(_catalog.resolve_model(f"{pid}:{mid}") for mid in rows[pid].get("models") or {})
    return out
