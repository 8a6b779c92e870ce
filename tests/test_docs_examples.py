"""Every ```python block of README.md and docs/**/*.md runs, against the docs sandbox.

One test per page (ids are the file names): the page's python blocks run in order in one
namespace (a module of its own, like a notebook), inside :func:`tests.docs_sandbox.docs_sandbox`
(a fake provider on 127.0.0.1 that every request is redirected to; fake keys in the
environment). A block with top-level ``await`` runs in its own event loop. Tracebacks point at
the Markdown file and line. After the python blocks, every ```toml block is parsed, and one
whose top-level tables are config-file sections (``providers``, ``custom_providers``,
``instances``, ``aliases``, ``gateway``) is loaded as the config file (``SYCOPHANT_CONFIG``) and
its custom models resolved with ``get_model``. Other fences (bash, json, text...) are not run.

A block that cannot run (it starts a long-lived server, opens a browser, needs a real account) is
preceded by ``<!-- docs-test: skip (why) -->`` on the line before its fence; each skipped block
is reported as a skipped test item with its reason. A marker without a reason, an unknown
directive, or a marker before a block that would not run anyway fails the page's test.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import sys
import textwrap
import tomllib
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _config
from tests.docs_sandbox import DocsSandbox, docs_sandbox

ROOT = Path(__file__).resolve().parent.parent
RUN = frozenset({"python", "py", "python3"})
CHECKED = RUN | {"toml"}
CONFIG_SECTIONS = frozenset({"providers", "custom_providers", "instances", "aliases", "gateway"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)[^`]*$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:(?P<body>.*?)-->\s*$")
_SKIP = re.compile(r"^skip\s*(?:\((?P<reason>.*)\))?$")
_EXAMPLE = re.compile(r"^\s*<!--\s*example:\s*(?P<name>[\w.-]+)\s*-->\s*$")


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    path: Path
    line: int
    """1-based line of the block's first code line."""
    lang: str
    source: str
    skip: str | None = None
    """The reason of a ``docs-test: skip`` marker."""
    marker_error: str | None = None
    """What is wrong with the marker before the block, if anything."""
    example: str | None = None
    """The name of an ``<!-- example: NAME -->`` marker: a test of its own may run the block."""

    @property
    def where(self) -> str:
        """``docs/tools.md:42`` (the path relative to the repository when it is inside it)."""
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"


def _marker(line: str) -> tuple[str | None, str | None] | None:
    """``(skip reason, error)`` of a ``docs-test`` marker line, or None when the line is not one."""
    match = _MARKER.match(line)
    if match is None:
        return None
    body = match["body"].strip()
    skip = _SKIP.match(body)
    if skip is None:
        return None, f"unknown docs-test directive {body!r} (only 'skip (reason)' exists)"
    reason = (skip["reason"] or "").strip()
    return (reason, None) if reason else (None, "a docs-test skip marker needs a reason: 'skip (why)'")


