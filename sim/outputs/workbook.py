"""The board pack's workbook: `comparison.xlsx` beside a sweep's comparison.csv and report.html.

Sheets: Headline (options x the report's HEADLINE_COLUMNS, each estimate and its 95% CI as one readable
cell, the numbers behind them in a collapsed column group), Comparison (comparison.csv with its measures and
groups in words, number formats and a filter), Funnel (mean people per replication entering and leaving each
stage, by option), Spend (the yearly programme spend by option and component) and Assumptions (every parameter
the options used, with its value, as a number where it is one, and source). Every sheet prints as a board pack
(A4 landscape, one page wide, header row and names repeated on every page). Each sheet's table starts on its
first free row (`_table`), so a block can be written above it. Numbers and words come from the same functions
as the report (sim/outputs/estimates.py, formatting.py), so the workbook and the page cannot disagree. Written
with openpyxl (formats, outlines and print settings without Excel), atomically like every other results file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from sim.analysis.compare import COMPARISON_HEADER
from sim.experiment.replications import FORMULA_START
from sim.outputs import recommendation
from sim.outputs.estimates import (
    HEADLINE_COLUMNS,
    estimate_text,
    headline_estimates,
    parameters_used,
    programme_spend,
    source_text,
)
from sim.outputs.folder import ReportData, report_data, stage_label
from sim.outputs.formatting import excel_format, group_label, reason_label
from sim.params.kpis import KPI
from sim.params.labels import label_of
from sim.params.paths import CONFIG_DIR

SHEET_FORMATS = {"people": "#,##0", "gbp": "£#,##0", "ratio": "0.00", "n": "0"}
HEADER_FILL = PatternFill("solid", fgColor="E8EEF5")
BOLD = Font(bold=True)
TOP = Alignment(wrap_text=True, vertical="top")
CHARS_PER_LINE = 1.15  # characters per unit of column width (for a row's height; a bold header's are 0.8 of it)


def _value(x: Any) -> Any:
    """A cell value: NaN becomes an empty cell, an infinity the CSV's text ('inf', '-inf': a cost ratio that is
    not bounded, see compare.cost_effect); Excel has neither."""
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else repr(x)
    return x


def _typed(text: str) -> Any:
    """A parameter's value as the spreadsheet should hold it: a number when it is one (3, 0.25, 1e-3), else text."""
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else text


def _print_setup(ws: Worksheet, header_row: int) -> None:
    """A sheet that prints as a board pack: A4 landscape, one page wide, its header row and first column (the
    option or row names) on every page, the sheet's name and the page number on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.print_title_cols = "A:A"
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6, header=0.3, footer=0.3)
    ws.oddHeader.center.text = "&A"
    ws.oddFooter.center.text = "Page &P of &N"


def _table(ws: Worksheet, header: list[str], widths: dict[int, float], default: float = 14, collapsed: int = 0) -> int:
    """Write a table's header on the sheet's next free row (row 1, or two below what is already there, so a
    block can stand above it), styled, frozen, tall enough for its longest label and repeated on every printed
    page; set the column widths and print settings, and collapse the last `collapsed` columns. Returns the
    header's row."""
    row = 1 if ws.max_row == 1 and ws["A1"].value is None else ws.max_row + 2
    for col, text in enumerate(header, start=1):
        cell = ws.cell(row, col, text)
        cell.font, cell.fill, cell.alignment = BOLD, HEADER_FILL, TOP
    width = {col: widths.get(col, default) for col in range(1, len(header) + 1)}
    for col, w in width.items():
        ws.column_dimensions[get_column_letter(col)].width = w
    if collapsed:
        _collapse(ws, len(header) - collapsed + 1, len(header))
    _fit_height(ws, row)
    ws.freeze_panes = f"B{row + 1}"
    _print_setup(ws, row)
    return row


def _fit_height(ws: Worksheet, row: int, cells: Sequence[Cell] | None = None) -> None:
    """A row tall enough for its longest wrapped text in its column's width (a spreadsheet does not measure
    rows it did not write itself, so a printed row would otherwise cut its text). `cells`: the row's, when the
    caller has them (finding them costs a pass over the whole sheet)."""
    dims = ws.column_dimensions
    lines = [math.ceil(len(c.value) / ((dims[c.column_letter].width or 13) * CHARS_PER_LINE * (0.8 if c.font.b else 1)))
             for c in (ws[row] if cells is None else cells)
             if isinstance(c.value, str) and not dims[c.column_letter].hidden]
    ws.row_dimensions[row].height = 15 * max(1, *lines)


def _append(ws: Worksheet, values: list[Any], formats: dict[int, str] | None = None) -> None:
    """One row, every cell wrapped and top-aligned, tall enough for its text, with the number formats given
    by column."""
    cells = [Cell(ws, value=v) for v in values]  # appended as cells: each learns its row (max_row reads the sheet)
    for col, cell in enumerate(cells, start=1):
        cell.alignment = TOP
        if formats and col in formats:
            cell.number_format = formats[col]
    ws.append(cells)
    if cells:
        _fit_height(ws, cells[0].row, cells)


