"""Shared test helpers: parameters from the real config tree, the CLI as a subprocess, headless Chromium."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from sim.cli import CONFIG_DIR
from sim.config import Params, load

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


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


@contextmanager
def chromium(profile: Path, width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    """Headless Chromium driven by chromedriver, with a fresh profile and no background network.

    Called inside the test, not as a fixture, so that a missing browser fails the test.
    """
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "headless Chromium is required: apt-get install -y chromium chromium-driver (make test does it)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
