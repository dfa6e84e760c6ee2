"""The report of a `pathways-decide` folder: one self-contained HTML page (Jinja2, autoescaped).

Each section appears when its file is in the folder: intervals with both components
(uncertainty.csv), acceptability curves and EVPI (ceac.csv), the stability check, Morris and
Sobol indices and the tornado (sensitivity.csv, tornado.csv), the frontier and the recommended
mix (frontier.csv, optimise.json). Every number is read back from those files.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from pathlib import Path

import jinja2
from matplotlib.figure import Figure

from .experiment import write_text

PALETTE = ("#4d4d4d", "#1f77b4", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
KPI_WORDS = {"net_sustained_12m": "net sustained jobs at 12 months", "vacancy_days": "vacancy-days",
             "programme_cost": "programme cost (GBP)", "hires": "hires", "sustained_12m": "sustained jobs at 12 months",
             "bau_hires": "business-as-usual hires"}
PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>pathways-decide {{ command }} — {{ folder }}</title><style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222}main{max-width:1100px;margin:auto;padding:1em 1.5em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}img{max-width:100%}.muted{color:#777}
</style></head><body><main><h1>Decision analysis: {{ command }}</h1>
<p class="muted">Folder <code>{{ folder }}</code>. Options: {{ options|join(", ") }}; reference <code>{{ reference }}</code>.</p>
{% for s in sections %}<section id="{{ s.id }}"><h2>{{ s.title }}</h2>
{% for p in s.paragraphs %}<p>{{ p }}</p>{% endfor %}
{% if s.figure %}<figure><img src="data:image/png;base64,{{ s.figure }}" alt="{{ s.title }}"></figure>{% endif %}
{% if s.rows %}<table><tr>{% for h in s.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in s.rows %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
</section>{% endfor %}</main></body></html>""")


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
    v = float(x)
    return "n/a" if not math.isfinite(v) else f"{v:,.{digits}f}"


def _uncertainty(rows: list[dict]) -> dict:
    header = ["Option", "Effect vs reference", "Mean", "Simulation-only 95% CI", "With parameter uncertainty (95%)",
              "Share of variance from parameters"]
    body, words = [], []
    for r in rows:
        body.append([r["option"], KPI_WORDS.get(r["kpi"], r["kpi"]), _n(r["psa_mean"]),
                     f"{_n(r['sim_ci_low'])} to {_n(r['sim_ci_high'])}", f"{_n(r['psa_low'])} to {_n(r['psa_high'])}",
                     "n/a" if not math.isfinite(float(r["parameter_share"])) else f"{float(r['parameter_share']):.0%}"])
        if r["kpi"] == "net_sustained_12m":
            sim_w = float(r["sim_ci_high"]) - float(r["sim_ci_low"])
            full_w = float(r["psa_high"]) - float(r["psa_low"])
            ratio = f"{full_w / sim_w:.1f} times" if sim_w > 0 else "far"
            sign = "more" if float(r["psa_low"]) > 0 else ("fewer" if float(r["psa_high"]) < 0 else "")
            verdict = (f"it gives {sign} net sustained jobs than {r['reference']} in at least 97.5% of the parameter sets"
                       if sign else f"whether it gives more net sustained jobs than {r['reference']} depends on the assumptions")
            words.append(f"{r['option']}: {_n(r['psa_mean'])} net sustained jobs at 12 months against {r['reference']} "
                         f"on average over the parameter sets; the interval that includes the uncertain numbers is "
                         f"{ratio} as wide as the simulation-only one; {verdict}.")
    return {"id": "uncertainty", "title": "Effects with both kinds of interval", "header": header, "rows": body,
            "paragraphs": ["The simulation-only interval measures the noise of the simulation at the file's values; "
                           "the wider interval adds what is not known about the numbers themselves (their ranges)."]
            + words}


