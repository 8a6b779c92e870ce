"""Empty and whitespace-only messages, lone surrogates and emoji, per provider.

What each API refuses decides what is sent: Anthropic refuses empty and whitespace-only text blocks
and a final assistant turn ending in whitespace; Bedrock refuses blank text; Gemini refuses an empty
``contents`` but answers a user turn whose text is empty (recorded traffic); OpenAI accepts an empty
string. Python strings may hold lone surrogates, which no JSON body may carry: every path (text, tool
arguments, tool results, system prompts) goes out as valid UTF-8 with U+FFFD in their place.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._models import ModelInfo
from sycophant_py._pipeline import encode_json
from sycophant_py._registry import get_protocol
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire._base import Request

APIS = ["openai_chat", "openai_responses", "anthropic_messages", "google_gemini", "bedrock_converse", "ollama_native"]


def encode(api: str, messages: list[syc.Message], **kw: Any) -> dict[str, Any]:
    info = ModelInfo(provider="p", id="anthropic.claude-x" if api == "bedrock_converse" else "m", api=api, **kw)
    return get_protocol("chat", api).encode_request(Request(info, messages))


BLANKS = [syc.Message.user(""), syc.Message.user("   \n\t"), syc.Message.user(["", "  "])]


@pytest.mark.parametrize("messages", [BLANKS[:1], BLANKS[1:2], BLANKS[2:]])
@pytest.mark.parametrize("api", ["anthropic_messages", "bedrock_converse"])
def test_nothing_but_blank_text_is_refused_before_sending(api: str, messages: list[syc.Message]) -> None:
    with pytest.raises(syc.InvalidMessage, match="nothing to send"):
        encode(api, [syc.Message.system("Be brief."), *messages])


def test_anthropic_leaves_out_blank_blocks_and_trims_a_final_prefill() -> None:
    body = encode(
        "anthropic_messages",
        [
            syc.Message.system("  "),
            syc.Message.user(["  ", "Hi", "\n"]),
            syc.Message.assistant("   "),
            syc.Message.user("Name a colour"),
            syc.Message.assistant("The colour is "),
        ],
    )
    assert "system" not in body
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Name a colour"}]},
        {"role": "assistant", "content": "The colour is"},
    ]


def test_bedrock_leaves_out_blank_text() -> None:
    call = syc.ToolCall.from_json("t1", "f", "{}")
    body = encode(
        "bedrock_converse",
        [
            syc.Message.system(" "),
            syc.Message.user(["Hi", "  "]),
            syc.Message.assistant(" ", tool_calls=[call]),
            syc.Message.tool_result("t1", "  ", name="f"),
        ],
    )
    assert "system" not in body
    assert body["messages"][0] == {"role": "user", "content": [{"text": "Hi"}]}
    assert body["messages"][1]["content"] == [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]
    assert body["messages"][2]["content"][0]["toolResult"]["content"] == [{"text": "(empty result)"}]


def test_gemini_sends_an_empty_user_turn_rather_than_no_contents() -> None:
    body = encode("google_gemini", [syc.Message.system("Be brief."), syc.Message.user("")])
    assert body["contents"] == [{"role": "user", "parts": [{"text": ""}]}]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


def test_openai_apis_take_empty_text_but_drop_empty_parts() -> None:
    image = syc.ImagePart(url="https://example.com/a.png")
    chat = encode("openai_chat", [syc.Message.user(""), syc.Message.user(["", image])])
    assert chat["messages"] == [
        {"role": "user", "content": ""},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
    ]
    responses = encode("openai_responses", [syc.Message.user(["", image])])
    assert [p["type"] for p in responses["input"][0]["content"]] == ["input_image"]


LONE = "bad \ud800 half"


def surrogate_conversation() -> list[syc.Message]:
    call = syc.ToolCall("call_1", "lookup", {"q": LONE, "emoji": "🦙"}, json.dumps({"q": LONE, "emoji": "🦙"}))
    return [
        syc.Message.system(f"System {LONE}"),
        syc.Message.user(f"User {LONE} 🎉"),
        syc.Message.assistant(f"Thinking {LONE}", tool_calls=[call]),
        syc.Message.tool_result("call_1", f"Result {LONE} ✓", name="lookup"),
        syc.Message.user(["Part", f"{LONE}"]),
    ]


@pytest.mark.parametrize("api", APIS)
def test_lone_surrogates_never_reach_the_wire(api: str) -> None:
    raw = encode_json(encode(api, surrogate_conversation()))
    text = raw.decode("utf-8")  # valid UTF-8
    json.loads(text)
    assert "\ud800" not in text
    assert text.count("\ufffd") >= 4  # system (where sent), user, assistant/tool args, tool result, part
    assert "🎉" in text
    assert "✓" in text


def test_lone_surrogates_over_http(srv: ScriptedServer) -> None:
    srv.add(Reply.json({"choices": [{"message": {"content": "ok \U0001f999"}, "finish_reason": "stop"}]}))
    resp = syc.generate_text("fake:m", surrogate_conversation())
    assert resp.text == "ok 🦙"
    body = srv.requests[0].body.decode("utf-8")
    assert "\ufffd" in body
    assert json.loads(body)["messages"][1]["content"] == "User bad \ufffd half 🎉"
