"""`pathways-app`: the planner's workbench, a local web page over the same sweeps as the command line.

A planner picks the region, the options to compare (programmes from scenarios/, interventions
from configs/intervention/, or the sizes of one intervention), the replications, and runs it.
A run is `pathways -m OVERRIDES hydra.sweep.dir=results/DATE/TIME-sweep-N` in a child process,
checked first by the web app's allow-list (sim/interfaces/overrides.py: model parameters only) and the
command line's own `preflight` (a bad value answers with its one-line message; see
`Workbench.start` for when the child runs that check instead), written to
results/ like any other sweep, so past runs, the report, comparison.csv and comparison.xlsx are
all there for the command line too. Each run gets a folder of its own (created atomically), its
own log and child; at most `max_runs` run at once and the rest wait in a queue. Progress is the
jobs' `.progress` files (replications done). JSON API for automation:

    POST /api/runs {"overrides": ["scenario=baseline,west_norfolk_local_plan", "experiment=quick"]}
         -> {"id": ...}, or 400 {"error": "<one line naming the override>"}
    GET  /api/runs/{id} -> {"status": "queued"|"running"|"done"|"failed"|"stopped", "progress": 0..1,
                            "report": URL, "comparison": URL, "workbook": URL, "error": ...,
                            "about": {region, options, reference, run_length, replications, first_look, ...},
                            "started": "YYYY-MM-DD HH:MM", "took": "3 min 05 s", "form": the page's form}
    DELETE /api/runs/{id} -> the run's status once it stopped: its child and the child's workers are
                            interrupted (then killed if they linger), its finished jobs are kept
    POST /api/runs/{id}/resume -> {"id": ...}: a stopped or failed run continues in its folder

Only its own page can call it: a request whose Host is not the address the server listens on
(127.0.0.1, localhost or [::1] with its port), or whose Origin is another site, is refused (403);
a POST needs the server's token in the header X-Pathways-Token (the page carries it in
`<meta name="pathways-token">`; automation reads it there or from the file .pathways-app-token beside the
results folder, readable by the user only). Every error is `{"error": "<one line>"}`.

FastAPI (with Jinja2 templates, the report's own macros, and a few lines of plain JavaScript)
serves it on 127.0.0.1 through uvicorn.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from omegaconf import OmegaConf
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from sim.analysis.compare import FAILED
from sim.experiment.folders import LOCK, MANIFEST, planned_jobs
from sim.experiment.job import PROGRESS
from sim.interfaces.errors import UsageError
from sim.interfaces.overrides import check_overrides
from sim.interfaces.pagenumbers import as_rows, interventions_of, numbers_for, save_scenario
from sim.interfaces.preflight import _combos, available, preflight
from sim.interfaces.region import from_upload
from sim.interfaces.sweep import folder_kind, runs_below
from sim.outputs.formatting import duration, run_length
from sim.outputs.report import TEMPLATES
from sim.outputs.runinfo import FIRST_LOOK, about, job_overrides
from sim.params.keynumbers import KeyNumberError, check_value, stage_of
from sim.params.labels import label_of
from sim.params.paths import CONFIG_DIR, SCENARIO_DIR
from sim.params.provenance import file_header, format_value
from sim.params.schema import register_resolvers, size_effect

STATIC = TEMPLATES / "app" / "static"
DEFAULT_REGION = "norfolk_waveney"
RECORD = "app.json"  # a run's record in its folder: command line, jobs, child pid and start time, exit code
CHECK_NOW_JOBS = 20  # a sweep of at most this many jobs is checked before the answer (composing one takes ~0.5 s)
LOCK_WAIT = 1.0  # seconds a request waits for another's check before leaving its own check to its child
RESUMABLE = ("stopped", "failed")
TOKEN_HEADER = "X-Pathways-Token"
TOKEN_FILE = ".pathways-app-token"  # beside the results folder, mode 0600
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_BODY = 64 * 1024  # bytes in a request body
UPLOAD_PATH = "/api/regions"  # the one endpoint that takes a file: a filled-in region workbook
MAX_UPLOAD = 2 * 1024 * 1024  # bytes of an uploaded workbook (the template is about 35 kB)
INTERRUPTED = 130  # the command line's exit code after Ctrl-C (sim/interfaces/cli.py)
SCHEDULE_SECONDS = 0.5  # how often finished children are reaped and queued runs started
STOP_SECONDS = 5.0  # how long a stopped run's processes have to end after Ctrl-C before they are killed
STOPPABLE = ("queued", "running")
KINDS = ("sweep", "optimise")  # what a run from the page is: a `pathways -m` sweep, or `pathways-decide optimise`
OPTIMISE_ARGS = 9  # "optimise --budget B --budgets B --trials T --out FOLDER", then the overrides
OPTIMISE_TRIALS = 8  # candidate mixes per budget from the page: a first search in minutes (the command line's: 40)
BUDGET_RANGE = (10_000.0, 100_000_000.0)  # GBP the page's optimiser accepts: a small pilot to a large programme
OPTIMISE_FILES = ("report.html", "optimise.json", "frontier.csv", "recommended.yaml", "decide.json")  # linked
_PREFLIGHT = threading.Lock()  # Hydra's composition is global state: one check at a time
_QUEUE_ORDER = itertools.count()


class RunRequest(BaseModel):
    """The JSON API's request: model-parameter overrides, as on the command line after `pathways -m`."""

    model_config = ConfigDict(extra="forbid")
    overrides: list[str] = Field(default_factory=list)


class FormRequest(BaseModel):
    """What the page's form sends."""

    model_config = ConfigDict(extra="forbid")
    mode: str = "programmes"  # programmes | interventions | sizes
    region: str = ""  # "" keeps each scenario's own region
    scenarios: list[str] = Field(default_factory=list)
    interventions: list[str] = Field(default_factory=list)
    together: bool = False  # interventions mode: also all chosen interventions as one option
    sized: str = ""  # sizes mode: the intervention
    sizes: str = ""  # sizes mode: comma-separated places
    experiment: str = "default"  # the run `make run` makes
    replications: str = ""  # "" keeps the experiment's own
    numbers: dict[str, float] = Field(default_factory=dict)  # key numbers changed on the page (sim.params.keynumbers)


