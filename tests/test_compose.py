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
