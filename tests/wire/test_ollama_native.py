"""The ``ollama_native`` chat and ``ollama_embed`` embedding protocols.

Pure encode/decode tests first, then end-to-end calls through the public API against a scripted
server that answers like Ollama (``/api/chat``, ``/api/embed``, NDJSON streams). Every request body
is checked against Ollama's OpenAPI spec.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import (
    InvalidParams,
    NotFound,
    ResponseInvalid,
    StreamError,
    UnsupportedInput,
)
from sycophant_py._models import ModelInfo
from sycophant_py._params import validate_params
from sycophant_py._sse import NDJSONDecoder
from sycophant_py._types import (
    DocumentPart,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
)
from sycophant_py.testing._server import RecordedRequest, Reply, ScriptedServer
from sycophant_py.wire._base import EmbeddingRequest, Request, StreamContinue, StreamDone, StreamFailed
from sycophant_py.wire.ollama_embed import OllamaEmbed, OllamaEmbedParams
from sycophant_py.wire.ollama_native import OllamaNative, OllamaNativeParams
from tests.spec_validation import validate_ollama_chat_request, validate_ollama_embed_request

MODEL = ModelInfo(provider="ollama", id="llama3", base_url="http://localhost:11434/v1", auth="none", local=True)
EMBED_MODEL = ModelInfo(
    provider="ollama", id="nomic-embed-text", base_url="http://localhost:11434/v1", auth="none", local=True
)
PNG = b"\x89PNG\r\n\x1a\nfake-image-bytes"
WEATHER = Tool(
    "get_weather",
    "Get the weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

proto = OllamaNative()
embed_proto = OllamaEmbed()


def encode(
    messages: list[Message],
    *,
    params: dict[str, Any] | None = None,
    tools: tuple[Tool, ...] = (),
    stream: bool = False,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Encode through param validation (as the pipeline does) and check the body against the spec."""
    validated, dropped = validate_params(OllamaNativeParams, params or {})
    assert not dropped
    body = proto.encode_request(Request(MODEL, messages, validated, tools, stream, schema))
    validate_ollama_chat_request(body)
    return body


def ndjson(*lines: dict[str, Any]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def chunk(
    content: str = "", *, thinking: str = "", tool_calls: list[dict[str, Any]] | None = None, model: str = "llama3"
) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        msg["thinking"] = thinking
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"model": model, "created_at": "2025-07-07T20:22:19.184789Z", "message": msg, "done": False}


def final(reason: str | None = "stop", prompt: int = 26, out: int = 282) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "llama3",
        "created_at": "2025-07-07T20:22:19.19314Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": 342546000,
        "eval_count": out,
        "eval_duration": 4535599000,
    }
    if reason is not None:
        body["done_reason"] = reason
    return body


def chat_response(
    content: str = "",
    *,
    thinking: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    reason: str | None = "stop",
) -> dict[str, Any]:
    body = final(reason, prompt=169, out=18)
    body["message"] = chunk(content, thinking=thinking, tool_calls=tool_calls)["message"]
    return body


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": arguments}}


def run_stream(body: bytes, pieces: list[bytes]) -> tuple[list[StreamEvent], Any]:
    """Feed ``pieces`` through the NDJSON decoder and the protocol; return the events and the last result."""
    assert b"".join(pieces) == body
    decoder = NDJSONDecoder()
    state = proto.init_stream()
    state.provider, state.model = "ollama", "llama3"
    events: list[StreamEvent] = []
    result: Any = None
    lines = [line for piece in pieces for line in decoder.feed(piece)] + decoder.flush()
    for line in lines:
        assert isinstance(line, str)
        result = proto.decode_stream_chunk(state, line)
        events.extend(result.events)
        if not isinstance(result, StreamContinue):
            break
        state = result.state
    if isinstance(result, StreamContinue):
        result = proto.end_of_stream(state)
        events.extend(result.events)
    return events, result


# -- base URL and path -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://localhost:11434/v1", "http://localhost:11434"),
        ("http://localhost:11434/v1/", "http://localhost:11434"),
        ("http://localhost:11434", "http://localhost:11434"),
        ("https://gpu-box:8080/ollama/v1", "https://gpu-box:8080/ollama"),
        ("http://host/v10", "http://host/v10"),
    ],
)
def test_resolve_base_url_drops_a_trailing_v1(base: str, expected: str) -> None:
    assert proto.resolve_base_url(base) == expected
    assert embed_proto.resolve_base_url(base) == expected


