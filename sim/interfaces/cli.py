"""The `pathways` command: Hydra config in, replications run, results folder and summary out.

Before Hydra starts (and before any simulation), every config the command line asks for is
composed and validated, so a bad value stops the run with exit code 2 and one message that
names the file, the key, the value and the allowed range, never a traceback. The same check
sizes the run (`experiment.max_residents`), switches on an intervention that is only sized
(`intervention.childcare.places=20`), and fixes the results folder so that an interrupted run
can say how to resume. matplotlib, scipy and the report are imported only where they are used,
so a typo costs well under a second.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shlex
import signal
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim.experiment.folders import FolderError, Plan, claim, lock, planned_jobs
from sim.params.config import ConfigError, Params, config_error, load, lookup, params_of, register
from sim.params.paths import CONFIG_DIR, SCENARIO_DIR

register()
GROUPS = ("region", "pathway", "experiment")
LABEL_KEYS = ("label",)  # intervention keys that name it and change nothing it does: never a reason to switch it on
MAX_PREFLIGHT = 500  # configs composed and checked up front in a multirun
PROGRESS = ".progress"  # "replications done, replications asked for", rewritten as a job runs (the web page reads it)
EVENTS_PER_RESIDENT = 10  # simulation events per resident, roughly (benchmarks: about 8 on the default region)
_HELP = {"-h", "--help"}
_SKIP_PREFLIGHT = {"-h", "--help", "--hydra-help", "--version", "-i", "--info", "-sc", "--shell-completion",
                   "-c", "--cfg", "--resolve", "-p", "--package", "--experimental-rerun",
                   "-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir"}


class UsageError(Exception):
    """Bad input, told in one line (exit 2)."""


def fail(message: str) -> NoReturn:
    raise UsageError(message)


def _exit_usage(e: UsageError, prog: str = "pathways") -> NoReturn:
    print(f"{prog}: error: {e}", file=sys.stderr)
    sys.exit(2)


def _exit_environment(e: OSError, prog: str = "pathways") -> NoReturn:
    """A folder that cannot be written (read-only, full, missing): one line, exit 1."""
    where = f"{e.filename}: " if e.filename else ""
    print(f"{prog}: error: {where}{e.strerror or e}; nothing was written there that looks complete",
          file=sys.stderr)
    sys.exit(1)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def available(group: str) -> list[str]:
    """The config files of a group (scenario, region, intervention, ...), by name."""
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def locate(key: str, choices: dict[str, Any], overrides: Iterable[str]) -> str:
    """Which file (or command-line override) a config key's value came from."""
    best: tuple[str, str] | None = None
    for o in overrides:
        k = _key(o)
        if k in GROUPS or k in ("intervention", "scenario") or k.startswith("hydra"):
            continue  # a group choice: the value comes from the chosen file
        if (key == k or key.startswith(k + ".")) and (best is None or len(k) >= len(best[0])):
            best = (k, o)
    if best is not None:
        return f"command-line override '{best[1]}'"
    scenario = CONFIG_DIR / "scenario" / f"{choices.get('scenario') or 'baseline'}.yaml"
    if scenario.exists() and OmegaConf.select(OmegaConf.load(scenario), key) is not None:
        return _display(SCENARIO_DIR / scenario.name)
    parts = key.split(".")
    if parts[0] == "intervention" and len(parts) > 1:
        return _display(CONFIG_DIR / "intervention" / f"{parts[1]}.yaml")
    if parts[0] in GROUPS and choices.get(parts[0]):
        return _display(CONFIG_DIR / parts[0] / f"{choices[parts[0]]}.yaml")
    return _display(CONFIG_DIR / "config.yaml")


def _choices(overrides: list[str]) -> dict[str, str]:
    return {o.split("=", 1)[0]: o.split("=", 1)[1] for o in overrides
            if "=" in o and o.split("=", 1)[0] in (*GROUPS, "scenario")}


