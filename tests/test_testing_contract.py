"""The shipped contract suite (``sycophant_py.testing.contract``) on things users write themselves.

"Acme" is an API with its own JSON shape (``POST /generate``, newline-delimited JSON when
streaming). Two clients of it run the full contract, exactly as the built-in protocols do:

- the ``stream=`` function of ``docs/providers.md`` (executed from the docs page itself);
- :class:`AcmeProtocol`, a custom ``WireProtocol`` registered with ``register_protocol``.

The dialects below render Acme's replies and read back (and validate) what was sent.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typing_extensions import override

import sycophant_py as syc
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.testing.contract import (
    CHECKS,
    ContractSuite,
    Dialect,
    ScriptedCall,
    ScriptedUsage,
    contract_provider,
    run_contract,
    split,
)
from sycophant_py.wire import (
    Request,
    StreamAccumulator,
    StreamContinue,
    StreamDone,
    StreamFailed,
    StreamResult,
    WireProtocol,
    prepare_history,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "providers.md"
FINISH_OUT = {"stop": "complete", "length": "max_output", "tool_use": "tool_calls", "content_filter": "filtered"}
FINISH_IN = {v: k for k, v in FINISH_OUT.items()}

# Acme's request body, closed: anything the clients send beyond this is a bug in them.
ACME_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["model", "input"],
    "additionalProperties": False,
    "properties": {
        "model": {"type": "string"},
        "stream": {"type": "boolean"},
        "input": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["role", "text"],
                "additionalProperties": False,
                "properties": {
                    "role": {"enum": ["system", "user", "assistant", "tool"]},
                    "text": {"type": "string"},
                    "call_id": {"type": "string"},
                    "calls": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "tool", "args"],
                            "additionalProperties": False,
                            "properties": {
                                "id": {"type": "string"},
                                "tool": {"type": "string"},
                                "args": {"type": "object"},
                            },
                        },
                    },
                },
            },
        },
        "tools": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "input_schema"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "input_schema": {"type": "object"},
                },
            },
        },
        "output_schema": {"type": "object"},
        "config": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"temperature": {"type": "number"}, "max_output": {"type": "integer"}},
        },
    },
}


@functools.cache
def docs_example() -> dict[str, Any]:
    """Run the Acme example of docs/providers.md; its module namespace."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- example: acme[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/providers.md lost its Acme example"
    namespace: dict[str, Any] = {"__name__": "docs_providers_acme"}
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)  # our own documentation
    return namespace


def tokens(u: ScriptedUsage) -> dict[str, int]:
    """Acme's usage: the prompt count includes cached tokens."""
    return {
        "prompt": u.input + u.cache_read + u.cache_write,
        "completion": u.output,
        "cache_hit": u.cache_read,
        "cache_new": u.cache_write,
    }


def ndjson(lines: list[dict[str, Any]], chunk_size: int | None = None) -> Reply:
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    return Reply(200, {"content-type": "application/x-ndjson"}, split(body, chunk_size))


