"""Reproducibility: same seed same bytes, serial equals parallel, seeds matter, common random numbers."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import make_params, run_cli
from omegaconf import OmegaConf

from sim.model import RunOutput, simulate
from sim.params.paths import CONFIG_DIR

QUICK = ("experiment=quick", "experiment.progress=false")
FILES = ("kpis.csv", "timeseries.csv", "funnel.csv")
CHANNELS: tuple[str, ...] = tuple(OmegaConf.load(CONFIG_DIR / "region" / "norfolk_waveney.yaml").channels.keys())
NO_REFERRALS: tuple[str, ...] = tuple(f"region.channels.{c}.referrals_per_year=0" for c in CHANNELS)
VACANCY_KPIS = ("vacancy_days", "vacancies_mean", "vacancy_rate", "vacancies_end", "establishment_end",
                "leavers", "movers", "retirements", "bau_hires", "promotions")

CliRun = Callable[..., Path]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """Run `pathways experiment=quick` into a fresh folder per (tag, overrides), once per module and worker."""
    cache: dict[tuple[str, ...], Path] = {}

    def run(tag: str, *overrides: str) -> Path:
        key = (tag, *overrides)
        if key not in cache:
            base = tmp_path_factory.mktemp(f"cli-{tag}")
            outdir = base / "x"
            proc = run_cli(*QUICK, *overrides, f"hydra.run.dir={outdir}", cwd=base)
            assert proc.returncode == 0, proc.stderr
            assert (outdir / "DONE").exists()
            cache[key] = outdir
        return cache[key]

    return run


def same(a: float, b: float) -> bool:
    """Exact equality, NaN equal to NaN (an undefined ratio in both runs)."""
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def rows_without(out: RunOutput, kpi: str) -> list[tuple[str, str, float]]:
    """The KPI rows of a run, less those of one KPI."""
    return [row for row in out.kpis if row[0] != kpi]


# ----------------------------------------------------------------------------- the command
@pytest.mark.system
def test_same_seed_same_bytes(cli_run: CliRun) -> None:
    """Two runs with the same seed into different folders write byte-identical kpis, timeseries and funnel."""
    a, b = cli_run("first"), cli_run("second")
    assert a != b
    for name in FILES:
        data = (a / name).read_bytes()
        assert len(data.splitlines()) > 10, name  # a real table, not an empty file
        assert data == (b / name).read_bytes(), name


@pytest.mark.system
def test_serial_equals_parallel(cli_run: CliRun) -> None:
    """Replications on two worker processes give byte-identical tables to a serial run."""
    serial, parallel = cli_run("first"), cli_run("parallel", "experiment.workers=2")
    for name in FILES:
        assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name


@pytest.mark.system
def test_different_seeds_differ(cli_run: CliRun) -> None:
    """Root seeds 1 and 2 give different kpis (the seed reaches the random streams)."""
    one, two = cli_run("seed1", "experiment.seed=1"), cli_run("seed2", "experiment.seed=2")
    k1, k2 = (one / "kpis.csv").read_text(), (two / "kpis.csv").read_text()
    assert k1.splitlines()[0] == k2.splitlines()[0]  # same table layout
    assert len(k1.splitlines()) == len(k2.splitlines())
    assert k1 != k2


@pytest.mark.model
def test_replications_use_their_own_streams() -> None:
    """Within one seed, replications differ from each other, and each is reproducible in-process."""
    params = make_params(*QUICK)
    r0, r1, r0_again = simulate(params, 0), simulate(params, 1), simulate(params, 0)
    assert r0.kpis != r1.kpis
    assert r0.kpis == r0_again.kpis and r0.timeseries == r0_again.timeseries and r0.funnel == r0_again.funnel


# ----------------------------------------------------------------------------- common random numbers
@pytest.mark.parametrize(
    ("overrides", "charged_stage", "per_person"),
    [
        (("intervention=[childcare]", "intervention.childcare.places=0"), None, 0.0),  # adds 0 places, costs 0
        # scales interview_pass by 1 (no change) but charges 150 per candidate: a cost, nothing else
        (("intervention=[interview_coaching]", "intervention.interview_coaching.changes.0.value=1"),
         "recruitment", 150.0),
    ],
    ids=["childcare-0-places", "coaching-scale-1"],
)
@pytest.mark.model
def test_cost_only_intervention_changes_only_costs(overrides: tuple[str, ...], charged_stage: str | None,
                                                   per_person: float) -> None:
    """An intervention that changes nothing but a cost gives exactly the baseline's results, replication by
    replication."""
    # no warm-up and no follow-up: every entrant of the charged stage is a counted resident in the window
    window = (*QUICK, "experiment.warmup_days=0", "experiment.followup_days=0")
    base_p, option_p = make_params(*window), make_params(*window, *overrides)
    for r in range(3):
        base, option = simulate(base_p, r), simulate(option_p, r)
        b, o = rows_without(base, "programme_cost"), rows_without(option, "programme_cost")
        assert [(k, g) for k, g, _ in b] == [(k, g) for k, g, _ in o]
        differ = [(k, g, x, y) for (k, g, x), (_, _, y) in zip(b, o)
                  if not same(x, y) and not k.startswith("cost_per") and k != "programme_cost_per_year"]
        assert differ == [], differ[:5]
        assert base.timeseries == option.timeseries
        assert base.funnel == option.funnel
        assert base.conservation == option.conservation
        # the intervention is costed: per person entering the charged stage (whole run active), else 0
        entrants = next(f["entered"] for f in option.funnel if f["stage"] == charged_stage) if charged_stage else 0
        costs = {g: v for k, g, v in option.kpis if k == "programme_cost"}
        name = overrides[0].split("[")[1].rstrip("]")
        assert costs[f"intervention:{name}"] == pytest.approx(per_person * entrants, abs=1e-9)
        assert costs["all"] == pytest.approx(per_person * entrants, abs=1e-9)
        assert per_person == 0 or costs["all"] > 0


@pytest.mark.model
def test_programme_without_hires_leaves_workforce_untouched() -> None:
    """Referrals that never lead to a hire (shortlisting 0) leave the staff churn exactly as with no referrals."""
    idle_p, none_p = make_params(*QUICK, "pathway.recruitment.shortlisting=0"), make_params(*QUICK, *NO_REFERRALS)
    for r in range(2):
        idle, none = simulate(idle_p, r), simulate(none_p, r)
        assert idle.conservation["arrived"] > 0 and none.conservation["arrived"] == 0
        assert idle.timeseries == none.timeseries
        for k in VACANCY_KPIS:
            assert [row for row in idle.kpis if row[0] == k] == [row for row in none.kpis if row[0] == k], k


@pytest.mark.model
def test_an_earlier_run_stays_collectable_while_the_next_one_runs() -> None:
    """A run keeps nothing of an earlier run out of the collector's reach: its garbage can be freed while the
    next run simulates. (When each run froze what was alive at its start, an earlier run's garbage was frozen
    and kept: a worker grew by about 1.4 MB a simulation.) After six runs, nothing of them stays either."""
    import gc
    import weakref

    from sim.model import Model
    from sim.model.clock import Environment

    def alive() -> int:
        gc.collect()  # runs the finally blocks of journeys still under way (closing their generators)
        gc.collect()  # frees what those touched
        return sum(isinstance(o, Environment) for o in gc.get_objects())

    before = alive()  # other tests' environments that something still holds
    params = make_params("experiment=quick")
    first = Model(params, 0)
    first.run()
    gone = weakref.ref(first.env)
    del first
    model = Model(params, 1)
    freed: list[bool] = []

    def probe(env: Environment):  # given the environment, not closing over `model` (deleted below)
        yield env.timeout(30.0)
        gc.collect()  # runs the finally blocks of the earlier run's journeys still under way (closing them)
        gc.collect()  # frees what those touched
        freed.append(gone() is None)

    model.env.process(probe(model.env))
    model.run()
    assert freed == [True]
    for rep in range(2, 6):
        simulate(params, rep)
    del model
    assert alive() == before
