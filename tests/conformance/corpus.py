"""Every recorded OpenAI *Chat Completions* interaction in ``../shared/conformance``, ready for replay.

Sources (all third-party recordings of real provider traffic, see each folder's README):

* ``sycophant``: JSON recordings; the chat ones are OpenAI, Azure (``/models/chat/completions``) and GitHub
  Copilot. Its OpenRouter recordings all use the Responses API and are therefore not chat.
* ``pydantic-ai``: VCR cassettes, selected through ``INDEX.jsonl`` (``openai.chat_completions`` and
  ``openai_compatible.chat_completions``: OpenAI, Groq, OpenRouter, Mistral, DeepSeek, Cerebras, ...).
* ``vercel-ai``: ``*.chunks.txt`` (one decoded ``data:`` payload per line, re-framed here as SSE with a final
  ``data: [DONE]``), ``*.json`` bodies and one raw ``.sse`` stream. These carry no request, status or
  headers: status is 200 (400 for the one error body) and a ``content-type`` header is synthesised.

``expected`` is computed by a deliberately simple reference walk written here, independent of the library,
so tests can compare what the library decodes with what the raw bytes say. This module does not import
``sycophant_py``.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

__all__ = [
    "CONFORMANCE_DIR",
    "EDGE_ERROR_EVENT",
    "EDGE_NO_DONE",
    "EDGE_NO_FINISH_REASON",
    "ChatInteraction",
    "Expected",
    "chat_interactions",
    "edge_counts",
    "error_interactions",
    "iter_sse_data",
    "reference_walk",
    "summary",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = (REPO_ROOT / ".." / "shared").resolve()
CONFORMANCE_DIR = SHARED_DIR / "conformance"

Source = Literal["sycophant", "pydantic-ai", "vercel-ai"]

EDGE_ERROR_EVENT = "error_event"
"""The stream carries an error (an ``event: error`` frame or a chunk with an ``error`` member)."""
EDGE_NO_FINISH_REASON = "no_finish_reason"
"""The stream ends (with ``[DONE]``) but choice 0 never got a ``finish_reason``."""
EDGE_NO_DONE = "no_done"
"""The stream has a ``finish_reason`` but the body ends without ``data: [DONE]``."""

_REASONING_KEYS = ("reasoning_content", "reasoning", "reasoning_text")


@dataclass(frozen=True)
class Expected:
    """What a correct decoder must produce for one successful interaction (choice 0)."""

    text: str
    reasoning: str
    tool_calls: list[tuple[str, dict[str, Any]]]
    finish_reason: str | None
    usage: dict[str, Any] | None


@dataclass(frozen=True)
class ChatInteraction:
    """One recorded request/response pair against a Chat Completions endpoint."""

    id: str
    source: Source
    provider: str
    streamed: bool
    request_body: dict[str, Any] | None
    status: int
    response_headers: dict[str, str]
    body: bytes
    expected: Expected | None
    edge: str | None = None
    url: str | None = None
    quirks: frozenset[str] = field(default_factory=frozenset)
    """Wire-format peculiarities found by the reference walk (e.g. ``content_parts``, ``usage_in_x_groq``)."""

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def json_body(self) -> Any:
        """The parsed body of a non-streamed interaction."""
        return json.loads(self.body)


# --------------------------------------------------------------------------------------------------
# Reference walk
# --------------------------------------------------------------------------------------------------


@dataclass
class _Walk:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[Any, list[str]] = field(default_factory=dict)  # key -> [name, arguments]
    last_call: Any = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    quirks: set[str] = field(default_factory=set)

    def add_content(self, content: Any) -> None:
        if isinstance(content, str):
            self.text.append(content)
        elif isinstance(content, list):  # Mistral: typed parts, "thinking" parts hold reasoning
            self.quirks.add("content_parts")
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    self.text.append(part["text"])
                elif part.get("type") == "thinking":
                    for inner in part.get("thinking") or []:
                        if isinstance(inner, dict) and isinstance(inner.get("text"), str):
                            self.reasoning.append(inner["text"])

    def add_reasoning(self, holder: dict[str, Any]) -> None:
        for key in _REASONING_KEYS:
            value = holder.get(key)
            if isinstance(value, str):
                self.reasoning.append(value)
                if value:
                    self.quirks.add(f"reasoning_field:{key}")
                return

    def add_tool_call(self, call: dict[str, Any], streamed: bool) -> None:
        if "index" in call:
            key: Any = call["index"]
        elif not streamed or call.get("id") or self.last_call is None:
            key = ("position", len(self.calls))
            if streamed:
                self.quirks.add("tool_call_without_index")
        else:
            key = self.last_call
            self.quirks.add("tool_call_without_index")
        self.last_call = key
        entry = self.calls.setdefault(key, ["", ""])
        function = call.get("function") or {}
        name = function.get("name")
        if isinstance(name, str) and name:
            if entry[0] == name:
                self.quirks.add("tool_name_repeated")
            else:
                entry[0] += name
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            entry[1] += arguments
        elif isinstance(arguments, dict):
            self.quirks.add("tool_arguments_object")
            entry[1] += json.dumps(arguments)
        elif arguments is None and not streamed:
            self.quirks.add("tool_arguments_null")

    def expected(self) -> Expected:
        keys = list(self.calls)
        if keys and isinstance(keys[0], int) and keys[0] != 0:
            self.quirks.add("tool_call_index_nonzero_start")
        tool_calls: list[tuple[str, dict[str, Any]]] = []
        for name, raw in self.calls.values():
            try:
                parsed = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError:
                self.quirks.add("tool_arguments_invalid_json")
                parsed = {"_raw": raw}
            if not isinstance(parsed, dict):
                self.quirks.add("tool_arguments_not_object")
                parsed = {"_value": parsed}
            tool_calls.append((name, parsed))
        return Expected(
            text="".join(self.text),
            reasoning="".join(self.reasoning),
            tool_calls=tool_calls,
            finish_reason=self.finish_reason,
            usage=self.usage,
        )


def iter_sse_data(body: bytes) -> Iterator[tuple[str | None, str]]:
    """Yield ``(event_name, data)`` per SSE event of a complete body; comment-only events are skipped."""
    text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
        if data:
            yield event, "\n".join(data)


def _choice_zero(choices: Any) -> dict[str, Any] | None:
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return choice
    return None


def _walk_stream(body: bytes) -> tuple[Expected, str | None, set[str]]:
    walk = _Walk()
    done = False
    error = False
    if b"\n:" in b"\n" + body:
        walk.quirks.add("sse_comments")
    for event, data in iter_sse_data(body):
        if data == "[DONE]":
            done = True
            continue
        if event is not None:
            walk.quirks.add(f"sse_event:{event}")
        chunk = json.loads(data)
        if event == "error" or (isinstance(chunk, dict) and chunk.get("error")):
            error = True
        if not isinstance(chunk, dict):
            continue
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            if walk.usage is not None:
                walk.quirks.add("usage_repeated")
            walk.usage = usage
            if not chunk.get("choices"):
                walk.quirks.add("usage_only_chunk")
        elif isinstance((chunk.get("x_groq") or {}).get("usage"), dict) and walk.usage is None:
            walk.quirks.add("usage_in_x_groq")
            walk.usage = chunk["x_groq"]["usage"]
        choice = _choice_zero(chunk.get("choices"))
        if choice is None:
            continue
        delta = choice.get("delta") or {}
        walk.add_content(delta.get("content"))
        walk.add_reasoning(delta)
        for call in delta.get("tool_calls") or []:
            walk.add_tool_call(call, streamed=True)
        if choice.get("finish_reason") is not None:
            walk.finish_reason = choice["finish_reason"]
    if error:
        edge: str | None = EDGE_ERROR_EVENT
    elif walk.finish_reason is None:
        edge = EDGE_NO_FINISH_REASON
    elif not done:
        edge = EDGE_NO_DONE
    else:
        edge = None
    return walk.expected(), edge, walk.quirks


def _walk_json(body: bytes) -> tuple[Expected, str | None, set[str]]:
    walk = _Walk()
    data = json.loads(body)
    edge = EDGE_ERROR_EVENT if isinstance(data, dict) and data.get("error") else None
    choice = _choice_zero(data.get("choices")) if isinstance(data, dict) else None
    if choice is not None:
        message = choice.get("message") or {}
        walk.add_content(message.get("content"))
        walk.add_reasoning(message)
        for call in message.get("tool_calls") or []:
            walk.add_tool_call(call, streamed=False)
        walk.finish_reason = choice.get("finish_reason")
    if isinstance(data, dict) and isinstance(data.get("usage"), dict):
        walk.usage = data["usage"]
    return walk.expected(), edge, walk.quirks


def reference_walk(streamed: bool, body: bytes) -> tuple[Expected, str | None, frozenset[str]]:
    """Decode a raw 2xx body the simple way: ``(expected, edge, quirks)``."""
    expected, edge, quirks = _walk_stream(body) if streamed else _walk_json(body)
    return expected, edge, frozenset(quirks)


def _make(
    *,
    ident: str,
    source: Source,
    provider: str,
    streamed: bool,
    request_body: dict[str, Any] | None,
    status: int,
    headers: dict[str, str],
    body: bytes,
    url: str | None,
    extra_quirks: frozenset[str] = frozenset(),
) -> ChatInteraction:
    expected: Expected | None = None
    edge: str | None = None
    quirks: frozenset[str] = frozenset()
    if 200 <= status < 300:
        expected, edge, quirks = reference_walk(streamed, body)
    return ChatInteraction(
        id=ident,
        source=source,
        provider=provider,
        streamed=streamed,
        request_body=request_body,
        status=status,
        response_headers=headers,
        body=body,
        expected=expected,
        edge=edge,
        url=url,
        quirks=quirks | extra_quirks,
    )


# --------------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------------


def _is_chat_url(url: str) -> bool:
    return urlsplit(url).path.rstrip("/").endswith("/chat/completions")


def _pairs_to_headers(pairs: list[list[str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _load_sycophant() -> list[ChatInteraction]:
    root = CONFORMANCE_DIR / "sycophant" / "priv" / "fixtures" / "recordings"
    found: list[ChatInteraction] = []
    for path in sorted(root.rglob("*.json")):
        record = json.loads(path.read_bytes())
        request, response = record["request"], record["response"]
        if not _is_chat_url(request["url"]):
            continue
        raw = response["body"]
        streamed = isinstance(raw, str)
        body = raw.encode("utf-8") if streamed else json.dumps(raw).encode("utf-8")
        rel = path.relative_to(root).as_posix()
        found.append(
            _make(
                ident=f"sycophant/{rel}#0",
                source="sycophant",
                provider=rel.split("/", 1)[0],
                streamed=streamed,
                request_body=request.get("body"),
                status=int(response["status"]),
                headers=_pairs_to_headers(response.get("headers") or []),
                body=body,
                url=request["url"],
            )
        )
    return found


_HOST_PROVIDERS = (
    ("api.openai.com", "openai"),
    ("openai.azure.com", "azure"),
    ("api.groq.com", "groq"),
    ("openrouter.ai", "openrouter"),
    ("api.mistral.ai", "mistral"),
    ("api.deepseek.com", "deepseek"),
    ("api.cerebras.ai", "cerebras"),
    ("router.huggingface.co", "huggingface"),
    ("ollama.com", "ollama"),
    ("localhost:11434", "ollama"),
    ("snowflakecomputing.com", "snowflake"),
    ("api.z.ai", "zai"),
    ("crusoecloud.com", "crusoe"),
    ("bedrock-mantle.us-east-1.api.aws", "bedrock-mantle"),
    ("generativelanguage.googleapis.com", "google"),
    ("inference.heroku.com", "heroku"),
    ("localhost:8787", "pydantic-gateway"),
)


def _provider_for_host(host: str) -> str:
    for suffix, provider in _HOST_PROVIDERS:
        if host == suffix or host.endswith("." + suffix) or host.endswith(suffix):
            return provider
    return host


def _single_value_headers(headers: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        out[name.lower()] = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return out


def _cassette_request_body(request: dict[str, Any]) -> dict[str, Any] | None:
    parsed_body = request.get("parsed_body")
    if isinstance(parsed_body, dict):
        return parsed_body
    raw = request.get("body")
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str) and raw:
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _load_pydantic_ai() -> list[ChatInteraction]:
    root = CONFORMANCE_DIR / "pydantic-ai"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    rows = [json.loads(line) for line in (root / "INDEX.jsonl").read_text(encoding="utf-8").splitlines() if line]
    wanted = [
        row
        for row in rows
        if row["api"] in {"openai.chat_completions", "openai_compatible.chat_completions"} and _is_chat_url(row["uri"])
    ]
    cassettes: dict[str, Any] = {}
    found: list[ChatInteraction] = []
    for row in wanted:
        file = row["file"]
        if file not in cassettes:
            cassettes[file] = yaml.load((root / file).read_text(encoding="utf-8"), Loader=loader)
        interaction = cassettes[file]["interactions"][row["interaction"]]
        request, response = interaction["request"], interaction["response"]
        if "parsed_body" in response:
            body = json.dumps(response["parsed_body"]).encode("utf-8")
        else:
            raw = response["body"]["string"]
            body = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        found.append(
            _make(
                ident=f"pydantic-ai/{file}#{row['interaction']}",
                source="pydantic-ai",
                provider=_provider_for_host(row["host"]),
                streamed=bool(row["streamed"]),
                request_body=_cassette_request_body(request),
                status=int(response["status"]["code"]),
                headers=_single_value_headers(response.get("headers") or {}),
                body=body,
                url=request.get("uri"),
            )
        )
    return found


_VERCEL_CHAT_APIS = frozenset(
    {
        "openai.chat_completions",
        "openai_compatible.chat_completions",
        "azure_openai.chat_completions",
        "xai.chat",
        "mistral.chat",
    }
)


def _vercel_provider(package: str, name: str) -> str:
    for prefix in ("azure", "xai", "deepseek", "groq", "mistral", "openai"):
        if name.startswith(prefix + "-"):
            return prefix
    return package


def _load_vercel_ai() -> list[ChatInteraction]:
    root = CONFORMANCE_DIR / "vercel-ai"
    rows = [json.loads(line) for line in (root / "INDEX.jsonl").read_text(encoding="utf-8").splitlines() if line]
    paths = {row["file"]: row for row in rows if row["api"] in _VERCEL_CHAT_APIS}
    # The raw .sse stream is not in INDEX.jsonl; pick up any OpenAI-chat .sse next to the chat fixtures.
    for sse in sorted((root / "packages").rglob("*.sse")):
        rel = sse.relative_to(root).as_posix()
        if b"chat.completion.chunk" in sse.read_bytes():
            paths.setdefault(rel, {"file": rel, "package": rel.split("/")[1], "api": "openai_compatible.sse"})
    found: list[ChatInteraction] = []
    for rel in sorted(paths):
        path = root / rel
        raw = path.read_bytes()
        name = path.name
        extra = frozenset({"synthetic_headers"})
        if name.endswith(".chunks.txt"):
            lines = [line for line in raw.decode("utf-8").splitlines() if line.strip()]
            if not any("choices" in json.loads(line) for line in lines):  # not chat-chunk shaped
                continue
            body = "".join(f"data: {line}\n\n" for line in lines).encode("utf-8") + b"data: [DONE]\n\n"
            streamed, status, extra = True, 200, extra | {"reframed_chunks"}
        elif name.endswith(".sse"):
            body, streamed, status = raw, True, 200
        else:
            data = json.loads(raw)
            if not isinstance(data, dict):
                continue
            if "error" in data and "choices" not in data:
                status, extra = 400, extra | {"status_inferred"}
            elif data.get("object") == "chat.completion" or "choices" in data:
                status = 200
            else:  # transcription bodies and other non-chat fixtures
                continue
            body, streamed = raw, False
        content_type = "text/event-stream" if streamed else "application/json"
        found.append(
            _make(
                ident=f"vercel-ai/{rel}#0",
                source="vercel-ai",
                provider=_vercel_provider(paths[rel]["package"], name),
                streamed=streamed,
                request_body=None,
                status=status,
                headers={"content-type": content_type},
                body=body,
                url=None,
                extra_quirks=extra,
            )
        )
    return found


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


@functools.cache
def _all() -> tuple[ChatInteraction, ...]:
    return (*_load_sycophant(), *_load_pydantic_ai(), *_load_vercel_ai())


def chat_interactions() -> list[ChatInteraction]:
    """Every recorded Chat Completions interaction (all statuses), in a stable order."""
    return list(_all())


def error_interactions() -> list[ChatInteraction]:
    """The non-2xx interactions: status, headers (including any ``retry-after``) and raw error body."""
    return [item for item in _all() if not item.ok]


def summary() -> dict[tuple[str, str, bool], int]:
    """Count interactions per ``(source, provider, streamed)``."""
    counts = Counter((item.source, item.provider, item.streamed) for item in _all())
    return dict(sorted(counts.items()))


def edge_counts() -> dict[str, int]:
    """Count successful interactions per ``edge`` kind (``None`` entries are left out)."""
    counts = Counter(item.edge for item in _all() if item.edge is not None)
    return dict(sorted(counts.items()))
