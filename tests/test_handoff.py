"""One conversation handed from provider to provider, over real HTTP, every request checked against its spec.

A seed conversation (made on a provider that is not in the chain: a 74-character tool-call id with
``|`` and ``.``, signed and redacted thinking, two later calls sharing the id ``call_0``) goes through
openai_chat → anthropic_messages → google_gemini → bedrock_converse → openai_responses → ollama_native
(and the reverse order), each provider behind its own :class:`ScriptedServer` with replies rendered by
its contract dialect. At each hop the library makes two requests:

1. the conversation plus a new question: the provider answers with its own signed thinking, text and
   a tool call in its own id format; the tool's result is appended;
2. the same provider again: its own thinking must come back natively (signature intact) and its own
   call id verbatim.

Every request is validated with the dialect's validator (the OpenAI and Ollama OpenAPI specs, the
Anthropic SDK's types, Gemini's protos, botocore's Converse shape) and checked: the ids satisfy the
target's rule (:meth:`WireProtocol.handoff_rules`), are unique and pair up with their results; thinking
from other providers is plain text (or absent with ``foreign_thinking="drop"``); no other provider's
signature or redacted payload is sent; every user and assistant text so far is there. Variants run the
chain with a ``Context.to_json()`` / ``from_json()`` round trip before every request.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._registry import get_protocol
from sycophant_py.testing import ScriptedServer
from sycophant_py.testing.contract import ScriptedCall, ScriptedUsage
from tests.contract.dialect import answering
from tests.contract.dialects import dialect_for
from tests.contract.dialects.bedrock_converse import CREDENTIALS

CHAIN = ["openai_chat", "anthropic_messages", "google_gemini", "bedrock_converse", "openai_responses", "ollama_native"]
LONG_ID = "call_" + "7" * 31 + "|fc_" + "0123456789abcdef" * 2 + ".1"  # 74 characters, '|' and '.'
# Ids each provider makes itself (Ollama sends none: the library makes them up).
OWN_IDS = {
    "openai_chat": "call_Xk2pQ8rT5vW1yZ3aB6cD9eF0",
    "anthropic_messages": "toolu_01A2b3C4d5E6f7G8h9I0j1K2",
    "google_gemini": "h7d2k9qx",
    "bedrock_converse": "tooluse_Qm3Zp9LrTQ2xVbN8sYkW4A",
    "openai_responses": "call_Ab12Cd34Ef56Gh78Ij90Kl12",
    "ollama_native": "",
}
ANTHROPIC_REWRITE = "call_7777777777777777777777777777777_fc_0123456_a6f7d70f67bbda56"
SIGNED = {"anthropic_messages", "google_gemini", "bedrock_converse", "openai_responses"}
WEATHER = syc.Tool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def name_of(protocol: str) -> str:
    return f"hop-{protocol}"


def seed() -> syc.Context:
    """A conversation made elsewhere: what no target can take as it is."""
    origin: dict[str, Any] = {"provider": "legacy-proxy", "model": "legacy-model"}
    first = syc.Message(
        "assistant",
        (
            syc.ThinkingPart("thinking of legacy", b64("SIG-legacy"), provider="legacy-proxy"),
            syc.ThinkingPart("", b64("REDACTED-legacy"), redacted=True, provider="legacy-proxy"),
            syc.TextPart("answer of legacy"),
            syc.ToolCall(LONG_ID, "get_weather", {"city": "Oslo"}, '{"city": "Oslo"}'),
        ),
        **origin,
        finish_reason="tool_use",
    )
    again = [
        syc.Message(
            "assistant",
            (
                syc.TextPart(f"repeat {n} of legacy"),
                syc.ToolCall.from_json("call_0", "get_weather", f'{{"city": "{city}"}}'),
            ),
            **origin,
            finish_reason="tool_use",
        )
        for n, city in ((1, "Rome"), (2, "Lima"))
    ]
    return syc.Context(
        (
            syc.Message.system("Be brief."),
            syc.Message.user("question for legacy"),
            first,
            syc.Message.tool_result(LONG_ID, "result of legacy", name="get_weather"),
            again[0],
            syc.Message.tool_result("call_0", "result Rome", name="get_weather"),
            again[1],
            syc.Message.tool_result("call_0", "result Lima", name="get_weather"),
            syc.Message("assistant", "done of legacy", **origin, finish_reason="stop"),
        )
    )


@dataclass
class Run:
    """What the chain has produced so far, for the checks of each request."""

    mode: str  # foreign_thinking
    users: list[str] = field(default_factory=lambda: ["question for legacy"])
    answers: list[str] = field(
        default_factory=lambda: ["answer of legacy", "repeat 1 of legacy", "repeat 2 of legacy", "done of legacy"]
    )
    results: list[str] = field(default_factory=lambda: ["result of legacy", "result Rome", "result Lima"])
    thoughts: dict[str, str] = field(default_factory=lambda: {"legacy": "thinking of legacy"})
    signatures: dict[str, list[str]] = field(
        default_factory=lambda: {"legacy": [b64("SIG-legacy"), b64("REDACTED-legacy")]}
    )
    requests: int = 0


@pytest.fixture
def servers() -> Iterator[dict[str, ScriptedServer]]:
    """One scripted server per protocol, each behind provider ``hop-<protocol>``."""
    out: dict[str, ScriptedServer] = {}
    try:
        for protocol in CHAIN:
            srv = ScriptedServer().__enter__()
            out[protocol] = srv
            dialect = dialect_for(protocol)
            assert dialect is not None
            dialect.register(srv.url, name_of(protocol))
            if protocol == "bedrock_converse":
                syc.configure(providers={name_of(protocol): dict(CREDENTIALS)})
        yield out
    finally:
        for srv in out.values():
            srv.__exit__(None, None, None)


def spec(protocol: str) -> str:
    dialect = dialect_for(protocol)
    assert dialect is not None
    return f"{name_of(protocol)}:{dialect.model}"


def check_request(protocol: str, body: dict[str, Any], run: Run, own: str) -> None:
    """Every check of one request body (``own``: the target's own call id of this hop, if already made)."""
    dialect = dialect_for(protocol)
    assert dialect is not None
    dialect.validate(body)
    run.requests += 1
    text = json.dumps(body, ensure_ascii=False)
    check_texts(dialect.sent_messages(body), run, text, protocol)
    for hop, signatures in run.signatures.items():
        if hop != protocol:
            for sig in signatures:
                assert sig not in text, f"{protocol} was sent {hop}'s signature {sig!r}"
    check_ids(protocol, body, own)


def check_texts(sent: list[tuple[str, str]], run: Run, text: str, protocol: str) -> None:
    said = {role: [t for r, t in sent if r == role] for role in ("user", "assistant", "tool_result")}
    for question in run.users:
        assert any(question in t for t in said["user"]), f"{protocol} lost the user's {question!r}: {sent}"
    for answer in run.answers:
        assert any(answer in t for t in said["assistant"]), f"{protocol} lost the answer {answer!r}: {sent}"
    for result in run.results:
        assert any(result in t for t in said["tool_result"]), f"{protocol} lost the tool result {result!r}"
    for hop, thought in run.thoughts.items():
        if hop == protocol:
            continue
        if run.mode == "text":
            assert any(thought in t for t in said["assistant"]), f"{protocol}: {hop}'s thinking is not text: {sent}"
        else:
            assert thought not in text, f"{protocol} was sent {hop}'s thinking with foreign_thinking='drop'"


def check_ids(protocol: str, body: dict[str, Any], own: str) -> None:
    dialect = dialect_for(protocol)
    assert dialect is not None
    ids = dialect.sent_tool_ids(body)
    if ids is None:  # Ollama: no ids on the wire; results name their tool
        calls = [tc["function"]["name"] for m in body["messages"] for tc in m.get("tool_calls") or ()]
        results = [m.get("tool_name") for m in body["messages"] if m["role"] == "tool"]
        assert results == calls
        return
    calls, results = ids
    rule = get_protocol("chat", protocol).handoff_rules(syc.get_model(spec(protocol))).tool_ids
    bad = [i for i in calls + results if not rule.accepts(i)]
    assert not bad, f"{protocol} was sent ids its rule refuses: {bad}"
    assert len(set(calls)) == len(calls), f"{protocol}: repeated call ids {calls}"
    assert results == calls, f"{protocol}: calls and results do not pair up: {calls} / {results}"
    if rule.max_length is not None and rule.max_length < len(LONG_ID):
        assert LONG_ID not in json.dumps(body)
    if own:
        assert own in calls, f"{protocol} did not get its own id {own!r} back verbatim: {calls}"


def hop(protocol: str, srv: ScriptedServer, ctx: syc.Context, run: Run, *, via_json: bool) -> syc.Context:
    """Two requests to one provider; returns the conversation after them."""
    dialect = dialect_for(protocol)
    assert dialect is not None
    params: dict[str, Any] = {"foreign_thinking": run.mode} if run.mode == "drop" else {}
    short = protocol.split("_", maxsplit=1)[0]
    question, thought, answer = f"question for {protocol}", f"thinking of {protocol}", f"answer of {protocol}"
    signature = b64(f"SIG-{protocol}")  # Gemini's signatures are bytes on the wire
    call = ScriptedCall(OWN_IDS[protocol], "get_weather", {"city": short})
    srv.add(answering(dialect).answer(thought, signature, answer, [call], ScriptedUsage(30, 10)))
    ctx = ctx.add(syc.Message.user(question))
    ctx = syc.Context.from_json(ctx.to_json()) if via_json else ctx
    run.users.append(question)
    resp = syc.generate_text(spec(protocol), ctx, tools=[WEATHER], **params)
    check_request(protocol, srv.requests[-1].json, run, own="")
    assert resp.text == answer
    assert resp.reasoning == thought
    [made] = resp.tool_calls
    assert made.id == (OWN_IDS[protocol] or made.id)
    run.answers.append(answer)
    run.thoughts[protocol] = thought
    run.signatures[protocol] = [signature]
    run.results.append(f"result of {protocol}")
    ctx = resp.context.add(syc.Message.tool_result(made.id, f"result of {protocol}", name="get_weather"))
    ctx = syc.Context.from_json(ctx.to_json()) if via_json else ctx

    srv.add(dialect.text(f"done of {protocol}", ScriptedUsage(40, 5)))
    second = syc.generate_text(spec(protocol), ctx, tools=[WEATHER], **params)
    body = srv.requests[-1].json
    check_request(protocol, body, run, own=OWN_IDS[protocol])
    if protocol in SIGNED:  # the provider's own thinking goes back to it natively, signature intact
        assert signature in json.dumps(body)
    run.answers.append(f"done of {protocol}")
    return second.context


@pytest.mark.parametrize("mode", ["text", "drop"])
@pytest.mark.parametrize("via_json", [False, True], ids=["objects", "json"])
@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_conversation_moves_through_every_provider(
    servers: dict[str, ScriptedServer], order: str, via_json: bool, mode: str
) -> None:
    chain = CHAIN if order == "forward" else CHAIN[::-1]
    run = Run(mode)
    ctx = seed()
    for protocol in chain:
        ctx = hop(protocol, servers[protocol], ctx, run, via_json=via_json)
    assert run.requests == 2 * len(CHAIN)
    # The last context still holds everything, with each provider's own ids and signatures.
    calls = [c for m in ctx.messages for c in m.tool_calls]
    assert [c.id for c in calls][:3] == [LONG_ID, "call_0", "call_0"]  # the context itself is never rewritten
    assert {m.provider for m in ctx.messages if m.role == "assistant"} == {"legacy-proxy", *map(name_of, CHAIN)}


def test_configured_setting_and_param(servers: dict[str, ScriptedServer]) -> None:
    """``configure(foreign_thinking="drop")`` applies to every call; a call's param wins over it."""
    protocol = "anthropic_messages"
    srv, dialect = servers[protocol], dialect_for(protocol)
    assert dialect is not None
    ctx = seed().add(syc.Message.user("more"))
    syc.configure(foreign_thinking="drop")
    srv.add(dialect.text("a", ScriptedUsage(1, 1)), dialect.text("b", ScriptedUsage(1, 1)))
    syc.generate_text(spec(protocol), ctx, tools=[WEATHER])
    syc.generate_text(spec(protocol), ctx, tools=[WEATHER], foreign_thinking="text")
    dropped, kept = (json.dumps(r.json) for r in srv.requests)
    assert "thinking of legacy" not in dropped
    assert "thinking of legacy" in kept
    assert b64("SIG-legacy") not in kept
    with pytest.raises(syc.InvalidParams, match="foreign_thinking"):
        syc.generate_text(spec(protocol), ctx, foreign_thinking="hide")
    with pytest.raises(syc.SycophantError, match="foreign_thinking"):
        syc.configure(foreign_thinking="hide")  # type: ignore[arg-type]  # deliberately wrong: the check under test


@pytest.mark.parametrize("then", ["anthropic_messages", "openai_chat", "google_gemini"])
def test_an_aborted_turn_is_left_out_with_its_dangling_calls(servers: dict[str, ScriptedServer], then: str) -> None:
    """A stream closed after its first tool call: the turn, its call and a result given for it never go out again."""
    first, dialect = "anthropic_messages", dialect_for("anthropic_messages")
    assert dialect is not None
    calls = [
        ScriptedCall("toolu_aborted1", "get_weather", {"city": "Bern"}),
        ScriptedCall("toolu_aborted2", "noop", {}),
    ]
    servers[first].add(dialect.tool_calls_stream(calls, ScriptedUsage(5, 5), chunk_size=16))
    stream = syc.stream_text(spec(first), "weather?", tools=[WEATHER, syc.Tool("noop")])
    for event in stream:
        if event.type == "toolcall_end":
            break
    stream.close()
    aborted = stream.response()
    assert aborted.finish_reason == "aborted"
    assert [c.id for c in aborted.tool_calls][:1] == ["toolu_aborted1"]
    ctx = aborted.context.add(
        syc.Message.tool_result("toolu_aborted1", "ran anyway", name="get_weather"), syc.Message.user("try again")
    )
    target = dialect_for(then)
    assert target is not None
    servers[then].add(target.text("fine", ScriptedUsage(3, 1)))
    syc.generate_text(spec(then), syc.Context.from_json(ctx.to_json()), tools=[WEATHER])
    body = servers[then].requests[-1].json
    target.validate(body)
    text = json.dumps(body)
    assert "toolu_aborted" not in text
    assert "ran anyway" not in text
    sent = target.sent_messages(body)
    assert {role for role, _ in sent} == {"user"}  # no assistant turn, call or result is left
    assert "weather?" in sent[0][1]
    assert "try again" in sent[-1][1]


DOCS = Path(__file__).resolve().parent.parent / "docs" / "conversations.md"


def docs_example(name: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {name}[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, f"docs/conversations.md lost its {name!r} example"
    return match.group(1)


def test_docs_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/conversations.md's example, with openai, anthropic and ollama redirected to scripted servers."""
    chat, claude = dialect_for("openai_chat"), dialect_for("anthropic_messages")
    assert chat is not None
    assert claude is not None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-example")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-docs-example")
    with ScriptedServer() as openai, ScriptedServer() as anthropic, ScriptedServer() as ollama:
        syc.register_provider("openai", base_url=openai.url + "/v1")
        syc.register_provider("anthropic", base_url=anthropic.url)
        syc.register_provider("ollama", base_url=ollama.url + "/v1")
        call = ScriptedCall(LONG_ID, "get_weather", {"city": "Oslo"})  # a proxy's long id
        openai.add(
            answering(chat).answer("Oslo needs a lookup.", "", "", [call], ScriptedUsage(20, 5)),
            chat.text("It is sunny in Oslo.", ScriptedUsage(30, 5)),
        )
        signature = b64("SIG-docs-claude")
        anthropic.add(
            answering(claude).answer("Sunny means light clothes.", signature, "A T-shirt.", [], ScriptedUsage(40, 9))
        )
        ollama.add(chat.text("Sunny; wear a T-shirt.", ScriptedUsage(50, 4)))
        namespace: dict[str, Any] = {"__name__": "docs_conversations"}
        exec(compile(docs_example("handoff"), str(DOCS), "exec"), namespace)  # our own documentation
    assert capsys.readouterr().out == "Sunny; wear a T-shirt.\n"
    assert [m.provider for m in namespace["third"].context.messages if m.role == "assistant"] == [
        "openai",
        "openai",
        "anthropic",
        "ollama",
    ]
    for srv in (openai, anthropic, ollama):
        for request in srv.requests:
            assert LONG_ID not in json.dumps(request.json)  # 74 characters: no target takes it
    to_claude = anthropic.requests[0].json
    claude.validate(to_claude)
    ids = claude.sent_tool_ids(to_claude)
    assert ids is not None
    calls, results = ids
    assert calls == results == [ANTHROPIC_REWRITE]
    assert "Oslo needs a lookup." in json.dumps(to_claude)  # OpenAI's reasoning, as text
    to_ollama = ollama.requests[0].json
    chat.validate(to_ollama)
    text = json.dumps(to_ollama)
    assert "Oslo needs a lookup." not in text
    assert "Sunny means light clothes." not in text
    assert signature not in text
    assert "A T-shirt." in text
