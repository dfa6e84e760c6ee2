"""Typed configuration: the schema, its ConfigStore registration, validation, interventions.

Data flows one way: YAML + overrides (Hydra) -> `Config` dataclasses (OmegaConf checks keys
and types) -> `validate` (ranges, shares, references, periods) -> `Params` (the config plus
the time-varying changes that interventions make). The model reads numbers that can change
over time through `Params.at(path)`; everything else straight from the dataclasses.

Structured-config `__post_init__` does not run on OmegaConf merges, so validation is an
explicit pass over the converted objects, driven by field metadata.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.params.distributions import Dist, problem
from sim.params.kpis import KPI_NAMES
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

AGE_BANDS = ("16-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_BAND_YEARS = (9.0, 10.0, 10.0, 10.0, 10.0, math.inf)
QUALIFICATIONS = ("entry", "level2", "level3")
SECTORS = ("nhs", "social_care")
PREFERENCES = ("nhs", "social_care", "either")
DEPRIVATION_QUINTILES = 5
OPS = ("set", "scale", "add")
# The pathway's stages: engagement, then the support stages of `pathway.support` in their order, then these.
FIRST_STAGES = ("engagement",)
LAST_STAGES = ("training", "job_search", "recruitment", "checks", "in_post")
# How every output names the fixed stages; a support stage is named by its own config (pathway.support.NAME.label).
STAGE_LABELS = {
    "engagement": "Engagement and needs assessment",
    "training": "Training course", "job_search": "Job search", "recruitment": "Recruitment",
    "checks": "Pre-employment checks", "in_post": "First year in post",
}
# Profile attributes a support stage can answer (`pathway.support.*.needs`), and the resident's flag for each. A new
# need is an entry here and a field of `Profile`: its flag gets a column of residents' draws of its own.
NEEDS = {"parent_young_child": "parent", "health_condition": "health", "digital_need": "digital"}


# ----------------------------------------------------------------------------- field helpers
def _f(default: Any, **meta: Any) -> Any:
    if isinstance(default, (list, dict)) or is_dataclass(default):
        return field(default_factory=lambda: _copy(default), metadata=meta)
    return field(default=default, metadata=meta)


def _copy(x: Any) -> Any:
    import copy

    return copy.deepcopy(x)


def prob(default: float = 0.0) -> Any:
    """A probability: [0, 1]."""
    return _f(default, low=0.0, high=1.0)


def nonneg(default: float = 0.0) -> Any:
    """A count, rate, cost or duration: >= 0."""
    return _f(default, low=0.0, high=math.inf)


def shares(n: int, default: list[float]) -> Any:
    """A list of `n` shares in [0, 1] summing to 1."""
    return _f(default, shares=n)


def fixed(mean: float) -> Dist:
    return Dist(kind="fixed", mean=mean)


# ----------------------------------------------------------------------------- region schema
@dataclass
class Period:
    """When something is active: from `start_day`, to `end_day` (None: to the horizon), ramping up linearly over `ramp_days`."""

    start_day: float = nonneg(0.0)
    end_day: float | None = None
    ramp_days: float = nonneg(0.0)


@dataclass
class Profile:
    """Who a channel reaches. Shares are over categories in the order of the module constants."""

    deprivation_quintile: list[float] = shares(DEPRIVATION_QUINTILES, [0.2] * 5)  # 1 = most deprived
    age_band: list[float] = shares(len(AGE_BANDS), [0.2, 0.25, 0.2, 0.2, 0.15, 0.0])
    parent_young_child: float = prob(0.0)
    health_condition: float = prob(0.0)
    digital_need: float = prob(0.0)
    qualification: list[float] = shares(len(QUALIFICATIONS), [0.5, 0.3, 0.2])
    sector_preference: list[float] = shares(len(PREFERENCES), [0.3, 0.3, 0.4])
    deadweight: float = prob(0.0)  # share of this channel's hires that would have happened anyway


@dataclass
class Channel:
    """A referral route into the programme."""

    label: str = ""
    referrals_per_year: float = nonneg(0.0)
    period: Period = _f(Period())
    cost_per_referral: float = nonneg(0.0)
    profile: Profile = _f(Profile())


@dataclass
class Post:
    """A role within an employer group: its establishment and its churn."""

    establishment: float = nonneg(0.0)
    vacancy_rate: float = prob(0.0)  # at the start, and the level business-as-usual hiring holds
    turnover: float = nonneg(0.0)  # leavers per staff per year, retirements included (the published definition)
    within_sector_share: float = prob(0.0)  # share of leavers who move to another employer in the sector
    growth_per_year: float = _f(0.0, low=-0.5, high=1.0)  # establishment growth, fraction per year
    age_profile: list[float] = shares(len(AGE_BANDS), [0.1, 0.2, 0.2, 0.22, 0.23, 0.05])
    # the role's first_year_leaving for programme starters in this post is multiplied by it (1: the role's own);
    # an option that supports new starters of one employer group changes it there, not the role everywhere
    first_year_leaving_scale: float = nonneg(1.0)


@dataclass
class Succession:
    """A succession programme for one role: staff of the role below prepare to step up into it.

    Each participant completes with probability `completion` after `days_to_ready`; a completer then
    fills one open post of this role in their employer group, once, by promotion, if one opens within
    `ready_for_days` (sim/model/workforce.py). With no places (the baseline) it does nothing.
    """

    places_per_year: float = nonneg(0.0)  # participants a year, across the region's employer groups
    completion: float = prob(0.0)
    days_to_ready: float = nonneg(0.0)
    ready_for_days: float = nonneg(0.0)


@dataclass
class Role:
    """A job on the career ladder."""

    label: str = ""
    entry_level: bool = False  # open to residents without a course
    promoted_from: str | None = None  # the role below on the ladder
    internal_fill_share: float = prob(0.0)  # share of this role's fills that are promotions from below
    first_year_leaving: float = prob(0.0)  # probability that a new starter leaves within 12 months
    succession: Succession = _f(Succession())  # participants of a succession programme into this role


@dataclass
class EmployerGroup:
    """Employers of one kind. `scale` multiplies every post's establishment and `vacancy_scale`
    every vacancy rate, so a region can reuse another's role mix at its own size."""

    label: str = ""
    sector: str = "nhs"
    scale: float = nonneg(1.0)
    vacancy_scale: float = nonneg(1.0)
    posts: dict[str, Post] = _f({})


