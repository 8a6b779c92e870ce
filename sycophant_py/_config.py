"""The application-config layer: ``configure(...)`` and the config file (TOML or JSON).

``configure()`` merges into one process-wide layer, per provider. The config file (path from
``SYCOPHANT_CONFIG``, else ``<user config dir>/sycophant/config.toml``, else ``config.json``
beside it) is read once, on first use, underneath whatever ``configure()`` sets. A path ending in
``.json`` is read as JSON, anything else as TOML; both have the same schema. Its shape in TOML::

    [providers.openai]            # credentials and settings per provider
    api_key = "sk-..."

    [custom_providers.vllm]       # providers added to (or overriding) the catalog
    base_url = "http://localhost:8000/v1"
    auth = "optional"
    [custom_providers.vllm.models.mistral-7b]
    wire_protocol = "openai_chat"

    [[instances]]                 # factory-built providers (see ``_instances``, ``_factories``)
    type = "openai"               # a provider id, a wire protocol, or a registered factory type
    name = "work-openai"
    enabled = true
    config = { api_key = "sk-...", base_url = "https://gateway.example.com/v1" }

    [aliases]                     # a name for an ordered fallback list (``generate_text("best", ...)``)
    best = ["openai:gpt-4o", "anthropic:claude-sonnet-4-5"]
    cheap = { models = ["groq:llama-3.1-8b-instant", "togetherai:meta-llama/Llama-3-8b"], weights = [3, 1] }

    [gateway]                     # ``sycophant serve``: ``settings().gateway`` (defaults filled in)
    keys = ["sk-gw-..."]          # bearer keys callers must present
    host = "127.0.0.1"
    port = 8787

In JSON the same tables are objects (``{"providers": {"openai": {"api_key": "..."}}, "instances":
[...]}``). plug-my-ai's ``config.json`` form, a ``providers`` *list* of ``{type, name, enabled,
config}`` entries, is read as ``instances``.

Everything is checked before anything is used (``_config_schema``, which imports pydantic only then):
wrong types, unknown fields (with a close-match suggestion) and credentials outside
``[providers.<id>]`` raise :class:`InvalidConfig` naming the file, the table and the field, or
the dotted path of a ``configure()`` argument (``providers.openai.api_key``). A refused
``configure()`` changes nothing; a bad file raises on every use until it is fixed (it is never
skipped silently).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sycophant_py._exceptions import InvalidConfig

__all__ = ["Limits", "RetryPolicy", "Settings", "configure", "config_path", "now", "settings"]

_MIB = 1024 * 1024


@dataclass(slots=True)
class RetryPolicy:
    """Retry and timeout settings (DESIGN.md's defaults).

    ``sleep`` / ``async_sleep`` and ``clock`` are injectable so tests never really wait.
    """

    max_retries: int = 2
    """Retries after the first attempt (3 attempts in all)."""
    initial_backoff: float = 0.5
    """First backoff in seconds (exponential, with jitter)."""
    max_backoff: float = 8.0
    """Largest computed backoff."""
    max_retry_after: float = 60.0
    """Cap on a provider's ``Retry-After``: a longer requested wait is shortened to this."""
    connect_timeout: float = 10.0
    """Connect timeout in seconds."""
    read_timeout: float = 600.0
    """Read timeout for a non-streaming response."""
    stream_idle_timeout: float = 120.0
    """Longest gap between two stream chunks."""
    sleep: Callable[[float], None] | None = None
    """Replacement for ``time.sleep``."""
    async_sleep: Callable[[float], Any] | None = None
    """Replacement for ``asyncio.sleep``."""
    clock: Callable[[], float] | None = None
    """Replacement for ``time.monotonic``."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on what a response may make the library hold in memory (DESIGN.md's defaults).

    They are enforced while decoding: a compressed body never inflates past ``max_body_bytes``,
    and a stream line, event or frame never grows past ``max_event_bytes``. Past a cap the call
    raises ``ResponseTooLarge`` (a stream ends with an ``error`` event keeping its partial answer).
    """

    max_body_bytes: int = 64 * _MIB
    """Largest decoded (decompressed) non-streaming body, and largest error body read."""
    max_event_bytes: int = 16 * _MIB
    """Largest stream line, SSE event, NDJSON line or event-stream frame."""

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_event_bytes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidConfig(f"limits.{name} must be a positive int (bytes), not {v!r}")


@dataclass
class Settings:
    """The whole config layer (one per process)."""

    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    instances: list[dict[str, Any]] = field(default_factory=list)
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Alias name -> ``{"models": [...], "weights": [...] | None}`` (see ``_fallback``)."""
    gateway_set: dict[str, Any] = field(default_factory=dict)
    """``[gateway]`` fields that were set (file under ``configure()``); see :attr:`gateway`."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: Limits = field(default_factory=Limits)
    max_connections: int | None = None
    foreign_thinking: str = "text"
    """Thinking from another provider: replayed as ``text`` or ``drop``ped (a call's param wins)."""
    http_client: Any = None
    async_http_client: Any = None
    version: int = 0
    file_loaded: bool = False
    foreign_thinking_set: bool = False
    """``configure()`` set ``foreign_thinking`` (the file's value goes underneath it)."""

    @property
    def gateway(self) -> dict[str, Any]:
        """The ``[gateway]`` settings with defaults filled in: ``keys`` (bearer keys callers must
        present; empty: none set), ``host``, ``port`` (8787), ``workers``, ``max_request_bytes``
        (32 MiB: requests may carry images) and ``cors_origins``. A fresh dict each time."""
        from copy import deepcopy

        return deepcopy({**_GATEWAY_DEFAULTS, **self.gateway_set})


_GATEWAY_DEFAULTS: dict[str, Any] = {
    "keys": [],
    "host": "127.0.0.1",
    "port": 8787,
    "workers": 1,
    "max_request_bytes": 32 * _MIB,
    "cors_origins": [],
}

_lock = threading.RLock()
_settings = Settings()


def now() -> float:
    """The policy clock (``RetryPolicy.clock``, else ``time.monotonic``): deadlines are measured on it."""
    clock = _settings.retry.clock
    return clock() if clock is not None else time.monotonic()


def config_path() -> Path:
    """Where the config file is read from (``SYCOPHANT_CONFIG``, else the user config dir's
    ``sycophant/config.toml``, else ``config.json`` there)."""
    env = os.environ.get("SYCOPHANT_CONFIG")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    toml = base / "sycophant" / "config.toml"
    json_file = toml.with_suffix(".json")
    return json_file if not toml.is_file() and json_file.is_file() else toml


def _merge(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, Mapping) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = _plain(v)


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _parse(path: Path) -> Any:
    """The file's data: JSON for a ``.json`` path, TOML otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            import json

            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError(f"the top level must be an object, not {type(data).__name__}")
            return data
        import tomllib

        return tomllib.loads(text)
    except (OSError, ValueError) as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise InvalidConfig(f"cannot read config file {path}: {exc}", file=str(path)) from None


def _plug_my_ai_form(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """plug-my-ai's ``providers`` list (of instance entries) read as ``instances``."""
    if not isinstance(data.get("providers"), list):
        return data
    if "instances" in data:
        raise InvalidConfig(
            f"config file {path}: 'providers' is a list of instances (plug-my-ai's form) and 'instances' is "
            "given too: put every entry under 'instances'",
            file=str(path),
        )
    out = {k: v for k, v in data.items() if k != "providers"}
    out["instances"] = data["providers"]
    return out


def _load_file(s: Settings) -> None:
    """Read, check and merge the config file under what ``configure()`` set.

    ``file_loaded`` is set only on success, so a bad file raises on every use until it is fixed.
    """
    path = config_path()
    if not path.is_file():
        s.file_loaded = True
        return
    data = _plug_my_ai_form(_parse(path), path)
    from sycophant_py._config_schema import check_file

    checked = check_file(str(path), data)
    if "foreign_thinking" in checked and not s.foreign_thinking_set:
        s.foreign_thinking = _foreign_thinking(checked["foreign_thinking"], f"config file {path}: ")
    # File values sit underneath anything configure() already set.
    providers: dict[str, Any] = {}
    _merge(providers, {_canonical(k): v for k, v in (checked.get("providers") or {}).items()})
    _merge(providers, s.providers)
    custom: dict[str, Any] = _plain(checked.get("custom_providers") or {})
    _merge(custom, s.custom_providers)
    s.providers, s.custom_providers = providers, custom
    s.instances = list(checked.get("instances") or []) + s.instances
    s.aliases = {**(checked.get("aliases") or {}), **s.aliases}
    s.gateway_set = {**(checked.get("gateway") or {}), **s.gateway_set}
    _remember_gateway_keys(s.gateway_set)
    s.file_loaded = True


def _remember_gateway_keys(gateway: Mapping[str, Any]) -> None:
    """Gateway keys are secrets: masked wherever they show up (logs, errors, reprs)."""
    if gateway.get("keys"):
        from sycophant_py._redact import remember

        for key in gateway["keys"]:
            remember(key)


def settings() -> Settings:
    """The current config layer (reads the config file on first use)."""
    s = _settings
    if not s.file_loaded:
        with _lock:
            if not s.file_loaded:
                _load_file(s)
                s.version += 1
    return s


def configure(
    *,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
    custom_providers: Mapping[str, Mapping[str, Any]] | None = None,
    instances: list[Mapping[str, Any]] | None = None,
    aliases: Mapping[str, Any] | None = None,
    gateway: Mapping[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    limits: Limits | Mapping[str, int] | None = None,
    max_connections: int | None = None,
    foreign_thinking: Literal["text", "drop"] | None = None,
    http_client: Any = None,
    async_http_client: Any = None,
    reset: bool = False,
) -> None:
    """Merge settings into the application-config layer.

    Args:
        providers: Credentials and settings per provider id, e.g.
            ``{"openai": {"api_key": "sk-..."}}`` (merged per provider and per field).
        custom_providers: Providers added to or overriding catalog providers by name
            (``base_url``, ``auth``, ``auth_strategy``, ``api``, ``env``, ``headers``, ``compat``,
            ``models``). A built-in provider is never removed.
        instances: Factory-built providers: ``{"type": "openai", "name": "work", "enabled": True,
            "config": {...}}`` makes provider ``work``: ``openai`` with ``config`` layered over it
            (``type`` may also be a wire protocol or a ``register_provider_factory`` type, whose
            factory gets ``config``). Entries accumulate; a later entry of a name replaces an
            earlier one.
        aliases: Names for ordered fallback lists of model specs, e.g. ``{"best": ["openai:gpt-4o",
            "anthropic:claude-sonnet-4-5"]}``, or ``{"models": [...], "weights": [3, 1]}`` for
            weighted load balancing between equivalent deployments (merged per name).
        gateway: ``sycophant serve`` settings (merged per field): ``keys`` (bearer keys callers
            must present), ``host``, ``port``, ``workers``, ``max_request_bytes``, ``cors_origins``.
        retry: Retry and timeout policy.
        limits: Size caps (a ``Limits`` or a mapping of its fields, merged over the current ones):
            ``max_body_bytes`` (default 64 MiB), ``max_event_bytes`` (default 16 MiB).
        max_connections: Connection-pool size (default: no cap below what callers ask for).
        foreign_thinking: What a conversation sent to another provider does with the thinking of
            earlier answers: ``"text"`` (default: replayed as plain text, without signatures) or
            ``"drop"``. A call's ``foreign_thinking=`` param wins. Also a top-level key of the file.
        http_client: An ``httpx.Client`` to use for sync calls (proxies, CA settings...).
        async_http_client: An ``httpx.AsyncClient`` to use for async calls.
        reset: Clear the layer first (the config file is read again on next use).

    Raises:
        InvalidConfig: an argument has the wrong type or shape; the message gives its dotted path
            (``providers.openai.api_key``) and nothing is changed.
    """
    global _settings
    _check_plain_arguments(retry, max_connections)
    tables: dict[str, Any] = {
        "providers": providers,
        "custom_providers": custom_providers,
        "instances": instances,
        "aliases": aliases,
        "gateway": gateway,
    }
    if any(v is not None for v in tables.values()):
        from sycophant_py._config_schema import check_arguments

        tables = check_arguments(**tables)
    plain: dict[str, Any] = {
        "retry": retry,
        "limits": _limits(_settings.limits, limits) if limits is not None else None,
        "max_connections": max_connections,
        "foreign_thinking": None if foreign_thinking is None else _foreign_thinking(foreign_thinking),
        "http_client": http_client,
        "async_http_client": async_http_client,
    }
    with _lock:
        if reset:
            _settings = Settings(version=_settings.version + 1)
        s = _settings  # the file, when read later, goes underneath what is set here
        _apply_tables(s, tables)
        for name, value in plain.items():
            if value is not None:
                setattr(s, name, value)
        if plain["foreign_thinking"] is not None:
            s.foreign_thinking_set = True
        s.version += 1
    if reset or max_connections is not None or http_client is not None or async_http_client is not None:
        from sycophant_py._transport import reset_clients

        reset_clients()


def _apply_tables(s: Settings, tables: Mapping[str, Any]) -> None:
    """Merge checked tables into the layer (under the lock)."""
    if tables.get("providers"):
        _merge(s.providers, {_canonical(k): v for k, v in tables["providers"].items()})
    if tables.get("custom_providers"):
        _merge(s.custom_providers, tables["custom_providers"])
    if tables.get("instances"):
        s.instances.extend(dict(i) for i in tables["instances"])
    if tables.get("aliases"):
        s.aliases.update(tables["aliases"])
    if tables.get("gateway"):
        s.gateway_set.update(tables["gateway"])
        _remember_gateway_keys(tables["gateway"])


def _check_plain_arguments(retry: Any, max_connections: Any) -> None:
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise InvalidConfig(f"configure(): retry must be a RetryPolicy, not {type(retry).__name__}")
    if max_connections is not None and (
        isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1
    ):
        raise InvalidConfig(f"configure(): max_connections must be a positive int, not {max_connections!r}")


def _limits(current: Limits, new: Limits | Mapping[str, int]) -> Limits:
    if isinstance(new, Limits):
        return new
    if not isinstance(new, Mapping):
        raise InvalidConfig(f"limits must be a Limits or a mapping, not {type(new).__name__}")
    known = {"max_body_bytes", "max_event_bytes"}
    unknown = sorted(set(new) - known)
    if unknown:
        from sycophant_py._exceptions import UnknownName

        raise UnknownName("limits field", unknown[0], sorted(known))
    from dataclasses import replace

    return replace(current, **dict(new))


def _foreign_thinking(value: Any, where: str = "") -> str:
    if value not in ("text", "drop"):
        raise InvalidConfig(f"{where}foreign_thinking must be 'text' or 'drop', not {value!r}")
    return str(value)


def _canonical(provider: str) -> str:
    from sycophant_py._catalog import canonical_provider

    return canonical_provider(provider)


def bump() -> None:
    """Invalidate resolution caches (after a run-time registration)."""
    with _lock:
        _settings.version += 1
