"""Calibration of the demand side: vacancies hold at the published level without a programme, and fall with one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_params
from omegaconf import OmegaConf

from sim.experiment.stats import paired_difference
from sim.model import RunOutput, simulate
from sim.model.workforce import calibrate
from sim.params.paths import CONFIG_DIR
from sim.params.schema import AGE_BANDS, EmployerGroup, Post, Role, Workforce

CHANNELS: tuple[str, ...] = tuple(OmegaConf.load(CONFIG_DIR / "region" / "norfolk_waveney.yaml").channels.keys())
NO_REFERRALS: tuple[str, ...] = tuple(f"region.channels.{c}.referrals_per_year=0" for c in CHANNELS)


def kpi(out: RunOutput, name: str, group: str = "all") -> float:
    values = [v for k, g, v in out.kpis if (k, g) == (name, group)]
    assert len(values) == 1, f"{name}/{group}: {len(values)} rows"
    return values[0]


def total_vacancies(out: RunOutput) -> dict[float, int]:
    """Vacancies summed over every (group, role) cell, by sampled day."""
    by_day: dict[float, int] = {}
    for day, _group, _role, _est, _in_post, vac in out.timeseries:
        by_day[day] = by_day.get(day, 0) + vac
    return by_day


# ----------------------------------------------------------------------------- the baseline level
@pytest.mark.statistical
def test_baseline_vacancies_stay_at_published_level() -> None:
    """No programme, five years, 8 replications: mean total vacancies within 10% of the published 3,300 every sample."""
    params = make_params(*NO_REFERRALS)  # default experiment: full horizon, weekly churn as configured
    ex = params.config.experiment
    assert ex.horizon_days >= 5 * 365
    published = params.config.region.published_vacancies
    assert published == 3300
    runs = [total_vacancies(simulate(params, r)) for r in range(8)]
    days = sorted(runs[0])
    assert all(sorted(run) == days for run in runs)
    assert days[0] == 0 and days[-1] == ex.horizon_days and len(days) > 50
    mean = np.array([[run[d] for d in days] for run in runs], float).mean(axis=0)
    # 10% is the calibration requirement. The spread between replications is ~65 posts at most
    # (pilot), so the mean of 8 has a standard error of ~25 (<1% of 3,300): the bound tests the
    # calibration of BAU fills, not sampling noise.
    worst = int(np.argmax(np.abs(mean - published)))
    assert np.all(np.abs(mean - published) <= 0.10 * published), (days[worst], mean[worst])


@pytest.mark.model
def test_initial_vacancy_rate_by_sector() -> None:
    """With no warm-up, at day 0 each sector's vacancy rate is the configured one (NHS 5.19%, social care 7.5% of
    24,000) up to rounding: the staff start from data."""
    params = make_params("experiment=quick", "experiment.warmup_days=0", *NO_REFERRALS)
    wf = params.config.region.workforce
    out = simulate(params, 0)
    est: dict[str, int] = {}
    vac: dict[str, int] = {}
    for day, group, _role, e, _in_post, v in out.timeseries:
        if day == 0.0:
            sector = wf.groups[group].sector
            est[sector] = est.get(sector, 0) + e
            vac[sector] = vac.get(sector, 0) + v
    for sector in ("nhs", "social_care"):
        posts = [p for g in wf.groups.values() if g.sector == sector for p in g.posts.values()]
        configured = sum(p.vacancy_rate * p.establishment for p in posts)
        assert est[sector] == round(sum(p.establishment for p in posts))
        # staff in post are rounded to whole people in each cell: at most half a post off per cell
        assert abs(vac[sector] - configured) <= 0.5 * len(posts), (sector, vac[sector], configured)
    # the published figures the config is built from (the region file's comments)
    assert est["social_care"] == 24_000
    assert vac["social_care"] / est["social_care"] == pytest.approx(0.075, abs=0.5 * 17 / 24_000)
    assert vac["nhs"] / est["nhs"] == pytest.approx(0.0519, abs=0.5 * 15 / est["nhs"])
    assert vac["nhs"] + vac["social_care"] == pytest.approx(params.config.region.published_vacancies, abs=16)


# ----------------------------------------------------------------------------- the calibration
AGE = [0.1, 0.2, 0.2, 0.22, 0.23, 0.05]
RETIRE = [0.0, 0.0, 0.0, 0.002, 0.15, 0.35]
WIDTH = [9.0, 10.0, 10.0, 10.0, 10.0]  # years in each band below 65+ (sim.params.config.AGE_BAND_YEARS)


def _post(establishment: float, vacancy_rate: float, turnover: float, within: float, growth: float) -> Post:
    return Post(establishment=establishment, vacancy_rate=vacancy_rate, turnover=turnover,
                within_sector_share=within, growth_per_year=growth, age_profile=list(AGE))


def _flows_per_band(post: Post, bau, pi: float = 0.0, p_in: float = 0.0, m: list[float] | None = None) -> np.ndarray:
    """d n_a / dt per staff member, written out band by band from the calibrated rates (mean field)."""
    n = np.array(post.age_profile)
    r = np.array(bau.retirement_rate)
    lam_out = max(0.0, post.turnover - float(r @ n)) * (1 - post.within_sector_share)
    v = post.vacancy_rate
    s_share = p_in / (p_in + bau.external_fill_rate * v / (1 - v)) if p_in else 0.0
    hires = bau.external_fill_rate * v / (1 - v)  # external hires per staff per year
    d = np.zeros(6)
    for a in range(6):
        ageing_out = n[a] / WIDTH[a] if a < 5 else 0.0
        ageing_in = n[a - 1] / WIDTH[a - 1] if a > 0 else 0.0
        d[a] = (hires * bau.hire_age_profile[a] + ageing_in + p_in * (m[a] if m else 0.0)
                - ageing_out - (lam_out + r[a] + pi) * n[a])
    assert s_share >= 0
    return d


@pytest.mark.parametrize(
    ("vacancy_rate", "turnover", "within", "growth"),
    [(0.1, 0.3, 0.4, 0.02), (0.0519, 0.088, 0.0, 0.0), (0.08, 0.2, 0.63, 0.022)],
)
@pytest.mark.unit
def test_calibration_holds_posts_and_age_profile(vacancy_rate: float, turnover: float, within: float,
                                                 growth: float) -> None:
    """One post, no promotions: at the calibrated rates every age band grows with the posts (the
    published profile is a steady state), so staff, vacancies and retirements hold."""
    post = _post(1000.0, vacancy_rate, turnover, within, growth)
    wf = Workforce(retirement_rate=list(RETIRE), roles={"carer": Role(entry_level=True)},
                   groups={"homes": EmployerGroup(sector="social_care", posts={"carer": post})})
    bau = calibrate(wf)["homes"]["carer"]
    assert len(AGE) == len(AGE_BANDS)
    assert bau.retirement_rate[:5] == RETIRE[:5]  # the region's hazards below 65 are kept
    assert math.isclose(sum(bau.hire_age_profile), 1.0) and min(bau.hire_age_profile) >= 0
    d = _flows_per_band(post, bau)
    g = math.log1p(growth)
    assert np.allclose(d, g * np.array(AGE), atol=1e-9), (d, g * np.array(AGE))


@pytest.mark.unit
def test_calibration_never_negative() -> None:
    """Posts closing faster than they open (growth -0.5): no external hires are needed, never fewer than none."""
    post = _post(1000.0, 0.1, 0.3, 0.4, -0.5)
    wf = Workforce(retirement_rate=list(RETIRE), roles={"carer": Role(entry_level=True)},
                   groups={"homes": EmployerGroup(sector="social_care", posts={"carer": post})})
    assert calibrate(wf)["homes"]["carer"].external_fill_rate == 0.0


@pytest.mark.unit
def test_calibration_ladder() -> None:
    """On a ladder, promotions out are refilled below and promotions in bring the lower role's ages:
    both posts' age profiles still hold, and the promotion share of the senior post's fills is s."""
    low, top = _post(800.0, 0.08, 0.3, 0.5, 0.02), _post(200.0, 0.05, 0.25, 0.5, 0.02)
    s = 0.4  # a case the profiles can hold (no band's hires clipped at zero)
    wf = Workforce(retirement_rate=list(RETIRE),
                   roles={"carer": Role(entry_level=True),
                          "senior": Role(promoted_from="carer", internal_fill_share=s)},
                   groups={"homes": EmployerGroup(sector="social_care", posts={"carer": low, "senior": top})})
    cal = calibrate(wf)["homes"]
    assert min(cal["senior"].hire_age_profile[:5]) > 0 and min(cal["carer"].hire_age_profile[:5]) > 0
    v_top = top.vacancy_rate
    total_top = cal["senior"].external_fill_rate / (1 - s)  # external hazard plus promotions at h_ext s / (1 - s)
    p_in = s * total_top * v_top / (1 - v_top)  # promotions per senior per year
    d_top = _flows_per_band(top, cal["senior"], p_in=p_in, m=low.age_profile)
    g = math.log1p(0.02)
    assert np.allclose(d_top, g * np.array(top.age_profile), atol=1e-9)
    staff_low, staff_top = 800 * (1 - 0.08), 200 * (1 - v_top)
    pi = p_in * staff_top / staff_low  # carers promoted per carer per year
    d_low = _flows_per_band(low, cal["carer"], pi=pi)
    assert np.allclose(d_low, g * np.array(low.age_profile), atol=1e-9)


# ----------------------------------------------------------------------------- the market holds still
@pytest.mark.parametrize(("elasticity", "labels"), [(1.0, None), (0.4, ("social_care", "nhs"))])
@pytest.mark.statistical
def test_no_programme_vacancy_rates_hold_per_sector_and_employer(elasticity: float,
                                                                 labels: tuple[str, ...] | None) -> None:
    """No programme, no residents, five years with ageing: every sector's and employer group's vacancy
    rate (mean of 40 replications) stays within 0.3 percentage points of its day-0 level at every
    monthly sample, beyond three standard errors of that mean. Noise: the smallest group (primary care,
    ~2,100 posts, ~110 vacancies) has a replication sd of ~0.5 pp, so the mean of 40 has ~0.08 pp, and
    the worst of ~60 monthly samples can be 0.2 pp off by noise alone; drift of the old calibration was 0.5 pp.

    With an unlimited candidate pool (elasticity 1) the fill hazard is fixed, which is what the calibration
    holds exactly. Under the matching function (elasticity e < 1) open posts must move by 1/e times any drift in
    the posts opened to be filled again (hires ~ V^e): small groups whose age mix drifts (primary care, about
    +0.2 pp at elasticity 1) drift 2.5 times as far at 0.4, so there the sectors are checked."""
    params = make_params(*NO_REFERRALS, f"region.workforce.bau_vacancy_elasticity={elasticity}")
    runs = [simulate(params, r) for r in range(40)]
    sectors = {g: grp.sector for g, grp in params.config.region.workforce.groups.items()}
    rates: dict[str, dict[float, list[float]]] = {}
    for out in runs:
        est: dict[tuple[str, float], int] = {}
        vac: dict[tuple[str, float], int] = {}
        for day, group, _role, e, _in_post, v in out.timeseries:
            for label in (group, sectors[group]):
                est[(label, day)] = est.get((label, day), 0) + e
                vac[(label, day)] = vac.get((label, day), 0) + v
        for (label, day), e in est.items():
            rates.setdefault(label, {}).setdefault(day, []).append(vac[(label, day)] / e)
    assert set(rates) == set(sectors) | set(sectors.values())
    for label, by_day in rates.items():
        if labels is not None and label not in labels:
            continue
        days = sorted(by_day)
        mean = np.array([np.mean(by_day[d]) for d in days]) * 100
        se = np.array([np.std(by_day[d], ddof=1) / np.sqrt(len(by_day[d])) for d in days]) * 100
        worst = int(np.argmax(np.abs(mean - mean[0]) - 3 * se))
        # 0.3 pp of drift, plus three standard errors of the mean at that sample (the worst of ~60 samples)
        assert abs(mean[worst] - mean[0]) <= 0.3 + 3 * se[worst], (label, days[worst], mean[0], mean[worst], se[worst])


# ----------------------------------------------------------------------------- a programme's effect
# A big programme: outreach and GP-adviser referrals switched on and enlarged, more advisers, childcare
# and care-course seats. Why this big: expected effect on mean vacancies ~ (extra hires per year) x (the
# time BAU would have taken to fill the post, 1/h ~ 0.4 years for care workers and HCSWs) less early
# leavers' reopened posts. The shipped [outreach,gp_advisers,childcare] adds ~160 hires over 5 years,
# an effect of ~-12 posts, while the paired difference of vacancies_mean has a standard deviation of
# ~25 (pilot, 20 pairs; correlation of the pair only ~0.2; in that pilot the staff churn drew from one
# generator whose consumption depended on the state, so a few differing hires desynchronised the two
# runs' streams; its streams are now restarted every step (FlowStreams), but the bound below does not
# rely on that). 5 pairs could not resolve -12. This programme adds ~650 hires (~130 a year): expected effect
# ~-50; with 8 pairs the 95% CI half-width is ~2.36 x 28 / sqrt(8) ~ 23, so the CI excludes 0 with high power.
BIG_PROGRAMME = (
    "intervention=[outreach,gp_advisers,childcare,training_places]",
    "intervention.outreach.changes.0.value=2000",
    "intervention.gp_advisers.places=20",
    "intervention.gp_advisers.changes.0.value=1000",
    "intervention.childcare.places=60",
    "intervention.training_places.places=45",
)


@pytest.mark.statistical
def test_programme_lowers_vacancies() -> None:
    """A programme that hires people lowers mean vacancies against the same seeds' baseline (paired 95% CI < 0)."""
    base_p, prog_p = make_params(), make_params(*BIG_PROGRAMME)
    reps = range(8)
    base = [simulate(base_p, r) for r in reps]
    prog = [simulate(prog_p, r) for r in reps]
    hires = paired_difference([kpi(o, "hires") for o in prog], [kpi(o, "hires") for o in base])
    assert all(kpi(o, "hires") > 0 for o in prog)
    assert hires.low > 0, hires
    diff = paired_difference([kpi(o, "vacancies_mean") for o in prog], [kpi(o, "vacancies_mean") for o in base])
    assert diff.n == 8
    assert diff.mean < 0 and diff.high < 0, diff