def test_request_paths_and_transport() -> None:
    assert proto.request_path(Request(MODEL, [])) == "/api/chat"
    assert embed_proto.request_path(EmbeddingRequest(EMBED_MODEL, ["a"])) == "/api/embed"
    assert proto.stream_transport == "ndjson"
    assert proto.name == "ollama_native"
    assert embed_proto.name == "ollama_embed"
    assert proto.param_schema() is OllamaNativeParams
    assert embed_proto.param_schema() is OllamaEmbedParams


# -- encode ------------------------------------------------------------------------------------


def test_encode_plain_conversation_with_explicit_stream_flag() -> None:
    msgs = [
        Message.system("Be brief."),
        Message.user("why is the sky blue?"),
        Message.assistant("due to rayleigh scattering."),
        Message.user("and mie?"),
    ]
    body = encode(msgs)
    assert body == {
        "model": "llama3",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "why is the sky blue?"},
            {"role": "assistant", "content": "due to rayleigh scattering."},
            {"role": "user", "content": "and mie?"},
        ],
        "stream": False,
    }
    assert encode(msgs, stream=True)["stream"] is True


def test_encode_images_as_base64_list() -> None:
    data_url = "data:image/jpeg;base64," + base64.b64encode(b"jpeg-bytes").decode()
    msg = Message.user(["what is in these images?", ImagePart(PNG), ImagePart(url=data_url)])
    body = encode([msg])
    assert body["messages"] == [
        {
            "role": "user",
            "content": "what is in these images?",
            "images": [base64.b64encode(PNG).decode(), base64.b64encode(b"jpeg-bytes").decode()],
        }
    ]


def test_encode_image_url_is_refused() -> None:
    msg = Message.user(["look", ImagePart(url="https://example.com/cat.png")])
    with pytest.raises(UnsupportedInput, match=r"bytes, not by URL") as info:
        encode([msg])
    assert info.value.kind == "image"


def test_encode_text_documents_inline_and_refuses_pdf() -> None:
    body = encode([Message.user(["Summarise: ", DocumentPart(b"plain text body", media_type="text/plain")])])
    assert body["messages"][0] == {"role": "user", "content": "Summarise: plain text body"}
    with pytest.raises(UnsupportedInput, match="pdf") as info:
        encode([Message.user([DocumentPart(b"%PDF-1.7")])])
    assert info.value.kind == "pdf"


def test_encode_tool_calls_results_and_thinking() -> None:
    tc = ToolCall("call_abc", "get_weather", {"city": "Toronto"}, '{"city": "Toronto"}')
    msgs = [
        Message.user("what is the weather in Toronto?"),
        Message("assistant", (ThinkingPart("I should call the tool.", provider="ollama"), tc)),
        Message.tool_result("call_abc", "11 degrees celsius"),  # name found by call id
        Message.tool_result("call_other", "n/a", name="get_time"),  # explicit name
    ]
    body = encode(msgs, tools=(WEATHER,))
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "",
        "thinking": "I should call the tool.",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}}],
    }
    assert isinstance(body["messages"][1]["tool_calls"][0]["function"]["arguments"], dict)
    assert body["messages"][2] == {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"}
    assert body["messages"][3] == {"role": "tool", "content": "n/a", "tool_name": "get_time"}


def test_encode_assistant_text_and_tool_call_and_drops_redacted_thinking() -> None:
    tc = ToolCall("c1", "get_weather", {"city": "Paris"})
    msg = Message("assistant", (ThinkingPart("", signature="opaque", redacted=True), TextPart("Checking."), tc))
    body = encode([Message.user("weather?"), msg])
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
    }


def test_encode_tools_in_function_format() -> None:
    body = encode([Message.user("weather in tokyo?")], tools=(WEATHER, Tool("ping")))
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather in a city",
                "parameters": WEATHER.parameters,
            },
        },
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}},
    ]
    assert "tools" not in encode([Message.user("hi")], tools=(WEATHER,), params={"tool_choice": "none"})


