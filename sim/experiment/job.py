"""One job: the replications of one config (and, when asked, at each end of the labour-supply range, and until
a target precision), its results folder and its metadata; BAU recruitment calibrated on the region's baseline."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from functools import partial
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from sim.params.config import params_of
from sim.params.paths import CONFIG_DIR
from sim.params.plan import Params

PROGRESS = ".progress"  # "replications done, replications asked for", rewritten as a job runs (the web page reads it)


# ----------------------------------------------------------------------------- running
def execute(params: Params, cfg: DictConfig, outdir: Path, label: str, ends_from_sets: bool = False) -> list[tuple]:
    """Simulate (adding replications for a target precision if asked), write the results folder. `ends_from_sets`:
    the job is an option of a comparison on parameter sets, which vary the labour-supply elasticity over its range
    and give the result at its ends (the report fits them), so it runs none there."""
    from sim.experiment.replications import (
        SUPPLY_HEADER,
        run_replications,
        supply_rows,
        write_csv,
        write_results,
        write_text,
    )
    from sim.params.ranges import ELASTICITY, apply, supply_ends

    c = params.config
    ex = c.experiment
    started = time.perf_counter()

    ends = (supply_ends(CONFIG_DIR, c.region.workforce.bau_vacancy_elasticity)
            if ex.supply_replications and not ends_from_sets else ())
    total = ex.replications + len(ends) * ex.supply_replications

    def progress(done: int, before: int = 0) -> None:  # `done` of this batch, after `before` of earlier ones
        write_text(outdir / PROGRESS, f"{before + done} {total}\n")

    outputs = run_replications(params, range(ex.replications), ex.workers, ex.progress, label, progress)
    note = ""
    if ex.target_half_width > 0:
        outputs, note = _until_precise(params, outputs, label)
    at_ends: dict[float, list] = {}
    for e in ends:
        before = len(outputs) + sum(map(len, at_ends.values()))
        at_ends[e] = run_replications(params_of(apply(c, {ELASTICITY: e})), range(ex.supply_replications), ex.workers,
                                      ex.progress, f"{label} at elasticity {e:g}", partial(progress, before=before))
    wall = time.perf_counter() - started
    summary = write_results(outdir, c.scenario_name, outputs)
    if at_ends:
        write_csv(outdir / "supply.csv", SUPPLY_HEADER, supply_rows(c.scenario_name, at_ends))
    write_text(outdir / "run.json", json.dumps(run_metadata(params, cfg, outputs, wall, note), indent=2))
    return summary


def _until_precise(params: Params, outputs: list, label: str) -> tuple[list, str]:
    """Add replications until the primary KPI's 95% CI half-width is at most the target (or the cap)."""
    from sim.experiment.replications import run_replications
    from sim.experiment.stats import mean_ci, replications_needed

    ex = params.config.experiment
    key = (ex.primary_kpi, ex.primary_group)

    def values() -> list[float]:
        return [v for o in outputs for k, g, v in o.kpis if (k, g) == key]

    while True:
        ci = mean_ci(values())
        if (ci.n >= 2 and ci.half_width <= ex.target_half_width) or len(outputs) >= ex.max_replications:
            break
        need = min(max(replications_needed(values(), ex.target_half_width), len(outputs) + 1), ex.max_replications)
        outputs = outputs + run_replications(params, range(len(outputs), need), ex.workers, ex.progress, label)
    ci = mean_ci(values())
    reached = ci.half_width <= ex.target_half_width
    note = (f"{len(outputs)} replications {'were needed' if reached else '(the cap) did not suffice'} for a "
            f"95% CI half-width of {ci.half_width:.3g} on {key[0]} ({key[1]}); target {ex.target_half_width:g}")
    return outputs, note


def run_metadata(params: Params, cfg: DictConfig, outputs: list, wall: float, note: str) -> dict[str, Any]:
    """Seed, replications, versions, config hash, date and speed of a run (for the report)."""
    import platform

    import numpy
    import simpy

    text = OmegaConf.to_yaml(cfg, resolve=True)
    events = sum(o.events for o in outputs)
    return {
        "scenario": params.config.scenario_name, "seed": params.config.experiment.seed,
        "replications": len(outputs), "precision": note,
        "config_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "wall_seconds": wall, "events": events, "residents": sum(o.residents for o in outputs),
        "versions": {"pathways": _version(), "python": platform.python_version(), "simpy": simpy.__version__,
                     "numpy": numpy.__version__, "hydra": hydra.__version__},
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pathways")
    except PackageNotFoundError:
        return "unknown"


def region_calibration(region: str, searchpath: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """BAU recruitment of a region, calibrated on its baseline: the region file as shipped, with no
    scenario, intervention or command-line override (sim.model.workforce.calibrate). Every option
    of the region runs with it, and it is written to each run's config.yaml (region.workforce.bau).
    `searchpath`: Hydra's extra config folders (`hydra.searchpath`), where a planner's own region may be."""
    from sim.model.workforce import calibrate
    from sim.params.compose import compose_config
    from sim.params.config import to_config

    extra = [f"hydra.searchpath=[{','.join(searchpath)}]"] if searchpath else []
    base = compose_config([f"region={region}", "scenario=baseline", "intervention=[]", *extra], keep_inside_hydra=True)
    return calibrate(to_config(base).region.workforce)
