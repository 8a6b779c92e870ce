"""Output for the command line: rich on a terminal, plain text when piped.

Standard output carries only results (answers, vectors, tables, JSON); notes, progress and
errors go to standard error. When standard output is not a terminal nothing carries ANSI codes
and no spinner runs; rich is not even imported then.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["CliError", "Out", "one_line", "short_unknown"]


class CliError(Exception):
    """A failure the command line reports as one line on standard error.

    Args:
        message: The line (without the ``sycophant: error:`` prefix).
        code: The exit code (1: something failed; 2: the caller asked for something impossible).
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) turned into one space."""
    return " ".join(str(text).split())


def short_unknown(exc: Exception, known: Sequence[str], command: str) -> str:
    """An unknown-name message without its full listing when that listing is long."""
    text = str(exc)
    if len(known) <= 12 or " Known: " not in text:
        return text
    return text.split(" Known: ", maxsplit=1)[0] + f" (`sycophant {command}` lists them)"


class Waiting:
    """A spinner on standard error until the first output arrives (a no-op off a terminal)."""

    def __init__(self, status: Any = None) -> None:
        self._status = status

    def stop(self) -> None:
        """Remove the spinner (idempotent)."""
        if self._status is not None:
            self._status.stop()
            self._status = None


class Out:
    """Where a command writes: results to standard output, notes and errors to standard error."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        """Standard output is a terminal: rich tables, colours, streaming and spinners."""
        self.err_tty = sys.stderr.isatty()
        self._open_line = False

    @cached_property
    def console(self) -> Console:
        """The rich console on standard output (terminal only)."""
        from rich.console import Console

        return Console(highlight=False)

    @cached_property
    def err_console(self) -> Console:
        """The rich console on standard error."""
        from rich.console import Console

        return Console(stderr=True, highlight=False)

    # -- results -----------------------------------------------------------------------------------

    def line(self, text: str = "", style: str | None = None) -> None:
        """Print one line of result (styled on a terminal)."""
        if self.tty and style:
            from rich.text import Text

            self.console.print(Text(text, style=style), soft_wrap=True)
        else:
            print(text, flush=True)

    def write(self, text: str) -> None:
        """Write streamed text as it arrives (flushed at once)."""
        if text:
            self._open_line = not text.endswith("\n")  # first: a Ctrl-C during the write still ends the line
            sys.stdout.write(text)
            sys.stdout.flush()

    def end_line(self) -> None:
        """End the streamed text's last line, if it is open."""
        if self._open_line:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._open_line = False

    def json(self, value: Any, *, compact: bool = False) -> None:
        """Print a JSON value (indented on a terminal unless ``compact``, one line when piped)."""
        indent = 2 if self.tty and not compact else None
        print(json.dumps(value, ensure_ascii=False, indent=indent), flush=True)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A table on a terminal; tab-separated lines without a header when piped."""
        if not self.tty:
            for row in rows:
                print("\t".join("" if v is None else str(v) for v in row))
            sys.stdout.flush()
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, header_style="bold", pad_edge=False)
        key_width = max([len(headers[0])] + [len(str(row[0])) for row in rows])
        table.add_column(headers[0], no_wrap=True, min_width=key_width)  # the key column is never cut
        for header in headers[1:]:
            table.add_column(header)
        for row in rows:
            table.add_row(*(Text("" if v is None else str(v)) for v in row))
        self.console.print(table)

    # -- notes and errors -----------------------------------------------------------------------------

    def note(self, text: str, style: str = "dim") -> None:
        """A message for the person at the terminal (standard error)."""
        if self.err_tty:
            from rich.text import Text

            self.err_console.print(Text(text, style=style), soft_wrap=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def error(self, text: str) -> None:
        """One ``sycophant: error: ...`` line on standard error."""
        line = f"sycophant: error: {one_line(text)}"
        if self.err_tty:
            from rich.text import Text

            self.err_console.print(Text(line, style="red"), soft_wrap=True)
        else:
            print(line, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def waiting(self, text: str) -> Iterator[Waiting]:
        """A spinner on standard error while ``text`` applies; only when both outputs are terminals."""
        if not (self.tty and self.err_tty):
            yield Waiting()
            return
        status = self.err_console.status(text, spinner="dots")
        status.start()
        waiting = Waiting(status)
        try:
            yield waiting
        finally:
            waiting.stop()
