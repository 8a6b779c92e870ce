"""Provider factories and ``[[instances]]`` (plug-my-ai's provider guide, seed 003).

The guide's ``mybackend`` runs first, as written there: a factory with its own ``api_key`` /
``model`` config, enabled from a ``config.json``, listed, available, streaming with usage on the
final chunk (its "backend" is a ScriptedServer on 127.0.0.1 speaking an API of its own). Then the
rules: config errors naming the file, the instance and the field; both return forms; built-in types
as a registration layer (and what ``[[instances]]`` used to lose); the config file in TOML and
JSON; the ``[gateway]`` section. Entry points and availability have their own files
(``test_factory_plugins.py``, ``test_discovery.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

import sycophant_py as syc
from sycophant_py import _catalog, _config, _factories, _instances, _probe
from sycophant_py._credentials import resolve_credentials
from sycophant_py.testing import Reply, ScriptedServer

OPENAI_OK = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 2, "completion_tokens": 1},
}


@pytest.fixture(autouse=True)
def _clean_factories() -> Iterator[None]:
    yield
    _factories._FACTORIES.clear()
    _instances._reset_for_tests()
    _probe.clear_cache()


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


def use_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)
    return path


# -- the provider guide's mybackend ---------------------------------------------------------------


class MyBackendConfig(BaseModel):
    """The guide's ``Config`` struct (``json:"api_key"``, ``json:"model,omitempty"``), plus where the backend is."""

    api_key: str = ""
    model: str = "my-model-v1"
    url: str = ""


class MyBackend:
    """The guide's ``Provider``: ``Available``, ``Models``, ``Complete``."""

    def __init__(self, api_key: str, model: str, url: str) -> None:
        self.api_key, self.model, self.url = api_key, model, url

    def available(self) -> bool:
        return self.api_key != ""

    def models(self) -> list[syc.ModelConfig]:
        return [syc.ModelConfig(id=self.model, name=self.model)]

    def complete(self, model: syc.ModelInfo, context: syc.Context, options: Any) -> Iterator[Any]:
        out = options["emit"]
        body = {"model": model.id, "prompt": context.messages[-1].text}
        with httpx.stream("POST", self.url + "/generate", json=body, headers={"x-key": self.api_key}) as r:
            for line in r.iter_lines():
                chunk = json.loads(line)
                if chunk.get("done"):  # the final chunk: Done, FinishReason and Usage
                    usage = {"input_tokens": chunk["usage"]["prompt"], "output_tokens": chunk["usage"]["completion"]}
                    yield out.done(chunk["finish_reason"], usage=usage)
                    return
                yield out.text(chunk["delta"])


def mybackend_factory(name: str, config: dict[str, Any]) -> MyBackend:
    cfg = syc.factory_config(MyBackendConfig, config)
    return MyBackend(cfg.api_key, cfg.model, cfg.url)


def ndjson(*items: Any) -> Reply:
    return Reply(200, {"content-type": "application/x-ndjson"}, [(json.dumps(i) + "\n").encode() for i in items])


