from __future__ import annotations

import random

import pytest

from sycophant_py.wire import NDJSONDecoder, SSEDecoder, SSEEvent


def _all(decoder: SSEDecoder, chunks: list[bytes]) -> list[SSEEvent]:
    out: list[SSEEvent] = []
    for c in chunks:
        out.extend(decoder.feed(c))
    out.extend(decoder.flush())
    return out


BODY = (
    ": keep-alive comment\r\n"
    "event: message_start\r\n"
    'data: {"a": "héllo ✓"}\r\n'
    "\r\n"
    "data: line one\n"
    "data: line two\n"
    "id: 7\n"
    "retry: 1500\n"
    "\n"
    "data:no-space\r"
    "\r"
    "event: ping\n"
    "data: {}\n"
    "\n"
    "data: [DONE]\n\n"
).encode()

EXPECTED = [
    SSEEvent('{"a": "héllo ✓"}', "message_start", None, None),
    SSEEvent("line one\nline two", "message", "7", 1500),
    SSEEvent("no-space", "message", "7", 1500),
    SSEEvent("{}", "ping", "7", 1500),
    SSEEvent("[DONE]", "message", "7", 1500),
]


def test_whole_body() -> None:
    assert _all(SSEDecoder(), [BODY]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_every_fixed_split(size: int) -> None:
    chunks = [BODY[i : i + size] for i in range(0, len(BODY), size)]
    assert _all(SSEDecoder(), chunks) == EXPECTED


def test_random_splits_including_mid_utf8_and_crlf() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(BODY)), rng.randint(1, 12)))
        chunks = [BODY[a:b] for a, b in zip([0, *cuts], [*cuts, len(BODY)], strict=True)]
        assert _all(SSEDecoder(), chunks) == EXPECTED


def test_cr_split_from_lf_is_one_line_ending() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: x\r") == []
    assert d.feed(b"\ndata: y\r\n\r\n") == [SSEEvent("x\ny")]


def test_last_event_without_blank_line_is_flushed() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: tail") == []
    assert d.flush() == [SSEEvent("tail")]


def test_empty_data_and_unknown_fields_are_ignored() -> None:
    assert _all(SSEDecoder(), [b"foo: bar\n\nevent: x\n\ndata: 1\n\n"]) == [SSEEvent("1")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert _all(SSEDecoder(), [b"data: \xff\xfe\n\n"]) == [SSEEvent("\ufffd\ufffd")]


def test_ndjson_lines() -> None:
    body = b'{"a":1}\n\n{"b":"\xc3\xa9"}\r\n{"c":3}'
    for size in (1, 2, 4, 100):
        d = NDJSONDecoder()
        out: list[str] = []
        for i in range(0, len(body), size):
            out.extend(d.feed(body[i : i + size]))
        out.extend(d.flush())
        assert out == ['{"a":1}', '{"b":"é"}', '{"c":3}']


def test_retry_takes_only_ascii_digits() -> None:
    # "²".isdigit() is true but int("²") raises: such a field is ignored, like any invalid retry.
    body = "retry: ²\ndata: a\n\nretry: ٣\ndata: b\n\nretry: 250\ndata: c\n\n".encode()
    assert [(e.data, e.retry) for e in _all(SSEDecoder(), [body])] == [("a", None), ("b", None), ("c", 250)]