def _note(ws: Worksheet, text: str, columns: int) -> None:
    """A paragraph below a table, wrapped across its first `columns` columns (so it prints within the page)."""
    ws.append([])
    _paragraph(ws, text, columns)


def _paragraph(ws: Worksheet, text: str, columns: int, bold: bool = False) -> None:
    """A paragraph on the next row, wrapped across the first `columns` columns (their widths already set)."""
    ws.append([text])
    row = ws.max_row
    if bold:
        ws.cell(row, 1).font = BOLD
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=columns)
    ws.cell(row, 1).alignment = TOP
    width = sum(ws.column_dimensions[get_column_letter(c)].width or 13 for c in range(1, columns + 1))
    ws.row_dimensions[row].height = 15 * math.ceil(len(text) / (width * CHARS_PER_LINE))


def _collapse(ws: Worksheet, first: int, last: int) -> None:
    """Columns first..last (1-based) in one outline group, collapsed: kept for calculation, not printed. Set
    before the rows are written, so that row heights leave the hidden columns out."""
    for col in range(first, last + 1):
        dim = ws.column_dimensions[get_column_letter(col)]
        dim.outline_level, dim.hidden = 1, True


def _headline(wb: Workbook, d: ReportData) -> None:
    """Options x HEADLINE_COLUMNS, each estimate with its interval as one readable cell; the same numbers for
    calculation (estimate, 95% CI low, high) in a collapsed column group to the right."""
    ws = wb.create_sheet("Headline")
    text_cols = [c.label for c in HEADLINE_COLUMNS]
    numbers = [f"{c.label}: {part}" for c in HEADLINE_COLUMNS for part in ("estimate", "95% CI low", "95% CI high")]
    first = 3 + len(text_cols)
    _recommendation(ws, d, {1: 26, 2: 30}, 17, first - 1)
    _table(ws, ["Option", "Interventions", *text_cols, *numbers], {1: 26, 2: 30}, default=17, collapsed=len(numbers))
    formats = {first + 3 * k + j: excel_format(c.kind) for k, c in enumerate(HEADLINE_COLUMNS) for j in range(3)}
    for o, estimates in headline_estimates(d):
        label = o.label + (" (reference)" if o.is_reference and len(d.options) > 1 else "")
        texts = [estimate_text(e, c.kind, signed=c.show == "diff") for e, c in zip(estimates, HEADLINE_COLUMNS)]
        values = [v for e in estimates for v in ((e.note, None, None) if e.note else
                                                  (_value(e.mean), _value(e.low), _value(e.high)))]
        _append(ws, [label, o.description, *texts, *values], formats)
    _note(ws, f"Means over {d.n_reps} replications with 95% confidence intervals in brackets; changes against the "
              "baseline are paired differences (common random numbers). The numbers behind each cell are in the "
              "grouped columns to the right (click + above the column letters to open them). Same numbers as "
              "report.html.", first - 1)


def _recommendation(ws: Worksheet, d: ReportData, widths: dict[int, float], default: float, columns: int) -> None:
    """What to fund, the report's opening sentences, above the Headline table (nothing at the files' values), and
    what the region's calibration changed (`sections.calibration_change`)."""
    from sim.outputs.sections import calibration_change, region_of

    lines = recommendation.sentences(recommendation.read(d.folder))
    if not lines:
        return
    lines += calibration_change(d.folder, region_of(d))["calibrated"]
    for col in range(1, columns + 1):
        ws.column_dimensions[get_column_letter(col)].width = widths.get(col, default)
    _paragraph(ws, "What to fund", columns, bold=True)
    for line in lines:
        _paragraph(ws, line, columns)


COMPARISON_COLUMNS = (  # (comparison.csv's field, its header here); None: a label made here
    ("option", "Option"), (None, "Measure"), (None, "For"), ("mean", "Mean"), ("ci_low", "95% CI low"),
    ("ci_high", "95% CI high"), ("n", "Replications"), ("diff_mean", "Change against the reference"),
    ("diff_ci_low", "Change: 95% CI low"), ("diff_ci_high", "Change: 95% CI high"), ("diff_n", "Pairs"),
    ("unpaired_diff_ci_low", "Unpaired change: 95% CI low"), ("unpaired_diff_ci_high", "Unpaired change: 95% CI high"),
    ("reference", "Reference"), ("var_ratio", "Variance ratio (paired / unpaired)"),
    ("expected_diff_mean", "Expected change over the parameter sets"), ("expected_diff_low", "Expected: 2.5% point"),
    ("expected_diff_high", "Expected: 97.5% point"), ("parameter_sets", "Parameter sets"),
    ("scenario", "scenario"), ("kpi", "kpi"), ("group", "group"),
)
RAW = 3  # the last columns: comparison.csv's own names, grouped and collapsed


