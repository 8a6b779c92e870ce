"""Building blocks for login flows, and GitHub Copilot's built-in device-code login.

- :func:`pkce_pair`: a PKCE verifier and its S256 challenge (RFC 7636);
- :class:`CallbackServer`: a one-shot HTTP server on 127.0.0.1 that receives the browser's
  redirect (``redirect_uri``), checks ``state`` and hands back the query parameters;
- :func:`post_form` / :func:`apost_form`: a form-encoded POST answered with JSON (token endpoints),
  through the library's own HTTP clients (proxy and CA settings apply);
- :func:`device_code_login`: the OAuth device authorization grant (RFC 8628): it shows the user
  code through ``callbacks.on_device_code`` and polls the token endpoint, honouring ``interval``,
  ``slow_down`` (the new interval, else 5 s more), ``authorization_pending`` and ``expired_token``.
  It sleeps with the library's injectable sleep (``configure(retry=RetryPolicy(sleep=...))``).

GitHub Copilot (``syc.login("github-copilot")``): GitHub's device flow for the Copilot editor
app gives a GitHub token; the login then checks it with one Copilot token exchange (so an account
without Copilot fails at login, not at the first call) and stores it. Each call exchanges it as
``auth/github_copilot.py`` describes. GitHub's URLs come from the ``github_url`` setting
(``SYCOPHANT_GITHUB_URL`` or ``configure(providers={"github-copilot": {"github_url": ...}})``),
else ``https://<github_host or github.com>``; ``client_id`` may be configured the same way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from typing_extensions import override

from sycophant_py._exceptions import AuthenticationFailed, ResponseInvalid, ServerError, Timeout
from sycophant_py._oauth import OAuth, OAuthCredentials
from sycophant_py.auth._base import SECRET_FIELDS, Credentials, HttpRequest

__all__ = [
    "COPILOT_CLIENT_ID",
    "COPILOT_OAUTH",
    "CallbackServer",
    "apost_form",
    "device_code_login",
    "pkce_pair",
    "post_form",
]

COPILOT_CLIENT_ID = "Iv1.b507a08c87ecfe98"
"""The public OAuth client id of GitHub Copilot's editor integration (an identifier, not a secret)."""

_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def pkce_pair() -> tuple[str, str]:
    """A PKCE ``(code_verifier, code_challenge)`` pair; the challenge method is ``S256``."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# -- the redirect receiver -------------------------------------------------------------------------

_DONE_PAGE = b"<!doctype html><title>Logged in</title><p>You can close this window and go back to the terminal.</p>"


class CallbackServer:
    """Receives one OAuth redirect on ``http://127.0.0.1:<port><path>``.

    Use it as a context manager; put :attr:`redirect_uri` and :attr:`state` in the authorization
    URL, then :meth:`result` waits for the browser::

        with CallbackServer() as server:
            callbacks.on_auth(url=authorize_url(server.redirect_uri, server.state))
            params = server.result(timeout=300)   # {"code": ..., "state": ...}

    Args:
        port: Port to listen on (0: any free port; a provider may require a fixed one).
        path: The redirect path.
        state: The expected ``state`` (default: a fresh random value).
    """

    def __init__(self, port: int = 0, path: str = "/callback", state: str | None = None) -> None:
        self.path = path
        self.state: str = state or secrets.token_urlsafe(24)
        """The ``state`` value the redirect must carry."""
        self._params: dict[str, str] | None = None
        self._error: str | None = None
        self._done = threading.Event()
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            @override
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body = receiver._receive(self.path)
                self.send_response(status)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._httpd.server_address[1])

    @property
    def redirect_uri(self) -> str:
        """The URL the provider must redirect the browser to."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def _receive(self, target: str) -> tuple[int, bytes]:
        url = urlsplit(target)
        if url.path != self.path or self._done.is_set():
            return 404, b"not found"
        params = dict(parse_qsl(url.query))
        if params.get("state") != self.state:
            return 400, b"state mismatch"  # not ours (or forged): keep waiting for the real redirect
        if "error" in params:
            self._error = f"{params['error']}: {params.get('error_description', '')}".rstrip(": ")
        self._params = params
        self._done.set()
        return 200, _DONE_PAGE

    def result(self, timeout: float = 300.0) -> dict[str, str]:
        """Wait for the redirect; its query parameters.

        Raises:
            Timeout: no redirect within ``timeout`` seconds.
            AuthenticationFailed: the provider redirected with an ``error``.
        """
        if not self._done.wait(timeout):
            raise Timeout(f"no browser redirect reached {self.redirect_uri} within {timeout:.0f}s")
        if self._error is not None:
            raise AuthenticationFailed(f"the authorization was refused ({self._error})")
        assert self._params is not None
        return dict(self._params)

    async def aresult(self, timeout: float = 300.0) -> dict[str, str]:
        """Async twin of :meth:`result` (waits in a worker thread)."""
        import asyncio

        return await asyncio.to_thread(self.result, timeout)

    def start(self) -> CallbackServer:
        """Start listening (done by ``with``)."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and free the port."""
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> CallbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- token endpoints -------------------------------------------------------------------------------


