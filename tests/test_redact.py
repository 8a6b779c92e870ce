"""The redaction rules (``sycophant_py._redact``) tested directly: names, remembered values, shapes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _redact
from sycophant_py._headers import shown_name
from sycophant_py._log import log
from sycophant_py._redact import is_secret_header, is_secret_name, mask, redact, redact_text, remember
from sycophant_py.auth import Credentials, HttpRequest

OPENAI = "sk-proj-Qm7Xc2Lp9Rt4Vb8Nz1Kd6Hs3Jf5Wy0GaTu2Ei"
SHAPELESS = "Zq8Wm3Rt6Yb1Nc9Vd4Hf7Jg2Lp5Kx0Ae"


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    _redact.forget_all()


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apiKey",
        "x-api-key",
        "X-Goog-Api-Key",
        "authorization",
        "Proxy-Authorization",
        "secret_access_key",
        "aws_session_token",
        "x-amz-security-token",
        "access_key_id",
        "client_secret",
        "password",
        "token",
        "copilot_token",
        "_api_key_ref",
        "_instance_credentials",
        "cookie",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name.replace("apiKey", "api_key"))


@pytest.mark.parametrize(
    "name",
    ["max_tokens", "input_tokens", "signature", "auth", "key", "model", "region", "base_url", "prompt_cache_key"],
)
def test_names_that_are_not_secrets(name: str) -> None:
    """A token count, a thinking signature and the auth mode are data."""
    assert not is_secret_name(name)


def test_header_rule_is_broader() -> None:
    assert is_secret_header("X-Custom-Auth")
    assert is_secret_header("x-session-id")
    assert not is_secret_name("x_custom_auth")
    assert not is_secret_header("content-type")


def test_mask_keeps_the_last_four_of_long_values_only() -> None:
    assert mask(OPENAI) == "***u2Ei"
    assert mask("short-secret") == "***"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"key {OPENAI} rejected", OPENAI),
        ("x sk-ant-api03-Tr5Yu8Io2Pq7Ws4Ed1Rf6Tg9Yh3Uj0Ik-AbCd12EfGh y", "Tr5Yu8Io2Pq7Ws4Ed1Rf6"),
        ("https://h/v1/models?key=AIzaSyD4f7Hj2Kl9Mn3Bv6Cx8Zq1Wr5Et0Yu4Io&alt=sse", "AIzaSyD4f7Hj2Kl9Mn3Bv6Cx8"),
        ("AKIAQ7RZ3MX5TV2KWN8P wJal7rXUtnF/EMI3K7MDENGbP+xRfiCY9XzK2mQL", "wJal7rXUtnF/EMI3K7MDENGb"),
        ("id=AKIAQ7RZ3MX5TV2KWN8P", "AKIAQ7RZ3MX5TV2KWN8P"),
        ("token ghp_Zt6Ym1Xl8Wk3Vj5Ui9Th2Sg7Rf4Qe0Pd3Oc", "Zt6Ym1Xl8Wk3Vj5Ui9"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "ABCDEFG0123456789_abcdef"),
        ("Authorization: Bearer abc123def456ghi789jkl", "abc123def456ghi789"),
        ('{"api_key": "Zq8Wm3Rt6Yb1Nc9Vd4Hf7Jg2"}', "Zq8Wm3Rt6Yb1Nc9Vd4Hf7"),
        ("x-api-key: 1234567890abcdef", "1234567890abcdef"),
        ("AWS_SECRET_ACCESS_KEY=abcdEFGHijklMNOP/qrst", "abcdEFGHijklMNOP"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_X", "eyJzdWIiOiIxMjM0"),
    ],
)
def test_shapes_are_masked(text: str, secret: str) -> None:
    safe = redact_text(text)
    assert secret not in safe
    assert "***" in safe


@pytest.mark.parametrize(
    "text",
    [
        "Incorrect API key provided: sk-proj-****abcd. You can find your API key at ...",
        "The token representation of this text is fine",
        '{"max_tokens": 100000000, "input_tokens": 12345678}',
        "signature: EqQBCkgIARABGAIiQLtV8j2e5Y0nK3vX9sZ",
        "scikit-learn and sk-learn are libraries",
        "short",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) is text


def test_remembered_values_are_masked_anywhere() -> None:
    text = f"proxy says: {SHAPELESS}!"
    assert redact_text(text) is text  # no shape: unknown until remembered
    remember(SHAPELESS)
    assert redact_text(text) == "proxy says: ***x0Ae!"


def test_remember_ignores_short_and_non_string_values_and_is_bounded() -> None:
    remember("short")
    remember(12345678901234)
    assert redact_text("a short value") == "a short value"
    first = "first-remembered-secret-000"
    remember(first)
    for i in range(_redact._MAX_KNOWN):
        remember(f"filler-secret-{i:06d}")
    assert len(_redact._known) == _redact._MAX_KNOWN
    assert first not in _redact._known  # the oldest was forgotten
    last = f"filler-secret-{_redact._MAX_KNOWN - 1:06d}"
    assert last not in redact_text(f"x {last} y")


def test_credentials_remember_what_is_stored_in_them() -> None:
    creds = Credentials({"region": "eu-west-1"})
    creds["copilot_token"] = SHAPELESS
    assert SHAPELESS not in redact_text(f"echo {SHAPELESS}")
    assert repr(creds) == "Credentials({'region': 'eu-west-1', 'copilot_token': '***x0Ae'})"


def test_credentials_built_by_a_token_exchange_are_remembered() -> None:
    """A third-party auth's ``prepare_credentials`` returning ``Credentials({... new token ...})``."""
    Credentials({"region": "r", "access_token": SHAPELESS})
    assert redact_text(f"upstream echoed {SHAPELESS}") == "upstream echoed ***x0Ae"


