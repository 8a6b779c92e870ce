"""Sans-I/O decoders for streamed bodies: Server-Sent Events and newline-delimited JSON.

Both take bytes in whatever chunks the network delivers (split mid-line, mid-UTF-8 character,
between ``\\r`` and ``\\n``) and return complete events. The sync and async transports are two
loops around the same ``feed()``.

The work is linear in the body size however it is chunked: a line that spans many chunks is kept
as a list of pieces and joined once, when its end arrives. With ``max_event_bytes`` set, a line
(or an SSE event's data) is refused with :class:`~sycophant_py.ResponseTooLarge` as soon as it
grows past the cap, so a decoder never holds much more than the cap plus the chunk being fed. A
decoder that raised stays failed: every later ``feed`` or ``flush`` raises the same error (the
caller stops feeding; a byte stream cannot be resynchronised).
"""

from __future__ import annotations

from dataclasses import dataclass

from sycophant_py._exceptions import ResponseInvalid, ResponseTooLarge

__all__ = ["NDJSONDecoder", "SSEDecoder", "SSEEvent"]

_BLOCK_LINES = 256
"""Data lines of one SSE event kept as separate strings before they are joined into a block."""


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


def _too_large(what: str, cap: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"stream {what} is larger than max_event_bytes={cap} bytes; raise the limit with "
        'configure(limits={"max_event_bytes": ...})'
    )


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _first_break(data: bytes) -> int:
    """Index of the first ``\\r`` or ``\\n`` in ``data`` (``len(data)`` when there is none)."""
    cr, lf = data.find(b"\r"), data.find(b"\n")
    if cr < 0:
        return len(data) if lf < 0 else lf
    return cr if lf < 0 else min(cr, lf)


class _LineSplitter:
    """Line splitting on ``\\n``, ``\\r\\n`` or ``\\r``, then UTF-8 decoding (``errors="replace"``).

    Splitting the bytes before decoding them is exact: ``\\r`` and ``\\n`` never occur inside a
    UTF-8 sequence, and a decoder ends any invalid sequence at them. The unfinished line is a list
    of byte pieces joined once, so each byte is scanned and copied a constant number of times.
    """

    __slots__ = ("_cr", "_error", "_max", "_pieces", "_size")

    def __init__(self, max_line_bytes: int | None = None) -> None:
        self._max = max_line_bytes
        self._pieces: list[bytes] = []
        self._size = 0
        self._cr = False
        self._error: ResponseInvalid | None = None

    def feed(self, data: bytes) -> list[str]:
        if self._error is not None:
            raise self._error
        if self._cr:
            self._cr = False
            if data[:1] == b"\n":
                data = data[1:]  # the \n of a \r\n split across chunks
        if not data:
            return []
        fits = self._max is None or len(data) <= self._max
        if fits and not self._pieces and data[-1] == 0x0A and b"\r" not in data:
            # The common case (a chunk of whole LF-terminated lines): one decode, one split.
            lines = data.decode("utf-8", "replace").split("\n")
            lines.pop()
            return lines
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        size = self._size + len(data)
        if self._max is not None and size > self._max:
            return self._feed_capped(data, cut, self._max)
        pieces = self._pieces
        if cut == 0:
            pieces.append(data)
            self._size = size
            return []
        if pieces:
            pieces.append(data[:cut])
            head = b"".join(pieces)
            pieces.clear()
        else:
            head = data[:cut]
        if cut < len(data):
            pieces.append(data[cut:])
        self._size = len(data) - cut
        self._cr = data[-1] == 0x0D
        text = head.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # the empty string after the final break
        return lines

    def flush(self) -> list[str]:
        if self._error is not None:
            raise self._error
        self._cr = False
        if not self._pieces:
            return []
        return [self._join(b"").decode("utf-8", "replace")]

    def fail(self, error: ResponseInvalid) -> ResponseInvalid:
        """Drop what is buffered and stay failed with ``error`` (returned, for ``raise``)."""
        self._error = error
        self._pieces = []
        self._size = 0
        return error

    def _hold(self, piece: bytes) -> None:
        if piece:
            self._pieces.append(piece)
            self._size += len(piece)

    def _join(self, end: bytes) -> bytes:
        """The pending pieces followed by ``end``, joined; nothing stays pending."""
        if self._pieces:
            self._pieces.append(end)
            end = b"".join(self._pieces)
        self._pieces = []
        self._size = 0
        return end

    def _feed_capped(self, data: bytes, cut: int, cap: int) -> list[str]:
        """``data`` makes the pending text longer than ``cap``: return the lines that fit, line by line.

        A line past the cap fails the splitter before it is copied. The whole lines before it are
        still returned, and the error is raised by the next call (it is raised at once when there
        are none), so no complete line is lost.
        """
        if cut == 0 or self._size + _first_break(data) > cap:
            raise self.fail(_too_large("line", cap))
        raw = data[:cut].replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        raw.pop()
        raw[0] = self._join(raw[0])
        lines: list[str] = []
        for line in raw:
            if len(line) > cap:
                break
            lines.append(line.decode("utf-8", "replace"))
        if len(lines) < len(raw) or len(data) - cut > cap:
            error = self.fail(_too_large("line", cap))
            if not lines:
                raise error
            return lines
        self._hold(data[cut:])
        self._cr = data[-1] == 0x0D
        return lines


