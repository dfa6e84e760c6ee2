"""The key numbers of a comparison: the few numbers a planner checks first, each with its source and allowed range,
and the scenario file that keeps the ones they changed.

No ranking of parameters is stored per run, so the list is fixed and short, per pathway stage:

- the capacities the chosen options' interventions add to (an intervention's change of a capacity, or the stage
  whose places it serves): how many places the region has without them decides whether the added places bind;
- the rates and probabilities the sensitivity analysis ranks highest for the Norfolk options (issue 22): the
  deadweight of the Jobcentre's and of self-referrers' referrals (how many of their hires are net), shortlisting,
  interview pass and offer acceptance (every programme hire goes through them), interview coaching's effect
  (when an option runs it) and the patience of candidates waiting for their checks (`FIXED`).

Each is a model parameter at a config path, so a changed number runs as an ordinary override (`key=value`), and the
set a planner changed is saved as a scenario file (`scenario_yaml`) in the format of the shipped ones.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.params.labels import label_of, path_label
from sim.params.paths import CONFIG_DIR
from sim.params.provenance import format_value, provenance_rows, select
from sim.params.regionfile import Allowed, allowed
from sim.params.schema import STAGE_LABELS, Config

REFERRAL = "referral"  # the stage of a referral route's numbers
STAGES = {REFERRAL: "Referral", **STAGE_LABELS}

# (config path, stage): the rates and probabilities that decide the Norfolk options most (issue 22), in pathway order
FIXED = (
    ("region.channels.jobcentre.profile.deadweight", REFERRAL),
    ("region.channels.self_referral.profile.deadweight", REFERRAL),
    ("pathway.recruitment.shortlisting", "recruitment"),
    ("pathway.recruitment.interview_pass", "recruitment"),
    ("intervention.interview_coaching.changes.0.value", "recruitment"),  # its effect on interview pass (x1.2)
    ("pathway.recruitment.offer_acceptance", "recruitment"),
    ("pathway.recruitment.withdrawal_patience.mean", "checks"),
)

# The capacities an intervention can add to, as patterns of their config paths, with their stage.
CAPACITIES = (
    (re.compile(r"pathway\.engagement\.advisers\Z"), "engagement"),
    (re.compile(r"pathway\.support\.(\w+)\.places\Z"), None),  # the support stage of that name
    (re.compile(r"pathway\.training\.courses\.\w+\.places_per_cohort\Z"), "training"),
    (re.compile(r"pathway\.recruitment\.interview_slots\Z"), "recruitment"),
)
SET_ON_PAGE = "assumption: set on the page (pathways-app), by whom is not known"


class KeyNumberError(ValueError):
    """A number the page may not change, or a value outside its allowed range: one line naming the key."""


@dataclass(frozen=True)
class KeyNumber:
    """One key number: where it is, what it is called, its value and source, what it may be."""

    key: str  # config path
    stage: str  # a key of STAGES, or a support stage's name
    label: str
    value: float
    source: str  # the provenance comment of the file that sets it
    allowed: Allowed
    intervention: str = ""  # the intervention it belongs to ("" for a region or pathway number)

    def as_dict(self, stage_label: str) -> dict[str, Any]:
        return {"key": self.key, "stage": stage_label, "label": self.label, "value": self.value,
                "shown": format_value(self.value), "source": self.source, "allowed": self.allowed.text(),
                "low": self.allowed.low, "high": None if self.allowed.high == math.inf else self.allowed.high,
                "above": self.allowed.above, "intervention": self.intervention}


def stage_of(key: str) -> str | None:
    """The stage of a key number's config path, or None when the path is not one the page may change."""
    for path, stage in FIXED:
        if key == path:
            return stage
    for pattern, fixed_stage in CAPACITIES:
        m = pattern.match(key)
        if m:
            return fixed_stage or m.group(1)
    return None


def range_of(key: str) -> Allowed:
    """The schema's allowed range of a key number: a field's own range, a distribution's mean > 0, an
    intervention's scale factor >= 0."""
    if key.endswith(".mean"):  # a duration's or a patience's mean (sim.params.distributions.problem)
        return Allowed(0.0, math.inf, above=True)
    if re.fullmatch(r"intervention\.\w+\.changes\.\d+\.value", key):  # a scale factor (sim.params.config)
        return Allowed(0.0, math.inf)
    rule = allowed(key, Config)
    assert rule is not None, key  # every key number is a ranged number of the schema
    return rule


def check_value(key: str, value: Any) -> float:
    """`value` as a number if `key` is a key number and the value is within its allowed range; else KeyNumberError."""
    if stage_of(key) is None:
        raise KeyNumberError(f"{key}: not a key number of the page; allowed: {', '.join(k for k, _ in FIXED)} "
                        "and the capacities interventions add to")
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    problem = "a number" if number is None else range_of(key).check(float(number))
    if number is None or problem:
        raise KeyNumberError(f"{key} = {value!r}: allowed: {problem or range_of(key).text()}")
    return float(number)


def capacities(config: dict[str, Any]) -> list[str]:
    """The capacities the interventions of a resolved config add to, in the order they are met."""
    out: list[str] = []
    for iv in (config.get("intervention") or {}).values():
        targets = [str(ch.get("target", "")) for ch in iv.get("changes") or []]
        stage = (iv.get("serves") or {}).get("stage")
        if stage:
            targets.append("pathway.engagement.advisers" if stage == "engagement" else
                           f"pathway.support.{stage}.places")
        out += [t for t in targets if t not in out and any(p.match(t) for p, _ in CAPACITIES)]
    return out


