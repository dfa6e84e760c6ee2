"""Faults and hostile input on the command line: files a spreadsheet cannot run, one-line refusals with the
right exit code (2: bad input, 1: the environment), folders that look complete only when they are."""

from __future__ import annotations

import csv
import errno
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from conftest import BIN, run_cli
from openpyxl import load_workbook

from sim.experiment.replications import FORMULA_START, as_text, from_text
from sim.params.paths import CONFIG_DIR

FAULTS = Path(__file__).parent / "faults"  # a sitecustomize that makes chosen paths fail to write
BASE = ("experiment=quick", "experiment.progress=false")
QUICK = (*BASE, "experiment.replications=1")
FORMULA = '=HYPERLINK("http://evil.example/","click")'


def one_line(r: subprocess.CompletedProcess, code: int) -> str:
    """The refusal: exit `code`, exactly one line on stderr, no traceback; returns the line."""
    assert r.returncode == code, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr + r.stdout, r.stderr
    return lines[0]


# ----------------------------------------------------------------------------- text a spreadsheet cannot run
@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", FORMULA])
@pytest.mark.unit
def test_formula_text_round_trips_as_text(text: str) -> None:
    assert as_text(text) == "'" + text and from_text(as_text(text)) == text
    assert as_text("childcare") == "childcare" and from_text("'quoted") == "'quoted"


@pytest.mark.system
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
    from sim.outputs.workbook import COMPARISON_COLUMNS

    mean = dict(COMPARISON_COLUMNS)["mean"]  # comparison.csv's `mean` under its label
    means = [row[header.index(mean)].value for row in sheet.iter_rows(min_row=2)]
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
     "command-line override 'intervention.faster_checks.places=-1': intervention.faster_checks.places = -1: "
     "allowed: [0, 1000000]"),
    (("-m", "hydra/launcher=nonexistent"), "command-line override 'hydra/launcher=nonexistent': unknown launcher "
     "'nonexistent'; allowed: basic, joblib, local_parallel"),
    (("-m", "scenario=baseline,west_norfolk_local_plan", "intervention.outreach.label=Outreach"),
     "command-line override 'intervention.outreach.label=Outreach': a label names intervention outreach, it does "
     "not switch it on, and the option scenario=baseline does not run outreach"),
], ids=["places-huge", "places-negative", "launcher", "label-only"])
@pytest.mark.system
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], wanted: str) -> None:
    r = run_cli(*args, *QUICK, f"hydra.run.dir={tmp_path}/r", f"hydra.sweep.dir={tmp_path}/s")
    assert one_line(r, 2).startswith(f"pathways: error: {wanted}")
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


@pytest.mark.system
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
@pytest.mark.system
def test_decide_refuses_unbounded_work_at_once(tmp_path: Path, args: tuple[str, ...], wanted: str) -> None:
    r = run_cli(*args, "--out", str(tmp_path / "d"), "experiment=quick", tool="pathways-decide", timeout=60)
    assert one_line(r, 2) == f"pathways-decide: error: {wanted}"
    assert not (tmp_path / "d").exists()


# ----------------------------------------------------------------------------- a folder that looks complete is complete
OPTIONS = "scenario=baseline,west_norfolk_local_plan,skills_plan_entry_retention"
SWEEP = ("-m", *QUICK, OPTIONS)


def _pathways(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "pathways"), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and not path.exists() and proc.poll() is None:
        time.sleep(0.02)
    assert path.exists(), proc.stderr.read() if proc.poll() is not None else f"{path} never appeared"


