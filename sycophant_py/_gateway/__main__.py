"""``python -m sycophant_py._gateway --host H --port P [--config F] [--workers N]``."""

from __future__ import annotations

from sycophant_py._gateway._server import main

raise SystemExit(main())
