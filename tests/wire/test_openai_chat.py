"""``openai_chat`` decoding: body shapes, usage arithmetic, stream endings and tool-call fragments.

Pure tests call the protocol directly with hand-written bodies of the shapes servers really send;
the end-of-stream cases also run through the real HTTP pipeline against a scripted server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import ResponseInvalid, StreamError
from sycophant_py._sse import SSEDecoder
from sycophant_py.testing import Reply, ScriptedServer, sse_body
from sycophant_py.wire._base import StreamContinue, StreamDone, StreamFailed, StreamResult
from sycophant_py.wire.openai_chat import OpenAIChat, decode_usage

P = OpenAIChat()
SSE = {"content-type": "text/event-stream"}


def completion(message: dict[str, Any] | None = None, finish: str | None = "stop", **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
    if message is not None:
        choice["message"] = message
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "m", "choices": [choice], **extra}


# -- wrong-shape bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"detail": "Not Found"}, "Not Found"),
        ({"detail": [{"loc": ["body", "model"], "msg": "field required", "type": "missing"}]}, "field required"),
        ({"error": {"message": "model overloaded", "type": "server_error"}}, "model overloaded"),
        ({"message": "upstream timed out"}, "upstream timed out"),
        ({"object": "chat.completion", "choices": []}, None),
        ({"choices": {"0": {}}}, None),
        ({"choices": ["x"]}, None),
        ({"choices": [{"index": 0}]}, None),
        ({"choices": [{"index": 0, "message": "hi"}]}, None),
        ({"choices": [{"index": 0, "message": {"content": 42}}]}, None),
        ({"choices": [{"index": 0, "message": {"content": "", "tool_calls": {"id": "x"}}}]}, None),
        ([{"choices": []}], None),
        ("Service Unavailable", "Service Unavailable"),
        (None, None),
    ],
)
def test_wrong_shape_bodies_raise_response_invalid(body: Any, said: str | None) -> None:
    with pytest.raises(ResponseInvalid) as info:
        P.decode_response(body)
    assert info.value.body == body
    assert str(info.value).startswith("openai_chat: the response has")
    if said is not None:
        assert f"the provider said: {said}" in str(info.value)


def test_empty_but_valid_answers_stay_valid() -> None:
    resp = P.decode_response(completion({"role": "assistant", "content": ""}))
    assert (resp.text, resp.finish_reason, resp.parts) == ("", "stop", [])
    resp = P.decode_response(completion({"role": "assistant", "content": None}, "length"))
    assert (resp.text, resp.finish_reason) == ("", "length")
    resp = P.decode_response(completion(None, "length"))  # no message at all, but a finish reason
    assert (resp.text, resp.finish_reason) == ("", "length")


def test_choice_index_zero_is_found_by_its_index() -> None:
    body = {
        "choices": [
            {"index": 1, "message": {"content": "second"}, "finish_reason": "stop"},
            {"index": 0, "message": {"content": "first"}, "finish_reason": "length"},
        ]
    }
    resp = P.decode_response(body)
    assert (resp.text, resp.finish_reason) == ("first", "length")


@pytest.mark.parametrize(
    ("raw", "unified"),
    [("stop", "stop"), ("eos", "stop"), ("tool_calls", "tool_use"), ("content_filter", "content_filter"),
     ("insufficient_system_resource", "error"), ("some_new_reason", "stop"), (None, "stop"), (7, "stop")],
)  # fmt: skip
def test_finish_reasons_unknown_is_stop_with_the_raw_value_kept(raw: Any, unified: str) -> None:
    resp = P.decode_response(completion({"content": "x"}, raw))
    assert resp.finish_reason == unified
    assert resp.provider_finish_reason == (raw if isinstance(raw, str) else None)


def test_invalid_tool_arguments_are_kept_and_marked() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}}
    resp = P.decode_response(completion({"content": None, "tool_calls": [call]}, "tool_calls"))
    tc = resp.tool_calls[0]
    assert (tc.arguments, tc.arguments_json) == ({}, '{"a": 1')
    assert tc.parse_error is not None
    assert "not valid JSON" in tc.parse_error
    good = {"id": "call_2", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    assert P.decode_response(completion({"tool_calls": [good]}, "tool_calls")).tool_calls[0].parse_error is None


# -- usage -----------------------------------------------------------------------------------------


def _counts(u: syc.Usage) -> tuple[int, int, int, int, int]:
    return (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.reasoning_tokens)


def test_openai_usage_cached_inside_prompt_reasoning_inside_completion() -> None:
    u = decode_usage(
        {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 256, "audio_tokens": 0},
        }
    )
    assert _counts(u) == (86, 300, 1920, 0, 256)
    assert u.total_tokens == 2306


def test_audio_input_outside_the_prompt_count_is_input_not_reasoning() -> None:
    # Mistral voxtral: prompt_tokens leaves the audio out, total_tokens counts it.
    u = decode_usage(
        {
            "prompt_tokens": 12,
            "completion_tokens": 40,
            "total_tokens": 552,
            "prompt_tokens_details": {"audio_tokens": 500},
        }
    )
    assert _counts(u) == (512, 40, 0, 0, 0)
    assert u.output_tokens == 40  # = completion_tokens
    assert u.total_tokens == 552


def test_audio_input_inside_the_prompt_count_is_not_added_again() -> None:
    u = decode_usage(
        {
            "prompt_tokens": 512,
            "completion_tokens": 40,
            "total_tokens": 552,
            "prompt_tokens_details": {"audio_tokens": 500},
        }
    )
    assert _counts(u) == (512, 40, 0, 0, 0)


def test_hidden_reasoning_outside_completion_tokens_is_still_added() -> None:
    # xAI: completion_tokens leaves reasoning out; total_tokens and the details count it.
    u = decode_usage(
        {
            "prompt_tokens": 30,
            "completion_tokens": 10,
            "total_tokens": 240,
            "completion_tokens_details": {"reasoning_tokens": 200},
        }
    )
    assert _counts(u) == (30, 210, 0, 0, 200)


def test_cached_tokens_reported_outside_the_prompt_count() -> None:
    # Azure AI Foundry: cached_tokens beside prompt_tokens (cached > prompt), total = prompt + completion.
    u = decode_usage(
        {
            "prompt_tokens": 25,
            "completion_tokens": 9,
            "total_tokens": 34,
            "prompt_tokens_details": {"cached_tokens": 1536},
        }
    )
    assert _counts(u) == (25, 9, 1536, 0, 0)
    assert u.input_tokens > 0


def test_usage_counts_as_strings_nulls_and_wrong_types() -> None:
    u = decode_usage(
        {
            "prompt_tokens": "100",
            "completion_tokens": 20.0,
            "total_tokens": None,
            "prompt_tokens_details": None,
            "completion_tokens_details": {"reasoning_tokens": None},
        }
    )
    assert _counts(u) == (100, 20, 0, 0, 0)
    assert _counts(decode_usage({"prompt_tokens": True, "completion_tokens": -3})) == (0, 0, 0, 0, 0)
    assert decode_usage(["not", "usage"]) == syc.Usage()  # type: ignore[arg-type]


def test_cache_write_is_capped_by_what_is_left_of_the_prompt() -> None:
    u = decode_usage(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 900, "cache_write_tokens": 900},
        }
    )
    assert _counts(u) == (0, 5, 900, 100, 0)


# -- streams ---------------------------------------------------------------------------------------


def chunk(content: str | None = None, *, finish: str | None = None, index: Any = 0, **delta: Any) -> dict[str, Any]:
    d = dict(delta)
    if content is not None:
        d["content"] = content
    return {"id": "chatcmpl-s", "model": "m", "choices": [{"index": index, "delta": d, "finish_reason": finish}]}


def usage_chunk(prompt: int = 7, completion: int = 3) -> dict[str, Any]:
    return {"id": "chatcmpl-s", "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def run(*payloads: Any, done: bool = True) -> tuple[list[StreamEvent], StreamResult]:
    """Feed SSE frames through the decoder and, when the body ends first, ``end_of_stream``."""
    body = "".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads)
    if done:
        body += "data: [DONE]\n\n"
    state = P.init_stream()
    state.start()
    events: list[StreamEvent] = state.drain()
    dec = SSEDecoder()
    for frame in [*dec.feed(body.encode()), *dec.flush()]:
        result = P.decode_stream_chunk(state, frame)
        events += result.events
        if not isinstance(result, StreamContinue):
            return events, result
    final = P.end_of_stream(state)
    return events + final.events, final


def test_clean_end_without_done_after_a_finish_reason_is_complete() -> None:
    events, result = run(chunk(role="assistant"), chunk("Hi"), chunk(finish="length"), usage_chunk(5, 1), done=False)
    assert isinstance(result, StreamDone)
    assert events[-1].type == "done"
    assert events[-1].reason == "length"
    resp = result.response
    assert (resp.text, resp.finish_reason, resp.provider_finish_reason) == ("Hi", "length", "length")
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (5, 1)


def test_end_without_done_nor_finish_reason_is_an_error_keeping_the_partial() -> None:
    events, result = run(chunk(role="assistant"), chunk("par"), usage_chunk(4, 2), done=False)
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, ResponseInvalid)
    last = events[-1]
    assert last.type == "error"
    assert last.response is not None
    assert (last.response.text, last.response.usage.output_tokens) == ("par", 2)


def test_finish_reason_error_ends_the_stream_with_an_error_event() -> None:
    events, result = run(chunk("half"), chunk(finish="error"))
    assert isinstance(result, StreamFailed)
    assert isinstance(result.error, StreamError)
    assert "'error'" in str(result.error)
    assert [e.type for e in events].count("done") == 0
    assert events[-1].type == "error"
    assert events[-1].response is not None
    assert events[-1].response.text == "half"


@pytest.mark.parametrize(
    "frame",
    [
        [1, 2],
        '"text"',
        {"detail": "Upstream closed"},
        {"choices": "nope"},
        {"choices": [{"index": 0, "delta": "x"}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": {"index": 0}}}]},
    ],
)
def test_wrong_shape_frames_raise_response_invalid(frame: Any) -> None:
    state = P.init_stream()
    data = frame if isinstance(frame, str) else json.dumps(frame)
    (event,) = SSEDecoder().feed(f"data: {data}\n\n".encode())
    with pytest.raises(ResponseInvalid) as info:
        P.decode_stream_chunk(state, event)
    assert info.value.body == json.loads(data)
    if isinstance(frame, dict) and "detail" in frame:
        assert "Upstream closed" in str(info.value)


def test_chunks_without_choices_or_message_are_ignored() -> None:
    _, result = run({"id": "x", "object": "chat.completion.chunk"}, chunk("ok"), chunk(finish="stop"))
    assert isinstance(result, StreamDone)
    assert result.response.text == "ok"


def test_choice_index_null_counts_as_zero_and_other_choices_are_ignored() -> None:
    _, result = run(chunk("a", index=None), chunk("b", index=1), chunk("c"), chunk(finish="stop", index=None))
    assert isinstance(result, StreamDone)
    assert result.response.text == "ac"


def tc(index: Any = None, id: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:  # noqa: A002
    out: dict[str, Any] = {"type": "function", "function": {}}
    if index is not None:
        out["index"] = index
    if id is not None:
        out["id"] = id
    if name is not None:
        out["function"]["name"] = name
    if args is not None:
        out["function"]["arguments"] = args
    return out


def _calls(result: StreamResult) -> list[tuple[str, str, dict[str, Any]]]:
    assert isinstance(result, StreamDone)
    return [(c.id, c.name, dict(c.arguments)) for c in result.response.tool_calls]


def test_tool_fragments_are_joined_by_index() -> None:
    _, result = run(
        chunk(tool_calls=[tc(0, "call_a", "f", '{"x"')]),
        chunk(tool_calls=[tc(1, "call_b", "g", "{}")]),
        chunk(tool_calls=[tc(0, args=": 1}")]),
        chunk(finish="tool_calls"),
    )
    assert _calls(result) == [("call_a", "f", {"x": 1}), ("call_b", "g", {})]


def test_calls_that_reuse_an_index_with_a_new_id_are_separate_calls() -> None:
    _, result = run(
        chunk(tool_calls=[tc(0, "call_a", "f", '{"city": "Paris"}')]),
        chunk(tool_calls=[tc(0, "call_b", "f", '{"city": "Rome"}')]),
        chunk(finish="tool_calls"),
    )
    assert _calls(result) == [("call_a", "f", {"city": "Paris"}), ("call_b", "f", {"city": "Rome"})]


def test_calls_without_index_are_joined_by_id_or_continue_the_last() -> None:
    _, result = run(
        chunk(tool_calls=[tc(None, "call_a", "f", '{"a"'), tc(None, "call_b", "g", "{}")]),
        chunk(tool_calls=[tc(None, "call_a", args=": 1}")]),
        chunk(tool_calls=[tc(None, "call_c", "h", '{"q": ')]),
        chunk(tool_calls=[tc(args='"z"}')]),
        chunk(finish="tool_calls"),
    )
    assert _calls(result) == [("call_a", "f", {"a": 1}), ("call_b", "g", {}), ("call_c", "h", {"q": "z"})]


def test_streamed_invalid_arguments_are_marked() -> None:
    _, result = run(chunk(tool_calls=[tc(0, "call_a", "f", '{"a": ')]), chunk(finish="tool_calls"))
    assert isinstance(result, StreamDone)
    call = result.response.tool_calls[0]
    assert (call.arguments, call.arguments_json) == ({}, '{"a": ')
    assert call.parse_error is not None


# -- through the pipeline --------------------------------------------------------------------------


def _frames(events: list[Any]) -> list[bytes]:
    return [sse_body([e], done=False) for e in events]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_stream_closed_after_finish_reason_is_done_through_the_api(srv: ScriptedServer, mode: str) -> None:
    srv.add(
        Reply(200, SSE, _frames([chunk(role="assistant"), chunk("Hello"), chunk(finish="stop"), usage_chunk(6, 2)]))
    )
    if mode == "sync":
        stream = syc.stream_text("fake:m", "hi")
        events = list(stream)
        resp = stream.response()
    else:

        async def go() -> tuple[list[StreamEvent], syc.Response]:
            s = syc.astream_text("fake:m", "hi")
            evs = [e async for e in s]
            return evs, await s.response()

        import asyncio

        events, resp = asyncio.run(go())
    assert [e.type for e in events][-1] == "done"
    assert (resp.text, resp.finish_reason, resp.error) == ("Hello", "stop", None)
    assert (resp.usage.input_tokens, resp.usage.output_tokens) == (6, 2)
    assert srv.requests[0].json["stream"] is True


def test_a_detail_body_with_200_is_response_invalid_through_the_api(srv: ScriptedServer) -> None:
    srv.add(Reply.json({"detail": "Model not loaded"}))
    with pytest.raises(syc.ResponseInvalid, match="Model not loaded") as info:
        syc.generate_text("fake:m", "hi")
    assert info.value.body == {"detail": "Model not loaded"}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_tool_loop_answers_invalid_arguments_with_the_parse_error(srv: ScriptedServer, mode: str) -> None:
    ran: list[dict[str, Any]] = []

    def weather(city: str) -> str:
        ran.append({"city": city})
        return "sunny"

    broken = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Par'}}
    srv.add(
        Reply.json(completion({"role": "assistant", "content": None, "tool_calls": [broken]}, "tool_calls")),
        Reply.json(completion({"role": "assistant", "content": "Sorry, retrying later."})),
    )
    tools = [syc.Tool.from_function(weather)]
    if mode == "sync":
        resp = syc.generate_text("fake:m", "Weather?", tools=tools)
    else:
        import asyncio

        resp = asyncio.run(syc.agenerate_text("fake:m", "Weather?", tools=tools))
    assert ran == []  # the function never ran with made-up arguments
    assert resp.text == "Sorry, retrying later."
    sent = srv.requests[1].json["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Par'  # the raw text goes back
    result = sent[2]
    assert (result["role"], result["tool_call_id"]) == ("tool", "call_1")
    assert "not valid JSON" in result["content"]
    assert '{"city": "Par' in result["content"]
    step_call = resp.steps[0].tool_calls[0]
    assert step_call.parse_error is not None
    assert resp.steps[0].context.to_dict()  # serialisable with the parse error


def test_calls_without_an_id_get_unique_ones() -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    first = P.decode_response(completion({"tool_calls": [call, call]}, "tool_calls")).tool_calls
    second = P.decode_response(completion({"tool_calls": [call]}, "tool_calls")).tool_calls
    ids = [c.id for c in (*first, *second)]
    assert all(i.startswith("call_") for i in ids)
    assert len(set(ids)) == 3
    _, result = run(
        chunk(tool_calls=[tc(0, None, "f", '{"a"')]), chunk(tool_calls=[tc(0, args=": 1}")]), chunk(finish="stop")
    )
    assert isinstance(result, StreamDone)
    (streamed,) = result.response.tool_calls
    assert streamed.id.startswith("call_")
    assert streamed.id not in ids
    assert dict(streamed.arguments) == {"a": 1}


def test_done_marker_with_surrounding_whitespace() -> None:
    _, result = run(chunk("x"), chunk(finish="stop"), " [DONE] ", done=False)
    assert isinstance(result, StreamDone)
    assert result.response.text == "x"


def test_vllm_abort_is_an_error() -> None:
    assert P.decode_response(completion({"content": "cut"}, "abort")).finish_reason == "error"