@pytest.mark.system
def test_a_sweep_killed_after_its_first_job_is_unfinished_until_resumed(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    proc = _pathways(*SWEEP, f"hydra.sweep.dir={sweep}")
    _wait_for(sweep / "0-baseline" / "DONE", proc)
    proc.kill()
    proc.wait()
    r = run_cli(str(sweep), tool="pathways-report")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 of 3 jobs complete, unfinished" in r.stdout
    assert sum(ln.startswith("UNFINISHED") for ln in r.stderr.splitlines()) == 2, r.stderr
    r = run_cli(*SWEEP, f"hydra.sweep.dir={sweep}")  # the same command resumes and completes it
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("already complete, not rerun") == 1 and "3 of 3 jobs complete;" in r.stdout


@pytest.mark.system
def test_other_options_or_another_config_into_a_folder_are_refused(tmp_path: Path) -> None:
    """A complete folder keeps what it holds: other options, or the same options after a config file changed,
    are refused naming the difference, and the folder's results are untouched."""
    name = f"_test_fault_{uuid.uuid4().hex[:8]}"
    scenario = CONFIG_DIR / "scenario" / f"{name}.yaml"
    sweep = tmp_path / "s"
    try:
        scenario.write_text(f"# @package _global_\nscenario_name: {name}\nexperiment:\n  seed: 11\n")
        args = ("-m", *QUICK, f"scenario=baseline,{name}", f"hydra.sweep.dir={sweep}")
        assert run_cli(*args).returncode == 0
        kept = {p: p.read_bytes() for p in sweep.rglob("kpis.csv")}
        msg = one_line(run_cli("-m", *QUICK, "scenario=baseline,west_norfolk_local_plan",
                               f"hydra.sweep.dir={sweep}"), 2)
        assert f"{sweep}: holds 2 options and this command asks for 2: in the folder only: scenario={name}; " \
               "asked only now: scenario=west_norfolk_local_plan" in msg, msg
        scenario.write_text(f"# @package _global_\nscenario_name: {name}\nexperiment:\n  seed: 12\n")
        changed = "ran with another config: experiment.seed = 11 in the folder, 12 now"
        msg = one_line(run_cli(*args), 2)
        assert f"{sweep}: job 1 (" in msg and changed in msg, msg
        (sweep / "manifest.json").unlink()  # a folder from before manifests: its jobs' own config.yaml tell
        msg = one_line(run_cli(*args), 2)
        assert f"{sweep}: job 1 (" in msg and changed in msg, msg
        msg = one_line(run_cli(*QUICK, f"hydra.run.dir={sweep}"), 2)
        assert "holds a sweep, this command is a run" in msg
    finally:
        scenario.unlink(missing_ok=True)
    assert {p: p.read_bytes() for p in sweep.rglob("kpis.csv")} == kept


@pytest.mark.system
def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    slow = ("-m", *BASE, OPTIONS, f"hydra.sweep.dir={sweep}")  # quick's own replications: seconds a job
    proc = _pathways(*slow)
    _wait_for(sweep / "multirun.yaml", proc)
    msg = one_line(run_cli(*slow), 2)
    assert msg == (f"pathways: error: {sweep}: being written by process {proc.pid} (its lock: {sweep / '.lock'}); "
                   "allowed: wait for it to finish, or another folder")
    assert one_line(run_cli(str(sweep), tool="pathways-report"), 2).endswith(msg.split("error: ", 1)[1])
    proc.kill()
    proc.wait()
    assert (sweep / ".lock").read_text().strip() == str(proc.pid)  # left behind by the dead process: taken over
    r = run_cli(*slow)
    assert r.returncode == 0 and "3 of 3 jobs complete;" in r.stdout, r.stderr


# ----------------------------------------------------------------------------- the environment fails: one line, exit 1
def _faulty(fault: str, *args: str, tool: str = "pathways") -> subprocess.CompletedProcess:
    """The command on a disk that fails at paths matching a glob (tests/faults/sitecustomize.py)."""
    env = {**os.environ, "PYTHONPATH": str(FAULTS), "PATHWAYS_FAULT": fault}
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, env=env, timeout=300)


OUTPUTS_LOST = "the comparison, workbook and report were not written"


# The tests of `full_disk` share its sweep: in one xdist worker with a pytest-xdist that honours the group (3.8 does
# not with pytest 9: it sets `item._nodeid`, which pytest 9 no longer reads); in two, each runs the sweep once, as
# each test did before it was shared.
FULL_DISK = pytest.mark.xdist_group("full_disk")


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """A two-option sweep on a disk that is full when the workbook is written: the command's result and its folder,
    jobs done and no outputs (read only: a test that changes the folder works on a copy)."""
    sweep = tmp_path_factory.mktemp("full_disk") / "s"
    r = _faulty(f"{errno.ENOSPC}:*/.comparison.xlsx.tmp", *SWEEP[:-1], "scenario=baseline,west_norfolk_local_plan",
                f"hydra.sweep.dir={sweep}")
    return r, sweep


