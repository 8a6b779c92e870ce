"""Unified streaming events and the shared accumulator every wire protocol feeds.

A wire protocol's stream decoder never builds events or parts by hand: it calls the
accumulator's ``text`` / ``thinking`` / ``tool_call`` / ``finish`` methods, which keep the
response so far and queue the unified events (``start``; ``text_start`` / ``text_delta`` /
``text_end``; ``thinking_*``; ``toolcall_*``; exactly one terminal ``done`` or ``error``).

``event.partial`` is one live, read-only view of the response being built (not a copy per event).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal, TypeAlias

from typing_extensions import override

from sycophant_py._partial_json import parse_partial_json
from sycophant_py._redact import redact_text
from sycophant_py._types import FinishReason, Part, Response, TextPart, ThinkingPart, ToolCall, Usage

__all__ = ["EventType", "PartialResponse", "StreamAccumulator", "StreamEvent"]

EventType: TypeAlias = Literal[
    "start",
    "text_start",
    "text_delta",
    "text_end",
    "thinking_start",
    "thinking_delta",
    "thinking_end",
    "toolcall_start",
    "toolcall_delta",
    "toolcall_end",
    "done",
    "error",
]


class _Block:
    """One content block being assembled (text, thinking or a tool call)."""

    __slots__ = ("chunks", "ended", "id", "kind", "name", "provider_data", "redacted", "signature")

    def __init__(self, kind: str, id: str = "", name: str = "") -> None:  # noqa: A002 - the tool-call id, as the attribute is named
        self.kind = kind
        self.chunks: list[str] = []
        self.id = id
        self.name = name
        self.signature: str | None = None
        self.redacted = False
        self.provider_data: dict[str, Any] | None = None
        self.ended = False

    def text(self) -> str:
        if len(self.chunks) > 1:
            self.chunks = ["".join(self.chunks)]
        return self.chunks[0] if self.chunks else ""

    def to_part(self, provider: str | None) -> Part:
        if self.kind == "text":
            return TextPart(self.text())
        if self.kind == "thinking":
            return ThinkingPart(self.text(), self.signature, self.redacted, provider, self.provider_data)
        return self.tool_call(final=True)

    def tool_call(self, final: bool = False) -> ToolCall:
        raw = self.text()
        if final:
            return ToolCall.from_json(self.id, self.name, raw, provider_data=self.provider_data)
        parsed = parse_partial_json(raw) if raw else {}
        return ToolCall(self.id, self.name, parsed if isinstance(parsed, dict) else {}, raw, self.provider_data)


class PartialResponse:
    """A live, read-only view of the response being streamed.

    Attribute access computes from the accumulator's current state, so the same object is valid
    for every event of a stream.
    """

    __slots__ = ("_acc",)

    def __init__(self, acc: StreamAccumulator) -> None:
        self._acc = acc

    @property
    def text(self) -> str:
        """Text received so far."""
        return "".join(b.text() for b in self._acc.blocks if b.kind == "text")

    @property
    def reasoning(self) -> str:
        """Reasoning text received so far."""
        return "".join(b.text() for b in self._acc.blocks if b.kind == "thinking")

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Tool calls so far; arguments are parsed from the partial JSON received."""
        return [b.tool_call(final=b.ended) for b in self._acc.blocks if b.kind == "tool_call"]

    @property
    def parts(self) -> list[Part]:
        """Parts so far, in order."""
        return [b.to_part(self._acc.provider) for b in self._acc.blocks]

    @property
    def usage(self) -> Usage:
        """Usage reported so far."""
        return self._acc.usage

    @property
    def id(self) -> str | None:
        """The provider's response id, once seen."""
        return self._acc.id

    @property
    def model(self) -> str | None:
        """The model id, once seen."""
        return self._acc.model

    @override
    def __repr__(self) -> str:
        return redact_text(f"PartialResponse(text={self.text[:40]!r}..., blocks={len(self._acc.blocks)})")


