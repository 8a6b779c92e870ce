"""Amazon Bedrock auth: AWS Signature Version 4 (written here with hashlib/hmac) or a Bedrock API key.

Two modes, decided per call from the resolved credentials:

1. **Bearer** when there is a Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK``, or ``api_key`` /
   ``bearer_token`` in ``credentials=``): ``authorization: Bearer <key>``. It wins over access
   keys, as it does in the AWS SDKs.
2. **SigV4** with access keys: ``secret_access_key`` (or ``aws_secret_access_key``) plus
   ``access_key_id`` (``aws_access_key_id``) and, for temporary keys, ``session_token``
   (``aws_session_token``), sent as ``x-amz-security-token`` and signed. The environment layer
   reads ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``.

**Profiles.** When neither is found, ``prepare_credentials`` reads the static keys of a profile
itself (``AWS_PROFILE`` / ``credentials={"profile": ...}``, else ``default``) from the shared
credentials file (``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/credentials``) and then the
config file (``AWS_CONFIG_FILE``, else ``~/.aws/config``, section ``[profile NAME]``), with a
plain INI parse. Profiles that need the network (``role_arn``, ``sso_*``, ``credential_process``,
web identity) are not resolved: the error says so and suggests
``aws configure export-credentials --format env``. The region, when no layer sets one, is also
taken from the profile's ``region`` in the config file. Keys in the environment or passed per
request beat a profile. The catalog row is therefore ``auth: optional``: the generic resolver
must not refuse a call that a profile file can serve; this module raises
:class:`MissingAwsCredentials` (a ``MissingCredentials``) itself when nothing is found.

**Region.** ``path_params`` gives ``{"region": ...}`` for the base URL
``https://bedrock-runtime.{region}.amazonaws.com``; SigV4 also signs with it (service
``bedrock``). A missing region raises ``MissingCredentials`` naming ``AWS_REGION``.

**Signing** (:func:`sign_request`) follows the SigV4 specification as botocore implements it for
``bedrock-runtime``: the canonical request is built over the final body bytes
(``x-amz-content-sha256`` is not sent, as botocore does not send it for this service, but an
existing value is honoured as the payload hash); the canonical URI is the request path with dot
segments and repeated slashes removed and then percent-encoded **again** (non-S3 services sign
the path encoded twice, so the ``%3A`` of ``anthropic.claude-3-5-sonnet-20241022-v2%3A0`` is
signed as ``%253A``); query parameters (from the URL and ``HttpRequest.params``) are decoded,
RFC 3986-encoded, sorted, and written back into the URL exactly as signed; every header except
hop-by-hop ones and ``user-agent`` is signed, ``host`` included (set explicitly, so the HTTP client
sends what was signed). Each retry attempt is signed afresh with the current time.

Nothing here logs; secrets stay in ``Credentials`` (masked in ``repr``).
"""

from __future__ import annotations

import configparser
import datetime as _dt
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from typing_extensions import override

from sycophant_py._exceptions import InvalidError, MissingCredentials
from sycophant_py.auth._base import Auth, Credentials, HttpRequest, Middleware, add_headers

__all__ = [
    "ALGORITHM",
    "AwsKeys",
    "BedrockAuth",
    "MissingAwsCredentials",
    "SERVICE",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "load_profile",
    "sign_request",
    "signature",
    "signing_key",
]

SERVICE = "bedrock"
"""The SigV4 signing name of ``bedrock-runtime``."""
ALGORITHM = "AWS4-HMAC-SHA256"
PROVIDER = "amazon-bedrock"

# Hop-by-hop and client-controlled headers are never signed (the list botocore uses).
_UNSIGNED_HEADERS = frozenset(
    {
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
        "authorization",
    }
)
_BEARER_FIELDS = ("api_key", "bearer_token")
_NETWORK_PROFILE_KEYS = ("role_arn", "sso_session", "sso_start_url", "credential_process", "web_identity_token_file")
_TIMESTAMP = "%Y%m%dT%H%M%SZ"


class MissingAwsCredentials(MissingCredentials):
    """Neither a Bedrock API key, nor access keys, nor a profile with static keys was found."""

    def __init__(self, provider: str = PROVIDER, detail: str = "") -> None:
        env = ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE")
        super().__init__(provider, env, "secret_access_key")
        self.args = (
            f"No AWS credentials for provider {provider!r}: set AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key), or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary keys), or "
            "AWS_PROFILE naming a profile with static keys in ~/.aws/credentials; or pass "
            "credentials={'access_key_id': ..., 'secret_access_key': ...} or {'api_key': ...}" + detail,
        )


@dataclass(frozen=True, slots=True)
class AwsKeys:
    """AWS access keys (the secret parts are left out of ``repr``)."""

    access_key_id: str
    """The access key id (``AKIA...`` / ``ASIA...``)."""
    secret_access_key: str = field(repr=False)
    """The secret access key."""
    session_token: str | None = field(default=None, repr=False)
    """The session token of temporary keys."""


