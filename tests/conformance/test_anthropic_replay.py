"""Replay every recorded Anthropic *Messages* interaction through sycophant_py's ``anthropic_messages``.

Sources in ``../shared/conformance`` (third-party recordings of real traffic; see each folder's README):

* ``sycophant``: the Elixir library's 18 JSON recordings against ``api.anthropic.com`` (request as encoded,
  raw response: a JSON body or the SSE text).
* ``pydantic-ai``: VCR cassettes selected through ``INDEX.jsonl``: ``anthropic.messages`` (283) and
  ``anthropic.count_tokens`` (8; another endpoint, so only their error bodies are replayed).
* ``vercel-ai``: the anthropic package's ``*.chunks.txt`` (one decoded event per line, re-framed here as
  ``event: <type>`` + ``data: <line>``) and ``*.json`` bodies. No request, status or headers: 200 is assumed.
* ``anthropic-sdk-python``: raw SSE streams (``*.txt``, ``*.sse``) and request/response recordings (JSON).

Per interaction:

1. **Decoding.** 2xx bodies go through ``decode_response``; streams through ``SSEDecoder`` and the pipeline's
   pure ``StreamCore`` whole, cut at random byte boundaries (three seeds), re-framed with ``\\r\\n`` and cut
   between ``\\r`` and ``\\n``, cut inside every multi-byte UTF-8 character, and (the smallest and every edge
   case) one byte at a time. Text, thinking (text and signatures), tool calls (names and parsed arguments),
   finish reason and usage must match what :func:`reference_walk` reads from the raw bytes.
2. **Error mapping.** Non-2xx bodies go through ``_pipeline.error_from_response``: class, status, message.
3. **End to end.** A deterministic sample is served from a ``ScriptedServer`` to ``syc.generate_text`` /
   ``syc.stream_text`` with the ``anthropic`` provider pointed at it.
4. **Request encoding.** Recorded requests expressible with the public types are rebuilt and encoded; the
   body must equal the recorded one up to :func:`normalise_request`. Every encoded body, and every recorded
   one, is validated with the official SDK's ``MessageCreateParams`` (strictly, see the contract dialect).

The reference walk is deliberately simple and independent of the library: concatenate ``text`` blocks and
``text_delta``; ``thinking`` / ``thinking_delta`` with ``signature`` / ``signature_delta``;
``redacted_thinking`` data; client ``tool_use`` blocks (``input``, or the concatenated ``input_json_delta``
when there is any; invalid JSON, as in a stream cut by ``max_tokens``, means ``{}``, the library's documented
value); ``stop_reason``; and usage from ``message_start`` merged per field with ``message_delta``'s (a
present, non-null field replaces). Server-side tool blocks are not client content.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import random
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import sycophant_py as syc
from sycophant_py._catalog import resolve_model
from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import (
    AuthenticationFailed,
    BadRequest,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    ResponseInvalid,
    ServerError,
)
from sycophant_py._params import validate_params
from sycophant_py._pipeline import Call, error_from_response
from sycophant_py._stream import StreamCore
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
from sycophant_py.wire._base import Request
from sycophant_py.wire.anthropic_messages import AnthropicMessages, AnthropicParams
from tests.contract.dialects.anthropic_messages import validate_request

from .gaps import UNEXPRESSIBLE, keep

PROTOCOL = "anthropic_messages"
CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"

EDGE_ERROR_EVENT = "error_event"
EDGE_NO_STOP = "no_message_stop"
EDGE_SPLICED = "spliced_message"

# The raw stop_reason -> the unified finish reason. An unknown raw value fails: extend the table on purpose.
FINISH: dict[str | None, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_use",
    "refusal": "content_filter",
    None: "stop",
}
SPLIT_SEEDS = (0, 1, 2)
BYTE_AT_A_TIME = 6
E2E_SAMPLE = 25

proto = AnthropicMessages()


# --------------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a correct decoder produces for one successful interaction."""

    text: str
    thinking: list[tuple[str, str | None, bool]]  # (text, signature or data, redacted) per thinking block
    tool_calls: list[tuple[str, str, dict[str, Any]]]  # (id, name, arguments)
    stop_reason: str | None
    usage: dict[str, Any]
    edge: str | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair against ``/v1/messages`` (or ``/v1/messages/count_tokens``)."""

    id: str
    source: str
    streamed: bool
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    request_body: dict[str, Any] | None = None
    endpoint: str = "messages"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def provider(self) -> str:
        return "anthropic"


def _walk_blocks(
    blocks: Sequence[Mapping[str, Any]],
) -> tuple[str, list[tuple[str, str | None, bool]], list[tuple[str, str, dict[str, Any]]]]:
    text, thinking, calls = [], [], []
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            text.append(b.get("text") or "")
        elif kind == "thinking":
            thinking.append((b.get("thinking") or "", b.get("signature") or None, False))
        elif kind == "redacted_thinking":
            thinking.append(("", b.get("data") or None, True))
        elif kind == "tool_use":
            calls.append((b["id"], b["name"], dict(b.get("input") or {})))
    return "".join(text), thinking, calls


def _parse_args(raw: str, start_input: Any) -> dict[str, Any]:
    if not raw:
        return dict(start_input or {})
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def iter_sse(body: bytes) -> Iterator[tuple[str | None, str]]:
    """``(event name, data)`` per SSE event of a complete body."""
    text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    for chunk in text.split("\n\n"):
        name, data = None, []
        for line in chunk.split("\n"):
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("event:"):
                name = line[6:].strip()
        if data:
            yield name, "\n".join(data)


def _walk_stream(body: bytes) -> Expected:
    blocks: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    usage: dict[str, Any] = {}
    stop_reason: str | None = None
    message_id: str | None = None
    edge: str | None = EDGE_NO_STOP
    error = None
    for _name, data in iter_sse(body):
        event = json.loads(data)
        kind = event.get("type")
        if kind == "message_start":
            new_id = event["message"]["id"]
            if message_id is not None and new_id != message_id:
                edge = EDGE_SPLICED
                break
            if message_id is None:
                usage.update({k: v for k, v in event["message"].get("usage", {}).items() if v is not None})
            message_id = new_id
        elif kind == "content_block_start":
            blocks[event["index"]] = {**event["content_block"], "_json": "", "_sig": ""}
            order.append(event["index"])
        elif kind == "content_block_delta":
            b, d = blocks[event["index"]], event["delta"]
            if d["type"] == "text_delta":
                b["text"] = (b.get("text") or "") + d["text"]
            elif d["type"] == "thinking_delta":
                b["thinking"] = (b.get("thinking") or "") + d["thinking"]
            elif d["type"] == "signature_delta":
                b["_sig"] += d["signature"]
            elif d["type"] == "input_json_delta":
                b["_json"] += d["partial_json"]
        elif kind == "message_delta":
            stop_reason = event["delta"].get("stop_reason") or stop_reason
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            edge = None
            break
        elif kind == "error":
            edge, error = EDGE_ERROR_EVENT, event
            break
    finals = []
    for i in order:
        b = dict(blocks[i])
        if b["type"] == "thinking":
            b["signature"] = (b.get("signature") or "") + b["_sig"]
        if b["type"] == "tool_use":
            b["input"] = _parse_args(b["_json"], b.get("input"))
        finals.append(b)
    text, thinking, calls = _walk_blocks(finals)
    return Expected(text, thinking, calls, stop_reason, usage, edge, error)


def reference_walk(item: Interaction) -> Expected:
    """Decode a raw 2xx body the simple way (see the module docstring)."""
    if item.streamed:
        return _walk_stream(item.body)
    data = json.loads(item.body)
    text, thinking, calls = _walk_blocks(data.get("content") or [])
    return Expected(text, thinking, calls, data.get("stop_reason"), dict(data.get("usage") or {}))


def _headers(raw: Any) -> dict[str, str]:
    pairs = raw if isinstance(raw, list) else list((raw or {}).items())  # sycophant: [[name, value], ...]
    out: dict[str, str] = {}
    for name, value in pairs:
        out[name.lower()] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return out


def _load_sycophant() -> list[Interaction]:
    root = CONFORMANCE / "sycophant" / "priv" / "fixtures" / "recordings" / "anthropic"
    out = []
    for path in sorted(root.rglob("*.json")):
        rec = json.loads(path.read_bytes())
        raw = rec["response"]["body"]
        streamed = isinstance(raw, str)
        out.append(
            Interaction(
                f"sycophant/{path.relative_to(root).as_posix()}",
                "sycophant",
                streamed,
                int(rec["response"]["status"]),
                raw.encode() if streamed else json.dumps(raw).encode(),
                _headers(rec["response"].get("headers")),
                rec["request"].get("body"),
            )
        )
    return out


def _load_pydantic_ai() -> list[Interaction]:
    root = CONFORMANCE / "pydantic-ai"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    rows = [json.loads(line) for line in (root / "INDEX.jsonl").read_text().splitlines() if line]
    cassettes: dict[str, Any] = {}
    out = []
    for row in rows:
        if row["api"] not in ("anthropic.messages", "anthropic.count_tokens"):
            continue
        file = row["file"]
        if file not in cassettes:
            cassettes[file] = yaml.load((root / file).read_text(encoding="utf-8"), Loader=loader)
        it = cassettes[file]["interactions"][int(row["interaction"])]
        resp = it["response"]
        if "parsed_body" in resp:
            body = json.dumps(resp["parsed_body"]).encode()
        else:
            raw = resp["body"]["string"]
            body = raw if isinstance(raw, bytes) else raw.encode()
        out.append(
            Interaction(
                f"pydantic-ai/{file}#{row['interaction']}",
                "pydantic-ai",
                str(row["streamed"]) == "True",
                int(resp["status"]["code"]),
                body,
                _headers(resp.get("headers")),
                it["request"].get("parsed_body"),
                "count_tokens" if row["api"] == "anthropic.count_tokens" else "messages",
            )
        )
    return out


def _load_vercel_ai() -> list[Interaction]:
    root = CONFORMANCE / "vercel-ai"
    rows = [json.loads(line) for line in (root / "INDEX.jsonl").read_text().splitlines() if line]
    out = []
    for row in sorted(rows, key=lambda r: r["file"]):
        if row["api"] != "anthropic.messages":
            continue
        raw = (root / row["file"]).read_bytes()
        if row["file"].endswith(".chunks.txt"):
            lines = [line for line in raw.decode().splitlines() if line.strip()]
            body = "".join(f"event: {json.loads(line)['type']}\ndata: {line}\n\n" for line in lines).encode()
            out.append(
                Interaction(
                    f"vercel-ai/{row['file']}", "vercel-ai", True, 200, body, {"content-type": "text/event-stream"}
                )
            )
        else:
            status = 400 if json.loads(raw).get("type") == "error" else 200
            out.append(
                Interaction(
                    f"vercel-ai/{row['file']}", "vercel-ai", False, status, raw, {"content-type": "application/json"}
                )
            )
    return out


def _load_anthropic_sdk() -> list[Interaction]:
    root = CONFORMANCE / "anthropic-sdk-python" / "tests"
    out = []
    for path in sorted([*root.glob("lib/streaming/fixtures/*.txt"), *root.glob("fixtures/*/*.sse")]):
        out.append(
            Interaction(
                f"anthropic-sdk-python/{path.relative_to(root).as_posix()}",
                "anthropic-sdk-python",
                True,
                200,
                path.read_bytes(),
                {"content-type": "text/event-stream"},
            )
        )
    for path in sorted(root.rglob("__inline_snapshot__/**/*.json")):
        for n, rec in enumerate(json.loads(path.read_bytes())):
            req, resp = rec["request"], rec["response"]
            raw = resp["body"]
            streamed = isinstance(raw, str)
            req_body = json.loads(req["body"]) if isinstance(req["body"], str) else req["body"]
            out.append(
                Interaction(
                    f"anthropic-sdk-python/{path.relative_to(root).as_posix()}#{n}",
                    "anthropic-sdk-python",
                    streamed,
                    int(resp["status_code"]),
                    raw.encode() if streamed else json.dumps(raw).encode(),
                    _headers(resp.get("headers")),
                    req_body,
                )
            )
    return out


ALL = [*_load_sycophant(), *_load_pydantic_ai(), *_load_vercel_ai(), *_load_anthropic_sdk()]
MESSAGES = [it for it in ALL if it.endpoint == "messages"]
BODIES = [it for it in MESSAGES if it.ok and not it.streamed]
STREAMS = [it for it in MESSAGES if it.ok and it.streamed]
ERRORS = [it for it in ALL if not it.ok]
EXPECTED = {it.id: reference_walk(it) for it in MESSAGES if it.ok}


def _ids(item: Interaction) -> str:
    return item.id


# --------------------------------------------------------------------------------------------------
# Checks against the reference
# --------------------------------------------------------------------------------------------------


def _n(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def reference_usage(raw: Mapping[str, Any]) -> dict[str, int]:
    """Unified usage: Anthropic input counts already exclude cache reads and writes."""
    details = raw.get("output_tokens_details") or {}
    return {
        "input_tokens": _n(raw.get("input_tokens")),
        "output_tokens": _n(raw.get("output_tokens")),
        "cache_read_tokens": _n(raw.get("cache_read_input_tokens")),
        "cache_write_tokens": _n(raw.get("cache_creation_input_tokens")),
        "reasoning_tokens": _n(details.get("thinking_tokens")),
    }


def expected_finish(exp: Expected) -> str:
    if exp.edge is not None:
        return "error"
    assert exp.stop_reason in FINISH, f"unmapped stop_reason {exp.stop_reason!r}"
    mapped = FINISH[exp.stop_reason]
    return "tool_use" if mapped == "stop" and exp.tool_calls else mapped


def check_response(item: Interaction, resp: Response) -> None:
    """Content, finish reason and usage of a decoded response against the raw bytes."""
    exp = EXPECTED[item.id]
    assert resp.text == exp.text
    thinking = [(p.text, p.signature, p.redacted) for p in resp.parts if isinstance(p, ThinkingPart)]
    assert thinking == exp.thinking
    assert resp.reasoning == "".join(t for t, _, _ in exp.thinking)
    assert [(c.id, c.name, dict(c.arguments)) for c in resp.tool_calls] == exp.tool_calls
    for call in resp.tool_calls:  # the raw text is kept; invalid JSON (a cut stream) parses to {}
        try:
            assert json.loads(call.arguments_json) == dict(call.arguments)
        except ValueError:
            assert call.arguments == {}
    assert resp.finish_reason == expected_finish(exp)
    if exp.edge is None:
        assert resp.provider_finish_reason == exp.stop_reason
    got = {
        k: getattr(resp.usage, k)
        for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
    }
    assert got == reference_usage(exp.usage)


_KIND = {"text": TextPart, "thinking": ThinkingPart, "toolcall": ToolCall}


def check_events(item: Interaction, events: list[StreamEvent], resp: Response) -> None:
    """Well-formed unified events that agree with the final response and the raw bytes."""
    exp = EXPECTED[item.id]
    assert [e.type for e in events].count("start") == 1
    assert events[0].type == "start"
    terminal = [e for e in events if e.type in ("done", "error")]
    assert len(terminal) == 1
    assert events[-1] is terminal[0]
    assert all(e.partial is events[0].partial for e in events)
    open_: dict[int, str] = {}
    for e in events[1:-1]:
        kind, _, phase = e.type.rpartition("_")
        if phase == "start":
            assert e.content_index == len(open_), "dense, ordered content indexes"
            open_[e.content_index] = kind
        else:
            assert open_.get(e.content_index) == kind, e
            if phase == "end":
                open_[e.content_index] = ""
                part = resp.parts[e.content_index]
                assert isinstance(part, _KIND[kind])
                if isinstance(part, (TextPart, ThinkingPart)):
                    assert e.content == part.text
    assert all(v == "" for v in open_.values())
    assert len(resp.parts) == len(open_)
    assert "".join(e.delta for e in events if e.type == "text_delta") == exp.text
    assert "".join(e.delta for e in events if e.type == "thinking_delta") == "".join(t for t, _, _ in exp.thinking)
    last = events[-1]
    assert last.response is resp
    if exp.edge == EDGE_ERROR_EVENT:
        assert last.type == "error"
        assert isinstance(last.error, ProviderError)
        assert exp.error is not None
        assert exp.error["error"]["message"] in str(last.error)
        expected_cls = Overloaded if exp.error["error"]["type"] == "overloaded_error" else ProviderError
        assert isinstance(last.error, expected_cls)
    elif exp.edge is not None:
        assert last.type == "error"
        assert isinstance(last.error, ResponseInvalid)
    else:
        assert last.type == "done"
        assert last.reason == resp.finish_reason
        assert resp.error is None
    check_response(item, resp)


def _call() -> Call:
    model = resolve_model("anthropic:claude-sonnet-4-5")
    return Call.resolved(model, proto)


def decode_stream(chunks: Sequence[bytes]) -> tuple[list[StreamEvent], Response]:
    """Feed chunks through the pipeline's pure ``StreamCore`` (SSE decoding + ``decode_stream_chunk``)."""
    core = StreamCore(_call(), {})
    events = core.begin()
    for chunk in chunks:
        events += core.feed(chunk)
        if core.final is not None:
            break
    if core.final is None:
        events += core.end()
    assert core.final is not None
    return events, core.final


