"""The contract every chat wire protocol passes, for authors of custom protocols and stream functions.

The library's built-in protocols run exactly these checks (``tests/contract/test_contract.py``
calls them). To run them on your own protocol or ``stream=`` function, write a :class:`Dialect`
that renders scripted replies in your API's wire format and reads back what the library sent,
then either subclass :class:`ContractSuite` in a pytest module::

    from sycophant_py.testing.contract import ContractSuite

    class TestAcme(ContractSuite):
        dialect = AcmeDialect()

or call :func:`run_contract` anywhere (``run_contract(AcmeDialect()).raise_for_failures()``).

Each check starts a :class:`~sycophant_py.testing.ScriptedServer` on 127.0.0.1, registers the
provider ``contract`` pointing at it (:meth:`Dialect.register`), calls the public API and
unregisters the provider afterwards. Nothing else in the process is changed, except that the
retry policy runs on a fake clock during the error checks. This module needs pytest.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

import sycophant_py as syc
from sycophant_py._events import StreamEvent
from sycophant_py.testing._clock import FakeClock
from sycophant_py.testing._handoff_checks import (
    FOREIGN_TOOL_ID,
    check_handoff_failed_turn_left_out,
    check_handoff_foreign_context,
    check_handoff_thinking_dropped,
    foreign_context,
)
from sycophant_py.testing._server import Reply, ScriptedServer

__all__ = [
    "CHECKS",
    "PROVIDER",
    "Call",
    "CheckResult",
    "ContractReport",
    "ContractSuite",
    "Dialect",
    "ERROR_CASES",
    "FOREIGN_TOOL_ID",
    "ScriptedCall",
    "ScriptedUsage",
    "U",
    "PNG_1X1",
    "QUIRKS",
    "WAV_HEADER",
    "check_async_matches_sync",
    "check_context_overflow",
    "check_context_overflow_in_stream",
    "check_decoding_quirk",
    "check_error_mapping",
    "check_image_input",
    "check_handoff_failed_turn_left_out",
    "check_handoff_foreign_context",
    "check_handoff_thinking_dropped",
    "check_length_finish",
    "check_stream_text",
    "check_stream_tool_calls",
    "check_structured_output_at_protocol_level",
    "check_system_prompt_and_multi_turn",
    "check_text",
    "check_tool_loop_runs_functions",
    "check_tools_sent_and_calls_decoded",
    "check_unsupported_input_before_sending",
    "check_usage_stream_matches_whole",
    "contract_provider",
    "foreign_context",
    "run_contract",
    "split",
    "well_formed",
]

PROVIDER = "contract"
"""The provider id the checks register."""


@dataclass(frozen=True)
class ScriptedUsage:
    """Usage to script, in the library's semantics (``input`` = uncached input)."""

    input: int
    output: int
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        """``input + output + cache_read + cache_write``."""
        return self.input + self.output + self.cache_read + self.cache_write


@dataclass(frozen=True)
class ScriptedCall:
    """A tool call to script: id, name, arguments."""

    id: str
    name: str
    arguments: dict[str, Any]


U = ScriptedUsage
"""Short alias used by dialects."""
Call = ScriptedCall
"""Short alias used by dialects."""


