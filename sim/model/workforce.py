"""The demand side: posts, staff, vacancies, and the churn that opens and closes them.

Staff are counted, not simulated one by one: `staff[r, g, a]` is the number of staff in role
`r`, employer group `g`, age band `a`. Every `step` days each cell (a role in an employer
group) draws, from its own random stream (`CellStreams`, `sim.model.churn`: counter-based, so
a draw depends only on its cell, step and slot), one multinomial per age band:
leavers out of the sector, movers to another employer in the sector, retirements, ageing into
the next band, stayers; movers are placed in open posts of their role and sector; completers
of a succession programme take open posts of the role they trained for (`Succession`); then
business-as-usual (BAU) fills of open posts, a share of which are promotions from the role
below (which opens a post there; who is promoted is drawn without replacement). Programme
starters are added one at a time by the pathway as they start (`start`), spend their first
year counted in `first_year`, then join `staff` (`settle`) or leave (`leave`). Every flow in
or out of a cell is also counted in `flows` (a ledger kept apart from the state, which the
tests check against it).

The labour market is part of the region, not of an option. `calibrate` derives BAU
recruitment once, from the region's baseline (the region file, no programme), and every
option of that region runs with it unchanged: an option that lowers turnover, adds posts,
promotes more or fills posts from the programme moves vacancies through the same BAU
mechanics. External hires match open posts V to a candidate pool U: hires = A U^alpha
V^(1 - alpha) with U fixed, so the hazard per open post is h_ext (V0 / V)^alpha, equal to the
calibrated `external_fill_rate` h_ext at the published vacancies V0 (`_fill`). The region's
`bau_vacancy_elasticity` (1 - alpha) is how far a programme hire displaces a BAU hire: at 1 an
unlimited pool (a fixed hazard per open post: fully), at 0 a fixed flow of candidates (not at
all). `pool_correction` keeps the mean open posts at V0 when alpha > 0.

Calibration (per post: role r in group g; no programme; steady state at the published
vacancy rate v and age profile n_a, staff S = (1 - v) E):
- Turnover T is the published rate: all leavers per staff per year, retirements included.
  Retirements have a hazard r_a by age band (the region's, below 65); other leaving is
  lambda = T - rho, rho = sum_a r_a n_a; a share w of it moves within the sector (a post
  opens here and one closes elsewhere in the sector: they cancel), the rest leaves it.
- Ageing moves staff up a band at alpha_a = 1 / (band width). The 65+ band has no way out
  but leaving and retiring, so its retirement hazard is derived per post as the one that
  holds the published 65+ share (the region's figure for it is then not used).
- Promotions: a share s of a post's fills are staff of the role below in the same group,
  with that role's age profile; they leave the role below at pi per staff per year.
- Posts open at S (lambda (1 - w) + rho + pi + g) per year (growth at g = ln(1 + growth per
  year)); fills close them at h V. Setting the two equal gives the fill hazard
      h = (1 - v)(lambda (1 - w) + rho + pi + g) / v,
  of which the external part is h (1 - s), computed from the top of each career ladder down.
  A promotion share s of an option gives a promotion hazard h_ext s / (1 - s): more internal
  candidates fill the post faster, and the vacancy moves down the ladder.
- Hire ages: the external hires' age mix q_a is the one that holds the published profile:
  H q_a = (alpha_a + lambda (1 - w) + r_a + pi + g) n_a - alpha_{a-1} n_{a-1} - P_in m_a
  (per staff; H external hires, P_in promotions with the lower role's profile m), clipped at
  zero where the profile cannot be held (then the age mix drifts a little).
In a step of dt days the posts opened, O = x V with x = h dt / 365, join the open ones before
fills are drawn, so the fill probability that holds V steady is p = O / (V + O) = x / (1 + x).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import simpy

from sim.model import churn
from sim.model.capacity import Patience, Request
from sim.params.kpis import FLOW_KPIS, SUCCESSION_KPIS
from sim.params.schedule import Piecewise
from sim.params.schema import AGE_BAND_YEARS, AGE_BANDS, Bau
from sim.params.schema import Workforce as WorkforceConfig

Cell = tuple[int, int]  # (role index, group index)
MAX_PROMOTION_SHARE = 0.95  # at 1 every fill would be a promotion and the fill hazard infinite


class CellStreams:
    """The 64-bit keys of the workforce's random streams, one per name (`sim.model.churn` draws from them).

    A cell is a role in an employer group (its age bands draw together); movers, who cross
    cells of one role within a sector, draw from a stream of their own per sector and role.
    A draw is addressed by (key, step, slot), so two scenarios that share a seed draw step k of
    a cell alike whatever any other cell did: a change confined to one cell leaves every cell
    that nothing connects to it identical, and a programme hire that changes a count by one keeps
    the two staffing paths paired (common random numbers) instead of drifting apart.
    """

    def __init__(self, generator: Callable[[str], np.random.Generator], names: list[str]):
        self.keys = np.array([generator(f"workforce.{n}").integers(0, 2**64, dtype=np.uint64) for n in names],
                             np.uint64)


def _p(rate_per_year: np.ndarray | float, days: float) -> np.ndarray:
    """Probability of at least one event in `days` at a constant annual hazard."""
    return -np.expm1(-np.asarray(rate_per_year, float) * days / 365.0)


def size(wf: WorkforceConfig, group: str, role: str) -> tuple[float, float]:
    """Establishment and starting vacancy rate of a post, with its group's scale factors applied."""
    grp = wf.groups[group]
    post = grp.posts[role]
    return post.establishment * grp.scale, min(0.95, post.vacancy_rate * grp.vacancy_scale)


