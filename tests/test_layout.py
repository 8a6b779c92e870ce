"""The layout rules of the package (docs/architecture.md, "Adding a protocol"), checked on the source.

* A protocol is a package ``sycophant_py/wire/<registry name>/`` with the template's files.
* Nothing outside its package names a protocol, except the registry's one table of built-ins (and
  the catalog's data, ``_data/*``, which is not code). In its code, a protocol package names another only to build
  on it (an import) or to name its embedding partner (the ``embedding`` descriptor line); its
  docstrings and comments may explain how the two relate.
* Protocols never assemble ``Response.text`` / ``reasoning`` / ``tool_calls``: they hand over parts.
* Each compat flag a protocol reads is one its descriptor declares.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sycophant_py._registry import BUILTINS, Kind, protocol_class
from sycophant_py.wire._base import EmbeddingWireProtocol, ProtocolBase, WireProtocol

PACKAGE = Path(__file__).resolve().parents[1] / "sycophant_py"
WIRE = PACKAGE / "wire"
NAMES = sorted({name for table in BUILTINS.values() for name in table})
CHAT = sorted(BUILTINS["chat"])
EMBEDDING = sorted(BUILTINS["embedding"])
TEMPLATE = {
    "chat": {"__init__.py", "encode.py", "decode.py", "stream.py"},
    "embedding": {"__init__.py", "encode.py", "decode.py"},
}
OPTIONAL = {"serve.py", "schema.py", "media.py"}
"""Files a protocol package may add: the server-side codec of the gateway (``serve``), a schema
dialect (``schema``: Gemini's), the mapping of media parts (``media``: Bedrock's)."""
MAX_LINES = 600

ALLOWED: dict[tuple[str, str], str] = {
    ("_config.py", "openai_chat"): "the config-file example in the module docstring shows the wire_protocol key",
}
"""(file under sycophant_py/, protocol name or ``*``) -> why it may name a protocol. Keep it tiny."""


def _py_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _package_of(path: Path) -> str | None:
    rel = path.relative_to(WIRE) if WIRE in path.parents else None
    return rel.parts[0] if rel is not None and len(rel.parts) > 1 else None


def _registry_table_lines() -> set[int]:
    """Line numbers of the built-ins table and the default names in ``_registry.py``."""
    tree = ast.parse((PACKAGE / "_registry.py").read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id in ("BUILTINS", "DEFAULT_CHAT", "DEFAULT_EMBEDDING"):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _prose_lines(path: Path) -> set[int]:
    """Line numbers of docstrings and comments."""
    text = path.read_text(encoding="utf-8")
    lines = {i for i, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith("#")}
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                lines.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    return lines


def _allowed(
    path: Path, lineno: int, line: str, name: str, table: set[int], *, prose: frozenset[int] = frozenset()
) -> bool:
    rel = path.relative_to(PACKAGE).as_posix()
    if _package_of(path) == name or (rel, name) in ALLOWED or (rel, "*") in ALLOWED:
        return True
    if _package_of(path) is not None and lineno in prose:
        return True  # a protocol package's docstring or comment explaining a relation
    if rel == "_registry.py":
        return lineno in table
    if re.match(rf"\s*from sycophant_py\.wire\.{name}(\.\w+)? import ", line):
        return True  # building on another protocol's package (or taking a constant from it)
    return _package_of(path) is not None and line.strip() == f'embedding = "{name}"'


def test_no_protocol_name_outside_its_package() -> None:
    table = _registry_table_lines()
    found: list[str] = []
    for path in _py_files():
        prose = frozenset(_prose_lines(path))
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in NAMES:
                if re.search(rf"\b{name}\b", line) and not _allowed(path, lineno, line, name, table, prose=prose):
                    found.append(f"{path.relative_to(PACKAGE)}:{lineno}: {name}: {line.strip()}")
    assert found == []


def test_the_layout_rule_can_fail() -> None:
    table = _registry_table_lines()
    assert not _allowed(PACKAGE / "_pipeline.py", 1, 'x = {"openai_chat": "openai_embed"}', "openai_chat", table)
    assert not _allowed(WIRE / "_util.py", 1, '"ollama_native"', "ollama_native", table)
    assert not _allowed(
        WIRE / "bedrock_converse" / "encode.py", 1, 'MARK = "anthropic_messages"', "anthropic_messages", table
    )
    assert _allowed(WIRE / "openai_chat" / "__init__.py", 1, '    embedding = "openai_embed"', "openai_embed", table)
    assert _allowed(
        WIRE / "google_embed" / "__init__.py",
        1,
        "from sycophant_py.wire.google_gemini.decode import x",
        "google_gemini",
        table,
    )


@pytest.mark.parametrize("name", NAMES)
def test_a_protocol_is_a_package_with_the_template_files(name: str) -> None:
    kind: Kind = "chat" if name in CHAT else "embedding"
    package = WIRE / name
    files = {p.name for p in package.glob("*.py")}
    cls = protocol_class(kind, name)
    assert cls is not None
    assert cls.__module__ == f"sycophant_py.wire.{name}"
    assert cls.name == name
    assert issubclass(cls, WireProtocol if kind == "chat" else EmbeddingWireProtocol)
    builds_on = [b for b in cls.__mro__[1:] if issubclass(b, ProtocolBase) and b.name]
    if files == {"__init__.py"}:
        assert builds_on, f"{name}: a one-file package must build on another protocol's package"
    else:
        assert TEMPLATE[kind] <= files, f"{name}: missing {sorted(TEMPLATE[kind] - files)}"
        assert files <= TEMPLATE[kind] | OPTIONAL, f"{name}: unexpected {sorted(files - TEMPLATE[kind] - OPTIONAL)}"
    for path in package.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES, path


def test_nothing_but_packages_and_shared_modules_in_wire() -> None:
    modules = {p.name for p in WIRE.glob("*.py")}
    assert modules == {"__init__.py", "_base.py", "_util.py", "_media.py", "_overflow.py", "_serve.py"}
    packages = {p.name for p in WIRE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == set(NAMES)


def _response_keywords(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Response":
            out += [
                f"{path.name}:{node.lineno}: {k.arg}"
                for k in node.keywords
                if k.arg in ("text", "tool_calls", "reasoning")
            ]
    return out


def test_protocols_hand_over_parts_never_joined_text() -> None:
    found = [hit for path in sorted(WIRE.rglob("*.py")) for hit in _response_keywords(path)]
    assert found == []
    sample = PACKAGE / "_fallback.py"
    assert _response_keywords(sample) == []  # the check reads real calls (see test_types for the derivation)


@pytest.mark.parametrize("name", CHAT)
def test_compat_flags_a_protocol_reads_are_declared(name: str) -> None:
    cls = protocol_class("chat", name)
    assert cls is not None
    assert issubclass(cls, WireProtocol)
    read: set[str] = set()
    for path in (WIRE / name).glob("*.py"):
        read |= set(re.findall(r"compat\.get\(\s*\"(\w+)\"", path.read_text(encoding="utf-8")))
    assert read <= set(cls.compat_flags), read - set(cls.compat_flags)


def test_the_module_map_lists_every_module() -> None:
    docs = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = docs.split("## Module map", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([^`]+)` \|", table, re.M)
    expected = {f"wire/{_package_of(p)}/" if _package_of(p) else p.relative_to(PACKAGE).as_posix() for p in _py_files()}
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert set(listed) == expected
