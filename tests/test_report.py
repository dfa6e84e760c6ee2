"""The HTML report: built from a real sweep, opened in headless Chromium, self-contained, rebuilt for partial sweeps.

The browser test needs Debian's `chromium` and `chromium-driver` (`make test` installs them);
a missing browser fails the test rather than skipping it.
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import chromium, run_cli, screenshot

from sim.analysis.compare import find_jobs
from sim.outputs.sections import SECTIONS
from sim.params.provenance import provenance_rows, used_parameters

OPTIONS = "intervention=[],[childcare,gp_advisers],[outreach,mentoring]"
OVERRIDE = "pathway.recruitment.interview_slots=45"  # the file says 40: the report must show 45, flagged


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small three-option sweep, with its comparison.csv and report.html written by the sweep's end callback."""
    folder = tmp_path_factory.mktemp("report") / "sweep"
    r = run_cli("-m", "experiment=quick", "experiment.replications=3", "experiment.progress=false", OVERRIDE,
                "experiment.supply_replications=1", OPTIONS, f"hydra.sweep.dir={folder}")
    assert r.returncode == 0, r.stderr
    assert (folder / "report.html").exists()
    return folder


@pytest.mark.system
def test_report_renders_in_browser(sweep: Path, tmp_path: Path) -> None:
    """No console errors, every image loaded, every option in the headline table, every section present."""
    with chromium(tmp_path / "profile") as browser:
        from selenium.webdriver.common.by import By

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

        screenshot(browser, tmp_path / "report.png")


@pytest.mark.system
def test_report_is_self_contained(sweep: Path) -> None:
    """Nothing is fetched from the network: no http(s) references, images inline."""
    text = (sweep / "report.html").read_text()
    assert not re.search(r"https?://", text)
    assert 'src="data:image/png;base64,' in text
    assert not re.search(r'src="(?!data:)', text)


@pytest.mark.system
def test_report_overrides_shown_in_assumptions(sweep: Path) -> None:
    """The parameter table shows the value the run used, and flags command-line overrides."""
    text = (sweep / "report.html").read_text().replace("<wbr>", "")
    row = re.search(r"<code>pathway\.recruitment\.interview_slots</code>.*?</tr>", text, re.S)
    assert row, "pathway.recruitment.interview_slots missing from the assumptions"
    assert '<span class="value">45</span>' in row.group(0)
    assert f"overridden on the command line ({OVERRIDE})" in row.group(0)
    assert "assumption" in row.group(0)  # the file's comment still says where 40 came from


@pytest.mark.system
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


@pytest.mark.unit
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


# ----------------------------------------------------------------------------- reading on a laptop
OVERFLOW_JS = """
const W = document.documentElement.clientWidth, out = [];
if (document.documentElement.scrollWidth > W) out.push('page ' + document.documentElement.scrollWidth + ' > ' + W);
for (const el of document.querySelectorAll('body *')) {
  if (el.closest('.table-wrap') && !el.classList.contains('table-wrap')) continue;  // scrolls in its own box
  const r = el.getBoundingClientRect();
  if (r.width && r.right > W + 1) out.push(el.tagName + '.' + el.className + ' right ' + r.right);
}
for (const w of document.querySelectorAll(arguments[0])) {
  if (w.scrollWidth > w.clientWidth + 1)
    out.push('table in #' + w.closest('section').id + ' scrolls: ' + w.scrollWidth + ' > ' + w.clientWidth);
}
return out;
"""


