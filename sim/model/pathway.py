"""The supply side: residents arrive through referral channels and move along the pathway.

Each resident is one SimPy process (`Pathway.journey`) that reads like the route itself:
engagement with an adviser -> the support they need (childcare, digital skills, health and
confidence) -> a course if they need one -> job search for an open post they can do ->
shortlisting, interview, offer, acceptance -> pre-employment checks -> start -> first year.
Every exit is recorded with its stage and reason (`Funnel`), and every place a resident
holds is given back on every way out.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Callable, Generator

import simpy

from ..config import DEPRIVATION_QUINTILES, QUALIFICATIONS, SECTORS, Channel, Params, Piecewise, lookup, product
from ..streams import Sampler, Streams
from .capacity import Capacity, Cohorts, Request, WaitStats
from .workforce import Cell, Workforce

STAGES = ("engagement", "childcare", "digital_skills", "health_support", "training",
          "job_search", "recruitment", "checks", "in_post")
(ENGAGEMENT, CHILDCARE, DIGITAL, HEALTH, TRAINING, JOB_SEARCH, RECRUITMENT, CHECKS, IN_POST) = range(len(STAGES))
SIX_MONTHS = 365.0 / 2.0
YEAR = 365.0


class Resident:
    """A person on the pathway: attributes drawn once, at referral, from the channel's profile."""

    __slots__ = ("channel", "t_arrive", "quintile", "band", "parent", "health", "digital",
                 "qual", "sectors", "deadweight", "stage", "counted")

    def __init__(self, channel: int, t: float, counted: bool, quintile: int, band: int, parent: bool,
                 health: bool, digital: bool, qual: int, sectors: tuple[str, ...], deadweight: float):
        self.channel = channel
        self.t_arrive = t
        self.counted = counted
        self.quintile = quintile
        self.band = band
        self.parent = parent
        self.health = health
        self.digital = digital
        self.qual = qual
        self.sectors = sectors
        self.deadweight = deadweight
        self.stage = -1


class Funnel:
    """Counts per stage: entries, people now in it, time spent in it, exits by reason.

    The time-weighted number in a stage over [t0, T] is `time_in_stage(s, T) / (T - t0)`: the
    sum of everyone's time in the stage (stays not finished counted up to T). `snapshot` keeps
    the number in each stage at regular times, an independent estimate of the same average
    that `pathways-verify littles-law` compares with lambda x W.
    """

    def __init__(self, env: simpy.Environment):
        self.env = env
        n = len(STAGES)
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
        self.t0 = env.now

    def enter(self, r: Resident, s: int) -> None:
        now = self.env.now
        old = r.stage
        acc = self.time_acc
        cur = self.current
        if old >= 0:
            cur[old] -= 1
            acc[old] += now
        cur[s] += 1
        acc[s] -= now
        self.entered[s] += 1
        r.stage = s
        if s == IN_POST and r.counted:
            self.pending -= 1

    def note(self, r: Resident, reason: str) -> None:
        """Record an outcome within the stage that does not end the pathway (e.g. rejected, reapplies)."""
        key = (r.stage, reason)
        self.left[key] = self.left.get(key, 0) + 1

    def exit(self, r: Resident, reason: str, success: bool = False) -> None:
        s = r.stage
        if s != IN_POST and r.counted:
            self.pending -= 1
        self.current[s] -= 1
        self.time_acc[s] += self.env.now
        key = (s, reason)
        self.left[key] = self.left.get(key, 0) + 1
        if success:
            self.successes += 1
        else:
            self.exits[key] = self.exits.get(key, 0) + 1
        r.stage = -2

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


StarterKey = tuple[int, int, int, int, bool, bool]  # role, employer group, quintile, channel, parent, health
START_KPIS = ("hires", "net_hires", "eligible_6m", "sustained_6m", "eligible_12m", "sustained_12m",
              "net_sustained_12m")