def _form_request(url: str, fields: Mapping[str, Any], headers: Mapping[str, str] | None) -> HttpRequest:
    body = urlencode({k: str(v) for k, v in fields.items() if v is not None}).encode()
    hdrs = {"accept": "application/json", "content-type": "application/x-www-form-urlencoded"}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    return HttpRequest("POST", url, hdrs, {}, body)


def _form_answer(url: str, status: int, body: bytes, provider: str | None) -> dict[str, Any]:
    if status >= 500:
        raise ServerError(f"{urlsplit(url).path} answered HTTP {status}", status_code=status, provider=provider)
    try:
        data = json.loads(body)
    except ValueError:
        data = dict(parse_qsl(body.decode("utf-8", "replace")))  # some endpoints answer form-encoded
    if not isinstance(data, dict) or (status >= 400 and "error" not in data):
        raise ResponseInvalid(
            f"{urlsplit(url).path} answered HTTP {status} without a JSON object", status_code=status, provider=provider
        )
    return data


def post_form(
    url: str, fields: Mapping[str, Any], *, headers: Mapping[str, str] | None = None, provider: str | None = None
) -> dict[str, Any]:
    """POST form fields and return the JSON answer (a 4xx with an OAuth ``error`` object is returned too).

    Raises:
        ServerError: a 5xx answer.
        ResponseInvalid: the answer is not a JSON object.
    """
    from sycophant_py import _transport

    raw = _transport.send(_form_request(url, fields, headers))
    return _form_answer(url, raw.status, raw.body, provider)


async def apost_form(
    url: str, fields: Mapping[str, Any], *, headers: Mapping[str, str] | None = None, provider: str | None = None
) -> dict[str, Any]:
    """Async twin of :func:`post_form`."""
    from sycophant_py import _transport

    raw = await _transport.asend(_form_request(url, fields, headers))
    return _form_answer(url, raw.status, raw.body, provider)


# -- the device authorization grant ----------------------------------------------------------------


def _sleep(seconds: float) -> None:
    from sycophant_py import _config

    (_config.settings().retry.sleep or time.sleep)(seconds)


def _clock() -> float:
    from sycophant_py import _config

    return (_config.settings().retry.clock or time.monotonic)()


def _device_failure(data: Mapping[str, Any], provider: str | None) -> AuthenticationFailed:
    error = str(data.get("error"))
    why = {
        "expired_token": "the device code expired before it was entered: run the login again",
        "access_denied": "the authorization was denied",
    }.get(error, f"{error}: {data.get('error_description') or 'no description'}")
    return AuthenticationFailed(f"device login failed: {why}", provider=provider, status_code=0)


