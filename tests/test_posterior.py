"""The decision draws from a calibrated posterior (issue 23, items 3 and 4): the posterior's quantiles reach the
options' configs, paired, beside the prior design of every other parameter; a changed posterior refuses a
resume; a region without calibration runs as before; the report shows the model against every target."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sim.params import posterior as post
from sim.params.errors import ConfigError

REGION = "norfolk_waveney"
OPTIONS = "scenario=baseline,west_norfolk_local_plan"
CALIBRATED = ("pathway.recruitment.offer_acceptance", "pathway.recruitment.withdrawal_patience.mean",
              "pathway.recruitment.interview_pass")
TARGETS_HEADER = ("id,role,area,quantity,figure,tolerance,prior_mean,prior_low,prior_high,posterior_mean,"
                  "posterior_low,posterior_high,prior_verdict,posterior_verdict")
TARGETS = [  # a synthetic targets.csv: three held out (one outside its band), two fitted
    "nhs_time_to_hire_2025,validation,time_to_hire,NHS time to hire,77,10,60,40,90,62,50,70,within,outside",
    "whp_job_outcomes_per_start,validation,job_outcome,Work and Health Programme job outcomes per start,0.3,0.08,"
    "0.25,0.1,0.4,0.28,0.2,0.35,within,within",
    "england_care_recruits_from_within,validation,internal_recruitment,share of care recruits from within care,"
    "0.63,0.1,0.5,0.3,0.7,0.6,0.5,0.7,within,within",
    "restart_referral_to_start,calibration,engagement,share of Restart referrals who started,0.849,0.12,0.6,0.4,0.8,"
    "0.8,0.7,0.9,outside,within",
    "nhs_time_to_hire,calibration,time_to_hire,NHS time to hire,84,14,60,40,90,80,70,90,within,within",
]


def write_calibration(root: Path, draws: np.ndarray, names: tuple[str, ...] = CALIBRATED, region: str = REGION,
                      complete: bool = True) -> Path:
    """A synthetic calibration folder of `pathways-calibrate`'s interface under `root`."""
    folder = root / region
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / post.POSTERIOR).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["draw", *names])
        w.writerows([[i, *row] for i, row in enumerate(draws)])
    (folder / post.TARGETS).write_text("\n".join([TARGETS_HEADER, *TARGETS]) + "\n")
    (folder / post.PARAMETERS).write_text(
        "parameter,label,prior_low,prior_median,prior_high,posterior_low,posterior_median,posterior_high,width_ratio\n"
        + "".join(f"{n},{n.split('.')[-1].replace('_', ' ')},0,1,2,0.5,1,1.5,0.5\n" for n in names))
    (folder / post.META).write_text(json.dumps({
        "region": region, "targets": "configs/targets.yaml", "split_made": "2026-12-05", "method": "ABC-SMC (test)",
        "waves": 2, "simulations": 10, "wall_s": 1.0, "calibrated": list(names), "complete": complete}))
    return folder


def _draws(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, len(CALIBRATED)))


# ----------------------------------------------------------------------------- the folder and its checks
@pytest.mark.unit
def test_a_calibration_is_found_by_the_regions_name_among_finished_folders_only(tmp_path) -> None:
    write_calibration(tmp_path, _draws(4))
    assert post.calibration_folder(REGION, tmp_path) == tmp_path / REGION
    assert post.calibration_folder("south_east", tmp_path) is None
    assert post.calibration_folder(f"../{tmp_path.name}/{REGION}", tmp_path) is None  # a name is never a path
    write_calibration(tmp_path, _draws(4), region="cumbria", complete=False)
    assert post.calibration_folder("cumbria", tmp_path) is None  # an unfinished calibration is not used
    assert post.posterior_for(REGION, "prior", tmp_path) is None
    assert post.posterior_for(REGION, "posterior", tmp_path).draws.shape == (4, 3)  # type: ignore[union-attr]


@pytest.mark.unit
@pytest.mark.parametrize("value, where", [("1.0", "line 3, pathway.recruitment.interview_pass"),
                                          ("0", "line 3, pathway.recruitment.interview_pass"),
                                          ("nan", "line 3, pathway.recruitment.interview_pass"),
                                          ("x", "line 3")])
