"""The KPI registry: every KPI a run reports (the `kpi` column of kpis.csv) or the comparison derives, once.

Each entry says how every output names it, prints it and reads it (its label in a sentence, its short label
in a column header or on an axis, its unit, decimals and which direction is better) and which tables show it
(`groups`, in registry order). It is the lowest layer, so the model, the analysis and every output read it:
adding a KPI, or showing one in another table, is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kpi:
    """One KPI: its name, how it reads, prints and compares, and the tables that show it.

    unit: the kind of number sim.outputs.formatting prints (count, small, days, gbpk, pct, ...); `digits` are
    its decimals in plain text (the console's run summary). better: higher, lower or none (a gain's sign).
    A derived cost per unit of effect (group `derived`) names its effect KPI and the effect's unit (`per`:
    vacancy-days per vacancy-year).
    """

    name: str
    label: str  # in a sentence, lower case: "net sustained jobs at 12 months"
    short: str  # a column header, axis or table row: "Net sustained jobs"
    unit: str
    digits: int = 0
    better: str = "none"
    groups: tuple[str, ...] = ()
    effect: str = ""
    per: float = 1.0

    @property
    def sign(self) -> float:
        """+1 when more is better, -1 when less is, 0 when neither: a change times it is a gain."""
        return {"higher": 1.0, "lower": -1.0, "none": 0.0}[self.better]

    @property
    def gain(self) -> str:
        """What a gain is, in words: 'more net sustained jobs at 12 months', 'fewer vacancy-days'."""
        return f"{'more' if self.sign > 0 else 'fewer'} {self.label}"

    @property
    def sentence(self) -> str:
        """The label starting a sentence or a row: 'Net sustained jobs at 12 months'."""
        return self.label[:1].upper() + self.label[1:]


# Groups: summary (the console's run summary), sweep (the console's sweep headline; sweep_change with the
# change against the reference), forest and effects (the report's paired effects: plot and table), staffing
# (per employer group and role), decide (pathways-decide's records and uncertainty table), objective (what
# the optimiser can maximise), flow (the workforce ledger: every way staff enter or leave a post),
# succession, capacity (per capacity), derived (from the comparison, not emitted by the model).
KPIS = (
    Kpi("referrals", "residents referred in the window", "Referrals", "count", groups=("summary",)),
    Kpi("hires", "residents hired (gross)", "Residents hired (gross)", "count", better="higher",
        groups=("summary", "sweep", "decide")),
    Kpi("net_hires", "hires net of deadweight", "Net hires", "count", better="higher",
        groups=("summary", "forest", "effects")),
    Kpi("sustained_6m", "sustained jobs at 6 months", "Sustained at 6 months", "count", better="higher"),
    Kpi("sustained_12m", "sustained jobs at 12 months", "Sustained at 12 months", "count", better="higher",
        groups=("summary", "forest", "effects", "decide")),
    Kpi("net_sustained_12m", "net sustained jobs at 12 months", "Net sustained jobs at 12 months", "count",
        better="higher", groups=("summary", "sweep", "sweep_change", "effects", "decide", "objective")),
    Kpi("early_leavers", "starters who left within 12 months", "Early leavers", "count", better="lower",
        groups=("summary",)),
    Kpi("sustained_6m_rate", "share of starters in post at 6 months", "Sustained at 6 months (share)", "pct",
        3, "higher"),
    Kpi("sustained_12m_rate", "share of starters in post at 12 months", "Sustained at 12 months (share)", "pct",
        3, "higher"),
    Kpi("time_to_start_mean", "days from referral to start (mean)", "Days from referral to start", "days",
        better="lower", groups=("summary",)),
    Kpi("not_followed_up", "residents still on the pathway at the follow-up cap", "Not followed up", "count"),
    Kpi("vacancy_days", "vacancy-days", "Vacancy-days", "days", better="lower", groups=("decide", "objective")),
    Kpi("staff_in_post_mean", "staff in post (mean over the window)", "Staff in post", "count", better="higher",
        groups=("summary", "sweep", "sweep_change", "forest", "effects", "staffing")),
    Kpi("vacancies_mean", "vacancies (mean over the window)", "Vacancies", "count", better="lower",
        groups=("summary",)),
    Kpi("vacancy_rate", "vacancy rate (mean over the window)", "Vacancy rate", "pct", 3, "lower",
        groups=("summary",)),
    Kpi("vacancies_end", "vacancies at the horizon", "Vacancies at the horizon", "count", better="lower"),
    Kpi("establishment_end", "establishment at the horizon", "Establishment at the horizon", "count"),
    Kpi("staff_in_post_start", "staff in post at the start", "Staff in post at the start", "count"),
    Kpi("staff_in_post_end", "staff in post at the horizon", "Staff in post at the horizon", "count",
        better="higher"),
    Kpi("leavers", "leavers", "Leavers", "count", better="lower", groups=("flow",)),
    Kpi("movers", "movers to another post", "Movers out", "count", groups=("flow",)),
    Kpi("movers_in", "movers from another post", "Movers in", "count", groups=("flow",)),
    Kpi("retirements", "retirements", "Retirements", "count", groups=("flow",)),
    Kpi("promotions", "promotions", "Promotions", "count", groups=("flow",)),
    Kpi("promoted_out", "promotions out of a post", "Promoted out", "count", groups=("flow",)),
    Kpi("bau_hires", "business-as-usual hires", "Business-as-usual hires", "count",
        groups=("flow", "summary", "sweep", "sweep_change", "staffing", "decide")),
    Kpi("programme_starts", "programme starts", "Programme starts", "count", better="higher",
        groups=("flow", "staffing")),
    Kpi("programme_leavers", "programme starters who left", "Programme leavers", "count", better="lower",
        groups=("flow",)),
    Kpi("programme_staff_in_post_mean", "programme starters in post (mean over the window)",
        "Programme starters in post", "count", better="higher", groups=("staffing",)),
    Kpi("succession_completers", "succession programme completers", "Succession completers", "count",
        groups=("succession",)),
    Kpi("succession_promotions", "promotions of succession completers", "Succession promotions", "count",
        groups=("succession",)),
    Kpi("utilisation", "utilisation", "Utilisation", "pct", 3, groups=("capacity",)),
    Kpi("mean_wait", "mean wait (days)", "Mean wait (days)", "days", 1, "lower", ("capacity",)),
    Kpi("reneged", "people who gave up waiting", "Gave up waiting (people)", "small", 1, "lower", ("capacity",)),
    Kpi("mean_queue", "mean queue", "Mean queue", "small", 1, "lower", ("capacity",)),
    Kpi("programme_cost", "programme cost", "Programme cost", "gbpk", better="lower",
        groups=("summary", "sweep", "effects", "decide")),
    Kpi("programme_cost_per_year", "programme spend per year", "Spend per year", "gbpk", better="lower"),
    Kpi("served", "residents who held one of an intervention's own places", "Served", "count"),
    # the comparison's costs per unit of effect (sim.analysis.compare.cost_effect), not the model's
    Kpi("cost_per_net_sustained_job", "cost per additional net sustained job", "Cost per additional net sustained job",
        "gbpk", better="lower", groups=("derived", "sweep"), effect="net_sustained_12m"),
    Kpi("cost_per_vacancy_year_avoided", "cost per vacancy-year avoided", "Cost per vacancy-year avoided", "gbpk",
        better="lower", groups=("derived", "sweep"), effect="vacancy_days", per=365.0),
)

KPI = {k.name: k for k in KPIS}


def group(name: str) -> tuple[Kpi, ...]:
    """The KPIs of a group, in registry order."""
    return tuple(k for k in KPIS if name in k.groups)


KPI_NAMES = tuple(k.name for k in KPIS if "derived" not in k.groups)  # what the model emits
FLOW_KPIS = tuple(k.name for k in group("flow"))
SUCCESSION_KPIS = tuple(k.name for k in group("succession"))
COST_RATIOS = group("derived")  # a cost per unit of effect each
