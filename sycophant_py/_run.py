"""The I/O shells of one call: send (retried), open a stream (retried), decode, emit.

Everything a sync and an async call share is written once here as plain functions; only the lines
that do I/O (the transport call, the sleep between attempts, credential preparation) exist twice.
Log events and hooks are emitted by the shared functions, so both sides emit the same ones
(``tests/test_parity.py`` checks it).

Retries wrap a single attempt (tenacity, policy from ``_config``); nothing is retried once a
stream delivered an event (the stream classes only retry the opening).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sycophant_py import _config, _hooks, _transport
from sycophant_py._exceptions import ProviderError, ResponseInvalid, SycophantError
from sycophant_py._pipeline import (
    ENCODE,
    Call,
    apply_auth,
    decode_json_body,
    error_from_response,
    finish_response,
    request_id_of,
    run_steps,
)
from sycophant_py._retry import tenacity_kwargs
from sycophant_py._types import EmbeddingResponse, Response

if TYPE_CHECKING:
    from collections.abc import Callable

    from tenacity import AsyncRetrying, RetryCallState, Retrying

    from sycophant_py._config import RetryPolicy
    from sycophant_py._transport import RawResponse, StreamHandle
    from sycophant_py.auth._base import Credentials, HttpRequest

__all__ = [
    "aopen_stream",
    "aprepare",
    "aretrying",
    "asend",
    "decode",
    "decode_embedding",
    "emit_error",
    "emit_response",
    "open_stream",
    "prepare",
    "retrying",
    "send",
]


# -- shared: events, hooks and decoding ------------------------------------------------------


def _before_sleep(call: Call) -> Callable[[RetryCallState], None]:
    def hook(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = round(state.upcoming_sleep, 3)
        status = getattr(exc, "status_code", None)
        error = type(exc).__name__
        call.log.info("request.retrying", attempt=state.attempt_number, wait=wait, error=error, status=status)
        if _hooks.active("retry"):
            _hooks.emit(
                "retry",
                {
                    "provider": call.model.provider,
                    "model": call.model.id,
                    "attempt": state.attempt_number,
                    "wait": wait,
                    "error": exc,
                },
            )

    return hook


def emit_request(call: Call, req: HttpRequest) -> None:
    """The ``request.sent`` event and the ``request`` hook, once per attempt."""
    call.log.debug("request.sent", url=req.url, stream=call.stream)
    if _hooks.active("request"):
        payload = {"provider": call.model.provider, "model": call.model.id, "url": req.url, "stream": call.stream}
        _hooks.emit("request", {**payload, "body": call.body or None})


def emit_response(call: Call, resp: Response | EmbeddingResponse) -> None:
    """The ``response.received`` event and the ``response`` hook."""
    reason = getattr(resp, "finish_reason", None)
    call.log.debug("response.received", finish_reason=reason, request_id=getattr(resp, "request_id", None))
    if _hooks.active("response"):
        _hooks.emit("response", {"provider": call.model.provider, "model": call.model.id, "response": resp})


def emit_error(call: Call, error: BaseException, response: Response | None = None) -> None:
    """The ``response.failed`` event and the ``error`` hook."""
    call.log.debug("response.failed", error=type(error).__name__, status=getattr(error, "status_code", None))
    if _hooks.active("error"):
        payload: dict[str, Any] = {"provider": call.model.provider, "model": call.model.id, "error": error}
        if response is not None:
            payload["response"] = response
        _hooks.emit("error", payload)


def _invalid(call: Call, raw: RawResponse, body: Any, exc: Exception) -> ResponseInvalid:
    message, _ = call.protocol.decode_error(raw.status, body)
    err = ResponseInvalid(
        f"unexpected response body ({type(exc).__name__}: {exc}): {message}"[:1000],
        status_code=raw.status,
        provider=call.model.provider,
        model=call.model.id,
        request_id=request_id_of(raw.headers),
        body=body,
    )
    err.__cause__ = exc
    return err


def decode(call: Call, raw: RawResponse) -> Response:
    """Decode a complete chat body into the finished response; never lets a foreign exception out."""
    body = decode_json_body(call, raw.status, raw.headers, raw.body)
    try:
        resp = call.chat_protocol.decode_response(body)
    except SycophantError:
        raise
    except Exception as exc:
        raise _invalid(call, raw, body, exc) from exc
    return finish_response(call, resp, raw.headers)


def decode_embedding(call: Call, raw: RawResponse) -> EmbeddingResponse:
    """Decode one embedding batch; never lets a foreign exception out."""
    body = decode_json_body(call, raw.status, raw.headers, raw.body)
    try:
        out = call.embedding_protocol.decode_response(body)
    except SycophantError:
        raise
    except Exception as exc:
        raise _invalid(call, raw, body, exc) from exc
    return out


def _check(call: Call, status: int, headers: dict[str, str], body: bytes) -> None:
    if status >= 400:
        raise error_from_response(call, status, headers, body)


# -- sync ------------------------------------------------------------------------------------


def _policy(call: Call) -> RetryPolicy:
    policy = _config.settings().retry
    if call.max_retries is not None and call.max_retries != policy.max_retries:
        policy = dataclasses.replace(policy, max_retries=call.max_retries)
    return policy


def retrying(call: Call) -> Retrying:
    """The tenacity loop for one call's attempts (sync)."""
    from tenacity import Retrying

    return Retrying(**tenacity_kwargs(_policy(call), _before_sleep(call), call.deadline))


