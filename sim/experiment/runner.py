"""Running many parameter points: options x points x replications, in kept workers, resumable.

A *task* is one point (values at config paths, the same for every option: paired) run for
every option over some replications. Tasks run in a pool of worker processes that keep the
options' configs from their start (never one process start per task), or on a Ray cluster by
address (`sim.experiment.parallel`, as replications do). Each finished task is appended as one
JSON line to `records.jsonl` (flushed and synced), so a killed run resumes losing no finished
task: `run` skips the tasks already there.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sim.experiment.parallel import Workers
from sim.model import simulate
from sim.model.workforce import calibrate
from sim.params.compose import compose_config, sweep_combos, without_hydra
from sim.params.config import params_of, to_config
from sim.params.kpis import group
from sim.params.schema import Config

KPIS = tuple(k.name for k in group("decide"))  # what a decision's records keep, per replication


@dataclass
class Option:
    """One option of a decision: its name, overrides, composed and typed config, and its files."""

    name: str
    overrides: list[str]
    config: Config
    files: list[Path]
    raw: dict = field(default_factory=dict)  # the composed config without Hydra's node, unresolved


def compose_options(overrides: list[str], config_dir: Path) -> list[Option]:
    """Every config a Hydra sweep over `overrides` asks for (`scenario=a,b`), composed and typed.

    Raises ConfigError on a bad value (the caller names the file through `sim.interfaces.cli`).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from sim.params.ranges import option_files

    parsed = OverridesParser.create().parse_overrides(overrides)
    combos = sweep_combos(parsed) or [[]]
    out: list[Option] = []
    for combo in combos:
        cfg = compose_config(list(combo), hydra_node=True, config_dir=config_dir)
        choices = dict(cfg.hydra.runtime.choices)
        job = without_hydra(cfg, combo, config_dir)
        raw = OmegaConf.to_container(job, resolve=False)
        assert isinstance(raw, dict)  # a DictConfig's container
        c = to_config(job)
        out.append(Option(c.scenario_name, list(combo), c, option_files(choices, c, config_dir), raw))
    names = [o.name for o in out]
    for o in out:
        if names.count(o.name) > 1:
            o.name = ",".join(x for x in o.overrides if not all(x in p.overrides for p in out)) or o.name
    return out


def region_calibration(config: Config) -> dict:
    """BAU recruitment of the region, from the region baseline's workforce (with a set's sampled values):
    the one place a parameter set's calibration is computed; every option of the set runs with it."""
    return calibrate(config.region.workforce)


@dataclass(frozen=True)
class Task:
    """One point for every option: `values[option]` at config paths (options may lack some keys)."""

    id: str
    values: dict[str, dict[str, float]]  # option -> {config path: value}
    replications: tuple[int, ...]
    drop: dict[str, tuple[str, ...]] = field(default_factory=dict)  # option -> interventions removed
    only: tuple[str, ...] = ()  # run only these options (empty: all)


def task_configs(task: Task, options: dict[str, Config]) -> Iterator[tuple[str, Config]]:
    """Each option `task` runs, with its config at the task's values: BAU recruitment calibrated once on the
    region baseline's (the first option), interventions the task drops removed."""
    from sim.params.ranges import apply

    first = next(iter(options))  # the region baseline (Study puts the reference first)
    bau = region_calibration(apply(options[first], task.values.get(first, {})))
    for name, config in options.items():
        if task.only and name not in task.only:
            continue
        c = apply(config, task.values.get(name, {}))
        c.region.workforce.bau = bau
        for iv in task.drop.get(name, ()):
            c.intervention.pop(iv, None)
        yield name, c


def run_task(task: Task, options: dict[str, Config]) -> dict[str, Any]:
    """Simulate every option of `task` at its values; the record: KPIs by option and replication."""
    out: dict[str, Any] = {"task": task.id, "kpis": {}, "pid": os.getpid()}
    for name, c in task_configs(task, options):
        params = params_of(c)
        rows = {}
        for r in task.replications:
            kp = {(k, g): v for k, g, v in simulate(params, r).kpis if g == "all" and k in KPIS}
            rows[str(r)] = {k: kp.get((k, "all"), math.nan) for k in KPIS}
        out["kpis"][name] = rows
    return out


TaskFn = Callable[[Task, dict[str, Config]], dict[str, Any]]  # a task's record from the options' configs


class Records:
    """The append-only record file of a run folder: one JSON line per finished task."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._trim()

    def _trim(self) -> None:
        """Drop a last line cut short by a kill (it would corrupt the next append)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    def read(self) -> dict[str, dict]:
        out = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                out[rec["task"]] = rec
        return out

    def append(self, record: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")
            f.flush()
            os.fsync(f.fileno())


class Runner:
    """Runs tasks, keeping its workers (local processes, or a Ray connection) across calls of `run`."""

    def __init__(self, options: dict[str, Config], records: Records, workers: int = 1, ray_address: str | None = None,
                 progress: Callable[[int, int], None] | None = None, fn: TaskFn = run_task):
        self.options, self.records, self.progress = options, records, progress
        self.done = records.read()
        self._workers: Workers[Task] = Workers(fn, options, workers, ray_address)

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._workers.__exit__(*exc)

    def run(self, tasks: Iterable[Task]) -> dict[str, dict]:
        """Run the tasks not yet recorded, each once (a search may ask for the same point twice in a batch);
        return every record by task id."""
        todo = list({t.id: t for t in tasks if t.id not in self.done}.values())
        for finished, (_task, rec) in enumerate(self._workers.map(todo), 1):
            self.records.append(rec)
            self.done[rec["task"]] = rec
            if self.progress:
                self.progress(finished, len(todo))
        return self.done


def run(tasks: Iterable[Task], options: dict[str, Config], records: Records, workers: int = 1,
        ray_address: str | None = None, progress: Callable[[int, int], None] | None = None,
        fn: TaskFn = run_task) -> dict[str, dict]:
    """Run the tasks not yet in `records` (serially, in a kept pool, or on Ray); return every record by task.
    `fn` makes a task's record (default: the KPIs of `run_task`)."""
    with Runner(options, records, workers, ray_address, progress, fn) as runner:
        return runner.run(tasks)
