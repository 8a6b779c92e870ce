"""Record real calls into ``fixtures/`` and replay them in tests.

``record(path)`` captures every HTTP exchange the library makes while it is active: the request as
sent (method, URL, headers, JSON body) and the raw response (status, headers, and the body as text —
JSON or SSE/NDJSON — or base64 for binary AWS event-streams). Secrets are redacted before anything
is written: auth headers (``authorization``, ``x-api-key``, ``api-key``, ``x-goog-api-key``,
``x-amz-security-token``, cookies), secret-looking query params, and every occurrence of those
secret values anywhere else in the recording.

``Cassette.load(path).server()`` replays the responses in order from a :class:`ScriptedServer`, and
``cassette.interactions[i].request`` is what was sent, for comparing with what the library sends now.

Example::

    with record("fixtures/llamacpp/chat.json"):
        syc.generate_text("llamacpp:smollm2", "Hi", max_tokens=8)

    cassette = Cassette.load("fixtures/llamacpp/chat.json")
    with cassette.server() as srv:
        syc.configure(custom_providers={"llamacpp": {"base_url": srv.url + "/v1"}})
        resp = syc.generate_text("llamacpp:smollm2", "Hi", max_tokens=8)
        assert srv.requests[0].json == cassette.interactions[0].request["body"]
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sycophant_py import _transport
from sycophant_py.auth._base import HttpRequest
from sycophant_py.testing._server import Reply, ScriptedServer

__all__ = ["REDACTED", "Cassette", "Interaction", "record"]

REDACTED = "REDACTED"
_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "x-amz-security-token",
        "cookie",
        "set-cookie",
    }
)
_SECRET_QUERY = ("key", "token", "secret", "signature", "credential")
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"})


@dataclass
class Interaction:
    """One recorded exchange (already redacted)."""

    request: dict[str, Any]
    """``method``, ``url``, ``headers`` and ``body`` (parsed JSON, or text)."""
    response: dict[str, Any]
    """``status``, ``headers`` and ``body`` (``{"text": ...}`` or ``{"base64": ...}``)."""

    @property
    def body_bytes(self) -> bytes:
        """The response body as it was received."""
        body = self.response["body"]
        return base64.b64decode(body["base64"]) if "base64" in body else str(body["text"]).encode("utf-8")

    @property
    def path(self) -> str:
        """The request's path and query."""
        parts = urlsplit(str(self.request["url"]))
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Cassette:
    """A list of recorded interactions, saved as one JSON file."""

    interactions: list[Interaction] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read a cassette written by :func:`record`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls([Interaction(i["request"], i["response"]) for i in data["interactions"]])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cassette (atomically, pretty-printed, keys sorted)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = {"interactions": [{"request": i.request, "response": i.response} for i in self.interactions]}
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, ensure_ascii=False)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)

    def replies(self) -> list[Reply]:
        """The recorded responses as scripted replies, in order."""
        out = []
        for i in self.interactions:
            headers = {k: v for k, v in i.response["headers"].items() if k not in _HOP_HEADERS}
            out.append(Reply(int(i.response["status"]), headers, [i.body_bytes]))
        return out

    def server(self) -> ScriptedServer:
        """A :class:`ScriptedServer` (not started; use it as a context manager) serving the responses."""
        return ScriptedServer().add(*self.replies())


def _secrets(req: HttpRequest) -> list[str]:
    found = []
    for name, value in req.headers.items():
        if name.lower() in _SECRET_HEADERS and value:
            found.append(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in ("bearer", "token", "basic"):
                found.append(token)
    for name, value in req.params.items():
        if any(s in name.lower() for s in _SECRET_QUERY) and value:
            found.append(value)
    return sorted({s for s in found if len(s) >= 6}, key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, REDACTED)
    return text


def _redact_url(url: str, secrets: list[str]) -> str:
    parts = urlsplit(url)
    query = [(k, REDACTED if any(s in k.lower() for s in _SECRET_QUERY) else v) for k, v in parse_qsl(parts.query)]
    return _scrub(urlunsplit(parts._replace(query=urlencode(query))), secrets)


def _headers(headers: dict[str, str], secrets: list[str]) -> dict[str, str]:
    return {k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else _scrub(v, secrets)) for k, v in headers.items()}


def _body_text(body: bytes, content_type: str) -> dict[str, str] | None:
    if "amazon.eventstream" in content_type:
        return None
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return None


def capture(req: HttpRequest, status: int, headers: dict[str, str], body: bytes) -> Interaction:
    """Turn one exchange into a redacted :class:`Interaction`."""
    secrets = _secrets(req)
    url = req.url
    if req.params:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(req.params)}"
    sent: Any
    try:
        sent = json.loads(_scrub(req.content.decode("utf-8"), secrets)) if req.content else None
    except (UnicodeDecodeError, ValueError):
        sent = _scrub(req.content.decode("utf-8", "replace"), secrets)
    text = _body_text(body, headers.get("content-type", ""))
    recorded = {"text": _scrub(text["text"], secrets)} if text else {"base64": base64.b64encode(body).decode()}
    return Interaction(
        {
            "method": req.method,
            "url": _redact_url(url, secrets),
            "headers": _headers(req.headers, secrets),
            "body": sent,
        },
        {"status": status, "headers": _headers(headers, secrets), "body": recorded},
    )


@contextmanager
def record(path: str | os.PathLike[str]) -> Iterator[Cassette]:
    """Record every exchange made inside the block into ``path`` (written when the block ends).

    Recordings nest: the innermost ``record`` captures. The file is written even when the block
    raises, so a failing call is recorded too.
    """
    cassette = Cassette()

    def tap(req: HttpRequest, status: int, headers: dict[str, str], body: bytes) -> None:
        cassette.interactions.append(capture(req, status, headers, body))

    previous = _transport.TAP
    _transport.TAP = tap
    try:
        yield cassette
    finally:
        _transport.TAP = previous
        cassette.save(path)