def composition_message(text: str, overrides: list[str]) -> str:
    """Hydra's composition error, restated as file: key = value: allowed."""
    missing = re.search(r"Could not (?:load|find) '(\w+)/([^']+)'", text)
    if missing:
        group, name = missing.groups()
        given = next((o for o in overrides if _key(o) == group), f"{group}={name}")
        return (f"command-line override '{given}': unknown {group} '{name}'; allowed: "
                f"{', '.join(available(group))}")
    key = re.search(r"full_key: (\S+)", text) or re.search(r"Could not override '([^']+)'", text)
    if key is None:
        return f"command line {' '.join(overrides)}: {' '.join(text.split())}"
    k = key.group(1)
    where = re.search(r"In '([^']+)'", text)
    source = (_display(CONFIG_DIR / f"{where.group(1)}.yaml") if where and where.group(1) != "config"
              else locate(k, _choices(overrides), overrides))
    return config_error(k, text, source).message()


def params_or_exit(cfg: DictConfig, choices: dict[str, Any], overrides: Iterable[str]) -> Params:
    """Validated parameters of a config that is not too large to run, or UsageError naming the file and key."""
    overrides = list(overrides)
    try:
        params = load(cfg)
    except ConfigError as e:
        e.source = locate(e.key, choices, overrides)
        fail(e.message())
    check_size(params, choices, overrides)
    return params


def size_estimate(params: Params) -> tuple[float, str]:
    """Residents a replication will refer, at most on average (each channel at its peak rate over its
    active days), and the channel's rate key that refers the most."""
    c = params.config
    h = params.horizon
    per_key = {}
    for name, ch in c.region.channels.items():
        key = f"region.channels.{name}.referrals_per_year"
        start = -c.experiment.warmup_days if ch.period.start_day == 0 else ch.period.start_day  # through the warm-up
        end = h if ch.period.end_day is None else min(ch.period.end_day, h)
        per_key[key] = max(0.0, params.at(key).max()) * max(0.0, end - start) / 365.0
    if not per_key:
        return 0.0, ""
    return sum(per_key.values()), max(per_key, key=per_key.__getitem__)


def check_size(params: Params, choices: dict[str, Any], overrides: list[str]) -> None:
    """Refuse a run that would refer more residents a replication than `experiment.max_residents`."""
    residents, key = size_estimate(params)
    limit = params.config.experiment.max_residents
    if residents <= limit:
        return
    value = params.at(key).max()
    raised = [n for n, iv in params.config.intervention.items() if any(ch.target == key for ch in iv.changes)]
    source = (f"intervention {raised[0]} ({locate(f'intervention.{raised[0]}', choices, overrides)})"
              if raised and value != lookup(params.config, key) else locate(key, choices, overrides))
    fail(f"{source}: {key} = {value:g} makes about {residents:,.0f} residents and "
         f"{residents * EVENTS_PER_RESIDENT:,.0f} events a replication; allowed: at most "
         f"experiment.max_residents = {limit:,} residents (raise it to run this anyway)")


def _without_hydra(cfg: DictConfig) -> DictConfig:
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)  # type: ignore[union-attr]
    return OmegaConf.create(plain)


# ----------------------------------------------------------------------------- before Hydra starts
def _task(argv: list[str]) -> list[str]:
    overrides = [a for a in argv if not a.startswith("-")]
    return [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]


