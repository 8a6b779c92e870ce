"""Which providers can take calls now (``syc.available``) and what a server lists (``syc.models``).

**Availability** of a provider:

1. a factory backend (``ProviderBackend``): what its ``available()`` answers;
2. otherwise its credentials must resolve (``resolve_credentials`` raises no
   ``MissingCredentials``; a key-less auth mode needs none);
3. and a local server (a ``local`` row, such as ``ollama``, ``vllm``, ``lmstudio``, ``llamacpp``, or
   any provider whose base URL, after settings such as ``OLLAMA_BASE_URL``, is a loopback
   address) must answer a probe (``_probe``): at most 0.8 s, cached for 5 s.

``providers(available=True)`` runs the probes and the backends' ``available()`` side by side
under one 1 s bound, so many local providers cost one second at most, not one each. A provider
that cannot be built (a broken ``[[instances]]`` entry) is left out of that list with an
``provider.unavailable`` warning; ``available(name)`` raises its error instead.

**Model listing** (``models(name)``): the server's own list where it has one, the catalog's rows
otherwise. Listed live:

- providers whose chat protocol declares a ``models_path`` (OpenAI's ``/models``, Anthropic's
  ``/v1/models``, Ollama's ``/api/tags``): ``GET`` that path under the base URL as the protocol
  resolves it (``resolve_base_url``);
- factory backends: their ``models()``.

Only providers whose auth is a plain key header (bearer, Anthropic's, none) are asked; others
(Azure deployments, Bedrock's SigV4, Vertex, OAuth logins, URL templates) list from the catalog. No
key (for a provider that needs one), a local server that does not answer its probe, an HTTP error, a
timeout (2 s by default) or a body that is not a model list all fall back to the catalog's rows. The
result is a :class:`~sycophant_py.ModelList`: a list of ``ModelInfo`` (the server's order; an id
the catalog knows keeps its catalog data) whose ``source`` says ``"live"`` or ``"catalog"`` and
whose ``error`` says why a live listing failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeAlias

from sycophant_py import _catalog, _config, _probe
from sycophant_py._exceptions import (
    CredentialStoreError,
    InvalidError,
    SycophantError,
    UnknownProvider,
)
from sycophant_py._log import log
from sycophant_py._models import ModelInfo, ModelList
from sycophant_py._registry import get_protocol, protocol_class

__all__ = ["LIST_TIMEOUT", "available", "list_models", "listing_url", "parse_model_ids", "which_available"]

LIST_TIMEOUT = 2.0
"""Default seconds a live model listing may take."""
_LISTED_AUTH = frozenset({"bearer", "none", "anthropic"})


# -- pure pieces ----------------------------------------------------------------------------------


def listing_url(api: str, base_url: str) -> str | None:
    """The URL that lists a server's models, for a wire protocol and base URL (None: none known).

    The protocol's descriptor says where (``models_path``, under its resolved base URL); an unknown
    protocol, or a base URL that is still a template, lists nothing.
    """
    base = base_url.rstrip("/")
    if not base or "{" in base or protocol_class("chat", api) is None:
        return None
    proto = get_protocol("chat", api)
    if proto.models_path is None:
        return None
    return proto.resolve_base_url(base).rstrip("/") + proto.models_path


def parse_model_ids(body: bytes) -> list[str]:
    """The model ids of a listing body, in the server's order, without repeats.

    Reads OpenAI's and Anthropic's ``{"data": [{"id": ...}]}`` and Ollama's
    ``{"models": [{"name": ...}]}`` (llama.cpp sends both).

    Raises:
        ValueError: the body is not JSON or not a model list.
    """
    data = json.loads(body)
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        items = data.get("models") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("the answer is not a model list (no 'data' or 'models' list)")
    ids: dict[str, None] = {}
    for item in items:
        model_id = item.get("id") or item.get("name") or item.get("model") if isinstance(item, dict) else None
        if isinstance(model_id, str) and model_id:
            ids[model_id] = None
    return list(ids)


# -- what a provider needs ------------------------------------------------------------------------


def _row(name: str) -> tuple[str, dict[str, Any]]:
    pid = _catalog.canonical_provider(name)
    row = _catalog.provider_row(pid, models=False)
    if row is None:
        raise UnknownProvider(name, _catalog.known_providers())
    return pid, row


def _settings_of(pid: str, row: Mapping[str, Any]) -> ModelInfo:
    models = row.get("models") or {}
    return _catalog.model_info(pid, row, next(iter(models), ""))


def _credentials(info: ModelInfo) -> Any:
    """The resolved credentials, or None when they do not resolve (a key is missing or unset)."""
    from sycophant_py._credentials import resolve_credentials

    try:
        return resolve_credentials(info)
    except CredentialStoreError:
        raise  # a corrupt store is worth fixing, not a quiet "unavailable"
    except InvalidError:
        return None  # MissingCredentials, or an api_key naming an env var that is not set


def _base_url(info: ModelInfo, creds: Mapping[str, Any]) -> str:
    return str(creds.get("base_url") or info.base_url)


def _local_url(info: ModelInfo, creds: Mapping[str, Any]) -> str | None:
    """The URL to probe when the provider is a local server, else None."""
    from sycophant_py._providers import is_loopback

    base = _base_url(info, creds)
    if not base or "{" in base or not (info.local or is_loopback(base)):
        return None
    return listing_url(info.api, base) or base


# -- availability ---------------------------------------------------------------------------------

_Plan: TypeAlias = bool | str | Callable[[], bool]
"""An answer now, a URL to probe, or a check to run."""


def _plan(name: str) -> _Plan:
    pid, row = _row(name)
    backend = row.get("_backend")
    if backend is not None:
        return lambda: bool(backend.available())
    info = _settings_of(pid, row)
    creds = _credentials(info)
    if creds is None:
        return False
    return _local_url(info, creds) or True


_PROBES = object()
"""The key of the one check that runs every probe of a batch."""


def _settle(plans: Mapping[str, _Plan]) -> dict[str, bool]:
    """Answer every plan: probes and checks run side by side under one bound."""
    urls = sorted({p for p in plans.values() if isinstance(p, str)})
    probes: dict[str, bool] = {}

    def run_probes() -> bool:
        probes.update(_probe.reachable(urls))
        return True

    checks: dict[Hashable, Callable[[], bool]] = {name: p for name, p in plans.items() if callable(p)}
    if urls:
        checks[_PROBES] = run_probes
    done = _probe.run_bounded(checks)
    out: dict[str, bool] = {}
    for name, p in plans.items():
        if isinstance(p, bool):
            out[name] = p
        elif isinstance(p, str):
            out[name] = probes.get(p, False)
        else:
            out[name] = done.get(name, False)
    return out


def available(name: str) -> bool:
    """Whether a provider can take calls now (see the module docstring for what is checked).

    Args:
        name: A provider id, short alias or ``[[instances]]`` name.

    Returns:
        True when its credentials resolve and, for a local server, it answers; for a factory
        backend, what its ``available()`` answers (an exception counts as False).

    Raises:
        UnknownProvider: the name is not a known provider.
        InvalidConfig: it is an instance that cannot be built.
    """
    return _settle({name: _plan(name)})[name]


def which_available(names: list[str]) -> list[str]:
    """The names of ``names`` that are available, checked side by side (1 s bound in all)."""
    plans: dict[str, _Plan] = {}
    for name in names:
        try:
            plans[name] = _plan(name)
        except CredentialStoreError:
            raise
        except InvalidError as exc:  # a broken instance or provider row: not available, and said so
            log.warning("provider.unavailable", provider=name, error=str(exc))
            plans[name] = False
    answers = _settle(plans)
    return [n for n in names if answers[n]]


# -- model listing --------------------------------------------------------------------------------


def _backend_rows(pid: str, backend: Any) -> dict[str, dict[str, Any]]:
    from sycophant_py._instances import backend_models

    return backend_models(pid, backend, strict=True)


def _http_ids(pid: str, row: Mapping[str, Any], timeout: float) -> list[str] | None:
    """The ids the provider's server lists, or None when it cannot be asked (no key, no endpoint)."""
    from sycophant_py._oauth import has_oauth
    from sycophant_py._registry import auth_for

    info = _settings_of(pid, row)
    auth = auth_for(pid, info.auth_strategy, info.api)
    if auth.name not in _LISTED_AUTH or has_oauth(info):
        return None
    creds = _credentials(info)
    if creds is None:
        return None
    url = listing_url(info.api, _base_url(info, creds))
    if url is None:
        return None
    local = _local_url(info, creds)
    if local is not None and not _probe.reachable([local])[local]:
        raise ConnectionError(f"{pid}: the server at {local} does not answer")
    return parse_model_ids(_get(url, info, creds, auth, timeout))