def test_a_posterior_outside_the_unit_interval_is_refused_in_one_line(tmp_path, value, where) -> None:
    folder = write_calibration(tmp_path, _draws(3))
    lines = (folder / post.POSTERIOR).read_text().splitlines()
    lines[2] = ",".join([*lines[2].split(",")[:-1], value])
    (folder / post.POSTERIOR).write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as e:
        post.load_posterior(folder)
    assert where in e.value.message() and "\n" not in e.value.message()


# ----------------------------------------------------------------------------- the sets
@pytest.fixture(scope="module")
def options():
    """The default region's baseline and West Norfolk plan, composed once, with their parameters."""
    from sim.analysis.psa import Study
    from sim.params.paths import CONFIG_DIR
    from sim.params.ranges import Ranges

    s = Study.build([OPTIONS], Ranges.load(), CONFIG_DIR, "prior")
    return s.options, s.params, s.reference


@pytest.mark.model
def test_the_posteriors_quantiles_reach_the_options_configs_paired_beside_the_prior_design(tmp_path, monkeypatch,
                                                                                             options) -> None:
    """Set i's calibrated coordinates are a posterior draw (each draw once before any repeats), every other
    coordinate is the prior design's; the options' configs get the draw's values through values_at, the same for
    both options; with no calibration the design is the prior one."""
    from sim.analysis.psa import Study, unit_design
    from sim.params.ranges import Parameter, _lookup, apply, base_values, values_at, varied

    draws = _draws(5)
    monkeypatch.setattr(post, "CALIBRATION_DIR", tmp_path)
    write_calibration(tmp_path, draws)
    study = Study.of(*options)
    assert study.posterior is not None and study.posterior.names == CALIBRATED
    v = varied(study.params)
    names = [p.name for p in v]
    cols = [names.index(n) for n in CALIBRATED]
    n, seed = 8, 11
    u, prior = study.design(n, seed), unit_design(n, len(v), seed, "sobol")
    others = [j for j in range(len(v)) if j not in cols]
    assert np.array_equal(u[:, others], prior[:, others])
    assert not np.array_equal(u[:, cols], prior[:, cols])
    used = [next(k for k, row in enumerate(draws) if np.array_equal(row, u[i, cols])) for i in range(n)]
    assert sorted(used[:5]) == [0, 1, 2, 3, 4] and used[5:] == used[:3]  # without replacement, then the same order
    by_name: dict[str, Parameter] = {p.name: p for p in v}
    for i in range(n):
        point = study.point(u[i])
        for o in study.options:
            config = apply(o.config, point[o.name])
            for j, name in enumerate(CALIBRATED):
                p = by_name[name]
                want = values_at([p], np.array([draws[used[i], j]]), base_values(o.config, [p]))[p.keys[0]]
                assert point[o.name][p.keys[0]] == want
                assert float(_lookup(config, p.keys[0])) == want  # what the runner's config holds
        a, b = (point[o.name] for o in study.options)
        assert {k: a[k] for k in a if k.startswith("pathway.")} == {k: b[k] for k in b if k.startswith("pathway.")}
    monkeypatch.setattr(post, "CALIBRATION_DIR", tmp_path / "none")
    assert np.array_equal(Study.of(*options).design(n, seed), prior)  # a region without calibration: as before


@pytest.mark.model
def test_the_shipped_calibration_loads_for_the_default_region_and_says_it_settled(options) -> None:
    """configs/calibration/norfolk_waveney/ (pathways-calibrate's output as shipped): the decision's study finds it,
    its draws reach the design's calibrated columns, and its calibration.json records a verdict that agrees with its
    own figures (the settled rule: ESS and the last generation's quantile changes)."""
    from sim.analysis import calibrate as cal
    from sim.analysis.psa import Study

    study = Study.of(*options)
    assert study.posterior is not None
    meta = json.loads((post.CALIBRATION_DIR / REGION / post.META).read_text())
    assert list(study.posterior.names) == meta["calibrated_parameters"] and meta["complete"] is True
    assert study.design(8, 3).shape[0] == 8
    changes = [c for c in meta["quantile_change_last_two_generations"].values() if c is not None]
    holds = meta["ess"] >= cal.SETTLED_ESS and len(changes) == len(meta["calibrated_parameters"]) \
        and max(changes) <= cal.SETTLED_CHANGE
    assert meta["settled"] is holds and (meta["settling"] == "settled") is holds
    assert meta["settled"], meta["settling"]


