"""Decisions under uncertainty: probabilistic sensitivity analysis, what drives it, the best mix.

`pathways-decide psa` draws parameter sets (scipy's quasi-Monte Carlo) over the ranges of
`sim.params.ranges`, runs every option on every set with the same random numbers (paired), and
writes the effect of each option against the reference with both kinds of interval, the
probability that each option is the best buy at each willingness to pay (acceptability
curves), the expected value of perfect information, and each parameter's partial one (EVPPI).
`sensitivity` screens every parameter (Morris) and estimates Sobol indices of the leading ones
(SALib); `optimise` searches the interventions' sizes for the best mix within a budget. Runs go
through `sim.experiment.runner` (kept workers, Ray by address, append-only records, resume); this
module does statistics.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np

from sim.analysis.psa import (
    SENSITIVITY_HEADER,
    TORNADO_HEADER,
    Study,
    _progress,
    leading_parameters,
    morris,
    psa,
    range_counts,
    sobol,
    tornado,
    write_parameters,
)
from sim.experiment.job import PROGRESS
from sim.experiment.replications import write_csv, write_text
from sim.experiment.runner import Records
from sim.outputs.decide_report import option_words, output_words
from sim.outputs.formatting import estimate, mix_label
from sim.params.errors import ConfigError
from sim.params.kpis import KPI, group
from sim.params.paths import CONFIG_DIR
from sim.params.ranges import Ranges


def sensitivity_words(rows: list[tuple], tornado_rows: list[tuple], kpi: str, reference: str) -> list[str]:
    """Which few parameters the answer turns on, and which evidence would narrow it most, in words."""
    st = sorted((r for r in rows if r[1] == kpi and r[2] == "sobol" and r[3] == "ST"), key=lambda r: -r[4])
    mu = sorted((r for r in rows if r[1] == kpi and r[2] == "morris" and r[3] == "mu_star"), key=lambda r: -r[4])
    ranked = st or mu
    if not ranked:
        return []
    what = (f"total-order Sobol index (share of the variance each explains, with its interactions, among the "
            f"{len(st)} leading parameters of the Morris screening, the others at their file values)" if st else
            "Morris mu* (mean absolute effect of moving it across its range)")
    shown = [r for r in ranked[:5] if round(r[4], 2) > 0] or ranked[:1]  # no parameter listed at 0.00
    words = [f"On {output_words(kpi, reference)}, ranked by {what}: "
             + ", ".join(f"{r[0]} ({r[4]:.2f})" for r in shown) + "."]
    if st:
        total = sum(max(0.0, r[4]) for r in st[:3])
        words.append(f"The first {min(3, len(st))} carry total-order indices summing to {total:.2f}; evidence that "
                     f"narrows {st[0][0]} would narrow the answer most. Morris screening of all {len(mu)} "
                     "parameters ranks first: " + ", ".join(f"{r[0]} (mu* {r[4]:,.1f})" for r in mu[:5]) + ".")
    sw = sorted((r for r in tornado_rows if r[1] == kpi), key=lambda r: -r[5])
    if sw:
        words.append(f"One at a time, {sw[0][0]} moves it most: from {sw[0][2]:,.1f} to {sw[0][4]:,.1f} "
                     f"(at the file's values {sw[0][3]:,.1f}).")
    return words


# ----------------------------------------------------------------------------- command line
DESIGN_LIMIT = 10_000  # most samples, trajectories, trials or replications one flag may ask for (each is runs)


def fail(message: str) -> NoReturn:
    print(f"pathways-decide: error: {message}", file=sys.stderr)
    sys.exit(2)


def _outdir(args: argparse.Namespace, command: str) -> Path:
    if args.out:
        return Path(args.out)
    now = datetime.datetime.now()
    return Path("results") / now.strftime("%Y-%m-%d") / f"{now.strftime('%H-%M-%S')}-decide-{command}"


def _check_resume(out: Path, command: str, settings: dict) -> None:
    """A folder holds one command's run: resuming with other settings would mix two designs."""
    path = out / "decide.json"
    if path.exists():
        old, new = json.loads(path.read_text()), {"command": command, **settings}
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            fail(f"{out}: holds a {old.get('command')} run with other settings ({', '.join(diff)}); "
                 "allowed: the same command and settings to resume, or a new --out folder")


