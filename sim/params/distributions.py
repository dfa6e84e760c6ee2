"""Probability distributions for durations and patience, as first-class objects.

A distribution is configured by its mean and coefficient of variation where that makes
sense (gamma, lognormal, exponential), or by its natural parameters (triangular, uniform,
empirical). `sampler(d)` is the function that draws a block of samples: the model never draws
numpy scalars one at a time (see `streams.Sampler`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

KINDS = ("fixed", "exponential", "gamma", "lognormal", "triangular", "uniform", "empirical")


@dataclass
class Dist:
    """Config schema of a distribution (days). Which fields apply depends on `kind`.

    fixed: mean. exponential: mean. gamma, lognormal: mean and cv.
    triangular: low, mode, high. uniform: low, high. empirical: values and weights.
    `inf` as a fixed mean means "never" (for example, patience without limit).
    """

    kind: str = "fixed"
    mean: float | None = None
    cv: float | None = None
    low: float | None = None
    mode: float | None = None
    high: float | None = None
    values: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


def problem(d: Dist) -> tuple[str, object, str] | None:
    """The first invalid parameter of `d` as (field, value, allowed range), or None."""
    if d.kind not in KINDS:
        return "kind", d.kind, f"one of {', '.join(KINDS)}"
    if d.kind in ("fixed", "exponential", "gamma", "lognormal"):
        if d.mean is None or not (d.mean >= 0):
            return "mean", d.mean, "a number >= 0"
        if d.kind == "exponential" and not (d.mean > 0):
            return "mean", d.mean, "a number > 0"
        if d.kind in ("gamma", "lognormal"):
            if not (0 < d.mean < math.inf):
                return "mean", d.mean, "a finite number > 0"
            if d.cv is None or not (0 < d.cv < math.inf):
                return "cv", d.cv, "a finite number > 0"
    elif d.kind == "triangular":
        if d.low is None or d.mode is None or d.high is None:
            return next(name for name in ("low", "mode", "high") if getattr(d, name) is None), None, "a number >= 0"
        if not (0 <= d.low <= d.mode <= d.high) or d.low == d.high:
            return "mode", d.mode, f"0 <= low ({d.low}) <= mode <= high ({d.high}), low < high"
    elif d.kind == "uniform":
        if d.low is None or d.high is None or not (0 <= d.low < d.high < math.inf):
            return "high", d.high, f"a finite number > low ({d.low}) >= 0"
    elif d.kind == "empirical":
        if not d.values:
            return "values", d.values, "a non-empty list of numbers >= 0"
        if any(not (v >= 0) for v in d.values):
            return "values", d.values, "numbers >= 0"
        if len(d.weights) != len(d.values):
            return "weights", d.weights, f"{len(d.values)} weights, one per value"
        if any(not (w >= 0) for w in d.weights) or sum(d.weights) <= 0:
            return "weights", d.weights, "numbers >= 0 with a positive sum"
    return None


def _given(x: float | None) -> float:
    """A parameter of a valid distribution (`problem` is None): there for its kind."""
    if x is None:
        raise ValueError("a parameter of the distribution is missing (check it with `problem` first)")
    return x


def sampler(d: Dist) -> Callable[[np.random.Generator, int], np.ndarray]:
    """`fill(rng, n)`: a block of `n` samples of `d` from `rng`, its parameters worked out once (the
    model fills a block per stage every few hundred residents)."""
    k = d.kind
    if k == "fixed":
        mean = float(_given(d.mean))
        return lambda rng, n: np.full(n, mean)
    if k == "exponential":
        mean = _given(d.mean)
        return lambda rng, n: rng.exponential(mean, n)
    if k == "gamma":
        cv = _given(d.cv)
        shape = 1.0 / (cv * cv)
        scale = _given(d.mean) / shape
        return lambda rng, n: rng.gamma(shape, scale, n)
    if k == "lognormal":
        cv = _given(d.cv)
        s2 = math.log1p(cv * cv)
        mu, sigma = math.log(_given(d.mean)) - s2 / 2.0, math.sqrt(s2)
        return lambda rng, n: rng.lognormal(mu, sigma, n)
    if k == "triangular":
        low, mode, high = _given(d.low), _given(d.mode), _given(d.high)
        return lambda rng, n: rng.triangular(low, mode, high, n)
    if k == "uniform":
        low, high = _given(d.low), _given(d.high)
        return lambda rng, n: rng.uniform(low, high, n)
    if k == "empirical":
        w = np.asarray(d.weights, float)
        values, p = np.asarray(d.values, float), w / w.sum()
        return lambda rng, n: rng.choice(values, size=n, p=p)
    raise ValueError(f"unknown distribution kind {k!r}")

