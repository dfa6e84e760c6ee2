"""Comparing options: the jobs of a sweep folder against the baseline, with paired statistics.

A sweep folder holds one subfolder per job (Hydra multirun), each with `kpis.csv` and a `DONE`
marker when complete, or a `FAILED` file with the error. Every option ran with the same seeds,
so replication r of an option and replication r of the baseline share common random numbers
and their difference is paired. A single run folder is treated as a sweep of one job.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from sim.experiment.folders import planned_jobs, read_yaml
from sim.experiment.replications import DONE, from_text, write_csv
from sim.experiment.stats import (
    Interval,
    incremental_ratio,
    mean_ci,
    paired_difference,
    unpaired_difference,
    variance_ratio,
)
from sim.params.kpis import COST_RATIOS, KPI

FAILED = "FAILED"
UNCERTAINTY = "uncertainty"  # a sweep's subfolder for its options on parameter sets (sim.analysis.probabilistic)

COMPARISON_HEADER = ("option", "scenario", "kpi", "group", "mean", "ci_low", "ci_high", "n",
                     "diff_mean", "diff_ci_low", "diff_ci_high", "diff_n",
                     "unpaired_diff_ci_low", "unpaired_diff_ci_high", "reference", "var_ratio",
                     # the change over the parameter sets (sim.analysis.probabilistic; empty at the files' values)
                     "expected_diff_mean", "expected_diff_low", "expected_diff_high", "parameter_sets")


@dataclass
class Job:
    """One job of a sweep: where it is, what it varied, and whether it finished."""

    path: Path
    overrides: list[str]
    status: str  # done | failed | unfinished
    error: str = ""
    label: str = ""
    scenario: str = ""
    kpis: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    region: str = ""  # the demand side it ran on (region.name)
    interventions: tuple[str, ...] = ()
    reference: str = "baseline"  # experiment.reference of the job's config
    uncertainty: str = "parameters"  # experiment.uncertainty of the job's config


def is_context(job: Job, reference: Job | None) -> bool:
    """A job that buys nothing (no intervention, no programme cost) and is not the reference: a forecast of demand
    or a what-if on the region, the backdrop under which options are compared, never an option to fund."""
    costs = job.kpis.get(("programme_cost", "all"), {})
    return job is not reference and not job.interventions and not any(costs.values())


def find_jobs(folder: Path) -> list[Job]:
    """The jobs of a sweep folder (or the single run in a run folder), in job order."""
    folder = Path(folder)
    subfolders = sorted((d for d in folder.iterdir() if d.is_dir() and (d / ".hydra").is_dir()), key=job_number)
    planned = planned_jobs(folder)  # a sweep's jobs as it was started (manifest.json), begun or not
    candidates = subfolders or ([] if planned else [folder])
    jobs = []
    for d in candidates:
        ov_file = d / ".hydra" / "overrides.yaml"
        overrides = list(read_yaml(ov_file) or []) if ov_file.exists() else []
        if (d / DONE).exists():
            job = _done_job(d, overrides)
        elif (d / FAILED).exists():
            job = Job(d, overrides, "failed", (d / FAILED).read_text().strip())
        else:
            job = Job(d, overrides, "unfinished")
        jobs.append(job)
    begun = {job_number(j.path)[0] for j in jobs}
    jobs += [Job(folder / str(i), list(o), "unfinished") for i, o in enumerate(planned or []) if i not in begun]
    jobs.sort(key=lambda j: job_number(j.path))
    _label(jobs)
    return jobs


def _done_job(d: Path, overrides: list[str]) -> Job:
    """A job marked done, with its KPIs; failed, naming the file, if its kpis.csv cannot be read (truncated)."""
    job = Job(d, overrides, "done")
    try:
        job.kpis, job.scenario = _read_kpis(d / "kpis.csv")
        if not job.kpis:
            raise ValueError("no rows")
    except (OSError, ValueError, TypeError, KeyError, csv.Error) as e:
        return Job(d, overrides, "failed", f"{d / 'kpis.csv'} cannot be read ({type(e).__name__}: {e}); "
                                           f"remove {d / DONE} and run the sweep again to redo this job")
    _read_config(job, d / "config.yaml")
    return job


def job_number(d: Path) -> tuple[int, str]:
    head = d.name.split("-", 1)[0]
    return (int(head), d.name) if head.isdigit() else (10**9, d.name)


def labelled_options(overrides: list[list[str]]) -> list[str]:
    """The names a sweep's options get (as `find_jobs` names them), from each job's overrides, before any runs."""
    jobs = [Job(Path(str(i)), list(o), "planned") for i, o in enumerate(overrides)]
    _label(jobs)
    return [j.label for j in jobs]


def _label(jobs: list[Job]) -> None:
    """Name each job by the overrides that differ between jobs (or its scenario), as a person reads it."""
    if not jobs:
        return
    keys = {override_key(o) for j in jobs for o in j.overrides}
    varying = None if len(jobs) == 1 else {
        k for k in keys if len({tuple(o for o in j.overrides if override_key(o) == k) for j in jobs}) > 1}
    for j in jobs:
        j.label = option_label(j.overrides, varying, j.scenario or j.path.name)
    seen: dict[str, int] = {}
    for j in jobs:
        seen[j.label] = seen.get(j.label, 0) + 1
    for j in jobs:
        if seen[j.label] > 1:
            j.label += f" (job {j.path.name.split('-', 1)[0]})"


LABEL_SKIP = ("experiment", "hydra")  # how a run is done, not what it models: not part of an option's name
_CONTAINERS = {"channels", "courses", "groups", "roles", "workforce", "community"}
FOLDER_CHARS = 48  # a job folder's name after its number, at most


def override_key(override: str) -> str:
    """`+intervention.childcare.places=20` -> `intervention.childcare.places`."""
    return override.split("=", 1)[0].lstrip("+~")


def _words(text: str) -> str:
    return " ".join(text.replace("_", " ").replace(".", " ").split())


def _value_words(value: str) -> str:
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        items = [_words(x.strip()) for x in v[1:-1].split(",") if x.strip()]
        return " + ".join(items)
    return v.replace("_", " ")


def readable(override: str) -> str:
    """One override as words: `intervention.childcare.places=20` -> `childcare places 20`,
    `intervention=[childcare,gp_advisers]` -> `childcare + gp advisers`, `scenario=x_y` -> `x y`."""
    key, _, value = override.partition("=")
    if override.startswith("~"):
        return "no " + _words(key.lstrip("~"))
    key = key.lstrip("+")
    if key == "scenario":
        return _words(value)
    if key == "intervention":
        return _value_words(value) or "no interventions"
    if key in ("region", "pathway", "experiment"):
        return f"{key} {_words(value)}"
    parts = key.split(".")
    if len(parts) > 1 and parts[0] in ("intervention", "region", "pathway", "experiment"):
        parts = parts[1:]
    parts = [p for p in parts if p not in _CONTAINERS] or parts
    return f"{_words(' '.join(parts))} {_value_words(value)}".strip()


def option_label(overrides: list[str], varying: set[str] | None, scenario: str) -> str:
    """An option's name: its overrides that vary in the sweep (all of those that change the model,
    for a single run) as words, else its scenario's name."""
    shown = [o for o in overrides if (override_key(o) in varying if varying is not None else
                                      override_key(o).split(".")[0].split("/")[0] not in LABEL_SKIP)]
    return ", ".join(readable(o) for o in shown) or _words(scenario)


