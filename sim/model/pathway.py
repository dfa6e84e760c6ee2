"""The supply side: residents arrive through referral channels and move along the pathway.

Each resident is one light SimPy process (`Pathway.journey`, run by `clock.begin`) that reads like the route itself:
engagement with an adviser -> the support stages they need (from `pathway.support`: childcare,
digital skills, health and confidence, ...) -> a course if they need one -> job search for an
open post they can do -> shortlisting, interview, offer, acceptance -> pre-employment checks ->
start -> first year. Every exit is recorded with its stage and reason (`Funnel`), and every
place a resident holds is given back on every way out (requests are context managers).

Common random numbers per person: every number a resident may use comes from their own row of
draws (`Streams.residents`: the k-th referral of a channel gets row k), made at referral whatever
path they take. The journey reads each by name (`r.u[draws.engagement.dropout]`, `sim.model.draws`) and
never draws from a shared stream, so one extra arrival or one changed branch leaves everyone else's draws
as they were.
Referrals come by inverting the channel's cumulative intensity (`Intensity`): a rate change from
day t leaves every referral before t where it was. The changeable numbers the journey reads
(probabilities, the scales of durations) are plain attributes kept at their schedule's value
(`follow`, `Levels`), not looked up in the schedule at every use.

An intervention acts through the people it serves: its own places at a stage (`ServePlan`) are a
tagged share of that stage's capacity, and a resident granted one of them reads, from then on, a
`Levels` with the intervention's effects (`r.lv`); everyone else reads the region's. Who gets a
tagged place uses no random draw, so it moves nobody's draws.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import cast

import simpy

from sim.model.capacity import Capacity, Cohorts, Request, WaitStats
from sim.model.clock import begin
from sim.model.draws import Draws, Stage
from sim.model.workforce import Cell, Workforce
from sim.params.schedule import ChannelPlan, CoursePlan, Piecewise, Resolved, SupportPlan, change, constant
from sim.params.schema import DEPRIVATION_QUINTILES, NEEDS, SECTORS
from sim.params.streams import Sampler, Streams

SIX_MONTHS = 365.0 / 2.0
YEAR = 365.0


class Resident:
    """A person on the pathway: attributes drawn once, at referral, from the channel's profile.

    Their needs are flags named by `NEEDS` (`parent`, `health`, `digital`): a new need is a new flag.
    """

    __slots__ = ("channel", "index", "u", "t_arrive", "quintile", "band", "qual", "sectors", "deadweight", "stage",
                 "counted", "t_stage", "lv", "holds", *NEEDS.values())
    parent: bool  # the flags of `NEEDS`, set from `needs` (tests/test_tools.py checks these are NEEDS' values)
    health: bool
    digital: bool

    def __init__(self, channel: int, index: int, u: Sequence[float], t: float, counted: bool, quintile: int,
                 band: int, needs: Iterable[tuple[str, bool]], qual: int, sectors: tuple[str, ...],
                 deadweight: float, lv: Levels):
        self.channel = channel
        self.index = index  # arrival index within the channel: with `channel`, who this is in every scenario
        self.u = u  # the resident's own draws (see `Draws`)
        self.t_arrive = t
        self.counted = counted
        self.quintile = quintile
        self.band = band
        for flag, has in needs:
            setattr(self, flag, has)
        self.qual = qual
        self.sectors = sectors
        self.deadweight = deadweight
        self.stage = -1
        self.t_stage = t  # when the resident entered the stage they are in
        self.lv = lv  # the changeable numbers they read: the region's, or a place holder's (`Pathway._holding`)
        self.holds: tuple[int, ...] = ()  # the interventions (`Resolved.serves`) whose places they hold or held


class Funnel:
    """Counts per stage: entries, people now in it, time spent in it, exits by reason.

    The time-weighted number in a stage over [t0, T] is `time_in_stage(s, T) / (T - t0)`: the
    sum of everyone's time in the stage (stays not finished counted up to T). `snapshot` keeps
    the number in each stage at regular times (L, sampled), and each stay that overlaps the window is
    timed from the resident's own entry time (or t0), up to its end (or T) (`stay_time`, `stays`: W,
    apart from L's bookkeeping), so `pathways-verify littles-law` can compare L with lambda x W, the
    finite-window form of the law, exact whatever the stage's transient: lambda = stays overlapping
    the window / (T - t0) (those present at t0 and those entering in it), W = their mean time in it.
    """

    def __init__(self, env: simpy.Environment, n: int):
        self.env = env
        self.in_post = n - 1  # the last stage
        self.entered = [0] * n
        self.current = [0] * n
        # time spent in the stage so far, less `now` for everyone in it: adding `current x T`
        # gives the total time spent up to T (one running sum instead of per-resident entry times)
        self.time_acc = [0.0] * n
        self.snapshots: list[list[int]] = []  # number in each stage, at the model's record times after t0
        self.left: dict[tuple[int, str], int] = {}  # (stage, reason) -> count, reason of leaving the stage
        self.exits: dict[tuple[int, str], int] = {}  # (stage, reason) -> count, left the pathway
        self.successes = 0  # completed the first year in post
        self.arrived = 0
        self.pending = 0  # residents referred in the reported window who have neither started nor left
        self.stay_time = [0.0] * n  # time within [t0, t_end] of the stays that overlap it and have ended
        self.stays = [0] * n
        self.open_start = [0.0] * n  # sum of max(entry, t0) over the residents now in each stage
        self.t0 = env.now
        self.t_end = math.inf  # the window's end: `close_window` times the stays still open then

    def enter(self, r: Resident, s: int) -> None:
        now = self.env.now
        old = r.stage
        acc = self.time_acc
        cur = self.current
        if old >= 0:
            cur[old] -= 1
            acc[old] += now
            self._time_stay(r, old, now)
        r.t_stage = now
        self.open_start[s] += now
        cur[s] += 1
        acc[s] -= now
        self.entered[s] += 1
        r.stage = s
        if s == self.in_post and r.counted:
            self.pending -= 1

    def note(self, r: Resident, reason: str) -> None:
        """Record an outcome within the stage that does not end the pathway (e.g. rejected, reapplies)."""
        key = (r.stage, reason)
        self.left[key] = self.left.get(key, 0) + 1

    def exit(self, r: Resident, reason: str, success: bool = False) -> None:
        s = r.stage
        now = self.env.now
        if s != self.in_post and r.counted:
            self.pending -= 1
        self.current[s] -= 1
        self.time_acc[s] += now
        self._time_stay(r, s, now)
        key = (s, reason)
        self.left[key] = self.left.get(key, 0) + 1
        if success:
            self.successes += 1
        else:
            self.exits[key] = self.exits.get(key, 0) + 1
        r.stage = -2

    def _time_stay(self, r: Resident, s: int, now: float) -> None:
        """A stay in `s` ends at `now`: its time within the window, if it ended there (W)."""
        start = r.t_stage if r.t_stage > self.t0 else self.t0
        self.open_start[s] -= start
        if now < self.t_end:
            self.stay_time[s] += now - start
            self.stays[s] += 1

    def close_window(self, t_end: float) -> None:
        """The window ends at `t_end`: the stays still open are timed up to it, and no later end is."""
        self.t_end = t_end
        for s, n in enumerate(self.current):
            self.stay_time[s] += n * t_end - self.open_start[s]
            self.stays[s] += n

    def snapshot(self) -> None:
        self.snapshots.append(list(self.current))

    def time_in_stage(self, s: int, until: float) -> float:
        """Total time spent in stage `s` from t0 to `until`, including the unfinished stays of those still in it."""
        return self.time_acc[s] + self.current[s] * until

    def reset_stats(self) -> None:
        """End of warm-up: stage statistics restart, as if everyone present had just entered.

        `arrived`, `current`, `exits` and `successes` are not reset: they keep the whole run's
        conservation of people (everyone who arrived is in one stage or has left).
        """
        now = self.env.now
        self.t0 = now
        self.snapshots = []
        self.entered = list(self.current)
        self.time_acc = [-c * now for c in self.current]
        self.left = {}
        self.stay_time = [0.0] * len(self.current)
        self.stays = [0] * len(self.current)
        self.open_start = [c * now for c in self.current]


StarterKey = tuple[int, int, int, int, bool, bool]  # role, employer group, quintile, channel, parent, health


@dataclass(slots=True)
class Starts:
    """The starters of one StarterKey, added up: each field a KPI of the same name, but eligible_6m and
    eligible_12m (those whose 6 or 12 months ended by the follow-up: the sustained rates' denominators)."""

    hires: float = 0.0
    net_hires: float = 0.0
    eligible_6m: float = 0.0
    sustained_6m: float = 0.0
    eligible_12m: float = 0.0
    sustained_12m: float = 0.0
    net_sustained_12m: float = 0.0


START_KPIS = tuple(f.name for f in fields(Starts))


class Outcomes:
    """Programme results accumulated as residents go (memory does not grow with residents who finished).

    Starters are counted by who they are and where they started (`StarterKey`), one small `Starts` per
    combination; `counts` adds them up into the report's groups at the end of the run.
    """

    def __init__(self, roles: list[str], groups: list[str], channels: list[str]) -> None:
        self.referrals: dict[int, int] = {}
        self.starters: dict[StarterKey, Starts] = {}
        self.early_leavers = 0
        self.to_start = WaitStats()
        self._labels = ([f"role:{x}" for x in roles], [f"employer:{x}" for x in groups],
                        [f"quintile:{q + 1}" for q in range(DEPRIVATION_QUINTILES)], [f"channel:{x}" for x in channels])

    def start(self, key: StarterKey, net: float, eligible_6m: bool, sustained_6m: bool, eligible_12m: bool,
              sustained_12m: bool) -> None:
        """A counted starter: net is their share not due to deadweight; sustained_* only if eligible_*."""
        row = self.starters.get(key)
        if row is None:
            row = self.starters[key] = Starts()
        row.hires += 1.0
        row.net_hires += net
        if eligible_6m:
            row.eligible_6m += 1.0
            row.sustained_6m += sustained_6m
        if eligible_12m:
            row.eligible_12m += 1.0
            if sustained_12m:
                row.sustained_12m += 1.0
                row.net_sustained_12m += net

    def counts(self) -> dict[tuple[str, str], float]:
        """Totals by (kpi, group): every START_KPIS for all, each role, employer group, quintile and
        channel; hires of parents and of people with a health condition; early leavers."""
        out: dict[tuple[str, str], float] = {("early_leavers", "all"): float(self.early_leavers)}
        roles, groups, quintiles, channels = self._labels
        for (role, group, quintile, channel, parent, health), row in self.starters.items():
            labels = ["all", roles[role], groups[group], quintiles[quintile], channels[channel]]
            for kpi in START_KPIS:
                x = getattr(row, kpi)
                for g in labels:
                    out[(kpi, g)] = out.get((kpi, g), 0.0) + x
            for flag, g in ((parent, "parents"), (health, "health_condition")):
                if flag:
                    out[("hires", g)] = out.get(("hires", g), 0.0) + row.hires
        return out


def use(cap: Capacity, hold: float, patience: float) -> Generator[simpy.Event, bool, bool]:
    """Queue for a place (giving up after `patience`), hold it `hold` days, give it back; False if given up.

    The model's own stage code, shared by support courses, interviews and `pathways-verify`.
    """
    with cap.request(patience) as req:
        if not (req.holding or (yield req)):
            return False
        yield cap.env.timeout(hold)
    return True


class Intensity:
    """A channel's referrals per day, lambda(t), and the inverse of its integral Lambda(t) from the start.

    On each piece [a, b) lambda is linear, lambda(t) = alpha + beta (t - a) (beta is not 0 only while
    the channel ramps up), so Lambda(t) = Lambda(a) + alpha (t - a) + beta (t - a)^2 / 2, inverted in
    closed form. Pieces are cut only where the rate changes, so a change from day t leaves the pieces
    before t, and every referral time computed on them, exactly as they were.
    """

    def __init__(self, rate: Piecewise, start: float, end: float, ramp: float = 0.0):
        ramp_end = start + ramp if ramp > 0 else start
        cuts = sorted({start, *(t for t in rate.times if start < t < end),
                       *([ramp_end] if start < ramp_end < end else [])})
        self.pieces: list[tuple[float, float, float, float, float]] = []  # (a, Lambda(a), alpha, beta, Lambda(b))
        if not start < end:
            return
        lam, prev = 0.0, None
        for a, b in zip(cuts, [*cuts[1:], end]):
            c = max(0.0, rate.at(a)) / YEAR
            if a < ramp_end:
                alpha, beta = c * (a - start) / ramp, c / ramp
            else:
                alpha, beta = c, 0.0
            if prev is not None and beta == 0.0 == prev[3] and alpha == prev[2]:
                a, lam, alpha, beta = prev[0], prev[1], prev[2], prev[3]  # same rate: one piece, as without the cut
                self.pieces.pop()
            w = b - a
            self.pieces.append((a, lam, alpha, beta, lam + alpha * w + 0.5 * beta * w * w))
            prev = self.pieces[-1]
            lam = prev[4]


def arrivals(env: simpy.Environment, intensity: Intensity, gap: Sampler,
             on_arrival: Callable[[], None]) -> Generator[simpy.Event, None, None]:
    """Poisson referrals with a time-varying rate: the points of a unit-rate process (sums of `gap`,
    Exp(1)) mapped through the inverse cumulative intensity, t = Lambda^-1(s)."""
    pieces, sqrt = intensity.pieces, math.sqrt
    if not pieces:
        return
    s, i, last = 0.0, 0, len(pieces) - 1
    a, lam, alpha, beta, top = pieces[0]
    while True:
        s += gap()
        while s >= top:
            if i == last:
                return
            i += 1
            a, lam, alpha, beta, top = pieces[i]
        x = s - lam
        t = a + x / alpha if beta == 0.0 else a + 2.0 * x / (alpha + sqrt(alpha * alpha + 2.0 * beta * x))
        yield env.timeout(max(0.0, t - env.now))
        on_arrival()


def follow(env: simpy.Environment, set_value: Callable[[float], None], schedule: Piecewise) -> None:
    """Keep a value at `schedule`'s: set now, and again at each later change time by a timer made now.

    A timer made when the model is built is the oldest event of its time, so it runs before anything
    else the model does then: every read gives what `schedule.at(now)` would, without a call.
    """
    set_value(schedule.at(env.now))
    if schedule.const is not None:
        return
    for t, v in zip(schedule.times, schedule.values):
        if t > env.now:
            env.timeout(t - env.now, v).callbacks.append(lambda timer: set_value(timer.value))


class StageLevels:
    """A support stage's or a course's changeable numbers as they stand now."""

    __slots__ = ("patience", "duration", "completion")  # two scales and a probability
    patience: float
    duration: float
    completion: float


class Levels:
    """The journey's changeable numbers as they stand now, as plain attributes, for one kind of resident:
    a duration's scale or a probability, by name (`schedules`); a support stage's and a course's in
    `support` and `courses`, a role's first-year leaving in `early_leaving`. The journey reads about
    twenty per resident.

    `Levels.region` holds the region's, each set by `follow` at its schedule's change times. `derive`
    gives those of the residents who also hold an intervention's place: these numbers with the
    intervention's effects, set through this object whenever one of them changes (by the region's
    timers, made when the model was built: a holder's numbers are never a step behind, whenever the
    first holder comes).
    """

    SCALES = ("adviser_patience", "assessment", "search", "vacancy_patience", "interview_duration",
              "interview_patience", "checks", "withdrawal_patience")
    PROBABILITIES = ("dropout", "shortlisting", "interview_pass", "offer_acceptance", "checks_pass")
    __slots__ = SCALES + PROBABILITIES + ("support", "courses", "early_leaving", "_names", "_setters", "_effects",
                                          "_early", "_now", "_derived")
    # SCALES and PROBABILITIES, set by name through `set` (tests/test_tools.py checks these are those names)
    adviser_patience: float
    assessment: float
    search: float
    vacancy_patience: float
    interview_duration: float
    interview_patience: float
    checks: float
    withdrawal_patience: float
    dropout: float
    shortlisting: float
    interview_pass: float
    offer_acceptance: float
    checks_pass: float

    def __init__(self, support: Sequence[str], courses: Sequence[str], roles: Sequence[str],
                 effects: Sequence[tuple[str, str, float]] = ()):
        self.support = [StageLevels() for _ in support]
        self.courses = [StageLevels() for _ in courses]
        self.early_leaving = [0.0] * len(roles)
        setters = {name: partial(setattr, self, name) for name in self.SCALES + self.PROBABILITIES}
        for kind, names, stages in (("support", support, self.support), ("course", courses, self.courses)):
            for name, st in zip(names, stages):
                setters.update({f"{kind}.{name}.{x}": partial(setattr, st, x) for x in StageLevels.__slots__})
        for i, role in enumerate(roles):
            setters[f"first_year_leaving.{role}"] = partial(self.early_leaving.__setitem__, i)
        self._early = frozenset(f"first_year_leaving.{role}" for role in roles)  # probabilities, as PROBABILITIES
        self._names = (support, courses, roles)
        self._setters = setters
        self._effects: dict[str, list[tuple[str, float]]] = {}
        for name, op, value in effects:
            self._effects.setdefault(name, []).append((op, value))
        self._now: dict[str, float] = {}  # this kind's numbers now (what `derive` starts from)
        self._derived: list[Levels] = []

    @classmethod
    def region(cls, env: simpy.Environment, plan: Resolved, roles: Sequence[str]) -> Levels:
        """The region's numbers, kept at their schedules' values (`early_leaving` in the order of `roles`)."""
        lv = cls([s.name for s in plan.support], [c.name for c in plan.courses], roles)
        for name, schedule in schedules(plan).items():
            follow(env, partial(lv.set, name), schedule)
        return lv

    def set(self, name: str, value: float) -> None:
        """Number `name` is now `value` for the kind this one derives from: this kind's is it with the effects."""
        high = 1.0 if name in self.PROBABILITIES or name.endswith(".completion") or name in self._early else math.inf
        for op, v in self._effects.get(name, ()):
            value = change(op, value, v, high)
        self._now[name] = value
        self._setters[name](value)
        for lv in self._derived:
            lv.set(name, value)

    def derive(self, effects: Sequence[tuple[str, str, float]]) -> Levels:
        """The numbers of residents of this kind who also hold a place with `effects` (from this one's now on)."""
        lv = Levels(*self._names, effects)
        for name, value in self._now.items():
            lv.set(name, value)
        self._derived.append(lv)
        return lv


def schedules(plan: Resolved) -> dict[str, Piecewise]:
    """Every changeable number the journey reads, by its name in `Levels` (the names of `ServePlan.effects`)."""
    out = {name: getattr(plan, name).scale for name in Levels.SCALES}
    out.update({name: getattr(plan, name) for name in Levels.PROBABILITIES})
    for s in plan.support:
        out[f"support.{s.name}.patience"] = s.patience.scale
        out[f"support.{s.name}.duration"] = constant(0.0) if s.duration is None else s.duration.scale  # held: unread
        out[f"support.{s.name}.completion"] = s.completion
    for c in plan.courses:
        out[f"course.{c.name}.patience"] = c.patience.scale
        out[f"course.{c.name}.duration"] = c.duration.scale
        out[f"course.{c.name}.completion"] = c.completion
    out.update({f"first_year_leaving.{role}": p for role, p in plan.first_year_leaving.items()})
    return out


class Pathway:
    """All capacities, streams and counters of the supply side, and the resident's journey."""

    def __init__(self, env: simpy.Environment, plan: Resolved, streams: Streams, workforce: Workforce,
                 run_end: float):
        self.env = env
        self.wf = workforce
        self.stages = plan.stages
        n_support = len(plan.support)
        self.ENGAGEMENT = 0
        self.TRAINING, self.JOB_SEARCH, self.RECRUITMENT, self.CHECKS, self.IN_POST = range(1 + n_support,
                                                                                             6 + n_support)
        self.journeys_ended = 0  # resident processes that have returned (an independent count of people)
        self.funnel = Funnel(env, len(self.stages))
        self.channel_names = [ch.name for ch in plan.channels]
        self.outcomes = Outcomes(workforce.roles, workforce.groups, self.channel_names)
        self.draws = lay = Draws(plan)
        # capacities, with the interventions' own places at each stage as tagged shares (in `plan.serves` order)
        self.serving = [[i for i, sv in enumerate(plan.serves) if sv.stage == s] for s in range(len(self.stages))]

        def shares(stage: int) -> list[Piecewise]:
            return [plan.serves[i].places for i in self.serving[stage]]

        self.advisers = Capacity(env, "advisers", plan.advisers, shares(self.ENGAGEMENT))
        self.levels = Levels.region(env, plan, workforce.roles)
        # a post's own factor on its role's first-year leaving, kept at its schedule's value
        self.early_scale = [[1.0] * len(workforce.groups) for _ in workforce.roles]
        for (role, group), schedule in plan.first_year_leaving_scale.items():
            row = self.early_scale[workforce.roles.index(role)]
            follow(env, partial(row.__setitem__, workforce.groups.index(group)), schedule)
        self._kinds: dict[tuple[int, ...], Levels] = {(): self.levels}  # by the interventions whose places were held
        self.served = [0] * len(plan.serves)  # residents referred in the window who held each one's places
        self.support = [_Support(s, 1 + i, i, Capacity(env, s.name, s.places, shares(1 + i)), lay.support[i])
                        for i, s in enumerate(plan.support)]
        self.interviews = Capacity(env, "interview_slots", plan.interview_slots)
        self.capacities: list[Capacity | Cohorts] = [self.advisers, *(s.cap for s in self.support), self.interviews]
        self.plan = plan
        self.courses = []
        for i, course in enumerate(plan.courses):
            cohorts = Cohorts(env, f"course:{course.name}", course.seats, course.first, course.every, run_end)
            self.capacities.append(cohorts)
            self.courses.append(_Course(course, i, cohorts, lay.courses[i]))
        self._eligible: dict[tuple[int, tuple[str, ...]], tuple[list[_Course], float]] = {}
        self.entry_roles = plan.entry_roles
        self._cells: dict[tuple, list[Cell]] = {}
        # channels
        for i, ch in enumerate(plan.channels):
            rows = streams.residents(ch.name, lay.groups)
            env.process(arrivals(env, Intensity(ch.rate, ch.start, ch.end, ch.ramp),
                                 streams.exponential(f"channel.{ch.name}.arrivals"), self._referral(i, ch, rows)))
        # interventions charged per person entering a stage while active
        self.usage: dict[str, int] = {rule.name: 0 for rule in plan.usage}
        self._usage_rules = [(rule.stage, -1 if rule.channel is None else rule.channel, rule.start, rule.end, rule.name)
                             for rule in plan.usage]
        if not self._usage_rules:
            # no usage rules: entering a stage is the funnel's alone, one call fewer (mypy forbids replacing a method)
            self._enter = self.funnel.enter  # type: ignore[method-assign]

    # --- referral
    def _referral(self, i: int, ch: ChannelPlan, rows: Callable[[], Sequence[float]]) -> Callable[[], None]:
        quint, band, qual, pref, dw = ch.quintile, ch.band, ch.qualification, ch.preference, ch.deadweight
        a = self.draws.attributes
        needs = [(flag, self.draws.needs[flag], share) for flag, share in ch.needs.items()]
        pref_sectors = [("nhs",), ("social_care",), SECTORS]
        env, funnel, outcomes = self.env, self.funnel, self.outcomes
        pick = bisect_right  # pick(cumulative shares, u): the category whose cumulative share first exceeds u
        index = iter(range(1 << 62)).__next__  # arrival index within the channel

        def arrive() -> None:
            u = rows()
            now = env.now
            r = Resident(i, index(), u, now, now >= 0.0, pick(quint, u[a.quintile]), pick(band, u[a.band]),
                         [(flag, u[col] < share) for flag, col, share in needs], pick(qual, u[a.qualification]),
                         pref_sectors[pick(pref, u[a.preference])], dw, self.levels)
            funnel.arrived += 1
            if r.counted:  # referred in the reported window (arrivals stop at the horizon)
                funnel.pending += 1
                outcomes.referrals[i] = outcomes.referrals.get(i, 0) + 1
            begin(env, self.journey(r), self._journey_ended)

        return arrive

    def _enter(self, r: Resident, s: int) -> None:
        """Enter a stage, counting people an intervention is charged for (replaced by `Funnel.enter` if none).

        Only residents referred in the reported window are charged for: the cost covers the people
        whose outcomes are counted, followed to their outcome (the follow-up included).
        """
        self.funnel.enter(r, s)
        if not r.counted:
            return
        for stage, ch, start, end, name in self._usage_rules:
            if stage == s and (ch < 0 or ch == r.channel) and start <= self.env.now < end:
                self.usage[name] += 1

    def _holding(self, r: Resident, cap: Capacity, req: Request, stage: int) -> Levels:
        """A resident was granted `req` at `stage`: if it is an intervention's own place, they are one of its
        holders from now on (its effects apply to them). The numbers they read from now on."""
        if cap.shares:
            share = cap.share_of(req)
            if share >= 0 and (i := self.serving[stage][share]) not in r.holds:
                r.holds = tuple(sorted((*r.holds, i)))
                r.lv = self._kind(r.holds)
                if r.counted:
                    self.served[i] += 1
        return r.lv

    def _kind(self, holds: tuple[int, ...]) -> Levels:
        """The numbers of residents who hold (or held) the places of the interventions `holds` (sorted)."""
        lv = self._kinds.get(holds)
        if lv is None:
            lv = self._kinds[holds] = self._kind(holds[:-1]).derive(self.plan.serves[holds[-1]].effects)
        return lv

    # --- the journey
    def _journey_ended(self) -> None:
        """A resident's journey has returned (started in post or left): counted apart from the funnel."""
        self.journeys_ended += 1

    def journey(self, r: Resident) -> Generator[simpy.Event, object, None]:
        env, f, lv, u = self.env, self.funnel, r.lv, r.u
        d = self.draws.engagement
        held: list[Request] = []  # places kept until the start (the adviser's caseload, childcare)
        cell = None
        try:
            # engagement and needs assessment: an adviser's caseload place, held until the start
            self._enter(r, self.ENGAGEMENT)
            req = self.advisers.request(u[d.patience] * lv.adviser_patience)
            held.append(req)
            if not (req.holding or (yield req)):
                f.exit(r, "gave up waiting for an adviser")
                return
            lv = self._holding(r, self.advisers, req, self.ENGAGEMENT)
            yield env.timeout(u[d.assessment] * lv.assessment)
            if u[d.dropout] < lv.dropout:
                f.exit(r, "disengaged after assessment")
                return
            for st in self.support:
                if getattr(r, st.needs) and not (yield from self._support(r, st, held)):
                    return
            course = self._course_for(r)
            roles = (yield from self._train(r, course)) if course is not None else self.entry_roles
            if roles is None:
                return
            cell = yield from self._recruit(r, self._cells_for(tuple(roles), r.sectors))
        finally:
            for req in held:  # support ends at the start date, or when the resident leaves
                req.release()
        if cell is not None:
            self._first_year(r, cell)

    def _support(self, r: Resident, st: _Support, held: list[Request]):
        """A support stage: a place (kept until the start, or held for the stage's duration), then completion."""
        env, u, d = self.env, r.u, st.draws
        self._enter(r, st.stage)
        req = st.cap.request(u[d.patience] * r.lv.support[st.index].patience)
        if st.held:  # kept until the start: given back by the journey
            held.append(req)
            if not (req.holding or (yield req)):
                self.funnel.exit(r, "gave up waiting for a place")
                return False
            sl = self._holding(r, st.cap, req, st.stage).support[st.index]
        else:
            with req:
                if not (req.holding or (yield req)):
                    self.funnel.exit(r, "gave up waiting for a place")
                    return False
                sl = self._holding(r, st.cap, req, st.stage).support[st.index]
                yield env.timeout(u[d.duration] * sl.duration)
        if u[d.completion] >= sl.completion:
            self.funnel.exit(r, "did not complete")
            return False
        return True

    def _course_for(self, r: Resident) -> _Course | None:
        """The course a resident takes, chosen by weight among those they are eligible for; None if none needed."""
        u, d = r.u, self.draws.training
        if u[d.need] >= self.plan.need_course[r.qual]:
            return None
        key = (r.qual, r.sectors)
        found = self._eligible.get(key)
        if found is None:
            courses = [c for c in self.courses if r.qual in c.quals and any(s in c.sectors for s in r.sectors)]
            found = self._eligible[key] = (courses, sum(c.weight for c in courses))
        eligible, total = found
        if not eligible:
            return None
        x, course = u[d.course] * total, eligible[-1]
        for c in eligible:
            x -= c.weight
            if x < 0:
                return c
        return course

    def _train(self, r: Resident, course: _Course):
        """Wait for an intake, take the course; returns the roles it qualifies for, or None if the resident left."""
        env, u, d, sl = self.env, r.u, course.draws, r.lv.courses[course.index]
        self._enter(r, self.TRAINING)
        with course.cohorts.request(u[d.patience] * sl.patience) as req:
            if not (yield req):
                self.funnel.exit(r, course.gave_up)
                return None
        yield env.timeout(u[d.duration] * sl.duration)
        if u[d.completion] >= sl.completion:
            self.funnel.exit(r, course.not_completed)
            return None
        return course.roles

    def _cells_for(self, roles: tuple[str, ...], sectors: tuple[str, ...]) -> list[Cell]:
        key = (roles, sectors)
        cells = self._cells.get(key)
        if cells is None:
            cells = self._cells[key] = self.wf.cells_for(list(roles), sectors)
        return cells

    def _recruit(self, r: Resident, cells: list[Cell]):
        """Job search and applications until a start, an exit, or `max_applications` rejections."""
        env, f, lv, u = self.env, self.funnel, r.lv, r.u
        wf = self.wf
        for d in self.draws.applications:
            self._enter(r, self.JOB_SEARCH)
            yield env.timeout(u[d.search] * lv.search)
            if not cells:
                f.exit(r, "no post in reach (role or sector)")
                return None
            cell = wf.pick_open(cells, u[d.pick])
            if cell is None:
                req = wf.wait_for_vacancy(cells)
                wf.patience_timer(req, u[d.vacancy_patience] * lv.vacancy_patience)
                if not (yield req):
                    f.exit(r, "no vacancy in time")
                    return None
                cell = wf.pick_open(cells, u[d.pick])  # woken now because a post opened in one of them
                assert cell is not None
            self._enter(r, self.RECRUITMENT)
            t_apply = env.now
            if u[d.shortlist] >= lv.shortlisting:
                f.note(r, "not shortlisted")
                continue
            if not (yield from use(self.interviews, u[d.interview] * lv.interview_duration,
                                   u[d.interview_patience] * lv.interview_patience)):
                f.exit(r, "gave up waiting for an interview")
                return None
            if u[d.interview_pass] >= lv.interview_pass:
                f.note(r, "not successful at interview")
                continue
            if u[d.accept] >= lv.offer_acceptance:
                f.exit(r, "declined the offer")
                return None
            self._enter(r, self.CHECKS)
            checks = u[d.checks] * lv.checks
            patience = u[d.withdraw] * lv.withdrawal_patience - (env.now - t_apply)
            if checks > patience:
                yield env.timeout(max(0.0, patience))
                f.exit(r, "withdrew while waiting for checks")
                return None
            yield env.timeout(checks)
            if u[d.checks_pass] >= lv.checks_pass:
                f.exit(r, "did not pass checks")
                return None
            if not wf.start(cell):  # the post went to someone else meanwhile: take another of the role
                cell = wf.pick_open([c for c in cells if c[0] == cell[0]], u[d.repick])
                if cell is None:
                    f.note(r, "post filled before start")
                    continue
                wf.start(cell)
            return cell
        f.exit(r, f"unsuccessful after {len(self.draws.applications)} applications")
        return None

    def _first_year(self, r: Resident, cell: Cell) -> None:
        """Start in post: the outcomes are known now; the year's end (or an early leaving) is a timed call.

        Nothing happens to a starter within the year but its end, so it needs no process of its own.
        """
        env, o = self.env, self.outcomes
        self._enter(r, self.IN_POST)
        now = env.now
        u, d = r.u, self.draws.in_post
        p12 = min(1.0, r.lv.early_leaving[cell[0]] * self.early_scale[cell[0]][cell[1]])
        leaves_at = math.inf
        if p12 > 0 and u[d.leaves] < p12:  # constant hazard within the year, conditioned on leaving in it
            rate = -math.log1p(-p12) / YEAR if p12 < 1 else 50.0 / YEAR
            leaves_at = -math.log1p(-u[d.when] * -math.expm1(-rate * YEAR)) / rate
        if r.counted:  # outcomes at 6 and 12 months are drawn now: every starter referred in the window counts
            o.start((cell[0], cell[1], r.quintile, r.channel, r.parent, r.health), 1.0 - r.deadweight,
                    True, leaves_at >= SIX_MONTHS, True, leaves_at >= YEAR)
            o.to_start.add(now - r.t_arrive)
        r.u = ()  # the draws are all used: keep no row for the year in post
        if leaves_at < YEAR:
            env.timeout(leaves_at, (r, cell)).callbacks.append(self._left_early)
        else:
            env.timeout(YEAR, (r, cell)).callbacks.append(self._sustained)

    def _left_early(self, timer: simpy.Event) -> None:
        r, cell = cast(tuple[Resident, Cell], timer.value)  # the timer carries its starter
        self.wf.leave(cell)
        if r.counted:
            self.outcomes.early_leavers += 1
        self.funnel.exit(r, "left within 12 months")

    def _sustained(self, timer: simpy.Event) -> None:
        r, cell = cast(tuple[Resident, Cell], timer.value)
        self.wf.settle(cell, r.band)
        self.funnel.exit(r, "sustained 12 months", success=True)


class _Support:
    """A support stage as the journey uses it: its place, who needs it, where its draws and numbers are."""

    __slots__ = ("name", "stage", "index", "cap", "needs", "draws", "held")

    def __init__(self, s: SupportPlan, stage: int, index: int, cap: Capacity, draws: Stage[int]):
        self.name, self.stage, self.index, self.cap, self.needs, self.draws = s.name, stage, index, cap, s.needs, draws
        self.held = s.duration is None  # the place is kept until the start


class _Course:
    """A course as the pathway uses it: its cohorts, where its draws and numbers are, eligibility, exit reasons."""

    __slots__ = ("name", "index", "cohorts", "draws", "quals", "sectors", "weight", "roles", "gave_up",
                 "not_completed")

    def __init__(self, c: CoursePlan, index: int, cohorts: Cohorts, draws: Stage[int]):
        self.name, self.index, self.cohorts, self.draws = c.name, index, cohorts, draws
        self.quals, self.sectors, self.weight, self.roles = c.quals, c.sectors, c.weight, c.roles
        self.gave_up = f"gave up waiting for {c.name}"
        self.not_completed = f"did not complete {c.name}"