def prepare(call: Call) -> Call:
    """Prepare credentials (token exchange or refresh; may do I/O), then encode (sync)."""
    call.credentials = call.auth.prepare_credentials(call.credentials)
    call = run_steps(call, ENCODE)
    call.prepared = True
    return call


def _reauthorized(call: Call, fresh: Credentials | None) -> bool:
    """After a 401: the auth gave fresh credentials (an OAuth refresh...): re-encode to resend once."""
    if fresh is None:
        return False
    call.credentials = fresh
    run_steps(call, ENCODE)  # the refresh may have moved the base URL
    return True


def _attempt(call: Call) -> RawResponse:
    for reauth in (True, False):
        call.remaining()
        req = apply_auth(call)
        emit_request(call, req)
        raw = _transport.send(req, deadline=call.deadline)
        if raw.status == 401 and reauth and _reauthorized(call, call.auth.on_unauthorized(call.credentials)):
            continue
        _check(call, raw.status, raw.headers, raw.body)
        return raw
    raise AssertionError("unreachable")  # pragma: no cover


def send(call: Call) -> RawResponse:
    """Send the encoded call and read the body, retrying by the policy (sync)."""
    try:
        for attempt in retrying(call):
            with attempt:
                return _attempt(call)
    except ProviderError as exc:
        emit_error(call, exc)
        raise
    raise AssertionError("unreachable")  # pragma: no cover


def _open_attempt(call: Call) -> StreamHandle:
    for reauth in (True, False):
        call.remaining()
        req = apply_auth(call)
        emit_request(call, req)
        handle = _transport.stream(req, deadline=call.deadline)
        if handle.status < 400:
            return handle
        try:
            body = handle.read()
        finally:
            handle.close()
        if handle.status == 401 and reauth and _reauthorized(call, call.auth.on_unauthorized(call.credentials)):
            continue
        _check(call, handle.status, handle.headers, body)
    raise AssertionError("unreachable")  # pragma: no cover


def open_stream(call: Call) -> StreamHandle:
    """Open the streamed response, retrying by the policy until it is accepted (sync)."""
    try:
        for attempt in retrying(call):
            with attempt:
                return _open_attempt(call)
    except ProviderError as exc:
        emit_error(call, exc)
        raise
    raise AssertionError("unreachable")  # pragma: no cover


# -- async -----------------------------------------------------------------------------------


def aretrying(call: Call) -> AsyncRetrying:
    """The tenacity loop for one call's attempts (async)."""
    from tenacity import AsyncRetrying

    policy = _policy(call)
    kw = tenacity_kwargs(policy, _before_sleep(call), call.deadline)
    kw.pop("sleep", None)
    if policy.async_sleep is not None:
        kw["sleep"] = policy.async_sleep
    return AsyncRetrying(**kw)


async def aprepare(call: Call) -> Call:
    """Async twin of :func:`prepare`."""
    call.credentials = await call.auth.aprepare_credentials(call.credentials)
    call = run_steps(call, ENCODE)
    call.prepared = True
    return call


async def _aattempt(call: Call) -> RawResponse:
    for reauth in (True, False):
        call.remaining()
        req = apply_auth(call)
        emit_request(call, req)
        raw = await _transport.asend(req, deadline=call.deadline)
        if raw.status == 401 and reauth and _reauthorized(call, await call.auth.aon_unauthorized(call.credentials)):
            continue
        _check(call, raw.status, raw.headers, raw.body)
        return raw
    raise AssertionError("unreachable")  # pragma: no cover


async def asend(call: Call) -> RawResponse:
    """Async twin of :func:`send`."""
    try:
        async for attempt in aretrying(call):
            with attempt:
                return await _aattempt(call)
    except ProviderError as exc:
        emit_error(call, exc)
        raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _aopen_attempt(call: Call) -> StreamHandle:
    for reauth in (True, False):
        call.remaining()
        req = apply_auth(call)
        emit_request(call, req)
        handle = await _transport.astream(req, deadline=call.deadline)
        if handle.status < 400:
            return handle
        try:
            body = await handle.aread()
        finally:
            await handle.aclose()
        if handle.status == 401 and reauth and _reauthorized(call, await call.auth.aon_unauthorized(call.credentials)):
            continue
        _check(call, handle.status, handle.headers, body)
    raise AssertionError("unreachable")  # pragma: no cover


async def aopen_stream(call: Call) -> StreamHandle:
    """Async twin of :func:`open_stream`."""
    try:
        async for attempt in aretrying(call):
            with attempt:
                return await _aopen_attempt(call)
    except ProviderError as exc:
        emit_error(call, exc)
        raise
    raise AssertionError("unreachable")  # pragma: no cover
