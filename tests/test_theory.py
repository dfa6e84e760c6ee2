"""The model against queueing theory: Erlang C (M/M/c) and Little's law (`sim.experiment.verify`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_params, run_cli

from sim.experiment.verify import erlang_c, verify_littles_law, verify_mmc


# ----------------------------------------------------------------------------- the formula itself
@pytest.mark.parametrize(("lam", "mu"), [(0.5, 1.0), (0.9, 1.0), (3.0, 4.0), (0.2, 0.25)])
@pytest.mark.unit
def test_erlang_c_mm1(lam: float, mu: float) -> None:
    """M/M/1: P(wait) = rho, Wq = rho / (mu - lam), L = rho / (1 - rho) (textbook closed forms)."""
    rho = lam / mu
    th = erlang_c(lam, mu, 1)
    assert th["utilisation"] == pytest.approx(rho, rel=1e-12)
    assert th["p_wait"] == pytest.approx(rho, rel=1e-12)
    assert th["mean_wait_in_queue"] == pytest.approx(rho / (mu - lam), rel=1e-12)
    assert th["mean_in_system"] == pytest.approx(rho / (1 - rho), rel=1e-12)


@pytest.mark.parametrize(("lam", "mu"), [(1.0, 1.0), (0.9, 0.5), (3.0, 2.0)])
@pytest.mark.unit
def test_erlang_c_mm2(lam: float, mu: float) -> None:
    """M/M/2: P(wait) = 2 rho^2 / (1 + rho), Wq = rho^2 / (mu (1 - rho^2)), L = 2 rho / (1 - rho^2)."""
    rho = lam / (2 * mu)
    th = erlang_c(lam, mu, 2)
    assert th["p_wait"] == pytest.approx(2 * rho**2 / (1 + rho), rel=1e-12)
    assert th["mean_wait_in_queue"] == pytest.approx(rho**2 / (mu * (1 - rho**2)), rel=1e-12)
    assert th["mean_in_system"] == pytest.approx(2 * rho / (1 - rho**2), rel=1e-12)


@pytest.mark.parametrize(("a", "c"), [(8.0, 10), (3.6, 4), (9.5, 10), (45.0, 50)])
@pytest.mark.unit
def test_erlang_c_matches_erlang_b_recursion(a: float, c: int) -> None:
    """P(wait) equals C = B / (1 - rho (1 - B)) with B from the Erlang B recursion, an independent algorithm.

    Also the tabulated value for a = 8 Erlangs on 10 servers, C = 0.4092.
    """
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    th = erlang_c(a * 0.5, 0.5, c)  # lam / mu = a
    assert th["p_wait"] == pytest.approx(b / (1 - rho * (1 - b)), rel=1e-10)
    assert th["mean_wait_in_queue"] == pytest.approx(th["p_wait"] / (c * 0.5 - a * 0.5), rel=1e-12)
    if (a, c) == (8.0, 10):
        assert th["p_wait"] == pytest.approx(0.4092, abs=5e-5)


@pytest.mark.parametrize(("lam", "mu", "c"), [(1.0, 1.0, 1), (2.5, 1.0, 2), (4.0, 1.0, 3)])
@pytest.mark.unit
def test_erlang_c_unstable(lam: float, mu: float, c: int) -> None:
    """Utilisation >= 1 has no steady state: refused, not answered with a negative wait."""
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(lam, mu, c)


# ----------------------------------------------------------------------------- the model's stage code vs Erlang C
# Sizes measured: each case runs in ~1.5-3.5 s on one core.
MMC_CASES = [
    # lam, mu, c, replications, customers
    (0.5, 1.0, 1, 10, 20000),   # M/M/1, rho 0.5
    (2.0, 1.0, 3, 10, 20000),   # rho 0.667
    (0.9, 0.25, 4, 12, 20000),  # rho 0.9
    (9.5, 1.0, 10, 20, 20000),  # rho 0.95, many servers
]


def by_erlang_b(lam: float, mu: float, c: int) -> dict[str, float]:
    """M/M/c theory by another algorithm than `erlang_c`'s sum: the Erlang B recursion B(k) = a B(k-1) / (k + a
    B(k-1)), then C = B / (1 - rho (1 - B)), Wq = C / (c mu - lam), L = lam (Wq + 1 / mu) (Little's law)."""
    a, b = lam / mu, 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    p_wait = b / (1 - a / c * (1 - b))
    wq = p_wait / (c * mu - lam)
    return {"mean_wait_in_queue": wq, "mean_in_system": lam * (wq + 1 / mu)}


@pytest.mark.parametrize(("lam", "mu", "c", "reps", "customers"), MMC_CASES,
                         ids=[f"lam{a}-mu{b}-c{c}" for a, b, c, *_ in MMC_CASES])
@pytest.mark.statistical
def test_verify_mmc(lam: float, mu: float, c: int, reps: int, customers: int) -> None:
    """Simulated Wq and L of `Capacity` + `use` + `arrivals` agree with Erlang C (theory inside the 99% CI).

    To make "ok" mean something, the check must also have power: each 99% CI must be narrow
    enough (half width <= 30% of the theoretical value) to reject a 30% error, and must
    exclude the theory of the same queue with one server more, a plausible off-by-one.
    """
    r = verify_mmc(lam, mu, c, replications=reps, seed=1, customers=customers)
    th = by_erlang_b(lam, mu, c)  # the theory computed here, not by the code under test
    for k in th:
        assert r["theory"][k] == pytest.approx(th[k], rel=1e-10), k
    assert r["ok"] is True, json.dumps(r, indent=1)
    wrong = by_erlang_b(lam, mu, c + 1)
    for k in ("mean_wait_in_queue", "mean_in_system"):
        lo, hi = r["simulated"][k]["ci99"]  # type: ignore[index]
        assert lo <= th[k] <= hi
        assert (hi - lo) / 2 <= 0.3 * th[k]
        assert not lo <= wrong[k] <= hi


@pytest.mark.system
def test_verify_mmc_cli(tmp_path: Path) -> None:
    """`pathways-verify mmc` exits 0 and prints JSON with the simulated values, the theory and ok."""
    p = run_cli("mmc", "--arrival-rate", "0.5", "--service-rate", "1", "--servers", "1",
                "--replications", "10", "--customers", "5000", tool="pathways-verify", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {"simulated", "theory", "ok"} <= set(out)
    assert out["ok"] is True
    assert out["theory"]["mean_wait_in_queue"] == pytest.approx(1.0)  # rho / (mu - lam) = 0.5 / 0.5
    assert set(out["simulated"]) == {"mean_wait_in_queue", "mean_in_system"}
    assert out["replications"] == 10 and out["customers_per_replication"] == 5000


@pytest.mark.parametrize(("lam", "mu", "c"), [("2", "1", "2"), ("3.5", "1", "3")], ids=["rho=1", "rho>1"])
@pytest.mark.system
def test_verify_mmc_cli_unstable(tmp_path: Path, lam: str, mu: str, c: str) -> None:
    """An unstable queue is refused with exit 2 and a message stating the allowed range, not a traceback."""
    p = run_cli("mmc", "--arrival-rate", lam, "--service-rate", mu, "--servers", c, "--replications", "10",
                tool="pathways-verify", cwd=tmp_path)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert "unstable" in p.stderr
    assert "allowed: arrival rate < servers x service rate" in p.stderr
    assert p.stdout == ""


# ----------------------------------------------------------------------------- Little's law on the full pathway
MAIN_STAGES = ("engagement", "job_search", "recruitment")


@pytest.mark.statistical
def test_littles_law_full_pathway() -> None:
    """L (daily snapshots) = lambda (entries per day) x W (each stay timed from the resident's own entry)
    for every stage before the first year, in five years of a steady state with an intervention on.

    The three come from separate counts. A window of five years keeps the stays cut at its edges
    (courses of up to two years) small against it; a programme that starts at day 0 and ramps up
    for years would not be a steady state, so the check uses childcare places (a step at day 0)."""
    r = verify_littles_law(make_params("intervention=[childcare]", "experiment.record_every_days=5"), 4)
    assert r["ok"] is True, json.dumps(r, indent=1)
    stages = r["stages"]
    for s in MAIN_STAGES:
        st = stages[s]  # type: ignore[index]
        assert st["ok"] is True
        # the equality is not the trivial 0 = 0: people do spend time in the main stages
        assert st["L"] > 0 and st["lambda_W"] > 0
        assert st["L"] == pytest.approx(st["lambda_W"], rel=0.03)  # the check's own tolerance


@pytest.mark.statistical
def test_littles_law_holds_while_a_stage_fills() -> None:
    """The finite-window form holds whatever the transient: after the quick experiment's half-year warm-up the
    training stage (courses of up to two years) is still filling, and L = lambda W there as well. (Before,
    W timed each stay begun in the window to its end in the follow-up, and lambda W overshot L by a quarter
    there: 47 against 37 on ten replications; the check passed only when its interval was wide.)"""
    r = verify_littles_law(make_params("experiment=quick", "intervention=[childcare]",
                                       "experiment.record_every_days=5"), 3)
    bad = {s: (v["L"], v["lambda_W"]) for s, v in r["stages"].items() if not v["ok"]}  # type: ignore[union-attr]
    assert r["ok"] is True, f"L vs lambda W per failing stage: {bad}"
    training = r["stages"]["training"]  # type: ignore[index]
    assert training["L"] > 10 and training["L"] == pytest.approx(training["lambda_W"], rel=0.03)
