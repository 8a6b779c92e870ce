"""Google Gemini ``generateContent`` / ``streamGenerateContent?alt=sse`` (the ``google_gemini`` protocol).

The base URL holds the ``/v1beta`` prefix; the paths are ``/models/{model}:generateContent`` and
``/models/{model}:streamGenerateContent?alt=sse`` (a model id that already names its collection, such
as ``tunedModels/x``, is used as it is).

Encoding: system messages become ``systemInstruction``; the conversation becomes ``contents`` with
roles ``user`` and ``model`` (consecutive messages of one role share a content, except that the
function responses of a turn travel together in a content of their own). Parts are ``text``,
``inlineData`` (bytes), ``fileData`` (URLs),
``functionCall`` and ``functionResponse`` (``{"result": text}`` or ``{"error": text}``). Tool
definitions become one ``functionDeclarations`` tool whose parameter schemas are converted to the
OpenAPI subset Gemini accepts (:func:`to_gemini_schema`). Structured output uses
``responseJsonSchema`` (full JSON Schema; recorded traffic shows Gemini 2.0 and later taking it), or the
converted ``responseSchema`` where compat ``response_schema_field`` is ``"responseSchema"``.
Reasoning: ``reasoning_budget`` is ``thinkingBudget``;
``reasoning_effort`` is ``thinkingLevel`` on Gemini 3+ and a budget before (compat
``thinking_format``: ``level`` / ``budget``); ``includeThoughts`` is on whenever thinking is asked for.

Thought signatures (https://ai.google.dev/gemini-api/docs/thought-signatures) are data the model
needs back on the *same part*. A signature on a ``functionCall`` lives in the tool call's
``provider_data["thought_signature"]``; on a thought part in the ``ThinkingPart.signature``; on a
plain text part in a signature-only ``ThinkingPart`` placed right after that text (marked
``provider_data["gemini"] == "text_signature"``), which the encoder folds back onto the text part.
Parts the library does not model (code execution, server-side tool calls) are kept whole in a
``ThinkingPart`` with empty text and replayed verbatim on the same provider. Gemini 3 rejects a
function-call turn without a signature; one that has none (it came from another provider) gets
Google's documented placeholder.

Decoding: tool calls keep Gemini's ``id`` when it sends one (``provider_data["gemini_id"]``, echoed
back in the ``functionResponse``), otherwise a unique ``call_<uuid hex>`` is made up. Usage:
``promptTokenCount`` *includes* ``cachedContentTokenCount`` and ``candidatesTokenCount`` *excludes*
``thoughtsTokenCount``, so input = prompt - cached + tool-use prompt tokens and output = candidates +
thoughts (the total then equals Gemini's ``totalTokenCount``). A stream is a sequence of complete
``GenerateContentResponse`` chunks with no terminator: the chunk with ``finishReason`` is the end
marker, usage comes from the last chunk that reports it, and the body ending after a finish reason
is a normal end. Vertex AI's streamed function-call arguments (``partialArgs`` with JSON paths) are
re-assembled into JSON text, one ``toolcall_delta`` per fragment.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field
from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import InvalidMessage, StreamError
from sycophant_py._models import ModelInfo
from sycophant_py._params import SharedParams
from sycophant_py._types import (
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    Usage,
)
from sycophant_py.wire._base import (
    Request,
    StreamContinue,
    StreamDone,
    StreamFailed,
    StreamResult,
    WireProtocol,
)

__all__ = [
    "SKIP_SIGNATURE",
    "GoogleGemini",
    "GoogleGeminiParams",
    "decode_usage",
    "gemini_error",
    "map_finish_reason",
    "to_gemini_schema",
]

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **dict.fromkeys(
        (
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT",
            "IMAGE_RECITATION",
        ),
        "content_filter",
    ),
}  # every other value (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, ...) is an error
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented placeholder signature for function calls that did not come from Gemini."""
_MARK = "gemini"  # provider_data key of the thinking parts this protocol creates
_BUDGETS = {"none": 0, "minimal": 512, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}
_LEVELS = {"none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH"}
_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")
_TYPES = {t: t.upper() for t in ("string", "number", "integer", "boolean", "array", "object")}
_FORMATS = {"STRING": {"enum", "date-time"}, "NUMBER": {"float", "double"}, "INTEGER": {"int32", "int64"}}
_NUMERIC = ("minimum", "maximum")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


