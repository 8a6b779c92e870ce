"""Core value types: messages, tools, usage, responses and contexts (parts live in ``_parts``, re-exported here).

These are plain dataclasses (no pydantic at import time). ``Message``, ``Response`` and
``Context`` round-trip losslessly through ``to_dict()`` / ``from_dict()`` and ``to_json()`` /
``from_json()``: bytes are base64-encoded, and thinking signatures and encrypted reasoning are
kept (they are data, not secrets).

Impossible values are refused where they are built, with :class:`InvalidMessage` naming what is
wrong: an unknown role, a ``tool_result`` without a tool-call id, tool-result fields on another
role, a part a role cannot hold (tool calls and thinking belong to ``assistant`` messages, a
``system`` message holds text only). ``from_dict()`` / ``from_json()`` raise the same error for a
malformed dict or text, never ``KeyError`` or ``TypeError``. A ``Tool`` checks what is cheap when
built (its name, and that ``parameters`` is an object schema or a pydantic model); the full JSON
Schema check runs once per schema object before the first request (``_schema_check``).

Their ``repr`` masks what looks like a key (a remembered key, a recognisable key shape: see
``sycophant_py._redact``), so a conversation that quotes one does not leak it into a log line or a
traceback; the data itself (``.text``, ``to_dict()``) is never changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from sycophant_py._exceptions import InvalidMessage, InvalidParams, InvalidSchema
from sycophant_py._parts import (
    AudioPart,
    Content,
    DocumentPart,
    ImagePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCall,
    coerce_parts,
    joined_reasoning,
    joined_text,
    loads_json,
    parts_from,
    tool_calls_in,
)
from sycophant_py._redact import redacting_repr
from sycophant_py._schema_check import check_parameters_shape

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
_FINISH_REASONS = ("stop", "length", "tool_use", "content_filter", "error", "aborted")


_PART_TYPES = (TextPart, ImagePart, DocumentPart, AudioPart, ThinkingPart, ToolCall)
_MEDIA = frozenset({"text", "image", "document", "audio"})
_PARTS_BY_ROLE: Mapping[str, frozenset[str]] = {
    "system": frozenset({"text"}),
    "user": _MEDIA,
    "assistant": _MEDIA | {"thinking", "tool_call"},
    "tool_result": _MEDIA,
}
"""The part kinds each role may hold (a provider may accept fewer: its wire protocol says so)."""


def _unknown_role(role: Any) -> InvalidMessage:
    import difflib

    roles = list(_PARTS_BY_ROLE)
    close = difflib.get_close_matches(role, roles, n=1, cutoff=0.5) if isinstance(role, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return InvalidMessage(f"unknown message role {role!r}{hint}; allowed: {', '.join(map(repr, roles))}")


def _checked_content(role: str, content: Any) -> Content:
    """``content`` as a string or a tuple of parts the role may hold."""
    if isinstance(content, str):
        return content
    if isinstance(content, (Mapping, bytes, bytearray)) or not isinstance(content, Iterable):
        raise InvalidMessage(f"content must be a string or a sequence of parts, not {type(content).__name__}")
    parts = content if isinstance(content, tuple) else tuple(content)
    allowed = _PARTS_BY_ROLE[role]
    for i, p in enumerate(parts):
        if not isinstance(p, _PART_TYPES):
            if isinstance(p, (str, os.PathLike)):
                return _checked_content(role, coerce_parts(parts))
            raise InvalidMessage(f"content[{i}] must be a part (TextPart, ImagePart...), not {type(p).__name__}")
        if p.kind not in allowed:
            raise InvalidMessage(f"a {role} message cannot hold a {p.kind} part (content[{i}])")
    return parts


def _check_tool_fields(m: Message) -> None:
    """``tool_call_id``, ``name`` and ``is_error`` belong to ``tool_result`` messages, which need an id."""
    if m.role == "tool_result":
        if m.tool_call_id is None:
            raise InvalidMessage("a tool_result message needs a tool_call_id (the id of the call it answers)")
        if not isinstance(m.tool_call_id, str):
            # An empty id is kept: some providers send calls without one, and the encoders rewrite it.
            raise InvalidMessage(f"tool_call_id must be a string, not {type(m.tool_call_id).__name__}")
        if m.name is not None and not isinstance(m.name, str):
            raise InvalidMessage(f"name must be a string, not {type(m.name).__name__}")
        return
    for value, what in ((m.tool_call_id, "a tool_call_id"), (m.name, "a name")):
        if value is not None:
            raise InvalidMessage(f"only a tool_result message has {what} (this one is a {m.role} message)")
    if m.is_error:
        raise InvalidMessage(f"only a tool_result message has is_error (this one is a {m.role} message)")


@redacting_repr
@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation.

    Build them with the constructors: ``Message.system(...)``, ``Message.user(...)``,
    ``Message.assistant(...)`` and ``Message.tool_result(...)``.

    Raises:
        InvalidMessage: an unknown role, a ``tool_result`` without ``tool_call_id``, tool-result
            fields on another role, or a part the role cannot hold (see the module docstring).
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
    provider: str | None = None
    """For an answer: the provider that produced it. Its thinking signatures and provider data are
    sent back only to that provider (see the conversations guide)."""
    model: str | None = None
    """For an answer: the model that produced it."""
    finish_reason: FinishReason | None = None
    """For an answer: why the model stopped. A turn that ended in ``error`` or ``aborted`` is left
    out when the conversation is sent again, with the tool results that answer its calls."""

    def __post_init__(self) -> None:
        role, content = self.role, self.content
        if not isinstance(role, str) or role not in _PARTS_BY_ROLE:
            raise _unknown_role(role)
        if not isinstance(content, str):
            checked = _checked_content(role, content)
            if checked is not content:
                object.__setattr__(self, "content", checked)
        if not isinstance(self.is_error, bool) or not isinstance(self.cache, bool):
            flag = "is_error" if not isinstance(self.is_error, bool) else "cache"
            raise InvalidMessage(f"{flag} must be a bool, not {type(getattr(self, flag)).__name__}")
        if role == "tool_result" or self.tool_call_id is not None or self.name is not None or self.is_error:
            _check_tool_fields(self)
        if self.finish_reason is not None and self.finish_reason not in _FINISH_REASONS:
            raise InvalidMessage(f"unknown finish reason {self.finish_reason!r} (known: {', '.join(_FINISH_REASONS)})")

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
        return cls("user", coerce_parts(content), cache=cache)

    @classmethod
    def assistant(cls, content: str | Iterable[Part | str] = "", *, tool_calls: Iterable[ToolCall] = ()) -> Message:
        """An assistant message, optionally with tool calls appended as parts."""
        calls = tuple(tool_calls)
        if not calls:
            return cls("assistant", coerce_parts(content))
        parts = coerce_parts(content)
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
        return cls("tool_result", coerce_parts(content), tool_call_id=tool_call_id, name=name, is_error=is_error)

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
        return joined_text(self.content)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls in this message."""
        if isinstance(self.content, str):
            return []
        return tool_calls_in(self.content)

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
        for key in ("provider", "model", "finish_reason"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Message:
        """Rebuild a message from ``to_dict()`` output.

        Raises:
            InvalidMessage: ``d`` is not a message dict (the error names the field or part).
        """
        if not isinstance(d, Mapping):
            raise InvalidMessage(f"a message must be a mapping, not {type(d).__name__}")
        if "role" not in d:
            raise InvalidMessage("a message needs a 'role'")
        content = d.get("content", "")
        if not isinstance(content, (str, list, tuple)):
            raise InvalidMessage(f"content must be a string or a list of parts, not {type(content).__name__}")
        parts: Content = content if isinstance(content, str) else parts_from(content, "content")
        for key in ("provider", "model", "finish_reason"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise InvalidMessage(f"message.{key} must be a string, not {type(d[key]).__name__}")
        return cls(
            d["role"],
            parts,
            d.get("tool_call_id"),
            d.get("name"),
            d.get("is_error", False),
            d.get("cache", False),
            d.get("provider"),
            d.get("model"),
            d.get("finish_reason"),
        )

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Message:
        """Rebuild a message from ``to_json()`` output.

        Raises:
            InvalidMessage: the text is not JSON or not a message.
        """
        return cls.from_dict(loads_json(text, "message"))


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
        """Rebuild from ``to_dict()`` output.

        Raises:
            InvalidMessage: a count or price is not a number.
        """
        try:
            c = d.get("cost")
            cost = (
                Cost(
                    float(c.get("input", 0.0)),
                    float(c.get("output", 0.0)),
                    float(c.get("cache_read", 0.0)),
                    float(c.get("cache_write", 0.0)),
                )
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
        except (AttributeError, TypeError, ValueError) as exc:
            raise InvalidMessage(f"usage: {exc}") from None


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

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise InvalidParams(f"tool name must be a string, not {type(self.name).__name__}", param="tools")
        if not isinstance(self.description, str):
            raise InvalidParams(f"tool {self.name!r}: description must be a string", param="tools")
        if self.function is not None and not callable(self.function):
            raise InvalidParams(f"tool {self.name!r}: function must be callable", param="tools")
        if self.strict is not None and not isinstance(self.strict, bool):
            raise InvalidParams(f"tool {self.name!r}: strict must be a bool or None", param="tools")
        check_parameters_shape(self.name, self.parameters)

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
            raise InvalidSchema(f"tool {self.name!r}: parameters must be a JSON Schema dict or a pydantic model")
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
        """Rebuild a tool (without its function) from ``to_dict()`` output.

        Raises:
            InvalidParams: ``d`` is not a tool dict.
            InvalidSchema: its ``parameters`` are not an object schema.
        """
        if not isinstance(d, Mapping) or "name" not in d:
            raise InvalidParams("a tool dict needs a 'name'", param="tools")
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
        """Rebuild from ``to_dict()`` output.

        Raises:
            InvalidMessage: a message is malformed (the error names its index).
        """
        if not isinstance(d, Mapping):
            raise InvalidMessage(f"a context must be a mapping, not {type(d).__name__}")
        messages = d.get("messages", ())
        params = d.get("params") or {}
        if not isinstance(messages, (list, tuple)) or not isinstance(params, Mapping):
            raise InvalidMessage("a context holds a list of messages and a mapping of params")
        return cls(
            tuple(_message_at(m, i) for i, m in enumerate(messages)),
            dict(params),
            tuple(Tool.from_dict(t) for t in d.get("tools", ())),
        )

    def to_json(self) -> str:
        """Serialise to JSON text."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Context:
        """Rebuild from ``to_json()`` output.

        Raises:
            InvalidMessage: the text is not JSON or not a context.
        """
        return cls.from_dict(loads_json(text, "context"))


def _message_at(d: Any, index: int) -> Message:
    try:
        return Message.from_dict(d)
    except InvalidMessage as exc:
        raise InvalidMessage(f"messages[{index}]: {exc}") from None


def _parts_of(text: str, tool_calls: Iterable[ToolCall], reasoning: str) -> list[Part]:
    """The parts a response built from ``text=`` / ``tool_calls=`` / ``reasoning=`` holds."""
    parts: list[Part] = [ThinkingPart(reasoning)] if reasoning else []
    if text:
        parts.append(TextPart(text))
    parts.extend(tool_calls)
    return parts


@redacting_repr
@dataclass(slots=True, init=False)
class Response:
    """The result of one call (or of a whole tool loop: see ``steps``).

    ``text``, ``reasoning`` and ``tool_calls`` are read from ``parts``: this class is the one place
    that joins them, so no wire protocol assembles them by hand. A response built with ``text=``,
    ``tool_calls=`` or ``reasoning=`` and no ``parts`` gets the parts they describe (thinking, then
    text, then the calls).

    Args:
        text: The answer's text, for a response built without ``parts``. With ``parts``, a text
            that is not theirs is kept as ``text`` (``generate_object`` does this when the answer
            came as a forced tool call's arguments).
        finish_reason: Why the model stopped.
        usage: Token counts and cost.
        tool_calls: The tool calls, for a response built without ``parts``.
        reasoning: The reasoning text, for a response built without ``parts``.
        parts: The assistant message's parts in order; when given they are what the response holds.
        raw: The provider's raw body.
        context: The conversation including this answer.
        id: The provider's response id.
        model: The model id.
        provider: The provider id.
        request_id: The provider's request id header.
        provider_finish_reason: The provider's own finish reason value.
        steps: Every step of a tool loop.
        stopped_early: A tool loop stopped at ``max_steps``.
        object: ``generate_object``'s parsed object.
        error: For a failed stream: the exception that ended it.
    """

    parts: list[Part]
    """The assistant message's parts in order (text, thinking, tool calls)."""
    finish_reason: FinishReason
    """``stop``, ``length``, ``tool_use``, ``content_filter``, ``error`` or ``aborted``."""
    usage: Usage
    """Token counts and cost (summed over every step of a tool loop)."""
    raw: Any
    """The provider's raw body (for streams: the final payload seen)."""
    context: Context
    """The conversation including this answer, ready to continue."""
    id: str | None
    """The provider's response id."""
    model: str | None
    """The model id the provider reported (or the requested one)."""
    provider: str | None
    """The provider id."""
    request_id: str | None
    """The provider's request id header."""
    provider_finish_reason: str | None
    """The provider's own finish/stop reason value."""
    steps: list[Response]
    """Every step of a tool loop, in order (empty for a single call)."""
    stopped_early: bool
    """True when a tool loop stopped at ``max_steps`` with tool calls still pending."""
    object: Any
    """For ``generate_object``: the parsed object (a pydantic instance for a pydantic schema)."""
    error: BaseException | None
    """For a failed stream: the exception that ended it."""
    _text: str | None = field(repr=False)
    """A text that is not the text parts' (see ``text``); None almost always."""

    def __init__(
        self,
        text: str = "",
        finish_reason: FinishReason = "stop",
        usage: Usage | None = None,
        tool_calls: Iterable[ToolCall] = (),
        reasoning: str = "",
        *,
        parts: Iterable[Part] | None = None,
        raw: Any = None,
        context: Context | None = None,
        id: str | None = None,  # noqa: A002 - the provider's response id, as the attribute is named
        model: str | None = None,
        provider: str | None = None,
        request_id: str | None = None,
        provider_finish_reason: str | None = None,
        steps: Iterable[Response] = (),
        stopped_early: bool = False,
        object: Any = None,  # noqa: A002 - the parsed object, as the attribute is named
        error: BaseException | None = None,
        _text: str | None = None,
    ) -> None:
        if parts is None:
            self.parts = _parts_of(text, tool_calls, reasoning)
            self._text = _text
        else:
            self.parts = list(parts)
            self._text = _text if _text is not None else (text if text and text != joined_text(self.parts) else None)
        self.finish_reason = finish_reason
        self.usage = usage if usage is not None else Usage()
        self.raw = raw
        self.context = context if context is not None else Context()
        self.id = id
        self.model = model
        self.provider = provider
        self.request_id = request_id
        self.provider_finish_reason = provider_finish_reason
        self.steps = list(steps)
        self.stopped_early = stopped_early
        self.object = object
        self.error = error

    @property
    def text(self) -> str:
        """The answer's text: the text parts joined (``generate_object`` may set the JSON text it read)."""
        return self._text if self._text is not None else joined_text(self.parts)

    @text.setter
    def text(self, value: str) -> None:
        self._text = None if value == joined_text(self.parts) else value

    @property
    def reasoning(self) -> str:
        """The reasoning text (the thinking parts joined), when the provider returned any."""
        return joined_reasoning(self.parts)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls the model asked for (the tool-call parts, in order)."""
        return tool_calls_in(self.parts)

    @property
    def message(self) -> Message:
        """The assistant message of this response (with its provider, model and finish reason)."""
        return Message(
            "assistant", tuple(self.parts), provider=self.provider, model=self.model, finish_reason=self.finish_reason
        )

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
        """Rebuild from ``to_dict()`` output.

        Raises:
            InvalidMessage: ``d`` is not a response dict (the error names the part).
        """
        if not isinstance(d, Mapping):
            raise InvalidMessage(f"a response must be a mapping, not {type(d).__name__}")
        calls = parts_from(d.get("tool_calls", ()), "tool_calls")
        return cls(
            text=d.get("text", ""),
            finish_reason=d.get("finish_reason", "stop"),
            usage=Usage.from_dict(d.get("usage") or {}),
            tool_calls=[c for c in calls if isinstance(c, ToolCall)],
            reasoning=d.get("reasoning", ""),
            parts=parts_from(d["parts"], "parts") if "parts" in d else None,
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
        """Rebuild from ``to_json()`` output.

        Raises:
            InvalidMessage: the text is not JSON or not a response.
        """
        return cls.from_dict(loads_json(text, "response"))


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
    """Normalise what callers pass as ``messages`` (a list, a Context, or one user string).

    Raises:
        InvalidMessage: ``messages`` is none of those, or an item is not a ``Message``.
    """
    if isinstance(messages, str):
        return (Message.user(messages),)
    if isinstance(messages, Context):
        return messages.messages
    if isinstance(messages, (Mapping, bytes)) or not isinstance(messages, Iterable):
        raise InvalidMessage(
            f"messages must be a list of Message, a Context or a string, not {type(messages).__name__}"
        )
    out = tuple(messages)
    for i, m in enumerate(out):
        if not isinstance(m, Message):
            raise InvalidMessage(f"messages[{i}] must be a Message, not {type(m).__name__}")
    return out