def test_encode_params_into_options() -> None:
    params = {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 7,
        "stop": "END",
        "max_tokens": 64,
        "num_ctx": 8192,
        "repeat_penalty": 1.1,
        "min_p": 0.05,
        "presence_penalty": 0.5,
        "options": {"num_gpu": 1, "temperature": 1.5, "custom_knob": True},
        "keep_alive": "10m",
        "logprobs": True,
        "top_logprobs": 3,
    }
    body = encode([Message.user("hi")], params=params)
    assert body["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 7,
        "stop": ["END"],
        "num_predict": 64,
        "num_ctx": 8192,
        "repeat_penalty": 1.1,
        "min_p": 0.05,
        "presence_penalty": 0.5,
        "num_gpu": 1,
        "custom_knob": True,
    }
    assert body["keep_alive"] == "10m"
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 3
    assert "think" not in body
    assert "format" not in body
    assert encode([Message.user("hi")], params={"stop": ["a", "b"], "keep_alive": 0})["options"] == {"stop": ["a", "b"]}
    assert encode([Message.user("hi")], params={"keep_alive": -1})["keep_alive"] == -1
    assert "options" not in encode([Message.user("hi")])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"think": True}, True),
        ({"think": False}, False),
        ({"think": "low"}, "low"),
        ({"think": "high"}, "high"),
        ({"reasoning_effort": "none"}, False),
        ({"reasoning_effort": "minimal"}, "low"),
        ({"reasoning_effort": "low"}, "low"),
        ({"reasoning_effort": "medium"}, "medium"),
        ({"reasoning_effort": "high"}, "high"),
        ({"reasoning_effort": "xhigh"}, "max"),
        ({"reasoning_effort": "high", "think": False}, False),  # the explicit param wins
        ({"reasoning_budget": 0}, False),
        ({"reasoning_budget": 2048}, True),
    ],
)
def test_encode_think(params: dict[str, Any], expected: bool | str) -> None:
    assert encode([Message.user("hi")], params=params)["think"] == expected


def test_encode_format() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    assert encode([Message.user("hi")], schema=schema)["format"] == schema
    assert encode([Message.user("hi")], params={"format": "json"})["format"] == "json"
    # response_schema (from generate_object) wins over a raw format param
    assert encode([Message.user("hi")], params={"format": "json"}, schema=schema)["format"] == schema
    assert proto.encode_response_schema(schema, "person") == schema


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"think": "extreme"}, "think"),
        ({"keep_alive": 1.5}, "keep_alive"),
        ({"min_p": 2.0}, "min_p"),
        ({"format": "yaml"}, "format"),
    ],
)
def test_invalid_params_are_named(params: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidParams, match=name):
        validate_params(OllamaNativeParams, params)


# -- decode ------------------------------------------------------------------------------------


def test_decode_response_text_thinking_and_usage() -> None:
    resp = proto.decode_response(chat_response("The sky is blue.", thinking="Rayleigh..."))
    assert resp.text == "The sky is blue."
    assert resp.reasoning == "Rayleigh..."
    assert [p.kind for p in resp.parts] == ["thinking", "text"]
    assert resp.finish_reason == "stop"
    assert resp.provider_finish_reason == "stop"
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (169, 18, 187)
    assert resp.model == "llama3"
    assert resp.tool_calls == []


def test_decode_response_tool_calls_get_unique_ids() -> None:
    body = chat_response(tool_calls=[call("get_weather", city="Tokyo"), call("get_weather", city="Paris")])
    first = proto.decode_response(body)
    second = proto.decode_response(body)
    assert first.finish_reason == "tool_use"
    assert [tc.name for tc in first.tool_calls] == ["get_weather", "get_weather"]
    assert first.tool_calls[0].arguments == {"city": "Tokyo"}
    assert json.loads(first.tool_calls[0].arguments_json) == {"city": "Tokyo"}
    ids = [tc.id for tc in first.tool_calls + second.tool_calls]
    assert len(set(ids)) == 4
    assert all(i.startswith("call_") and len(i) > 8 for i in ids)
    assert first.parts == first.tool_calls


