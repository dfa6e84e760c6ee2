"""The console's text: a run's summary table and a sweep's headline, in the report's numbers."""

from __future__ import annotations

import math

from sim.outputs.estimates import estimate_text, ratio_estimate
from sim.outputs.folder import Stats
from sim.outputs.formatting import _digits, _number
from sim.params.kpis import COST_RATIOS, group

NO_REFERENCE = (", ".join([COST_RATIOS[0].sentence, *(k.label for k in COST_RATIOS[1:])])
                + ": n/a for a single run (they are against a reference: "
                "pathways -m scenario=baseline,<this scenario>)")


def _num(x: float, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}f}"


def summary_table(summary: list[tuple], scenario: str, published_vacancies: float | None = None,
                  label: str = "") -> str:
    """The `summary` KPIs of one scenario, mean and 95% CI, as aligned text headed by the option's name."""
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
        ci = f"[{_num(lo, k.digits)}, {_num(hi, k.digits)}]" if not math.isnan(lo) else ""
        lines.append(f"  {k.sentence:<{width}}  {_num(m, k.digits):>12}  {ci}")
    if published_vacancies:
        lines.append(f"  {'Published vacancy level (calibration)':<{width}}  {_num(published_vacancies, 0):>12}")
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
            kind = k.unit
            text = f"{k.label} {_number(r['mean'], kind, digits=2 if kind == 'pct' else None)}"
            d, lo, hi = r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]
            if "sweep_change" in k.groups and math.isfinite(d) and (d != 0 or lo != hi):
                dkind = "pp" if kind == "pct" else kind
                digits = _digits(dkind, lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None
                text += (f" (vs reference {_number(d, dkind, True, digits)} "
                         f"[{_number(lo, dkind, True, digits)}, {_number(hi, dkind, True, digits)}])")
            parts.append(text)
        out.append(f"{opt}: " + "; ".join(parts))
    return "\n".join(out)
