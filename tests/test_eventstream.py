"""The AWS binary event-stream decoder: framing, every header type, CRCs, limits and splits at every byte.

Frames are built three ways: by the library's :func:`encode_message`, by the independent encoder of
the Bedrock contract dialect, and by hand (for header types the encoder does not emit). Recorded
Bedrock streams are cross-checked against botocore's own ``EventStreamBuffer``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._eventstream import (
    MAX_HEADERS_LENGTH,
    MAX_MESSAGE_LENGTH,
    EventStreamDecoder,
    EventStreamError,
    EventStreamMessage,
    encode_message,
)
from sycophant_py.testing import Reply, ScriptedServer
from tests.contract.dialects.bedrock_converse import CREDENTIALS, frame

RECORDINGS = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "conformance"
    / "sycophant"
    / "priv"
    / "fixtures"
    / "recordings"
    / "amazon_bedrock"
).resolve()


def _raw_frame(headers: bytes, payload: bytes) -> bytes:
    """A frame from raw header bytes (any header type), with correct CRCs."""
    total = 16 + len(headers) + len(payload)
    prelude = struct.pack(">II", total, len(headers))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _h(name: str, kind: int, value: bytes = b"") -> bytes:
    return bytes([len(name)]) + name.encode() + bytes([kind]) + value


def decode_all(chunks: list[bytes]) -> list[EventStreamMessage]:
    d = EventStreamDecoder()
    out: list[EventStreamMessage] = []
    for c in chunks:
        out += d.feed(c)
    out += d.flush()
    return out


def _sample_body() -> bytes:
    return b"".join(
        [
            frame("messageStart", {"role": "assistant"}),
            frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo ✓"}}),
            encode_message({":message-type": "event", ":event-type": "empty"}),
            frame("messageStop", {"stopReason": "end_turn"}),
            frame("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}}),
        ]
    )


def _recorded_streams() -> list[bytes]:
    out = []
    for path in sorted(RECORDINGS.rglob("*.json")):
        body = json.loads(path.read_bytes())["response"]["body"]
        if isinstance(body, str):
            out.append(base64.b64decode(body))
    return out


# -- framing and header types --------------------------------------------------------------------


def test_one_frame_decodes_headers_and_payload() -> None:
    (msg,) = decode_all([frame("contentBlockDelta", {"delta": {"text": "hi"}})])
    assert msg.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert msg.message_type == "event"
    assert msg.event_type == "contentBlockDelta"
    assert msg.exception_type is None
    assert msg.json() == {"delta": {"text": "hi"}}


def test_every_header_value_type() -> None:
    stamp = dt.datetime(2026, 6, 2, 11, 47, 25, 316000, tzinfo=dt.UTC)
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    millis = int((stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(milliseconds=1))
    headers = b"".join(
        [
            _h("t", 0),
            _h("f", 1),
            _h("i8", 2, struct.pack(">b", -5)),
            _h("i16", 3, struct.pack(">h", -300)),
            _h("i32", 4, struct.pack(">i", -70000)),
            _h("i64", 5, struct.pack(">q", -(2**40))),
            _h("bytes", 6, struct.pack(">H", 3) + b"\x00\xff\x10"),
            _h("str", 7, struct.pack(">H", 4) + "äö".encode()),
            _h("ts", 8, struct.pack(">q", millis)),
            _h("uuid", 9, uid.bytes),
        ]
    )
    (msg,) = decode_all([_raw_frame(headers, b"payload")])
    assert dict(msg.headers) == {
        "t": True,
        "f": False,
        "i8": -5,
        "i16": -300,
        "i32": -70000,
        "i64": -(2**40),
        "bytes": b"\x00\xff\x10",
        "str": "äö",
        "ts": stamp,
        "uuid": uid,
    }
    assert msg.payload == b"payload"


def test_encoder_round_trips_every_type_it_emits() -> None:
    headers: dict[str, Any] = {
        "b": True,
        "n": False,
        "i": 7,
        "big": 2**40,
        "raw": b"\x01",
        "s": "x",
        "ts": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        "u": uuid.uuid4(),
    }
    (msg,) = decode_all([encode_message(headers, b"{}")])
    assert dict(msg.headers) == headers
    assert msg.json() == {}


def test_empty_frame_and_empty_payload() -> None:
    (msg,) = decode_all([_raw_frame(b"", b"")])
    assert msg.headers == {}
    assert msg.payload == b""
    assert msg.message_type == "event"  # the default when the header is absent
    assert msg.json() == {}


def test_matches_botocore_on_recorded_streams() -> None:
    from botocore.eventstream import EventStreamBuffer

    streams = _recorded_streams()
    assert len(streams) >= 3
    for body in streams:
        ref = EventStreamBuffer()
        ref.add_data(body)
        expected = [(m.headers, m.payload) for m in ref]
        assert [(dict(m.headers), m.payload) for m in decode_all([body])] == expected


# -- splits -------------------------------------------------------------------------------------


def test_split_at_every_byte_gives_the_same_frames() -> None:
    body = _sample_body()
    whole = decode_all([body])
    assert len(whole) == 5
    for i in range(len(body) + 1):
        assert decode_all([body[:i], body[i:]]) == whole, i


def test_one_byte_at_a_time() -> None:
    body = _sample_body()
    d = EventStreamDecoder()
    seen: list[int] = []
    out: list[EventStreamMessage] = []
    for i in range(len(body)):
        got = d.feed(body[i : i + 1])
        if got:
            seen.append(i)
        out += got
    assert out == decode_all([body])
    assert len(seen) == 5  # each frame is returned by the call that completes it


def test_recorded_streams_split_everywhere() -> None:
    for body in _recorded_streams()[:3]:
        whole = decode_all([body])
        for i in range(0, len(body) + 1, 7):
            assert decode_all([body[:i], body[i:]]) == whole


def test_several_frames_in_one_chunk() -> None:
    body = _sample_body()
    d = EventStreamDecoder()
    assert len(d.feed(body + body[:5])) == 5
    assert len(d.feed(body[5:])) == 5
    assert d.flush() == []


# -- corruption ---------------------------------------------------------------------------------


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("at", "match"),
    [
        (0, "prelude CRC"),
        (5, "prelude CRC"),
        (9, "prelude CRC"),
        (13, "message CRC"),
        (-6, "message CRC"),
        (-1, "message CRC"),
    ],
)
def test_crc_failures(at: int, match: str) -> None:
    good = frame("messageStart", {"role": "assistant"})
    bad = _flip(good, at % len(good))
    with pytest.raises(EventStreamError, match=match):
        decode_all([bad])
    assert issubclass(EventStreamError, ValueError)


def test_corrupt_frame_after_good_ones_and_decoder_stays_failed() -> None:
    good = frame("messageStart", {"role": "assistant"})
    d = EventStreamDecoder()
    assert len(d.feed(good + good + _flip(good, len(good) - 2))) == 2  # the good frames are not lost
    with pytest.raises(EventStreamError, match="message CRC"):
        d.feed(good)
    with pytest.raises(EventStreamError):
        d.feed(good)
    with pytest.raises(EventStreamError):
        d.flush()


def _prelude(total: int, headers_length: int) -> bytes:
    head = struct.pack(">II", total, headers_length)
    return head + struct.pack(">I", zlib.crc32(head))


@pytest.mark.parametrize(
    ("total", "headers_length", "match"),
    [
        (15, 0, "frame length"),
        (MAX_MESSAGE_LENGTH + 1, 0, "frame length"),
        (100, 85, "headers length"),
        (MAX_HEADERS_LENGTH + 100, MAX_HEADERS_LENGTH + 1, "headers length"),
    ],
)
def test_impossible_lengths_fail_as_soon_as_the_prelude_is_in(total: int, headers_length: int, match: str) -> None:
    d = EventStreamDecoder()
    with pytest.raises(EventStreamError, match=match):
        d.feed(_prelude(total, headers_length))


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        (_h("x", 10), "unknown event-stream header value type 10"),
        (_h("x", 7, struct.pack(">H", 50) + b"abc"), "runs past"),
        (_h("x", 4, b"\x00\x01"), "runs past"),
        (bytes([20]) + b"short", "runs past"),
        (_h("x", 7, struct.pack(">H", 2) + b"\xff\xfe"), "not UTF-8"),
        (bytes([2]) + b"\xff\xfe" + bytes([0]), "name is not UTF-8"),
        (_h("x", 0) + _h("x", 1), "appears twice"),
    ],
)
def test_bad_headers(headers: bytes, match: str) -> None:
    with pytest.raises(EventStreamError, match=match):
        decode_all([_raw_frame(headers, b"{}")])


def test_truncated_body() -> None:
    body = _sample_body()
    d = EventStreamDecoder()
    assert len(d.feed(body[:-3])) == 4
    with pytest.raises(EventStreamError, match="ended inside a frame"):
        d.flush()


# -- through the stream core: a corrupt frame is ResponseInvalid, keeping the partial content -------


def _bedrock_provider(url: str) -> None:
    syc.configure(
        providers={"bedrock-es": dict(CREDENTIALS)},
        custom_providers={"bedrock-es": {"base_url": url, "api": "bedrock_converse", "auth_strategy": "bedrock"}},
    )


@pytest.mark.parametrize("chunk", [None, 1, 13])
def test_corrupt_frame_mid_stream_becomes_response_invalid(chunk: int | None) -> None:
    good = [
        frame("messageStart", {"role": "assistant"}),
        frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "partial "}}),
    ]
    bad = _flip(frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "lost"}}), 30)
    body = b"".join([*good, bad, frame("messageStop", {"stopReason": "end_turn"})])
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    with ScriptedServer() as srv:
        srv.add(Reply(200, {"content-type": "application/vnd.amazon.eventstream"}, chunks))
        _bedrock_provider(srv.url)
        events = list(syc.stream_text("bedrock-es:anthropic.claude-x", "Hi"))
    last = events[-1]
    assert last.type == "error"
    assert isinstance(last.error, syc.ResponseInvalid)
    assert "message CRC" in str(last.error)
    assert last.response is not None
    assert last.response.text == "partial "
    assert [e.delta for e in events if e.type == "text_delta"] == ["partial "]


def test_body_ending_inside_a_frame_is_response_invalid() -> None:
    body = (
        frame("messageStart", {"role": "assistant"})
        + frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}})[:-7]
    )
    with ScriptedServer() as srv:
        srv.add(Reply(200, {"content-type": "application/vnd.amazon.eventstream"}, [body[:10], body[10:]]))
        _bedrock_provider(srv.url)
        resp = syc.stream_text("bedrock-es:m", "Hi").response()
    assert resp.finish_reason == "error"
    assert isinstance(resp.error, syc.ResponseInvalid)
    assert "ended inside a frame" in str(resp.error)
