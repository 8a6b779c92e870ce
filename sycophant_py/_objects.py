"""Structured output: ``generate_object`` / ``stream_object`` and their async twins.

The schema (a pydantic model class or a JSON Schema dict) goes to the wire protocol, which uses
the provider's native JSON-schema mode where there is one (or a forced tool). The answer is parsed
and validated with jsonschema; a pydantic schema also gives a model instance. Invalid output
raises :class:`InvalidObject` carrying the raw text and the validation errors, unless
``repair_retries`` allows sending the errors back to the model (usage is summed over attempts).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from sycophant_py._exceptions import InvalidObject, InvalidSchema, StreamAborted
from sycophant_py._partial_json import parse_partial_json

if TYPE_CHECKING:
    from sycophant_py._events import StreamEvent
    from sycophant_py._pipeline import Call
    from sycophant_py._stream import AsyncTextStream, TextStream

from sycophant_py._types import Context, Message, Response, Tool, Usage, messages_of

__all__ = [
    "AsyncObjectStream",
    "ObjectStream",
    "agenerate_object",
    "astream_object",
    "generate_object",
    "normalise_schema",
    "stream_object",
]

Schema = type[Any] | Mapping[str, Any]


def _schema_name(title: str) -> str:
    """A name every provider accepts for a schema or forced tool (``^[A-Za-z0-9_-]{1,64}$``)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", title).strip("_")[:64]
    return name or "response"


def normalise_schema(schema: Schema) -> tuple[dict[str, Any], type[Any] | None, str]:
    """(JSON Schema dict, pydantic class or None, schema name) for what callers pass.

    The schema is checked against its draft's meta-schema once per schema object (see
    ``_schema_check``), before anything is sent.

    Raises:
        InvalidSchema: the schema is not valid JSON Schema (the error gives the JSON pointer).
    """
    from sycophant_py._schema_check import check_response_schema

    if isinstance(schema, Mapping):
        check_response_schema(schema, schema)
        return dict(schema), None, _schema_name(str(schema.get("title") or "response"))
    fn = getattr(schema, "model_json_schema", None)
    if fn is None:
        raise InvalidSchema(f"schema must be a pydantic model class or a JSON Schema dict, not {schema!r}")
    as_dict = dict(fn())
    check_response_schema(schema, as_dict)
    return as_dict, schema, _schema_name(getattr(schema, "__name__", "response"))


def _strip_fences(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t.strip()


def _object_text(resp: Response, name: str) -> str:
    if resp.text.strip():
        return resp.text
    for call in resp.tool_calls:  # protocols that force a tool for structured output
        if call.name == name:
            return call.arguments_json
    return resp.text


def _check(resp: Response, schema: dict[str, Any], model_cls: type[Any] | None, name: str) -> Response:
    import jsonschema

    text = _object_text(resp, name)
    try:
        value = json.loads(_strip_fences(text))
    except ValueError as exc:
        raise InvalidObject(
            f"the answer is not JSON: {exc}", text=text, errors=[str(exc)], provider=resp.provider, model=resp.model
        ) from None
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in validator.iter_errors(value)]
    if errors:
        raise InvalidObject(
            f"the answer does not match the schema: {'; '.join(errors[:5])}",
            text=text,
            errors=errors,
            provider=resp.provider,
            model=resp.model,
        )
    resp.object = model_cls.model_validate(value) if model_cls is not None else value
    resp.text = text
    return resp


def _repair_messages(messages: tuple[Message, ...], resp: Response, exc: InvalidObject) -> tuple[Message, ...]:
    listing = "\n".join(f"- {e}" for e in exc.errors[:10])
    fix = Message.user(
        f"Your answer was not valid for the required JSON schema:\n{listing}\n"
        "Answer again with only the corrected JSON."
    )
    return (*messages, Message.assistant(exc.text[:20000]), fix)


def _sum(prev: list[Response], resp: Response) -> Response:
    usage = Usage()
    for r in (*prev, resp):
        usage = usage + r.usage
    resp.usage = usage
    resp.steps = [*prev, resp] if prev else []
    return resp


class _Spec(NamedTuple):
    """A normalised response schema: JSON Schema, pydantic class (or None) and a provider-safe name."""

    schema: dict[str, Any]
    cls: type[Any] | None
    name: str


