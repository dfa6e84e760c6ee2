"""Reporting: the summary table a planner reads at the end of a run, and the HTML report.

`write_report` turns a run or sweep folder into one self-contained `report.html`: headline
table, vacancy trajectories, funnel, paired effects against the baseline, cost against effect,
equity, bottlenecks, the assumptions and sources behind every number, and the run details.
Figures are matplotlib PNGs embedded as base64; the page loads nothing from anywhere.

Data preparation is Python, markup is Jinja2 (autoescaped) in sim/templates/: `report.html.j2`
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

import base64
import csv
import datetime
import functools
import io
import json
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .compare import COMPARISON_HEADER, COST_EFFECT, Job, comparison_rows, find_jobs, reference_job, status_lines
from .experiment import write_text
from .provenance import Provenance, UsedParameter, file_header, provenance_rows, used_parameters
from .stats import mean_ci, paired_difference

HEADLINE = (
    ("referrals", "all", "Residents referred in the window", 0),
    ("hires", "all", "Hires of those residents (gross)", 0),
    ("net_hires", "all", "Hires net of deadweight", 0),
    ("sustained_12m", "all", "Still in post after 12 months", 0),
    ("net_sustained_12m", "all", "Sustained 12 months, net of deadweight", 0),
    ("early_leavers", "all", "Left within 12 months", 0),
    ("time_to_start_mean", "all", "Days from referral to start (mean)", 0),
    ("staff_in_post_mean", "all", "Staff in post (mean over the window)", 0),
    ("vacancies_mean", "all", "Vacancies (mean over the window)", 0),
    ("vacancy_rate", "all", "Vacancy rate (mean over the window)", 3),
    ("bau_hires", "all", "Business-as-usual hires", 0),
    ("programme_cost", "all", "Programme cost (GBP)", 0),
)
NO_REFERENCE = ("Cost per additional net sustained job, per vacancy-year avoided: n/a for a single run "
                "(they are against a reference: pathways -m scenario=baseline,<this scenario>)")


def _num(x: float, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}f}"


def summary_table(summary: list[tuple], scenario: str, published_vacancies: float | None = None,
                  label: str = "") -> str:
    """Headline KPIs of one scenario, mean and 95% CI, as aligned text headed by the option's name."""
    by_key = {(k, g): (m, lo, hi, n) for s, k, g, m, lo, hi, n in summary if s == scenario}
    lines = []
    width = max(len(label) for _, _, label, _ in HEADLINE)
    n_reps = max((n for (_, _, _, n) in by_key.values()), default=0)
    lines.append(f"{label or scenario}: mean and 95% confidence interval over {n_reps} replications")
    for kpi, group, label, digits in HEADLINE:
        if (kpi, group) not in by_key:
            continue
        m, lo, hi, _n = by_key[(kpi, group)]
        ci = f"[{_num(lo, digits)}, {_num(hi, digits)}]" if not math.isnan(lo) else ""
        lines.append(f"  {label:<{width}}  {_num(m, digits):>12}  {ci}")
    if published_vacancies:
        lines.append(f"  {'Published vacancy level (calibration)':<{width}}  {_num(published_vacancies, 0):>12}")
    lines.append(f"  {NO_REFERENCE}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- sweep headline
RATIO_KIND = "gbpk"  # how a cost per unit of effect prints, everywhere
HEADLINE_KPIS = (  # (kpi, label, kind of number, shown against the reference)
    ("hires", "gross hires", "count", False),
    ("net_sustained_12m", "net sustained 12m", "count", True),
    ("staff_in_post_mean", "staff in post", "count", True),
    ("bau_hires", "BAU hires", "count", True),
    ("programme_cost", "programme cost", "gbp", False),
    ("cost_per_net_sustained_job", "cost per additional net sustained job", "ratio", False),
    ("cost_per_vacancy_year_avoided", "cost per vacancy-year avoided", "ratio", False),
)


def headline_text(rows: list[tuple]) -> str:
    """Per option: mean of the headline KPIs and, for effects, the paired difference vs the reference [95% CI]."""
    st = Stats(rows)
    by = st.rows
    options = list(dict.fromkeys(r[0] for r in rows))
    out = []
    for opt in options:
        parts = []
        for kpi, label, kind, vs in HEADLINE_KPIS:
            r = by.get((opt, kpi, "all"))
            if r is None:
                continue
            if kind == "ratio":
                parts.append(f"{label} {estimate_text(ratio_estimate(st, opt, kpi), RATIO_KIND)}")
                continue
            text = f"{label} {_number(r['mean'], kind, digits=2 if kind == 'pct' else None)}"
            d, lo, hi = r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]
            if vs and math.isfinite(d) and (d != 0 or lo != hi):
                dkind = "pp" if kind == "pct" else kind
                digits = _digits(dkind, lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None
                text += (f" (vs reference {_number(d, dkind, True, digits)} "
                         f"[{_number(lo, dkind, True, digits)}, {_number(hi, dkind, True, digits)}])")
            parts.append(text)
        out.append(f"{opt}: " + "; ".join(parts))
    return "\n".join(out)


# ============================================================================= the HTML report
@dataclass(frozen=True)
class Piece:
    """One table cell or inline phrase; the `piece` macro of templates/macros.html.j2 draws it.

    kind: est (a number, with `ci` an interval and `css` a shading class), muted, ci, strong, code
    (`title` on hover), badge (`css` its kind), name (an option's name, `css` its colour), option
    (a name, `title` a badge, `ci` a description), value or join (`parts` joined by `text`).
    """

    kind: str
    text: str = ""
    ci: str = ""
    css: str = ""
    title: str = ""
    parts: tuple = ()


@dataclass(frozen=True)
class Table:
    header: list
    rows: list[list]
    cls: str = ""


@dataclass(frozen=True)
class Chart:
    """A figure as an embedded PNG (base64) with its alternative text."""

    png: str
    alt: str


@dataclass(frozen=True)
class Section:
    """A report section: its anchor (and partial `sections/<key>.html.j2`), title and builder.

    The builder takes the `ReportData` and returns the partial's variables, or {"empty": text}
    to print a one-line note instead of the partial.
    """

    key: str
    title: str
    build: Callable[["ReportData"], dict[str, Any]]


STAGE_LABELS = {  # the fixed stages; a support stage is labelled by its own config (pathway.support.NAME.label)
    "engagement": "Engagement and needs assessment",
    "training": "Training course", "job_search": "Job search", "recruitment": "Recruitment",
    "checks": "Pre-employment checks", "in_post": "First year in post",
}
SUCCESS_REASONS = ("sustained 12 months",)  # leaving the funnel by succeeding, not dropping out
CAPACITY_LABELS = {"advisers": "Adviser caseloads", "interview_slots": "Interview slots"}


def _support(config: dict) -> dict:
    return ((config.get("pathway") or {}).get("support") or {})


def stage_label(stage: str, config: dict) -> str:
    """A stage as the report names it: a fixed stage's label, or a support stage's own `label` from config."""
    support = _support(config).get(stage) or {}
    return str(support.get("label") or STAGE_LABELS.get(stage) or stage.replace("_", " ").capitalize())
EQUITY_GROUPS = (*((f"quintile:{q}", f"Quintile {q}" + (" (most deprived)" if q == 1 else
                                                         " (least deprived)" if q == 5 else "")) for q in range(1, 6)),
                 ("parents", "Parents of young children"), ("health_condition", "Health condition or disability"))
EFFECTS = (  # (kpi, label, kind): the paired effects in the forest plot and its table
    ("net_hires", "Net hires", "count"),
    ("sustained_12m", "Sustained at 12 months", "count"),
    ("staff_in_post_mean", "Staff in post", "count"),  # the staffing effect (vacancy-days avoided: x the window's days)
)
LOST_MARK = 10  # people giving up waiting, on average, that the bottleneck table shades
COST_LINES = (10_000, 25_000, 50_000, 100_000)  # GBP per extra job, dashed on the cost-effectiveness plane
REFERENCE_COLOUR = "#4d4d4d"
# Okabe and Ito's colour-blind-safe palette (yellow left out: it vanishes on white); in greyscale the options
# stay apart by line style, marker and hatch, which cycle with the colour.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINE_STYLES = ("--", ":", "-.", (0, (6, 2)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2, 2, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
HATCHES = ("//", "..", "xx", "\\\\", "++", "--", "oo")
DPI = 150
MINUS = "\u2212"
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class Option:
    """A finished job of the folder, as the report shows it."""

    job: Job
    config: dict
    meta: dict
    colour: str
    is_reference: bool
    style: int = 0  # index into LINE_STYLES, MARKERS and HATCHES (the reference: solid, no marker, no hatch)

    @property
    def linestyle(self) -> Any:
        return "-" if self.is_reference else LINE_STYLES[self.style % len(LINE_STYLES)]

    @property
    def marker(self) -> str:
        return "o" if self.is_reference else MARKERS[self.style % len(MARKERS)]

    @property
    def hatch(self) -> str:
        return "" if self.is_reference else HATCHES[self.style % len(HATCHES)]

    @property
    def label(self) -> str:
        return self.job.label

    @property
    def description(self) -> str:
        """The interventions the option ran, by their labels."""
        ivs = self.config.get("intervention") or {}
        return ", ".join(str(iv.get("label", name)) for name, iv in ivs.items()) or "no interventions"


class Stats:
    """comparison.csv rows by (option, kpi, group)."""

    def __init__(self, rows: list[tuple]):
        self.rows = {(r[0], r[2], r[3]): dict(zip(COMPARISON_HEADER, r)) for r in rows}

    def get(self, option: str, kpi: str, group: str = "all") -> dict | None:
        return self.rows.get((option, kpi, group))

    def groups(self, kpi: str, prefix: str) -> list[str]:
        """The groups of a KPI that start with `prefix`, in first-seen order."""
        return list(dict.fromkeys(g for (_, k, g) in self.rows if k == kpi and g.startswith(prefix)))


@dataclass
class ReportData:
    """Everything the sections draw on, read once from the folder."""

    folder: Path
    jobs: list[Job]
    options: list[Option]
    rows: list[tuple]  # comparison.csv's rows
    stats: Stats
    series: dict[str, dict]
    funnels: dict[str, tuple[list[str], dict]]
    n_reps: str

    @property
    def reference(self) -> Option | None:
        return next((o for o in self.options if o.is_reference), None)

    @property
    def others(self) -> list[Option]:
        """The options compared against the reference."""
        return [o for o in self.options if not o.is_reference]


# ----------------------------------------------------------------------------- formatting
BASE_DIGITS = {"pp": 2, "small": 1}  # decimals by kind (others: 0), raised where a difference would vanish
MAX_DIGITS = 6


def _number(x: float | None, kind: str, signed: bool = False, digits: int | None = None,
            scale: float | None = None) -> str:
    """One number as the report prints it.

    kind: count, small (1 decimal), days, gbp, gbpk (£337k, £1.87m), pct or pp (of a share).
    `digits` (decimals) defaults to the kind's; a non-zero number that would print as 0 gets
    the decimals it needs for two significant digits. `scale` (gbpk) picks pounds, k or m for a value
    and its interval together: the largest of them, so '£11k (£10k to £12k)', never '£9,984 to £12k'.
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    if kind in ("pct", "pp"):
        x *= 100
    size = abs(x) if scale is None else scale
    if kind == "gbpk" and size >= 10_000:
        m = size >= 1e6
        places = (2 if m else 0) if digits is None else digits
        text = f"{abs(x) / 1e6:,.{places}f}m" if m else f"{abs(x) / 1e3:,.{places}f}k"
    else:
        places = BASE_DIGITS.get(kind, 0) if digits is None else digits
        if digits is None and x != 0 and abs(x) < 0.5 * 10 ** -places:
            places = min(MAX_DIGITS, 1 - math.floor(math.log10(abs(x))))
        text = f"{abs(x):,.{places}f}"
    nonzero = bool(text.strip("0.,mk"))
    sign = MINUS if x < 0 and nonzero else "+" if signed and x > 0 and nonzero else ""
    if kind in ("gbp", "gbpk"):
        return f"{sign}£{text}"
    return sign + text + {"pct": "%", "pp": " pp"}.get(kind, "")


def muted(text: str) -> Piece:
    return Piece("muted", text)


def code(text: str, title: str = "") -> Piece:
    """Monospaced, with line-break opportunities after , = . / so long labels and keys wrap cleanly."""
    return Piece("code", text, title=title)


def name(o: Option) -> Piece:
    """An option's name with the swatch of its colour."""
    return Piece("name", o.label, css=o.colour)


def badge(text: str, kind: str) -> Piece:
    return Piece("badge", text, css=kind)


def _ci(mean: float, low: float, high: float, kind: str, signed: bool = False, mark: str = "") -> Piece:
    """'257 (250 to 264)': the mean, with the interval in a smaller span when there is one."""
    ci, digits = "", None
    if math.isfinite(low) and math.isfinite(high) and math.isfinite(mean) and low != high:
        digits, scale = _digits(kind, low, high), max(abs(low), abs(high), abs(mean))
        ci = f"{_number(low, kind, signed, digits, scale)} to {_number(high, kind, signed, digits, scale)}"
        return Piece("est", _number(mean, kind, signed, digits, scale), ci=ci, css=mark)
    return Piece("est", _number(mean, kind, signed, digits), ci=ci, css=mark)


def _digits(kind: str, low: float, high: float) -> int | None:
    """Decimals that show the first significant digit of an interval's half-width (at least the kind's own).

    For money in thousands or millions (gbpk at £10k and over) they are decimals of the k or m, so that
    '£15.4k (£15.0k to £15.8k)' does not print as '£15k (£15k to £16k)'."""
    if kind == "gbpk" and max(abs(low), abs(high)) >= 10_000:  # the scale `_number` is given with them
        unit, base = (1e6, 2) if max(abs(low), abs(high)) >= 1e6 else (1e3, 0)
        half = abs(high - low) / 2 / unit
        return base if half <= 0 else min(3, max(base, -math.floor(math.log10(half))))
    if kind in ("gbp", "gbpk"):
        return None
    half = abs(high - low) / 2 * (100 if kind in ("pct", "pp") else 1)
    base = BASE_DIGITS.get(kind, 0)
    return base if half <= 0 else min(MAX_DIGITS, max(base, -math.floor(math.log10(half))))


def _cell(row: dict | None, kind: str, mark: str = "") -> Piece | str:
    """Mean and 95% CI of a KPI that cannot be negative (nor above 1 for a share): the CI is cut there."""
    if row is None:
        return "n/a"
    top = 1.0 if kind == "pct" else math.inf
    return _ci(row["mean"], max(row["ci_low"], 0.0), min(row["ci_high"], top), kind, mark=mark)


def _diff_cell(row: dict | None, kind: str, option: Option) -> Piece | str:
    if option.is_reference:
        return muted("reference")
    if row is None or not math.isfinite(row["diff_mean"]):
        return "n/a"
    return _ci(row["diff_mean"], row["diff_ci_low"], row["diff_ci_high"], kind, signed=True)


def _option_cell(o: Option, compared: bool) -> Piece:
    return Piece("option", o.label, ci=o.description, css=o.colour,
                 title="reference" if o.is_reference and compared else "")


def _wbr(text: object) -> Markup:
    """The `wbr` filter: escaped text with line-break opportunities after , = . /"""
    return Markup(re.sub(r"([,=./])", r"\1<wbr>", str(escape(text))))


def _wrap(label: str, width: int = 30) -> str:
    """A chart label on several lines, broken after commas where it can be."""
    lines, line = [], ""
    for part in re.split(r"(?<=,)", label):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
    lines.append(line)
    return "\n".join(sub for ln in lines for sub in textwrap.wrap(ln, max(width, 12)) or [ln])


# ----------------------------------------------------------------------------- figures
def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)


