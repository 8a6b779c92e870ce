"""SigV4 and the Bedrock credential chain (``sycophant_py.auth.bedrock``).

The signer is checked four ways:

1. **Published vectors.** AWS's documented signing-key derivation and IAM ``ListUsers`` example, the
   ``get-vanilla`` case of the AWS SigV4 test suite, and the ``get-space`` / ``get-utf8`` cases of the
   (older) suite botocore keeps in its repository (``tests/unit/auth/aws4_testsuite``: canonical
   request, string-to-sign hash and ``Authorization``). botocore's wheel ships no test vectors; these
   few are copied here with their expected values.
2. **Side by side with botocore's ``SigV4Auth``** over 600 generated requests: methods, model ids with
   ``:`` and ``/``, percent-encoded and raw paths, dot segments, query strings (URL and params),
   headers with odd whitespace and unsigned hop-by-hop names, session tokens, ports, random bodies
   and times. The ``Authorization`` header and the signed headers must be identical.
3. **On the wire.** Requests the library really sent to a ``ScriptedServer`` are re-signed by
   botocore from what the server received (path, headers, body), so the HTTP client cannot have
   changed anything that was signed.
4. **The credential chain:** bearer vs SigV4, env vars, profile files, region, errors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import string
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest

import sycophant_py as syc
from sycophant_py._exceptions import InvalidError, MissingCredentials
from sycophant_py.auth._base import Credentials, HttpRequest
from sycophant_py.auth.bedrock import (
    AwsKeys,
    BedrockAuth,
    MissingAwsCredentials,
    canonical_query,
    canonical_request,
    canonical_uri,
    load_profile,
    sign_request,
    signature,
    signing_key,
)
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire.bedrock_converse import model_path

SUITE_KEY = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS variable from the developer's shell, and profile files that do not exist yet."""
    for var in _AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    return tmp_path


def _at(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


# -- 1. published vectors ---------------------------------------------------------------------------


def test_signing_key_of_the_aws_documentation() -> None:
    key = signing_key(SUITE_SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_get_vanilla_of_the_aws_test_suite() -> None:
    req = sign_request(
        HttpRequest("GET", "https://example.amazonaws.com/"),
        AwsKeys(SUITE_KEY, SUITE_SECRET),
        "us-east-1",
        now=_at("20150830T123600Z"),
        service="service",
    )
    assert req.headers["x-amz-date"] == "20150830T123600Z"
    assert req.headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_iam_list_users_example_of_the_aws_documentation() -> None:
    req = HttpRequest(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    sign_request(req, AwsKeys(SUITE_KEY, SUITE_SECRET), "us-east-1", now=_at("20150830T123600Z"), service="iam")
    assert req.headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


# boto/botocore tests/unit/auth/aws4_testsuite/{get-space,get-utf8}.{creq,sts,authz} (2011 suite: a
# ``date`` header instead of ``x-amz-date``, service ``host``).
BOTOCORE_SUITE = [
    (
        "/%20/foo",
        "GET\n/%2520/foo\n\ndate:Mon, 09 Sep 2011 23:36:00 GMT\nhost:host.foo.com\n\ndate;host\n" + EMPTY_SHA256,
        "35975885599128f8963ce9be7219598b2b5a344321bae304529556c891e9e6ba",
        "2be9e587d1ee1f0fd02128724b86b4358ba3630d39f493b6e06610a19a50779e",
    ),
    (
        "/%E1%88%B4",
        "GET\n/%25E1%2588%25B4\n\ndate:Mon, 09 Sep 2011 23:36:00 GMT\nhost:host.foo.com\n\ndate;host\n" + EMPTY_SHA256,
        None,
        "57b1eb3df3b16a8479c0097b66c0b261cfd65b829419a3f2c3d05319722490b8",
    ),
]


@pytest.mark.parametrize(("path", "creq", "sts_hash", "sig"), BOTOCORE_SUITE)
def test_botocore_repository_suite(path: str, creq: str, sts_hash: str | None, sig: str) -> None:
    headers = {"date": "Mon, 09 Sep 2011 23:36:00 GMT", "host": "host.foo.com"}
    canonical, names = canonical_request("GET", "http://host.foo.com" + path, headers, EMPTY_SHA256)
    assert canonical == creq
    assert names == "date;host"
    if sts_hash:
        assert hashlib.sha256(canonical.encode()).hexdigest() == sts_hash
    assert signature(canonical, "20110909T233600Z", SUITE_SECRET, "us-east-1", "host") == sig


def test_canonical_pieces() -> None:
    assert canonical_uri("") == "/"
    assert canonical_uri("/model/a%3A0/converse") == "/model/a%253A0/converse"
    assert canonical_uri("/a/./b/../c//d/") == "/a/c/d/"
    assert canonical_uri("/~user/x y") == "/~user/x%20y"
    assert canonical_query("b=2&a=x%20y&c=%2F&a=1", {"z": "~*é"}) == "a=1&a=x%20y&b=2&c=%2F&z=~%2A%C3%A9"
    assert canonical_query("flag") == "flag="


# -- 2. side by side with botocore --------------------------------------------------------------------


def _botocore_sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    keys: AwsKeys,
    region: str,
    now: dt.datetime,
    params: dict[str, str] | None = None,
    service: str = "bedrock",
) -> str:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    req = AWSRequest(method, url, data=body, headers=dict(headers), params=params or {})
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
        SigV4Auth(
            BotoCredentials(keys.access_key_id, keys.secret_access_key, keys.session_token), service, region
        ).add_auth(req)
    return str(req.headers["Authorization"])


_MODEL_IDS = [
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon.nova-lite-v1:0",
    "cohere.embed-v4:0",
    "meta.llama3-70b-instruct-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/ab12cd34ef56",
    "my model (test)~v1",
    "modèle-ü:1",
]
_SAFE = string.ascii_letters + string.digits + "-_.~"
_ODD = " /:=&+*%?#@!$'()[],;é✓"


def _word(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, n)))


