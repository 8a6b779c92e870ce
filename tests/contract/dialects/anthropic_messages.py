"""Contract dialect for ``anthropic_messages`` (SSE with named events; the base URL is the bare host).

Requests are validated with the official SDK's ``anthropic.types.MessageCreateParams`` through pydantic's
``TypeAdapter``. A TypedDict adapter ignores unknown keys, so every TypedDict of ``anthropic.types`` is given
``extra="forbid"`` first (test-process only): a misspelt or misplaced field anywhere in the body is then
refused too. The SDK (2.x) no longer declares the sampling params ``temperature``, ``top_p`` and ``top_k``,
which the API still accepts (pydantic-ai's ``test_anthropic_sampling_settings_reach_the_wire`` recording
got 200): they are checked here by type and left out of the SDK validation.
"""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
from typing import Any

from typing_extensions import override

from sycophant_py.testing import Reply
from tests.contract.dialect import Call, Dialect, U, split, two_pieces

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_use": "tool_use", "content_filter": "refusal"}
_SAMPLING: dict[str, tuple[type, ...]] = {"temperature": (int, float), "top_p": (int, float), "top_k": (int,)}


@functools.cache
def _adapter() -> Any:
    import anthropic.types
    from pydantic import ConfigDict, TypeAdapter
    from typing_extensions import is_typeddict

    strict = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    for info in pkgutil.walk_packages(anthropic.types.__path__, "anthropic.types."):
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, type) and is_typeddict(value) and value.__module__.startswith("anthropic."):
                value.__pydantic_config__ = strict  # type: ignore[attr-defined]
    from anthropic.types import MessageCreateParams

    return TypeAdapter(MessageCreateParams)


def validate_request(body: dict[str, Any]) -> None:
    """Raise when ``body`` is not a valid Messages request (per the official SDK's types, strictly)."""
    rest = dict(body)
    for key, types in _SAMPLING.items():
        if key in rest:
            value = rest.pop(key)
            assert isinstance(value, types), f"{key}={value!r}"
            assert not isinstance(value, bool), f"{key}={value!r}"
    _adapter().validate_python(rest)


def usage(u: U) -> dict[str, Any]:
    """A Messages ``usage`` object (input excludes cache reads and writes)."""
    return {
        "input_tokens": u.input,
        "output_tokens": u.output,
        "cache_read_input_tokens": u.cache_read,
        "cache_creation_input_tokens": u.cache_write,
    }


def sse(events: list[dict[str, Any]], chunk_size: int | None = None) -> Reply:
    """An Anthropic event stream (``event: <type>`` before each ``data:`` line)."""
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    return Reply(200, {"content-type": "text/event-stream; charset=utf-8"}, split(body, chunk_size))