class OptimiseRequest(FormRequest):
    """The form and a budget: the best mix of the ticked options' interventions within it (`pathways-decide
    optimise`)."""

    budget: float


class ScenarioRequest(BaseModel):
    """Save the key numbers changed on the page as a new scenario file: its name (a slug) and the numbers."""

    model_config = ConfigDict(extra="forbid")
    name: str
    numbers: dict[str, float]
    region: str = ""  # whose file values the comments quote ("" the default region)


@dataclass
class Run:
    """A run started from the page or the API: its folder, its command line and its child process.

    Its record, `app.json` in its folder, holds the command line, the number of jobs, and the
    child's pid and start time (and its exit code once reaped), so that a restarted app knows
    the run: still alive, finished, or stopped and resumable.
    """

    folder: Path
    argv: list[str]
    jobs: int
    process: subprocess.Popen | None = None
    queued: bool = False
    queued_at: int = 0  # the queue's order: runs start oldest first
    pid: int | None = None
    pid_start: int | None = None
    returncode: int | None = None
    started: float | None = None  # when it first started (seconds since the epoch)
    launched: float | None = None  # when its child last started
    seconds: float = 0.0  # time spent running, over its earlier children (a resumed run has several)
    ended: float | None = None  # when its last child ended
    stopped: bool = False  # a planner stopped it
    kind: str = "sweep"  # "sweep" (`pathways -m`) or "optimise" (`pathways-decide optimise`)

    @property
    def log(self) -> Path:
        return self.folder / "app.log"

    @property
    def overrides(self) -> list[str]:
        """The model-parameter overrides it was asked for, as sent."""
        return self.argv[OPTIMISE_ARGS:] if self.kind == "optimise" else self.argv[1:-2]

    @property
    def budget(self) -> float | None:
        """An optimiser run's budget (GBP), None for a sweep."""
        return float(self.argv[2]) if self.kind == "optimise" else None

    def save(self) -> None:
        """Write the run's record (atomically: a reader never sees half of it)."""
        record = {"argv": self.argv, "jobs": self.jobs, "pid": self.pid, "pid_start": self.pid_start,
                  "returncode": self.returncode, "started": self.started, "launched": self.launched,
                  "seconds": self.seconds, "ended": self.ended, "stopped": self.stopped, "kind": self.kind}
        tmp = self.folder / f"{RECORD}.tmp"
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, self.folder / RECORD)

    @classmethod
    def load(cls, folder: Path) -> Run | None:
        """The run recorded in `folder`, or None if it holds no (readable) record."""
        try:
            r = json.loads((folder / RECORD).read_text())
            return cls(folder, list(r["argv"]), int(r["jobs"]), pid=r.get("pid"), pid_start=r.get("pid_start"),
                       returncode=r.get("returncode"), started=r.get("started"), launched=r.get("launched"),
                       seconds=float(r.get("seconds") or 0.0), ended=r.get("ended"), stopped=bool(r.get("stopped")),
                       kind=str(r.get("kind") or "sweep"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def exit_code(self) -> int | None:
        """The child's exit code once it ended (negative: killed by that signal), if known."""
        return self.returncode if self.process is None else self.process.returncode

    def check(self) -> None:
        """Refuse (ValueError) a record that is not a command line this app writes: model parameters only,
        into the run's own folder (the record is a file in results/, so it is checked before it is run)."""
        argv = self.argv
        if self.kind == "optimise":
            ours = _optimise_head(argv, self.folder)
        else:
            ours = argv[:1] == ["-m"] and argv[-2:] == ["experiment.progress=false", f"hydra.sweep.dir={self.folder}"]
        if self.kind not in KINDS or not ours:
            raise ValueError(f"{self.folder / RECORD}: not a command line this app wrote; "
                             "allowed: resuming its own runs")
        try:
            check_overrides(self.overrides)
        except UsageError as e:
            raise ValueError(f"{self.folder / RECORD}: {e}") from None

    def alive(self) -> bool:
        """Whether the run's child is still running (this app's child, or one a previous app started)."""
        if self.process is not None:
            return self.process.poll() is None
        return self.pid is not None and self.returncode is None and _started_at(self.pid) == self.pid_start

    def signal(self, sig: int) -> None:
        """Send `sig` to the run's child and every process it started (its process group: the child leads one),
        if the child is still the run's own (the pid with its start time)."""
        if self.pid is None or _started_at(self.pid) != self.pid_start:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(self.pid) == self.pid:
                os.killpg(self.pid, sig)
            else:  # a child an earlier app started in its own group
                os.kill(self.pid, sig)

    def took(self) -> float | None:
        """Seconds spent running so far (None if it never started)."""
        if self.started is None:
            return None
        now = time.time() if self.alive() and self.launched is not None else None
        return self.seconds + (now - self.launched if now is not None and self.launched is not None else 0.0)

    def reaped(self, code: int) -> None:
        """Its child ended with `code`: the time it ran counts, the record says so."""
        self.returncode, self.process, self.ended = code, None, time.time()
        if self.launched is not None:
            self.seconds += self.ended - self.launched
            self.launched = None
        self.save()


def budget_error(budget: float) -> str | None:
    """Why a budget from the page is refused (one line naming the field and the allowed range), or None."""
    low, high = BUDGET_RANGE
    if not math.isfinite(budget) or not low <= budget <= high:
        return f"budget = {budget:g}: allowed: a number of GBP from {low:,.0f} to {high:,.0f}"
    return None


def optimise_argv(folder: Path, budget: float, overrides: list[str]) -> list[str]:
    """The `pathways-decide` command line of an optimiser run from the page, into its own folder."""
    amount = repr(float(budget))  # one budget: the planner's (the command line's frontier has four)
    return ["optimise", "--budget", amount, "--budgets", amount, "--trials", str(OPTIMISE_TRIALS), "--out",
            str(folder), *overrides]


def _optimise_head(argv: list[str], folder: Path) -> bool:
    """Whether `argv` starts as `optimise_argv` writes it for `folder`, with a budget the page accepts."""
    try:
        budget = float(argv[2])
    except (IndexError, ValueError):
        return False
    return budget_error(budget) is None and argv[:OPTIMISE_ARGS] == optimise_argv(folder, budget, [])


def _started_at(pid: int) -> int | None:
    """A live process's start time (clock ticks after boot, /proc/PID/stat field 22), or None if it is gone
    or a zombie: with the pid, it tells the run's own process from a later one that reuses the pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


@dataclass
class Workbench:
    """The results folder, the runs started from the page, and the queue of runs waiting for a core."""

    results: Path
    max_runs: int = field(default_factory=lambda: os.cpu_count() or 1)
    runs_by_id: dict[str, Run] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)  # over the runs, their queue and their records
    on_done: Callable[[str], None] | None = None  # told the id of each run that finished (the page prepares it)
    abouts: dict[str, dict[str, Any]] = field(default_factory=dict)  # a folder's description, once it is final

    def __post_init__(self) -> None:
        """Know the runs a previous app started (their records), whether still alive or not. The folder is
        absolute, so that a run's command line names the same folder whatever the app's working folder."""
        self.results = Path(self.results).resolve()
        for record in sorted(self.results.glob(f"*/*/{RECORD}")):
            run = Run.load(record.parent)
            if run is not None:
                self.runs_by_id[self.run_id(run.folder)] = run

    # ------------------------------------------------------------------ ids and folders
    def run_id(self, folder: Path) -> str:
        return "~".join(folder.resolve().relative_to(self.results.resolve()).parts)

    def folder(self, run_id: str) -> Path | None:
        path = self.results.joinpath(*run_id.split("~")).resolve()
        if self.results.resolve() not in path.parents or not (folder_kind(path) == "sweep" or (path / RECORD).exists()):
            return None
        return path

    def new_folder(self, kind: str = "sweep") -> Path:
        """A folder no other run can get: created here, atomically (mkdir fails if it exists), with a number
        after the time that the command line's own folders never have."""
        now = datetime.datetime.now()
        day = self.results / now.strftime("%Y-%m-%d")
        day.mkdir(parents=True, exist_ok=True)
        for k in itertools.count(1):
            path = day / f"{now.strftime('%H-%M-%S')}-{kind}-{k}"
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ starting
    def start(self, overrides: list[str]) -> str:
        """Check the overrides, give the run its folder and queue it; it starts as soon as fewer than
        `max_runs` runs are running.

        The allow-list and the sweep's size are checked at once. The command line's own preflight
        (every job composed and validated) runs here too, so that a bad value answers 400 with its
        message, when the sweep is small and no other request's check holds Hydra; otherwise the
        run's child runs it before any job starts, and a bad value shows as the run's error. Either
        way the answer comes within seconds, whatever the size of the sweep.
        """
        check_overrides(overrides)
        argv = ["-m", *overrides, "experiment.progress=false"]
        jobs = len(_combos(argv))
        if jobs <= CHECK_NOW_JOBS and _PREFLIGHT.acquire(timeout=LOCK_WAIT):
            try:
                preflight(argv)
            finally:
                _PREFLIGHT.release()
        folder = self.new_folder()
        return self._queue(Run(folder, [*argv, f"hydra.sweep.dir={folder}"], jobs))

    def _queue(self, run: Run) -> str:
        """Record a new run in its folder, queue it, and start it if a core is free."""
        run.queued, run.queued_at = True, next(_QUEUE_ORDER)
        run.save()
        run_id = self.run_id(run.folder)
        with self.lock:
            self.runs_by_id[run_id] = run
        self.schedule()
        return run_id

    def start_optimise(self, overrides: list[str], budget: float) -> str:
        """Queue `pathways-decide optimise` over the options `overrides` ask for, within `budget` GBP: checked as a
        sweep is (the allow-list, and the options composed while no other check holds Hydra), run into a folder of
        its own like a sweep, stoppable and resumable (the command resumes from its records)."""
        problem = budget_error(budget)
        if problem is not None:
            raise UsageError(problem)
        check_overrides(overrides)
        if _PREFLIGHT.acquire(timeout=LOCK_WAIT):
            try:
                preflight(["-m", *overrides])
            finally:
                _PREFLIGHT.release()
        folder = self.new_folder("optimise")
        return self._queue(Run(folder, optimise_argv(folder, budget, overrides), len(_combos(["-m", *overrides])),
                               kind="optimise"))

    def _own(self, run_id: str, doing: str, states: tuple[str, ...]) -> Run:
        """A run started from this page that is in one of `states`: LookupError if there is no such run, ValueError
        naming its state otherwise."""
        st = self.status(run_id)
        run = self.runs_by_id.get(run_id)
        if st is None or run is None:
            raise LookupError(f"no run {run_id} started from this page")
        if st["status"] not in states:
            raise ValueError(f"run {run_id} is {st['status']}; allowed: {doing} a run that is {' or '.join(states)}")
        return run

    def resume(self, run_id: str) -> str:
        """Queue a stopped or failed run again: the same command into the same folder, which reruns only
        the jobs that did not finish (a finished job's DONE mark keeps it)."""
        with self.lock:  # two resumes at once queue it once
            run = self._own(run_id, "resuming", RESUMABLE)
            run.check()
            run.queued, run.queued_at = True, next(_QUEUE_ORDER)
            run.returncode, run.pid, run.pid_start, run.stopped = None, None, None, False
            run.save()
        self.schedule()
        return run_id

    def stop(self, run_id: str) -> dict[str, Any]:
        """Stop a queued or running run: a queued one leaves the queue; a running one gets Ctrl-C (SIGINT) in its
        child and the child's workers, which end keeping every finished job, and SIGKILL if any process is still
        there STOP_SECONDS later. Returns its status, now "stopped" (or "done", had it just finished)."""
        with self.lock:
            run = self._own(run_id, "stopping", STOPPABLE)
            run.stopped, run.queued = True, False
            run.save()
        run.signal(signal.SIGINT)  # first: every moment before it is a moment the run goes on
        st = self._status(run_id) or {}
        for sig in (signal.SIGKILL, None):
            deadline = time.monotonic() + STOP_SECONDS
            while run.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if sig is not None and run.alive():
                run.signal(sig)
        self.schedule()
        return self._status(run_id) or st

    def schedule(self) -> None:
        """Reap every child that ended (no zombies) and start queued runs, oldest first, while fewer
        than `max_runs` are running."""
        with self.lock:
            finished = []
            for run_id, run in self.runs_by_id.items():
                if run.process is not None and run.process.poll() is not None:
                    run.reaped(run.process.returncode)
                    if run.returncode == 0 and run.kind == "sweep":  # its headline is read before anyone asks
                        finished.append(run_id)
            running = sum(run.alive() for run in self.runs_by_id.values())
            for run in sorted((r for r in self.runs_by_id.values() if r.queued), key=lambda r: r.queued_at):
                if running >= self.max_runs:
                    break
                self._launch(run)
                running += 1
        for run_id in finished:
            if self.on_done is not None:
                self.on_done(run_id)

    def _launch(self, run: Run) -> None:
        """The run's child process, with its own log (appended to when the run is resumed), leading a process group
        of its own, so that stopping it reaches the workers it starts."""
        with run.log.open("a") as out:
            module = "sim.interfaces.decide" if run.kind == "optimise" else "sim"
            run.process = subprocess.Popen([sys.executable, "-m", module, *run.argv], stdout=out,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=os.getcwd(),
                                           start_new_session=True)
        run.queued, run.pid, run.stopped = False, run.process.pid, False
        run.pid_start = _started_at(run.pid)
        run.launched = time.time()
        run.started = run.started or run.launched
        run.save()

    def queue_position(self, run: Run) -> int:
        """How many queued runs are ahead of this one."""
        with self.lock:
            return sum(r.queued and r.queued_at < run.queued_at for r in self.runs_by_id.values())

    # ------------------------------------------------------------------ status
    def status(self, run_id: str) -> dict[str, Any] | None:
        """A run's status, progress, files and error (None if there is no such run)."""
        self.schedule()
        return self._status(run_id)

    def _status(self, run_id: str) -> dict[str, Any] | None:
        folder = self.folder(run_id)
        run = self.runs_by_id.get(run_id)
        if folder is None:
            return None
        if run is not None and run.kind == "optimise":
            return self._optimise_status(run_id, folder, run)
        jobs = [d for d in folder.iterdir() if (d / ".hydra").is_dir()]
        planned = planned_jobs(folder)  # a sweep started from the command line records its jobs in its manifest
        total = max(run.jobs if run else len(planned) if planned is not None else len(jobs), 1)
        done = sum((d / "DONE").exists() for d in jobs)
        partial = sum(_progress(d) for d in jobs if not (d / "DONE").exists())
        complete = (folder / "report.html").exists() and done == len(jobs) == total
        error = None
        failed = [d for d in jobs if (d / FAILED).exists()]
        if run is not None and run.queued:
            status = "queued"
        elif run.alive() if run is not None else _being_written(folder):
            status = "running"
        elif complete and (run is None or run.exit_code in (0, None)):
            status = "done"
        elif run is None and failed:
            status, error = "failed", f"{len(failed)} of {total} jobs failed: {_last_lines(failed[0] / FAILED, 1)}"
        elif run is None:  # a command-line sweep cut short
            status, error = "stopped", (f"stopped: {done} of {total} options complete; resume it with its pathways "
                                        f"command and hydra.sweep.dir={folder}")
        elif not run.stopped and run.exit_code is not None and run.exit_code > 0 and run.exit_code != INTERRUPTED:
            status, error = "failed", _last_lines(run.log)
        else:  # stopped, killed or interrupted, or its app was: nothing says it failed
            status, error = "stopped", f"stopped: {done} of {total} options complete; resume to run the rest"
        base = f"/results/{'/'.join(run_id.split('~'))}"
        files = {name: f"{base}/{file}" if (folder / file).exists() else None
                 for name, file in (("report", "report.html"), ("comparison", "comparison.csv"),
                                    ("workbook", "comparison.xlsx"))}
        share = (done + partial) / total
        return {"id": run_id, "kind": "sweep", "status": status,
                "progress": 1.0 if status == "done" else min(0.99, share),
                **files, "error": error, "jobs": total, "jobs_done": done,
                "resumable": run is not None and status in RESUMABLE,
                "stoppable": run is not None and status in STOPPABLE,
                "queue_position": self.queue_position(run) if run is not None and status == "queued" else None,
                **self._described(run_id, folder, run, status)}

    def _optimise_status(self, run_id: str, folder: Path, run: Run) -> dict[str, Any]:
        """An optimiser run's status: its progress (the command's `.progress`, simulation runs done of those planned),
        its files, and the recommended mix in words once it is done."""
        done = run.exit_code == 0 and (folder / "optimise.json").exists()
        error = None
        if run.queued:
            status = "queued"
        elif run.alive():
            status = "running"
        elif done:
            status = "done"
        elif not run.stopped and run.exit_code is not None and run.exit_code > 0 and run.exit_code != INTERRUPTED:
            status, error = "failed", _last_lines(run.log)
        elif run.exit_code == 0:  # ended without a mix within the budget
            status, error = "failed", _last_lines(run.log, 1)
        else:
            status, error = "stopped", "stopped: the mixes already simulated are kept; resume to search on"
        base = f"/results/{'/'.join(run_id.split('~'))}"
        files = {name: f"{base}/{name}" for name in OPTIMISE_FILES if (folder / name).exists()}
        words = json.loads((folder / "optimise.json").read_text())["words"] if done else []
        return {"id": run_id, "kind": "optimise", "status": status, "budget": run.budget,
                "progress": 1.0 if status == "done" else min(0.99, _progress(folder)), "files": files,
                "report": files.get("report.html"), "comparison": None, "workbook": None, "error": error,
                "jobs": run.jobs, "jobs_done": 0, "words": words,
                "resumable": status in RESUMABLE, "stoppable": status in STOPPABLE,
                "queue_position": self.queue_position(run) if status == "queued" else None,
                **self._described(run_id, folder, run, status)}

    def _described(self, run_id: str, folder: Path, run: Run | None, status: str) -> dict[str, Any]:
        """The run in words: what it compares and where (`about`), the form that asks for it, when it started and
        how long it ran."""
        info = self.abouts.get(run_id)
        if info is None:
            argv = ["-m", *run.overrides] if run is not None and run.kind == "optimise" else run.argv if run else []
            jobs = job_overrides(folder) or (_combos(argv) if run is not None else [])
            a = about(folder, jobs)
            info = {"about": {**a.as_dict(), "run_length": run_length(a.horizon_days)},
                    "form": form_of(run.overrides if run is not None else _sweep_form(jobs))}
            if any(folder.glob("*/config.yaml")):  # final: what the run compares and where no longer changes
                self.abouts[run_id] = info
        manifest = folder / MANIFEST
        begun = run.started if run is not None and run.started else (
            manifest.stat().st_mtime if manifest.exists() else None)
        took = run.took() if run is not None and run.started else None
        report = folder / "report.html"
        if took is None and begun is not None and status == "done" and report.exists():
            took = report.stat().st_mtime - begun
        when = datetime.datetime.fromtimestamp(begun).strftime("%Y-%m-%d %H:%M") if begun is not None else None
        return {**info, "started": when, "took": duration(took) if took is not None else None}

    def runs(self) -> list[dict[str, Any]]:
        """Every sweep folder under results/ (past runs too) and every run started here, newest first."""
        self.schedule()
        ids = {self.run_id(p) for p, kind in runs_below(self.results) if kind.startswith("sweep")}
        ids |= set(self.runs_by_id)
        out = [st for st in (self._status(i) for i in ids) if st is not None]
        return sorted(out, key=lambda st: st["id"], reverse=True)


def _progress(job: Path) -> float:
    """The share of a running job's replications (or of an optimiser run's planned simulation runs) that are done."""
    try:
        done, total = (job / PROGRESS).read_text().split()
        return int(done) / max(int(total), 1)
    except (OSError, ValueError):
        return 0.0


def _being_written(folder: Path) -> bool:
    """Whether a command-line process is writing the folder now (the pid in its lock is a live `pathways`)."""
    try:
        pid = int((folder / LOCK).read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
    return _started_at(pid) is not None and any(b"pathways" in c or c == b"sim" for c in command)


def _sweep_form(jobs: list[list[str]]) -> list[str]:
    """A sweep's jobs as the command line that asks for them: each key once, with its values in job order."""
    values: dict[str, list[str]] = {}
    for job in jobs:
        for o in job:
            key, _, value = o.partition("=")
            if value not in values.setdefault(key, []):
                values[key].append(value)
    return [f"{k}={','.join(v)}" for k, v in values.items()]


def _last_lines(log: Path, n: int = 3) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()] if log.exists() else []
    errors = [ln for ln in lines if "error" in ln.lower() or ln.startswith(("FAILED", "UNFINISHED"))]
    return "\n".join((errors or lines)[-n:]) or "the run stopped"


# ----------------------------------------------------------------------------- what the page offers
DESCRIPTION_CHARS = 180


def _describe(path: Path) -> str:
    """The first sentence of a config file's opening comment, cut at a word near 180 characters."""
    text = file_header(path).split(". ")[0].rstrip(".")
    if len(text) > DESCRIPTION_CHARS:
        text = text[:DESCRIPTION_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return text + "." if text and not text.endswith("…") else text


def _scenario_region(name: str) -> str:
    """The region a scenario file sets for itself (`override /region` in its defaults), or "" if it sets none."""
    data = yaml.safe_load((CONFIG_DIR / "scenario" / f"{name}.yaml").read_text()) or {}
    return next((str(d["override /region"]) for d in data.get("defaults") or []
                 if isinstance(d, dict) and "override /region" in d), "")


def choices() -> dict[str, Any]:
    """Regions, scenarios and interventions (with labels, descriptions and default sizes) and run lengths for the
    form. Ticked at first: the programmes of the default region, so that the page's first run is `make run`'s
    (every scenario that sets no region of its own, against the baseline, with the default experiment)."""
    regions = []
    for name in available("region"):
        data = yaml.safe_load((CONFIG_DIR / "region" / f"{name}.yaml").read_text()) or {}
        regions.append({"name": name, "label": label_of(name, data)})
    labels = {r["name"]: r["label"] for r in regions}
    scenarios = []
    for n in available("scenario"):
        if n == "baseline":
            continue
        region = _scenario_region(n)
        scenarios.append({"name": n, "label": label_of(n), "region": labels.get(region, region),
                          "ticked": not region, "description": _describe(CONFIG_DIR / "scenario" / f"{n}.yaml")})
    interventions = []
    for n in available("intervention"):
        path = CONFIG_DIR / "intervention" / f"{n}.yaml"
        data = (yaml.safe_load(path.read_text()) or {}).get(n, {}) or {}
        interventions.append({"name": n, "label": label_of(n, data), "description": _describe(path),
                              "places": data.get("places", 0), "size": size_text(data)})
    experiments = []
    for n in available("experiment"):
        data = yaml.safe_load((CONFIG_DIR / "experiment" / f"{n}.yaml").read_text()) or {}
        length = run_length(data.get("horizon_days"))
        experiments.append({"name": n, "replications": data.get("replications", ""),
                            "label": f"{length}, a first look" if n == FIRST_LOOK else
                            f"{length}, as make run" if n == "default" else f"{n} ({length})"})
    return {"regions": regions, "scenarios": scenarios, "interventions": interventions,
            "experiments": experiments, "default_region": DEFAULT_REGION}


def size_text(data: dict) -> str:
    """What the sizes mode says of an intervention beside its name: its places now ("1 place", "20 places"), or
    that its size changes nothing (or only its cost), from its file resolved at two sizes."""
    places = float(data.get("places") or 0)

    def at(size: float) -> dict:
        node = OmegaConf.create({**data, "places": size})
        resolved = OmegaConf.to_container(node, resolve=True)
        assert isinstance(resolved, dict)  # a DictConfig's container
        return resolved

    register_resolvers()
    try:
        effect = size_effect(at(places), at(places + 1))
    except Exception:  # a number resolved from elsewhere in the config: the size is worth trying
        effect = "effect"
    if effect == "nothing":
        return "paid per person: its size changes nothing"
    if effect == "cost":
        return f"now {places:g}; its size changes only its cost"
    return f"now {places:g} place{'' if places == 1 else 's'}"


def form_overrides(f: FormRequest) -> tuple[list[str], str]:
    """The command line a form asks for, and the form field a problem would belong to."""
    common = [f"experiment={f.experiment}"]
    if f.replications.strip():
        common.append(f"experiment.replications={f.replications.strip()}")
    if f.region:
        common.append(f"region={f.region}")
    common += number_overrides(f)
    if f.mode == "programmes":
        if not f.scenarios:
            raise FormError("scenarios", "pick at least one programme to compare with the baseline")
        return [f"scenario={','.join(['baseline', *f.scenarios])}", *common], "scenarios"
    if f.mode == "interventions":
        if not f.interventions:
            raise FormError("interventions", "pick at least one intervention to compare with none")
        options = ["[]", *(f"[{n}]" for n in f.interventions)]
        if f.together and len(f.interventions) > 1:
            options.append(f"[{','.join(f.interventions)}]")
        return [f"intervention={','.join(options)}", *common], "interventions"
    if f.mode == "sizes":
        sizes = ",".join(x.strip() for x in f.sizes.split(",") if x.strip())
        if not f.sized or not sizes:
            raise FormError("sizes", "pick an intervention and give the sizes to compare, e.g. 0,10,20,40")
        return [f"intervention=[{f.sized}]", f"intervention.{f.sized}.places={sizes}", "experiment.reference=0",
                *common], "sizes"
    raise FormError("mode", f"mode = {f.mode!r}: allowed: programmes, interventions, sizes")


def form_options(f: FormRequest) -> tuple[list[dict[str, Any]], str]:
    """The options a form compares besides its reference (each as its interventions) and the region they run in,
    every name checked against the files there are (the key numbers are composed from them)."""
    for group, names in (("scenario", f.scenarios), ("intervention", [*f.interventions, *filter(None, [f.sized])]),
                         ("region", list(filter(None, [f.region])))):
        unknown = [n for n in names if n not in available(group)]
        if unknown:
            raise FormError({"scenario": "scenarios", "intervention": f.mode}.get(group, group),
                            f"unknown {group} {unknown[0][:60]!r}; allowed: {', '.join(available(group))}")
    if f.mode == "programmes":
        own = [r for r in map(_scenario_region, f.scenarios) if r]
        return [interventions_of(s) for s in f.scenarios], f.region or (own[0] if own else DEFAULT_REGION)
    chosen = f.interventions if f.mode == "interventions" else [f.sized] if f.sized else []
    return [interventions_of(names=(n,)) for n in chosen], f.region or DEFAULT_REGION


def number_overrides(f: FormRequest) -> list[str]:
    """The key numbers a form changes, as overrides (`key=value`), each checked against its allowed range. An
    intervention's own number changes only when every option runs the intervention (its sizes compared): the
    baseline does not run it, and an override would switch it on there too."""
    out = []
    for key, value in f.numbers.items():
        try:
            number = check_value(key, value)
        except KeyNumberError as e:
            raise FormError("numbers", str(e)) from None
        owner = key.split(".")[1] if key.startswith("intervention.") else ""
        if owner and not (f.mode == "sizes" and f.sized == owner):
            raise FormError("numbers", f"{key}: {label_of(owner)}'s own number changes only where every option runs "
                                       f"it; allowed: comparing the sizes of {label_of(owner)}")
        out.append(f"{key}={format_value(number)}")
    return out


def form_of(overrides: list[str]) -> dict[str, Any] | None:
    """The form that asks for a sweep (`form_overrides` read backwards), or None if the form cannot ask for it."""
    given = {o.split("=", 1)[0].lstrip("+"): o.split("=", 1)[1] for o in overrides if "=" in o}
    sized = [k.split(".")[1] for k in given if re.fullmatch(r"intervention\.\w+\.places", k)]
    form: dict[str, Any] = {"region": given.get("region", ""), "experiment": given.get("experiment", "default"),
                            "replications": given.get("experiment.replications", ""),
                            "numbers": {k: float(v) for k, v in given.items() if stage_of(k) is not None
                                        and re.fullmatch(r"[-+0-9.eE]+", v)}}  # a swept number is not the form's
    if "scenario" in given:
        return {**form, "mode": "programmes", "scenarios": [x for x in given["scenario"].split(",") if x != "baseline"]}
    if sized:
        return {**form, "mode": "sizes", "sized": sized[0], "sizes": given[f"intervention.{sized[0]}.places"]}
    if "intervention" in given:
        sets = [x.strip() for x in re.findall(r"\[([^\]]*)\]", given["intervention"])]
        return {**form, "mode": "interventions", "interventions": [x for x in sets if x and "," not in x],
                "together": any("," in x for x in sets)}
    return None


class FormError(UsageError):
    """A problem with one field of the form."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


def _field(message: str, fallback: str) -> str:
    """The form field a command-line message is about."""
    if "experiment.replications" in message:
        return "replications"
    if "different regions" in message:
        return "region"
    if "experiment" in message.split(":")[0] or "unknown experiment" in message:
        return "experiment"
    if "region" in message.split(":")[0] or "unknown region" in message:
        return "region"
    about = re.match(r"command-line override '([^'=]+)=", message)
    if about and stage_of(about.group(1)) is not None:
        return "numbers"
    if ".places" in message:
        return "sizes"
    return fallback


# ----------------------------------------------------------------------------- who may call it
class Guard:
    """ASGI middleware: only the server's own page may call it.

    Refuses (403) a Host that is not the address the server listens on (DNS rebinding) and an
    Origin of another site; a state-changing request without the server's token (403); a body
    without a length (411) or longer than MAX_BODY (413). No CORS headers are ever sent.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                code, message = refusal
                await JSONResponse({"error": message}, status_code=code)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """The status and one-line reason to refuse a request, or None to serve it."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        port = (scope.get("server") or ("", 0))[1]
        hosts = [f"{h}:{port}" for h in LOCAL_HOSTS] + (list(LOCAL_HOSTS) if port == 80 else [])
        host = headers.get("host", "")
        if host not in hosts:
            return 403, f"Host {host!r} is not this server; allowed: {', '.join(hosts)}"
        origin = headers.get("origin")
        if origin is not None and origin not in [f"http://{h}" for h in hosts]:
            return 403, f"Origin {origin!r} is another site; allowed: this server's own page (http://{hosts[0]})"
        if scope["method"] in SAFE_METHODS:
            return None
        if not secrets.compare_digest(headers.get(TOKEN_HEADER.lower(), "").encode(), self.token.encode()):
            return 403, (f"missing or wrong {TOKEN_HEADER} header; allowed: the token of this server's page "
                         f"(<meta name=\"pathways-token\">, or the file {TOKEN_FILE} beside the results folder)")
        length = headers.get("content-length")
        if length is None:
            return (411, "a request body needs a Content-Length header") if "transfer-encoding" in headers else None
        if not length.isdigit():
            return 400, f"Content-Length {length!r}: allowed: a number of bytes"
        limit = MAX_UPLOAD if scope["path"] == UPLOAD_PATH else MAX_BODY
        if int(length) > limit:
            return 413, f"request body of {int(length):,} bytes; allowed: at most {limit:,}"
        return None


def write_token(results: Path) -> str:
    """A new secret token for this server, also written beside the results folder for automation
    (mode 0600 from the start: only the user can read it)."""
    token = secrets.token_urlsafe(32)
    path = results.resolve().parent / TOKEN_FILE
    tmp = path.with_name(f"{TOKEN_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


def _one_line(e: RequestValidationError) -> str:
    """FastAPI's validation error as one line: where in the body, and what is wrong."""
    first = e.errors()[0] if e.errors() else {}
    where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
    return f"{where}: {first.get('msg', 'invalid request')}"


# ----------------------------------------------------------------------------- the web app
def create_app(results: Path, max_runs: int | None = None, scenarios: Path = SCENARIO_DIR,
               configs: Path = CONFIG_DIR) -> FastAPI:
    """The FastAPI application over a results folder, running at most `max_runs` runs at once
    (default: the cores), saving the scenarios a planner makes into `scenarios` and the regions uploaded into
    `configs`/region."""
    from sim.outputs import recommendation
    from sim.outputs.estimates import HEADLINE_COLUMNS
    from sim.outputs.folder import report_data
    from sim.outputs.report import TEMPLATES, templates
    from sim.outputs.sections import _headline, _vacancy_difference, _vacancy_section

    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    bench = Workbench(results, max_runs or os.cpu_count() or 1)
    token = write_token(results)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(SCHEDULE_SECONDS):
                try:
                    bench.schedule()
                except OSError as e:  # a full or read-only disk: said, and tried again at the next tick
                    print(f"pathways-app: error: {e}", file=sys.stderr)

        thread = threading.Thread(target=loop, name="pathways-schedule", daemon=True)
        thread.start()
        yield
        stop.set()
        thread.join()

    app = FastAPI(title="pathways", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.add_middleware(Guard, token=token)
    env = templates()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/results", StaticFiles(directory=bench.results), name="results")

    @app.exception_handler(RequestValidationError)
    async def bad_body(_: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _one_line(e)}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code, headers=e.headers)

    @app.exception_handler(Exception)
    async def server_error(_: Request, e: Exception) -> JSONResponse:
        return JSONResponse({"error": f"{type(e).__name__}: {' '.join(str(e).split())}"}, status_code=500)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        css = (TEMPLATES / "report.css").read_text()
        return env.get_template("app/index.html.j2").render(runs=bench.runs(), css=css, token=token,
                                                             budget=BUDGET_RANGE, **choices())

    @app.post("/api/runs")
    def api_start(req: RunRequest) -> JSONResponse:
        try:
            return JSONResponse({"id": bench.start(req.overrides)})
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)

    @app.get("/api/runs")
    def api_runs() -> list[dict[str, Any]]:
        return bench.runs()

    @app.get("/api/runs/{run_id}")
    def api_status(run_id: str) -> JSONResponse:
        st = bench.status(run_id)
        return JSONResponse(st) if st else JSONResponse({"error": f"no run {run_id}"}, status_code=404)

    @app.delete("/api/runs/{run_id}")
    def api_stop(run_id: str) -> JSONResponse:
        try:
            return JSONResponse(bench.stop(run_id))
        except LookupError as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=409)

    @app.post("/api/runs/{run_id}/resume")
    def api_resume(run_id: str) -> JSONResponse:
        try:
            return JSONResponse({"id": bench.resume(run_id)})
        except LookupError as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=409)

    @app.post("/api/form")
    def form_start(f: FormRequest) -> JSONResponse:
        field_name = "mode"
        try:
            overrides, field_name = form_overrides(f)
            return JSONResponse({"id": bench.start(overrides), "overrides": overrides})
        except FormError as e:
            return JSONResponse({"error": str(e), "field": e.field}, status_code=400)
        except UsageError as e:
            return JSONResponse({"error": str(e), "field": _field(str(e), field_name)}, status_code=400)

    @app.post("/api/optimise")
    def optimise_start(f: OptimiseRequest) -> JSONResponse:
        """`pathways-decide optimise` over the interventions of the options the form ticks, within the budget."""
        problem = budget_error(f.budget)
        if problem is not None:
            return JSONResponse({"error": problem, "field": "budget"}, status_code=400)
        if f.mode == "sizes":
            return JSONResponse({"error": "the optimiser searches the sizes itself; allowed: programmes or "
                                          "interventions to draw the mix from", "field": "mode"}, status_code=400)
        field_name = "mode"
        try:
            overrides, field_name = form_overrides(f)
            return JSONResponse({"id": bench.start_optimise(overrides, f.budget), "overrides": overrides})
        except FormError as e:
            return JSONResponse({"error": str(e), "field": e.field}, status_code=400)
        except UsageError as e:
            return JSONResponse({"error": str(e), "field": _field(str(e), field_name)}, status_code=400)

    @app.post(UPLOAD_PATH)
    async def api_region(request: Request, name: str = "") -> JSONResponse:
        """A filled-in region workbook, the body itself (at most MAX_UPLOAD bytes), checked cell by cell as
        `pathways-region new NAME --from FILE.xlsx` checks it; `configs/region/NAME.yaml` written for a new name."""
        from starlette.concurrency import run_in_threadpool

        data = await request.body()
        if len(data) > MAX_UPLOAD:  # a body sent without its length
            return JSONResponse({"error": f"workbook of {len(data):,} bytes; allowed: at most {MAX_UPLOAD:,}",
                                 "field": "upload"}, status_code=413)

        def made() -> Path:
            with _PREFLIGHT:  # the check composes a config (Hydra's global state); one name written at a time
                return from_upload(name, data, Path(configs))

        try:
            path = await run_in_threadpool(made)
        except UsageError as e:
            lines = str(e).splitlines()
            return JSONResponse({"error": lines[0], "problems": lines[1:], "field": "upload"}, status_code=400)
        label = label_of(name, yaml.safe_load(path.read_text()) or {})
        return JSONResponse({"name": name, "label": label, "file": f"region/{path.name}",
                             "command": f"pathways region={name}"})

    @app.post("/api/numbers")
    def api_numbers(f: FormRequest) -> JSONResponse:
        """The key numbers of the options a form ticks, with their sources and allowed ranges."""
        try:
            options, region = form_options(f)
            with _PREFLIGHT:
                rows = as_rows(numbers_for(options, region), region)
            return JSONResponse({"region": region, "numbers": rows})
        except FormError as e:
            return JSONResponse({"error": str(e), "field": e.field}, status_code=400)

    @app.post("/api/scenarios")
    def api_save(req: ScenarioRequest) -> JSONResponse:
        """Save the changed key numbers as a new scenario file (never over an existing one)."""
        try:
            regions = available("region")
            if req.region and req.region not in regions:
                raise FormError("region", f"unknown region {req.region[:60]!r}; allowed: {', '.join(regions)}")
            with _PREFLIGHT:
                path = save_scenario(Path(scenarios), req.name, req.numbers, req.region or DEFAULT_REGION)
        except UsageError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return JSONResponse({"name": req.name, "file": f"{path.parent.name}/{path.name}",
                             "command": f"pathways scenario={req.name}"})

    results_of: dict[str, tuple[int, Any, Any]] = {}  # a finished run's headline and chart, by its report's mtime
    reading = threading.Lock()  # one folder read at a time: a second asker waits, then finds it ready

    def headline(run_id: str) -> tuple[Any, Any]:
        """A finished run's headline table and vacancy chart, read from its folder once (a few seconds for a
        sweep of six five-year options: every job's config, comparison and time series) and kept."""
        folder = bench.folder(run_id)
        report = folder / "report.html" if folder is not None else None
        if folder is None or report is None or not report.exists():
            return None, None
        with reading:
            stamp = report.stat().st_mtime_ns
            if run_id not in results_of or results_of[run_id][0] != stamp:
                d = report_data(folder)
                table = _headline(d)["table"] if d.options else None
                chart = (_vacancy_difference(d) or _vacancy_section(d).get("chart")) if d.options else None
                results_of[run_id] = (stamp, table, chart)
            return results_of[run_id][1:]

    def prepare(run_id: str) -> None:  # a run just finished: its result is read before anyone asks
        threading.Thread(target=headline, args=(run_id,), name="pathways-prepare", daemon=True).start()

    bench.on_done = prepare

    @app.get("/runs/{run_id}/summary", response_class=HTMLResponse)
    def summary(run_id: str) -> HTMLResponse:
        st = bench.status(run_id)
        if st is None:
            return HTMLResponse(f"<p>No run {run_id}.</p>", status_code=404)
        if st.get("kind") == "optimise":
            return HTMLResponse(env.get_template("app/optimise.html.j2").render(run=st, trials=OPTIMISE_TRIALS))
        table, chart = headline(run_id) if st["status"] == "done" else (None, None)
        folder = bench.folder(run_id)
        advice = recommendation.sentences(recommendation.read(folder)) if folder and st["status"] == "done" else []
        return HTMLResponse(env.get_template("app/summary.html.j2").render(
            run=st, table=table, chart=chart, columns=HEADLINE_COLUMNS, recommendation=advice))

    @app.get("/runs", response_class=HTMLResponse)
    def runs_list() -> str:
        return env.get_template("app/runs.html.j2").render(runs=bench.runs())

    return app


