"""The ``openai_responses`` protocol, pure: encoding, decoding and stream decoding (no HTTP).

Every body the tests encode is checked against OpenAI's spec (``CreateResponse``). Streams are fed
through ``SSEDecoder`` + ``decode_stream_chunk`` whole and cut at every byte boundary.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import InvalidMessage, ProviderError, ResponseInvalid, StreamError
from sycophant_py._models import ModelInfo
from sycophant_py._params import SharedParams, validate_params
from sycophant_py._sse import SSEDecoder
from sycophant_py._types import (
    Context,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
)
from sycophant_py.wire._base import Request, StreamContinue, StreamDone, StreamFailed
from sycophant_py.wire.openai_responses import (
    API,
    UNSUPPORTED_SHARED,
    OpenAIResponses,
    OpenAIResponsesParams,
    decode_usage,
    map_status,
)
from tests.contract.dialects.openai_responses import validate_request

MODEL = ModelInfo(provider="openai", id="gpt-5-mini", base_url="https://api.openai.com/v1", reasoning=True)
PLAIN = ModelInfo(provider="openai", id="gpt-4o-mini", base_url="https://api.openai.com/v1", reasoning=False)
WEATHER = Tool(
    "get_weather",
    "Weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
STRICT = Tool(
    "add",
    "",
    {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False},
)
proto = OpenAIResponses()


def encode(
    messages: Sequence[Message],
    *,
    params: dict[str, Any] | None = None,
    tools: Sequence[Tool] = (),
    stream: bool = False,
    schema: dict[str, Any] | None = None,
    model: ModelInfo = MODEL,
) -> dict[str, Any]:
    """Encode through param validation, as the pipeline does, and validate the body against the spec."""
    validated, dropped = validate_params(OpenAIResponsesParams, params or {})
    assert not dropped
    body = proto.encode_request(Request(model, list(messages), validated, list(tools), stream, schema))
    validate_request(body)  # allows only the validator's listed false rejections
    return body


# -- encoding ---------------------------------------------------------------------------------------


def test_path_and_params_model() -> None:
    assert proto.request_path(Request(MODEL, [])) == "/responses"
    assert proto.param_schema() is OpenAIResponsesParams
    shared = set(SharedParams.model_fields) - UNSUPPORTED_SHARED
    assert shared <= set(OpenAIResponsesParams.model_fields)
    for name in shared:  # the same types and bounds as the shared params
        mine, theirs = OpenAIResponsesParams.model_fields[name], SharedParams.model_fields[name]
        assert (mine.annotation, mine.metadata) == (theirs.annotation, theirs.metadata), name
    assert not UNSUPPORTED_SHARED & set(OpenAIResponsesParams.model_fields)
    _, dropped = validate_params(OpenAIResponsesParams, {"stop": ["x"], "seed": 1, "top_k": 3, "temperature": 0.1})
    assert sorted(dropped) == ["seed", "stop", "top_k"]


def test_instructions_and_input_items() -> None:
    body = encode(
        [
            Message.system("Be brief."),
            Message.system("Be kind."),
            Message.user("Hi"),
            Message.assistant("Hello."),
            Message.system("Now in French."),
            Message.user("Salut"),
        ]
    )
    assert body["model"] == "gpt-5-mini"
    assert body["instructions"] == "Be brief.\n\nBe kind."
    assert body["input"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "system", "content": "Now in French."},
        {"role": "user", "content": "Salut"},
    ]
    assert "instructions" not in encode([Message.user("x")])


def test_user_parts() -> None:
    parts: list[Part] = [
        TextPart("Look:"),
        ImagePart(b"\x89PNG", media_type="image/png"),
        ImagePart(url="https://x.test/a.png", detail="low"),
        DocumentPart(b"%PDF-1.4", name="a.pdf"),
        DocumentPart(b"plain text", media_type="text/plain"),
        DocumentPart(url="https://x.test/b.pdf"),
    ]
    body = encode([Message.user(parts)])
    assert body["input"][0]["content"] == [
        {"type": "input_text", "text": "Look:"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw==", "detail": "auto"},
        {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"},
        {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQ="},
        {"type": "input_text", "text": "plain text"},
        {"type": "input_file", "file_url": "https://x.test/b.pdf"},
    ]
    with pytest.raises(InvalidMessage):
        encode([Message.user([ToolCall("c", "f")])])


def test_tool_calls_results_and_synthetic_result() -> None:
    call = ToolCall.from_json("call_1", "get_weather", '{"city":"Paris"}')
    orphan = ToolCall.from_json("call_2", "get_weather", "")
    body = encode(
        [
            Message.user("Weather?"),
            Message.assistant("Checking.", tool_calls=[call, orphan]),
            Message.tool_result("call_1", "sunny"),
            Message.user("And?"),
            Message.assistant(tool_calls=[ToolCall("call_3", "get_weather", {}, "{}")]),
            Message.tool_result("call_3", [TextPart("see "), ImagePart(url="https://x.test/m.png")]),
        ],
        tools=[WEATHER],
    )
    assert body["input"][1:] == [
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {
            "type": "function_call_output",
            "call_id": "call_2",
            "output": "Error: no result was provided for this tool call.",
        },
        {"role": "user", "content": "And?"},
        {"type": "function_call", "call_id": "call_3", "name": "get_weather", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "call_3",
            "output": [
                {"type": "input_text", "text": "see "},
                {"type": "input_image", "image_url": "https://x.test/m.png", "detail": "auto"},
            ],
        },
    ]


def test_tools_tool_choice_and_strict() -> None:
    body = encode(
        [Message.user("x")],
        tools=[WEATHER, STRICT, Tool("forced", parameters=WEATHER.parameters, strict=True)],
        params={"tool_choice": "get_weather", "parallel_tool_calls": False},
    )
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": WEATHER.parameters,
            "strict": False,
        },
        {"type": "function", "name": "add", "parameters": STRICT.parameters, "strict": True},
        {"type": "function", "name": "forced", "parameters": WEATHER.parameters, "strict": True},
    ]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["parallel_tool_calls"] is False
    assert encode([Message.user("x")], tools=[WEATHER], params={"tool_choice": "required"})["tool_choice"] == "required"
    no_tools = encode([Message.user("x")], params={"tool_choice": "auto", "parallel_tool_calls": True})
    assert "tool_choice" not in no_tools
    assert "parallel_tool_calls" not in no_tools


def test_params() -> None:
    body = encode(
        [Message.user("x")],
        stream=True,
        params={
            "temperature": 0.2,
            "top_p": 0.9,
            "max_tokens": 99,
            "reasoning_effort": "low",
            "reasoning_summary": "auto",
            "verbosity": "low",
            "store": True,
            "previous_response_id": "resp_0",
            "truncation": "auto",
            "metadata": {"k": "v"},
            "user": "u1",
            "safety_identifier": "s1",
            "prompt_cache_key": "pk",
            "prompt_cache_retention": "24h",
            "max_tool_calls": 3,
            "top_logprobs": 2,
            "service_tier": "flex",
            "include": ["message.output_text.logprobs"],
            "extra_body": {"background": False},
        },
    )
    assert body == {
        "model": "gpt-5-mini",
        "input": [{"role": "user", "content": "x"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "service_tier": "flex",
        "store": True,
        "previous_response_id": "resp_0",
        "truncation": "auto",
        "metadata": {"k": "v"},
        "user": "u1",
        "safety_identifier": "s1",
        "prompt_cache_key": "pk",
        "prompt_cache_retention": "24h",
        "max_tool_calls": 3,
        "top_logprobs": 2,
        "max_output_tokens": 99,
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["message.output_text.logprobs"],
        "text": {"verbosity": "low"},
        "stream": True,
        "background": False,
    }


@pytest.mark.parametrize(
    ("params", "model", "include"),
    [
        ({"store": False}, MODEL, ["reasoning.encrypted_content"]),  # a reasoning model
        ({"store": False, "reasoning_effort": "high"}, PLAIN, ["reasoning.encrypted_content"]),
        ({"store": False, "reasoning_effort": "none"}, MODEL, None),
        ({"store": False}, PLAIN, None),
        ({"reasoning_effort": "high"}, MODEL, None),  # stored: the server keeps the reasoning
        ({"store": False, "include": ["reasoning.encrypted_content"]}, MODEL, ["reasoning.encrypted_content"]),
    ],
)
def test_include_encrypted_reasoning(params: dict[str, Any], model: ModelInfo, include: list[str] | None) -> None:
    assert encode([Message.user("x")], params=params, model=model).get("include") == include


def test_structured_output() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    body = encode([Message.user("x")], schema=schema, params={"verbosity": "high"})
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "response", "schema": schema, "strict": True},
        "verbosity": "high",
    }
    loose = proto.encode_response_schema({"type": "object"}, "My schema!")
    assert loose == {"type": "json_schema", "name": "My_schema_", "schema": {"type": "object"}, "strict": False}
    json_mode = encode([Message.user("x")], params={"response_format": {"type": "json_object"}})
    assert json_mode["text"] == {"format": {"type": "json_object"}}
    chat_style = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema, "strict": True}}
    assert encode([Message.user("x")], params={"response_format": chat_style})["text"]["format"] == {
        "type": "json_schema",
        "name": "n",
        "schema": schema,
        "strict": True,
    }


# -- reasoning replay -------------------------------------------------------------------------------


def _thinking(item_id: str = "rs_1", text: str = "plan", signature: str | None = "enc==", **pd: Any) -> ThinkingPart:
    return ThinkingPart(text, signature, provider="openai", provider_data={"api": API, "item_id": item_id, **pd})


def _call(item_id: str | None = "fc_1") -> ToolCall:
    return ToolCall(
        "call_1",
        "get_weather",
        {"city": "Paris"},
        '{"city":"Paris"}',
        {"api": API, "item_id": item_id} if item_id else None,
    )


def _turn(*parts: Any, store: bool | None = None, model: ModelInfo = MODEL) -> list[dict[str, Any]]:
    msgs = [Message.user("Weather?"), Message("assistant", tuple(parts))]
    if any(isinstance(p, ToolCall) for p in parts):
        msgs.append(Message.tool_result("call_1", "sunny"))
    params = {} if store is None else {"store": store}
    items: list[dict[str, Any]] = encode(msgs, params=params, tools=[WEATHER], model=model)["input"]
    return items[1:]


def test_reasoning_replayed_before_our_function_call() -> None:
    items = _turn(_thinking(), _call())
    assert items[:2] == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "plan"}],
            "encrypted_content": "enc==",
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
            "id": "fc_1",
        },
    ]


def test_reasoning_replayed_before_the_message_that_followed_it() -> None:
    items = _turn(_thinking(next_message_id="msg_1", summary_parts=["a", "b"], text="a\n\nb"), TextPart("Sunny."))
    assert items == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "encrypted_content": "enc==",
            "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
        },
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Sunny.", "annotations": [], "logprobs": []}],
        },
    ]


def test_reasoning_text_is_replayed_as_content() -> None:
    items = _turn(_thinking(signature=None, reasoning_content=True, text="think"), _call(), store=False)
    assert items[0] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "think"}],
    }


@pytest.mark.parametrize(
    "parts",
    [
        (_thinking(), TextPart("Sunny.")),  # the message id that followed is unknown
        (_thinking(), _call(item_id=None)),  # the call's item id is unknown
        (_thinking(),),  # nothing followed
        (_thinking(item_id=""), _call()),
        (ThinkingPart("plan", "sig", provider="openai", provider_data={"item_id": "rs_1"}), _call()),  # not ours
        (ThinkingPart("plan", "sig", provider="azure", provider_data={"api": API, "item_id": "rs_1"}), _call()),
    ],
)
def test_reasoning_dropped_when_it_cannot_be_replayed(parts: tuple[Any, ...]) -> None:
    items = _turn(*parts)
    assert all(item.get("type") != "reasoning" for item in items)
    assert all("id" not in item for item in items if item.get("type") == "function_call")


def test_stored_reasoning_without_encrypted_content_needs_store() -> None:
    assert _turn(_thinking(signature=None), _call())[0]["type"] == "reasoning"  # resolved by id server-side
    dropped = _turn(_thinking(signature=None), _call(), store=False)
    assert dropped[0] == {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }


def test_function_call_ids_only_with_replayed_reasoning() -> None:
    assert "id" not in _turn(_call())[0]
    foreign = ThinkingPart("plan", "sig", provider="azure", provider_data={"api": API, "item_id": "rs_1"})
    items = _turn(foreign, _thinking(), _call())
    assert items[0] == {"role": "assistant", "content": "plan"}  # another provider's reasoning: plain text
    assert items[1] == {
        "type": "reasoning",
        "id": "rs_1",
        "encrypted_content": "enc==",
        "summary": [{"type": "summary_text", "text": "plan"}],
    }


# -- decoding ---------------------------------------------------------------------------------------


def _resp(output: list[dict[str, Any]], status: str = "completed", **extra: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-5-mini",
        "status": status,
        "output": output,
        "usage": {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 40},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 20},
            "total_tokens": 130,
        },
        **extra,
    }


REASONING = {
    "type": "reasoning",
    "id": "rs_1",
    "encrypted_content": "gAAA==",
    "summary": [{"type": "summary_text", "text": "**Plan**\n\nStep."}, {"type": "summary_text", "text": "Go."}],
}
MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [
        {"type": "output_text", "text": "Hel", "annotations": []},
        {"type": "output_text", "text": "lo", "annotations": []},
    ],
}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
    "status": "completed",
}


def test_decode_message_reasoning_and_usage() -> None:
    resp = proto.decode_response(_resp([REASONING, MESSAGE, {"type": "web_search_call", "id": "ws_1"}]))
    assert resp.text == "Hello"
    assert resp.reasoning == "**Plan**\n\nStep.\n\nGo."
    assert resp.finish_reason == "stop"
    assert (resp.id, resp.model, resp.provider_finish_reason) == ("resp_1", "gpt-5-mini", "completed")
    thinking = resp.parts[0]
    assert isinstance(thinking, ThinkingPart)
    assert thinking.signature == "gAAA=="
    assert thinking.provider_data == {
        "api": API,
        "item_id": "rs_1",
        "summary_parts": ["**Plan**\n\nStep.", "Go."],
        "next_message_id": "msg_1",
    }
    assert resp.parts[1] == TextPart("Hello")
    u = resp.usage
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (60, 40, 30, 20)
    assert u.total_tokens == 130  # reasoning is inside output_tokens: not added again


def test_decode_function_calls() -> None:
    resp = proto.decode_response(_resp([REASONING, CALL]))
    assert resp.finish_reason == "tool_use"
    assert resp.tool_calls == [
        ToolCall("call_1", "get_weather", {"city": "Paris"}, '{"city":"Paris"}', {"api": API, "item_id": "fc_1"})
    ]
    assert isinstance(resp.parts[0], ThinkingPart)
    assert "next_message_id" not in (resp.parts[0].provider_data or {})


def test_decode_reasoning_text_and_refusal() -> None:
    item = {
        "type": "reasoning",
        "id": "rs_x",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "think "}, {"type": "reasoning_text", "text": "more"}],
    }
    refusal = {"type": "message", "id": "m", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}
    resp = proto.decode_response(_resp([item, refusal]))
    assert resp.reasoning == "think more"
    assert isinstance(resp.parts[0], ThinkingPart)
    assert resp.parts[0].provider_data == {
        "api": API,
        "item_id": "rs_x",
        "reasoning_content": True,
        "next_message_id": "m",
    }
    assert (resp.text, resp.finish_reason) == ("No.", "content_filter")


@pytest.mark.parametrize(
    ("status", "details", "calls", "reason"),
    [
        ("completed", None, False, "stop"),
        ("completed", None, True, "tool_use"),
        ("incomplete", "max_output_tokens", True, "length"),
        ("incomplete", "content_filter", False, "content_filter"),
        ("failed", None, False, "error"),
        ("cancelled", None, False, "aborted"),
        ("queued", None, False, "stop"),
        ("in_progress", None, False, "stop"),
        (None, None, False, "stop"),
    ],
)
def test_finish_reasons(status: str | None, details: str | None, calls: bool, reason: str) -> None:
    assert map_status(status, details, tool_calls=calls) == reason
    body = _resp(
        [CALL] if calls else [MESSAGE],
        status or "completed",
        incomplete_details={"reason": details} if details else None,
    )
    if status is None:
        del body["status"]
    resp = proto.decode_response(body)
    assert resp.finish_reason == reason
    assert resp.provider_finish_reason == (details or status)


def test_decode_failed_response_keeps_the_error() -> None:
    resp = proto.decode_response(_resp([], "failed", error={"code": "server_error", "message": "boom"}))
    assert resp.finish_reason == "error"
    assert isinstance(resp.error, ProviderError)
    assert "boom" in str(resp.error)


def test_decode_usage_cache_writes_and_missing_usage() -> None:
    u = decode_usage(
        {
            "input_tokens": 50,
            "output_tokens": 5,
            "total_tokens": 55,
            "input_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 30},
        }
    )
    assert (u.input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.total_tokens) == (10, 10, 30, 55)
    capped = decode_usage({"input_tokens": 50, "input_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 40}})
    assert (capped.input_tokens, capped.cache_write_tokens) == (0, 10)
    assert decode_usage(None).total_tokens == 0


# -- streaming --------------------------------------------------------------------------------------


def sse(*events: dict[str, Any], done: bool = False) -> bytes:
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events)
    return (body + ("data: [DONE]\n\n" if done else "")).encode()


def run_stream(chunks: Sequence[bytes]) -> tuple[list[StreamEvent], Response]:
    """Feed chunks through SSEDecoder + decode_stream_chunk (pure); returns events and final response."""
    state = proto.init_stream()
    decoder = SSEDecoder()
    events: list[StreamEvent] = []
    for frame in [f for c in chunks for f in decoder.feed(c)] + decoder.flush():
        result = proto.decode_stream_chunk(state, frame)
        events.extend(result.events)
        if isinstance(result, StreamContinue):
            state = result.state
            continue
        if isinstance(result, StreamDone):
            return events, result.response
        assert isinstance(result, StreamFailed)
        assert events[-1].type == "error"
        assert events[-1].response is not None
        return events, events[-1].response
    end = proto.end_of_stream(state)
    events.extend(end.events)
    assert events[-1].response is not None
    return events, events[-1].response


def _lifecycle(kind: str, status: str, output: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    resp = _resp(output or [], status, **extra)
    if kind in ("response.created", "response.in_progress"):
        resp["usage"] = None
    return {"type": kind, "response": resp}


def _full_stream() -> bytes:
    added_reasoning = {**REASONING, "summary": [], "encrypted_content": "partial"}
    return sse(
        _lifecycle("response.created", "in_progress"),
        _lifecycle("response.in_progress", "in_progress"),
        {"type": "response.output_item.added", "output_index": 0, "item": added_reasoning},
        {"type": "response.reasoning_summary_part.added", "output_index": 0, "summary_index": 0, "item_id": "rs_1"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "**Plan**"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "\n\nStep."},
        {
            "type": "response.reasoning_summary_text.done",
            "output_index": 0,
            "summary_index": 0,
            "text": "**Plan**\n\nStep.",
        },
        {"type": "response.reasoning_summary_part.added", "output_index": 0, "summary_index": 1, "item_id": "rs_1"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 1, "delta": "Go."},
        {"type": "response.output_item.done", "output_index": 0, "item": REASONING},
        {"type": "response.output_item.added", "output_index": 1, "item": {**MESSAGE, "content": []}},
        {
            "type": "response.content_part.added",
            "output_index": 1,
            "content_index": 0,
            "part": {"type": "output_text", "text": ""},
        },
        {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "Hél"},
        {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "lo ✓"},
        {"type": "response.output_text.done", "output_index": 1, "content_index": 0, "text": "Héllo ✓"},
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {**MESSAGE, "content": [{"type": "output_text", "text": "Héllo ✓"}]},
        },
        {"type": "response.output_item.added", "output_index": 2, "item": {**CALL, "arguments": ""}},
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"city":'},
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '"Paris"}'},
        {"type": "response.function_call_arguments.done", "output_index": 2, "arguments": '{"city":"Paris"}'},
        {"type": "response.output_item.done", "output_index": 2, "item": CALL},
        _lifecycle("response.completed", "completed", [REASONING, MESSAGE, CALL]),
        done=True,
    )


def test_stream_every_event_family() -> None:
    events, resp = run_stream([_full_stream()])
    assert [e.type for e in events] == [
        "start",
        "thinking_start",
        "thinking_delta",
        "thinking_delta",
        "thinking_delta",
        "thinking_delta",
        "thinking_end",
        "text_start",
        "text_delta",
        "text_delta",
        "text_end",
        "toolcall_start",
        "toolcall_delta",
        "toolcall_delta",
        "toolcall_end",
        "done",
    ]
    assert [e.delta for e in events if e.type == "thinking_delta"] == ["**Plan**", "\n\nStep.", "\n\n", "Go."]
    assert resp.text == "Héllo ✓"
    assert resp.reasoning == "**Plan**\n\nStep.\n\nGo."
    assert resp.finish_reason == "tool_use"
    assert events[-1].reason == "tool_use"
    assert (resp.id, resp.model, resp.provider_finish_reason) == ("resp_1", "gpt-5-mini", "completed")
    assert resp.usage.total_tokens == 130
    assert resp.usage.input_tokens == 60
    assert resp.raw["status"] == "completed"
    # the same parts as the non-streamed decoder gives for the final output
    assert resp.parts[0] == proto.decode_response(_resp([REASONING, MESSAGE, CALL])).parts[0]
    thinking = resp.parts[0]
    assert isinstance(thinking, ThinkingPart)
    assert thinking.signature == "gAAA=="


def test_stream_split_at_every_byte() -> None:
    body = _full_stream()
    whole_events, whole = run_stream([body])
    for cut in range(1, len(body)):
        events, resp = run_stream([body[:cut], body[cut:]])
        assert [(e.type, e.delta) for e in events] == [(e.type, e.delta) for e in whole_events], cut
        assert resp.to_dict() | {"raw": None} == whole.to_dict() | {"raw": None}
    events, _ = run_stream([body[i : i + 1] for i in range(len(body))])
    assert [(e.type, e.delta) for e in events] == [(e.type, e.delta) for e in whole_events]


def test_encrypted_reasoning_round_trip() -> None:
    """Stream -> JSON round trip of the context -> next request replays reasoning and call ids."""
    _, resp = run_stream([_full_stream()])
    ctx = Context((Message.user("Weather?"), resp.message)).add(Message.tool_result("call_1", "sunny"))
    restored = Context.from_json(ctx.to_json())
    assert restored == ctx
    items = encode(restored.messages, tools=[WEATHER], params={"store": False})["input"]
    assert items[1:] == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "encrypted_content": "gAAA==",
            "summary": [{"type": "summary_text", "text": "**Plan**\n\nStep."}, {"type": "summary_text", "text": "Go."}],
        },
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Héllo ✓", "annotations": [], "logprobs": []}],
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
            "id": "fc_1",
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]


def test_stream_done_events_fill_in_missing_deltas() -> None:
    """Some servers send whole texts in the *.done events only; GitHub Copilot rotates item ids."""
    events, resp = run_stream(
        [
            sse(
                _lifecycle("response.created", "in_progress"),
                {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "a1"}},
                {
                    "type": "response.reasoning_text.done",
                    "output_index": 0,
                    "content_index": 0,
                    "text": "hmm",
                    "item_id": "a2",
                },
                {
                    "type": "response.output_item.done",
                    "output_index": 0,
                    "item": {
                        "type": "reasoning",
                        "id": "a3",
                        "summary": [],
                        "content": [{"type": "reasoning_text", "text": "hmm"}],
                    },
                },
                {"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "id": "a4"}},
                {
                    "type": "response.output_text.done",
                    "output_index": 1,
                    "content_index": 0,
                    "text": "Hi",
                    "item_id": "a5",
                },
                {
                    "type": "response.output_item.done",
                    "output_index": 1,
                    "item": {
                        "type": "message",
                        "id": "a6",
                        "content": [{"type": "output_text", "text": "Hi"}, {"type": "output_text", "text": "!"}],
                    },
                },
                {"type": "response.output_item.added", "output_index": 2, "item": {**CALL, "arguments": ""}},
                {"type": "response.output_item.done", "output_index": 2, "item": CALL},
                _lifecycle("response.completed", "completed"),
            )
        ]
    )
    assert (resp.reasoning, resp.text) == ("hmm", "Hi!")
    assert resp.tool_calls[0].arguments == {"city": "Paris"}
    assert isinstance(resp.parts[0], ThinkingPart)
    assert resp.parts[0].provider_data == {
        "api": API,
        "item_id": "a3",
        "reasoning_content": True,
        "next_message_id": "a4",
    }
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hi", "!"]


def test_stream_refusal_and_incomplete() -> None:
    _, refused = run_stream(
        [
            sse(
                {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "I can't"},
                {"type": "response.refusal.done", "output_index": 0, "content_index": 0, "refusal": "I can't"},
                _lifecycle("response.completed", "completed"),
            )
        ]
    )
    assert (refused.text, refused.finish_reason) == ("I can't", "content_filter")
    events, cut = run_stream(
        [
            sse(
                {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Once upon"},
                _lifecycle("response.incomplete", "incomplete", incomplete_details={"reason": "max_output_tokens"}),
            )
        ]
    )
    assert events[-1].type == "done"
    assert events[-1].reason == "length"
    assert (cut.text, cut.finish_reason, cut.provider_finish_reason) == ("Once upon", "length", "max_output_tokens")
    assert cut.usage.output_tokens == 30


@pytest.mark.parametrize(
    ("terminal", "message"),
    [
        (
            {
                "type": "error",
                "code": "server_error",
                "message": "The server had an error",
                "param": None,
                "sequence_number": 3,
            },
            "The server had an error",
        ),
        (
            {
                "type": "error",
                "error": {
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                    "message": "You exceeded your current quota",
                },
            },
            "You exceeded your current quota",
        ),
        (
            _lifecycle("response.failed", "failed", error={"code": "server_error", "message": "model failed"}),
            "model failed",
        ),
    ],
)
def test_stream_failures_keep_partial_content(terminal: dict[str, Any], message: str) -> None:
    events, resp = run_stream(
        [
            sse(
                _lifecycle("response.created", "in_progress"),
                {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "partial"},
                terminal,
            )
        ]
    )
    last = events[-1]
    assert last.type == "error"
    assert last.reason == "error"
    assert isinstance(last.error, StreamError)
    assert message in str(last.error)
    assert resp.text == "partial"
    assert resp.error is last.error
    assert last.error.error_type in ("server_error", "insufficient_quota")


def test_stream_without_end_marker_is_an_error() -> None:
    events, resp = run_stream(
        [
            sse(
                _lifecycle("response.created", "in_progress"),
                {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "cut"},
                done=True,
            )
        ]
    )
    assert events[-1].type == "error"
    assert resp.text == "cut"
    assert resp.finish_reason == "error"


def test_stream_event_name_used_when_payload_has_no_type() -> None:
    body = b'event: response.output_text.delta\ndata: {"output_index": 0, "delta": "x"}\n\n' + sse(
        _lifecycle("response.completed", "completed")
    )
    _, resp = run_stream([body])
    assert resp.text == "x"


# -- indices are not positions; wrong shapes ----------------------------------------------------------


def _text_events(output_index: int, content_index: int, text: str) -> list[dict[str, Any]]:
    return [
        {"type": "response.output_item.added", "output_index": output_index, "item": {"type": "message", "id": "m"}},
        {
            "type": "response.output_text.delta",
            "output_index": output_index,
            "content_index": content_index,
            "delta": text,
        },
        {
            "type": "response.output_text.done",
            "output_index": output_index,
            "content_index": content_index,
            "text": text,
        },
    ]


def test_a_part_whose_index_is_not_its_position_is_not_doubled() -> None:
    """The message's only part arrives with ``content_index: 1`` (and ``output_index: 3``)."""
    done = {
        "type": "response.output_item.done",
        "output_index": 3,
        "item": {"type": "message", "id": "m", "content": [{"type": "output_text", "text": "Hi"}]},
    }
    events, resp = run_stream([sse(*_text_events(3, 1, "Hi"), done, _lifecycle("response.completed", "completed"))])
    assert resp.text == "Hi"
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hi"]


