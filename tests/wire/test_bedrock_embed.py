"""``bedrock_embed`` end to end: ``syc.embed`` against a ScriptedServer speaking InvokeModel.

Cohere v3/v4 and Titan v1/v2/image bodies, batching (one input per request unless ``batch_size``
says more; Titan refuses more), params the family cannot take, usage, errors, and SigV4 on every
request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._exceptions import InvalidParams
from sycophant_py._models import ModelInfo
from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer
from sycophant_py.wire._base import EmbeddingRequest
from sycophant_py.wire.bedrock_embed import BedrockEmbed, family_of

CREDS = {"access_key_id": "AKIDEMBED", "secret_access_key": "embed-secret", "region": "us-east-1"}


def _vector(seed: int, dims: int = 4) -> list[float]:
    return [round(seed + i / 10, 3) for i in range(dims)]


def _answer(rec: RecordedRequest) -> Reply:
    """Answer like Bedrock does for the family the path names (vectors encode the input's position)."""
    body = rec.json
    if "texts" in body:
        vectors = [_vector(len(t)) for t in body["texts"]]
        return Reply.json(
            {
                "id": "e1",
                "texts": body["texts"],
                "response_type": "embeddings_by_type",
                "embeddings": {"float": vectors},
            },
            headers={"x-amzn-bedrock-input-token-count": str(len(body["texts"]))},
        )
    dims = body.get("dimensions") or body.get("embeddingConfig", {}).get("outputEmbeddingLength") or 4
    return Reply.json(
        {
            "embedding": _vector(len(body["inputText"]), dims),
            "inputTextTokenCount": 3,
            "embeddingsByType": {"float": _vector(len(body["inputText"]), dims)},
        }
    )


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(handler=_answer) as srv:
        syc.configure(providers={"amazon-bedrock": {**CREDS, "base_url": srv.url}})
        yield srv


def test_cohere_v4_one_request_per_input_by_default(server: ScriptedServer) -> None:
    emb = syc.embed("bedrock:cohere.embed-v4:0", ["a", "bb", "ccc"], dimensions=256)
    assert emb.vectors == [_vector(1), _vector(2), _vector(3)]
    assert [r.path for r in server.requests] == ["/model/cohere.embed-v4%3A0/invoke"] * 3
    assert server.requests[0].json == {
        "texts": ["a"],
        "input_type": "search_document",
        "embedding_types": ["float"],
        "output_dimension": 256,
        "truncate": "NONE",
    }
    for rec in server.requests:
        assert rec.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEMBED/")
        assert "/us-east-1/bedrock/aws4_request" in rec.headers["authorization"]
    assert emb.usage.input_tokens == 0  # Cohere's count is only in a header decode_response does not see
    assert (emb.model, emb.provider) == ("cohere.embed-v4:0", "amazon-bedrock")


def test_cohere_batch_size(server: ScriptedServer) -> None:
    texts = [f"t{i}" for i in range(100)]
    emb = syc.embed("bedrock:cohere.embed-english-v3", texts, batch_size=96, input_type="search_query")
    assert len(server.requests) == 2
    assert [len(r.json["texts"]) for r in server.requests] == [96, 4]
    assert server.requests[0].json["input_type"] == "search_query"
    assert "truncate" not in server.requests[0].json  # v3: only when asked
    assert emb.vectors == [_vector(len(t)) for t in texts]


def test_titan_v2(server: ScriptedServer) -> None:
    emb = syc.embed("bedrock:amazon.titan-embed-text-v2:0", ["hello", "hi"], dimensions=256)
    assert [r.json for r in server.requests] == [
        {"inputText": "hello", "dimensions": 256, "normalize": True},
        {"inputText": "hi", "dimensions": 256, "normalize": True},
    ]
    assert emb.vectors == [_vector(5, 256), _vector(2, 256)]
    assert emb.usage.input_tokens == 6


def test_titan_v1_image_and_normalize(server: ScriptedServer) -> None:
    syc.embed("bedrock:amazon.titan-embed-text-v1", "x")
    syc.embed("bedrock:amazon.titan-embed-image-v1", "y", dimensions=384)
    syc.embed("bedrock:amazon.titan-embed-text-v2:0", "z", normalize=False)
    assert [r.json for r in server.requests] == [
        {"inputText": "x"},
        {"inputText": "y", "embeddingConfig": {"outputEmbeddingLength": 384}},
        {"inputText": "z", "normalize": False},
    ]


@pytest.mark.parametrize(
    ("model", "params", "match"),
    [
        ("amazon.titan-embed-text-v2:0", {"batch_size": 2}, "one text per request"),
        ("amazon.titan-embed-text-v2:0", {"dimensions": 300}, "256, 512 or 1024"),
        ("amazon.titan-embed-text-v1", {"dimensions": 256}, "fixed size"),
        ("cohere.embed-english-v3", {"dimensions": 256}, "Cohere v4 only"),
        ("cohere.embed-v4:0", {"input_type": "question"}, "input_type"),
        ("cohere.embed-v4:0", {"batch_size": 97}, "at most 96"),
        ("some.other-embedder", {}, "model_family"),
    ],
)
def test_refused_before_sending(server: ScriptedServer, model: str, params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParams, match=match):
        syc.embed(f"bedrock:{model}", [f"t{i}" for i in range(97)] if "batch_size" in params else ["a", "b"], **params)
    assert server.requests == []


def test_model_family_for_an_arn(server: ScriptedServer) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    emb = syc.embed(f"bedrock:{arn}", ["one", "two"], model_family="cohere_v4", batch_size=10)
    assert emb.vectors == [_vector(3), _vector(3)]
    assert server.requests[0].path == "/model/" + arn.replace(":", "%3A").replace("/", "%2F") + "/invoke"


def test_async_embed(server: ScriptedServer) -> None:
    import asyncio

    async def go() -> list[list[float]]:
        emb = await syc.aembed("bedrock:amazon.titan-embed-text-v2:0", ["ab", "abc"])
        await syc.aclose()
        return emb.vectors

    assert asyncio.run(go()) == [_vector(2), _vector(3)]


def test_errors_map_by_status() -> None:
    from sycophant_py.testing import FakeClock

    with ScriptedServer() as srv, FakeClock():
        srv.add(
            Reply.json(
                {"message": "Malformed input request: expected type: String"},
                status=400,
                headers={"x-amzn-errortype": "ValidationException:http://internal"},
            )
        )
        syc.configure(providers={"amazon-bedrock": {**CREDS, "base_url": srv.url}})
        with pytest.raises(syc.BadRequest, match="Malformed input request") as info:
            syc.embed("bedrock:cohere.embed-v4:0", "x")
    assert info.value.status_code == 400
    assert info.value.body == {"message": "Malformed input request: expected type: String"}


def _model(model_id: str) -> ModelInfo:
    return ModelInfo(provider="amazon-bedrock", id=model_id, api="bedrock_converse")


def test_pure_decode_and_families() -> None:
    p = BedrockEmbed()
    plain = p.decode_response(
        {
            "embeddings": [[1, 2], [3, 4]],
            "response_type": "embeddings_floats",
            "meta": {"billed_units": {"input_tokens": 7}},
        }
    )
    assert (plain.vectors, plain.usage.input_tokens) == ([[1.0, 2.0], [3.0, 4.0]], 7)
    assert family_of("us.cohere.embed-v4:0") == "cohere_v4"
    assert family_of("cohere.embed-multilingual-v3") == "cohere_v3"
    assert family_of("amazon.titan-embed-g1-text-02") == "titan_v1"
    assert BedrockEmbed.max_batch_for(_model("cohere.embed-v4:0")) == 96
    assert BedrockEmbed.max_batch_for(_model("amazon.titan-embed-text-v2:0")) == 1
    assert BedrockEmbed.max_batch == 1
    body = p.encode_request(EmbeddingRequest(_model("cohere.embed-v4:0"), ["x"], {"truncate": "END"}))
    assert json.loads(json.dumps(body))["truncate"] == "END"
