"""Google Vertex AI: OAuth access tokens from a service account or application-default credentials.

Serves ``google-vertex`` (Gemini and the other models Vertex hosts) and
``google-vertex-anthropic``. Credentials and settings, first found wins:

* ``api_key`` or ``access_token``: a ready token (``gcloud auth print-access-token``), sent as
  ``Authorization: Bearer`` as it is;
* ``service_account_info``: a service-account key (a dict or its JSON text);
* ``application_credentials``: the path of a credentials file (a service-account key, or the
  ``authorized_user`` file ``gcloud auth application-default login`` writes);
  ``GOOGLE_APPLICATION_CREDENTIALS`` fills it;
* otherwise application-default credentials (``google.auth.default``: the gcloud file, or the
  metadata server on Google Cloud).

Tokens come from google-auth (an optional extra: ``pip install "sycophant_py[vertex]"``, imported
on first use) through the library's own HTTP clients. Each source's token is cached and refreshed
``refresh_margin`` seconds (300) before it expires, one refresh per source at a time; the async
path refreshes in a worker thread. ``project`` (a URL template value) defaults to the credentials'
project; ``location`` must be set (``GOOGLE_VERTEX_LOCATION``, configuration or the stored login).

``syc.login("google-vertex")`` asks for the key file (empty: application-default credentials),
checks that a token can be had, asks for project and location, and stores them as settings in the
credential store (the key file stays where it is; only its path is stored).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from typing_extensions import override

from sycophant_py._exceptions import AuthenticationFailed, InvalidError, MissingCredentials
from sycophant_py.auth._base import Auth, Credentials, Middleware, add_headers

__all__ = ["SCOPES", "GoogleVertexAuth", "login_vertex"]

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
"""The OAuth scope Vertex AI calls need."""

_PROVIDER = "google-vertex"
_SOURCE = "google_token_source"  # which cached source minted the token (for a refresh after a 401)


def _google() -> Any:
    try:
        import google.auth
    except ImportError:
        raise InvalidError(
            'Vertex AI credentials need google-auth: pip install "sycophant_py[vertex]" '
            "(or pass a ready access token as credentials={'access_token': ...})"
        ) from None
    return google.auth


@dataclass(slots=True)
class _Entry:
    """One credentials source: its google-auth object, current token and lock."""

    google: Any = None
    project: str | None = None
    token: str | None = field(default=None, repr=False)
    expires_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _source(credentials: Credentials) -> tuple[str, Any]:
    info = credentials.get("service_account_info")
    if info:
        data = json.loads(info) if isinstance(info, str) else dict(info)
        return "info:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16], data
    path = credentials.get("application_credentials")
    if path:
        full = os.path.abspath(os.path.expanduser(str(path)))
        return "file:" + full, full
    return "adc", None


def _load(key: str, source: Any) -> tuple[Any, str | None]:
    google_auth = _google()
    from google.auth.exceptions import DefaultCredentialsError

    try:
        if key.startswith("info:"):
            from google.oauth2 import service_account

            creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]  # google-auth is untyped
                source, scopes=list(SCOPES)
            )
            return creds, source.get("project_id")
        if key.startswith("file:"):
            return _load_file(google_auth, source)
        from sycophant_py.auth._google_transport import GoogleRequest

        found: tuple[Any, str | None] = google_auth.default(scopes=list(SCOPES), request=GoogleRequest())
        return found
    except DefaultCredentialsError as exc:
        if key == "adc":
            raise MissingCredentials(
                _PROVIDER, ("GOOGLE_APPLICATION_CREDENTIALS",), "application_credentials", login=True
            ) from exc
        raise InvalidError(f"cannot use the Google credentials ({key.partition(':')[0]}): {exc}") from exc
    except (ValueError, KeyError) as exc:
        raise InvalidError(f"the Google service-account key is not usable: {type(exc).__name__}") from None


def _load_file(google_auth: Any, path: str) -> tuple[Any, str | None]:
    """Credentials from a file: service-account keys and gcloud's user credentials by their own
    loaders, other types (workload identity federation...) as ``GOOGLE_APPLICATION_CREDENTIALS``
    would load them."""
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError) as exc:
        raise InvalidError(f"cannot read the Google credentials file {path}: {type(exc).__name__}") from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind == "service_account":
        from google.oauth2 import service_account

        sa = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]  # google-auth is untyped
            info, scopes=list(SCOPES)
        )
        return sa, info.get("project_id")
    if kind == "authorized_user":
        from google.oauth2 import credentials as user_credentials

        user = user_credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]  # google-auth is untyped
            info, scopes=list(SCOPES)
        )
        return user, info.get("quota_project_id")
    import warnings

    with warnings.catch_warnings():
        # The path is the application's own setting, trusted as GOOGLE_APPLICATION_CREDENTIALS is
        # (google.auth.default silences the same warning for that variable).
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded: tuple[Any, str | None] = google_auth.load_credentials_from_file(path, scopes=list(SCOPES))
    return loaded


class GoogleVertexAuth(Auth):
    """Bearer tokens for Vertex AI, minted and refreshed with google-auth (see the module docstring)."""

    name = "google_vertex"
    refresh_margin: float = 300.0
    """Seconds before expiry at which a cached token is refreshed."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock: Callable[[], float] = clock or time.time
        """Wall-clock seconds (compared with the token's expiry)."""
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _entry(self, key: str) -> _Entry:
        with self._lock:
            return self._entries.setdefault(key, _Entry())

    def _fresh(self, entry: _Entry) -> bool:
        return entry.token is not None and self.clock() < entry.expires_at - self.refresh_margin

    def _refresh(self, entry: _Entry) -> None:
        from google.auth.exceptions import GoogleAuthError

        from sycophant_py.auth._google_transport import GoogleRequest

        try:
            entry.google.refresh(GoogleRequest())
        except GoogleAuthError as exc:
            raise AuthenticationFailed(
                f"Google credentials could not be refreshed: {exc}", provider=_PROVIDER, status_code=0
            ) from exc
        entry.token = str(entry.google.token)
        expiry = entry.google.expiry  # naive UTC, as google-auth keeps it
        entry.expires_at = expiry.replace(tzinfo=UTC).timestamp() if expiry else self.clock() + 3600

    def _token(self, credentials: Credentials) -> tuple[str, _Entry]:
        key, source = _source(credentials)
        entry = self._entry(key)
        if not self._fresh(entry):
            with entry.lock:
                if not self._fresh(entry):
                    if entry.google is None:
                        entry.google, entry.project = _load(key, source)
                    self._refresh(entry)
        return key, entry

    @staticmethod
    def _ready(credentials: Credentials) -> bool:
        return bool(credentials.api_key or credentials.get("access_token"))

    @override
    def prepare_credentials(self, credentials: Credentials) -> Credentials:
        """Mint (or reuse) an access token; fills ``project`` from the credentials when unset.

        Raises:
            MissingCredentials: no token, key file or application-default credentials were found.
            AuthenticationFailed: Google refused to issue a token.
            InvalidError: google-auth is not installed, or the key cannot be used.
        """
        if self._ready(credentials):
            return credentials
        key, entry = self._token(credentials)
        out = Credentials(credentials)
        out["access_token"] = entry.token
        out[_SOURCE] = key
        if not out.get("project") and entry.project:
            out["project"] = entry.project
        return out

    @override
    async def aprepare_credentials(self, credentials: Credentials) -> Credentials:
        if self._ready(credentials):
            return credentials
        import asyncio

        return await asyncio.to_thread(self.prepare_credentials, credentials)

    def _forget(self, credentials: Credentials) -> Credentials | None:
        key = credentials.get(_SOURCE)
        entry = self._entries.get(str(key)) if key else None
        if entry is None:
            return None  # the token came from the caller: nothing to refresh
        entry.expires_at = 0.0
        return Credentials({k: v for k, v in credentials.items() if k not in ("access_token", _SOURCE)})

    @override
    def on_unauthorized(self, credentials: Credentials) -> Credentials | None:
        """Mint a new token once after a 401 (when the refused one was minted here)."""
        fresh = self._forget(credentials)
        return None if fresh is None else self.prepare_credentials(fresh)

    @override
    async def aon_unauthorized(self, credentials: Credentials) -> Credentials | None:
        fresh = self._forget(credentials)
        return None if fresh is None else await self.aprepare_credentials(fresh)

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        token = credentials.api_key or credentials.get("access_token")
        return [add_headers({"authorization": f"Bearer {token}"})] if token else []


def login_vertex(provider: str, callbacks: Any) -> None:
    """The ``google-vertex`` login: key file (or application-default credentials), project, location."""
    from sycophant_py._registry import auth_for
    from sycophant_py._store import CredentialStore

    answer = callbacks.on_prompt(message="Service-account key file (empty: application-default credentials):")
    settings: dict[str, Any] = {}
    if answer.strip():
        path = os.path.abspath(os.path.expanduser(answer.strip()))
        if not os.path.isfile(path):
            raise InvalidError(f"no such file: {path}")
        settings["application_credentials"] = path
    checked = auth_for(provider).prepare_credentials(Credentials(settings))  # fails here if no token can be had
    default_project = checked.get("project")
    project = callbacks.on_prompt(message=f"Google Cloud project [{default_project or 'required'}]:").strip()
    project = project or default_project
    if not project:
        raise InvalidError("a Google Cloud project id is needed for Vertex AI")
    location = callbacks.on_prompt(message="Vertex AI location [us-central1]:").strip() or "us-central1"
    CredentialStore().set_entry(provider, {"type": "settings", **settings, "project": project, "location": location})
