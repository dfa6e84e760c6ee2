"""Calibration by history matching with Gaussian-process emulators, then an ABC-weighted final wave.

The uncertain parameters live in the unit cube of `sim.params.ranges.values_at` (each coordinate the quantile of
one parameter's prior range), so the prior is uniform there and a posterior point applies to any option that has
the parameter. The fit (Vernon, Goldstein and Bower 2010, "Galaxy formation: a Bayesian uncertainty analysis";
Andrianakis et al. 2015, "Bayesian history matching of complex infectious disease models using emulation"):

1. Screening wave: points over the whole prior (every varied parameter); each calibration target regressed on
   every parameter's quantile (ordinary least squares). A parameter is *informed*, and calibrated, when some
   target moves by at least SCREEN_EFFECT of its tolerance across the parameter's prior (the slope) with
   |t| >= SCREEN_T; at most MAX_CALIBRATED, the largest effects first. The others keep their prior: every wave
   draws them from it, so their effect is part of the emulators' noise.
2. Refocusing waves: one scikit-learn GaussianProcessRegressor per calibration target on the calibrated
   coordinates (ARD squared-exponential kernel plus white noise), fitted to the runs still non-implausible.
   A point is implausible when, for some target, |E[f(x)] - z| / sqrt(V_obs + V_emulator(x) + V_noise) > CUTOFF,
   with the observation's standard deviation the target's tolerance: the tolerance is the band that counts as
   a fit, set from the figure's own uncertainty widened by how its population and definition differ from the
   model's (configs/targets.yaml), so it stands for the observation error and the model discrepancy together
   (Vernon et al.'s V_obs + V_md). The next wave's points are drawn uniformly from what every wave's emulators
   keep.
3. Final wave, in generations: each generation a fresh pool of points drawn uniformly from the non-implausible
   space (the prior there), the points simulated drawn from it by importance sampling (`proposal`: the last
   emulators' likelihood, tempered, in a defensive mixture with the uniform), each weighted ABC-style by a
   Gaussian kernel of the observation's standard deviation on every calibration target times its importance ratio
   (prior over proposal). The generations are independent importance samples of the same posterior, of the same
   size, so their points pool into one weighted sample; systematic resampling of the pool gives the equally
   weighted posterior draws.
4. Settled: generations are added until the pooled posterior has settled (`settling`): its effective sample size
   is at least SETTLED_ESS and adding the last generation moved no calibrated parameter's 2.5/50/97.5% points by
   more than SETTLED_CHANGE on the prior's quantile scale; or until the design's most generations, and then the
   fit says it has not settled, and why.

Why between generations, not between waves: each refocusing wave's ABC-weighted estimate of the posterior rests
on an effective sample size of about ten (its points are spread uniformly over the non-implausible space, which is
much wider than the posterior), so its quantiles carry a Monte Carlo error of about sqrt(p(1 - p) / 10), 0.16 at
the median of a posterior about as wide as the prior (on the prior's quantile scale): the change from such an
estimate to the final wave's measured that error, not whether the posterior had settled, and could not fall below
it however settled the fit. The change from adding one generation to the pooled final wave is of the size of the
pooled estimate's own Monte Carlo error (with two generations of equal size, half the difference of two
independent estimates), which falls as the generations add up. Whether the history matching itself had converged
shows in the share of the space each wave's emulators keep (diagnostics: non_implausible_share), which stops
falling when the waves stop refocusing.

Every wave is a list of tasks run through `sim.experiment.runner` with the same replication streams at every
point (common random numbers), so a kill loses no finished simulation and a rerun resumes. Only calibration
targets are shown to the fit; the validation targets are measured on the same runs, for the predictive checks.
The fit itself takes a `Simulate` callable, so a toy function runs through the same code (tests/test_calibrate.py).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis.targets import MEASURES, from_outputs
from sim.experiment.runner import Task, task_configs
from sim.model import simulate
from sim.params.config import params_of
from sim.params.schema import Config

CUTOFF = 3.0  # implausibility cut-off: Pukelsheim's three-sigma rule, as Vernon et al. (2010) use it
SCREEN_T = 3.0  # a screening slope must stand this many standard errors from zero
SCREEN_EFFECT = 0.25  # ... and move its target by this share of the target's tolerance across the prior
MAX_CALIBRATED = 12  # most parameters an emulator takes (the largest effects first): ARD GPs need points per input
POOL = 8  # the final wave's points come from a pool of this many times as many non-implausible candidates
DEFENSIVE = 0.2  # share of the final proposal that is uniform over the pool: importance ratios at most 5
TEMPER = 0.5  # power of the emulated likelihood in the final proposal (flatter than the posterior it aims at)
MAX_TRAINING = 600  # most runs an emulator is fitted to (the latest): a GP costs n^3
QUANTILES = (2.5, 50.0, 97.5)
# assumption: settled when the pooled final wave's effective sample size is at least 100: the Monte Carlo standard
# error of a quantile on the posterior's own probability scale is then at most sqrt(0.25 / 100) = 0.05 (the binomial
# error of an empirical CDF), and 100 is the least per chain Vehtari et al. (2021, "Rank-normalization, folding, and
# localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis) ask of a sample to be used
SETTLED_ESS = 100.0
# assumption: ... and when adding the last generation moved no calibrated parameter's 2.5/50/97.5% points by more than
# 0.1 on the prior's quantile scale, about a tenth of the prior's central 95% interval (0.95 wide there): beside the
# posteriors' widths (0.55 to 1.2 of the prior's on the default region) a shift that small leaves the decision's
# parameter sets, drawn from the posterior, about the same; at an ESS of 100 the Monte Carlo error of a median is
# about 0.05 there, so the bound asks the last generation to move the estimate by no more than about twice its error
SETTLED_CHANGE = 0.1

# (wave name, points n x D in the unit cube) -> (each target's value at each point, n x T, the mean over the
# replications; and the variance of that mean from the simulation noise, n x T, NaN with one replication)
Simulate = Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]]


class CalibrationError(RuntimeError):
    """The fit cannot go on: one line saying why."""


@dataclass(frozen=True)
class Design:
    """The sizes of a calibration (defaults: configs/calibration.yaml, with their provenance)."""

    screening: int  # points of the first wave, over every parameter's prior
    wave: int  # points of each refocusing wave
    waves: int  # refocusing waves between the screening and the final wave
    final: int  # points of each generation of the final wave, weighted ABC-style
    generations: int  # most generations of the final wave (fewer when the posterior settles before: `settling`)
    draws: int  # equally weighted posterior draws (resampled)
    replications: int  # per point: the same streams at every point
    candidates: int  # points emulated per batch to find the non-implausible space
    seed: int


@dataclass(frozen=True)
class Observed:
    """The calibration targets as the fit sees them: their columns among the simulated targets, figures and
    tolerances."""

    columns: tuple[int, ...]
    figure: np.ndarray
    tolerance: np.ndarray

    @property
    def sd(self) -> np.ndarray:
        """The observation's standard deviation (with the model's discrepancy): the tolerance (module docstring)."""
        return self.tolerance


@dataclass
class Wave:
    """One wave's points and what they gave."""

    name: str
    kind: str  # screening | refocus | final
    u: np.ndarray  # n x D points of the unit cube
    y: np.ndarray  # n x T target values (means over the replications)
    noise: np.ndarray  # n x T variance of those means from the simulation noise
    candidates: int = 0  # points emulated to find this wave's points (0: none, the screening wave)
    kept: float = 1.0  # share of them that the emulators so far kept (non-implausible)
    ratio: np.ndarray | None = None  # importance ratio of each point (the final wave's; None: drawn uniformly)