class Dialect(ABC):
    """Renders scripted replies and reads requests for one wire protocol (or stream function)."""

    protocol: str = ""
    """The protocol name the provider uses (``api``)."""
    model: str = "contract-model"
    """The model id used in the checks."""
    reports_cache: bool = True
    """Does the API carry cache read/write counts?"""

    def provider(self, url: str) -> dict[str, Any]:
        """The provider's settings for the scripted server's root URL (``register_provider`` keywords)."""
        return {"base_url": url, "auth": "none", "api": self.protocol}

    def register(self, url: str, name: str = PROVIDER) -> None:
        """Register provider ``name`` against the scripted server (override for a ``stream=`` function)."""
        syc.register_provider(name, **self.provider(url))

    @abstractmethod
    def text(self, text: str, usage: ScriptedUsage, finish: str = "stop") -> Reply:
        """A complete non-streaming text answer (``finish`` in the unified vocabulary)."""

    @abstractmethod
    def stream(self, pieces: list[str], usage: ScriptedUsage, chunk_size: int | None = None) -> Reply:
        """A streamed text answer, one provider delta per piece (body split every ``chunk_size`` bytes)."""

    @abstractmethod
    def tool_calls(self, calls: list[ScriptedCall], usage: ScriptedUsage) -> Reply:
        """A non-streaming answer asking for tool calls."""

    @abstractmethod
    def tool_calls_stream(
        self, calls: list[ScriptedCall], usage: ScriptedUsage, chunk_size: int | None = None
    ) -> Reply:
        """A streamed answer asking for tool calls, arguments split across several deltas."""

    @abstractmethod
    def error(self, status: int, message: str) -> Reply:
        """An error response in the provider's error format."""

    @abstractmethod
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        """Normalised (role, text) pairs of what was sent: roles system, user, assistant,
        tool_call (text = tool name) and tool_result (text = result)."""

    @abstractmethod
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        """Names of the tool definitions sent."""

    @abstractmethod
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The response JSON Schema sent for structured output, if any."""

    def validate(self, body: dict[str, Any]) -> None:  # noqa: B027 - an optional hook
        """Validate a request body against the API's official schema (when the dialect can)."""

    # -- optional hooks of the overflow, input and decoding-shape checks --------------------------

    overflow_reports_sizes: bool = True
    """Does the provider's overflow error give the context window and the size sent?"""
    image_urls: bool = True
    """Does the API take images by URL (the provider fetches them)?"""

    def overflow(self, limit: int, requested: int) -> Reply:
        """The provider's answer to a prompt that does not fit (default: an OpenAI-style 400)."""
        return self.error(
            400,
            f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
            f"{requested} tokens. Please reduce the length of the messages.",
        )

    def overflow_stream(self, limit: int, requested: int) -> Reply | None:
        """A stream that starts, then reports an overflow in an error event (None: not in this API)."""
        return None

    def sent_images(self, body: dict[str, Any]) -> list[dict[str, str]] | None:
        """The images of the last user message as sent: ``{"url": ...}`` or ``{"data": base64[,
        "media_type": ...]}`` each (None: the dialect does not read images; the image check is skipped)."""
        return None

    def quirk(self, name: str, text: str, usage: ScriptedUsage) -> Reply | None:
        """A reply showing one decoding shape of :data:`QUIRKS` (None where the API has no such shape).

        ``no_end_marker`` and ``content_index`` are streams of ``text`` in two deltas; ``audio_tokens``
        and ``cached_over_prompt`` are whole answers whose usage, read the provider's way, is ``usage``.
        """
        return None

    def sent_tool_ids(self, body: dict[str, Any]) -> tuple[list[str], list[str]] | None:
        """``(ids of the tool calls sent, ids the tool results sent refer to)``, each in body order;
        None when the API carries no call ids (the handoff checks then test the pairing by name)."""
        return None


def split(body: bytes, chunk_size: int | None) -> list[bytes]:
    """Cut a body into chunks of ``chunk_size`` bytes (whole when None)."""
    if not chunk_size:
        return [body]
    return [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]


@contextmanager
def contract_provider(dialect: Any) -> Iterator[ScriptedServer]:
    """A scripted server with provider ``contract`` registered against it (unregistered after)."""
    with ScriptedServer() as srv:
        register = getattr(dialect, "register", None)
        if register is not None:
            register(srv.url, PROVIDER)
        else:  # a dialect written against the older interface (only ``provider``)
            syc.register_provider(PROVIDER, **dialect.provider(srv.url))
        try:
            yield srv
        finally:
            if PROVIDER in _registered():
                syc.unregister_provider(PROVIDER)


def _registered() -> list[str]:
    from sycophant_py import _catalog

    return list(_catalog.REGISTERED)


# -- the checks (``d`` is a Dialect, ``srv`` the server of ``contract_provider(d)``) ----------


def _model(d: Any) -> str:
    return f"{PROVIDER}:{d.model}"


