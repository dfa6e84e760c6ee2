"""The demand side acts through its own cells and people: per-cell random streams, a succession
programme bounded by its completers, and labour supply as a ranged assumption (the matching function).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_market import NO_REFERRALS, QUICK, kpi, on_region_market

from sim.model import Model, RunOutput, simulate
from sim.model.workforce import pool_correction
from sim.params.plan import Params

LADDER = ("care_worker", "senior_carer", "deputy_manager", "registered_manager")


def _cells(out: RunOutput) -> dict[tuple[str, str], list[tuple[float, int, int, int]]]:
    """Each cell's time series: (time, establishment, in post, vacancies)."""
    cells: dict[tuple[str, str], list[tuple[float, int, int, int]]] = {}
    for t, group, role, est, inpost, vac in out.timeseries:
        cells.setdefault((group, role), []).append((t, est, inpost, vac))
    return cells


@pytest.mark.model
def test_a_change_in_care_ladder_cells_leaves_every_unconnected_cell_identical() -> None:
    """More senior carers filled by promotion changes the care ladder's cells only: every NHS cell and every
    care cell off the ladder (nurses, other roles) has the same staff and vacancies at every record time.

    No residents are referred, so nothing but the random streams could connect the cells. With one stream
    per flow across every cell (before), a changed count in a care cell shifted the draws of every later cell."""
    base = on_region_market(*QUICK, *NO_REFERRALS)
    more = on_region_market(*QUICK, *NO_REFERRALS, "region.workforce.roles.senior_carer.internal_fill_share=0.8")
    a, b = _cells(simulate(base, 0)), _cells(simulate(more, 0))
    ladder = [c for c in a if c[1] in LADDER]
    others = [c for c in a if c[1] not in LADDER]
    assert any(a[c] != b[c] for c in ladder), "the change should move the ladder's cells"
    assert others and all(a[c] == b[c] for c in others), [c for c in others if a[c] != b[c]]


def _connected(params: Params, group: str, role: str) -> set[tuple[str, str]]:
    """The cells a change to (`group`, `role`) can reach: movers join cells of one role in one sector, promotions
    join a role and the one below it in one group (either way: promotions take from the staff below)."""
    wf = params.config.region.workforce
    cells = {(g, r) for g, grp in wf.groups.items() for r in grp.posts}

    def linked(a: tuple[str, str], b: tuple[str, str]) -> bool:
        same_sector = wf.groups[a[0]].sector == wf.groups[b[0]].sector
        ladder = wf.roles[a[1]].promoted_from == b[1] or wf.roles[b[1]].promoted_from == a[1]
        return (a[1] == b[1] and same_sector) or (a[0] == b[0] and ladder)

    reached, todo = {(group, role)}, [(group, role)]
    while todo:
        here = todo.pop()
        for c in cells - reached:
            if linked(here, c):
                reached.add(c)
                todo.append(c)
    return reached


@pytest.mark.parametrize(("group", "role"), [("acute", "admin_estates"), ("nursing_homes", "registered_nurse")])
@pytest.mark.model
def test_one_posts_turnover_leaves_every_unconnected_cell_identical(group: str, role: str) -> None:
    """Doubling one post's turnover moves its own cell and the cells movers and promotions connect to it; every
    other cell has the same staff and vacancies at every record time, draw for draw (each cell's draws are
    addressed by its own stream, step and slot). No residents are referred, so only the draws could connect them."""
    base = on_region_market(*QUICK, *NO_REFERRALS)
    turnover = base.config.region.workforce.groups[group].posts[role].turnover
    path = f"region.workforce.groups.{group}.posts.{role}.turnover"
    more = on_region_market(*QUICK, *NO_REFERRALS, f"{path}={2 * turnover}")
    a, b = _cells(simulate(base, 0)), _cells(simulate(more, 0))
    near = _connected(base, group, role)
    assert a[(group, role)] != b[(group, role)], "the change should move its own cell"
    others = [c for c in a if c not in near]
    assert len(others) > len(near) and all(a[c] == b[c] for c in others), [c for c in others if a[c] != b[c]]


@pytest.mark.parametrize("places", [20, 60])
@pytest.mark.model
def test_succession_promotions_are_bounded_by_completers(places: int) -> None:
    """Each completer fills at most one post, once: the programme's extra promotions (against the same
    seeds without it) never exceed its completers, at any size. Before, the programme raised the promotion
    share of every fill in the region: 4.7 extra promotions per participant at 20 places."""
    reference = on_region_market(*QUICK, "scenario=baseline")
    option = on_region_market(*QUICK, "scenario=skills_plan_manager_succession",
                              f"intervention.succession_programme.places={places}")
    extra = completers = taken = 0.0
    for rep in range(3):
        o, r = simulate(option, rep), simulate(reference, rep)
        extra += kpi(o, "promotions") - kpi(r, "promotions")
        completers += kpi(o, "succession_completers")
        taken += kpi(o, "succession_promotions")
        assert kpi(r, "succession_completers") == 0
    # participants a year x completion (0.75) over the quick run's two years, less those not ready by its end
    assert 0 < completers <= 3 * places * 0.75 * 2 * 1.5
    assert taken <= completers
    assert extra <= completers, (extra, completers)


