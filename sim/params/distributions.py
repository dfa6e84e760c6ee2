"""Probability distributions for durations and patience, as first-class objects.

A distribution is configured by its mean and coefficient of variation where that makes
sense (gamma, lognormal, exponential), or by its natural parameters (triangular, uniform,
empirical). `draw(d, rng, n)` returns a block of `n` samples (`sampler(d)` is the function that
makes them): the model never draws numpy scalars one at a time (see `streams.Sampler`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

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
        for name in ("low", "mode", "high"):
            if getattr(d, name) is None:
                return name, None, "a number >= 0"
        if not (0 <= d.low <= d.mode <= d.high) or d.low == d.high:  # type: ignore[operator]
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


def mean_of(d: Dist) -> float:
    """The distribution's mean (used for reporting and for Little's-law checks)."""
    if d.kind in ("fixed", "exponential", "gamma", "lognormal"):
        return float(d.mean)  # type: ignore[arg-type]
    if d.kind == "triangular":
        return (d.low + d.mode + d.high) / 3.0  # type: ignore[operator]
    if d.kind == "uniform":
        return (d.low + d.high) / 2.0  # type: ignore[operator]
    w = np.asarray(d.weights, float)
    return float(np.dot(d.values, w / w.sum()))


def sampler(d: Dist) -> Callable[[np.random.Generator, int], np.ndarray]:
    """`fill(rng, n)`: a block of `n` samples of `d` from `rng`, its parameters worked out once (the
    model fills a block per stage every few hundred residents)."""
    k = d.kind
    if k == "fixed":
        mean = float(d.mean)  # type: ignore[arg-type]
        return lambda rng, n: np.full(n, mean)
    if k == "exponential":
        return lambda rng, n: rng.exponential(d.mean, n)
    if k == "gamma":
        shape = 1.0 / (d.cv * d.cv)  # type: ignore[operator]
        scale = d.mean / shape  # type: ignore[operator]
        return lambda rng, n: rng.gamma(shape, scale, n)
    if k == "lognormal":
        s2 = math.log1p(d.cv * d.cv)  # type: ignore[operator]
        mu, sigma = math.log(d.mean) - s2 / 2.0, math.sqrt(s2)  # type: ignore[arg-type]
        return lambda rng, n: rng.lognormal(mu, sigma, n)
    if k == "triangular":
        return lambda rng, n: rng.triangular(d.low, d.mode, d.high, n)
    if k == "uniform":
        return lambda rng, n: rng.uniform(d.low, d.high, n)
    if k == "empirical":
        w = np.asarray(d.weights, float)
        values, p = np.asarray(d.values, float), w / w.sum()
        return lambda rng, n: rng.choice(values, size=n, p=p)
    raise ValueError(f"unknown distribution kind {k!r}")


def draw(d: Dist, rng: np.random.Generator, n: int) -> np.ndarray:
    """A block of `n` samples of `d` from `rng`."""
    return sampler(d)(rng, n)
