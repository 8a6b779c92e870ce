"""The ``sycophant`` command line (``python -m sycophant_py`` runs the same).

It needs the ``cli`` extra (click and rich): ``pip install "sycophant_py[cli]"``. This module
imports neither, so ``main`` can say so in one line when they are missing; the commands live in
``_app`` (the group and the error handling), ``_chat`` (``chat``, ``embed``), ``_accounts``
(``login``, ``logout``, ``keys``), ``_info`` (``models``, ``providers``) and ``_doctor``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

__all__ = ["main"]

MISSING_EXTRA = "sycophant: the command line needs click and rich: pip install 'sycophant_py[cli]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sycophant`` command line.

    Args:
        argv: The arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 for a provider error, 2 for a caller error (bad arguments,
        a missing key), 130 after Ctrl-C.
    """
    if any(importlib.util.find_spec(name) is None for name in ("click", "rich")):
        print(MISSING_EXTRA, file=sys.stderr)
        return 1
    from sycophant_py._cli._app import run

    return run(argv)
