"""Results registry of the recorded-traffic conformance replays, and the summary printed at the end.

Tests append one :class:`Result` per check to :data:`RESULTS` (with the :func:`record` context manager
that the ``conformance_record`` fixture hands out); ``pytest_terminal_summary`` prints one table per
protocol: how many interactions were replayed per source and provider (streamed and not), how many
checks passed or failed, every skip with its reason, and how many recordings a check left out at
collection time (``gaps.NOT_GENERATED``: a request the public types cannot express, an endpoint this
library does not call...), by kind; ``docs/conformance.md`` lists those feature by feature.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest

from .gaps import NOT_GENERATED, NotGenerated

__all__ = ["RESULTS", "Result", "Where", "record"]

SECTIONS = {
    "decode": "decoder replay (bodies and streams, every split)",
    "error": "error mapping (non-2xx bodies)",
    "e2e": "end to end through ScriptedServer and the public API",
    "request": "request encoding golden tests (rebuilt calls vs recorded bodies)",
}


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one check of one recorded interaction."""

    protocol: str
    """Wire protocol under test (``openai_chat``)."""
    section: str
    """One of :data:`SECTIONS`."""
    interaction: str
    """The corpus id of the interaction."""
    source: str
    provider: str
    streamed: bool
    variant: str
    """Which replay of the interaction (``whole``, ``split-seed1``, ``bytes1``...)."""
    outcome: str
    """``passed``, ``failed`` or ``skipped``."""
    reason: str = ""
    """Why it was skipped (or the first line of the failure)."""


RESULTS: list[Result] = []
"""Every result of the session, in the order the tests ran."""


Where = tuple[str, str, str, bool]
"""``(interaction id, source, provider, streamed)`` of the interaction a check replays."""


@contextmanager
def record(protocol: str, section: str, where: Where, variant: str) -> Iterator[None]:
    """Run a check and append its outcome (a ``pytest.skip`` inside is recorded with its reason)."""
    fields = (protocol, section, *where, variant)
    try:
        yield
    except pytest.skip.Exception as exc:
        RESULTS.append(Result(*fields, "skipped", str(exc.msg)))
        raise
    except BaseException as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        RESULTS.append(Result(*fields, "failed", first[:160]))
        raise
    RESULTS.append(Result(*fields, "passed"))


@pytest.fixture
def conformance_record() -> Callable[..., AbstractContextManager[None]]:
    """:func:`record`, appending to the session's module-level :data:`RESULTS`."""
    return record


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in pairs]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def summary_lines(results: list[Result], protocol: str, left_out: list[NotGenerated] | None = None) -> list[str]:
    """The summary table of one protocol, as lines (``left_out``: the recordings not generated)."""
    mine = [r for r in results if r.protocol == protocol]
    lines = [f"conformance: {protocol}"]
    if not mine:
        return [*lines, "  (no conformance results recorded)"]
    for section, title in SECTIONS.items():
        rows_of = [r for r in mine if r.section == section]
        gaps = [g for g in left_out or () if g.protocol == protocol and g.section == section]
        if not rows_of and not gaps:
            continue
        lines.append("")
        lines.append(f"{section}: {title}")
        streamed: dict[tuple[str, str], set[str]] = defaultdict(set)
        plain: dict[tuple[str, str], set[str]] = defaultdict(set)
        outcomes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for r in rows_of:
            key = (r.source, r.provider)
            (streamed if r.streamed else plain)[key].add(r.interaction)
            outcomes[key][r.outcome] += 1
        for g in gaps:
            outcomes[(g.source, g.provider)]["not generated"] += 1
        header = ["source", "provider", "streamed", "non-streamed", "checks", "passed", "failed", "skipped"]
        header.append("not generated")
        rows = [header]
        totals = Counter[str]()
        for key in sorted(outcomes):
            c = outcomes[key]
            n_s, n_p = len(streamed[key]), len(plain[key])
            checks = c.total() - c["not generated"]
            totals.update({"streamed": n_s, "plain": n_p, "checks": checks, **c})
            counts = [c["passed"], c["failed"], c["skipped"], c["not generated"]]
            rows.append([key[0], key[1], str(n_s), str(n_p), str(checks), *map(str, counts)])
        names = ["streamed", "plain", "checks", "passed", "failed", "skipped", "not generated"]
        rows.append(["total", "", *(str(totals[n]) for n in names)])
        lines.extend("  " + line for line in _table(rows))
        reasons = Counter(r.reason for r in rows_of if r.outcome == "skipped")
        for reason, n in reasons.most_common():
            lines.append(f"    skipped {n:>4} x {reason}")
        for kind, n in Counter(g.kind for g in gaps).most_common():
            lines.append(f"    not generated {n:>4} x {kind} (see docs/conformance.md)")
        failures = [r for r in rows_of if r.outcome == "failed"]
        for r in failures[:20]:
            lines.append(f"    FAILED {r.interaction} [{r.variant}]: {r.reason}")
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print one table per protocol that recorded results."""
    for protocol in sorted({r.protocol for r in RESULTS}):
        terminalreporter.write_sep("=", f"conformance: {protocol}")
        for line in summary_lines(RESULTS, protocol, NOT_GENERATED)[1:]:
            terminalreporter.write_line(line)
