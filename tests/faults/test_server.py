"""The fault server and the fault bodies do what the matrix relies on (checked with plain sockets and zlib)."""

from __future__ import annotations

import socket
import struct
import time
import zlib

import pytest

from tests.faults import plans
from tests.faults.harness import PeakRss
from tests.faults.server import LAST_CHUNK, Close, FaultServer, Hang, Pause, Reset, Send, Trickle, chunk, head

REQUEST = b"POST /v1/x HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\nx-api-key: k\r\n\r\n{}"


def _connect(srv: FaultServer) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(5)
    return s


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while data := s.recv(65536):
        out += data
    return out


def test_records_requests_and_keeps_the_connection_alive() -> None:
    reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    with FaultServer() as srv:
        srv.add([Send(reply)])
        with _connect(srv) as s:
            s.sendall(REQUEST)
            assert s.recv(100) == reply
            s.sendall(REQUEST)  # the last plan repeats, on the same connection
            assert s.recv(100) == reply
        assert not srv.wait_client_closed(srv.connections, 1.0)
        assert len(srv.requests) == 2
        req = srv.requests[0]
        assert (req.method, req.path, req.body, req.headers["x-api-key"]) == ("POST", "/v1/x", b"{}", "k")
        assert len(srv.connections) == 1
        conn = srv.connections[0]
        assert conn.requests == 2
        assert conn.client_close_kind == "eof"
        assert srv.open_count == 0


def test_trickle_sends_one_byte_per_interval_then_the_rest_after_the_budget() -> None:
    data = b"abcdefghij"
    with FaultServer() as srv:
        srv.add([Trickle(data, 0.05, budget=0.22), Close()])
        with _connect(srv) as s:
            s.sendall(REQUEST)
            arrivals = []
            while part := s.recv(100):
                arrivals.append((time.monotonic(), part))
    assert b"".join(p for _, p in arrivals) == data
    assert arrivals[0][1] == b"a"  # one byte first
    assert len(arrivals[-1][1]) > 1  # the rest at once when the budget ran out
    assert 0.18 <= arrivals[-1][0] - arrivals[0][0] < 1.0


def test_reset_is_a_tcp_rst() -> None:
    with FaultServer() as srv:
        srv.add([Send(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart"), Pause(0.05), Reset()])
        with _connect(srv) as s:
            s.sendall(REQUEST)
            time.sleep(0.2)
            with pytest.raises(ConnectionResetError):
                _read_all(s)


def test_hang_notices_the_client_hanging_up_at_once() -> None:
    with FaultServer() as srv:
        srv.add([Hang(10)])
        s = _connect(srv)
        s.sendall(REQUEST)
        time.sleep(0.1)
        assert srv.open_count == 1
        closed = time.monotonic()
        s.close()
        assert not srv.wait_client_closed(srv.connections, 1.0)
        conn = srv.connections[0]
        assert conn.client_closed_at is not None
        assert conn.client_closed_at - closed < 0.2
        assert srv.open_count == 0


def test_stop_ends_hanging_handlers_and_joins_every_thread() -> None:
    srv = FaultServer().start()
    srv.add([Hang(60)])
    socks = [_connect(srv) for _ in range(3)]
    for s in socks:
        s.sendall(REQUEST)
    time.sleep(0.1)
    assert srv.open_count == 3
    assert srv.threads_alive == 4  # the acceptor and one handler per connection
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 1
    assert srv.threads_alive == 0
    for s in socks:
        assert _read_all(s) == b""  # the server closed it
        s.close()
    assert all(c.server_closed_at is not None for c in srv.connections)


def test_unparseable_request_lines_are_counted() -> None:
    with FaultServer() as srv:
        with _connect(srv) as s:
            s.sendall(b"POST /a HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\nPOST /b HT\r\n\r\n")
            assert _read_all(s) == b""
        assert len(srv.bad_requests) == 1
        assert srv.requests == []


def test_callable_scripts_see_the_request() -> None:
    with FaultServer() as srv:
        srv.add(plans.redirect_to("http://127.0.0.1:1"))
        with _connect(srv) as s:
            s.sendall(REQUEST)
            answer = s.recv(1000)
    assert answer.startswith(b"HTTP/1.1 307 Temporary Redirect\r\n")
    assert b"location: http://127.0.0.1:1/v1/x?hop=1\r\n" in answer


def test_head_and_chunk_framing() -> None:
    assert head(429, {"retry-after": "0"}) == b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 0\r\n\r\n"
    assert chunk(b"hello") + LAST_CHUNK == b"5\r\nhello\r\n0\r\n\r\n"


@pytest.mark.parametrize("protocol", plans.PROTOCOLS)
def test_streams_split_into_real_events_around_the_prefix(protocol: str) -> None:
    prefix, rest = plans.prefix_events(protocol), plans.rest_events(protocol)
    assert prefix
    assert rest
    assert b'"lo "' in prefix[-1]
    assert b"".join(prefix + rest) == plans.body_of(plans.dialect(protocol).stream(plans.PIECES, plans.USAGE))
    broken = plans.invalid_json(protocol)
    assert broken != rest[0]
    assert len(broken) < len(rest[0])


def test_event_stream_faults_break_exactly_what_they_say() -> None:
    nxt = plans.rest_events("bedrock_converse")[0]
    bad = plans.crc_corrupt("bedrock_converse")
    assert bad[:-4] == nxt[:-4]
    assert struct.unpack(">I", bad[-4:])[0] != zlib.crc32(bad[:-4])
    broken = plans.invalid_json("bedrock_converse")
    assert struct.unpack(">I", broken[-4:])[0] == zlib.crc32(broken[:-4])  # valid framing, bad JSON
    assert len(plans.truncated("bedrock_converse")) < len(nxt)
    huge = plans.huge_line("bedrock_converse")
    assert struct.unpack(">I", huge[:4])[0] == len(huge) > plans.HUGE_LINE


def test_gzip_bombs_are_small_on_the_wire_and_huge_decoded() -> None:
    body = plans.bomb_stream_body("openai_chat")
    assert len(body) < 300_000
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    decoded = 0
    first = d.decompress(body[:4096], 1 << 20)
    assert first.startswith(b"".join(plans.prefix_events("openai_chat")))
    decoded += len(first)
    rest = d.unconsumed_tail + body[4096:]
    while rest:
        decoded += len(d.decompress(rest, 1 << 20))
        rest = d.unconsumed_tail
    decoded += len(d.flush())
    assert decoded >= plans.BOMB_BYTES


@pytest.mark.parametrize("kernel", [True, False])
def test_the_rss_meter_sees_a_short_lived_allocation(kernel: bool) -> None:
    meter = PeakRss(kernel=kernel).start()
    block = bytearray(96 << 20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    time.sleep(0.02)
    del block
    assert meter.growth_kb() > 80 << 10
    assert PeakRss(kernel=kernel).start().growth_kb() < 16 << 10