def _combos(argv: list[str]) -> list[list[str]]:
    """The task overrides of every job `argv` asks for (one for a single run)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    task = _task(argv)
    try:
        parsed = OverridesParser.create().parse_overrides(task)
    except Exception as e:  # noqa: BLE001 - Hydra's parser errors have no common base we can rely on
        fail(f"command line: {str(e).splitlines()[0]}")
    if "-m" in argv or "--multirun" in argv:
        return [list(c) for batch in BasicSweeper.split_arguments(parsed, None) for c in batch] or [[]]
    return [task]


def preflight(argv: list[str]) -> list[str]:
    """Compose and validate every config `argv` asks for; UsageError on the first problem.

    Returns `argv` completed: interventions that are sized but not switched on are added with
    `+intervention=[...]`, a sweep's job folders are named after what varies only, and the
    results folder is fixed (so that an interrupted run can name it).
    """
    return preflight_plan(argv)[0]


def preflight_plan(argv: list[str]) -> tuple[list[str], Plan | None]:
    """`preflight`, and the plan of what will run into which folder (None when `argv` runs nothing)."""
    if any(a in _SKIP_PREFLIGHT or a.split("=")[0] in _SKIP_PREFLIGHT for a in argv):
        return argv, None
    from hydra import compose, initialize_config_dir

    multirun = "-m" in argv or "--multirun" in argv
    configs: list[dict | None] = []
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        _check_hydra_groups(argv)
        combos = _combos(argv)
        switch_on = _interventions_to_switch_on(argv, combos, compose)
        if switch_on:
            added = f"+intervention=[{','.join(switch_on)}]"
            argv = [*argv, added]
            combos = _combos(argv)
        cfg = None
        planned: list[tuple[str, str, tuple[str, ...], str]] = []  # scenario, region, interventions, reference
        for combo in combos[:MAX_PREFLIGHT]:
            try:
                cfg = compose("config", overrides=list(combo), return_hydra_config=True)
            except Exception as e:  # noqa: BLE001 - composition errors: unknown keys, wrong types, missing files
                fail(composition_message(f"{e}\n{e.__cause__ or ''}", list(combo)))
            choices = dict(cfg.hydra.runtime.choices)
            check_scenario_name(choices.get("scenario") or "baseline", str(cfg.scenario_name))
            params = params_or_exit(_without_hydra(cfg), choices, combo)
            c = params.config
            configs.append(OmegaConf.to_container(_without_hydra(cfg), resolve=True))  # type: ignore[arg-type]
            planned.append((c.scenario_name, c.region.name, tuple(c.intervention), c.experiment.reference))
        if multirun and 1 < len(planned) == len(combos):
            from sim.analysis.compare import ComparisonError, plan_jobs

            try:
                scenarios, regions, interventions, references = map(list, zip(*planned))
                plan_jobs(combos, scenarios, regions, interventions, references[0])
            except ComparisonError as e:
                fail(f"command line {' '.join(a for a in argv if not a.startswith('-'))}: {e}")
        if switch_on:  # said once every job is known to be valid: a refusal stays one line
            print(f"pathways: switching on intervention {', '.join(switch_on)} ({added}) for the sizes given",
                  file=sys.stderr)
        where = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        given = [a for a in argv if a.startswith(where + "=")]
        if given and "${" in given[-1]:  # fixed now, so that this process and Hydra name the same folder
            cfg = compose("config", overrides=[*combos[0], given[-1]], return_hydra_config=True)
            argv = [a for a in argv if a not in given]
        if cfg is not None and not any(a.startswith(where + "=") for a in argv):
            argv = [*argv, f"{where}={OmegaConf.select(cfg, where)}"]
        folder = next((a.split("=", 1)[1] for a in reversed(argv) if a.startswith(where + "=")), None)
    if multirun and not any(a.startswith("hydra.job.config.override_dirname.exclude_keys") for a in argv):
        constant = [k for k in dict.fromkeys(_key(o) for c in combos for o in c)
                    if len({tuple(o for o in c if _key(o) == k) for c in combos}) == 1]
        if constant:
            argv = [*argv, f"hydra.job.config.override_dirname.exclude_keys=[{','.join(constant)}]"]
    configs += [None] * (len(combos) - len(configs))  # past MAX_PREFLIGHT: overrides only
    plan = None if folder is None else Plan(Path(folder), "sweep" if multirun else "run", combos, configs)
    return argv, plan


def _check_hydra_groups(argv: list[str]) -> None:
    """`hydra/launcher=NAME` (and any other Hydra group choice) names one Hydra knows; else one line listing them."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    for o in argv:
        key, _, name = o.lstrip("+~").partition("=")
        if key.startswith("hydra/") and name:
            options = loader.get_group_options(key)
            if name not in options:
                fail(f"command-line override '{o}': unknown {key.split('/', 1)[1]} '{name}'; allowed: "
                     f"{', '.join(options) or '(none: not a Hydra config group)'}")


