"""Random-number streams: one numpy SeedSequence tree; each resident's own draws; a named stream per
source of randomness on the staffing side.

Replication `r` of root seed `s` is the SeedSequence child with spawn key `(r,)` (the same
child `SeedSequence(s).spawn(r + 1)[r]` gives). Each source of randomness gets the grandchild
keyed by a stable hash of its name, so streams are independent of each other, identical across
scenarios that share a seed, and unaffected by adding or removing other sources. No global RNG
is used anywhere.

Common random numbers per person (`Streams.residents`): the k-th resident referred by a channel
gets row k of that channel's draws, every number they may use on any path (attributes, every
duration, every decision, every retry, their first year), made whether they use it or not. The
row is named groups of named columns (one group per stage: `sim.model.draws`), and each column is
drawn from its own stream, keyed by (channel, group, column), in blocks of `ROWS` residents: a
resident's draw in a column depends only on (seed, replication, channel, arrival index, group,
column) and the column's distribution. Two scenarios that share a seed give the same person the
same draws; one that changes a column's distribution changes only that column; one that scales a
duration scales the person's own draw (the model multiplies it); adding, removing or reordering
columns moves no other column's draws.

Draws are block-buffered: a stream fills a numpy block and hands out plain floats (or rows), so
the model never pays numpy's per-call overhead on a single scalar.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from itertools import chain

import numpy as np

from sim.params.distributions import Dist, sampler

BLOCK = 2048
ROWS = 256  # residents per block of rows (about 0.2 MB of floats per channel with the default pathway)

Column = Dist | None  # a column of a resident's row: a distribution's draws, or uniforms (None)
Group = tuple[str, Mapping[str, Column]]  # a named group of named columns, each drawn from its own stream


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


class Rows(partial):
    """Hands out one row per call: the next resident's draws, every column of every group, in order.

    Block b holds residents b x ROWS to (b + 1) x ROWS - 1; in each, every column's `ROWS` values come
    from the column's own generator, `make("<group>.<column>")`. A row is an `array` of its own copy of
    its floats, one object (indexing gives a plain float; no Python float is made for a draw nobody
    reads), so a resident long on the pathway keeps only their row alive, not the block of `ROWS` rows.
    Generators are made at the first call (a channel nobody is referred by costs nothing).
    """

    __slots__ = ()

    def __new__(cls, make: Callable[[str], np.random.Generator], groups: Sequence[Group]) -> Rows:
        width = sum(len(columns) for _, columns in groups)
        cuts = [slice(8 * i * width, 8 * (i + 1) * width) for i in range(ROWS)]  # bytes of row i

        def blocks() -> Iterator[Iterator[array]]:
            fills = [(make(f"{group}.{name}"), _uniform if d is None else sampler(d))
                     for group, columns in groups for name, d in columns.items()]
            while True:
                cols = [fill(g, ROWS) for g, fill in fills]
                block = np.stack(cols, axis=1).tobytes() if cols else b""
                yield map(_as_floats, map(block.__getitem__, cuts))

        return super().__new__(cls, next, chain.from_iterable(blocks()))


_as_floats = partial(array, "d")  # a row: its own floats, copied from its bytes of the block


def _uniform(g: np.random.Generator, n: int) -> np.ndarray:
    return g.random(n)


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

    def exponential(self, name: str) -> Sampler:
        """Exponential(1) draws (the unit-rate Poisson process behind a channel's referrals)."""
        return Sampler(self.generator(name), lambda g, n: g.standard_exponential(n))

    def sampler(self, name: str, dist: Dist) -> Sampler:
        """Draws of `dist` (durations, patience)."""
        return Sampler(self.generator(name), sampler(dist))

    def residents(self, channel: str, groups: Sequence[Group]) -> Rows:
        """The residents of `channel`, one row of draws each in arrival order; column `c` of group `g`
        comes from stream `resident.<channel>.<g>.<c>` (see the module doc)."""
        return Rows(lambda g: self.generator(f"resident.{channel}.{g}"), groups)
