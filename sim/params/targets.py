"""The calibration and validation targets: published outcomes the model simulates but does not take as inputs.

`configs/targets.yaml` holds one row per target: the published figure, the band around it that counts as a fit
(`tolerance`, with its reason), the evidence it comes from (ids of ../shared/evidence/parameters.csv, with their
titles), the population it describes against the model's, the named measure that reads the model's value from
a run (`sim.analysis.targets.MEASURES`), and its role: `calibration` (fitted) or `validation` (held out). The
split is fixed before any calibration and the file records the day it was made (`split_made`).

`load_targets` checks the file and fails in one line naming the file, the row and the field. `cited_as_input`
finds a target's source in the comments of the config files the model runs on: a target that is also an input
would fit by construction and prove nothing.
"""

from __future__ import annotations

import csv
import datetime
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.params.paths import CONFIG_DIR, ROOT, SCENARIO_DIR
from sim.params.provenance import split_comment

TARGETS_FILE = CONFIG_DIR / "targets.yaml"
EVIDENCE = ROOT.parent / "shared" / "evidence" / "parameters.csv"
ROLES = ("calibration", "validation")
# where a target sits: the supply side's funnel, then the demand side
AREAS = ("engagement", "completion", "job_outcome", "time_to_hire",
         "internal_recruitment", "leavers_staying", "first_year_leaving")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = ("id", "area", "role", "quantity", "figure", "tolerance", "tolerance_reason", "population", "sources",
           "measure")


class TargetsError(ValueError):
    """A bad targets file: one line naming the file, the row and the field."""


@dataclass(frozen=True)
class Target:
    """One published outcome and how the model's value of it is measured."""

    id: str
    area: str  # one of AREAS
    role: str  # calibration | validation
    quantity: str  # what the figure is, in words
    figure: float  # the published value, on the measure's scale (a share as 0-1, days as days)
    tolerance: float  # half-width of the band around the figure that counts as a fit
    tolerance_reason: str  # the figure's own uncertainty and how its population or definition differs
    population: str  # whom the figure describes, against the model's Norfolk and Waveney residents
    sources: dict[str, str]  # evidence id -> its source title (parameters.csv)
    measure: str  # a name in sim.analysis.targets.MEASURES


@dataclass(frozen=True)
class Targets:
    path: Path
    split_made: datetime.date
    region: str
    targets: tuple[Target, ...]

    def role(self, role: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.role == role)