class _Opts(NamedTuple):
    """The call options ``generate_object`` and friends pass through unchanged."""

    tools: Sequence[Tool] | None
    credentials: Mapping[str, Any] | None
    timeout: float | None
    api: str | None
    params: Mapping[str, Any]


def _object_call(model: str, messages: Any, spec: _Spec, opts: _Opts, *, stream: bool) -> Call:
    from sycophant_py._api import _call

    call = _call(
        model,
        messages,
        opts.params,
        tools=opts.tools,
        credentials=opts.credentials,
        timeout=opts.timeout,
        api=opts.api,
        stream=stream,
        response_schema=spec.schema,
    )
    call.schema_name = spec.name
    return call


def _settle(
    prev: list[Response], resp: Response, spec: _Spec, last: bool, original: Any
) -> Response | tuple[Message, ...]:
    """The validated response, or (when a repair attempt remains) the messages for the next one."""
    try:
        return _sum(prev, _check(resp, spec.schema, spec.cls, spec.name))
    except InvalidObject as exc:
        if last:
            raise
        prev.append(resp)
        return _repair_messages(messages_of(original), resp, exc)


def generate_object(
    model: str,
    messages: Sequence[Message] | Context | str,
    *,
    schema: Schema,
    repair_retries: int = 0,
    tools: Sequence[Tool] | None = None,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> Response:
    """Generate an object that follows ``schema``.

    Args:
        model: ``"provider:model-id"``.
        messages: The conversation.
        schema: A pydantic model class or a JSON Schema dict.
        repair_retries: How many times invalid output is sent back with its errors.
        tools, credentials, timeout, api, **params: As for ``generate_text``.

    Returns:
        A response whose ``.object`` is the parsed object (a model instance for a pydantic
        schema) and ``.text`` the raw JSON text.

    Raises:
        InvalidObject: the output is invalid after every repair attempt.
    """
    from sycophant_py._api import _complete, _prepare

    spec = _Spec(*normalise_schema(schema))
    opts = _Opts(tools, credentials, timeout, api, params)
    prev: list[Response] = []
    msgs = messages
    for attempt in range(repair_retries + 1):
        resp = _complete(_prepare(_object_call(model, msgs, spec, opts, stream=False)))
        out = _settle(prev, resp, spec, attempt == repair_retries, messages)
        if isinstance(out, Response):
            return out
        msgs = out
    raise AssertionError("unreachable")  # pragma: no cover


async def agenerate_object(
    model: str,
    messages: Sequence[Message] | Context | str,
    *,
    schema: Schema,
    repair_retries: int = 0,
    tools: Sequence[Tool] | None = None,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> Response:
    """Async twin of :func:`generate_object`."""
    from sycophant_py._api import _acomplete, _aprepare

    spec = _Spec(*normalise_schema(schema))
    opts = _Opts(tools, credentials, timeout, api, params)
    prev: list[Response] = []
    msgs = messages
    for attempt in range(repair_retries + 1):
        resp = await _acomplete(await _aprepare(_object_call(model, msgs, spec, opts, stream=False)))
        out = _settle(prev, resp, spec, attempt == repair_retries, messages)
        if isinstance(out, Response):
            return out
        msgs = out
    raise AssertionError("unreachable")  # pragma: no cover


_NOTHING: Any = object()
"""What an event that brings no new partial object gives (:meth:`_ObjectStreamBase._take`)."""


class _ObjectStreamBase:
    """State shared by the sync and async partial-object streams: events in, partial objects out (no I/O).

    A partial object is the JSON received so far parsed leniently (a dict that grows); one is
    given only when it differs from the previous one. The terminal event settles the stream: the
    validated response, or the error (a stream ``error`` event's exception, :class:`InvalidObject`)
    that iteration raises and ``response()`` raises again.
    """

    __slots__ = ("_error", "_final", "_last", "_spec")

    def __init__(self, spec: _Spec) -> None:
        self._spec = spec
        self._last: Any = None
        self._final: Response | None = None
        self._error: BaseException | None = None

    def _take(self, ev: StreamEvent) -> Any:
        """The new partial object ``ev`` brings, or ``_NOTHING``; a terminal event settles the stream.

        Raises:
            SycophantError: the terminal event is an ``error`` (its exception) or the final text
                is not valid for the schema (:class:`InvalidObject`).
        """
        if ev.type in ("done", "error"):
            self._settle(ev)
            return _NOTHING
        text = self._json_so_far(ev)
        if text is None or not text.strip():
            return _NOTHING
        value = parse_partial_json(_strip_fences(text))
        if value is None or value == self._last:
            return _NOTHING
        self._last = value
        return value

    def _json_so_far(self, ev: StreamEvent) -> str | None:
        if ev.type == "text_delta":
            return ev.partial.text
        call = ev.tool_call if ev.type == "toolcall_delta" else None
        # Only the forced tool some protocols use for structured output carries the object; a call
        # of one of the caller's own tools (``tools=``) does not.
        return call.arguments_json if call is not None and call.name == self._spec.name else None

    def _settle(self, ev: StreamEvent) -> None:
        try:
            if ev.error is not None:
                raise ev.error
            assert ev.response is not None
            self._final = _check(ev.response, self._spec.schema, self._spec.cls, self._spec.name)
        except Exception as exc:
            self._error = exc
            raise

    def _result(self) -> Response:
        if self._error is not None:
            raise self._error
        if self._final is None:
            raise StreamAborted("the object stream was closed before the object was complete")
        return self._final


class ObjectStream(_ObjectStreamBase):
    """Iterator of partial objects from ``stream_object``; also ``.response()`` and ``.close()``.

    ``with syc.stream_object(...) as s:`` closes the stream on exit.
    """

    __slots__ = ("_events",)

    def __init__(self, events: TextStream, spec: _Spec) -> None:
        super().__init__(spec)
        self._events = events

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Any:
        for ev in self._events:
            value = self._take(ev)
            if value is not _NOTHING:
                return value
        raise StopIteration

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def response(self) -> Response:
        """Drain the stream and return the validated response (``.object`` set).

        Raises:
            InvalidObject: the final text is not valid for the schema.
            StreamAborted: the stream was closed before it ended.
            ProviderError: the stream failed (its error).
        """
        if self._error is None:
            for _ in self:
                pass
        return self._result()

    def close(self) -> None:
        """Stop reading and release the connection (``response()`` then raises :class:`StreamAborted`)."""
        self._events.close()


class AsyncObjectStream(_ObjectStreamBase):
    """Async iterator of partial objects from ``astream_object``; ``await .response()``, ``.aclose()``.

    ``async with syc.astream_object(...) as s:`` closes the stream on exit.
    """

    __slots__ = ("_events",)

    def __init__(self, events: AsyncTextStream, spec: _Spec) -> None:
        super().__init__(spec)
        self._events = events

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        async for ev in self._events:
            value = self._take(ev)
            if value is not _NOTHING:
                return value
        raise StopAsyncIteration

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def response(self) -> Response:
        """Drain the stream and return the validated response (see :meth:`ObjectStream.response`)."""
        if self._error is None:
            async for _ in self:
                pass
        return self._result()

    async def aclose(self) -> None:
        """Stop reading and release the connection (``response()`` then raises :class:`StreamAborted`)."""
        await self._events.aclose()


def stream_object(
    model: str,
    messages: Sequence[Message] | Context | str,
    *,
    schema: Schema,
    tools: Sequence[Tool] | None = None,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> ObjectStream:
    """Stream partial objects as the JSON arrives; ``.response()`` gives the validated result.

    Args:
        model: ``"provider:model-id"``.
        messages: The conversation.
        schema: A pydantic model class or a JSON Schema dict.
        tools, credentials, timeout, api, **params: As for ``generate_text`` (the tools are sent;
            calls of them are not run, and they bring no partial objects).

    Returns:
        An iterator of partial objects (dicts parsed from the JSON received so far).
    """
    from sycophant_py._api import _prepare, _text_stream

    spec = _Spec(*normalise_schema(schema))
    call = _object_call(model, messages, spec, _Opts(tools, credentials, timeout, api, params), stream=True)
    return ObjectStream(_text_stream(_prepare(call)), spec)


def astream_object(
    model: str,
    messages: Sequence[Message] | Context | str,
    *,
    schema: Schema,
    tools: Sequence[Tool] | None = None,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> AsyncObjectStream:
    """Async twin of :func:`stream_object`."""
    from sycophant_py._api import _atext_stream
    from sycophant_py._custom_stream import prepare_steps
    from sycophant_py._pipeline import run_steps

    spec = _Spec(*normalise_schema(schema))
    call = _object_call(model, messages, spec, _Opts(tools, credentials, timeout, api, params), stream=True)
    return AsyncObjectStream(_atext_stream(run_steps(call, prepare_steps(call))), spec)
