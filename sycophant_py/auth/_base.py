"""The auth behaviour: a small strategy over the library's own request type.

``Auth.middlewares(credentials)`` returns callables applied, in order, to each outgoing
:class:`HttpRequest` (adding headers or query params, or signing the final bytes). They run
inside the retry loop, once per attempt. ``path_params`` fills URL templates (``{region}``,
``{deployment}``); ``prepare_credentials`` / ``aprepare_credentials`` do token exchange and may set
``base_url``; ``on_unauthorized`` / ``aon_unauthorized`` may give fresh credentials after a 401
(the pipeline asks once per attempt and resends once). One definition serves the sync and the
async pipeline.

Secrets never print: :class:`Credentials` and :class:`HttpRequest` mask them in ``repr`` and ``str``
(the rules are in ``sycophant_py._redact``, shared with logs, hooks and exceptions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from typing_extensions import override

from sycophant_py._redact import (
    SECRET_FIELDS,
    is_secret_header,
    is_secret_name,
    mask,
    redact_text,
    remember,
    remember_credentials,
)

__all__ = [
    "Auth",
    "BearerAuth",
    "Credentials",
    "HttpRequest",
    "Middleware",
    "NoAuth",
    "SECRET_FIELDS",
    "add_headers",
    "add_query",
    "is_secret_header",
    "mask",
]


class Credentials(dict[str, Any]):
    """Resolved credentials and settings for one call; secret fields are masked in ``repr``.

    A secret given to the constructor or stored with ``credentials[name] = value`` (as a token
    exchange does) is remembered, so it is masked wherever it shows up later (see
    ``sycophant_py._redact``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self:
            remember_credentials(self)

    @override
    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, str) and is_secret_name(key):
            remember(value)
        super().__setitem__(key, value)

    @override
    def __repr__(self) -> str:
        shown = {k: (mask(v) if v and is_secret_name(k) else v) for k, v in self.items()}
        return redact_text(f"Credentials({shown!r})")

    __str__ = __repr__

    @property
    def api_key(self) -> str | None:
        """The key or token, when there is one."""
        v = self.get("api_key")
        return None if v is None else str(v)


@dataclass(slots=True)
class HttpRequest:
    """An outgoing HTTP request in the library's own terms (not httpx's)."""

    method: str
    """HTTP method."""
    url: str
    """Absolute URL, without the query params below."""
    headers: dict[str, str] = field(default_factory=dict)
    """Headers (lower-case names)."""
    params: dict[str, str] = field(default_factory=dict)
    """Query params."""
    content: bytes = b""
    """The body bytes, final (signers sign these)."""
    auth_headers: frozenset[str] = frozenset()
    """Names of the headers the auth strategy set (dropped when a redirect leaves the origin)."""
    auth_params: frozenset[str] = frozenset()
    """Names of the query params the auth strategy set (dropped likewise)."""

    @override
    def __repr__(self) -> str:
        hidden = self.auth_headers
        safe = {k: (mask(v) if is_secret_header(k) or k in hidden else v) for k, v in self.headers.items()}
        query = {k: (mask(v) if is_secret_header(k) or k in self.auth_params else v) for k, v in self.params.items()}
        shown = f", params={query}" if query else ""
        return redact_text(f"HttpRequest({self.method} {self.url}, headers={safe}{shown})")

    __str__ = __repr__


Middleware: TypeAlias = Callable[[HttpRequest], HttpRequest]


def add_headers(headers: Mapping[str, str]) -> Middleware:
    """A middleware that sets headers."""
    items = [(k.lower(), v) for k, v in headers.items()]

    def apply(req: HttpRequest) -> HttpRequest:
        for k, v in items:
            req.headers[k] = v
        return req

    return apply


def add_query(params: Mapping[str, str]) -> Middleware:
    """A middleware that sets query params."""
    items = list(params.items())

    def apply(req: HttpRequest) -> HttpRequest:
        for k, v in items:
            req.params[k] = v
        return req

    return apply


class Auth(ABC):
    """Behaviour of an auth strategy.

    Override ``prepare_credentials`` (and ``aprepare_credentials`` for non-blocking I/O) for token
    exchange; the defaults return the credentials unchanged.
    """

    name: ClassVar[str] = ""
    """The registry name."""

    @abstractmethod
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        """What each outgoing request gets (headers, query params, a signing step)."""

    def path_params(self, credentials: Credentials) -> dict[str, str]:
        """Values for URL templates such as ``{region}`` or ``{deployment}``."""
        return {}

    def prepare_credentials(self, credentials: Credentials) -> Credentials:
        """Token exchange or refresh before the request is built (sync; may do I/O)."""
        return credentials

    async def aprepare_credentials(self, credentials: Credentials) -> Credentials:
        """Async twin of ``prepare_credentials`` (defaults to the sync one, which does no I/O)."""
        return self.prepare_credentials(credentials)

    def on_unauthorized(self, credentials: Credentials) -> Credentials | None:
        """Fresh credentials after the provider answered 401, or None to let the error stand.

        ``credentials`` are the prepared ones that were refused. A strategy that can refresh (an
        OAuth login, an exchanged token) returns new prepared credentials; the pipeline re-applies
        the middlewares and sends the request once more. The default returns None.
        """
        return None

    async def aon_unauthorized(self, credentials: Credentials) -> Credentials | None:
        """Async twin of ``on_unauthorized`` (defaults to the sync one)."""
        return self.on_unauthorized(credentials)

    @override
    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class BearerAuth(Auth):
    """``Authorization: Bearer <api_key>``; nothing is sent when there is no key."""

    name = "bearer"

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        key = credentials.api_key
        return [add_headers({"authorization": f"Bearer {key}"})] if key else []


class NoAuth(Auth):
    """Sends no credentials."""

    name = "none"

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        return []
