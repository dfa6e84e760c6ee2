"""Confidence intervals, paired differences and precision (`sim.experiment.stats`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from sim.experiment.stats import mean_ci, paired_difference, replications_needed, unpaired_difference


def _band(p: float, trials: int) -> float:
    """Half width of a 99.9% normal-approximation band for a binomial share (z = 3.29)."""
    return 3.3 * math.sqrt(p * (1 - p) / trials)


@pytest.mark.unit
def test_mean_ci_textbook_value() -> None:
    """[1..5]: mean 3, s = sqrt(2.5), t(0.975, 4) = 2.776 (table value), half width 2.776 * s / sqrt(5)."""
    ci = mean_ci([1, 2, 3, 4, 5])
    assert ci.n == 5 and ci.mean == 3.0
    assert ci.half_width == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert ci.low == pytest.approx(3.0 - ci.half_width) and ci.high == pytest.approx(3.0 + ci.half_width)


@pytest.mark.parametrize("level", [0.95, 0.99])
@pytest.mark.statistical
def test_mean_ci_coverage(level: float) -> None:
    """The t-interval of n=10 normal samples covers the true mean at its nominal rate.

    Coverage is exact for normal data, so the count of covering intervals over 2,000
    independent trials is Binomial(2000, level); the 99.9% band is level +/- 3.3 sqrt(level (1 - level) / 2000).
    """
    rng = np.random.default_rng(2024)
    trials, mu = 2000, 5.0
    data = rng.normal(mu, 2.0, size=(trials, 10))
    hits = 0
    for row in data:
        ci = mean_ci(row, level)
        hits += ci.low <= mu <= ci.high
    assert abs(hits / trials - level) <= _band(level, trials)


@pytest.mark.unit
def test_mean_ci_drops_nan() -> None:
    """NaN (a cost per hire with no hires) is left out, and n counts only finite values."""
    with_nan = mean_ci([1.0, math.nan, 2.0, 4.0, math.nan, 9.0])
    plain = mean_ci([1.0, 2.0, 4.0, 9.0])
    assert with_nan == plain
    assert with_nan.n == 4 and with_nan.mean == 4.0


@pytest.mark.unit
def test_mean_ci_degenerate_sizes() -> None:
    """No finite values: all NaN, n 0. One value: its mean, NaN bounds (no variance estimate), n 1."""
    none = mean_ci([math.nan, math.nan])
    assert none.n == 0 and math.isnan(none.mean) and math.isnan(none.low) and math.isnan(none.high)
    one = mean_ci([math.nan, 7.0])
    assert one.n == 1 and one.mean == 7.0 and math.isnan(one.low) and math.isnan(one.high)
    const = mean_ci([3.0, 3.0, 3.0])
    assert (const.low, const.mean, const.high) == (3.0, 3.0, 3.0)


def _correlated_pairs(seed: int, n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Pairs sharing a common component (as common random numbers do): corr = 9 / 10."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, 3.0, n)
    option = 11.0 + common + rng.normal(0.0, 1.0, n)
    baseline = 10.0 + common + rng.normal(0.0, 1.0, n)
    return option, baseline


@pytest.mark.unit
def test_paired_narrower_than_unpaired() -> None:
    """With positively correlated pairs the paired interval is narrower than the Welch one.

    Var(option - baseline) = 2 (the shared variance cancels) vs 2 * 10 unpaired, so the half
    widths differ by about sqrt(10). The paired one is wider only if the variance ratio
    (about F(19, ~38) / 10 in distribution, with t quantiles within 5% of each other) exceeds 1,
    i.e. F(19, 38) > ~9, probability < 1e-6.
    """
    for seed in range(5):
        a, b = _correlated_pairs(seed)
        p, u = paired_difference(a, b), unpaired_difference(a, b)
        assert p.mean == pytest.approx(u.mean)  # same point estimate, different precision
        assert p.n == u.n == 20
        assert p.half_width < u.half_width


@pytest.mark.unit
def test_unpaired_is_welch() -> None:
    """`unpaired_difference` equals scipy's Welch t-interval."""
    a, b = _correlated_pairs(9)
    b = b[:15]
    u = unpaired_difference(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (u.low, u.high) == pytest.approx((ref.low, ref.high), rel=1e-9)


@pytest.mark.unit
def test_paired_length_mismatch() -> None:
    """Pairing samples of different lengths is an error, not a silent truncation."""
    with pytest.raises(ValueError, match="length"):
        paired_difference([1.0, 2.0, 3.0], [1.0, 2.0])


def _half_width(n: int, sd: float) -> float:
    """The 95% CI half-width scipy gives a sample of n values whose sd is exactly `sd` (an oracle apart from the
    code's formula: scipy's own one-sample t-test interval of the data)."""
    z = np.random.default_rng(n).normal(size=n)
    x = (z - z.mean()) / z.std(ddof=1) * sd
    low, high = sps.ttest_1samp(x, 0.0).confidence_interval(0.95)
    return (high - low) / 2


@pytest.mark.parametrize(("values", "half_width"), [
    ([0.0, 2.0] * 5, 0.5),          # s = 1.054
    ([0.0, 2.0] * 5, 1.0),
    ([1.0, 2.0, 4.0, 8.0], 1.5),
    (list(np.random.default_rng(3).normal(0, 2, 10)), 0.7),
    (list(np.random.default_rng(4).normal(0, 2, 40)), 1.2),  # pilot already larger than needed
])
@pytest.mark.unit
def test_replications_needed_is_sufficient_and_minimal(values: list[float], half_width: float) -> None:
    """The returned n gives a t-interval no wider than the target at the pilot's sd, and n - 1 would not.

    This is the definition of "replications needed": with sd s, n must satisfy
    t(0.975, n - 1) * s / sqrt(n) <= half_width (t at n's own degrees of freedom).
    """
    sd = float(np.std(values, ddof=1))
    n = replications_needed(values, half_width)
    assert _half_width(n, sd) <= half_width * (1 + 1e-12), "too few replications for the target"
    assert n == 2 or _half_width(n - 1, sd) > half_width, "one replication fewer would do"


@pytest.mark.unit
def test_replications_needed_at_least_two() -> None:
    """Never fewer than 2 replications (an interval needs a variance estimate)."""
    assert replications_needed([], 1.0) == 2
    assert replications_needed([5.0], 1.0) == 2
    assert replications_needed([5.0, 5.0], 1.0) >= 2
    assert replications_needed([1.0, 1.001, 0.999], 100.0) == 2


@pytest.mark.statistical
def test_replications_needed_reaches_target() -> None:
    """Running the recommended number of replications of N(3, 2^2) meets the target as often as theory says.

    Trial i: a pilot of 10 gives sd s0_i and n_i = replications_needed; a fresh run of n_i gives
    half width t(n_i - 1) s1 / sqrt(n_i). If n_i is sufficient for s0_i, success needs at most
    s1 <= s0_i, whose probability given the pilot is q_i = P(chi2(n_i - 1) <= (n_i - 1) s0_i^2 / sigma^2).
    So E[successes] >= sum(q_i). Trials are independent; the count's sd is at most sqrt(T / 4),
    giving a 99.9% one-sided lower bound sum(q_i) - 3.3 sqrt(T / 4). (A sample size planned from
    an estimated sd meets the target only about half the time, so "most trials" is not the
    right expectation; this bound is.)
    """
    rng = np.random.default_rng(7)
    sigma, target, pilot, trials = 2.0, 0.5, 10, 1500
    successes, expected = 0, 0.0
    for _ in range(trials):
        x = rng.normal(3.0, sigma, pilot)
        s0 = float(x.std(ddof=1))
        n = replications_needed(x, target)
        assert n >= 2
        successes += mean_ci(rng.normal(3.0, sigma, n)).half_width <= target
        expected += float(sps.chi2.cdf((n - 1) * s0**2 / sigma**2, n - 1))
    assert successes >= expected - 3.3 * math.sqrt(trials / 4)
    # With a pilot whose sd is exactly sigma, n is the known-variance answer, minimal n with t sigma / sqrt(n) <= h.
    z = rng.normal(0.0, 1.0, pilot)
    z = (z - z.mean()) / z.std(ddof=1) * sigma
    n = replications_needed(z, target)
    assert _half_width(n, sigma) <= target * (1 + 1e-12) < _half_width(n - 1, sigma)


def _inverted_t_test(dc: np.ndarray, de: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Fieller's bounds found another way: the ratios R at which the t statistic of the paired values dC - R dE
    reaches the critical value, by root-finding on each side of the point estimate (no quadratic)."""
    from scipy.optimize import brentq

    n = len(dc)
    crit = float(sps.t.ppf(0.5 + level / 2, n - 1))

    def excess(r: float) -> float:
        d = dc - r * de
        return abs(d.mean()) / (d.std(ddof=1) / math.sqrt(n)) - crit

    r0 = float(dc.mean() / de.mean())
    step = abs(r0) + 1.0
    while excess(r0 - step) < 0 or excess(r0 + step) < 0:
        step *= 2
    return brentq(excess, r0 - step, r0, xtol=1e-9), brentq(excess, r0, r0 + step, xtol=1e-9)


@pytest.mark.unit
def test_incremental_ratio_is_fiellers_interval() -> None:
    """Against the inverted paired t-test, on correlated data with an imprecise effect (where the interval is
    far from symmetric); a cost exactly proportional to the effect gives the ratio with a zero-width interval."""
    from sim.experiment.stats import incremental_ratio

    rng = np.random.default_rng(11)
    de = rng.normal(8.0, 9.0, 20)
    dc = 200_000.0 * de + rng.normal(1_500_000.0, 600_000.0, 20)
    r = incremental_ratio(dc, de)
    low, high = _inverted_t_test(dc, de)
    assert r.n == 20 and r.mean == pytest.approx(dc.mean() / de.mean(), rel=1e-12)
    assert (r.low, r.high) == pytest.approx((low, high), rel=1e-9)
    assert all(type(x) is float for x in (r.mean, r.low, r.high))  # plain floats: the CSV writes their repr
    assert r.high - r.mean > 1.5 * (r.mean - r.low)  # skewed: the delta method's symmetric interval is wrong here
    e = [5.0, 7.0, 6.0, 8.0, 4.0]
    exact = incremental_ratio([10_000 * x for x in e], e)
    assert exact.mean == pytest.approx(10_000) and exact.low == pytest.approx(10_000) == exact.high


@pytest.mark.statistical
def test_incremental_ratio_covers_the_true_ratio_95_percent_of_the_time() -> None:
    """Bivariate normal pairs (n = 10, correlation 0.7) with a known ratio of 10,000: Fieller's interval is exact,
    so over 10,000 samples it covers the ratio 95% of the time, within 4 binomial sds (+-0.9 points). A normal
    quantile instead of t's, or the covariance left out, misses by 2 points or more. The effect is precise enough
    (mean 7.9 standard errors) that an unbounded interval has probability below 1e-6."""
    from sim.experiment.stats import incremental_ratio

    rng = np.random.default_rng(2026)
    trials, n, ratio = 10_000, 10, 10_000.0
    sd_e, sd_c, rho = 2.0, 8_000.0, 0.7
    cov = [[sd_c**2, rho * sd_c * sd_e], [rho * sd_c * sd_e, sd_e**2]]
    pairs = rng.multivariate_normal([ratio * 5.0, 5.0], cov, size=(trials, n))
    covered = 0
    for x in pairs:
        r = incremental_ratio(x[:, 0], x[:, 1])
        assert math.isfinite(r.low) and math.isfinite(r.high)
        covered += r.low <= ratio <= r.high
    assert abs(covered / trials - 0.95) <= 4 * math.sqrt(0.95 * 0.05 / trials), covered / trials


@pytest.mark.unit
def test_incremental_ratio_is_not_bounded_exactly_when_the_effects_interval_includes_zero() -> None:
    """An effect not distinguishable from zero: the set is the whole line or two rays, reported as (-inf, inf)
    with the point estimate kept; the switch is the effect's own paired t-interval, at the same level."""
    from sim.experiment.stats import incremental_ratio

    whole = incremental_ratio([1_000.0, 1_200.0, 900.0, 1_100.0], [1.0, -1.0, 0.5, -0.5])
    assert (whole.low, whole.high, whole.n) == (-math.inf, math.inf, 4)
    rng = np.random.default_rng(5)
    for _ in range(200):
        de = rng.normal(1.0, 2.0, 8)
        dc = 1_000.0 * de + rng.normal(0.0, 300.0, 8)
        r, e = incremental_ratio(dc, de), mean_ci(de)
        assert math.isfinite(r.high) == (e.low > 0 or e.high < 0)
        assert r.mean == pytest.approx(dc.mean() / de.mean())
        if math.isfinite(r.high):
            assert r.low <= r.mean <= r.high
    assert math.isnan(incremental_ratio([1.0], [1.0]).mean)
