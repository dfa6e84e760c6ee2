"""Where every number comes from: the `key: value  # source` lines of the config files a job used.

Every default in configs/ and scenarios/ carries an inline comment naming its source (an id in
../shared/evidence/parameters.csv) or saying `assumption:`. `provenance_rows` reads those lines
back, with the dotted key path the run sees; `used_parameters` puts beside each the value the
job actually ran with (from its resolved config.yaml) and says when that differs from the file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SKIP_KEYS = ("defaults", "hydra")  # Hydra directives, not model parameters
_KEY = re.compile(r"^(?P<key>[A-Za-z0-9_\-./]+)\s*:(?:\s+(?P<value>.*))?$")
_PACKAGE = re.compile(r"^#\s*@package\s+(\S+)")
_GROUPS = ("region", "pathway", "experiment", "intervention", "scenario")
_MISSING = object()


@dataclass(frozen=True)
class Provenance:
    """One parameter line of a config file."""

    file: Path
    key: str  # dotted path in the composed config, list items by index (intervention.x.changes.0.value)
    value: str  # as written in the file
    comment: str  # the inline comment, or the block comment that explains the line
    is_assumption: bool


@dataclass(frozen=True)
class UsedParameter:
    """A parameter line with the value a job ran with."""

    row: Provenance
    used: str  # the value from the job's resolved config, formatted
    note: str  # "" | "overridden on the command line (...)" | "differs from the file" | "superseded by FILE"


def split_comment(line: str) -> tuple[str, str]:
    """`text  # comment` -> (text, comment), ignoring '#' inside quotes."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def _package(path: Path, first_lines: list[str]) -> str:
    """The dotted prefix Hydra puts the file's keys under: `# @package`, else its config group."""
    for line in first_lines:
        m = _PACKAGE.match(line.strip())
        if m:
            return "" if m.group(1) == "_global_" else m.group(1)
    return path.parent.name if path.parent.name in _GROUPS else ""


def provenance_rows(files: Iterable[Path]) -> list[Provenance]:
    """Every `key: value` line of the YAML files, with its dotted key path and its source comment.

    A line without an inline comment takes the comment block right above it; a flow mapping
    (`{...}`) without one takes the nearest comment block before it, however far up. The comment
    block a file opens with describes the file (`file_header`) and is nobody's source.
    """
    rows: list[Provenance] = []
    for path in map(Path, files):
        lines = path.read_text().splitlines()
        prefix = _package(path, lines[:5])
        stack: list[tuple[int, str]] = []  # (indent, key) of the open mappings and list items
        items: dict[tuple[str, ...], int] = {}  # list items seen so far under each parent path
        block: list[str] = []  # the comment lines being read
        last_block, adjacent, in_header = "", False, True
        for raw in lines:
            stripped = raw.strip()
            if stripped.startswith("#"):
                if not in_header and not _PACKAGE.match(stripped):
                    block.append(stripped.lstrip("#").strip())
                continue
            in_header = False
            if block:  # a comment block ends: right above this line, or followed by a blank line
                last_block, adjacent, block = " ".join(block), bool(stripped), []
            if not stripped:
                adjacent = False
                continue
            text, comment = split_comment(raw)
            indent = len(text) - len(text.lstrip(" "))
            body = text.strip()
            while body.startswith("- "):  # a list item: its index becomes a path element
                while stack and stack[-1][0] >= indent:
                    stack.pop()
                parent = tuple(k for _, k in stack)
                items[parent] = items.get(parent, 0) + 1
                stack.append((indent, str(items[parent] - 1)))
                indent, body = indent + 2, body[2:].lstrip()
            while stack and stack[-1][0] >= indent:
                stack.pop()
            m = _KEY.match(body)
            key, value = (m.group("key"), (m.group("value") or "").strip()) if m else ("", body)
            if m and not value:  # a nested mapping or list opens
                stack.append((indent, key))
                adjacent = False
                continue
            keys = ([prefix] if prefix else []) + [k for _, k in stack] + ([key] if key else [])
            if not comment and (adjacent or value.startswith("{")):
                comment = last_block
            adjacent = False
            if keys and keys[0] not in SKIP_KEYS:
                rows.append(Provenance(path, ".".join(keys), value, comment, "assumption" in comment.lower()))
    return rows


