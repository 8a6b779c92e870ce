"""The per-user credential store: one JSON file holding API keys and OAuth logins per provider.

Location: ``SYCOPHANT_AUTH_FILE`` when set, else ``<user data dir>/sycophant/auth.json``
(platformdirs' ``user_data_dir``: ``~/.local/share/sycophant/auth.json`` on Linux). Format: one
JSON object keyed by provider id, each entry tagged by ``type``::

    {
      "openai": {"type": "api_key", "key": "sk-..."},
      "corporate-ai": {"type": "oauth", "refresh": "...", "access": "...", "expires": 1767225600.0},
      "google-vertex": {"type": "settings", "project": "my-project", "location": "us-central1"}
    }

Rules the file keeps:

- the directory is created 0700 and the file is 0600; every write replaces the whole file
  atomically (a temp file in the same directory, fsync, ``os.replace``), so a reader never sees
  half a file and a crash never leaves one;
- every read-modify-write runs under a cross-process lock (``filelock``, beside the file as
  ``auth.json.lock``) and re-reads the file under it: two processes never lose each other's
  changes, and an OAuth refresh done by one is seen by the others (see :meth:`CredentialStore.lock`);
- a file that is not valid JSON (or not an object of objects) raises ``CredentialStoreError``
  naming the file, and is never overwritten: nothing is written until it is fixed or removed.

The call path reads the file through :func:`cached_entry`: one ``stat`` per call, a read only
when the file changed (mtime, size or inode differ). Neither ``filelock`` nor ``platformdirs`` is
imported before the store is used.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from typing_extensions import override

from sycophant_py._exceptions import CredentialStoreError

__all__ = ["CredentialStore", "StoreTransaction", "cached_entry", "default_path"]

LOCK_TIMEOUT = 60.0
"""Seconds to wait for the cross-process lock before giving up."""

_FILE_MODE = 0o600
_DIR_MODE = 0o700


@cache
def _default_data_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("sycophant", appauthor=False)) / "auth.json"


def default_path() -> Path:
    """Where the store lives: ``SYCOPHANT_AUTH_FILE``, else the user data dir's ``sycophant/auth.json``."""
    env = os.environ.get("SYCOPHANT_AUTH_FILE")
    return Path(env).expanduser() if env else _default_data_path()


def _parse(path: Path, raw: bytes) -> dict[str, dict[str, Any]]:
    """The store's content; the error names the file and never quotes it (it holds secrets)."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise CredentialStoreError(
            f"credential store {path} is not valid JSON{where}; fix or remove it (nothing was overwritten)"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise CredentialStoreError(
            f"credential store {path} must be a JSON object of provider entries; fix or remove it "
            "(nothing was overwritten)"
        )
    return data


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredentialStoreError(f"cannot read credential store {path}: {exc.strerror}") from exc
    return _parse(path, raw)


def _ensure_dir(directory: Path) -> None:
    """Create missing directories 0700 (an existing directory is left as it is)."""
    if directory.is_dir():
        return
    directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, _DIR_MODE)  # mkdir's mode is filtered by the umask


def _write(path: Path, data: Mapping[str, Any]) -> None:
    """Replace the file atomically with ``data`` (0600; temp file + fsync + ``os.replace``)."""
    _ensure_dir(path.parent)
    try:
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    except (TypeError, ValueError) as exc:
        raise CredentialStoreError(f"refusing to write {path}: an entry is not JSON ({exc})") from None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if hasattr(os, "fchmod"):  # POSIX (mkstemp already makes it 0600; a umask cannot widen it)
                os.fchmod(f.fileno(), _FILE_MODE)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX; not on Windows)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _canonical(provider: str) -> str:
    from sycophant_py._catalog import canonical_provider

    return canonical_provider(provider)


class StoreTransaction:
    """The store while its lock is held: reads are fresh, each change is written at once.

    Obtained from :meth:`CredentialStore.lock` / :meth:`CredentialStore.alock`; invalid after the
    ``with`` block. Methods mirror the store's, without taking the lock again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data = _read(path)

    def get(self, provider: str) -> dict[str, Any] | None:
        """The provider's entry as stored (a copy), or None."""
        entry = self._data.get(_canonical(provider))
        return dict(entry) if entry is not None else None

    def put(self, provider: str, entry: Mapping[str, Any]) -> None:
        """Store an entry (it must have a ``type``) and write the file."""
        if not isinstance(entry.get("type"), str):
            raise CredentialStoreError("a credential store entry needs a string 'type'")
        self._data[_canonical(provider)] = dict(entry)
        _write(self.path, self._data)

    def remove(self, provider: str) -> bool:
        """Drop the provider's entry; True when there was one."""
        if self._data.pop(_canonical(provider), None) is None:
            return False
        _write(self.path, self._data)
        return True

    def providers(self) -> list[str]:
        """Provider ids with an entry, sorted."""
        return sorted(self._data)