# -- SigV4 (pure) ----------------------------------------------------------------------------


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding: only ``A-Z a-z 0-9 - _ . ~`` stay as they are."""
    return quote(value, safe="-_.~")


def canonical_uri(path: str) -> str:
    """The canonical URI of a (still percent-encoded) request path, encoded once more.

    Dot segments and empty segments are removed (AWS normalises paths this way), a trailing slash
    is kept, and the result is percent-encoded with ``/`` and ``~`` left as they are.
    """
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg and seg != ".":
            out.append(seg)
    normal = "/" + "/".join(out)
    if path.endswith("/") and out:
        normal += "/"
    return quote(normal, safe="/~")


def canonical_query(query: str, params: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> str:
    """The canonical query string of a URL query plus extra params, sorted by encoded key then value.

    Args:
        query: The URL's raw query string (percent-encoded; ``+`` is a literal plus).
        params: More parameters, not yet encoded.
    """
    pairs: list[tuple[str, str]] = []
    for item in query.split("&") if query else ():
        key, _, value = item.partition("=")
        pairs.append((_encode(unquote(key)), _encode(unquote(value))))
    items = params.items() if isinstance(params, Mapping) else params
    pairs.extend((_encode(str(k)), _encode(str(v))) for k, v in items)
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], payload_hash: str, params: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The SigV4 canonical request and the ``SignedHeaders`` list.

    Args:
        method: HTTP method.
        url: Absolute URL (its path is signed encoded twice; see :func:`canonical_uri`).
        headers: The headers that will be sent (``host`` must be among them).
        payload_hash: Hex SHA-256 of the body.
        params: Query params not yet in ``url``.
    """
    parts = urlsplit(url)
    signed = sorted(
        {
            k.lower().strip(): " ".join(str(v).split())
            for k, v in headers.items()
            if k.lower().strip() not in _UNSIGNED_HEADERS
        }.items()
    )
    names = ";".join(k for k, _ in signed)
    lines = [
        method.upper(),
        canonical_uri(parts.path),
        canonical_query(parts.query, params or {}),
        "".join(f"{k}:{v}\n" for k, v in signed),
        names,
        payload_hash,
    ]
    return "\n".join(lines), names


