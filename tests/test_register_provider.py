"""Every example of pi's provider-registration docs (seeds 000 and 001), in Python, on the wire.

Each example runs against a ScriptedServer on 127.0.0.1 standing in for the docs' host (the docs'
``https://proxy.example.com`` becomes ``srv.url``) and asserts the exact request: method, path,
headers (transport headers aside) and JSON body. Registration round trips leave ``get_model()``
exactly as it was. The OAuth examples are in ``tests/test_oauth.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _catalog
from sycophant_py._extensions import ExtensionAPI
from sycophant_py._providers import canonical_api
from sycophant_py._registry import compat_flags
from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer

TRANSPORT = {"host", "accept-encoding", "connection", "user-agent", "content-length"}

OPENAI_OK = {
    "id": "chatcmpl-1",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
ANTHROPIC_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 1},
}
GEMINI_OK = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1},
}
JSON_OUT = {"content-type": "application/json", "accept": "application/json"}


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


def wire(req: RecordedRequest) -> tuple[str, str, dict[str, str], Any]:
    """(method, path, headers without transport ones, JSON body) of a recorded request."""
    return req.method, req.path, {k: v for k, v in req.headers.items() if k not in TRANSPORT}, req.json


def snapshot(*specs: str) -> list[syc.ModelInfo]:
    return [syc.get_model(s) for s in specs]


# -- seed 000: "New Provider with Custom Models" ---------------------------------------------

MY_PROXY_MODEL = {
    "id": "claude-sonnet-4-20250514",
    "name": "Claude 4 Sonnet (proxy)",
    "reasoning": False,
    "input": ["text", "image"],
    "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
    "contextWindow": 200000,
    "maxTokens": 16384,
}


def test_new_provider_with_custom_models(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXY_API_KEY", "proxy-secret")
    syc.register_provider(
        "my-proxy", base_url=srv.url, api_key="PROXY_API_KEY", api="anthropic-messages", models=[MY_PROXY_MODEL]
    )
    info = syc.get_model("my-proxy:claude-sonnet-4-20250514")
    assert (info.name, info.api, info.base_url, info.auth_strategy) == (
        "Claude 4 Sonnet (proxy)",
        "anthropic_messages",
        srv.url,
        "anthropic",
    )
    assert (info.reasoning, info.input, info.context_window, info.max_tokens) == (
        False,
        ("text", "image"),
        200000,
        16384,
    )
    assert info.cost == syc.ModelCost(0, 0, 0, 0)
    assert info.capabilities["vision"] is True
    srv.add(Reply.json(ANTHROPIC_OK))
    resp = syc.generate_text("my-proxy:claude-sonnet-4-20250514", "Hello")
    assert resp.text == "ok"
    assert resp.usage.cost == syc.Cost(0, 0, 0, 0)
    assert wire(srv.requests[0]) == (
        "POST",
        "/v1/messages",
        {**JSON_OUT, "anthropic-version": "2023-06-01", "x-api-key": "proxy-secret"},
        {"model": "claude-sonnet-4-20250514", "max_tokens": 16384, "messages": [{"role": "user", "content": "Hello"}]},
    )


def test_pi_config_mapping_form_is_the_same_registration(srv: ScriptedServer) -> None:
    """The seed's options object, keys and all, works as a mapping (camelCase keys)."""
    syc.register_provider(
        "my-proxy",
        {"baseUrl": srv.url, "apiKey": "PROXY_API_KEY", "api": "anthropic-messages", "models": [MY_PROXY_MODEL]},
    )
    as_mapping = syc.get_model("my-proxy:claude-sonnet-4-20250514")
    syc.unregister_provider("my-proxy")
    syc.register_provider(
        "my-proxy",
        base_url=srv.url,
        api_key="PROXY_API_KEY",
        api="anthropic_messages",
        models=[
            syc.ModelConfig(
                id="claude-sonnet-4-20250514",
                name="Claude 4 Sonnet (proxy)",
                reasoning=False,
                input=["text", "image"],
                cost={"input": 0, "output": 0, "cache_read": 0, "cache_write": 0},
                context_window=200000,
                max_tokens=16384,
            )
        ],
    )
    assert syc.get_model("my-proxy:claude-sonnet-4-20250514") == as_mapping


