"""The ``google_embed`` embedding protocol, end to end through ``syc.embed`` against a scripted server.

One input goes to ``:embedContent``, several to ``:batchEmbedContents`` (100 per request at most);
every body sent is parsed by the official protos.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._exceptions import ResponseInvalid
from sycophant_py._models import ModelInfo
from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer
from sycophant_py.wire._base import EmbeddingRequest
from sycophant_py.wire.google_embed import GoogleEmbed, GoogleEmbedParams, task_type_of
from tests.contract.dialects.google_gemini import validate_gemini_request

MODEL = "google:text-embedding-004"
PATH = "/v1beta/models/text-embedding-004"


def _vector(text: str) -> list[float]:
    return [float(len(text)), 0.5, -1.0]


def _answer(rec: RecordedRequest) -> Reply:
    """Answer like the Gemini API: one vector per text, derived from the text so the order shows."""
    body = rec.json
    if rec.path == f"{PATH}:embedContent":
        validate_gemini_request(body, "embed", model="models/text-embedding-004")
        return Reply.json({"embedding": {"values": _vector(body["content"]["parts"][0]["text"])}})
    if rec.path == f"{PATH}:batchEmbedContents":
        validate_gemini_request(body, "batch_embed")
        texts = [r["content"]["parts"][0]["text"] for r in body["requests"]]
        return Reply.json(
            {"embeddings": [{"values": _vector(t)} for t in texts], "usageMetadata": {"promptTokenCount": len(texts)}}
        )
    return Reply.json({"error": {"code": 404, "message": f"no route {rec.path}", "status": "NOT_FOUND"}}, status=404)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(handler=_answer) as srv:
        syc.configure(
            custom_providers={"google": {"base_url": srv.url + "/v1beta"}}, providers={"google": {"api_key": "k"}}
        )
        yield srv
        syc.close()


def test_one_input_uses_embed_content(server: ScriptedServer) -> None:
    emb = syc.embed(MODEL, ["hello"])
    assert emb.vectors == [_vector("hello")]
    assert (emb.provider, emb.model) == ("google", "text-embedding-004")
    (rec,) = server.requests
    assert rec.path == f"{PATH}:embedContent"
    assert rec.headers["x-goog-api-key"] == "k"
    assert rec.json == {"content": {"parts": [{"text": "hello"}]}}


def test_several_inputs_use_batch_embed_contents(server: ScriptedServer) -> None:
    emb = syc.embed(MODEL, ["a", "bb", "ccc"], dimensions=256, input_type="query")
    assert emb.vectors == [_vector("a"), _vector("bb"), _vector("ccc")]
    assert emb.usage.input_tokens == 3
    (rec,) = server.requests
    assert rec.path == f"{PATH}:batchEmbedContents"
    assert rec.json == {
        "requests": [
            {
                "model": "models/text-embedding-004",
                "content": {"parts": [{"text": t}]},
                "taskType": "RETRIEVAL_QUERY",
                "outputDimensionality": 256,
            }
            for t in ("a", "bb", "ccc")
        ]
    }


def test_large_calls_are_split_in_batches_of_100(server: ScriptedServer) -> None:
    texts = [f"text {i}" + "x" * (i % 7) for i in range(201)]
    emb = syc.embed(MODEL, texts)
    assert emb.vectors == [_vector(t) for t in texts]
    assert [r.path.rsplit(":", 1)[1] for r in server.requests] == [
        "batchEmbedContents",
        "batchEmbedContents",
        "embedContent",
    ]
    assert [len(r.json.get("requests", [None])) for r in server.requests] == [100, 100, 1]
    assert emb.usage.input_tokens == 200


def test_task_type_and_title(server: ScriptedServer) -> None:
    syc.embed(MODEL, "doc", task_type="retrieval_document", title="Greeting")
    assert server.requests[-1].json == {
        "content": {"parts": [{"text": "doc"}]},
        "taskType": "RETRIEVAL_DOCUMENT",
        "title": "Greeting",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, None),
        ({"input_type": "query"}, "RETRIEVAL_QUERY"),
        ({"input_type": "document"}, "RETRIEVAL_DOCUMENT"),
        ({"input_type": "clustering"}, "CLUSTERING"),
        ({"input_type": "code_retrieval_query"}, "CODE_RETRIEVAL_QUERY"),
        ({"input_type": "semantic_similarity", "task_type": "classification"}, "CLASSIFICATION"),
    ],
)
def test_task_type_of(params: dict[str, Any], expected: str | None) -> None:
    assert task_type_of(params) == expected


def test_async_twin(server: ScriptedServer) -> None:
    async def run() -> list[list[float]]:
        emb = await syc.aembed(MODEL, ["x", "yy"])
        await syc.aclose()
        return emb.vectors

    assert asyncio.run(run()) == [_vector("x"), _vector("yy")]


def test_errors_map_to_the_exception_tree(server: ScriptedServer) -> None:
    with pytest.raises(syc.NotFound) as info:
        syc.embed("google:nope", ["a"])
    assert "no route" in str(info.value)
    assert info.value.status_code == 404


def test_protocol_surface_and_bad_bodies() -> None:
    proto = GoogleEmbed()
    model = ModelInfo(provider="google", id="tunedModels/emb", api="google_gemini")
    assert (proto.name, proto.max_batch, proto.param_schema()) == ("google_embed", 100, GoogleEmbedParams)
    assert proto.request_path(EmbeddingRequest(model, ["a"])) == "/{model}:embedContent"
    assert proto.encode_request(EmbeddingRequest(model, ["a", "b"]))["requests"][0]["model"] == "tunedModels/emb"
    bad: Any
    for bad in ({}, {"embedding": {}}, {"embeddings": [{"values": "x"}]}, [1]):
        with pytest.raises(ResponseInvalid):
            proto.decode_response(bad)
    assert proto.decode_error(404, {"error": {"code": 404, "message": "gone", "status": "NOT_FOUND"}}) == (
        "gone",
        "NOT_FOUND",
    )
    assert proto.decode_error(500, "plain") == ("plain", None)
