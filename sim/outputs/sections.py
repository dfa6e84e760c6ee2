"""The report's sections, one function each: what a section shows, read from the folder."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.analysis.compare import UNCERTAINTY, expected
from sim.experiment.stats import mean_ci, paired_difference
from sim.outputs.elements import HATCHES, PALETTE, REFERENCE_COLOUR, Chart, Piece, Table
from sim.outputs.estimates import (
    HEADLINE_COLUMNS,
    _estimate_piece,
    headline_estimates,
    parameters_used,
    programme_spend,
    ratio_estimate,
    source_text,
)
from sim.outputs.figures import _chart, _figure, _style, _yaxis_thousands
from sim.outputs.folder import Option, ReportData, Stats, _read_json, stage_label
from sim.outputs.formatting import (
    _cell,
    _ci,
    _compact,
    _diff_cell,
    _option_cell,
    _wrap,
    badge,
    capacity_label,
    code,
    estimate,
    group_label,
    muted,
    name,
    number,
    reason_label,
)
from sim.outputs.glossary import GLOSSARY
from sim.outputs.sizes import unchanged_sentences
from sim.params.kpis import COST_RATIOS, KPI, group
from sim.params.paths import CONFIG_DIR
from sim.params.provenance import UsedParameter, file_header
from sim.params.ranges import supply_ends
from sim.params.schema import BORROWABLE


@dataclass(frozen=True)
class Section:
    """A report section: its anchor (and partial `sections/<key>.html.j2`), title and builder.

    The builder takes the `ReportData` and returns the partial's variables, or {"empty": text}
    to print a one-line note instead of the partial.
    """

    key: str
    title: str
    build: Callable[[ReportData], dict[str, Any]]


SUCCESS_REASONS = ("sustained 12 months",)  # leaving the funnel by succeeding, not dropping out

EQUITY_GROUPS = (*(f"quintile:{q}" for q in range(1, 6)), "parents", "health_condition")

LOST_MARK = 10  # people giving up waiting, on average, that the bottleneck table shades

COST_LINES = (10_000, 25_000, 50_000, 100_000)  # GBP per extra job, dashed on the cost-effectiveness plane


def _recommendation_section(d: ReportData) -> dict[str, Any]:
    """What to fund, per effect, in words; each option's expected gains over the parameter sets beside its result
    at the files' values; the context (jobs that buy nothing) apart."""
    from sim.outputs import recommendation as rec

    data = rec.read(d.folder)
    context = [{"option": name(o), "staff": _cell_diff(d, o, "staff_in_post_mean"),
                "vacancies": _cell_diff(d, o, "vacancies_mean")} for o in d.context]
    if data is None:
        return {"fixed": True, "sentences": [], "context": context, "table": None}
    exp = expected(d.folder)
    p = {r["effect"]: r["p_best"] for r in data["recommendations"]}
    rows = []
    for o in d.compared:
        cells: list[Any] = [_option_cell(o, True)]
        for kpi, factor in (("net_sustained_12m", 1.0), ("vacancy_days", -1 / 365.0)):
            cells += [_expected_cell(exp.get((o.label, kpi)), factor, o.is_reference),
                      _base_cell(d.stats.get(o.label, kpi), factor, o.is_reference)]
        cells.append(_expected_cell(exp.get((o.label, "programme_cost")), 1.0, o.is_reference, "gbpk"))
        cells += [f"{100 * p[e].get(o.label, 0.0):.0f}%" for e in ("sustained_job", "vacancy_year")]
        rows.append(cells)
    header = ["Option", "Net sustained jobs: expected", "at the files' values", "Vacancy-years avoided: expected",
              "at the files' values", "Programme cost: expected", "Best buy for jobs", "Best buy for staffing"]
    return {"fixed": False, "sentences": rec.sentences(data), "context": context,
            "table": Table(header, rows, "recommendation"), "sets": data["recommendations"][0]["sets"],
            **calibration_change(d.folder, region_of(d))}