class SSEDecoder:
    """Incremental Server-Sent Events parser (the WHATWG event-stream format).

    ``feed(chunk)`` returns the events completed by that chunk; ``flush()`` at the end of the
    body returns a last event that was not followed by a blank line (servers do that).

    Args:
        max_event_bytes: Largest line, and largest sum of an event's data lines (UTF-8 bytes,
            counting the ``\\n`` that joins them); past it ``feed`` raises
            :class:`~sycophant_py.ResponseTooLarge`. None: no cap.
    """

    __slots__ = ("_blocks", "_count", "_data", "_event", "_id", "_lines", "_max", "_retry", "_size")

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._lines = _LineSplitter(max_event_bytes)
        self._max = max_event_bytes
        self._data: list[str] = []
        self._blocks: list[str] = []
        self._count = 0
        self._size = 0
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode a chunk of the body; returns the events it completed.

        Raises:
            ResponseTooLarge: a line or an event's data grew past ``max_event_bytes``. The events
                the chunk completed before that are returned first and the error is raised by the
                next call; the decoder stays failed.
        """
        out: list[SSEEvent] = []
        try:
            for line in self._lines.feed(chunk):
                self._line(line, out)
        except ResponseTooLarge:
            if out:
                return out  # the events before the oversized one are good: the error is raised next call
            raise
        return out

    def flush(self) -> list[SSEEvent]:
        """End of body: return any event still pending.

        Raises:
            ResponseTooLarge: the decoder had failed earlier.
        """
        out: list[SSEEvent] = []
        for line in self._lines.flush():
            self._line(line, out)
        self._line("", out)
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if not line:
            if self._count:
                out.append(SSEEvent(self._take_data(), self._event or "message", self._id, self._retry))
            self._event = ""
            return
        if line.startswith("data:"):
            value = line[6:] if line[5:6] == " " else line[5:]
            # Inlined: this runs once per stream event.
            self._count += 1
            if self._max is not None:
                self._size += (len(value) if value.isascii() else len(value.encode("utf-8"))) + (self._count > 1)
                if self._size > self._max:
                    self._data, self._blocks = [], []
                    raise self._lines.fail(_too_large("event", self._max))
            self._data.append(value)
            if self._count % _BLOCK_LINES == 0:  # many short lines: one string, not one object per line
                self._blocks.append("\n".join(self._data))
                self._data = []
            return
        if line[0] == ":":
            return  # a comment (keep-alive)
        self._field(line)

    def _field(self, line: str) -> None:
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _take_data(self) -> str:
        data = self._data
        if self._count == 1:
            text = data[0]
        elif self._blocks:
            self._blocks.extend(data)
            text = "\n".join(self._blocks)
            self._blocks = []
        else:
            text = "\n".join(data)
        self._data = []
        self._count = 0
        self._size = 0
        return text


class NDJSONDecoder:
    """Incremental newline-delimited JSON splitter: returns complete non-empty lines.

    Args:
        max_event_bytes: Largest line (UTF-8 bytes); past it ``feed`` raises
            :class:`~sycophant_py.ResponseTooLarge`. None: no cap.
    """

    __slots__ = ("_lines",)

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._lines = _LineSplitter(max_event_bytes)

    def feed(self, chunk: bytes) -> list[str]:
        """Decode a chunk; returns the complete lines it finished.

        Raises:
            ResponseTooLarge: a line grew past ``max_event_bytes`` (lines the chunk completed before
                it are returned first and the error is raised by the next call; the decoder stays
                failed).
        """
        return [ln for ln in self._lines.feed(chunk) if ln.strip()]

    def flush(self) -> list[str]:
        """End of body: the last line, if it had no newline.

        Raises:
            ResponseTooLarge: the decoder had failed earlier.
        """
        return [ln for ln in self._lines.flush() if ln.strip()]
