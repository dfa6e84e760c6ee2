"""The calibration and validation targets: the file is sound, split as required, holds no input, and every
target's measure reads a finite value from a run (in-process and from its folder alike)."""

from __future__ import annotations

import datetime
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import make_params

from sim.analysis.targets import MEASURES, describe, from_folder, from_outputs, measure_targets
from sim.experiment.replications import mark_done, write_results
from sim.model.run import Model
from sim.params.targets import (
    AREAS,
    EVIDENCE,
    TARGETS_FILE,
    TargetsError,
    cited_as_input,
    load_targets,
    model_config_files,
)

FUNNEL_AREAS = ("engagement", "completion", "job_outcome", "time_to_hire")
DEMAND_AREAS = ("internal_recruitment", "leavers_staying", "first_year_leaving")


def _raw() -> dict:
    return yaml.safe_load(TARGETS_FILE.read_text())


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# ----------------------------------------------------------------------------- the file
@pytest.mark.unit
def test_the_split_has_enough_targets_across_the_funnel_and_the_demand_side() -> None:
    t = load_targets(measures=MEASURES)
    calibration, validation = t.role("calibration"), t.role("validation")
    assert len(calibration) >= 8 and len(validation) >= 4
    assert {x.area for x in calibration} == set(AREAS), "every area informs the fit"
    assert {x.area for x in validation} & set(FUNNEL_AREAS) and {x.area for x in validation} & set(DEMAND_AREAS)
    assert t.split_made <= datetime.date.today()
    assert (TARGETS_FILE.parent / "region" / f"{t.region}.yaml").exists()


@pytest.mark.unit
def test_no_target_is_an_input() -> None:
    """No target's source (id or title) is cited in a comment of the config files the model runs on."""
    files = model_config_files()
    assert any(f.name == "norfolk_waveney.yaml" for f in files) and TARGETS_FILE.resolve() not in files
    assert cited_as_input(load_targets().targets, files) == []


@pytest.mark.unit
def test_the_input_check_finds_a_target_that_is_an_input(tmp_path: Path) -> None:
    """A target whose source the pathway file cites (by id), or a config comment names (by title), is caught."""
    raw = _raw()
    bad = dict(raw["targets"][0], id="whp_referral_to_start_as_target",
               sources={"whp_referral_to_start": "Work and Health Programme statistics to February 2020"})
    raw["targets"].append(bad)
    targets = load_targets(_write(tmp_path, raw)).targets
    found = cited_as_input(targets, model_config_files())
    assert found and all(f.startswith("whp_referral_to_start_as_target: whp_referral_to_start") for f in found)
    assert any("pathway/default.yaml" in f for f in found)
    titled = tmp_path / "region.yaml"
    one = next(t for t in targets if len(t.sources) == 1)
    (sid, title), = one.sources.items()
    titled.write_text(f"rate: 0.5  # from {title.upper()}, as published\n")
    assert cited_as_input([one], [titled]) == [f"{one.id}: {sid} ({title}) is cited in {titled}:1"]


@pytest.mark.unit
def test_sources_are_ids_of_the_evidence_file_with_their_titles() -> None:
    if not EVIDENCE.exists():
        pytest.skip(f"the evidence file {EVIDENCE} is not beside the repository")
    assert load_targets(measures=MEASURES, evidence=EVIDENCE).targets


