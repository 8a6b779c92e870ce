"""Azure OpenAI through ``AzureAuth``: exact URLs, query params and headers.

URL layouts are checked on the request the pipeline builds (``PREPARE`` + ``ENCODE`` + the auth's
middlewares, no I/O), so real Azure host names can be used; calls that go over the wire run against a
``ScriptedServer`` given as the endpoint (``base_url``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

import sycophant_py as syc
from sycophant_py._pipeline import ENCODE, PREPARE, Call, apply_auth, run_steps
from sycophant_py._types import Message
from sycophant_py.auth._base import Credentials
from sycophant_py.auth.azure import AzureAuth
from sycophant_py.testing import FakeClock, Reply, ScriptedServer, sse_body

KEY = "azure-key-0123456789abcdef"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.entra-token"
CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-5-mini",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "hello", "annotations": []}],
        }
    ],
    "usage": {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 12,
    },
}


@pytest.fixture(autouse=True)
def _no_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "AZURE_OPENAI_API_KEY",
        "AZURE_API_KEY",
        "AZURE_OPENAI_AD_TOKEN",
        "AZURE_RESOURCE_NAME",
        "AZURE_OPENAI_API_VERSION",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_ENDPOINT",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def shared_client() -> Iterator[httpx.Client]:
    with httpx.Client() as client:  # one client (and CA bundle load) for the module
        yield client


@pytest.fixture
def server(shared_client: httpx.Client) -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        # ScriptedServer writes headers and body apart: without this each reply waits ~40 ms for a delayed ACK
        srv._httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        syc.configure(http_client=shared_client)
        yield srv


def built(
    spec: str, creds: dict[str, Any], *, api: str | None = None, stream: bool = False
) -> tuple[str, dict[str, str]]:
    """(final URL with query, headers) of the request the pipeline would send (no I/O)."""
    call = Call(spec=spec, messages=(Message.user("hi"),), credentials_in=Credentials(creds), api=api, stream=stream)
    call = run_steps(call, PREPARE)
    call.credentials = call.auth.prepare_credentials(call.credentials)
    req = apply_auth(run_steps(call, ENCODE))
    return req.url + ("?" + urlencode(req.params) if req.params else ""), req.headers


# -- URL layouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("creds", "api", "url"),
    [
        (
            {},
            None,
            "https://contoso.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
        ),
        (
            {"deployment": "prod-4o"},
            None,
            "https://contoso.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21",
        ),
        (
            {"api_version": "2024-12-01-preview"},
            None,
            "https://contoso.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions"
            "?api-version=2024-12-01-preview",
        ),
        ({"api_version": "v1"}, None, "https://contoso.openai.azure.com/openai/v1/chat/completions"),
        (
            {"api_version": "preview"},
            None,
            "https://contoso.openai.azure.com/openai/v1/chat/completions?api-version=preview",
        ),
        ({}, "openai_responses", "https://contoso.openai.azure.com/openai/responses?api-version=2025-04-01-preview"),
        (
            {"api_version": "2025-03-01-preview"},
            "openai_responses",
            "https://contoso.openai.azure.com/openai/responses?api-version=2025-03-01-preview",
        ),
        ({"api_version": "v1"}, "openai_responses", "https://contoso.openai.azure.com/openai/v1/responses"),
        (
            {"api_version": "latest"},
            "openai_responses",
            "https://contoso.openai.azure.com/openai/v1/responses?api-version=latest",
        ),
    ],
)
def test_url_layouts(creds: dict[str, Any], api: str | None, url: str) -> None:
    got, headers = built("azure:gpt-4o-mini", {"api_key": KEY, "resource_name": "contoso", **creds}, api=api)
    assert got == url
    assert headers["api-key"] == KEY
    assert "authorization" not in headers


@pytest.mark.parametrize(
    ("base_url", "creds", "url"),
    [
        (
            "https://contoso.openai.azure.com",
            {},
            "https://contoso.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
        ),
        (
            "https://contoso.openai.azure.com/openai/",
            {"deployment": "d1"},
            "https://contoso.openai.azure.com/openai/deployments/d1/chat/completions?api-version=2024-10-21",
        ),
        (
            "https://contoso.openai.azure.com/openai/v1",
            {"api_version": "2024-10-21"},
            "https://contoso.openai.azure.com/openai/v1/chat/completions",
        ),  # a dated version means nothing on v1
        (
            "https://gw.example.com/azure/openai/deployments/gpt4",
            {},
            "https://gw.example.com/azure/openai/deployments/gpt4/chat/completions?api-version=2024-10-21",
        ),
        (
            "https://contoso.services.ai.azure.com/models",
            {},
            "https://contoso.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview",
        ),
    ],
)
def test_endpoint_and_full_base_urls(base_url: str, creds: dict[str, Any], url: str) -> None:
    assert built("azure:gpt-4o-mini", {"api_key": KEY, "base_url": base_url, **creds})[0] == url


def test_entra_token_is_a_bearer_and_wins_over_the_key() -> None:
    url, headers = built("azure:gpt-4o-mini", {"token": TOKEN, "resource_name": "contoso"})
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in headers
    assert url.endswith("?api-version=2024-10-21")
    _, both = built("azure:gpt-4o-mini", {"api_key": KEY, "azure_ad_token": TOKEN, "resource_name": "contoso"})
    assert both["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in both


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://fabrikam.openai.azure.com/")
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2024-06-01")
    url, headers = built("azure:gpt-4o", {})
    assert url == "https://fabrikam.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01"
    assert headers["api-key"] == KEY
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", TOKEN)
    assert built("azure:gpt-4o", {})[1]["authorization"] == f"Bearer {TOKEN}"


def test_missing_resource_names_the_setting() -> None:
    with pytest.raises(syc.InvalidError, match="resource_name"):
        built("azure:gpt-4o-mini", {"api_key": KEY})


def test_other_protocols_of_the_provider_keep_their_paths() -> None:
    """Claude on Foundry has its own base URL: no deployment layout, no api-version, an anthropic-version."""
    pytest.importorskip("sycophant_py.wire.anthropic_messages")
    if syc.get_model("azure:claude-haiku-4-5").api != "anthropic_messages":
        pytest.skip("the catalog has no Claude-on-Foundry row")
    url, headers = built("azure:claude-haiku-4-5", {"api_key": KEY, "resource_name": "contoso"})
    assert url == "https://contoso.services.ai.azure.com/anthropic/v1/messages"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["api-key"] == KEY


def test_prepare_credentials_is_pure_and_masks_secrets() -> None:
    creds = Credentials({"api_key": KEY, "token": TOKEN, "base_url": "https://x.openai.azure.com"})
    out = AzureAuth().prepare_credentials(creds)
    assert out["base_url"] == "https://x.openai.azure.com/openai/deployments/{model}"
    assert creds["base_url"] == "https://x.openai.azure.com"  # the input is not changed
    assert KEY not in repr(out)
    assert TOKEN not in repr(out)
    assert AzureAuth().path_params(Credentials({"resource_name": "r", "deployment": "d"})) == {
        "resource_name": "r",
        "deployment": "d",
        "model": "d",
    }


# -- over the wire ----------------------------------------------------------------------------------


def test_chat_end_to_end(server: ScriptedServer) -> None:
    server.add(Reply.json(CHAT))
    resp = syc.generate_text(
        "azure:gpt-4o-mini", "Hi", max_tokens=20, credentials={"api_key": KEY, "base_url": server.url}
    )
    assert resp.text == "hi"
    assert resp.provider == "azure"
    sent = server.requests[-1]
    assert sent.path == "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
    assert sent.headers["api-key"] == KEY
    assert "authorization" not in sent.headers
    assert sent.json["max_completion_tokens"] == 20


def test_chat_stream_v1(server: ScriptedServer) -> None:
    chunks = [{"id": "c", "choices": [{"index": 0, "delta": {"content": p}}]} for p in ("Hel", "lo")]
    chunks.append({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    server.add(Reply.sse(chunks, chunk_size=7))
    stream = syc.stream_text(
        "azure:my-deploy", "Hi", credentials={"token": TOKEN, "base_url": server.url, "api_version": "v1"}
    )
    assert [e.delta for e in stream if e.type == "text_delta"] == ["Hel", "lo"]
    sent = server.requests[-1]
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.json["model"] == "my-deploy"


def test_responses_end_to_end_and_streamed(server: ScriptedServer) -> None:
    server.add(Reply.json(RESPONSE))
    resp = syc.generate_text(
        "azure:gpt-5-mini",
        [syc.Message.system("Be brief."), syc.Message.user("Hi")],
        api="openai_responses",
        credentials={"api_key": KEY, "base_url": server.url},
    )
    assert (resp.text, resp.usage.input_tokens, resp.usage.cache_read_tokens) == ("hello", 6, 4)
    sent = server.requests[-1]
    assert sent.path == "/openai/responses?api-version=2025-04-01-preview"
    assert sent.json == {
        "model": "gpt-5-mini",
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": "Hi"}],
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.output_text.delta", {"output_index": 0, "content_index": 0, "delta": "hel"}),
        ("response.output_text.delta", {"output_index": 0, "content_index": 0, "delta": "lo"}),
        ("response.completed", {"response": RESPONSE}),
    ]
    body = sse_body([(name, {"type": name, **payload}) for name, payload in events], done=False)
    server.add(Reply(200, {"content-type": "text/event-stream"}, [body[:50], body[50:]]))
    final = syc.stream_text(
        "azure:gpt-5-mini",
        "Hi",
        api="openai_responses",
        credentials={"api_key": KEY, "base_url": server.url, "api_version": "v1"},
    ).response()
    assert final.text == "hello"
    assert server.requests[-1].path == "/openai/v1/responses"
    assert server.requests[-1].json["stream"] is True


def test_embeddings_use_the_deployment_path(server: ScriptedServer) -> None:
    server.add(Reply.json({"data": [{"index": 0, "embedding": [0.1, 0.2]}], "usage": {"prompt_tokens": 2}}))
    out = syc.embed(
        "azure:text-embedding-3-small", ["a"], api="openai_embed", credentials={"api_key": KEY, "base_url": server.url}
    )
    assert out.vectors == [[0.1, 0.2]]
    assert server.requests[-1].path == "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21"


def test_retry_attempts_get_the_same_url_and_errors_keep_the_key_out(server: ScriptedServer) -> None:
    server.add(Reply.json({"error": {"message": "busy"}}, status=500), Reply.json(CHAT))
    with FakeClock():
        syc.generate_text("azure:gpt-4o-mini", "Hi", credentials={"api_key": KEY, "base_url": server.url})
    assert [r.path for r in server.requests] == [
        "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
    ] * 2
    server.add(Reply.json({"error": {"code": "401", "message": "Access denied due to invalid key."}}, status=401))
    with pytest.raises(syc.AuthenticationFailed) as info:
        syc.generate_text("azure:gpt-4o-mini", "Hi", credentials={"api_key": KEY, "base_url": server.url})
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value.__dict__)
    assert "invalid key" in str(info.value)
    assert json.loads(server.requests[-1].body)["model"] == "gpt-4o-mini"
