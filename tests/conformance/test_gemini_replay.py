"""Replay every recorded Gemini API interaction in ``../shared/conformance`` through ``google_gemini`` / ``google_embed``.

Sources (third-party recordings of real traffic; see each folder's README):

* ``sycophant``: the Elixir Sycophant's Google recordings (request as encoded + raw response, JSON or SSE text).
* ``pydantic-ai``: VCR cassettes, selected through ``INDEX.jsonl`` by host ``generativelanguage.googleapis.com``
  (``generateContent``, ``streamGenerateContent?alt=sse``, ``batchEmbedContents``; the calls this library
  does not make are left out at collection and listed in ``docs/conformance.md``). Gemini's OpenAI-compatible endpoint belongs to
  the ``openai_chat`` replay.
* ``vercel-ai``: ``packages/google*/src/__fixtures__``: ``*.chunks.txt`` (one ``GenerateContentResponse`` per
  line, re-framed here as SSE) and ``*.json`` bodies (the 429 body gets its status inferred).

Checks, each recorded in the conformance summary:

1. **decode**: non-streamed bodies through ``decode_response``; streams through ``SSEDecoder`` +
   ``decode_stream_chunk`` whole, cut at random byte boundaries (three seeds), re-framed with ``\\r\\n`` and cut
   between ``\\r`` and ``\\n``, cut inside every multi-byte UTF-8 character and, for a few, one byte at a time.
   Text, reasoning, tool calls, finish reason and usage must equal what :func:`reference_walk` (a small,
   independent reading of the raw JSON) finds; the unified events must be well formed. Embedding bodies go
   through ``GoogleEmbed.decode_response``.
2. **error**: non-2xx bodies through ``_pipeline.error_from_response`` (exception class by status, message).
3. **e2e**: a sample of bodies and streams served by a ``ScriptedServer`` and read with ``syc.generate_text``,
   ``syc.stream_text`` and ``syc.embed``; every body the library sent is parsed by the protos.
4. **request**: recorded requests that the public types can express are rebuilt (messages, tools, params,
   schema), encoded, parsed by the protos and compared with the recorded body after :func:`normalise_request`.

Usage reference: ``input = promptTokenCount - cachedContentTokenCount + toolUsePromptTokenCount``,
``output = candidatesTokenCount + thoughtsTokenCount``, ``cache_read = cachedContentTokenCount``, and the total
must equal Gemini's ``totalTokenCount``.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import random
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

import sycophant_py as syc
from sycophant_py._catalog import resolve_model
from sycophant_py._events import StreamEvent
from sycophant_py._exceptions import BadRequest, NotFound, ProviderError, RateLimited, ServerError
from sycophant_py._params import validate_params
from sycophant_py._pipeline import Call, error_from_response
from sycophant_py._sse import SSEDecoder
from sycophant_py._types import DocumentPart, ImagePart, Message, Part, Response, TextPart, ThinkingPart, Tool, ToolCall
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire._base import Request, StreamContinue, StreamResult
from sycophant_py.wire.google_embed import GoogleEmbed
from sycophant_py.wire.google_gemini import SKIP_SIGNATURE, GoogleGemini, GoogleGeminiParams, to_gemini_schema
from tests.contract.dialects.google_gemini import validate_gemini_request

from .corpus import CONFORMANCE_DIR
from .gaps import UNEXPRESSIBLE, keep

CHAT, EMBED = "google_gemini", "google_embed"
SPLIT_SEEDS = (0, 1, 2)
BYTE_AT_A_TIME = 4
E2E_SAMPLE = 12
HOST = "generativelanguage.googleapis.com"


# --------------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One recorded interaction with a Gemini endpoint."""

    id: str
    source: str
    kind: str
    """``generate``, ``stream``, ``embed`` or ``other`` (an endpoint this library does not call)."""
    status: int
    body: bytes
    request_body: dict[str, Any] | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def streamed(self) -> bool:
        return self.kind == "stream"

    @property
    def provider(self) -> str:
        return "vertex" if "vertex" in self.id else "google"

    @property
    def protocol(self) -> str:
        return EMBED if self.kind == "embed" else CHAT


def _kind_of(url: str) -> str:
    path = url.split("?", 1)[0]
    if path.endswith(":streamGenerateContent"):
        return "stream"
    if path.endswith(":generateContent"):
        return "generate"
    if path.endswith((":embedContent", ":batchEmbedContents")):
        return "embed"
    return "other"


def _load_sycophant() -> list[Item]:
    root = CONFORMANCE_DIR / "sycophant" / "priv" / "fixtures" / "recordings" / "google"
    out = []
    for path in sorted(root.rglob("*.json")):
        record = json.loads(path.read_bytes())
        req, resp = record["request"], record["response"]
        raw = resp["body"]
        body = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
        out.append(
            Item(
                f"sycophant/google/{path.relative_to(root).as_posix()}",
                "sycophant",
                _kind_of(req["url"]),
                int(resp["status"]),
                body,
                req.get("body"),
                req["url"],
            )
        )
    return out


