"""GitHub Copilot through ``GithubCopilotAuth``: token exchange, cache, refresh, concurrency, headers.

A ``ScriptedServer`` plays both GitHub's token endpoint (``/copilot_internal/v2/token``, reached through
the ``token_url`` setting) and the Copilot API host the exchange names in ``endpoints.api``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import sycophant_py as syc
from sycophant_py import _transport
from sycophant_py._registry import auth_for
from sycophant_py.auth._base import Credentials, HttpRequest
from sycophant_py.auth.github_copilot import DEFAULT_TOKEN_URL, GithubCopilotAuth
from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer

GH = "gho_github_oauth_token_0123456789"
COPILOT = "tid=abc123;exp=1999999999;sku=copilot;8kp=1:0f0e0d0c0b0a"
CHAT = {
    "id": "chatcmpl-1",
    "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
RESPONSE = {
    "id": "resp_1",
    "status": "completed",
    "model": "gpt-5.5",
    "output": [
        {
            "type": "message",
            "id": "m",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "yo", "annotations": []}],
        }
    ],
}


class Clock:
    """A settable wall clock for the token cache."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Copilot:
    """The scripted GitHub + Copilot endpoints, with what they received."""

    def __init__(self, srv: ScriptedServer, clock: Clock) -> None:
        self.srv = srv
        self.clock = clock
        self.lifetime = 1800.0
        self.exchange_delay = 0.0
        self.exchange_reply: Reply | None = None
        self.issued = 0
        self.lock = threading.Lock()

    def handle(self, rec: RecordedRequest) -> Reply:
        if rec.path.startswith("/copilot_internal/"):
            time.sleep(self.exchange_delay)
            if self.exchange_reply is not None:
                return self.exchange_reply
            with self.lock:
                self.issued += 1
                n = self.issued
            return Reply.json(
                {
                    "token": f"{COPILOT}-{n}",
                    "expires_at": int(self.clock.now + self.lifetime),
                    "refresh_in": 1500,
                    "endpoints": {"api": self.srv.url + "/api"},
                }
            )
        return Reply.json(RESPONSE if rec.path.endswith("/responses") else CHAT)

    @property
    def exchanges(self) -> list[RecordedRequest]:
        return [r for r in self.srv.requests if r.path.startswith("/copilot_internal/")]

    @property
    def calls(self) -> list[RecordedRequest]:
        return [r for r in self.srv.requests if not r.path.startswith("/copilot_internal/")]

    def creds(self, **extra: Any) -> dict[str, Any]:
        return {"api_key": GH, "token_url": self.srv.url + "/copilot_internal/v2/token", **extra}


@pytest.fixture(autouse=True)
def _no_github_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COPILOT_GITHUB_TOKEN", "GH_COPILOT_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def shared_client() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def copilot(monkeypatch: pytest.MonkeyPatch, shared_client: httpx.Client) -> Iterator[Copilot]:
    auth = auth_for("github-copilot")
    assert isinstance(auth, GithubCopilotAuth)
    clock = Clock()
    monkeypatch.setattr(auth, "clock", clock)
    auth.clear_cache()
    with ScriptedServer() as srv:
        # ScriptedServer writes headers and body apart: without this each reply waits ~40 ms for a delayed ACK
        srv._httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        state = Copilot(srv, clock)
        srv.handler = state.handle
        syc.configure(http_client=shared_client)
        yield state
    auth.clear_cache()


def test_exchange_then_call_with_exact_headers(copilot: Copilot) -> None:
    resp = syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    assert resp.text == "hi"
    assert resp.provider == "github-copilot"
    exchange, call = copilot.srv.requests
    assert (exchange.method, exchange.path) == ("GET", "/copilot_internal/v2/token")
    assert exchange.headers["authorization"] == f"token {GH}"
    assert exchange.headers["accept"] == "application/json"
    assert exchange.headers["editor-version"] == "vscode/1.95.0"
    assert exchange.headers["editor-plugin-version"] == "copilot-chat/0.22.0"
    assert exchange.headers["user-agent"] == "GitHubCopilotChat/0.22.0"
    assert (call.method, call.path) == ("POST", "/api/chat/completions")  # the exchange's endpoints.api
    assert call.headers["authorization"] == f"Bearer {COPILOT}-1"
    assert call.headers["copilot-integration-id"] == "vscode-chat"
    assert call.headers["editor-version"] == "vscode/1.95.0"
    assert call.headers["editor-plugin-version"] == "copilot-chat/0.22.0"
    assert call.headers["user-agent"] == "GitHubCopilotChat/0.22.0"
    assert call.json["model"] == "gpt-4o"


def test_token_cached_then_refreshed_near_expiry(copilot: Copilot) -> None:
    for _ in range(3):
        syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    assert len(copilot.exchanges) == 1
    copilot.clock.now += 1800 - 301  # still more than five minutes left
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    assert len(copilot.exchanges) == 1
    copilot.clock.now += 2  # less than five minutes left: refresh first
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    assert len(copilot.exchanges) == 2
    assert copilot.calls[-1].headers["authorization"] == f"Bearer {COPILOT}-2"


def test_short_lived_tokens_refresh_at_half_life(copilot: Copilot) -> None:
    copilot.lifetime = 120
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    copilot.clock.now += 59
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    assert len(copilot.exchanges) == 1
    copilot.clock.now += 2
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    assert len(copilot.exchanges) == 2


