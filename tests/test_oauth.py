"""OAuth providers end to end, against a fake identity provider on 127.0.0.1 (``tests/fake_idp.py``).

- pi's two ``oauth`` examples (seeds 000 and 001: corporate-ai, ``modifyModels`` per region) in Python;
- the three ways a login talks to the user: browser (PKCE, with a local callback port; the test
  plays the browser), device code, prompt; sync and async login functions and callbacks;
- refresh before expiry, refresh once on a 401, a failed refresh, ``modify_models``;
- 20 processes finding one expired token at once: one refresh request, a valid 0600 file.

Every test runs with ``SYCOPHANT_AUTH_FILE`` in a temp directory (the ``auth_file`` fixture).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from typing_extensions import override

import sycophant_py as syc
from sycophant_py.oauth import CallbackServer, apost_form, pkce_pair, post_form
from tests.fake_idp import FakeIdP, token_claims

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "sycophant" / "auth.json"
    monkeypatch.setenv("SYCOPHANT_AUTH_FILE", str(path))
    return path


@pytest.fixture
def idp(auth_file: Path) -> Iterator[FakeIdP]:
    with FakeIdP() as server:
        yield server


def _creds(data: dict[str, Any], old: syc.OAuthCredentials | None = None) -> syc.OAuthCredentials:
    """Token-endpoint JSON to credentials (what a user's login/refresh function does)."""
    if "error" in data:
        raise RuntimeError(f"token endpoint: {data['error']}")
    refresh = data.get("refresh_token") or (old.refresh if old else "")
    return syc.OAuthCredentials(refresh=refresh, access=data["access_token"], expires=time.time() + data["expires_in"])


def corp_oauth(idp: FakeIdP, **kw: Any) -> syc.OAuth:
    """A sync OAuth whose login asks for a code and whose refresh uses the refresh grant."""

    def login(callbacks: Any) -> syc.OAuthCredentials:
        code = callbacks.on_prompt(message="Enter SSO code:")
        return _creds(post_form(idp.url + "/token", {"grant_type": "authorization_code", "code": code}))

    def refresh(creds: syc.OAuthCredentials) -> syc.OAuthCredentials:
        form = {"grant_type": "refresh_token", "refresh_token": creds.refresh}
        return _creds(post_form(idp.url + "/token", form), creds)

    return syc.OAuth(name="Corp SSO", login=login, refresh_token=refresh, get_api_key=lambda c: c.access, **kw)


def register_corp(idp: FakeIdP, name: str = "corp", **kw: Any) -> None:
    syc.register_provider(
        name,
        base_url=idp.url + "/v1",
        api="openai_chat",
        auth="required",
        models=[{"id": "m"}],
        oauth=corp_oauth(idp, **kw),
    )


def store_login(idp: FakeIdP, provider: str = "corp", expires_in: float = 3600.0) -> syc.OAuthCredentials:
    data = idp.issue()
    creds = syc.OAuthCredentials(
        refresh=data["refresh_token"], access=data["access_token"], expires=time.time() + expires_in
    )
    syc.CredentialStore().set_oauth(provider, creds)
    return creds


class Recorder:
    """Login callbacks that record what the flow showed and answer prompts from a list."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.answers = list(answers or [])
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def on_auth(self, **kw: Any) -> None:
        self.seen.append(("auth", kw))

    def on_device_code(self, **kw: Any) -> None:
        self.seen.append(("device", kw))

    def on_prompt(self, **kw: Any) -> str:
        self.seen.append(("prompt", kw))
        return self.answers.pop(0)


# -- pi's examples (seeds 000 and 001) --------------------------------------------------------------


def test_seed_000_corporate_ai(idp: FakeIdP, auth_file: Path) -> None:
    """Seed 000, ported as written: the dict form, an async login that prompts, ``expires`` in ms."""

    async def login(callbacks: Any) -> dict[str, Any]:
        callbacks.on_auth(url=idp.url + "/sso")
        code = await callbacks.on_prompt(message="Enter code:")
        return {"refresh": code, "access": code, "expires": time.time() * 1000 + 3600000}

    async def refresh_token(credentials: syc.OAuthCredentials) -> syc.OAuthCredentials:
        return credentials

    syc.register_provider(
        "corporate-ai",
        {
            "baseUrl": idp.url + "/v1",
            "api": "openai-responses",
            "models": [{"id": "corp-large", "contextWindow": 128000}],
            "oauth": {
                "name": "Corporate AI (SSO)",
                "login": login,
                "refreshToken": refresh_token,
                "getApiKey": lambda credentials: credentials.access,
            },
        },
    )
    code = idp.issue()["access_token"]  # the SSO code doubles as the token, as in the seed
    cb = Recorder([code])
    creds = syc.login("corporate-ai", cb)  # a sync entry point running an async login
    assert cb.seen == [("auth", {"url": idp.url + "/sso"}), ("prompt", {"message": "Enter code:"})]
    assert creds is not None
    assert creds.access == code
    assert creds.expires is not None
    assert 3590 < creds.expires - time.time() <= 3600
    stored = json.loads(auth_file.read_text())
    assert stored == {"corporate-ai": {"type": "oauth", "refresh": code, "access": code, "expires": creds.expires}}

    resp = syc.generate_text("corporate-ai:corp-large", "hi")
    assert resp.text == "hello"
    assert idp.api_calls == [("/v1/responses", code)]


def test_seed_001_corporate_ai_with_regions(idp: FakeIdP) -> None:
    """Seed 001: all three callback options, token exchange, refresh, and ``modifyModels`` per region."""
    asyncio.run(_seed_001(idp))


async def _seed_001(idp: FakeIdP) -> None:

    async def exchange_code_for_tokens(code: str) -> dict[str, Any]:
        return await apost_form(idp.url + "/token", {"grant_type": "authorization_code", "code": code})

    async def refresh_access_token(refresh: str) -> dict[str, Any]:
        return await apost_form(idp.url + "/token", {"grant_type": "refresh_token", "refresh_token": refresh})

    async def login(callbacks: Any) -> syc.OAuthCredentials:
        callbacks.on_auth(url=idp.url + "/authorize?client_id=corp")  # Option 1: browser
        callbacks.on_device_code(user_code="ABCD-1234", verification_uri=idp.url + "/device")  # Option 2
        code = await callbacks.on_prompt(message="Enter SSO code:")  # Option 3
        tokens = await exchange_code_for_tokens(code)
        return syc.OAuthCredentials(
            refresh=tokens["refresh_token"], access=tokens["access_token"], expires=time.time() + tokens["expires_in"]
        )

    async def refresh_token(credentials: syc.OAuthCredentials) -> syc.OAuthCredentials:
        tokens = await refresh_access_token(credentials.refresh)
        return syc.OAuthCredentials(
            refresh=tokens.get("refresh_token") or credentials.refresh,
            access=tokens["access_token"],
            expires=time.time() + tokens["expires_in"],
        )

    def modify_models(models: list[syc.ModelConfig], credentials: syc.OAuthCredentials) -> list[syc.ModelConfig]:
        region = token_claims(credentials.access)["region"]  # decodeRegionFromToken
        return [dataclasses.replace(m, base_url=f"{idp.url}/{region}/v1") for m in models]

    syc.register_provider(
        "corporate-ai",
        base_url=idp.url + "/v1",
        api="openai-responses",
        models=[{"id": "corp-large", "name": "Corp Large"}],
        oauth=syc.OAuth(
            name="Corporate AI (SSO)",
            login=login,
            refresh_token=refresh_token,
            get_api_key=lambda c: c.access,
            modify_models=modify_models,
        ),
    )
    idp.codes["sso-1"] = {}
    prompted: list[str] = []

    class AsyncCallbacks(Recorder):
        @override
        async def on_prompt(self, **kw: Any) -> str:  # type: ignore[override]
            prompted.append(kw["message"])
            await asyncio.sleep(0)
            return "sso-1"

    cb = AsyncCallbacks()
    creds = await syc.alogin("corporate-ai", cb)
    assert [k for k, _ in cb.seen] == ["auth", "device"]
    assert prompted == ["Enter SSO code:"]
    assert creds is not None
    assert token_claims(creds.access)["region"] == "eu"
    assert syc.get_model("corporate-ai:corp-large").base_url == f"{idp.url}/eu/v1"
    assert syc.get_model("corporate-ai:corp-large").name == "Corp Large"  # unset fields keep their values

    await syc.agenerate_text("corporate-ai:corp-large", "hi")
    assert idp.api_calls[-1] == ("/eu/v1/responses", creds.access)

    # The token is about to expire and the account moved to another region: refresh, then re-shape.
    idp.region = "us"
    syc.CredentialStore().set_oauth("corporate-ai", _expiring(creds))
    await syc.agenerate_text("corporate-ai:corp-large", "hi")
    new_access = syc.CredentialStore().get("corporate-ai")["access"]  # type: ignore[index]
    assert idp.refreshes == 1
    assert token_claims(new_access)["region"] == "us"
    assert idp.api_calls[-1] == ("/us/v1/responses", new_access)  # this very request went to the new URL
    assert syc.get_model("corporate-ai:corp-large").base_url == f"{idp.url}/us/v1"

    assert syc.logout("corporate-ai") is True
    assert syc.get_model("corporate-ai:corp-large").base_url == idp.url + "/v1"
    assert syc.logout("corporate-ai") is False


def _expiring(creds: syc.OAuthCredentials, in_seconds: float = 5.0) -> syc.OAuthCredentials:
    return syc.OAuthCredentials(refresh=creds.refresh, access=creds.access, expires=time.time() + in_seconds)


# -- the three ways to talk to the user ---------------------------------------------------------------


def test_pkce_browser_flow_with_a_local_callback_port(idp: FakeIdP) -> None:
    """The login opens a redirect receiver on 127.0.0.1; the test plays the browser."""

    def login(callbacks: Any) -> syc.OAuthCredentials:
        verifier, challenge = pkce_pair()
        with CallbackServer() as server:
            query = {
                "client_id": "corp-cli",
                "response_type": "code",
                "redirect_uri": server.redirect_uri,
                "state": server.state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
            callbacks.on_auth(url=f"{idp.url}/authorize?{urlencode(query)}")
            params = server.result(timeout=10)
        form = {"grant_type": "authorization_code", "code": params["code"], "code_verifier": verifier}
        return _creds(post_form(idp.url + "/token", {**form, "redirect_uri": query["redirect_uri"]}))

    syc.register_provider(
        "corp",
        base_url=idp.url + "/v1",
        models=[{"id": "m"}],
        oauth=syc.OAuth(name="Corp", login=login, refresh_token=lambda c: c, get_api_key=lambda c: c.access),
    )
    pages: list[tuple[str, int, str]] = []

    class Browser:
        def on_auth(self, *, url: str) -> None:
            with httpx.Client(follow_redirects=True) as browser:  # authorize -> 302 -> our callback port
                page = browser.get(url)
            pages.append((url, page.status_code, page.text))

    creds = syc.login("corp", Browser())
    ((url, status, text),) = pages
    asked = dict(parse_qsl(urlsplit(url).query))
    assert asked["redirect_uri"].startswith("http://127.0.0.1:")
    assert asked["code_challenge_method"] == "S256"
    assert status == 200
    assert "close this window" in text
    assert creds is not None
    assert creds.access in idp.valid
    syc.generate_text("corp:m", "hi")
    assert idp.api_calls == [("/v1/chat/completions", creds.access)]


def test_callback_server_checks_state_and_reports_errors() -> None:
    with CallbackServer(path="/cb") as server, httpx.Client() as browser:
        assert browser.get(f"{server.redirect_uri}?code=x&state=forged").status_code == 400
        assert browser.get(f"http://127.0.0.1:{server.port}/elsewhere").status_code == 404
        with pytest.raises(syc.Timeout, match="no browser redirect"):
            server.result(timeout=0.05)  # the forged redirect was not taken
        ok = browser.get(f"{server.redirect_uri}?code=c1&state={server.state}")
        assert ok.status_code == 200
        assert server.result(timeout=1) == {"code": "c1", "state": server.state}
    with CallbackServer() as server, httpx.Client() as browser:
        browser.get(f"{server.redirect_uri}?error=access_denied&state={server.state}")
        with pytest.raises(syc.AuthenticationFailed, match="access_denied"):
            server.result(timeout=1)


def test_prompt_flow_with_the_default_terminal_callbacks(idp: FakeIdP) -> None:
    register_corp(idp)
    idp.codes["code-typed"] = {}
    out = io.StringIO()
    asked: list[str] = []

    def typed(prompt: str) -> str:
        asked.append(prompt)
        return "  code-typed \n"

    terminal = syc.LoginCallbacks(out=out, open_browser=False, prompt=typed)
    creds = syc.login("corp", terminal)
    assert asked == ["Enter SSO code: "]
    assert creds is not None
    stored = syc.CredentialStore().get("corp")
    assert stored is not None
    assert stored["access"] == creds.access
    terminal.on_auth(url="https://sso.example/authorize")
    terminal.on_device_code(user_code="WXYZ-0000", verification_uri="https://sso.example/device")
    assert out.getvalue().splitlines() == [
        "Open this URL to log in:",
        "  https://sso.example/authorize",
        "Go to https://sso.example/device and enter the code: WXYZ-0000",
    ]


def test_alogin_runs_a_sync_login_with_async_callbacks(idp: FakeIdP) -> None:
    asyncio.run(_alogin_sync_login(idp))


async def _alogin_sync_login(idp: FakeIdP) -> None:
    register_corp(idp)
    idp.codes["c-async"] = {}
    loop = asyncio.get_running_loop()
    ran_on: list[Any] = []

    class AsyncPrompt:
        async def on_prompt(self, *, message: str) -> str:
            ran_on.append(asyncio.get_running_loop())
            return "c-async"

    creds = await syc.alogin("corp", AsyncPrompt())
    assert ran_on == [loop]  # the sync login ran in a worker thread; its async callback on our loop
    assert creds is not None
    assert creds.access in idp.valid


def test_login_errors(idp: FakeIdP) -> None:
    with pytest.raises(syc.UnknownName, match="github-copilot"):
        syc.login("openai")  # no login: the message lists the providers that have one
    syc.register_provider(
        "bad",
        base_url=idp.url + "/v1",
        oauth=syc.OAuth(
            name="Bad", login=lambda cb: "a-string", refresh_token=lambda c: c, get_api_key=lambda c: c.access
        ),
    )
    with pytest.raises(syc.InvalidError, match="must be OAuthCredentials or a mapping"):
        syc.login("bad", Recorder())
    assert syc.CredentialStore().get("bad") is None
    with pytest.raises(syc.InvalidError, match="non-empty string"):
        syc.OAuthCredentials(refresh="r", access="", expires=None)
    with pytest.raises(syc.UnknownName, match="refresh_token"):
        syc.register_provider("bad", base_url=idp.url, oauth={"name": "x", "login": print, "refresh": print})


# -- expiry, refresh, 401 ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_expiring_token_is_refreshed_before_the_request(
    idp: FakeIdP, auth_file: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sycophant_py")
    register_corp(idp)
    old = store_login(idp, expires_in=30)  # inside the 60 s margin
    if mode == "sync":
        syc.generate_text("corp:m", "hi")
    else:
        asyncio.run(syc.agenerate_text("corp:m", "hi"))
    stored = syc.CredentialStore().get("corp")
    assert stored is not None
    assert stored["access"] != old.access
    assert stored["refresh"] != old.refresh
    assert idp.refreshes == 1
    assert idp.api_calls == [("/v1/chat/completions", stored["access"])]  # one request, with the new token
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    (event,) = [r for r in caplog.records if r.getMessage() == "oauth.refreshed"]
    assert event.__dict__["provider"] == "corp"
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert old.access not in logged
    assert stored["access"] not in logged


def test_a_fresh_token_is_used_as_stored_and_the_margin_is_configurable(idp: FakeIdP) -> None:
    register_corp(idp)
    creds = store_login(idp, expires_in=3600)
    syc.generate_text("corp:m", "hi")
    syc.generate_text("corp:m", "hi")
    assert idp.refreshes == 0
    assert [t for _, t in idp.api_calls] == [creds.access] * 2
    register_corp(idp, refresh_margin=7200)  # an hour left is now too little
    syc.generate_text("corp:m", "hi")
    assert idp.refreshes == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_401_refreshes_once_and_resends_once(idp: FakeIdP, mode: str) -> None:
    register_corp(idp)
    old = store_login(idp)
    idp.revoke_all()  # not expired by the clock, but the provider no longer takes it
    resp = syc.generate_text("corp:m", "hi") if mode == "sync" else asyncio.run(syc.agenerate_text("corp:m", "hi"))
    assert resp.text == "hello"
    new = syc.CredentialStore().get("corp")
    assert new is not None
    assert idp.refreshes == 1
    assert idp.api_calls == [("/v1/chat/completions", old.access), ("/v1/chat/completions", new["access"])]


def test_a_second_401_is_raised_without_another_refresh(idp: FakeIdP) -> None:
    register_corp(idp)
    store_login(idp)
    idp.revoke_all()
    real_issue = idp.issue

    def issue_dead(region: str | None = None) -> dict[str, Any]:
        data = real_issue(region)
        idp.valid.discard(data["access_token"])  # the refreshed token is refused too
        return data

    idp.issue = issue_dead  # type: ignore[method-assign]
    with pytest.raises(syc.AuthenticationFailed) as err:
        syc.generate_text("corp:m", "hi")
    assert err.value.status_code == 401
    assert idp.refreshes == 1
    assert len(idp.api_calls) == 2


def test_a_key_from_a_higher_layer_is_not_refreshed_on_401(idp: FakeIdP) -> None:
    register_corp(idp)
    store_login(idp)
    with pytest.raises(syc.AuthenticationFailed):
        syc.generate_text("corp:m", "hi", credentials={"api_key": "caller-key"})
    assert idp.refreshes == 0
    assert idp.api_calls == [("/v1/chat/completions", "caller-key")]


def test_a_failed_refresh_keeps_the_credentials_and_says_what_to_do(idp: FakeIdP, auth_file: Path) -> None:
    register_corp(idp)
    store_login(idp, expires_in=10)
    before = auth_file.read_bytes()
    idp.refresh_fails = True
    with pytest.raises(syc.AuthenticationFailed) as err:
        syc.generate_text("corp:m", "hi")
    msg = str(err.value)
    assert "Corp SSO" in msg
    assert "run `sycophant login corp`" in msg
    assert "kept" in msg
    assert err.value.provider == "corp"
    assert isinstance(err.value.__cause__, RuntimeError)
    assert "refresh-" not in msg
    assert "sig" not in msg
    assert auth_file.read_bytes() == before
    assert idp.api_calls == []  # nothing was sent with the stale token


def test_async_user_functions_from_sync_entry_points(idp: FakeIdP) -> None:
    async def refresh(creds: syc.OAuthCredentials) -> syc.OAuthCredentials:
        data = await apost_form(idp.url + "/token", {"grant_type": "refresh_token", "refresh_token": creds.refresh})
        return _creds(data, creds)

    async def key(creds: syc.OAuthCredentials) -> str:
        return creds.access

    syc.register_provider(
        "corp", base_url=idp.url + "/v1", oauth=syc.OAuth(name="C", login=print, refresh_token=refresh, get_api_key=key)
    )
    store_login(idp, expires_in=1)
    syc.generate_text("corp:m", "hi")  # no loop in this thread: the async functions run to completion
    assert idp.refreshes == 1

    async def inside_a_loop() -> None:
        store_login(idp, expires_in=1)
        with pytest.raises(syc.InvalidError, match="async entry point"):
            syc.generate_text("corp:m", "hi")

    asyncio.run(inside_a_loop())


def test_missing_login_and_precedence(idp: FakeIdP, monkeypatch: pytest.MonkeyPatch) -> None:
    syc.register_provider("corp", base_url="https://corp.example/v1", oauth=corp_oauth(idp))
    with pytest.raises(syc.MissingCredentials, match="run `sycophant login corp`"):
        syc.generate_text("corp:m", "hi")
    register_corp(idp)
    monkeypatch.setenv("CORP_KEY", "env-key")
    syc.register_provider("corp", api_key="CORP_KEY")  # layered: the registration's key is the last resort
    creds = store_login(idp)
    syc.generate_text("corp:m", "hi")  # store beats the registration's key
    syc.configure(providers={"corp": {"api_key": "config-key"}})
    with pytest.raises(syc.AuthenticationFailed):
        syc.generate_text("corp:m", "hi")  # config beats the store
    syc.configure(reset=True)
    with pytest.raises(syc.AuthenticationFailed):
        syc.generate_text("corp:m", "hi", credentials={"api_key": "per-request"})  # per-request beats all
    assert [t for _, t in idp.api_calls] == [creds.access, "config-key", "per-request"]


def test_unregister_restores_the_overridden_provider(idp: FakeIdP) -> None:
    before = syc.get_model("openai:gpt-4o-mini")
    syc.register_provider("openai", base_url=idp.url + "/v1", oauth=corp_oauth(idp))
    store_login(idp, "openai")
    assert "openai" in syc.oauth.login_providers()
    syc.generate_text("openai:gpt-4o-mini", "hi")
    assert idp.api_calls[-1][0] == "/v1/chat/completions"
    syc.unregister_provider("openai")
    assert syc.get_model("openai:gpt-4o-mini") == before
    assert "openai" not in syc.oauth.login_providers()
    with pytest.raises(syc.MissingCredentials):  # the stored OAuth login no longer applies to openai
        syc.generate_text("openai:gpt-4o-mini", "hi")
    assert syc.CredentialStore().get("openai") is not None  # the store keeps it (logout removes it)


def test_secrets_stay_out_of_reprs(idp: FakeIdP) -> None:
    creds = syc.OAuthCredentials(
        refresh="refresh-secret-0123456789", access="access-secret-9876543210", expires=1.0, region="eu"
    )
    text = repr(creds)
    assert "secret" not in text
    assert "region" in text
    assert creds.region == "eu"
    from sycophant_py.auth import Credentials

    assert "secret" not in repr(Credentials(oauth_credentials=creds.to_dict()))


# -- 20 processes, one expired token ------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import sycophant_py as syc
    from sycophant_py.oauth import post_form

    url = sys.argv[1]

    def refresh(c):
        data = post_form(url + "/token", {"grant_type": "refresh_token", "refresh_token": c.refresh})
        if "error" in data:
            raise RuntimeError(data["error"])
        return syc.OAuthCredentials(refresh=data["refresh_token"], access=data["access_token"],
                                    expires=time.time() + data["expires_in"])

    syc.register_provider("corp", base_url=url + "/v1", models=[{"id": "m"}],
                          oauth=syc.OAuth(name="Corp", login=print, refresh_token=refresh,
                                          get_api_key=lambda c: c.access))
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps({"text": syc.generate_text("corp:m", "hi").text}), flush=True)
    """
)


def test_twenty_processes_refresh_one_expired_token_once(idp: FakeIdP, auth_file: Path) -> None:
    old = store_login(idp, expires_in=-10)  # already expired
    idp.refresh_delay = 0.3  # a slow refresh: everyone else is waiting on the lock meanwhile
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SYCOPHANT_AUTH_FILE": str(auth_file)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, idp.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(20)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        started = time.monotonic()
        for p in procs:  # release them all at once
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=120) for p in procs]
        elapsed = time.monotonic() - started
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * 20, [err[-2000:] for _, err in outs]
    assert [json.loads(out)["text"] for out, _ in outs] == ["hello"] * 20
    assert idp.refreshes == 1  # exactly one refresh request reached the server
    stored = json.loads(auth_file.read_text())  # valid JSON
    new = stored["corp"]["access"]
    assert new != old.access
    assert [t for _, t in idp.api_calls] == [new] * 20
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(auth_file.parent.stat().st_mode) == 0o700
    assert not [p.name for p in auth_file.parent.iterdir() if p.name.endswith(".tmp")]  # no temp file left
    print(f"20 processes: {idp.refreshes} refresh request, {elapsed:.2f}s from release to the last answer")
