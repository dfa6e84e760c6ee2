"""Distributions (`sim.params.distributions`) and random-number streams (`sim.params.streams`).

Moment checks draw a large fixed-seed block and compare with theory. Bounds are 5 standard
errors: for a sample mean SE = sigma / sqrt(n); for a sample variance
SE(s^2) = sqrt((mu4 - sigma^4) / n), with mu4 the fourth central moment of the distribution
(large-sample formula). |Z| > 5 has probability 5.7e-7 under a normal approximation, so a
failure means a wrong parameterisation, not bad luck (and the seeds are fixed anyway).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from sim.params.distributions import KINDS, Dist, problem, sampler
from sim.params.streams import BLOCK, Sampler, Streams, seed_sequence

N = 200_000
Z = 5.0  # standard errors allowed (see module docstring)


def draw(d: Dist, rng: np.random.Generator, n: int) -> np.ndarray:
    """A block of `n` samples of `d` from `rng` (what `streams.Sampler` fills its blocks with)."""
    return sampler(d)(rng, n)


def _lognormal_sigma2(cv: float) -> float:
    return math.log1p(cv * cv)


def theory(d: Dist) -> tuple[float, float, float]:
    """(mean, variance, fourth central moment) of `d` from textbook formulas, not from the code under test."""
    k = d.kind
    if k == "fixed":
        return float(d.mean), 0.0, 0.0  # type: ignore[arg-type]
    if k == "exponential":
        m = float(d.mean)  # type: ignore[arg-type]
        return m, m * m, 9.0 * m**4  # kurtosis 9
    if k == "gamma":
        m, cv = float(d.mean), float(d.cv)  # type: ignore[arg-type]
        shape = 1.0 / cv**2
        var = (cv * m) ** 2
        return m, var, var * var * (3.0 + 6.0 / shape)  # kurtosis 3 + 6/shape
    if k == "lognormal":
        m, cv = float(d.mean), float(d.cv)  # type: ignore[arg-type]
        s2 = _lognormal_sigma2(cv)
        var = (cv * m) ** 2
        kurt = math.exp(4 * s2) + 2 * math.exp(3 * s2) + 3 * math.exp(2 * s2) - 3
        return m, var, var * var * kurt
    if k == "triangular":
        a, c, b = float(d.low), float(d.mode), float(d.high)  # type: ignore[arg-type]
        var = (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0
        return (a + b + c) / 3.0, var, 2.4 * var * var  # kurtosis 12/5
    if k == "uniform":
        a, b = float(d.low), float(d.high)  # type: ignore[arg-type]
        return (a + b) / 2.0, (b - a) ** 2 / 12.0, (b - a) ** 4 / 80.0
    if k == "empirical":
        v = np.asarray(d.values, float)
        w = np.asarray(d.weights, float) / sum(d.weights)
        m = float(v @ w)
        return m, float(((v - m) ** 2) @ w), float(((v - m) ** 4) @ w)
    raise AssertionError(k)


# One or more valid configurations per kind, including the shapes the shipped config uses
# (gamma mean 60 cv 0.8; gamma mean 730 cv 0.1) and a heavy right tail (gamma cv 2).
CASES: list[Dist] = [
    Dist(kind="fixed", mean=42.0),
    Dist(kind="exponential", mean=5.0),
    Dist(kind="gamma", mean=60.0, cv=0.8),
    Dist(kind="gamma", mean=730.0, cv=0.1),
    Dist(kind="gamma", mean=3.0, cv=2.0),
    Dist(kind="lognormal", mean=30.0, cv=0.5),
    Dist(kind="lognormal", mean=10.0, cv=1.2),
    Dist(kind="triangular", low=2.0, mode=3.0, high=10.0),
    Dist(kind="triangular", low=0.0, mode=0.0, high=6.0),
    Dist(kind="uniform", low=7.0, high=21.0),
    Dist(kind="empirical", values=[1.0, 7.0, 30.0], weights=[2.0, 5.0, 3.0]),
]


def _id(d: Dist) -> str:
    return f"{d.kind}-{d.mean or ''}-{d.cv or ''}-{d.low or ''}-{d.mode or ''}-{d.high or ''}"


@pytest.mark.unit
def test_cases_cover_every_kind() -> None:
    """The moment tests below exercise every kind `sim.params.distributions` knows."""
    assert {d.kind for d in CASES} == set(KINDS)


@pytest.mark.parametrize("d", CASES, ids=_id)
@pytest.mark.unit
def test_cases_are_valid(d: Dist) -> None:
    """Every case passes `problem` (the checks the config's distributions go through)."""
    assert problem(d) is None


@pytest.mark.parametrize("d", CASES, ids=_id)
@pytest.mark.statistical
def test_sample_mean_and_variance(d: Dist) -> None:
    """A large block from `draw` has the configured mean and variance (within 5 standard errors)."""
    x = draw(d, np.random.default_rng(12345), N)
    assert x.shape == (N,)
    assert np.all(np.isfinite(x)) and np.all(x >= 0)  # durations are non-negative
    m, var, mu4 = theory(d)
    if var == 0.0:
        assert np.all(x == m)
        return
    se_mean = math.sqrt(var / N)
    assert abs(x.mean() - m) <= Z * se_mean
    se_var = math.sqrt((mu4 - var * var) / N)
    assert abs(x.var(ddof=1) - var) <= Z * se_var


@pytest.mark.parametrize("d", [c for c in CASES if c.kind in ("exponential", "gamma", "lognormal")], ids=_id)
@pytest.mark.statistical
def test_sample_cv(d: Dist) -> None:
    """The sample cv matches the configured cv (exponential: 1).

    cv_hat = s / xbar. With |s^2 - sigma^2| <= 5 SE(s^2) and |xbar - mu| <= 5 SE(xbar) (the
    bounds of the test above), cv_hat must lie in [sqrt(1 - e_v) / (1 + e_m), sqrt(1 + e_v) / (1 - e_m)] * cv,
    with e_v = 5 SE(s^2) / sigma^2 and e_m = 5 SE(xbar) / mu.
    """
    cv = 1.0 if d.kind == "exponential" else float(d.cv)  # type: ignore[arg-type]
    x = draw(d, np.random.default_rng(777), N)
    m, var, mu4 = theory(d)
    assert math.sqrt(var) / m == pytest.approx(cv)
    e_v = Z * math.sqrt((mu4 - var * var) / N) / var
    e_m = Z * math.sqrt(var / N) / m
    cv_hat = x.std(ddof=1) / x.mean()
    assert cv * math.sqrt(1 - e_v) / (1 + e_m) <= cv_hat <= cv * math.sqrt(1 + e_v) / (1 - e_m)


@pytest.mark.statistical
def test_empirical_frequencies() -> None:
    """Each empirical value is drawn with its normalised weight (5 binomial standard errors)."""
    d = Dist(kind="empirical", values=[1.0, 7.0, 30.0], weights=[2.0, 5.0, 3.0])
    x = draw(d, np.random.default_rng(99), N)
    assert set(np.unique(x)) <= {1.0, 7.0, 30.0}
    for v, p in zip(d.values, (0.2, 0.5, 0.3)):
        share = float(np.mean(x == v))
        assert abs(share - p) <= Z * math.sqrt(p * (1 - p) / N)


@pytest.mark.statistical
def test_triangular_range_and_mode() -> None:
    """Triangular draws stay in [low, high] and pile up near the mode (parameters not swapped)."""
    d = Dist(kind="triangular", low=2.0, mode=3.0, high=10.0)
    x = draw(d, np.random.default_rng(5), N)
    assert x.min() >= 2.0 and x.max() <= 10.0
    # P(X <= mode) = (mode - low) / (high - low) = 1/8; 5 binomial SE.
    p = 1.0 / 8.0
    assert abs(float(np.mean(x <= 3.0)) - p) <= Z * math.sqrt(p * (1 - p) / N)


@pytest.mark.unit
def test_fixed_infinite_mean_means_never() -> None:
    """`fixed` with mean inf (patience without limit) is valid and draws inf every time."""
    d = Dist(kind="fixed", mean=math.inf)
    assert problem(d) is None
    assert np.all(np.isinf(draw(d, np.random.default_rng(0), 10)))


@pytest.mark.unit
def test_draw_unknown_kind_raises() -> None:
    """`sampler` refuses a kind it does not know rather than returning something silently."""
    with pytest.raises(ValueError, match="triangle"):
        draw(Dist(kind="triangle", low=0.0, mode=1.0, high=2.0), np.random.default_rng(0), 3)


# ----------------------------------------------------------------------------- problem()
INVALID: list[tuple[Dist, str]] = [
    (Dist(kind="triangle", low=0.0, mode=1.0, high=2.0), "kind"),
    (Dist(kind="fixed"), "mean"),
    (Dist(kind="fixed", mean=-1.0), "mean"),
    (Dist(kind="fixed", mean=math.nan), "mean"),
    (Dist(kind="exponential", mean=-2.0), "mean"),
    (Dist(kind="exponential", mean=0.0), "mean"),
    (Dist(kind="gamma", mean=-10.0, cv=0.5), "mean"),
    (Dist(kind="gamma", mean=0.0, cv=0.5), "mean"),
    (Dist(kind="gamma", mean=math.inf, cv=0.5), "mean"),
    (Dist(kind="gamma", mean=10.0, cv=0.0), "cv"),
    (Dist(kind="gamma", mean=10.0, cv=-1.0), "cv"),
    (Dist(kind="gamma", mean=10.0), "cv"),
    (Dist(kind="lognormal", mean=10.0, cv=0.0), "cv"),
    (Dist(kind="lognormal", mean=10.0, cv=math.inf), "cv"),
    (Dist(kind="lognormal", mean=-3.0, cv=0.5), "mean"),
    (Dist(kind="triangular", low=1.0, mode=5.0, high=4.0), "mode"),  # mode above high
    (Dist(kind="triangular", low=3.0, mode=1.0, high=4.0), "mode"),  # mode below low
    (Dist(kind="triangular", low=2.0, mode=2.0, high=2.0), "mode"),  # degenerate
    (Dist(kind="triangular", low=-1.0, mode=0.0, high=2.0), "mode"),  # negative duration
    (Dist(kind="triangular", low=0.0, mode=1.0), "high"),
    (Dist(kind="uniform", low=5.0, high=5.0), "high"),
    (Dist(kind="uniform", low=5.0, high=1.0), "high"),
    (Dist(kind="uniform", low=-1.0, high=1.0), "high"),
    (Dist(kind="uniform", low=0.0, high=math.inf), "high"),
    (Dist(kind="empirical", values=[], weights=[]), "values"),
    (Dist(kind="empirical", values=[1.0, -2.0], weights=[1.0, 1.0]), "values"),
    (Dist(kind="empirical", values=[1.0, 2.0, 3.0], weights=[1.0, 1.0]), "weights"),
    (Dist(kind="empirical", values=[1.0, 2.0], weights=[1.0, -1.0]), "weights"),
    (Dist(kind="empirical", values=[1.0, 2.0], weights=[0.0, 0.0]), "weights"),
]


@pytest.mark.parametrize(("d", "name"), INVALID, ids=[f"{d.kind}-{n}-{i}" for i, (d, n) in enumerate(INVALID)])
@pytest.mark.unit
def test_problem_rejects_invalid(d: Dist, name: str) -> None:
    """`problem` names the bad field, echoes its value and states an allowed range."""
    bad = problem(d)
    assert bad is not None
    field_, value, allowed = bad
    assert field_ == name
    got = getattr(d, name)
    assert value is got or value == got or (isinstance(got, float) and math.isnan(got) and math.isnan(value))
    assert isinstance(allowed, str) and allowed


@pytest.mark.parametrize("d", [*CASES, Dist(kind="fixed", mean=0.0),
                               Dist(kind="triangular", low=1.0, mode=4.0, high=4.0),
                               Dist(kind="empirical", values=[0.0, 3.0], weights=[0.0, 1.0])], ids=_id)
@pytest.mark.unit
def test_problem_accepts_valid(d: Dist) -> None:
    """Valid parameters (including edge cases: mean 0, mode at an end, a zero weight) pass."""
    assert problem(d) is None


# ----------------------------------------------------------------------------- streams
def _first(seed: int, rep: int, name: str, n: int = 50) -> np.ndarray:
    return Streams(seed, rep).generator(name).random(n)


@pytest.mark.unit
def test_same_stream_same_draws() -> None:
    """The same (seed, replication, name) gives identical draws from independently built streams."""
    np.testing.assert_array_equal(_first(11, 3, "engagement.assessment"), _first(11, 3, "engagement.assessment"))


@pytest.mark.parametrize(("other"), [(11, 3, "engagement.patience"), (11, 4, "engagement.assessment"),
                                     (12, 3, "engagement.assessment")], ids=["name", "replication", "seed"])
@pytest.mark.unit
def test_different_stream_different_draws(other: tuple[int, int, str]) -> None:
    """Changing the name, the replication or the root seed changes the draws."""
    a = _first(11, 3, "engagement.assessment")
    b = _first(*other)
    assert not np.any(a == b)  # 50 continuous uniforms: a coincidence has probability ~0


@pytest.mark.unit
def test_replication_is_child_of_root_seed() -> None:
    """Replication r's streams descend from the root seed's r-th spawned child, as documented."""
    child = np.random.SeedSequence(11).spawn(4)[3]
    ss = seed_sequence(11, 3, "x")
    assert ss.entropy == child.entropy and ss.spawn_key[:1] == child.spawn_key == (3,)


@pytest.mark.system
def test_stream_names_are_stable_across_processes() -> None:
    """Name keys must not depend on Python's per-process string hash (PYTHONHASHSEED)."""
    code = ("from sim.params.streams import Streams; "
            "print(repr(Streams(11, 3).generator('job_search.duration').random()))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout.strip() for h in (1, 2)}
    assert outs == {repr(float(_first(11, 3, "job_search.duration", 1)[0]))}


@pytest.mark.unit
def test_adding_a_stream_does_not_change_another() -> None:
    """Common random numbers: a stream's draws do not depend on which other streams exist."""
    s1 = Streams(5, 0)
    s1.generator("new.source").random(1000)
    a = s1.generator("recruitment.decisions").random(20)
    b = Streams(5, 0).generator("recruitment.decisions").random(20)
    np.testing.assert_array_equal(a, b)


@pytest.mark.unit
def test_stream_name_taken_twice_is_an_error() -> None:
    """Two sources sharing one stream would silently correlate them: it is refused."""
    s = Streams(1, 0)
    s.generator("a")
    with pytest.raises(ValueError, match="'a'"):
        s.generator("a")


@pytest.mark.unit
def test_sampler_order_matches_blocks() -> None:
    """A Sampler hands out each block of `draw` in full (popped from its end), block after block."""
    d = Dist(kind="gamma", mean=21.0, cv=0.6)
    sampler = Streams(8, 2).sampler("job_search.duration", d)
    got = [sampler() for _ in range(2 * BLOCK + 7)]
    g = np.random.Generator(np.random.PCG64(seed_sequence(8, 2, "job_search.duration")))
    b1, b2, b3 = draw(d, g, BLOCK), draw(d, g, BLOCK), draw(d, g, BLOCK)
    expected = [*b1[::-1].tolist(), *b2[::-1].tolist(), *b3[::-1].tolist()[:7]]
    assert got == expected
    assert all(type(v) is float for v in got[:5])  # plain floats, not numpy scalars


@pytest.mark.unit
def test_two_samplers_built_alike_agree() -> None:
    """Two Samplers on equally seeded generators give the same sequence across block refills."""
    def make() -> Sampler:
        return Sampler(np.random.default_rng(31), lambda g, n: g.exponential(2.0, n))

    a, b = make(), make()
    assert [a() for _ in range(3 * BLOCK)] == [b() for _ in range(3 * BLOCK)]


@pytest.mark.statistical
def test_sampler_mean() -> None:
    """Many Sampler draws have the distribution's mean (5 standard errors, sigma = cv * mean)."""
    d = Dist(kind="lognormal", mean=30.0, cv=0.5)
    s = Streams(3, 1).sampler("checks", d)
    n = 100_000
    x = np.fromiter((s() for _ in range(n)), float, n)
    assert abs(x.mean() - 30.0) <= Z * 0.5 * 30.0 / math.sqrt(n)


@pytest.mark.statistical
def test_exponential_stream() -> None:
    """`Streams.exponential` gives Exp(1) (mean 1, sd 1)."""
    s = Streams(4, 0).exponential("x")
    n = 100_000
    x = np.fromiter((s() for _ in range(n)), float, n)
    mean, sd = 1.0, 1.0
    assert x.min() >= 0.0
    assert abs(x.mean() - mean) <= Z * sd / math.sqrt(n)