@dataclass
class Screen:
    """The screening regression: slope (effect across the prior) and t of each target on each parameter."""

    effect: np.ndarray  # T_cal x D
    t: np.ndarray  # T_cal x D
    informed: np.ndarray  # D booleans
    calibrated: list[int]  # the informed parameters fitted, largest effect first (at most MAX_CALIBRATED)


@dataclass
class Fit:
    """A finished history match."""

    waves: list[Wave]
    screen: Screen | None
    calibrated: list[int]
    emulators: list[Any] = field(default_factory=list)  # per wave: a list of fitted GPs (one per target)
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))  # final wave's normalised ABC weights
    draws: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # the final wave's rows drawn

    @property
    def generations(self) -> list[Wave]:
        """The final wave's generations, in the order they ran."""
        return [w for w in self.waves if w.kind == "final"]

    @property
    def final(self) -> Wave:
        """The final wave: its generations pooled (independent importance samples of one posterior, of one size)."""
        return pooled(self.generations)

    @property
    def posterior(self) -> np.ndarray:
        """The equally weighted posterior draws: calibrated coordinates, draws x calibrated."""
        return self.final.u[self.draws][:, self.calibrated]

    @property
    def ess(self) -> float:
        return effective_sample_size(self.weights)


def pooled(waves: Sequence[Wave]) -> Wave:
    """Generations of the final wave as one weighted sample (their points, values and importance ratios in order)."""
    ratios = [np.ones(len(w.u)) if w.ratio is None else w.ratio for w in waves]
    tried = sum(w.candidates for w in waves)
    kept = sum(w.kept * w.candidates for w in waves) / tried if tried else 1.0
    return Wave("final", "final", np.concatenate([w.u for w in waves]), np.concatenate([w.y for w in waves]),
                np.concatenate([w.noise for w in waves]), tried, kept, np.concatenate(ratios))