def signing_key(secret_access_key: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """The derived SigV4 key for one day (``YYYYMMDD``), region and service."""
    key = ("AWS4" + secret_access_key).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(canonical: str, stamp: str, secret_access_key: str, region: str, service: str = SERVICE) -> str:
    """The hex SigV4 signature of a canonical request at ``stamp`` (``YYYYMMDDTHHMMSSZ``)."""
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
    key = signing_key(secret_access_key, stamp[:8], region, service)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _host(url: str) -> str:
    """The ``host`` header value: the host name, with the port unless it is the scheme's default."""
    parts = urlsplit(url)
    if parts.hostname and (parts.port is None or (parts.scheme, parts.port) in (("http", 80), ("https", 443))):
        return parts.hostname
    return parts.netloc.rsplit("@", 1)[-1]


def sign_request(
    req: HttpRequest, keys: AwsKeys, region: str, *, now: _dt.datetime, service: str = SERVICE
) -> HttpRequest:
    """Sign ``req`` in place with SigV4 and return it (pure: the time is an argument).

    Sets ``host``, ``x-amz-date``, ``x-amz-security-token`` (with a session token) and
    ``authorization``; moves ``req.params`` into the URL in their canonical encoding.

    Args:
        req: The final request (its ``content`` is what gets sent).
        keys: The access keys.
        region: The AWS region (``us-east-1``...).
        now: The signing time (converted to UTC).
        service: The signing name.
    """
    for name in ("authorization", "x-amz-date", "x-amz-security-token"):
        req.headers.pop(name, None)
    parts = urlsplit(req.url)
    query = canonical_query(parts.query, req.params)
    req.url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    req.params = {}
    stamp = now.astimezone(_dt.UTC).strftime(_TIMESTAMP)
    req.headers["host"] = _host(req.url)
    req.headers["x-amz-date"] = stamp
    if keys.session_token:
        req.headers["x-amz-security-token"] = keys.session_token
    payload_hash = req.headers.get("x-amz-content-sha256") or hashlib.sha256(req.content).hexdigest()
    creq, names = canonical_request(req.method, req.url, req.headers, payload_hash)
    sig = signature(creq, stamp, keys.secret_access_key, region, service)
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    req.headers["authorization"] = (
        f"{ALGORITHM} Credential={keys.access_key_id}/{scope}, SignedHeaders={names}, Signature={sig}"
    )
    return req


# -- credential chain ------------------------------------------------------------------------


def _read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(default_section="__none__", interpolation=None, strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise InvalidError(f"cannot parse AWS file {path}: {exc}") from None
    return parser


def _files(environ: Mapping[str, str]) -> tuple[Path, Path]:
    home = Path(environ.get("HOME") or Path.home())
    creds = environ.get("AWS_SHARED_CREDENTIALS_FILE") or str(home / ".aws" / "credentials")
    config = environ.get("AWS_CONFIG_FILE") or str(home / ".aws" / "config")
    return Path(creds).expanduser(), Path(config).expanduser()


def load_profile(name: str, environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The settings of one AWS profile, merged from the credentials file (first) and the config file.

    Args:
        name: The profile name (``default``...).
        environ: Where ``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_CONFIG_FILE`` and ``HOME`` are read.

    Returns:
        The profile's keys (``aws_access_key_id``, ``region``...), or None when neither file has it.
    """
    creds_file, config_file = _files(os.environ if environ is None else environ)
    found: dict[str, str] = {}
    seen = False
    config = _read_ini(config_file)
    for section in (f"profile {name}", name) if name != "default" else ("default", "profile default"):
        if config.has_section(section):
            found.update(config.items(section))
            seen = True
            break
    shared = _read_ini(creds_file)
    if shared.has_section(name):
        found.update(shared.items(name))  # the credentials file wins over the config file
        seen = True
    return {k.strip(): v.strip() for k, v in found.items()} if seen else None


def _first(creds: Mapping[str, object], *names: str) -> str | None:
    for n in names:
        v = creds.get(n)
        if v:
            return str(v)
    return None


def _keys_of(creds: Mapping[str, object]) -> AwsKeys | None:
    secret = _first(creds, "secret_access_key", "aws_secret_access_key")
    if secret is None:
        return None
    akid = _first(creds, "access_key_id", "aws_access_key_id")
    if akid is None:
        raise MissingCredentials(PROVIDER, ("AWS_ACCESS_KEY_ID",), "access_key_id")
    return AwsKeys(akid, secret, _first(creds, "session_token", "aws_session_token"))


def _from_profile(creds: Credentials, environ: Mapping[str, str]) -> Credentials:
    name = _first(creds, "profile") or "default"
    profile = load_profile(name, environ)
    if profile is None:
        if name != "default":
            files = " or ".join(str(p) for p in _files(environ))
            raise InvalidError(f"AWS profile {name!r} was not found in {files}")
        return creds
    out = Credentials(creds)
    if not out.get("region") and profile.get("region"):
        out["region"] = profile["region"]
    if _keys_of(out) is None and profile.get("aws_secret_access_key"):
        out["access_key_id"] = profile.get("aws_access_key_id", "")
        out["secret_access_key"] = profile["aws_secret_access_key"]
        if profile.get("aws_session_token"):
            out["session_token"] = profile["aws_session_token"]
    elif _keys_of(out) is None and any(k in profile for k in _NETWORK_PROFILE_KEYS):
        raise MissingAwsCredentials(
            detail=f". Profile {name!r} needs {', '.join(k for k in _NETWORK_PROFILE_KEYS if k in profile)}, which "
            "sycophant_py does not resolve: export temporary keys with "
            f"`aws configure export-credentials --profile {name} --format env`"
        )
    return out


class BedrockAuth(Auth):
    """SigV4 or Bedrock API key auth, and the ``{region}`` of the base URL (see the module docstring)."""

    name = "bedrock"

    def __init__(self, clock: Callable[[], _dt.datetime] | None = None) -> None:
        """Args:
        clock: Returns the signing time (default: the current UTC time).
        """
        self._clock = clock or (lambda: _dt.datetime.now(_dt.UTC))

    @staticmethod
    def mode(credentials: Mapping[str, object]) -> Literal["bearer", "sigv4"]:
        """``bearer`` when there is an API key, else ``sigv4``."""
        return "bearer" if _first(credentials, *_BEARER_FIELDS) else "sigv4"

    @override
    def prepare_credentials(self, credentials: Credentials) -> Credentials:
        """Fill keys and region from an AWS profile when no layer gave them (reads files: I/O).

        Raises:
            MissingAwsCredentials: no API key, no access keys, no usable profile.
            MissingCredentials: a secret key without its ``access_key_id``.
            InvalidError: an explicitly named profile does not exist.
        """
        out = credentials
        needs_keys = self.mode(credentials) == "sigv4" and _keys_of(credentials) is None
        if needs_keys or not credentials.get("region"):
            out = _from_profile(credentials, os.environ)
        if self.mode(out) == "sigv4" and _keys_of(out) is None:
            raise MissingAwsCredentials()
        return out

    @override
    def path_params(self, credentials: Credentials) -> dict[str, str]:
        """``{"region": ...}`` for the base URL template.

        Raises:
            MissingCredentials: no region (the message names ``AWS_REGION``).
        """
        return {"region": _region(credentials)}

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        """A bearer header, or a SigV4 signing step (which must run last: it signs the final request)."""
        token = _first(credentials, *_BEARER_FIELDS)
        if token is not None:
            return [add_headers({"authorization": f"Bearer {token}"})]
        keys = _keys_of(credentials)
        if keys is None:
            raise MissingAwsCredentials()
        region = _region(credentials)
        clock = self._clock

        def sign(req: HttpRequest) -> HttpRequest:
            return sign_request(req, keys, region, now=clock())

        return [sign]


def _region(credentials: Mapping[str, object]) -> str:
    region = _first(credentials, "region", "aws_region")
    if region is None:
        raise MissingCredentials(PROVIDER, ("AWS_REGION", "AWS_DEFAULT_REGION"), "region")
    return region
