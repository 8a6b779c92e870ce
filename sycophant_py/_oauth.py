"""OAuth providers (pi's ``registerProvider(name, {oauth: ...})``): the types, login and logout.

An :class:`OAuth` bundles four functions the application writes:

- ``login(callbacks) -> OAuthCredentials``: runs a flow, talking to the user through the callbacks
  (``callbacks.on_auth(url=...)`` to open a browser, ``callbacks.on_device_code(user_code=...,
  verification_uri=...)`` for the device flow, ``callbacks.on_prompt(message=...) -> str`` to ask);
- ``refresh_token(credentials) -> OAuthCredentials``: trades the refresh token for a new access token;
- ``get_api_key(credentials) -> str``: the key the provider's usual auth header carries;
- ``modify_models(models, credentials)`` (optional): rewrites the provider's model list for this
  login (a base URL per region, the models a subscription includes...).

Functions may be sync or async. Sync entry points (``login``, ``generate_text``) run a sync
function directly and an async one with ``asyncio.run`` when no event loop runs in the thread;
async entry points (``alogin``, ``agenerate_text``) await async ones and run sync ``login`` and
``refresh_token`` in a worker thread (they may block on the network or the user). Inside an
async ``login``, ``await callbacks.on_prompt(...)``; ``on_auth`` and ``on_device_code`` are plain
calls in both forms.

:func:`login` stores the credentials in the per-user :class:`~sycophant_py._store.CredentialStore`;
each call then reads them from there, refreshes them shortly before they expire (under the store's
cross-process lock: see ``auth/oauth.py``) and sends ``get_api_key(credentials)``.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias, TypeVar

from typing_extensions import override

from sycophant_py._exceptions import InvalidError
from sycophant_py.auth._base import mask

if TYPE_CHECKING:
    import asyncio

    from sycophant_py._models import ModelInfo
    from sycophant_py.auth._base import Auth

__all__ = [
    "OAUTH_FIELD",
    "LoginCallbacks",
    "OAuth",
    "OAuthCredentials",
    "alogin",
    "call_async",
    "call_sync",
    "has_login",
    "has_oauth",
    "login",
    "login_providers",
    "logout",
    "oauth_for_provider",
    "with_oauth",
]

T = TypeVar("T")

OAUTH_FIELD = "oauth_credentials"
"""The credential field that carries stored OAuth credentials from the store to the auth step."""

_MS_THRESHOLD = 1e11  # a Unix time past this (year 5138) is in milliseconds, as pi's ``Date.now()``

# Built-in OAuth flows by provider id (lazy "module:attribute" references).
_BUILTIN_OAUTH: dict[str, str] = {"github-copilot": "sycophant_py._oauth_flows:COPILOT_OAUTH"}
# Built-in logins that record settings instead of OAuth tokens: fn(provider, callbacks) -> None.
_SETTINGS_LOGINS: dict[str, str] = {
    "google-vertex": "sycophant_py.auth.google_vertex:login_vertex",
    "google-vertex-anthropic": "sycophant_py.auth.google_vertex:login_vertex",
}


def _load(ref: str) -> Any:
    import importlib

    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


# -- the credentials -------------------------------------------------------------------------------


class OAuthCredentials:
    """What a login returns and the store keeps: refresh token, access token, expiry, extras.

    Args:
        refresh: The refresh token (``""`` when the flow gives none).
        access: The access token.
        expires: Expiry as Unix seconds, or None when the token does not expire. A value past
            ``1e11`` is taken as milliseconds (pi's ``Date.now() + ...``) and converted.
        **extra: Any other JSON-serialisable fields the flow wants to keep (account id, region...);
            readable as attributes (``credentials.region``) and with :meth:`get`.
    """

    def __init__(self, refresh: str, access: str, expires: float | None, **extra: Any) -> None:
        if not isinstance(access, str) or not access:
            raise InvalidError("OAuthCredentials.access must be a non-empty string")
        if not isinstance(refresh, str):
            raise InvalidError("OAuthCredentials.refresh must be a string")
        if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
            raise InvalidError(f"OAuthCredentials.expires must be Unix seconds or None, not {type(expires).__name__}")
        try:
            json.dumps(extra)
        except (TypeError, ValueError) as exc:
            raise InvalidError(f"OAuthCredentials extra fields must be JSON-serialisable ({exc})") from None
        self.refresh = refresh
        self.access = access
        self.expires: float | None = None if expires is None else float(expires)
        if self.expires is not None and self.expires > _MS_THRESHOLD:
            self.expires /= 1000.0
        self.extra: dict[str, Any] = dict(extra)

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("extra") or {}
        if name in extra:
            return extra[name]
        raise AttributeError(f"OAuthCredentials has no field {name!r}")

    def get(self, key: str, default: Any = None) -> Any:
        """A field by name (``refresh``, ``access``, ``expires`` or an extra), else ``default``."""
        if key in ("refresh", "access", "expires"):
            return getattr(self, key)
        return self.extra.get(key, default)

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """True when the token expires in less than ``seconds`` (never for a token without expiry)."""
        if self.expires is None:
            return False
        return self.expires - (time.time() if now is None else now) < seconds

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the store keeps: ``refresh``, ``access``, ``expires`` and the extras."""
        return {**self.extra, "refresh": self.refresh, "access": self.access, "expires": self.expires}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OAuthCredentials:
        """Build from the stored (or a pi-style) mapping; unknown keys become extras (``type`` is dropped)."""
        rest = {k: v for k, v in data.items() if k not in ("refresh", "access", "expires", "type")}
        return cls(data.get("refresh") or "", data.get("access") or "", data.get("expires"), **rest)

    @classmethod
    def coerce(cls, value: Any, what: str) -> OAuthCredentials:
        """An ``OAuthCredentials`` from what a login or refresh function returned.

        Raises:
            InvalidError: ``value`` is neither an ``OAuthCredentials`` nor a mapping.
        """
        if isinstance(value, OAuthCredentials):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise InvalidError(f"{what} must be OAuthCredentials or a mapping, not {type(value).__name__}")

    @override
    def __eq__(self, other: object) -> bool:
        return isinstance(other, OAuthCredentials) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value: deliberately unhashable

    @override
    def __repr__(self) -> str:
        extra = f", extra={sorted(self.extra)}" if self.extra else ""
        tokens = f"refresh={mask(self.refresh)}, access={mask(self.access)}"
        return f"OAuthCredentials({tokens}, expires={self.expires}{extra})"


# -- the OAuth definition ------------------------------------------------------------------------

LoginFn: TypeAlias = Callable[[Any], Any]
RefreshFn: TypeAlias = Callable[[OAuthCredentials], Any]
ApiKeyFn: TypeAlias = Callable[[OAuthCredentials], Any]
ModifyModelsFn: TypeAlias = Callable[[list[Any], OAuthCredentials], Any]

_OAUTH_KEYS = {
    "name": "name",
    "login": "login",
    "refreshToken": "refresh_token",
    "refresh_token": "refresh_token",
    "getApiKey": "get_api_key",
    "get_api_key": "get_api_key",
    "modifyModels": "modify_models",
    "modify_models": "modify_models",
    "refreshMargin": "refresh_margin",
    "refresh_margin": "refresh_margin",
}


@dataclass(frozen=True)
class OAuth:
    """An OAuth login for a provider (``register_provider(name, ..., oauth=OAuth(...))``).

    Each function may be sync or async (see the module docstring).
    """

    name: str
    """Display name (``"Corporate AI (SSO)"``)."""
    login: LoginFn
    """``login(callbacks) -> OAuthCredentials`` (or a mapping with ``refresh``/``access``/``expires``)."""
    refresh_token: RefreshFn
    """``refresh_token(credentials) -> OAuthCredentials``: new credentials for expiring ones."""
    get_api_key: ApiKeyFn
    """``get_api_key(credentials) -> str``: the key sent in the provider's auth header."""
    modify_models: ModifyModelsFn | None = None
    """``modify_models(models, credentials) -> models``: applied after login and after each refresh;
    ``models`` is a list of ``ModelConfig`` (``base_url`` filled in), the result a list of
    ``ModelConfig`` or dicts that becomes the provider's model list."""
    refresh_margin: float = 60.0
    """Seconds before expiry at which a token is refreshed ahead of a request."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidError("OAuth.name must be a non-empty string")
        for key in ("login", "refresh_token", "get_api_key"):
            if not callable(getattr(self, key)):
                raise InvalidError(f"OAuth.{key} must be a function")
        if self.modify_models is not None and not callable(self.modify_models):
            raise InvalidError("OAuth.modify_models must be a function or None")
        margin = self.refresh_margin
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise InvalidError("OAuth.refresh_margin must be seconds >= 0")

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> OAuth:
        """Build from the seeds' dict form (``login``, ``refreshToken``, ``getApiKey``, ``modifyModels``, ``name``).

        Raises:
            UnknownName: a key is not one of those (snake_case spellings are accepted too).
        """
        from sycophant_py._exceptions import UnknownName

        out: dict[str, Any] = {}
        for key, value in config.items():
            if key not in _OAUTH_KEYS:
                raise UnknownName("oauth option", key, sorted(set(_OAUTH_KEYS.values())))
            out[_OAUTH_KEYS[key]] = value
        missing = [k for k in ("name", "login", "refresh_token", "get_api_key") if k not in out]
        if missing:
            raise InvalidError(f"oauth needs {', '.join(missing)} (pi's name, login, refreshToken, getApiKey)")
        return cls(**out)


def build_oauth(value: Any, where: str) -> OAuth:
    """Normalise ``register_provider(oauth=...)``: an :class:`OAuth` or the seeds' mapping."""
    if isinstance(value, OAuth):
        return value
    if isinstance(value, Mapping):
        return OAuth.from_mapping(value)
    raise InvalidError(f"{where}: oauth must be syc.OAuth(...) or a mapping, not {type(value).__name__}")


# -- calling user functions (sync or async) --------------------------------------------------------


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004 - the __call__ of a callable object, not a callable() test


async def _await(aw: Awaitable[T]) -> T:
    return await aw


def call_sync(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """Call a user function from a sync entry point (an async one runs with ``asyncio.run``).

    Raises:
        InvalidError: the function is async and an event loop runs in this thread.
    """
    result = fn(*args)
    if not inspect.isawaitable(result):
        return result
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(result))
    if inspect.iscoroutine(result):
        result.close()
    raise InvalidError(
        f"{what} is async and an event loop is running in this thread: use the async entry point "
        "(alogin, agenerate_text, astream_text...)"
    )


async def call_async(fn: Callable[..., Any], *args: Any, thread: bool = False) -> Any:
    """Call a user function from an async entry point; ``thread=True`` runs a sync one in a worker thread."""
    if thread and not _is_async(fn):
        import asyncio

        result = await asyncio.to_thread(fn, *args)
    else:
        result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


# -- the callbacks ---------------------------------------------------------------------------------


def _open_browser(url: str) -> None:
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:
        return  # no browser here (a server, a container): the printed URL is enough
    webbrowser.open(url)


class LoginCallbacks:
    """The terminal's callbacks (the default of :func:`login`); subclass or replace any of them.

    Args:
        out: Where messages go (default ``sys.stderr``, so standard output stays clean).
        open_browser: Open ``on_auth`` URLs in a browser when one is available.
        prompt: The function that asks (default ``input``).
    """

    def __init__(
        self, *, out: TextIO | None = None, open_browser: bool = True, prompt: Callable[[str], str] | None = None
    ) -> None:
        self.out = out
        self.open_browser = open_browser
        self.prompt = prompt

    def _print(self, text: str) -> None:
        import sys

        print(text, file=self.out or sys.stderr, flush=True)

    def on_auth(self, *, url: str, instructions: str | None = None) -> None:
        """Show the URL to open (and open it in a browser where there is one)."""
        self._print(f"Open this URL to log in:\n  {url}")
        if instructions:
            self._print(instructions)
        if self.open_browser:
            _open_browser(url)

    def on_device_code(self, *, user_code: str, verification_uri: str) -> None:
        """Show the device code and where to enter it."""
        self._print(f"Go to {verification_uri} and enter the code: {user_code}")

    def on_prompt(self, *, message: str) -> str:
        """Ask the user; returns the answer without surrounding whitespace."""
        ask = self.prompt or input
        return ask(message.rstrip() + " ").strip()


def _method(user: Any, name: str) -> Callable[..., Any]:
    fn = getattr(user, name, None)
    method: Callable[..., Any] = fn if callable(fn) else getattr(LoginCallbacks(), name)
    return method


class _SyncView:
    """What a sync ``login`` function receives from :func:`login` (async callbacks are run to completion)."""

    def __init__(self, user: Any) -> None:
        self._user = user

    def on_auth(self, **kw: Any) -> None:
        call_sync(lambda: _method(self._user, "on_auth")(**kw), what="callbacks.on_auth")

    def on_device_code(self, **kw: Any) -> None:
        call_sync(lambda: _method(self._user, "on_device_code")(**kw), what="callbacks.on_device_code")

    def on_prompt(self, **kw: Any) -> str:
        return str(call_sync(lambda: _method(self._user, "on_prompt")(**kw), what="callbacks.on_prompt"))


class _ThreadView(_SyncView):
    """What a sync ``login`` run by :func:`alogin` in a worker thread receives: async callbacks run on the loop."""

    def __init__(self, user: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(user)
        self._loop = loop

    def _run(self, name: str, kw: dict[str, Any]) -> Any:
        import asyncio

        result = _method(self._user, name)(**kw)
        if inspect.isawaitable(result):
            result = asyncio.run_coroutine_threadsafe(_await(result), self._loop).result()
        return result

    @override
    def on_auth(self, **kw: Any) -> None:
        self._run("on_auth", kw)

    @override
    def on_device_code(self, **kw: Any) -> None:
        self._run("on_device_code", kw)

    @override
    def on_prompt(self, **kw: Any) -> str:
        return str(self._run("on_prompt", kw))


class _AsyncView:
    """What an async ``login`` receives: ``await callbacks.on_prompt(...)``; the others are plain calls."""

    def __init__(self, user: Any) -> None:
        self._user = user
        self._pending: list[asyncio.Future[Any]] = []

    def _notify(self, name: str, kw: dict[str, Any]) -> None:
        import asyncio

        result = _method(self._user, name)(**kw)
        if inspect.isawaitable(result):
            self._pending.append(asyncio.ensure_future(_await(result)))

    def on_auth(self, **kw: Any) -> None:
        self._notify("on_auth", kw)

    def on_device_code(self, **kw: Any) -> None:
        self._notify("on_device_code", kw)

    async def on_prompt(self, **kw: Any) -> str:
        result = _method(self._user, "on_prompt")(**kw)
        if inspect.isawaitable(result):
            result = await result
        return str(result)

    async def settle(self) -> None:
        """Wait for async ``on_auth`` / ``on_device_code`` callbacks still running."""
        import asyncio

        if self._pending:
            await asyncio.gather(*self._pending)


# -- which providers have a login ------------------------------------------------------------------


def _canonical(provider: str) -> str:
    from sycophant_py._catalog import canonical_provider

    return canonical_provider(provider)


def oauth_for_provider(pid: str) -> OAuth | None:
    """The OAuth of a (canonical) provider id: its registration's, else a built-in flow, else None."""
    from sycophant_py import _catalog

    row = _catalog.REGISTERED.get(pid)
    if row is not None and row.get("_oauth") is not None:
        registered: OAuth = row["_oauth"]
        return registered
    ref = _BUILTIN_OAUTH.get(pid)
    return _load(ref) if ref is not None else None


def has_oauth(model: ModelInfo) -> bool:
    """True when the model's provider logs in with OAuth (registered or built-in)."""
    return model.extra.get("_oauth") is not None or model.provider in _BUILTIN_OAUTH


def has_login(model: ModelInfo) -> bool:
    """True when ``sycophant login <provider>`` works for the model's provider."""
    return has_oauth(model) or model.provider in _SETTINGS_LOGINS


def login_providers() -> list[str]:
    """Ids of the providers that have a login flow (registered OAuth providers and the built-ins)."""
    from sycophant_py import _catalog

    registered = {pid for pid, row in _catalog.REGISTERED.items() if row.get("_oauth") is not None}
    return sorted(registered | set(_BUILTIN_OAUTH) | set(_SETTINGS_LOGINS))


def with_oauth(model: ModelInfo, auth: Auth) -> Auth:
    """The auth strategy for a call: wrapped in the OAuth step when the provider has an OAuth login."""
    oauth = model.extra.get("_oauth")
    if oauth is None:
        if model.provider not in _BUILTIN_OAUTH:
            return auth
        oauth = _load(_BUILTIN_OAUTH[model.provider])
    from sycophant_py.auth.oauth import OAuthAuth

    return OAuthAuth(model.provider, model.id, oauth, auth)


def _no_login(provider: str) -> InvalidError:
    from sycophant_py._exceptions import UnknownName

    return UnknownName("provider with a login", provider, login_providers())


# -- login and logout ------------------------------------------------------------------------------


def login(provider: str, callbacks: Any = None) -> OAuthCredentials | None:
    """Log in to a provider and keep the result in the per-user credential store.

    Args:
        provider: A provider registered with ``oauth=``, or a built-in login (``github-copilot``:
            GitHub's device flow; ``google-vertex``: a service-account key or application-default
            credentials, plus project and location).
        callbacks: An object with ``on_auth(url=...)``, ``on_device_code(user_code=...,
            verification_uri=...)`` and ``on_prompt(message=...) -> str`` (missing ones fall back to
            :class:`LoginCallbacks`, the terminal). Sync callbacks here; ``alogin`` takes both.

    Returns:
        The stored OAuth credentials (None for a login that records settings, as Vertex's).

    Raises:
        UnknownName: the provider has no login flow (the message lists those that do).
        InvalidError: the login function returned something that is not credentials.
        AuthenticationFailed: a built-in flow was refused (its message says why).
    """
    from sycophant_py._extensions import ensure_loaded

    ensure_loaded()
    pid = _canonical(provider)
    if pid in _SETTINGS_LOGINS and oauth_for_provider(pid) is None:
        _load(_SETTINGS_LOGINS[pid])(pid, _SyncView(callbacks))
        return None
    oauth = oauth_for_provider(pid)
    if oauth is None:
        raise _no_login(provider)
    if _is_async(oauth.login):
        stored: OAuthCredentials | None = call_sync(lambda: alogin(provider, callbacks), what=f"the login of {pid!r}")
        return stored
    creds = OAuthCredentials.coerce(oauth.login(_SyncView(callbacks)), f"the login of {pid!r}")
    return _save(pid, oauth, creds)


async def alogin(provider: str, callbacks: Any = None) -> OAuthCredentials | None:
    """Async twin of :func:`login`: the login function and the callbacks may be sync or async.

    A sync login function runs in a worker thread (it may poll or wait for the user); async
    callbacks it calls are run on this event loop.
    """
    import asyncio

    from sycophant_py._extensions import ensure_loaded

    ensure_loaded()
    pid = _canonical(provider)
    loop = asyncio.get_running_loop()
    if pid in _SETTINGS_LOGINS and oauth_for_provider(pid) is None:
        await asyncio.to_thread(_load(_SETTINGS_LOGINS[pid]), pid, _ThreadView(callbacks, loop))
        return None
    oauth = oauth_for_provider(pid)
    if oauth is None:
        raise _no_login(provider)
    if _is_async(oauth.login):
        view = _AsyncView(callbacks)
        raw = await oauth.login(view)
        await view.settle()
    else:
        raw = await asyncio.to_thread(oauth.login, _ThreadView(callbacks, loop))
    return _save(pid, oauth, OAuthCredentials.coerce(raw, f"the login of {pid!r}"))


def _save(pid: str, oauth: OAuth, creds: OAuthCredentials) -> OAuthCredentials:
    from sycophant_py._oauth_models import sync_models
    from sycophant_py._store import CredentialStore

    CredentialStore().set_oauth(pid, creds)
    sync_models(pid, creds, force=True)
    return creds


def logout(provider: str) -> bool:
    """Remove a provider's stored credentials (OAuth login, settings or API key).

    Models an OAuth ``modify_models`` rewrote return to the registered ones.

    Returns:
        True when something was removed.
    """
    from sycophant_py._oauth_models import reset_models
    from sycophant_py._store import CredentialStore

    pid = _canonical(provider)
    removed = CredentialStore().remove(pid)
    reset_models(pid)
    return removed
