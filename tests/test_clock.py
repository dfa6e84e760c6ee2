"""The calendar environment processes events in exactly the order, and at exactly the times, of SimPy's own."""

from __future__ import annotations

import math
from functools import partial

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.model
from sim.model import simulate
from sim.model.clock import Claim, Environment
from sim.model.pathway import follow
from sim.schedule import Piecewise

from conftest import make_params


class StockEnvironment(simpy.Environment):
    """SimPy's plain environment, with the event count the model reads."""

    def processed_events(self) -> int:
        return next(self._eid) - len(self._queue)


def trace(env: simpy.Environment, plan: list[list[float]], horizon: float) -> list[tuple[float, int, int]]:
    """Run processes that each wait the delays of their plan (some zero, some on whole days, some long),
    plus a callback-only timer per step, in two legs (stopped at a third of the horizon and resumed);
    return every (time, process, step) in the order processed, and the next event's time at each stop."""
    seen: list[tuple[float, int, int]] = []

    def proc(i: int, delays: list[float]):
        for k, d in enumerate(delays):
            env.timeout(d * 0.5).callbacks.append(lambda _e, i=i, k=k: seen.append((env.now, -i - 1, k)))
            yield env.timeout(d)
            seen.append((env.now, i, k))

    for i, delays in enumerate(plan):
        env.process(proc(i, delays))
    env.run(until=horizon / 3)
    env.step()  # the stop event, which SimPy puts back at the front
    seen.append((env.peek(), -1, -1))  # the next event's time, parked or not
    env.run(until=horizon)
    seen.append((env.now, -2, -2))
    return seen


delays = st.one_of(st.just(0.0), st.integers(1, 40).map(float), st.floats(0.0, 60.0, allow_nan=False),
                   st.sampled_from([0.999999, 1.0, 1.000001, 0.1, 0.3, 365.0]))


@settings(max_examples=60, deadline=None)
@given(plan=st.lists(st.lists(delays, min_size=1, max_size=12), min_size=1, max_size=12),
       horizon=st.floats(1.0, 200.0), bucket=st.sampled_from([0.1, 1 / 16, 0.5, 1.0, 7.0]))
def test_same_order_and_times_as_simpy(plan: list[list[float]], horizon: float, bucket: float) -> None:
    stock = trace(simpy.Environment(), plan, horizon)
    env = Environment(bucket_days=bucket)
    calendar = trace(env, plan, horizon)
    assert calendar == stock
    assert env.now == pytest.approx(horizon, rel=1e-12)


def test_event_count_is_simpys() -> None:
    """The count of processed events is SimPy's own: parked timeouts are not in it (until they are processed)."""
    counts = []
    for env in (StockEnvironment(), Environment()):
        fired: list[simpy.Event] = []
        for d in (0.5, 2.0, 3.5, 400.0):
            env.timeout(d).callbacks.append(fired.append)
        env.run(until=10)
        assert len(fired) == 3
        counts.append(env.processed_events())
    assert counts[0] == counts[1] == 4  # three timeouts and the run's own stop event


def test_infinite_and_bad_delays() -> None:
    env = Environment()
    env.timeout(math.inf)  # never fires, as with SimPy
    env.run(until=5)
    with pytest.raises(ValueError):
        env.timeout(math.nan)
    with pytest.raises(ValueError):
        env.timeout(-1.0)
    with pytest.raises(ValueError):
        Environment(bucket_days=0)


def test_model_results_identical_to_plain_simpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default region and a stacked programme: every table of a run is the same under either clock."""
    for overrides in ((), ("intervention=[childcare,gp_advisers,outreach,mentoring,faster_checks]",)):
        params = make_params(*overrides)
        calendar = simulate(params, 1)
        with monkeypatch.context() as m:
            m.setattr(sim.model, "Environment", StockEnvironment)
            stock = simulate(params, 1)
        assert calendar.kpis == stock.kpis
        assert calendar.timeseries == stock.timeseries
        assert calendar.funnel == stock.funnel
        assert calendar.capacities == stock.capacities
        assert calendar.events == stock.events > 0


def test_claim_granted_at_once_is_already_processed() -> None:
    """A claim granted at once is a processed event: the process that yields it goes on at the same instant
    with True, and no event is scheduled for it; a pending claim is an ordinary event, triggered later."""
    env = Environment()
    owner = type("Owner", (), {"env": env})()
    seen: list[tuple[float, object]] = []

    def proc():
        granted = Claim(owner, granted=True)
        assert granted.triggered and granted.processed
        value = yield granted
        seen.append((env.now, value))
        pending = Claim(owner)
        assert not pending.triggered
        env.timeout(2.0).callbacks.append(lambda _e: pending.succeed(False))
        value = yield pending
        seen.append((env.now, value))

    env.process(proc())
    env.run()
    assert seen == [(0.0, True), (2.0, False)]
    assert env.processed_events() == 4  # the process's start and end, the timeout and the pending claim


@settings(max_examples=80, deadline=None)
@given(steps=st.dictionaries(st.integers(-15, 30), st.floats(0.0, 1.0), min_size=1, max_size=6),
       probes=st.lists(st.one_of(st.integers(-12, 35).map(float), st.floats(-12.0, 35.0)), max_size=25))
def test_follow_gives_the_schedule_value_at_every_time(steps: dict[int, float], probes: list[float]) -> None:
    """A value kept by `follow` is what `Piecewise.at(now)` gives, at every time the model reads it: between
    change times, and at a change time itself (read by an event of that time made later, as in the model)."""
    times = sorted(steps)
    schedule = Piecewise([float(t) for t in times], [steps[t] for t in times])
    env = Environment(initial_time=-12.0)
    level: dict[str, float] = {}
    follow(env, partial(level.__setitem__, "v"), schedule)
    seen: list[tuple[float, float]] = []

    def read(t: float):
        yield env.timeout(t - env.now)
        seen.append((level["v"], schedule.at(env.now)))
        yield env.timeout(0.0)  # again at the same instant, from an event made then
        seen.append((level["v"], schedule.at(env.now)))

    for t in probes:
        env.process(read(t))
    env.run(until=40.0)
    assert len(seen) == 2 * len(probes)
    assert all(kept == expected for kept, expected in seen)
