"""The planner's region workbook: a template pre-filled with the default region's numbers (each with its source
as a cell note), and reading a filled-in copy back, cell by cell, into a region and the provenance of every number.

Which parts of a region are tables here (`TABLES`): the region's name and published vacancies, the employer
groups, staff by role (posts, vacancy rates, turnover, age profiles), roles and their promotion ladders, the
referral routes and who they reach, and the scale of the pathway's capacities. The structure (which groups,
roles and routes there are, sectors, who is promoted from whom) is shown but not read: interventions, courses and
scenarios refer to it by name. Everything else (retirement hazards, referral periods, succession programmes) is
the default region's, kept as it is (`sim.params.regionfile`).
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sim.outputs.workbook import BOLD, HEADER_FILL
from sim.params.errors import did_you_mean
from sim.params.paths import CONFIG_DIR
from sim.params.provenance import format_value
from sim.params.regionfile import (
    DEFAULT_REGION,
    Allowed,
    allowed,
    default_region,
    default_sources,
    put,
    region_yaml,
    source_of,
    value_at,
)
from sim.params.schema import AGE_BANDS, BORROWABLE, PREFERENCES, QUALIFICATIONS, Region

INFO_FILL = PatternFill("solid", fgColor="F2F2F2")  # shown, not read
YOUR_SOURCE = "Your source"
CAPACITY_SOURCE = ("the pathway file's capacities as they are (configs/pathway/default.yaml), sized for "
                   "Norfolk and Waveney")


@dataclass(frozen=True)
class Column:
    header: str
    field: str  # below the row's path ("" for the row's own number)
    info: bool = False  # shown for orientation, not read back
    pct: bool = False  # shown as a percentage (the cell holds the fraction)


@dataclass(frozen=True)
class Row:
    keys: tuple[str, ...]  # the row's names in the key columns
    path: str  # its dotted path in the region
    labels: tuple[str, ...] = ()  # what the keys mean, shown beside them


@dataclass(frozen=True)
class Table:
    sheet: str
    explain: tuple[str, ...]  # the sheet's first rows
    keys: tuple[str, ...]  # headers of the key columns
    columns: tuple[Column, ...]
    rows: Callable[[dict[str, Any]], list[Row]]
    part: str = ""  # the BORROWABLE item the sheet's numbers are (unchanged: borrowed from the default region)
    labels: tuple[str, ...] = ()  # headers of the label columns beside the keys


def _shares(prefix: str, header: str, names: tuple[str, ...] | range) -> tuple[Column, ...]:
    return tuple(Column(f"{header} {n}", f"{prefix}.{i}", pct=True) for i, n in enumerate(names))


def _groups(t: dict[str, Any]) -> dict[str, Any]:
    return dict(t["workforce"]["groups"])


def _posts(t: dict[str, Any]) -> list[Row]:
    roles = t["workforce"]["roles"]
    return [Row((g, r), f"workforce.groups.{g}.posts.{r}", (gv.get("label", g), roles[r].get("label", r)))
            for g, gv in _groups(t).items() for r in gv["posts"]]


TABLES: tuple[Table, ...] = (
    Table("Region", ("The region's name as outputs show it, and its published vacancies (shown beside the model's "
                     "vacancies; the model holds each post's own vacancy rate, on the sheet 'Staff by role').",
                     "The elasticity says how far a programme hire displaces a business-as-usual hire (1: fully, "
                     "0: not at all); keep the default unless you have a local estimate."),
          ("Number",), (Column("Value", ""),),
          lambda t: [Row(("label",), "label", ("Region name",)),
                     Row(("published_vacancies",), "published_vacancies", ("Published vacancies (posts)",)),
                     Row(("bau_vacancy_elasticity",), "workforce.bau_vacancy_elasticity",
                         ("Elasticity of business-as-usual hires to open posts",))],
          labels=("What it is",)),
    Table("Employer groups", ("One row per employer group: rename a group to your own employers' name. The sector "
                              "(grey) is fixed: options and scenarios refer to it.",),
          ("Group",), (Column("Name", "label"), Column("Sector", "sector", info=True)),
          lambda t: [Row((g,), f"workforce.groups.{g}") for g in _groups(t)]),
    Table("Staff by role", ("One row per role in an employer group (an ESR extract or Skills for Care's data for "
                            "your area). Establishment = staff in post + vacancies; vacancy rate = vacancies / "
                            "establishment. Turnover: leavers a year per member of staff, retirements included.",
                            "Age profile: the share of staff in each age band (the six shares of a row sum to 100%). "
                            "A group without a role: set its establishment to 0. Grey columns are not read.",
                            "Each number's source in the default region is in its cell's note; say yours in the "
                            "last column."),
          ("Group", "Role"),
          (Column("Establishment (posts)", "establishment"),
           Column("Vacancy rate (vacancies / posts)", "vacancy_rate", pct=True),
           Column("Turnover a year", "turnover", pct=True),
           Column("Leavers staying in the sector", "within_sector_share", pct=True),
           Column("Growth of posts a year", "growth_per_year", pct=True),
           *_shares("age_profile", "Age", AGE_BANDS)),
          _posts, "roles_and_turnover", ("Group name", "Role name")),
    Table("Roles and ladders", ("One row per role. The career ladder (grey: who is promoted from whom, and which roles "
                                "a resident can enter without a course) is fixed: courses and options refer to it.",
                                "Internal fill share: of a role's posts filled, the share filled by promotion from the "
                                "role below. First-year leaving: the probability a new starter leaves within 12 "
                                "months."),
          ("Role",),
          (Column("Name", "label"), Column("Open without a course", "entry_level", info=True),
           Column("Promoted from", "promoted_from", info=True),
           Column("Internal fill share", "internal_fill_share", pct=True),
           Column("First-year leaving", "first_year_leaving", pct=True)),
          lambda t: [Row((r,), f"workforce.roles.{r}") for r in t["workforce"]["roles"]], "roles_and_turnover"),
    Table("Referral routes", ("One row per route by which residents are referred without a programme (a programme "
                              "switches on outreach, GP advisers or the online academy: leave those at 0).",),
          ("Route",),
          (Column("Name", "label"), Column("Referrals a year", "referrals_per_year"),
           Column("Cost per referral (£)", "cost_per_referral")),
          lambda t: [Row((c,), f"channels.{c}") for c in t["channels"]], "referral_routes"),
    Table("Who routes reach", ("Who each referral route reaches: the shares of a group of columns (deprivation "
                               "quintile, 1 = most deprived; age band; qualification; sector preference) sum to 100%.",
                               "Deadweight: the share of a route's hires that would have happened anyway."),
          ("Route",),
          (Column("Deadweight", "profile.deadweight", pct=True),
           Column("Parent of a young child", "profile.parent_young_child", pct=True),
           Column("Health condition", "profile.health_condition", pct=True),
           Column("Needs digital skills", "profile.digital_need", pct=True),
           *_shares("profile.deprivation_quintile", "Quintile", range(1, 6)),
           *_shares("profile.age_band", "Age", AGE_BANDS),
           *_shares("profile.qualification", "Qualification", QUALIFICATIONS),
           *_shares("profile.sector_preference", "Prefers", PREFERENCES)),
          lambda t: [Row((c,), f"channels.{c}") for c in t["channels"]], "referral_profiles"),
    Table("Pathway capacities", ("Advisers, support places, course seats and interview slots are the pathway file's "
                                 "(configs/pathway/default.yaml, listed below), sized for Norfolk and Waveney. "
                                 "The scale multiplies all of them: 0.5 for an area with half the places.",),
          ("Number",), (Column("Value", ""),),
          lambda t: [Row(("capacity_scale",), "capacity_scale", ("Scale of every pathway capacity",))],
          "pathway_capacities", ("What it is",)),
)


def base_tree() -> tuple[dict[str, Any], dict[str, str]]:
    """The default region as written, with the capacity scale it leaves at the schema's 1, and each number's
    source (dotted path -> the default file's comment)."""
    tree = json.loads(json.dumps(default_region()))  # its YAML anchors shared lists: each post its own
    tree = {**{k: v for k, v in tree.items() if k != "channels"}, "capacity_scale": Region().capacity_scale,
            "channels": tree["channels"]}
    sources = default_sources()
    sources["capacity_scale"] = CAPACITY_SOURCE
    return tree, sources


# ----------------------------------------------------------------------------- the template
def _title(ws: Worksheet, title: str, lines: tuple[str, ...]) -> int:
    """The sheet's first rows: its title and what it holds; returns the header row."""
    ws.cell(1, 1, title).font = Font(bold=True, size=13)
    for i, line in enumerate(lines, start=2):
        ws.cell(i, 1, line).alignment = Alignment(wrap_text=False)
    return len(lines) + 3


def _readme(wb: Workbook, label: str) -> None:
    ws = wb.create_sheet("Read me", 0)
    _title(ws, f"Your area for pathways: a template pre-filled with {label}'s numbers", (
        "Change the numbers on the sheets that follow to your area's (white cells only; grey cells are shown, not "
        "read). Keep the rows, the key columns and the headers as they are.",
        "Every number carries its source in the default region as a cell note (hover over it); write your own in "
        "the column 'Your source'.",
        "Percentages are fractions: type 8% (or 0.08). A number cell must hold a number.",
        "Then:  pathways-region new NAME --from THIS_FILE.xlsx   checks every cell (sheet, cell, allowed range) and "
        "writes configs/region/NAME.yaml, where every number says which cell it came from, or that it was kept "
        f"from {label} and why.",
        "Run it:  pathways region=NAME   (or compare options there: pathways -m scenario=baseline,OTHER region=NAME).",
        "Numbers not on these sheets (retirement hazards by age, when referral routes are open, succession "
        f"programmes) are {label}'s, and the region file says so.",
    ))
    ws.column_dimensions["A"].width = 120


def _table(wb: Workbook, t: Table, tree: dict[str, Any], sources: dict[str, str]) -> Worksheet:
    ws = wb.create_sheet(t.sheet)
    top = _title(ws, t.sheet, t.explain)
    headers = [*t.keys, *t.labels, *(c.header for c in t.columns), YOUR_SOURCE]
    for j, h in enumerate(headers, start=1):
        cell = ws.cell(top, j, h)
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(j)].width = 28 if j <= len(t.keys) + len(t.labels) else 13
    ws.column_dimensions[get_column_letter(len(headers))].width = 40
    for i, row in enumerate(t.rows(tree), start=top + 1):
        for j, text in enumerate([*row.keys, *row.labels], start=1):
            ws.cell(i, j, text).fill = INFO_FILL
        for j, col in enumerate(t.columns, start=len(t.keys) + len(t.labels) + 1):
            path = _join(row.path, col.field)
            value = value_at(tree, path)
            cell = ws.cell(i, j, _shown(value))
            if col.info:
                cell.fill = INFO_FILL
                continue
            if col.pct:
                cell.number_format = "0.0##%"
            source, _ = source_of(path, sources)
            if source:
                cell.comment = Comment(f"{DEFAULT_REGION}: {source}", "pathways", width=420, height=160)
    ws.freeze_panes = ws.cell(top + 1, len(t.keys) + 1)
    return ws


