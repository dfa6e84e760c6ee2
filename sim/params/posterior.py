"""A region's calibration, as the decision reads it: the posterior sample of `pathways-calibrate`.

A calibration folder (`configs/calibration/<region name>/`) holds `calibration.json` (its region, targets file,
the day the targets were split, the method, and `complete: true` once finished), `posterior.csv` (one row per
equally weighted draw: each calibrated parameter's QUANTILE in (0, 1) of its prior range, the unit-cube
coordinate `sim.params.ranges.values_at` takes; a column per calibrated parameter, named as
`ranges.Parameter.name`), `parameters.csv` (each calibrated parameter's prior and posterior intervals) and
`targets.csv` (each target's published figure against the model before and after).

Only a config value chooses whether a comparison draws from it (`experiment.parameters`: posterior|prior); the
folder is found by the region's name among the folders that exist, never from a path given from outside.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.params.errors import ConfigError
from sim.params.paths import CONFIG_DIR
from sim.params.ranges import Parameter
from sim.params.schema import PARAMETERS as CHOICES

CALIBRATION_DIR = CONFIG_DIR / "calibration"
POSTERIOR, PARAMETERS, TARGETS, META = "posterior.csv", "parameters.csv", "targets.csv", "calibration.json"


@dataclass(frozen=True)
class Posterior:
    """The equally weighted posterior draws of one calibration, as quantiles of the prior ranges."""

    folder: Path
    names: tuple[str, ...]  # the calibrated parameters (ranges.Parameter.name), the columns of `draws`
    draws: np.ndarray  # one row per draw, one column per name, each a quantile in (0, 1)
    sha256: str  # of posterior.csv's bytes: a resume refuses records drawn from another posterior
    priors: dict[str, dict[str, Any]] = field(default_factory=dict)  # calibration.json's: what each was fitted on

    def provenance(self) -> dict[str, str]:
        """What a run records of it: the folder (relative to the config tree when inside it) and the file's hash."""
        try:
            where = str(self.folder.relative_to(CONFIG_DIR.parent))
        except ValueError:
            where = str(self.folder)
        return {"folder": where, "sha256": self.sha256}

    def check(self, names: list[str]) -> None:
        """ConfigError unless every calibrated parameter is among the varied parameters `names` of the options (it
        is not when the ranges changed since the calibration)."""
        missing = [n for n in self.names if n not in names]
        if missing:
            raise ConfigError(f"{self.folder / POSTERIOR}: column {missing[0]}", "not an uncertain parameter",
                              "the parameters of these options' ranges (the ranges changed since the calibration: "
                              "run pathways-calibrate again, or experiment.parameters=prior)")

    def check_priors(self, params: list[Parameter], base: dict[str, float]) -> None:
        """ConfigError unless each calibrated parameter still has the prior it was fitted on: the same range
        (kind and arguments) around the same value (the reference option's `base`). A draw is a quantile of
        that prior: of another range, or around a changed number, it would be another value, fitted to nothing."""
        now = priors_of(params, base, self.names)
        for name, then in self.priors.items():
            if name in now and now[name] != then:
                raise ConfigError(f"{self.folder / META}: priors.{name}", json.dumps(then, sort_keys=True),
                                  f"the prior it has now, {json.dumps(now[name], sort_keys=True)} (its range or "
                                  "its value changed since the calibration: run pathways-calibrate again, or "
                                  "experiment.parameters=prior)")

    def onto(self, u: np.ndarray, names: list[str], seed: int) -> np.ndarray:
        """The design `u` (one row per parameter set, one column per varied parameter `names`) with each calibrated
        parameter's column taken from the posterior: set i gets draw order[i mod D], where `order` is a permutation
        of the D draws fixed by `seed` (without replacement up to D sets, the same order again beyond; a prefix of
        the sets is a random subsample of the draws, so the stability check's halving keeps its meaning). Every
        other column keeps its prior design coordinate. ConfigError when a calibrated parameter is not varied here
        (`check`)."""
        self.check(names)
        order = np.random.default_rng(seed).permutation(len(self.draws))
        rows = order[np.arange(len(u)) % len(order)]
        out = np.array(u, dtype=float, copy=True)
        for j, n in enumerate(self.names):
            out[:, names.index(n)] = self.draws[rows, j]
        return out


