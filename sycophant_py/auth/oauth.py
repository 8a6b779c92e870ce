"""The prepare-credentials step of OAuth providers: stored login → fresh token → the provider's key.

:class:`OAuthAuth` wraps the provider's own auth strategy (bearer, anthropic, GitHub Copilot's
exchange...): that strategy still builds the headers; this one only decides the key.

- A key from a higher credential layer (``credentials=``, ``configure()``) is used as it is.
- Otherwise the login kept in the credential store arrives as the ``oauth_credentials`` field
  (see ``_credentials.resolve_credentials``). When it expires within ``OAuth.refresh_margin``
  seconds it is refreshed **before** the request, under the store's cross-process lock: the entry
  is read again under the lock and refreshed only if it is still stale, so however many threads
  and processes find one expired token, one refresh request is made and the others use its result.
- ``get_api_key(credentials)`` gives the key, which the wrapped strategy sends as usual.
- On a 401 (:meth:`OAuthAuth.on_unauthorized`) the login is refreshed once more, unless another
  process already replaced the token that was refused, in which case that token is used.

A failed refresh keeps the stored credentials and raises ``AuthenticationFailed`` naming the
provider and telling to run ``sycophant login <provider>``. No token reaches a message or a log.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from sycophant_py._exceptions import AuthenticationFailed, InvalidError
from sycophant_py._oauth import OAUTH_FIELD, OAuth, OAuthCredentials, call_async, call_sync
from sycophant_py._store import CredentialStore, StoreTransaction
from sycophant_py.auth._base import Auth, Credentials, Middleware

__all__ = ["OAuthAuth", "arefresh_stored", "refresh_stored"]


def _stored(tx: StoreTransaction, provider: str) -> OAuthCredentials:
    entry = tx.get(provider)
    if entry is None or entry.get("type") != "oauth":
        raise AuthenticationFailed(
            f"no stored login for provider {provider!r} (it was removed): run `sycophant login {provider}`",
            provider=provider,
        )
    return OAuthCredentials.from_dict(entry)


def _needs_refresh(current: OAuthCredentials, seen: OAuthCredentials | None, oauth: OAuth, force: bool) -> bool:
    if force:  # a 401: refresh unless someone already replaced the refused token
        return seen is None or current.access == seen.access
    return current.expires_within(oauth.refresh_margin)


def _failed(provider: str, oauth: OAuth, exc: BaseException) -> AuthenticationFailed:
    return AuthenticationFailed(
        f"refreshing the {oauth.name} login failed ({type(exc).__name__}); the stored credentials were kept: "
        f"run `sycophant login {provider}`",
        provider=provider,
        status_code=getattr(exc, "status_code", None) or 0,
    )


def _write(tx: StoreTransaction, provider: str, current: OAuthCredentials, new: Any) -> OAuthCredentials:
    from sycophant_py._log import log

    fresh = OAuthCredentials.coerce(new, f"refresh_token of {provider!r}")
    if fresh != current:
        tx.put(provider, {"type": "oauth", **fresh.to_dict()})
    log.info("oauth.refreshed", provider=provider, expires=fresh.expires)
    return fresh


def refresh_stored(
    provider: str, oauth: OAuth, seen: OAuthCredentials | None = None, *, force: bool = False
) -> OAuthCredentials:
    """Refresh the stored login under the store's lock (only if still needed once the lock is held).

    The caller then runs ``modify_models`` for the result (``_oauth_models.sync_models``).

    Args:
        provider: Canonical provider id.
        oauth: Its OAuth definition.
        seen: The credentials the caller found stale (or that were refused).
        force: Refresh even if not expiring (after a 401), unless the stored token changed.

    Raises:
        AuthenticationFailed: nothing is stored, or ``refresh_token`` failed (stored credentials kept).
    """
    with CredentialStore().lock() as tx:
        current = _stored(tx, provider)
        if not _needs_refresh(current, seen, oauth, force):
            fresh = current
        else:
            try:
                new = call_sync(oauth.refresh_token, current, what=f"refresh_token of {provider!r}")
                fresh = _write(tx, provider, current, new)
            except InvalidError:
                raise
            except Exception as exc:
                raise _failed(provider, oauth, exc) from exc
    return fresh


async def arefresh_stored(
    provider: str, oauth: OAuth, seen: OAuthCredentials | None = None, *, force: bool = False
) -> OAuthCredentials:
    """Async twin of :func:`refresh_stored` (a sync ``refresh_token`` runs in a worker thread)."""
    async with CredentialStore().alock() as tx:
        current = _stored(tx, provider)
        if not _needs_refresh(current, seen, oauth, force):
            fresh = current
        else:
            try:
                new = await call_async(oauth.refresh_token, current, thread=True)
                fresh = _write(tx, provider, current, new)
            except InvalidError:
                raise
            except Exception as exc:
                raise _failed(provider, oauth, exc) from exc
    return fresh


class OAuthAuth(Auth):
    """The OAuth step around a provider's own auth strategy (one per call; see the module docstring).

    Args:
        provider: Canonical provider id.
        model_id: The call's model id (its base URL may change when ``modify_models`` runs).
        oauth: The provider's OAuth definition.
        inner: The strategy that builds the headers from the key.
    """

    name = "oauth"

    def __init__(self, provider: str, model_id: str, oauth: OAuth, inner: Auth) -> None:
        self.provider = provider
        self.model_id = model_id
        self.oauth = oauth
        self.inner = inner

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        return self.inner.middlewares(credentials)

    @override
    def path_params(self, credentials: Credentials) -> dict[str, str]:
        return self.inner.path_params(credentials)

    def _with_key(self, credentials: Credentials, oc: OAuthCredentials, key: Any, models_changed: bool) -> Credentials:
        if not isinstance(key, str) or not key:
            raise InvalidError(f"get_api_key of {self.provider!r} must return a non-empty string")
        out = Credentials(credentials)
        out[OAUTH_FIELD] = oc.to_dict()
        out["api_key"] = key
        if models_changed and not credentials.get("base_url"):
            from sycophant_py._catalog import resolve_model

            url = resolve_model(f"{self.provider}:{self.model_id}").base_url
            if url:
                out["base_url"] = url  # the request is built after this step: it goes to the new URL
        return out

    def _fresh(self, credentials: Credentials) -> Credentials:
        from sycophant_py._oauth_models import sync_models

        oc = OAuthCredentials.from_dict(credentials[OAUTH_FIELD])
        if oc.expires_within(self.oauth.refresh_margin):
            oc = refresh_stored(self.provider, self.oauth, oc)
        changed = sync_models(self.provider, oc)
        key = call_sync(self.oauth.get_api_key, oc, what=f"get_api_key of {self.provider!r}")
        return self._with_key(credentials, oc, key, changed)

    async def _afresh(self, credentials: Credentials) -> Credentials:
        from sycophant_py._oauth_models import async_sync_models

        oc = OAuthCredentials.from_dict(credentials[OAUTH_FIELD])
        if oc.expires_within(self.oauth.refresh_margin):
            oc = await arefresh_stored(self.provider, self.oauth, oc)
        changed = await async_sync_models(self.provider, oc)
        key = await call_async(self.oauth.get_api_key, oc)
        return self._with_key(credentials, oc, key, changed)

    @override
    def prepare_credentials(self, credentials: Credentials) -> Credentials:
        """The stored login's key (refreshed first when it expires soon), then the inner strategy's step."""
        if not credentials.get(OAUTH_FIELD):
            return self.inner.prepare_credentials(credentials)
        return self.inner.prepare_credentials(self._fresh(credentials))

    @override
    async def aprepare_credentials(self, credentials: Credentials) -> Credentials:
        if not credentials.get(OAUTH_FIELD):
            return await self.inner.aprepare_credentials(credentials)
        return await self.inner.aprepare_credentials(await self._afresh(credentials))

    @override
    def on_unauthorized(self, credentials: Credentials) -> Credentials | None:
        """Refresh the stored login once more after a 401 (None when the key came from elsewhere)."""
        if not credentials.get(OAUTH_FIELD):
            return self.inner.on_unauthorized(credentials)
        from sycophant_py._oauth_models import sync_models

        seen = OAuthCredentials.from_dict(credentials[OAUTH_FIELD])
        oc = refresh_stored(self.provider, self.oauth, seen, force=True)
        changed = sync_models(self.provider, oc)
        key = call_sync(self.oauth.get_api_key, oc, what=f"get_api_key of {self.provider!r}")
        fresh = self._with_key(credentials, oc, key, changed)
        return self.inner.on_unauthorized(fresh) or self.inner.prepare_credentials(fresh)

    @override
    async def aon_unauthorized(self, credentials: Credentials) -> Credentials | None:
        if not credentials.get(OAUTH_FIELD):
            return await self.inner.aon_unauthorized(credentials)
        from sycophant_py._oauth_models import async_sync_models

        seen = OAuthCredentials.from_dict(credentials[OAUTH_FIELD])
        oc = await arefresh_stored(self.provider, self.oauth, seen, force=True)
        changed = await async_sync_models(self.provider, oc)
        fresh = self._with_key(credentials, oc, await call_async(self.oauth.get_api_key, oc), changed)
        return await self.inner.aon_unauthorized(fresh) or await self.inner.aprepare_credentials(fresh)

    @override
    def __repr__(self) -> str:
        return f"<OAuthAuth {self.provider!r} over {self.inner!r}>"
