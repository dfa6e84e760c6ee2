"""Plain labels for named things of the configs (interventions, channels, scenarios): the entry's own `label`,
else its name in words. The one fallback every table, chart, form and sentence uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def label_of(name: str, entry: Mapping[str, Any] | None = None) -> str:
    """`entry["label"]` when it has one, else `name` with its underscores as spaces."""
    label = (entry or {}).get("label")
    return str(label) if label else name.replace("_", " ")


def step(node: Any, key: str) -> Any:
    """One key down a composed config (a dict, or a list by index); None where there is nothing."""
    if isinstance(node, list):
        return node[int(key)] if key.isdigit() and int(key) < len(node) else None
    return node.get(key) if isinstance(node, Mapping) else None


DISTRIBUTION_PARTS = ("mean", "median", "mode", "sd", "cv", "low", "high", "shape", "scale")


def path_label(path: str, config: Mapping[str, Any]) -> str:
    """A number's config path in words, from the config it is in: the nearest entry with a `label` names the
    subject, the keys after it say what of it ('pathway.training.courses.care_preemployment.duration.mean' ->
    'Care pre-employment course: duration (mean)'); without one, the keys after the top level."""
    keys = path.split(".")
    subject, rest = "", keys[1:]
    node: Any = config
    for i, key in enumerate(keys):
        node = step(node, key)
        if isinstance(node, Mapping) and node.get("label"):
            subject, rest = str(node["label"]), keys[i + 1:]
        if isinstance(node, Mapping) and "target" in node and key.isdigit():  # an intervention's change
            what = path_label(str(node["target"]), config)
            return f"{subject}: effect on {what[:1].lower() + what[1:] if what[1:2].islower() else what}"
    tail = ""
    if rest and rest[-1] in DISTRIBUTION_PARTS:
        tail, rest = f" ({rest[-1]})", rest[:-1]
    words = " ".join(label_of(k) for k in rest if k != "*" and not k.isdigit())
    if subject:
        return f"{subject}: {words}{tail}" if words else subject + tail
    text = words + tail
    return text[:1].upper() + text[1:]


def pattern_label(pattern: str) -> str:
    """A shared range's pattern in words: what it sets, over what, drawn once
    ('region.workforce.groups.*.posts.*.turnover' -> 'Turnover (all groups and posts, one draw)')."""
    keys = pattern.split(".")
    last = max(i for i, k in enumerate(keys) if "*" in k)
    over = " and ".join(keys[i - 1] for i, k in enumerate(keys) if "*" in k and i > 0)
    what = " ".join(label_of(k) for k in keys[last + 1:]) or label_of(keys[last - 1] if last else pattern)
    return f"{what[:1].upper()}{what[1:]} (all {over or 'of them'}, one draw)"
