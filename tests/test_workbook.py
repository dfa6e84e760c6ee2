"""comparison.xlsx: every sweep folder gets one, and its numbers are comparison.csv's."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest
from conftest import run_cli
from markupsafe import escape
from openpyxl import load_workbook

from sim.outputs.estimates import HEADLINE_COLUMNS

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("workbook") / "sweep"
    r = run_cli("-m", "experiment=quick", "experiment.replications=2", "experiment.progress=false",
                "intervention=[],[childcare,gp_advisers]", f"hydra.sweep.dir={folder}")
    assert r.returncode == 0, r.stderr
    return folder


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _same(cell: object, text: str) -> bool:
    if cell is None:
        return text in ("", "nan") or math.isnan(float(text))
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return math.isclose(float(cell), float(text), rel_tol=1e-12, abs_tol=1e-12)
    return str(cell) == text


def test_workbook_sheets_and_comparison_sheet_equal_the_csv(sweep: Path) -> None:
    from sim.outputs.workbook import COMPARISON_COLUMNS

    wb = load_workbook(sweep / "comparison.xlsx")
    assert wb.sheetnames == ["Headline", "Comparison", "Funnel", "Spend", "Assumptions"]
    rows = _csv(sweep / "comparison.csv")
    sheet = list(wb["Comparison"].iter_rows(values_only=True))
    assert list(sheet[0]) == [h for _, h in COMPARISON_COLUMNS]
    assert len(sheet) - 1 == len(rows)
    fields = [f for f, _ in COMPARISON_COLUMNS]
    for cells, row in zip(sheet[1:], rows):
        assert all(_same(cells[fields.index(f)], t) for f, t in row.items()), (cells, row)
        assert "_" not in cells[1] and not re.match(r"[a-z_]+:", cells[2]), cells  # the measure and group in words
    assert wb["Headline"].freeze_panes == "B2" and wb["Comparison"].auto_filter.ref


def test_headline_sheet_numbers_are_the_csv_numbers(sweep: Path) -> None:
    ws = load_workbook(sweep / "comparison.xlsx")["Headline"]
    header = [c.value for c in ws[1]]
    rows = {(r["option"], r["kpi"], r["group"]): r for r in _csv(sweep / "comparison.csv")}
    options = [r[0] for r in ws.iter_rows(min_row=2, values_only=True) if r[0] and r[1]]
    assert options == ["no interventions (reference)", "childcare + gp advisers"]
    for line in ws.iter_rows(min_row=3, max_row=3, values_only=True):
        for col in HEADLINE_COLUMNS:
            assert isinstance(line[header.index(col.label)], str)  # the readable cell: '£7,278 (£7,121 to £7,436)'
            value = line[header.index(f"{col.label}: estimate")]
            r = rows[("childcare + gp advisers", col.kpi, "all")]
            expected = float(r["diff_mean"] if col.show == "diff" else r["mean"])
            if col.show == "ratio" and not math.isfinite(expected):
                assert isinstance(value, str), col.label  # why there is no number (not bounded, n/a, ...)
                continue
            assert math.isclose(value, expected, rel_tol=1e-12), col.label
            assert ws.cell(3, header.index(f"{col.label}: estimate") + 1).number_format != "General"


def test_funnel_and_spend_sheets_match_the_jobs_files(sweep: Path) -> None:
    """Funnel: mean people entering engagement, counted from funnel.csv here; spend per year from the CSV."""
    wb = load_workbook(sweep / "comparison.xlsx")
    funnel = list(wb["Funnel"].iter_rows(values_only=True))
    jobs = sorted((d for d in sweep.iterdir() if d.is_dir()), key=lambda d: d.name)
    for k, job in enumerate(jobs):
        entered = [float(r["value"]) for r in _csv(job / "funnel.csv")
                   if r["stage"] == "engagement" and r["measure"] == "entered" and r["reason"] == ""]
        row = next(r for r in funnel if r[1] == "entered" and r[0].startswith("Engagement"))
        assert math.isclose(row[2 + k], sum(entered) / len(entered)), job.name
    spend = {r[0]: r[1] for r in wb["Spend"].iter_rows(min_row=2, values_only=True)}
    for r in _csv(sweep / "comparison.csv"):
        if r["kpi"] == "programme_cost_per_year" and r["group"] == "all":
            assert math.isclose(spend[r["option"]], float(r["mean"]), rel_tol=1e-12)
    assumptions = list(wb["Assumptions"].iter_rows(values_only=True))
    places = [row for row in assumptions if row[0] == "intervention.childcare.places"]
    assert places and places[0][3] == "yes" and isinstance(places[0][1], (int, float))  # a number, not text


@pytest.fixture(scope="module")
def ratios(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Four options against the first: the same model at GBP 100 more per Jobcentre referral (identical effects:
    not bounded, whatever the seeds), and a programme with and without that cost (a clear gain in jobs)."""
    folder = tmp_path_factory.mktemp("ratios") / "sweep"
    r = run_cli("-m", "experiment=quick", "experiment.replications=3", "experiment.progress=false",
                "intervention=[],[outreach,employment_advisers,training_places]",
                "region.channels.jobcentre.cost_per_referral=0,100", "experiment.reference=0",
                f"hydra.sweep.dir={folder}")
    assert r.returncode == 0, r.stderr
    return folder, r.stdout