class StreamEvent:
    """One unified streaming event.

    Attributes:
        type: The event type (``start``, ``text_delta``, ``done``, ...).
        content_index: Index of the content block the event belongs to.
        delta: The text, thinking or raw JSON fragment of a ``*_delta`` event.
        partial: Live view of the response so far.
        reason: Terminal events only: the finish reason.
        response: Terminal events only: the final (or partial, for ``error``) response.
        error: ``error`` events only: the exception.
    """

    __slots__ = ("_block", "content_index", "delta", "error", "partial", "reason", "response", "type")

    def __init__(
        self,
        type: EventType,  # noqa: A002 - the public attribute is ``event.type`` (DESIGN.md)
        partial: PartialResponse,
        content_index: int = -1,
        delta: str = "",
        block: _Block | None = None,
    ) -> None:
        self.type = type
        self.partial = partial
        self.content_index = content_index
        self.delta = delta
        self._block = block
        self.reason: FinishReason | None = None
        self.response: Response | None = None
        self.error: BaseException | None = None

    @property
    def tool_call(self) -> ToolCall | None:
        """For ``toolcall_*`` events: the call (final on ``toolcall_end``, partial before)."""
        b = self._block
        if b is None or b.kind != "tool_call":
            return None
        return b.tool_call(final=self.type == "toolcall_end")

    @property
    def content(self) -> str | None:
        """For ``*_end`` events: the block's complete text or raw JSON."""
        return self._block.text() if self._block is not None and self.type.endswith("_end") else None

    @override
    def __repr__(self) -> str:
        extra = f", delta={self.delta!r}" if self.delta else ""
        if self.reason:
            extra += f", reason={self.reason!r}"
        return redact_text(f"StreamEvent({self.type!r}, index={self.content_index}{extra})")


_START: dict[str, EventType] = {"text": "text_start", "thinking": "thinking_start", "tool_call": "toolcall_start"}
_DELTA: dict[str, EventType] = {"text": "text_delta", "thinking": "thinking_delta", "tool_call": "toolcall_delta"}
_END: dict[str, EventType] = {"text": "text_end", "thinking": "thinking_end", "tool_call": "toolcall_end"}


