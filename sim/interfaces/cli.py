"""The `pathways` command: Hydra config in, replications run, results folder and summary out.

`main` checks the command line first (`sim.interfaces.preflight`: a bad value stops the run with exit 2 and one
line naming the file, key, value and allowed range, before any simulation), fixes the results folder so an
interrupted run can say how to resume, then hands over to Hydra, whose `job` runs one config
(`sim.experiment.job`). `pathways-report` rebuilds a folder's report. matplotlib, scipy and the report are
imported only where they are used, so a typo costs well under a second.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim.experiment.folders import FolderError, claim, lock, planned_jobs
from sim.experiment.job import execute, region_calibration
from sim.experiment.parallel import one_blas_thread
from sim.interfaces.errors import UsageError, _display, _exit_environment, _exit_usage
from sim.interfaces.preflight import _key, available, params_or_exit, preflight_plan
from sim.params.config import load
from sim.params.paths import CONFIG_DIR
from sim.params.schema import register, register_resolvers

# Registered on import, the one side effect of an import in the package: a launcher's worker (joblib, Ray)
# imports this module to unpickle `job`, and Hydra resolves the job's folder (`${job_folder:}`) and its
# config (`${reach:...}`) there before `job` runs. The schema itself is stored only when a config is composed.
register_resolvers()

_HELP = {"-h", "--help"}


# ----------------------------------------------------------------------------- labels and folders
def _varying(hydra_cfg: Any) -> set[str] | None:
    """The keys a sweep varies (None for a single run), from the task and the excluded keys."""
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    excluded = set(hydra_cfg.job.config.override_dirname.exclude_keys or [])
    return {_key(o) for o in hydra_cfg.overrides.task} - excluded


def _job_folder(*, _root_: DictConfig) -> str:
    """`${job_folder:}`: a sweep job's folder, its number and a short name of what it varies."""
    from sim.analysis.compare import folder_name, option_label

    h = _root_.hydra
    excluded = set(h.job.config.override_dirname.exclude_keys or [])
    task = list(h.overrides.task)
    label = option_label(task, {_key(o) for o in task} - excluded, str(OmegaConf.select(_root_, "scenario_name")))
    return folder_name(h.job.num, label)


if not OmegaConf.has_resolver("job_folder"):
    OmegaConf.register_new_resolver("job_folder", _job_folder, use_cache=False)


@hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="config")
def job(cfg: DictConfig) -> float:
    """One Hydra job: simulate the replications of one config and write its results folder."""
    from sim.analysis.compare import FAILED, option_label
    from sim.experiment.replications import is_done, mark_done, write_text
    from sim.outputs.console import summary_table

    hc = HydraConfig.get()
    try:
        params = params_or_exit(cfg, dict(hc.runtime.choices), list(hc.overrides.task))
    except UsageError as e:
        _exit_usage(e)
    if not params.config.region.workforce.bau:  # BAU recruitment: the region's, the same for every option
        cfg.region.workforce.bau = region_calibration(str(hc.runtime.choices.get("region") or "norfolk_waveney"),
                                                      list(hc.searchpath))
        params = load(cfg)
    c = params.config
    label = option_label(list(hc.overrides.task), _varying(hc), c.scenario_name)
    outdir = Path(hc.runtime.output_dir)
    if is_done(outdir):
        print(f"{_display(outdir)}: already complete, not rerun")
        return float("nan")
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / FAILED).unlink(missing_ok=True)
    write_text(outdir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    try:
        summary = execute(params, cfg, outdir, label,  # a comparison's parameter sets give the supply range's ends
                          ends_from_sets=hc.mode == RunMode.MULTIRUN and c.experiment.uncertainty != "none")
    except Exception as e:
        write_text(outdir / FAILED, traceback.format_exc())
        if hc.mode == RunMode.MULTIRUN:
            print(f"pathways: job {outdir.name} failed: {type(e).__name__}: {e}", file=sys.stderr)
            return float("nan")
        raise
    mark_done(outdir)
    print(summary_table(summary, c.scenario_name, c.region.published_vacancies, label,
                        single=hc.mode != RunMode.MULTIRUN))
    meta = json.loads((outdir / "run.json").read_text())
    if meta["precision"]:
        print(meta["precision"])
    print(f"results: {_display(outdir.resolve())}")
    if hc.mode != RunMode.MULTIRUN:
        from sim.interfaces.sweep import outputs_failed
        from sim.outputs.report import write_report

        try:
            print(f"report: {_display(write_report(outdir).resolve())}")
        except OSError as e:
            sys.exit(outputs_failed(outdir, e))
    return next((m for s, k, g, m, *_ in summary if k == "hires" and g == "all"), float("nan"))


def usage() -> str:
    """The project's own help, printed before Hydra's."""
    from sim.params.kpis import KPI_NAMES

    def names(group: str) -> str:
        return ", ".join(available(group))

    return f"""pathways: simulate the routes from deprived communities into NHS and social-care jobs,
and compare intervention options with the do-nothing baseline (common random numbers).

Usage:
  pathways [KEY=VALUE ...]             one run; prints its summary and the path of its report
  pathways -m KEY=A,B,C [...]          a sweep: one job per option, compared with experiment.reference
                                       (default: the baseline scenario; or an option's name or job number)
  pathways-report DIR                  rebuild comparison.csv, comparison.xlsx and report.html of a folder
  pathways-app                         the same runs from a local web page (http://127.0.0.1:8050)
  pathways-region template FILE.xlsx   a workbook for your own area; then pathways-region new NAME --from FILE.xlsx
  pathways-verify mmc|littles-law      check the model against queueing theory
  pathways-decide psa [KEY=A,B ...]    the options on parameter sets: effects with parameter uncertainty, the
                                       chance each is the best buy, what evidence is worth (EVPI, EVPPI)
  pathways-decide sensitivity [...]    which uncertain numbers drive the answer (a screening, then Sobol, tornado)
  pathways-decide optimise --budget GBP [...]  the best mix of intervention sizes within a budget

A sweep (pathways -m) with the default experiment also runs its options on parameter sets and opens its
report with what to fund (experiment.uncertainty=none: the files' values only, as experiment=quick does).

Common commands:
  pathways experiment=quick                                   a short look (3 replications, 2 years)
  pathways scenario=west_norfolk_local_plan                   one named programme
  pathways -m scenario=baseline,west_norfolk_local_plan       a programme against the baseline
  pathways -m intervention.childcare.places=0,10,20,40 experiment.reference=0
                                                              size an intervention (switched on for you)
  pathways -m intervention=[],[childcare,gp_advisers]         compare sets of interventions
  pathways -m hydra/launcher=local_parallel hydra.launcher.n_jobs=2 scenario=...   jobs on 2 cores

Config groups (files in configs/ and scenarios/):
  scenario=NAME        {names("scenario")}
  region=NAME          {names("region")}
  intervention=[A,B]   {names("intervention")}
  experiment=NAME      {names("experiment")}  (seed, replications, workers, horizon_days, max_residents)

KPIs (kpis.csv, summary.csv, comparison.csv, the report): {", ".join(KPI_NAMES)}

Results: results/DATE/TIME-NAME/ for a run, results/DATE/TIME-sweep/N-OPTION/ for a sweep's jobs, with
config.yaml, kpis.csv, summary.csv, timeseries.csv, funnel.csv and report.html; a sweep folder also gets
comparison.csv and comparison.xlsx. Nothing is overwritten; rerun a sweep with hydra.sweep.dir=DIR to resume.
A run that would refer more than experiment.max_residents residents a replication stops before it starts.

Hydra's own help follows.
"""


def _interrupted(typed: list[str], argv: list[str]) -> NoReturn:
    """After Ctrl-C: what was kept, and the one command that resumes (as typed, with the results folder)."""
    multirun = "-m" in argv or "--multirun" in argv
    option = "hydra.sweep.dir=" if multirun else "hydra.run.dir="
    where = next((a[len(option):] for a in argv if a.startswith(option)), "")
    folder = [] if any(a.startswith(option) for a in typed) or not where else [option + where]
    command = shlex.join(["pathways", *typed, *folder])
    if multirun and where:
        jobs = [d for d in Path(where).iterdir() if (d / ".hydra").is_dir()] if Path(where).is_dir() else []
        done = sum((d / "DONE").exists() for d in jobs)
        total = len(planned_jobs(Path(where)) or jobs)
        print(f"\npathways: interrupted; {done} finished job{'s' if done != 1 else ''} of {total} kept in {where}; "
              f"resume with: {command}", file=sys.stderr)
    else:
        print(f"\npathways: interrupted; a run keeps its results only when complete; run it again with: {command}",
              file=sys.stderr)
    sys.exit(130)


def main() -> None:
    """Entry point of `pathways` and `python -m sim`."""
    one_blas_thread()
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `pathways --help | head` ends quietly
    typed = sys.argv[1:]
    if any(a in _HELP for a in typed):
        print(usage(), flush=True)
    try:
        argv, plan = preflight_plan(typed)
        if plan is not None:
            claim(plan)  # the folder is this process's, and holds what it asks for
    except (UsageError, FolderError) as e:
        _exit_usage(e)
    except OSError as e:
        _exit_environment(e)
    except KeyboardInterrupt:
        sys.exit(130)
    register()  # Hydra composes on the schema (stored once a process: preflight has usually done it)
    sys.argv = [sys.argv[0], *argv]
    interrupted = []

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_sigint)
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors here, to be told in one line below
    try:
        job()
    except KeyboardInterrupt:
        _interrupted(typed, argv)
    except SystemExit:
        if interrupted:  # Ctrl-C inside Hydra's own code, which reported it as an error and exited
            _interrupted(typed, argv)
        raise
    except OSError as e:  # a full disk or a read-only folder, in Hydra's writes or ours
        _exit_environment(e)
    except HydraException as e:
        _exit_usage(UsageError(" ".join(str(e).split()) or type(e).__name__))


def report_main(argv: list[str] | None = None) -> None:
    """`pathways-report DIR`: rebuild comparison.csv, comparison.xlsx and report.html of a run or sweep folder."""
    import argparse

    from sim.interfaces.sweep import finish_folder, folder_kind, runs_below

    ap = argparse.ArgumentParser(prog="pathways-report", description=report_main.__doc__)
    ap.add_argument("folder", type=Path, help="a run folder or a sweep folder under results/")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        _exit_usage(UsageError(f"{args.folder}: not a folder; allowed: a run or sweep folder under results/"),
                    "pathways-report")
    if folder_kind(args.folder) is None:
        found = runs_below(args.folder)
        listing = "".join(f"\n  {_display(p)}  ({kind})" for p, kind in found[:30])
        more = f"\n  ... and {len(found) - 30} more" if len(found) > 30 else ""
        what = (f"it holds {len(found)} run or sweep folder{'s' if len(found) != 1 else ''}; give one of them:"
                f"{listing}{more}" if found else "no run or sweep folder below it")
        _exit_usage(UsageError(f"{args.folder}: not a run or sweep folder; {what}"), "pathways-report")
    try:
        lock(args.folder)  # a sweep still writing it is refused: its own report comes when it ends
    except FolderError as e:
        _exit_usage(UsageError(str(e)), "pathways-report")
    except OSError as e:
        _exit_environment(e, "pathways-report")
    sys.exit(finish_folder(args.folder, "pathways-report"))
