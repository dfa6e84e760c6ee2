"""Calibration (sim/analysis/calibrate.py, `pathways-calibrate`): checks that can fail.

A toy model whose true parameters are known runs through the same fitting code as the simulation: its posterior
covers the truth and narrows as the targets' tolerance shrinks; a parameter no target depends on keeps its prior
(a Kolmogorov-Smirnov bound); the command refuses bad input in one line before any simulation, and a tiny real run
writes its folder and, killed and rerun, resumes to the same result.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import run_cli

from sim.analysis import calibrate as cal
from sim.interfaces import calibrate as cli
from sim.params.targets import TARGETS_FILE

TRUTH = np.array([0.3, 0.7, 0.5, 0.5])  # the toy's true quantiles; the last two move no target


def toy(u: np.ndarray, seed: int) -> np.ndarray:
    """Three targets of the first two coordinates (non-linear, one an interaction), with noise (sd 0.01)."""
    y = np.column_stack([0.2 + 0.6 * u[:, 0], 0.1 + 0.5 * u[:, 1] + 0.2 * u[:, 0] ** 2, 0.4 * u[:, 0] * u[:, 1]])
    return y + np.random.default_rng(seed).normal(0.0, 0.01, y.shape)


def toy_simulate(name: str, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = toy(u, sum(map(ord, name)))
    return y, np.full(y.shape, 0.01 ** 2)


FIGURE = toy(TRUTH[None], 5)[0]
DESIGN = cal.Design(screening=64, wave=48, waves=1, final=128, generations=6, draws=256, replications=1,
                    candidates=4000, seed=1)


def _fit(tolerance: float, calibrated: list[int] | None = None) -> cal.Fit:
    observed = cal.Observed((0, 1, 2), FIGURE, np.full(3, tolerance))
    return cal.history_match(toy_simulate, len(TRUTH), observed, DESIGN, calibrated)


# ----------------------------------------------------------------------------- statistics, on their own
@pytest.mark.unit
def test_systematic_resampling_gives_each_point_its_share_within_one() -> None:
    """Systematic resampling draws point i floor(n w_i) or ceil(n w_i) times (its defining property)."""
    w = np.random.default_rng(3).dirichlet(np.ones(40))
    counts = np.bincount(cal.systematic_resample(w, 1000, np.random.default_rng(4)), minlength=40)
    assert counts.sum() == 1000
    assert np.all(np.abs(counts - 1000 * w) < 1)


@pytest.mark.unit
def test_the_verdict_widens_the_interval_by_the_tolerance() -> None:
    assert cal.verdict(0.5, 0.1, 0.55, 0.7) == "within"  # 0.5 >= 0.55 - 0.1
    assert cal.verdict(0.4, 0.1, 0.55, 0.7) == "outside"
    assert cal.verdict(0.79, 0.1, 0.55, 0.7) == "within" and cal.verdict(0.85, 0.1, 0.55, 0.7) == "outside"
    assert cal.verdict(0.81, 0.1, float("nan"), float("nan")) == "outside"


@pytest.mark.unit
def test_screening_finds_the_parameters_a_target_moves_and_no_other() -> None:
    """Least squares on 256 noisy points: the two coordinates with effects are informed, the two without are not."""
    u = np.random.default_rng(8).random((256, 4))
    y = toy(u, 9)
    s = cal.screen(u, y, np.full(3, 0.05))
    assert list(s.informed) == [True, True, False, False]
    assert sorted(s.calibrated) == [0, 1]


@pytest.mark.unit
def test_abc_weights_prefer_the_point_nearer_the_figures_and_ignore_unmeasured_points() -> None:
    observed = cal.Observed((0, 1), np.array([0.5, 0.5]), np.array([0.1, 0.1]))
    y = np.array([[0.5, 0.5], [0.6, 0.5], [np.nan, 0.5]])
    w = cal.abc_weights(y, observed)
    assert w[0] > w[1] > 0 and w[2] == 0 and np.isclose(w.sum(), 1)
    # the ratio is the Gaussian kernel's with the tolerance as its standard deviation: exp(-z^2 / 2) at z = 1
    assert np.isclose(w[1] / w[0], np.exp(-0.5))


# ----------------------------------------------------------------------------- the toy through the fit
@pytest.mark.statistical
def test_the_toy_posterior_covers_the_truth_and_narrows_as_the_tolerance_shrinks() -> None:
    wide, narrow = _fit(0.1), _fit(0.03)
    for fit in (wide, narrow):
        assert sorted(fit.calibrated) == [0, 1], "the screening picks the two parameters the targets depend on"
        post = fit.posterior
        assert post.shape == (DESIGN.draws, 2) and np.all((post > 0) & (post < 1))
        lo, hi = np.percentile(post, [2.5, 97.5], axis=0)
        truth = TRUTH[fit.calibrated]
        assert np.all((lo <= truth) & (truth <= hi)), (lo, hi, truth)
        assert fit.ess >= 20
    width = {id(f): np.ptp(np.percentile(f.posterior, [2.5, 97.5], axis=0), axis=0) for f in (wide, narrow)}
    order = [wide.calibrated.index(j) for j in (0, 1)], [narrow.calibrated.index(j) for j in (0, 1)]
    assert np.all(width[id(narrow)][order[1]] < 0.75 * width[id(wide)][order[0]])
    assert np.all(width[id(wide)] < 0.95 * 0.95), "both narrower than the prior's central 95%"


@pytest.mark.statistical
def test_a_parameter_no_target_depends_on_keeps_its_prior() -> None:
    """Forced into the fit, coordinate 2 (no target depends on it) keeps a uniform posterior: the KS distance of its
    draws from U(0, 1) stays below the 1% critical value for a sample of the final weights' effective size (the
    draws repeat points, so fewer than their number are independent)."""
    fit = _fit(0.05, calibrated=[0, 1, 2])
    x = fit.posterior[:, 2]
    d = stats.kstest(x, "uniform").statistic
    assert d < 1.628 / np.sqrt(fit.ess), (d, fit.ess)
    moved = fit.posterior[:, 0]
    assert stats.kstest(moved, "uniform").statistic > 1.628 / np.sqrt(fit.ess), "the test can see a moved parameter"


@pytest.mark.statistical
def test_the_final_wave_adds_generations_until_the_posterior_settles_and_says_so_when_it_cannot() -> None:
    """Generations of 24 draws: two leave an effective sample size far below SETTLED_ESS, so with at most two the
    verdict is `not settled` and says why; allowed twelve, the fit goes on past two and stops at the first
    generation where the rule holds, its posterior still covering the truth."""
    observed = cal.Observed((0, 1, 2), FIGURE, np.full(3, 0.05))
    small = dataclasses.replace(DESIGN, final=24, generations=2)
    short = cal.history_match(toy_simulate, len(TRUTH), observed, small)
    state = cal.settling(short, observed)
    assert state.generations == 2 and not state.settled and state.ess < cal.SETTLED_ESS
    assert state.verdict.startswith("not settled after 2 generations: effective sample size")
    long = cal.history_match(toy_simulate, len(TRUTH), observed, dataclasses.replace(small, generations=12))
    state = cal.settling(long, observed)
    assert state.settled and state.verdict == "settled" and 2 < state.generations < 12
    assert state.ess >= cal.SETTLED_ESS and np.all(state.changes <= cal.SETTLED_CHANGE)
    rows = cal.diagnostics(long, observed, ["a", "b"], 1)
    pooled_ess = [r[8] for r in rows if r[1] == "final"]
    assert len(pooled_ess) == state.generations and pooled_ess[-1] == pytest.approx(state.ess)
    assert not cal.settling(dataclasses.replace(long, waves=long.waves[:-1]), observed).settled, "one fewer: not yet"
    lo, hi = np.percentile(long.posterior, [2.5, 97.5], axis=0)
    assert np.all((lo <= TRUTH[long.calibrated]) & (TRUTH[long.calibrated] <= hi))


@pytest.mark.unit
def test_generations_that_disagree_are_not_settled_however_large_their_sample() -> None:
    """Two generations of 500 equally good points each (ESS 1,000), the first on [0, 0.5], the second on [0.5, 1]:
    pooling the second moves the 97.5% point from 0.4875 to 0.975 (the median by a quarter), so the fit has not
    settled; two generations from the same points have."""
    observed = cal.Observed((0,), np.array([0.5]), np.array([0.1]))
    half = np.linspace(0.0005, 0.4995, 500)[:, None]

    def fit(first: np.ndarray, second: np.ndarray) -> cal.Fit:
        gens = [cal.Wave(f"final{g}", "final", u, np.full((500, 1), 0.5), np.zeros((500, 1)), ratio=np.ones(500))
                for g, u in ((1, first), (2, second))]
        return cal.Fit(gens, None, [0])

    apart = cal.settling(fit(half, half + 0.5), observed)
    assert apart.ess == pytest.approx(1000) and apart.changes[0] == pytest.approx(0.4875, abs=0.002)
    assert not apart.settled and "moved a quantile by 0.48" in apart.verdict
    assert cal.settling(fit(half, half), observed).settled


# ----------------------------------------------------------------------------- the command's input checks
def _exit(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    err = capsys.readouterr().err.strip()
    return int(e.value.code or 0), err


BAD = [
    (["--targets", "{bad}"], "measure = 'no_such_measure'"),
    (["region=southend"], "has no targets"),
    (["experiment.horizon_days=-5"], "horizon_days"),
    (["no_such_key=1"], "no_such_key"),
    (["scenario=west_norfolk_local_plan"], "interventions"),
    (["--draws", "10"], "--draws = 10"),
]


@pytest.mark.model
@pytest.mark.parametrize(("argv", "words"), BAD, ids=[w for _, w in BAD])
def test_bad_input_exits_2_with_one_line_before_any_simulation(argv: list[str], words: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    raw = yaml.safe_load(TARGETS_FILE.read_text())
    raw["targets"][0]["measure"] = "no_such_measure"
    bad = tmp_path / "targets.yaml"
    bad.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp_path / "out"
    code, err = _exit([*(a.format(bad=bad) for a in argv), "--out", str(out)], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and words in err, (argv, err)
    assert not out.exists(), "nothing is written before the input is checked"


# ----------------------------------------------------------------------------- a tiny real run, killed and resumed
TINY = ["experiment.horizon_days=400", "experiment.warmup_days=60", "--screening", "88", "--wave", "8",
        "--waves", "0", "--final", "18", "--generations", "2", "--draws", "128", "--replications", "1",
        "--candidates", "1000"]
OUTPUTS = ("posterior.csv", "parameters.csv", "targets.csv", "diagnostics.csv", "screening.csv")


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.system
def test_a_tiny_calibration_writes_its_folder_and_resumes_after_a_kill_to_the_same_result(tmp_path: Path) -> None:
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    r = run_cli(*TINY, "--workers", "1", "--out", str(whole), tool="pathways-calibrate", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    info = json.loads((whole / "calibration.json").read_text())
    tasks = info["simulations"]  # one replication a point: the screening's 88 and the final wave's distinct draws
    assert info["complete"] is True and info["region"] == "norfolk_waveney" and 88 + 10 <= tasks <= 88 + 36
    # two generations of 18 draws cannot reach an ESS of 100 (Kish's ESS is at most the number of points): the
    # folder says the posterior has not settled, and why
    assert info["generations"] == 2 and info["settled"] is False and info["ess"] < cal.SETTLED_ESS
    assert info["settling"].startswith("not settled after 2 generations: effective sample size")
    assert f"**{info['settling']}**" in (whole / "report.md").read_text()
    with (whole / "posterior.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 128 and list(rows[0])[1:] == info["calibrated_parameters"]
    assert all(0 < float(v) < 1 for r_ in rows for k, v in r_.items() if k != "draw")
    with (whole / "targets.csv").open() as f:
        roles = {r_["role"] for r_ in csv.DictReader(f)}
    assert roles == {"calibration", "validation"}
    assert (whole / "report.md").exists() and (whole / "figures" / "parameters.png").exists()

    exe = Path(sys.executable).parent / "pathways-calibrate"
    proc = subprocess.Popen([str(exe), *TINY, "--workers", "2", "--out", str(killed)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while _lines(killed / "records.jsonl") < 40 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _lines(killed / "records.jsonl")
    assert 40 <= before < tasks and not (killed / "calibration.json").exists()
    r = run_cli(*TINY, "--workers", "2", "--out", str(killed), tool="pathways-calibrate", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _lines(killed / "records.jsonl") == tasks, "each task recorded once: none finished was run again"
    for name in OUTPUTS:
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name
    again = run_cli(*TINY, "--out", str(killed), tool="pathways-calibrate", cwd=tmp_path)
    assert again.returncode == 0 and "complete" in again.stdout