def _chart(fig: Figure, alt: str) -> Chart:
    """The figure as an embedded PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return Chart(base64.b64encode(buf.getvalue()).decode("ascii"), alt)


def _yaxis_thousands(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _compact(v: float, unit: str = "") -> str:
    """An axis tick: 40k, 1.5m, 250 (with a currency sign in front if given)."""
    sign = MINUS if v < 0 else ""
    a = abs(v)
    if a >= 1e6:
        return f"{sign}{unit}{a / 1e6:g}m"
    if a >= 1e4:
        return f"{sign}{unit}{a / 1e3:g}k"
    return f"{sign}{unit}{a:,.0f}" if a >= 1 or a == 0 else f"{sign}{unit}{a:g}"


# ----------------------------------------------------------------------------- reading job files
def _read_yaml(path: Path) -> dict:
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _vacancies(path: Path) -> dict[str, tuple[np.ndarray, dict[int, np.ndarray]]]:
    """Vacancies summed over roles: employer group -> (days, replication -> vacancies per day); 'all' too."""
    if not path.exists():
        return {}
    with path.open() as f:
        reader = csv.reader(f)
        header = next(reader)
        i_rep, i_day, i_grp, i_vac = (header.index(c) for c in ("replication", "day", "employer_group", "vacancies"))
        cols = [(int(r[i_rep]), float(r[i_day]), r[i_grp], float(r[i_vac])) for r in reader]
    if not cols:
        return {}
    rep, day, grp, vac = (np.array(c) for c in zip(*cols))
    reps, days = np.unique(rep), np.unique(day)
    ri, di = np.searchsorted(reps, rep), np.searchsorted(days, day)
    out = {}
    for g in [*dict.fromkeys(grp.tolist()), "all"]:
        m = np.ones(len(grp), bool) if g == "all" else grp == g
        mat = np.zeros((len(reps), len(days)))
        np.add.at(mat, (ri[m], di[m]), vac[m])
        out[g] = (days, {int(r): mat[k] for k, r in enumerate(reps)})
    return out


def _funnel(path: Path) -> tuple[list[str], dict[tuple[str, str, str], float]]:
    """Stages in order, and the mean over replications of (stage, measure, reason) for entered and left."""
    if not path.exists():
        return [], {}
    sums: dict[tuple[str, str, str], float] = {}
    reps: set[str] = set()
    stages: dict[str, None] = {}
    with path.open() as f:
        for r in csv.DictReader(f):
            if r["measure"] in ("entered", "left"):
                reps.add(r["replication"])
                stages[r["stage"]] = None
                key = (r["stage"], r["measure"], r["reason"])
                sums[key] = sums.get(key, 0.0) + float(r["value"])
    n = len(reps) or 1
    return list(stages), {k: v / n for k, v in sums.items()}


def _choices(job_dir: Path) -> dict:
    hydra_cfg = _read_yaml(job_dir / ".hydra" / "hydra.yaml").get("hydra", {})
    return (hydra_cfg.get("runtime") or {}).get("choices") or {}


def config_files(job_dir: Path, config: dict) -> list[Path]:
    """The YAML files a job was composed from, in composition order (later files win)."""
    from .cli import CONFIG_DIR

    choices = _choices(job_dir)
    files = [CONFIG_DIR / group / f"{choices[group]}.yaml" for group in ("region", "pathway", "experiment")
             if choices.get(group)]
    files += [CONFIG_DIR / "intervention" / f"{name}.yaml" for name in (config.get("intervention") or {})]
    files.append(CONFIG_DIR / "config.yaml")
    files.append(CONFIG_DIR / "scenario" / f"{choices.get('scenario') or 'baseline'}.yaml")
    return [f for f in files if f.exists()]



# ----------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class Column:
    """A column of the headline comparison: the HTML report, the workbook and the web page all draw these.

    show: mean (the option's own mean and CI), diff (paired difference against the reference),
    or ratio (a cost per unit of effect from comparison.csv: compare.COST_EFFECT, the one definition).
    """

    kpi: str
    label: str
    kind: str  # how its numbers print: count, pp, gbpk, ... (see _number)
    show: str = "mean"


HEADLINE_COLUMNS = (
    # residents into work (those referred in the window, followed to their outcome)
    Column("hires", "Residents hired (gross)", "count"),
    Column("net_sustained_12m", "In work at 12 months, net of deadweight", "count"),
    Column("net_sustained_12m", "Change in net sustained jobs vs baseline", "count", "diff"),
    Column("cost_per_net_sustained_job", "Cost per additional net sustained job", RATIO_KIND, "ratio"),
    # staffing: one effect, the window's mean staff in post (vacancy-days avoided are it x the window's days),
    # and the BAU hires displaced
    Column("staff_in_post_mean", "Additional staff in post", "count", "diff"),
    Column("bau_hires", "Change in business-as-usual hires", "count", "diff"),
    Column("cost_per_vacancy_year_avoided", "Cost per vacancy-year avoided", RATIO_KIND, "ratio"),
    Column("programme_cost", "Programme cost", "gbpk"),
)


@dataclass(frozen=True)
class Estimate:
    """A number with its 95% CI, or `note` saying why there is none."""

    mean: float = math.nan
    low: float = math.nan
    high: float = math.nan
    note: str = ""


def headline_estimates(d: ReportData) -> list[tuple[Option, list[Estimate]]]:
    """Per option, one Estimate per HEADLINE_COLUMNS entry."""
    out = []
    for o in d.options:
        row = []
        for col in HEADLINE_COLUMNS:
            r = d.stats.get(o.label, col.kpi)
            if col.show == "ratio":
                row.append(ratio_estimate(d.stats, o.label, col.kpi))
            elif col.show == "diff":
                row.append(Estimate(note="no baseline in this folder") if len(d.options) == 1 else
                           Estimate(note="reference") if o.is_reference else
                           Estimate() if r is None else Estimate(r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]))
            else:
                row.append(Estimate() if r is None else Estimate(r["mean"], max(r["ci_low"], 0.0), r["ci_high"]))
        out.append((o, row))
    return out


NOT_BOUNDED = "not bounded: the effect's 95% CI includes zero"


def ratio_estimate(st: Stats, option: str, kpi: str) -> Estimate:
    """A cost per unit of effect (compare.COST_EFFECT) as the console, the report and the workbook all show it:
    the value and Fieller's 95% CI from comparison.csv, "not bounded" when that row's CI is (-inf, inf), or
    why no price per unit of gain applies (no cost, a loss, a gain for less money), from the effect's and the
    cost's own rows."""
    r = st.get(option, kpi)
    if r is None or not r["reference"]:
        return Estimate(note="no baseline in this folder")
    if r["option"] == r["reference"]:
        return Estimate(note="n/a")
    if math.isfinite(r["mean"]):
        return Estimate(r["mean"], r["ci_low"], r["ci_high"])
    cost = st.get(option, "programme_cost")
    if cost is not None and cost["mean"] == 0:
        return Estimate(note="no cost")
    if r["ci_low"] == -math.inf and r["ci_high"] == math.inf:
        return Estimate(note=NOT_BOUNDED)
    effect, sign, _ = COST_EFFECT[kpi]
    e = st.get(option, effect)
    if e is None or cost is None:
        return Estimate(note="n/a")
    lo, hi = sorted((sign * e["diff_ci_low"], sign * e["diff_ci_high"]))
    if hi < 0:
        return Estimate(note="a loss against the baseline")
    if lo > 0 and cost["diff_mean"] <= 0:
        return Estimate(note="a gain for less money")
    return Estimate(note="n/a")


def estimate_text(e: Estimate, kind: str) -> str:
    """An Estimate as plain text (the console): '£183k [£120k, £260k]', or its note."""
    if e.note:
        return e.note
    if not (math.isfinite(e.low) and math.isfinite(e.high)) or e.low == e.high:
        return _number(e.mean, kind)
    d, sc = _digits(kind, e.low, e.high), max(abs(e.low), abs(e.high), abs(e.mean))
    return (f"{_number(e.mean, kind, digits=d, scale=sc)} "
            f"[{_number(e.low, kind, digits=d, scale=sc)}, {_number(e.high, kind, digits=d, scale=sc)}]")


def _estimate_piece(e: Estimate, col: Column) -> Piece | str:
    if e.note:
        return muted(e.note)
    if not math.isfinite(e.mean):
        return "n/a"
    return _ci(e.mean, e.low, e.high, col.kind, signed=col.show == "diff")


def _headline(d: ReportData) -> dict[str, Any]:
    rows = [[_option_cell(o, len(d.options) > 1), *(_estimate_piece(e, c) for e, c in zip(est, HEADLINE_COLUMNS))]
            for o, est in headline_estimates(d)]
    return {"table": Table(["Option", *(c.label for c in HEADLINE_COLUMNS)], rows, "headline"), "n_reps": d.n_reps,
            "borrows": borrowed(d.options[0].config if d.options else {})}


def borrowed(config: dict) -> str:
    """What the run's region takes from another region's numbers, in words ("" if it stands on its own)."""
    from .config import BORROWABLE

    region = config.get("region") or {}
    what = [BORROWABLE.get(str(w), str(w)) for w in region.get("borrows") or []]
    if not what:
        return ""
    return (f"{region.get('label') or region.get('name')} borrows from {region.get('borrows_from')}: "
            + "; ".join(what) + ". Those numbers are the other region's, not this region's own.")


def _vacancy_section(d: ReportData) -> dict[str, Any]:
    options, series, ref = d.options, d.series, d.reference
    groups = [g for g in dict.fromkeys(g for o in options for g in series.get(o.label, {})) if g != "all"]
    if not groups:
        return {"empty": "No time series in this folder."}
    labels = {g: str(((ref or options[0]).config.get("region", {}).get("workforce", {}).get("groups", {})
                      .get(g, {}) or {}).get("label", g)) for g in groups}
    ncols = 3
    nrows = math.ceil(len(groups) / ncols)
    fig = _figure(10, 2.6 * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, g in zip(axes.flat, groups):
        for o in options:
            if g not in series.get(o.label, {}):
                continue
            days, by_rep = series[o.label][g]
            cis = [mean_ci([v[k] for v in by_rep.values()]) for k in range(len(days))]
            years = days / 365.25
            ax.plot(years, [c.mean for c in cis], color=o.colour, lw=2.0 if o.is_reference else 1.5,
                    ls=o.linestyle, marker=None if o.is_reference else o.marker, ms=3.5,
                    markevery=max(1, len(years) // 8), label=_wrap(o.label, 45))
            ax.fill_between(years, [c.low for c in cis], [c.high for c in cis], color=o.colour,
                            alpha=0.12 if o.is_reference else 0.07, lw=0)
        ax.set_title(labels[g], fontsize=10)
        _style(ax)
        _yaxis_thousands(ax)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("years from start", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("open vacancies", fontsize=8)
    handles, texts = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncols=min(3, len(options)), fontsize=8, frameon=False)
    chart = _chart(fig, "Open vacancies over time by employer group, mean and 95% CI band per option")
    return {"chart": chart, "difference": _vacancy_difference(d)}


def _vacancy_difference(d: ReportData) -> Chart | None:
    """Paired difference in total open vacancies against the baseline, over time."""
    series, ref = d.series, d.reference
    others = [o for o in d.others if "all" in series.get(o.label, {})]
    if ref is None or not others or "all" not in series.get(ref.label, {}):
        return None
    ref_days, ref_reps = series[ref.label]["all"]
    fig = _figure(10, 3.0)
    ax = fig.subplots()
    for o in others:
        days, reps = series[o.label]["all"]
        common = sorted(set(reps) & set(ref_reps))
        if len(days) != len(ref_days) or not np.allclose(days, ref_days) or not common:
            continue
        cis = [paired_difference([reps[r][k] for r in common], [ref_reps[r][k] for r in common])
               for k in range(len(days))]
        years = days / 365.25
        ax.plot(years, [c.mean for c in cis], color=o.colour, lw=1.5, ls=o.linestyle, marker=o.marker, ms=3.5,
                markevery=max(1, len(years) // 8), label=_wrap(o.label, 45))
        ax.fill_between(years, [c.low for c in cis], [c.high for c in cis], color=o.colour, alpha=0.18, lw=0)
    ax.axhline(0, color=REFERENCE_COLOUR, lw=1, ls="--")
    ax.set_title("Change in open vacancies against the baseline, all employer groups (paired)", fontsize=10)
    ax.set_xlabel("years from start", fontsize=8)
    ax.set_ylabel("vacancies, option minus baseline", fontsize=8)
    _style(ax)
    _yaxis_thousands(ax)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return _chart(fig, "Paired difference in open vacancies against the baseline over time, with 95% CI bands")


def _funnel_section(d: ReportData) -> dict[str, Any]:
    funnels, st = d.funnels, d.stats
    shown = [o for o in d.options if funnels.get(o.label, ([], {}))[0]]
    if not shown:
        return {"empty": "No funnel records in this folder."}
    stages = list(dict.fromkeys(s for o in shown for s in funnels[o.label][0]))
    ncols = min(3, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    fig = _figure(10, (0.32 * len(stages) + 0.9) * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    y = np.arange(len(stages))[::-1]
    for ax, o in zip(axes.flat, shown):
        means = funnels[o.label][1]
        entered = np.array([means.get((s, "entered", ""), 0.0) for s in stages])
        left = np.array([means.get((s, "left", ""), 0.0) for s in stages])
        done = np.array([sum(means.get((s, "left", r), 0.0) for r in SUCCESS_REASONS) for s in stages])
        dropped = left - done
        ax.barh(y, dropped, color="#c44e52", label="dropped out")
        ax.barh(y, done, left=dropped, color="#55a868", label="sustained 12 months")
        ax.barh(y, entered - left, left=left, color="#c7d7e8", label="moved on, or still in the stage")
        ax.set_yticks(y, [stage_label(s, d.options[0].config) for s in stages], fontsize=8)
        ax.set_title(_wrap(o.label, 36), fontsize=9, color=o.colour)
        _style(ax)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    fig.supxlabel("people entering the stage (mean per replication)", fontsize=8)
    handles, texts = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside upper center", ncols=3, fontsize=8, frameon=False)
    chart = _chart(fig, "Funnel per option: people entering each stage, split into drop-outs and those who moved on")

    header = ["Stage", "Measure"] + [name(o) for o in shown]
    rows: list[list] = []
    for s in stages:
        reasons = list(dict.fromkeys(r for o in shown for (st_, m, r) in funnels[o.label][1]
                                     if st_ == s and m == "left" and r))
        rows.append([Piece("strong", stage_label(s, d.options[0].config)), "entered"]
                    + [_count(funnels[o.label][1].get((s, "entered", ""), 0.0)) for o in shown])
        for r in reasons:
            rows.append(["", f"left: {r}"] + [_count(funnels[o.label][1].get((s, "left", r), 0.0)) for o in shown])
    rows.append([Piece("strong", "Days from referral to start"), "mean"]
                + [_cell(st.get(o.label, "time_to_start_mean"), "days") for o in shown])
    return {"chart": chart, "table": Table(header, rows, "funnel")}


def _count(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or x == 0 else f"{x:.1f}"


def _effects_section(d: ReportData) -> dict[str, Any]:
    others, st = d.others, d.stats
    if not others:
        return {"empty": "Only one option in this folder: there is nothing to compare against a baseline. "
                         "Run a sweep (pathways -m intervention=[],[childcare] ...) to compare options."}
    fig = _figure(10, 0.45 * len(others) + 1.4)
    axes = fig.subplots(1, len(EFFECTS), sharey=True, squeeze=False)[0]
    y = np.arange(len(others))[::-1]
    for ax, (kpi, label, kind) in zip(axes, EFFECTS):
        scale = 100 if kind == "pp" else 1
        for yi, o in zip(y, others):
            r = st.get(o.label, kpi)
            if r is None or not math.isfinite(r["diff_mean"]):
                continue
            m, lo, hi = (r[k] * scale for k in ("diff_mean", "diff_ci_low", "diff_ci_high"))
            err = [[m - lo], [hi - m]] if math.isfinite(lo) else None
            ax.errorbar(m, yi, xerr=err, fmt=o.marker, color=o.colour, capsize=3, ms=5, lw=1.5)
        ax.axvline(0, color=REFERENCE_COLOUR, lw=1, ls="--")
        ax.set_title(label, fontsize=9)
        _style(ax)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _, k=kind: f"{v:,.2f}" if k == "pp" else _compact(v)))
    axes[0].set_yticks(y, [_wrap(o.label, 28) for o in others], fontsize=8)
    axes[0].set_ylim(-0.7, len(others) - 0.3)
    chart = _chart(fig, "Forest plot: paired effect of each option against the baseline with 95% CIs")
    header = ["Effect", "Option", "Paired difference vs baseline", "Unpaired 95% CI (for comparison)"]
    rows = []
    for kpi, label, kind in (*EFFECTS[:2], ("net_sustained_12m", "Net sustained at 12 months", "count"),
                             *EFFECTS[2:], ("programme_cost", "Programme cost", "gbp")):
        for i, o in enumerate(others):
            r = st.get(o.label, kpi)
            if r is None:
                continue
            unpaired = (f"{_number(r['unpaired_diff_ci_low'], kind, True)} to "
                        f"{_number(r['unpaired_diff_ci_high'], kind, True)}")
            rows.append([Piece("strong", label) if i == 0 else "", name(o), _diff_cell(r, kind, o),
                         Piece("ci", unpaired)])
    return {"chart": chart, "table": Table(header, rows, "effects")}


def _cost_effect_section(d: ReportData) -> dict[str, Any]:
    st = d.stats
    if not d.others:
        return {"empty": "Only one option in this folder: no incremental cost or effect to show."}
    points = []
    for o in d.others:
        e, c = st.get(o.label, "net_sustained_12m"), st.get(o.label, "programme_cost")
        if e is None or c is None:
            continue
        points.append((o, e, c))
    fig = _figure(10, 5.2)
    ax = fig.subplots()
    xs = [0.0] + [v for _, e, _ in points for v in (e["diff_ci_low"], e["diff_ci_high"], e["diff_mean"])]
    ys = [0.0] + [v for _, _, c in points for v in (c["diff_ci_low"], c["diff_ci_high"], c["diff_mean"])]
    xs, ys = [v for v in xs if math.isfinite(v)], [v for v in ys if math.isfinite(v)]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    px, py = 0.12 * ((x1 - x0) or 1.0), 0.12 * ((y1 - y0) or 1.0)
    x0, x1, y0, y1 = x0 - px, x1 + px, y0 - py, y1 + py
    for k in COST_LINES:
        line_x = np.linspace(x0, x1, 50)
        ax.plot(line_x, k * line_x, color="#999999", lw=0.9, ls="--", zorder=1)
        xe = min(x1, y1 / k) if k * x1 > 0 else x1
        if xe > 0 and y0 <= k * xe <= y1:
            ax.annotate(f"£{k // 1000:,}k per job", (xe, k * xe), fontsize=7.5, color="#666666",
                        ha="right", va="bottom", xytext=(-2, 2), textcoords="offset points")
    for o, e, c in points:
        xerr = [[e["diff_mean"] - e["diff_ci_low"]], [e["diff_ci_high"] - e["diff_mean"]]] \
            if math.isfinite(e["diff_ci_low"]) else None
        yerr = [[c["diff_mean"] - c["diff_ci_low"]], [c["diff_ci_high"] - c["diff_mean"]]] \
            if math.isfinite(c["diff_ci_low"]) else None
        ax.errorbar(e["diff_mean"], c["diff_mean"], xerr=xerr, yerr=yerr, fmt=o.marker, color=o.colour, ms=7,
                    capsize=3, lw=1.4, label=_wrap(o.label, 60), zorder=3)
    ax.axhline(0, color=REFERENCE_COLOUR, lw=1)
    ax.axvline(0, color=REFERENCE_COLOUR, lw=1)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("incremental net sustained jobs at 12 months (option minus baseline, paired)", fontsize=9)
    ax.set_ylabel("incremental programme cost", fontsize=9)
    _style(ax)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v, "£")))
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    chart = _chart(fig, "Cost-effectiveness plane: incremental cost against incremental net sustained jobs, "
                        "with 95% CIs")
    header = ["Option", "Incremental cost", "Incremental net sustained jobs", "Cost per additional net sustained job",
              "Vacancy-days avoided (additional staff x days in the window)", "Cost per vacancy-year avoided"]
    rows = []
    for o, e, c in points:
        vd = st.get(o.label, "vacancy_days")
        avoided = None if vd is None else {**vd, "diff_mean": -vd["diff_mean"], "diff_ci_low": -vd["diff_ci_high"],
                                           "diff_ci_high": -vd["diff_ci_low"]}
        rows.append([name(o), _diff_cell(c, "gbpk", o), _diff_cell(e, "count", o),
                     _ratio_cell(st, o, "cost_per_net_sustained_job"), _diff_cell(avoided, "count", o),
                     _ratio_cell(st, o, "cost_per_vacancy_year_avoided")])
    return {"chart": chart, "table": Table(header, rows, "cea"),
            "cost_lines": ["£" + format(k, ",") for k in COST_LINES]}


def _ratio_cell(st: Stats, o: Option, kpi: str) -> Piece | str:
    """A cost per unit of effect in the cost-effect table (ratio_estimate, as in the headline)."""
    e = ratio_estimate(st, o.label, kpi)
    return muted(e.note) if e.note else _ci(e.mean, e.low, e.high, RATIO_KIND)


def _equity_section(d: ReportData) -> dict[str, Any]:
    options, st = d.options, d.stats
    groups = [(g, label) for g, label in EQUITY_GROUPS if any(st.get(o.label, "hires", g) for o in options)]
    if not groups:
        return {"empty": "No hires by target group in this folder."}
    fig = _figure(10, 3.6)
    ax = fig.subplots()
    width = 0.8 / len(options)
    x = np.arange(len(groups))
    for i, o in enumerate(options):
        rows = [st.get(o.label, "hires", g) for g, _ in groups]
        m = np.array([r["mean"] if r else np.nan for r in rows])
        lo = np.array([r["ci_low"] if r else np.nan for r in rows])
        hi = np.array([r["ci_high"] if r else np.nan for r in rows])
        err = np.nan_to_num(np.vstack([m - lo, hi - m]))
        ax.bar(x - 0.4 + width * (i + 0.5), m, width, yerr=err, color=o.colour, hatch=o.hatch, edgecolor="white",
               linewidth=0, capsize=2,
               error_kw={"lw": 0.9}, label=_wrap(o.label, 45))
    ax.set_xticks(x, [_wrap(label, 16) for _, label in groups], fontsize=8)
    ax.set_ylabel("hires of programme residents", fontsize=8)
    _style(ax)
    ax.grid(axis="x", visible=False)
    ax.legend(fontsize=8, frameon=False, ncols=min(3, len(options)), loc="upper right")
    chart = _chart(fig, "Hires by deprivation quintile, parents and people with a health condition, per option")
    header = ["Group"] + [name(o) for o in options]
    rows = [[label] + [_cell(st.get(o.label, "hires", g), "count") for o in options] for g, label in groups]
    rows.append(["Share of hires from the most deprived quintile"] + [_share(o) for o in options])
    return {"chart": chart, "table": Table(header, rows, "equity")}


STAFFING = (  # (kpi, label) per employer group and role, against the reference; vacancy-days are staff in post
    ("staff_in_post_mean", "Staff in post (mean)"),  # in other units, so not a row of their own
    ("bau_hires", "Business-as-usual hires"),
    ("programme_starts", "Programme starts"),
    ("programme_staff_in_post_mean", "Programme starters in post"),
)


def _staffing_section(d: ReportData) -> dict[str, Any]:
    """The staffing effect where it lands: per employer group and role, staff in post and the BAU hires
    the programme's starters displaced, each a paired difference against the reference."""
    others, st = d.others, d.stats
    if not others:
        return {"empty": "Only one option in this folder: no staffing effect to show against a baseline."}
    labels = _staff_groups(d)
    header = ["Employer group or role", "Measure"] + [name(o) for o in others]
    rows = []
    for group, label in labels:
        for i, (kpi, measure) in enumerate(STAFFING):
            if all(st.get(o.label, kpi, group) is None for o in others):
                continue
            rows.append([Piece("strong", label) if i == 0 else "", measure,
                         *(_diff_cell(st.get(o.label, kpi, group), "count", o) for o in others)])
    return {"table": Table(header, rows, "staffing"), "supply": _supply(d)}


def _supply(d: ReportData) -> dict[str, Any]:
    """The labour-supply assumption in words, and what each option's extra staff would be with no displacement.

    The upper end (elasticity 0: no programme hire displaces a BAU hire) is the option's own starters in post,
    counted in the run (`programme_staff_in_post_mean`); the lower end (1, an unlimited pool) needs a run."""
    ref = d.reference or d.options[0]
    wf = (ref.config.get("region") or {}).get("workforce") or {}
    options = []
    for o in d.others:
        staff, own = d.stats.get(o.label, "staff_in_post_mean"), d.stats.get(o.label, "programme_staff_in_post_mean")
        if staff and own and math.isfinite(staff["diff_mean"]) and own["diff_mean"] > 0:
            options.append({"option": name(o), "staff": _number(staff["diff_mean"], "count", True, None),
                            "own": _number(own["diff_mean"], "count", True, None),
                            "share": f"{100 * staff['diff_mean'] / own['diff_mean']:.0f}%"})
    from .cli import CONFIG_DIR
    from .ranges import supply_ends

    e = float(wf.get("bau_vacancy_elasticity", 1.0))
    return {"elasticity": f"{e:.2g}", "options": options, "range": [f"{x:g}" for x in supply_ends(CONFIG_DIR, e)],
            "ends": _supply_ends(d, ref)}


def _supply_ends(d: ReportData, ref: Option) -> dict[str, Any]:
    """Each option's extra staff in post at each end of the elasticity's range: the paired replications the
    jobs ran there (`supply.csv`, `experiment.supply_replications`), differences against the reference."""
    def read(o: Option) -> dict[tuple[float, int], float]:
        path = o.job.path / "supply.csv"
        if not path.exists():
            return {}
        with path.open(newline="") as f:
            return {(float(r["elasticity"]), int(r["replication"])): float(r["value"])
                    for r in csv.DictReader(f) if r["kpi"] == "staff_in_post_mean"}

    base = read(ref)
    ends = sorted({e for e, _ in base})
    options, n = [], 0
    for o in d.others:
        mine = read(o)
        cells = []
        for e in ends:
            diffs = [v - base[k] for k, v in mine.items() if k[0] == e and k in base]
            if not diffs:
                break
            ci, n = mean_ci(diffs), len(diffs)
            cells.append(f"{_number(ci.mean, 'count', True)} [{_number(ci.low, 'count', True)}, "
                         f"{_number(ci.high, 'count', True)}]")
        if len(cells) == len(ends) and cells:
            options.append({"option": name(o), "cells": cells})
    return {"at": [f"{e:g}" for e in ends], "options": options, "n": n}


def _staff_groups(d: ReportData) -> list[tuple[str, str]]:
    """(group, label) for every sector, employer group and role the folder has, in that order."""
    cfg = d.options[0].config
    wf = (cfg.get("region") or {}).get("workforce") or {}
    out: list[tuple[str, str]] = [("all", "All posts")]
    for kind, prefix in (("sector", "sector:"), ("employer", "employer:"), ("role", "role:")):
        for g in d.stats.groups("vacancy_days", prefix):
            key = g.split(":", 1)[1]
            if kind == "employer":
                label = str(((wf.get("groups") or {}).get(key) or {}).get("label") or key)
            elif kind == "role":
                label = str(((wf.get("roles") or {}).get(key) or {}).get("label") or key)
            else:
                label = {"nhs": "NHS", "social_care": "Adult social care"}.get(key, key)
            out.append((g, label))
    return out


def _share(o: Option) -> Piece | str:
    part, whole = o.job.kpis.get(("hires", "quintile:1"), {}), o.job.kpis.get(("hires", "all"), {})
    ratios = [part[r] / whole[r] for r in part if whole.get(r)]
    ci = mean_ci(ratios)
    return _cell({"mean": ci.mean, "ci_low": ci.low, "ci_high": ci.high}, "pct")


@dataclass
class Spend:
    """An option's programme spend: per year and in all (mean and 95% CI), and per year by component."""

    option: Option
    per_year: Estimate
    total: Estimate
    components: dict[str, float]  # component label -> mean spend per year


def programme_spend(d: ReportData) -> list[Spend]:
    """The yearly programme spend of each option (`programme_cost_per_year`), split by what it pays for.

    A component's yearly spend is its share of `programme_cost` times `programme_cost_per_year`,
    so that the parts add up to the KPI and no second definition of a year is made here.
    """
    groups = [g for g in d.stats.groups("programme_cost", "") if g != "all"]
    out = []
    for o in d.options:
        per_year, total = d.stats.get(o.label, "programme_cost_per_year"), d.stats.get(o.label, "programme_cost")
        if per_year is None or total is None:
            continue
        factor = per_year["mean"] / total["mean"] if total["mean"] else 0.0
        parts = {}
        for g in groups:
            r = d.stats.get(o.label, "programme_cost", g)
            if r is not None and r["mean"]:
                parts[_component_label(g, o.config)] = r["mean"] * factor
        out.append(Spend(o, Estimate(per_year["mean"], max(per_year["ci_low"], 0.0), per_year["ci_high"]),
                         Estimate(total["mean"], max(total["ci_low"], 0.0), total["ci_high"]), parts))
    return out


def _component_label(group: str, config: dict) -> str:
    """`intervention:childcare` -> the intervention's label; `channel:jobcentre` -> the channel's."""
    kind, _, key = group.partition(":")
    where = (config.get("intervention") or {}) if kind == "intervention" else \
        ((config.get("region") or {}).get("channels") or {})
    label = str((where.get(key) or {}).get("label") or key.replace("_", " "))
    return f"{label} (referrals)" if kind == "channel" else label


def _spend_section(d: ReportData) -> dict[str, Any]:
    spend = programme_spend(d)
    if not spend:
        return {"empty": "No programme costs in this folder."}
    components = list(dict.fromkeys(c for s in spend for c in s.components))
    fig = _figure(10, 0.5 * len(spend) + 1.6)
    ax = fig.subplots()
    y = np.arange(len(spend))[::-1]
    left = np.zeros(len(spend))
    colours = [*PALETTE, "#999999", "#882255", "#44AA99", "#117733", "#332288", "#AA4499", "#88CCEE"]
    for k, comp in enumerate(components):
        widths = np.array([s.components.get(comp, 0.0) for s in spend])
        ax.barh(y, widths, left=left, color=colours[k % len(colours)], hatch=("", *HATCHES)[k % (len(HATCHES) + 1)],
                edgecolor="white", linewidth=0.5, label=_wrap(comp, 40))
        left += widths
    for yi, s in zip(y, spend):
        if math.isfinite(s.per_year.low) and s.per_year.low != s.per_year.high:
            ax.errorbar(s.per_year.mean, yi, xerr=[[s.per_year.mean - s.per_year.low], [s.per_year.high - s.per_year.mean]],
                        fmt="none", color="#222222", capsize=3, lw=1)
    ax.set_yticks(y, [_wrap(s.option.label, 28) for s in spend], fontsize=8)
    ax.set_xlabel("programme spend per year (GBP), by what it pays for", fontsize=8)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v, "£")))
    _style(ax)
    ax.grid(axis="y", visible=False)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7.5, frameon=False, loc="outside lower center",
               ncols=min(3, max(1, len(components))))
    chart = _chart(fig, "Programme spend per year of each option, stacked by intervention and referral channel")
    header = ["Option", "Spend per year", "Total over the horizon", *components]
    rows = [[name(s.option), _ci(s.per_year.mean, s.per_year.low, s.per_year.high, "gbpk"),
             _ci(s.total.mean, s.total.low, s.total.high, "gbpk"),
             *(_number(s.components[c], "gbpk") if c in s.components else muted("none") for c in components)]
            for s in spend]
    return {"chart": chart, "table": Table(header, rows, "spend")}


