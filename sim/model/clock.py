"""The simulation clock: SimPy's own environment, and two things the model needs with one event fewer each.

Both are written on SimPy's documented surface (`Event` with its `callbacks`, `ok`, `value`, `defused` and
`succeed`; `Environment.timeout` and `step`), so they run on every SimPy release tests/test_clock.py passes on
(the pin in pyproject.toml):
- `begin` runs a generator as a light process: started at once, no start or end event, not an event itself
  (a resident's journey, which nothing waits for or interrupts);
- a `Claim` (a request for a place or a post) given up after a patience drops its patience timer when it is
  granted: the timer's callback is removed, so it runs nothing when it falls due (most timers are for requests
  granted long before they would have run out).

Nothing here touches SimPy's private attributes. Rewrites of SimPy's internals (a calendar queue for far-off
timeouts, an inlined run loop with `now` a plain attribute, timeouts and processes built field by field, claims
granted at once made processed without the queue) each saved 1-4% of a run's instructions and under 10% of its
CPU time at national scale, none the 10% that would pay for tying the model to SimPy's internals, so none is
kept (together they made runs at scale about 20% faster: benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, cast

import simpy
from simpy.events import Event, Timeout

_INF = float("inf")


class Environment(simpy.Environment):
    """SimPy's environment, counting the events it processes (the run's metadata and the benchmarks report them)."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self._processed = 0

    def step(self) -> None:
        """SimPy's `step`, counted once the event's callbacks have all run."""
        simpy.Environment.step(self)
        self._processed += 1

    def processed_events(self) -> int:
        """Events processed so far."""
        return self._processed


def begin(env: simpy.Environment, generator: Generator[Event, Any, None], on_return: Callable[[], None]) -> None:
    """Run `generator` as a light process: its first step at once (inside the caller), each later step
    when the event it yielded is processed, as SimPy's `Process` does, and `on_return()` when it returns.

    Unlike a `Process` it is not an event (nothing can wait for it or interrupt it; `env.active_process`
    does not name it), and it has no start or end event in the queue: two events fewer per resident. Its
    first step runs inside the caller, before the rest of the caller's step (a `Process` starts at an
    urgent event after it), so the events that first step schedules are numbered before those the caller
    schedules after `begin`: the order differs from SimPy's only where two such events fall at exactly the
    same time (tested). In the model the caller is the referral process, whose next event is the next
    referral, at a continuous random time. An exception in the generator propagates out of `env.run` from
    the callback that resumed it (the event's later callbacks do not run), as SimPy's run stops for an
    unhandled failure.
    """
    _Light(generator, on_return).resume(None)


class _Light:
    """The state of a light process (see `begin`). It holds no reference to itself, so it is freed by
    reference counting when its generator returns, never left to the cyclic collector."""

    __slots__ = ("send", "throw", "on_return")

    def __init__(self, generator: Generator[Event, Any, None], on_return: Callable[[], None]):
        self.send, self.throw, self.on_return = generator.send, generator.throw, on_return

    def resume(self, event: Event | None) -> None:
        """What SimPy's `Process` does on resuming: send the event's value in (or throw a copy of its exception,
        defusing it) until the generator yields an event not yet processed, then wait for that one."""
        while True:
            try:
                if event is None:
                    event = self.send(None)
                elif event.ok:
                    event = self.send(event.value)
                else:
                    event.defused = True
                    failure = cast(BaseException, event.value)  # a failed event's value is its exception
                    exc = type(failure)(*failure.args)
                    exc.__cause__ = failure
                    event = self.throw(exc)
            except StopIteration:
                self.on_return()
                return
            if event.callbacks is not None:
                event.callbacks.append(self.resume)
                return


class Claim(Event):
    """A claim on something `owner` hands out (a place, a post): an event, True when granted, False if given up.

    A claim granted at once (a free place) succeeds at once, as SimPy's own resources do: it is processed
    at the same instant. A pending claim is triggered later with `settle`.
    """

    __slots__ = ("owner", "t_request", "abandoned", "holding", "_timer")

    def __init__(self, owner: Any, granted: bool = False):
        super().__init__(owner.env)
        self.owner = owner
        self.t_request = self.env.now
        self.abandoned = False
        self.holding = granted  # holds what it claimed now (given back by its owner's `free`)
        self._timer: Timeout | None = None  # the patience timer, while it may still fire (the claim's own)
        if granted:
            self.succeed(True)

    def expire_after(self, patience: float, on_expiry: Callable[[Timeout], None]) -> None:
        """Call `on_expiry(timer)` in `patience` days (the timer's value is this claim), unless the claim
        is settled first: then the timer is dropped (no timer at all if patience is infinite)."""
        if patience != _INF:
            timer = self._timer = self.env.timeout(patience, self)
            timer.callbacks.append(on_expiry)

    def settle(self, value: bool) -> None:
        """Trigger the claim with `value` (True: granted; False: given up), as `succeed` does, and drop
        its patience timer if it has not fired: its callback is removed, so it runs nothing when it falls due."""
        self.succeed(value)
        timer = self._timer
        if timer is not None:
            self._timer = None
            if timer.callbacks:  # not firing now
                timer.callbacks.clear()