def test_credentials_and_request_reprs_mask_secrets() -> None:
    creds = Credentials({"access_key_id": "AKIAQ7RZ3MX5TV2KWN8P", "secret_access_key": "x" * 40, "region": "r"})
    assert repr(creds) == "Credentials({'access_key_id': '***WN8P', 'secret_access_key': '***xxxx', 'region': 'r'})"
    req = HttpRequest("POST", "http://h/v1?key=AIzaSyD4f7Hj2Kl9Mn3Bv6Cx8Zq1Wr5Et0Yu4Io", {"x-custom-auth": "abc"})
    req.params["key"] = SHAPELESS
    text = repr(req)
    assert "AIzaSyD4f7Hj2Kl9" not in text
    assert SHAPELESS not in text
    assert "'x-custom-auth': '***'" in text


@dataclass(frozen=True, slots=True)
class _Frozen:
    name: str
    api_key: str
    nested: dict[str, Any] = field(default_factory=dict)


class _Plain:
    def __init__(self) -> None:
        self.token = SHAPELESS
        self.note = "hello"
        self.me = self  # a cycle


def test_redact_returns_the_same_object_when_nothing_is_secret() -> None:
    payload = {"provider": "p", "body": {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}}
    assert redact(payload) is payload


def test_redact_copies_only_what_changed_and_never_touches_the_original() -> None:
    inner = {"ok": [1, 2, 3]}
    obj = _Frozen("n", OPENAI, {"password": "hunter2-hunter2", "keep": inner})
    payload: dict[str, Any] = {"obj": obj, "list": [obj, "plain"], "tuple": ("x", f"Bearer {OPENAI}")}
    out = redact(payload)
    assert out["obj"] is not obj
    assert out["obj"].api_key == "***u2Ei"
    assert out["obj"].nested == {"password": "***", "keep": inner}
    assert out["obj"].nested["keep"] is inner
    assert out["list"][1] == "plain"
    assert out["tuple"] == ("x", "Bearer ***u2Ei")
    assert obj.api_key == OPENAI


def test_redact_walks_plain_objects_cycles_and_exceptions() -> None:
    plain = _Plain()
    out = redact(plain)
    assert out.token == "***x0Ae"
    assert out.note == "hello"
    assert plain.token == SHAPELESS
    exc = ValueError(f"upstream said {OPENAI}")
    safe = redact({"error": exc})["error"]
    assert isinstance(safe, ValueError)
    assert OPENAI not in str(safe)
    assert OPENAI in str(exc)


def test_bytes_are_redacted_when_they_are_text() -> None:
    assert redact({"content": f"x {OPENAI}".encode()}) == {"content": b"x ***u2Ei"}
    binary = b"\xff\xfe" + OPENAI.encode()
    assert redact(binary) is binary


def test_conversation_reprs_mask_keys_but_keep_the_data() -> None:
    msg = syc.Message.user(f"my key is {OPENAI}")
    assert OPENAI not in repr(msg)
    assert OPENAI in msg.text
    assert OPENAI in msg.to_json()


def test_log_events_mask_secret_fields_and_keys_inside_values(caplog: pytest.LogCaptureFixture) -> None:
    remember(SHAPELESS)
    with caplog.at_level(logging.DEBUG, logger="sycophant_py"):
        log.bind(provider="p").debug(
            "request.sent",
            url=f"http://h/v1?key={SHAPELESS}",
            api_key=SHAPELESS,
            error=RuntimeError(f"echo {OPENAI}"),
            detail={"authorization": "Bearer abc"},
            max_tokens=100,
        )
    (record,) = caplog.records
    fields = record.__dict__
    assert fields["api_key"] == "***x0Ae"
    assert SHAPELESS not in fields["url"]
    assert OPENAI not in str(fields["error"])
    assert fields["detail"] == {"authorization": "***"}
    assert fields["max_tokens"] == 100
    assert fields["provider"] == "p"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("MY_PROXY_KEY", "MY_PROXY_KEY"),
        ("AZURE_OPENAI_API_KEY_2", "AZURE_OPENAI_API_KEY_2"),
        ("PROXYKEY", "PROXYKEY"),
        ("ABCDEF0123456789ABCDEF0123456789", "***6789 (masked: it may be a key)"),
        ("KEY_0123456789ABCDEF", "***CDEF (masked: it may be a key)"),
    ],
)
def test_env_var_names_are_shown_only_when_they_read_like_names(value: str, shown: str) -> None:
    assert shown_name(value) == shown
