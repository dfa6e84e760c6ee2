"""Sizes that cannot change the outcome: said before a sizes sweep runs (an intervention whose places feed nothing
it does; one whose places add to a capacity, which only the run can judge), and marked after it (an option whose
every result equals a smaller option's, replication by replication)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from conftest import extra

from sim.analysis.compare import COMPARISON_HEADER, Job, same_results
from sim.interfaces import preflight as pf
from sim.outputs.folder import ReportData, Stats
from sim.outputs.sizes import unchanged_sentences
from sim.params.paths import CONFIG_DIR
from sim.params.schema import size_effect

pytestmark = pytest.mark.unit


def _at(name: str, places: float) -> dict:
    """An intervention file's own node, resolved at `places` (as a sweep's override sets it)."""
    from omegaconf import OmegaConf

    from sim.params.schema import register_resolvers

    register_resolvers()
    data = yaml.safe_load((CONFIG_DIR / "intervention" / f"{name}.yaml").read_text())[name]
    resolved = OmegaConf.to_container(OmegaConf.create({**data, "places": places}), resolve=True)
    assert isinstance(resolved, dict)
    return resolved


def test_what_a_larger_size_changes() -> None:
    assert size_effect(_at("guaranteed_interviews", 0), _at("guaranteed_interviews", 40)) == "nothing"
    assert size_effect(_at("childcare", 20), _at("childcare", 40)) == "capacity"
    assert size_effect(_at("intensive_support", 1), _at("intensive_support", 2)) == "capacity"  # its own caseload
    assert size_effect(_at("outreach", 1), _at("outreach", 2)) == "effect"  # more referrals a year
    paid = {**_at("guaranteed_interviews", 0), "cost": {"per_place_per_year": 100.0}}
    assert size_effect(paid, {**paid, "places": 3}) == "cost"


def test_a_sizes_sweep_says_before_it_runs_when_sizes_cannot_differ(capsys: pytest.CaptureFixture[str]) -> None:
    pf.preflight_plan(["-m", "experiment=quick", "intervention.guaranteed_interviews.places=0,10,20,40",
                       "experiment.reference=0", "hydra.sweep.dir=/tmp/nowhere"])
    err = capsys.readouterr().err
    assert ("note: intervention.guaranteed_interviews.places: sizes 0, 10, 20, 40 will give the same results at "
            "the same cost") in err
    assert "pathways -m 'intervention=[],[guaranteed_interviews]'" in err
    pf.preflight_plan(["-m", "experiment=quick", "intervention.childcare.places=20,40", "experiment.reference=0",
                       "hydra.sweep.dir=/tmp/nowhere"])
    err = capsys.readouterr().err
    assert "childcare's places add to a capacity" in err and "mark any size with the same results" in err
    pf.preflight_plan(["-m", "experiment=quick", "scenario=baseline,west_norfolk_local_plan",
                       "hydra.sweep.dir=/tmp/nowhere"])
    assert "note:" not in capsys.readouterr().err  # no sizes, nothing to say


def _job(n: int, label: str, hires: list[float], cost: float, used: float) -> Job:
    kpis = {("hires", "all"): dict(enumerate(hires)),
            ("programme_cost", "all"): dict.fromkeys(range(len(hires)), cost),
            ("utilisation", "capacity:childcare"): dict.fromkeys(range(len(hires)), used)}
    return Job(Path(str(n)), [], "done", label=label, kpis=kpis)


def _row(option: str, kpi: str, group: str, mean: float) -> tuple:
    row = dict.fromkeys(COMPARISON_HEADER, math.nan)
    row.update(option=option, scenario="baseline", kpi=kpi, group=group, mean=mean)
    return tuple(row[h] for h in COMPARISON_HEADER)


def test_an_option_with_the_same_results_as_a_smaller_one_is_marked() -> None:
    """Equal replication by replication, costs and the share of places in use aside: marked, with the cost of each
    and the capacity whose extra places sat idle; an option that differs in one replication is not."""
    jobs = [_job(0, "childcare places 0", [10, 12], 0, 0.97), _job(1, "childcare places 20", [11, 13], 3e5, 0.42),
            _job(2, "childcare places 40", [11, 13], 6e5, 0.21), _job(3, "childcare places 30", [11, 14], 4.5e5, 0.3)]
    assert same_results(jobs) == {"childcare places 40": "childcare places 20"}
    rows = [_row(j.label, k, g, sum(v.values()) / len(v)) for j in jobs for (k, g), v in j.kpis.items()]
    data = ReportData(Path("."), jobs, [], rows, Stats(rows), {}, {}, "2")
    (line,) = unchanged_sentences(data)
    assert line.startswith("childcare places 40 gives the same results as childcare places 20 in every replication, "
                           "at a programme cost of £600k against £300k: the extra places sat idle"), line
    assert "42% in use at childcare places 20, 21% at childcare places 40" in line, line


def test_the_sizes_form_says_what_a_size_is() -> None:
    """"(now 1 place)", not "(now 1 places)"; an intervention paid per person says its size changes nothing."""
    extra("fastapi", "app")
    from sim.interfaces.app import choices

    said = {iv["name"]: iv["size"] for iv in choices()["interventions"]}
    assert said["faster_checks"] == "now 1 place" and said["childcare"] == "now 20 places"
    assert said["guaranteed_interviews"] == "paid per person: its size changes nothing"
