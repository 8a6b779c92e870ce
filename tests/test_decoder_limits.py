"""Caps, memory and linear time of the stream decoders (SSE, NDJSON, AWS event-stream).

A cap is enforced while bytes accumulate: a line or an SSE event past ``max_event_bytes`` (or an
event-stream frame declaring more than ``max_frame_bytes``) raises ``ResponseTooLarge`` within one
chunk of crossing the cap, so ``tracemalloc``'s peak stays near the cap however much is fed. A
decoder that raised stays failed. Splitting is linear: a 16 MiB line fed in 4 KiB chunks takes
about four times as long as a 4 MiB one (the old splitter re-copied the pending line per chunk and
took sixteen times as long).
"""

from __future__ import annotations

import functools
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from sycophant_py._eventstream import EventStreamDecoder, EventStreamError, encode_message
from sycophant_py._exceptions import ResponseInvalid, ResponseTooLarge
from sycophant_py._sse import NDJSONDecoder, SSEDecoder, SSEEvent

KIB = 1024
MIB = 1024 * KIB
CAP = 1 * MIB
CHUNK = 4 * KIB


def _feed_until_error(decoder: Any, chunk: bytes, limit: int, first: bytes = b"") -> tuple[int, list[Any]]:
    """Feed ``first``, then copies of ``chunk`` (at most ``limit`` bytes); return the bytes fed when it
    raised, and the output. Each chunk is a new object, as from a socket, so holding it costs memory."""
    fed = 0
    out: list[Any] = []
    piece = first or chunk
    while fed < limit:
        fed += len(piece)
        try:
            out += decoder.feed(bytes(memoryview(piece)))
        except ResponseTooLarge:
            return fed, out
        piece = chunk
    raise AssertionError(f"no ResponseTooLarge after {fed} bytes")


def _assert_stays_failed(decoder: Any, good: bytes) -> None:
    with pytest.raises(ResponseTooLarge):
        decoder.feed(good)
    with pytest.raises(ResponseTooLarge):
        decoder.flush()


def _assert_message(exc: BaseException, cap: int) -> None:
    text = str(exc)
    assert f"max_event_bytes={cap}" in text
    assert 'configure(limits={"max_event_bytes": ...})' in text


# -- SSE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("tail", [b"", b"\n", b"\n\n", b"\r\n\r\n"])
def test_sse_huge_line_in_one_chunk(tail: bytes) -> None:
    d = SSEDecoder(max_event_bytes=CAP)
    with pytest.raises(ResponseTooLarge) as info:
        d.feed(b"data: " + b"x" * (4 * CAP) + tail)
    assert isinstance(info.value, ResponseInvalid)
    _assert_message(info.value, CAP)
    _assert_stays_failed(d, b"data: ok\n\n")


def test_sse_huge_line_in_small_chunks_fails_within_one_chunk_of_the_cap() -> None:
    d = SSEDecoder(max_event_bytes=CAP)
    assert d.feed(b"data: ") == []
    fed, out = _feed_until_error(d, b"y" * CHUNK, 64 * CAP)
    assert out == []
    assert CAP - 6 < fed <= CAP - 6 + CHUNK
    _assert_stays_failed(d, b"\n\n")


def test_sse_event_of_many_data_lines_is_capped_on_its_sum() -> None:
    d = SSEDecoder(max_event_bytes=CAP)
    line = b"data: " + b"z" * 57 + b"\n"  # 64 bytes on the wire, 58 counted (57 + the joining \n)
    fed, out = _feed_until_error(d, line * 64, 64 * CAP)
    assert out == []
    assert CAP < fed * 58 / 64 <= CAP + 64 * 58
    _assert_stays_failed(d, b"data: ok\n\n")


def test_sse_boundaries_count_utf8_bytes_and_joining_newlines() -> None:
    # A line counts whole ("data: " included).
    assert _sse_all(SSEDecoder(max_event_bytes=16), b"data: 0123456789\n\n") == ["0123456789"]
    with pytest.raises(ResponseTooLarge, match="stream line"):
        _sse_all(SSEDecoder(max_event_bytes=16), b"data: 0123456789A\n\n")
    # An event's data counts its lines' values and the newlines joining them: 5 + 1 + 4, then 5 + 1 + 5.
    assert _sse_all(SSEDecoder(max_event_bytes=10), b"data:abcde\ndata:fghi\n\n") == ["abcde\nfghi"]
    with pytest.raises(ResponseTooLarge, match="stream event"):
        _sse_all(SSEDecoder(max_event_bytes=10), b"data:abcde\ndata:fghij\n\n")
    # UTF-8 bytes, not characters: "é" is two bytes.
    assert _sse_all(SSEDecoder(max_event_bytes=15), "data:ééééé\n\n".encode()) == ["ééééé"]
    with pytest.raises(ResponseTooLarge, match="stream line"):
        _sse_all(SSEDecoder(max_event_bytes=15), "data:éééééé\n\n".encode())
    assert _sse_all(SSEDecoder(max_event_bytes=13), "data:ééé\ndata:ééé\n\n".encode()) == ["ééé\nééé"]
    with pytest.raises(ResponseTooLarge, match="stream event"):
        _sse_all(SSEDecoder(max_event_bytes=12), "data:ééé\ndata:ééé\n\n".encode())
    # The cap is per event: many events of cap size each pass.
    assert _sse_all(SSEDecoder(max_event_bytes=10), b"data:0123\n\n" * 1000) == ["0123"] * 1000


