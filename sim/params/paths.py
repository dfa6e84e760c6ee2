"""Where the shipped inputs live: the Hydra config tree and the named scenarios beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "configs"
SCENARIO_DIR = ROOT / "scenarios"
RANGES_DIR = CONFIG_DIR / "ranges"
SIZES = CONFIG_DIR / "decide" / "sizes.yaml"
CALIBRATION_DESIGN = CONFIG_DIR / "calibrate" / "design.yaml"  # pathways-calibrate's design sizes