def method_of(meta: dict[str, Any]) -> str:
    """A calibration's method for a sentence: its short name (calibration.json's method_short; the full text stays
    in the calibration's own report)."""
    return str(meta.get("method_short") or str(meta.get("method", "pathways-calibrate")).split(" (")[0])


def calibration_change(folder: Path, region: str) -> dict[str, Any]:
    """Which parameters a sweep's sets (in `folder`, on `region`) drew from the region's posterior, against which
    targets, and how the leading option's expected effects changed from the prior ranges to it (a sentence each
    and a small table); the parameters by the run's own labels (uncertainty/parameters.csv), else the
    calibration's."""
    from sim.outputs import calibration as cal
    from sim.outputs.recommendation import display

    used = cal.used(folder, region)
    if not used.drawn or used.folder is None:
        return {"calibrated": []}
    labels = {r["parameter"]: r.get("label") or r["parameter"]
              for f in (used.folder, folder / cal.UNCERTAINTY) for r in cal.read_parameters(f)}
    names = _read_json(folder / cal.UNCERTAINTY / "decide.json").get("calibrated", [])
    fitted = [t for t in cal.read_targets(used.folder) if t.role == "calibration"]
    method = method_of(used.meta)
    words = [f"The parameter sets drew {len(names)} calibrated parameters from the region's posterior "
             f"({used.where}, {method}): " + "; ".join(labels.get(n, n) for n in names)
             + f". They were fitted to {len(fitted)} published outcomes (the calibration targets; the section "
             "\"Does the model reproduce what is known?\" sets each against the model). Every other uncertain number "
             "keeps its prior range."]
    settling = str(used.meta.get("settling") or "")
    if settling:
        ess = used.meta.get("ess")
        size = f"an effective sample size of {ess:.0f}" if isinstance(ess, (int, float)) else "its sample"
        words.append(f"Its posterior has settled: {size}, and the last batch of simulations hardly moved it."
                     if settling == "settled" else f"Its posterior has {settling} (the calibration's report.md): its "
                     "intervals carry more sampling error than the calibration's rule allows.")
    if used.changed:
        words.append("The calibration has changed since these sets ran (posterior.csv is not the one they were drawn "
                     "from): run the comparison again in a new folder to use it.")
    change = cal.decision_change(folder)
    table = None
    if change and change["rows"]:
        o = display(change["option"])
        parts = []
        for r in change["rows"]:
            c = r["change"]
            how = ("the same width" if not math.isfinite(c) or abs(c) < 0.005 else
                   f"{abs(c):.0%} {'narrower' if c < 0 else 'wider'}")
            parts.append(f"{r['effect'].lower()} {_effect(r['posterior'])} against {_effect(r['prior'])} with the "
                         f"prior ranges alone ({how})")
        p = [(e, change["p_prior"].get(e), change["p_posterior"].get(e)) for e in ("sustained_job", "vacancy_year")]
        best = "; ".join(f"for {'jobs' if e == 'sustained_job' else 'staffing'} {100 * a:.0f}% with the prior, "
                         f"{100 * b:.0f}% with the posterior" for e, a, b in p
                         if a is not None and b is not None and math.isfinite(a) and math.isfinite(b))
        words.append(f"With the posterior, {o} gives " + "; ".join(parts) + " (the same sets and residents, so the "
                     "difference is the calibration's)." + (f" Its chance of being the best buy: {best}." if best
                                                             else ""))
        rows = [[r["effect"], _effect_cell(r["prior"]), number(r["prior_width"], "count"),
                 _effect_cell(r["posterior"]), number(r["posterior_width"], "count"),
                 "n/a" if not math.isfinite(r["change"]) else f"{r['change']:+.0%}"] for r in change["rows"]]
        table = Table([f"Effect of {o}", "Prior ranges: expected", "interval width", "Posterior: expected",
                       "interval width", "Change in width"], rows, "calibration-change")
    else:
        words.append("The same sets on the prior ranges alone did not run (experiment.compare_prior=false), so the "
                     "report cannot say how much the calibration changed the answer.")
    return {"calibrated": words, "calibration_table": table}


def _effect(e: tuple[float, float, float]) -> str:
    """An expected effect and the interval holding 95% of the sets, in words."""
    return str(estimate(e[0], e[1], e[2], "count", True))


