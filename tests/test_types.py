from __future__ import annotations

import json

import pytest

import sycophant_py as syc
from sycophant_py import Context, Cost, DocumentPart, ImagePart, Message, Response, ThinkingPart, ToolCall, Usage


def _conversation() -> tuple[Message, ...]:
    return (
        Message.system("Be brief.", cache=True),
        Message.user(
            [
                "Look:",
                ImagePart(b"\x89PNG\r\n", media_type="image/png", detail="low"),
                DocumentPart(b"%PDF-1.4", name="a.pdf"),
            ]
        ),
        Message.assistant(
            [
                ThinkingPart("hmm", signature="sig==", provider="anthropic"),
                ThinkingPart("", signature="opaque", redacted=True),
                "Calling.",
            ],
            tool_calls=[
                ToolCall("call_1", "weather", {"city": "Paris"}, '{"city": "Paris"}', {"thought": "x"}),
                ToolCall.from_json("call_2", "weather", '{"city": "Par'),
            ],
        ),
        Message.tool_result("call_1", "sunny", name="weather"),
        Message.tool_result("call_2", "boom", is_error=True),
    )


def test_message_round_trip_is_lossless() -> None:
    for m in _conversation():
        assert Message.from_dict(m.to_dict()) == m
        assert Message.from_json(m.to_json()) == m


def test_context_round_trip_and_add_is_immutable() -> None:
    ctx = Context(_conversation(), {"temperature": 0.1}, (syc.Tool("weather", "w", {"type": "object"}),))
    again = Context.from_json(ctx.to_json())
    assert again.messages == ctx.messages
    assert again.params == {"temperature": 0.1}
    assert again.tools[0].name == "weather"
    longer = ctx.add(Message.user("more"))
    assert len(longer) == len(ctx) + 1
    assert ctx.messages == _conversation()


def test_response_round_trip_keeps_signatures_and_usage() -> None:
    msgs = _conversation()
    resp = Response(
        text="Calling.",
        finish_reason="tool_use",
        usage=Usage(10, 5, 3, 2, 1, Cost(0.1, 0.2, 0.01, 0.02)),
        tool_calls=msgs[2].tool_calls,
        reasoning="hmm",
        parts=list(msgs[2].parts),
        raw={"id": "r"},
        context=Context(msgs),
        id="r",
        model="m",
        provider="p",
        request_id="req",
    )
    again = Response.from_json(resp.to_json())
    assert again.parts == resp.parts
    assert again.usage == resp.usage
    assert again.context.messages == msgs
    assert again.message.parts[0] == ThinkingPart("hmm", signature="sig==", provider="anthropic")


def test_response_text_reasoning_and_tool_calls_are_read_from_the_parts() -> None:
    call = ToolCall("c1", "weather", {"city": "Oslo"})
    resp = Response(parts=[ThinkingPart("think "), syc.TextPart("Hel"), ThinkingPart("more"), syc.TextPart("lo"), call])
    assert (resp.text, resp.reasoning, resp.tool_calls) == ("Hello", "think more", [call])
    resp.parts.append(syc.TextPart("!"))  # one source of truth: a new part is seen at once
    assert resp.text == "Hello!"
    with pytest.raises(AttributeError):
        resp.tool_calls = []  # type: ignore[misc]  # read-only: derived from the parts
    with pytest.raises(AttributeError):
        resp.reasoning = "x"  # type: ignore[misc]  # read-only: derived from the parts


def test_response_built_from_text_and_tool_calls_gets_those_parts() -> None:
    call = ToolCall("c1", "f", {})
    resp = Response(text="hi", tool_calls=[call], reasoning="why")
    assert resp.parts == [ThinkingPart("why"), syc.TextPart("hi"), call]
    assert (resp.text, resp.reasoning, resp.tool_calls) == ("hi", "why", [call])
    assert Response().parts == []
    # With parts given they win: a text that is theirs adds nothing.
    same = Response(text="hi", parts=[syc.TextPart("hi")])
    assert same == Response(parts=[syc.TextPart("hi")])


