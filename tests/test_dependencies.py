"""The dependency ranges admit the current releases (observation 10 of the hardening issue).

``httpx>=0.28,<0.29`` refused httpx 0.29.0, so the library could not be installed beside packages
that need it. ``make test`` installs the newest releases the ranges allow and ``make test-oldest``
the lowest (``scripts/oldest_constraints.py``); this test pins the facts those two rely on.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]


@pytest.mark.parametrize(("name", "release"), [("httpx", "0.28.1"), ("httpx", "0.29.0"), ("httpcore", "1.0.9")])
def test_current_releases_are_admitted(name: str, release: str) -> None:
    (req,) = [r for r in RUNTIME if r.name == name]
    assert req.specifier.contains(release), f"{req} refuses {name} {release}"


@pytest.mark.parametrize("req", RUNTIME, ids=[r.name for r in RUNTIME])
def test_installed_versions_are_inside_the_ranges(req: Requirement) -> None:
    assert req.specifier.contains(version(req.name), prereleases=True), (
        f"{req.name} {version(req.name)} is not in {req}"
    )


@pytest.mark.parametrize("req", RUNTIME, ids=[r.name for r in RUNTIME])
def test_every_runtime_dependency_has_a_lower_bound(req: Requirement) -> None:
    assert any(s.operator == ">=" for s in req.specifier), f"{req}: make test-oldest needs a '>=' bound"
