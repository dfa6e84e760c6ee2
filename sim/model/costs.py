"""What an option costs: one rule, the option ends at the horizon (README, "What an option costs").

An intervention is active, and paid for, over its window (`Params.intervention_windows`: start_day to end_day
or the horizon): fixed cost once, per place x places x active days / 365, per person for each resident referred
in the window who enters its stage while it is active. A channel's cost is per referral in the window. In the
follow-up no option is active (`sim.params.plan`), so it uses only what was paid for.
"""

from __future__ import annotations

from sim.params.plan import Params


def programme_costs(params: Params, referrals: dict[int, int], usage: dict[str, int],
                    horizon: float) -> list[tuple[str, str, float]]:
    """KPI rows of the programme's cost: per channel (`referrals` by channel index), per intervention (`usage`:
    residents who entered its stage while it was active), in all, and per year of the window."""
    c = params.config
    rows: list[tuple[str, str, float]] = []
    total = 0.0
    for i, (name, ch) in enumerate(c.region.channels.items()):
        cost = referrals.get(i, 0) * ch.cost_per_referral
        rows.append(("programme_cost", f"channel:{name}", cost))
        total += cost
    windows = params.intervention_windows()
    for name, iv in c.intervention.items():
        start, end = windows[name]
        active_years = max(0.0, end - start) / 365.0
        cost = (iv.cost.fixed + iv.cost.per_place_per_year * iv.places * active_years
                + iv.cost.per_person * usage.get(name, 0))
        rows.append(("programme_cost", f"intervention:{name}", cost))
        total += cost
    rows.append(("programme_cost", "all", total))
    rows.append(("programme_cost_per_year", "all", total / (horizon / 365.0)))
    return rows