def test_a_text_set_beside_the_parts_survives_a_round_trip_and_replace() -> None:
    import dataclasses

    call = ToolCall.from_json("c1", "Person", '{"name": "Ada"}')
    resp = Response(parts=[call], finish_reason="tool_use")
    resp.text = call.arguments_json  # what generate_object does with a forced tool's answer
    assert (resp.text, resp.parts) == ('{"name": "Ada"}', [call])
    again = Response.from_json(resp.to_json())
    assert again == resp
    assert again.text == '{"name": "Ada"}'
    assert dataclasses.replace(resp, stopped_early=True).text == '{"name": "Ada"}'
    resp.text = ""  # the parts' own text again
    assert Response.from_json(resp.to_json()) == Response(parts=[call], finish_reason="tool_use")


def test_usage_total_is_the_sum_and_addition_sums_cost() -> None:
    u = Usage(input_tokens=10, output_tokens=5, cache_read_tokens=3, cache_write_tokens=2, reasoning_tokens=4)
    assert u.total_tokens == 20
    assert u.to_dict()["total_tokens"] == 20
    s = u + Usage(1, 1, cost=Cost(input=1.0))
    assert (s.input_tokens, s.output_tokens, s.total_tokens) == (11, 6, 22)
    assert s.cost == Cost(input=1.0)
    assert Cost(1, 2, 3, 4).total == 10


def test_message_helpers() -> None:
    m = _conversation()[2]
    assert m.text == "Calling."
    assert [c.name for c in m.tool_calls] == ["weather", "weather"]
    assert Message.user("hi").parts == (syc.TextPart("hi"),)


def test_data_url_images_are_decoded() -> None:
    img = ImagePart(url="data:image/jpeg;base64,/9j/")
    assert img.data == b"\xff\xd8\xff"
    assert img.media_type == "image/jpeg"
    assert img.url is None
    with pytest.raises(syc.InvalidMessage, match="data or url"):
        ImagePart()


def test_tool_call_from_json_tolerates_bad_text() -> None:
    assert ToolCall.from_json("1", "f", "").arguments == {}
    assert ToolCall.from_json("1", "f", "").parse_error is None
    assert ToolCall.from_json("1", "f", "{oops").arguments == {}
    assert ToolCall.from_json("1", "f", "{oops").arguments_json == "{oops"
    assert ToolCall.from_json("1", "f", "{oops").parse_error is not None
    assert ToolCall.from_json("1", "f", "[1]").arguments == {"value": [1]}


def test_messages_must_be_message_objects() -> None:
    with pytest.raises(syc.InvalidMessage, match=r"messages\[0\] must be a Message"):
        syc.generate_text("ollama:x", [{"role": "user", "content": "hi"}])  # type: ignore[list-item]


def test_tool_call_parse_error_is_set_kept_and_round_trips() -> None:
    bad = ToolCall.from_json("1", "f", '{"a": ')
    assert (bad.arguments, bad.arguments_json) == ({}, '{"a": ')
    assert bad.parse_error is not None
    assert "not valid JSON" in bad.parse_error
    assert bad.to_dict()["parse_error"] == bad.parse_error
    msg = Message.assistant("", tool_calls=[bad])
    assert Message.from_json(msg.to_json()) == msg
    assert Message.from_json(msg.to_json()).tool_calls[0].parse_error == bad.parse_error
    resp = Response(tool_calls=[bad], parts=[bad])
    assert Response.from_json(resp.to_json()).tool_calls[0] == bad
    good = ToolCall.from_json("2", "f", '{"a": 1}')
    assert good.parse_error is None
    assert good.to_dict()["parse_error"] is None


def test_tool_call_arguments_encoded_twice_are_unwrapped() -> None:
    twice = ToolCall.from_json("1", "f", json.dumps(json.dumps({"city": "Oslo"})))
    assert twice.arguments == {"city": "Oslo"}
    assert twice.parse_error is None
    assert ToolCall.from_json("1", "f", '"just text"').arguments == {"value": "just text"}
