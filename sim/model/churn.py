"""The arithmetic of a workforce churn step, compiled (numba), and the counter-based draws it makes.

Every random number of the demand side is one uniform addressed by (stream key, step, slot): a
SplitMix64 hash of the stream's 64-bit key and a counter, so a draw depends on nothing but its
address. A stream is a cell (a role in an employer group), a sector's movers of one role, or a
cell's succession programme (`sim.model.workforce`); each draw of a step has a fixed slot in its
stream, so a change confined to one cell leaves every other cell's draws identical, and a count
that changes by one moves only the draws that use it (common random numbers).

Each binomial takes one uniform and inverts its distribution function (exact to rounding, and
monotone in the uniform, which keeps two paths that differ by one count close): from zero when
the mean is small (almost every churn draw: a few per cent of a cell a week), else from the mode
outwards, so the cost grows with the standard deviation, not with n. A multinomial is a chain of
conditional binomials, a multivariate hypergeometric a chain of hypergeometrics, one uniform each.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (the golden ratio in 64 bits)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2^-53: 53 random bits to a float in [0, 1)
_SMALL_MEAN = 30.0  # below it a binomial is inverted from zero; above, from its mode

# slots of a cell's stream in one step (each cell draws at most these per step)
CHURN = 0  # band a's conditional binomials at CHURN + 4a .. CHURN + 4a + 3
FILL = 64  # open posts filled; then the promotions among them; then the external hires' age bands
PROMOTE = 96  # who is promoted from the role below, band by band (a succession stream uses it too)
INTAKE = 0  # a succession stream's completers of the step's new participants


@njit(cache=True)
def _mix(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser: a bijection of 64-bit words that scatters every input bit."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def uniform(key: np.uint64, step: int, slot: int) -> float:
    """The uniform in [0, 1) at (`key`, `step`, `slot`): SplitMix64 at counter (step, slot) of the stream `key`."""
    counter = (np.uint64(step) << np.uint64(20)) | np.uint64(slot)
    z = _mix(_mix(key + (counter + np.uint64(1)) * _GAMMA) ^ key)
    return float(z >> np.uint64(11)) * _TO_UNIT


@njit(cache=True)
def binomial(n: int, p: float, u: float) -> int:
    """The `u`-quantile of Binomial(`n`, `p`): the least k with P(X <= k) > u (inversion, one uniform)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5  # draw the smaller side: n - X(1 - p) at 1 - u is the same quantile
    if flip:
        p, u = 1.0 - p, 1.0 - u
    q = 1.0 - p
    if n * p < _SMALL_MEAN:  # from zero: q^n does not underflow here
        f = q ** n
        c, k, r = f, 0, p / q
        while u >= c and k < n:
            f *= r * (n - k) / (k + 1)
            k += 1
            c += f
    else:  # from the mode: P(X <= mode) summed downwards until the terms vanish, then walk towards u
        m = int((n + 1) * p)
        if m > n:
            m = n
        fm = math.exp(math.lgamma(n + 1.0) - math.lgamma(m + 1.0) - math.lgamma(n - m + 1.0)
                      + m * math.log(p) + (n - m) * math.log(q))
        cm, f, j = fm, fm, m
        while j > 0:
            f *= j * q / ((n - j + 1) * p)
            j -= 1
            cm += f
            if f < cm * 1e-17:
                break
        k, c, f = m, cm, fm
        if u < cm:
            while k > 0 and c - f > u:
                c -= f
                f *= k * q / ((n - k + 1) * p)
                k -= 1
        else:
            while u >= c and k < n:
                f *= (n - k) * p / ((k + 1) * q)
                k += 1
                c += f
    return n - k if flip else k


@njit(cache=True)
def hypergeometric(n: int, good: int, total: int, u: float) -> int:
    """The `u`-quantile of the number of `good` items among `n` drawn without replacement from `total`."""
    bad = total - good
    lo, hi = max(0, n - bad), min(n, good)
    if lo >= hi:
        return lo
    k = lo
    f = math.exp(math.lgamma(good + 1.0) - math.lgamma(k + 1.0) - math.lgamma(good - k + 1.0)
                 + math.lgamma(bad + 1.0) - math.lgamma(n - k + 1.0) - math.lgamma(bad - n + k + 1.0)
                 - math.lgamma(total + 1.0) + math.lgamma(n + 1.0) + math.lgamma(total - n + 1.0))
    c = f
    while u >= c and k < hi:
        f *= (good - k) * (n - k) / ((k + 1.0) * (bad - n + k + 1.0))
        k += 1
        c += f
    return k


@njit(cache=True)
def multinomial(n: int, p: np.ndarray, key: np.uint64, step: int, slot: int, out: np.ndarray) -> None:
    """Add Multinomial(`n`, `p`) to `out`: conditional binomials, category j from slot `slot + j`, the last the rest."""
    rest, mass = n, 1.0
    last = len(p) - 1
    for j in range(last):
        if rest == 0:
            return
        if p[j] > 0.0:
            x = binomial(rest, p[j] / mass if p[j] < mass else 1.0, uniform(key, step, slot + j))
            out[j] += x
            rest -= x
        mass -= p[j]
    out[last] += rest