def test_the_provider_guides_mybackend(srv: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    syc.register_provider_factory("mybackend", mybackend_factory)
    config = {  # ~/.plug-my-ai/config.json, as the guide writes it (a "providers" list)
        "providers": [
            {
                "type": "mybackend",
                "name": "mybackend-1",
                "enabled": True,
                "config": {"api_key": "sk-mybackend-0123456789", "model": "my-model-v1", "url": srv.url},
            },
            {"type": "mybackend", "name": "mybackend-nokey", "enabled": True, "config": {"url": srv.url}},
            {"type": "mybackend", "name": "mybackend-off", "enabled": False, "config": {}},
        ]
    }
    use_file(tmp_path, monkeypatch, json.dumps(config), "config.json")
    listed = syc.providers()
    assert {"mybackend-1", "mybackend-nokey"} <= set(listed)
    assert "mybackend-off" not in listed
    assert syc.available("mybackend-1") is True
    assert syc.available("mybackend-nokey") is False  # Available(): p.apiKey != ""
    assert "mybackend-1" in syc.providers(available=True)
    assert "mybackend-nokey" not in syc.providers(available=True)
    models = syc.models("mybackend-1")
    assert ([m.id for m in models], models.source) == (["my-model-v1"], "live")
    assert models[0].provider == "mybackend-1"

    srv.add(
        ndjson(
            {"delta": "Hello"},
            {"delta": ", world"},
            {"done": True, "finish_reason": "stop", "usage": {"prompt": 7, "completion": 3}},
        )
    )
    stream = syc.stream_text("mybackend-1:my-model-v1", "Say hello")
    events = list(stream)
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_delta", "text_end", "done"]
    final = events[-1].response
    assert final is not None
    assert (final.text, final.finish_reason, final.provider, final.model) == (
        "Hello, world",
        "stop",
        "mybackend-1",
        "my-model-v1",
    )
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 3)  # usage on the final chunk
    sent = srv.requests[-1]
    assert (sent.path, sent.headers["x-key"], sent.json) == (
        "/generate",
        "sk-mybackend-0123456789",
        {"model": "my-model-v1", "prompt": "Say hello"},
    )


def test_the_factory_runs_once_per_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def factory(name: str, config: dict[str, Any]) -> MyBackend:
        calls.append((name, config))
        return mybackend_factory(name, config)

    syc.register_provider_factory("mybackend", factory)
    use_file(tmp_path, monkeypatch, '[[instances]]\ntype = "mybackend"\nname = "a"\nconfig = { api_key = "k" }\n')
    assert calls == []  # reading the config builds nothing
    syc.get_model("a:m")
    syc.available("a")
    syc.configure(aliases={"x": "a:m"})  # another configuration change: the factory's result is kept
    syc.get_model("a:m")
    assert calls == [("a", {"api_key": "k"})]
    syc.configure(instances=[{"type": "mybackend", "name": "a", "config": {"api_key": "k2"}}])  # a new config
    syc.get_model("a:m")
    assert calls[-1] == ("a", {"api_key": "k2"})
    assert len(calls) == 2


async def _collect(stream: Any) -> list[str]:
    return [e.type async for e in stream]


def test_an_async_backend_streams_through_the_async_entry_points() -> None:
    class AsyncBackend:
        def available(self) -> bool:
            return True

        def models(self) -> list[str]:
            return ["fast", "slow"]

        async def complete(self, model: syc.ModelInfo, context: syc.Context, options: Any) -> AsyncIterator[Any]:
            out = options["emit"]
            await asyncio.sleep(0)
            yield out.text(f"{model.id}:{context.messages[-1].text}")
            yield out.done(usage={"input_tokens": 1, "output_tokens": 1})

    syc.register_provider_factory("async-backend", lambda name, config: AsyncBackend())
    syc.configure(instances=[{"type": "async-backend", "name": "ab"}])
    assert [m.id for m in syc.models("ab")] == ["fast", "slow"]
    resp = asyncio.run(syc.agenerate_text("ab:fast", "ping"))
    assert resp.text == "fast:ping"
    assert asyncio.run(_collect(syc.astream_text("ab:slow", "x")))[-1] == "done"
    with pytest.raises(syc.InvalidError, match="is async"):
        syc.generate_text("ab:fast", "ping")


# -- config errors name the file, the instance and the field -----------------------------------


def test_factory_config_errors_name_the_file_the_instance_and_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syc.register_provider_factory("mybackend", mybackend_factory)
    path = use_file(
        tmp_path,
        monkeypatch,
        '[[instances]]\ntype = "mybackend"\nname = "fine"\n\n'
        '[[instances]]\ntype = "mybackend"\nname = "work"\nconfig = { api_key = 12345678901234, modle = "m" }\n',
    )
    assert syc.get_model("fine:my-model-v1").provider == "fine"  # one broken instance spoils no other
    for _ in range(2):  # every use raises until the file is fixed
        with pytest.raises(syc.InvalidConfig) as info:
            syc.generate_text("work:my-model-v1", "hi")
        message = str(info.value)
        assert message.startswith(f"config file {path}: [[instances]] #2 (name='work') config.api_key: ")
        assert "Input should be a valid string (got int)" in message
        assert "config.modle: unknown field 'modle' (did you mean 'model'?)" in message
        assert "12345678901234" not in message  # a value is never shown: it may be a key
        assert info.value.file == str(path)
        assert len(info.value.errors) == 2
    with pytest.raises(syc.InvalidConfig, match=r"\[\[instances\]\] #2 \(name='work'\)"):
        syc.available("work")