class Outcomes:
    """Programme results accumulated as residents go (memory does not grow with residents who finished).

    Starters are counted by who they are and where they started (`StarterKey`), one small row per
    combination; `counts` adds the rows up into the report's groups at the end of the run.
    """

    def __init__(self, roles: list[str], groups: list[str], channels: list[str]) -> None:
        self.referrals: dict[int, int] = {}
        self.starters: dict[StarterKey, list[float]] = {}  # key -> totals of START_KPIS
        self.early_leavers = 0
        self.to_start = WaitStats()
        self._labels = ([f"role:{x}" for x in roles], [f"employer:{x}" for x in groups],
                        [f"quintile:{q + 1}" for q in range(DEPRIVATION_QUINTILES)], [f"channel:{x}" for x in channels])

    def start(self, key: StarterKey, net: float, eligible_6m: bool, sustained_6m: bool, eligible_12m: bool,
              sustained_12m: bool) -> None:
        """A counted starter: net is their share not due to deadweight; sustained_* only if eligible_*."""
        row = self.starters.get(key)
        if row is None:
            row = self.starters[key] = [0.0] * len(START_KPIS)
        row[0] += 1.0
        row[1] += net
        if eligible_6m:
            row[2] += 1.0
            row[3] += sustained_6m
        if eligible_12m:
            row[4] += 1.0
            if sustained_12m:
                row[5] += 1.0
                row[6] += net

    def counts(self) -> dict[tuple[str, str], float]:
        """Totals by (kpi, group): every START_KPIS for all, each role, employer group, quintile and
        channel; hires of parents and of people with a health condition; early leavers."""
        out: dict[tuple[str, str], float] = {("early_leavers", "all"): float(self.early_leavers)}
        roles, groups, quintiles, channels = self._labels
        for (role, group, quintile, channel, parent, health), row in self.starters.items():
            labels = ["all", roles[role], groups[group], quintiles[quintile], channels[channel]]
            for kpi, x in zip(START_KPIS, row):
                for g in labels:
                    out[(kpi, g)] = out.get((kpi, g), 0.0) + x
            for flag, g in ((parent, "parents"), (health, "health_condition")):
                if flag:
                    out[("hires", g)] = out.get(("hires", g), 0.0) + row[0]
        return out


def use(cap: Capacity, hold: float, patience: float) -> Generator[simpy.Event, bool, bool]:
    """Queue for a place (giving up after `patience`), hold it `hold` days, give it back; False if given up.

    The model's own stage code, shared by support courses, interviews and `pathways-verify`.
    """
    req = cap.request(patience)
    if req is not None and not (yield req):
        return False
    yield cap.env.timeout(hold)
    cap.release()
    return True


class ChannelRate:
    """A channel's referrals per day over time: the configured rate (with interventions), its period and ramp.

    A channel whose period starts at day 0 has been running through the warm-up (from `run_start`);
    referrals stop at the horizon (the follow-up only sees residents referred before it).
    """

    def __init__(self, ch: Channel, rate: Piecewise, horizon: float, run_start: float = 0.0):
        self.rate = rate
        self.start = run_start if ch.period.start_day == 0 else ch.period.start_day
        self.end = horizon if ch.period.end_day is None else min(ch.period.end_day, horizon)
        self.ramp = ch.period.ramp_days

    def at(self, t: float) -> float:
        if not self.start <= t < self.end:
            return 0.0
        r = self.rate.at(t) / YEAR
        if self.ramp > 0 and t < self.start + self.ramp:
            r *= (t - self.start) / self.ramp
        return r

    def peak(self) -> float:
        return max(0.0, self.rate.max()) / YEAR

    def constant(self) -> bool:
        """True when the rate never changes within the active period (no thinning needed)."""
        return self.rate.const is not None and self.ramp <= 0


def arrivals(env: simpy.Environment, rate: ChannelRate, gap: Sampler, thin: Sampler,
             on_arrival: Callable[[], None]) -> Generator[simpy.Event, None, None]:
    """Poisson referrals with a time-varying rate, by thinning a process at the peak rate."""
    peak = rate.peak()
    if peak <= 0:
        return
    t = max(env.now, rate.start)
    constant = rate.constant()
    while True:
        t += gap() / peak
        if t >= rate.end:
            return
        if constant or thin() * peak < rate.at(t):
            yield env.timeout(t - env.now)
            on_arrival()


