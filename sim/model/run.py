"""One replication of one region, from parameters and streams to records.

Pure simulation: no files, no Hydra. `simulate` builds the model once per replication,
runs it to the horizon and returns plain tidy rows (`RunOutput`).
"""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from sim.model.capacity import Cohorts
from sim.model.clock import Environment
from sim.model.costs import programme_costs
from sim.model.pathway import Pathway
from sim.model.workforce import Workforce, calibrate
from sim.params.kpis import FLOW_KPIS, SUCCESSION_KPIS
from sim.params.plan import Params
from sim.params.streams import Streams


@dataclass
class RunOutput:
    """Everything one replication reports, as tidy rows."""

    replication: int
    kpis: list[tuple[str, str, float]] = field(default_factory=list)  # (kpi, group, value)
    timeseries: list[tuple[float, str, str, int, int, int]] = field(default_factory=list)
    funnel: list[dict] = field(default_factory=list)
    capacities: list[dict] = field(default_factory=list)
    conservation: dict = field(default_factory=dict)
    events: int = 0
    residents: int = 0


class Model:
    """One replication: the environment, the demand side and the supply side, wired together.

    The timeline: the clock starts at -warmup_days, so that adviser caseloads, courses and first
    years are populated (by the region's existing referral routes; no intervention is active
    before day 0) when the reported window [0, horizon] begins. Staffing is measured over the
    window. Referrals stop at the horizon; the follow-up then runs on until every resident
    referred in the window has started in post or left the pathway (at most followup_days), so
    the residents' outcomes and the per-person costs cover the same people. Options end at the
    horizon (`_costs`): the follow-up runs on the region's own places, rates and probabilities.
    """

    def __init__(self, params: Params, replication: int):
        c = params.config
        self.params = params
        self.replication = replication
        self.env = Environment(initial_time=-c.experiment.warmup_days)
        self.streams = Streams(c.experiment.seed, replication)
        ex = c.experiment
        self.horizon = ex.horizon_days
        self.warmup = ex.warmup_days
        self.followup = ex.followup_days
        wfc = c.region.workforce
        plan = params.resolved
        self.workforce = Workforce(self.env, wfc, self.streams.generator, ex.workforce_step_days,
                                   wfc.bau or calibrate(wfc), plan.workforce.__getitem__)
        self.pathway = Pathway(self.env, plan, self.streams, self.workforce, self.horizon + self.followup)
        self.env.process(self._record(ex.record_every_days))
        if self.warmup > 0:
            self.env.process(self._end_warmup())

    def _record(self, every: float):
        wf, funnel = self.workforce, self.pathway.funnel
        if self.env.now < 0:
            yield self.env.timeout(-self.env.now)  # the time series covers the reported window
        while True:
            wf.record()
            if self.env.now >= funnel.t0:
                funnel.snapshot()
            if self.env.now + every > self.horizon:
                return
            yield self.env.timeout(every)

    def _end_warmup(self):
        yield self.env.timeout(-self.env.now)
        self.workforce.reset_stats()
        self.pathway.funnel.reset_stats()
        for cap in self.pathway.capacities:
            cap.reset_stats()

    def run(self) -> RunOutput:
        env, wf, funnel = self.env, self.workforce, self.pathway.funnel
        out = RunOutput(self.replication)
        with _gentle_gc():
            env.run(until=self.horizon)
            wf._accumulate()
            if not wf.samples or wf.samples[-1][0] < self.horizon:
                wf.record()
            self._staffing(out)  # the window's staffing, capacities and funnel, before the follow-up
            self._timeseries(out)
            self._funnel(out)
            self._capacities(out)
            f = funnel  # conservation at the horizon: everyone who arrived is in exactly one stage or has left
            out.conservation = {"arrived": f.arrived, "in_stage": sum(f.current), "exited": sum(f.exits.values()),
                                "completed_first_year": f.successes,
                                "by_stage": dict(zip(self.pathway.stages, f.current)),
                                # counted apart from the funnel: resident processes returned, starters in post
                                "journeys_ended": self.pathway.journeys_ended,
                                "first_year_in_post": int(wf.first_year.sum())}
            funnel.close_window(self.horizon)
            for s, row in enumerate(out.funnel):  # the stays that overlap the window, timed within it
                row["arrival_rate"] = funnel.stays[s] / row["span"]  # lambda: present at t0 or entering, per day
                row["mean_stay"] = funnel.stay_time[s] / funnel.stays[s] if funnel.stays[s] else 0.0  # W
            end = self.horizon + self.followup
            while funnel.pending > 0 and env.now < end:
                env.run(until=min(env.now + 30.0, end))
        out.events = env.processed_events()
        out.residents = funnel.arrived
        self._residents(out)
        return out

    # --- tidy rows
    def _staffing(self, out: RunOutput) -> None:
        """The reported window's demand side and capacities: vacancies, staff in post, flows."""
        wf, pw = self.workforce, self.pathway
        rows = out.kpis
        span = self.horizon
        vd, pd_ = wf.vacancy_days, wf.post_days
        exists = wf.exists
        flows = wf.flows

        def cell_rows(label: str, mask: np.ndarray) -> None:
            v, p = float(vd[mask].sum()), float(pd_[mask].sum())
            rows.append(("vacancy_days", label, v))
            rows.append(("vacancies_mean", label, v / span))
            rows.append(("vacancy_rate", label, _ratio(v, p)))
            rows.append(("staff_in_post_mean", label, (p - v) / span))  # time-average establishment less vacancies
            rows.append(("bau_hires", label, float(flows["bau_hires"][mask].sum())))
            rows.append(("programme_starts", label, float(flows["programme_starts"][mask].sum())))

        cell_rows("all", exists)
        for sector in dict.fromkeys(wf.group_sector):
            m = exists & np.array([s == sector for s in wf.group_sector])[None, :]
            cell_rows(f"sector:{sector}", m)
        for gi, g in enumerate(wf.groups):
            m = np.zeros_like(exists)
            m[:, gi] = exists[:, gi]
            cell_rows(f"employer:{g}", m)
        for ri, r in enumerate(wf.roles):
            m = np.zeros_like(exists)
            m[ri, :] = exists[ri, :]
            cell_rows(f"role:{r}", m)
        rows.append(("vacancies_end", "all", float(wf.vacancies().sum())))
        rows.append(("establishment_end", "all", float(wf.establishment.sum())))
        rows.append(("staff_in_post_start", "all", float(wf.in_post_at_reset)))
        rows.append(("staff_in_post_end", "all", float(wf.in_post().sum())))
        rows.append(("programme_staff_in_post_mean", "all", wf.programme_days / span))
        for k in (*FLOW_KPIS, *SUCCESSION_KPIS):
            if k not in ("bau_hires", "programme_starts"):
                rows.append((k, "all", float(flows[k].sum())))
        for cap in pw.capacities:
            s = cap.summary(self.horizon)
            for k in ("utilisation", "mean_wait", "reneged", "mean_queue"):
                rows.append((k, f"capacity:{cap.name}", s[k]))

    def _residents(self, out: RunOutput) -> None:
        """Residents referred in the window, followed to their outcome, and what the programme cost for them."""
        wf, pw = self.workforce, self.pathway
        o = pw.outcomes
        counts = o.counts()
        rows = out.kpis
        # referrals and programme hires, with zero rows so every replication has the same rows
        for i, name in enumerate(pw.channel_names):
            rows.append(("referrals", f"channel:{name}", float(o.referrals.get(i, 0))))
        rows.append(("referrals", "all", float(sum(o.referrals.values()))))
        groups = (["all", "parents", "health_condition"] + [f"quintile:{q}" for q in range(1, 6)]
                  + [f"role:{r}" for r in wf.roles] + [f"employer:{g}" for g in wf.groups]
                  + [f"channel:{n}" for n in pw.channel_names])
        for kpi in ("hires", "net_hires"):
            for g in groups:
                if kpi == "net_hires" and g in ("parents", "health_condition"):
                    continue
                rows.append((kpi, g, counts.get((kpi, g), 0.0)))
        for kpi in ("sustained_6m", "sustained_12m"):
            for g in ["all"] + [f"role:{r}" for r in wf.roles]:
                rows.append((kpi, g, counts.get((kpi, g), 0.0)))
        for q in range(1, 6):
            rows.append(("sustained_12m", f"quintile:{q}", counts.get(("sustained_12m", f"quintile:{q}"), 0.0)))
        get = lambda k: counts.get((k, "all"), 0.0)  # noqa: E731
        rows.append(("net_sustained_12m", "all", get("net_sustained_12m")))
        rows.append(("early_leavers", "all", get("early_leavers")))
        rows.append(("sustained_6m_rate", "all", _ratio(get("sustained_6m"), get("eligible_6m"))))
        rows.append(("sustained_12m_rate", "all", _ratio(get("sustained_12m"), get("eligible_12m"))))
        rows.append(("time_to_start_mean", "all", o.to_start.mean() if o.to_start.n else math.nan))
        rows.append(("not_followed_up", "all", float(pw.funnel.pending)))  # still on the pathway at the follow-up cap
        self._costs(out)

    def _costs(self, out: RunOutput) -> None:
        """What the programme cost (`sim.model.costs`) and how many residents held an intervention's own places."""
        out.kpis.extend(programme_costs(self.params, self.pathway.outcomes.referrals, self.pathway.usage, self.horizon))
        pw = self.pathway
        for sv, n in zip(pw.plan.serves, pw.served):
            out.kpis.append(("served", f"intervention:{sv.name}", float(n)))

    def _timeseries(self, out: RunOutput) -> None:
        wf = self.workforce
        for t, est, inpost, vac in wf.samples:
            for ri, r in enumerate(wf.roles):
                for gi, g in enumerate(wf.groups):
                    if wf.exists[ri, gi]:
                        out.timeseries.append((t, g, r, int(est[ri, gi]), int(inpost[ri, gi]), int(vac[ri, gi])))

    def _funnel(self, out: RunOutput) -> None:
        f = self.pathway.funnel
        pw = self.pathway
        waits = {c.name: c for c in pw.capacities}
        stage_caps = {"engagement": ["advisers"], "recruitment": ["interview_slots"],
                      "training": [n for n in waits if n.startswith("course:")],
                      **{st.name: [st.cap.name] for st in pw.support}}
        span = (self.horizon - f.t0) or 1.0
        for s, name in enumerate(pw.stages):
            reasons = {reason: n for (st, reason), n in f.left.items() if st == s}
            caps = [waits[n] for n in stage_caps.get(name, [])]
            n_w = sum(c.waits.n for c in caps)
            out.funnel.append({
                "stage": name, "entered": f.entered[s], "in_stage_end": f.current[s],
                "left": sum(reasons.values()), "reasons": reasons,
                "mean_wait": sum(c.waits.total for c in caps) / n_w if n_w else 0.0,
                "p90_wait": max((c.waits.quantile(0.9) for c in caps), default=0.0),
                "mean_in_stage": f.time_in_stage(s, self.horizon) / span,
                "mean_in_stage_sampled": (sum(snap[s] for snap in f.snapshots) / len(f.snapshots)
                                          if f.snapshots else 0.0),
                "mean_time_in_stage": f.time_in_stage(s, self.horizon) / f.entered[s] if f.entered[s] else 0.0,
                "span": span,
            })

    def _capacities(self, out: RunOutput) -> None:
        for cap in self.pathway.capacities:
            row: dict[str, str | float] = {"capacity": cap.name,
                                            "kind": "cohorts" if isinstance(cap, Cohorts) else "places"}
            row.update(cap.summary(self.horizon))
            out.capacities.append(row)


@contextmanager
def _gentle_gc():
    """Collect cyclic garbage less often while simulating.

    A run allocates millions of short-lived events and generators; with CPython's default
    thresholds the collector keeps re-scanning every live resident, which made the cost per
    resident grow with their number (40% of the time at 100,000 residents). With these thresholds
    no full collection falls within a run, so nothing is frozen: a finished run's objects (the
    model is a web of references, freed by the collector, not by reference counting) are
    collected as usual between runs. (Freezing what was alive at each start froze the previous
    run's garbage for good; a full collection before each freeze cost 20% of a default-region run.)
    The settings are restored afterwards.
    """
    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _ratio(a: float, b: float) -> float:
    """a / b, or NaN when b is zero (a cost per hire with no hires is undefined, not zero)."""
    return a / b if b else math.nan


def simulate(params: Params, replication: int) -> RunOutput:
    """Run replication `replication` of `params` and return its records."""
    return Model(params, replication).run()
