"""``bedrock_converse``'s image, document and audio blocks (``service-2.json``: ``ImageBlock``,
``DocumentBlock``, ``AudioBlock``).

Bedrock reads bytes (base64 in the JSON wire format) or an ``s3://`` location; it fetches no other
URL. A format outside the API's enums raises :class:`~sycophant_py.UnsupportedInput` before anything
is sent. Pure.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from sycophant_py._exceptions import UnsupportedInput
from sycophant_py._types import AudioPart, DocumentPart, ImagePart

__all__ = ["ACCEPTS", "map_audio", "map_document", "map_image", "s3_url"]

ACCEPTS = frozenset({"image", "pdf", "document", "audio"})
"""The input kinds Converse carries."""

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_DOC_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
# AudioFormat of service-2.json, by our short format names (AudioPart.format).
_AUDIO_FORMATS = frozenset({"mp3", "opus", "wav", "aac", "flac", "ogg", "m4a", "webm"})
_DOC_NAME_BAD = re.compile(r"[^a-zA-Z0-9\s\-()\[\]]")


def s3_url(kind: str, url: str) -> bool:
    """Bedrock reads ``s3://`` locations itself; it fetches no other URL."""
    return url.startswith("s3://")


def _source(part: ImagePart | DocumentPart | AudioPart, kind: str) -> dict[str, Any]:
    if part.data is not None:
        return {"bytes": base64.b64encode(part.data).decode("ascii")}
    if part.url and part.url.startswith("s3://"):
        return {"s3Location": {"uri": part.url}}
    raise UnsupportedInput(
        f"bedrock_converse takes {kind} input as bytes or s3:// URLs, not {part.url} (Bedrock does not fetch URLs)",
        kind=kind,
    )


def map_image(part: ImagePart) -> dict[str, Any]:
    """An ``image`` block (png, jpeg, gif or webp)."""
    fmt = _IMAGE_FORMATS.get(part.media_type.lower())
    if fmt is None:
        raise UnsupportedInput(
            f"bedrock_converse: image type {part.media_type!r} is not png, jpeg, gif or webp", kind="image"
        )
    return {"image": {"format": fmt, "source": _source(part, "image")}}


def map_audio(part: AudioPart) -> dict[str, Any]:
    """An ``audio`` block (the ``AudioFormat`` enum: mp3, wav, flac, ogg, aac, m4a, opus, webm...)."""
    fmt = part.format
    if fmt not in _AUDIO_FORMATS:
        raise UnsupportedInput(f"bedrock_converse: audio type {part.media_type!r} is not supported", kind="audio")
    return {"audio": {"format": fmt, "source": _source(part, "audio")}}


def _document_name(part: DocumentPart, index: int) -> str:
    stem = (part.name or "").rsplit(".", 1)[0] if part.name and "." in part.name else (part.name or "")
    clean = " ".join(_DOC_NAME_BAD.sub("-", stem).split())[:200]
    return clean or f"document-{index}"


def map_document(part: DocumentPart, index: int) -> dict[str, Any]:
    """A ``document`` block, named with the characters Bedrock allows (``document-N`` when none is left)."""
    fmt = _DOC_FORMATS.get(part.media_type.lower())
    if fmt is None:
        raise UnsupportedInput(f"bedrock_converse: document type {part.media_type!r} is not supported", kind="document")
    return {"document": {"format": fmt, "name": _document_name(part, index), "source": _source(part, "document")}}
