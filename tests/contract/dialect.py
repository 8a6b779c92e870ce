"""The test dialects' base: the shipped one (``sycophant_py.testing.contract``), re-exported.

A dialect renders scripted server replies in one API's wire format and reads back, from a request
body the library sent, a normalised view of what was asked. Every registered chat protocol needs
one (``tests/contract/dialects/<protocol>.py`` exporting ``DIALECT``); the suite fails for a
protocol without one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sycophant_py.testing import Reply
from sycophant_py.testing.contract import Call, Dialect, U, split

__all__ = ["AnsweringDialect", "Call", "Dialect", "U", "answering", "image_ref", "split", "two_pieces"]


@runtime_checkable
class AnsweringDialect(Protocol):
    """The test dialects' extra hook (the handoff tests): an answer with thinking, text and calls."""

    def answer(self, thinking: str, signature: str, text: str, calls: list[Call], usage: U) -> Reply:
        """An answer carrying thinking (with its signature), text and tool calls."""
        ...


def answering(dialect: Dialect | None) -> AnsweringDialect:
    """``dialect``, checked to have :meth:`AnsweringDialect.answer` (every test dialect has)."""
    assert isinstance(dialect, AnsweringDialect), dialect
    return dialect


def two_pieces(text: str) -> list[str]:
    """``text`` cut after its first space: the two deltas of the quirk streams."""
    cut = text.index(" ") + 1
    return [text[:cut], text[cut:]]


def image_ref(url: str) -> dict[str, str]:
    """An image sent as a URL, normalised: ``{"data", "media_type"}`` for a ``data:`` URL, else ``{"url"}``."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        return {"data": data, "media_type": header[5:].split(";")[0]}
    return {"url": url}