def _request_case(rng: random.Random) -> dict[str, Any]:
    host = rng.choice(
        [
            "bedrock-runtime.us-east-1.amazonaws.com",
            "bedrock-runtime.eu-central-1.amazonaws.com",
            "127.0.0.1:8443",
            "localhost:9000",
            "bedrock-runtime.us-west-2.amazonaws.com:443",
        ]
    )
    scheme = rng.choice(["https", "http"])
    model = rng.choice(_MODEL_IDS)
    path = rng.choice(
        [
            model_path(model) + "/converse",
            model_path(model) + "/converse-stream",
            model_path(model) + "/invoke",
            "/model/" + model.replace("/", "%2F") + "/converse",
            "/a/./b/../c//d/",
            "/",
        ]
    )
    query_pairs = [(_word(rng, _SAFE + _ODD, 6) or "k", _word(rng, _SAFE + _ODD, 8)) for _ in range(rng.randint(0, 4))]
    use_params = rng.random() < 0.5
    url = f"{scheme}://{host}{path}"
    if query_pairs and not use_params:
        url += "?" + "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query_pairs)
    headers = {
        "content-type": "application/json",
        "accept": rng.choice(["application/json", "application/vnd.amazon.eventstream"]),
    }
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(
            ["x-custom", "x-amzn-bedrock-trace", "user-agent", "connection", "x-b", "anthropic-beta", "X-Mixed-Case"]
        )
        headers[name.lower()] = rng.choice(["v", "  spaced   out  value ", "a,b", "tab\tin", "ü"])
    body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
    if rng.random() < 0.2:
        headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    keys = AwsKeys(
        rng.choice(["AKIDEXAMPLE", "ASIAQWERTY"]),
        _word(rng, _SAFE + "/+", 40) or "s",
        rng.choice([None, "session+token/==", "IQoJb3JpZ2luX2VjE" * 20]),
    )
    now = dt.datetime(2020, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randint(0, 10**9))
    return {
        "method": rng.choice(["POST", "POST", "GET", "PUT"]),
        "url": url,
        "headers": headers,
        "body": body,
        "keys": keys,
        "region": rng.choice(["us-east-1", "eu-west-3", "ap-southeast-2"]),
        "now": now,
        "params": dict(query_pairs) if use_params else {},
    }


