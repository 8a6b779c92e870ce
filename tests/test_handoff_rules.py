"""The cross-provider history rules (``sycophant_py._handoff``), pure, plus their settings.

``prepare_history`` is called by every built-in encoder; here it is driven directly with a
``Request``, so each rule is seen on its own: id acceptance and rewrites per protocol, pairing of
results with calls (repeats, collisions, growth), failed turns, and foreign thinking.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sycophant_py as syc
from sycophant_py import _config
from sycophant_py._handoff import ANY_IDS, HandoffRules, ToolIdRule, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._types import Message, TextPart, ThinkingPart, ToolCall
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire import Request
from sycophant_py.wire.anthropic_messages.encode import ANTHROPIC_IDS
from sycophant_py.wire.bedrock_converse.encode import BEDROCK_CLAUDE_IDS, BEDROCK_IDS
from sycophant_py.wire.google_gemini.encode import handoff_rules as gemini_rules
from sycophant_py.wire.openai_chat.encode import MISTRAL_IDS, OPENAI_CHAT_IDS
from sycophant_py.wire.openai_responses.encode import OPENAI_RESPONSES_IDS

TARGET = ModelInfo(provider="target", id="target-model", api="openai_chat")
LONG = "call_" + "7" * 31 + "|fc_" + "0123456789abcdef" * 2 + ".1"
RULES = [ANY_IDS, OPENAI_CHAT_IDS, OPENAI_RESPONSES_IDS, ANTHROPIC_IDS, BEDROCK_IDS, BEDROCK_CLAUDE_IDS, MISTRAL_IDS]


def prepare(
    messages: list[Message], rules: HandoffRules | None = None, model: ModelInfo = TARGET, **params: str
) -> tuple[Message, ...]:
    return prepare_history(Request(model, messages, params), rules or HandoffRules(tool_ids=ANTHROPIC_IDS))


def call_ids(messages: tuple[Message, ...]) -> list[str]:
    return [c.id for m in messages for c in m.tool_calls]


def result_ids(messages: tuple[Message, ...]) -> list[str | None]:
    return [m.tool_call_id for m in messages if m.role == "tool_result"]


def turn(*parts: object, provider: str | None = "elsewhere", finish: str | None = "tool_use") -> Message:
    return Message("assistant", tuple(parts), provider=provider, model="their-model", finish_reason=finish)  # type: ignore[arg-type]


# -- id rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (OPENAI_CHAT_IDS, ["call_abc", "x" * 64, "a|b.c"], ["", "x" * 65, LONG]),
        (OPENAI_RESPONSES_IDS, ["call_abc", "x" * 64], ["", "x" * 65]),
        (ANTHROPIC_IDS, ["toolu_01Ab-_9", "x" * 64], ["", "a|b", "a.b", "a:b", "x" * 65, "é"]),
        (BEDROCK_IDS, ["tooluse_x", "functions.get_temperature:0", "x" * 64], ["", "a|b", "x" * 65]),
        (BEDROCK_CLAUDE_IDS, ["tooluse_x"], ["functions.get_temperature:0", "a|b"]),
        (MISTRAL_IDS, ["aB3dE5gH9"], ["aB3dE5gH", "aB3dE5gH9x", "aB3d_5gH9", "", "éB3dE5gH9"]),
        (ANY_IDS, ["anything at all", LONG, "x" * 500], [""]),
    ],
)
def test_accepts(rule: ToolIdRule, good: list[str], bad: list[str]) -> None:
    assert all(rule.accepts(i) for i in good)
    assert not any(rule.accepts(i) for i in bad)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("raw", ["", LONG, "a|b", "a.b", "é" * 80, "call_0", "\ud800lone"])
def test_rewrites_are_accepted_deterministic_and_distinct(rule: ToolIdRule, raw: str) -> None:
    new = rule.rewrite(raw)
    assert rule.accepts(new)
    assert new == rule.rewrite(raw)
    assert new != rule.rewrite(raw, 1) != rule.rewrite(raw, 2)
    assert rule.rewrite(raw + "x") != new
    assert re.fullmatch(r"[A-Za-z0-9_.:-]+", new)  # never the characters that made the original fail


def test_rewrites_keep_a_readable_start() -> None:
    assert ANTHROPIC_IDS.rewrite(LONG).startswith("call_7777777777777777777777777777777_fc_")
    assert len(OPENAI_CHAT_IDS.rewrite(LONG)) == 64
    assert OPENAI_CHAT_IDS.fit("call_ok") == "call_ok"
    assert re.fullmatch(r"[A-Za-z0-9]{9}", MISTRAL_IDS.rewrite(LONG))


# -- ids in a conversation -----------------------------------------------------------------------


def test_accepted_ids_are_verbatim_and_unchanged_messages_are_the_same_objects() -> None:
    msgs = [Message.user("hi"), turn(ToolCall("toolu_1", "f")), Message.tool_result("toolu_1", "ok")]
    out = prepare(msgs)
    assert all(a is b for a, b in zip(out, msgs, strict=True))


def test_a_refused_id_is_rewritten_in_the_call_and_its_result() -> None:
    out = prepare([Message.user("hi"), turn(ToolCall(LONG, "f")), Message.tool_result(LONG, "ok")])
    assert call_ids(out) == result_ids(out) == [ANTHROPIC_IDS.rewrite(LONG)]


def test_repeated_ids_get_distinct_ids_and_results_pair_in_order() -> None:
    msgs = [
        Message.user("hi"),
        turn(ToolCall("call_0", "f"), ToolCall("call_0", "g")),  # twice in one turn
        Message.tool_result("call_0", "f's"),
        Message.tool_result("call_0", "g's"),
        turn(ToolCall("call_0", "h")),  # and again in a later turn
        Message.tool_result("call_0", "h's"),
    ]
    out = prepare(msgs)
    calls = call_ids(out)
    assert calls[0] == "call_0"
    assert len(set(calls)) == 3
    assert result_ids(out) == calls


def test_a_valid_id_equal_to_an_earlier_rewrite_is_rewritten_too() -> None:
    taken = ANTHROPIC_IDS.rewrite("a|b")
    msgs = [turn(ToolCall("a|b", "f")), Message.tool_result("a|b", "1"), turn(ToolCall(taken, "g"))]
    msgs.append(Message.tool_result(taken, "2"))
    out = prepare(msgs)
    first, second = call_ids(out)
    assert first == taken != second
    assert result_ids(out) == [first, second]


def test_ids_are_stable_as_the_conversation_grows() -> None:
    msgs = [Message.user("q"), turn(ToolCall(LONG, "f")), Message.tool_result(LONG, "1")]
    more = [*msgs, turn(ToolCall(LONG, "f")), Message.tool_result(LONG, "2"), Message.user("again")]
    short, full = prepare(msgs), prepare(more)
    assert call_ids(full)[:1] == call_ids(short)
    assert len(set(call_ids(full))) == 2


def test_a_result_for_no_call_still_gets_an_acceptable_id() -> None:
    out = prepare([Message.user("q"), Message.tool_result("x|y", "stray")])
    assert result_ids(out) == [ANTHROPIC_IDS.rewrite("x|y")]


# -- failed turns --------------------------------------------------------------------------------


@pytest.mark.parametrize("finish", ["error", "aborted"])
def test_failed_turns_are_left_out_with_their_results(finish: str) -> None:
    msgs = [
        Message.user("q"),
        turn(TextPart("partial"), ToolCall("call_1", "f"), finish=finish),
        Message.tool_result("call_1", "ran anyway"),
        Message.user("q again"),
        turn(TextPart("whole"), ToolCall("call_1", "f")),  # the same id, answered properly this time
        Message.tool_result("call_1", "ok"),
    ]
    out = prepare(msgs)
    assert [m.text for m in out] == ["q", "q again", "whole", "ok"]
    assert call_ids(out) == result_ids(out) == ["call_1"]


def test_turns_without_a_finish_reason_are_kept() -> None:
    msgs = [Message.user("q"), Message.assistant("hand-made"), turn(TextPart("cut"), finish="length")]
    assert prepare(msgs) == tuple(msgs)


# -- thinking and provider data ------------------------------------------------------------------


def foreign_turn() -> Message:
    return turn(
        ThinkingPart("I pondered.", "SIG", provider="elsewhere", provider_data={"protocol": "x"}),
        ThinkingPart("", "OPAQUE", redacted=True, provider="elsewhere"),
        ThinkingPart("", "SIG-ONLY", provider="elsewhere"),
        TextPart("Answer."),
        ToolCall("call_1", "f", provider_data={"thought_signature": "TS", "item_id": "fc_1"}),
    )


def test_foreign_thinking_becomes_text_and_opaque_parts_go() -> None:
    [msg] = prepare([foreign_turn()])
    assert msg.parts[:2] == (TextPart("I pondered."), TextPart("Answer."))
    assert msg.tool_calls[0].provider_data is None
    assert (msg.provider, msg.model, msg.finish_reason) == ("elsewhere", "their-model", "tool_use")


def test_foreign_thinking_can_be_dropped_by_param_or_request_setting() -> None:
    [by_param] = prepare([foreign_turn()], foreign_thinking="drop")
    [by_setting] = prepare_history(Request(TARGET, [foreign_turn()], foreign_thinking="drop"), HandoffRules())
    for msg in (by_param, by_setting):
        assert [type(p).__name__ for p in msg.parts] == ["TextPart", "ToolCall"]
        assert msg.text == "Answer."


def test_joined_text_protocols_keep_thinking_its_own_paragraph() -> None:
    [msg] = prepare([foreign_turn()], HandoffRules(thinking_separator="\n\n"))
    assert msg.text == "I pondered.\n\nAnswer."
    [alone] = prepare([turn(ThinkingPart("Only this.", provider="elsewhere"))], HandoffRules(thinking_separator="\n\n"))
    assert alone.text == "Only this."


def test_a_turn_left_with_nothing_is_dropped() -> None:
    msgs = [Message.user("q"), turn(ThinkingPart("", "OPAQUE", redacted=True, provider="elsewhere"))]
    assert prepare(msgs) == (msgs[0],)


def test_own_and_unknown_thinking_is_left_to_the_encoder() -> None:
    own = turn(ThinkingPart("mine", "SIG", provider="target"), ToolCall("c", "f", provider_data={"k": 1}))
    own = Message("assistant", own.content, provider="target")
    unknown = Message.assistant([ThinkingPart("who knows", "SIG"), TextPart("x")])
    assert prepare([own, unknown]) == (own, unknown)


def test_verified_providers_count_as_own() -> None:
    msg = turn(ThinkingPart("claude", "SIG", provider="anthropic"), provider="anthropic")
    assert prepare([msg], HandoffRules(verifies=frozenset({"anthropic"}))) == (msg,)
    assert prepare([msg])[0].parts == (TextPart("claude"),)


def test_gemini_signatures_stay_within_one_generation() -> None:
    g3 = ModelInfo(provider="google", id="gemini-3-flash-preview", api="google_gemini")
    part = ThinkingPart("plan", "SIG", provider="google", provider_data={"gemini": "thought"})
    call = ToolCall("c", "f", provider_data={"thought_signature": "TS"})
    for model, native in (("gemini-3-pro-preview", True), ("gemini-2.5-flash", False), ("gemini-flash-latest", True)):
        msg = Message("assistant", (part, call), provider="google", model=model, finish_reason="tool_use")
        [out] = prepare([msg], gemini_rules(g3), model=g3)
        assert (out is msg) is native, model
        if not native:
            assert out.parts == (TextPart("plan"), ToolCall("c", "f"))


# -- the types and the settings ------------------------------------------------------------------


def test_message_origin_round_trips_and_is_validated() -> None:
    msg = turn(TextPart("x"), finish="aborted")
    assert Message.from_json(msg.to_json()) == msg
    assert "provider" not in Message.user("q").to_dict()
    with pytest.raises(syc.InvalidMessage, match="finish reason"):
        Message.from_dict({"role": "assistant", "content": "x", "finish_reason": "exploded"})


def test_response_message_carries_its_origin() -> None:
    resp = syc.Response(text="x", finish_reason="error", provider="p", model="m", parts=[TextPart("x")])
    assert (resp.message.provider, resp.message.model, resp.message.finish_reason) == ("p", "m", "error")


def test_config_file_setting_sits_under_configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text('foreign_thinking = "drop"\n', encoding="utf-8")
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)
    assert _config.settings().foreign_thinking == "drop"
    syc.configure(reset=True, foreign_thinking="text")
    assert _config.settings().foreign_thinking == "text"
    path.write_text('foreign_thinking = "hide"\n', encoding="utf-8")
    syc.configure(reset=True)
    with pytest.raises(syc.SycophantError, match="foreign_thinking"):
        _config.settings()


def test_signature_only_thinking_is_attributed_to_its_provider() -> None:
    """A redacted block alone (no reasoning text) still records who made it, so it never crosses providers."""
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "redacted_thinking", "data": "T1BBUVVF"}, {"type": "text", "text": "Hi."}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    with ScriptedServer() as srv:
        syc.register_provider("vendor", base_url=srv.url, api="anthropic_messages", auth="none")
        srv.add(Reply.json(body))
        resp = syc.generate_text("vendor:claude-x", "hello")
    assert resp.reasoning == ""
    assert isinstance(resp.parts[0], ThinkingPart)
    assert resp.parts[0].provider == "vendor"
    assert resp.context.messages[-1].provider == "vendor"


# -- a tool loop begun elsewhere, continued on Claude with thinking --------------------------------


def _loop(first: list[object], *, answered: bool = True) -> list[Message]:
    msgs = [Message.user("Weather?"), turn(*first, ToolCall("call_1", "get_weather", {"city": "Oslo"}))]
    msgs.append(Message.tool_result("call_1", "sunny", name="get_weather"))
    return [*msgs, Message("assistant", "Sunny.", provider="elsewhere"), Message.user("And now?")] if answered else msgs


@pytest.mark.parametrize("protocol", ["anthropic_messages", "bedrock_converse"])
def test_thinking_waits_for_the_next_turn_when_a_loop_began_without_it(protocol: str) -> None:
    """One thinking configuration per turn: a loop begun on another provider is finished without thinking."""
    from sycophant_py._registry import get_protocol

    model = ModelInfo(provider="claude-host", id="anthropic.claude-sonnet-4-5", api=protocol)
    proto = get_protocol("chat", protocol)

    def body(messages: list[Message]) -> dict[str, object]:
        encoded: dict[str, object] = proto.encode_request(Request(model, messages, {"reasoning_effort": "low"}))
        return encoded

    def thinks(b: dict[str, object]) -> bool:
        return "thinking" in b or "thinking" in dict(b.get("additionalModelRequestFields") or {})  # type: ignore[call-overload]

    assert not thinks(body(_loop([TextPart("Let me look.")], answered=False)))  # mid-loop, begun elsewhere
    assert thinks(body(_loop([TextPart("Let me look.")])))  # the loop ended: the next turn thinks
    own = ThinkingPart("Look it up.", "SIG", provider="claude-host")
    mine = _loop([own, TextPart("Let me look.")], answered=False)
    mine[1] = Message("assistant", mine[1].content, provider="claude-host", finish_reason="tool_use")
    assert thinks(body(mine))  # the loop began with this provider's own thinking: it goes on thinking


def test_a_turn_without_recorded_origin_takes_its_thinkings() -> None:
    """A context saved before messages recorded their provider: the thinking's provider decides for the turn."""
    old = Message.assistant(
        [ThinkingPart("plan", "SIG", provider="google"), ToolCall("c", "f", provider_data={"thought_signature": "T"})]
    )
    [out] = prepare([old])
    assert out.parts == (TextPart("plan"), ToolCall("c", "f"))