def _sent(srv: ScriptedServer, d: Any, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = srv.requests[index].json
    d.validate(body)
    return body


def _check_usage(resp: syc.Response, u: Any, d: Any) -> None:
    usage = resp.usage
    assert (usage.input_tokens, usage.output_tokens) == (u.input, u.output)
    if d.reports_cache:
        assert (usage.cache_read_tokens, usage.cache_write_tokens) == (u.cache_read, u.cache_write)
    assert usage.total_tokens == (
        usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    )


def well_formed(events: list[StreamEvent]) -> None:
    """Assert the unified event grammar: ``start``, balanced blocks, one terminal event, one live view."""
    types = [e.type for e in events]
    assert types[0] == "start"
    assert types.count("done") + types.count("error") == 1
    assert types[-1] in ("done", "error")
    open_blocks: dict[int, str] = {}
    for e in events[1:-1]:
        kind, _, phase = e.type.rpartition("_")
        if phase == "start":
            assert e.content_index not in open_blocks
            open_blocks[e.content_index] = kind
        elif phase == "delta":
            assert open_blocks.get(e.content_index) == kind, e
        elif phase == "end":
            assert open_blocks.pop(e.content_index) == kind
    assert not open_blocks
    assert len({id(e.partial) for e in events}) == 1


def check_text(d: Any, srv: ScriptedServer) -> None:
    """A text answer: text, finish reason, usage, what was sent, the context."""
    u = ScriptedUsage(input=11, output=7, cache_read=3, cache_write=2 if d.reports_cache else 0)
    srv.add(d.text("Hello there.", u))
    resp = syc.generate_text(_model(d), [syc.Message.user("Hi")], max_tokens=50, temperature=0.3)
    assert resp.text == "Hello there."
    assert resp.finish_reason == "stop"
    assert resp.tool_calls == []
    _check_usage(resp, u, d)
    assert d.sent_messages(_sent(srv, d)) == [("user", "Hi")]
    assert resp.context.messages[-1].text == "Hello there."


def check_length_finish(d: Any, srv: ScriptedServer) -> None:
    """A truncated answer finishes with ``length``."""
    srv.add(d.text("Cut", ScriptedUsage(3, 50), finish="length"))
    assert syc.generate_text(_model(d), "Hi", max_tokens=50).finish_reason == "length"


def check_system_prompt_and_multi_turn(d: Any, srv: ScriptedServer) -> None:
    """A system prompt and a second turn built from ``resp.context``."""
    srv.add(d.text("Paris.", ScriptedUsage(20, 2)), d.text("About 2 million.", ScriptedUsage(30, 4)))
    first = syc.generate_text(_model(d), [syc.Message.system("Be brief."), syc.Message.user("Capital?")])
    second = syc.generate_text(_model(d), first.context.add(syc.Message.user("Population?")))
    assert second.text == "About 2 million."
    sent = d.sent_messages(_sent(srv, d))
    assert sent == [("system", "Be brief."), ("user", "Capital?"), ("assistant", "Paris."), ("user", "Population?")]


def _tools() -> list[syc.Tool]:
    weather = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    }
    return [
        syc.Tool("get_weather", "Weather for a city", weather),
        syc.Tool("get_time", "Time in a zone", {"type": "object", "properties": {"tz": {"type": "string"}}}),
    ]


def check_tools_sent_and_calls_decoded(d: Any, srv: ScriptedServer) -> None:
    """Tool definitions go out, tool calls come back, results go out with their ids."""
    calls = [
        ScriptedCall("call_a1", "get_weather", {"city": "Paris", "unit": "c"}),
        ScriptedCall("call_b2", "get_time", {"tz": "CET"}),
    ]
    srv.add(d.tool_calls(calls, ScriptedUsage(40, 20)))
    resp = syc.generate_text(_model(d), "Weather and time?", tools=_tools())
    assert resp.finish_reason == "tool_use"
    assert [(c.name, dict(c.arguments)) for c in resp.tool_calls] == [(c.name, c.arguments) for c in calls]
    assert all(c.id for c in resp.tool_calls)
    assert d.sent_tools(_sent(srv, d)) == ["get_weather", "get_time"]
    srv.add(d.text("Sunny, 14:00.", ScriptedUsage(60, 5)))
    results = [
        syc.Message.tool_result(c.id, "sunny" if c.name == "get_weather" else "14:00", name=c.name)
        for c in resp.tool_calls
    ]
    final = syc.generate_text(_model(d), resp.context.add(*results))
    assert final.text == "Sunny, 14:00."
    sent = d.sent_messages(_sent(srv, d))
    assert ("tool_call", "get_weather") in sent
    assert ("tool_result", "sunny") in sent
    assert ("tool_result", "14:00") in sent


