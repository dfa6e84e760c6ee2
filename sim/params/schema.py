"""The typed schema of a config (dataclasses Hydra's ConfigStore registers as `pathways_schema`), the field
helpers that carry each number's allowed range, and the sizing resolvers (`${reach:...}`, `${compound:...}`).

Structured-config `__post_init__` does not run on OmegaConf merges, so the ranges are checked by an explicit
pass over the converted objects (`sim.params.config.validate`), driven by the field metadata written here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, is_dataclass
from typing import Any, cast

from omegaconf import OmegaConf

from sim.params.distributions import Dist

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
    """When something is active: from `start_day`, to `end_day` (None: to the horizon), ramping up linearly over
    `ramp_days`."""

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

    # per year, by staff age band (65+: derived per post)
    retirement_rate: list[float] = _f([0.0, 0.0, 0.0, 0.0, 0.05, 0.3])
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
UNCERTAINTY = ("parameters", "none")  # a comparison over parameter sets (and noise), or at the files' values only
# where the parameter sets come from: a calibrated region's posterior (sim.params.posterior), or the prior ranges
PARAMETERS = ("posterior", "prior")


@dataclass
class Experiment:
    seed: int = _f(20261123, low=0, high=2**32 - 1)
    replications: int = _f(10, low=1, high=100_000)
    workers: int = _f(1, low=1, high=1024)
    horizon_days: float = _f(1826.0, low=1.0, high=36525.0)  # the reported window [0, horizon)
    warmup_days: float = _f(0.0, low=0.0, high=36525.0)  # simulated before day 0, not reported
    # most days after the horizon to follow residents referred in it
    followup_days: float = _f(1826.0, low=0.0, high=36525.0)
    record_every_days: float = _f(30.0, low=1.0, high=36525.0)
    workforce_step_days: float = _f(1.0, low=0.01, high=91.0)  # time step of the aggregate staff churn
    progress: bool = True
    # add replications until the primary KPI's 95% CI half-width is below this (0: off)
    target_half_width: float = nonneg(0.0)
    primary_kpi: str = "hires"
    primary_group: str = "all"
    max_replications: int = _f(200, low=1, high=100_000)
    reference: str = "baseline"  # the option a sweep compares against: its name, its job number, or a scenario
    max_residents: int = _f(1_000_000, low=1, high=10**10)  # residents a replication may refer (the runaway-size guard)
    # paired replications at each end of the labour-supply range (0: off)
    supply_replications: int = _f(0, low=0, high=1000)
    # a sweep's options also run on parameter sets drawn from the ranges (configs/ranges), or not ("none")
    uncertainty: str = _f("none", choices=UNCERTAINTY)
    # the sets' calibrated parameters from the region's posterior (configs/calibration/<region>/) where it has one
    parameters: str = _f("posterior", choices=PARAMETERS)
    # with a posterior, also run the same sets on the prior ranges, for how much the calibration changed the answer
    compare_prior: bool = False
    sets: int = _f(0, low=0, high=10_000)  # parameter sets; 0: from sets_min, doubled until the answer is stable
    sets_min: int = _f(32, low=2, high=10_000)
    sets_max: int = _f(128, low=2, high=10_000)
    # what a planner would pay for one more unit of each effect (GBP): the recommendation's threshold
    wtp_per_sustained_job: float = nonneg(9000.0)
    wtp_per_vacancy_year: float = nonneg(15000.0)
    # the range over which the report says whether the choice holds: [low, high] around the value above
    wtp_per_sustained_job_range: list[float] = _f([4400.0, 27000.0])
    wtp_per_vacancy_year_range: list[float] = _f([5000.0, 30000.0])


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
        register()  # its numbers resolve through `${reach:...}` and `${compound:...}`
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
        return cast(Intervention, OmegaConf.to_object(typed))  # typed by OmegaConf as a container; here the dataclass


SIZE_EFFECTS = ("nothing", "cost", "capacity", "effect")


def size_effect(small: dict, large: dict) -> str:
    """What a larger size of an intervention changes, from its config resolved at two sizes (plain dicts):
    "nothing" (its places feed no change, no places of its own and no cost: every size gives the same results at
    the same cost), "cost" (the same results at a higher cost), "capacity" (it adds places to a capacity or serves
    people from places of its own: a size beyond the places anyone waits for changes only the cost, which only a
    run can tell), or "effect" (it changes a rate, a probability or a duration)."""
    def strip(iv: dict) -> dict:
        return {k: v for k, v in iv.items() if k not in ("places", "label")}

    serves = (small.get("serves") or {}).get("stage") is not None
    if not serves and strip(small) == strip(large):
        return "cost" if float((small.get("cost") or {}).get("per_place_per_year") or 0) > 0 else "nothing"
    grown = [b for a, b in zip(small.get("changes") or [], large.get("changes") or []) if a != b]
    if grown and all(c.get("op") == "add" and str(c.get("target", "")).endswith(".places") for c in grown):
        return "capacity"
    return "capacity" if serves and not grown else "effect"


def register() -> None:
    """Register the schema in Hydra's ConfigStore (as `pathways_schema`) and the sizing resolvers. Storing the schema
    costs about 0.1 s, so it is stored once a process (again only if the store lost it)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    if "pathways_schema.yaml" not in store.repo:
        store.store(name="pathways_schema", node=Config)
    register_resolvers()


def register_resolvers() -> None:
    """The sizing resolvers alone: what a launcher's worker needs to resolve a job's config (cheap)."""
    OmegaConf.register_new_resolver("reach", reach, replace=True)
    OmegaConf.register_new_resolver("compound", compound, replace=True)
