"""Decisions under uncertainty, the statistics: parameter sets over the ranges (quasi-Monte Carlo), every option
run on every set with the same random numbers (paired, through `sim.experiment.runner`), the effect of each
option with both kinds of interval, acceptability curves, EVPI and EVPPI, and what drives the result (a screening
of every parameter, RBD-FAST first-order indices from a space-filling design or Morris, then Sobol indices of the
leading parameters and a tornado). `pathways-decide` (sim/interfaces/decide.py)
is the command and its prose."""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from sim.analysis.emulator import Z95
from sim.experiment.replications import write_csv
from sim.experiment.runner import KPIS, Option, Records, Task, compose_options, run
from sim.experiment.stats import Interval, mean_ci
from sim.params.kpis import KPI, group
from sim.params.posterior import Posterior, posterior_for
from sim.params.ranges import Parameter, Ranges, base_values, parameters, values_at, varied

PSA_STREAMS = 1 << 20  # replication indices of parameter sets start here (the base run uses 0, 1, ...)

WTP = {  # willingness to pay (GBP) per unit of effect, for the acceptability curves
    "sustained_job": [float(x) for x in range(0, 100_001, 2_500)],
    "vacancy_year": [float(x) for x in range(0, 200_001, 5_000)],
}

EFFECTS = {  # the two effects of DESIGN.md (ceac.csv's `effect`): the cost ratio whose effect each is
    "sustained_job": "cost_per_net_sustained_job",
    "vacancy_year": "cost_per_vacancy_year_avoided",
}


def effect_of(effect: str) -> tuple[str, float]:
    """An effect's KPI and the factor that makes its change a gain in its unit (a vacancy-year avoided: -1/365)."""
    ratio = KPI[EFFECTS[effect]]
    return ratio.effect, KPI[ratio.effect].sign / ratio.per


# ----------------------------------------------------------------------------- a study
@dataclass
class Study:
    """The options of one decision, their uncertain parameters, and the reference option."""

    options: list[Option]
    params: list[Parameter]
    reference: str
    posterior: Posterior | None = None  # the region's calibration the sets' calibrated parameters are drawn from

    @classmethod
    def build(cls, overrides: list[str], ranges: Ranges, config_dir: Path, choice: str | None = None) -> Study:
        """The options of a command line; `choice` (posterior|prior) overrides the reference's
        `experiment.parameters`."""
        options = compose_options(overrides, config_dir)
        params = parameters({o.name: (o.config, o.files) for o in options}, ranges)
        return cls.of(options, params, reference_of(options), choice)

    @classmethod
    def of(cls, options: list[Option], params: list[Parameter], reference: str, choice: str | None = None) -> Study:
        """A study with the posterior its reference's region and `experiment.parameters` (or `choice`) ask for."""
        ref = next(o for o in options if o.name == reference).config
        posterior = posterior_for(ref.region.name, choice or ref.experiment.parameters)
        if posterior is not None:  # before any run: a stale posterior in one line
            posterior.check([p.name for p in varied(params)])
            posterior.check_priors(params, base_values(ref, params))
        return cls(options, params, reference, posterior)

    def design(self, n: int, seed: int, method: str = "sobol") -> np.ndarray:
        """The unit-cube points of `n` parameter sets, one column per varied parameter: the prior design
        (`unit_design`), with the calibrated parameters' columns from the posterior draws when there is one
        (`Posterior.onto`). The one source of the sets' coordinates: the runs and the regressions (EVPPI) read it."""
        v = varied(self.params)
        u = unit_design(n, len(v), seed, method)
        return u if self.posterior is None else self.posterior.onto(u, [p.name for p in v], seed)

    @property
    def configs(self) -> dict:
        """The options' configs, the reference first (the runner calibrates BAU recruitment from it)."""
        ordered = sorted(self.options, key=lambda o: o.name != self.reference)
        return {o.name: o.config for o in ordered}

    def point(self, u: np.ndarray) -> dict[str, dict[str, float]]:
        """Every option's values at the unit-cube point `u` (the same quantiles for all: paired)."""
        return {name: values_at(self.params, u, base) for name, base in self._bases.items()}

    @functools.cached_property
    def _bases(self) -> dict[str, dict[str, float]]:
        """Each option's own values of the varied numbers (`base_values`), read once: every point starts there."""
        return {o.name: base_values(o.config, self.params) for o in self.options}


