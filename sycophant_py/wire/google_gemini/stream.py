"""Stream state and decoding: chunks of ``GenerateContentResponse`` routed into the shared accumulator,
including Vertex AI's streamed function-call arguments (``partialArgs``).

A whole (non-streaming) body is decoded the same way (``Streaming.decode_response``): it is the chunks of a
stream that all came at once, so parts are assembled in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import StreamError
from sycophant_py._types import FinishReason, Response
from sycophant_py.wire._base import StreamContinue, StreamDone, StreamFailed, StreamResult, WireProtocol
from sycophant_py.wire._util import int_of, map_finish, new_call_id, stream_error
from sycophant_py.wire.google_gemini.decode import (
    body_chunks,
    decode_usage,
    error_of,
    has_counts,
    whole_body_chunks,
)
from sycophant_py.wire.google_gemini.encode import MARK

__all__ = ["GeminiStream", "Streaming", "route_chunk"]

_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[(['\"])(.*?)\3\]")


def _parse_path(path: Any) -> list[str | int] | None:
    """``$.a.b[0]['c d']`` -> ``["a", "b", 0, "c d"]`` (None when it is not such a path)."""
    if not isinstance(path, str) or not path.startswith("$"):
        return None
    out: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        if m is None:
            return None
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)) if m.group(2) is not None else m.group(4))
        pos = m.end()
    return out or None


def _set_path(root: dict[str, Any], path: list[str | int], value: Any, append: bool) -> None:
    """Set ``value`` at ``path`` in ``root`` (creating containers); ``append`` extends a string value."""
    node: Any = root
    for i, tok in enumerate(path):
        if isinstance(tok, int):
            if not isinstance(node, list):
                return
            while len(node) <= tok:
                node.append(None)
            old = node[tok]
        else:
            if not isinstance(node, dict):
                return
            old = node.get(tok)
        if i == len(path) - 1:
            node[tok] = old + value if append and isinstance(old, str) else value
            return
        if not isinstance(old, (dict, list)):
            old = [] if isinstance(path[i + 1], int) else {}
            node[tok] = old
        node = old


class _Container:
    __slots__ = ("count", "is_array", "keys", "token")

    def __init__(self, token: str | int | None, is_array: bool) -> None:
        self.token = token
        self.is_array = is_array
        self.count = 0
        self.keys: set[str] = set()


class _ArgsWriter:
    """Writes streamed ``partialArgs`` (JSON path + value) as JSON text, fragment by fragment.

    Paths arrive in document order; a string value may come in pieces (``willContinue``). The
    structured value is kept too, so a stream that jumps back to a closed container still ends
    with the right arguments (``broken`` then stops the incremental text).
    """

    def __init__(self) -> None:
        self.value: dict[str, Any] = {}
        self.stack: list[_Container] = []
        self.open_string: tuple[str | int, ...] | None = None
        self.broken = False
        self.text: list[str] = []

    def add(self, path: list[str | int], value: Any, is_string: bool, more: bool) -> str:
        _set_path(self.value, path, value, is_string)
        if self.broken:
            return ""
        out: list[str] = []
        if not self.stack:
            out.append("{")
            self.stack.append(_Container(None, False))
        key = tuple(path)
        if self.open_string is not None:
            if self.open_string == key and is_string:
                out.append(json.dumps(value, ensure_ascii=False)[1:-1] + ("" if more else '"'))
                self.open_string = None if not more else key
                return self._emit(out)
            out.append('"')
            self.open_string = None
        parents = path[:-1]
        common = 0
        while (
            common < len(parents) and common + 1 < len(self.stack) and self.stack[common + 1].token == parents[common]
        ):
            common += 1
        while len(self.stack) > common + 1:
            out.append("]" if self.stack.pop().is_array else "}")
        for i in range(common, len(parents)):
            if not self._member(parents[i], out):
                return self._break()
            is_array = isinstance(path[i + 1], int)
            out.append("[" if is_array else "{")
            self.stack.append(_Container(parents[i], is_array))
        if not self._member(path[-1], out):
            return self._break()
        if is_string:
            out.append('"' + json.dumps(value, ensure_ascii=False)[1:-1] + ("" if more else '"'))
            self.open_string = key if more else None
        else:
            out.append(json.dumps(value, ensure_ascii=False))
        return self._emit(out)

    def _member(self, tok: str | int, out: list[str]) -> bool:
        parent = self.stack[-1]
        if parent.is_array:
            if not isinstance(tok, int) or tok < parent.count:
                return False
            while parent.count < tok:  # a skipped index: keep positions with null
                out.append(("," if parent.count else "") + "null")
                parent.count += 1
            out.append("," if parent.count else "")
            parent.count = tok + 1
            return True
        if not isinstance(tok, str) or tok in parent.keys:
            return False
        out.append(("," if parent.keys else "") + json.dumps(tok, ensure_ascii=False) + ":")
        parent.keys.add(tok)
        return True

    def _emit(self, out: list[str]) -> str:
        text = "".join(out)
        self.text.append(text)
        return text

    def _break(self) -> str:
        self.broken = True
        return ""

    def close(self) -> str:
        """The closing fragment (``"{}"`` when no argument came)."""
        if self.broken:
            return ""
        out = ['"'] if self.open_string is not None else []
        if not self.stack:
            out.append("{}")
        while self.stack:
            out.append("]" if self.stack.pop().is_array else "}")
        return self._emit(out)

    def ok(self) -> bool:
        """True when the text written equals the structured value."""
        if self.broken:
            return False
        try:
            return bool(json.loads("".join(self.text)) == self.value)
        except ValueError:
            return False


class GeminiStream(StreamAccumulator):
    """Stream state: the accumulator plus finish data, the open streamed call and a pending signature."""

    def __init__(self) -> None:
        super().__init__()
        self.finish_reason: str | None = None
        self.finish_message: str | None = None
        self.block_reason: str | None = None
        self.keys = 0  # block keys made so far
        self.last: str = ""  # kind of the last part routed: text, thought, call, other
        self.thought_key: tuple[str, int] = ("thought", 0)
        self.thought_signed = False  # the open thought block already carries a signature
        self.text_signature: str | None = None  # a text part's signature, waiting for its text to end
        self.call_key: tuple[str, int] | None = None  # a Vertex streamed call (partialArgs) still open
        self.call_block = -1
        self.writer: _ArgsWriter | None = None

    def new_key(self, kind: str) -> tuple[str, int]:
        self.keys += 1
        return (kind, self.keys)

    def flush_signature(self) -> None:
        """Attach a pending text signature, as a signature-only thinking part after its text."""
        sig, self.text_signature = self.text_signature, None
        if sig:
            self.thinking(key=self.new_key("sig"), signature=sig, provider_data={MARK: "text_signature"})
            self.last = "other"

    def close_call(self) -> None:
        """Close a streamed (``partialArgs``) call: final fragment, checked against the structured value."""
        key, writer = self.call_key, self.writer
        if key is None or writer is None:
            return
        self.tool_call(key, arguments=writer.close())
        if not writer.ok():
            # The fragments could not express the arguments (paths out of document order): the
            # structured value is the truth, so the block's raw text is replaced by it.
            self.blocks[self.call_block].chunks[:] = [json.dumps(writer.value, ensure_ascii=False)]
        self.end_key(key)
        self.call_key, self.writer = None, None

    def close_all(self) -> None:
        """Flush what may still be pending before the stream ends."""
        self.close_call()
        self.flush_signature()


def _call_id(fc: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    given = fc.get("id")
    if isinstance(given, str) and given:
        return given, {"gemini_id": given}
    return new_call_id(), {}


def _partial_value(arg: Mapping[str, Any]) -> tuple[Any, bool]:
    """(value, is_string) of one ``partialArgs`` entry."""
    if "stringValue" in arg:
        return str(arg["stringValue"]), True
    for key in ("numberValue", "boolValue", "structValue", "listValue"):
        if key in arg:
            return arg[key], False
    return None, False


def _route_call(acc: GeminiStream, fc: Mapping[str, Any], sig: str | None) -> None:
    name = fc.get("name")
    if not name:  # a continuation of the open streamed call (or a keep-alive)
        if acc.call_key is not None and acc.writer is not None:
            for arg in fc.get("partialArgs") or ():
                path = _parse_path(arg.get("jsonPath"))
                if path is None:
                    continue
                value, is_string = _partial_value(arg)
                fragment = acc.writer.add(path, value, is_string, bool(arg.get("willContinue")))
                if fragment:
                    acc.tool_call(acc.call_key, arguments=fragment)
            if not fc.get("willContinue"):
                acc.close_call()
        return
    acc.close_call()
    call_id, data = _call_id(fc)
    if sig:
        data["thought_signature"] = sig
    key = acc.new_key("call")
    args = fc.get("args")
    if fc.get("willContinue") and args is None:
        acc.tool_call(key, id=call_id, name=str(name), provider_data=data or None)
        acc.call_key, acc.call_block, acc.writer = key, len(acc.blocks) - 1, _ArgsWriter()
        return
    # An object as Gemini documents it; arguments as JSON text (some proxies) are kept as they came.
    text = args if isinstance(args, str) else json.dumps(args if isinstance(args, Mapping) else {}, ensure_ascii=False)
    acc.tool_call(key, id=call_id, name=str(name), arguments=text, provider_data=data or None)
    acc.end_key(key)


def _route_part(acc: GeminiStream, part: Mapping[str, Any]) -> None:
    sig = part.get("thoughtSignature") if isinstance(part.get("thoughtSignature"), str) else None
    text = part.get("text")
    if "functionCall" in part and isinstance(part["functionCall"], Mapping):
        acc.flush_signature()
        _route_call(acc, part["functionCall"], sig)
        acc.last = "call"
    elif isinstance(text, str) and part.get("thought"):
        acc.close_call()
        acc.flush_signature()
        if acc.last != "thought" or acc.thought_signed:
            acc.thought_key, acc.thought_signed = acc.new_key("thought"), False
        acc.thinking(text, key=acc.thought_key, signature=sig, provider_data={MARK: "thought"})
        acc.thought_signed = acc.thought_signed or bool(sig)
        acc.last = "thought"
    elif isinstance(text, str):
        acc.close_call()
        if sig and acc.text_signature:
            acc.flush_signature()
        if text:
            acc.text(text)
            acc.last = "text"
        if sig:
            acc.text_signature = sig
    elif part:
        # executableCode, codeExecutionResult, server-side tool calls...: kept whole for a replay.
        acc.close_call()
        acc.flush_signature()
        acc.thinking(key=acc.new_key("part"), provider_data={MARK: "part", "part": dict(part)})
        acc.last = "other"


def route_chunk(acc: GeminiStream, payload: Mapping[str, Any]) -> None:
    """Route one ``GenerateContentResponse`` (candidate ``index`` 0) into the accumulator."""
    acc.raw = payload
    if acc.id is None and isinstance(payload.get("responseId"), str):
        acc.id = payload["responseId"]
    if isinstance(payload.get("modelVersion"), str):
        acc.model = payload["modelVersion"]
    usage = payload.get("usageMetadata")
    if has_counts(usage):
        acc.usage = decode_usage(usage)
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, Mapping) and feedback.get("blockReason"):
        acc.block_reason = str(feedback["blockReason"])
    candidates = payload.get("candidates")
    if not isinstance(candidates, list):
        return
    cand = next((c for c in candidates if isinstance(c, Mapping) and int_of(c.get("index")) == 0), None)
    if cand is None:
        return
    content = cand.get("content")
    for part in (content.get("parts") if isinstance(content, Mapping) else None) or ():
        if isinstance(part, Mapping):
            _route_part(acc, part)
    if isinstance(cand.get("finishReason"), str) and cand["finishReason"]:
        acc.finish_reason = acc.provider_finish_reason = cand["finishReason"]
        message = cand.get("finishMessage")
        acc.finish_message = message if isinstance(message, str) else None


class Streaming(WireProtocol[GeminiStream]):
    """The stream half of ``google_gemini``, which also decodes a whole body (the chunks of a stream
    that came at once)."""

    stream_state = GeminiStream

    @override
    def decode_response(self, body: Any) -> Response:
        """Turn a ``GenerateContentResponse`` (or a list of streamed ones) into a Response.

        Raises:
            ResponseInvalid: the body has no candidate (and no prompt block reason) or has the wrong
                types; the provider's message, when it carries one, is in the exception text.
        """
        acc = GeminiStream()
        for chunk in whole_body_chunks(body):
            route_chunk(acc, chunk)
        acc.close_all()
        resp = acc.finish(self._finish_reason(acc))
        resp.raw = body
        return resp

    @override
    def decode_stream_chunk(self, state: GeminiStream, event: Any) -> StreamResult[GeminiStream]:
        """Decode one SSE event (a ``[DONE]``, which some proxies add, ends the stream)."""
        acc = state
        data: str = event.data
        if data.strip() == "[DONE]":  # not Gemini's, but some proxies add it
            return self.end_of_stream(acc)
        payload = json.loads(data)
        err = error_of(payload)
        if err is not None:
            return self._stream_error(acc, err, payload)
        for chunk in body_chunks(payload, acc):
            route_chunk(acc, chunk)
        return StreamContinue(acc, acc.drain())

    @override
    def end_of_stream(self, state: GeminiStream) -> StreamResult[GeminiStream]:
        """The end of the body: complete after a finish (or prompt block) reason, else an error."""
        acc = state
        if acc.finish_reason is None and acc.block_reason is None:
            return super().end_of_stream(acc)
        acc.close_all()
        reason = self._finish_reason(acc)
        if reason == "error":
            detail = f": {acc.finish_message}" if acc.finish_message else ""
            exc = StreamError(
                f"Gemini stopped with {acc.finish_reason}{detail}", provider=acc.provider, model=acc.model, body=acc.raw
            )
            acc.fail(exc)
            return StreamFailed(exc, acc.drain())
        return StreamDone(acc.finish(reason), acc.drain())

    def _finish_reason(self, acc: GeminiStream) -> FinishReason:
        if acc.finish_reason is None and acc.block_reason is not None:
            acc.provider_finish_reason = acc.block_reason
            return "content_filter"
        return map_finish(self.finish_reasons, acc.finish_reason, any(b.kind == "tool_call" for b in acc.blocks))

    def _stream_error(self, acc: GeminiStream, err: Mapping[str, Any], payload: Any) -> StreamFailed:
        message, err_type = self.decode_error(200, payload)
        code = err.get("code")
        acc.close_all()
        return stream_error(
            acc, message, body=payload, status=code if isinstance(code, int) else None, error_type=err_type
        )