def test_decode_response_keeps_a_provider_id_and_string_arguments() -> None:
    body = chat_response(tool_calls=[{"id": "call_x1", "function": {"name": "f", "arguments": '{"a": 1}'}}])
    tc = proto.decode_response(body).tool_calls[0]
    assert (tc.id, tc.arguments, tc.arguments_json) == ("call_x1", {"a": 1}, '{"a": 1}')


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("load", "stop"),
        ("unload", "stop"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_decode_done_reason(reason: str | None, expected: str) -> None:
    resp = proto.decode_response(chat_response("x", reason=reason))
    assert resp.finish_reason == expected
    assert resp.provider_finish_reason == reason


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (["not", "an", "object"], None),
        ({"error": "model 'x' not found"}, "model 'x' not found"),
        ({"model": "m", "done": True}, None),
        ({"model": "m", "message": "hi", "done": True}, None),
        ({"model": "m", "message": {"role": "assistant", "content": "", "tool_calls": {"a": 1}}}, None),
    ],
)
def test_decode_response_rejects_wrong_shapes(body: Any, said: str | None) -> None:
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_response(body)
    assert info.value.body == body
    if said:
        assert said in str(info.value)


def test_decode_response_invalid_string_arguments_are_marked() -> None:
    body = chat_response(tool_calls=[{"function": {"name": "f", "arguments": '{"a": '}}])
    tc = proto.decode_response(body).tool_calls[0]
    assert (tc.arguments, tc.arguments_json) == ({}, '{"a": ')
    assert tc.parse_error is not None


def test_embed_rejects_wrong_shapes_with_the_message() -> None:
    with pytest.raises(ResponseInvalid, match="model not found"):
        embed_proto.decode_response({"error": "model not found"})
    with pytest.raises(ResponseInvalid):
        embed_proto.decode_response({"embeddings": [[0.1, None]]})
    with pytest.raises(ResponseInvalid):
        embed_proto.decode_response([[0.1]])


def test_decode_error() -> None:
    assert proto.decode_error(404, {"error": "model 'llama3' not found"}) == ("model 'llama3' not found", None)
    assert embed_proto.decode_error(400, {"error": "input is too long"}) == ("input is too long", None)
    assert proto.decode_error(502, "Bad Gateway")[0] == "Bad Gateway"


# -- stream decoding ---------------------------------------------------------------------------

STREAM_BODY = ndjson(
    chunk(thinking="Let me think"),
    chunk(thinking=" about é…"),
    chunk("Hé"),
    chunk("llo 🌍"),
    chunk(tool_calls=[call("get_weather", city="Zürich")]),
    final("stop", prompt=169, out=15),
)


def _check_full_stream(events: list[StreamEvent], result: Any) -> None:
    assert isinstance(result, StreamDone)
    types = [e.type for e in events]
    assert types == [
        "start",
        "thinking_start",
        "thinking_delta",
        "thinking_delta",
        "thinking_end",
        "text_start",
        "text_delta",
        "text_delta",
        "toolcall_start",
        "toolcall_delta",
        "toolcall_end",
        "text_end",
        "done",
    ]
    assert [e.delta for e in events if e.type == "thinking_delta"] == ["Let me think", " about é…"]
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hé", "llo 🌍"]
    end = next(e for e in events if e.type == "toolcall_end")
    assert end.tool_call is not None
    assert end.tool_call.arguments == {"city": "Zürich"}
    resp = result.response
    assert resp.text == "Héllo 🌍"
    assert resp.reasoning == "Let me think about é…"
    assert resp.finish_reason == "tool_use"
    assert resp.provider_finish_reason == "stop"
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (169, 15)
    assert resp.tool_calls[0].name == "get_weather"
    assert resp.tool_calls[0].id.startswith("call_")
    assert json.loads(resp.tool_calls[0].arguments_json) == {"city": "Zürich"}
    assert events[-1].response is resp


def test_stream_whole_body() -> None:
    _check_full_stream(*run_stream(STREAM_BODY, [STREAM_BODY]))


def test_stream_split_at_every_byte_boundary() -> None:
    for i in range(len(STREAM_BODY) + 1):
        _check_full_stream(*run_stream(STREAM_BODY, [STREAM_BODY[:i], STREAM_BODY[i:]]))


def test_stream_byte_by_byte() -> None:
    _check_full_stream(*run_stream(STREAM_BODY, [STREAM_BODY[i : i + 1] for i in range(len(STREAM_BODY))]))


def test_stream_final_line_without_newline_and_crlf() -> None:
    body = ndjson(chunk("a"), chunk("b")).replace(b"\n", b"\r\n") + json.dumps(final("length")).encode()
    events, result = run_stream(body, [body])
    assert isinstance(result, StreamDone)
    assert result.response.text == "ab"
    assert result.response.finish_reason == "length"
    assert events[-1].type == "done"
    assert events[-1].reason == "length"