def test_factory_config_errors_from_configure() -> None:
    syc.register_provider_factory("mybackend", mybackend_factory)
    syc.configure(instances=[{"type": "mybackend", "name": "w", "config": {"model": ["m"]}}])
    with pytest.raises(syc.InvalidConfig) as info:
        syc.get_model("w:m")
    assert str(info.value) == (
        "configure(): instances[0] (name='w').config.model: Input should be a valid string (got list)"
    )
    assert info.value.file is None


def test_a_validation_error_the_factory_raises_itself_is_placed_too() -> None:
    def factory(name: str, config: dict[str, Any]) -> MyBackend:
        cfg = MyBackendConfig.model_validate(config)  # no helper: pydantic's own error
        return MyBackend(cfg.api_key, cfg.model, cfg.url)

    syc.register_provider_factory("plain", factory)
    syc.configure(instances=[{"type": "plain", "name": "p", "config": {"api_key": 5}}])
    with pytest.raises(syc.InvalidConfig, match=r"^configure\(\): instances\[0\] \(name='p'\)\.config\.api_key: "):
        syc.get_model("p:m")


def test_factory_config_outside_a_build() -> None:
    with pytest.raises(syc.InvalidConfig, match=r"^factory config: api_key: Input should be a valid string"):
        syc.factory_config(MyBackendConfig, {"api_key": 1})
    assert syc.factory_config(MyBackendConfig, {"model": "m"}).model == "m"


def test_a_failing_factory_and_a_wrong_result_are_config_errors() -> None:
    secret = "sk-leaky-0123456789abcdef"

    def leaky(name: str, config: dict[str, Any]) -> Any:
        raise RuntimeError(f"cannot reach backend with key {config['api_key']}")

    syc.register_provider_factory("leaky", leaky)
    syc.register_provider_factory("odd", lambda name, config: 42)  # type: ignore[arg-type,return-value]  # deliberately wrong: the check under test
    syc.configure(
        instances=[
            {"type": "leaky", "name": "l", "config": {"api_key": secret}},
            {"type": "odd", "name": "o"},
            {"type": "nosuch", "name": "n"},
        ]
    )
    with pytest.raises(syc.InvalidConfig) as info:
        syc.get_model("l:m")
    assert "instances[0] (name='l'): the 'leaky' factory failed: RuntimeError: cannot reach backend" in str(info.value)
    assert secret not in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(syc.InvalidConfig, match="returned int: a factory returns a ProviderDefinition"):
        syc.get_model("o:m")
    with pytest.raises(syc.InvalidConfig, match=r"instances\[2\] \(name='n'\): unknown type 'nosuch'.*leaky, odd"):
        syc.get_model("n:m")
    assert "n" in syc.providers()  # listing builds nothing; using it says what is wrong
    assert "n" not in syc.providers(available=True)


def test_registering_a_factory_is_checked() -> None:
    def f(name: str, config: dict[str, Any]) -> Any:
        return None  # pragma: no cover

    for taken in ("openai", "together", "ollama", "openai_chat", "anthropic_messages"):
        with pytest.raises(syc.InvalidRegistration, match="built-in instance type"):
            syc.register_provider_factory(taken, f)
    with pytest.raises(syc.InvalidRegistration, match="without ':'"):
        syc.register_provider_factory("a:b", f)
    with pytest.raises(syc.InvalidRegistration, match="must be callable"):
        syc.register_provider_factory("x", "not a function")  # type: ignore[arg-type]
    syc.register_provider_factory("x", f)
    syc.unregister_provider_factory("x")
    with pytest.raises(syc.UnknownName, match="provider factory"):
        syc.unregister_provider_factory("x")


