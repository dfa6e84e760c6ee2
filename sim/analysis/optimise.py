"""The best mix within a budget: integer intervention sizes searched under a cost constraint.

The search space is every intervention of the given options (the seed programmes), merged
into the reference option's config. The size of an intervention configured with `places` p0 > 0
is an integer k from 0 to its bound: the intervention as its own file sizes it at `places` = k
(schema.Sizing: the rule a sweep's `intervention.NAME.places=k` override follows), and k = 0
removes it. One costed per person (p0 = 0) is off or on. A mix's programme cost is random
(per-person costs follow the people served), so the constraint is on its upper 97.5% prediction
bound (`cost_bound`): a fresh replication's cost exceeds it with probability at most 2.5%, and the bound tightens as the
candidate gets more replications. Candidates are simulated with common random numbers (the
same replications for all), searched by Optuna's TPE with the cost bound <= budget constraint, budget
by budget, each search starting from the previous budget's best (so in-sample the frontier
cannot fall), and TPE's best polished by local search one size step at a time; the leading
candidates are re-run with more replications (ranking and selection: of those not clearly behind the
best mean, the cheapest is chosen), and the chosen mix at each
budget is re-run on fresh seeds against the reference (its effect) and against the best seed
programme within the same budget (out of sample), with paired CIs.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.analysis.psa import PSA_STREAMS, Study, Uncertainty, differences, uncertainty
from sim.experiment.runner import Option, Runner, Task
from sim.experiment.stats import Interval, paired_difference, upper_prediction_bound
from sim.params.config import params_of
from sim.params.errors import ConfigError
from sim.params.kpis import KPI
from sim.params.paths import SIZES
from sim.params.ranges import apply, base_values, values_at
from sim.params.schema import Config, Intervention, Sizing

FRESH = 1 << 22  # replication indices of out-of-sample runs (the search uses 0, 1, ...)
COST_LEVEL = 0.975  # a fresh replication's cost exceeds the bound a mix is constrained on with probability <= 2.5%


def cost_bound(costs: np.ndarray) -> float:
    """The cost a mix is held to: the upper COST_LEVEL prediction bound of one fresh replication's cost
    (its value when the cost does not vary)."""
    return upper_prediction_bound(costs, COST_LEVEL)


def merged(reference: Option, options: list[Option]) -> Sizes:
    """The search space: the reference config with every option's interventions and added courses (the first
    definition wins), each intervention sized by the composed config it came from."""
    c = copy.deepcopy(reference.config)
    own = Sizing(reference.raw)
    sizing = dict.fromkeys(c.intervention, own)
    for o in options:
        new = [name for name in o.config.intervention if name not in c.intervention]
        own = Sizing(o.raw) if new else own
        for name in new:
            c.intervention[name] = copy.deepcopy(o.config.intervention[name])
            sizing[name] = own
        for name, course in o.config.pathway.training.courses.items():
            c.pathway.training.courses.setdefault(name, copy.deepcopy(course))
    return Sizes(c, sizing)


def bounds(c: Config, path: Path = SIZES) -> dict[str, int]:
    """Upper bound of each intervention's size, from configs/decide/sizes.yaml (validated)."""
    data = yaml.safe_load(path.read_text()) or {}
    factor = data.get("default_max_factor")
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not factor >= 1:
        raise ConfigError("default_max_factor", factor, "a number >= 1", str(path))
    explicit = data.get("max") or {}
    out = {}
    for name, iv in c.intervention.items():
        if name in explicit:
            m = explicit[name]
            if not isinstance(m, int) or isinstance(m, bool) or m < 1:
                raise ConfigError(f"max.{name}", m, "an integer >= 1", str(path))
        else:
            m = max(1, math.ceil(iv.places * factor)) if iv.places > 0 else 1
        out[name] = m
    return out


class Sizes:
    """The interventions of a search space at integer sizes, each by its own file's rule (schema.Sizing), cached."""

    def __init__(self, c: Config, sizing: dict[str, Sizing]):
        self.c, self.sizing = c, sizing
        self._at: dict[tuple[str, int], Intervention] = {}

    def at(self, name: str, k: int) -> Intervention:
        """Intervention `name` at size k >= 1: `places` = k, or as configured when it has no places (per person)."""
        iv = self.c.intervention[name]
        if iv.places <= 0:
            return iv
        if (name, k) not in self._at:
            self._at[(name, k)] = self.sizing[name].at(name, float(k))
        return self._at[(name, k)]

    def values(self, sizes: dict[str, int]) -> tuple[dict[str, float], tuple[str, ...]]:
        """The config values (every number of each sized intervention, by path) and the removed interventions
        that give `sizes`."""
        values: dict[str, float] = {}
        drop = []
        for name, k in sizes.items():
            if k == 0:
                drop.append(name)
            else:
                values.update(_numbers(self.at(name, k), f"intervention.{name}"))
        return values, tuple(drop)