def _capacity_label(name: str, config: dict) -> str:
    if name.startswith("course:"):
        course = name.split(":", 1)[1]
        label = str((config.get("pathway", {}).get("training", {}).get("courses", {}).get(course) or {})
                    .get("label", course.replace("_", " ")))
        return f"Places on the {label[:1].lower() + label[1:] if label[1:2].islower() else label}"
    if name in _support(config):
        return f"{stage_label(name, config)}: places"
    return CAPACITY_LABELS.get(name, name.replace("_", " ").capitalize())


def _bottleneck_section(d: ReportData) -> dict[str, Any]:
    options, st = d.options, d.stats
    caps = st.groups("utilisation", "capacity:")
    if not caps:
        return {"empty": "No capacity records in this folder."}
    rows = []
    for cap in caps:
        cap_name = cap.split(":", 1)[1]
        for i, o in enumerate(options):
            util, wait = st.get(o.label, "utilisation", cap), st.get(o.label, "mean_wait", cap)
            ren, queue = st.get(o.label, "reneged", cap), st.get(o.label, "mean_queue", cap)
            level = "" if util is None else "hot" if util["mean"] >= 0.9 else "warm" if util["mean"] >= 0.75 else ""
            lost = "hot" if ren and ren["mean"] >= LOST_MARK else ""
            rows.append([Piece("strong", _capacity_label(cap_name, o.config)) if i == 0 else "",
                         name(o),
                         _cell(util, "pct", level), _cell(wait, "days"), _cell(ren, "small", lost),
                         _cell(queue, "small")])
    header = ["Capacity", "Option", "Utilisation", "Mean wait (days)", "Gave up waiting (people)", "Mean queue"]
    return {"findings": [(o.label, _worst(o, st, caps)) for o in options],
            "table": Table(header, rows, "bottlenecks"), "lost_mark": LOST_MARK}