def check_tool_loop_runs_functions(d: Any, srv: ScriptedServer) -> None:
    """Tools with functions are run by the loop; usage is summed over the steps."""
    srv.add(
        d.tool_calls([ScriptedCall("call_1", "add", {"a": 2, "b": 3})], ScriptedUsage(10, 5)),
        d.text("It is 5.", ScriptedUsage(20, 3)),
    )
    seen: list[tuple[int, int]] = []

    def add(a: int, b: int) -> int:
        seen.append((a, b))
        return a + b

    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }
    resp = syc.generate_text(_model(d), "2+3?", tools=[syc.Tool("add", "Add numbers", schema, function=add)])
    assert seen == [(2, 3)]
    assert resp.text == "It is 5."
    assert len(resp.steps) == 2
    assert resp.usage.input_tokens == 30
    assert ("tool_result", "5") in d.sent_messages(_sent(srv, d))


def check_stream_text(d: Any, srv: ScriptedServer, chunk_size: int | None = None) -> None:
    """A streamed text answer: one ``text_delta`` per provider delta, a well-formed event sequence."""
    u = ScriptedUsage(9, 4, cache_read=1 if d.reports_cache else 0)
    pieces = ["Hel", "lo, ", "wörld", " ✓"]
    srv.add(d.stream(pieces, u, chunk_size))
    events = list(syc.stream_text(_model(d), "Hi"))
    well_formed(events)
    assert [e.delta for e in events if e.type == "text_delta"] == pieces
    final = events[-1]
    assert final.type == "done"
    assert final.reason == "stop"
    assert final.response is not None
    assert final.response.text == "Hello, wörld ✓"
    _check_usage(final.response, u, d)


def check_stream_tool_calls(d: Any, srv: ScriptedServer, chunk_size: int | None = None) -> None:
    """Streamed tool calls: arguments assembled, ``toolcall_end`` carries each call, reason ``tool_use``."""
    calls = [ScriptedCall("call_x", "search", {"query": "llama ✓", "limit": 3}), ScriptedCall("call_y", "noop", {})]
    srv.add(d.tool_calls_stream(calls, ScriptedUsage(15, 9), chunk_size))
    stream = syc.stream_text(_model(d), "find", tools=[syc.Tool("search"), syc.Tool("noop")])
    events = list(stream)
    well_formed(events)
    ends = [e.tool_call for e in events if e.type == "toolcall_end"]
    assert [(c.name, dict(c.arguments)) for c in ends if c] == [(c.name, c.arguments) for c in calls]
    assert events[-1].reason == "tool_use"
    resp = stream.response()
    assert [c.name for c in resp.tool_calls] == ["search", "noop"]
    assert resp.finish_reason == "tool_use"


def check_structured_output_at_protocol_level(d: Any, srv: ScriptedServer) -> None:
    """``generate_object`` sends the schema and parses the answer."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    srv.add(d.text(json.dumps({"name": "Ada", "age": 36}), ScriptedUsage(12, 8)))
    out = syc.generate_object(_model(d), "Who?", schema=schema)
    assert out.object == {"name": "Ada", "age": 36}
    assert d.sent_schema(_sent(srv, d)) == schema


ERROR_CASES: list[tuple[int, type[Exception]]] = [
    (400, syc.BadRequest),
    (401, syc.AuthenticationFailed),
    (404, syc.NotFound),
    (429, syc.RateLimited),
    (500, syc.ServerError),
]
"""HTTP statuses and the exception each must raise."""


def check_error_mapping(d: Any, srv: ScriptedServer, status: int, exc: type[Exception]) -> None:
    """An HTTP error answer raises the right class, with status, message, provider and model."""
    srv.add(d.error(status, f"scripted failure {status}"))
    err: BaseException | None = None
    with FakeClock():
        try:
            syc.generate_text(_model(d), "Hi")
        except exc as caught:
            err = caught
    assert err is not None, f"HTTP {status} did not raise {exc.__name__}"
    assert isinstance(err, syc.ProviderError)
    assert err.status_code == status
    assert f"scripted failure {status}" in str(err)
    assert (err.provider, err.model) == (PROVIDER, d.model)


def check_async_matches_sync(d: Any, srv: ScriptedServer) -> None:
    """The async entry points give what the sync ones give."""
    srv.add(d.text("same", ScriptedUsage(2, 1)), d.stream(["sa", "me"], ScriptedUsage(2, 1)))

    async def run() -> tuple[str, str]:
        a = await syc.agenerate_text(_model(d), "Hi")
        b = await syc.astream_text(_model(d), "Hi").response()
        await syc.aclose()
        return a.text, b.text

    assert asyncio.run(run()) == ("same", "same")


PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f"
    "00050001ff89993d1d0000000049454e44ae426082"
)
"""A real 1x1 PNG image."""
WAV_HEADER = (
    b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00"
    b"data\x00\x00\x00\x00"
)
"""An empty WAV file (a header without samples)."""


def _expect_error(exc: type[BaseException], run: Callable[[], Any]) -> BaseException:
    with FakeClock():
        try:
            run()
        except exc as caught:
            return caught
    raise AssertionError(f"{exc.__name__} was not raised")


def check_context_overflow(d: Any, srv: ScriptedServer) -> None:
    """The provider's "prompt too long" error raises ``ContextOverflow`` with the window and the size sent."""
    srv.add(d.overflow(1000, 1500))
    err = _expect_error(syc.ContextOverflow, lambda: syc.generate_text(_model(d), "A very long prompt"))
    assert isinstance(err, syc.ContextOverflow)
    assert isinstance(err, syc.BadRequest)
    assert (err.provider, err.model) == (PROVIDER, d.model)
    expected = (1000, 1500) if d.overflow_reports_sizes else (None, None)
    assert (err.limit, err.requested) == expected
    assert len(srv.requests) == 1  # never retried