class GoogleGeminiParams(SharedParams):
    """Params of ``google_gemini`` beyond the shared ones (``parallel_tool_calls`` and ``service_tier``
    have no Gemini equivalent and are ignored)."""

    safety_settings: list[dict[str, Any]] | None = None
    """``safetySettings`` as Gemini takes them: ``[{"category": ..., "threshold": ...}]``."""
    include_thoughts: bool | None = None
    """Return thought summaries (on by default whenever thinking is asked for)."""
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None
    """Gemini 3 ``thinkingLevel``, when ``reasoning_effort`` does not map the way you want."""
    response_mime_type: str | None = None
    """``responseMimeType`` (``application/json`` for JSON mode without a schema)."""
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise tokens already present."""
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise repeated tokens by frequency."""
    cached_content: str | None = None
    """Name of a cached content (``cachedContents/...``) to use as the prompt prefix."""
    extra_body: dict[str, Any] | None = None
    """Extra top-level fields merged into the body as they are."""


def map_finish_reason(value: str | None, has_tool_calls: bool) -> FinishReason:
    """Map a Gemini ``finishReason`` to the unified set (absent: ``stop``; unknown values: ``error``)."""
    reason: FinishReason = "stop" if not value else _FINISH.get(value, "error")
    if reason == "stop" and has_tool_calls:
        return "tool_use"
    return reason


def _int(v: Any) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


