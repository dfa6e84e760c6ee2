"""The compiled churn step's draws (`sim.model.churn`): counter-based uniforms and exact samplers by inversion.

An inversion sampler is a function of its one uniform, so it is checked exactly: at every uniform u it must
return the u-quantile of the distribution (scipy's), except where u lies within rounding of a step of the
distribution function. The uniforms are checked as uniforms (chi-square, fixed keys) and for their addresses:
a draw depends on its key, step and slot alone.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.model import churn

pytestmark = pytest.mark.unit

GRID = np.random.default_rng(20260701).random(4000)  # uniforms at which the quantiles are compared


def _quantile_mismatches(draw, dist) -> list[float]:
    """The uniforms where `draw(u)` is not `dist`'s u-quantile, beyond rounding of the distribution function."""
    got = np.array([draw(float(u)) for u in GRID])
    want = dist.ppf(GRID).astype(int)
    off = (got != want) & (np.minimum(abs(GRID - dist.cdf(got)), abs(GRID - dist.cdf(want))) > 1e-9)
    return GRID[off].tolist()

@pytest.mark.parametrize(("n", "p"), [(1, 0.3), (12, 0.006), (400, 0.02), (60, 0.5), (25, 0.93),
                                      (3000, 0.02), (5000, 0.4), (2500, 0.97), (1, 1.0), (7, 0.0)])
def test_binomial_is_the_quantile_of_its_uniform(n: int, p: float) -> None:
    """Small means (inverted from zero), large ones (from the mode), p above a half (the other side)."""
    assert not _quantile_mismatches(lambda u: churn.binomial(n, p, u), stats.binom(n, p))


@pytest.mark.parametrize(("n", "good", "total"), [(3, 40, 100), (10, 5, 12), (25, 300, 900), (6, 0, 50), (4, 4, 4)])
def test_hypergeometric_is_the_quantile_of_its_uniform(n: int, good: int, total: int) -> None:
    assert not _quantile_mismatches(lambda u: churn.hypergeometric(n, good, total, u), stats.hypergeom(total, good, n))


def test_uniforms_are_uniform_and_independent_of_neighbours() -> None:
    """100 bins of 200,000 uniforms from 20 keys x 100 steps x 100 slots: the chi-square statistic (99 degrees of
    freedom) within its 0.999 quantile; and the lag-one correlation along slots within 4 standard errors of 0."""
    keys = np.random.default_rng(3).integers(0, 2**64, 20, dtype=np.uint64)
    u = np.array([[[churn.uniform(key, step, slot) for slot in range(100)] for step in range(100)] for key in keys])
    counts = np.bincount((u.ravel() * 100).astype(int), minlength=100)
    expected = u.size / 100
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < stats.chi2.ppf(0.999, 99), chi2
    x, y = u[..., :-1].ravel() - 0.5, u[..., 1:].ravel() - 0.5
    r = float((x * y).mean() / (x.var()))
    assert abs(r) < 4 / np.sqrt(x.size), r


def test_a_uniform_depends_on_its_address_only() -> None:
    """The same address gives the same number in any order; changing any part of it gives another."""
    key = np.uint64(0x1234_5678_9ABC_DEF0)
    first = [churn.uniform(key, 5, s) for s in range(10)]
    assert [churn.uniform(key, 5, s) for s in reversed(range(10))] == first[::-1]
    assert len({*first, churn.uniform(key, 6, 0), churn.uniform(key + np.uint64(1), 5, 0)}) == 12


def test_multinomial_has_the_multinomial_moments() -> None:
    """Means n p_j and variances n p_j (1 - p_j) of 20,000 draws (one key, one step per draw), each within 5
    standard errors (the variance's from the fourth central moment of a binomial)."""
    n, p, draws = 50, np.array([0.05, 0.1, 0.25, 0.6]), 20_000
    out = np.zeros((draws, len(p)), np.int64)
    for i in range(draws):
        churn.multinomial(n, p, np.uint64(99), i, 0, out[i])
    assert (out.sum(axis=1) == n).all()
    mean, var = n * p, n * p * (1 - p)
    assert (np.abs(out.mean(axis=0) - mean) < 5 * np.sqrt(var / draws)).all(), out.mean(axis=0)
    mu4 = var * (1 + 3 * (n - 2) * p * (1 - p))  # fourth central moment of Binomial(n, p)
    assert (np.abs(out.var(axis=0) - var) < 5 * np.sqrt((mu4 - var ** 2) / draws)).all(), out.var(axis=0)