def test_unset_env_var_key_is_an_error_naming_it_and_nothing_is_sent(srv: ScriptedServer) -> None:
    syc.register_provider(
        "my-proxy", base_url=srv.url, api_key="PROXY_API_KEY", api="anthropic-messages", models=[MY_PROXY_MODEL]
    )
    with pytest.raises(syc.InvalidError, match="PROXY_API_KEY"):
        syc.generate_text("my-proxy:claude-sonnet-4-20250514", "Hello")
    assert srv.requests == []


# -- seed 000/001: "Override Existing Provider URL" -------------------------------------------


def test_override_anthropic_url_keeps_every_model(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    ids = [m.id for m in syc.models("anthropic", live=False)]
    before = syc.models("anthropic", live=False)
    syc.register_provider("anthropic", base_url=srv.url)
    after = syc.models("anthropic", live=False)
    assert [m.id for m in after] == ids
    assert ids
    for old, new in zip(before, after, strict=True):
        assert new.base_url == srv.url
        assert new == type(old)(**{**{f: getattr(old, f) for f in old.__dataclass_fields__}, "base_url": srv.url})
    srv.add(Reply.json(ANTHROPIC_OK))
    syc.generate_text("anthropic:claude-sonnet-4-20250514", "Hello", max_tokens=100)
    assert wire(srv.requests[0]) == (
        "POST",
        "/v1/messages",
        {**JSON_OUT, "anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test"},
        {"model": "claude-sonnet-4-20250514", "max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}]},
    )
    syc.unregister_provider("anthropic")
    assert syc.models("anthropic", live=False) == before


# -- seed 001: "Add custom headers to OpenAI requests" (headers alone) ---------------------------


def test_headers_alone_keep_models_and_url(srv: ScriptedServer) -> None:
    before = syc.models("openai")
    syc.register_provider("openai", headers={"X-Custom-Header": "value"})
    after = syc.models("openai")
    assert [m.id for m in after] == [m.id for m in before]
    assert all(m.base_url == "https://api.openai.com/v1" for m in after)
    assert all(dict(m.headers) == {"X-Custom-Header": "value"} for m in after)
    srv.add(Reply.json(OPENAI_OK))
    # The URL stays the catalog's; a per-request base_url points this one call at the scripted server.
    syc.generate_text("openai:gpt-4o-mini", "Hello", credentials={"api_key": "sk-test", "base_url": srv.url + "/v1"})
    assert wire(srv.requests[0]) == (
        "POST",
        "/v1/chat/completions",
        {**JSON_OUT, "x-custom-header": "value", "authorization": "Bearer sk-test"},
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]},
    )
    syc.unregister_provider("openai")
    assert syc.models("openai") == before


# -- seed 001: "Both baseUrl and headers" (google, a header value naming an env var) ------------


def test_google_url_and_env_var_header(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "g-key")
    monkeypatch.setenv("CORP_AUTH_TOKEN", "corp-token")
    before = snapshot("google:gemini-2.5-flash")
    syc.register_provider("google", base_url=srv.url + "/google", headers={"X-Corp-Auth": "CORP_AUTH_TOKEN"})
    srv.add(Reply.json(GEMINI_OK))
    assert syc.generate_text("google:gemini-2.5-flash", "Hello").text == "ok"
    assert wire(srv.requests[0]) == (
        "POST",
        "/google/models/gemini-2.5-flash:generateContent",
        {**JSON_OUT, "x-corp-auth": "corp-token", "x-goog-api-key": "g-key"},
        {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]},
    )
    monkeypatch.delenv("CORP_AUTH_TOKEN")
    with pytest.raises(syc.InvalidError, match="CORP_AUTH_TOKEN"):
        syc.generate_text("google:gemini-2.5-flash", "Hello")
    assert len(srv.requests) == 1  # the unset variable's name was never sent
    syc.unregister_provider("gemini")  # the short alias names the same provider
    assert snapshot("google:gemini-2.5-flash") == before


