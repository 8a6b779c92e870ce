"""The gateway's settings: the ``[gateway]`` config section under explicit arguments, and the bind check.

``[gateway]`` holds ``keys`` (the keys callers must present), ``host``, ``port``, ``workers``,
``max_request_bytes`` and ``cors_origins``. Explicit arguments (``create_app(keys=...)``,
``serve(host=...)``) win over the section, which wins over the defaults below. Keys are kept only
as SHA-256 digests, compared in constant time, and never printed (``repr`` shows how many).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from typing_extensions import override

from sycophant_py import _config
from sycophant_py._exceptions import InvalidConfig

__all__ = ["DEFAULT_MAX_REQUEST_BYTES", "GatewayOptions", "check_bind", "is_loopback", "resolve"]

DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""Largest request body accepted by default (images and PDFs travel inline as base64)."""
DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 8787,
    "workers": 1,
    "max_request_bytes": DEFAULT_MAX_REQUEST_BYTES,
    "cors_origins": (),
    "keys": (),
}


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """The gateway's resolved settings."""

    key_digests: tuple[bytes, ...] = ()
    """SHA-256 digests of the caller keys (empty: no key is required)."""
    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = 8787
    """Port to listen on."""
    workers: int = 1
    """Worker processes."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    """Largest request body; larger requests get a 413."""
    cors_origins: tuple[str, ...] = field(default=())
    """Browser origins allowed to call the gateway (CORS); empty: no CORS headers."""

    def accepts(self, presented: Iterable[str]) -> bool:
        """True when no key is required, or one of ``presented`` is a configured key (constant time)."""
        if not self.key_digests:
            return True
        ok = False
        for candidate in presented:
            digest = _digest(candidate)
            for known in self.key_digests:
                ok |= hmac.compare_digest(digest, known)
        return ok

    @override
    def __repr__(self) -> str:
        return (
            f"GatewayOptions(keys={len(self.key_digests)}, host={self.host!r}, port={self.port}, "
            f"workers={self.workers}, max_request_bytes={self.max_request_bytes}, cors_origins={self.cors_origins!r})"
        )


def _section() -> Any:
    """The ``[gateway]`` section of the config layer (``configure(gateway=...)`` over the file's)."""
    return _config.settings().gateway


def _from_section(section: Any, name: str) -> Any:
    if section is None:
        return None
    if isinstance(section, Mapping):
        return section.get(name)
    return getattr(section, name, None)


def _keys(value: Any) -> tuple[bytes, ...]:
    if isinstance(value, str):
        value = [value]
    keys = list(value or ())
    if not all(isinstance(k, str) and k for k in keys):
        raise InvalidConfig("gateway keys must be non-empty strings")
    return tuple(_digest(k) for k in keys)


def resolve(**given: Any) -> GatewayOptions:
    """The settings: each argument that is not None, else ``[gateway]``'s value, else the default.

    Args:
        **given: ``keys``, ``host``, ``port``, ``workers``, ``max_request_bytes``, ``cors_origins``.

    Raises:
        InvalidConfig: a key that is not a non-empty string, or a limit or worker count below 1.
    """
    section = _section()
    values = {}
    for name, default in DEFAULTS.items():
        value = given.get(name)
        if value is None:
            value = _from_section(section, name)
        values[name] = default if value is None else value
    for name in ("port", "workers", "max_request_bytes"):
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "port" else 1):
            raise InvalidConfig(f"gateway {name} must be a positive int, not {v!r}")
    return GatewayOptions(
        key_digests=_keys(values["keys"]),
        host=str(values["host"]),
        port=values["port"],
        workers=values["workers"],
        max_request_bytes=values["max_request_bytes"],
        cors_origins=tuple(values["cors_origins"]),
    )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``); any other name is not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, options: GatewayOptions) -> None:
    """Refuse to listen beyond this machine without caller keys.

    Raises:
        InvalidConfig: ``host`` is not a loopback address and no key is configured.
    """
    if not is_loopback(host) and not options.key_digests:
        raise InvalidConfig(
            f"refusing to listen on {host!r} without caller keys: anyone who can reach it could spend your "
            'provider credits. Set keys = ["..."] in the [gateway] section of the config file, or listen '
            "on 127.0.0.1 (and terminate TLS in front of the gateway for non-local use)."
        )
