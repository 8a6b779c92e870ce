"""The examples of ``docs/oauth.md``, executed from the page against the fake identity provider.

The docs' hosts (``https://sso.corp.example``, ``https://ai.corp.example``) are replaced by the
fake's URL; nothing else of the code is changed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sycophant_py as syc
from tests.fake_idp import FakeIdP, token_claims
from tests.test_oauth import Recorder

DOCS = Path(__file__).resolve().parents[1] / "docs" / "oauth.md"


def docs_example(name: str, url: str = "") -> dict[str, Any]:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {name}\b[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, f"docs/oauth.md lost its {name} example"
    code = match.group(1).replace("https://sso.corp.example", url).replace("https://ai.corp.example", url)
    namespace: dict[str, Any] = {"__name__": f"docs_oauth_{name}"}
    exec(compile(code, str(DOCS), "exec"), namespace)  # our own documentation
    return namespace


@pytest.fixture
def idp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIdP]:
    monkeypatch.setenv("SYCOPHANT_AUTH_FILE", str(tmp_path / "auth.json"))
    with FakeIdP() as server:
        yield server


class Browser:
    """Opens the authorization URL and follows the redirect to the login's callback port."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def on_auth(self, *, url: str) -> None:
        self.opened.append(url)
        with httpx.Client(follow_redirects=True) as client:
            assert client.get(url).status_code == 200


def test_pkce_example(idp: FakeIdP) -> None:
    docs_example("oauth-pkce", idp.url)
    browser = Browser()
    creds = syc.login("corporate-ai", browser)
    assert creds is not None
    assert token_claims(creds.access)["region"] == "eu"
    assert browser.opened[0].startswith(idp.url + "/authorize?client_id=corp-cli")
    assert idp.codes == {}  # the code was exchanged, its PKCE verifier checked by the fake
    assert syc.get_model("corporate-ai:corp-large").base_url == idp.url + "/eu/v1"
    assert syc.generate_text("corporate-ai:corp-large", "Hello").text == "hello"
    assert idp.api_calls == [("/eu/v1/responses", creds.access)]

    idp.region = "us"  # the next refresh moves the account
    syc.CredentialStore().set_oauth(
        "corporate-ai", syc.OAuthCredentials(refresh=creds.refresh, access=creds.access, expires=time.time() + 10)
    )
    syc.generate_text("corporate-ai:corp-large", "Hello")
    assert idp.refreshes == 1
    assert idp.api_calls[-1][0] == "/us/v1/responses"


def test_dict_example(idp: FakeIdP) -> None:
    docs_example("oauth-dict", idp.url)
    code = idp.issue()["access_token"]
    cb = Recorder([code])
    syc.login("corporate-ai-simple", cb)
    assert cb.seen[0] == ("auth", {"url": idp.url + "/login"})
    syc.generate_text("corporate-ai-simple:corp-large", "Hello")
    assert idp.api_calls == [("/v1/responses", code)]


def test_store_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYCOPHANT_AUTH_FILE", str(tmp_path / "auth.json"))
    docs_example("store")
    assert syc.CredentialStore().providers() == []
