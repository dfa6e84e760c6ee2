"""Config in, `Params` out: Hydra's composed config to the typed dataclasses (OmegaConf checks keys and types),
then `validate` (ranges, shares, references, periods), then `Params` (`sim.params.plan`: the config and the
changes its interventions make over time).

Structured-config `__post_init__` does not run on OmegaConf merges, so validation is an explicit pass over
the converted objects, driven by the field metadata of `sim.params.schema`.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.params.distributions import Dist, problem
from sim.params.errors import ConfigError, config_error, field_at
from sim.params.kpis import KPI_NAMES
from sim.params.plan import CHANGEABLE, PER_RESIDENT, Params, _changes, _has, lookup, per_resident, stage_names
from sim.params.schema import (
    AGE_BANDS,
    BORROWABLE,
    NEEDS,
    OPS,
    QUALIFICATIONS,
    SECTORS,
    Change,
    Config,
    Engagement,
    Intervention,
    Recruitment,
    Region,
    Serves,
    Support,
)


# ----------------------------------------------------------------------------- loading and validation
def to_config(cfg: DictConfig | dict) -> Config:
    """Convert a composed config to typed dataclasses; unknown keys and wrong types raise ConfigError."""
    try:
        _check_places(cfg)
        typed = isinstance(cfg, DictConfig) and OmegaConf.get_type(cfg) is Config  # Hydra composed it on the schema
        merged = cfg if typed else OmegaConf.merge(OmegaConf.structured(Config), cfg)  # the merge: ~60x to_object
        return cast(Config, OmegaConf.to_object(merged))  # typed by OmegaConf as a container; here the dataclass
    except OmegaConfBaseException as e:
        raise config_error(getattr(e, "full_key", None) or "?", str(e)) from None


def _check_places(cfg: DictConfig | dict) -> None:
    """Each intervention's `places` in range before its changes are resolved from it: `${reach:...}` and
    `${compound:...}` of a negative or huge size give a complex number or infinity, blamed on the wrong key."""
    meta = next(f.metadata for f in fields(Intervention) if f.name == "places")
    interventions = cfg.get("intervention")
    for name, iv in interventions.items() if isinstance(interventions, (dict, DictConfig)) else ():
        places = iv.get("places") if isinstance(iv, (dict, DictConfig)) else None
        if isinstance(places, (int, float)) and not isinstance(places, bool):
            _check_field(places, f"intervention.{name!s}.places", dict(meta))


def load(cfg: DictConfig | dict) -> Params:
    """Composed config -> validated `Params`. Raises ConfigError naming the first bad value."""
    return params_of(to_config(cfg))


def params_of(c: Config) -> Params:
    """Typed config -> validated `Params` (for callers that change the dataclasses before running)."""
    validate(c)
    return Params(c, _changes(c))


def _walk(obj: Any, path: str, check: Callable[[Any, str, dict], None]) -> None:
    if is_dataclass(obj):
        for f in fields(obj):
            p = f"{path}.{f.name}" if path else f.name
            v = getattr(obj, f.name)
            check(v, p, dict(f.metadata))
            _walk(v, p, check)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _walk(v, f"{path}.{k}", check)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if is_dataclass(v):
                _walk(v, f"{path}.{i}", check)


def _check_field(v: Any, path: str, meta: dict) -> None:
    if "low" in meta and isinstance(v, (int, float)) and not isinstance(v, bool):
        lo, hi = meta["low"], meta["high"]
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ConfigError(path, v,
                              f"[{_bound(lo)}, {_bound(hi)}]" if hi < math.inf else f"a finite number >= {_bound(lo)}")
    if "choices" in meta and v not in meta["choices"]:
        raise ConfigError(path, v, f"one of {', '.join(meta['choices'])}")
    if "shares" in meta:
        n = meta["shares"]
        if len(v) != n or any(not (0 <= x <= 1) for x in v) or abs(sum(v) - 1) > 1e-6:
            raise ConfigError(path, list(v), f"{n} shares, each in [0, 1], summing to 1")
    if isinstance(v, Dist):
        bad = problem(v)
        if bad is not None:
            name, value, allowed = bad
            suffix = f" (for a {v.kind} distribution)" if name != "kind" else ""
            raise ConfigError(f"{path}.{name}", value, f"{allowed}{suffix}")


def check_literal(key: str, value: Any, text: str) -> bool:
    """Check a value given for `key` on the command line (`value` as parsed, `text` as typed) against the schema's
    type and range alone, without composing a config, so that a typo is told at once. Raises ConfigError when the
    value can never be valid; returns False when the schema alone cannot tell (not a plain number field)."""
    found = field_at(key)
    if found is None or found[0] not in (int, float):
        return False
    kind, meta = found
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or (kind is int and not isinstance(value, int)):
        raise ConfigError(key, text, "an integer" if kind is int else "a number")
    _check_field(value, key, meta)
    return True


def _bound(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def validate(c: Config) -> None:
    """Range, share, reference and period checks; raises ConfigError on the first problem."""
    _walk(c, "", _check_field)
    h = c.experiment.horizon_days
    if c.experiment.primary_kpi not in KPI_NAMES:
        raise ConfigError("experiment.primary_kpi", c.experiment.primary_kpi, f"one of {', '.join(KPI_NAMES)}")
    for effect in ("sustained_job", "vacancy_year"):
        value, span = getattr(c.experiment, f"wtp_per_{effect}"), getattr(c.experiment, f"wtp_per_{effect}_range")
        if len(span) != 2 or not 0 <= span[0] <= value <= span[1] < math.inf:
            raise ConfigError(f"experiment.wtp_per_{effect}_range", list(span),
                              f"[low, high] with 0 <= low <= experiment.wtp_per_{effect} ({value:g}) <= high")
    if c.experiment.sets_max < c.experiment.sets_min:
        raise ConfigError("experiment.sets_max", c.experiment.sets_max,
                          f">= experiment.sets_min ({c.experiment.sets_min})")
    if c.experiment.max_replications < c.experiment.replications:
        raise ConfigError("experiment.max_replications", c.experiment.max_replications,
                          f">= experiment.replications ({c.experiment.replications})")
    _check_borrows(c.region)
    wf = c.region.workforce
    if len(wf.retirement_rate) != len(AGE_BANDS) or any(not (0 <= r <= 1) for r in wf.retirement_rate):
        raise ConfigError("region.workforce.retirement_rate", wf.retirement_rate,
                          f"{len(AGE_BANDS)} annual rates in [0, 1], one per age band {AGE_BANDS}")
    for name, role in wf.roles.items():
        if role.promoted_from is not None and role.promoted_from not in wf.roles:
            raise ConfigError(f"region.workforce.roles.{name}.promoted_from", role.promoted_from,
                              f"a role: {', '.join(wf.roles)}")
    for gname, g in wf.groups.items():
        if g.sector not in SECTORS:
            raise ConfigError(f"region.workforce.groups.{gname}.sector", g.sector, f"one of {', '.join(SECTORS)}")
        for rname in g.posts:
            if rname not in wf.roles:
                raise ConfigError(f"region.workforce.groups.{gname}.posts.{rname}", rname,
                                  f"a role defined in region.workforce.roles: {', '.join(wf.roles)}")
    for name, channel in c.region.channels.items():
        _check_period(f"region.channels.{name}.period", channel.period.start_day, channel.period.end_day, h)
    p = c.pathway
    for name, sup in p.support.items():
        if sup.needs not in NEEDS:
            raise ConfigError(f"pathway.support.{name}.needs", sup.needs, f"one of {', '.join(NEEDS)}")
    scheduled: dict[str, Engagement | Recruitment | Support] = {
        "engagement": p.engagement, "recruitment": p.recruitment,
        **{f"support.{n}": sup for n, sup in p.support.items()}}
    for part, where in scheduled.items():
        for i, step in enumerate(where.schedule):
            if step.day > h:
                raise ConfigError(f"pathway.{part}.schedule.{i}.day", step.day, f"[0, horizon_days={h:g}]")
    stages = stage_names(p)
    if len(p.training.need_course) != len(QUALIFICATIONS) or any(not (0 <= x <= 1) for x in p.training.need_course):
        raise ConfigError("pathway.training.need_course", p.training.need_course,
                          f"{len(QUALIFICATIONS)} probabilities in [0, 1], one per qualification {QUALIFICATIONS}")
    for name, course in p.training.courses.items():
        key = f"pathway.training.courses.{name}"
        if not course.qualifies_for:
            raise ConfigError(f"{key}.qualifies_for", [], f"at least one role: {', '.join(wf.roles)}")
        for r in course.qualifies_for:
            if r not in wf.roles:
                raise ConfigError(f"{key}.qualifies_for", r, f"a role: {', '.join(wf.roles)}")
        for q in course.qualification:
            if q not in QUALIFICATIONS:
                raise ConfigError(f"{key}.qualification", q, f"one of {', '.join(QUALIFICATIONS)}")
        for s in course.sectors:
            if s not in SECTORS:
                raise ConfigError(f"{key}.sectors", s, f"one of {', '.join(SECTORS)}")
    for name, iv in c.intervention.items():
        key = f"intervention.{name}"
        _check_period(key, iv.start_day, iv.end_day, h)
        if iv.cost.person_stage is not None and iv.cost.person_stage not in stages:
            raise ConfigError(f"{key}.cost.person_stage", iv.cost.person_stage, f"one of {', '.join(stages)}")
        if iv.cost.per_person > 0 and iv.cost.person_stage is None:
            raise ConfigError(f"{key}.cost.person_stage", None, f"a stage when per_person > 0: {', '.join(stages)}")
        if iv.cost.person_channel is not None and iv.cost.person_channel not in c.region.channels:
            raise ConfigError(f"{key}.cost.person_channel", iv.cost.person_channel,
                              f"a channel: {', '.join(c.region.channels)}")
        for i, ch in enumerate(iv.changes):
            _check_change(c, f"{key}.changes.{i}", ch,
                          any(fnmatch.fnmatchcase(ch.target, pat) for pat in CHANGEABLE), ", ".join(CHANGEABLE))
            succession = fnmatch.fnmatchcase(ch.target, "region.workforce.roles.*.succession.*")
            if succession and c.region.workforce.roles[ch.target.split(".")[3]].promoted_from is None:
                raise ConfigError(f"{key}.changes.{i}.target", ch.target,
                                  "a role with promoted_from (succession participants come from the role below)")
        _check_serves(c, f"{key}.serves", iv.serves, stages)


def _check_change(c: Config, key: str, ch: Change, allowed: bool, paths: str) -> None:
    """A change's op, target (`allowed`: it matches one of `paths`) and value."""
    if ch.op not in OPS:
        raise ConfigError(f"{key}.op", ch.op, f"one of {', '.join(OPS)}")
    if not allowed or not _has(c, ch.target):
        raise ConfigError(f"{key}.target", ch.target, "an existing config path matching one of: " + paths)
    target = lookup(c, ch.target)
    if isinstance(target, Dist) and ch.op != "scale":
        raise ConfigError(f"{key}.op", ch.op, "scale (a distribution can only be scaled)")
    if not isinstance(target, (Dist, int, float)) or isinstance(target, bool):
        raise ConfigError(f"{key}.target", ch.target, "a number or a distribution")
    if not math.isfinite(ch.value) or (ch.op != "add" and ch.value < 0):
        raise ConfigError(f"{key}.value", ch.value, "a finite number (>= 0 unless op is add)")


