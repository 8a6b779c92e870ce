"""A complete third-party protocol package, made with the template, passes the shipped contract suite.

``tests/third_party_protocol/acme_chat`` is written the way docs/architecture.md ("Adding a protocol")
says, outside the library and with its public namespaces only; nothing in ``sycophant_py`` names it.
Registering the class is the only step: its descriptor (aliases, path, finish reasons, params) does
the rest. The dialect below renders Acme's replies and reads back what was sent;
``sycophant_py.testing.contract.ContractSuite`` runs every check the built-in protocols run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typing_extensions import override

import sycophant_py as syc
from sycophant_py._registry import BUILTINS, canonical_api, get_protocol
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.testing.contract import Call, ContractSuite, Dialect, U, run_contract, split
from tests.third_party_protocol.acme_chat import AcmeChat

PACKAGE = Path(__file__).resolve().parent / "third_party_protocol" / "acme_chat"
_STOP = {"stop": "done", "length": "cut", "tool_use": "tools", "content_filter": "blocked"}


def _usage(u: U) -> dict[str, int]:
    return {"input": u.input, "output": u.output, "cache_read": u.cache_read, "cache_write": u.cache_write}


def _sse(events: list[dict[str, Any]], chunk_size: int | None = None) -> Reply:
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode()
    return Reply(200, {"content-type": "text/event-stream"}, split(body, chunk_size))


class AcmeDialect(Dialect):
    """Acme's wire format, for the contract checks."""

    protocol = "acme_chat"
    model = "acme-large"

    @override
    def register(self, url: str, name: str = "contract") -> None:
        syc.register_protocol("chat", "acme_chat", AcmeChat)
        syc.register_provider(name, base_url=url, auth="none", api="acme-chat")  # the alias works too

    @override
    def text(self, text: str, usage: U, finish: str = "stop") -> Reply:
        return Reply.json({"id": "a1", "text": text, "calls": [], "stop": _STOP[finish], "usage": _usage(usage)})

    @override
    def stream(self, pieces: list[str], usage: U, chunk_size: int | None = None) -> Reply:
        events: list[dict[str, Any]] = [{"type": "text", "delta": p} for p in pieces]
        return _sse([*events, {"type": "end", "stop": "done", "usage": _usage(usage)}], chunk_size)

    @override
    def tool_calls(self, calls: list[Call], usage: U) -> Reply:
        sent = [{"id": c.id, "name": c.name, "arguments": json.dumps(c.arguments)} for c in calls]
        return Reply.json({"id": "a2", "text": "", "calls": sent, "stop": "tools", "usage": _usage(usage)})

    @override
    def tool_calls_stream(self, calls: list[Call], usage: U, chunk_size: int | None = None) -> Reply:
        events: list[dict[str, Any]] = []
        for c in calls:
            args = json.dumps(c.arguments, ensure_ascii=False)
            events.append({"type": "call", "id": c.id, "name": c.name, "delta": ""})
            events += [{"type": "call", "id": c.id, "delta": args[i : i + 4]} for i in range(0, len(args), 4)]
        return _sse([*events, {"type": "end", "stop": "tools", "usage": _usage(usage)}], chunk_size)

    @override
    def error(self, status: int, message: str) -> Reply:
        return Reply.json({"error": {"message": message, "type": "acme_error"}}, status=status)

    @override
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for m in body["messages"]:
            role = "tool_result" if m["role"] == "tool" else m["role"]
            if m["content"] or role == "tool_result":
                out.append((role, m["content"]))
            out += [("tool_call", c["name"]) for c in m.get("calls", ())]
        return out

    @override
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        return [t["name"] for t in body.get("tools", ())]

    @override
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        schema: dict[str, Any] | None = body.get("response_schema")
        return schema

    @override
    def sent_images(self, body: dict[str, Any]) -> list[dict[str, str]] | None:
        images: list[dict[str, str]] = body["messages"][-1].get("images", [])
        return images

    @override
    def sent_tool_ids(self, body: dict[str, Any]) -> tuple[list[str], list[str]] | None:
        calls = [c["id"] for m in body["messages"] for c in m.get("calls", ())]
        return calls, [m["call_id"] for m in body["messages"] if m["role"] == "tool"]


class TestAcmeChat(ContractSuite):
    """Every contract check, as the built-in protocols run them."""

    dialect = AcmeDialect()


def test_the_package_follows_the_template_and_the_library_does_not_name_it() -> None:
    assert {p.name for p in PACKAGE.glob("*.py")} == {"__init__.py", "encode.py", "decode.py", "stream.py"}
    assert all(AcmeChat.name not in table for table in BUILTINS.values())
    library = Path(syc.__file__).resolve().parent
    assert not [p for p in library.rglob("*.py") if "acme_chat" in p.read_text(encoding="utf-8")]
    for path in PACKAGE.glob("*.py"):  # public namespaces only: sycophant_py and sycophant_py.wire
        imports = [
            line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("from sycophant_py")
        ]
        assert all(line.split()[1] in ("sycophant_py", "sycophant_py.wire") for line in imports), imports


def test_its_descriptor_is_read_once_registered() -> None:
    syc.register_protocol("chat", "acme_chat", AcmeChat)
    assert canonical_api("acme-chat") == "acme_chat"
    proto = get_protocol("chat", "acme_chat")
    assert (type(proto), proto.path, proto.param_schema().__name__) == (AcmeChat, "/chat", "AcmeParams")
    with ScriptedServer() as srv:
        syc.register_provider("acme", base_url=srv.url, auth="none", api="acme-chat")
        try:
            srv.add(Reply.json({"id": "a9", "text": "Hi!", "calls": [], "stop": "done", "usage": _usage(U(2, 1))}))
            resp = syc.generate_text("acme:acme-large", "Hello", safety_level=2)
            assert (resp.text, resp.finish_reason, resp.usage.total_tokens) == ("Hi!", "stop", 3)
            assert srv.requests[-1].path == "/chat"
            assert srv.requests[-1].json == {
                "model": "acme-large",
                "messages": [{"role": "user", "content": "Hello"}],
                "safety_level": 2,
            }
        finally:
            syc.unregister_provider("acme")


def test_run_contract_passes() -> None:
    report = run_contract(AcmeDialect())
    report.raise_for_failures()
    assert report.passed
