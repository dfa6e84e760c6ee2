"""A planner's own area from a spreadsheet (`pathways-region`): the template holds the default region's numbers,
a filled-in copy comes back as a region whose every number names its cell or its default source, a region made
from the template unchanged runs exactly as the default region, and a bad cell is refused by name, writing nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from test_provenance import NUMBER

from sim.interfaces.region import main
from sim.model import simulate
from sim.model.workforce import calibrate
from sim.params.compose import compose_config
from sim.params.config import load
from sim.params.provenance import provenance_rows
from sim.params.regionfile import region_path


def _template(tmp_path: Path) -> Path:
    book = tmp_path / "area.xlsx"
    main(["template", str(book)])
    return book


def _opened(tmp_path: Path) -> tuple[Path, Workbook, Worksheet]:
    """A fresh template, open at its sheet of staff by role."""
    book = _template(tmp_path)
    wb = load_workbook(book)
    return book, wb, wb["Staff by role"]


def _row(ws, *keys: str) -> int:
    """The sheet row whose key columns hold `keys`."""
    return next(r for r in range(1, ws.max_row + 1)
                if tuple(ws.cell(r, j + 1).value for j in range(len(keys))) == keys)


def _column(ws, header: str) -> int:
    return next(c.column for row in ws.iter_rows(max_row=20) for c in row if c.value == header)


def _new(tmp_path: Path, book: Path, name: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(["new", name, "--from", str(book), "--configs", str(tmp_path / "configs")])
    except SystemExit as e:
        return int(e.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def _kpis(*overrides: str) -> list[list[tuple]]:
    params = load(compose_config(["experiment=quick", "experiment.replications=1", *overrides]))
    params.config.region.workforce.bau = calibrate(params.config.region.workforce)
    return [simulate(params, rep).kpis for rep in range(params.config.experiment.replications)]


@pytest.mark.model
def test_a_region_made_from_the_template_unchanged_runs_exactly_as_the_default(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _template(tmp_path)
    code, err = _new(tmp_path, book, "round_trip", capsys)
    assert code == 0, err
    searchpath = f"hydra.searchpath=[file://{tmp_path / 'configs'}]"
    made = load(compose_config(["region=round_trip", searchpath])).config.region
    assert made.name == "round_trip" and made.borrows_from == "Norfolk and Waveney"
    assert _kpis("region=round_trip", searchpath) == _kpis("region=norfolk_waveney")


@pytest.mark.unit
def test_changed_cells_reach_the_region_with_their_cell_and_the_rest_say_they_were_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book, wb, ws = _opened(tmp_path)
    r = _row(ws, "home_care", "care_worker")
    ws.cell(r, _column(ws, "Establishment (posts)"), 9000)
    ws.cell(r, _column(ws, "Turnover a year"), 0.25)
    ws.cell(r, _column(ws, "Your source"), "Skills for Care, our area, 2025/26")
    region = wb["Region"]
    region.cell(_row(region, "label"), _column(region, "Value"), "My area")
    wb.save(book)
    code, err = _new(tmp_path, book, "my_area", capsys)
    assert code == 0, err
    path = region_path("my_area", tmp_path / "configs")
    rows = {r.key: r for r in provenance_rows([path])}
    post = "region.workforce.groups.home_care.posts.care_worker"
    assert rows[f"{post}.establishment"].value == "9000"
    est = _column(ws, "Establishment (posts)")
    assert f"'Staff by role'!{chr(64 + est)}{r}" in rows[f"{post}.establishment"].comment
    assert "Skills for Care, our area" in rows[f"{post}.turnover"].comment
    assert "kept from Norfolk and Waveney" in rows["region.workforce.retirement_rate"].comment
    missing = [k for k, row in rows.items() if NUMBER.search(row.value) and not row.comment]
    assert not missing
    made = load(compose_config(["region=my_area", f"hydra.searchpath=[file://{tmp_path / 'configs'}]"])).config.region
    assert made.label == "My area" and "roles_and_turnover" not in made.borrows
    assert made.workforce.groups["home_care"].posts["care_worker"].turnover == 0.25


@pytest.mark.unit
def test_bad_cells_are_each_refused_by_sheet_and_cell_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book, wb, ws = _opened(tmp_path)
    headers = ("Establishment (posts)", "Turnover a year", "Vacancy rate (vacancies / posts)")
    est, turnover, vacancy = (_column(ws, h) for h in headers)
    ws.cell(_row(ws, "acute", "hcsw"), est, -5)
    ws.cell(_row(ws, "acute", "hcsw"), turnover, "about a fifth")
    ws.cell(_row(ws, "care_homes", "care_worker"), vacancy, 1.5)
    routes = wb["Who routes reach"]
    routes.cell(_row(routes, "jobcentre"), _column(routes, "Age 16-24"), 0.5)  # the row's age shares sum to 1.25
    wb.save(book)
    code, err = _new(tmp_path, book, "bad_area", capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 5, err  # a heading and one line per bad cell
    for text, sheet in (("-5", "Staff by role"), ("'about a fifth' is not a number", "Staff by role"),
                        ("1.5", "Staff by role"), ("sum to 1.25", "Who routes reach")):
        line = next((x for x in lines if text in x), "")
        assert f"sheet '{sheet}'" in line and re.search(r"cells? [A-Z]+\d+", line) and "allowed" in line, (text, err)
    assert not (tmp_path / "configs").exists()


@pytest.mark.unit
def test_a_name_taken_or_malformed_and_a_file_that_is_not_a_workbook_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _template(tmp_path)
    assert _new(tmp_path, book, "Bad-Name", capsys)[0] == 2
    (tmp_path / "configs" / "region").mkdir(parents=True)
    region_path("taken", tmp_path / "configs").write_text("name: taken\n")
    code, err = _new(tmp_path, book, "taken", capsys)
    assert code == 2 and "exists" in err
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a workbook")
    code, err = _new(tmp_path, fake, "fake", capsys)
    assert code == 2 and "not an .xlsx workbook" in err and len(err.strip().splitlines()) == 2
    with pytest.raises(SystemExit) as e:
        main(["template", str(book)])  # a filled-in workbook is never overwritten
    assert e.value.code == 2