def _shown(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value


def _join(path: str, sub: str) -> str:
    return f"{path}.{sub}" if sub else path


def _capacities(ws: Worksheet) -> None:
    """Below the scale, the capacities it multiplies (not read)."""
    import yaml

    p = yaml.safe_load((CONFIG_DIR / "pathway" / "default.yaml").read_text())
    listed = [("Advisers (engagement)", p["engagement"]["advisers"]),
              *((f"{s['label']}: places", s["places"]) for s in p["support"].values()),
              *((f"{c['label']}: places a cohort", c["places_per_cohort"]) for c in p["training"]["courses"].values()),
              ("Interview slots", p["recruitment"]["interview_slots"])]
    start = ws.max_row + 2
    ws.cell(start, 1, "The pathway's capacities in Norfolk and Waveney (scale 1); not read").font = BOLD
    for i, (what, places) in enumerate(listed, start=start + 1):
        for j, v in enumerate((what, places), start=1):
            ws.cell(i, j, v).fill = INFO_FILL


def build_template() -> Workbook:
    tree, sources = base_tree()
    wb = Workbook()
    wb.remove(wb.active)
    _readme(wb, str(tree["label"]))
    for t in TABLES:
        ws = _table(wb, t, tree, sources)
        if t.sheet == "Pathway capacities":
            _capacities(ws)
    return wb


def write_template(path: Path) -> Path:
    """Write the template workbook (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    build_template().save(tmp)
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- reading a filled-in copy
@dataclass
class Read:
    """A filled-in workbook read back: the numbers and names it sets (dotted path -> value) and where each came
    from (path -> 'Sheet'!A1 or A1:F1), what the planner said of each row's source, and the problems found."""

    values: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)
    row_source: dict[str, str] = field(default_factory=dict)  # path -> "Your source" of its row
    changed_parts: set[str] = field(default_factory=set)  # BORROWABLE items with a number changed
    errors: list[str] = field(default_factory=list)


