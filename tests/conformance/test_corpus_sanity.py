"""Sanity checks of the conformance corpus loader and of the request-schema validators."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.spec_validation import (
    validate_ollama_chat_request,
    validate_ollama_embed_request,
    validate_openai_chat_request,
    validate_openai_embedding_request,
    validate_openai_responses_request,
)

from .corpus import (
    EDGE_ERROR_EVENT,
    EDGE_NO_FINISH_REASON,
    ChatInteraction,
    Expected,
    chat_interactions,
    edge_counts,
    error_interactions,
    iter_sse_data,
    reference_walk,
    summary,
)

# Providers whose recorded requests use their own dialect on top of Chat Completions (Mistral's native
# tool format and ``tool_choice: "any"``, Hugging Face's ``name: null``, OpenRouter server tools and
# ``video_url``, Groq ``service_tier: "on_demand"``): the OpenAI spec legitimately refuses some of them.
DIALECT_PROVIDERS = frozenset({"mistral", "huggingface", "openrouter", "groq"})
DIALECT_FAILURES = {"groq": 3, "huggingface": 9, "mistral": 36, "openrouter": 8}


def _with_request(items: list[ChatInteraction]) -> list[ChatInteraction]:
    return [item for item in items if item.request_body is not None]


def _expected(item: ChatInteraction) -> Expected:
    assert item.expected is not None, item.id
    return item.expected


OPENAI_DIALECT_REQUESTS = [
    item for item in _with_request(chat_interactions()) if item.provider not in DIALECT_PROVIDERS
]


# --------------------------------------------------------------------------------------------------
# Corpus loader
# --------------------------------------------------------------------------------------------------


def test_corpus_size_per_source() -> None:
    items = chat_interactions()
    per_source = Counter(item.source for item in items)
    assert len(items) >= 543
    assert per_source["sycophant"] >= 49
    assert per_source["pydantic-ai"] >= 459
    assert per_source["vercel-ai"] >= 35
    assert sum(item.streamed for item in items) >= 95
    assert len({item.id for item in items}) == len(items), "ids must be unique"


def test_summary_covers_the_main_providers() -> None:
    counts = summary()
    providers = {provider for (_, provider, _) in counts}
    assert {
        "openai",
        "azure",
        "github_copilot",
        "groq",
        "openrouter",
        "mistral",
        "deepseek",
        "xai",
    } <= providers
    assert counts[("pydantic-ai", "openai", True)] >= 48
    assert counts[("pydantic-ai", "openai", False)] >= 170
    assert sum(counts.values()) == len(chat_interactions())


def test_no_foreign_apis_leaked_in() -> None:
    for item in chat_interactions():
        if item.url is not None:
            assert item.url.split("?")[0].rstrip("/").endswith("/chat/completions"), item.id
        if item.streamed:
            assert b"response.created" not in item.body, item.id
            assert b"message_start" not in item.body, item.id


def test_bodies_decode() -> None:
    for item in chat_interactions():
        if item.streamed:
            events = list(iter_sse_data(item.body))
            assert events, item.id
            assert all(data == "[DONE]" or isinstance(json.loads(data), dict) for _, data in events), item.id
        else:
            assert isinstance(item.json_body(), dict), item.id


def test_expected_values_are_non_trivial() -> None:
    ok = [item for item in chat_interactions() if item.expected is not None]
    streams = [item for item in ok if item.streamed]
    plain = [item for item in ok if not item.streamed]

    def count(items: list[ChatInteraction], attr: str) -> int:
        return sum(1 for item in items if getattr(item.expected, attr))

    assert count(streams, "tool_calls") >= 46
    assert count(streams, "text") >= 48
    assert count(streams, "reasoning") >= 21
    assert count(streams, "usage") >= 92
    assert count(plain, "tool_calls") >= 151
    assert count(plain, "reasoning") >= 75
    assert sum(1 for item in streams if len(_expected(item).tool_calls) > 1) >= 11
    finish = Counter(_expected(item).finish_reason for item in ok)
    assert finish["stop"] >= 314
    assert finish["tool_calls"] >= 195
    assert finish["length"] >= 9
    assert finish[""] == 7  # Snowflake non-streamed responses say finish_reason ""
    for item in ok:
        assert "tool_arguments_invalid_json" not in item.quirks, item.id
        for name, arguments in _expected(item).tool_calls:
            assert name, item.id
            assert isinstance(arguments, dict), item.id


def test_edge_cases_are_marked() -> None:
    assert edge_counts() == {EDGE_ERROR_EVENT: 3, EDGE_NO_FINISH_REASON: 2}
    by_id = {item.id: item for item in chat_interactions() if item.edge is not None}
    snowflake = [item for item in by_id.values() if item.edge == EDGE_NO_FINISH_REASON]
    assert {item.provider for item in snowflake} == {"snowflake"}
    assert all(item.expected is not None and item.expected.text for item in snowflake)
    errors = [item for item in by_id.values() if item.edge == EDGE_ERROR_EVENT]
    assert Counter(item.provider for item in errors) == {"groq": 2, "openrouter": 1}
    for item in errors:
        assert item.status == 200
        assert item.streamed
        assert item.expected is not None
        if item.provider == "groq":  # ends with ``event: error`` and no [DONE]
            assert b"event: error" in item.body
            assert b"[DONE]" not in item.body
            assert item.expected.finish_reason is None
        else:  # OpenRouter: finish_reason "length", then a chunk with ``error``, then [DONE]
            assert item.expected.finish_reason == "length"


def test_error_interactions() -> None:
    errors = error_interactions()
    assert len(errors) >= 14
    assert Counter(item.status for item in errors) >= Counter({400: 8, 404: 3, 429: 3})
    for item in errors:
        assert item.expected is None
        assert not item.streamed
        error = item.json_body()["error"]
        assert error["message"], item.id


@pytest.mark.parametrize(
    ("ident", "text", "tool_calls", "finish_reason"),
    [
        ("sycophant/github_copilot/gpt-5.4/streams_text.json#0", "hello", [], "stop"),
        (
            "vercel-ai/packages/openai-compatible/src/chat/__fixtures__/anthropic-fallback-tool-call.sse#0",
            "Reading it.",
            [("read_file", {"path": "a.txt"})],  # tool call index starts at 1 in this stream
            "tool_calls",
        ),
        (
            "vercel-ai/packages/mistral/src/__fixtures__/mistral-incremental-tool-call.chunks.txt#0",
            "",
            [("webSearchTool", {"query": "current Berlin weather"})],
            "tool_calls",
        ),
        ("vercel-ai/packages/mistral/src/__fixtures__/mistral-reasoning.json#0", "2 + 2 = 4", [], "stop"),
    ],
)
def test_reference_walk_spot_checks(
    ident: str, text: str, tool_calls: list[tuple[str, dict[str, Any]]], finish_reason: str
) -> None:
    item = {item.id: item for item in chat_interactions()}[ident]
    assert item.expected is not None
    assert (item.expected.text, item.expected.tool_calls, item.expected.finish_reason) == (
        text,
        tool_calls,
        finish_reason,
    )


def test_reference_walk_merges_fragments_by_index() -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"reasoning_content": "think"}}]},
        {"choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}},
                            {"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}},
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
    ]
    body = "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks).encode() + b"data: [DONE]\r\n\r\n"
    expected, edge, quirks = reference_walk(True, body)
    assert edge is None
    assert expected.text == "Hi"
    assert expected.reasoning == "think"
    assert expected.tool_calls == [("f", {"x": 1}), ("g", {})]
    assert expected.finish_reason == "tool_calls"
    assert expected.usage == {"prompt_tokens": 3, "completion_tokens": 2}
    assert "usage_only_chunk" in quirks


# --------------------------------------------------------------------------------------------------
# Request validators
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", OPENAI_DIALECT_REQUESTS, ids=lambda item: item.id)
def test_recorded_chat_requests_match_openai_spec(item: ChatInteraction) -> None:
    assert item.request_body is not None
    validate_openai_chat_request(item.request_body)


def test_recorded_openai_requests_are_all_covered() -> None:
    hosted = [item for item in OPENAI_DIALECT_REQUESTS if item.url and "api.openai.com" in item.url]
    assert len(hosted) >= 232  # 218 pydantic-ai + 14 sycophant, 0 false positives


def test_dialect_requests_fail_only_where_measured() -> None:
    failures: Counter[str] = Counter()
    for item in _with_request(chat_interactions()):
        if item.provider not in DIALECT_PROVIDERS:
            continue
        assert item.request_body is not None
        try:
            validate_openai_chat_request(item.request_body)
        except AssertionError:
            failures[item.provider] += 1
    assert dict(failures) == DIALECT_FAILURES


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "temperature": "hot"},
            "temperature",
        ),
        ({"model": "gpt-4o-mini"}, "'messages' is a required property"),
        ({"model": "gpt-4o-mini", "messages": [{"role": "robot", "content": "Hi"}]}, "messages/0"),
        ({"model": "gpt-4o-mini", "messages": [], "n": "two"}, "n:"),
    ],
)
def test_openai_chat_validator_rejects_bad_bodies(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(AssertionError, match="does not match the spec") as info:
        validate_openai_chat_request(body)
    assert fragment in str(info.value)


def test_openai_chat_validator_accepts_nullable_fields() -> None:
    validate_openai_chat_request(
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_completion_tokens": None,
            "temperature": None,
            "stream_options": None,
        }
    )


def test_openai_embedding_and_responses_validators() -> None:
    validate_openai_embedding_request({"model": "text-embedding-3-small", "input": ["a", "b"]})
    validate_openai_embedding_request({"model": "text-embedding-3-small", "input": "a", "dimensions": 256})
    validate_openai_responses_request({"model": "gpt-5-nano", "input": [{"role": "user", "content": "Hi"}]})
    with pytest.raises(AssertionError, match="input"):
        validate_openai_embedding_request({"model": "text-embedding-3-small"})
    with pytest.raises(AssertionError, match="temperature"):
        validate_openai_responses_request({"model": "gpt-5-nano", "input": "Hi", "temperature": "hot"})


# Request bodies copied by hand from ../shared/specs/ollama/api.md ("Generate a chat completion" and
# "Generate Embeddings" examples; the ``//`` comments of the history-with-tools example removed).
_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a given city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city to get the weather for"}},
            "required": ["city"],
        },
    },
}
OLLAMA_CHAT_EXAMPLES: list[dict[str, Any]] = [
    {"model": "llama3.2", "messages": [{"role": "user", "content": "why is the sky blue?"}]},
    {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "what is the weather in tokyo?"}],
        "tools": [_WEATHER_TOOL],
        "stream": True,
    },
    {
        "model": "llama3.1",
        "messages": [{"role": "user", "content": "Ollama is 22 years old and busy saving the world."}],
        "stream": False,
        "format": {
            "type": "object",
            "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
            "required": ["age", "available"],
        },
        "options": {"temperature": 0},
    },
    {
        "model": "llama3.2",
        "messages": [
            {"role": "user", "content": "what is the weather in Toronto?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}}],
            },
            {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"},
        ],
        "stream": False,
        "tools": [_WEATHER_TOOL],
    },
]
OLLAMA_EMBED_EXAMPLES: list[dict[str, Any]] = [
    {"model": "all-minilm", "input": "Why is the sky blue?"},
    {"model": "all-minilm", "input": ["Why is the sky blue?", "Why is the grass green?"]},
]


@pytest.mark.parametrize("body", OLLAMA_CHAT_EXAMPLES)
def test_ollama_chat_validator_accepts_documented_examples(body: dict[str, Any]) -> None:
    validate_ollama_chat_request(body)


@pytest.mark.parametrize("body", OLLAMA_EMBED_EXAMPLES)
def test_ollama_embed_validator_accepts_documented_examples(body: dict[str, Any]) -> None:
    validate_ollama_embed_request(body)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "'model' is a required property"),
        ({"model": "llama3.2", "messages": [{"role": "robot", "content": "hi"}]}, "messages/0/role"),
        ({"model": "llama3.2", "messages": [{"role": "user"}]}, "'content' is a required property"),
        ({"model": "llama3.2", "messages": [], "think": "extreme"}, "think"),
        ({"model": "llama3.2", "messages": [], "options": {"temperature": "hot"}}, "options/temperature"),
    ],
)
def test_ollama_chat_validator_rejects_bad_bodies(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(AssertionError, match="does not match the spec") as info:
        validate_ollama_chat_request(body)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "all-minilm"},
        {"model": "all-minilm", "input": 42},
        {"model": "all-minilm", "input": "a", "truncate": "yes"},
    ],
)
def test_ollama_embed_validator_rejects_bad_bodies(body: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="Ollama embed request"):
        validate_ollama_embed_request(body)
