"""`pathways-calibrate [overrides]`: fit a region's uncertain parameters to its calibration targets.

History matching with Gaussian-process emulators in waves, then an ABC-weighted final wave
(sim/analysis/calibrate.py), on the region baseline that the overrides compose, starting from the ranges of
configs/ranges/ as priors, every wave run through the runner (local processes, or Ray by address) with the same
replication streams at every point. Writes posterior.csv (equally weighted draws, each value a parameter's quantile
of its prior range), parameters.csv, targets.csv, diagnostics.csv, screening.csv, report.md with its figures, and
calibration.json last (`complete: true`). A rerun on the same folder resumes from records.jsonl, losing no finished
simulation; a complete folder is left as it is.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import yaml

from sim.analysis import calibrate as cal
from sim.analysis.targets import MEASURES, SOCIAL_CARE, _movers_are_social_care
from sim.experiment.parallel import one_blas_thread
from sim.experiment.replications import write_csv, write_text
from sim.experiment.runner import Option, Records, Runner, Task
from sim.params.errors import ConfigError
from sim.params.paths import CALIBRATION_DESIGN, CONFIG_DIR, RANGES_DIR, ROOT
from sim.params.posterior import priors_of
from sim.params.ranges import Parameter, Ranges, base_values, parameters, values_at, varied
from sim.params.targets import TARGETS_FILE, Targets, TargetsError, load_targets

PROG = "pathways-calibrate"
DESIGN_FIELDS = ("screening", "wave", "waves", "final", "generations", "draws", "replications", "candidates",
                 "seed")
LOWEST = {"screening": 8, "wave": 4, "waves": 0, "final": 8, "generations": 1, "draws": 128, "replications": 1,
          "candidates": 100, "seed": 0}
DESIGN_LIMIT = 100_000
METHOD = ("history matching with Gaussian-process emulators (scikit-learn GaussianProcessRegressor; implausibility "
          f"cut-off {cal.CUTOFF:g}, Vernon et al. 2010, Andrianakis et al. 2015), then a final wave drawn by "
          "importance sampling from the non-implausible space (the emulators' tempered likelihood in a defensive "
          "mixture), weighted ABC-style (Gaussian kernel with each target's tolerance as its standard deviation, "
          "times the importance ratio), in generations until the pooled posterior settles or the most generations ran, "
          "and resampled to equally weighted draws")
PARAMETERS_HEADER = ("parameter", "label", "prior_low", "prior_median", "prior_high", "posterior_low",
                     "posterior_median", "posterior_high", "width_ratio")
TARGETS_HEADER = ("id", "role", "area", "quantity", "figure", "tolerance", "prior_mean", "prior_low", "prior_high",
                  "posterior_mean", "posterior_low", "posterior_high", "prior_verdict", "posterior_verdict")
SCREENING_HEADER = ("target", "parameter", "effect_across_prior", "t", "share_of_tolerance", "informed", "calibrated")


def fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


def read_design(path: Path = CALIBRATION_DESIGN) -> dict[str, int]:
    """The default sizes (configs/calibrate/design.yaml), checked."""
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict) or set(raw) != set(DESIGN_FIELDS):
        fail(f"{path}: expected exactly the keys {', '.join(DESIGN_FIELDS)}")
    return {k: _size(f"{path}: {k}", raw[k], k) for k in DESIGN_FIELDS}


def _size(where: str, value: Any, name: str) -> int:
    low = LOWEST[name]
    high = 2 ** 32 - 1 if name == "seed" else DESIGN_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        fail(f"{where} = {value!r}: allowed: an integer in [{low}, {high:,}]")
    return value


# ----------------------------------------------------------------------------- the region and its parameters
def compose(overrides: list[str]) -> Option:
    """The one region baseline the overrides compose, checked (exit 2 on bad input)."""
    from sim.experiment.runner import compose_options
    from sim.interfaces.errors import UsageError
    from sim.interfaces.preflight import preflight

    try:
        preflight(list(overrides))
        options = compose_options(list(overrides), CONFIG_DIR)
    except UsageError as e:
        fail(str(e))
    except ConfigError as e:
        fail(e.message())
    if len(options) != 1:
        fail(f"command line {' '.join(overrides)}: a sweep of {len(options)} configs; allowed: overrides of one "
             "region baseline (the calibration is the region's, held for every option)")
    option = options[0]
    if option.config.intervention:
        fail(f"command line {' '.join(overrides) or '(none)'}: interventions {', '.join(option.config.intervention)} "
             "are on; allowed: the region baseline (scenario=baseline), which the targets describe")
    return option


def fitted_parameters(option: Option, ranges: Ranges) -> list[Parameter]:
    """The varied parameters of the region and pathway files the baseline has: those the fit may calibrate."""
    params = parameters({option.name: (option.config, option.files)}, ranges)
    dirs = {str(CONFIG_DIR / "region"), str(CONFIG_DIR / "pathway")}
    return [p for p in varied(params) if str(Path(p.file).parent) in dirs]


def check_measures(targets: Targets, option: Option) -> None:
    """Every target's measure can be read on this region (before any simulation)."""
    social = {"care_recruits_from_within_sector", "care_leavers_staying_in_sector"}
    if any(t.measure in social for t in targets.targets):
        try:
            _movers_are_social_care(option.config)
        except ValueError as e:
            fail(f"{targets.path}: {SOCIAL_CARE} measures: {e}")


