"""Core value types: messages and their parts, tool calls, usage, responses and contexts.

These are plain dataclasses (no pydantic at import time). ``Message``, ``Response`` and
``Context`` round-trip losslessly through ``to_dict()`` / ``from_dict()`` and ``to_json()`` /
``from_json()``: bytes are base64-encoded, and thinking signatures and encrypted reasoning are
kept (they are data, not secrets).

Their ``repr`` masks what looks like a key (a remembered key, a recognisable key shape: see
``sycophant_py._redact``), so a conversation that quotes one does not leak it into a log line or a
traceback; the data itself (``.text``, ``to_dict()``) is never changed.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, TypeAlias

from sycophant_py._redact import redacting_repr

__all__ = [
    "AudioPart",
    "Content",
    "Context",
    "Cost",
    "DocumentPart",
    "EmbeddingResponse",
    "FinishReason",
    "ImagePart",
    "Message",
    "Part",
    "Response",
    "Role",
    "TextPart",
    "ThinkingPart",
    "Tool",
    "ToolCall",
    "Usage",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool_result"]
FinishReason: TypeAlias = Literal["stop", "length", "tool_use", "content_filter", "error", "aborted"]
JSON: TypeAlias = dict[str, Any]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(data: str | None) -> bytes | None:
    return None if data is None else base64.b64decode(data)


@redacting_repr
@dataclass(frozen=True, slots=True)
class TextPart:
    """A run of text."""

    text: str
    """The text."""
    kind: ClassVar[Literal["text"]] = "text"

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict."""
        return {"kind": "text", "text": self.text}


def _inline_data_url(part: ImagePart | DocumentPart | AudioPart) -> None:
    """A ``data:`` URL becomes the part's bytes (and its media type, unless one was given)."""
    if part.data is None and part.url and part.url.startswith("data:"):
        header, _, payload = part.url.partition(",")
        if not part.media_type:
            object.__setattr__(part, "media_type", header[5:].split(";")[0])
        object.__setattr__(part, "data", base64.b64decode(payload))
        object.__setattr__(part, "url", None)


def _settle_media_type(part: ImagePart | DocumentPart | AudioPart, prefix: str) -> str | None:
    """The media type the bytes announce (when of the part's kind), else the given one, else the URL's."""
    from sycophant_py._media import guess_from_name, sniff

    if part.data is not None:
        sniffed = sniff(part.data)
        if sniffed is not None and sniffed.startswith(prefix):
            return sniffed
    if part.media_type:
        return part.media_type
    guessed = guess_from_name(part.url) if part.url else None
    return guessed if guessed is not None and guessed.startswith(prefix) else None


def _from_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError(f"not valid base64: {exc}") from None


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
        if self.data is None and self.url is None:
            raise ValueError("ImagePart needs data or url")
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
            ValueError: ``data`` is not base64.
        """
        return cls(_from_base64(data), media_type=media_type, detail=detail)

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


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data[:4096]:
        return False
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 4090  # a character cut at the sample's end
    return True


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
        if self.data is None and self.url is None:
            raise ValueError("DocumentPart needs data or url")
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
            ValueError: ``data`` is not base64.
        """
        return cls(_from_base64(data), media_type=media_type, name=name)

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
        if self.data is None and self.url is None:
            raise ValueError("AudioPart needs data or url")
        _inline_data_url(self)
        media_type = _settle_media_type(self, "audio/")
        if media_type is None:
            raise ValueError("AudioPart: the audio format is not recognisable; pass media_type= (audio/wav...)")
        object.__setattr__(self, "media_type", media_type)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> AudioPart:
        """Audio read from a file now (the media type from its bytes, else its name).

        Raises:
            OSError: the file cannot be read.
            ValueError: the format cannot be told.
        """
        from sycophant_py._media import read_path

        data, media_type, _ = read_path(path)
        return cls(data, media_type=media_type or "")

    @classmethod
    def from_base64(cls, data: str, media_type: str = "") -> AudioPart:
        """Audio from base64 text.

        Raises:
            ValueError: ``data`` is not base64, or the format cannot be told.
        """
        return cls(_from_base64(data), media_type=media_type)

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
    """The provider that produced it; thinking from another provider is replayed as text."""
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
    def from_json(cls, id: str, name: str, arguments_json: str, **kw: Any) -> ToolCall:  # noqa: A002
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


