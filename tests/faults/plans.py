"""Valid replies of each protocol (rendered by its contract dialect) and the faulty variants of them.

A streamed answer is cut into its events (SSE events, NDJSON lines, event-stream frames) so a
fault can strike between two of them: ``prefix_events`` are the events up to the second text
delta (the text ``PREFIX_TEXT`` is delivered before the fault), ``rest_events`` what follows.
Streams are sent with ``transfer-encoding: chunked``, one chunk per event, as providers do.
"""

from __future__ import annotations

import functools
import json
import re
import struct
import zlib
from collections.abc import Callable
from typing import Any

from sycophant_py.testing import Reply
from sycophant_py.testing.contract import Dialect, U
from tests.contract.dialects import dialect_for
from tests.faults.server import (
    LAST_CHUNK,
    Action,
    Close,
    Hang,
    Pause,
    Plan,
    Reset,
    SeenRequest,
    Send,
    Trickle,
    chunk,
    head,
)

PROTOCOLS = ["openai_chat", "anthropic_messages", "google_gemini", "bedrock_converse", "ollama_native"]
FAMILY = {
    "openai_chat": "sse",
    "anthropic_messages": "sse",
    "google_gemini": "sse",
    "bedrock_converse": "event_stream",
    "ollama_native": "ndjson",
}
"""How each protocol frames a stream."""

PIECES = ["Hel", "lo ", "wor", "ld"]
FULL_TEXT = "".join(PIECES)
PREFIX_TEXT = "Hello "
"""The text of ``prefix_events``."""
USAGE = U(5, 4)

INTERVAL = 0.15
"""Seconds between two trickled bytes."""
BUDGET = 2.5
"""A trickle gives up after this long and sends the rest (so a library without a total deadline
finishes, late, instead of hanging the suite)."""
HANG = 3.0
"""The longest a hanging reply waits for the client before the server closes."""
BOMB_BYTES = 128 << 20
"""Decoded size of the gzip bombs (about 130 kB on the wire)."""
HUGE_LINE = 256 << 10
"""A stream line or frame this long is past the suite's ``max_event_bytes`` (64 KiB)."""
HUGE_BODY = 2 << 20
"""A non-streaming body this long is past the suite's ``max_body_bytes`` (1 MiB)."""


def dialect(protocol: str) -> Dialect:
    """The contract dialect of a protocol."""
    d = dialect_for(protocol)
    assert d is not None, protocol
    return d


def body_of(reply: Reply) -> bytes:
    """A scripted reply's whole body."""
    return b"".join(reply.chunks)


# -- splitting streams into events -------------------------------------------------------------


def _split_sse(body: bytes) -> list[bytes]:
    return [e for e in re.split(rb"(?<=\r\n\r\n)|(?<=\n\n)", body) if e]


def _split_ndjson(body: bytes) -> list[bytes]:
    return body.splitlines(keepends=True)


def split_frames(body: bytes) -> list[bytes]:
    """Event-stream frames, by their declared total length."""
    out = []
    while body:
        (total,) = struct.unpack(">I", body[:4])
        out.append(body[:total])
        body = body[total:]
    return out


def frame_parts(frame: bytes) -> tuple[bytes, bytes]:
    """The headers section and the payload of an event-stream frame."""
    _, hlen = struct.unpack(">II", frame[:8])
    return frame[12 : 12 + hlen], frame[12 + hlen : -4]


def make_frame(headers: bytes, payload: bytes) -> bytes:
    """An event-stream frame with valid CRCs around any headers and payload bytes."""
    prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


@functools.cache
def stream_events(protocol: str) -> tuple[bytes, ...]:
    """The events of a valid streamed answer of ``PIECES``, in wire bytes."""
    body = body_of(dialect(protocol).stream(PIECES, USAGE))
    family = FAMILY[protocol]
    if family == "sse":
        events = _split_sse(body)
    elif family == "ndjson":
        events = _split_ndjson(body)
    else:
        events = split_frames(body)
    assert b"".join(events) == body
    return tuple(events)


def _cut(protocol: str) -> int:
    events = stream_events(protocol)
    first = next(i for i, e in enumerate(events) if b'"Hel"' in e)
    assert b'"lo "' in events[first + 1], events
    return first + 2


def prefix_events(protocol: str) -> tuple[bytes, ...]:
    """The events up to the second text delta (``PREFIX_TEXT``)."""
    return stream_events(protocol)[: _cut(protocol)]


def rest_events(protocol: str) -> tuple[bytes, ...]:
    """The events after ``prefix_events``."""
    return stream_events(protocol)[_cut(protocol) :]


# -- replies -----------------------------------------------------------------------------------