def file_header(path: Path) -> str:
    """The comment block a config file opens with: what the file is."""
    lines = []
    for raw in Path(path).read_text().splitlines():
        stripped = raw.strip()
        if not stripped.startswith("#"):
            break
        if not _PACKAGE.match(stripped):
            lines.append(stripped.lstrip("#").strip())
    return " ".join(lines)


# ----------------------------------------------------------------------------- values used
def select(tree: Any, key: str, default: Any = None) -> Any:
    """The value at a dotted path of nested dicts and lists (list items by index), or `default`."""
    node = tree
    for part in key.split(".") if key else []:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return node


def format_value(value: Any) -> str:
    """A config value as a planner reads it: 240 not 240.0, lists and mappings inline."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _same(file_value: Any, used: Any) -> bool:
    """Equal as numbers where numbers; a mapping matches on the keys the file sets."""
    if isinstance(file_value, str) and "${" in file_value:
        return True  # an interpolation: the resolved value is by construction the file's
    if isinstance(file_value, dict) and isinstance(used, dict):
        return all(k in used and _same(v, used[k]) for k, v in file_value.items())
    if isinstance(file_value, list) and isinstance(used, list):
        return len(file_value) == len(used) and all(_same(a, b) for a, b in zip(file_value, used))
    if isinstance(file_value, (int, float)) and isinstance(used, (int, float)) and not isinstance(file_value, bool):
        return abs(float(file_value) - float(used)) <= 1e-12 * max(1.0, abs(float(used)))
    return file_value == used


def _shown(file_value: Any, used: Any) -> Any:
    """For a mapping, only the keys the file sets (the schema adds the rest with defaults)."""
    if isinstance(file_value, dict) and isinstance(used, dict):
        return {k: used[k] for k in file_value if k in used}
    return used


@functools.lru_cache(maxsize=256)
def _file_tree(path: Path, mtime_ns: int, size: int) -> tuple[Any, str]:
    """A config file's YAML and its package prefix, read once per version of the file (the report and the workbook
    read the same twenty files for every option; a caller only reads the tree)."""
    text = path.read_text()
    return yaml.safe_load(text) or {}, _package(path, text.splitlines()[:5])


def used_parameters(rows: list[Provenance], config: dict, overrides: Iterable[str], root: Path) -> list[UsedParameter]:
    """Each row with the value in the resolved `config`, and a note when it is not the file's value.

    `rows` are in composition order, so a key set again by a later file (a scenario) is
    superseded there; `overrides` are the job's command-line overrides; `root` shortens paths.
    """
    overrides = [o for o in overrides if "=" in o]
    files: dict[Path, tuple[Any, str]] = {}  # file -> (its YAML, its package prefix)
    last_file = {r.key: r.file for r in rows}
    out = []
    for r in rows:
        if r.file not in files:
            st = r.file.stat()
            files[r.file] = _file_tree(r.file, st.st_mtime_ns, st.st_size)
        tree, prefix = files[r.file]
        file_value = select(tree, r.key[len(prefix) + 1:] if prefix else r.key)
        used = select(config, r.key, _MISSING)
        if used is _MISSING:
            out.append(UsedParameter(r, r.value, "not in the resolved config"))
            continue
        note = ""
        if last_file[r.key] != r.file:
            note = f"superseded by {_short(last_file[r.key], root)}"
        elif not _same(file_value, used):
            match = [o for o in overrides if r.key == _okey(o) or r.key.startswith(_okey(o) + ".")]
            note = f"overridden on the command line ({match[-1]})" if match else "differs from the file"
        out.append(UsedParameter(r, format_value(_shown(file_value, used)), note))
    return out


def _okey(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _short(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)
