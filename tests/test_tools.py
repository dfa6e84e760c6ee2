"""The tree clean under the tools: ruff (the rules of [tool.ruff.lint]) and mypy (the strictness of [tool.mypy]).

Both are in the `test` extra, so a missing one is a failure, not a skip: `make test` installs them. The file
mixes tiers: ruff takes a second (unit); mypy takes 20 to 30 seconds on sim/ without its cache (system).
The declarations mypy reads for attributes set by name (`setattr`) are checked against the names set.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from sim.model.pathway import Levels, Resident, StageLevels
from sim.params.schema import NEEDS

ROOT = Path(__file__).resolve().parents[1]


def _tool(module: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m module args` from the repository's root (where pyproject.toml configures it)."""
    assert importlib.util.find_spec(module) is not None, (
        f"{module} is not installed in {sys.executable}: it is in the test extra (pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.unit
def test_ruff_finds_nothing() -> None:
    """`ruff check` over the code, the tests and the benchmarks reports no finding."""
    r = _tool("ruff", "check", "--no-cache", "--output-format", "concise", "sim", "tests", "benchmarks")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.system
def test_mypy_finds_nothing() -> None:
    """mypy on sim/ (the files and strictness of [tool.mypy]) reports no error."""
    r = _tool("mypy")  # mypy's own incremental cache (.mypy_cache, as `mypy sim` before a commit leaves it): errors of
    # unchanged files are kept in it and reported again; a fresh checkout takes some 15 s, a warm cache about 1 s
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.unit
def test_attributes_set_by_name_are_declared() -> None:
    """The attributes `Levels.set`, `StageLevels`' setters and `Resident`'s needs set by name are the ones
    declared for mypy, neither more nor fewer."""
    assert set(Levels.__annotations__) == set(Levels.SCALES + Levels.PROBABILITIES)
    assert set(StageLevels.__annotations__) == set(StageLevels.__slots__)
    assert set(Resident.__annotations__) == set(NEEDS.values())