# -- a ProviderDefinition: register_provider's options as data ----------------------------------


def test_a_definition_is_applied_like_register_provider(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_KEY", "sk-gw-from-env")

    def gateway(name: str, config: dict[str, Any]) -> syc.ProviderDefinition:
        return syc.ProviderDefinition(
            base_url=config["url"] + "/v1",
            api="openai-completions",
            api_key="GW_KEY",  # an env var name, as register_provider reads it
            headers={"X-Team": config["team"]},
            models=[{"id": "big", "contextWindow": 1000}],
        )

    syc.register_provider_factory("gateway", gateway)
    syc.configure(instances=[{"type": "gateway", "name": "gw", "config": {"url": srv.url, "team": "blue"}}])
    srv.add(Reply.json(OPENAI_OK))
    resp = syc.generate_text("gw:big", "hi")
    sent = srv.requests[0]
    assert (resp.text, sent.path, sent.headers["authorization"], sent.headers["x-team"]) == (
        "ok",
        "/v1/chat/completions",
        "Bearer sk-gw-from-env",
        "blue",
    )
    info = syc.get_model("gw:big")
    assert (info.context_window, info.known, info.extra["instance_of"]) == (1000, True, "gateway")
    assert syc.models("gw", live=False)[0].id == "big"


def test_a_dict_definition_that_extends_a_provider(srv: ScriptedServer) -> None:
    syc.register_provider_factory(
        "proxy", lambda name, config: {"extends": "openai", "baseUrl": config["url"], "apiKey": "literal:sk-proxy"}
    )
    syc.configure(instances=[{"type": "proxy", "name": "px", "config": {"url": srv.url + "/v1"}}])
    ids = [m.id for m in syc.models("px", live=False)]
    assert ids == [m.id for m in syc.models("openai", live=False)]  # openai's models, at the proxy
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("px:gpt-4o-mini", "hi")
    assert srv.requests[0].headers["authorization"] == "Bearer sk-proxy"
    syc.register_provider_factory("bad-def", lambda name, config: {"base_url": "http://x", "colour": "red"})
    syc.register_provider_factory("no-url", lambda name, config: syc.ProviderDefinition(api="openai_chat"))
    syc.configure(instances=[{"type": "bad-def", "name": "b"}, {"type": "no-url", "name": "u"}])
    with pytest.raises(syc.InvalidConfig, match=r"'bad-def' factory's provider is invalid: .*colour"):
        syc.get_model("b:m")
    with pytest.raises(syc.InvalidConfig, match="needs base_url"):
        syc.get_model("u:m")


# -- built-in types: a registration layer over the type ----------------------------------------


def test_a_builtin_type_instance(srv: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_file(
        tmp_path,
        monkeypatch,
        f"""
[[instances]]
type = "openai"
name = "work"
config = {{ api_key = "sk-work-0123456789", base_url = "{srv.url}/v1", headers = {{ X-Org = "acme" }} }}
""",
    )
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("work:gpt-4o-mini", "hi")
    sent = srv.requests[0]
    assert (sent.path, sent.headers["authorization"], sent.headers["x-org"]) == (
        "/v1/chat/completions",
        "Bearer sk-work-0123456789",
        "acme",
    )
    assert syc.get_model("work:gpt-4o-mini").known  # the type's models come along
    assert syc.available("work")
    assert not syc.available("openai")  # the instance's key is its own
    assert [m.id for m in syc.models("work", live=False)] == [m.id for m in syc.models("openai", live=False)]


def test_unknown_config_keys_of_a_builtin_type_are_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = use_file(
        tmp_path,
        monkeypatch,
        '[[instances]]\ntype = "openai"\nname = "work"\nconfig = { api_key = "k", organisation = "acme" }\n',
    )
    with pytest.raises(syc.InvalidConfig) as info:
        syc.get_model("openai:gpt-4o")  # checked with the file: any use raises
    assert f"config file {path}: [[instances]] #1 (name='work') config: unknown field 'organisation'" in str(info.value)
    with pytest.raises(syc.InvalidConfig, match=r"instances\[0\] \(name='w'\)\.config\.base_url: Field required"):
        syc.configure(instances=[{"type": "openai_chat", "name": "w", "config": {"api_key": "k"}}])


def test_what_instances_used_to_lose(srv: ScriptedServer) -> None:
    """The instance's own keys win now, as a registration's do.

    Before: an instance named like an existing provider was ignored; a catalog model's own base URL
    beat the instance's (opencode's Claude models went to opencode.ai whatever the config said); the
    instance's ``compat`` and ``headers`` replaced the type's instead of layering over them.
    """
    syc.configure(
        custom_providers={"base": {"base_url": "http://127.0.0.1:9/v1", "compat": {"supports_store": False}}},
        instances=[
            {"type": "openai", "name": "openai", "config": {"base_url": srv.url + "/v1"}},
            {"type": "opencode", "name": "oc", "config": {"base_url": srv.url + "/zen"}},
            {"type": "base", "name": "layered", "config": {"compat": {"supports_developer_role": False}}},
        ],
    )
    assert syc.get_model("openai:gpt-4o").base_url == srv.url + "/v1"
    assert syc.get_model("oc:claude-3-5-haiku").base_url == srv.url + "/zen"
    # "base" is on 127.0.0.1, so it starts from the local defaults; the instance layers over them
    assert dict(syc.get_model("layered:m").compat) == {
        **_catalog.LOCAL_COMPAT,
        "supports_store": False,
        "supports_developer_role": False,
    }
    assert syc.get_model("opencode:claude-3-5-haiku").base_url == "https://opencode.ai/zen"  # the type is untouched


def test_a_protocol_type_makes_a_new_provider(srv: ScriptedServer) -> None:
    syc.configure(
        instances=[{"type": "openai_chat", "name": "box", "config": {"base_url": srv.url + "/v1", "api_key": "sk-b"}}]
    )
    info = syc.get_model("box:anything")
    assert (info.api, info.auth, info.compat["max_tokens_field"]) == ("openai_chat", "optional", "max_tokens")
    srv.add(Reply.json(OPENAI_OK))
    syc.generate_text("box:anything", "hi", max_tokens=5)
    assert srv.requests[0].json["max_tokens"] == 5  # a loopback server gets the local servers' compat
    assert srv.requests[0].headers["authorization"] == "Bearer sk-b"


def test_later_entries_replace_earlier_ones_and_disabled_means_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_file(tmp_path, monkeypatch, '[[instances]]\ntype = "openai"\nname = "w"\nconfig = { api_key = "file" }\n')
    assert resolve_credentials(syc.get_model("w:gpt-4o"))["api_key"] == "file"
    syc.configure(instances=[{"type": "openai", "name": "w", "config": {"api_key": "code"}}])
    assert resolve_credentials(syc.get_model("w:gpt-4o"))["api_key"] == "code"
    syc.configure(instances=[{"type": "openai", "name": "w", "enabled": False}])
    assert "w" not in syc.providers()
    with pytest.raises(syc.UnknownProvider):
        syc.get_model("w:gpt-4o")


def test_models_of_a_config_file_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_file(
        tmp_path,
        monkeypatch,
        '[[instances]]\ntype = "vllm"\nname = "gpu"\n'
        'config = { base_url = "http://127.0.0.1:9/v1", models = { "qwen-7b" = { context_window = 32768 } } }\n',
    )
    listed = syc.models("gpu")  # nothing answers on :9: the configured rows
    assert ([m.id for m in listed], listed.source) == (["qwen-7b"], "catalog")
    assert listed[0].context_window == 32768
    assert "does not answer" in str(listed.error)
    assert "gpu" in {m.provider for m in syc.models()}


# -- the config file: TOML or JSON, one schema ---------------------------------------------------

TOML = """
[providers.openai]
api_key = "sk-file"

[custom_providers.box]
base_url = "http://127.0.0.1:5/v1"
auth = "none"

[[instances]]
type = "anthropic"
name = "claude-work"
config = { api_key = "sk-ant-work" }

[aliases]
best = ["openai:gpt-4o", "claude-work:claude-sonnet-4-5"]

[gateway]
keys = ["gw-key-0123456789"]
port = 8123
cors_origins = ["http://localhost:3000"]
"""

JSON = {
    "providers": {"openai": {"api_key": "sk-file"}},
    "custom_providers": {"box": {"base_url": "http://127.0.0.1:5/v1", "auth": "none"}},
    "instances": [{"type": "anthropic", "name": "claude-work", "config": {"api_key": "sk-ant-work"}}],
    "aliases": {"best": ["openai:gpt-4o", "claude-work:claude-sonnet-4-5"]},
    "gateway": {"keys": ["gw-key-0123456789"], "port": 8123, "cors_origins": ["http://localhost:3000"]},
}


def _summary() -> dict[str, Any]:
    s = _config.settings()
    return {
        "openai_key": resolve_credentials(syc.get_model("openai:gpt-4o"))["api_key"],
        "box": syc.get_model("box:m").base_url,
        "claude_key": resolve_credentials(syc.get_model("claude-work:claude-sonnet-4-5"))["api_key"],
        "claude_api": syc.get_model("claude-work:claude-sonnet-4-5").api,
        "aliases": s.aliases,
        "gateway": s.gateway,
    }


def test_toml_and_json_files_read_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_file(tmp_path, monkeypatch, TOML, "config.toml")
    from_toml = _summary()
    use_file(tmp_path, monkeypatch, json.dumps(JSON), "config.json")
    assert _summary() == from_toml
    assert from_toml["gateway"] == {
        "keys": ["gw-key-0123456789"],
        "host": "127.0.0.1",
        "port": 8123,
        "workers": 1,
        "max_request_bytes": 32 * 1024 * 1024,
        "cors_origins": ["http://localhost:3000"],
    }
    assert from_toml["claude_api"] == "anthropic_messages"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"providers": {"openai": {"api_key": 5}}', r"cannot read config file .*config\.json"),
        ('["not", "an", "object"]', "the top level must be an object"),
        ('{"instances": [{"type": "openai"}]}', r"\[\[instances\]\] #1 name: Field required"),
        ('{"providers": [], "instances": []}', "put every entry under 'instances'"),
        ('{"gateway": {"keys": [""]}}', r"\[gateway\] keys\[0\]: String should have at least 1 character \(got str\)$"),
    ],
)
def test_json_file_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, match: str) -> None:
    path = use_file(tmp_path, monkeypatch, text, "config.json")
    with pytest.raises(syc.InvalidConfig, match=match) as info:
        syc.get_model("openai:gpt-4o")
    assert str(path) in str(info.value)


