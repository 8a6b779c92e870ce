"""The secret scan: no key reaches a log record, a hook payload, an exception or a repr.

For every built-in wire protocol and auth strategy, and for keys given per request, in the config
layer, in the environment, to ``register_provider`` (literal and env var) and in a config file's
``[[instances]]``, a recognisable fake key (or a shapeless one, which only the "remembered values"
rule can catch) goes through real HTTP to a scripted server on 127.0.0.1: a successful call, a
streamed call, a 401 whose body echoes every key, a streamed 401, a 500 that is retried (so the
``retry`` hook fires) and an async call, with a hook that fails quoting the keys (so a log event
carries them). Everything the library hands out is captured — every log
record at DEBUG, every hook payload (every string reachable from it too: a hook may print any of
it), every exception (``str``, ``repr``, ``args``, ``body``, the formatted traceback chain), and the
``repr``/``str`` of every public object produced (``Response``, its ``Context``, stream events,
``get_model()``'s ``ModelInfo``, resolved and prepared ``Credentials``) — and searched for each key
and for a 12-character piece of its middle. The scan finds nothing, and the keys did go out on the
wire (checked per scenario), so the scan cannot pass by never seeing a key.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _hooks, _redact
from sycophant_py._credentials import resolve_credentials
from sycophant_py._registry import auth_for
from sycophant_py.auth.github_copilot import GithubCopilotAuth
from sycophant_py.testing import FakeClock, RecordedRequest, Reply, ScriptedServer
from tests.contract.dialect import U
from tests.contract.dialects import dialect_for

# Recognisable fake keys (each has a distinct middle) and shapeless ones that only rule 2 can catch.
OPENAI = "sk-proj-Qm7Xc2Lp9Rt4Vb8Nz1Kd6Hs3Jf5Wy0GaTu2Ei"
RESPONSES = "sk-svcacct-Wb3Nq8Lz5Xc1Vm7Kp2Rj9Ht4Gd6Fs0Ay"
ANTHROPIC = "sk-ant-api03-Tr5Yu8Io2Pq7Ws4Ed1Rf6Tg9Yh3Uj0Ik-AbCd12EfGh-XyZw"
GOOGLE = "AIzaSyD4f7Hj2Kl9Mn3Bv6Cx8Zq1Wr5Et0Yu4Io"
AWS_ID = "AKIAQ7RZ3MX5TV2KWN8P"
AWS_SECRET = "wJal7rXUtnF/EMI3K7MDENGbP+xRfiCY9XzK2mQL"
AWS_SESSION = "IQoJb3JpZ2luX2VjEJr7Gh4Kq2Wz9Lm5Xn3Vb8Tc6Rd1Yf0Hs/Ja+Pe4Ok7Ui2=="
AZURE = "9c4e2b7f1a8d3e6c5b0f4a7d2e9c1b8f"
GITHUB = "ghp_Zt6Ym1Xl8Wk3Vj5Ui9Th2Sg7Rf4Qe0Pd3Oc"
COPILOT = "tid=4b1d2e3f5a69;exp=1999999999;sku=copilot_individual;proxy-ep=proxy.local;8kp=1:7c0d1e2f3a4b5c6d7e8f9a0b"
OLLAMA = "olk7Hq2Wm9Zx4Rv6Tn8Bp3Cs5Dy1Fa0Ge"
LITERAL = "sk-proj-Hv5Gn2Mb8Lc4Kx7Jz1Pw6Qr3St9Ud0VeFi"
PROXY = "Prx4Lm8Qw2Zn6Tv9Rb3Kc7Hd5Jf1Gs0Ya"
INSTANCE = "Inst9Kq4Wz7Xm2Rt5Yb8Nc3Vd6Hf1Jg0Lp"

HOOKS = ("request", "response", "error", "retry")


def middle(key: str) -> str:
    """A 12-character piece from the middle of a key (a partial leak is a leak)."""
    half = len(key) // 2
    return key[half - 6 : half + 6]


# -- the scripted upstream -----------------------------------------------------------------------


class Upstream:
    """Answers queued replies in order; the Copilot token exchange is answered on its own path."""

    def __init__(self) -> None:
        self.queue: deque[Reply] = deque()
        self.server = ScriptedServer(handler=self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.server.requests

    def handle(self, rec: RecordedRequest) -> Reply:
        if rec.path.startswith("/copilot_internal/"):
            token = {"token": COPILOT, "expires_at": int(time.time()) + 3600, "endpoints": {"api": self.url + "/api"}}
            return Reply.json(token)
        if not self.queue:
            return Reply.json({"error": {"message": "no scripted reply"}}, status=500)
        return self.queue.popleft()


# -- scenarios ----------------------------------------------------------------------------------


def _attempts_on_401(sc: Scenario) -> int:
    """Requests one 401 costs: an auth that can refresh (Copilot's token exchange) resends once."""
    return 2 if "copilot" in sc.spec else 1


@dataclass
class Scenario:
    """One provider set-up: where its key comes from and how it is sent."""

    name: str
    spec: str
    protocol: str
    keys: tuple[str, ...]
    setup: Callable[[Upstream, pytest.MonkeyPatch, Path], dict[str, Any] | None]
    """Configures the library for the upstream; returns the per-request credentials, if any."""
    sent: Callable[[list[RecordedRequest]], bool]
    """True when the key(s) visibly went out on the wire."""
    api: str | None = None


def _header_has(name: str, value: str) -> Callable[[list[RecordedRequest]], bool]:
    return lambda reqs: any(value in r.headers.get(name, "") for r in reqs)


def _openai_chat(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> dict[str, Any]:
    return {"api_key": OPENAI, "base_url": up.url + "/v1"}


def _openai_responses(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> None:
    syc.configure(providers={"openai": {"api_key": RESPONSES, "base_url": up.url + "/v1"}})


def _anthropic(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> None:
    mp.setenv("ANTHROPIC_API_KEY", ANTHROPIC)
    syc.configure(providers={"anthropic": {"base_url": up.url}})


def _google(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> dict[str, Any]:
    return {"api_key": GOOGLE, "base_url": up.url + "/v1beta"}


def _bedrock(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> None:
    mp.setenv("AWS_ACCESS_KEY_ID", AWS_ID)
    mp.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    mp.setenv("AWS_SESSION_TOKEN", AWS_SESSION)
    mp.setenv("AWS_REGION", "eu-west-1")
    syc.configure(providers={"amazon-bedrock": {"base_url": up.url}})


def _azure(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> dict[str, Any]:
    return {"api_key": AZURE, "base_url": up.url}


def _copilot(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> dict[str, Any]:
    return {"api_key": GITHUB, "token_url": up.url + "/copilot_internal/v2/token"}


def _ollama(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> None:
    mp.setenv("SYC_SCAN_OLLAMA_KEY", OLLAMA)
    syc.register_provider("ollama-keyed", base_url=up.url, api="ollama_native", api_key="env:SYC_SCAN_OLLAMA_KEY")


def _registered_literal(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> None:
    syc.register_provider("myprov", base_url=up.url + "/v1", api_key=f"literal:{LITERAL}")


def _registered_env(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> None:
    mp.setenv("MY_PROXY_KEY", PROXY)
    syc.register_provider("proxyprov", base_url=up.url + "/v1", api_key="MY_PROXY_KEY")


def _instances(up: Upstream, mp: pytest.MonkeyPatch, tmp: Path) -> None:
    path = tmp / "config.toml"
    path.write_text(
        f'[[instances]]\ntype = "openai"\nname = "inst-openai"\n'
        f'config = {{ api_key = "{INSTANCE}", base_url = "{up.url}/v1" }}\n',
        encoding="utf-8",
    )
    mp.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)


SCENARIOS = [
    Scenario(
        "openai_chat/bearer",
        "openai:gpt-4o-mini",
        "openai_chat",
        (OPENAI,),
        _openai_chat,
        _header_has("authorization", OPENAI),
    ),
    Scenario(
        "openai_responses/bearer (config layer)",
        "openai:gpt-4o-mini",
        "openai_responses",
        (RESPONSES,),
        _openai_responses,
        _header_has("authorization", RESPONSES),
        api="openai_responses",
    ),
    Scenario(
        "anthropic_messages/anthropic (env)",
        "anthropic:claude-sonnet-4-5",
        "anthropic_messages",
        (ANTHROPIC,),
        _anthropic,
        _header_has("x-api-key", ANTHROPIC),
    ),
    Scenario(
        "google_gemini/google",
        "google:gemini-2.0-flash",
        "google_gemini",
        (GOOGLE,),
        _google,
        _header_has("x-goog-api-key", GOOGLE),
    ),
    Scenario(
        "bedrock_converse/bedrock SigV4 (env)",
        "amazon-bedrock:anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock_converse",
        (AWS_ID, AWS_SECRET, AWS_SESSION),
        _bedrock,
        lambda reqs: (
            _header_has("authorization", AWS_ID)(reqs) and _header_has("x-amz-security-token", AWS_SESSION)(reqs)
        ),
    ),
    Scenario(
        "openai_chat/azure api-key",
        "azure:gpt-4o-mini",
        "openai_chat",
        (AZURE,),
        _azure,
        _header_has("api-key", AZURE),
    ),
    Scenario(
        "openai_chat/github_copilot token exchange",
        "copilot:gpt-4o",
        "openai_chat",
        (GITHUB, COPILOT),
        _copilot,
        lambda reqs: _header_has("authorization", GITHUB)(reqs) and _header_has("authorization", COPILOT)(reqs),
    ),
    Scenario(
        "ollama_native/bearer (register_provider env:)",
        "ollama-keyed:llama3",
        "ollama_native",
        (OLLAMA,),
        _ollama,
        _header_has("authorization", OLLAMA),
    ),
    Scenario(
        "register_provider literal key",
        "myprov:m",
        "openai_chat",
        (LITERAL,),
        _registered_literal,
        _header_has("authorization", LITERAL),
    ),
    Scenario(
        "register_provider env var name",
        "proxyprov:m",
        "openai_chat",
        (PROXY,),
        _registered_env,
        _header_has("authorization", PROXY),
    ),
    Scenario(
        "config file [[instances]]",
        "inst-openai:gpt-4o-mini",
        "openai_chat",
        (INSTANCE,),
        _instances,
        _header_has("authorization", INSTANCE),
    ),
]


# -- capture ------------------------------------------------------------------------------------


@dataclass
class Captured:
    """Every string the library handed out, labelled by where it came from."""

    texts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def add_object(self, where: str, obj: object, *, data: bool = False) -> None:
        """``str``/``repr`` of ``obj`` and of everything reachable from it (its strings too if ``data``)."""
        for text in _reachable(obj, data):
            self.add(where, text)

    def add_exception(self, where: str, exc: BaseException) -> None:
        self.add(where, str(exc))
        self.add(where, repr(exc))
        self.add(where, "".join(traceback.format_exception(exc)))
        self.add_object(where + ".args", exc.args, data=True)
        self.add_object(where + ".body", getattr(exc, "body", None), data=True)


def _reachable(root: object, data: bool, limit: int = 4000) -> Iterator[str]:
    seen: set[int] = set()
    todo = [root]
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (int, float, bool, type)) or callable(obj):
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes)):
            if data:
                yield obj if isinstance(obj, str) else obj.decode("utf-8", "replace")
            continue
        yield repr(obj)
        yield str(obj)
        todo.extend(_children(obj))


def _children(obj: Any) -> list[Any]:
    out: list[Any] = []
    if isinstance(obj, dict):
        out += [*obj.keys(), *obj.values()]
    elif isinstance(obj, (list, tuple, set, frozenset, deque)):
        out += list(obj)
    if isinstance(obj, BaseException):
        out += [obj.__cause__, obj.__context__, *obj.args]
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        out += list(attrs.values())
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                out.append(getattr(obj, slot))
    return out


# -- the scan -----------------------------------------------------------------------------------


def _run(sc: Scenario, up: Upstream, creds: dict[str, Any] | None, cap: Captured) -> dict[str, int]:
    """Run every path of one scenario, capturing what the library hands out; returns hook counts."""
    d = dialect_for(sc.protocol)
    assert d is not None
    kw: dict[str, Any] = {"credentials": creds} if creds is not None else {}
    if sc.api:
        kw["api"] = sc.api
    echo = "Invalid key(s) provided: " + ", ".join(sc.keys)
    fired = dict.fromkeys(HOOKS, 0)

    def hook(name: str) -> Callable[[dict[str, Any]], None]:
        def record(payload: dict[str, Any]) -> None:
            fired[name] += 1
            cap.add_object(f"hook {name}", payload, data=True)

        return record

    def failing(payload: dict[str, Any]) -> None:
        raise RuntimeError(f"a hook quoting the key(s): {echo}")  # logged as hook.failed, key masked

    hooks = [(name, syc.on(name, hook(name))) for name in HOOKS]  # type: ignore[arg-type]
    hooks.append(("request", syc.on("request", failing)))
    try:
        # 1. a successful call
        up.queue.append(d.text("hello there", U(3, 2)))
        resp = syc.generate_text(sc.spec, "Hi", **kw)
        assert resp.text == "hello there"
        cap.add_object("response", resp)
        # 2. a streamed call
        up.queue.append(d.stream(["hel", "lo"], U(3, 2)))
        stream = syc.stream_text(sc.spec, "Hi", **kw)
        for event in stream:
            cap.add("event", repr(event))
            cap.add("event", str(event))
        streamed = stream.response()
        assert streamed.text == "hello"
        cap.add_object("streamed response", streamed)
        # 3. a 401 whose body echoes the key(s)
        up.queue.extend([d.error(401, echo)] * _attempts_on_401(sc))
        with pytest.raises(syc.AuthenticationFailed) as info:
            syc.generate_text(sc.spec, "Hi", **kw)
        cap.add_exception("401", info.value)
        # 4. a streamed 401 (raised before the first event, or an error event)
        up.queue.extend([d.error(401, echo)] * _attempts_on_401(sc))
        try:
            for event in syc.stream_text(sc.spec, "Hi", **kw):
                cap.add("stream 401 event", repr(event))
                if event.error is not None:
                    cap.add_exception("stream 401", event.error)
        except syc.ProviderError as exc:
            cap.add_exception("stream 401", exc)
        # 5. a 500 that is retried, then success
        up.queue.extend([d.error(500, echo), d.text("after retry", U(3, 2))])
        with FakeClock():
            assert syc.generate_text(sc.spec, "Hi", **kw).text == "after retry"
        # 6. the async path
        up.queue.append(d.text("async hello", U(3, 2)))
        aresp = asyncio.run(syc.agenerate_text(sc.spec, "Hi", **kw))
        cap.add_object("async response", aresp)
    finally:
        for name, fn in hooks:
            syc.off(name, fn)  # type: ignore[arg-type]
    return fired


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_no_key_reaches_a_log_hook_exception_or_repr(
    sc: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _redact.forget_all()  # rule 1 and 3 alone must protect what is shown before any call
    auth = auth_for("github-copilot")
    assert isinstance(auth, GithubCopilotAuth)
    auth.clear_cache()
    up = Upstream()
    cap = Captured()
    caplog.set_level(logging.DEBUG, logger="sycophant_py")
    with up.server:
        creds = sc.setup(up, monkeypatch, tmp_path)
        model = syc.get_model(sc.spec)
        cap.add("get_model before any call", repr(model))
        cap.add("get_model before any call", str(model))
        fired = _run(sc, up, creds, cap)
        model = syc.get_model(sc.spec)
        resolved = resolve_credentials(model, creds)
        prepared = auth_for(model.provider, model.auth_strategy, sc.api or model.api).prepare_credentials(resolved)
        for where, obj in (("get_model", model), ("credentials", resolved), ("prepared credentials", prepared)):
            cap.add(where, repr(obj))
            cap.add(where, str(obj))
    auth.clear_cache()
    for record in caplog.records:
        cap.add(f"log {record.getMessage()}", logging.Formatter("%(levelname)s %(message)s").format(record))
        cap.add_object(f"log {record.getMessage()}", record.__dict__, data=True)

    assert sc.sent(up.requests), "the key never went out: the scan would prove nothing"
    assert len(cap.texts) > 500, "too little was captured for the scan to mean anything"
    assert all(fired[name] for name in HOOKS), fired
    assert any(r.getMessage() == "hook.failed" for r in caplog.records), "the failing hook was not logged"
    leaks = [
        (where, text[max(0, text.find(needle) - 60) : text.find(needle) + 60])
        for key in sc.keys
        for needle in (key, middle(key))
        for where, text in cap.texts
        if needle in text
    ]
    assert leaks == []
    print(f"\n[secret scan] {sc.name}: {len(sc.keys)} key(s), {len(cap.texts)} captured strings searched")


# -- the observed failures, one by one ---------------------------------------------------------


def test_model_info_repr_masks_a_registered_literal_key() -> None:
    _redact.forget_all()
    syc.register_provider("myprov", base_url="http://127.0.0.1:1/v1", api_key=f"literal:{LITERAL}")
    model = syc.get_model("myprov:m")
    assert model.extra["_api_key_ref"] == f"literal:{LITERAL}"  # still there, as data
    for text in (repr(model), str(model)):
        assert LITERAL not in text
        assert middle(LITERAL) not in text
        assert "'_api_key_ref': '***VeFi'" in text


def test_model_info_repr_masks_instance_credentials_and_secret_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _redact.forget_all()
    path = tmp_path / "config.toml"
    path.write_text(
        f'[[instances]]\ntype = "openai"\nname = "inst"\nconfig = {{ api_key = "{INSTANCE}" }}\n', encoding="utf-8"
    )
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)
    syc.register_provider("hdr", base_url="http://127.0.0.1:1/v1", headers={"X-Custom-Auth": f"literal:{PROXY}"})
    for spec, key in (("inst:gpt-4o-mini", INSTANCE), ("hdr:m", PROXY)):
        text = repr(syc.get_model(spec))
        assert key not in text
        assert middle(key) not in text
    assert "'_instance_credentials': {'api_key': '***g0Lp'}" in repr(syc.get_model("inst:gpt-4o-mini"))


def test_hook_payload_is_redacted_whatever_it_holds() -> None:
    """A payload holding credentials and a signed request reaches hooks masked; the originals are untouched."""
    from sycophant_py.auth import Credentials, HttpRequest

    _redact.forget_all()
    seen: list[dict[str, Any]] = []
    creds = Credentials({"api_key": AZURE, "region": "eu-west-1"})
    req = HttpRequest("POST", "http://127.0.0.1:1/v1/x", {"authorization": f"Bearer {OPENAI}"}, {"key": GOOGLE})
    body = {"model": "m", "max_tokens": 100000000, "messages": [{"role": "user", "content": "hi"}]}
    payload: dict[str, Any] = {
        "provider": "p",
        "body": body,
        "credentials": creds,
        "nested": [{"request": req}],
        "n": 3,
    }
    syc.on("request", seen.append)
    try:
        _hooks.emit("request", payload)
    finally:
        syc.off("request", seen.append)
    (got,) = seen
    texts = list(_reachable(got, True))
    for key in (AZURE, OPENAI, GOOGLE):
        assert not [t for t in texts if key in t or middle(key) in t]
    assert got["credentials"]["region"] == "eu-west-1"
    assert got["body"] is body  # nothing secret in it: passed as it is
    assert got["nested"][0]["request"].url == req.url
    assert payload["credentials"]["api_key"] == AZURE  # the caller's objects are never changed
    assert req.headers["authorization"] == f"Bearer {OPENAI}"


def test_a_key_echoed_in_an_error_body_is_masked_in_str_and_body(srv: ScriptedServer) -> None:
    _redact.forget_all()
    syc.register_provider("echo", base_url=srv.url + "/v1", api_key=f"literal:{PROXY}")
    srv.add(Reply.json({"error": {"message": f"Incorrect API key provided: {PROXY}", "type": "auth"}}, status=401))
    with pytest.raises(syc.AuthenticationFailed) as info:
        syc.generate_text("echo:m", "hi")
    assert srv.requests[0].headers["authorization"] == f"Bearer {PROXY}"
    exc = info.value
    assert "***s0Ya" in str(exc)
    assert exc.body == {"error": {"message": "Incorrect API key provided: ***s0Ya", "type": "auth"}}
    for text in (str(exc), repr(exc), repr(exc.args), repr(exc.body), exc.message):
        assert PROXY not in text


def test_openai_style_partial_key_in_an_error_is_kept() -> None:
    """What a provider already masks (``sk-proj-****abcd``) is left as it is: it helps, it leaks nothing."""
    exc = syc.AuthenticationFailed("Incorrect API key provided: sk-proj-****abcd. You can find your key at ...")
    assert "sk-proj-****abcd" in str(exc)


def test_caller_errors_never_quote_a_key() -> None:
    """A key passed where a param or a model spec goes: the caller error names the mistake, masked."""
    syc.configure(custom_providers={"h": {"base_url": "http://127.0.0.1:1/v1", "auth": "none"}})
    with pytest.raises(syc.InvalidParams) as bad_param:
        syc.generate_text("h:m", "hi", temperature=OPENAI)
    with pytest.raises(syc.InvalidError) as bad_spec:
        syc.generate_text(GITHUB, "hi")
    for exc, key in ((bad_param.value, OPENAI), (bad_spec.value, GITHUB)):
        for text in (str(exc), repr(exc), repr(exc.args)):
            assert key not in text
            assert middle(key) not in text
    assert "temperature" in str(bad_param.value)
    assert "***u2Ei" in str(bad_param.value)


def test_a_literal_key_in_capitals_is_never_echoed_by_the_env_var_error(srv: ScriptedServer) -> None:
    key = "ABCDEF0123456789ABCDEF0123456789"
    syc.register_provider("caps", base_url=srv.url + "/v1", api_key=key)
    with pytest.raises(syc.InvalidError) as info:
        syc.generate_text("caps:m", "hi")
    assert key not in str(info.value)
    assert "***6789" in str(info.value)
    assert "literal:" in str(info.value)
    assert srv.requests == []  # nothing was sent


def test_a_real_looking_env_var_name_is_still_named(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_PROXY_KEY_2", raising=False)
    syc.register_provider("named", base_url=srv.url + "/v1", api_key="MY_PROXY_KEY_2")
    with pytest.raises(syc.InvalidError, match="MY_PROXY_KEY_2"):
        syc.generate_text("named:m", "hi")
