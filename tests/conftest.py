"""Shared test helpers: parameters from the real config tree, the CLI as a subprocess, headless Chromium,
and one real local Ray cluster per test session; and the check that every test has exactly one tier.

Tiers (markers registered in pyproject.toml, `--strict-markers`); `make test-fast` runs unit and model:
  unit         pure functions and small objects, no simulation beyond a few milliseconds
  model        the simulation run in-process, short (one or a few replications of a short horizon)
  statistical  many replications, runs or draws: statistical bounds, calibration, effects averaged over
               replications, property-based searches that run the model for many random configurations
  system       console scripts as subprocesses, the browser (Chromium/Selenium), the Ray cluster, the web app server
A whole file of one tier says so with a module-level `pytestmark`; a file that mixes marks each test.

A test that needs an optional extra (selenium, ray, fastapi and uvicorn, submitit) skips, naming the extra, when
its Python package is missing; a missing browser binary still fails the test (see `chromium`).
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from sim.params.compose import compose_config
from sim.params.config import load
from sim.params.plan import Params

if TYPE_CHECKING:
    from selenium import webdriver

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Ray on Linux replaces 127.0.0.1 with the host's routable address unless told it is not a cluster
# of several machines; keep every Ray socket on loopback.
RAY_ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
RAY = pytest.mark.xdist_group("ray")  # every test on the Ray cluster runs in one worker (pyproject: --dist loadgroup)
TIERS = ("unit", "model", "statistical", "system")


def pytest_configure(config: pytest.Config) -> None:
    """One BLAS thread in each test process, as the commands have (`sim.experiment.parallel.one_blas_thread`):
    two xdist workers each running two BLAS threads on small matrices is what made a busy machine slow."""
    from sim.experiment.parallel import one_blas_thread

    one_blas_thread()


UNTIERED = pytest.StashKey[list[str]]()  # collected tests without exactly one tier, with the tiers they have


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: `make test-fast` checks every test too
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every collected test has exactly one tier marker, or the session stops naming the ones that do not.

    An xdist worker cannot stop the session cleanly from here, so it keeps the list for
    tests/test_tiers.py, which fails naming them (that test is unit tier: in `make test` and `make test-fast`).
    """
    bad = []
    for item in items:
        tiers = [m.name for m in item.iter_markers() if m.name in TIERS]
        if len(tiers) != 1:
            bad.append(f"{item.nodeid}: {', '.join(tiers) or 'no tier'}")
    config.stash[UNTIERED] = bad
    if bad and not hasattr(config, "workerinput"):
        raise pytest.UsageError(untiered_message(bad))


def untiered_message(bad: list[str]) -> str:
    return (f"each test needs exactly one tier marker of {', '.join(TIERS)} (tests/conftest.py):\n  "
            + "\n  ".join(bad))


def extra(module: str, name: str) -> ModuleType:
    """`module` of the optional extra `name`, or skip the test saying what to install."""
    return pytest.importorskip(module, reason=f"needs the '{name}' extra: pip install -e '.[{name}]'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A real local Ray cluster (2 CPUs, no dashboard, on 127.0.0.1), started once and stopped at the end.

    `ray stop --force` stops every Ray process on the machine, so the tests that use the cluster
    are marked RAY: one xdist worker runs them all and no second cluster is ever started.
    """
    extra("ray", "cluster")
    port = free_port()
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    start = subprocess.run(
        [str(BIN / "ray"), "start", "--head", "--num-cpus=2", "--include-dashboard=false",
         "--node-ip-address=127.0.0.1", f"--port={port}", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=RAY_ENV, capture_output=True, text=True, timeout=180)
    assert start.returncode == 0, start.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=RAY_ENV, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


_PARAMS: dict[tuple[str, ...], Params] = {}  # composed and validated once per process: about half a second each


def make_params(*overrides: str) -> Params:
    """Validated parameters of the shipped config tree with Hydra overrides applied (a fresh copy on every call)."""
    if overrides not in _PARAMS:
        _PARAMS[overrides] = load(compose_config(overrides))
    return copy.deepcopy(_PARAMS[overrides])


def run_cli(*args: str, tool: str = "pathways", cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a console script of this package; returns the completed process (text output)."""
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture
def quick() -> tuple[str, ...]:
    """Overrides for a short, quiet run."""
    return ("experiment=quick", "experiment.progress=false")


@contextmanager
def chromium(profile: Path, width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    """Headless Chromium driven by chromedriver, with a fresh profile and no background network.

    Called inside the test, not as a fixture, so that a missing browser fails the test (only a missing
    selenium, a Python package of the test extra, skips it).
    """
    extra("selenium", "test")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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


def screenshot(browser: webdriver.Chrome, path: Path) -> None:
    """The whole page (beyond the window) as a PNG at `path`; asserts it holds a picture, not a blank."""
    import base64

    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    png = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.write_bytes(base64.b64decode(png["data"]))
    assert path.stat().st_size > 10_000
