"""``sycophant chat`` and ``sycophant embed``.

``chat`` takes the prompt from its arguments, else from standard input when it is piped; with
neither, on a terminal, it opens an interactive session that keeps the conversation. It streams
on a terminal (each delta printed as it arrives) and prints the whole answer when piped
(``--stream`` / ``--no-stream`` override). Ctrl-C during a stream closes the stream, keeps what
arrived on screen and exits with 130 (in a session it ends the answer and returns to the prompt).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from sycophant_py._cli._out import CliError, Out, one_line
from sycophant_py._exceptions import ProviderError
from sycophant_py._types import Message, Response

__all__ = ["chat", "embed", "parse_options"]

_OPTION_HELP = "A request param as KEY=VALUE (VALUE is read as JSON when it parses); repeatable."


def parse_options(options: Sequence[str]) -> dict[str, Any]:
    """``["temperature=0.2", "stop=[\\"x\\"]", "user=bob"]`` -> params (JSON values where they parse).

    Raises:
        click.BadParameter: an option has no ``=`` or an empty key.
    """
    params: dict[str, Any] = {}
    for item in options:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="'-o'")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


@contextlib.contextmanager
def naming(model: str) -> Iterator[None]:
    """Fill in the provider and model of a provider error that lacks them (a refused connection)."""
    try:
        yield
    except ProviderError as exc:
        provider, _, model_id = model.partition(":")
        exc.provider = exc.provider or provider
        exc.model = exc.model or model_id
        raise


def _read_stdin() -> str:
    return sys.stdin.read()


def _stats(out: Out, resp: Response) -> None:
    """One dim line on a terminal's standard error: model, tokens, cost, and why it stopped early."""
    if not (out.tty and out.err_tty):
        return
    u = resp.usage
    bits = [f"{resp.provider}:{resp.model}", f"{u.input_tokens} in / {u.output_tokens} out tokens"]
    if u.cost is not None:
        bits.append(f"${u.cost.total:.6f}")
    if resp.finish_reason not in ("stop", "tool_use"):
        bits.append(f"finish: {resp.finish_reason}")
    out.note(" · ".join(bits))


@dataclass(frozen=True)
class Ask:
    """What every exchange of one ``chat`` invocation sends."""

    model: str
    params: Mapping[str, Any]
    timeout: float | None
    stream: bool


def stream_answer(out: Out, ask: Ask, messages: list[Message]) -> tuple[Response, bool]:
    """Stream one answer to standard output; returns the response and whether Ctrl-C stopped it.

    A failure before the first event raises; one after it ends the stream with the partial answer
    (``finish_reason == "error"``, ``resp.error`` set).
    """
    import sycophant_py as syc

    stream = syc.stream_text(ask.model, messages, timeout=ask.timeout, **ask.params)
    try:
        with naming(ask.model), out.waiting("waiting for the model...") as waiting:
            for event in stream:
                if event.type == "text_delta":
                    waiting.stop()
                    out.write(event.delta)
    except KeyboardInterrupt:
        stream.close()
        out.end_line()
        out.note("interrupted")
        try:
            return stream.response(), True
        except KeyboardInterrupt:  # interrupted before the provider answered: nothing arrived
            return Response(finish_reason="aborted"), True
    out.end_line()
    return stream.response(), False


def _generate(ask: Ask, messages: list[Message]) -> Response:
    import sycophant_py as syc

    with naming(ask.model):
        return syc.generate_text(ask.model, messages, timeout=ask.timeout, **ask.params)


def _json_result(resp: Response) -> dict[str, Any]:
    return {
        "text": resp.text,
        "finish_reason": resp.finish_reason,
        "usage": resp.usage.to_dict(),
        "model": resp.model,
        "provider": resp.provider,
    }


def _prompt_text(prompt: Sequence[str]) -> str | None:
    """The prompt from the arguments, else from piped standard input; None on a terminal without one."""
    if prompt:
        return " ".join(prompt)
    if sys.stdin is None or sys.stdin.isatty():
        return None
    text = _read_stdin()
    if not text.strip():
        raise click.UsageError("no prompt: give it as arguments or on standard input")
    return text


