"""The recommendation: the decision rule on known net benefits, and its words."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sim.analysis.psa import effect_of
from sim.analysis.recommend import recommend
from sim.outputs.recommendation import sentences


def _records(effects: dict[str, list[float]], costs: dict[str, list[float]]) -> dict[str, dict]:
    """Records of one replication per set where each option's net sustained jobs and cost are given per set
    (the reference's are 0); vacancy-days are 0 everywhere."""
    kpi, _ = effect_of("sustained_job")
    n = len(next(iter(effects.values())))
    return {f"set{i}": {"kpis": {name: {"0": {kpi: effects[name][i], "programme_cost": costs[name][i],
                                               "vacancy_days": 0.0}} for name in effects}} for i in range(n)}


def _case(a_jobs: float, a_cost: float, b_jobs: float, b_cost: float, n: int = 200, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 2))
    effects = {"ref": [0.0] * n, "a": list(a_jobs + 10 * (x[:, 0] - 0.5)), "b": list(b_jobs + 0 * x[:, 1])}
    costs = {"ref": [0.0] * n, "a": [a_cost] * n, "b": [b_cost] * n}
    return _records(effects, costs), x


@pytest.mark.unit
def test_the_option_with_the_highest_expected_net_benefit_is_funded() -> None:
    """At £10k a job, a: 100 jobs for £500k (net £500k), b: 60 jobs for £100k (net £500k - a little less)."""
    records, x = _case(100, 500_000, 59, 100_000)
    ids = list(records)
    r = recommend(records, ids, ["ref", "a", "b"], "ref", "sustained_job", 10_000, (5_000, 20_000), [], x[:, :0])
    assert r.fund == "a"
    assert r.gain.mean == pytest.approx(100, abs=1.0)  # the uniform noise of width 10 averages out
    assert 90 <= r.gain.low < r.gain.mean < r.gain.high <= 110
    assert r.cost.mean == pytest.approx(500_000)
    assert sum(r.p_best.values()) == pytest.approx(1.0)
    # a beats b (net 500k - 10k x noise vs 490k) in the sets where a's jobs exceed 99: 60% of uniform(95, 105)
    assert r.p_best["a"] == pytest.approx(0.6, abs=3 * (0.6 * 0.4 / 200) ** 0.5)
    # at £5,000 a job: a nets 0, b nets +195k; at £20,000: a nets 1.5m, b 1.08m
    assert r.fund_at_range == ("b", "a")


@pytest.mark.unit
def test_nothing_is_funded_when_no_option_is_worth_its_cost() -> None:
    records, x = _case(10, 500_000, 5, 100_000)
    r = recommend(records, list(records), ["ref", "a", "b"], "ref", "sustained_job", 10_000, (5_000, 20_000), [],
                  x[:, :0])
    assert r.fund == "ref" and r.p_best["ref"] == 1.0 and r.gain.mean == 0.0
    words = sentences({"recommendations": [r.to_json()]}, {"a": "Option A"})
    assert words[0].startswith("Residents into work: fund none of the options")
    assert "100% of the 200 parameter sets" in words[0]
    assert words[1].startswith("Knowing any uncertain number better would hardly change this choice")  # no drivers


@pytest.mark.unit
def test_the_words_name_the_option_its_chance_and_its_gain() -> None:
    records, x = _case(100, 500_000, 59, 100_000)
    r = recommend(records, list(records), ["ref", "a", "b"], "ref", "sustained_job", 10_000, (5_000, 20_000), [],
                  x[:, :0])
    words = sentences({"recommendations": [r.to_json()]}, {"a": "Option A", "b": "Option B"})
    assert words[0].startswith("Residents into work: fund Option A. Valuing a net sustained job at £10k")
    assert f"{100 * r.p_best['a']:.0f}% of the 200 parameter sets" in words[0]
    assert "+100 (" in words[0] and "net sustained jobs for £500k" in words[0]
    assert "at £5,000 a net sustained job, fund Option B; at £20k, Option A" in words[-1]


