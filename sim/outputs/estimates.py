"""The headline's estimates (effects and cost ratios with their intervals), programme spend and the parameters a
folder used: one definition read by the report, the workbook and the page."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from sim.outputs.elements import Piece
from sim.outputs.folder import Option, ReportData, Stats, config_files
from sim.outputs.formatting import _ci, estimate, group_label, muted
from sim.params.kpis import KPI
from sim.params.paths import CONFIG_DIR
from sim.params.provenance import Provenance, UsedParameter, provenance_rows, used_parameters


# ----------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class Column:
    """A column of the headline comparison: the HTML report, the workbook and the web page all draw these.

    show: mean (the option's own mean and CI), diff (paired difference against the reference),
    or ratio (a cost per unit of effect from comparison.csv: sim.analysis.compare.cost_effect, the one
    definition). Its header and unit are the KPI's, from the registry.
    """

    kpi: str
    show: str = "mean"

    @property
    def label(self) -> str:
        short = KPI[self.kpi].short
        return f"Change in {short[:1].lower() + short[1:]} vs baseline" if self.show == "diff" else short

    @property
    def kind(self) -> str:
        """How its numbers print: count, gbpk, ... (see formatting._number)."""
        return KPI[self.kpi].unit


HEADLINE_COLUMNS = (
    # residents into work (those referred in the window, followed to their outcome)
    Column("hires"),
    Column("net_sustained_12m"),
    Column("net_sustained_12m", "diff"),
    Column("cost_per_net_sustained_job", "ratio"),
    # staffing: one effect, the window's mean staff in post (vacancy-days avoided are it x the window's days),
    # and the BAU hires displaced
    Column("staff_in_post_mean", "diff"),
    Column("bau_hires", "diff"),
    Column("cost_per_vacancy_year_avoided", "ratio"),
    Column("programme_cost"),
)


@dataclass(frozen=True)
class Estimate:
    """A number with its 95% CI, or `note` saying why there is none."""

    mean: float = math.nan
    low: float = math.nan
    high: float = math.nan
    note: str = ""


def headline_estimates(d: ReportData) -> list[tuple[Option, list[Estimate]]]:
    """Per option (context left out), one Estimate per HEADLINE_COLUMNS entry."""
    out = []
    for o in d.compared:
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
    """A cost per unit of effect (the registry's `derived` KPIs) as the console, the report and the workbook all show
    it: the value and Fieller's 95% CI from comparison.csv, "not bounded" when that row's CI is (-inf, inf), or
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
    effect = KPI[KPI[kpi].effect]
    e = st.get(option, effect.name)
    if e is None or cost is None:
        return Estimate(note="n/a")
    lo, hi = sorted((effect.sign * e["diff_ci_low"], effect.sign * e["diff_ci_high"]))
    if hi < 0:
        return Estimate(note="a loss against the baseline")
    if lo > 0 and cost["diff_mean"] <= 0:
        return Estimate(note="a gain for less money")
    return Estimate(note="n/a")


def estimate_text(e: Estimate, kind: str, signed: bool = False) -> str:
    """An Estimate as plain text (the console, the workbook): '£183k (£120k to £260k)', or its note."""
    return e.note or str(estimate(e.mean, e.low, e.high, kind, signed))


def _estimate_piece(e: Estimate, col: Column) -> Piece | str:
    if e.note:
        return muted(e.note)
    if not math.isfinite(e.mean):
        return "n/a"
    return _ci(e.mean, e.low, e.high, col.kind, signed=col.show == "diff")


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
    label = group_label(group, config)
    return f"{label} (referrals)" if group.startswith("channel:") else label


def parameters_used(options: list[Option]
                    ) -> tuple[dict[Path, list[str]], dict[tuple[Path, str], dict[str, UsedParameter]]]:
    """The config files the options used (file -> option labels), and every parameter of them
    ((file, key) -> option label -> the parameter with the value that option ran with)."""
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