def _part_from_dict(d: Mapping[str, Any]) -> Part:
    kind = d.get("kind")
    if kind == "text":
        return TextPart(d["text"])
    if kind == "image":
        return ImagePart(_unb64(d.get("data")), d.get("url"), d.get("media_type") or "", d.get("detail"))
    if kind == "document":
        return DocumentPart(_unb64(d.get("data")), d.get("url"), d.get("media_type") or "", d.get("name"))
    if kind == "audio":
        return AudioPart(_unb64(d.get("data")), d.get("url"), d.get("media_type") or "")
    if kind == "thinking":
        return ThinkingPart(
            d.get("text", ""),
            d.get("signature"),
            bool(d.get("redacted")),
            d.get("provider"),
            d.get("provider_data"),
        )
    if kind == "tool_call":
        return ToolCall(
            d["id"],
            d["name"],
            d.get("arguments") or {},
            d.get("arguments_json") or "{}",
            d.get("provider_data"),
            d.get("parse_error"),
        )
    raise ValueError(f"unknown message part kind {kind!r}")


def _coerce_part(p: Part | str | os.PathLike[str]) -> Part:
    if isinstance(p, str):
        return TextPart(p)
    if isinstance(p, os.PathLike):
        from sycophant_py._media import part_from_path

        part: Part = part_from_path(p)
        return part
    return p


def _coerce_parts(content: str | Iterable[Part | str | os.PathLike[str]]) -> Content:
    if isinstance(content, str):
        return content
    return tuple(_coerce_part(p) for p in content)


@redacting_repr
@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation.

    Build them with the constructors: ``Message.system(...)``, ``Message.user(...)``,
    ``Message.assistant(...)`` and ``Message.tool_result(...)``.
    """

    role: Role
    """``system``, ``user``, ``assistant`` or ``tool_result``."""
    content: Content = ""
    """Plain text, or a tuple of parts."""
    tool_call_id: str | None = None
    """For ``tool_result``: the id of the call this answers."""
    name: str | None = None
    """For ``tool_result``: the tool name (some providers require it)."""
    is_error: bool = False
    """For ``tool_result``: the tool failed and ``content`` describes the error."""
    cache: bool = False
    """Ask the provider to cache the prompt up to and including this message (where supported)."""

    @classmethod
    def system(cls, text: str, *, cache: bool = False) -> Message:
        """A system (instructions) message."""
        return cls("system", text, cache=cache)

    @classmethod
    def user(cls, content: str | Iterable[Part | str | os.PathLike[str]], *, cache: bool = False) -> Message:
        """A user message: text, or parts (text, images, documents, audio).

        A ``pathlib.Path`` among the parts is read now and becomes an image, audio or document part
        by its bytes (else its extension).
        """
        return cls("user", _coerce_parts(content), cache=cache)

    @classmethod
    def assistant(cls, content: str | Iterable[Part | str] = "", *, tool_calls: Iterable[ToolCall] = ()) -> Message:
        """An assistant message, optionally with tool calls appended as parts."""
        calls = tuple(tool_calls)
        if not calls:
            return cls("assistant", _coerce_parts(content))
        parts = _coerce_parts(content)
        head: tuple[Part, ...] = ((TextPart(parts),) if parts else ()) if isinstance(parts, str) else parts
        return cls("assistant", head + calls)

    @classmethod
    def tool_result(
        cls,
        tool_call_id: str,
        content: str | Iterable[Part | str | os.PathLike[str]],
        *,
        name: str | None = None,
        is_error: bool = False,
    ) -> Message:
        """The result of a tool call, sent back to the model (text, or parts: images and documents too)."""
        return cls("tool_result", _coerce_parts(content), tool_call_id=tool_call_id, name=name, is_error=is_error)

    @property
    def parts(self) -> tuple[Part, ...]:
        """The content as parts (plain text becomes one ``TextPart``)."""
        if isinstance(self.content, str):
            return (TextPart(self.content),) if self.content else ()
        return self.content

    @property
    def text(self) -> str:
        """The concatenated text parts."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls in this message."""
        if isinstance(self.content, str):
            return []
        return [p for p in self.content if isinstance(p, ToolCall)]

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict (lossless)."""
        d: JSON = {"role": self.role}
        d["content"] = self.content if isinstance(self.content, str) else [p.to_dict() for p in self.content]
        if self.tool_call_id is not None:
            d["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            d["name"] = self.name
        if self.is_error:
            d["is_error"] = True
        if self.cache:
            d["cache"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Message:
        """Rebuild a message from ``to_dict()`` output."""
        content = d.get("content", "")
        parts: Content = content if isinstance(content, str) else tuple(_part_from_dict(p) for p in content)
        role = d["role"]
        if role not in ("system", "user", "assistant", "tool_result"):
            raise ValueError(f"unknown message role {role!r}")
        return cls(role, parts, d.get("tool_call_id"), d.get("name"), bool(d.get("is_error")), bool(d.get("cache")))

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Message:
        """Rebuild a message from ``to_json()`` output."""
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True, slots=True)
class Cost:
    """Cost of a call in USD, split like the catalog prices."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0

    @property
    def total(self) -> float:
        """The sum of all parts."""
        return self.input + self.output + self.cache_read + self.cache_write

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
        )

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict, ``total`` included."""
        return {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "total": self.total,
        }


@dataclass(slots=True)
class Usage:
    """Token counts of a call.

    ``input_tokens`` counts uncached input only; ``output_tokens`` includes reasoning tokens
    (which ``reasoning_tokens`` repeats for information). ``total_tokens`` is always
    ``input + output + cache_read + cache_write``.
    """

    input_tokens: int = 0
    """Uncached input tokens."""
    output_tokens: int = 0
    """Output tokens, reasoning included."""
    cache_read_tokens: int = 0
    """Input tokens read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the provider's prompt cache."""
    reasoning_tokens: int = 0
    """Reasoning tokens (already inside ``output_tokens``)."""
    cost: Cost | None = None
    """Cost in USD when the model's prices are known."""

    @property
    def total_tokens(self) -> int:
        """``input + output + cache_read + cache_write``."""
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: Usage) -> Usage:
        cost = self.cost
        if other.cost is not None:
            cost = other.cost if cost is None else cost + other.cost
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            cost,
        )

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict, ``total_tokens`` included."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
            "cost": self.cost.to_dict() if self.cost else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Usage:
        """Rebuild from ``to_dict()`` output."""
        c = d.get("cost")
        cost = (
            Cost(c.get("input", 0.0), c.get("output", 0.0), c.get("cache_read", 0.0), c.get("cache_write", 0.0))
            if c
            else None
        )
        return cls(
            int(d.get("input_tokens", 0)),
            int(d.get("output_tokens", 0)),
            int(d.get("cache_read_tokens", 0)),
            int(d.get("cache_write_tokens", 0)),
            int(d.get("reasoning_tokens", 0)),
            cost,
        )


