"""`Params`: a validated config and the changes its interventions make over time (which numbers, from when,
by how much); `resolve` turns them into the plan the model reads (`sim.params.schedule.Resolved`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, is_dataclass
from functools import cached_property
from typing import Any

from sim.params.distributions import Dist
from sim.params.schedule import (
    ChannelPlan,
    CoursePlan,
    Duration,
    Piecewise,
    Resolved,
    ServePlan,
    SupportPlan,
    UsageRule,
    change,
    constant,
    plus,
    product,
)
from sim.params.schema import (
    FIRST_STAGES,
    LAST_STAGES,
    NEEDS,
    QUALIFICATIONS,
    Config,
    Intervention,
    Pathway,
    Step,
)


# ----------------------------------------------------------------------------- time-varying values
@dataclass
class Segment:
    start: float
    end: float
    op: str
    value: float


# Config paths an intervention may change, and which the model reads through `Params.at`.
CHANGEABLE = (
    "region.channels.*.referrals_per_year",
    "region.workforce.roles.*.first_year_leaving", "region.workforce.roles.*.internal_fill_share",
    "region.workforce.roles.*.succession.places_per_year", "region.workforce.roles.*.succession.completion",
    "region.workforce.roles.*.succession.days_to_ready", "region.workforce.roles.*.succession.ready_for_days",
    "region.workforce.groups.*.posts.*.turnover", "region.workforce.groups.*.posts.*.first_year_leaving_scale",
    "pathway.engagement.advisers", "pathway.engagement.caseload_per_adviser",
    "pathway.engagement.dropout", "pathway.engagement.assessment", "pathway.engagement.patience",
    "pathway.support.*.places", "pathway.support.*.patience", "pathway.support.*.duration",
    "pathway.support.*.completion",
    "pathway.training.courses.*.places_per_cohort", "pathway.training.courses.*.completion",
    "pathway.training.courses.*.duration", "pathway.training.courses.*.patience",
    "pathway.job_search.duration", "pathway.job_search.patience",
    "pathway.recruitment.*",
)

# The numbers an intervention's effect may change for the residents who hold its places (`Serves.effects`):
# config path -> (its name in the journey's `Levels`, the stage where the journey reads it), `{}` standing for a
# support stage, a course or a role. A stage's own patience is read before its place is held, so it is not here
# for that stage (`_check_serves`).
PER_RESIDENT = {
    "pathway.engagement.assessment": ("assessment", "engagement"),
    "pathway.engagement.dropout": ("dropout", "engagement"),
    "pathway.support.{}.patience": ("support.{}.patience", "{}"),
    "pathway.support.{}.duration": ("support.{}.duration", "{}"),
    "pathway.support.{}.completion": ("support.{}.completion", "{}"),
    "pathway.training.courses.{}.patience": ("course.{}.patience", "training"),
    "pathway.training.courses.{}.duration": ("course.{}.duration", "training"),
    "pathway.training.courses.{}.completion": ("course.{}.completion", "training"),
    "pathway.job_search.duration": ("search", "job_search"),
    "pathway.job_search.patience": ("vacancy_patience", "job_search"),
    **{f"pathway.recruitment.{n}": (n, "recruitment") for n in (
        "shortlisting", "interview_duration", "interview_patience", "interview_pass", "offer_acceptance", "checks",
        "checks_pass", "withdrawal_patience")},
    "region.workforce.roles.{}.first_year_leaving": ("first_year_leaving.{}", "in_post"),
}


def per_resident(path: str) -> tuple[str, str] | None:
    """(name in `Levels`, stage where it is read) of a number a holder's effect may change, or None."""
    for pattern, (name, stage) in PER_RESIDENT.items():
        m = re.fullmatch(re.escape(pattern).replace(r"\{\}", r"([^.]+)"), path)
        if m:
            return name.format(*m.groups()), stage.format(*m.groups())
    return None


def _levels_name(path: str) -> str:
    """The name in `Levels` of a validated effect's target (config.py checks each with `per_resident`)."""
    found = per_resident(path)
    assert found is not None
    return found[0]


def lookup(obj: Any, path: str) -> Any:
    """The value at a dotted config path (dataclass attributes and dict keys)."""
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def probability_high(config: Config, path: str) -> float:
    """1 for a number the schema bounds to [0, 1] (what a change may make of it at most), else infinity."""
    parent, name = path.rsplit(".", 1)
    obj = lookup(config, parent)
    bounded = is_dataclass(obj) and any(f.name == name and f.metadata.get("high") == 1.0 for f in fields(obj))
    return 1.0 if bounded else math.inf


