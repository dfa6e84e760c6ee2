"""Decisions under uncertainty: probabilistic sensitivity analysis, what drives it, the best mix.

`pathways-decide psa` draws parameter sets (scipy's quasi-Monte Carlo) over the ranges of
`sim.ranges`, runs every option on every set with the same random numbers (paired), and
writes the effect of each option against the reference with both kinds of interval, the
probability that each option is the best buy at each willingness to pay (acceptability
curves), the expected value of perfect information, and each parameter's partial one (EVPPI). `sensitivity` screens every parameter
(Morris) and estimates Sobol indices of the leading ones (SALib); `optimise` searches the
interventions' sizes for the best mix within a budget. Runs go through `sim.runner`
(kept workers, Ray by address, append-only records, resume); this module does statistics.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Sequence

import numpy as np
from scipy.stats import qmc
import warnings

warnings.filterwarnings("ignore", message="Argument ``constraints_func`` is an experimental feature")

from .config import ConfigError
from .decide_report import KPI_WORDS, option_words, output_words
from .experiment import write_csv, write_text
from .ranges import Parameter, Ranges, base_values, parameters, values_at, varied
from .runner import KPIS, Option, Records, Task, compose_options, run
from .stats import Interval, mean_ci

PSA_STREAMS = 1 << 20  # replication indices of parameter sets start here (the base run uses 0, 1, ...)
WTP = {  # willingness to pay (GBP) per unit of effect, for the acceptability curves
    "sustained_job": [float(x) for x in range(0, 100_001, 2_500)],
    "vacancy_year": [float(x) for x in range(0, 200_001, 5_000)],
}
EFFECTS = {  # the two effects of DESIGN.md: their KPI and sign (a vacancy-year avoided is a gain)
    "sustained_job": ("net_sustained_12m", 1.0),
    "vacancy_year": ("vacancy_days", -1.0 / 365.0),
}


# ----------------------------------------------------------------------------- a study
@dataclass
class Study:
    """The options of one decision, their uncertain parameters, and the reference option."""

    options: list[Option]
    params: list[Parameter]
    reference: str

    @classmethod
    def build(cls, overrides: list[str], ranges: Ranges, config_dir: Path) -> Study:
        options = compose_options(overrides, config_dir)
        params = parameters({o.name: (o.config, o.files) for o in options}, ranges)
        return cls(options, params, reference_of(options))

    @property
    def configs(self) -> dict:
        """The options' configs, the reference first (the runner calibrates BAU recruitment from it)."""
        ordered = sorted(self.options, key=lambda o: o.name != self.reference)
        return {o.name: o.config for o in ordered}

    def point(self, u: np.ndarray) -> dict[str, dict[str, float]]:
        """Every option's values at the unit-cube point `u` (the same quantiles for all: paired)."""
        return {o.name: values_at(self.params, u, base_values(o.config, self.params)) for o in self.options}


def reference_of(options: list[Option]) -> str:
    """The option named by `experiment.reference`, chosen as `pathways` chooses a sweep's (sim.compare):
    ComparisonError unless exactly one option matches, or when the options run on different regions."""
    from .compare import plan_jobs

    if len(options) == 1:
        return options[0].name
    job = plan_jobs([o.overrides for o in options], [o.config.scenario_name for o in options],
                    [o.config.region.name for o in options], [tuple(o.config.intervention) for o in options],
                    options[0].config.experiment.reference)
    return options[int(job.path.name)].name


def unit_design(n: int, d: int, seed: int, method: str = "sobol") -> np.ndarray:
    """`n` points of the unit cube in `d` dimensions: scrambled Sobol (first n of 2^m) or Latin hypercube."""
    if method == "lhs":
        return qmc.LatinHypercube(d=d, seed=seed).random(n)
    m = max(0, math.ceil(math.log2(max(n, 1))))
    return qmc.Sobol(d=d, scramble=True, seed=seed).random_base2(m)[:n]


# ----------------------------------------------------------------------------- PSA statistics
def differences(records: dict[str, dict], ids: Sequence[str], option: str, reference: str,
                kpi: str) -> np.ndarray:
    """Paired differences option - reference, one row per task (set) and one column per replication."""
    rows = []
    for t in ids:
        a, b = records[t]["kpis"][option], records[t]["kpis"][reference]
        rows.append([a[r][kpi] - b[r][kpi] for r in sorted(a, key=int)])
    return np.asarray(rows, float)


@dataclass(frozen=True)
class Uncertainty:
    """One option's effect on one KPI: simulation-only CI and the full (parameters too) interval."""

    sim: Interval  # paired CI at the file's values, over replications
    mean: float  # over parameter sets and replications
    low: float  # 2.5% and 97.5% points of the per-set effects
    high: float
    sets: int
    parameter_share: float  # share of the effect's variance that comes from the parameters