@pytest.mark.unit
@pytest.mark.parametrize(("change", "field"), [
    (lambda row: row.pop("tolerance_reason"), "tolerance_reason: missing"),
    (lambda row: row.update(role="fitted"), "role = 'fitted'"),
    (lambda row: row.update(area="staffing"), "area = 'staffing'"),
    (lambda row: row.update(figure="about 40%"), "figure = 'about 40%'"),
    (lambda row: row.update(tolerance=0), "tolerance = 0"),
    (lambda row: row.update(measure="hires_per_referral"), "measure = 'hires_per_referral'"),
    (lambda row: row.update(sources={}), "sources = {}"),
    (lambda row: row.update(population=" "), "population = ' '"),
    (lambda row: row.update(colour="red"), "colour: unknown field"),
])
def test_the_loader_refuses_a_bad_row_naming_file_row_and_field(tmp_path: Path, change, field: str) -> None:
    raw = _raw()
    row = raw["targets"][2]
    change(row)
    path = _write(tmp_path, raw)
    with pytest.raises(TargetsError) as e:
        load_targets(path, measures=MEASURES)
    assert str(e.value).startswith(f"{path}: target 3 ({row['id']}): {field}")
    assert "\n" not in str(e.value)


@pytest.mark.unit
def test_the_loader_refuses_a_repeated_id_a_bad_date_and_an_unknown_source(tmp_path: Path) -> None:
    raw = _raw()
    raw["targets"].append(dict(raw["targets"][0]))
    path = _write(tmp_path, raw)
    with pytest.raises(TargetsError, match=rf"target {len(raw['targets'])} \(\w+\): id: repeats"):
        load_targets(path)
    raw = _raw()
    raw["split_made"] = "after the fit"
    with pytest.raises(TargetsError, match="split_made = 'after the fit': allowed: a date"):
        load_targets(_write(tmp_path, raw))
    raw = _raw()
    raw["targets"][0]["sources"] = {"no_such_id": "A title"}
    evidence = tmp_path / "parameters.csv"
    evidence.write_text("id,source_title\nother_id,A title\n")
    with pytest.raises(TargetsError, match=r"target 1 .*: sources = 'no_such_id': allowed: an id of parameters\.csv"):
        load_targets(_write(tmp_path, raw), evidence=evidence)


@pytest.mark.unit
def test_every_measure_says_what_it_counts() -> None:
    assert all(len(describe(name)) > 40 for name in MEASURES)
    assert {t.measure for t in load_targets().targets} <= set(MEASURES)


# ----------------------------------------------------------------------------- measured on a run
@pytest.fixture(scope="module")
def quick_run() -> tuple:
    params = make_params("experiment=quick")
    models = [Model(params, r) for r in range(2)]
    return params, models, [m.run() for m in models]


@pytest.mark.model
def test_every_target_is_measured_finite_on_a_quick_run_in_process_and_from_its_folder(quick_run, tmp_path) -> None:
    params, _, outputs = quick_run
    targets = load_targets(measures=MEASURES)
    values = measure_targets(targets, from_outputs(outputs, params.config))
    assert len(values) == len(targets.targets)
    bad = [(v.target.id, v.model.mean) for v in values if not (math.isfinite(v.model.mean) and v.model.n == 2)]
    assert not bad
    write_results(tmp_path, "baseline", outputs)
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(params.config)))
    mark_done(tmp_path)
    again = measure_targets(targets, from_folder(tmp_path))
    assert [v.model.mean for v in again] == pytest.approx([v.model.mean for v in values], rel=1e-12)


@pytest.mark.model
def test_leavers_staying_in_care_read_from_the_staff_balance_equals_the_ledger_of_social_care(quick_run) -> None:
    """The measure recovers social care's leavers and retirements from what a run writes; the model's own ledger
    by cell (not written out) says what they were."""
    params, models, outputs = quick_run
    reps = from_outputs(outputs, params.config)
    for model, rep in zip(models, reps):
        wf = model.workforce
        care = np.array([s == "social_care" for s in wf.group_sector])
        out = {k: float(wf.flows[k][:, care].sum()) for k in ("movers", "leavers", "retirements")}
        truth = out["movers"] / (out["movers"] + out["leavers"] + out["retirements"])
        assert MEASURES["care_leavers_staying_in_sector"](rep) == pytest.approx(truth, abs=0.005)


@pytest.mark.unit
def test_a_folder_that_is_not_a_finished_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: not a finished run folder"):
        from_folder(tmp_path)
