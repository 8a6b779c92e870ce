"""``python -m sycophant_py``: the ``sycophant`` command line."""

from __future__ import annotations

import sys

from sycophant_py._cli import main

if __name__ == "__main__":
    sys.exit(main())