# ----------------------------------------------------------------------------- running the waves
class Simulator:
    """A wave of unit-cube points as tasks of the runner: the baseline at each point's values, the same replication
    streams at every point; each target's measure per replication is recorded (records.jsonl)."""

    def __init__(self, runner: Runner, option: Option, params: list[Parameter], targets: Targets,
                 replications: int, progress: bool):
        self.runner, self.option, self.params = runner, option, params
        self.measures = [t.measure for t in targets.targets]
        self.base = base_values(option.config, params)
        self.replications = tuple(range(replications))
        self.progress = progress

    def __call__(self, name: str, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tasks = [Task(f"{name}-{i:04d}", {self.option.name: values_at(self.params, row, self.base)},
                      self.replications) for i, row in enumerate(u)]
        bar = None
        if self.progress:
            from tqdm import tqdm

            todo = sum(t.id not in self.runner.done for t in tasks)
            bar = tqdm(total=len(tasks), initial=len(tasks) - todo, desc=f"wave {name}", unit="point",
                       file=sys.stderr, mininterval=0.1 if sys.stderr.isatty() else 10.0)
            self.runner.progress = lambda done, total: bar.update(1) if bar else None
        try:
            records = self.runner.run(tasks)
        finally:
            if bar is not None:
                bar.close()
        pairs = [cal.target_values(records[t.id], self.measures) for t in tasks]
        return np.asarray([p[0] for p in pairs]), np.asarray([p[1] for p in pairs])


def _shown(path: Path) -> str:
    """A path as the folder records it: relative to the repository when inside it (the folder may be shipped)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the worker processes, once shut down)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# ----------------------------------------------------------------------------- what it writes
def parameter_rows(fit: cal.Fit, params: list[Parameter], base: dict[str, float],
                   labels: dict[str, str]) -> list[tuple]:
    """parameters.csv: each calibrated parameter's 2.5/50/97.5% points of prior and posterior, in its own units at
    the baseline's value (its first number), and the posterior width over the prior's."""
    rows = []
    post = fit.posterior
    for j, idx in enumerate(fit.calibrated):
        p = params[idx]

        def at(q: float, p: Parameter = p) -> float:
            return values_at([p], np.array([q]), base)[p.keys[0]]

        prior = [at(q / 100) for q in cal.QUANTILES]
        posterior = [at(float(q)) for q in np.percentile(post[:, j], cal.QUANTILES)]
        width = (posterior[2] - posterior[0]) / (prior[2] - prior[0]) if prior[2] != prior[0] else float("nan")
        rows.append((p.name, labels.get(p.name, p.name), *prior, *posterior, width))
    return rows


def target_rows(fit: cal.Fit, targets: Targets) -> list[tuple]:
    """targets.csv: each target's prior predictive (the screening wave, every parameter from its prior) and
    posterior predictive (the final wave's runs at the posterior draws) against its figure, with a verdict."""
    prior_y = fit.waves[0].y
    post_y = fit.final.y[fit.draws]
    rows = []
    for k, t in enumerate(targets.targets):
        a, b = cal.predictive(prior_y[:, k]), cal.predictive(post_y[:, k])
        rows.append((t.id, t.role, t.area, t.quantity, t.figure, t.tolerance, *a, *b,
                     cal.verdict(t.figure, t.tolerance, a[1], a[2]), cal.verdict(t.figure, t.tolerance, b[1], b[2])))
    return rows


def screening_rows(fit: cal.Fit, targets: Targets, params: list[Parameter]) -> list[tuple]:
    """screening.csv: the first wave's regression of each calibration target on each parameter."""
    scr = fit.screen
    if scr is None:
        return []
    rows = []
    for k, t in enumerate(targets.role("calibration")):
        for j, p in enumerate(params):
            rows.append((t.id, p.name, float(scr.effect[k, j]), float(scr.t[k, j]),
                         float(abs(scr.effect[k, j]) / t.tolerance), int(scr.informed[j]), int(j in fit.calibrated)))
    return rows


def write_outputs(out: Path, fit: cal.Fit, option: Option, params: list[Parameter], targets: Targets,
                  observed: cal.Observed, design: dict[str, int], labels: dict[str, str]) -> dict[str, Any]:
    """Every table of the folder but calibration.json; returns what calibration.json says of the fit."""
    names = [params[j].name for j in fit.calibrated]
    post = fit.posterior
    write_csv(out / "posterior.csv", ("draw", *names), [(i, *map(float, row)) for i, row in enumerate(post)])
    base = base_values(option.config, params)
    write_csv(out / "parameters.csv", PARAMETERS_HEADER, parameter_rows(fit, params, base, labels))
    write_csv(out / "targets.csv", TARGETS_HEADER, target_rows(fit, targets))
    write_csv(out / "diagnostics.csv", cal.DIAGNOSTICS_HEADER,
              cal.diagnostics(fit, observed, names, design["replications"]))
    write_csv(out / "screening.csv", SCREENING_HEADER, screening_rows(fit, targets, params))
    state = cal.settling(fit, observed)
    return {"calibrated_parameters": names, "priors": priors_of(params, base, names),
            "verdict_rule": cal.VERDICT_RULE,
            "settled": state.settled, "settling": state.verdict, "settled_rule": cal.SETTLED_RULE,
            "generations": state.generations,
            "quantile_change_last_two_generations": {n: _number(c) for n, c in zip(names, state.changes)},
            "ess": fit.ess, "draws": len(post), "final_points": len(fit.final.u)}


def _number(x: float) -> float | None:
    """A float for JSON: None for NaN (JSON has no NaN)."""
    return float(x) if np.isfinite(x) else None


def main(argv: list[str] | None = None) -> None:
    """Entry point of `pathways-calibrate`."""
    one_blas_thread()
    from sim.analysis.probabilistic import parameter_labels
    from sim.analysis.psa import Study
    from sim.outputs.calibration_report import write_report

    defaults = read_design()
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("overrides", nargs="*", help="Hydra overrides of the region baseline (region=..., pathway=...)")
    ap.add_argument("--out", type=Path, help="folder (default results/calibration/<region>/; an existing one resumes)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (kept for the whole run)")
    ap.add_argument("--ray-address", help="run on a Ray cluster at this address (host:port)")
    ap.add_argument("--targets", type=Path, default=TARGETS_FILE, help="targets file")
    ap.add_argument("--ranges", type=Path, default=RANGES_DIR, help="folder of range files and rule.yaml (priors)")
    where = CALIBRATION_DESIGN.relative_to(CONFIG_DIR.parent)
    for k in DESIGN_FIELDS:
        ap.add_argument(f"--{k}", type=int, default=defaults[k], help=f"design size (default {defaults[k]}, {where})")
    args = ap.parse_args(argv)
    design = {k: _size(f"--{k}", getattr(args, k), k) for k in DESIGN_FIELDS}
    _size("--workers", args.workers, "replications")
    try:
        targets = load_targets(args.targets, measures=MEASURES)
    except TargetsError as e:
        fail(str(e))
    if not targets.role("calibration"):
        fail(f"{args.targets}: no target has role calibration; allowed: at least one")
    option = compose(args.overrides)
    region = option.config.region.name
    if region != targets.region:
        fail(f"{args.targets}: region = {targets.region!r}, but the overrides run region {region!r}, which has no "
             "targets; allowed: that region, or --targets with a file for it")
    check_measures(targets, option)
    try:
        ranges = Ranges.load(args.ranges)
        params = fitted_parameters(option, ranges)
    except ConfigError as e:
        fail(e.message())
    if not params:
        fail(f"{args.ranges}: no parameter of the region or pathway has a range: nothing to calibrate")
    out = args.out or Path("results") / "calibration" / region
    settings = {"overrides": list(args.overrides), "targets": str(args.targets), "ranges": str(args.ranges),
                "design": design, "parameters": [p.name for p in params], "method": METHOD}
    done = out / "calibration.json"
    if done.exists() and json.loads(done.read_text()).get("complete"):
        print(f"{out}: complete (calibration.json); nothing to do")
        return
    started = out / "settings.json"
    if started.exists() and json.loads(started.read_text()) != settings:
        fail(f"{out}: holds a calibration with other settings (settings.json); allowed: the same overrides, "
             "targets, ranges and design to resume, or a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    write_text(started, json.dumps(settings, indent=2))

    wall0, cpu0 = time.perf_counter(), _cpu()
    calibration = targets.role("calibration")
    observed = cal.Observed(tuple(i for i, t in enumerate(targets.targets) if t.role == "calibration"),
                            np.asarray([t.figure for t in calibration]),
                            np.asarray([t.tolerance for t in calibration]))
    fn = functools.partial(cal.measure_task, measures=tuple(sorted({t.measure for t in targets.targets})))
    d = cal.Design(**design)
    try:
        with Runner({option.name: option.config}, Records(out / "records.jsonl"), args.workers, args.ray_address,
                    fn=fn) as runner:
            sim = Simulator(runner, option, params, targets, d.replications, progress=True)
            fit = cal.history_match(sim, len(params), observed, d, log=lambda s: print(s, file=sys.stderr))
    except cal.CalibrationError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(1)
    study = Study([option], params, option.name)
    summary = write_outputs(out, fit, option, params, targets, observed, design, parameter_labels(study, params))
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    info = {"region": region, "overrides": list(args.overrides), "targets_file": _shown(args.targets),
            "split_made": targets.split_made.isoformat(), "method": METHOD, "method_short": cal.METHOD_SHORT,
            "design": design,
            "waves": len(fit.waves) - len(fit.generations) + 1,
            "simulations": sum(len(w.u) for w in fit.waves) * d.replications,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "workers": args.workers,
            "ray_address": args.ray_address, **summary,
            "calibration_targets": [t.id for t in calibration],
            "validation_targets": [t.id for t in targets.role("validation")]}
    predictive = {t.id: (fit.waves[0].y[:, k], fit.final.y[fit.draws][:, k]) for k, t in enumerate(targets.targets)}
    write_report(out, info, predictive)
    write_text(done, json.dumps({**info, "complete": True}, indent=2))
    print(f"calibrated {len(fit.calibrated)} parameters in {wall:,.0f} s ({cpu:,.0f} CPU s); ESS {fit.ess:.0f}")
    print(f"results: {out.resolve()}")