def test_only_the_part_no_event_delivered_is_added_at_item_done() -> None:
    done = {
        "type": "response.output_item.done",
        "output_index": 0,
        "item": {
            "type": "message",
            "id": "m",
            "content": [{"type": "output_text", "text": "One. "}, {"type": "output_text", "text": "Two."}],
        },
    }
    events, resp = run_stream([sse(*_text_events(0, 5, "Two."), done, _lifecycle("response.completed", "completed"))])
    assert [e.delta for e in events if e.type == "text_delta"] == ["Two.", "One. "]
    assert resp.text == "Two.One. "


def test_summary_index_is_not_a_position() -> None:
    rs = {"type": "reasoning", "id": "rs_9", "summary": []}
    done_item = {**rs, "summary": [{"type": "summary_text", "text": "Plan."}]}
    events, resp = run_stream(
        [
            sse(
                {"type": "response.output_item.added", "output_index": 0, "item": rs},
                {
                    "type": "response.reasoning_summary_text.delta",
                    "output_index": 0,
                    "summary_index": 2,
                    "delta": "Plan.",
                },
                {"type": "response.output_item.done", "output_index": 0, "item": done_item},
                _lifecycle("response.completed", "completed"),
            )
        ]
    )
    assert resp.reasoning == "Plan."
    assert [e.delta for e in events if e.type == "thinking_delta"] == ["Plan."]


