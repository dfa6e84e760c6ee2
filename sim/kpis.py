"""The names of the KPIs a run reports (the `kpi` column of kpis.csv), shared by the config's checks and the model."""

KPI_NAMES = (
    "referrals", "hires", "net_hires", "sustained_6m", "sustained_12m", "net_sustained_12m",
    "early_leavers", "sustained_6m_rate", "sustained_12m_rate", "time_to_start_mean",
    "vacancy_days", "vacancies_mean", "vacancy_rate", "vacancies_end", "establishment_end",
    "leavers", "movers", "retirements", "bau_hires", "promotions",
    "utilisation", "mean_wait", "reneged", "mean_queue",
    "programme_cost", "programme_cost_per_year", "cost_per_hire", "cost_per_sustained_job",
    "cost_per_net_sustained_job",
)