@dataclass
class Bau:
    """Business-as-usual recruitment into one post (role in an employer group), derived once from
    the region's baseline by `sim.model.workforce.calibrate` and held fixed for every option."""

    external_fill_rate: float = nonneg(0.0)  # external hires per open post per year
    hire_age_profile: list[float] = shares(len(AGE_BANDS), [1.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # age bands of those hires
    retirement_rate: list[float] = _f([0.0] * len(AGE_BANDS))  # per year, by staff age band


@dataclass
class Workforce:
    """The demand side: employer groups, roles and their churn."""

    retirement_rate: list[float] = _f([0.0, 0.0, 0.0, 0.0, 0.05, 0.3])  # per year, by staff age band (65+: derived per post)
    # elasticity of BAU hires to open posts, 1 - alpha in hires = A U^alpha V^(1 - alpha) (candidate pool U fixed):
    # 1 = an unlimited pool (a fixed hazard per open post: a programme hire displaces a BAU hire), 0 = a fixed flow of
    # candidates (no displacement). See sim/model/workforce.py.
    bau_vacancy_elasticity: float = prob(1.0)
    roles: dict[str, Role] = _f({})
    groups: dict[str, EmployerGroup] = _f({})
    # group -> role -> calibration; empty: derived from this config's own workforce (see sim/model/workforce.py)
    bau: dict[str, dict[str, Bau]] = _f({})


# What a region may take from another region's file instead of its own numbers (`Region.borrows`), and how the
# report names it.
BORROWABLE = {
    "referral_routes": "referral routes (the channels and their rates)",
    "referral_profiles": "who the referral routes reach (the channels' profiles)",
    "pathway_capacities": "pathway capacities (advisers, support places, course seats, interview slots)",
    "roles_and_turnover": "roles, career ladders, the mix of posts, turnover and age profiles",
}


@dataclass
class Region:
    name: str = ""
    label: str = ""
    published_vacancies: float = nonneg(0.0)  # the published level the baseline is calibrated to
    # the pathway file's capacities (advisers, support places, course seats, interview slots; sized for the default
    # region) times this, for a region of another size
    capacity_scale: float = _f(1.0, low=0.001, high=1e6)
    borrows: list[str] = _f([])  # what it takes from `borrows_from` rather than its own figures: keys of BORROWABLE
    borrows_from: str = ""  # the label of the region it borrows from
    channels: dict[str, Channel] = _f({})
    workforce: Workforce = _f(Workforce())


# ----------------------------------------------------------------------------- pathway schema
@dataclass
class Step:
    """From `day` on, a capacity has `places` places."""

    day: float = nonneg(0.0)
    places: float = nonneg(0.0)


@dataclass
class Engagement:
    """Engagement and needs assessment: an adviser's caseload place is held for the whole supported period."""

    advisers: float = nonneg(0.0)
    caseload_per_adviser: float = nonneg(25.0)
    schedule: list[Step] = _f([])  # adviser numbers over time
    patience: Dist = _f(fixed(math.inf))
    assessment: Dist = _f(fixed(14.0))
    dropout: float = prob(0.0)


@dataclass
class Support:
    """A support stage for residents whose profile attribute `needs` is set: a place among `places`,
    held for `duration` and then completed with probability `completion`, or, with no duration,
    held until the job starts (childcare while training and searching)."""

    label: str = ""
    needs: str = "digital_need"  # one of NEEDS
    places: float = nonneg(0.0)
    schedule: list[Step] = _f([])
    patience: Dist = _f(fixed(math.inf))
    duration: Dist | None = None
    completion: float = prob(1.0)


@dataclass
class Course:
    """A training course with cohort intakes on calendar days."""

    label: str = ""
    places_per_cohort: float = nonneg(0.0)
    first_intake_day: float = nonneg(0.0)
    intake_every_days: float = _f(91.0, low=1.0, high=math.inf)
    duration: Dist = _f(fixed(42.0))
    completion: float = prob(1.0)
    patience: Dist = _f(fixed(math.inf))
    qualifies_for: list[str] = _f([])  # roles a completer can apply for
    qualification: list[str] = _f(list(QUALIFICATIONS))  # entry qualifications it admits
    sectors: list[str] = _f(list(SECTORS))  # sector preferences it serves
    weight: float = nonneg(1.0)  # relative share among the courses a resident is eligible for


@dataclass
class Training:
    need_course: list[float] = _f([1.0, 0.5, 0.3])  # probability of needing a course, by qualification
    courses: dict[str, Course] = _f({})


@dataclass
class JobSearch:
    duration: Dist = _f(fixed(14.0))  # from ready to an application
    patience: Dist = _f(fixed(90.0))  # how long someone waits for a vacancy in a role they can do
    max_applications: int = _f(3, low=1, high=100)


@dataclass
class Recruitment:
    """Application to start: shortlisting, interview (slot capacity), offer, acceptance, checks."""

    shortlisting: float = prob(0.6)
    interview_slots: float = nonneg(0.0)
    schedule: list[Step] = _f([])
    interview_duration: Dist = _f(fixed(14.0))  # a slot is held this long, from booking to decision
    interview_patience: Dist = _f(fixed(math.inf))
    interview_pass: float = prob(0.6)
    offer_acceptance: float = prob(0.9)
    checks: Dist = _f(fixed(30.0))  # DBS, references, occupational health
    checks_pass: float = prob(0.97)
    withdrawal_patience: Dist = _f(fixed(math.inf))  # time from application after which a candidate withdraws


@dataclass
class Pathway:
    engagement: Engagement = _f(Engagement())
    support: dict[str, Support] = _f({})  # in the order residents go through them
    training: Training = _f(Training())
    job_search: JobSearch = _f(JobSearch())
    recruitment: Recruitment = _f(Recruitment())


# ----------------------------------------------------------------------------- interventions
MAX_PLACES = 1_000_000  # an intervention's size: beyond it costs and reach overflow (1e308 places cost infinity)


@dataclass
class Change:
    """One change an intervention makes: `op` (set, scale, add) `value` at config path `target`."""

    target: str = ""
    op: str = "set"
    value: float = 0.0


@dataclass
class Cost:
    fixed: float = nonneg(0.0)  # over the whole active period
    per_place_per_year: float = nonneg(0.0)  # times `places`, times active years (start_day to end_day or the horizon)
    per_person: float = nonneg(0.0)  # times residents referred in the window entering `person_stage` while active
    person_stage: str | None = None
    person_channel: str | None = None  # count only residents referred by this channel


@dataclass
class Serves:
    """An intervention's own places at a stage, and its effect on the residents who hold one (DESIGN.md:
    interventions act through the people they serve).

    Its `places` x `per_place` places join the stage's capacity as a share tagged as its own, while it is
    active: a resident granted a place at the stage takes one of the intervention's while one is free.
    `effects` change the numbers the journey reads for the residents who hold, or have held, one of its
    places, from the moment they hold it (an adviser's caseload place is held until the job starts, so a
    caseworker's effects on job search and checks are for the residents on its caseload); everyone else's
    numbers stay the region's. With no places, nobody holds one and nothing changes.
    """

    stage: str | None = None  # engagement or a support stage; None: no places of its own
    per_place: float = nonneg(1.0)  # places at the stage for each of the intervention's `places` (a caseload)
    effects: list[Change] = _f([])  # each a change to a number read after the place is held (PER_RESIDENT)


@dataclass
class Intervention:
    """A named, stackable set of changes, active over a period, with a cost."""

    label: str = ""
    start_day: float = nonneg(0.0)
    end_day: float | None = None
    places: float = _f(0.0, low=0.0, high=MAX_PLACES)  # the size knob that changes and costs refer to
    changes: list[Change] = _f([])  # changes for everyone in the region
    serves: Serves = _f(Serves())  # places of its own and effects on those who hold them
    cost: Cost = _f(Cost())


# ----------------------------------------------------------------------------- experiment
@dataclass
class Experiment:
    seed: int = _f(20261123, low=0, high=2**32 - 1)
    replications: int = _f(10, low=1, high=100_000)
    workers: int = _f(1, low=1, high=1024)
    horizon_days: float = _f(1826.0, low=1.0, high=36525.0)  # the reported window [0, horizon)
    warmup_days: float = _f(0.0, low=0.0, high=36525.0)  # simulated before day 0, not reported
    followup_days: float = _f(1826.0, low=0.0, high=36525.0)  # most days after the horizon to follow residents referred in it
    record_every_days: float = _f(30.0, low=1.0, high=36525.0)
    workforce_step_days: float = _f(1.0, low=0.01, high=91.0)  # time step of the aggregate staff churn
    progress: bool = True
    target_half_width: float = nonneg(0.0)  # add replications until the primary KPI's 95% CI half-width is below this (0: off)
    primary_kpi: str = "hires"
    primary_group: str = "all"
    max_replications: int = _f(200, low=1, high=100_000)
    reference: str = "baseline"  # the option a sweep compares against: its name, its job number, or a scenario
    max_residents: int = _f(1_000_000, low=1, high=10**10)  # residents a replication may refer (the runaway-size guard)
    supply_replications: int = _f(0, low=0, high=1000)  # paired replications at each end of the labour-supply range (0: off)


@dataclass
class Config:
    scenario_name: str = "baseline"
    region: Region = _f(Region())
    pathway: Pathway = _f(Pathway())
    intervention: dict[str, Intervention] = _f({})
    experiment: Experiment = _f(Experiment())


def reach(places: float, per_place: float, exponent: float = 1.0) -> float:
    """What `places` of something buy with diminishing returns: per_place x places^exponent (exponent <= 1).

    In config: `value: ${reach:${...places},120,0.8}` (outreach: 120 referrals for one worker, 0.8:
    each further worker reaches fewer new people). Exponent 1 is proportional.
    """
    return float(per_place) * float(places) ** float(exponent)


def compound(effect: float, places: float, exponent: float = 1.0) -> float:
    """A scale factor that `places` units compound: effect^(places^exponent) (1 at no places, `effect` at one)."""
    return float(effect) ** (float(places) ** float(exponent))


class Sizing:
    """The interventions of one composed config at any size, by the one sizing rule: the config's own.

    `composed` is the config as Hydra composed it, interpolations unresolved (runner.Option.raw). `at` sets
    an intervention's `places` and lets its own interpolations (`${...places}`, `${reach:...}`,
    `${compound:...}`, or any other) resolve, exactly as an `intervention.NAME.places=...` override does in a
    sweep or on the web page, so the optimiser's candidates are the configs a planner would run at those sizes.
    """

    def __init__(self, composed: dict):
        self.composed = composed
        self._cfg = OmegaConf.create(composed)  # built once: most of the cost of a size

    def at(self, name: str, places: float) -> Intervention:
        """Intervention `name` with `places` places, its numbers resolved."""
        node = self._cfg.intervention[name]
        node.places = places
        try:
            resolved = OmegaConf.to_container(node, resolve=True)
        finally:
            node.places = self.composed["intervention"][name]["places"]  # as composed (an interpolation stays one)
        typed = OmegaConf.merge(OmegaConf.structured(Intervention), resolved)
        return OmegaConf.to_object(typed)  # type: ignore[return-value]


def register() -> None:
    """Register the schema in Hydra's ConfigStore (as `pathways_schema`) and the sizing resolvers."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="pathways_schema", node=Config)
    OmegaConf.register_new_resolver("reach", reach, replace=True)
    OmegaConf.register_new_resolver("compound", compound, replace=True)


OmegaConf.register_new_resolver("reach", reach, replace=True)  # usable as soon as the schema is imported
OmegaConf.register_new_resolver("compound", compound, replace=True)


# ----------------------------------------------------------------------------- errors
UNKNOWN = "(unknown key)"


class ConfigError(Exception):
    """An invalid config value: names the key, the value and the allowed range."""

    def __init__(self, key: str, value: Any, allowed: str, source: str | None = None):
        self.key, self.value, self.allowed, self.source = key, value, allowed, source
        super().__init__(self.message())

    def message(self) -> str:
        where = f"{self.source}: " if self.source else ""
        if self.value is UNKNOWN:
            return f"{where}{self.key}: unknown key; allowed keys of {self.allowed}"
        return f"{where}{self.key} = {self.value!r}: allowed: {self.allowed}"


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


def lookup(obj: Any, path: str) -> Any:
    """The value at a dotted config path (dataclass attributes and dict keys)."""
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


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
        # from -inf: before day 0 (the warm-up) no intervention is active yet
        cuts = sorted({-math.inf, 0.0, *base.times, *(s.start for s in segs), *(s.end for s in segs if s.end < math.inf)})
        values = []
        for t in cuts:
            x = base.at(t)
            for s in segs:
                if s.start <= t < s.end:
                    x = change(s.op, x, s.value)
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
                        [(per_resident(e.target)[0], e.op, e.value) for e in iv.serves.effects])  # type: ignore[index]
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


# ----------------------------------------------------------------------------- loading and validation
def to_config(cfg: DictConfig | dict) -> Config:
    """Convert a composed config to typed dataclasses; unknown keys and wrong types raise ConfigError."""
    try:
        _check_places(cfg)
        merged = OmegaConf.merge(OmegaConf.structured(Config), cfg)
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as e:
        raise config_error(getattr(e, "full_key", None) or "?", str(e)) from None


def _check_places(cfg: DictConfig | dict) -> None:
    """Each intervention's `places` in range before its changes are resolved from it: `${reach:...}` and
    `${compound:...}` of a negative or huge size give a complex number or infinity, blamed on the wrong key."""
    meta = next(f.metadata for f in fields(Intervention) if f.name == "places")
    interventions = cfg.get("intervention")
    for name, iv in interventions.items() if isinstance(interventions, (dict, DictConfig)) else ():
        places = iv.get("places") if isinstance(iv, (dict, DictConfig)) else None
        if isinstance(places, (int, float)) and not isinstance(places, bool):
            _check_field(places, f"intervention.{name}.places", dict(meta))


def config_error(key: str, text: str, source: str | None = None) -> ConfigError:
    """A ConfigError for `key` from an OmegaConf or Hydra message: an unknown key or a value of the wrong type."""
    if re.search(r"Key '[^']+' not in|is not in struct|Could not override", text):
        return ConfigError(key, UNKNOWN, parent_keys(key), source)
    value = re.search(r"Value '([^']*)'", text)
    return ConfigError(key, value.group(1) if value else "?", type_hint(text), source)


def _schema_at(path: str) -> Any:
    """The schema type at a config path (a dataclass, or a dict's value type), or None."""
    import typing

    t: Any = Config
    for part in [p for p in path.split(".") if p]:
        if is_dataclass(t):
            hints = typing.get_type_hints(t)
            if part not in hints:
                return None
            t = hints[part]
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        else:
            return None
    return t


def parent_keys(key: str) -> str:
    """The keys allowed beside `key` (for an unknown-key message)."""
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    t = _schema_at(parent)
    if is_dataclass(t):
        return f"{parent or 'the config'}: " + ", ".join(f.name for f in fields(t))
    return parent or "the config"


def type_hint(msg: str) -> str:
    """What a value of the wrong type should have been, from the error text."""
    for t, hint in (("Integer", "an integer"), ("int", "an integer"), ("Float", "a number"), ("float", "a number"),
                    ("Boolean", "true or false"), ("bool", "true or false"), ("String", "text")):
        if t in msg:
            return hint
    return " ".join(msg.split())


def load(cfg: DictConfig | dict) -> Params:
    """Composed config -> validated `Params`. Raises ConfigError naming the first bad value."""
    return params_of(to_config(cfg))


def params_of(c: Config) -> Params:
    """Typed config -> validated `Params` (for callers that change the dataclasses before running)."""
    validate(c)
    return Params(c, _changes(c))


def _walk(obj: Any, path: str, check: Callable[[Any, str, dict], None]) -> None:
    if is_dataclass(obj):
        for f in fields(obj):
            p = f"{path}.{f.name}" if path else f.name
            v = getattr(obj, f.name)
            check(v, p, dict(f.metadata))
            _walk(v, p, check)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _walk(v, f"{path}.{k}", check)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if is_dataclass(v):
                _walk(v, f"{path}.{i}", check)


def _check_field(v: Any, path: str, meta: dict) -> None:
    if "low" in meta and isinstance(v, (int, float)) and not isinstance(v, bool):
        lo, hi = meta["low"], meta["high"]
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ConfigError(path, v, f"[{_bound(lo)}, {_bound(hi)}]" if hi < math.inf else f"a finite number >= {_bound(lo)}")
    if "shares" in meta:
        n = meta["shares"]
        if len(v) != n or any(not (0 <= x <= 1) for x in v) or abs(sum(v) - 1) > 1e-6:
            raise ConfigError(path, list(v), f"{n} shares, each in [0, 1], summing to 1")
    if isinstance(v, Dist):
        bad = problem(v)
        if bad is not None:
            name, value, allowed = bad
            suffix = f" (for a {v.kind} distribution)" if name != "kind" else ""
            raise ConfigError(f"{path}.{name}", value, f"{allowed}{suffix}")


def _bound(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def validate(c: Config) -> None:
    """Range, share, reference and period checks; raises ConfigError on the first problem."""
    _walk(c, "", _check_field)
    h = c.experiment.horizon_days
    if c.experiment.primary_kpi not in KPI_NAMES:
        raise ConfigError("experiment.primary_kpi", c.experiment.primary_kpi, f"one of {', '.join(KPI_NAMES)}")
    if c.experiment.max_replications < c.experiment.replications:
        raise ConfigError("experiment.max_replications", c.experiment.max_replications,
                          f">= experiment.replications ({c.experiment.replications})")
    _check_borrows(c.region)
    wf = c.region.workforce
    if len(wf.retirement_rate) != len(AGE_BANDS) or any(not (0 <= r <= 1) for r in wf.retirement_rate):
        raise ConfigError("region.workforce.retirement_rate", wf.retirement_rate,
                          f"{len(AGE_BANDS)} annual rates in [0, 1], one per age band {AGE_BANDS}")
    for name, role in wf.roles.items():
        if role.promoted_from is not None and role.promoted_from not in wf.roles:
            raise ConfigError(f"region.workforce.roles.{name}.promoted_from", role.promoted_from,
                              f"a role: {', '.join(wf.roles)}")
    for gname, g in wf.groups.items():
        if g.sector not in SECTORS:
            raise ConfigError(f"region.workforce.groups.{gname}.sector", g.sector, f"one of {', '.join(SECTORS)}")
        for rname in g.posts:
            if rname not in wf.roles:
                raise ConfigError(f"region.workforce.groups.{gname}.posts.{rname}", rname,
                                  f"a role defined in region.workforce.roles: {', '.join(wf.roles)}")
    for name, ch in c.region.channels.items():
        _check_period(f"region.channels.{name}.period", ch.period.start_day, ch.period.end_day, h)
    p = c.pathway
    for name, sup in p.support.items():
        if sup.needs not in NEEDS:
            raise ConfigError(f"pathway.support.{name}.needs", sup.needs, f"one of {', '.join(NEEDS)}")
    scheduled = {"engagement": p.engagement, "recruitment": p.recruitment,
                 **{f"support.{n}": sup for n, sup in p.support.items()}}
    for part, where in scheduled.items():
        for i, s in enumerate(where.schedule):
            if s.day > h:
                raise ConfigError(f"pathway.{part}.schedule.{i}.day", s.day, f"[0, horizon_days={h:g}]")
    stages = stage_names(p)
    if len(p.training.need_course) != len(QUALIFICATIONS) or any(not (0 <= x <= 1) for x in p.training.need_course):
        raise ConfigError("pathway.training.need_course", p.training.need_course,
                          f"{len(QUALIFICATIONS)} probabilities in [0, 1], one per qualification {QUALIFICATIONS}")
    for name, course in p.training.courses.items():
        key = f"pathway.training.courses.{name}"
        if not course.qualifies_for:
            raise ConfigError(f"{key}.qualifies_for", [], f"at least one role: {', '.join(wf.roles)}")
        for r in course.qualifies_for:
            if r not in wf.roles:
                raise ConfigError(f"{key}.qualifies_for", r, f"a role: {', '.join(wf.roles)}")
        for q in course.qualification:
            if q not in QUALIFICATIONS:
                raise ConfigError(f"{key}.qualification", q, f"one of {', '.join(QUALIFICATIONS)}")
        for s in course.sectors:
            if s not in SECTORS:
                raise ConfigError(f"{key}.sectors", s, f"one of {', '.join(SECTORS)}")
    for name, iv in c.intervention.items():
        key = f"intervention.{name}"
        _check_period(key, iv.start_day, iv.end_day, h)
        if iv.cost.person_stage is not None and iv.cost.person_stage not in stages:
            raise ConfigError(f"{key}.cost.person_stage", iv.cost.person_stage, f"one of {', '.join(stages)}")
        if iv.cost.per_person > 0 and iv.cost.person_stage is None:
            raise ConfigError(f"{key}.cost.person_stage", None, f"a stage when per_person > 0: {', '.join(stages)}")
        if iv.cost.person_channel is not None and iv.cost.person_channel not in c.region.channels:
            raise ConfigError(f"{key}.cost.person_channel", iv.cost.person_channel,
                              f"a channel: {', '.join(c.region.channels)}")
        for i, ch in enumerate(iv.changes):
            _check_change(c, f"{key}.changes.{i}", ch,
                          any(fnmatch.fnmatchcase(ch.target, pat) for pat in CHANGEABLE), ", ".join(CHANGEABLE))
            role = ch.target.split(".")[3] if fnmatch.fnmatchcase(ch.target, "region.workforce.roles.*.succession.*") else None
            if role is not None and c.region.workforce.roles[role].promoted_from is None:
                raise ConfigError(f"{key}.changes.{i}.target", ch.target,
                                  "a role with promoted_from (succession participants come from the role below)")
        _check_serves(c, f"{key}.serves", iv.serves, stages)


def _check_change(c: Config, key: str, ch: Change, allowed: bool, paths: str) -> None:
    """A change's op, target (`allowed`: it matches one of `paths`) and value."""
    if ch.op not in OPS:
        raise ConfigError(f"{key}.op", ch.op, f"one of {', '.join(OPS)}")
    if not allowed or not _has(c, ch.target):
        raise ConfigError(f"{key}.target", ch.target, "an existing config path matching one of: " + paths)
    target = lookup(c, ch.target)
    if isinstance(target, Dist) and ch.op != "scale":
        raise ConfigError(f"{key}.op", ch.op, "scale (a distribution can only be scaled)")
    if not isinstance(target, (Dist, int, float)) or isinstance(target, bool):
        raise ConfigError(f"{key}.target", ch.target, "a number or a distribution")
    if not math.isfinite(ch.value) or (ch.op != "add" and ch.value < 0):
        raise ConfigError(f"{key}.value", ch.value, "a finite number (>= 0 unless op is add)")


def _check_serves(c: Config, key: str, sv: Serves, stages: tuple[str, ...]) -> None:
    """An intervention's own places: a stage with a capacity of places, and effects read after a place is held."""
    own = ("engagement", *c.pathway.support)  # the stages whose places are held (`Capacity`)
    if sv.stage is None:
        if sv.effects:
            raise ConfigError(f"{key}.stage", None, f"the stage whose places carry the effects: {', '.join(own)}")
        return
    if sv.stage not in own:
        raise ConfigError(f"{key}.stage", sv.stage, f"a stage with places of its own: {', '.join(own)}")
    at = stages.index(sv.stage)
    for i, ch in enumerate(sv.effects):
        ekey = f"{key}.effects.{i}"
        found = per_resident(ch.target)
        _check_change(c, ekey, ch, found is not None, ", ".join(PER_RESIDENT))
        name, stage = found  # type: ignore[misc]
        if stages.index(stage) < at or name == f"support.{sv.stage}.patience":
            raise ConfigError(f"{ekey}.target", ch.target,
                              f"a number the journey reads after a place at {sv.stage} is held (a later stage, "
                              f"or this stage's duration or completion)")


def _check_borrows(r: Region) -> None:
    """A region that borrows says what, from a known list, and from whom; one that names a lender borrows."""
    for what in r.borrows:
        if what not in BORROWABLE:
            raise ConfigError("region.borrows", what, f"one of {', '.join(BORROWABLE)}")
    if len(set(r.borrows)) != len(r.borrows):
        raise ConfigError("region.borrows", list(r.borrows), "each item once")
    if r.borrows and not r.borrows_from.strip():
        raise ConfigError("region.borrows_from", r.borrows_from, "the region borrowed from, when region.borrows is set")
    if r.borrows_from.strip() and not r.borrows:
        raise ConfigError("region.borrows", [], f"what is borrowed from {r.borrows_from}: {', '.join(BORROWABLE)}")
    if r.borrows_from.strip() == r.label:
        raise ConfigError("region.borrows_from", r.borrows_from, "another region than this one")


def _check_period(key: str, start: float, end: float | None, h: float) -> None:
    if not 0 <= start <= h:
        raise ConfigError(f"{key}.start_day", start, f"[0, horizon_days={h:g}]")
    if end is not None and not start < end <= h:
        raise ConfigError(f"{key}.end_day", end, f"(start_day={start:g}, horizon_days={h:g}]")


def _changes(c: Config) -> dict[str, list[Segment]]:
    """Each intervention's changes over its window: from `start_day` to `end_day`, or to the horizon with none.

    The option ends at the horizon (README, "What an option costs"): in the follow-up its places,
    rates and probabilities are back to the region's own, so it uses only what was paid for.
    """
    out: dict[str, list[Segment]] = {}
    h = c.experiment.horizon_days
    for name, iv in c.intervention.items():
        end = h if iv.end_day is None else iv.end_day
        for ch in iv.changes:
            out.setdefault(ch.target, []).append(Segment(iv.start_day, end, ch.op, ch.value))
    return out