def _numbers(obj: Any, path: str) -> dict[str, float]:
    """The numbers of a dataclass, by config path (lists by index, dicts by key; text, flags and None left out)."""
    if is_dataclass(obj):
        items: list[tuple[Any, Any]] = [(f.name, getattr(obj, f.name)) for f in fields(obj)]
    elif isinstance(obj, (list, dict)):
        items = list(obj.items() if isinstance(obj, dict) else enumerate(obj))
    else:
        return {path: float(obj)} if isinstance(obj, (int, float)) and not isinstance(obj, bool) else {}
    return {k: v for key, x in items for k, v in _numbers(x, f"{path}.{key}").items()}


def label(sizes: dict[str, int]) -> str:
    return " ".join(f"{n}={k}" for n, k in sizes.items() if k > 0) or "nothing"


class Search:
    """Evaluations of candidate mixes (cached by mix), with common random numbers."""

    def __init__(self, sizes: Sizes, runner: Runner, objective: str, replications: int):
        self.sizes, self.c, self.runner, self.objective, self.reps = sizes, sizes.c, runner, objective, replications
        self.sign = KPI[objective].sign  # maximise sign x KPI
        self.windows = params_of(self.c).intervention_windows()  # the days each intervention is charged for

    def fixed_cost(self, sizes: dict[str, int]) -> float:
        """The part of a mix's cost that does not depend on the simulation (fixed, and per place over the
        days it is charged for, as the model charges it): a lower bound of its cost."""
        total = 0.0
        for name, k in sizes.items():
            if k == 0:
                continue
            iv = self.sizes.at(name, k)
            start, end = self.windows[name]
            total += iv.cost.fixed + iv.cost.per_place_per_year * iv.places * max(0.0, end - start) / 365.0
        return total

    def task(self, sizes: dict[str, int], reps: tuple[int, ...], tag: str = "") -> Task:
        values, drop = self.sizes.values(sizes)
        return Task(f"mix{tag}[{reps[0]}+{len(reps)}]:{label(sizes)}", {"mix": values}, reps, {"mix": drop}, ("mix",))

    def evaluate(self, batch: list[dict[str, int]], reps: tuple[int, ...] | None = None,
                 tag: str = "") -> list[tuple[np.ndarray, np.ndarray]]:
        """(objective values, costs) per replication of each mix."""
        reps = reps or tuple(range(self.reps))
        tasks = [self.task(s, reps, tag) for s in batch]
        records = self.runner.run(tasks)
        return [self._values(records[t.id]["kpis"]["mix"], reps) for t in tasks]

    def options(self, names: list[str], reps: tuple[int, ...], tag: str = "") -> list[tuple[np.ndarray, np.ndarray]]:
        """(objective values, costs) per replication of configured options (seed programmes, the reference)."""
        tasks = [Task(f"seed{tag}:{n}", {}, reps, only=(n,)) for n in names]
        records = self.runner.run(tasks)
        return [self._values(records[t.id]["kpis"][n], reps) for t, n in zip(tasks, names)]

    def _values(self, rows: dict, reps: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([self.sign * rows[str(r)][self.objective] for r in reps]),
                np.array([rows[str(r)]["programme_cost"] for r in reps]))

    def difference(self, y: np.ndarray, z: np.ndarray) -> Interval:
        """The paired difference y - z of two runs on the same seeds, on the objective's own scale (values
        from `evaluate` or `options` carry the sign that makes larger better)."""
        d = paired_difference(y, z)
        low, high = sorted((d.low * self.sign, d.high * self.sign))
        return Interval(d.mean * self.sign, low, high, d.n)


Scored = tuple[dict[str, int], float, float]  # a mix: its sizes, mean objective (larger is better), cost bound


