"""Every default number in configs/ and scenarios/ says where it comes from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.params.paths import CONFIG_DIR, SCENARIO_DIR
from sim.params.provenance import provenance_rows
from sim.params.targets import TARGETS_FILE

pytestmark = pytest.mark.unit

# the targets file is published outcomes, not model inputs: each row names its evidence in a checked field
# (tests/test_targets.py), not in a comment
FILES = sorted(p for p in [*CONFIG_DIR.rglob("*.yaml"), *SCENARIO_DIR.glob("*.yaml")]
               if ("scenario" not in p.relative_to(CONFIG_DIR.parent).parts[:2] or p.parent == SCENARIO_DIR)
               and p != TARGETS_FILE)
NUMBER = re.compile(r"(?<![A-Za-z_])-?\d+(\.\d+)?(e-?\d+)?")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CONFIG_DIR.parent)))
def test_every_number_has_a_source_or_says_assumption(path: Path) -> None:
    """A line holding a number carries (or sits under) a comment: an evidence id, derived:, or assumption:."""
    rows = provenance_rows([path])
    numeric = [r for r in rows if NUMBER.search(r.value) and not r.key.endswith(("_target_", "kind", "label"))]
    missing = [f"{r.key} = {r.value}" for r in numeric if not r.comment.strip()]
    assert not missing, f"{path}: numbers without provenance: {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CONFIG_DIR.parent)))
def test_every_assumption_gives_its_reason(path: Path) -> None:
    """`# assumption` alone is not enough: the comment says why the number was chosen."""
    bare = [f"line {n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
            if re.search(r"#\s*assumptions?\s*[:;,.]?\s*$", line)]
    assert not bare, f"{path}: assumptions without a reason: {bare}"


def test_the_check_sees_numbers() -> None:
    """The parser finds the numbered parameters of the default region (so the check above is not vacuous)."""
    rows = provenance_rows([CONFIG_DIR / "region" / "norfolk_waveney.yaml"])
    keys = {r.key for r in rows}
    assert "region.channels.jobcentre.referrals_per_year" in keys
    assert any(r.is_assumption for r in rows) and any(not r.is_assumption for r in rows)
