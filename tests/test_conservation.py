"""Conservation of people and posts, no leaks of places, and zero or extreme values that still mean something."""

from __future__ import annotations

import math

import pytest
import simpy
from conftest import make_params
from omegaconf import OmegaConf

from sim.model import Model, RunOutput, simulate
from sim.model.capacity import Capacity, Cohorts
from sim.model.clock import Environment
from sim.model.pathway import Funnel
from sim.model.workforce import Workforce, calibrate
from sim.params.paths import CONFIG_DIR
from sim.params.plan import Params, lookup
from sim.params.schedule import Piecewise
from sim.params.streams import Streams

QUICK = ("experiment=quick", "experiment.progress=false", "experiment.warmup_days=0")  # funnel counts from day 0
# The referral channels of the shipped region, read from its file so the tests follow the config.
REGION = OmegaConf.load(CONFIG_DIR / "region" / "norfolk_waveney.yaml")
CHANNELS: tuple[str, ...] = tuple(REGION.channels.keys())
ROLES: tuple[str, ...] = tuple(REGION.workforce.roles.keys())
CARE_HOME_CARERS = "region.workforce.groups.care_homes.posts.care_worker"
NO_REFERRALS: tuple[str, ...] = tuple(f"region.channels.{c}.referrals_per_year=0" for c in CHANNELS)
STACKED = "intervention=[childcare,gp_advisers,outreach,mentoring,faster_checks]"


def kpi(out: RunOutput, name: str, group: str = "all") -> float:
    """The value of one KPI row of a run (exactly one row must match)."""
    values = [v for k, g, v in out.kpis if (k, g) == (name, group)]
    assert len(values) == 1, f"{name}/{group}: {len(values)} rows"
    return values[0]


def funnel_stage(out: RunOutput, stage: str) -> dict:
    """The funnel record of one stage."""
    return next(f for f in out.funnel if f["stage"] == stage)


def assert_conserved(out: RunOutput) -> None:
    """Everyone who arrived is in exactly one stage, has left, or completed the first year."""
    c = out.conservation
    assert c["arrived"] == c["in_stage"] + c["exited"] + c["completed_first_year"], c
    assert all(n >= 0 for n in c["by_stage"].values()), c["by_stage"]
    # against counts kept apart from the funnel: every resident process that has not returned is in a stage
    # before the first year, and every starter in their first year holds a post in the workforce's state
    stages = list(c["by_stage"])
    assert c["arrived"] - c["journeys_ended"] == sum(c["by_stage"][s] for s in stages[:-1]), c
    assert c["first_year_in_post"] == c["by_stage"][stages[-1]], c


# ----------------------------------------------------------------------------- people
@pytest.mark.parametrize(
    "overrides",
    [
        (),
        (STACKED,),
        ("intervention=[childcare,gp_advisers,outreach,mentoring,faster_checks,online_academy,"
         "digital_skills,interview_coaching,training_places]", "experiment.warmup_days=200"),
    ],
    ids=["baseline", "stacked", "all-interventions-with-warmup"],
)
@pytest.mark.parametrize("replication", [0, 1])
@pytest.mark.model
def test_people_conserved(overrides: tuple[str, ...], replication: int) -> None:
    """arrived == in_stage + exited + completed_first_year, with and without stacked interventions; and the
    number in each stage at the horizon equals a count of the residents traced one by one."""
    params = make_params(*QUICK, *overrides)
    out, where = traced_stages(params, replication)
    c = out.conservation
    p = params.config.pathway
    stages = ["engagement", *p.support, "training", "job_search", "recruitment", "checks", "in_post"]
    assert [f["stage"] for f in out.funnel] == stages == list(c["by_stage"])
    traced = {s: sum(1 for stage in where.values() if stage == s) for s in stages}
    assert list(c["by_stage"].values()) == list(traced.values()), (c["by_stage"], traced)
    assert [f["in_stage_end"] for f in out.funnel] == list(traced.values())
    assert c["in_stage"] == sum(traced.values())
    assert out.conservation["arrived"] > 100  # the run has people to conserve
    assert out.conservation["completed_first_year"] > 0  # and some reach the last stage's end
    assert_conserved(out)
    if params.config.experiment.warmup_days == 0:
        # every arrival is a counted referral when there is no warm-up
        assert kpi(out, "referrals") == out.conservation["arrived"]
        assert kpi(out, "referrals") == sum(kpi(out, "referrals", f"channel:{c}") for c in CHANNELS)


