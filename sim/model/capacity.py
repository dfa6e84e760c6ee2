"""Capacities: pools of places (adviser caseload, childcare, course seats, interview slots).

A `Capacity` is a SimPy resource built on plain SimPy events, with three things the stock
`simpy.Resource` lacks:

- its size follows a schedule (a step function of time) and may be zero;
- reneging is lazy and O(1): a request whose holder gave up is flagged and skipped when it
  reaches the head of the queue, instead of being removed by a linear scan;
- some of its places may be tagged as an intervention's own (`shares`): a granted request takes a
  tagged place while one is free, and `share_of` says whose place it holds;
- it keeps its own time-weighted statistics (busy places, queue length, size) and waits, so
  utilisation and mean queue can be read off without a trace. A time integral of a count n(t)
  is kept as one running sum: subtract `now` when n rises by one, add it when n falls, and
  add n x T at the end (no clock to advance on every change).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import cast

import simpy

from sim.model.clock import Claim
from sim.params.schedule import Piecewise

_INF = float("inf")


class Request(Claim):
    """A claim on one place, SimPy-style: always an event, True when granted, False if the holder gave up.

    Use it as SimPy's own requests, `with cap.request(patience) as req: ok = yield req`: leaving
    the block, however (an exception, an interrupt), gives the place back, or withdraws the request
    if it is still waiting, so a place can never leak. `release` does the same by hand. Its fields
    (`owner`, `t_request`, `abandoned`, `holding`) are `Claim`'s. A place granted at once is held
    already: `ok = req.holding or (yield req)` skips the yield (and the wait for the request's own
    event, processed at the same instant).
    """

    __slots__ = ()

    def release(self) -> None:
        """Give the place back if held, or withdraw the request if still waiting (idempotent)."""
        self.owner.free(self)

    def __enter__(self) -> Request:
        return self

    def __exit__(self, *exc: object) -> None:
        self.owner.free(self)


class WaitStats:
    """Streaming summary of waits: count, sum, zeros, and 1-day bins for percentiles (bounded memory)."""

    __slots__ = ("n", "total", "zeros", "bins")

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.zeros = 0
        self.bins: dict[int, int] = {}

    def add(self, w: float) -> None:
        self.n += 1
        if w <= 0.0:
            self.zeros += 1
            return
        self.total += w
        b = int(w)
        self.bins[b] = self.bins.get(b, 0) + 1

    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    def quantile(self, q: float) -> float:
        """Quantile `q` of the waits, to the upper edge of its 1-day bin (0 if it falls on no wait)."""
        need = q * self.n
        if need <= self.zeros:
            return 0.0
        seen = self.zeros
        for b in sorted(self.bins):
            seen += self.bins[b]
            if seen >= need:
                return float(b + 1)
        return float(max(self.bins) + 1)


class Patience:
    """Giving up on a request after a time, through the class's own `abandon` (a waitlist, the vacancy board)."""

    env: simpy.Environment

    def abandon(self, req: Request) -> None:
        raise NotImplementedError

    def patience_timer(self, req: Request, patience: float) -> Request:
        """Abandon pending `req` after `patience` days unless granted first (no timer if patience is infinite;
        a request granted first drops its timer, see `Claim.settle`)."""
        req.expire_after(patience, self._patience_ran_out)
        return req

    def free(self, req: Request) -> None:
        """The holder of `req` is done with it: withdraw it if still waiting (a place is not held here)."""
        self.abandon(req)

    def _patience_ran_out(self, timer: simpy.Event) -> None:
        self.abandon(cast(Request, timer.value))  # the timer's value is its request


class Waitlist(Patience):
    """A FIFO queue of requests with lazy reneging, shared by `Capacity` and `Cohorts`.

    `wait_acc` is the running sum behind the time-average number waiting (see the module doc).
    """

    def _init_waitlist(self, env: simpy.Environment, name: str) -> None:
        self.env = env
        self.name = name
        self.queue: deque[Request] = deque()
        self.waiting = 0  # live (not abandoned) requests in the queue
        self.granted = 0
        self.reneged = 0
        self.waits = WaitStats()
        self.wait_acc = 0.0
        self.t0 = env.now

    def _enqueue(self, patience: float) -> Request:
        req = Request(self)
        self.queue.append(req)
        self.waiting += 1
        self.wait_acc -= req.t_request
        return self.patience_timer(req, patience)

    def _served(self, req: Request, now: float) -> None:
        """A live request leaves the queue with a place."""
        self.waiting -= 1
        self.wait_acc += now
        self.granted += 1
        self.waits.add(now - req.t_request)
        req.settle(True)

    def abandon(self, req: Request) -> None:
        """The holder of a queued request gives up (reneges). O(1): the request is skipped later."""
        if req.triggered:
            return
        req.abandoned = True
        self.waiting -= 1
        self.wait_acc += self.env.now
        self.reneged += 1
        req.settle(False)

    def _reset_waitlist(self) -> None:
        now = self.env.now
        self.t0 = now
        self.wait_acc = -self.waiting * now
        self.granted = self.reneged = 0
        self.waits = WaitStats()

    def mean_queue(self, until: float) -> float:
        return (self.wait_acc + self.waiting * until) / ((until - self.t0) or 1.0)


