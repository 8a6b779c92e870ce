"""Test dialects, one module per chat protocol, each exporting ``DIALECT``."""

from __future__ import annotations

import importlib

from tests.contract.dialect import Dialect


def dialect_for(protocol: str) -> Dialect | None:
    """The dialect of a protocol, or None when there is no module for it."""
    try:
        module = importlib.import_module(f"tests.contract.dialects.{protocol}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tests.contract.dialects.{protocol}":
            return None
        raise
    dialect: Dialect = module.DIALECT
    return dialect