class AcmeStreamDialect(Dialect):
    """Acme as seen by the docs' ``stream_acme`` function (it always streams)."""

    protocol = "acme-generate"
    model = "acme-1"

    @override
    def register(self, url: str, name: str = "contract") -> None:
        stream_acme = docs_example()["stream_acme"]
        syc.register_provider(name, base_url=url + "/v1", auth="none", api=self.protocol, stream=stream_acme)

    @override
    def text(self, text: str, usage: ScriptedUsage, finish: str = "stop") -> Reply:
        return ndjson([{"delta": text}, {"finish": FINISH_OUT[finish], "tokens": tokens(usage)}])

    @override
    def stream(self, pieces: list[str], usage: ScriptedUsage, chunk_size: int | None = None) -> Reply:
        lines = [{"delta": p} for p in pieces] + [{"finish": "complete", "tokens": tokens(usage)}]
        return ndjson(lines, chunk_size)

    @override
    def tool_calls(self, calls: list[ScriptedCall], usage: ScriptedUsage) -> Reply:
        lines: list[dict[str, Any]] = [
            {"call": {"id": c.id, "tool": c.name, "args": json.dumps(c.arguments)}} for c in calls
        ]
        return ndjson([*lines, {"finish": "tool_calls", "tokens": tokens(usage)}])

    @override
    def tool_calls_stream(
        self, calls: list[ScriptedCall], usage: ScriptedUsage, chunk_size: int | None = None
    ) -> Reply:
        lines: list[dict[str, Any]] = []
        for c in calls:
            args = json.dumps(c.arguments, ensure_ascii=False)
            lines.append({"call": {"id": c.id, "tool": c.name, "args": ""}})
            lines += [{"call": {"id": c.id, "args": args[i : i + 5]}} for i in range(0, len(args), 5)]
        return ndjson([*lines, {"finish": "tool_calls", "tokens": tokens(usage)}], chunk_size)

    @override
    def error(self, status: int, message: str) -> Reply:
        return Reply.json({"error": {"message": message, "code": status}}, status=status)

    @override
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for item in body["input"]:
            if item["role"] == "tool":
                out.append(("tool_result", item["text"]))
                continue
            if item["text"]:
                out.append((item["role"], item["text"]))
            out.extend(("tool_call", c["tool"]) for c in item.get("calls", ()))
        return out

    @override
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        return [t["name"] for t in body.get("tools", ())]

    @override
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        schema: dict[str, Any] | None = body.get("output_schema")
        return schema

    @override
    def validate(self, body: dict[str, Any]) -> None:
        jsonschema.validate(body, ACME_REQUEST)


# -- a custom wire protocol for the same API ----------------------------------------------------


def acme_usage(t: Mapping[str, int]) -> syc.Usage:
    cached, written = t.get("cache_hit", 0), t.get("cache_new", 0)
    return syc.Usage(t["prompt"] - cached - written, t["completion"], cached, written)


class AcmeProtocol(WireProtocol):
    """Acme through the pipeline: the library does the HTTP, this class only translates."""

    name = "acme_protocol"
    stream_transport = "ndjson"

    @override
    def request_path(self, request: Request) -> str:
        return "/generate"

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        acme_input = docs_example()["acme_input"]  # the message mapping is the same as the function's
        config = {"temperature": request.params.get("temperature"), "max_output": request.params.get("max_tokens")}
        body: dict[str, Any] = {
            "model": request.model.id,
            "stream": request.stream,
            # The conversation as this API may take it (ids, other providers' thinking, failed turns).
            "input": [acme_input(m) for m in prepare_history(request, self.handoff_rules(request.model))],
            "config": {k: v for k, v in config.items() if v is not None},
        }
        if request.tools:
            body["tools"] = self.encode_tools(request.tools)
        if request.response_schema is not None:
            body.update(self.encode_response_schema(request.response_schema))
        return body

    @override
    def encode_tools(self, tools: Sequence[syc.Tool]) -> list[dict[str, Any]]:
        return [{"name": t.name, "description": t.description, "input_schema": t.json_schema()} for t in tools]

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        return {"output_schema": dict(schema)}

    @override
    def decode_response(self, body: Any) -> syc.Response:
        calls = [syc.ToolCall.from_json(c["id"], c["tool"], json.dumps(c["args"])) for c in body.get("calls", ())]
        parts: list[Any] = [syc.TextPart(body["text"])] if body["text"] else []
        return syc.Response(
            text=body["text"],
            finish_reason=FINISH_IN[body["finish"]],  # type: ignore[arg-type]
            usage=acme_usage(body["tokens"]),
            tool_calls=calls,
            parts=[*parts, *calls],
            raw=body,
        )

    @override
    def init_stream(self) -> StreamAccumulator:
        return StreamAccumulator()

    @override
    def decode_stream_chunk(self, state: Any, event: Any) -> StreamResult:
        acc: StreamAccumulator = state
        chunk = json.loads(event)
        if "delta" in chunk:
            acc.text(chunk["delta"])
        elif "call" in chunk:
            call = chunk["call"]
            acc.tool_call(("call", call["id"]), id=call["id"], name=call.get("tool"), arguments=call.get("args", ""))
        elif "failure" in chunk:
            err = syc.StreamError(chunk["failure"]["message"])
            acc.fail(err)
            return StreamFailed(err, acc.drain())
        elif "finish" in chunk:
            acc.usage = acme_usage(chunk["tokens"])
            return StreamDone(acc.finish(FINISH_IN[chunk["finish"]]), acc.drain())  # type: ignore[arg-type]
        return StreamContinue(acc, acc.drain())


