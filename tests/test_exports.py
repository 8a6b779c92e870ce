from __future__ import annotations

import json
import subprocess
import sys

import sycophant_py as syc
import sycophant_py.auth
import sycophant_py.oauth
import sycophant_py.testing
import sycophant_py.wire

DESIGN_NAMES = [
    "generate_text",
    "stream_text",
    "generate_object",
    "embed",
    "agenerate_text",
    "astream_text",
    "agenerate_object",
    "aembed",
    "stream_object",
    "astream_object",
    "Message",
    "Context",
    "Response",
    "Usage",
    "Tool",
    "ToolCall",
    "register_protocol",
    "register_auth",
    "register_provider",
    "unregister_provider",
    "get_model",
    "configure",
    "close",
    "aclose",
    "calculate_cost",
    "SycophantError",
    "ModelConfig",
    "RateLimited",
    "MissingCredentials",
    "InvalidParams",
    "ProviderError",
    "OAuth",
    "OAuthCredentials",
    "login",
    "logout",
]


def test_all_imports_are_exported() -> None:
    for module in (syc, sycophant_py.wire, sycophant_py.auth, sycophant_py.oauth, sycophant_py.testing):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    assert set(DESIGN_NAMES) <= set(syc.__all__)
    assert sorted(syc.__all__) == sorted(set(syc.__all__))
    assert set(dir(syc)) >= set(syc.__all__)


def test_public_names_have_docstrings() -> None:
    for name in syc.__all__:
        obj = getattr(syc, name)
        assert getattr(obj, "__doc__", None), name


def test_exception_tree() -> None:
    import builtins

    assert issubclass(syc.InvalidParams, syc.InvalidError)
    assert issubclass(syc.MissingCredentials, syc.InvalidError)
    assert issubclass(syc.RateLimited, syc.ProviderError)
    assert issubclass(syc.InvalidError, syc.SycophantError)
    assert issubclass(syc.ProviderError, syc.SycophantError)
    for name in syc.__all__:
        obj = getattr(syc, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert not hasattr(builtins, name), f"{name} shadows a builtin"
    err = syc.RateLimited("slow down", retry_after=2.0, status_code=429, provider="p", model="m", request_id="r")
    assert (err.retry_after, err.status_code, err.request_id) == (2.0, 429, "r")
    assert "HTTP 429" in str(err)


def test_import_is_light() -> None:
    code = (
        "import sys, json, sycophant_py\n"
        "heavy = ['httpx', 'pydantic', 'jsonschema', 'structlog', 'asyncio', 'tenacity', 'filelock', 'platformdirs']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == []


def test_nothing_printed_without_logging_configuration() -> None:
    code = (
        "import sycophant_py as syc\n"
        "syc.configure(custom_providers={'x': {'base_url': 'http://127.0.0.1:9/v1', 'auth': 'none'}})\n"
        "try:\n"
        "    syc.generate_text('x:m', 'hi', bogus=1, timeout=2)\n"
        "except syc.ProviderError:\n"
        "    pass\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == ""
    assert proc.stderr == ""