def device_code_login(
    callbacks: Any,
    *,
    device_code_url: str,
    token_url: str,
    client_id: str,
    scope: str | None = None,
    provider: str | None = None,
) -> dict[str, Any]:
    """Run the OAuth device authorization grant; the token endpoint's successful answer.

    Args:
        callbacks: The login callbacks (``on_device_code`` shows the code).
        device_code_url: Where the device code is requested.
        token_url: Where the access token is polled for.
        client_id: The OAuth client id.
        scope: Requested scopes (space-separated).
        provider: Provider id for error messages.

    Raises:
        AuthenticationFailed: denied, expired, or another OAuth error.
    """
    start = post_form(device_code_url, {"client_id": client_id, "scope": scope}, provider=provider)
    if "device_code" not in start or "user_code" not in start:
        raise _device_failure({"error": start.get("error", "no device code in the answer")}, provider)
    callbacks.on_device_code(user_code=str(start["user_code"]), verification_uri=str(start.get("verification_uri")))
    interval = float(start.get("interval") or 5)
    deadline = _clock() + float(start.get("expires_in") or 900)
    poll = {"client_id": client_id, "device_code": start["device_code"], "grant_type": _DEVICE_GRANT}
    while True:
        if _clock() >= deadline:
            raise _device_failure({"error": "expired_token"}, provider)
        _sleep(interval)
        data = post_form(token_url, poll, provider=provider)
        error = data.get("error")
        if not error and data.get("access_token"):
            return data
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval = float(data.get("interval") or interval + 5)
            continue
        raise _device_failure(data if error else {"error": "no access_token in the answer"}, provider)


# -- GitHub Copilot --------------------------------------------------------------------------------

_COPILOT = "github-copilot"


def provider_settings(pid: str) -> dict[str, Any]:
    """A provider's non-secret settings from its env vars and the config layer (config wins)."""
    from sycophant_py import _catalog, _config

    row = _catalog.provider_row(pid) or {}
    out: dict[str, Any] = {}
    for name, names in (row.get("settings_env") or {}).items():
        for var in [names] if isinstance(names, str) else names:
            if os.environ.get(var):
                out[name] = os.environ[var]
                break
    cfg = _config.settings().providers.get(pid, {})
    out.update({k: v for k, v in cfg.items() if k not in SECRET_FIELDS and v is not None})
    return out


def _github_url(settings: Mapping[str, Any]) -> str:
    if settings.get("github_url"):
        return str(settings["github_url"]).rstrip("/")
    return f"https://{settings.get('github_host') or 'github.com'}"


def copilot_login(callbacks: Any) -> OAuthCredentials:
    """GitHub's device flow for Copilot, checked with one Copilot token exchange."""
    from sycophant_py._registry import auth_for

    settings = provider_settings(_COPILOT)
    base = _github_url(settings)
    answer = device_code_login(
        callbacks,
        device_code_url=f"{base}/login/device/code",
        token_url=f"{base}/login/oauth/access_token",
        client_id=str(settings.get("client_id") or COPILOT_CLIENT_ID),
        scope="read:user",
        provider=_COPILOT,
    )
    token = str(answer["access_token"])
    auth_for(_COPILOT).prepare_credentials(Credentials({**settings, "api_key": token}))  # raises without Copilot
    return OAuthCredentials(refresh=token, access=token, expires=None)


def _same(credentials: OAuthCredentials) -> OAuthCredentials:
    """GitHub tokens from the device flow do not expire: there is nothing to refresh."""
    return credentials


def _github_token(credentials: OAuthCredentials) -> str:
    return credentials.access


COPILOT_OAUTH = OAuth(
    name="GitHub Copilot",
    login=copilot_login,
    refresh_token=_same,
    get_api_key=_github_token,
)
"""The built-in login of ``github-copilot`` (the key it gives is exchanged by ``GithubCopilotAuth``)."""
