"""Reporting: the summary table a planner reads at the end of a run, and the HTML report.

`write_report` turns a run or sweep folder into one self-contained `report.html`: headline
table, vacancy trajectories, funnel, paired effects against the baseline, cost against effect,
equity, bottlenecks, the assumptions and sources behind every number, and the run details.
Figures are matplotlib PNGs embedded as base64; the page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import csv
import datetime
import html
import io
import json
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .compare import COMPARISON_HEADER, Job, comparison_rows, find_jobs, paired, reference_job, status_lines
from .experiment import write_text
from .provenance import UsedParameter, file_header, provenance_rows, used_parameters
from .stats import incremental_ratio, mean_ci, paired_difference

HEADLINE = (
    ("referrals", "all", "Residents referred", 0),
    ("hires", "all", "Hires of programme residents (gross)", 0),
    ("net_hires", "all", "Hires net of deadweight", 0),
    ("sustained_12m", "all", "Still in post after 12 months", 0),
    ("early_leavers", "all", "Left within 12 months", 0),
    ("time_to_start_mean", "all", "Days from referral to start (mean)", 0),
    ("vacancies_mean", "all", "Vacancies (mean over horizon)", 0),
    ("vacancy_rate", "all", "Vacancy rate (mean over horizon)", 3),
    ("programme_cost", "all", "Programme cost (GBP)", 0),
    ("cost_per_sustained_job", "all", "Cost per job sustained 12 months (GBP)", 0),
)


def _num(x: float, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}f}"


def summary_table(summary: list[tuple], scenario: str, published_vacancies: float | None = None) -> str:
    """Headline KPIs of one scenario, mean and 95% CI, as aligned text."""
    by_key = {(k, g): (m, lo, hi, n) for s, k, g, m, lo, hi, n in summary if s == scenario}
    lines = []
    width = max(len(label) for _, _, label, _ in HEADLINE)
    n_reps = max((n for (_, _, _, n) in by_key.values()), default=0)
    lines.append(f"{scenario}: mean and 95% confidence interval over {n_reps} replications")
    for kpi, group, label, digits in HEADLINE:
        if (kpi, group) not in by_key:
            continue
        m, lo, hi, _n = by_key[(kpi, group)]
        ci = f"[{_num(lo, digits)}, {_num(hi, digits)}]" if not math.isnan(lo) else ""
        lines.append(f"  {label:<{width}}  {_num(m, digits):>12}  {ci}")
    if published_vacancies:
        lines.append(f"  {'Published vacancy level (calibration)':<{width}}  {_num(published_vacancies, 0):>12}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- sweep headline
HEADLINE_KPIS = (
    ("hires", "all", "gross hires"),
    ("net_hires", "all", "net hires"),
    ("sustained_12m", "all", "sustained 12m"),
    ("vacancy_rate", "all", "vacancy rate"),
    ("vacancy_days", "all", "vacancy-days"),
    ("programme_cost", "all", "programme cost"),
    ("cost_per_net_sustained_job", "all", "cost per net sustained job"),
)


def headline_text(rows: list[tuple]) -> str:
    """Per option: mean [95% CI] of the headline KPIs and, for effects, the paired difference vs the reference."""
    by = {(r[0], r[2], r[3]): r for r in rows}
    options = list(dict.fromkeys(r[0] for r in rows))
    out = []
    for opt in options:
        parts = []
        for kpi, group, label in HEADLINE_KPIS:
            r = by.get((opt, kpi, group))
            if r is None:
                continue
            digits = 4 if kpi == "vacancy_rate" else 0
            text = f"{label} {_num(r[4], digits)}"
            if kpi in ("vacancy_rate", "vacancy_days", "net_hires", "sustained_12m") and not math.isnan(r[8]) and r[8] != 0:
                text += f" (vs reference {_num(r[8], digits)} [{_num(r[9], digits)}, {_num(r[10], digits)}])"
            parts.append(text)
        out.append(f"{opt}: " + "; ".join(parts))
    return "\n".join(out)


# ============================================================================= the HTML report
SECTIONS = (
    ("headline", "Headline: what each option buys"),
    ("vacancies", "Vacancies over time"),
    ("funnel", "Funnel: who enters and leaves each stage"),
    ("effects", "Effect of each option against the baseline"),
    ("cost-effect", "Cost against effect"),
    ("equity", "Equity: who gets the jobs"),
    ("bottlenecks", "Bottlenecks"),
    ("assumptions", "Assumptions and sources"),
    ("run", "Run details"),
)
STAGE_LABELS = {
    "engagement": "Engagement and needs assessment", "childcare": "Childcare place",
    "digital_skills": "Digital-skills course", "health_support": "Health and confidence support",
    "training": "Training course", "job_search": "Job search", "recruitment": "Recruitment",
    "checks": "Pre-employment checks", "in_post": "First year in post",
}
SUCCESS_REASONS = ("sustained 12 months",)  # leaving the funnel by succeeding, not dropping out
CAPACITY_LABELS = {
    "advisers": "Adviser caseloads", "childcare": "Childcare places",
    "digital_skills": "Digital-skills course places", "health_support": "Health and confidence support places",
    "interview_slots": "Interview slots",
}
EQUITY_GROUPS = (*((f"quintile:{q}", f"Quintile {q}" + (" (most deprived)" if q == 1 else
                                                         " (least deprived)" if q == 5 else "")) for q in range(1, 6)),
                 ("parents", "Parents of young children"), ("health_condition", "Health condition or disability"))
EFFECTS = (  # (kpi, label, kind): the paired effects in the forest plot and its table
    ("net_hires", "Net hires", "count"),
    ("sustained_12m", "Sustained at 12 months", "count"),
    ("vacancy_days", "Vacancy-days", "count"),
    ("vacancy_rate", "Vacancy rate (pp)", "pp"),
)
LOST_MARK = 10  # people giving up waiting, on average, that the bottleneck table shades
COST_LINES = (10_000, 25_000, 50_000, 100_000)  # GBP per extra job, dashed on the cost-effectiveness plane
REFERENCE_COLOUR = "#4d4d4d"
PALETTE = ("#1f77b4", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#17becf")
DPI = 150
MINUS = "\u2212"


@dataclass
class Option:
    """A finished job of the folder, as the report shows it."""

    job: Job
    config: dict
    meta: dict
    colour: str
    is_reference: bool

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


# ----------------------------------------------------------------------------- formatting
def _number(x: float | None, kind: str, signed: bool = False) -> str:
    """One number as the report prints it.

    kind: count, small (1 decimal), days, gbp, gbpk (£337k, £1.87m), pct or pp (of a share).
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    if kind in ("pct", "pp"):
        x *= 100
    if kind == "gbpk" and abs(x) >= 10_000:
        text = f"{abs(x) / 1e6:,.2f}m" if abs(x) >= 1e6 else f"{abs(x) / 1e3:,.0f}k"
    else:
        text = f"{abs(x):,.{2 if kind == 'pp' else 1 if kind == 'small' else 0}f}"
    nonzero = bool(text.strip("0.,mk"))
    sign = MINUS if x < 0 and nonzero else "+" if signed and x > 0 and nonzero else ""
    if kind in ("gbp", "gbpk"):
        return f"{sign}£{text}"
    return sign + text + {"pct": "%", "pp": " pp"}.get(kind, "")


