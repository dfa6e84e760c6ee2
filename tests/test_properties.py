"""Property-based tests: random valid configs never crash and always conserve people and posts."""

from __future__ import annotations

import math

import pytest
from conftest import make_params
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from tracing import trace

from sim.model import RunOutput
from sim.params.compose import compose_config
from sim.params.config import load
from sim.params.paths import CONFIG_DIR
from sim.params.plan import Params

pytestmark = pytest.mark.statistical  # many runs: a search over 26 random configurations

CHANNELS: tuple[str, ...] = tuple(OmegaConf.load(CONFIG_DIR / "region" / "norfolk_waveney.yaml").channels.keys())
COURSES: tuple[str, ...] = tuple(OmegaConf.load(CONFIG_DIR / "pathway" / "default.yaml").training.courses.keys())
PROBABILITIES = (
    "pathway.engagement.dropout", "pathway.support.digital_skills.completion",
    "pathway.support.health_support.completion",
    "pathway.recruitment.shortlisting", "pathway.recruitment.interview_pass",
    "pathway.recruitment.offer_acceptance", "pathway.recruitment.checks_pass",
    *(f"pathway.training.courses.{c}.completion" for c in COURSES),
)
# Means of the (gamma) patience and duration distributions of the default pathway. Durations are
# drawn up to 60 days so that the chain of them fits in a 200-500 day horizon often enough for hires.
PATIENCE = (
    "pathway.engagement.patience", "pathway.support.childcare.patience", "pathway.support.digital_skills.patience",
    "pathway.support.health_support.patience", "pathway.job_search.patience",
    "pathway.recruitment.interview_patience", "pathway.recruitment.withdrawal_patience",
)
DURATIONS = (
    "pathway.engagement.assessment", "pathway.support.digital_skills.duration",
    "pathway.support.health_support.duration",
    "pathway.job_search.duration", "pathway.recruitment.interview_duration", "pathway.recruitment.checks",
)
CAPACITIES = {  # config path -> largest value drawn
    "pathway.engagement.advisers": 20, "pathway.support.childcare.places": 30,
    "pathway.support.digital_skills.places": 30, "pathway.support.health_support.places": 30,
    "pathway.recruitment.interview_slots": 60,
    **{f"pathway.training.courses.{c}.places_per_cohort": 30 for c in COURSES},
}
FINITE_KPIS = ("hires", "net_hires", "vacancy_days", "vacancies_mean", "vacancy_rate", "vacancies_end",
               "establishment_end", "referrals")

# Probabilities cover [0, 1] with both edges (Hypothesis draws 0 and 1 often), skewed so that a
# resident can usually get through: a success probability is 1 - u^3 (above 0.5 four times in five),
# a dropout u^3. Uniform draws for ten chained probabilities would almost never let anyone be hired,
# and the in-post and vacancy-filling code would go untested.
unit = st.floats(0.0, 1.0)
success = unit.map(lambda u: 1.0 - u**3)
failure = unit.map(lambda u: u**3)


@st.composite
def configs(draw: st.DrawFn) -> list[str]:
    """Hydra overrides of a random valid config: rates, capacities, probabilities, means, limits, seed, horizon."""
    ov = [f"region.channels.{c}.referrals_per_year={draw(st.integers(0, 2000))}" for c in CHANNELS]
    ov += [f"{path}={draw(st.integers(0, top))}" for path, top in CAPACITIES.items()]
    ov += [f"{path}={draw(failure if path.endswith('dropout') else success):.4f}" for path in PROBABILITIES]
    ov += [f"{path}.mean={draw(st.floats(0.5, 400.0)):.3f}" for path in PATIENCE]
    ov += [f"{path}.mean={draw(st.floats(0.5, 60.0)):.3f}" for path in DURATIONS]
    ov += [
        f"pathway.job_search.max_applications={draw(st.integers(1, 5))}",
        f"experiment.seed={draw(st.integers(0, 2**32 - 1))}",
        f"experiment.horizon_days={draw(st.integers(200, 500))}",
        f"experiment.warmup_days={draw(st.sampled_from([0, 90]))}",
        f"experiment.followup_days={draw(st.sampled_from([0, 120]))}",
        "experiment.replications=1",
        "experiment.progress=false",
    ]
    return ov