def test_stream_error_line_keeps_partial_text() -> None:
    body = ndjson(
        chunk("The answer"),
        chunk(" is"),
        {"error": "an error was encountered while running the model"},
        chunk(" never seen"),
    )
    for i in range(len(body) + 1):
        events, result = run_stream(body, [body[:i], body[i:]])
        assert isinstance(result, StreamFailed)
        assert isinstance(result.error, StreamError)
        assert "error was encountered" in str(result.error)
        assert result.error.provider == "ollama"
        terminal = events[-1]
        assert terminal.type == "error"
        assert terminal.reason == "error"
        assert terminal.error is result.error
        assert terminal.response is not None
        assert terminal.response.text == "The answer is"
        assert [e.type for e in events].count("error") == 1
        assert "text_end" in [e.type for e in events]


def test_stream_without_done_line_fails_with_partial_text() -> None:
    body = ndjson(chunk("cut "), chunk("off"))
    events, result = run_stream(body, [body])
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, ResponseInvalid)
    assert events[-1].type == "error"
    assert events[-1].response is not None
    assert events[-1].response.text == "cut off"


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', '{"detail": "model is loading"}'])
def test_stream_line_of_the_wrong_shape_raises_response_invalid(line: str) -> None:
    with pytest.raises(ResponseInvalid) as info:
        proto.decode_stream_chunk(proto.init_stream(), line)
    assert info.value.body == json.loads(line)
    if "detail" in line:
        assert "model is loading" in str(info.value)


def test_stream_tool_call_ids_are_unique_across_streams() -> None:
    body = ndjson(chunk(tool_calls=[call("a"), call("b")]), final())
    ids = []
    for _ in range(2):
        _, result = run_stream(body, [body])
        assert isinstance(result, StreamDone)
        assert [tc.arguments for tc in result.response.tool_calls] == [{}, {}]
        ids += [tc.id for tc in result.response.tool_calls]
    assert len(set(ids)) == 4


# -- embeddings (pure) -------------------------------------------------------------------------


def test_embed_encode_and_decode() -> None:
    params, dropped = validate_params(
        OllamaEmbedParams, {"truncate": False, "dimensions": 256, "keep_alive": 300, "options": {"num_ctx": 512}}
    )
    assert not dropped
    body = embed_proto.encode_request(EmbeddingRequest(EMBED_MODEL, ["a", "b"], params))
    validate_ollama_embed_request(body)
    assert body == {
        "model": "nomic-embed-text",
        "input": ["a", "b"],
        "truncate": False,
        "dimensions": 256,
        "keep_alive": "300s",
        "options": {"num_ctx": 512},
    }
    plain = embed_proto.encode_request(EmbeddingRequest(EMBED_MODEL, ["x"], {"keep_alive": "5m"}))
    validate_ollama_embed_request(plain)
    assert plain == {"model": "nomic-embed-text", "input": ["x"], "keep_alive": "5m"}
    resp = embed_proto.decode_response(
        {
            "model": "nomic-embed-text",
            "embeddings": [[0.1, -2], [3, 4.5]],
            "total_duration": 14143917,
            "prompt_eval_count": 8,
        }
    )
    assert resp.vectors == [[0.1, -2.0], [3.0, 4.5]]
    assert resp.usage.input_tokens == 8
    assert resp.model == "nomic-embed-text"
    with pytest.raises(ResponseInvalid):
        embed_proto.decode_response({"embedding": [0.1]})


# -- end to end through the public API ---------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(tmp_path / "absent.toml"))
    syc.configure(reset=True)
    yield
    syc.configure(reset=True)


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:  # one server per module; each test clears its queues
        yield srv


@pytest.fixture
def server(_shared_server: ScriptedServer) -> Iterator[ScriptedServer]:
    srv = _shared_server
    srv.requests.clear()
    srv.replies.clear()
    syc.configure(custom_providers={"ollama": {"base_url": f"{srv.url}/v1"}})
    yield srv
    syc.close()