def test_one_cache_entry_per_github_token(copilot: Copilot) -> None:
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds(api_key="gho_other_token_abcdefghij"))
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds(api_key=None, github_token=GH))
    assert [r.headers["authorization"] for r in copilot.exchanges] == [
        f"token {GH}",
        "token gho_other_token_abcdefghij",
    ]


def test_one_exchange_for_concurrent_threads(copilot: Copilot) -> None:
    copilot.exchange_delay = 0.2
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(copilot.exchanges) == 1
    assert len(copilot.calls) == 8
    assert {r.headers["authorization"] for r in copilot.calls} == {f"Bearer {COPILOT}-1"}


def test_one_exchange_for_concurrent_tasks(copilot: Copilot) -> None:
    copilot.exchange_delay = 0.2

    async def main() -> list[str]:
        out = await asyncio.gather(
            *(syc.agenerate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds()) for _ in range(8))
        )
        stream = syc.astream_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
        await stream.aclose()  # closing before iterating sends nothing
        await syc.aclose()
        return [r.text for r in out]

    assert asyncio.run(main()) == ["hi"] * 8
    assert len(copilot.exchanges) == 1
    assert len(copilot.calls) == 8


def test_responses_api_and_overrides(copilot: Copilot) -> None:
    resp = syc.generate_text(
        "copilot:gpt-5.5",
        "Hi",
        api="openai_responses",
        credentials=copilot.creds(editor_version="Neovim/0.10.0", integration_id="my-app"),
    )
    assert resp.text == "yo"
    call = copilot.calls[-1]
    assert call.path == "/api/responses"
    assert (call.headers["editor-version"], call.headers["copilot-integration-id"]) == ("Neovim/0.10.0", "my-app")
    assert copilot.exchanges[-1].headers["editor-version"] == "Neovim/0.10.0"
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds(base_url=copilot.srv.url + "/mine"))
    assert copilot.calls[-1].path == "/mine/chat/completions"  # a configured base_url wins over endpoints.api


def test_ready_copilot_token_skips_the_exchange(copilot: Copilot) -> None:
    syc.generate_text(
        "copilot:gpt-4o",
        "Hi",
        credentials={"copilot_token": "ready-token-0123456789", "base_url": copilot.srv.url + "/api"},
    )
    assert copilot.exchanges == []
    assert copilot.calls[-1].headers["authorization"] == "Bearer ready-token-0123456789"


@pytest.mark.parametrize(
    ("reply", "exc", "status"),
    [
        (Reply.json({"message": "Bad credentials"}, status=401), syc.AuthenticationFailed, 401),
        (Reply.json({"message": "Resource not accessible by integration"}, status=403), syc.AuthenticationFailed, 403),
        (Reply.json({"message": "Not Found"}, status=404), syc.AuthenticationFailed, 404),
        (Reply.json({"message": "slow down"}, status=429), syc.RateLimited, 429),
        (Reply.json({"message": "oops"}, status=502), syc.ServerError, 502),
        (Reply.json({"message": "odd"}, status=418), syc.BadRequest, 418),
        (Reply.json({"no": "token"}), syc.ResponseInvalid, 200),
        (Reply.raw(b"<html>", content_type="text/html"), syc.ResponseInvalid, 200),
    ],
)
def test_exchange_failures(
    copilot: Copilot, reply: Reply, exc: type[Exception], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    copilot.exchange_reply = reply
    caplog.set_level(logging.DEBUG, logger="sycophant_py")
    with pytest.raises(exc) as info:
        syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    err = info.value
    assert isinstance(err, syc.ProviderError)
    assert (err.status_code, err.provider) == (status, "github-copilot")
    assert GH not in str(err)
    assert GH not in repr(err.__dict__)
    assert GH not in caplog.text
    assert copilot.calls == []
    # the failure is not cached: the next call exchanges again
    copilot.exchange_reply = None
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    assert len(copilot.calls) == 1


def test_tokens_never_in_logs_or_reprs(copilot: Copilot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sycophant_py")
    syc.generate_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    stream = syc.stream_text("copilot:gpt-4o", "Hi", credentials=copilot.creds())
    stream.close()
    auth = auth_for("github-copilot")
    prepared = auth.prepare_credentials(Credentials(copilot.creds()))
    texts = [caplog.text, repr(auth), repr(auth.__dict__), repr(prepared), str(prepared)]
    for secret in (GH, COPILOT):
        assert all(secret not in text for text in texts)
    assert prepared["copilot_token"] == f"{COPILOT}-1"
    req = HttpRequest("POST", "https://x")
    for mw in auth.middlewares(prepared):
        req = mw(req)
    assert COPILOT not in repr(req)


def test_default_and_enterprise_token_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[HttpRequest] = []

    def fake_send(req: HttpRequest, **_kw: Any) -> _transport.RawResponse:
        sent.append(req)
        return _transport.RawResponse(200, {}, b'{"token": "t-0123456789abcdef", "expires_at": 4102444800}')

    monkeypatch.setattr(_transport, "send", fake_send)
    auth = GithubCopilotAuth()
    out = auth.prepare_credentials(Credentials({"api_key": GH}))
    auth.prepare_credentials(Credentials({"github_token": GH, "github_host": "ghe.example.com"}))
    assert [r.url for r in sent] == [DEFAULT_TOKEN_URL, "https://ghe.example.com/api/v3/copilot_internal/v2/token"]
    assert "base_url" not in out  # no endpoints.api in the answer: the catalog's base URL applies
    with pytest.raises(syc.MissingCredentials):
        auth.prepare_credentials(Credentials({}))