# -- seed 001: "Register New Provider" (openai-completions, reasoning, prices) -------------------

MY_LLM_LARGE = {
    "id": "my-llm-large",
    "name": "My LLM Large",
    "reasoning": True,
    "input": ["text", "image"],
    "cost": {"input": 3.0, "output": 15.0, "cacheRead": 0.3, "cacheWrite": 3.75},
    "contextWindow": 200000,
    "maxTokens": 16384,
}


def register_my_llm(url: str) -> None:
    syc.register_provider(
        "my-llm", base_url=url + "/v1", api_key="MY_LLM_API_KEY", api="openai-completions", models=[MY_LLM_LARGE]
    )


def test_register_new_provider(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_API_KEY", "llm-key")
    register_my_llm(srv.url)
    info = syc.get_model("my-llm:my-llm-large")
    assert (info.api, info.reasoning, info.cost) == ("openai_chat", True, syc.ModelCost(3.0, 15.0, 0.3, 3.75))
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 200},
    }
    srv.add(Reply.json({**OPENAI_OK, "usage": usage}))
    resp = syc.generate_text(
        "my-llm:my-llm-large", [syc.Message.system("Be brief."), syc.Message.user("Hello")], max_tokens=64
    )
    assert wire(srv.requests[0]) == (
        "POST",
        "/v1/chat/completions",
        {**JSON_OUT, "authorization": "Bearer llm-key"},
        {
            "model": "my-llm-large",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
            "max_tokens": 64,
        },
    )
    assert (resp.usage.input_tokens, resp.usage.cache_read_tokens, resp.usage.output_tokens) == (800, 200, 500)
    cost = resp.usage.cost
    assert cost is not None
    assert cost.input == pytest.approx(800 * 3.0 / 1e6)
    assert cost.cache_read == pytest.approx(200 * 0.3 / 1e6)
    assert cost.output == pytest.approx(500 * 15.0 / 1e6)


# -- seed 001: "Unregister Provider" ---------------------------------------------------------


def test_unregister_removes_a_new_provider(srv: ScriptedServer) -> None:
    known = syc.providers()
    register_my_llm(srv.url)
    assert "my-llm" in syc.providers()
    syc.unregister_provider("my-llm")
    assert syc.providers() == known
    with pytest.raises(syc.UnknownProvider):
        syc.get_model("my-llm:my-llm-large")
    with pytest.raises(syc.UnknownProvider):
        syc.unregister_provider("my-llm")


# -- seed 001: compat settings ---------------------------------------------------------------


def test_compat_example(srv: ScriptedServer) -> None:
    syc.register_provider(
        "custom",
        base_url=srv.url + "/v1",
        api_key="literal:k",
        api="openai-completions",
        models=[
            {
                "id": "custom-model",
                "reasoning": True,
                "compat": {
                    "supportsDeveloperRole": False,
                    "supportsReasoningEffort": False,
                    "maxTokensField": "max_tokens",
                    "requiresToolResultName": True,
                    "requiresMistralToolIds": True,
                    "thinkingFormat": "qwen",
                },
            }
        ],
    )
    call = syc.ToolCall.from_json("call_abc_123456", "lookup", '{"q": "x"}')
    msgs = [
        syc.Message.system("sys"),
        syc.Message.user("find x"),
        syc.Message("assistant", (call,)),
        syc.Message.tool_result("call_abc_123456", "found", name="lookup"),
    ]
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("custom:custom-model", msgs, max_tokens=100, reasoning_effort="high", tools=[syc.Tool("lookup")])
    body = srv.requests[0].json
    tool_id = body["messages"][2]["tool_calls"][0]["id"]
    assert len(tool_id) == 9
    assert tool_id.isalnum()
    assert body == {
        "model": "custom-model",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "find x"},
            {
                "role": "assistant",
                "content": "",  # on 127.0.0.1: the local defaults (requires_content_string)
                "tool_calls": [
                    {"id": tool_id, "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
                ],
            },
            {"role": "tool", "tool_call_id": tool_id, "content": "found", "name": "lookup"},
        ],
        "max_tokens": 100,
        "enable_thinking": True,
        "tools": [
            {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
        ],
    }


