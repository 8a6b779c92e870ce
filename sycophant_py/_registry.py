"""The registry of wire protocols and auth strategies: plain dicts, filled by ``register_*``.

Built-ins are entered as lazy ``"module:Class"`` references and imported on first use, so
``import sycophant_py`` stays light. A class registered at run time is checked against the
behaviour it claims (a clear error lists what it lacks). Unknown names raise an error that lists
the known ones and suggests close matches. Names in configuration are resolved at first use, so a
provider may name a protocol that is registered later.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from typing import Any, Literal, TypeAlias

from sycophant_py._exceptions import InvalidRegistration, UnknownName

__all__ = [
    "Kind",
    "auth_for",
    "get_auth_class",
    "get_protocol",
    "known_protocols",
    "register_auth",
    "register_protocol",
]

Kind: TypeAlias = Literal["chat", "embedding"]

_lock = threading.RLock()

_PROTOCOLS: dict[str, dict[str, type[Any] | str]] = {
    "chat": {
        "openai_chat": "sycophant_py.wire.openai_chat:OpenAIChat",
        "openai_responses": "sycophant_py.wire.openai_responses:OpenAIResponses",
        "anthropic_messages": "sycophant_py.wire.anthropic_messages:AnthropicMessages",
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
    if missing:
        raise InvalidRegistration(
            f"{cls.__qualname__} does not implement {base.__name__}: missing {', '.join(missing)}"
        )


def register_protocol(kind: Kind, name: str, cls: type[Any]) -> None:
    """Register a wire protocol class under ``name``.

    Args:
        kind: ``"chat"`` (a ``WireProtocol``) or ``"embedding"`` (an ``EmbeddingWireProtocol``).
        name: The name providers and models use in ``api`` / ``wire_protocol``.
        cls: The class; it must implement every method of the behaviour.

    Raises:
        InvalidRegistration: the class does not implement the behaviour.
        UnknownName: ``kind`` is neither ``chat`` nor ``embedding``.
    """
    if kind not in _PROTOCOLS:
        raise UnknownName("protocol kind", kind, list(_PROTOCOLS))
    _check(cls, kind)
    with _lock:
        _PROTOCOLS[kind][name] = cls
        _instances.pop(cls, None)


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
    return sorted(_PROTOCOLS[kind])


def get_protocol(kind: Kind, name: str) -> Any:
    """The (shared, stateless) instance of the protocol registered under ``name``.

    Raises:
        UnknownName: no such protocol (the message lists the known ones).
    """
    table = _PROTOCOLS.get(kind)
    if table is None:
        raise UnknownName("protocol kind", kind, list(_PROTOCOLS))
    ref = table.get(name)
    if ref is None:
        raise UnknownName(f"{kind} protocol", name, list(table))
    if isinstance(ref, str):
        ref = table[name] = _load(ref)  # resolve the lazy reference once
    cls = ref
    inst = _instances.get(cls)
    if inst is None:
        with _lock:
            inst = _instances.setdefault(cls, cls())
    return inst


def get_auth_class(name: str) -> type[Any]:
    """The auth class registered under a strategy name."""
    ref = _AUTH_BY_NAME.get(name)
    if ref is None:
        raise UnknownName("auth strategy", name, list(_AUTH_BY_NAME))
    if isinstance(ref, str):
        ref = _AUTH_BY_NAME[name] = _load(ref)
    return ref


# The auth a protocol's API needs when the provider names none (a custom provider speaking Gemini...).
_AUTH_BY_PROTOCOL = {
    "anthropic_messages": "anthropic",
    "google_gemini": "google",
    "google_embed": "google",
    "bedrock_converse": "bedrock",
    "bedrock_embed": "bedrock",
}


def auth_for(provider: str, strategy: str | None = None, protocol: str | None = None) -> Any:
    """The auth instance for a provider: its ``auth_strategy``, else the one registered for the
    provider, else the one the protocol's API needs, else bearer."""
    if strategy is not None:
        cls = get_auth_class(strategy)
    else:
        ref = _AUTH_BY_PROVIDER.get(provider)
        if isinstance(ref, str):
            ref = _AUTH_BY_PROVIDER[provider] = _load(ref)
        if ref is None:
            ref = get_auth_class(_AUTH_BY_PROTOCOL.get(protocol or "", "bearer"))
        cls = ref
    inst = _instances.get(cls)
    if inst is None:
        with _lock:
            inst = _instances.setdefault(cls, cls())
    return inst
