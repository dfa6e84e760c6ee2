"""The comparison under uncertainty, by default: a finished sweep's options run again on parameter sets drawn from
the ranges (`sim.params.ranges`), paired (the options of a set share its values and its random numbers), with as
many sets as a stable answer needs, written to the sweep's `uncertainty/` folder in the tables of
`pathways-decide psa` (`sim.analysis.psa`), which the report, the console and the workbook read.

Which jobs are options: every finished job with an intervention, and the reference. A job without one (a
forecast of demand, a what-if on the region) is context: it changes the backdrop, buys nothing, and is not
weighed as something to fund.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from omegaconf import OmegaConf

from sim.analysis.compare import UNCERTAINTY as FOLDER
from sim.analysis.compare import Job, find_jobs, is_context, reference_job
from sim.analysis.psa import Study, differences, effect_of, net_benefit, psa
from sim.experiment.replications import write_text
from sim.experiment.runner import Option
from sim.params.config import to_config
from sim.params.paths import CONFIG_DIR
from sim.params.ranges import Parameter, Ranges, option_files, parameters
from sim.params.schema import Experiment

STABLE = 0.05  # the most any option's probability of being the best buy may move between half the sets and all


def option_of(job: Job, config_dir: Path = CONFIG_DIR) -> Option:
    """A finished job as an option of a decision: its resolved config (BAU recruitment is calibrated again for
    each set) and the files it was composed from, named by its label in the comparison."""
    raw = yaml.safe_load((job.path / "config.yaml").read_text())
    config = to_config(OmegaConf.create(raw))
    hydra = OmegaConf.load(job.path / ".hydra" / "hydra.yaml")
    choices = {str(k): str(v) for k, v in (hydra.hydra.runtime.choices or {}).items() if v is not None}
    return Option(job.label, list(job.overrides), config, option_files(choices, config, config_dir), raw)


def study_of(folder: Path, ranges: Ranges | None = None) -> tuple[Study, Experiment, list[str]] | None:
    """The decision a finished sweep asks for (its reference first, context left out), its experiment settings and
    the context's labels; None when there is nothing to weigh (a job unfinished, no reference, fewer than two
    options) or the sweep asks for no parameter sets (`experiment.uncertainty=none`: then nothing is composed)."""
    jobs = find_jobs(folder)
    ref = reference_job(jobs)
    if ref is None or ref.uncertainty == "none" or any(j.status != "done" for j in jobs):
        return None
    chosen = [ref] + [j for j in jobs if j is not ref and not is_context(j, ref)]
    if len(chosen) < 2:
        return None
    options = [option_of(j) for j in chosen]
    params = parameters({o.name: (o.config, o.files) for o in options}, ranges or Ranges.load())
    context = [j.label for j in jobs if is_context(j, ref)]
    return Study.of(options, params, ref.label), options[0].config.experiment, context


def run_sets(folder: Path, workers: int = 1, progress: Callable[[int, int], None] | None = None) -> Path | None:
    """Run (or resume) the sweep's parameter sets in `folder/uncertainty`; returns that folder, or None when the
    sweep asks for none (`experiment.uncertainty=none`) or has nothing to weigh.

    With `experiment.sets` 0, `sets_min` sets first, doubled (the first sets kept: a Sobol sequence's first half is
    itself balanced) until no option's probability of being the best buy, for either effect at its willingness to
    pay, moves by more than `STABLE` between the first half and all of them, or `sets_max` is reached.

    With a posterior (`experiment.parameters`, `Study.design`) and `experiment.compare_prior`, the same number of
    sets is run again on the prior ranges alone in `folder/uncertainty/prior` (the same design points for every
    uncalibrated parameter and the same random numbers: what changes between the two is the calibration's doing),
    for the report's "how much the decision changed"."""
    found = study_of(folder)
    if found is None:
        return None
    study, ex, context = found
    out = folder / FOLDER
    n, moved = _sets(study, out, ex, workers, progress)
    settings = {"command": "psa", "overrides": [o.name for o in study.options], "samples": n, "replications": 1,
                "base_replications": 0, "seed": ex.seed, "design": "sobol", "ranges": "configs/ranges",
                "default": True, "largest_change": moved, "stable": moved <= STABLE,
                "wtp": wtp_of(ex), "context": context, **drawn_from(study)}
    write_text(out / RECOMMENDATION, json.dumps(recommendation(out, study, n, ex), indent=2))
    if study.posterior is not None and ex.compare_prior:
        prior = Study(study.options, study.params, study.reference)
        _claim(out / PRIOR, prior, ex.seed)
        psa(prior, out / PRIOR, n, 1, 0, ex.seed, "sobol", workers, None, progress,
            parameter_labels(prior, prior.params))
        write_text(out / PRIOR / RECOMMENDATION, json.dumps(recommendation(out / PRIOR, prior, n, ex), indent=2))
        write_text(out / PRIOR / "decide.json", json.dumps({**settings, **drawn_from(prior)}, indent=2,
                                                           sort_keys=True))
    write_text(out / "decide.json", json.dumps(settings, indent=2, sort_keys=True))
    return out


def _sets(study: Study, out: Path, ex: Experiment, workers: int,
          progress: Callable[[int, int], None] | None) -> tuple[int, float]:
    """Run the study's sets in `out` until the best buy is stable (`run_sets`); the sets run and the largest move."""
    _claim(out, study, ex.seed)
    labels = parameter_labels(study, study.params)
    n = ex.sets or ex.sets_min
    while True:
        psa(study, out, n, 1, 0, ex.seed, "sobol", workers, None, progress, labels, tables=False)
        moved = stability(out, study, n, wtp_of(ex))
        if ex.sets or moved <= STABLE or n >= ex.sets_max:
            psa(study, out, n, 1, 0, ex.seed, "sobol", workers, None, progress, labels)  # the tables, once
            return n, moved
        n = min(2 * n, ex.sets_max)


def drawn_from(study: Study) -> dict[str, Any]:
    """What a run's decide.json records of where its sets came from (DRAWN_FROM): "prior", or "posterior" with the
    calibration's folder, posterior.csv's hash and the calibrated parameters."""
    if study.posterior is None:
        return {"drawn_from": "prior"}
    return {"drawn_from": "posterior", "posterior": study.posterior.provenance(),
            "calibrated": list(study.posterior.names)}


RECOMMENDATION = "recommendation.json"
DESIGN = "design.json"  # what the records were run on: a resume must be the same design
DRAWN_FROM = ("drawn_from", "posterior", "calibrated")  # decide.json's keys of `drawn_from`
PRIOR = "prior"  # uncertainty/'s subfolder: the same sets on the prior ranges, beside a posterior's (compare_prior)


def _claim(out: Path, study: Study, seed: int) -> None:
    """Start `out` for this design, or check that its records are of the same one (the options, their parameters
    and ranges, the seed, and the posterior's folder and hash when the sets draw from one); ConfigError otherwise,
    rather than mixing sets of two designs."""
    import hashlib

    from sim.params.errors import ConfigError

    design = {"seed": seed, "options": [o.name for o in study.options],
              "parameters": [[p.name, p.spec.kind, p.spec.args, list(p.keys)] for p in study.params if p.varied],
              "configs": hashlib.sha256(json.dumps([o.raw for o in study.options], sort_keys=True,
                                                   default=str).encode()).hexdigest()}
    if study.posterior is not None:  # only then: a run without one keeps the design it always had
        design["posterior"] = study.posterior.provenance()
    path = out / DESIGN
    if path.exists() and json.loads(path.read_text()) != json.loads(json.dumps(design, default=str)):
        raise ConfigError(str(path), "another design", "the same options, parameters, ranges, posterior and seed as "
                          f"its records (the ranges, the options or the region's calibration changed since they ran: "
                          f"remove {out} to run the sets again)")
    out.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(design, indent=1, default=str))


