"""The page's key numbers: which they are for the options a planner ticked (each option composed as a run would
be), and saving the ones they changed as a new scenario file.

Saving writes one new file, `SLUG.yaml`, into the scenarios folder and nothing else: the name is a validated slug
(never a path), a name any scenario file already has (its stem or its `scenario_name`) is refused, and the file is
created exclusively (`O_EXCL`), so a shipped or earlier file is never overwritten, even by two requests at once.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from sim.interfaces.errors import UsageError
from sim.params.compose import compose_config
from sim.params.keynumbers import KeyNumber, check_value, key_numbers, region_files, scenario_yaml, stage_label
from sim.params.paths import CONFIG_DIR, SCENARIO_DIR

SLUG = re.compile(r"[a-z][a-z0-9_]{2,47}\Z")  # a scenario's name: also its file's stem and its `scenario_name`
MAX_NUMBERS = 50  # changed numbers in one scenario


class ScenarioError(UsageError):
    """A scenario the page cannot save: one line naming the name or the number."""


def resolved(overrides: list[str]) -> dict[str, Any]:
    """The config a run with `overrides` composes, resolved, without Hydra's own node."""
    plain = OmegaConf.to_container(compose_config(overrides), resolve=True)
    assert isinstance(plain, dict)  # a DictConfig's container
    plain.pop("hydra", None)
    return {str(k): v for k, v in plain.items()}


def interventions_of(scenario: str = "", names: tuple[str, ...] = ()) -> dict[str, Any]:
    """The interventions an option runs, as their files (and its scenario's own entries) write them: what the key
    numbers need (the targets of their changes, the stage they serve, their effects) without composing the option
    (a second or more each, while the page waits)."""
    data: dict[str, Any] = {}
    if scenario:
        data = yaml.safe_load((CONFIG_DIR / "scenario" / f"{scenario}.yaml").read_text()) or {}
        names = tuple(n for d in data.get("defaults") or [] if isinstance(d, dict)
                      for n in d.get("override /intervention") or [])
    out: dict[str, Any] = {}
    for name in dict.fromkeys([*names, *(data.get("intervention") or {})]):
        path = CONFIG_DIR / "intervention" / f"{name}.yaml"
        entry = dict((yaml.safe_load(path.read_text()) or {}).get(name) or {}) if path.exists() else {}
        out[name] = {**entry, **((data.get("intervention") or {}).get(name) or {})}
    return out


def numbers_for(options: list[dict[str, Any]], region: str) -> list[KeyNumber]:
    """The key numbers of a comparison of `options` (each its interventions: `interventions_of`) in `region` (the
    reference's)."""
    reference = resolved([f"region={region}"])
    configs = [{"intervention": o} for o in options]
    interventions = dict.fromkeys(n for o in options for n in o)
    files = [*region_files(region), CONFIG_DIR / "pathway" / "default.yaml",
             *(CONFIG_DIR / "intervention" / f"{n}.yaml" for n in interventions
               if (CONFIG_DIR / "intervention" / f"{n}.yaml").exists())]
    return key_numbers(reference, configs, files)


def as_rows(numbers: list[KeyNumber], region: str) -> list[dict[str, Any]]:
    """Key numbers as the page shows them, each with its stage in words."""
    reference = resolved([f"region={region}"])
    return [k.as_dict(stage_label(k.stage, reference)) for k in numbers]


def save_scenario(folder: Path, name: str, numbers: dict[str, float], region: str) -> Path:
    """Write `folder/NAME.yaml`, a scenario setting `numbers` (key number -> value), each with its provenance;
    ScenarioError naming what is wrong, with nothing written."""
    if not SLUG.match(name):
        raise ScenarioError(f"scenario name {name[:60]!r}: allowed: 3 to 48 lower-case letters, digits and _, "
                            "starting with a letter (e.g. my_area_shortlisting)")
    files = [*folder.glob("*.yaml"), *SCENARIO_DIR.glob("*.yaml")]  # the shipped names too, whatever the folder
    taken = {p.stem for p in files} | {m.group(1) for p in files
                                       for m in [re.search(r"^scenario_name:\s*['\"]?([^'\"#\s]+)", p.read_text(),
                                                           re.M)] if m}
    if name in taken:
        raise ScenarioError(f"scenario name {name!r}: already a scenario; allowed: a new name")
    if not numbers or len(numbers) > MAX_NUMBERS:
        raise ScenarioError(f"numbers: {len(numbers)} changed; allowed: 1 to {MAX_NUMBERS} key numbers")
    try:
        values = {key: check_value(key, value) for key, value in numbers.items()}
    except ValueError as e:
        raise ScenarioError(str(e)) from None
    owners = list(dict.fromkeys(k.split(".")[1] for k in values if k.startswith("intervention.")))
    known = {k.key: k for k in numbers_for([interventions_of(names=tuple(owners))] if owners else [], region)}
    missing = [k for k in values if k not in known]
    if missing:
        raise ScenarioError(f"{missing[0]}: not a number of region {region}; allowed: its key numbers")
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = scenario_yaml(name, [(known[k], v) for k, v in values.items()], when, owners)
    path = folder / f"{name}.yaml"
    assert path.parent == folder and path.name == f"{name}.yaml"  # a slug is a file name, never a path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never over an existing file
    except FileExistsError:
        raise ScenarioError(f"scenario name {name!r}: already a scenario; allowed: a new name") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
