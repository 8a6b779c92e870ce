"""Embedding decoders on bodies of the wrong shape, and on the odd but valid ones servers send.

Every ``decode_response`` raises ``ResponseInvalid`` carrying the body (and the provider's own
message when it has one) instead of a raw ``AttributeError`` / ``TypeError`` or an empty answer.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from sycophant_py._exceptions import ResponseInvalid
from sycophant_py.wire._base import EmbeddingWireProtocol
from sycophant_py.wire.bedrock_embed import BedrockEmbed
from sycophant_py.wire.google_embed import GoogleEmbed
from sycophant_py.wire.openai_embed import OpenAIEmbed

CASES: list[tuple[EmbeddingWireProtocol, Any, str | None]] = [
    (OpenAIEmbed(), {"detail": "Not Found"}, "Not Found"),
    (OpenAIEmbed(), {"error": {"message": "input too long", "type": "invalid_request_error"}}, "input too long"),
    (OpenAIEmbed(), [{"embedding": [0.1]}], None),
    (OpenAIEmbed(), {"data": {"embedding": [0.1]}}, None),
    (OpenAIEmbed(), {"data": [[0.1, 0.2]]}, None),
    (OpenAIEmbed(), {"data": [{"index": 0, "embedding": None}]}, None),
    (OpenAIEmbed(), {"data": [{"index": 0, "embedding": [0.1, "x"]}]}, None),
    (OpenAIEmbed(), {"data": [{"index": 0, "embedding": "not base64!"}]}, None),
    (GoogleEmbed(), {"message": "quota"}, "quota"),
    (GoogleEmbed(), {"embedding": {"values": "0.1"}}, None),
    (GoogleEmbed(), {"embeddings": [{"values": [0.1, None]}]}, None),
    (GoogleEmbed(), "Service Unavailable", "Service Unavailable"),
    (BedrockEmbed(), {"message": "Malformed input request"}, "Malformed input request"),
    (BedrockEmbed(), {"Message": "Internal"}, "Internal"),
    (BedrockEmbed(), ["x"], None),
    (BedrockEmbed(), {"embedding": "0.1"}, None),
    (BedrockEmbed(), {"embeddings": {"int8": [[1, 2]]}}, None),
]


@pytest.mark.parametrize(
    ("proto", "body", "said"), CASES, ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)]
)
def test_wrong_shapes_raise_response_invalid(proto: EmbeddingWireProtocol, body: Any, said: str | None) -> None:
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_response(body)
    assert info.value.body == body
    assert str(info.value).startswith(f"{proto.name}: the response has")
    if said:
        assert f"the provider said: {said}" in str(info.value)


def test_openai_items_go_by_their_index_and_missing_ones_by_their_place() -> None:
    body = {
        "data": [
            {"index": 2, "embedding": [2.0]},
            {"index": 0, "embedding": [0.0]},
            {"index": 1, "embedding": [1.0]},
        ],
        "usage": {"prompt_tokens": "6", "total_tokens": 6},
    }
    resp = OpenAIEmbed().decode_response(body)
    assert resp.vectors == [[0.0], [1.0], [2.0]]
    assert resp.usage.input_tokens == 6
    no_index = OpenAIEmbed().decode_response({"data": [{"embedding": [5]}, {"embedding": [6]}], "usage": None})
    assert (no_index.vectors, no_index.usage.input_tokens) == ([[5.0], [6.0]], 0)


def test_openai_base64_vectors_and_total_when_prompt_is_missing() -> None:
    raw = base64.b64encode(struct.pack("<2f", 0.5, -1.0)).decode()
    resp = OpenAIEmbed().decode_response({"data": [{"index": 0, "embedding": raw}], "usage": {"total_tokens": 3}})
    assert resp.vectors == [[0.5, -1.0]]
    assert resp.usage.input_tokens == 3


def test_bedrock_cohere_counts_with_odd_types() -> None:
    resp = BedrockEmbed().decode_response({"embeddings": {"float": [[1, 2]]}, "meta": {"billed_units": None}})
    assert (resp.vectors, resp.usage.input_tokens) == ([[1.0, 2.0]], 0)
    titan = BedrockEmbed().decode_response({"embedding": [0.5], "inputTextTokenCount": "4"})
    assert (titan.vectors, titan.usage.input_tokens) == ([[0.5]], 4)