def _header_row(ws: Worksheet, first: str) -> int | None:
    for i in range(1, min(ws.max_row, 40) + 1):
        if ws.cell(i, 1).value == first:
            return i
    return None


def _number(raw: Any, rule: Allowed) -> tuple[float | None, str | None]:
    """The cell's number, or None and what is wrong."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, f"empty: allowed: {rule.text()}"
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None, f"{raw!r} is not a number: allowed: {rule.text()}"
    bad = rule.check(float(raw))
    return (None, f"{raw!r}: allowed: {bad}") if bad else (raw, None)


def read_workbook(path: Path) -> Read:
    """Every cell the template's tables hold, checked against the schema's ranges; `Read.errors` lists each bad
    cell (sheet, cell, row, column, value, allowed range), one line each."""
    tree, _ = base_tree()
    out = Read()
    name = Path(path).name
    try:
        wb = load_workbook(path, data_only=True)
    except Exception as e:  # openpyxl raises zipfile, KeyError and its own errors for a file that is not a workbook
        out.errors.append(f"{name}: not an .xlsx workbook ({type(e).__name__}); allowed: a copy of the template "
                          "written by pathways-region template")
        return out
    for t in TABLES:
        if t.sheet not in wb.sheetnames:
            out.errors.append(f"{name}: sheet '{t.sheet}' is missing; allowed: the template's sheets "
                              f"({', '.join(x.sheet for x in TABLES)})")
            continue
        _read_table(wb[t.sheet], t, tree, name, out)
    return out


def _read_table(ws: Worksheet, t: Table, tree: dict[str, Any], name: str, out: Read) -> None:
    where = f"{name}: sheet '{t.sheet}'"
    top = _header_row(ws, t.keys[0])
    if top is None:
        out.errors.append(f"{where}: no header row starting '{t.keys[0]}' in column A; allowed: the template's layout")
        return
    headers = {str(ws.cell(top, j).value).strip(): j for j in range(1, ws.max_column + 1) if ws.cell(top, j).value}
    missing = [c.header for c in t.columns if not c.info and c.header not in headers]
    if missing:
        columns = f"column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
        out.errors.append(f"{where}, row {top}: {columns} missing; allowed: the template's headers")
        return
    expected = {r.keys: r for r in t.rows(tree)}
    seen: set[tuple[str, ...]] = set()
    i = top + 1
    while any(ws.cell(i, j + 1).value not in (None, "") for j in range(len(t.keys))):
        keys = tuple(str(ws.cell(i, j + 1).value or "").strip() for j in range(len(t.keys)))
        row = expected.get(keys)
        if row is None or keys in seen:
            names = [" / ".join(k) for k in expected]
            what = ("appears twice" if keys in seen
                    else f"is not a row of the template{did_you_mean(' / '.join(keys), names)}")
            allowed_rows = "; ".join(names)
            out.errors.append(f"{where}, row {i}: {' / '.join(keys)} {what}; allowed: one row each of {allowed_rows}")
            i += 1
            continue
        seen.add(keys)
        _read_row(ws, t, row, i, headers, tree, where, out)
        i += 1


def _read_row(ws: Worksheet, t: Table, row: Row, i: int, headers: dict[str, int], tree: dict[str, Any],
              where: str, out: Read) -> None:
    source = ws.cell(i, headers[YOUR_SOURCE]).value if YOUR_SOURCE in headers else None
    shares: dict[str, list[tuple[str, float | None]]] = {}
    for col in t.columns:
        if col.info:
            continue
        j = headers[col.header]
        path = _join(row.path, col.field)
        ref = f"{get_column_letter(j)}{i}"
        at = f"{where}, cell {ref} (row {i}, column {get_column_letter(j)}: {col.header} of {' / '.join(row.keys)})"
        raw = ws.cell(i, j).value
        default = value_at(tree, path)
        if isinstance(default, str):
            if not isinstance(raw, str) or not raw.strip():
                out.errors.append(f"{at} = {raw!r}: allowed: a name (text)")
                continue
            value: Any = raw.strip()
        else:
            rule = allowed(path)
            assert rule is not None, path  # every number on the sheets has a range in the schema
            value, problem = _number(raw, rule)
            if problem:
                out.errors.append(f"{at} = {problem}")
            if rule.shares:
                shares.setdefault(path.rsplit(".", 1)[0], []).append((ref, value))
            if value is None:
                continue
        out.values[path], out.cells[path] = value, f"'{t.sheet}'!{ref}"
        if source and str(source).strip():
            out.row_source[path] = str(source).strip()
        if t.part and value != default:
            out.changed_parts.add(t.part)
    for list_path, cells in shares.items():
        values = [v for _, v in cells]
        if None in values:
            continue
        total = math.fsum(v for v in values if v is not None)
        span = f"{cells[0][0]}:{cells[-1][0]}"
        if abs(total - 1) > 1e-6:
            out.errors.append(f"{where}, cells {span} (row {i}: {list_path.rsplit('.', 1)[-1]} of "
                              f"{' / '.join(row.keys)}) sum to {total:.4g}: allowed: {len(values)} shares summing to 1")
        else:
            out.cells[list_path] = f"'{t.sheet}'!{span}"


def borrowed(read: Read) -> list[str]:
    """The parts of the region the workbook left wholly as the default region's (borrowed from it)."""
    return [p for p in BORROWABLE if p not in read.changed_parts]