def test_cost_ratios_read_the_same_in_the_csv_console_workbook_and_report(ratios: tuple[Path, str]) -> None:
    """Each cost per unit of effect: comparison.csv's Fieller interval is what the console prints, the workbook's
    Headline sheet holds and the report shows; where the CSV says not bounded (-inf, inf) so do the others."""
    from sim.outputs.estimates import NOT_BOUNDED
    from sim.outputs.formatting import estimate
    from sim.params.kpis import KPI

    folder, console = ratios
    rows = {(r["option"], r["kpi"]): r for r in _csv(folder / "comparison.csv") if r["group"] == "all"}
    ws = load_workbook(folder / "comparison.xlsx")["Headline"]
    header = [c.value for c in ws[1]]
    sheet = {str(line[0]).removesuffix(" (reference)"): line for line in ws.iter_rows(min_row=2, values_only=True)
             if line[0] and line[1] is not None}
    report = (folder / "report.html").read_text()
    lines = {line.split(":", 1)[0]: line for line in console.splitlines()}
    seen = set()
    for col in HEADLINE_COLUMNS:
        if col.show != "ratio":
            continue
        for option, cells in sheet.items():
            r = rows[(option, col.kpi)]
            if r["option"] == r["reference"]:
                continue
            value, low, high = (cells[header.index(f"{col.label}: estimate") + k] for k in range(3))
            mean, ci_low, ci_high = float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])
            if (ci_low, ci_high) == (-math.inf, math.inf):
                seen.add("not bounded")
                assert math.isnan(mean)
                assert value == NOT_BOUNDED and low is None and high is None
                shown = NOT_BOUNDED
            else:
                seen.add("bounded")
                assert ci_low <= mean <= ci_high and ci_high - ci_low > 0
                assert (value, low, high) == pytest.approx((mean, ci_low, ci_high), rel=1e-12)  # Excel keeps 15 digits
                # the value and its bounds with the decimals and the unit (k, m) their interval needs, computed here
                written = estimate(mean, ci_low, ci_high, KPI[col.kpi].unit)
                assert written.value in report and written.interval in report
                shown = str(written)
                assert cells[header.index(col.label)] == shown
            assert f"{KPI[col.kpi].label} {shown}" in lines[option], (option, col.kpi)
    assert seen == {"bounded", "not bounded"}
    assert str(escape(NOT_BOUNDED)) in report
    comparison = load_workbook(folder / "comparison.xlsx")["Comparison"]
    assert ("-inf", "inf") in {(line[4], line[5]) for line in comparison.iter_rows(min_row=2, values_only=True)}