def priors_of(params: list[Parameter], base: dict[str, float], names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What each of the parameters `names` is a quantile of: its range's kind and arguments, and its (first)
    number's value in `base` (None when absolute bounds make the value irrelevant), as calibration.json keeps it."""
    by_name = {p.name: p for p in params}
    out: dict[str, dict[str, Any]] = {}
    for n in names:
        p = by_name.get(n)
        if p is None:
            continue
        value = next((base[k] for k in p.keys if k in base), None) if p.spec.relative else None
        out[n] = json.loads(json.dumps({"kind": p.spec.kind, "args": p.spec.args,
                                        "value": None if value is None else round(float(value), 12)}))
    return out


def calibration_folder(region: str, root: Path | None = None) -> Path | None:
    """The region's finished calibration folder under `root` (CALIBRATION_DIR), or None: found by listing the
    folders that exist, so a region name never becomes a path by itself."""
    root = CALIBRATION_DIR if root is None else root
    if not root.is_dir():
        return None
    folder = next((p for p in sorted(root.iterdir()) if p.is_dir() and p.name == region), None)
    if folder is None or not (folder / META).is_file() or not (folder / POSTERIOR).is_file():
        return None
    return folder if read_meta(folder).get("complete") is True else None


def read_meta(folder: Path) -> dict:
    """calibration.json; ConfigError in one line when it is not a JSON object."""
    path = folder / META
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(str(path), type(e).__name__, "a JSON object written by pathways-calibrate") from None
    if not isinstance(meta, dict):
        raise ConfigError(str(path), type(meta).__name__, "a JSON object written by pathways-calibrate")
    return meta


def load_posterior(folder: Path) -> Posterior:
    """posterior.csv checked: a `draw` column then one per calibrated parameter (unique names), at least one row,
    every value a quantile strictly inside (0, 1); ConfigError naming the file, the row or column, and the range."""
    path = folder / POSTERIOR
    data = path.read_bytes()
    rows = list(csv.reader(data.decode().splitlines()))
    if not rows or rows[0][:1] != ["draw"] or len(rows[0]) < 2:
        raise ConfigError(f"{path}: header", ",".join(rows[0]) if rows else "",
                          "draw,<parameter name>,... (a column per calibrated parameter)")
    names = tuple(rows[0][1:])
    if len(set(names)) != len(names) or not all(names):
        raise ConfigError(f"{path}: header", ",".join(rows[0]), "each calibrated parameter named once")
    if len(rows) < 2:
        raise ConfigError(f"{path}: rows", 0, "at least one posterior draw")
    values = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]):
            raise ConfigError(f"{path}: line {i}", len(row), f"{len(rows[0])} fields, as the header")
        try:
            x = [float(v) for v in row[1:]]
        except ValueError:
            raise ConfigError(f"{path}: line {i}", ",".join(row), "numbers") from None
        bad = next((n for n, v in zip(names, x) if not (math.isfinite(v) and 0.0 < v < 1.0)), None)
        if bad is not None:
            raise ConfigError(f"{path}: line {i}, {bad}", x[names.index(bad)],
                              "a quantile of the prior range strictly between 0 and 1")
        values.append(x)
    priors = read_meta(folder).get("priors") or {}
    return Posterior(folder, names, np.asarray(values, float), hashlib.sha256(data).hexdigest(), dict(priors))


def posterior_for(region: str, choice: str, root: Path | None = None) -> Posterior | None:
    """The posterior a comparison on `region` draws from: its calibration's when `choice` is "posterior" and the
    region has a finished one, else None (the prior ranges, as without calibration)."""
    if choice not in CHOICES:
        raise ConfigError("experiment.parameters", choice, " or ".join(CHOICES))
    folder = calibration_folder(region, root) if choice == "posterior" else None
    return None if folder is None else load_posterior(folder)