def polish(s: Search, best: Scored, bounds_: dict[str, int], budget: float, seen: dict[str, Scored],
           steps: int) -> None:
    """Local search from `best`: evaluate every mix one step away (one intervention one size up or down) that the
    budget can hold, move to the one with the highest mean if it beats the current mix, and repeat, at most `steps`
    moves; every evaluation joins `seen`. TPE samples the whole box and can leave its best mix's neighbours untried
    (adding one small programme, dropping one that buys nothing)."""
    m, value = best[0], best[1]
    for _ in range(steps):
        near = [x for n, hi in bounds_.items() for k in (m[n] - 1, m[n] + 1) if 0 <= k <= hi
                for x in [{**m, n: k}] if s.fixed_cost(x) <= budget]
        todo = [x for x in near if label(x) not in seen]
        for x, (y, cost) in zip(todo, s.evaluate(todo)):
            seen[label(x)] = (x, float(y.mean()), cost_bound(cost))
        better = [seen[label(x)] for x in near if seen[label(x)][2] <= budget and seen[label(x)][1] > value]
        if not better:
            return
        m, value, _ = max(better, key=lambda v: v[1])


@dataclass(frozen=True)
class Convergence:
    """Whether a budget's search settled: the best feasible mix after half its trials against after all of them."""

    trials: int  # TPE trials run at this budget
    cap: int  # the most it could run
    half: str  # the best mix after half of them (label)
    best: str  # the best after all of them, before the local search
    rounds: int  # 1 when the first `trials` settled; each further round doubled them

    @property
    def converged(self) -> bool:
        return self.half == self.best


def seed_sizes(bounds_: dict[str, int], option: Option) -> dict[str, int]:
    """A seed programme as a mix of the search space: each of its interventions at its own places (on when costed
    per person), every other one 0; clipped to the search bounds."""
    out = {}
    for name, hi in bounds_.items():
        iv = option.config.intervention.get(name)
        out[name] = 0 if iv is None else min(hi, 1 if iv.places <= 0 else max(1, round(iv.places)))
    return out


def _best(seen: dict[str, Scored], budget: float) -> str:
    feasible = [v for v in seen.values() if v[2] <= budget]
    return label(max(feasible, key=lambda v: v[1])[0]) if feasible else ""


