"""The page's key numbers (issue 22 item 2): which they are for the chosen options, their sources and allowed
ranges, the overrides a changed number makes, and the scenario file that keeps them (usable from the command line,
never written over another file or outside the scenarios folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import extra
from omegaconf import OmegaConf

from sim.interfaces import preflight as pf
from sim.interfaces.pagenumbers import ScenarioError, interventions_of, numbers_for, save_scenario
from sim.params.compose import compose_config
from sim.params.keynumbers import FIXED, KeyNumberError, check_value, stage_of
from sim.params.paths import SCENARIO_DIR

pytestmark = pytest.mark.unit


def test_the_fixed_list_and_the_capacities_the_options_add_to() -> None:
    """Every number of the fixed list is in the config (interview coaching's effect when an option runs it), with its
    file's value, source and the schema's range; each option brings the capacities its interventions add to."""
    options = [interventions_of("west_norfolk_local_plan"), interventions_of(names=("childcare",)),
               interventions_of(names=("it_skills_one_to_one",))]
    assert set(options[0]) == set(compose_config(["scenario=west_norfolk_local_plan"]).intervention)
    numbers = {k.key: k for k in numbers_for(options, "norfolk_waveney")}
    config = compose_config(["intervention=[interview_coaching]"])
    for key, _ in FIXED:
        k = numbers[key]
        assert k.value == OmegaConf.select(config, key) and k.source, k
        assert k.allowed.check(k.value) is None
    assert numbers["pathway.recruitment.shortlisting"].allowed.text() == "a number in [0, 1]"
    assert numbers["pathway.recruitment.withdrawal_patience.mean"].allowed.check(0.0) == "a number > 0"
    assert numbers["intervention.interview_coaching.changes.0.value"].intervention == "interview_coaching"
    capacities = {"pathway.engagement.advisers", "pathway.training.courses.nhs_preemployment.places_per_cohort",
                  "pathway.support.childcare.places", "pathway.support.digital_skills.places"}  # the last: serves
    assert capacities <= set(numbers)
    assert numbers["pathway.support.childcare.places"].stage == "childcare"
    baseline = {k.key for k in numbers_for([], "norfolk_waveney")}
    assert baseline == {k for k, _ in FIXED} - {"intervention.interview_coaching.changes.0.value"}


def test_a_changed_number_is_checked_against_its_range_and_the_list() -> None:
    assert check_value("pathway.recruitment.offer_acceptance", 0.8) == 0.8
    assert check_value("pathway.support.childcare.places", 40) == 40.0
    for key, value, words in [("pathway.recruitment.shortlisting", 1.5, "allowed: a number in [0, 1]"),
                              ("pathway.recruitment.withdrawal_patience.mean", 0, "allowed: a number > 0"),
                              ("pathway.engagement.advisers", float("nan"), "allowed: a number >= 0"),
                              ("pathway.recruitment.shortlisting", "0.5", "allowed: a number"),
                              ("hydra.run.dir", 1, "not a key number"),
                              ("experiment.replications", 1, "not a key number"),
                              ("pathway.support.childcare.places.x", 1, "not a key number")]:
        with pytest.raises(KeyNumberError, match=words.replace("[", r"\[").replace("]", r"\]")):
            check_value(key, value)
    assert stage_of("pathway.support.health_support.places") == "health_support"


def test_the_form_runs_changed_numbers_as_overrides_and_reads_them_back() -> None:
    extra("fastapi", "app")
    from sim.interfaces.app import FormError, FormRequest, form_of, form_overrides

    form = FormRequest(mode="programmes", scenarios=["west_norfolk_local_plan"],
                       numbers={"pathway.recruitment.shortlisting": 0.6, "pathway.engagement.advisers": 6})
    overrides, _ = form_overrides(form)
    assert {"pathway.recruitment.shortlisting=0.6", "pathway.engagement.advisers=6"} <= set(overrides)
    assert form_of(overrides)["numbers"] == form.numbers
    argv = pf.preflight(["-m", *overrides])  # the command line's own check takes them
    assert "pathway.recruitment.shortlisting=0.6" in argv
    coaching = {"intervention.interview_coaching.changes.0.value": 1.3}
    sized = FormRequest(mode="sizes", sized="interview_coaching", sizes="0,1", numbers=coaching)
    assert "intervention.interview_coaching.changes.0.value=1.3" in form_overrides(sized)[0]
    for bad in (FormRequest(mode="programmes", scenarios=["west_norfolk_local_plan"], numbers=coaching),
                FormRequest(mode="programmes", scenarios=["west_norfolk_local_plan"],
                            numbers={"pathway.recruitment.interview_pass": 2})):
        with pytest.raises(FormError) as e:  # the baseline does not run coaching; a probability stays in [0, 1]
            form_overrides(bad)
        assert e.value.field == "numbers" and "allowed:" in str(e.value)


def test_a_saved_scenario_runs_from_the_command_line_with_every_number_sourced(tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    folder.mkdir()
    numbers = {"pathway.recruitment.shortlisting": 0.65, "region.channels.jobcentre.profile.deadweight": 0.3,
               "intervention.interview_coaching.changes.0.value": 1.4}
    path = save_scenario(folder, "my_area_numbers", numbers, "norfolk_waveney")
    assert sorted(folder.iterdir()) == [path] and path.name == "my_area_numbers.yaml"
    text = path.read_text()
    assert text.startswith("# @package _global_") and "pathways scenario=my_area_numbers" in text
    data = yaml.safe_load(text)
    assert data["scenario_name"] == "my_area_numbers"
    for line in text.splitlines():  # every number with its provenance: set on the page, when, replacing what
        value = line.split("#")[0].split(":", 1)[-1].strip()
        if value.replace(".", "").isdigit():
            assert "assumption: set on the page (pathways-app), by whom is not known, on 20" in line, line
    assert "the file's value 0.5" in text and "the file's value 1.2" in text
    argv = pf.preflight(["scenario=my_area_numbers", f"hydra.searchpath=[file://{tmp_path}]"])
    assert "scenario=my_area_numbers" in argv  # the command line composes and validates it
    config = compose_config(["scenario=my_area_numbers"], config_dir=_tree_with(tmp_path, path))
    for key, value in numbers.items():
        assert OmegaConf.select(config, key) == value, key
    assert list(config.intervention) == ["interview_coaching"]


def _tree_with(tmp_path: Path, scenario: Path) -> Path:
    """A copy of the config tree whose scenarios folder holds the shipped scenarios and `scenario`."""
    import shutil

    from sim.params.paths import CONFIG_DIR

    tree = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, tree, symlinks=False, ignore=shutil.ignore_patterns("scenario"))
    shutil.copytree(SCENARIO_DIR, tree / "scenario")
    shutil.copy(scenario, tree / "scenario")
    return tree


def test_saving_writes_only_a_new_file_named_by_a_slug(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "mine.yaml").write_text("scenario_name: theirs\n")
    shipped = {p: p.read_bytes() for p in SCENARIO_DIR.glob("*.yaml")}
    good = {"pathway.recruitment.shortlisting": 0.6}
    cases = [(folder, "../escape", good, "allowed: 3 to 48 lower-case"), (folder, "/tmp/x", good, "lower-case"),
             (folder, "a/b", good, "lower-case"), (folder, "Caps", good, "lower-case"), (folder, "x" * 60, good, "48"),
             (folder, "mine", good, "already a scenario"), (folder, "theirs", good, "already a scenario"),
             (SCENARIO_DIR, "baseline", good, "already a scenario"),
             (SCENARIO_DIR, "west_norfolk_local_plan", good, "already a scenario"),
             (folder, "new_one", {}, "1 to 50 key numbers"),
             (folder, "new_one", {"hydra.sweep.dir": 1.0}, "not a key number"),
             (folder, "new_one", {"pathway.recruitment.shortlisting": 7.0}, "[0, 1]")]
    for where, name, numbers, words in cases:
        with pytest.raises(ScenarioError) as e:
            save_scenario(where, name, numbers, "norfolk_waveney")
        assert words in str(e.value) and "\n" not in str(e.value), (name, str(e.value))
    assert sorted(p.name for p in folder.iterdir()) == ["mine.yaml"]
    assert {p: p.read_bytes() for p in SCENARIO_DIR.glob("*.yaml")} == shipped
    assert not (tmp_path / "escape.yaml").exists()
