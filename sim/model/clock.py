"""The simulation clock: SimPy's environment with far-off timeouts kept out of its heap until their day.

SimPy keeps every scheduled event in one binary heap, and every event pays a pop whose cost
grows with the heap (log n tuple comparisons, and cache misses once it outgrows the CPU cache).
At national scale most pending events are far off: a first year in post, a course, a patience
timer. A bare SimPy loop with 35,000 far-off timeouts beside 100 busy processes runs 30% slower
than with none; in the model at 300,000 residents `Environment.step` took 29% of the time
against 15% at 10,000.

This environment is a two-level calendar queue (Brown, "Calendar queues", CACM 1988): a timeout
of at least a day is made exactly as SimPy makes it, heap entry included, but the entry waits in
the bucket of the day it falls due and joins the heap when that day begins (an urgent event at
the day's first instant). The heap then holds about a day of events however many people are on
the pathway. Entries keep the time, priority and sequence number SimPy gave them, so events are
processed in exactly the order a plain `simpy.Environment` would process them: results are
identical, only faster.

Two things SimPy has no word for, both used by the model with one event fewer each:
- `begin` runs a generator as a light process: started at once, no start or end event, not an
  event itself (a resident's journey, which nothing waits for or interrupts);
- a `Claim` (a request for a place or a post) given up after a patience has its patience timer
  dropped when it is granted: the timer fires nothing, and this calendar never moves it into the
  heap (most timers are for requests granted long before they would have run out).

This module is the only one that touches SimPy's private attributes (pinned to the SimPy versions
`tests/test_clock.py` covers, in pyproject.toml): the environment's queue and counter, and
`Claim`, an event made without a trip through SimPy's constructor.
"""

from __future__ import annotations

from heapq import heappop, heappush
from itertools import count
from typing import Any, Callable, Generator

import simpy
from simpy.core import NORMAL, URGENT, EmptySchedule, StopSimulation
from simpy.events import PENDING, Event, EventPriority, Initialize, Process, Timeout

_INF = float("inf")
_new = object.__new__
_DROPPED: tuple = ()  # the callbacks of a dropped timer: nothing to run (and nothing may be added)


