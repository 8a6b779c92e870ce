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
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from typing_extensions import override

from sycophant_py._exceptions import InvalidSchema, ResponseInvalid
from sycophant_py._partial_json import parse_partial_json

if TYPE_CHECKING:
    from sycophant_py._pipeline import Call

from sycophant_py._types import Context, Message, Response, Tool, Usage, messages_of

__all__ = [
    "InvalidObject",
    "ObjectStream",
    "agenerate_object",
    "astream_object",
    "generate_object",
    "normalise_schema",
    "stream_object",
]

Schema = type[Any] | Mapping[str, Any]


class InvalidObject(ResponseInvalid):
    """The model's answer is not valid JSON for the schema.

    Attributes:
        text: The raw text the model produced.
        errors: The validation errors, one string each.
    """

    def __init__(self, message: str, *, text: str, errors: list[str], **kw: Any) -> None:
        self.text = text
        self.errors = errors
        super().__init__(message, **kw)


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


class ObjectStream:
    """Iterator of partial objects (dicts parsed from the JSON received so far)."""

    def __init__(self, events: Any, schema: dict[str, Any], model_cls: type[Any] | None, name: str) -> None:
        self._events = events
        self._schema, self._cls, self._name = schema, model_cls, name
        self._final: Response | None = None

    def _partial(self, ev: Any, last: Any) -> Any:
        if ev.type not in ("text_delta", "toolcall_delta"):
            return last
        text = ev.partial.text if ev.type == "text_delta" else (ev.tool_call.arguments_json if ev.tool_call else "")
        value = parse_partial_json(_strip_fences(text)) if text.strip() else None
        return value

    def _finish(self, ev: Any) -> None:
        resp: Response = ev.response
        if ev.type == "error":
            raise ev.error
        self._final = _check(resp, self._schema, self._cls, self._name)

    def __iter__(self) -> Iterator[Any]:
        last: Any = None
        for ev in self._events:
            if ev.type in ("done", "error"):
                self._finish(ev)
                return
            value = self._partial(ev, last)
            if value is not None and value != last:
                last = value
                yield value

    def response(self) -> Response:
        """Drain the stream and return the validated response (``.object`` set)."""
        for _ in self:
            pass
        assert self._final is not None
        return self._final


class AsyncObjectStream(ObjectStream):
    """Async iterator of partial objects."""

    async def __aiter__(self) -> AsyncIterator[Any]:
        last: Any = None
        async for ev in self._events:
            if ev.type in ("done", "error"):
                self._finish(ev)
                return
            value = self._partial(ev, last)
            if value is not None and value != last:
                last = value
                yield value

    @override
    async def response(self) -> Response:  # type: ignore[override]  # awaited here, returned at once by the sync base
        """Drain the stream and return the validated response."""
        async for _ in self:
            pass
        assert self._final is not None
        return self._final


def stream_object(
    model: str,
    messages: Sequence[Message] | Context | str,
    *,
    schema: Schema,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> ObjectStream:
    """Stream partial objects as the JSON arrives; ``.response()`` gives the validated result."""
    from sycophant_py._api import _prepare, _text_stream

    spec = _Spec(*normalise_schema(schema))
    call = _object_call(model, messages, spec, _Opts(None, credentials, timeout, api, params), stream=True)
    return ObjectStream(_text_stream(_prepare(call)), spec.schema, spec.cls, spec.name)


def astream_object(
    model: str,
    messages: Sequence[Message] | Context | str,
    *,
    schema: Schema,
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
    call = _object_call(model, messages, spec, _Opts(None, credentials, timeout, api, params), stream=True)
    return AsyncObjectStream(_atext_stream(run_steps(call, prepare_steps(call))), spec.schema, spec.cls, spec.name)
