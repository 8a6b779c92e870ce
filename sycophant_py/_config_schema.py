"""What the configuration layer may hold: ``configure()`` arguments and the TOML config file.

Each table is a pydantic model (this module is imported only when there is configuration to
check, so ``import sycophant_py`` never imports pydantic). Types are strict (no ``"1"`` for 1, no
1 for ``true``), and a field a table does not know is an error with a close-match suggestion.

- ``[providers.<id>]``: credentials and settings. Any string, number or boolean setting is
  accepted (``region``, ``api_version``, ``deployment``...), but the secret fields (``api_key``,
  tokens, AWS keys...) and ``base_url`` must be strings.
- ``[custom_providers.<id>]``: ``name``, ``base_url``, ``api`` (or ``wire_protocol``), ``auth``
  (``required`` / ``optional`` / ``none``), ``auth_strategy``, ``env``, ``settings_env``,
  ``headers``, ``compat`` (the flags the protocols declare), ``capabilities`` (booleans),
  ``local``, ``embed_api`` and ``models``. A credential there is an error pointing at
  ``[providers.<id>]``, where credentials live.
- ``[custom_providers.<id>.models.<model>]``: the fields of ``ModelConfig`` plus
  ``auth_strategy`` and ``embed_api``; ``cost`` holds non-negative numbers, ``context_window``
  and ``max_tokens`` positive ints, ``input`` some of ``text``, ``image``, ``pdf``, ``audio``.
- ``[[instances]]``: ``type`` and ``name`` (strings, required; a name cannot hold ``:`` and is
  used once per file or call), ``enabled`` (default true), ``config`` (a table). The factory of
  ``type`` owns ``config``: a built-in type (a catalog provider id or a wire protocol name) takes
  a custom-provider table plus ``api_key`` and is checked here, with the rest of the file; a
  registered factory checks its own when the instance is built (``_instances``).
- ``[gateway]``: ``keys`` (bearer keys callers must present: non-empty strings), ``host``,
  ``port`` (0-65535), ``workers`` and ``max_request_bytes`` (positive ints), ``cors_origins``
  (strings); ``_config.settings().gateway`` fills in the defaults.
- ``[aliases]``: ``name = "provider:model"``, ``name = ["provider:model", ...]`` (an ordered
  fallback list; an entry may name
  another alias), or ``name = { models = [...], weights = [3, 1] }`` (equivalent deployments: the
  order is drawn per call by weight, the rest stay fallbacks). An alias name holds no ``:``.

pi's camelCase names (``contextWindow``, ``baseUrl``, ``cacheRead``, ``supportsStore``...) are
accepted and renamed. What comes back is normalised: snake_case keys, pi's api names mapped to
ours, a single ``env`` / ``input`` string made a list, a list of model entries (or
``ModelConfig`` objects) made a table keyed by id.

Errors are one :class:`InvalidConfig` listing the problems (at most five shown), each naming its
place: the TOML table and field for the file (``[custom_providers.vllm.models.mistral]
context_window``, ``[[instances]] #2 (name='work') enabled``), a dotted path for ``configure()``
(``providers.openai.api_key``). A value is shown only where it cannot be a secret.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sycophant_py._exceptions import InvalidConfig
from sycophant_py._instances import is_builtin_type
from sycophant_py._providers import ModelConfig, canonical_api
from sycophant_py._registry import compat_flags
from sycophant_py.auth._base import SECRET_FIELDS

__all__ = ["SECTIONS", "check_arguments", "check_file", "checked_instance_config", "error_message"]

SECTIONS = ("providers", "custom_providers", "instances", "aliases", "gateway")

TOP_LEVEL_KEYS = ("foreign_thinking",)
"""Plain keys at the top of the file (not tables)."""
CAPABILITIES = ("chat", "tools", "json", "vision", "pdf", "reasoning", "embeddings", "streaming")
_SECRETS = SECRET_FIELDS | {"access_key_id", "aws_access_key_id"}
_MAX_SHOWN = 5
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _error(kind: str, message: str) -> PydanticCustomError:
    # No context: the message is final text, so braces in user keys are never read as placeholders.
    return PydanticCustomError(kind, message)


_NAMES: dict[type[Any], dict[str, str]] = {}


class _Table(BaseModel):
    """A table: known fields only (camelCase and listed aliases renamed first), strict types."""

    model_config = ConfigDict(extra="forbid", strict=True)
    aliases: ClassVar[Mapping[str, str]] = {}
    """Other names of fields (``wire_protocol`` for ``api``), besides the camelCase ones."""
    misplaced: ClassVar[frozenset[str]] = frozenset()
    """Keys that belong in another table (credentials in a provider definition)."""

    @classmethod
    def _names(cls) -> dict[str, str]:
        """Every accepted key (field names, their camelCase forms, ``aliases``) to its field name."""
        names = _NAMES.get(cls)
        if names is None:
            names = {_camel(f): f for f in cls.model_fields}
            names.update(cls.aliases)
            names.update({f: f for f in cls.model_fields})
            _NAMES[cls] = names
        return names

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, BaseModel):
            return data
        if not isinstance(data, Mapping):
            raise _error("not_a_table", f"must be a table (mapping), not {type(data).__name__}")
        names, out = cls._names(), {}
        for key, value in data.items():
            name = names.get(key) if isinstance(key, str) else None
            if name is None:
                raise cls._unknown(key)
            if name in out:
                raise _error("repeated_field", f"{key!r} and {name!r} name the same field: give one")
            out[name] = value
        return out

    @classmethod
    def _unknown(cls, key: Any) -> PydanticCustomError:
        if key in cls.misplaced:
            return _error("credential_field", str(key))
        known = sorted(cls.model_fields)
        close = difflib.get_close_matches(str(key), list(cls._names()), n=1, cutoff=0.6)
        hint = f" (did you mean {cls._names()[close[0]]!r}?)" if close else ""
        return _error("unknown_field", f"unknown field {key!r}{hint}; known: {', '.join(known)}")


def _listed(value: Any) -> Any:
    """A single string as a one-item list; a tuple as a list."""
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, tuple) else value


def _plain_dict(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) and not isinstance(value, dict) else value


StrList = Annotated[list[str], BeforeValidator(_listed)]
StrMap = Annotated[dict[str, str], BeforeValidator(_plain_dict)]
Price = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(gt=0)]
InputKind = Literal["text", "image", "pdf", "audio"]


class _Cost(_Table):
    """``cost``: USD per million tokens."""

    input: Price | None = None
    output: Price | None = None
    cache_read: Price | None = None
    cache_write: Price | None = None


def _compat_type(allowed: tuple[Any, ...]) -> Any:
    return bool if set(allowed) == {True, False} else Literal[allowed]


_Compat: type[_Table] = create_model(  # type: ignore[call-overload]  # a model built from a runtime field table
    "Compat",
    __base__=_Table,
    __doc__="``compat``: the wire protocols' compatibility flags (the ``compat_flags`` of the protocols).",
    **{flag: (_compat_type(tuple(allowed)) | None, None) for flag, allowed in compat_flags().items()},
)


def _capability_table(value: Any) -> Any:
    """``capabilities``: booleans for the known capability keys (absent means unknown)."""
    if not isinstance(value, Mapping):
        raise _error("not_a_table", f"must be a table (mapping), not {type(value).__name__}")
    for key in value:
        if key not in CAPABILITIES:
            close = difflib.get_close_matches(str(key), CAPABILITIES, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _error("unknown_field", f"unknown field {key!r}{hint}; known: {', '.join(CAPABILITIES)}")
    return dict(value)


_Capabilities = Annotated[dict[str, bool], BeforeValidator(_capability_table)]


class _Model(_Table):
    """``[custom_providers.<id>.models.<model>]``."""

    aliases: ClassVar[Mapping[str, str]] = {"wire_protocol": "api", "wireProtocol": "api"}
    id: str | None = None
    name: str | None = None
    api: str | None = None
    reasoning: bool | None = None
    input: Annotated[list[InputKind], BeforeValidator(_listed)] | None = None
    cost: _Cost | None = None
    context_window: Count | None = None
    max_tokens: Count | None = None
    headers: StrMap | None = None
    base_url: str | None = None
    compat: _Compat | None = None  # type: ignore[valid-type]  # a model made by create_model
    capabilities: _Capabilities | None = None
    auth_strategy: str | None = None
    embed_api: str | None = None


def _entry(value: Any) -> Any:
    if isinstance(value, ModelConfig):
        given = {f.name: getattr(value, f.name) for f in dataclass_fields(ModelConfig)}
        return {k: v for k, v in given.items() if v is not None}
    return value


def _models_table(value: Any) -> Any:
    """``models``: a table keyed by model id (or, from Python, a list of entries with an ``id``)."""
    if isinstance(value, Mapping):
        return {k: _entry(v) for k, v in value.items()}
    if not isinstance(value, (list, tuple)):
        raise _error(
            "models_table",
            f"must be a table of model tables keyed by model id (models.<model-id>), not {type(value).__name__}",
        )
    out: dict[str, Any] = {}
    for i, item in enumerate(value):
        entry = _entry(item)
        model_id = entry.get("id") if isinstance(entry, Mapping) else None
        if not isinstance(model_id, str) or not model_id:
            raise _error("models_table", f"entry {i} of the models list needs a string 'id'")
        if model_id in out:
            raise _error("models_table", f"model {model_id!r} is listed twice")
        out[model_id] = entry
    return out


class _Provider(_Table):
    """``[custom_providers.<id>]``: a provider added to (or overriding) the catalog."""

    aliases: ClassVar[Mapping[str, str]] = {"wire_protocol": "api", "wireProtocol": "api"}
    misplaced: ClassVar[frozenset[str]] = frozenset(_SECRETS)
    name: str | None = None
    base_url: str | None = None
    api: str | None = None
    auth: Literal["required", "optional", "none"] | None = None
    auth_strategy: str | None = None
    env: StrList | None = None
    settings_env: Annotated[dict[str, StrList], BeforeValidator(_plain_dict)] | None = None
    headers: StrMap | None = None
    compat: _Compat | None = None  # type: ignore[valid-type]  # a model made by create_model
    capabilities: _Capabilities | None = None
    local: bool | None = None
    embed_api: str | None = None
    models: dict[str, _Model] | None = None

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        return _models_table(value)


class _InstanceConfig(_Provider):
    """``config`` of an ``[[instances]]`` entry of a built-in type: a provider table plus its ``api_key``."""

    misplaced: ClassVar[frozenset[str]] = frozenset(_SECRETS - {"api_key"})
    api_key: str | None = None


def _config_table(value: Any) -> Any:
    """``config``: a table with string keys, kept as given (its factory checks the values)."""
    if not isinstance(value, Mapping):
        raise _error("not_a_table", f"must be a table (mapping), not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise _error("key_type", f"config keys must be strings, not {type(key).__name__}")
    return {k: _plain_value(v) for k, v in value.items()}


def _plain_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    return value


class _Instance(_Table):
    """``[[instances]]``: provider ``name`` built by the factory of ``type`` from ``config``."""

    type: Annotated[str, Field(min_length=1)]
    name: str
    enabled: bool = True
    config: Annotated[dict[str, Any], BeforeValidator(_config_table)] | None = None

    @field_validator("name")
    @classmethod
    def _usable_name(cls, value: str) -> str:
        if not value or ":" in value:
            raise _error("instance_name", "must be a non-empty provider id without ':' (it is the part before ':')")
        return value


_INSTANCE_CONFIG: TypeAdapter[Any] = TypeAdapter(_InstanceConfig)


def checked_instance_config(type_name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """A built-in type's ``config``, checked and normalised (raises pydantic's ``ValidationError``)."""
    out = _dump_provider(_INSTANCE_CONFIG.validate_python(config))
    from sycophant_py._registry import known_protocols

    if type_name in known_protocols("chat") and not out.get("base_url"):
        raise ValidationError.from_exception_data(
            "config",
            [{"type": "missing", "loc": ("base_url",), "input": config}],
        )
    return out


def _setting(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise _error("setting_type", f"must be a string, number or boolean, not {type(value).__name__}")


class _SettingsBase(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    __pydantic_extra__: dict[str, Annotated[Any, PlainValidator(_setting)]] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _table(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise _error("not_a_table", f"must be a table (mapping), not {type(data).__name__}")
        for key in data:
            if not isinstance(key, str):
                raise _error("key_type", f"setting names must be strings, not {type(key).__name__}")
        return dict(data)


_Settings: type[BaseModel] = create_model(  # type: ignore[call-overload]  # a model built from a runtime field table
    "Settings",
    __base__=_SettingsBase,
    __doc__="``[providers.<id>]``: credentials (strings) and settings (strings, numbers, booleans).",
    **{name: (str | None, None) for name in sorted(_SECRETS | {"base_url"})},
)


def _alias_name(value: Any) -> Any:
    if isinstance(value, str) and (not value or ":" in value):
        raise _error("alias_name", "an alias name must be non-empty and hold no ':' (a model spec has one)")
    return value


def _alias_form(value: Any) -> Any:
    if isinstance(value, str):
        return {"models": [value]}
    return {"models": value} if isinstance(value, (list, tuple)) else value


class _Alias(_Table):
    """An alias: an ordered list of model specs (or other aliases), optionally weighted."""

    models: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(gt=0)]] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> _Alias:
        if self.weights is not None and len(self.weights) != len(self.models):
            raise _error("weights", f"weights must give one number per model ({len(self.models)})")
        return self


class _Gateway(_Table):
    """``[gateway]``: the settings of ``sycophant serve`` (read by the gateway)."""

    keys: Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_listed)] | None = None
    host: Annotated[str, Field(min_length=1)] | None = None
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    workers: Annotated[int, Field(ge=1)] | None = None
    max_request_bytes: Annotated[int, Field(ge=1)] | None = None
    cors_origins: StrList | None = None


_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "gateway": TypeAdapter(_Gateway),
    "aliases": TypeAdapter(
        dict[Annotated[str, PlainValidator(_alias_name)], Annotated[_Alias, BeforeValidator(_alias_form)]]
    ),
    "providers": TypeAdapter(dict[str, _Settings]),  # type: ignore[valid-type]  # made by create_model
    "custom_providers": TypeAdapter(dict[str, _Provider]),
    "instances": TypeAdapter(list[_Instance]),
}


# -- normalised output -----------------------------------------------------------------------


def _dump_provider(p: BaseModel) -> dict[str, Any]:
    out = p.model_dump(exclude_none=True)
    if "api" in out:
        out["api"] = canonical_api(out["api"])
    for model in (out.get("models") or {}).values():
        model.pop("id", None)
        if "api" in model:
            model["api"] = canonical_api(model["api"])
    return out


def _normalised(section: str, value: Any) -> Any:
    checked = _ADAPTERS[section].validate_python(value)
    if section == "providers":
        return {pid: dict(v) for pid, v in value.items()}  # values as given: nothing to rename
    if section == "custom_providers":
        return {pid: _dump_provider(p) for pid, p in checked.items()}
    if section == "aliases":
        return {name: a.model_dump() for name, a in checked.items()}
    if section == "gateway":
        return checked.model_dump(exclude_none=True)
    return [{"type": i.type, "name": i.name, "enabled": i.enabled, "config": i.config or {}} for i in checked]


# -- error text ------------------------------------------------------------------------------


def _toml_key(key: Any) -> str:
    text = str(key)
    return text if _BARE_KEY.match(text) else json.dumps(text)


def _instance_name(entries: Any, index: int) -> str | None:
    try:
        name = entries[index].get("name")
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) else None


def _place(loc: tuple[Any, ...], value: Any, in_file: bool) -> tuple[str, tuple[Any, ...]]:
    """(the table, the field path inside it) for an error location."""
    section = loc[0]
    if section == "instances" and len(loc) > 1 and isinstance(loc[1], int):
        name = _instance_name(value, loc[1])
        suffix = f" (name={name!r})" if name else ""
        head = f"[[instances]] #{loc[1] + 1}" if in_file else f"instances[{loc[1]}]"
        return head + suffix, loc[2:]
    depth = 4 if section == "custom_providers" and len(loc) >= 4 and loc[2] == "models" else 2
    if section == "gateway":
        depth = 1  # one table, [gateway]
    depth = min(depth, len(loc))
    keys = loc[:depth]
    table = "[" + ".".join(_toml_key(k) for k in keys) + "]" if in_file else ".".join(map(str, keys))
    return table, loc[depth:]


def _field(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _may_be_secret(loc: tuple[Any, ...]) -> bool:
    """Whether the value at ``loc`` may be a secret (then only its type is shown)."""
    if loc[0] == "providers" or (loc[0] == "instances" and "config" in loc):
        return True  # credentials, and a factory's config holds keys under names of its own
    if loc[0] == "gateway":
        return "keys" in loc
    return any(p in _SECRETS or p == "headers" for p in loc if isinstance(p, str))


def error_message(err: Mapping[str, Any], loc: tuple[Any, ...], instance: str | None = None) -> str:
    """The text of one pydantic error at ``loc`` (a value is shown only where it cannot be a secret)."""
    kind, msg = err["type"], str(err["msg"])
    if kind == "credential_field" and loc[0] == "instances":
        table = f"[providers.{_toml_key(instance)}]" if instance else "[providers.<the instance's name>]"
        return f"{msg} is a credential: an instance's config takes only api_key; set {msg} in {table}"
    if kind == "credential_field":
        pid = loc[1] if len(loc) > 1 else "<id>"
        return (
            f"{msg} is a credential: set it in [providers.{_toml_key(pid)}] "
            f"(or configure(providers={{{str(pid)!r}: {{{msg!r}: ...}}}})), not in a provider definition"
        )
    if kind in (
        "missing",
        "unknown_field",
        "not_a_table",
        "models_table",
        "setting_type",
        "repeated_field",
        "alias_name",
        "weights",
    ):
        return msg
    value = err.get("input")
    shown = type(value).__name__ if _may_be_secret(loc) else f"{type(value).__name__} {repr(value)[:60]}"
    return f"{msg} (got {shown})"


def _line(loc: tuple[Any, ...], err: Mapping[str, Any], value: Any, in_file: bool) -> str:
    table, rest = _place(loc, value, in_file)
    field = _field(rest)
    in_instance = loc[0] == "instances" and len(loc) > 1 and isinstance(loc[1], int)
    message = error_message(err, loc, _instance_name(value, loc[1]) if in_instance else None)
    if not field:
        return f"{table}: {message}"
    return f"{table} {field}: {message}" if in_file else f"{table}.{field}: {message}"


def _joined(head: str, problems: list[str]) -> str:
    shown = problems[:_MAX_SHOWN]
    more = f" (and {len(problems) - _MAX_SHOWN} more)" if len(problems) > _MAX_SHOWN else ""
    return f"{head}: " + "; ".join(shown) + more


def _duplicate_names(entries: list[dict[str, Any]], in_file: bool) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, entry in enumerate(entries):
        first = seen.setdefault(entry["name"], i)
        if first != i:
            where, _ = _place(("instances", i), entries, in_file)
            other, _ = _place(("instances", first), entries, in_file)
            sep = " " if in_file else "."
            out.append(f"{where}{sep}name: name {entry['name']!r} is already used by {other}")
    return out


def _check_instances(entries: list[dict[str, Any]], head: str, file: str | None, problems: list[str]) -> None:
    """Give each entry its place (for errors raised when it is built) and check built-in types' configs."""
    from sycophant_py._instances import Where

    in_file = file is not None
    for i, entry in enumerate(entries):
        entry["where"] = Where(head, _place(("instances", i), entries, in_file)[0], file)
        if not is_builtin_type(entry["type"]):
            continue
        try:
            entry["config"] = checked_instance_config(entry["type"], entry["config"])
        except ValidationError as exc:
            problems.extend(
                _line(("instances", i, "config", *e["loc"]), e, entries, in_file) for e in exc.errors(include_url=False)
            )


