"""Every named scenario in scenarios/: it opens with a comment block, names itself, loads, runs, conserves
people; and the programmes with a published budget cost what was published over the 5-year horizon."""

from __future__ import annotations

import functools
import itertools
import math

import pytest
import yaml
from conftest import make_params

from sim.model import simulate
from sim.params.paths import CONFIG_DIR
from sim.params.plan import Params

SCENARIO_DIR = CONFIG_DIR / "scenario"  # a link to scenarios/
SCENARIOS = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
FIVE_YEARS = 1826.0  # the default horizon (configs/experiment/default.yaml)

# Connect to Work areas: published budget (GBP, ctw_<area>_funding) and people supported (the scenario
# headers give each source). The scenarios model the share of people aiming at health and care jobs,
# CTW_SHARE (an assumption stated in each header), so they should cost that share of the budget and
# support that share of the people over five years.
CTW_SHARE = 0.20
CTW_AREAS = {
    "north_east": (49_700_000, 13_800),
    "south_midlands": (32_000_000, 8_050),
    "devon_plymouth_torbay": (22_800_000, 5_950),
    "west_sussex_brighton": (15_600_000, 3_950),
    "cumbria": (11_700_000, 2_750),
    "york_north_yorkshire": (10_400_000, 2_500),
    "berkshire": (9_500_000, 2_350),
    "oxfordshire": (8_300_000, 2_000),
    "buckinghamshire": (7_200_000, 1_650),
}
# Intended programme cost over five years, GBP.
BUDGETS = {f"connect_to_work_{a}": CTW_SHARE * b for a, (b, _n) in CTW_AREAS.items()}
# Capacity a Connect to Work scenario adds for its extra referrals, funded outside Connect to Work (each
# header says so): in the option's cost, not in the published budget it is checked against.
OUTSIDE_BUDGET = ("training_places", "hospital_course_places", "digital_skills_places", "interview_slots")
BUDGETS["southend_anchor_programme"] = 400_000  # "about GBP 400k in total" (the programme brief)


@functools.cache
def params(name: str, horizon: float, *extra: str) -> Params:
    return make_params(f"scenario={name}", "experiment=quick", f"experiment.horizon_days={horizon:g}",
                       "experiment.progress=false", *extra)


NATIONAL = "connect_to_work_national"  # England: about ten times a large region's residents


@pytest.mark.unit
def test_every_scenario_is_found() -> None:
    assert "baseline" in SCENARIOS and len(SCENARIOS) >= 2
    assert set(BUDGETS) <= set(SCENARIOS), set(BUDGETS) - set(SCENARIOS)


# ----------------------------------------------------------------------------- the files
@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.unit
def test_scenario_file_opens_with_a_comment_block_and_names_itself(name: str) -> None:
    """`# @package _global_`, then a header comment (what it models, sources, published vs assumed), then keys."""
    text = (SCENARIO_DIR / f"{name}.yaml").read_text()
    lines = text.splitlines()
    assert lines[0].strip() == "# @package _global_", f"{name}.yaml: first line must be '# @package _global_'"
    header = []
    for line in lines[1:]:
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 3, f"{name}.yaml: opens with a comment block of only {len(header)} lines"
    assert (yaml.safe_load(text) or {}).get("scenario_name") == name


# ----------------------------------------------------------------------------- load, validate, run
@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.model
def test_scenario_loads_runs_and_conserves_people(name: str) -> None:
    """Validated through the real config tree, then one replication of a year (England: a quarter without a
    warm-up, still more residents than a region's year, in the fast tier's time): everyone who arrived is in a
    stage, has left, or completed the first year."""
    p = params(name, 91.0, "experiment.warmup_days=0") if name == NATIONAL else params(name, 365.0)
    assert p.config.scenario_name == name
    out = simulate(p, 0)
    c = out.conservation
    assert c["arrived"] > 0
    assert c["arrived"] == c["in_stage"] + c["exited"] + c["completed_first_year"], c
    # against counts kept apart from the funnel's (in_stage and by_stage are both its per-stage counters): resident
    # processes not yet returned are in a stage before the first year, first-year starters hold posts in the workforce
    stages = list(c["by_stage"])
    assert c["arrived"] - c["journeys_ended"] == sum(c["by_stage"][s] for s in stages[:-1]), c
    assert c["first_year_in_post"] == c["by_stage"][stages[-1]], c