def _effect_cell(e: tuple[float, float, float]) -> Piece:
    return _ci(e[0], e[1], e[2], "count", signed=True)


def region_of(d: ReportData) -> str:
    """The region of the comparison (the reference's; every option of a sweep runs on one)."""
    o = d.reference or (d.options[0] if d.options else None)
    return str(((o.config if o else {}).get("region") or {}).get("name", ""))


def _expected_cell(e: tuple[float, float, float, int] | None, factor: float, reference: bool, kind: str = "count"
                   ) -> Piece | str:
    """An expected change over the parameter sets, with the 2.5-97.5% points of the sets."""
    if reference:
        return muted("reference")
    if e is None:
        return "n/a"
    lo, hi = sorted((e[1] * factor, e[2] * factor))
    return _ci(e[0] * factor, lo, hi, kind, signed=kind == "count")


def _base_cell(r: dict | None, factor: float, reference: bool) -> Piece | str:
    """The change at the files' values, with its simulation-only 95% CI."""
    if reference:
        return muted("reference")
    if r is None:
        return "n/a"
    lo, hi = sorted((r["diff_ci_low"] * factor, r["diff_ci_high"] * factor))
    return _ci(r["diff_mean"] * factor, lo, hi, "count", signed=True)


def _cell_diff(d: ReportData, o: Option, kpi: str) -> str:
    r = d.stats.get(o.label, kpi)
    return str(estimate(r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"], "count", True)) if r else "n/a"


def _headline(d: ReportData) -> dict[str, Any]:
    rows = [[_option_cell(o, len(d.options) > 1), *(_estimate_piece(e, c) for e, c in zip(est, HEADLINE_COLUMNS))]
            for o, est in headline_estimates(d)]
    return {"table": Table(["Option", *(c.label for c in HEADLINE_COLUMNS)], rows, "headline"), "n_reps": d.n_reps,
            "borrows": borrowed(d.options[0].config if d.options else {}), "unchanged": unchanged_sentences(d)}


def borrowed(config: dict) -> str:
    """What the run's region takes from another region's numbers, in words ("" if it stands on its own)."""
    region = config.get("region") or {}
    what = [BORROWABLE.get(str(w), str(w)) for w in region.get("borrows") or []]
    if not what:
        return ""
    return (f"{region.get('label') or region.get('name')} borrows from {region.get('borrows_from')}: "
            + "; ".join(what) + ". Those numbers are the other region's, not this region's own.")


def _vacancy_section(d: ReportData) -> dict[str, Any]:
    options, series, ref = d.compared, d.series, d.reference
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
                    + [number(funnels[o.label][1].get((s, "entered", ""), 0.0), "count") for o in shown])
        for r in reasons:
            rows.append(["", f"left: {reason_label(r, *(o.config for o in shown))}"]
                        + [number(funnels[o.label][1].get((s, "left", r), 0.0), "count") for o in shown])
    wait = KPI["time_to_start_mean"]
    rows.append([Piece("strong", wait.short), "mean"] + [_cell(st.get(o.label, wait.name), wait.unit) for o in shown])
    return {"chart": chart, "table": Table(header, rows, "funnel")}


def _effects_section(d: ReportData) -> dict[str, Any]:
    others, st = d.others, d.stats
    if not others:
        return {"empty": "Only one option in this folder: there is nothing to compare against a baseline. "
                         "Run a sweep (pathways -m intervention=[],[childcare] ...) to compare options."}
    fig = _figure(10, 0.45 * len(others) + 1.4)
    forest = group("forest")
    axes = fig.subplots(1, len(forest), sharey=True, squeeze=False)[0]
    y = np.arange(len(others))[::-1]
    for ax, k in zip(axes, forest):
        kind = "pp" if k.unit == "pct" else k.unit
        scale = 100 if kind == "pp" else 1
        for yi, o in zip(y, others):
            r = st.get(o.label, k.name)
            if r is None or not math.isfinite(r["diff_mean"]):
                continue
            m, lo, hi = (r[k] * scale for k in ("diff_mean", "diff_ci_low", "diff_ci_high"))
            err = [[m - lo], [hi - m]] if math.isfinite(lo) else None
            ax.errorbar(m, yi, xerr=err, fmt=o.marker, color=o.colour, capsize=3, ms=5, lw=1.5)
        ax.axvline(0, color=REFERENCE_COLOUR, lw=1, ls="--")
        ax.set_title(k.short, fontsize=9)
        _style(ax)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _, k=kind: f"{v:,.2f}" if k == "pp" else _compact(v)))
    axes[0].set_yticks(y, [_wrap(o.label, 28) for o in others], fontsize=8)
    axes[0].set_ylim(-0.7, len(others) - 0.3)
    chart = _chart(fig, "Forest plot: paired effect of each option against the baseline with 95% CIs")
    header = ["Effect", "Option", "Paired difference vs baseline", "Unpaired 95% CI (for comparison)"]
    rows = []
    for k in group("effects"):
        for i, o in enumerate(others):
            r = st.get(o.label, k.name)
            if r is None:
                continue
            unpaired = estimate(r["diff_mean"], r["unpaired_diff_ci_low"], r["unpaired_diff_ci_high"], k.unit,
                                True).interval or "n/a"
            rows.append([Piece("strong", k.short) if i == 0 else "", name(o), _diff_cell(r, k.unit, o),
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
    effect, cost, days = KPI["net_sustained_12m"], KPI["programme_cost"], KPI["vacancy_days"]
    ratios = {k.effect: k for k in COST_RATIOS}
    ax.set_xlabel(f"incremental {effect.label} (option minus baseline, paired)", fontsize=9)
    ax.set_ylabel(f"incremental {cost.label}", fontsize=9)
    _style(ax)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v, "£")))
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    chart = _chart(fig, f"Cost-effectiveness plane: incremental {cost.label} against incremental {effect.label}, "
                        "with 95% CIs")
    header = ["Option", f"Incremental {cost.label}", f"Incremental {effect.label}", ratios[effect.name].short,
              f"{days.short} avoided (additional staff x days in the window)", ratios[days.name].short]
    rows = []
    for o, e, c in points:
        vd = st.get(o.label, "vacancy_days")
        avoided = None if vd is None else {**vd, "diff_mean": -vd["diff_mean"], "diff_ci_low": -vd["diff_ci_high"],
                                           "diff_ci_high": -vd["diff_ci_low"]}
        rows.append([name(o), _diff_cell(c, cost.unit, o), _diff_cell(e, effect.unit, o),
                     _ratio_cell(st, o, ratios[effect.name].name), _diff_cell(avoided, days.unit, o),
                     _ratio_cell(st, o, ratios[days.name].name)])
    return {"chart": chart, "table": Table(header, rows, "cea"),
            "cost_lines": ["£" + format(k, ",") for k in COST_LINES]}


