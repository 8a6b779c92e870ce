"""Message parts (text, images, documents, audio, thinking, tool calls) and their dict form.

Parts are frozen dataclasses with a ``kind`` discriminator; ``sycophant_py._types`` re-exports
them. Bytes travel base64-encoded in ``to_dict()`` output. ``part_from_dict`` rebuilds a part and
raises :class:`InvalidMessage` naming the place (``content[2]: a text part needs 'text'``) for
anything malformed, never ``KeyError`` or ``TypeError``; so do the constructors for an impossible
part (``TextPart(5)``, an ``ImagePart`` with neither data nor URL).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

from sycophant_py._exceptions import InvalidMessage
from sycophant_py._redact import redacting_repr

__all__ = [
    "AudioPart",
    "Content",
    "DocumentPart",
    "ImagePart",
    "Part",
    "TextPart",
    "ThinkingPart",
    "ToolCall",
    "coerce_parts",
    "joined_reasoning",
    "joined_text",
    "loads_json",
    "part_from_dict",
    "parts_from",
    "tool_calls_in",
]

JSON: TypeAlias = dict[str, Any]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(data: Any) -> bytes | None:
    if data is None:
        return None
    if not isinstance(data, str):
        raise InvalidMessage(f"data must be base64 text, not {type(data).__name__}")
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except ValueError as exc:
        raise InvalidMessage(f"data is not valid base64 ({exc})") from None


def _need_media(kind: str, data: Any, url: Any) -> None:
    if data is None and url is None:
        raise InvalidMessage(f"{kind} needs data or url")
    if data is not None and not isinstance(data, (bytes, bytearray)):
        raise InvalidMessage(f"{kind}.data must be bytes, not {type(data).__name__}")
    if url is not None and not isinstance(url, str):
        raise InvalidMessage(f"{kind}.url must be a string, not {type(url).__name__}")


@redacting_repr
@dataclass(frozen=True, slots=True)
class TextPart:
    """A run of text."""

    text: str
    """The text."""
    kind: ClassVar[Literal["text"]] = "text"

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise InvalidMessage(f"TextPart.text must be a string, not {type(self.text).__name__}")

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict."""
        return {"kind": "text", "text": self.text}


def _inline_data_url(part: ImagePart | DocumentPart | AudioPart) -> None:
    """A ``data:`` URL becomes the part's bytes (and its media type, unless one was given)."""
    if part.data is None and part.url and part.url.startswith("data:"):
        header, _, payload = part.url.partition(",")
        if not part.media_type:
            object.__setattr__(part, "media_type", header[5:].split(";")[0])
        object.__setattr__(part, "data", _unb64(payload))
        object.__setattr__(part, "url", None)