@pytest.mark.parametrize(
    "frame",
    [
        [1, 2],
        '"oops"',
        {"type": "response.output_item.added", "output_index": 0, "item": "message"},
        {"type": "response.output_item.done", "output_index": 0},
    ],
)
def test_wrong_shape_frames_raise_response_invalid(frame: Any) -> None:
    data = frame if isinstance(frame, str) else json.dumps(frame)
    (event,) = SSEDecoder().feed(f"data: {data}\n\n".encode())
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_stream_chunk(proto.init_stream(), event)
    assert info.value.body == json.loads(data)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"detail": "Not Found"}, "Not Found"),
        ({"error": {"message": "The model is overloaded", "type": "server_error"}}, "The model is overloaded"),
        ({"id": "resp_1", "status": "completed"}, None),
        ({"id": "resp_1", "status": "completed", "output": {"type": "message"}}, None),
        ({"id": "resp_1", "status": "completed", "output": ["text"]}, None),
        ([{"output": []}], None),
    ],
)
def test_wrong_shape_bodies_raise_response_invalid(body: Any, said: str | None) -> None:
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_response(body)
    assert info.value.body == body
    if said:
        assert said in str(info.value)


def test_empty_and_in_progress_bodies_stay_valid() -> None:
    resp = proto.decode_response(_resp([]))
    assert (resp.text, resp.finish_reason) == ("", "stop")
    queued = proto.decode_response({"id": "resp_q", "object": "response", "status": "queued"})
    assert (queued.text, queued.finish_reason, queued.provider_finish_reason) == ("", "stop", "queued")