@dataclass(frozen=True)
class Settling:
    """Whether the pooled final wave has settled (module docstring, step 4)."""

    generations: int
    ess: float  # of the pooled weights
    changes: np.ndarray  # each calibrated parameter's largest quantile change from the last generation (NaN: one)
    settled: bool
    verdict: str  # "settled", or "not settled: " and why


SETTLED_RULE = (f"settled when the final wave's pooled weights have an effective sample size of at least "
                f"{SETTLED_ESS:g} and adding its last generation moved no calibrated parameter's 2.5%, 50% or 97.5% "
                f"point by more than {SETTLED_CHANGE:g} on the prior's quantile scale")


# ----------------------------------------------------------------------------- statistics
def screen(u: np.ndarray, y: np.ndarray, tolerance: np.ndarray) -> Screen:
    """Each target (column of `y`) regressed on every coordinate of `u` by least squares; which coordinates
    inform some target (module docstring, step 1)."""
    d = u.shape[1]
    effect = np.zeros((y.shape[1], d))
    t = np.zeros((y.shape[1], d))
    for k in range(y.shape[1]):
        ok = np.isfinite(y[:, k])
        x = np.column_stack([np.ones(ok.sum()), u[ok]])
        if ok.sum() <= d + 2:
            raise CalibrationError(f"screening: {ok.sum()} runs with a value of target {k + 1} for {d} parameters; "
                                   f"allowed: more screening points than parameters + 2")
        beta, *_ = np.linalg.lstsq(x, y[ok, k], rcond=None)
        resid = y[ok, k] - x @ beta
        s2 = float(resid @ resid) / (ok.sum() - d - 1)
        se = np.sqrt(np.clip(np.diag(np.linalg.pinv(x.T @ x)) * s2, 1e-300, None))
        effect[k], t[k] = beta[1:], beta[1:] / se[1:]
    strong = (np.abs(t) >= SCREEN_T) & (np.abs(effect) >= SCREEN_EFFECT * tolerance[:, None])
    informed = np.asarray(strong.any(axis=0), bool)
    score = np.where(strong, np.abs(effect) / tolerance[:, None], 0.0).max(axis=0)
    order = [int(j) for j in np.argsort(-score, kind="stable") if informed[j]]
    return Screen(effect, t, informed, order[:MAX_CALIBRATED])


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size of weights."""
    s = float(w.sum())
    return s * s / float((w * w).sum()) if s > 0 else 0.0


def abc_weights(y: np.ndarray, observed: Observed) -> np.ndarray:
    """Normalised Gaussian-kernel weights of simulated points on the calibration targets (a point with a
    target it could not measure weighs nothing)."""
    z = (y[:, list(observed.columns)] - observed.figure) / observed.sd
    logw = -0.5 * np.where(np.isfinite(z), z * z, np.inf).sum(axis=1)
    if not np.isfinite(logw).any():
        return np.zeros(len(y))
    w = np.exp(logw - logw[np.isfinite(logw)].max())
    return w / w.sum()


def wave_weights(wave: Wave, observed: Observed) -> np.ndarray:
    """A wave's normalised ABC weights, times its points' importance ratios where they were not drawn uniformly."""
    w = abc_weights(wave.y, observed)
    if wave.ratio is not None:
        w = w * wave.ratio
    return w / w.sum() if w.sum() > 0 else w


def systematic_resample(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` indices drawn with probabilities `w` by systematic resampling (lowest variance of the counts)."""
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), positions), len(w) - 1)


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: Sequence[float] = QUANTILES) -> np.ndarray:
    """Quantiles (in percent) of `x` under weights `w` (the inverse of the weighted empirical CDF)."""
    order = np.argsort(x, kind="stable")
    cdf = np.cumsum(w[order]) / w.sum()
    return np.asarray([x[order][min(int(np.searchsorted(cdf, q / 100.0)), len(x) - 1)] for q in qs])