def _port(text: str) -> int:
    port = int(text) if text.isdigit() else -1
    if not 1 <= port <= 65535:
        raise ValueError(f"--port {text}: allowed: a port number from 1 to 65535")
    return port


def _count(text: str) -> int:
    n = int(text) if text.isdigit() else 0
    if n < 1:
        raise ValueError(f"--max-runs {text}: allowed: a whole number of runs, at least 1")
    return n


def main(argv: list[str] | None = None) -> None:
    """`pathways-app`: serve the workbench on 127.0.0.1."""
    import uvicorn

    ap = argparse.ArgumentParser(prog="pathways-app", description=main.__doc__)
    ap.add_argument("--port", default="8050", help="port on 127.0.0.1 (default 8050)")
    ap.add_argument("--results", type=Path, default=Path("results"), help="the results folder (default results/)")
    ap.add_argument("--max-runs", default=str(os.cpu_count() or 1),
                    help="runs at once; more wait in a queue (default: the cores)")
    args = ap.parse_args(argv)
    try:
        port, max_runs = _port(args.port), _count(args.max_runs)
        app = create_app(args.results, max_runs)
    except ValueError as e:
        print(f"pathways-app: error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        print(f"pathways-app: error: {args.results}: {e.strerror or e}", file=sys.stderr)
        sys.exit(1)
    runs = f"{max_runs} run{'s' if max_runs != 1 else ''}"
    print(f"pathways-app: http://127.0.0.1:{port}/ (results in {args.results}, at most {runs} at once); "
          "Ctrl-C stops it")
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
