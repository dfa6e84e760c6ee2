"""The board pack prints: comparison.xlsx through LibreOffice and report.html through headless Chromium, each to PDF,
with bounded page counts and every column of every table on the page.

Needs Debian's `libreoffice-calc`, `poppler-utils` (pdftotext, pdfinfo) and `chromium` (`make test` installs them);
a missing one fails the test rather than skipping it.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CHROMIUM, run_cli
from openpyxl import load_workbook

from sim.outputs.sections import SECTIONS

pytestmark = pytest.mark.system

SCENARIOS = "scenario=baseline,west_norfolk_local_plan,skills_plan_entry_retention"
# A printed sheet row holds at most two lines of 15 pt; an A4 landscape page has about 540 pt inside its margins,
# less a header row of at most 60 pt, and fitting one page wide only shrinks rows: at least 16 rows a page.
ROWS_PER_PAGE = 16


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is required: apt-get install -y libreoffice-calc poppler-utils (make test does it)"
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's first comparison, short: three options, three replications, report and workbook written."""
    folder = tmp_path_factory.mktemp("print") / "sweep"
    r = run_cli("-m", "experiment=quick", "experiment.replications=3", "experiment.progress=false", SCENARIOS,
                f"hydra.sweep.dir={folder}")
    assert r.returncode == 0, r.stderr
    return folder


def _pages(pdf: Path) -> list[str]:
    """The text of each page (pdftotext -raw: a wrapped cell's lines stay together)."""
    n = int(re.search(r"Pages:\s+(\d+)", subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True,
                                                         text=True, check=True).stdout).group(1))
    return [subprocess.run([_tool("pdftotext"), "-raw", "-f", str(p), "-l", str(p), str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout for p in range(1, n + 1)]


def _landscape(pdf: Path, page: int) -> bool:
    out = subprocess.run([_tool("pdfinfo"), "-f", str(page), "-l", str(page), str(pdf)], capture_output=True,
                         text=True, check=True).stdout
    w, h = map(float, re.search(r"size:\s+([\d.]+) x ([\d.]+)", out).groups())
    return w > h


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_workbook_prints_each_sheet_landscape_one_page_wide(sweep: Path, tmp_path: Path) -> None:
    soffice = _tool("soffice")
    r = subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to", "pdf",
                        "--outdir", str(tmp_path), str(sweep / "comparison.xlsx")],
                       capture_output=True, text=True, timeout=240)
    pdf = tmp_path / "comparison.pdf"
    assert r.returncode == 0 and pdf.exists(), r.stderr
    pages = _pages(pdf)
    wb = load_workbook(sweep / "comparison.xlsx")
    by_sheet: dict[str, list[int]] = {}
    for k, text in enumerate(pages, start=1):
        by_sheet.setdefault(text.strip().splitlines()[0].strip(), []).append(k)  # each page's header: the sheet
    assert list(by_sheet) == wb.sheetnames
    assert all(_landscape(pdf, k) for k in range(1, len(pages) + 1))
    assert len(by_sheet["Headline"]) <= 2
    for ws in wb.worksheets:
        header = next(row for row in ws.iter_rows() if row[0].value)
        shown = [c.value for c in header if not ws.column_dimensions[c.column_letter].hidden]
        hidden = [c.value for c in header if ws.column_dimensions[c.column_letter].hidden]
        text = [_squash(pages[k - 1]) for k in by_sheet[ws.title]]
        rows = sum(1 for row in ws.iter_rows(min_row=header[0].row + 1) if any(c.value is not None for c in row))
        assert len(text) <= max(1, math.ceil(rows / ROWS_PER_PAGE)), (ws.title, len(text), rows)
        for page in text:  # the header row on every page, every visible column whole, the collapsed ones not
            assert all(_squash(h) in page for h in shown), (ws.title, [h for h in shown if _squash(h) not in page])
            assert not any(_squash(h) in page for h in hidden if h not in shown), ws.title
        if ws.title != "Headline":
            continue
        for row in ws.iter_rows(min_row=2, max_row=ws.max_row):
            if row[1].value:  # an option: its name and each readable estimate on the page
                assert all(_squash(str(c.value)) in "".join(text) for c in row[:len(shown)]), row[0].value


class _Tables(HTMLParser):
    """Each table's header cells and each row's last cell, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, list[str]]] = []
        self.cell: list[str] | None = None
        self.row: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append({"header": [], "last": []})
        elif tag in ("th", "td"):
            self.cell = []
        elif tag == "tr":
            self.row = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self.cell is not None:
            text = " ".join("".join(self.cell).split())
            if tag == "th":
                self.tables[-1]["header"].append(text)
            self.row.append(text)
            self.cell = None
        elif tag == "tr" and self.row and self.tables and self.tables[-1]["header"] is not self.row:
            self.tables[-1]["last"].append(self.row[-1])

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def test_report_prints_every_table_whole(sweep: Path, tmp_path: Path) -> None:
    assert CHROMIUM.exists(), "headless Chromium is required: apt-get install -y chromium (make test does it)"
    pdf = tmp_path / "report.pdf"
    r = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                        f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}",
                        (sweep / "report.html").resolve().as_uri()], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and pdf.exists(), r.stderr
    pages = _pages(pdf)
    text = _squash("".join(pages))
    html = (sweep / "report.html").read_text()
    parser = _Tables()
    parser.feed(html)
    assert len(parser.tables) >= 8
    for t in parser.tables:
        missing = [h for h in t["header"] + t["last"] if _squash(h) not in text]
        assert not missing, missing
    # each section starts a page, a figure takes at most a page, and a page holds at least 20 table rows (A4 has
    # about 770 pt inside its margins; a row of 7.5 pt text wraps to at most three lines, about 33 pt)
    rows, figures = html.count("<tr>"), html.count("<img")
    assert len(pages) <= len(SECTIONS) + figures + math.ceil(rows / 20), (len(pages), rows, figures)
    assert "spend" in re.findall(r'<section id="([a-z-]+)" class="wide"', html)
    start = next(k for k, p in enumerate(pages, start=1) if p.startswith("Programme spend per year"))
    assert _landscape(pdf, start)
