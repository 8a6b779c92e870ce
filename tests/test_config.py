from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._credentials import resolve_credentials
from sycophant_py.testing import Reply, ScriptedServer


def test_spec_splits_on_the_first_colon_only() -> None:
    m = syc.get_model("ollama:llama3:8b")
    assert (m.provider, m.id) == ("ollama", "llama3:8b")
    with pytest.raises(syc.InvalidError, match="provider:model-id"):
        syc.get_model("gpt-4o")


def test_local_providers_need_no_configuration() -> None:
    rows = {p: syc.get_model(f"{p}:anything") for p in ("ollama", "vllm", "lmstudio", "llamacpp")}
    assert rows["ollama"].base_url == "http://localhost:11434/v1"
    assert rows["vllm"].base_url == "http://localhost:8000/v1"
    assert rows["lmstudio"].base_url == "http://localhost:1234/v1"
    assert rows["llamacpp"].base_url == "http://localhost:8080/v1"
    assert rows["vllm"].auth == "optional"
    assert {r.auth for p, r in rows.items() if p != "vllm"} == {"none"}
    assert all(r.api == "openai_chat" and r.local for r in rows.values())
    assert resolve_credentials(rows["ollama"], None, environ={}) == {}


def test_aliases_and_catalog_rows() -> None:
    assert syc.get_model("together:meta-llama/x").provider == "togetherai"
    assert syc.get_model("fireworks:x").provider == "fireworks-ai"
    m = syc.get_model("openai:gpt-4o-mini")
    assert m.cost is not None
    assert (m.cost.input, m.cost.output) == (0.15, 0.6)
    assert m.env == ("OPENAI_API_KEY",)
    assert m.known
    for pid in ("openai", "openrouter", "groq", "deepseek", "mistral", "togetherai", "fireworks-ai", "xai"):
        assert syc.get_model(f"{pid}:x").base_url.startswith("https://")


def test_credential_layers_per_request_beats_config_beats_env() -> None:
    model = syc.get_model("openai:gpt-4o-mini")
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "https://env.example/v1"}
    assert resolve_credentials(model, None, env)["api_key"] == "sk-env"
    syc.configure(providers={"openai": {"api_key": "sk-config"}})
    creds = resolve_credentials(model, None, env)
    assert creds["api_key"] == "sk-config"
    assert creds["base_url"] == "https://env.example/v1"  # settings come per field
    creds = resolve_credentials(model, {"api_key": "sk-request", "base_url": "https://req/v1"}, env)
    assert (creds["api_key"], creds["base_url"]) == ("sk-request", "https://req/v1")


def test_secret_comes_whole_from_one_layer() -> None:
    model = syc.get_model("openai:gpt-4o-mini")
    syc.configure(providers={"openai": {"api_key": "sk-config", "session_token": "tok-config"}})
    creds = resolve_credentials(model, {"api_key": "sk-request"}, {})
    assert creds["api_key"] == "sk-request"
    assert "session_token" not in creds


def test_missing_credentials_names_env_var_and_keyword() -> None:
    with pytest.raises(syc.MissingCredentials) as info:
        resolve_credentials(syc.get_model("openai:gpt-4o-mini"), None, {})
    assert "OPENAI_API_KEY" in str(info.value)
    assert "credentials=" in str(info.value)
    assert info.value.env_vars == ("OPENAI_API_KEY",)
    with pytest.raises(syc.MissingCredentials, match="GROQ_API_KEY"):
        syc.generate_text("groq:llama", "hi")


def test_auth_modes() -> None:
    syc.configure(
        custom_providers={
            "none-p": {"base_url": "http://127.0.0.1:1/v1", "auth": "none", "env": ["NONE_KEY"]},
            "opt-p": {"base_url": "http://127.0.0.1:1/v1", "auth": "optional", "env": ["OPT_KEY"]},
        }
    )
    assert resolve_credentials(syc.get_model("none-p:m"), None, {"NONE_KEY": "k"}) == {}
    assert resolve_credentials(syc.get_model("opt-p:m"), None, {}) == {}
    assert resolve_credentials(syc.get_model("opt-p:m"), None, {"OPT_KEY": "k"})["api_key"] == "k"
    # refused when configured (it used to surface only at the first call)
    with pytest.raises(syc.InvalidConfig, match=r"custom_providers\.bad\.auth: Input should be 'required', 'optional'"):
        syc.configure(custom_providers={"bad": {"base_url": "http://x", "auth": "sometimes"}})


def test_configure_merges_and_reset_clears() -> None:
    syc.configure(providers={"openai": {"api_key": "a", "organization": "org"}})
    syc.configure(providers={"openai": {"api_key": "b"}})
    creds = resolve_credentials(syc.get_model("openai:gpt-4o"), None, {})
    assert (creds["api_key"], creds["organization"]) == ("b", "org")
    syc.configure(custom_providers={"ollama": {"base_url": "http://127.0.0.1:9/v1"}})
    assert syc.get_model("ollama:x").base_url == "http://127.0.0.1:9/v1"
    assert syc.get_model("ollama:x").auth == "none"  # merged over the built-in row
    syc.configure(reset=True)
    assert syc.get_model("ollama:x").base_url == "http://localhost:11434/v1"
    with pytest.raises(syc.MissingCredentials):
        resolve_credentials(syc.get_model("openai:gpt-4o"), None, {})


