"""A fake OAuth identity provider plus the model APIs behind it, on 127.0.0.1 (threaded).

One ``ScriptedServer`` with a routing handler plays every remote party of the OAuth tests:

- ``GET /authorize`` redirects (302) to the ``redirect_uri`` with a code, remembering the PKCE challenge;
- ``POST /token``: ``authorization_code`` (PKCE checked when a challenge was given),
  ``refresh_token`` (counted; can fail or be slow), and Google's JWT-bearer grant (the assertion's
  RS256 signature and claims are verified against the service account's public key);
- ``POST /login/device/code`` and ``POST /login/oauth/access_token``: GitHub's device flow, the
  poll answers scripted in ``device_polls``;
- ``GET /copilot_internal/v2/token``: the Copilot exchange (GitHub token in ``authorization: token``);
- ``POST .../chat/completions``, ``.../responses``, ``...:generateContent`` and Claude on Vertex's
  ``...:rawPredict`` / ``...:streamRawPredict`` (Anthropic's message and event stream): model APIs
  that accept only a currently valid bearer token (else 401).

Access tokens look like JWTs (``header.payload.sig``, unsigned) whose payload carries ``region`` and
a serial number, so a client can read its region from the token (pi's ``decodeRegionFromToken``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer

CHAT = {
    "id": "chatcmpl-1",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
RESPONSES = {
    "id": "resp_1",
    "status": "completed",
    "model": "m",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "hello", "annotations": []}],
        }
    ],
    "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
}
GEMINI = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
}
CLAUDE = {
    "id": "msg_vrtx_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "hello"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
CLAUDE_STREAM = [
    ("message_start", {"type": "message_start", "message": {**CLAUDE, "content": [], "stop_reason": None}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hel"}},
    ),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
    ("message_stop", {"type": "message_stop"}),
]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_claims(token: str) -> dict[str, Any]:
    """The payload of one of this server's access tokens."""
    claims: dict[str, Any] = json.loads(unb64url(token.split(".")[1]))
    return claims


