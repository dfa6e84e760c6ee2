"""Parameter ranges: which numbers are uncertain, their distributions, and how a sample is applied.

Every number of the files an option is composed from (region, pathway, interventions,
scenario) is read with its provenance (`sim.params.provenance`). Its range comes from, in order:
1. an explicit entry in `configs/ranges/<top key>.yaml` (`region`, `pathway`, `intervention`),
   keyed by the dotted config path (glob patterns allowed), with a one-line reason as comment;
2. the default rule of `configs/ranges/rule.yaml`: fixed for settings, decisions, calendars,
   structural zeros and sourced figures; a beta around an assumed probability; a lognormal
   around any other assumed positive number.
Ranges are relative to the value an option runs with, so one range serves every region and an
option whose scenario sets its own value. A sample is a point of the unit hypercube (one
coordinate per varied parameter, the same for every option: paired), mapped through each
distribution's quantile function and written at its path on the option's `Config`.
"""

from __future__ import annotations

import copy
import fnmatch
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import special
from scipy import stats as sps

from sim.params.distributions import Dist
from sim.params.errors import ConfigError
from sim.params.paths import RANGES_DIR
from sim.params.provenance import provenance_rows, split_comment
from sim.params.schedule import change
from sim.params.schema import Change, Config

KINDS = ("fixed", "uniform", "triangular", "beta", "lognormal", "gamma")
Z95 = 1.959963984540054


# ----------------------------------------------------------------------------- range specs
@dataclass(frozen=True)
class Spec:
    """A range as written: a kind and its parameters (absolute, or `rel_*` multiples of the value)."""

    kind: str
    args: dict[str, float]
    reason: str
    file: str  # where it is written (a ranges file, or "rule")
    key: str  # the key or pattern it was written under
    shared: bool = False  # one draw for every number the pattern matches (they come from one figure)

    @property
    def relative(self) -> bool:
        """Centred on the option's value (no absolute bounds, median or mean given)."""
        return self.kind != "fixed" and not ({"low", "high", "median", "mean"} & set(self.args))

    def dist(self, base: float) -> Any:
        """The frozen scipy distribution around `base` (the option's value), or None when fixed."""
        if self.kind == "fixed":
            return None
        family, args = self._family(base)
        return family(*args)

    def ppf(self, q: float, base: float) -> float:
        """The quantile `q` of the range around `base`: `dist(base).ppf(q)` by scipy's special functions (a PSA
        draws hundreds of thousands; a scipy distribution costs a millisecond to freeze)."""
        family, args = self._family(base)
        if family is sps.uniform:
            return args[0] + q * args[1]
        if family is sps.beta:
            return float(special.betaincinv(args[0], args[1], q))
        if family is sps.lognorm:
            return args[2] * math.exp(args[0] * float(special.ndtri(q)))
        if family is sps.gamma:
            return args[2] * float(special.gammaincinv(args[0], q))
        return float(family.ppf(q, *args))

    def _family(self, base: float) -> tuple[Any, tuple[float, ...]]:
        """The scipy family and its arguments (shapes, loc, scale) of the range around `base`."""
        a = self.args
        if self.kind == "uniform":
            lo, hi = _bounds(a, base)
            return sps.uniform, (lo, hi - lo)
        if self.kind == "triangular":
            lo, hi = _bounds(a, base)
            mode = a.get("mode", base)
            return sps.triang, ((mode - lo) / (hi - lo), lo, hi - lo)
        if self.kind == "beta":
            m = a.get("mean", base)
            k = max(a["concentration"], 1.0 / min(m, 1.0 - m))  # never U-shaped: both shapes >= 1
            return sps.beta, (m * k, (1.0 - m) * k)
        if self.kind == "lognormal":
            return sps.lognorm, (math.log(a["factor"]) / Z95, 0.0, a.get("median", base))
        m = a.get("mean", base)  # gamma
        return sps.gamma, (1.0 / a["cv"] ** 2, 0.0, m * a["cv"] ** 2)


def _bounds(a: dict[str, float], base: float) -> tuple[float, float]:
    if "rel_low" in a:
        return a["rel_low"] * base, a["rel_high"] * base
    return a["low"], a["high"]