def _displacement(elasticity: float, reps: int = 3) -> tuple[float, float, float]:
    """BAU hires lost per programme start, extra staff in post, and extra programme starters in post
    (time-averages over the window), West Norfolk against the baseline on the same seeds."""
    pin = f"region.workforce.bau_vacancy_elasticity={elasticity}"
    reference = on_region_market(*QUICK, "scenario=baseline", pin)
    option = on_region_market(*QUICK, "scenario=west_norfolk_local_plan", pin)
    lost = starts = staff = programme = 0.0
    for rep in range(reps):
        o, r = simulate(option, rep), simulate(reference, rep)
        lost += kpi(r, "bau_hires") - kpi(o, "bau_hires")
        starts += kpi(o, "programme_starts") - kpi(r, "programme_starts")
        staff += kpi(o, "staff_in_post_mean") - kpi(r, "staff_in_post_mean")
        programme += kpi(o, "programme_staff_in_post_mean") - kpi(r, "programme_staff_in_post_mean")
    return lost / starts, staff / reps, programme / reps


@pytest.mark.statistical
def test_labour_supply_decides_displacement() -> None:
    """The elasticity of BAU hires to open posts is how far a programme hire displaces a BAU hire.

    With a fixed flow of candidates (0) a programme hire displaces no BAU hire except where a cell runs out
    of open posts (a candidate then finds none): the extra staff in post are nearly the programme's own
    starters still in post (an independent count: first years exactly, then their cell's leaving), and never
    more. With an unlimited pool (1, a fixed hazard per open post, the model before the matching function)
    most programme starts displace a BAU hire. In between, both move monotonically."""
    full, staff_full, programme_full = _displacement(1.0)
    mid, staff_mid, _ = _displacement(0.4)
    none, staff_none, programme_none = _displacement(0.0)
    assert full > 0.5 and none < 0.3, (full, none)
    assert none < mid < full
    assert staff_none > staff_mid > staff_full > 0
    assert 0.8 * programme_none < staff_none <= 1.02 * programme_none, (staff_none, programme_none)
    assert staff_full < 0.5 * programme_full, (staff_full, programme_full)


@pytest.mark.parametrize("alpha", [0.3, 0.6, 1.0])
@pytest.mark.statistical
def test_pool_correction_holds_the_mean_open_posts(alpha: float) -> None:
    """The birth-death law behind `pool_correction`, simulated directly (Gillespie, fixed seed): with the
    corrected matching function the time-average of open posts is v0 within its standard error."""
    v0, h_ext, h_int = 20.0, 4.0, 1.0
    a = pool_correction(alpha, v0, h_ext, h_int) * h_ext * v0 ** alpha
    lam = (h_ext + h_int) * v0
    rng = np.random.default_rng(7)
    v, batches = int(v0), []
    for _ in range(40):
        b_area = b_time = 0.0
        for _ in range(20_000):
            close = a * v ** (1 - alpha) + h_int * v if v else 0.0
            dt = rng.exponential(1.0 / (lam + close))
            b_area += v * dt
            b_time += dt
            v += 1 if rng.random() * (lam + close) < lam else -1
        batches.append(b_area / b_time)
    mean = float(np.mean(batches))
    se = float(np.std(batches, ddof=1) / math.sqrt(len(batches)))
    assert abs(mean - v0) < 3 * se + 1e-9, (mean, se)
    assert pool_correction(0.0, v0, h_ext, h_int) == 1.0


@pytest.mark.model
def test_nursing_home_retention_changes_first_year_leaving_in_nursing_homes_only() -> None:
    """Preceptorship by nursing-home educators lowers the first-year leaving of starters in nursing-home nurse
    posts; a nurse who starts in an NHS trust or a care home keeps the role's own. (Before, the option scaled the
    role's first-year leaving in every employer group, NHS included.)"""
    model = Model(on_region_market(*QUICK, "intervention=[nursing_home_nurse_retention]"), 0)
    model.env.run(until=1.0)  # the intervention is active from day 0
    wf, scale = model.workforce, model.pathway.early_scale
    for role in ("registered_nurse", "nursing_associate"):
        i = wf.roles.index(role)
        for g, group in enumerate(wf.groups):
            if wf.exists[i, g]:
                assert (scale[i][g] < 1.0) == (group == "nursing_homes"), (role, group, scale[i][g])
    assert all(x == 1.0 for i, row in enumerate(scale) for x in row
               if wf.roles[i] not in ("registered_nurse", "nursing_associate"))