def load_targets(path: Path = TARGETS_FILE, measures: Collection[str] | None = None,
                 evidence: Path | None = None) -> Targets:
    """Read and check a targets file. `measures`: the measure names there are (checked when given);
    `evidence`: parameters.csv (each source id must be in it, with the same title, when given)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise TargetsError(f"{path}: cannot be read as YAML: {' '.join(str(e).split())}") from None
    if not isinstance(raw, dict):
        raise TargetsError(f"{path}: expected a mapping with split_made, region and targets")
    unknown = sorted(set(raw) - {"split_made", "region", "targets"})
    if unknown:
        raise TargetsError(f"{path}: unknown key {unknown[0]!r}; allowed: split_made, region, targets")
    split = _date(path, raw.get("split_made"))
    region = raw.get("region")
    if not isinstance(region, str) or not region:
        raise TargetsError(f"{path}: region = {region!r}: allowed: the name of a region file")
    rows = raw.get("targets")
    if not isinstance(rows, list) or not rows:
        raise TargetsError(f"{path}: targets = {rows!r}: allowed: a list of target rows")
    titles = _evidence_titles(evidence) if evidence is not None else None
    targets: list[Target] = []
    for n, row in enumerate(rows, 1):
        t = _target(path, n, row, measures, titles)
        if any(t.id == other.id for other in targets):
            raise TargetsError(f"{path}: target {n} ({t.id}): id: repeats an earlier target's id")
        targets.append(t)
    return Targets(path, split, region, tuple(targets))


def _date(path: Path, value: Any) -> datetime.date:
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise TargetsError(f"{path}: split_made = {value!r}: allowed: a date, YYYY-MM-DD") from None


def _target(path: Path, n: int, row: Any, measures: Collection[str] | None,
            titles: dict[str, str] | None) -> Target:
    """One row, checked field by field."""
    name = row.get("id") if isinstance(row, dict) else None
    where = f"{path}: target {n}" + (f" ({name})" if isinstance(name, str) else "")

    def bad(field: str, value: Any, allowed: str) -> TargetsError:
        return TargetsError(f"{where}: {field} = {value!r}: allowed: {allowed}")

    if not isinstance(row, dict):
        raise TargetsError(f"{where}: expected a mapping of {', '.join(_FIELDS)}")
    for field in _FIELDS:
        if field not in row:
            raise TargetsError(f"{where}: {field}: missing")
    extra = sorted(set(row) - set(_FIELDS))
    if extra:
        raise TargetsError(f"{where}: {extra[0]}: unknown field; allowed: {', '.join(_FIELDS)}")
    if not isinstance(name, str) or not _ID.match(name):
        raise bad("id", name, "lower-case letters, digits and _")
    if row["area"] not in AREAS:
        raise bad("area", row["area"], ", ".join(AREAS))
    if row["role"] not in ROLES:
        raise bad("role", row["role"], ", ".join(ROLES))
    figure, tolerance = row["figure"], row["tolerance"]
    if isinstance(figure, bool) or not isinstance(figure, (int, float)) or not math.isfinite(figure):
        raise bad("figure", figure, "a finite number")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < math.inf:
        raise bad("tolerance", tolerance, "a number > 0")
    for field in ("quantity", "tolerance_reason", "population", "measure"):
        if not isinstance(row[field], str) or not row[field].strip():
            raise bad(field, row[field], "non-empty text")
    if measures is not None and row["measure"] not in measures:
        raise bad("measure", row["measure"], ", ".join(sorted(measures)))
    sources = row["sources"]
    if not isinstance(sources, dict) or not sources or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in sources.items()):
        raise bad("sources", sources, "a mapping of evidence ids to their source titles")
    for sid, title in sources.items():
        if titles is not None and sid not in titles:
            raise bad("sources", sid, f"an id of {EVIDENCE.name}")
        if titles is not None and titles[sid] != title:
            raise bad(f"sources.{sid}", title, f"its title in {EVIDENCE.name}: {titles[sid]!r}")
    return Target(name, row["area"], row["role"], row["quantity"].strip(), float(figure), float(tolerance),
                  row["tolerance_reason"].strip(), row["population"].strip(), dict(sources), row["measure"])


def _evidence_titles(evidence: Path) -> dict[str, str]:
    """Evidence id -> source title, from parameters.csv."""
    with Path(evidence).open(newline="") as f:
        return {r["id"]: r["source_title"] for r in csv.DictReader(f)}


# ----------------------------------------------------------------------------- no target is an input
def model_config_files() -> list[Path]:
    """The config files the model runs on: the config tree and the scenarios (the targets file is not one)."""
    files = {p.resolve() for p in [*CONFIG_DIR.rglob("*.yaml"), *SCENARIO_DIR.glob("*.yaml")]}
    return sorted(files - {TARGETS_FILE.resolve()})


def cited_as_input(targets: Iterable[Target], files: Iterable[Path]) -> list[str]:
    """Where a target's source is cited in a comment of the files: by its evidence id (as a whole word) or by
    its source title (case-insensitive). One line per citation found: target, source, file and line."""
    comments: list[tuple[Path, int, str]] = []
    for path in files:
        for n, line in enumerate(Path(path).read_text().splitlines(), 1):
            text = line.strip()
            comment = text.lstrip("#").strip() if text.startswith("#") else split_comment(line)[1]
            if comment:
                comments.append((Path(path), n, comment))
    found = []
    for t in targets:
        for sid, title in t.sources.items():
            word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(sid)}(?![A-Za-z0-9_])")
            for path, n, comment in comments:
                if word.search(comment) or title.lower() in comment.lower():
                    found.append(f"{t.id}: {sid} ({title}) is cited in {path}:{n}")
    return found
