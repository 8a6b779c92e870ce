"""Contract dialect for ``openai_chat``."""

from __future__ import annotations

import json
from typing import Any

from typing_extensions import override

from sycophant_py.testing import Reply
from tests.contract.dialect import Call, Dialect, U, image_ref, split, two_pieces
from tests.spec_validation import validate_openai_chat_request

_FINISH = {"stop": "stop", "length": "length", "tool_use": "tool_calls", "content_filter": "content_filter"}


def _usage(u: U) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input + u.cache_read,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.cache_read + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cache_read},
    }


def _sse(payloads: list[dict[str, Any]], chunk_size: int | None, done: bool = True) -> Reply:
    body = "".join(f"data: {json.dumps(p)}\n\n" for p in payloads) + ("data: [DONE]\n\n" if done else "")
    return Reply(200, {"content-type": "text/event-stream"}, split(body.encode(), chunk_size))


class OpenAIChatDialect(Dialect):
    protocol = "openai_chat"
    reports_cache = False  # chat completions has no cache-write count

    @override
    def provider(self, url: str) -> dict[str, Any]:
        return {"base_url": url + "/v1", "auth": "none", "api": self.protocol}

    @override
    def text(self, text: str, usage: U, finish: str = "stop") -> Reply:
        return Reply.json(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": self.model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": _FINISH[finish]}
                ],
                "usage": _usage(usage),
            }
        )

    def _chunks(self, pieces: list[str], usage: U) -> list[dict[str, Any]]:
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": self.model}
        payloads: list[dict[str, Any]] = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        ]
        payloads += [{**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
        payloads.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        payloads.append({**base, "choices": [], "usage": _usage(usage)})
        return payloads

    @override
    def stream(self, pieces: list[str], usage: U, chunk_size: int | None = None) -> Reply:
        return _sse(self._chunks(pieces, usage), chunk_size)

    @override
    def tool_calls(self, calls: list[Call], usage: U) -> Reply:
        tcs = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in calls
        ]
        return Reply.json(
            {
                "id": "chatcmpl-2",
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None, "tool_calls": tcs},
                        "finish_reason": "tool_calls",
                    }
                ],
                "usage": _usage(usage),
            }
        )

    @override
    def tool_calls_stream(self, calls: list[Call], usage: U, chunk_size: int | None = None) -> Reply:
        base = {"id": "chatcmpl-2", "model": self.model}
        payloads: list[dict[str, Any]] = []
        for i, c in enumerate(calls):
            args = json.dumps(c.arguments)
            head = {"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}}
            payloads.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [head]}}]})
            for j in range(0, len(args), 5):
                frag = {"index": i, "function": {"arguments": args[j : j + 5]}}
                payloads.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [frag]}}]})
        payloads.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        payloads.append({**base, "choices": [], "usage": _usage(usage)})
        return _sse(payloads, chunk_size)

    def answer(self, thinking: str, signature: str, text: str, calls: list[Call], usage: U) -> Reply:
        """Reasoning (``reasoning_content``: chat has no signatures), text and tool calls in one answer."""
        tcs = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in calls
        ]
        message: dict[str, Any] = {"role": "assistant", "content": text, "reasoning_content": thinking}
        if tcs:
            message["tool_calls"] = tcs
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if tcs else "stop"}
        return Reply.json({"id": "chatcmpl-3", "model": self.model, "choices": [choice], "usage": _usage(usage)})

    @override
    def sent_tool_ids(self, body: dict[str, Any]) -> tuple[list[str], list[str]]:
        calls = [tc["id"] for m in body["messages"] for tc in m.get("tool_calls") or ()]
        results = [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
        return calls, results

    @override
    def error(self, status: int, message: str) -> Reply:
        return Reply.json({"error": {"message": message, "type": "invalid_request_error", "code": None}}, status=status)

    @override
    def overflow(self, limit: int, requested: int) -> Reply:
        # OpenAI's own wording and code (https://platform.openai.com/docs/guides/error-codes).
        message = (
            f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
            f"{requested} tokens. Please reduce the length of the messages."
        )
        error = {
            "message": message,
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
        return Reply.json({"error": error}, status=400)

    @override
    def overflow_stream(self, limit: int, requested: int) -> Reply | None:
        # OpenRouter reports an upstream failure after the stream started as a chunk with an ``error``.
        first = self._chunks([], U(0, 0))[0]
        message = (
            f"This endpoint's maximum context length is {limit} tokens. However, you requested about "
            f"{requested} tokens (1400 of text input, 100 in the output). Please reduce the length."
        )
        return _sse([first, {"error": {"code": 400, "message": message}}], None, done=False)

    @override
    def sent_images(self, body: dict[str, Any]) -> list[dict[str, str]] | None:
        content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        return [image_ref(p["image_url"]["url"]) for p in content if p.get("type") == "image_url"]

    @override
    def quirk(self, name: str, text: str, usage: U) -> Reply | None:
        if name == "no_end_marker":  # vLLM and others close the stream without [DONE]
            return _sse(self._chunks(two_pieces(text), usage), None, done=False)
        if name not in ("audio_tokens", "cached_over_prompt"):
            return None
        body = json.loads(b"".join(self.text(text, usage).chunks))
        if name == "audio_tokens":  # Mistral's voxtral: audio input outside prompt_tokens, inside total_tokens
            body["usage"] = {
                "prompt_tokens": usage.input - 4,
                "completion_tokens": usage.output,
                "total_tokens": usage.input + usage.output,
                "prompt_tokens_details": {"audio_tokens": 4, "cached_tokens": 0},
            }
        else:  # Azure AI Foundry: cached tokens reported beside prompt_tokens, not inside
            body["usage"] = {
                "prompt_tokens": usage.input,
                "completion_tokens": usage.output,
                "total_tokens": usage.input + usage.output,
                "prompt_tokens_details": {"cached_tokens": usage.cache_read},
            }
        return Reply.json(body)

    @override
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for m in body["messages"]:
            role = m["role"]
            content = m.get("content")
            text = (
                content
                if isinstance(content, str)
                else "".join(p.get("text", "") for p in content or () if isinstance(p, dict))
            )
            if role in ("system", "developer"):
                out.append(("system", text))
            elif role == "tool":
                out.append(("tool_result", text))
            else:
                if text:
                    out.append((role, text))
                out.extend(("tool_call", tc["function"]["name"]) for tc in m.get("tool_calls") or ())
        return out

    @override
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        return [t["function"]["name"] for t in body.get("tools", ())]

    @override
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        rf = body.get("response_format")
        return rf["json_schema"]["schema"] if rf and rf.get("type") == "json_schema" else None

    @override
    def validate(self, body: dict[str, Any]) -> None:
        validate_openai_chat_request(body)


DIALECT = OpenAIChatDialect()
