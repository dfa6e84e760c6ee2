"""Ranges that respect what they describe, checked over the shipped configs: every scenario's options drawn at
many points of the ranges keep every intervention effect's direction, and every probability the model reads
(the config's own, each change's result, the resolved schedules with the interventions applied, and the
numbers of the residents who hold an intervention's place) stays within [0, 1]."""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import pytest

from sim.analysis.psa import unit_design
from sim.experiment.runner import compose_options
from sim.params.config import params_of
from sim.params.paths import CONFIG_DIR, SCENARIO_DIR
from sim.params.plan import lookup
from sim.params.ranges import Ranges, apply, base_values, parameters, values_at, varied
from sim.params.schedule import Piecewise, Resolved, change
from sim.params.schema import Change, Config

pytestmark = pytest.mark.statistical

SETS = 200  # Sobol points of the ranges, every scenario's options at each


def _probability_fields(obj: Any, path: str = "") -> list[tuple[str, float]]:
    """Every number of the config the schema bounds to [0, 1], with its path."""
    out = []
    if is_dataclass(obj):
        for f in fields(obj):
            v = getattr(obj, f.name)
            p = f"{path}.{f.name}" if path else f.name
            if f.metadata.get("high") == 1.0 and isinstance(v, (int, float)):
                out.append((p, float(v)))
            else:
                out += _probability_fields(v, p)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += _probability_fields(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _probability_fields(v, f"{path}.{i}")
    return out


def _is_probability(c: Config, target: str) -> bool:
    parent, name = target.rsplit(".", 1)
    obj = lookup(c, parent)
    return any(f.name == name and f.metadata.get("high") == 1.0 for f in fields(obj))


def _changes(c: Config) -> list[tuple[tuple[str, str, int], Change]]:
    """Every change and effect of the option's interventions, by (intervention, kind, index)."""
    return [((n, kind, i), ch) for n, iv in c.intervention.items()
            for kind, chs in (("changes", iv.changes), ("effects", iv.serves.effects)) for i, ch in enumerate(chs)]


def _direction(op: str, target: float | None, value: float) -> int:
    """+1 if the change raises its number, -1 if it lowers it, 0 if neither."""
    if op == "scale":
        return int(np.sign(value - 1))
    if op == "add":
        return int(np.sign(value))
    return int(np.sign(value - target)) if target is not None else 1


def _target(c: Config, path: str) -> float | None:
    v = lookup(c, path)
    return float(v) if isinstance(v, (int, float)) else None


def _resolved_probabilities(plan: Resolved) -> dict[str, Piecewise]:
    names = ("dropout", "shortlisting", "interview_pass", "offer_acceptance", "checks_pass")
    out = {n: getattr(plan, n) for n in names}
    out.update({f"support.{s.name}.completion": s.completion for s in plan.support})
    out.update({f"course.{c.name}.completion": c.completion for c in plan.courses})
    out.update({f"first_year_leaving.{r}": p for r, p in plan.first_year_leaving.items()})
    out.update({k: p for k, p in plan.workforce.items()
                if k.endswith(("internal_fill_share", "succession.completion"))})
    return out


def _problems(file: Config, c: Config) -> list[str]:
    """What a drawn config `c` of the option whose files give `file` breaks."""
    bad = []
    for key, ch in _changes(c):
        n, kind, i = key
        orig = (file.intervention[n].changes if kind == "changes" else file.intervention[n].serves.effects)[i]
        want = _direction(orig.op, _target(file, orig.target), orig.value)
        got = _direction(ch.op, _target(c, ch.target), ch.value)
        if got != want:
            bad.append(f"{key}: {orig.op} {orig.value:g} drawn as {ch.value:g} (direction {want} -> {got})")
        t = _target(c, ch.target)
        if t is not None and _is_probability(c, ch.target) and not 0 <= change(ch.op, t, ch.value) <= 1:
            bad.append(f"{key}: {ch.op} {ch.value:g} on {ch.target} = {t:g} gives {change(ch.op, t, ch.value):g}")
    bad += [f"{k} = {v:g}" for k, v in _probability_fields(c) if not 0 <= v <= 1]
    plan = params_of(c).resolved
    probs = _resolved_probabilities(plan)
    bad += [f"resolved {k} = {v:g}" for k, p in probs.items() for v in p.values if not 0 <= v <= 1]
    for sv in plan.serves:  # a holder's number: the region's now, with the intervention's effects on it
        for name, op, value in sv.effects:
            if name in probs:
                for x in probs[name].values:
                    if not 0 <= change(op, x, value, 1.0) <= 1:  # as the model's `Levels` applies them
                        bad.append(f"holder of {sv.name}: {name} {op} {value:g} on {x:g}")
    return bad


def test_every_draw_keeps_each_effects_direction_and_every_probability_in_0_1() -> None:
    scenarios = ",".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
    options = compose_options([f"scenario={scenarios}"], CONFIG_DIR)
    params = parameters({o.name: (o.config, o.files) for o in options}, Ranges.load())
    v = varied(params)
    u = unit_design(SETS, len(v), seed=20240521)
    failures: dict[str, list[str]] = {}
    draws = 0
    for o in options:
        base = base_values(o.config, params)
        for i, row in enumerate(u):
            bad = _problems(o.config, apply(o.config, values_at(params, row, base)))
            draws += 1
            if bad:
                failures.setdefault(o.name, []).append(f"set {i}: " + "; ".join(bad[:3]))
    n = sum(len(f) for f in failures.values())
    detail = "\n".join(f"{name}: {len(f)} of {SETS} sets, e.g. {f[0]}" for name, f in failures.items())
    assert not failures, f"{n} of {draws} drawn configs break a range's promise:\n{detail}"
    assert math.isfinite(draws) and draws == SETS * len(options)