class AcmeProtocolDialect(AcmeStreamDialect):
    """Acme as seen by :class:`AcmeProtocol`: non-streaming calls get one JSON body."""

    protocol = "acme_protocol"

    @override
    def register(self, url: str, name: str = "contract") -> None:
        syc.register_protocol("chat", self.protocol, AcmeProtocol)
        syc.register_provider(name, base_url=url + "/v1", auth="none", api=self.protocol)

    @override
    def text(self, text: str, usage: ScriptedUsage, finish: str = "stop") -> Reply:
        return Reply.json({"text": text, "finish": FINISH_OUT[finish], "tokens": tokens(usage)})

    @override
    def tool_calls(self, calls: list[ScriptedCall], usage: ScriptedUsage) -> Reply:
        body = {
            "text": "",
            "calls": [{"id": c.id, "tool": c.name, "args": c.arguments} for c in calls],
            "finish": "tool_calls",
            "tokens": tokens(usage),
        }
        return Reply.json(body)


# -- the suite, through pytest -----------------------------------------------------------------


class TestAcmeStreamFunction(ContractSuite):
    dialect = AcmeStreamDialect()


class TestAcmeProtocol(ContractSuite):
    dialect = AcmeProtocolDialect()


# -- the suite, without pytest's collection ---------------------------------------------------


def test_run_contract_passes_on_both() -> None:
    for dialect in (AcmeStreamDialect(), AcmeProtocolDialect()):
        report = run_contract(dialect)
        report.raise_for_failures()
        assert report.passed
        assert len(report.results) == sum(len(cases) for _, _, cases in CHECKS) == 29


class NoUsageDialect(AcmeStreamDialect):
    """A broken client: its replies drop the cache counts, so usage checks fail."""

    @override
    def text(self, text: str, usage: ScriptedUsage, finish: str = "stop") -> Reply:
        return super().text(
            text, ScriptedUsage(usage.input + usage.cache_read + usage.cache_write, usage.output), finish
        )


def test_run_contract_reports_failures() -> None:
    report = run_contract(NoUsageDialect(), only=["text", "length_finish"])
    assert [(r.name, r.passed) for r in report.results] == [("text", False), ("length_finish", True)]
    with pytest.raises(AssertionError, match=r"1 contract check\(s\) failed:\ntext: AssertionError"):
        report.raise_for_failures()


def test_contract_provider_cleans_up() -> None:
    from sycophant_py import _catalog

    with contract_provider(AcmeStreamDialect()) as srv:
        assert isinstance(srv, ScriptedServer)
        assert syc.get_model("contract:acme-1").api == "acme-generate"
    assert "contract" not in _catalog.REGISTERED


class LegacyDialect(AcmeProtocolDialect):
    """A dialect with only ``provider()`` (the interface before ``register``) still works."""

    register = None  # type: ignore[assignment]

    @override
    def provider(self, url: str) -> dict[str, Any]:
        syc.register_protocol("chat", self.protocol, AcmeProtocol)
        return {"base_url": url + "/v1", "auth": "none", "api": self.protocol}


def test_dialect_with_only_provider() -> None:
    run_contract(LegacyDialect(), only=["text", "stream_text"]).raise_for_failures()
