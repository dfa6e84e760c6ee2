"""Sweeps on other launchers give the same numbers as a local sweep: Ray (a real local cluster), submitit, joblib."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import BIN, RAY, RAY_ENV, extra, run_cli

pytestmark = pytest.mark.system
SUBMITIT = "hydra_plugins.hydra_submitit_launcher"  # the cluster extra's SLURM launcher

SWEEP = ("-m", "experiment=quick", "experiment.progress=false", "experiment.replications=2",
         "intervention=[],[childcare]", "hydra.sweep.subdir=${hydra.job.num}")


def _tables(sweep: Path) -> dict[str, bytes]:
    return {f"{job}/{name}": (sweep / job / name).read_bytes()
            for job in ("0", "1") for name in ("kpis.csv", "timeseries.csv", "funnel.csv")}


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The reference: the same two-job sweep on Hydra's basic (serial, in-process) launcher."""
    sweep = tmp_path_factory.mktemp("local") / "s"
    r = run_cli(*SWEEP, f"hydra.sweep.dir={sweep}")
    assert r.returncode == 0, r.stderr
    return _tables(sweep)


@RAY
def test_ray_cluster_sweep_matches_local(tmp_path: Path, ray_cluster: str, local_sweep: dict[str, bytes]) -> None:
    """A two-job sweep on a Ray cluster by address gives byte-identical tables to the local sweep."""
    sweep = tmp_path / "s"
    r = subprocess.run([str(BIN / "pathways"), *SWEEP, "hydra/launcher=ray_cluster",
                        f"hydra.launcher.ray.init.address={ray_cluster}", f"hydra.sweep.dir={sweep}"],
                       env=RAY_ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _tables(sweep) == local_sweep
    assert (sweep / "comparison.csv").exists() and (sweep / "report.html").exists()


@RAY
def test_ray_worker_failure_is_named_and_others_kept(tmp_path: Path, ray_cluster: str) -> None:
    """A job failing on a Ray worker is reported with its name and error; the other job's results stay."""
    sweep = tmp_path / "s"
    (sweep / "1" / "kpis.csv").mkdir(parents=True)  # job 1 cannot write its table
    r = subprocess.run([str(BIN / "pathways"), *SWEEP, "hydra/launcher=ray_cluster",
                        f"hydra.launcher.ray.init.address={ray_cluster}", f"hydra.sweep.dir={sweep}"],
                       env=RAY_ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "FAILED 1" in r.stderr and "IsADirectoryError" in r.stderr
    assert (sweep / "0" / "DONE").exists() and (sweep / "1" / "FAILED").exists()


def test_submitit_local_sweep_matches_local(tmp_path: Path, local_sweep: dict[str, bytes]) -> None:
    """The submitit launcher (the SLURM path) in its local mode gives the same tables."""
    extra(SUBMITIT, "cluster")
    sweep = tmp_path / "s"
    r = run_cli(*SWEEP, "hydra/launcher=submitit_local", f"hydra.sweep.dir={sweep}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _tables(sweep) == local_sweep


def test_joblib_parallel_sweep_matches_local(tmp_path: Path, local_sweep: dict[str, bytes]) -> None:
    """Jobs in parallel on local cores (joblib launcher) give the same tables."""
    sweep = tmp_path / "s"
    r = run_cli(*SWEEP, "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _tables(sweep) == local_sweep


def test_slurm_config_composes() -> None:
    """The documented SLURM launcher config composes (it cannot run without a SLURM cluster)."""
    extra(SUBMITIT, "cluster")
    r = run_cli("hydra/launcher=slurm", "--cfg", "hydra", "-p", "hydra.launcher")
    assert r.returncode == 0, r.stderr
    assert "submitit" in r.stdout and "partition" in r.stdout