@click.command()
@click.argument("model")
@click.argument("prompt", nargs=-1)
@click.option("-s", "--system", help="A system prompt.")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE", help=_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: text, finish_reason, usage, model.")
@click.option("--stream/--no-stream", default=None, help="Print the answer as it arrives [default: on a terminal].")
@click.option("--timeout", type=float, help="Total seconds for the call, retries included.")
def chat(
    *,
    model: str,
    prompt: tuple[str, ...],
    system: str | None,
    options: tuple[str, ...],
    as_json: bool,
    stream: bool | None,
    timeout: float | None,
) -> int:
    """Ask a model (PROVIDER:MODEL); with no PROMPT on a terminal, chat interactively.

    \b
    sycophant chat llamacpp:smollm2 "Why is the sky blue?"
    git diff | sycophant chat openai:gpt-4o-mini -s "Write a commit message." -o temperature=0.2
    sycophant chat anthropic:claude-sonnet-4-5          # an interactive session; /exit or Ctrl-D ends it
    """
    out = Out()
    ask = Ask(model, parse_options(options), timeout, out.tty if stream is None else stream)
    text = _prompt_text(prompt)
    if text is None:
        if as_json:
            raise click.UsageError("--json needs a prompt (as arguments or on standard input)")
        return _session(out, ask, system)
    messages = [Message.system(system)] if system else []
    messages.append(Message.user(text))
    if as_json or not ask.stream:
        resp = _generate(ask, messages)
        if as_json:
            out.json(_json_result(resp))
        else:
            out.line(resp.text)
        _stats(out, resp)
        return 0
    resp, interrupted = stream_answer(out, ask, messages)
    if interrupted:
        return 130
    if resp.finish_reason == "error" and resp.error is not None:
        raise resp.error
    _stats(out, resp)
    return 0


def _ask_line() -> str:
    """Read one line at the session prompt (line editing and history with readline, where it exists)."""
    with contextlib.suppress(ImportError):  # no readline on Windows
        import readline  # noqa: F401 - importing it gives input() line editing
    return input("> ")


def _turn(out: Out, ask: Ask, messages: list[Message]) -> None:
    """One exchange of a session: the answer (even a partial one) joins the conversation."""
    try:
        if ask.stream:
            resp, _ = stream_answer(out, ask, messages)
        else:
            resp = _generate(ask, messages)
            out.line(resp.text)
    except ProviderError as exc:
        out.error(one_line(exc))
        messages.pop()
        return
    if resp.finish_reason == "error" and resp.error is not None:
        out.error(one_line(resp.error))
    if resp.parts:
        messages.append(resp.message)
    else:
        messages.pop()  # nothing came back: forget the question too
    _stats(out, resp)


def _session(out: Out, ask: Ask, system: str | None) -> int:
    """An interactive conversation on the terminal; ``/exit`` or Ctrl-D ends it, Ctrl-C at the prompt too."""
    out.note(f"Chatting with {ask.model}. Type /exit or press Ctrl-D to leave.")
    messages = [Message.system(system)] if system else []
    while True:
        try:
            line = _ask_line()
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            return 130
        if line.strip() in ("/exit", "/quit"):
            return 0
        if not line.strip():
            continue
        messages.append(Message.user(line))
        _turn(out, ask, messages)


@click.command()
@click.argument("model")
@click.argument("texts", nargs=-1)
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE", help=_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: vectors, usage, model, provider.")
@click.option("--timeout", type=float, help="Total seconds for the call.")
def embed(*, model: str, texts: tuple[str, ...], options: tuple[str, ...], as_json: bool, timeout: float | None) -> int:
    """Embed each TEXT with MODEL; prints one JSON vector per line (TEXTs default to stdin's lines).

    \b
    sycophant embed openai:text-embedding-3-small "hello" "world"
    sycophant embed ollama:nomic-embed-text -o dimensions=256 --json "hello"
    """
    import sycophant_py as syc

    out = Out()
    inputs = list(texts)
    if not inputs and sys.stdin is not None and not sys.stdin.isatty():
        inputs = [line for line in _read_stdin().splitlines() if line.strip()]
    if not inputs:
        raise CliError("nothing to embed: give texts as arguments or lines on standard input", 2)
    with naming(model):
        resp = syc.embed(model, inputs, timeout=timeout, **parse_options(options))
    if as_json:
        result = {
            "vectors": resp.vectors,
            "usage": resp.usage.to_dict(),
            "model": resp.model,
            "provider": resp.provider,
        }
        out.json(result, compact=True)
        return 0
    for vector in resp.vectors:
        print(json.dumps(vector))
    sys.stdout.flush()
    return 0
