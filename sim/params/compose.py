"""The root config composed from the shipped config tree with Hydra overrides: the one way the library (not the
`pathways` command, which is Hydra's own entry) composes a config, with the schema registered first."""

from __future__ import annotations

import itertools
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig

from sim.params.paths import CONFIG_DIR
from sim.params.schema import register


def compose_config(overrides: list[str] | tuple[str, ...] = (), *, hydra_node: bool = False,
                   config_dir: Path = CONFIG_DIR) -> DictConfig:
    """`config.yaml` with `overrides` (Hydra's syntax), as `hydra.compose` gives it; inside an initialised
    Hydra (a running job, a preflight) it composes there."""
    register()
    if GlobalHydra.instance().is_initialized():
        return compose("config", overrides=list(overrides), return_hydra_config=hydra_node)
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra_node)


def sweep_combos(overrides: list[Override]) -> list[list[str]]:
    """The overrides of every job a multirun over parsed `overrides` asks for (`scenario=a,b x=1,2`: four), in
    the order Hydra's basic sweeper runs them: the cross product, a later key written once overriding an earlier."""
    final: dict[str, list[str]] = {}
    for o in overrides:
        key = o.get_key_element()
        if not o.is_sweep_override():
            final[key] = [f"{key}={o.get_value_element_as_str()}"]
        elif o.is_discrete_sweep():
            final[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:
            raise ValueError(f"{key}: a {o.value_type.name if o.value_type else 'range'} sweep cannot be run "
                             "(allowed: a list of values, a,b,c, or range(...))")
    return [list(c) for c in itertools.product(*final.values())]
