"""The ``anthropic_messages`` wire protocol and the ``anthropic`` auth strategy.

Pure encode / decode / stream tests first (every encoded body is validated with the official SDK's
``MessageCreateParams``), then a few calls through the public API against a scripted server.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import (
    AuthenticationFailed,
    BadRequest,
    InvalidMessage,
    NotFound,
    Overloaded,
    RateLimited,
    ResponseInvalid,
    ServerError,
    StreamError,
    Timeout,
    UnsupportedInput,
)
from sycophant_py._models import ModelInfo
from sycophant_py._params import validate_params
from sycophant_py._sse import SSEDecoder
from sycophant_py._types import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
)
from sycophant_py.auth._base import Credentials, HttpRequest
from sycophant_py.auth.anthropic import AnthropicAuth, split_betas
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire._base import Request, StreamContinue, StreamDone, StreamFailed, StreamResult
from sycophant_py.wire.anthropic_messages import ANTHROPIC_VERSION, AnthropicMessages, AnthropicParams
from sycophant_py.wire.anthropic_messages.encode import tool_id
from tests.contract.dialects.anthropic_messages import validate_request

proto = AnthropicMessages()
MODEL = ModelInfo(
    provider="anthropic", id="claude-test", api="anthropic_messages", base_url="https://api.anthropic.com"
)
CAPPED = ModelInfo(provider="anthropic", id="claude-small", api="anthropic_messages", max_tokens=8192)
PNG = b"\x89PNG\r\n\x1a\nfake"
PDF = b"%PDF-1.4 fake"
WEATHER = Tool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def encode(
    messages: Sequence[Message],
    *,
    params: dict[str, Any] | None = None,
    tools: Sequence[Tool] = (),
    stream: bool = False,
    schema: dict[str, Any] | None = None,
    schema_name: str = "response",
    model: ModelInfo = MODEL,
) -> dict[str, Any]:
    """Validate params as the pipeline does, encode, and validate the body with the official types."""
    validated, dropped = validate_params(AnthropicParams, params or {})
    assert not dropped
    body = proto.encode_request(Request(model, list(messages), validated, list(tools), stream, schema, schema_name))
    validate_request(body)
    return body


# --------------------------------------------------------------------------------------------------
# URL, path, headers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base",
    [
        "https://api.anthropic.com",
        "https://api.anthropic.com/",
        "https://api.anthropic.com/v1",
        "https://api.anthropic.com/v1/",
    ],
)
def test_base_url_is_the_bare_host(base: str) -> None:
    assert proto.resolve_base_url(base) == "https://api.anthropic.com"
    assert proto.request_path(Request(MODEL, [])) == "/v1/messages"


def test_proxy_prefix_is_kept() -> None:
    assert proto.resolve_base_url("http://127.0.0.1:8080/anthropic") == "http://127.0.0.1:8080/anthropic"


def test_request_headers_from_the_beta_param() -> None:
    params, _ = validate_params(AnthropicParams, {"anthropic_beta": ["a-1", "b-2", "a-1"]})
    version = {"anthropic-version": ANTHROPIC_VERSION}  # the protocol's own header, whatever the auth
    assert proto.request_headers(Request(MODEL, [], params)) == {**version, "anthropic-beta": "a-1,b-2"}
    assert proto.request_headers(Request(MODEL, [])) == version
    pinned = dataclasses.replace(MODEL, headers={"Anthropic-Version": "2099-01-01"})
    assert proto.request_headers(Request(pinned, [])) == {}  # a provider's own version header wins


# --------------------------------------------------------------------------------------------------
# Encoding: messages
# --------------------------------------------------------------------------------------------------


def test_plain_text_and_defaults() -> None:
    body = encode([Message.user("Hi")])
    assert body == {"model": "claude-test", "max_tokens": 4096, "messages": [{"role": "user", "content": "Hi"}]}


def test_max_tokens_caller_then_catalog_then_default() -> None:
    assert encode([Message.user("Hi")], model=CAPPED)["max_tokens"] == 8192
    assert encode([Message.user("Hi")], model=CAPPED, params={"max_tokens": 99})["max_tokens"] == 99
    assert encode([Message.user("Hi")])["max_tokens"] == 4096


def test_system_prompt_string_blocks_and_cache() -> None:
    assert encode([Message.system("Be brief."), Message.user("Hi")])["system"] == "Be brief."
    cached = encode([Message.system("Long rules", cache=True), Message.user("Hi")])
    assert cached["system"] == [{"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}]
    # Several system messages, one in the middle of the conversation: all go to the top-level system.
    body = encode([Message.system("A"), Message.user("Hi"), Message.system("B"), Message.user("More")])
    assert body["system"] == [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "More"}]}
    ]
    assert "system" not in encode([Message.system(""), Message.user("Hi")])


def test_user_images_and_documents() -> None:
    msg = Message.user(
        [
            "Look:",
            ImagePart(data=PNG, media_type="image/png"),
            ImagePart(url="https://example.com/cat.jpg"),
            DocumentPart(data=PDF, name="report.pdf"),
            DocumentPart(url="https://example.com/paper.pdf"),
            DocumentPart(data=b"plain words", media_type="text/plain"),
        ]
    )
    content = encode([msg])["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "Look:"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(PDF).decode()},
            "title": "report.pdf",
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/paper.pdf"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
    ]


def test_data_url_image_is_sent_as_base64() -> None:
    url = "data:image/jpeg;base64," + base64.b64encode(b"jpg").decode()
    block = encode([Message.user([ImagePart(url=url)])])["messages"][0]["content"][0]
    assert block["source"] == {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(b"jpg").decode()}


@pytest.mark.parametrize(
    ("part", "error"),
    [
        (DocumentPart(data=b"x", media_type="application/msword"), UnsupportedInput),
        (AudioPart(b"RIFF\x00\x00\x00\x00WAVEfmt "), UnsupportedInput),
        (ThinkingPart("hm"), InvalidMessage),
        (ToolCall("t1", "f"), InvalidMessage),
    ],
)
def test_user_parts_the_api_cannot_take(part: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        proto.encode_request(Request(MODEL, [Message.user([part])]))


def test_empty_text_and_empty_turns_are_left_out() -> None:
    body = encode([Message.user(["", "Hi"]), Message.assistant(""), Message.user("again")])
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "again"}]}
    ]


def _tool_turns() -> list[Message]:
    calls = [
        ToolCall("toolu_01", "get_weather", {"city": "Paris"}),
        ToolCall("toolu_02", "get_weather", {"city": "Oslo"}),
    ]
    return [
        Message.user("Weather?"),
        Message.assistant("Checking.", tool_calls=calls),
        Message.tool_result("toolu_01", "sunny", name="get_weather"),
        Message.tool_result("toolu_02", "boom", name="get_weather", is_error=True),
    ]


def test_tool_calls_and_results_merge_into_one_user_turn() -> None:
    body = encode([*_tool_turns(), Message.user("Thanks")], tools=[WEATHER])
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": "boom", "is_error": True},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]


def test_multimodal_tool_result() -> None:
    msgs = [
        Message.user("Draw"),
        Message.assistant(tool_calls=[ToolCall("toolu_9", "draw")]),
        Message.tool_result("toolu_9", ["here:", ImagePart(data=PNG)]),
    ]
    result = encode(msgs)["messages"][-1]["content"][0]
    assert result["content"] == [
        {"type": "text", "text": "here:"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
        },
    ]
    empty = encode([*msgs[:2], Message.tool_result("toolu_9", "")])["messages"][-1]["content"][0]
    assert empty == {"type": "tool_result", "tool_use_id": "toolu_9"}


def test_a_call_without_result_gets_a_synthetic_error_result() -> None:
    msgs = [
        Message.user("Go"),
        Message.assistant(tool_calls=[ToolCall("toolu_1", "f"), ToolCall("toolu_2", "g")]),
        Message.tool_result("toolu_1", "ok"),
        Message.user("Never mind"),
    ]
    last = encode(msgs)["messages"][-1]["content"]
    assert [b["type"] for b in last] == ["tool_result", "tool_result", "text"]
    assert last[1]["tool_use_id"] == "toolu_2"
    assert last[1]["is_error"] is True
    trailing = encode(msgs[:2])["messages"][-1]
    assert trailing["role"] == "user"
    assert {b["tool_use_id"] for b in trailing["content"]} == {"toolu_1", "toolu_2"}


@pytest.mark.parametrize("raw", ["call_abc|fc_123", "call.with.dots", "", "x" * 80, "ok_id-1"])
def test_tool_ids_are_rewritten_stably(raw: str) -> None:
    new = tool_id(raw)
    assert new == tool_id(raw)
    assert new.replace("_", "a").replace("-", "a").isalnum()
    assert len(new) <= 64
    if raw == "ok_id-1":
        assert new == raw
    msgs = [Message.user("Go"), Message.assistant(tool_calls=[ToolCall(raw, "f")]), Message.tool_result(raw, "ok")]
    body = encode(msgs)
    assert body["messages"][1]["content"][0]["id"] == body["messages"][2]["content"][0]["tool_use_id"] == new
    assert tool_id("a|b") != tool_id("a.b")  # distinct ids stay distinct


def test_cache_marks_the_last_block_of_a_message() -> None:
    body = encode([Message.user("Long document", cache=True), Message.assistant("ok"), Message.user("Q")])
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Long document", "cache_control": {"type": "ephemeral"}}
    ]
    thinking = ThinkingPart("hm", "sig", provider="anthropic")
    msgs = [Message.user("Q"), Message("assistant", (TextPart("A"), thinking), cache=True), Message.user("Q2")]
    blocks = encode(msgs)["messages"][1]["content"]
    assert blocks[0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in blocks[1]
    results = encode([*_tool_turns()[:2], Message("tool_result", "r", tool_call_id="toolu_01", cache=True)])
    assert results["messages"][-1]["content"][0]["cache_control"] == {"type": "ephemeral"}


# --------------------------------------------------------------------------------------------------
# Encoding: thinking replay
# --------------------------------------------------------------------------------------------------


def _assistant_blocks(part: ThinkingPart, model: ModelInfo = MODEL) -> list[dict[str, Any]]:
    msgs = [Message.user("Q"), Message.assistant([part, "Answer"]), Message.user("Q2")]
    content = encode(msgs, model=model)["messages"][1]["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def test_signed_thinking_from_anthropic_is_replayed_natively() -> None:
    blocks = _assistant_blocks(ThinkingPart("I think", "sig==", provider="anthropic"))
    assert blocks[0] == {"type": "thinking", "thinking": "I think", "signature": "sig=="}
    redacted = _assistant_blocks(ThinkingPart("", "opaque", redacted=True, provider="anthropic"))
    assert redacted[0] == {"type": "redacted_thinking", "data": "opaque"}


def test_thinking_from_the_same_custom_provider_is_native() -> None:
    proxy = ModelInfo(provider="my-proxy", id="claude-x", api="anthropic_messages")
    blocks = _assistant_blocks(ThinkingPart("I think", "sig", provider="my-proxy"), proxy)
    assert blocks[0]["type"] == "thinking"


def test_thinking_decoded_by_this_protocol_without_provider_is_native() -> None:
    body = {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "stop_reason": "end_turn",
        "content": [{"type": "thinking", "thinking": "T", "signature": "S"}, {"type": "text", "text": "A"}],
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    part = proto.decode_response(body).parts[0]
    assert isinstance(part, ThinkingPart)
    assert _assistant_blocks(part)[0] == {"type": "thinking", "thinking": "T", "signature": "S"}


@pytest.mark.parametrize(
    "part",
    [
        ThinkingPart("I think", "gemini-sig", provider="google"),
        ThinkingPart("I think", None, provider="anthropic"),
        ThinkingPart("I think", "opaque", provider=None),
    ],
)
def test_other_thinking_is_sent_as_text(part: ThinkingPart) -> None:
    assert _assistant_blocks(part) == [{"type": "text", "text": "I think"}, {"type": "text", "text": "Answer"}]


def test_opaque_thinking_from_elsewhere_is_dropped() -> None:
    assert _assistant_blocks(ThinkingPart("", "enc", redacted=True, provider="openai")) == [
        {"type": "text", "text": "Answer"}
    ]


# --------------------------------------------------------------------------------------------------
# Encoding: tools, params, thinking config, structured output
# --------------------------------------------------------------------------------------------------


def test_tools_and_tool_choice() -> None:
    strict = Tool("lookup", "", {"type": "object", "properties": {"q": {"type": "string"}}}, strict=True)
    body = encode([Message.user("Hi")], tools=[WEATHER, strict, Tool("noop")])
    assert body["tools"] == [
        {"name": "get_weather", "description": "Weather for a city", "input_schema": WEATHER.json_schema()},
        {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}, "strict": True},
        {"name": "noop", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in body
    assert proto.encode_tools([WEATHER]) == body["tools"][:1]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("any", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ("get_weather", None, {"type": "tool", "name": "get_weather"}),
        ({"type": "any", "disable_parallel_tool_use": True}, None, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice_mapping(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    params = {k: v for k, v in (("tool_choice", choice), ("parallel_tool_calls", parallel)) if v is not None}
    body = encode([Message.user("Hi")], tools=[WEATHER], params=params)
    assert body.get("tool_choice") == expected
    assert "tool_choice" not in encode([Message.user("Hi")], params=params)  # never without tools


def test_sampling_and_protocol_params() -> None:
    body = encode(
        [Message.user("Hi")],
        params={
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "stop": "END",
            "seed": 7,
            "user": "u-1",
            "service_tier": "standard_only",
            "extra_body": {"output_config": {"effort": "low"}},
        },
    )
    assert {
        k: body[k]
        for k in ("temperature", "top_p", "top_k", "stop_sequences", "metadata", "service_tier", "output_config")
    } == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "service_tier": "standard_only",
        "output_config": {"effort": "low"},
    }
    assert "seed" not in body
    assert encode([Message.user("Hi")], params={"stop": ["a", "b"]})["stop_sequences"] == ["a", "b"]
    assert encode([Message.user("Hi")], params={"metadata": {"user_id": "m"}})["metadata"] == {"user_id": "m"}


@pytest.mark.parametrize(
    ("params", "thinking", "max_tokens"),
    [
        ({"reasoning_budget": 2000}, {"type": "enabled", "budget_tokens": 2000}, 4096),
        ({"reasoning_budget": 100}, {"type": "enabled", "budget_tokens": 1024}, 4096),
        ({"reasoning_budget": 0}, {"type": "disabled"}, 4096),
        ({"reasoning_effort": "none"}, {"type": "disabled"}, 4096),
        ({"reasoning_effort": "minimal"}, {"type": "enabled", "budget_tokens": 1024}, 4096),
        ({"reasoning_effort": "low"}, {"type": "enabled", "budget_tokens": 2048}, 4096),
        ({"reasoning_effort": "medium"}, {"type": "enabled", "budget_tokens": 8192}, 8192 + 4096),
        ({"reasoning_effort": "high"}, {"type": "enabled", "budget_tokens": 16384}, 16384 + 4096),
        ({"reasoning_effort": "high", "reasoning_budget": 3000}, {"type": "enabled", "budget_tokens": 3000}, 4096),
        ({"reasoning_budget": 3500}, {"type": "enabled", "budget_tokens": 3500}, 3500 + 4096),
        ({"reasoning_budget": 5000, "max_tokens": 1000}, {"type": "enabled", "budget_tokens": 5000}, 6000),
        ({"reasoning_budget": 5000, "max_tokens": 9000}, {"type": "enabled", "budget_tokens": 5000}, 9000),
        ({"thinking": {"type": "adaptive"}}, {"type": "adaptive"}, 4096),
    ],
)
def test_thinking_config_and_max_tokens(params: dict[str, Any], thinking: dict[str, Any], max_tokens: int) -> None:
    body = encode([Message.user("Hi")], params=params)
    assert body["thinking"] == thinking
    assert body["max_tokens"] == max_tokens
    if thinking.get("type") == "enabled":
        assert body["max_tokens"] > body["thinking"]["budget_tokens"]


def test_budget_is_lowered_under_the_catalog_limit() -> None:
    body = encode([Message.user("Hi")], params={"reasoning_effort": "xhigh"}, model=CAPPED)
    assert body["max_tokens"] == 8192
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192 - 1024}


def test_thinking_leaves_out_sampling_the_api_refuses() -> None:
    body = encode([Message.user("Hi")], params={"reasoning_budget": 2048, "temperature": 0.2, "top_k": 5, "top_p": 0.5})
    assert not {"temperature", "top_k", "top_p"} & set(body)
    assert encode([Message.user("Hi")], params={"reasoning_budget": 2048, "top_p": 0.96})["top_p"] == 0.96


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def test_structured_output_is_a_forced_tool() -> None:
    body = encode([Message.user("Who?")], tools=[WEATHER], schema=SCHEMA, schema_name="Person")
    assert [t["name"] for t in body["tools"]] == ["get_weather", "Person"]
    assert body["tools"][1]["input_schema"] == SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": "Person"}
    fragment = proto.encode_response_schema(SCHEMA, "Person")
    assert fragment["tool_choice"] == body["tool_choice"]
    assert fragment["tools"] == body["tools"][1:]


def test_structured_output_with_thinking_is_not_forced() -> None:
    body = encode([Message.user("Who?")], schema=SCHEMA, params={"reasoning_budget": 2048})
    assert body["tool_choice"] == {"type": "auto"}


def test_stream_flag() -> None:
    assert encode([Message.user("Hi")], stream=True)["stream"] is True
    assert "stream" not in encode([Message.user("Hi")])


def test_params_are_validated() -> None:
    with pytest.raises(syc.InvalidParams):
        validate_params(AnthropicParams, {"anthropic_beta": "not-a-list"})
    _, dropped = validate_params(AnthropicParams, {"frequency_penalty": 0.1})
    assert dropped == ["frequency_penalty"]


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


def message(content: list[dict[str, Any]], stop: str | None = "end_turn", **usage: Any) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 10, "output_tokens": 5},
    }


def test_decode_text_and_usage() -> None:
    resp = proto.decode_response(
        message(
            [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}],
            input_tokens=12,
            output_tokens=30,
            cache_read_input_tokens=100,
            cache_creation_input_tokens=7,
            output_tokens_details={"thinking_tokens": 20},
        )
    )
    assert (resp.text, resp.finish_reason, resp.id, resp.model) == ("Hello", "stop", "msg_1", "claude-test")
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.reasoning_tokens) == (
        12,
        30,
        100,
        7,
        20,
    )
    assert u.total_tokens == 12 + 30 + 100 + 7
    assert resp.provider_finish_reason == "end_turn"


def test_decode_null_cache_counts() -> None:
    resp = proto.decode_response(
        message([], input_tokens=3, output_tokens=1, cache_read_input_tokens=None, cache_creation_input_tokens=None)
    )
    assert (resp.usage.cache_read_tokens, resp.usage.cache_write_tokens, resp.text) == (0, 0, "")


@pytest.mark.parametrize(
    ("stop", "has_call", "reason"),
    [
        ("end_turn", False, "stop"),
        ("stop_sequence", False, "stop"),
        ("max_tokens", False, "length"),
        ("model_context_window_exceeded", False, "length"),
        ("tool_use", True, "tool_use"),
        ("pause_turn", False, "stop"),
        ("refusal", False, "content_filter"),
        (None, False, "stop"),
        ("end_turn", True, "tool_use"),
        ("something_new", False, "stop"),
    ],
)
def test_stop_reasons(stop: str | None, has_call: bool, reason: str) -> None:
    content = [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}] if has_call else []
    resp = proto.decode_response(message(content, stop))
    assert resp.finish_reason == reason
    assert resp.provider_finish_reason == stop


def test_decode_thinking_tools_and_server_blocks() -> None:
    resp = proto.decode_response(
        message(
            [
                {"type": "thinking", "thinking": "Let me see.", "signature": "EqQB"},
                {"type": "redacted_thinking", "data": "EmwK"},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "text", "text": "Calling.", "citations": None},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris ✓"}},
            ],
            "tool_use",
        )
    )
    assert [p.kind for p in resp.parts] == ["thinking", "thinking", "text", "tool_call"]
    first, second = resp.parts[0], resp.parts[1]
    assert isinstance(first, ThinkingPart)
    assert isinstance(second, ThinkingPart)
    assert (first.text, first.signature, first.redacted) == ("Let me see.", "EqQB", False)
    assert (second.text, second.signature, second.redacted) == ("", "EmwK", True)
    assert resp.reasoning == "Let me see."
    call = resp.tool_calls[0]
    assert (call.id, call.name, dict(call.arguments)) == ("toolu_1", "get_weather", {"city": "Paris ✓"})
    assert json.loads(call.arguments_json) == {"city": "Paris ✓"}
    assert resp.finish_reason == "tool_use"


def test_decode_rejects_what_is_not_a_message() -> None:
    with pytest.raises(ResponseInvalid):
        proto.decode_response([1, 2])
    with pytest.raises(ResponseInvalid):
        proto.decode_response({"type": "message"})
    with pytest.raises(Overloaded) as info:
        proto.decode_response({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert info.value.status_code == 529


def test_decode_error_body() -> None:
    body = {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model: claude-nope"},
        "request_id": "req_1",
    }
    assert proto.decode_error(404, body) == ("model: claude-nope", "not_found_error")
    assert proto.decode_error(502, "<html>bad gateway</html>") == ("<html>bad gateway</html>", None)
    assert proto.decode_error(500, {"message": "flat"}) == ("flat", None)
    assert proto.decode_error(500, None)[0]


# --------------------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------------------


def sse(*events: dict[str, Any]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events).encode()


def start(msg_id: str = "msg_s", **usage: Any) -> dict[str, Any]:
    u = usage or {"input_tokens": 25, "output_tokens": 1}
    return {
        "type": "message_start",
        "message": {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "usage": u,
        },
    }


def block(index: int, content_block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content_block}


def delta(index: int, **d: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(reason: str = "end_turn", **usage: Any) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": usage or {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]


def run(body: bytes, chunk: int | None = None) -> tuple[list[StreamEvent], StreamResult]:
    """Feed a body through SSEDecoder + decode_stream_chunk (``chunk`` bytes at a time), as the pipeline does."""
    state = proto.init_stream()
    dec = SSEDecoder()
    state.start()  # as StreamCore.begin() does once the provider accepted the request
    events: list[StreamEvent] = state.drain()
    pieces = [body] if not chunk else [body[i : i + chunk] for i in range(0, len(body), chunk)]
    frames = [f for p in pieces for f in dec.feed(p)] + dec.flush()
    for frame in frames:
        result = proto.decode_stream_chunk(state, frame)
        events += result.events
        if not isinstance(result, StreamContinue):
            return events, result
        state = result.state
    final = proto.end_of_stream(state)
    return events + final.events, final


def text_stream() -> bytes:
    return sse(
        start(input_tokens=25, cache_read_input_tokens=11, cache_creation_input_tokens=4, output_tokens=1),
        block(0, {"type": "text", "text": ""}),
        {"type": "ping"},
        delta(0, type="text_delta", text="Hel"),
        delta(0, type="text_delta", text="lo, wörld ✓"),
        stop(0),
        *end(output_tokens=9),
    )


@pytest.mark.parametrize("chunk", [None, 1, 2, 7, 64])
def test_text_stream_any_split(chunk: int | None) -> None:
    events, result = run(text_stream(), chunk)
    assert isinstance(result, StreamDone)
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_delta", "text_end", "done"]
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hel", "lo, wörld ✓"]
    resp = result.response
    assert (resp.text, resp.finish_reason, resp.id, resp.model) == ("Hello, wörld ✓", "stop", "msg_s", "claude-test")
    # Per-field merge: message_delta gave only output_tokens; input and cache counts stay from message_start.
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (25, 9, 11, 4)


def test_message_delta_fields_replace_earlier_values() -> None:
    body = sse(
        start(input_tokens=43, output_tokens=1, cache_read_input_tokens=5),
        block(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="pong"),
        stop(0),
        *end(input_tokens=61, output_tokens=2, cache_read_input_tokens=None),
    )
    _, result = run(body)
    assert isinstance(result, StreamDone)
    u = result.response.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens) == (61, 2, 5)  # replaced, never summed


def test_partial_usage_is_live() -> None:
    state = proto.init_stream()
    for frame in SSEDecoder().feed(sse(start(input_tokens=7, output_tokens=1))):
        proto.decode_stream_chunk(state, frame)
    assert state.view.usage.input_tokens == 7


def thinking_stream() -> bytes:
    return sse(
        start(),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="Let me "),
        delta(0, type="thinking_delta", thinking="think."),
        delta(0, type="signature_delta", signature="EqQBCgIYAhIM1gbcDa9GJwZA2b3h"),
        stop(0),
        block(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
        stop(1),
        block(2, {"type": "text", "text": ""}),
        delta(2, type="text_delta", text="Calling."),
        stop(2),
        block(3, {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {}}),
        delta(3, type="input_json_delta", partial_json=""),
        delta(3, type="input_json_delta", partial_json='{"city": "Pa'),
        delta(3, type="input_json_delta", partial_json='ris"}'),
        stop(3),
        *end("tool_use", output_tokens=120),
    )


@pytest.mark.parametrize("chunk", [None, 3])
def test_thinking_signature_round_trip(chunk: int | None) -> None:
    events, result = run(thinking_stream(), chunk)
    assert isinstance(result, StreamDone)
    assert [e.type for e in events if e.type.endswith(("_start", "_end"))] == [
        "thinking_start",
        "thinking_end",
        "thinking_start",
        "thinking_end",
        "text_start",
        "text_end",
        "toolcall_start",
        "toolcall_end",
    ]
    resp = result.response
    assert resp.finish_reason == "tool_use"
    assert resp.reasoning == "Let me think."
    assert [(c.id, c.name, dict(c.arguments)) for c in resp.tool_calls] == [
        ("toolu_01A", "get_weather", {"city": "Paris"})
    ]
    # Response -> Message -> JSON and back -> encode again: the same thinking blocks and signatures.
    msg = Message.from_json(resp.message.to_json())
    msgs = [Message.user("Weather?"), msg, Message.tool_result("toolu_01A", "sunny")]
    sent = encode(msgs, tools=[WEATHER], params={"reasoning_budget": 2048})["messages"][1]["content"]
    assert sent == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        {"type": "text", "text": "Calling."},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
    ]


def test_tool_input_given_whole_at_block_start() -> None:
    body = sse(
        start(),
        block(0, {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"a": 1}}),
        stop(0),
        *end("tool_use"),
    )
    _, result = run(body)
    assert isinstance(result, StreamDone)
    assert dict(result.response.tool_calls[0].arguments) == {"a": 1}


def test_server_tool_blocks_and_citations_are_not_content() -> None:
    body = sse(
        start(),
        block(0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
        delta(0, type="input_json_delta", partial_json='{"query": "x"}'),
        stop(0),
        block(1, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}),
        stop(1),
        block(2, {"type": "text", "text": ""}),
        delta(2, type="text_delta", text="Found."),
        delta(2, type="citations_delta", citation={"type": "web_search_result_location"}),
        stop(2),
        {"type": "some_future_event"},
        *end(),
    )
    events, result = run(body)
    assert isinstance(result, StreamDone)
    assert result.response.text == "Found."
    assert result.response.tool_calls == []
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_end", "done"]
    assert result.response.finish_reason == "stop"


@pytest.mark.parametrize(
    ("reason", "unified"),
    [("max_tokens", "length"), ("refusal", "content_filter"), ("pause_turn", "stop"), ("stop_sequence", "stop")],
)
def test_stream_stop_reasons(reason: str, unified: str) -> None:
    body = sse(
        start(), block(0, {"type": "text", "text": ""}), delta(0, type="text_delta", text="x"), stop(0), *end(reason)
    )
    events, result = run(body)
    assert isinstance(result, StreamDone)
    assert (result.response.finish_reason, events[-1].reason) == (unified, unified)
    assert result.response.provider_finish_reason == reason


def test_max_tokens_mid_tool_call_keeps_the_partial() -> None:
    body = sse(
        start(),
        block(0, {"type": "tool_use", "id": "toolu_1", "name": "make_file", "input": {}}),
        delta(0, type="input_json_delta", partial_json='{"filename": "taxes'),
        *end("max_tokens"),
    )
    events, result = run(body)
    assert isinstance(result, StreamDone)
    assert result.response.finish_reason == "length"
    assert result.response.tool_calls[0].arguments_json == '{"filename": "taxes'
    assert events[-2].type == "toolcall_end"


@pytest.mark.parametrize(
    ("err_type", "cls", "status"),
    [
        ("overloaded_error", Overloaded, 529),
        ("rate_limit_error", RateLimited, 429),
        ("api_error", ServerError, 500),
        ("invalid_request_error", BadRequest, 400),
        ("authentication_error", AuthenticationFailed, 401),
        ("permission_error", AuthenticationFailed, 403),
        ("not_found_error", NotFound, 404),
        ("timeout_error", Timeout, 504),
        ("mystery_error", StreamError, None),
    ],
)
def test_error_event_fails_with_the_right_class(err_type: str, cls: type[Exception], status: int | None) -> None:
    body = sse(
        start(),
        block(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="partial"),
        {"type": "error", "error": {"type": err_type, "message": "Overloaded now"}, "request_id": "req_9"},
    )
    events, result = run(body)
    assert isinstance(result, StreamFailed)
    assert type(result.error) is cls
    err = result.error
    assert isinstance(err, syc.ProviderError)
    assert (err.status_code, err.request_id, err.message) == (status, "req_9", "Overloaded now")
    last = events[-1]
    assert last.type == "error"
    assert last.error is err
    assert last.response is not None
    assert last.response.text == "partial"
    assert last.response.usage.input_tokens == 25
    assert [e.type for e in events].count("text_end") == 1


def test_duplicate_message_start_is_ignored() -> None:
    body = sse(
        start("msg_dup"),
        start("msg_dup"),
        block(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Hello"),
        stop(0),
        *end(),
    )
    events, result = run(body)
    assert isinstance(result, StreamDone)
    assert result.response.text == "Hello"
    assert [e.type for e in events].count("start") == 1


def test_spliced_message_start_fails() -> None:
    body = sse(
        start("msg_first"),
        block(0, {"type": "tool_use", "id": "toolu_first", "name": "f", "input": {}}),
        delta(0, type="input_json_delta", partial_json='{"v": "Spa'),
        start("msg_second"),
        block(0, {"type": "text", "text": ""}),
        *end(),
    )
    events, result = run(body)
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, ResponseInvalid)
    assert events[-1].type == "error"
    assert events[-1].response is not None
    assert events[-1].response.id == "msg_first"


def test_stream_without_message_stop_is_an_error() -> None:
    body = sse(start(), block(0, {"type": "text", "text": ""}), delta(0, type="text_delta", text="cut"))
    events, result = run(body)
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, ResponseInvalid)
    assert events[-1].response is not None
    assert events[-1].response.text == "cut"


def test_invalid_json_frame_raises_for_the_pipeline() -> None:
    state = proto.init_stream()
    frame = SSEDecoder().feed(b"event: message_start\ndata: {not json\n\n")[0]
    with pytest.raises(ValueError):
        proto.decode_stream_chunk(state, frame)
    frame = SSEDecoder().feed(b"data: [1]\n\n")[0]
    assert isinstance(proto.decode_stream_chunk(state, frame), StreamFailed)


def test_done_marker_of_gateways_is_ignored() -> None:
    events, result = run(text_stream() + b"data: [DONE]\n\n")
    assert isinstance(result, StreamDone)
    assert events[-1].type == "done"


def test_stream_ending_after_the_stop_reason_without_message_stop_is_complete() -> None:
    body = sse(
        start(input_tokens=12),
        block(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Whole."),
        stop(0),
        end("max_tokens", output_tokens=4)[0],  # message_delta, then the body ends
    )
    events, result = run(body)
    assert isinstance(result, StreamDone)
    assert (events[-1].type, events[-1].reason) == ("done", "length")
    resp = result.response
    assert (resp.text, resp.finish_reason, resp.provider_finish_reason) == ("Whole.", "length", "max_tokens")
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (12, 4)


def _split_call(call_id: str = "toolu_split") -> list[dict[str, Any]]:
    """One call spread over seven tool_use blocks that repeat its id, as a proxy sends it."""
    fragments = ['{"ci', 'ty": "Pa', 'ris", "un', 'it": "c"', ', "days"', ": 3", "}"]
    events: list[dict[str, Any]] = []
    for i, fragment in enumerate(fragments):
        head = {"type": "tool_use", "id": call_id, "input": {}}
        if i == 0:
            head["name"] = "get_weather"
        events += [block(i, head), delta(i, type="input_json_delta", partial_json=fragment), stop(i)]
    return events


def test_one_call_split_over_blocks_with_the_same_id_is_one_call() -> None:
    body = sse(start(), *_split_call(), *end("tool_use"))
    events, result = run(body)
    assert isinstance(result, StreamDone)
    calls = result.response.tool_calls
    assert [(c.id, c.name, dict(c.arguments)) for c in calls] == [
        ("toolu_split", "get_weather", {"city": "Paris", "unit": "c", "days": 3})
    ]
    assert calls[0].parse_error is None
    types = [e.type for e in events]
    assert (types.count("toolcall_start"), types.count("toolcall_end"), types.count("toolcall_delta")) == (1, 1, 7)
    assert [e.content_index for e in events if e.type.startswith("toolcall")] == [0] * 9
    assert result.response.finish_reason == "tool_use"


def test_split_call_between_other_calls_and_text() -> None:
    body = sse(
        start(),
        block(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Looking."),
        stop(0),
        block(1, {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}}),
        delta(1, type="input_json_delta", partial_json='{"x": 1}'),
        stop(1),
        *[{**e, "index": e["index"] + 2} for e in _split_call("toolu_b")],
        block(9, {"type": "tool_use", "id": "toolu_c", "name": "g", "input": {}}),
        stop(9),
        *end("tool_use"),
    )
    events, result = run(body)
    assert isinstance(result, StreamDone)
    resp = result.response
    assert resp.text == "Looking."
    assert [(c.id, dict(c.arguments)) for c in resp.tool_calls] == [
        ("toolu_a", {"x": 1}),
        ("toolu_b", {"city": "Paris", "unit": "c", "days": 3}),
        ("toolu_c", {}),
    ]
    types = [e.type for e in events]
    assert types.count("toolcall_start") == types.count("toolcall_end") == 3


def test_split_call_in_a_whole_body_is_one_call() -> None:
    pieces = ['{"city": "Pa', 'ris"}']
    content: list[dict[str, Any]] = [
        {"type": "tool_use", "id": "toolu_s", "name": "get_weather", "input": pieces[0]},
        {"type": "tool_use", "id": "toolu_s", "input": pieces[1]},
        {"type": "tool_use", "id": "toolu_t", "name": "f", "input": {"a": 1}},
        {"type": "tool_use", "id": "toolu_t", "input": {"b": 2}},
    ]
    resp = proto.decode_response(message(content, "tool_use"))
    assert [(c.id, c.name, dict(c.arguments)) for c in resp.tool_calls] == [
        ("toolu_s", "get_weather", {"city": "Paris"}),
        ("toolu_t", "f", {"a": 1, "b": 2}),
    ]
    assert [p.kind for p in resp.parts] == ["tool_call", "tool_call"]


def test_streamed_invalid_arguments_are_kept_and_marked() -> None:
    body = sse(
        start(),
        block(0, {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}),
        delta(0, type="input_json_delta", partial_json='{"a": '),
        stop(0),
        *end("tool_use"),
    )
    _, result = run(body)
    assert isinstance(result, StreamDone)
    call = result.response.tool_calls[0]
    assert (call.arguments, call.arguments_json) == ({}, '{"a": ')
    assert call.parse_error is not None


@pytest.mark.parametrize(
    "event",
    [
        {"type": "content_block_start", "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_start", "index": "0", "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_start", "index": 0, "content_block": "text"},
        {"type": "content_block_delta", "index": 0, "delta": "x"},
        {"type": "content_block_stop"},
    ],
)
def test_wrong_shape_events_raise_response_invalid(event: dict[str, Any]) -> None:
    state = proto.init_stream()
    for frame in SSEDecoder().feed(sse(start())):
        proto.decode_stream_chunk(state, frame)
    (frame,) = SSEDecoder().feed(sse(event))
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_stream_chunk(state, frame)
    assert info.value.body == event


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"detail": "Not Found"}, "Not Found"),
        ({"error": {"message": "upstream said no"}}, "upstream said no"),
        ({"type": "message", "content": "Hello"}, None),
        ({"type": "message", "content": ["Hello"]}, None),
        ("Bad Gateway", "Bad Gateway"),
    ],
)
def test_wrong_shape_bodies_carry_the_provider_message(body: Any, said: str | None) -> None:
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_response(body)
    assert info.value.body == body
    if said:
        assert said in str(info.value)


def test_cache_writes_from_the_ttl_breakdown() -> None:
    resp = proto.decode_response(
        message(
            [],
            input_tokens=5,
            output_tokens=1,
            cache_creation={"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 20},
        )
    )
    assert resp.usage.cache_write_tokens == 120


# --------------------------------------------------------------------------------------------------
# Auth
# --------------------------------------------------------------------------------------------------


def headers_for(creds: dict[str, Any], preset: dict[str, str] | None = None) -> dict[str, str]:
    req = HttpRequest("POST", "https://api.anthropic.com/v1/messages", dict(preset or {}))
    for mw in AnthropicAuth().middlewares(Credentials(creds)):
        req = mw(req)
    return req.headers


def test_api_key_and_version() -> None:
    assert headers_for({"api_key": "sk-ant-api03-secret"}) == {
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-api03-secret",
    }
    assert headers_for({"api_key": "k", "anthropic_version": "2024-01-01"})["anthropic-version"] == "2024-01-01"
    assert headers_for({}) == {"anthropic-version": "2023-06-01"}


@pytest.mark.parametrize("field", ["auth_token", "access_token", "bearer_token", "token"])
def test_bearer_tokens_replace_the_key(field: str) -> None:
    h = headers_for({field: "tok-123", "api_key": "sk-ant-api03-secret"})
    assert h["authorization"] == "Bearer tok-123"
    assert "x-api-key" not in h


def test_oauth_key_is_sent_as_bearer_with_its_beta() -> None:
    h = headers_for({"api_key": "sk-ant-oat01-abc"})
    assert h["authorization"] == "Bearer sk-ant-oat01-abc"
    assert "x-api-key" not in h
    assert h["anthropic-beta"] == "oauth-2025-04-20"


def test_betas_from_credentials_are_merged() -> None:
    h = headers_for({"api_key": "k", "anthropic_beta": "b-1, b-2"}, {"anthropic-beta": "b-0,b-1"})
    assert h["anthropic-beta"] == "b-0,b-1,b-2"
    assert headers_for({"api_key": "k", "anthropic_beta": ["x", "y"]})["anthropic-beta"] == "x,y"
    assert split_betas(None) == []
    assert split_betas(" a ,, b") == ["a", "b"]


def test_keys_never_print() -> None:
    req = HttpRequest(
        "POST", "https://api.anthropic.com/v1/messages", headers_for({"api_key": "sk-ant-api03-verysecretvalue"})
    )
    assert "verysecret" not in repr(req)
    assert "verysecret" not in repr(Credentials({"api_key": "sk-ant-api03-verysecretvalue"}))
    assert AnthropicAuth().path_params(Credentials()) == {}


# --------------------------------------------------------------------------------------------------
# Through the public API
# --------------------------------------------------------------------------------------------------


FIXTURE_MODEL = {"max_tokens": 8192, "cost": {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}}
SPEC = "anthropic:claude-fixture"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        syc.configure(
            providers={
                "anthropic": {"api_key": "sk-ant-api03-test", "base_url": srv.url + "/v1", "anthropic_beta": "b-test"}
            },
            custom_providers={"anthropic": {"models": {"claude-fixture": FIXTURE_MODEL}}},
        )
        yield srv
        syc.close()


def test_generate_text_against_a_scripted_anthropic(server: ScriptedServer) -> None:
    server.add(
        Reply.json(
            message([{"type": "text", "text": "Hi!"}], input_tokens=10, output_tokens=3, cache_read_input_tokens=90)
        )
    )
    resp = syc.generate_text(SPEC, [Message.system("Brief."), Message.user("Hello")])
    assert resp.text == "Hi!"
    assert resp.provider == "anthropic"
    assert resp.usage.cost is not None
    assert resp.usage.cost.cache_read == pytest.approx(90 * 0.3 / 1e6)
    sent = server.requests[-1]
    assert sent.path == "/v1/messages"  # the configured ".../v1" base is stripped to the host
    assert (sent.headers["x-api-key"], sent.headers["anthropic-version"]) == ("sk-ant-api03-test", "2023-06-01")
    assert sent.headers["anthropic-beta"] == "b-test"
    assert sent.json["system"] == "Brief."
    assert sent.json["max_tokens"] == 8192
    validate_request(sent.json)


def test_tool_loop_replays_thinking_with_its_signature(server: ScriptedServer) -> None:
    first = message(
        [
            {"type": "thinking", "thinking": "Need weather.", "signature": "SIG1"},
            {"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "tool_use",
    )
    server.add(Reply.json(first), Reply.json(message([{"type": "text", "text": "Cold."}])))
    tool = Tool("get_weather", "Weather", WEATHER.parameters, function=lambda city: f"{city}: -3C")
    resp = syc.generate_text(SPEC, "Weather in Oslo?", tools=[tool], reasoning_budget=2048)
    assert resp.text == "Cold."
    second = server.requests[-1].json
    validate_request(second)
    assert second["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Need weather.", "signature": "SIG1"}
    assert second["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_A",
        "content": "Oslo: -3C",
    }


def test_generate_object_reads_the_forced_tool(server: ScriptedServer) -> None:
    server.add(
        Reply.json(
            message([{"type": "tool_use", "id": "toolu_o", "name": "Person", "input": {"name": "Ada"}}], "tool_use")
        )
    )
    out = syc.generate_object(SPEC, "Who?", schema={**SCHEMA, "title": "Person"})
    assert out.object == {"name": "Ada"}
    assert server.requests[-1].json["tool_choice"] == {"type": "tool", "name": "Person"}


def test_stream_through_the_api(server: ScriptedServer) -> None:
    server.add(
        Reply(
            200,
            {"content-type": "text/event-stream"},
            [thinking_stream()[i : i + 5] for i in range(0, len(thinking_stream()), 5)],
        )
    )
    stream = syc.stream_text(SPEC, "Weather?", tools=[WEATHER])
    events = list(stream)
    resp = stream.response()
    assert events[-1].type == "done"
    assert resp.finish_reason == "tool_use"
    part = resp.parts[0]
    assert isinstance(part, ThinkingPart)
    assert part.provider == "anthropic"
    assert part.signature
    assert server.requests[-1].json["stream"] is True
    assert server.requests[-1].headers["accept"] == "text/event-stream"


def test_error_status_maps_through_the_pipeline(server: ScriptedServer) -> None:
    from sycophant_py.testing import FakeClock

    server.add(
        *[Reply.json({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, status=529)] * 3
    )
    with FakeClock(), pytest.raises(Overloaded) as info:
        syc.generate_text(SPEC, "Hi")
    assert info.value.status_code == 529
    assert "Overloaded" in str(info.value)


def test_a_result_without_its_call_is_sent_as_text() -> None:
    msgs = [Message.user("Go"), Message.assistant("Done."), Message.tool_result("toolu_gone", "42", name="calc")]
    assert encode(msgs)["messages"][-1] == {
        "role": "user",
        "content": [{"type": "text", "text": "[Result of tool calc]"}, {"type": "text", "text": "42"}],
    }
    late = [*_tool_turns()[:3], Message.user("wait"), Message.tool_result("toolu_02", "late", is_error=True)]
    content = encode(late)["messages"][-1]["content"]
    assert [b["type"] for b in content] == ["tool_result", "tool_result", "text", "text", "text"]
    assert content[3] == {"type": "text", "text": "[Result of tool toolu_02 (error)]"}
