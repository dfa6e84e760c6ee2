"""The HTML report: built from a real sweep, opened in headless Chromium, self-contained, rebuilt for partial sweeps.

The browser test needs Debian's `chromium` and `chromium-driver` (`make test` installs them);
a missing browser fails the test rather than skipping it.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from conftest import run_cli
from sim.compare import find_jobs
from sim.provenance import provenance_rows, used_parameters
from sim.report import SECTIONS

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OPTIONS = "intervention=[],[childcare,gp_advisers],[outreach,mentoring]"
OVERRIDE = "pathway.recruitment.interview_slots=45"  # the file says 40: the report must show 45, flagged


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small three-option sweep, with its comparison.csv and report.html written by the sweep's end callback."""
    folder = tmp_path_factory.mktemp("report") / "sweep"
    r = run_cli("-m", "experiment=quick", "experiment.replications=3", "experiment.progress=false", OVERRIDE,
                OPTIONS, f"hydra.sweep.dir={folder}")
    assert r.returncode == 0, r.stderr
    assert (folder / "report.html").exists()
    return folder


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium driven by chromedriver, with a fresh profile and no background network.

    Called inside the test, not as a fixture, so that a missing browser fails the test.
    """
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "headless Chromium is required: apt-get install -y chromium chromium-driver (make test does it)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,900", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def test_report_renders_in_browser(sweep: Path, tmp_path: Path) -> None:
    """No console errors, every image loaded, every option in the headline table, every section present."""
    with chromium(tmp_path / "profile") as browser:
        browser.get((sweep / "report.html").resolve().as_uri())
        assert browser.execute_script("return document.readyState") == "complete"
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe

        images = browser.find_elements(By.TAG_NAME, "img")
        assert len(images) >= 5
        for img in images:
            loaded = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
            assert loaded, img.get_attribute("alt")

        headline = browser.find_element(By.CSS_SELECTOR, "#headline table").text
        labels = [j.label for j in find_jobs(sweep)]
        assert len(labels) == 3
        for label in labels:
            assert label in headline, label
        assert "reference" in headline

        headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
        for title in (s.title for s in SECTIONS):
            assert title in headings, title
        assert "tightest constraint" in browser.find_element(By.ID, "bottlenecks").text
        assert "assumption" in browser.find_element(By.ID, "assumptions").text

        shot = tmp_path / "report.png"
        metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics["cssContentSize"]
        png = browser.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        shot.write_bytes(base64.b64decode(png["data"]))
        assert shot.stat().st_size > 10_000


def test_report_is_self_contained(sweep: Path) -> None:
    """Nothing is fetched from the network: no http(s) references, images inline."""
    text = (sweep / "report.html").read_text()
    assert not re.search(r"https?://", text)
    assert 'src="data:image/png;base64,' in text
    assert not re.search(r'src="(?!data:)', text)


def test_report_overrides_shown_in_assumptions(sweep: Path) -> None:
    """The parameter table shows the value the run used, and flags command-line overrides."""
    text = (sweep / "report.html").read_text().replace("<wbr>", "")
    row = re.search(r"<code>pathway\.recruitment\.interview_slots</code>.*?</tr>", text, re.S)
    assert row, "pathway.recruitment.interview_slots missing from the assumptions"
    assert '<span class="value">45</span>' in row.group(0)
    assert f"overridden on the command line ({OVERRIDE})" in row.group(0)
    assert "assumption" in row.group(0)  # the file's comment still says where 40 came from


def test_pathways_report_on_partial_sweep(sweep: Path, tmp_path: Path) -> None:
    """pathways-report on a sweep with an unfinished job: exit 1, the job named, both files rebuilt."""
    partial = tmp_path / "partial"
    shutil.copytree(sweep, partial)
    (partial / "comparison.csv").unlink()
    (partial / "report.html").unlink()
    unfinished = sorted(d for d in partial.iterdir() if d.is_dir())[1]
    (unfinished / "DONE").unlink()
    r = run_cli(str(partial), tool="pathways-report")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"UNFINISHED {unfinished.name}" in r.stderr
    assert (partial / "comparison.csv").exists()
    html = (partial / "report.html").read_text()
    assert "did not finish" in html and unfinished.name in html


def test_provenance_rows_paths_comments_and_overrides(tmp_path: Path) -> None:
    """Key paths from indentation (list items by index), inline and block comments, values the run used."""
    group = tmp_path / "pathway"
    group.mkdir()
    f = group / "demo.yaml"
    f.write_text(
        "# The file's header describes the file and is nobody's source.\n"
        "places: 5                 # assumption: a few places\n"
        "# Durations: published_id (Someone, 2024).\n"
        "courses:\n"
        "  care:\n"
        "    duration: {kind: fixed, mean: 42}\n"
        "    label: Care course\n"
        "changes:\n"
        "  - target: pathway.places\n"
        "    value: ${..places}      # derived: twice the places\n")
    rows = provenance_rows([f])
    by_key = {r.key: r for r in rows}
    assert list(by_key) == ["pathway.places", "pathway.courses.care.duration", "pathway.courses.care.label",
                            "pathway.changes.0.target", "pathway.changes.0.value"]
    assert by_key["pathway.places"].is_assumption and by_key["pathway.places"].comment == "assumption: a few places"
    assert by_key["pathway.courses.care.duration"].comment == "Durations: published_id (Someone, 2024)."
    assert by_key["pathway.courses.care.label"].comment == ""  # no inline comment, no block right above
    assert not by_key["pathway.changes.0.value"].is_assumption

    config = {"pathway": {"places": 8.0, "courses": {"care": {"duration": {"kind": "fixed", "mean": 42.0, "cv": 0.0},
                                                                "label": "Care course"}},
                          "changes": [{"target": "pathway.places", "value": 8.0}]}}
    used = {u.row.key: u for u in used_parameters(rows, config, ["pathway.places=8"], tmp_path)}
    assert used["pathway.places"].used == "8"
    assert used["pathway.places"].note == "overridden on the command line (pathway.places=8)"
    assert used["pathway.courses.care.duration"].used == "{kind: fixed, mean: 42}"  # the keys the file sets
    assert used["pathway.courses.care.duration"].note == ""
    assert used["pathway.changes.0.value"].note == ""  # an interpolation resolves to whatever it points at