def decode_usage(u: Mapping[str, Any] | None) -> Usage:
    """Usage from ``usageMetadata`` (see the module docstring for what each count includes)."""
    if not u:
        return Usage()
    prompt, cached = _int(u.get("promptTokenCount")), _int(u.get("cachedContentTokenCount"))
    thoughts = _int(u.get("thoughtsTokenCount"))
    cached = min(cached, prompt)
    return Usage(
        input_tokens=prompt - cached + _int(u.get("toolUsePromptTokenCount")),
        output_tokens=_int(u.get("candidatesTokenCount")) + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def _has_counts(u: Any) -> bool:
    return isinstance(u, Mapping) and any(k.endswith("TokenCount") for k in u)


def _version(model: ModelInfo) -> tuple[int, int] | None:
    m = _VERSION.search(model.id)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


# -- JSON Schema -> Gemini Schema ------------------------------------------------------------------


def _is_null(s: Any) -> bool:
    return isinstance(s, Mapping) and s.get("type") == "null" and len(s) == 1


class _SchemaConverter:
    """Converts JSON Schema to the OpenAPI 3.0 subset of Gemini's ``Schema`` message.

    ``$ref`` is inlined from ``$defs`` / ``definitions`` (a recursive reference becomes a plain
    object), ``allOf`` is merged, ``anyOf``/``oneOf``/type lists with ``null`` become ``nullable``,
    ``const`` becomes a one-value ``enum``, non-string enums move into the description, and keys and
    formats Gemini does not take (``additionalProperties``, ``$schema``, ``title``, ``default``,
    ``format: email``...) are dropped. An array without ``items`` gets string items (Gemini
    requires them).
    """

    def __init__(self, root: Mapping[str, Any]) -> None:
        defs: dict[str, Any] = {}
        for key in ("definitions", "$defs"):
            if isinstance(root.get(key), Mapping):
                defs.update({f"#/{key}/{k}": v for k, v in root[key].items()})
        self.defs = defs
        self.root = root

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        if ref == "#":
            return self.root
        target = self.defs.get(ref)
        if not isinstance(target, Mapping):
            raise InvalidMessage(f"google_gemini: cannot resolve schema reference {ref!r}")
        return target

    def convert(self, s: Any, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(s, Mapping):
            return {}
        ref = s.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return {"type": "OBJECT"}
            siblings = {k: v for k, v in s.items() if k != "$ref"}
            return self.convert({**self._resolve(ref), **siblings}, (*seen, ref))
        if isinstance(s.get("allOf"), list):
            merged: dict[str, Any] = {k: v for k, v in s.items() if k != "allOf"}
            for sub in s["allOf"]:
                merged = _merge(merged, self._deref(sub))
            return self.convert(merged, seen)
        for key in ("anyOf", "oneOf"):
            if isinstance(s.get(key), list):
                return self._alternatives(s, s[key], seen)
        typ = s.get("type")
        if isinstance(typ, list):
            kinds = [t for t in typ if t != "null"]
            if len(kinds) > 1:
                alts = [{**s, "type": k} for k in kinds] + ([{"type": "null"}] if "null" in typ else [])
                return self._alternatives({k: v for k, v in s.items() if k != "type"}, alts, seen)
            out = self.convert({**s, "type": kinds[0] if kinds else "null"}, seen)
            if "null" in typ:
                out["nullable"] = True
            return out
        return self._plain(s, seen)

    def _deref(self, s: Any) -> Mapping[str, Any]:
        while isinstance(s, Mapping) and isinstance(s.get("$ref"), str):
            s = {**self._resolve(s["$ref"]), **{k: v for k, v in s.items() if k != "$ref"}}
        return s if isinstance(s, Mapping) else {}

    def _alternatives(self, s: Mapping[str, Any], alts: list[Any], seen: tuple[str, ...]) -> dict[str, Any]:
        rest = [a for a in alts if not _is_null(self._deref(a))]
        annotations = {k: s[k] for k in ("description",) if k in s}
        if len(rest) == 1:
            out = self.convert({**self._deref(rest[0]), **annotations}, seen)
        else:
            out = {"anyOf": [self.convert(a, seen) for a in rest], **annotations}
        if len(rest) < len(alts) or s.get("nullable") is True:
            out["nullable"] = True
        return out

    def _plain(self, s: Mapping[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
        typ = s.get("type")
        enum = [s["const"]] if "const" in s else s.get("enum")
        if typ is None:
            typ = "object" if "properties" in s else "array" if "items" in s else "string" if enum else None
        gtype = _TYPES.get(str(typ)) if typ != "null" else "STRING"
        out: dict[str, Any] = {"type": gtype} if gtype else {}
        if typ == "null" or s.get("nullable") is True:
            out["nullable"] = True
        description = s.get("description")
        if isinstance(enum, list) and enum:
            if all(isinstance(v, str) for v in enum) and gtype in (None, "STRING"):
                out["type"], out["enum"] = "STRING", list(enum)
            else:  # Gemini enums are string-only: keep the allowed values as a hint
                hint = "Allowed values: " + ", ".join(json.dumps(v) for v in enum)
                description = f"{description} ({hint})" if description else hint
        if isinstance(description, str) and description:
            out["description"] = description
        _constraints(s, gtype, out)
        props = s.get("properties")
        if isinstance(props, Mapping) and (gtype in (None, "OBJECT")):
            out["type"] = "OBJECT"
            out["properties"] = {str(k): self.convert(v, seen) for k, v in props.items()}
            required = [r for r in s.get("required") or () if r in props]
            if required:
                out["required"] = required
        if out.get("type") == "ARRAY":
            items = s.get("items")
            if isinstance(items, list):  # tuple validation: Gemini has one item schema
                items = items[0] if items else None
            converted = self.convert(items, seen) if isinstance(items, Mapping) else {}
            out["items"] = converted if converted.get("type") or converted.get("anyOf") else {"type": "STRING"}
        return out


def _constraints(s: Mapping[str, Any], gtype: str | None, out: dict[str, Any]) -> None:
    """Copy the formats and bounds Gemini's Schema has (numbers for bounds, integers for counts)."""
    fmt = s.get("format")
    if gtype and isinstance(fmt, str) and fmt in _FORMATS.get(gtype, ()):
        out["format"] = fmt
    for key in _NUMERIC:
        if isinstance(s.get(key), (int, float)) and not isinstance(s.get(key), bool):
            out[key] = s[key]
    for key in _COUNTS:
        if isinstance(s.get(key), int) and not isinstance(s.get(key), bool):
            out[key] = s[key]
    if isinstance(s.get("pattern"), str):
        out["pattern"] = s["pattern"]


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Shallow ``allOf`` merge: properties and required lists are united, other keys of ``b`` win."""
    out = {**a, **b}
    if isinstance(a.get("properties"), Mapping) and isinstance(b.get("properties"), Mapping):
        out["properties"] = {**a["properties"], **b["properties"]}
    if a.get("required") or b.get("required"):
        out["required"] = list(dict.fromkeys([*(a.get("required") or ()), *(b.get("required") or ())]))
    return out


def to_gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a JSON Schema to the subset Gemini's ``Schema`` (``parameters``, ``responseSchema``) accepts.

    Args:
        schema: A JSON Schema dict (``$defs``/``definitions`` at the root are used for ``$ref``).

    Returns:
        The converted schema (types upper-case, unsupported keys dropped).

    Raises:
        InvalidMessage: a ``$ref`` points outside the schema's own definitions.
    """
    return _SchemaConverter(schema).convert(schema)


# -- encoding ------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _media_part(p: ImagePart | DocumentPart) -> dict[str, Any]:
    if p.data is not None:
        return {"inlineData": {"mimeType": p.media_type, "data": _b64(p.data)}}
    url = p.url or ""
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
    return {"fileData": {"mimeType": guessed or p.media_type, "fileUri": url}}


class _Encoder:
    """Turns our messages into ``systemInstruction`` + ``contents`` for one model."""

    def __init__(self, model: ModelInfo) -> None:
        self.provider = model.provider
        flag = model.compat.get("thought_signature_required")
        version = _version(model)
        self.placeholder = bool(flag) if flag is not None else bool(version and version[0] >= 3)
        self.names: dict[str, str] = {}  # tool-call id -> tool name
        self.gemini_ids: dict[str, str] = {}  # tool-call id -> the id Gemini gave it

    def encode(self, messages: Sequence[Message]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        system: list[dict[str, Any]] = []
        contents: list[dict[str, Any]] = []
        pending: dict[str, str] = {}  # calls of the last model turn still waiting for a result
        for msg in messages:
            if msg.role != "tool_result" and pending:
                self._missing_results(contents, pending)
            if msg.role == "system":
                if msg.text:
                    system.append({"text": msg.text})
            elif msg.role == "user":
                _add(contents, "user", self.user_parts(msg))
            elif msg.role == "assistant":
                _add(contents, "model", self.model_parts(msg))
                pending = {tc.id: tc.name for tc in msg.tool_calls}
            else:
                pending.pop(msg.tool_call_id or "", None)
                _add(contents, "user", self.result_parts(msg))
        if pending:
            self._missing_results(contents, pending)
        return ({"parts": system} if system else None), contents

    def _missing_results(self, contents: list[dict[str, Any]], pending: dict[str, str]) -> None:
        # Gemini wants one functionResponse per functionCall of the turn: tell the model instead of a 400.
        for call_id, name in pending.items():
            msg = Message.tool_result(call_id, "No result was provided for this tool call.", name=name, is_error=True)
            _add(contents, "user", self.result_parts(msg))
        pending.clear()

    def user_parts(self, msg: Message) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in msg.parts:
            if isinstance(p, TextPart):
                if p.text:
                    out.append({"text": p.text})
            elif isinstance(p, (ImagePart, DocumentPart)):
                out.append(_media_part(p))
            else:
                raise InvalidMessage(f"google_gemini: a user message cannot hold a {p.kind} part")
        return out

    def model_parts(self, msg: Message) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in msg.parts:
            if isinstance(p, TextPart):
                if p.text:
                    out.append({"text": p.text})
            elif isinstance(p, ThinkingPart):
                self._thinking(out, p)
            elif isinstance(p, ToolCall):
                out.append(self._call(p))
            else:
                out.append(_media_part(p))
        calls = [part for part in out if "functionCall" in part]
        if self.placeholder and calls and "thoughtSignature" not in calls[0]:
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE
        return out

    def _call(self, tc: ToolCall) -> dict[str, Any]:
        data = tc.provider_data or {}
        self.names[tc.id] = tc.name
        fc: dict[str, Any] = {"name": tc.name, "args": dict(tc.arguments)}
        if data.get("gemini_id") == tc.id:
            fc["id"] = tc.id
            self.gemini_ids[tc.id] = tc.id
        part: dict[str, Any] = {"functionCall": fc}
        sig = data.get("thought_signature")
        if isinstance(sig, str) and sig:
            part["thoughtSignature"] = sig
        return part

    def _thinking(self, out: list[dict[str, Any]], p: ThinkingPart) -> None:
        data = p.provider_data or {}
        kind = data.get(_MARK)
        if kind is None or p.provider not in (None, self.provider):
            if p.text and not p.redacted:  # another provider's reasoning: plain text, never a signature
                out.append({"text": p.text})
            return
        raw = data.get("part")
        if kind == "part" and isinstance(raw, Mapping):
            out.append(json.loads(json.dumps(raw)))
        elif kind == "text_signature" and p.signature:
            last = out[-1] if out else None
            if last is not None and "text" in last and not last.get("thought") and "thoughtSignature" not in last:
                last["thoughtSignature"] = p.signature
            else:
                out.append({"text": "", "thoughtSignature": p.signature})
        elif kind == "thought":
            part: dict[str, Any] = {"text": p.text, "thought": True}
            if p.signature:
                part["thoughtSignature"] = p.signature
            if p.text or p.signature:
                out.append(part)

    def result_parts(self, msg: Message) -> list[dict[str, Any]]:
        call_id = msg.tool_call_id or ""
        name = msg.name or self.names.get(call_id)
        if not name:
            raise InvalidMessage(
                f"google_gemini: the tool result for call {call_id!r} needs the tool name "
                "(Message.tool_result(..., name=...)): Gemini matches results by name"
            )
        fr: dict[str, Any] = {"name": name, "response": {"error" if msg.is_error else "result": msg.text}}
        if call_id in self.gemini_ids:
            fr["id"] = self.gemini_ids[call_id]
        out: list[dict[str, Any]] = [{"functionResponse": fr}]
        out.extend(_media_part(p) for p in msg.parts if isinstance(p, (ImagePart, DocumentPart)))
        return out


def _has_results(parts: list[dict[str, Any]]) -> bool:
    return any("functionResponse" in p for p in parts)


def _add(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    # Function responses of one turn share a content; they are never mixed with plain user turns
    # (recorded traffic never does; consecutive contents of one role are accepted).
    if not parts:
        return
    if contents and contents[-1]["role"] == role and _has_results(contents[-1]["parts"]) == _has_results(parts):
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _thinking_config(params: Mapping[str, Any], model: ModelInfo) -> dict[str, Any] | None:
    budget, effort = params.get("reasoning_budget"), params.get("reasoning_effort")
    level, include = params.get("thinking_level"), params.get("include_thoughts")
    fmt = model.compat.get("thinking_format")
    version = _version(model)
    levels = fmt == "level" if fmt is not None else bool(version and version[0] >= 3)
    pro = "pro" in model.id
    cfg: dict[str, Any] = {}
    on = False
    if budget is not None:
        cfg["thinkingBudget"], on = budget, budget != 0
    elif level is not None:
        cfg["thinkingLevel"], on = level.upper(), True
    elif effort is not None:
        on = effort != "none"
        if levels:
            value = _LEVELS[effort]
            cfg["thinkingLevel"] = "LOW" if value == "MINIMAL" and pro else value
        else:  # 2.5 Pro cannot switch thinking off (its least budget is 128); Flash tops out at 24576
            cfg["thinkingBudget"] = max(_BUDGETS[effort], 128) if pro else min(_BUDGETS[effort], 24576)
    if include is not None:
        cfg["includeThoughts"] = include
    elif on:
        cfg["includeThoughts"] = True
    return cfg or None


# -- stream state and decoding -------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[(['\"])(.*?)\3\]")


def _parse_path(path: Any) -> list[str | int] | None:
    """``$.a.b[0]['c d']`` -> ``["a", "b", 0, "c d"]`` (None when it is not such a path)."""
    if not isinstance(path, str) or not path.startswith("$"):
        return None
    out: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        if m is None:
            return None
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)) if m.group(2) is not None else m.group(4))
        pos = m.end()
    return out or None


def _set_path(root: dict[str, Any], path: list[str | int], value: Any, append: bool) -> None:
    """Set ``value`` at ``path`` in ``root`` (creating containers); ``append`` extends a string value."""
    node: Any = root
    for i, tok in enumerate(path):
        if isinstance(tok, int):
            if not isinstance(node, list):
                return
            while len(node) <= tok:
                node.append(None)
            old = node[tok]
        else:
            if not isinstance(node, dict):
                return
            old = node.get(tok)
        if i == len(path) - 1:
            node[tok] = old + value if append and isinstance(old, str) else value
            return
        if not isinstance(old, (dict, list)):
            old = [] if isinstance(path[i + 1], int) else {}
            node[tok] = old
        node = old


class _Container:
    __slots__ = ("count", "is_array", "keys", "token")

    def __init__(self, token: str | int | None, is_array: bool) -> None:
        self.token = token
        self.is_array = is_array
        self.count = 0
        self.keys: set[str] = set()


class _ArgsWriter:
    """Writes streamed ``partialArgs`` (JSON path + value) as JSON text, fragment by fragment.

    Paths arrive in document order; a string value may come in pieces (``willContinue``). The
    structured value is kept too, so a stream that jumps back to a closed container still ends
    with the right arguments (``broken`` then stops the incremental text).
    """

    def __init__(self) -> None:
        self.value: dict[str, Any] = {}
        self.stack: list[_Container] = []
        self.open_string: tuple[str | int, ...] | None = None
        self.broken = False
        self.text: list[str] = []

    def add(self, path: list[str | int], value: Any, is_string: bool, more: bool) -> str:
        _set_path(self.value, path, value, is_string)
        if self.broken:
            return ""
        out: list[str] = []
        if not self.stack:
            out.append("{")
            self.stack.append(_Container(None, False))
        key = tuple(path)
        if self.open_string is not None:
            if self.open_string == key and is_string:
                out.append(json.dumps(value, ensure_ascii=False)[1:-1] + ("" if more else '"'))
                self.open_string = None if not more else key
                return self._emit(out)
            out.append('"')
            self.open_string = None
        parents = path[:-1]
        common = 0
        while (
            common < len(parents) and common + 1 < len(self.stack) and self.stack[common + 1].token == parents[common]
        ):
            common += 1
        while len(self.stack) > common + 1:
            out.append("]" if self.stack.pop().is_array else "}")
        for i in range(common, len(parents)):
            if not self._member(parents[i], out):
                return self._break()
            is_array = isinstance(path[i + 1], int)
            out.append("[" if is_array else "{")
            self.stack.append(_Container(parents[i], is_array))
        if not self._member(path[-1], out):
            return self._break()
        if is_string:
            out.append('"' + json.dumps(value, ensure_ascii=False)[1:-1] + ("" if more else '"'))
            self.open_string = key if more else None
        else:
            out.append(json.dumps(value, ensure_ascii=False))
        return self._emit(out)

    def _member(self, tok: str | int, out: list[str]) -> bool:
        parent = self.stack[-1]
        if parent.is_array:
            if not isinstance(tok, int) or tok < parent.count:
                return False
            while parent.count < tok:  # a skipped index: keep positions with null
                out.append(("," if parent.count else "") + "null")
                parent.count += 1
            out.append("," if parent.count else "")
            parent.count = tok + 1
            return True
        if not isinstance(tok, str) or tok in parent.keys:
            return False
        out.append(("," if parent.keys else "") + json.dumps(tok, ensure_ascii=False) + ":")
        parent.keys.add(tok)
        return True

    def _emit(self, out: list[str]) -> str:
        text = "".join(out)
        self.text.append(text)
        return text

    def _break(self) -> str:
        self.broken = True
        return ""

    def close(self) -> str:
        """The closing fragment (``"{}"`` when no argument came)."""
        if self.broken:
            return ""
        out = ['"'] if self.open_string is not None else []
        if not self.stack:
            out.append("{}")
        while self.stack:
            out.append("]" if self.stack.pop().is_array else "}")
        return self._emit(out)

    def ok(self) -> bool:
        """True when the text written equals the structured value."""
        if self.broken:
            return False
        try:
            return bool(json.loads("".join(self.text)) == self.value)
        except ValueError:
            return False


class _GeminiStream(StreamAccumulator):
    """Stream state: the accumulator plus finish data, the open streamed call and a pending signature."""

    def __init__(self) -> None:
        super().__init__()
        self.finish_reason: str | None = None
        self.finish_message: str | None = None
        self.block_reason: str | None = None
        self.keys = 0  # block keys made so far
        self.last: str = ""  # kind of the last part routed: text, thought, call, other
        self.thought_key: tuple[str, int] = ("thought", 0)
        self.thought_signed = False  # the open thought block already carries a signature
        self.text_signature: str | None = None  # a text part's signature, waiting for its text to end
        self.call_key: tuple[str, int] | None = None  # a Vertex streamed call (partialArgs) still open
        self.call_block = -1
        self.writer: _ArgsWriter | None = None

    def new_key(self, kind: str) -> tuple[str, int]:
        self.keys += 1
        return (kind, self.keys)

    def flush_signature(self) -> None:
        """Attach a pending text signature, as a signature-only thinking part after its text."""
        sig, self.text_signature = self.text_signature, None
        if sig:
            self.thinking(key=self.new_key("sig"), signature=sig, provider_data={_MARK: "text_signature"})
            self.last = "other"

    def close_call(self) -> None:
        """Close a streamed (``partialArgs``) call: final fragment, checked against the structured value."""
        key, writer = self.call_key, self.writer
        if key is None or writer is None:
            return
        self.tool_call(key, arguments=writer.close())
        if not writer.ok():
            # The fragments could not express the arguments (paths out of document order): the
            # structured value is the truth, so the block's raw text is replaced by it.
            self.blocks[self.call_block].chunks[:] = [json.dumps(writer.value, ensure_ascii=False)]
        self.end_key(key)
        self.call_key, self.writer = None, None

    def close_all(self) -> None:
        """Flush what may still be pending before the stream ends."""
        self.close_call()
        self.flush_signature()


def _call_id(fc: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    given = fc.get("id")
    if isinstance(given, str) and given:
        return given, {"gemini_id": given}
    return f"call_{uuid.uuid4().hex}", {}


def _partial_value(arg: Mapping[str, Any]) -> tuple[Any, bool]:
    """(value, is_string) of one ``partialArgs`` entry."""
    if "stringValue" in arg:
        return str(arg["stringValue"]), True
    for key in ("numberValue", "boolValue", "structValue", "listValue"):
        if key in arg:
            return arg[key], False
    return None, False


def _route_call(acc: _GeminiStream, fc: Mapping[str, Any], sig: str | None) -> None:
    name = fc.get("name")
    if not name:  # a continuation of the open streamed call (or a keep-alive)
        if acc.call_key is not None and acc.writer is not None:
            for arg in fc.get("partialArgs") or ():
                path = _parse_path(arg.get("jsonPath"))
                if path is None:
                    continue
                value, is_string = _partial_value(arg)
                fragment = acc.writer.add(path, value, is_string, bool(arg.get("willContinue")))
                if fragment:
                    acc.tool_call(acc.call_key, arguments=fragment)
            if not fc.get("willContinue"):
                acc.close_call()
        return
    acc.close_call()
    call_id, data = _call_id(fc)
    if sig:
        data["thought_signature"] = sig
    key = acc.new_key("call")
    args = fc.get("args")
    if fc.get("willContinue") and args is None:
        acc.tool_call(key, id=call_id, name=str(name), provider_data=data or None)
        acc.call_key, acc.call_block, acc.writer = key, len(acc.blocks) - 1, _ArgsWriter()
        return
    text = json.dumps(args if isinstance(args, Mapping) else {}, ensure_ascii=False)
    acc.tool_call(key, id=call_id, name=str(name), arguments=text, provider_data=data or None)
    acc.end_key(key)


def _route_part(acc: _GeminiStream, part: Mapping[str, Any]) -> None:
    sig = part.get("thoughtSignature") if isinstance(part.get("thoughtSignature"), str) else None
    text = part.get("text")
    if "functionCall" in part and isinstance(part["functionCall"], Mapping):
        acc.flush_signature()
        _route_call(acc, part["functionCall"], sig)
        acc.last = "call"
    elif isinstance(text, str) and part.get("thought"):
        acc.close_call()
        acc.flush_signature()
        if acc.last != "thought" or acc.thought_signed:
            acc.thought_key, acc.thought_signed = acc.new_key("thought"), False
        acc.thinking(text, key=acc.thought_key, signature=sig, provider_data={_MARK: "thought"})
        acc.thought_signed = acc.thought_signed or bool(sig)
        acc.last = "thought"
    elif isinstance(text, str):
        acc.close_call()
        if sig and acc.text_signature:
            acc.flush_signature()
        if text:
            acc.text(text)
            acc.last = "text"
        if sig:
            acc.text_signature = sig
    elif part:
        # executableCode, codeExecutionResult, server-side tool calls...: kept whole for a replay.
        acc.close_call()
        acc.flush_signature()
        acc.thinking(key=acc.new_key("part"), provider_data={_MARK: "part", "part": dict(part)})
        acc.last = "other"


def _route_chunk(acc: _GeminiStream, payload: Mapping[str, Any]) -> None:
    acc.raw = payload
    if acc.id is None and isinstance(payload.get("responseId"), str):
        acc.id = payload["responseId"]
    if isinstance(payload.get("modelVersion"), str):
        acc.model = payload["modelVersion"]
    usage = payload.get("usageMetadata")
    if _has_counts(usage):
        acc.usage = decode_usage(usage)
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, Mapping) and feedback.get("blockReason"):
        acc.block_reason = str(feedback["blockReason"])
    candidates = payload.get("candidates")
    if not isinstance(candidates, list):
        return
    cand = next((c for c in candidates if isinstance(c, Mapping) and c.get("index", 0) == 0), None)
    if cand is None:
        return
    content = cand.get("content")
    for part in (content.get("parts") if isinstance(content, Mapping) else None) or ():
        if isinstance(part, Mapping):
            _route_part(acc, part)
    if cand.get("finishReason"):
        acc.finish_reason = acc.provider_finish_reason = str(cand["finishReason"])
        acc.finish_message = cand.get("finishMessage")


def _error_of(payload: Any) -> Mapping[str, Any] | None:
    if isinstance(payload, list) and payload:
        payload = payload[0]
    err = payload.get("error") if isinstance(payload, Mapping) else None
    return err if isinstance(err, Mapping) else None


def gemini_error(body: Any) -> tuple[str, str | None] | None:
    """``(message, status)`` of a Google error body (``{"error": {"code", "message", "status"}}``,
    possibly inside a one-element list), or None for another shape. A 503 whose message says the model
    is overloaded gets the type ``UNAVAILABLE (overloaded)`` so the pipeline raises ``Overloaded``."""
    err = _error_of(body)
    if err is None:
        return None
    message = str(err.get("message") or err.get("status") or "Gemini API error")
    kind = err.get("status")
    err_type = None if kind is None else str(kind)
    if err_type == "UNAVAILABLE" and "overloaded" in message.lower():
        err_type = "UNAVAILABLE (overloaded)"
    return message, err_type


class GoogleGemini(WireProtocol):
    """The ``google_gemini`` wire protocol (Gemini API ``generateContent``)."""

    name = "google_gemini"
    stream_transport = "sse"

    @classmethod
    @override
    def param_schema(cls) -> type[GoogleGeminiParams]:
        return GoogleGeminiParams

    @override
    def request_path(self, request: Request) -> str:
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        collection = "" if "/" in request.model.id else "/models"
        return f"{collection}/{{model}}:{method}"

    # -- encode --------------------------------------------------------------------------------
    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        model, params = request.model, request.params
        system, contents = _Encoder(model).encode(request.messages)
        body: dict[str, Any] = {"contents": contents}
        if system is not None:
            body["systemInstruction"] = system
        if request.tools:
            body["tools"] = self.encode_tools(request.tools)
            if "tool_choice" in params:
                body["toolConfig"] = {"functionCallingConfig": self._tool_choice(params["tool_choice"])}
        config = self._generation_config(params, model)
        if request.response_schema is not None:
            config.update(self.encode_response_schema(request.response_schema, request.schema_name, model))
        if config:
            body["generationConfig"] = config
        if params.get("safety_settings"):
            body["safetySettings"] = list(params["safety_settings"])
        if params.get("cached_content"):
            body["cachedContent"] = params["cached_content"]
        if params.get("extra_body"):
            body.update(params["extra_body"])
        return body

    @staticmethod
    def _generation_config(params: Mapping[str, Any], model: ModelInfo) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for key, field in (
            ("temperature", "temperature"),
            ("top_p", "topP"),
            ("top_k", "topK"),
            ("max_tokens", "maxOutputTokens"),
            ("seed", "seed"),
            ("presence_penalty", "presencePenalty"),
            ("frequency_penalty", "frequencyPenalty"),
            ("response_mime_type", "responseMimeType"),
        ):
            if key in params:
                config[field] = params[key]
        if "stop" in params:
            stop = params["stop"]
            config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
        thinking = _thinking_config(params, model)
        if thinking:
            config["thinkingConfig"] = thinking
        return config

    @staticmethod
    def _tool_choice(choice: Any) -> dict[str, Any]:
        if isinstance(choice, Mapping):
            return dict(choice)
        modes = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}
        if choice in modes:
            return {"mode": modes[choice]}
        return {"mode": "ANY", "allowedFunctionNames": [str(choice)]}

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        declarations = []
        for t in tools:
            decl: dict[str, Any] = {"name": t.name}
            if t.description:
                decl["description"] = t.description
            params = to_gemini_schema(t.json_schema())
            if params.get("properties"):  # Gemini refuses an OBJECT without properties: leave it out
                decl["parameters"] = params
            declarations.append(decl)
        return [{"functionDeclarations": declarations}]

    @override
    def encode_response_schema(
        self, schema: Mapping[str, Any], name: str = "response", model: ModelInfo | None = None
    ) -> dict[str, Any]:
        field = model.compat.get("response_schema_field") if model is not None else None
        if field == "responseSchema":
            return {"responseMimeType": "application/json", "responseSchema": to_gemini_schema(schema)}
        return {
            "responseMimeType": "application/json",
            "responseJsonSchema": {k: v for k, v in schema.items() if k != "$schema"},
        }

    # -- decode --------------------------------------------------------------------------------
    @override
    def decode_response(self, body: Any) -> Response:
        acc = _GeminiStream()
        for chunk in body if isinstance(body, list) else [body]:
            if isinstance(chunk, Mapping):
                _route_chunk(acc, chunk)
        acc.close_all()
        resp = acc.finish(self._reason(acc))
        resp.raw = body
        return resp

    @staticmethod
    def _reason(acc: _GeminiStream) -> FinishReason:
        if acc.finish_reason is None and acc.block_reason is not None:
            acc.provider_finish_reason = acc.block_reason
            return "content_filter"
        return map_finish_reason(acc.finish_reason, any(b.kind == "tool_call" for b in acc.blocks))

    @override
    def init_stream(self) -> _GeminiStream:
        return _GeminiStream()

    @override
    def decode_stream_chunk(self, state: Any, event: Any) -> StreamResult:
        acc: _GeminiStream = state
        data: str = event.data
        if data.strip() == "[DONE]":  # not Gemini's, but some proxies add it
            return self.end_of_stream(acc)
        payload = json.loads(data)
        err = _error_of(payload)
        if err is not None:
            return self._stream_error(acc, err, payload)
        for chunk in payload if isinstance(payload, list) else [payload]:
            if isinstance(chunk, Mapping):
                _route_chunk(acc, chunk)
        return StreamContinue(acc, acc.drain())

    @override
    def end_of_stream(self, state: Any) -> StreamResult:
        acc: _GeminiStream = state
        if acc.finish_reason is None and acc.block_reason is None:
            return super().end_of_stream(acc)
        acc.close_all()
        reason = self._reason(acc)
        if reason == "error":
            detail = f": {acc.finish_message}" if acc.finish_message else ""
            exc = StreamError(
                f"Gemini stopped with {acc.finish_reason}{detail}", provider=acc.provider, model=acc.model, body=acc.raw
            )
            acc.fail(exc)
            return StreamFailed(exc, acc.drain())
        return StreamDone(acc.finish(reason), acc.drain())

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        return gemini_error(body) or super().decode_error(status, body)

    def _stream_error(self, acc: _GeminiStream, err: Mapping[str, Any], payload: Any) -> StreamFailed:
        message, err_type = self.decode_error(200, payload)
        code = err.get("code")
        exc = StreamError(
            message,
            status_code=code if isinstance(code, int) else None,
            provider=acc.provider,
            model=acc.model,
            body=payload,
        )
        exc.error_type = err_type  # type: ignore[attr-defined]
        acc.close_all()
        acc.fail(exc)
        return StreamFailed(exc, acc.drain())