def search(s: Search, budgets: list[float], bounds_: dict[str, int], trials: int, batch: int, seed: int,
           start: dict[str, int], steps: int = 0, cap: int = 0, seeds: tuple[dict[str, int], ...] = (),
           progress: Callable[[int], None] | None = None
           ) -> tuple[dict[float, list[Scored]], dict[float, Convergence]]:
    """For each budget (ascending): the feasible mixes evaluated, best first, as (sizes, objective, cost bound),
    and whether the search settled. The seed programmes' own mixes (`seeds`) are among the first candidates
    tried, so a programme that fits is never missed. Convergence: when the best feasible mix after half the
    trials is not the best after all of them, the trials are doubled (the same study goes on), up to `cap`;
    TPE's best is then polished by up to `steps` moves of local search. `progress` is told the number of
    trials asked after each batch (so that a caller can say how far the search is)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seen: dict[str, Scored] = {}
    best_prev = start
    out, settled = {}, {}
    cap = max(cap, trials)
    for b in sorted(budgets):
        with warnings.catch_warnings():  # optuna calls constrained TPE experimental; its behaviour is what we test
            warnings.filterwarnings("ignore", message="Argument ``constraints_func`` is an experimental feature")
            sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=lambda t: [t.user_attrs["excess"]])
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.enqueue_trial(best_prev)
        for mix in seeds:
            study.enqueue_trial(mix)
        for name in bounds_:  # each intervention alone at size 1: a feasible start for small budgets
            study.enqueue_trial({**{n: 0 for n in bounds_}, name: 1})
        done, target, rounds = 0, trials, 1
        best_after = {0: _best(seen, b)}  # the best feasible mix after each batch, by trials done
        while True:
            while done < target:
                asked = [study.ask() for _ in range(min(batch, target - done))]
                mixes = [{n: t.suggest_int(n, 0, m) for n, m in bounds_.items()} for t in asked]
                cheap = [s.fixed_cost(m) <= b for m in mixes]  # over budget whatever the simulation: not run
                results = s.evaluate([m for m, ok in zip(mixes, cheap) if ok])
                it = iter(results)
                for t, m, ok in zip(asked, mixes, cheap):
                    if ok:
                        y, cost = next(it)
                        value, c = float(y.mean()), cost_bound(cost)
                        seen[label(m)] = (m, value, c)
                    else:
                        value, c = -math.inf, s.fixed_cost(m)
                    t.set_user_attr("excess", c - b)
                    study.tell(t, value if math.isfinite(value) else -1e18)
                done += len(asked)
                best_after[done] = _best(seen, b)
                if progress is not None:
                    progress(len(asked))
            half = best_after[max(n for n in best_after if n <= target // 2)]
            if half == best_after[done] or target >= cap:
                break
            target, rounds = min(2 * target, cap), rounds + 1
        settled[b] = Convergence(done, cap, half, best_after[done], rounds)
        feasible = sorted((v for v in seen.values() if v[2] <= b), key=lambda v: -v[1])
        if feasible and steps:
            polish(s, feasible[0], bounds_, b, seen, steps)
            feasible = sorted((v for v in seen.values() if v[2] <= b), key=lambda v: -v[1])
        out[b] = feasible
        if feasible:
            best_prev = feasible[0][0]
    return out, settled


@dataclass
class Choice:
    """The mix chosen at a budget, on the longer re-run of the leading candidates."""

    mix: dict[str, int]
    bound: float  # the cost bound it was held to
    cost: float  # its mean cost
    rival: dict[str, int] | None  # the best other candidate by mean (None when there is no other)
    rival_cost: float
    sep: Interval | None  # mix - rival on the same seeds, on the scale where larger is better
    cheaper: bool  # chosen over a better mean it is not clearly behind, as the cheapest such candidate


def select(s: Search, candidates: list[Scored], budget: float, top: int, factor: int) -> Choice | None:
    """Re-run the leading candidates with `factor` times the replications (same seeds) and keep those whose cost
    bound is within the budget on the longer run. Of these, the ones not clearly behind the best mean (paired 95%
    CI of best - candidate reaching 0) cannot be told apart by the simulation, so the cheapest of them (mean cost)
    is chosen: spending more for a difference within the noise is not a better buy. A candidate with a missing
    value (NaN) on any seed cannot be compared and is left out. None when none stays feasible."""
    lead = [c[0] for c in candidates[:top]]
    results = s.evaluate(lead, tuple(range(s.reps * factor)))
    ok = [i for i, (y, cost) in enumerate(results) if cost_bound(cost) <= budget and np.isfinite(y).all()]
    if not ok:
        return None
    mean = {i: float(results[i][0].mean()) for i in ok}
    cost = {i: float(results[i][1].mean()) for i in ok}
    best = max(ok, key=lambda i: (mean[i], -cost[i]))
    level = [best, *(i for i in ok if i != best and paired_difference(results[best][0], results[i][0]).low <= 0)]
    pick = min(level, key=lambda i: (cost[i], -mean[i]))
    others = [i for i in ok if i != pick]
    rival = max(others, key=lambda i: (mean[i], -cost[i])) if others else None
    return Choice(lead[pick], cost_bound(results[pick][1]), cost[pick], None if rival is None else lead[rival],
                  math.nan if rival is None else cost[rival],
                  None if rival is None else paired_difference(results[pick][0], results[rival][0]), pick != best)


def recommended_yaml(space: Sizes, reference: Config, sizes: dict[str, int], budget: float, objective: str,
                     programme: Option | None = None) -> str:
    """A scenario file of the mix, every intervention written out in full (`pathways scenario=...` runs it); with
    `programme`, of that seed programme as configured (it did at least as well as the mix found)."""
    values, drop = space.values(sizes)
    m = apply(space.c, values) if programme is None else programme.config
    ivs = {n: _plain(asdict(iv)) for n, iv in m.intervention.items() if programme is not None or n not in drop}
    courses = {n: _plain(asdict(co)) for n, co in m.pathway.training.courses.items()
               if n not in reference.pathway.training.courses}
    body: dict[str, Any] = {"scenario_name": f"recommended_{int(budget)}", "intervention": ivs}
    if courses:
        body["pathway"] = {"training": {"courses": courses}}
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=False)
    lines = []
    for line in text.splitlines():
        if any(ch.isdigit() for ch in line.split(":", 1)[-1]) and ":" in line and "label" not in line:
            line += f"  # derived: pathways-decide optimise (budget GBP {budget:,.0f}); the intervention's own files"
        lines.append(line)
    what = (f"mix within GBP {budget:,.0f}, objective {objective}: {label(sizes)}" if programme is None else
            f"programme within GBP {budget:,.0f}, objective {objective}: the seed programme {programme.name} as "
            "configured (no mix the search found did better out of sample)")
    head = ["# @package _global_",
            f"# Recommended {what}.",
            "# Written by pathways-decide optimise. Sizes were searched; every other number is copied from the",
            "# intervention and scenario files it came from (see their sources). Run: copy to scenarios/ and",
            f"#   pathways scenario=recommended_{int(budget)}   (or: pathways --config-dir DIR scenario=recommended)",
            "defaults:", "  - override /intervention: []"]
    return "\n".join(head + lines) + "\n"


def _plain(x: Any) -> Any:
    """Dataclass dicts for YAML: infinite values as .inf, Nones dropped."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items() if v is not None and v != []}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def out_of_sample(s: Search, mix: dict[str, int], programmes: list[str], reference: str, reps: int,
                  budget: float) -> dict[str, Any]:
    """The mix against the reference and against every seed programme on the same fresh seeds. A programme fits
    when its cost bound on those seeds (COST_LEVEL, as the mix was held to) is within the budget; the best
    fitting one by mean (`seed_programme`) is compared in the top-level keys. When it does at least as well as
    the mix out of sample, it is what to fund (`recommend` "programme"): the search found nothing better."""
    fresh = tuple(FRESH + r for r in range(reps))
    (y, cost), = s.evaluate([mix], fresh, tag="@fresh")
    (z, _), = s.options([reference], fresh, tag="@fresh")
    e = s.difference(y, z)
    out: dict[str, Any] = {"mix": label(mix), "mix_mean": float(y.mean()) * s.sign, "mix_cost": float(cost.mean()),
                           "mix_cost_max": float(cost.max()), "budget": budget,
                           "budget_used": float(cost.mean()) / budget,
                           "within_budget": bool(cost.max() <= budget), "over_budget": int((cost > budget).sum()),
                           "reference": reference, "effect_mean": e.mean, "effect_low": e.low, "effect_high": e.high,
                           "n": e.n, "recommend": "mix", "programmes": []}
    runs = dict(zip(programmes, s.options(programmes, fresh, tag="@fresh")))
    for name, (w, w_cost) in runs.items():
        d, pe = s.difference(y, w), s.difference(w, z)
        out["programmes"].append({
            "name": name, "mean": float(w.mean()) * s.sign, "cost": float(w_cost.mean()),
            "cost_max": float(w_cost.max()), "cost_bound": cost_bound(w_cost), "fits": cost_bound(w_cost) <= budget,
            "effect_mean": pe.mean, "effect_low": pe.low, "effect_high": pe.high,
            "diff_mean": d.mean, "diff_low": d.low, "diff_high": d.high,
            "mix_better": bool(paired_difference(y, w).low > 0),
            "programme_better": bool(paired_difference(w, y).low > 0)})
    fitting = [p for p in out["programmes"] if p["fits"]]
    if fitting:
        best = max(fitting, key=lambda p: float(runs[p["name"]][0].mean()))
        out.update({"seed_programme": best["name"], "seed_mean": best["mean"], "seed_cost": best["cost"],
                    "diff_mean": best["diff_mean"], "diff_low": best["diff_low"], "diff_high": best["diff_high"],
                    "better": best["mix_better"]})
        if float(runs[best["name"]][0].mean()) >= float(y.mean()):
            out["recommend"] = "programme"
    return out


def parameter_sets(s: Search, study: Study, mix: dict[str, int], names: list[str], sets: int, seed: int
                   ) -> dict[str, Uncertainty]:
    """The mix and the options `names` against the reference over `sets` parameter sets drawn as `psa` draws them
    (`Study.design`: the ranges, the calibrated parameters from the posterior where there is one; the options of a
    set share its quantiles and its random numbers; the mix's sized interventions drawn around its own values), one
    replication a set: each one's expected effect on the objective and its 95% interval (parameters and noise
    together), on the KPI's own scale."""
    u = study.design(sets, seed)
    values, drop = s.sizes.values(mix)
    realised = apply(s.c, values)
    for name in drop:
        realised.intervention.pop(name, None)
    base = base_values(realised, study.params)
    tasks = [Task(f"pset{i}:{label(mix)}",
                  {**study.point(u[i]), "mix": {**values, **values_at(study.params, u[i], base)}},
                  (PSA_STREAMS + i,), {"mix": drop}, ("mix", study.reference, *names)) for i in range(sets)]
    records = s.runner.run(tasks)
    ids = [t.id for t in tasks]
    return {n: uncertainty(np.empty((0, 0)), differences(records, ids, n, study.reference, s.objective))
            for n in ("mix", *names)}
