"""Public entry points: thin sync and async shells around the pipeline's steps.

Each shell folds ``PREPARE``, prepares credentials (the only step with a sync and an async
form), folds ``ENCODE``, then hands the call to ``_run`` (send, retried, decoded) or to a stream
(``_stream``: one lifecycle for HTTP streams and stream functions alike). Nothing here decides
anything a pure step could.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sycophant_py import _custom_stream, _fallback, _run
from sycophant_py._custom_stream import FunctionSource
from sycophant_py._exceptions import ProviderError
from sycophant_py._pipeline import (
    ENCODE,
    PREPARE,
    Call,
    deadline_for,
    embedding_request,
    run_steps,
)
from sycophant_py._stream import AsyncTextStream, HttpSource, Source, TextStream
from sycophant_py._types import Context, EmbeddingResponse, Message, Response, Tool, Usage, messages_of
from sycophant_py.auth._base import Credentials

if TYPE_CHECKING:
    from sycophant_py._transport import RawResponse

__all__ = [
    "aembed",
    "agenerate_text",
    "astream_text",
    "embed",
    "generate_text",
    "stream_text",
]

Messages = Sequence[Message] | Context | str


def _masked(credentials: Mapping[str, Any] | None) -> Credentials | None:
    """The caller's credentials in a mapping whose ``repr`` masks secrets (a ``Call`` is printable)."""
    return None if credentials is None else Credentials(credentials)


def _call(
    model: str,
    messages: Messages,
    params: Mapping[str, Any],
    *,
    tools: Sequence[Tool] | None,
    credentials: Mapping[str, Any] | None,
    timeout: float | None,
    api: str | None,
    stream: bool,
    response_schema: Mapping[str, Any] | None = None,
    deadline: float | None = None,
    max_retries: int | None = None,
) -> Call:
    if isinstance(messages, Context):
        params = {**messages.params, **params}
        if tools is None:
            tools = messages.tools
    return Call(
        spec=model,
        messages=messages_of(messages),
        raw_params=params,
        credentials_in=_masked(credentials),
        tools=tuple(tools or ()),
        api=api,
        stream=stream,
        response_schema=response_schema,
        deadline=deadline if timeout is None else deadline_for(timeout),
        max_retries=max_retries,
    )


@dataclass(frozen=True, slots=True)
class _Opts:
    """The options of one entry-point call, shared by every model a fallback list tries."""

    tools: Sequence[Tool] | None
    credentials: Mapping[str, Any] | None
    api: str | None
    deadline: float | None


def _new_call(spec: str, messages: Messages, params: Mapping[str, Any], o: _Opts, *, stream: bool, last: bool) -> Call:
    """A fresh call for one model; a fallback list's non-last model is not retried (the next one is)."""
    return _call(
        spec,
        messages,
        params,
        tools=o.tools,
        credentials=o.credentials,
        timeout=None,
        api=o.api,
        stream=stream,
        deadline=o.deadline,
        max_retries=None if last else 0,
    )


def _prepare(call: Call) -> Call:
    """PREPARE (a stream function's steps where one serves the call), credentials, ENCODE (sync)."""
    return _run.prepare(run_steps(call, _custom_stream.prepare_steps(call)))


async def _aprepare(call: Call) -> Call:
    """Async twin of :func:`_prepare`."""
    return await _run.aprepare(run_steps(call, _custom_stream.prepare_steps(call)))


def _source(call: Call) -> Source:
    return FunctionSource(call) if _custom_stream.is_custom(call) else HttpSource(call)


def _text_stream(call: Call) -> TextStream:
    """The sync event stream of a prepared call (HTTP or a stream function: one lifecycle)."""
    if _custom_stream.is_custom(call):
        _custom_stream.check_sync(call)
    return TextStream(_source(call), call)


def _atext_stream(call: Call) -> AsyncTextStream:
    """The async event stream of a call whose PREPARE steps ran (credentials prepared on first use)."""
    return AsyncTextStream(_source(call), call)


def _raise_failed(resp: Response) -> Response:
    if resp.error is not None:
        raise resp.error
    return resp


def _decoded(call: Call, raw: RawResponse) -> Response:
    try:
        resp = _run.decode(call, raw)
    except ProviderError as exc:
        _run.emit_error(call, exc)
        raise
    _run.emit_response(call, resp)
    return resp


def _complete(call: Call) -> Response:
    """One model call of a prepared call, sync (a stream function's stream is drained)."""
    if _custom_stream.is_custom(call):
        return _raise_failed(_text_stream(call).response())
    return _decoded(call, _run.send(call))


