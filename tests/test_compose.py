"""Composing configs and sweeps: the jobs a multirun asks for, in the order Hydra's sweeper runs them."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from sim.params.compose import compose_config, sweep_combos

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("overrides", [
    ["scenario=a,b", "x=1,2", "y=3"], ["x=range(0,4)", "scenario=a"], ["a=1", "a=2,3"], [],
    ["x=[1,2]", "y=choice(1,2)"], ["+z=5", "~w", "intervention=[childcare,mentoring],[]"],
])
def test_sweep_combos_are_the_jobs_hydra_runs(overrides: list[str]) -> None:
    """The same jobs, in the same order, as Hydra's basic sweeper (the `pathways -m` launcher numbers jobs so)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper  # the reference only: never used in sim/

    parsed = OverridesParser.create().parse_overrides(overrides)
    assert sweep_combos(parsed) == [c for batch in BasicSweeper.split_arguments(parsed, None) for c in batch]


def test_an_interval_sweep_is_refused_in_words() -> None:
    with pytest.raises(ValueError, match=r"x: a .* sweep cannot be run"):
        sweep_combos(OverridesParser.create().parse_overrides(["x=interval(0,1)"]))


def test_compose_config_registers_the_schema_itself() -> None:
    """A fresh interpreter could compose only after importing the command line; now the library composes."""
    cfg = compose_config(["experiment=quick"])
    assert cfg.experiment.horizon_days == 730