def _sse_all(d: SSEDecoder, body: bytes, size: int = 3) -> list[str]:
    out: list[SSEEvent] = []
    for i in range(0, len(body), size):
        out += d.feed(body[i : i + size])
    out += d.flush()
    return [e.data for e in out]


def test_sse_events_before_the_oversized_one_are_returned_then_the_error() -> None:
    d = SSEDecoder(max_event_bytes=100)
    events = d.feed(b"data: one\n\ndata: two\n\ndata: " + b"x" * 500)
    assert [e.data for e in events] == ["one", "two"]
    with pytest.raises(ResponseTooLarge):
        d.feed(b"\n\n")
    with pytest.raises(ResponseTooLarge):
        d.flush()
    d = SSEDecoder(max_event_bytes=100)
    events = d.feed(b"data: one\n\n" + b"data: xxxxxxxxxx\n" * 20)  # the second event's data grows past 100
    assert [e.data for e in events] == ["one"]
    _assert_stays_failed(d, b"\n")


def test_a_long_line_in_the_middle_of_a_chunk_is_refused() -> None:
    d = SSEDecoder(max_event_bytes=100)
    events = d.feed(b"data: a\n\n" * 20 + b": " + b"c" * 200 + b"\ndata: b\n\n")
    assert [e.data for e in events] == ["a"] * 20
    _assert_stays_failed(d, b"")


def test_uncapped_decoders_take_a_huge_line() -> None:
    d = SSEDecoder()
    out = d.feed(b"data: " + b"x" * (3 * CAP))
    out += d.feed(b"\n\n")
    assert [len(e.data) for e in out] == [3 * CAP]


# -- NDJSON --------------------------------------------------------------------------------------


def test_ndjson_huge_line_in_one_chunk_and_in_small_chunks() -> None:
    d = NDJSONDecoder(max_event_bytes=CAP)
    with pytest.raises(ResponseTooLarge) as info:
        d.feed(b"{" + b" " * (2 * CAP) + b"}\n")
    _assert_message(info.value, CAP)
    _assert_stays_failed(d, b"{}\n")

    d = NDJSONDecoder(max_event_bytes=CAP)
    assert d.feed(b'{"a": 1}\n{"b": "') == ['{"a": 1}']
    fed, out = _feed_until_error(d, b"q" * CHUNK, 64 * CAP)
    assert out == []
    assert CAP - 7 < fed <= CAP - 7 + CHUNK
    _assert_stays_failed(d, b'"}\n')


def test_ndjson_lines_at_the_cap_pass_and_earlier_lines_survive_an_overflow() -> None:
    d = NDJSONDecoder(max_event_bytes=8)
    assert d.feed(b'{"a":12}\r\n{"b":34}\r') == ['{"a":12}', '{"b":34}']
    assert d.feed(b'\n{"c":5}') == []
    assert d.flush() == ['{"c":5}']
    d = NDJSONDecoder(max_event_bytes=8)
    assert d.feed(b'{"a":12}\n{"b":345}\n') == ['{"a":12}']
    _assert_stays_failed(d, b"{}\n")


# -- AWS event-stream ----------------------------------------------------------------------------


def _prelude(total: int, headers_length: int = 0) -> bytes:
    head = struct.pack(">II", total, headers_length)
    return head + struct.pack(">I", zlib.crc32(head))


def test_event_stream_frame_over_the_cap_fails_on_its_prelude() -> None:
    d = EventStreamDecoder(max_frame_bytes=CAP)
    assert d.feed(_prelude(CAP + 1)[:11]) == []
    with pytest.raises(ResponseTooLarge) as info:
        d.feed(_prelude(CAP + 1)[11:])  # the prelude is complete: no body byte was needed
    assert f"frame of {CAP + 1} bytes" in str(info.value)
    _assert_message(info.value, CAP)
    _assert_stays_failed(d, encode_message({":event-type": "x"}, b"{}"))


def test_event_stream_frame_at_the_cap_passes_and_good_frames_come_first() -> None:
    headers = {":message-type": "event", ":event-type": "chunk"}
    empty = len(encode_message(headers, b""))
    at_cap = encode_message(headers, b"a" * (CAP - empty))
    over = encode_message(headers, b"a" * (CAP - empty + 1))
    assert len(at_cap) == CAP
    d = EventStreamDecoder(max_frame_bytes=CAP)
    assert [len(m.payload) for m in d.feed(at_cap + at_cap + over)] == [CAP - empty] * 2
    _assert_stays_failed(d, at_cap)


