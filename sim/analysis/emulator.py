"""Sobol indices from an emulator: a Gaussian process fitted on a few simulation runs over the unit cube of the
leading parameters, checked out of sample, and Sobol's first- and total-order indices computed on it with SALib.

Why: the direct Saltelli estimate needs base samples x (parameters + 2) simulation runs, and with the 64 base
samples it can afford its intervals are often wider than the indices. A Gaussian process fitted on about ten runs
per parameter (Loeppky, Sacks and Welch, Choosing the sample size of a computer experiment: a practical guide,
Technometrics 2009) is evaluated at thousands of points in milliseconds. Its uncertainty is carried into the
indices as in Le Gratiet, Cannamela and Iooss (A Bayesian approach for global sensitivity analysis of
(multifidelity) computer codes, SIAM/ASA JUQ 2014) and Marrel et al. (Calculations of Sobol indices for the
Gaussian process metamodel, RESS 2009): the indices are computed on many posterior sample paths of the process,
whose spread is what the runs leave unknown. Paths can only be drawn jointly at a few thousand points, so each
index is that of the posterior mean on a large design plus the mean shift of the paths' indices from the mean's
on a smaller common design (a control variate: the common design's sampling error cancels), and its interval
holds the spread of those shifts and the large design's sampling error (SALib's bootstrap). The process's noise
term takes the simulation noise: the indices are those of the output's expected value, not of one replication.
An emulator that predicts held-out runs poorly (`R2_MIN`) is not used (`EmulatorError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# assumption: an emulator must predict at least 90% of the variance of runs it was not fitted on (out-of-sample
# R^2, the predictivity coefficient Q^2) before its indices stand for the simulation's
R2_MIN = 0.9
FOLDS = 5  # leave-out validation: each run predicted by the emulator fitted on the other four fifths
BASE_SAMPLES = 256  # Saltelli base samples on the emulator: (parameters + 2) x 256 points per path
MEAN_SAMPLES = 4096  # Saltelli base samples on the emulator's posterior mean
PATHS = 64  # posterior sample paths of the emulator the indices are computed on
RESAMPLES = 100  # SALib's bootstrap of an estimate (the sampling error of the posterior mean's indices)
Z95 = 1.959963984540054


class EmulatorError(ValueError):
    """The emulator predicts held-out runs too poorly for its indices to stand for the simulation's (its
    out-of-sample R^2 `r2`)."""

    def __init__(self, message: str, r2: float = math.nan):
        super().__init__(message)
        self.r2 = r2


@dataclass(frozen=True)
class Indices:
    """First- (S1) and total-order (ST) Sobol indices of one output, each with a 95% interval, one entry per
    parameter, and the emulator's out-of-sample R^2 (NaN when the output did not vary: every index exactly 0)."""

    s1: np.ndarray
    s1_low: np.ndarray
    s1_high: np.ndarray
    st: np.ndarray
    st_low: np.ndarray
    st_high: np.ndarray
    r2: float