_ARGS = {  # allowed parameters per kind, and which are required
    "fixed": ((), ()),  # `shared: true|false` is allowed beside any other kind
    "uniform": (("low", "high", "rel_low", "rel_high"), ()),
    "triangular": (("low", "high", "mode", "rel_low", "rel_high"), ()),
    "beta": (("mean", "concentration"), ("concentration",)),
    "lognormal": (("median", "factor"), ("factor",)),
    "gamma": (("mean", "cv"), ("cv",)),
}


def parse_spec(raw: Any, reason: str, file: str, key: str) -> Spec:
    """A validated Spec from a ranges-file value; ConfigError naming the file, key and allowed values."""
    def bad(what: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(f"{key}{'.' + what if what else ''}", value, allowed, file)

    if raw == "fixed" or raw == {"kind": "fixed"}:
        raw = {"kind": "fixed"}
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        kind = raw.get("kind") if isinstance(raw, dict) else raw
        raise bad("kind", kind, f"one of {', '.join(KINDS)} (a mapping like {{kind: beta, concentration: 20}})")
    kind = raw["kind"]
    if not reason.strip():
        raise bad("", raw, "a range with a one-line reason in a comment after it")
    allowed, required = _ARGS[kind]
    args: dict[str, float] = {}
    shared = raw.get("shared", False)
    if not isinstance(shared, bool) or (shared and kind == "fixed"):
        raise bad("shared", shared,
                  "true or false (true: one draw for every number the pattern matches; not for fixed)")
    for name, v in raw.items():
        if name in ("kind", "shared"):
            continue
        if name not in allowed:
            raise bad(name, v, f"parameters of a {kind} range: {', '.join(allowed) or 'none'}")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise bad(name, v, "a finite number")
        args[name] = float(v)
    for name in required:
        if name not in args:
            raise bad(name, None, f"a number (required for a {kind} range)")
    if kind in ("uniform", "triangular"):
        absolute, relative = {"low", "high"} <= set(args), {"rel_low", "rel_high"} <= set(args)
        if absolute == relative:
            raise bad("low", args.get("low"), "either low and high, or rel_low and rel_high (multiples of the value)")
        lo, hi = (args["rel_low"], args["rel_high"]) if relative else (args["low"], args["high"])
        if not lo < hi:
            raise bad("rel_high" if relative else "high", hi, f"a number > {'rel_low' if relative else 'low'} ({lo:g})")
        if relative and not (0 <= lo <= 1 <= hi):
            raise bad("rel_low", lo, "0 <= rel_low <= 1 <= rel_high, so the range holds the value")
        if "mode" in args and not lo <= args["mode"] <= hi:
            raise bad("mode", args["mode"], f"[low, high] = [{lo:g}, {hi:g}]")
    if kind == "beta":
        if not args["concentration"] > 0:
            raise bad("concentration", args["concentration"], "a number > 0 (a + b of the beta)")
        if "mean" in args and not 0 < args["mean"] < 1:
            raise bad("mean", args["mean"], "(0, 1)")
    if kind == "lognormal" and not args["factor"] > 1:
        raise bad("factor", args["factor"], "a number > 1 (95% of the mass within median / factor to median x factor)")
    if kind == "gamma" and not args["cv"] > 0:
        raise bad("cv", args["cv"], "a number > 0")
    for name in ("median", "mean"):
        if kind in ("lognormal", "gamma") and name in args and not args[name] > 0:
            raise bad(name, args[name], "a number > 0")
    return Spec(kind, args, reason.strip(), file, key, shared)


def _top_level(path: Path) -> tuple[dict, dict[str, str]]:
    """A ranges file's top-level mapping and the comment after each top-level key."""
    text = path.read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError("(file)", str(e).splitlines()[0], "valid YAML", str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("(file)", type(data).__name__, "a mapping of config paths to ranges", str(path))
    comments: dict[str, str] = {}
    for line in text.splitlines():
        body, comment = split_comment(line)
        m = re.match(r"^['\"]?([^'\"\s:]+)['\"]?\s*:", body)
        if m:
            comments[m.group(1)] = comment
    return data, comments


def read_ranges_file(path: Path) -> list[Spec]:
    """The explicit ranges of one file, in file order (the first matching pattern wins)."""
    data, comments = _top_level(path)
    return [parse_spec(raw, comments.get(str(key), ""), str(path), str(key)) for key, raw in data.items()]


ELASTICITY = "region.workforce.bau_vacancy_elasticity"


def supply_ends(config_dir: Path, base: float) -> tuple[float, ...]:
    """The ends of the labour-supply elasticity's range (`ranges/region.yaml`, the PSA's range too), around
    a region's value `base`: where the report says what the result would be. Unbounded ranges end at their
    2.5% and 97.5% points; no range (or `fixed`): none."""
    for spec in read_ranges_file(config_dir / "ranges" / "region.yaml"):
        if spec.key == ELASTICITY and spec.kind != "fixed":
            dist = spec.dist(base)
            lo, hi = (float(x) for x in dist.support())
            if not (math.isfinite(lo) and math.isfinite(hi)):
                lo, hi = (float(x) for x in dist.ppf([0.025, 0.975]))
            return round(lo, 6), round(hi, 6)
    return ()


# ----------------------------------------------------------------------------- the default rule
@dataclass(frozen=True)
class Rule:
    """The default rule (configs/ranges/rule.yaml): ranges for numbers without an explicit one."""

    probability: Spec  # an assumed probability strictly between 0 and 1
    positive: Spec  # any other assumed number > 0
    bought: Spec  # the places a change adds that are the places bought (`${...places}`): what is delivered of them
    fixed_keys: tuple[tuple[str, str], ...]  # (pattern, reason): settings, decisions and calendars
    sourced: str  # why a sourced figure without an explicit range is held at its value
    structural: str  # why a 0 (or a probability of 1) is held: something absent or certain by design


def read_rule(path: Path) -> Rule:
    """The default rule, validated: two ranges, the fixed key patterns with reasons, two reasons."""
    data, comments = _top_level(path)
    f = str(path)
    unknown = set(data) - {"probability", "positive", "bought", "fixed_keys", "sourced", "structural"}
    if unknown:
        raise ConfigError(sorted(unknown)[0], "(unknown key)",
                          "probability, positive, bought, fixed_keys, sourced, structural", f)
    specs = {}
    for name, kinds in (("probability", ("beta", "fixed")), ("positive", ("lognormal", "gamma", "fixed")),
                        ("bought", ("uniform", "triangular", "fixed"))):
        if name not in data:
            raise ConfigError(name, None, "a range (e.g. {kind: beta, concentration: 20}) with a reason", f)
        specs[name] = parse_spec(data[name], comments.get(name, ""), f, name)
        if specs[name].kind not in kinds:
            raise ConfigError(f"{name}.kind", specs[name].kind, " or ".join(kinds), f)
    fixed = data.get("fixed_keys")
    if not isinstance(fixed, dict) or not fixed or not all(isinstance(v, str) and v.strip() for v in fixed.values()):
        raise ConfigError("fixed_keys", fixed, "a mapping of config-path patterns to one-line reasons", f)
    for name in ("sourced", "structural"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise ConfigError(name, data.get(name), "a one-line reason", f)
    if specs["bought"].kind != "fixed" and (not specs["bought"].relative or specs["bought"].args["rel_high"] > 1):
        raise ConfigError("bought", data["bought"], "rel_low and rel_high <= 1: no more is delivered than is bought", f)
    return Rule(specs["probability"], specs["positive"], specs["bought"], tuple(fixed.items()), data["sourced"],
                data["structural"])


# ----------------------------------------------------------------------------- uncertain parameters
@dataclass(frozen=True)
class Effect:
    """A number that is an intervention's change (`changes` or `serves.effects`): what it does to which number."""

    key: str  # the change's value (`intervention.NAME.changes.I.value`)
    op: str  # set, scale or add
    target: str  # the config path it changes
    probability: bool  # the target is a probability


@dataclass(frozen=True)
class Parameter:
    """One uncertain quantity: the numbers (config paths) it sets, with their provenance and range.

    Usually one number; a `shared` range makes one parameter of every number its pattern matches. A number
    that is an intervention's change is an `Effect`: its range is on the effect, not on the number written.
    """

    name: str  # the key, or the shared range's pattern
    keys: tuple[str, ...]  # config paths the sample is written at (a distribution's mean: `....patience.mean`)
    spec: Spec
    source: str  # "explicit" | "rule"
    is_assumption: bool
    comment: str  # the provenance comment of the (first) number in its config file
    file: str  # the config file that sets the (first) number
    effects: tuple[Effect, ...] = ()  # those of its numbers that are changes
    probabilities: frozenset[str] = frozenset()  # those of its numbers that are probabilities

    @property
    def varied(self) -> bool:
        return self.spec.kind != "fixed"

    def effect(self, key: str) -> Effect | None:
        return next((e for e in self.effects if e.key == key), None)


@dataclass
class Ranges:
    """Every explicit range (by top key) and the rule; built once from a ranges folder."""

    explicit: list[Spec]
    rule: Rule

    @classmethod
    def load(cls, folder: Path = RANGES_DIR) -> Ranges:
        """Read and validate the folder (ConfigError on the first bad entry)."""
        folder = Path(folder)
        rule_path = folder / "rule.yaml"
        if not rule_path.exists():
            raise ConfigError("(file)", str(rule_path), "a rule.yaml with the default rule", str(folder))
        explicit = [s for p in sorted(folder.glob("*.yaml")) if p.name != "rule.yaml" for s in read_ranges_file(p)]
        for s in explicit:
            top = Path(s.file).stem
            if s.key.split(".")[0] != top:
                raise ConfigError(s.key, s.key, f"a config path under {top}. (this file holds {top} ranges)", s.file)
        return cls(explicit, read_rule(rule_path))

    def spec_for(self, key: str, value: float, is_assumption: bool, probability: bool,
                 bought: bool = False) -> tuple[Spec, str]:
        """The range of the number at `key` and where it comes from ("explicit" or "rule"). A change that adds
        the places bought (`bought`) takes the rule's `bought` range unless an explicit range names its key."""
        r = self.rule
        structural = value == 0 or (probability and value == 1)
        for s in self.explicit:
            if s.key == key or (not bought and fnmatch.fnmatchcase(key, s.key)):
                if structural and s.relative:
                    break  # a relative range around 0 (or a certainty) is no range: the rule's structural case
                return s, "explicit"
        if bought and not structural:
            return r.bought, "rule"
        for pattern, reason in r.fixed_keys:
            if fnmatch.fnmatchcase(key, pattern):
                return Spec("fixed", {}, str(reason), "rule", pattern), "rule"
        if structural:
            return Spec("fixed", {}, r.structural, "rule", "structural"), "rule"
        if not is_assumption:
            return Spec("fixed", {}, r.sourced, "rule", "sourced"), "rule"
        if value < 0:
            return (Spec("fixed", {}, "a negative change: no default range for a signed number", "rule", "signed"),
                    "rule")
        return (r.probability if probability else r.positive), "rule"


def _scalar_fields(obj: Any) -> list[str]:
    return [f.name for f in fields(obj) if isinstance(getattr(obj, f.name), (int, float))
            and not isinstance(getattr(obj, f.name), bool)]


def _is_probability(config: Config, key: str) -> bool:
    """Whether the schema bounds the number at `key` to [0, 1]; a change that sets a value takes its target's bounds."""
    parent, name = key.rsplit(".", 1)
    obj = _lookup(config, parent)
    if not is_dataclass(obj):
        return False
    if isinstance(obj, Change):
        return name == "value" and obj.op == "set" and _is_probability(config, obj.target)
    meta: Mapping[str, Any] = next((f.metadata for f in fields(obj) if f.name == name), {})
    return meta.get("low") == 0.0 and meta.get("high") == 1.0


def _numbers(config: Config, key: str, text: str) -> list[tuple[str, float, bool]]:
    """The scalar numbers a provenance row sets: (path, value, integer?). A distribution gives its mean;
    a flow mapping of a dataclass gives the scalar fields it names; lists and text give none."""
    try:
        v = _lookup(config, key)
    except (KeyError, AttributeError, IndexError, TypeError, ValueError):
        return []
    if text.startswith("${"):  # an interpolation: a change's value is the effect it resolves to; others follow
        return [(key, float(v), False)] if _change_of(config, key) is not None and isinstance(v, (int, float)) else []
    if isinstance(v, Dist):
        return [(f"{key}.mean", float(v.mean), False)] if v.mean is not None and math.isfinite(v.mean) else []
    if is_dataclass(v):
        named = set(re.findall(r"(\w+)\s*:", text))
        return [(f"{key}.{n}", float(getattr(v, n)), isinstance(getattr(v, n), int))
                for n in _scalar_fields(v) if n in named]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return []
    return [(key, float(v), isinstance(v, int) and _is_int_field(config, key))]


def _change_of(config: Config, key: str) -> Change | None:
    """The change whose value is at `key`, or None."""
    parent, name = key.rsplit(".", 1)
    obj = _lookup(config, parent)
    return obj if isinstance(obj, Change) and name == "value" else None


BOUGHT = "${...places}"  # a change whose value is the intervention's own places: the places bought, added


def _is_int_field(config: Config, key: str) -> bool:
    parent, name = key.rsplit(".", 1)
    obj = _lookup(config, parent)
    return is_dataclass(obj) and any(f.name == name and f.type in ("int", int) for f in fields(obj))


def _lookup(obj: Any, path: str) -> Any:
    """`config.lookup`, with list items by index."""
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)]
        elif isinstance(obj, dict):
            obj = obj[part]
        else:
            obj = getattr(obj, part)
    return obj


def option_files(choices: dict[str, str], config: Config, config_dir: Path) -> list[Path]:
    """The YAML files an option is composed from, in composition order (later files win)."""
    files = [config_dir / g / f"{choices[g]}.yaml" for g in ("region", "pathway") if choices.get(g)]
    files += [config_dir / "intervention" / f"{n}.yaml" for n in config.intervention]
    files.append(config_dir / "scenario" / f"{choices.get('scenario') or 'baseline'}.yaml")
    return [f for f in files if f.exists()]


def parameters(options: dict[str, tuple[Config, list[Path]]], ranges: Ranges) -> list[Parameter]:
    """The union of the numbers of every option's files, each once, with its range.

    A number set by several files of one option takes the provenance of the last (the one that
    wins); a key seen in several options takes the first option's provenance (the range is relative,
    so each option still samples around its own value). Numbers under one shared range are one parameter.
    """
    out: dict[str, Parameter] = {}
    for config, files in options.values():
        last = {r.key: r for r in provenance_rows(files)}
        for r in last.values():
            if r.key.startswith("experiment."):
                continue
            for key, value, integer in _numbers(config, r.key, r.value):
                if any(key in p.keys for p in out.values()):
                    continue
                probability = _is_probability(config, key)
                ch = _change_of(config, key)
                effect = () if ch is None else (Effect(key, ch.op, ch.target, _probability_target(config, ch.target)),)
                probs = frozenset({key} if probability else ())
                if integer:
                    spec, source = Spec("fixed", {}, "an integer setting", "rule", "integer"), "rule"
                else:
                    spec, source = ranges.spec_for(key, value, r.is_assumption, probability, r.value.strip() == BOUGHT)
                _check_support(spec, key, value, probability and not effect)
                name = spec.key if spec.shared else key
                if name in out:
                    p = out[name]
                    out[name] = Parameter(name, (*p.keys, key), spec, source, p.is_assumption or r.is_assumption,
                                          p.comment, p.file, (*p.effects, *effect), p.probabilities | probs)
                else:
                    out[name] = Parameter(name, (key,), spec, source, r.is_assumption, r.comment, str(r.file),
                                          effect, probs)
    return list(out.values())


def _probability_target(config: Config, target: str) -> bool:
    """Whether the schema bounds the number a change targets to [0, 1]."""
    parent, name = target.rsplit(".", 1)
    obj = _lookup(config, parent)
    return is_dataclass(obj) and any(f.name == name and f.metadata.get("high") == 1.0 for f in fields(obj))


def _check_support(spec: Spec, key: str, value: float, probability: bool) -> None:
    """A range must suit its number: a beta for probabilities only; a probability's range within [0, 1] (a
    lognormal or gamma around a probability is on its odds: in (0, 1) by construction; an effect's range is on
    the effect, `effect_value`)."""
    if spec.kind == "beta" and not probability:
        raise ConfigError(spec.key, "beta", f"a range for a number that is not a probability ({key}): "
                          "uniform, triangular, lognormal or gamma", spec.file)
    if spec.kind in ("uniform", "triangular"):
        lo, hi = _bounds(spec.args, value)
        if lo < 0 or (probability and hi > 1):
            raise ConfigError(spec.key, [lo, hi], f"bounds within {'[0, 1]' if probability else '[0, inf)'} for {key}",
                              spec.file)
    if spec.kind in ("lognormal", "gamma") and value <= 0 and not ({"median", "mean"} & set(spec.args)):
        raise ConfigError(spec.key, value, f"a positive value at {key} for a relative {spec.kind} range", spec.file)


# ----------------------------------------------------------------------------- samples
def values_at(params: list[Parameter], u: np.ndarray, base: dict[str, float]) -> dict[str, float]:
    """Values of the varied parameters at the unit-cube point `u` (one coordinate each), around `base`
    (an option's own values; keys the option lacks are skipped). An effect is drawn after the numbers,
    so that it acts on its target's drawn value (`effect_value`)."""
    out: dict[str, float] = {}
    effects = []
    for p, x in zip(varied(params), u):
        for key in p.keys:
            if key not in base:
                continue
            b = base[key]
            if p.spec.relative and (b == 0 or (p.spec.kind == "beta" and b == 1)):
                continue  # structural in this option (a shared range met a zero here): held
            e = p.effect(key)
            if e is not None and p.spec.relative and p.spec.kind != "beta":
                effects.append((e, p.spec.ppf(x, 1.0)))
            else:
                out[key] = _level(p.spec, x, b, key in p.probabilities)
    for e, lam in effects:
        t0 = base.get(e.target)
        out[e.key] = effect_value(e, base[e.key], lam, t0, out.get(e.target, t0))
    return out


def _level(spec: Spec, x: float, b: float, probability: bool) -> float:
    """A number's value at quantile `x` of its range around `b`; a probability's lognormal or gamma is on its odds."""
    if probability and spec.relative and spec.kind in ("lognormal", "gamma") and 0 < b < 1:
        odds = b / (1 - b) * spec.ppf(x, 1.0)
        return odds / (1 + odds)
    return spec.ppf(x, b)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def effect_value(e: Effect, value: float, lam: float, t0: float | None, t: float | None) -> float:
    """A change's value with its effect multiplied by `lam` (a draw of the range around 1), on the scale of the
    number it changes, so that the change keeps its direction and a probability stays in [0, 1].

    The effect is measured at the option's own values: the change takes its target from `t0` to
    r = change(op, t0, value). A probability's effect is the log odds ratio logit(r) - logit(t0) (from
    none or from certainty: r's odds); a multiplier's, its log (x1.2 varies its +20%: 1.2^lam, so never
    below 1); a positive number set to another level, the log of their ratio; an addition, itself (a
    reduction: the log ratio, never below zero). The drawn effect then acts on the target's drawn value `t`.
    """
    if e.probability and t0 is not None and t is not None:
        r = min(max(change(e.op, t0, value), 1e-9), 1 - 1e-9)
        if 0 < t0 < 1 and 0 < t < 1:
            r = _expit(_logit(t) + lam * (_logit(r) - _logit(t0)))
        else:
            r = _expit(_logit(r) + math.log(lam))
        return r if e.op == "set" else r / t if e.op == "scale" else r - t
    if e.op == "scale":
        return value ** lam
    if t0 is None or t is None or t0 <= 0 or (e.op == "add" and value >= 0) or change(e.op, t0, value) <= 0:
        return value * lam
    ratio = (change(e.op, t0, value) / t0) ** lam
    return t * ratio if e.op == "set" else t * ratio - t


def varied(params: list[Parameter]) -> list[Parameter]:
    """The parameters with a range (the coordinates of a sample, in order)."""
    return [p for p in params if p.varied]


def base_values(config: Config, params: list[Parameter]) -> dict[str, float]:
    """The option's own value of each number of a varied parameter that it has, and of each number an effect
    of one changes."""
    out = {}
    for p in varied(params):
        for key in (*p.keys, *(e.target for e in p.effects)):  # an effect's target: what it acts on
            try:
                out[key] = float(_lookup(config, key))
            except (KeyError, AttributeError, IndexError, TypeError, ValueError):
                continue
    return out


def apply(config: Config, values: dict[str, float]) -> Config:
    """A copy of `config` with each value written at its path (lists by index, dicts by key)."""
    c = copy.deepcopy(config)
    for key, v in values.items():
        parent, name = key.rsplit(".", 1)
        obj = _lookup(c, parent)
        if isinstance(obj, dict):
            obj[name] = v
        elif isinstance(obj, list):
            obj[int(name)] = v
        else:
            setattr(obj, name, v)
    return c
