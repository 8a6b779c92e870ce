"""Test-wide guards: no real network, no user config file, and a clean library state per test."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from sycophant_py.testing import ScriptedServer

# Never read the developer's own config file or credential store.
os.environ["SYCOPHANT_CONFIG"] = os.path.join(os.path.dirname(__file__), "does-not-exist.toml")
# Tests that use the store point this at their own temp dir; a stray write would show in `git status`.
os.environ["SYCOPHANT_AUTH_FILE"] = os.path.join(os.path.dirname(__file__), "no-credential-store", "auth.json")
for _var in (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OLLAMA_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENERATIVE_AI_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "GITHUB_TOKEN",
    "COPILOT_GITHUB_TOKEN",
    "GH_COPILOT_TOKEN",
    "SYCOPHANT_GITHUB_URL",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_VERTEX_PROJECT",
    "GOOGLE_VERTEX_LOCATION",
    "GOOGLE_VERTEX_ENDPOINT",
):
    os.environ.pop(_var, None)

_real_connect = socket.socket.connect


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # unix sockets
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise RuntimeError(f"tests may only connect to 127.0.0.1/localhost, not {address!r}")
    return _real_connect(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]  # the guard wraps every connect


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    """A scripted server on 127.0.0.1 behind the provider ``fake`` (openai_chat, no auth)."""
    import sycophant_py as syc

    with ScriptedServer() as server:
        syc.configure(custom_providers={"fake": {"base_url": server.url + "/v1", "auth": "none"}})
        yield server


@pytest.fixture(autouse=True)
def _clean_library_state() -> Iterator[None]:
    yield
    import sycophant_py as syc
    from sycophant_py import _catalog

    _catalog.REGISTERED.clear()
    syc.configure(reset=True)
