"""Running experiments: replications (serial, on local processes or on Ray) and the results folder.

Replication r always uses the streams of (seed, r), whichever process runs it, and results
are put back in replication order, so a parallel run gives the same numbers as a serial one.
Files are written to a temporary name and renamed, and a `DONE` marker is written last, so a
folder either holds a complete run or is recognisably unfinished.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from sim.experiment.parallel import Workers
from sim.experiment.stats import mean_ci
from sim.model import RunOutput, simulate
from sim.params.plan import Params

DONE = "DONE"


def run_replications(params: Params, replications: Iterable[int], workers: int = 1,
                     progress: bool = False, label: str = "replications",
                     on_done: Callable[[int], None] | None = None, ray_address: str | None = None) -> list[RunOutput]:
    """Simulate the given replications (in this process, on `workers` local processes, or on a Ray cluster by
    address: `sim.experiment.parallel`), returned in replication order.

    `on_done(k)` is called after each replication with the number finished so far (the web page's progress).
    """
    reps = list(replications)
    bar = _progress(len(reps), label) if progress else None
    outputs: dict[int, RunOutput] = {}
    with Workers(_replication, params, min(workers, len(reps)), ray_address) as pool:
        for r, out in pool.map(reps):
            outputs[r] = out
            if bar:
                bar.update(1)
            if on_done:
                on_done(len(outputs))
    if bar:
        bar.close()
    return [outputs[r] for r in reps]


def _replication(r: int, params: Params) -> RunOutput:
    return simulate(params, r)


def _progress(total: int, label: str):
    """A progress bar on a terminal (stderr); nothing when output is redirected."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="rep", disable=not sys.stderr.isatty(), file=sys.stderr)


# ----------------------------------------------------------------------------- tidy tables
KPI_HEADER = ("scenario", "replication", "kpi", "group", "value")
TIMESERIES_HEADER = ("scenario", "replication", "day", "employer_group", "role", "establishment",
                     "staff_in_post", "vacancies")
FUNNEL_HEADER = ("scenario", "replication", "stage", "measure", "reason", "value")
SUMMARY_HEADER = ("scenario", "kpi", "group", "mean", "ci_low", "ci_high", "n")
# every KPI of all posts, per end of the range
SUPPLY_HEADER = ("scenario", "elasticity", "replication", "kpi", "value")


def kpi_rows(scenario: str, outputs: list[RunOutput]) -> list[tuple]:
    return [(scenario, o.replication, k, g, v) for o in outputs for k, g, v in o.kpis]


def supply_rows(scenario: str, ends: dict[float, list[RunOutput]]) -> list[tuple]:
    """The whole-region KPIs of the runs at each end of the labour-supply range (`supply.csv`)."""
    return [(scenario, e, o.replication, k, v) for e, outputs in ends.items() for o in outputs
            for k, g, v in o.kpis if g == "all"]


def timeseries_rows(scenario: str, outputs: list[RunOutput]) -> list[tuple]:
    return [(scenario, o.replication, *row) for o in outputs for row in o.timeseries]


def funnel_rows(scenario: str, outputs: list[RunOutput]) -> list[tuple]:
    rows = []
    for o in outputs:
        for f in o.funnel:
            base = (scenario, o.replication, f["stage"])
            for measure in ("entered", "left", "in_stage_end", "mean_wait", "p90_wait",
                            "mean_in_stage", "mean_in_stage_sampled", "mean_time_in_stage", "arrival_rate",
                            "mean_stay"):
                rows.append((*base, measure, "", f[measure]))
            for reason, n in sorted(f["reasons"].items()):
                rows.append((*base, "left", reason, n))
    return rows


def summary_rows(kpis: list[tuple]) -> list[tuple]:
    """Mean and 95% CI across replications for every (scenario, kpi, group)."""
    values: dict[tuple[str, str, str], list[float]] = {}
    for scenario, _rep, k, g, v in kpis:
        values.setdefault((scenario, k, g), []).append(v)
    out = []
    for (scenario, k, g), xs in values.items():
        ci = mean_ci(xs)
        out.append((scenario, k, g, ci.mean, ci.low, ci.high, ci.n))
    return out


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as the start of a formula (OWASP)


def as_text(v: str) -> str:
    """Text a spreadsheet shows as text, never runs: a leading formula character gets a single quote (OWASP)."""
    return "'" + v if v.startswith(FORMULA_START) else v


def from_text(v: str) -> str:
    """The text `as_text` was given (for reading our own CSVs back)."""
    return v[1:] if v.startswith("'") and v[1:].startswith(FORMULA_START) else v


def _fmt(v: object) -> object:
    if isinstance(v, str):
        return as_text(v)
    return repr(float(v)) if isinstance(v, float) else v  # float(): numpy's floats print as np.float64(...)


def write_csv(path: Path, header: tuple, rows: Iterable[tuple]) -> None:
    """Write a CSV atomically (temporary file, then rename). Floats keep full precision; text that a
    spreadsheet would take for a formula is written as text (`as_text`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_fmt(v) for v in row])
    write_text(path, buf.getvalue())


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_results(outdir: Path, scenario: str, outputs: list[RunOutput]) -> list[tuple]:
    """Write kpis, timeseries, funnel and summary tables to `outdir`; return the summary rows."""
    outdir.mkdir(parents=True, exist_ok=True)
    kpis = kpi_rows(scenario, outputs)
    write_csv(outdir / "kpis.csv", KPI_HEADER, kpis)
    write_csv(outdir / "timeseries.csv", TIMESERIES_HEADER, timeseries_rows(scenario, outputs))
    write_csv(outdir / "funnel.csv", FUNNEL_HEADER, funnel_rows(scenario, outputs))
    summary = summary_rows(kpis)
    write_csv(outdir / "summary.csv", SUMMARY_HEADER, summary)
    return summary


def mark_done(outdir: Path) -> None:
    write_text(outdir / DONE, "complete\n")


def is_done(outdir: Path) -> bool:
    return (outdir / DONE).exists()