def ndjson_reply(body: bytes, pieces: int = 7) -> Reply:
    size = max(1, len(body) // pieces)
    return Reply(200, {"content-type": "application/x-ndjson"}, [body[i : i + size] for i in range(0, len(body), size)])


def chat_request(rec: RecordedRequest) -> dict[str, Any]:
    assert rec.method == "POST"
    assert rec.path == "/api/chat"
    body: dict[str, Any] = rec.json
    validate_ollama_chat_request(body)
    return body


def embed_request(rec: RecordedRequest) -> dict[str, Any]:
    assert rec.method == "POST"
    assert rec.path == "/api/embed"
    body: dict[str, Any] = rec.json
    validate_ollama_embed_request(body)
    return body


MSGS = [Message.system("Be brief."), Message.user("Why is the sky blue?")]


def test_e2e_generate_text(server: ScriptedServer) -> None:
    server.add(Reply.json(chat_response("Rayleigh scattering.", thinking="Physics.")))
    resp = syc.generate_text(
        "ollama:llama3", MSGS, api="ollama_native", temperature=0.2, max_tokens=64, keep_alive="5m", think=True
    )
    body = chat_request(server.requests[0])
    assert body == {
        "model": "llama3",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why is the sky blue?"}],
        "options": {"temperature": 0.2, "num_predict": 64},
        "think": True,
        "keep_alive": "5m",
        "stream": False,
    }
    assert resp.text == "Rayleigh scattering."
    assert resp.reasoning == "Physics."
    assert resp.finish_reason == "stop"
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (169, 18)
    assert resp.provider == "ollama"
    assert resp.model == "llama3"
    assert resp.context.messages[-1].role == "assistant"

    # the context continues the conversation, thinking replayed in the `thinking` field
    server.add(Reply.json(chat_response("Yes.")))
    syc.generate_text("ollama:llama3", resp.context.add(Message.user("Really?")), api="ollama_native")
    body2 = chat_request(server.requests[1])
    assert body2["messages"][2] == {"role": "assistant", "content": "Rayleigh scattering.", "thinking": "Physics."}
    assert body2["messages"][3] == {"role": "user", "content": "Really?"}


def test_e2e_stream_text(server: ScriptedServer) -> None:
    server.add(ndjson_reply(STREAM_BODY))
    stream = syc.stream_text("ollama:llama3", MSGS, api="ollama_native", tools=[WEATHER], seed=1)
    events = list(stream)
    body = chat_request(server.requests[0])
    assert body["stream"] is True
    assert body["options"] == {"seed": 1}
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert events[0].type == "start"
    assert events[-1].type == "done"
    assert [e.delta for e in events if e.type == "text_delta"] == ["Hé", "llo 🌍"]
    resp = stream.response()
    assert resp.text == "Héllo 🌍"
    assert resp.reasoning == "Let me think about é…"
    assert resp.finish_reason == "tool_use"
    assert resp.tool_calls[0].arguments == {"city": "Zürich"}
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (169, 15)
    assert resp.provider == "ollama"


def test_e2e_stream_error_line_is_an_error_event(server: ScriptedServer) -> None:
    server.add(ndjson_reply(ndjson(chunk("partial "), chunk("text"), {"error": "llama runner process has terminated"})))
    stream = syc.stream_text("ollama:llama3", MSGS, api="ollama_native")
    events = list(stream)
    assert events[-1].type == "error"
    assert isinstance(events[-1].error, StreamError)
    resp = stream.response()
    assert resp.text == "partial text"
    assert resp.finish_reason == "error"
    assert "terminated" in str(resp.error)


def test_e2e_async_twins(server: ScriptedServer) -> None:
    server.add(Reply.json(chat_response("async hello")), ndjson_reply(STREAM_BODY))

    async def main() -> tuple[Any, list[StreamEvent], Any]:
        try:
            resp = await syc.agenerate_text("ollama:llama3", MSGS, api="ollama_native", top_k=5)
            stream = syc.astream_text("ollama:llama3", MSGS, api="ollama_native")
            events = [e async for e in stream]
            return resp, events, await stream.response()
        finally:
            await syc.aclose()

    resp, events, streamed = asyncio.run(main())
    assert resp.text == "async hello"
    assert chat_request(server.requests[0])["options"] == {"top_k": 5}
    assert chat_request(server.requests[0])["stream"] is False
    assert chat_request(server.requests[1])["stream"] is True
    assert events[-1].type == "done"
    assert streamed.text == "Héllo 🌍"
    assert streamed.finish_reason == "tool_use"


def test_e2e_tool_loop_round_trip(server: ScriptedServer) -> None:
    seen: list[dict[str, Any]] = []

    def get_weather(city: str) -> str:
        seen.append({"city": city})
        return "11 degrees celsius"

    tool = Tool("get_weather", "Get the weather", WEATHER.parameters, get_weather)
    server.add(
        Reply.json(chat_response(tool_calls=[call("get_weather", city="Toronto")])),
        Reply.json(chat_response("It is 11°C in Toronto.")),
    )
    resp = syc.generate_text("ollama:llama3", [Message.user("weather in Toronto?")], tools=[tool], api="ollama_native")
    assert seen == [{"city": "Toronto"}]
    assert resp.text == "It is 11°C in Toronto."
    second = chat_request(server.requests[1])
    assert second["messages"][1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}}],
    }
    assert second["messages"][2]["role"] == "tool"
    assert second["messages"][2]["tool_name"] == "get_weather"
    assert "11 degrees celsius" in second["messages"][2]["content"]
    chat_request(server.requests[0])


