from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _hooks
from sycophant_py.testing import FakeClock, Reply, ScriptedServer


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        syc.configure(custom_providers={"h": {"base_url": s.url + "/v1", "auth": "none"}})
        yield s
    for name in _hooks._HOOKS:
        _hooks._HOOKS[name].clear()


OK = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1}}


def test_request_response_retry_and_error_hooks(srv: ScriptedServer) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    for name in ("request", "response", "error", "retry"):
        syc.on(name, lambda p, n=name: seen.append((n, p)))  # type: ignore[misc]
    srv.add(Reply.json({"error": {"message": "busy"}}, status=503), Reply.json(OK))
    with FakeClock():
        resp = syc.generate_text("h:m", "hi")
    assert [n for n, _ in seen] == ["request", "retry", "request", "response"]
    assert seen[0][1]["url"].endswith("/v1/chat/completions")
    assert seen[0][1]["body"]["model"] == "m"
    assert seen[1][1]["attempt"] == 1
    assert seen[-1][1]["response"] is resp
    seen.clear()
    srv.add(Reply.json({"error": {"message": "nope"}}, status=400))
    with pytest.raises(syc.BadRequest):
        syc.generate_text("h:m", "hi")
    assert [n for n, _ in seen] == ["request", "error"]
    assert isinstance(seen[-1][1]["error"], syc.BadRequest)


def test_stream_hooks(srv: ScriptedServer) -> None:
    seen: list[str] = []
    syc.on("request", lambda p: seen.append("request"))
    syc.on("response", lambda p: seen.append("response:" + p["response"].text))
    srv.add(Reply.sse([{"choices": [{"delta": {"content": "yo"}}]}]))
    syc.stream_text("h:m", "hi").response()
    assert seen == ["request", "response:yo"]


def test_a_failing_hook_is_logged_and_never_breaks_the_call(srv: ScriptedServer, caplog: Any) -> None:
    def boom(payload: dict[str, Any]) -> None:
        raise RuntimeError("hook exploded")

    syc.on("request", boom)
    srv.add(Reply.json(OK))
    with caplog.at_level(logging.WARNING, logger="sycophant_py"):
        assert syc.generate_text("h:m", "hi").text == "ok"
    failed = [r for r in caplog.records if r.getMessage() == "hook.failed"]
    assert len(failed) == 1
    assert "hook exploded" in failed[0].__dict__["error"]


def test_hook_can_switch_a_provider_to_a_proxy(srv: ScriptedServer) -> None:
    """The seed's session_start example: a hook re-registers a provider; later calls use it."""
    with ScriptedServer() as proxy:
        proxy.add(Reply.json(OK))
        srv.add(Reply.json(OK))
        syc.register_provider("h", base_url=srv.url + "/v1")
        switched: list[bool] = []

        def to_proxy(payload: dict[str, Any]) -> None:
            if not switched:
                switched.append(True)
                syc.register_provider("h", base_url=proxy.url + "/v1")

        syc.on("response", to_proxy)
        syc.generate_text("h:m", "first")
        syc.generate_text("h:m", "second")
        assert len(srv.requests) == 1
        assert proxy.requests[0].json["messages"][0]["content"] == "second"


def test_unknown_hook_name() -> None:
    with pytest.raises(syc.UnknownName, match="Did you mean 'request'"):
        syc.on("requests", print)  # type: ignore[arg-type]