def _worst(o: Option, st: Stats, caps: list[str]) -> str:
    """The tightest constraint of an option, in words."""
    def value(kpi: str, cap: str) -> float:
        r = st.get(o.label, kpi, cap)
        return r["mean"] if r and math.isfinite(r["mean"]) else 0.0

    worst = max(caps, key=lambda c: (value("reneged", c), value("utilisation", c)))
    label = _capacity_label(worst.split(":", 1)[1], o.config)
    util, wait, ren = value("utilisation", worst), value("mean_wait", worst), value("reneged", worst)
    if ren < 0.5:
        return f"no one gave up waiting for a capacity; the busiest is {label.lower()}, {util:.0%} utilised."
    return (f"{label} are the tightest constraint: {util:.0%} utilised, {wait:,.0f} days mean wait, "
            f"{ren:,.0f} people gave up waiting.")


def parameters_used(options: list[Option]) -> tuple[dict[Path, list[str]], dict[tuple[Path, str], dict[str, UsedParameter]]]:
    """The config files the options used (file -> option labels), and every parameter of them
    ((file, key) -> option label -> the parameter with the value that option ran with)."""
    from .cli import CONFIG_DIR

    merged: dict[tuple[Path, str], dict[str, UsedParameter]] = {}
    file_users: dict[Path, list[str]] = {}
    for o in options:
        files = config_files(o.job.path, o.config)
        for f in files:
            file_users.setdefault(f.resolve(), []).append(o.label)
        used = used_parameters(provenance_rows(files), o.config, o.job.overrides, CONFIG_DIR.parent)
        for u in used:
            merged.setdefault((u.row.file.resolve(), u.row.key), {})[o.label] = u
    return file_users, merged


