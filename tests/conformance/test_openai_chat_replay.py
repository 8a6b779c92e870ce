"""Replay every recorded OpenAI *Chat Completions* interaction through sycophant_py's ``openai_chat``.

The corpus (``corpus.py``) holds 543 recordings of real provider traffic (OpenAI and OpenAI-compatible
servers) with ``expected`` values from an independent reference walk. This module checks, per interaction:

1. **Decoding.** Non-streamed 2xx bodies go through ``OpenAIChat().decode_response``. Streams go through
   ``SSEDecoder`` + ``decode_stream_chunk`` whole, cut at random byte boundaries (three seeds), re-framed
   with ``\\r\\n`` line ends and cut between ``\\r`` and ``\\n``, cut inside every multi-byte UTF-8
   character, and for a few streams one byte at a time. Text, reasoning, tool calls, finish reason and
   usage must match the raw bytes; the unified events must be well formed.
2. **Error mapping.** Non-2xx bodies go through ``_pipeline.error_from_response``.
3. **End to end.** A deterministic sample of bodies and streams is served from a ``ScriptedServer`` and
   read through ``syc.generate_text`` / ``syc.stream_text``.
4. **Request encoding.** Recorded requests simple enough to express with the public types are rebuilt
   (``syc.Message``, ``syc.Tool``, validated params) for the catalog row they were made for
   (``openai:<id>`` for OpenAI, the provider's own row, with its compat flags, for OpenAI-compatible
   catalog providers) and encoded with ``encode_request``; the body must equal the recorded one up to the
   documented normalisations of :func:`normalise_request`. Every encoded body is checked with the OpenAI
   spec validator: it must pass, except where a compatible provider's own recorded request fails the spec
   in exactly the same way (a dialect value the caller passed on).

Usage reference (``reference_usage``): ``input = prompt - cached - cache_write`` (OpenAI-style prompt
counts include cached tokens), ``cache_read = cached`` (``prompt_tokens_details.cached_tokens``, DeepSeek
``prompt_cache_hit_tokens``, Mistral ``num_cached_tokens``, Hugging Face top-level ``cached_tokens``),
``output = completion_tokens`` plus reasoning tokens the provider left out of ``completion_tokens`` but
counted in ``total_tokens`` (xAI, GitHub Copilot's Gemini, Gemini's compatible endpoint), and
``total_tokens`` must equal the provider's own ``total_tokens``.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._catalog import resolve_model
from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import (
    AuthenticationFailed,
    BadRequest,
    InvalidParams,
    NotFound,
    ProviderError,
    RateLimited,
    ServerError,
    StreamError,
    UnknownProvider,
)
from sycophant_py._models import ModelInfo
from sycophant_py._params import validate_params
from sycophant_py._pipeline import Call, error_from_response
from sycophant_py._sse import SSEDecoder
from sycophant_py._types import (
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
)
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire._base import Request, StreamContinue, StreamDone, StreamFailed, StreamResult
from sycophant_py.wire.openai_chat import OpenAIChat, OpenAIChatParams, decode_usage
from tests.spec_validation import validate_openai_chat_request

from .corpus import (
    EDGE_ERROR_EVENT,
    EDGE_NO_FINISH_REASON,
    ChatInteraction,
    Expected,
    chat_interactions,
    error_interactions,
    iter_sse_data,
)
from .gaps import UNEXPRESSIBLE, keep

PROTOCOL = "openai_chat"

# The provider's raw finish_reason -> the unified finish_reason. "" and a missing value mean "the model
# stopped" (Snowflake sends "" on every non-streamed answer); with tool calls in the answer that is
# tool_use. "stop" with tool calls is tool_use as well (Gemini- and Ollama-compatible servers say "stop"
# when they call tools). An unknown raw value fails the test: extend the table on purpose.
FINISH_REASONS: dict[str | None, str | None] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_use",
    "content_filter": "content_filter",
    "": None,
    None: None,
}

SPLIT_SEEDS = (0, 1, 2)
BYTE_AT_A_TIME = 6  # streams replayed one byte per chunk (plus every edge-case stream)
E2E_SAMPLE = 30  # streams and bodies each

ALL = chat_interactions()
OK = [item for item in ALL if item.ok]
BODIES = [item for item in OK if not item.streamed]
STREAMS = [item for item in OK if item.streamed]
ERRORS = error_interactions()


def _short(item: ChatInteraction) -> str:
    return item.id


def _where(item: ChatInteraction) -> tuple[str, str, str, bool]:
    return item.id, item.source, item.provider, item.streamed


def _expected(item: ChatInteraction) -> Expected:
    assert item.expected is not None, item.id
    return item.expected


# --------------------------------------------------------------------------------------------------
# Reference values (independent of the library)
# --------------------------------------------------------------------------------------------------


def expected_finish(item: ChatInteraction) -> str:
    """The unified finish reason a correct decoder reports for a successful interaction."""
    exp = _expected(item)
    if item.edge == EDGE_ERROR_EVENT:
        return "error"
    raw = exp.finish_reason
    assert raw in FINISH_REASONS, f"unmapped raw finish_reason {raw!r} in {item.id}"
    mapped = FINISH_REASONS[raw]
    if mapped in (None, "stop") and exp.tool_calls:
        return "tool_use"
    return mapped or "stop"


def _n(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def reference_usage(raw: Mapping[str, Any]) -> dict[str, int]:
    """Unified usage from a raw chat-completions ``usage`` object (see the module docstring)."""
    prompt, completion = _n(raw.get("prompt_tokens")), _n(raw.get("completion_tokens"))
    pdet = raw.get("prompt_tokens_details") or {}
    cdet = raw.get("completion_tokens_details") or {}
    cached = (
        _n(pdet.get("cached_tokens"))
        or _n(raw.get("prompt_cache_hit_tokens"))
        or _n(raw.get("num_cached_tokens"))
        or _n(raw.get("cached_tokens"))
    )
    written = min(_n(pdet.get("cache_write_tokens")), max(prompt - cached, 0))
    reasoning = _n(cdet.get("reasoning_tokens")) or _n(raw.get("reasoning_tokens"))
    hidden = _n(raw.get("total_tokens")) - prompt - completion
    if hidden > 0 and reasoning in (0, hidden):
        completion += hidden
        reasoning = hidden
    return {
        "input_tokens": prompt - cached - written,
        "output_tokens": completion,
        "cache_read_tokens": cached,
        "cache_write_tokens": written,
        "reasoning_tokens": reasoning,
    }


def _usage_of(resp: Response) -> dict[str, int]:
    u = resp.usage
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "reasoning_tokens": u.reasoning_tokens,
    }


def _calls(calls: Sequence[ToolCall]) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, dict(c.arguments)) for c in calls]


def check_response(item: ChatInteraction, resp: Response) -> None:
    """Text, reasoning, tool calls, finish reason and usage of a decoded response against the raw bytes."""
    exp = _expected(item)
    assert resp.text == exp.text
    if exp.reasoning:
        assert resp.reasoning == exp.reasoning
    assert _calls(resp.tool_calls) == exp.tool_calls
    for call in resp.tool_calls:
        assert call.name
        assert isinstance(call.arguments, Mapping)
        assert json.loads(call.arguments_json) == dict(call.arguments)
    assert resp.finish_reason == expected_finish(item)
    if item.edge != EDGE_ERROR_EVENT:
        assert (resp.provider_finish_reason or None) == (exp.finish_reason or None)
    if exp.usage is not None:
        assert _usage_of(resp) == reference_usage(exp.usage)
        total = exp.usage.get("total_tokens")
        if isinstance(total, int):
            assert resp.usage.total_tokens == total, "total_tokens must equal the provider's own total"
    else:
        assert resp.usage.total_tokens == 0


# --------------------------------------------------------------------------------------------------
# Stream driving and event checks
# --------------------------------------------------------------------------------------------------


def decode_stream(chunks: Sequence[bytes]) -> tuple[list[StreamEvent], Response]:
    """Feed chunks through SSEDecoder + decode_stream_chunk, as the pipeline does (pure, no I/O)."""
    proto = OpenAIChat()
    state = proto.init_stream()
    decoder = SSEDecoder()
    events: list[StreamEvent] = []
    final: StreamResult | None = None

    def run(frames: Sequence[Any]) -> StreamResult | None:
        nonlocal state
        for frame in frames:
            result = proto.decode_stream_chunk(state, frame)
            events.extend(result.events)
            if not isinstance(result, StreamContinue):
                return result
            state = result.state
        return None

    for chunk in chunks:
        final = run(decoder.feed(chunk))
        if final is not None:
            break
    if final is None:
        final = run(decoder.flush())
    if final is None:
        final = proto.end_of_stream(state)
        events.extend(final.events)
    if isinstance(final, StreamDone):
        return events, final.response
    assert isinstance(final, StreamFailed)
    terminal = events[-1]
    assert terminal.type == "error"
    assert terminal.response is not None
    assert terminal.error is final.error
    return events, terminal.response


_KIND = {"text": TextPart, "thinking": ThinkingPart, "toolcall": ToolCall}


def check_events(item: ChatInteraction, events: list[StreamEvent], resp: Response) -> None:
    """Well-formed unified events whose content agrees with the final response and the raw bytes."""
    exp = _expected(item)
    assert events, "no events"
    assert events[0].type == "start"
    assert [e.type for e in events].count("start") == 1
    terminal = [e for e in events if e.type in ("done", "error")]
    assert len(terminal) == 1, "exactly one terminal event"
    assert events[-1] is terminal[0], "the terminal event comes last"
    partial = events[0].partial
    assert all(e.partial is partial for e in events), "event.partial is one live view"
    state: dict[int, str] = {}  # content_index -> kind while open, "" once ended
    for e in events[1:-1]:
        kind, _, phase = e.type.rpartition("_")
        assert kind in _KIND, e.type
        assert phase in ("start", "delta", "end"), e.type
        if phase == "start":
            assert e.content_index not in state, f"content_index {e.content_index} opened twice"
            assert e.content_index == len(state), "content indexes are dense and in order"
            state[e.content_index] = kind
        else:
            assert state.get(e.content_index) == kind, f"{e.type} at {e.content_index} without an open block"
            if phase == "delta":
                assert e.delta, "empty delta"
            else:
                state[e.content_index] = ""
                part = resp.parts[e.content_index]
                assert isinstance(part, _KIND[kind]), (e.type, part)
                if isinstance(part, ToolCall):
                    assert e.tool_call is not None
                    assert e.tool_call.name == part.name
                    assert dict(e.tool_call.arguments) == dict(part.arguments)
                else:
                    assert isinstance(part, (TextPart, ThinkingPart))
                    assert e.content == part.text
    assert all(v == "" for v in state.values()), "every *_start has a matching *_end"
    assert len(resp.parts) == len(state)

    assert "".join(e.delta for e in events if e.type == "text_delta") == exp.text
    if exp.reasoning:
        assert "".join(e.delta for e in events if e.type == "thinking_delta") == exp.reasoning
    ended = [e.tool_call for e in events if e.type == "toolcall_end"]
    assert _calls([c for c in ended if c is not None]) == exp.tool_calls

    last = events[-1]
    assert last.response is resp
    if item.edge == EDGE_ERROR_EVENT:
        assert last.type == "error"
        assert last.reason == "error"
        assert isinstance(last.error, StreamError), repr(last.error)
        assert resp.error is last.error
        message = _stream_error_message(item)
        assert message in str(last.error)
        assert last.error.body is not None
    else:
        assert last.type == "done", repr(resp.error)
        assert last.reason == resp.finish_reason
        assert resp.error is None
    if item.edge == EDGE_NO_FINISH_REASON:
        assert last.reason == "stop"
    check_response(item, resp)


def _stream_error_message(item: ChatInteraction) -> str:
    for _, data in iter_sse_data(item.body):
        if data != "[DONE]":
            payload = json.loads(data)
            if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                return str(payload["error"]["message"])
    raise AssertionError(f"no error payload in {item.id}")


def random_cuts(body: bytes, seed: int) -> list[bytes]:
    """Cut ``body`` at random positions: about one cut per 40 bytes, chunks of 1 to ~80 bytes."""
    rng = random.Random(seed * 1_000_003 + zlib.crc32(body))
    n = max(1, len(body) // 40)
    cuts = sorted(set(rng.sample(range(1, len(body)), min(n, len(body) - 1))))
    return _split_at(body, cuts)


def _split_at(body: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def crlf_cuts(body: bytes, seed: int) -> list[bytes]:
    """Re-frame with ``\\r\\n`` line ends and cut between the ``\\r`` and the ``\\n`` of random line ends."""
    crlf = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    rng = random.Random(seed + zlib.crc32(crlf))
    ends = [i + 1 for i in range(len(crlf) - 1) if crlf[i : i + 2] == b"\r\n"]
    return _split_at(crlf, sorted(rng.sample(ends, max(1, len(ends) // 2))))


def utf8_cuts(body: bytes) -> list[bytes] | None:
    """Cut inside every multi-byte UTF-8 character (after its first byte), or None when there is none."""
    cuts = [i for i in range(1, len(body)) if body[i] & 0xC0 == 0x80 and body[i - 1] & 0x80]
    return _split_at(body, cuts) if cuts else None


def _variants(items: Sequence[ChatInteraction]) -> Iterator[Any]:
    byte_wise = {it.id for it in items if it.edge is not None}
    byte_wise |= {it.id for it in sorted(items, key=lambda it: zlib.crc32(it.id.encode()))[:BYTE_AT_A_TIME]}
    for item in items:
        names = ["whole", *(f"split-seed{s}" for s in SPLIT_SEEDS), "crlf-mid"]
        if utf8_cuts(item.body) is not None:  # only 13 of the 95 streams hold a multi-byte character
            names.append("utf8-mid")
        if item.id in byte_wise:
            names.append("bytes1")
        for name in names:
            yield pytest.param(item, name, id=f"{_short(item)}[{name}]")


# --------------------------------------------------------------------------------------------------
# 1. Decoding
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", BODIES, ids=_short)
def test_decode_body(item: ChatInteraction, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "decode", _where(item), "body"):
        resp = OpenAIChat().decode_response(item.json_body())
        check_response(item, resp)
        assert resp.raw == item.json_body()
        for part in resp.parts:
            assert isinstance(part, (TextPart, ThinkingPart, ToolCall))


@pytest.mark.parametrize(("item", "variant"), list(_variants(STREAMS)))
def test_decode_stream(item: ChatInteraction, variant: str, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "decode", _where(item), variant):
        body = item.body
        if variant == "whole":
            chunks = [body]
        elif variant.startswith("split-seed"):
            chunks = random_cuts(body, int(variant.removeprefix("split-seed")))
        elif variant == "crlf-mid":
            chunks = crlf_cuts(body, 7)
        elif variant == "bytes1":
            chunks = [body[i : i + 1] for i in range(len(body))]
        else:
            cut = utf8_cuts(body)
            assert cut is not None
            chunks = cut
        assert b"".join(chunks).replace(b"\r\n", b"\n") == body.replace(b"\r\n", b"\n")
        events, resp = decode_stream(chunks)
        check_events(item, events, resp)
        if variant != "whole":
            whole, _ = decode_stream([body])
            assert [(e.type, e.content_index, e.delta) for e in events] == [
                (e.type, e.content_index, e.delta) for e in whole
            ], "the events must not depend on where the bytes were cut"


def test_stream_usage_arrives_after_finish_reason() -> None:
    """DESIGN trap: usage comes in a last chunk after finish_reason; decoding must go on until [DONE]."""
    late = [item for item in STREAMS if "usage_only_chunk" in item.quirks and item.edge is None]
    assert len(late) >= 60
    for item in late:
        _, resp = decode_stream([item.body])
        assert resp.usage.total_tokens > 0, item.id


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        # OpenAI: total = prompt + completion; reasoning is inside completion, cached inside prompt.
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 30,
                "total_tokens": 130,
                "prompt_tokens_details": {"cached_tokens": 60},
                "completion_tokens_details": {"reasoning_tokens": 20},
            },
            (40, 30, 60, 0, 20),
        ),
        # xAI / Copilot-Gemini: reasoning outside completion_tokens, inside total_tokens.
        (
            {
                "prompt_tokens": 12,
                "completion_tokens": 2,
                "total_tokens": 354,
                "completion_tokens_details": {"reasoning_tokens": 340},
            },
            (12, 342, 0, 0, 340),
        ),
        (
            {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 186, "reasoning_tokens": 177},
            (8, 178, 0, 0, 177),
        ),
        # Gemini's compatible endpoint: thoughts counted only in total_tokens.
        ({"prompt_tokens": 35, "completion_tokens": 12, "total_tokens": 109}, (35, 74, 0, 0, 62)),
        # A gap that is not the reported reasoning is left alone (no guessing).
        (
            {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 20,
                "completion_tokens_details": {"reasoning_tokens": 3},
            },
            (10, 5, 0, 0, 3),
        ),
        # Cache writes are part of the prompt; a write count beyond what is left is capped.
        (
            {
                "prompt_tokens": 2649,
                "completion_tokens": 100,
                "total_tokens": 2749,
                "prompt_tokens_details": {"cached_tokens": 2569, "cache_write_tokens": 79},
            },
            (1, 100, 2569, 79, 0),
        ),
        (
            {
                "prompt_tokens": 2168,
                "completion_tokens": 100,
                "total_tokens": 2268,
                "prompt_tokens_details": {"cached_tokens": 2161, "cache_write_tokens": 2161},
            },
            (0, 100, 2161, 7, 0),
        ),
    ],
)
def test_decode_usage_rules(raw: dict[str, Any], want: tuple[int, int, int, int, int]) -> None:
    u = decode_usage(raw)
    got = (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.reasoning_tokens)
    assert got == want
    assert tuple(reference_usage(raw).values()) == want


def test_finish_reason_table_covers_the_corpus() -> None:
    raw = {_expected(item).finish_reason for item in OK}
    assert raw <= set(FINISH_REASONS), raw - set(FINISH_REASONS)


# --------------------------------------------------------------------------------------------------
# 2. Error mapping
# --------------------------------------------------------------------------------------------------


def _minimal_call() -> Call:
    call = Call(spec="openai:gpt-4o-mini")
    call.model = resolve_model("openai:gpt-4o-mini")
    call.protocol = OpenAIChat()
    return call


def expected_error_class(status: int) -> type[ProviderError]:
    if status in (401, 403):
        return AuthenticationFailed
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return BadRequest


@pytest.mark.parametrize("item", ERRORS, ids=_short)
def test_error_mapping(item: ChatInteraction, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "error", _where(item), str(item.status)):
        exc = error_from_response(_minimal_call(), item.status, item.response_headers, item.body)
        assert type(exc) is expected_error_class(item.status), repr(exc)
        assert exc.status_code == item.status
        error = item.json_body()["error"]
        assert error["message"] in str(exc)
        raw = (error.get("metadata") or {}).get("raw")
        if isinstance(raw, str):  # OpenRouter: the upstream provider's own words
            assert raw in str(exc)
        assert exc.body == item.json_body()
        if isinstance(exc, RateLimited):
            assert exc.retry_after is None  # none of the recorded 429s carries retry-after headers


def test_error_corpus_has_every_class() -> None:
    assert {expected_error_class(item.status) for item in ERRORS} >= {BadRequest, NotFound, RateLimited}


# --------------------------------------------------------------------------------------------------
# 3. End to end through the public API
# --------------------------------------------------------------------------------------------------


def _sample(items: Sequence[ChatInteraction], n: int) -> list[ChatInteraction]:
    ranked = sorted(items, key=lambda it: zlib.crc32(it.id.encode()))
    picked = ranked[:n]
    picked += [it for it in items if it.edge is not None and it not in picked]  # every edge case too
    return picked


def _model_of(item: ChatInteraction) -> str:
    model = (item.request_body or {}).get("model")
    if not isinstance(model, str) or not model:
        model = "recorded-model"
    return model


Served = tuple[ScriptedServer, list[Reply]]


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    current: list[Reply] = []
    with ScriptedServer(handler=lambda _rec: current[0]) as srv:
        yield srv, current


@pytest.mark.parametrize("item", _sample(BODIES, E2E_SAMPLE) + _sample(STREAMS, E2E_SAMPLE), ids=_short)
def test_end_to_end(item: ChatInteraction, server: Served, conformance_record: Any) -> None:
    srv, current = server
    with conformance_record(PROTOCOL, "e2e", _where(item), "public-api"):
        if item.streamed:
            current[:] = [Reply(200, {"content-type": "text/event-stream"}, chunks=random_cuts(item.body, 5))]
        else:
            current[:] = [Reply.raw(item.body)]
        syc.configure(custom_providers={"rec": {"base_url": srv.url + "/v1", "auth": "none"}})
        try:
            spec = f"rec:{_model_of(item)}"
            msgs = [syc.Message.user("Replay.")]
            if item.streamed:
                stream = syc.stream_text(spec, msgs)
                events = list(stream)
                resp = stream.response()
                check_events(item, events, resp)
            else:
                resp = syc.generate_text(spec, msgs)
                check_response(item, resp)
            assert resp.provider == "rec"
            assert resp.context.messages[-1].role == "assistant"
            sent = srv.requests[-1]
            assert sent.path == "/v1/chat/completions"
            assert (sent.json.get("stream") is True) if item.streamed else ("stream" not in sent.json)
            validate_openai_chat_request(sent.json)
        finally:
            syc.configure(reset=True)
            syc.close()


# --------------------------------------------------------------------------------------------------
# 4. Request encoding golden tests
# --------------------------------------------------------------------------------------------------


class Unsupported(Exception):
    """The recorded request uses something the rebuild does not express with the public types."""


_PARAMS = (
    "temperature",
    "top_p",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "user",
    "service_tier",
    "parallel_tool_calls",
    "reasoning_effort",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "metadata",
    "store",
    "verbosity",
)


def _only_text(content: Any) -> str | None:
    """The text of a content list made only of plain text parts (None otherwise)."""
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and set(p) == {"type", "text"} for p in content
    ):
        return "".join(p["text"] for p in content)
    return None


def _data_url(url: str) -> tuple[str, bytes]:
    header, _, payload = url.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise Unsupported("file part without a base64 data URL")
    return header[5:].removesuffix(";base64"), base64.b64decode(payload)


def _no_cache_control(content: Any) -> None:
    if isinstance(content, list) and any(isinstance(p, dict) and "cache_control" in p for p in content):
        raise Unsupported("cache_control on a content part (openai_chat does not encode Message(cache=True))")


def _user_part(part: Mapping[str, Any]) -> Part:
    kind = part.get("type")
    if kind == "text" and set(part) == {"type", "text"}:
        return TextPart(part["text"])
    if kind == "image_url" and set(part) == {"type", "image_url"}:
        image = part["image_url"]
        if set(image) - {"url", "detail"}:
            raise Unsupported(f"image_url fields {sorted(set(image) - {'url', 'detail'})}")
        return ImagePart(url=image["url"], detail=image.get("detail"))
    if kind == "file" and set(part) == {"type", "file"}:
        file = part["file"]
        if "file_data" not in file:
            raise Unsupported("file part by file_id (an uploaded file)")
        media_type, data = _data_url(file["file_data"])
        if media_type.startswith("text/"):
            raise Unsupported("text file part (the library inlines text documents as text)")
        return DocumentPart(data=data, media_type=media_type, name=file.get("filename"))
    raise Unsupported(f"user content part of type {kind!r}")


def _message(m: Mapping[str, Any]) -> Message:
    role, content = m.get("role"), m.get("content")
    allowed = {
        "system": {"role", "content"},
        "developer": {"role", "content"},
        "user": {"role", "content"},
        "assistant": {"role", "content", "tool_calls"},
        "tool": {"role", "content", "tool_call_id"},
    }
    if role not in allowed:
        raise Unsupported(f"message role {role!r}")
    extra = set(m) - allowed[str(role)]
    if extra:
        raise Unsupported(f"{role} message field(s) {sorted(extra)}")
    _no_cache_control(content)
    text = content if isinstance(content, str) else _only_text(content)
    if role in ("system", "developer"):
        if text is None:
            raise Unsupported("system message with non-text content")
        return Message.system(text)
    if role == "user":
        if isinstance(content, str):
            return Message.user(content)
        if not isinstance(content, list):
            raise Unsupported("user message without content")
        return Message.user([_user_part(p) for p in content])
    if role == "tool":
        if text is None:
            raise Unsupported("tool result with non-text content")
        return Message.tool_result(str(m["tool_call_id"]), text)
    if content is not None and text is None:
        raise Unsupported("assistant message with non-text content")
    calls = []
    for tc in m.get("tool_calls") or ():
        if tc.get("type", "function") != "function" or set(tc) - {"id", "type", "function"}:
            raise Unsupported("assistant tool call that is not a plain function call")
        fn = tc["function"]
        calls.append(ToolCall.from_json(tc["id"], fn["name"], fn.get("arguments") or ""))
    return Message.assistant(text or "", tool_calls=calls)


def _tool(t: Mapping[str, Any]) -> Tool:
    if t.get("type", "function") != "function":
        raise Unsupported(f"tool of type {t.get('type')!r}")
    if set(t) - {"type", "function"}:
        raise Unsupported(f"tool field(s) {sorted(set(t) - {'type', 'function'})}")
    fn = t["function"]
    if set(fn) - {"name", "description", "parameters", "strict"}:
        extra = sorted(set(fn) - {"name", "description", "parameters", "strict"})
        raise Unsupported(f"tool function fields {extra}")
    if "parameters" not in fn:
        raise Unsupported("tool without parameters (the library always sends an object schema)")
    # The caller's strict choice is part of the call; an absent "strict" is the API default, false.
    strict = bool(fn.get("strict", False))
    return Tool(fn["name"], fn.get("description") or "", fn["parameters"], strict=strict)


def rebuild(body: Mapping[str, Any], model: ModelInfo) -> Request:
    """The library call that produces ``body`` for ``model``, from the public types (or ``Unsupported``)."""
    raw_params: dict[str, Any] = {}
    schema: Mapping[str, Any] | None = None
    schema_name = "response"
    known = {
        "model",
        "messages",
        "tools",
        "stream",
        "stream_options",
        "n",
        "tool_choice",
        "max_tokens",
        "max_completion_tokens",
        "response_format",
        *_PARAMS,
    }
    unknown = sorted(set(body) - known)
    if unknown:
        raise Unsupported(f"request field(s) the library does not model: {', '.join(unknown)}")
    if body.get("n", 1) != 1:
        raise Unsupported("n > 1")
    stream = bool(body.get("stream", False))
    options = body.get("stream_options")
    if options not in (None, {"include_usage": True}) or (options is not None and not stream):
        raise Unsupported("stream_options other than include_usage")
    for key in _PARAMS:
        if key in body:
            raw_params[key] = body[key]
    for key in ("max_tokens", "max_completion_tokens"):
        if key in body:
            raw_params["max_tokens"] = body[key]
    choice = body.get("tool_choice")
    if choice == "any":
        raise Unsupported("Mistral's tool_choice 'any' (a library caller says 'required', sent as is)")
    if isinstance(choice, str):
        raw_params["tool_choice"] = choice
    elif isinstance(choice, dict):
        if choice.get("type") != "function" or set(choice) != {"type", "function"}:
            raise Unsupported(f"tool_choice {choice!r}")
        raw_params["tool_choice"] = choice["function"]["name"]
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema" and set(fmt["json_schema"]) <= {"name", "schema", "strict"}:
            schema, schema_name = fmt["json_schema"]["schema"], fmt["json_schema"]["name"]
        elif fmt == {"type": "json_object"}:  # JSON mode: only the raw ``response_format`` param says it
            raw_params["response_format"] = fmt
        else:
            fields = sorted(fmt.get("json_schema", {}))
            raise Unsupported(f"response_format {fmt.get('type')!r} with fields {fields}")
    try:
        params, dropped = validate_params(OpenAIChatParams, raw_params)
    except InvalidParams as exc:
        raise Unsupported(f"a value outside the shared params: {exc}") from None
    assert not dropped, dropped
    messages = [_message(m) for m in body["messages"]]
    tools = [_tool(t) for t in body.get("tools") or ()]
    return Request(model, messages, params, tools, stream, schema, schema_name)


def normalise_request(body: Mapping[str, Any], *, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a request body with the documented, meaning-preserving differences removed.

    Ignored, and why:

    * ``n: 1``, ``stream: false``, ``tools: []``: the API defaults; the library never sends them.
    * ``stream_options`` when the recorded streaming request had none: the library always asks for the
      usage chunk (DESIGN: streamed usage arrives in a final chunk; without it there is no usage).
    * ``max_tokens`` vs ``max_completion_tokens``: the library sends the current name for OpenAI.
    * the ``developer`` vs ``system`` role: OpenAI treats ``system`` as ``developer`` for reasoning models,
      and the library picks ``developer`` for them.
    * a tool's ``description: ""`` and ``strict: false``, a response schema's ``strict: false``: the same
      as absent; a tool without ``type`` (Mistral's requests) is a ``function`` tool.
    * an assistant message's ``content`` that is ``null``, ``""`` or absent next to ``tool_calls``.
    * a tool result's or assistant's content given as a list of plain text parts: the library sends
      the joined string, which the API treats the same.
    """
    out: dict[str, Any] = json.loads(json.dumps(body))
    if out.get("n") == 1:
        del out["n"]
    if out.get("stream") is False:
        del out["stream"]
    if out.get("tools") == []:
        del out["tools"]
    if "stream_options" not in recorded:
        out.pop("stream_options", None)
    if "max_tokens" in out:
        out["max_completion_tokens"] = out.pop("max_tokens")
    for m in out["messages"]:
        if m["role"] == "developer":
            m["role"] = "system"
        if m["role"] in ("tool", "assistant", "system"):
            text = _only_text(m.get("content"))
            if text is not None:
                m["content"] = text
        if m["role"] == "assistant" and m.get("tool_calls") and not m.get("content"):
            m.pop("content", None)
    schema = (out.get("response_format") or {}).get("json_schema") or {}
    if schema.get("strict") is False:
        del schema["strict"]
    for t in out.get("tools") or ():
        t.setdefault("type", "function")
        fn = t.get("function") or {}
        if fn.get("description") == "":
            del fn["description"]
        if fn.get("strict") is False:
            del fn["strict"]
    return out