class CredentialStore:
    """The per-user credential file (see the module docstring for location, format and rules).

    Args:
        path: The file; default :func:`default_path` (``SYCOPHANT_AUTH_FILE``, else the user data dir).
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path: Path = Path(path).expanduser() if path is not None else default_path()
        """The JSON file."""

    @override
    def __repr__(self) -> str:
        return f"CredentialStore({str(self.path)!r})"

    def _lock_file(self) -> Any:
        from filelock import FileLock

        _ensure_dir(self.path.parent)
        # A new lock object per acquisition: the OS lock then excludes threads of this process too.
        return FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT, mode=_FILE_MODE, thread_local=False)

    def _timeout(self) -> CredentialStoreError:
        return CredentialStoreError(f"timed out after {LOCK_TIMEOUT:.0f}s waiting for the lock on {self.path}")

    @contextlib.contextmanager
    def lock(self) -> Iterator[StoreTransaction]:
        """Hold the cross-process lock; yields a :class:`StoreTransaction` reading the file afresh.

        Use it to refresh a token: re-read the entry inside the block, refresh only when it is
        still stale, and write the result before leaving::

            with store.lock() as tx:
                entry = tx.get("corporate-ai")
                ...
                tx.put("corporate-ai", new_entry)

        Raises:
            CredentialStoreError: the lock was not obtained within ``LOCK_TIMEOUT`` seconds, or the
                file is corrupt.
        """
        from filelock import Timeout as LockTimeout

        lock = self._lock_file()
        try:
            lock.acquire()
        except LockTimeout:
            raise self._timeout() from None
        try:
            yield StoreTransaction(self.path)
        finally:
            lock.release()

    @contextlib.asynccontextmanager
    async def alock(self) -> AsyncIterator[StoreTransaction]:
        """Async twin of :meth:`lock` (the lock is awaited in a worker thread, never blocking the loop)."""
        import asyncio

        from filelock import Timeout as LockTimeout

        lock = self._lock_file()
        try:
            await asyncio.to_thread(lock.acquire)
        except LockTimeout:
            raise self._timeout() from None
        try:
            yield StoreTransaction(self.path)
        finally:
            lock.release()

    def read(self) -> dict[str, dict[str, Any]]:
        """Every entry (a fresh read; no lock needed: writes are atomic)."""
        return _read(self.path)

    def get(self, provider: str) -> dict[str, Any] | None:
        """The provider's entry (``{"type": "api_key", "key": ...}``, ``{"type": "oauth", ...}``...), or None."""
        entry = _read(self.path).get(_canonical(provider))
        return dict(entry) if entry is not None else None

    def providers(self) -> list[str]:
        """Provider ids with an entry, sorted."""
        return sorted(_read(self.path))

    def set_api_key(self, provider: str, key: str) -> None:
        """Store a plain API key for a provider (replacing what it had).

        Raises:
            CredentialStoreError: the key is empty, or the file is corrupt.
        """
        if not isinstance(key, str) or not key.strip():
            raise CredentialStoreError(f"refusing to store an empty API key for {provider!r}")
        with self.lock() as tx:
            tx.put(provider, {"type": "api_key", "key": key.strip()})

    def set_oauth(self, provider: str, credentials: Any) -> None:
        """Store OAuth credentials (an ``OAuthCredentials`` or a mapping with ``refresh``/``access``/``expires``)."""
        from sycophant_py._oauth import OAuthCredentials

        creds = OAuthCredentials.coerce(credentials, f"credentials for {provider!r}")
        with self.lock() as tx:
            tx.put(provider, {"type": "oauth", **creds.to_dict()})

    def set_entry(self, provider: str, entry: Mapping[str, Any]) -> None:
        """Store any entry with a ``type`` (``"settings"`` entries hold non-secret settings)."""
        with self.lock() as tx:
            tx.put(provider, entry)

    def remove(self, provider: str) -> bool:
        """Remove the provider's entry; True when there was one."""
        with self.lock() as tx:
            return tx.remove(provider)


# -- the call path's cached read ---------------------------------------------------------------

_cache_lock = threading.Lock()
_cached: dict[str, tuple[tuple[int, int, int], dict[str, dict[str, Any]]]] = {}
_paths: dict[str | None, str] = {}  # SYCOPHANT_AUTH_FILE's value -> the file (a Path costs microseconds)


def _current_path() -> str:
    env = os.environ.get("SYCOPHANT_AUTH_FILE") or None
    path = _paths.get(env)
    if path is None:
        path = _paths[env] = str(default_path())
    return path


def cached_entry(provider: str) -> dict[str, Any] | None:
    """The stored entry of a (canonical) provider id, re-read only when the file changed.

    One ``os.stat`` per call; the file is read again only when its mtime, size or inode changed
    (every write replaces it, so the inode changes too).

    Raises:
        CredentialStoreError: the file is corrupt.
    """
    path = _current_path()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        _cached.pop(path, None)
        return None
    except OSError:
        return None
    sig = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _cached.get(path)
    if hit is None or hit[0] != sig:
        data = _read(Path(path))
        with _cache_lock:
            _cached[path] = hit = (sig, data)
    return hit[1].get(provider)