def source_text(row: Provenance) -> str:
    """A parameter's comment as the report shows it (an assumption's reason without the word)."""
    if row.is_assumption:
        return re.sub(r"^assumptions?\s*[:;,.]?\s*", "", row.comment, flags=re.I)
    return row.comment


def _assumptions_section(d: ReportData) -> dict[str, Any]:
    """Every parameter the options used, from the YAML files, with the value each ran with."""
    from .cli import CONFIG_DIR

    options = d.options
    file_users, merged = parameters_used(options)
    if not merged:
        return {"empty": "No resolved config in this folder."}
    root = CONFIG_DIR.parent
    out_files = []
    for f, users in file_users.items():
        keys = [(ff, k) for (ff, k) in merged if ff == f]
        rows, previous = [], ""
        for key in keys:
            per_option = merged[key]
            first = next(iter(per_option.values()))
            values = dict.fromkeys(u.used for u in per_option.values())
            value = (Piece("value", parts=(first.used,)) if len(values) == 1 else
                     Piece("value", "br", parts=tuple(Piece("join", parts=(Piece("name", lab), f": {u.used}"))
                                                      for lab, u in per_option.items())))
            notes = dict.fromkeys(u.note for u in per_option.values() if u.note)
            badges = ([badge("assumption", "assume")] if first.row.is_assumption else []) + [
                badge(n, "over" if n.startswith("overridden") else "muted-badge") for n in notes]
            comment, text = first.row.comment, source_text(first.row)
            shown = muted("as above") if comment and comment == previous and len(comment) > 60 \
                else text if comment else (muted("no source given") if _needs_source(first) else "")
            previous = comment
            rows.append([code(key[1]), value, Piece("join", " " if badges and shown else "",
                                                    parts=(Piece("join", parts=tuple(badges)), shown))])
        out_files.append({"path": f.relative_to(root) if f.is_relative_to(root) else f,
                          "users": "all options" if len(users) == len(options) else ", ".join(users),
                          "header": file_header(f),
                          "table": Table(["Parameter", "Value used", "Source or assumption"], rows, "params")
                          if keys else None})
    first_of = [next(iter(v.values())) for v in merged.values()]
    return {"n_parameters": len(merged), "files": out_files,
            "n_assumptions": sum(u.row.is_assumption for u in first_of),
            "n_overridden": sum(any(u.note.startswith("overridden") for u in v.values()) for v in merged.values()),
            "n_unsourced": sum(_needs_source(u) for u in first_of)}