def _first_difference(a: Any, b: Any, path: str = "$") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: {'missing in encoded' if key not in a else 'not in recorded'}"
            if a[key] != b[key]:
                return _first_difference(a[key], b[key], f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: encoded {json.dumps(a)[:120]} != recorded {json.dumps(b)[:120]}"


REQUESTS = [item for item in ALL if item.request_body is not None]

# Corpus provider names that are spelled differently in the catalog (models.dev ids).
_CATALOG_IDS = {"github_copilot": "github-copilot"}


def catalog_model(item: ChatInteraction) -> ModelInfo:
    """The catalog row the recorded request was made for: ``openai:<id>`` for OpenAI, else the provider's.

    Raises:
        UnknownProvider: the provider is not in the catalog (its compat flags are unknown).
    """
    assert item.request_body is not None
    provider = _CATALOG_IDS.get(item.provider, item.provider)
    return resolve_model(f"{provider}:{item.request_body['model']}")


def _spec_problem(body: Mapping[str, Any]) -> str | None:
    try:
        validate_openai_chat_request(dict(body))
    except AssertionError as exc:
        return str(exc)
    return None


def _request_gap(item: ChatInteraction) -> tuple[str, str] | None:
    """Why the recorded request cannot be rebuilt (``(kind, detail)``), or None."""
    assert item.request_body is not None
    try:
        rebuild(item.request_body, catalog_model(item))
    except UnknownProvider:
        return "provider not in the catalog (its compat flags are unknown)", item.provider
    except Unsupported as exc:
        return UNEXPRESSIBLE, str(exc)
    return None


REBUILT = keep(REQUESTS, PROTOCOL, "request", _where, _request_gap)


@pytest.mark.parametrize("item", REBUILT, ids=_short)
def test_request_encoding(item: ChatInteraction, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "request", _where(item), "golden"):
        recorded = item.request_body
        assert recorded is not None
        request = rebuild(recorded, catalog_model(item))
        encoded = OpenAIChat().encode_request(request)
        problem = _spec_problem(encoded)
        if problem is not None:
            # A provider dialect value the caller passed on (Groq's service_tier "on_demand"): acceptable
            # only where the recorded request, which that provider accepted, fails the spec the same way.
            assert item.provider != "openai", problem
            assert problem == _spec_problem(recorded), problem
        got = normalise_request(encoded, recorded=recorded)
        want = normalise_request(recorded, recorded=recorded)
        assert got == want, _first_difference(got, want)


def test_request_encoding_sample_is_large_enough() -> None:
    rebuilt: list[str] = []
    for item in REQUESTS:
        if item.provider == "openai" and item.request_body is not None:
            try:
                rebuild(item.request_body, resolve_model(f"openai:{item.request_body['model']}"))
            except Unsupported:
                continue
            rebuilt.append(item.id)
    assert len(rebuilt) >= 20