class Pathway:
    """All capacities, streams and counters of the supply side, and the resident's journey."""

    def __init__(self, env: simpy.Environment, params: Params, streams: Streams, workforce: Workforce,
                 warmup: float):
        self.env = env
        self.horizon = params.horizon
        c = params.config
        pw = c.pathway
        self.wf = workforce
        self.warmup = warmup
        self.funnel = Funnel(env)
        run_end = h = params.horizon
        run_end += c.experiment.followup_days
        self.channel_names = list(c.region.channels)
        self.outcomes = Outcomes(workforce.roles, workforce.groups, self.channel_names)
        at = params.at
        # capacities
        self.advisers = Capacity(env, "advisers", product(
            params.schedule("pathway.engagement.advisers", pw.engagement.advisers, pw.engagement.schedule),
            at("pathway.engagement.caseload_per_adviser")))
        self.childcare = Capacity(env, "childcare", params.schedule(
            "pathway.childcare.places", pw.childcare.places, pw.childcare.schedule))
        self.digital = Capacity(env, "digital_skills", params.schedule(
            "pathway.digital_skills.places", pw.digital_skills.places, pw.digital_skills.schedule))
        self.health = Capacity(env, "health_support", params.schedule(
            "pathway.health_support.places", pw.health_support.places, pw.health_support.schedule))
        self.interviews = Capacity(env, "interview_slots", params.schedule(
            "pathway.recruitment.interview_slots", pw.recruitment.interview_slots, pw.recruitment.schedule))
        self.capacities: list[Capacity | Cohorts] = [self.advisers, self.childcare, self.digital, self.health,
                                                      self.interviews]
        # time-varying probabilities and duration scales
        self.dropout = at("pathway.engagement.dropout")
        self.digital_completion = at("pathway.digital_skills.completion")
        self.health_completion = at("pathway.health_support.completion")
        self.shortlisting = at("pathway.recruitment.shortlisting")
        self.interview_pass = at("pathway.recruitment.interview_pass")
        self.acceptance = at("pathway.recruitment.offer_acceptance")
        self.checks_pass = at("pathway.recruitment.checks_pass")
        self.max_applications = pw.job_search.max_applications
        # durations and patience: (sampler, scale over time)
        S = streams.sampler

        def dur(name: str, path: str) -> Callable[[], float]:
            return _scaled(env, S(name, lookup(c, path)), at(path))

        self.d_assess = dur("engagement.assessment", "pathway.engagement.assessment")
        self.d_adviser_patience = dur("engagement.patience", "pathway.engagement.patience")
        self.d_childcare_patience = dur("childcare.patience", "pathway.childcare.patience")
        self.d_digital = dur("digital_skills.duration", "pathway.digital_skills.duration")
        self.d_digital_patience = dur("digital_skills.patience", "pathway.digital_skills.patience")
        self.d_health = dur("health_support.duration", "pathway.health_support.duration")
        self.d_health_patience = dur("health_support.patience", "pathway.health_support.patience")
        self.d_search = dur("job_search.duration", "pathway.job_search.duration")
        self.d_vacancy_patience = dur("job_search.patience", "pathway.job_search.patience")
        self.d_interview = dur("recruitment.interview_duration", "pathway.recruitment.interview_duration")
        self.d_interview_patience = dur("recruitment.interview_patience", "pathway.recruitment.interview_patience")
        self.d_checks = dur("recruitment.checks", "pathway.recruitment.checks")
        self.d_withdraw = dur("recruitment.withdrawal_patience", "pathway.recruitment.withdrawal_patience")
        # decisions: one uniform stream per stage
        U = streams.uniform
        self.u_engagement = U("engagement.decisions")
        self.u_support = U("support.decisions")
        self.u_training = U("training.decisions")
        self.u_search = U("job_search.decisions")
        self.u_recruit = U("recruitment.decisions")
        self.u_in_post = U("in_post.decisions")
        # courses
        self.courses = []
        for name, course in pw.training.courses.items():
            base = f"pathway.training.courses.{name}"
            cohorts = Cohorts(env, f"course:{name}", at(f"{base}.places_per_cohort"),
                              course.first_intake_day, course.intake_every_days, run_end)
            self.capacities.append(cohorts)
            self.courses.append(_Course(
                name, cohorts, dur(f"training.{name}.duration", f"{base}.duration"),
                dur(f"training.{name}.patience", f"{base}.patience"), at(f"{base}.completion"),
                tuple(QUALIFICATIONS.index(q) for q in course.qualification),
                tuple(course.sectors), course.weight, list(course.qualifies_for)))
        self.need_course = list(pw.training.need_course)
        self._eligible: dict[tuple[int, tuple[str, ...]], tuple[list[_Course], float]] = {}
        wfc = c.region.workforce
        self.entry_roles = [n for n, role in wfc.roles.items() if role.entry_level]
        self.early_leaving = [at(f"region.workforce.roles.{n}.first_year_leaving") for n in workforce.roles]
        self._cells: dict[tuple, list[Cell]] = {}
        # channels
        for i, (name, ch) in enumerate(c.region.channels.items()):
            rate = ChannelRate(ch, at(f"region.channels.{name}.referrals_per_year"), h, env.now)
            u = streams.rows(f"channel.{name}.attributes", 7)
            env.process(arrivals(env, rate, streams.exponential(f"channel.{name}.arrivals"),
                                 U(f"channel.{name}.thinning"), self._referral(i, ch, u)))
        # interventions charged per person entering a stage while active
        self.usage: dict[str, int] = {}
        self._usage_rules: list[tuple[int, int, float, float, str]] = []
        for name, iv in c.intervention.items():
            if iv.cost.person_stage is not None and iv.cost.per_person > 0:
                start, end = iv.start_day, math.inf if iv.end_day is None else iv.end_day
                ch = -1 if iv.cost.person_channel is None else self.channel_names.index(iv.cost.person_channel)
                self._usage_rules.append((STAGES.index(iv.cost.person_stage), ch, start, end, name))
                self.usage[name] = 0
        if not self._usage_rules:
            self._enter = self.funnel.enter  # type: ignore[method-assign]

    # --- referral
    def _referral(self, i: int, ch: Channel, u: Sampler) -> Callable[[], None]:
        prof = ch.profile
        cum = _cumulative
        quint, band, qual, pref = (cum(prof.deprivation_quintile), cum(prof.age_band),
                                   cum(prof.qualification), cum(prof.sector_preference))
        parent, health, digital, dw = prof.parent_young_child, prof.health_condition, prof.digital_need, prof.deadweight
        pref_sectors = [("nhs",), ("social_care",), SECTORS]
        env, funnel, outcomes = self.env, self.funnel, self.outcomes
        pick = bisect_right  # pick(cumulative shares, u): the category whose cumulative share first exceeds u

        def arrive() -> None:
            uq, ub, up, uh, ud, ul, us = u()
            now = env.now
            r = Resident(i, now, now >= 0.0, pick(quint, uq), pick(band, ub), up < parent, uh < health,
                         ud < digital, pick(qual, ul), pref_sectors[pick(pref, us)], dw)
            funnel.arrived += 1
            if r.counted:  # referred in the reported window (arrivals stop at the horizon)
                funnel.pending += 1
                outcomes.referrals[i] = outcomes.referrals.get(i, 0) + 1
            env.process(self.journey(r))

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

    # --- the journey
    def journey(self, r: Resident) -> Generator[simpy.Event, object, None]:
        env, f = self.env, self.funnel
        held: list[Capacity] = []
        # engagement and needs assessment: an adviser's caseload place, held until the start
        self._enter(r, ENGAGEMENT)
        req = self.advisers.request()
        if req is not None:  # patience is drawn only by those who queue
            if not (yield self.advisers.patience_timer(req, self.d_adviser_patience())):
                f.exit(r, "gave up waiting for an adviser")
                return
        held.append(self.advisers)
        yield env.timeout(self.d_assess())
        if self.u_engagement() < self.dropout.at(env.now):
            f.exit(r, "disengaged after assessment")
        elif not (r.parent or r.digital or r.health) or (yield from self._support(r, held)):
            course = self._course_for(r)
            roles = (yield from self._train(r, course)) if course is not None else self.entry_roles
            if roles is not None:
                cells = self._cells_for(tuple(roles), r.sectors)
                hire = yield from self._recruit(r, cells)
                if hire is not None:
                    for cap in held:  # support ends at the start date
                        cap.release()
                    held.clear()
                    self._first_year(r, hire)
        for cap in held:
            cap.release()

    def _support(self, r: Resident, held: list[Capacity]):
        now = self.env.now
        if r.parent:
            self._enter(r, CHILDCARE)
            req = self.childcare.request(self.d_childcare_patience())  # kept until the start: no release here
            if req is not None and not (yield req):
                self.funnel.exit(r, "no childcare place in time")
                return False
            held.append(self.childcare)
        for flag, stage, cap, d, pat, completion in (
            (r.digital, DIGITAL, self.digital, self.d_digital, self.d_digital_patience, self.digital_completion),
            (r.health, HEALTH, self.health, self.d_health, self.d_health_patience, self.health_completion),
        ):
            if not flag:
                continue
            self._enter(r, stage)
            if not (yield from use(cap, d(), pat())):
                self.funnel.exit(r, "gave up waiting for a place")
                return False
            now = self.env.now
            if self.u_support() >= completion.at(now):
                self.funnel.exit(r, "did not complete")
                return False
        return True

    def _course_for(self, r: Resident) -> _Course | None:
        """The course a resident takes, chosen by weight among those they are eligible for; None if none needed."""
        u = self.u_training
        if u() >= self.need_course[r.qual]:
            return None
        key = (r.qual, r.sectors)
        found = self._eligible.get(key)
        if found is None:
            courses = [c for c in self.courses if r.qual in c.quals and any(s in c.sectors for s in r.sectors)]
            found = self._eligible[key] = (courses, sum(c.weight for c in courses))
        eligible, total = found
        if not eligible:
            return None
        x, course = u() * total, eligible[-1]
        for c in eligible:
            x -= c.weight
            if x < 0:
                return c
        return course

    def _train(self, r: Resident, course: _Course):
        """Wait for an intake, take the course; returns the roles it qualifies for, or None if the resident left."""
        u = self.u_training
        self._enter(r, TRAINING)
        if not (yield course.cohorts.request(course.patience())):
            self.funnel.exit(r, course.gave_up)
            return None
        yield self.env.timeout(course.duration())
        if u() >= course.completion.at(self.env.now):
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
        env, f, u = self.env, self.funnel, self.u_recruit
        wf = self.wf
        for _ in range(self.max_applications):
            self._enter(r, JOB_SEARCH)
            yield env.timeout(self.d_search())
            if not cells:
                f.exit(r, "no post in reach (role or sector)")
                return None
            cell = wf.pick_open(cells, self.u_search)
            if cell is None:
                req = wf.wait_for_vacancy(cells)
                wf.patience_timer(req, self.d_vacancy_patience())
                if not (yield req):
                    f.exit(r, "no vacancy in time")
                    return None
                cell = wf.pick_open(cells, self.u_search)  # woken now because a post opened in one of them
            self._enter(r, RECRUITMENT)
            t_apply = now = env.now
            if u() >= self.shortlisting.at(now):
                f.note(r, "not shortlisted")
                continue
            if not (yield from use(self.interviews, self.d_interview(), self.d_interview_patience())):
                f.exit(r, "gave up waiting for an interview")
                return None
            now = env.now
            if u() >= self.interview_pass.at(now):
                f.note(r, "not successful at interview")
                continue
            if u() >= self.acceptance.at(now):
                f.exit(r, "declined the offer")
                return None
            self._enter(r, CHECKS)
            checks = self.d_checks()
            patience = self.d_withdraw() - (env.now - t_apply)
            if checks > patience:
                yield env.timeout(max(0.0, patience))
                f.exit(r, "withdrew while waiting for checks")
                return None
            yield env.timeout(checks)
            if u() >= self.checks_pass.at(env.now):
                f.exit(r, "did not pass checks")
                return None
            if not wf.start(cell):  # the post went to someone else meanwhile: take another of the role
                cell = wf.pick_open([c for c in cells if c[0] == cell[0]], self.u_search)
                if cell is None:
                    f.note(r, "post filled before start")
                    continue
                wf.start(cell)
            return cell
        f.exit(r, f"unsuccessful after {self.max_applications} applications")
        return None

    def _first_year(self, r: Resident, cell: Cell) -> None:
        """Start in post: the outcomes are known now; the year's end (or an early leaving) is a timed call.

        Nothing happens to a starter within the year but its end, so it needs no process of its own.
        """
        env, o = self.env, self.outcomes
        self._enter(r, IN_POST)
        now = env.now
        u = self.u_in_post
        p12 = self.early_leaving[cell[0]].at(now)
        leaves_at = math.inf
        if p12 > 0 and u() < p12:  # constant hazard within the year, conditioned on leaving in it
            rate = -math.log1p(-p12) / YEAR if p12 < 1 else 50.0 / YEAR
            leaves_at = -math.log1p(-u() * -math.expm1(-rate * YEAR)) / rate
        if r.counted:  # outcomes at 6 and 12 months are drawn now: every starter referred in the window counts
            o.start((cell[0], cell[1], r.quintile, r.channel, r.parent, r.health), 1.0 - r.deadweight,
                    True, leaves_at >= SIX_MONTHS, True, leaves_at >= YEAR)
            o.to_start.add(now - r.t_arrive)
        if leaves_at < YEAR:
            env.timeout(leaves_at, (r, cell)).callbacks.append(self._left_early)
        else:
            env.timeout(YEAR, (r, cell)).callbacks.append(self._sustained)

    def _left_early(self, timer: simpy.Event) -> None:
        r, cell = timer.value  # the timer carries its starter
        self.wf.leave(cell)
        if r.counted:
            self.outcomes.early_leavers += 1
        self.funnel.exit(r, "left within 12 months")

    def _sustained(self, timer: simpy.Event) -> None:
        r, cell = timer.value
        self.wf.settle(cell, r.band)
        self.funnel.exit(r, "sustained 12 months", success=True)


