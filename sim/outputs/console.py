"""The console's text: a run's summary table and a sweep's headline, in the report's numbers."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from sim.outputs.estimates import estimate_text, ratio_estimate
from sim.outputs.folder import Stats
from sim.outputs.formatting import estimate, number
from sim.outputs.recommendation import read, sentences
from sim.params.kpis import COST_RATIOS, group

NO_REFERENCE = (", ".join([COST_RATIOS[0].sentence, *(k.label for k in COST_RATIOS[1:])])
                + ": n/a for a single run (they are against a reference: "
                "pathways -m scenario=baseline,<this scenario>)")


def summary_table(summary: list[tuple], scenario: str, published_vacancies: float | None = None,
                  label: str = "", single: bool = True) -> str:
    """The `summary` KPIs of one scenario, mean and 95% CI, as aligned text headed by the option's name; a single
    run (`single`) says why it has no cost per job (inside a sweep the comparison at its end gives them)."""
    by_key = {(k, g): (m, lo, hi, n) for s, k, g, m, lo, hi, n in summary if s == scenario}
    lines = []
    shown = group("summary")
    width = max(len(k.label) for k in shown)
    n_reps = max((n for (_, _, _, n) in by_key.values()), default=0)
    lines.append(f"{label or scenario}: mean and 95% confidence interval over {n_reps} replications")
    for k in shown:
        if (k.name, "all") not in by_key:
            continue
        m, lo, hi, _n = by_key[(k.name, "all")]
        w = estimate(m, max(lo, 0.0), min(hi, 1.0) if k.unit == "pct" else hi, k.unit)
        lines.append(f"  {k.sentence:<{width}}  {w.value:>12}  {f'({w.interval})' if w.low else ''}")
    if published_vacancies:
        published = number(published_vacancies, "count")
        lines.append(f"  {'Published vacancy level (calibration)':<{width}}  {published:>12}")
    if single:
        lines.append(f"  {NO_REFERENCE}")
    return "\n".join(lines)


def headline_text(rows: list[tuple]) -> str:
    """Per option: mean of the `sweep` KPIs and, for `sweep_change` ones, the paired difference vs the
    reference [95% CI]."""
    st = Stats(rows)
    by = st.rows
    options = list(dict.fromkeys(r[0] for r in rows))
    out = []
    for opt in options:
        parts = []
        for k in group("sweep"):
            r = by.get((opt, k.name, "all"))
            if r is None:
                continue
            if "derived" in k.groups:
                parts.append(f"{k.label} {estimate_text(ratio_estimate(st, opt, k.name), k.unit)}")
                continue
            text = f"{k.label} {number(r['mean'], k.unit)}"
            d, lo, hi = r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]
            if "sweep_change" in k.groups and math.isfinite(d) and (d != 0 or lo != hi):
                change = estimate(d, lo, hi, "pp" if k.unit == "pct" else k.unit, signed=True)
                text += f", {change} against the reference"
            parts.append(text)
        out.append(f"{opt}: " + "; ".join(parts))
    return "\n".join(out)


def recommendation_text(folder: Path) -> str:
    """What to fund, as the report opens (empty at the files' values only), wrapped for a terminal."""
    from sim.outputs.sections import calibration_change

    lines = sentences(read(folder))
    if not lines:
        return ""
    lines += calibration_change(folder, "")["calibrated"]  # the region matters only for a calibration not drawn from
    return "\n".join(["What to fund:", *(textwrap.fill(s, 110, initial_indent="  ", subsequent_indent="    ")
                                         for s in lines)])
