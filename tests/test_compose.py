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
