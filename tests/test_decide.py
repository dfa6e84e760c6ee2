"""pathways-decide: ranges, probabilistic sensitivity analysis, acceptability, resume, workers, Ray.

The model's numbers change as it develops, so these tests use answers known by construction
(an option that costs more for exactly the same effect; a parameter the model never reads) or
properties that hold whatever the numbers (probabilities summing to one, EVPI >= 0, the full
interval at least as wide as the simulation-only one).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import fnmatch
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import RAY, RAY_ENV

from sim.analysis.psa import TORNADO_HEADER, acceptability, uncertainty
from sim.experiment.runner import compose_options
from sim.params.errors import ConfigError
from sim.params.paths import CONFIG_DIR, SCENARIO_DIR
from sim.params.ranges import RANGES_DIR, Ranges, parameters, varied

# Short runs: the properties below hold for any horizon; a month of warm-up and no follow-up keep them cheap.
QUICK = ("experiment=quick", "experiment.horizon_days=400", "experiment.warmup_days=30", "experiment.followup_days=0")
# Two options with identical effects (the same intervention), one costing GBP 50,000 more (a fixed cost).
PLACEBO = ("intervention=[mentoring]", "intervention.mentoring.cost.fixed=0,50000", "experiment.reference=0", *QUICK)


def decide(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.interfaces.decide", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(CONFIG_DIR.parent)})


def table(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def shared(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A results folder made once per test session, also across xdist workers (the first makes it under a
    lock, the others wait and read it), so that a fixture's runs are never repeated on another worker."""
    root = factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    out = root / f"decide-{name}"
    with open(root / f"decide-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / ".made").exists():
            shutil.rmtree(out, ignore_errors=True)
            make(out)
            (out / ".made").touch()
    return out


# ----------------------------------------------------------------------------- ranges
def _all_options() -> list:
    scenarios = ",".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
    return compose_options([f"scenario={scenarios}"], CONFIG_DIR)


def check_explicit_used(ranges: Ranges, keys: Iterable[str]) -> None:
    """Every explicit range must name a number of the shipped configs (a typo would silently do nothing).

    A check of the shipped files against each other, so a test's: `pathways-decide` runs some of the
    scenarios, and an explicit range for a number of another one is not an error there."""
    keys = list(keys)
    for s in ranges.explicit:
        if not any(k == s.key or fnmatch.fnmatchcase(k, s.key) for k in keys):
            raise ConfigError(s.key, s.key, "a config path (or pattern) of a number in configs/ or scenarios/", s.file)


@pytest.mark.unit
def test_every_number_of_every_scenario_gets_a_range_and_every_explicit_range_is_used() -> None:
    """All scenarios compose into parameters without a range error; no explicit range names a missing number."""
    ranges = Ranges.load()
    options = _all_options()
    params = parameters({o.name: (o.config, o.files) for o in options}, ranges)
    keys = [k for p in params for k in p.keys]
    assert len(keys) == len(set(keys)), "a number counted twice"
    check_explicit_used(ranges, keys)
    assert all(p.spec.reason for p in params)
    assert sum(p.source == "explicit" for p in params) > 20 and any(p.source == "rule" and p.varied for p in params)


@pytest.mark.unit
def test_ranges_hold_the_value_and_stay_in_the_allowed_range() -> None:
    """Each relative range holds the option's value between its 1% and 99% points (or at a bound), and a
    probability's range stays in [0, 1]."""
    from sim.params.ranges import base_values

    o = compose_options(["scenario=west_norfolk_local_plan"], CONFIG_DIR)[0]
    params = parameters({o.name: (o.config, o.files)}, Ranges.load())
    base = base_values(o.config, params)
    for p in varied(params):
        for k in p.keys:
            d, v = p.spec.dist(base[k]), base[k]
            lo, hi = d.support()
            if p.spec.kind == "beta":
                assert lo >= 0 and hi <= 1
            if p.spec.relative:  # inside the range, and not far out in a tail (or at a bound the range is cut at)
                assert lo <= v <= hi and (0.01 <= d.cdf(v) <= 0.99 or v in (lo, hi)), (k, lo, v, hi)


BAD_RANGES = [
    ("region.yaml", '"region.channels.*.referrals_per_year": {kind: normal, sd: 3}  # reason\n',
     "region.channels.*.referrals_per_year.kind = 'normal'"),
    ("region.yaml", '"region.channels.*.referrals_per_year": {kind: lognormal, factor: 0.5}  # reason\n',
     "factor = 0.5"),
    ("region.yaml", '"region.channels.*.referrals_per_year": {kind: beta, concentration: 10}  # reason\n',
     "not a probability"),
    ("region.yaml", '"region.channels.*.referrals_per_year": {kind: lognormal, factor: 2}\n', "reason"),
    ("pathway.yaml", '"region.channels.*.referrals_per_year": {kind: lognormal, factor: 2}  # reason\n', "pathway."),
    ("pathway.yaml", '"pathway.recruitment.interview_pass": {kind: uniform, low: 0.5, high: 1.4}  # reason\n',
     "[0, 1]"),
]


def _bad_ranges(folder: Path, name: str, text: str) -> Path:
    folder.mkdir()
    (folder / "rule.yaml").write_text((RANGES_DIR / "rule.yaml").read_text())
    (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def baseline_option() -> list:
    return compose_options(list(QUICK), CONFIG_DIR)


@pytest.mark.parametrize("name,text,expect", BAD_RANGES, ids=[b[2] for b in BAD_RANGES])
@pytest.mark.unit
def test_bad_range_is_named_with_file_key_and_allowed_values(tmp_path: Path, baseline_option: list, name: str,
                                                             text: str, expect: str) -> None:
    """A bad range: the error (what pathways-decide prints) names the ranges file, the key and what is allowed."""
    folder = _bad_ranges(tmp_path / "ranges", name, text)
    with pytest.raises(ConfigError) as e:
        parameters({o.name: (o.config, o.files) for o in baseline_option}, Ranges.load(folder))
    message = e.value.message()
    assert str(folder / name) in message and expect in message and "allowed" in message, message


@pytest.mark.system
def test_bad_range_stops_before_any_simulation(tmp_path: Path) -> None:
    """On the command line: exit 2 with that one line, never a traceback, nothing run."""
    name, text, expect = BAD_RANGES[0]
    folder = _bad_ranges(tmp_path / "ranges", name, text)
    r = decide("psa", "--samples", "2", "--ranges", str(folder), "--out", str(tmp_path / "o"), *QUICK)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert str(folder / name) in r.stderr and expect in r.stderr and "allowed" in r.stderr, r.stderr
    assert not (tmp_path / "o" / "records.jsonl").exists()


@pytest.mark.system
def test_a_sweep_without_its_reference_stops_with_one_line(tmp_path: Path) -> None:
    """Two options and neither is the baseline: exit 2 before any simulation, one line that says how to name
    the reference (as `pathways` does), never a traceback."""
    r = decide("psa", "--samples", "2", "--out", str(tmp_path / "o"), *(a for a in PLACEBO if "reference" not in a))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "experiment.reference=" in r.stderr and not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- statistics, by construction
@pytest.mark.unit
def test_acceptability_sums_to_one_and_evpi_is_the_value_of_knowing() -> None:
    """Hand-made net benefits: probabilities are the shares of sets each option wins; EVPI by hand."""
    nmb = np.array([[0.0, 10.0, 5.0], [0.0, -10.0, 5.0], [0.0, 3.0, 3.0], [0.0, 20.0, -5.0]])
    p, evpi = acceptability(nmb)
    # option 1 wins sets 0 and 3, option 2 set 1, and they tie on set 2 (half each)
    assert list(p) == pytest.approx([0.0, 2.5 / 4, 1.5 / 4]) and p.sum() == pytest.approx(1.0)
    # with perfect information: 10, 5, 3, 20 -> 9.5; without: best mean 23/4 = 5.75 (option 1)
    assert evpi == pytest.approx(9.5 - 5.75)


@pytest.mark.statistical
def test_uncertainty_splits_variance_between_parameters_and_noise() -> None:
    """Per-set effects = parameter effect + noise of known sizes: the parameters' share is recovered."""
    rng = np.random.default_rng(1)
    theta = rng.normal(0, 3.0, size=(4000, 1))  # parameter sd 3
    psa = theta + rng.normal(0, 1.0, size=(4000, 4))  # noise sd 1, four replications a set
    sim = rng.normal(0, 1.0, size=(50, 1))
    u = uncertainty(sim, psa)
    assert u.parameter_share == pytest.approx(9 / 10, abs=0.02)
    assert u.high - u.low == pytest.approx(2 * 1.96 * np.sqrt(9 + 1 / 4), rel=0.05)


@pytest.mark.statistical
def test_evppi_recovers_the_value_of_knowing_the_one_parameter_that_matters() -> None:
    """Option 1's net benefit is phi1 - 1/2 (phi1, phi2 uniform), the reference's 0: EVPI = E[max(0, phi1 - 1/2)]
    = 1/8, all of it from phi1; phi2 is worth nothing (its estimate's upward bias, about 0.4 sd / sqrt(bin
    size) = 0.015 here, is the bound). EVPPI never exceeds EVPI."""
    from sim.analysis.psa import evppi

    rng = np.random.default_rng(5)
    phi = rng.random((4096, 2))
    nmb = np.column_stack([np.zeros(4096), phi[:, 0] - 0.5])
    total = acceptability(nmb)[1]
    assert total == pytest.approx(0.125, abs=0.01)
    assert evppi(nmb, phi[:, 0]) == pytest.approx(total, abs=0.005)
    assert 0.0 <= evppi(nmb, phi[:, 1]) < 0.01 and evppi(nmb, phi[:, 1]) <= total


def _linear_gaussian(n: int, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two options: the reference (0) and one whose net benefit is theta1 + theta2 + noise, theta_i = 2 and 1 x a
    standard normal (their quantiles u1, u2; u3 a third parameter with no effect). Closed forms: EVPPI(theta1)
    = E[max(0, theta1)] = 2 phi(0), EVPPI(u3) = 0, EVPI = sqrt(5) phi(0)."""
    from scipy.special import ndtri

    rng = np.random.default_rng(seed)
    u = rng.random((n, 3))
    nb = 2 * ndtri(u[:, 0]) + ndtri(u[:, 1]) + rng.normal(0, noise, n)
    return np.column_stack([np.zeros(n), nb]), u


@pytest.mark.statistical
def test_evppi_by_regression_recovers_the_closed_form_and_gives_nothing_to_a_parameter_with_no_effect() -> None:
    """With simulation noise twice the parameters' spread: EVPPI(theta1) within 3 standard errors of 2 phi(0),
    the noise-free EVPI within 3 of sqrt(5) phi(0), and the parameter with no effect within 2 of zero (the binned
    estimator gave it about half of theta1's: its bins' noise read as information)."""
    from sim.analysis.psa import evpi_estimates, evppi_estimates

    phi0 = 1 / math.sqrt(2 * math.pi)
    nmb, u = _linear_gaussian(512, 1, noise=4.0)
    zero = np.zeros_like(nmb)
    first = evppi_estimates(nmb, zero, u[:, 0], [1.0])[0]
    none = evppi_estimates(nmb, zero, u[:, 2], [1.0])[0]
    total = evpi_estimates(nmb, zero, u, [1.0])[0]
    assert abs(first.value - 2 * phi0) < 3 * first.se and first.se < 0.25
    assert none.value < 2 * none.se and none.se < 0.25
    assert abs(total.value - math.sqrt(5) * phi0) < 3 * total.se
    assert acceptability(nmb)[1] > total.value + 3 * total.se  # the raw EVPI counts the noise


@pytest.mark.unit
def test_the_heaviest_penalty_fits_a_constant_or_a_straight_line_exactly() -> None:
    """The P-spline's penalty of order 1 is zero on a constant and that of order 2 on a straight line (Eilers and
    Marx's evenly spaced knots): the heaviest penalty fits them, with no pull towards the mean at the ends. With
    the knots piled up at the ends (a clamped basis) a straight line paid 0.0066 (of order 1 on its scale)."""
    from sim.analysis.psa import _spline

    x = np.random.default_rng(3).random(128)
    for order, y in ((1, np.full(128, 4.0)), (2, 3 + 2 * x)):
        basis, penalty = _spline(x, order)
        coef = np.linalg.lstsq(basis, y, rcond=None)[0]
        assert np.abs(basis @ coef - y).max() < 1e-9  # the cubic basis holds the line
        assert abs(coef @ penalty @ coef) < 1e-9, (order, coef @ penalty @ coef)


@pytest.mark.statistical
def test_fit_at_ends_recovers_a_straight_line_averaged_over_the_other_parameters() -> None:
    """What an outcome would be at each end of one parameter's range, from sets that vary it with another: 128 sets,
    the outcome 10 + 30 x + 12 (z - 1/2) + noise (sd 6). Over 40 seeds the fit at the sets' lowest and highest x is
    unbiased (mean error within 3 standard errors of 0) and its 95% bootstrap interval holds the truth in at least
    80% of the 80 cases (binomial at 95%: 76 expected, 64 is 6 standard deviations below). A first-difference
    penalty on knots piled up at the ends pulled both ends towards the mean by 1 (covering 60%); a parameter with no
    effect gives equal ends."""
    from sim.analysis.psa import fit_at_ends

    errors, covered = [], 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        x, z = rng.random(128), rng.random(128)
        y = np.column_stack([10 + 30 * x + 12 * (z - 0.5) + rng.normal(0, 6, 128), 5 + rng.normal(0, 6, 128)])
        fits = fit_at_ends(y, x, seed)
        assert fits is not None
        for end, truth in zip(fits[0], (10 + 30 * x.min(), 10 + 30 * x.max())):
            errors.append(end.mean - truth)
            covered += end.low <= truth <= end.high
        flat = fits[1]
        assert flat[0].low <= 5 <= flat[0].high or flat[1].low <= 5 <= flat[1].high
    assert abs(np.mean(errors)) < 3 * np.std(errors) / math.sqrt(len(errors)), np.mean(errors)
    assert covered >= 64, covered
    assert fit_at_ends(np.zeros((4, 1)), np.arange(4.0)) is None  # too few sets to fit


@pytest.mark.model
def test_a_task_leaves_no_simulation_of_the_tasks_before_it_alive() -> None:
    """A worker keeps nothing of the tasks it has run (the runner holds no simulation): if it did, it would grow
    by about 1.5 MB a simulation. After five tasks and a collection, none of their ten simulations is alive."""
    import gc

    from sim.experiment.runner import Task, run_task
    from sim.model.clock import Environment

    def alive() -> int:
        gc.collect()  # runs the finally blocks of journeys still under way (closing their generators)
        gc.collect()  # frees what those touched
        return sum(isinstance(o, Environment) for o in gc.get_objects())

    configs = {o.name: o.config for o in compose_options(list(QUICK), CONFIG_DIR)}
    before = alive()  # other tests' environments that something still holds
    for i in range(5):
        run_task(Task(f"t{i}", {}, (0, 1)), configs)
    assert alive() == before


# ----------------------------------------------------------------------------- the psa command
PLACEBO_PSA = ("psa", "--samples", "8", "--base-replications", "3", *PLACEBO)


def _placebo(out: Path) -> None:
    r = decide(*PLACEBO_PSA, "--workers", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def placebo_psa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared(tmp_path_factory, "placebo", _placebo)


@pytest.mark.system
def test_an_option_better_by_construction_is_best_with_probability_one(placebo_psa: Path) -> None:
    """Same effects, GBP 50,000 more cost: the cheaper option wins every set at every willingness to pay; EVPI 0;
    its effect differences are exactly zero (common random numbers)."""
    rows = table(placebo_psa / "ceac.csv")
    cheap = "intervention.mentoring.cost.fixed=0"
    assert rows and all(float(r["p_best"]) == (1.0 if r["option"] == cheap else 0.0) for r in rows)
    assert all(float(r["evpi_gbp"]) == 0.0 for r in rows)
    unc = {r["kpi"]: r for r in table(placebo_psa / "uncertainty.csv")}
    assert float(unc["net_sustained_12m"]["psa_low"]) == float(unc["net_sustained_12m"]["psa_high"]) == 0.0
    assert float(unc["programme_cost"]["psa_mean"]) == pytest.approx(50_000)


@pytest.mark.system
def test_samples_run_in_kept_workers(placebo_psa: Path) -> None:
    """Nine tasks on two workers: at most two worker processes ran them (no process start per sample)."""
    pids = {json.loads(line)["pid"] for line in (placebo_psa / "records.jsonl").read_text().splitlines()}
    assert 1 <= len(pids) <= 2


def _norfolk(out: Path) -> None:
    # on the prior ranges' Sobol design: with 16 sets the ridge EVPI of 120 parameters shrinks hard, and with the
    # posterior's random draws in 12 columns it fell below single-parameter EVPPIs (the words call such values
    # rough; tests/test_posterior.py covers the posterior's sets)
    r = decide("psa", "--samples", "16", "--base-replications", "5", "--workers", "2", "--out", str(out),
               "--parameters", "prior", "scenario=baseline,west_norfolk_local_plan", *QUICK)
    assert r.returncode == 0, r.stderr
    assert "explicit range" in r.stdout and "from the default rule" in r.stdout
    (out / "stdout.txt").write_text(r.stdout)


@pytest.fixture(scope="module")
def norfolk_psa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared(tmp_path_factory, "norfolk", _norfolk)


@pytest.mark.system
def test_probabilities_sum_to_one_and_evpi_is_not_negative(norfolk_psa: Path) -> None:
    rows = table(norfolk_psa / "ceac.csv")
    by = {}
    for r in rows:
        by.setdefault((r["effect"], r["wtp_gbp"]), []).append(r)
    assert len(by) > 40
    for group in by.values():
        assert sum(float(r["p_best"]) for r in group) == pytest.approx(1.0)
        assert float(group[0]["evpi_gbp"]) >= 0


@pytest.mark.system
def test_psa_interval_is_never_narrower_than_the_simulation_only_ci(norfolk_psa: Path) -> None:
    for r in table(norfolk_psa / "uncertainty.csv"):
        if r["kpi"] in ("net_sustained_12m", "vacancy_days"):
            assert float(r["psa_high"]) - float(r["psa_low"]) >= float(r["sim_ci_high"]) - float(r["sim_ci_low"]), r


@pytest.mark.system
def test_psa_tables_and_report(norfolk_psa: Path) -> None:
    """psa.csv holds every set x option x KPI once with the sampled values; stability compares half with all."""
    rows = table(norfolk_psa / "psa.csv")
    assert len(rows) == 16 * 2 * 6
    assert "region.workforce.groups.*.posts.*.turnover" in rows[0]
    assert {r["measure"] for r in table(norfolk_psa / "stability.csv")} >= {"mean", "low", "high"}
    ev = table(norfolk_psa / "evppi.csv")
    # every varied parameter (the columns of psa.csv but sample, option, replication, kpi, value)
    assert len({r["parameter"] for r in ev}) == len(rows[0]) - 5
    # two regressions (one parameter; all of them, linear): EVPPI within EVPI up to their standard errors
    assert all(0 <= float(r["evppi_gbp"]) <= float(r["evpi_gbp"]) + 2 * (float(r["evppi_se_gbp"])
                                                                         + float(r["evpi_se_gbp"])) + 1e-6 for r in ev)
    html = (norfolk_psa / "report.html").read_text()
    assert "Probability that each option is the best buy" in html and "data:image/png;base64" in html
    assert re.search(r"£\d", html) and not re.search(r"GBP \d", html)  # money as the comparison report writes it
    # the EVPI with the noise taken out (evppi.csv's, not ceac.csv's), with its standard error, in words and console
    at25 = next(r for r in ev if r["effect"] == "sustained_job" and float(r["wtp_gbp"]) == 25_000.0)
    said = f"£{float(at25['evpi_gbp']):,.0f} ± £{float(at25['evpi_se_gbp']):,.0f}"
    assert said in html and said in (norfolk_psa / "stdout.txt").read_text()


def record_ids(out: Path) -> list[str]:
    """The task of each whole line of a run folder's records (a line being written is left out)."""
    path = out / "records.jsonl"
    lines = path.read_text().split("\n")[:-1] if path.exists() else []
    return [json.loads(line)["task"] for line in lines]


def killed(args: Sequence[str], out: Path, ready: Callable[[list[str]], bool]) -> list[str]:
    """Start `pathways-decide ARGS --out OUT` in its own process group and SIGKILL the whole group (the run and
    its workers, as a crash would) once the recorded tasks satisfy `ready`; the records it left, line by line."""
    proc = subprocess.Popen([sys.executable, "-m", "sim.interfaces.decide", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(CONFIG_DIR.parent)})
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not ready(record_ids(out)):
        time.sleep(0.02)
    running = proc.poll() is None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert running, "the run ended before it was killed"
    return (out / "records.jsonl").read_text().splitlines()


def assert_resumed(args: Sequence[str], out: Path, kills: list[list[str]], whole: Path) -> None:
    """Finish the killed run in `out`; each kill's finished records are kept as they were and never simulated again
    (a task simulated again would be appended again), and the reruns simulated exactly the tasks the uninterrupted
    run `whole` simulated that no killed run had finished, counted by the process that wrote each record."""
    r = decide(*args, "--out", str(out))
    assert r.returncode == 0, r.stderr
    after = (out / "records.jsonl").read_text().splitlines()
    for before in kills:
        assert after[: len(before)] == before
    ids, expected = record_ids(out), record_ids(whole)
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == set(expected)
    killed_pids = {json.loads(line)["pid"] for line in kills[-1]}
    rerun = sum(json.loads(line)["pid"] not in killed_pids for line in after)
    assert rerun == len(expected) - len(kills[-1]) > 0


def same_files(a: Path, b: Path, names: Sequence[str]) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.system
def test_killed_psa_resumes_losing_no_finished_sample(tmp_path: Path, placebo_psa: Path) -> None:
    """Kill a PSA once some samples are recorded; the rerun keeps them, runs the rest, and gives the same tables."""
    out = tmp_path / "k"
    before = killed(PLACEBO_PSA, out, lambda ids: len(ids) >= 3)
    assert 3 <= len(before) < 9, "the run was not interrupted mid-way"
    assert_resumed(PLACEBO_PSA, out, [before], placebo_psa)
    same_files(out, placebo_psa, ("psa.csv", "uncertainty.csv", "ceac.csv", "evppi.csv", "stability.csv"))


@pytest.mark.system
def test_resume_with_other_settings_is_refused(placebo_psa: Path) -> None:
    r = decide("psa", "--samples", "4", "--out", str(placebo_psa), *PLACEBO)
    assert r.returncode == 2 and "samples" in r.stderr and "allowed" in r.stderr


# ----------------------------------------------------------------------------- sensitivity
TOY_RULE = """probability: fixed      # toy: only the explicit ranges vary
bought: fixed           # toy: only the explicit ranges vary
positive: fixed         # toy: only the explicit ranges vary
bought: fixed           # toy: only the explicit ranges vary
sourced: held
structural: held
fixed_keys:
  "experiment.*": run settings
"""
TOY_REGION = """"region.channels.jobcentre.referrals_per_year": {kind: lognormal, factor: 2}  # toy: how many arrive
"region.channels.online_academy.profile.deadweight": {kind: beta, concentration: 5}  # toy: never read (no referrals)
"""


def toy_sensitivity_args(folder: Path) -> tuple[str, ...]:
    """Morris (whose exact zeros the tests read), then Sobol indices of both parameters, then the tornado, over the
    toy ranges (written in `folder`)."""
    ranges = folder / "toy-ranges"
    ranges.mkdir(exist_ok=True)
    (ranges / "rule.yaml").write_text(TOY_RULE)
    (ranges / "region.yaml").write_text(TOY_REGION)
    return ("sensitivity", "--method", "sobol", "--screen", "morris", "--trajectories", "6", "--samples", "16",
            "--top", "2", "--replications", "1", "--workers", "2", "--ranges", str(ranges), *QUICK)


def _toy_sensitivity(out: Path) -> None:
    r = decide(*toy_sensitivity_args(out.parent), "--out", str(out))
    assert r.returncode == 0, r.stderr
    (out / "stdout.txt").write_text(r.stdout)


@pytest.fixture(scope="module")
def toy_sensitivity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared(tmp_path_factory, "sensitivity", _toy_sensitivity)


@pytest.mark.system
def test_a_parameter_the_model_never_reads_has_zero_morris_and_sobol_indices(toy_sensitivity: Path) -> None:
    """With common random numbers a parameter without effect changes no output: its mu*, S1 and ST are 0
    within their CIs, while the referrals that drive the model have mu* clear of zero. The Sobol emulator, which
    predicts held-out runs of the noisy leading output poorly, is refused: the indices are the direct estimate's."""
    out = toy_sensitivity
    rows = table(out / "sensitivity.csv")
    kpi = "net_sustained_12m:baseline"
    idx = {(x["parameter"].split(".")[2], x["method"], x["index"]): x for x in rows if x["kpi"] == kpi}
    for index in (("morris", "mu_star"), ("sobol", "S1"), ("sobol", "ST")):
        x = idx[("online_academy", *index)]
        assert float(x["ci_low"]) <= 0.0 <= float(x["ci_high"]) and abs(float(x["value"])) < 1e-12, x
    mu = idx[("jobcentre", "morris", "mu_star")]
    assert float(mu["ci_low"]) > 0, mu
    st = idx[("jobcentre", "sobol", "ST")]
    assert float(st["ci_low"]) > 0, st
    torn = {x["parameter"].split(".")[2]: x for x in table(out / "tornado.csv") if x["kpi"] == kpi}
    assert float(torn["online_academy"]["swing"]) == 0.0 < float(torn["jobcentre"]["swing"])
    said, html = (out / "stdout.txt").read_text(), (out / "report.html").read_text()
    assert "Jobcentre and council referrals: referrals per year" in said  # in words, not its path
    for x in rows:  # 16 base samples: an index outside [0, 1] is flagged, never given as a number
        assert x["estimated"] == "0" or x["method"] != "sobol" or 0 <= float(x["value"]) <= 1, x
    assert "What the answer turns on" in html and "Jobcentre and council referrals" in html
    assert "region.channels" not in said and "region.channels" not in html
    assert "Left out" in said  # the parameter that changed nothing, counted
    # one replication of a 400-day run: noise dominates the baseline's jobs, so the emulator is refused there
    r2 = {x["kpi"]: float(x["r2_out_of_sample"]) for x in table(out / "emulator.csv")}
    assert r2[kpi] < 0.9 and json.loads((out / "sensitivity.json").read_text())["sobol"]["method"] == "direct"
    assert f"R² {r2[kpi]:.2f}, below 0.90: its Sobol indices are not used" in said
    assert "estimated directly on the simulation (16 base samples" in html


@pytest.mark.unit
def test_an_index_is_estimated_only_within_its_support_and_its_own_interval() -> None:
    """Interval no wider than the index, Sobol within [0, 1], finite; an exact zero with no spread is known."""
    from sim.analysis.psa import estimated

    assert estimated("sobol", 0.6, 0.5, 0.7) and estimated("morris", 0.0, 0.0, 0.0)
    assert not estimated("sobol", 1.44, 1.3, 1.5) and not estimated("sobol", -0.53, -0.6, -0.5)
    assert not estimated("morris", 10.0, 0.0, 50.4) and not estimated("sobol", 0.3, -0.1, 0.7)
    assert estimated("morris", 50.0, 0.0, 50.0) and not estimated("sobol", math.nan, 0.0, 1.0)


def _toy_sobol(samples: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple]:
    """`psa.sobol` on y = x1 + x2^2 / 2 with x3 unread (no simulation: the runner and the outputs replaced)."""
    from types import SimpleNamespace

    from sim.analysis import psa as psa_module

    monkeypatch.setattr(psa_module, "_point", lambda study, params, u: {"toy": {"u": list(u)}})
    monkeypatch.setattr(psa_module, "run", lambda tasks, *a, **k: {t.id: t.values["toy"]["u"] for t in tasks})
    monkeypatch.setattr(psa_module, "outputs", lambda study, records, ids: {
        "net_sustained_12m:toy": np.array([records[i][0] + records[i][1] ** 2 / 2 for i in ids])})
    leading = [SimpleNamespace(name=n) for n in ("x1", "x2", "x3")]
    study = SimpleNamespace(configs={})
    return psa_module.sobol(study, tmp_path, leading, samples, 1, 3, 1, None)  # type: ignore[arg-type]


@pytest.mark.unit
def test_sobol_with_too_few_samples_says_not_estimated_instead_of_an_index_outside_0_1(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With 4 base samples the estimator gives indices outside [0, 1] or intervals wider than them: each flagged
    not estimated (sensitivity.csv's `estimated` 0), and the words never give them as numbers. With 1,024 the
    indices of x1 and x2 are estimated and within [0, 1], x3's an exact 0."""
    from sim.interfaces.decide import sensitivity_words

    few = _toy_sobol(4, monkeypatch, tmp_path)
    assert any(not 0 <= r[4] <= 1 or r[6] - r[5] > r[4] for r in few), "the toy did not test the flag"
    for r in few:
        assert r[7] == (0 <= r[4] <= 1 and r[6] - r[5] <= abs(r[4])), r
    rows = [(*r, f"Label of {r[0]}") for r in few]
    words = " ".join(sensitivity_words(rows, [], "net_sustained_12m:toy", "toy", 10, 4))
    assert "not estimated with this many samples" in words and "x1" not in words.replace("Label of x1", "")
    for number in re.findall(r"\((-?[\d.]+)\)", words):
        assert 0 <= float(number) <= 1, words
    many = {(r[0], r[3]): r for r in _toy_sobol(1024, monkeypatch, tmp_path)}
    for name in ("x1", "x2"):
        assert many[(name, "ST")][7] == 1 and 0 < many[(name, "ST")][4] <= 1, many[(name, "ST")]
    assert many[("x3", "ST")][4] == 0.0 and many[("x3", "ST")][7] == 1


# The screen's toy: 40 parameters, 4 of which matter; 2 x0 + 1.4 x1 + 6 (x2 - 1/2)^2 + x3 + N(0, 0.3^2) on the
# unit cube, whose first-order indices are a^2/12 for a linear term, b^2/180 for the quadratic, over the total variance
SCREEN_VARIANCES = np.array([4 / 12, 1.96 / 12, 36 / 180, 1 / 12])
SCREEN_TRUTH = SCREEN_VARIANCES / (SCREEN_VARIANCES.sum() + 0.3 ** 2)


def _toy_screen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, points: int, seed: int) -> tuple[list, list]:
    """`psa.rbd_fast` on the screen's toy (one output) and on noise alone (another), the runner replaced: the rows
    and the 4 leading parameters."""
    from types import SimpleNamespace

    from sim.analysis import psa as psa_module

    edge = psa_module.EDGE
    noise = np.random.default_rng(seed)

    def outputs(study: Any, records: dict, ids: list[str]) -> dict[str, np.ndarray]:
        x = (np.array([records[i] for i in ids]) - edge) / (1 - 2 * edge)  # back to the unit cube
        y = 2 * x[:, 0] + 1.4 * x[:, 1] + 6 * (x[:, 2] - 0.5) ** 2 + x[:, 3] + 0.3 * noise.standard_normal(len(ids))
        return {"net_sustained_12m:toy": y, "vacancy_days:toy": noise.standard_normal(len(ids))}

    monkeypatch.setattr(psa_module, "_point", lambda study, params, u: {"toy": {"u": list(u)}})
    monkeypatch.setattr(psa_module, "run", lambda tasks, *a, **k: {t.id: t.values["toy"]["u"] for t in tasks})
    monkeypatch.setattr(psa_module, "outputs", outputs)
    study = SimpleNamespace(configs={}, params=[SimpleNamespace(name=f"x{j}", varied=True) for j in range(40)])
    rows, index, raw = psa_module.rbd_fast(study, tmp_path, points, 1, seed, 1, None)  # type: ignore[arg-type]
    return rows, [p.name for p in psa_module.leading_parameters(study, index, 4, raw)]  # type: ignore[arg-type]


@pytest.mark.statistical
def test_the_rbd_fast_screen_ranks_the_parameters_that_matter_first_and_covers_their_first_order_indices(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On 256 points of the screen's design over 40 parameters: the 4 that matter lead; each one's 95% interval
    covers its analytic first-order index; each of the 36 that do not is flagged not estimated and within 4 of its
    standard errors of 0 (a null index is M ordinates of the periodogram's N/2, sd 2 sqrt(M) / N / (1 - 2M/N) =
    0.016); on the output that is noise alone no index is estimated, so it does not rank. The words give the design
    (points and RBD-FAST) and never a flagged index as a number."""
    from sim.analysis.psa import SCREEN_HARMONICS
    from sim.interfaces.decide import sensitivity_words

    rows, leading = _toy_screen(monkeypatch, tmp_path, 256, 11)
    assert sorted(leading) == ["x0", "x1", "x2", "x3"], leading
    got = {(r[0], r[1].split(":")[0]): r for r in rows}
    assert {r[2:4] for r in rows} == {("rbd-fast", "S1")}
    for j, truth in enumerate(SCREEN_TRUTH):
        r = got[(f"x{j}", "net_sustained_12m")]
        assert r[5] <= truth <= r[6], (r, truth)
        assert r[7] == (r[6] - r[5] <= r[4]), r
    assert got[("x0", "net_sustained_12m")][7] == 1  # 0.38, clear of its interval's width
    m, n = SCREEN_HARMONICS, 256
    null_sd = 2 * math.sqrt(m) / n / (1 - 2 * m / n)
    for j in range(4, 40):
        r = got[(f"x{j}", "net_sustained_12m")]
        assert r[7] == 0 and abs(r[4]) <= 4 * null_sd, r
    assert not any(r[7] for r in rows if r[1] == "vacancy_days:toy")
    labelled = [(*r, f"Label of {r[0]}") for r in rows]
    words = " ".join(sensitivity_words(labelled, [], "net_sustained_12m:toy", "toy", 10, None, None, 256))
    assert "RBD-FAST" in words and "256 points" in words and "Morris" not in words, words
    assert "Label of x0 (0.42)" in words and "not estimated with this many samples" in words
    for j in range(1, 40):  # flagged on this output: named, never given a number
        if not got[(f"x{j}", "net_sustained_12m")][7]:
            assert f"Label of x{j} (" not in words, words


@pytest.mark.unit
def test_the_screens_design_keeps_one_point_per_stratum_and_decorrelates_the_parameters() -> None:
    """256 points over 122 parameters (the Norfolk options' count): every column has one point in each 1/256 stratum,
    and no two columns are correlated beyond 0.1, where the plain Latin hypercube of the same seed has pairs beyond
    0.15 (a given-data index would read a correlated column's effect as its own)."""
    from scipy.stats import qmc

    from sim.analysis.psa import decorrelated_lhs

    def most(u: np.ndarray) -> float:
        c = np.corrcoef(u.T)
        np.fill_diagonal(c, 0)
        return float(np.abs(c).max())

    u = decorrelated_lhs(256, 122, 5)
    assert u.shape == (256, 122)
    assert all(sorted(np.floor(u[:, j] * 256).astype(int)) == list(range(256)) for j in range(122))
    assert most(u) <= 0.1 < 0.15 <= most(qmc.LatinHypercube(d=122, seed=5).random(256))


@pytest.mark.unit
def test_the_sensitivity_report_of_the_rbd_fast_screen_says_so_with_its_points(tmp_path: Path) -> None:
    """A screen by RBD-FAST: the table's column is its first-order index on the stated points, not Morris mu*, and a
    flagged index is said not estimated."""
    from sim.outputs.decide_report import build

    header = ("parameter", "kpi", "method", "index", "value", "ci_low", "ci_high", "estimated", "label")
    rows = [("a.rate", "net_sustained_12m:x", "rbd-fast", "S1", 0.5, 0.42, 0.58, 1, "Route A: referrals per year"),
            ("b.prob", "net_sustained_12m:x", "rbd-fast", "S1", 0.04, -0.03, 0.11, 0, "Course B: completion")]
    with (tmp_path / "sensitivity.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    with (tmp_path / "tornado.csv").open("w", newline="") as f:
        csv.writer(f).writerows([TORNADO_HEADER])
    (tmp_path / "decide.json").write_text(json.dumps({"command": "sensitivity"}))
    (tmp_path / "summary.json").write_text(json.dumps({"reference": "x", "options": ["x"]}))
    (tmp_path / "sensitivity.json").write_text(json.dumps({"words": [], "screen": {"method": "rbd-fast",
                                                                                   "points": 256}}))
    part = build(tmp_path)
    part = part[part.index('id="sensitivity"'):]
    assert "Screening S1, RBD-FAST on 256 points (95% CI)" in part and "mu*" not in part and "Morris" not in part
    assert "0.500 (0.420 to 0.580)" in part and "<td>not estimated with this many samples</td>" in part


@pytest.mark.system
def test_the_default_sensitivity_screen_is_rbd_fast_and_says_its_points(tmp_path: Path) -> None:
    """The command's default screening on the toy ranges (64 points): RBD-FAST rows for every parameter, the
    referrals that drive the model estimated clear of 0 on the baseline's jobs, the never-read parameter not (flagged,
    or an interval holding 0); the words, sensitivity.json and the report name the screening and its points."""
    args = [a for a in toy_sensitivity_args(tmp_path) if a not in ("sobol", "morris")]
    args = [a for a in args if a not in ("--method", "--screen")]
    r = decide(*args, "--screen-points", "64", "--out", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "s"
    rows = table(out / "sensitivity.csv")
    assert {(x["method"], x["index"]) for x in rows} == {("rbd-fast", "S1")}
    idx = {x["parameter"].split(".")[2]: x for x in rows if x["kpi"] == "net_sustained_12m:baseline"}
    assert idx["jobcentre"]["estimated"] == "1" and float(idx["jobcentre"]["ci_low"]) > 0, idx["jobcentre"]
    still = idx["online_academy"]
    assert still["estimated"] == "0" or float(still["ci_low"]) <= 0 <= float(still["ci_high"]), still
    summary = json.loads((out / "sensitivity.json").read_text())
    assert summary["screen"]["method"] == "rbd-fast" and summary["screen"]["points"] == 64 and not summary["sobol"]
    assert "RBD-FAST" in r.stdout and "64 points" in r.stdout
    assert "Screening S1, RBD-FAST on 64 points (95% CI)" in (out / "report.html").read_text()


@pytest.mark.system
def test_sensitivity_refuses_a_morris_method_with_the_rbd_fast_screen_and_too_few_screen_points() -> None:
    r = decide("sensitivity", "--method", "morris", "--screen", "rbd-fast")
    assert r.returncode == 2 and "allowed" in r.stderr and "--method screen --screen rbd-fast" in r.stderr
    r = decide("sensitivity", "--screen-points", "32")
    assert r.returncode == 2 and "--screen-points = 32" in r.stderr and "[64," in r.stderr


@pytest.mark.unit
def test_the_sensitivity_report_names_parameters_in_words_and_leaves_out_those_with_no_effect(tmp_path: Path) -> None:
    """From a folder's files: the table and the tornado by label, an index not estimated said so, and the parameter
    that changed nothing left out and counted."""
    from sim.outputs.decide_report import build

    header = ("parameter", "kpi", "method", "index", "value", "ci_low", "ci_high", "estimated", "label")
    rows = [("a.rate", "net_sustained_12m:x", "morris", "mu_star", 5.0, 4.0, 6.0, 1, "Route A: referrals per year"),
            ("a.rate", "net_sustained_12m:x", "morris", "sigma", 1.0, "nan", "nan", 1, "Route A: referrals per year"),
            ("b.prob", "net_sustained_12m:x", "morris", "mu_star", 1.0, 0.0, 3.0, 0, "Course B: completion"),
            ("b.prob", "net_sustained_12m:x", "morris", "sigma", 1.0, "nan", "nan", 1, "Course B: completion"),
            ("c.none", "net_sustained_12m:x", "morris", "mu_star", 0.0, 0.0, 0.0, 1, "Route C: deadweight"),
            ("c.none", "net_sustained_12m:x", "morris", "sigma", 0.0, "nan", "nan", 1, "Route C: deadweight")]
    torn = [("a.rate", "net_sustained_12m:x", 3.0, 5.0, 8.0, 5.0, "Route A: referrals per year"),
            ("c.none", "net_sustained_12m:x", 5.0, 5.0, 5.0, 0.0, "Route C: deadweight")]
    for name, head, body in (("sensitivity.csv", header, rows), ("tornado.csv", TORNADO_HEADER, torn)):
        with (tmp_path / name).open("w", newline="") as f:
            csv.writer(f).writerows([head, *body])
    (tmp_path / "decide.json").write_text(json.dumps({"command": "sensitivity"}))
    (tmp_path / "summary.json").write_text(json.dumps({"reference": "x", "options": ["x"]}))
    html = build(tmp_path)
    part = html[html.index('id="sensitivity"'):]
    assert "Route A: referrals per year" in part and "Course B: completion" in part
    assert "a.rate" not in part and "b.prob" not in part
    assert "Route C" not in part and "Left out of the table: 1 of the 3 parameters" in part
    assert "<td>not estimated with this many samples</td>" in part and "1.000 (0.000 to 3.000)" not in part


@pytest.mark.system
def test_killed_sensitivity_resumes_losing_no_finished_point(tmp_path: Path, toy_sensitivity: Path) -> None:
    """Killed once during the Morris points and once during the Sobol points (two workers; after the tornado's and
    the emulator's runs, the direct estimate's, as the toy's emulator is refused): each rerun keeps what was
    finished, and the tables equal an uninterrupted run's."""
    args, out = toy_sensitivity_args(tmp_path), tmp_path / "k"
    first = killed(args, out, lambda ids: len(ids) >= 3)
    assert all(x.startswith("morris") for x in record_ids(out)), "not killed during the Morris points"
    second = killed(args, out, lambda ids: sum(x.startswith("sobol") for x in ids) >= 3)
    ids = record_ids(out)
    assert any(x.startswith("tornado") for x in ids) and not (out / "sensitivity.csv").exists(), \
        "not killed during the Sobol points (the last phase)"
    assert_resumed(args, out, [first, second], toy_sensitivity)
    same_files(out, toy_sensitivity, ("sensitivity.csv", "tornado.csv", "sensitivity.json", "emulator.csv"))


# ----------------------------------------------------------------------------- optimise
@pytest.mark.statistical
def test_the_cost_bound_is_exceeded_by_a_fresh_replication_2_5_percent_of_the_time() -> None:
    """Normal costs, three replications a candidate: a fourth exceeds the bound with probability 0.025
    (20,000 candidates: within 4 binomial sds); a cost that does not vary is its own bound."""
    from sim.analysis.optimise import cost_bound

    rng = np.random.default_rng(3)
    x = rng.normal(100_000, 2_000, size=(20_000, 4))
    over = np.mean([row[3] > cost_bound(row[:3]) for row in x])
    assert abs(over - 0.025) <= 4 * np.sqrt(0.025 * 0.975 / 20_000), over
    assert cost_bound(np.array([38_356.0, 38_356.0])) == 38_356.0


@pytest.mark.unit
def test_the_optimisers_candidates_are_the_intervention_files_at_each_size() -> None:
    """Every shipped intervention, at sizes 1, 2, 3, 5, 8 and its search bound: the optimiser's candidate (its
    values applied to the search space, as a worker runs it) is the intervention as a sweep composes it with
    `intervention.NAME.places=k`: every change and the cost. One costed per person (no places) is as configured.
    Fails on a rule of the optimiser's own (outreach at 8 workers: 120 x 8^0.8 = 633 referrals a year, not 8/3
    of 3 workers' 289; nursing-home retention's compounding effect grows with its educators)."""
    from sim.analysis.optimise import bounds, merged
    from sim.params.ranges import apply

    names = sorted(p.stem for p in (CONFIG_DIR / "intervention").glob("*.yaml"))
    switch_on = f"intervention=[{','.join(names)}]"
    option, = compose_options([switch_on], CONFIG_DIR)
    space = merged(option, [option])
    top = bounds(space.c)
    sized = [n for n in names if space.c.intervention[n].places > 0]
    per_person = [n for n in names if n not in sized]
    assert "outreach" in sized and "nursing_home_nurse_retention" in sized and "mentoring" in per_person
    plans = [{n: k for n in sized} for k in (1, 2, 3, 5, 8)] + [{n: top[n] for n in sized}]
    for plan in plans:
        expected, = compose_options([switch_on, *(f"intervention.{n}.places={k}" for n, k in plan.items())], CONFIG_DIR)
        sizes = {**plan, **{n: 1 for n in per_person}}
        values, drop = space.values(sizes)
        candidate = apply(space.c, values)
        assert drop == ()
        for name in names:
            assert candidate.intervention[name] == expected.config.intervention[name], (name, sizes[name])
    at8 = space.at("outreach", 8).changes[0].value
    assert at8 == pytest.approx(120 * 8**0.8)
    assert space.values({"outreach": 0}) == ({}, ("outreach",))


class _Bowl:
    """A stand-in for optimise.Search: objective -(a-2)^2 - (b-3)^2 at no noise; cost GBP 10 per size step of b,
    a costs nothing; counts the mixes it is asked to evaluate."""

    def __init__(self) -> None:
        self.asked: list[dict[str, int]] = []

    def fixed_cost(self, m: dict[str, int]) -> float:
        return 10.0 * m["b"]

    def evaluate(self, batch: list[dict[str, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        self.asked += batch
        return [(np.full(2, -(m["a"] - 2.0) ** 2 - (m["b"] - 3.0) ** 2), np.full(2, self.fixed_cost(m))) for m in batch]


@pytest.mark.unit
def test_the_search_starts_from_the_seed_programmes_and_runs_more_trials_until_it_settles() -> None:
    """A seed programme's mix is among the first tried (two trials find it). The convergence check: with the cap
    at the trials nothing more runs and the answer says whether the best after half the trials was the best after
    all; with a higher cap the trials double until it was, or the cap is reached."""
    from sim.analysis.optimise import label, search

    box, start = {"a": 5, "b": 5}, {"a": 0, "b": 0}
    found, _ = search(_Bowl(), [1e9], box, 2, 2, 1, start, seeds=({"a": 2, "b": 3},))  # type: ignore[arg-type]
    assert found[1e9][0][0] == {"a": 2, "b": 3}
    _, settled = search(_Bowl(), [1e9], box, 2, 2, 1, start, cap=2)  # type: ignore[arg-type]
    once = settled[1e9]
    assert once.trials == 2 and once.rounds == 1 and once.converged == (once.half == once.best)
    assert not once.converged  # after one of two trials the best was the start, not the best of two
    s = _Bowl()
    _, settled = search(s, [1e9], box, 2, 2, 1, start, cap=64)  # type: ignore[arg-type]
    more = settled[1e9]
    assert more.rounds > 1 and more.trials == 2 ** more.rounds <= 64 and more.trials >= len({label(m) for m in s.asked})
    assert more.converged or more.trials == 64


class _Fresh:
    """A stand-in for optimise.Search on fresh seeds: the mix and each programme's objective and cost per seed."""

    sign = 1.0

    def __init__(self, runs: dict[str, tuple[list[float], list[float]]]):
        self.runs = {k: (np.array(y), np.array(c)) for k, (y, c) in runs.items()}

    def evaluate(self, batch: list, reps: tuple, tag: str = "") -> list:
        return [self.runs["mix"] for _ in batch]

    def options(self, names: list[str], reps: tuple, tag: str = "") -> list:
        return [self.runs[n] for n in names]

    def difference(self, y: np.ndarray, z: np.ndarray) -> Any:
        from sim.analysis.optimise import Search

        return Search.difference(self, y, z)  # type: ignore[arg-type]


@pytest.mark.unit
def test_the_out_of_sample_check_recommends_a_fitting_programme_that_beats_the_mix() -> None:
    """Every programme is compared on the same seeds; one fits when its cost bound is within the budget. The best
    fitting one replaces the mix when it does at least as well; one over the budget never does."""
    from sim.analysis.optimise import out_of_sample

    ref = ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    mix = ([10.0, 11.0, 12.0], [900.0, 950.0, 1000.0])
    plan = ([15.0, 16.0, 17.0], [960.0, 970.0, 980.0])  # better, fits (bound about 1,050 within 1,100)
    dear = ([30.0, 31.0, 32.0], [2000.0, 2000.0, 2000.0])  # better still, over the budget
    check = out_of_sample(_Fresh({"mix": mix, "base": ref, "plan": plan, "dear": dear}),  # type: ignore[arg-type]
                          {"a": 1}, ["plan", "dear"], "base", 3, 1100.0)
    by = {p["name"]: p for p in check["programmes"]}
    assert by["plan"]["fits"] and not by["dear"]["fits"] and check["seed_programme"] == "plan"
    assert check["recommend"] == "programme" and by["plan"]["programme_better"] and not check["better"]
    assert check["diff_mean"] == pytest.approx(-5.0) and check["budget_used"] == pytest.approx(950 / 1100)
    worse = ([5.0, 6.0, 7.0], [500.0, 500.0, 500.0])
    check = out_of_sample(_Fresh({"mix": mix, "base": ref, "plan": worse}),  # type: ignore[arg-type]
                          {"a": 1}, ["plan"], "base", 3, 1100.0)
    assert check["recommend"] == "mix" and check["better"] and check["effect_mean"] == pytest.approx(11.0)


@pytest.mark.parametrize("budget, steps, end", [(1e9, 10, {"a": 2, "b": 3}), (20.0, 10, {"a": 2, "b": 2}),
                                                 (1e9, 2, None)])
@pytest.mark.unit
def test_polish_climbs_one_size_step_at_a_time_within_the_budget(budget: float, steps: int, end: dict | None) -> None:
    """From nothing, the local search reaches the top of the bowl in five moves, or the best mix the budget holds
    (b = 2 at GBP 20), never evaluating a mix over the budget nor one twice; with two moves it stops two steps out."""
    from sim.analysis.optimise import label, polish

    s, seen = _Bowl(), {}
    polish(s, ({"a": 0, "b": 0}, -13.0, 0.0), {"a": 5, "b": 5}, budget, seen, steps)  # type: ignore[arg-type]
    best = max((v for v in seen.values() if v[2] <= budget), key=lambda v: v[1])[0]
    if end is not None:
        assert best == end
    else:  # two moves from (0, 0): two size steps out
        assert sum(best.values()) == 2
    assert all(s.fixed_cost(m) <= budget for m in s.asked)
    assert len({label(m) for m in s.asked}) == len(s.asked)


class _Candidates:
    """A stand-in for optimise.Search with fixed results per mix: objective values and costs on four seeds."""

    reps = 2

    def __init__(self, results: dict[str, tuple[list[float], float]]) -> None:
        self.results = results

    def evaluate(self, batch: list[dict[str, int]], reps: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
        assert reps == (0, 1, 2, 3)  # twice the replications of the search, the same seeds for every candidate
        return [(np.array(self.results[m["name"]][0]), np.full(4, self.results[m["name"]][1])) for m in batch]


@pytest.mark.parametrize("b_values, pick, cheaper", [
    ([10.2, 10.5, 9.1, 9.8], "b", True),  # b is within the noise of a (paired CI of a - b reaches 0): cheaper b
    ([9.0, 10.0, 8.0, 9.0], "a", False),  # a is clearly ahead of b (each seed by 1.0)
])
@pytest.mark.unit
def test_selection_takes_the_cheapest_of_the_candidates_it_cannot_tell_apart(b_values: list[float], pick: str,
                                                                            cheaper: bool) -> None:
    """Of the leading candidates within the budget, the best mean unless a cheaper one is not clearly behind it;
    one over the budget on the longer run is never chosen, whatever its mean; the rival is the best other mean."""
    from sim.analysis.optimise import select

    s = _Candidates({"a": ([10.0, 11.0, 9.0, 10.0], 300.0), "b": (b_values, 100.0), "c": ([5.0, 5.5, 4.5, 5.0], 50.0),
                     "dear": ([20.0, 21.0, 19.0, 20.0], 900.0)})
    lead = [({"name": n}, 0.0, 0.0) for n in ("dear", "a", "b", "c")]
    choice = select(s, lead, 500.0, 4, 2)  # type: ignore[arg-type]
    assert choice is not None and choice.mix == {"name": pick} and choice.cheaper == cheaper
    assert choice.rival == {"name": "a" if pick == "b" else "b"}
    assert choice.cost == (100.0 if pick == "b" else 300.0)
    assert choice.sep is not None and (choice.sep.low > 0) == (not cheaper)
    assert select(s, lead, 40.0, 4, 2) is None  # nothing within GBP 40


@pytest.mark.unit
def test_selection_edge_cases_ties_missing_values_and_a_single_candidate() -> None:
    """Equal on every seed: the cheaper is chosen (as the best, by the tie-break) and the dearer is its rival; a
    candidate with a missing value is left out wherever it stands; a single candidate has no rival."""
    from sim.analysis.optimise import select

    same = [10.0, 11.0, 9.0, 10.0]
    s = _Candidates({"dear": (same, 300.0), "cheap": (same, 100.0), "gap": ([50.0, math.nan, 50.0, 50.0], 10.0)})
    for order in (("gap", "dear", "cheap"), ("dear", "cheap", "gap")):
        choice = select(s, [({"name": n}, 0.0, 0.0) for n in order], 500.0, 3, 2)  # type: ignore[arg-type]
        assert choice is not None and choice.mix == {"name": "cheap"} and choice.rival == {"name": "dear"}
        assert choice.sep is not None and choice.sep.mean == 0.0 and not choice.cheaper
    alone = select(s, [({"name": "dear"}, 0.0, 0.0)], 500.0, 3, 2)  # type: ignore[arg-type]
    assert alone is not None and alone.mix == {"name": "dear"} and alone.rival is None and alone.sep is None


BUDGET = 400_000  # the West Norfolk plan (about GBP 300k in these short runs) fits: the out-of-sample check has a rival


OPTIMISE = ("optimise", "--budget", str(BUDGET), "--trials", "14", "--replications", "2", "--oos-replications", "3",
            "--sets", "3", "--workers", "2", "scenario=baseline,west_norfolk_local_plan", *QUICK)


def _optimise(out: Path) -> None:
    r = decide(*OPTIMISE, "--out", str(out))
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def optimised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared(tmp_path_factory, "optimise", _optimise)


@pytest.mark.system
def test_frontier_never_falls_as_the_budget_grows(optimised: Path) -> None:
    """Fresh-seed effects of the best mix at each budget: each at least the previous one, within their CIs."""
    rows = sorted(table(optimised / "frontier.csv"), key=lambda r: float(r["budget_gbp"]))
    assert len(rows) == 4 and [float(r["budget_gbp"]) for r in rows][-1] == BUDGET
    for a, b in itertools.pairwise(rows):
        assert float(b["ci_high"]) >= float(a["ci_low"]), (a, b)
    for a in rows:  # held to its cost bound (a fresh replication exceeds it with probability <= 2.5%), each mix
        # stayed within its budget on every fresh seed
        assert float(a["cost_bound_gbp"]) <= float(a["budget_gbp"]), a
        assert float(a["cost_max_gbp"]) <= float(a["budget_gbp"]), a


@pytest.mark.system
def test_the_frontier_effect_is_the_mix_against_the_reference_on_the_same_fresh_seeds(optimised: Path) -> None:
    """Each budget's effect is the paired difference, mix minus reference, recomputed here from the raw records of
    the fresh-seed runs (not the mix's own level, which includes what the reference does anyway)."""
    recs = {r["task"]: r["kpis"] for r in map(json.loads, (optimised / "records.jsonl").read_text().splitlines())}
    ref = recs["seed@fresh:baseline"]["baseline"]
    for row in table(optimised / "frontier.csv"):
        mix = next(k["mix"] for t, k in recs.items() if t.startswith("mix@fresh") and t.endswith(f":{row['mix']}"))
        d = [mix[r]["net_sustained_12m"] - ref[r]["net_sustained_12m"] for r in ref]
        assert row["reference"] == "baseline" and int(row["n"]) == len(d) == 3 and sorted(mix) == sorted(ref)
        assert float(row["effect"]) == pytest.approx(np.mean(d))
        assert float(row["ci_low"]) < np.mean(d) < float(row["ci_high"])


@pytest.mark.system
def test_recommended_mix_runs_as_a_scenario_within_budget(optimised: Path, tmp_path: Path) -> None:
    """recommended.yaml is a scenario `pathways` runs as it is; on seeds the search never saw (another
    experiment.seed) every replication's programme cost is within the budget, as it was in the optimiser's
    own out-of-sample check, which says so."""
    run = tmp_path / "run"
    r = subprocess.run([str(Path(sys.executable).parent / "pathways"), "--config-dir", str(optimised),
                        "scenario=recommended", *QUICK, "experiment.replications=3", "experiment.seed=7",
                        f"hydra.run.dir={run}"],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(CONFIG_DIR.parent)})
    assert r.returncode == 0, r.stderr[-2000:]
    costs = [float(x["value"]) for x in table(run / "kpis.csv") if x["kpi"] == "programme_cost" and x["group"] == "all"]
    assert len(costs) == 3 and max(costs) <= BUDGET, costs
    assert len(set(costs)) > 1, "the cost does not vary: the test would not test the bound"
    check = json.loads((optimised / "optimise.json").read_text())["check"]
    assert check["mix_cost_bound"] <= BUDGET and check["mix_cost_max"] <= BUDGET and check["within_budget"], check


@pytest.mark.system
def test_the_recommended_mix_is_compared_out_of_sample_with_the_best_seed_programme(optimised: Path) -> None:
    """On fresh seeds, against the seed programme within the budget (it fits: about GBP 300k of 400k): a paired CI,
    and words that follow it; when the programme does at least as well as the mix, the programme is what to fund.
    The recommendation's effect over parameter sets, the share of the budget used and the search's convergence are
    said and written."""
    meta = json.loads((optimised / "optimise.json").read_text())
    check, words = meta["check"], meta["words"]
    assert check["seed_programme"] == "west_norfolk_local_plan" and check["n"] == 3
    plan, = check["programmes"]
    assert plan["fits"] and plan["cost_bound"] <= BUDGET and plan["name"] == "west_norfolk_local_plan"
    assert check["diff_low"] <= check["diff_mean"] <= check["diff_high"] and check["better"] == (check["diff_low"] > 0)
    assert check["recommend"] == ("programme" if check["seed_mean"] >= check["mix_mean"] else "mix")
    if check["recommend"] == "mix":
        said = next(w for w in words if w.startswith("Out of sample"))
        assert said.endswith("is better.") == check["better"] and "west norfolk local plan" in said
        assert f"cost £{check['seed_cost']:,.0f}" in said  # as the report writes it
        assert f"({check['budget_used']:.0%} of the budget)" in words[0]
    else:
        assert words[0].startswith(f"Within £{BUDGET:,.0f}, fund west norfolk local plan as it is")
        assert "seed programme west_norfolk_local_plan" in (optimised / "recommended.yaml").read_text()
    pick = check["parameter_sets"]["mix" if check["recommend"] == "mix" else "west_norfolk_local_plan"]
    assert pick["sets"] == 3 and pick["low"] <= pick["mean"] <= pick["high"]
    assert "Over 3 parameter sets drawn from the ranges" in " ".join(words)
    assert "GBP" not in " ".join(words)
    for row in table(optimised / "frontier.csv"):
        settled = meta["convergence"][str(float(row["budget_gbp"]))]
        assert int(row["trials"]) == settled["trials"] and 14 <= settled["trials"] <= 4 * 14
        assert row["converged"] == str(int(settled["half"] == settled["best"]))
        assert 0 < float(row["budget_used"]) <= 1
    assert words[-1].startswith("The search tried")
    assert "The best mix at each budget" in (optimised / "report.html").read_text()


@pytest.mark.system
def test_optimise_with_nothing_to_size_stops_with_one_line(tmp_path: Path) -> None:
    """A baseline alone has no intervention: exit 2 before any simulation, one line, no folder."""
    r = decide("optimise", "--budget", "1500000", "--out", str(tmp_path / "o"), "scenario=baseline", *QUICK)
    assert r.returncode == 2 and "nothing to size" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.system
def test_a_programme_the_search_cannot_beat_is_what_to_fund(tmp_path: Path) -> None:
    """West Norfolk's plan alone (the reference is the programme): the search starts from the plan's own sizes, and
    the answer is to fund the plan, never a mix that does worse on the same fresh seeds."""
    out = tmp_path / "o"
    r = decide("optimise", "--budget", "2000000", "--budgets", "2000000", "--trials", "4", "--replications", "2",
               "--oos-replications", "3", "--polish", "0", "--top", "2", "--factor", "2", "--sets", "0",
               "--out", str(out), "scenario=west_norfolk_local_plan", *QUICK)
    assert r.returncode == 0, r.stderr
    check = json.loads((out / "optimise.json").read_text())["check"]
    plan, = check["programmes"]
    assert plan["fits"] and check["seed_programme"] == "west_norfolk_local_plan"
    assert check["mix_mean"] <= plan["mean"] and check["recommend"] == "programme", check
    assert r.stdout.startswith("Within £2,000,000, fund west norfolk local plan as it is")


@pytest.mark.system
def test_killed_optimisation_resumes_losing_no_finished_candidate(tmp_path: Path, optimised: Path) -> None:
    """Killed during the search (Optuna's trials are told the recorded results again, so it asks the same mixes)
    and again during the re-runs of the leading candidates: the reruns simulate only what was not finished,
    and the frontier and the recommended mix equal an uninterrupted run's."""
    out = tmp_path / "k"
    first = killed(OPTIMISE, out, lambda ids: sum(x.startswith("mix[0+2]") for x in ids) >= 4)
    assert not any(x.startswith("mix[0+6]") for x in record_ids(out)), "not killed during the search"
    second = killed(OPTIMISE, out, lambda ids: any(x.startswith("mix[0+6]") for x in ids))
    assert not any(x.startswith("mix@fresh") for x in record_ids(out)), "not killed during the re-runs"
    assert_resumed(OPTIMISE, out, [first, second], optimised)
    same_files(out, optimised, ("frontier.csv", "recommended.yaml", "optimise.json"))


# ----------------------------------------------------------------------------- Ray
@RAY
@pytest.mark.system
def test_psa_on_a_ray_cluster_matches_local(tmp_path: Path, ray_cluster: str, placebo_psa: Path) -> None:
    """The same PSA through a real local Ray cluster by address gives byte-identical tables."""
    out = tmp_path / "r"
    r = subprocess.run([sys.executable, "-m", "sim.interfaces.decide", "psa", "--samples", "8",
                        "--base-replications", "3", "--ray-address", ray_cluster, "--out", str(out), *PLACEBO],
                       capture_output=True, text=True, timeout=300,
                       env={**RAY_ENV, "PYTHONPATH": str(CONFIG_DIR.parent)})
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("psa.csv", "uncertainty.csv", "ceac.csv", "evppi.csv"):
        assert (out / name).read_bytes() == (placebo_psa / name).read_bytes(), name


@pytest.mark.unit
def test_a_shared_range_holds_a_number_that_is_zero_in_one_option() -> None:
    """Growth is shared across posts; in the baseline some posts have none (structural), in the system plan they
    grow: every sampled value is finite and the baseline's zeros stay zero."""
    from sim.analysis.psa import Study, unit_design

    st = Study.build(["scenario=baseline,norfolk_waveney_system"], Ranges.load(), CONFIG_DIR)
    u = unit_design(8, len(varied(st.params)), 1)
    for row in u:
        pt = st.point(row)
        assert all(np.isfinite(x) for vals in pt.values() for x in vals.values())
        key = "region.workforce.groups.community_mh.posts.registered_nurse.growth_per_year"
        assert key not in pt["baseline"] and pt["norfolk_waveney_system"][key] > 0


# ----------------------------------------------------------------------------- the comparison report
@pytest.mark.system
def test_the_comparison_report_gains_the_decision_when_decide_folders_are_inside(
        tmp_path: Path, norfolk_psa: Path, toy_sensitivity: Path, optimised: Path) -> None:
    """A run folder's report.html says nothing of decisions until pathways-decide folders sit in it; then it
    shows each: a plain-words paragraph per option, both intervals, the acceptability curves and EVPI, the
    tornado and Sobol bars, the frontier; every figure embedded."""
    import re

    from sim.outputs.report import build_report

    run = tmp_path / "run"
    r = subprocess.run([str(Path(sys.executable).parent / "pathways"), *QUICK, "experiment.replications=1",
                        f"hydra.run.dir={run}"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(CONFIG_DIR.parent)})
    assert r.returncode == 0, r.stderr[-2000:]
    before = build_report(run)
    assert "No pathways-decide results here" in before
    for name, folder in (("psa", norfolk_psa), ("sensitivity", toy_sensitivity), ("optimise", optimised)):
        shutil.copytree(folder, run / f"decide-{name}")
    html = build_report(run)
    part = html[html.index('id="decision"'):]
    part = part[: part.index("</section>")]
    for title in ("pathways-decide psa", "pathways-decide sensitivity", "pathways-decide optimise",
                  "Each option in plain words", "Effects with both kinds of interval",
                  "Probability that each option is the best buy", "EVPI", "Which evidence is worth most (EVPPI)",
                  "What the answer turns on",
                  "The best mix at each budget", "simulation-only 95% CI", "within the budget every time",
                  "Morris mu* (95% CI)", "Effect against the reference"):
        assert title in part, title
    assert re.search(r"west norfolk local plan, against baseline: about [\d,.]+ (more|fewer) residents in work", part)
    # CEAC with EVPI, tornado, Sobol bars, frontier
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', part)) == 4


@pytest.mark.unit
def test_what_the_sobol_emulator_leaves_out_is_what_changed_nothing_exactly() -> None:
    """A parameter leaves an output's emulator (indices of 0) only when it moved it by exactly nothing at every Morris
    step; a mu* above 0, or any given-data index (never exactly 0), keeps it in."""
    from sim.analysis.psa import unmoved_by

    rows = [("a", "jobs", "morris", "mu_star", 0.0, 0.0, 0.0, 1), ("b", "jobs", "morris", "mu_star", 0.3, 0.1, 0.5, 1),
            ("a", "cost", "morris", "mu_star", 2.0, 1.0, 3.0, 1), ("c", "jobs", "rbd-fast", "S1", 0.0, -0.1, 0.1, 0)]
    assert unmoved_by(rows) == {("a", "jobs")}


@pytest.mark.unit
def test_the_sobol_chart_leaves_out_a_parameter_that_changed_nothing() -> None:
    """Its indices are exactly 0 (left out of the emulator): the words count it, the chart has no row for it; one not
    estimated keeps its row, with the words in place of its bar."""
    from sim.outputs.decide_report import _sobol_bars

    def row(p: str, index: str, value: float, low: float, high: float, estimated: str = "1") -> dict:
        return {"parameter": p, "label": p.upper(), "kpi": "net_sustained_12m:x", "method": "sobol", "index": index,
                "value": str(value), "ci_low": str(low), "ci_high": str(high), "estimated": estimated}

    rows = [row("moved", i, 0.6, 0.5, 0.7) for i in ("S1", "ST")] + \
        [row("unread", i, 0.0, 0.0, 0.0) for i in ("S1", "ST")] + \
        [row("vague", i, 0.1, -0.2, 0.4, "0") for i in ("S1", "ST")]
    fig = _sobol_bars(rows, "baseline")
    assert fig is not None
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["MOVED", "VAGUE"]
    assert _sobol_bars([row("unread", i, 0.0, 0.0, 0.0) for i in ("S1", "ST")], "baseline") is None