class Environment(simpy.Environment):
    """A SimPy environment whose timeouts of `bucket_days` or more wait in day buckets.

    `now` is a plain attribute, set with SimPy's `_now` wherever time moves (`step` and the run loop),
    where SimPy's is a property: a Python call on every read, and the model reads it at every stage.
    A dropped timer is not an event: `run()` without `until` may end at the first instant of the day
    whose bucket held the last of them (a hand-over), where SimPy would end at the timer's own time.
    """

    now: float = 0.0  # type: ignore[assignment]  (a plain attribute: shadows SimPy's property)

    def __init__(self, initial_time: float = 0, bucket_days: float = 1.0):
        super().__init__(initial_time)
        self.now = self._now
        if bucket_days <= 0:
            raise ValueError("bucket_days must be positive")
        self._width = bucket_days
        self._handed = int(initial_time // bucket_days)  # the last day whose bucket joined the heap
        self._buckets: dict[int, list[tuple[float, int, int, Event]]] = {}
        self._ticks = 0  # hand-overs processed (bookkeeping, not model events)
        self.dropped = 0  # dropped timers never moved into the heap (never processed)
        self._tick: Event | None = None  # the pending hand-over, if any bucket is left

    def timeout(self, delay: float = 0, value: Any = None) -> Timeout:  # type: ignore[override]
        """A `simpy.Timeout` that fires `delay` days from now (its entry parked if a day or more away).

        The Timeout is built here, as SimPy's own `Process` builds its events, rather than by
        `Timeout.__init__` and `schedule`: two Python calls fewer per timeout, the model's most
        common event.
        """
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        ev = _new(Timeout)
        ev.env = self
        ev.callbacks = []
        ev._value = value
        ev._delay = delay
        ev._ok = True
        at = self._now + delay
        if delay < self._width or delay == _INF:
            heappush(self._queue, (at, NORMAL, next(self._eid), ev))
            return ev
        day = int(at // self._width)  # a NaN delay fails here (ValueError), as SimPy refuses a negative one
        entry = (at, NORMAL, next(self._eid), ev)
        if self._tick is None:  # the first parked entry since the buckets emptied: hand-overs start again
            self._handed = max(self._handed, int(self._now // self._width))
            self._hand_over_at(self._handed + 1)
        if day <= self._handed:  # only by rounding at a day's edge: straight into the heap
            heappush(self._queue, entry)
            return ev
        bucket = self._buckets.get(day)
        if bucket is None:
            self._buckets[day] = [entry]
        else:
            bucket.append(entry)
        return ev

    def process(self, generator: Any) -> Process:  # type: ignore[override]
        """A `simpy.Process` built here, as `timeout` builds its Timeout: the same fields and the same
        urgent start event, with two Python calls fewer (a process per resident)."""
        if not hasattr(generator, "throw"):
            raise ValueError(f"{generator} is not a generator.")
        proc = _new(Process)
        proc.env = self
        proc.callbacks = []
        proc._generator = generator
        start = proc._target = _new(Initialize)
        start.env = self
        start.callbacks = [proc._resume]
        start._value = None
        start._ok = True
        heappush(self._queue, (self._now, URGENT, next(self._eid), start))
        return proc

    def run(self, until: float | Event | None = None) -> Any:
        """SimPy's `run`, with its `step` inlined in the loop: one Python call less per event (SimPy's
        loop calls `step` for each). Everything else is SimPy's, stop event and errors included."""
        if until is not None:
            if not isinstance(until, Event):
                at = until if isinstance(until, int) else float(until)
                if at <= self._now:
                    raise ValueError(f"until ({at}) must be greater than the current simulation time")
                until = Event(self)
                until._ok, until._value = True, None
                self.schedule(until, URGENT, at - self._now)
            elif until.callbacks is None:
                return until.value
            until.callbacks.append(StopSimulation.callback)
        try:
            self._steps()
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            if until is not None:
                raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {until}')
        return None

    def _steps(self) -> None:
        """`simpy.Environment.step` in a loop, until the stop event or an empty schedule."""
        queue = self._queue
        while queue:
            now, _, _, event = heappop(queue)
            self._now = self.now = now
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:  # as SimPy: the rest of the callbacks run when the simulation resumes
                event.callbacks = callbacks[callbacks.index(callback) + 1:]
                self.schedule(event, EventPriority(-1))
                raise
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        raise EmptySchedule

    def step(self) -> None:
        """SimPy's `step`, keeping `now` with `_now`."""
        try:
            super().step()
        finally:
            self.now = self._now

    def _hand_over_at(self, day: int) -> None:
        """Schedule the hand-over of `day`'s bucket: an urgent event at the day's first instant."""
        tick = self._tick = Event(self)
        tick._ok, tick._value = True, None
        tick.callbacks.append(self._hand_over)
        heappush(self._queue, (day * self._width, URGENT, next(self._eid), tick))

    def _hand_over(self, _tick: Event) -> None:
        """Move the day's bucket into the heap (its dropped timers aside); schedule the next day's if any is left."""
        self._ticks += 1
        day = self._handed = self._handed + 1
        queue = self._queue
        for entry in self._buckets.pop(day, ()):
            if entry[3].callbacks is _DROPPED:
                self.dropped += 1
            else:
                heappush(queue, entry)
        if self._buckets:
            self._hand_over_at(day + 1)
        else:
            self._tick = None

    def peek(self) -> float:
        """The time of the next model event, parked or not (a hand-over is not one)."""
        times = [entry[0] for entry in self._queue if entry[3] is not self._tick]
        for day in sorted(self._buckets):
            live = [entry[0] for entry in self._buckets[day] if entry[3].callbacks is not _DROPPED]
            if live:
                times.append(min(live))
                break
        return min(times, default=_INF)

    def processed_events(self) -> int:
        """Model events processed so far (the hand-over's own events are not counted)."""
        parked = sum(len(bucket) for bucket in self._buckets.values())
        made = next(self._eid)  # sequence numbers given out so far
        self._eid = count(made)  # ... and the one just read given back, so a second call counts the same
        return made - len(self._queue) - parked - self._ticks - self.dropped


def begin(env: simpy.Environment, generator: Generator[Event, Any, None], on_return: Callable[[], None]) -> None:
    """Run `generator` as a light process: its first step at once (inside the caller), each later step
    when the event it yielded is processed, as SimPy's `Process` does, and `on_return()` when it returns.

    Unlike a `Process` it is not an event (nothing can wait for it or interrupt it), and it has no start
    or end event in the queue: two events fewer per resident. Its first step runs inside the caller,
    before the rest of the caller's step (a `Process` starts at an urgent event after it), so the events
    that first step schedules are numbered before those the caller schedules after `begin`: the order
    differs from SimPy's only where two such events fall at exactly the same time (tested). In the model
    the caller is the referral process, whose next event is the next referral, at a continuous random
    time. An exception in the generator propagates out of `env.run` from the callback that resumed it
    (the event's later callbacks do not run), as SimPy's run stops for an unhandled failure.
    """
    _Light(generator, on_return).resume(None)


class _Light:
    """The state of a light process (see `begin`). It holds no reference to itself, so it is freed by
    reference counting when its generator returns, never left to the cyclic collector."""

    __slots__ = ("send", "throw", "on_return")

    def __init__(self, generator: Generator[Event, Any, None], on_return: Callable[[], None]):
        self.send, self.throw, self.on_return = generator.send, generator.throw, on_return

    def resume(self, event: Event | None) -> None:
        """SimPy's `Process._resume`: send the event's value in (or throw its exception) until the generator
        yields an event not yet processed, then wait for that one."""
        while True:
            try:
                if event is None:
                    event = self.send(None)
                elif event._ok:
                    event = self.send(event._value)
                else:
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = self.throw(exc)
            except StopIteration:
                self.on_return()
                return
            if event.callbacks is not None:
                event.callbacks.append(self.resume)
                return


class Claim(Event):
    """A claim on something `owner` hands out (a place, a post): an event, pending or already processed.

    A claim granted at once (a free place) is made processed with the value True: a process that
    yields it goes on at once, as SimPy does for any processed event, with no trip through the
    queue. A pending claim is triggered later with `settle`, as SimPy's `succeed` does. The event is
    built here rather than by `simpy.Event.__init__` (one Python call less per claim).
    """

    __slots__ = ("owner", "t_request", "abandoned", "holding", "_timer")

    def __init__(self, owner: Any, granted: bool = False):
        env = self.env = owner.env
        self.owner = owner
        self.t_request = env._now
        self.abandoned = False
        self.holding = granted  # holds what it claimed now (given back by its owner's `free`)
        self._timer: Timeout | None = None  # the patience timer, while it may still fire (the claim's own)
        if granted:
            self.callbacks: list | None = None
            self._value = True
            self._ok = True
        else:
            self.callbacks = []
            self._value = PENDING

    def expire_after(self, patience: float, on_expiry: Callable[[Timeout], None]) -> None:
        """Call `on_expiry(timer)` in `patience` days (the timer's value is this claim), unless the claim
        is settled first: then the timer is dropped (no timer at all if patience is infinite)."""
        if patience != _INF:
            timer = self._timer = self.env.timeout(patience, self)
            timer.callbacks.append(on_expiry)

    def settle(self, value: bool) -> None:
        """Trigger the claim with `value` (True: granted; False: given up), as `succeed` does, and drop
        its patience timer if it has not fired: it lets go of the claim and runs nothing."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = value
        env = self.env
        heappush(env._queue, (env._now, NORMAL, next(env._eid), self))
        timer = self._timer
        if timer is not None:
            self._timer = None
            if timer.callbacks:  # not firing now
                timer.callbacks = _DROPPED
                timer._value = None