def _ratio_cell(st: Stats, o: Option, kpi: str) -> Piece | str:
    """A cost per unit of effect in the cost-effect table (ratio_estimate, as in the headline)."""
    e = ratio_estimate(st, o.label, kpi)
    return muted(e.note) if e.note else _ci(e.mean, e.low, e.high, KPI[kpi].unit)


def _equity_section(d: ReportData) -> dict[str, Any]:
    options, st = d.options, d.stats
    groups = [(g, group_label(g, {})) for g in EQUITY_GROUPS if any(st.get(o.label, "hires", g) for o in options)]
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
    ax.set_ylabel(KPI["hires"].label, fontsize=8)
    _style(ax)
    ax.grid(axis="x", visible=False)
    ax.legend(fontsize=8, frameon=False, ncols=min(3, len(options)), loc="upper right")
    chart = _chart(fig, "Hires by deprivation quintile, parents and people with a health condition, per option")
    header = ["Group"] + [name(o) for o in options]
    table: list[list[Any]] = [[label] + [_cell(st.get(o.label, "hires", g), KPI["hires"].unit) for o in options]
                              for g, label in groups]
    table.append(["Share of hires from the most deprived quintile"] + [_share(o) for o in options])
    return {"chart": chart, "table": Table(header, table, "equity")}