def test_cached_tokens_beside_the_input_count_are_not_taken_off() -> None:
    u = decode_usage({"input_tokens": 30, "input_tokens_details": {"cached_tokens": 2048}, "output_tokens": 5})
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (30, 2048, 5)
    strings = decode_usage({"input_tokens": "12", "output_tokens": "3", "input_tokens_details": None})
    assert (strings.input_tokens, strings.output_tokens) == (12, 3)


def test_invalid_function_call_arguments_are_marked() -> None:
    resp = proto.decode_response(_resp([{**CALL, "arguments": '{"city": '}]))
    call = resp.tool_calls[0]
    assert (call.arguments, call.arguments_json) == ({}, '{"city": ')
    assert call.parse_error is not None


def test_stream_without_item_events_takes_the_final_output() -> None:
    events, resp = run_stream(
        [
            sse(
                _lifecycle("response.created", "in_progress"),
                _lifecycle("response.completed", "completed", [REASONING, MESSAGE, CALL]),
            )
        ]
    )
    assert resp.text == "Hello"
    assert resp.reasoning == "**Plan**\n\nStep.\n\nGo."
    assert [(c.id, dict(c.arguments)) for c in resp.tool_calls] == [("call_1", {"city": "Paris"})]
    assert resp.finish_reason == "tool_use"
    assert [e.type for e in events if e.type.endswith("_start")] == ["thinking_start", "text_start", "toolcall_start"]
    thinking = resp.parts[0]
    assert isinstance(thinking, ThinkingPart)
    assert thinking.signature == "gAAA=="