def test_event_stream_corruption_and_truncation_are_response_invalid() -> None:
    good = encode_message({":message-type": "event", ":event-type": "x"}, b'{"k": 1}')
    assert issubclass(EventStreamError, ResponseInvalid)
    for at, match in ((2, "prelude CRC"), (len(good) - 6, "message CRC"), (len(good) - 1, "message CRC")):
        bad = good[:at] + bytes([good[at] ^ 0x40]) + good[at + 1 :]
        with pytest.raises(ResponseInvalid, match=match):
            EventStreamDecoder().feed(bad)
    d = EventStreamDecoder()
    assert d.feed(good + good[:-1]) != []
    with pytest.raises(ResponseInvalid, match="ended inside a frame"):
        d.flush()
    with pytest.raises(ResponseInvalid):
        d.feed(good)


def test_event_stream_timestamp_overflow_is_response_invalid() -> None:
    raw = bytes([2]) + b"ts" + b"\x08" + struct.pack(">q", 2**62)
    total = 16 + len(raw)
    head = struct.pack(">II", total, len(raw))
    body = head + struct.pack(">I", zlib.crc32(head)) + raw
    with pytest.raises(EventStreamError, match="timestamp"):
        EventStreamDecoder().feed(body + struct.pack(">I", zlib.crc32(body)))


# -- memory: the peak stays near the cap however much is fed --------------------------------------


def _peak(run: Callable[[], None]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _endless(decoder: Any, first: bytes, chunk: bytes) -> Callable[[], None]:
    def run() -> None:
        _feed_until_error(decoder, chunk, 64 * CAP, first)

    return run


@pytest.mark.parametrize(
    ("name", "make", "cap", "first", "chunk"),
    [
        ("sse line", SSEDecoder, CAP, b"data: ", b"x" * (64 * KIB)),
        ("sse data lines", SSEDecoder, CAP // 4, b"", b"data: x\n" * KIB),
        ("sse empty data lines", SSEDecoder, CAP // 4, b"", b"data:\n" * KIB),
        ("ndjson line", NDJSONDecoder, CAP, b"{", b"x" * (64 * KIB)),
        ("event-stream frame", EventStreamDecoder, CAP, _prelude(20 * MIB), b"x" * KIB),
    ],
)
def test_peak_memory_stays_near_the_cap(
    name: str, make: Callable[[int], Any], cap: int, first: bytes, chunk: bytes
) -> None:
    # Without the cap the SSE and NDJSON cases would hold 64 MiB (the data-line events 16 MiB of
    # one-object-per-line strings), and the event-stream decoder would buffer a 20 MiB frame.
    peak = _peak(_endless(make(cap), first, chunk))
    assert peak < 3 * cap, f"{name}: peak {peak} bytes for a cap of {cap}"


# -- linear time ---------------------------------------------------------------------------------


def _line_body(kind: str, size: int) -> bytes:
    if kind == "event-stream":
        return encode_message({":event-type": "big"}, b"x" * size)
    return b"data: " + b"x" * size + b"\n\n"


_MAKERS: dict[str, Callable[[], Any]] = {"sse": SSEDecoder, "ndjson": NDJSONDecoder, "event-stream": EventStreamDecoder}


def _chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _allocated_while_decoding(kind: str, body: bytes) -> int:
    """Bytes allocated by the decoder's calls, summed over calls: each call's peak above its start."""
    d = _MAKERS[kind]()
    calls: list[Callable[[], Any]] = [functools.partial(d.feed, c) for c in _chunks(body, CHUNK)]
    calls.append(d.flush)
    total = 0
    tracemalloc.start()
    try:
        for call in calls:
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            call()
            total += tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    return total


@pytest.mark.parametrize("kind", ["sse", "ndjson", "event-stream"])
@pytest.mark.parametrize("size", [1 * MIB, 16 * MIB])
def test_one_long_line_in_small_chunks_costs_linear_work(kind: str, size: int) -> None:
    # Counting bytes allocated, not seconds: the splitter this replaced copied the pending line on
    # every chunk, 131x the line's size for 1 MiB in 4 KiB chunks and 515x for 4 MiB.
    work = _allocated_while_decoding(kind, _line_body(kind, size))
    assert work < 4 * size, f"{kind}: {work / size:.1f}x the line's size allocated"


def _best_seconds(kind: str, chunks: list[bytes]) -> float:
    best = float("inf")
    for _ in range(3):
        d = _MAKERS[kind]()
        start = time.perf_counter()
        count = sum(len(d.feed(c)) for c in chunks) + len(d.flush())
        best = min(best, time.perf_counter() - start)
        assert count == 1
    return best


@pytest.mark.parametrize("kind", ["sse", "ndjson", "event-stream"])
def test_small_chunks_cost_a_constant_factor_over_one_chunk(kind: str) -> None:
    body = _line_body(kind, 4 * MIB)
    whole = _best_seconds(kind, [body])
    chunked = _best_seconds(kind, _chunks(body, CHUNK))
    # Linear: the 1024 chunks add about a microsecond each. The old splitter took 0.8 s here, ~200x.
    assert chunked < 20 * whole + 0.02, f"{kind}: whole {whole:.4f} s, 1024 chunks {chunked:.4f} s"