def _staffing_section(d: ReportData) -> dict[str, Any]:
    """The staffing effect where it lands: per employer group and role, staff in post and the BAU hires
    the programme's starters displaced, each a paired difference against the reference."""
    others, st = d.others, d.stats
    if not others:
        return {"empty": "Only one option in this folder: no staffing effect to show against a baseline."}
    labels = _staff_groups(d)
    header = ["Employer group or role", "Measure"] + [name(o) for o in others]
    rows = []
    for where, label in labels:
        for i, k in enumerate(group("staffing")):  # vacancy-days are staff in post in other units: not a row
            if all(st.get(o.label, k.name, where) is None for o in others):
                continue
            rows.append([Piece("strong", label) if i == 0 else "", k.short,
                         *(_diff_cell(st.get(o.label, k.name, where), k.unit, o) for o in others)])
    return {"table": Table(header, rows, "staffing"), "supply": _supply(d)}


def _supply(d: ReportData) -> dict[str, Any]:
    """The labour-supply assumption in words, and what each option's extra staff would be with no displacement.

    The upper end (elasticity 0: no programme hire displaces a BAU hire) is the option's own starters in post,
    counted in the run (`programme_staff_in_post_mean`); the lower end (1, an unlimited pool) needs a run."""
    ref = d.reference or d.options[0]
    wf = (ref.config.get("region") or {}).get("workforce") or {}
    unit = KPI["staff_in_post_mean"].unit
    options = []
    for o in d.others:
        staff, own = d.stats.get(o.label, "staff_in_post_mean"), d.stats.get(o.label, "programme_staff_in_post_mean")
        # only where the starters are the effect: at least one in post, and no more staff than them (an option
        # that also keeps staff longer, or adds posts, has an effect its starters do not bound)
        if staff and own and math.isfinite(staff["diff_mean"]) and 1.0 <= own["diff_mean"] >= staff["diff_mean"]:
            options.append({"option": name(o), "staff": number(staff["diff_mean"], unit, True),
                            "own": number(own["diff_mean"], unit, True),
                            "share": f"{100 * staff['diff_mean'] / own['diff_mean']:.0f}%"})

    e = float(wf.get("bau_vacancy_elasticity", 1.0))
    return {"elasticity": f"{e:.2g}", "options": options, "range": [f"{x:g}" for x in supply_ends(CONFIG_DIR, e)],
            "ends": _supply_ends(d, ref)}


def _supply_ends(d: ReportData, ref: Option) -> dict[str, Any]:
    """Each option's extra staff in post at each end of the elasticity's range: the paired replications the
    jobs ran there (`supply.csv`, `experiment.supply_replications`), differences against the reference; in a
    comparison on parameter sets (which vary the elasticity over the same range), fitted from the sets."""
    if not (ref.job.path / "supply.csv").exists() and (d.folder / UNCERTAINTY / "psa.csv").exists():
        return _supply_ends_from_sets(d, ref)
    unit = KPI["staff_in_post_mean"].unit

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
            cells.append(str(estimate(ci.mean, ci.low, ci.high, unit, True)))
        if len(cells) == len(ends) and cells:
            options.append({"option": name(o), "cells": cells})
    return {"at": [f"{e:g}" for e in ends], "options": options, "n": n, "from_sets": False}


