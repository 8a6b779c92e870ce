"""JSON Schema for a typed Python function: what ``Tool.from_function`` builds.

Parameter types come from the signature's annotations (via a pydantic model built on the fly, so
nested models, ``Literal``, ``Optional``, lists and dicts all work); descriptions come from a
Google-style docstring (the summary becomes the tool description, ``Args:`` entries the parameter
descriptions). Parameters without a default are required.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from sycophant_py._exceptions import InvalidSchema

__all__ = ["schema_from_function"]

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?):\s*$")
_ARG = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(summary, {arg: description}) from a Google-style docstring."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    arg_indent: int | None = None
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        heading = _SECTION.match(stripped)
        if heading:
            section, current, arg_indent = heading.group(1), None, None
            continue
        if section is None:
            summary.append(stripped)
            continue
        if section not in ("Args", "Arguments", "Parameters") or not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        match = _ARG.match(line)
        if match and (arg_indent is None or indent <= arg_indent):
            arg_indent = indent
            current = match.group(1).lstrip("*")
            args[current] = match.group(2).strip()
        elif current is not None:
            args[current] = f"{args[current]} {stripped}".strip()
    return " ".join(s for s in summary if s).strip(), args


def schema_from_function(fn: Callable[..., Any]) -> tuple[dict[str, Any], str]:
    """(JSON Schema of the parameters, description) for a typed function.

    Raises:
        InvalidSchema: the function takes ``*args`` / ``**kwargs`` or a type has no JSON Schema.
    """
    from pydantic import Field, create_model

    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError) as exc:
        raise InvalidSchema(f"cannot read the type hints of {fn.__qualname__}: {exc}") from exc
    summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
    fields: dict[str, Any] = {}
    for name, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidSchema(f"{fn.__qualname__}: tools cannot take *{name} / **{name}")
        if name in ("self", "cls"):
            continue
        annotation = hints.get(name, Any)
        default = ... if param.default is param.empty else param.default
        fields[name] = (annotation, Field(default, description=arg_docs.get(name)))
    try:
        model = create_model(f"{fn.__name__}_arguments", **fields)
        schema = model.model_json_schema()
    except Exception as exc:  # pydantic raises several error types for unusable annotations
        raise InvalidSchema(f"{fn.__qualname__}: cannot build a JSON Schema: {exc}") from exc
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    schema.setdefault("properties", {})
    return schema, summary
