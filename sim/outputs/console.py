"""The console's text: a run's summary table and a sweep's headline, in the report's numbers."""

from __future__ import annotations

import math

from sim.outputs.estimates import estimate_text, ratio_estimate
from sim.outputs.folder import Stats
from sim.outputs.formatting import RATIO_KIND, _digits, _number

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