def with_values(overrides: list[str]) -> Params:
    """`make_params(*overrides)` for overrides that each set a value (as `configs()` draws): Hydra applies those
    after composing the defaults, each by `OmegaConf.update(cfg, key, value, merge=True)` (its
    `ConfigLoaderImpl._apply_overrides_to_config`), so they are applied so here to the one kept composition of
    the shipped tree. Composing each drawn config afresh took most of this search's time (about a second an
    example while the composition cache is cold); `test_values_set_as_hydra_sets_them` checks the equivalence."""
    cfg = compose_config(())
    for o in OverridesParser.create().parse_overrides(overrides):
        assert not (o.is_add() or o.is_force_add() or o.is_delete() or o.is_sweep_override()), o.input_line
        assert o.package is None, o.input_line
        OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
    return load(cfg)


def kpis(out: RunOutput) -> dict[tuple[str, str], float]:
    """A run's KPI rows as a mapping (kpi, group) -> value."""
    return {(k, g): v for k, g, v in out.kpis}


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(overrides=configs())
@example(overrides=["experiment.horizon_days=400", "experiment.seed=7"])  # the shipped pathway: hires for sure
def test_random_configs_conserve_people_and_posts(overrides: list[str]) -> None:
    """Any valid mix of rates, capacities, probabilities and durations runs and keeps every identity."""
    params = with_values(overrides)
    records, out = trace(params, 0)
    # people: each arrival is in exactly one stage, has left, or has completed the first year
    c = out.conservation
    assert c["arrived"] == c["in_stage"] + c["exited"] + c["completed_first_year"], c
    # against counts kept apart from the funnel: journeys not yet returned are in a stage before the first
    # year, and starters in their first year hold a post in the workforce's state
    stages = list(c["by_stage"])
    assert c["arrived"] - c["journeys_ended"] == sum(c["by_stage"][s] for s in stages[:-1]), c
    assert c["first_year_in_post"] == c["by_stage"][stages[-1]], c
    assert all(f["entered"] >= f["in_stage_end"] >= 0 for f in out.funnel), out.funnel
    # posts: establishment = staff in post + vacancies in every cell at every sample, nothing negative
    assert out.timeseries
    for day, group, role, est, in_post, vac in out.timeseries:
        assert in_post + vac == est and vac >= 0 and in_post >= 0, (day, group, role, est, in_post, vac)
    # KPIs: defined, and the breakdowns of hires add up to the total
    k = kpis(out)
    for (name, group), v in k.items():
        if name in FINITE_KPIS:
            assert math.isfinite(v), (name, group, v)
    hires = k[("hires", "all")]
    # referrals count arrivals from day 0 (after any warm-up); every arrival is one when there is none
    if params.config.experiment.warmup_days == 0:
        assert k[("referrals", "all")] == c["arrived"]
    assert k[("referrals", "all")] <= c["arrived"]
    # hires by role, employer, channel and quintile against the residents traced one by one into their posts
    wf = params.config.region.workforce
    started = [(key, rec) for key, rec in records.items() if rec.cell is not None and rec.t_arrive >= 0]
    assert hires == len(started)
    traced: dict[str, int] = {}
    for (channel, _i), rec in started:
        for g in (f"role:{list(wf.roles)[rec.cell[0]]}", f"employer:{list(wf.groups)[rec.cell[1]]}",
                  f"channel:{channel}", f"quintile:{rec.attributes[0] + 1}"):
            traced[g] = traced.get(g, 0) + 1
    assert {g: v for (name, g), v in k.items() if name == "hires" and v and ":" in g} == traced
    assert 0 <= k[("hires", "parents")] <= hires and 0 <= k[("hires", "health_condition")] <= hires
    assert k[("early_leavers", "all")] <= hires and k[("sustained_12m", "all")] <= hires
    assert k[("net_hires", "all")] <= hires


def test_values_set_as_hydra_sets_them() -> None:
    """`with_values` gives what Hydra's own composition gives for an override of every kind `configs()` draws."""
    overrides = [f"region.channels.{c}.referrals_per_year={150 + 10 * i}" for i, c in enumerate(CHANNELS)]
    overrides += [f"{path}={3 + i}" for i, path in enumerate(CAPACITIES)]
    overrides += [f"{path}={0.05 + i / 50:.4f}" for i, path in enumerate(PROBABILITIES)]
    overrides += [f"{path}.mean={2.5 + i:.3f}" for i, path in enumerate((*PATIENCE, *DURATIONS))]
    overrides += ["pathway.job_search.max_applications=2", "experiment.seed=123456789", "experiment.horizon_days=321",
                  "experiment.warmup_days=90", "experiment.followup_days=0", "experiment.replications=1",
                  "experiment.progress=false"]
    assert with_values(overrides).config == make_params(*overrides).config
    assert with_values(overrides).config != make_params().config