def test_the_default_path_falls_back_to_config_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYCOPHANT_CONFIG")
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "sycophant").mkdir()
    assert _config.config_path() == tmp_path / "sycophant" / "config.toml"
    (tmp_path / "sycophant" / "config.json").write_text("{}", encoding="utf-8")
    assert _config.config_path() == tmp_path / "sycophant" / "config.json"
    (tmp_path / "sycophant" / "config.toml").write_text("", encoding="utf-8")
    assert _config.config_path() == tmp_path / "sycophant" / "config.toml"


# -- [gateway] --------------------------------------------------------------------------------


def test_gateway_defaults_file_and_configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _config.settings().gateway == {
        "keys": [],
        "host": "127.0.0.1",
        "port": 8787,
        "workers": 1,
        "max_request_bytes": 32 * 1024 * 1024,
        "cors_origins": [],
    }
    use_file(tmp_path, monkeypatch, '[gateway]\nkeys = ["key-from-file-0123"]\nhost = "0.0.0.0"\nworkers = 4\n')
    syc.configure(gateway={"port": 9000, "workers": 2})  # merged per field, over the file
    gw = _config.settings().gateway
    assert (gw["keys"], gw["host"], gw["port"], gw["workers"]) == (["key-from-file-0123"], "0.0.0.0", 9000, 2)
    gw["keys"].append("mutated")
    assert _config.settings().gateway["keys"] == ["key-from-file-0123"]  # a copy each time
    from sycophant_py._redact import redact_text

    assert "key-from-file-0123" not in redact_text("caller sent key-from-file-0123")  # a secret from now on


