"""google-auth's HTTP transport over the library's own clients (imported only when google-auth is).

google-auth refreshes tokens through a ``google.auth.transport.Request``; this one sends through
``_transport`` so proxies, CA settings and the test guard apply as for every other request, and no
second HTTP library (``requests``) is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import google.auth.exceptions
import google.auth.transport
from typing_extensions import override

from sycophant_py._exceptions import ProviderError
from sycophant_py.auth._base import HttpRequest

__all__ = ["GoogleRequest"]


class _Response(google.auth.transport.Response):
    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self._status = status
        self._headers = dict(headers)
        self._data = data

    @property
    @override
    def status(self) -> int:
        return self._status

    @property
    @override
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    @override
    def data(self) -> bytes:
        return self._data


class GoogleRequest(google.auth.transport.Request):
    """``google.auth.transport.Request`` sending through ``sycophant_py._transport``."""

    @override
    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> google.auth.transport.Response:
        from sycophant_py import _config, _transport

        content = body.encode() if isinstance(body, str) else (body or b"")
        req = HttpRequest(method, url, {k.lower(): v for k, v in (headers or {}).items()}, {}, content)
        try:
            deadline = _config.now() + float(timeout) if timeout else None
            raw = _transport.send(req, deadline=deadline)
        except ProviderError as exc:
            raise google.auth.exceptions.TransportError(f"{type(exc).__name__}: {exc}") from exc  # type: ignore[no-untyped-call]  # google-auth is untyped
        return _Response(raw.status, raw.headers, raw.body)
