"""What the model reads: parameters resolved once, every changeable number a schedule over time.

`sim.params.plan.resolve` builds a `Resolved` from the validated config with the interventions
applied; the model takes it as it is and never goes back to the config to ask for a value. A
number that can change is a `Piecewise` step function of simulated time (days; the reported
window starts at day 0); a duration is its distribution with a `Piecewise` scale.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from sim.params.distributions import Dist


class Piecewise:
    """A step function of simulated time: `values[i]` from `times[i]` on."""

    __slots__ = ("times", "values", "const")

    def __init__(self, times: list[float], values: list[float]):
        self.times, self.values = times, values
        self.const = values[0] if len(values) == 1 else None

    def at(self, t: float) -> float:
        """The value at `t`; before the first time (the warm-up), the first value."""
        if self.const is not None:
            return self.const
        return self.values[max(0, bisect.bisect_right(self.times, t) - 1)]

    def max(self) -> float:
        return max(self.values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Piecewise) and (self.times, self.values) == (other.times, other.values)

    def __repr__(self) -> str:
        return f"Piecewise({self.times}, {self.values})"


def constant(x: float) -> Piecewise:
    return Piecewise([0.0], [float(x)])


def product(a: Piecewise, b: Piecewise) -> Piecewise:
    """The step function a(t) x b(t) (e.g. advisers x caseload per adviser)."""
    times = sorted(set(a.times) | set(b.times))
    return Piecewise(times, [a.at(t) * b.at(t) for t in times])


def plus(a: Piecewise, b: Piecewise) -> Piecewise:
    """The step function a(t) + b(t) (a stage's places and an intervention's own); `a` itself if b is 0 throughout."""
    if b.const == 0.0:
        return a
    times = sorted(set(a.times) | set(b.times))
    return Piecewise(times, [a.at(t) + b.at(t) for t in times])


def change(op: str, x: float, value: float, high: float = math.inf) -> float:
    """`x` after an intervention's change: set to `value`, scaled by it, or with it added; within [0, high]
    (`high` 1 for a probability: changes stacked on one cannot make it more than certain)."""
    return min(high, max(0.0, value if op == "set" else x * value if op == "scale" else x + value))


@dataclass
class Duration:
    """A duration or a patience: each resident's own draw of `dist`, times `scale` at the time it is used."""

    dist: Dist
    scale: Piecewise


@dataclass
class ChannelPlan:
    """A referral channel: its rate over time (referrals per year) while active in [start, end) (a channel
    from day 0 starts with the warm-up; referrals stop at the horizon), ramping up linearly over `ramp` days
    from `start`, and the profile of the residents it reaches."""

    name: str
    rate: Piecewise
    start: float
    end: float
    ramp: float
    quintile: list[float]  # cumulative shares (the last one just above 1)
    band: list[float]
    qualification: list[float]
    preference: list[float]
    needs: dict[str, float]  # each need's resident flag (`NEEDS`) -> the share of residents with it
    deadweight: float


@dataclass
class SupportPlan:
    """A support stage: who needs it (a resident attribute), its places, and how long one is held."""

    name: str
    needs: str  # attribute of `Resident` that sends a resident here
    places: Piecewise
    patience: Duration
    duration: Duration | None  # None: the place is held until the job starts
    completion: Piecewise


@dataclass
class CoursePlan:
    """A training course with cohort intakes every `every` days from day `first` (their cycle runs back into the
    warm-up)."""

    name: str
    seats: Piecewise
    first: float
    every: float
    duration: Duration
    patience: Duration
    completion: Piecewise
    quals: tuple[int, ...]
    sectors: tuple[str, ...]
    weight: float
    roles: list[str]


@dataclass
class UsageRule:
    """Entrants of `stage` (from `channel`, or any if None) in [start, end) are charged to intervention `name`."""

    name: str
    stage: int
    channel: int | None
    start: float
    end: float


@dataclass
class ServePlan:
    """An intervention's own places at a stage and its effects on the residents who hold one.

    `places` are part of the stage's capacity (counted in its places), a share tagged as the intervention's;
    `effects` are (name in the journey's `Levels`, op, value): they change that number for the residents who
    hold, or have held, one of these places, and for no one else.
    """

    name: str
    stage: int
    places: Piecewise
    effects: list[tuple[str, str, float]]


@dataclass
class Resolved:
    """Every number the model reads, resolved once (interventions applied)."""

    stages: tuple[str, ...]
    channels: list[ChannelPlan]
    advisers: Piecewise  # caseload places: advisers x caseload per adviser
    adviser_patience: Duration
    assessment: Duration
    dropout: Piecewise
    support: list[SupportPlan]
    need_course: list[float]  # by qualification
    courses: list[CoursePlan]
    search: Duration
    vacancy_patience: Duration
    max_applications: int
    shortlisting: Piecewise
    interview_slots: Piecewise
    interview_duration: Duration
    interview_patience: Duration
    interview_pass: Piecewise
    offer_acceptance: Piecewise
    checks: Duration
    checks_pass: Piecewise
    withdrawal_patience: Duration
    first_year_leaving: dict[str, Piecewise]  # by role
    first_year_leaving_scale: dict[tuple[str, str], Piecewise]  # by (role, employer group): a post's own factor
    entry_roles: list[str]  # roles open to residents without a course
    workforce: dict[str, Piecewise]  # the demand side's changeable numbers, by config path (turnover, promotion shares)
    usage: list[UsageRule] = field(default_factory=list)
    serves: list[ServePlan] = field(default_factory=list)  # interventions' own places and their holders' effects
