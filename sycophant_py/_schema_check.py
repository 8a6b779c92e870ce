"""Checking the JSON Schemas callers hand in (tool parameters, response schemas) before anything is sent.

A schema is checked against the meta-schema of the draft it declares with ``$schema`` (draft
2020-12 when it declares none), formats included (a ``pattern`` that is not a regex is caught);
an unknown ``$schema`` is refused rather than guessed; every local ``$ref`` (``#/...``) must
resolve inside the schema; and a tool's parameters must describe an object (the model's
arguments are a JSON object, and a tool function is called with them as keywords). The most
relevant problem is raised as :class:`InvalidSchema` naming the tool (or "response schema") and
the place in the schema as a JSON pointer.

Checks are cached per schema *object* (by identity; the object is kept alive by the cache so its
id cannot be reused), so a tool loop or a repeated call with the same tools pays for the check
once. A schema mutated in place after its first check is not checked again. The validators the
tool loop uses for arguments are cached the same way. Nothing here imports jsonschema until a
schema is actually checked, so building a ``Tool`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sycophant_py._exceptions import InvalidSchema

if TYPE_CHECKING:
    from sycophant_py._types import Tool

__all__ = ["arguments_validator", "check_parameters_shape", "check_response_schema", "check_tool"]

_MAX_CACHED = 1024
_checked: dict[int, object] = {}
_validators: dict[int, tuple[object, Any]] = {}
# Keys whose values are data, not subschemas: a "$ref" inside them is not a reference.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def _remember(cache: dict[int, Any], key: object, value: Any) -> None:
    if len(cache) >= _MAX_CACHED:
        cache.clear()  # rare: more distinct schemas than any real program builds
    cache[id(key)] = value


def pointer(path: Any) -> str:
    """A JSON pointer (RFC 6901) for a sequence of keys and indices."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def check_parameters_shape(tool: str, parameters: Any) -> None:
    """The cheap checks a ``Tool`` makes when it is built (no jsonschema import).

    Raises:
        InvalidSchema: ``parameters`` is neither None, a mapping nor a pydantic model class, or
            its root declares a type other than ``object``.
    """
    if parameters is None:
        return
    if isinstance(parameters, Mapping):
        _check_object_root(parameters, f"tool {tool!r}: parameters", tool)
        return
    if not isinstance(parameters, type) or not hasattr(parameters, "model_json_schema"):
        raise InvalidSchema(
            f"tool {tool!r}: parameters must be a JSON Schema dict or a pydantic model class, "
            f"not {type(parameters).__name__}",
            tool=tool,
        )


def _check_object_root(schema: Mapping[str, Any], where: str, tool: str | None) -> None:
    declared = schema.get("type")
    if declared is None or declared == "object" or (isinstance(declared, list) and "object" in declared):
        return
    raise InvalidSchema(
        f"{where} must describe an object (JSON Schema 'type': 'object'), not {declared!r} at /type",
        tool=tool,
        path="/type",
    )


def check_tool(tool: Tool) -> None:
    """Check a tool's parameters schema once per schema object.

    Raises:
        InvalidSchema: the schema is not valid JSON Schema, a local ``$ref`` does not resolve,
            or it does not describe an object.
    """
    params = tool.parameters
    if params is None or _checked.get(id(params)) is params:
        return
    where = f"tool {tool.name!r}: parameters"
    check_parameters_shape(tool.name, params)
    schema = tool.json_schema()
    _check_object_root(schema, where, tool.name)
    _meta_check(schema, where, tool.name)
    _remember(_checked, params, params)


def check_response_schema(original: object, schema: Mapping[str, Any]) -> None:
    """Check a ``generate_object`` schema once per schema object (``original``: the dict or class given).

    Raises:
        InvalidSchema: the schema is not valid JSON Schema or a local ``$ref`` does not resolve.
    """
    if _checked.get(id(original)) is original:
        return
    _meta_check(schema, "response schema", None)
    _remember(_checked, original, original)


def _validator_class(schema: Mapping[str, Any], where: str, tool: str | None) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    declared = schema.get("$schema")
    if declared is None:
        return Draft202012Validator
    cls = validator_for(schema, default=None) if isinstance(declared, str) else None  # type: ignore[arg-type]  # the stubs refuse default=None, which jsonschema documents
    if cls is None:
        raise InvalidSchema(
            f"{where}: unknown $schema {declared!r} at /$schema (known: the meta-schema URIs of JSON Schema "
            "drafts 3, 4, 6, 7, 2019-09 and 2020-12; leave it out for 2020-12)",
            tool=tool,
            path="/$schema",
        )
    return cls


def _meta_check(schema: Mapping[str, Any], where: str, tool: str | None) -> None:
    """Validate ``schema`` against its draft's meta-schema, then its local references."""
    from jsonschema.exceptions import best_match

    cls = _validator_class(schema, where, tool)
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    error = best_match(meta.iter_errors(dict(schema)))
    if error is not None:
        at = pointer(error.absolute_path)
        draft = cls.META_SCHEMA.get("$id") or cls.META_SCHEMA.get("id") or cls.__name__
        raise InvalidSchema(
            f"{where} are not valid JSON Schema at {at or '/'} (checked against {draft}): {error.message}",
            tool=tool,
            path=at,
        )
    _check_local_refs(schema, schema, (), where, tool)


def _check_local_refs(root: Any, node: Any, path: tuple[Any, ...], where: str, tool: str | None) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _check_local_refs(root, item, (*path, i), where, tool)
        return
    if not isinstance(node, Mapping) or (path and "$id" in node):
        return  # a nested $id starts another resource: its "#/..." refs are relative to it
    ref = node.get("$ref")
    local = isinstance(ref, str) and (ref == "#" or ref.startswith("#/"))
    if local and not _resolves(root, str(ref)):
        at = pointer((*path, "$ref"))
        raise InvalidSchema(f"{where}: $ref {ref!r} at {at} does not resolve inside the schema", tool=tool, path=at)
    for key, value in node.items():
        if key not in _DATA_KEYWORDS:
            _check_local_refs(root, value, (*path, key), where, tool)


def _resolves(root: Any, ref: str) -> bool:
    node = root
    for raw in ref[2:].split("/") if ref != "#" else ():
        key = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False
    return True


def arguments_validator(tool: Tool) -> Any:
    """A jsonschema validator for the tool's arguments, built once per schema object."""
    params = tool.parameters
    hit = _validators.get(id(params))
    if hit is not None and hit[0] is params:
        return hit[1]
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    schema = tool.json_schema()
    validator = validator_for(schema, default=Draft202012Validator)(schema)
    _remember(_validators, params, (params, validator))
    return validator
