"""Public entry points: thin sync and async shells around the pipeline's steps.

Each shell folds ``PREPARE``, prepares credentials (the only step with a sync and an async
form), folds ``ENCODE``, then runs the transport inside the retry loop and decodes. Nothing here
decides anything a pure step could.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sycophant_py import _config, _custom_stream, _hooks, _transport
from sycophant_py._exceptions import ProviderError
from sycophant_py._log import log
from sycophant_py._pipeline import (
    ENCODE,
    PREPARE,
    Call,
    apply_auth,
    deadline_for,
    decode_json_body,
    embedding_request,
    error_from_response,
    finish_response,
    run_steps,
)
from sycophant_py._retry import tenacity_kwargs
from sycophant_py._stream import AsyncTextStream, StreamCore, TextStream
from sycophant_py._transport import RawResponse, StreamHandle
from sycophant_py._types import Context, EmbeddingResponse, Message, Response, Tool, Usage, messages_of
from sycophant_py.auth._base import Credentials

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
        deadline=deadline_for(timeout),
    )


def _before_sleep(call: Call) -> Any:
    def hook(state: Any) -> None:
        exc = state.outcome.exception() if state.outcome else None
        call.log.info(
            "request.retrying",
            attempt=state.attempt_number,
            wait=round(state.upcoming_sleep, 3),
            error=type(exc).__name__,
            status=getattr(exc, "status_code", None),
        )
        _emit_hook("retry", call=call, attempt=state.attempt_number, error=exc)

    return hook


def _emit_hook(name: str, **payload: Any) -> None:
    _hooks.emit(name, payload)


# -- sync ------------------------------------------------------------------------------------


def _retrying(call: Call) -> Any:
    from tenacity import Retrying

    return Retrying(**tenacity_kwargs(_config.settings().retry, _before_sleep(call), call.deadline))


def _attempt(call: Call, reauth: bool = True) -> RawResponse:
    req = apply_auth(call)
    call.log.debug("request.sent", url=req.url)
    if _hooks.active("request"):
        _hooks.emit(
            "request",
            {
                "provider": call.model.provider,
                "model": call.model.id,
                "url": req.url,
                "stream": False,
                "body": call.body,
            },
        )
    raw = _transport.send(req, remaining=call.remaining())
    if raw.status == 401 and reauth and (fresh := call.auth.on_unauthorized(call.credentials)) is not None:
        call.credentials = fresh  # OAUTH-401: the auth refreshed once; re-apply it and resend once
        return _attempt(call, reauth=False)
    if raw.status >= 400:
        raise error_from_response(call, raw.status, raw.headers, raw.body)
    return raw


def _send(call: Call) -> RawResponse:
    for attempt in _retrying(call):
        with attempt:
            return _attempt(call)
    raise AssertionError("unreachable")  # pragma: no cover


def _open_stream(call: Call) -> StreamHandle:
    req = apply_auth(call)
    call.log.debug("request.sent", url=req.url, stream=True)
    if _hooks.active("request"):
        _hooks.emit(
            "request",
            {
                "provider": call.model.provider,
                "model": call.model.id,
                "url": req.url,
                "stream": True,
                "body": call.body,
            },
        )
    handle = _transport.stream(req, remaining=call.remaining())
    if handle.status >= 400:
        body = handle.read()
        handle.close()
        raise error_from_response(call, handle.status, handle.headers, body)
    return handle


def _prepare(call: Call) -> Call:
    call = run_steps(call, _custom_stream.prepare_steps(call))
    call.credentials = call.auth.prepare_credentials(call.credentials)
    return run_steps(call, ENCODE)


def generate_text(
    model: str,
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
        model: ``"provider:model-id"``.
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
    call = _prepare(
        _call(model, messages, params, tools=tools, credentials=credentials, timeout=timeout, api=api, stream=False)
    )
    resp = _complete(call)
    if call.tools and resp.tool_calls and any(t.function for t in call.tools):
        from sycophant_py._tools import run_tool_loop

        resp = run_tool_loop(call, resp, max_steps, lambda c: _complete(_reencode(c)))
    return resp


def _reencode(call: Call) -> Call:
    return run_steps(call, ENCODE)


def _complete(call: Call) -> Response:
    if _custom_stream.is_custom(call):
        return _custom_stream.complete(call)
    try:
        raw = _send(call)
        body = decode_json_body(call, raw.status, raw.headers, raw.body)
    except ProviderError as exc:
        _hooks.emit("error", {"provider": call.model.provider, "model": call.model.id, "error": exc})
        raise
    resp = call.protocol.decode_response(body)
    call.log.debug("response.received", status=raw.status, finish_reason=resp.finish_reason)
    resp = finish_response(call, resp, raw.headers)
    if _hooks.active("response"):
        _hooks.emit("response", {"provider": call.model.provider, "model": call.model.id, "response": resp})
    return resp


def stream_text(
    model: str,
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
        An iterator of events with ``.response()`` and ``.close()``.
    """
    return _stream_from_call(
        _prepare(
            _call(model, messages, params, tools=tools, credentials=credentials, timeout=timeout, api=api, stream=True)
        )
    )


