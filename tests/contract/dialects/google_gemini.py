"""Contract dialect for ``google_gemini``, and the Gemini request validator the Gemini tests share.

Replies are rendered as the Gemini API sends them: complete ``GenerateContentResponse`` bodies, and
SSE streams of complete chunks with no terminator (the chunk with ``finishReason`` ends the answer).
Streamed tool calls render the first call the way Vertex AI streams arguments (``partialArgs`` with
JSON paths, strings in pieces) and the others whole, as the Gemini API sends them.

:func:`validate_gemini_request` parses a body with the official protos (PyPI
``google-ai-generativelanguage``, a test dependency) via ``ParseDict(..., ignore_unknown_fields=False)``.
Those protos lag the live API, so the fields listed in :data:`KNOWN_FALSE_REJECTIONS` are taken out
and the body is parsed again; the function returns which ones it had to take out, so tests can
assert on them instead of skipping silently.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Literal

from typing_extensions import override

from sycophant_py.testing import Reply
from tests.contract.dialect import Call, Dialect, U, split, two_pieces

__all__ = ["DIALECT", "KNOWN_FALSE_REJECTIONS", "GoogleGeminiDialect", "gemini_usage", "validate_gemini_request"]

KNOWN_FALSE_REJECTIONS: dict[str, str] = {
    "generationConfig.thinkingConfig.thinkingLevel": (
        "ThinkingConfig.thinking_level is newer than the protos of google-ai-generativelanguage 0.12.1; the live "
        "API takes it (sycophant/google/gemini-3.1-flash-lite-preview/generates_text_with_reasoning.json: 200)"
    ),
}
"""Fields the live API accepts but the packaged protos do not know: path -> why it is a false rejection."""

RequestKind = Literal["generate", "embed", "batch_embed"]

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_use": "STOP", "content_filter": "SAFETY"}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _message_class(kind: RequestKind) -> Any:
    try:
        from google.ai.generativelanguage_v1beta.types import generative_service
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise AssertionError("the Gemini request validator needs `pip install google-ai-generativelanguage`") from exc
    classes: dict[str, Any] = {
        "generate": generative_service.GenerateContentRequest,
        "embed": generative_service.EmbedContentRequest,
        "batch_embed": generative_service.BatchEmbedContentsRequest,
    }
    return classes[kind].pb()


def _pop_path(body: dict[str, Any], path: str) -> bool:
    node: Any = body
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and leaf in node:
        del node[leaf]
        return True
    return False


def validate_gemini_request(
    body: Mapping[str, Any], kind: RequestKind = "generate", model: str = "models/gemini-2.5-flash"
) -> list[str]:
    """Parse ``body`` (plus ``model`` where the message has one) with the official protos, strictly.

    Returns:
        The :data:`KNOWN_FALSE_REJECTIONS` paths that were present and had to be removed to parse.

    Raises:
        AssertionError: the body does not parse (after removing the known false rejections).
    """
    from google.protobuf.json_format import ParseDict, ParseError

    cls = _message_class(kind)
    full = dict(body) if kind == "batch_embed" else {"model": model, **body}
    try:
        ParseDict(full, cls(), ignore_unknown_fields=False)
        return []
    except ParseError as first:
        pruned = copy.deepcopy(full)
        waived = [path for path in KNOWN_FALSE_REJECTIONS if _pop_path(pruned, path)]
        if not waived:
            raise AssertionError(f"Gemini {kind} request rejected by the protos: {first}") from None
    try:
        ParseDict(pruned, cls(), ignore_unknown_fields=False)
    except ParseError as exc:
        raise AssertionError(f"Gemini {kind} request rejected by the protos (waived {waived}): {exc}") from None
    return waived


def gemini_usage(u: U) -> dict[str, Any]:
    """``usageMetadata`` for usage in the library's terms: a third of the output is thinking."""
    thoughts = u.output // 3
    meta = {
        "promptTokenCount": u.input + u.cache_read,
        "candidatesTokenCount": u.output - thoughts,
        "totalTokenCount": u.input + u.cache_read + u.output,
    }
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    if u.cache_read:
        meta["cachedContentTokenCount"] = u.cache_read
    return meta


def _sse(chunks: list[dict[str, Any]], chunk_size: int | None) -> Reply:
    body = "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks).encode()
    return Reply(200, {"content-type": "text/event-stream"}, split(body, chunk_size))


def _partial_call(c: Call) -> list[dict[str, Any]]:
    """Vertex AI's streamed arguments: a head, then one ``partialArgs`` entry per value piece, then ``{}``."""
    fcs: list[dict[str, Any]] = [{"name": c.name, "id": c.id, "willContinue": True}]
    for key, value in c.arguments.items():
        path = f"$.{key}"
        if isinstance(value, str):
            pieces = [value[i : i + 3] for i in range(0, len(value), 3)]
            fcs += [
                {"partialArgs": [{"jsonPath": path, "stringValue": p, "willContinue": True}], "willContinue": True}
                for p in pieces
            ]
            fcs.append({"partialArgs": [{"jsonPath": path, "stringValue": ""}], "willContinue": True})
        else:
            fcs.append({"partialArgs": [{"jsonPath": path, "numberValue": value}], "willContinue": True})
    fcs.append({})
    return fcs