AGEING = np.array([1.0 / y if math.isfinite(y) else 0.0 for y in AGE_BAND_YEARS])  # per year, out of each band


def calibrate(wf: WorkforceConfig) -> dict[str, dict[str, Bau]]:
    """BAU recruitment of every post of a region's baseline workforce (the derivation above)."""
    above = {role.promoted_from: name for name, role in wf.roles.items() if role.promoted_from}
    out: dict[str, dict[str, Bau]] = {g: {} for g in wf.groups}
    fill: dict[tuple[str, str], float] = {}  # total fill hazard h

    def share(r: str) -> float:
        return min(wf.roles[r].internal_fill_share, MAX_PROMOTION_SHARE)

    def solve(r: str, g: str) -> float:
        if (r, g) in fill:
            return fill[(r, g)]
        posts = wf.groups[g].posts
        post = posts[r]
        e, v = size(wf, g, r)
        n = np.asarray(post.age_profile, float)
        staff = (1.0 - v) * e
        w, growth = post.within_sector_share, math.log1p(post.growth_per_year)
        up = above.get(r)
        pi = 0.0
        if up is not None and up in posts and staff > 0:
            e_up, v_up = size(wf, g, up)
            pi = share(up) * solve(up, g) * v_up * e_up / staff
        low = wf.roles[r].promoted_from
        s = share(r) if low is not None and low in posts else 0.0
        m = np.asarray(posts[low].age_profile, float) if low is not None and s > 0 else np.zeros(len(AGE_BANDS))
        rates = np.asarray(wf.retirement_rate, float).copy()
        h = 0.0
        for _ in range(50):  # the 65+ retirement hazard and the fill hazard depend on each other
            p_in = s * h * v / (1.0 - v) if v < 1 else 0.0  # promotions in, per staff per year
            if n[-1] > 0:
                k = (AGEING[-2] * n[-2] + p_in * m[-1]) / n[-1]
                rho_low = float(np.dot(rates[:-1], n[:-1]))
                rates[-1] = max(0.0, (k - (post.turnover - rho_low) * (1 - w) - growth - pi) / (1 - n[-1] * (1 - w)))
            rho = float(np.dot(rates, n))
            lam_out = max(0.0, post.turnover - rho) * (1 - w)
            new = (1.0 - v) * (lam_out + rho + pi + growth) / v if v > 0 and e > 0 else 365.0
            new = max(0.0, new)  # shrinking establishments can need no fills at all
            if abs(new - h) <= 1e-12 * max(1.0, new):
                h = new
                break
            h = new
        fill[(r, g)] = h
        p_in = s * h * v / (1.0 - v) if v < 1 else 0.0
        inflow = np.concatenate([[0.0], AGEING[:-1] * n[:-1]])
        need = np.maximum(0.0, (AGEING + lam_out + rates + pi + growth) * n - inflow - p_in * m)
        need[-1] = 0.0  # the 65+ band is held by its retirement hazard above
        q = need / need.sum() if need.sum() > 0 else np.eye(len(AGE_BANDS))[1]
        out[g][r] = Bau(external_fill_rate=h * (1.0 - s), hire_age_profile=[float(x) for x in q],
                        retirement_rate=[float(x) for x in rates])
        return h

    for g, grp in wf.groups.items():
        for r in grp.posts:
            solve(r, g)
    return out