@redacting_repr
@dataclass(slots=True)
class Tool:
    """A tool the model may call.

    ``parameters`` is a JSON Schema dict or a pydantic model class. When ``function`` is set, the
    library runs it for the model (see the tools documentation).
    """

    name: str
    """The tool name the model uses."""
    description: str = ""
    """What the tool does, for the model."""
    parameters: Mapping[str, Any] | type[Any] | None = None
    """JSON Schema of the arguments (an object schema), or a pydantic model class."""
    function: Callable[..., Any] | None = None
    """Called as ``function(**arguments)`` by the tool loop, sync or async."""
    strict: bool | None = None
    """Strict schema adherence: None means strict where the provider and schema allow it."""

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool | None = None,
    ) -> Tool:
        """Build a tool from a typed function: the schema from its signature, the description and
        parameter descriptions from its (Google-style) docstring.

        Args:
            function: A sync or async function with annotated parameters.
            name: The tool name (default: the function's name).
            description: Overrides the docstring summary.
            strict: Strict schema adherence (see ``Tool.strict``).

        Raises:
            InvalidSchema: a parameter cannot be described in JSON Schema.
        """
        from sycophant_py._tool_schema import schema_from_function

        schema, summary = schema_from_function(function)
        return cls(name or function.__name__, description or summary, schema, function, strict)

    def json_schema(self) -> dict[str, Any]:
        """The parameters as a JSON Schema dict (an empty object schema when none)."""
        p = self.parameters
        if p is None:
            return {"type": "object", "properties": {}}
        if isinstance(p, Mapping):
            return dict(p)
        schema_fn = getattr(p, "model_json_schema", None)
        if schema_fn is None:
            raise TypeError(f"Tool {self.name!r}: parameters must be a JSON Schema dict or a pydantic model")
        return dict(schema_fn())

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict (the function itself is not serialisable and is left out)."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.json_schema(),
            "strict": self.strict,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tool:
        """Rebuild a tool (without its function) from ``to_dict()`` output."""
        return cls(d["name"], d.get("description", ""), d.get("parameters"), None, d.get("strict"))


