"""The served dialects (``wire/*serve*``) against our own client codecs, both directions.

Requests: what our client codec encodes, the serve codec decodes back to the same messages, tools
and params. Answers: what the serve codec encodes (a whole response, a stream's SSE frames, an
error), our client codec decodes back to the same response, events and exception class.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._events import StreamAccumulator, StreamEvent
from sycophant_py._models import ModelInfo
from sycophant_py._parts import Part
from sycophant_py._sse import SSEDecoder
from sycophant_py._types import (
    DocumentPart,
    ImagePart,
    Message,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    Usage,
)
from sycophant_py.wire._base import Request, StreamDone, StreamFailed, WireProtocol
from sycophant_py.wire._serve import ErrorInfo, ServedChat, ServedEmbed, ServeError, answer_of, error_info
from sycophant_py.wire.anthropic_messages import AnthropicMessages
from sycophant_py.wire.anthropic_messages.encode import PROTOCOL_MARK
from sycophant_py.wire.anthropic_messages.serve import DIALECT as ANTHROPIC
from sycophant_py.wire.openai_chat import OpenAIChat
from sycophant_py.wire.openai_chat.serve import DIALECT as OPENAI
from sycophant_py.wire.openai_embed import OpenAIEmbed
from sycophant_py.wire.openai_embed.serve import DIALECT as OPENAI_EMBED

MODEL = ModelInfo(provider="up", id="m1")
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [Tool("get_weather", "Weather for a city", WEATHER), Tool("get_time", "", {"type": "object", "properties": {}})]
PNG = b"\x89PNG\r\n\x1a\n-fake-image"
PDF = b"%PDF-1.4 fake"


def _call(call_id: str, name: str, args: dict[str, Any]) -> ToolCall:
    return ToolCall(call_id, name, args, json.dumps(args))


def _conversation() -> list[Message]:
    calls = [_call("call_a1", "get_weather", {"city": "Paris"}), _call("call_b2", "get_time", {})]
    return [
        Message.system("Be brief."),
        Message.user([TextPart("What is this?"), ImagePart(data=PNG, media_type="image/png")]),
        Message.assistant("Let me check.", tool_calls=calls),
        Message.tool_result("call_a1", "sunny", name="get_weather"),
        Message.tool_result("call_b2", "14:00", name="get_time"),
        Message.user("Thanks"),
    ]


# -- OpenAI chat: requests ------------------------------------------------------------------


def test_openai_request_round_trip() -> None:
    messages = [
        *_conversation(),
        Message.user([TextPart("and this"), DocumentPart(data=PDF, media_type="application/pdf", name="a.pdf")]),
    ]
    params = {
        "temperature": 0.3,
        "max_tokens": 64,
        "top_p": 0.9,
        "stop": ["END"],
        "seed": 7,
        "tool_choice": "get_weather",
        "parallel_tool_calls": False,
        "reasoning_effort": "low",
    }
    req = Request(MODEL, messages, params, TOOLS, stream=True, response_schema=WEATHER, schema_name="weather")
    body = OpenAIChat().encode_request(req)
    served = OPENAI.decode_request(json.loads(json.dumps(body)))
    assert served.model == "m1"
    assert served.messages == messages
    assert served.tools == TOOLS
    assert served.params == params
    assert (served.response_schema, served.schema_name) == (WEATHER, "weather")
    assert served.stream is True
    assert served.options == {"include_usage": True}


def test_openai_request_fields_mapped() -> None:
    body = {
        "model": ["a:x", "b:y"],
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Rules"}]},
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://e.x/a.png", "detail": "low"}}],
            },
        ],
        "max_completion_tokens": 9,
        "max_tokens": 100,
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_object"},
        "metadata": {"tag": "x"},
        "prediction": {"type": "content", "content": "x"},
        "n": 1,
        "logprobs": False,
        "unknown_field": 1,
    }
    served = OPENAI.decode_request(body)
    assert served.model == ["a:x", "b:y"]
    assert served.messages == [
        Message.system("Rules"),
        Message.user([ImagePart(url="https://e.x/a.png", detail="low")]),
    ]
    assert served.params == {"max_tokens": 9, "tool_choice": "f"}
    assert served.response_schema == {"type": "object"}
    assert served.stream is False
    assert served.options == {"include_usage": False}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"audio": {"voice": "x"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f1"}}]}]}, "messages"),
    ],
)
def test_openai_request_refused(extra: dict[str, Any], param: str) -> None:
    body = {"model": "a:b", "messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(ServeError) as info:
        OPENAI.decode_request(body)
    assert (info.value.status, info.value.param) == (400, param)


# -- OpenAI chat: answers -------------------------------------------------------------------


def _response() -> Response:
    calls = [_call("call_1", "get_weather", {"city": "Paris"}), _call("call_2", "get_time", {"tz": "CET"})]
    parts: list[Part] = [ThinkingPart("Hmm.", "sig=="), TextPart("Checking."), *calls]
    return Response(
        text="Checking.",
        finish_reason="tool_use",
        usage=Usage(input_tokens=11, output_tokens=7, cache_read_tokens=3, cache_write_tokens=2, reasoning_tokens=4),
        tool_calls=calls,
        reasoning="Hmm.",
        parts=parts,
        id="resp-9",
        model="m1",
        provider="up",
    )


def _same_answer(got: Response, want: Response) -> None:
    assert got.text == want.text
    assert got.reasoning == want.reasoning
    assert got.finish_reason == want.finish_reason
    assert [(c.id, c.name, dict(c.arguments), c.arguments_json) for c in got.tool_calls] == [
        (c.id, c.name, dict(c.arguments), c.arguments_json) for c in want.tool_calls
    ]
    u, w = got.usage, want.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.reasoning_tokens) == (
        w.input_tokens,
        w.output_tokens,
        w.cache_read_tokens,
        w.cache_write_tokens,
        w.reasoning_tokens,
    )
    got_thinking = [(p.text, p.signature) for p in got.parts if isinstance(p, ThinkingPart)]
    assert got_thinking == [(p.text, p.signature) for p in want.parts if isinstance(p, ThinkingPart)]


def test_openai_response_round_trip() -> None:
    want = _response()
    body = OPENAI.encode_response(want, ServedChat("up:m1", []), "up:m1")
    assert body["object"] == "chat.completion"
    assert body["model"] == "up:m1"
    assert body["id"] == "resp-9"
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["usage"]["prompt_tokens"] == 16
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    _same_answer(OpenAIChat().decode_response(json.loads(json.dumps(body))), want)


def test_openai_response_finish_reasons() -> None:
    for ours, theirs in (("stop", "stop"), ("length", "length"), ("content_filter", "content_filter")):
        body = OPENAI.encode_response(Response(text="x", finish_reason=ours), ServedChat("m", []), "m")  # type: ignore[arg-type]
        assert body["choices"][0]["finish_reason"] == theirs
        assert OpenAIChat().decode_response(body).finish_reason == ours


def _events() -> tuple[list[StreamEvent], Response]:
    """A stream as a protocol decoder would produce it: thinking, text, two tool calls, usage."""
    acc = StreamAccumulator(provider="up", model="m1")
    acc.id = "resp-9"
    acc.start()
    acc.thinking("Let me", key="t")
    acc.thinking(" think.", key="t", signature="sig==")
    acc.text("Hel", key="x")
    acc.text("lo.", key="x")
    acc.end_key("x")
    acc.tool_call("c1", id="call_1", name="get_weather", arguments='{"city":')
    acc.tool_call("c1", arguments=' "Paris"}')
    acc.end_key("c1")
    acc.tool_call("c2", id="call_2", name="get_time", arguments="{}")
    acc.end_key("c2")
    acc.usage = Usage(input_tokens=11, output_tokens=7, cache_read_tokens=3, cache_write_tokens=2, reasoning_tokens=4)
    resp = acc.finish("tool_use")
    return acc.drain(), resp


def _decode_stream(proto: WireProtocol[Any], body: bytes) -> tuple[list[StreamEvent], Response | Exception]:
    state = proto.init_stream()
    events: list[StreamEvent] = []
    dec = SSEDecoder()
    for frame in [*dec.feed(body), *dec.flush()]:
        result = proto.decode_stream_chunk(state, frame)
        events += result.events
        if isinstance(result, StreamDone):
            return events, result.response
        if isinstance(result, StreamFailed):
            return events, result.error
    result = proto.end_of_stream(state)
    events += result.events
    return events, result.response if isinstance(result, StreamDone) else result.error  # type: ignore[union-attr]


def _shape(events: list[StreamEvent]) -> list[tuple[str, int, str]]:
    return [(e.type, e.content_index, e.delta) for e in events]


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_stream_round_trip(include_usage: bool) -> None:
    events, want = _events()
    enc = OPENAI.stream_encoder(ServedChat("up:m1", [], stream=True, options={"include_usage": include_usage}), "up:m1")
    body = b"".join(enc.frames(e) for e in events)
    assert body.endswith(b"data: [DONE]\n\n")
    chunks = [json.loads(line[6:]) for line in body.split(b"\n\n") if line.startswith(b"data: {")]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["id"] for c in chunks} == {"resp-9"}
    assert [c for c in chunks if not c["choices"]] == ([chunks[-1]] if include_usage else [])
    got_events, got = _decode_stream(OpenAIChat(), body)
    # Chunks have no block ends: the client closes a block when another kind starts, or at the end.
    assert _shape([e for e in got_events if not e.type.endswith("_end")]) == _shape(
        [e for e in events if not e.type.endswith("_end")]
    )
    assert sorted(_shape([e for e in got_events if e.type.endswith("_end")])) == sorted(
        _shape([e for e in events if e.type.endswith("_end")])
    )
    assert isinstance(got, Response)
    if not include_usage:
        want.usage = Usage()
    _same_answer(got, want)


def test_openai_stream_error_frame_is_an_error_event() -> None:
    events, _ = _events()
    enc = OPENAI.stream_encoder(ServedChat("m", [], stream=True), "m")
    body = (
        enc.frames(events[0])
        + enc.frames(events[1])
        + enc.error_frames(ErrorInfo(502, "upstream", "the upstream went away"))
    )
    got_events, error = _decode_stream(OpenAIChat(), body)
    assert isinstance(error, syc.StreamError)
    assert "the upstream went away" in str(error)
    assert got_events[-1].type == "error"


def test_structured_output_by_forced_tool_becomes_text() -> None:
    """An upstream that answers a schema with a forced tool (Anthropic) gives the caller text."""
    args = '{"city": "Paris"}'
    call = ToolCall.from_json("toolu_1", "weather", args)
    resp = Response(text="", finish_reason="tool_use", tool_calls=[call], parts=[call])
    req = ServedChat("m", [], response_schema=WEATHER, schema_name="weather")
    body = OPENAI.encode_response(resp, req, "m")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": args}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert answer_of(resp, None) is resp
    acc = StreamAccumulator()
    acc.start()
    acc.tool_call("k", id="toolu_1", name="weather", arguments='{"city":')
    acc.tool_call("k", arguments=' "Paris"}')
    acc.finish("tool_use")
    enc = OPENAI.stream_encoder(ServedChat("m", [], stream=True, response_schema=WEATHER, schema_name="weather"), "m")
    got_events, got = _decode_stream(OpenAIChat(), b"".join(enc.frames(e) for e in acc.drain()))
    assert isinstance(got, Response)
    assert (got.text, got.tool_calls, got.finish_reason) == (args, [], "stop")
    assert [e.type for e in got_events] == ["start", "text_start", "text_delta", "text_delta", "text_end", "done"]


# -- Anthropic messages ---------------------------------------------------------------------


def test_anthropic_request_round_trip() -> None:
    messages = [
        Message.system("Be brief."),
        Message.system("Use metric.", cache=True),
        Message.user([TextPart("Look"), ImagePart(data=PNG, media_type="image/png")]),
        Message.assistant(
            [
                ThinkingPart("Considering.", "sig==", provider_data=dict(PROTOCOL_MARK)),
                ThinkingPart("", "opaque", redacted=True, provider_data=dict(PROTOCOL_MARK)),
                TextPart("Let me check."),
                _call("toolu_a", "get_weather", {"city": "Paris"}),
            ]
        ),
        Message.tool_result("toolu_a", "sunny", name="get_weather", is_error=True),
        Message.user(
            [TextPart("More"), DocumentPart(data=PDF, media_type="application/pdf", name="a.pdf")], cache=True
        ),
    ]
    params = {
        "max_tokens": 8000,
        "reasoning_budget": 2048,
        "stop": ["END"],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    body = AnthropicMessages().encode_request(Request(MODEL, messages, params, TOOLS, stream=True))
    served = ANTHROPIC.decode_request(json.loads(json.dumps(body)))
    assert served.messages == messages
    assert served.tools == TOOLS
    assert served.params == params
    assert served.stream is True
    assert served.response_schema is None
    sampling = {"max_tokens": 50, "temperature": 0.3, "top_p": 0.5, "top_k": 4, "tool_choice": "get_time"}
    body = AnthropicMessages().encode_request(Request(MODEL, [Message.user("hi")], sampling, TOOLS))
    served = ANTHROPIC.decode_request(body)
    assert served.params == sampling
    assert served.stream is False


def test_anthropic_request_fields_mapped() -> None:
    body = {
        "model": "alias",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "disabled"},
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "output_config": {"format": {"type": "json_schema", "schema": WEATHER}, "effort": "high"},
        "metadata": {"user_id": "u1"},
        "context_management": {"edits": []},
    }
    served = ANTHROPIC.decode_request(body)
    assert served.params == {
        "max_tokens": 10,
        "reasoning_budget": 0,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning_effort": "high",
    }
    assert served.response_schema == WEATHER
    adaptive = ANTHROPIC.decode_request({**body, "thinking": {"type": "adaptive"}, "output_config": None})
    assert adaptive.params["thinking"] == {"type": "adaptive"}
    assert adaptive.response_schema is None


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools"),
        ({"mcp_servers": [{"url": "x"}]}, "mcp_servers"),
        ({"container": "c1"}, "container"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice"),
        ({"output_format": {"type": "xml"}}, "output_format"),
        ({"system": [{"type": "image"}]}, "system"),
        ({"messages": [{"role": "assistant", "content": [{"type": "server_tool_use", "id": "x"}]}]}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages"),
    ],
)
def test_anthropic_request_refused(extra: dict[str, Any], param: str) -> None:
    body = {"model": "a:b", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(ServeError) as info:
        ANTHROPIC.decode_request(body)
    assert (info.value.status, info.value.param) == (400, param)


def test_anthropic_response_round_trip() -> None:
    want = _response()
    want.parts.insert(1, ThinkingPart("", "opaque==", redacted=True))
    body = ANTHROPIC.encode_response(want, ServedChat("up:m1", []), "up:m1")
    assert [b["type"] for b in body["content"]] == ["thinking", "redacted_thinking", "text", "tool_use", "tool_use"]
    assert (body["type"], body["stop_reason"], body["id"]) == ("message", "tool_use", "resp-9")
    assert body["usage"] == {
        "input_tokens": 11,
        "output_tokens": 7,
        "cache_read_input_tokens": 3,
        "cache_creation_input_tokens": 2,
        "output_tokens_details": {"thinking_tokens": 4},
    }
    got = AnthropicMessages().decode_response(json.loads(json.dumps(body)))
    _same_answer(got, want)
    stop_seq = Response(text="x", provider_finish_reason="stop_sequence")
    assert ANTHROPIC.encode_response(stop_seq, ServedChat("m", []), "m")["stop_reason"] == "stop_sequence"
    assert (
        ANTHROPIC.encode_response(Response(text="x", finish_reason="length"), ServedChat("m", []), "m")["stop_reason"]
        == "max_tokens"
    )


def test_anthropic_stream_round_trip() -> None:
    events, want = _events()
    enc = ANTHROPIC.stream_encoder(ServedChat("up:m1", [], stream=True), "up:m1")
    body = b"".join(enc.frames(e) for e in events)
    names = [line[7:].decode() for line in body.split(b"\n") if line.startswith(b"event: ")]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 4
    got_events, got = _decode_stream(AnthropicMessages(), body)
    assert _shape(got_events) == _shape(events)
    assert isinstance(got, Response)
    _same_answer(got, want)


def test_anthropic_stream_error_event() -> None:
    events, _ = _events()
    enc = ANTHROPIC.stream_encoder(ServedChat("m", [], stream=True), "m")
    body = enc.frames(events[0]) + enc.error_frames(ErrorInfo(503, "overloaded", "busy"))
    _, error = _decode_stream(AnthropicMessages(), body)
    assert isinstance(error, syc.Overloaded)
    assert "busy" in str(error)


def test_anthropic_structured_stream_as_text() -> None:
    acc = StreamAccumulator()
    acc.start()
    acc.tool_call("k", id="toolu_1", name="response", arguments='{"a": 1}')
    acc.finish("tool_use")
    enc = ANTHROPIC.stream_encoder(ServedChat("m", [], stream=True, response_schema={"type": "object"}), "m")
    _, got = _decode_stream(AnthropicMessages(), b"".join(enc.frames(e) for e in acc.drain()))
    assert isinstance(got, Response)
    assert (got.text, got.finish_reason) == ('{"a": 1}', "stop")


# -- embeddings -----------------------------------------------------------------------------


def test_embed_request_round_trip() -> None:
    from sycophant_py.wire._base import EmbeddingRequest

    body = OpenAIEmbed().encode_request(EmbeddingRequest(MODEL, ["a", "b"], {"dimensions": 3, "input_type": "query"}))
    served = OPENAI_EMBED.decode_request(body)
    assert (served.model, served.inputs, served.params) == ("m1", ["a", "b"], {"dimensions": 3, "input_type": "query"})
    assert OPENAI_EMBED.decode_request({"model": "x:y", "input": "one"}).inputs == ["one"]
    for bad in ({"model": "x:y", "input": [[1, 2]]}, {"model": "x:y", "input": []}, {"model": "", "input": "a"}):
        with pytest.raises(ServeError):
            OPENAI_EMBED.decode_request(bad)


@pytest.mark.parametrize("fmt", ["float", "base64"])
def test_embed_response_round_trip(fmt: str) -> None:
    vectors = [[0.5, -1.25, 3.0], [0.0, 2.5, -0.125]]  # exact in float32
    emb = syc.EmbeddingResponse(vectors, Usage(input_tokens=6), "m1", "up")
    body = OPENAI_EMBED.encode_response(emb, ServedEmbed("up:m1", ["a", "b"], {}, {"encoding_format": fmt}), "up:m1")
    assert isinstance(body["data"][0]["embedding"], list if fmt == "float" else str)
    got = OpenAIEmbed().decode_response(json.loads(json.dumps(body)))
    assert got.vectors == vectors
    assert got.usage.input_tokens == 6


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (syc.InvalidParams("bad temperature", param="temperature"), 400, "invalid_request"),
        (syc.UnknownProvider("nope", ["a"]), 404, "not_found"),
        (syc.MissingCredentials("openai", ("OPENAI_API_KEY",)), 401, "authentication"),
        (syc.AuthenticationFailed("no", status_code=401), 401, "authentication"),
        (syc.AuthenticationFailed("no", status_code=403), 403, "permission"),
        (syc.NotFound("gone"), 404, "not_found"),
        (syc.RateLimited("slow down", retry_after=3.0), 429, "rate_limit"),
        (syc.Overloaded("busy"), 503, "overloaded"),
        (syc.ServerError("boom", status_code=500), 502, "upstream"),
        (syc.ProviderConnectionError("refused"), 502, "upstream"),
        (syc.ResponseInvalid("garbled"), 502, "upstream"),
        (syc.Timeout("slow"), 504, "timeout"),
        (syc.ContextOverflow("too long", status_code=400), 400, "invalid_request"),
        (syc.BadRequest("too big", status_code=413), 413, "request_too_large"),
        (syc.ProviderError("odd 429", status_code=429), 429, "rate_limit"),
        (ServeError("n must be 1", param="n"), 400, "invalid_request"),
        (RuntimeError("secret internals"), 500, "internal"),
    ],
)
def test_error_info(exc: Exception, status: int, kind: str) -> None:
    info = error_info(exc)
    assert (info.status, info.kind) == (status, kind)
    assert "secret internals" not in info.message


def test_all_models_failed_is_served_as_the_last_error() -> None:
    err = syc.AllModelsFailed(
        "all 2 models failed", errors=[syc.ServerError("a"), syc.RateLimited("b", retry_after=2.0)]
    )
    info = error_info(err)
    assert (info.status, info.kind, info.retry_after) == (429, "rate_limit", 2.0)
    assert "all 2 models failed" in info.message


def test_error_shapes_decode_to_the_same_class() -> None:
    info = ErrorInfo(429, "rate_limit", "slow down")
    assert OPENAI.encode_error(info) == {
        "error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded"}
    }
    from sycophant_py.wire.anthropic_messages import error_for

    body = ANTHROPIC.encode_error(info)
    assert body == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    assert isinstance(error_for(body), syc.RateLimited)


def test_models_shapes() -> None:
    from sycophant_py.wire._serve import ModelEntry

    models = [ModelEntry("up:m1", "up", "M1"), ModelEntry("best", "alias")]
    assert OPENAI.encode_models(models)["data"][1] == {
        "id": "best",
        "object": "model",
        "created": 0,
        "owned_by": "alias",
    }
    body = ANTHROPIC.encode_models(models)
    assert [m["display_name"] for m in body["data"]] == ["M1", "best"]
    assert body["has_more"] is False
    assert ANTHROPIC.claims({"anthropic-version": "2023-06-01"})
    assert not OPENAI.claims({})
