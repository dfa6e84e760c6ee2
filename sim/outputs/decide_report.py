"""The report of a `pathways-decide` folder: one self-contained HTML page (Jinja2, autoescaped).

Each section appears when its file is in the folder: intervals with both components
(uncertainty.csv), a paragraph per option in plain words (uncertainty.csv, ceac.csv),
acceptability curves and EVPI (ceac.csv), the evidence worth most (evppi.csv), the stability check,
the screening (RBD-FAST or Morris) and Sobol indices with Sobol bars and the tornado (sensitivity.csv, tornado.csv), the
frontier and the recommended mix (frontier.csv, optimise.json). Every number is read back from those files.
`sections(folder)` gives the same parts to the comparison report (sim.outputs.report), which shows the decide folders it
finds in a sweep folder or its children (`decide_folders`).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
import textwrap
from pathlib import Path

import jinja2
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.analysis.compare import readable
from sim.analysis.psa import EFFECTS, MORRIS_MIN_TRAJECTORIES
from sim.experiment.replications import write_text
from sim.outputs.elements import PALETTE, REFERENCE_COLOUR
from sim.params.kpis import KPI

PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>pathways-decide {{ command }} — {{ folder }}</title><style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222}main{max-width:1100px;margin:auto;padding:1em 1.5em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}img{max-width:100%}.muted{color:#777}
</style></head><body><main><h1>Decision analysis: {{ command }}</h1>
<p class="muted">Folder <code>{{ folder }}</code>. Options: {{ options|join(", ") }}; reference: {{ reference }}.</p>
{% for s in sections %}<section id="{{ s.id }}"><h2>{{ s.title }}</h2>
{% for p in s.paragraphs %}<p>{{ p }}</p>{% endfor %}
{% if s.figure %}<figure><img src="data:image/png;base64,{{ s.figure }}" alt="{{ s.title }}"></figure>{% endif %}
{% for f in s.figures or [] %}<figure><img src="data:image/png;base64,{{ f }}" alt="{{ s.title }}"></figure>{% endfor %}
{% if s.rows %}<table><tr>{% for h in s.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in s.rows %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
</section>{% endfor %}</main></body></html>""")


def option_words(name: str) -> str:
    """An option's name as the comparison report words it (sim.analysis.compare.readable): a scenario's name
    `west_norfolk_local_plan` as `west norfolk local plan`, each override of a sweep in words."""
    return ", ".join(readable(x if "=" in x else f"scenario={x}") for x in re.split(r",(?![^\[]*\])", name))


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _n(x: str | float, digits: int = 1) -> str:
    """A number with `digits` decimals and thousands separators; no minus sign on one that prints as zero."""
    v = float(x)
    if not math.isfinite(v):
        return "n/a"
    text = f"{v:,.{digits}f}"
    return text.lstrip("-") if not text.strip("-0.,") else text


def _effect_digits(kpi: str) -> int:
    """Decimals of a mean effect over replications or parameter sets: one for a count (a fraction of a job
    is a real difference on average), the KPI's own otherwise."""
    k = KPI[kpi]
    return 1 if k.unit == "count" else k.digits


def _uncertainty(rows: list[dict]) -> dict:
    header = ["Option", "Effect against the reference", "At the file's values: mean (simulation-only 95% CI)",
              "Over the ranges: mean (95% interval)", "Share of variance from parameters"]

    def cell(r: dict, mean: str, low: str, high: str) -> str:
        digits = _effect_digits(r["kpi"])
        return f"{_n(r[mean], digits)} ({_n(r[low], digits)} to {_n(r[high], digits)})"

    body = [[option_words(r["option"]), KPI[r["kpi"]].label,
             cell(r, "sim_mean", "sim_ci_low", "sim_ci_high"),
             cell(r, "psa_mean", "psa_low", "psa_high"),
             "n/a" if not math.isfinite(float(r["parameter_share"])) else f"{float(r['parameter_share']):.0%}"]
            for r in rows]
    return {"id": "uncertainty", "title": "Effects with both kinds of interval", "header": header, "rows": body,
            "paragraphs": ["At the file's values, the simulation-only interval measures the noise of the simulation "
                           "alone; over the ranges, the interval holds 95% of the parameter sets' effects, so it adds "
                           "what is not known about the numbers themselves; the last column says how much of the "
                           "effect's variance comes from those numbers. The two means can differ: an effect need not "
                           "be linear in the numbers, and a range need not be centred on the file's value."]}