class AnthropicDialect(Dialect):
    protocol = "anthropic_messages"
    model = "claude-contract-1"

    def _message(self, content: list[dict[str, Any]], u: U, stop: str, msg_id: str = "msg_01") -> dict[str, Any]:
        return {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage(u),
        }

    def _start(self, u: U, msg_id: str) -> dict[str, Any]:
        first = {**usage(u), "output_tokens": 1}  # message_start's placeholder output count
        return {
            "type": "message_start",
            "message": {**self._message([], u, "", msg_id), "stop_reason": None, "usage": first},
        }

    def _end(self, u: U, stop: str) -> list[dict[str, Any]]:
        # message_delta gives only the output count: the rest must be kept from message_start.
        return [
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": u.output},
            },
            {"type": "message_stop"},
        ]

    @override
    def text(self, text: str, usage: U, finish: str = "stop") -> Reply:
        return Reply.json(self._message([{"type": "text", "text": text}], usage, _STOP[finish]))

    @override
    def stream(self, pieces: list[str], usage: U, chunk_size: int | None = None) -> Reply:
        events = [
            self._start(usage, "msg_s1"),
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "ping"},
        ]
        events += [
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}} for p in pieces
        ]
        events += [{"type": "content_block_stop", "index": 0}, *self._end(usage, "end_turn")]
        return sse(events, chunk_size)

    @override
    def tool_calls(self, calls: list[Call], usage: U) -> Reply:
        content = [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in calls]
        return Reply.json(self._message(content, usage, "tool_use", "msg_02"))

    @override
    def tool_calls_stream(self, calls: list[Call], usage: U, chunk_size: int | None = None) -> Reply:
        events = [self._start(usage, "msg_s2")]
        for i, c in enumerate(calls):
            args = json.dumps(c.arguments, ensure_ascii=False)
            events.append(
                {
                    "type": "content_block_start",
                    "index": i,
                    "content_block": {"type": "tool_use", "id": c.id, "name": c.name, "input": {}},
                }
            )
            events.append(
                {"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": ""}}
            )
            events += [
                {
                    "type": "content_block_delta",
                    "index": i,
                    "delta": {"type": "input_json_delta", "partial_json": args[j : j + 5]},
                }
                for j in range(0, len(args), 5)
            ]
            events.append({"type": "content_block_stop", "index": i})
        return sse(events + self._end(usage, "tool_use"), chunk_size)

    def answer(self, thinking: str, signature: str, text: str, calls: list[Call], usage: U) -> Reply:
        """A signed ``thinking`` block, a text block and ``tool_use`` blocks."""
        content: list[dict[str, Any]] = [
            {"type": "thinking", "thinking": thinking, "signature": signature},
            {"type": "text", "text": text},
        ]
        content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in calls]
        return Reply.json(self._message(content, usage, "tool_use" if calls else "end_turn", "msg_03"))

    @override
    def sent_tool_ids(self, body: dict[str, Any]) -> tuple[list[str], list[str]]:
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        calls = [b["id"] for b in blocks if b["type"] == "tool_use"]
        return calls, [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]

    @override
    def error(self, status: int, message: str) -> Reply:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        return Reply.json(
            {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_contract"}, status=status
        )

    @override
    def overflow(self, limit: int, requested: int) -> Reply:
        return self.error(400, f"prompt is too long: {requested} tokens > {limit} maximum")

    @override
    def overflow_stream(self, limit: int, requested: int) -> Reply | None:
        error = {
            "type": "invalid_request_error",
            "message": f"prompt is too long: {requested} tokens > {limit} maximum",
        }
        return sse([self._start(U(0, 0), "msg_of"), {"type": "error", "error": error}])

    @override
    def sent_images(self, body: dict[str, Any]) -> list[dict[str, str]] | None:
        content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        out: list[dict[str, str]] = []
        for block in content if isinstance(content, list) else ():
            source = block.get("source", {}) if block["type"] == "image" else None
            if source is not None:
                url = source.get("url")
                out.append({"url": url} if url else {"data": source["data"], "media_type": source["media_type"]})
        return out

    @override
    def quirk(self, name: str, text: str, usage: U) -> Reply | None:
        if name != "no_end_marker":
            return None
        # message_delta carried the stop reason; a proxy dropped the final message_stop.
        reply = self.stream(two_pieces(text), usage)
        body = b"".join(reply.chunks)
        return Reply(200, reply.headers, [body[: body.rindex(b"event: message_stop")]])

    @override
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        system = body.get("system")
        if system:
            out.append(("system", system if isinstance(system, str) else "".join(b["text"] for b in system)))
        for m in body["messages"]:
            content = m["content"]
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            text = "".join(b["text"] for b in blocks if b["type"] == "text")
            for b in blocks:
                if b["type"] == "tool_result":
                    result = b.get("content", "")
                    out.append(
                        (
                            "tool_result",
                            result if isinstance(result, str) else "".join(x.get("text", "") for x in result),
                        )
                    )
            if text:
                out.append((m["role"], text))
            out.extend(("tool_call", b["name"]) for b in blocks if b["type"] == "tool_use")
        return out

    @override
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        return [t["name"] for t in body.get("tools", ())]

    @override
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        choice = body.get("tool_choice") or {}
        if choice.get("type") != "tool":
            return None
        forced = [t for t in body.get("tools", ()) if t["name"] == choice["name"]]
        return forced[0]["input_schema"] if forced else None

    @override
    def validate(self, body: dict[str, Any]) -> None:
        validate_request(body)


DIALECT = AnthropicDialect()