def traced_stages(params: Params, replication: int) -> tuple[RunOutput, dict[tuple[int, int], str]]:
    """The run, and the stage each resident was in at the horizon ("" if they had left), found by recording every
    resident's own moves (entries and exits, by (channel, arrival index)) rather than from the funnel's counters."""
    enter, exit_ = Funnel.enter, Funnel.exit
    moves: dict[tuple[int, int], list[tuple[float, int]]] = {}  # resident -> [(time, stage entered or -1: left)]

    def traced_enter(self: Funnel, r, s: int) -> None:
        moves.setdefault((r.channel, r.index), []).append((self.env.now, s))
        enter(self, r, s)

    def traced_exit(self: Funnel, r, reason: str, success: bool = False) -> None:
        moves.setdefault((r.channel, r.index), []).append((self.env.now, -1))
        exit_(self, r, reason, success)

    Funnel.enter, Funnel.exit = traced_enter, traced_exit  # type: ignore[method-assign]
    try:
        model = Model(params, replication)
        names = model.pathway.stages
        out = model.run()
    finally:
        Funnel.enter, Funnel.exit = enter, exit_  # type: ignore[method-assign]
    h = params.config.experiment.horizon_days
    where = {}
    for who, steps in moves.items():
        before = [s for t, s in steps if t < h]  # the conservation record is taken before the events of day h
        if before:
            where[who] = "" if before[-1] < 0 else names[before[-1]]
    return out, where


@pytest.mark.model
def test_support_capacities_account_for_every_entrant() -> None:
    """Each entrant of a stage with one queue is granted a place, reneges, or is still waiting."""
    model = Model(make_params(*QUICK, STACKED), 0)
    out = model.run()
    pw = model.pathway
    caps = {row["capacity"]: row for row in out.capacities}  # at the horizon, as the funnel
    assert [st.name for st in pw.support] == ["childcare", "digital_skills", "health_support"]
    for stage, cap in (("engagement", pw.advisers), *((st.name, st.cap) for st in pw.support)):
        entered = funnel_stage(out, stage)["entered"]
        row = caps[cap.name]
        assert entered > 0, stage
        assert entered == row["granted"] + row["reneged"] + row["queue_end"], (stage, entered, row)
    # training: each entrant queues for exactly one course's intakes
    courses = [c.name for c in pw.capacities if isinstance(c, Cohorts)]
    assert len(courses) == len(pw.courses) > 0
    assert funnel_stage(out, "training")["entered"] == sum(
        caps[c]["granted"] + caps[c]["reneged"] + caps[c]["queue_end"] for c in courses)


# ----------------------------------------------------------------------------- posts
@pytest.mark.model
def test_posts_identity_every_day() -> None:
    """Daily samples: staff_in_post + vacancies == establishment and no negative counts, in every cell."""
    params = make_params(*QUICK, STACKED, "experiment.record_every_days=1")
    out = simulate(params, 0)
    assert kpi(out, "hires") > 0  # programme starters take posts, so the pathway side is exercised
    horizon = params.config.experiment.horizon_days
    cells = {(g, r) for g, grp in params.config.region.workforce.groups.items() for r in grp.posts}
    by_day: dict[float, set[tuple[str, str]]] = {}
    for day, group, role, est, in_post, vac in out.timeseries:
        assert in_post + vac == est, (day, group, role, est, in_post, vac)
        assert vac >= 0, (day, group, role, vac)
        assert in_post >= 0 and est > 0, (day, group, role, est, in_post)
        by_day.setdefault(day, set()).add((group, role))
    # one sample a day from 0 up to the horizon, each covering every cell once
    assert sorted(by_day) == [float(d) for d in range(int(horizon))] + [horizon]
    assert all(seen == cells for seen in by_day.values())
    assert len(out.timeseries) == len(by_day) * len(cells)


@pytest.mark.unit
def test_vacancy_days_follow_programme_starts_between_steps() -> None:
    """Starts and early leavers between churn steps are integrated exactly (the scalar correction of `_shift`)."""
    c = make_params().config
    env = simpy.Environment()
    wf = Workforce(env, c.region.workforce, Streams(1, 0).generator, step=1000.0,  # no churn step before day 10
                   bau=calibrate(c.region.workforce), schedule=lambda path: Piecewise([0.0], [lookup(c, path)]))
    cell = next(zip(*wf.vacancies().nonzero()))
    v0 = wf.vacancies()
    env.run(until=3.5)
    assert wf.start(cell)
    env.run(until=5.25)
    assert wf.start(cell)
    env.run(until=6.0)
    wf.leave(cell)
    env.run(until=10.0)
    wf._accumulate()
    expected = v0 * 10.0
    expected[cell] -= (5.25 - 3.5) * 1 + (6.0 - 5.25) * 2 + (10.0 - 6.0) * 1
    assert wf.vacancy_days == pytest.approx(expected, abs=1e-9)
    assert wf.vacancies()[cell] == v0[cell] - 1