def _load_pydantic_ai() -> list[Item]:
    root = CONFORMANCE_DIR / "pydantic-ai"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    rows = [json.loads(line) for line in (root / "INDEX.jsonl").read_text().splitlines() if line]
    cassettes: dict[str, Any] = {}
    out = []
    for row in rows:
        if row["host"] != HOST or row["api"] == "openai_compatible.chat_completions":
            continue
        if row["file"] not in cassettes:
            cassettes[row["file"]] = yaml.load((root / row["file"]).read_text(), Loader=loader)
        it = cassettes[row["file"]]["interactions"][row["interaction"]]
        req, resp = it["request"], it["response"]
        if "parsed_body" in resp:
            body = json.dumps(resp["parsed_body"]).encode()
        else:
            raw = resp["body"]["string"]
            body = raw if isinstance(raw, bytes) else raw.encode()
        request_body = req.get("parsed_body")
        if request_body is None and isinstance(req.get("body"), str):
            try:
                request_body = json.loads(req["body"])
            except ValueError:
                request_body = None
        headers = {
            k.lower(): ", ".join(map(str, v)) if isinstance(v, list) else str(v)
            for k, v in (resp.get("headers") or {}).items()
        }
        out.append(
            Item(
                f"pydantic-ai/{row['file']}#{row['interaction']}",
                "pydantic-ai",
                _kind_of(row["uri"]),
                int(resp["status"]["code"]),
                body,
                request_body if isinstance(request_body, dict) else None,
                row["uri"],
                headers,
            )
        )
    return out


def _load_vercel_ai() -> list[Item]:
    root = CONFORMANCE_DIR / "vercel-ai"
    out = []
    for path in sorted((root / "packages").glob("google*/src/__fixtures__/*")):
        rel = path.relative_to(root).as_posix()
        raw = path.read_bytes()
        if path.name.endswith(".chunks.txt"):
            lines = [line for line in raw.decode().splitlines() if line.strip()]
            body = "".join(f"data: {line}\n\n" for line in lines).encode()
            out.append(Item(f"vercel-ai/{rel}", "vercel-ai", "stream", 200, body, note="reframed_chunks"))
            continue
        data = json.loads(raw)
        if "predictions" in data:
            out.append(
                Item(
                    f"vercel-ai/{rel}",
                    "vercel-ai",
                    "other",
                    200,
                    raw,
                    note="Vertex AI :predict embedding format, not the Gemini API",
                )
            )
        elif "error" in data:
            out.append(
                Item(
                    f"vercel-ai/{rel}",
                    "vercel-ai",
                    "generate",
                    int(data["error"]["code"]),
                    raw,
                    note="status inferred from error.code",
                )
            )
        else:
            out.append(Item(f"vercel-ai/{rel}", "vercel-ai", "generate", 200, raw))
    return out


@functools.cache
def corpus() -> tuple[Item, ...]:
    return (*_load_sycophant(), *_load_pydantic_ai(), *_load_vercel_ai())


ALL = corpus()
OK = [it for it in ALL if it.ok and it.kind != "other"]
BODIES = [it for it in OK if it.kind == "generate"]
STREAMS = [it for it in OK if it.kind == "stream"]
EMBEDS = [it for it in OK if it.kind == "embed"]
ERRORS = [it for it in ALL if not it.ok]
OTHERS = [it for it in ALL if it.kind == "other"]


def test_corpus_shape() -> None:
    assert len(BODIES) >= 240
    assert len(STREAMS) >= 30
    assert len(EMBEDS) >= 14
    assert len(ERRORS) >= 3
    assert {it.source for it in STREAMS} == {"sycophant", "pydantic-ai", "vercel-ai"}


# --------------------------------------------------------------------------------------------------
# Reference walk (independent of the library)
# --------------------------------------------------------------------------------------------------


@dataclass
class Expected:
    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish: str | None = None
    block: str | None = None
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def _ref_set(obj: dict[str, Any], path: str, value: Any, append: bool) -> None:
    keys: list[Any] = [m.group(1) or m.group(3) or int(m.group(2)) for m in _TOKEN.finditer(path[1:])]
    node: Any = obj
    for key, nxt in zip(keys, [*keys[1:], None], strict=True):
        if isinstance(key, int):
            node.extend([None] * (key + 1 - len(node)))
        elif key not in node:
            node[key] = None
        if nxt is None:
            node[key] = node[key] + value if append and isinstance(node[key], str) else value
        else:
            if node[key] is None:
                node[key] = [] if isinstance(nxt, int) else {}
            node = node[key]


