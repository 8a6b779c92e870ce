"""The automatic tool loop: run the functions the model asked for and send the results back.

Arguments are validated against the tool's JSON Schema (jsonschema) before the call. A ``str``
result is sent as it is, anything else as JSON; an exception (or invalid arguments, or an unknown
tool) becomes an error result the model sees. The loop stops when the model stops calling tools,
when it calls a tool that has no function (the caller handles that), or after ``max_steps``
model calls (``stopped_early`` is then set). Usage and cost are summed over the steps, and every
step is kept in ``steps``.

Failures after the first (billed) request are library errors that carry what was spent: any
:class:`SycophantError` leaving the loop (a provider error on a later step, a tool result that
cannot be encoded as JSON: :class:`ToolResultInvalid`, a parameters schema that cannot be applied
to the arguments: :class:`InvalidSchema`) gets ``exc.steps`` (the responses so far) and
``exc.usage`` (their summed usage). The async loop runs a step's tools concurrently and waits for
all of them before raising.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sycophant_py._exceptions import InvalidSchema, SycophantError, ToolResultInvalid
from sycophant_py._types import Message, Response, Tool, ToolCall, Usage

if TYPE_CHECKING:
    from sycophant_py._pipeline import Call

__all__ = ["arun_tool_loop", "run_tool_loop"]


def _validation_error(tool: Tool, call: ToolCall) -> str | None:
    """The argument errors the model should see, or None; a schema that cannot be applied raises."""
    from sycophant_py._schema_check import arguments_validator

    try:
        found = list(arguments_validator(tool).iter_errors(dict(call.arguments)))
    except Exception as exc:  # jsonschema raises several types (referencing, unknown type...) for such a schema
        raise InvalidSchema(
            f"tool {tool.name!r}: its parameters schema cannot be applied to the arguments of call "
            f"{call.id!r}: {type(exc).__name__}: {exc}",
            tool=tool.name,
        ) from exc
    if not found:
        return None
    errors = sorted(found, key=lambda e: list(e.path))
    return "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])


def _encode_result(call: ToolCall, value: Any) -> str:
    """The text sent back for a tool's return value (a ``str`` as it is, anything else as JSON)."""
    if isinstance(value, str):
        return value
    try:
        dump = getattr(value, "model_dump", None)
        if dump is not None:
            value = dump(mode="json")
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ToolResultInvalid(
            f"tool {call.name!r} returned a value that cannot be sent back as JSON (call {call.id!r}): "
            f"{type(exc).__name__}: {exc}",
            tool=call.name,
            tool_call_id=call.id,
        ) from exc


def _plan(tools: Sequence[Tool], call: ToolCall) -> tuple[Tool | None, Message | None]:
    tool = next((t for t in tools if t.name == call.name), None)
    if tool is None:
        known = ", ".join(t.name for t in tools)
        return None, Message.tool_result(
            call.id, f"Error: unknown tool {call.name!r} (tools: {known})", name=call.name, is_error=True
        )
    if call.parse_error is not None:
        # The function is not called with made-up arguments: the model sees why and may retry.
        received = call.arguments_json[:1000]
        return None, Message.tool_result(
            call.id, f"Error: {call.parse_error}. Arguments received: {received}", name=call.name, is_error=True
        )
    problem = _validation_error(tool, call)
    if problem:
        return None, Message.tool_result(call.id, f"Error: invalid arguments: {problem}", name=call.name, is_error=True)
    return tool, None


def _error(call: ToolCall, exc: BaseException) -> Message:
    return Message.tool_result(call.id, f"Error: {type(exc).__name__}: {exc}", name=call.name, is_error=True)


def _run_sync(tools: Sequence[Tool], call: ToolCall) -> Message:
    tool, early = _plan(tools, call)
    if early is not None or tool is None or tool.function is None:
        return early or Message.tool_result(call.id, "Error: tool has no function", name=call.name, is_error=True)
    try:
        result = tool.function(**call.arguments)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError("async tool functions need an async entry point (agenerate_text)")
    except Exception as exc:  # noqa: BLE001 - the model sees the error
        return _error(call, exc)
    return Message.tool_result(call.id, _encode_result(call, result), name=call.name)


async def _run_async(tools: Sequence[Tool], call: ToolCall) -> Message:
    tool, early = _plan(tools, call)
    if early is not None or tool is None or tool.function is None:
        return early or Message.tool_result(call.id, "Error: tool has no function", name=call.name, is_error=True)
    try:
        result = tool.function(**call.arguments)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:  # noqa: BLE001 - the model sees the error
        return _error(call, exc)
    return Message.tool_result(call.id, _encode_result(call, result), name=call.name)


def _runnable(tools: Sequence[Tool], resp: Response) -> bool:
    by_name = {t.name: t for t in tools}
    return bool(resp.tool_calls) and all(
        (by_name.get(c.name) is None) or by_name[c.name].function is not None for c in resp.tool_calls
    )


def _total(steps: Sequence[Response]) -> Usage:
    usage = Usage()
    for s in steps:
        usage = usage + s.usage
    return usage


def _summarise(steps: list[Response], max_steps: int, tools: Sequence[Tool]) -> Response:
    """The loop's result: the last step's answer with summed usage; each step keeps its own usage."""
    last = steps[-1]
    return replace(
        last, usage=_total(steps), steps=list(steps), stopped_early=len(steps) >= max_steps and _runnable(tools, last)
    )


def _spent(exc: SycophantError, steps: list[Response]) -> None:
    """Attach the steps so far and their usage to an error leaving the loop (once: the innermost loop wins)."""
    if exc.steps is None:
        exc.steps = list(steps)
        exc.usage = _total(steps)


def _relax_tool_choice(call: Call) -> None:
    """After the first step a forced tool choice (required / a named tool) becomes ``auto``,
    otherwise the model could never answer and the loop would only end at ``max_steps``."""
    choice = call.params.get("tool_choice")
    if choice is not None and choice not in ("auto", "none"):
        call.params = {**call.params, "tool_choice": "auto"}


def run_tool_loop(call: Call, resp: Response, max_steps: int, step: Callable[[Call], Response]) -> Response:
    """Run the loop (sync entry points: sync tool functions only)."""
    steps = [resp]
    try:
        while _runnable(call.tools, resp) and len(steps) < max_steps:
            results = [_run_sync(call.tools, c) for c in resp.tool_calls]
            _relax_tool_choice(call)
            call.messages = (*call.messages, resp.message, *results)
            resp = step(call)
            steps.append(resp)
    except SycophantError as exc:
        _spent(exc, steps)
        raise
    return _summarise(steps, max_steps, call.tools)


async def arun_tool_loop(
    call: Call, resp: Response, max_steps: int, step: Callable[[Call], Awaitable[Response]]
) -> Response:
    """Run the loop (async entry points: sync or async tool functions)."""
    import asyncio

    steps = [resp]
    try:
        while _runnable(call.tools, resp) and len(steps) < max_steps:
            outcomes = await asyncio.gather(
                *(_run_async(call.tools, c) for c in resp.tool_calls), return_exceptions=True
            )
            results = [_result(o) for o in outcomes]
            _relax_tool_choice(call)
            call.messages = (*call.messages, resp.message, *results)
            resp = await step(call)
            steps.append(resp)
    except SycophantError as exc:
        _spent(exc, steps)
        raise
    return _summarise(steps, max_steps, call.tools)


def _result(outcome: Message | BaseException) -> Message:
    """A gathered tool result, or the error one of them raised (after every tool has finished)."""
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