def _check_serves(c: Config, key: str, sv: Serves, stages: tuple[str, ...]) -> None:
    """An intervention's own places: a stage with a capacity of places, and effects read after a place is held."""
    own = ("engagement", *c.pathway.support)  # the stages whose places are held (`Capacity`)
    if sv.stage is None:
        if sv.effects:
            raise ConfigError(f"{key}.stage", None, f"the stage whose places carry the effects: {', '.join(own)}")
        return
    if sv.stage not in own:
        raise ConfigError(f"{key}.stage", sv.stage, f"a stage with places of its own: {', '.join(own)}")
    at = stages.index(sv.stage)
    for i, ch in enumerate(sv.effects):
        ekey = f"{key}.effects.{i}"
        found = per_resident(ch.target)
        _check_change(c, ekey, ch, found is not None, ", ".join(PER_RESIDENT))
        assert found is not None  # `_check_change` raised otherwise
        name, stage = found
        if stages.index(stage) < at or name == f"support.{sv.stage}.patience":
            raise ConfigError(f"{ekey}.target", ch.target,
                              f"a number the journey reads after a place at {sv.stage} is held (a later stage, "
                              f"or this stage's duration or completion)")


def _check_borrows(r: Region) -> None:
    """A region that borrows says what, from a known list, and from whom; one that names a lender borrows."""
    for what in r.borrows:
        if what not in BORROWABLE:
            raise ConfigError("region.borrows", what, f"one of {', '.join(BORROWABLE)}")
    if len(set(r.borrows)) != len(r.borrows):
        raise ConfigError("region.borrows", list(r.borrows), "each item once")
    if r.borrows and not r.borrows_from.strip():
        raise ConfigError("region.borrows_from", r.borrows_from, "the region borrowed from, when region.borrows is set")
    if r.borrows_from.strip() and not r.borrows:
        raise ConfigError("region.borrows", [], f"what is borrowed from {r.borrows_from}: {', '.join(BORROWABLE)}")
    if r.borrows_from.strip() == r.label:
        raise ConfigError("region.borrows_from", r.borrows_from, "another region than this one")


def _check_period(key: str, start: float, end: float | None, h: float) -> None:
    if not 0 <= start <= h:
        raise ConfigError(f"{key}.start_day", start, f"[0, horizon_days={h:g}]")
    if end is not None and not start < end <= h:
        raise ConfigError(f"{key}.end_day", end, f"(start_day={start:g}, horizon_days={h:g}]")