def recommendation(out: Path, study: Study, n: int, ex: Experiment) -> dict:
    """The recommendation per effect (`sim.analysis.recommend`) from the first `n` sets of `out`."""
    from sim.analysis.recommend import recommendations
    from sim.experiment.runner import Records
    from sim.params.ranges import varied

    v = varied(study.params)
    u = study.design(n, ex.seed)
    spans = {effect: (float(span[0]), float(span[1])) for effect, span in
             (("sustained_job", ex.wtp_per_sustained_job_range), ("vacancy_year", ex.wtp_per_vacancy_year_range))}
    recs = recommendations(Records(out / "records.jsonl").read(), [f"set{i}" for i in range(n)],
                           [o.name for o in study.options], study.reference, wtp_of(ex), spans, v, u)
    return {"recommendations": [r.to_json() for r in recs], "labels": parameter_labels(study, v)}


def parameter_labels(study: Study, params: list[Parameter]) -> dict[str, str]:
    """Each varied parameter in words, from the first option whose config has it."""
    from functools import reduce

    from sim.params.labels import path_label, pattern_label, step

    def has(raw: dict, key: str) -> bool:
        return reduce(step, key.split("."), raw) is not None

    out = {}
    for p in params:
        if "*" in p.name:  # a shared range: one draw for every number its pattern matches, named as such
            out[p.name] = pattern_label(p.name)
            continue
        raw = next((o.raw for o in study.options if has(o.raw, p.keys[0])), study.options[0].raw)
        out[p.name] = path_label(p.name, raw)
    return out


def wtp_of(ex: Experiment) -> dict[str, float]:
    """The willingness to pay per unit of each effect (psa.EFFECTS' names)."""
    return {"sustained_job": ex.wtp_per_sustained_job, "vacancy_year": ex.wtp_per_vacancy_year}


def best_buy(records: dict[str, dict], ids: list[str], names: list[str], reference: str, effect: str,
             wtp: float) -> np.ndarray:
    """Each option's probability of being the best buy (highest net benefit) for one effect at `wtp`."""
    from sim.analysis.psa import acceptability

    kpi, sign = effect_of(effect)
    e = np.column_stack([sign * differences(records, ids, n, reference, kpi).mean(axis=1) for n in names])
    c = np.column_stack([differences(records, ids, n, reference, "programme_cost").mean(axis=1) for n in names])
    return acceptability(net_benefit(e, c, wtp))[0]


def stability(out: Path, study: Study, n: int, wtp: dict[str, float]) -> float:
    """The largest change of any option's probability of being the best buy, for either effect at its willingness
    to pay, between the first half of the `n` sets and all of them."""
    from sim.experiment.runner import Records

    records = Records(out / "records.jsonl").read()
    ids = [f"set{i}" for i in range(n)]
    names = [o.name for o in study.options]
    moved = 0.0
    for effect, w in wtp.items():
        half = best_buy(records, ids[: n // 2], names, study.reference, effect, w)
        full = best_buy(records, ids, names, study.reference, effect, w)
        moved = max(moved, float(np.abs(full - half).max()))
    return moved