def folder_name(number: int | str, label: str) -> str:
    """A job folder's name: its number and a short slug of its label (the full overrides are in .hydra/)."""
    slug = re.sub(r"[^a-z0-9.]+", "-", label.lower()).strip("-.")
    if len(slug) > FOLDER_CHARS:
        slug = slug[:FOLDER_CHARS].rsplit("-", 1)[0]
    return f"{number}-{slug}" if slug else str(number)


def _read_kpis(path: Path) -> tuple[dict[tuple[str, str], dict[int, float]], str]:
    """A job's KPIs by (kpi, group) and replication, and its scenario; ValueError on a cut-off file (every file
    is written whole, so one that does not end its last line was cut short, even where that line still parses)."""
    out: dict[tuple[str, str], dict[int, float]] = {}
    scenario = ""
    text = path.read_text()
    if not text.endswith("\n"):
        raise ValueError("truncated: its last line is incomplete")
    for row in csv.DictReader(io.StringIO(text)):
        scenario = from_text(row["scenario"])
        out.setdefault((row["kpi"], row["group"]), {})[int(row["replication"])] = float(row["value"])
    return out, scenario


def _read_config(job: Job, path: Path) -> None:
    """What the comparison needs from a job's resolved config: region, interventions, reference."""
    if not path.exists():
        return
    cfg = read_yaml(path) or {}
    job.region = str((cfg.get("region") or {}).get("name", ""))
    job.interventions = tuple(cfg.get("intervention") or {})
    job.reference = str((cfg.get("experiment") or {}).get("reference", "baseline"))
    job.uncertainty = str((cfg.get("experiment") or {}).get("uncertainty", "parameters"))
    job.scenario = job.scenario or str(cfg.get("scenario_name", ""))


class ComparisonError(ValueError):
    """A sweep that cannot be compared as asked (no reference, several, or options on different regions)."""