def check_context_overflow_in_stream(d: Any, srv: ScriptedServer) -> None:
    """An overflow reported by an error event ends the stream with ``error``; ``event.error`` is a ContextOverflow."""
    reply = d.overflow_stream(1000, 1500)
    if reply is None:
        return
    srv.add(reply)
    events = list(syc.stream_text(_model(d), "A very long prompt"))
    well_formed(events)
    last = events[-1]
    assert last.type == "error"
    assert isinstance(last.error, syc.ContextOverflow), repr(last.error)
    if d.overflow_reports_sizes:
        assert (last.error.limit, last.error.requested) == (1000, 1500)


def check_image_input(d: Any, srv: ScriptedServer) -> None:
    """An image is sent as the API documents it (bytes; a URL where the API fetches one, else refused)."""
    if getattr(type(d), "sent_images", Dialect.sent_images) is Dialect.sent_images:
        return  # the dialect does not read images
    srv.add(d.text("A dot.", ScriptedUsage(30, 2)))
    syc.generate_text(_model(d), [syc.Message.user(["What is this?", syc.ImagePart(PNG_1X1)])])
    sent = d.sent_images(_sent(srv, d))
    expected = {"data": base64.b64encode(PNG_1X1).decode("ascii"), "media_type": "image/png"}
    assert len(sent) == 1, sent
    assert "data" in sent[0], sent
    assert sent == [{k: v for k, v in expected.items() if k in sent[0]}]
    url = "https://example.com/cat.jpg"
    msgs = [syc.Message.user(["And this?", syc.ImagePart(url=url)])]
    if d.image_urls:
        srv.add(d.text("A cat.", ScriptedUsage(30, 2)))
        syc.generate_text(_model(d), msgs)
        assert d.sent_images(_sent(srv, d)) == [{"url": url}]
    else:
        err = _expect_error(syc.UnsupportedInput, lambda: syc.generate_text(_model(d), msgs))
        assert isinstance(err, syc.UnsupportedInput)
        assert err.kind == "image"
        assert len(srv.requests) == 1  # nothing more was sent


def check_unsupported_input_before_sending(d: Any, srv: ScriptedServer) -> None:
    """A model whose catalog row takes text only refuses an image and audio before anything is sent."""
    syc.register_provider(PROVIDER, models=[{"id": d.model, "input": ["text"]}])
    parts: list[tuple[Any, str]] = [(syc.ImagePart(PNG_1X1), "image"), (syc.AudioPart(WAV_HEADER), "audio")]
    for part, kind in parts:
        msgs = [syc.Message.user(["Listen and look", part])]
        err = _expect_error(syc.UnsupportedInput, functools.partial(syc.generate_text, _model(d), msgs))
        assert isinstance(err, syc.UnsupportedInput)
        assert err.kind == kind
        assert d.model in str(err)
    assert srv.requests == []


def check_usage_stream_matches_whole(d: Any, srv: ScriptedServer) -> None:
    """One answer, streamed and not: the same text and the same token counts."""
    u = ScriptedUsage(21, 5, cache_read=4 if d.reports_cache else 0, cache_write=3 if d.reports_cache else 0)
    srv.add(d.text("Same answer.", u), d.stream(["Same ", "answer."], u))
    whole = syc.generate_text(_model(d), "Hi")
    streamed = syc.stream_text(_model(d), "Hi").response()
    assert streamed.text == whole.text == "Same answer."
    assert streamed.usage.to_dict() == whole.usage.to_dict()
    assert whole.usage.total_tokens == u.total


