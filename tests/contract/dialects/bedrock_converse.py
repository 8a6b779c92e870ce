"""Contract dialect for ``bedrock_converse`` (AWS binary event-stream replies; SigV4-signed requests).

Streamed replies are real ``application/vnd.amazon.eventstream`` bodies framed here by
:func:`frame`, an encoder written independently of the library's (``struct`` + ``zlib.crc32``).
The provider row points at the scripted server's root with ``auth_strategy: bedrock`` and access
keys plus a session token in the config layer, so every request of the suite goes through the SigV4
signer.

Request bodies are validated with botocore's ``ParamValidator`` against the ``ConverseRequest`` shape
of the shared ``service-2.json`` (the same file botocore 1.44.5 ships): blob members (image, document
and redacted-reasoning bytes) are base64 strings in the JSON wire format and are decoded to bytes
first, and ``modelId``, which travels in the URL, is added. The validator checks types, required
members, unions and lengths, not enums or patterns. :data:`KNOWN_FALSE_REJECTIONS` lists the
validator's known false rejections (there are none for bodies the library encodes).
"""

from __future__ import annotations

import base64
import functools
import json
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from typing_extensions import override

import sycophant_py as syc
from sycophant_py.testing import Reply
from tests.contract.dialect import Call, Dialect, U, split, two_pieces

SERVICE_JSON = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs" / "bedrock-runtime" / "service-2.json"
CREDENTIALS = {
    "access_key_id": "AKIDCONTRACTEXAMPLE",
    "secret_access_key": "contract/secret+key/EXAMPLE",
    "session_token": "contract-session-token",
    "region": "us-west-2",
}
"""The credentials every contract request is signed with."""
KNOWN_FALSE_REJECTIONS: dict[str, str] = {}
"""Body shapes the library sends on purpose that ``ParamValidator`` refuses (``path: why``): none so far.

``ParamValidator`` does not check enums or patterns, so it never refuses a valid value for those
reasons; a Document member (tool ``input``, ``inputSchema.json``, ``additionalModelRequestFields``)
accepts any JSON value. Recorded third-party request bodies it refuses are listed in the replay tests.
"""

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_use": "tool_use", "content_filter": "content_filtered"}
_ERROR_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


