"""Contract dialect for ``openai_responses`` (SSE streams with named events)."""

from __future__ import annotations

import json
from typing import Any

from typing_extensions import override

from sycophant_py.testing import Reply
from tests.contract.dialect import Call, Dialect, U, image_ref, split, two_pieces
from tests.spec_validation import openai_validator, schema_errors, validate_openai_responses_request

KNOWN_FALSE_REJECTIONS = {
    "ambiguous-input-message": (
        "an input message with a list of input parts (no item id) is valid under both EasyInputMessage and "
        "InputMessage, and the spec's InputItem is a oneOf, so jsonschema rejects it; the API accepts it (18 "
        "recorded pydantic-ai requests with such user messages were answered 200)"
    ),
}
"""Where the OpenAI spec validator refuses bodies the API accepts: the only exceptions ``validate_request`` allows."""


_ENUM_KEYS = frozenset(
    {
        "type",
        "role",
        "status",
        "detail",
        "effort",
        "summary",
        "verbosity",
        "context",
        "truncation",
        "service_tier",
        "prompt_cache_retention",
        "tool_choice",
        "include",
        "mode",
    }
)
_FREE_FORM = frozenset({"parameters", "schema"})  # JSON Schemas: objects with any properties


def _shape(node: Any, key: str | None = None) -> Any:
    """What the spec can tell apart, for memoising: enum-like fields as they are, other strings as a
    placeholder of their length class (the spec's ``maxLength`` limits are 64, 128 and 512), embedded JSON
    Schemas as ``{}``, and list items once per shape."""
    if key in _FREE_FORM and isinstance(node, dict):
        return {}
    if isinstance(node, dict):
        return {k: _shape(v, k) for k, v in node.items()}
    if isinstance(node, list):
        seen: dict[str, Any] = {}
        for item in node:
            shaped = _shape(item, key)
            seen.setdefault(json.dumps(shaped, sort_keys=True), shaped)
        return list(seen.values())
    if isinstance(node, str) and key not in _ENUM_KEYS:
        return _length_class(node)
    return node


_LENGTH_CLASSES = ((0, 0), (64, 1), (128, 65), (512, 129))
"""(longest length of the class, length of its stand-in): classes split at the spec's length limits."""


def _length_class(text: str) -> str:
    """A stand-in on the same side of every ``minLength`` / ``maxLength`` of the spec as ``text``."""
    return "s" * next((stand_in for limit, stand_in in _LENGTH_CLASSES if len(text) <= limit), 513)


_VALIDATED: dict[str, list[str]] = {}


def validate_request(body: dict[str, Any]) -> list[str]:
    """Validate a Responses request body against the spec, allowing only :data:`KNOWN_FALSE_REJECTIONS`.

    Returns the known false rejections that applied (one name per affected input item shape); raises
    ``AssertionError`` for any other problem. Results are memoised per body shape (see ``_shape``):
    the spec validator takes ~50 ms a body.
    """
    shaped = _shape(body)
    key = json.dumps(shaped, sort_keys=True)
    if key not in _VALIDATED:
        _VALIDATED[key] = _validate(shaped)
    return list(_VALIDATED[key])


def _validate(body: dict[str, Any]) -> list[str]:
    if not schema_errors(openai_validator("CreateResponse"), body):
        return []
    items = body.get("input")
    if not isinstance(items, list):
        validate_openai_responses_request(body)
    validate_openai_responses_request({**body, "input": "x"})  # every field but the input items
    applied: list[str] = []
    for index, item in enumerate(items or ()):
        errors = list(openai_validator("InputItem").iter_errors(item))
        if not errors:
            continue
        problems = schema_errors(openai_validator("InputItem"), item)
        ambiguous = (
            len(errors) == 1 and errors[0].validator == "oneOf" and "is valid under each of" in errors[0].message
        )
        if ambiguous and not schema_errors(openai_validator("EasyInputMessage"), item):
            applied.append("ambiguous-input-message")
            continue
        raise AssertionError(f"OpenAI Responses request input[{index}] does not match the spec: {problems}")
    return applied


def _usage(u: U) -> dict[str, Any]:
    prompt = u.input + u.cache_read + u.cache_write
    return {
        "input_tokens": prompt,
        "output_tokens": u.output,
        "total_tokens": prompt + u.output,
        "input_tokens_details": {"cached_tokens": u.cache_read, "cache_write_tokens": u.cache_write},
        "output_tokens_details": {"reasoning_tokens": 0},
    }


def _message(text: str, item_id: str = "msg_1") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def _function_call(c: Call, index: int) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{index}",
        "call_id": c.id,
        "name": c.name,
        "arguments": json.dumps(c.arguments),
        "status": "completed",
    }


def _sse(events: list[dict[str, Any]], chunk_size: int | None) -> Reply:
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    return Reply(200, {"content-type": "text/event-stream"}, split(body, chunk_size))


_OVERFLOW = "Your input exceeds the context window of this model. Please adjust your input and try again."


