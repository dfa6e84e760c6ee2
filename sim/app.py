"""`pathways-app`: the planner's workbench, a local web page over the same sweeps as the command line.

A planner picks the region, the options to compare (programmes from scenarios/, interventions
from configs/intervention/, or the sizes of one intervention), the replications, and runs it.
A run is `pathways -m OVERRIDES hydra.sweep.dir=results/DATE/TIME-sweep` in a child process,
checked first by the command line's own `preflight` (a bad value answers with its one-line
message), written to results/ like any other sweep, so past runs, the report, comparison.csv
and comparison.xlsx are all there for the command line too. Progress is the jobs' `.progress`
files (replications done). JSON API for automation:

    POST /api/runs {"overrides": ["scenario=baseline,west_norfolk_local_plan", "experiment=quick"]}
         -> {"id": ...}, or 400 {"error": "<the command line's message>"}
    GET  /api/runs/{id} -> {"status": "running"|"done"|"failed", "progress": 0..1,
                            "report": URL, "comparison": URL, "workbook": URL, "error": ...}

FastAPI (with Jinja2 templates, the report's own macros, and a few lines of plain JavaScript)
serves it on 127.0.0.1 through uvicorn.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from .cli import CONFIG_DIR, PROGRESS, UsageError, _combos, available, preflight
from .provenance import file_header
from .sweep import folder_kind, runs_below

STATIC = Path(__file__).resolve().parent / "templates" / "app" / "static"
DEFAULT_REGION = "norfolk_waveney"
_PREFLIGHT = threading.Lock()  # Hydra's composition is global state: one check at a time


class RunRequest(BaseModel):
    """The JSON API's request: Hydra overrides, exactly as on the command line after `pathways -m`."""

    overrides: list[str] = Field(default_factory=list)


class FormRequest(BaseModel):
    """What the page's form sends."""

    mode: str = "programmes"  # programmes | interventions | sizes
    region: str = ""  # "" keeps each scenario's own region
    scenarios: list[str] = Field(default_factory=list)
    interventions: list[str] = Field(default_factory=list)
    together: bool = False  # interventions mode: also all chosen interventions as one option
    sized: str = ""  # sizes mode: the intervention
    sizes: str = ""  # sizes mode: comma-separated places
    experiment: str = "quick"
    replications: str = "3"


@dataclass
class Started:
    """A run this server started: its child process and how many jobs it has."""

    process: subprocess.Popen
    folder: Path
    jobs: int
    log: Path


@dataclass
class Workbench:
    """The results folder and the runs started from the page."""

    results: Path
    started: dict[str, Started] = field(default_factory=dict)

    # ------------------------------------------------------------------ ids and folders
    def run_id(self, folder: Path) -> str:
        return "~".join(folder.resolve().relative_to(self.results.resolve()).parts)

    def folder(self, run_id: str) -> Path | None:
        path = self.results.joinpath(*run_id.split("~")).resolve()
        if self.results.resolve() not in path.parents or folder_kind(path) != "sweep":
            return None
        return path

    def new_folder(self) -> Path:
        now = datetime.datetime.now()
        base = self.results / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S-sweep")
        path, k = base, 1
        while path.exists() or any(s.folder == path for s in self.started.values()):
            k += 1
            path = base.with_name(f"{base.name}-{k}")
        return path

    # ------------------------------------------------------------------ starting
    def start(self, overrides: list[str]) -> str:
        """Check the overrides as the command line does, then run the sweep in a child process."""
        if any(o.startswith("-") for o in overrides):
            raise UsageError(f"{next(o for o in overrides if o.startswith('-'))}: options are not allowed here; "
                             "allowed: Hydra overrides (KEY=VALUE)")
        folder = self.new_folder()
        argv = ["-m", *overrides, "experiment.progress=false", f"hydra.sweep.dir={folder}"]
        with _PREFLIGHT:
            argv = preflight(argv)
            jobs = len(_combos(argv))
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "app.log"
        with log.open("w") as out:
            process = subprocess.Popen([sys.executable, "-m", "sim", *argv], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=os.getcwd())
        run_id = self.run_id(folder)
        self.started[run_id] = Started(process, folder, jobs, log)
        return run_id

    # ------------------------------------------------------------------ status
    def status(self, run_id: str) -> dict[str, Any] | None:
        folder = self.folder(run_id)
        s = self.started.get(run_id)
        if folder is None and s is None:
            return None
        folder = folder or s.folder
        jobs = [d for d in folder.iterdir() if (d / ".hydra").is_dir()]
        total = max(s.jobs if s else len(jobs), 1)
        running = s is not None and s.process.poll() is None
        done = sum((d / "DONE").exists() for d in jobs)
        partial = sum(_progress(d) for d in jobs if not (d / "DONE").exists())
        complete = (folder / "report.html").exists() and done == len(jobs) == total and not running
        error = None
        if running:
            status = "running"
        elif complete and (s is None or s.process.returncode == 0):
            status = "done"
        else:
            status = "failed"
            error = _last_lines(s.log) if s else f"did not finish: {done} of {total} jobs complete"
        base = f"/results/{'/'.join(run_id.split('~'))}"
        files = {name: f"{base}/{file}" if (folder / file).exists() else None
                 for name, file in (("report", "report.html"), ("comparison", "comparison.csv"),
                                    ("workbook", "comparison.xlsx"))}
        share = (done + partial) / total
        return {"id": run_id, "status": status, "progress": 1.0 if status == "done" else min(0.99, share),
                **files, "error": error, "jobs": total, "jobs_done": done}

    def runs(self) -> list[dict[str, Any]]:
        """Every sweep folder under results/ (past runs too), newest first."""
        ids = {self.run_id(p) for p, kind in runs_below(self.results) if kind.startswith("sweep")} | set(self.started)
        out = [st for st in (self.status(i) for i in ids) if st is not None]
        return sorted(out, key=lambda st: st["id"], reverse=True)


