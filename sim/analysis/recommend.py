"""Which option to fund, per effect, from the parameter sets: the decision rule of cost-effectiveness analysis
(the highest expected net benefit at the willingness to pay; the reference, funding nothing, scores 0), how sure
it is (the probability each option is the best buy), what it buys (the effect and cost against the reference,
expected value with the 2.5-97.5% points over the sets: parameters and noise together), what it turns on (the
parameters whose perfect knowledge would be worth most, EVPPI) and whether the choice holds across the
willingness to pay's range. Numbers only: the words are `sim.outputs.recommendation`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from sim.analysis.psa import (
    EFFECTS,
    acceptability,
    differences,
    effect_of,
    evpi_estimates,
    evppi_estimates,
    net_benefit,
)
from sim.params.ranges import Parameter

DRIVERS = 3  # the parameters a recommendation names
WORTH = 1.0  # GBP: an EVPPI below a pound is no reason to name a parameter


@dataclass(frozen=True)
class Range:
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, xs: np.ndarray) -> Range:
        lo, hi = np.percentile(xs, [2.5, 97.5])
        return cls(float(xs.mean()), float(lo), float(hi))


@dataclass(frozen=True)
class Recommendation:
    """One effect's answer at its willingness to pay."""

    effect: str  # psa.EFFECTS' key: sustained_job | vacancy_year
    wtp: float  # GBP per unit of the effect
    fund: str  # the option with the highest expected net benefit (the reference: fund none)
    reference: str
    p_best: dict[str, float]  # each option's probability of being the best buy
    expected_nmb: dict[str, float]  # GBP, against the reference
    gain: Range  # the funded option's effect in the effect's unit (0 when it is the reference)
    cost: Range  # GBP
    runner_up: str  # the option with the next highest expected net benefit
    drivers: list[tuple[str, float, float]]  # (parameter, EVPPI, its standard error; GBP), largest first, <= DRIVERS
    evpi: float  # GBP: the value of knowing every uncertain number (simulation noise taken out)
    evpi_se: float
    wtp_range: tuple[float, float]
    fund_at_range: tuple[str, str]  # the option to fund at each end of the range
    sets: int

    def to_json(self) -> dict:
        return asdict(self)


def recommend(records: dict[str, dict], ids: Sequence[str], names: list[str], reference: str, effect: str,
              wtp: float, wtp_range: tuple[float, float], params: list[Parameter], u: np.ndarray) -> Recommendation:
    """The answer for one effect from the records of the sets `ids` (every option, the reference included, in
    `names`); `u` holds each set's point of the unit cube, one column per varied parameter in `params`."""
    kpi, sign = effect_of(effect)
    e = np.column_stack([sign * differences(records, ids, n, reference, kpi).mean(axis=1) for n in names])
    c = np.column_stack([differences(records, ids, n, reference, "programme_cost").mean(axis=1) for n in names])

    def best_at(w: float) -> str:
        return names[int(np.argmax(net_benefit(e, c, w).mean(axis=0)))]

    nmb = net_benefit(e, c, wtp)
    p, evpi_ = acceptability(nmb)  # evpi_: with the noise; used only when no parameter varies
    order = np.argsort(-nmb.mean(axis=0), kind="stable")
    j = int(order[0])
    ranked = sorted(((evppi_estimates(e, c, u[:, k], [wtp], se=False)[0].value, k) for k in range(len(params))),
                    reverse=True)  # every parameter's EVPPI; the standard error only for those named
    drivers = [(params[k].name, v.value, v.se) for k in (k for value, k in ranked[:DRIVERS] if value >= WORTH)
               for v in evppi_estimates(e, c, u[:, k], [wtp])]
    total = evpi_estimates(e, c, u, [wtp])[0] if len(params) else None
    return Recommendation(
        effect, wtp, names[j], reference, {n: float(p[i]) for i, n in enumerate(names)},
        {n: float(nmb[:, i].mean()) for i, n in enumerate(names)}, Range.of(e[:, j]), Range.of(c[:, j]),
        names[int(order[1])] if len(names) > 1 else names[j], drivers[:DRIVERS],
        total.value if total else evpi_, total.se if total else 0.0, wtp_range,
        (best_at(wtp_range[0]), best_at(wtp_range[1])), len(ids))


def recommendations(records: dict[str, dict], ids: Sequence[str], names: list[str], reference: str,
                    wtp: dict[str, float], wtp_range: dict[str, tuple[float, float]], params: list[Parameter],
                    u: np.ndarray) -> list[Recommendation]:
    """One recommendation per effect (psa.EFFECTS' order)."""
    return [recommend(records, ids, names, reference, effect, wtp[effect], wtp_range[effect], params, u)
            for effect in EFFECTS]
