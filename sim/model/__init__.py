"""The SimPy model: no files, no Hydra. `simulate` builds the model of one replication, runs it to the horizon
and returns plain tidy rows (`RunOutput`); `sim.model.run` is the replication, the other modules its parts
(clock, capacity, the resident's pathway and draws, the workforce, costs)."""

from sim.model.run import Model, RunOutput, simulate

__all__ = ["Model", "RunOutput", "simulate"]