def _stream_from_call(call: Call) -> TextStream:
    """A sync event stream for a prepared and encoded call."""
    if _custom_stream.is_custom(call):
        return _custom_stream.text_stream(call)

    def opener() -> tuple[StreamHandle, StreamCore]:
        handle: StreamHandle | None = None
        for attempt in _retrying(call):
            with attempt:
                handle = _open_stream(call)
        assert handle is not None
        return handle, StreamCore(call, handle.headers)

    return TextStream(opener, call)


# -- async -----------------------------------------------------------------------------------


def _aretrying(call: Call) -> Any:
    from tenacity import AsyncRetrying

    kw = tenacity_kwargs(_config.settings().retry, _before_sleep(call), call.deadline)
    kw.pop("sleep", None)
    asleep = _config.settings().retry.async_sleep
    if asleep is not None:
        kw["sleep"] = asleep
    return AsyncRetrying(**kw)


async def _aattempt(call: Call, reauth: bool = True) -> RawResponse:
    req = apply_auth(call)
    call.log.debug("request.sent", url=req.url)
    if _hooks.active("request"):
        _hooks.emit(
            "request",
            {
                "provider": call.model.provider,
                "model": call.model.id,
                "url": req.url,
                "stream": False,
                "body": call.body,
            },
        )
    raw = await _transport.asend(req, remaining=call.remaining())
    if raw.status == 401 and reauth and (fresh := await call.auth.aon_unauthorized(call.credentials)) is not None:
        call.credentials = fresh  # OAUTH-401: the auth refreshed once; re-apply it and resend once
        return await _aattempt(call, reauth=False)
    if raw.status >= 400:
        raise error_from_response(call, raw.status, raw.headers, raw.body)
    return raw


async def _asend(call: Call) -> RawResponse:
    async for attempt in _aretrying(call):
        with attempt:
            return await _aattempt(call)
    raise AssertionError("unreachable")  # pragma: no cover


async def _aopen_stream(call: Call) -> StreamHandle:
    req = apply_auth(call)
    call.log.debug("request.sent", url=req.url, stream=True)
    if _hooks.active("request"):
        _hooks.emit(
            "request",
            {
                "provider": call.model.provider,
                "model": call.model.id,
                "url": req.url,
                "stream": True,
                "body": call.body,
            },
        )
    handle = await _transport.astream(req, remaining=call.remaining())
    if handle.status >= 400:
        body = await handle.aread()
        await handle.aclose()
        raise error_from_response(call, handle.status, handle.headers, body)
    return handle


async def _aprepare(call: Call) -> Call:
    call = run_steps(call, _custom_stream.prepare_steps(call))
    call.credentials = await call.auth.aprepare_credentials(call.credentials)
    return run_steps(call, ENCODE)