def _supply_ends_from_sets(d: ReportData, ref: Option) -> dict[str, Any]:
    """`_supply_ends` from the parameter sets (`uncertainty/psa.csv`): each option's paired change in vacancy-days
    in each set, fitted on the set's elasticity (`psa.fit_at_ends`: averaged over every other uncertain number,
    with 95% bootstrap intervals), read at the lowest and highest elasticity of the sets. Extra staff in post are
    vacancy-days avoided over the window's days (the window's vacancy-days over its mean vacancies: every option
    has the same posts)."""
    from sim.analysis.psa import fit_at_ends
    from sim.params.ranges import ELASTICITY

    days, vacancies = d.stats.get(ref.label, "vacancy_days"), d.stats.get(ref.label, "vacancies_mean")
    if not days or not vacancies or not vacancies["mean"]:
        return {"options": []}
    window = days["mean"] / vacancies["mean"]
    elasticity: dict[int, float] = {}
    sums: dict[tuple[str, int], list[float]] = {}
    with (d.folder / UNCERTAINTY / "psa.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            if r["kpi"] == "vacancy_days" and r.get(ELASTICITY) not in (None, "", "nan"):
                elasticity[int(r["sample"])] = float(r[ELASTICITY])
                sums.setdefault((r["option"], int(r["sample"])), []).append(float(r["value"]))
    sets = sorted(elasticity)
    others = [o for o in d.others if all((o.label, i) in sums and (ref.label, i) in sums for i in sets)]
    if not sets or not others:
        return {"options": []}
    staff = np.array([[-(np.mean(sums[(o.label, i)]) - np.mean(sums[(ref.label, i)])) / window for o in others]
                      for i in sets])
    x = np.array([elasticity[i] for i in sets])
    fits = fit_at_ends(staff, x)
    if fits is None:
        return {"options": []}
    unit = KPI["staff_in_post_mean"].unit
    options = [{"option": name(o), "cells": [str(estimate(e.mean, e.low, e.high, unit, True)) for e in ends]}
               for o, ends in zip(others, fits)]
    return {"at": [f"{x.min():.2g}", f"{x.max():.2g}"], "options": options, "n": len(sets), "from_sets": True}


def _staff_groups(d: ReportData) -> list[tuple[str, str]]:
    """(group, label) for every sector, employer group and role the folder has, in that order."""
    cfg = d.options[0].config
    groups = [g for prefix in ("sector:", "employer:", "role:") for g in d.stats.groups("vacancy_days", prefix)]
    return [("all", "All posts"), *((g, group_label(g, cfg)) for g in groups)]


def _share(o: Option) -> Piece | str:
    part, whole = o.job.kpis.get(("hires", "quintile:1"), {}), o.job.kpis.get(("hires", "all"), {})
    ratios = [part[r] / whole[r] for r in part if whole.get(r)]
    ci = mean_ci(ratios)
    return _cell({"mean": ci.mean, "ci_low": ci.low, "ci_high": ci.high}, "pct")


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
            ax.errorbar(s.per_year.mean, yi,
                        xerr=[[s.per_year.mean - s.per_year.low], [s.per_year.high - s.per_year.mean]],
                        fmt="none", color="#222222", capsize=3, lw=1)
    ax.set_yticks(y, [_wrap(s.option.label, 28) for s in spend], fontsize=8)
    ax.set_xlabel("programme spend per year (GBP), by what it pays for", fontsize=8)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v, "£")))
    _style(ax)
    ax.grid(axis="y", visible=False)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7.5, frameon=False, loc="outside lower center",
               ncols=min(3, max(1, len(components))))
    chart = _chart(fig, "Programme spend per year of each option, stacked by intervention and referral channel")
    header = ["Option", KPI["programme_cost_per_year"].short, "Total over the horizon", *components]
    rows = [[name(s.option), _ci(s.per_year.mean, s.per_year.low, s.per_year.high, "gbpk"),
             _ci(s.total.mean, s.total.low, s.total.high, "gbpk"),
             *(number(s.components[c], "gbpk") if c in s.components else muted("none") for c in components)]
            for s in spend]
    return {"chart": chart, "table": Table(header, rows, "spend")}


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
            rows.append([Piece("strong", capacity_label(cap_name, o.config)) if i == 0 else "",
                         name(o), *(_cell(r, k.unit, mark) for r, k, mark in
                                    zip((util, wait, ren, queue), group("capacity"), (level, "", lost, "")))])
    header = ["Capacity", "Option", *(k.short for k in group("capacity"))]
    return {"findings": [(o.label, _worst(o, st, caps)) for o in options],
            "table": Table(header, rows, "bottlenecks"), "lost_mark": LOST_MARK}


