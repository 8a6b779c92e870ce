"""What the docs sandbox answers: schema instances, what a chat request asks for, embedding bodies.

Pure functions (no I/O), used by :mod:`tests.docs_sandbox`:

- :func:`instance_of` builds a small JSON value that is valid against a JSON Schema (required
  properties, the first ``enum``/``const``/``anyOf`` branch, bounds respected), so a tool call's
  arguments and a structured-output answer validate;
- :func:`asked` reads a chat request of any built-in wire protocol into one :class:`Asked` view
  (streaming or not, the tools and their argument schemas, the tool choice, a structured-output
  schema);
- :func:`embedding_body` renders the answer of each embeddings endpoint, with deterministic vectors.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Asked", "asked", "embedding_body", "instance_of", "vector"]

_MAX_DEPTH = 6


# -- JSON Schema -> an instance ---------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/X``, ``#/definitions/X``) to its schema."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for key in ref[2:].split("/"):
        node = node.get(key, {}) if isinstance(node, Mapping) else {}
    return _resolve(node, root) if isinstance(node, Mapping) else {}


def _type_of(schema: Mapping[str, Any]) -> str:
    """The schema's type, lower-cased (Gemini writes ``STRING``), the first non-null of a list."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    if kind:
        return str(kind).lower()
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema else "string"


def _string(schema: Mapping[str, Any], name: str) -> str:
    formats = {"date-time": "2026-01-01T12:00:00Z", "date": "2026-01-01", "email": "docs@example.com"}
    text = formats.get(str(schema.get("format")), f"sample {name}")
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    text = text.ljust(low, "x")
    return text[: int(high)] if high is not None else text


def _number(schema: Mapping[str, Any], integer: bool) -> int | float:
    value: float = 1
    if "minimum" in schema:
        value = max(value, float(schema["minimum"]))
    if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool):
        value = max(value, float(schema["exclusiveMinimum"]) + 1)
    if "maximum" in schema:
        value = min(value, float(schema["maximum"]))
    return int(value) if integer else value


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    props: Mapping[str, Any] = schema.get("properties") or {}
    required = schema.get("required")
    names = list(props) if required is None else [n for n in required if n in props]
    return {n: instance_of(props[n], root=root, name=n, depth=depth + 1) for n in names}


