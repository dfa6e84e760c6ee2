"""The `pathways` command: Hydra config in, replications run, results folder and summary out.

Before Hydra starts (and before any simulation), every config the command line asks for is
composed and validated, so a bad value stops the run with exit code 2 and one message that
names the file, the key, the value and the allowed range, never a traceback.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Iterable, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError, Params, config_error, load, register
from .compare import FAILED
from .experiment import is_done, mark_done, run_replications, write_results, write_text
from .report import summary_table
from .stats import mean_ci, replications_needed

register()
CONFIG_DIR = (Path(__file__).resolve().parent.parent / "configs").resolve()
SCENARIO_DIR = CONFIG_DIR.parent / "scenarios"
GROUPS = ("region", "pathway", "experiment")
MAX_PREFLIGHT = 500  # configs composed and checked up front in a multirun
_SKIP_PREFLIGHT = {"-h", "--help", "--hydra-help", "--version", "-i", "--info", "-sc", "--shell-completion",
                   "-c", "--cfg", "--resolve", "-p", "--package", "--experimental-rerun",
                   "-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir"}


def fail(message: str) -> NoReturn:
    print(f"pathways: error: {message}", file=sys.stderr)
    sys.exit(2)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def locate(key: str, choices: dict[str, Any], overrides: Iterable[str]) -> str:
    """Which file (or command-line override) a config key's value came from."""
    best: tuple[str, str] | None = None
    for o in overrides:
        k = o.split("=", 1)[0].lstrip("+~")
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
    key = re.search(r"full_key: (\S+)", text) or re.search(r"Could not override '([^']+)'", text)
    if key is None:
        return f"command line {' '.join(overrides)}: {' '.join(text.split())}"
    k = key.group(1)
    where = re.search(r"In '([^']+)'", text)
    source = (_display(CONFIG_DIR / f"{where.group(1)}.yaml") if where and where.group(1) != "config"
              else locate(k, _choices(overrides), overrides))
    return config_error(k, text, source).message()


def params_or_exit(cfg: DictConfig, choices: dict[str, Any], overrides: Iterable[str]) -> Params:
    """Validated parameters, or exit 2 with a message naming the file and key."""
    try:
        return load(cfg)
    except ConfigError as e:
        e.source = locate(e.key, choices, overrides)
        fail(e.message())


def _without_hydra(cfg: DictConfig) -> DictConfig:
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)  # type: ignore[union-attr]
    return OmegaConf.create(plain)


def preflight(argv: list[str]) -> None:
    """Compose and validate every config `argv` asks for; exit 2 on the first problem."""
    if any(a in _SKIP_PREFLIGHT or a.split("=")[0] in _SKIP_PREFLIGHT for a in argv):
        return
    from hydra import compose, initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [a for a in argv if not a.startswith("-")]
    task = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    multirun = "-m" in argv or "--multirun" in argv
    try:
        parsed = OverridesParser.create().parse_overrides(task)
    except Exception as e:  # noqa: BLE001 - Hydra's parser errors have no common base we can rely on
        fail(f"command line: {str(e).splitlines()[0]}")
    if multirun:
        batches = BasicSweeper.split_arguments(parsed, None)
        combos = [c for batch in batches for c in batch] or [[]]
    else:
        combos = [task]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        for combo in combos[:MAX_PREFLIGHT]:
            try:
                cfg = compose("config", overrides=list(combo), return_hydra_config=True)
            except Exception as e:  # noqa: BLE001 - composition errors: unknown keys, wrong types, missing files
                fail(composition_message(f"{e}\n{e.__cause__ or ''}", list(combo)))
            choices = dict(cfg.hydra.runtime.choices)
            params_or_exit(_without_hydra(cfg), choices, combo)


def execute(params: Params, cfg: DictConfig, outdir: Path) -> list[tuple]:
    """Simulate (adding replications for a target precision if asked), write the results folder."""
    c = params.config
    ex = c.experiment
    started = time.perf_counter()
    outputs = run_replications(params, range(ex.replications), ex.workers, ex.progress, c.scenario_name)
    note = ""
    if ex.target_half_width > 0:
        outputs, note = _until_precise(params, outputs)
    wall = time.perf_counter() - started
    summary = write_results(outdir, c.scenario_name, outputs)
    write_text(outdir / "run.json", json.dumps(run_metadata(params, cfg, outputs, wall, note), indent=2))
    return summary


def _until_precise(params: Params, outputs: list) -> tuple[list, str]:
    """Add replications until the primary KPI's 95% CI half-width is at most the target (or the cap)."""
    ex = params.config.experiment
    key = (ex.primary_kpi, ex.primary_group)

    def values() -> list[float]:
        return [v for o in outputs for k, g, v in o.kpis if (k, g) == key]

    while True:
        ci = mean_ci(values())
        if ci.n >= 2 and ci.half_width <= ex.target_half_width or len(outputs) >= ex.max_replications:
            break
        need = min(max(replications_needed(values(), ex.target_half_width), len(outputs) + 1), ex.max_replications)
        outputs = outputs + run_replications(params, range(len(outputs), need), ex.workers, ex.progress,
                                             params.config.scenario_name)
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


@hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name="config")
def job(cfg: DictConfig) -> float:
    """One Hydra job: simulate the replications of one config and write its results folder."""
    hc = HydraConfig.get()
    params = params_or_exit(cfg, dict(hc.runtime.choices), list(hc.overrides.task))
    c = params.config
    outdir = Path(hc.runtime.output_dir)
    if is_done(outdir):
        print(f"{_display(outdir)}: already complete, not rerun")
        return float("nan")
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / FAILED).unlink(missing_ok=True)
    write_text(outdir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    try:
        summary = execute(params, cfg, outdir)
    except Exception as e:  # noqa: BLE001 - recorded by name and re-raised or reported by the sweep
        write_text(outdir / FAILED, traceback.format_exc())
        if hc.mode == RunMode.MULTIRUN:
            print(f"pathways: job {outdir.name} failed: {type(e).__name__}: {e}", file=sys.stderr)
            return float("nan")
        raise
    mark_done(outdir)
    if hc.mode != RunMode.MULTIRUN:
        from .report import write_report

        write_report(outdir)
    print(summary_table(summary, c.scenario_name, c.region.published_vacancies))
    meta = json.loads((outdir / "run.json").read_text())
    if meta["precision"]:
        print(meta["precision"])
    print(f"results: {_display(outdir.resolve())}")
    return next((m for s, k, g, m, *_ in summary if k == "hires" and g == "all"), float("nan"))


def main() -> None:
    """Entry point of `pathways` and `python -m sim`."""
    register()
    preflight(sys.argv[1:])
    job()


def report_main(argv: list[str] | None = None) -> None:
    """`pathways-report DIR`: rebuild comparison.csv and report.html of a finished or partial folder."""
    import argparse

    from .sweep import finish_folder

    ap = argparse.ArgumentParser(prog="pathways-report", description=report_main.__doc__)
    ap.add_argument("folder", type=Path, help="a run folder or a sweep folder under results/")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        fail(f"{args.folder}: not a folder; allowed: a run or sweep folder under results/")
    sys.exit(finish_folder(args.folder))