def reference_of(options: list[Option]) -> str:
    """The option named by `experiment.reference`, chosen as `pathways` chooses a sweep's (sim.analysis.compare):
    ComparisonError unless exactly one option matches, or when the options run on different regions."""
    from sim.analysis.compare import plan_jobs

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
    within = (float(psa_diffs.var(axis=1, ddof=1).mean()) if reps > 1 else
              float(np.var(sim_diffs, ddof=1)) if sim_diffs.size > 1 else math.nan)
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
    for effect in EFFECTS:
        kpi, sign = effect_of(effect)
        e = np.column_stack([sign * differences(records, ids, n, reference, kpi).mean(axis=1) for n in names])
        c = np.column_stack([differences(records, ids, n, reference, "programme_cost").mean(axis=1) for n in names])
        for wtp in WTP[effect]:
            nmb = net_benefit(e, c, wtp)
            p, evpi = acceptability(nmb)
            for j, n in enumerate(names):
                rows.append((effect, wtp, n, float(p[j]), float(nmb[:, j].mean()), evpi))
    return rows


@dataclass(frozen=True)
class Estimate:
    """A value of information and its standard error (bootstrap over the parameter sets)."""

    value: float
    se: float


BOOTSTRAP = 200  # resamples of the sets for a standard error
LAMBDAS = 10.0 ** np.arange(-6, 7)  # smoothing penalties tried (relative to the basis' scale), chosen by GCV


