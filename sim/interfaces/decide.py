"""Decisions under uncertainty: probabilistic sensitivity analysis, what drives it, the best mix.

`pathways-decide psa` draws parameter sets (scipy's quasi-Monte Carlo) over the ranges of
`sim.params.ranges`, runs every option on every set with the same random numbers (paired), and
writes the effect of each option against the reference with both kinds of interval, the
probability that each option is the best buy at each willingness to pay (acceptability
curves), the expected value of perfect information, and each parameter's partial one (EVPPI).
`sensitivity` screens every parameter (RBD-FAST first-order indices from a space-filling design, or
Morris) and estimates Sobol indices of the leading ones (SALib); `optimise` searches the interventions'
sizes for the best mix within a budget. Runs go through `sim.experiment.runner` (kept workers, Ray by
address, append-only records, resume); this module does statistics.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from sim.analysis.emulator import R2_MIN
from sim.analysis.probabilistic import DRAWN_FROM, drawn_from, parameter_labels
from sim.analysis.psa import (
    EMULATOR_RUNS_PER_PARAMETER,
    MORRIS_MIN_TRAJECTORIES,
    SCREEN_HARMONICS,
    SCREEN_MIN_POINTS,
    SCREENS,
    SENSITIVITY_HEADER,
    TORNADO_HEADER,
    Study,
    _progress,
    leading_parameters,
    morris,
    no_effect,
    psa,
    range_counts,
    rbd_fast,
    sobol,
    sobol_emulated,
    tornado,
    unmoved_by,
    write_parameters,
)
from sim.experiment.job import PROGRESS
from sim.experiment.parallel import one_blas_thread
from sim.experiment.replications import write_csv, write_text
from sim.experiment.runner import Records
from sim.outputs.decide_report import NOT_ESTIMATED, option_words, output_words
from sim.outputs.formatting import estimate, mix_label
from sim.params.errors import ConfigError
from sim.params.kpis import KPI, group
from sim.params.paths import CONFIG_DIR
from sim.params.posterior import CHOICES
from sim.params.ranges import Ranges


def screen_words(rows: list[tuple], trajectories: int, points: int | None) -> tuple[str, str, str]:
    """The screening the rows come from: what its index is, its design in words, and the flag that enlarges it."""
    if any(r[2] == "rbd-fast" for r in rows):
        return ("first-order index S1 from given data (RBD-FAST: the share of the variance each explains alone, read "
                f"from {points or 'the'} points of a space-filling design over all the parameters at once)",
                f"{points} points" if points else "its points", "--screen-points")
    return "Morris mu* (mean absolute effect of moving it across its range)", f"{trajectories} trajectories", \
        "--trajectories"


def sensitivity_words(rows: list[tuple], tornado_rows: list[tuple], kpi: str, reference: str, trajectories: int,
                      samples: int | None, emulator: tuple[int, float] | None = None,
                      points: int | None = None) -> list[str]:
    """Which few parameters the answer turns on, and which evidence would narrow it most, in words; rows as
    sensitivity.csv's and tornado.csv's (the label last), from a screening of every parameter (RBD-FAST's rows on
    `points` points, or Morris's from `trajectories` trajectories) and, with Sobol indices, `samples` base samples,
    or, from an emulator, its training runs and out-of-sample R^2 on `kpi` (`emulator`). An index flagged not
    estimated is said so, never given as a number; parameters that changed nothing are left out of the rankings and
    the one-at-a-time sentence, and counted."""
    st = sorted((r for r in rows if r[1] == kpi and r[2] == "sobol" and r[3] == "ST"), key=lambda r: -r[4])
    mu = sorted((r for r in rows if r[1] == kpi and (r[2], r[3]) in (("morris", "mu_star"), ("rbd-fast", "S1"))),
                key=lambda r: -r[4])
    morris = any(r[2] == "morris" for r in mu)
    ranked = st or mu
    if not ranked:
        return []
    index, screened, more = screen_words(mu, trajectories, points)
    runs = emulator[0] if emulator else 0
    design = (f"an emulator fitted on {runs} runs" if st and emulator else f"{samples} base samples" if st else
              screened)
    what = (f"total-order Sobol index (share of the variance each explains, with its interactions, among the "
            f"{len(st)} leading parameters of the screening, the others at their file values"
            + (f"; computed on an emulator of the simulation, a Gaussian process fitted on {runs} runs, which "
               f"predicts runs it was not fitted on with R² {emulator[1]:.2f}" if st and emulator else "")
            + ")" if st else index)
    shown = [r for r in ranked if r[7] and round(r[4], 2) > 0][:5]  # no parameter listed at 0.00
    words = [f"On {output_words(kpi, reference)}, ranked by {what}: "
             + (", ".join(f"{r[8]} ({r[4]:.2f})" for r in shown) if shown else
                f"no index above zero is estimated with {design}") + "."]
    unknown = [r for r in ranked if not r[7]]
    if unknown:
        why = ("a 95% interval wider than the index, or an index outside 0 to 1"
               + (f", or an emulator predicting fewer than {R2_MIN:.0%} of held-out runs' variance" if emulator
                  else "") if st or not morris else
               f"fewer than {MORRIS_MIN_TRAJECTORIES} trajectories, or a 95% interval wider than mu* itself")
        words.append(f"{len(unknown)} of these {len(ranked)} indices are {NOT_ESTIMATED} ({design}: {why}): "
                     + ", ".join(r[8] for r in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
                     + f"; more {('--runs' if emulator else '--samples') if st else more} would estimate them.")
    if morris and trajectories < MORRIS_MIN_TRAJECTORIES:
        words.append(f"Morris: {trajectories} trajectories are too few to rank the parameters: the Morris literature "
                     f"uses 4 to 10 (Saltelli et al., Global Sensitivity Analysis: The Primer, 2008), and with fewer "
                     f"than {MORRIS_MIN_TRAJECTORIES} each mean effect rests on a handful of steps"
                     + (", so the leading parameters given to Sobol may not be the leading ones." if st else "."))
    if st:
        if shown:
            lead = shown[:3]
            words.append(f"The first {len(lead)} estimated carry total-order indices summing to "
                         f"{sum(r[4] for r in lead):.2f}; evidence that narrows {lead[0][8]} would narrow the answer "
                         "most.")
        moving = [r for r in mu if not no_effect([r[4]])]
        if moving and morris:
            words.append(f"Morris screening of all {len(mu)} parameters ranks first: "
                         + ", ".join(f"{r[8]} (mu* {f'{r[4]:,.1f}' if r[7] else NOT_ESTIMATED})"
                                     for r in moving[:5]) + ".")
        elif moving:
            words.append(f"The screening of all {len(mu)} parameters by their {index} ranks first: "
                         + ", ".join(f"{r[8]} (S1 {f'{r[4]:.2f}' if r[7] else NOT_ESTIMATED})"
                                     for r in moving[:5]) + ".")
    still = [r for r in ranked if r[7] and no_effect([r[4], r[5], r[6]])]
    if still:
        words.append(f"Left out: {len(still)} of these {len(ranked)} parameters, which changed nothing.")
    torn = [r for r in tornado_rows if r[1] == kpi]
    moved = sorted((r for r in torn if not no_effect([r[5]])), key=lambda r: -r[5])
    if moved:
        words.append(f"One at a time, {moved[0][6]} moves it most: from {moved[0][2]:,.1f} to {moved[0][4]:,.1f} "
                     f"(at the file's values {moved[0][3]:,.1f})."
                     + (f" Left out of the tornado: {len(torn) - len(moved)} of the {len(torn)} leading parameters, "
                        "which changed nothing." if len(moved) < len(torn) else ""))
    elif torn:
        words.append(f"One at a time, none of the {len(torn)} leading parameters changed it.")
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


def _check_resume(out: Path, command: str, settings: dict, early: bool = False) -> None:
    """A folder holds one command's run: resuming with other settings would mix two designs. `early`: before the
    options are composed, where the sets are drawn from (`drawn_from`: the posterior's hash) is not known yet."""
    path = out / "decide.json"
    if path.exists():
        old, new = json.loads(path.read_text()), {"command": command, **settings}
        if early:
            old = {k: v for k, v in old.items() if k not in DRAWN_FROM}
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            why = ("; its sets were drawn from another posterior (the region's calibration changed since)"
                   if set(diff) & set(DRAWN_FROM) else "")
            fail(f"{out}: holds a {old.get('command')} run with other settings ({', '.join(diff)}){why}; "
                 "allowed: the same command and settings to resume, or a new --out folder")


def _start(out: Path, command: str, settings: dict) -> None:
    """Claim the folder for this run (after the inputs were checked: a bad input leaves nothing behind)."""
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "decide.json", json.dumps({"command": command, **settings}, indent=2, sort_keys=True))


def _study(overrides: list[str], ranges_dir: Path, choice: str | None = None) -> Study:
    from sim.analysis.compare import ComparisonError
    from sim.interfaces.errors import UsageError
    from sim.interfaces.preflight import preflight
    try:  # every option's config composed and validated, and the reference found: exit 2 on a bad value
        preflight(["-m", *overrides])
        ranges = Ranges.load(ranges_dir)
        return Study.build(overrides, ranges, CONFIG_DIR, choice)
    except UsageError as e:
        fail(str(e))
    except ComparisonError as e:
        fail(f"command line {' '.join(overrides)}: {e}")
    except ConfigError as e:
        fail(e.message())


def _settings(args: argparse.Namespace) -> dict:
    """What a folder's run is: resuming it needs the same (decide.json)."""
    keys = {"psa": ("samples", "replications", "base_replications", "seed", "design", "ranges", "parameters"),
            "sensitivity": ("method", "screen", "screen_points", "trajectories", "samples", "runs", "top",
                            "replications", "seed", "ranges"),
            "optimise": ("budget", "objective", "budgets", "trials", "polish", "replications", "top", "factor",
                         "oos_replications", "seed", "max_trials", "sets", "parameters")}[args.command]
    out = {"overrides": args.overrides}
    for k in keys:
        v = getattr(args, k)
        out[k] = str(v) if isinstance(v, Path) else v
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point of `pathways-decide`."""
    one_blas_thread()
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
    p.add_argument("--parameters", choices=CHOICES,
                   help="the sets' calibrated parameters from the region's posterior (configs/calibration/<region>/) "
                        "or every parameter from its prior range (default: experiment.parameters, posterior where "
                        "the region has a calibration and --ranges is the shipped folder it was fitted on)")
    p = sub.add_parser("sensitivity", parents=[common], help="screening of every parameter, Sobol indices, tornado")
    p.add_argument("--method", choices=("screen", "sobol", "sobol-direct", "morris"), default="screen",
                   help="screen: the screening only (--screen); sobol: then Sobol indices of the leading parameters "
                        "from an emulator fitted on --runs runs (the direct estimate when the emulator predicts "
                        "poorly); sobol-direct: the Saltelli estimate on the simulation itself (--samples); morris: "
                        "the same as screen with --screen morris (the name of earlier versions)")
    p.add_argument("--screen", choices=SCREENS,
                   help=f"how every parameter is screened: rbd-fast (default): each one's first-order index S1 from "
                        f"--screen-points points of a space-filling design over all of them (SALib's RBD-FAST, "
                        f"{SCREEN_HARMONICS} harmonics); morris: Morris mu* from --trajectories trajectories, about "
                        "five times the runs")
    p.add_argument("--screen-points", type=int, default=256, help="points of the rbd-fast screening's design")
    p.add_argument("--trajectories", type=int, default=10, help="Morris trajectories (each: parameters + 1 points)")
    p.add_argument("--samples", type=int, default=64,
                   help="Sobol base samples of the direct estimate (each: leading parameters + 2 points)")
    p.add_argument("--runs", type=int,
                   help=f"runs the Sobol emulator is fitted on (default {EMULATOR_RUNS_PER_PARAMETER} per leading "
                        "parameter)")
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
    p.add_argument("--max-trials", type=int,
                   help="most trials per budget when the best mix after half the trials is not the best after all "
                        "(the trials double up to it; default 4 x --trials)")
    p.add_argument("--parameters", choices=CHOICES, help="as psa --parameters, for the recommendation's sets")
    p.add_argument("--sets", type=int, default=16,
                   help="parameter sets the recommendation is run on, for its effect with parameter uncertainty "
                        "(0: none)")
    args = ap.parse_args(argv)
    for name in ("budget", "budgets"):
        for value in np.atleast_1d(getattr(args, name, None) or []):
            if not 0 < value < math.inf:
                fail(f"--{name} = {value:g}: allowed: a finite number of GBP > 0")
    if args.command == "sensitivity":  # --method morris: the screening alone, by Morris
        if args.method == "morris" and args.screen == "rbd-fast":
            fail("--method morris --screen rbd-fast: allowed: --method screen --screen rbd-fast, or --method morris "
                 "(the Morris screening alone)")
        args.screen = args.screen or ("morris" if args.method == "morris" else "rbd-fast")
        args.method = "screen" if args.method == "morris" else args.method
    for name in ("workers", "samples", "replications", "base_replications", "trajectories", "top", "trials", "factor",
                 "oos_replications", "polish", "max_trials", "sets", "runs", "screen_points"):
        value = getattr(args, name, None)
        low = 2 if name in ("samples", "base_replications", "trajectories", "oos_replications") else \
            0 if name in ("polish", "sets") else 10 if name == "runs" else \
            SCREEN_MIN_POINTS if name == "screen_points" else 1
        if name == "replications" and args.command == "optimise":
            low = 2  # a candidate's cost bound needs the spread of its cost
        if value is not None and not low <= value <= DESIGN_LIMIT:
            fail(f"--{name.replace('_', '-')} = {value}: allowed: an integer in [{low}, {DESIGN_LIMIT:,}]")
    if getattr(args, "sets", None) == 1:
        fail("--sets = 1: allowed: 0 (none) or an integer in [2, 10,000] (an interval needs two sets)")
    out = _outdir(args, args.command)
    settings = _settings(args)
    _check_resume(out, args.command, settings, early=True)  # before composing: a refused resume answers at once
    choice = getattr(args, "parameters", None)
    if args.command == "sensitivity" or (choice is None and args.ranges.resolve() != RANGES_DIR.resolve()):
        choice = "prior"  # screening explores the prior ranges; a posterior was fitted on the shipped ranges only
    study = _study(args.overrides, args.ranges, choice)
    if args.command != "sensitivity":  # the sets' draws: a changed posterior would mix two designs
        settings = {**settings, **drawn_from(study)}
        _check_resume(out, args.command, settings)
    if args.command == "optimise" and not any(o.config.intervention for o in study.options):
        fail(f"command line {' '.join(args.overrides) or '(none)'}: nothing to size: no option has an intervention; "
             "allowed: options with interventions, e.g. scenario=baseline,west_norfolk_local_plan")
    _start(out, args.command, settings)
    if args.command == "psa":
        summary = psa(study, out, args.samples, args.replications, args.base_replications, args.seed,
                      args.design, args.workers, args.ray_address, labels=parameter_labels(study, study.params))
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
    """Search (with its convergence check), select, re-check out of sample against every seed programme and the
    reference, run the recommendation over parameter sets; write frontier.csv, recommended.yaml and optimise.json."""
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
    # the options that are programmes (the reference too, when it has interventions); one without any buys nothing
    # (the baseline, or context: a forecast of demand)
    programmes = [o for o in study.options if o.config.intervention]
    cap = args.max_trials or 4 * args.trials
    # the page's progress: the simulation runs the search plans (its trials at every budget; more if it doubles them)
    steps = Steps(out / PROGRESS, len(budgets) * ((args.top * args.factor + args.trials) * args.replications
                                                  + args.oos_replications) + 2 * args.oos_replications)
    with Runner(options, Records(out / "records.jsonl"), args.workers, args.ray_address, _progress) as runner:
        s = opt.Search(space, runner, args.objective, args.replications)
        start = {n: 0 for n in bounds}
        found, settled = opt.search(s, budgets, bounds, args.trials, max(2, 2 * args.workers), args.seed, start,
                                    args.polish, cap, tuple(opt.seed_sizes(bounds, o) for o in programmes),
                                    lambda trials: steps.advance(trials * args.replications))
        fresh = tuple(opt.FRESH + r for r in range(args.oos_replications))
        (z, _), = s.options([study.reference], fresh, tag="@fresh")
        rows, chosen = [], {}
        for b in budgets:
            picked = opt.select(s, found[b], b, args.top, args.factor) if found[b] else None
            run = (settled[b].trials, int(settled[b].converged))
            if picked is None:
                rows.append((b, args.objective, study.reference, "nothing feasible", *[math.nan] * 6, 0, math.nan,
                             *run))
                continue
            chosen[b] = picked
            (y, cost), = s.evaluate([picked.mix], fresh, tag="@fresh")
            d = s.difference(y, z)
            rows.append((b, args.objective, study.reference, opt.label(picked.mix), float(cost.mean()), picked.bound,
                         float(cost.max()), d.mean, d.low, d.high, d.n, float(cost.mean()) / b, *run))
        write_csv(out / "frontier.csv", FRONTIER_HEADER, rows)
        if args.budget not in chosen:
            return f"no mix within £{args.budget:,.0f}"
        choice = chosen[args.budget]
        check = {**opt.out_of_sample(s, choice.mix, [o.name for o in programmes], study.reference,
                                     args.oos_replications, args.budget), "mix_cost_bound": choice.bound}
        for p in check["programmes"]:  # the search may find a programme's own sizes: then it is that programme
            p["same_as_mix"] = opt.seed_sizes(bounds, next(o for o in programmes if o.name == p["name"])) == choice.mix
        others = [p["name"] for p in check["programmes"] if p["fits"] and p["name"] != study.reference]
        sets = opt.parameter_sets(s, study, choice.mix, others, args.sets, args.seed) if args.sets else {}
    programme = (next(o for o in study.options if o.name == check["seed_programme"])
                 if check["recommend"] == "programme" else None)
    text = opt.recommended_yaml(space, ref.config, choice.mix, args.budget, args.objective, programme)
    write_text(out / "recommended.yaml", text)
    (out / "scenario").mkdir(exist_ok=True)
    write_text(out / "scenario" / "recommended.yaml", text)
    labels = {n: iv.label for n, iv in c.intervention.items()}
    check["parameter_sets"] = {n: {"mean": u.mean, "low": u.low, "high": u.high, "sets": u.sets}
                               for n, u in sets.items()}
    check["calibrated"] = list(study.posterior.names) if study.posterior else []
    words = optimise_words(check, choice, settled, args, labels, study.reference)
    write_text(out / "optimise.json", json.dumps({"words": words, "check": check, "bounds": bounds,
                                                  "convergence": {str(b): {**asdict(v), "converged": v.converged}
                                                                  for b, v in settled.items()}}, indent=2))
    steps.advance(steps.total)
    write_text(out / "summary.json",
               json.dumps({"options": [o.name for o in study.options], "reference": study.reference}, indent=2))
    return "\n".join(words)


def optimise_words(check: dict, choice: Any, settled: dict, args: argparse.Namespace, labels: dict[str, str],
                   reference: str) -> list[str]:
    """The optimiser's answer in words: what to fund within the budget (the mix found, or a seed programme that
    did at least as well on fresh seeds), its effect with both intervals, the share of the budget it uses, how it
    compares with every seed programme, and whether the search settled."""
    from sim.analysis.optimise import COST_LEVEL

    kpi = KPI[args.objective]
    mix = mix_label(choice.mix, labels)
    budget = f"£{args.budget:,.0f}"
    fresh = f"on {check['n']} fresh seeds"
    gain = estimate(check["effect_mean"], check["effect_low"], check["effect_high"], kpi.unit, signed=True)
    programmes = {p["name"]: p for p in check["programmes"]}
    words = []
    if check["recommend"] == "programme":
        p = programmes[check["seed_programme"]]
        own = estimate(p["effect_mean"], p["effect_low"], p["effect_high"], kpi.unit, signed=True)
        against = ("" if p["name"] == reference else
                   f" and gives {own.value} {kpi.label} against {option_words(reference)} (paired 95% CI "
                   f"{own.interval or 'n/a'}, {fresh})")
        found = ("The best mix the search found is the programme itself (the same sizes)." if p["same_as_mix"] else
                 f"The best mix the search found, {mix}, does no better on the same seeds: against the programme it "
                 f"gives {p['diff_mean']:+,.1f} {kpi.label} (paired 95% CI {p['diff_low']:+,.1f} to "
                 f"{p['diff_high']:+,.1f}) for £{check['mix_cost']:,.0f}, so recommended.yaml is the programme.")
        words.append(f"Within {budget}, fund {option_words(p['name'])} as it is: it costs £{p['cost']:,.0f} "
                     f"({p['cost'] / args.budget:.0%} of the budget){against}. {found}")
    else:
        words.append(f"Within {budget} the recommended mix is {mix}: it costs £{check['mix_cost']:,.0f} "
                     f"({check['budget_used']:.0%} of the budget) and gives {gain.value} {kpi.label} against "
                     f"{option_words(reference)} (paired 95% CI {gain.interval or 'n/a'}, {fresh}).")
        words.append(f"Its cost varies with the people served, so it was held to the upper {COST_LEVEL:.1%} "
                     f"prediction bound of one replication's cost (£{choice.bound:,.0f}); {fresh} it cost at most "
                     f"£{check['mix_cost_max']:,.0f}: "
                     + ("within the budget every time." if check["within_budget"] else
                        f"over the budget in {check['over_budget']} of {check['n']}."))
        words += _rival_words(choice, labels, kpi.name)
    sets = check.get("parameter_sets", {})
    pick = "mix" if check["recommend"] == "mix" else check["seed_programme"]
    if pick in sets:
        u = sets[pick]
        with_params = estimate(u["mean"], u["low"], u["high"], kpi.unit, signed=True)
        posterior = " (the calibrated ones from the region's posterior)" if check.get("calibrated") else ""
        words.append(f"Over {u['sets']} parameter sets drawn from the ranges{posterior} (the uncertain numbers and the "
                     f"noise together), it is expected to give {with_params.value} {kpi.label} against "
                     f"{option_words(reference)} (95% of the sets {with_params.interval or 'n/a'}).")
    elif pick == reference:
        words.append("It is the reference itself, so its effect against the reference is zero by definition.")
    best = check.get("seed_programme")
    if best and check["recommend"] == "mix":
        words.append(f"Out of sample, against the best seed programme within the budget ({option_words(best)}, cost £"
                     f"{check['seed_cost']:,.0f}): the mix gives {check['diff_mean']:+,.1f} {kpi.label} "
                     f"(paired 95% CI {check['diff_low']:+,.1f} to {check['diff_high']:+,.1f}); the recommended mix is "
                     f"{'better' if check['better'] else 'not clearly better'}.")
    rest = [p for p in check["programmes"] if p["name"] != best]
    the_mix = "the mix" if check["recommend"] == "mix" else "the searched mix"
    if rest:
        words.append("The other seed programmes, on the same seeds: " + "; ".join(
            f"{option_words(p['name'])}, £{p['cost']:,.0f}, "
            + (f"fits: it gives {p['effect_mean']:+,.1f} against {option_words(reference)} (paired 95% CI "
               f"{p['effect_low']:+,.1f} to {p['effect_high']:+,.1f}) and {the_mix} {p['diff_mean']:+,.1f} against it "
               f"({p['diff_low']:+,.1f} to {p['diff_high']:+,.1f})" if p["fits"] else
               f"does not fit (its cost bound £{p['cost_bound']:,.0f} is over the budget)") for p in rest) + ".")
    if not best:
        words.append(f"No seed programme fits within this budget (each held to the upper {COST_LEVEL:.1%} prediction "
                     f"bound of its cost {fresh}, as the mix was), so the mix is compared with the reference only.")
    words.append(_search_words(settled))
    return words


def _search_words(settled: dict) -> str:
    """Whether the search settled at each budget: the best mix after half its trials against after all of them."""
    rounds = [b for b, v in settled.items() if v.rounds > 1]
    unsettled = [b for b, v in settled.items() if not v.converged]
    trials = sorted({v.trials for v in settled.values()})
    tried = f"{trials[0]} to {trials[-1]}" if len(trials) > 1 else f"{trials[0]}"
    text = f"The search tried {tried} mixes " + (f"at each of {len(settled)} budgets" if len(settled) > 1 else
                                                  "at the budget")
    if rounds:
        text += (f"; at {', '.join(f'£{b:,.0f}' for b in rounds)} the best mix after half the trials was not the "
                 f"best after all of them, so it ran more (up to {settled[rounds[0]].cap})")
    if unsettled:
        return text + (f"; at {', '.join(f'£{b:,.0f}' for b in unsettled)} the best still changed at that cap: more "
                       "trials (--trials, --max-trials) may find a better mix.")
    then = " then" if rounds else ""
    every = "at every budget " if len(settled) > 1 else ""
    return text + f"; {every}the best mix after half the trials was{then} the best after all of them."


def _rival_words(choice: Any, labels: dict[str, str], objective: str) -> list[str]:
    """The chosen mix against the runner-up of the leading candidates, on the same seeds."""
    sep = choice.sep
    if sep is None:
        return []
    rival = mix_label(choice.rival, labels)
    kpi = KPI[objective]
    if choice.cheaper:  # on the scale where larger is better
        return [f"The best mean of the leading candidates, {rival}, is not clearly better "
                f"(it gives {-sep.mean:,.1f} {kpi.gain}, paired 95% CI {-sep.high:+,.1f} to "
                f"{-sep.low:+,.1f}, on the same seeds) and costs £{choice.rival_cost - choice.cost:,.0f} more: "
                f"of the candidates the simulation cannot tell apart from it, this mix is the cheapest."]
    if sep.low > 0:
        return [f"Against the runner-up, {rival} (same seeds), it is ahead by {sep.mean:,.1f} "
                f"{kpi.gain} (paired 95% CI {sep.low:+,.1f} to {sep.high:+,.1f})."]
    sign = kpi.sign  # back to the KPI's own scale
    low, high = sorted((sign * sep.low, sign * sep.high))
    extra = choice.rival_cost - choice.cost
    return [f"The runner-up, {rival}, is not clearly different on the same seeds (this mix "
            f"gives {sign * sep.mean:+,.1f} {kpi.label} against it, paired 95% CI "
            f"{low:+,.1f} to {high:+,.1f}) and "
            + (f"costs £{extra:,.0f} more." if extra >= 0.5 else "costs the same.")]


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


# cost: mean and most on fresh seeds; bound: what the mix was held to; budget_used: mean cost / budget;
# trials: the search's at that budget; converged: 1 when the best mix after half of them was the best after all
FRONTIER_HEADER = ("budget_gbp", "objective", "reference", "mix", "cost_gbp", "cost_bound_gbp", "cost_max_gbp",
                   "effect", "ci_low", "ci_high", "n", "budget_used", "trials", "converged")


def sensitivity_command(study: Study, out: Path, args: argparse.Namespace) -> str:
    """Every parameter screened (--screen: RBD-FAST's first-order indices from a space-filling design, or Morris); a
    tornado of the leading ones; with --method sobol, their Sobol indices from an emulator (the direct estimate, with a
    message, when the emulator predicts the leading output poorly), with sobol-direct the direct estimate."""
    if args.screen == "morris":
        rows, index = morris(study, out, args.trajectories, args.replications, args.seed, args.workers,
                             args.ray_address)
        leading = leading_parameters(study, index, args.top)
    else:
        rows, index, raw = rbd_fast(study, out, args.screen_points, args.replications, args.seed, args.workers,
                                    args.ray_address)
        leading = leading_parameters(study, index, args.top, raw)
    first = rows[0][1]  # the leading output: the one the words and the report speak of
    torn = tornado(study, out, leading, args.replications, args.workers, args.ray_address)
    method, emulated, note = "direct", None, None
    if args.method == "sobol":
        unmoved = unmoved_by(rows)
        runs = args.runs or EMULATOR_RUNS_PER_PARAMETER * len(leading)
        emulated = sobol_emulated(study, out, leading, runs, args.replications, args.seed, args.workers,
                                  args.ray_address, unmoved)
        write_csv(out / "emulator.csv", EMULATOR_HEADER,
                  [(k, r2, emulated.runs, args.replications, R2_MIN) for k, r2 in emulated.r2.items()])
        if emulated.r2[first] < R2_MIN:  # NaN (no variance: exact zeros) is not below
            what = output_words(first, study.reference)
            note = (f"The emulator fitted on {runs} runs predicts held-out runs of {what}"
                    f" with R² {emulated.r2[first]:.2f}, below {R2_MIN:.2f}: its Sobol indices are not used; they "
                    f"are estimated directly on the simulation ({args.samples} base samples x "
                    f"{len(leading) + 2} points).")
            print(f"pathways-decide: {note}", file=sys.stderr)
        else:
            method = "emulator"
            rows += emulated.rows
    if args.method == "sobol-direct" or (args.method == "sobol" and method == "direct"):
        rows += sobol(study, out, leading, args.samples, args.replications, args.seed, args.workers, args.ray_address)
    labels = parameter_labels(study, study.params)
    rows = [(*r, labels[r[0]]) for r in rows]
    torn = [(*r, labels[r[0]]) for r in torn]
    write_csv(out / "sensitivity.csv", SENSITIVITY_HEADER, rows)
    write_csv(out / "tornado.csv", TORNADO_HEADER, torn)
    write_parameters(out / "parameters.csv", study.params, labels)
    sobol_ran = args.method != "screen"
    screen = ({"method": "morris", "trajectories": args.trajectories} if args.screen == "morris" else
              {"method": "rbd-fast", "points": args.screen_points, "harmonics": SCREEN_HARMONICS})
    words = sensitivity_words(rows, torn, first, study.reference, args.trajectories,
                              args.samples if sobol_ran else None,
                              (emulated.runs, emulated.r2[first]) if method == "emulator" and emulated else None,
                              args.screen_points if args.screen == "rbd-fast" else None)
    words += [note] if note else []
    sobol_info = ({"method": method, "leading_output": first, "runs": emulated.runs if emulated else None,
                   "samples": args.samples if method == "direct" else None, "r2_min": R2_MIN,
                   "r2": emulated.r2 if emulated else None} if sobol_ran else None)
    write_text(out / "sensitivity.json", json.dumps({"words": words, "leading": [p.name for p in leading],
                                                     "ranges": range_counts(study.params),
                                                     "screen": {**screen, "replications": args.replications},
                                                     "sobol": sobol_info}, indent=2))
    write_text(out / "summary.json", json.dumps({"ranges": range_counts(study.params),
                                                 "options": [o.name for o in study.options],
                                                 "reference": study.reference}, indent=2))
    return "\n".join(words)


# each output's Sobol emulator: its out-of-sample R^2 (k-fold), the runs and replications it was fitted on, and the
# least R^2 its indices are used with
EMULATOR_HEADER = ("kpi", "r2_out_of_sample", "runs", "replications", "r2_min")


def psa_text(out: Path, study: Study, counts: dict[str, int]) -> str:
    """The console summary of a PSA folder: effects with both intervals, and the best-buy probabilities."""
    import csv

    lines = [f"ranges: {counts['explicit']} numbers with an explicit range ({counts['explicit_varied']} varied), "
             f"{counts['rule']} from the default rule ({counts['rule_varied']} varied); "
             f"{counts['parameters_varied']} uncertain parameters"]
    if study.posterior is not None:
        lines.append(f"calibrated: {len(study.posterior.names)} of them drawn from the posterior of "
                     f"{study.posterior.provenance()['folder']} ({len(study.posterior.draws)} draws; posterior.csv "
                     f"sha256 {study.posterior.sha256[:12]}), the others from their prior ranges")
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
    with (out / "evppi.csv").open() as f:
        evppi = [r for r in csv.DictReader(f) if r["effect"] == "sustained_job"]
    with (out / "parameters.csv").open() as f:
        labels = {r["parameter"]: r["label"] for r in csv.DictReader(f)}
    for wtp in ("10000.0", "25000.0", "50000.0"):
        sel = [r for r in rows if r["wtp_gbp"] == wtp]
        noise_free = next((r for r in evppi if float(r["wtp_gbp"]) == float(wtp)), None)
        if sel:
            lines.append(f"best buy at £{float(wtp):,.0f} per sustained job: " +
                         ", ".join(f"{r['option']} {float(r['p_best']):.2f}" for r in sel) +
                         ("" if noise_free is None else
                          f"; EVPI £{float(noise_free['evpi_gbp']):,.0f} ± £{float(noise_free['evpi_se_gbp']):,.0f} "
                          "(simulation noise taken out; ± a standard error)"))
    top = sorted((r for r in evppi if float(r["wtp_gbp"]) == 25_000.0), key=lambda r: -float(r["evppi_gbp"]))[:3]
    if top and float(top[0]["evppi_gbp"]) >= 0.5:  # as printed: more than GBP 0
        lines.append("evidence worth most at £25,000 per sustained job (EVPPI ± a standard error): " +
                     ", ".join(f"{labels.get(r['parameter'], r['parameter'])} £{float(r['evppi_gbp']):,.0f} ± "
                               f"£{float(r['evppi_se_gbp']):,.0f}" for r in top))
    elif top:
        lines.append("evidence worth most at £25,000 per sustained job (EVPPI): none; no single parameter "
                     "would change the choice")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
