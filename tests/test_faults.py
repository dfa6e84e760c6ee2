"""Faults and hostile input on the command line: files a spreadsheet cannot run, one-line refusals with the
right exit code (2: bad input, 1: the environment), folders that look complete only when they are."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import run_cli
from sim.experiment import FORMULA_START, as_text, from_text

QUICK = ("experiment=quick", "experiment.progress=false", "experiment.replications=1")
FORMULA = '=HYPERLINK("http://evil.example/","click")'


def one_line(r: subprocess.CompletedProcess, code: int) -> str:
    """The refusal: exit `code`, exactly one line on stderr, no traceback; returns the line."""
    assert r.returncode == code, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr + r.stdout, r.stderr
    return lines[0]


# ----------------------------------------------------------------------------- text a spreadsheet cannot run
@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", FORMULA])
def test_formula_text_round_trips_as_text(text: str) -> None:
    assert as_text(text) == "'" + text and from_text(as_text(text)) == text
    assert as_text("childcare") == "childcare" and from_text("'quoted") == "'quoted"


def test_formula_labels_are_text_in_the_workbook_and_the_csvs(tmp_path: Path) -> None:
    """A scenario name and a label that a spreadsheet would run are written as text; numbers stay numbers."""
    run = tmp_path / "r"
    r = run_cli(*QUICK, "scenario_name='=1+2'", "intervention=[childcare]",
                f"intervention.childcare.label='{FORMULA}'", f"hydra.run.dir={run}")
    assert r.returncode == 0, r.stderr
    r = run_cli(str(run), tool="pathways-report")
    assert r.returncode == 0, r.stderr
    for name in ("kpis.csv", "summary.csv", "comparison.csv"):
        with (run / name).open() as f:
            rows = list(csv.reader(f))
        cells = [c for row in rows[1:] for c in row]
        assert "'=1+2" in cells and not any(c.startswith(FORMULA_START) and not _number(c) for c in cells), name
    wb = load_workbook(run / "comparison.xlsx")
    texts = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    risky = [c for c in texts if c.value.startswith(FORMULA_START)]
    assert {c.value for c in risky} >= {"=1+2", FORMULA}
    assert all(c.data_type == "s" and c.quotePrefix for c in risky), [(c.coordinate, c.data_type) for c in risky]
    sheet = wb["Comparison"]
    header = [c.value for c in sheet[1]]
    means = [row[header.index("mean")].value for row in sheet.iter_rows(min_row=2)]
    assert means and all(v is None or isinstance(v, (int, float)) for v in means)  # numbers stay numbers


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------- one line, the right exit code
@pytest.mark.parametrize(("args", "wanted"), [
    (("intervention.childcare.places=1e308",),
     "command-line override 'intervention.childcare.places=1e308': intervention.childcare.places = 1e+308: "
     "allowed: [0, 1000000]"),
    (("intervention.faster_checks.places=-1",),
     "command-line override 'intervention.faster_checks.places=-1': intervention.faster_checks.places = -1.0: "
     "allowed: [0, 1000000]"),
    (("-m", "hydra/launcher=nonexistent"), "command-line override 'hydra/launcher=nonexistent': unknown launcher "
     "'nonexistent'; allowed: basic, joblib, local_parallel"),
    (("-m", "scenario=baseline,west_norfolk_local_plan", "intervention.outreach.label=Outreach"),
     "command-line override 'intervention.outreach.label=Outreach': a label names intervention outreach, it does "
     "not switch it on, and the option scenario=baseline does not run outreach"),
], ids=["places-huge", "places-negative", "launcher", "label-only"])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], wanted: str) -> None:
    r = run_cli(*args, *QUICK, f"hydra.run.dir={tmp_path}/r", f"hydra.sweep.dir={tmp_path}/s")
    assert one_line(r, 2).startswith(f"pathways: error: {wanted}")
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


def test_a_label_of_an_intervention_every_option_runs_changes_only_the_label(tmp_path: Path) -> None:
    """The label reaches the config; the option runs exactly what it ran without it."""
    plain, labelled = tmp_path / "plain", tmp_path / "labelled"
    assert run_cli(*QUICK, "scenario=west_norfolk_local_plan", f"hydra.run.dir={plain}").returncode == 0
    r = run_cli(*QUICK, "scenario=west_norfolk_local_plan", "intervention.outreach.label=Ward outreach",
                f"hydra.run.dir={labelled}")
    assert r.returncode == 0, r.stderr
    assert "switching on" not in r.stderr
    assert "label: Ward outreach" in (labelled / "config.yaml").read_text()
    assert (plain / "kpis.csv").read_bytes() == (labelled / "kpis.csv").read_bytes()


@pytest.mark.parametrize(("args", "wanted"), [
    (("optimise", "--budget", "inf"), "--budget = inf: allowed: a finite number of GBP > 0"),
    (("optimise", "--budget", "1e6", "--budgets", "nan"), "--budgets = nan: allowed: a finite number of GBP > 0"),
    (("psa", "--samples", "100000"), "--samples = 100000: allowed: an integer in [2, 10,000]"),
])
def test_decide_refuses_unbounded_work_at_once(tmp_path: Path, args: tuple[str, ...], wanted: str) -> None:
    r = run_cli(*args, "--out", str(tmp_path / "d"), "experiment=quick", tool="pathways-decide", timeout=60)
    assert one_line(r, 2) == f"pathways-decide: error: {wanted}"
    assert not (tmp_path / "d").exists()