# ----------------------------------------------------------------------------- no leaks
@pytest.mark.model
def test_no_leaks_when_arrivals_stop() -> None:
    """Arrivals stop at day 200 of 2500: every place is given back, no live queue, nobody left in any stage."""
    overrides = (
        *QUICK,
        "intervention=[gp_advisers,outreach,online_academy,mentoring,faster_checks]",  # extra channels on
        "experiment.horizon_days=2500",
        "pathway.support.childcare.places=1",  # one place for every parent: the others renege from its queue
        *(f"region.channels.{c}.period.end_day=200" for c in CHANNELS),
    )
    model = Model(make_params(*overrides), 0)
    out = model.run()
    pw = model.pathway
    c = out.conservation
    assert c["arrived"] > 300
    assert_conserved(out)
    # the longest route (a year's wait for the nursing associate intake, two years' course, job search,
    # checks, a year in post) ends well within the 2,300 days after the last arrival
    assert sum(pw.funnel.current) == 0, c["by_stage"]
    assert c["arrived"] == c["exited"] + c["completed_first_year"]
    assert c["completed_first_year"] > 0
    for cap in pw.capacities:
        assert cap.waiting == 0, cap.name
        assert all(req.triggered for req in cap.queue), cap.name  # no request left pending
        if isinstance(cap, Capacity):
            assert cap.users == 0, cap.name
        else:
            assert isinstance(cap, Cohorts)
    assert pw.support[0].cap.reneged > 0  # childcare: reneging was exercised, and still nothing leaked
    assert int(model.workforce.first_year.sum()) == 0  # every starter settled or left
    assert all(req.triggered for waiting in model.workforce._waiting.values() for req in waiting)


# ----------------------------------------------------------------------------- zero and extreme values
@pytest.mark.parametrize("override", ["pathway.engagement.advisers=0", "pathway.engagement.caseload_per_adviser=0"])
@pytest.mark.model
def test_no_advisers_nobody_passes_engagement(override: str) -> None:
    """No adviser places (no advisers, or a caseload of 0): every entrant gives up or is still queued; no hires."""
    out = simulate(make_params(*QUICK, override), 0)
    assert_conserved(out)
    eng = funnel_stage(out, "engagement")
    assert eng["entered"] == out.conservation["arrived"] > 0
    assert set(eng["reasons"]) == {"gave up waiting for an adviser"}
    assert eng["reasons"]["gave up waiting for an adviser"] + eng["in_stage_end"] == eng["entered"]
    assert all(f["entered"] == 0 for f in out.funnel if f["stage"] != "engagement")
    assert kpi(out, "hires") == 0
    assert kpi(out, "utilisation", "capacity:advisers") == 0


@pytest.mark.model
def test_no_childcare_no_parent_hired() -> None:
    """With no childcare places no parent is hired, but residents without young children still are."""
    out = simulate(make_params(*QUICK, "pathway.support.childcare.places=0"), 0)
    assert_conserved(out)
    cc = funnel_stage(out, "childcare")
    assert cc["entered"] > 0
    assert set(cc["reasons"]) <= {"gave up waiting for a place"}
    assert cc["reasons"].get("gave up waiting for a place", 0) + cc["in_stage_end"] == cc["entered"]
    assert kpi(out, "hires", "parents") == 0
    assert kpi(out, "hires") > 0


@pytest.mark.model
def test_no_shortlisting_no_hires() -> None:
    """Shortlisting probability 0: every application is rejected, so nobody is hired."""
    out = simulate(make_params(*QUICK, "pathway.recruitment.shortlisting=0"), 0)
    assert_conserved(out)
    rec = funnel_stage(out, "recruitment")
    assert rec["entered"] > 0 and rec["reasons"].get("not shortlisted", 0) == rec["entered"]
    assert funnel_stage(out, "checks")["entered"] == 0
    assert kpi(out, "hires") == 0
    assert kpi(out, "utilisation", "capacity:interview_slots") == 0


@pytest.mark.model
def test_no_interview_slots_no_hires() -> None:
    """No interview slots: shortlisted candidates give up waiting for an interview, nobody reaches checks."""
    out = simulate(make_params(*QUICK, "pathway.recruitment.interview_slots=0"), 0)
    assert_conserved(out)
    rec = funnel_stage(out, "recruitment")
    assert rec["reasons"].get("gave up waiting for an interview", 0) > 0
    assert "not successful at interview" not in rec["reasons"]
    assert funnel_stage(out, "checks")["entered"] == 0
    assert kpi(out, "hires") == 0


