"""JSON Schema to the OpenAPI 3.0 subset of Gemini's ``Schema`` message (tool ``parameters`` and
``responseSchema``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sycophant_py._exceptions import InvalidMessage

__all__ = ["to_gemini_schema"]

_TYPES = {t: t.upper() for t in ("string", "number", "integer", "boolean", "array", "object")}
_FORMATS = {"STRING": {"enum", "date-time"}, "NUMBER": {"float", "double"}, "INTEGER": {"int32", "int64"}}
_NUMERIC = ("minimum", "maximum")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


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