@pytest.mark.unit
def test_an_option_funded_on_its_expected_value_though_rarely_best_says_so() -> None:
    """At £10k a job and £500k: 30 jobs in 70% of the sets (net -£200k), 200 in 30% (net +£1.5m); expected net
    +£310k, so it is funded, though funding nothing is the best buy in 70% of the sets: the words say why."""
    n = 100
    jobs = [200.0 if i % 10 < 3 else 30.0 for i in range(n)]
    records = _records({"ref": [0.0] * n, "a": jobs}, {"ref": [0.0] * n, "a": [500_000.0] * n})
    r = recommend(records, list(records), ["ref", "a"], "ref", "sustained_job", 10_000, (5_000, 20_000), [],
                  np.zeros((n, 0)))
    assert r.fund == "a" and r.p_best["a"] == pytest.approx(0.3)
    words = sentences({"recommendations": [r.to_json()]}, {"a": "Option A"})
    assert "30% of the 100 parameter sets, funding nothing in 70%" in words[0]
    assert words[1].startswith("It is chosen on its expected net value (£310k against £0 for funding nothing), "
                               "though funding nothing is the best buy in more of the sets")


@pytest.mark.system
def test_a_sweep_runs_its_options_on_parameter_sets_and_opens_with_what_to_fund(tmp_path) -> None:
    """`pathways -m` with uncertainty on: the options (not the context) on parameter sets, paired, and the report
    opens with the recommendation; the context is named as such and left out of the headline table."""
    import json

    from conftest import run_cli

    sweep = tmp_path / "s"
    r = run_cli("-m", "experiment=quick", "experiment.progress=false", "experiment.replications=2",
                "experiment.uncertainty=parameters", "experiment.sets=8", "experiment.horizon_days=365",
                "experiment.supply_replications=1",
                "scenario=baseline,west_norfolk_local_plan,norfolk_waveney_system", f"hydra.sweep.dir={sweep}")
    assert r.returncode == 0, r.stderr[-2000:]
    records = [json.loads(line) for line in (sweep / "uncertainty" / "records.jsonl").read_text().splitlines()]
    assert sorted(rec["task"] for rec in records) == sorted(f"set{i}" for i in range(8))
    assert all(sorted(rec["kpis"]) == ["baseline", "west norfolk local plan"] for rec in records)
    decided = json.loads((sweep / "uncertainty" / "recommendation.json").read_text())["recommendations"]
    assert [d["effect"] for d in decided] == ["sustained_job", "vacancy_year"]
    assert all(d["sets"] == 8 and sum(d["p_best"].values()) == pytest.approx(1.0) for d in decided)
    html = (sweep / "report.html").read_text()
    # the labour-supply range's ends come from the sets (which vary the elasticity), not from runs at the ends
    assert not list(sweep.glob("*/supply.csv"))
    text = re.sub(r"<[^>]+>|\s+", " ", html)
    number = r"[+\u2212]?[\d.]+(?: \([^)]+ to [^)]+\))?"
    assert re.search(rf"west norfolk local plan\s+{number} at 0\.\d+ and {number} at 0\.\d+ \(expected over the "
                     r"other uncertain numbers: each option's extra staff in the 8 parameter sets", text), text[:0]
    what = html.index('id="recommendation"')
    assert what < html.index('id="headline"')
    assert "Residents into work: fund" in html and "Staffing: fund" in html
    assert "Context, not options" in html
    headline = html[html.index('id="headline"'):html.index('id="vacancies"')]
    assert "norfolk waveney system" not in headline


@pytest.mark.unit
def test_parameter_sets_resume_only_on_the_same_design(tmp_path) -> None:
    """A sweep's uncertainty/ folder keeps the design its records were run on: the same resumes, another (a new
    seed, other options) is refused rather than mixing sets of two designs."""
    from types import SimpleNamespace

    from sim.analysis.probabilistic import _claim
    from sim.analysis.psa import Study
    from sim.params.errors import ConfigError

    def study(*names: str) -> Study:
        return Study([SimpleNamespace(name=n, raw={"n": n}) for n in names], [], names[0])  # type: ignore[list-item]

    out = tmp_path / "uncertainty"
    _claim(out, study("baseline", "a"), 1)
    _claim(out, study("baseline", "a"), 1)
    for other, seed in ((study("baseline", "a"), 2), (study("baseline", "b"), 1)):
        with pytest.raises(ConfigError, match="another design"):
            _claim(out, other, seed)