@redacting_repr
@dataclass(frozen=True, slots=True)
class Context:
    """A conversation that can be continued: messages, params and tools.

    ``Response.context`` holds the request's context plus the assistant's answer, so a
    conversation continues with ``resp.context.add(Message.user("more"))``.
    """

    messages: tuple[Message, ...] = ()
    """The messages so far."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The params of the call that produced this context."""
    tools: tuple[Tool, ...] = ()
    """The tools of the call that produced this context."""

    def add(self, *messages: Message) -> Context:
        """Return a new context with ``messages`` appended."""
        return replace(self, messages=self.messages + messages)

    def __iter__(self) -> Any:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict (tool functions are left out)."""
        return {
            "messages": [m.to_dict() for m in self.messages],
            "params": dict(self.params),
            "tools": [t.to_dict() for t in self.tools],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Context:
        """Rebuild from ``to_dict()`` output."""
        return cls(
            tuple(Message.from_dict(m) for m in d.get("messages", ())),
            dict(d.get("params") or {}),
            tuple(Tool.from_dict(t) for t in d.get("tools", ())),
        )

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Context:
        """Rebuild from ``to_json()`` output."""
        return cls.from_dict(json.loads(text))


@redacting_repr
@dataclass(slots=True)
class Response:
    """The result of one call (or of a whole tool loop: see ``steps``)."""

    text: str = ""
    """The answer's text (all text parts joined)."""
    finish_reason: FinishReason = "stop"
    """``stop``, ``length``, ``tool_use``, ``content_filter``, ``error`` or ``aborted``."""
    usage: Usage = field(default_factory=Usage)
    """Token counts and cost (summed over every step of a tool loop)."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """The tool calls the model asked for."""
    reasoning: str = ""
    """The reasoning text, when the provider returned any."""
    parts: list[Part] = field(default_factory=list)
    """The assistant message's parts in order (text, thinking, tool calls)."""
    raw: Any = None
    """The provider's raw body (for streams: the final payload seen)."""
    context: Context = field(default_factory=Context)
    """The conversation including this answer, ready to continue."""
    id: str | None = None
    """The provider's response id."""
    model: str | None = None
    """The model id the provider reported (or the requested one)."""
    provider: str | None = None
    """The provider id."""
    request_id: str | None = None
    """The provider's request id header."""
    provider_finish_reason: str | None = None
    """The provider's own finish/stop reason value."""
    steps: list[Response] = field(default_factory=list)
    """Every step of a tool loop, in order (empty for a single call)."""
    stopped_early: bool = False
    """True when a tool loop stopped at ``max_steps`` with tool calls still pending."""
    object: Any = None
    """For ``generate_object``: the parsed object (a pydantic instance for a pydantic schema)."""
    error: BaseException | None = None
    """For a failed stream: the exception that ended it."""

    @property
    def message(self) -> Message:
        """The assistant message of this response."""
        return Message("assistant", tuple(self.parts))

    def to_dict(self) -> JSON:
        """Return a JSON-ready dict (lossless except ``error``, which is kept as text)."""
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict(),
            "tool_calls": [t.to_dict() for t in self.tool_calls],
            "reasoning": self.reasoning,
            "parts": [p.to_dict() for p in self.parts],
            "raw": self.raw,
            "context": self.context.to_dict(),
            "id": self.id,
            "model": self.model,
            "provider": self.provider,
            "request_id": self.request_id,
            "provider_finish_reason": self.provider_finish_reason,
            "steps": [s.to_dict() for s in self.steps],
            "stopped_early": self.stopped_early,
            "object": self.object if not hasattr(self.object, "model_dump") else self.object.model_dump(),
            "error": str(self.error) if self.error is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Response:
        """Rebuild from ``to_dict()`` output."""
        calls = [_part_from_dict(t) for t in d.get("tool_calls", ())]
        return cls(
            text=d.get("text", ""),
            finish_reason=d.get("finish_reason", "stop"),
            usage=Usage.from_dict(d.get("usage") or {}),
            tool_calls=[c for c in calls if isinstance(c, ToolCall)],
            reasoning=d.get("reasoning", ""),
            parts=[_part_from_dict(p) for p in d.get("parts", ())],
            raw=d.get("raw"),
            context=Context.from_dict(d.get("context") or {}),
            id=d.get("id"),
            model=d.get("model"),
            provider=d.get("provider"),
            request_id=d.get("request_id"),
            provider_finish_reason=d.get("provider_finish_reason"),
            steps=[Response.from_dict(s) for s in d.get("steps", ())],
            stopped_early=bool(d.get("stopped_early")),
            object=d.get("object"),
        )

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Response:
        """Rebuild from ``to_json()`` output."""
        return cls.from_dict(json.loads(text))


@redacting_repr
@dataclass(slots=True)
class EmbeddingResponse:
    """The result of ``embed``: one vector per input, in input order."""

    vectors: list[list[float]]
    """One list of floats per input."""
    usage: Usage = field(default_factory=Usage)
    """Token counts (input only) and cost."""
    model: str | None = None
    """The model id."""
    provider: str | None = None
    """The provider id."""
    raw: Any = None
    """The raw body (the last one, for batched calls)."""


def messages_of(messages: Sequence[Message] | Context | str) -> tuple[Message, ...]:
    """Normalise what callers pass as ``messages`` (a list, a Context, or one user string)."""
    if isinstance(messages, str):
        return (Message.user(messages),)
    if isinstance(messages, Context):
        return messages.messages
    out = tuple(messages)
    for m in out:
        if not isinstance(m, Message):
            raise TypeError(f"messages must be Message objects, got {type(m).__name__}")
    return out