class StreamAccumulator:
    """Shared assembly of a streamed response; protocol stream states subclass it.

    Protocol decoders call ``text()``, ``thinking()``, ``tool_call()`` and ``finish()``; after each
    provider chunk the driver takes the queued events with ``drain()``.
    """

    def __init__(self, provider: str | None = None, model: str | None = None) -> None:
        self.provider = provider
        self.model = model
        self.id: str | None = None
        self.blocks: list[_Block] = []
        self.events: list[StreamEvent] = []
        self.usage = Usage()
        self.raw: Any = None
        self.view = PartialResponse(self)
        self.started = False
        self.finished = False
        self.provider_finish_reason: str | None = None
        self._keys: dict[Hashable, int] = {}
        self._current: int = -1

    # -- events -------------------------------------------------------------------------------
    def drain(self) -> list[StreamEvent]:
        """Return and clear the queued events."""
        ev = self.events
        self.events = []
        return ev

    def start(self) -> None:
        """Queue ``start`` (once; content methods call it implicitly)."""
        if not self.started:
            self.started = True
            self.events.append(StreamEvent("start", self.view))

    def _open(self, kind: str, key: Hashable | None, id: str = "", name: str = "") -> int:  # noqa: A002 - the tool-call id
        if not self.started:
            self.start()
        if key is not None and key in self._keys:
            idx = self._keys[key]
            if not self.blocks[idx].ended:
                return idx
        elif key is None and self._current >= 0:
            cur = self.blocks[self._current]
            if cur.kind == kind and not cur.ended:
                return self._current
        if kind != "tool_call" and self._current >= 0:
            # A new text/thinking block closes the previous unkeyed text/thinking block.
            prev = self.blocks[self._current]
            if prev.kind != "tool_call" and not prev.ended:
                self.end_block(self._current)
        block = _Block(kind, id, name)
        self.blocks.append(block)
        idx = len(self.blocks) - 1
        if key is not None:
            self._keys[key] = idx
        if kind != "tool_call":
            self._current = idx
        self.events.append(StreamEvent(_START[kind], self.view, idx, block=block))
        return idx

    def text(self, delta: str, key: Hashable | None = None) -> None:
        """Add text; opens a text block when none is open."""
        idx = self._open("text", key)
        block = self.blocks[idx]
        if delta:
            block.chunks.append(delta)
            self.events.append(StreamEvent("text_delta", self.view, idx, delta, block))

    def thinking(
        self,
        delta: str = "",
        *,
        key: Hashable | None = None,
        signature: str | None = None,
        redacted: bool = False,
        provider_data: dict[str, Any] | None = None,
    ) -> None:
        """Add reasoning text and/or its signature; opens a thinking block when none is open."""
        idx = self._open("thinking", key)
        block = self.blocks[idx]
        if signature is not None:
            block.signature = (block.signature or "") + signature
        if redacted:
            block.redacted = True
        if provider_data:
            block.provider_data = {**(block.provider_data or {}), **provider_data}
        if delta:
            block.chunks.append(delta)
            self.events.append(StreamEvent("thinking_delta", self.view, idx, delta, block))

    def tool_call(
        self,
        key: Hashable,
        *,
        id: str | None = None,  # noqa: A002 - the tool-call id, as everywhere in the library
        name: str | None = None,
        arguments: str = "",
        provider_data: dict[str, Any] | None = None,
    ) -> None:
        """Start or continue the tool call identified by ``key`` (a provider index or id)."""
        idx = self._open("tool_call", key, id or "", name or "")
        block = self.blocks[idx]
        if id and not block.id:
            block.id = id
        if name and not block.name:
            block.name = name
        if provider_data:
            block.provider_data = {**(block.provider_data or {}), **provider_data}
        if arguments:
            block.chunks.append(arguments)
            self.events.append(StreamEvent("toolcall_delta", self.view, idx, arguments, block))

    def end_block(self, index: int) -> None:
        """Close one block and queue its ``*_end`` event."""
        block = self.blocks[index]
        if not block.ended:
            block.ended = True
            self.events.append(StreamEvent(_END[block.kind], self.view, index, block=block))
            if index == self._current:
                self._current = -1

    def end_key(self, key: Hashable) -> None:
        """Close the block opened with ``key``, if any."""
        idx = self._keys.get(key)
        if idx is not None:
            self.end_block(idx)

    def end_all(self) -> None:
        """Close every open block."""
        for i, b in enumerate(self.blocks):
            if not b.ended:
                self.end_block(i)

    # -- results ------------------------------------------------------------------------------
    def build(self, finish_reason: FinishReason, error: BaseException | None = None) -> Response:
        """Build the response from what was received."""
        parts = [b.to_part(self.provider) for b in self.blocks]
        return Response(
            finish_reason=finish_reason,
            usage=self.usage,
            parts=parts,
            raw=self.raw,
            id=self.id,
            model=self.model,
            provider=self.provider,
            provider_finish_reason=self.provider_finish_reason,
            error=error,
        )

    def finish(self, reason: FinishReason) -> Response:
        """Close open blocks and queue the terminal ``done`` event; returns the response."""
        self.end_all()
        if not self.started:
            self.start()
        if reason == "stop" and any(b.kind == "tool_call" for b in self.blocks):
            reason = "tool_use"
        resp = self.build(reason)
        ev = StreamEvent("done", self.view)
        ev.reason = reason
        ev.response = resp
        self.events.append(ev)
        self.finished = True
        return resp

    def fail(self, error: BaseException, reason: Literal["error", "aborted"] = "error") -> Response:
        """Queue the terminal ``error`` event, keeping the partial content and usage."""
        self.end_all()
        resp = self.build(reason, error)
        ev = StreamEvent("error", self.view)
        ev.reason = reason
        ev.response = resp
        ev.error = error
        self.events.append(ev)
        self.finished = True
        return resp