def _interventions_to_switch_on(argv: list[str], combos: list[list[str]], compose: Any) -> list[str]:
    """Interventions sized on the command line (`intervention.NAME.KEY=...`) that no job switches on.

    They are switched on by the caller when the command line does not choose the interventions
    itself; otherwise UsageError says exactly what to type. An unknown name lists the known ones.
    """
    files = available("intervention")
    missing: dict[str, str] = {}
    for combo in combos[:MAX_PREFLIGHT]:
        keyed = [o for o in combo if _key(o).startswith("intervention.") and len(_key(o).split(".")) > 2]
        if not keyed:
            continue
        try:
            cfg = compose("config", overrides=[o for o in combo if not _key(o).startswith("intervention.")])
        except Exception:  # noqa: BLE001 - reported with its own message when the full combo is composed
            continue
        for o in keyed:
            name = _key(o).split(".")[1]
            if name in cfg.intervention:
                continue
            if _key(o).split(".", 2)[2] in LABEL_KEYS:
                option = " ".join(c for c in combo if any(c not in other for other in combos)) or cfg.scenario_name
                fail(f"command-line override '{o}': a label names intervention {name}, it does not switch it on, "
                     f"and the option {option} does not run {name}; "
                     f"allowed: labels of interventions every option runs (add {name} to intervention=[...] to run it)")
            missing.setdefault(name, o)
    for name, o in missing.items():
        if name not in files:
            fail(f"command-line override '{o}': unknown intervention '{name}'; allowed: {', '.join(files)}")
    chosen = [a for a in _task(argv) if a.split("=", 1)[0] == "intervention"]
    if missing and chosen:
        value = chosen[0].split("=", 1)[1]
        lists = re.findall(r"\[([^\]]*)\]", value) or value.split(",")
        fixed = ",".join("[" + ",".join([*filter(None, (x.strip() for x in lst.split(","))), *missing]) + "]"
                         for lst in lists)
        name, o = next(iter(missing.items()))
        o = next((a for a in _task(argv) if _key(a) == _key(o)), o)  # as typed, before the sweep was split
        fail(f"command-line override '{o}': intervention {name} is not switched on by '{chosen[0]}'; "
             f"add it to the list: intervention={fixed}")
    return list(missing)


def check_scenario_name(chosen: str, name: str) -> None:
    """A scenario file must not carry another file's `scenario_name` (a copy whose name was not changed);
    a file always owns the name of its own stem."""
    names = {}
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        m = re.search(r"^scenario_name:\s*['\"]?([^'\"#\s]+)", path.read_text(), re.M)
        names[path.stem] = m.group(1) if m else path.stem
    clash = [] if name == chosen else [stem for stem, other in names.items() if stem != chosen and name in (stem, other)]
    if clash:
        fail(f"{_display(SCENARIO_DIR / (chosen + '.yaml'))}: scenario_name = {name!r}: already the name of "
             f"{_display(SCENARIO_DIR / (clash[0] + '.yaml'))}; allowed: a name of its own (e.g. {chosen})")


# ----------------------------------------------------------------------------- labels and folders
def _varying(hydra_cfg: Any) -> set[str] | None:
    """The keys a sweep varies (None for a single run), from the task and the excluded keys."""
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    excluded = set(hydra_cfg.job.config.override_dirname.exclude_keys or [])
    return {_key(o) for o in hydra_cfg.overrides.task} - excluded


def _job_folder(*, _root_: DictConfig) -> str:
    """`${job_folder:}`: a sweep job's folder, its number and a short name of what it varies."""
    from sim.analysis.compare import folder_name, option_label

    h = _root_.hydra
    excluded = set(h.job.config.override_dirname.exclude_keys or [])
    task = list(h.overrides.task)
    label = option_label(task, {_key(o) for o in task} - excluded, str(OmegaConf.select(_root_, "scenario_name")))
    return folder_name(h.job.num, label)


if not OmegaConf.has_resolver("job_folder"):
    OmegaConf.register_new_resolver("job_folder", _job_folder, use_cache=False)


