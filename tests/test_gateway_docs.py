"""The SDK examples of ``docs/gateway.md``, run against a real gateway on 127.0.0.1.

The page's address (``http://127.0.0.1:8787``) becomes the test gateway's, whose caller key is the
page's (``gw-7f3c9a...``); the providers the examples name (``anthropic``, ``google``, ``openai``)
are pointed at scripted upstreams speaking their own wire formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import sycophant_py as syc
from sycophant_py.testing import Reply, ScriptedServer
from tests.contract.dialect import U
from tests.gateway_support import Upstream, running_gateway

DOCS = Path(__file__).resolve().parents[1] / "docs" / "gateway.md"
KEY = "gw-7f3c9a..."


def example(name: str) -> str:
    """The python block after ``<!-- example: NAME -->`` in the page."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"docs/gateway.md lost its {name} example"
    return match.group(1)


@pytest.fixture
def gateway() -> Iterator[str]:
    with running_gateway(keys=[KEY]) as url:
        yield url


def run(name: str, url: str) -> None:
    code = example(name).replace("http://127.0.0.1:8787", url)
    exec(compile(code, str(DOCS), "exec"), {"__name__": "docs_gateway"})


def test_openai_sdk_example(gateway: str) -> None:
    claude = Upstream.start("anthropic_messages", name="anthropic")
    claude.server.add(claude.dialect.text("Hello from Claude", U(4, 3)))
    with ScriptedServer() as emb:
        emb.add(
            Reply.json(
                {"data": [{"index": i, "embedding": [0.1 * i]} for i in range(2)], "usage": {"prompt_tokens": 2}}
            )
        )
        syc.configure(providers={"openai": {"api_key": "sk-test", "base_url": emb.url + "/v1"}})
        try:
            run("openai-sdk", gateway)
        finally:
            claude.stop()
        assert emb.requests[0].json["input"] == ["a", "b"]
    assert claude.sent()["messages"][0]["content"] in ("Hi", [{"type": "text", "text": "Hi"}])


def test_anthropic_sdk_example(gateway: str) -> None:
    gemini = Upstream.start("google_gemini", name="google")
    gemini.server.add(gemini.dialect.text("Hello from Gemini", U(4, 3)))
    try:
        run("anthropic-sdk", gateway)
    finally:
        gemini.stop()
    assert gemini.sent()["contents"][0]["parts"][0]["text"] == "Hi"