def _copy(folder: Path, tmp_path: Path) -> Path:
    shutil.copytree(folder, tmp_path / folder.name)
    return tmp_path / folder.name


@FULL_DISK
@pytest.mark.system
def test_a_full_disk_while_the_report_is_written_exits_1_leaving_no_report(
        full_disk: tuple[subprocess.CompletedProcess, Path], tmp_path: Path) -> None:
    r, sweep = full_disk
    msg = one_line(r, 1)
    assert msg.startswith(f"pathways: error: {sweep}: {OUTPUTS_LOST} ({sweep / '.comparison.xlsx.tmp'}: "
                          "No space left on device)"), msg
    assert (sweep / "1-west-norfolk-local-plan" / "DONE").exists()  # the jobs are kept ...
    outputs = ("comparison", "report", ".comparison", ".report")
    assert not [p.name for p in sweep.iterdir() if p.name.startswith(outputs)]
    sweep = _copy(sweep, tmp_path)
    r = _faulty(f"{errno.ENOSPC}:*/.report.html.tmp", str(sweep), tool="pathways-report")
    assert one_line(r, 1).startswith(f"pathways-report: error: {sweep}: {OUTPUTS_LOST}")
    assert not (sweep / "report.html").exists() and not (sweep / "comparison.csv").exists()
    r = run_cli(str(sweep), tool="pathways-report")  # ... and the report is written once there is room
    assert r.returncode == 0 and (sweep / "report.html").exists(), r.stderr


@pytest.mark.system
def test_a_full_disk_under_a_single_runs_report_exits_1(tmp_path: Path) -> None:
    run = tmp_path / "r"
    msg = one_line(_faulty(f"{errno.ENOSPC}:*/.report.html.tmp", *QUICK, f"hydra.run.dir={run}"), 1)
    assert msg.startswith(f"pathways: error: {run}: {OUTPUTS_LOST}") and not (run / "report.html").exists()


@pytest.mark.parametrize(("code", "where", "words"), [
    (errno.EROFS, "", "Read-only file system"),  # the results folder itself cannot be made
    (errno.EROFS, "/.lock", "Read-only file system"),  # it exists, but nothing can be written in it
    (errno.ENOSPC, "/.hydra", "No space left on device"),  # Hydra's own first write
], ids=["read-only-parent", "read-only-folder", "hydra-enospc"])
@pytest.mark.system
def test_an_unwritable_results_folder_is_one_line_and_exit_1(tmp_path: Path, code: int, where: str, words: str) -> None:
    run = tmp_path / "r"
    if where:
        run.mkdir()
    msg = one_line(_faulty(f"{code}:{run}{where}*", *QUICK, f"hydra.run.dir={run}"), 1)
    assert msg == f"pathways: error: {run}{where}: {words}; nothing was written there that looks complete", msg
    assert not list(tmp_path.rglob("DONE"))


@FULL_DISK
@pytest.mark.system
def test_a_truncated_kpis_file_is_named_not_a_traceback(full_disk: tuple[subprocess.CompletedProcess, Path],
                                                        tmp_path: Path) -> None:
    sweep = _copy(full_disk[1], tmp_path)  # both jobs done (the disk filled only after them)
    assert all((sweep / job / "DONE").exists() for job in ("0-baseline", "1-west-norfolk-local-plan"))
    kpis = sweep / "0-baseline" / "kpis.csv"
    data = kpis.read_bytes()
    cut = len(data) // 2 - (data[len(data) // 2 - 1] == ord("\n"))  # within a line: a cut on a line's end
    kpis.write_bytes(data[:cut])  # leaves a shorter file the reader cannot tell from a whole one
    r = run_cli(str(sweep), tool="pathways-report")
    assert one_line(r, 1).startswith(f"FAILED 0-baseline (baseline): {kpis} cannot be read (")
    assert "1 of 2 jobs complete, unfinished" in r.stdout