async def _acomplete(call: Call) -> Response:
    """Async twin of :func:`_complete`."""
    if _custom_stream.is_custom(call):
        return _raise_failed(await _atext_stream(call).response())
    return _decoded(call, await _run.asend(call))


def _reencode(call: Call) -> Call:
    return run_steps(call, ENCODE)


def generate_text(
    model: str | Sequence[str],
    messages: Messages,
    *,
    tools: Sequence[Tool] | None = None,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    max_steps: int = 10,
    **params: Any,
) -> Response:
    """Generate a complete answer.

    Args:
        model: ``"provider:model-id"``; or a list of them, or an alias name (no colon), tried in
            order as a fallback (see ``_fallback``: the next is tried at once on 429, 5xx,
            timeouts, connection errors and ``ContextOverflow``; ``AllModelsFailed`` at the end).
        messages: The conversation: a list of ``Message``, a ``Context`` (its params and tools
            apply unless overridden), or a single user string.
        tools: Tools the model may call; tools with a ``function`` are run by a loop (at most
            ``max_steps`` model calls).
        credentials: The per-request credential layer (``{"api_key": ...}``...).
        timeout: Total seconds for the call, retries included.
        api: Force a wire protocol by name.
        max_steps: Most model calls in a tool loop.
        **params: Shared params (``temperature``, ``max_tokens``...) and the protocol's own.

    Returns:
        The response; ``resp.context`` continues the conversation.

    Raises:
        InvalidError: bad input, before anything is sent.
        ProviderError: the provider failed (after retries, where retrying is allowed).
    """
    o = _Opts(tools, credentials, api, deadline_for(timeout))

    def first_step(spec: str, last: bool) -> tuple[Call, Response]:
        call = _prepare(_new_call(spec, messages, params, o, stream=False, last=last))
        return call, _complete(call)

    specs = _fallback.candidates(model)
    call, resp = first_step(str(model), True) if specs is None else _fallback.run(specs, first_step)
    if call.tools and resp.tool_calls and any(t.function for t in call.tools):
        from sycophant_py._tools import run_tool_loop

        call.max_retries = None  # the loop continues on the model that answered, with its retries
        resp = run_tool_loop(call, resp, max_steps, lambda c: _complete(_reencode(c)))
    return resp


