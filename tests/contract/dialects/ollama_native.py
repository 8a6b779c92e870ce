"""Contract dialect for ``ollama_native`` (NDJSON streams)."""

from __future__ import annotations

import json
from typing import Any

from typing_extensions import override

from sycophant_py.testing import Reply
from tests.contract.dialect import Call, Dialect, U, split
from tests.spec_validation import validate_ollama_chat_request

_DONE = {"stop": "stop", "length": "length", "tool_use": "stop", "content_filter": "stop"}


def _ndjson(lines: list[dict[str, Any]], chunk_size: int | None) -> Reply:
    body = "".join(json.dumps(x) + "\n" for x in lines).encode()
    return Reply(200, {"content-type": "application/x-ndjson"}, split(body, chunk_size))


class OllamaDialect(Dialect):
    protocol = "ollama_native"
    reports_cache = False

    def _final(self, u: U, reason: str = "stop", message: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "model": self.model,
            "created_at": "2026-01-01T00:00:00Z",
            "message": message or {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": reason,
            "prompt_eval_count": u.input,
            "eval_count": u.output,
        }

    @override
    def text(self, text: str, usage: U, finish: str = "stop") -> Reply:
        return Reply.json(self._final(usage, _DONE[finish], {"role": "assistant", "content": text}))

    @override
    def stream(self, pieces: list[str], usage: U, chunk_size: int | None = None) -> Reply:
        lines = [{"model": self.model, "message": {"role": "assistant", "content": p}, "done": False} for p in pieces]
        return _ndjson([*lines, self._final(usage)], chunk_size)

    def _calls(self, calls: list[Call]) -> list[dict[str, Any]]:
        return [{"function": {"name": c.name, "arguments": c.arguments}} for c in calls]

    @override
    def tool_calls(self, calls: list[Call], usage: U) -> Reply:
        msg = {"role": "assistant", "content": "", "tool_calls": self._calls(calls)}
        return Reply.json(self._final(usage, "stop", msg))

    @override
    def tool_calls_stream(self, calls: list[Call], usage: U, chunk_size: int | None = None) -> Reply:
        line = {
            "model": self.model,
            "message": {"role": "assistant", "content": "", "tool_calls": self._calls(calls)},
            "done": False,
        }
        return _ndjson([line, self._final(usage)], chunk_size)

    def answer(self, thinking: str, signature: str, text: str, calls: list[Call], usage: U) -> Reply:
        """``thinking`` next to ``content`` (no signatures) and tool calls without ids."""
        msg: dict[str, Any] = {"role": "assistant", "content": text, "thinking": thinking}
        if calls:
            msg["tool_calls"] = self._calls(calls)
        return Reply.json(self._final(usage, "stop", msg))

    @override
    def error(self, status: int, message: str) -> Reply:
        return Reply.json({"error": message}, status=status)

    overflow_reports_sizes = False  # Ollama's wording gives no numbers
    image_urls = False  # base64 images only

    @override
    def overflow(self, limit: int, requested: int) -> Reply:
        return self.error(400, "the input length exceeds the context length")

    @override
    def overflow_stream(self, limit: int, requested: int) -> Reply | None:
        first = {"model": self.model, "message": {"role": "assistant", "content": ""}, "done": False}
        return _ndjson([first, {"error": "the input length exceeds the context length"}], None)

    @override
    def sent_images(self, body: dict[str, Any]) -> list[dict[str, str]] | None:
        user = [m for m in body["messages"] if m["role"] == "user"][-1]
        return [{"data": image} for image in user.get("images", ())]

    @override
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for m in body["messages"]:
            role = m["role"]
            if role == "tool":
                out.append(("tool_result", m.get("content", "")))
                continue
            if m.get("content"):
                out.append((role, m["content"]))
            out.extend(("tool_call", tc["function"]["name"]) for tc in m.get("tool_calls") or ())
        return out

    @override
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        return [t["function"]["name"] for t in body.get("tools", ())]

    @override
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        fmt = body.get("format")
        return fmt if isinstance(fmt, dict) else None

    @override
    def validate(self, body: dict[str, Any]) -> None:
        validate_ollama_chat_request(body)


DIALECT = OllamaDialect()
