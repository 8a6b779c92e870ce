"""``anthropic_vertex``: Claude on Vertex AI, the protocol template's smallest complete package.

The pure part (paths, the body's envelope, the headers, the descriptor) is tested directly; the
whole call runs against ``tests/fake_idp.py`` on 127.0.0.1, which plays Google's token endpoint
(the JWT-bearer grant of a service-account key made here, its signature checked) and Vertex's
``:rawPredict`` / ``:streamRawPredict`` endpoints (Anthropic's message and event stream, bearer
token required), as ``tests/test_oauth_builtin.py`` does for Gemini on Vertex.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._models import ModelInfo
from sycophant_py._registry import auth_for, get_protocol
from sycophant_py.auth.google_vertex import GoogleVertexAuth
from sycophant_py.wire import Request
from sycophant_py.wire.anthropic_messages import AnthropicMessages
from sycophant_py.wire.anthropic_vertex import VERTEX_ANTHROPIC_VERSION, AnthropicVertex
from tests.fake_idp import FakeIdP

MODEL_ID = "claude-sonnet-4-5@20250929"
SPEC = f"google-vertex-anthropic:{MODEL_ID}"
MODEL = ModelInfo(provider="google-vertex-anthropic", id=MODEL_ID, api="anthropic_vertex", max_tokens=64000)
ROOT = "/v1/projects/proj-1/locations/us-central1/publishers/anthropic/models/" + MODEL_ID
proto = AnthropicVertex()


def test_the_body_is_anthropics_without_model_and_with_vertexs_version() -> None:
    request = Request(MODEL, [syc.Message.system("Be brief."), syc.Message.user("hi")], {"max_tokens": 100})
    body = proto.encode_request(request)
    plain = AnthropicMessages().encode_request(request)
    assert plain.pop("model") == MODEL_ID
    assert body == {"anthropic_version": VERTEX_ANTHROPIC_VERSION, **plain}
    assert body["anthropic_version"] == "vertex-2023-10-16"


def test_paths_headers_base_url_and_descriptor() -> None:
    assert proto.request_path(Request(MODEL, [])) == "/models/{model}:rawPredict"
    assert proto.request_path(Request(MODEL, [], stream=True)) == "/models/{model}:streamRawPredict"
    assert proto.request_headers(Request(MODEL, [])) == {}  # the version travels in the body
    assert proto.request_headers(Request(MODEL, [], {"anthropic_beta": ["b-1"]})) == {"anthropic-beta": "b-1"}
    base = (
        "https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/anthropic"
    )
    assert proto.resolve_base_url(base) == base
    assert (proto.name, proto.default_auth, proto.models_path, proto.own_aliases()) == (
        "anthropic_vertex",
        "google_vertex",
        None,
        (),  # the parent's pi alias stays the parent's
    )
    assert proto.finish_reasons is AnthropicMessages.finish_reasons
    assert type(get_protocol("chat", "anthropic_vertex")) is AnthropicVertex
    assert type(auth_for("some-custom-provider", protocol="anthropic_vertex")) is GoogleVertexAuth


def test_the_catalogs_claude_rows_on_vertex_resolve_to_it() -> None:
    for spec in (SPEC, "vertex:claude-sonnet-4-5@20250929"):
        model = syc.get_model(spec)
        assert (model.api, model.auth_strategy) == ("anthropic_vertex", "google_vertex")
        assert model.base_url.endswith("/publishers/anthropic")


# -- the whole call, against a fake Google token endpoint and fake Vertex endpoints ------------


@pytest.fixture
def idp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIdP]:
    monkeypatch.setenv("SYCOPHANT_AUTH_FILE", str(tmp_path / "store" / "auth.json"))
    with FakeIdP() as server:
        yield server


@pytest.fixture
def key(idp: FakeIdP) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "claude-bot@proj-1.iam.gserviceaccount.com"
    idp.service_account_keys[email] = private.public_key()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1234",
        "token_uri": idp.url + "/token",
    }
    base = idp.url + "/v1/projects/{project}/locations/{location}/publishers/anthropic"
    syc.configure(
        providers={
            "google-vertex-anthropic": {
                "base_url": base,
                "service_account_info": json.dumps(info),
                "location": "us-central1",
            }
        }
    )
    return info


def _sent(idp: FakeIdP, suffix: str) -> dict[str, Any]:
    (request,) = [r for r in idp.requests if r.path.endswith(suffix)]
    body: dict[str, Any] = json.loads(request.body)
    return body


def test_claude_on_vertex_through_the_pipeline(idp: FakeIdP, key: dict[str, Any]) -> None:
    resp = syc.generate_text(SPEC, "hi", max_tokens=50)
    assert (resp.text, resp.finish_reason, resp.usage.input_tokens, resp.usage.output_tokens) == ("hello", "stop", 3, 1)
    (claims,) = idp.jwt_grants  # Google's JWT-bearer grant, signature checked by the fake
    assert claims["iss"] == key["client_email"]
    assert idp.api_calls == [(ROOT + ":rawPredict", "ya29.google-1")]  # project from the key, location set
    body = _sent(idp, ":rawPredict")
    assert "model" not in body
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert (body["max_tokens"], body["messages"]) == (50, [{"role": "user", "content": "hi"}])
    (request,) = [r for r in idp.requests if r.path.endswith(":rawPredict")]
    assert "anthropic-version" not in request.headers
    assert "x-api-key" not in request.headers


def test_claude_on_vertex_streams_anthropics_events(idp: FakeIdP, key: dict[str, Any]) -> None:
    events = list(syc.stream_text(SPEC, "hi"))
    assert [e.delta for e in events if e.type == "text_delta"] == ["hel", "lo"]
    assert events[-1].type == "done"
    assert events[-1].response is not None
    assert (events[-1].response.text, events[-1].response.usage.output_tokens) == ("hello", 2)
    assert idp.api_calls == [(ROOT + ":streamRawPredict", "ya29.google-1")]
    assert _sent(idp, ":streamRawPredict")["stream"] is True

    async def run() -> str:
        return (await syc.agenerate_text(SPEC, "hi")).text

    assert asyncio.run(run()) == "hello"
    assert [t for _, t in idp.api_calls] == ["ya29.google-1"] * 2  # the token is cached