def _branch(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first non-null branch of ``anyOf``/``oneOf``, or ``allOf`` merged into one schema."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
            return {**{k: v for k, v in schema.items() if k != key}, **(usable or options)[0]}
    parts = schema.get("allOf")
    if isinstance(parts, list) and parts:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in parts:
            merged.update(part)
        return merged
    return None


def instance_of(
    schema: Mapping[str, Any] | None, *, root: Mapping[str, Any] | None = None, name: str = "value", depth: int = 0
) -> Any:
    """A small value valid against ``schema`` (required properties only; every property when none are listed).

    Args:
        schema: A JSON Schema (or Gemini's OpenAPI subset); None or ``{}`` gives an empty object.
        root: The document ``$ref`` paths are resolved in (the schema itself at the top).
        name: The property name, used in sample strings (``"sample city"``).
        depth: Nesting depth; objects deeper than a few levels are left empty.
    """
    root = root if root is not None else (schema or {})
    schema = _resolve(schema or {}, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    branch = _branch(schema)
    if branch is not None:
        return instance_of(branch, root=root, name=name, depth=depth)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, depth) if depth < _MAX_DEPTH else {}
    if kind == "array":
        items = schema.get("items")
        count = max(int(schema.get("minItems", 1)), 1) if depth < _MAX_DEPTH else 0
        return [instance_of(items if isinstance(items, Mapping) else {}, root=root, name=name, depth=depth + 1)] * count
    simple: dict[str, Callable[[], Any]] = {
        "integer": lambda: _number(schema, integer=True),
        "number": lambda: _number(schema, integer=False),
        "boolean": lambda: True,
        "null": lambda: None,
    }
    return simple[kind]() if kind in simple else _string(schema, name)


# -- what a chat request asks for -------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A chat request, read the same way whatever its wire protocol."""

    stream: bool
    """The request wants a streamed answer."""
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Tool name -> JSON Schema of its arguments, in the order sent."""
    choice: str | None = None
    """``"none"``, a forced tool name, or None (the model decides)."""
    schema: dict[str, Any] | None = None
    """The schema of a JSON answer asked for as text (structured output), if any."""


def _openai_choice(choice: Any) -> str | None:
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        return str(fn["name"]) if isinstance(fn, Mapping) else str(choice.get("name") or "") or None
    return "none" if choice == "none" else None


def _ask_openai_chat(body: Mapping[str, Any], path: str) -> Asked:
    tools = {t["function"]["name"]: t["function"].get("parameters") or {} for t in body.get("tools") or ()}
    fmt = body.get("response_format") or {}
    schema = None
    if fmt.get("type") == "json_schema":
        schema = fmt["json_schema"].get("schema") or {}
    elif fmt.get("type") == "json_object":
        schema = fmt.get("schema") or {}
    return Asked(bool(body.get("stream")), tools, _openai_choice(body.get("tool_choice")), schema)


def _ask_openai_responses(body: Mapping[str, Any], path: str) -> Asked:
    tools = {t["name"]: t.get("parameters") or {} for t in body.get("tools") or () if t.get("type") == "function"}
    fmt = (body.get("text") or {}).get("format") or {}
    schema = fmt.get("schema") or {} if fmt.get("type") in ("json_schema", "json_object") else None
    return Asked(bool(body.get("stream")), tools, _openai_choice(body.get("tool_choice")), schema)


def _ask_anthropic(body: Mapping[str, Any], path: str) -> Asked:
    tools = {t["name"]: t.get("input_schema") or {} for t in body.get("tools") or () if "name" in t}
    choice = body.get("tool_choice") or {}
    forced = str(choice["name"]) if choice.get("type") == "tool" else "none" if choice.get("type") == "none" else None
    return Asked(bool(body.get("stream")), tools, forced)


def _ask_gemini(body: Mapping[str, Any], path: str) -> Asked:
    tools: dict[str, dict[str, Any]] = {}
    for tool in body.get("tools") or ():
        for decl in tool.get("functionDeclarations") or ():
            tools[decl["name"]] = decl.get("parametersJsonSchema") or decl.get("parameters") or {}
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = config.get("allowedFunctionNames") or []
    choice = "none" if config.get("mode") == "NONE" else str(allowed[0]) if len(allowed) == 1 else None
    gen = body.get("generationConfig") or {}
    schema = gen.get("responseJsonSchema", gen.get("responseSchema"))
    if schema is None and gen.get("responseMimeType") == "application/json":
        schema = {}
    return Asked(":streamGenerateContent" in path, tools, choice, schema)


def _ask_bedrock(body: Mapping[str, Any], path: str) -> Asked:
    config = body.get("toolConfig") or {}
    tools = {
        t["toolSpec"]["name"]: t["toolSpec"].get("inputSchema", {}).get("json") or {}
        for t in config.get("tools") or ()
        if "toolSpec" in t
    }
    forced = (config.get("toolChoice") or {}).get("tool")
    native = (body.get("outputConfig") or {}).get("textFormat", {}).get("structure", {}).get("jsonSchema")
    schema = json.loads(native["schema"]) if native else None
    return Asked(path.endswith("/converse-stream"), tools, str(forced["name"]) if forced else None, schema)


def _ask_ollama(body: Mapping[str, Any], path: str) -> Asked:
    tools = {t["function"]["name"]: t["function"].get("parameters") or {} for t in body.get("tools") or ()}
    fmt = body.get("format")
    schema = dict(fmt) if isinstance(fmt, Mapping) else {} if fmt == "json" else None
    return Asked(bool(body.get("stream", True)), tools, None, schema)


_ASK: dict[str, Callable[[Mapping[str, Any], str], Asked]] = {
    "openai_chat": _ask_openai_chat,
    "openai_responses": _ask_openai_responses,
    "anthropic_messages": _ask_anthropic,
    "google_gemini": _ask_gemini,
    "bedrock_converse": _ask_bedrock,
    "ollama_native": _ask_ollama,
}


def asked(protocol: str, body: Mapping[str, Any], path: str) -> Asked:
    """What a request of ``protocol`` (a built-in chat protocol) sent to ``path`` asks for."""
    return _ASK[protocol](body, path)


# -- embeddings -------------------------------------------------------------------------------

DEFAULT_DIMENSIONS = 8
"""The vector size when the request names none."""


def vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """A deterministic unit-ish vector for ``text`` (the same text always gets the same vector)."""
    seed = hashlib.sha256(text.encode()).digest()
    return [round((seed[i % len(seed)] - 127.5) / 127.5, 4) for i in range(dimensions)]


def _tokens(texts: list[str]) -> int:
    return sum(len(t.split()) for t in texts)


def _openai(body: Mapping[str, Any]) -> dict[str, Any]:
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else [str(t) for t in raw or ()]
    dims = int(body.get("dimensions") or DEFAULT_DIMENSIONS)
    vectors: list[Any] = [vector(t, dims) for t in texts]
    if body.get("encoding_format") == "base64":
        vectors = [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() for v in vectors]
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    usage = {"prompt_tokens": _tokens(texts), "total_tokens": _tokens(texts)}
    return {"object": "list", "data": data, "model": body.get("model", "docs-embed"), "usage": usage}


def _gemini_one(item: Mapping[str, Any]) -> dict[str, Any]:
    text = "".join(p.get("text", "") for p in item.get("content", {}).get("parts", ()))
    return {"values": vector(text, int(item.get("outputDimensionality") or DEFAULT_DIMENSIONS))}


def _gemini(body: Mapping[str, Any]) -> dict[str, Any]:
    if "requests" in body:
        return {"embeddings": [_gemini_one(r) for r in body["requests"]]}
    return {"embedding": _gemini_one(body)}


def _ollama(body: Mapping[str, Any]) -> dict[str, Any]:
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else [str(t) for t in raw or ()]
    dims = int(body.get("dimensions") or DEFAULT_DIMENSIONS)
    return {
        "model": body.get("model"),
        "embeddings": [vector(t, dims) for t in texts],
        "prompt_eval_count": _tokens(texts),
    }


def _bedrock(body: Mapping[str, Any]) -> dict[str, Any]:
    if "texts" in body:  # Cohere
        dims = int(body.get("output_dimension") or DEFAULT_DIMENSIONS)
        floats = [vector(t, dims) for t in body["texts"]]
        return {"id": "docs-embed", "texts": body["texts"], "embeddings": {"float": floats}}
    text = str(body.get("inputText", ""))  # Titan
    config = body.get("embeddingConfig") or {}
    dims = int(body.get("dimensions") or config.get("outputEmbeddingLength") or DEFAULT_DIMENSIONS)
    return {"embedding": vector(text, dims), "inputTextTokenCount": _tokens([text])}


_EMBED: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "openai_embed": _openai,
    "google_embed": _gemini,
    "ollama_embed": _ollama,
    "bedrock_embed": _bedrock,
}


def embedding_body(protocol: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer of the embeddings endpoint of ``protocol`` to the request ``body``."""
    return _EMBED[protocol](body)