# ----------------------------------------------------------------------------- the region file
def _short(source: str, width: int) -> str:
    """A default's source, shortened for one line; still saying it is an assumption when it was one."""
    text = textwrap.shorten(source, width=width, placeholder=" ...")
    if "assumption" in source.lower() and "assumption" not in text.lower():
        text += " (in part an assumption)"
    return text


def _default_source(path: str, sources: dict[str, str]) -> str:
    """The default region's source of the number at `path`: its own comment, or a pointer to the comment of the
    mapping that holds it (one comment for a whole row of numbers) with its beginning."""
    source, key = source_of(path, sources)
    if not source:
        return ""
    if key == path:
        return _short(source, 200)
    return f"see its comment on region.{key}: {_short(source, 100)}"


def region_text(read: Read, name: str, workbook: str, today: str) -> str:
    """The new region's YAML: the default region with the workbook's numbers, every number's comment naming
    its workbook cell, or saying it was kept from the default region with the default's source."""
    tree, sources = base_tree()
    default_label = str(tree["label"])
    kept = f"kept from {default_label} (configs/region/{DEFAULT_REGION}.yaml)"
    for path, value in read.values.items():
        put(tree, path, value)
    if tree["label"] == default_label:  # a region of its own name: the report would confuse it with the default
        tree["label"] = name.replace("_", " ").capitalize()
        read.cells.pop("label", None)
    borrows = borrowed(read)
    head = {"name": name, "label": tree["label"]}
    if borrows:
        head |= {"borrows": borrows, "borrows_from": default_label}
    tree = {**head, **{k: v for k, v in tree.items() if k not in ("name", "label")}}
    defaults, _ = base_tree()
    comments: dict[str, str] = {
        "label": (f"{workbook} {read.cells['label']}" if "label" in read.cells
                  else f"from the region's name: the workbook kept {default_label}'s"),
        "borrows": f"what the workbook left as {default_label}'s, unchanged (pathways-region)",
    }

    def note(path: str, value: Any) -> None:
        if path in comments or isinstance(value, dict):
            return
        default = value_at(defaults, path)
        source = _default_source(path, sources)
        cell = read.cells.get(path)
        if cell is None:
            text = kept
        elif value == default:
            text = f"{workbook} {cell}, as in {default_label}"
        else:
            given = read.row_source.get(path) or read.row_source.get(f"{path}.0", "")
            comments[path] = (f"{workbook} {cell}" + (f": {given}" if given else "")
                              + f" ({default_label}: {format_value(default)})")
            return
        comments[path] = f"{text}: {source}" if source else text

    def walk(node: dict[str, Any], path: str) -> None:
        for key, value in node.items():
            p = f"{path}.{key}" if path else str(key)
            if isinstance(value, dict):
                walk(value, p)
            elif key not in ("name", "borrows_from"):
                note(p, value)

    walk(tree, "")
    header = [f"{tree['label']}: region `{name}`, made by pathways-region on {today} from {workbook}, a copy of the "
              f"template of {default_label}'s numbers.",
              "A number from the workbook names its sheet and cell (and the source its row gives, if any); a number "
              f"the workbook does not cover, or left as it was, gives {default_label}'s source.",
              f"Run it: pathways region={name}"]
    return region_yaml(tree, comments, header)