class Capacity(Waitlist):
    """A pool of places with a FIFO queue, a size schedule and lazy reneging.

    `shares` are tagged parts of `size` over time (an intervention's own places, counted in `size`): one
    queue serves them all, and a place granted while a tagged one is free is a tagged one (the first share
    with room), so the intervention's places are in use whenever there is anyone to use them.
    """

    def __init__(self, env: simpy.Environment, name: str, size: Piecewise, shares: Sequence[Piecewise] = ()):
        self._init_waitlist(env, name)
        self.schedule = size
        self.size = max(0.0, size.at(env.now))
        self.users = 0
        self.users_acc = 0.0  # running sum behind the time-average number of places in use
        self.shares = list(shares)
        self.share_users = [0] * len(self.shares)
        self._share: dict[Request, int] = {}  # holders of a tagged place -> its share
        if size.const is None:
            env.process(self._follow(size))

    # --- the resource
    def request(self, patience: float = _INF) -> Request:
        """Ask for a place, giving up after `patience` days: an event that is True when a place is
        granted (at once, held already, if one is free), or False on giving up."""
        if self.users < self.size and not self.waiting:
            self.users += 1
            self.users_acc -= self.env.now
            self.granted += 1
            self.waits.add(0.0)
            req = Request(self, granted=True)
            if self.shares:
                self._tag(req)
            return req
        return self._enqueue(patience)

    def share_of(self, req: Request) -> int:
        """The share whose tagged place `req` holds (its index in `shares`), or -1 for an untagged place."""
        return self._share.get(req, -1)

    def _tag(self, req: Request) -> None:
        """A place just granted: a tagged one if a share has one free."""
        now = self.env.now
        for i, share in enumerate(self.shares):
            if self.share_users[i] < share.at(now):
                self.share_users[i] += 1
                self._share[req] = i
                return

    def free(self, req: Request) -> None:
        """Give `req`'s place back and grant it to the next live request; withdraw `req` if still waiting."""
        if req.holding:
            req.holding = False
            self.users -= 1
            self.users_acc += self.env.now
            if self.shares and req in self._share:
                self.share_users[self._share.pop(req)] -= 1
            self._grant()
        else:
            self.abandon(req)

    def _grant(self) -> None:
        q = self.queue
        now = self.env.now
        while q and self.users < self.size:
            req = q.popleft()
            if req.abandoned:
                continue
            self.users += 1
            self.users_acc -= now
            req.holding = True
            if self.shares:
                self._tag(req)
            self._served(req, now)
        while q and q[0].abandoned:  # keep the queue's head live so memory stays bounded
            q.popleft()

    def _follow(self, size: Piecewise):
        for t, v in zip(size.times[1:], size.values[1:]):
            yield self.env.timeout(t - self.env.now)
            self.size = max(0.0, v)
            self._grant()

    def reset_stats(self) -> None:
        """Forget statistics so far (end of warm-up); the state itself is untouched."""
        self._reset_waitlist()
        self.users_acc = -self.users * self.env.now

    def place_days(self, until: float) -> float:
        """Integral of the number of places over [t0, until] (from the schedule)."""
        times = self.schedule.times + [until]
        total = 0.0
        for i, v in enumerate(self.schedule.values):
            a, b = max(times[i], self.t0), min(times[i + 1], until)
            if b > a:
                total += max(0.0, v) * (b - a)
        return total

    # --- summaries
    def summary(self, until: float) -> dict[str, float]:
        span = (until - self.t0) or 1.0
        busy = self.users_acc + self.users * until
        places = self.place_days(until)
        return {
            "mean_places": places / span,
            "mean_busy": busy / span,
            "utilisation": busy / places if places else 0.0,
            "mean_queue": self.mean_queue(until),
            "granted": float(self.granted),
            "reneged": float(self.reneged),
            "mean_wait": self.waits.mean(),
            "p90_wait": self.waits.quantile(0.9),
            "in_use_end": float(self.users),
            "queue_end": float(self.waiting),
        }


class Cohorts(Waitlist):
    """Seats on a course with cohort intakes: every `every` days from `first`, `seats(t)` people start.

    People wait in a FIFO list for the next intake with a free seat; reneging is lazy, as in
    `Capacity`. Unfilled seats at an intake are lost (the cohort starts without them).
    """

    def __init__(self, env: simpy.Environment, name: str, seats: Piecewise, first: float, every: float, until: float):
        self._init_waitlist(env, name)
        self.offered = 0.0
        env.process(self._intakes(seats, first, every, until))

    def request(self, patience: float = _INF) -> Request:
        """Join the list for the next intake with a free seat, giving up after `patience` days."""
        return self._enqueue(patience)

    def _intakes(self, seats: Piecewise, first: float, every: float, until: float):
        env = self.env
        t = first - math.floor((first - env.now) / every) * every  # the cycle runs back into the warm-up
        while t < until:
            yield env.timeout(t - env.now)
            free = int(max(0.0, seats.at(t)))
            self.offered += free
            q = self.queue
            while free and q:
                req = q.popleft()
                if req.abandoned:
                    continue
                free -= 1
                self._served(req, env.now)
            while q and q[0].abandoned:
                q.popleft()
            t += every

    def reset_stats(self) -> None:
        self._reset_waitlist()
        self.offered = 0.0

    def summary(self, until: float) -> dict[str, float]:
        return {
            "mean_places": self.offered,
            "mean_busy": float(self.granted),
            "utilisation": self.granted / self.offered if self.offered else 0.0,
            "mean_queue": self.mean_queue(until),
            "granted": float(self.granted),
            "reneged": float(self.reneged),
            "mean_wait": self.waits.mean(),
            "p90_wait": self.waits.quantile(0.9),
            "in_use_end": 0.0,
            "queue_end": float(self.waiting),
        }
