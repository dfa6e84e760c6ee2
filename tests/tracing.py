"""Trace residents by who they are, (channel, arrival index), to compare two scenarios person by person.

`trace(params, replication)` runs one replication and returns, for every resident, their
referral time and attributes and how they left (stage, reason, time, the post they started in
and when, and whether the numbers they read were an intervention's holders' rather than the region's).
The model is not changed: the trace wraps four of its methods for the run only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sim.model import Model, RunOutput
from sim.model.capacity import Capacity, Request
from sim.model.pathway import Funnel, Levels, Pathway, Resident
from sim.params.plan import Params
from sim.params.schema import NEEDS


@dataclass
class Record:
    """One resident of one run."""

    t_arrive: float
    attributes: tuple
    stage: str = ""  # where they left the pathway ("" if still on it at the end)
    reason: str = ""
    t_exit: float = float("nan")
    cell: tuple[int, int] | None = None  # (role, employer group) they started in
    t_start: float = float("nan")
    run_end: float = float("nan")  # when the run ended
    changed: bool = False  # they read other numbers than the region's (an intervention's place holder's)
    # stage -> when they were granted an intervention's own place there
    held: dict[str, float] = field(default_factory=dict)

    def outcome(self) -> tuple:
        """How it ended for them: where and why they left, and the post they started in."""
        return (self.stage, self.reason, self.cell)

    def path(self) -> tuple:
        """The outcome with its times: identical only if every step happened at the same instant."""
        return (*self.outcome(), self.t_exit, self.t_start)


Key = tuple[str, int]  # (channel name, arrival index within the channel)


def numbers(lv: Levels) -> tuple:
    """Every number a resident reading `lv` reads now."""
    stages = tuple((s.patience, s.duration, s.completion) for s in (*lv.support, *lv.courses))
    return (*(getattr(lv, n) for n in (*Levels.SCALES, *Levels.PROBABILITIES)), *stages, *lv.early_leaving)


@contextmanager
def _tracing(records: dict[Key, Record], pathways: list[Pathway]) -> Iterator[None]:
    journey, first_year, exit_, holding = Pathway.journey, Pathway._first_year, Funnel.exit, Pathway._holding
    funnels: dict[int, Pathway] = {}

    def key(pw: Pathway, r: Resident) -> Key:
        return (pw.channel_names[r.channel], r.index)

    def traced_journey(self: Pathway, r: Resident):
        funnels[id(self.funnel)] = self
        pathways.append(self)
        records[key(self, r)] = Record(r.t_arrive, (r.quintile, r.band, *(getattr(r, f) for f in NEEDS.values()),
                                                    r.qual, r.sectors))
        return journey(self, r)

    def traced_first_year(self: Pathway, r: Resident, cell: tuple[int, int]) -> None:
        rec = records[key(self, r)]
        rec.cell, rec.t_start, rec.changed = cell, self.env.now, numbers(r.lv) != numbers(self.levels)
        first_year(self, r, cell)

    def traced_holding(self: Pathway, r: Resident, cap: Capacity, req: Request, stage: int) -> Levels:
        if cap.share_of(req) >= 0:
            records[key(self, r)].held[self.stages[stage]] = self.env.now
        return holding(self, r, cap, req, stage)

    def traced_exit(self: Funnel, r: Resident, reason: str, success: bool = False) -> None:
        pw = funnels[id(self)]
        rec = records[key(pw, r)]
        rec.stage, rec.reason, rec.t_exit = pw.stages[r.stage], reason, self.env.now
        rec.changed = rec.changed or numbers(r.lv) != numbers(pw.levels)
        exit_(self, r, reason, success)

    Pathway.journey, Pathway._first_year, Funnel.exit = traced_journey, traced_first_year, traced_exit  # type: ignore
    Pathway._holding = traced_holding  # type: ignore
    try:
        yield
    finally:
        Pathway.journey, Pathway._first_year, Funnel.exit, Pathway._holding = journey, first_year, exit_, holding  # type: ignore


def trace(params: Params, replication: int = 0) -> tuple[dict[Key, Record], RunOutput]:
    """Every resident of one replication by (channel, arrival index), and the run's output.

    The run ends when everyone referred in the window has started or left (the follow-up), so two runs may
    end at different times: compare what happened before both ended (`until`).
    """
    records: dict[Key, Record] = {}
    with _tracing(records, []):
        model = Model(params, replication)
        out = model.run()
    for rec in records.values():
        rec.run_end = model.env.now
    return records, out


def until(records: dict[Key, Record], t: float) -> dict[Key, Record]:
    """The records as they stood at time `t`: referrals before it, and exits and starts by then."""
    out = {}
    for k, rec in records.items():
        if rec.t_arrive >= t:
            continue
        cut = Record(rec.t_arrive, rec.attributes, run_end=t)
        if rec.t_start <= t:
            cut.cell, cut.t_start = rec.cell, rec.t_start
        if rec.t_exit <= t:
            cut.stage, cut.reason, cut.t_exit = rec.stage, rec.reason, rec.t_exit
        out[k] = cut
    return out


def same_share(reference: dict[Key, Record], option: dict[Key, Record], what: str = "outcome") -> tuple[int, int]:
    """How many of the reference's residents have the same `what` (outcome or path) in the option, of how many."""
    same = sum(1 for k, rec in reference.items() if k in option and getattr(option[k], what)() == getattr(rec, what)())
    return same, len(reference)


def turned_leavers(reference: dict[Key, Record], option: dict[Key, Record]) -> tuple[int, int]:
    """Starters in the same post in both runs who stayed their first year in the reference and left early in the
    option, and how many such same-post starters stayed in the reference."""
    stayers = [k for k, rec in reference.items() if rec.cell is not None and rec.reason == "sustained 12 months"
               and k in option and option[k].cell == rec.cell]
    return sum(1 for k in stayers if option[k].reason == "left within 12 months"), len(stayers)
