"""Before Hydra starts and before any simulation: every config the command line asks for is composed and
validated, the run is sized, sized-but-off interventions are switched on, and a bad value is told in one line
that names the file, the key, the value and the allowed range."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sim.experiment.folders import Plan
from sim.interfaces.errors import _display, fail
from sim.params.compose import searchpath_folders, sweep_combos, without_hydra
from sim.params.config import check_literal, load
from sim.params.errors import ConfigError, config_error, did_you_mean, field_at
from sim.params.paths import CONFIG_DIR, SCENARIO_DIR
from sim.params.plan import Params, lookup
from sim.params.schema import register, size_effect

GROUPS = ("region", "pathway", "experiment")

LABEL_KEYS = ("label",)  # intervention keys that name it and change nothing it does: never a reason to switch it on

MAX_PREFLIGHT = 500  # configs composed and checked up front in a multirun

# simulation events per resident, about (7.9 nationally since the clock is SimPy's own environment)
EVENTS_PER_RESIDENT = 8

_SKIP_PREFLIGHT = {"-h", "--help", "--hydra-help", "--version", "-i", "--info", "-sc", "--shell-completion",
                   "-c", "--cfg", "--resolve", "-p", "--package", "--experimental-rerun",
                   "-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir"}


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
        return (f"command-line override '{given}': unknown {group} '{name}'{did_you_mean(name, available(group))}; "
                f"allowed: {', '.join(available(group))}")
    key = re.search(r"full_key: (\S+)", text) or re.search(r"Could not override '([^']+)'", text)
    if key is None:
        return f"command line {' '.join(overrides)}: {' '.join(text.split())}"
    k = key.group(1)
    where = re.search(r"In '([^']+)'", text)
    source = (_display(_group_file(where.group(1), overrides)) if where and where.group(1) != "config"
              else locate(k, _choices(overrides), overrides))
    return config_error(k, text, source).message()


def _group_file(name: str, overrides: list[str]) -> Path:
    """The file a group's config `name` (e.g. intervention/odd) was read from: the shipped tree's, else the first
    `hydra.searchpath` folder that has it (a planner's own folder)."""
    folders = [CONFIG_DIR] + [Path(f) for o in overrides if o.startswith("hydra.searchpath=")
                              for f in searchpath_folders(o)]
    return next((f / f"{name}.yaml" for f in folders if (f / f"{name}.yaml").exists()), CONFIG_DIR / f"{name}.yaml")


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


# ----------------------------------------------------------------------------- before Hydra starts
def _task(argv: list[str]) -> list[str]:
    overrides = [a for a in argv if not a.startswith("-")]
    return [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]


def _combos(argv: list[str]) -> list[list[str]]:
    """The task overrides of every job `argv` asks for (one for a single run)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    task = _task(argv)
    try:
        parsed = OverridesParser.create().parse_overrides(task)
    except Exception as e:
        fail(f"command line: {str(e).splitlines()[0]}")
    if "-m" in argv or "--multirun" in argv:
        try:
            return sweep_combos(parsed) or [[]]
        except ValueError as e:
            fail(f"command line: {e}")
    return [task]


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.I)
_WORD = re.compile(r"[A-Za-z_][\w-]*")
_SWEEPABLE_GROUPS = ("scenario", "region", "experiment")  # group choices a comma can only mean a sweep of


def _literal(text: str) -> Any:
    """A plain value as Hydra reads it (an int, a float or a word), or None for anything richer."""
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    return text if _WORD.fullmatch(text) else None


def _numeric(key: str) -> bool:
    """Whether `key` is a plain number field of the schema (of a known intervention, under `intervention.`)."""
    parts = key.split(".")
    if parts[0] == "intervention" and (len(parts) < 3 or parts[1] not in available("intervention")):
        return False
    found = field_at(key)
    return found is not None and found[0] in (int, float)


def check_literals(argv: list[str], multirun: bool) -> list[str]:
    """The plain values typed for number fields checked against the schema's type and range before anything is
    composed (a typo is told in well under a second), and a list given for one number (`places=[0,20,40]`, as
    Hydra's own message suggests) taken as a sweep of its values under -m, or answered with the exact command.
    Returns `argv`, with such lists written as sweeps; UsageError for a value that can never be valid."""
    out, swept = [], []
    for a in argv:
        key, eq, value = a.partition("=")
        plain = _key(a)
        if a.startswith(("-", "~")) or not eq or plain.startswith(("hydra.", "hydra/")):
            out.append(a)
            continue
        listed = re.fullmatch(r"\[([^\[\]{}()]*)\]", value)
        if listed and _numeric(plain):
            value = ",".join(x.strip() for x in listed.group(1).split(","))
            swept.append((a, f"{key}={value}"))
        elif "," in value and not multirun and (plain in _SWEEPABLE_GROUPS or _numeric(plain)) \
                and _literal(value.split(",")[0]) is not None:
            swept.append((a, a))
        out.append(f"{key}={value}")
        parts = [_literal(x) for x in (value.split(",") if multirun or listed else [value])]
        for text, parsed in zip(value.split(",") if multirun or listed else [value], parts):
            if parsed is None or not _numeric(plain):
                break
            try:
                check_literal(plain, parsed, text)
            except ConfigError as e:
                e.source = f"command-line override '{key}={text}'"  # the one job's value, as the composed check
                fail(e.message())
    if swept and not multirun:
        command = [x for x in out if x not in ("-m", "--multirun")]
        if any(re.fullmatch(r"intervention\.\w+\.places", _key(new)) for _, new in swept) \
                and not any(_key(x) in ("experiment.reference", "scenario") for x in command):
            command.append("experiment.reference=0")  # sizes compared with the first, as the README's example
        fail(f"command-line override '{swept[0][0]}': several values are a sweep, one job each; "
             f"type: {shlex.join(['pathways', '-m', *command])}")
    for typed, new in swept:
        print(f"pathways: {typed} taken as a sweep of its values ({new})", file=sys.stderr)
    return out


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
    from hydra import initialize_config_dir

    from sim.params.compose import kept_compose as compose  # Hydra's compose, kept between runs

    multirun = "-m" in argv or "--multirun" in argv
    argv = check_literals(argv, multirun)
    register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        _check_hydra_groups(argv)
        combos = _combos(argv)
        switch_on = _interventions_to_switch_on(argv, combos, compose)
        if switch_on:
            added = f"+intervention=[{','.join(switch_on)}]"
            argv = [*argv, added]
            combos = _combos(argv)
        searchpath = [a for a in argv if a.startswith("hydra.searchpath=")]  # a planner's own region folder
        cfg, configs, planned = _compose_all(combos, compose, searchpath)
        region = _region_of_the_programmes(argv, combos, planned) if multirun else None
        if region is not None:  # the options that set no region run in the one their programmes set
            argv = [*argv, f"region={region}"]
            combos = _combos(argv)
            cfg, configs, planned = _compose_all(combos, compose, searchpath)
        if multirun and 1 < len(planned) == len(combos):
            from sim.analysis.compare import ComparisonError, plan_jobs

            try:
                scenarios, regions, interventions, references = map(list, zip(*planned))
                plan_jobs(combos, scenarios, regions, interventions, references[0])
            except ComparisonError as e:
                fail(f"{_what_was_asked(argv)}: {e}")
        if multirun:
            for line in size_notes(combos, configs):
                print(f"pathways: note: {line}", file=sys.stderr)
        if switch_on:  # said once every job is known to be valid: a refusal stays one line
            print(f"pathways: switching on intervention {', '.join(switch_on)} ({added}) for the sizes given",
                  file=sys.stderr)
        if region is not None:
            print(f"pathways: every option runs in region {region}, the region its programme sets (region={region}); "
                  "give region=NAME to choose another", file=sys.stderr)
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


def size_notes(combos: list[list[str]], configs: list[dict | None]) -> list[str]:
    """Before a sweep of an intervention's sizes runs: when its sizes cannot change the outcome (its places feed
    nothing it does: the same results at every size, at the same or a higher cost), or can only while the capacity
    they add to is short (known only from the run, which marks sizes with the same results as a smaller one)."""
    notes = []
    for key in dict.fromkeys(_key(o) for c in combos for o in c):
        m = re.fullmatch(r"intervention\.(\w+)\.places", key)
        sizes = {float(c["intervention"][m.group(1)]["places"]): c["intervention"][m.group(1)]
                 for c in configs if m and c and m.group(1) in c.get("intervention", {})}
        if len(sizes) < 2:
            continue
        name = key.split(".")[1]
        effect = size_effect(sizes[min(sizes)], sizes[max(sizes)])
        listed = ", ".join(f"{p:g}" for p in sorted(sizes))
        if effect == "nothing":
            notes.append(f"{key}: sizes {listed} will give the same results at the same cost: nothing {name} does "
                         f"depends on its places (it is paid per person); compare it on and off instead: "
                         f"pathways -m 'intervention=[],[{name}]'")
        elif effect == "cost":
            notes.append(f"{key}: sizes {listed} will give the same results, only the cost grows with the places: "
                         f"nothing else {name} does depends on them")
        elif effect == "capacity":
            notes.append(f"{key}: {name}'s places add to a capacity; places beyond those residents wait for give the "
                         "same results at a higher cost, which the run shows: the summary and the report mark any size "
                         "with the same results as a smaller one")
    return notes


def _compose_all(combos: list[list[str]], compose: Any, searchpath: list[str]
                 ) -> tuple[Any, list[dict | None], list[tuple]]:
    """Compose and validate the first MAX_PREFLIGHT jobs (with `searchpath`: a planner's own region folder): the
    last config, each job's resolved config, and each job's (scenario, region, interventions, reference);
    UsageError naming the first bad value."""
    cfg = None
    configs: list[dict | None] = []
    planned: list[tuple[str, str, tuple[str, ...], str]] = []
    for combo in combos[:MAX_PREFLIGHT]:
        try:
            cfg = compose("config", overrides=[*combo, *searchpath], return_hydra_config=True)
        except Exception as e:
            fail(composition_message(f"{e}\n{e.__cause__ or ''}", [*combo, *searchpath]))
        choices = dict(cfg.hydra.runtime.choices)
        check_scenario_name(choices.get("scenario") or "baseline", str(cfg.scenario_name))
        job = without_hydra(cfg, [*combo, *searchpath])
        params = params_or_exit(job, choices, combo)
        c = params.config
        plain = OmegaConf.to_container(job, resolve=True)
        assert isinstance(plain, dict)  # a DictConfig's container
        configs.append(plain)
        planned.append((c.scenario_name, c.region.name, tuple(c.intervention), c.experiment.reference))
    return cfg, configs, planned


def _region_of_the_programmes(argv: list[str], combos: list[list[str]], planned: list[tuple]) -> str | None:
    """The region to run a whole sweep in when the command line chooses none and some options' programmes set
    one region of their own (a Connect to Work area): the others, the baseline among them, set none, so they
    follow it and the comparison stays within one labour market. None when there is nothing to follow: every
    option on one region already, the command line choosing the region, or programmes setting different regions
    (the comparison then says which to choose)."""
    if any(_key(o) == "region" for o in _task(argv)) or len(planned) != len(combos):
        return None
    default = _default_region()
    own = {region for _, region, *_ in planned if region != default}
    return own.pop() if len(own) == 1 and len({region for _, region, *_ in planned}) > 1 else None


def _default_region() -> str:
    """The region a config that chooses none runs in (configs/config.yaml's defaults list)."""
    for item in OmegaConf.load(CONFIG_DIR / "config.yaml").defaults:
        if isinstance(item, DictConfig) and "region" in item:
            return str(item.region)
    return ""


def _what_was_asked(argv: list[str]) -> str:
    """The options a sweep was asked for, as the planner typed them (no Hydra settings, no run-only keys)."""
    asked = [a for a in _task(argv) if _key(a) not in ("experiment.progress",)]
    return f"command line {' '.join(asked)}" if asked else "command line"


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
        except Exception:
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
            fail(f"command-line override '{o}': unknown intervention '{name}'{did_you_mean(name, files)}; "
                 f"allowed: {', '.join(files)}")
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
    clash = ([] if name == chosen else
             [stem for stem, other in names.items() if stem != chosen and name in (stem, other)])
    if clash:
        fail(f"{_display(SCENARIO_DIR / (chosen + '.yaml'))}: scenario_name = {name!r}: already the name of "
             f"{_display(SCENARIO_DIR / (clash[0] + '.yaml'))}; allowed: a name of its own (e.g. {chosen})")