def choose_reference(jobs: list[Job], wanted: str) -> Job:
    """The reference of a sweep: the job named `wanted` (its label, its number, or its scenario when
    that job has no interventions). Raises ComparisonError unless exactly one job matches, and when
    the jobs ran on different regions (a comparison across labour markets is not an effect)."""
    def number(j: Job) -> str:
        return j.path.name.split("-", 1)[0]

    def names(js: list[Job]) -> str:
        return ", ".join(f"'{j.label}'" for j in js)

    regions = {j.region for j in jobs if j.region}
    if len(regions) > 1:
        by = "; ".join(f"'{j.label}' on {j.region}" for j in jobs)
        choose = " or ".join(f"region={r}" for r in sorted(regions - {"norfolk_waveney"} or regions))
        raise ComparisonError(
            f"the options run on different regions ({by}): their difference would mix two labour markets; "
            f"allowed: options of one region, or one region for all of them ({choose})")
    by_label = [j for j in jobs if j.label == wanted or number(j) == wanted]
    matches = by_label or [j for j in jobs if j.scenario == wanted and not j.interventions]
    if len(matches) == 1:
        return matches[0]
    how = ("name the reference with experiment.reference=<option>, one of: "
           + ", ".join(f"'{j.label}'" for j in jobs) + " (or its job number)")
    if not matches:
        raise ComparisonError(f"no option is the reference '{wanted}': {how}")
    raise ComparisonError(f"{len(matches)} options could be the reference '{wanted}' ({names(matches)}): {how}")


def reference_job(jobs: list[Job]) -> Job | None:
    """The finished reference job of a sweep folder, or None if there is none to compare against."""
    done = [j for j in jobs if j.status == "done"]
    if not done:
        return None
    try:
        return choose_reference(done, done[0].reference)
    except ComparisonError:
        return None


def plan_jobs(combos: list[list[str]], scenarios: list[str], regions: list[str],
              interventions: list[tuple[str, ...]], reference: str) -> Job:
    """Before a sweep runs: its options as jobs (labelled as they will be) and the reference among them."""
    jobs = [Job(Path(str(i)), list(c), "planned", scenario=s, region=r, interventions=iv, reference=reference)
            for i, (c, s, r, iv) in enumerate(zip(combos, scenarios, regions, interventions))]
    _label(jobs)
    return choose_reference(jobs, reference)


def paired(option: dict[int, float], reference: dict[int, float]) -> tuple[list[float], list[float]]:
    """Values of the replications both have, in replication order (common random numbers)."""
    reps = sorted(set(option) & set(reference))
    return [option[r] for r in reps], [reference[r] for r in reps]


# The one definition of cost per unit of effect: incremental programme cost over incremental effect
# against the reference, paired replication by replication (same window, same people), with Fieller's 95%
# interval (stats.incremental_ratio). In comparison.csv, a cost ratio's row holds, in mean, ci_low, ci_high:
# - the ratio and its interval, when the effect is a clear gain (its CI above 0) bought at an extra cost;
# - NaN, -inf, +inf, when the effect's CI includes zero: Fieller's set is not bounded, and a point estimate
#   over an effect that may be nothing would mislead ("not bounded" in the console, report and workbook);
# - NaN, NaN, NaN otherwise: the reference itself, a clear loss, or a gain at no extra cost (a price per unit
#   of gain does not apply; the report says which from the effect's and the cost's own rows).
# The ratios are the registry's `derived` KPIs (sim.params.kpis.COST_RATIOS): each names its effect KPI and
# the effect's unit; the effect's direction in the registry makes it a gain.


def cost_effect(option: Job, ref: Job, kpi: str) -> Interval:
    """Incremental cost per unit of effect of `option` against `ref`, as comparison.csv holds it (see above)."""
    ratio = KPI[kpi]
    effect = KPI[ratio.effect]
    sign, unit = effect.sign, ratio.per
    key_c, key_e = ("programme_cost", "all"), (effect.name, "all")
    nan = math.nan
    if option is ref or any(k not in j.kpis for k in (key_c, key_e) for j in (option, ref)):
        return Interval(nan, nan, nan, 0)
    c, c0 = paired(option.kpis[key_c], ref.kpis[key_c])
    e, e0 = paired(option.kpis[key_e], ref.kpis[key_e])
    d_cost = [a - b for a, b in zip(c, c0)]
    d_effect = [sign * (a - b) / unit for a, b in zip(e, e0)]
    r = incremental_ratio(d_cost, d_effect)
    if r.n < 2:
        return Interval(nan, nan, nan, r.n)
    if r.high == math.inf:
        return Interval(nan, -math.inf, math.inf, r.n)
    if not (sum(d_effect) > 0 and sum(d_cost) > 0):  # a loss, or no extra cost: a price per unit of gain does not apply
        return Interval(nan, nan, nan, r.n)
    return r


