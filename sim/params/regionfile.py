"""A region file written from a planner's own numbers: the default region's numbers and their sources, the allowed
range of any region number (from the schema's field metadata), and the YAML of a new region in which every number
says in its comment where it came from.

The planner's workbook (`sim.outputs.regionbook`) covers part of a region; everything else is the default region's,
kept as it is, and its comment says so with the default's own source. The file is written in full (it stands on
its own, like the default region), in the default region's order, one number a line so each has its own comment.
"""

from __future__ import annotations

import json
import math
import os
import typing
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.params.paths import CONFIG_DIR
from sim.params.provenance import format_value, provenance_rows
from sim.params.schema import Region

DEFAULT_REGION = "norfolk_waveney"


def region_path(name: str, configs: Path = CONFIG_DIR) -> Path:
    return Path(configs) / "region" / f"{name}.yaml"


def default_region() -> dict[str, Any]:
    """The default region's file as written (it stands on its own: no `defaults`)."""
    return dict(yaml.safe_load(region_path(DEFAULT_REGION).read_text()))


def default_sources() -> dict[str, str]:
    """Dotted path in the region (no `region.` prefix) -> the default file's provenance comment for that line."""
    return {r.key.removeprefix("region."): r.comment for r in provenance_rows([region_path(DEFAULT_REGION)])}


def source_of(path: str, sources: dict[str, str]) -> tuple[str, str]:
    """The default's source of a number and the key whose comment it is: the number's own line, or the mapping
    or list that holds it (a flow mapping, or a block comment over several lines)."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if sources.get(key):
            return sources[key], key
    return "", ""


def get(tree: Any, path: str) -> Any:
    for part in path.split("."):
        tree = tree[int(part)] if isinstance(tree, list) else tree[part]
    return tree


def put(tree: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = tree
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


# ----------------------------------------------------------------------------- allowed ranges
@dataclass(frozen=True)
class Allowed:
    """What a number at a region path may be: within [low, high]; `shares` > 0 when it is one of that many shares
    summing to 1."""

    low: float
    high: float
    shares: int = 0
    integer: bool = False
    above: bool = False  # `low` itself is not allowed (a distribution's mean: > 0)

    def check(self, value: float) -> str | None:
        """None if `value` is allowed, else what is allowed."""
        low_ok = value > self.low if self.above else value >= self.low
        if math.isfinite(value) and low_ok and value <= self.high and (not self.integer or float(value).is_integer()):
            return None
        return self.text()

    def text(self) -> str:
        what = "a whole number" if self.integer else "a number"
        if self.shares:
            return f"a share in [0, 1]; the row's {self.shares} shares sum to 1"
        if self.high == math.inf:
            return f"{what} {'>' if self.above else '>='} {_bound(self.low)}"
        return f"{what} in [{_bound(self.low)}, {_bound(self.high)}]"


def _bound(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def _field(path: str, root: type = Region) -> tuple[Any, dict[str, Any], Any]:
    """The schema's type, field metadata and default of the value at a path below `root` (a region path by
    default; an item of a list of shares: its share of the default list)."""
    t: Any = root
    meta: dict[str, Any] = {}
    default: Any = root()
    for part in path.split("."):
        if is_dataclass(t):
            f = next((f for f in fields(t) if f.name == part), None)
            if f is None:
                raise KeyError(path)
            t, meta = typing.get_type_hints(t)[part], dict(f.metadata)
            default = getattr(default, part) if default is not None else None
        elif typing.get_origin(t) is dict:  # a group, post, role or channel by name: the schema's defaults
            t, meta = typing.get_args(t)[1], {}
            default = typing.cast(Any, t)() if is_dataclass(t) else None
        elif isinstance(default, list) and part.isdigit():
            t, default = float, default[int(part)]
        else:
            raise KeyError(path)
    return t, meta, default


def allowed(path: str, root: type = Region) -> Allowed | None:
    """The schema's allowed range of the number at a region path (`workforce.groups.acute.posts.hcsw.turnover`,
    `channels.jobcentre.profile.age_band.2`; a path below `root`), or None for a field with no range (text, flags)."""
    t, meta, _ = _field(path, root)
    if "shares" in meta and path.rsplit(".", 1)[-1].isdigit():
        return Allowed(0.0, 1.0, shares=int(meta["shares"]))
    if "low" in meta:
        return Allowed(float(meta["low"]), float(meta["high"]), integer=t is int)
    return None


def value_at(tree: dict[str, Any], path: str) -> Any:
    """The value at `path` in a region file's tree, or the schema's default where the file leaves it out."""
    try:
        return get(tree, path)
    except (KeyError, IndexError):
        return _field(path)[2]


# ----------------------------------------------------------------------------- writing
def _scalar(value: Any) -> str:
    """A value as YAML: numbers as the provenance module reads them (240, 0.0519), text plain unless it must be
    quoted."""
    if isinstance(value, str):
        plain = value and yaml.safe_load(value) == value and "#" not in value and ": " not in value
        return value if plain and value.strip() == value else json.dumps(value)
    return format_value(value)


def _line(comment: str) -> str:
    return " ".join(comment.split())


def region_yaml(tree: dict[str, Any], comments: dict[str, str], header: list[str]) -> str:
    """The region `tree` as YAML, block style, one number or list of numbers a line with its comment from
    `comments` (dotted path -> text). `header` opens the file as a comment block (what the file is)."""
    out = [f"# {_line(h)}" for h in header]

    def walk(node: dict[str, Any], path: str, indent: int) -> None:
        for key, value in node.items():
            p = f"{path}.{key}" if path else str(key)
            pad = " " * indent
            if isinstance(value, dict):
                out.append(f"{pad}{key}:")
                walk(value, p, indent + 2)
                continue
            text = f"{pad}{key}: {_scalar(value)}"
            comment = comments.get(p, "")
            out.append(f"{text}  # {_line(comment)}" if comment else text)

    walk(tree, "", 0)
    return "\n".join(out) + "\n"


def write_region(path: Path, text: str) -> Path:
    """Write a region file atomically (temporary file, then rename): a half-written region is never found."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
