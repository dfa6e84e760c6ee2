"""The command line that never surprises: names, folders, sizing, the size guard, Ctrl-C, help, pipes,
pathways-report."""

from __future__ import annotations

import csv
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BIN, make_params, run_cli

from sim.analysis.compare import FOLDER_CHARS, folder_name, option_label, readable
from sim.interfaces import cli
from sim.interfaces import preflight as pf
from sim.interfaces.errors import UsageError
from sim.model import simulate
from sim.outputs.console import summary_table

QUICK = ("experiment=quick", "experiment.progress=false")


def _options(folder: Path) -> list[str]:
    with (folder / "comparison.csv").open() as f:
        return list(dict.fromkeys(r["option"] for r in csv.DictReader(f)))


def _error(r: subprocess.CompletedProcess) -> str:
    """The one-line error, without the program's prefix; asserts there is exactly one line and no traceback."""
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


# ----------------------------------------------------------------------------- names and folders
@pytest.mark.unit
def test_readable_names() -> None:
    assert readable("intervention.childcare.places=20") == "childcare places 20"
    assert readable("intervention=[childcare,gp_advisers]") == "childcare + gp advisers"
    assert readable("intervention=[]") == "no interventions"
    assert readable("scenario=skills_plan_nursing_home_nurses") == "skills plan nursing home nurses"
    assert readable("region.channels.jobcentre.cost_per_referral=25") == "jobcentre cost per referral 25"
    assert readable("region=cumbria") == "region cumbria"
    overrides = ["experiment=quick", "intervention=[childcare]", "intervention.childcare.places=20"]
    assert option_label(overrides, {"intervention.childcare.places"}, "baseline") == "childcare places 20"
    assert option_label(overrides, None, "baseline") == "childcare, childcare places 20"  # a single run
    assert option_label(["experiment.replications=50"], None, "baseline") == "baseline"


@pytest.mark.unit
def test_folder_names_stay_short_whatever_the_overrides() -> None:
    label = ", ".join(readable(f"region.channels.channel_{k}.referrals_per_year={k * 1000}") for k in range(40))
    name = folder_name(12, label)
    assert name.startswith("12-channel-0-referrals-per-year-0") and len(name) <= len("12-") + FOLDER_CHARS
    assert folder_name(3, "childcare places 20") == "3-childcare-places-20"


@pytest.mark.system
def test_sizing_without_the_list_syntax(tmp_path: Path) -> None:
    """The README's headline sweep runs as written; options, folders and console use the same names. With the
    issue's five channel overrides beside it (they ran into 'File name too long'): short folders named by the
    swept option alone, and each job keeps the full list."""
    sweep = tmp_path / "s"
    channels = ("gp_advisers", "jobcentre", "online_academy", "outreach", "self_referral")
    typed = [f"region.channels.{c}.referrals_per_year=0" for c in channels]
    r = run_cli("-m", *QUICK, "experiment.replications=1", *typed, "intervention.childcare.places=0,20",
                "experiment.reference=0", f"hydra.sweep.dir={sweep}")
    assert r.returncode == 0, r.stderr
    for job in ("0-childcare-places-0", "1-childcare-places-20"):
        assert all(o in (sweep / job / ".hydra" / "overrides.yaml").read_text() for o in typed)
    assert "switching on intervention childcare" in r.stderr
    assert sorted(d.name for d in sweep.iterdir() if d.is_dir()) == ["0-childcare-places-0", "1-childcare-places-20"]
    assert _options(sweep) == ["childcare places 0", "childcare places 20"]
    assert "childcare places 20: mean and 95% confidence interval" in r.stdout
    assert "baseline:" not in r.stdout
    assert (sweep / "comparison.xlsx").exists()


@pytest.mark.system
def test_sizing_with_a_list_that_lacks_it_says_what_to_type() -> None:
    msg = _error(run_cli("-m", *QUICK, "intervention=[outreach]", "intervention.childcare.places=0,10"))
    assert msg.endswith("add it to the list: intervention=[outreach,childcare]"), msg
    assert "'intervention.childcare.places=0,10'" in msg