class _Course:
    """A course as the pathway uses it: its cohorts, draws, eligibility and exit reasons, resolved once."""

    __slots__ = ("name", "cohorts", "duration", "patience", "completion", "quals", "sectors", "weight", "roles",
                 "gave_up", "not_completed")

    def __init__(self, name: str, cohorts: Cohorts, duration: Callable[[], float], patience: Callable[[], float],
                 completion: Piecewise, quals: tuple[int, ...], sectors: tuple[str, ...], weight: float,
                 roles: list[str]):
        self.name, self.cohorts, self.duration, self.patience = name, cohorts, duration, patience
        self.completion, self.quals, self.sectors, self.weight, self.roles = completion, quals, sectors, weight, roles
        self.gave_up = f"gave up waiting for {name}"
        self.not_completed = f"did not complete {name}"


def _scaled(env: simpy.Environment, sampler: Sampler, scale: Piecewise) -> Callable[[], float]:
    """Draws of a duration, times its intervention scale at the time of drawing (the sampler itself if constant 1)."""
    if scale.const == 1.0:
        return sampler
    return lambda: sampler() * scale.at(env.now)


def _cumulative(shares: list[float]) -> list[float]:
    out, t = [], 0.0
    for s in shares:
        t += s
        out.append(t)
    out[-1] = 1.0 + 1e-12
    return out