def _ceac(rows: list[dict]) -> dict:
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    words = []
    for i, (effect, label) in enumerate((("sustained_job", "GBP per additional net sustained job"),
                                         ("vacancy_year", "GBP per vacancy-year avoided"))):
        ax = fig.add_subplot(1, 2, i + 1)
        sel = [r for r in rows if r["effect"] == effect]
        for j, name in enumerate(dict.fromkeys(r["option"] for r in sel)):
            pts = [(float(r["wtp_gbp"]), float(r["p_best"])) for r in sel if r["option"] == name]
            ax.plot(*zip(*pts), label=name, color=PALETTE[j % len(PALETTE)])
        ax.set_xlabel(label, fontsize=9)
        ax.set_ylabel("probability best buy", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    for wtp in (10_000.0, 25_000.0, 50_000.0):
        sel = [r for r in rows if r["effect"] == "sustained_job" and float(r["wtp_gbp"]) == wtp]
        if sel:
            best = max(sel, key=lambda r: float(r["p_best"]))
            words.append(f"At GBP {wtp:,.0f} per net sustained job, {best['option']} is the best buy with probability "
                         f"{float(best['p_best']):.2f}; perfect information about every uncertain number would be worth "
                         f"GBP {float(best['evpi_gbp']):,.0f} to this decision (EVPI).")
    return {"id": "ceac", "title": "Probability that each option is the best buy", "figure": _png(fig),
            "paragraphs": words}


def _stability(rows: list[dict]) -> dict:
    return {"id": "stability", "title": "Stability: the first half of the parameter sets against all",
            "header": ["Measure", "Option", "KPI", "First half", "All", "Change"],
            "rows": [[r["measure"], r["option"], r["kpi"], _n(r["first_half"], 2), _n(r["all"], 2), _n(r["change"], 2)]
                     for r in rows],
            "paragraphs": ["Small changes between half and all of the sets mean the number of sets was enough."]}


def _sensitivity(rows: list[dict], tornado: list[dict], folder: Path) -> dict:
    summary = json.loads((folder / "sensitivity.json").read_text()) if (folder / "sensitivity.json").exists() else {}
    fig = None
    if tornado:
        fig = Figure(figsize=(8, 0.4 * len(tornado) + 1.2), layout="constrained")
        ax = fig.add_subplot()
        names = [r["parameter"] for r in tornado][::-1]
        lows = [float(r["at_low"]) - float(r["at_base"]) for r in tornado][::-1]
        highs = [float(r["at_high"]) - float(r["at_base"]) for r in tornado][::-1]
        ax.barh(names, lows, color="#1f77b4", label="at the 2.5% point")
        ax.barh(names, highs, color="#d95f02", label="at the 97.5% point")
        ax.axvline(0, color="#222", linewidth=0.8)
        ax.set_xlabel(f"change in {tornado[0]['kpi']} from the value at the file's numbers", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    return {"id": "sensitivity", "title": "What the answer turns on",
            "paragraphs": summary.get("words", []), "figure": _png(fig) if fig else None,
            "header": ["Parameter", "KPI", "Method", "Index", "Value", "CI low", "CI high"],
            "rows": [[r["parameter"], r["kpi"], r["method"], r["index"], _n(r["value"], 3), _n(r["ci_low"], 3),
                      _n(r["ci_high"], 3)] for r in rows[:60]]}


def _frontier(rows: list[dict], folder: Path) -> dict:
    meta = json.loads((folder / "optimise.json").read_text()) if (folder / "optimise.json").exists() else {}
    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.add_subplot()
    b = [float(r["budget_gbp"]) for r in rows]
    ax.errorbar(b, [float(r["effect"]) for r in rows],
                yerr=[[float(r["effect"]) - float(r["ci_low"]) for r in rows],
                      [float(r["ci_high"]) - float(r["effect"]) for r in rows]], marker="o", color="#1f77b4")
    ax.set_xlabel("budget (GBP)", fontsize=9)
    ax.set_ylabel(rows[0]["objective"] if rows else "", fontsize=9)
    return {"id": "frontier", "title": "The best mix at each budget", "figure": _png(fig),
            "paragraphs": meta.get("words", []),
            "header": ["Budget (GBP)", "Mix", "Cost (GBP)", "Effect", "CI low", "CI high"],
            "rows": [[_n(r["budget_gbp"], 0), r["mix"], _n(r["cost_gbp"], 0), _n(r["effect"]), _n(r["ci_low"]),
                      _n(r["ci_high"])] for r in rows]}


def build(folder: Path) -> str:
    folder = Path(folder)
    settings = json.loads((folder / "decide.json").read_text()) if (folder / "decide.json").exists() else {}
    summary = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").exists() else {}
    sections = []
    counts = summary.get("ranges")
    if counts:
        sections.append({"id": "ranges", "title": "Ranges of the uncertain numbers", "paragraphs": [
            f"{counts['explicit']} numbers have an explicit range (configs/ranges/; {counts['explicit_varied']} "
            f"varied) and {counts['rule']} take the default rule (configs/ranges/rule.yaml; {counts['rule_varied']} "
            f"varied, the rest held: settings, decisions, structural zeros and sourced figures without an interval); "
            f"{counts['parameters_varied']} uncertain parameters in all (parameters.csv)."]})
    unc = _read(folder / "uncertainty.csv")
    if unc:
        sections.append(_uncertainty(unc))
    ceac = _read(folder / "ceac.csv")
    if ceac:
        sections.append(_ceac(ceac))
    stab = _read(folder / "stability.csv")
    if stab:
        sections.append(_stability(stab))
    sens = _read(folder / "sensitivity.csv")
    if sens:
        sections.append(_sensitivity(sens, _read(folder / "tornado.csv"), folder))
    front = _read(folder / "frontier.csv")
    if front:
        sections.append(_frontier(front, folder))
    options = summary.get("options") or sorted({r["option"] for r in ceac} | {r["option"] for r in unc})
    return PAGE.render(command=settings.get("command", "?"), folder=str(folder.resolve()), options=options,
                       reference=summary.get("reference", unc[0]["reference"] if unc else "?"), sections=sections)


def write_report(folder: Path) -> Path:
    path = Path(folder) / "report.html"
    write_text(path, build(folder))
    return path
