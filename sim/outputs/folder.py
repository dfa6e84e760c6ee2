"""A results folder as the outputs read it: its finished jobs, their configs, KPIs, time series and funnels."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.compare import (
    COMPARISON_HEADER,
    Job,
    comparison_rows,
    expected,
    find_jobs,
    is_context,
    reference_job,
)
from sim.experiment.folders import read_yaml
from sim.outputs.elements import HATCHES, LINE_STYLES, MARKERS, PALETTE, REFERENCE_COLOUR
from sim.params.labels import label_of
from sim.params.paths import CONFIG_DIR
from sim.params.schema import STAGE_LABELS


def _support(config: dict) -> dict:
    return ((config.get("pathway") or {}).get("support") or {})


def stage_label(stage: str, config: dict) -> str:
    """A stage as the report names it: a fixed stage's label, or a support stage's own `label` from config."""
    support = _support(config).get(stage) or {}
    return str(support.get("label") or STAGE_LABELS.get(stage) or stage.replace("_", " ").capitalize())


@dataclass
class Option:
    """A finished job of the folder, as the report shows it."""

    job: Job
    config: dict
    meta: dict
    colour: str
    is_reference: bool
    style: int = 0  # index into LINE_STYLES, MARKERS and HATCHES (the reference: solid, no marker, no hatch)

    @property
    def linestyle(self) -> Any:
        return "-" if self.is_reference else LINE_STYLES[self.style % len(LINE_STYLES)]

    @property
    def marker(self) -> str:
        return "o" if self.is_reference else MARKERS[self.style % len(MARKERS)]

    @property
    def hatch(self) -> str:
        return "" if self.is_reference else HATCHES[self.style % len(HATCHES)]

    @property
    def label(self) -> str:
        return self.job.label

    @property
    def is_context(self) -> bool:
        """Buys nothing and is not the reference (`sim.analysis.compare.is_context`): shown as the backdrop."""
        return not self.is_reference and is_context(self.job, None)

    @property
    def description(self) -> str:
        """The interventions the option ran, by their labels."""
        ivs = self.config.get("intervention") or {}
        return ", ".join(label_of(name, iv) for name, iv in ivs.items()) or "no interventions"


class Stats:
    """comparison.csv rows by (option, kpi, group)."""

    def __init__(self, rows: list[tuple]):
        self.rows = {(r[0], r[2], r[3]): dict(zip(COMPARISON_HEADER, r)) for r in rows}

    def get(self, option: str, kpi: str, group: str = "all") -> dict | None:
        return self.rows.get((option, kpi, group))

    def groups(self, kpi: str, prefix: str) -> list[str]:
        """The groups of a KPI that start with `prefix`, in first-seen order."""
        return list(dict.fromkeys(g for (_, k, g) in self.rows if k == kpi and g.startswith(prefix)))


@dataclass
class ReportData:
    """Everything the sections draw on, read once from the folder."""

    folder: Path
    jobs: list[Job]
    options: list[Option]
    rows: list[tuple]  # comparison.csv's rows
    stats: Stats
    series: dict[str, dict]
    funnels: dict[str, tuple[list[str], dict]]
    n_reps: str

    @property
    def reference(self) -> Option | None:
        return next((o for o in self.options if o.is_reference), None)

    @property
    def others(self) -> list[Option]:
        """The options compared against the reference (context left out)."""
        return [o for o in self.options if not o.is_reference and not o.is_context]

    @property
    def compared(self) -> list[Option]:
        """The reference and the options: every job but the context."""
        return [o for o in self.options if not o.is_context]

    @property
    def context(self) -> list[Option]:
        """Jobs that change the backdrop (demand, the region) and buy nothing."""
        return [o for o in self.options if o.is_context]


# ----------------------------------------------------------------------------- reading job files
def _read_yaml(path: Path) -> dict:
    return (read_yaml(path) or {}) if path.exists() else {}


def _vacancies(path: Path) -> dict[str, tuple[np.ndarray, dict[int, np.ndarray]]]:
    """Vacancies summed over roles: employer group -> (days, replication -> vacancies per day); 'all' too."""
    if not path.exists():
        return {}
    with path.open() as f:
        reader = csv.reader(f)
        header = next(reader)
        i_rep, i_day, i_grp, i_vac = (header.index(c) for c in ("replication", "day", "employer_group", "vacancies"))
        cols = [(int(r[i_rep]), float(r[i_day]), r[i_grp], float(r[i_vac])) for r in reader]
    if not cols:
        return {}
    rep, day, grp, vac = (np.array(c) for c in zip(*cols))
    reps, days = np.unique(rep), np.unique(day)
    ri, di = np.searchsorted(reps, rep), np.searchsorted(days, day)
    out = {}
    for g in [*dict.fromkeys(grp.tolist()), "all"]:
        m = np.ones(len(grp), bool) if g == "all" else grp == g
        mat = np.zeros((len(reps), len(days)))
        np.add.at(mat, (ri[m], di[m]), vac[m])
        out[g] = (days, {int(r): mat[k] for k, r in enumerate(reps)})
    return out


def _funnel(path: Path) -> tuple[list[str], dict[tuple[str, str, str], float]]:
    """Stages in order, and the mean over replications of (stage, measure, reason) for entered and left."""
    if not path.exists():
        return [], {}
    sums: dict[tuple[str, str, str], float] = {}
    reps: set[str] = set()
    stages: dict[str, None] = {}
    with path.open() as f:
        for r in csv.DictReader(f):
            if r["measure"] in ("entered", "left"):
                reps.add(r["replication"])
                stages[r["stage"]] = None
                key = (r["stage"], r["measure"], r["reason"])
                sums[key] = sums.get(key, 0.0) + float(r["value"])
    n = len(reps) or 1
    return list(stages), {k: v / n for k, v in sums.items()}


def _choices(job_dir: Path) -> dict:
    hydra_cfg = _read_yaml(job_dir / ".hydra" / "hydra.yaml").get("hydra", {})
    return (hydra_cfg.get("runtime") or {}).get("choices") or {}


def config_files(job_dir: Path, config: dict) -> list[Path]:
    """The YAML files a job was composed from, in composition order (later files win)."""
    choices = _choices(job_dir)
    files = [CONFIG_DIR / group / f"{choices[group]}.yaml" for group in ("region", "pathway", "experiment")
             if choices.get(group)]
    files += [CONFIG_DIR / "intervention" / f"{name}.yaml" for name in (config.get("intervention") or {})]
    files.append(CONFIG_DIR / "config.yaml")
    files.append(CONFIG_DIR / "scenario" / f"{choices.get('scenario') or 'baseline'}.yaml")
    return [f for f in files if f.exists()]


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def report_data(folder: Path, jobs: list[Job] | None = None, rows: list[tuple] | None = None) -> ReportData:
    """Read a run or sweep folder: its jobs, their options, comparison rows, time series and funnels
    (the jobs and comparison rows may be given, when the caller has them already)."""
    folder = Path(folder)
    jobs = find_jobs(folder) if jobs is None else jobs
    rows = comparison_rows(jobs, expected(folder)) if rows is None else rows
    ref_job = reference_job(jobs)
    options: list[Option] = []
    for j in (j for j in jobs if j.status == "done"):
        k = sum(not o.is_reference for o in options)
        colour = REFERENCE_COLOUR if j is ref_job else PALETTE[k % len(PALETTE)]
        options.append(Option(j, _read_yaml(j.path / "config.yaml"), _read_json(j.path / "run.json"), colour,
                              j is ref_job, k))
    reps = sorted({str(o.meta.get("replications", "?")) for o in options})
    return ReportData(folder, jobs, options, rows, Stats(rows),
                      {o.label: _vacancies(o.job.path / "timeseries.csv") for o in options},
                      {o.label: _funnel(o.job.path / "funnel.csv") for o in options},
                      " or ".join(reps) or "0")
