"""What the contract suite needs from each chat protocol's test dialect.

A dialect renders scripted server replies in one API's wire format and reads back, from a request
body the library sent, a normalised view of what was asked. Every registered chat protocol needs
one (``tests/contract/dialects/<protocol>.py`` exporting ``DIALECT``); the suite fails for a
protocol without one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from sycophant_py.testing import Reply


@dataclass(frozen=True)
class U:
    """Usage in the library's semantics (input = uncached input)."""

    input: int
    output: int
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


@dataclass(frozen=True)
class Call:
    """A tool call to script: id, name, arguments."""

    id: str
    name: str
    arguments: dict[str, Any]


class Dialect(ABC):
    """Renders replies and reads requests for one wire protocol."""

    protocol: str = ""
    #: the model id used in the suite
    model: str = "contract-model"
    #: does the protocol carry cache read/write counts?
    reports_cache: bool = True

    def provider(self, url: str) -> dict[str, Any]:
        """A ``custom_providers`` row pointing this protocol at the scripted server's root URL."""
        return {"base_url": url, "auth": "none", "api": self.protocol}

    @abstractmethod
    def text(self, text: str, usage: U, finish: str = "stop") -> Reply:
        """A complete non-streaming text answer (``finish`` in the unified vocabulary)."""

    @abstractmethod
    def stream(self, pieces: list[str], usage: U, chunk_size: int | None = None) -> Reply:
        """A streamed text answer, one provider delta per piece (body split every ``chunk_size`` bytes)."""

    @abstractmethod
    def tool_calls(self, calls: list[Call], usage: U) -> Reply:
        """A non-streaming answer asking for tool calls."""

    @abstractmethod
    def tool_calls_stream(self, calls: list[Call], usage: U, chunk_size: int | None = None) -> Reply:
        """A streamed answer asking for tool calls, arguments split across several deltas."""

    @abstractmethod
    def error(self, status: int, message: str) -> Reply:
        """An error response in the provider's error format."""

    @abstractmethod
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        """Normalised (role, text) pairs of what was sent: roles system, user, assistant,
        tool_call (text = tool name) and tool_result (text = result)."""

    @abstractmethod
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        """Names of the tool definitions sent."""

    @abstractmethod
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The response JSON Schema sent for structured output, if any."""

    def validate(self, body: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Validate a request body against the API's official schema (when the dialect can)."""


def split(body: bytes, chunk_size: int | None) -> list[bytes]:
    """Cut a body into chunks of ``chunk_size`` bytes (whole when None)."""
    if not chunk_size:
        return [body]
    return [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
