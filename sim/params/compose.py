"""The root config composed from the shipped config tree with Hydra overrides: the one way the library (not the
`pathways` command, which is Hydra's own entry) composes a config, with the schema registered first."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from sim.params.config import register
from sim.params.paths import CONFIG_DIR


def compose_config(overrides: list[str] | tuple[str, ...] = (), *, hydra_node: bool = False,
                   config_dir: Path = CONFIG_DIR) -> DictConfig:
    """`config.yaml` with `overrides` (Hydra's syntax), as `hydra.compose` gives it; inside an initialised
    Hydra (a running job, a preflight) it composes there."""
    register()
    if GlobalHydra.instance().is_initialized():
        return compose("config", overrides=list(overrides), return_hydra_config=hydra_node)
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra_node)