@pytest.mark.parametrize("override", ["intervention=[childcar]", "intervention.childcar.places=3"])
@pytest.mark.system
def test_unknown_intervention_lists_the_available_ones(override: str) -> None:
    msg = _error(run_cli(*QUICK, override))
    files = sorted(p.stem for p in (pf.CONFIG_DIR / "intervention").glob("*.yaml"))
    assert "unknown intervention 'childcar'" in msg and msg.endswith("allowed: " + ", ".join(files)), msg


@pytest.mark.unit
def test_copied_scenario_with_an_old_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "west_norfolk_local_plan.yaml").write_text("scenario_name: west_norfolk_local_plan\n")
    (tmp_path / "my_plan.yaml").write_text("# a copy\nscenario_name: west_norfolk_local_plan   # not changed\n")
    monkeypatch.setattr(pf, "SCENARIO_DIR", tmp_path)
    with pytest.raises(UsageError, match=r"my_plan.yaml: scenario_name = 'west_norfolk_local_plan': already "
                                             r"the name of .*west_norfolk_local_plan.yaml"):
        pf.check_scenario_name("my_plan", "west_norfolk_local_plan")
    pf.check_scenario_name("west_norfolk_local_plan", "west_norfolk_local_plan")  # the original is fine


# ----------------------------------------------------------------------------- the size guard
@pytest.mark.system
def test_runaway_size_is_refused_naming_the_key() -> None:
    override = "region.channels.gp_advisers.referrals_per_year=1e9"
    msg = _error(run_cli(override, "experiment.horizon_days=30"))
    assert msg.startswith(f"pathways: error: command-line override '{override}': "
                          "region.channels.gp_advisers.referrals_per_year = 1e+09 makes about"), msg
    assert "experiment.max_residents = 1,000,000" in msg


@pytest.mark.unit
def test_max_residents_lifts_the_guard() -> None:
    argv = ["region.channels.gp_advisers.referrals_per_year=1e9", "experiment.horizon_days=30"]
    with pytest.raises(UsageError):
        pf.preflight(argv)
    pf.preflight([*argv, "experiment.max_residents=2000000000"])  # checked, not run


@pytest.mark.statistical
def test_size_estimate_matches_the_residents_a_run_refers() -> None:
    """The estimate is the Poisson mean of the referrals: simulated counts fall within 4 standard deviations."""
    params = make_params(*QUICK)
    expected, key = pf.size_estimate(params)
    assert key.startswith("region.channels.")
    counts = [simulate(params, r).residents for r in range(3)]
    mean = sum(counts) / len(counts)
    assert abs(mean - expected) < 4 * (expected / len(counts)) ** 0.5, (mean, expected)