def _progress(job: Path) -> float:
    """The share of a running job's replications that are done."""
    try:
        done, total = (job / PROGRESS).read_text().split()
        return int(done) / max(int(total), 1)
    except (OSError, ValueError):
        return 0.0


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


def choices() -> dict[str, Any]:
    """Regions, scenarios and interventions (with labels, descriptions and default sizes) for the form."""
    regions = []
    for name in available("region"):
        data = yaml.safe_load((CONFIG_DIR / "region" / f"{name}.yaml").read_text()) or {}
        regions.append({"name": name, "label": str(data.get("label", name))})
    scenarios = [{"name": n, "label": n.replace("_", " "), "description": _describe(CONFIG_DIR / "scenario" / f"{n}.yaml")}
                 for n in available("scenario") if n != "baseline"]
    interventions = []
    for n in available("intervention"):
        path = CONFIG_DIR / "intervention" / f"{n}.yaml"
        data = (yaml.safe_load(path.read_text()) or {}).get(n, {}) or {}
        interventions.append({"name": n, "label": str(data.get("label", n)), "description": _describe(path),
                              "places": data.get("places", 0)})
    return {"regions": regions, "scenarios": scenarios, "interventions": interventions,
            "experiments": available("experiment"), "default_region": DEFAULT_REGION}


def form_overrides(f: FormRequest) -> tuple[list[str], str]:
    """The command line a form asks for, and the form field a problem would belong to."""
    common = [f"experiment={f.experiment}", f"experiment.replications={f.replications.strip() or 0}"]
    if f.region:
        common.append(f"region={f.region}")
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


class FormError(UsageError):
    """A problem with one field of the form."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


def _field(message: str, fallback: str) -> str:
    """The form field a command-line message is about."""
    if "experiment.replications" in message:
        return "replications"
    if "experiment" in message.split(":")[0] or "unknown experiment" in message:
        return "experiment"
    if "region" in message.split(":")[0] or "unknown region" in message:
        return "region"
    if ".places" in message:
        return "sizes"
    return fallback


# ----------------------------------------------------------------------------- the web app
def create_app(results: Path) -> FastAPI:
    """The FastAPI application over a results folder."""
    from .report import (HEADLINE_COLUMNS, TEMPLATES, _headline, _vacancy_difference, _vacancy_section, report_data,
                         templates)

    bench = Workbench(Path(results))
    bench.results.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="pathways", docs_url=None, redoc_url=None)
    env = templates()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/results", StaticFiles(directory=bench.results), name="results")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return env.get_template("app/index.html.j2").render(runs=bench.runs(), css=(TEMPLATES / "report.css").read_text(),
                                                            **choices())

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

    @app.get("/runs/{run_id}/summary", response_class=HTMLResponse)
    def summary(run_id: str) -> HTMLResponse:
        st = bench.status(run_id)
        if st is None:
            return HTMLResponse(f"<p>No run {run_id}.</p>", status_code=404)
        folder = bench.folder(run_id)
        chart = None
        headline = None
        if st["status"] == "done" and folder is not None:
            d = report_data(folder)
            if d.options:
                headline = _headline(d)["table"]
                chart = _vacancy_difference(d) or _vacancy_section(d).get("chart")
        return HTMLResponse(env.get_template("app/summary.html.j2").render(
            run=st, table=headline, chart=chart, columns=HEADLINE_COLUMNS))

    @app.get("/runs", response_class=HTMLResponse)
    def runs_list() -> str:
        return env.get_template("app/runs.html.j2").render(runs=bench.runs())

    return app


def main(argv: list[str] | None = None) -> None:
    """`pathways-app`: serve the workbench on 127.0.0.1."""
    import uvicorn

    ap = argparse.ArgumentParser(prog="pathways-app", description=main.__doc__)
    ap.add_argument("--port", type=int, default=8050, help="port on 127.0.0.1 (default 8050)")
    ap.add_argument("--results", type=Path, default=Path("results"), help="the results folder (default results/)")
    args = ap.parse_args(argv)
    print(f"pathways-app: http://127.0.0.1:{args.port}/ (results in {args.results}); Ctrl-C stops it")
    try:
        uvicorn.run(create_app(args.results), host="127.0.0.1", port=args.port, log_level="warning")
    except KeyboardInterrupt:
        pass

