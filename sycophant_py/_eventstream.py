"""The AWS binary event-stream framing (``application/vnd.amazon.eventstream``), sans-I/O.

Bedrock's ``converse-stream`` body is a sequence of messages, each framed as::

    +----------------+-----------------+-------------+---------+---------+-------------+
    | total length   | headers length  | prelude CRC | headers | payload | message CRC |
    | uint32 BE      | uint32 BE       | CRC32 of    |         |         | CRC32 of    |
    | (whole frame)  |                 | first 8 B   |         |         | all before  |
    +----------------+-----------------+-------------+---------+---------+-------------+

A header is ``name length (uint8) | name (UTF-8) | type (uint8) | value``; the value types are
0/1 boolean true/false (no bytes), 2 int8, 3 int16, 4 int32, 5 int64, 6 byte array and 7 string
(a uint16 length, then the bytes), 8 timestamp (int64 milliseconds since the epoch) and 9 UUID
(16 bytes). All integers are big-endian and signed.

:class:`EventStreamDecoder` takes body chunks of any size (a frame may be split anywhere, even
inside its prelude) and returns whole :class:`EventStreamMessage` objects. Both CRCs are checked,
the declared lengths are bounded as soon as the prelude is in (so a corrupt length never makes it
wait for megabytes), and a header name may appear once. A corrupt or truncated frame raises
:class:`EventStreamError`, a :class:`~sycophant_py.ResponseInvalid` (and a ``ValueError``); a frame
whose declared length is past ``max_frame_bytes`` raises :class:`~sycophant_py.ResponseTooLarge`
before its body is buffered. The stream core turns either into an ``error`` event; the decoder then
stays failed (a byte stream cannot be resynchronised, so the caller stops feeding it).
:func:`encode_message` is the inverse, for tests and fakes.
"""

from __future__ import annotations

import datetime as _dt
import json
import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from sycophant_py._exceptions import ResponseInvalid, ResponseTooLarge

__all__ = [
    "EventStreamDecoder",
    "EventStreamError",
    "EventStreamMessage",
    "HeaderValue",
    "MAX_HEADERS_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "encode_message",
]

HeaderValue: TypeAlias = bool | int | bytes | str | _dt.datetime | uuid.UUID
"""A decoded header value (booleans, integers, byte arrays, strings, timestamps, UUIDs)."""

_PRELUDE = struct.Struct(">III")
_PRELUDE_LENGTH = 12
_CRC_LENGTH = 4
_MIN_LENGTH = _PRELUDE_LENGTH + _CRC_LENGTH
MAX_HEADERS_LENGTH = 128 * 1024
"""Largest headers section accepted (the limit AWS SDKs enforce)."""
MAX_MESSAGE_LENGTH = 24 * 1024 * 1024 + MAX_HEADERS_LENGTH + _MIN_LENGTH
"""Largest frame accepted: a 24 MiB payload plus the largest headers section and the framing."""

