"""Public namespace for writing auth strategies."""

from __future__ import annotations

from sycophant_py.auth._base import (
    Auth,
    BearerAuth,
    Credentials,
    HttpRequest,
    Middleware,
    NoAuth,
    add_headers,
    add_query,
    mask,
)

__all__ = [
    "Auth",
    "BearerAuth",
    "Credentials",
    "HttpRequest",
    "Middleware",
    "NoAuth",
    "add_headers",
    "add_query",
    "mask",
]
