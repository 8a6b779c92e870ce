"""``bedrock_converse``: pure encode, decode and stream tests (no HTTP).

Every request body built here is also validated with botocore's ``ParamValidator`` against the
shared ``service-2.json`` (``ConverseRequest`` / ``ConverseStreamRequest``), via the contract dialect.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._catalog import resolve_model
from sycophant_py._events import StreamEvent
from sycophant_py._eventstream import EventStreamDecoder, EventStreamMessage
from sycophant_py._exceptions import InvalidParams, UnsupportedInput
from sycophant_py._models import ModelInfo
from sycophant_py._params import validate_params
from sycophant_py._types import (
    DocumentPart,
    ImagePart,
    Message,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
)
from sycophant_py.wire._base import Request, StreamContinue, StreamDone, StreamFailed, StreamResult
from sycophant_py.wire._util import map_finish
from sycophant_py.wire.bedrock_converse import (
    PROTOCOL_MARK,
    BedrockConverse,
    decode_usage,
    tool_id,
)
from tests.contract.dialects.bedrock_converse import frame, validate_request

P = BedrockConverse()
CLAUDE = "anthropic.claude-3-7-sonnet-20250219-v1:0"


def model(model_id: str = CLAUDE, **kw: Any) -> ModelInfo:
    return ModelInfo(provider="amazon-bedrock", id=model_id, api="bedrock_converse", **kw)


def enc(
    messages: Sequence[Message] | str,
    model_id: str = CLAUDE,
    *,
    tools: Sequence[Tool] = (),
    stream: bool = False,
    schema: dict[str, Any] | None = None,
    schema_name: str = "response",
    **params: Any,
) -> dict[str, Any]:
    """Encode (params validated as the pipeline does) and validate the body with botocore."""
    msgs = [Message.user(messages)] if isinstance(messages, str) else list(messages)
    checked, dropped = validate_params(P.param_schema(), params)
    assert not dropped
    req = Request(model(model_id), msgs, checked, tools, stream, schema, schema_name)
    body = P.encode_request(req)
    validate_request(body, model_id, stream)
    return body


# -- encode -------------------------------------------------------------------------------------------


def test_paths_encode_the_model_id() -> None:
    req = Request(model("us.anthropic.claude-sonnet-4-5-20250929-v1:0"), [])
    assert P.request_path(req) == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    req.stream = True
    assert P.request_path(req).endswith("%3A0/converse-stream")
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert P.request_path(Request(model(arn), [])) == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc/converse"
    )


def test_system_user_and_params() -> None:
    body = enc(
        [Message.system("Be brief."), Message.user("Hi"), Message.system("Really.")],
        max_tokens=64,
        temperature=0.3,
        top_p=0.9,
        stop="END",
        top_k=5,
        seed=7,
        parallel_tool_calls=False,
        service_tier="priority",
        request_metadata={"team": "a"},
        performance_config={"latency": "optimized"},
        guardrail_config={"guardrailIdentifier": "g1", "guardrailVersion": "1"},
        additional_model_response_field_paths=["/stop_sequence"],
    )
    assert body["system"] == [{"text": "Be brief."}, {"text": "Really."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]
    assert body["inferenceConfig"] == {"maxTokens": 64, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]}
    assert body["additionalModelRequestFields"] == {"top_k": 5}
    assert body["serviceTier"] == {"type": "priority"}
    assert body["requestMetadata"] == {"team": "a"}
    assert body["performanceConfig"] == {"latency": "optimized"}
    assert body["guardrailConfig"]["guardrailIdentifier"] == "g1"
    assert body["additionalModelResponseFieldPaths"] == ["/stop_sequence"]
    assert "seed" not in json.dumps(body)


def test_minimal_body_has_no_empty_sections() -> None:
    assert enc("Hi") == {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}


def test_nova_top_k_and_extra_fields_win() -> None:
    body = enc("Hi", "amazon.nova-pro-v1:0", top_k=3, additional_model_request_fields={"custom": 1})
    assert body["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 3}, "custom": 1}


def test_temperature_above_one_is_refused_before_sending() -> None:
    with pytest.raises(InvalidParams, match="temperature"):
        validate_params(P.param_schema(), {"temperature": 1.5})


@pytest.mark.parametrize(
    ("params", "thinking", "max_tokens"),
    [
        ({"reasoning_budget": 2000}, {"type": "enabled", "budget_tokens": 2000}, 6096),
        ({"reasoning_budget": 100, "max_tokens": 5000}, {"type": "enabled", "budget_tokens": 1024}, 5000),
        ({"reasoning_effort": "high", "max_tokens": 1000}, {"type": "enabled", "budget_tokens": 16384}, 17384),
        ({"reasoning_effort": "none"}, {"type": "disabled"}, None),
        ({"reasoning_budget": 0}, {"type": "disabled"}, None),
    ],
)
def test_claude_thinking(params: dict[str, Any], thinking: dict[str, Any], max_tokens: int | None) -> None:
    body = enc("Think", temperature=0.5, top_k=4, top_p=0.5, **params)
    assert body["additionalModelRequestFields"]["thinking"] == thinking
    inference = body.get("inferenceConfig", {})
    assert inference.get("maxTokens") == max_tokens
    if thinking["type"] == "enabled":  # the model refuses these while thinking
        assert "temperature" not in inference
        assert "topP" not in inference
        assert "top_k" not in body["additionalModelRequestFields"]
    else:
        assert inference["temperature"] == 0.5


def test_thinking_max_tokens_stays_within_the_model_limit() -> None:
    req = Request(model(max_tokens=8000), [Message.user("x")], {"reasoning_budget": 6000})
    assert P.encode_request(req)["inferenceConfig"] == {"maxTokens": 8000}
    req = Request(model(max_tokens=8000), [Message.user("x")], {"reasoning_budget": 9000})
    assert P.encode_request(req)["inferenceConfig"] == {"maxTokens": 9001}  # the model will say what is wrong


def test_reasoning_for_other_families() -> None:
    nova = enc("Hi", "us.amazon.nova-2-lite-v1:0", reasoning_effort="xhigh")
    assert nova["additionalModelRequestFields"] == {
        "reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}
    }
    oss = enc("Hi", "openai.gpt-oss-120b-1:0", reasoning_effort="low")
    assert oss["additionalModelRequestFields"] == {"reasoning_effort": "low"}
    assert "additionalModelRequestFields" not in enc("Hi", "meta.llama3-70b-instruct-v1:0", reasoning_effort="low")


def test_images_and_documents() -> None:
    pdf = b"%PDF-1.4 fake"
    body = enc(
        [
            Message.user(
                [
                    "Look",
                    ImagePart(b"\x89PNG", media_type="image/png"),
                    ImagePart(url="data:image/jpeg;base64," + base64.b64encode(b"jpg").decode()),
                    ImagePart(url="s3://bucket/cat.webp", media_type="image/webp"),
                    DocumentPart(pdf, name="Q3 report.final.pdf"),
                    DocumentPart(b"a,b", media_type="text/csv", name="data_1.csv"),
                    DocumentPart(b"# md", media_type="text/markdown"),
                ]
            )
        ]
    )
    content = body["messages"][0]["content"]
    assert content[0] == {"text": "Look"}
    assert content[1] == {"image": {"format": "png", "source": {"bytes": base64.b64encode(b"\x89PNG").decode()}}}
    assert content[2]["image"]["format"] == "jpeg"
    assert content[3] == {"image": {"format": "webp", "source": {"s3Location": {"uri": "s3://bucket/cat.webp"}}}}
    assert content[4] == {
        "document": {"format": "pdf", "name": "Q3 report-final", "source": {"bytes": base64.b64encode(pdf).decode()}}
    }
    assert content[5]["document"]["name"] == "data-1"  # only letters, digits, spaces, - ( ) [ ]
    assert content[5]["document"]["format"] == "csv"
    assert content[6]["document"]["name"] == "document-3"


@pytest.mark.parametrize(
    "part",
    [
        ImagePart(url="https://example.com/cat.png"),
        ImagePart(b"x", media_type="image/bmp"),
        DocumentPart(url="https://example.com/a.pdf"),
        DocumentPart(b"x", media_type="application/zip"),
    ],
)
def test_parts_bedrock_cannot_take(part: Any) -> None:
    with pytest.raises(UnsupportedInput):
        enc([Message.user(["x", part])])


def test_cache_points() -> None:
    body = enc(
        [
            Message.system("Long instructions", cache=True),
            Message.user("Doc", cache=True),
            Message("assistant", "Ok", cache=True),
            Message.user("Q"),
        ]
    )
    assert body["system"] == [{"text": "Long instructions"}, {"cachePoint": {"type": "default"}}]
    assert body["messages"][0]["content"] == [{"text": "Doc"}, {"cachePoint": {"type": "default"}}]
    assert body["messages"][1]["content"] == [{"text": "Ok"}, {"cachePoint": {"type": "default"}}]


WEATHER = Tool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def test_tool_round_trip_encoding() -> None:
    call = ToolCall("tooluse_abc", "get_weather", {"city": "Paris"}, '{"city": "Paris"}')
    msgs = [
        Message.user("Weather?"),
        Message.assistant("Checking.", tool_calls=[call]),
        Message.tool_result("tooluse_abc", "22C", name="get_weather"),
        Message.user("Thanks, and?"),
    ]
    body = enc(msgs, tools=[WEATHER, Tool("noop", strict=True)], tool_choice="get_weather")
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "Weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "tooluse_abc", "name": "get_weather", "input": {"city": "Paris"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tooluse_abc", "content": [{"text": "22C"}]}},
                {"text": "Thanks, and?"},
            ],
        },
    ]
    tools = body["toolConfig"]["tools"]
    assert tools[0] == {
        "toolSpec": {
            "name": "get_weather",
            "description": "Weather for a city",
            "inputSchema": {"json": WEATHER.json_schema()},
        }
    }
    assert tools[1] == {
        "toolSpec": {"name": "noop", "inputSchema": {"json": {"type": "object", "properties": {}}}, "strict": True}
    }
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}


def test_tool_results_missing_orphaned_errors_and_foreign_ids() -> None:
    a = ToolCall("call_1|x", "get_weather", {"city": "A"}, '{"city":"A"}')
    b = ToolCall("call_2", "get_weather", {"city": "B"}, '{"city":"B"}')
    msgs = [
        Message.user("Both?"),
        Message.assistant(tool_calls=[a, b]),
        Message.tool_result("call_1|x", "boom", is_error=True),
        Message.tool_result("call_9", "stray", name="ghost"),
        Message.user("go on"),
    ]
    body = enc(msgs, tools=[WEATHER])
    turn = body["messages"][2]["content"]
    assert turn[0] == {
        "toolResult": {"toolUseId": tool_id("call_1|x"), "content": [{"text": "boom"}], "status": "error"}
    }
    assert tool_id("call_1|x") == body["messages"][1]["content"][0]["toolUse"]["toolUseId"]
    assert tool_id("call_1|x") == tool_id("call_1|x") != "call_1|x"
    assert turn[1]["toolResult"]["toolUseId"] == "call_2"  # a call left unanswered gets an error result
    assert turn[1]["toolResult"]["status"] == "error"
    assert turn[2] == {"text": "Result of tool ghost: stray"}  # a result for no call of the previous turn
    assert turn[3] == {"text": "go on"}
    assert "toolChoice" not in body["toolConfig"]


def test_tool_choice_mapping() -> None:
    assert enc("x", tools=[WEATHER], tool_choice="auto")["toolConfig"]["toolChoice"] == {"auto": {}}
    assert enc("x", tools=[WEATHER], tool_choice="required")["toolConfig"]["toolChoice"] == {"any": {}}
    assert "toolConfig" not in enc("x", tools=[WEATHER], tool_choice="none")


def test_tool_blocks_without_tools_get_a_tool_config() -> None:
    call = ToolCall("t1", "lookup", {}, "{}")
    body = enc(
        [Message.user("q"), Message.assistant(tool_calls=[call]), Message.tool_result("t1", "r")], tool_choice="none"
    )
    assert body["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]
    }


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def test_structured_output_forced_tool() -> None:
    body = enc("Who?", tools=[WEATHER], schema=SCHEMA, schema_name="Person Info")
    tools = body["toolConfig"]["tools"]
    assert [t["toolSpec"]["name"] for t in tools] == ["get_weather", "Person_Info"]
    assert tools[1]["toolSpec"]["inputSchema"] == {"json": SCHEMA}
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "Person_Info"}}
    assert P.encode_response_schema(SCHEMA, "response")["toolConfig"]["toolChoice"] == {"tool": {"name": "response"}}
    thinking = enc("Who?", schema=SCHEMA, reasoning_budget=2048)
    assert thinking["toolConfig"]["toolChoice"] == {"auto": {}}  # Claude refuses a forced tool while thinking


def test_structured_output_native() -> None:
    body = enc("Who?", schema=SCHEMA, schema_name="Person", structured_output="native")
    assert "toolConfig" not in body
    fmt = body["outputConfig"]["textFormat"]
    assert fmt["type"] == "json_schema"
    assert json.loads(fmt["structure"]["jsonSchema"]["schema"]) == SCHEMA
    assert fmt["structure"]["jsonSchema"]["name"] == "Person"


@pytest.mark.parametrize(
    ("part", "model_id", "expected"),
    [
        (
            ThinkingPart("hmm", "sig==", provider="amazon-bedrock"),
            CLAUDE,
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig=="}}},
        ),
        (
            ThinkingPart("hmm", "sig==", provider_data=PROTOCOL_MARK),
            CLAUDE,
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig=="}}},
        ),
        (
            ThinkingPart("", "b3BhcXVl", redacted=True, provider_data=PROTOCOL_MARK),
            CLAUDE,
            {"reasoningContent": {"redactedContent": "b3BhcXVl"}},
        ),
        (
            ThinkingPart("hmm", "sig==", provider="anthropic"),
            CLAUDE,
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig=="}}},
        ),
        (
            ThinkingPart("hmm", "sig==", provider_data={"protocol": "anthropic_messages"}),
            "amazon.nova-pro-v1:0",
            {"text": "hmm"},
        ),
        (ThinkingPart("hmm", "enc", provider="openai"), CLAUDE, {"text": "hmm"}),
        (ThinkingPart("hmm", None, provider="amazon-bedrock"), CLAUDE, {"text": "hmm"}),
        (ThinkingPart("", "opaque", redacted=True, provider="openai"), CLAUDE, None),
    ],
)
def test_thinking_replay(part: ThinkingPart, model_id: str, expected: dict[str, Any] | None) -> None:
    body = enc([Message.user("q"), Message("assistant", (part, TextPart("answer"))), Message.user("more")], model_id)
    content = body["messages"][1]["content"]
    assert content == ([expected] if expected else []) + [{"text": "answer"}]


# -- decode -------------------------------------------------------------------------------------------


def _body(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> dict[str, Any]:
    u = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15, **usage}
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": u,
        "metrics": {"latencyMs": 1},
    }


def test_decode_text_tools_reasoning_and_usage() -> None:
    resp = P.decode_response(
        _body(
            [
                {"reasoningContent": {"reasoningText": {"text": "think", "signature": "SIG"}}},
                {"reasoningContent": {"redactedContent": "UkVEQUNURUQ="}},
                {"text": "Hello "},
                {"citationsContent": {"content": [{"text": "cited."}], "citations": []}},
                {"toolUse": {"toolUseId": "tooluse_1", "name": "f", "input": {"a": [1, "ü"]}, "type": "tool_use"}},
                {
                    "toolUse": {
                        "toolUseId": "srv_1",
                        "name": "nova_code_interpreter",
                        "input": {},
                        "type": "server_tool_use",
                    }
                },
                {"toolResult": {"toolUseId": "srv_1", "content": [{"json": {}}]}},
            ],
            "tool_use",
            cacheReadInputTokens=100,
            cacheWriteInputTokens=7,
            totalTokens=122,
        )
    )
    assert resp.text == "Hello cited."
    assert resp.reasoning == "think"
    assert [(c.id, c.name, dict(c.arguments)) for c in resp.tool_calls] == [("tooluse_1", "f", {"a": [1, "ü"]})]
    assert json.loads(resp.tool_calls[0].arguments_json) == {"a": [1, "ü"]}
    thinking = [p for p in resp.parts if isinstance(p, ThinkingPart)]
    assert (thinking[0].signature, thinking[0].redacted) == ("SIG", False)
    assert (thinking[1].signature, thinking[1].redacted) == ("UkVEQUNURUQ=", True)
    assert resp.finish_reason == "tool_use"
    assert resp.provider_finish_reason == "tool_use"
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (10, 5, 100, 7)
    assert u.total_tokens == 122


@pytest.mark.parametrize(
    ("raw", "unified"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_use"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("malformed_model_output", "error"),
        ("malformed_tool_use", "error"),
        ("some_future_reason", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons(raw: str | None, unified: str) -> None:
    assert map_finish(P.finish_reasons, raw) == unified
    assert P.decode_response(_body([{"text": "x"}], raw or "")).finish_reason == unified


def test_usage_legacy_names() -> None:
    u = decode_usage(
        {"inputTokens": 1, "outputTokens": 2, "cacheReadInputTokenCount": 3, "cacheWriteInputTokenCount": 4}
    )
    assert (u.cache_read_tokens, u.cache_write_tokens, u.total_tokens) == (3, 4, 10)
    assert decode_usage(None).total_tokens == 0


def test_decode_error() -> None:
    assert P.decode_error(400, {"message": "Malformed input"}) == ("Malformed input", "ValidationException")
    assert P.decode_error(429, {"message": "Too many"}) == ("Too many", "ThrottlingException")
    assert P.decode_error(400, {"message": "m", "__type": "com.amazon.coral#ServiceQuotaExceededException"}) == (
        "m",
        "ServiceQuotaExceededException",
    )
    assert P.decode_error(502, "<html>bad gateway</html>") == ("<html>bad gateway</html>", None)


# -- stream -------------------------------------------------------------------------------------------


def run(frames: Sequence[bytes], chunk: int | None = None) -> tuple[list[StreamEvent], Response, StreamResult]:
    """Feed frames through the event-stream decoder and the protocol, as the stream core does."""
    body = b"".join(frames)
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    state = P.init_stream()
    state.provider, state.model = "amazon-bedrock", CLAUDE
    dec = EventStreamDecoder()
    events: list[StreamEvent] = []
    for c in [*chunks, None]:
        for fr in dec.feed(c) if c is not None else dec.flush():
            result = P.decode_stream_chunk(state, fr)
            events += result.events
            if not isinstance(result, StreamContinue):
                return events, _final(result), result
            state = result.state
    result = P.end_of_stream(state)
    events += result.events
    return events, _final(result), result


def _final(result: StreamResult) -> Response:
    if isinstance(result, StreamDone):
        return result.response
    assert isinstance(result, StreamFailed)
    resp = result.events[-1].response
    assert resp is not None
    return resp


def _start() -> bytes:
    return frame("messageStart", {"role": "assistant"})


def _stop(reason: str = "end_turn") -> bytes:
    return frame("messageStop", {"stopReason": reason})


def _meta(i: int = 9, o: int = 4, **extra: int) -> bytes:
    return frame(
        "metadata",
        {"usage": {"inputTokens": i, "outputTokens": o, "totalTokens": i + o, **extra}, "metrics": {"latencyMs": 5}},
    )


def _delta(i: int, delta: dict[str, Any]) -> bytes:
    return frame("contentBlockDelta", {"contentBlockIndex": i, "delta": delta})


@pytest.mark.parametrize("chunk", [None, 1, 9])
def test_text_stream_reads_metadata_after_message_stop(chunk: int | None) -> None:
    events, resp, result = run(
        [
            _start(),
            _delta(0, {"text": "Hel"}),
            _delta(0, {"text": "lo"}),
            frame("contentBlockStop", {"contentBlockIndex": 0}),
            _stop(),
            _meta(cacheReadInputTokens=3),
        ],
        chunk,
    )
    assert isinstance(result, StreamDone)
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_delta", "text_end", "done"]
    assert resp.text == "Hello"
    assert resp.finish_reason == "stop"
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.cache_read_tokens) == (9, 4, 3)


def test_stream_ending_after_message_stop_without_metadata_is_done() -> None:
    _, resp, result = run([_start(), _delta(0, {"text": "x"}), _stop("max_tokens")])
    assert isinstance(result, StreamDone)
    assert resp.finish_reason == "length"
    assert resp.usage.total_tokens == 0


def test_metadata_before_message_stop_waits_for_the_stop() -> None:
    # Some recorded fixtures (vercel-ai) put metadata first: the stream ends once both were seen.
    events, resp, result = run([_start(), _delta(0, {"text": "x"}), _meta(5, 1), _stop("max_tokens")])
    assert isinstance(result, StreamDone)
    assert [e.type for e in events][-1] == "done"
    assert (resp.finish_reason, resp.usage.total_tokens) == ("length", 6)


def test_stream_ending_before_message_stop_is_an_error() -> None:
    events, resp, result = run([_start(), _delta(0, {"text": "partial"})])
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, syc.ResponseInvalid)
    assert events[-1].type == "error"
    assert resp.text == "partial"


def test_tool_call_stream() -> None:
    frames = [
        _start(),
        _delta(0, {"text": "Let me check."}),
        frame("contentBlockStop", {"contentBlockIndex": 0}),
        frame(
            "contentBlockStart",
            {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_9", "name": "get_weather"}}},
        ),
        _delta(1, {"toolUse": {"input": ""}}),
        _delta(1, {"toolUse": {"input": '{"ci'}}),
        _delta(1, {"toolUse": {"input": 'ty": "Paris"}'}}),
        frame("contentBlockStop", {"contentBlockIndex": 1}),
        _stop("tool_use"),
        _meta(),
    ]
    events, resp, _ = run(frames, 4)
    assert [e.delta for e in events if e.type == "toolcall_delta"] == ['{"ci', 'ty": "Paris"}']
    end = next(e for e in events if e.type == "toolcall_end")
    assert end.tool_call is not None
    assert (end.tool_call.id, end.tool_call.name, dict(end.tool_call.arguments)) == (
        "tooluse_9",
        "get_weather",
        {"city": "Paris"},
    )
    assert resp.finish_reason == "tool_use"
    assert resp.text == "Let me check."


def test_server_tool_blocks_are_not_client_calls() -> None:
    frames = [
        _start(),
        frame(
            "contentBlockStart",
            {
                "contentBlockIndex": 0,
                "start": {"toolUse": {"toolUseId": "s1", "name": "nova_code_interpreter", "type": "server_tool_use"}},
            },
        ),
        _delta(0, {"toolUse": {"input": "{}"}}),
        frame("contentBlockStop", {"contentBlockIndex": 0}),
        frame("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolResult": {"toolUseId": "s1"}}}),
        _delta(1, {"toolResult": [{"json": {"stdOut": "4"}}]}),
        frame("contentBlockStop", {"contentBlockIndex": 1}),
        _delta(2, {"text": "4"}),
        _stop(),
        _meta(),
    ]
    _, resp, _ = run(frames)
    assert resp.tool_calls == []
    assert resp.text == "4"
    assert resp.finish_reason == "stop"


def test_reasoning_signature_round_trip() -> None:
    frames = [
        _start(),
        _delta(0, {"reasoningContent": {"text": "Let me "}}),
        _delta(0, {"reasoningContent": {"text": "think."}}),
        _delta(0, {"reasoningContent": {"signature": "EqQBCkgIARABGAIiQH=="}}),
        frame("contentBlockStop", {"contentBlockIndex": 0}),
        _delta(1, {"reasoningContent": {"redactedContent": "b3BhcXVlLWJ5dGVz"}}),
        frame("contentBlockStop", {"contentBlockIndex": 1}),
        _delta(2, {"text": "42"}),
        _stop(),
        _meta(),
    ]
    events, resp, _ = run(frames, 3)
    assert [e.delta for e in events if e.type == "thinking_delta"] == ["Let me ", "think."]
    assert resp.reasoning == "Let me think."
    thinking = [p for p in resp.parts if isinstance(p, ThinkingPart)]
    assert [(t.text, t.signature, t.redacted) for t in thinking] == [
        ("Let me think.", "EqQBCkgIARABGAIiQH==", False),
        ("", "b3BhcXVlLWJ5dGVz", True),
    ]
    # the answer survives serialisation and is replayed, signature intact, on the same provider
    context = syc.Context.from_json(syc.Context((Message.user("q"), resp.message)).to_json())
    body = enc([*context.messages, Message.user("and?")])
    assert body["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "Let me think.", "signature": "EqQBCkgIARABGAIiQH=="}}},
        {"reasoningContent": {"redactedContent": "b3BhcXVlLWJ5dGVz"}},
        {"text": "42"},
    ]
    # the non-streaming decoder gives the same replayable parts
    decoded = P.decode_response(
        _body(
            [
                {"reasoningContent": {"reasoningText": {"text": "Let me think.", "signature": "EqQBCkgIARABGAIiQH=="}}},
                {"text": "42"},
            ]
        )
    )
    replay = enc([Message.user("q"), decoded.message, Message.user("and?")])
    assert replay["messages"][1]["content"][0] == body["messages"][1]["content"][0]


@pytest.mark.parametrize(
    ("exception", "cls", "status"),
    [
        ("throttlingException", syc.RateLimited, 429),
        ("serviceUnavailableException", syc.Overloaded, 503),
        ("internalServerException", syc.ServerError, 500),
        ("modelStreamErrorException", syc.ServerError, 424),
        ("validationException", syc.BadRequest, 400),
        ("modelTimeoutException", syc.Timeout, 408),
        ("somethingNewException", syc.StreamError, None),
    ],
)
def test_exception_frames_keep_the_partial_answer(exception: str, cls: type[Exception], status: int | None) -> None:
    frames = [
        _start(),
        _delta(0, {"text": "partial"}),
        frame(exception, {"message": f"{exception} happened"}, message_type="exception"),
        _stop(),
        _meta(),
    ]
    events, resp, result = run(frames, 7)
    assert isinstance(result, StreamFailed)
    assert type(result.error) is cls
    assert getattr(result.error, "status_code", None) == status
    assert f"{exception} happened" in str(result.error)
    assert events[-1].type == "error"
    assert resp.text == "partial"
    assert resp.finish_reason == "error"


def test_generic_error_frame_and_unknown_events() -> None:
    err = EventStreamMessage(
        {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "it broke"}, b""
    )
    state = P.init_stream()
    assert isinstance(
        P.decode_stream_chunk(state, EventStreamMessage({":event-type": "futureEvent"}, b"{}")), StreamContinue
    )
    result = P.decode_stream_chunk(state, err)
    assert isinstance(result, StreamFailed)
    assert "InternalFailure: it broke" in str(result.error)


def test_invalid_json_payload_raises_a_value_error() -> None:
    state = P.init_stream()
    with pytest.raises(ValueError):
        P.decode_stream_chunk(state, EventStreamMessage({":event-type": "contentBlockDelta"}, b"{not json"))


def test_catalog_row() -> None:
    info = resolve_model("bedrock:anthropic.claude-3-5-sonnet-20241022-v2:0")
    assert (info.provider, info.id, info.api, info.auth) == (
        "amazon-bedrock",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock_converse",
        "optional",
    )
    assert info.base_url == "https://bedrock-runtime.{region}.amazonaws.com"
    assert info.env == ("AWS_BEARER_TOKEN_BEDROCK",)


# -- wrong shapes, failed finishes, None vs absent -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"message": "The security token included in the request is invalid."}, "security token"),
        ({"Message": "Internal failure"}, "Internal failure"),
        ({"output": {}, "stopReason": "end_turn"}, None),
        ({"output": {"message": {"role": "assistant", "content": "hi"}}}, None),
        ({"output": {"message": {"role": "assistant", "content": ["hi"]}}}, None),
        ([{"output": {}}], None),
        ("<html>502</html>", "<html>502</html>"),
    ],
)
def test_wrong_shape_bodies_raise_response_invalid(body: Any, said: str | None) -> None:
    with pytest.raises(syc.ResponseInvalid) as info:
        P.decode_response(body)
    assert info.value.body == body
    if said:
        assert said in str(info.value)


def test_empty_content_is_a_valid_empty_answer() -> None:
    resp = P.decode_response(_body([], "end_turn"))
    assert (resp.text, resp.finish_reason, resp.parts) == ("", "stop", [])


def test_malformed_output_ends_the_stream_with_an_error_event() -> None:
    events, resp, result = run([_start(), _delta(0, {"text": "half"}), _stop("malformed_model_output"), _meta()])
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, syc.StreamError)
    assert "malformed_model_output" in str(result.error)
    assert [e.type for e in events].count("done") == 0
    assert events[-1].type == "error"
    assert (resp.text, resp.finish_reason, resp.provider_finish_reason) == ("half", "error", "malformed_model_output")
    _, _, ended = run([_start(), _delta(0, {"text": "x"}), _stop("malformed_tool_use")])  # body ends, no metadata
    assert isinstance(ended, StreamFailed)


def test_unknown_stop_reason_in_a_stream_is_stop() -> None:
    events, resp, result = run([_start(), _delta(0, {"text": "x"}), _stop("brand_new"), _meta()])
    assert isinstance(result, StreamDone)
    assert (events[-1].reason, resp.provider_finish_reason) == ("stop", "brand_new")


def test_null_usage_field_falls_back_to_the_other_name() -> None:
    u = decode_usage({"inputTokens": 1, "outputTokens": 2, "cacheReadInputTokens": None, "cacheReadInputTokenCount": 6})
    assert u.cache_read_tokens == 6
    u = decode_usage({"inputTokens": "4", "outputTokens": 2.0, "totalTokens": 999})
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (4, 2, 6)


def test_a_frame_that_is_not_an_object_raises_response_invalid() -> None:
    state = P.init_stream()
    (fr,) = EventStreamDecoder().feed(frame("contentBlockDelta", [1, 2]))  # type: ignore[arg-type]
    with pytest.raises(syc.ResponseInvalid):
        P.decode_stream_chunk(state, fr)


def test_tool_input_given_as_json_text_is_kept() -> None:
    resp = P.decode_response(_body([{"toolUse": {"toolUseId": "t1", "name": "f", "input": '{"a": 1}'}}], "tool_use"))
    assert dict(resp.tool_calls[0].arguments) == {"a": 1}
    assert resp.tool_calls[0].parse_error is None
