"""The contract checks for conversations that come from another provider (see ``sycophant_py.testing.contract``).

Each check takes a dialect and the scripted server of ``contract_provider(dialect)``, sends a
conversation made elsewhere (or one with a failed turn) to provider ``contract`` and asserts on the
request body: valid for the API (``Dialect.validate``), tool-call ids acceptable to the protocol
(``WireProtocol.handoff_rules``), unique and paired with their results (``Dialect.sent_tool_ids``),
the other provider's thinking replayed as text or dropped, its signatures never sent, every text kept.
"""

from __future__ import annotations

import json
from typing import Any

import sycophant_py as syc
from sycophant_py.testing._server import ScriptedServer

__all__ = [
    "FOREIGN_TOOL_ID",
    "check_handoff_failed_turn_left_out",
    "check_handoff_foreign_context",
    "check_handoff_thinking_dropped",
    "foreign_context",
]


def _contract() -> Any:
    from sycophant_py.testing import contract  # imported when a check runs: contract imports this module

    return contract


def _model(d: Any) -> str:
    return f"{_contract().PROVIDER}:{d.model}"


def _sent(srv: ScriptedServer, d: Any) -> dict[str, Any]:
    body: dict[str, Any] = srv.requests[-1].json
    d.validate(body)
    return body


def _weather() -> list[syc.Tool]:
    tools: list[syc.Tool] = _contract()._tools()[:1]
    return tools


def _usage(i: int, o: int) -> Any:
    return _contract().ScriptedUsage(i, o)


FOREIGN_TOOL_ID = "call_" + "7" * 31 + "|fc_" + "0123456789abcdef" * 2 + ".1"
"""A 74-character tool-call id with ``|`` and ``.``, as a proxy of another provider made it."""
_FOREIGN_SECRETS = ("U0lHLWVsc2V3aGVyZQ==", "UkVEQUNURUQtZWxzZXdoZXJl", "VFMtZWxzZXdoZXJl")
_FOREIGN_THOUGHT = "I should look the weather up first."


def foreign_context() -> syc.Context:
    """A conversation made on another provider: a 74-character tool-call id, signed and redacted
    thinking, and provider data (a thought signature) on its tool call, then a new question."""
    origin: dict[str, Any] = {"provider": "elsewhere", "model": "elsewhere-model"}
    turn = syc.Message(
        "assistant",
        (
            syc.ThinkingPart(_FOREIGN_THOUGHT, _FOREIGN_SECRETS[0], provider="elsewhere"),
            syc.ThinkingPart("", _FOREIGN_SECRETS[1], redacted=True, provider="elsewhere"),
            syc.TextPart("Let me check."),
            syc.ToolCall.from_json(
                FOREIGN_TOOL_ID,
                "get_weather",
                '{"city": "Oslo"}',
                provider_data={"thought_signature": _FOREIGN_SECRETS[2]},
            ),
        ),
        **origin,
        finish_reason="tool_use",
    )
    return syc.Context(
        (
            syc.Message.system("Be brief."),
            syc.Message.user("Plan a day in Oslo."),
            turn,
            syc.Message.tool_result(FOREIGN_TOOL_ID, "sunny, 21 C", name="get_weather"),
            syc.Message("assistant", "It is sunny in Oslo.", **origin, finish_reason="stop"),
            syc.Message.user("And tomorrow?"),
        )
    )


def _tool_id_rule(d: Any) -> Any:
    """The id rule of the dialect's protocol (None for a stream function or an unknown protocol)."""
    from sycophant_py._registry import get_protocol

    try:
        protocol = get_protocol("chat", d.protocol)
    except Exception:  # noqa: BLE001 - a dialect for a stream function names no registered protocol
        return None
    return protocol.handoff_rules(syc.get_model(_model(d))).tool_ids