# ----------------------------------------------------------------------------- running
def execute(params: Params, cfg: DictConfig, outdir: Path, label: str) -> list[tuple]:
    """Simulate (adding replications for a target precision if asked), write the results folder."""
    from sim.experiment.replications import (
        SUPPLY_HEADER,
        run_replications,
        supply_rows,
        write_csv,
        write_results,
        write_text,
    )
    from sim.params.ranges import supply_ends

    c = params.config
    ex = c.experiment
    started = time.perf_counter()

    ends = supply_ends(CONFIG_DIR, c.region.workforce.bau_vacancy_elasticity) if ex.supply_replications else ()
    total = ex.replications + len(ends) * ex.supply_replications

    def progress(done: int) -> None:
        write_text(outdir / PROGRESS, f"{done} {total}\n")

    outputs = run_replications(params, range(ex.replications), ex.workers, ex.progress, label, progress)
    note = ""
    if ex.target_half_width > 0:
        outputs, note = _until_precise(params, outputs, label)
    at_ends: dict[float, list] = {}
    for e in ends:
        done = len(outputs) + sum(map(len, at_ends.values()))
        at_ends[e] = run_replications(with_elasticity(params, e), range(ex.supply_replications), ex.workers,
                                      ex.progress, f"{label} at elasticity {e:g}", lambda k: progress(done + k))
    wall = time.perf_counter() - started
    summary = write_results(outdir, c.scenario_name, outputs)
    if at_ends:
        write_csv(outdir / "supply.csv", SUPPLY_HEADER, supply_rows(c.scenario_name, at_ends))
    write_text(outdir / "run.json", json.dumps(run_metadata(params, cfg, outputs, wall, note), indent=2))
    return summary


def with_elasticity(params: Params, e: float) -> Params:
    """The same run with BAU hires' elasticity to open posts at `e` (calibration does not depend on it)."""
    wf = replace(params.config.region.workforce, bau_vacancy_elasticity=e)
    return params_of(replace(params.config, region=replace(params.config.region, workforce=wf)))


def _until_precise(params: Params, outputs: list, label: str) -> tuple[list, str]:
    """Add replications until the primary KPI's 95% CI half-width is at most the target (or the cap)."""
    from sim.experiment.replications import run_replications
    from sim.experiment.stats import mean_ci, replications_needed

    ex = params.config.experiment
    key = (ex.primary_kpi, ex.primary_group)

    def values() -> list[float]:
        return [v for o in outputs for k, g, v in o.kpis if (k, g) == key]

    while True:
        ci = mean_ci(values())
        if ci.n >= 2 and ci.half_width <= ex.target_half_width or len(outputs) >= ex.max_replications:
            break
        need = min(max(replications_needed(values(), ex.target_half_width), len(outputs) + 1), ex.max_replications)
        outputs = outputs + run_replications(params, range(len(outputs), need), ex.workers, ex.progress, label)
    ci = mean_ci(values())
    reached = ci.half_width <= ex.target_half_width
    note = (f"{len(outputs)} replications {'were needed' if reached else '(the cap) did not suffice'} for a "
            f"95% CI half-width of {ci.half_width:.3g} on {key[0]} ({key[1]}); target {ex.target_half_width:g}")
    return outputs, note