async def _acomplete(call: Call) -> Response:
    if _custom_stream.is_custom(call):
        return await _custom_stream.acomplete(call)
    try:
        raw = await _asend(call)
        body = decode_json_body(call, raw.status, raw.headers, raw.body)
    except ProviderError as exc:
        _hooks.emit("error", {"provider": call.model.provider, "model": call.model.id, "error": exc})
        raise
    resp = finish_response(call, call.protocol.decode_response(body), raw.headers)
    if _hooks.active("response"):
        _hooks.emit("response", {"provider": call.model.provider, "model": call.model.id, "response": resp})
    return resp


async def agenerate_text(
    model: str,
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
    call = await _aprepare(
        _call(model, messages, params, tools=tools, credentials=credentials, timeout=timeout, api=api, stream=False)
    )
    resp = await _acomplete(call)
    if call.tools and resp.tool_calls and any(t.function for t in call.tools):
        from sycophant_py._tools import arun_tool_loop

        async def step(c: Call) -> Response:
            return await _acomplete(_reencode(c))

        resp = await arun_tool_loop(call, resp, max_steps, step)
    return resp


def astream_text(
    model: str,
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
    return _astream_from_call(
        _call(model, messages, params, tools=tools, credentials=credentials, timeout=timeout, api=api, stream=True)
    )


def _astream_from_call(call: Call) -> AsyncTextStream:
    """An async event stream for a call (prepared here; credentials are prepared on first use)."""
    call = run_steps(call, _custom_stream.prepare_steps(call))
    if _custom_stream.is_custom(call):
        return _custom_stream.atext_stream(call)

    async def opener() -> tuple[StreamHandle, StreamCore]:
        call.credentials = await call.auth.aprepare_credentials(call.credentials)
        run_steps(call, ENCODE)
        handle: StreamHandle | None = None
        async for attempt in _aretrying(call):
            with attempt:
                handle = await _aopen_stream(call)
        assert handle is not None
        return handle, StreamCore(call, handle.headers)

    return AsyncTextStream(opener, call)


# -- embeddings ------------------------------------------------------------------------------


def _embed_call(
    model: str,
    inputs: Sequence[str] | str,
    params: Mapping[str, Any],
    *,
    credentials: Mapping[str, Any] | None,
    timeout: float | None,
    api: str | None,
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
        credentials_in=_masked(credentials),
        api=api,
        deadline=deadline_for(timeout),
    )
    return run_steps(call, PREPARE)


def _batches(call: Call) -> list[Sequence[str]]:
    size = int(call.params.pop("batch_size", 0) or call.protocol.max_batch)
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


def embed(
    model: str,
    inputs: Sequence[str] | str,
    *,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> EmbeddingResponse:
    """Embed texts: one vector per input, in input order (large inputs are sent in batches).

    Args:
        model: ``"provider:model-id"``.
        inputs: The texts (a single string is one input).
        credentials: The per-request credential layer.
        timeout: Total seconds for the call.
        api: Force an embedding protocol by name.
        **params: ``dimensions``, ``encoding_format`` (``float`` or ``base64``), ``batch_size``...
    """
    call = _embed_call(model, inputs, params, credentials=credentials, timeout=timeout, api=api)
    call.credentials = call.auth.prepare_credentials(call.credentials)
    parts = []
    for batch in _batches(call):
        embedding_request(call, batch)
        raw = _send(call)
        parts.append(call.protocol.decode_response(decode_json_body(call, raw.status, raw.headers, raw.body)))
    log.debug("embed.done", provider=call.model.provider, batches=len(parts))
    return _merge_embeddings(call, parts)


async def aembed(
    model: str,
    inputs: Sequence[str] | str,
    *,
    credentials: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    api: str | None = None,
    **params: Any,
) -> EmbeddingResponse:
    """Async twin of :func:`embed`."""
    call = _embed_call(model, inputs, params, credentials=credentials, timeout=timeout, api=api)
    call.credentials = await call.auth.aprepare_credentials(call.credentials)
    parts = []
    for batch in _batches(call):
        embedding_request(call, batch)
        raw = await _asend(call)
        parts.append(call.protocol.decode_response(decode_json_body(call, raw.status, raw.headers, raw.body)))
    return _merge_embeddings(call, parts)
