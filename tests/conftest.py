"""Shared test helpers: parameters from the real config tree, and the CLI as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from sim.cli import CONFIG_DIR
from sim.config import Params, load

BIN = Path(sys.executable).parent


def make_params(*overrides: str) -> Params:
    """Validated parameters of the shipped config tree with Hydra overrides applied."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose("config", overrides=list(overrides))
    return load(cfg)


def run_cli(*args: str, tool: str = "pathways", cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a console script of this package; returns the completed process (text output)."""
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def quick() -> tuple[str, ...]:
    """Overrides for a short, quiet run."""
    return ("experiment=quick", "experiment.progress=false")