def _start(out: Path, command: str, settings: dict) -> None:
    """Claim the folder for this run (after the inputs were checked: a bad input leaves nothing behind)."""
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "decide.json", json.dumps({"command": command, **settings}, indent=2, sort_keys=True))


def _study(overrides: list[str], ranges_dir: Path) -> Study:
    from sim.analysis.compare import ComparisonError
    from sim.interfaces.errors import UsageError
    from sim.interfaces.preflight import preflight
    try:  # every option's config composed and validated, and the reference found: exit 2 on a bad value
        preflight(["-m", *overrides])
        ranges = Ranges.load(ranges_dir)
        return Study.build(overrides, ranges, CONFIG_DIR)
    except UsageError as e:
        fail(str(e))
    except ComparisonError as e:
        fail(f"command line {' '.join(overrides)}: {e}")
    except ConfigError as e:
        fail(e.message())


def _settings(args: argparse.Namespace) -> dict:
    """What a folder's run is: resuming it needs the same (decide.json)."""
    keys = {"psa": ("samples", "replications", "base_replications", "seed", "design", "ranges"),
            "sensitivity": ("method", "trajectories", "samples", "top", "replications", "seed", "ranges"),
            "optimise": ("budget", "objective", "budgets", "trials", "polish", "replications", "top", "factor",
                         "oos_replications", "seed")}[args.command]
    out = {"overrides": args.overrides}
    for k in keys:
        v = getattr(args, k)
        out[k] = str(v) if isinstance(v, Path) else v
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point of `pathways-decide`."""
    from sim.params.ranges import RANGES_DIR

    ap = argparse.ArgumentParser(prog="pathways-decide", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("overrides", nargs="*", help="Hydra overrides; a sweep (scenario=a,b) gives the options")
    common.add_argument("--out", type=Path, help="results folder (an existing one resumes)")
    common.add_argument("--workers", type=int, default=1, help="worker processes (kept for the whole run)")
    common.add_argument("--ray-address", help="run on a Ray cluster at this address (host:port)")
    common.add_argument("--seed", type=int, default=20261201, help="seed of the parameter design")
    common.add_argument("--ranges", type=Path, default=RANGES_DIR, help="folder of range files and rule.yaml")
    p = sub.add_parser("psa", parents=[common], help="probabilistic sensitivity analysis")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--replications", type=int, default=1, help="replications per parameter set")
    p.add_argument("--base-replications", type=int, default=10,
                   help="replications at the file's values (the simulation-only CI)")
    p.add_argument("--design", choices=("sobol", "lhs"), default="sobol")
    p = sub.add_parser("sensitivity", parents=[common], help="Morris screening, Sobol indices, tornado")
    p.add_argument("--method", choices=("morris", "sobol"), default="morris")
    p.add_argument("--trajectories", type=int, default=10, help="Morris trajectories (each: parameters + 1 points)")
    p.add_argument("--samples", type=int, default=64, help="Sobol base samples (each: leading parameters + 2 points)")
    p.add_argument("--top", type=int, default=8, help="leading parameters for Sobol indices and the tornado")
    p.add_argument("--replications", type=int, default=2, help="replications per point (common across points)")
    p = sub.add_parser("optimise", parents=[common], help="the best mix of intervention sizes within a budget")
    p.add_argument("--budget", type=float, required=True, help="GBP over the run's horizon")
    p.add_argument("--objective", choices=[k.name for k in group("objective")], default="net_sustained_12m")
    p.add_argument("--budgets", type=float, nargs="*",
                   help="budgets of the frontier (default: 1/4, 1/2, 3/4 and all of --budget)")
    p.add_argument("--trials", type=int, default=40, help="candidate mixes searched per budget")
    p.add_argument("--polish", type=int, default=5,
                   help="moves of local search from the best mix found, per budget (each: its one-step neighbours)")
    p.add_argument("--replications", type=int, default=3, help="replications per candidate (common to all; >= 2)")
    p.add_argument("--top", type=int, default=4, help="leading candidates re-run with more replications")
    p.add_argument("--factor", type=int, default=3, help="how many times the replications the leading candidates get")
    p.add_argument("--oos-replications", type=int, default=10,
                   help="fresh-seed replications of the out-of-sample check")
    args = ap.parse_args(argv)
    for name in ("budget", "budgets"):
        for value in np.atleast_1d(getattr(args, name, None) or []):
            if not 0 < value < math.inf:
                fail(f"--{name} = {value:g}: allowed: a finite number of GBP > 0")
    for name in ("workers", "samples", "replications", "base_replications", "trajectories", "top", "trials", "factor",
                 "oos_replications", "polish"):
        value = getattr(args, name, None)
        low = 2 if name in ("samples", "base_replications", "trajectories", "oos_replications") else \
            0 if name == "polish" else 1
        if name == "replications" and args.command == "optimise":
            low = 2  # a candidate's cost bound needs the spread of its cost
        if value is not None and not low <= value <= DESIGN_LIMIT:
            fail(f"--{name.replace('_', '-')} = {value}: allowed: an integer in [{low}, {DESIGN_LIMIT:,}]")
    out = _outdir(args, args.command)
    settings = _settings(args)
    _check_resume(out, args.command, settings)  # before composing: a refused resume answers at once
    study = _study(args.overrides, args.ranges)
    _start(out, args.command, settings)
    if args.command == "psa":
        summary = psa(study, out, args.samples, args.replications, args.base_replications, args.seed,
                      args.design, args.workers, args.ray_address)
        counts = range_counts(study.params)
        write_text(out / "summary.json", json.dumps({**summary, "ranges": counts, "reference": study.reference,
                                                     "options": [o.name for o in study.options]}, indent=2))

        print(psa_text(out, study, counts))
    elif args.command == "sensitivity":
        print(sensitivity_command(study, out, args))
    elif args.command == "optimise":
        print(optimise_command(study, out, args))
    from sim.outputs.decide_report import write_report

    print(f"report: {write_report(out)}")
    print(f"results: {out.resolve()}")


def optimise_command(study: Study, out: Path, args: argparse.Namespace) -> str:
    """Search, select, re-check out of sample; write frontier.csv, recommended.yaml and optimise.json."""
    from sim.analysis import optimise as opt
    from sim.experiment.runner import Runner

    ref = next(o for o in study.options if o.name == study.reference)
    space = opt.merged(ref, study.options)
    c = space.c
    try:
        bounds = opt.bounds(c)
    except ConfigError as e:
        fail(e.message())
    budgets = sorted(set(args.budgets or [args.budget * f for f in (0.25, 0.5, 0.75, 1.0)]) | {args.budget})
    options = {"mix": c, **study.configs}  # the merged mix keeps the reference's region: calibration from it
    reps = tuple(range(args.replications))
    seeds = [o.name for o in study.options if o.name != study.reference]
    per_budget = (args.top * args.factor + args.trials) * args.replications + args.oos_replications
    steps = Steps(out / PROGRESS, len(seeds) * args.replications + len(budgets) * per_budget
                  + 2 * args.oos_replications)
    with Runner(options, Records(out / "records.jsonl"), args.workers, args.ray_address, _progress) as runner:
        s = opt.Search(space, runner, args.objective, args.replications)
        seed_score = {n: (float(y.mean()), opt.cost_bound(cost))  # within a budget on the same cost bound as a mix
                      for n, (y, cost) in zip(seeds, s.options(seeds, reps))}
        steps.advance(len(seeds) * args.replications)
        start = {n: 0 for n in bounds}
        found = opt.search(s, budgets, bounds, args.trials, max(2, 2 * args.workers), args.seed, start, args.polish,
                           lambda trials: steps.advance(trials * args.replications))
        fresh = tuple(opt.FRESH + r for r in range(args.oos_replications))
        (z, _), = s.options([study.reference], fresh, tag="@fresh")
        steps.advance(args.oos_replications)
        rows, chosen, effects = [], {}, {}
        for b in budgets:
            picked = opt.select(s, found[b], b, args.top, args.factor) if found[b] else None
            steps.advance(args.top * args.factor * args.replications + args.oos_replications)
            if picked is None:
                rows.append((b, args.objective, study.reference, "nothing feasible", *[math.nan] * 6, 0))
                continue
            chosen[b] = picked
            (y, cost), = s.evaluate([picked.mix], fresh, tag="@fresh")
            d = effects[b] = s.difference(y, z)
            rows.append((b, args.objective, study.reference, opt.label(picked.mix), float(cost.mean()), picked.bound,
                         float(cost.max()), d.mean, d.low, d.high, d.n))
        write_csv(out / "frontier.csv", FRONTIER_HEADER, rows)
        if args.budget not in chosen:
            return f"no mix within £{args.budget:,.0f}"
        choice = chosen[args.budget]
        mix, sep, bound = choice.mix, choice.sep, choice.bound
        within = [n for n in seeds if seed_score[n][1] <= args.budget]
        best_seed = max(within, key=lambda n: seed_score[n][0]) if within else None
        effect = effects[args.budget]
        check = {**opt.out_of_sample(s, mix, best_seed, args.oos_replications, args.budget), "mix_cost_bound": bound,
                 "reference": study.reference, "effect_mean": effect.mean, "effect_low": effect.low,
                 "effect_high": effect.high}
    text = opt.recommended_yaml(space, ref.config, mix, args.budget, args.objective)
    write_text(out / "recommended.yaml", text)
    (out / "scenario").mkdir(exist_ok=True)
    write_text(out / "scenario" / "recommended.yaml", text)
    gain = estimate(effect.mean, effect.low, effect.high, KPI[args.objective].unit, signed=True)
    labels = {n: iv.label for n, iv in ref.config.intervention.items()}
    words = [f"Within £{args.budget:,.0f} the recommended mix is {mix_label(mix, labels)}: "
             f"it costs £{check['mix_cost']:,.0f} "
             f"and gives {gain.value} {KPI[args.objective].label} against {option_words(study.reference)} "
             f"(paired 95% CI {gain.interval or 'n/a'}, on {effect.n} fresh seeds).",
             f"Its cost varies with the people served, so it was held to the upper {opt.COST_LEVEL:.1%} prediction "
             f"bound of one replication's cost (£{bound:,.0f}); on {args.oos_replications} fresh seeds it cost at most "
             f"£{check['mix_cost_max']:,.0f}: "
             + ("within the budget every time." if check["within_budget"] else
                f"over the budget in {check['over_budget']} of {args.oos_replications}.")]
    rival = "" if choice.rival is None else mix_label(choice.rival, labels)  # a rival whenever there is a `sep`
    if sep is not None and choice.cheaper:  # on the scale where larger is better
        words.append(f"The best mean of the leading candidates, {rival}, is not clearly better "
                     f"(it gives {-sep.mean:,.1f} {KPI[args.objective].gain}, paired 95% CI {-sep.high:+,.1f} to "
                     f"{-sep.low:+,.1f}, on the same seeds) and costs £{choice.rival_cost - choice.cost:,.0f} more: "
                     f"of the candidates the simulation cannot tell apart from it, this mix is the cheapest.")
    elif sep is not None and sep.low > 0:
        words.append(f"Against the runner-up, {rival} (same seeds), it is ahead by {sep.mean:,.1f} "
                     f"{KPI[args.objective].gain} (paired 95% CI {sep.low:+,.1f} to {sep.high:+,.1f}).")
    elif sep is not None:  # the best mean, and no dearer than a runner-up the simulation cannot tell from it
        sign = KPI[args.objective].sign  # back to the KPI's own scale
        low, high = sorted((sign * sep.low, sign * sep.high))
        extra = choice.rival_cost - choice.cost
        words.append(f"The runner-up, {rival}, is not clearly different on the same seeds (this mix "
                     f"gives {sign * sep.mean:+,.1f} {KPI[args.objective].label} against it, paired 95% CI "
                     f"{low:+,.1f} to {high:+,.1f}) and "
                     + (f"costs £{extra:,.0f} more." if extra >= 0.5 else "costs the same."))
    if best_seed:
        words.append(f"Out of sample, against the best seed programme within the budget ({option_words(best_seed)}, "
                     f"cost £"
                     f"{check['seed_cost']:,.0f}): the mix gives {check['diff_mean']:+,.1f} "
                     f"{KPI[args.objective].label} "
                     f"(paired 95% CI {check['diff_low']:+,.1f} to {check['diff_high']:+,.1f}); the recommended mix is "
                     f"{'better' if check['better'] else 'not clearly better'}.")
    else:
        words.append("No seed programme fits within this budget, so there is no out-of-sample comparison.")
    write_text(out / "optimise.json", json.dumps({"words": words, "check": check, "bounds": bounds}, indent=2))
    steps.advance(steps.total)
    write_text(out / "summary.json",
               json.dumps({"options": [o.name for o in study.options], "reference": study.reference}, indent=2))
    return "\n".join(words)


class Steps:
    """How far a long command is, in simulation runs planned, written as "done total" to a file that the web page
    reads as it reads a job's `.progress` (the console shows the runner's own count). The plan is an upper estimate
    (mixes over budget or seen before are not run again), so the count jumps to the total when the command ends."""

    def __init__(self, path: Path, total: int):
        self.path, self.total, self.done = path, max(total, 1), 0
        self.advance(0)

    def advance(self, runs: int) -> None:
        self.done = min(self.total, self.done + runs)
        write_text(self.path, f"{self.done} {self.total}\n")


# cost: mean and most on fresh seeds; bound: what the mix was held to
FRONTIER_HEADER = ("budget_gbp", "objective", "reference", "mix", "cost_gbp", "cost_bound_gbp", "cost_max_gbp",
                   "effect", "ci_low", "ci_high", "n")


def sensitivity_command(study: Study, out: Path, args: argparse.Namespace) -> str:
    """Morris on every parameter; with --method sobol, Sobol indices of the leading ones; a tornado of them."""
    rows, mu = morris(study, out, args.trajectories, args.replications, args.seed, args.workers, args.ray_address)
    leading = leading_parameters(study, mu, args.top)
    if args.method == "sobol":
        rows += sobol(study, out, leading, args.samples, args.replications, args.seed, args.workers, args.ray_address)
    torn = tornado(study, out, leading, args.replications, args.workers, args.ray_address)
    write_csv(out / "sensitivity.csv", SENSITIVITY_HEADER, rows)
    write_csv(out / "tornado.csv", TORNADO_HEADER, torn)
    write_parameters(out / "parameters.csv", study.params)
    words = sensitivity_words(rows, torn, next(r[1] for r in rows), study.reference)
    write_text(out / "sensitivity.json", json.dumps({"words": words, "leading": [p.name for p in leading],
                                                     "ranges": range_counts(study.params)}, indent=2))
    write_text(out / "summary.json", json.dumps({"ranges": range_counts(study.params),
                                                 "options": [o.name for o in study.options],
                                                 "reference": study.reference}, indent=2))
    return "\n".join(words)


def psa_text(out: Path, study: Study, counts: dict[str, int]) -> str:
    """The console summary of a PSA folder: effects with both intervals, and the best-buy probabilities."""
    import csv

    lines = [f"ranges: {counts['explicit']} numbers with an explicit range ({counts['explicit_varied']} varied), "
             f"{counts['rule']} from the default rule ({counts['rule_varied']} varied); "
             f"{counts['parameters_varied']} uncertain parameters"]
    with (out / "uncertainty.csv").open() as f:
        for r in csv.DictReader(f):
            if "objective" in KPI[r["kpi"]].groups:
                lines.append(f"{r['option']}: {r['kpi']} {float(r['psa_mean']):+.1f} vs {r['reference']}; "
                             f"simulation-only 95% CI [{float(r['sim_ci_low']):.1f}, {float(r['sim_ci_high']):.1f}], "
                             f"with parameter uncertainty [{float(r['psa_low']):.1f}, {float(r['psa_high']):.1f}] "
                             f"({float(r['parameter_share']):.0%} of the variance from the parameters)")
    with (out / "ceac.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["effect"] == "sustained_job"
                and float(r["wtp_gbp"]) in (10_000.0, 25_000.0, 50_000.0)]
    for wtp in ("10000.0", "25000.0", "50000.0"):
        sel = [r for r in rows if r["wtp_gbp"] == wtp]
        if sel:
            lines.append(f"best buy at £{float(wtp):,.0f} per sustained job: " +
                         ", ".join(f"{r['option']} {float(r['p_best']):.2f}" for r in sel) +
                         f"; EVPI £{float(sel[0]['evpi_gbp']):,.0f}")
    with (out / "evppi.csv").open() as f:
        top = sorted((r for r in csv.DictReader(f)
                      if r["effect"] == "sustained_job" and float(r["wtp_gbp"]) == 25_000.0),
                     key=lambda r: -float(r["evppi_gbp"]))[:3]
    if top and float(top[0]["evppi_gbp"]) >= 0.5:  # as printed: more than GBP 0
        lines.append("evidence worth most at £25,000 per sustained job (EVPPI): " +
                     ", ".join(f"{r['parameter']} £{float(r['evppi_gbp']):,.0f}" for r in top))
    elif top:
        lines.append("evidence worth most at £25,000 per sustained job (EVPPI): none; no single parameter "
                     "would change the choice")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