QUIRKS = ("no_end_marker", "audio_tokens", "content_index", "cached_over_prompt")
"""Decoding shapes seen in real traffic: a stream that ends after its finish reason without the end
marker, audio input tokens counted outside the prompt count, content indices that are not list positions,
a cached count reported beside (above) the prompt count."""


def check_decoding_quirk(d: Any, srv: ScriptedServer, name: str) -> None:
    """One of :data:`QUIRKS`, where the dialect renders it: the answer and its usage decode right."""
    u = ScriptedUsage(5, 3, cache_read=10) if name == "cached_over_prompt" else ScriptedUsage(11, 7)
    reply = d.quirk(name, "Quirky answer.", u)
    if reply is None:
        return
    srv.add(reply)
    if name in ("no_end_marker", "content_index"):
        events = list(syc.stream_text(_model(d), "Hi"))
        well_formed(events)
        assert events[-1].type == "done", repr(events[-1].error)
        assert events[-1].reason == "stop"
        assert [e.delta for e in events if e.type == "text_delta"] == ["Quirky ", "answer."]
        assert events[-1].response is not None
        assert events[-1].response.text == "Quirky answer."
        return
    resp = syc.generate_text(_model(d), "Hi")
    assert resp.text == "Quirky answer."
    usage = resp.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (u.input, u.output, u.cache_read)
    assert usage.reasoning_tokens == 0


CHUNK_SIZES_TEXT: list[int | None] = [None, 1, 7]
CHUNK_SIZES_TOOLS: list[int | None] = [None, 3]

CHECKS: list[tuple[str, Callable[..., None], list[tuple[Any, ...]]]] = [
    ("text", check_text, [()]),
    ("length_finish", check_length_finish, [()]),
    ("system_prompt_and_multi_turn", check_system_prompt_and_multi_turn, [()]),
    ("tools_sent_and_calls_decoded", check_tools_sent_and_calls_decoded, [()]),
    ("tool_loop_runs_functions", check_tool_loop_runs_functions, [()]),
    ("stream_text", check_stream_text, [(c,) for c in CHUNK_SIZES_TEXT]),
    ("stream_tool_calls", check_stream_tool_calls, [(c,) for c in CHUNK_SIZES_TOOLS]),
    ("structured_output_at_protocol_level", check_structured_output_at_protocol_level, [()]),
    ("error_mapping", check_error_mapping, [tuple(case) for case in ERROR_CASES]),
    ("async_matches_sync", check_async_matches_sync, [()]),
    ("context_overflow", check_context_overflow, [()]),
    ("context_overflow_in_stream", check_context_overflow_in_stream, [()]),
    ("image_input", check_image_input, [()]),
    ("unsupported_input_before_sending", check_unsupported_input_before_sending, [()]),
    ("usage_stream_matches_whole", check_usage_stream_matches_whole, [()]),
    ("decoding_quirk", check_decoding_quirk, [(q,) for q in QUIRKS]),
    ("handoff_foreign_context", check_handoff_foreign_context, [()]),
    ("handoff_thinking_dropped", check_handoff_thinking_dropped, [()]),
    ("handoff_failed_turn_left_out", check_handoff_failed_turn_left_out, [()]),
]
"""Every check: (name, function, the extra arguments of each of its cases)."""


@dataclass
class CheckResult:
    """The outcome of one check case."""

    name: str
    """``check`` or ``check[args]``."""
    error: BaseException | None = None
    """What failed (None: passed)."""

    @property
    def passed(self) -> bool:
        """True when the case passed."""
        return self.error is None


@dataclass
class ContractReport:
    """The outcome of :func:`run_contract`."""

    results: list[CheckResult] = field(default_factory=list)
    """One per check case, in order."""

    @property
    def passed(self) -> bool:
        """True when every case passed."""
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        """The cases that failed."""
        return [r for r in self.results if not r.passed]

    def raise_for_failures(self) -> None:
        """Raise ``AssertionError`` listing every failed case (the first as the cause)."""
        failed = self.failures
        if failed:
            lines = [f"{r.name}: {type(r.error).__name__}: {r.error}" for r in failed]
            raise AssertionError(f"{len(failed)} contract check(s) failed:\n" + "\n".join(lines)) from failed[0].error


