"""Interventions act through the people they serve: a caseworker's or a tutor's effect is for the residents who
hold one of its places (`intervention.*.serves`), never a change to the whole region's numbers.

Residents are traced by who they are (`tracing.py`): whether they held one of an intervention's own places (by
the capacity's account) and whether the numbers they read were other than the region's (by their own).
"""

from __future__ import annotations

import math

import pytest
from conftest import make_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import configs
from tracing import Record, numbers, trace

from sim.model import Model, RunOutput, simulate
from sim.model.capacity import Capacity
from sim.model.clock import Environment
from sim.model.pathway import schedules
from sim.params.config import params_of
from sim.params.errors import ConfigError
from sim.params.plan import PER_RESIDENT, lookup
from sim.params.schedule import Piecewise
from sim.params.schema import Change, Intervention, Serves

QUICK = ("experiment=quick", "experiment.progress=false")
# capacities so large that nobody waits: a resident's stage outcomes then depend on their own draws and numbers only
PLENTY = ("pathway.engagement.advisers=100000", "pathway.support.digital_skills.places=100000",
          "pathway.support.childcare.places=100000", "pathway.support.health_support.places=100000")
# intervention -> (the places one of its `places` brings, the stage and exit reason its effect changes)
SERVING = {
    "intensive_support": (25, "engagement", "disengaged after assessment"),
    "it_skills_one_to_one": (1, "digital_skills", "did not complete"),
}


@pytest.mark.unit
def test_a_tagged_place_is_taken_while_one_is_free_and_never_beyond_its_share() -> None:
    """Three places, one of them an intervention's from day 0 to day 10. Residents arrive every 2 days and hold
    a place 5 days: the first on or after day 0 whom a free tagged place meets gets it, nobody holds a tagged
    place once the share has ended (those who hold one keep it), and never is more than the one tagged place held."""
    env = Environment()
    share = Piecewise([-math.inf, 0.0, 10.0], [0.0, 1.0, 0.0])
    cap = Capacity(env, "advisers", Piecewise([0.0], [3.0]), [share])
    seen: list[tuple[float, int]] = []  # (when granted, share or -1)

    def person(at: float):
        yield env.timeout(at)
        with cap.request() as req:
            yield req
            seen.append((env.now, cap.share_of(req)))
            assert 0 <= cap.share_users[0] <= 1 and cap.share_users[0] <= cap.users
            yield env.timeout(5.0)

    for i in range(12):
        env.process(person(2.0 * i))
    env.run(until=40)
    assert seen[:4] == [(0.0, 0), (2.0, -1), (4.0, -1), (6.0, 0)]  # the tagged place is free again at day 5
    assert [s for t, s in seen if t >= 10.0] == [-1] * len([t for t, _ in seen if t >= 10.0])
    assert cap.share_users == [0] and cap.users == 0 and not cap._share


def tables(out: RunOutput) -> tuple:
    """Every table of a run but the rows naming an intervention (its own cost, 0 with no places)."""
    kpis = [row for row in out.kpis if not row[1].startswith("intervention:")]
    return kpis, out.timeseries, out.funnel, out.capacities, out.conservation, out.events


def exits(records: dict, stage: str, reason: str) -> set:
    return {k for k, rec in records.items() if (rec.stage, rec.reason) == (stage, reason)}


@pytest.mark.parametrize("name", SERVING)
@pytest.mark.model
def test_no_places_is_the_baseline_exactly(name: str) -> None:
    """With none of its places, an intervention serves nobody: every table equals the baseline's, bit for bit.
    (Before `serves`, a caseworker's dropout and patience changes, and a tutor's completion, applied to everyone
    whatever its size.)"""
    base = simulate(make_params(*QUICK), 0)
    none = simulate(make_params(*QUICK, f"intervention=[{name}]", f"intervention.{name}.places=0"), 0)
    assert tables(none) == tables(base)