@pytest.mark.parametrize("seed", range(6))
def test_same_authorization_as_botocore(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        case = _request_case(rng)
        req = HttpRequest(case["method"], case["url"], dict(case["headers"]), dict(case["params"]), case["body"])
        sign_request(req, case["keys"], case["region"], now=case["now"])
        expected = _botocore_sign(
            case["method"],
            case["url"],
            case["headers"],
            case["body"],
            keys=case["keys"],
            region=case["region"],
            now=case["now"],
            params=case["params"] or None,
        )
        assert req.headers["authorization"] == expected, case
        if case["keys"].session_token:
            assert req.headers["x-amz-security-token"] == case["keys"].session_token
        assert not req.params  # moved into the URL exactly as signed


def test_resigning_replaces_the_previous_signature() -> None:
    keys = AwsKeys("AKID", "secret", "tok")
    req = HttpRequest(
        "POST", "https://h.example/model/m%3A0/converse", {"content-type": "application/json"}, content=b"{}"
    )
    first = sign_request(req, keys, "us-east-1", now=_at("20240101T000000Z")).headers["authorization"]
    second = sign_request(req, keys, "us-east-1", now=_at("20240101T000500Z")).headers["authorization"]
    assert first != second
    assert second == _botocore_sign(
        "POST",
        "https://h.example/model/m%3A0/converse",
        {"content-type": "application/json"},
        b"{}",
        keys=keys,
        region="us-east-1",
        now=_at("20240101T000500Z"),
    )


# -- 3. on the wire --------------------------------------------------------------------------------


def _check_received(rec: Any, keys: AwsKeys, region: str) -> None:
    """Re-sign what the server received with botocore and compare (and validate a Converse body)."""
    from tests.contract.dialects.bedrock_converse import validate_request

    if rec.path.endswith(("/converse", "/converse-stream")):
        validate_request(rec.json, stream=rec.path.endswith("-stream"))
    auth = rec.headers["authorization"]
    signed = auth.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    assert "host" in signed
    assert "x-amz-date" in signed
    headers = {k: v for k, v in rec.headers.items() if k in signed and k not in ("x-amz-security-token",)}
    now = _at(rec.headers["x-amz-date"])
    url = f"http://{rec.headers['host']}{rec.path}"
    assert _botocore_sign(rec.method, url, headers, rec.body, keys=keys, region=region, now=now) == auth


_CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
}


def test_generate_text_with_aws_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENVEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env/secret+EXAMPLE")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-session")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with ScriptedServer() as srv:
        srv.add(Reply.json(_CONVERSE_OK, headers={"x-amzn-requestid": "req-1"}))
        syc.configure(providers={"amazon-bedrock": {"base_url": srv.url}})
        resp = syc.generate_text("bedrock:anthropic.claude-3-5-sonnet-20241022-v2:0", "Hi", max_tokens=20)
    assert resp.text == "ok"
    assert resp.request_id == "req-1"
    rec = srv.requests[0]
    assert rec.path == "/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse"
    assert rec.headers["x-amz-security-token"] == "env-session"
    assert "/eu-west-1/bedrock/aws4_request" in rec.headers["authorization"]
    _check_received(rec, AwsKeys("AKIDENVEXAMPLE", "env/secret+EXAMPLE", "env-session"), "eu-west-1")


def test_stream_and_arn_model_id_on_the_wire() -> None:
    from tests.contract.dialect import U
    from tests.contract.dialects.bedrock_converse import CREDENTIALS, DIALECT

    model = "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
    with ScriptedServer() as srv:
        srv.add(DIALECT.stream(["a", "b"], U(2, 2), 5))
        syc.configure(providers={"amazon-bedrock": {**CREDENTIALS, "base_url": srv.url}})
        assert syc.stream_text(f"amazon-bedrock:{model}", "Hi").response().text == "ab"
    rec = srv.requests[0]
    assert rec.path == model_path(model) + "/converse-stream"
    assert "%2F" in rec.path
    assert "%3A" in rec.path
    assert rec.headers["accept"] == "application/vnd.amazon.eventstream"
    _check_received(
        rec,
        AwsKeys(CREDENTIALS["access_key_id"], CREDENTIALS["secret_access_key"], CREDENTIALS["session_token"]),
        CREDENTIALS["region"],
    )


def test_every_retry_attempt_is_signed_afresh() -> None:
    from sycophant_py.testing import FakeClock

    keys = AwsKeys("AKIDRETRY", "retry-secret")
    with ScriptedServer() as srv, FakeClock():
        srv.add(Reply.json({"message": "slow down"}, status=429), Reply.json(_CONVERSE_OK))
        syc.configure(
            providers={
                "amazon-bedrock": {
                    "base_url": srv.url,
                    "region": "us-east-1",
                    "access_key_id": keys.access_key_id,
                    "secret_access_key": keys.secret_access_key,
                }
            }
        )
        assert syc.generate_text("bedrock:amazon.nova-lite-v1:0", "Hi").text == "ok"
    assert len(srv.requests) == 2
    for rec in srv.requests:
        assert "x-amz-security-token" not in rec.headers
        _check_received(rec, keys, "us-east-1")


def test_bearer_token_wins_and_sends_no_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-123")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDIGNORED")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ignored")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-2")
    with ScriptedServer() as srv:
        srv.add(Reply.json(_CONVERSE_OK))
        syc.configure(providers={"amazon-bedrock": {"base_url": srv.url}})
        syc.generate_text("bedrock:amazon.nova-lite-v1:0", "Hi")
    rec = srv.requests[0]
    assert rec.headers["authorization"] == "Bearer bedrock-api-key-123"
    assert "x-amz-date" not in rec.headers


# -- 4. credential chain -----------------------------------------------------------------------------


