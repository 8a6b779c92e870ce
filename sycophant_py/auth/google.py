"""Google AI Studio (Gemini API) authentication: the key travels in the ``x-goog-api-key`` header.

The key is never put in the URL (Google also accepts ``?key=``, which ends up in access logs and
exception texts that quote the URL), never logged, and masked wherever credentials or requests are
shown. An OAuth ``access_token`` (for example from Application Default Credentials) is sent as a
bearer token instead, when no key is given.
"""

from __future__ import annotations

from typing_extensions import override

from sycophant_py.auth._base import Auth, Credentials, Middleware, add_headers

__all__ = ["GoogleAuth"]


class GoogleAuth(Auth):
    """``x-goog-api-key: <api_key>`` (or ``Authorization: Bearer <access_token>``); nothing without either."""

    name = "google"

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        key = credentials.api_key
        if key:
            return [add_headers({"x-goog-api-key": key})]
        token = credentials.get("access_token")
        if token:
            return [add_headers({"authorization": f"Bearer {token}"})]
        return []
