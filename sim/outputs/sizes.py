"""Options whose size changed nothing, in words, for the console and the report alike: an option whose every
result equals a smaller option's, replication by replication (`sim.analysis.compare.same_results`)."""

from __future__ import annotations

from sim.analysis.compare import UTILISATION, same_results
from sim.outputs.folder import ReportData
from sim.outputs.formatting import capacity_label, number


def unchanged_sentences(d: ReportData) -> list[str]:
    """One sentence per option that gives the same results as an earlier one: which, at what cost each, and why
    (the capacities whose extra places sat idle, with the share in use at each size; or a size nothing uses)."""
    config = d.options[0].config if d.options else {}
    out = []
    for label, earlier in same_results(d.jobs).items():
        def mean(option: str, kpi: str, group: str = "all") -> float | None:
            row = d.stats.get(option, kpi, group)
            return None if row is None else float(row["mean"])

        idle = []
        for g in d.stats.groups(UTILISATION, "capacity:"):
            was, now = mean(earlier, UTILISATION, g), mean(label, UTILISATION, g)
            if was is not None and now is not None and was != now:
                idle.append(f"{capacity_label(g.split(':', 1)[1], config).lower()}, {number(was, 'pct')} in use "
                            f"at {earlier}, {number(now, 'pct')} at {label}")
        why = ("the extra places sat idle, as nobody waited for a place at the smaller size (" + "; ".join(idle) + ")"
               if idle else "nothing the option does depends on its size (it is paid per person, not per place)")
        cost, cost_before = mean(label, "programme_cost"), mean(earlier, "programme_cost")
        costs = ("" if cost is None or cost_before is None or cost == cost_before else
                 f", at a programme cost of {number(cost, 'gbpk')} against {number(cost_before, 'gbpk')}")
        out.append(f"{label} gives the same results as {earlier} in every replication{costs}: {why}.")
    return out