def uncertainty(sim_diffs: np.ndarray, psa_diffs: np.ndarray) -> Uncertainty:
    """Both intervals of one effect.

    The per-set effect (mean over a set's replications) varies with the parameters and with
    simulation noise; its 2.5-97.5% points are the full interval. The noise variance per
    replication is the within-set variance when sets have several replications, else the base
    run's; the parameters' share is the rest of the per-replication variance (law of total variance).
    """
    sim = mean_ci(sim_diffs.ravel())
    per_set = psa_diffs.mean(axis=1)
    reps = psa_diffs.shape[1]
    within = float(psa_diffs.var(axis=1, ddof=1).mean()) if reps > 1 else float(np.var(sim_diffs, ddof=1))
    between = max(0.0, float(np.var(per_set, ddof=1)) - within / reps) if len(per_set) > 1 else math.nan
    share = between / (between + within) if between + within > 0 else math.nan
    lo, hi = np.percentile(per_set, [2.5, 97.5]) if len(per_set) else (math.nan, math.nan)
    return Uncertainty(sim, float(psa_diffs.mean()), float(lo), float(hi), len(per_set), share)


def net_benefit(effect: np.ndarray, cost: np.ndarray, wtp: float) -> np.ndarray:
    """Incremental net monetary benefit against the reference: wtp x effect - cost."""
    return wtp * effect - cost


def acceptability(nmb: np.ndarray) -> tuple[np.ndarray, float]:
    """From net benefits (sets x options, the reference a column of zeros): the probability that each
    option has the highest, and the expected value of perfect information (per decision, GBP).

    Ties (equal benefit, e.g. two options identical on a set) are shared equally, so the
    probabilities sum to one exactly.
    """
    best = nmb.max(axis=1, keepdims=True)
    winners = np.isclose(nmb, best, rtol=0, atol=1e-9)
    p = (winners / winners.sum(axis=1, keepdims=True)).mean(axis=0)
    evpi = float(best.mean() - nmb.mean(axis=0).max())
    return p, max(0.0, evpi)


def ceac_rows(records: dict[str, dict], ids: Sequence[str], names: list[str], reference: str) -> list[tuple]:
    """Per effect and willingness to pay: each option's probability of being best, its expected NMB, EVPI."""
    rows = []
    for effect, (kpi, sign) in EFFECTS.items():
        e = np.column_stack([sign * differences(records, ids, n, reference, kpi).mean(axis=1) for n in names])
        c = np.column_stack([differences(records, ids, n, reference, "programme_cost").mean(axis=1) for n in names])
        for wtp in WTP[effect]:
            nmb = net_benefit(e, c, wtp)
            p, evpi = acceptability(nmb)
            for j, n in enumerate(names):
                rows.append((effect, wtp, n, float(p[j]), float(nmb[:, j].mean()), evpi))
    return rows


def evppi(nmb: np.ndarray, x: np.ndarray) -> float:
    """Expected value of partial perfect information about one parameter, from PSA samples (sets x options
    net benefits, and the parameter's value in each set): the sets ordered by the parameter and cut into
    bins of equal size, the best option's mean benefit within each bin against the best overall (the
    ordering approach to single-parameter EVPPI, Strong and Oakley 2013). About sqrt(N) bins of about
    sqrt(N) sets (our choice: both the noise within a bin and the blur across it shrink as N grows). At
    most the EVPI, at least 0; biased upwards when the bins hold few sets (noise within a bin reads as
    information), so with few sets read it as a ranking, not a price."""
    n = len(x)
    bins = np.array_split(np.argsort(x, kind="stable"), max(1, round(math.sqrt(n))))
    known = sum(len(b) * nmb[b].mean(axis=0).max() for b in bins) / n
    overall = float(nmb.mean(axis=0).max())
    gain = float(known) - overall  # the same option best in every bin: 0 but for rounding, which is dropped
    return gain if gain > 1e-9 * max(1.0, abs(overall)) else 0.0


EVPPI_WTP = (10_000.0, 25_000.0, 50_000.0)  # the willingness to pay the report speaks of
EVPPI_HEADER = ("effect", "wtp_gbp", "parameter", "evppi_gbp", "evpi_gbp")


def evppi_rows(records: dict[str, dict], ids: Sequence[str], names: list[str], reference: str,
               params: list[Parameter], u: np.ndarray) -> list[tuple]:
    """EVPPI of every varied parameter (its quantile in each set stands for its value: the same ordering)."""
    rows = []
    for effect, (kpi, sign) in EFFECTS.items():
        e = np.column_stack([sign * differences(records, ids, n, reference, kpi).mean(axis=1) for n in names])
        c = np.column_stack([differences(records, ids, n, reference, "programme_cost").mean(axis=1) for n in names])
        for wtp in EVPPI_WTP:
            nmb = net_benefit(e, c, wtp)
            total = acceptability(nmb)[1]
            for j, p in enumerate(params):
                rows.append((effect, wtp, p.name, evppi(nmb, u[:, j]), total))
    return rows


CEAC_HEADER = ("effect", "wtp_gbp", "option", "p_best", "expected_nmb_gbp", "evpi_gbp")
UNCERTAINTY_HEADER = ("option", "reference", "kpi", "sim_mean", "sim_ci_low", "sim_ci_high", "sim_n",
                      "psa_mean", "psa_low", "psa_high", "psa_sets", "parameter_share")
