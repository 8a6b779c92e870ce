"""The exception tree drawn in ``_exceptions``'s module docstring is the real class hierarchy.

The drawing is parsed (a name's depth is the column it starts at, continuation lines carry no
``├──`` / ``└──``) and compared with the classes of the module, both ways: every class is drawn,
under its real base, and nothing is drawn that is not a class there. Every class is public.
"""

from __future__ import annotations

import inspect
import re

import sycophant_py as syc
from sycophant_py import _exceptions

_BRANCH = re.compile(r"(├── |└── )(\w+)")


def drawn_tree(doc: str) -> dict[str, str | None]:
    """``{class name: parent name}`` from the docstring's ``::`` block (the root's parent is None)."""
    block = doc.split("::\n", 1)[1]
    lines = [line for line in block.split("\n\n", 1)[0].splitlines() if line.strip()]
    root = lines[0].split()[0]
    root_col = lines[0].index(root)
    parents: dict[str, str | None] = {root: None}
    path = [root]  # path[d] is the last name seen at depth d
    for line in lines[1:]:
        match = _BRANCH.search(line)
        if match is None:
            continue  # the second line of a long description
        depth, rest = divmod(match.start(2) - root_col, 4)
        assert rest == 0, f"misaligned: {line!r}"
        name = match.group(2)
        assert name not in parents, f"{name} drawn twice"
        parents[name] = path[depth - 1]
        del path[depth:]
        path.append(name)
    return parents


def real_tree() -> dict[str, str | None]:
    """``{class name: base name}`` for every exception class defined in ``_exceptions``."""
    out: dict[str, str | None] = {}
    for name, cls in vars(_exceptions).items():
        if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == _exceptions.__name__:
            (base,) = cls.__bases__
            out[name] = None if base.__module__ != _exceptions.__name__ else base.__name__
    return out


def test_the_docstring_tree_is_the_class_hierarchy() -> None:
    assert _exceptions.__doc__ is not None
    drawn = drawn_tree(_exceptions.__doc__)
    real = real_tree()
    assert sorted(drawn) == sorted(real), "drawn but not defined / defined but not drawn"
    wrong = {name: (drawn[name], real[name]) for name in real if drawn[name] != real[name]}
    assert wrong == {}, "(drawn parent, real base) per misplaced class"
    assert real["SycophantError"] is None


def test_every_exception_is_exported_from_the_package_and_the_module() -> None:
    real = real_tree()
    assert set(_exceptions.__all__) == set(real)
    for name in real:
        assert getattr(syc, name) is getattr(_exceptions, name), name
        assert name in syc.__all__, name


def test_no_exception_class_is_defined_outside_exceptions() -> None:
    """The tree is the whole story: no public exception lives in another module."""
    for name in syc.__all__:
        obj = getattr(syc, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert obj.__module__ == _exceptions.__name__, f"{name} is defined in {obj.__module__}"


def test_the_parser_sees_a_misplaced_class() -> None:
    """The check can fail: a drawing with a class one level off gives another parent."""
    doc = "Tree::\n\n    Root\n    ├── A\n    │   └── B\n    └── C\n"
    assert drawn_tree(doc) == {"Root": None, "A": "Root", "B": "A", "C": "Root"}
    moved = doc.replace("    │   └── B\n", "    ├── B\n")
    assert drawn_tree(moved)["B"] == "Root"