class GoogleGeminiDialect(Dialect):
    protocol = "google_gemini"
    reports_cache = False  # Gemini reports cache reads (cachedContentTokenCount) but never cache writes

    @override
    def provider(self, url: str) -> dict[str, Any]:
        return {"base_url": url + "/v1beta", "auth": "none", "api": self.protocol}

    def _chunk(self, parts: list[dict[str, Any]], finish: str | None = None, usage: U | None = None) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        out: dict[str, Any] = {"candidates": [cand], "modelVersion": self.model, "responseId": "resp-1"}
        if usage is not None:
            out["usageMetadata"] = gemini_usage(usage)
        return out

    @override
    def text(self, text: str, usage: U, finish: str = "stop") -> Reply:
        return Reply.json(self._chunk([{"text": text}], _FINISH[finish], usage))

    @override
    def stream(self, pieces: list[str], usage: U, chunk_size: int | None = None) -> Reply:
        chunks = [self._chunk([{"text": p}]) for p in pieces[:-1]]
        chunks.append(self._chunk([{"text": pieces[-1]}], "STOP", usage))
        return _sse(chunks, chunk_size)

    @staticmethod
    def _call_part(c: Call, first: bool) -> dict[str, Any]:
        part: dict[str, Any] = {"functionCall": {"id": c.id, "name": c.name, "args": c.arguments}}
        if first:
            part["thoughtSignature"] = "c2lnbmF0dXJl"
        return part

    @override
    def tool_calls(self, calls: list[Call], usage: U) -> Reply:
        return Reply.json(self._chunk([self._call_part(c, i == 0) for i, c in enumerate(calls)], "STOP", usage))

    @override
    def tool_calls_stream(self, calls: list[Call], usage: U, chunk_size: int | None = None) -> Reply:
        chunks = []
        for n, fc in enumerate(_partial_call(calls[0])):
            part: dict[str, Any] = {"functionCall": fc}
            if n == 0:
                part["thoughtSignature"] = "c2lnbmF0dXJl"
            chunks.append(self._chunk([part]))
        chunks += [self._chunk([self._call_part(c, False)]) for c in calls[1:]]
        chunks.append(self._chunk([{"text": ""}], "STOP", usage))
        return _sse(chunks, chunk_size)

    def answer(self, thinking: str, signature: str, text: str, calls: list[Call], usage: U) -> Reply:
        """A signed thought, text, and function calls with Gemini's own ids (the first one signed too;
        ``signature`` must be base64)."""
        parts: list[dict[str, Any]] = [{"text": thinking, "thought": True, "thoughtSignature": signature}]
        parts.append({"text": text})
        for i, c in enumerate(calls):
            part: dict[str, Any] = {"functionCall": {"id": c.id, "name": c.name, "args": c.arguments}}
            if i == 0:
                part["thoughtSignature"] = signature
            parts.append(part)
        return Reply.json(self._chunk(parts, "STOP", usage))

    @override
    def sent_tool_ids(self, body: dict[str, Any]) -> tuple[list[str], list[str]]:
        """The ids present (Gemini ids are optional: calls from elsewhere are matched by name and order)."""
        parts = [p for content in body["contents"] for p in content["parts"]]
        calls = [p["functionCall"]["id"] for p in parts if "id" in p.get("functionCall", {})]
        return calls, [p["functionResponse"]["id"] for p in parts if "id" in p.get("functionResponse", {})]

    @override
    def error(self, status: int, message: str) -> Reply:
        return Reply.json(
            {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}, status=status
        )

    @override
    def overflow(self, limit: int, requested: int) -> Reply:
        message = f"The input token count ({requested}) exceeds the maximum number of tokens allowed ({limit})."
        return self.error(400, message)

    @override
    def overflow_stream(self, limit: int, requested: int) -> Reply | None:
        message = f"The input token count ({requested}) exceeds the maximum number of tokens allowed ({limit})."
        error = {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
        return _sse([self._chunk([{"text": ""}]), error], None)

    @override
    def sent_images(self, body: dict[str, Any]) -> list[dict[str, str]] | None:
        parts = [c for c in body["contents"] if c["role"] == "user"][-1]["parts"]
        out: list[dict[str, str]] = []
        for part in parts:
            if "inlineData" in part:
                out.append({"data": part["inlineData"]["data"], "media_type": part["inlineData"]["mimeType"]})
            elif "fileData" in part:
                out.append({"url": part["fileData"]["fileUri"]})
        return out

    @override
    def quirk(self, name: str, text: str, usage: U) -> Reply | None:
        if name == "no_end_marker":  # Gemini streams never have one: the finishReason chunk ends them
            return self.stream(two_pieces(text), usage)
        if name != "cached_over_prompt":
            return None
        body = self._chunk([{"text": text}], "STOP")
        body["usageMetadata"] = {
            "promptTokenCount": usage.input,
            "cachedContentTokenCount": usage.cache_read,
            "candidatesTokenCount": usage.output,
            "totalTokenCount": usage.input + usage.output,
        }
        return Reply.json(body)

    @override
    def sent_messages(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        system = body.get("systemInstruction")
        if system:
            out.append(("system", "".join(p.get("text", "") for p in system["parts"])))
        for content in body["contents"]:
            role = "assistant" if content["role"] == "model" else "user"
            texts: list[str] = []
            for part in content["parts"]:
                if "text" in part and not part.get("thought"):
                    texts.append(part["text"])
                    continue
                if texts:
                    out.append((role, "".join(texts)))
                    texts = []
                if "functionCall" in part:
                    out.append(("tool_call", part["functionCall"]["name"]))
                elif "functionResponse" in part:
                    response = part["functionResponse"]["response"]
                    out.append(("tool_result", str(response.get("result", response.get("error")))))
            if texts:
                out.append((role, "".join(texts)))
        return out

    @override
    def sent_tools(self, body: dict[str, Any]) -> list[str]:
        return [d["name"] for t in body.get("tools", ()) for d in t.get("functionDeclarations", ())]

    @override
    def sent_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema", config.get("responseSchema"))
        return dict(schema) if isinstance(schema, dict) else None

    @override
    def validate(self, body: dict[str, Any]) -> None:
        validate_gemini_request(body)


DIALECT = GoogleGeminiDialect()
