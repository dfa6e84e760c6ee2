"""Statistics across replications: confidence intervals, paired differences, precision.

Replications are independent and identically distributed, so a KPI's mean has a Student-t
confidence interval. Two scenarios run with the same seeds share common random numbers, so
their difference is estimated replication by replication (paired), which removes the noise
they share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats as sps

Values = Sequence[float] | np.ndarray  # a sample over replications: a list or an array (read with np.asarray)


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


@lru_cache(maxsize=256)
def t_quantile(q: float, df: int) -> float:
    """Student's t quantile, remembered: a comparison asks for the same few thousands of times (scipy's `ppf`
    costs a fifth of a millisecond a call, a third of the time of reading a sweep folder's comparison)."""
    return float(sps.t.ppf(q, df))


def mean_ci(values: Values, level: float = 0.95) -> Interval:
    """Mean and t-interval of the finite values (NaN, e.g. a cost per hire with no hires, is left out)."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if n == 1:
        return Interval(m, math.nan, math.nan, 1)
    sd = float(x.std(ddof=1))
    h = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return Interval(m, m - h, m + h, n)


def paired_difference(option: Values, baseline: Values, level: float = 0.95) -> Interval:
    """Mean of option - baseline over replications paired by index, with its t-interval."""
    a, b = np.asarray(option, float), np.asarray(baseline, float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    return mean_ci(a - b, level)


def variance_ratio(option: Values, reference: Values) -> float:
    """What the pairing buys: Var(option - reference) / (Var(option) + Var(reference)), over replications
    paired by index (sample variances; pairs with a NaN left out). 1 means no pairing gain (independent
    streams), 0 a difference with no noise at all; the paired interval is sqrt(ratio) times as wide as an
    unpaired one would be. NaN with fewer than two pairs or no variance."""
    a, b = np.asarray(option, float), np.asarray(reference, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 2:
        return math.nan
    total = float(a.var(ddof=1) + b.var(ddof=1))
    return float((a - b).var(ddof=1)) / total if total > 0 else math.nan


def unpaired_difference(option: Values, baseline: Values, level: float = 0.95) -> Interval:
    """Welch interval for option - baseline, ignoring the pairing (to show what pairing buys)."""
    a, b = np.asarray(option, float), np.asarray(baseline, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return Interval(float(a.mean() - b.mean()) if na and nb else math.nan, math.nan, math.nan, min(na, nb))
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    se = math.sqrt(va + vb)
    d = float(a.mean() - b.mean())
    if se == 0:
        return Interval(d, d, d, min(na, nb))
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    h = float(sps.t.ppf(0.5 + level / 2.0, df)) * se
    return Interval(d, d - h, d + h, min(na, nb))


def replications_needed(values: Values, half_width: float, level: float = 0.95) -> int:
    """The smallest n >= 2 whose t-interval half-width, at the sample sd so far, is at most `half_width`."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return 2
    sd = float(x.std(ddof=1))
    if sd == 0:
        return 2
    q = 0.5 + level / 2.0
    n = max(2, math.ceil((float(sps.norm.ppf(q)) * sd / half_width) ** 2))  # z < t: a lower bound
    while float(sps.t.ppf(q, n - 1)) * sd / math.sqrt(n) > half_width:
        n += 1
    return n


def incremental_ratio(d_cost: Values, d_effect: Values, level: float = 0.95) -> Interval:
    """Incremental cost per unit of effect, mean(dC) / mean(dE), with Fieller's interval, from paired differences.

    The one definition of a cost ratio's interval (compare.cost_effect writes it to comparison.csv, which the
    console, the report and the workbook read). Fieller's set is every ratio R whose paired differences
    dC - R dE have a mean that their t-test at `level` cannot tell from zero: (mean(dC) - R mean(dE))^2 <=
    t^2 (v_C - 2 R c_CE + R^2 v_E), with v and c the variances and covariance of the two means. Its coverage
    is exactly `level` when the pairs are bivariate normal, however imprecise the effect; the delta method's
    symmetric interval is only right when the effect is precise. The set is a bounded interval exactly when
    the effect's own t-interval excludes zero; otherwise it is the whole line or two rays to -inf and +inf
    (no finite number bounds the ratio) and `low`, `high` are -inf, +inf: "not bounded". Pairs with a NaN
    are left out; fewer than two pairs give NaN everywhere.
    """
    c, e = np.asarray(d_cost, float), np.asarray(d_effect, float)
    ok = np.isfinite(c) & np.isfinite(e)
    c, e = c[ok], e[ok]
    n = len(c)
    if n < 2:
        return Interval(math.nan, math.nan, math.nan, n)
    mc, me = float(c.mean()), float(e.mean())
    (v_c, c_ce), (_, v_e) = (np.cov(c, e, ddof=1) / n).tolist()  # variances and covariance of the two means
    t2 = t_quantile(0.5 + level / 2.0, n - 1) ** 2
    ratio = mc / me if me != 0 else math.nan
    a = me * me - t2 * v_e  # > 0 exactly when the effect's t-interval excludes zero
    if not a > 0:
        return Interval(ratio, -math.inf, math.inf, n)
    b = mc * me - t2 * c_ce
    q = mc * mc - t2 * v_c
    root = math.sqrt(max(b * b - a * q, 0.0))  # >= 0 when a > 0: the point estimate lies in the set
    return Interval(ratio, (b - root) / a, (b + root) / a, n)


def upper_prediction_bound(values: Values, level: float = 0.975) -> float:
    """The one-sided `level` prediction bound of one new replication: mean + t(level, n-1) sd sqrt(1 + 1/n).

    Exact for normal values; a new draw exceeds it with probability 1 - level. Values that do
    not vary (a deterministic cost) give the value itself; fewer than two give +inf (unknown spread).
    """
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 2:
        return math.inf
    sd = float(x.std(ddof=1))
    if sd == 0:
        return float(x.mean())
    return float(x.mean()) + float(sps.t.ppf(level, n - 1)) * sd * math.sqrt(1.0 + 1.0 / n)
