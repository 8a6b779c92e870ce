"""The gateway driven by the official OpenAI and Anthropic SDKs, over real HTTP on 127.0.0.1.

Every chat test runs against an upstream speaking each built-in protocol (a ``ScriptedServer``
whose replies the contract dialects render in that wire format), and asserts that what the SDK
parsed is what the upstream sent (text, tool-call ids and arguments, usage), and that what the
upstream received is what the SDK asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

import sycophant_py as syc
from sycophant_py.testing import FakeClock, Reply
from tests.contract.dialect import Call, U
from tests.gateway_support import CHAT_PROTOCOLS, Upstream, running_gateway

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
    "required": ["city"],
}
OPENAI_TOOLS: Any = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]
ANTHROPIC_TOOLS: Any = [
    {"name": "get_weather", "description": "Weather", "input_schema": WEATHER},
    {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
]
CALLS = [Call("call_a1", "get_weather", {"city": "Paris", "unit": "c"}), Call("call_b2", "get_time", {})]


@pytest.fixture
def gateway() -> Iterator[str]:
    with running_gateway() as url:
        yield url


@pytest.fixture(params=CHAT_PROTOCOLS)
def upstream(request: pytest.FixtureRequest) -> Iterator[Upstream]:
    up = Upstream.start(request.param)
    yield up
    up.stop()


@pytest.fixture
def oai(gateway: str) -> Iterator[openai.OpenAI]:
    """The OpenAI SDK pointed at the gateway (no retries: each test sees the first answer)."""
    with openai.OpenAI(api_key="unused", base_url=f"{gateway}/v1", max_retries=0) as client:
        yield client


@pytest.fixture
def ant(gateway: str) -> Iterator[anthropic.Anthropic]:
    """The Anthropic SDK pointed at the gateway."""
    with anthropic.Anthropic(api_key="unused", base_url=gateway, max_retries=0) as client:
        yield client


def _usage(up: Upstream) -> U:
    return U(input=11, output=7, cache_read=3, cache_write=2 if up.dialect.reports_cache else 0)


def _truth(up: Upstream, reply: Reply, stream: bool = False) -> syc.Usage:
    """The usage the library itself reads from ``reply`` (what the upstream sent, in our terms).

    Each wire format carries a different subset (Ollama has no cache counts, chat completions no
    cache writes...): the gateway must pass on exactly what there is.
    """
    up.server.add(reply)
    resp = syc.stream_text(up.spec, "Hi").response() if stream else syc.generate_text(up.spec, "Hi")
    up.server.add(reply)
    return resp.usage


def _prompt(u: syc.Usage) -> int:
    return u.input_tokens + u.cache_read_tokens + u.cache_write_tokens


def _expected_ids(up: Upstream, reply: Reply) -> list[str] | None:
    """The scripted call ids, when the wire format carries ids at all (Ollama's has none)."""
    body = b"".join(reply.chunks)
    return [c.id for c in CALLS] if all(c.id.encode() in body for c in CALLS) else None


def _check_ids(got: list[str], up: Upstream, reply: Reply) -> None:
    want = _expected_ids(up, reply)
    if want is not None:
        assert got == want
    else:
        assert all(got)
        assert len(set(got)) == len(got)


# -- OpenAI SDK ------------------------------------------------------------------------------


def test_openai_sdk_chat(oai: openai.OpenAI, upstream: Upstream) -> None:
    u = _truth(upstream, upstream.dialect.text("Hello there.", _usage(upstream)))
    out = oai.chat.completions.create(
        model=upstream.spec,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=50,
        temperature=0.3,
    )
    assert out.choices[0].message.content == "Hello there."
    assert out.choices[0].finish_reason == "stop"
    assert out.model == upstream.spec
    assert out.usage is not None
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (_prompt(u), u.output_tokens)
    assert out.usage.prompt_tokens_details is not None
    assert out.usage.prompt_tokens_details.cached_tokens == u.cache_read_tokens
    assert u.input_tokens == 11
    assert upstream.dialect.sent_messages(upstream.sent()) == [("system", "Be brief."), ("user", "Hi")]


def test_openai_sdk_stream(oai: openai.OpenAI, upstream: Upstream) -> None:
    u = _truth(upstream, upstream.dialect.stream(["Hel", "lo ", "there."], _usage(upstream), chunk_size=7), True)
    chunks = list(
        oai.chat.completions.create(
            model=upstream.spec,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None
    assert not chunks[-1].choices
    assert (usage.prompt_tokens, usage.completion_tokens) == (_prompt(u), u.output_tokens)
    assert upstream.dialect.sent_messages(upstream.sent()) == [("user", "Hi")]


def test_openai_sdk_tools(oai: openai.OpenAI, upstream: Upstream) -> None:
    reply = upstream.dialect.tool_calls(CALLS, U(40, 20))
    upstream.server.add(reply)
    out = oai.chat.completions.create(
        model=upstream.spec, messages=[{"role": "user", "content": "Weather and time?"}], tools=OPENAI_TOOLS
    )
    msg = out.choices[0].message
    assert out.choices[0].finish_reason == "tool_calls"
    assert msg.tool_calls is not None
    calls = [c for c in msg.tool_calls if c.type == "function"]
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        (c.name, c.arguments) for c in CALLS
    ]
    _check_ids([c.id for c in calls], upstream, reply)
    assert upstream.dialect.sent_tools(upstream.sent()) == ["get_weather", "get_time"]
    # The results go back through the gateway with their ids.
    upstream.server.add(upstream.dialect.text("Sunny, 14:00.", U(60, 5)))
    history: Any = [
        {"role": "user", "content": "Weather and time?"},
        msg.model_dump(exclude_none=True),
        *(
            {"role": "tool", "tool_call_id": c.id, "content": "sunny" if i == 0 else "14:00"}
            for i, c in enumerate(calls)
        ),
    ]
    final = oai.chat.completions.create(model=upstream.spec, messages=history, tools=OPENAI_TOOLS)
    assert final.choices[0].message.content == "Sunny, 14:00."
    sent = upstream.dialect.sent_messages(upstream.sent())
    assert ("tool_call", "get_weather") in sent
    assert ("tool_result", "sunny") in sent
    assert ("tool_result", "14:00") in sent


def test_openai_sdk_streamed_tools(oai: openai.OpenAI, upstream: Upstream) -> None:
    reply = upstream.dialect.tool_calls_stream(CALLS, U(40, 20))
    upstream.server.add(reply)
    stream = oai.chat.completions.create(
        model=upstream.spec, messages=[{"role": "user", "content": "?"}], tools=OPENAI_TOOLS, stream=True
    )
    calls: dict[int, dict[str, str]] = {}
    finish = []
    for chunk in stream:
        for tc in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
            call = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
            call["id"] += tc.id or ""
            call["name"] += tc.function.name or "" if tc.function else ""
            call["args"] += tc.function.arguments or "" if tc.function else ""
        finish += [c.finish_reason for c in chunk.choices if c.finish_reason]
    got = [calls[i] for i in sorted(calls)]
    assert [(c["name"], json.loads(c["args"])) for c in got] == [(c.name, c.arguments) for c in CALLS]
    _check_ids([c["id"] for c in got], upstream, reply)
    assert finish == ["tool_calls"]


def test_openai_sdk_structured_output(oai: openai.OpenAI, upstream: Upstream) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    upstream.server.add(upstream.dialect.text(json.dumps({"name": "Ada", "age": 36}), U(12, 8)))
    out = oai.chat.completions.create(
        model=upstream.spec,
        messages=[{"role": "user", "content": "Who?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}},
    )
    assert json.loads(out.choices[0].message.content or "") == {"name": "Ada", "age": 36}
    assert upstream.dialect.sent_schema(upstream.sent()) == schema


def test_structured_output_from_a_forced_tool_is_text(oai: openai.OpenAI) -> None:
    """Anthropic answers a schema with a forced tool call: the OpenAI caller gets the JSON as content."""
    up = Upstream.start("anthropic_messages")
    try:
        up.server.add(up.dialect.tool_calls([Call("toolu_1", "person", {"name": "Ada", "age": 36})], U(5, 5)))
        out = oai.chat.completions.create(
            model=up.spec,
            messages=[{"role": "user", "content": "Who?"}],
            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": {"type": "object"}}},
        )
        assert json.loads(out.choices[0].message.content or "") == {"name": "Ada", "age": 36}
        assert out.choices[0].finish_reason == "stop"
        assert not out.choices[0].message.tool_calls
        assert up.sent()["tool_choice"] == {"type": "tool", "name": "person"}
    finally:
        up.stop()


# -- Anthropic SDK ---------------------------------------------------------------------------


def test_anthropic_sdk_chat(ant: anthropic.Anthropic, upstream: Upstream) -> None:
    u = _truth(upstream, upstream.dialect.text("Hello there.", _usage(upstream)))
    msg = ant.messages.create(
        model=upstream.spec, max_tokens=50, system="Be brief.", messages=[{"role": "user", "content": "Hi"}]
    )
    assert [b.text for b in msg.content if b.type == "text"] == ["Hello there."]
    assert msg.stop_reason == "end_turn"
    usage = msg.usage
    assert (usage.input_tokens, usage.output_tokens) == (u.input_tokens, u.output_tokens)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (
        u.cache_read_tokens,
        u.cache_write_tokens,
    )
    assert u.input_tokens == 11
    assert upstream.dialect.sent_messages(upstream.sent()) == [("system", "Be brief."), ("user", "Hi")]


def test_anthropic_sdk_stream(ant: anthropic.Anthropic, upstream: Upstream) -> None:
    u = _truth(upstream, upstream.dialect.stream(["Hel", "lo ", "there."], _usage(upstream), chunk_size=7), True)
    with ant.messages.stream(
        model=upstream.spec, max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "Hello there."
    assert final.stop_reason == "end_turn"
    usage = final.usage
    assert (usage.input_tokens, usage.output_tokens) == (u.input_tokens, u.output_tokens)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (
        u.cache_read_tokens,
        u.cache_write_tokens,
    )


def test_anthropic_sdk_tools(ant: anthropic.Anthropic, upstream: Upstream) -> None:
    reply = upstream.dialect.tool_calls(CALLS, U(40, 20))
    upstream.server.add(reply)
    msg = ant.messages.create(
        model=upstream.spec, max_tokens=100, messages=[{"role": "user", "content": "?"}], tools=ANTHROPIC_TOOLS
    )
    uses = [b for b in msg.content if b.type == "tool_use"]
    assert msg.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in uses] == [(c.name, c.arguments) for c in CALLS]
    _check_ids([b.id for b in uses], upstream, reply)
    assert upstream.dialect.sent_tools(upstream.sent()) == ["get_weather", "get_time"]
    upstream.server.add(upstream.dialect.text("Sunny.", U(60, 5)))
    results: Any = [{"type": "tool_result", "tool_use_id": b.id, "content": f"result {i}"} for i, b in enumerate(uses)]
    history: Any = [
        {"role": "user", "content": "?"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {"role": "user", "content": results},
    ]
    final = ant.messages.create(model=upstream.spec, max_tokens=100, messages=history, tools=ANTHROPIC_TOOLS)
    assert [b.text for b in final.content if b.type == "text"] == ["Sunny."]
    sent = upstream.dialect.sent_messages(upstream.sent())
    assert ("tool_call", "get_weather") in sent
    assert ("tool_result", "result 0") in sent


def test_anthropic_sdk_streamed_tools(ant: anthropic.Anthropic, upstream: Upstream) -> None:
    reply = upstream.dialect.tool_calls_stream(CALLS, U(40, 20))
    upstream.server.add(reply)
    with ant.messages.stream(
        model=upstream.spec, max_tokens=100, messages=[{"role": "user", "content": "?"}], tools=ANTHROPIC_TOOLS
    ) as stream:
        final = stream.get_final_message()
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [(b.name, b.input) for b in uses] == [(c.name, c.arguments) for c in CALLS]
    _check_ids([b.id for b in uses], upstream, reply)
    assert final.stop_reason == "tool_use"


# -- embeddings and models -------------------------------------------------------------------

VECTORS = [[0.5, -1.25, 3.0], [0.0, 2.5, -0.125]]  # exact in float32 (the SDK asks for base64)
EMBED_UPSTREAMS: dict[str, tuple[str, str, Reply]] = {  # embedding protocol: (its chat twin, model, reply)
    "openai_embed": (
        "openai_chat",
        "e1",
        Reply.json(
            {"data": [{"index": i, "embedding": v} for i, v in enumerate(VECTORS)], "usage": {"prompt_tokens": 6}}
        ),
    ),
    "google_embed": ("google_gemini", "e1", Reply.json({"embeddings": [{"values": v} for v in VECTORS]})),
    "ollama_embed": ("ollama_native", "e1", Reply.json({"embeddings": VECTORS, "prompt_eval_count": 6})),
    "bedrock_embed": (
        "bedrock_converse",
        "amazon.titan-embed-text-v2:0",
        Reply.json({"embedding": VECTORS[0], "inputTextTokenCount": 3}),
    ),
}


@pytest.mark.parametrize("protocol", list(EMBED_UPSTREAMS))
def test_openai_sdk_embeddings(oai: openai.OpenAI, protocol: str) -> None:
    twin, model, reply = EMBED_UPSTREAMS[protocol]
    up = Upstream.start(twin, name=f"emb-{twin.replace('_', '-')}", api=None if twin == "ollama_native" else protocol)
    try:
        up.server.add(reply)
        inputs = ["alpha", "beta"] if protocol != "bedrock_embed" else ["alpha"]  # Titan: one text per request
        out = oai.embeddings.create(model=f"{up.spec.split(':')[0]}:{model}", input=inputs)
        assert [d.embedding for d in out.data] == VECTORS[: len(inputs)]
        assert [d.index for d in out.data] == list(range(len(inputs)))
        assert json.dumps(up.sent()).count("alpha") == 1
    finally:
        up.stop()


def test_models_lists_providers_and_aliases(oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    a = Upstream.start("openai_chat", name="alpha", models=[{"id": "m1"}, {"id": "m2"}])
    b = Upstream.start("anthropic_messages", name="beta", models=[{"id": "c1"}])
    try:
        syc.configure(aliases={"best": ["beta:c1", "alpha:m1"]})
        ids = [m.id for m in oai.models.list()]
        assert {"alpha:m1", "alpha:m2", "beta:c1", "best"} <= set(ids)
        listed = ant.models.list()
        assert {"alpha:m1", "beta:c1", "best"} <= {m.id for m in listed.data}
    finally:
        a.stop()
        b.stop()


# -- routing, fallbacks, errors --------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_fallback_alias_moves_on_after_429(oai: openai.OpenAI, stream: bool) -> None:
    first = Upstream.start("openai_chat", name="first")
    second = Upstream.start("anthropic_messages", name="second")
    try:
        first.server.add(first.dialect.error(429, "slow down"))
        reply = second.dialect.stream(["Fine", "."], U(3, 2)) if stream else second.dialect.text("Fine.", U(3, 2))
        second.server.add(reply)
        syc.configure(aliases={"duo": [first.spec, second.spec]})
        client = oai
        if stream:
            chunks = client.chat.completions.create(
                model="duo", messages=[{"role": "user", "content": "x"}], stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            raw = client.chat.completions.with_raw_response.create(
                model="duo", messages=[{"role": "user", "content": "x"}]
            )
            assert raw.headers["x-sycophant-model"] == "second:" + second.dialect.model
            out = raw.parse()
            assert out.model == "duo"
            text = out.choices[0].message.content or ""
        assert text == "Fine."
        assert len(first.server.requests) == 1  # no retry of the failed model: the next one at once
        assert len(second.server.requests) == 1
    finally:
        first.stop()
        second.stop()


def test_fallback_list_as_model(gateway: str) -> None:
    first = Upstream.start("openai_chat", name="first")
    second = Upstream.start("openai_chat", name="second")
    try:
        first.server.add(first.dialect.error(503, "down"))
        second.server.add(second.dialect.text("ok", U(1, 1)))
        body = {"model": [first.spec, second.spec], "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
        with httpx.Client(base_url=gateway) as http:
            msg = http.post("/v1/messages", json=body).json()
        assert msg["content"] == [{"type": "text", "text": "ok"}]
    finally:
        first.stop()
        second.stop()


@pytest.mark.parametrize(
    ("status", "exc"), [(429, openai.RateLimitError), (500, openai.APIStatusError), (404, openai.NotFoundError)]
)
def test_upstream_errors_before_the_stream_are_http_errors(
    oai: openai.OpenAI, status: int, exc: type[Exception]
) -> None:
    up = Upstream.start("openai_chat")
    try:
        headers = {"retry-after": "7"} if status == 429 else {}
        up.server.add(Reply.json({"error": {"message": "scripted failure"}}, status=status, headers=headers))
        with FakeClock(), pytest.raises(exc) as info:
            oai.chat.completions.create(model=up.spec, messages=[{"role": "user", "content": "x"}], stream=True)
        err = info.value
        assert isinstance(err, openai.APIStatusError)
        assert err.status_code == {429: 429, 500: 502, 404: 404}[status]
        assert "scripted failure" in str(err.body)
        if status == 429:
            assert err.response.headers["retry-after"] == "7"
    finally:
        up.stop()


def test_anthropic_errors_in_anthropic_shape(ant: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        ant.messages.create(model="nowhere:x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    body = info.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "nowhere" in body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as bad:
        ant.messages.create(
            model="a:b", max_tokens=5, messages=[{"role": "user", "content": "x"}], extra_body={"container": "c1"}
        )
    assert isinstance(bad.value.body, dict)
    assert bad.value.body["error"]["type"] == "invalid_request_error"


def test_a_failure_mid_stream_is_an_error_frame(oai: openai.OpenAI) -> None:
    up = Upstream.start("openai_chat")
    try:
        events = [
            b'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "%s"}}]}\n\n' % piece
            for piece in (b"Hel", b"lo", b"!")
        ]
        up.server.add(Reply(200, {"content-type": "text/event-stream"}, events, drop_after=1))
        stream = oai.chat.completions.create(model=up.spec, messages=[{"role": "user", "content": "x"}], stream=True)
        got: list[str] = []

        def drain() -> None:
            got.extend(chunk.choices[0].delta.content or "" if chunk.choices else "" for chunk in stream)

        with pytest.raises(openai.APIError) as info:
            drain()
        assert "".join(got) == "Hel"  # the content before the failure arrived
        assert "end marker" in info.value.message or "connection" in info.value.message.lower()
    finally:
        up.stop()


def test_invalid_json_and_unknown_paths(gateway: str) -> None:
    with httpx.Client(base_url=gateway) as http:
        bad = http.post("/v1/chat/completions", content=b"{not json")
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request_error"
        missing = http.get("/v1/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found_error"
        ant = http.get("/v1/nothing-here", headers={"anthropic-version": "2023-06-01"})
        assert ant.json()["type"] == "error"
        assert http.get("/healthz").json() == {"status": "ok"}