def _worst(o: Option, st: Stats, caps: list[str]) -> str:
    """The tightest constraint of an option, in words."""
    def value(kpi: str, cap: str) -> float:
        r = st.get(o.label, kpi, cap)
        return r["mean"] if r and math.isfinite(r["mean"]) else 0.0

    worst = max(caps, key=lambda c: (value("reneged", c), value("utilisation", c)))
    label = capacity_label(worst.split(":", 1)[1], o.config)
    util, wait, ren = value("utilisation", worst), value("mean_wait", worst), value("reneged", worst)
    if ren < 0.5:
        return f"no one gave up waiting for a capacity; the busiest is {label.lower()}, {util:.0%} utilised."
    return (f"{label} are the tightest constraint: {util:.0%} utilised, {wait:,.0f} days mean wait, "
            f"{ren:,.0f} people gave up waiting.")


def _assumptions_section(d: ReportData) -> dict[str, Any]:
    """Every parameter the options used, from the YAML files, with the value each ran with."""
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


def _decision_section(d: ReportData) -> dict[str, Any]:
    """pathways-decide results kept in the folder or a child folder (psa, sensitivity, optimise): their
    parts as sim.outputs.decide_report builds them, each with its figures and table."""
    from sim.outputs.decide_report import decide_folders, sections

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


def _validation_section(d: ReportData) -> dict[str, Any]:
    """Does the model reproduce what is known: every target of the region's calibration (targets.csv), the
    published figure against the model's predictive interval before and after, with a plain verdict; the
    validation targets (held out) first, the calibration targets beside them marked fitted; a sentence on what
    each target outside its posterior interval suggests."""
    from sim.outputs import calibration as cal

    region = region_of(d)
    used = cal.used(d.folder, region)
    if used.folder is None:
        return {"empty": f"No calibration for the region {region or '(unknown)'}: the parameter sets draw every "
                         "uncertain number from its prior range, and the model is not set against the published "
                         "outcomes of configs/targets.yaml here; pathways-calibrate makes one (written to "
                         f"configs/calibration/{region or '<region>'}/)."}
    targets = cal.read_targets(used.folder)
    verdict = {"within": badge("within", "good"), "outside": badge("outside", "bad")}
    rows = []
    for t in targets:
        prior, post = t.value(t.prior), t.value(t.posterior)
        rows.append([Piece("join", "br", parts=(t.quantity, code(t.id))),
                     muted("fitted") if t.role == "calibration" else "held out", t.figure_text(),
                     Piece("est", prior[0], ci=prior[1]), verdict.get(t.prior_verdict, t.prior_verdict),
                     Piece("est", post[0], ci=post[1]), verdict.get(t.posterior_verdict, t.posterior_verdict)])
    held = [t for t in targets if t.role == "validation"]
    inside = sum(t.posterior_verdict == "within" for t in held)
    meta = used.meta
    return {"table": Table(["Target", "Role", "Published figure (band that counts as a fit)",
                            "Model before calibration (prior)", "Verdict", "Model after calibration (posterior)",
                            "Verdict"], rows, "validation"),
            "held": len(held), "inside": inside, "fitted": len(targets) - len(held),
            "split_made": meta.get("split_made", "an unrecorded day"), "method": method_of(meta),
            "folder": used.where, "drawn": used.drawn, "changed": used.changed, "rule": meta.get("verdict_rule", ""),
            "outside": [t.suggests() for t in targets if t.posterior_verdict == "outside"]}


def _glossary_section(d: ReportData) -> dict[str, Any]:
    """The terms of art the report uses, from the one glossary (sim/outputs/glossary.py)."""
    return {"terms": GLOSSARY}


# ----------------------------------------------------------------------------- assembly
SECTIONS = (  # in page order; add one with a function here and a partial in templates/sections/
    Section("recommendation", "What to fund", _recommendation_section),
    Section("headline", "What each option buys, at the files' values", _headline),
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
    Section("validation", "Does the model reproduce what is known?", _validation_section),
    Section("assumptions", "Assumptions and sources", _assumptions_section),
    Section("glossary", "Glossary", _glossary_section),
    Section("run", "Run details", _run_section),
)

ALWAYS = ("run", "glossary")  # sections drawn even when no job finished
