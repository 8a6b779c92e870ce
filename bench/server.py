"""A tiny loopback HTTP/1.1 server replaying pre-rendered LLM responses.

Run as ``python bench/server.py``: it binds 127.0.0.1 on a free port, prints ``PORT <n>`` and serves until
stdin closes.  Every response body is rendered once at start-up, so serving costs a dict lookup and a
write.  JSON answers use ``Content-Length`` and keep-alive; SSE answers use chunked transfer encoding with
one HTTP chunk per SSE event, as real providers send them.  The route is the first path segment
(``/s50/v1/chat/completions``); see ``common.ROUTES``.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ANTHROPIC_MODEL,
    CHUNKS,
    CREATED,
    INPUT_TOKENS,
    MODEL,
    PACE_SECONDS,
    TOOL_ARG_PIECES,
    TOOL_CALLS,
    words,
)

SSE_HEADERS = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


def _usage(out: int) -> dict[str, Any]:
    return {"prompt_tokens": INPUT_TOKENS, "completion_tokens": out, "total_tokens": INPUT_TOKENS + out}


def _usage_chunk(out: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [],
        "usage": _usage(out),
    }


def chat_json() -> bytes:
    """Non-streaming OpenAI chat completion."""
    text = "".join(words(12))
    return _dump(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(12),
        }
    ).encode()


def chat_stream_events(n: int) -> list[str]:
    """``n`` content deltas, a finish chunk, a usage-only chunk and ``[DONE]``."""
    events = [_dump(_chunk({"role": "assistant", "content": "", "refusal": None}))]
    events += [_dump(_chunk({"content": w})) for w in words(n)]
    events.append(_dump(_chunk({}, "stop")))
    events.append(_dump(_usage_chunk(n)))
    events.append("[DONE]")
    return [f"data: {e}\n\n" for e in events]


def tool_stream_events() -> list[str]:
    """Two tool calls streamed as ``tool_calls`` deltas addressed by index."""
    events = [_dump(_chunk({"role": "assistant", "content": None}))]
    for index, (name, args) in enumerate(TOOL_CALLS):
        events.append(
            _dump(
                _chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": f"call_{index}",
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
        )
        raw = _dump(args)
        step = -(-len(raw) // TOOL_ARG_PIECES)
        for i in range(TOOL_ARG_PIECES):
            piece = raw[i * step : (i + 1) * step]
            events.append(_dump(_chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})))
    events.append(_dump(_chunk({}, "tool_calls")))
    events.append(_dump(_usage_chunk(2 * TOOL_ARG_PIECES + 2)))
    events.append("[DONE]")
    return [f"data: {e}\n\n" for e in events]


def anthropic_stream_events(n: int = 50) -> list[str]:
    """Anthropic Messages stream: message_start, one text block, message_delta with usage, message_stop."""

    def ev(kind: str, payload: dict[str, Any]) -> str:
        return f"event: {kind}\ndata: {_dump({'type': kind, **payload})}\n\n"

    out = [
        ev(
            "message_start",
            {
                "message": {
                    "id": "msg_bench",
                    "type": "message",
                    "role": "assistant",
                    "model": ANTHROPIC_MODEL,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1},
                }
            },
        )
    ]
    out.append(ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
    out.append('event: ping\ndata: {"type": "ping"}\n\n')
    out += [ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": w}}) for w in words(n)]
    out.append(ev("content_block_stop", {"index": 0}))
    out.append(
        ev(
            "message_delta",
            {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": n}},
        )
    )
    out.append(ev("message_stop", {}))
    return out


def _chunked(events: list[str]) -> list[bytes]:
    parts = []
    for e in events:
        data = e.encode()
        parts.append(b"%x\r\n%s\r\n" % (len(data), data))
    return parts


def _json_response(body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


def render() -> tuple[dict[str, bytes], dict[str, list[bytes]]]:
    """All responses, fully rendered: whole responses by route, and paced routes as per-event chunks."""
    whole = {
        "json": _json_response(chat_json()),
        "tools": SSE_HEADERS + b"".join(_chunked(tool_stream_events())) + b"0\r\n\r\n",
        "anth": SSE_HEADERS + b"".join(_chunked(anthropic_stream_events())) + b"0\r\n\r\n",
    }
    for name, n in CHUNKS.items():
        if name != "concurrent":
            whole[f"s{n}"] = SSE_HEADERS + b"".join(_chunked(chat_stream_events(n))) + b"0\r\n\r\n"
    paced = {"paced": _chunked(chat_stream_events(CHUNKS["concurrent"]))}
    return whole, paced


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: keep-alive\r\n\r\nnot found"


class Server:
    """Connection handler over the pre-rendered responses."""

    def __init__(self, pace: float = PACE_SECONDS) -> None:
        self.whole, self.paced = render()
        self.requests = 0
        self.pace = pace
        self.rng = random.Random(1234)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one keep-alive connection until the client closes it."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, _, rest = head.partition(b"\r\n")
                length = 0
                chunked = False
                for line in rest.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    lname = name.strip().lower()
                    if lname == b"content-length":
                        length = int(value)
                    elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                        chunked = True
                if length:
                    await reader.readexactly(length)
                elif chunked:
                    await self._drain_chunked(reader)
                self.requests += 1
                path = request_line.split(b" ")[1].decode()
                route = path.split("/")[1] if path.count("/") > 1 else ""
                if route in self.whole:
                    writer.write(self.whole[route])
                elif route in self.paced:
                    await self._paced(writer, self.paced[route])
                else:
                    writer.write(NOT_FOUND)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _paced(self, writer: asyncio.StreamWriter, parts: list[bytes]) -> None:
        """One event per ``pace`` on average, jittered ±50% so that streams do not tick in lock-step."""
        writer.write(SSE_HEADERS)
        await writer.drain()
        rnd = self.rng.random
        for part in parts:
            await asyncio.sleep(self.pace * (0.5 + rnd()))
            writer.write(part)
            await writer.drain()
        writer.write(b"0\r\n\r\n")

    @staticmethod
    async def _drain_chunked(reader: asyncio.StreamReader) -> None:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return


async def main() -> None:
    """Bind a free loopback port, announce it, serve until stdin reaches EOF."""
    server = Server(float(sys.argv[1]) if len(sys.argv) > 1 else PACE_SECONDS)
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0, backlog=4096, limit=1 << 20)
    port = srv.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    srv.close()


if __name__ == "__main__":
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
