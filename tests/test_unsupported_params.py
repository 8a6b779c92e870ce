"""Params a protocol cannot express are named in the one ``params.dropped`` warning; none vanish silently.

The audit behind the table: every shared param is either encoded by each protocol or returned by its
``unsupported_params`` (for that model and the other params), and the pipeline logs them beside unknown
params in one warning.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._models import ModelInfo
from sycophant_py._registry import get_protocol
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.wire._base import Request

CLAUDE = {"id": "claude-sonnet-4-5"}
API_NAMES = {
    "reasoning_budget": ("budget_tokens", "thinkingBudget", "thinking"),
    "reasoning_effort": ("reasoningConfig",),
    "top_k": ("topK",),
    "top_p": ("topP",),
    "parallel_tool_calls": ("disable_parallel_tool_use",),
    "service_tier": ("serviceTier",),
}
CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("openai_chat", {}, {"reasoning_budget": 2048, "top_k": 5, "temperature": 0.2}, ["reasoning_budget", "top_k"]),
    ("openai_chat", {"compat": {"supports_top_k": True}}, {"top_k": 5}, []),
    ("openai_chat", {"compat": {"supports_store": False}}, {"store": True}, ["store"]),
    (
        "openai_chat",
        {"compat": {"supports_reasoning_effort": False}},
        {"reasoning_effort": "high"},
        ["reasoning_effort"],
    ),
    ("openai_chat", {"compat": {"thinking_format": "qwen"}}, {"reasoning_effort": "high"}, []),
    ("anthropic_messages", {}, {"seed": 1, "temperature": 0.2, "top_k": 5}, ["seed"]),
    (
        "anthropic_messages",
        {},
        {"reasoning_budget": 2048, "temperature": 0.2, "top_k": 5, "top_p": 0.9},
        ["temperature", "top_k", "top_p"],
    ),
    ("anthropic_messages", {}, {"reasoning_effort": "high", "top_p": 0.97}, []),
    (
        "google_gemini",
        {},
        {"parallel_tool_calls": False, "service_tier": "flex", "top_k": 3},
        ["parallel_tool_calls", "service_tier"],
    ),
    ("bedrock_converse", CLAUDE, {"seed": 3, "parallel_tool_calls": True}, ["seed", "parallel_tool_calls"]),
    ("bedrock_converse", CLAUDE, {"reasoning_budget": 4096, "temperature": 0.5, "top_k": 2}, ["temperature", "top_k"]),
    (
        "bedrock_converse",
        {"id": "meta.llama3-70b-instruct-v1:0"},
        {"reasoning_budget": 4096, "reasoning_effort": "low", "top_k": 2},
        ["reasoning_budget", "reasoning_effort"],
    ),
    ("bedrock_converse", {"id": "amazon.nova-2-lite-v1:0"}, {"reasoning_effort": "low"}, []),
    (
        "ollama_native",
        {},
        {"tool_choice": "required", "parallel_tool_calls": False},
        ["parallel_tool_calls", "tool_choice"],
    ),
    ("ollama_native", {}, {"tool_choice": "none", "service_tier": "x"}, ["service_tier"]),
    ("openai_responses", {}, {"temperature": 0.1, "prompt_cache_key": "k"}, []),
]


@pytest.mark.parametrize(("api", "row", "params", "dropped"), CASES)
def test_unsupported_params(api: str, row: dict[str, Any], params: dict[str, Any], dropped: list[str]) -> None:
    proto = get_protocol("chat", api)
    info = ModelInfo(provider="p", id=row.get("id", "m"), api=api, compat=row.get("compat", {}))
    assert sorted(proto.unsupported_params(info, params)) == sorted(dropped)
    body = proto.encode_request(Request(info, [syc.Message.user("hi")], params))
    text = str(body)
    for name in dropped:  # what is named is indeed not sent, under its own name or the API's
        for sent_as in (name, *API_NAMES.get(name, ())):
            assert f"'{sent_as}'" not in text, sent_as


def test_one_warning_names_unknown_and_unsupported_params(
    srv: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sycophant_py")
    syc.register_provider("fake", compat={"supports_top_k": False})
    srv.add(Reply.json({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}))
    resp = syc.generate_text("fake:m", "hi", temperature=0.3, top_k=5, reasoning_budget=100, not_a_param=1)
    body = srv.requests[0].json
    assert body["temperature"] == 0.3
    assert not {"top_k", "reasoning_budget", "not_a_param"} & set(body)
    records = [r for r in caplog.records if r.getMessage() == "params.dropped"]
    assert len(records) == 1
    assert sorted(records[0].__dict__["params"]) == ["not_a_param", "reasoning_budget", "top_k"]
    # params the protocol could not send stay in the context (another provider may take them)
    assert resp.context.params == {"temperature": 0.3, "top_k": 5, "reasoning_budget": 100}


def test_prompt_cache_key_on_chat_completions(srv: ScriptedServer) -> None:
    srv.add(Reply.json({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}))
    syc.generate_text("fake:m", "hi", prompt_cache_key="user-42", safety_identifier="u42", prompt_cache_retention="24h")
    body = srv.requests[0].json
    assert (body["prompt_cache_key"], body["safety_identifier"], body["prompt_cache_retention"]) == (
        "user-42",
        "u42",
        "24h",
    )
