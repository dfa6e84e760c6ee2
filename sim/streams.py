"""Random-number streams: one numpy SeedSequence tree, one named stream per source of randomness.

Replication `r` of root seed `s` is the SeedSequence child with spawn key `(r,)` (the same
child `SeedSequence(s).spawn(r + 1)[r]` gives). Each source of randomness (a channel's
arrivals, a stage's durations, a stage's decisions, ...) gets the grandchild keyed by a
stable hash of its name. Streams are therefore independent of each other, identical across
scenarios that share a seed (common random numbers), and unaffected by adding or removing
other sources. No global RNG is used anywhere.

Draws are block-buffered: a stream fills a Python list with a numpy block and hands out
plain floats, so the model never pays numpy's per-call overhead on a single scalar.
"""

from __future__ import annotations

import hashlib
from functools import partial
from itertools import chain
from typing import Callable, Iterator

import numpy as np

from .distributions import Dist, draw

BLOCK = 2048


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def seed_sequence(seed: int, replication: int, name: str) -> np.random.SeedSequence:
    """The SeedSequence of stream `name` in replication `replication` of root seed `seed`."""
    return np.random.SeedSequence(seed, spawn_key=(replication, _name_key(name)))


class Sampler(partial):
    """Hands out samples of one distribution, drawn from its own generator in blocks.

    A call is `next` on a chain of blocks, each handed out from its end: C code, with no Python
    frame per draw (the model makes several draws per event).
    """

    __slots__ = ()

    def __new__(cls, rng: np.random.Generator, fill: Callable[[np.random.Generator, int], np.ndarray]) -> Sampler:
        def blocks() -> Iterator[Iterator[float]]:
            while True:
                yield reversed(fill(rng, BLOCK).tolist())

        return super().__new__(cls, next, chain.from_iterable(blocks()))


class Streams:
    """The named streams of one replication."""

    def __init__(self, seed: int, replication: int):
        self.seed = seed
        self.replication = replication
        self._names: set[str] = set()

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for source `name`; each name may be taken once per replication."""
        if name in self._names:
            raise ValueError(f"random stream {name!r} requested twice")
        self._names.add(name)
        return np.random.Generator(np.random.PCG64(seed_sequence(self.seed, self.replication, name)))

    def uniform(self, name: str) -> Sampler:
        """Uniform(0, 1) draws for decisions (Bernoulli trials, categorical choices)."""
        return Sampler(self.generator(name), lambda g, n: g.random(n))

    def rows(self, name: str, k: int) -> Sampler:
        """Rows of `k` uniforms (one row per draw): all the attributes of one resident at once."""
        return Sampler(self.generator(name), lambda g, n: g.random((n, k)))

    def exponential(self, name: str) -> Sampler:
        """Exponential(1) draws, scaled by the caller (arrival gaps with time-varying rates)."""
        return Sampler(self.generator(name), lambda g, n: g.standard_exponential(n))

    def sampler(self, name: str, dist: Dist) -> Sampler:
        """Draws of `dist` (durations, patience)."""
        return Sampler(self.generator(name), lambda g, n: draw(dist, g, n))