def _case_name(name: str, args: tuple[Any, ...]) -> str:
    shown = [a.__name__ if isinstance(a, type) else repr(a) for a in args]
    return f"{name}[{', '.join(shown)}]" if args else name


def run_contract(dialect: Any, only: list[str] | None = None) -> ContractReport:
    """Run every contract check (or those named in ``only``) against ``dialect``.

    Args:
        dialect: A :class:`Dialect` for the protocol or stream function under test.
        only: Check names to run (see ``CHECKS``); all by default.

    Returns:
        The report; ``report.raise_for_failures()`` turns failures into one ``AssertionError``.
    """
    report = ContractReport()
    for name, check, cases in CHECKS:
        if only is not None and name not in only:
            continue
        for args in cases:
            result = CheckResult(_case_name(name, args))
            try:
                with contract_provider(dialect) as srv:
                    check(dialect, srv, *args)
            except Exception as exc:  # noqa: BLE001 - a failing check is reported, the others still run
                result.error = exc
            report.results.append(result)
    return report


class ContractSuite:
    """Subclass in a pytest module (named ``Test...``) and set ``dialect``; every check is a test."""

    dialect: ClassVar[Any]

    @pytest.fixture
    def server(self) -> Iterator[ScriptedServer]:
        """A scripted server with provider ``contract`` registered against it."""
        with contract_provider(self.dialect) as srv:
            yield srv

    def test_text(self, server: ScriptedServer) -> None:
        check_text(self.dialect, server)

    def test_length_finish(self, server: ScriptedServer) -> None:
        check_length_finish(self.dialect, server)

    def test_system_prompt_and_multi_turn(self, server: ScriptedServer) -> None:
        check_system_prompt_and_multi_turn(self.dialect, server)

    def test_tools_sent_and_calls_decoded(self, server: ScriptedServer) -> None:
        check_tools_sent_and_calls_decoded(self.dialect, server)

    def test_tool_loop_runs_functions(self, server: ScriptedServer) -> None:
        check_tool_loop_runs_functions(self.dialect, server)

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES_TEXT)
    def test_stream_text(self, server: ScriptedServer, chunk_size: int | None) -> None:
        check_stream_text(self.dialect, server, chunk_size)

    @pytest.mark.parametrize("chunk_size", CHUNK_SIZES_TOOLS)
    def test_stream_tool_calls(self, server: ScriptedServer, chunk_size: int | None) -> None:
        check_stream_tool_calls(self.dialect, server, chunk_size)

    def test_structured_output_at_protocol_level(self, server: ScriptedServer) -> None:
        check_structured_output_at_protocol_level(self.dialect, server)

    @pytest.mark.parametrize(("status", "exc"), ERROR_CASES)
    def test_error_mapping(self, server: ScriptedServer, status: int, exc: type[Exception]) -> None:
        check_error_mapping(self.dialect, server, status, exc)

    def test_async_matches_sync(self, server: ScriptedServer) -> None:
        check_async_matches_sync(self.dialect, server)

    def test_context_overflow(self, server: ScriptedServer) -> None:
        check_context_overflow(self.dialect, server)

    def test_context_overflow_in_stream(self, server: ScriptedServer) -> None:
        check_context_overflow_in_stream(self.dialect, server)

    def test_image_input(self, server: ScriptedServer) -> None:
        check_image_input(self.dialect, server)

    def test_unsupported_input_before_sending(self, server: ScriptedServer) -> None:
        check_unsupported_input_before_sending(self.dialect, server)

    def test_usage_stream_matches_whole(self, server: ScriptedServer) -> None:
        check_usage_stream_matches_whole(self.dialect, server)

    @pytest.mark.parametrize("name", QUIRKS)
    def test_decoding_quirk(self, server: ScriptedServer, name: str) -> None:
        check_decoding_quirk(self.dialect, server, name)

    def test_handoff_foreign_context(self, server: ScriptedServer) -> None:
        check_handoff_foreign_context(self.dialect, server)

    def test_handoff_thinking_dropped(self, server: ScriptedServer) -> None:
        check_handoff_thinking_dropped(self.dialect, server)

    def test_handoff_failed_turn_left_out(self, server: ScriptedServer) -> None:
        check_handoff_failed_turn_left_out(self.dialect, server)
