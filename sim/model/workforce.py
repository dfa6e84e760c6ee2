"""The demand side: posts, staff, vacancies, and the churn that opens and closes them.

Staff are counted, not simulated one by one: `staff[r, g, a]` is the number of staff in role
`r`, employer group `g`, age band `a`. Every `step` days a vectorised update draws, in one
multinomial per cell and band, leavers out of the sector, movers to another employer in the
sector and retirements (by age band), then ageing by binomial thinning; then
business-as-usual (BAU) fills of open posts, a share of which are promotions from the role
below (which opens a post there; who is promoted is drawn without replacement). Programme
starters are added one at a time by the pathway as they start (`start`), spend their first
year counted in `first_year`, then join `staff` (`settle`) or leave (`leave`). Every flow in
or out of a cell is also counted in `flows` (a ledger kept apart from the state, which the
tests check against it).

The labour market is part of the region, not of an option. `calibrate` derives BAU
recruitment once, from the region's baseline (the region file, no programme), and every
option of that region runs with it unchanged: an option that lowers turnover, adds posts,
promotes more or fills posts from the programme moves vacancies through the same fixed BAU
mechanics (an open post is filled externally at the fixed hazard `external_fill_rate`).

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
from typing import Callable

import numpy as np
import simpy

from ..config import AGE_BAND_YEARS, AGE_BANDS, Bau, Workforce as WorkforceConfig
from ..kpis import FLOW_KPIS
from ..schedule import Piecewise
from .capacity import Patience, Request

Cell = tuple[int, int]  # (role index, group index)
FLOWS = ("exits", "ageing", "placement", "fills", "promotions", "hire_ages")
MAX_PROMOTION_SHARE = 0.95  # at 1 every fill would be a promotion and the fill hazard infinite


class FlowStreams:
    """One random stream per flow of the churn, each restarted at a fixed position every step.

    Two scenarios that share a seed then draw step k of each flow from the same place, however
    many draws earlier steps took: a programme hire changes a count by one, and the scenarios'
    staffing paths stay paired (common random numbers) instead of drifting apart.
    """

    STRIDE = 1 << 40  # draws reserved per step and flow

    def __init__(self, generator: Callable[[str], np.random.Generator], names: tuple[str, ...]):
        self._gens = {n: generator(f"workforce.{n}") for n in names}
        self._start = {n: g.bit_generator.state for n, g in self._gens.items()}
        for n, g in self._gens.items():
            setattr(self, n, g)

    def restart(self, step: int) -> None:
        for n, g in self._gens.items():
            bg = g.bit_generator
            bg.state = self._start[n]
            bg.advance(step * self.STRIDE)


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
        m = np.asarray(posts[low].age_profile, float) if s > 0 else np.zeros(len(AGE_BANDS))
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
        self.rng = FlowStreams(generator, FLOWS)
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
                self.retire[i, gi] = cal.retirement_rate
                self.rho[i, gi] = float(np.dot(cal.retirement_rate, post.age_profile))
                self.hire_age[i, gi] = cal.hire_age_profile
                self.turnover[(i, gi)] = schedule(f"region.workforce.groups.{g}.posts.{r}.turnover")
                e_start = e * math.exp(math.log1p(post.growth_per_year) * t0 / 365.0)
                self.staff[i, gi] = _apportion(int(round(e_start * (1 - v))), post.age_profile)
        self.log_growth = np.log1p(growth)
        self.p_age = np.array([step / (365.0 * y) if math.isfinite(y) else 0.0 for y in AGE_BAND_YEARS])
        self.promo_from = np.array([ri[wf.roles[r].promoted_from] if wf.roles[r].promoted_from else -1
                                    for r in self.roles])
        self.promotion = [schedule(f"region.workforce.roles.{r}.internal_fill_share") for r in self.roles]
        times = {t for pw in [*self.turnover.values(), *self.promotion] for t in pw.times if t > t0}
        self._changes = sorted(times) + [math.inf]  # when the rates must be worked out again
        self._rates(t0)
        self.first_year = np.zeros((R, G), np.int64)
        self.establishment = np.rint(self.est0 * np.exp(self.log_growth * t0 / 365.0)).astype(np.int64) * self.exists
        # vacancy-days since the statistics were last reset, and establishment-days
        self.vacancy_days = np.zeros((R, G))
        self.post_days = np.zeros((R, G))
        self._t_area = env.now
        self.flows = {k: np.zeros((R, G), np.int64) for k in FLOW_KPIS}
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
        # leave the sector, move to another employer, retire, stay: the three hazards taken in turn
        shape = (R, G, A)
        out_ = np.broadcast_to(p_out, shape)
        move_ = np.broadcast_to((1 - p_out) * p_move, shape)
        retire_ = (1 - p_out) * (1 - p_move) * p_retire
        self.p_exits = np.stack([out_, move_, retire_, np.clip(1 - out_ - move_ - retire_, 0.0, 1.0)], axis=-1)
        share = np.array([min(pw.at(t), MAX_PROMOTION_SHARE) if self.promo_from[i] >= 0 else 0.0
                          for i, pw in enumerate(self.promotion)])
        self.promo_share = share
        fill = self.h_ext / (1.0 - share)[:, None]  # external hazard fixed; promotions add h_ext s / (1 - s)
        x = fill * step / 365.0
        self.p_fill = x / (1.0 + x)  # discrete-time balance: opens O = x V per step, fills p (V + O) = O
        self.ladder_up = np.array([i for i in range(R) if self.promo_from[i] >= 0 and share[i] > 0], int)

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
            self._t_area = now

    def _shift(self, cell: Cell, change: int) -> None:
        """Vacancies in `cell` change by `change` now: the next `_accumulate` counts the new number
        from its last call, so take off what it will over-count for the time before now."""
        self.vacancy_days[cell] -= change * (self.env.now - self._t_area)

    def reset_stats(self) -> None:
        self._accumulate()
        self.vacancy_days[:] = 0
        self.post_days[:] = 0
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
        """Step `k`: exits and ageing, establishment growth, movers placed, then BAU fills and promotions."""
        rng, flows = self.rng, self.flows
        rng.restart(k)
        self._accumulate()
        if self.env.now >= self._changes[0]:
            while self.env.now >= self._changes[0]:
                self._changes.pop(0)
            self._rates(self.env.now)
        s = self.staff
        go = rng.exits.multinomial(s, self.p_exits)  # (R, G, A, 4): leave the sector, move, retire, stay
        s[...] = go[..., 3]
        up = rng.ageing.binomial(s[:, :, :-1], self.p_age[:-1])
        s[:, :, :-1] -= up
        s[:, :, 1:] += up
        # establishment follows growth; posts are cut only when vacant
        target = np.rint(self.est0 * np.exp(self.log_growth * (self.env.now / 365.0))).astype(np.int64)
        in_post = s.sum(axis=2) + self.first_year
        self.establishment = np.maximum(target, in_post) * self.exists
        vac = self.establishment - in_post
        # movers take open posts of the same role, in proportion to vacancies
        placed, moved = self._place_movers(go[..., 1], vac)
        gone = go.sum(axis=2)  # (R, G, 4)
        flows["leavers"] += gone[..., 0] + gone[..., 1] - moved  # a mover who finds no post has left the sector
        flows["movers"] += moved
        flows["movers_in"] += placed
        flows["retirements"] += gone[..., 2]
        # BAU fills, some of them promotions from the role below in the same group
        fills = rng.fills.binomial(vac - placed, self.p_fill)
        promo = self._promote(fills)
        ext = fills - promo
        s += rng.hire_ages.multinomial(ext, self.hire_age)
        flows["bau_hires"] += ext
        flows["promotions"] += promo
        self._refresh()
        self._wake()

    def _place_movers(self, mv: np.ndarray, vac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Assign movers `mv[r, g, a]` to open posts `vac[r, g]` of their role in their own sector,
        in proportion to open posts; returns the number placed in each cell and the number of each
        cell's movers who found a post.

        Movers beyond the open posts of their role and sector are not placed (they leave the sector).
        """
        placed_all = np.zeros_like(vac)
        moved_all = np.zeros_like(vac)
        if not mv.any():
            return placed_all, moved_all
        sectors = np.array(self.group_sector)
        for sector in dict.fromkeys(self.group_sector):
            cols = np.nonzero(sectors == sector)[0]
            m = mv[:, cols]  # (R, Gs, A)
            v = vac[:, cols]
            movers = m.sum(axis=1)  # (R, A)
            total = v.sum(axis=1)  # (R,)
            has = total > 0
            if not (movers.any() and has.any()):
                continue
            movers = movers * has[:, None]
            w = v / np.where(has, total, 1)[:, None]
            w[~has, 0] = 1.0  # no open post in the role: weights are unused, but must sum to 1
            placed = np.moveaxis(self.rng.placement.multinomial(movers, w[:, None, :]), 2, 1)  # (R, Gs, A)
            n = placed.sum(axis=2)
            over = np.maximum(n - v, 0)
            if over.any():
                for r, g in zip(*np.nonzero(over)):
                    placed[r, g] -= _trim(placed[r, g][None, :], over[r, g][None])[0]
                n = placed.sum(axis=2)
            self.staff[:, cols] += placed
            placed_all[:, cols] = n
            # which cells' movers found a post: the placed share of each role's movers, apportioned by cell
            found = n.sum(axis=1)  # (R,)
            out_by_cell = m.sum(axis=2)  # (R, Gs)
            for r in np.nonzero(found)[0]:
                moved_all[r, cols] = _apportion(int(found[r]), out_by_cell[r] / out_by_cell[r].sum())
        return placed_all, moved_all

    def _promote(self, fills: np.ndarray) -> np.ndarray:
        """Promotions among `fills`: staff of the role below (same group) move up, keeping their age band.

        Who moves up is drawn without replacement from the staff below (multivariate hypergeometric
        over age bands), one cell at a time: in a step only a few cells promote anyone.
        """
        promo = np.zeros_like(fills)
        up = self.ladder_up
        if not len(up):
            return promo
        rng = self.rng.promotions
        want = rng.binomial(fills[up], self.promo_share[up][:, None])  # (L, G)
        staff, low = self.staff, self.promo_from[up]
        for i, g in zip(*np.nonzero(want)):
            below = staff[low[i], g]  # a view: the pool as it is now (two ladders may share it)
            n = min(int(want[i, g]), int(below.sum()))
            if n:
                take = rng.multivariate_hypergeometric(below, n)
                below -= take
                staff[up[i], g] += take
                promo[up[i], g] = n
                self.flows["promoted_out"][low[i], g] += n
        return promo


def _apportion(n: int, shares: list[float]) -> np.ndarray:
    """Split `n` into integer parts proportional to `shares` (largest remainder; ties to the first).

    Plain Python: the churn step calls it for a handful of cells at a time, where numpy's per-call
    overhead is most of the cost."""
    raw = [float(x) * n for x in shares]
    base = [math.floor(x) for x in raw]
    rest = n - sum(base)
    order = sorted(range(len(raw)), key=lambda i: base[i] - raw[i])  # largest remainder first, stable
    for i in order[:rest]:
        base[i] += 1
    return np.array(base, np.int64)


def _trim(n: np.ndarray, over: np.ndarray) -> np.ndarray:
    """How much to take off each band of `n` (rows), oldest first, so each row sum drops by `over`."""
    cut = np.zeros_like(n)
    for r in np.nonzero(over)[0]:
        need = over[r]
        for a in range(n.shape[1] - 1, -1, -1):
            c = min(need, n[r, a])
            cut[r, a] = c
            need -= c
            if not need:
                break
    return cut