def _has(obj: Any, path: str) -> bool:
    try:
        lookup(obj, path)
        return True
    except (KeyError, AttributeError, TypeError):
        return False


@dataclass
class Params:
    """Validated parameters of one run: the config plus interventions' time-varying changes."""

    config: Config
    changes: dict[str, list[Segment]]

    @property
    def horizon(self) -> float:
        return self.config.experiment.horizon_days

    @cached_property
    def resolved(self) -> Resolved:
        """What the model reads (`resolve`), built once."""
        return resolve(self)

    def at(self, path: str, base: Piecewise | None = None) -> Piecewise:
        """The value at `path` over time, interventions applied; `base` overrides the config's value.

        A distribution's path gives its scale factor over time (base 1).
        """
        if base is None:
            v = lookup(self.config, path)
            base = Piecewise([0.0], [1.0 if isinstance(v, Dist) else float(v)])
        segs = self.changes.get(path, [])
        if not segs:
            return base
        high = probability_high(self.config, path)
        # from -inf: before day 0 (the warm-up) no intervention is active yet
        cuts = sorted({-math.inf, 0.0, *base.times, *(s.start for s in segs),
                       *(s.end for s in segs if s.end < math.inf)})
        values = []
        for t in cuts:
            x = base.at(t)
            for s in segs:
                if s.start <= t < s.end:
                    x = change(s.op, x, s.value, high)
            values.append(x)
        return Piecewise(cuts, values)

    def schedule(self, path: str, places: float, steps: list[Step]) -> Piecewise:
        """A capacity over time: `places`, then the schedule's steps, times the region's `capacity_scale`, with
        interventions on `path` (their places are not scaled: an intervention adds what it says)."""
        k = self.config.region.capacity_scale
        times, values = [0.0], [places * k]
        for s in sorted(steps, key=lambda s: s.day):
            if s.day == 0.0:
                values[0] = s.places * k
            else:
                times.append(s.day)
                values.append(s.places * k)
        return self.at(path, Piecewise(times, values))

    def intervention_windows(self) -> dict[str, tuple[float, float]]:
        """Each intervention's active days [start, end) within the reported window [0, horizon]: when its changes
        hold, when people entering its stage are charged, and what its fixed and per-place costs pay for (one
        window for all three; the option ends at the horizon, see `_changes`)."""
        h = self.horizon
        return {
            k: (iv.start_day, h if iv.end_day is None else min(iv.end_day, h))
            for k, iv in self.config.intervention.items()
        }


def stage_names(p: Pathway) -> tuple[str, ...]:
    """The pathway's stages in order: engagement, the configured support stages, then training to in post."""
    return (*FIRST_STAGES, *p.support, *LAST_STAGES)


