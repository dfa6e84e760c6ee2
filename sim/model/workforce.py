"""The demand side: posts, staff, vacancies, and the churn that opens and closes them.

Staff are counted, not simulated one by one: `staff[r, g, a]` is the number of staff in role
`r`, employer group `g`, age band `a`. Every `step` days a vectorised update draws, in one
multinomial per cell and band, leavers out of the sector, movers to another employer in the
sector and retirements (by age band), then ageing by binomial thinning; then
business-as-usual (BAU) fills of open posts, a share of which are promotions from the role
below (which opens a post there; who is promoted is drawn without replacement). Programme
starters are added one at a time by the pathway as they start (`start`), spend their first
year counted in `first_year`, then join `staff` (`settle`) or leave (`leave`).

Identity kept at every instant: establishment = staff in post + vacancies, where staff in
post = staff + first_year. Posts are removed only when vacant (negative growth).

Turnover is the published rate: all leavers per staff per year, retirements included. The
model splits it into retirements (hazard by age band) and other leaving at the rest,
lambda = turnover - rho, where rho is the retirement rate of the post's initial age profile;
a share of the other leavers move to another employer in the sector (lambda_move), the
others leave the sector (lambda_out).

Calibration of BAU hiring (no programme, steady state at the published vacancy rate v):
a cell with establishment E has S = (1 - v) E staff and V = v E vacancies. Posts open at
S (lambda_out + rho) + P_out + g E per year (leavers out of the sector, retirements,
promotions out of the cell to the role above, growth at the continuous rate g = ln(1 + growth
per year)); BAU fills close them at h V. Setting the two equal gives the fill hazard
    h = ((1 - v)(lambda_out + rho) + P_out / E + g) / v,
computed from the top of each career ladder down, since P_out of a role is the promotion
flow into the role above, s_up h_up V_up. Within-sector moves open a post in one cell and
fill one in another of the same role, so they cancel in the balance. In a step of dt days
the posts opened, O = x V with x = h dt / 365, join the open ones before fills are drawn,
so the fill probability that holds V steady is p = O / (V + O) = x / (1 + x).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import simpy

from ..config import AGE_BAND_YEARS, AGE_BANDS, Workforce as WorkforceConfig
from .capacity import Patience, Request

Cell = tuple[int, int]  # (role index, group index)
FLOWS = ("exits", "ageing", "placement", "fills", "promotions", "hire_ages")


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


def retirement_rate(age_profile: list[float], by_band: list[float]) -> float:
    """Mean annual retirement hazard of staff with this age profile."""
    return float(np.dot(age_profile, by_band))


def other_leaving(turnover: float, rho: float) -> float:
    """Annual hazard of leaving for reasons other than retirement (published turnover less retirements)."""
    return max(0.0, turnover - rho)


def calibrated_fill_rate(wf: WorkforceConfig) -> dict[tuple[str, str], float]:
    """BAU fill hazard per (role, group), per year, from the steady-state balance above."""
    rho = {
        (g, r): retirement_rate(post.age_profile, wf.retirement_rate)
        for g, grp in wf.groups.items() for r, post in grp.posts.items()
    }
    above = {role.promoted_from: name for name, role in wf.roles.items() if role.promoted_from}
    h: dict[tuple[str, str], float] = {}

    def rate(r: str, g: str) -> float:
        if (r, g) in h:
            return h[(r, g)]
        post = wf.groups[g].posts[r]
        e, v = size(wf, g, r)
        lam_out = other_leaving(post.turnover, rho[(g, r)]) * (1.0 - post.within_sector_share)
        p_out = 0.0
        up = above.get(r)
        if up is not None and up in wf.groups[g].posts:
            e_up, v_up = size(wf, g, up)
            p_out = wf.roles[up].internal_fill_share * rate(up, g) * v_up * e_up
        if v <= 0 or e <= 0:
            h[(r, g)] = 365.0  # no vacancies to hold: fill at once (within days)
        else:
            # shrinking establishments can need no fills at all: the hazard cannot go below zero
            growth = math.log1p(post.growth_per_year)  # posts grow as (1 + g)^t: a continuous rate of ln(1 + g)
            h[(r, g)] = max(0.0, ((1.0 - v) * (lam_out + rho[(g, r)]) + p_out / e + growth) / v)
        return h[(r, g)]

    for g, grp in wf.groups.items():
        for r in grp.posts:
            rate(r, g)
    return h


class Workforce(Patience):
    """Posts and staff of every employer group and role, and the daily churn."""

    def __init__(self, env: simpy.Environment, wf: WorkforceConfig, generator: Callable[[str], np.random.Generator],
                 step: float):
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
        lam_out = np.zeros((R, G))
        lam_move = np.zeros((R, G))
        fill = np.zeros((R, G))
        self.staff = np.zeros((R, G, A), np.int64)
        h = calibrated_fill_rate(wf)
        for gi, g in enumerate(self.groups):
            for r, post in wf.groups[g].posts.items():
                i = ri[r]
                self.exists[i, gi] = True
                e, v = size(wf, g, r)
                self.est0[i, gi] = e
                growth[i, gi] = post.growth_per_year
                lam = other_leaving(post.turnover, retirement_rate(post.age_profile, wf.retirement_rate))
                lam_out[i, gi] = lam * (1 - post.within_sector_share)
                lam_move[i, gi] = lam * post.within_sector_share
                fill[i, gi] = h[(r, g)]
                n_staff = int(round(e * (1 - v)))
                self.staff[i, gi] = _apportion(n_staff, post.age_profile)
        self.log_growth = np.log1p(growth)
        p_out, p_move = _p(lam_out, step)[:, :, None], _p(lam_move, step)[:, :, None]
        p_retire = _p(np.asarray(wf.retirement_rate, float), step)[None, None, :]
        # leave the sector, move to another employer, retire, stay: the three hazards taken in turn
        shape = (R, G, A)
        out_ = np.broadcast_to(p_out, shape)
        move_ = np.broadcast_to((1 - p_out) * p_move, shape)
        retire_ = np.broadcast_to((1 - p_out) * (1 - p_move) * p_retire, shape)
        self.p_exits = np.stack([out_, move_, retire_, np.clip(1 - out_ - move_ - retire_, 0.0, 1.0)], axis=-1)
        x = fill * step / 365.0
        self.p_fill = x / (1.0 + x)  # discrete-time balance: opens O = x V per step, fills p (V + O) = O
        self.p_age = np.array([step / (365.0 * y) if math.isfinite(y) else 0.0 for y in AGE_BAND_YEARS])
        self.hire_age = np.asarray(wf.bau_hire_age_profile, float)
        self.promo_from = np.array([ri[wf.roles[r].promoted_from] if wf.roles[r].promoted_from else -1
                                    for r in self.roles])
        self.promo_share = np.array([wf.roles[r].internal_fill_share for r in self.roles])
        self.ladder_up = np.array([i for i in range(R) if self.promo_from[i] >= 0 and self.promo_share[i] > 0], int)
        self.first_year = np.zeros((R, G), np.int64)
        self.establishment = self.est0.round().astype(np.int64)
        # vacancy-days since the statistics were last reset, and establishment-days
        self.vacancy_days = np.zeros((R, G))
        self.post_days = np.zeros((R, G))
        self._t_area = env.now
        self.flows = {k: np.zeros((R, G)) for k in ("leavers", "movers", "retirements", "bau_hires", "promotions")}
        self._waiting: dict[Cell, list[Request]] = {}  # residents waiting for a post, by the cells they would take
        self._refresh()
        self.samples: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []
        env.process(self._churn())

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
            req.succeed(False)

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
                        req.succeed(True)
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
        placed = self._place_movers(go[..., 1], vac)
        gone = go.sum(axis=2)  # (R, G, 4)
        flows["leavers"] += gone[..., 0] + gone[..., 1] - placed
        flows["movers"] += gone[..., 1]
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

    def _place_movers(self, mv: np.ndarray, vac: np.ndarray) -> np.ndarray:
        """Assign movers `mv[r, g, a]` to cells of their role, weighted by open posts `vac[r, g]`;
        returns the number placed in each cell.

        Movers beyond the open posts of a cell are not placed (they leave the sector).
        """
        movers = mv.sum(axis=1)  # (R, A)
        total = vac.sum(axis=1)  # (R,)
        has = total > 0
        if not (movers.any() and has.any()):
            return np.zeros_like(vac)
        movers *= has[:, None]
        w = vac / np.where(has, total, 1)[:, None]
        w[~has, 0] = 1.0  # no open post in the role: weights are unused, but must sum to 1
        placed = np.moveaxis(self.rng.placement.multinomial(movers, w[:, None, :]), 2, 1)  # (R, G, A)
        n = placed.sum(axis=2)
        over = np.maximum(n - vac, 0)
        if over.any():
            for r, g in zip(*np.nonzero(over)):
                placed[r, g] -= _trim(placed[r, g][None, :], over[r, g][None])[0]
            n = placed.sum(axis=2)
        self.staff += placed
        return n

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
        return promo


def _apportion(n: int, shares: list[float]) -> np.ndarray:
    """Split `n` into integer parts proportional to `shares` (largest remainder)."""
    raw = np.asarray(shares, float) * n
    base = np.floor(raw).astype(np.int64)
    rest = n - base.sum()
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:rest]] += 1
    return base


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
