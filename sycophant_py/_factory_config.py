"""Checking a factory's ``config`` with its own pydantic model (``syc.factory_config``).

Imported only when a factory checks its config, so ``import sycophant_py`` never imports pydantic.
Errors read like the library's own config errors, with the instance's place in front::

    config file /home/me/.config/sycophant/config.toml: [[instances]] #2 (name='work')
    config.api_key: Field required

Values are never shown: a factory's config holds keys under names of its own choosing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

if TYPE_CHECKING:
    from sycophant_py._instances import Where

__all__ = ["check_builtin_config", "problems_of", "validate"]

T = TypeVar("T")


def _field_names(schema: type[BaseModel]) -> dict[str, str]:
    """Every key the model accepts (field names and string aliases) -> its field name."""
    out: dict[str, str] = {}
    for name, info in schema.model_fields.items():
        out[name] = name
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                out[alias] = name
    return out


def _unknown_keys(schema: type[Any], config: Mapping[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Top-level keys a model does not declare (one that would drop them silently too): each is an error."""
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return []
    if schema.model_config.get("extra") == "allow":
        return []
    names = _field_names(schema)
    out = []
    for key in config:
        if key in names:
            continue
        close = difflib.get_close_matches(str(key), list(names), n=1, cutoff=0.6)
        hint = f" (did you mean {names[close[0]]!r}?)" if close else ""
        out.append(((key,), f"unknown field {key!r}{hint}; known: {', '.join(sorted(schema.model_fields))}"))
    return out


def _described(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return msg
    return f"{msg} (got {type(err.get('input')).__name__})"


def problems_of(exc: ValidationError, *, top_level_extra: bool = True) -> list[tuple[tuple[Any, ...], str]]:
    """``(field path, message)`` per error of a pydantic ``ValidationError``, values left out.

    Args:
        exc: The error.
        top_level_extra: Keep ``extra_forbidden`` errors of top-level keys (False when those
            were reported already, with a suggestion).
    """
    return [
        (tuple(e["loc"]), _described(e))
        for e in exc.errors(include_url=False)
        if top_level_extra or not (e["type"] == "extra_forbidden" and len(e["loc"]) == 1)
    ]


def validate(schema: type[T], config: Mapping[str, Any], where: Where | None) -> T:
    """Validate ``config`` against ``schema``; see ``syc.factory_config``.

    Raises:
        InvalidConfig: one line per problem, placed by ``where`` (or as ``factory config`` when the
            call happens outside an instance build).
    """
    from sycophant_py._instances import Where

    place = where if where is not None else Where("factory config", "", None)
    if not isinstance(config, Mapping):
        raise place.error([place.line((), f"must be a table (mapping), not {type(config).__name__}")])
    problems = _unknown_keys(schema, config)
    try:
        value: T = TypeAdapter(schema).validate_python(dict(config))
    except ValidationError as exc:
        problems = problems_of(exc, top_level_extra=not problems) + problems
        raise place.error([place.line(loc, msg) for loc, msg in problems]) from None
    if problems:
        raise place.error([place.line(loc, msg) for loc, msg in problems])
    return value


def check_builtin_config(type_name: str, config: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """The ``config`` of a built-in-type instance (a custom-provider table plus ``api_key``), checked
    and normalised; the config file's own entries were checked with the file already.

    Args:
        type_name: A built-in type, or a custom or registered provider's name.
        config: The instance's ``config`` table.
        where: The instance's place, named in the error.

    Raises:
        InvalidConfig: an unknown key (with a close-match suggestion), a value of the wrong type,
            or a protocol type without ``base_url``.
    """
    from sycophant_py._config_schema import checked_instance_config, error_message

    try:
        return checked_instance_config(type_name, config)
    except ValidationError as exc:
        lines = [where.line(e["loc"], error_message(e, ("instances", 0, "config", *e["loc"]))) for e in exc.errors()]
        raise where.error(lines) from None
