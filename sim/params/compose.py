"""The root config composed from the shipped config tree with Hydra overrides: the one way the library (not the
`pathways` command, which is Hydra's own entry) composes a config, with the schema registered first."""

from __future__ import annotations

import copy
import itertools
import os
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
    Hydra (a running job, a preflight) it composes there.

    Outside one, a composition is kept for the life of the process and a copy returned, until a file of the
    config tree changes (its paths and modification times are part of the key): Hydra takes about a second to
    compose, and the page, the decision commands and the tests compose the same configs again and again."""
    register()
    if GlobalHydra.instance().is_initialized():
        return compose("config", overrides=list(overrides), return_hydra_config=hydra_node)
    key = (tuple(overrides), hydra_node, str(config_dir), _tree(config_dir))
    if key not in _COMPOSED:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=hydra_node)
        if len(_COMPOSED) >= _KEEP:
            _COMPOSED.pop(next(iter(_COMPOSED)))
        _COMPOSED[key] = cfg
    return copy.deepcopy(_COMPOSED[key])


_COMPOSED: dict[tuple, DictConfig] = {}
_KEEP = 256  # compositions kept (each some 100 KB); the oldest goes first


def _tree(config_dir: Path) -> tuple[tuple[str, int], ...]:
    """Every file of the config tree (scenarios through their link included) with its modification time."""
    out = []
    for root, _dirs, files in os.walk(config_dir, followlinks=True):
        for name in files:
            path = os.path.join(root, name)
            out.append((path, os.stat(path).st_mtime_ns))
    return tuple(sorted(out))


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
