"""Media types of images, documents and audio: read from the bytes, else from a file name.

:func:`sniff` knows the magic numbers of the formats the providers take: PNG, JPEG, GIF and WebP
images; PDF; WAV, MP3, AAC (ADTS), FLAC, Ogg, AIFF and M4A audio. :func:`part_from_path` reads a
file when the message is built and returns the part its bytes call for. Pure, stdlib only.
"""

from __future__ import annotations

import mimetypes
import os
from typing import Any

__all__ = ["AUDIO_TYPES", "guess_from_name", "part_from_path", "read_path", "sniff"]

AUDIO_TYPES = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/aac": "aac",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/ogg": "ogg",
    "audio/aiff": "aiff",
    "audio/x-aiff": "aiff",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/webm": "webm",
    "audio/opus": "opus",
}
"""Audio media types and their short format names (as OpenAI and Bedrock name them)."""

_EXTRA_NAMES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".webp": "image/webp",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".opus": "audio/opus",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
}


def _mpeg_audio(head: bytes) -> str | None:
    """An MPEG audio frame header: MP3 (layers I-III) or AAC in ADTS (layer bits 00)."""
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"


def sniff(data: bytes) -> str | None:
    """The media type the first bytes of ``data`` announce, or None when they are not known.

    Args:
        data: The content (only its first 16 bytes are read).

    Returns:
        ``image/png``, ``image/jpeg``, ``image/gif``, ``image/webp``, ``application/pdf``,
        ``audio/wav``, ``audio/mpeg``, ``audio/aac``, ``audio/flac``, ``audio/ogg``, ``audio/aiff``
        or ``audio/mp4``; None for anything else.
    """
    head = bytes(data[:16])
    riff = head[8:12] if head[:4] == b"RIFF" else b""
    form = head[8:12] if head[:4] == b"FORM" else b""
    for marker, media_type in (
        (head.startswith(b"\x89PNG\r\n\x1a\n"), "image/png"),
        (head.startswith(b"\xff\xd8\xff"), "image/jpeg"),
        (head[:6] in (b"GIF87a", b"GIF89a"), "image/gif"),
        (riff == b"WEBP", "image/webp"),
        (head.startswith(b"%PDF-"), "application/pdf"),
        (riff == b"WAVE", "audio/wav"),
        (head.startswith(b"ID3"), "audio/mpeg"),
        (head.startswith(b"fLaC"), "audio/flac"),
        (head.startswith(b"OggS"), "audio/ogg"),
        (form in (b"AIFF", b"AIFC"), "audio/aiff"),
        (head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"M4B"), "audio/mp4"),
    ):
        if marker:
            return media_type
    return _mpeg_audio(head)


def guess_from_name(name: str) -> str | None:
    """The media type a file name or URL path suggests by its extension (None when unknown)."""
    path = name.split("?", 1)[0].split("#", 1)[0]
    ext = os.path.splitext(path)[1].lower()
    return _EXTRA_NAMES.get(ext) or mimetypes.guess_type(path)[0]


def read_path(path: str | os.PathLike[str]) -> tuple[bytes, str | None, str]:
    """Read a file: ``(bytes, media type from the bytes or the name, base name)``.

    Raises:
        OSError: the file cannot be read.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    return data, sniff(data) or guess_from_name(name), os.path.basename(name)


def part_from_path(path: str | os.PathLike[str]) -> Any:
    """The message part a file holds: an ``ImagePart``, ``AudioPart`` or ``DocumentPart`` (read now).

    The kind follows the bytes (magic numbers), else the file extension; anything that is neither an
    image nor audio is a document (PDF, text, ...).

    Raises:
        OSError: the file cannot be read.
    """
    from sycophant_py._parts import AudioPart, DocumentPart, ImagePart

    data, media_type, name = read_path(path)
    kind = (media_type or "").split("/", 1)[0]
    if kind == "image":
        return ImagePart(data, media_type=media_type or "")
    if kind == "audio":
        return AudioPart(data, media_type=media_type or "")
    return DocumentPart(data, media_type=media_type or "", name=name)
