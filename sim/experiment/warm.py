"""Compile the workforce's churn kernel (numba, `sim.model.churn`) once, at install time, into its on-disk cache:
one short replication of the default region with the real argument types. Without it the first run on a fresh
clone would compile in every worker process (about 8 CPU seconds each). `python -m sim.experiment.warm`."""

from __future__ import annotations

import time


def warm() -> float:
    """Run one short replication; returns the wall seconds it took (compiling or loading the cache)."""
    from sim.model import simulate
    from sim.params.compose import compose_config
    from sim.params.config import load

    started = time.perf_counter()
    params = load(compose_config(["experiment=quick", "experiment.horizon_days=30", "experiment.warmup_days=0",
                                  "experiment.followup_days=0"]))
    simulate(params, 0)
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"churn kernel ready ({warm():.1f} s)")
