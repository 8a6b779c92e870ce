"""sycophant_py: call any large language model through one typed, fast, extensible pipeline.

Public names load lazily on first access (module ``__getattr__``), so ``import sycophant_py``
imports neither httpx, pydantic, jsonschema, structlog nor asyncio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # entry points
    "generate_text": "sycophant_py._api",
    "agenerate_text": "sycophant_py._api",
    "stream_text": "sycophant_py._api",
    "astream_text": "sycophant_py._api",
    "embed": "sycophant_py._api",
    "aembed": "sycophant_py._api",
    "generate_object": "sycophant_py._objects",
    "agenerate_object": "sycophant_py._objects",
    "stream_object": "sycophant_py._objects",
    "astream_object": "sycophant_py._objects",
    "close": "sycophant_py._transport",
    "aclose": "sycophant_py._transport",
    # configuration and registration
    "configure": "sycophant_py._config",
    "RetryPolicy": "sycophant_py._config",
    "register_protocol": "sycophant_py._registry",
    "register_auth": "sycophant_py._registry",
    "register_provider": "sycophant_py._providers",
    "unregister_provider": "sycophant_py._providers",
    "ModelConfig": "sycophant_py._providers",
    "get_model": "sycophant_py._catalog",
    "models": "sycophant_py._providers",
    "providers": "sycophant_py._providers",
    "available": "sycophant_py._discovery",
    "ModelList": "sycophant_py._models",
    "register_provider_factory": "sycophant_py._factories",
    "unregister_provider_factory": "sycophant_py._factories",
    "ProviderDefinition": "sycophant_py._factories",
    "ProviderBackend": "sycophant_py._factories",
    "factory_config": "sycophant_py._factories",
    "calculate_cost": "sycophant_py._pipeline",
    "StreamEmitter": "sycophant_py._custom_stream",
    "StreamOptions": "sycophant_py._custom_stream",
    "ExtensionAPI": "sycophant_py._extensions",
    "on": "sycophant_py._hooks",
    "off": "sycophant_py._hooks",
    # OAuth logins and the credential store
    "OAuth": "sycophant_py._oauth",
    "OAuthCredentials": "sycophant_py._oauth",
    "LoginCallbacks": "sycophant_py._oauth",
    "login": "sycophant_py._oauth",
    "alogin": "sycophant_py._oauth",
    "logout": "sycophant_py._oauth",
    "CredentialStore": "sycophant_py._store",
    # types
    "Message": "sycophant_py._types",
    "TextPart": "sycophant_py._types",
    "ImagePart": "sycophant_py._types",
    "DocumentPart": "sycophant_py._types",
    "AudioPart": "sycophant_py._types",
    "ThinkingPart": "sycophant_py._types",
    "ToolCall": "sycophant_py._types",
    "Tool": "sycophant_py._types",
    "Context": "sycophant_py._types",
    "Response": "sycophant_py._types",
    "Usage": "sycophant_py._types",
    "Cost": "sycophant_py._types",
    "EmbeddingResponse": "sycophant_py._types",
    "ModelInfo": "sycophant_py._models",
    "ModelCost": "sycophant_py._models",
    "StreamEvent": "sycophant_py._events",
    "TextStream": "sycophant_py._stream",
    "AsyncTextStream": "sycophant_py._stream",
    "ObjectStream": "sycophant_py._objects",
    "AsyncObjectStream": "sycophant_py._objects",
    "WireProtocol": "sycophant_py.wire._base",
    "EmbeddingWireProtocol": "sycophant_py.wire._base",
    "Auth": "sycophant_py.auth._base",
    # errors
    "SycophantError": "sycophant_py._exceptions",
    "InvalidError": "sycophant_py._exceptions",
    "MissingCredentials": "sycophant_py._exceptions",
    "InvalidParams": "sycophant_py._exceptions",
    "UnknownProvider": "sycophant_py._exceptions",
    "UnknownName": "sycophant_py._exceptions",
    "InvalidSchema": "sycophant_py._exceptions",
    "InvalidMessage": "sycophant_py._exceptions",
    "InvalidConfig": "sycophant_py._exceptions",
    "ToolResultInvalid": "sycophant_py._exceptions",
    "InvalidRegistration": "sycophant_py._exceptions",
    "ProviderError": "sycophant_py._exceptions",
    "AuthenticationFailed": "sycophant_py._exceptions",
    "NotFound": "sycophant_py._exceptions",
    "RateLimited": "sycophant_py._exceptions",
    "Overloaded": "sycophant_py._exceptions",
    "ServerError": "sycophant_py._exceptions",
    "BadRequest": "sycophant_py._exceptions",
    "Timeout": "sycophant_py._exceptions",
    "ProviderConnectionError": "sycophant_py._exceptions",
    "ResponseInvalid": "sycophant_py._exceptions",
    "ContentFiltered": "sycophant_py._exceptions",
    "StreamError": "sycophant_py._exceptions",
    "ResponseTooLarge": "sycophant_py._exceptions",
    "ContextOverflow": "sycophant_py._exceptions",
    "UnsupportedInput": "sycophant_py._exceptions",
    "AllModelsFailed": "sycophant_py._exceptions",
    "CredentialStoreError": "sycophant_py._exceptions",
    "InvalidObject": "sycophant_py._exceptions",
    "StreamAborted": "sycophant_py._exceptions",
    "Limits": "sycophant_py._config",
}

__all__ = [
    "AllModelsFailed",
    "AsyncObjectStream",
    "AsyncTextStream",
    "AudioPart",
    "Auth",
    "AuthenticationFailed",
    "BadRequest",
    "ContentFiltered",
    "Context",
    "ContextOverflow",
    "Cost",
    "CredentialStore",
    "CredentialStoreError",
    "DocumentPart",
    "EmbeddingResponse",
    "EmbeddingWireProtocol",
    "ExtensionAPI",
    "ImagePart",
    "InvalidConfig",
    "InvalidError",
    "InvalidMessage",
    "InvalidObject",
    "InvalidParams",
    "InvalidRegistration",
    "InvalidSchema",
    "Limits",
    "LoginCallbacks",
    "Message",
    "MissingCredentials",
    "ModelConfig",
    "ModelCost",
    "ModelInfo",
    "ModelList",
    "NotFound",
    "OAuth",
    "OAuthCredentials",
    "ObjectStream",
    "Overloaded",
    "ProviderBackend",
    "ProviderConnectionError",
    "ProviderDefinition",
    "ProviderError",
    "RateLimited",
    "Response",
    "ResponseInvalid",
    "ResponseTooLarge",
    "RetryPolicy",
    "ServerError",
    "StreamAborted",
    "StreamEmitter",
    "StreamError",
    "StreamEvent",
    "StreamOptions",
    "SycophantError",
    "TextPart",
    "TextStream",
    "ThinkingPart",
    "Timeout",
    "Tool",
    "ToolCall",
    "ToolResultInvalid",
    "UnknownName",
    "UnknownProvider",
    "UnsupportedInput",
    "Usage",
    "WireProtocol",
    "aclose",
    "aembed",
    "agenerate_object",
    "agenerate_text",
    "alogin",
    "astream_object",
    "astream_text",
    "available",
    "calculate_cost",
    "close",
    "configure",
    "embed",
    "factory_config",
    "generate_object",
    "generate_text",
    "get_model",
    "login",
    "logout",
    "models",
    "off",
    "on",
    "providers",
    "register_auth",
    "register_protocol",
    "register_provider",
    "register_provider_factory",
    "stream_object",
    "stream_text",
    "unregister_provider",
    "unregister_provider_factory",
]

if TYPE_CHECKING:
    from sycophant_py._api import aembed, agenerate_text, astream_text, embed, generate_text, stream_text
    from sycophant_py._catalog import get_model
    from sycophant_py._config import Limits, RetryPolicy, configure
    from sycophant_py._custom_stream import StreamEmitter, StreamOptions
    from sycophant_py._discovery import available
    from sycophant_py._events import StreamEvent
    from sycophant_py._exceptions import (
        AllModelsFailed,
        AuthenticationFailed,
        BadRequest,
        ContentFiltered,
        ContextOverflow,
        CredentialStoreError,
        InvalidConfig,
        InvalidError,
        InvalidMessage,
        InvalidObject,
        InvalidParams,
        InvalidRegistration,
        InvalidSchema,
        MissingCredentials,
        NotFound,
        Overloaded,
        ProviderConnectionError,
        ProviderError,
        RateLimited,
        ResponseInvalid,
        ResponseTooLarge,
        ServerError,
        StreamAborted,
        StreamError,
        SycophantError,
        Timeout,
        ToolResultInvalid,
        UnknownName,
        UnknownProvider,
        UnsupportedInput,
    )
    from sycophant_py._extensions import ExtensionAPI
    from sycophant_py._factories import (
        ProviderBackend,
        ProviderDefinition,
        factory_config,
        register_provider_factory,
        unregister_provider_factory,
    )
    from sycophant_py._hooks import off, on
    from sycophant_py._models import ModelCost, ModelInfo, ModelList
    from sycophant_py._oauth import LoginCallbacks, OAuth, OAuthCredentials, alogin, login, logout
    from sycophant_py._objects import (
        AsyncObjectStream,
        ObjectStream,
        agenerate_object,
        astream_object,
        generate_object,
        stream_object,
    )
    from sycophant_py._pipeline import calculate_cost
    from sycophant_py._providers import ModelConfig, models, providers, register_provider, unregister_provider
    from sycophant_py._registry import register_auth, register_protocol
    from sycophant_py._store import CredentialStore
    from sycophant_py._stream import AsyncTextStream, TextStream
    from sycophant_py._transport import aclose, close
    from sycophant_py._types import (
        AudioPart,
        Context,
        Cost,
        DocumentPart,
        EmbeddingResponse,
        ImagePart,
        Message,
        Response,
        TextPart,
        ThinkingPart,
        Tool,
        ToolCall,
        Usage,
    )
    from sycophant_py.auth._base import Auth
    from sycophant_py.wire._base import EmbeddingWireProtocol, WireProtocol


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sycophant_py' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
