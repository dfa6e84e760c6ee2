"""Comparing options: the jobs of a sweep folder against the baseline, with paired statistics.

A sweep folder holds one subfolder per job (Hydra multirun), each with `kpis.csv` and a `DONE`
marker when complete, or a `FAILED` file with the error. Every option ran with the same seeds,
so replication r of an option and replication r of the baseline share common random numbers
and their difference is paired. A single run folder is treated as a sweep of one job.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .experiment import DONE, write_csv
from .stats import Interval, mean_ci, paired_difference, unpaired_difference, variance_ratio

FAILED = "FAILED"
COMPARISON_HEADER = ("option", "scenario", "kpi", "group", "mean", "ci_low", "ci_high", "n",
                     "diff_mean", "diff_ci_low", "diff_ci_high", "diff_n",
                     "unpaired_diff_ci_low", "unpaired_diff_ci_high", "reference", "var_ratio")


@dataclass
class Job:
    """One job of a sweep: where it is, what it varied, and whether it finished."""

    path: Path
    overrides: list[str]
    status: str  # done | failed | unfinished
    error: str = ""
    label: str = ""
    scenario: str = ""
    kpis: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)


def find_jobs(folder: Path) -> list[Job]:
    """The jobs of a sweep folder (or the single run in a run folder), in job order."""
    folder = Path(folder)
    subfolders = sorted((d for d in folder.iterdir() if d.is_dir() and (d / ".hydra").is_dir()), key=_job_number)
    candidates = subfolders or [folder]
    jobs = []
    for d in candidates:
        ov_file = d / ".hydra" / "overrides.yaml"
        overrides = list(yaml.safe_load(ov_file.read_text()) or []) if ov_file.exists() else []
        if (d / DONE).exists():
            job = Job(d, overrides, "done")
            job.kpis, job.scenario = _read_kpis(d / "kpis.csv")
        elif (d / FAILED).exists():
            job = Job(d, overrides, "failed", (d / FAILED).read_text().strip())
        else:
            job = Job(d, overrides, "unfinished")
        jobs.append(job)
    _label(jobs)
    return jobs


def _job_number(d: Path) -> tuple[int, str]:
    head = d.name.split("-", 1)[0]
    return (int(head), d.name) if head.isdigit() else (10**9, d.name)


def _label(jobs: list[Job]) -> None:
    """Name each job by the overrides that differ between jobs (or its scenario), as a person reads it."""
    if not jobs:
        return
    keys = {override_key(o) for j in jobs for o in j.overrides}
    varying = None if len(jobs) == 1 else {
        k for k in keys if len({tuple(o for o in j.overrides if override_key(o) == k) for j in jobs}) > 1}
    for j in jobs:
        j.label = option_label(j.overrides, varying, j.scenario or j.path.name)
    seen: dict[str, int] = {}
    for j in jobs:
        seen[j.label] = seen.get(j.label, 0) + 1
    for j in jobs:
        if seen[j.label] > 1:
            j.label += f" (job {j.path.name.split('-', 1)[0]})"


LABEL_SKIP = ("experiment", "hydra")  # how a run is done, not what it models: not part of an option's name
_CONTAINERS = {"channels", "courses", "groups", "roles", "workforce", "community"}
FOLDER_CHARS = 48  # a job folder's name after its number, at most


def override_key(override: str) -> str:
    """`+intervention.childcare.places=20` -> `intervention.childcare.places`."""
    return override.split("=", 1)[0].lstrip("+~")


def _words(text: str) -> str:
    return " ".join(text.replace("_", " ").replace(".", " ").split())


def _value_words(value: str) -> str:
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        items = [_words(x.strip()) for x in v[1:-1].split(",") if x.strip()]
        return " + ".join(items)
    return v.replace("_", " ")


def readable(override: str) -> str:
    """One override as words: `intervention.childcare.places=20` -> `childcare places 20`,
    `intervention=[childcare,gp_advisers]` -> `childcare + gp advisers`, `scenario=x_y` -> `x y`."""
    key, _, value = override.partition("=")
    if override.startswith("~"):
        return "no " + _words(key.lstrip("~"))
    key = key.lstrip("+")
    if key == "scenario":
        return _words(value)
    if key == "intervention":
        return _value_words(value) or "no interventions"
    if key in ("region", "pathway", "experiment"):
        return f"{key} {_words(value)}"
    parts = key.split(".")
    if len(parts) > 1 and parts[0] in ("intervention", "region", "pathway", "experiment"):
        parts = parts[1:]
    parts = [p for p in parts if p not in _CONTAINERS] or parts
    return f"{_words(' '.join(parts))} {_value_words(value)}".strip()


def option_label(overrides: list[str], varying: set[str] | None, scenario: str) -> str:
    """An option's name: its overrides that vary in the sweep (all of those that change the model,
    for a single run) as words, else its scenario's name."""
    shown = [o for o in overrides if (override_key(o) in varying if varying is not None else
                                      override_key(o).split(".")[0].split("/")[0] not in LABEL_SKIP)]
    return ", ".join(readable(o) for o in shown) or _words(scenario)


