"""Sans-I/O decoders for streamed bodies: Server-Sent Events and newline-delimited JSON.

Both take bytes in whatever chunks the network delivers (split mid-line, mid-UTF-8 character,
between ``\\r`` and ``\\n``) and return complete events. The sync and async transports are two
loops around the same ``feed()``.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["NDJSONDecoder", "SSEDecoder", "SSEEvent"]


@dataclass(slots=True)
class SSEEvent:
    """One Server-Sent Event."""

    data: str
    """The data lines, joined with ``\\n``."""
    event: str = "message"
    """The ``event:`` field (``message`` when absent)."""
    id: str | None = None
    """The ``id:`` field."""
    retry: int | None = None
    """The ``retry:`` field in milliseconds."""


class _LineSplitter:
    """Incremental UTF-8 decoding and line splitting on ``\\n``, ``\\r\\n`` or ``\\r``."""

    __slots__ = ("_buf", "_cr", "_decoder")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._cr = False

    def feed(self, data: bytes) -> list[str]:
        text = self._decoder.decode(data)
        return self._split(text) if text else []

    def flush(self) -> list[str]:
        text = self._decoder.decode(b"", final=True)
        lines = self._split(text) if text else []
        if self._buf:
            lines.append(self._buf)
            self._buf = ""
        return lines

    def _split(self, text: str) -> list[str]:
        if self._cr and text[0] == "\n":
            text = text[1:]
        self._cr = False
        buf = self._buf + text
        if "\r" in buf:
            self._cr = buf[-1] == "\r"
            buf = buf.replace("\r\n", "\n").replace("\r", "\n")
        lines = buf.split("\n")
        self._buf = lines.pop()
        return lines


class SSEDecoder:
    """Incremental Server-Sent Events parser (the WHATWG event-stream format).

    ``feed(chunk)`` returns the events completed by that chunk; ``flush()`` at the end of the
    body returns a last event that was not followed by a blank line (servers do that).
    """

    __slots__ = ("_data", "_event", "_id", "_lines", "_retry")

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._lines = _LineSplitter()
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode a chunk of the body; returns the events it completed."""
        out: list[SSEEvent] = []
        for line in self._lines.feed(chunk):
            self._line(line, out)
        return out

    def flush(self) -> list[SSEEvent]:
        """End of body: return any event still pending."""
        out: list[SSEEvent] = []
        for line in self._lines.flush():
            self._line(line, out)
        self._line("", out)
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                out.append(SSEEvent("\n".join(self._data), self._event or "message", self._id, self._retry))
                self._data = []
            self._event = ""
            return
        if line.startswith("data:"):
            self._data.append(line[6:] if line.startswith("data: ") else line[5:])
            return
        if line[0] == ":":
            return  # a comment (keep-alive)
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)


class NDJSONDecoder:
    """Incremental newline-delimited JSON splitter: returns complete non-empty lines."""

    __slots__ = ("_lines",)

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._lines = _LineSplitter()

    def feed(self, chunk: bytes) -> list[str]:
        """Decode a chunk; returns the complete lines it finished."""
        return [ln for ln in self._lines.feed(chunk) if ln.strip()]

    def flush(self) -> list[str]:
        """End of body: the last line, if it had no newline."""
        return [ln for ln in self._lines.flush() if ln.strip()]