class OpenAIResponsesDialect(Dialect):
    protocol = "openai_responses"
    reports_cache = True  # input_tokens_details carries cached_tokens and cache_write_tokens
    overflow_reports_sizes = False  # the Responses API's overflow message gives no numbers

    @override
    def provider(self, url: str) -> dict[str, Any]:
        return {"base_url": url + "/v1", "auth": "none", "api": self.protocol}

    def _response(
        self, output: list[dict[str, Any]], usage: U | None, status: str = "completed", incomplete: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": "resp_1",
            "object": "response",
            "created_at": 1,
            "model": self.model,
            "status": status,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "error": None,
            "output": output,
            "usage": _usage(usage) if usage else None,
        }

    @override
    def text(self, text: str, usage: U, finish: str = "stop") -> Reply:
        if finish == "stop":
            return Reply.json(self._response([_message(text)], usage))
        reason = "content_filter" if finish == "content_filter" else "max_output_tokens"
        return Reply.json(self._response([_message(text)], usage, "incomplete", reason))

    def _stream_events(self, items: list[tuple[dict[str, Any], list[str]]], usage: U) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": self._response([], None, "in_progress")}
        ]
        for index, (item, pieces) in enumerate(items):
            empty: dict[str, Any] = {"arguments": ""} if item["type"] == "function_call" else {"content": []}
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {**item, **empty, "status": "in_progress"},
                }
            )
            for piece in pieces:
                kind = "output_text" if item["type"] == "message" else "function_call_arguments"
                events.append(
                    {
                        "type": f"response.{kind}.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "delta": piece,
                    }
                )
            events.append({"type": "response.output_item.done", "output_index": index, "item": item})
        events.append({"type": "response.completed", "response": self._response([i for i, _ in items], usage)})
        return events

    @override
    def stream(self, pieces: list[str], usage: U, chunk_size: int | None = None) -> Reply:
        return _sse(self._stream_events([(_message("".join(pieces)), pieces)], usage), chunk_size)

    @override
    def tool_calls(self, calls: list[Call], usage: U) -> Reply:
        return Reply.json(self._response([_function_call(c, i) for i, c in enumerate(calls)], usage))

    @override
    def tool_calls_stream(self, calls: list[Call], usage: U, chunk_size: int | None = None) -> Reply:
        items = []
        for i, c in enumerate(calls):
            args = json.dumps(c.arguments)
            items.append((_function_call(c, i), [args[j : j + 5] for j in range(0, len(args), 5)]))
        return _sse(self._stream_events(items, usage), chunk_size)

    def answer(self, thinking: str, signature: str, text: str, calls: list[Call], usage: U) -> Reply:
        """A reasoning item (summary + ``encrypted_content``), a message and function calls."""
        reasoning = {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": thinking}],
            "encrypted_content": signature,
        }
        output = [reasoning, _message(text, "msg_2"), *(_function_call(c, i) for i, c in enumerate(calls))]
        return Reply.json(self._response(output, usage))

    @override
    def sent_tool_ids(self, body: dict[str, Any]) -> tuple[list[str], list[str]]:
        calls = [i["call_id"] for i in body["input"] if i.get("type") == "function_call"]
        return calls, [i["call_id"] for i in body["input"] if i.get("type") == "function_call_output"]

    @override
    def error(self, status: int, message: str) -> Reply:
        return Reply.json(
            {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}, status=status
        )

    @override
    def overflow(self, limit: int, requested: int) -> Reply:
        error = {
            "message": _OVERFLOW,
            "type": "invalid_request_error",
            "param": "input",
            "code": "context_length_exceeded",
        }
        return Reply.json({"error": error}, status=400)

    @override
    def overflow_stream(self, limit: int, requested: int) -> Reply | None:
        created = {"type": "response.created", "response": self._response([], None, "in_progress")}
        error = {"type": "error", "code": "context_length_exceeded", "message": _OVERFLOW, "param": None}
        return _sse([created, error], None)

    @override
    def sent_images(self, body: dict[str, Any]) -> list[dict[str, str]] | None:
        user = [i for i in body["input"] if i.get("role") == "user"][-1]
        return [image_ref(p["image_url"]) for p in user["content"] if p.get("type") == "input_image"]

    @override
    def quirk(self, name: str, text: str, usage: U) -> Reply | None:
        if name == "cached_over_prompt":  # a compatible server reporting cached tokens beside input_tokens
            body = self._response([_message(text)], None)
            body["usage"] = {
                "input_tokens": usage.input,
                "output_tokens": usage.output,
                "total_tokens": usage.input + usage.output,
                "input_tokens_details": {"cached_tokens": usage.cache_read},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
            return Reply.json(body)
        if name != "content_index":
            return None
        # content_index names the part (here 1, after an empty refusal slot), never a list position.
        events = self._stream_events([(_message(text), two_pieces(text))], usage)
        for e in events:
            if "content_index" in e:
                e["content_index"] = 1
        at = next(i for i, e in enumerate(events) if e["type"] == "response.output_item.added") + 1
        part = {"type": "output_text", "text": "", "annotations": []}
        events.insert(
            at,
            {
                "type": "response.content_part.added",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 1,
                "part": part,
            },
        )
        return _sse(events, None)

    @override
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if body.get("instructions"):
            out.append(("system", body["instructions"]))
        for item in body["input"]:
            kind = item.get("type", "message")
            if kind == "function_call":
                out.append(("tool_call", item["name"]))
            elif kind == "function_call_output":
                output = item["output"]
                out.append(("tool_result", output if isinstance(output, str) else json.dumps(output)))
            elif kind == "message":
                content = item["content"]
                text = (
                    content
                    if isinstance(content, str)
                    else "".join(p.get("text", "") for p in content if isinstance(p, dict))
                )
                role = "system" if item["role"] == "developer" else item["role"]
                out.append((role, text))
        return out

    @override
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        return [t["name"] for t in body.get("tools", ())]

    @override
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        fmt = (body.get("text") or {}).get("format") or {}
        return fmt.get("schema") if fmt.get("type") == "json_schema" else None

    @override
    def validate(self, body: dict[str, Any]) -> None:
        validate_request(body)


DIALECT = OpenAIResponsesDialect()