# -- event-stream framing (independent of sycophant_py._eventstream) -------------------------


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def frame(event_type: str, payload: Mapping[str, Any], message_type: str = "event") -> bytes:
    """One event-stream message: ``:event-type`` (or ``:exception-type``), JSON payload, both CRCs."""
    kind = ":event-type" if message_type == "event" else ":exception-type"
    headers = (
        _header(kind, event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", message_type)
    )
    body = json.dumps(payload, ensure_ascii=False).encode()
    total = 16 + len(headers) + len(body)
    prelude = struct.pack(">II", total, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


def event_stream(events: list[tuple[str, dict[str, Any]]], chunk_size: int | None = None) -> Reply:
    """A ``converse-stream`` reply from ``(event type, payload)`` pairs, split every ``chunk_size`` bytes."""
    body = b"".join(frame(name, payload) for name, payload in events)
    return Reply(200, {"content-type": "application/vnd.amazon.eventstream"}, split(body, chunk_size))


def usage(u: U) -> dict[str, Any]:
    """A Converse ``usage`` object (``inputTokens`` excludes cache reads and writes)."""
    return {
        "inputTokens": u.input,
        "outputTokens": u.output,
        "cacheReadInputTokens": u.cache_read,
        "cacheWriteInputTokens": u.cache_write,
        "totalTokens": u.total,
    }


def _tail(u: U, stop: str) -> list[tuple[str, dict[str, Any]]]:
    # metadata (with the usage) comes after messageStop: the decoder must keep reading.
    return [("messageStop", {"stopReason": stop}), ("metadata", {"usage": usage(u), "metrics": {"latencyMs": 42}})]


# -- request validation with botocore ----------------------------------------------------------


@functools.cache
def _input_shape(operation: str) -> Any:
    from botocore.model import ServiceModel

    model = ServiceModel(json.loads(SERVICE_JSON.read_text(encoding="utf-8")), "bedrock-runtime")
    return model.operation_model(operation).input_shape


def decode_blobs(value: Any, shape: Any) -> Any:
    """A copy of ``value`` with every blob member (base64 text on the wire) decoded to bytes."""
    kind = shape.type_name
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value, validate=True)
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: decode_blobs(v, members[k]) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [decode_blobs(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: decode_blobs(v, shape.value) for k, v in value.items()}
    return value


def validation_errors(body: Mapping[str, Any], model_id: str = "contract-model", stream: bool = False) -> str:
    """The ``ParamValidator`` report for a Converse body ("" when it is valid)."""
    from botocore.validate import ParamValidator

    shape = _input_shape("ConverseStream" if stream else "Converse")
    params = decode_blobs({"modelId": model_id, **body}, shape)
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


def validate_request(body: Mapping[str, Any], model_id: str = "contract-model", stream: bool = False) -> None:
    """Raise ``AssertionError`` when ``body`` is not a valid ``ConverseRequest`` / ``ConverseStreamRequest``."""
    errors = validation_errors(body, model_id, stream)
    assert not errors, f"invalid Converse request: {errors}"


# -- the dialect -------------------------------------------------------------------------------


class BedrockConverseDialect(Dialect):
    protocol = "bedrock_converse"
    model = "anthropic.claude-contract-v1:0"

    @override
    def provider(self, url: str) -> dict[str, Any]:
        syc.configure(providers={"contract": dict(CREDENTIALS)})
        return {"base_url": url, "auth": "required", "api": self.protocol, "auth_strategy": "bedrock"}

    def _body(self, content: list[dict[str, Any]], u: U, stop: str) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": usage(u),
            "metrics": {"latencyMs": 42},
        }

    @override
    def text(self, text: str, usage: U, finish: str = "stop") -> Reply:
        return Reply.json(self._body([{"text": text}], usage, _STOP[finish]))

    @override
    def stream(self, pieces: list[str], usage: U, chunk_size: int | None = None) -> Reply:
        events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
        events += [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}}) for p in pieces]
        events += [("contentBlockStop", {"contentBlockIndex": 0}), *_tail(usage, "end_turn")]
        return event_stream(events, chunk_size)

    @override
    def tool_calls(self, calls: list[Call], usage: U) -> Reply:
        content = [{"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}} for c in calls]
        return Reply.json(self._body(content, usage, "tool_use"))

    @override
    def tool_calls_stream(self, calls: list[Call], usage: U, chunk_size: int | None = None) -> Reply:
        events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
        for i, c in enumerate(calls):
            args = json.dumps(c.arguments, ensure_ascii=False)
            events.append(
                (
                    "contentBlockStart",
                    {"contentBlockIndex": i, "start": {"toolUse": {"toolUseId": c.id, "name": c.name}}},
                )
            )
            events += [
                ("contentBlockDelta", {"contentBlockIndex": i, "delta": {"toolUse": {"input": args[j : j + 5]}}})
                for j in range(0, len(args), 5)
            ]
            events.append(("contentBlockStop", {"contentBlockIndex": i}))
        return event_stream(events + _tail(usage, "tool_use"), chunk_size)

    def answer(self, thinking: str, signature: str, text: str, calls: list[Call], usage: U) -> Reply:
        """Signed ``reasoningContent``, text and ``toolUse`` blocks."""
        content: list[dict[str, Any]] = [
            {"reasoningContent": {"reasoningText": {"text": thinking, "signature": signature}}},
            {"text": text},
        ]
        content += [{"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}} for c in calls]
        return Reply.json(self._body(content, usage, "tool_use" if calls else "end_turn"))

    @override
    def sent_tool_ids(self, body: dict[str, Any]) -> tuple[list[str], list[str]]:
        blocks = [b for m in body["messages"] for b in m["content"]]
        calls = [b["toolUse"]["toolUseId"] for b in blocks if "toolUse" in b]
        return calls, [b["toolResult"]["toolUseId"] for b in blocks if "toolResult" in b]

    @override
    def error(self, status: int, message: str) -> Reply:
        kind = _ERROR_TYPES.get(status, "InternalServerException")
        return Reply.json({"message": message}, status=status, headers={"x-amzn-errortype": f"{kind}:http://internal"})

    overflow_reports_sizes = False  # "Input is too long for requested model." gives no numbers
    image_urls = False  # Converse reads bytes and s3:// locations only

    @override
    def overflow(self, limit: int, requested: int) -> Reply:
        return self.error(400, "Input is too long for requested model.")

    @override
    def overflow_stream(self, limit: int, requested: int) -> Reply | None:
        events = [frame("messageStart", {"role": "assistant"})]
        events.append(frame("validationException", {"message": "Input is too long for requested model."}, "exception"))
        return Reply(200, {"content-type": "application/vnd.amazon.eventstream"}, [b"".join(events)])

    @override
    def sent_images(self, body: dict[str, Any]) -> list[dict[str, str]] | None:
        blocks = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        return [{"data": b["image"]["source"]["bytes"]} for b in blocks if "image" in b]

    @override
    def quirk(self, name: str, text: str, usage: U) -> Reply | None:
        if name != "no_end_marker":
            return None
        # messageStop came; the metadata event that usually follows it did not.
        events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
        events += [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}}) for p in two_pieces(text)]
        events += [("contentBlockStop", {"contentBlockIndex": 0}), ("messageStop", {"stopReason": "end_turn"})]
        return event_stream(events)

    @override
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = [("system", b["text"]) for b in body.get("system", ()) if "text" in b]
        for m in body["messages"]:
            blocks = m["content"]
            for b in blocks:
                if "toolResult" in b:
                    out.append(("tool_result", "".join(x.get("text", "") for x in b["toolResult"]["content"])))
            text = "".join(b["text"] for b in blocks if "text" in b)
            if text:
                out.append((m["role"], text))
            out.extend(("tool_call", b["toolUse"]["name"]) for b in blocks if "toolUse" in b)
        return out

    @override
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        return [t["toolSpec"]["name"] for t in body.get("toolConfig", {}).get("tools", ()) if "toolSpec" in t]

    @override
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        native = body.get("outputConfig", {}).get("textFormat", {}).get("structure", {}).get("jsonSchema")
        if native:
            schema: dict[str, Any] = json.loads(native["schema"])
            return schema
        forced = (body.get("toolConfig", {}).get("toolChoice") or {}).get("tool")
        if not forced:
            return None
        specs = [
            t["toolSpec"] for t in body["toolConfig"]["tools"] if t.get("toolSpec", {}).get("name") == forced["name"]
        ]
        return specs[0]["inputSchema"]["json"] if specs else None

    @override
    def validate(self, body: dict[str, Any]) -> None:
        validate_request(body, self.model)


DIALECT = BedrockConverseDialect()