@pytest.mark.parametrize(
    ("gateway", "match"),
    [
        ({"keys": ["ok-key", 123456789]}, r"gateway\.keys\[1\]: Input should be a valid string \(got int\)$"),
        ({"keys": [""]}, r"gateway\.keys\[0\]: String should have at least 1 character"),
        ({"port": 70000}, r"gateway\.port: .*less than or equal to 65535 \(got int 70000\)"),
        ({"workers": 0}, r"gateway\.workers: .*greater than or equal to 1"),
        ({"max_request_bytes": "4MB"}, r"gateway\.max_request_bytes: .*valid integer"),
        ({"cors_origin": ["*"]}, r"gateway: unknown field 'cors_origin' \(did you mean 'cors_origins'\?\)"),
    ],
)
def test_gateway_errors(gateway: dict[str, Any], match: str) -> None:
    with pytest.raises(syc.InvalidConfig, match=match) as info:
        syc.configure(gateway=gateway)
    assert "123456789" not in str(info.value)
    assert _config.settings().gateway["port"] == 8787  # a refused call changes nothing


# -- the helper checks what a factory's model would drop ------------------------------------------


def test_factory_config_keeps_the_models_own_extra_policy() -> None:
    class Loose(BaseModel):
        model_config = {"extra": "allow"}
        a: int = 0

    class Aliased(BaseModel):
        api_key: str = ""
        model_config = {"populate_by_name": True}

    assert syc.factory_config(Loose, {"a": 1, "b": 2}).model_extra == {"b": 2}
    with pytest.raises(syc.InvalidConfig, match="unknown field 'apikey' \\(did you mean 'api_key'\\?\\)"):
        syc.factory_config(Aliased, {"apikey": "x"})
    with pytest.raises(ValidationError):
        Aliased.model_validate({"api_key": 1})


