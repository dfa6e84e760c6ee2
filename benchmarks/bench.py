"""Benchmarks of pathways (run on demand: `make bench`; never part of `make test`).

Prints one JSON line per case, each the median of several runs:
  bare_simpy            events/s of a bare SimPy loop: the ceiling on this machine, same run
  pathway_N             the default region's pathway and demand side with channel rates scaled so
                        N residents arrive over 5 years and capacities scaled in proportion
  default_region_50reps the default region, 5 years, 50 replications, 1 and 2 workers, and the
                        speed-up two independent processes reach on this machine (its ceiling)
  national              scenario connect_to_work_national, one replication
  psa_256               pathways-decide psa: 256 parameter sets x the six Norfolk options, one replication
                        each, default region, serial; time per (set x option) against a plain replication of
                        the same options measured in the same run (overhead ratio; target <= 1.25)
  decision              `make run`'s comparison as a planner runs it (six Norfolk options, two jobs at a time):
                        wall seconds with parameter uncertainty (the default: jobs, then the parameter sets, on
                        the posterior and again on the prior ranges; target <= 90 s on 2 quiet cores) beside the
                        same at the files' values only (experiment.uncertainty=none), in the same run
  sobol                 (on demand only: --cases sobol; tens of minutes) `pathways-decide sensitivity` on the
                        Norfolk options (--sobol-options), two workers: --method sobol (the screening, the
                        tornado, the emulator's runs) from scratch, then --method sobol-direct on a copy of its records
                        (only the Saltelli design's runs are new); wall and CPU seconds of each, the runs, the
                        emulator's R^2, and the leading output's indices side by side with the rank agreement
                        and how many intervals overlap
Events are those SimPy processed (from the environment's event counter). Shared machines are
noisy, so each run of a case is paired with bare loops measured just before and just after it: the
share of bare is the median of those paired ratios, not a ratio of medians taken minutes apart.
The share compares the cost of an event, so it moves with the events a resident needs as well as
with speed: `events_per_resident` is printed beside it, and `bare_events_per_resident` (the paired
bare loop's events/s over residents/s: what a resident costs, in bare SimPy events; lower is faster)
compares the cost of a resident on the machine's own scale, for code that needs a different number
of events per resident.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import make_params

from sim.experiment.replications import run_replications
from sim.model import Model
from sim.params.plan import Params

HORIZON_YEARS = 1826 / 365.0


def bare_simpy(events: int = 2_000_000) -> dict:
    """Events/s of 100 processes that only wait: the most SimPy can do here."""
    env = simpy.Environment()

    def tick(env: simpy.Environment):
        while True:
            yield env.timeout(1)

    for _ in range(100):
        env.process(tick(env))
    t = time.perf_counter()
    env.run(until=events / 100)
    wall = time.perf_counter() - t
    n = next(env._eid) - len(env._queue)
    return {"wall_s": wall, "events_per_s": n / wall}


def scaled_overrides(residents: int) -> list[str]:
    """Overrides that make `residents` arrive over 5 years, with every pathway capacity scaled alike."""
    base = make_params()
    c = base.config
    per_year = sum(ch.referrals_per_year for ch in c.region.channels.values())
    k = residents / (per_year * HORIZON_YEARS)
    pw = c.pathway
    ov = [f"region.channels.{n}.referrals_per_year={ch.referrals_per_year * k}"
          for n, ch in c.region.channels.items() if ch.referrals_per_year > 0]
    ov += [f"pathway.engagement.advisers={pw.engagement.advisers * k}",
           f"pathway.recruitment.interview_slots={pw.recruitment.interview_slots * k}"]
    ov += [f"pathway.support.{n}.places={s.places * k}" for n, s in pw.support.items()]
    ov += [f"pathway.training.courses.{n}.places_per_cohort={co.places_per_cohort * k}"
           for n, co in pw.training.courses.items()]
    return ov


def one_run(params: Params) -> dict:
    m = Model(params, 0)
    t = time.perf_counter()
    out = m.run()
    wall = time.perf_counter() - t
    return {"wall_s": wall, "residents": out.residents, "events": out.events,
            "residents_per_s": out.residents / wall, "events_per_s": out.events / wall}


def _isolated(params: Params) -> dict:
    """One run in a fresh process, so its peak RSS is its own."""
    r = one_run(params)
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return r


def median_runs(fn, repeat: int) -> dict:
    runs = [fn() for _ in range(repeat)]
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def in_fresh_process(params: Params) -> dict:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_isolated, params).result()


def paired_with_bare(params: Params) -> dict:
    """One run in a fresh process, with its events/s as a share of a bare loop measured just before and
    just after it (their mean: the machine's speed drifts over a run of many seconds)."""
    before = bare_simpy(1_000_000)["events_per_s"]
    r = in_fresh_process(params)
    after = bare_simpy(1_000_000)["events_per_s"]
    r["bare_events_per_s"] = (before + after) / 2
    r["share_of_bare"] = r["events_per_s"] / r["bare_events_per_s"]
    r["events_per_resident"] = r["events"] / r["residents"]
    r["bare_events_per_resident"] = r["bare_events_per_s"] / r["residents_per_s"]
    return r


def pathway_case(n: int, repeat: int) -> dict:
    params = make_params("experiment.replications=1", *scaled_overrides(n))
    return {"case": f"pathway_{n}", **median_runs(lambda: paired_with_bare(params), repeat)}


def _serial_wall(params: Params, reps: range) -> float:
    t = time.perf_counter()
    run_replications(params, reps, workers=1)
    return time.perf_counter() - t


def machine_ceiling(params: Params) -> float:
    """The speed-up two cores give two independent processes (25 replications each, no communication):
    what the hardware allows a 2-worker run, whatever the code does."""
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        pool.submit(_serial_wall, params, range(1)).result()  # both workers started and warm
        pool.submit(_serial_wall, params, range(1)).result()
        alone = pool.submit(_serial_wall, params, range(25)).result()
        pair = [f.result() for f in [pool.submit(_serial_wall, params, range(25)),
                                     pool.submit(_serial_wall, params, range(25, 50))]]
    return 2 * alone / max(pair)


def default_50(repeat: int) -> dict:
    """1 and 2 workers measured in alternation, so a slow spell of the machine hits both alike; beside
    them the speed-up two independent processes get on this machine (its ceiling)."""
    params = make_params("experiment.replications=50")

    def wall(workers: int) -> float:
        t = time.perf_counter()
        run_replications(params, range(50), workers=workers)
        return time.perf_counter() - t

    rows = [(wall(1), wall(2), machine_ceiling(params)) for _ in range(repeat)]
    return {"case": "default_region_50reps", "wall_s_1_worker": statistics.median(r[0] for r in rows),
            "wall_s_2_workers": statistics.median(r[1] for r in rows),
            "speedup": statistics.median(r[0] / r[1] for r in rows),
            "machine_ceiling_speedup": statistics.median(r[2] for r in rows)}


def national() -> dict:
    params = make_params("scenario=connect_to_work_national", "experiment.replications=1")
    return {"case": "national", **paired_with_bare(params)}


NORFOLK = ("baseline,west_norfolk_local_plan,skills_plan_entry_retention,skills_plan_nursing_home_nurses,"
           "skills_plan_manager_succession,norfolk_waveney_system")


def psa_256(samples: int = 256) -> dict:
    """PSA sets through the decide runner (values applied, validated, Params built, records appended) against
    plain replications of the same six options, both serial in this process, plain runs before and after."""
    import tempfile

    from sim.analysis.psa import PSA_STREAMS, Study, unit_design
    from sim.experiment.runner import Records, Runner, Task
    from sim.params.paths import CONFIG_DIR
    from sim.params.ranges import Ranges, varied

    study = Study.build([f"scenario={NORFOLK}"], Ranges.load(), CONFIG_DIR)
    options = {o.name: make_params(*o.overrides, "experiment.replications=1") for o in study.options}

    def plain(reps: range) -> float:
        t = time.perf_counter()
        for p in options.values():
            run_replications(p, reps, workers=1)
        return (time.perf_counter() - t) / (len(reps) * len(options))

    before = plain(range(8))
    u = unit_design(samples, len(varied(study.params)), 20261201)
    tasks = [Task(f"set{i}", study.point(u[i]), (PSA_STREAMS + i,)) for i in range(samples)]
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        with Runner(study.configs, Records(Path(d) / "records.jsonl"), workers=1) as runner:
            runner.run(tasks)
        wall = time.perf_counter() - t
    after = plain(range(8, 16))
    per = wall / (samples * len(study.options))
    plain_s = (before + after) / 2
    return {"case": "psa_256", "sets": samples, "options": len(study.options), "wall_s": wall,
            "s_per_set_option": per, "s_per_plain_replication": plain_s, "overhead_ratio": per / plain_s,
            "parameters_varied": len(varied(study.params))}


NORFOLK = ("baseline,west_norfolk_local_plan,skills_plan_entry_retention,skills_plan_nursing_home_nurses,"
           "skills_plan_manager_succession,norfolk_waveney_system")


def decision() -> dict:
    """Wall seconds of `make run`'s command with and without parameter uncertainty, each in a fresh folder."""
    import subprocess
    import tempfile

    out: dict = {"case": "decision"}
    for mode in ("parameters", "none"):
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            r = subprocess.run([str(Path(sys.executable).parent / "pathways"), "-m", "hydra/launcher=local_parallel",
                                "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={d}/s", f"experiment.uncertainty={mode}",
                                f"scenario={NORFOLK}"], capture_output=True, text=True)
            out[f"wall_s_{mode}"] = time.perf_counter() - t
            if r.returncode:
                out[f"error_{mode}"] = r.stderr.strip().splitlines()[-1:]
            decided = Path(d) / "s" / "uncertainty" / "decide.json"
            if decided.exists():
                out["parameter_sets"] = json.loads(decided.read_text())["samples"]
                out["prior_sets_too"] = (decided.parent / "prior" / "decide.json").exists()  # compare_prior
    return out


def sobol(options: str, trajectories: int) -> dict:
    """Sobol indices of the leading 8 parameters from the emulator (the whole command) and directly (its extra runs
    only: the screening's and tornado's points are copied from the emulated run's records), wall and CPU seconds of each
    (CPU: this process's children, the command and its workers), and the leading output's indices compared."""
    import csv
    import resource
    import shutil
    import subprocess
    import tempfile

    from scipy.stats import spearmanr

    def command(method: str, folder: Path) -> dict:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run([str(Path(sys.executable).parent / "pathways-decide"), "sensitivity", "--method", method,
                            "--trajectories", str(trajectories), "--workers", "2", "--out", str(folder),
                            f"scenario={options}"], capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if r.returncode:
            return {"error": r.stderr.strip().splitlines()[-1:]}
        with (folder / "records.jsonl").open() as f:
            ids = [json.loads(line)["task"] for line in f]
        return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "tasks": len(ids)}

    def indices(folder: Path) -> dict:
        with (folder / "sensitivity.csv").open() as f:
            rows = [r for r in csv.DictReader(f) if r["method"] == "sobol"]
        first = rows[0]["kpi"]
        return {(r["parameter"], r["index"]): r for r in rows if r["kpi"] == first}

    out: dict = {"case": "sobol", "options": options, "trajectories": trajectories}
    with tempfile.TemporaryDirectory() as d:
        emulated, direct = Path(d) / "emulated", Path(d) / "direct"
        out["emulated"] = command("sobol", emulated)
        direct.mkdir()
        shutil.copy(emulated / "records.jsonl", direct / "records.jsonl")
        out["direct_extra"] = command("sobol-direct", direct)
        if "error" in out["emulated"] or "error" in out["direct_extra"]:
            return out
        info = json.loads((emulated / "sensitivity.json").read_text())["sobol"]
        out["emulator_method"], out["emulator_runs"], out["r2"] = info["method"], info["runs"], info["r2"]
        e, x = indices(emulated), indices(direct)
        table = []
        for (name, index), r in sorted(e.items()):
            q = x[(name, index)]
            table.append({"parameter": r["label"], "index": index,
                          **{f"{k}_{w}": round(float(v[c]), 3) for k, v in (("emulated", r), ("direct", q))
                             for w, c in (("value", "value"), ("low", "ci_low"), ("high", "ci_high"))},
                          "emulated_estimated": r["estimated"], "direct_estimated": q["estimated"],
                          "overlap": (float(r["ci_low"]) <= float(q["ci_high"])
                                      and float(q["ci_low"]) <= float(r["ci_high"]))})
        out["leading_output"] = next(iter(e.values()))["kpi"]
        out["indices"] = table
        for index in ("S1", "ST"):
            sel = [t for t in table if t["index"] == index]
            out[f"spearman_{index}"] = float(spearmanr([t["emulated_value"] for t in sel],
                                                        [t["direct_value"] for t in sel]).statistic)
            out[f"overlapping_{index}"] = f"{sum(t['overlap'] for t in sel)} of {len(sel)}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, nargs="*", default=[10_000, 100_000, 300_000])
    ap.add_argument("--repeat", type=int, default=5, help="runs per case (the median is reported)")
    ap.add_argument("--cases", nargs="*", default=["bare", "pathway", "default50", "national", "psa256", "decision"])
    ap.add_argument("--sobol-options", default=NORFOLK.removesuffix(",norfolk_waveney_system"),
                    help="the options of the sobol case (default: the Norfolk options without the context scenario)")
    ap.add_argument("--sobol-trajectories", type=int, default=10, help="Morris trajectories of the sobol case")
    ap.add_argument("--json", action="store_true", help="JSON lines only (the default output is JSON lines too)")
    args = ap.parse_args()
    if "bare" in args.cases:
        print(json.dumps({"case": "bare_simpy", **median_runs(bare_simpy, args.repeat)}), flush=True)
    if "pathway" in args.cases:
        for n in args.residents:
            print(json.dumps(pathway_case(n, args.repeat)), flush=True)
    if "default50" in args.cases:
        print(json.dumps(default_50(args.repeat)), flush=True)
    if "national" in args.cases:
        print(json.dumps(national()), flush=True)
    if "psa256" in args.cases:
        print(json.dumps(psa_256()), flush=True)
    if "decision" in args.cases:
        print(json.dumps(decision()), flush=True)
    if "sobol" in args.cases:
        print(json.dumps(sobol(args.sobol_options, args.sobol_trajectories)), flush=True)


if __name__ == "__main__":
    main()
