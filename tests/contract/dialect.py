"""The test dialects' base: the shipped one (``sycophant_py.testing.contract``), re-exported.

A dialect renders scripted server replies in one API's wire format and reads back, from a request
body the library sent, a normalised view of what was asked. Every registered chat protocol needs
one (``tests/contract/dialects/<protocol>.py`` exporting ``DIALECT``); the suite fails for a
protocol without one.
"""

from __future__ import annotations

from sycophant_py.testing.contract import Call, Dialect, U, split

__all__ = ["Call", "Dialect", "U", "image_ref", "split", "two_pieces"]


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