def test_custom_providers_in_python_and_declared_models() -> None:
    syc.configure(
        custom_providers={
            "vllm": {
                "base_url": "http://localhost:8000/v1",
                "auth": "optional",
                "models": {
                    "mistral-7b": {"wire_protocol": "openai_chat", "capabilities": {"chat": True, "tools": True}}
                },
            },
        }
    )
    m = syc.get_model("vllm:mistral-7b")
    assert m.known
    assert m.capabilities["tools"] is True
    other = syc.get_model("vllm:some-other-model")
    assert not other.known
    assert other.api == "openai_chat"


def test_toml_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
[providers.openai]
api_key = "sk-from-file"

[custom_providers.myllm]
base_url = "http://127.0.0.1:5/v1"
auth = "none"
[custom_providers.myllm.models."tiny-1"]
wire_protocol = "openai_chat"
context_window = 2048

[[instances]]
type = "openai"
name = "work-openai"
enabled = true
config = { api_key = "sk-work", base_url = "https://gateway.example/v1" }

[[instances]]
type = "openai"
name = "disabled-one"
enabled = false
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)
    assert resolve_credentials(syc.get_model("openai:gpt-4o"), None, {})["api_key"] == "sk-from-file"
    tiny = syc.get_model("myllm:tiny-1")
    assert (tiny.base_url, tiny.auth, tiny.context_window) == ("http://127.0.0.1:5/v1", "none", 2048)
    work = syc.get_model("work-openai:gpt-4o-mini")
    assert work.base_url == "https://gateway.example/v1"
    assert resolve_credentials(work, None, {})["api_key"] == "sk-work"
    with pytest.raises(syc.UnknownProvider):
        syc.get_model("disabled-one:x")
    # configure() sits above the file
    syc.configure(providers={"openai": {"api_key": "sk-code"}})
    assert resolve_credentials(syc.get_model("openai:gpt-4o"), None, {})["api_key"] == "sk-code"


def test_bad_config_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[providers\n", encoding="utf-8")
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)
    with pytest.raises(syc.InvalidError, match=r"cannot read config file .*c\.toml"):
        syc.get_model("openai:x")
    path.write_text("[nonsense]\n", encoding="utf-8")
    syc.configure(reset=True)
    with pytest.raises(syc.InvalidError, match="unknown section"):
        syc.get_model("openai:x")


@pytest.fixture
def server() -> Any:
    with ScriptedServer() as srv:
        srv.add(Reply.json({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}))
        syc.configure(custom_providers={"loc": {"base_url": srv.url + "/v1", "auth": "none", "local": True}})
        yield srv


def test_unknown_params_are_dropped_with_one_warning(server: ScriptedServer, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="sycophant_py"):
        syc.generate_text("loc:m", "hi", temperature=0.5, foo=1, bar="x")
    body = server.requests[-1].json
    assert body["temperature"] == 0.5
    assert "foo" not in body
    assert "bar" not in body
    dropped = [r for r in caplog.records if r.getMessage() == "params.dropped"]
    assert len(dropped) == 1
    assert dropped[0].__dict__["params"] == ["bar", "foo"]
    assert dropped[0].__dict__["provider"] == "loc"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"temperature": 3.5}, r"temperature=3\.5.*less than or equal to 2.*allowed: .*<= 2\.0"),
        ({"temperature": "hot"}, r"temperature='hot'"),
        ({"max_tokens": 0}, r"max_tokens=0.*>= 1"),
        ({"top_p": -0.1}, r"top_p"),
        ({"reasoning_effort": "extreme"}, r"reasoning_effort='extreme'"),
        ({"parallel_tool_calls": "yes"}, r"parallel_tool_calls"),
    ],
)
def test_invalid_params_name_the_param_and_nothing_is_sent(
    server: ScriptedServer, params: dict[str, Any], match: str
) -> None:
    with pytest.raises(syc.InvalidParams, match=match) as info:
        syc.generate_text("loc:m", "hi", **params)
    assert info.value.param == next(iter(params))
    assert server.requests == []


def test_protocol_specific_params_pass(server: ScriptedServer) -> None:
    syc.generate_text("loc:m", "hi", frequency_penalty=0.5, top_k=40, stop="END", seed=7, max_tokens=9)
    body = server.requests[-1].json
    assert body["frequency_penalty"] == 0.5
    assert body["top_k"] == 40  # local servers accept top_k
    assert body["stop"] == ["END"]
    assert body["seed"] == 7
    assert body["max_tokens"] == 9
    with pytest.raises(syc.InvalidParams, match="frequency_penalty"):
        syc.generate_text("loc:m", "hi", frequency_penalty=5)
