"""The test dialects' base: the shipped one (``sycophant_py.testing.contract``), re-exported.

A dialect renders scripted server replies in one API's wire format and reads back, from a request
body the library sent, a normalised view of what was asked. Every registered chat protocol needs
one (``tests/contract/dialects/<protocol>.py`` exporting ``DIALECT``); the suite fails for a
protocol without one.
"""

from __future__ import annotations

from sycophant_py.testing.contract import Call, Dialect, U, split

__all__ = ["Call", "Dialect", "U", "split"]