def _ci(mean: float, low: float, high: float, kind: str, signed: bool = False, mark: str = "") -> str:
    """'257 (250 to 264)' as HTML (the interval in a smaller span), or the mean alone when there is none."""
    text = f'<span class="{mark}">{_number(mean, kind, signed)}</span>' if mark else _number(mean, kind, signed)
    if math.isfinite(low) and math.isfinite(high) and math.isfinite(mean) and low != high:
        text += f' <span class="ci">({_number(low, kind, signed)} to {_number(high, kind, signed)})</span>'
    return text


def _cell(row: dict | None, kind: str, mark: str = "") -> str:
    """Mean and 95% CI of a KPI that cannot be negative (nor above 1 for a share): the CI is cut there."""
    if row is None:
        return "n/a"
    top = 1.0 if kind == "pct" else math.inf
    return _ci(row["mean"], max(row["ci_low"], 0.0), min(row["ci_high"], top), kind, mark=mark)


def _diff_cell(row: dict | None, kind: str, option: Option) -> str:
    if option.is_reference:
        return '<span class="muted">reference</span>'
    if row is None or not math.isfinite(row["diff_mean"]):
        return "n/a"
    return _ci(row["diff_mean"], row["diff_ci_low"], row["diff_ci_high"], kind, signed=True)


def _esc(x: object) -> str:
    return html.escape(str(x))


def _code(text: str) -> str:
    """Monospaced, with line-break opportunities after , = . / so long labels and keys wrap cleanly."""
    return "<code>" + re.sub(r"([,=./])", r"\1<wbr>", _esc(text)) + "</code>"


def _badge(text: str, kind: str) -> str:
    return f'<span class="badge {kind}">{_esc(text)}</span>'


