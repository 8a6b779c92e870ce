"""The registry of wire protocols and auth strategies: plain dicts, filled by ``register_*``.

**One table of built-ins.** :data:`BUILTINS` names every built-in protocol once, as a lazy
``"module:Class"`` reference imported on first use, so ``import sycophant_py`` stays light. Nothing
else about a protocol is written here: its aliases (pi's api names), the auth its API needs, the
auth an alias implies, its embedding partner, its model-listing path and its compat flags are read
from the class's descriptor (see ``sycophant_py.wire.ProtocolBase``). The functions that need a
descriptor load the class then; those that look across every protocol (:func:`canonical_api` for a
name that is not a registry name, :func:`implied_auths`, :func:`compat_flags`) load the built-ins
the first time they are asked.

A class registered at run time is checked against the behaviour it claims (a clear error lists
what it lacks). Unknown names raise an error that lists the known ones and suggests close matches.
Names in configuration are resolved at first use, so a provider may name a protocol that is
registered later.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

from sycophant_py._exceptions import InvalidRegistration, UnknownName

if TYPE_CHECKING:
    from sycophant_py.auth._base import Auth
    from sycophant_py.wire._base import EmbeddingWireProtocol, ProtocolBase, WireProtocol

__all__ = [
    "BUILTINS",
    "DEFAULT_CHAT",
    "DEFAULT_EMBEDDING",
    "Kind",
    "auth_for",
    "canonical_api",
    "compat_flags",
    "embedding_for",
    "get_auth_class",
    "get_protocol",
    "implied_auth",
    "implied_auths",
    "known_protocols",
    "protocol_class",
    "register_auth",
    "register_protocol",
]

Kind: TypeAlias = Literal["chat", "embedding"]

BUILTINS: Mapping[Kind, Mapping[str, str]] = {
    "chat": {
        "openai_chat": "sycophant_py.wire.openai_chat:OpenAIChat",
        "openai_responses": "sycophant_py.wire.openai_responses:OpenAIResponses",
        "anthropic_messages": "sycophant_py.wire.anthropic_messages:AnthropicMessages",
        "anthropic_vertex": "sycophant_py.wire.anthropic_vertex:AnthropicVertex",
        "google_gemini": "sycophant_py.wire.google_gemini:GoogleGemini",
        "bedrock_converse": "sycophant_py.wire.bedrock_converse:BedrockConverse",
        "ollama_native": "sycophant_py.wire.ollama_native:OllamaNative",
    },
    "embedding": {
        "openai_embed": "sycophant_py.wire.openai_embed:OpenAIEmbed",
        "ollama_embed": "sycophant_py.wire.ollama_embed:OllamaEmbed",
        "google_embed": "sycophant_py.wire.google_embed:GoogleEmbed",
        "bedrock_embed": "sycophant_py.wire.bedrock_embed:BedrockEmbed",
    },
}
"""Every built-in protocol: registry name -> ``"module:Class"`` (the one table; see the module docstring)."""
DEFAULT_CHAT = "openai_chat"
"""The protocol of a provider or model that names none."""
DEFAULT_EMBEDDING = "openai_embed"
"""The embedding protocol of a provider whose chat protocol names no embedding partner."""

_lock = threading.RLock()
_PROTOCOLS: dict[str, dict[str, type[Any] | str]] = {kind: dict(table) for kind, table in BUILTINS.items()}
_aliases: dict[str, tuple[str, str | None]] | None = None
"""alias -> (registry name, the auth it implies), built from the descriptors on first need."""

# Auth strategies by name (what ``auth_strategy`` in a provider row names).
_AUTH_BY_NAME: dict[str, type[Any] | str] = {
    "bearer": "sycophant_py.auth._base:BearerAuth",
    "none": "sycophant_py.auth._base:NoAuth",
    "anthropic": "sycophant_py.auth.anthropic:AnthropicAuth",
    "google": "sycophant_py.auth.google:GoogleAuth",
    "azure": "sycophant_py.auth.azure:AzureAuth",
    "bedrock": "sycophant_py.auth.bedrock:BedrockAuth",
    "github_copilot": "sycophant_py.auth.github_copilot:GithubCopilotAuth",
    "google_vertex": "sycophant_py.auth.google_vertex:GoogleVertexAuth",
}
# Auth strategies by provider id (``register_auth(provider, cls)``); built-ins by models.dev id.
_AUTH_BY_PROVIDER: dict[str, type[Any] | str] = {
    "anthropic": _AUTH_BY_NAME["anthropic"],
    "google": _AUTH_BY_NAME["google"],
    "azure": _AUTH_BY_NAME["azure"],
    "amazon-bedrock": _AUTH_BY_NAME["bedrock"],
    "github-copilot": _AUTH_BY_NAME["github_copilot"],
    "google-vertex": _AUTH_BY_NAME["google_vertex"],
    "google-vertex-anthropic": _AUTH_BY_NAME["google_vertex"],
}
_instances: dict[type[Any], Any] = {}


def _load(ref: type[Any] | str) -> type[Any]:
    if isinstance(ref, str):
        module, _, attr = ref.partition(":")
        try:
            cls: type[Any] = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            raise InvalidRegistration(f"built-in {attr} ({module}) is not available in this version") from None
        return cls
    return ref


def _behaviour(kind: str) -> type[Any]:
    if kind == "chat":
        from sycophant_py.wire._base import WireProtocol

        return WireProtocol
    if kind == "embedding":
        from sycophant_py.wire._base import EmbeddingWireProtocol

        return EmbeddingWireProtocol
    if kind == "auth":
        from sycophant_py.auth._base import Auth

        return Auth
    raise UnknownName("protocol kind", kind, ["chat", "embedding"])


def _check(cls: Any, kind: str) -> None:
    base = _behaviour(kind)
    if not inspect.isclass(cls):
        raise InvalidRegistration(f"expected a class implementing {base.__name__}, got {cls!r}")
    if not issubclass(cls, base):
        required = sorted(getattr(base, "__abstractmethods__", ()))
        missing = [m for m in required if not callable(getattr(cls, m, None))]
        raise InvalidRegistration(
            f"{cls.__qualname__} must subclass sycophant_py.{'auth' if kind == 'auth' else 'wire'}."
            f"{base.__name__}" + (f" (it also lacks: {', '.join(missing)})" if missing else "")
        )
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if kind != "auth" and getattr(cls, "path", None) is None and _inherited(cls, base, "request_path"):
        missing.append("request_path (or a declared path)")
    if kind == "chat" and not hasattr(cls, "stream_state") and _inherited(cls, base, "init_stream"):
        missing.append("init_stream (or a declared stream_state)")
    if missing:
        raise InvalidRegistration(
            f"{cls.__qualname__} does not implement {base.__name__}: missing {', '.join(missing)}"
        )


def _inherited(cls: type[Any], base: type[Any], method: str) -> bool:
    """True when ``cls`` does not define ``method`` itself (it is the behaviour's default)."""
    return bool(getattr(cls, method) is getattr(base, method))


def _table(kind: str) -> dict[str, type[Any] | str]:
    table = _PROTOCOLS.get(kind)
    if table is None:
        raise UnknownName("protocol kind", kind, list(_PROTOCOLS))
    return table


def register_protocol(kind: Kind, name: str, cls: type[Any]) -> None:
    """Register a wire protocol class under ``name``.

    The class's own ``aliases`` (see ``sycophant_py.wire.ProtocolBase``) select it too.

    Args:
        kind: ``"chat"`` (a ``WireProtocol``) or ``"embedding"`` (an ``EmbeddingWireProtocol``).
        name: The name providers and models use in ``api`` / ``wire_protocol``.
        cls: The class; it must implement every method of the behaviour.

    Raises:
        InvalidRegistration: the class does not implement the behaviour.
        UnknownName: ``kind`` is neither ``chat`` nor ``embedding``.
    """
    global _aliases
    table = _table(kind)
    _check(cls, kind)
    with _lock:
        table[name] = cls
        _instances.pop(cls, None)
        _aliases = None


def register_auth(provider: str, cls: type[Any]) -> None:
    """Register an auth strategy for a provider id (also usable by name as ``auth_strategy``).

    Raises:
        InvalidRegistration: the class does not implement ``Auth``.
    """
    _check(cls, "auth")
    with _lock:
        _AUTH_BY_PROVIDER[provider] = cls
        _AUTH_BY_NAME.setdefault(provider, cls)
        _instances.pop(cls, None)


def known_protocols(kind: Kind) -> list[str]:
    """Names of the registered protocols of a kind."""
    return sorted(_table(kind))


def protocol_class(kind: Kind, name: str) -> type[ProtocolBase] | None:
    """The class registered under ``name`` (imported on first use), or None when there is none."""
    table = _table(kind)
    ref = table.get(name)
    if ref is None:
        return None
    if isinstance(ref, str):
        ref = table[name] = _load(ref)  # resolve the lazy reference once
    cls: type[ProtocolBase] = ref
    return cls


@overload
def get_protocol(kind: Literal["chat"], name: str) -> WireProtocol[Any]: ...
@overload
def get_protocol(kind: Literal["embedding"], name: str) -> EmbeddingWireProtocol: ...
def get_protocol(kind: Kind, name: str) -> WireProtocol[Any] | EmbeddingWireProtocol:
    """The (shared, stateless) instance of the protocol registered under ``name``.

    A chat protocol's stream-state type is left open (``WireProtocol[Any]``): whoever drives it
    only hands it the state its ``init_stream`` made.

    Raises:
        UnknownName: no such protocol (the message lists the known ones).
    """
    cls = protocol_class(kind, name)
    if cls is None:
        raise UnknownName(f"{kind} protocol", name, list(_table(kind)))
    inst = _instances.get(cls)
    if inst is None:
        with _lock:
            inst = _instances.setdefault(cls, cls())
    out: WireProtocol[Any] | EmbeddingWireProtocol = inst
    return out


def _descriptor(name: str) -> type[ProtocolBase] | None:
    """The class of a chat or embedding protocol name (None: no protocol has that name)."""
    return protocol_class("chat", name) or protocol_class("embedding", name)


def _all_classes() -> list[type[ProtocolBase]]:
    """Every registered protocol class (the built-ins are imported)."""
    out: list[type[ProtocolBase]] = []
    for kind in ("chat", "embedding"):
        for name in list(_table(kind)):
            cls = protocol_class(kind, name)
            if cls is not None:
                out.append(cls)
    return out


def _alias_table() -> dict[str, tuple[str, str | None]]:
    global _aliases
    table = _aliases
    if table is None:
        table = {}
        for kind in ("chat", "embedding"):
            for name in list(_table(kind)):
                cls = protocol_class(kind, name)
                implied = cls.implied_auth_for_alias if cls is not None else {}
                for alias in cls.own_aliases() if cls is not None else ():
                    table.setdefault(alias, (name, implied.get(alias)))
        _aliases = table
    return table


def canonical_api(name: str) -> str:
    """The registry name for a protocol name or an alias (pi's ``openai-completions``...).

    A registry name is returned at once; any other name is looked up in the protocols' aliases
    (which imports the built-ins the first time), and kept as given when none has it (it may be
    registered later).
    """
    if name in _PROTOCOLS["chat"] or name in _PROTOCOLS["embedding"]:
        return name
    entry = _alias_table().get(name)
    return entry[0] if entry is not None else name


def implied_auth(api: str) -> str | None:
    """The auth strategy naming ``api`` implies: its alias's (``azure-openai-responses``: ``azure``),
    else the protocol's ``default_auth``; None for a protocol that needs none (or an unknown name)."""
    entry = None if api in _PROTOCOLS["chat"] else _alias_table().get(api)
    if entry is not None and entry[1] is not None:
        return entry[1]
    cls = _descriptor(canonical_api(api))
    return cls.default_auth if cls is not None else None


def implied_auths() -> frozenset[str]:
    """Every auth strategy some protocol or alias implies (the built-ins are imported)."""
    out = {cls.default_auth for cls in _all_classes() if cls.default_auth is not None}
    out.update(auth for _, auth in _alias_table().values() if auth is not None)
    return frozenset(out)


def embedding_for(api: str) -> str:
    """The embedding protocol of a provider speaking the chat protocol ``api`` (its ``embedding``
    partner, else :data:`DEFAULT_EMBEDDING`)."""
    cls = protocol_class("chat", api)
    embedding: str | None = getattr(cls, "embedding", None)
    return embedding or DEFAULT_EMBEDDING


def compat_flags() -> dict[str, tuple[Any, ...]]:
    """Every compat flag a chat protocol reads, with its allowed values (merged across protocols;
    the built-ins are imported)."""
    out: dict[str, tuple[Any, ...]] = {}
    for cls in _all_classes():
        for flag, allowed in getattr(cls, "compat_flags", {}).items():
            out[flag] = (*out.get(flag, ()), *(v for v in allowed if v not in out.get(flag, ())))
    return out


def get_auth_class(name: str) -> type[Auth]:
    """The auth class registered under a strategy name."""
    ref = _AUTH_BY_NAME.get(name)
    if ref is None:
        raise UnknownName("auth strategy", name, list(_AUTH_BY_NAME))
    if isinstance(ref, str):
        ref = _AUTH_BY_NAME[name] = _load(ref)
    cls: type[Auth] = ref
    return cls


def auth_for(provider: str, strategy: str | None = None, protocol: str | ProtocolBase | None = None) -> Auth:
    """The auth instance for a provider: its ``auth_strategy``, else the one registered for the
    provider, else the ``default_auth`` of the protocol's descriptor, else bearer.

    Args:
        provider: The provider id.
        strategy: The strategy its row (or model) names.
        protocol: The protocol the call speaks (an instance, or a registry name).
    """
    if strategy is not None:
        cls = get_auth_class(strategy)
    else:
        ref = _AUTH_BY_PROVIDER.get(provider)
        if isinstance(ref, str):
            ref = _AUTH_BY_PROVIDER[provider] = _load(ref)
        cls = ref if ref is not None else get_auth_class(_default_auth(protocol) or "bearer")
    inst = _instances.get(cls)
    if inst is None:
        with _lock:
            inst = _instances.setdefault(cls, cls())
    out: Auth = inst
    return out


def _default_auth(protocol: str | ProtocolBase | None) -> str | None:
    if protocol is None:
        return None
    if isinstance(protocol, str):
        cls = _descriptor(protocol)
        return cls.default_auth if cls is not None else None
    return protocol.default_auth