def _gp(d: int, seed: int, restarts: int = 1, start: Any = None) -> Any:
    """A Gaussian process with one length scale per parameter (Matern 5/2: smooth but not infinitely so) and a
    noise term for the simulation's noise, on a standardised output; its hyperparameters by maximum likelihood,
    from `start` (a fitted kernel) or from one length of 2 (normal scores) and `restarts` random starts."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = start if start is not None else (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(d, 2.0), (5e-2, 5e3),
                                                                                         nu=2.5)
                                              + WhiteKernel(1e-2, (1e-8, 1.0)))
    return GaussianProcessRegressor(kernel, normalize_y=False, n_restarts_optimizer=restarts, random_state=seed)


def _standardise(y: np.ndarray) -> np.ndarray:
    return (y - y.mean()) / y.std()


def scores(u: np.ndarray) -> np.ndarray:
    """The emulator's inputs: the points' normal scores. Most ranges are lognormal or logit-normal, linear in their
    normal score, so the output is smoother in them than in the quantiles, whose tails it crosses steeply (on the
    Norfolk options the leading output's out-of-sample R^2 was 0.89 on the quantiles and 0.96 on the scores)."""
    from scipy.special import ndtri

    return ndtri(np.clip(u, 1e-6, 1 - 1e-6))


def fit(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """The emulator of `y` (runs) over `x` (runs x parameters: their normal scores), on the standardised output."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    gp = _gp(x.shape[1], seed)
    with warnings.catch_warnings():  # a length scale at its bound is an answer (the parameter barely matters)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gp.fit(x, _standardise(y))


def out_of_sample_r2(x: np.ndarray, y: np.ndarray, seed: int, folds: int = FOLDS, start: Any = None) -> float:
    """R^2 of each run (`x`: normal scores) predicted by the emulator fitted without it (k-fold: the folds a shuffled
    partition, each fit's hyperparameters chosen on its own runs, from `start`: the kernel fitted on all), against
    the variance of the runs: 1 - SSE / SST."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    z = _standardise(y)
    order = np.random.default_rng(seed).permutation(len(y))
    predicted = np.empty_like(z)
    for k in range(folds):
        held = order[k::folds]
        kept = np.setdiff1d(order, held)
        gp = _gp(x.shape[1], seed, restarts=0, start=start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(x[kept], z[kept])
        predicted[held] = gp.predict(x[held])
    return 1.0 - float(((z - predicted) ** 2).sum() / ((z - z.mean()) ** 2).sum())


def posterior_paths(gp: Any, points: np.ndarray, paths: int, rng: np.random.Generator) -> np.ndarray:
    """`paths` draws of the emulator's latent function (its noise term left out) at `points`, jointly: the
    posterior mean plus a Cholesky factor of the posterior covariance times standard normals (paths x points)."""
    from scipy.linalg import cholesky, solve_triangular

    signal = gp.kernel_.k1  # constant x Matern; k2 is the noise term
    cross = signal(gp.X_train_, points)
    mean = cross.T @ gp.alpha_
    v = solve_triangular(gp.L_, cross, lower=True)
    cov = signal(points) - v.T @ v
    scale = float(np.mean(np.diag(signal(points[:1]))))
    for jitter in (1e-10, 1e-8, 1e-6, 1e-4):  # the posterior covariance is near-singular where runs pin it down
        try:
            chol = cholesky(cov + jitter * scale * np.eye(len(points)), lower=True)
            break
        except np.linalg.LinAlgError:
            continue
    else:  # pragma: no cover - a covariance this ill-conditioned means a broken fit
        raise EmulatorError("the emulator's posterior covariance is not positive definite")
    return mean[None, :] + (chol @ rng.standard_normal((len(points), paths))).T


def sobol_indices(x: np.ndarray, y: np.ndarray, seed: int, r2_min: float = R2_MIN,
                  base_samples: int = BASE_SAMPLES, paths: int = PATHS) -> Indices:
    """Sobol indices of `y` over the parameters of `x` (runs x parameters, uniform on the unit cube) from its
    emulator: each index SALib's estimate on the posterior mean (MEAN_SAMPLES base samples) plus the mean over
    `paths` posterior paths of their index's difference from the mean's on a common Saltelli design of
    `base_samples`; its 95% interval +- 1.96 standard deviations of those differences and of the mean's sampling
    error together. EmulatorError when the out-of-sample R^2 is below `r2_min`."""
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    d = x.shape[1]
    if np.ptp(y) == 0:  # no variance: every index is zero, exactly
        zero = np.zeros(d)
        return Indices(zero, zero, zero, zero, zero, zero, math.nan)
    x = scores(x)
    gp = fit(x, y, seed)
    r2 = out_of_sample_r2(x, y, seed, start=gp.kernel_)
    if not r2 >= r2_min:
        raise EmulatorError(f"out-of-sample R^2 {r2:.2f} is below {r2_min:.2f}", r2)
    problem = {"num_vars": d, "names": [f"x{j}" for j in range(d)], "bounds": [[0.0, 1.0]] * d}
    big = sample.sample(problem, MEAN_SAMPLES, calc_second_order=False, scramble=True, seed=seed)
    mean = analyze.analyze(problem, gp.predict(scores(big)), calc_second_order=False, num_resamples=RESAMPLES,
                           conf_level=0.95, seed=seed)
    design = sample.sample(problem, base_samples, calc_second_order=False, scramble=True, seed=seed + 1)
    drawn = posterior_paths(gp, scores(design), paths, np.random.default_rng(seed))
    at_mean = analyze.analyze(problem, gp.predict(scores(design)), calc_second_order=False, num_resamples=RESAMPLES,
                              conf_level=0.95, seed=seed)
    shift = {k: np.empty((paths, d)) for k in ("S1", "ST")}
    for m, values in enumerate(drawn):
        res = analyze.analyze(problem, values, calc_second_order=False, num_resamples=RESAMPLES,
                              conf_level=0.95, seed=seed + m)
        for k in shift:
            shift[k][m] = np.asarray(res[k]) - np.asarray(at_mean[k])
    centre, half = {}, {}
    for k in ("S1", "ST"):
        centre[k] = np.asarray(mean[k]) + shift[k].mean(axis=0)
        half[k] = Z95 * np.sqrt(shift[k].var(axis=0, ddof=1) + (np.asarray(mean[f"{k}_conf"]) / Z95) ** 2)
    return Indices(centre["S1"], centre["S1"] - half["S1"], centre["S1"] + half["S1"],
                   centre["ST"], centre["ST"] - half["ST"], centre["ST"] + half["ST"], r2)
