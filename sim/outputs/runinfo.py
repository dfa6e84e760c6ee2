"""A sweep folder described in words for the page: its region, its options (as the report names them), the run
length and the replications, read from what the folder was started with, without reading any results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sim.analysis.compare import job_number, labelled_options, override_key
from sim.experiment.folders import planned_jobs, read_yaml
from sim.params.paths import CONFIG_DIR

FIRST_LOOK = "quick"  # the experiment that is a first look, not a result to decide on


@dataclass
class About:
    """What a run compares, where, and for how long: each field in a planner's words."""

    region: str  # the region's label, or what sets it
    options: list[str] = field(default_factory=list)  # as the report names them, in job order
    reference: str = ""  # the option the others are compared with
    experiment: str = "default"
    horizon_days: float | None = None
    replications: int | None = None

    @property
    def first_look(self) -> bool:
        return self.experiment == FIRST_LOOK

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "first_look": self.first_look}


def job_overrides(folder: Path) -> list[list[str]]:
    """Each job's overrides: as the folder was started (manifest.json), else from the jobs' own Hydra records."""
    planned = planned_jobs(folder)
    if planned is not None:
        return planned
    jobs = sorted((d for d in Path(folder).iterdir() if (d / ".hydra" / "overrides.yaml").exists()),
                  key=job_number)
    return [list(read_yaml(d / ".hydra" / "overrides.yaml") or []) for d in jobs]


def _value(overrides: list[str], key: str) -> str | None:
    return next((o.split("=", 1)[1] for o in overrides if override_key(o) == key and "=" in o), None)


def _yaml(path: Path) -> dict:
    return (read_yaml(path) or {}) if path.exists() else {}


def about(folder: Path, jobs: list[list[str]] | None = None) -> About:
    """The run in `folder` (its jobs' overrides may be given, before the folder records them). Region, run length
    and replications come from the first job's resolved config once it is written, else from the config files
    the overrides choose."""
    folder = Path(folder)
    jobs = job_overrides(folder) if jobs is None else jobs
    first = jobs[0] if jobs else []
    config = next((_yaml(p) for p in sorted(folder.glob("*/config.yaml"), key=lambda p: job_number(p.parent))),
                  None) if folder.is_dir() else None
    experiment = _value(first, "experiment") or "default"
    if config:
        region = str(config["region"].get("label") or config["region"].get("name"))
        ex = config.get("experiment") or {}
    else:
        name = _value(first, "region")
        region = (str(_yaml(CONFIG_DIR / "region" / f"{name}.yaml").get("label", name)) if name
                  else "as each programme sets it")
        ex = _yaml(CONFIG_DIR / "experiment" / f"{experiment}.yaml")
        given = _value(first, "experiment.replications")
        if given is not None and given.isdigit():
            ex["replications"] = int(given)
    labels = labelled_options(jobs)
    wanted = str(ex.get("reference", _value(first, "experiment.reference") or "baseline"))
    reference = (labels[int(wanted)] if wanted.isdigit() and int(wanted) < len(labels)
                 else wanted if wanted in labels else "")
    horizon = ex.get("horizon_days")
    reps = ex.get("replications")
    return About(region, labels, reference, experiment, float(horizon) if horizon is not None else None,
                 int(reps) if reps is not None else None)