def _check(section: str, value: Any, head: str, file: str | None, problems: list[str]) -> Any:
    in_file = file is not None
    try:
        out = _normalised(section, value)
    except ValidationError as exc:
        problems.extend(_line((section, *e["loc"]), e, value, in_file) for e in exc.errors(include_url=False))
        return None
    if section == "instances":
        problems.extend(_duplicate_names(out, in_file))
        _check_instances(out, head, file, problems)
    return out


def check_file(path: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The config file's sections, checked and normalised.

    Raises:
        InvalidConfig: an unknown section, or values of the wrong type or shape (the message names
            the file, the table and the field).
    """
    unknown = sorted(set(data) - set(SECTIONS) - set(TOP_LEVEL_KEYS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], [*SECTIONS, *TOP_LEVEL_KEYS], n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidConfig(
            f"config file {path}: unknown section(s) {unknown}{hint}; known: {', '.join(SECTIONS)}", file=path
        )
    problems: list[str] = []
    head = f"config file {path}"
    out = {s: _check(s, data[s], head, path, problems) for s in SECTIONS if s in data}
    if problems:
        raise InvalidConfig(_joined(head, problems), file=path, errors=problems)
    out.update({k: data[k] for k in TOP_LEVEL_KEYS if k in data})  # checked by _config where they apply
    return out


def check_arguments(**sections: Any) -> dict[str, Any]:
    """``configure()``'s ``providers`` / ``custom_providers`` / ``instances`` / ``aliases`` / ``gateway``
    (those not None), checked and normalised.

    Raises:
        InvalidConfig: a value of the wrong type or shape (the message gives its dotted path,
            e.g. ``providers.openai.api_key``).
    """
    problems: list[str] = []
    out = {s: _check(s, v, "configure()", None, problems) for s, v in sections.items() if v is not None}
    if problems:
        raise InvalidConfig(_joined("configure()", problems), errors=problems)
    return out