class Workforce(Patience):
    """Posts and staff of every employer group and role, and the churn at every step.

    `bau` is the region's calibration (`calibrate`); `schedule(path)` gives a changeable
    number over time (turnover of a post, promotion share of a role) with interventions applied.
    """

    def __init__(self, env: simpy.Environment, wf: WorkforceConfig, generator: Callable[[str], np.random.Generator],
                 step: float, bau: dict[str, dict[str, Bau]], schedule: Callable[[str], Piecewise]):
        self.env = env
        self.generator = generator
        self.step = step
        self.roles = list(wf.roles)
        self.groups = list(wf.groups)
        self.group_sector = [wf.groups[g].sector for g in self.groups]
        R, G, A = len(self.roles), len(self.groups), len(AGE_BANDS)
        ri = {r: i for i, r in enumerate(self.roles)}
        self.exists = np.zeros((R, G), bool)
        self.est0 = np.zeros((R, G))
        growth = np.zeros((R, G))
        self.within = np.zeros((R, G))
        self.h_ext = np.zeros((R, G))
        self._go = np.zeros((R, G, A, 5), np.int64)  # a step's churn by cell and band (see `_step`)
        self.v_pub = np.zeros((R, G))  # the published vacancy rate BAU recruitment was calibrated to hold
        self.rho = np.zeros((R, G))
        self.retire = np.zeros((R, G, A))
        self.hire_age = np.zeros((R, G, A))
        self.hire_age[..., 1] = 1.0  # unused cells: any valid mix
        self.staff = np.zeros((R, G, A), np.int64)
        self.turnover: dict[Cell, Piecewise] = {}
        own = None
        t0 = env.now  # the run starts before day 0 (warm-up): establishments grow into the published ones at day 0
        for gi, g in enumerate(self.groups):
            for r, post in wf.groups[g].posts.items():
                i = ri[r]
                cal = bau.get(g, {}).get(r)
                if cal is None:  # a post the baseline does not have: calibrated on this config
                    own = own or calibrate(wf)
                    cal = own[g][r]
                self.exists[i, gi] = True
                e, v = size(wf, g, r)
                self.est0[i, gi] = e
                growth[i, gi] = post.growth_per_year
                self.within[i, gi] = post.within_sector_share
                self.h_ext[i, gi] = cal.external_fill_rate
                self.v_pub[i, gi] = v
                if wf.bau_vacancy_elasticity < 1.0:
                    self.h_ext[i, gi] *= pool_correction(1.0 - wf.bau_vacancy_elasticity, e * v, cal.external_fill_rate,
                                                         cal.external_fill_rate * _internal_odds(wf, r, g))
                self.retire[i, gi] = cal.retirement_rate
                self.rho[i, gi] = float(np.dot(cal.retirement_rate, post.age_profile))
                self.hire_age[i, gi] = cal.hire_age_profile
                self.turnover[(i, gi)] = schedule(f"region.workforce.groups.{g}.posts.{r}.turnover")
                e_start = e * math.exp(math.log1p(post.growth_per_year) * t0 / 365.0)
                self.staff[i, gi] = _apportion(round(e_start * (1 - v)), post.age_profile)
        self.log_growth = np.log1p(growth)
        sectors = list(dict.fromkeys(self.group_sector))
        self._sector = np.array([sectors.index(s) for s in self.group_sector], np.int64)  # each group's sector
        self.p_age = np.array([step / (365.0 * y) if math.isfinite(y) else 0.0 for y in AGE_BAND_YEARS])
        promoted_from = [wf.roles[r].promoted_from for r in self.roles]
        self.promo_from = np.array([ri[low] if low else -1 for low in promoted_from], np.int64)
        self.promotion = [schedule(f"region.workforce.roles.{r}.internal_fill_share") for r in self.roles]
        self.pool_exponent = 1.0 - wf.bau_vacancy_elasticity  # alpha of the matching function
        self.cells: list[Cell] = [(int(i), int(g)) for i, g in zip(*np.nonzero(self.exists))]
        cells = np.array(self.cells, np.int64).reshape(-1, 2)
        self._ci, self._cg = cells[:, 0].copy(), cells[:, 1].copy()
        self._keys = CellStreams(generator, [f"cell.{self.roles[i]}.{self.groups[g]}" for i, g in self.cells]).keys
        # sector s and role r: stream s R + r
        self._mover_keys = CellStreams(generator, [f"movers.{s}.{r}" for s in sectors for r in self.roles]).keys
        self.succession = Succession(self, schedule)
        times = {t for pw in [*self.turnover.values(), *self.promotion] for t in pw.times if t > t0}
        self._changes = sorted(times) + [math.inf]  # when the rates must be worked out again
        self._rates(t0)
        self.first_year = np.zeros((R, G), np.int64)
        self.establishment = np.rint(self.est0 * np.exp(self.log_growth * t0 / 365.0)).astype(np.int64) * self.exists
        # vacancy-days since the statistics were last reset, and establishment-days
        self.vacancy_days = np.zeros((R, G))
        # programme starters after their first year, as the expected number still in post (they join the
        # counted staff; this shadow keeps them apart, thinned each step by their cell and band's leaving)
        self.programme_settled = np.zeros((R, G, A))
        self.programme_days = 0.0  # programme starters' staff-days in post since the statistics were reset
        self.post_days = np.zeros((R, G))
        self._t_area = env.now
        self.flows = {k: np.zeros((R, G), np.int64) for k in (*FLOW_KPIS, *SUCCESSION_KPIS)}
        self.in_post_at_reset = int(self.in_post().sum())
        self._waiting: dict[Cell, list[Request]] = {}  # residents waiting for a post, by the cells they would take
        self._refresh()
        self.samples: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []
        env.process(self._churn())

    def _rates(self, t: float) -> None:
        """Step probabilities from the hazards in force at `t` (turnover and promotion shares may change)."""
        step = self.step
        R, G, A = self.staff.shape
        turnover = np.zeros((R, G))
        for cell, pw in self.turnover.items():
            turnover[cell] = pw.at(t)
        lam = np.maximum(0.0, turnover - self.rho)  # other leaving: turnover less the baseline's retirements
        p_out = _p(lam * (1 - self.within), step)[:, :, None]
        p_move = _p(lam * self.within, step)[:, :, None]
        p_retire = _p(self.retire, step)
        # leave the sector, move to another employer, retire, age into the next band, stay: the three hazards
        # taken in turn, then ageing of those who stay (one multinomial is the same as thinning in turn)
        shape = (R, G, A)
        out_ = np.broadcast_to(p_out, shape)
        move_ = np.broadcast_to((1 - p_out) * p_move, shape)
        retire_ = (1 - p_out) * (1 - p_move) * p_retire
        stay = np.clip(1 - out_ - move_ - retire_, 0.0, 1.0)
        probs = np.stack([out_, move_, retire_, stay * self.p_age, stay * (1 - self.p_age)], axis=-1)
        self.p_churn = np.ascontiguousarray(probs[self._ci, self._cg])  # (cells, A, 5), for the compiled step
        self.p_stay = stay
        share = np.array([min(pw.at(t), MAX_PROMOTION_SHARE) if self.promo_from[i] >= 0 else 0.0
                          for i, pw in enumerate(self.promotion)])
        below = np.array([[self.promo_from[i] >= 0 and self.exists[self.promo_from[i], g] for g in range(G)]
                          for i in range(R)])  # a post with staff below it in its own group to promote
        # promotions add h_ext s / (1 - s) per open post
        self.h_int = self.h_ext * (share / (1.0 - share))[:, None] * below

    # --- state
    def in_post(self) -> np.ndarray:
        return self.staff.sum(axis=2) + self.first_year

    def vacancies(self) -> np.ndarray:
        return self.establishment - self.in_post()

    def _accumulate(self) -> None:
        """Add vacancy- and establishment-days since the last call (vectorised, once per step).

        Programme starts and early leavers between calls change one cell's vacancies; `_shift`
        corrects for them at once, so they cost a scalar update instead of a whole pass.
        """
        now = self.env.now
        dt = now - self._t_area
        if dt:
            self.vacancy_days += self.vacancies() * dt
            self.post_days += self.establishment * dt
            self.programme_days += (float(self.first_year.sum()) + float(self.programme_settled.sum())) * dt
            self._t_area = now

    def _shift(self, cell: Cell, change: int) -> None:
        """Vacancies in `cell` change by `change` now: the next `_accumulate` counts the new number
        from its last call, so take off what it will over-count for the time before now."""
        self.vacancy_days[cell] -= change * (self.env.now - self._t_area)
        self.programme_days += change * (self.env.now - self._t_area)  # a start fills a post, a leaver opens one

    def reset_stats(self) -> None:
        self._accumulate()
        self.vacancy_days[:] = 0
        self.post_days[:] = 0
        self.programme_days = 0.0
        for v in self.flows.values():
            v[:] = 0
        self.in_post_at_reset = int(self.in_post().sum())

    def record(self) -> None:
        """Snapshot establishment, staff in post and vacancies (for the time series)."""
        self.samples.append((self.env.now, self.establishment.copy(), self.in_post(), self.vacancies()))

    # --- programme starters (called by the pathway)
    def cells_for(self, roles: list[str], sectors: tuple[str, ...]) -> list[Cell]:
        ri = {r: i for i, r in enumerate(self.roles)}
        return [(ri[r], g) for r in roles for g, s in enumerate(self.group_sector)
                if s in sectors and self.exists[ri[r], g]]

    def _refresh(self) -> None:
        """Cache open posts as plain ints for the pathway's many small look-ups."""
        self.open_posts: list[list[int]] = self.vacancies().tolist()

    def pick_open(self, cells: list[Cell], u: float) -> Cell | None:
        """A cell among `cells` with an open post, chosen in proportion to its open posts by the
        resident's own uniform `u`; None if none is open."""
        v = self.open_posts
        total = 0
        last = None
        for cell in cells:
            n = v[cell[0]][cell[1]]
            if n > 0:
                total += n
                last = cell
        if last is None:
            return None
        x = u * total
        for cell in cells:
            n = v[cell[0]][cell[1]]
            if n > 0:
                x -= n
                if x < 0:
                    return cell
        return last

    def start(self, cell: Cell) -> bool:
        """A programme resident takes an open post in `cell`; False if none is open."""
        if self.open_posts[cell[0]][cell[1]] <= 0:
            return False
        self._shift(cell, -1)
        self.first_year[cell] += 1
        self.flows["programme_starts"][cell] += 1
        self.open_posts[cell[0]][cell[1]] -= 1
        return True

    def settle(self, cell: Cell, band: int) -> None:
        """A programme starter completes the first year and joins the general staff."""
        self.first_year[cell] -= 1
        self.staff[cell][band] += 1
        self.programme_settled[cell][band] += 1

    def leave(self, cell: Cell) -> None:
        """A programme starter leaves within the first year: the post opens again."""
        self._shift(cell, 1)
        self.first_year[cell] -= 1
        self.flows["programme_leavers"][cell] += 1
        self.open_posts[cell[0]][cell[1]] += 1
        self._wake([cell])

    def wait_for_vacancy(self, cells: list[Cell]) -> Request:
        """An event that fires (True) when a post opens in any of `cells`."""
        req = Request(self)
        for c in cells:
            self._waiting.setdefault(c, []).append(req)
        return req

    def abandon(self, req: Request) -> None:
        if not req.triggered:
            req.abandoned = True
            req.settle(False)

    def _wake(self, cells: list[Cell] | None = None) -> None:
        """Wake everyone waiting on a cell that has an open post (all cells with waiters, or just `cells`).

        A request waits in the list of every cell it would take; once woken or given up it is
        skipped lazily, and long lists of such requests are compacted so memory stays bounded.
        """
        if not self._waiting:
            return
        v = self.open_posts
        for c in list(self._waiting) if cells is None else cells:
            waiting = self._waiting.get(c)
            if not waiting:
                continue
            if v[c[0]][c[1]] > 0:
                for req in waiting:
                    if not req.triggered:
                        req.settle(True)
                del self._waiting[c]
            elif len(waiting) > 64:
                live = [req for req in waiting if not req.triggered]
                if live:
                    self._waiting[c] = live
                else:
                    del self._waiting[c]

    # --- the churn
    def _churn(self):
        k = 0
        while True:
            yield self.env.timeout(self.step)
            k += 1
            self._step(k)

    def _step(self, k: int) -> None:
        """Step `k`: exits and ageing, establishment growth, movers placed, ready succession
        completers promoted, then BAU fills and promotions, then the programme's new participants."""
        flows = self.flows
        self._accumulate()
        if self.env.now >= self._changes[0]:
            while self.env.now >= self._changes[0]:
                self._changes.pop(0)
            self._rates(self.env.now)
        s, go = self.staff, self._go
        churn.churn(s, self._ci, self._cg, self.p_churn, self._keys, k, go)  # by band: leave, move, retire, age, stay
        self.programme_settled *= self.p_stay
        s[...] = go[..., 4]
        s[..., 1:] += go[..., :-1, 3]  # the last band does not age (p_age is 0 there)
        mv = go[..., 1]
        gone = go[..., :3].sum(axis=2)  # (R, G, 3)
        # establishment follows growth; posts are cut only when vacant
        target = np.rint(self.est0 * np.exp(self.log_growth * (self.env.now / 365.0))).astype(np.int64)
        in_post = s.sum(axis=2) + self.first_year
        self.establishment = np.maximum(target, in_post) * self.exists
        vac = self.establishment - in_post
        # movers take open posts of the same role, in proportion to vacancies
        placed, moved = self._place_movers(mv, vac, k)
        flows["leavers"] += gone[..., 0] + gone[..., 1] - moved  # a mover who finds no post has left the sector
        flows["movers"] += moved
        flows["movers_in"] += placed
        flows["retirements"] += gone[..., 2]
        open_ = vac - placed
        self.succession.promote(open_, k)
        self._fill(open_, k)
        self.succession.intake(k)
        self._refresh()
        self._wake()

    def _fill(self, open_: np.ndarray, k: int) -> None:
        """BAU fills of the open posts, cell by cell: external hires from the candidate pool and
        promotions from the role below in the same group.

        External hires follow the matching function H = A U^alpha V^(1 - alpha) with the pool U
        fixed, calibrated so that H = h_ext V0 at the published vacancies V0 = v E: the hazard per
        open post is h_ext (V0 / V)^alpha (alpha = 0: today's fixed hazard). Promotions add h_int
        per open post (the staff below are the internal candidates, not the outside pool).
        """
        dt = self.step / 365.0
        # posts open before the step's fills: at the published level V0 that is V0 (1 + x0)
        v0 = self.v_pub * self.establishment * (1.0 + (self.h_ext + self.h_int) * dt)
        f = self.flows
        churn.fill(open_, self._ci, self._cg, self.h_ext, self.h_int, v0, self.pool_exponent, dt, self.hire_age,
                   self.promo_from, self.staff, self._keys, k, f["bau_hires"], f["promotions"], f["promoted_out"])

    def _place_movers(self, mv: np.ndarray, vac: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Assign movers `mv[r, g, a]` to open posts `vac[r, g]` of their role in their own sector,
        in proportion to open posts; returns the number placed in each cell and the number of each
        cell's movers who found a post. Each sector and role draws from its own stream.

        Movers beyond the open posts of their role and sector are not placed (they leave the sector).
        """
        placed, moved = np.zeros_like(vac), np.zeros_like(vac)
        if mv.any():
            churn.place_movers(self._go, vac, self._sector, self._mover_keys, k, self.staff, placed, moved)
        return placed, moved

    def _promote(self, c: Cell, want: int, key: np.uint64, k: int) -> int:
        """Move up to `want` staff of the role below (same group) into cell `c`, keeping their age band.

        Who moves up is drawn without replacement from the staff below (multivariate
        hypergeometric over age bands), from stream `key` at step `k`; returns how many moved.
        """
        return int(churn.promote(self.staff, int(self.promo_from[c[0]]), c[0], c[1], want, key, k,
                                 self.flows["promoted_out"]))


class Succession:
    """Succession programmes: participants from the role below, each completer filling one post above, once.

    Every step, each role's participants a year (a schedule: the baseline has none) join,
    shared among the employer groups that have the role and the one below in proportion to the
    role's establishment. Each completes with the programme's probability (drawn from the cell's
    own succession stream) and is ready `days_to_ready` later. A ready completer takes an open
    post of the role in their own group by promotion, before BAU recruitment fills it, and is then
    no longer ready; one not promoted within `ready_for_days` of being ready lapses. So the
    programme's extra promotions can never exceed its completers.
    """

    def __init__(self, wf: Workforce, schedule: Callable[[str], Piecewise]):
        self.wf = wf
        path = "region.workforce.roles.{}.succession.{}".format
        self.roles = [i for i, r in enumerate(wf.roles) if wf.promo_from[i] >= 0]
        self.places, self.completion, self.days_to_ready, self.ready_for = (
            {i: schedule(path(wf.roles[i], key)) for i in self.roles}
            for key in ("places_per_year", "completion", "days_to_ready", "ready_for_days"))
        self.roles = [i for i in self.roles if self.places[i].max() > 0]
        self.groups = {i: [g for g in range(len(wf.groups)) if wf.exists[i, g] and wf.exists[wf.promo_from[i], g]]
                       for i in self.roles}
        cells = [(i, g) for i in self.roles for g in self.groups[i]]
        self.keys = CellStreams(wf.generator, [f"succession.{wf.roles[i]}.{wf.groups[g]}" for i, g in cells]).keys
        self.stream = {c: n for n, c in enumerate(cells)}
        self.owed = {i: 0.0 for i in self.roles}  # participants a year accrue until a whole one joins
        self.pipeline: list[tuple[int, int, Cell, int]] = []  # (ready at step, lapses at step, cell, completers)
        self.ready: dict[Cell, list[list[int]]] = {}  # cell -> [lapses at step, completers ready], oldest first

    def intake(self, k: int) -> None:
        """Step `k`'s new participants and which of them will complete."""
        wf, t = self.wf, self.wf.env.now
        for i in self.roles:
            self.owed[i] += self.places[i].at(t) * wf.step / 365.0
            m = math.floor(self.owed[i])
            groups = self.groups[i]
            if m <= 0 or not groups:
                continue
            self.owed[i] -= m
            est = [float(wf.establishment[i, g]) for g in groups]
            ready_at = k + math.ceil(self.days_to_ready[i].at(t) / wf.step)
            lapse_at = ready_at + math.ceil(self.ready_for[i].at(t) / wf.step)
            for g, n in zip(groups, _apportion(m, [e / sum(est) for e in est])):
                if n:
                    u = churn.uniform(self.keys[self.stream[(i, g)]], k, churn.INTAKE)
                    done = churn.binomial(int(n), self.completion[i].at(t), u)
                    if done:
                        self.pipeline.append((ready_at, lapse_at, (i, g), done))

    def promote(self, open_: np.ndarray, k: int) -> None:
        """Completers ready at step `k` take open posts of their role (`open_` is reduced in place)."""
        if not self.pipeline and not self.ready:
            return
        wf, flows = self.wf, self.wf.flows
        for entry in [e for e in self.pipeline if e[0] <= k]:
            self.pipeline.remove(entry)
            _, lapse_at, c, n = entry
            self.ready.setdefault(c, []).append([lapse_at, n])
            flows["succession_completers"][c] += n
        for c, queue in list(self.ready.items()):
            while queue and queue[0][0] <= k:
                queue.pop(0)
            want = min(int(open_[c]), sum(n for _, n in queue))
            if want > 0:
                got = wf._promote(c, want, self.keys[self.stream[c]], k)
                open_[c] -= got
                flows["promotions"][c] += got
                flows["succession_promotions"][c] += got
                while got:
                    take = min(got, queue[0][1])
                    queue[0][1] -= take
                    got -= take
                    if not queue[0][1]:
                        queue.pop(0)
            if not queue:
                del self.ready[c]


def _internal_odds(wf: WorkforceConfig, role: str, group: str) -> float:
    """s / (1 - s) for a post's promotion share s (0 without a role below in its group): h_int = h_ext s / (1 - s)."""
    low = wf.roles[role].promoted_from
    if low is None or low not in wf.groups[group].posts:
        return 0.0
    s = min(wf.roles[role].internal_fill_share, MAX_PROMOTION_SHARE)
    return s / (1.0 - s)


@lru_cache(maxsize=4096)  # every replication of a region asks again for the same cells (a pure function)
def pool_correction(alpha: float, v0: float, h_ext: float, h_int: float) -> float:
    """Factor on the external fill hazard that keeps the mean open posts at `v0` under the matching function.

    With hires A V^(1 - alpha) and promotions h_int V closing posts, and posts opening at the
    baseline's rate lambda = (h_ext + h_int) v0, the open posts of a cell are a birth-death
    process whose stationary law is pi(j) ~ prod_{i <= j} lambda / (A i^(1 - alpha) + h_int i).
    Its mean falls as A grows; A is found (bisection on log A) so that the mean is v0, and
    returned as A / (h_ext v0^alpha). At alpha = 0 the law is Poisson with mean v0 and the factor
    is 1; for alpha > 0 it is above 1: the concave matching fills fewer posts when open posts
    fluctuate (Jensen), so a fixed A tuned at v0 alone would let vacancies drift up.
    """
    if alpha <= 0 or v0 <= 0 or h_ext <= 0:
        return 1.0
    lam = (h_ext + h_int) * v0
    j = np.arange(1, int(v0 + 12 * math.sqrt(v0) + 30), dtype=float)

    def mean(a: float) -> float:
        logp = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(a * j ** (1 - alpha) + h_int * j))])
        w = np.exp(logp - logp.max())
        return float(np.dot(np.arange(len(w)), w) / w.sum())

    a0 = h_ext * v0 ** alpha
    lo, hi = math.log(a0) - 3.0, math.log(a0) + 3.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mean(math.exp(mid)) > v0 else (lo, mid)
    return math.exp(0.5 * (lo + hi)) / a0


def _apportion(n: int, shares: list[float]) -> np.ndarray:
    """Split `n` into integer parts proportional to `shares` (largest remainder; ties to the first)."""
    return churn.apportion(n, np.asarray(shares, float))