def _spline(x: np.ndarray, order: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A cubic B-spline basis at `x` (knots evenly spaced, about one per 8 sets over its range, 4 to 20, and three
    more beyond each end, as Eilers and Marx 1996 place them) and its penalty on the coefficients' differences of
    `order` (a P-spline). Evenly spaced knots make the heaviest penalty fit a polynomial of degree `order` - 1:
    with order 1 a constant, so a parameter with no effect, where GCV picks it, is worth nothing; with order 2 a
    straight line, so the fit is not pulled towards the mean at the ends of the range (knots piled up at the ends
    would penalise a straight line there)."""
    from scipy.interpolate import BSpline

    k = int(np.clip(len(x) // 8, 4, 20))
    lo, hi = float(x.min()), float(x.max())
    h = (hi - lo) / k
    t = lo + h * np.arange(-3, k + 4)
    basis = BSpline.design_matrix(np.clip(x, lo, hi), t, 3).toarray()
    d = np.diff(np.eye(basis.shape[1]), order, axis=0)
    return basis, d.T @ d


def _smoother(basis: np.ndarray, penalty: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's penalty by generalised cross-validation, and its fitted values (penalised least squares)."""
    n = len(y)
    btb, bty = basis.T @ basis, basis.T @ y
    scale = np.trace(btb) / max(np.trace(penalty), 1e-12)
    best = np.full(y.shape[1], np.inf)
    lam = np.zeros(y.shape[1])
    fit = np.zeros_like(y)
    for candidate in LAMBDAS * scale:
        a = btb + candidate * penalty + 1e-10 * scale * np.eye(len(btb))
        f = basis @ np.linalg.solve(a, bty)
        edf = float(np.trace(np.linalg.solve(a, btb)))
        gcv = n * ((y - f) ** 2).sum(axis=0) / max(n - edf, 1.0) ** 2
        better = gcv < best
        best, lam, fit[:, better] = np.where(better, gcv, best), np.where(better, candidate, lam), f[:, better]
    return lam, fit


def _refit(basis: np.ndarray, penalty: np.ndarray, y: np.ndarray, lam: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The fitted values (resamples x sets x columns) with each column's chosen penalty, the sets weighted by each
    row of `weights` (bootstrap resamples): the weighted cross-products of every resample as one matrix product,
    and every resample's and column's system solved in one stacked call."""
    n, k = basis.shape
    btb = (weights @ (basis[:, :, None] * basis[:, None, :]).reshape(n, k * k)).reshape(-1, k, k)
    bty = (weights @ (basis[:, :, None] * y[:, None, :]).reshape(n, -1)).reshape(-1, k, y.shape[1])
    ridge = 1e-10 * np.trace(btb, axis1=1, axis2=2)[:, None, None, None] * np.eye(k)
    a = btb[:, None] + lam[None, :, None, None] * penalty + ridge  # resamples x columns x basis x basis
    coef = np.linalg.solve(a, bty.transpose(0, 2, 1)[..., None])[..., 0]  # resamples x columns x basis
    return basis @ coef.transpose(0, 2, 1)


def _value(fitted: np.ndarray, w: np.ndarray) -> np.ndarray:
    """E[max over options of the expected net benefit given the parameter] - max of the expected net benefits,
    per row of `w` (sets weighted; `fitted`: rows x sets x options, or one sets x options for every row)."""
    w = w / w.sum(axis=-1, keepdims=True)
    inner = (w * fitted.max(axis=-1)).sum(axis=-1)
    outer = np.matmul(w[..., None, :], fitted)[..., 0, :].max(axis=-1)
    return np.maximum(0.0, inner - outer)


@functools.lru_cache(maxsize=8)
def _bootstrap_weights(n: int, seed: int) -> np.ndarray:
    """The resamples' weights of `n` sets (the same for every parameter of a table: drawn once), read-only."""
    w = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=BOOTSTRAP).astype(float)
    w.flags.writeable = False
    return w


def evppi_estimates(effect: np.ndarray, cost: np.ndarray, x: np.ndarray, wtps: Sequence[float],
                    seed: int = 0, se: bool = True) -> list[Estimate]:
    """EVPPI of one parameter at each willingness to pay, by non-parametric regression (Strong, Oakley and
    Brennan 2014): each option's effect and cost (sets x options, against the reference) regressed on the
    parameter's value in each set with a penalised spline, so that the net benefit expected given the
    parameter, wtp x effect - cost, carries no simulation noise (noise read as information is what made the
    binned estimate of every unrelated parameter the same). Standard errors by bootstrap over the sets (`se`
    False: none, NaN, for a quick ranking of many parameters)."""
    n = len(x)
    if n < 8 or np.ptp(x) == 0:
        return [Estimate(0.0, 0.0) for _ in wtps]
    basis, penalty = _spline(np.asarray(x, float))
    y = np.column_stack([effect, cost])
    lam, fit = _smoother(basis, penalty, y)
    d = effect.shape[1]
    weights = _bootstrap_weights(n, seed) if se else None
    boots = _refit(basis, penalty, y, lam, weights) if weights is not None else None
    out = []
    for wtp in wtps:
        value = float(_value(wtp * fit[:, :d] - fit[:, d:], np.ones(n)))
        spread = (float(np.std(_value(wtp * boots[..., :d] - boots[..., d:], weights), ddof=1))
                  if boots is not None and weights is not None else math.nan)
        out.append(Estimate(value, spread))
    return out


def fit_at_ends(y: np.ndarray, x: np.ndarray, seed: int = 0) -> list[tuple[Interval, Interval]] | None:
    """Each column of `y` (sets x outcomes) expected at the lowest and at the highest `x` of the sets, averaged
    over everything else that varies: the penalised-spline fit of the column on `x` that EVPPI uses, read at its
    ends, with a 95% interval from the same bootstrap over the sets. What the result would be at each end of one
    parameter's range, from the parameter sets alone (no runs at the ends). None with fewer than 8 sets or one
    value of `x`: nothing to fit."""
    n = len(x)
    if n < 8 or np.ptp(x) == 0:
        return None
    basis, penalty = _spline(np.asarray(x, float), 2)
    lam, fit = _smoother(basis, penalty, y)
    boots = _refit(basis, penalty, y, lam, _bootstrap_weights(n, seed))

    def at(i: int, j: int) -> Interval:
        low, high = np.percentile(boots[:, i, j], [2.5, 97.5])
        return Interval(float(fit[i, j]), float(low), float(high), n)

    lo, hi = int(np.argmin(x)), int(np.argmax(x))
    return [(at(lo, j), at(hi, j)) for j in range(y.shape[1])]


def evppi(nmb: np.ndarray, x: np.ndarray) -> float:
    """EVPPI of one parameter from net benefits (sets x options) and its value in each set (`evppi_estimates`)."""
    return evppi_estimates(nmb, np.zeros_like(nmb), x, [1.0])[0].value


def evpi_estimates(effect: np.ndarray, cost: np.ndarray, u: np.ndarray, wtps: Sequence[float],
                   seed: int = 0) -> list[Estimate]:
    """EVPI at each willingness to pay with the simulation noise taken out: each option's effect and cost
    regressed on every parameter at once (ridge regression on their normal scores, the penalty by GCV among
    those leaving half the sets' degrees of freedom, so that with more parameters than sets it cannot
    interpolate the noise), the
    fitted net benefits standing for each set's expected one. Linear in the parameters' scores: what it misses
    (interactions, curvature) lowers it, as noise would raise it. Standard errors by bootstrap over the sets."""
    from scipy.special import ndtri

    n = len(u)
    z = ndtri(np.clip(u, 1e-6, 1 - 1e-6))
    y = np.column_stack([effect, cost])
    d = effect.shape[1]

    def fit(w: np.ndarray, lam: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        ww = w / w.sum()
        zc, yc = z - ww @ z, y - ww @ y
        sw = np.sqrt(w)[:, None]
        uu, sv, vt = np.linalg.svd(zc * sw, full_matrices=False)
        proj = uu.T @ (yc * sw)
        grid = LAMBDAS * max(float(sv.max() ** 2), 1e-12) if lam is None else None
        chosen = np.zeros(y.shape[1]) if lam is None else lam
        if grid is not None:
            best = np.full(y.shape[1], np.inf)
            for candidate in grid:  # at most half the sets' degrees of freedom: never interpolate the noise
                shrink = sv ** 2 / (sv ** 2 + candidate)
                if shrink.sum() > n / 2:
                    continue
                rss = ((yc * sw) ** 2).sum(axis=0) - ((proj ** 2) * (1 - (1 - shrink) ** 2)[:, None]).sum(axis=0)
                gcv = n * rss / max(n - 1 - float(shrink.sum()), 1.0) ** 2
                better = gcv < best
                best, chosen = np.where(better, gcv, best), np.where(better, candidate, chosen)
        fitted = np.empty_like(y)
        for j, lj in enumerate(chosen):
            beta = vt.T @ (sv / (sv ** 2 + lj) * proj[:, j])
            fitted[:, j] = ww @ y[:, j] + zc @ beta
        return chosen, fitted

    ones = np.ones(n)
    lam, full = fit(ones, None)
    weights = _bootstrap_weights(n, seed)
    boots = np.stack([fit(w, lam)[1] for w in weights])
    return [Estimate(float(_value(wtp * full[:, :d] - full[:, d:], ones)),
                     float(np.std(_value(wtp * boots[..., :d] - boots[..., d:], weights), ddof=1)))
            for wtp in wtps]


EVPPI_WTP = (10_000.0, 25_000.0, 50_000.0)  # the willingness to pay the report speaks of

EVPPI_HEADER = ("effect", "wtp_gbp", "parameter", "evppi_gbp", "evppi_se_gbp", "evpi_gbp", "evpi_se_gbp")


def evppi_rows(records: dict[str, dict], ids: Sequence[str], names: list[str], reference: str,
               params: list[Parameter], u: np.ndarray, workers: int = 1) -> list[tuple]:
    """EVPPI of every varied parameter (its quantile in each set stands for its value: a regression on it is one
    on the value), and the EVPI with the noise taken out, each with its standard error; the parameters shared
    among `workers` processes (each regression is independent of the others)."""
    import signal

    from sim.experiment.parallel import process_pool

    problems = []
    for effect in EFFECTS:
        kpi, sign = effect_of(effect)
        e = np.column_stack([sign * differences(records, ids, n, reference, kpi).mean(axis=1) for n in names])
        c = np.column_stack([differences(records, ids, n, reference, "programme_cost").mean(axis=1) for n in names])
        problems.append((effect, e, c))
    share = max(1, min(workers, len(params)))  # every share-th parameter to each worker
    chunks = [(e, c, u[:, j::share]) for _, e, c in problems for j in range(share)]
    if share > 1:  # the workers leave Ctrl-C to this process, as the simulation's workers do
        with process_pool(share, signal.signal, (signal.SIGINT, signal.SIG_IGN)) as pool:
            parts = list(pool.map(_evppi_chunk, chunks))
    else:
        parts = [_evppi_chunk(chunk) for chunk in chunks]
    rows = []
    for i, (effect, e, c) in enumerate(problems):
        total = evpi_estimates(e, c, u, EVPPI_WTP)
        by_param: list[list[Estimate]] = [[] for _ in params]
        for j in range(share):
            by_param[j::share] = parts[i * share + j]
        for k, wtp in enumerate(EVPPI_WTP):
            for p, est in zip(params, by_param):
                rows.append((effect, wtp, p.name, est[k].value, est[k].se, total[k].value, total[k].se))
    return rows


def _evppi_chunk(chunk: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[list[Estimate]]:
    """`evppi_estimates` of each column of a chunk's parameter quantiles (one worker's share of `evppi_rows`)."""
    e, c, xs = chunk
    return [evppi_estimates(e, c, xs[:, j], EVPPI_WTP) for j in range(xs.shape[1])]


OUTPUTS = (*(k.name for k in group("objective")), "programme_cost")  # the effects a decision weighs, and the cost

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
            u = uncertainty(_base(records, n, reference, kpi), differences(records, ids, n, reference, kpi))
            rows.append((n, reference, kpi, u.sim.mean, u.sim.low, u.sim.high, u.sim.n,
                         u.mean, u.low, u.high, u.sets, u.parameter_share))
    return rows


def _base(records: dict[str, dict], option: str, reference: str, kpi: str) -> np.ndarray:
    """The paired differences at the files' values (none when the PSA ran no base replications)."""
    return differences(records, ["base"], option, reference, kpi) if "base" in records else np.empty((0, 0))


def stability_rows(records: dict[str, dict], ids: Sequence[str], names: list[str], reference: str) -> list[tuple]:
    """The headline figures from the first half of the sets against all of them."""
    half = list(ids[: max(1, len(ids) // 2)])
    rows = []
    for n in names:
        if n == reference:
            continue
        for kpi in OUTPUTS:
            a, b = (uncertainty(_base(records, n, reference, kpi), differences(records, s, n, reference, kpi))
                    for s in (half, ids))
            for measure, x, y in (("mean", a.mean, b.mean), ("low", a.low, b.low), ("high", a.high, b.high)):
                rows.append((measure, n, kpi, x, y, y - x))
    ceac = {ids_: {(r[0], r[1], r[2]): r[3] for r in ceac_rows(records, ids_, names, reference)}
            for ids_ in (tuple(half), tuple(ids))}
    for wtp in (10_000.0, 25_000.0, 50_000.0):
        for n in names:
            x, y = (ceac[k][("sustained_job", wtp, n)] for k in (tuple(half), tuple(ids)))
            rows.append((f"p_best_at_{int(wtp)}_per_sustained_job", n, effect_of("sustained_job")[0], x, y, y - x))
    return rows


# ----------------------------------------------------------------------------- the psa command
def psa(study: Study, out: Path, samples: int, replications: int, base_replications: int, seed: int,
        method: str, workers: int, ray_address: str | None,
        progress: Callable[[int, int], None] | None = None, labels: dict[str, str] | None = None,
        tables: bool = True) -> dict[str, Any]:
    """Run (or resume) a PSA in `out` and write its tables; returns a summary for the console. `labels`: the
    parameters in words for parameters.csv (`probabilistic.parameter_labels`; the name where missing). `tables`
    False: the runs only (a caller that may ask for more sets writes the tables once, for the sets it keeps).

    `base_replications` 0: no run at the files' values (a sweep's jobs have them: the simulation-only columns
    of uncertainty.csv are then empty)."""
    v = varied(study.params)
    u = study.design(samples, seed, method)
    base = Task("base", {}, tuple(range(base_replications)))
    out.mkdir(parents=True, exist_ok=True)
    kept = Records(out / "records.jsonl")
    recorded = set() if tables else set(kept.read())  # the tables read every set's values; a run, the new ones'
    tasks = [base] + [Task(f"set{i}", {} if f"set{i}" in recorded else study.point(u[i]),
                           tuple(PSA_STREAMS + i * replications + r for r in range(replications)))
                      for i in range(samples)]
    started = time.perf_counter()
    records = run(tasks if base_replications else tasks[1:], study.configs, kept, workers, ray_address,
                  progress or _progress)
    wall = time.perf_counter() - started
    if not tables:
        return {"wall_s": wall, "tasks": len(tasks)}
    ids = [t.id for t in tasks[1:]]
    names = [o.name for o in study.options]
    write_parameters(out / "parameters.csv", study.params, labels or {})
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
    write_csv(out / "evppi.csv", EVPPI_HEADER, evppi_rows(records, ids, names, study.reference, v, u,
                                                      1 if ray_address else workers))
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


def write_parameters(path: Path, params: list[Parameter], labels: dict[str, str]) -> None:
    """parameters.csv: every number of the options, in words (`labels`, from `probabilistic.parameter_labels`), its
    range and where the range comes from."""
    write_csv(path, ("parameter", "keys", "n_numbers", "kind", "arguments", "shared", "range_from", "range_file",
                     "reason", "is_assumption", "label"),
              [(p.name, " ".join(p.keys), len(p.keys), p.spec.kind, json.dumps(p.spec.args), p.spec.shared,
                p.source, p.spec.file if p.source == "explicit" else f"rule ({p.spec.key})", p.spec.reason,
                p.is_assumption, labels.get(p.name, p.name)) for p in params])


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

# `estimated` 0: the index is not estimated with this many samples (`estimated`); `label`: the parameter in words
SENSITIVITY_HEADER = ("parameter", "kpi", "method", "index", "value", "ci_low", "ci_high", "estimated", "label")

TORNADO_HEADER = ("parameter", "kpi", "at_low", "at_base", "at_high", "swing", "label")

# Fewest Morris trajectories for a ranking: the Morris literature uses 4 to 10 (Saltelli et al., Global Sensitivity
# Analysis: The Primer, 2008); below the upper end, a parameter's mean effect rests on too few steps to rank it.
MORRIS_MIN_TRAJECTORIES = 10


# The screenings of every parameter (`--screen`): RBD-FAST's first-order index from a space-filling design, or Morris
SCREENS = ("rbd-fast", "morris")
SHARES = ("sobol", "rbd-fast")  # methods whose indices are shares of the output's variance, within [0, 1]

# Harmonics of the RBD-FAST screen (SALib's M): a smooth (e.g. monotone) effect has nearly all its variance in the first
# few; each harmonic more adds about 2/N of noise to every index (the bias SALib takes off, Tissot and Prieur 2012).
# assumption: 4, not SALib's 10: on 256 points of a toy with 122 parameters (tests/test_decide.py) it ranked the four
# that matter first more often, with a lower noise floor, than 6 or 10 (and than a penalised-spline R^2).
SCREEN_HARMONICS = 4
# Fewest screen points: SALib's bootstrap estimates each index on half of them, and its bias correction divides by
# 1 - 2M/n; at 64 points the half-samples' correction (2M/n = 0.25) is still far from its pole.
SCREEN_MIN_POINTS = 64


def estimated(method: str, value: float, low: float, high: float) -> bool:
    """Whether an index is estimated with the samples it had: finite, its 95% interval no wider than the index
    itself (an exact zero with no spread is estimated: the parameter changed nothing), and, a Sobol or RBD-FAST index,
    a share of the variance within [0, 1] (outside it the estimator's noise is larger than the index)."""
    if not all(math.isfinite(x) for x in (value, low, high)):
        return False
    if method in SHARES and not 0.0 <= value <= 1.0:
        return False
    return high - low <= abs(value)


def no_effect(values: Sequence[float]) -> bool:
    """Whether a parameter changed nothing (with common random numbers a parameter the output does not depend on
    moves it by exactly zero; rounding aside)."""
    return all(abs(v) <= 1e-9 for v in values)


def outputs(study: Study, records: dict[str, dict], ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The quantities sensitivity explains, one value per point: each option's paired effect against
    the reference on the two effects and the cost (or the KPI itself when there is only one option)."""
    names = [o.name for o in study.options]
    out = {}
    for n in names:
        if n == study.reference and len(names) > 1:
            continue
        for kpi in OUTPUTS:
            if len(names) > 1:
                y = differences(records, ids, n, study.reference, kpi).mean(axis=1)
            else:
                y = np.asarray([np.mean([v[kpi] for v in records[t]["kpis"][n].values()]) for t in ids])
            out[f"{kpi}:{n}"] = y
    return out


def _problem(params: list[Parameter]) -> dict:
    return {"num_vars": len(params), "names": [p.name for p in params], "bounds": [[0.0, 1.0]] * len(params)}


def _problem_of(d: int) -> dict:
    return {"num_vars": d, "names": [f"x{j}" for j in range(d)], "bounds": [[0.0, 1.0]] * d}


def _point(study: Study, params: list[Parameter], u: np.ndarray) -> dict[str, dict[str, float]]:
    """Every option's values with `params` at the quantiles `u` and every other number at its file value."""
    return {o.name: values_at(params, u, base_values(o.config, params)) for o in study.options}


def morris(study: Study, out: Path, trajectories: int, replications: int, seed: int, workers: int,
           ray_address: str | None) -> tuple[list[tuple], dict[str, np.ndarray]]:
    """Morris screening of every varied parameter (SALib): mu* with its CI, and sigma, per output, each flagged
    not estimated (0) with fewer than MORRIS_MIN_TRAJECTORIES trajectories or, mu*, a CI wider than itself."""
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
            s = float(res["sigma"][j])
            exact = no_effect([m, c, s])  # changed nothing at any step: known exactly, however few the steps
            enough = trajectories >= MORRIS_MIN_TRAJECTORIES or exact
            rows.append((p.name, kpi, "morris", "mu_star", m, max(0.0, m - c), m + c,
                         int(enough and estimated("morris", m, max(0.0, m - c), m + c))))
            rows.append((p.name, kpi, "morris", "sigma", s, math.nan, math.nan, int(enough)))
    return rows, mu


def decorrelated_lhs(n: int, d: int, seed: int) -> np.ndarray:
    """`n` points of a Latin hypercube in `d` dimensions whose columns' rank correlations are pulled towards 0 (Iman
    and Conover, A distribution-free approach to inducing rank correlation among input variables, Communications in
    Statistics 1982: each column reordered to the ranks of its normal scores decorrelated by the inverse of their
    Cholesky factor; three passes, `n` > `d`). A given-data index reads each column alone, so a column correlated
    with a parameter that matters would borrow its effect: in 122 dimensions a random 256-point hypercube has
    column pairs correlated up to about 0.25, and the first 256 points of a scrambled Sobol' sequence up to 0.8; this
    design about 0.07. Every column keeps its one point per 1/n stratum."""
    from scipy.special import ndtri

    u = qmc.LatinHypercube(d=d, seed=seed).random(n)
    if d < 2 or n <= d:
        return u
    ordered = np.sort(u, axis=0)
    for _ in range(3):
        scores = ndtri((np.argsort(np.argsort(u, axis=0), axis=0) + 0.5) / n)
        target = scores @ np.linalg.inv(np.linalg.cholesky(np.corrcoef(scores.T))).T
        u = np.take_along_axis(ordered, np.argsort(np.argsort(target, axis=0), axis=0), axis=0)
    return u


def rbd_fast_indices(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order indices of every column of `x` on the output `y` from the given points, and the half-width of
    each one's 95% interval. The index is SALib's RBD-FAST (Tarantola, Gatelli and Mara 2006; Plischke 2010): the
    output ordered by the parameter, the share of its periodogram in the first M = `SCREEN_HARMONICS` harmonics, less
    the share 2M/N that the rest of the variance puts there on N points (Tissot and Prieur 2012's correction,
    (S - 2M/N) / (1 - 2M/N)). The interval is the periodogram's own (SALib's bootstrap, on half the points drawn with
    replacement, gave intervals twice the estimator's spread): ordered by one parameter, the rest of the output is
    noise whose ordinates are independent with the mean power s2 of the harmonics above M, so the first M hold
    var = M s2^2 + 2 s2 (their signal); with the rest's M' ordinates (var M' s2^2), the delta method gives the index's
    standard error. On a toy with 40 parameters (tests/test_decide.py; 200 seeds, 128 to 512 points) its 95%
    intervals covered the analytic index 94.5 to 100% of the time, 97.5% on average. An output that did not vary:
    every index exactly 0."""
    from SALib.analyze.rbd_fast import compute_first_order, permute_outputs, unskew_S1
    from scipy.signal import periodogram

    n, d = x.shape
    if np.ptp(y) == 0:
        return np.zeros(d), np.zeros(d)
    m, share = SCREEN_HARMONICS, 2 * SCREEN_HARMONICS / n
    s1, half = np.empty(d), np.empty(d)
    for j in range(d):
        ordered = permute_outputs(x[:, j], y)
        s1[j] = unskew_S1(compute_first_order(ordered, m), m, n)
        power = periodogram(ordered)[1][1:]
        total, first = float(power.sum()), float(power[:m].sum())
        s2 = float(power[m:].mean())
        var_first = m * s2 ** 2 + 2 * s2 * max(first - m * s2, 0.0)
        var_rest = (len(power) - m) * s2 ** 2
        se = math.sqrt((total - first) ** 2 * var_first + first ** 2 * var_rest) / total ** 2 / (1 - share)
        half[j] = Z95 * se
    return s1, half


def rbd_fast(study: Study, out: Path, points: int, replications: int, seed: int, workers: int,
             ray_address: str | None) -> tuple[list[tuple], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Screening of every varied parameter from `points` points of a space-filling design over all of them (a
    decorrelated Latin hypercube, each parameter over its central 95% as in Morris, common random numbers across
    points): per output, each parameter's first-order index S1 from the given data (`rbd_fast_indices`) with its 95%
    interval, flagged not estimated (0) when the interval is wider than the index or it falls outside [0, 1]. Returns
    sensitivity.csv's rows and, per output, the indices that rank the parameters (`leading_parameters`): an output
    none of whose indices is estimated (noise) ranks nothing; and every output's indices, which break ties."""
    v = varied(study.params)
    x = EDGE + (1 - 2 * EDGE) * decorrelated_lhs(points, len(v), seed)
    reps = tuple(range(replications))  # common random numbers across points: effects are the parameters' own
    tasks = [Task(f"screen{i}", _point(study, v, row), reps) for i, row in enumerate(x)]
    records = run(tasks, study.configs, Records(out / "records.jsonl"), workers, ray_address, _progress)
    rows, score, raw = [], {}, {}
    for kpi, y in outputs(study, records, [t.id for t in tasks]).items():
        s1, half = rbd_fast_indices(x, y)
        ok = np.array([estimated("rbd-fast", s, s - c, s + c) for s, c in zip(s1, half)])
        score[kpi], raw[kpi] = (s1 if ok.any() else np.zeros(len(v))), s1
        for j, p in enumerate(v):
            rows.append((p.name, kpi, "rbd-fast", "S1", float(s1[j]), float(s1[j] - half[j]),
                         float(s1[j] + half[j]), int(ok[j])))
    return rows, score, raw


def sobol(study: Study, out: Path, leading: list[Parameter], samples: int, replications: int, seed: int,
          workers: int, ray_address: str | None) -> list[tuple]:
    """First- and total-order Sobol indices (Saltelli design, SALib) of the leading parameters, with CIs, each
    flagged not estimated (0) outside [0, 1] or with a CI wider than itself (`estimated`)."""
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
                rows.append((p.name, kpi, "sobol", index, val, val - c, val + c,
                             int(estimated("sobol", val, val - c, val + c))))
    return rows


# Training runs of the Sobol emulator per leading parameter: about ten runs a dimension is enough for a Gaussian
# process to predict a computer model's output (Loeppky, Sacks and Welch, Technometrics 2009)
EMULATOR_RUNS_PER_PARAMETER = 10


@dataclass(frozen=True)
class Emulated:
    """Sobol indices from the emulator (sensitivity.csv's rows), and each output's out-of-sample R^2 (NaN: the
    output did not vary with the leading parameters, every index exactly 0)."""

    rows: list[tuple]
    r2: dict[str, float]
    runs: int


def sobol_emulated(study: Study, out: Path, leading: list[Parameter], runs: int, replications: int, seed: int,
                   workers: int, ray_address: str | None,
                   unmoved: frozenset[tuple[str, str]] = frozenset()) -> Emulated:
    """First- and total-order Sobol indices of the leading parameters from a Gaussian-process emulator
    (`sim.analysis.emulator`) fitted on `runs` points of a space-filling design (a Latin hypercube spread by its
    centred discrepancy) over their unit cube, every other number at its file value as in `sobol`. A parameter that
    changed nothing on an output in a Morris screening (`unmoved`: parameter and output; with common random
    numbers it is never read) gets indices of exactly 0 there and is left out of that output's emulator. An output
    whose emulator predicts held-out runs with R^2 below `emulator.R2_MIN` gets rows flagged not estimated (NaN)."""
    from sim.analysis.emulator import EmulatorError, sobol_indices

    x = qmc.LatinHypercube(d=len(leading), seed=seed, optimization="random-cd").random(runs)
    x = np.clip(x, 1e-6, 1 - 1e-6)
    reps = tuple(range(replications))
    tasks = [Task(f"emulator{i}", _point(study, leading, row), reps) for i, row in enumerate(x)]
    records = run(tasks, study.configs, Records(out / "records.jsonl"), workers, ray_address, _progress)
    rows, r2 = [], {}
    for kpi, y in outputs(study, records, [t.id for t in tasks]).items():
        moved = [j for j, p in enumerate(leading) if (p.name, kpi) not in unmoved]
        d = len(leading)
        res = {k: np.zeros(d) for k in ("S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high")}
        ok = True
        r2[kpi] = math.nan
        if moved and np.ptp(y) > 0:
            try:
                got = sobol_indices(x[:, moved], y, seed)
                r2[kpi] = got.r2
                for k, v in zip(res, (got.s1, got.s1_low, got.s1_high, got.st, got.st_low, got.st_high)):
                    res[k][moved] = v
            except EmulatorError as e:
                r2[kpi], ok = e.r2, False
        for j, p in enumerate(leading):
            for index in ("S1", "ST"):
                val, lo, hi = (float(res[f"{index}{s}"][j]) if ok else math.nan for s in ("", "_low", "_high"))
                rows.append((p.name, kpi, "sobol", index, val, lo, hi, int(ok and estimated("sobol", val, lo, hi))))
    return Emulated(rows, r2, runs)


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


def unmoved_by(rows: Sequence[tuple]) -> frozenset[tuple[str, str]]:
    """(parameter, output) pairs where the parameter changed nothing, exactly, at every Morris step (sensitivity.csv's
    mu* rows; with common random numbers it changed no one's outcome anywhere the steps went): the Sobol emulator
    leaves them out with indices of 0. A given-data index such as RBD-FAST's is never exactly 0, and the tornado's
    ends move one parameter with the others at their file values, which cannot rule out an effect through the
    others (a course's places matter only once referrals fill it): after RBD-FAST every leading parameter goes in."""
    return frozenset((r[0], r[1]) for r in rows if r[3] == "mu_star" and no_effect([r[4]]))


def leading_parameters(study: Study, index: dict[str, np.ndarray], top: int,
                       tiebreak: dict[str, np.ndarray] | None = None) -> list[Parameter]:
    """The `top` parameters with the largest screening index (Morris mu*, or RBD-FAST's S1) on any output, each output
    scaled by its largest index; parameters tied there (e.g. every index of theirs flagged, counted 0) by `tiebreak`,
    scaled the same way."""
    v = varied(study.params)

    def scaled(by: dict[str, np.ndarray]) -> np.ndarray:
        score = np.zeros(len(v))
        for m in by.values():
            if m.max() > 0:
                score = np.maximum(score, m / m.max())
        return score

    second = scaled(tiebreak) if tiebreak else np.zeros(len(v))
    order = np.lexsort((np.arange(len(v)), -second, -scaled(index)))
    return [v[i] for i in order[:top]]
