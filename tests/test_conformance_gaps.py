"""``docs/conformance.md`` is current, and what it counts is what the suite leaves out.

``scripts/conformance_gaps.py --check`` rebuilds the page from the recordings (as ``gen_catalog.py
--check`` does for the catalog); a recording a replay check cannot use is left out at collection
time (``tests/conformance/gaps.py``), never generated as a skipped test.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "conformance_gaps.py"
DOC = REPO / "docs" / "conformance.md"


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("conformance_gaps", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_page_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=REPO, capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    script = load_script()
    records = [_row("openai_chat", "request", "not expressible", "request field(s) the library does not model: x")]
    page = script.render(records, "not expressible")
    assert "| `openai_chat` | request field(s) the library does not model: x | 1 |" in page
    assert "| **all** | **total** | **1** |" in page
    script.DOC = tmp_path / "conformance.md"
    script.collect = lambda: (records, "not expressible")
    script.DOC.write_text(page.replace("| 1 |", "| 2 |"), encoding="utf-8")
    assert script.main(["--check"]) == 1
    assert script.main([]) == 0
    assert script.main(["--check"]) == 0
    assert script.DOC.read_text(encoding="utf-8") == page


def test_features_are_named_without_the_recordings_values() -> None:
    feature = load_script().feature
    assert feature("tool of type 'mcp' with fields ['server_label', 'type']") == "tool of type 'mcp'"
    assert feature("tool_choice {'function': {'name': 'get_weather'}}") == (
        "tool_choice {'function': {'name': ...}} without a 'type'"
    )
    allowed = "tool_choice {'mode': 'required', 'tools': [{'name': 'a', 'type': 'function'}], 'type': 'allowed_tools'}"
    assert feature(allowed) == "tool_choice of type 'allowed_tools'"
    shared = "a value outside the shared params: Invalid param reasoning_effort='default': Input should be 'low'"
    assert feature(shared) == "a value outside the shared params: reasoning_effort='default'"
    assert feature("assistant block 'server_tool_use'") == "assistant block 'server_tool_use'"


def test_the_totals_add_up() -> None:
    text = DOC.read_text(encoding="utf-8")
    main, other = text.split("## Other recordings left out")
    per_protocol = [int(n) for n in re.findall(r"^\| `\w+` \| (?!\*\*total)[^\n]*\| (\d+) \|$", main, re.M)]
    totals = [int(n) for n in re.findall(r"^\| `\w+` \| \*\*total\*\* \| \*\*(\d+)\*\* \|$", main, re.M)]
    (grand,) = (int(n) for n in re.findall(r"^\| \*\*all\*\* \| \*\*total\*\* \| \*\*(\d+)\*\* \|$", main, re.M))
    assert sum(per_protocol) == sum(totals) == grand
    assert grand >= 100  # the recordings are there: an empty corpus would give an empty table
    rows = [int(n) for n in re.findall(r"^\| `\w+` \|[^\n]*\| (\d+) \|$", other, re.M)]
    (other_total,) = (int(n) for n in re.findall(r"\*\*total\*\* \| \*\*(\d+)\*\* \|$", other, re.M))
    assert sum(rows) == other_total


def _row(protocol: str, section: str, kind: str, detail: str) -> Any:
    return _gaps().NotGenerated(protocol, section, "id#0", "src", "prov", False, kind, detail)


def _gaps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gaps_for_test", REPO / "tests" / "conformance" / "gaps.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


def test_keep_records_what_it_leaves_out() -> None:
    gaps = _gaps()
    kept = gaps.keep(
        [1, 2, 3, 4],
        "p",
        "request",
        lambda n: (f"id{n}", "src", "prov", n % 2 == 0),
        lambda n: ("odd", f"n={n}") if n % 2 else None,
    )
    assert kept == [2, 4]
    assert [(g.interaction, g.kind, g.detail, g.streamed) for g in gaps.NOT_GENERATED] == [
        ("id1", "odd", "n=1", False),
        ("id3", "odd", "n=3", False),
    ]