@dataclass
class FakeIdP:
    """The fake provider; read ``requests``, ``refreshes``... after a test, set knobs before."""

    region: str = "eu"
    """Region written into newly issued access tokens."""
    expires_in: int = 3600
    refresh_delay: float = 0.0
    refresh_fails: bool = False
    device_polls: list[dict[str, Any]] = field(default_factory=list)
    """Scripted answers of the device-flow token endpoint, in order."""
    device_interval: int = 5
    copilot_accounts: set[str] = field(default_factory=set)
    """GitHub tokens that have Copilot."""
    service_account_keys: dict[str, Any] = field(default_factory=dict)
    """client_email -> public key, for the JWT-bearer grant."""
    google_expires_in: int = 3600

    def __post_init__(self) -> None:
        self.server = ScriptedServer(handler=self.handle)
        self.lock = threading.Lock()
        self.serial = 0
        self.valid: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.codes: dict[str, dict[str, str]] = {}
        self.refreshes = 0
        self.jwt_grants: list[dict[str, Any]] = []
        self.api_calls: list[tuple[str, str]] = []  # (path, bearer token)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.server.requests

    def __enter__(self) -> FakeIdP:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # -- tokens ---------------------------------------------------------------------------------

    def issue(self, region: str | None = None) -> dict[str, Any]:
        """New access and refresh tokens (valid at once)."""
        with self.lock:
            self.serial += 1
            n = self.serial
        claims = {"sub": "user-1", "region": region or self.region, "n": n}
        access = f"{b64url(b'{}')}.{b64url(json.dumps(claims).encode())}.sig{n}"
        refresh = f"refresh-{n}"
        self.valid.add(access)
        self.refresh_tokens.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "expires_in": self.expires_in, "token_type": "Bearer"}

    def revoke_all(self) -> None:
        """Every access token issued so far stops working (refresh tokens still work)."""
        self.valid.clear()

    # -- routing --------------------------------------------------------------------------------

    def handle(self, rec: RecordedRequest) -> Reply:
        path = urlsplit(rec.path).path
        if rec.method == "GET" and path == "/authorize":
            return self._authorize(rec)
        if path == "/token":
            return self._token(dict(parse_qsl(rec.body.decode())))
        if path == "/login/device/code":
            return Reply.json(
                {
                    "device_code": "dev-code-1",
                    "user_code": "ABCD-1234",
                    "verification_uri": f"{self.url}/login/device",
                    "expires_in": 900,
                    "interval": self.device_interval,
                }
            )
        if path == "/login/oauth/access_token":
            return Reply.json(self.device_polls.pop(0) if self.device_polls else {"error": "expired_token"})
        if path == "/copilot_internal/v2/token":
            return self._copilot(rec)
        return self._api(rec, path)

    def _authorize(self, rec: RecordedRequest) -> Reply:
        q = dict(parse_qsl(urlsplit(rec.path).query))
        code = f"code-{len(self.codes) + 1}"
        self.codes[code] = q
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        return Reply(302, {"location": target}, [b""])

    def _token(self, form: dict[str, str]) -> Reply:
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._code_grant(form)
        if grant == "refresh_token":
            return self._refresh_grant(form)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_grant(form)
        return Reply.json({"error": "unsupported_grant_type"}, status=400)

    def _code_grant(self, form: dict[str, str]) -> Reply:
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None:
            return Reply.json({"error": "invalid_grant"}, status=400)
        challenge = asked.get("code_challenge")
        if challenge is not None:
            digest = b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            if asked.get("code_challenge_method") != "S256" or digest != challenge:
                return Reply.json({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
            if form.get("redirect_uri") != asked.get("redirect_uri"):
                return Reply.json({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400)
        return Reply.json(self.issue())

    def _refresh_grant(self, form: dict[str, str]) -> Reply:
        with self.lock:
            self.refreshes += 1
        time.sleep(self.refresh_delay)
        if self.refresh_fails or form.get("refresh_token") not in self.refresh_tokens:
            return Reply.json({"error": "invalid_grant", "error_description": "refresh token revoked"}, status=400)
        self.refresh_tokens.discard(form["refresh_token"])  # rotation: a refresh token works once
        return Reply.json(self.issue())

    def _jwt_grant(self, form: dict[str, str]) -> Reply:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        head, payload, sig = form["assertion"].split(".")
        claims = json.loads(unb64url(payload))
        key = self.service_account_keys.get(claims.get("iss"))
        if key is None:
            return Reply.json({"error": "invalid_grant", "error_description": "unknown service account"}, 400)
        try:
            key.verify(unb64url(sig), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return Reply.json({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
        self.jwt_grants.append(claims)
        access = f"ya29.google-{len(self.jwt_grants)}"
        self.valid.add(access)
        return Reply.json({"access_token": access, "expires_in": self.google_expires_in, "token_type": "Bearer"})

    def _copilot(self, rec: RecordedRequest) -> Reply:
        gh = rec.headers.get("authorization", "").removeprefix("token ")
        if gh not in self.copilot_accounts:
            return Reply.json({"message": "Resource not accessible by integration"}, status=403)
        token = f"tid=copilot;n={len(self.requests)}"
        self.valid.add(token)
        return Reply.json(
            {"token": token, "expires_at": time.time() + 1800, "endpoints": {"api": self.url + "/copilot"}}
        )

    def _api(self, rec: RecordedRequest, path: str) -> Reply:
        bearer = rec.headers.get("authorization", "").removeprefix("Bearer ")
        self.api_calls.append((path, bearer))
        if bearer not in self.valid:
            return Reply.json({"error": {"message": "invalid access token", "type": "invalid_request_error"}}, 401)
        if path.endswith("/responses"):
            return Reply.json(RESPONSES)
        if path.endswith(":generateContent"):
            return Reply.json(GEMINI)
        if path.endswith(":rawPredict"):
            return Reply.json(CLAUDE)
        if path.endswith(":streamRawPredict"):
            return Reply.sse(CLAUDE_STREAM, done=False)
        return Reply.json(CHAT)