def _check_ids(d: Any, body: dict[str, Any]) -> None:
    """Sent ids are unique, pair up with the results and satisfy the protocol's rule."""
    sent_ids = getattr(d, "sent_tool_ids", None)
    ids = sent_ids(body) if sent_ids is not None else None
    if ids is None:
        return
    calls, results = ids
    assert len(set(calls)) == len(calls), f"repeated tool-call ids: {calls}"
    assert results == calls, f"tool results do not pair up with the calls: {calls} / {results}"
    rule = _tool_id_rule(d)
    if rule is not None:
        refused = [i for i in calls if not rule.accepts(i)]
        assert not refused, f"ids the protocol's rule refuses were sent: {refused}"
        if not rule.accepts(FOREIGN_TOOL_ID):
            assert FOREIGN_TOOL_ID not in json.dumps(body)


def _texts(sent: list[tuple[str, str]], role: str) -> str:
    return "\n".join(text for r, text in sent if r == role)


def check_handoff_foreign_context(d: Any, srv: ScriptedServer) -> None:
    """A conversation from another provider encodes valid for this protocol: acceptable, paired ids;
    the other provider's thinking as text, its signatures and provider data never sent; every text kept."""
    srv.add(d.text("Rain tomorrow.", _usage(40, 3)))
    resp = syc.generate_text(_model(d), foreign_context(), tools=_weather())
    assert resp.text == "Rain tomorrow."
    body = _sent(srv, d)
    text = json.dumps(body, ensure_ascii=False)
    for secret in _FOREIGN_SECRETS:
        assert secret not in text, f"another provider's signature was sent: {secret}"
    sent = d.sent_messages(body)
    assert "Plan a day in Oslo." in _texts(sent, "user")
    assert "And tomorrow?" in _texts(sent, "user")
    assistant = _texts(sent, "assistant")
    for said in (_FOREIGN_THOUGHT, "Let me check.", "It is sunny in Oslo."):
        assert said in assistant, f"{said!r} is not in the assistant turns sent: {sent}"
    assert ("tool_call", "get_weather") in sent
    assert "sunny, 21 C" in _texts(sent, "tool_result")
    _check_ids(d, body)


def check_handoff_thinking_dropped(d: Any, srv: ScriptedServer) -> None:
    """With ``foreign_thinking="drop"`` the other provider's thinking is not sent at all; its answer is."""
    srv.add(d.text("Rain tomorrow.", _usage(40, 3)))
    syc.generate_text(_model(d), foreign_context(), tools=_weather(), foreign_thinking="drop")
    body = _sent(srv, d)
    text = json.dumps(body, ensure_ascii=False)
    assert _FOREIGN_THOUGHT not in text
    assert "foreign_thinking" not in text, "the setting itself was sent to the provider"
    assert "It is sunny in Oslo." in _texts(d.sent_messages(body), "assistant")
    _check_ids(d, body)


def check_handoff_failed_turn_left_out(d: Any, srv: ScriptedServer) -> None:
    """An answer that ended in ``error`` (a broken stream) is not sent again, nor its dangling call and
    a result given for it; the conversation around it is."""
    broken = syc.Message(
        "assistant",
        (syc.TextPart("Half an ans"), syc.ToolCall.from_json("call_broken", "get_weather", '{"city": "Os')),
        provider="elsewhere",
        finish_reason="error",
    )
    ctx = syc.Context(
        (
            syc.Message.user("Weather in Oslo?"),
            broken,
            syc.Message.tool_result("call_broken", "late result", name="get_weather"),
            syc.Message.user("Again, please."),
        )
    )
    srv.add(d.text("Sunny.", _usage(20, 2)))
    assert syc.generate_text(_model(d), ctx, tools=_weather()).text == "Sunny."
    body = _sent(srv, d)
    text = json.dumps(body, ensure_ascii=False)
    for gone in ("Half an ans", "call_broken", "late result"):
        assert gone not in text, f"{gone!r} of the failed turn was sent"
    users = _texts(d.sent_messages(body), "user")
    assert "Weather in Oslo?" in users
    assert "Again, please." in users
