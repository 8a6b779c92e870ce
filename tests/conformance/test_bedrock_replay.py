"""Replay every recorded Amazon Bedrock interaction in ``../shared/conformance`` through sycophant_py.

Sources (third-party recordings of real traffic; see each folder's README):

* ``sycophant``: ``amazon_bedrock/**.json``: Converse bodies, ConverseStream bodies as base64 of the
  binary event stream, and Cohere Embed v4 ``InvokeModel`` calls, each with the request Sycophant sent.
* ``pydantic-ai``: the VCR cassettes ``INDEX.jsonl`` lists on ``bedrock-runtime`` hosts: Converse
  (200 and 400), ConverseStream as raw binary event-stream bytes, and one CountTokens call.
* ``vercel-ai``: ``amazon-bedrock`` fixtures: Converse bodies, and ConverseStream ``*.chunks.txt``
  (one decoded frame per line as ``{"<eventType>": payload}``), re-framed here as binary frames with
  the contract dialect's independent encoder; these carry no request and no status (200 assumed).

``expected`` comes from a small reference walk written here, independent of the library: streams are
split into frames by **botocore's** ``EventStreamBuffer``, then text, reasoning (and signatures), tool
calls (by ``contentBlockIndex``, leaving out ``server_tool_use`` blocks, which run on Bedrock),
``stopReason``, exceptions and ``metadata.usage`` are collected.

Checks:

1. **decode**: bodies through ``decode_response``; streams through ``EventStreamDecoder`` +
   ``decode_stream_chunk`` whole, cut at random byte boundaries (three seeds) and one byte at a time;
   the unified events must be well formed and must not depend on the cuts.
2. **error**: non-2xx bodies through ``_pipeline.error_from_response``.
3. **e2e**: bodies and streams served by a ``ScriptedServer`` and read through ``syc.generate_text`` /
   ``syc.stream_text`` / ``syc.embed`` with SigV4 credentials; the request path must equal the
   recorded one (model id encoding) and the body sent must pass botocore's ``ParamValidator``.
4. **request**: recorded requests that the public types can express are rebuilt (messages, tools,
   params) and encoded; the body must equal the recorded one after :func:`normalise_request`, and
   pass ``ParamValidator``. Every recorded request body is validated too; the ones it refuses are
   listed in :data:`KNOWN_BAD_RECORDED_REQUESTS`, and the validator's known false rejections of
   library-encoded bodies in ``tests.contract.dialects.bedrock_converse.KNOWN_FALSE_REJECTIONS``
   (none).
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

import sycophant_py as syc
from sycophant_py._events import StreamEvent
from sycophant_py._eventstream import EventStreamDecoder
from sycophant_py._models import ModelInfo
from sycophant_py._params import validate_params
from sycophant_py._pipeline import Call, error_from_response
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
from sycophant_py.wire._base import EmbeddingRequest, Request, StreamContinue, StreamDone, StreamFailed, StreamResult
from sycophant_py.wire.bedrock_converse import BedrockConverse
from sycophant_py.wire.bedrock_embed import BedrockEmbed
from tests.contract.dialects.bedrock_converse import (
    CREDENTIALS,
    KNOWN_FALSE_REJECTIONS,
    frame,
    validate_request,
    validation_errors,
)

from .corpus import CONFORMANCE_DIR
from .gaps import UNEXPRESSIBLE, keep

PROTOCOL = "bedrock_converse"
EMBED_PROTOCOL = "bedrock_embed"
SPLIT_SEEDS = (0, 1, 2)
E2E_SAMPLE = 40

KNOWN_BAD_RECORDED_REQUESTS: dict[str, str] = {
    "pydantic-ai/tests/models/cassettes/test_bedrock/test_bedrock_model_other_parameters.yaml#0": "hand-edited cassette: the recorded body is not JSON (a '}' is missing), so no validator can read it",
}
"""Recorded request bodies botocore's ParamValidator refuses (or cannot read), with the reason."""

# Converse stopReason -> unified finish_reason (an unknown raw value fails the test: extend on purpose).
FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_use",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}
ERROR_CLASSES: dict[int, type[Exception]] = {
    400: syc.BadRequest,
    403: syc.AuthenticationFailed,
    404: syc.NotFound,
    429: syc.RateLimited,
    500: syc.ServerError,
    503: syc.ServerError,
}
_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.")


# --------------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Item:
    """One recorded Bedrock interaction."""

    id: str
    source: str
    vendor: str
    operation: str
    """``converse``, ``converse-stream``, ``invoke``, ``count-tokens`` or ``rerank``."""
    status: int
    body: bytes
    model_id: str
    request: dict[str, Any] | None = None
    request_text: str | None = None
    path: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        return self.operation == "converse-stream" and self.ok

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


