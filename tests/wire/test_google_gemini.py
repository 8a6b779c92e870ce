"""The ``google_gemini`` chat protocol and the ``google`` auth strategy.

Pure encode/decode/stream tests call the protocol directly; every request body the library encodes
here is parsed by the official protos (``validate_gemini_request``), and the fields the packaged protos
do not know yet are asserted explicitly. A few end-to-end calls go through the public API against a
scripted server on 127.0.0.1 to check the path, the ``x-goog-api-key`` header and that the key never
shows in the URL, a log record or an exception text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from google.ai.generativelanguage_v1beta.types import content as gl_content
from google.protobuf.json_format import ParseDict

import sycophant_py as syc
from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import InvalidMessage, ResponseInvalid, StreamError
from sycophant_py._models import ModelInfo
from sycophant_py._params import validate_params
from sycophant_py._sse import SSEDecoder
from sycophant_py._types import (
    Context,
    DocumentPart,
    ImagePart,
    Message,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
)
from sycophant_py.auth._base import Credentials, HttpRequest
from sycophant_py.auth.google import GoogleAuth
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire._base import Request, StreamContinue, StreamDone, StreamFailed, StreamResult
from sycophant_py.wire._util import MISSING_RESULT, map_finish, new_call_id
from sycophant_py.wire.google_gemini import (
    SKIP_SIGNATURE,
    GoogleGemini,
    GoogleGeminiParams,
    decode_usage,
    to_gemini_schema,
)
from tests.contract.dialects.google_gemini import validate_gemini_request

FLASH = ModelInfo(provider="google", id="gemini-2.5-flash", api="google_gemini")
PRO = ModelInfo(provider="google", id="gemini-2.5-pro", api="google_gemini")
G3 = ModelInfo(provider="google", id="gemini-3-flash-preview", api="google_gemini")
G3_PRO = ModelInfo(provider="google", id="gemini-3.1-pro-preview", api="google_gemini")
G20 = ModelInfo(provider="google", id="gemini-2.0-flash", api="google_gemini")
SIG = "CiQBDDnWx5J7BZKLt6wqG6ZiRoyqCHCXh+YdfVMntTqD0SnZDT4="
PNG = b"\x89PNG\r\n\x1a\nfake"
WEATHER = Tool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

proto = GoogleGemini()


def encode(
    messages: Sequence[Message],
    *,
    model: ModelInfo = FLASH,
    params: dict[str, Any] | None = None,
    tools: Sequence[Tool] = (),
    stream: bool = False,
    schema: dict[str, Any] | None = None,
    waived: Sequence[str] = (),
) -> dict[str, Any]:
    """Encode through param validation and check the body with the protos (``waived``: expected false rejections)."""
    validated, dropped = validate_params(GoogleGeminiParams, params or {})
    assert not dropped
    body = proto.encode_request(Request(model, messages, validated, tools, stream, schema))
    assert validate_gemini_request(body, model=f"models/{model.id}") == list(waived)
    return body


def candidate(*parts: dict[str, Any], finish: str | None = "STOP") -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return cand


def body_of(*parts: dict[str, Any], finish: str | None = "STOP", usage: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "candidates": [candidate(*parts, finish=finish)],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r-1",
    }
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def sse(*chunks: dict[str, Any]) -> bytes:
    return "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks).encode()


def run_stream(
    body: bytes, *, size: int | None = None, provider: str = "google"
) -> tuple[list[StreamEvent], StreamResult]:
    """Feed ``body`` (in ``size``-byte pieces) through SSEDecoder and the protocol, as the pipeline does."""
    decoder = SSEDecoder()
    state = proto.init_stream()
    state.provider, state.model = provider, "gemini-2.5-flash"
    events: list[StreamEvent] = []
    pieces = [body[i : i + size] for i in range(0, len(body), size)] if size else [body]
    frames = [f for piece in pieces for f in decoder.feed(piece)] + decoder.flush()
    for frame in frames:
        result = proto.decode_stream_chunk(state, frame)
        events.extend(result.events)
        if not isinstance(result, StreamContinue):
            return events, result
        state = result.state
    result = proto.end_of_stream(state)
    events.extend(result.events)
    return events, result


def g3(body: dict[str, Any]) -> dict[str, Any]:
    """A body as Gemini 3 Flash reports it (its thought signatures are refused by another generation)."""
    return {**body, "modelVersion": "gemini-3-flash-preview"}


def final_response(events: list[StreamEvent]) -> Response:
    resp = events[-1].response
    assert resp is not None
    return resp


# -- paths, params, auth ---------------------------------------------------------------------------


def test_paths_and_names() -> None:
    assert proto.request_path(Request(FLASH, [])) == "/models/{model}:generateContent"
    assert proto.request_path(Request(FLASH, [], stream=True)) == "/models/{model}:streamGenerateContent?alt=sse"
    tuned = ModelInfo(provider="google", id="tunedModels/my-model", api="google_gemini")
    assert proto.request_path(Request(tuned, [])) == "/{model}:generateContent"
    assert proto.name == "google_gemini"
    assert proto.stream_transport == "sse"
    assert proto.param_schema() is GoogleGeminiParams


def test_google_auth_header_and_masking() -> None:
    auth = GoogleAuth()
    key = "AIzaSy-secret-key-0123456789"
    req = HttpRequest("POST", "https://x/v1beta/models/m:generateContent")
    for mw in auth.middlewares(Credentials(api_key=key)):
        req = mw(req)
    assert req.headers == {"x-goog-api-key": key}
    assert req.params == {}
    assert key not in req.url
    assert key not in repr(req)
    assert key not in repr(Credentials(api_key=key))
    token_req = HttpRequest("POST", "https://x")
    for mw in auth.middlewares(Credentials(access_token="ya29.token")):
        token_req = mw(token_req)
    assert token_req.headers == {"authorization": "Bearer ya29.token"}
    assert auth.middlewares(Credentials()) == []
    assert auth.name == "google"


# -- encoding: messages ----------------------------------------------------------------------------


def test_system_roles_and_multi_turn() -> None:
    body = encode(
        [
            Message.system("Be brief."),
            Message.user("Capital?"),
            Message.assistant("Paris."),
            Message.system("Answer in French."),
            Message.user("Population?"),
        ]
    )
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Capital?"}]},
        {"role": "model", "parts": [{"text": "Paris."}]},
        {"role": "user", "parts": [{"text": "Population?"}]},
    ]
    assert "generationConfig" not in body
    assert "tools" not in body


def test_consecutive_messages_of_one_role_merge_and_empty_ones_vanish() -> None:
    body = encode([Message.user("a"), Message.user("b"), Message.assistant(""), Message.user("c")])
    assert body["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}]


def test_images_and_documents() -> None:
    msg = Message.user(
        [
            "Look:",
            ImagePart(data=PNG),
            ImagePart(url="https://example.com/cat.jpg"),
            ImagePart(url="data:image/webp;base64,UklGRg=="),
            DocumentPart(data=b"%PDF-1.4", media_type="application/pdf"),
            DocumentPart(url="https://example.com/report.pdf?x=1"),
            DocumentPart(url="gs://bucket/file", media_type="text/plain"),
        ]
    )
    parts = encode([msg])["contents"][0]["parts"]
    assert parts == [
        {"text": "Look:"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgpmYWtl"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
        {"inlineData": {"mimeType": "image/webp", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjQ="}},
        {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/report.pdf?x=1"}},
        {"fileData": {"mimeType": "text/plain", "fileUri": "gs://bucket/file"}},
    ]


def test_user_message_cannot_hold_tool_calls() -> None:
    with pytest.raises(InvalidMessage, match="user message"):
        encode([Message.user([ToolCall("c", "f")])])


def test_tool_calls_and_results() -> None:
    calls = [
        ToolCall.from_json("call_1", "get_weather", '{"city": "Paris"}', provider_data={"thought_signature": SIG}),
        ToolCall.from_json("call_2", "get_time", ""),
    ]
    body = encode(
        [
            Message.user("Weather and time?"),
            Message.assistant("Checking.", tool_calls=calls),
            Message.tool_result("call_1", "sunny"),
            Message.tool_result("call_2", "boom", is_error=True),
            Message.user("Thanks"),
        ],
        tools=[WEATHER, Tool("get_time")],
    )
    assert body["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "Checking."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }
    assert body["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
            {"functionResponse": {"name": "get_time", "response": {"error": "boom"}}},
        ],
    }
    assert body["contents"][3] == {"role": "user", "parts": [{"text": "Thanks"}]}


def test_gemini_ids_are_echoed_and_made_up_ids_are_not() -> None:
    own = ToolCall("abc123", "get_weather", {"city": "Rome"}, '{"city": "Rome"}', {"gemini_id": "abc123"})
    ours = ToolCall("call_ff", "get_weather", {"city": "Oslo"}, '{"city": "Oslo"}')
    body = encode(
        [
            Message.user("?"),
            Message.assistant(tool_calls=[own, ours]),
            Message.tool_result("abc123", "warm"),
            Message.tool_result("call_ff", "cold"),
        ]
    )
    fcs = [p["functionCall"] for p in body["contents"][1]["parts"]]
    frs = [p["functionResponse"] for p in body["contents"][2]["parts"]]
    assert fcs[0]["id"] == "abc123"
    assert "id" not in fcs[1]
    assert frs[0] == {"name": "get_weather", "id": "abc123", "response": {"result": "warm"}}
    assert "id" not in frs[1]


def test_tool_result_with_an_image_and_a_name_from_the_message() -> None:
    body = encode([Message.user("?"), Message.tool_result("elsewhere", ["chart", ImagePart(data=PNG)], name="plot")])
    assert body["contents"][1]["parts"] == [
        {"functionResponse": {"name": "plot", "response": {"result": "chart"}}},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgpmYWtl"}},
    ]


def test_tool_result_without_a_known_name_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="needs the tool name"):
        encode([Message.user("?"), Message.tool_result("nobody", "x")])


def test_missing_tool_results_are_filled_in() -> None:
    calls = [ToolCall("a", "f", {}), ToolCall("b", "g", {})]
    body = encode(
        [Message.user("?"), Message.assistant(tool_calls=calls), Message.tool_result("a", "ok"), Message.user("go on")]
    )
    assert [p["functionResponse"]["name"] for p in body["contents"][2]["parts"]] == ["f", "g"]
    assert body["contents"][3] == {"role": "user", "parts": [{"text": "go on"}]}
    # The same synthetic result as on every protocol (``wire._util.MISSING_RESULT``).
    assert body["contents"][2]["parts"][1]["functionResponse"]["response"]["error"] == MISSING_RESULT
    tail = encode([Message.user("?"), Message.assistant(tool_calls=calls[:1])])
    assert tail["contents"][-1]["parts"][0]["functionResponse"]["name"] == "f"


def test_gemini3_gets_the_placeholder_signature_for_foreign_calls_only() -> None:
    foreign = [
        Message.user("?"),
        Message.assistant(tool_calls=[ToolCall("x", "f", {}), ToolCall("y", "f", {})]),
        Message.tool_result("x", "1"),
        Message.tool_result("y", "2"),
    ]
    parts = encode(foreign, model=G3)["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == SKIP_SIGNATURE
    assert "thoughtSignature" not in parts[1]
    assert "thoughtSignature" not in encode(foreign, model=FLASH)["contents"][1]["parts"][0]
    signed = [
        Message.user("?"),
        Message.assistant(tool_calls=[ToolCall("x", "f", {}, "{}", {"thought_signature": SIG})]),
        Message.tool_result("x", "1"),
    ]
    assert encode(signed, model=G3)["contents"][1]["parts"][0]["thoughtSignature"] == SIG
    forced = ModelInfo(provider="google", id="custom", api="google_gemini", compat={"thought_signature_required": True})
    assert encode(foreign, model=forced)["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


def test_thinking_replay_on_the_same_provider_and_as_text_elsewhere() -> None:
    own = ThinkingPart("I think.", SIG, provider="google", provider_data={"gemini": "thought"})
    unsigned = ThinkingPart("More.", None, provider=None, provider_data={"gemini": "thought"})
    text_sig = ThinkingPart("", SIG, provider="google", provider_data={"gemini": "text_signature"})
    code = ThinkingPart(
        "",
        provider="google",
        provider_data={"gemini": "part", "part": {"executableCode": {"language": "PYTHON", "code": "print(1)"}}},
    )
    foreign = ThinkingPart("Claude thought.", "anthropic-sig", provider="anthropic")
    moved = ThinkingPart("Other google-ish.", SIG, provider="vertex", provider_data={"gemini": "thought"})
    msg = Message("assistant", (own, unsigned, TextPart("Answer."), text_sig, code, foreign, moved))
    parts = encode([Message.user("?"), msg])["contents"][1]["parts"]
    assert parts == [
        {"text": "I think.", "thought": True, "thoughtSignature": SIG},
        {"text": "More.", "thought": True},
        {"text": "Answer.", "thoughtSignature": SIG},
        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
        {"text": "Claude thought."},
        {"text": "Other google-ish."},
    ]
    lone = Message("assistant", (ToolCall("c", "f", {}), text_sig))
    assert encode([Message.user("?"), lone, Message.tool_result("c", "x")])["contents"][1]["parts"][1] == {
        "text": "",
        "thoughtSignature": SIG,
    }


# -- encoding: tools, config, structured output ----------------------------------------------------


def test_tools_and_tool_config() -> None:
    tools = [WEATHER, Tool("ping"), Tool("empty", "No args", {"type": "object", "properties": {}})]
    body = encode([Message.user("?")], tools=tools, params={"tool_choice": "required"})
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]},
                },
                {"name": "ping"},
                {"name": "empty", "description": "No args"},
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    for choice, config in (
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("get_weather", {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
        ({"mode": "VALIDATED"}, {"mode": "VALIDATED"}),
    ):
        got = encode([Message.user("?")], tools=[WEATHER], params={"tool_choice": choice})  # a dict passes through
        assert got["toolConfig"]["functionCallingConfig"] == config
    assert "toolConfig" not in encode([Message.user("?")], params={"tool_choice": "auto"})


def test_generation_config_and_passthrough_params() -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    body = encode(
        [Message.user("?")],
        params={
            "temperature": 0.3,
            "top_p": 0.9,
            "top_k": 40,
            "max_tokens": 256,
            "stop": "END",
            "seed": 7,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
            "response_mime_type": "text/plain",
            "safety_settings": safety,
            "cached_content": "cachedContents/abc",
            "parallel_tool_calls": True,
            "service_tier": "flex",
        },
    )
    assert body["generationConfig"] == {
        "temperature": 0.3,
        "topP": 0.9,
        "topK": 40,
        "maxOutputTokens": 256,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
        "responseMimeType": "text/plain",
        "stopSequences": ["END"],
    }
    assert body["safetySettings"] == safety
    assert body["cachedContent"] == "cachedContents/abc"
    # extra_body goes in as it is; ``labels`` is a Vertex AI field the Gemini API protos (rightly) refuse.
    raw = proto.encode_request(Request(FLASH, [Message.user("?")], {"extra_body": {"labels": {"team": "a"}}}))
    assert raw["labels"] == {"team": "a"}
    assert encode([Message.user("?")], params={"stop": ["a", "b"]})["generationConfig"] == {"stopSequences": ["a", "b"]}


@pytest.mark.parametrize(
    ("model", "params", "thinking", "waived"),
    [
        (FLASH, {"reasoning_budget": 1024}, {"thinkingBudget": 1024, "includeThoughts": True}, []),
        (FLASH, {"reasoning_budget": 0}, {"thinkingBudget": 0}, []),
        (FLASH, {"reasoning_effort": "none"}, {"thinkingBudget": 0}, []),
        (FLASH, {"reasoning_effort": "low"}, {"thinkingBudget": 2048, "includeThoughts": True}, []),
        (FLASH, {"reasoning_effort": "xhigh"}, {"thinkingBudget": 24576, "includeThoughts": True}, []),
        (PRO, {"reasoning_effort": "none"}, {"thinkingBudget": 128}, []),
        (PRO, {"reasoning_effort": "xhigh"}, {"thinkingBudget": 32768, "includeThoughts": True}, []),
        (
            FLASH,
            {"reasoning_effort": "high", "include_thoughts": False},
            {"thinkingBudget": 24576, "includeThoughts": False},
            [],
        ),
        (FLASH, {"include_thoughts": True}, {"includeThoughts": True}, []),
        (
            G3,
            {"reasoning_effort": "minimal"},
            {"thinkingLevel": "MINIMAL", "includeThoughts": True},
            ["generationConfig.thinkingConfig.thinkingLevel"],
        ),
        (
            G3,
            {"reasoning_effort": "medium"},
            {"thinkingLevel": "MEDIUM", "includeThoughts": True},
            ["generationConfig.thinkingConfig.thinkingLevel"],
        ),
        (
            G3_PRO,
            {"reasoning_effort": "none"},
            {"thinkingLevel": "LOW"},
            ["generationConfig.thinkingConfig.thinkingLevel"],
        ),
        (G3, {"reasoning_budget": 512}, {"thinkingBudget": 512, "includeThoughts": True}, []),
        (
            FLASH,
            {"thinking_level": "high"},
            {"thinkingLevel": "HIGH", "includeThoughts": True},
            ["generationConfig.thinkingConfig.thinkingLevel"],
        ),
    ],
)
def test_thinking_config(model: ModelInfo, params: dict[str, Any], thinking: dict[str, Any], waived: list[str]) -> None:
    body = encode([Message.user("?")], model=model, params=params, waived=waived)
    assert body["generationConfig"]["thinkingConfig"] == thinking


def test_thinking_format_compat_flag() -> None:
    levels = ModelInfo(provider="google", id="my-proxy-model", api="google_gemini", compat={"thinking_format": "level"})
    body = encode(
        [Message.user("?")],
        model=levels,
        params={"reasoning_effort": "low"},
        waived=["generationConfig.thinkingConfig.thinkingLevel"],
    )
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "LOW", "includeThoughts": True}


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_structured_output() -> None:
    body = encode([Message.user("?")], schema=SCHEMA, params={"temperature": 0.0})
    assert body["generationConfig"] == {
        "temperature": 0.0,
        "responseMimeType": "application/json",
        "responseJsonSchema": {k: v for k, v in SCHEMA.items() if k != "$schema"},
    }
    assert "responseJsonSchema" in encode([Message.user("?")], model=G20, schema=SCHEMA)["generationConfig"]
    subset = ModelInfo(
        provider="google",
        id="gemini-2.0-flash",
        api="google_gemini",
        compat={"response_schema_field": "responseSchema"},
    )
    old = encode([Message.user("?")], model=subset, schema=SCHEMA)
    assert old["generationConfig"]["responseSchema"] == {
        "type": "OBJECT",
        "properties": {"name": {"type": "STRING"}, "age": {"type": "INTEGER"}},
        "required": ["name", "age"],
    }
    assert proto.encode_response_schema(SCHEMA)["responseJsonSchema"]["additionalProperties"] is False


# -- JSON Schema -> Gemini Schema ------------------------------------------------------------------


SCHEMA_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "drops $schema, additionalProperties, title and default",
        {
            "$schema": "x",
            "title": "T",
            "type": "object",
            "additionalProperties": False,
            "properties": {"a": {"type": "string", "title": "A", "default": "z"}},
        },
        {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
    ),
    (
        "inlines $defs references, siblings win",
        {
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/Pet", "description": "the pet"}},
            "$defs": {
                "Pet": {
                    "type": "object",
                    "description": "a pet",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                }
            },
        },
        {
            "type": "OBJECT",
            "properties": {
                "p": {
                    "type": "OBJECT",
                    "description": "the pet",
                    "properties": {"name": {"type": "STRING"}},
                    "required": ["name"],
                }
            },
        },
    ),
    (
        "inlines definitions and cuts recursion",
        {
            "type": "object",
            "properties": {"node": {"$ref": "#/definitions/Node"}},
            "definitions": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}}}},
        },
        {"type": "OBJECT", "properties": {"node": {"type": "OBJECT", "properties": {"next": {"type": "OBJECT"}}}}},
    ),
    (
        "const becomes a one-value enum",
        {"type": "object", "properties": {"kind": {"const": "circle"}}},
        {"type": "OBJECT", "properties": {"kind": {"type": "STRING", "enum": ["circle"]}}},
    ),
    (
        "anyOf with null becomes nullable",
        {"type": "object", "properties": {"n": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "d"}}},
        {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "description": "d", "nullable": True}}},
    ),
    (
        "type list with null becomes nullable",
        {"type": "object", "properties": {"s": {"type": ["string", "null"], "maxLength": 5}}},
        {"type": "OBJECT", "properties": {"s": {"type": "STRING", "maxLength": 5, "nullable": True}}},
    ),
    (
        "type list of several types becomes anyOf",
        {"type": "object", "properties": {"v": {"type": ["string", "integer", "null"]}}},
        {"type": "OBJECT", "properties": {"v": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "nullable": True}}},
    ),
    (
        "oneOf becomes anyOf",
        {"type": "object", "properties": {"v": {"oneOf": [{"type": "string"}, {"type": "number", "minimum": 0}]}}},
        {"type": "OBJECT", "properties": {"v": {"anyOf": [{"type": "STRING"}, {"type": "NUMBER", "minimum": 0}]}}},
    ),
    (
        "allOf is merged",
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
            ]
        },
        {"type": "OBJECT", "properties": {"a": {"type": "STRING"}, "b": {"type": "BOOLEAN"}}, "required": ["a", "b"]},
    ),
    (
        "keeps the formats Gemini takes and drops the others",
        {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "mail": {"type": "string", "format": "email"},
                "big": {"type": "integer", "format": "int64"},
                "uri": {"type": "string", "format": "uri", "pattern": "^h"},
            },
        },
        {
            "type": "OBJECT",
            "properties": {
                "when": {"type": "STRING", "format": "date-time"},
                "mail": {"type": "STRING"},
                "big": {"type": "INTEGER", "format": "int64"},
                "uri": {"type": "STRING", "pattern": "^h"},
            },
        },
    ),
    (
        "non-string enums move into the description",
        {"type": "object", "properties": {"level": {"type": "integer", "enum": [1, 2], "description": "Level"}}},
        {"type": "OBJECT", "properties": {"level": {"type": "INTEGER", "description": "Level (Allowed values: 1, 2)"}}},
    ),
    (
        "an array without items gets string items; tuple items keep the first",
        {
            "type": "object",
            "properties": {
                "tags": {"type": "array", "minItems": 1},
                "pair": {"type": "array", "items": [{"type": "number"}, {"type": "string"}]},
            },
        },
        {
            "type": "OBJECT",
            "properties": {
                "tags": {"type": "ARRAY", "minItems": 1, "items": {"type": "STRING"}},
                "pair": {"type": "ARRAY", "items": {"type": "NUMBER"}},
            },
        },
    ),
    (
        "required names only existing properties; exclusive bounds dropped",
        {
            "type": "object",
            "properties": {"x": {"type": "number", "exclusiveMinimum": 0, "maximum": 9}},
            "required": ["x", "ghost"],
        },
        {"type": "OBJECT", "properties": {"x": {"type": "NUMBER", "maximum": 9}}, "required": ["x"]},
    ),
    (
        "types are inferred from the keywords",
        {"properties": {"e": {"enum": ["a", "b"]}, "l": {"items": {"type": "boolean"}}}},
        {
            "type": "OBJECT",
            "properties": {
                "e": {"type": "STRING", "enum": ["a", "b"]},
                "l": {"type": "ARRAY", "items": {"type": "BOOLEAN"}},
            },
        },
    ),
]


@pytest.mark.parametrize(("case", "schema", "expected"), SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_conversion(case: str, schema: dict[str, Any], expected: dict[str, Any]) -> None:
    got = to_gemini_schema(schema)
    assert got == expected
    ParseDict(got, gl_content.Schema.pb()(), ignore_unknown_fields=False)


def test_schema_conversion_of_a_pydantic_model() -> None:
    from pydantic import BaseModel, Field

    class Address(BaseModel):
        street: str
        zip_code: str | None = None

    class Person(BaseModel):
        name: str = Field(description="Full name")
        age: int = Field(ge=0, le=150)
        home: Address
        tags: list[str] = []

    got = to_gemini_schema(Person.model_json_schema())
    assert got == {
        "type": "OBJECT",
        "required": ["name", "age", "home"],
        "properties": {
            "name": {"type": "STRING", "description": "Full name"},
            "age": {"type": "INTEGER", "minimum": 0, "maximum": 150},
            "home": {
                "type": "OBJECT",
                "required": ["street"],
                "properties": {"street": {"type": "STRING"}, "zip_code": {"type": "STRING", "nullable": True}},
            },
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
        },
    }
    ParseDict(got, gl_content.Schema.pb()(), ignore_unknown_fields=False)


def test_schema_reference_outside_the_schema_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="cannot resolve"):
        to_gemini_schema({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}})


# -- decoding --------------------------------------------------------------------------------------


def test_decode_text_thinking_and_usage_traps() -> None:
    usage = {
        "promptTokenCount": 100,
        "cachedContentTokenCount": 60,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 30,
        "toolUsePromptTokenCount": 5,
        "totalTokenCount": 155,
    }
    resp = proto.decode_response(
        body_of(
            {"text": "Hmm.", "thought": True}, {"text": "Hi "}, {"text": "there.", "thoughtSignature": SIG}, usage=usage
        )
    )
    assert resp.text == "Hi there."
    assert resp.reasoning == "Hmm."
    assert resp.finish_reason == "stop"
    assert resp.provider_finish_reason == "STOP"
    assert (resp.id, resp.model) == ("r-1", "gemini-2.5-flash")
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.reasoning_tokens) == (
        45,
        50,
        60,
        0,
        30,
    )
    assert u.total_tokens == 155
    kinds = [(type(p).__name__, getattr(p, "signature", None)) for p in resp.parts]
    assert kinds == [("ThinkingPart", None), ("TextPart", None), ("ThinkingPart", SIG)]


def test_decode_usage_without_metadata() -> None:
    assert decode_usage(None).total_tokens == 0
    assert decode_usage({"promptTokenCount": 3}).input_tokens == 3


def test_decode_tool_calls_with_and_without_ids() -> None:
    body = body_of(
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
        {"functionCall": {"id": "g-1", "name": "noop"}},
    )
    resp = proto.decode_response(body)
    first, second = resp.tool_calls
    assert resp.finish_reason == "tool_use"
    assert first.id.startswith("call_")
    assert len(first.id) == len(new_call_id())  # the one id rule of every protocol (wire._util)
    assert first.provider_data == {"thought_signature": SIG}
    assert (first.name, dict(first.arguments)) == ("get_weather", {"city": "Paris"})
    assert (second.id, second.provider_data, second.arguments_json) == ("g-1", {"gemini_id": "g-1"}, "{}")


def test_made_up_ids_are_unique_across_turns() -> None:
    body = body_of({"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "f", "args": {}}})
    ids = [c.id for _ in range(3) for c in proto.decode_response(body).tool_calls]
    streamed = [c.id for _ in range(3) for c in final_response(run_stream(sse(body))[0]).tool_calls]
    assert len(set(ids + streamed)) == 12


@pytest.mark.parametrize(
    ("raw", "calls", "expected"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_use"),
        (None, False, "stop"),
        ("MAX_TOKENS", False, "length"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("BLOCKLIST", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("SPII", False, "content_filter"),
        ("IMAGE_SAFETY", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "error"),
        ("OTHER", False, "error"),
        ("LANGUAGE", False, "error"),
        ("UNEXPECTED_TOOL_CALL", True, "error"),
        ("TOO_MANY_TOOL_CALLS", False, "error"),
        ("FINISH_REASON_UNSPECIFIED", False, "error"),
        ("SOMETHING_NEW", False, "stop"),  # unknown values are stop, as on every protocol
        ("SOMETHING_NEW", True, "tool_use"),
    ],
)
def test_finish_reason_mapping(raw: str | None, calls: bool, expected: str) -> None:
    assert map_finish(GoogleGemini.finish_reasons, raw, calls) == expected


def test_blocked_prompt_and_empty_candidates() -> None:
    blocked = proto.decode_response(
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}}
    )
    assert (blocked.finish_reason, blocked.provider_finish_reason, blocked.text) == ("content_filter", "SAFETY", "")
    assert blocked.usage.input_tokens == 7
    filtered = proto.decode_response({"candidates": [{"finishReason": "SAFETY", "index": 0}]})
    assert filtered.finish_reason == "content_filter"
    malformed = proto.decode_response(
        {"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL", "finishMessage": "bad", "index": 0}]}
    )
    assert malformed.finish_reason == "error"
    with pytest.raises(ResponseInvalid):  # no candidate and no block reason: not an answer
        proto.decode_response({})


def test_decode_keeps_unknown_parts_for_replay() -> None:
    code = {"executableCode": {"language": "PYTHON", "code": "print(2)"}, "thoughtSignature": SIG}
    resp = proto.decode_response(
        body_of(code, {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "2"}}, {"text": "2"})
    )
    assert resp.text == "2"
    assert resp.reasoning == ""
    body = encode([Message.user("?"), resp.message])
    assert body["contents"][1]["parts"][:2] == [code, {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "2"}}]


@pytest.mark.parametrize(
    ("body", "message", "err_type"),
    [
        (
            {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}},
            "API key not valid.",
            "INVALID_ARGUMENT",
        ),
        ([{"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}}], "Quota", "RESOURCE_EXHAUSTED"),
        (
            {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
            "The model is overloaded.",
            "UNAVAILABLE (overloaded)",
        ),
        ({"error": {"code": 500, "status": "INTERNAL"}}, "INTERNAL", "INTERNAL"),
        ("upstream exploded", "upstream exploded", None),
    ],
)
def test_decode_error(body: Any, message: str, err_type: str | None) -> None:
    assert proto.decode_error(400, body) == (message, err_type)


# -- streaming -------------------------------------------------------------------------------------


def test_stream_text_usage_and_end_marker() -> None:
    body = sse(
        body_of({"text": "Hel"}, finish=None, usage={"promptTokenCount": 4}),
        body_of({"text": "lo ✓"}, finish=None),
        body_of(
            {"text": "!"},
            finish="STOP",
            usage={"promptTokenCount": 4, "candidatesTokenCount": 3, "thoughtsTokenCount": 2, "totalTokenCount": 9},
        ),
    )
    for size in (None, 1, 7):
        events, result = run_stream(body, size=size)
        assert isinstance(result, StreamDone)
        assert [e.type for e in events] == [
            "start",
            "text_start",
            "text_delta",
            "text_delta",
            "text_delta",
            "text_end",
            "done",
        ]
        assert [e.delta for e in events if e.type == "text_delta"] == ["Hel", "lo ✓", "!"]
        resp = result.response
        assert resp.text == "Hello ✓!"
        assert resp.finish_reason == "stop"
        assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.reasoning_tokens) == (4, 5, 2)


def test_stream_usage_after_the_finish_chunk_is_kept() -> None:
    body = sse(
        body_of({"text": "a"}, finish="STOP", usage={"promptTokenCount": 1, "candidatesTokenCount": 1}),
        {"usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2, "totalTokenCount": 3}},
    )
    _, result = run_stream(body)
    assert isinstance(result, StreamDone)
    assert result.response.usage.output_tokens == 2


def test_stream_without_finish_reason_is_an_error() -> None:
    events, result = run_stream(sse(body_of({"text": "partial"}, finish=None)))
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, ResponseInvalid)
    assert events[-1].type == "error"
    assert final_response(events).text == "partial"


def test_stream_error_payload() -> None:
    body = sse(
        body_of({"text": "a"}, finish=None),
        {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
    )
    events, result = run_stream(body)
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, StreamError)
    assert result.error.status_code == 503
    assert "overloaded" in str(result.error)
    assert events[-1].type == "error"
    assert final_response(events).text == "a"


@pytest.mark.parametrize(
    ("finish", "terminal", "reason"),
    [
        ("SAFETY", "done", "content_filter"),
        ("MAX_TOKENS", "done", "length"),
        ("MALFORMED_FUNCTION_CALL", "error", "error"),
    ],
)
def test_stream_finish_reasons(finish: str, terminal: str, reason: str) -> None:
    events, _ = run_stream(sse(body_of({"text": "x"}, finish=finish)))
    assert (events[-1].type, events[-1].reason) == (terminal, reason)
    if terminal == "error":
        assert "MALFORMED_FUNCTION_CALL" in str(events[-1].error)


@pytest.mark.parametrize("finish", ["SOME_FUTURE_REASON", "STOP"])
def test_stream_unknown_finish_reason_is_stop_with_the_raw_value(finish: str) -> None:
    events, result = run_stream(sse(body_of({"text": "x"}, finish=finish)))
    assert isinstance(result, StreamDone)
    assert (events[-1].type, events[-1].reason) == ("done", "stop")
    assert result.response.provider_finish_reason == finish


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"detail": "Not Found"}, "Not Found"),
        ({"message": "quota exceeded upstream"}, "quota exceeded upstream"),
        ({"candidates": {"content": {}}}, None),
        ({"candidates": ["text"]}, None),
        ({"candidates": [], "usageMetadata": {"promptTokenCount": 3}}, None),
        ([{"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}], "Internal error"),
        ([1, 2], None),
        ([], None),
        ("Bad Gateway", "Bad Gateway"),
    ],
)
def test_wrong_shape_bodies_raise_response_invalid(body: Any, said: str | None) -> None:
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_response(body)
    assert info.value.body == body
    if said:
        assert said in str(info.value)


@pytest.mark.parametrize("payload", [[1, 2], "oops", {"detail": "Upstream gone"}, {"candidates": "x"}])
def test_wrong_shape_frames_raise_response_invalid(payload: Any) -> None:
    state = proto.init_stream()
    (frame,) = SSEDecoder().feed(f"data: {json.dumps(payload)}\n\n".encode())
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_stream_chunk(state, frame)
    assert info.value.body == payload


def test_candidate_index_null_is_candidate_zero() -> None:
    body = body_of({"text": "hi"})
    body["candidates"][0]["index"] = None
    assert proto.decode_response(body).text == "hi"


def test_usage_cached_beside_the_prompt_strings_and_response_token_count() -> None:
    from sycophant_py.wire.google_gemini import decode_usage

    u = decode_usage({"promptTokenCount": 40, "cachedContentTokenCount": 4096, "candidatesTokenCount": 5})
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (40, 4096, 5)
    u = decode_usage({"promptTokenCount": "12", "responseTokenCount": 7, "thoughtsTokenCount": "3"})
    assert (u.input_tokens, u.output_tokens, u.reasoning_tokens) == (12, 10, 3)
    u = decode_usage({"promptTokenCount": 100, "cachedContentTokenCount": 60, "candidatesTokenCount": None})
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (40, 60, 0)


def test_stream_blocked_prompt_and_done_marker() -> None:
    events, _ = run_stream(sse({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}))
    assert (events[-1].type, events[-1].reason) == ("done", "content_filter")
    events, result = run_stream(sse(body_of({"text": "a"}, finish="STOP")) + b"data: [DONE]\n\n")
    assert isinstance(result, StreamDone)
    assert result.response.text == "a"


def test_stream_thinking_and_text_signature() -> None:
    body = sse(
        body_of({"text": "Let me", "thought": True}, finish=None),
        body_of({"text": " think.", "thought": True}, finish=None),
        body_of({"text": "The answer", "thoughtSignature": SIG}, finish=None),
        body_of({"text": " is 4."}, finish=None),
        body_of({"text": ""}, finish="STOP"),
    )
    events, result = run_stream(body)
    assert isinstance(result, StreamDone)
    resp = result.response
    assert resp.reasoning == "Let me think."
    assert resp.text == "The answer is 4."
    assert [type(p).__name__ for p in resp.parts] == ["ThinkingPart", "TextPart", "ThinkingPart"]
    assert [e.type for e in events].count("text_start") == 1
    parts = encode([Message.user("?"), resp.message])["contents"][1]["parts"]
    assert parts == [{"text": "Let me think.", "thought": True}, {"text": "The answer is 4.", "thoughtSignature": SIG}]


def test_stream_signature_on_a_trailing_empty_text_part() -> None:
    body = sse(
        body_of({"text": "a"}, finish=None),
        body_of({"text": "b"}, finish=None),
        body_of({"text": "", "thoughtSignature": SIG}, finish="STOP"),
    )
    resp = final_response(run_stream(body)[0])
    assert encode([Message.user("?"), resp.message])["contents"][1]["parts"] == [
        {"text": "ab", "thoughtSignature": SIG}
    ]


def test_thought_signature_round_trip_through_json() -> None:
    """stream -> Response -> Message (through JSON) -> encode: each signature stays on its own part."""
    body = sse(
        g3(body_of({"text": "Plan.", "thought": True, "thoughtSignature": "dGhvdWdodA=="}, finish=None)),
        g3(
            body_of(
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
                finish=None,
            )
        ),
        g3(body_of({"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}, finish="STOP")),
    )
    resp = final_response(run_stream(body, size=5)[0])
    assert resp.finish_reason == "tool_use"
    assert resp.message.model == "gemini-3-flash-preview"  # signatures are replayed within one Gemini generation
    ctx = Context((Message.user("Weather?"), resp.message))
    restored = Context.from_json(ctx.to_json())
    results = [Message.tool_result(c.id, "sunny") for c in resp.tool_calls]
    parts = encode([*restored.messages, *results], model=G3)["contents"][1]["parts"]
    assert parts == [
        {"text": "Plan.", "thought": True, "thoughtSignature": "dGhvdWdodA=="},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]


def test_stream_function_calls_are_whole() -> None:
    body = sse(
        body_of({"functionCall": {"name": "f", "args": {"a": [1, {"b": "ü"}]}}}, finish=None),
        body_of({"functionCall": {"name": "g"}}, finish="STOP"),
    )
    events, result = run_stream(body)
    assert [e.type for e in events] == [
        "start",
        "toolcall_start",
        "toolcall_delta",
        "toolcall_end",
        "toolcall_start",
        "toolcall_delta",
        "toolcall_end",
        "done",
    ]
    assert isinstance(result, StreamDone)
    assert [(c.name, dict(c.arguments)) for c in result.response.tool_calls] == [
        ("f", {"a": [1, {"b": "ü"}]}),
        ("g", {}),
    ]


def _streamed_call(*fcs: dict[str, Any]) -> bytes:
    chunks = [body_of({"functionCall": fc}, finish=None) for fc in fcs]
    return sse(*chunks, body_of({"text": ""}, finish="STOP"))


def test_stream_partial_args_nested() -> None:
    def arg(path: str, **value: Any) -> dict[str, Any]:
        return {"partialArgs": [{"jsonPath": path, **value}], "willContinue": True}

    body = _streamed_call(
        {"name": "cook", "willContinue": True},
        arg("$.recipe.name", stringValue="Las", willContinue=True),
        arg("$.recipe.name", stringValue="agna"),
        arg("$.recipe.steps[0]", stringValue='Boil "water"', willContinue=True),
        arg("$.recipe.steps[0]", stringValue=""),
        {"willContinue": True},
        arg("$.recipe.steps[2]", stringValue="Serve."),
        arg("$.recipe.items[0].qty", numberValue=2),
        arg("$.recipe.items[0].ok", boolValue=True),
        arg("$.recipe.items[1].qty", numberValue=0.5),
        arg("$['odd key']", nullValue=None),
        {},
    )
    for size in (None, 3):
        events, result = run_stream(body, size=size)
        assert isinstance(result, StreamDone)
        expected = {
            "recipe": {
                "name": "Lasagna",
                "steps": ['Boil "water"', None, "Serve."],
                "items": [{"qty": 2, "ok": True}, {"qty": 0.5}],
            },
            "odd key": None,
        }
        (call,) = result.response.tool_calls
        assert call.name == "cook"
        assert dict(call.arguments) == expected
        deltas = [e.delta for e in events if e.type == "toolcall_delta"]
        assert len(deltas) == 10
        assert json.loads("".join(deltas)) == expected
        assert result.response.finish_reason == "tool_use"


def test_stream_partial_args_out_of_order_still_decodes() -> None:
    body = _streamed_call(
        {"name": "f", "willContinue": True},
        {"partialArgs": [{"jsonPath": "$.a.x", "numberValue": 1}], "willContinue": True},
        {"partialArgs": [{"jsonPath": "$.b", "numberValue": 2}], "willContinue": True},
        {"partialArgs": [{"jsonPath": "$.a.y", "numberValue": 3}]},
    )
    (call,) = final_response(run_stream(body)[0]).tool_calls
    assert dict(call.arguments) == {"a": {"x": 1, "y": 3}, "b": 2}
    assert json.loads(call.arguments_json) == {"a": {"x": 1, "y": 3}, "b": 2}


def test_stream_partial_call_without_arguments_and_an_unterminated_one() -> None:
    body = _streamed_call(
        {"name": "f", "willContinue": True},
        {},
        {"name": "g", "willContinue": True},
        {"partialArgs": [{"jsonPath": "$.q", "stringValue": "open", "willContinue": True}], "willContinue": True},
    )
    calls = final_response(run_stream(body)[0]).tool_calls
    assert [(c.name, dict(c.arguments)) for c in calls] == [("f", {}), ("g", {"q": "open"})]


# -- end to end through the public API -------------------------------------------------------------

KEY = "AIzaSy-e2e-secret-0123456789"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        syc.configure(
            custom_providers={"google": {"base_url": srv.url + "/v1beta"}}, providers={"google": {"api_key": KEY}}
        )
        yield srv
        syc.close()


def test_end_to_end_generate_and_stream(server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sycophant_py")
    server.add(
        Reply.json(body_of({"text": "Hi!"}, usage={"promptTokenCount": 3, "candidatesTokenCount": 2})),
        Reply(
            200,
            {"content-type": "text/event-stream"},
            [sse(body_of({"text": "Str"}, finish=None)), sse(body_of({"text": "eam"}, finish="STOP"))],
        ),
    )
    resp = syc.generate_text(
        "google:gemini-2.5-flash",
        [syc.Message.system("Be kind."), syc.Message.user("Hi")],
        temperature=0.2,
        max_tokens=20,
    )
    assert resp.text == "Hi!"
    assert resp.provider == "google"
    assert resp.usage.total_tokens == 5
    stream = syc.stream_text("gemini:gemini-2.5-flash", "Hi")
    assert stream.response().text == "Stream"
    first, second = server.requests
    assert first.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert second.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    for rec in (first, second):
        assert rec.headers["x-goog-api-key"] == KEY
        assert "authorization" not in rec.headers
        assert KEY not in rec.path
        validate_gemini_request(rec.json)
    assert first.json["systemInstruction"] == {"parts": [{"text": "Be kind."}]}
    assert first.json["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 20}
    assert KEY not in caplog.text


def test_end_to_end_errors_never_show_the_key(server: ScriptedServer) -> None:
    server.add(
        Reply.json(
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                }
            },
            status=400,
        )
    )
    with pytest.raises(syc.BadRequest) as info:
        syc.generate_text("google:gemini-2.5-flash", "Hi")
    text = f"{info.value} {info.value!r} {info.value.body}"
    assert "API key not valid" in text
    assert KEY not in text


def test_end_to_end_tool_round_trip(server: ScriptedServer) -> None:
    server.add(
        Reply.json(
            g3(body_of({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG}))
        ),
        Reply.json(g3(body_of({"text": "Sunny."}))),
    )
    seen: list[str] = []

    def get_weather(city: str) -> str:
        seen.append(city)
        return "sunny"

    tool = Tool("get_weather", "Weather", WEATHER.parameters, function=get_weather)
    resp = syc.generate_text("google:gemini-3-flash-preview", "Weather?", tools=[tool], reasoning_effort="low")
    assert resp.text == "Sunny."
    assert seen == ["Paris"]
    second = server.requests[1].json
    assert validate_gemini_request(second) == ["generationConfig.thinkingConfig.thinkingLevel"]
    assert second["contents"][1]["parts"][0]["thoughtSignature"] == SIG
    assert second["contents"][2]["parts"][0]["functionResponse"] == {
        "name": "get_weather",
        "response": {"result": "sunny"},
    }


def test_retry_info_in_the_body_becomes_retry_after() -> None:
    """Gemini says how long to wait in the 429 body (google.rpc.RetryInfo), not in a header."""
    import json
    from pathlib import Path

    import sycophant_py as syc
    from sycophant_py.testing import FakeClock, Reply, ScriptedServer

    fixture = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "vercel-ai" / "packages"
    body = json.loads((fixture / "google" / "src" / "__fixtures__" / "google-429-retry-info.json").read_text())
    ok = {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}]}
    with ScriptedServer() as srv, FakeClock() as clock:
        srv.add(Reply.json(body, status=429), Reply.json(ok))
        syc.configure(
            custom_providers={"google": {"base_url": srv.url + "/v1beta"}}, providers={"google": {"api_key": "k"}}
        )
        assert syc.generate_text("google:gemini-2.5-flash", "hi").text == "ok"
        assert clock.sleeps == [34.4]
        srv.add(Reply.json(body, status=429))
        with pytest.raises(syc.RateLimited) as info:
            syc.generate_text("google:gemini-2.5-flash", "hi")
        assert info.value.retry_after == 34.4


def test_function_call_args_given_as_json_text_are_kept() -> None:
    resp = proto.decode_response(body_of({"functionCall": {"name": "f", "args": '{"city": "Oslo"}'}}))
    assert dict(resp.tool_calls[0].arguments) == {"city": "Oslo"}
    broken = proto.decode_response(body_of({"functionCall": {"name": "f", "args": '{"city": '}}))
    assert broken.tool_calls[0].arguments_json == '{"city": '
    assert broken.tool_calls[0].parse_error is not None