_INTS: dict[int, struct.Struct] = {
    2: struct.Struct(">b"),
    3: struct.Struct(">h"),
    4: struct.Struct(">i"),
    5: struct.Struct(">q"),
}
_U16 = struct.Struct(">H")
_I64 = struct.Struct(">q")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class EventStreamError(ResponseInvalid, ValueError):
    """A frame is corrupt (bad CRC, impossible lengths, unknown header type) or truncated."""


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    """One decoded frame: its headers and its payload bytes."""

    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    """Headers by name (``:message-type``, ``:event-type``, ``:exception-type``, ``:content-type``...)."""
    payload: bytes = b""
    """The payload (JSON for Bedrock's events and exceptions)."""

    def _text(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    @property
    def message_type(self) -> str:
        """``event``, ``exception`` or ``error`` (``event`` when the header is absent)."""
        return self._text(":message-type") or "event"

    @property
    def event_type(self) -> str | None:
        """The ``:event-type`` header (``messageStart``, ``contentBlockDelta``...)."""
        return self._text(":event-type")

    @property
    def exception_type(self) -> str | None:
        """The ``:exception-type`` header of an exception frame (``throttlingException``...)."""
        return self._text(":exception-type")

    def json(self) -> Any:
        """The payload decoded as JSON (``{}`` for an empty payload).

        Raises:
            ValueError: the payload is not valid JSON.
        """
        return json.loads(self.payload) if self.payload else {}


def _need(data: memoryview, pos: int, size: int) -> None:
    if pos + size > len(data):
        raise EventStreamError("event-stream header runs past the end of the headers section")


def _header_value(kind: int, data: memoryview, pos: int) -> tuple[HeaderValue, int]:
    if kind in (0, 1):
        return kind == 0, pos
    if kind in _INTS:
        fmt = _INTS[kind]
        _need(data, pos, fmt.size)
        return int(fmt.unpack_from(data, pos)[0]), pos + fmt.size
    if kind in (6, 7):
        _need(data, pos, 2)
        (size,) = _U16.unpack_from(data, pos)
        pos += 2
        _need(data, pos, size)
        raw = bytes(data[pos : pos + size])
        if kind == 6:
            return raw, pos + size
        try:
            return raw.decode("utf-8"), pos + size
        except UnicodeDecodeError as exc:
            raise EventStreamError(f"event-stream string header is not UTF-8: {exc}") from None
    if kind == 8:
        _need(data, pos, 8)
        (millis,) = _I64.unpack_from(data, pos)
        try:
            return _EPOCH + _dt.timedelta(milliseconds=millis), pos + 8
        except OverflowError:
            raise EventStreamError(f"event-stream timestamp header {millis} ms is out of range") from None
    if kind == 9:
        _need(data, pos, 16)
        return uuid.UUID(bytes=bytes(data[pos : pos + 16])), pos + 16
    raise EventStreamError(f"unknown event-stream header value type {kind}")


def _parse_headers(data: memoryview) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos = 0
    while pos < len(data):
        size = data[pos]
        pos += 1
        _need(data, pos, size + 1)
        try:
            name = bytes(data[pos : pos + size]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventStreamError(f"event-stream header name is not UTF-8: {exc}") from None
        pos += size
        if name in headers:
            raise EventStreamError(f"event-stream header {name!r} appears twice")
        kind = data[pos]
        headers[name], pos = _header_value(kind, data, pos + 1)
    return headers


class EventStreamDecoder:
    """Incremental decoder: ``feed(bytes) -> [messages]`` and ``flush()`` at the end of the body.

    Pure: no I/O, no clock. A frame split across any number of ``feed`` calls is returned once,
    whole, by the call that completes it.

    Args:
        max_frame_bytes: Largest frame accepted (its declared total length, framing included);
            past it ``feed`` raises :class:`~sycophant_py.ResponseTooLarge` as soon as the prelude
            is in, before the body is buffered. None: only :data:`MAX_MESSAGE_LENGTH` applies.
    """

    __slots__ = ("_buffer", "_error", "_max")

    def __init__(self, max_frame_bytes: int | None = None) -> None:
        self._buffer = bytearray()
        self._error: ResponseInvalid | None = None
        self._max = max_frame_bytes

    def _frame_length(self) -> int | None:
        """The total length of the frame at the buffer's start, once its prelude is complete."""
        if len(self._buffer) < _PRELUDE_LENGTH:
            return None
        total, headers_length, crc = _PRELUDE.unpack_from(self._buffer, 0)
        actual = zlib.crc32(memoryview(self._buffer)[:8])
        if actual != crc:
            raise EventStreamError(f"event-stream prelude CRC mismatch: expected {crc:#010x}, computed {actual:#010x}")
        if self._max is not None and total > self._max:
            raise ResponseTooLarge(
                f"event-stream frame of {total} bytes is larger than max_event_bytes={self._max} bytes; "
                'raise the limit with configure(limits={"max_event_bytes": ...})'
            )
        if total < _MIN_LENGTH or total > MAX_MESSAGE_LENGTH:
            raise EventStreamError(f"event-stream frame length {total} is out of range")
        if headers_length > MAX_HEADERS_LENGTH or headers_length > total - _MIN_LENGTH:
            raise EventStreamError(f"event-stream headers length {headers_length} does not fit frame of {total}")
        return int(total)

    def _decode_one(self, total: int) -> EventStreamMessage:
        frame = memoryview(self._buffer)[:total]
        try:
            (expected,) = struct.unpack_from(">I", frame, total - _CRC_LENGTH)
            actual = zlib.crc32(frame[: total - _CRC_LENGTH])
            if actual != expected:
                raise EventStreamError(
                    f"event-stream message CRC mismatch: expected {expected:#010x}, computed {actual:#010x}"
                )
            headers_length = _PRELUDE.unpack_from(frame, 0)[1]
            headers_end = _PRELUDE_LENGTH + headers_length
            headers = _parse_headers(frame[_PRELUDE_LENGTH:headers_end])
            payload = bytes(frame[headers_end : total - _CRC_LENGTH])
        finally:
            frame.release()
        return EventStreamMessage(headers, payload)

    def feed(self, data: bytes) -> list[EventStreamMessage]:
        """Add body bytes; return the frames they complete (possibly none).

        When a corrupt frame follows good ones in the same data, the good frames are returned and
        the error is raised by the next ``feed`` or ``flush``, so no decoded content is lost.

        Raises:
            EventStreamError: a frame is corrupt (the decoder stays failed afterwards).
            ResponseTooLarge: a frame declares a length past ``max_frame_bytes`` (likewise).
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        out: list[EventStreamMessage] = []
        try:
            while True:
                total = self._frame_length()
                if total is None or len(self._buffer) < total:
                    return out
                out.append(self._decode_one(total))
                del self._buffer[:total]
        except ResponseInvalid as exc:
            self._error = exc
            self._buffer = bytearray()
            if out:
                return out  # the frames before the corrupt one are good: the error is raised next call
            raise

    def flush(self) -> list[EventStreamMessage]:
        """The body ended: nothing may be left over.

        Raises:
            EventStreamError: the body ended inside a frame (or the decoder had already failed).
        """
        if self._error is not None:
            raise self._error
        if self._buffer:
            left = len(self._buffer)
            self._buffer.clear()
            self._error = EventStreamError(f"event stream ended inside a frame ({left} bytes left over)")
            raise self._error
        return []


def _encode_header(name: str, value: HeaderValue) -> bytes:
    raw_name = name.encode("utf-8")
    head = bytes([len(raw_name)]) + raw_name
    if isinstance(value, bool):
        return head + bytes([0 if value else 1])
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return head + b"\x04" + _INTS[4].pack(value)
        return head + b"\x05" + _I64.pack(value)
    if isinstance(value, bytes):
        return head + b"\x06" + _U16.pack(len(value)) + value
    if isinstance(value, str):
        data = value.encode("utf-8")
        return head + b"\x07" + _U16.pack(len(data)) + data
    if isinstance(value, _dt.datetime):
        millis = (value - _EPOCH) // _dt.timedelta(milliseconds=1)
        return head + b"\x08" + _I64.pack(millis)
    return head + b"\x09" + value.bytes


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes = b"") -> bytes:
    """Frame one message (the inverse of the decoder; integers are sent as int32 or int64).

    Args:
        headers: Header names and values (``bool``, ``int``, ``bytes``, ``str``, aware ``datetime``
            or ``UUID``).
        payload: The payload bytes.

    Returns:
        The frame, CRCs included.
    """
    head = b"".join(_encode_header(k, v) for k, v in headers.items())
    total = _MIN_LENGTH + len(head) + len(payload)
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))