def folder_name(number: int | str, label: str) -> str:
    """A job folder's name: its number and a short slug of its label (the full overrides are in .hydra/)."""
    slug = re.sub(r"[^a-z0-9.]+", "-", label.lower()).strip("-.")
    if len(slug) > FOLDER_CHARS:
        slug = slug[:FOLDER_CHARS].rsplit("-", 1)[0]
    return f"{number}-{slug}" if slug else str(number)


def _read_kpis(path: Path) -> tuple[dict[tuple[str, str], dict[int, float]], str]:
    out: dict[tuple[str, str], dict[int, float]] = {}
    scenario = ""
    with path.open() as f:
        for row in csv.DictReader(f):
            scenario = row["scenario"]
            out.setdefault((row["kpi"], row["group"]), {})[int(row["replication"])] = float(row["value"])
    return out, scenario


def reference_job(jobs: list[Job]) -> Job | None:
    """The baseline to compare against: the finished job of scenario `baseline`, else the first finished job."""
    done = [j for j in jobs if j.status == "done"]
    for j in done:
        if j.scenario == "baseline" and (j.label in ("scenario=baseline", "baseline") or len(done) == 1):
            return j
    for j in done:
        if j.scenario == "baseline":
            return j
    return done[0] if done else None


def paired(option: dict[int, float], reference: dict[int, float]) -> tuple[list[float], list[float]]:
    """Values of the replications both have, in replication order (common random numbers)."""
    reps = sorted(set(option) & set(reference))
    return [option[r] for r in reps], [reference[r] for r in reps]


def comparison_rows(jobs: list[Job]) -> list[tuple]:
    """Option x KPI: mean and 95% CI, the paired difference against the reference with its CI, and the
    pairing's variance ratio."""
    ref = reference_job(jobs)
    rows = []
    for j in jobs:
        if j.status != "done":
            continue
        for (kpi, group), values in j.kpis.items():
            ci = mean_ci(list(values.values()))
            d = u = Interval(math.nan, math.nan, math.nan, 0)
            ratio = math.nan  # the pairing's variance ratio (see stats.variance_ratio)
            if ref is not None and (kpi, group) in ref.kpis:
                a, b = paired(values, ref.kpis[(kpi, group)])
                if a:
                    d = paired_difference(a, b)
                    u = unpaired_difference(a, b)
                    ratio = variance_ratio(a, b)
            rows.append((j.label, j.scenario, kpi, group, ci.mean, ci.low, ci.high, ci.n,
                         d.mean, d.low, d.high, d.n, u.low, u.high, ref.label if ref else "", ratio))
    return rows


def write_comparison(folder: Path) -> tuple[list[Job], list[tuple]]:
    """Write `comparison.csv` into a sweep (or run) folder; return its jobs and rows."""
    jobs = find_jobs(folder)
    rows = comparison_rows(jobs)
    write_csv(Path(folder) / "comparison.csv", COMPARISON_HEADER, rows)
    return jobs, rows


def status_lines(jobs: list[Job]) -> list[str]:
    """One line per job that did not finish, naming it and its error."""
    lines = []
    for j in jobs:
        if j.status == "failed":
            lines.append(f"FAILED {j.path.name} ({j.label}): {j.error.splitlines()[-1] if j.error else ''}")
        elif j.status == "unfinished":
            lines.append(f"UNFINISHED {j.path.name} ({j.label}): run the sweep again with the same folder to resume")
    return lines