def _option_cell(o: Option, compared: bool) -> str:
    ref = " " + _badge("reference", "ref") if o.is_reference and compared else ""
    return (f'<span class="swatch" style="background:{o.colour}"></span>{_code(o.label)}{ref}'
            f'<div class="desc">{_esc(o.description)}</div>')


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (f'<div class="table-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


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


def _img(fig: Figure, alt: str) -> str:
    """The figure as an embedded PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}"></figure>'


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
def _headline(options: list[Option], st: Stats, n_reps: str) -> str:
    header = ["Option", "Gross hires of local residents", "Net hires (less deadweight)", "Sustained at 12 months",
              "Change in vacancy rate vs baseline", "Change in vacancy-days vs baseline", "Programme cost",
              "Cost per net sustained job", "Cost per additional net sustained job vs baseline"]
    ref = next((o for o in options if o.is_reference), None)
    rows = []
    alone = '<span class="muted">no baseline in this folder</span>'
    for o in options:
        kpi = {k: st.get(o.label, k) for k in ("hires", "net_hires", "sustained_12m", "vacancy_rate", "vacancy_days",
                                               "programme_cost", "cost_per_net_sustained_job")}
        cost = kpi["programme_cost"]
        changes = [alone, alone] if len(options) == 1 else [_diff_cell(kpi["vacancy_rate"], "pp", o),
                                                             _diff_cell(kpi["vacancy_days"], "count", o)]
        rows.append([_option_cell(o, len(options) > 1), _cell(kpi["hires"], "count"),
                     _cell(kpi["net_hires"], "count"), _cell(kpi["sustained_12m"], "count"), *changes,
                     _cell(cost, "gbpk"),
                     '<span class="muted">no cost</span>' if cost is not None and cost["mean"] == 0
                     else _cell(kpi["cost_per_net_sustained_job"], "gbpk"),
                     _incremental_cell(o, ref)])
    return (_table(header, rows, "headline")
            + f'<p class="note">Means over {n_reps} replications, 95% confidence interval in brackets. '
            "Changes against the baseline are paired differences: each option ran with the same random numbers "
            "as the baseline, replication by replication, so the interval measures the option's effect, not noise. "
            "Net hires discount those who would have been hired anyway (deadweight); cost per net sustained job "
            "is the option's whole programme cost over its net hires still in post after 12 months; cost per "
            "additional net sustained job is the paired difference in cost over the paired difference in net "
            "sustained jobs against the baseline (delta-method interval; not estimable when the gain in jobs is "
            "not distinguishable from zero) (k = thousand, m = million pounds).</p>")


def _incremental_cell(option: Option, ref: Option | None) -> str:
    """Incremental cost per additional net sustained job against the reference, with its 95% CI."""
    if ref is None:
        return '<span class="muted">no baseline in this folder</span>'
    if option.is_reference:
        return '<span class="muted">reference</span>'
    key_c, key_e = ("programme_cost", "all"), ("net_sustained_12m", "all")
    if key_c not in option.job.kpis or key_e not in option.job.kpis:
        return "n/a"
    c, c0 = paired(option.job.kpis[key_c], ref.job.kpis[key_c])
    e, e0 = paired(option.job.kpis[key_e], ref.job.kpis[key_e])
    r = incremental_ratio([a - b for a, b in zip(c, c0)], [a - b for a, b in zip(e, e0)])
    if not math.isfinite(r.mean):
        return '<span class="muted">not estimable: no clear gain in jobs</span>'
    return _ci(r.mean, r.low, r.high, "gbpk")


def _vacancy_section(options: list[Option], series: dict[str, dict], ref: Option | None) -> str:
    groups = [g for g in dict.fromkeys(g for o in options for g in series.get(o.label, {})) if g != "all"]
    if not groups:
        return '<p class="muted">No time series in this folder.</p>'
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
            ax.plot(years, [c.mean for c in cis], color=o.colour, lw=1.6 if o.is_reference else 1.3,
                    ls="--" if o.is_reference else "-", label=_wrap(o.label, 45))
            ax.fill_between(years, [c.low for c in cis], [c.high for c in cis], color=o.colour, alpha=0.15, lw=0)
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
    out = _img(fig, "Open vacancies over time by employer group, mean and 95% CI band per option")
    diff = _vacancy_difference(options, series, ref)
    return (out + '<p class="note">Open vacancies summed over roles in each employer group: mean over '
            "replications with its 95% confidence band. The options' own effect is small next to the "
            "vacancies the region carries, so the difference is shown below on its own scale.</p>" + diff)


def _vacancy_difference(options: list[Option], series: dict[str, dict], ref: Option | None) -> str:
    """Paired difference in total open vacancies against the baseline, over time."""
    others = [o for o in options if not o.is_reference and "all" in series.get(o.label, {})]
    if ref is None or not others or "all" not in series.get(ref.label, {}):
        return ""
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
        ax.plot(years, [c.mean for c in cis], color=o.colour, lw=1.4, label=_wrap(o.label, 45))
        ax.fill_between(years, [c.low for c in cis], [c.high for c in cis], color=o.colour, alpha=0.18, lw=0)
    ax.axhline(0, color=REFERENCE_COLOUR, lw=1, ls="--")
    ax.set_title("Change in open vacancies against the baseline, all employer groups (paired)", fontsize=10)
    ax.set_xlabel("years from start", fontsize=8)
    ax.set_ylabel("vacancies, option minus baseline", fontsize=8)
    _style(ax)
    _yaxis_thousands(ax)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return _img(fig, "Paired difference in open vacancies against the baseline over time, with 95% CI bands")


def _funnel_section(options: list[Option], funnels: dict[str, tuple[list[str], dict]], st: Stats) -> str:
    shown = [o for o in options if funnels.get(o.label, ([], {}))[0]]
    if not shown:
        return '<p class="muted">No funnel records in this folder.</p>'
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
        ax.set_yticks(y, [STAGE_LABELS.get(s, s.replace("_", " ")) for s in stages], fontsize=8)
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
    img = _img(fig, "Funnel per option: people entering each stage, split into drop-outs and those who moved on")

    header = ["Stage", "Measure"] + [_code(o.label) for o in shown]
    rows = []
    for s in stages:
        reasons = list(dict.fromkeys(r for o in shown for (st_, m, r) in funnels[o.label][1]
                                     if st_ == s and m == "left" and r))
        name = STAGE_LABELS.get(s, s.replace("_", " "))
        rows.append([f"<strong>{_esc(name)}</strong>", "entered"]
                    + [_count(funnels[o.label][1].get((s, "entered", ""), 0.0)) for o in shown])
        for r in reasons:
            rows.append(["", f"left: {_esc(r)}"]
                        + [_count(funnels[o.label][1].get((s, "left", r), 0.0)) for o in shown])
    rows.append(["<strong>Days from referral to start</strong>", "mean"]
                + [_cell(st.get(o.label, "time_to_start_mean"), "days") for o in shown])
    table = _table(header, rows, "funnel")
    return (img + '<p class="note">Mean number of people per replication. Everyone who enters a stage either '
            "leaves it, with the reason recorded, or moves on to the next stage (or is still in it at the end).</p>"
            + table)


def _count(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or x == 0 else f"{x:.1f}"


def _effects_section(options: list[Option], st: Stats) -> str:
    others = [o for o in options if not o.is_reference]
    if not others:
        return ('<p class="muted">Only one option in this folder: there is nothing to compare against a baseline. '
                "Run a sweep (<code>pathways -m intervention=[],[childcare] ...</code>) to compare options.</p>")
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
            ax.errorbar(m, yi, xerr=err, fmt="o", color=o.colour, capsize=3, ms=5, lw=1.5)
        ax.axvline(0, color=REFERENCE_COLOUR, lw=1, ls="--")
        ax.set_title(label, fontsize=9)
        _style(ax)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _, k=kind: f"{v:,.2f}" if k == "pp" else _compact(v)))
    axes[0].set_yticks(y, [_wrap(o.label, 28) for o in others], fontsize=8)
    axes[0].set_ylim(-0.7, len(others) - 0.3)
    img = _img(fig, "Forest plot: paired effect of each option against the baseline with 95% CIs")
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
            rows.append([f"<strong>{_esc(label)}</strong>" if i == 0 else "", _code(o.label),
                         _diff_cell(r, kind, o), f'<span class="ci">{unpaired}</span>'])
    return (img + '<p class="note">Each point is the mean over replications of (option minus baseline), '
            "computed replication by replication; the bar is its 95% confidence interval. An interval that "
            "does not cross the dashed zero line is an effect the replications can tell apart from no effect. "
            "For vacancy-days and vacancy rate, lower is better.</p>" + _table(header, rows, "effects"))


def _cost_effect_section(options: list[Option], st: Stats) -> str:
    others = [o for o in options if not o.is_reference]
    if not others:
        return '<p class="muted">Only one option in this folder: no incremental cost or effect to show.</p>'
    points = []
    for o in others:
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
        ax.errorbar(e["diff_mean"], c["diff_mean"], xerr=xerr, yerr=yerr, fmt="o", color=o.colour, ms=7,
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
    img = _img(fig, "Cost-effectiveness plane: incremental cost against incremental net sustained jobs, with 95% CIs")
    header = ["Option", "Incremental cost", "Incremental net sustained jobs", "Cost per extra net sustained job"]
    rows = []
    for o, e, c in points:
        rows.append([_code(o.label), _diff_cell(c, "gbpk", o), _diff_cell(e, "count", o),
                     _icer(c, e)])
    return (img + '<p class="note">Each point is an option\'s paired difference from the baseline in programme '
            "cost and in net jobs still held at 12 months, with 95% CIs in both directions. Dashed lines mark "
            f"{', '.join('£' + format(k, ',') for k in COST_LINES)} per extra job: an option below a line buys jobs "
            "more cheaply than that.</p>" + _table(header, rows, "cea"))


def _icer(cost: dict, effect: dict) -> str:
    """Ratio of mean differences, with what the effect's interval allows one to say."""
    dc, de, lo = cost["diff_mean"], effect["diff_mean"], effect["diff_ci_low"]
    if not (math.isfinite(dc) and math.isfinite(de)):
        return "n/a"
    if math.isfinite(lo) and lo <= 0 <= effect["diff_ci_high"]:
        return '<span class="muted">effect not distinguishable from zero at 95%</span>'
    if de > 0 and dc <= 0:
        return "more jobs for less money"
    if de <= 0:
        return '<span class="muted">fewer jobs than the baseline</span>'
    return f"{_number(dc / de, 'gbpk')} <span class=\"ci\">(ratio of mean differences)</span>"


def _equity_section(options: list[Option], st: Stats) -> str:
    groups = [(g, label) for g, label in EQUITY_GROUPS if any(st.get(o.label, "hires", g) for o in options)]
    if not groups:
        return '<p class="muted">No hires by target group in this folder.</p>'
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
        ax.bar(x - 0.4 + width * (i + 0.5), m, width, yerr=err, color=o.colour, capsize=2,
               error_kw={"lw": 0.9}, label=_wrap(o.label, 45))
    ax.set_xticks(x, [_wrap(label, 16) for _, label in groups], fontsize=8)
    ax.set_ylabel("hires of programme residents", fontsize=8)
    _style(ax)
    ax.grid(axis="x", visible=False)
    ax.legend(fontsize=8, frameon=False, ncols=min(3, len(options)), loc="upper right")
    img = _img(fig, "Hires by deprivation quintile, parents and people with a health condition, per option")
    header = ["Group"] + [_code(o.label) for o in options]
    rows = [[_esc(label)] + [_cell(st.get(o.label, "hires", g), "count") for o in options] for g, label in groups]
    rows.append(["Share of hires from the most deprived quintile"] + [_share(o) for o in options])
    return (img + '<p class="note">Gross hires of programme residents by target group (groups overlap: a parent '
            "is also counted in a quintile). Quintile 1 is the 20% most deprived neighbourhoods. The share is "
            "computed per replication, then averaged.</p>" + _table(header, rows, "equity"))


def _share(o: Option) -> str:
    part, whole = o.job.kpis.get(("hires", "quintile:1"), {}), o.job.kpis.get(("hires", "all"), {})
    ratios = [part[r] / whole[r] for r in part if whole.get(r)]
    ci = mean_ci(ratios)
    return _cell({"mean": ci.mean, "ci_low": ci.low, "ci_high": ci.high}, "pct")


def _capacity_label(name: str, config: dict) -> str:
    if name.startswith("course:"):
        course = name.split(":", 1)[1]
        label = str((config.get("pathway", {}).get("training", {}).get("courses", {}).get(course) or {})
                    .get("label", course.replace("_", " ")))
        return f"Places on the {label[:1].lower() + label[1:] if label[1:2].islower() else label}"
    return CAPACITY_LABELS.get(name, name.replace("_", " ").capitalize())


def _bottleneck_section(options: list[Option], st: Stats) -> str:
    caps = st.groups("utilisation", "capacity:")
    if not caps:
        return '<p class="muted">No capacity records in this folder.</p>'
    findings, rows = [], []
    for cap in caps:
        name = cap.split(":", 1)[1]
        for i, o in enumerate(options):
            util, wait = st.get(o.label, "utilisation", cap), st.get(o.label, "mean_wait", cap)
            ren, queue = st.get(o.label, "reneged", cap), st.get(o.label, "mean_queue", cap)
            level = "" if util is None else "hot" if util["mean"] >= 0.9 else "warm" if util["mean"] >= 0.75 else ""
            lost = "hot" if ren and ren["mean"] >= LOST_MARK else ""
            rows.append([f"<strong>{_esc(_capacity_label(name, o.config))}</strong>" if i == 0 else "",
                         f'<span class="swatch" style="background:{o.colour}"></span>{_code(o.label)}',
                         _cell(util, "pct", level), _cell(wait, "days"), _cell(ren, "small", lost),
                         _cell(queue, "small")])
    for o in options:
        findings.append(f"<li>{_code(o.label)}: {_esc(_worst(o, st, caps))}</li>")
    header = ["Capacity", "Option", "Utilisation", "Mean wait (days)", "Gave up waiting (people)", "Mean queue"]
    return (f'<ul class="findings">{"".join(findings)}</ul>' + _table(header, rows, "bottlenecks")
            + '<p class="note">Every capacity is a queue. Utilisation is the share of places or caseload in use; '
            "people who wait longer than their patience give up. The tightest constraint is the one that loses "
            f"the most people to waiting (or, if no one gives up, the busiest one). Shaded: utilisation of 75% and "
            f"of 90% or more; {LOST_MARK} or more people lost to waiting. Intervals are cut at 0 and 100%.</p>")


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


def _assumptions_section(options: list[Option]) -> str:
    """Every parameter the options used, from the YAML files, with the value each ran with."""
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
    if not merged:
        return '<p class="muted">No resolved config in this folder.</p>'
    n_assume = sum(next(iter(v.values())).row.is_assumption for v in merged.values())
    n_over = sum(any(u.note.startswith("overridden") for u in v.values()) for v in merged.values())
    n_nosource = sum(_needs_source(next(iter(v.values()))) for v in merged.values())
    out = [f'<p>{len(merged):,} parameters from {len(file_users)} files: {_badge(f"{n_assume} assumptions", "assume")} '
           f'{_badge(f"{n_over} overridden on the command line", "over")} '
           f'{_badge(f"{n_nosource} numbers without a stated source", "nosource")}. Source ids refer to '
           "<code>../shared/evidence/parameters.csv</code>; values are those each run used (its resolved "
           "<code>config.yaml</code>).</p>"]
    root = CONFIG_DIR.parent
    for f, users in file_users.items():
        keys = [(ff, k) for (ff, k) in merged if ff == f]
        rel = f.relative_to(root) if f.is_relative_to(root) else f
        who = "all options" if len(users) == len(options) else ", ".join(users)
        out.append(f'<h3><code>{_esc(rel)}</code> <span class="muted small">used by {_esc(who)}</span></h3>')
        header_text = file_header(f)
        if header_text:
            out.append(f'<p class="filedesc">{_esc(header_text)}</p>')
        if not keys:
            continue
        rows, previous = [], ""
        for key in keys:
            per_option = merged[key]
            first = next(iter(per_option.values()))
            values = dict.fromkeys(u.used for u in per_option.values())
            if len(values) == 1:
                value = _esc(first.used)
            else:
                value = "<br>".join(f"{_code(lab)}: {_esc(u.used)}" for lab, u in per_option.items())
            notes = dict.fromkeys(u.note for u in per_option.values() if u.note)
            badges = (_badge("assumption", "assume") if first.row.is_assumption else "") + "".join(
                _badge(n, "over" if n.startswith("overridden") else "muted-badge") for n in notes)
            comment = first.row.comment
            text = re.sub(r"^assumptions?\s*[:;,.]?\s*", "", comment, flags=re.I) if first.row.is_assumption \
                else comment
            shown = '<span class="muted">as above</span>' if comment and comment == previous and len(comment) > 60 \
                else _esc(text) if comment else ('<span class="muted">no source given</span>'
                                                   if _needs_source(first) else "")
            previous = comment
            rows.append([_code(key[1]), f'<span class="value">{value}</span>',
                         f"{badges} {shown}".strip()])
        out.append(_table(["Parameter", "Value used", "Source or assumption"], rows, "params"))
    return "".join(out)


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


def _run_section(options: list[Option], jobs: list[Job]) -> str:
    header = ["Job folder", "Option", "Status", "Seed", "Replications", "Config hash", "Date", "Run time"]
    rows = []
    by_path = {o.job.path: o for o in options}
    status = {"done": "complete", "failed": _badge("FAILED", "bad"), "unfinished": _badge("unfinished", "bad")}
    for j in jobs:
        meta = by_path[j.path].meta if j.path in by_path else _read_json(j.path / "run.json")
        sha = str(meta.get("config_sha256", ""))
        wall = meta.get("wall_seconds")
        date = str(meta.get("date", "")).replace("T", " ").replace("+00:00", " UTC")
        rows.append([_code(j.path.name), _code(j.label), status[j.status], _esc(meta.get("seed", "")),
                     _esc(meta.get("replications", "")), f'<code title="{_esc(sha)}">{_esc(sha[:12])}</code>',
                     _esc(date), f"{wall:.1f} s" if isinstance(wall, (int, float)) else ""])
    versions = dict.fromkeys(json.dumps(o.meta.get("versions", {}), sort_keys=True) for o in options)
    version_text = "; ".join(", ".join(f"{k} {v}" for k, v in json.loads(v).items()) for v in versions if v != "{}")
    notes = [f"<li>{_code(o.label)}: {_esc(o.meta['precision'])}</li>" for o in options if o.meta.get("precision")]
    seeds = {o.meta.get("seed") for o in options}
    crn = (f"Every option ran with root seed {_esc(seeds.pop())}, so replication r of each option used the same "
           "random streams (common random numbers)." if len(seeds) == 1 else
           "<strong>The options ran with different seeds</strong>: they do not share random numbers, and the "
           "paired intervals are no narrower than unpaired ones.")
    return (_table(header, rows, "run")
            + (f"<p>Versions: {_esc(version_text)}.</p>" if version_text else "")
            + (f'<ul>{"".join(notes)}</ul>' if notes else "")
            + f'<p class="note">{crn} The config hash is the SHA-256 of the resolved config (hover for all of '
            "it): equal hashes, equal inputs.</p>")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


# ----------------------------------------------------------------------------- assembly
CSS = """
:root { --ink:#1d2430; --muted:#5f6b7a; --line:#e2e6ea; --soft:#f5f7f9; --accent:#1f5f99; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:#fff; line-height:1.45;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 28px 72px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 40px 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1rem; margin: 24px 0 6px; }
p, li { max-width: 80ch; }
.lead { color: var(--muted); margin: 0 0 16px; }
nav ol { columns: 3; font-size: .92rem; padding-left: 1.2em; margin: 12px 0 0; }
nav a { color: var(--accent); text-decoration: none; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .86em;
  overflow-wrap: break-word; }
.table-wrap { overflow-x: auto; margin: 8px 0 12px; }
table { border-collapse: collapse; width: 100%; font-size: .86rem; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { background: var(--soft); font-weight: 600; text-align: right; }
th:first-child, td:first-child { text-align: left; }
table.headline { font-size: .8rem; }
table.headline td:first-child { min-width: 12em; }
table.funnel td:nth-child(2), table.effects td:nth-child(2), table.bottlenecks td:nth-child(2),
table.funnel th:nth-child(2), table.effects th:nth-child(2), table.bottlenecks th:nth-child(2) { text-align: left; }
table.params td, table.params th, table.run td, table.run th { text-align: left; }
table.run td:nth-child(4), table.run td:nth-child(5), table.run td:nth-child(8) { text-align: right; }
table.run td:nth-child(6), table.run td:nth-child(7) { white-space: nowrap; }
table.params td:first-child { width: 30%; }
table.params td:nth-child(2) { width: 22%; }
.value { overflow-wrap: anywhere; }
.ci { color: var(--muted); font-size: .82em; white-space: nowrap; }
td .ci { display: block; }
.desc { color: var(--muted); font-size: .82em; margin-top: 2px; }
.note { color: var(--muted); font-size: .86rem; }
.muted { color: var(--muted); }
.small { font-size: .8rem; font-weight: normal; }
.filedesc { color: var(--muted); font-size: .84rem; margin: 0 0 4px; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .4em;
  vertical-align: -.05em; }
.badge { display: inline-block; padding: 0 .5em; border-radius: .7em; font-size: .74rem; font-weight: 600;
  margin-right: .3em; white-space: nowrap; }
.badge.ref { background: #e8eef5; color: #33506e; }
.badge.assume { background: #fff1d6; color: #8a5a00; }
.badge.over { background: #dcecff; color: #1f5f99; }
.badge.nosource { background: #f0f0f0; color: #555; }
.badge.muted-badge { background: #f0f0f0; color: #555; font-weight: normal; }
.badge.bad { background: #fde2e1; color: #a4231c; }
.hot { background: #fde2e1; padding: 1px 4px; border-radius: 3px; }
.warm { background: #fff1d6; padding: 1px 4px; border-radius: 3px; }
.lost { background: #fde2e1; padding: 1px 4px; border-radius: 3px; }
.alert { border: 2px solid #c0392b; background: #fdf0ef; border-radius: 6px; padding: 10px 16px; margin: 16px 0; }
.alert h2 { margin: 0 0 6px; border: 0; color: #a4231c; font-size: 1.1rem; }
.findings li { margin: 4px 0; }
figure { margin: 12px 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
@page { size: A4; margin: 14mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  section { break-before: page; }
  section:first-of-type { break-before: auto; }
  h2, h3 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .table-wrap { overflow: visible; }
  table { font-size: 7.5pt; }
  th, td { padding: 3px 4px; }
  .ci, table.run td { white-space: normal !important; }
  table.headline td:first-child { min-width: 0; width: 24%; }
  a { color: inherit; text-decoration: none; }
}
"""


def _failures(jobs: list[Job]) -> str:
    lines = status_lines(jobs)
    if not lines:
        return ""
    items = "".join(f"<li><code>{_esc(line)}</code></li>" for line in lines)
    return (f'<div class="alert" role="alert"><h2>{len(lines)} of {len(jobs)} jobs did not finish</h2>'
            f"<ul>{items}</ul><p>The tables and figures below show only the finished jobs. Run "
            "<code>pathways-report</code> on this folder again after resuming the sweep.</p></div>")


def build_report(folder: Path) -> str:
    """The report of a run or sweep folder as one self-contained HTML page."""
    folder = Path(folder)
    jobs = find_jobs(folder)
    st = Stats(comparison_rows(jobs))
    ref_job = reference_job(jobs)
    options = []
    for j in (j for j in jobs if j.status == "done"):
        colour = REFERENCE_COLOUR if j is ref_job else PALETTE[sum(not o.is_reference for o in options) % len(PALETTE)]
        options.append(Option(j, _read_yaml(j.path / "config.yaml"), _read_json(j.path / "run.json"), colour,
                              j is ref_job))
    ref = next((o for o in options if o.is_reference), None)
    series = {o.label: _vacancies(o.job.path / "timeseries.csv") for o in options}
    funnels = {o.label: _funnel(o.job.path / "funnel.csv") for o in options}
    reps = sorted({str(o.meta.get("replications", "?")) for o in options})
    first = options[0].config if options else {}
    region = (first.get("region") or {}).get("label", "")
    horizon = (first.get("experiment") or {}).get("horizon_days")
    lead = [f"{len(options)} option{'s' if len(options) != 1 else ''}"]
    if reps:
        lead.append(f"{' or '.join(reps)} replications each")
    if horizon:
        lead.append(f"{float(horizon) / 365.25:.1f}-year horizon")
    if len(options) == 1:
        lead.append("a single run, so no baseline to compare against")
    elif ref:
        lead.append(f"baseline: {_code(ref.label)}")
    n_reps = " or ".join(reps) or "0"
    if options:
        bodies = {
            "headline": _headline(options, st, n_reps),
            "vacancies": _vacancy_section(options, series, ref),
            "funnel": _funnel_section(options, funnels, st),
            "effects": _effects_section(options, st),
            "cost-effect": _cost_effect_section(options, st),
            "equity": _equity_section(options, st),
            "bottlenecks": _bottleneck_section(options, st),
            "assumptions": _assumptions_section(options),
        }
    else:
        bodies = {key: '<p class="muted">No finished jobs in this folder.</p>' for key, _ in SECTIONS}
    bodies["run"] = _run_section(options, jobs)
    nav = "".join(f'<li><a href="#{key}">{_esc(title)}</a></li>' for key, title in SECTIONS)
    sections = "".join(f'<section id="{key}"><h2>{_esc(title)}</h2>{bodies[key]}</section>' for key, title in SECTIONS)
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"Recruitment pathways{': ' + region if region else ''}"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{_esc(title)} — {_esc(folder.name)}</title>'
            f"<style>{CSS}</style></head><body><main>"
            f"<h1>{_esc(title)}</h1>"
            f'<p class="lead">{"; ".join(lead)}. Folder {_code(str(folder.resolve()))}, '
            f"report written {generated}.</p>{_failures(jobs)}"
            f"<nav><ol>{nav}</ol></nav>{sections}</main></body></html>")


def write_report(folder: Path) -> Path:
    """Write report.html (one self-contained page) into a run or sweep folder; return its path."""
    path = Path(folder) / "report.html"
    write_text(path, build_report(folder))
    return path
