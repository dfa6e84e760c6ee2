"""The clock is SimPy's own environment: light processes take SimPy's steps at SimPy's times, a claim granted
before its patience runs out drops its timer, and a whole run gives what plain SimPy processes give."""

from __future__ import annotations

import math
from functools import partial

import pytest
import simpy
from conftest import make_params
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import Model
from sim.model.clock import Claim, Environment, begin
from sim.model.pathway import follow
from sim.params.schedule import Piecewise


def trace(env: Environment, plan: list[list[float]], horizon: float,
          light: bool = False) -> list[tuple[float, int, int]]:
    """Run processes that each wait the delays of their plan (some zero, some on whole days, some long),
    plus a callback-only timer per step, in two legs (stopped at a third of the horizon and resumed);
    return every (time, process, step) in the order processed, and the next event's time at the stop.
    `light`: start them with `begin` (each records its return at the time of its last step)."""
    seen: list[tuple[float, int, int]] = []

    def proc(i: int, delays: list[float]):
        for k, d in enumerate(delays):
            env.timeout(d * 0.5).callbacks.append(lambda _e, i=i, k=k: seen.append((env.now, -i - 1, k)))
            yield env.timeout(d)
            seen.append((env.now, i, k))

    for i, delays in enumerate(plan):
        n = len(delays)
        if light:
            begin(env, proc(i, delays), lambda i=i, n=n: seen.append((env.now, i, n)))
        else:
            env.process(proc(i, delays)).callbacks.append(lambda _e, i=i, n=n: seen.append((env.now, i, n)))
    env.run(until=horizon / 3)
    seen.append((env.peek(), -1, -1))
    env.run(until=horizon)
    seen.append((env.now, -2, -2))
    return seen


delays = st.one_of(st.just(0.0), st.integers(1, 40).map(float), st.floats(0.0, 60.0, allow_nan=False),
                   st.sampled_from([0.999999, 1.0, 1.000001, 0.1, 0.3, 365.0]))


@settings(max_examples=60, deadline=None)
@given(plan=st.lists(st.lists(delays, min_size=1, max_size=12), min_size=1, max_size=12),
       horizon=st.floats(1.0, 200.0))
@pytest.mark.unit
def test_light_processes_keep_simpys_order_and_times(plan: list[list[float]], horizon: float) -> None:
    """Processes run by `begin` take every step at the time and in the order SimPy's own processes do, and
    return at the time of their last step. A `Process` reports its return by an event of its own, processed
    after other events of that instant; so returns are compared apart, each process's at its own time."""
    def split(seen: list[tuple[float, int, int]]) -> tuple[list, dict]:
        ends = {(i, k): t for t, i, k in seen if i >= 0 and k == len(plan[i])}
        return [x for x in seen if not (x[1] >= 0 and x[2] == len(plan[x[1]]))], ends

    stock_env, env = Environment(), Environment()
    stock, stock_ends = split(trace(stock_env, plan, horizon))
    light, light_ends = split(trace(env, plan, horizon, light=True))
    assert light == stock
    assert light_ends == stock_ends
    assert env.now == stock_env.now == pytest.approx(horizon, rel=1e-12)
    # no start event for any light process, and no end event for those that returned
    assert env.processed_events() == stock_env.processed_events() - len(plan) - len(stock_ends)


@pytest.mark.unit
def test_the_count_is_of_the_events_simpy_processes() -> None:
    """`processed_events` counts the events SimPy's own `step` processes."""
    def build(env: simpy.Environment) -> None:
        def proc():
            yield env.timeout(1.5)
            yield env.timeout(0.0)

        for d in (0.5, 2.0, 3.5, 400.0):
            env.timeout(d)
        env.process(proc())

    plain = simpy.Environment()
    build(plain)
    steps = 0
    while plain.peek() < math.inf:
        plain.step()
        steps += 1
    env = Environment()
    build(env)
    env.run()
    assert env.processed_events() == steps == 8  # four timeouts; the process's start, its two timeouts, its end


@pytest.mark.parametrize("parent_wait, same_order", [(1.5, True), (2.0, False)])
@pytest.mark.unit
def test_a_light_process_started_inside_a_process(parent_wait: float, same_order: bool) -> None:
    """Started by a process that waits next (as the referral process does), a light process takes its steps at
    SimPy's times and, unless the parent's next event falls at exactly the time of one the child's first step
    scheduled, in SimPy's order; at such a tie the light process goes first (its first step ran first)."""
    def run(light: bool) -> list[tuple[float, str, int]]:
        env = Environment()
        seen: list[tuple[float, str, int]] = []

        def child(i: int):
            yield env.timeout(2.0)
            seen.append((env.now, "child", i))

        def parent():
            for i in range(4):
                if light:
                    begin(env, child(i), lambda: None)
                else:
                    env.process(child(i))
                yield env.timeout(parent_wait)
                seen.append((env.now, "parent", i))

        env.process(parent())
        env.run(until=20.0)
        return seen

    light, stock = run(True), run(False)
    assert sorted(light) == sorted(stock)  # the same steps at the same times
    assert (light == stock) == same_order