def _prepared(creds: dict[str, Any]) -> Credentials:
    return BedrockAuth().prepare_credentials(Credentials(creds))


def test_url_template_gets_the_region() -> None:
    from sycophant_py._pipeline import ENCODE, PREPARE, Call, run_steps

    call = run_steps(
        Call(
            "amazon-bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
            messages=(syc.Message.user("x"),),
            credentials_in={"access_key_id": "A", "secret_access_key": "S", "region": "ap-south-1"},
        ),
        PREPARE,
    )
    call.credentials = call.auth.prepare_credentials(call.credentials)
    call = run_steps(call, ENCODE)
    assert call.http.url == (
        "https://bedrock-runtime.ap-south-1.amazonaws.com/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    )


def test_missing_region_names_aws_region() -> None:
    with pytest.raises(MissingCredentials, match="AWS_REGION") as info:
        syc.generate_text(
            "bedrock:amazon.nova-lite-v1:0", "Hi", credentials={"access_key_id": "A", "secret_access_key": "S"}
        )
    assert info.value.keyword == "region"


def test_nothing_found_names_every_way_to_authenticate() -> None:
    with pytest.raises(MissingAwsCredentials) as info:
        syc.generate_text("bedrock:amazon.nova-lite-v1:0", "Hi", credentials={"region": "us-east-1"})
    text = str(info.value)
    for name in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        assert name in text
    assert isinstance(info.value, MissingCredentials)


def test_secret_without_key_id_names_aws_access_key_id() -> None:
    with pytest.raises(MissingCredentials, match="AWS_ACCESS_KEY_ID"):
        _prepared({"secret_access_key": "S", "region": "us-east-1"})


def test_boto_style_names_are_accepted() -> None:
    mws = BedrockAuth(clock=lambda: _at("20240101T000000Z")).middlewares(
        Credentials(
            {
                "aws_access_key_id": "AKIDBOTO",
                "aws_secret_access_key": "S",
                "aws_session_token": "T",
                "region": "us-east-1",
            }
        )
    )
    req = mws[0](HttpRequest("POST", "https://h/model/m/converse", {}, content=b"{}"))
    assert req.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDBOTO/20240101/us-east-1/bedrock/")
    assert req.headers["x-amz-security-token"] == "T"


def test_profile_files(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (aws_env / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n"
        "[work]\naws_access_key_id=AKIDWORK\naws_secret_access_key=work-secret\naws_session_token=work-token\n"
    )
    (aws_env / "config").write_text(
        "[default]\nregion = us-east-2\n\n[profile work]\nregion = eu-north-1\n"
        "[profile sso]\nsso_session = corp\nregion = us-west-1\n"
    )
    creds = _prepared({})
    assert (creds["access_key_id"], creds["secret_access_key"], creds["region"]) == (
        "AKIDDEFAULT",
        "default-secret",
        "us-east-2",
    )
    monkeypatch.setenv("AWS_PROFILE", "work")
    with ScriptedServer() as srv:
        srv.add(Reply.json(_CONVERSE_OK))
        syc.configure(providers={"amazon-bedrock": {"base_url": srv.url}})
        syc.generate_text("bedrock:amazon.nova-lite-v1:0", "Hi")
    _check_received(srv.requests[0], AwsKeys("AKIDWORK", "work-secret", "work-token"), "eu-north-1")
    # keys given per request beat the profile; the profile still gives the region
    creds = _prepared({"profile": "work", "access_key_id": "AKIDCALL", "secret_access_key": "call-secret"})
    assert (creds["access_key_id"], creds["region"]) == ("AKIDCALL", "eu-north-1")
    assert "session_token" not in creds
    with pytest.raises(MissingAwsCredentials, match=r"sso_session.*export-credentials --profile sso"):
        _prepared({"profile": "sso"})
    with pytest.raises(InvalidError, match="profile 'nope' was not found"):
        _prepared({"profile": "nope"})
    assert load_profile("work") == {
        "aws_access_key_id": "AKIDWORK",
        "aws_secret_access_key": "work-secret",
        "aws_session_token": "work-token",
        "region": "eu-north-1",
    }


def test_secrets_never_print() -> None:
    keys = AwsKeys("AKIDVISIBLE", "very-secret-value", "very-secret-token")
    assert "very-secret" not in repr(keys)
    creds = Credentials(
        {
            "access_key_id": "AKIDVISIBLE",
            "secret_access_key": "very-secret-value-1234",
            "session_token": "very-secret-token-5678",
        }
    )
    assert "very-secret" not in repr(creds)
    req = sign_request(HttpRequest("POST", "https://h/x", {}), keys, "us-east-1", now=_at("20240101T000000Z"))
    assert "very-secret" not in repr(req)
