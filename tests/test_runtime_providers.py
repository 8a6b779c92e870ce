"""Servers added at run time get the care built-in rows get: documented compat flags and local defaults.

Every behaviour a hand-written row relies on is a compat flag any provider can set (``compat_flags()``,
documented in docs/providers.md); a provider on a loopback address, registered or configured, gets the
local rows' defaults. ``syc.models()`` lists the models of providers built from ``[[instances]]``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _catalog
from sycophant_py._registry import compat_flags
from sycophant_py.testing import Reply, ScriptedServer

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ROWS = ("ollama", "vllm", "lmstudio", "llamacpp")
OK = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}


def test_every_compat_key_the_code_reads_is_a_documented_flag() -> None:
    read: set[str] = set()
    for path in (ROOT / "sycophant_py").rglob("*.py"):
        read |= set(re.findall(r"compat\.get\(\s*\"(\w+)\"", path.read_text(encoding="utf-8")))
    assert read
    assert read <= set(compat_flags()), read - set(compat_flags())
    docs = (ROOT / "docs" / "providers.md").read_text(encoding="utf-8")
    assert [flag for flag in compat_flags() if f"`{flag}`" not in docs] == []


def test_every_compat_key_of_the_catalog_is_a_flag() -> None:
    hand = json.loads((ROOT / "sycophant_py" / "_data" / "catalog.json").read_text(encoding="utf-8"))["providers"]
    for pid, row in hand.items():
        for key, value in (row.get("compat") or {}).items():
            assert value in compat_flags()[key], (pid, key, value)
        for mid, mrow in (row.get("models") or {}).items():
            assert set(mrow.get("compat") or {}) <= set(compat_flags()), (pid, mid)


@pytest.mark.parametrize("pid", LOCAL_ROWS)
def test_local_rows_carry_the_local_defaults(pid: str) -> None:
    info = syc.get_model(f"{pid}:any-model")
    assert info.local
    assert dict(info.compat).items() >= _catalog.LOCAL_COMPAT.items()
    assert info.compat.get("response_format") == ("json_object_schema" if pid == "llamacpp" else None)


def test_a_configured_loopback_provider_gets_the_local_defaults() -> None:
    syc.configure(
        custom_providers={
            "box": {"base_url": "http://127.0.0.1:9/v1"},
            "box6": {"base_url": "http://[::1]:9/v1", "auth": "none", "compat": {"supports_top_k": False}},
            "remote": {"base_url": "https://llm.example.com/v1"},
            "embedder": {"base_url": "http://localhost:9", "api": "openai_embed"},
        }
    )
    box = syc.get_model("box:m")
    assert (box.local, box.auth, dict(box.compat)) == (True, "optional", dict(_catalog.LOCAL_COMPAT))
    box6 = syc.get_model("box6:m")
    assert (box6.local, box6.auth, box6.compat["supports_top_k"]) == (True, "none", False)
    remote = syc.get_model("remote:m")
    assert (remote.local, remote.auth, dict(remote.compat)) == (False, "required", {})
    embedder = syc.get_model("embedder:m")
    assert (embedder.local, dict(embedder.compat)) == (True, {})  # compat flags are openai_chat's


def test_a_registered_loopback_provider_gets_the_local_defaults() -> None:
    syc.register_provider("mybox", base_url="http://localhost:8080/v1", api="openai_chat")
    info = syc.get_model("mybox:m")
    assert (info.local, info.auth, dict(info.compat)) == (True, "optional", dict(_catalog.LOCAL_COMPAT))
    syc.register_provider("cloud", base_url="https://llm.example.com/v1", api_key="literal:k")
    assert not syc.get_model("cloud:m").local
    assert dict(syc.get_model("cloud:m").compat) == {}


def tool_conversation() -> list[syc.Message]:
    call = syc.ToolCall.from_json("call_1", "lookup", '{"q": "x"}')
    return [
        syc.Message.user("find x"),
        syc.Message.assistant(tool_calls=[call]),
        syc.Message.tool_result("call_1", "found"),
    ]


@pytest.mark.parametrize(("compat", "content"), [({}, None), ({"requires_content_string": True}, "")])
def test_content_string_flag_on_any_provider(srv: ScriptedServer, compat: dict[str, Any], content: str | None) -> None:
    # The flag, not the address, decides: a catalog provider pointed at 127.0.0.1 keeps its own rules.
    syc.register_provider("openai", base_url=srv.url + "/v1", compat=compat)
    srv.add(Reply.json(OK))
    syc.generate_text("openai:gpt-4o-mini", tool_conversation(), credentials={"api_key": "sk-test"})
    assert srv.requests[0].json["messages"][1]["content"] == content


def test_response_format_flag_on_a_registered_server(srv: ScriptedServer) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    srv.add(Reply.json({"choices": [{"message": {"content": '{"n": 3}'}, "finish_reason": "stop"}]}))
    syc.register_provider("pyllama", base_url=srv.url + "/v1", compat={"response_format": "json_object_schema"})
    assert syc.generate_object("pyllama:m", "three", schema=schema).object == {"n": 3}
    assert srv.requests[-1].json["response_format"] == {"type": "json_object", "schema": schema}
    syc.register_provider("other", base_url=srv.url + "/v1")
    srv.add(Reply.json({"choices": [{"message": {"content": '{"n": 3}'}, "finish_reason": "stop"}]}))
    syc.generate_object("other:m", "three", schema=schema)
    assert srv.requests[-1].json["response_format"]["type"] == "json_schema"


def test_compat_flags_of_other_protocols_can_be_registered() -> None:
    syc.register_provider(
        "my-gemini",
        base_url="https://gemini.example.com/v1beta",
        api="google_gemini",
        compat={"thinkingFormat": "level", "responseSchemaField": "responseSchema"},
    )
    assert dict(syc.get_model("my-gemini:m").compat) == {
        "thinking_format": "level",
        "response_schema_field": "responseSchema",
    }
    with pytest.raises(syc.InvalidError, match="response_format"):
        syc.register_provider("bad", base_url="https://x.example/v1", compat={"response_format": "xml"})


def test_models_of_an_instance() -> None:
    syc.configure(
        instances=[{"type": "anthropic", "name": "work-claude", "config": {"api_key": "sk-ant-work"}}],
    )
    listed = syc.models("work-claude")
    assert listed
    assert {m.provider for m in listed} == {"work-claude"}
    assert {m.id for m in listed} == {m.id for m in syc.models("anthropic")}
    assert any(m.provider == "work-claude" for m in syc.models())
    with pytest.raises(syc.UnknownProvider):
        syc.models("no-such-instance")
