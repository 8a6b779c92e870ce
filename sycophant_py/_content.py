"""Content-Encoding decoding with bounded output (sans-I/O).

The transport reads bodies raw and decodes them here, so a compression bomb (a few hundred KiB that
inflate to gigabytes) never grows past the cap: every ``decompress`` call is limited to 64 KiB of
output, and the total is counted as it grows. Only the encodings the library offers in
``Accept-Encoding`` are accepted: ``gzip`` (concatenated members included), ``deflate`` (zlib-wrapped,
or raw as some servers send it) and ``identity``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from sycophant_py._exceptions import ResponseInvalid, ResponseTooLarge

__all__ = ["ACCEPT_ENCODING", "ContentDecoder"]

ACCEPT_ENCODING = "gzip, deflate"
"""What the library asks for (never an encoding it cannot decode with bounded output)."""

_PIECE = 64 * 1024
_GZIP = zlib.MAX_WBITS | 16


class _Inflater:
    """One gzip or deflate layer."""

    __slots__ = ("_fresh", "_kind", "_z")

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._z: Any = zlib.decompressobj(_GZIP if kind == "gzip" else zlib.MAX_WBITS)
        self._fresh = True

    def inflate(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            yield from self._inflate(piece)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._z.decompress(data, _PIECE)
            except zlib.error as exc:
                if self._kind == "deflate" and self._fresh:
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
                    self._fresh = False
                    continue
                raise ResponseInvalid(f"cannot decode the {self._kind} body: {exc}") from exc
            self._fresh = False
            if out:
                yield out
            if self._z.eof and self._z.unused_data and self._kind == "gzip":  # a concatenated member
                data = self._z.unused_data
                self._z = zlib.decompressobj(_GZIP)
            else:
                data = self._z.unconsumed_tail


class ContentDecoder:
    """Decodes a body's Content-Encoding chunk by chunk, counting the output against ``cap``.

    Args:
        encoding: The ``Content-Encoding`` header value (``""`` for none).
        cap: Most decoded bytes in all (None: no cap; pieces stay at most 64 KiB each).

    Raises:
        ResponseInvalid: an encoding the library did not ask for, or a corrupt body.
        ResponseTooLarge: the decoded body grew past ``cap`` (raised before it is held).
    """

    __slots__ = ("_cap", "_layers", "_total")

    def __init__(self, encoding: str, cap: int | None = None) -> None:
        self._cap = cap
        self._total = 0
        self._layers: list[_Inflater] = []
        if not encoding:
            return
        for enc in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
            if enc in ("gzip", "x-gzip"):
                self._layers.append(_Inflater("gzip"))
            elif enc == "deflate":
                self._layers.append(_Inflater("deflate"))
            elif enc != "identity":
                raise ResponseInvalid(f"unsupported content-encoding {enc!r} (the library asks for {ACCEPT_ENCODING})")

    @property
    def identity(self) -> bool:
        """True when the body is not encoded and no cap applies: raw chunks are the body."""
        return not self._layers and self._cap is None

    def read_all(self, chunks: Iterable[bytes]) -> bytes:
        """The whole decoded body of ``chunks`` (the cap applies)."""
        if not self._layers:  # not encoded: count, no decoding pipeline
            out = []
            for chunk in chunks:
                self._total += len(chunk)
                if self._cap is not None and self._total > self._cap:
                    raise _too_large(self._cap)
                out.append(chunk)
            return b"".join(out)
        return b"".join(piece for chunk in chunks for piece in self.decode(chunk))

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of one raw chunk."""
        if not self._layers:
            self._total += len(data)
            if self._cap is not None and self._total > self._cap:
                raise _too_large(self._cap)
            yield data
            return
        pieces: Iterable[bytes] = (data,)
        for layer in self._layers:
            pieces = layer.inflate(pieces)
        for piece in pieces:
            if not piece:
                continue
            self._total += len(piece)
            if self._cap is not None and self._total > self._cap:
                raise _too_large(self._cap)
            yield piece


def _too_large(cap: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"the response body is larger than {cap} bytes once decoded "
        "(raise the cap with configure(limits={'max_body_bytes': ...}))"
    )