STABILITY_HEADER = ("measure", "option", "kpi", "first_half", "all", "change")


def uncertainty_rows(records: dict[str, dict], ids: Sequence[str], names: list[str], reference: str) -> list[tuple]:
    rows = []
    for n in names:
        if n == reference:
            continue
        for kpi in KPIS:
            u = uncertainty(differences(records, ["base"], n, reference, kpi),
                            differences(records, ids, n, reference, kpi))
            rows.append((n, reference, kpi, u.sim.mean, u.sim.low, u.sim.high, u.sim.n,
                         u.mean, u.low, u.high, u.sets, u.parameter_share))
    return rows


def stability_rows(records: dict[str, dict], ids: Sequence[str], names: list[str], reference: str) -> list[tuple]:
    """The headline figures from the first half of the sets against all of them."""
    half = list(ids[: max(1, len(ids) // 2)])
    rows = []
    for n in names:
        if n == reference:
            continue
        for kpi in ("net_sustained_12m", "vacancy_days", "programme_cost"):
            a, b = (uncertainty(differences(records, ["base"], n, reference, kpi),
                                differences(records, s, n, reference, kpi)) for s in (half, ids))
            for measure, x, y in (("mean", a.mean, b.mean), ("low", a.low, b.low), ("high", a.high, b.high)):
                rows.append((measure, n, kpi, x, y, y - x))
    ceac = {ids_: {(r[0], r[1], r[2]): r[3] for r in ceac_rows(records, ids_, names, reference)}
            for ids_ in (tuple(half), tuple(ids))}
    for wtp in (10_000.0, 25_000.0, 50_000.0):
        for n in names:
            x, y = (ceac[k][("sustained_job", wtp, n)] for k in (tuple(half), tuple(ids)))
            rows.append((f"p_best_at_{int(wtp)}_per_sustained_job", n, "net_sustained_12m", x, y, y - x))
    return rows


# ----------------------------------------------------------------------------- the psa command
def psa(study: Study, out: Path, samples: int, replications: int, base_replications: int, seed: int,
        method: str, workers: int, ray_address: str | None) -> dict[str, Any]:
    """Run (or resume) a PSA in `out` and write its tables; returns a summary for the console."""
    v = varied(study.params)
    u = unit_design(samples, len(v), seed, method)
    base = Task("base", {}, tuple(range(base_replications)))
    tasks = [base] + [Task(f"set{i}", study.point(u[i]),
                           tuple(PSA_STREAMS + i * replications + r for r in range(replications)))
                      for i in range(samples)]
    started = time.perf_counter()
    records = run(tasks, study.configs, Records(out / "records.jsonl"), workers, ray_address, _progress)
    wall = time.perf_counter() - started
    ids = [t.id for t in tasks[1:]]
    names = [o.name for o in study.options]
    write_parameters(out / "parameters.csv", study.params)
    header = ("sample", *[p.name for p in v], "option", "replication", "kpi", "value")
    rows = []
    for i, t in enumerate(tasks[1:]):
        first = _first_values(study, t)
        for n in names:
            for r, kp in records[t.id]["kpis"][n].items():
                for k in KPIS:
                    rows.append((i, *first, n, int(r), k, kp[k]))
    write_csv(out / "psa.csv", header, rows)
    write_csv(out / "uncertainty.csv", UNCERTAINTY_HEADER, uncertainty_rows(records, ids, names, study.reference))
    write_csv(out / "ceac.csv", CEAC_HEADER, ceac_rows(records, ids, names, study.reference))
    write_csv(out / "evppi.csv", EVPPI_HEADER, evppi_rows(records, ids, names, study.reference, v, u))
    write_csv(out / "stability.csv", STABILITY_HEADER, stability_rows(records, ids, names, study.reference))
    return {"wall_s": wall, "tasks": len(tasks)}


def _first_values(study: Study, task: Task) -> list[float]:
    """Each varied parameter's value in the first option that has it (its first key), for psa.csv."""
    out = []
    for p in varied(study.params):
        value = math.nan
        for o in study.options:
            vals = task.values.get(o.name, {})
            if p.keys[0] in vals:
                value = vals[p.keys[0]]
                break
        out.append(value)
    return out


def write_parameters(path: Path, params: list[Parameter]) -> None:
    """parameters.csv: every number of the options, its range and where the range comes from."""
    write_csv(path, ("parameter", "keys", "n_numbers", "kind", "arguments", "shared", "range_from", "range_file",
                     "reason", "is_assumption"),
              [(p.name, " ".join(p.keys), len(p.keys), p.spec.kind, json.dumps(p.spec.args), p.spec.shared,
                p.source, p.spec.file if p.source == "explicit" else f"rule ({p.spec.key})", p.spec.reason,
                p.is_assumption) for p in params])


def range_counts(params: list[Parameter]) -> dict[str, int]:
    """How many numbers have an explicit range and how many take the rule's; varied or held."""
    c = {"explicit": 0, "rule": 0, "explicit_varied": 0, "rule_varied": 0, "parameters_varied": len(varied(params))}
    for p in params:
        c[p.source] += len(p.keys)
        if p.varied:
            c[f"{p.source}_varied"] += len(p.keys)
    return c


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{done}/{total} tasks", end="" if done < total else "\n", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- sensitivity
EDGE = 0.025  # Morris and the tornado move each parameter over its central 95% (the tails are unbounded)
SENSITIVITY_HEADER = ("parameter", "kpi", "method", "index", "value", "ci_low", "ci_high")
TORNADO_HEADER = ("parameter", "kpi", "at_low", "at_base", "at_high", "swing")


def outputs(study: Study, records: dict[str, dict], ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The quantities sensitivity explains, one value per point: each option's paired effect against
    the reference on the two effects and the cost (or the KPI itself when there is only one option)."""
    names = [o.name for o in study.options]
    out = {}
    for n in names:
        if n == study.reference and len(names) > 1:
            continue
        for kpi in ("net_sustained_12m", "vacancy_days", "programme_cost"):
            if len(names) > 1:
                y = differences(records, ids, n, study.reference, kpi).mean(axis=1)
            else:
                y = np.asarray([np.mean([v[kpi] for v in records[t]["kpis"][n].values()]) for t in ids])
            out[f"{kpi}:{n}"] = y
    return out


def _problem(params: list[Parameter]) -> dict:
    return {"num_vars": len(params), "names": [p.name for p in params], "bounds": [[0.0, 1.0]] * len(params)}


def _point(study: Study, params: list[Parameter], u: np.ndarray) -> dict[str, dict[str, float]]:
    """Every option's values with `params` at the quantiles `u` and every other number at its file value."""
    return {o.name: values_at(params, u, base_values(o.config, params)) for o in study.options}


def morris(study: Study, out: Path, trajectories: int, replications: int, seed: int, workers: int,
           ray_address: str | None) -> tuple[list[tuple], dict[str, np.ndarray]]:
    """Morris screening of every varied parameter (SALib): mu* with its CI, and sigma, per output."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    v = varied(study.params)
    problem = _problem(v)
    x = sample.sample(problem, trajectories, num_levels=4, seed=seed)
    reps = tuple(range(replications))  # common random numbers across points: effects are the parameters' own
    tasks = [Task(f"morris{i}", _point(study, v, EDGE + (1 - 2 * EDGE) * row), reps) for i, row in enumerate(x)]
    records = run(tasks, study.configs, Records(out / "records.jsonl"), workers, ray_address, _progress)
    rows, mu = [], {}
    for kpi, y in outputs(study, records, [t.id for t in tasks]).items():
        res = analyze.analyze(problem, x, y, num_levels=4, conf_level=0.95, seed=seed)
        mu[kpi] = np.asarray(res["mu_star"])
        for j, p in enumerate(v):
            m, c = float(res["mu_star"][j]), float(res["mu_star_conf"][j])
            rows.append((p.name, kpi, "morris", "mu_star", m, max(0.0, m - c), m + c))
            rows.append((p.name, kpi, "morris", "sigma", float(res["sigma"][j]), math.nan, math.nan))
    return rows, mu


def sobol(study: Study, out: Path, leading: list[Parameter], samples: int, replications: int, seed: int,
          workers: int, ray_address: str | None) -> list[tuple]:
    """First- and total-order Sobol indices (Saltelli design, SALib) of the leading parameters, with CIs."""
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    problem = _problem(leading)
    x = np.clip(sample.sample(problem, samples, calc_second_order=False, scramble=True, seed=seed), 1e-6, 1 - 1e-6)
    reps = tuple(range(replications))
    tasks = [Task(f"sobol{i}", _point(study, leading, row), reps) for i, row in enumerate(x)]
    records = run(tasks, study.configs, Records(out / "records.jsonl"), workers, ray_address, _progress)
    rows = []
    for kpi, y in outputs(study, records, [t.id for t in tasks]).items():
        if np.ptp(y) == 0:  # no output variance: every index is zero, exactly
            res = {k: np.zeros(len(leading)) for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            res = analyze.analyze(problem, y, calc_second_order=False, conf_level=0.95, seed=seed)
        for j, p in enumerate(leading):
            for index in ("S1", "ST"):
                val, c = float(res[index][j]), float(res[f"{index}_conf"][j])
                rows.append((p.name, kpi, "sobol", index, val, val - c, val + c))
    return rows


def tornado(study: Study, out: Path, leading: list[Parameter], replications: int, workers: int,
            ray_address: str | None) -> list[tuple]:
    """One-way ranges: each leading parameter at its 2.5% and 97.5% points, the others at their file values."""
    reps = tuple(range(replications))
    tasks = [Task("tornado_base", {}, reps)]
    for p in leading:
        for side, q in (("low", EDGE), ("high", 1 - EDGE)):
            tasks.append(Task(f"tornado_{side}:{p.name}", _point(study, [p], np.array([q])), reps))
    records = run(tasks, study.configs, Records(out / "records.jsonl"), workers, ray_address, _progress)
    base = {k: float(y[0]) for k, y in outputs(study, records, ["tornado_base"]).items()}
    rows = []
    for p in leading:
        lo = outputs(study, records, [f"tornado_low:{p.name}"])
        hi = outputs(study, records, [f"tornado_high:{p.name}"])
        for kpi in base:
            rows.append((p.name, kpi, float(lo[kpi][0]), base[kpi], float(hi[kpi][0]),
                         abs(float(hi[kpi][0]) - float(lo[kpi][0]))))
    return rows


def leading_parameters(study: Study, mu: dict[str, np.ndarray], top: int) -> list[Parameter]:
    """The parameters with the largest Morris mu* on the first output (each output scaled by its largest mu*)."""
    v = varied(study.params)
    score = np.zeros(len(v))
    for m in mu.values():
        if m.max() > 0:
            score = np.maximum(score, m / m.max())
    order = np.argsort(-score, kind="stable")
    return [v[i] for i in order[:top]]


def sensitivity_words(rows: list[tuple], tornado_rows: list[tuple], kpi: str, reference: str) -> list[str]:
    """Which few parameters the answer turns on, and which evidence would narrow it most, in words."""
    st = sorted((r for r in rows if r[1] == kpi and r[2] == "sobol" and r[3] == "ST"), key=lambda r: -r[4])
    mu = sorted((r for r in rows if r[1] == kpi and r[2] == "morris" and r[3] == "mu_star"), key=lambda r: -r[4])
    ranked = st or mu
    if not ranked:
        return []
    what = (f"total-order Sobol index (share of the variance each explains, with its interactions, among the "
            f"{len(st)} leading parameters of the Morris screening, the others at their file values)" if st else
            "Morris mu* (mean absolute effect of moving it across its range)")
    shown = [r for r in ranked[:5] if round(r[4], 2) > 0] or ranked[:1]  # no parameter listed at 0.00
    words = [f"On {output_words(kpi, reference)}, ranked by {what}: "
             + ", ".join(f"{r[0]} ({r[4]:.2f})" for r in shown) + "."]
    if st:
        total = sum(max(0.0, r[4]) for r in st[:3])
        words.append(f"The first {min(3, len(st))} carry total-order indices summing to {total:.2f}; evidence that "
                     f"narrows {st[0][0]} would narrow the answer most. Morris screening of all {len(mu)} "
                     "parameters ranks first: " + ", ".join(f"{r[0]} (mu* {r[4]:,.1f})" for r in mu[:5]) + ".")
    sw = sorted((r for r in tornado_rows if r[1] == kpi), key=lambda r: -r[5])
    if sw:
        words.append(f"One at a time, {sw[0][0]} moves it most: from {sw[0][2]:,.1f} to {sw[0][4]:,.1f} "
                     f"(at the file's values {sw[0][3]:,.1f}).")
    return words


# ----------------------------------------------------------------------------- command line
def fail(message: str) -> NoReturn:
    print(f"pathways-decide: error: {message}", file=sys.stderr)
    sys.exit(2)


def _outdir(args: argparse.Namespace, command: str) -> Path:
    if args.out:
        return Path(args.out)
    now = datetime.datetime.now()
    return Path("results") / now.strftime("%Y-%m-%d") / f"{now.strftime('%H-%M-%S')}-decide-{command}"


def _check_resume(out: Path, command: str, settings: dict) -> None:
    """A folder holds one command's run: resuming with other settings would mix two designs."""
    path = out / "decide.json"
    if path.exists():
        old, new = json.loads(path.read_text()), {"command": command, **settings}
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            fail(f"{out}: holds a {old.get('command')} run with other settings ({', '.join(diff)}); "
                 "allowed: the same command and settings to resume, or a new --out folder")


def _start(out: Path, command: str, settings: dict) -> None:
    """Claim the folder for this run (after the inputs were checked: a bad input leaves nothing behind)."""
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "decide.json", json.dumps({"command": command, **settings}, indent=2, sort_keys=True))


def _study(overrides: list[str], ranges_dir: Path) -> Study:
    from .cli import CONFIG_DIR, UsageError, preflight
    from .compare import ComparisonError

    try:  # every option's config composed and validated, and the reference found: exit 2 on a bad value
        preflight(["-m", *overrides])
        ranges = Ranges.load(ranges_dir)
        return Study.build(overrides, ranges, CONFIG_DIR)
    except UsageError as e:
        fail(str(e))
    except ComparisonError as e:
        fail(f"command line {' '.join(overrides)}: {e}")
    except ConfigError as e:
        fail(e.message())


def _settings(args: argparse.Namespace) -> dict:
    """What a folder's run is: resuming it needs the same (decide.json)."""
    keys = {"psa": ("samples", "replications", "base_replications", "seed", "design", "ranges"),
            "sensitivity": ("method", "trajectories", "samples", "top", "replications", "seed", "ranges"),
            "optimise": ("budget", "objective", "budgets", "trials", "polish", "replications", "top", "factor",
                         "oos_replications", "seed")}[args.command]
    out = {"overrides": args.overrides}
    for k in keys:
        v = getattr(args, k)
        out[k] = str(v) if isinstance(v, Path) else v
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point of `pathways-decide`."""
    from .ranges import RANGES_DIR

    ap = argparse.ArgumentParser(prog="pathways-decide", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("overrides", nargs="*", help="Hydra overrides; a sweep (scenario=a,b) gives the options")
    common.add_argument("--out", type=Path, help="results folder (an existing one resumes)")
    common.add_argument("--workers", type=int, default=1, help="worker processes (kept for the whole run)")
    common.add_argument("--ray-address", help="run on a Ray cluster at this address (host:port)")
    common.add_argument("--seed", type=int, default=20261201, help="seed of the parameter design")
    common.add_argument("--ranges", type=Path, default=RANGES_DIR, help="folder of range files and rule.yaml")
    p = sub.add_parser("psa", parents=[common], help="probabilistic sensitivity analysis")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--replications", type=int, default=1, help="replications per parameter set")
    p.add_argument("--base-replications", type=int, default=10, help="replications at the file's values (the simulation-only CI)")
    p.add_argument("--design", choices=("sobol", "lhs"), default="sobol")
    p = sub.add_parser("sensitivity", parents=[common], help="Morris screening, Sobol indices, tornado")
    p.add_argument("--method", choices=("morris", "sobol"), default="morris")
    p.add_argument("--trajectories", type=int, default=10, help="Morris trajectories (each: parameters + 1 points)")
    p.add_argument("--samples", type=int, default=64, help="Sobol base samples (each: leading parameters + 2 points)")
    p.add_argument("--top", type=int, default=8, help="leading parameters for Sobol indices and the tornado")
    p.add_argument("--replications", type=int, default=2, help="replications per point (common across points)")
    p = sub.add_parser("optimise", parents=[common], help="the best mix of intervention sizes within a budget")
    p.add_argument("--budget", type=float, required=True, help="GBP over the run's horizon")
    p.add_argument("--objective", choices=("net_sustained_12m", "vacancy_days"), default="net_sustained_12m")
    p.add_argument("--budgets", type=float, nargs="*", help="budgets of the frontier (default: 1/4, 1/2, 3/4 and all of --budget)")
    p.add_argument("--trials", type=int, default=40, help="candidate mixes searched per budget")
    p.add_argument("--polish", type=int, default=5,
                   help="moves of local search from the best mix found, per budget (each: its one-step neighbours)")
    p.add_argument("--replications", type=int, default=3, help="replications per candidate (common to all; >= 2)")
    p.add_argument("--top", type=int, default=4, help="leading candidates re-run with more replications")
    p.add_argument("--factor", type=int, default=3, help="how many times the replications the leading candidates get")
    p.add_argument("--oos-replications", type=int, default=10, help="fresh-seed replications of the out-of-sample check")
    args = ap.parse_args(argv)
    if getattr(args, "budget", 1.0) is not None and not getattr(args, "budget", 1.0) > 0:
        fail(f"--budget = {args.budget}: allowed: a number of GBP > 0")
    for name in ("workers", "samples", "replications", "base_replications", "trajectories", "top", "trials", "factor",
                 "oos_replications", "polish"):
        value = getattr(args, name, None)
        low = 2 if name in ("samples", "base_replications", "trajectories", "oos_replications") else \
            0 if name == "polish" else 1
        if name == "replications" and args.command == "optimise":
            low = 2  # a candidate's cost bound needs the spread of its cost
        if value is not None and value < low:
            fail(f"--{name.replace('_', '-')} = {value}: allowed: an integer >= {low}")
    out = _outdir(args, args.command)
    settings = _settings(args)
    _check_resume(out, args.command, settings)  # before composing: a refused resume answers at once
    study = _study(args.overrides, args.ranges)
    _start(out, args.command, settings)
    if args.command == "psa":
        summary = psa(study, out, args.samples, args.replications, args.base_replications, args.seed,
                      args.design, args.workers, args.ray_address)
        counts = range_counts(study.params)
        write_text(out / "summary.json", json.dumps({**summary, "ranges": counts, "reference": study.reference,
                                                     "options": [o.name for o in study.options]}, indent=2))

        print(psa_text(out, study, counts))
    elif args.command == "sensitivity":
        print(sensitivity_command(study, out, args))
    elif args.command == "optimise":
        print(optimise_command(study, out, args))
    from .decide_report import write_report

    print(f"report: {write_report(out)}")
    print(f"results: {out.resolve()}")


def optimise_command(study: Study, out: Path, args: argparse.Namespace) -> str:
    """Search, select, re-check out of sample; write frontier.csv, recommended.yaml and optimise.json."""
    from . import optimise as opt
    from .runner import Runner

    ref = next(o for o in study.options if o.name == study.reference)
    space = opt.merged(ref, study.options)
    c = space.c
    try:
        bounds = opt.bounds(c)
    except ConfigError as e:
        fail(e.message())
    budgets = sorted(set(args.budgets or [args.budget * f for f in (0.25, 0.5, 0.75, 1.0)]) | {args.budget})
    options = {"mix": c, **study.configs}  # the merged mix keeps the reference's region: calibration from it
    reps = tuple(range(args.replications))
    with Runner(options, Records(out / "records.jsonl"), args.workers, args.ray_address, _progress) as runner:
        s = opt.Search(space, runner, args.objective, args.replications)
        seeds = [o.name for o in study.options if o.name != study.reference]
        seed_score = {n: (float(y.mean()), opt.cost_bound(cost))  # within a budget on the same cost bound as a mix
                      for n, (y, cost) in zip(seeds, s.options(seeds, reps))}
        start = {n: 0 for n in bounds}
        found = opt.search(s, budgets, bounds, args.trials, max(2, 2 * args.workers), args.seed, start, args.polish)
        fresh = tuple(opt.FRESH + r for r in range(args.oos_replications))
        (z, _), = s.options([study.reference], fresh, tag="@fresh")
        rows, chosen, effects = [], {}, {}
        for b in budgets:
            picked = opt.select(s, found[b], b, args.top, args.factor) if found[b] else None
            if picked is None:
                rows.append((b, args.objective, study.reference, "nothing feasible", *[math.nan] * 6, 0))
                continue
            chosen[b] = picked
            (y, cost), = s.evaluate([picked.mix], fresh, tag="@fresh")
            d = effects[b] = s.difference(y, z)
            rows.append((b, args.objective, study.reference, opt.label(picked.mix), float(cost.mean()), picked.bound,
                         float(cost.max()), d.mean, d.low, d.high, d.n))
        write_csv(out / "frontier.csv", FRONTIER_HEADER, rows)
        if args.budget not in chosen:
            return f"no mix within £{args.budget:,.0f}"
        choice = chosen[args.budget]
        mix, sep, bound = choice.mix, choice.sep, choice.bound
        within = [n for n in seeds if seed_score[n][1] <= args.budget]
        best_seed = max(within, key=lambda n: seed_score[n][0]) if within else None
        effect = effects[args.budget]
        check = {**opt.out_of_sample(s, mix, best_seed, args.oos_replications, args.budget), "mix_cost_bound": bound,
                 "reference": study.reference, "effect_mean": effect.mean, "effect_low": effect.low,
                 "effect_high": effect.high}
    text = opt.recommended_yaml(space, ref.config, mix, args.budget, args.objective)
    write_text(out / "recommended.yaml", text)
    (out / "scenario").mkdir(exist_ok=True)
    write_text(out / "scenario" / "recommended.yaml", text)
    words = [f"Within £{args.budget:,.0f} the recommended mix is {opt.label(mix)}: "
             f"it costs £{check['mix_cost']:,.0f} "
             f"and gives {effect.mean:+,.1f} {KPI_WORDS[args.objective]} against {option_words(study.reference)} "
             f"(paired 95% CI "
             f"{effect.low:+,.1f} to {effect.high:+,.1f}, on {effect.n} fresh seeds).",
             f"Its cost varies with the people served, so it was held to the upper {opt.COST_LEVEL:.1%} prediction "
             f"bound of one replication's cost (£{bound:,.0f}); on {args.oos_replications} fresh seeds it cost at most "
             f"£{check['mix_cost_max']:,.0f}: "
             + ("within the budget every time." if check["within_budget"] else
                f"over the budget in {check['over_budget']} of {args.oos_replications}.")]
    if sep is not None and choice.cheaper:  # on the scale where larger is better
        words.append(f"The best mean of the leading candidates, {opt.label(choice.rival)}, is not clearly better "
                     f"(it gives {-sep.mean:,.1f} {GAIN_WORDS[args.objective]}, paired 95% CI {-sep.high:+,.1f} to "
                     f"{-sep.low:+,.1f}, on the same seeds) and costs £{choice.rival_cost - choice.cost:,.0f} more: "
                     f"of the candidates the simulation cannot tell apart from it, this mix is the cheapest.")
    elif sep is not None and sep.low > 0:
        words.append(f"Against the runner-up, {opt.label(choice.rival)} (same seeds), it is ahead by {sep.mean:,.1f} "
                     f"{GAIN_WORDS[args.objective]} (paired 95% CI {sep.low:+,.1f} to {sep.high:+,.1f}).")
    elif sep is not None:  # the best mean, and no dearer than a runner-up the simulation cannot tell from it
        sign = opt.OBJECTIVES[args.objective]  # back to the KPI's own scale
        low, high = sorted((sign * sep.low, sign * sep.high))
        extra = choice.rival_cost - choice.cost
        words.append(f"The runner-up, {opt.label(choice.rival)}, is not clearly different on the same seeds (this mix "
                     f"gives {sign * sep.mean:+,.1f} {KPI_WORDS[args.objective]} against it, paired 95% CI "
                     f"{low:+,.1f} to {high:+,.1f}) and "
                     + (f"costs £{extra:,.0f} more." if extra >= 0.5 else "costs the same."))
    if best_seed:
        words.append(f"Out of sample, against the best seed programme within the budget ({option_words(best_seed)}, "
                     f"cost £"
                     f"{check['seed_cost']:,.0f}): the mix gives {check['diff_mean']:+,.1f} "
                     f"{KPI_WORDS[args.objective]} "
                     f"(paired 95% CI {check['diff_low']:+,.1f} to {check['diff_high']:+,.1f}); the recommended mix is "
                     f"{'better' if check['better'] else 'not clearly better'}.")
    else:
        words.append("No seed programme fits within this budget, so there is no out-of-sample comparison.")
    write_text(out / "optimise.json", json.dumps({"words": words, "check": check, "bounds": bounds}, indent=2))
    write_text(out / "summary.json", json.dumps({"options": [o.name for o in study.options], "reference": study.reference},
                                                indent=2))
    return "\n".join(words)


GAIN_WORDS = {"net_sustained_12m": "more net sustained jobs at 12 months", "vacancy_days": "fewer vacancy-days"}
FRONTIER_HEADER = ("budget_gbp", "objective", "reference", "mix", "cost_gbp", "cost_bound_gbp", "cost_max_gbp",
                   "effect", "ci_low", "ci_high", "n")  # cost: mean and most on fresh seeds; bound: what the mix was held to;
# effect: the mix against the reference on the same fresh seeds (paired), with its 95% CI


def sensitivity_command(study: Study, out: Path, args: argparse.Namespace) -> str:
    """Morris on every parameter; with --method sobol, Sobol indices of the leading ones; a tornado of them."""
    rows, mu = morris(study, out, args.trajectories, args.replications, args.seed, args.workers, args.ray_address)
    leading = leading_parameters(study, mu, args.top)
    if args.method == "sobol":
        rows += sobol(study, out, leading, args.samples, args.replications, args.seed, args.workers, args.ray_address)
    torn = tornado(study, out, leading, args.replications, args.workers, args.ray_address)
    write_csv(out / "sensitivity.csv", SENSITIVITY_HEADER, rows)
    write_csv(out / "tornado.csv", TORNADO_HEADER, torn)
    write_parameters(out / "parameters.csv", study.params)
    words = sensitivity_words(rows, torn, next(r[1] for r in rows), study.reference)
    write_text(out / "sensitivity.json", json.dumps({"words": words, "leading": [p.name for p in leading],
                                                     "ranges": range_counts(study.params)}, indent=2))
    write_text(out / "summary.json", json.dumps({"ranges": range_counts(study.params),
                                                 "options": [o.name for o in study.options],
                                                 "reference": study.reference}, indent=2))
    return "\n".join(words)


def psa_text(out: Path, study: Study, counts: dict[str, int]) -> str:
    """The console summary of a PSA folder: effects with both intervals, and the best-buy probabilities."""
    import csv

    lines = [f"ranges: {counts['explicit']} numbers with an explicit range ({counts['explicit_varied']} varied), "
             f"{counts['rule']} from the default rule ({counts['rule_varied']} varied); "
             f"{counts['parameters_varied']} uncertain parameters"]
    with (out / "uncertainty.csv").open() as f:
        for r in csv.DictReader(f):
            if r["kpi"] in ("net_sustained_12m", "vacancy_days"):
                lines.append(f"{r['option']}: {r['kpi']} {float(r['psa_mean']):+.1f} vs {r['reference']}; "
                             f"simulation-only 95% CI [{float(r['sim_ci_low']):.1f}, {float(r['sim_ci_high']):.1f}], "
                             f"with parameter uncertainty [{float(r['psa_low']):.1f}, {float(r['psa_high']):.1f}] "
                             f"({float(r['parameter_share']):.0%} of the variance from the parameters)")
    with (out / "ceac.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["effect"] == "sustained_job"
                and float(r["wtp_gbp"]) in (10_000.0, 25_000.0, 50_000.0)]
    for wtp in ("10000.0", "25000.0", "50000.0"):
        sel = [r for r in rows if r["wtp_gbp"] == wtp]
        if sel:
            lines.append(f"best buy at £{float(wtp):,.0f} per sustained job: " +
                         ", ".join(f"{r['option']} {float(r['p_best']):.2f}" for r in sel) +
                         f"; EVPI £{float(sel[0]['evpi_gbp']):,.0f}")
    with (out / "evppi.csv").open() as f:
        top = sorted((r for r in csv.DictReader(f) if r["effect"] == "sustained_job" and float(r["wtp_gbp"]) == 25_000.0),
                     key=lambda r: -float(r["evppi_gbp"]))[:3]
    if top and float(top[0]["evppi_gbp"]) >= 0.5:  # as printed: more than GBP 0
        lines.append("evidence worth most at £25,000 per sustained job (EVPPI): " +
                     ", ".join(f"{r['parameter']} £{float(r['evppi_gbp']):,.0f}" for r in top))
    elif top:
        lines.append("evidence worth most at £25,000 per sustained job (EVPPI): none; no single parameter "
                     "would change the choice")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