@njit(cache=True)
def churn(staff: np.ndarray, ci: np.ndarray, cg: np.ndarray, p: np.ndarray, keys: np.ndarray, step: int,
          go: np.ndarray) -> None:
    """Each cell's staff by band split into leave the sector, move, retire, age a band, stay (`go[r, g, a]`).

    `p[n, a]` are the five probabilities of cell n = (`ci[n]`, `cg[n]`) in band a."""
    for n in range(len(ci)):
        r, g = ci[n], cg[n]
        for a in range(staff.shape[2]):
            go[r, g, a, :] = 0
            multinomial(staff[r, g, a], p[n, a], keys[n], step, CHURN + 4 * a, go[r, g, a])


@njit(cache=True)
def promote(staff: np.ndarray, low: int, r: int, g: int, want: int, key: np.uint64, step: int,
            promoted_out: np.ndarray) -> int:
    """Move up to `want` staff of role `low` into role `r` of group `g`, keeping their age band; how many moved.

    Who moves is drawn without replacement from the staff below (multivariate hypergeometric over bands)."""
    below = staff[low, g]
    left = below.sum()
    n = min(want, left)
    take = n
    for a in range(len(below)):
        if take == 0:
            break
        x = take if a == len(below) - 1 else hypergeometric(take, below[a], left, uniform(key, step, PROMOTE + a))
        left -= below[a]
        below[a] -= x
        staff[r, g, a] += x
        take -= x
    promoted_out[low, g] += n
    return n


@njit(cache=True)
def fill(open_: np.ndarray, ci: np.ndarray, cg: np.ndarray, h_ext: np.ndarray, h_int: np.ndarray,
         v0: np.ndarray, alpha: float, dt: float, hire_age: np.ndarray, promo_from: np.ndarray, staff: np.ndarray,
         keys: np.ndarray, step: int, bau_hires: np.ndarray, promotions: np.ndarray,
         promoted_out: np.ndarray) -> None:
    """BAU fills of the open posts, cell by cell in order (`Workforce._fill` says what and why).

    `v0` is each cell's open posts at the published level before the step's fills."""
    for n in range(len(ci)):
        r, g = ci[n], cg[n]
        v = open_[r, g]
        if v <= 0:
            continue
        he, hi = h_ext[r, g], h_int[r, g]
        if alpha != 0.0 and v0[r, g] > 0:
            he *= (v0[r, g] / v) ** alpha
        x = (he + hi) * dt
        if x <= 0:
            continue
        key = keys[n]
        fills = binomial(v, x / (1.0 + x), uniform(key, step, FILL))
        if fills == 0:
            continue
        promo = 0
        if hi > 0:
            want = binomial(fills, hi / (he + hi), uniform(key, step, FILL + 1))
            promo = promote(staff, promo_from[r], r, g, want, key, step, promoted_out)
        ext = fills - promo
        multinomial(ext, hire_age[r, g], key, step, FILL + 2, staff[r, g])
        bau_hires[r, g] += ext
        promotions[r, g] += promo


@njit(cache=True)
def apportion(n: int, shares: np.ndarray) -> np.ndarray:
    """Split `n` into integer parts proportional to `shares` (largest remainder; ties to the first)."""
    raw = shares * n
    base = np.floor(raw)
    rest = n - int(base.sum())
    order = np.argsort(base - raw, kind="mergesort")  # largest remainder first, stable
    out = base.astype(np.int64)
    for i in order[:rest]:
        out[i] += 1
    return out


@njit(cache=True)
def place_movers(go: np.ndarray, vac: np.ndarray, sector: np.ndarray, keys: np.ndarray, step: int,
                 staff: np.ndarray, placed_all: np.ndarray, moved_all: np.ndarray) -> None:
    """Movers `go[r, g, a, 1]` placed in open posts `vac[r, g]` of their role in their own sector, in proportion
    to open posts; `placed_all` gets the number placed in each cell, `moved_all` the number of each cell's movers
    who found a post (the placed apportioned by cell). Sector s and role r draw from stream `keys[s R + r]`.

    Movers beyond the open posts of their role and sector are not placed (they leave the sector); where a cell
    gets more than its open posts, its oldest placed are taken off."""
    R, A = staff.shape[0], staff.shape[2]
    for s in range(sector.max() + 1):
        cols = np.nonzero(sector == s)[0]
        for r in range(R):
            by_cell = go[r, cols, :, 1].sum(axis=1)
            v = vac[r, cols]
            total = v.sum()
            if by_cell.sum() == 0 or total == 0:
                continue
            p = v / total
            placed = np.zeros((A, len(cols)), np.int64)
            for a in range(A):
                x = go[r, cols, a, 1].sum()
                if x:
                    multinomial(x, p, keys[s * R + r], step, a * len(cols), placed[a])
            for j in range(len(cols)):
                over = placed[:, j].sum() - v[j]
                for a in range(A - 1, -1, -1):
                    if over <= 0:
                        break
                    cut = min(over, placed[a, j])
                    placed[a, j] -= cut
                    over -= cut
                staff[r, cols[j]] += placed[:, j]
                placed_all[r, cols[j]] = placed[:, j].sum()
            moved = apportion(placed.sum(), by_cell / by_cell.sum())
            for j in range(len(cols)):
                moved_all[r, cols[j]] = moved[j]
