"""Capacities: pools of places (adviser caseload, childcare, course seats, interview slots).

A `Capacity` is a SimPy resource built on plain SimPy events, with three things the stock
`simpy.Resource` lacks:

- its size follows a schedule (a step function of time) and may be zero;
- reneging is lazy and O(1): a request whose holder gave up is flagged and skipped when it
  reaches the head of the queue, instead of being removed by a linear scan;
- it keeps its own time-weighted statistics (busy places, queue length, size) and waits, so
  utilisation, mean queue and Little's law can be read off without a trace.
"""

from __future__ import annotations

from collections import deque

import simpy

from ..config import Piecewise


class Request(simpy.Event):
    """A claim on one place. Its value is True when granted, False if the holder gave up."""

    __slots__ = ("t_request", "abandoned")

    def __init__(self, env: simpy.Environment):
        super().__init__(env)
        self.t_request = env.now
        self.abandoned = False


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


class Waitlist:
    """A FIFO queue of requests with lazy reneging, shared by `Capacity` and `Cohorts`.

    Subclasses keep `env`, `queue`, `waiting`, `reneged` and an `_advance()` that brings
    their time-weighted statistics up to now.
    """

    env: simpy.Environment
    queue: deque[Request]
    waiting: int
    reneged: int

    def _advance(self) -> None:
        raise NotImplementedError

    def _enqueue(self) -> Request:
        req = Request(self.env)
        self.queue.append(req)
        self.waiting += 1
        return req

    def abandon(self, req: Request) -> None:
        """The holder of a queued request gives up (reneges). O(1): the request is skipped later."""
        if req.triggered:
            return
        self._advance()
        req.abandoned = True
        self.waiting -= 1
        self.reneged += 1
        req.succeed(False)

    def patience_timer(self, req: Request, patience: float) -> None:
        """Abandon `req` after `patience` days unless granted first (no timer if patience is infinite)."""
        if patience == float("inf") or req.triggered:
            return
        self.env.timeout(patience).callbacks.append(lambda _e: self.abandon(req))


class Capacity(Waitlist):
    """A pool of places with a FIFO queue, a size schedule and lazy reneging."""

    def __init__(self, env: simpy.Environment, name: str, size: Piecewise):
        self.env = env
        self.name = name
        self.size = max(0.0, size.at(0.0))
        self.users = 0
        self.waiting = 0  # live (not abandoned) requests in the queue
        self.queue: deque[Request] = deque()
        self.granted = 0
        self.reneged = 0
        self.waits = WaitStats()
        self._t = self._t0 = env.now
        self.area_users = 0.0
        self.area_waiting = 0.0
        self.area_size = 0.0
        if size.const is None:
            env.process(self._follow(size))

    # --- time-weighted statistics
    def _advance(self) -> None:
        now = self.env.now
        dt = now - self._t
        if dt:
            self.area_users += self.users * dt
            self.area_waiting += self.waiting * dt
            self.area_size += self.size * dt
            self._t = now

    # --- the resource
    def request(self) -> Request | None:
        """Ask for a place: None if granted at once (no event needed), else an event that fires
        True when a place is granted, or False if the holder gives up first."""
        self._advance()
        if self.users < self.size and not self.waiting:
            self.users += 1
            self.granted += 1
            self.waits.add(0.0)
            return None
        return self._enqueue()

    def release(self) -> None:
        """Give a place back and grant it to the next live request."""
        self._advance()
        self.users -= 1
        self._grant()

    def _grant(self) -> None:
        q = self.queue
        now = self.env.now
        while q and self.users < self.size:
            req = q.popleft()
            if req.abandoned:
                continue
            self.waiting -= 1
            self.users += 1
            self.granted += 1
            self.waits.add(now - req.t_request)
            req.succeed(True)
        while q and q[0].abandoned:  # keep the queue's head live so memory stays bounded
            q.popleft()

    def _follow(self, size: Piecewise):
        for t, v in zip(size.times[1:], size.values[1:]):
            yield self.env.timeout(t - self.env.now)
            self._advance()
            self.size = max(0.0, v)
            self._grant()

    def reset_stats(self) -> None:
        """Forget statistics so far (end of warm-up); the state itself is untouched."""
        self._advance()
        self.area_users = self.area_waiting = self.area_size = 0.0
        self._t0 = self.env.now
        self.granted = self.reneged = 0
        self.waits = WaitStats()

    # --- summaries
    def summary(self, until: float) -> dict[str, float]:
        self._advance()
        span = (until - self._t0) or 1.0
        mean_size = self.area_size / span
        return {
            "mean_places": mean_size,
            "mean_busy": self.area_users / span,
            "utilisation": (self.area_users / self.area_size) if self.area_size else 0.0,
            "mean_queue": self.area_waiting / span,
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
        self.env = env
        self.name = name
        self.queue: deque[Request] = deque()
        self.waiting = 0
        self.granted = 0
        self.reneged = 0
        self.offered = 0.0
        self.waits = WaitStats()
        self._t = self._t0 = env.now
        self.area_waiting = 0.0
        env.process(self._intakes(seats, first, every, until))

    def _advance(self) -> None:
        now = self.env.now
        self.area_waiting += self.waiting * (now - self._t)
        self._t = now

    def request(self) -> Request:
        """Join the list for the next intake with a free seat."""
        self._advance()
        return self._enqueue()

    def _intakes(self, seats: Piecewise, first: float, every: float, until: float):
        env = self.env
        t = first
        while t < until:
            yield env.timeout(t - env.now)
            self._advance()
            free = int(max(0.0, seats.at(t)))
            self.offered += free
            q = self.queue
            while free and q:
                req = q.popleft()
                if req.abandoned:
                    continue
                free -= 1
                self.waiting -= 1
                self.granted += 1
                self.waits.add(env.now - req.t_request)
                req.succeed(True)
            while q and q[0].abandoned:
                q.popleft()
            t += every

    def reset_stats(self) -> None:
        self._advance()
        self._t0 = self.env.now
        self.area_waiting = 0.0
        self.granted = self.reneged = 0
        self.offered = 0.0
        self.waits = WaitStats()

    def summary(self, until: float) -> dict[str, float]:
        self._advance()
        span = (until - self._t0) or 1.0
        return {
            "mean_places": self.offered,
            "mean_busy": float(self.granted),
            "utilisation": self.granted / self.offered if self.offered else 0.0,
            "mean_queue": self.area_waiting / span,
            "granted": float(self.granted),
            "reneged": float(self.reneged),
            "mean_wait": self.waits.mean(),
            "p90_wait": self.waits.quantile(0.9),
            "in_use_end": 0.0,
            "queue_end": float(self.waiting),
        }