def comparison_rows(jobs: list[Job], expected: dict[tuple[str, str], tuple[float, float, float, int]] | None = None
                    ) -> list[tuple]:
    """Option x KPI: mean and 95% CI, the paired difference against the reference with its CI, and the
    pairing's variance ratio; then the cost per unit of each effect (COST_RATIOS) as its own rows (n/a for
    the reference); the change over the parameter sets (`expected`, by option and KPI, whole region) beside."""
    ref = reference_job(jobs)
    rows = []
    nan = math.nan
    none = (nan, nan, nan, 0)
    expected = expected or {}
    for j in jobs:
        if j.status != "done":
            continue
        for kpi in (k.name for k in COST_RATIOS):
            r = cost_effect(j, ref, kpi) if ref is not None else Interval(nan, nan, nan, 0)
            rows.append((j.label, j.scenario, kpi, "all", r.mean, r.low, r.high, r.n,
                         nan, nan, nan, 0, nan, nan, ref.label if ref else "", nan, *none))
        for (kpi, group), values in j.kpis.items():
            ci = mean_ci(list(values.values()))
            d = u = Interval(math.nan, math.nan, math.nan, 0)
            ratio = math.nan  # the pairing's variance ratio (see stats.variance_ratio)
            if ref is not None and (kpi, group) in ref.kpis:
                a, b = paired(values, ref.kpis[(kpi, group)])
                if a:
                    d = paired_difference(a, b)
                    u = unpaired_difference(a, b)
                    ratio = variance_ratio(a, b)
            rows.append((j.label, j.scenario, kpi, group, ci.mean, ci.low, ci.high, ci.n,
                         d.mean, d.low, d.high, d.n, u.low, u.high, ref.label if ref else "", ratio,
                         *(expected.get((j.label, kpi), none) if group == "all" else none)))
    return rows


def expected(folder: Path) -> dict[tuple[str, str], tuple[float, float, float, int]]:
    """Each option's change against the reference over the parameter sets (uncertainty.csv: the expected value,
    the 2.5-97.5% points, the number of sets), by (option, kpi); empty without parameter sets."""
    path = Path(folder) / UNCERTAINTY / "uncertainty.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {(r["option"], r["kpi"]): (float(r["psa_mean"]), float(r["psa_low"]), float(r["psa_high"]),
                                          int(r["psa_sets"])) for r in csv.DictReader(f)}


def write_comparison(folder: Path) -> tuple[list[Job], list[tuple]]:
    """Write `comparison.csv` into a sweep (or run) folder; return its jobs and rows."""
    jobs = find_jobs(folder)
    rows = comparison_rows(jobs, expected(folder))
    write_csv(Path(folder) / "comparison.csv", COMPARISON_HEADER, rows)
    return jobs, rows


def same_results(jobs: list[Job]) -> dict[str, str]:
    """Each finished option whose every result, replication by replication, equals an earlier option's, costs aside
    (its label -> the earlier option's label). With common random numbers nothing else gives equal results: it is
    how a size that cannot change the outcome shows after the run (places added to a capacity that did not bind
    at the smaller size: nobody ever waited for one, so the extra places sat idle; places an intervention does
    not use), exactly, whatever a check before the run could only estimate."""
    done = [j for j in jobs if j.status == "done" and j.kpis]
    found: dict[str, str] = {}
    for k, job in enumerate(done):
        mine = _results(job)
        same = next((e for e in done[:k] if e.label not in found and _results(e) == mine), None)
        if same is not None:
            found[job.label] = same.label
    return found


def _results(job: Job) -> dict[tuple[str, str], dict[int, float]]:
    """A job's results, replication by replication, without what it costs or the share of each capacity in use
    (more places idle lower it and change nothing else)."""
    return {key: reps for key, reps in job.kpis.items() if key[0] != UTILISATION
            and (key[0] not in KPI or not KPI[key[0]].unit.startswith("gbp"))}


UTILISATION = "utilisation"  # the share of a capacity's places in use (groups capacity:NAME)


def status_lines(jobs: list[Job]) -> list[str]:
    """One line per job that did not finish, naming it and its error."""
    lines = []
    for j in jobs:
        if j.status == "failed":
            lines.append(f"FAILED {j.path.name} ({j.label}): {j.error.splitlines()[-1] if j.error else ''}")
        elif j.status == "unfinished":
            lines.append(f"UNFINISHED {j.path.name} ({j.label}): run the sweep again with the same folder to resume")
    return lines
