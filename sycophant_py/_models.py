"""Resolved catalog rows: what one ``"provider:model-id"`` means.

``ModelInfo`` is what ``get_model()`` returns and what wire protocols receive on the request:
the base URL, the wire protocol name, the auth mode and strategy, the credential env vars, the
capabilities, the limits and the prices. Its ``repr`` masks secrets (a registration's key in
``extra``, literal keys in ``headers``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from typing_extensions import override

from sycophant_py._registry import DEFAULT_CHAT

__all__ = ["AuthMode", "ModelCost", "ModelInfo", "ModelList"]

AuthMode: TypeAlias = Literal["required", "optional", "none"]
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ModelCost:
    """Prices in USD per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> ModelCost:
        """Build from a dict with snake_case or pi's camelCase keys.

        An absent cache price means "no discount known": cache reads and writes are then billed at
        the input price, so cost is never under-reported. An explicit 0 is kept.
        """
        price_in = float(d.get("input", 0) or 0)
        read = d.get("cache_read", d.get("cacheRead"))
        write = d.get("cache_write", d.get("cacheWrite"))
        return cls(
            price_in,
            float(d.get("output", 0) or 0),
            price_in if read is None else float(read),
            price_in if write is None else float(write),
        )


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A resolved model: the catalog row merged with its provider row and run-time overrides."""

    provider: str
    """Provider id (models.dev's spelling)."""
    id: str
    """Model id as sent to the provider."""
    name: str = ""
    """Display name."""
    api: str = DEFAULT_CHAT
    """Wire protocol name."""
    base_url: str = ""
    """Base URL (what it holds depends on the protocol: see DESIGN's table)."""
    auth: AuthMode = "required"
    """Auth mode."""
    auth_strategy: str | None = None
    """Name of the auth strategy (None: the one registered for the provider, else bearer)."""
    env: tuple[str, ...] = ()
    """Env vars holding the key, first found wins."""
    settings_env: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    """Env vars for non-secret settings (``region``, ``api_version``...)."""
    capabilities: Mapping[str, bool] = field(default_factory=lambda: _EMPTY)
    """Known capabilities; absent means unknown (and unknown means try)."""
    context_window: int | None = None
    """Context window in tokens."""
    max_tokens: int | None = None
    """Maximum output tokens."""
    cost: ModelCost | None = None
    """Prices, when known."""
    reasoning: bool | None = None
    """Supports extended thinking/reasoning."""
    input: tuple[str, ...] = ()
    """Input modalities (``text``, ``image``, ``pdf``, ``audio``)."""
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    """Extra headers sent with every request (values may name env vars)."""
    compat: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """Compatibility flags the model's protocol reads (each protocol declares its ``compat_flags``)."""
    known: bool = True
    """False when the provider accepted an id the catalog does not list."""
    local: bool = False
    """A local server (no key, any model id)."""
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """Anything else from the catalog or registration."""

    @override
    def __repr__(self) -> str:
        # ``extra`` keeps a registration's api_key reference and an instance's credentials, and
        # ``headers`` may hold literal keys: every field is shown redacted (``_redact``'s rules).
        from sycophant_py._redact import redacted_repr

        return redacted_repr(self)

    __str__ = __repr__

    @property
    def spec(self) -> str:
        """``provider:model-id``."""
        return f"{self.provider}:{self.id}"

    def supports(self, capability: str) -> bool:
        """True unless the capability is known to be absent."""
        return self.capabilities.get(capability, True)


class ModelList(list[ModelInfo]):
    """What ``syc.models()`` returns: a list of :class:`ModelInfo` that also says where it came from.

    It compares, iterates and indexes as a plain list.

    Attributes:
        source: ``"live"`` (the provider's server, or a factory backend's ``models()``, listed them)
            or ``"catalog"`` (the catalog's and configuration's rows).
        error: Why a live listing was tried and failed (then ``source`` is ``"catalog"``), else None.
    """

    source: Literal["live", "catalog"]
    error: str | None

    def __init__(
        self,
        items: Iterable[ModelInfo] = (),
        *,
        source: Literal["live", "catalog"] = "catalog",
        error: str | None = None,
    ) -> None:
        super().__init__(items)
        self.source = source
        self.error = error

    @override
    def __repr__(self) -> str:
        return f"ModelList({super().__repr__()}, source={self.source!r}, error={self.error!r})"