def _comparison(wb: Workbook, d: ReportData) -> None:
    """comparison.csv with its measures and groups in words, each number in its KPI's unit and the decimals its
    interval needs (a format: the cell keeps every digit), filterable; the CSV's own names in collapsed columns."""
    ws = wb.create_sheet("Comparison")
    row = _table(ws, [h for _, h in COMPARISON_COLUMNS], {1: 26, 2: 28, 3: 22, 7: 13, 14: 18}, default=11,
                 collapsed=RAW)
    last = len(COMPARISON_COLUMNS)
    index = {f: k for k, f in enumerate(COMPARISON_HEADER)}
    configs = {o.label: o.config for o in d.options}
    for r in d.rows:
        kpi = KPI.get(r[index["kpi"]])
        kind = kpi.unit if kpi else "small"
        change = "pp" if kind == "pct" else kind
        config = configs.get(r[index["option"]], {})
        labels = {1: kpi.short if kpi else label_of(r[index["kpi"]]), 2: group_label(r[index["group"]], config)}
        _append(ws, [_value(r[index[f]]) if f else labels[k] for k, (f, _) in enumerate(COMPARISON_COLUMNS)], {
            **dict.fromkeys((4, 5, 6), excel_format(kind, r[index["ci_low"]], r[index["ci_high"]])),
            **dict.fromkeys((8, 9, 10), excel_format(change, r[index["diff_ci_low"]], r[index["diff_ci_high"]])),
            **dict.fromkeys((12, 13), excel_format(change, r[index["unpaired_diff_ci_low"]],
                                                   r[index["unpaired_diff_ci_high"]])),
            **dict.fromkeys((16, 17, 18), excel_format(change, r[index["expected_diff_low"]],
                                                       r[index["expected_diff_high"]])),
            7: SHEET_FORMATS["n"], 11: SHEET_FORMATS["n"], 15: SHEET_FORMATS["ratio"], 19: SHEET_FORMATS["n"]})
    ws.auto_filter.ref = f"A{row}:{get_column_letter(last)}{ws.max_row}"


def _funnel(wb: Workbook, d: ReportData) -> None:
    shown = [o for o in d.options if d.funnels.get(o.label, ([], {}))[0]]
    stages = list(dict.fromkeys(s for o in shown for s in d.funnels[o.label][0]))
    ws = wb.create_sheet("Funnel")
    _table(ws, ["Stage", "Measure (people per replication)", *(o.label for o in shown)], {1: 30, 2: 44}, default=18)
    people = {3 + k: SHEET_FORMATS["people"] for k in range(len(shown))}
    config = shown[0].config if shown else {}
    for s in stages:
        means = [d.funnels[o.label][1] for o in shown]
        _append(ws, [stage_label(s, config), "entered", *(m.get((s, "entered", ""), 0.0) for m in means)], people)
        reasons = dict.fromkeys(r for m in means for (st, kind, r) in m if st == s and kind == "left" and r)
        for r in reasons:
            _append(ws, ["", f"left: {reason_label(r, *(o.config for o in shown))}",
                         *(m.get((s, "left", r), 0.0) for m in means)], people)


def _spend(wb: Workbook, d: ReportData) -> None:
    spend = programme_spend(d)
    components = list(dict.fromkeys(c for s in spend for c in s.components))
    ws = wb.create_sheet("Spend")
    _table(ws, ["Option", "Spend per year", "Spend per year: 95% CI low", "Spend per year: 95% CI high",
                "Total over the horizon", "Total: 95% CI low", "Total: 95% CI high",
                *(f"{c}: spend per year" for c in components)], {1: 26}, default=16)
    money = {col: SHEET_FORMATS["gbp"] for col in range(2, 8 + len(components))}
    for s in spend:
        _append(ws, [s.option.label, *(_value(x) for e in (s.per_year, s.total) for x in (e.mean, e.low, e.high)),
                     *(s.components.get(c, 0.0) for c in components)], money)


def _assumptions(wb: Workbook, d: ReportData) -> None:
    root = CONFIG_DIR.parent
    ws = wb.create_sheet("Assumptions")
    _table(ws, ["Parameter", "Value used", "Source or assumption", "Assumption", "Note", "File"],
           {1: 40, 2: 18, 3: 80, 4: 11, 5: 30, 6: 30})
    _, merged = parameters_used(d.options)
    for (f, key), per_option in merged.items():
        first = next(iter(per_option.values()))
        values = dict.fromkeys(u.used for u in per_option.values())
        value = _typed(first.used) if len(values) == 1 else \
            "; ".join(f"{lab}: {u.used}" for lab, u in per_option.items())
        notes = "; ".join(dict.fromkeys(u.note for u in per_option.values() if u.note))
        _append(ws, [key, value, source_text(first.row), "yes" if first.row.is_assumption else "", notes,
                     str(f.relative_to(root) if f.is_relative_to(root) else f)])


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
    _comparison(wb, d)
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
