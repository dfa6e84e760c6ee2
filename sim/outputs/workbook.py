"""The board pack's workbook: `comparison.xlsx` beside a sweep's comparison.csv and report.html.

Sheets: Headline (options x the report's HEADLINE_COLUMNS, each with its 95% CI, formatted,
header frozen), Comparison (comparison.csv as it is, COMPARISON_HEADER columns), Funnel (mean
people per replication entering and leaving each stage, by option), Spend (the yearly programme
spend by option and component) and Assumptions (every parameter the options used, with its
value and source). Numbers come from the same functions as the report (sim/outputs/report.py), so the
workbook and the page cannot disagree. Written with openpyxl (formats, frozen panes and column
widths without Excel), atomically like every other results file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sim.analysis.compare import COMPARISON_HEADER
from sim.experiment.replications import FORMULA_START
from sim.outputs.estimates import HEADLINE_COLUMNS, headline_estimates, parameters_used, programme_spend, source_text
from sim.outputs.folder import ReportData, report_data, stage_label
from sim.params.paths import CONFIG_DIR

FORMATS = {  # number formats by the report's kinds of number
    "count": "#,##0", "small": "#,##0.0", "days": "#,##0", "gbp": "£#,##0", "gbpk": "£#,##0",
    "pct": "0.0%", "pp": "0.000%",
}
HEADER_FILL = PatternFill("solid", fgColor="E8EEF5")
BOLD = Font(bold=True)


def _value(x: Any) -> Any:
    """A cell value: NaN becomes an empty cell, an infinity the CSV's text ('inf', '-inf': a cost ratio that is
    not bounded, see compare.cost_effect); Excel has neither."""
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else repr(x)
    return x


def _sheet(wb: Workbook, title: str, header: Iterable[str], widths: dict[int, float] | None = None) -> Worksheet:
    ws = wb.create_sheet(title)
    ws.append(list(header))
    for cell in ws[1]:
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"
    for col in range(1, ws.max_column + 1):
        ws.column_dimensions[get_column_letter(col)].width = (widths or {}).get(col, 16)
    return ws


def _headline(wb: Workbook, d: ReportData) -> None:
    header = ["Option", "Interventions"]
    for c in HEADLINE_COLUMNS:
        header += [c.label, f"{c.label}: 95% CI low", f"{c.label}: 95% CI high"]
    ws = _sheet(wb, "Headline", header, {1: 34, 2: 40})
    ws.row_dimensions[1].height = 60
    for o, estimates in headline_estimates(d):
        row: list[Any] = [o.label + (" (reference)" if o.is_reference and len(d.options) > 1 else ""), o.description]
        for e in estimates:
            row += [e.note] if e.note else [_value(e.mean), _value(e.low), _value(e.high)]
            if e.note:
                row += [None, None]
        ws.append(row)
        for k, c in enumerate(HEADLINE_COLUMNS):
            for j in range(3):
                ws.cell(ws.max_row, 3 + 3 * k + j).number_format = FORMATS.get(c.kind, "General")
    ws.append([])
    ws.append([f"Means over {d.n_reps} replications with 95% confidence intervals; changes against the baseline "
               "are paired differences (common random numbers). Same numbers as report.html."])


def _comparison(wb: Workbook, rows: list[tuple]) -> None:
    ws = _sheet(wb, "Comparison", COMPARISON_HEADER, {1: 34, 3: 26, 4: 26})
    for r in rows:
        ws.append([_value(v) for v in r])


def _funnel(wb: Workbook, d: ReportData) -> None:
    shown = [o for o in d.options if d.funnels.get(o.label, ([], {}))[0]]
    stages = list(dict.fromkeys(s for o in shown for s in d.funnels[o.label][0]))
    ws = _sheet(wb, "Funnel", ["Stage", "Measure", *(o.label for o in shown)], {1: 34, 2: 40})
    for s in stages:
        means = [d.funnels[o.label][1] for o in shown]
        ws.append([stage_label(s, shown[0].config), "entered", *(m.get((s, "entered", ""), 0.0) for m in means)])
        reasons = dict.fromkeys(r for m in means for (st, kind, r) in m if st == s and kind == "left" and r)
        for r in reasons:
            ws.append(["", f"left: {r}", *(m.get((s, "left", r), 0.0) for m in means)])
    for row in ws.iter_rows(min_row=2, min_col=3):
        for cell in row:
            cell.number_format = "#,##0.0"


def _spend(wb: Workbook, d: ReportData) -> None:
    spend = programme_spend(d)
    components = list(dict.fromkeys(c for s in spend for c in s.components))
    ws = _sheet(wb, "Spend", ["Option", "Spend per year", "95% CI low", "95% CI high", "Total over the horizon",
                              "95% CI low", "95% CI high", *(f"{c} per year" for c in components)], {1: 34})
    ws.row_dimensions[1].height = 45
    for s in spend:
        ws.append([s.option.label, *(_value(x) for e in (s.per_year, s.total) for x in (e.mean, e.low, e.high)),
                   *(s.components.get(c, 0.0) for c in components)])
    for row in ws.iter_rows(min_row=2, min_col=2):
        for cell in row:
            cell.number_format = FORMATS["gbp"]


def _assumptions(wb: Workbook, d: ReportData) -> None:
    root = CONFIG_DIR.parent
    ws = _sheet(wb, "Assumptions", ["File", "Parameter", "Value used", "Source or assumption", "Assumption",
                                    "Note"], {1: 36, 2: 46, 3: 30, 4: 90, 5: 12, 6: 40})
    _, merged = parameters_used(d.options)
    for (f, key), per_option in merged.items():
        first = next(iter(per_option.values()))
        values = dict.fromkeys(u.used for u in per_option.values())
        value = first.used if len(values) == 1 else "; ".join(f"{lab}: {u.used}" for lab, u in per_option.items())
        notes = "; ".join(dict.fromkeys(u.note for u in per_option.values() if u.note))
        ws.append([str(f.relative_to(root) if f.is_relative_to(root) else f), key, value, source_text(first.row),
                   "yes" if first.row.is_assumption else "", notes])


def _text_stays_text(wb: Workbook) -> None:
    """Every text cell a spreadsheet would take for a formula (a label `=HYPERLINK(...)`) is stored as a
    string shown as text (OWASP's CSV-injection guidance): nothing in the workbook can run."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    cell.data_type = "s"
                    cell.quotePrefix = True


def build_workbook(folder: Path, data: ReportData | None = None) -> Workbook:
    """The workbook of a run or sweep folder (from its ReportData, if already read)."""
    d = data or report_data(folder)
    wb = Workbook()
    wb.remove(wb.active)
    _headline(wb, d)
    _comparison(wb, d.rows)
    _funnel(wb, d)
    _spend(wb, d)
    _assumptions(wb, d)
    _text_stays_text(wb)
    return wb


def write_workbook(folder: Path, data: ReportData | None = None) -> Path:
    """Write comparison.xlsx into a run or sweep folder (temporary file, then rename); return its path."""
    path = Path(folder) / "comparison.xlsx"
    tmp = path.with_name(f".{path.name}.tmp")
    build_workbook(folder, data).save(tmp)
    os.replace(tmp, path)
    return path