def _split_at(body: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def random_cuts(body: bytes, seed: int) -> list[bytes]:
    """About one cut per 40 bytes, at random positions."""
    rng = random.Random(seed * 1_000_003 + zlib.crc32(body))
    return _split_at(body, sorted(rng.sample(range(1, len(body)), min(max(1, len(body) // 40), len(body) - 1))))


def crlf_cuts(body: bytes, seed: int) -> list[bytes]:
    """``\\r\\n`` line ends, cut between the ``\\r`` and the ``\\n`` of random line ends."""
    crlf = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    ends = [i + 1 for i in range(len(crlf) - 1) if crlf[i : i + 2] == b"\r\n"]
    return _split_at(crlf, sorted(random.Random(seed + zlib.crc32(crlf)).sample(ends, max(1, len(ends) // 2))))


def utf8_cuts(body: bytes) -> list[bytes] | None:
    """Cut inside every multi-byte UTF-8 character, or None when there is none."""
    cuts = [i for i in range(1, len(body)) if body[i] & 0xC0 == 0x80 and body[i - 1] & 0x80]
    return _split_at(body, cuts) if cuts else None


VARIANTS: dict[str, Callable[[bytes], list[bytes] | None]] = {
    "whole": lambda b: [b],
    **{f"split-seed{s}": (lambda b, s=s: random_cuts(b, s)) for s in SPLIT_SEEDS},  # type: ignore[misc]
    "crlf-mid": lambda b: crlf_cuts(b, 0),
    "utf8-mid": utf8_cuts,
    "bytes1": lambda b: [b[i : i + 1] for i in range(len(b))],
}


def _stream_params() -> Iterator[Any]:
    small = {it.id for it in sorted(STREAMS, key=lambda it: len(it.body))[:BYTE_AT_A_TIME]}
    for item in STREAMS:
        names = [n for n in VARIANTS if n != "bytes1" and (n != "utf8-mid" or utf8_cuts(item.body) is not None)]
        if item.id in small or EXPECTED[item.id].edge is not None:
            names.append("bytes1")
        for name in names:
            yield pytest.param(item, name, id=f"{item.id}[{name}]")


# --------------------------------------------------------------------------------------------------
# 1. Decoding
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", BODIES, ids=_ids)
def test_decode_body(item: Interaction, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "decode", (item.id, item.source, item.provider, False), "whole"):
        check_response(item, proto.decode_response(json.loads(item.body)))


@pytest.mark.parametrize(("item", "variant"), list(_stream_params()))
def test_decode_stream(item: Interaction, variant: str, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "decode", (item.id, item.source, item.provider, True), variant):
        chunks = VARIANTS[variant](item.body)
        assert chunks is not None
        events, resp = decode_stream(chunks)
        check_events(item, events, resp)


# The 2xx answers of other endpoints (/v1/messages/count_tokens) are not decoded by the Messages protocol.
keep(
    [it for it in ALL if it.endpoint != "messages" and it.ok],
    PROTOCOL,
    "decode",
    lambda it: (it.id, it.source, it.provider, False),
    lambda it: ("a call this library does not make", f"/v1/messages/{it.endpoint}"),
)


def test_corpus_counts() -> None:
    by_source: dict[str, int] = {}
    for it in ALL:
        by_source[it.source] = by_source.get(it.source, 0) + 1
    assert by_source == {"sycophant": 18, "pydantic-ai": 291, "vercel-ai": 62, "anthropic-sdk-python": 42}
    edges = {EXPECTED[it.id].edge for it in STREAMS} - {None}
    # The corpus has no stream error event and no stream cut before message_stop: the unit tests cover those.
    assert edges == {EDGE_SPLICED}, edges
    assert sum(1 for e in EXPECTED.values() if any(s for _, s, _ in e.thinking)) >= 20


# --------------------------------------------------------------------------------------------------
# 2. Error mapping
# --------------------------------------------------------------------------------------------------


def expected_error_class(status: int, err_type: str) -> type[ProviderError]:
    if status in (401, 403):
        return AuthenticationFailed
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status == 529 or err_type == "overloaded_error":
        return Overloaded
    return ServerError if status >= 500 else BadRequest


@pytest.mark.parametrize("item", ERRORS, ids=_ids)
def test_error_mapping(item: Interaction, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "error", (item.id, item.source, item.provider, False), str(item.status)):
        body = json.loads(item.body)
        exc = error_from_response(_call(), item.status, item.headers, item.body)
        assert type(exc) is expected_error_class(item.status, body["error"]["type"]), repr(exc)
        assert exc.status_code == item.status
        assert exc.message == body["error"]["message"]
        assert exc.body == body
        if "request-id" in item.headers:
            assert exc.request_id == item.headers["request-id"]
        if item.headers.get("x-should-retry") == "false":
            assert exc.should_retry is False
        if isinstance(exc, RateLimited) and "retry-after" in item.headers:
            assert exc.retry_after == float(item.headers["retry-after"])


def test_error_corpus_classes() -> None:
    classes = {expected_error_class(it.status, json.loads(it.body)["error"]["type"]) for it in ERRORS}
    assert classes >= {BadRequest, NotFound, RateLimited}


# --------------------------------------------------------------------------------------------------
# 3. End to end through the public API
# --------------------------------------------------------------------------------------------------


def _sample(items: Sequence[Interaction], n: int) -> list[Interaction]:
    picked = sorted(items, key=lambda it: zlib.crc32(it.id.encode()))[:n]
    return picked + [it for it in items if EXPECTED[it.id].edge is not None and it not in picked]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ScriptedServer, list[Reply]]]:
    current: list[Reply] = []
    with ScriptedServer(handler=lambda _rec: current[0]) as srv:
        yield srv, current


@pytest.mark.parametrize("item", _sample(BODIES, E2E_SAMPLE) + _sample(STREAMS, E2E_SAMPLE), ids=_ids)
def test_end_to_end(item: Interaction, server: tuple[ScriptedServer, list[Reply]], conformance_record: Any) -> None:
    srv, current = server
    with conformance_record(PROTOCOL, "e2e", (item.id, item.source, item.provider, item.streamed), "public-api"):
        if item.streamed:
            current[:] = [Reply(200, {"content-type": "text/event-stream"}, chunks=random_cuts(item.body, 5))]
        else:
            current[:] = [Reply.raw(item.body)]
        syc.configure(providers={"anthropic": {"api_key": "sk-ant-test", "base_url": srv.url}})
        try:
            model = (item.request_body or {}).get("model") or "claude-recorded"
            if item.streamed:
                stream = syc.stream_text(f"anthropic:{model}", "Replay.")
                events = list(stream)
                resp = stream.response()
                check_events(item, events, resp)
            else:
                resp = syc.generate_text(f"anthropic:{model}", "Replay.")
                check_response(item, resp)
            assert resp.provider == "anthropic"
            for part in resp.parts:
                if isinstance(part, ThinkingPart) and item.streamed:
                    assert part.provider == "anthropic"
            sent = srv.requests[-1]
            assert sent.path == "/v1/messages"
            assert (sent.headers["x-api-key"], sent.headers["anthropic-version"]) == ("sk-ant-test", "2023-06-01")
            validate_request(sent.json)
            if EXPECTED[item.id].edge is None:  # the answer replays: thinking signatures survive
                again = proto.encode_request(
                    Request(resolve_model(f"anthropic:{model}"), [*resp.context.messages, Message.user("More.")])
                )
                validate_request(again)
                blocks = again["messages"][1]["content"] if len(again["messages"]) > 2 else []
                replayed = [
                    (b.get("thinking", ""), b.get("signature") or b.get("data"), b["type"] != "thinking")
                    for b in blocks
                    if isinstance(b, dict) and b["type"] in ("thinking", "redacted_thinking")
                ]
                assert replayed == [t for t in EXPECTED[item.id].thinking if t[1]]
        finally:
            syc.configure(reset=True)
            syc.close()


# --------------------------------------------------------------------------------------------------
# 4. Request encoding
# --------------------------------------------------------------------------------------------------


class Unsupported(Exception):
    """The recorded request uses something the rebuild does not express with the public types."""


# Recorded requests the strict validator refuses although the API answered 200: fields of beta features
# that ``anthropic.types.MessageCreateParams`` does not declare (pydantic-ai calls ``/v1/messages?beta=true``).
BETA_ONLY = ("context_management", "mcp_servers", "task_budget")


_CACHE = {"type": "ephemeral"}
_DIRECT = {"type": "direct"}
# Top-level fields the library sends only through the ``extra_body`` param (its documented use).
_EXTRA_BODY = ("output_config", "container", "cache_control", "context_management", "mcp_servers")


def _cache_of(block: Mapping[str, Any]) -> bool:
    cc = block.get("cache_control")
    if cc is not None and cc != _CACHE:
        raise Unsupported(f"cache_control {cc!r}")
    return cc is not None


def _user_part(block: Mapping[str, Any]) -> Part:
    kind, src = block["type"], block.get("source") or {}
    if kind == "text" and set(block) <= {"type", "text", "cache_control"}:
        return TextPart(block["text"])
    if kind == "image" and set(block) <= {"type", "source", "cache_control"}:
        if src.get("type") == "base64":
            return ImagePart(data=base64.b64decode(src["data"]), media_type=src["media_type"])
        if src.get("type") == "url":
            return ImagePart(url=src["url"])
    if kind == "document" and set(block) <= {"type", "source", "title", "cache_control"}:
        if src.get("type") == "base64" and src.get("media_type") == "application/pdf":
            return DocumentPart(data=base64.b64decode(src["data"]), name=block.get("title"))
        if src.get("type") == "url":
            return DocumentPart(url=src["url"], name=block.get("title"))
        if src.get("type") == "text":
            return DocumentPart(data=src["data"].encode(), media_type="text/plain", name=block.get("title"))
    raise Unsupported(f"user block {kind!r} with {sorted(block)} / source {src.get('type')!r}")


def _tool_result(block: Mapping[str, Any]) -> Message:
    if set(block) - {"type", "tool_use_id", "content", "is_error", "cache_control"}:
        raise Unsupported(f"tool_result fields {sorted(block)}")
    content = block.get("content", "")
    parts: str | list[Part] = content if isinstance(content, str) else [_user_part(b) for b in content]
    msg = Message.tool_result(block["tool_use_id"], parts, is_error=bool(block.get("is_error")))
    return Message(msg.role, msg.content, msg.tool_call_id, None, msg.is_error, _cache_of(block))


def _user_messages(content: Any) -> list[Message]:
    if isinstance(content, str):
        return [Message.user(content)]
    out: list[Message] = []
    group: list[Part] = []
    for i, block in enumerate(content):
        if block["type"] == "tool_result":
            if group:
                raise Unsupported("user content before a tool_result in one turn")
            out.append(_tool_result(block))
            continue
        group.append(_user_part(block))
        last = i == len(content) - 1
        if _cache_of(block) and not last:
            raise Unsupported("cache_control on a block that is not the last of its message")
        if last:
            out.append(Message.user(group, cache=_cache_of(block)))
    return out


def _assistant_message(content: Any) -> Message:
    if isinstance(content, str):
        return Message.assistant(content)
    parts: list[Part] = []
    for block in content:
        kind = block["type"]
        if _cache_of(block):
            raise Unsupported("cache_control on an assistant block")
        if kind == "text" and set(block) <= {"type", "text", "cache_control"}:
            parts.append(TextPart(block["text"]))
        elif kind == "thinking":
            parts.append(ThinkingPart(block["thinking"], block["signature"], provider="anthropic"))
        elif kind == "redacted_thinking":
            parts.append(ThinkingPart("", block["data"], redacted=True, provider="anthropic"))
        elif kind == "tool_use" and set(block) <= {"type", "id", "name", "input", "cache_control", "caller"}:
            if block.get("caller", _DIRECT) != _DIRECT:
                raise Unsupported(f"tool_use called by {block['caller']!r}")
            parts.append(ToolCall(block["id"], block["name"], block["input"], json.dumps(block["input"])))
        else:
            raise Unsupported(f"assistant block {kind!r}")
    return Message("assistant", tuple(parts))


def _system(system: Any) -> list[Message]:
    if system is None:
        return []
    if isinstance(system, str):
        return [Message.system(system)]
    out = []
    for block in system:
        if block.get("type") != "text" or set(block) - {"type", "text", "cache_control"}:
            raise Unsupported(f"system block {sorted(block)}")
        out.append(Message.system(block["text"], cache=_cache_of(block)))
    return out


def _tool(t: Mapping[str, Any]) -> Tool:
    if t.get("type") not in (None, "custom") or set(t) - {"name", "description", "input_schema", "strict", "type"}:
        raise Unsupported(f"tool {t.get('type') or sorted(t)}")
    return Tool(t["name"], t.get("description") or "", t["input_schema"], strict=t.get("strict"))


def _tool_choice(choice: Mapping[str, Any], raw: dict[str, Any]) -> None:
    kind = choice["type"]
    raw["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}.get(kind) or choice.get("name")
    if choice.get("disable_parallel_tool_use"):
        raw["parallel_tool_calls"] = False


def rebuild(body: Mapping[str, Any]) -> Request:
    """The library call that produces ``body``, from the public types (or ``Unsupported``).

    A recorded ``{"role": "system"}`` turn (inline system messages, which newer models take) means the
    caller configured the model with the ``supports_inline_system`` compat flag.
    """
    beta = [name for name in BETA_ONLY if f'"{name}"' in json.dumps(body)]
    if beta:
        raise Unsupported(f"beta-only field(s): {', '.join(beta)}")
    known = {
        "model",
        "max_tokens",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "stream",
        "thinking",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "metadata",
        "service_tier",
        *_EXTRA_BODY,
    }
    unknown = sorted(set(body) - known)
    if unknown:
        raise Unsupported(f"request field(s) the library does not model: {', '.join(unknown)}")
    raw: dict[str, Any] = {"max_tokens": body["max_tokens"]}
    for key in ("temperature", "top_p", "top_k", "metadata", "service_tier"):
        if key in body:
            raw[key] = body[key]
    if "stop_sequences" in body:
        raw["stop"] = list(body["stop_sequences"])
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") == "enabled" and set(thinking) == {"type", "budget_tokens"}:
            raw["reasoning_budget"] = thinking["budget_tokens"]
        else:
            raw["thinking"] = thinking
    if body.get("tool_choice"):
        _tool_choice(body["tool_choice"], raw)
    extra = {k: body[k] for k in _EXTRA_BODY if k in body}
    if extra:
        raw["extra_body"] = extra
    params, dropped = validate_params(AnthropicParams, raw)
    assert not dropped, dropped
    messages = _system(body.get("system"))
    model = resolve_model(f"anthropic:{body['model']}")
    for m in body["messages"]:
        if m["role"] == "system":
            messages += _system(m["content"])
            model = dataclasses.replace(model, compat={**model.compat, "supports_inline_system": True})
        elif m["role"] == "user":
            messages += _user_messages(m["content"])
        else:
            messages.append(_assistant_message(m["content"]))
    tools = [_tool(t) for t in body.get("tools") or ()]
    return Request(model, messages, params, tools, bool(body.get("stream")))


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]


def normalise_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the documented, meaning-preserving differences removed.

    * ``stream: false`` is the default; ``system`` and ``content`` strings are the API's shorthand for one
      text block; consecutive turns of one role are one turn (the API merges them).
    * A tool result whose content is one text block is the same as that text; ``is_error: false`` and a
      tool's ``description: ""`` are the same as absent; ``tool_choice: auto`` with tools is the default.
    * A replayed ``tool_use`` block's ``caller: {"type": "direct"}`` (the SDK echoes it from the response)
      is the default: a direct call.
    """
    out: dict[str, Any] = json.loads(json.dumps(body))
    if out.get("stream") is False:
        del out["stream"]
    if isinstance(out.get("system"), str):
        out["system"] = _blocks(out["system"])
    turns: list[dict[str, Any]] = []
    for m in out["messages"]:
        blocks = _blocks(m["content"])
        for b in blocks:
            if b["type"] == "tool_use" and b.get("caller") == _DIRECT:
                del b["caller"]
            if b["type"] == "tool_result":
                content = b.get("content")
                if isinstance(content, list) and all(
                    x.get("type") == "text" and set(x) == {"type", "text"} for x in content
                ):
                    b["content"] = "".join(x["text"] for x in content)
                if b.get("content") == "":
                    del b["content"]
                if b.get("is_error") is False:
                    del b["is_error"]
        if turns and turns[-1]["role"] == m["role"]:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": m["role"], "content": blocks})
    out["messages"] = turns
    for t in out.get("tools") or ():
        if t.get("description") == "":
            del t["description"]
    if out.get("tool_choice") == {"type": "auto"}:
        del out["tool_choice"]
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


REQUESTS: list[Interaction] = [it for it in MESSAGES if it.request_body is not None]


def _where(item: Interaction) -> tuple[str, str, str, bool]:
    return item.id, item.source, item.provider, item.streamed


def _request_gap(item: Interaction) -> tuple[str, str] | None:
    """Why the recorded request is not compared (``(kind, detail)``), or None."""
    if not item.ok:
        return "the API refused the recorded request: nothing to match", f"HTTP {item.status}"
    try:
        rebuild(item.request_body or {})
    except Unsupported as exc:
        return UNEXPRESSIBLE, str(exc)
    return None


def _validator_gap(item: Interaction) -> tuple[str, str] | None:
    """Recorded requests with beta-only fields, which ``MessageCreateParams`` does not declare."""
    text = json.dumps(item.request_body)
    beta = [name for name in BETA_ONLY if f'"{name}"' in text]
    return ("beta-only field(s) unknown to the SDK's MessageCreateParams", ", ".join(beta)) if beta else None


@pytest.mark.parametrize("item", keep(REQUESTS, PROTOCOL, "request", _where, _request_gap), ids=_ids)
def test_request_encoding(item: Interaction, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "request", _where(item), "golden"):
        recorded = item.request_body
        assert recorded is not None
        request = rebuild(recorded)
        encoded = proto.encode_request(request)
        validate_request(encoded)
        got, want = normalise_request(encoded), normalise_request(recorded)
        assert got == want, _first_difference(got, want)


@pytest.mark.parametrize("item", keep(REQUESTS, PROTOCOL, "request", _where, _validator_gap), ids=_ids)
def test_recorded_requests_pass_the_validator(item: Interaction, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "request", _where(item), "validator"):
        assert item.request_body is not None
        validate_request(item.request_body)


def test_request_sample_is_large_enough() -> None:
    rebuilt = 0
    for item in REQUESTS:
        try:
            rebuild(item.request_body or {})
        except Unsupported:
            continue
        rebuilt += 1
    assert rebuilt >= 150