def reference_walk(chunks: Sequence[Mapping[str, Any]]) -> Expected:
    """What the raw chunks say: candidate 0's parts, the last finishReason and usage with counts."""
    exp = Expected()
    streaming: list[Any] | None = None  # [name, args] of a call whose arguments stream
    for chunk in chunks:
        if "error" in chunk:
            exp.error = chunk["error"]
            continue
        if chunk.get("usageMetadata", {}).get("promptTokenCount") is not None:
            exp.usage = chunk["usageMetadata"]
        exp.block = chunk.get("promptFeedback", {}).get("blockReason") or exp.block
        for cand in chunk.get("candidates") or []:
            if cand.get("index", 0) != 0:
                continue
            for part in (cand.get("content") or {}).get("parts") or []:
                fc = part.get("functionCall")
                if fc is not None:
                    if fc.get("name"):
                        if fc.get("willContinue") and "args" not in fc:
                            streaming = [fc["name"], {}]
                            exp.calls.append((streaming[0], streaming[1]))
                        else:
                            streaming = None
                            exp.calls.append((fc["name"], fc.get("args") or {}))
                    elif streaming is not None:
                        for pa in fc.get("partialArgs") or []:
                            value = next(
                                (pa[k] for k in ("stringValue", "numberValue", "boolValue", "nullValue") if k in pa),
                                None,
                            )
                            _ref_set(streaming[1], pa["jsonPath"], value, "stringValue" in pa)
                        if not fc.get("willContinue"):
                            streaming = None
                elif isinstance(part.get("text"), str):
                    if part.get("thought"):
                        exp.reasoning += part["text"]
                    else:
                        exp.text += part["text"]
            exp.finish = cand.get("finishReason") or exp.finish
    return exp


UNIFIED = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "BLOCKLIST": "content_filter",
    "SPII": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
}


def expected_finish(exp: Expected) -> str:
    if exp.finish is None and exp.block:
        return "content_filter"
    assert exp.finish is None or exp.finish in UNIFIED, f"unmapped finishReason {exp.finish!r}: extend UNIFIED"
    unified = UNIFIED.get(exp.finish or "STOP", "error")
    return "tool_use" if unified == "stop" and exp.calls else unified


def expected_usage(u: Mapping[str, Any] | None) -> dict[str, int]:
    u = u or {}
    prompt, cached = u.get("promptTokenCount", 0), u.get("cachedContentTokenCount", 0)
    thoughts = u.get("thoughtsTokenCount", 0)
    return {
        "input_tokens": prompt - cached + u.get("toolUsePromptTokenCount", 0),
        "output_tokens": u.get("candidatesTokenCount", 0) + thoughts,
        "cache_read_tokens": cached,
        "cache_write_tokens": 0,
        "reasoning_tokens": thoughts,
    }


def sse_payloads(body: bytes) -> list[dict[str, Any]]:
    text = body.decode().replace("\r\n", "\n")
    return [
        json.loads(line[5:]) for block in text.split("\n\n") for line in block.split("\n") if line.startswith("data:")
    ]


def chunks_of(item: Item) -> list[dict[str, Any]]:
    return sse_payloads(item.body) if item.streamed else [json.loads(item.body)]


def check_response(item: Item, resp: Response) -> None:
    exp = reference_walk(chunks_of(item))
    assert resp.text == exp.text
    assert resp.reasoning == exp.reasoning
    assert [(c.name, dict(c.arguments)) for c in resp.tool_calls] == exp.calls
    for c in resp.tool_calls:
        assert c.id
        assert json.loads(c.arguments_json) == dict(c.arguments)
    assert len({c.id for c in resp.tool_calls}) == len(resp.tool_calls)
    assert resp.finish_reason == expected_finish(exp)
    assert resp.provider_finish_reason == (exp.finish or exp.block)
    u = resp.usage
    got = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "reasoning_tokens": u.reasoning_tokens,
    }
    assert got == expected_usage(exp.usage)
    if exp.usage is not None and "totalTokenCount" in exp.usage:
        assert u.total_tokens == exp.usage["totalTokenCount"]


# --------------------------------------------------------------------------------------------------
# Stream driving and cuts
# --------------------------------------------------------------------------------------------------


def decode_stream(chunks: Sequence[bytes]) -> tuple[list[StreamEvent], Response]:
    proto = GoogleGemini()
    state = proto.init_stream()
    state.provider = "google"
    decoder = SSEDecoder()
    events: list[StreamEvent] = []

    def run(frames: Sequence[Any]) -> StreamResult | None:
        nonlocal state
        for frame in frames:
            result = proto.decode_stream_chunk(state, frame)
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
    terminal = events[-1]
    assert terminal.response is not None
    return events, terminal.response


_KIND = {"text": TextPart, "thinking": ThinkingPart, "toolcall": ToolCall}