def _fence_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the block opened at ``start`` (the end of the page if none does)."""
    char, width = fence[0], len(fence)
    for j in range(start + 1, len(lines)):
        stripped = lines[j].strip()
        if stripped.startswith(char * width) and not stripped.strip(char):
            return j
    return len(lines)


def _preceding_marker(lines: list[str], start: int) -> tuple[str | None, str | None] | None:
    """The marker on the last non-blank line before ``start``, if that line is one."""
    j = start - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return _marker(lines[j]) if j >= 0 else None


def parse_blocks(path: Path, text: str | None = None) -> list[Block]:
    """The fenced code blocks of a Markdown page, with their skip markers.

    Args:
        path: The page (read unless ``text`` is given).
        text: The page's text, for tests.
    """
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        end = _fence_end(lines, i, opening["fence"])
        lang = opening["info"].lower()
        source = textwrap.dedent("\n".join(lines[i + 1 : end])) + "\n"
        marker = _preceding_marker(lines, i)
        skip, error = marker if marker is not None else (None, None)
        if marker is not None and error is None and lang not in CHECKED:
            error = f"a docs-test marker before a {lang or 'plain'} block, which is never run"
        named = _EXAMPLE.match(lines[i - 1]) if i > 0 else None
        out.append(Block(path, i + 2, lang, source, skip, error, named["name"] if named else None))
        i = end + 1
    return out


def _dedicated_tests() -> dict[Path, str]:
    return {
        p: p.read_text(encoding="utf-8")
        for p in (ROOT / "tests").rglob("test_*.py")
        if p.name not in ("test_docs_examples.py", "test_docs_sandbox.py")
    }


def run_elsewhere(block: Block) -> Path | None:
    """The test module that runs a named example of this page itself (with its own fixtures), if any.

    A block marked ``<!-- example: NAME -->`` is left to a test that names both the page and the
    example (``"factories.md"`` and ``"mybackend"``): it needs set-up the generic sandbox cannot
    give (a scripted backend of its own, a fake identity provider).
    """
    if block.example is None:
        return None
    quoted = (f'"{block.example}"', f"'{block.example}'")
    for path, text in _dedicated_tests().items():
        if block.path.name in text and any(q in text for q in quoted):
            return path
    return None


# -- running --------------------------------------------------------------------------------


class DocsExampleError(AssertionError):
    """A docs block failed; the message names the file and line."""


def run_python(block: Block, namespace: dict[str, Any]) -> None:
    """Run one block in ``namespace``; line numbers in tracebacks are the Markdown file's.

    Raises:
        DocsExampleError: the block raised (the original exception is the cause).
    """
    padded = "\n" * (block.line - 1) + block.source
    try:
        code = compile(padded, str(block.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        if code.co_flags & inspect.CO_COROUTINE:
            asyncio.run(eval(code, namespace))
        else:
            exec(code, namespace)
    except Exception as exc:
        raise DocsExampleError(f"{block.where}: the example raised {type(exc).__name__}: {exc}") from exc


def _resolve_configured(data: dict[str, Any]) -> None:
    """``get_model`` every model a config file declares (any id for a provider without models)."""
    for pid, row in (data.get("custom_providers") or {}).items():
        for model_id, model in (row.get("models") or {"docs-check": {}}).items():
            info = syc.get_model(f"{pid}:{model_id}")
            own = {"base_url", "api", "wire_protocol"} & set(model or {})
            assert own or "base_url" not in row or info.base_url == row["base_url"], (info.base_url, row)
    for instance in data.get("instances") or ():
        if instance.get("enabled", True):
            syc.get_model(f"{instance['name']}:docs-check")


def check_toml(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse a TOML block; load a config-file example as the config file and resolve its models.

    Raises:
        DocsExampleError: invalid TOML, or a config file the library refuses.
    """
    try:
        data = tomllib.loads(block.source)
    except tomllib.TOMLDecodeError as exc:
        raise DocsExampleError(f"{block.where}: invalid TOML: {exc}") from exc
    if not CONFIG_SECTIONS & data.keys():
        return
    config = tmp_path / f"config-{block.line}.toml"
    config.write_text(block.source, encoding="utf-8")
    previous = os.environ.get("SYCOPHANT_CONFIG")
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(config))
    syc.configure(reset=True)
    try:
        _config.settings()  # reads and validates the file
        _resolve_configured(data)
    except Exception as exc:
        raise DocsExampleError(f"{block.where}: the config-file example is refused: {exc}") from exc
    finally:
        if previous is None:
            monkeypatch.delenv("SYCOPHANT_CONFIG")
        else:
            monkeypatch.setenv("SYCOPHANT_CONFIG", previous)
        syc.configure(reset=True)


@dataclass
class PageRun:
    """What running a page did."""

    ran: list[Block]
    skipped: list[Block]
    tomls: list[Block]
    sandbox: DocsSandbox


def run_page(path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str | None = None) -> PageRun:
    """Run a page's python blocks in one module namespace inside the sandbox, then check its TOML blocks.

    Raises:
        DocsExampleError: a marker is malformed, a block raised, or the sandbox refused a request.
    """
    blocks = [b for b in parse_blocks(path, text) if b.lang in CHECKED]
    bad = [f"{b.where}: {b.marker_error}" for b in parse_blocks(path, text) if b.marker_error]
    if bad:
        raise DocsExampleError("\n".join(bad))
    runnable = [b for b in blocks if b.lang in RUN and b.skip is None and run_elsewhere(b) is None]
    module = types.ModuleType("docs_example_" + re.sub(r"\W", "_", path.stem))
    module.__file__ = str(path)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.chdir(tmp_path)
    with docs_sandbox(monkeypatch, tmp_path, [b.source for b in runnable]) as box:
        for block in runnable:
            run_python(block, module.__dict__)
        if box.failures:
            raise DocsExampleError(f"{path.name}: the docs sandbox refused requests:\n" + "\n".join(box.failures))
    tomls = [b for b in blocks if b.lang == "toml" and b.skip is None and run_elsewhere(b) is None]
    for block in tomls:
        check_toml(block, tmp_path, monkeypatch)
    return PageRun(runnable, [b for b in blocks if b.skip is not None], tomls, box)


# -- the tests ------------------------------------------------------------------------------


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT / "docs")) if path.parent != ROOT else path.name


def _skipped_blocks() -> list[Block]:
    return [b for page in pages() for b in parse_blocks(page) if b.skip is not None and b.marker_error is None]


@pytest.mark.parametrize("page", pages(), ids=_page_id)
def test_docs_page(page: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run = run_page(page, monkeypatch, tmp_path)
    answered = Counter(kind for _, _, kind in run.sandbox.served)
    print(
        f"{_page_id(page)}: {len(run.ran)} python blocks run, {len(run.tomls)} toml checked, "
        f"{len(run.skipped)} skipped; sandbox answered {dict(answered)}"
    )
    for block in run.skipped:
        print(f"  skipped {block.where}: {block.skip}")


def test_docs_skipped_blocks() -> None:
    """The blocks a ``docs-test: skip`` marker excludes: each says why, and they stay few (printed with ``-s``)."""
    skipped = _skipped_blocks()
    for b in skipped:
        assert b.skip, f"{b.where}: a skip marker needs a reason"
        print(f"docs block not run: {b.where} ({b.skip})")
    assert len(skipped) <= 5, "docs examples are meant to run: make the new ones runnable in the sandbox"