def json_head(status: int, length: int, extra: dict[str, str] | None = None) -> bytes:
    """The head of a JSON reply of ``length`` bytes."""
    return head(status, {"content-type": "application/json", "content-length": str(length), **(extra or {})})


def reply_plan(reply: Reply) -> Plan:
    """A complete reply with a ``content-length`` (the connection stays open)."""
    body = body_of(reply)
    headers = {**reply.headers, "content-length": str(len(body))}
    return [Send(head(reply.status, headers) + body)]


def json_plan(status: int, value: Any, extra: dict[str, str] | None = None) -> Plan:
    """A JSON reply."""
    body = json.dumps(value).encode()
    return [Send(json_head(status, len(body), extra) + body)]


def stream_head(protocol: str, extra: dict[str, str] | None = None) -> bytes:
    """The head of a chunked streamed reply."""
    ctype = dialect(protocol).stream(PIECES, USAGE).headers.get("content-type", "text/event-stream")
    return head(200, {"content-type": ctype, "transfer-encoding": "chunked", **(extra or {})})


def chunks(events: tuple[bytes, ...] | list[bytes]) -> bytes:
    """Events as one chunk each."""
    return b"".join(chunk(e) for e in events)


def text_plan(protocol: str, text: str = FULL_TEXT) -> Plan:
    """A valid non-streaming answer."""
    return reply_plan(dialect(protocol).text(text, USAGE))


def stream_plan(protocol: str) -> Plan:
    """A valid streamed answer of ``PIECES``."""
    return [Send(stream_head(protocol) + chunks(stream_events(protocol)) + LAST_CHUNK)]


def status_plan(protocol: str, status: int) -> Plan:
    """A provider error reply (``Retry-After: 0``) in the protocol's error format."""
    reply = dialect(protocol).error(status, f"scripted {status}")
    body = body_of(reply)
    headers = {**reply.headers, "content-length": str(len(body)), "retry-after": "0"}
    return [Send(head(status, headers) + body)]


def in_pieces(data: bytes, size: int, pause: float) -> list[Action]:
    """Send ``data`` in pieces of ``size`` bytes with a pause between (a provider still producing)."""
    out: list[Action] = []
    for i in range(0, len(data), size):
        if i:
            out.append(Pause(pause))
        out.append(Send(data[i : i + size]))
    return out


def redirect_to(base: str) -> Callable[[SeenRequest], Plan]:
    """A 307 to the same path (plus ``hop=1``) on ``base``."""

    def plan(req: SeenRequest) -> Plan:
        sep = "&" if "?" in req.path else "?"
        location = f"{base}{req.path}{sep}hop=1"
        return [Send(head(307, {"location": location, "content-length": "0"}))]

    return plan


# -- faulty bodies -----------------------------------------------------------------------------


