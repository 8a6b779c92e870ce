"""``openai_chat`` compat flags, set per model through ``register_provider(models=[{..., "compat": ...}])``.

Each flag is tested on the wire against a ScriptedServer: the same call is made with the flag on
and off, and the two request bodies are compared whole. Flags are given in pi's camelCase, as the
seed writes them. Per-provider defaults (OpenAI, Mistral, local servers) are checked too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py.testing import Reply, ScriptedServer

OK = {
    "id": "chatcmpl-1",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
STREAM = Reply.sse(
    [
        {"id": "c", "choices": [{"index": 0, "delta": {"content": "ok"}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}},
    ]
)
LOCAL_DEFAULTS = {"supports_developer_role": False, "max_tokens_field": "max_tokens", "supports_store": False}


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        s.add(Reply.json(OK))
        yield s


def sent(
    srv: ScriptedServer,
    compat: dict[str, Any],
    messages: Sequence[syc.Message] | str = "hi",
    *,
    reasoning: bool = True,
    stream: bool = False,
    **params: Any,
) -> dict[str, Any]:
    """The body sent for one call to a model registered with ``compat``."""
    syc.register_provider(
        "compat-test",
        base_url=srv.url + "/v1",
        api_key="literal:k",
        api="openai-completions",
        models=[{"id": "m", "reasoning": reasoning, "compat": compat}],
    )
    try:
        if stream:
            srv.add(STREAM)
            syc.stream_text("compat-test:m", messages, **params).response()
            srv.add(Reply.json(OK))
        else:
            syc.generate_text("compat-test:m", messages, **params)
    finally:
        syc.unregister_provider("compat-test")
    body: dict[str, Any] = srv.requests[-1].json
    return body


def user(text: str = "hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


CALL = syc.ToolCall.from_json("call_1a2b3c-xyz", "lookup", '{"q":"x"}')
TOOL_TURN = [
    syc.Message.user("find x"),
    syc.Message("assistant", (CALL,)),
    syc.Message.tool_result("call_1a2b3c-xyz", "found", name="lookup"),
]


def assistant_call(tool_id: str) -> dict[str, Any]:
    # The provider is on 127.0.0.1, so it has the local defaults: "" rather than null beside tool calls.
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": tool_id, "type": "function", "function": {"name": "lookup", "arguments": '{"q":"x"}'}}],
    }


# -- one test per flag -------------------------------------------------------------------------


def test_supports_store(srv: ScriptedServer) -> None:
    assert sent(srv, {"supportsStore": True}, store=True) == {"model": "m", "messages": [user()], "store": True}
    assert sent(srv, {"supportsStore": False}, store=True) == {"model": "m", "messages": [user()]}


def test_supports_developer_role(srv: ScriptedServer) -> None:
    msgs = [syc.Message.system("rules"), syc.Message.user("hi")]
    on = sent(srv, {"supportsDeveloperRole": True}, msgs)
    off = sent(srv, {"supportsDeveloperRole": False}, msgs)
    assert on == {"model": "m", "messages": [{"role": "developer", "content": "rules"}, user()]}
    assert off == {"model": "m", "messages": [{"role": "system", "content": "rules"}, user()]}
    # As in pi, only reasoning models get the developer role.
    plain = sent(srv, {"supportsDeveloperRole": True}, msgs, reasoning=False)
    assert plain == off


def test_supports_reasoning_effort(srv: ScriptedServer) -> None:
    on = sent(srv, {"supportsReasoningEffort": True}, reasoning_effort="low")
    off = sent(srv, {"supportsReasoningEffort": False}, reasoning_effort="low")
    assert on == {"model": "m", "messages": [user()], "reasoning_effort": "low"}
    assert off == {"model": "m", "messages": [user()]}


def test_supports_usage_in_streaming(srv: ScriptedServer) -> None:
    on = sent(srv, {"supportsUsageInStreaming": True}, stream=True)
    off = sent(srv, {"supportsUsageInStreaming": False}, stream=True)
    assert on == {"model": "m", "messages": [user()], "stream": True, "stream_options": {"include_usage": True}}
    assert off == {"model": "m", "messages": [user()], "stream": True}


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_field(srv: ScriptedServer, field: str) -> None:
    assert sent(srv, {"maxTokensField": field}, max_tokens=77) == {"model": "m", "messages": [user()], field: 77}


def test_requires_tool_result_name(srv: ScriptedServer) -> None:
    on = sent(srv, {"requiresToolResultName": True}, TOOL_TURN)
    off = sent(srv, {"requiresToolResultName": False}, TOOL_TURN)
    base = [user("find x"), assistant_call("call_1a2b3c-xyz")]
    result = {"role": "tool", "tool_call_id": "call_1a2b3c-xyz", "content": "found"}
    assert on == {"model": "m", "messages": [*base, {**result, "name": "lookup"}]}
    assert off == {"model": "m", "messages": [*base, result]}


def test_requires_tool_result_name_takes_the_name_from_the_call(srv: ScriptedServer) -> None:
    unnamed = [*TOOL_TURN[:2], syc.Message.tool_result("call_1a2b3c-xyz", "found")]
    body = sent(srv, {"requiresToolResultName": True}, unnamed)
    assert body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1a2b3c-xyz",
        "content": "found",
        "name": "lookup",
    }


def test_requires_assistant_after_tool_result(srv: ScriptedServer) -> None:
    msgs = [*TOOL_TURN, syc.Message.user("thanks")]
    on = sent(srv, {"requiresAssistantAfterToolResult": True}, msgs)
    off = sent(srv, {"requiresAssistantAfterToolResult": False}, msgs)
    base = [user("find x"), assistant_call("call_1a2b3c-xyz")]
    result = {"role": "tool", "tool_call_id": "call_1a2b3c-xyz", "content": "found"}
    filler = {"role": "assistant", "content": "I have processed the tool results."}
    assert on == {"model": "m", "messages": [*base, result, filler, user("thanks")]}
    assert off == {"model": "m", "messages": [*base, result, user("thanks")]}


def thinking_turn(*thoughts: str) -> list[syc.Message]:
    parts: tuple[syc.ThinkingPart | syc.TextPart, ...] = (
        *(syc.ThinkingPart(t, provider="compat-test") for t in thoughts),
        syc.TextPart("The answer is 4."),
    )
    return [syc.Message.user("2+2?"), syc.Message("assistant", parts), syc.Message.user("why?")]


def test_requires_thinking_as_text(srv: ScriptedServer) -> None:
    on = sent(srv, {"requiresThinkingAsText": True}, thinking_turn("Two and two."))
    off = sent(srv, {"requiresThinkingAsText": False}, thinking_turn("Two and two."))
    assert off == {
        "model": "m",
        "messages": [user("2+2?"), {"role": "assistant", "content": "The answer is 4."}, user("why?")],
    }
    content = on["messages"][1]["content"]
    assert content.startswith("Two and two.")
    assert content.endswith("The answer is 4.")
    assert {**on, "messages": [*on["messages"][:1], *on["messages"][2:]]} == {
        **off,
        "messages": [*off["messages"][:1], *off["messages"][2:]],
    }


def test_requires_thinking_as_text_keeps_order_and_separates(srv: ScriptedServer) -> None:
    body = sent(srv, {"requiresThinkingAsText": True}, thinking_turn("First.", "Second."))
    assert body["messages"][1] == {"role": "assistant", "content": "First.\n\nSecond.\n\nThe answer is 4."}


def test_requires_mistral_tool_ids(srv: ScriptedServer) -> None:
    on = sent(srv, {"requiresMistralToolIds": True}, TOOL_TURN)
    off = sent(srv, {"requiresMistralToolIds": False}, TOOL_TURN)
    new_id = on["messages"][1]["tool_calls"][0]["id"]
    assert len(new_id) == 9
    assert new_id.isalnum()
    assert new_id != "call_1a2b3c-xyz"
    result = {"role": "tool", "tool_call_id": new_id, "content": "found"}
    assert on == {"model": "m", "messages": [user("find x"), assistant_call(new_id), result]}
    assert off["messages"][1] == assistant_call("call_1a2b3c-xyz")
    assert off["messages"][2]["tool_call_id"] == "call_1a2b3c-xyz"
    again = sent(srv, {"requiresMistralToolIds": True}, TOOL_TURN)
    assert again == on  # stable: the same id maps to the same 9 characters every time


@pytest.mark.parametrize(
    ("fmt", "effort", "expected"),
    [
        ("openai", "high", {"reasoning_effort": "high"}),
        ("zai", "high", {"thinking": {"type": "enabled"}}),
        ("zai", "none", {"thinking": {"type": "disabled"}}),
        ("qwen", "high", {"enable_thinking": True}),
        ("qwen", "none", {"enable_thinking": False}),
    ],
)
def test_thinking_format(srv: ScriptedServer, fmt: str, effort: str, expected: dict[str, Any]) -> None:
    body = sent(srv, {"thinkingFormat": fmt}, reasoning_effort=effort)
    assert body == {"model": "m", "messages": [user()], **expected}


@pytest.mark.parametrize("fmt", ["openai", "zai", "qwen"])
def test_thinking_format_without_effort_sends_nothing(srv: ScriptedServer, fmt: str) -> None:
    """No reasoning_effort means the provider's default (the library's rule for every param)."""
    assert sent(srv, {"thinkingFormat": fmt}) == {"model": "m", "messages": [user()]}


# -- per-provider defaults -----------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["ollama", "vllm", "lmstudio", "llamacpp"])
def test_local_servers_default_to_system_role_and_max_tokens(provider: str, srv: ScriptedServer) -> None:
    assert {k: syc.get_model(f"{provider}:x").compat.get(k) for k in LOCAL_DEFAULTS} == LOCAL_DEFAULTS
    syc.register_provider(provider, base_url=srv.url + "/v1")
    syc.generate_text(f"{provider}:x", [syc.Message.system("s"), syc.Message.user("hi")], max_tokens=9, store=True)
    assert srv.requests[-1].json == {
        "model": "x",
        "messages": [{"role": "system", "content": "s"}, user()],
        "max_tokens": 9,
    }


def test_registered_loopback_provider_gets_local_defaults(srv: ScriptedServer) -> None:
    syc.register_provider("my-local", base_url=srv.url + "/v1", models=[{"id": "r1", "reasoning": True}])
    assert {k: syc.get_model("my-local:r1").compat.get(k) for k in LOCAL_DEFAULTS} == LOCAL_DEFAULTS
    syc.generate_text("my-local:r1", [syc.Message.system("s"), syc.Message.user("hi")], max_tokens=9)
    assert srv.requests[-1].json["messages"][0]["role"] == "system"
    assert "max_tokens" in srv.requests[-1].json


def test_openai_defaults_developer_role_and_max_completion_tokens(srv: ScriptedServer) -> None:
    reasoning = next(m for m in syc.models("openai") if m.reasoning and m.id.startswith("gpt-5"))
    syc.generate_text(
        reasoning.spec,
        [syc.Message.system("s"), syc.Message.user("hi")],
        max_tokens=9,
        credentials={"api_key": "sk", "base_url": srv.url + "/v1"},
    )
    body = srv.requests[-1].json
    assert body["messages"][0] == {"role": "developer", "content": "s"}
    assert body["max_completion_tokens"] == 9


def test_mistral_defaults(srv: ScriptedServer) -> None:
    compat = syc.get_model("mistral:mistral-large-latest").compat
    assert compat.get("requires_mistral_tool_ids") is True
    assert compat.get("max_tokens_field") == "max_tokens"
    syc.generate_text(
        "mistral:mistral-large-latest", TOOL_TURN, credentials={"api_key": "k", "base_url": srv.url + "/v1"}
    )
    ids = {json.dumps(m.get("tool_calls")) for m in srv.requests[-1].json["messages"]}
    assert "call_1a2b3c-xyz" not in "".join(ids)


def test_compat_flags_on_the_provider_apply_to_every_model(srv: ScriptedServer) -> None:
    syc.register_provider(
        "p",
        base_url=srv.url + "/v1",
        auth="none",
        compat={"maxTokensField": "max_completion_tokens"},
        models=[{"id": "a"}, {"id": "b", "compat": {"maxTokensField": "max_tokens"}}],
    )
    syc.generate_text("p:a", "hi", max_tokens=3)
    syc.generate_text("p:b", "hi", max_tokens=3)
    assert srv.requests[-2].json["max_completion_tokens"] == 3
    assert srv.requests[-1].json["max_tokens"] == 3