def check_events(item: Item, events: list[StreamEvent], resp: Response) -> None:
    exp = reference_walk(chunks_of(item))
    assert events[0].type == "start"
    assert [e.type for e in events].count("start") == 1
    terminal = [e for e in events if e.type in ("done", "error")]
    assert len(terminal) == 1
    assert terminal[0] is events[-1]
    assert all(e.partial is events[0].partial for e in events)
    state: dict[int, str] = {}
    for e in events[1:-1]:
        kind, _, phase = e.type.rpartition("_")
        if phase == "start":
            assert e.content_index == len(state)
            state[e.content_index] = kind
        else:
            assert state.get(e.content_index) == kind, e
            if phase == "delta":
                assert e.delta
            else:
                state[e.content_index] = ""
                assert isinstance(resp.parts[e.content_index], _KIND[kind])
    assert all(v == "" for v in state.values())
    assert len(resp.parts) == len(state)
    assert "".join(e.delta for e in events if e.type == "text_delta") == exp.text
    assert "".join(e.delta for e in events if e.type == "thinking_delta") == exp.reasoning
    ended = [e.tool_call for e in events if e.type == "toolcall_end"]
    assert [(c.name, dict(c.arguments)) for c in ended if c] == exp.calls
    for i, c in enumerate(resp.tool_calls):
        raw = "".join(e.delta for e in events if e.type == "toolcall_delta" and e.content_index == resp.parts.index(c))
        assert json.loads(raw) == dict(c.arguments), f"call {i}: deltas do not concatenate to the arguments"
    unified = expected_finish(exp)
    assert (events[-1].type, events[-1].reason) == ("error" if unified == "error" else "done", unified)
    check_response(item, resp)


