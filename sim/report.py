"""Reporting: the summary table a planner reads at the end of a run."""

from __future__ import annotations

import math

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


def write_report(folder):
    """Write report.html for a run or sweep folder (placeholder until the full report lands)."""
    from pathlib import Path

    from .compare import find_jobs, comparison_rows

    folder = Path(folder)
    rows = comparison_rows(find_jobs(folder))
    path = folder / "report.html"
    path.write_text("<!doctype html><html><body><pre>" + headline_text(rows) + "</pre></body></html>")
    return path
