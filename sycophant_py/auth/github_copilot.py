"""GitHub Copilot: a GitHub token exchanged for a short-lived Copilot token, plus editor headers.

Credentials and settings:

* ``api_key`` or ``github_token`` (``COPILOT_GITHUB_TOKEN`` / ``GH_COPILOT_TOKEN`` /
  ``GITHUB_TOKEN``): a GitHub OAuth token or PAT with Copilot access. ``prepare_credentials``
  exchanges it with ``GET https://api.github.com/copilot_internal/v2/token`` (header
  ``authorization: token <github token>``) for a Copilot token and the account's API host
  (``endpoints.api``, e.g. ``https://api.individual.githubcopilot.com``), which becomes the
  ``base_url`` unless one is configured. ``token_url`` overrides the exchange URL;
  ``github_host`` points it at GitHub Enterprise Server (``https://{host}/api/v3/...``).
* ``copilot_token``: an already exchanged token; no exchange happens.
* ``integration_id``, ``editor_version``, ``editor_plugin_version``, ``user_agent``: the editor
  identity Copilot requires (defaults match the VS Code Copilot Chat extension).

Exchanged tokens are cached per exchange URL and GitHub token (a hash of it, never the token) until
five minutes before ``expires_at`` (half the lifetime for very short-lived tokens). Concurrent
callers share one exchange: a lock per cache entry for threads, an ``asyncio.Lock`` per entry and
event loop for tasks. The async path does its I/O with the library's async transport. The clock is
injectable (``GithubCopilotAuth.clock``, wall-clock seconds, as ``expires_at`` is).

No token is ever logged, shown in a ``repr`` or put in an exception message; an exchange failure
raises ``AuthenticationFailed`` (401/403/404), ``RateLimited`` (429), ``ServerError`` (5xx),
``BadRequest`` (other statuses) or ``ResponseInvalid`` (a body without a token).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._exceptions import (
    AuthenticationFailed,
    BadRequest,
    MissingCredentials,
    RateLimited,
    ResponseInvalid,
    ServerError,
)
from sycophant_py.auth._base import Auth, Credentials, HttpRequest, Middleware, add_headers

if TYPE_CHECKING:
    import asyncio

    from sycophant_py._transport import RawResponse

__all__ = ["DEFAULT_TOKEN_URL", "EDITOR_HEADERS", "GithubCopilotAuth"]

DEFAULT_TOKEN_URL = "https://api.github.com/copilot_internal/v2/token"
"""Where GitHub tokens are exchanged for Copilot tokens."""

EDITOR_HEADERS = {
    "copilot-integration-id": ("integration_id", "vscode-chat"),
    "editor-version": ("editor_version", "vscode/1.95.0"),
    "editor-plugin-version": ("editor_plugin_version", "copilot-chat/0.22.0"),
    "user-agent": ("user_agent", "GitHubCopilotChat/0.22.0"),
}
"""Header name -> (credential that overrides it, default value)."""

_PROVIDER = "github-copilot"
_REFRESH_MARGIN = 300.0


@dataclass(slots=True)
class _Token:
    """One exchanged Copilot token (the value never appears in a repr)."""

    value: str = field(repr=False)
    expires_at: float
    refresh_at: float
    api: str | None


@dataclass(slots=True)
class _Entry:
    """A cache slot: the current token and the locks that serialise its exchange."""

    token: _Token | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = field(
        default_factory=weakref.WeakKeyDictionary
    )


def _token_url(credentials: Credentials) -> str:
    if credentials.get("token_url"):
        return str(credentials["token_url"])
    host = str(credentials.get("github_host") or "github.com")
    return DEFAULT_TOKEN_URL if host == "github.com" else f"https://{host}/api/v3/copilot_internal/v2/token"


def _exchange_request(url: str, github_token: str, credentials: Credentials) -> HttpRequest:
    headers = {"authorization": f"token {github_token}", "accept": "application/json"}
    for header, (setting, default) in EDITOR_HEADERS.items():
        if header != "copilot-integration-id":
            headers[header] = str(credentials.get(setting) or default)
    return HttpRequest("GET", url, headers)


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    return str(data.get("message") or data.get("error_details") or data) if isinstance(data, dict) else str(data)


def _parse(raw: RawResponse, now: float) -> _Token:
    """The token of a successful exchange, or the exception for a failed one."""
    kw: dict[str, Any] = {
        "status_code": raw.status,
        "provider": _PROVIDER,
        "request_id": raw.headers.get("x-github-request-id"),
    }
    if raw.status >= 400:
        detail = f"GitHub Copilot token exchange failed: {_message(raw.body)}"
        if raw.status in (401, 403, 404):
            raise AuthenticationFailed(detail + " (is the GitHub token valid and does the account have Copilot?)", **kw)
        if raw.status == 429:
            raise RateLimited(detail, **kw)
        raise (ServerError if raw.status >= 500 else BadRequest)(detail, **kw)
    try:
        data = json.loads(raw.body)
        value, expires_at = str(data["token"]), float(data["expires_at"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ResponseInvalid("GitHub Copilot token exchange answered without a token and expiry", **kw) from exc
    api = (data.get("endpoints") or {}).get("api") if isinstance(data.get("endpoints"), dict) else None
    margin = min(_REFRESH_MARGIN, max(expires_at - now, 0.0) / 2)
    return _Token(value, expires_at, expires_at - margin, str(api) if api else None)


class GithubCopilotAuth(Auth):
    """GitHub Copilot auth: token exchange, a per-token cache, ``Bearer`` plus editor headers."""

    name = "github_copilot"

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock: Callable[[], float] = clock or time.time
        """Wall-clock seconds (compared with the exchange's ``expires_at``)."""
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def clear_cache(self) -> None:
        """Forget every exchanged token (the next call exchanges again)."""
        with self._lock:
            self._entries.clear()

    def _entry(self, url: str, github_token: str) -> _Entry:
        key = (url, hashlib.sha256(github_token.encode()).hexdigest())
        with self._lock:
            return self._entries.setdefault(key, _Entry())

    def _fresh(self, entry: _Entry) -> _Token | None:
        token = entry.token
        return token if token is not None and self.clock() < token.refresh_at else None

    @staticmethod
    def _github_token(credentials: Credentials) -> str:
        token = credentials.get("github_token") or credentials.get("api_key")
        if not token:
            raise MissingCredentials(_PROVIDER, ("COPILOT_GITHUB_TOKEN", "GH_COPILOT_TOKEN", "GITHUB_TOKEN"))
        return str(token)

    @staticmethod
    def _with_token(credentials: Credentials, token: _Token) -> Credentials:
        out = Credentials(credentials)
        out["copilot_token"] = token.value
        if not out.get("base_url") and token.api:
            out["base_url"] = token.api
        return out

    @override
    def prepare_credentials(self, credentials: Credentials) -> Credentials:
        """Exchange the GitHub token (or reuse the cached Copilot token); sets ``base_url``.

        Raises:
            AuthenticationFailed: GitHub refused the token (401/403/404).
            ProviderError: another exchange failure (see the module docstring).
        """
        if credentials.get("copilot_token"):
            return credentials
        github_token = self._github_token(credentials)
        url = _token_url(credentials)
        entry = self._entry(url, github_token)
        token = self._fresh(entry)
        if token is None:
            with entry.lock:
                token = self._fresh(entry)
                if token is None:
                    from sycophant_py import _transport

                    raw = _transport.send(_exchange_request(url, github_token, credentials))
                    token = entry.token = _parse(raw, self.clock())
        return self._with_token(credentials, token)

    @override
    async def aprepare_credentials(self, credentials: Credentials) -> Credentials:
        """Async twin of :meth:`prepare_credentials` (one exchange per entry and event loop)."""
        if credentials.get("copilot_token"):
            return credentials
        import asyncio

        github_token = self._github_token(credentials)
        url = _token_url(credentials)
        entry = self._entry(url, github_token)
        token = self._fresh(entry)
        if token is None:
            loop = asyncio.get_running_loop()
            with self._lock:  # held only to create the loop's lock, never across an await
                lock = entry.async_locks.setdefault(loop, asyncio.Lock())
            async with lock:
                token = self._fresh(entry)
                if token is None:
                    from sycophant_py import _transport

                    raw = await _transport.asend(_exchange_request(url, github_token, credentials))
                    token = entry.token = _parse(raw, self.clock())
        return self._with_token(credentials, token)

    def _forget(self, credentials: Credentials) -> Credentials | None:
        """The credentials without the refused Copilot token (its cache entry dropped), or None
        when there is no GitHub token to exchange again."""
        github_token = credentials.get("github_token") or credentials.get("api_key")
        if not credentials.get("copilot_token") or not github_token:
            return None
        key = (_token_url(credentials), hashlib.sha256(str(github_token).encode()).hexdigest())
        with self._lock:
            self._entries.pop(key, None)
        out = Credentials(credentials)
        del out["copilot_token"]
        return out

    @override
    def on_unauthorized(self, credentials: Credentials) -> Credentials | None:
        """Copilot refused the exchanged token (revoked early): exchange the GitHub token again."""
        fresh = self._forget(credentials)
        return None if fresh is None else self.prepare_credentials(fresh)

    @override
    async def aon_unauthorized(self, credentials: Credentials) -> Credentials | None:
        fresh = self._forget(credentials)
        return None if fresh is None else await self.aprepare_credentials(fresh)

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        token = credentials.get("copilot_token")
        if not token:
            return []
        headers = {"authorization": f"Bearer {token}"}
        for header, (setting, default) in EDITOR_HEADERS.items():
            headers[header] = str(credentials.get(setting) or default)
        return [add_headers(headers)]
