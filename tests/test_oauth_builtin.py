"""The built-in logins against fakes on 127.0.0.1: GitHub Copilot's device flow, Google Vertex AI credentials.

Copilot: GitHub's device-code endpoints and the Copilot token exchange are played by
``tests/fake_idp.py`` (reached through the ``github_url`` / ``token_url`` settings); sleeps go
through the injectable ``RetryPolicy.sleep`` and are recorded. Vertex: a service-account key made
in the test (a fresh RSA key) whose ``token_uri`` is the fake's JWT-bearer endpoint, which checks
the assertion's signature and claims.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

import sycophant_py as syc
from sycophant_py._oauth_flows import COPILOT_CLIENT_ID
from sycophant_py._registry import auth_for
from sycophant_py.auth import Credentials
from sycophant_py.auth.google_vertex import GoogleVertexAuth
from tests.fake_idp import FakeIdP
from tests.test_oauth import Recorder

GH = "gho_device_flow_token_0123456789"
VERTEX_PATH = "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"


@pytest.fixture
def idp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIdP]:
    monkeypatch.setenv("SYCOPHANT_AUTH_FILE", str(tmp_path / "store" / "auth.json"))
    with FakeIdP() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    slept: list[float] = []
    syc.configure(retry=syc.RetryPolicy(sleep=slept.append))
    return slept


@pytest.fixture
def github(idp: FakeIdP, sleeps: list[float]) -> FakeIdP:
    idp.copilot_accounts.add(GH)
    syc.configure(
        providers={"github-copilot": {"github_url": idp.url, "token_url": idp.url + "/copilot_internal/v2/token"}}
    )
    return idp


def _forms(idp: FakeIdP, path: str) -> list[dict[str, str]]:
    return [dict(parse_qsl(r.body.decode())) for r in idp.requests if r.path == path]


# -- GitHub Copilot ------------------------------------------------------------------------------------


def test_copilot_device_flow_then_a_call(github: FakeIdP, sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    github.device_polls = [
        {"error": "authorization_pending"},
        {"error": "slow_down", "interval": 10},
        {"error": "authorization_pending"},
        {"access_token": GH, "token_type": "bearer", "scope": "read:user"},
    ]
    cb = Recorder()
    creds = syc.login("copilot", cb)  # the short alias works
    assert cb.seen == [("device", {"user_code": "ABCD-1234", "verification_uri": github.url + "/login/device"})]
    assert sleeps == [5, 5, 10, 10]  # interval honoured, slow_down's new interval taken
    assert _forms(github, "/login/device/code") == [{"client_id": COPILOT_CLIENT_ID, "scope": "read:user"}]
    polls = _forms(github, "/login/oauth/access_token")
    assert len(polls) == 4
    assert polls[0] == {
        "client_id": COPILOT_CLIENT_ID,
        "device_code": "dev-code-1",
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    }
    assert creds == syc.OAuthCredentials(refresh=GH, access=GH, expires=None)
    assert syc.CredentialStore().get("github-copilot") == {
        "type": "oauth",
        "refresh": GH,
        "access": GH,
        "expires": None,
    }

    monkeypatch.setenv("GITHUB_TOKEN", "gho_from_the_environment")  # the store beats the environment
    resp = syc.generate_text("github-copilot:gpt-4o", "hi")
    assert resp.text == "hello"
    exchanges = [r for r in github.requests if r.path == "/copilot_internal/v2/token"]
    assert [r.headers["authorization"] for r in exchanges] == [f"token {GH}"]  # the login's check, then cached
    path, bearer = github.api_calls[-1]
    assert path == "/copilot/chat/completions"
    assert bearer.startswith("tid=copilot")


def test_copilot_github_url_from_the_environment(
    idp: FakeIdP, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    idp.copilot_accounts.add(GH)
    idp.device_interval = 1
    idp.device_polls = [{"error": "slow_down"}, {"access_token": GH}]
    monkeypatch.setenv("SYCOPHANT_GITHUB_URL", idp.url)
    syc.configure(providers={"github-copilot": {"token_url": idp.url + "/copilot_internal/v2/token"}})
    syc.login("github-copilot", Recorder())
    assert sleeps == [1, 6]  # slow_down without an interval: 5 s more


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"error": "expired_token"}, "expired before it was entered"),
        ({"error": "access_denied"}, "denied"),
        ({"error": "unsupported_grant_type", "error_description": "bad grant"}, "unsupported_grant_type: bad grant"),
    ],
)
def test_copilot_device_flow_failures(github: FakeIdP, answer: dict[str, Any], message: str) -> None:
    github.device_polls = [{"error": "authorization_pending"}, answer]
    with pytest.raises(syc.AuthenticationFailed, match=message) as err:
        syc.login("github-copilot", Recorder())
    assert err.value.provider == "github-copilot"
    assert syc.CredentialStore().get("github-copilot") is None


def test_copilot_login_fails_for_an_account_without_copilot(github: FakeIdP) -> None:
    github.device_polls = [{"access_token": "gho_no_copilot_here_000000"}]
    with pytest.raises(syc.AuthenticationFailed, match="does the account have Copilot"):
        syc.login("github-copilot", Recorder())
    assert syc.CredentialStore().get("github-copilot") is None


def test_copilot_401_exchanges_again(github: FakeIdP) -> None:
    syc.CredentialStore().set_oauth("github-copilot", syc.OAuthCredentials(refresh=GH, access=GH, expires=None))
    syc.generate_text("github-copilot:gpt-4o", "hi")
    github.revoke_all()  # Copilot revoked the exchanged token early
    syc.generate_text("github-copilot:gpt-4o", "hi")
    asyncio.run(syc.agenerate_text("github-copilot:gpt-4o", "hi"))
    exchanges = [r for r in github.requests if r.path == "/copilot_internal/v2/token"]
    assert len(exchanges) == 2
    first, refused, resent, again = (t for _, t in github.api_calls)
    assert first == refused != resent == again


# -- Google Vertex AI -------------------------------------------------------------------------------


@pytest.fixture
def service_account(idp: FakeIdP, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "bot@proj-1.iam.gserviceaccount.com"
    idp.service_account_keys[email] = key.public_key()
    info = {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "kid-1",
        "private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "client_email": email,
        "client_id": "1234",
        "token_uri": idp.url + "/token",
    }
    path = tmp_path / "key.json"
    path.write_text(json.dumps(info))
    return path, info


def _vertex(idp: FakeIdP, **settings: Any) -> None:
    base = idp.url + "/v1/projects/{project}/locations/{location}/publishers/google"
    syc.configure(providers={"google-vertex": {"base_url": base, **settings}})


def test_vertex_with_a_service_account_key_file(idp: FakeIdP, service_account: tuple[Path, dict[str, Any]]) -> None:
    path, info = service_account
    _vertex(idp, application_credentials=str(path), location="us-central1")
    assert syc.generate_text("vertex:gemini-2.5-flash", "hi").text == "hello"
    (claims,) = idp.jwt_grants  # signature verified by the fake
    assert claims["iss"] == info["client_email"]  # posted to the key's token_uri: the fake
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert idp.api_calls == [(VERTEX_PATH, "ya29.google-1")]  # project from the key file
    syc.generate_text("vertex:gemini-2.5-flash", "hi")
    asyncio.run(syc.agenerate_text("vertex:gemini-2.5-flash", "hi"))
    assert len(idp.jwt_grants) == 1
    assert [t for _, t in idp.api_calls] == ["ya29.google-1"] * 3


def test_vertex_token_is_refreshed_before_expiry_and_after_a_401(
    idp: FakeIdP, service_account: tuple[Path, dict[str, Any]]
) -> None:
    _path, info = service_account
    idp.google_expires_in = 200  # inside the 300 s margin: every call needs a new one
    _vertex(idp, service_account_info=json.dumps(info), location="us-central1")
    syc.generate_text("vertex:gemini-2.5-flash", "hi")
    syc.generate_text("vertex:gemini-2.5-flash", "hi")
    assert [t for _, t in idp.api_calls] == ["ya29.google-1", "ya29.google-2"]
    idp.google_expires_in = 3600
    syc.generate_text("vertex:gemini-2.5-flash", "hi")
    idp.revoke_all()
    syc.generate_text("vertex:gemini-2.5-flash", "hi")
    assert [t for _, t in idp.api_calls][2:] == ["ya29.google-3", "ya29.google-3", "ya29.google-4"]


def test_vertex_settings_from_the_environment(
    idp: FakeIdP, service_account: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account[0]))
    monkeypatch.setenv("GOOGLE_VERTEX_LOCATION", "us-central1")
    _vertex(idp)
    syc.generate_text("google-vertex:gemini-2.5-flash", "hi")
    assert idp.api_calls == [(VERTEX_PATH, "ya29.google-1")]


def test_vertex_login_stores_settings(idp: FakeIdP, service_account: tuple[Path, dict[str, Any]]) -> None:
    path, _ = service_account
    cb = Recorder([str(path), "", ""])  # key file; project and location: the defaults
    assert syc.login("vertex", cb) is None
    assert [kw["message"] for _, kw in cb.seen] == [
        "Service-account key file (empty: application-default credentials):",
        "Google Cloud project [proj-1]:",
        "Vertex AI location [us-central1]:",
    ]
    stored = syc.CredentialStore().get("google-vertex")
    assert stored == {
        "type": "settings",
        "application_credentials": str(path),
        "project": "proj-1",
        "location": "us-central1",
    }
    _vertex(idp)  # only the base URL: project, location and key come from the store
    syc.generate_text("vertex:gemini-2.5-flash", "hi")
    assert idp.api_calls == [(VERTEX_PATH, "ya29.google-1")]
    assert syc.logout("vertex") is True
    assert syc.CredentialStore().get("google-vertex") is None


def test_vertex_application_default_credentials(
    idp: FakeIdP, service_account: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account[0]))
    creds = GoogleVertexAuth().prepare_credentials(Credentials())  # google.auth.default finds the file
    assert (creds["access_token"], creds["project"]) == ("ya29.google-1", "proj-1")
    assert "ya29" not in repr(creds)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setattr("google.auth.compute_engine._metadata._NO_GCE_CHECK", True)  # not on Google Cloud
    with pytest.raises(syc.MissingCredentials, match="sycophant login google-vertex"):
        GoogleVertexAuth().prepare_credentials(Credentials())


def test_vertex_ready_token_and_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = GoogleVertexAuth()
    ready = Credentials(access_token="ya29.given")
    assert auth.prepare_credentials(ready) is ready
    assert auth.on_unauthorized(ready) is None
    monkeypatch.setitem(sys.modules, "google.auth", None)
    with pytest.raises(syc.InvalidError, match=r'pip install "sycophant_py\[vertex\]"'):
        auth.prepare_credentials(Credentials(application_credentials="/nonexistent.json"))


def test_anthropic_on_vertex_rows_use_the_vertex_auth() -> None:
    model = syc.get_model("google-vertex-anthropic:claude-sonnet-4-5@20250929")
    assert (model.auth, model.auth_strategy) == ("optional", "google_vertex")
    assert isinstance(auth_for(model.provider, model.auth_strategy, model.api), GoogleVertexAuth)
    gemini = syc.get_model("vertex:gemini-2.5-pro")
    assert isinstance(auth_for(gemini.provider, gemini.auth_strategy, gemini.api), GoogleVertexAuth)


def test_vertex_credentials_files_by_type(tmp_path: Path) -> None:
    import google.auth
    from google.oauth2 import credentials as user_credentials

    from sycophant_py.auth.google_vertex import _load_file

    user = tmp_path / "adc.json"
    user.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
                "quota_project_id": "q",
            }
        )
    )
    creds, project = _load_file(google.auth, str(user))
    assert isinstance(creds, user_credentials.Credentials)
    assert project == "q"
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    with pytest.raises(syc.InvalidError, match="cannot read the Google credentials file"):
        _load_file(google.auth, str(broken))