def stream_text(
    model: str | Sequence[str],
    messages: Messages,
    *,
    tools: Sequence[Tool] | None = None,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> TextStream:
    """Stream an answer as unified events (``start``, ``text_delta``, ..., ``done`` / ``error``).

    Arguments are those of :func:`generate_text`. Bad input raises at once; a provider error
    before the stream starts is raised when iteration begins (after retries); a failure after it
    started is an ``error`` event that keeps the partial content and usage.

    Returns:
        An iterator of events with ``.response()`` and ``.close()``; also a context manager.
    """
    o = _Opts(tools, credentials, api, deadline_for(timeout))
    specs = _fallback.candidates(model)
    if specs is None:
        return _text_stream(_prepare(_new_call(str(model), messages, params, o, stream=True, last=True)))

    def source_for(spec: str, last: bool) -> Source:
        call = _prepare(_new_call(spec, messages, params, o, stream=True, last=last))
        if _custom_stream.is_custom(call):
            _custom_stream.check_sync(call)
        return _source(call)

    return TextStream(_fallback.FallbackSource(specs, source_for), _placeholder(specs[0]))


async def agenerate_text(
    model: str | Sequence[str],
    messages: Messages,
    *,
    tools: Sequence[Tool] | None = None,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    max_steps: int = 10,
    **params: Any,
) -> Response:
    """Async twin of :func:`generate_text` (tool functions may be sync or async)."""
    o = _Opts(tools, credentials, api, deadline_for(timeout))

    async def first_step(spec: str, last: bool) -> tuple[Call, Response]:
        call = await _aprepare(_new_call(spec, messages, params, o, stream=False, last=last))
        return call, await _acomplete(call)

    specs = _fallback.candidates(model)
    call, resp = await (first_step(str(model), True) if specs is None else _fallback.arun(specs, first_step))
    if call.tools and resp.tool_calls and any(t.function for t in call.tools):
        from sycophant_py._tools import arun_tool_loop

        call.max_retries = None

        async def step(c: Call) -> Response:
            return await _acomplete(_reencode(c))

        resp = await arun_tool_loop(call, resp, max_steps, step)
    return resp


def astream_text(
    model: str | Sequence[str],
    messages: Messages,
    *,
    tools: Sequence[Tool] | None = None,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> AsyncTextStream:
    """Async twin of :func:`stream_text`: ``async for event in astream_text(...)``.

    Bad input raises at once (this function is not a coroutine); the request is sent when
    iteration begins.
    """
    o = _Opts(tools, credentials, api, deadline_for(timeout))
    specs = _fallback.candidates(model)
    if specs is None:
        call = _new_call(str(model), messages, params, o, stream=True, last=True)
        return _atext_stream(run_steps(call, _custom_stream.prepare_steps(call)))

    def source_for(spec: str, last: bool) -> Source:
        call = _new_call(spec, messages, params, o, stream=True, last=last)
        return _source(run_steps(call, _custom_stream.prepare_steps(call)))

    return AsyncTextStream(_fallback.FallbackSource(specs, source_for, source_for), _placeholder(specs[0]))


def _placeholder(spec: str) -> Call:
    """The ``Call`` a fallback stream carries before it knows which model answers (only its spec)."""
    return Call(spec=spec, stream=True)


# -- embeddings ------------------------------------------------------------------------------


def _embed_call(
    model: str,
    inputs: Sequence[str] | str,
    params: Mapping[str, Any],
    o: _Opts,
    *,
    last: bool,
) -> Call:
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            from sycophant_py._exceptions import InvalidError

            raise InvalidError(f"embed inputs must be strings; input {i} is {type(t).__name__}")
    call = Call(
        spec=model,
        kind="embedding",
        inputs=texts,
        raw_params=params,
        credentials_in=_masked(o.credentials),
        api=o.api,
        deadline=o.deadline,
        max_retries=None if last else 0,
    )
    return run_steps(call, PREPARE)


def _batches(call: Call) -> list[Sequence[str]]:
    size = int(call.params.pop("batch_size", 0) or call.embedding_protocol.max_batch)
    items = call.inputs
    return [items[i : i + size] for i in range(0, len(items), size)]


def _merge_embeddings(call: Call, parts: list[EmbeddingResponse]) -> EmbeddingResponse:
    from sycophant_py._pipeline import calculate_cost

    vectors: list[list[float]] = []
    usage = Usage()
    for p in parts:
        vectors.extend(p.vectors)
        usage = usage + p.usage
    if usage.cost is None and call.model.cost is not None:
        usage.cost = calculate_cost(call.model, usage)
    return EmbeddingResponse(vectors, usage, call.model.id, call.model.provider, parts[-1].raw if parts else None)


def _embedded(call: Call, parts: list[EmbeddingResponse]) -> EmbeddingResponse:
    out = _merge_embeddings(call, parts)
    call.log.debug("embed.done", batches=len(parts), inputs=len(call.inputs))
    _run.emit_response(call, out)
    return out


def embed(
    model: str | Sequence[str],
    inputs: Sequence[str] | str,
    *,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> EmbeddingResponse:
    """Embed texts: one vector per input, in input order (large inputs are sent in batches).

    Args:
        model: ``"provider:model-id"``, or a fallback list / alias (as for :func:`generate_text`).
        inputs: The texts (a single string is one input).
        credentials: The per-request credential layer.
        timeout: Total seconds for the call.
        api: Force an embedding protocol by name.
        **params: ``dimensions``, ``encoding_format`` (``float`` or ``base64``), ``batch_size``...
    """
    o = _Opts(None, credentials, api, deadline_for(timeout))

    def attempt(spec: str, last: bool) -> EmbeddingResponse:
        call = _run.prepare(_embed_call(spec, inputs, params, o, last=last))
        parts = []
        for batch in _batches(call):
            embedding_request(call, batch)
            parts.append(_run.decode_embedding(call, _run.send(call)))
        return _embedded(call, parts)

    specs = _fallback.candidates(model)
    return attempt(str(model), True) if specs is None else _fallback.run(specs, attempt)


async def aembed(
    model: str | Sequence[str],
    inputs: Sequence[str] | str,
    *,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> EmbeddingResponse:
    """Async twin of :func:`embed`."""
    o = _Opts(None, credentials, api, deadline_for(timeout))

    async def attempt(spec: str, last: bool) -> EmbeddingResponse:
        call = await _run.aprepare(_embed_call(spec, inputs, params, o, last=last))
        parts = []
        for batch in _batches(call):
            embedding_request(call, batch)
            parts.append(_run.decode_embedding(call, await _run.asend(call)))
        return _embedded(call, parts)

    specs = _fallback.candidates(model)
    return await (attempt(str(model), True) if specs is None else _fallback.arun(specs, attempt))
