"""The model's value of every target (`configs/targets.yaml`): one registry of measures, each read from one
replication's outputs, averaged over replications with a 95% simulation interval.

A measure reads only what a run writes (kpis.csv, funnel.csv, timeseries.csv and config.yaml), so a finished
run folder and the in-process `RunOutput`s of its replications give the same numbers. Funnel counts cover the
reported window (stays that end in it); the residents' KPIs cover those referred in the window, followed to
their outcome. Each measure's docstring says exactly what it counts.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from sim.experiment.replications import DONE, from_text, funnel_rows, kpi_rows, timeseries_rows
from sim.experiment.stats import Interval, mean_ci
from sim.model import RunOutput
from sim.params.config import to_config
from sim.params.schema import Config
from sim.params.targets import Target, Targets

SOCIAL_CARE = "social_care"


@dataclass(frozen=True)
class Replication:
    """What one replication reported, as the measures read it."""

    kpis: dict[tuple[str, str], float]  # (kpi, group) -> value
    funnel: dict[tuple[str, str, str], float]  # (stage, measure, reason) -> value; reason "" for the stage's own
    staff: dict[float, dict[str, float]]  # day sampled -> sector -> staff in post (first-year starters included)
    config: Config

    def kpi(self, name: str, group: str = "all") -> float:
        return self.kpis.get((name, group), 0.0)

    def stage(self, stage: str, measure: str) -> float:
        return self.funnel.get((stage, measure, ""), 0.0)

    def left(self, stage: str | None, reason: str) -> float:
        """People who left `stage` (every stage if None) for a reason starting with `reason`."""
        return sum(v for (s, m, r), v in self.funnel.items()
                   if m == "left" and r and r.startswith(reason) and stage in (None, s))


Measure = Callable[[Replication], float]
MEASURES: dict[str, Measure] = {}


def measure(fn: Measure) -> Measure:
    """Register a measure under its function's name."""
    MEASURES[fn.__name__] = fn
    return fn


def describe(name: str) -> str:
    """A measure's docstring's first paragraph, on one line."""
    return " ".join((MEASURES[name].__doc__ or "").split("\n\n")[0].split())


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


# ----------------------------------------------------------------------------- the supply side: the funnel
@measure
def engagement_start_share(rep: Replication) -> float:
    """Share of residents whose engagement stage ended in the window who went on past the adviser's needs
    assessment: 1 - (gave up waiting for an adviser + disengaged after assessment) / (entered - still there at
    the horizon)."""
    ended = rep.stage("engagement", "entered") - rep.stage("engagement", "in_stage_end")
    return _ratio(ended - rep.stage("engagement", "left"), ended)


@measure
def course_completion_share(rep: Replication) -> float:
    """Share of course takers who completed, every course together: of the training stays that ended in the
    window, those that did not give up waiting for a place, less those who did not complete, over those that
    did not give up waiting."""
    ended = rep.stage("training", "entered") - rep.stage("training", "in_stage_end")
    seated = ended - rep.left("training", "gave up waiting for")
    return _ratio(seated - rep.left("training", "did not complete"), seated)


@measure
def application_to_start_days(rep: Replication) -> float:
    """Days from an application to the start in post, from the funnel: the mean time a shortlisted application
    spends at interview (the recruitment stage's total time over its entries less those not shortlisted, who
    leave it at once) plus the mean time in pre-employment checks. Both sectors and every entry role together
    (the pathway has one recruitment process); waits of those who withdraw are included."""
    entered = rep.stage("recruitment", "entered")
    total = rep.stage("recruitment", "mean_time_in_stage") * entered
    interview = _ratio(total, entered - rep.left("recruitment", "not shortlisted"))
    return interview + rep.stage("checks", "mean_time_in_stage")


@measure
def job_seeker_hire_share(rep: Replication) -> float:
    """Share of residents ready to apply (after a course or without one) who start in post: starts in the
    window over first entries to job search in it (entries less the reapplications after not being shortlisted,
    not passing an interview or the post being filled before the start, less those who stopped after their last
    application). Stays open at either end of the window are about equal in a steady state."""
    reapplied = (rep.left(None, "not shortlisted") + rep.left(None, "not successful at interview")
                 + rep.left(None, "post filled before start") - rep.left(None, "unsuccessful after"))
    return _ratio(rep.stage("in_post", "entered"), rep.stage("job_search", "entered") - reapplied)


@measure
def first_job_share_of_starts(rep: Replication) -> float:
    """Share of residents who started on the programme (past the needs assessment) who started in a post:
    hires / referrals of the residents referred in the window, over `engagement_start_share`."""
    return _ratio(_ratio(rep.kpi("hires"), rep.kpi("referrals")), engagement_start_share(rep))


@measure
def sustained_job_share_of_starts(rep: Replication) -> float:
    """Share of residents who started on the programme who were still in their post six months after starting
    it: sustained_6m / referrals of the residents referred in the window, over `engagement_start_share`."""
    return _ratio(_ratio(rep.kpi("sustained_6m"), rep.kpi("referrals")), engagement_start_share(rep))


@measure
def jobcentre_in_work_6m_share(rep: Replication) -> float:
    """Share of the Jobcentre route's residents who started on the programme who were in a post six months after
    starting it: hires / referrals of the Jobcentre channel, over `engagement_start_share`, times the share of
    starters still in post at six months (`engagement_start_share` and sustained_6m_rate are reported for all
    routes together)."""
    hired = _ratio(rep.kpi("hires", "channel:jobcentre"), rep.kpi("referrals", "channel:jobcentre"))
    return _ratio(hired, engagement_start_share(rep)) * rep.kpi("sustained_6m_rate")


