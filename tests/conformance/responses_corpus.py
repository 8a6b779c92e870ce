"""Every recorded OpenAI *Responses* interaction in ``../shared/conformance``, ready for replay.

Sources (third-party recordings of real provider traffic, see each folder's README):

* ``sycophant``: every recording whose URL ends in ``/responses`` (OpenAI, OpenRouter, Azure);
* ``pydantic-ai``: the ``openai.responses`` rows of ``INDEX.jsonl`` (VCR cassettes);
* ``vercel-ai``: the ``openai.responses``, ``azure_openai.responses`` and ``xai.responses`` fixtures.
  ``*.chunks.txt`` hold one event per line, re-framed here as SSE (``event: <type>`` + ``data:``);
  a file holding several streams (a multi-step call) is split at each ``response.created``. Their
  ``*.json`` error bodies carry no status: 429 for a quota error, else 400.

:func:`reference_walk` is a deliberately simple walk over the raw bytes, independent of the library:
text is the concatenated ``output_text`` / ``refusal`` deltas (a part's ``*.done`` text when it had
none), tool calls and reasoning come from each ``output_item.done``, finish reason and usage from the
terminal event. It also checks the corpus itself (deltas agree with the final items) and records
disagreements as ``quirks``. This module does not import ``sycophant_py``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from .corpus import CONFORMANCE_DIR, iter_sse_data

__all__ = [
    "STATUS_FINISH",
    "TRIMMED",
    "Rec",
    "Ref",
    "corpus",
    "reference_usage",
    "reference_walk",
    "walk_body",
    "walk_stream",
]

TERMINAL = ("response.completed", "response.incomplete", "response.failed")
TRIMMED = {
    "vercel-ai/packages/openai/src/responses/__fixtures__/openai-phase.1.chunks.txt#0",
    "vercel-ai/packages/openai/src/responses/__fixtures__/openai-shell-container.1.chunks.txt#0",
}
"""Hand-trimmed fixtures whose text deltas are shorter than the final text (upstream's README allows cuts
"that do not change semantics"): the decoder reports what the deltas said, as for any stream."""

# The raw status -> the unified finish reason (before tool_use / content_filter refinements). An unknown
# status fails the test: extend the table on purpose. queued/in_progress: background mode, not polled.
STATUS_FINISH = {
    "completed": "stop",
    "complete": "stop",
    "queued": "stop",
    "in_progress": "stop",
    "incomplete": "length",
    "failed": "error",
    "cancelled": "aborted",
}


@dataclass(frozen=True)
class Rec:
    """One recorded Responses interaction."""

    id: str
    source: str
    provider: str
    streamed: bool
    request_body: dict[str, Any] | None
    status: int
    body: bytes
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _sse_from_lines(lines: Sequence[str]) -> bytes:
    out = []
    for line in lines:
        try:
            kind = json.loads(line).get("type")
        except ValueError:
            kind = None  # a hand-made fixture line that is not JSON: sent as it is
        out.append((f"event: {kind}\n" if kind else "") + f"data: {line}\n\n")
    return "".join(out).encode()


def _load_sycophant() -> list[Rec]:
    root = CONFORMANCE_DIR / "sycophant" / "priv" / "fixtures" / "recordings"
    out = []
    for path in sorted(root.rglob("*.json")):
        record = json.loads(path.read_bytes())
        request, response = record["request"], record["response"]
        if not request["url"].split("?")[0].endswith("/responses"):
            continue
        raw = response["body"]
        streamed = isinstance(raw, str)
        rel = path.relative_to(root).as_posix()
        out.append(
            Rec(
                f"sycophant/{rel}",
                "sycophant",
                rel.split("/", 1)[0],
                streamed,
                request.get("body"),
                int(response["status"]),
                raw.encode() if streamed else json.dumps(raw).encode(),
                request["url"],
            )
        )
    return out


def _load_pydantic_ai() -> list[Rec]:
    root = CONFORMANCE_DIR / "pydantic-ai"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    cassettes: dict[str, Any] = {}
    out = []
    for line in (root / "INDEX.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line else {}
        if row.get("api") != "openai.responses":
            continue
        if row["file"] not in cassettes:
            cassettes[row["file"]] = yaml.load((root / row["file"]).read_text(encoding="utf-8"), Loader=loader)
        it = cassettes[row["file"]]["interactions"][row["interaction"]]
        request, response = it["request"], it["response"]
        body = request.get("parsed_body") or (json.loads(request["body"]) if request.get("body") else None)
        if "parsed_body" in response:
            raw = json.dumps(response["parsed_body"]).encode()
        else:
            s = response["body"]["string"]
            raw = s if isinstance(s, bytes) else s.encode()
        out.append(
            Rec(
                f"pydantic-ai/{row['file']}#{row['interaction']}",
                "pydantic-ai",
                "openai",
                bool(row["streamed"]),
                body,
                int(response["status"]["code"]),
                raw,
                request.get("uri"),
            )
        )
    return out


def _vercel_provider(row: Mapping[str, Any], name: str) -> str:
    if name.startswith("github-copilot"):
        return "github-copilot"
    return {"openai.responses": "openai", "azure_openai.responses": "azure", "xai.responses": "xai"}[row["api"]]


def _load_vercel() -> list[Rec]:
    root = CONFORMANCE_DIR / "vercel-ai"
    out = []
    for line in (root / "INDEX.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line else {}
        if not str(row.get("api", "")).endswith("responses"):
            continue
        path = root / row["file"]
        provider = _vercel_provider(row, path.name)
        ident = f"vercel-ai/{row['file']}"
        if path.name.endswith(".chunks.txt"):
            lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            starts = [i for i, ln in enumerate(lines) if '"response.created"' in ln] or [0]
            starts[0] = 0
            for n, (a, b) in enumerate(zip(starts, [*starts[1:], len(lines)], strict=True)):
                out.append(Rec(f"{ident}#{n}", "vercel-ai", provider, True, None, 200, _sse_from_lines(lines[a:b])))
            continue
        data = json.loads(path.read_bytes())
        status = 200  # no status is recorded: an error body is 429 for a quota error, else 400
        if "error" in data and "output" not in data:
            status = 429 if (data["error"].get("code") == "insufficient_quota") else 400
        out.append(Rec(f"{ident}#0", "vercel-ai", provider, False, None, status, path.read_bytes()))
    return out


@functools.cache
def corpus() -> tuple[Rec, ...]:
    return (*_load_sycophant(), *_load_pydantic_ai(), *_load_vercel())


# --------------------------------------------------------------------------------------------------
# Reference walk (independent of the library)
# --------------------------------------------------------------------------------------------------


@dataclass
class Ref:
    """What a correct decoder reports for one successful interaction."""

    text: str = ""
    reasoning: list[str] = field(default_factory=list)
    """Per reasoning item: summary parts joined with a blank line, plus its reasoning text."""
    encrypted: list[str | None] = field(default_factory=list)
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish: str = "stop"
    usage: dict[str, Any] | None = None
    error: str | None = None
    """The error message of a failed stream (``invalid`` for a frame that is not JSON)."""
    quirks: set[str] = field(default_factory=set)


def _item_reasoning(item: Mapping[str, Any]) -> str:
    summary = [s["text"] for s in item.get("summary") or () if s.get("type") == "summary_text"]
    content = [c["text"] for c in item.get("content") or () if c.get("type") == "reasoning_text"]
    return "\n\n".join(summary) + "".join(content)


def _finish(ref: Ref, resp: Mapping[str, Any], refused: bool) -> None:
    status = resp.get("status")
    assert status in STATUS_FINISH, f"unmapped status {status!r}: extend STATUS_FINISH"
    ref.finish = STATUS_FINISH[status]
    reason = (resp.get("incomplete_details") or {}).get("reason")
    if (status == "incomplete" and reason == "content_filter") or (ref.finish == "stop" and refused):
        ref.finish = "content_filter"
    elif ref.finish == "stop" and ref.tool_calls:
        ref.finish = "tool_use"
    ref.usage = resp.get("usage") or None


def walk_body(data: Mapping[str, Any]) -> Ref:
    ref, texts, refused = Ref(), [], False
    for item in data.get("output") or ():
        if item.get("type") == "message":
            for c in item.get("content") or ():
                texts.append(c.get("refusal", "") if c.get("type") == "refusal" else c.get("text", ""))
                refused = refused or c.get("type") == "refusal"
        elif item.get("type") == "function_call":
            ref.tool_calls.append((item["name"], json.loads(item["arguments"] or "{}")))
        elif item.get("type") == "reasoning":
            ref.reasoning.append(_item_reasoning(item))
            ref.encrypted.append(item.get("encrypted_content") or None)
    ref.text = "".join(texts)
    _finish(ref, data, refused)
    return ref


def walk_stream(body: bytes) -> Ref:
    ref = Ref()
    text: dict[tuple[Any, Any], list[str]] = {}  # (output_index, content_index) -> deltas, else the done text
    args: dict[Any, str] = {}
    summaries: dict[tuple[Any, Any], str] = {}
    done: dict[Any, Mapping[str, Any]] = {}
    refused = False
    terminal: Mapping[str, Any] | None = None
    for _, data in iter_sse_data(body):
        if data == "[DONE]":
            continue
        try:
            ev = json.loads(data)
        except ValueError:
            ref.error = "invalid"
            break
        kind = ev.get("type")
        key = (ev.get("output_index"), ev.get("content_index"))
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            text.setdefault(key, []).append(ev["delta"])
            refused = refused or kind == "response.refusal.delta"
        elif kind == "response.output_text.done" and key not in text:
            text[key] = [ev["text"]]
        elif kind == "response.function_call_arguments.delta":
            args[ev["output_index"]] = args.get(ev["output_index"], "") + ev["delta"]
        elif kind == "response.reasoning_summary_text.delta":
            k = (ev["output_index"], ev["summary_index"])
            summaries[k] = summaries.get(k, "") + ev["delta"]
        elif kind == "response.output_item.done":
            done[ev["output_index"]] = ev["item"]
        elif kind == "error":
            ref.error = (ev.get("error") or ev)["message"]
            break
        elif kind in TERMINAL:
            terminal = ev["response"]
            break
    ref.text = "".join("".join(v) for v in text.values())
    for index, item in sorted(done.items()):
        if item.get("type") == "function_call":
            if index in args and args[index] != item["arguments"]:
                ref.quirks.add("argument_deltas_differ")
            ref.tool_calls.append((item["name"], json.loads(item["arguments"] or "{}")))
        elif item.get("type") == "reasoning":
            ref.reasoning.append(_item_reasoning(item))
            ref.encrypted.append(item.get("encrypted_content") or None)
            for i, s in enumerate(item.get("summary") or ()):
                if (index, i) in summaries and summaries[(index, i)] != s["text"]:
                    ref.quirks.add("summary_deltas_differ")
    if terminal is not None and terminal.get("status") == "failed":
        ref.error = terminal["error"]["message"]
    if ref.error is not None or terminal is None:
        ref.finish, ref.error = "error", ref.error or "end marker"
        return ref
    final_text = walk_body(terminal).text
    if terminal.get("output") and final_text != ref.text:
        ref.quirks.add("text_deltas_differ")
    _finish(ref, terminal, refused)
    return ref


def reference_walk(rec: Rec) -> Ref:
    return walk_stream(rec.body) if rec.streamed else walk_body(json.loads(rec.body))


def reference_usage(raw: Mapping[str, Any]) -> dict[str, int]:
    """Uncached input = input - cached - written; output already includes reasoning (not added again)."""
    details = raw.get("input_tokens_details") or {}
    cached, written = details.get("cached_tokens") or 0, details.get("cache_write_tokens") or 0
    return {
        "input_tokens": raw["input_tokens"] - cached - written,
        "output_tokens": raw["output_tokens"],
        "cache_read_tokens": cached,
        "cache_write_tokens": written,
        "reasoning_tokens": (raw.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    }