@pytest.mark.parametrize(("name", "size", "plain", "plain_size"), [
    ("intensive_support", 1, "employment_advisers", 1),  # one caseworker's 25 caseload places = one adviser's
    ("it_skills_one_to_one", 3, "digital_skills", 3),
])
@pytest.mark.model
def test_tagging_places_moves_nobody(name: str, size: int, plain: str, plain_size: int) -> None:
    """An intervention's own places without effects are plain places of the stage: as many places added for
    everyone give every resident the same path (who takes a tagged place uses no draw and changes no wait)."""
    tagged, _ = trace(make_params(*QUICK, f"intervention=[{name}]", f"intervention.{name}.places={size}",
                                  f"intervention.{name}.serves.effects=[]"))
    added, _ = trace(make_params(*QUICK, f"intervention=[{plain}]", f"intervention.{plain}.places={plain_size}"))
    assert tagged.keys() == added.keys()
    assert [r.path() for r in tagged.values()] == [added[k].path() for k in tagged]
    assert any(r.held for r in tagged.values()) and not any(r.changed for r in tagged.values())


def holders_at_once(records: dict[tuple, Record]) -> int:
    """The most residents on an intervention's own caseload places at one time (a caseload place is held from
    its grant to the start or an exit)."""
    events = []
    for rec in records.values():
        if "engagement" in rec.held:
            end = (rec.t_start if not math.isnan(rec.t_start) else
                   rec.t_exit if not math.isnan(rec.t_exit) else rec.run_end)
            events += [(rec.held["engagement"], 1), (end, -1)]
    most = now = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # a place given back before one is taken at a tie
        now += step
        most = max(most, now)
    return most


@pytest.mark.parametrize("name", SERVING)
@pytest.mark.model
def test_only_holders_read_other_numbers(name: str) -> None:
    """Everyone whose numbers were changed held one of the intervention's places (by the capacity's account),
    and for the caseworker no more residents held one at a time than its caseload places; the `served` KPI
    counts the holders referred in the window; the region's own numbers are those of the baseline."""
    each, stage, _ = SERVING[name]
    records, out = trace(make_params(*QUICK, f"intervention=[{name}]"))
    changed = [r for r in records.values() if r.changed]
    held = [r for r in records.values() if r.held]
    assert changed and all(r.held for r in changed)
    assert len(changed) <= len(held) < len(records) / 2
    served = [v for k, g, v in out.kpis if (k, g) == ("served", f"intervention:{name}")]
    assert served == [sum(1 for r in held if r.t_arrive >= 0 and stage in r.held)]  # referred in the window
    if name == "intensive_support":  # a caseload place is held until the start or an exit
        assert holders_at_once(records) <= each * make_params(*QUICK, f"intervention=[{name}]").config.intervention[
            name].places
    region = Model(make_params(*QUICK, f"intervention=[{name}]"), 0)
    region.run()
    reference = Model(make_params(*QUICK), 0)
    reference.run()
    assert numbers(region.pathway.levels) == numbers(reference.pathway.levels)


@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(overrides=configs(), caseworkers=st.integers(0, 3), tutored=st.integers(0, 10), start=st.integers(0, 150),
       length=st.one_of(st.none(), st.integers(1, 300)))
@pytest.mark.statistical  # many runs: a property search over random configurations
def test_random_configs_with_serving_interventions(overrides: list[str], caseworkers: int, tutored: int, start: int,
                                                   length: int | None) -> None:
    """Any valid config with a caseworker and a tutor of any size, for any period: people are conserved, everyone
    who read other numbers than the region's held one of the places, and no more residents were on the
    caseworkers' caseload at once than their places."""
    h = int(make_params(*overrides).config.experiment.horizon_days)
    end = "null" if length is None else min(start + length, h)
    records, out = trace(make_params(
        *overrides, "intervention=[intensive_support,it_skills_one_to_one]",
        f"intervention.intensive_support.places={caseworkers}", f"intervention.it_skills_one_to_one.places={tutored}",
        *(f"intervention.{n}.{k}={v}" for n in SERVING for k, v in (("start_day", start), ("end_day", end)))))
    c = out.conservation
    assert c["arrived"] == c["in_stage"] + c["exited"] + c["completed_first_year"] == len(records), c
    assert all(r.held for r in records.values() if r.changed)
    assert holders_at_once(records) <= 25 * caseworkers