def _needs_source(u: UsedParameter) -> bool:
    """A number (or list or mapping of numbers) that the file gives no reason for."""
    if u.row.comment:
        return False
    try:
        return _numeric(yaml.safe_load(u.row.value))
    except yaml.YAMLError:
        return False


def _numeric(v: object) -> bool:
    if isinstance(v, (list, dict)):
        items = list(v.values()) if isinstance(v, dict) else v
        return bool(items) and all(_numeric(x) for x in items)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _run_section(d: ReportData) -> dict[str, Any]:
    header = ["Job folder", "Option", "Status", "Seed", "Replications", "Config hash", "Date", "Run time"]
    options = d.options
    rows = []
    by_path = {o.job.path: o for o in options}
    status = {"done": "complete", "failed": badge("FAILED", "bad"), "unfinished": badge("unfinished", "bad")}
    for j in d.jobs:
        meta = by_path[j.path].meta if j.path in by_path else _read_json(j.path / "run.json")
        sha = str(meta.get("config_sha256", ""))
        wall = meta.get("wall_seconds")
        date = str(meta.get("date", "")).replace("T", " ").replace("+00:00", " UTC")
        rows.append([code(j.path.name), Piece("name", j.label), status[j.status], str(meta.get("seed", "")),
                     str(meta.get("replications", "")), code(sha[:12], title=sha),
                     date, f"{wall:.1f} s" if isinstance(wall, (int, float)) else ""])
    versions = dict.fromkeys(json.dumps(o.meta.get("versions", {}), sort_keys=True) for o in options)
    seeds = {o.meta.get("seed") for o in options}
    return {"table": Table(header, rows, "run"),
            "versions": "; ".join(", ".join(f"{k} {v}" for k, v in json.loads(v).items())
                                  for v in versions if v != "{}"),
            "precision": [(o.label, o.meta["precision"]) for o in options if o.meta.get("precision")],
            "same_seed": len(seeds) == 1, "seed": next(iter(seeds)) if len(seeds) == 1 else None}


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _decision_section(d: ReportData) -> dict[str, Any]:
    """pathways-decide results kept in the folder or a child folder (psa, sensitivity, optimise): their
    parts as sim.decide_report builds them, each with its figures and table."""
    from .decide_report import decide_folders, sections

    runs = []
    for f in decide_folders(d.folder):
        command = _read_json(f / "decide.json").get("command", "?")
        parts = [{"title": p["title"], "paragraphs": p.get("paragraphs", []),
                  "charts": [Chart(png, p["title"]) for png in [p.get("figure"), *p.get("figures", [])] if png],
                  "table": Table(p["header"], p["rows"], "decide") if p.get("rows") else None}
                 for p in sections(f)]
        runs.append({"command": command, "folder": "." if f == d.folder else f.name, "parts": parts})
    if not runs:
        return {"empty": "No pathways-decide results here: run pathways-decide psa, sensitivity or optimise "
                         "with --out inside this folder to add parameter uncertainty and the decision."}
    return {"runs": runs}