@pytest.mark.model
def test_a_changed_posterior_refuses_a_resume_and_prior_keeps_mains_design(tmp_path, monkeypatch, options,
                                                                           capsys) -> None:
    from sim.analysis.probabilistic import DESIGN, _claim, drawn_from
    from sim.analysis.psa import Study
    from sim.interfaces import decide

    monkeypatch.setattr(post, "CALIBRATION_DIR", tmp_path / "cal")
    folder = write_calibration(tmp_path / "cal", _draws(4))
    study = Study.of(*options)
    out = tmp_path / "uncertainty"
    _claim(out, study, 1)
    _claim(out, Study.of(*options), 1)  # the same posterior resumes
    recorded = json.loads((out / DESIGN).read_text())["posterior"]
    assert recorded["sha256"] == study.posterior.sha256 and recorded["folder"].endswith(REGION)  # type: ignore
    decide._start(tmp_path / "d", "psa", {"overrides": [OPTIONS], **drawn_from(study)})
    write_calibration(tmp_path / "cal", _draws(4, seed=8))  # pathways-calibrate ran again
    changed = Study.of(*options)
    with pytest.raises(ConfigError, match="another design"):
        _claim(out, changed, 1)
    decide._check_resume(tmp_path / "d", "psa", {"overrides": [OPTIONS]}, early=True)  # not known before composing
    with pytest.raises(SystemExit):
        decide._check_resume(tmp_path / "d", "psa", {"overrides": [OPTIONS], **drawn_from(changed)})
    assert "drawn from another posterior" in capsys.readouterr().err
    prior = Study.of(*options, "prior")
    _claim(tmp_path / "prior", prior, 1)
    assert sorted(json.loads((tmp_path / "prior" / DESIGN).read_text())) == ["configs", "options", "parameters",
                                                                             "seed"]
    shutil.rmtree(folder)
    assert Study.of(*options).posterior is None


@pytest.mark.model
def test_a_posterior_naming_a_parameter_these_options_do_not_vary_is_refused(tmp_path, monkeypatch, options) -> None:
    from sim.analysis.psa import Study

    monkeypatch.setattr(post, "CALIBRATION_DIR", tmp_path)
    write_calibration(tmp_path, _draws(3)[:, :1], names=("pathway.no_such.number",))
    with pytest.raises(ConfigError, match="run pathways-calibrate again"):
        Study.of(*options)


@pytest.mark.model
def test_a_posterior_fitted_on_another_prior_is_refused_naming_the_parameter(tmp_path, monkeypatch, options) -> None:
    """A draw is a quantile of the prior it was fitted on: the same range around the same value is accepted; a
    changed value (the region's number edited since) or a changed range is refused before any run."""
    from sim.analysis.psa import Study
    from sim.params.ranges import base_values

    monkeypatch.setattr(post, "CALIBRATION_DIR", tmp_path)
    opts, params, reference = options
    ref = next(o for o in opts if o.name == reference).config
    folder = write_calibration(tmp_path, _draws(3))
    meta = json.loads((folder / post.META).read_text())
    fitted = post.priors_of(params, base_values(ref, params), CALIBRATED)
    assert set(fitted) == set(CALIBRATED)
    (folder / post.META).write_text(json.dumps({**meta, "priors": fitted}))
    assert Study.of(*options).posterior is not None
    name = "pathway.recruitment.withdrawal_patience.mean"
    for changed in ({**fitted[name], "value": fitted[name]["value"] * 2}, {**fitted[name], "args": {"factor": 3.0}}):
        (folder / post.META).write_text(json.dumps({**meta, "priors": {**fitted, name: changed}}))
        with pytest.raises(ConfigError, match=f"priors.{name}.*changed since the calibration"):
            Study.of(*options)