def resolve(p: Params) -> Resolved:
    """Every number the model reads, with the interventions applied: changeable ones as schedules over time."""
    c = p.config
    pw, eng, js, rec = c.pathway, c.pathway.engagement, c.pathway.job_search, c.pathway.recruitment
    at = p.at

    def dur(path: str) -> Duration:
        return Duration(lookup(c, path), at(path))

    stages = stage_names(pw)
    h, warmup = c.experiment.horizon_days, c.experiment.warmup_days
    channels = []
    for name, ch in c.region.channels.items():
        prof = ch.profile
        start = -warmup if ch.period.start_day == 0 else ch.period.start_day  # from day 0: through the warm-up too
        channels.append(ChannelPlan(
            name, at(f"region.channels.{name}.referrals_per_year"), start,
            h if ch.period.end_day is None else min(ch.period.end_day, h), ch.period.ramp_days,
            _cumulative(prof.deprivation_quintile), _cumulative(prof.age_band), _cumulative(prof.qualification),
            _cumulative(prof.sector_preference), {flag: getattr(prof, need) for need, flag in NEEDS.items()},
            prof.deadweight))
    serves = [ServePlan(name, stages.index(iv.serves.stage), _while_active(iv, iv.places * iv.serves.per_place, h),
                        [(_levels_name(e.target), e.op, e.value) for e in iv.serves.effects])
              for name, iv in c.intervention.items() if iv.serves.stage is not None]

    def places(stage: str, base: Piecewise) -> Piecewise:
        """A stage's places: its own, and those of the interventions that serve at it."""
        for sv in serves:
            if stages[sv.stage] == stage:
                base = plus(base, sv.places)
        return base

    support = [SupportPlan(name, NEEDS[s.needs],
                           places(name, p.schedule(f"pathway.support.{name}.places", s.places, s.schedule)),
                           dur(f"pathway.support.{name}.patience"),
                           None if s.duration is None else dur(f"pathway.support.{name}.duration"),
                           at(f"pathway.support.{name}.completion"))
               for name, s in pw.support.items()]
    courses = []
    for name, co in pw.training.courses.items():
        base = f"pathway.training.courses.{name}"
        seats = at(f"{base}.places_per_cohort", constant(co.places_per_cohort * c.region.capacity_scale))
        courses.append(CoursePlan(name, seats, co.first_intake_day, co.intake_every_days,
                                  dur(f"{base}.duration"), dur(f"{base}.patience"), at(f"{base}.completion"),
                                  tuple(QUALIFICATIONS.index(q) for q in co.qualification), tuple(co.sectors),
                                  co.weight, list(co.qualifies_for)))
    channel_index = {n: i for i, n in enumerate(c.region.channels)}
    windows = p.intervention_windows()
    usage = [UsageRule(name, stages.index(iv.cost.person_stage),
                       None if iv.cost.person_channel is None else channel_index[iv.cost.person_channel],
                       *windows[name])  # the option ends at the horizon: no one entering after it is charged
             for name, iv in c.intervention.items() if iv.cost.person_stage is not None and iv.cost.per_person > 0]
    wf = c.region.workforce
    r = "pathway.recruitment"
    return Resolved(
        serves=serves, stages=stages, channels=channels,
        advisers=places("engagement", product(p.schedule("pathway.engagement.advisers", eng.advisers, eng.schedule),
                                              at("pathway.engagement.caseload_per_adviser"))),
        adviser_patience=dur("pathway.engagement.patience"), assessment=dur("pathway.engagement.assessment"),
        dropout=at("pathway.engagement.dropout"), support=support, need_course=list(pw.training.need_course),
        courses=courses, search=dur("pathway.job_search.duration"), vacancy_patience=dur("pathway.job_search.patience"),
        max_applications=js.max_applications, shortlisting=at(f"{r}.shortlisting"),
        interview_slots=p.schedule(f"{r}.interview_slots", rec.interview_slots, rec.schedule),
        interview_duration=dur(f"{r}.interview_duration"), interview_patience=dur(f"{r}.interview_patience"),
        interview_pass=at(f"{r}.interview_pass"), offer_acceptance=at(f"{r}.offer_acceptance"),
        checks=dur(f"{r}.checks"), checks_pass=at(f"{r}.checks_pass"),
        withdrawal_patience=dur(f"{r}.withdrawal_patience"),
        first_year_leaving={n: at(f"region.workforce.roles.{n}.first_year_leaving") for n in wf.roles},
        first_year_leaving_scale={(r, g): at(f"region.workforce.groups.{g}.posts.{r}.first_year_leaving_scale")
                                  for g, grp in wf.groups.items() for r in grp.posts},
        entry_roles=[n for n, role in wf.roles.items() if role.entry_level],
        workforce={path: at(path) for path in (
            *(f"region.workforce.groups.{g}.posts.{r}.turnover" for g, grp in wf.groups.items() for r in grp.posts),
            *(f"region.workforce.roles.{r}.internal_fill_share" for r in wf.roles),
            *(f"region.workforce.roles.{r}.succession.{k}" for r in wf.roles
              for k in ("places_per_year", "completion", "days_to_ready", "ready_for_days")))},
        usage=usage)


def _while_active(iv: Intervention, n: float, horizon: float) -> Piecewise:
    """`n` while the intervention is active (never in the warm-up; to the horizon without an end day: the
    option ends there, `_changes`), 0 otherwise."""
    if n == 0:
        return constant(0.0)
    return Piecewise([-math.inf, iv.start_day, horizon if iv.end_day is None else iv.end_day], [0.0, n, 0.0])


def _cumulative(shares: list[float]) -> list[float]:
    """Cumulative shares, the last one just above 1 (a uniform below 1 always finds a category)."""
    out, t = [], 0.0
    for x in shares:
        t += x
        out.append(t)
    out[-1] = 1.0 + 1e-12
    return out


def _changes(c: Config) -> dict[str, list[Segment]]:
    """Each intervention's changes over its window: from `start_day` to `end_day`, or to the horizon with none.

    The option ends at the horizon (README, "What an option costs"): in the follow-up its places,
    rates and probabilities are back to the region's own, so it uses only what was paid for.
    """
    out: dict[str, list[Segment]] = {}
    h = c.experiment.horizon_days
    for iv in c.intervention.values():
        end = h if iv.end_day is None else iv.end_day
        for ch in iv.changes:
            out.setdefault(ch.target, []).append(Segment(iv.start_day, end, ch.op, ch.value))
    return out