@functools.cache
def gzip_bomb(prefix: bytes, filler: bytes, declared: bytes = b"") -> bytes:
    """gzip of ``prefix + declared`` then ``BOMB_BYTES`` of ``filler``, compressed without holding it whole."""
    comp = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    out = [comp.compress(prefix + declared)]
    block = filler * ((1 << 20) // len(filler))
    out += [comp.compress(block) for _ in range(BOMB_BYTES // len(block))]
    out.append(comp.flush())
    return b"".join(out)


def bomb_stream_body(protocol: str) -> bytes:
    """A gzip body: the stream's first events, then an endless line (or a frame declaring 128 MiB)."""
    prefix = b"".join(prefix_events(protocol))
    family = FAMILY[protocol]
    if family == "sse":
        return gzip_bomb(prefix, b"0", b"data: ")
    if family == "ndjson":
        return gzip_bomb(prefix, b"0", b'{"message": {"role": "assistant", "content": "')
    prelude = struct.pack(">II", BOMB_BYTES, 0)
    return gzip_bomb(prefix, b"\0", prelude + struct.pack(">I", zlib.crc32(prelude)))


def garbage(protocol: str) -> bytes:
    """Bytes that are no event of the protocol (binary, invalid UTF-8, an HTML error page)."""
    return b"\x00\x01\xfe\xff<html><body>502 Bad Gateway</body></html>\xc3\x28 garbage\n\n"


def invalid_json(protocol: str) -> bytes:
    """The next event of the stream with its JSON cut in half (framing kept valid)."""
    nxt = rest_events(protocol)[0]
    family = FAMILY[protocol]
    if family == "ndjson":
        line = nxt.rstrip(b"\n")
        return line[: len(line) // 2] + b"\n"
    if family == "event_stream":
        headers, payload = frame_parts(nxt)
        return make_frame(headers, payload[: len(payload) // 2])
    lines = nxt.split(b"\n")
    out = []
    for line in lines:
        if line.startswith(b"data:"):
            data = line.rstrip(b"\r")
            out.append(data[: len(data) // 2])
        else:
            out.append(line)
    return b"\n".join(out)


def huge_line(protocol: str) -> bytes:
    """One stream line / frame of ``HUGE_LINE`` bytes (never terminated for SSE and NDJSON)."""
    family = FAMILY[protocol]
    if family == "sse":
        return b"data: " + b"x" * HUGE_LINE
    if family == "ndjson":
        return b'{"message": {"role": "assistant", "content": "' + b"x" * HUGE_LINE
    headers, _ = frame_parts(rest_events(protocol)[0])
    payload = json.dumps({"contentBlockIndex": 0, "delta": {"text": "x" * HUGE_LINE}}).encode()
    return make_frame(headers, payload)


def crc_corrupt(protocol: str) -> bytes:
    """The next event-stream frame with its message CRC flipped."""
    nxt = rest_events(protocol)[0]
    return nxt[:-1] + bytes([nxt[-1] ^ 0xFF])


def unterminated(protocol: str) -> bytes:
    """The next SSE event without the blank line that ends it."""
    return rest_events(protocol)[0].rstrip(b"\r\n")


def truncated(protocol: str) -> bytes:
    """The first half of the next event-stream frame."""
    nxt = rest_events(protocol)[0]
    return nxt[: len(nxt) // 2]


# -- the fault plans ---------------------------------------------------------------------------


def trickled_head_plan(first: bytes, rest: bytes) -> Plan:
    """The head trickled, then the body."""
    return [Trickle(first, INTERVAL, BUDGET), Send(rest)]


def text_head_and_body(protocol: str) -> tuple[bytes, bytes]:
    """The head and body of the valid non-streaming answer."""
    reply = dialect(protocol).text(FULL_TEXT, USAGE)
    body = body_of(reply)
    return head(reply.status, {**reply.headers, "content-length": str(len(body))}), body


def stream_after_prefix(protocol: str, tail: list[Action]) -> Plan:
    """The stream head and ``prefix_events``, then ``tail``."""
    return [Send(stream_head(protocol) + chunks(prefix_events(protocol))), *tail]


def bad_bytes_then_hang(protocol: str, data: bytes) -> Plan:
    """``prefix_events``, then ``data``, then nothing more until the client hangs up."""
    return stream_after_prefix(protocol, [Send(chunk(data)), Hang(HANG)])


def bad_bytes_then_end(protocol: str, data: bytes) -> Plan:
    """``prefix_events``, then ``data``, then the end of the body."""
    return stream_after_prefix(protocol, [Send(chunk(data) + LAST_CHUNK)])


def huge_line_plan(protocol: str) -> Plan:
    """``prefix_events``, then a huge line in pieces (a provider still producing), then a hang."""
    data = chunk(huge_line(protocol))
    return stream_after_prefix(protocol, [*in_pieces(data, 32 << 10, 0.02), Hang(HANG)])


def bomb_stream_plan(protocol: str) -> Plan:
    """A gzip-encoded stream whose decoded body grows without end past its first events."""
    body = bomb_stream_body(protocol)
    h = stream_head(protocol, {"content-encoding": "gzip"})
    return [Send(h), *in_pieces(chunk(body), 16 << 10, 0.05), Send(LAST_CHUNK)]


def bomb_plan(protocol: str) -> Plan:
    """A non-streaming gzip body of ``BOMB_BYTES`` zeros, sent in pieces."""
    body = gzip_bomb(b"", b"\0")
    return [Send(json_head(200, len(body), {"content-encoding": "gzip"})), *in_pieces(body, 16 << 10, 0.05)]


def huge_body_plan(protocol: str) -> Plan:
    """A valid answer of ``HUGE_BODY`` bytes, sent in pieces."""
    reply = dialect(protocol).text("x" * HUGE_BODY, USAGE)
    body = body_of(reply)
    return [Send(json_head(200, len(body))), *in_pieces(body, 256 << 10, 0.05)]


def headers_then_close(protocol: str, stream: bool) -> Plan:
    """A 200 head, then the connection closes (a ``content-length`` left unmet, or an empty stream)."""
    if stream:
        ctype = dialect(protocol).stream(PIECES, USAGE).headers.get("content-type", "text/event-stream")
        return [Send(head(200, {"content-type": ctype, "connection": "close"})), Close()]
    h, _ = text_head_and_body(protocol)
    return [Send(h), Close()]


def reset_plan(protocol: str, stream: bool) -> Plan:
    """Part of the answer, a pause for the client to read it, then an RST."""
    if stream:
        return stream_after_prefix(protocol, [Pause(0.1), Reset()])
    h, body = text_head_and_body(protocol)
    return [Send(h + body[: len(body) // 2]), Pause(0.1), Reset()]