# ----------------------------------------------------------------------------- a sweep, end to end
@pytest.mark.statistical
def test_a_sweep_draws_from_the_posterior_and_runs_the_prior_sets_as_a_region_without_calibration(
        tmp_path, monkeypatch) -> None:
    """On a finished tiny sweep: without a calibration the sets are main's; with one, uncertainty/ holds the
    posterior's records and uncertainty/prior/ records equal to the run without calibration, number for number (the
    same sets and residents; the worker's process id aside), and the report says what changed and shows every target."""
    from conftest import run_cli

    from sim.analysis.probabilistic import run_sets
    from sim.outputs.folder import report_data
    from sim.outputs.sections import _recommendation_section, _validation_section

    plain = tmp_path / "plain"  # the whole command, on main's code path: every parameter from its prior range
    r = run_cli("-m", "experiment=quick", "experiment.progress=false", "experiment.replications=1",
                "experiment.uncertainty=parameters", "experiment.sets=4", "experiment.horizon_days=365",
                "experiment.warmup_days=60", "experiment.parameters=prior", "experiment.compare_prior=true", OPTIONS,
                f"hydra.sweep.dir={plain}")
    assert r.returncode == 0, r.stderr[-2000:]
    sweep = tmp_path / "s"  # the same finished jobs, asking for the posterior, their sets run here
    shutil.copytree(plain, sweep, ignore=shutil.ignore_patterns("uncertainty", "report.html", "comparison.*"))
    for config in sweep.glob("*/config.yaml"):
        config.write_text(config.read_text().replace("parameters: prior", "parameters: posterior"))
    monkeypatch.setattr(post, "CALIBRATION_DIR", tmp_path / "cal")
    write_calibration(tmp_path / "cal", _draws(3))
    out = run_sets(sweep)
    assert out is not None

    def records(folder: Path) -> list[str]:  # every record, but the worker's process id
        return sorted(json.dumps({k: v for k, v in json.loads(line).items() if k != "pid"})
                      for line in (folder / "records.jsonl").read_text().splitlines())

    assert records(out / "prior") == records(plain / "uncertainty")
    assert records(out) != records(plain / "uncertainty")
    decided = json.loads((out / "decide.json").read_text())
    assert decided["drawn_from"] == "posterior" and decided["calibrated"] == list(CALIBRATED)
    assert json.loads((plain / "uncertainty" / "decide.json").read_text())["drawn_from"] == "prior"
    d = report_data(sweep)
    what = _recommendation_section(d)
    words = " ".join(what["calibrated"])
    assert "drew 3 calibrated parameters" in words and "fitted to 2 published outcomes" in words
    assert "with the prior ranges alone" in words and what["calibration_table"].header[-1] == "Change in width"
    assert len(_validation_section(d)["table"].rows) == len(TARGETS)


@pytest.mark.unit
def test_the_decision_says_whether_the_calibrations_posterior_settled(tmp_path) -> None:
    """The sentence on the calibration repeats its verdict (calibration.json's settling): a settled posterior with
    its effective sample size, an unsettled one with the reason; a calibration from before the verdict, nothing."""
    from sim.outputs.sections import calibration_change

    folder = write_calibration(tmp_path / "cal", _draws(3))
    sweep = tmp_path / "sweep"
    (sweep / "uncertainty").mkdir(parents=True)
    sha = hashlib.sha256((folder / post.POSTERIOR).read_bytes()).hexdigest()
    (sweep / "uncertainty" / "decide.json").write_text(json.dumps({
        "drawn_from": "posterior", "calibrated": list(CALIBRATED),
        "posterior": {"folder": str(folder), "sha256": sha}}))
    meta = json.loads((folder / post.META).read_text())

    def words(**extra: object) -> str:
        (folder / post.META).write_text(json.dumps({**meta, **extra}))
        return " ".join(calibration_change(sweep, REGION)["calibrated"])

    assert "Its posterior has settled: an effective sample size of 111," in words(settling="settled", ess=111.3)
    unsettled = words(settling="not settled after 6 generations: effective sample size 87 < 100", ess=87.0)
    assert "Its posterior has not settled after 6 generations: effective sample size 87 < 100" in unsettled
    assert "more sampling error" in unsettled
    assert "settled" not in words()


# ----------------------------------------------------------------------------- the report
def _report_data(folder: Path) -> SimpleNamespace:
    return SimpleNamespace(folder=folder, reference=SimpleNamespace(config={"region": {"name": REGION}}), options=[])


