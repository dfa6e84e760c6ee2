"""The labour market holds still and options move it: retention, succession, sizing, the staff ledger.

BAU recruitment is calibrated once on the region's baseline and held fixed (as the CLI does with
`region_calibration`), so an option that lowers turnover or promotes more must show it in vacancies.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import make_params
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from sim.experiment.stats import paired_difference
from sim.model import RunOutput, simulate
from sim.model.workforce import FLOW_KPIS, _apportion, calibrate
from sim.params.paths import CONFIG_DIR
from sim.params.plan import Params

QUICK = ("experiment=quick", "experiment.progress=false")
CHANNELS = tuple(OmegaConf.load(CONFIG_DIR / "region" / "norfolk_waveney.yaml").channels.keys())
NO_REFERRALS = tuple(f"region.channels.{c}.referrals_per_year=0" for c in CHANNELS)
INTERVENTIONS = sorted(p.stem for p in (CONFIG_DIR / "intervention").glob("*.yaml"))


def kpi(out: RunOutput, name: str, group: str = "all") -> float:
    values = [v for k, g, v in out.kpis if (k, g) == (name, group)]
    assert len(values) == 1, f"{name}/{group}: {len(values)} rows"
    return values[0]


def on_region_market(*overrides: str) -> Params:
    """Parameters of an option with BAU recruitment calibrated on the region's baseline (the shipped
    files, no override), as every run of the command line has it."""
    params = make_params(*overrides)
    params.config.region.workforce.bau = calibrate(make_params().config.region.workforce)
    return params


def paired(option: Params, reference: Params, name: str, group: str = "all", reps: int = 4):
    a = [kpi(simulate(option, r), name, group) for r in range(reps)]
    b = [kpi(simulate(reference, r), name, group) for r in range(reps)]
    return paired_difference(a, b)


# ----------------------------------------------------------------------------- retention and succession
@pytest.mark.parametrize(("group", "role"), [("nursing_homes", "registered_nurse"), ("home_care", "care_worker"),
                                             ("acute", "hcsw")])
@pytest.mark.statistical
def test_lower_turnover_lowers_vacancies_of_that_post(group: str, role: str) -> None:
    """Halving a post's turnover (BAU recruitment fixed) lowers its vacancy-days: paired 95% CI below 0.

    Expected effect: openings fall by about half of the post's leavers out of the sector, and vacancies
    by that over the fill hazard (hundreds of vacancy-days a year even for the smallest post here)."""
    path = f"region.workforce.groups.{group}.posts.{role}.turnover"
    base = on_region_market(*QUICK, *NO_REFERRALS)
    turnover = OmegaConf.select(OmegaConf.load(CONFIG_DIR / "region" / "norfolk_waveney.yaml"), path.split(".", 1)[1])
    option = on_region_market(*QUICK, *NO_REFERRALS, f"{path}={turnover / 2}")
    d = paired(option, base, "vacancy_days", f"role:{role}")
    assert d.high < 0, d
    assert paired(option, base, "leavers").high < 0


@pytest.mark.statistical
def test_turnover_cut_as_an_intervention_with_a_period() -> None:
    """Retention as an intervention from day 180: the post's vacancy-days fall, and the staff in post rise."""
    base = on_region_market(*QUICK, *NO_REFERRALS)
    option = on_region_market(*QUICK, *NO_REFERRALS, "intervention=[nursing_home_nurse_retention]",
                              "intervention.nursing_home_nurse_retention.places=9",
                              "intervention.nursing_home_nurse_retention.start_day=180")
    assert paired(option, base, "vacancy_days", "employer:nursing_homes").high < 0
    assert paired(option, base, "staff_in_post_mean", "employer:nursing_homes").low > 0


@pytest.mark.statistical
def test_more_promotion_fills_manager_posts_sooner() -> None:
    """The succession programme raises promotion shares: more promotions, fewer manager vacancy-days.

    The manager vacancy-days saved are about 290 per replication with a paired standard deviation of about 170
    (16 replications, before and after the compiled churn step): 4 replications put the interval's upper end
    below 0 only about half the time; 8 do so with probability about 0.99 (mean 290 against t(7) x 170 / sqrt(8))."""
    base = on_region_market(*QUICK, *NO_REFERRALS)
    option = on_region_market(*QUICK, *NO_REFERRALS, "intervention=[succession_programme]")
    assert paired(option, base, "promotions").low > 0
    assert paired(option, base, "vacancy_days", "role:registered_manager", reps=8).high < 0


# ----------------------------------------------------------------------------- the ledger
@pytest.mark.model
def test_staff_in_post_follow_the_ledger_of_flows() -> None:
    """Staff in post at the horizon = at day 0 + every flow in - every flow out over the window,
    counted in the ledger apart from the state, with a programme hiring and people leaving early."""
    params = make_params(*QUICK, "intervention=[outreach,gp_advisers,childcare,mentoring]")
    for r in range(2):
        out = simulate(params, r)
        flows = {k: kpi(out, k) for k in FLOW_KPIS}
        assert flows["programme_starts"] > 0 and flows["programme_leavers"] > 0 and flows["movers"] > 0
        inflow = flows["movers_in"] + flows["promotions"] + flows["bau_hires"] + flows["programme_starts"]
        outflow = (flows["leavers"] + flows["movers"] + flows["retirements"] + flows["promoted_out"]
                   + flows["programme_leavers"])
        assert kpi(out, "staff_in_post_end") == kpi(out, "staff_in_post_start") + inflow - outflow
        # movers stay in their sector and are counted once: every placed mover arrived in a post
        assert flows["movers_in"] == flows["movers"]
        assert flows["promotions"] == flows["promoted_out"]