def run_metadata(params: Params, cfg: DictConfig, outputs: list, wall: float, note: str) -> dict[str, Any]:
    """Seed, replications, versions, config hash, date and speed of a run (for the report)."""
    import platform

    import numpy
    import simpy

    text = OmegaConf.to_yaml(cfg, resolve=True)
    events = sum(o.events for o in outputs)
    return {
        "scenario": params.config.scenario_name, "seed": params.config.experiment.seed,
        "replications": len(outputs), "precision": note,
        "config_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": wall, "events": events, "residents": sum(o.residents for o in outputs),
        "versions": {"pathways": _version(), "python": platform.python_version(), "simpy": simpy.__version__,
                     "numpy": numpy.__version__, "hydra": hydra.__version__},
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pathways")
    except PackageNotFoundError:
        return "unknown"


def region_calibration(region: str) -> dict[str, Any]:
    """BAU recruitment of a region, calibrated on its baseline: the region file as shipped, with no
    scenario, intervention or command-line override (sim.model.workforce.calibrate). Every option
    of the region runs with it, and it is written to each run's config.yaml (region.workforce.bau)."""
    from sim.model.workforce import calibrate
    from sim.params.compose import compose_config
    from sim.params.config import to_config

    base = compose_config([f"region={region}", "scenario=baseline", "intervention=[]"])
    return calibrate(to_config(base).region.workforce)


@hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="config")
def job(cfg: DictConfig) -> float:
    """One Hydra job: simulate the replications of one config and write its results folder."""
    from sim.analysis.compare import FAILED, option_label
    from sim.experiment.replications import is_done, mark_done, write_text
    from sim.outputs.console import summary_table

    hc = HydraConfig.get()
    try:
        params = params_or_exit(cfg, dict(hc.runtime.choices), list(hc.overrides.task))
    except UsageError as e:
        _exit_usage(e)
    if not params.config.region.workforce.bau:  # BAU recruitment: the region's, the same for every option
        cfg.region.workforce.bau = region_calibration(str(hc.runtime.choices.get("region") or "norfolk_waveney"))
        params = load(cfg)
    c = params.config
    label = option_label(list(hc.overrides.task), _varying(hc), c.scenario_name)
    outdir = Path(hc.runtime.output_dir)
    if is_done(outdir):
        print(f"{_display(outdir)}: already complete, not rerun")
        return float("nan")
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / FAILED).unlink(missing_ok=True)
    write_text(outdir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    try:
        summary = execute(params, cfg, outdir, label)
    except Exception as e:  # noqa: BLE001 - recorded by name and re-raised or reported by the sweep
        write_text(outdir / FAILED, traceback.format_exc())
        if hc.mode == RunMode.MULTIRUN:
            print(f"pathways: job {outdir.name} failed: {type(e).__name__}: {e}", file=sys.stderr)
            return float("nan")
        raise
    mark_done(outdir)
    print(summary_table(summary, c.scenario_name, c.region.published_vacancies, label))
    meta = json.loads((outdir / "run.json").read_text())
    if meta["precision"]:
        print(meta["precision"])
    print(f"results: {_display(outdir.resolve())}")
    if hc.mode != RunMode.MULTIRUN:
        from sim.interfaces.sweep import outputs_failed
        from sim.outputs.report import write_report

        try:
            print(f"report: {_display(write_report(outdir).resolve())}")
        except OSError as e:
            sys.exit(outputs_failed(outdir, e))
    return next((m for s, k, g, m, *_ in summary if k == "hires" and g == "all"), float("nan"))


def usage() -> str:
    """The project's own help, printed before Hydra's."""
    from sim.model import KPI_NAMES

    def names(group: str) -> str:
        return ", ".join(available(group))

    return f"""pathways: simulate the routes from deprived communities into NHS and social-care jobs,
and compare intervention options with the do-nothing baseline (common random numbers).

Usage:
  pathways [KEY=VALUE ...]             one run; prints its summary and the path of its report
  pathways -m KEY=A,B,C [...]          a sweep: one job per option, compared with experiment.reference
                                       (default: the baseline scenario; or an option's name or job number)
  pathways-report DIR                  rebuild comparison.csv, comparison.xlsx and report.html of a folder
  pathways-app                         the same runs from a local web page (http://127.0.0.1:8050)
  pathways-verify mmc|littles-law      check the model against queueing theory

Common commands:
  pathways experiment=quick                                   a short look (3 replications, 2 years)
  pathways scenario=west_norfolk_local_plan                   one named programme
  pathways -m scenario=baseline,west_norfolk_local_plan       a programme against the baseline
  pathways -m intervention.childcare.places=0,10,20,40 experiment.reference=0
                                                              size an intervention (switched on for you)
  pathways -m intervention=[],[childcare,gp_advisers]         compare sets of interventions
  pathways -m hydra/launcher=local_parallel hydra.launcher.n_jobs=2 scenario=...   jobs on 2 cores

Config groups (files in configs/ and scenarios/):
  scenario=NAME        {names("scenario")}
  region=NAME          {names("region")}
  intervention=[A,B]   {names("intervention")}
  experiment=NAME      {names("experiment")}  (seed, replications, workers, horizon_days, max_residents)

KPIs (kpis.csv, summary.csv, comparison.csv, the report): {", ".join(KPI_NAMES)}

Results: results/DATE/TIME-NAME/ for a run, results/DATE/TIME-sweep/N-OPTION/ for a sweep's jobs, with
config.yaml, kpis.csv, summary.csv, timeseries.csv, funnel.csv and report.html; a sweep folder also gets
comparison.csv and comparison.xlsx. Nothing is overwritten; rerun a sweep with hydra.sweep.dir=DIR to resume.
A run that would refer more than experiment.max_residents residents a replication stops before it starts.

Hydra's own help follows.
"""


def _interrupted(typed: list[str], argv: list[str]) -> NoReturn:
    """After Ctrl-C: what was kept, and the one command that resumes (as typed, with the results folder)."""
    multirun = "-m" in argv or "--multirun" in argv
    option = "hydra.sweep.dir=" if multirun else "hydra.run.dir="
    where = next((a[len(option):] for a in argv if a.startswith(option)), "")
    folder = [] if any(a.startswith(option) for a in typed) or not where else [option + where]
    command = shlex.join(["pathways", *typed, *folder])
    if multirun and where:
        jobs = [d for d in Path(where).iterdir() if (d / ".hydra").is_dir()] if Path(where).is_dir() else []
        done = sum((d / "DONE").exists() for d in jobs)
        total = len(planned_jobs(Path(where)) or jobs)
        print(f"\npathways: interrupted; {done} finished job{'s' if done != 1 else ''} of {total} kept in {where}; "
              f"resume with: {command}", file=sys.stderr)
    else:
        print(f"\npathways: interrupted; a run keeps its results only when complete; run it again with: {command}",
              file=sys.stderr)
    sys.exit(130)


def main() -> None:
    """Entry point of `pathways` and `python -m sim`."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `pathways --help | head` ends quietly
    register()
    typed = sys.argv[1:]
    if any(a in _HELP for a in typed):
        print(usage(), flush=True)
    try:
        argv, plan = preflight_plan(typed)
        if plan is not None:
            claim(plan)  # the folder is this process's, and holds what it asks for
    except (UsageError, FolderError) as e:
        _exit_usage(e)
    except OSError as e:
        _exit_environment(e)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.argv = [sys.argv[0], *argv]
    interrupted = []

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_sigint)
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors here, to be told in one line below
    try:
        job()
    except KeyboardInterrupt:
        _interrupted(typed, argv)
    except SystemExit:
        if interrupted:  # Ctrl-C inside Hydra's own code, which reported it as an error and exited
            _interrupted(typed, argv)
        raise
    except OSError as e:  # a full disk or a read-only folder, in Hydra's writes or ours
        _exit_environment(e)
    except HydraException as e:
        _exit_usage(UsageError(" ".join(str(e).split()) or type(e).__name__))


def report_main(argv: list[str] | None = None) -> None:
    """`pathways-report DIR`: rebuild comparison.csv, comparison.xlsx and report.html of a run or sweep folder."""
    import argparse

    from sim.interfaces.sweep import finish_folder, folder_kind, runs_below

    ap = argparse.ArgumentParser(prog="pathways-report", description=report_main.__doc__)
    ap.add_argument("folder", type=Path, help="a run folder or a sweep folder under results/")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        _exit_usage(UsageError(f"{args.folder}: not a folder; allowed: a run or sweep folder under results/"),
                    "pathways-report")
    if folder_kind(args.folder) is None:
        found = runs_below(args.folder)
        listing = "".join(f"\n  {_display(p)}  ({kind})" for p, kind in found[:30])
        more = f"\n  ... and {len(found) - 30} more" if len(found) > 30 else ""
        what = (f"it holds {len(found)} run or sweep folder{'s' if len(found) != 1 else ''}; give one of them:"
                f"{listing}{more}" if found else "no run or sweep folder below it")
        _exit_usage(UsageError(f"{args.folder}: not a run or sweep folder; {what}"), "pathways-report")
    try:
        lock(args.folder)  # a sweep still writing it is refused: its own report comes when it ends
    except FolderError as e:
        _exit_usage(UsageError(str(e)), "pathways-report")
    except OSError as e:
        _exit_environment(e, "pathways-report")
    sys.exit(finish_folder(args.folder, "pathways-report"))