@pytest.mark.system
def test_report_gives_the_staffing_effect_at_each_end_of_the_supply_range(sweep: Path) -> None:
    """Each job ran paired replications at both ends of the elasticity's range as the ranges file writes it
    (0.2 and 0.8), each end applied (the runs differ; how they differ is `test_labour_supply_decides_displacement`),
    and the report gives each option's extra staff at both ends with their intervals."""
    import csv

    jobs = sorted((d for d in sweep.iterdir() if d.is_dir() and (d / "supply.csv").exists()), key=lambda d: d.name)
    assert len(jobs) == 3
    staff = {}
    for job in jobs:
        with (job / "supply.csv").open() as f:
            rows = [r for r in csv.DictReader(f) if r["kpi"] == "staff_in_post_mean"]
        assert sorted(float(r["elasticity"]) for r in rows) == [0.2, 0.8]
        staff[job.name.split("-")[0]] = {float(r["elasticity"]): float(r["value"]) for r in rows}
    assert all(s[0.2] != s[0.8] for s in staff.values()), staff
    text = re.sub(r"<[^>]+>|\s+", " ", (sweep / "report.html").read_text())
    assert "its range is 0.2 to 0.8" in text
    number = r"[+\u2212]?[\d.]+(?: \([^)]+ to [^)]+\))?"  # a signed effect, and its interval if it has one
    assert re.search(rf"outreach[^;]{{0,80}}?{number} at 0\.2 and {number} at 0\.8", text), text[:0]
    assert "1 paired replications at each end" in text


@pytest.fixture(scope="module")
def six_options(sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sweep's three jobs, each twice with a different size: six options with long names, report written."""
    from sim.outputs.report import write_report

    folder = tmp_path_factory.mktemp("six") / "sweep"
    folder.mkdir()
    shutil.copy(sweep / "multirun.yaml", folder)
    jobs = sorted((d for d in sweep.iterdir() if d.is_dir()), key=lambda d: int(d.name.split("-")[0]))
    for k, (job, places) in enumerate((j, p) for p in (2, 6) for j in jobs):
        copy = folder / f"{k}-copy"
        shutil.copytree(job, copy)
        ov = copy / ".hydra" / "overrides.yaml"
        ov.write_text(ov.read_text() + f"- intervention.outreach.places_per_long_named_worker={places}\n")
        config = yaml.safe_load((copy / "config.yaml").read_text())
        config["experiment"]["reference"] = "0"  # two copies of the baseline: job 0 is the reference
        (copy / "config.yaml").write_text(yaml.safe_dump(config))
    write_report(folder)
    assert len({j.label for j in find_jobs(folder)}) == 6
    return folder


@pytest.mark.parametrize("width", [900, 1400])
@pytest.mark.system
def test_report_reads_at_laptop_widths(six_options: Path, tmp_path: Path, width: int) -> None:
    """Nothing overflows the page; at 1,400 px no table needs to scroll, at 900 px the headline, effects,
    cost and spend tables fit (the funnel and equity tables may scroll inside their own box)."""
    fit = ".table-wrap" if width == 1400 else ", ".join(
        f"#{s} .table-wrap" for s in ("headline", "effects", "cost-effect", "spend", "bottlenecks"))
    with chromium(tmp_path / "profile", width=width) as browser:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        browser.get((six_options / "report.html").resolve().as_uri())
        problems = browser.execute_script(OVERFLOW_JS, fit)
        size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        png = browser.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    (tmp_path / f"report-{width}.png").write_bytes(base64.b64decode(png["data"]))
    assert size["width"] <= width
    assert not problems, problems


@pytest.mark.system
def test_option_styles_stay_apart_in_greyscale(six_options: Path) -> None:
    """Each option has its own line style, marker and hatch besides its colour; the reference is solid grey."""
    from sim.outputs.folder import report_data

    options = report_data(six_options).options
    styles = [(str(o.linestyle), o.marker, o.hatch) for o in options]
    assert len(set(styles)) == len(options) == 6
    ref = [o for o in options if o.is_reference]
    assert len(ref) == 1 and ref[0].linestyle == "-" and ref[0].hatch == ""
    assert len({o.colour for o in options}) == 6


@pytest.mark.system
def test_report_shows_yearly_spend(sweep: Path) -> None:
    """The spend section has a chart and a table whose yearly spend is comparison.csv's programme_cost_per_year."""
    import csv

    from sim.outputs.formatting import estimate

    text = (sweep / "report.html").read_text()
    section = re.search(r'<section id="spend">(.*?)</section>', text, re.S).group(1)
    assert "<img" in section and "<table" in section
    with (sweep / "comparison.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["kpi"] == "programme_cost_per_year" and r["group"] == "all"]
    assert len(rows) == 3
    for r in rows:
        mean, low, high = float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])
        assert estimate(mean, max(low, 0.0), high, "gbpk").value in section, r["option"]
