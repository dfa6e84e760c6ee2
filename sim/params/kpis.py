"""The names of the KPIs a run reports (the `kpi` column of kpis.csv), shared by the config's checks and the model."""

# The ledger: every way staff enter or leave a post (kpis of the same names, per window)
FLOW_KPIS = ("leavers", "movers", "movers_in", "retirements", "promotions", "promoted_out", "bau_hires",
             "programme_starts", "programme_leavers")

# A succession programme's completers ready to step up, and the promotions they took (within `promotions`)
SUCCESSION_KPIS = ("succession_completers", "succession_promotions")

KPI_NAMES = (
    "referrals", "hires", "net_hires", "sustained_6m", "sustained_12m", "net_sustained_12m",
    "early_leavers", "sustained_6m_rate", "sustained_12m_rate", "time_to_start_mean", "not_followed_up",
    "vacancy_days", "vacancies_mean", "vacancy_rate", "vacancies_end", "establishment_end",
    "staff_in_post_mean", "staff_in_post_start", "staff_in_post_end", "programme_staff_in_post_mean",
    *FLOW_KPIS, *SUCCESSION_KPIS,
    "utilisation", "mean_wait", "reneged", "mean_queue",
    "programme_cost", "programme_cost_per_year",
    "served",  # residents referred in the window who held one of an intervention's own places (`serves`)
)