def random_cuts(body: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed * 1_000_003 + zlib.crc32(body))
    cuts = sorted(set(rng.sample(range(1, len(body)), min(max(1, len(body) // 40), len(body) - 1))))
    return _split_at(body, cuts)


def _split_at(body: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def crlf_cuts(body: bytes, seed: int) -> list[bytes]:
    crlf = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    rng = random.Random(seed + zlib.crc32(crlf))
    ends = [i + 1 for i in range(len(crlf) - 1) if crlf[i : i + 2] == b"\r\n"]
    return _split_at(crlf, sorted(rng.sample(ends, max(1, len(ends) // 2))))


def utf8_cuts(body: bytes) -> list[bytes] | None:
    cuts = [i for i in range(1, len(body)) if body[i] & 0xC0 == 0x80 and body[i - 1] & 0x80]
    return _split_at(body, cuts) if cuts else None


def _stream_variants() -> Iterator[Any]:
    small = {it.id for it in sorted(STREAMS, key=lambda it: zlib.crc32(it.id.encode()))[:BYTE_AT_A_TIME]}
    for item in STREAMS:
        names = ["whole", *(f"split-seed{s}" for s in SPLIT_SEEDS), "crlf-mid"]
        names += ["utf8-mid"] if utf8_cuts(item.body) is not None else []
        names += ["bytes1"] if item.id in small else []
        for name in names:
            yield pytest.param(item, name, id=f"{item.id}[{name}]")


# --------------------------------------------------------------------------------------------------
# 1. Decoding
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("item", BODIES, ids=lambda it: it.id)
def test_decode_body(item: Item, conformance_record: Any) -> None:
    with conformance_record(CHAT, "decode", (item.id, item.source, item.provider, False), "body"):
        resp = GoogleGemini().decode_response(json.loads(item.body))
        check_response(item, resp)
        assert resp.raw == json.loads(item.body)


@pytest.mark.parametrize(("item", "variant"), list(_stream_variants()))
def test_decode_stream(item: Item, variant: str, conformance_record: Any) -> None:
    with conformance_record(CHAT, "decode", (item.id, item.source, item.provider, True), variant):
        if variant == "whole":
            chunks = [item.body]
        elif variant.startswith("split-seed"):
            chunks = random_cuts(item.body, int(variant.removeprefix("split-seed")))
        elif variant == "crlf-mid":
            chunks = crlf_cuts(item.body, 3)
        elif variant == "utf8-mid":
            cut = utf8_cuts(item.body)
            assert cut is not None
            chunks = cut
        else:
            chunks = [item.body[i : i + 1] for i in range(len(item.body))]
        events, resp = decode_stream(chunks)
        check_events(item, events, resp)


@pytest.mark.parametrize("item", EMBEDS, ids=lambda it: it.id)
def test_decode_embedding(item: Item, conformance_record: Any) -> None:
    with conformance_record(EMBED, "decode", (item.id, item.source, item.provider, False), "body"):
        body = json.loads(item.body)
        emb = GoogleEmbed().decode_response(body)
        values = [e["values"] for e in body["embeddings"]] if "embeddings" in body else [body["embedding"]["values"]]
        assert emb.vectors == values
        assert emb.usage.input_tokens == body.get("usageMetadata", {}).get("promptTokenCount", 0)


def _endpoint(item: Item) -> str:
    path = (item.url or "").split("?", 1)[0]
    return next((name for name in ("countTokens", "cachedContents", "fileSearchStores") if name in path), path)


keep(
    OTHERS,
    CHAT,
    "decode",
    lambda it: (it.id, it.source, it.provider, False),
    lambda it: ("a call this library does not make", it.note or _endpoint(it)),
)


# --------------------------------------------------------------------------------------------------
# 2. Error mapping
# --------------------------------------------------------------------------------------------------


def _call(protocol: str) -> Call:
    call = Call(spec="google:gemini-2.5-flash")
    call.model = resolve_model(call.spec)
    call.protocol = GoogleEmbed() if protocol == EMBED else GoogleGemini()
    return call


def expected_error_class(status: int) -> type[ProviderError]:
    return {404: NotFound, 429: RateLimited}.get(status, ServerError if status >= 500 else BadRequest)


@pytest.mark.parametrize("item", ERRORS, ids=lambda it: it.id)
def test_error_mapping(item: Item, conformance_record: Any) -> None:
    with conformance_record(item.protocol, "error", (item.id, item.source, item.provider, False), str(item.status)):
        exc = error_from_response(_call(item.protocol), item.status, item.headers, item.body)
        assert type(exc) is expected_error_class(item.status), repr(exc)
        body = json.loads(item.body)
        assert exc.status_code == item.status
        assert exc.body == body
        assert body["error"]["message"] in str(exc)
        if isinstance(exc, RateLimited):
            # No Retry-After header: the wait comes from the body's google.rpc.RetryInfo, when it has one.
            delays = [
                float(d["retryDelay"].rstrip("s"))
                for d in body["error"].get("details", ())
                if d.get("@type", "").endswith("google.rpc.RetryInfo")
            ]
            assert exc.retry_after == (delays[0] if delays else None)


# --------------------------------------------------------------------------------------------------
# 3. End to end through the public API
# --------------------------------------------------------------------------------------------------


def _sample(items: Sequence[Item], n: int) -> list[Item]:
    return sorted(items, key=lambda it: zlib.crc32(it.id.encode()))[:n]


def _model_of(item: Item) -> str:
    match = re.search(r"/models/([^:/]+):", item.url or "")
    return match.group(1) if match else "gemini-2.5-flash"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ScriptedServer, list[Reply]]]:
    current: list[Reply] = []
    with ScriptedServer(handler=lambda _rec: current[0]) as srv:
        yield srv, current


@pytest.mark.parametrize(
    "item", _sample(BODIES, E2E_SAMPLE) + _sample(STREAMS, E2E_SAMPLE) + _sample(EMBEDS, 4), ids=lambda it: it.id
)
def test_end_to_end(item: Item, server: tuple[ScriptedServer, list[Reply]], conformance_record: Any) -> None:
    srv, current = server
    with conformance_record(item.protocol, "e2e", (item.id, item.source, item.provider, item.streamed), "public-api"):
        if item.streamed:
            current[:] = [Reply(200, {"content-type": "text/event-stream"}, random_cuts(item.body, 5))]
        else:
            current[:] = [Reply.raw(item.body)]
        syc.configure(
            custom_providers={"google": {"base_url": srv.url + "/v1beta"}},
            providers={"google": {"api_key": "test-key-0123456789"}},
        )
        try:
            spec = f"google:{_model_of(item)}"
            before = len(srv.requests)
            if item.kind == "embed":
                emb = syc.embed(spec, ["Replay."])
                assert len(emb.vectors) == 1
            elif item.streamed:
                stream = syc.stream_text(spec, [syc.Message.user("Replay.")])
                events = list(stream)
                check_events(item, events, stream.response())
            else:
                check_response(item, syc.generate_text(spec, [syc.Message.user("Replay.")]))
            (sent,) = srv.requests[before:]
            assert sent.headers["x-goog-api-key"] == "test-key-0123456789"
            method = {"embed": "embedContent", "stream": "streamGenerateContent?alt=sse"}.get(
                item.kind, "generateContent"
            )
            assert sent.path == f"/v1beta/models/{_model_of(item)}:{method}"
            validate_gemini_request(
                sent.json, "embed" if item.kind == "embed" else "generate", model=f"models/{_model_of(item)}"
            )
        finally:
            syc.configure(reset=True)
            syc.close()


# --------------------------------------------------------------------------------------------------
# 4. Request encoding golden tests
# --------------------------------------------------------------------------------------------------


class Unsupported(Exception):
    """The recorded request uses something the rebuild does not express with the public types."""


_RESULT_KEYS = ("result", "content", "return_value", "output")


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


_OPAQUE = {
    "args",
    "response",
    "properties",
    "parameters",
    "parametersJsonSchema",
    "responseSchema",
    "responseJsonSchema",
    "$defs",
    "definitions",
}


def camel_keys(node: Any) -> Any:
    """Proto3 JSON takes snake_case too: convert structural keys (never inside schemas or arguments)."""
    if isinstance(node, list):
        return [camel_keys(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        k = _camel(key)
        out[k] = value if k in _OPAQUE else camel_keys(value)
    return out


def _type_case(schema: Any, upper: bool) -> Any:
    """A copy of a schema with its ``type`` names upper- or lower-cased (property names untouched)."""
    if isinstance(schema, list):
        return [_type_case(x, upper) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.upper() if upper else value.lower()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: _type_case(v, upper) for k, v in value.items()}
        else:
            out[key] = _type_case(value, upper)
    return out


def _lower_types(schema: Any) -> Any:
    return _type_case(schema, upper=False)


def _b64bytes(text: str) -> bytes:
    """Proto3 JSON bytes: standard or URL-safe base64, padding optional."""
    return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))


def _media(part: Mapping[str, Any]) -> Part:
    if "inlineData" in part:
        data = part["inlineData"]
        raw = _b64bytes(data["data"])
        mime = data.get("mimeType", "application/octet-stream")
        return ImagePart(data=raw, media_type=mime) if mime.startswith("image/") else DocumentPart(raw, None, mime)
    data = part["fileData"]
    mime = data.get("mimeType")
    if not mime:
        raise Unsupported("fileData without mimeType")
    return (
        ImagePart(url=data["fileUri"], media_type=mime)
        if mime.startswith("image/")
        else DocumentPart(None, data["fileUri"], mime)
    )


class _Rebuild:
    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {}  # tool name -> call ids not yet answered
        self.n = 0

    def model_parts(self, parts: list[dict[str, Any]]) -> list[Part]:
        out: list[Part] = []
        for part in parts:
            sig = part.get("thoughtSignature")
            if "functionCall" in part:
                fc = part["functionCall"]
                if set(fc) - {"name", "args", "id"}:
                    raise Unsupported(f"functionCall fields {sorted(set(fc) - {'name', 'args', 'id'})}")
                self.n += 1
                call_id = fc.get("id") or f"call_rebuilt_{self.n}"
                data = {
                    **({"gemini_id": call_id} if fc.get("id") else {}),
                    **({"thought_signature": sig} if sig else {}),
                }
                self.ids.setdefault(fc["name"], []).append(call_id)
                args = fc.get("args") or {}
                out.append(ToolCall(call_id, fc["name"], args, json.dumps(args), data or None))
            elif "text" in part and part.get("thought"):
                out.append(ThinkingPart(part["text"], sig, provider="google", provider_data={"gemini": "thought"}))
            elif "text" in part and set(part) <= {"text", "thoughtSignature"}:
                out.append(TextPart(part["text"]))
                if sig:
                    out.append(ThinkingPart("", sig, provider="google", provider_data={"gemini": "text_signature"}))
            elif set(part) & {"inlineData", "fileData"}:
                raise Unsupported("media in a model turn")
            else:
                out.append(ThinkingPart("", provider="google", provider_data={"gemini": "part", "part": part}))
        return out

    def user_messages(self, parts: list[dict[str, Any]]) -> list[Message]:
        out: list[Message] = []
        media: list[Part] = []
        for part in parts:
            if "functionResponse" in part:
                fr = part["functionResponse"]
                response = fr.get("response") or {}
                if set(fr) - {"name", "response", "id"} or len(response) != 1:
                    raise Unsupported("functionResponse that is not one named value")
                ((key, value),) = response.items()
                if key not in (*_RESULT_KEYS, "error") or not isinstance(value, str):
                    raise Unsupported(f"functionResponse {key!r} holding {type(value).__name__}")
                pending = self.ids.get(fr["name"]) or []
                call_id = fr.get("id") or (pending[0] if pending else "")
                if call_id in pending:
                    pending.remove(call_id)
                out.append(Message.tool_result(call_id, value, name=fr["name"], is_error=key == "error"))
            elif "text" in part and set(part) == {"text"}:
                media.append(TextPart(part["text"]))
            elif set(part) <= {"inlineData", "fileData"} and len(part) == 1:
                media.append(_media(part))
            else:
                raise Unsupported(f"user part {sorted(part)}")
        if media:
            out.append(Message.user(media))
        return out


_PARAMS = {
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "maxOutputTokens": "max_tokens",
    "seed": "seed",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
}


def _config(config: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    schema = None
    for key, value in config.items():
        if key in _PARAMS:
            integral = key in ("topK", "maxOutputTokens", "seed") and isinstance(value, float) and value.is_integer()
            params[_PARAMS[key]] = int(value) if integral else value  # pydantic-ai sends topK as 40.0
        elif key == "stopSequences":
            params["stop"] = value
        elif key == "responseModalities" and value == ["TEXT"]:
            continue
        elif key == "thinkingConfig":
            for k, v in value.items():
                name = {
                    "thinkingBudget": "reasoning_budget",
                    "includeThoughts": "include_thoughts",
                    "thinkingLevel": "thinking_level",
                }.get(k)
                if name is None:
                    raise Unsupported(f"thinkingConfig.{k}")
                params[name] = v.lower() if k == "thinkingLevel" else v
        elif key in ("responseSchema", "responseJsonSchema"):
            schema = _lower_types(value)
        elif key == "responseMimeType":
            if value != "application/json" or not ({"responseSchema", "responseJsonSchema"} & set(config)):
                params["response_mime_type"] = value
        else:
            raise Unsupported(f"generationConfig.{key}")
    return schema


def rebuild(recorded: Mapping[str, Any], model_id: str) -> Request:
    """The library call that produces ``recorded`` (camel-cased), built from the public types."""
    body = camel_keys(recorded)
    unknown = set(body) - {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "generationConfig",
        "safetySettings",
        "cachedContent",
    }
    if unknown:
        raise Unsupported(f"request field(s) {sorted(unknown)}")
    messages: list[Message] = []
    system = body.get("systemInstruction")
    if system:
        messages.append(Message.system("".join(p["text"] for p in system["parts"])))
    rb = _Rebuild()
    for content in body["contents"]:
        if content.get("role") == "model":
            messages.append(Message("assistant", tuple(rb.model_parts(content["parts"]))))
        else:
            messages.extend(rb.user_messages(content["parts"]))
    tools = []
    if isinstance(body.get("tools"), dict):
        raise Unsupported("tools given as one object instead of a list")
    for tool in body.get("tools") or []:
        if set(tool) != {"functionDeclarations"}:
            raise Unsupported(f"built-in tool {sorted(tool)}")
        for decl in tool["functionDeclarations"]:
            schema = decl.get("parametersJsonSchema", decl.get("parameters"))
            tools.append(Tool(decl["name"], decl.get("description") or "", _lower_types(schema)))
    params: dict[str, Any] = {}
    choice = (body.get("toolConfig") or {}).get("functionCallingConfig")
    if body.get("toolConfig") and set(body["toolConfig"]) != {"functionCallingConfig"}:
        raise Unsupported(f"toolConfig fields {sorted(body['toolConfig'])}")
    if choice:
        names = choice.get("allowedFunctionNames")
        if names and len(names) == 1 and choice.get("mode") == "ANY":
            params["tool_choice"] = names[0]
        elif names:
            raise Unsupported("allowedFunctionNames with several names")
        elif choice.get("mode") in ("AUTO", "ANY", "NONE") and set(choice) == {"mode"}:
            params["tool_choice"] = {"AUTO": "auto", "ANY": "required", "NONE": "none"}[choice["mode"]]
        else:  # a raw functionCallingConfig (VALIDATED...) passes through as it is
            params["tool_choice"] = dict(choice)
    if body.get("safetySettings"):
        params["safety_settings"] = body["safetySettings"]
    if body.get("cachedContent"):
        params["cached_content"] = body["cachedContent"]
    schema = _config(body.get("generationConfig") or {}, params)
    validated, dropped = validate_params(GoogleGeminiParams, params)
    assert not dropped, dropped
    model = resolve_model(f"google:{model_id}")
    return Request(model, messages, validated, tools, False, schema)


def normalise_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a request with the documented, meaning-preserving differences removed.

    * snake_case structural keys become camelCase (proto3 JSON accepts both);
    * ``thoughtSignature`` compares as bytes (pydantic-ai re-encodes base64 as base64url), and Google's
      placeholder signature counts as none;
    * ``functionResponse.response`` ``{"content"|"return_value"|"output": text}`` is the library's
      ``{"result": text}``;
    * consecutive contents of one role are one content, ``{"text": ""}`` parts without a signature are
      nothing, ``systemInstruction.role`` is ignored;
    * tool schemas compare as the library's Gemini subset: recorded ``parameters`` with their type names
      upper-cased, recorded ``parametersJsonSchema`` converted with ``to_gemini_schema`` (so only the rest of
      the declaration is checked for those), and a schema without properties is the same as none; an empty
      ``description`` is the same as none;
    * ``responseSchema`` and ``responseJsonSchema`` both compare as a JSON Schema with lower-case type names;
    * ``responseModalities: ["TEXT"]`` is the default for text models.
    """
    out: dict[str, Any] = camel_keys(json.loads(json.dumps(body)))
    system = out.get("systemInstruction")
    if isinstance(system, dict):
        system.pop("role", None)
    merged: list[dict[str, Any]] = []
    for content in out.get("contents", []):
        parts = [_normal_part(p) for p in content.get("parts", [])]
        parts = [p for p in parts if p != {"text": ""}]
        role = content.get("role", "user")
        if merged and merged[-1]["role"] == role:
            merged[-1]["parts"].extend(parts)
        elif parts:
            merged.append({"role": role, "parts": parts})
    out["contents"] = merged
    for tool in out.get("tools", []):
        for decl in tool.get("functionDeclarations", []):
            if "parametersJsonSchema" in decl:
                decl["parameters"] = to_gemini_schema(decl.pop("parametersJsonSchema"))
            params = decl.get("parameters")
            if params is not None:
                decl["parameters"] = _upper_types(params)
                if not decl["parameters"].get("properties"):
                    del decl["parameters"]
            if decl.get("description") == "":
                del decl["description"]
    config = out.get("generationConfig")
    if isinstance(config, dict):
        if config.get("responseModalities") == ["TEXT"]:
            del config["responseModalities"]
        for key in ("responseSchema", "responseJsonSchema"):
            if key in config:
                config["responseJsonSchema"] = _lower_types(config.pop(key))
        if "thinkingConfig" in config and "thinkingLevel" in config["thinkingConfig"]:
            config["thinkingConfig"]["thinkingLevel"] = config["thinkingConfig"]["thinkingLevel"].upper()
        if not config:
            del out["generationConfig"]
    return out


def _upper_types(schema: Any) -> Any:
    return _type_case(schema, upper=True)


def _normal_part(part: dict[str, Any]) -> dict[str, Any]:
    part = dict(part)
    sig = part.pop("thoughtSignature", None)
    if sig and sig != SKIP_SIGNATURE:
        part["thoughtSignature"] = base64.b64encode(_b64bytes(sig)).decode()
    inline = part.get("inlineData")
    if isinstance(inline, dict) and isinstance(inline.get("data"), str):
        part["inlineData"] = {**inline, "data": base64.b64encode(_b64bytes(inline["data"])).decode()}
    fr = part.get("functionResponse")
    if isinstance(fr, dict) and isinstance(fr.get("response"), dict) and len(fr["response"]) == 1:
        ((key, value),) = fr["response"].items()
        if key in _RESULT_KEYS:
            fr["response"] = {"result": value}
    if part.get("thought") is False:
        del part["thought"]
    return part


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


REQUESTS = [it for it in ALL if it.request_body is not None and it.kind in ("generate", "stream")]


def _request_gap(item: Item) -> tuple[str, str] | None:
    """Why the recorded request cannot be rebuilt (``(kind, detail)``), or None."""
    try:
        rebuild(item.request_body or {}, _model_of(item))
    except Unsupported as exc:
        return UNEXPRESSIBLE, str(exc)
    return None


REBUILT = keep(REQUESTS, CHAT, "request", lambda it: (it.id, it.source, it.provider, it.streamed), _request_gap)


@pytest.mark.parametrize("item", REBUILT, ids=lambda it: it.id)
def test_request_encoding(item: Item, conformance_record: Any) -> None:
    with conformance_record(CHAT, "request", (item.id, item.source, item.provider, item.streamed), "golden"):
        recorded = item.request_body
        assert recorded is not None
        request = rebuild(recorded, _model_of(item))
        encoded = GoogleGemini().encode_request(request)
        level = "thinkingLevel" in encoded.get("generationConfig", {}).get("thinkingConfig", {})
        waived = validate_gemini_request(encoded, model=f"models/{_model_of(item)}")
        assert waived == (["generationConfig.thinkingConfig.thinkingLevel"] if level else [])
        got, want = normalise_request(encoded), normalise_request(recorded)
        assert got == want, _first_difference(got, want)


def test_request_encoding_sample_is_large_enough() -> None:
    rebuilt = 0
    for item in REQUESTS:
        try:
            rebuild(item.request_body or {}, _model_of(item))
        except Unsupported:
            continue
        rebuilt += 1
    assert rebuilt >= 100, rebuilt


RECORDED_FALSE_REJECTIONS: dict[str, str] = {
    "lower-case Schema.type": r"Invalid enum value (string|integer|number|boolean|object|array) for enum type "
    r"google\.ai\.generativelanguage\.v1beta\.Type",
    "newer field ToolConfig.includeServerSideToolInvocations": r'no field named "includeServerSideToolInvocations"',
    "newer field FunctionResponsePart.file_data": r'FunctionResponsePart" has no field named "file_data"',
    "newer field FileSearch.file_search_store_names": r'no field named "file_search_store_names"',
    "newer field Part.toolCall": r'Part" has no field named "toolCall"',
    "newer field ExecutableCode.id": r'ExecutableCode" has no field named "id"',
    "tools given as one object (the API wraps a lone message for a repeated field)": r"repeated field tools must be in \[\]",
}
"""Why the protos reject recorded real requests that the live API answered with 200 (label -> message pattern)."""


def test_recorded_requests_against_the_protos() -> None:
    """The validator on the recorded (real, accepted) requests: every rejection is a listed false rejection."""
    counts = dict.fromkeys(RECORDED_FALSE_REJECTIONS, 0)
    for item in REQUESTS:
        try:
            validate_gemini_request(item.request_body or {}, model=f"models/{_model_of(item)}")
        except AssertionError as exc:
            labels = [k for k, pattern in RECORDED_FALSE_REJECTIONS.items() if re.search(pattern, str(exc))]
            if not labels:
                pytest.fail(f"{item.id}: unexpected rejection {exc}")
            counts[labels[0]] += 1
    assert counts == {
        "lower-case Schema.type": 20,
        "newer field ToolConfig.includeServerSideToolInvocations": 9,
        "newer field FunctionResponsePart.file_data": 3,
        "newer field FileSearch.file_search_store_names": 3,
        "newer field Part.toolCall": 2,
        "newer field ExecutableCode.id": 1,
        "tools given as one object (the API wraps a lone message for a repeated field)": 2,
    }, counts