def _settle_media_type(part: ImagePart | DocumentPart | AudioPart, prefix: str) -> str | None:
    """The media type the bytes announce (when of the part's kind), else the given one, else the URL's."""
    from sycophant_py._media import guess_from_name, sniff

    if not isinstance(part.media_type, str):
        raise InvalidMessage(f"{type(part).__name__}.media_type must be a string, not {type(part.media_type).__name__}")
    if part.data is not None:
        sniffed = sniff(part.data)
        if sniffed is not None and sniffed.startswith(prefix):
            return sniffed
    if part.media_type:
        return part.media_type
    guessed = guess_from_name(part.url) if part.url else None
    return guessed if guessed is not None and guessed.startswith(prefix) else None


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data[:4096]:
        return False
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 4090  # a character cut at the sample's end
    return True


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image, given inline as bytes or by URL.

    Build one from bytes (``ImagePart(data)``), a URL (``ImagePart(url=...)``; a ``data:`` URL is
    decoded into bytes), base64 text (:meth:`from_base64`) or a file (:meth:`from_path`, read at
    once). The media type is read from the bytes when they are PNG, JPEG, GIF or WebP (the bytes win
    over a ``media_type`` that says otherwise, which every provider would refuse); else the given
    ``media_type``, else the URL's extension, else ``image/png``.
    """

    data: bytes | None = None
    """Raw image bytes (sent base64-encoded)."""
    url: str | None = None
    """A URL the provider fetches itself (``data:`` URLs are decoded into ``data``)."""
    media_type: str = ""
    """MIME type of the image (settled when the part is built)."""
    detail: str | None = None
    """OpenAI's ``detail`` hint (``low``, ``high``, ``auto``)."""
    kind: ClassVar[Literal["image"]] = "image"

    def __post_init__(self) -> None:
        _need_media("ImagePart", self.data, self.url)
        _inline_data_url(self)
        object.__setattr__(self, "media_type", _settle_media_type(self, "image/") or "image/png")

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, detail: str | None = None) -> ImagePart:
        """An image read from a file now (the media type from its bytes, else its name).

        Raises:
            OSError: the file cannot be read.
        """
        from sycophant_py._media import read_path

        data, media_type, _ = read_path(path)
        return cls(data, media_type=media_type or "", detail=detail)

    @classmethod
    def from_base64(cls, data: str, media_type: str = "", *, detail: str | None = None) -> ImagePart:
        """An image from base64 text (the media type from the decoded bytes when they say).

        Raises:
            InvalidMessage: ``data`` is not base64.
        """
        return cls(_unb64(data), media_type=media_type, detail=detail)

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict."""
        return {
            "kind": "image",
            "data": _b64(self.data),
            "url": self.url,
            "media_type": self.media_type,
            "detail": self.detail,
        }

    def data_url(self) -> str:
        """The image as a URL: its own URL, or a ``data:`` URL built from the bytes."""
        if self.url:
            return self.url
        return f"data:{self.media_type};base64,{_b64(self.data)}"


@dataclass(frozen=True, slots=True)
class DocumentPart:
    """A document (PDF, text file) given inline as bytes or by URL.

    The media type is ``application/pdf`` when the bytes are a PDF; else the given ``media_type``,
    else the URL's extension, else ``text/plain`` for UTF-8 bytes and ``application/pdf`` otherwise.
    Use :meth:`from_path` to read a file (its name becomes ``name``).
    """

    data: bytes | None = None
    """Raw document bytes."""
    url: str | None = None
    """A URL the provider fetches itself (``data:`` URLs are decoded into ``data``)."""
    media_type: str = ""
    """MIME type of the document (settled when the part is built)."""
    name: str | None = None
    """A file name some providers show to the model."""
    kind: ClassVar[Literal["document"]] = "document"

    def __post_init__(self) -> None:
        _need_media("DocumentPart", self.data, self.url)
        _inline_data_url(self)
        media_type = _settle_media_type(self, "")
        if media_type is None:
            text = self.data is not None and _looks_like_text(self.data)
            media_type = "text/plain" if text else "application/pdf"
        object.__setattr__(self, "media_type", media_type)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, name: str | None = None) -> DocumentPart:
        """A document read from a file now (``name`` defaults to the file's base name).

        Raises:
            OSError: the file cannot be read.
        """
        from sycophant_py._media import read_path

        data, media_type, base = read_path(path)
        return cls(data, media_type=media_type or "", name=name or base)

    @classmethod
    def from_base64(cls, data: str, media_type: str = "", *, name: str | None = None) -> DocumentPart:
        """A document from base64 text.

        Raises:
            InvalidMessage: ``data`` is not base64.
        """
        return cls(_unb64(data), media_type=media_type, name=name)

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict."""
        return {
            "kind": "document",
            "data": _b64(self.data),
            "url": self.url,
            "media_type": self.media_type,
            "name": self.name,
        }


@dataclass(frozen=True, slots=True)
class AudioPart:
    """Audio given inline as bytes (or by a URL the provider can read: Gemini file URIs, ``s3://``).

    The media type comes from the bytes (WAV, MP3, AAC, FLAC, Ogg, AIFF, M4A), else the given
    ``media_type``, else the URL's extension; a part whose format cannot be told is refused when it
    is built. Which providers take audio: see the multimodal documentation.
    """

    data: bytes | None = None
    """Raw audio bytes (sent base64-encoded)."""
    url: str | None = None
    """A URL the provider reads itself (``data:`` URLs are decoded into ``data``)."""
    media_type: str = ""
    """MIME type of the audio (``audio/wav``, ``audio/mpeg``...), settled when the part is built."""
    kind: ClassVar[Literal["audio"]] = "audio"

    def __post_init__(self) -> None:
        _need_media("AudioPart", self.data, self.url)
        _inline_data_url(self)
        media_type = _settle_media_type(self, "audio/")
        if media_type is None:
            raise InvalidMessage("AudioPart: the audio format is not recognisable; pass media_type= (audio/wav...)")
        object.__setattr__(self, "media_type", media_type)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> AudioPart:
        """Audio read from a file now (the media type from its bytes, else its name).

        Raises:
            OSError: the file cannot be read.
            InvalidMessage: the format cannot be told.
        """
        from sycophant_py._media import read_path

        data, media_type, _ = read_path(path)
        return cls(data, media_type=media_type or "")

    @classmethod
    def from_base64(cls, data: str, media_type: str = "") -> AudioPart:
        """Audio from base64 text.

        Raises:
            InvalidMessage: ``data`` is not base64, or the format cannot be told.
        """
        return cls(_unb64(data), media_type=media_type)

    @property
    def format(self) -> str | None:
        """The short format name (``wav``, ``mp3``, ``flac``...), None for an unknown media type."""
        from sycophant_py._media import AUDIO_TYPES

        return AUDIO_TYPES.get(self.media_type.lower())

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict."""
        return {"kind": "audio", "data": _b64(self.data), "url": self.url, "media_type": self.media_type}


@redacting_repr
@dataclass(frozen=True, slots=True)
class ThinkingPart:
    """Reasoning produced by a model, kept so it can be sent back on the same provider."""

    text: str = ""
    """The (possibly summarised) reasoning text."""
    signature: str | None = None
    """Opaque signature or encrypted content the provider needs to verify replayed thinking."""
    redacted: bool = False
    """True for redacted thinking (the opaque payload is in ``signature``)."""
    provider: str | None = None
    """The provider that produced it; thinking from another provider is replayed as text or dropped
    (``foreign_thinking``), never with its signature."""
    provider_data: Mapping[str, Any] | None = None
    """Provider-specific fields needed for a round trip (item ids and the like)."""
    kind: ClassVar[Literal["thinking"]] = "thinking"

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict."""
        return {
            "kind": "thinking",
            "text": self.text,
            "signature": self.signature,
            "redacted": self.redacted,
            "provider": self.provider,
            "provider_data": dict(self.provider_data) if self.provider_data else None,
        }


@redacting_repr
@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call of a tool requested by the model.

    ``arguments`` is the parsed JSON object; ``arguments_json`` the raw text as the provider sent
    it. The ``id`` is kept verbatim while a conversation stays on one provider.
    """

    id: str
    """The provider's tool-call id."""
    name: str
    """The tool name."""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    """The parsed arguments."""
    arguments_json: str = "{}"
    """The raw JSON text of the arguments."""
    provider_data: Mapping[str, Any] | None = None
    """Provider-specific fields needed for a round trip (Gemini thought signatures, item ids)."""
    parse_error: str | None = None
    """Why ``arguments_json`` could not be parsed (``arguments`` is then ``{}``); None when it parsed."""
    kind: ClassVar[Literal["tool_call"]] = "tool_call"

    @classmethod
    def from_json(cls, id: str, name: str, arguments_json: str, **kw: Any) -> ToolCall:  # noqa: A002 - the tool-call id, as the field is named
        """Build a tool call from raw argument text.

        Empty text means ``{}``; a JSON string holding an object (arguments encoded twice) is that
        object; another JSON value is ``{"value": ...}``. Text that is not JSON gives ``{}``, keeps
        the text in ``arguments_json`` and says why in ``parse_error``.
        """
        text = arguments_json or "{}"
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            return cls(id, name, {}, text, parse_error=f"the arguments are not valid JSON: {exc}", **kw)
        if isinstance(parsed, str) and parsed.lstrip().startswith("{"):
            try:
                inner = json.loads(parsed)
            except ValueError:
                inner = None
            if isinstance(inner, dict):
                parsed = inner
        return cls(id, name, parsed if isinstance(parsed, dict) else {"value": parsed}, text, **kw)

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict."""
        return {
            "kind": "tool_call",
            "id": self.id,
            "name": self.name,
            "arguments": dict(self.arguments),
            "arguments_json": self.arguments_json,
            "provider_data": dict(self.provider_data) if self.provider_data else None,
            "parse_error": self.parse_error,
        }


Part: TypeAlias = TextPart | ImagePart | DocumentPart | AudioPart | ThinkingPart | ToolCall
Content: TypeAlias = str | tuple[Part, ...]


def _str_field(d: Mapping[str, Any], key: str, kind: str, default: str | None = None) -> Any:
    value = d.get(key, default)
    if value is not None and not isinstance(value, str):
        raise InvalidMessage(f"{kind}.{key} must be a string, not {type(value).__name__}")
    return value


def _text_from(d: Mapping[str, Any]) -> Part:
    return TextPart(d["text"])


def _image_from(d: Mapping[str, Any]) -> Part:
    return ImagePart(
        _unb64(d.get("data")),
        _str_field(d, "url", "ImagePart"),
        _str_field(d, "media_type", "ImagePart") or "",
        _str_field(d, "detail", "ImagePart"),
    )


def _document_from(d: Mapping[str, Any]) -> Part:
    return DocumentPart(
        _unb64(d.get("data")),
        _str_field(d, "url", "DocumentPart"),
        _str_field(d, "media_type", "DocumentPart") or "",
        _str_field(d, "name", "DocumentPart"),
    )


def _audio_from(d: Mapping[str, Any]) -> Part:
    return AudioPart(
        _unb64(d.get("data")), _str_field(d, "url", "AudioPart"), _str_field(d, "media_type", "AudioPart") or ""
    )


def _thinking_from(d: Mapping[str, Any]) -> Part:
    data = d.get("provider_data")
    if data is not None and not isinstance(data, Mapping):
        raise InvalidMessage(f"ThinkingPart.provider_data must be a mapping, not {type(data).__name__}")
    return ThinkingPart(
        _str_field(d, "text", "ThinkingPart", ""),
        _str_field(d, "signature", "ThinkingPart"),
        bool(d.get("redacted")),
        _str_field(d, "provider", "ThinkingPart"),
        data,
    )


def _tool_call_from(d: Mapping[str, Any]) -> Part:
    call_id, name = d["id"], d["name"]
    args, data = d.get("arguments") or {}, d.get("provider_data")
    for key, value in (("id", call_id), ("name", name)):
        if not isinstance(value, str):
            raise InvalidMessage(f"ToolCall.{key} must be a string, not {type(value).__name__}")
    for key, value in (("arguments", args), ("provider_data", data)):
        if value is not None and not isinstance(value, Mapping):
            raise InvalidMessage(f"ToolCall.{key} must be a mapping, not {type(value).__name__}")
    arguments_json = _str_field(d, "arguments_json", "ToolCall") or "{}"
    return ToolCall(call_id, name, args, arguments_json, data, _str_field(d, "parse_error", "ToolCall"))


_PART_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Part]] = {
    "text": _text_from,
    "image": _image_from,
    "document": _document_from,
    "audio": _audio_from,
    "thinking": _thinking_from,
    "tool_call": _tool_call_from,
}


def joined_text(parts: Iterable[Part]) -> str:
    """The text parts of ``parts`` joined (what ``Message.text`` and ``Response.text`` read)."""
    return "".join(p.text for p in parts if isinstance(p, TextPart))


def joined_reasoning(parts: Iterable[Part]) -> str:
    """The thinking parts' text joined (what ``Response.reasoning`` reads)."""
    return "".join(p.text for p in parts if isinstance(p, ThinkingPart))


def tool_calls_in(parts: Iterable[Part]) -> list[ToolCall]:
    """The tool calls among ``parts``, in order (what ``Message.tool_calls`` and ``Response.tool_calls`` read)."""
    return [p for p in parts if isinstance(p, ToolCall)]


def part_from_dict(d: Any, where: str = "part") -> Part:
    """Rebuild a part from ``to_dict()`` output; anything malformed is an ``InvalidMessage`` naming ``where``."""
    if not isinstance(d, Mapping):
        raise InvalidMessage(f"{where}: a part must be a mapping, not {type(d).__name__}")
    kind = d.get("kind")
    build = _PART_BUILDERS.get(kind) if isinstance(kind, str) else None
    if build is None:
        raise InvalidMessage(f"{where}: unknown part kind {kind!r} (known: {', '.join(_PART_BUILDERS)})")
    try:
        return build(d)
    except KeyError as exc:
        raise InvalidMessage(f"{where}: a {kind} part needs {exc.args[0]!r}") from None
    except InvalidMessage as exc:
        raise InvalidMessage(f"{where}: {exc}") from None


def parts_from(items: Any, where: str) -> tuple[Part, ...]:
    if not isinstance(items, (list, tuple)):
        raise InvalidMessage(f"{where} must be a list of parts, not {type(items).__name__}")
    return tuple(part_from_dict(p, f"{where}[{i}]") for i, p in enumerate(items))


def loads_json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"{what} text is not JSON: {exc}") from None


def _coerce_part(p: Part | str | os.PathLike[str]) -> Part:
    if isinstance(p, str):
        return TextPart(p)
    if isinstance(p, os.PathLike):
        from sycophant_py._media import part_from_path

        part: Part = part_from_path(p)
        return part
    return p


def coerce_parts(content: str | Iterable[Part | str | os.PathLike[str]]) -> Content:
    """Plain text as it is; in a list, strings become ``TextPart`` and paths are read into media parts."""
    if isinstance(content, str):
        return content
    return tuple(_coerce_part(p) for p in content)