def test_a_kept_composition_is_a_copy_and_follows_the_files(tmp_path) -> None:
    """The process keeps compositions (Hydra takes about a second each): what a caller changes stays its own, and
    editing a file of the tree gives the new value at once."""
    import os
    import shutil

    from sim.params.paths import CONFIG_DIR

    tree = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, tree, symlinks=False)
    first = compose_config(["experiment=quick"], config_dir=tree)
    first.experiment.horizon_days = 1
    assert compose_config(["experiment=quick"], config_dir=tree).experiment.horizon_days == 730
    path = tree / "experiment" / "quick.yaml"
    path.write_text(path.read_text().replace("horizon_days: 730", "horizon_days: 731"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # a clock too coarse to see it
    assert compose_config(["experiment=quick"], config_dir=tree).experiment.horizon_days == 731


def test_a_composition_kept_on_disk_serves_another_process_and_follows_the_files(tmp_path, monkeypatch) -> None:
    """Between processes a composition is kept on disk (`PATHWAYS_CACHE`): a new process (the in-process store
    emptied) reads it instead of composing; an edited file, or a corrupt kept file, gives a fresh composition."""
    import os
    import shutil

    from sim.params import compose as module
    from sim.params.paths import CONFIG_DIR

    cache = tmp_path / "cache"
    monkeypatch.setenv("PATHWAYS_CACHE", str(cache))
    tree = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, tree, symlinks=False)
    composed = []
    real = module.initialize_config_dir

    def counting(*args, **kwargs):  # every composition from the files goes through here
        composed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "initialize_config_dir", counting)
    first = compose_config(["experiment=quick"], config_dir=tree)
    assert len(composed) == 1 and len(list(cache.glob("*.pickle"))) == 1
    monkeypatch.setattr(module, "_COMPOSED", {})  # a new process
    assert compose_config(["experiment=quick"], config_dir=tree) == first and len(composed) == 1

    path = tree / "experiment" / "quick.yaml"
    path.write_text(path.read_text().replace("horizon_days: 730", "horizon_days: 731"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    monkeypatch.setattr(module, "_COMPOSED", {})
    assert compose_config(["experiment=quick"], config_dir=tree).experiment.horizon_days == 731
    assert len(composed) == 2

    for kept in cache.glob("*.pickle"):
        kept.write_bytes(b"not a pickle")
    monkeypatch.setattr(module, "_COMPOSED", {})
    assert compose_config(["experiment=quick"], config_dir=tree).experiment.horizon_days == 731
    assert len(composed) == 3


def test_a_search_path_folder_is_part_of_what_a_composition_is_kept_by(tmp_path, monkeypatch) -> None:
    """A planner's own region folder (`hydra.searchpath`): editing a file there is seen at once."""
    import os

    monkeypatch.setenv("PATHWAYS_CACHE", str(tmp_path / "cache"))
    own = tmp_path / "own" / "region"
    own.mkdir(parents=True)
    region = own / "coastal.yaml"
    region.write_text("defaults:\n  - norfolk_waveney\n  - _self_\nname: coastal\n")
    args = [f"hydra.searchpath=[file://{own.parent}]", "region=coastal"]
    assert compose_config(args).region.name == "coastal"
    region.write_text("defaults:\n  - norfolk_waveney\n  - _self_\nname: coastal2\n")
    os.utime(region, ns=(region.stat().st_atime_ns, region.stat().st_mtime_ns + 10**9))
    assert compose_config(args).region.name == "coastal2"


def test_adding_a_group_keeps_the_schema_and_an_unknown_key_there_is_still_refused(tmp_path) -> None:
    """`+intervention=[x]` (the preflight's own, for a sweep of sizes) adds a group's files, not a key: the config
    stays typed on the schema (no second typing, a second per option), and an unknown key in such a file is
    refused as in any group's. `+key=value` and `~key` are typed again, which refuses an unknown key."""
    from hydra.errors import ConfigCompositionException
    from omegaconf import OmegaConf

    from sim.params.compose import _adds_or_deletes_a_key, without_hydra
    from sim.params.config import load
    from sim.params.errors import ConfigError
    from sim.params.paths import CONFIG_DIR
    from sim.params.schema import Config

    assert [_adds_or_deletes_a_key(o, CONFIG_DIR) for o in
            ("+intervention=[childcare]", "~intervention", "+experiment.x=1", "~scenario_name", "+x=1",
             "intervention=[childcare]", "++intervention.childcare.places=2")] == [False, False, True, True, True,
                                                                                    False, True]
    args = ["experiment=quick", "+intervention=[childcare]", "intervention.childcare.places=3"]
    job = without_hydra(compose_config(args, hydra_node=True), args)
    assert OmegaConf.get_type(job) is Config and "hydra" not in job
    assert load(job).config.intervention["childcare"].places == 3
    own = tmp_path / "intervention"
    own.mkdir()
    (own / "odd.yaml").write_text("# @package intervention.odd\nplaces: 3\nnot_a_field: 2\n")
    with pytest.raises(ConfigCompositionException, match="not_a_field"):  # Hydra's, on the schema
        bad = ["experiment=quick", "+intervention=[odd]", f"hydra.searchpath=[file://{tmp_path}]"]
        load(without_hydra(compose_config(bad), bad))
    with pytest.raises(ConfigError, match="bogus"):
        added = ["experiment=quick", "+intervention=[childcare]", "+intervention.childcare.bogus=1"]
        load(without_hydra(compose_config(added), added))


def test_the_disk_store_drops_the_least_recently_used_and_reads_a_foreign_file_as_a_miss(tmp_path, monkeypatch) -> None:
    """Beyond its size the store drops the composition used longest ago (one read just now stays), so a pass over
    more compositions than it holds still finds the ones used again; a file it did not write is only a miss."""
    import pickle

    from omegaconf import OmegaConf

    from sim.params import compose

    monkeypatch.setenv("PATHWAYS_CACHE", str(tmp_path))
    monkeypatch.setattr(compose, "_KEEP_ON_DISK", 2)
    cfg = OmegaConf.create({"a": 1})
    compose._write("first", pickle.dumps(cfg))
    compose._write("second", pickle.dumps(cfg))
    assert compose._read("first")[1] == cfg  # used again: now the most recent
    compose._write("third", pickle.dumps(cfg))
    assert sorted(p.stem for p in tmp_path.glob("*.pickle")) == ["first", "third"]
    (tmp_path / "foreign.pickle").write_bytes(pickle.dumps(cfg))  # not compressed: not the store's own
    assert compose._read("foreign") == (b"", None)


@pytest.mark.parametrize("overrides", [
    ["experiment=quick", "experiment.seed=7", "experiment.replications=2"],
    ["scenario=west_norfolk_local_plan", "pathway.recruitment.shortlisting=0.5", "experiment.seed=7"],
    ["experiment.wtp_per_sustained_job_range=[1000,2000]", "experiment.sets_max=${experiment.sets_min}"],
    ["region.workforce.bau_vacancy_elasticity=0.3", "intervention=[childcare]", "intervention.childcare.places=3"],
    ["experiment.seed=1", "experiment.seed=2", "experiment.progress=false"],
])
def test_a_value_on_a_kept_composition_is_hydras_own_config(overrides: list[str]) -> None:
    """A plain `key=value` is applied to the kept composition of the other overrides as Hydra applies it after
    merging the files: the config is Hydra's own, every node, value, type and flag (compared with a composition by
    Hydra itself, from nothing kept)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from sim.params.paths import CONFIG_DIR

    ours = compose_config(overrides)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        hydras = compose("config", overrides=overrides)
    assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(hydras)
    assert OmegaConf.to_container(ours) == OmegaConf.to_container(hydras)
    assert OmegaConf.is_struct(ours) == OmegaConf.is_struct(hydras)
    assert type(OmegaConf.select(ours, "experiment")._metadata.object_type) is type(
        OmegaConf.select(hydras, "experiment")._metadata.object_type)


@pytest.mark.parametrize("bad", ["experiment.nonsense=1", "experiment.replications=many"])
def test_a_bad_value_is_refused_in_hydras_words(bad: str) -> None:
    """A key the schema lacks, or a value of the wrong type, is refused as Hydra refuses it (Hydra composes it)."""
    from hydra import compose, initialize_config_dir

    from sim.params.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None), pytest.raises(Exception) as hydras:
        compose("config", overrides=["experiment=quick", bad])
    with pytest.raises(type(hydras.value)) as ours:
        compose_config(["experiment=quick", bad])
    assert str(ours.value) == str(hydras.value)