GBP_TICK = FuncFormatter(lambda v, _: f"£{v / 1e6:,.3g}m" if abs(v) >= 1e6 else f"£{v / 1e3:,.0f}k" if v else "0")


def _colours(names: list[str], reference: str) -> dict[str, str]:
    """Each option's colour as the comparison report gives it: the reference grey, the others its palette in order."""
    others = [n for n in names if n != reference]
    return {n: REFERENCE_COLOUR if n == reference else PALETTE[others.index(n) % len(PALETTE)] for n in names}


def _ceac(rows: list[dict], reference: str, evppi: list[dict]) -> dict:
    """The acceptability curves and the EVPI; the words give the EVPI with the simulation noise taken out, and its
    standard error, from evppi.csv (the panel's curve, from the sets' own net benefits, counts the noise too)."""
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    words = []
    axes = fig.subplots(1, 3)
    for i, (effect, ratio) in enumerate(EFFECTS.items()):
        label = "£ " + KPI[ratio].label.removeprefix("cost ")  # "£ per additional net sustained job"
        ax = axes[i]
        sel = [r for r in rows if r["effect"] == effect]
        names = list(dict.fromkeys(r["option"] for r in sel))
        colour = _colours(names, reference)
        for name in names:
            pts = [(float(r["wtp_gbp"]), float(r["p_best"])) for r in sel if r["option"] == name]
            ax.plot(*zip(*pts), label=option_words(name), color=colour[name])
        ax.set_xlabel(label, fontsize=9)
        ax.xaxis.set_major_formatter(GBP_TICK)
        ax.set_ylabel("probability best buy", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
        evpi = {float(r["wtp_gbp"]): float(r["evpi_gbp"]) for r in sel}
        axes[2].plot(list(evpi), list(evpi.values()), color=("#222222", "#888888")[i], linestyle=("-", "--")[i],
                     label=label.replace("£ ", ""))
    axes[2].set_xlabel("willingness to pay (GBP per unit of effect)", fontsize=9)
    axes[2].set_ylabel("EVPI, simulation noise included (GBP per decision)", fontsize=9)
    axes[2].xaxis.set_major_formatter(GBP_TICK)
    axes[2].yaxis.set_major_formatter(GBP_TICK)
    axes[2].legend(fontsize=7)
    for wtp in (10_000.0, 25_000.0, 50_000.0):
        sel = [r for r in rows if r["effect"] == "sustained_job" and float(r["wtp_gbp"]) == wtp]
        clean = next((r for r in evppi if r["effect"] == "sustained_job" and float(r["wtp_gbp"]) == wtp), None)
        if sel:
            best = max(sel, key=lambda r: float(r["p_best"]))
            words.append(f"At £{wtp:,.0f} per net sustained job, {option_words(best['option'])} is the best buy "
                         f"with probability {float(best['p_best']):.2f}" +
                         ("." if clean is None else
                          f"; perfect information about every uncertain number would be worth "
                          f"£{_n(clean['evpi_gbp'], 0)} ± £{_n(clean['evpi_se_gbp'], 0)} to this decision (EVPI, with "
                          "the simulation noise taken out, ± a standard error)."))
    return {"id": "ceac", "title": "Probability that each option is the best buy", "figure": _png(fig),
            "paragraphs": ["Each curve is the share of parameter sets in which the option has the highest net "
                           "benefit (willingness to pay x effect - cost) against the reference; the right panel is "
                           "the expected value of perfect information (EVPI): what knowing every uncertain number "
                           "would be worth to this decision."] + words}


def _evppi(rows: list[dict], labels: dict[str, str]) -> dict:
    """The evidence worth most: in words at £25,000 per net sustained job; the table ranks the parameters (in
    words) by their largest EVPPI at any of the willingness-to-pay values shown. Every value with its standard
    error; the EVPI is the one with the simulation noise taken out."""
    wtps = list(dict.fromkeys(r["wtp_gbp"] for r in rows if r["effect"] == "sustained_job"))
    by = {(r["effect"], r["wtp_gbp"], r["parameter"]): r for r in rows}
    sel = sorted((r for r in rows if r["effect"] == "sustained_job" and float(r["wtp_gbp"]) == 25_000.0),
                 key=lambda r: -float(r["evppi_gbp"]))

    def gbp(r: dict, key: str) -> str:
        return f"£{_n(r[key], 0)} ± £{_n(r[key.replace('_gbp', '_se_gbp')], 0)}"

    words = ["The expected value of partial perfect information (EVPPI) of a parameter is what knowing it exactly "
             "would be worth to this decision, the others still uncertain (by regression of each set's net benefit "
             "on the parameter, so the simulation noise is not counted as information; ± a standard error, by "
             "bootstrap over the sets)."]
    if sel and float(sel[0]["evpi_gbp"]) >= 0.5 and float(sel[0]["evppi_gbp"]) < 0.5:  # both as printed (£0)
        words.append(f"At £25,000 per net sustained job the EVPI is {gbp(sel[0], 'evpi_gbp')}, but no single "
                     "parameter's EVPPI is above zero: knowing any one number alone would not change the choice; "
                     "the sets where another option wins differ in several numbers at once.")
    elif sel and float(sel[0]["evpi_gbp"]) >= 0.5:
        lead = ", ".join(f"{labels.get(r['parameter'], r['parameter'])} ({gbp(r, 'evppi_gbp')})" for r in sel[:3])
        words.append(f"At £25,000 per net sustained job, the evidence worth most is on {lead}, of an EVPI of "
                     f"{gbp(sel[0], 'evpi_gbp')} for all the uncertain numbers together.")
    elif sel:
        words.append("At £25,000 per net sustained job the EVPI is zero: no evidence would change the decision.")
    ranked = sorted(dict.fromkeys(r["parameter"] for r in sel),
                    key=lambda p: -max(float(by[("sustained_job", w, p)]["evppi_gbp"]) for w in wtps))
    return {"id": "evppi", "title": "Which evidence is worth most (EVPPI)", "paragraphs": words,
            "header": ["Parameter", *[f"EVPPI at £{_n(w, 0)} per sustained job (± standard error)" for w in wtps]],
            "rows": [[labels.get(p, p), *[gbp(by[("sustained_job", w, p)], "evppi_gbp") for w in wtps]]
                     for p in ranked[:10]]}


MEASURE_WORDS = {"mean": "mean effect", "low": "2.5% point of the effects", "high": "97.5% point of the effects"}


def _stability(rows: list[dict]) -> dict:
    def measure(r: dict) -> str:
        if r["measure"].startswith("p_best_at_"):
            return f"probability best buy at £{int(r['measure'].split('_')[3]):,} per net sustained job"
        return f"{KPI[r['kpi']].label}: {MEASURE_WORDS.get(r['measure'], r['measure'])}"

    def number(r: dict, key: str) -> str:
        return _n(r[key], 2 if r["measure"].startswith("p_best") else _effect_digits(r["kpi"]))

    return {"id": "stability", "title": "Stability: the first half of the parameter sets against all",
            "header": ["Option", "Measure", "First half", "All", "Change"],
            "rows": [[option_words(r["option"]), measure(r), *(number(r, k) for k in ("first_half", "all", "change"))]
                     for r in rows],
            "paragraphs": ["Small changes between half and all of the sets mean the number of sets was enough."]}


def output_words(key: str, reference: str) -> str:
    """An output of sensitivity in words: `kpi:option`, the option's effect against the reference (or, for a
    lone option, the reference itself, its KPI)."""
    kpi, _, option = key.partition(":")
    words = KPI[kpi].label
    if option == reference:
        return f"{words} of {option_words(option)}"
    return f"{words}, {option_words(option)} against {option_words(reference)}"


NOT_ESTIMATED = "not estimated with this many samples"


def _label(r: dict) -> str:
    """A row's parameter in words (the label column), its name in files written before labels were."""
    return r.get("label") or r["parameter"]


def _moved(value: str) -> bool:
    return abs(float(value)) > 1e-9  # with common random numbers a parameter that changes nothing moves it by 0


def _sensitivity(rows: list[dict], tornado: list[dict], folder: Path) -> dict:
    """The words, the tornado and Sobol bars of the first output (the one the words speak of), and a table of
    its parameters ranked by the screening's index (RBD-FAST's first-order S1 from given data, or Morris mu*), with
    their Sobol indices where estimated. Parameters in words; an index its samples did not estimate (`estimated` 0)
    is said so, never shown as a number; parameters that changed nothing are left out of the tornado and the table,
    and counted."""
    summary = _json(folder / "sensitivity.json")
    reference = _json(folder / "summary.json").get("reference", "")
    kpi = rows[0]["kpi"]
    every = [r for r in tornado if r["kpi"] == kpi]
    tornado = sorted((r for r in every if _moved(r["swing"])), key=lambda r: -float(r["swing"]))  # widest on top
    fig = None
    if tornado:
        fig = Figure(figsize=(8, 0.4 * len(tornado) + 1.2), layout="constrained")
        ax = fig.add_subplot()
        names = [textwrap.fill(_label(r), 48) for r in tornado][::-1]
        lows = [float(r["at_low"]) - float(r["at_base"]) for r in tornado][::-1]
        highs = [float(r["at_high"]) - float(r["at_base"]) for r in tornado][::-1]
        ax.barh(names, lows, color="#1f77b4", label="at the 2.5% point")
        ax.barh(names, highs, color="#d95f02", label="at the 97.5% point")
        ax.axvline(0, color="#222", linewidth=0.8)
        ax.set_xlabel(textwrap.fill(f"change in {output_words(kpi, reference)} from its value at the file's numbers",
                                    64), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    sobol = _sobol_bars(rows, reference)
    idx = {(r["parameter"], r["method"], r["index"]): r for r in rows if r["kpi"] == kpi}
    morris = any(r["method"] == "morris" for r in rows)
    screen = [r for r in rows if r["kpi"] == kpi and (r["method"], r["index"]) in (("morris", "mu_star"),
                                                                                   ("rbd-fast", "S1"))]
    screen.sort(key=lambda r: -float(r["value"]))
    ranked = [r for r in screen
              if _moved(r["value"]) or (morris and _moved(idx[(r["parameter"], "morris", "sigma")]["value"]))]

    def ci(r: dict | None) -> str:
        if r is None:
            return ""
        if r.get("estimated") == "0":
            return NOT_ESTIMATED
        return f"{_n(r['value'], 3)} ({_n(r['ci_low'], 3)} to {_n(r['ci_high'], 3)})"

    def sigma(r: dict) -> str:
        return NOT_ESTIMATED if r.get("estimated") == "0" else _n(r["value"], 3)

    left = [f"Left out of the table: {len(screen) - len(ranked)} of the {len(screen)} parameters, which changed "
            "nothing when moved (" + ("Morris mu* and sigma 0" if morris else "the output did not vary") + ")."
            ] if len(ranked) < len(screen) else []
    sobols = ("the Sobol indices where they were estimated: the share of the variance the parameter explains alone "
              "(S1) and with its interactions (ST)")
    if morris:
        how = (f"The table ranks the parameters by Morris mu* on {output_words(kpi, reference)} (the mean absolute "
               "change when the parameter alone moves a step across its central 95%), with its 95% CI and sigma (how "
               f"much that change depends on the others), and {sobols}. An index whose 95% interval is wider than "
               f"itself, or a Sobol index outside 0 to 1, is {NOT_ESTIMATED}; Morris indices are not estimated with "
               f"fewer than {MORRIS_MIN_TRAJECTORIES} trajectories.")
        header = ["Parameter", "Morris mu* (95% CI)", "Morris sigma"]
    else:
        points = (summary.get("screen") or {}).get("points")
        on = f"{points} points" if points else "the points"
        how = (f"The table ranks the parameters by their first-order index S1 on {output_words(kpi, reference)} "
               f"estimated from given data: RBD-FAST (SALib) on {on} of a space-filling design over all "
               f"{len(screen)} parameters at once, each output ordered by each parameter in turn (the share of its "
               "variance the parameter explains alone; interactions are not in it), with its 95% interval (from the "
               "periodogram), "
               f"and {sobols} among the leading parameters. An index whose 95% interval is wider than itself, or "
               f"outside 0 to 1, is {NOT_ESTIMATED}.")
        header = ["Parameter", f"Screening S1, RBD-FAST on {on} (95% CI)"]
    return {"id": "sensitivity", "title": "What the answer turns on",
            "paragraphs": summary.get("words", []) + [
                how + f" Every output's indices are in sensitivity.csv; the {min(15, len(ranked))} leading "
                "parameters shown."] + _emulator_words(summary.get("sobol"), kpi) + left,
            "figure": _png(fig) if fig else None, "figures": [_png(sobol)] if sobol else [],
            "header": header + ["Sobol S1 (95% CI)", "Sobol ST (95% CI)"],
            "rows": [[_label(r), ci(r), *([sigma(idx[(r["parameter"], "morris", "sigma")])] if morris else []),
                      ci(idx.get((r["parameter"], "sobol", "S1"))), ci(idx.get((r["parameter"], "sobol", "ST")))]
                     for r in ranked[:15]]}


def _emulator_words(sobol: dict | None, kpi: str) -> list[str]:
    """Where the Sobol indices come from: an emulator (its runs and its R^2 on held-out runs) or the simulation."""
    if not sobol:
        return []
    if sobol.get("method") == "emulator":
        r2 = (sobol.get("r2") or {}).get(kpi)
        return [f"The Sobol indices are computed on an emulator of the simulation: a Gaussian process fitted on "
                f"{sobol['runs']} simulation runs over the leading parameters, which predicts runs held out of its fit "
                + (f"with R² {r2:.2f} on this output" if isinstance(r2, float) and math.isfinite(r2) else
                   "on this output (which did not vary: its indices are 0)")
                + f" (every output's in emulator.csv; an output below {sobol['r2_min']:.2f} is not estimated). "
                "Their intervals hold the emulator's own uncertainty (its posterior sample paths) and the sampling "
                "error on it; they are the indices of the expected output, the simulation's noise left out."]
    return [f"The Sobol indices are estimated directly on the simulation ({sobol['samples']} base samples, "
            "Saltelli's design)."]


def _sobol_bars(rows: list[dict], reference: str) -> Figure | None:
    """First- and total-order Sobol indices of the first output, with their 95% CIs, as bars; an index its samples
    did not estimate is written so in place of its bar. A parameter that changed nothing (both indices exactly 0, as
    the words say: left out of the emulator) has no row."""
    sel = [r for r in rows if r["method"] == "sobol"]
    if not sel:
        return None
    kpi = sel[0]["kpi"]
    nothing = {r["parameter"] for r in sel if r["kpi"] == kpi and r["index"] == "ST" and r.get("estimated") != "0"
               and not any(_moved(r[k]) for k in ("value", "ci_low", "ci_high"))}
    st = sorted((r for r in sel if r["kpi"] == kpi and r["index"] == "ST" and r["parameter"] not in nothing),
                key=lambda r: -float(r["value"]))
    if not st:
        return None
    names = [r["parameter"] for r in st]  # largest on top
    fig = Figure(figsize=(8, 0.45 * len(names) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    for k, (index, colour) in enumerate((("S1", "#1f77b4"), ("ST", "#d95f02"))):
        got = {r["parameter"]: r for r in sel if r["kpi"] == kpi and r["index"] == index}
        for i, n in enumerate(names):
            r, y = got[n], i + (k - 0.5) * 0.38
            if r.get("estimated") == "0":
                ax.text(0.005, y, f"{index} {NOT_ESTIMATED}", va="center", fontsize=6, color=colour)
                continue
            v = float(r["value"])
            ax.barh(y, v, height=0.38, xerr=[[max(0.0, v - float(r["ci_low"]))], [max(0.0, float(r["ci_high"]) - v)]],
                    color=colour, label={"S1": "first order", "ST": "total order"}[index] if i == 0 else None)
    ax.set_yticks(range(len(names)), [textwrap.fill(_label(r), 48) for r in st], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(len(names) - 0.4, -0.6)  # largest on top; room for the words of an index not estimated
    ax.set_xlabel(textwrap.fill(f"Sobol index of {output_words(kpi, reference)} (share of its variance), 95% CI",
                                64), fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return fig


def _option_words(unc: list[dict], ceac: list[dict]) -> dict:
    """One paragraph per option in plain words: both effects with the interval that includes the
    uncertain numbers, the extra cost, and the chance that it is the best buy at £25,000 a job."""
    by: dict[str, dict[str, dict]] = {}
    for r in unc:
        by.setdefault(r["option"], {})[r["kpi"]] = r
    p25 = {r["option"]: float(r["p_best"]) for r in ceac
           if r["effect"] == "sustained_job" and float(r["wtp_gbp"]) == 25_000.0}
    words = []
    for option, k in by.items():
        ref = next(iter(k.values()))["reference"]
        parts = [f"{option_words(option)}, against {option_words(ref)}:"]
        if "net_sustained_12m" in k:
            r = k["net_sustained_12m"]
            sim_w = float(r["sim_ci_high"]) - float(r["sim_ci_low"])
            full_w = float(r["psa_high"]) - float(r["psa_low"])
            ratio = f"{full_w / sim_w:.1f} times as wide as" if sim_w > 0 else "wider than"
            sign = "more" if float(r["psa_low"]) > 0 else ("fewer" if float(r["psa_high"]) < 0 else "")
            verdict = (f"it gives {sign} net sustained jobs in at least 97.5% of the parameter sets" if sign else
                       "whether it gives more net sustained jobs depends on the assumptions")
            more = "fewer" if float(r["psa_mean"]) <= -0.05 else "more"  # as printed, to one decimal
            parts.append(f"about {_n(abs(float(r['psa_mean'])))} {more} residents in work a year after starting, "
                         f"net of those who would have got there anyway (between {_n(r['psa_low'])} and "
                         f"{_n(r['psa_high'])} once the "
                         f"uncertain numbers are allowed for, {ratio} the simulation-only interval "
                         f"{_n(r['sim_ci_low'])} to {_n(r['sim_ci_high'])}; {verdict});")
        if "vacancy_days" in k:
            r = k["vacancy_days"]
            if float(r["psa_mean"]) <= 0:
                parts.append(f"{_n(-float(r['psa_mean']), 0)} vacancy-days avoided ({_n(-float(r['psa_high']), 0)} to "
                             f"{_n(-float(r['psa_low']), 0)});")
            else:
                parts.append(f"{_n(r['psa_mean'], 0)} more vacancy-days ({_n(r['psa_low'], 0)} to "
                             f"{_n(r['psa_high'], 0)});")
        if "programme_cost" in k:
            r = k["programme_cost"]
            parts.append(f"at an extra cost of £{_n(r['psa_mean'], 0)} (£{_n(r['psa_low'], 0)} to "
                         f"{_n(r['psa_high'], 0)}).")
        if option in p25:
            parts.append(f"At £25,000 per net sustained job it is the best buy with probability {p25[option]:.2f}"
                         f" (the reference {p25.get(ref, math.nan):.2f}).")
        words.append(" ".join(parts))
    return {"id": "options", "title": "Each option in plain words", "paragraphs": words}


def _frontier(rows: list[dict], folder: Path) -> dict:
    meta = json.loads((folder / "optimise.json").read_text()) if (folder / "optimise.json").exists() else {}
    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.add_subplot()
    b = [float(r["budget_gbp"]) for r in rows]
    ax.errorbar(b, [float(r["effect"]) for r in rows],
                yerr=[[float(r["effect"]) - float(r["ci_low"]) for r in rows],
                      [float(r["ci_high"]) - float(r["effect"]) for r in rows]], marker="o", color="#1f77b4")
    effect = (f"{KPI[rows[0]['objective']].label} "
              f"against {option_words(rows[0]['reference'])}"
              if rows else "")
    ax.set_xlabel("budget (GBP)", fontsize=9)
    ax.set_ylabel(effect.replace(" against", "\nagainst"), fontsize=9)
    ax.xaxis.set_major_formatter(GBP_TICK)
    return {"id": "frontier", "title": "The best mix at each budget", "figure": _png(fig),
            "paragraphs": meta.get("words", []) + [
                f"Effect: {effect} on fresh seeds (the same for the mix and the reference: paired), "
                "with its 95% CI; cost: its mean and most on those seeds, and the bound it was held to; settled: "
                "the best mix after half the search's trials was the best after all of them."],
            "header": ["Budget (GBP)", "Mix", "Cost on fresh seeds (GBP, mean)", "Share of the budget", "Most (GBP)",
                       "Held to (GBP)", "Effect against the reference", "CI low", "CI high", "Mixes tried",
                       "Settled"],
            "rows": [[_n(r["budget_gbp"], 0), r["mix"], _n(r["cost_gbp"], 0), _share(r.get("budget_used")),
                      _n(r["cost_max_gbp"], 0), _n(r["cost_bound_gbp"], 0), _n(r["effect"]), _n(r["ci_low"]),
                      _n(r["ci_high"]), r.get("trials", ""), {"1": "yes", "0": "no"}.get(r.get("converged", ""), "")]
                     for r in rows]}


def _share(x: str | None) -> str:
    return f"{float(x):.0%}" if x and math.isfinite(float(x)) else "n/a"


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


COMMANDS = ("psa", "sensitivity", "optimise")  # the order a planner reads them in


def decide_folders(folder: Path) -> list[Path]:
    """The pathways-decide folders at `folder` or one level below it (each holds decide.json), PSA first, then
    sensitivity, then the best mix."""
    folder = Path(folder)
    found = [folder] if (folder / "decide.json").exists() else []
    if folder.is_dir():
        found += sorted((d for d in folder.iterdir() if d.is_dir() and (d / "decide.json").exists()),
                        key=lambda d: (COMMANDS.index(_json(d / "decide.json").get("command", "optimise")), d.name))
    return found


def sections(folder: Path) -> list[dict]:
    """The parts of a decide folder's report, in page order: each a dict with id, title, paragraphs and
    optionally figure / figures (base64 PNGs), header and rows."""
    folder = Path(folder)
    summary = _json(folder / "summary.json")
    out = []
    counts = summary.get("ranges")
    if counts:
        out.append({"id": "ranges", "title": "Ranges of the uncertain numbers", "paragraphs": [
            f"{counts['explicit']} numbers have an explicit range (configs/ranges/; {counts['explicit_varied']} "
            f"varied) and {counts['rule']} take the default rule (configs/ranges/rule.yaml; {counts['rule_varied']} "
            f"varied, the rest held: settings, decisions, structural zeros and sourced figures without an interval); "
            f"{counts['parameters_varied']} uncertain parameters in all (parameters.csv)."]})
    unc = _read(folder / "uncertainty.csv")
    ceac = _read(folder / "ceac.csv")
    if unc:
        out.append(_option_words(unc, ceac))
        out.append(_uncertainty(unc))
    evppi = _read(folder / "evppi.csv")
    labels = {r["parameter"]: r["label"] for r in _read(folder / "parameters.csv") if r.get("label")}
    if ceac:
        out.append(_ceac(ceac, summary.get("reference", ""), evppi))
    if evppi:
        out.append(_evppi(evppi, labels))
    stab = _read(folder / "stability.csv")
    if stab:
        out.append(_stability(stab))
    sens = _read(folder / "sensitivity.csv")
    if sens:
        out.append(_sensitivity(sens, _read(folder / "tornado.csv"), folder))
    front = _read(folder / "frontier.csv")
    if front:
        out.append(_frontier(front, folder))
    return out


def build(folder: Path) -> str:
    folder = Path(folder)
    settings, summary = _json(folder / "decide.json"), _json(folder / "summary.json")
    unc, ceac = _read(folder / "uncertainty.csv"), _read(folder / "ceac.csv")
    options = summary.get("options") or sorted({r["option"] for r in ceac} | {r["option"] for r in unc})
    return PAGE.render(command=settings.get("command", "?"), folder=str(folder.resolve()),
                       options=[option_words(o) for o in options],
                       reference=option_words(summary.get("reference", unc[0]["reference"] if unc else "?")),
                       sections=sections(folder))


def write_report(folder: Path) -> Path:
    path = Path(folder) / "report.html"
    write_text(path, build(folder))
    return path
