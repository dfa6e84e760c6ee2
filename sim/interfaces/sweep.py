"""The end of a sweep: compare the jobs, write the report and the workbook, and say which jobs did not finish.

`SweepReport` is a Hydra callback (configured in configs/config.yaml) that runs on the
process that launched the multirun, whichever launcher ran the jobs; `pathways-report`
and the web page call the same `finish_folder` on any finished or partial folder.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.experiment.folders import SWEEP_MARK, read_manifest


def folder_kind(folder: Path) -> str | None:
    """'run' (one job's folder), 'sweep' (a multirun's folder of jobs), or None (neither)."""
    folder = Path(folder)
    if (folder / ".hydra").is_dir():
        return "run"
    if (folder / SWEEP_MARK).exists():
        return "sweep"
    manifest = read_manifest(folder)  # started, then stopped before Hydra wrote anything
    return manifest.get("kind") if manifest else None


def runs_below(folder: Path, depth: int = 3) -> list[tuple[Path, str]]:
    """The run and sweep folders below `folder` (not inside a sweep), newest name last."""
    found: list[tuple[Path, str]] = []
    for d in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        kind = folder_kind(d)
        if kind == "sweep":
            n = sum((j / ".hydra").is_dir() for j in d.iterdir() if j.is_dir())
            found.append((d, f"sweep, {n} job{'s' if n != 1 else ''}"))
        elif kind == "run":
            found.append((d, "run"))
        elif depth > 1:
            found.extend(runs_below(d, depth - 1))
    return found


OUTPUTS = ("comparison.csv", "comparison.xlsx", "report.html")  # a folder's outputs, rebuilt from its jobs


def outputs_failed(folder: Path, e: OSError, prog: str = "pathways") -> int:
    """After an output could not be written (a full disk): remove every output and its temporary file, so
    that nothing looks complete, and say so in one line. Returns the exit code (1: the environment)."""
    for name in OUTPUTS:
        for path in (Path(folder) / name, Path(folder) / f".{name}.tmp"):
            # what cannot be removed cannot be written either: the message below still holds
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
    print(f"{prog}: error: {folder}: the comparison, workbook and report were not written "
          f"({e.filename or 'a file'}: {e.strerror or e}); pathways-report {folder} writes them once there is room",
          file=sys.stderr)
    return 1


def finish_folder(folder: Path, prog: str = "pathways") -> int:
    """Write comparison.csv, comparison.xlsx and report.html for `folder`; print them and any failures.

    Returns an exit code: 1 when a job failed or did not finish, or an output could not be written."""
    from sim.analysis.compare import status_lines, write_comparison
    from sim.outputs.console import headline_text, recommendation_text
    from sim.outputs.folder import report_data
    from sim.outputs.report import write_report
    from sim.outputs.sizes import unchanged_sentences
    from sim.outputs.workbook import write_workbook

    try:
        jobs, rows = write_comparison(folder)
        data = report_data(folder, jobs, rows)
        report = write_report(folder, data)
        workbook = write_workbook(folder, data)
    except OSError as e:
        return outputs_failed(folder, e, prog)
    print(headline_text(rows))
    for line in unchanged_sentences(data):
        print(f"Same results: {line}")
    advice = recommendation_text(folder)
    if advice:
        print(advice)
    problems = status_lines(jobs)
    for line in problems:
        print(line, file=sys.stderr)
    done = sum(j.status == "done" for j in jobs)
    print(f"{done} of {len(jobs)} jobs complete{', unfinished' if done < len(jobs) else ''}; "
          f"comparison: {folder / 'comparison.csv'}")
    print(f"workbook: {workbook}")
    print(f"report: {report}")
    return 1 if problems else 0


def run_parameter_sets(folder: Path, workers: int, prog: str = "pathways") -> int:
    """The sweep's options on parameter sets (`sim.analysis.probabilistic`), with a count on a terminal; returns an
    exit code (2: a range file is wrong, named in one line; the report is still written, without them)."""
    from sim.analysis.compare import UNCERTAINTY
    from sim.analysis.probabilistic import run_sets
    from sim.experiment.job import PROGRESS
    from sim.experiment.replications import write_text
    from sim.params.errors import ConfigError

    def progress(done: int, total: int) -> None:
        write_text(folder / UNCERTAINTY / PROGRESS, f"{done} {total}\n")  # for the page, as a job's
        if sys.stderr.isatty():
            print(f"\rparameter sets: {done}/{total} tasks", end="" if done < total else "\n", file=sys.stderr,
                  flush=True)

    try:
        out = run_sets(folder, workers, progress)
    except ConfigError as e:
        print(f"{prog}: error: the parameter sets were not run: {e.message()}", file=sys.stderr)
        return 2
    except Exception as e:  # a set the model cannot run: the jobs' report is still written, and the exit says so
        print(f"{prog}: error: the parameter sets did not finish ({type(e).__name__}: {e}); the report is at the "
              f"files' values only; pathways -m with the same overrides and hydra.sweep.dir={folder} resumes them",
              file=sys.stderr)
        return 1
    if out is not None:
        print(f"parameter sets: {out}")
    return 0


class SweepReport(Callback):
    """After a multirun: the options on parameter sets (unless `experiment.uncertainty=none`), comparison.csv,
    comparison.xlsx, report.html, and a non-zero exit if any job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Hydra turns a callback's exception into a warning and exits 0: anything unexpected here ends the
        command with one line and a non-zero exit instead."""
        try:
            self._finish(config)
        except Exception as e:
            print(f"pathways: error: {config.hydra.sweep.dir}: the comparison and report were not finished "
                  f"({type(e).__name__}: {e}); pathways-report {config.hydra.sweep.dir} retries them", file=sys.stderr)
            sys.exit(1)

    def _finish(self, config: DictConfig) -> None:
        folder = Path(config.hydra.sweep.dir)
        launcher = config.hydra.get("launcher") or {}
        n_jobs = int(launcher.get("n_jobs") or 1)  # a local launcher's jobs at a time (-1: every core)
        workers = max(int(config.experiment.workers), (os.cpu_count() or 1) if n_jobs < 0 else n_jobs)
        sets = run_parameter_sets(folder, workers)
        code = finish_folder(folder)
        if code or sets:
            sys.exit(code or sets)