def _get(url: str, info: ModelInfo, creds: Any, auth: Any, timeout: float) -> bytes:
    from sycophant_py import _transport
    from sycophant_py._headers import resolve_header_values
    from sycophant_py.auth._base import HttpRequest

    headers = {"accept": "application/json", **resolve_header_values(info.headers)}
    req = HttpRequest("GET", url, headers, {}, b"")
    for middleware in auth.middlewares(creds):
        req = middleware(req)
    raw = _transport.send(req, deadline=_config.now() + timeout)
    if raw.status >= 400:
        raise ValueError(f"{info.provider}: listing models answered HTTP {raw.status}")
    return raw.body


def list_models(provider: str, *, live: bool = True, timeout: float = LIST_TIMEOUT) -> ModelList:
    """One provider's models: live where its server lists them, else the catalog's.

    Args:
        provider: A provider id, short alias or ``[[instances]]`` name.
        live: Ask the server (False: the catalog's rows only, no I/O).
        timeout: Seconds the live listing may take.

    Raises:
        UnknownProvider: the provider is not known.
        InvalidConfig: it is an instance that cannot be built.
    """
    pid = _catalog.canonical_provider(provider)
    row = _catalog.provider_row(pid)
    if row is None:
        raise UnknownProvider(provider, _catalog.known_providers())
    catalog = [_catalog.resolve_model(f"{pid}:{mid}") for mid in row.get("models") or {}]
    if not live:
        return ModelList(catalog, source="catalog")
    rows: dict[str, dict[str, Any]] = {}
    try:
        backend = row.get("_backend")
        if backend is not None:
            rows = _backend_rows(pid, backend)
            ids: list[str] | None = list(rows)
        else:
            ids = _http_ids(pid, row, timeout)
    except (SycophantError, ValueError, OSError) as exc:
        log.debug("models.listing_failed", provider=pid, error=f"{type(exc).__name__}: {exc}")
        return ModelList(catalog, source="catalog", error=f"{type(exc).__name__}: {exc}")
    if ids is None:
        return ModelList(catalog, source="catalog")
    merged = {**row, "models": {**(row.get("models") or {}), **rows}}
    return ModelList([_catalog.model_info(pid, merged, mid) for mid in ids], source="live")