@pytest.mark.parametrize("name", SERVING)
@pytest.mark.model
def test_effect_is_bounded_by_places_and_grows_with_them(name: str) -> None:
    """With capacities to spare (so nobody's wait changes), the residents whose stage outcome the effect changes
    are all holders of the intervention's places, there are more of them at 20 places than at 1, and nobody
    who left at that stage in the baseline is made to leave there by the effect."""
    _, stage, reason = SERVING[name]
    ref, _ = trace(make_params(*QUICK, *PLENTY))
    left = exits(ref, stage, reason)
    rescued = {}
    for places in (1, 20):
        opt, _ = trace(make_params(*QUICK, *PLENTY, f"intervention=[{name}]", f"intervention.{name}.places={places}"))
        now = exits(opt, stage, reason)
        assert now <= left  # the effect only ever keeps people on the pathway
        moved = left - now
        assert all(opt[k].changed and stage in opt[k].held for k in moved)
        held = sum(1 for r in opt.values() if stage in r.held)
        assert len(moved) <= held
        rescued[places] = len(moved)
    assert 0 < rescued[1] < rescued[20], rescued


@pytest.mark.unit
def test_every_number_an_effect_may_change_is_one_the_journey_reads() -> None:
    """Each config path of PER_RESIDENT, for every support stage, course and role, passes validation for a
    caseworker and names a number of the journey's `Levels` (a wrong name would make an effect do nothing)."""
    c = make_params(*QUICK).config
    names = {"support": list(c.pathway.support), "courses": list(c.pathway.training.courses),
             "roles": list(c.region.workforce.roles)}
    paths = []
    for pattern in PER_RESIDENT:
        kind = "support" if ".support." in pattern else "courses" if ".courses." in pattern else "roles"
        paths += [pattern.format(x) for x in names[kind]] if "{}" in pattern else [pattern]
    paths = [p for p in paths if lookup(c, p) is not None]  # a support place held to the start has no duration
    c.intervention["everyone"] = Intervention(places=1, serves=Serves(stage="engagement",
                                                                      effects=[Change(p, "scale", 1.0) for p in paths]))
    plan = params_of(c).resolved
    assert len(plan.serves[0].effects) == len(paths) > 25
    assert [name for name, _, _ in plan.serves[0].effects if name not in schedules(plan)] == []


@pytest.mark.parametrize(("bad", "key", "allowed"), [
    ("intervention.intensive_support.serves.stage=training", "intervention.intensive_support.serves.stage",
     "a stage with places of its own: engagement, childcare"),
    ("intervention.intensive_support.serves.stage=null", "intervention.intensive_support.serves.stage",
     "the stage whose places carry the effects"),
    ("intervention.intensive_support.serves.effects.0.target=region.channels.jobcentre.referrals_per_year",
     "intervention.intensive_support.serves.effects.0.target", "pathway.engagement.dropout"),
    ("intervention.it_skills_one_to_one.serves.effects.0.target=pathway.engagement.dropout",
     "intervention.it_skills_one_to_one.serves.effects.0.target", "after a place at digital_skills is held"),
    ("intervention.it_skills_one_to_one.serves.effects.0.target=pathway.support.digital_skills.patience",
     "intervention.it_skills_one_to_one.serves.effects.0.target", "after a place at digital_skills is held"),
    ("intervention.intensive_support.serves.effects.0.value=-1",
     "intervention.intensive_support.serves.effects.0.value", ">= 0 unless op is add"),
])
@pytest.mark.unit
def test_bad_serves_is_refused(bad: str, key: str, allowed: str) -> None:
    """A serving intervention's stage and effects are checked before any run, naming the key."""
    with pytest.raises(ConfigError) as info:
        make_params(*QUICK, "intervention=[intensive_support,it_skills_one_to_one]", bad)
    assert info.value.key == key and allowed in info.value.allowed, str(info.value)
