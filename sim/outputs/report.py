"""Reporting: the summary table a planner reads at the end of a run, and the HTML report.

`write_report` turns a run or sweep folder into one self-contained `report.html`: headline
table, vacancy trajectories, funnel, paired effects against the baseline, cost against effect,
equity, bottlenecks, the assumptions and sources behind every number, and the run details.
Figures are matplotlib PNGs embedded as base64; the page loads nothing from anywhere.

Data preparation is Python, markup is Jinja2 (autoescaped) in sim/outputs/templates/: `report.html.j2`
is the page, `report.css` its style (inlined), `macros.html.j2` the cells, tables and figures,
and `sections/<key>.html.j2` one partial per section. To add a section:
  1. write `def _my_section(d: ReportData) -> dict` returning the partial's variables (tables as
     `Table`, cells as `Piece` or plain strings, figures as `Chart` via `_chart(fig, alt)`), or
     {"empty": "one line"} when the folder has nothing to show;
  2. write `templates/sections/my-key.html.j2` (start it with `{% import "macros.html.j2" as m %}`
     and use `m.table`, `m.figure`, `m.piece`);
  3. add `Section("my-key", "Title", _my_section)` to SECTIONS where it belongs in the page.
"""

from __future__ import annotations

import datetime
import functools
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from sim.analysis.compare import (
    status_lines,
)
from sim.experiment.replications import write_text
from sim.outputs.elements import Piece, Table
from sim.outputs.folder import ReportData, report_data
from sim.outputs.formatting import _wbr, name, number
from sim.outputs.sections import ALWAYS, SECTIONS

TEMPLATES = Path(__file__).resolve().parent / "templates"
PORTRAIT_COLUMNS = 9  # a section whose table has more columns prints on a landscape page (report.css, `wide`)


@functools.cache
def templates() -> Environment:
    """The report's Jinja2 templates (autoescaped), with the `wbr` filter."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["wbr"] = _wbr
    env.filters["gbp"] = lambda x: number(float(x), "gbp")  # pounds as every table writes them (the page's budget)
    return env


def build_report(folder: Path, data: ReportData | None = None) -> str:
    """The report of a run or sweep folder as one self-contained HTML page (from its ReportData, if read)."""
    d = data or report_data(folder)
    env = templates()
    rendered = []
    for s in SECTIONS:
        ctx = s.build(d) if d.options or s.key in ALWAYS else {"empty": "No finished jobs in this folder."}
        html = "" if "empty" in ctx else Markup(env.get_template(f"sections/{s.key}.html.j2").render(ctx))
        table = ctx.get("table")
        wide = isinstance(table, Table) and len(table.header) > PORTRAIT_COLUMNS
        rendered.append({"key": s.key, "title": s.title, "html": html, "empty": ctx.get("empty", ""), "wide": wide})
    options, ref = d.options, d.reference
    first = options[0].config if options else {}
    region = (first.get("region") or {}).get("label", "")
    horizon = (first.get("experiment") or {}).get("horizon_days")
    lead: list = [f"{len(options)} option{'s' if len(options) != 1 else ''}"]
    if d.n_reps != "0":
        lead.append(f"{d.n_reps} replications each")
    if horizon:
        lead.append(f"{float(horizon) / 365.25:.1f}-year horizon")
    if len(options) == 1:
        lead.append("a single run, so no baseline to compare against")
    elif ref:
        lead.append(Piece("join", parts=("baseline: ", name(ref))))
    fixed = (first.get("experiment") or {}).get("uncertainty", "none") == "none" and len(d.options) > 1
    return env.get_template("report.html.j2").render(
        title=f"Recruitment pathways{': ' + region if region else ''}"
              + (" (at the files' values only: no parameter uncertainty)" if fixed else ""), folder_name=d.folder.name,
        folder=str(d.folder.resolve()), lead=lead, sections=rendered, failures=status_lines(d.jobs),
        n_jobs=len(d.jobs), css=(TEMPLATES / "report.css").read_text(),
        generated=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(folder: Path, data: ReportData | None = None) -> Path:
    """Write report.html (one self-contained page) into a run or sweep folder; return its path."""
    path = Path(folder) / "report.html"
    write_text(path, build_report(folder, data))
    return path