# -- seed 001: "Auth Header" -----------------------------------------------------------------


def test_auth_header(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_KEY", "my-key")
    syc.register_provider(
        "custom-api",
        base_url=srv.url,
        api_key="MY_API_KEY",
        auth_header=True,
        api="openai-completions",
        models=[{"id": "m"}],
    )
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("custom-api:m", "Hello")
    assert wire(srv.requests[0]) == (
        "POST",
        "/chat/completions",
        {**JSON_OUT, "authorization": "Bearer my-key"},
        {"model": "m", "messages": [{"role": "user", "content": "Hello"}]},
    )


def test_auth_header_on_an_anthropic_compatible_api_sends_bearer_and_the_version(
    srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_API_KEY", "my-key")
    syc.register_provider(
        "gw", base_url=srv.url, api_key="MY_API_KEY", auth_header=True, api="anthropic-messages", models=[{"id": "c"}]
    )
    srv.add(Reply.json(ANTHROPIC_OK))
    syc.generate_text("gw:c", "Hello", max_tokens=10)
    _, _, headers, _ = wire(srv.requests[0])
    assert headers == {**JSON_OUT, "anthropic-version": "2023-06-01", "authorization": "Bearer my-key"}


# -- seed 000/001: extensions registering at load time and later (the quick reference) ---------


def quick_reference_extension(api: ExtensionAPI, url: str) -> None:
    """The seed's ``export default function (pi) {...}``, with pi's session_start as a request hook."""
    api.register_provider(
        "my-provider",
        base_url=url,
        api_key="MY_API_KEY",
        api="openai-completions",
        models=[
            {
                "id": "my-model",
                "name": "My Model",
                "reasoning": False,
                "input": ["text", "image"],
                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                "contextWindow": 128000,
                "maxTokens": 4096,
            }
        ],
    )

    def on_first_request(payload: dict[str, Any]) -> None:
        if _catalog.REGISTERED.get("anthropic") is None:
            api.register_provider("anthropic", base_url=url)

    api.on("request", on_first_request)


def test_quick_reference_extension(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from sycophant_py import _hooks

    monkeypatch.setenv("MY_API_KEY", "my-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    before = snapshot("anthropic:claude-sonnet-4-20250514")
    quick_reference_extension(ExtensionAPI("quick-reference"), srv.url)
    try:
        srv.add(Reply.json(OPENAI_OK), Reply.json(ANTHROPIC_OK))
        syc.generate_text("my-provider:my-model", "Hello")
        assert wire(srv.requests[0]) == (
            "POST",
            "/chat/completions",
            {**JSON_OUT, "authorization": "Bearer my-key"},
            {"model": "my-model", "messages": [{"role": "user", "content": "Hello"}]},
        )
        # the hook registered the anthropic override: it applies to the very next call
        syc.generate_text("anthropic:claude-sonnet-4-20250514", "Hi", max_tokens=5)
        assert wire(srv.requests[1])[:2] == ("POST", "/v1/messages")
        assert srv.requests[1].headers["x-api-key"] == "sk-ant"
    finally:
        for hooks in _hooks._HOOKS.values():
            hooks.clear()
    syc.unregister_provider("anthropic")
    assert snapshot("anthropic:claude-sonnet-4-20250514") == before


# -- seed 001: custom streaming API (registration shape; behaviour in test_custom_stream.py) ----


def test_stream_simple_registration(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_KEY", "my-key")
    seen: list[tuple[str, str, str | None, dict[str, str]]] = []

    def stream_my_provider(model: syc.ModelInfo, context: syc.Context, options: Any) -> Iterator[Any]:
        seen.append((model.api, options["base_url"], options["api_key"], options["headers"]))
        out = options["emit"]
        yield out.start()
        yield out.text("hi")
        yield out.done(usage={"input": 3, "output": 1})

    syc.register_provider(
        "my-provider",
        {"streamSimple": stream_my_provider},
        base_url=srv.url,
        api_key="MY_API_KEY",
        api="my-custom-api",
        models=[{"id": "m", "cost": {"input": 1, "output": 2, "cacheRead": 0, "cacheWrite": 0}}],
    )
    resp = syc.generate_text("my-provider:m", "Hello")
    assert resp.text == "hi"
    assert resp.usage.cost == syc.Cost(3 / 1e6, 2 / 1e6, 0, 0)
    assert seen == [("my-custom-api", srv.url, "my-key", {"authorization": "Bearer my-key"})]
    assert srv.requests == []  # the function does its own I/O


def test_oauth_dict_without_its_functions_is_refused() -> None:
    with pytest.raises(syc.InvalidError, match="oauth needs login, refresh_token, get_api_key"):
        syc.register_provider("corporate-ai", base_url="https://ai.corp.com/v1", oauth={"name": "Corporate AI (SSO)"})
    assert "corporate-ai" not in syc.providers()


# -- Model definition reference: per-model api / headers / base_url / compat ------------------


def test_per_model_settings(srv: ScriptedServer) -> None:
    with ScriptedServer() as other:
        syc.register_provider(
            "multi",
            base_url=srv.url + "/v1",
            api_key="literal:key-1",
            api="openai-completions",
            headers={"X-Provider": "p", "X-Both": "provider"},
            compat={"maxTokensField": "max_completion_tokens"},
            models=[
                {"id": "plain"},
                {
                    "id": "special",
                    "baseUrl": other.url + "/v2",
                    "headers": {"X-Model": "m", "X-Both": "model"},
                    "compat": {"maxTokensField": "max_tokens"},
                },
                {"id": "claude", "api": "anthropic-messages", "baseUrl": other.url},
            ],
        )
        srv.add(Reply.json(OPENAI_OK))
        other.add(Reply.json(OPENAI_OK), Reply.json(ANTHROPIC_OK))
        syc.generate_text("multi:plain", "a", max_tokens=5)
        syc.generate_text("multi:special", "b", max_tokens=5)
        syc.generate_text("multi:claude", "c", max_tokens=5)
        assert wire(srv.requests[0]) == (
            "POST",
            "/v1/chat/completions",
            {**JSON_OUT, "x-provider": "p", "x-both": "provider", "authorization": "Bearer key-1"},
            {"model": "plain", "messages": [{"role": "user", "content": "a"}], "max_completion_tokens": 5},
        )
        assert wire(other.requests[0]) == (
            "POST",
            "/v2/chat/completions",
            {**JSON_OUT, "x-provider": "p", "x-both": "model", "x-model": "m", "authorization": "Bearer key-1"},
            {"model": "special", "messages": [{"role": "user", "content": "b"}], "max_tokens": 5},
        )
        method, path, headers, _ = wire(other.requests[1])
        assert (method, path) == ("POST", "/v1/messages")
        assert headers["x-api-key"] == "key-1"
        assert "authorization" not in headers


# -- values: env var names, env:, literal: --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "env", "sent"),
    [
        ("MY_KEY", {"MY_KEY": "from-env"}, "from-env"),
        ("env:lower_case_name", {"lower_case_name": "forced-env"}, "forced-env"),
        ("literal:MY_KEY", {}, "MY_KEY"),
        ("sk-live-abc123", {}, "sk-live-abc123"),
    ],
)
def test_api_key_value_forms(
    srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch, value: str, env: dict[str, str], sent: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    syc.register_provider("p", base_url=srv.url, api_key=value, api="openai-completions")
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("p:any", "hi")
    assert srv.requests[0].headers["authorization"] == f"Bearer {sent}"


@pytest.mark.parametrize("value", ["MY_UNSET_KEY", "env:MY_UNSET_KEY"])
def test_unset_env_forms_are_errors(srv: ScriptedServer, value: str) -> None:
    syc.register_provider("p", base_url=srv.url, api_key=value, headers={"X-H": value})
    with pytest.raises(syc.InvalidError, match="MY_UNSET_KEY"):
        syc.generate_text("p:any", "hi")
    with pytest.raises(syc.InvalidError, match="MY_UNSET_KEY"):
        list(syc.stream_text("p:any", "hi", credentials={"api_key": "k"}))  # the header still names it
    assert srv.requests == []


def test_per_request_key_beats_the_registration(srv: ScriptedServer) -> None:
    syc.register_provider("p", base_url=srv.url, api_key="MY_UNSET_KEY")
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("p:any", "hi", credentials={"api_key": "per-request"})
    assert srv.requests[0].headers["authorization"] == "Bearer per-request"


# -- round trips: get_model identical after unregistering -------------------------------------

BUILT_INS = ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-20250514", "google:gemini-2.5-flash", "ollama:llama3"]


@pytest.mark.parametrize(
    "registrations",
    [
        [{"base_url": "http://127.0.0.1:9/v1"}],
        [{"headers": {"X-A": "1"}}],
        [{"base_url": "http://127.0.0.1:9/v1"}, {"headers": {"X-A": "1"}}],
        [{"models": [{"id": "only-this"}]}, {"base_url": "http://127.0.0.1:9"}],
        [
            {"api_key": "SOME_KEY", "auth_header": True},
            {"api": "openai-completions", "compat": {"supportsStore": False}},
        ],
        [{"stream": lambda m, c, o: iter(())}, {"headers": {"X-B": "2"}}],
    ],
    ids=["url", "headers", "url-then-headers", "models-then-url", "auth-then-api", "stream-then-headers"],
)
@pytest.mark.parametrize("spec", BUILT_INS)
def test_unregister_restores_exactly(spec: str, registrations: list[dict[str, Any]]) -> None:
    provider = spec.partition(":")[0]
    before = syc.get_model(spec)
    listed = syc.models(provider, live=False)  # the rows, not what a server would list
    for reg in registrations:
        syc.register_provider(provider, **reg)
        assert syc.get_model(spec) != before or "models" in reg  # every change shows at once
    syc.unregister_provider(provider)
    assert syc.get_model(spec) == before
    assert syc.models(provider, live=False) == listed
    assert provider not in _catalog.REGISTERED


def test_registrations_layer_and_apply_at_once(srv: ScriptedServer) -> None:
    syc.register_provider("p", base_url=srv.url, auth="none", headers={"X-A": "1"})
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("p:m", "one")
    syc.register_provider("p", headers={"x-a": "2", "X-B": "3"})
    syc.generate_text("p:m", "two")
    assert srv.requests[0].headers["x-a"] == "1"
    assert (srv.requests[1].headers["x-a"], srv.requests[1].headers["x-b"]) == ("2", "3")
    assert dict(syc.get_model("p:m").headers) == {"x-a": "2", "X-B": "3"}


def test_registration_header_beats_a_models_own(srv: ScriptedServer) -> None:
    syc.register_provider("p", base_url=srv.url, auth="none", models=[{"id": "m", "headers": {"X-A": "model"}}])
    syc.register_provider("p", headers={"X-A": "registration"})
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("p:m", "hi")
    assert srv.requests[0].headers["x-a"] == "registration"


def test_models_replace_and_url_moves_every_model(srv: ScriptedServer) -> None:
    syc.register_provider("p", base_url="http://127.0.0.1:9", models=[{"id": "a", "baseUrl": "http://127.0.0.1:8"}])
    assert [m.id for m in syc.models("p")] == ["a"]
    syc.register_provider("p", base_url=srv.url)
    assert syc.get_model("p:a").base_url == srv.url
    syc.register_provider("p", models=[{"id": "b"}, {"id": "c"}])
    assert [m.id for m in syc.models("p")] == ["b", "c"]


def test_configured_provider_is_restored_with_its_config(srv: ScriptedServer) -> None:
    syc.configure(custom_providers={"h": {"base_url": srv.url + "/v1", "auth": "none"}})
    before = syc.get_model("h:m")
    syc.register_provider("h", base_url="http://127.0.0.1:9/v1")
    syc.unregister_provider("h")
    assert syc.get_model("h:m") == before


# -- validation ------------------------------------------------------------------------------


def test_pi_api_names_are_mapped() -> None:
    assert canonical_api("openai-completions") == "openai_chat"
    assert canonical_api("openai-responses") == "openai_responses"
    assert canonical_api("azure-openai-responses") == "openai_responses"
    assert canonical_api("anthropic-messages") == "anthropic_messages"
    assert canonical_api("google-generative-ai") == "google_gemini"
    assert canonical_api("bedrock-converse-stream") == "bedrock_converse"
    assert canonical_api("my-custom-api") == "my-custom-api"


def test_azure_responses_name_implies_azure_auth() -> None:
    syc.register_provider("az", base_url="http://127.0.0.1:9", api="azure-openai-responses", models=[{"id": "x"}])
    info = syc.get_model("az:x")
    assert (info.api, info.auth_strategy) == ("openai_responses", "azure")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"models": [{"id": "m", "contextWindw": 5}]}, "contextWindw.*Did you mean 'context_window'"),
        ({"models": [{"id": "m", "compat": {"supportsDeveloperRoles": False}}]}, "supportsDeveloperRoles"),
        ({"models": [{"id": "m", "compat": {"thinkingFormat": "deepseek"}}]}, "thinking_format"),
        ({"models": [{"id": "m", "compat": {"supportsStore": "no"}}]}, "supports_store"),
        ({"models": [{"id": "m", "cost": {"cached": 1}}]}, "cached"),
        ({"models": [{"id": "m", "input": ["video"]}]}, "video"),
        ({"models": [{"id": "m", "maxTokens": 0}]}, "max_tokens"),
        ({"models": [{"name": "no id"}]}, "'id'"),
        ({"models": [{"id": "m"}, {"id": "m"}]}, "twice"),
        ({"auth": "sometimes"}, "auth must be"),
        ({"stream": "not callable"}, "stream must be a function"),
        ({"headers": {"X": 1}}, "headers"),
    ],
)
def test_invalid_registrations(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(syc.InvalidError, match=match):
        syc.register_provider("p", base_url="http://127.0.0.1:9", **kwargs)
    assert "p" not in _catalog.REGISTERED


def test_new_provider_needs_a_url_or_a_stream_function() -> None:
    with pytest.raises(syc.InvalidError, match="base_url"):
        syc.register_provider("nowhere", models=[{"id": "m"}])


def test_unknown_config_key() -> None:
    with pytest.raises(syc.UnknownName, match="baseURL"):
        syc.register_provider("p", {"baseURL": "http://127.0.0.1:9"})


def test_local_compat_defaults_for_a_loopback_openai_provider() -> None:
    syc.register_provider("local-thing", base_url="http://localhost:8080/v1", compat={"supportsStore": True})
    assert dict(syc.get_model("local-thing:any").compat) == {
        "supports_developer_role": False,
        "max_tokens_field": "max_tokens",
        "supports_store": True,
        "supports_top_k": True,
        "requires_content_string": True,
    }
    assert syc.get_model("local-thing:any").local
    syc.register_provider("remote-thing", base_url="https://llm.example.com/v1")
    assert dict(syc.get_model("remote-thing:any").compat) == {}
    assert set(compat_flags()) >= {"supports_developer_role", "max_tokens_field", "thinking_format"}


def test_api_key_turns_a_no_auth_provider_optional(srv: ScriptedServer) -> None:
    syc.register_provider("ollama", base_url=srv.url + "/v1", api_key="literal:proxy-key")
    assert syc.get_model("ollama:llama3").auth == "optional"
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("ollama:llama3", "hi")
    assert srv.requests[0].headers["authorization"] == "Bearer proxy-key"
