"""Costs cover what is used: an option's places are charged for every day they are in place, and no longer.

The rule (README, "What an option costs"): an option ends at the horizon; in the follow-up it uses only
what was paid for. The check counts, independently of the model's cost function, the extra places a
capacity holds on every day of the whole run (warm-up, window and follow-up), prices them from the
scenario file, and compares with what the model charged.
"""

from __future__ import annotations

import pytest
import yaml
from conftest import make_params

from sim.model import Model
from sim.params.paths import SCENARIO_DIR

pytestmark = pytest.mark.model

SCENARIO = "connect_to_work_cumbria"
# The option's capacities priced per place: intervention -> (capacity in the model, the pathway default's places)
PLACES = {"digital_skills_places": ("digital_skills", "pathway.support.digital_skills.places"),
          "interview_slots": ("interview_slots", "pathway.recruitment.interview_slots")}


def _unit_cost(name: str) -> float:
    """GBP per place per year, read from the intervention's own file (not through the model or the schema)."""
    text = (SCENARIO_DIR.parent / "configs" / "intervention" / f"{name}.yaml").read_text()
    return float(yaml.safe_load(text)[name]["cost"]["per_place_per_year"])


def test_an_options_places_are_charged_for_the_days_they_are_in_place() -> None:
    """Extra place-days counted day by day over the whole run x unit cost / 365 = the model's charge.

    Fails if an option's places stay in place through the follow-up (the code before this rule charged the 730
    days of the window for places in place about 1,870 days here) or if a capacity it adds is not charged.
    """
    p = make_params(f"scenario={SCENARIO}", "experiment=quick", "experiment.progress=false")
    c = p.config
    # the region's own places: the pathway file's, times the region's capacity_scale
    base = {name: float(_lookup(c, path)) * c.region.capacity_scale for name, (_cap, path) in PLACES.items()}
    model = Model(p, 0)
    caps = {cap.name: cap for cap in model.pathway.capacities}
    place_days = dict.fromkeys(PLACES, 0.0)

    def count():  # the size of each capacity in the middle of every day, from the first day of the warm-up
        env = model.env
        yield env.timeout(0.5)
        while True:
            for name, (cap, _path) in PLACES.items():
                place_days[name] += caps[cap].size - base[name]
            yield env.timeout(1.0)

    model.env.process(count())
    out = model.run()
    assert model.env.now > c.experiment.horizon_days + 30, "the run has a follow-up (so the check can see it)"
    charged = {g.removeprefix("intervention:"): v for k, g, v in out.kpis if k == "programme_cost"}
    for name in PLACES:
        assert place_days[name] > 0, f"{name}: adds no places, nothing to check"
        assert charged[name] == pytest.approx(place_days[name] * _unit_cost(name) / 365.0, rel=1e-9), name
    assert charged["all"] == pytest.approx(sum(v for g, v in charged.items() if g != "all"))


def _lookup(c: object, path: str) -> object:
    for part in path.split("."):
        c = c[part] if isinstance(c, dict) else getattr(c, part)
    return c
