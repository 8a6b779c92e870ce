"""The ``sycophant`` group, its global options, and how every failure becomes one line and an exit code.

Exit codes: 0 success; 1 a provider error (``syc.ProviderError``) or another failure; 2 a caller
error (``syc.InvalidError``: bad params, a missing key, an unknown provider; and bad command-line
usage); 130 after Ctrl-C; 141 when standard output was closed early (``| head``). No traceback is
printed unless ``--debug`` is given.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click
from typing_extensions import override

from sycophant_py import __version__
from sycophant_py._cli import _accounts, _chat, _doctor, _info, _serve
from sycophant_py._cli._info import base_url_of
from sycophant_py._cli._out import CliError, Out, one_line, short_unknown
from sycophant_py._exceptions import (
    InvalidError,
    MissingCredentials,
    ProviderConnectionError,
    SycophantError,
    UnknownProvider,
)

__all__ = ["cli", "missing_key_message", "run"]


@dataclass
class State:
    """What the group's options set for the whole run."""

    debug: bool = False


class PipeClosed(Exception):
    """Standard output was closed by its reader (raised past click, which would exit with 1 itself)."""


class _Group(click.Group):
    @override
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise PipeClosed from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Print tracebacks and the library's debug log on standard error.")
@click.version_option(__version__, "-V", "--version", prog_name="sycophant")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Call any large language model from the shell: chat, embed, list models, manage keys.

    Models are named PROVIDER:MODEL (openai:gpt-4o-mini, llamacpp:smollm2). Keys come from the
    config file, the credential store (`sycophant keys set`, `sycophant login`) or the
    provider's environment variable; `sycophant doctor` shows which.
    """
    ctx.ensure_object(State).debug = debug
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("sycophant_py")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


for _command in (
    _chat.chat,
    _chat.embed,
    _info.models,
    _info.providers,
    _accounts.login,
    _accounts.logout,
    _accounts.keys,
    _doctor.doctor,
    _serve.serve,
):
    cli.add_command(_command)


def missing_key_message(exc: MissingCredentials) -> str:
    """The command line's missing-key line: the env var(s), ``sycophant keys set``, and ``login`` where one exists."""
    from sycophant_py._config import config_path
    from sycophant_py._oauth import login_providers

    pid = exc.provider
    where = " or ".join(exc.env_vars) if exc.env_vars else None
    ways = [f"set {where}"] if where else []
    ways.append(f"run `sycophant keys set {pid}`")
    if pid in login_providers():
        ways.append(f"run `sycophant login {pid}`")
    ways.append(f"or put {exc.keyword} in [providers.{pid}] of {config_path()}")
    return f"no {exc.keyword} for provider {pid!r}: " + ", ".join(ways)


def _connection_hint(provider: str) -> str:
    """What to check when a provider cannot be reached."""
    from sycophant_py._catalog import provider_row

    row = provider_row(provider) or {}
    url = base_url_of(provider) or "its base URL"
    if not row.get("local"):
        return f"cannot reach {url} (check the network, a proxy, or the provider's base_url)"
    env = list((row.get("settings_env") or {}).get("base_url") or ())
    elsewhere = f"set {env[0]}" if env else f"set base_url in [custom_providers.{provider}]"
    return f"is a server listening at {url}? (start one, or {elsewhere} to use another)"


def _describe(exc: BaseException) -> tuple[str, int]:
    """The error line and exit code for a failure."""
    if isinstance(exc, CliError):
        return str(exc), exc.code
    if isinstance(exc, MissingCredentials):
        return missing_key_message(exc), 2
    if isinstance(exc, UnknownProvider):
        return short_unknown(exc, exc.known, "providers"), 2
    if isinstance(exc, ProviderConnectionError) and exc.provider:
        return f"{exc}: {_connection_hint(exc.provider)}", 1
    if isinstance(exc, SycophantError):  # a caller error (InvalidError) exits with 2, a provider error with 1
        return str(exc), 2 if isinstance(exc, InvalidError) else 1
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}", 1
    return f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", 1


def _broken_pipe() -> int:
    """Standard output was closed by the reader: stop quietly (no 'Exception ignored' at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


def run(argv: Sequence[str] | None = None) -> int:
    """Run the group; map every outcome to an exit code (see the module docstring)."""
    state = State()
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        rv = cli.main(args=args, prog_name="sycophant", standalone_mode=False, obj=state)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort as exc:
        return 130 if isinstance(exc.__cause__, KeyboardInterrupt) or exc.__cause__ is None else 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except (BrokenPipeError, PipeClosed):
        return _broken_pipe()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line (and a traceback with --debug)
        if state.debug or "--debug" in args:
            traceback.print_exc()
        message, code = _describe(exc)
        Out().error(one_line(message))
        return code
    return rv if isinstance(rv, int) else 0