def test_e2e_generate_object_sends_format(server: ScriptedServer) -> None:
    schema = {
        "type": "object",
        "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
        "required": ["age", "available"],
    }
    server.add(Reply.json(chat_response('{"age": 22, "available": false}')))
    out = syc.generate_object("ollama:llama3", [Message.user("Ollama is 22.")], schema=schema, api="ollama_native")
    body = chat_request(server.requests[0])
    assert body["format"]["properties"] == schema["properties"]
    assert out.object == {"age": 22, "available": False}


def test_e2e_error_body(server: ScriptedServer) -> None:
    server.add(Reply.json({"error": "model 'llama3' not found"}, status=404))
    with pytest.raises(NotFound, match="model 'llama3' not found") as info:
        syc.generate_text("ollama:llama3", MSGS, api="ollama_native")
    assert info.value.status_code == 404
    assert info.value.body == {"error": "model 'llama3' not found"}
    chat_request(server.requests[0])


def test_e2e_embed(server: ScriptedServer) -> None:
    reply = {"model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 8}
    server.add(Reply.json(reply))
    emb = syc.embed("ollama:nomic-embed-text", ["a", "b"], api="ollama_embed", truncate=True, dimensions=2)
    body = embed_request(server.requests[0])
    assert body == {"model": "nomic-embed-text", "input": ["a", "b"], "truncate": True, "dimensions": 2}
    assert emb.vectors == [[0.1, 0.2], [0.3, 0.4]]
    assert emb.usage.input_tokens == 8

    async def main() -> Any:
        try:
            return await syc.aembed("ollama:nomic-embed-text", ["c", "d", "e"], api="ollama_embed", batch_size=2)
        finally:
            await syc.aclose()

    server.replies[:] = [
        Reply.json({"embeddings": [[1.0], [2.0]], "prompt_eval_count": 4}),
        Reply.json({"embeddings": [[3.0]], "prompt_eval_count": 2}),
    ]
    aemb = asyncio.run(main())
    assert [embed_request(r)["input"] for r in server.requests[1:]] == [["c", "d"], ["e"]]
    assert aemb.vectors == [[1.0], [2.0], [3.0]]
    assert aemb.usage.input_tokens == 6


def test_e2e_selected_per_model_by_wire_protocol(server: ScriptedServer) -> None:
    syc.configure(
        custom_providers={
            "ollama": {
                "models": {
                    "llama3": {"wire_protocol": "ollama_native"},
                    "nomic-embed-text": {"wire_protocol": "ollama_native"},
                }
            }
        }
    )
    assert syc.get_model("ollama:llama3").api == "ollama_native"
    server.add(Reply.json(chat_response("native")))
    resp = syc.generate_text("ollama:llama3", "hi")
    assert resp.text == "native"
    assert chat_request(server.requests[0])["messages"] == [{"role": "user", "content": "hi"}]

    server.replies[:] = [Reply.json({"embeddings": [[0.5]], "prompt_eval_count": 1})]
    emb = syc.embed("ollama:nomic-embed-text", "x")  # ollama_native's embedding twin is ollama_embed
    assert emb.vectors == [[0.5]]
    assert embed_request(server.requests[1])["input"] == ["x"]

    # another model of the same provider keeps the provider's default (OpenAI-compatible /v1)
    server.replies[:] = [
        Reply.json({"choices": [{"message": {"role": "assistant", "content": "compat"}, "finish_reason": "stop"}]})
    ]
    assert syc.generate_text("ollama:mistral", "hi").text == "compat"
    assert server.requests[2].path == "/v1/chat/completions"