# ----------------------------------------------------------------------------- interruption, help, pipes
@pytest.mark.system
def test_ctrl_c_stops_cleanly_and_the_printed_command_resumes(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    args = ["-m", *QUICK, "experiment.replications=2", "intervention=[],[childcare],[outreach]",
            f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen([str(BIN / "pathways"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,  # as a terminal's job: SIGINT not ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not list(sweep.glob("0-*/DONE")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group gets SIGINT
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    resume = [ln for ln in err.splitlines() if "resume with:" in ln]
    assert len(resume) == 1, err
    kept = {d.name: (d / "kpis.csv").stat().st_mtime_ns for d in sweep.iterdir() if (d / "DONE").exists()}
    assert kept and f"{len(kept)} finished job" in resume[0]
    command = shlex.split(resume[0].split("resume with: ", 1)[1])
    assert command[0] == "pathways"
    r = subprocess.run([str(BIN / "pathways"), *command[1:]], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("already complete, not rerun") == len(kept)
    assert all((sweep / name / "kpis.csv").stat().st_mtime_ns == t for name, t in kept.items())
    assert len(_options(sweep)) == 3


@pytest.mark.system
def test_help_leads_with_our_usage_and_a_closed_pipe_is_quiet() -> None:
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr
    first = r.stdout.index("Hydra's own help follows")
    for part in ("Usage:", "pathways -m intervention.childcare.places=0,10,20,40 experiment.reference=0",
                 "Config groups", "KPIs", "net_hires", "Results: results/", "west_norfolk_local_plan"):
        assert 0 <= r.stdout.index(part) < first, part
    assert "Powered by Hydra" in r.stdout[first:]
    piped = subprocess.run(f"{shlex.quote(str(BIN / 'pathways'))} --help | head -3", shell=True,
                           capture_output=True, text=True, timeout=60)
    assert piped.stdout.startswith("pathways: simulate") and piped.stderr == "", piped.stderr


@pytest.mark.system
def test_validation_loads_no_plotting_or_statistics() -> None:
    """A typo is answered before matplotlib, scipy or the report are imported (they cost seconds)."""
    code = ("import sys; from sim.interfaces import preflight as pf; from sim.interfaces.errors import UsageError\n"
            "try:\n    pf.preflight(['pathway.recruitment.shortlisting=1.5'])\nexcept UsageError as e:\n"
            "    print(e)\n"
            "print(sorted(m for m in ('matplotlib', 'scipy', 'sim.outputs.report', 'sim.experiment.stats', "
            "'sim.experiment.replications') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[2])})
    assert r.returncode == 0, r.stderr
    assert "allowed: [0, 1]" in r.stdout and r.stdout.strip().endswith("[]"), r.stdout


@pytest.mark.system
def test_single_run_prints_its_name_and_its_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = run_cli(*QUICK, "experiment.replications=1", "intervention=[childcare]", f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("childcare: mean and 95% confidence interval"), r.stdout[:200]
    report = re.search(r"^report: (.+)$", r.stdout, re.M)
    assert report and Path(report.group(1)).resolve() == (out / "report.html").resolve()
    assert (out / "report.html").exists()


@pytest.mark.system
def test_pathways_report_on_a_parent_lists_what_it_found(tmp_path: Path) -> None:
    day = tmp_path / "2026-12-01"
    (day / "10-00-00-baseline" / ".hydra").mkdir(parents=True)
    sweep = day / "11-00-00-sweep"
    (sweep / "0-childcare-places-0" / ".hydra").mkdir(parents=True)
    (sweep / "1-childcare-places-20" / ".hydra").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("{}\n")
    for folder in (tmp_path, day):
        r = run_cli(str(folder), tool="pathways-report")
        assert r.returncode == 2, r.stdout + r.stderr
        assert "not a run or sweep folder; it holds 2 run or sweep folders" in r.stderr
        assert "10-00-00-baseline  (run)" in r.stderr and "11-00-00-sweep  (sweep, 2 jobs)" in r.stderr
        assert not (folder / "report.html").exists()
    r = run_cli(str(tmp_path / "2026-12-01" / "10-00-00-baseline" / ".hydra"), tool="pathways-report")
    assert r.returncode == 2 and "no run or sweep folder below it" in r.stderr


@pytest.mark.unit
def test_the_baseline_follows_the_region_a_programme_sets(capsys: pytest.CaptureFixture[str]) -> None:
    """`pathways -m scenario=baseline,connect_to_work_cumbria` compares within Cumbria: the baseline sets no region,
    so it runs in the one the programme sets, and the command line says so."""
    argv, plan = pf.preflight_plan(["-m", "scenario=baseline,connect_to_work_cumbria", *QUICK,
                                    "hydra.sweep.dir=/tmp/nowhere"])
    assert "region=cumbria" in argv
    assert plan is not None and [c["region"]["name"] for c in plan.configs if c] == ["cumbria", "cumbria"]
    assert "every option runs in region cumbria" in capsys.readouterr().err
    chosen, _ = pf.preflight_plan(["-m", "scenario=baseline,connect_to_work_cumbria", "region=norfolk_waveney",
                                   *QUICK, "hydra.sweep.dir=/tmp/nowhere"])
    assert chosen.count("region=norfolk_waveney") == 1 and "region=cumbria" not in chosen  # a chosen region stands


@pytest.mark.unit
def test_programmes_in_different_regions_are_told_which_region_to_choose() -> None:
    with pytest.raises(UsageError) as e:
        pf.preflight(["-m", "scenario=baseline,connect_to_work_cumbria,southend_anchor_programme", *QUICK,
                      "hydra.sweep.dir=/tmp/nowhere"])
    message = str(e.value)
    assert "region=cumbria or region=southend" in message and "two labour markets" in message
    assert "hydra" not in message and "experiment.progress" not in message and "\n" not in message


@pytest.mark.unit
def test_a_value_out_of_range_is_told_before_anything_is_composed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typed number is checked against the schema alone (no Hydra composition: a typo costs well under a second),
    in the same words as the composed check; each value of a sweep is checked."""
    monkeypatch.setattr(pf, "_compose_all", lambda *a: pytest.fail("composed before the typo was told"))
    monkeypatch.setattr(pf, "_combos", lambda *a: pytest.fail("parsed by Hydra before the typo was told"))
    cases = {("pathway.recruitment.shortlisting=1.5",): "pathway.recruitment.shortlisting = 1.5: allowed: [0, 1]",
             ("experiment.replications=1.5",): "experiment.replications = '1.5': allowed: an integer",
             ("-m", "intervention.childcare.places=0,-5"): "intervention.childcare.places = -5: allowed: [0, 1000000]",
             ("pathway.support.childcare.places=abc",): "pathway.support.childcare.places = 'abc': allowed: a number"}
    for argv, told in cases.items():
        with pytest.raises(UsageError) as e:
            pf.preflight(list(argv))
        assert str(e.value) == f"command-line override '{argv[-1].replace('0,-5', '-5')}': {told}"


@pytest.mark.unit
def test_what_the_schema_cannot_tell_is_left_to_the_composed_check() -> None:
    """Names, lists of a list field, interpolations and unknown interventions pass the early check unchanged."""
    argv = ["scenario=baseline", "region.channels.jobcentre.profile.deprivation_quintile=[0.5,0.5,0,0,0]",
            "experiment.horizon_days=${experiment.warmup_days}", "intervention.childcar.places=-3",
            "region.foo=1", "hydra.sweep.dir=x", "pathway.recruitment.checks.cv=-1"]
    assert pf.check_literals(argv, multirun=False) == argv


@pytest.mark.unit
def test_hydras_list_syntax_is_a_sweep_or_the_command_to_type(capsys: pytest.CaptureFixture[str]) -> None:
    """`places=[0,20,40]`, which Hydra's own message suggests, sweeps its values under -m and, in a single run, is
    answered with the exact command; so is `places=0,20,40` or `scenario=a,b` without -m."""
    argv = pf.check_literals(["-m", "intervention.childcare.places=[0, 20,40]", "experiment.reference=0"], True)
    assert argv == ["-m", "intervention.childcare.places=0,20,40", "experiment.reference=0"]
    assert "taken as a sweep of its values (intervention.childcare.places=0,20,40)" in capsys.readouterr().err
    for typed in ("intervention.childcare.places=[0,20,40]", "intervention.childcare.places=0,20,40"):
        with pytest.raises(UsageError) as e:
            pf.check_literals(["experiment=quick", typed], False)
        assert str(e.value) == (f"command-line override '{typed}': several values are a sweep, one job each; type: "
                                "pathways -m experiment=quick intervention.childcare.places=0,20,40 "
                                "experiment.reference=0")
    with pytest.raises(UsageError) as e:
        pf.check_literals(["scenario=baseline,west_norfolk_local_plan"], False)
    assert str(e.value).endswith("type: pathways -m scenario=baseline,west_norfolk_local_plan")
    with pytest.raises(UsageError, match=r"= 50: allowed: \[0, 1\]"):
        pf.check_literals(["-m", "pathway.recruitment.shortlisting=[0.5,50]"], True)


@pytest.mark.unit
def test_a_sweeps_jobs_do_not_say_cost_per_job_is_na_for_a_single_run() -> None:
    summary = [("s", "hires", "all", 10.0, 8.0, 12.0, 3)]
    assert "n/a for a single run" in summary_table(summary, "s")
    assert "n/a for a single run" not in summary_table(summary, "s", single=False)
