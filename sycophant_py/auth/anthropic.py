"""Anthropic auth: ``x-api-key`` and ``anthropic-version``, or a bearer token for OAuth.

Each request gets:

1. ``anthropic-version``: the credentials' ``anthropic_version`` setting, else the Messages
   protocol's ``ANTHROPIC_VERSION`` (imported below from its package, the one place it is written).
2. Either ``authorization: Bearer <token>`` when the credentials carry an OAuth or gateway token
   (``auth_token``, ``access_token``, ``bearer_token`` or ``token``, first found), or when the
   ``api_key`` itself is a Claude OAuth token (``sk-ant-oat...``, which also needs the
   ``oauth-2025-04-20`` beta); or else ``x-api-key: <api_key>``. Never both.
3. ``anthropic-beta``: the credentials' ``anthropic_beta`` (a list, or a comma-separated string),
   joined with commas and merged without duplicates into a value already on the request (from
   the provider's ``headers``).

Nothing here logs, and the request's ``repr`` masks these headers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from typing_extensions import override

from sycophant_py.auth._base import Auth, Credentials, HttpRequest, Middleware
from sycophant_py.wire.anthropic_messages import ANTHROPIC_VERSION

__all__ = ["ANTHROPIC_VERSION", "OAUTH_BETA", "AnthropicAuth", "split_betas"]
OAUTH_BETA = "oauth-2025-04-20"
"""The beta an OAuth access token needs."""
_TOKEN_FIELDS = ("auth_token", "access_token", "bearer_token", "token")
_OAUTH_KEY_PREFIX = "sk-ant-oat"


def split_betas(value: Any) -> list[str]:
    """Beta names from a comma-separated string or an iterable of them (blanks dropped)."""
    if value is None:
        return []
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    return [s for s in (str(v).strip() for v in items) if s]


def _headers_middleware(fixed: dict[str, str], betas: list[str]) -> Middleware:
    def apply(req: HttpRequest) -> HttpRequest:
        req.headers.update(fixed)
        if betas:
            merged = dict.fromkeys([*split_betas(req.headers.get("anthropic-beta")), *betas])
            req.headers["anthropic-beta"] = ",".join(merged)
        return req

    return apply


class AnthropicAuth(Auth):
    """``x-api-key`` + ``anthropic-version`` (bearer for OAuth tokens); see the module docstring."""

    name = "anthropic"

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        """One middleware setting the version, the key or token, and the beta header."""
        fixed = {"anthropic-version": str(credentials.get("anthropic_version") or ANTHROPIC_VERSION)}
        betas = split_betas(credentials.get("anthropic_beta"))
        token = next((str(credentials[f]) for f in _TOKEN_FIELDS if credentials.get(f)), None)
        key = credentials.api_key
        if token is None and key and key.startswith(_OAUTH_KEY_PREFIX):
            token = key
            betas.append(OAUTH_BETA)
        if token is not None:
            fixed["authorization"] = f"Bearer {token}"
        elif key:
            fixed["x-api-key"] = key
        return [_headers_middleware(fixed, betas)]