@pytest.mark.model
def test_no_course_seats_when_everyone_needs_a_course() -> None:
    """Every resident needs a course and no course has seats: nobody leaves training for job search, no hires."""
    pathway = OmegaConf.load(CONFIG_DIR / "pathway" / "default.yaml")
    seats = (f"pathway.training.courses.{c}.places_per_cohort=0" for c in pathway.training.courses)
    out = simulate(make_params(*QUICK, "pathway.training.need_course=[1,1,1]", *seats), 0)
    assert_conserved(out)
    tr = funnel_stage(out, "training")
    assert tr["entered"] > 0
    assert set(tr["reasons"]) <= {f"gave up waiting for {c}" for c in pathway.training.courses}
    assert sum(tr["reasons"].values()) + tr["in_stage_end"] == tr["entered"]
    assert funnel_stage(out, "job_search")["entered"] == 0
    assert kpi(out, "hires") == 0


@pytest.mark.model
def test_certain_recruitment_hires_more() -> None:
    """Shortlisting, interview, acceptance and checks all certain hires more than the defaults, same seed."""
    # Per application the defaults succeed with 0.5 x 0.55 x 0.9 x 0.97 = 0.24, so at most
    # 1 - (1 - 0.24)^3 = 0.56 of those reaching recruitment are hired after 3 tries; certain steps hire
    # them all (bar vacancy waits and withdrawals): about 1.8x. With ~90 default hires (Poisson sd ~10)
    # the expected gap of ~70 is ~5 sd of the difference, so a strict inequality per replication is safe.
    certain = ("pathway.recruitment.shortlisting=1", "pathway.recruitment.interview_pass=1",
               "pathway.recruitment.offer_acceptance=1", "pathway.recruitment.checks_pass=1")
    default_p, certain_p = make_params(*QUICK), make_params(*QUICK, *certain)
    for r in (0, 1):
        base, sure = simulate(default_p, r), simulate(certain_p, r)
        assert_conserved(sure)
        assert kpi(sure, "hires") > kpi(base, "hires") > 0
        rec = funnel_stage(sure, "recruitment")["reasons"]
        assert not {"not shortlisted", "not successful at interview", "declined the offer"} & set(rec)
        assert "did not pass checks" not in funnel_stage(sure, "checks")["reasons"]


@pytest.mark.model
def test_no_referrals_no_hires_but_vacancies() -> None:
    """All channels at zero: no referrals and no hires, while vacancies are still reported."""
    params = make_params(*QUICK, *NO_REFERRALS)
    out = simulate(params, 0)
    assert out.conservation["arrived"] == 0
    assert_conserved(out)
    assert kpi(out, "referrals") == 0
    assert kpi(out, "hires") == 0
    # the demand side runs on its own: thousands of open posts, sampled to the horizon
    assert 0.5 * params.config.region.published_vacancies < kpi(out, "vacancies_mean") < math.inf
    assert kpi(out, "vacancies_end") > 0
    assert out.timeseries and max(row[0] for row in out.timeseries) == params.config.experiment.horizon_days
    assert sum(row[5] for row in out.timeseries if row[0] == 0.0) > 0


@pytest.mark.model
def test_huge_referral_rate_runs_and_conserves() -> None:
    """20,000 Jobcentre referrals a year over a year: runs, conserves people, arrivals match the rate."""
    params = make_params(*QUICK, "region.channels.jobcentre.referrals_per_year=20000", "experiment.horizon_days=365")
    out = simulate(params, 0)
    assert_conserved(out)
    # Poisson arrivals: expected 20,000 + the other channels' yearly rates over 365 days; allow 5 sd.
    expected = sum(ch.referrals_per_year for ch in params.config.region.channels.values())
    assert abs(out.conservation["arrived"] - expected) < 5 * math.sqrt(expected)
    # the adviser queue is swamped: most wait in vain, and the places that exist are (nearly) all used
    assert kpi(out, "utilisation", "capacity:advisers") > 0.9
    assert funnel_stage(out, "engagement")["reasons"]["gave up waiting for an adviser"] > expected / 2