def _vendor(model_id: str) -> str:
    mid = model_id
    for prefix in _REGION_PREFIXES:
        mid = mid.removeprefix(prefix)
    if mid.startswith("arn:"):
        return "arn"
    return mid.split(".", 1)[0] if "." in mid else "unknown"


def _operation(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _model_of(path: str) -> str:
    return unquote(path.split("/model/", 1)[1].rsplit("/", 1)[0])


def _load_sycophant() -> list[Item]:
    root = CONFORMANCE_DIR / "sycophant" / "priv" / "fixtures" / "recordings" / "amazon_bedrock"
    out = []
    for path in sorted(root.rglob("*.json")):
        rec = json.loads(path.read_bytes())
        req, resp = rec["request"], rec["response"]
        url_path = urlsplit(req["url"]).path
        raw = resp["body"]
        body = base64.b64decode(raw) if isinstance(raw, str) else json.dumps(raw).encode()
        model = _model_of(url_path)
        headers = {k.lower(): v for k, v in resp.get("headers") or []}
        out.append(
            Item(
                f"sycophant/{path.relative_to(root).as_posix()}",
                "sycophant",
                _vendor(model),
                _operation(url_path),
                int(resp["status"]),
                body,
                model,
                req.get("body"),
                None,
                url_path,
                headers,
            )
        )
    return out


def _pydantic_request(req: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    raw = req.get("parsed_body") or req.get("body")
    if isinstance(raw, dict):
        return raw, None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        return json.loads(text), text
    except ValueError:
        return None, text


def _load_pydantic_ai() -> list[Item]:
    root = CONFORMANCE_DIR / "pydantic-ai"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    rows = [json.loads(line) for line in (root / "INDEX.jsonl").read_text().splitlines() if line]
    cassettes: dict[str, Any] = {}
    out = []
    for row in rows:
        if not row["host"].startswith("bedrock-runtime."):
            continue
        if row["file"] not in cassettes:
            cassettes[row["file"]] = yaml.load((root / row["file"]).read_text(), Loader=loader)
        it = cassettes[row["file"]]["interactions"][row["interaction"]]
        req, resp = it["request"], it["response"]
        if "parsed_body" in resp:
            body = json.dumps(resp["parsed_body"]).encode()
        else:
            s = resp["body"]["string"]
            body = s if isinstance(s, bytes) else s.encode()
        url_path = urlsplit(row["uri"]).path
        model = _model_of(url_path)
        request, text = _pydantic_request(req)
        headers = {
            k.lower(): ", ".join(map(str, v)) if isinstance(v, list) else str(v)
            for k, v in (resp.get("headers") or {}).items()
        }
        out.append(
            Item(
                f"pydantic-ai/{row['file']}#{row['interaction']}",
                "pydantic-ai",
                _vendor(model),
                _operation(url_path),
                int(resp["status"]["code"]),
                body,
                model,
                request,
                text,
                url_path,
                headers,
            )
        )
    return out


def _load_vercel_ai() -> list[Item]:
    root = CONFORMANCE_DIR / "vercel-ai"
    rows = [json.loads(line) for line in (root / "INDEX.jsonl").read_text().splitlines() if line]
    out = []
    for row in rows:
        if row["package"] != "amazon-bedrock":
            continue
        raw = (root / row["file"]).read_bytes()
        op = {"bedrock.converse": "converse", "bedrock.converse_stream": "converse-stream", "bedrock.rerank": "rerank"}[
            row["api"]
        ]
        if op == "converse-stream":
            lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
            raw = b"".join(frame(*next(iter(obj.items()))) for obj in lines)
        out.append(
            Item(
                f"vercel-ai/{row['file']}",
                "vercel-ai",
                "anthropic",
                op,
                200,
                raw,
                "anthropic.claude-3-5-sonnet-20241022-v2:0",
            )
        )
    return out


@functools.cache
def corpus() -> tuple[Item, ...]:
    return (*_load_sycophant(), *_load_pydantic_ai(), *_load_vercel_ai())


ALL = corpus()
CONVERSE = [it for it in ALL if it.operation in ("converse", "converse-stream")]
BODIES = [it for it in CONVERSE if it.ok and not it.streamed]
STREAMS = [it for it in CONVERSE if it.streamed]
ERRORS = [it for it in ALL if not it.ok]
EMBEDS = [it for it in ALL if it.operation == "invoke"]
OTHER = [it for it in ALL if it.operation not in ("converse", "converse-stream", "invoke")]
REQUESTS: list[Item] = [it for it in CONVERSE if it.request is not None or it.request_text is not None]


def _where(item: Item) -> tuple[str, str, str, bool]:
    return item.id, item.source, item.vendor, item.streamed


def _short(item: Item) -> str:
    return item.id


# --------------------------------------------------------------------------------------------------
# Reference walk (independent of the library)
# --------------------------------------------------------------------------------------------------


@dataclass
class Expected:
    text: str = ""
    reasoning: str = ""
    signatures: list[str] = field(default_factory=list)
    redacted: int = 0
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stop: str | None = None
    stopped: bool = False
    usage: dict[str, Any] | None = None
    exception: str | None = None
    metadata_after_stop: bool = False


def _args(raw: str) -> dict[str, Any]:
    value = json.loads(raw) if raw.strip() else {}
    return value if isinstance(value, dict) else {"value": value}


def walk_body(body: dict[str, Any]) -> Expected:
    exp = Expected(stop=body.get("stopReason"), stopped=True, usage=body.get("usage"))
    for block in body["output"]["message"]["content"]:
        if "text" in block:
            exp.text += block["text"]
        elif "citationsContent" in block:
            exp.text += "".join(c.get("text", "") for c in block["citationsContent"].get("content", []))
        elif "toolUse" in block and block["toolUse"].get("type") != "server_tool_use":
            exp.tool_calls.append((block["toolUse"]["name"], block["toolUse"].get("input") or {}))
        elif "reasoningContent" in block:
            rc = block["reasoningContent"]
            if "reasoningText" in rc:
                exp.reasoning += rc["reasoningText"]["text"]
                if rc["reasoningText"].get("signature"):
                    exp.signatures.append(rc["reasoningText"]["signature"])
            elif "redactedContent" in rc:
                exp.redacted += 1
    return exp


def walk_stream(body: bytes) -> Expected:
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(body)
    exp = Expected()
    blocks: dict[int, dict[str, Any]] = {}
    for message in buffer:
        headers = message.headers
        payload = json.loads(message.payload) if message.payload else {}
        if headers.get(":message-type") == "exception":
            exp.exception = headers.get(":exception-type")
            break
        kind = headers.get(":event-type")
        index = int(payload.get("contentBlockIndex") or 0)
        if kind == "contentBlockStart":
            use = payload["start"].get("toolUse")
            server = "toolResult" in payload["start"] or (use or {}).get("type") == "server_tool_use"
            blocks[index] = {
                "kind": "server" if server else "tool" if use else None,
                "name": (use or {}).get("name", ""),
                "args": "",
                "sig": "",
            }
        elif kind == "contentBlockDelta":
            b = blocks.setdefault(index, {"kind": None, "name": "", "args": "", "sig": ""})
            delta = payload["delta"]
            if b["kind"] == "server":
                continue
            if "text" in delta:
                exp.text += delta["text"]
            elif "toolUse" in delta:
                b["args"] += delta["toolUse"].get("input", "")
            elif "reasoningContent" in delta:
                rc = delta["reasoningContent"]
                exp.reasoning += rc.get("text", "")
                b["sig"] += rc.get("signature", "")
                b["redacted"] = b.get("redacted") or "redactedContent" in rc
        elif kind == "messageStop":
            exp.stop, exp.stopped = payload.get("stopReason"), True
        elif kind == "metadata":
            exp.usage = payload.get("usage")
            exp.metadata_after_stop = exp.stopped
    for index in sorted(blocks):
        b = blocks[index]
        if b["kind"] == "tool":
            exp.tool_calls.append((b["name"], _args(b["args"])))
        if b["sig"]:
            exp.signatures.append(b["sig"])
        exp.redacted += bool(b.get("redacted"))
    return exp


@functools.cache
def expected(item: Item) -> Expected:
    return walk_stream(item.body) if item.streamed else walk_body(item.json())


def expected_finish(exp: Expected) -> str:
    if exp.exception or not exp.stopped:
        return "error"
    assert exp.stop in FINISH, f"unmapped stopReason {exp.stop!r}"
    reason = FINISH[exp.stop]
    return "tool_use" if reason == "stop" and exp.tool_calls else reason


def _usage(resp: Response) -> tuple[int, int, int, int]:
    u = resp.usage
    return u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens


def check_response(item: Item, resp: Response) -> None:
    exp = expected(item)
    assert resp.text == exp.text
    assert resp.reasoning == exp.reasoning
    thinking = [p for p in resp.parts if isinstance(p, ThinkingPart)]
    assert [t.signature for t in thinking if not t.redacted and t.signature] == exp.signatures
    assert sum(t.redacted for t in thinking) == exp.redacted
    assert [(c.name, dict(c.arguments)) for c in resp.tool_calls] == exp.tool_calls
    for call in resp.tool_calls:
        assert call.id
        assert json.loads(call.arguments_json) == dict(call.arguments)
    assert resp.finish_reason == expected_finish(exp)
    if not exp.exception and exp.stopped:
        assert resp.provider_finish_reason == exp.stop
    u = exp.usage
    if u:
        assert _usage(resp) == (
            u["inputTokens"],
            u["outputTokens"],
            u.get("cacheReadInputTokens", u.get("cacheReadInputTokenCount", 0)),
            u.get("cacheWriteInputTokens", u.get("cacheWriteInputTokenCount", 0)),
        )
        assert resp.usage.total_tokens == u["totalTokens"], "total must equal Bedrock's totalTokens"
    else:
        assert resp.usage.total_tokens == 0


# --------------------------------------------------------------------------------------------------
# Stream driving
# --------------------------------------------------------------------------------------------------


def decode_stream(chunks: Sequence[bytes]) -> tuple[list[StreamEvent], Response]:
    """Feed chunks through EventStreamDecoder + decode_stream_chunk, as the stream core does (pure)."""
    proto = BedrockConverse()
    state = proto.init_stream()
    decoder = EventStreamDecoder()
    events: list[StreamEvent] = []

    def run(frames: Sequence[Any]) -> StreamResult | None:
        nonlocal state
        for fr in frames:
            result = proto.decode_stream_chunk(state, fr)
            events.extend(result.events)
            if not isinstance(result, StreamContinue):
                return result
            state = result.state
        return None

    final: StreamResult | None = None
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
    assert events[-1].type == "error"
    assert events[-1].error is final.error
    resp = events[-1].response
    assert resp is not None
    return events, resp


_KINDS = {"text": TextPart, "thinking": ThinkingPart, "toolcall": ToolCall}


def check_events(item: Item, events: list[StreamEvent], resp: Response) -> None:
    exp = expected(item)
    assert events[0].type == "start"
    assert [e.type for e in events].count("start") == 1
    assert [e.type for e in events if e.type in ("done", "error")] == [events[-1].type]
    assert all(e.partial is events[0].partial for e in events)
    open_blocks: dict[int, str] = {}
    for e in events[1:-1]:
        kind, _, phase = e.type.rpartition("_")
        assert kind in _KINDS
        if phase == "start":
            assert e.content_index == len(open_blocks)
            open_blocks[e.content_index] = kind
        else:
            assert open_blocks.get(e.content_index) == kind, e
            if phase == "end":
                open_blocks[e.content_index] = ""
                assert isinstance(resp.parts[e.content_index], _KINDS[kind])
    assert all(v == "" for v in open_blocks.values())
    assert "".join(e.delta for e in events if e.type == "text_delta") == exp.text
    assert "".join(e.delta for e in events if e.type == "thinking_delta") == exp.reasoning
    ended = [e.tool_call for e in events if e.type == "toolcall_end"]
    assert [(c.name, dict(c.arguments)) for c in ended if c] == exp.tool_calls
    last = events[-1]
    assert last.response is resp
    assert last.type == ("error" if expected_finish(exp) == "error" else "done")
    check_response(item, resp)


def random_cuts(body: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed * 1_000_003 + zlib.crc32(body))
    cuts = sorted(set(rng.sample(range(1, len(body)), min(max(1, len(body) // 40), len(body) - 1))))
    bounds = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def _shape(events: list[StreamEvent]) -> list[tuple[str, int, str]]:
    return [(e.type, e.content_index, e.delta) for e in events]


# --------------------------------------------------------------------------------------------------
# 1. decode
# --------------------------------------------------------------------------------------------------


def test_corpus_is_complete() -> None:
    """Every Bedrock recording is here: 21 sycophant, 188 pydantic-ai, 24 vercel-ai."""
    counts = {s: sum(1 for it in ALL if it.source == s) for s in ("sycophant", "pydantic-ai", "vercel-ai")}
    assert counts == {"sycophant": 21, "pydantic-ai": 188, "vercel-ai": 24}
    assert len(STREAMS) == 25
    assert len(ERRORS) == 10


@pytest.mark.parametrize("item", BODIES, ids=_short)
def test_decode_body(item: Item, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "decode", _where(item), "body"):
        resp = BedrockConverse().decode_response(item.json())
        check_response(item, resp)
        assert resp.raw == item.json()


def _variants() -> Iterator[Any]:
    for item in STREAMS:
        for name in ("whole", *(f"split-seed{s}" for s in SPLIT_SEEDS), "bytes1"):
            yield pytest.param(item, name, id=f"{item.id}[{name}]")


@pytest.mark.parametrize(("item", "variant"), list(_variants()))
def test_decode_stream(item: Item, variant: str, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "decode", _where(item), variant):
        body = item.body
        if variant == "whole":
            chunks = [body]
        elif variant == "bytes1":
            chunks = [body[i : i + 1] for i in range(len(body))]
        else:
            chunks = random_cuts(body, int(variant.removeprefix("split-seed")))
        assert b"".join(chunks) == body
        events, resp = decode_stream(chunks)
        check_events(item, events, resp)
        if variant != "whole":
            assert _shape(events) == _shape(decode_stream([body])[0]), "events must not depend on the cuts"


def test_usage_after_message_stop_is_read() -> None:
    """DESIGN trap: ``metadata`` (usage) comes after ``messageStop``: decoding must go on."""
    late = [it for it in STREAMS if expected(it).metadata_after_stop]
    assert len(late) >= 12
    for item in late:
        _, resp = decode_stream([item.body])
        assert resp.usage.total_tokens == expected(item).usage["totalTokens"] > 0, item.id  # type: ignore[index]


def test_finish_table_covers_the_corpus() -> None:
    seen = {expected(it).stop for it in BODIES + STREAMS}
    assert seen <= set(FINISH) | {None}
    assert {"end_turn", "tool_use", "max_tokens"} <= seen


# --------------------------------------------------------------------------------------------------
# 2. error mapping
# --------------------------------------------------------------------------------------------------


def _call(model_id: str, protocol: Any) -> Call:
    info = ModelInfo(provider="amazon-bedrock", id=model_id, api="bedrock_converse")
    return Call.resolved(info, protocol)


@pytest.mark.parametrize("item", ERRORS, ids=_short)
def test_error_mapping(item: Item, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "error", _where(item), str(item.status)):
        err = error_from_response(_call(item.model_id, BedrockConverse()), item.status, item.headers, item.body)
        assert type(err) is ERROR_CLASSES[item.status]
        assert err.status_code == item.status
        assert err.message == item.json()["message"]
        assert err.body == item.json()
        assert (err.provider, err.model) == ("amazon-bedrock", item.model_id)


# --------------------------------------------------------------------------------------------------
# 3. end to end
# --------------------------------------------------------------------------------------------------


def _sample(items: Sequence[Item], n: int) -> list[Item]:
    keep = [it for it in items if it.source != "pydantic-ai"]
    rest = sorted((it for it in items if it.source == "pydantic-ai"), key=lambda it: zlib.crc32(it.id.encode()))
    return keep + rest[: max(0, n - len(keep))]


Served = tuple[ScriptedServer, list[Reply]]


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    current: list[Reply] = []
    with ScriptedServer(handler=lambda _rec: current[0]) as srv:
        yield srv, current


def _configure(url: str) -> None:
    syc.configure(
        providers={"bedrock-replay": dict(CREDENTIALS)},
        custom_providers={
            "bedrock-replay": {
                "base_url": url,
                "api": PROTOCOL,
                "auth_strategy": "bedrock",
                "embed_api": EMBED_PROTOCOL,
            }
        },
    )


@pytest.mark.parametrize("item", _sample(BODIES, E2E_SAMPLE) + STREAMS, ids=_short)
def test_end_to_end(item: Item, server: Served, conformance_record: Any) -> None:
    srv, current = server
    with conformance_record(PROTOCOL, "e2e", _where(item), "public-api"):
        if item.streamed:
            current[:] = [Reply(200, {"content-type": "application/vnd.amazon.eventstream"}, random_cuts(item.body, 5))]
        else:
            current[:] = [Reply.raw(item.body)]
        _configure(srv.url)
        try:
            spec = f"bedrock-replay:{item.model_id}"
            if item.streamed:
                stream = syc.stream_text(spec, "Replay.", max_tokens=256)
                events = list(stream)
                resp = stream.response()
                check_events(item, events, resp)
            else:
                resp = syc.generate_text(spec, "Replay.", max_tokens=256)
                check_response(item, resp)
            sent = srv.requests[-1]
            if item.path is not None:
                assert sent.path == item.path
            assert sent.path.endswith("/converse-stream" if item.streamed else "/converse")
            assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDCONTRACTEXAMPLE/")
            validate_request(sent.json, item.model_id, item.streamed)
        finally:
            syc.configure(reset=True)
            syc.close()


@pytest.mark.parametrize("item", EMBEDS, ids=_short)
def test_embed_end_to_end(item: Item, server: Served, conformance_record: Any) -> None:
    srv, current = server
    with conformance_record(EMBED_PROTOCOL, "e2e", _where(item), "public-api"):
        assert item.request is not None
        current[:] = [Reply.raw(item.body)]
        _configure(srv.url)
        try:
            params: dict[str, Any] = {"input_type": item.request["input_type"], "batch_size": 96}
            if "output_dimension" in item.request:
                params["dimensions"] = item.request["output_dimension"]
            emb = syc.embed(f"bedrock-replay:{item.model_id}", item.request["texts"], **params)
            recorded = item.json()["embeddings"]["float"]
            assert emb.vectors == recorded
            assert len(emb.vectors) == len(item.request["texts"])
            sent = srv.requests[-1]
            assert sent.path == item.path
            assert sent.json["texts"] == item.request["texts"]
        finally:
            syc.configure(reset=True)
            syc.close()


keep(OTHER, PROTOCOL, "decode", _where, lambda it: ("a call this library does not make", it.operation))


# --------------------------------------------------------------------------------------------------
# 4. request encoding
# --------------------------------------------------------------------------------------------------


class Unsupported(Exception):
    """The recorded request uses something the public types cannot express."""


_DOC_MEDIA = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "txt": "text/plain",
    "md": "text/markdown",
}


def _media_part(block: dict[str, Any]) -> Part:
    if "image" in block:
        img = block["image"]
        source, media = img["source"], f"image/{img['format']}"
        if "bytes" in source:
            return ImagePart(base64.b64decode(source["bytes"]), media_type=media)
        if "s3Location" in source and set(source["s3Location"]) == {"uri"}:
            return ImagePart(url=source["s3Location"]["uri"], media_type=media)
    if "document" in block:
        doc = block["document"]
        source = doc["source"]
        if set(doc) - {"format", "name", "source"}:
            raise Unsupported("document citations or context")
        media = _DOC_MEDIA[doc["format"]]
        if "bytes" in source:
            return DocumentPart(base64.b64decode(source["bytes"]), media_type=media, name=doc["name"])
        if "s3Location" in source and set(source["s3Location"]) == {"uri"}:
            return DocumentPart(url=source["s3Location"]["uri"], media_type=media, name=doc["name"])
    raise Unsupported(f"{'/'.join(sorted(block))} content (no such part type)")


def _user_turn(blocks: list[dict[str, Any]]) -> list[Message]:
    """Tool results first, then user messages; a cache point ends a message (the encoder merges the turn)."""
    n = 0
    while n < len(blocks) and "toolResult" in blocks[n]:
        n += 1
    if any("toolResult" in b for b in blocks[n:]):
        raise Unsupported("tool results after other content in a user turn")
    out: list[Message] = []
    for r in (b["toolResult"] for b in blocks[:n]):
        if set(r) - {"toolUseId", "content", "status"}:
            raise Unsupported("toolResult fields beyond id, content and status")
        parts = [TextPart(c["text"]) if "text" in c else _json_unsupported(c) for c in r["content"]]
        out.append(Message.tool_result(r["toolUseId"], parts, is_error=r.get("status") == "error"))
    segment: list[Part] = []
    for b in blocks[n:]:
        if "cachePoint" not in b:
            segment.append(TextPart(b["text"]) if "text" in b else _media_part(b))
        elif segment:
            out.append(Message.user(segment, cache=True))
            segment = []
        elif out and out[-1].role == "tool_result" and not out[-1].cache:
            last = out[-1]
            out[-1] = Message("tool_result", last.content, last.tool_call_id, last.name, last.is_error, cache=True)
        else:
            raise Unsupported("a cache point that follows no content")
    if segment:
        out.append(Message.user(segment))
    return out


def _json_unsupported(block: dict[str, Any]) -> Part:
    if "json" in block:
        raise Unsupported("a json tool result")
    return _media_part(block)


def _assistant_turn(blocks: list[dict[str, Any]]) -> Message:
    cache = bool(blocks) and "cachePoint" in blocks[-1]
    parts: list[Part] = []
    for b in blocks[:-1] if cache else blocks:
        if "text" in b:
            parts.append(TextPart(b["text"]))
        elif "toolUse" in b and set(b["toolUse"]) == {"toolUseId", "name", "input"}:
            u = b["toolUse"]
            parts.append(ToolCall(u["toolUseId"], u["name"], u["input"], json.dumps(u["input"])))
        elif "reasoningContent" in b and "reasoningText" in b["reasoningContent"]:
            rt = b["reasoningContent"]["reasoningText"]
            parts.append(ThinkingPart(rt["text"], rt.get("signature"), provider="amazon-bedrock"))
        elif "reasoningContent" in b and "redactedContent" in b["reasoningContent"]:
            parts.append(
                ThinkingPart("", b["reasoningContent"]["redactedContent"], redacted=True, provider="amazon-bedrock")
            )
        else:
            raise Unsupported(
                "a server-side tool call replayed in an assistant turn"
                if "toolUse" in b
                else f"{'/'.join(sorted(b))} in an assistant turn"
            )
    return Message("assistant", tuple(parts), cache=cache)


def _system(blocks: list[dict[str, Any]]) -> list[Message]:
    out: list[Message] = []
    for b in blocks:
        if "text" in b:
            out.append(Message.system(b["text"]))
        elif "cachePoint" in b and out and not out[-1].cache and b["cachePoint"] == {"type": "default"}:
            out[-1] = Message.system(out[-1].text, cache=True)
        else:
            raise Unsupported(f"{'/'.join(sorted(b))} in the system blocks")
    return out


def _tools(config: dict[str, Any], params: dict[str, Any]) -> list[Tool]:
    tools = []
    for t in config.get("tools", []):
        if set(t) != {"toolSpec"}:
            raise Unsupported("a cache point in the tool list" if "cachePoint" in t else "a Bedrock system tool")
        spec = t["toolSpec"]
        tools.append(
            Tool(
                spec["name"],
                spec.get("description", ""),
                spec["inputSchema"]["json"],
                None,
                True if spec.get("strict") else None,
            )
        )
        if spec.get("strict") is False:
            raise Unsupported("strict: false (the library leaves it out)")
    choice = config.get("toolChoice")
    if choice:
        params["tool_choice"] = {"auto": "auto", "any": "required"}.get(next(iter(choice))) or choice["tool"]["name"]
    return tools


_AMRF_PARAMS = {"reasoning_effort": "reasoning_effort"}


def _additional(fields: dict[str, Any], model_id: str, params: dict[str, Any]) -> None:
    rest = dict(fields)
    thinking = rest.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled" and set(thinking) == {"type", "budget_tokens"}:
        params["reasoning_budget"] = rest.pop("thinking")["budget_tokens"]
    if "top_k" in rest and "nova" not in model_id:
        params["top_k"] = rest.pop("top_k")
    if rest.get("inferenceConfig", {}).keys() == {"topK"} and "nova" in model_id:
        params["top_k"] = rest.pop("inferenceConfig")["topK"]
    if "reasoning_effort" in rest and "gpt-oss" in model_id:
        params["reasoning_effort"] = rest.pop("reasoning_effort")
    if rest:
        params["additional_model_request_fields"] = rest


def rebuild(body: dict[str, Any], model_id: str, stream: bool) -> Request:
    """The library request that should encode to ``body`` (raises ``Unsupported`` when there is none)."""
    known = {
        "messages",
        "system",
        "inferenceConfig",
        "toolConfig",
        "additionalModelRequestFields",
        "outputConfig",
        "guardrailConfig",
        "performanceConfig",
        "serviceTier",
        "requestMetadata",
        "additionalModelResponseFieldPaths",
        "promptVariables",
    }
    if set(body) - known:
        raise Unsupported(f"top-level {', '.join(sorted(set(body) - known))}")
    messages = _system(body.get("system", []))
    for m in body["messages"]:
        if m["role"] == "user":
            messages += _user_turn(m["content"])
        else:
            messages.append(_assistant_turn(m["content"]))
    params: dict[str, Any] = {}
    inference = body.get("inferenceConfig", {})
    for src, dst in (
        ("maxTokens", "max_tokens"),
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("stopSequences", "stop"),
    ):
        if src in inference:
            params[dst] = inference[src]
    _additional(body.get("additionalModelRequestFields", {}), model_id, params)
    tools = _tools(body.get("toolConfig", {}), params)
    for src, dst in (
        ("guardrailConfig", "guardrail_config"),
        ("performanceConfig", "performance_config"),
        ("requestMetadata", "request_metadata"),
        ("promptVariables", "prompt_variables"),
        ("additionalModelResponseFieldPaths", "additional_model_response_field_paths"),
    ):
        if src in body:
            params[dst] = body[src]
    if "serviceTier" in body:
        params["service_tier"] = body["serviceTier"]["type"]
    schema, name = None, "response"
    if "outputConfig" in body:
        out = body["outputConfig"]
        if set(out) != {"textFormat"}:
            raise Unsupported("outputConfig.effort")
        spec = out["textFormat"]["structure"]["jsonSchema"]
        schema, name = json.loads(spec["schema"]), spec.get("name", "response")
        if spec.get("description"):  # a pydantic model's docstring: the schema's own description
            schema = {**schema, "description": spec["description"]}
        params["structured_output"] = "native"
    checked, dropped = validate_params(BedrockConverse.param_schema(), params)
    assert not dropped
    info = ModelInfo(provider="amazon-bedrock", id=model_id, api=PROTOCOL)
    return Request(info, messages, checked, tools, stream, schema, name)


def normalise_request(body: dict[str, Any], recorded: dict[str, Any]) -> dict[str, Any]:
    """What does not change the request's meaning, made equal.

    * empty ``system``, ``inferenceConfig`` and ``additionalModelRequestFields`` are left out;
    * ``toolResult.status: "success"`` (the default) is left out;
    * the ``outputConfig`` JSON schema is a string: compared parsed, with its top-level ``description``
      moved to ``jsonSchema.description`` (the library sends it in both places, pydantic-ai moves it);
    * with Claude thinking the library raises ``maxTokens`` above the budget when the caller gave
      none (the model requires ``max_tokens > budget_tokens``): that added value is dropped when the
      recorded request had no ``maxTokens``.
    """
    out: dict[str, Any] = json.loads(json.dumps(body))
    for key in ("system", "inferenceConfig", "additionalModelRequestFields"):
        if out.get(key) in ([], {}):
            del out[key]
    for m in out.get("messages", []):
        for b in m["content"]:
            if b.get("toolResult", {}).get("status") == "success":
                del b["toolResult"]["status"]
    spec = out.get("outputConfig", {}).get("textFormat", {}).get("structure", {}).get("jsonSchema")
    if spec:
        spec["schema"] = json.loads(spec["schema"])
        if "description" in spec["schema"]:
            spec.setdefault("description", spec["schema"].pop("description"))
    thinking = out.get("additionalModelRequestFields", {}).get("thinking", {})
    if thinking.get("type") == "enabled" and "maxTokens" not in recorded.get("inferenceConfig", {}):
        out.get("inferenceConfig", {}).pop("maxTokens", None)
        if out.get("inferenceConfig") == {}:
            del out["inferenceConfig"]
    return out


def _request_gap(item: Item) -> tuple[str, str] | None:
    """Why the recorded request is not compared (``(kind, detail)``), or None."""
    if item.request is None:
        # A body that is not JSON and not listed is kept: the tests then fail on it.
        listed = KNOWN_BAD_RECORDED_REQUESTS.get(item.id)
        return ("the recorded request body is not JSON", listed) if listed else None
    try:
        rebuild(item.request, item.model_id, item.operation == "converse-stream")
    except Unsupported as exc:
        return UNEXPRESSIBLE, str(exc)
    return None


@pytest.mark.parametrize("item", keep(REQUESTS, PROTOCOL, "request", _where, _request_gap), ids=_short)
def test_request_encoding(item: Item, conformance_record: Any) -> None:
    with conformance_record(PROTOCOL, "request", _where(item), "golden"):
        assert item.request is not None, "a body that is not JSON must be in KNOWN_BAD_RECORDED_REQUESTS"
        stream = item.operation == "converse-stream"
        req = rebuild(item.request, item.model_id, stream)
        body = BedrockConverse().encode_request(req)
        assert not validation_errors(body, item.model_id, stream), KNOWN_FALSE_REJECTIONS
        assert normalise_request(body, item.request) == normalise_request(item.request, item.request)


@pytest.mark.parametrize("item", [it for it in REQUESTS if it.request is not None], ids=_short)
def test_recorded_requests_pass_the_validator(item: Item, conformance_record: Any) -> None:
    """Every recorded request botocore can read passes its validator, rebuilt or not (or is a listed exception)."""
    with conformance_record(PROTOCOL, "request", _where(item), "validator"):
        assert item.request is not None
        errors = validation_errors(item.request, item.model_id, item.operation == "converse-stream")
        assert not errors or item.id in KNOWN_BAD_RECORDED_REQUESTS, errors


def _embed_gap(item: Item) -> tuple[str, str] | None:
    types = (item.request or {}).get("embedding_types")
    if types != ["float"]:
        return UNEXPRESSIBLE, f"embedding_types {types} (the library always asks for float vectors)"
    return None


@pytest.mark.parametrize(
    "item", keep([it for it in EMBEDS if it.request], EMBED_PROTOCOL, "request", _where, _embed_gap), ids=_short
)
def test_embed_request_encoding(item: Item, conformance_record: Any) -> None:
    with conformance_record(EMBED_PROTOCOL, "request", _where(item), "golden"):
        rec = item.request
        assert rec is not None
        params: dict[str, Any] = {"input_type": rec["input_type"]}
        if "output_dimension" in rec:
            params["dimensions"] = rec["output_dimension"]
        info = ModelInfo(provider="amazon-bedrock", id=item.model_id, api=PROTOCOL)
        body = BedrockEmbed().encode_request(EmbeddingRequest(info, rec["texts"], params))
        assert body == rec


@pytest.mark.parametrize("item", EMBEDS, ids=_short)
def test_decode_embedding(item: Item, conformance_record: Any) -> None:
    with conformance_record(EMBED_PROTOCOL, "decode", _where(item), "body"):
        emb = BedrockEmbed().decode_response(item.json())
        assert emb.vectors == item.json()["embeddings"]["float"]
        assert all(isinstance(x, float) for v in emb.vectors for x in v)


def test_request_sample_is_large_enough() -> None:
    """Most recorded requests must be rebuilt and compared, not skipped."""
    rebuilt = 0
    for item in REQUESTS:
        if item.request is None:
            continue
        try:
            rebuild(item.request, item.model_id, item.operation == "converse-stream")
        except Unsupported:
            continue
        rebuilt += 1
    assert rebuilt >= 150, rebuilt
