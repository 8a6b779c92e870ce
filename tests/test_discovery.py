"""``syc.available``, ``syc.providers(available=True)`` and live ``syc.models(name)``.

Local servers are real sockets on 127.0.0.1: a ScriptedServer (answers), a closed port (refuses at
once) and a "blackhole" (a listening socket that never accepts, so the connection is made by the
kernel and nothing ever answers). Times are measured, not mocked.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _factories, _instances, _probe
from sycophant_py._discovery import listing_url, parse_model_ids
from sycophant_py.testing import Reply, ScriptedServer

BOUND = 1.0
"""What the docs promise: no availability check takes longer."""


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    _probe.clear_cache()
    yield
    _factories._FACTORIES.clear()
    _instances._reset_for_tests()
    _probe.clear_cache()


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port whose socket listens but never accepts: connects succeed, nothing ever answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def local(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {name: {"base_url": url, "auth": "none", "local": True, **extra}}


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.monotonic()
    out = fn(*args, **kwargs)
    return out, time.monotonic() - start


# -- availability -------------------------------------------------------------------------------


def test_key_based_providers_need_resolvable_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    assert syc.available("openai") is False
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert syc.available("openai") is True
    assert syc.available("anthropic") is False
    syc.configure(providers={"anthropic": {"api_key": "sk-ant"}})
    assert syc.available("anthropic") is True
    syc.register_provider("viaenv", base_url="https://x.example/v1", api_key="UNSET_KEY_VAR_XYZ")
    assert syc.available("viaenv") is False  # names an env var that is not set: never sent, not available
    with pytest.raises(syc.UnknownProvider):
        syc.available("no-such-provider")
    available = syc.providers(available=True)
    assert {"openai", "anthropic"} <= set(available)
    assert "google" not in available
    assert set(available) <= set(syc.providers())


def test_a_local_server_is_probed(srv: ScriptedServer) -> None:
    syc.configure(custom_providers=local("box", srv.url + "/v1"))
    srv.add(Reply.json({"error": "no key"}, status=401))  # any HTTP answer means a server is there
    assert syc.available("box") is True
    assert [(r.method, r.path) for r in srv.requests] == [("GET", "/v1/models")]
    assert "authorization" not in srv.requests[0].headers  # nothing secret goes into a probe
    assert syc.available("box") is True
    assert len(srv.requests) == 1  # answered from the cache


def test_a_closed_port_answers_at_once(closed_port: int) -> None:
    syc.configure(custom_providers=local("box", f"http://127.0.0.1:{closed_port}/v1"))
    ok, took = timed(syc.available, "box")
    assert ok is False
    assert took < 0.2, took


def test_a_blackholed_port_answers_within_the_bound(blackhole: int) -> None:
    syc.configure(custom_providers=local("hole", f"http://127.0.0.1:{blackhole}/v1"))
    ok, took = timed(syc.available, "hole")
    assert ok is False
    assert _probe.PROBE_TIMEOUT - 0.05 < took < BOUND, took
    again, took_again = timed(syc.available, "hole")
    assert (again, took_again < 0.05) == (False, True)  # cached


def test_loopback_base_urls_and_settings_count_as_local(srv: ScriptedServer, closed_port: int) -> None:
    # the catalog's ollama row is local; its base URL comes from the config layer here
    syc.configure(providers={"ollama": {"base_url": f"http://127.0.0.1:{closed_port}/v1"}})
    assert syc.available("ollama") is False
    syc.configure(providers={"ollama": {"base_url": srv.url + "/v1"}})
    srv.add(Reply.json({"data": []}))
    assert syc.available("ollama") is True
    # a provider that is not marked local but lives on a loopback address is probed too
    syc.register_provider("keyed-local", base_url=f"http://localhost:{closed_port}/v1", api_key="literal:k")
    assert syc.available("keyed-local") is False


def test_many_local_providers_cost_one_bound(srv: ScriptedServer, blackhole: int, closed_port: int) -> None:
    holes = {f"hole{i}": {"base_url": f"http://127.0.0.1:{blackhole}/v{i}", "local": True} for i in range(6)}
    syc.configure(
        custom_providers={
            **holes,
            **local("up", srv.url + "/v1"),
            **local("down", f"http://127.0.0.1:{closed_port}/v1"),
        }
    )
    srv.add(Reply.json({"data": []}))
    listed, took = timed(syc.providers, available=True)
    assert "up" in listed
    assert not {"down", *holes} & set(listed)
    assert took < BOUND + 0.3, took  # six blackholes probed side by side, not 6 x 0.8 s


def test_backends_answer_for_themselves_and_slow_ones_are_cut_off() -> None:
    class Backend:
        def __init__(self, answer: Any, delay: float = 0.0) -> None:
            self.answer, self.delay = answer, delay

        def available(self) -> bool:
            time.sleep(self.delay)
            if isinstance(self.answer, Exception):
                raise self.answer
            return bool(self.answer)

        def models(self) -> list[str]:
            return []

        def complete(self, model: Any, context: Any, options: Any) -> Any:
            return iter(())  # pragma: no cover

    backends = {
        "yes": Backend(True),
        "no": Backend(False),
        "boom": Backend(RuntimeError("down")),
        "slow": Backend(True, delay=3.0),
    }
    syc.register_provider_factory("be", lambda name, config: backends[name])
    syc.configure(instances=[{"type": "be", "name": n} for n in backends])
    assert (syc.available("yes"), syc.available("no"), syc.available("boom")) == (True, False, False)
    listed, took = timed(syc.providers, available=True)
    assert {"yes"} == {"yes", "no", "boom", "slow"} & set(listed)
    assert took < BOUND + 0.3, took


# -- live model listing ---------------------------------------------------------------------------


def test_an_openai_compatible_server_lists_its_models(srv: ScriptedServer) -> None:
    syc.register_provider(
        "gw", base_url=srv.url + "/v1", api_key="literal:sk-gw", models=[{"id": "known", "contextWindow": 4096}]
    )
    srv.add(Reply.json({"object": "list", "data": [{"id": "new-one"}, {"id": "known"}, {"id": "new-one"}]}))
    listed = syc.models("gw")
    assert (listed.source, listed.error, [m.id for m in listed]) == ("live", None, ["new-one", "known"])
    assert [m.context_window for m in listed] == [None, 4096]  # a catalog-known id keeps its row
    assert listed[0].provider == "gw"
    get = [r for r in srv.requests if r.method == "GET" and r.path == "/v1/models"]
    assert get[-1].headers["authorization"] == "Bearer sk-gw"
    assert isinstance(listed, list)


def test_listing_falls_back_to_the_catalog(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # auth required (a loopback provider is "optional" by default) and no key: the server is not asked
    syc.configure(custom_providers={"gw": {"base_url": srv.url + "/v1", "auth": "required", "models": {"m1": {}}}})
    before = len(srv.requests)
    keyless = syc.models("gw")
    assert ([m.id for m in keyless], keyless.source, keyless.error) == (["m1"], "catalog", None)
    assert len(srv.requests) == before
    syc.configure(providers={"gw": {"api_key": "sk"}})
    srv.add(Reply.json({"error": {"message": "down"}}, status=503))
    failed = syc.models("gw")
    assert (failed.source, [m.id for m in failed]) == ("catalog", ["m1"])
    assert "HTTP 503" in str(failed.error)
    srv.add(Reply.json({"unexpected": True}))
    assert "not a model list" in str(syc.models("gw").error)
    asked = len(srv.requests)
    assert syc.models("gw", live=False).source == "catalog"
    assert len(srv.requests) == asked  # live=False asks nothing


def test_a_listing_that_stalls_is_cut_at_the_timeout(srv: ScriptedServer) -> None:
    syc.configure(custom_providers=local("stall", srv.url + "/v1", models={"fallback": {}}))
    # headers and half a body at once (the probe is satisfied), the rest only after 3 s
    srv.add(Reply(200, {"content-type": "application/json"}, [b'{"data": [', b'{"id": "late"}]}'], delay=3.0))
    listed, took = timed(syc.models, "stall", timeout=0.3)
    assert ([m.id for m in listed], listed.source) == (["fallback"], "catalog")
    assert "Timeout" in str(listed.error)
    assert took < 0.3 + 0.3, took


def test_ollama_native_lists_its_tags(srv: ScriptedServer) -> None:
    syc.configure(custom_providers=local("oll", srv.url + "/v1", api="ollama_native"))
    srv.add(
        Reply.json({"models": []}),  # the probe
        Reply.json({"models": [{"name": "llama3:8b", "model": "llama3:8b"}, {"name": "qwen2.5:7b"}]}),
    )
    listed = syc.models("oll")
    assert ([m.id for m in listed], listed.source) == (["llama3:8b", "qwen2.5:7b"], "live")
    assert [r.path for r in srv.requests] == ["/api/tags", "/api/tags"]
    assert listed[0].spec == "oll:llama3:8b"


def test_anthropic_style_listing_sends_its_key_header(srv: ScriptedServer) -> None:
    syc.register_provider("claude-proxy", base_url=srv.url, api="anthropic_messages", api_key="literal:sk-ant-x")
    srv.add(Reply.json({"data": [{"id": "claude-x", "display_name": "X"}], "has_more": False}))
    listed = syc.models("claude-proxy")
    assert [m.id for m in listed] == ["claude-x"]
    sent = [r for r in srv.requests if r.headers.get("x-api-key")][-1]
    assert (sent.path, sent.headers["x-api-key"], sent.headers["anthropic-version"]) == (
        "/v1/models",
        "sk-ant-x",
        "2023-06-01",
    )


def test_a_backend_lists_through_its_models() -> None:
    class Backend:
        def __init__(self) -> None:
            self.listed: list[Any] = ["a", {"id": "b", "contextWindow": 10}, syc.ModelConfig(id="c", reasoning=True)]

        def available(self) -> bool:
            return True

        def models(self) -> list[Any]:
            return self.listed

        def complete(self, model: Any, context: Any, options: Any) -> Any:
            return iter(())  # pragma: no cover

    backend = Backend()
    syc.register_provider_factory("be", lambda name, config: backend)
    syc.configure(instances=[{"type": "be", "name": "b1"}])
    listed = syc.models("b1")
    assert ([m.id for m in listed], listed.source) == (["a", "b", "c"], "live")
    assert (listed[1].context_window, listed[2].reasoning) == (10, True)
    backend.listed = ["a", "d"]  # asked again each time
    assert [m.id for m in syc.models("b1")] == ["a", "d"]
    assert [m.id for m in syc.models("b1", live=False)] == ["a", "b", "c"]  # what it listed when built
    backend.listed = "oops"  # type: ignore[assignment]
    broken = syc.models("b1")
    assert (broken.source, "must return a list" in str(broken.error)) == ("catalog", True)


# -- the pure pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "base", "url"),
    [
        ("openai_chat", "http://h:1/v1/", "http://h:1/v1/models"),
        ("openai_responses", "https://api.x/v1", "https://api.x/v1/models"),
        ("anthropic_messages", "https://api.anthropic.com", "https://api.anthropic.com/v1/models"),
        ("ollama_native", "http://localhost:11434/v1", "http://localhost:11434/api/tags"),
        ("ollama_native", "http://localhost:11434", "http://localhost:11434/api/tags"),
        ("google_gemini", "https://g/v1beta", None),
        ("openai_chat", "https://{resource}.azure.com/v1", None),
        ("openai_chat", "", None),
    ],
)
def test_listing_url(api: str, base: str, url: str | None) -> None:
    assert listing_url(api, base) == url


def test_parse_model_ids() -> None:
    both = b'{"models": [{"name": "m1"}], "data": [{"id": "m1"}, {"id": "m2"}, {"id": 3}, "junk"]}'
    assert parse_model_ids(both) == ["m1", "m2"]  # llama.cpp sends both shapes
    assert parse_model_ids(b'{"models": [{"model": "x"}]}') == ["x"]
    for bad in (b"[]", b'{"data": {}}', b"not json"):
        with pytest.raises(ValueError):
            parse_model_ids(bad)