# ----------------------------------------------------------------------------- assembly
SECTIONS = (  # in page order; add one with a function here and a partial in templates/sections/
    Section("headline", "Headline: what each option buys", _headline),
    Section("vacancies", "Vacancies over time", _vacancy_section),
    Section("funnel", "Funnel: who enters and leaves each stage", _funnel_section),
    Section("effects", "Effect of each option against the baseline", _effects_section),
    Section("staffing", "Staffing: where the extra staff land, and the hires they displace", _staffing_section),
    Section("cost-effect", "Cost against effect", _cost_effect_section),
    Section("spend", "Programme spend per year", _spend_section),
    Section("equity", "Equity: who gets the jobs", _equity_section),
    Section("bottlenecks", "Bottlenecks", _bottleneck_section),
    Section("decision", "Under uncertainty: the chance each option is the best buy, what drives it, the best mix",
            _decision_section),
    Section("assumptions", "Assumptions and sources", _assumptions_section),
    Section("run", "Run details", _run_section),
)
ALWAYS = ("run",)  # sections drawn even when no job finished


@functools.cache
def templates() -> Environment:
    """The report's Jinja2 templates (autoescaped), with the `wbr` filter."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["wbr"] = _wbr
    return env


def report_data(folder: Path, jobs: list[Job] | None = None, rows: list[tuple] | None = None) -> ReportData:
    """Read a run or sweep folder: its jobs, their options, comparison rows, time series and funnels
    (the jobs and comparison rows may be given, when the caller has them already)."""
    folder = Path(folder)
    jobs = find_jobs(folder) if jobs is None else jobs
    rows = comparison_rows(jobs) if rows is None else rows
    ref_job = reference_job(jobs)
    options: list[Option] = []
    for j in (j for j in jobs if j.status == "done"):
        k = sum(not o.is_reference for o in options)
        colour = REFERENCE_COLOUR if j is ref_job else PALETTE[k % len(PALETTE)]
        options.append(Option(j, _read_yaml(j.path / "config.yaml"), _read_json(j.path / "run.json"), colour,
                              j is ref_job, k))
    reps = sorted({str(o.meta.get("replications", "?")) for o in options})
    return ReportData(folder, jobs, options, rows, Stats(rows),
                      {o.label: _vacancies(o.job.path / "timeseries.csv") for o in options},
                      {o.label: _funnel(o.job.path / "funnel.csv") for o in options},
                      " or ".join(reps) or "0")


def build_report(folder: Path, data: ReportData | None = None) -> str:
    """The report of a run or sweep folder as one self-contained HTML page (from its ReportData, if read)."""
    d = data or report_data(folder)
    env = templates()
    rendered = []
    for s in SECTIONS:
        ctx = s.build(d) if d.options or s.key in ALWAYS else {"empty": "No finished jobs in this folder."}
        html = "" if "empty" in ctx else Markup(env.get_template(f"sections/{s.key}.html.j2").render(ctx))
        rendered.append({"key": s.key, "title": s.title, "html": html, "empty": ctx.get("empty", "")})
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
    return env.get_template("report.html.j2").render(
        title=f"Recruitment pathways{': ' + region if region else ''}", folder_name=d.folder.name,
        folder=str(d.folder.resolve()), lead=lead, sections=rendered, failures=status_lines(d.jobs),
        n_jobs=len(d.jobs), css=(TEMPLATES / "report.css").read_text(),
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(folder: Path, data: ReportData | None = None) -> Path:
    """Write report.html (one self-contained page) into a run or sweep folder; return its path."""
    path = Path(folder) / "report.html"
    write_text(path, build_report(folder, data))
    return path