def region_files(name: str, configs: Path = CONFIG_DIR) -> list[Path]:
    """A region's file and the files it starts from (`defaults`), in composition order (later files win)."""
    path = configs / "region" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    before = [f for d in data.get("defaults") or [] if isinstance(d, str) and d != "_self_"
              for f in region_files(d, configs)]
    return [*before, path]


def key_numbers(reference: dict[str, Any], options: list[dict[str, Any]], files: list[Path]) -> list[KeyNumber]:
    """The key numbers of a comparison: `reference` is its reference's resolved config (the region's own numbers),
    `options` every option's resolved config, `files` the config files they were composed from (later win, for
    the sources). Capacities first, then the fixed list, in pathway order; a number the configs lack is left out
    (an intervention's effect when no option runs it)."""
    sources = {r.key: r.comment for r in provenance_rows(files)}
    keys = [k for o in options for k in capacities(o)]
    keys = [*dict.fromkeys(keys), *(k for k, _ in FIXED)]
    out = []
    for key in keys:
        owner = key.split(".")[1] if key.startswith("intervention.") else ""
        config = next((o for o in options if owner in (o.get("intervention") or {})), reference) if owner else reference
        value = select(config, key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        stage = stage_of(key) or ""
        out.append(KeyNumber(key, stage, path_label(key, config), float(value), _source(key, sources),
                             range_of(key), owner))
    order = [*STAGES, *(reference.get("pathway", {}).get("support") or {})]
    return sorted(out, key=lambda k: _rank(k.stage, order))


def _rank(stage: str, order: list[str]) -> int:
    """Pathway order: referral, engagement, the support stages, then the later stages."""
    support = [s for s in order if s not in STAGES]
    sequence = [REFERRAL, "engagement", *support, *(s for s in STAGE_LABELS if s != "engagement")]
    return sequence.index(stage) if stage in sequence else len(sequence)


def stage_label(stage: str, config: dict[str, Any]) -> str:
    """A stage in words: the fixed stages' labels, a support stage's own label."""
    support = (config.get("pathway", {}).get("support") or {}).get(stage)
    return STAGES.get(stage) or label_of(stage, support)


def _source(key: str, sources: dict[str, str]) -> str:
    """A number's provenance comment: its own line's, or that of the mapping that holds it (a flow mapping)."""
    parts = key.split(".")
    return next((sources[k] for n in range(len(parts), 0, -1) if sources.get(k := ".".join(parts[:n]))), "")


# ----------------------------------------------------------------------------- the scenario a planner saves
def scenario_yaml(name: str, changed: list[tuple[KeyNumber, float]], when: str, interventions: list[str]) -> str:
    """A scenario file (`# @package _global_`, as the shipped ones) that sets the `changed` numbers, each with a
    provenance comment saying it was set on the page, when, and the file's value and source it replaces.
    `interventions` are switched on when an intervention's own number is among them (its changes list is
    written whole: a list cannot be changed one item at a time)."""
    lines = ["# @package _global_",
             f"# {name.replace('_', ' ')}: numbers changed on the planner's page (pathways-app) on {when}, by whom",
             "# is not known. Each number below says what it replaces. Run it: pathways scenario=" + name,
             "# Compare interventions under it: pathways -m scenario=" + name + " intervention=[],[outreach]"]
    if interventions:
        lines += ["defaults:", f"  - override /intervention: [{', '.join(interventions)}]"]
    lines += ["", f"scenario_name: {name}"]
    tree: dict[str, Any] = {}
    for k, value in changed:
        node = tree
        *parents, last = k.key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = (k, value)
    lines += _yaml_lines(tree, 0, when)
    return "\n".join(lines) + "\n"


def _yaml_lines(node: dict[str, Any], indent: int, when: str) -> list[str]:
    """Nested mappings, one number a line with its comment; a list index (`changes.0`) as a list item."""
    pad, out = " " * indent, []
    for key, value in node.items():
        if isinstance(value, tuple):
            k, number = value
            out.append(f"{pad}{key}: {format_value(number)}  # {SET_ON_PAGE}, on {when}; the file's value "
                       f"{format_value(k.value)} ({' '.join(k.source.split()) or 'no source given'})")
        elif all(part.isdigit() for part in value):  # a list: written whole from the intervention's file
            out.append(f"{pad}{key}:")
            out += _list_lines(value, indent + 2, when)
        else:
            out.append(f"{pad}{key}:")
            out += _yaml_lines(value, indent + 2, when)
    return out


def _list_lines(items: dict[str, Any], indent: int, when: str) -> list[str]:
    """An intervention's `changes`, every item as its file has it, the changed values replaced."""
    first = next(iter(items.values()))
    k = next(iter(first.values()))[0]
    iv = k.key.split(".")[1]
    file_items = (yaml.safe_load((CONFIG_DIR / "intervention" / f"{iv}.yaml").read_text())[iv]).get("changes") or []
    rows = {r.key: r.comment for r in provenance_rows([CONFIG_DIR / "intervention" / f"{iv}.yaml"])}
    pad, out = " " * indent, []
    for i, item in enumerate(file_items):
        changed = items.get(str(i), {})
        for j, (field_name, v) in enumerate(item.items()):
            lead = f"{pad}- " if j == 0 else f"{pad}  "
            if field_name in changed:
                out += [ln.replace(pad + "  ", lead, 1) if n == 0 else ln
                        for n, ln in enumerate(_yaml_lines({field_name: changed[field_name]}, indent + 2, when))]
            else:
                comment = rows.get(f"intervention.{iv}.changes.{i}.{field_name}", "")
                text = f"{lead}{field_name}: {format_value(v)}"
                out.append(f"{text}  # {' '.join(comment.split())}" if comment and not isinstance(v, str) else text)
    return out