@pytest.mark.parametrize("p12", [0, 1])
@pytest.mark.model
def test_first_year_leaving_extremes(p12: int) -> None:
    """First-year leaving 1 for every role: nobody completes a year; 0: nobody leaves early and all eligible are
    sustained."""
    out = simulate(make_params(*QUICK, *(f"region.workforce.roles.{r}.first_year_leaving={p12}" for r in ROLES)), 0)
    assert_conserved(out)
    assert kpi(out, "hires") > 0
    if p12 == 1:
        # leaving is certain within the year, at a hazard so high (50/year) that a 6-month stay has probability e^-25
        assert out.conservation["completed_first_year"] == 0
        assert kpi(out, "sustained_12m") == 0 and kpi(out, "sustained_6m") == 0
        assert kpi(out, "early_leavers") > 0
    else:
        assert kpi(out, "early_leavers") == 0
        assert out.conservation["completed_first_year"] > 0
        assert kpi(out, "sustained_12m_rate") == 1.0 and kpi(out, "sustained_6m_rate") == 1.0


@pytest.mark.parametrize("growth", [-0.5, -0.2, 1.0])
@pytest.mark.model
def test_establishment_growth_extremes(growth: float) -> None:
    """growth_per_year at valid extremes (schema range [-0.5, 1]) runs; the cell's posts follow (1+g)^t, cut only
    when vacant."""
    params = make_params(*QUICK, f"{CARE_HOME_CARERS}.growth_per_year={growth}")
    out = simulate(params, 0)
    assert_conserved(out)
    rows = [r for r in out.timeseries if (r[1], r[2]) == ("care_homes", "care_worker")]
    for day, _g, _r, est, in_post, vac in out.timeseries:
        assert in_post + vac == est and vac >= 0, (day, est, in_post, vac)
    e0 = params.config.region.workforce.groups["care_homes"].posts["care_worker"].establishment
    step = params.config.experiment.workforce_step_days
    last_churn = math.floor(params.config.experiment.horizon_days / step) * step
    target = round(e0 * (1.0 + growth) ** (last_churn / 365.0))
    est_end, in_post_end = rows[-1][3], rows[-1][4]
    # the model's rule at each churn step: posts follow growth, but are never cut below the staff in post
    assert est_end >= max(target, in_post_end)
    if growth > 0:
        assert est_end == target > e0
    else:
        assert target <= est_end < e0


@pytest.mark.unit
def test_request_patience_gives_up_and_passes_the_place_on() -> None:
    """One place: the holder keeps it 5 days; a requester with patience 3 gives up at day 3 (False);
    one with no limit gets the place at day 5 (True), after the abandoned request is skipped."""
    env = Environment()
    cap = Capacity(env, "one", Piecewise([0.0], [1.0]))
    seen: list[tuple[str, float, bool]] = []

    def person(name: str, patience: float, hold: float):
        with cap.request(patience) as req:
            ok = yield req
            seen.append((name, env.now, ok))
            if ok:
                yield env.timeout(hold)

    env.process(person("holder", 1.0, 5.0))
    env.process(person("impatient", 3.0, 1.0))
    env.process(person("patient", math.inf, 1.0))
    env.run(until=10)
    assert seen == [("holder", 0.0, True), ("impatient", 3.0, False), ("patient", 5.0, True)]
    assert (cap.granted, cap.reneged, cap.waiting, cap.users) == (2, 1, 0, 0)
    assert cap.waits.mean() == pytest.approx(2.5)  # waits of those granted: 0 and 5 days


@pytest.mark.unit
def test_interrupt_cannot_leak_a_place() -> None:
    """Requests are events used as context managers: an interrupt while holding gives the place back, and
    one while waiting withdraws the request, so the next in line is served and nothing stays taken."""
    env = Environment()
    cap = Capacity(env, "one", Piecewise([0.0], [1.0]))
    seen: list[tuple[str, float, object]] = []

    def person(name: str, hold: float):
        try:
            with cap.request() as req:
                assert isinstance(req, simpy.Event)  # always an event, granted at once or not
                yield req
                seen.append((name, env.now, "granted"))
                yield env.timeout(hold)
        except simpy.Interrupt:
            seen.append((name, env.now, "interrupted"))

    def interrupt(p: simpy.Process, at: float):
        yield env.timeout(at)
        p.interrupt()

    holder = env.process(person("holder", 10.0))
    waiter = env.process(person("waiter", 1.0))
    last = env.process(person("last", 1.0))
    env.process(interrupt(holder, 2.0))  # while holding the place
    env.process(interrupt(waiter, 1.0))  # while still waiting for it
    env.run(until=20)
    assert seen == [("holder", 0.0, "granted"), ("waiter", 1.0, "interrupted"), ("holder", 2.0, "interrupted"),
                    ("last", 2.0, "granted")]
    assert last.triggered
    assert (cap.users, cap.waiting, cap.granted) == (0, 0, 2)
    assert all(req.triggered for req in cap.queue)