@pytest.mark.unit
def test_the_validation_section_lists_every_target_with_its_verdict(tmp_path, monkeypatch) -> None:
    from sim.outputs.report import templates
    from sim.outputs.sections import _validation_section

    monkeypatch.setattr(post, "CALIBRATION_DIR", tmp_path / "cal")
    empty = _validation_section(_report_data(tmp_path))  # type: ignore[arg-type]
    assert "No calibration for the region norfolk_waveney" in empty["empty"] and "pathways-calibrate" in empty["empty"]
    write_calibration(tmp_path / "cal", _draws(3))
    data = _validation_section(_report_data(tmp_path))  # type: ignore[arg-type]
    html = templates().get_template("sections/validation.html.j2").render(**data)
    rows = html.split("<tr>")[2:]
    for line in TARGETS:
        t = line.split(",")
        row = next(r for r in rows if f">{t[0]}<" in r.replace("<wbr>", ""))
        role = "held out" if t[1] == "validation" else "fitted"
        cells = row.split("<td>")
        assert role in cells[2] and f">{t[-1]}</span>" in cells[-1] and f">{t[-2]}</span>" in cells[-3]
    assert next(r for r in rows if "nhs_time_to_hire_2025" in r.replace("<wbr>", "")).count("outside") == 1
    words = " ".join(html.split())
    assert "Of the 3 validation targets, published outcomes held out of the fit, the calibrated model agrees with 2" \
        in words
    assert "on 2026-12-05, before the calibration ran" in words and "never shown to the fit" in words
    assert ("the model&#39;s time to hire is shorter than published" in html
            or "the model's time to hire is shorter than published" in html)


@pytest.mark.unit
def test_the_decision_change_gives_both_widths_from_the_prior_and_the_posterior_sets(tmp_path) -> None:
    from sim.outputs.calibration import decision_change

    header = "option,reference,kpi,sim_mean,sim_ci_low,sim_ci_high,sim_n,psa_mean,psa_low,psa_high,psa_sets,share\n"
    rec = {"recommendations": [{"effect": e, "fund": "a", "reference": "base", "sets": 4,
                                "p_best": {"a": p, "base": 1 - p}} for e, p in (("sustained_job", 0.9),
                                                                                 ("vacancy_year", 0.6))]}
    for sub, (lo, hi), p in (("", (90, 130), 0.9), ("prior", (60, 160), 0.7)):
        folder = tmp_path / "uncertainty" / sub
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "uncertainty.csv").write_text(header + f"a,base,net_sustained_12m,,,,,110,{lo},{hi},4,0.5\n"
                                                         f"a,base,vacancy_days,,,,,-730,-1095,-365,4,0.5\n")
        r = json.loads(json.dumps(rec))
        r["recommendations"][0]["p_best"]["a"] = p
        (folder / "recommendation.json").write_text(json.dumps(r))
    change = decision_change(tmp_path)
    assert change is not None and change["option"] == "a"
    jobs, vacancy = change["rows"]
    assert (jobs["prior_width"], jobs["posterior_width"]) == (100, 40) and jobs["change"] == pytest.approx(-0.6)
    assert vacancy["posterior"] == (2.0, 1.0, 3.0) and vacancy["change"] == pytest.approx(0.0)
    assert change["p_prior"]["sustained_job"] == 0.7 and change["p_posterior"]["sustained_job"] == 0.9


@pytest.mark.unit
def test_the_page_accepts_no_path_for_the_posterior() -> None:
    """Only experiment.parameters (posterior|prior) chooses; a path is not a model parameter nor an allowed value."""
    from sim.interfaces.errors import UsageError
    from sim.interfaces.overrides import OverrideError, check_overrides
    from sim.interfaces.preflight import preflight

    for bad in ("experiment.calibration=/tmp/x", "experiment.posterior=/tmp/x/posterior.csv"):
        with pytest.raises(OverrideError, match="is not a model parameter"):
            check_overrides([bad])
    with pytest.raises(UsageError, match=r"posterior.*prior"):
        preflight(["experiment.parameters=/tmp/x"])


@pytest.mark.unit
def test_a_shared_range_is_named_as_one_draw_over_its_pattern_not_its_first_match() -> None:
    """The calibration and the decision name a shared range by its pattern (it sets every post's number at once),
    never by the first post it matches ('Care homes: posts care worker within sector share' said before)."""
    from sim.params.labels import pattern_label

    assert pattern_label("region.workforce.groups.*.posts.*.within_sector_share") == (
        "Within sector share (all groups and posts, one draw)")
    assert pattern_label("pathway.training.courses.*_preemployment.duration.mean").endswith("(all courses, one draw)")