def acceptance(wave: Wave, observed: Observed) -> float:
    """Share of a wave's points whose simulated values are within the cut-off of every calibration target
    (the observation's and the simulation's variance)."""
    cols = list(observed.columns)
    noise = np.nan_to_num(wave.noise[:, cols], nan=0.0)
    z = np.abs(wave.y[:, cols] - observed.figure) / np.sqrt(observed.sd ** 2 + noise)
    return float(np.mean(np.all(np.nan_to_num(z, nan=np.inf) <= CUTOFF, axis=1))) if len(z) else math.nan


# ----------------------------------------------------------------------------- emulators
def fit_emulators(x: np.ndarray, y: np.ndarray, seed: int) -> list[Any]:
    """One Gaussian process per column of `y` on the inputs `x` (the calibrated coordinates): a constant times
    an ARD squared-exponential kernel plus white noise (the simulation's noise and the parameters held at their
    prior), hyperparameters by maximum likelihood with one restart, the output normalised."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    d = x.shape[1]
    gps = []
    for k in range(y.shape[1]):
        ok = np.isfinite(y[:, k])
        kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(d, 0.5), (1e-2, 1e2))
                  + WhiteKernel(0.1, (1e-6, 1e1)))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=1, random_state=seed + k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(x[ok][-MAX_TRAINING:], y[ok, k][-MAX_TRAINING:])
        gps.append(gp)
    return gps


def implausibility(gps: list[Any], x: np.ndarray, observed: Observed) -> np.ndarray:
    """Each point's largest implausibility over the calibration targets under one wave's emulators: the
    distance of the emulator's mean from the figure over the sd of observation, emulator and noise together
    (scikit-learn's predictive sd includes the white-noise term)."""
    worst = np.zeros(len(x))
    for gp, z, sd in zip(gps, observed.figure, observed.sd):
        m, s = gp.predict(x, return_std=True)
        worst = np.maximum(worst, np.abs(m - z) / np.sqrt(sd * sd + s * s))
    return worst


def non_implausible(emulators: list[list[Any]], x: np.ndarray, observed: Observed) -> np.ndarray:
    """Which points every wave's emulators keep (implausibility <= CUTOFF)."""
    keep = np.ones(len(x), bool)
    for gps in emulators:
        idx = np.flatnonzero(keep)
        if len(idx):
            keep[idx] = implausibility(gps, x[idx], observed) <= CUTOFF
    return keep


def _draw_kept(emulators: list[list[Any]], n: int, dims: int, observed: Observed, design: Design,
               stream: tuple[int, ...]) -> tuple[np.ndarray, float, int]:
    """`n` points of the calibrated coordinates drawn uniformly from the space every wave's emulators keep, the
    share of candidates kept, and how many were emulated (batches of `design.candidates`, at most 50)."""
    rng = np.random.default_rng([design.seed, *stream])
    found: list[np.ndarray] = []
    tried = 0
    for _ in range(50):
        cand = np.clip(rng.random((design.candidates, dims)), 1e-9, 1 - 1e-9)
        tried += len(cand)
        found.append(cand[non_implausible(emulators, cand, observed)])
        if sum(len(f) for f in found) >= n:
            break
    kept = np.concatenate(found)
    if not len(kept):
        raise CalibrationError(f"no parameter set of {tried:,} tried is consistent with the calibration targets "
                               f"(implausibility above {CUTOFF:g} everywhere): the model cannot reach some target "
                               "within its ranges; widen that target's tolerance or the ranges")
    return kept[:n], len(kept) / tried, tried


def _points(cal: np.ndarray, calibrated: list[int], d: int, design: Design, stream: tuple[int, ...]) -> np.ndarray:
    """Full points of the cube: the calibrated coordinates given, every other parameter drawn from its prior."""
    u = np.clip(np.random.default_rng([design.seed, *stream, 1]).random((len(cal), d)), 1e-9, 1 - 1e-9)
    u[:, calibrated] = cal
    return u


def emulated_loglik(gps: list[Any], x: np.ndarray, observed: Observed) -> np.ndarray:
    """Each point's log likelihood of the figures under one wave's emulators: Gaussian, with the observation's,
    the emulator's and the noise's variance (up to a constant)."""
    total = np.zeros(len(x))
    for gp, z, sd in zip(gps, observed.figure, observed.sd):
        m, s = gp.predict(x, return_std=True)
        var = sd * sd + s * s
        total -= 0.5 * ((m - z) ** 2 / var + np.log(var))
    return total


def proposal(gps: list[Any], pool: np.ndarray, observed: Observed) -> np.ndarray:
    """The final wave's proposal over a pool of non-implausible points (probabilities): a defensive mixture
    (Hesterberg 1995) of the uniform, a share DEFENSIVE that bounds every importance ratio by 1/DEFENSIVE, and the
    emulated likelihood tempered by TEMPER, flatter than the posterior so that its tails are sampled."""
    logl = TEMPER * emulated_loglik(gps, pool, observed)
    lik = np.exp(logl - logl.max())
    return DEFENSIVE / len(pool) + (1.0 - DEFENSIVE) * lik / lik.sum()


def history_match(simulate_wave: Simulate, d: int, observed: Observed, design: Design,
                  calibrated: list[int] | None = None, log: Callable[[str], None] = lambda s: None) -> Fit:
    """Calibrate the `d` coordinates' priors on the observed targets (module docstring). `calibrated`: the
    coordinates to fit (None: chosen by the screening wave). The emulators' linear algebra wants one BLAS thread
    (their matrices are small; threads fighting for two busy cores made it five times slower): the command's entry
    point sets it for the whole process (`sim.experiment.parallel.one_blas_thread`), as the tests do."""
    from sim.analysis.psa import unit_design

    cols = list(observed.columns)
    u = np.clip(unit_design(design.screening, d, design.seed), 1e-9, 1 - 1e-9)
    y, v = simulate_wave("w1", u)
    waves = [Wave("w1", "screening", u, y, v)]
    scr = None
    if calibrated is None:
        scr = screen(u, y[:, cols], observed.tolerance)
        calibrated = scr.calibrated
        if not calibrated:
            raise CalibrationError(f"no parameter moves a calibration target by {SCREEN_EFFECT:g} of its tolerance "
                                   f"with |t| >= {SCREEN_T:g} in the screening wave: nothing to calibrate")
    log(f"calibrating {len(calibrated)} of {d} parameters")
    fit = Fit(waves, scr, list(calibrated))

    def training() -> tuple[np.ndarray, np.ndarray]:
        """Every run so far that the emulators so far keep (the space the next emulators refine)."""
        x = np.concatenate([w.u[:, fit.calibrated] for w in fit.waves])
        yy = np.concatenate([w.y[:, cols] for w in fit.waves])
        keep = non_implausible(fit.emulators, x, observed)
        return x[keep], yy[keep]

    def emulate(k: int) -> None:
        """Fit the next emulators to the runs still non-implausible."""
        x, yy = training()
        if len(x) < len(fit.calibrated) + 2:
            raise CalibrationError(f"wave {k + 1}: {len(x)} runs left in the non-implausible space to emulate "
                                   f"{len(fit.calibrated)} parameters; allowed: more points per wave")
        fit.emulators.append(fit_emulators(x, yy, design.seed + 100 * k))

    def run(name: str, kind: str, cal: np.ndarray, stream: tuple[int, ...], tried: int, kept: float,
            ratio: np.ndarray | None) -> None:
        pts = _points(cal, fit.calibrated, d, design, stream)
        y, v = simulate_wave(name, pts)
        fit.waves.append(Wave(name, kind, pts, y, v, tried, kept, ratio))
        log(f"{name}: {len(cal)} points, {kept:.1%} of {tried:,} emulated kept")

    for k in range(design.waves):
        emulate(k)
        cal, kept, tried = _draw_kept(fit.emulators, design.wave, len(fit.calibrated), observed, design, (k + 2,))
        run(f"w{k + 2}", "refocus", cal, (k + 2,), tried, kept, None)
    k = design.waves
    emulate(k)
    for g in range(1, design.generations + 1):
        # a fresh pool of the non-implausible space per generation, drawn from by the emulators' proposal; each
        # point's importance ratio, 1/q, times its draws
        stream = (k + 2, g)
        pool, kept, tried = _draw_kept(fit.emulators, POOL * design.final, len(fit.calibrated), observed, design,
                                       stream)
        q = proposal(fit.emulators[-1], pool, observed)
        picks = np.random.default_rng([design.seed, *stream, 2]).choice(len(pool), size=design.final, p=q)
        unique, counts = np.unique(picks, return_counts=True)
        run(f"final{g}", "final", pool[unique], stream, tried, kept, counts / (q[unique] * len(q)))
        fit.weights = wave_weights(fit.final, observed)
        if not fit.weights.sum() > 0:
            raise CalibrationError("the final wave measured no calibration target at any point")
        state = settling(fit, observed)
        log(f"final wave, {g} generation{'s' if g > 1 else ''}: ESS {state.ess:.0f}, {state.verdict}")
        if state.settled:
            break
    fit.draws = np.sort(systematic_resample(fit.weights, design.draws, np.random.default_rng([design.seed, 99])))
    return fit


# ----------------------------------------------------------------------------- what the fit reports
DIAGNOSTICS_HEADER = ("wave", "kind", "points", "simulations", "candidates_emulated", "non_implausible_share",
                      "acceptance_rate", "ess", "posterior_ess", "max_quantile_change", "max_change_parameter")


def wave_quantiles(fit: Fit, wave: Wave, observed: Observed) -> np.ndarray:
    """The calibrated coordinates' 2.5/50/97.5% points under the ABC weights of a wave's runs (calibrated x 3)."""
    w = wave_weights(wave, observed)
    if not w.sum() > 0:
        return np.full((len(fit.calibrated), len(QUANTILES)), np.nan)
    return np.asarray([weighted_quantiles(wave.u[:, j], w) for j in fit.calibrated])


def quantile_changes(fit: Fit, observed: Observed, generations: int | None = None) -> np.ndarray:
    """Each calibrated parameter's largest change of its posterior quantiles (prior's quantile scale) when the final
    wave's generation `generations` (default: the last) joined the ones before it; NaN for the first."""
    gens = fit.generations[:generations]
    if len(gens) < 2:
        return np.full(len(fit.calibrated), np.nan)
    a, b = (wave_quantiles(fit, pooled(g), observed) for g in (gens[:-1], gens))
    return np.abs(a - b).max(axis=1)


def settling(fit: Fit, observed: Observed) -> Settling:
    """Whether the pooled final wave has settled (SETTLED_RULE), and the verdict in words."""
    gens = len(fit.generations)
    ess = effective_sample_size(wave_weights(fit.final, observed))
    changes = quantile_changes(fit, observed)
    why = []
    if ess < SETTLED_ESS:
        why.append(f"effective sample size {ess:.0f} < {SETTLED_ESS:g}")
    if gens < 2:
        why.append("one generation: no change between generations to judge")
    elif not np.nanmax(changes) <= SETTLED_CHANGE:
        why.append(f"the last generation moved a quantile by {np.nanmax(changes):.3f} > {SETTLED_CHANGE:g}")
    return Settling(gens, ess, changes, not why, "settled" if not why else
                    f"not settled after {gens} generation{'s' if gens > 1 else ''}: " + "; ".join(why))


def diagnostics(fit: Fit, observed: Observed, names: Sequence[str], replications: int) -> list[tuple]:
    """One row per wave and per generation of the final wave (DIAGNOSTICS_HEADER): its simulations, the share of
    emulated candidates kept, the share of its runs within the cut-off of every target and the ESS of its own ABC
    weights; for a generation, also the ESS of the final wave pooled so far and the largest change of a calibrated
    parameter's quantiles (prior's quantile scale) when it joined the generations before (module docstring: why not
    between waves)."""
    rows = []
    g = 0
    for wave in fit.waves:
        posterior_ess, change, who = math.nan, math.nan, ""
        if wave.kind == "final":
            g += 1
            posterior_ess = effective_sample_size(wave_weights(pooled(fit.generations[:g]), observed))
            delta = quantile_changes(fit, observed, g)
            if np.isfinite(delta).any():
                j = int(np.nanargmax(delta))
                change, who = float(delta[j]), names[j]
        rows.append((wave.name, wave.kind, len(wave.u), len(wave.u) * replications, wave.candidates, wave.kept,
                     acceptance(wave, observed), effective_sample_size(wave_weights(wave, observed)), posterior_ess,
                     change, who))
    return rows


def predictive(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 2.5-97.5% points of one target's values over draws (NaN values left out)."""
    ok = values[np.isfinite(values)]
    if not len(ok):
        return math.nan, math.nan, math.nan
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return float(ok.mean()), float(lo), float(hi)


METHOD_SHORT = "history matching with Gaussian-process emulators and a weighted final wave"  # in a sentence
VERDICT_RULE = ("within: the published figure lies inside the model's predictive 95% interval widened by the "
                "target's tolerance on each side; outside: it does not")


def verdict(figure: float, tolerance: float, low: float, high: float) -> str:
    """`within` when the published figure lies inside the predictive 95% interval widened by the target's
    tolerance on each side (the model can produce a value that counts as a fit), else `outside`."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "outside"
    return "within" if low - tolerance <= figure <= high + tolerance else "outside"


# ----------------------------------------------------------------------------- the simulation's side
def measure_task(task: Task, options: dict[str, Config], measures: Sequence[str]) -> dict[str, Any]:
    """Simulate the region baseline (the first option) at the task's values; the record: each measure's value in
    each replication (`sim.analysis.targets.MEASURES`). A worker's function for `sim.experiment.runner.run`."""
    out: dict[str, Any] = {"task": task.id, "measures": {}, "pid": os.getpid()}
    name, config = next(task_configs(task, {k: options[k] for k in list(options)[:1]}))
    params = params_of(config)
    for r in task.replications:
        rep, = from_outputs([simulate(params, r)], config)
        for m in measures:
            v = MEASURES[m](rep)
            out["measures"].setdefault(m, {})[str(r)] = v if math.isfinite(v) else None
    out["option"] = name
    return out


def target_values(record: dict, measures: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """One task's record as each target's mean over the replications and that mean's variance (`measures`: the
    targets' measures, in target order)."""
    means, noise = [], []
    for m in measures:
        vals = np.asarray([math.nan if v is None else v for v in record["measures"][m].values()], float)
        ok = vals[np.isfinite(vals)]
        means.append(float(ok.mean()) if len(ok) else math.nan)
        noise.append(float(ok.var(ddof=1)) / len(ok) if len(ok) > 1 else math.nan)
    return np.asarray(means), np.asarray(noise)