@pytest.mark.unit
def test_light_process_failure_and_processed_events() -> None:
    """A light process goes on at once past an event already processed, gets a failed event's exception
    (and may handle it), and an exception it does not handle stops the run, as SimPy's would."""
    env = Environment()
    done = env.event().succeed("done")
    env.run()
    seen: list[object] = []

    def proc():
        seen.append((env.now, (yield done)))  # no wait: already processed
        failed = env.event()
        env.timeout(1.0).callbacks.append(lambda _e: failed.fail(KeyError("no place")))
        try:
            yield failed
        except KeyError as exc:
            seen.append((env.now, str(exc)))
        yield env.timeout(2.0)
        raise ValueError("the journey broke")

    begin(env, proc(), lambda: seen.append("returned"))
    assert seen == [(0.0, "done")]  # the first step ran inside `begin`
    with pytest.raises(ValueError, match="the journey broke"):
        env.run()
    assert seen == [(0.0, "done"), (1.0, "'no place'")]
    assert env.now == 3.0


@pytest.mark.unit
def test_a_claim_granted_first_drops_its_patience_timer() -> None:
    """A claim settled before its patience runs out never calls its expiry, and lets go of its timer; one left
    pending does, once, at its time. The dropped timer is still processed by SimPy, and runs nothing."""
    env = Environment()
    owner = type("Owner", (), {"env": env})()
    expired: list[tuple[float, Claim]] = []
    on_expiry = lambda timer: (expired.append((env.now, timer.value)), timer.value.settle(False))  # noqa: E731
    granted, kept, short, never = Claim(owner), Claim(owner), Claim(owner), Claim(owner)
    granted.expire_after(5.0, on_expiry)
    timer = granted._timer
    kept.expire_after(3.0, on_expiry)
    short.expire_after(0.25, on_expiry)
    never.expire_after(math.inf, on_expiry)  # no timer at all
    env.timeout(2.0).callbacks.append(lambda _e: granted.settle(True))
    env.timeout(0.1).callbacks.append(lambda _e: short.settle(True))
    dropped: list[bool] = []
    env.timeout(4.0).callbacks.append(lambda _e: dropped.append(timer.callbacks == [] and not timer.processed))
    env.run(until=10.0)
    assert dropped == [True]  # at day 4 the granted claim's timer, due at 5, has nothing to run
    assert expired == [(3.0, kept)]
    assert (granted.value, kept.value, short.value, never.triggered) == (True, False, True, False)
    assert granted._timer is None and kept._timer is None  # neither claim holds a timer any more
    with pytest.raises(RuntimeError):
        granted.settle(False)
    # the two settling timeouts, three settled claims, the three timers (one fired, two dropped) and the check
    assert env.processed_events() == 9


@pytest.mark.unit
def test_a_claim_granted_at_once_has_succeeded() -> None:
    """A claim granted at once holds its place and has succeeded (True), as SimPy's own requests do: a process
    that yields it goes on at the same instant. A pending claim is an ordinary event, triggered later."""
    env = Environment()
    owner = type("Owner", (), {"env": env})()
    seen: list[tuple[float, object]] = []

    def proc():
        granted = Claim(owner, granted=True)
        assert granted.holding and granted.triggered and granted.value is True
        value = yield granted
        seen.append((env.now, value))
        pending = Claim(owner)
        assert not (pending.holding or pending.triggered)
        env.timeout(2.0).callbacks.append(lambda _e: pending.settle(False))
        value = yield pending
        seen.append((env.now, value))

    env.process(proc())
    env.run()
    assert seen == [(0.0, True), (2.0, False)]
    assert env.processed_events() == 5  # the process's start and end, both claims and the timeout


@pytest.mark.model
def test_model_results_identical_to_plain_simpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default region and a stacked programme: every table of a run is the same with journeys as light
    processes and dropped patience timers as with journeys as SimPy processes and patience timers that fire
    (finding their claim settled); the light run processes a start event fewer per journey, and an end event
    fewer per journey that returned."""
    import sim.model.pathway

    for overrides in ((), ("intervention=[childcare,gp_advisers,outreach,mentoring,faster_checks]",)):
        params = make_params(*overrides)
        model = Model(params, 1)
        light = model.run()
        with monkeypatch.context() as m:
            m.setattr(sim.model.pathway, "begin",
                      lambda env, gen, on_return: env.process(gen).callbacks.append(lambda _e: on_return()))
            m.setattr(Claim, "settle", simpy.Event.succeed)  # the timer stays, fires, and finds its claim settled
            plain_model = Model(params, 1)
            plain = plain_model.run()
        assert light.kpis == plain.kpis
        assert light.timeseries == plain.timeseries
        assert light.funnel == plain.funnel
        assert light.capacities == plain.capacities
        assert light.conservation == plain.conservation
        ended = model.pathway.journeys_ended
        assert ended == plain_model.pathway.journeys_ended > 0
        assert plain.events == light.events + light.residents + ended


@settings(max_examples=80, deadline=None)
@given(steps=st.dictionaries(st.integers(-15, 30), st.floats(0.0, 1.0), min_size=1, max_size=6),
       probes=st.lists(st.one_of(st.integers(-12, 35).map(float), st.floats(-12.0, 35.0)), max_size=25))
@pytest.mark.unit
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


@pytest.mark.unit
def test_a_light_process_is_freed_when_it_returns() -> None:
    """A returned light process leaves no reference cycle: its generator is freed at once by reference counting
    (the model runs with the collector's thresholds high, so a cycle per resident would pile up)."""
    import gc
    import weakref

    env = Environment()
    gens = []

    def proc():
        yield env.timeout(1.0)
        yield env.timeout(3.0)

    for _ in range(3):
        g = proc()
        gens.append(weakref.ref(g))
        begin(env, g, lambda: None)
        del g
    gc.disable()
    try:
        env.run(until=2.0)
        assert all(ref() is not None for ref in gens)  # still on their way
        env.run(until=5.0)
        assert all(ref() is None for ref in gens)
    finally:
        gc.enable()