def test_an_instance_named_like_a_short_alias_replaces_its_provider(srv: ScriptedServer) -> None:
    syc.configure(instances=[{"type": "openai_chat", "name": "together", "config": {"base_url": srv.url + "/v1"}}])
    assert syc.get_model("together:m").base_url == srv.url + "/v1"
    assert syc.get_model("togetherai:m").provider == "togetherai"
    assert syc.get_model("togetherai:m").base_url == srv.url + "/v1"


def test_credentials_in_a_builtin_instance_config_point_to_providers() -> None:
    with pytest.raises(syc.InvalidConfig) as info:
        syc.configure(instances=[{"type": "amazon-bedrock", "name": "b", "config": {"secret_access_key": "x" * 20}}])
    assert "secret_access_key is a credential: an instance's config takes only api_key; set" in str(info.value)
    assert "[providers.b]" in str(info.value)
    assert "x" * 20 not in str(info.value)


def test_a_custom_provider_as_the_type_is_checked_when_built() -> None:
    syc.configure(
        custom_providers={"base": {"base_url": "http://127.0.0.1:9/v1"}},
        instances=[{"type": "base", "name": "x", "config": {"base_ulr": "http://127.0.0.1:8/v1"}}],
    )  # "base" is no built-in: configure() cannot check it (it could be a factory registered later)
    with pytest.raises(syc.InvalidConfig) as info:
        syc.get_model("x:m")
    assert str(info.value).startswith(
        "configure(): instances[0] (name='x').config: unknown field 'base_ulr' (did you mean 'base_url'?)"
    )
