"""Credential resolution: the one place that decides where a key and each setting come from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sycophant_py import _config, _store
from sycophant_py._exceptions import MissingCredentials
from sycophant_py._headers import resolve_value
from sycophant_py._models import ModelInfo
from sycophant_py._redact import remember_credentials
from sycophant_py.auth._base import SECRET_FIELDS, Credentials

__all__ = ["resolve_credentials"]

# Fields that belong to the secret and come from the same layer (an AWS key id pairs with its secret).
_WITH_SECRET = SECRET_FIELDS | {"access_key_id", "aws_access_key_id"}


def _env_layer(model: ModelInfo, environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var in model.env:
        if environ.get(var):
            out["api_key"] = environ[var]
            break
    for name, names in model.settings_env.items():
        for var in names:
            if environ.get(var):
                out[name] = environ[var]
                break
    return out


def _store_layer(model: ModelInfo) -> dict[str, Any]:
    """The provider's entry in the per-user credential store, as a layer (read only when the file changed)."""
    entry = _store.cached_entry(model.provider)
    if not entry:
        return {}
    kind = entry.get("type")
    if kind == "api_key":
        return {"api_key": entry["key"]} if entry.get("key") else {}
    if kind == "oauth":
        from sycophant_py._oauth import OAUTH_FIELD, has_oauth

        # Only a provider that still has an OAuth login can use it (the auth step refreshes it).
        return {OAUTH_FIELD: {k: v for k, v in entry.items() if k != "type"}} if has_oauth(model) else {}
    if kind == "settings":
        return {k: v for k, v in entry.items() if k != "type" and k not in _WITH_SECRET}
    return {}


def resolve_credentials(
    model: ModelInfo,
    per_request: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Resolve the credentials and settings of one call.

    Layers are consulted in this order (first match wins):

    1. ``credentials={...}`` passed to the call (the per-request layer);
    2. the config layer: ``configure(providers={provider: {...}})`` or ``[providers.<id>]`` in the
       config file (and the ``config`` of a factory-built ``[[instances]]`` entry);
    3. the per-user credential store (``sycophant login`` / ``sycophant keys set``; see ``_store``):
       an API key, an OAuth login (as ``oauth_credentials``, turned into a fresh key by the OAuth
       auth step) or stored settings. Skipped for auth mode ``none``; the file is read again only
       when it changed;
    4. the ``api_key`` given to ``register_provider`` (a literal, or an env var name);
    5. the environment variables the catalog names for the provider (``OPENAI_API_KEY``...).

    Secrets (``api_key`` and the other token fields, and an AWS access key id with its secret) come
    **whole** from the first layer that has any of them: a per-request key is never mixed with a
    session token from the environment.
    Non-secret settings (``base_url``, ``region``, ``api_version``, ``deployment``...) are taken per
    field from the first layer that sets them.

    The provider's auth mode then applies: ``none`` drops any secret, ``optional`` uses one when
    found, ``required`` (the default) raises when none was found. The secrets that result are
    remembered (``_redact.remember``) so they are masked wherever they show up later.

    Raises:
        MissingCredentials: auth is ``required`` and no layer has a key; the message names the env
            var and the ``credentials`` keyword (and ``sycophant login`` where the provider has one).
        CredentialStoreError: the credential store file is corrupt.
    """
    cfg = _config.settings().providers.get(model.provider, {})
    instance = model.extra.get("_instance_credentials") or {}
    env = os.environ if environ is None else environ
    layers: list[Mapping[str, Any]] = [per_request or {}, {**instance, **cfg}]
    if model.auth != "none":
        layers.append(_store_layer(model))
    ref = model.extra.get("_api_key_ref")
    if ref and model.auth != "none" and not any(k in SECRET_FIELDS for layer in layers for k in layer):
        # A registration's api_key (a literal or an env var name) sits just above the catalog's env vars.
        layers.append({"api_key": resolve_value(str(ref), f"api_key of provider {model.provider!r}", env)})
    layers.append(_env_layer(model, env))
    creds = Credentials()
    secret_layer = next((layer for layer in layers if any(k in SECRET_FIELDS for k in layer)), None)
    if secret_layer is not None and model.auth != "none":
        creds.update({k: v for k, v in secret_layer.items() if k in _WITH_SECRET})
    for layer in reversed(layers):
        creds.update({k: v for k, v in layer.items() if k not in _WITH_SECRET and v is not None})
    if model.auth == "required" and not any(creds.get(k) for k in SECRET_FIELDS):
        from sycophant_py._oauth import has_login

        raise MissingCredentials(model.provider, model.env, login=has_login(model))
    remember_credentials(creds)
    return creds