# ----------------------------------------------------------------------------- sizing
# What an intervention's size buys, and where it shows: (kpi, group, +1 if more size means more).
DIRECT_EFFECT = {
    "childcare": ("mean_places", "childcare", 1),
    "confidence_workshops": ("mean_places", "health_support", 1),
    "digital_skills": ("mean_places", "digital_skills", 1),
    "it_skills_one_to_one": ("mean_places", "digital_skills", 1),
    "employment_advisers": ("mean_places", "advisers", 1),
    "intensive_support": ("mean_places", "advisers", 1),
    "gp_advisers": ("referrals", "channel:gp_advisers", 1),
    "online_academy": ("referrals", "channel:online_academy", 1),
    "outreach": ("referrals", "channel:outreach", 1),
    "training_places": ("mean_places", "course:care_preemployment", 1),
    "hospital_course_places": ("mean_places", "course:nhs_preemployment", 1),
    "digital_skills_places": ("mean_places", "digital_skills", 1),
    "interview_slots": ("mean_places", "interview_slots", 1),
    "faster_checks": ("mean_time_in_stage", "checks", -1),
    "nursing_home_nurse_retention": ("leavers", "all", -1),
    "succession_programme": ("promotions", "all", 1),
}


def _measure(out: RunOutput, name: str, group: str) -> float:
    if name == "mean_places":
        return next(c["mean_places"] for c in out.capacities if c["capacity"] == group)
    if name == "mean_time_in_stage":
        return next(f["mean_time_in_stage"] for f in out.funnel if f["stage"] == group)
    return kpi(out, name, group)


@pytest.mark.parametrize("name", INTERVENTIONS)
@pytest.mark.statistical  # effects of two sizes averaged over replications
def test_every_intervention_size_buys_something(name: str) -> None:
    """Each shipped intervention at its size and at twice (or one more): a sized intervention's direct
    effect moves the expected way and its cost rises; one without a size (costed per person) costs
    and does the same at any `places`."""
    places = float(OmegaConf.load(CONFIG_DIR / "intervention" / f"{name}.yaml")[name].places)
    small, large = places, (2 * places if places else 1.0)
    runs = {}
    for size in (small, large):
        params = on_region_market(*QUICK, f"intervention=[{name}]", f"intervention.{name}.places={size:g}")
        runs[size] = [simulate(params, r) for r in range(2)]
    cost = {s: np.mean([kpi(o, "programme_cost", f"intervention:{name}") for o in outs]) for s, outs in runs.items()}
    if name not in DIRECT_EFFECT:  # costed per person: `places` is not a size of it
        assert places == 0
        assert [o.kpis for o in runs[small]] == [o.kpis for o in runs[large]]
        return
    measure, group, sign = DIRECT_EFFECT[name]
    effect = {s: np.mean([_measure(o, measure, group) for o in outs]) for s, outs in runs.items()}
    assert sign * (effect[large] - effect[small]) > 0, (effect, measure, group)
    assert cost[large] >= cost[small] > 0  # per-place costs rise; per-person costs follow the people served
    assert all(math.isfinite(v) for v in effect.values())


@pytest.mark.unit
def test_sizing_resolvers() -> None:
    """The sizing rules written in the intervention files: reach with diminishing returns, compounding scales."""
    from sim.params.schema import compound, reach

    assert reach(1, 120, 0.8) == 120 and reach(6, 120, 0.8) == pytest.approx(120 * 6**0.8)
    assert reach(6, 120, 0.8) < 6 * 120 and reach(2, 50, 1) == 100
    assert compound(0.59, 1, 0.5) == pytest.approx(0.59) and compound(0.59, 0, 0.5) == 1.0
    assert compound(0.59, 4, 0.5) == pytest.approx(0.59**2)
    assert Path(CONFIG_DIR / "intervention" / "outreach.yaml").read_text().count("${reach:") == 1


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 5_000),
       weights=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8).filter(lambda w: sum(w) > 0))
@pytest.mark.unit
def test_apportion_is_the_largest_remainder_split(n: int, weights: list[float]) -> None:
    """The split sums to n, each part is its exact share rounded down or up, and the parts rounded up are those
    with the largest remainders, ties to the first (the rule, recomputed here with numpy's stable sort)."""
    shares = np.asarray(weights) / sum(weights)
    parts = _apportion(n, list(shares))
    raw = shares * n
    base = np.floor(raw).astype(np.int64)
    expected = base.copy()
    expected[np.argsort(-(raw - base), kind="stable")[: n - base.sum()]] += 1
    assert parts.dtype == np.int64 and parts.sum() == n and np.array_equal(parts, expected)