@measure
def care_worker_first_year_leaving(rep: Replication) -> float:
    """Share of residents who started as care workers who left within 12 months: 1 - sustained_12m / hires of
    role care_worker (every starter's 12 months end within the follow-up)."""
    return 1.0 - _ratio(rep.kpi("sustained_12m", "role:care_worker"), rep.kpi("hires", "role:care_worker"))


# ----------------------------------------------------------------------------- the demand side: social care
def _movers_are_social_care(config: Config) -> None:
    """The flow ledger counts movers for the whole region: they are social care's when no other sector's post
    has leavers moving within it (the NHS's leaver rates count leaving the NHS)."""
    wf = config.region.workforce
    other = [f"{g}.{r}" for g, grp in wf.groups.items() if grp.sector != SOCIAL_CARE
             for r, post in grp.posts.items() if post.within_sector_share > 0]
    if other:
        raise ValueError(f"movers are counted for the whole region, and posts outside social care have movers "
                         f"(within_sector_share > 0: {', '.join(other)}): the social care measures cannot be read")


@measure
def care_recruits_from_within_sector(rep: Replication) -> float:
    """Share of social care recruits who came from another social care employer: movers in / (movers in + BAU
    external hires + programme starts) in social care over the window. Promotions within an employer are not
    recruits."""
    _movers_are_social_care(rep.config)
    sector = f"sector:{SOCIAL_CARE}"
    movers_in = rep.kpi("movers_in")
    return _ratio(movers_in, movers_in + rep.kpi("bau_hires", sector) + rep.kpi("programme_starts", sector))


@measure
def care_leavers_staying_in_sector(rep: Replication) -> float:
    """Share of social care leavers (retirements included) who moved to another social care employer: movers /
    all who left a social care post over the window. The ledger counts leavers and retirements for the whole
    region, so social care's are what its staff balance leaves: BAU hires + programme starts + movers in - its
    programme starters' early leavers - the change in its staff in post (day 0 to the horizon, timeseries.csv);
    promotions move staff within an employer and cancel. Early leavers are shared between the sectors as their
    programme starts are."""
    _movers_are_social_care(rep.config)
    sector = f"sector:{SOCIAL_CARE}"
    starts, starts_all = rep.kpi("programme_starts", sector), rep.kpi("programme_starts")
    early = rep.kpi("programme_leavers") * _ratio(starts, starts_all) if starts_all else 0.0
    days = sorted(rep.staff)
    change = rep.staff[days[-1]].get(SOCIAL_CARE, 0.0) - rep.staff[days[0]].get(SOCIAL_CARE, 0.0) if days else 0.0
    left = rep.kpi("bau_hires", sector) + starts + rep.kpi("movers_in") - early - change
    return _ratio(rep.kpi("movers"), left)


# ----------------------------------------------------------------------------- reading a run
def from_outputs(outputs: Sequence[RunOutput], config: Config) -> list[Replication]:
    """The replications of an in-process run, read as a results folder would be."""
    return _replications(kpi_rows("", list(outputs)), funnel_rows("", list(outputs)),
                         timeseries_rows("", list(outputs)), config)


def from_folder(folder: Path) -> list[Replication]:
    """The replications of a finished run folder (a single run, or one job of a sweep)."""
    folder = Path(folder)
    files = ("kpis.csv", "funnel.csv", "timeseries.csv", "config.yaml")
    missing = [f for f in (*files, DONE) if not (folder / f).exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: not a finished run folder (no {missing[0]})")
    config = to_config(OmegaConf.create(yaml.safe_load((folder / "config.yaml").read_text())))

    def rows(name: str) -> list[tuple]:
        with (folder / name).open(newline="") as f:
            return [tuple(from_text(v) for v in row) for row in list(csv.reader(f))[1:]]

    return _replications(rows("kpis.csv"), rows("funnel.csv"), rows("timeseries.csv"), config)


def _replications(kpis: list[tuple], funnel: list[tuple], timeseries: list[tuple], config: Config) -> list[Replication]:
    """Tidy rows (as in kpis.csv, funnel.csv and timeseries.csv) grouped by replication."""
    sector = {g: grp.sector for g, grp in config.region.workforce.groups.items()}
    reps: dict[int, Replication] = {}

    def rep(r: object) -> Replication:
        key = int(str(r))
        if key not in reps:
            reps[key] = Replication({}, {}, {}, config)
        return reps[key]

    for _, r, k, g, v in kpis:
        rep(r).kpis[(str(k), str(g))] = float(v)
    for _, r, stage, m, reason, v in funnel:
        rep(r).funnel[(str(stage), str(m), str(reason))] = float(v)
    for _, r, day, group, _role, _est, in_post, _vac in timeseries:
        by_sector = rep(r).staff.setdefault(float(day), {})
        s = sector.get(str(group), "")
        by_sector[s] = by_sector.get(s, 0.0) + float(in_post)
    return [reps[k] for k in sorted(reps)]


# ----------------------------------------------------------------------------- the targets' values
@dataclass(frozen=True)
class TargetValue:
    """A target beside the model's value of it: mean over replications with its 95% simulation interval."""

    target: Target
    model: Interval

    @property
    def within(self) -> bool:
        """The model's mean lies within the target's tolerance of the published figure."""
        return abs(self.model.mean - self.target.figure) <= self.target.tolerance


def measure_targets(targets: Targets, replications: Sequence[Replication]) -> list[TargetValue]:
    """Every target's model value from the replications of one run."""
    return [TargetValue(t, mean_ci([MEASURES[t.measure](r) for r in replications])) for t in targets.targets]