# ----------------------------------------------------------------------------- costs against budgets
def expected_cost(p: Params) -> tuple[float, dict[str, float]]:
    """Programme cost over the horizon as the config defines it: fixed + per_place_per_year x places x active
    years + per_person x expected people, and the expected referrals by channel.

    Expected people are derivable for per-person costs charged at engagement to one channel: every referral
    of the channel enters engagement at once, so their number is the channel's rate (interventions applied)
    integrated over the intervention's window. Other per-person costs depend on the run; a scenario that has
    them cannot be checked this way (the test says so rather than guess).
    """
    c = p.config
    h = p.horizon
    windows = p.intervention_windows()
    referrals: dict[str, float] = {}
    for ch_name, ch in c.region.channels.items():
        rate = p.at(f"region.channels.{ch_name}.referrals_per_year")
        lo, hi = ch.period.start_day, h if ch.period.end_day is None else min(ch.period.end_day, h)
        assert ch.period.ramp_days == 0, f"{ch_name}: ramped channels are not derived here"
        referrals[ch_name] = _integral(rate, lo, hi) / 365.0
    total = 0.0
    for iv_name, iv in c.intervention.items():
        if iv_name in OUTSIDE_BUDGET and c.scenario_name.startswith("connect_to_work_"):
            continue
        start, end = windows[iv_name]
        years = (min(end, h) - start) / 365.0
        total += iv.cost.fixed + iv.cost.per_place_per_year * iv.places * years
        if iv.cost.per_person:
            assert iv.cost.person_stage == "engagement" and iv.cost.person_channel, (
                f"{iv_name}: per-person cost at {iv.cost.person_stage} depends on the run, "
                "not derivable from the config")
            ch = c.region.channels[iv.cost.person_channel]
            rate = p.at(f"region.channels.{iv.cost.person_channel}.referrals_per_year")
            lo = max(start, ch.period.start_day)
            hi = min(end, h, math.inf if ch.period.end_day is None else ch.period.end_day)
            total += iv.cost.per_person * _integral(rate, lo, hi) / 365.0
    return total, referrals


def _integral(rate, lo: float, hi: float) -> float:
    """Integral of a step function of time (per year values) over [lo, hi), in year-values x days."""
    if hi <= lo:
        return 0.0
    cuts = sorted({lo, hi, *(t for t in rate.times if lo < t < hi)})
    return sum(rate.at(a) * (b - a) for a, b in itertools.pairwise(cuts))


@pytest.mark.parametrize("name", sorted(BUDGETS))
@pytest.mark.unit
def test_programme_cost_over_five_years_matches_the_budget(name: str) -> None:
    """The configured cost over the 5-year horizon is within 10% of the intended budget.

    Derived from the config (an expectation), not from a run: fixed and per-place costs are exact, and
    per-person costs are the per-person price times the expected referrals. A run's cost also varies with
    the Poisson referrals (relative s.d. 1/sqrt(people), 5.5% for Buckinghamshire's 330), so a run-based
    10% bound would test the seed; the expectation against 10% tests the configuration (rounding of rates
    and prices moves it by well under 1%). The run-based check follows below, where noise is small.
    """
    cost, referrals = expected_cost(params(name, FIVE_YEARS))
    assert cost == pytest.approx(BUDGETS[name], rel=0.10), (
        f"{name}: GBP {cost:,.0f} over 5 years, intended {BUDGETS[name]:,.0f}")
    area = name.removeprefix("connect_to_work_")
    if area in CTW_AREAS:
        # people supported in this pathway over five years = the health-and-care share of the published number
        people = CTW_SHARE * CTW_AREAS[area][1]
        assert referrals["gp_advisers"] == pytest.approx(people, rel=0.01), (name, referrals["gp_advisers"], people)


@pytest.mark.parametrize("name", ["connect_to_work_north_east", "southend_anchor_programme"])
@pytest.mark.model
def test_programme_cost_kpi_of_a_five_year_run(name: str) -> None:
    """One replication over five years reports a programme_cost within 10% of the budget.

    North East: 2,760 referrals carry the per-person cost, so the run's relative s.d. is ~1.9% and 10% is over
    five s.d.; Southend: all but GBP 50k is per place (exact), the rest varies by ~7% of 50k (<1% of the total).
    """
    out = simulate(params(name, FIVE_YEARS), 0)
    outside = {f"intervention:{n}" for n in OUTSIDE_BUDGET} if name.startswith("connect_to_work_") else set()
    cost = sum(v for k, g, v in out.kpis if k == "programme_cost" and g != "all" and g not in outside)
    assert cost == pytest.approx(BUDGETS[name], rel=0.10), f"{name}: GBP {cost:,.0f}, intended {BUDGETS[name]:,.0f}"
