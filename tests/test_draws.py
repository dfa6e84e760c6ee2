"""A resident's draws by name (`sim.model.draws`): each column of a row is its own stream, keyed by its group
and its own name, so adding a column anywhere moves no other column's draws."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_params

from sim.model.draws import Draws
from sim.params.distributions import Dist, sampler
from sim.params.streams import ROWS, Group, Streams, seed_sequence

pytestmark = pytest.mark.unit

RESIDENTS = 2 * ROWS + 88  # across block boundaries
GROUPS = Draws(make_params().resolved).groups


def by_name(groups: list[Group], seed: int = 9, channel: str = "jobcentre") -> dict[tuple[str, str], list[float]]:
    """Every column's draws for the first `RESIDENTS` residents of `channel`, by (group, column)."""
    rows = Streams(seed, 2).residents(channel, groups)
    table = np.array([list(rows()) for _ in range(RESIDENTS)])
    names = [(g, c) for g, columns in groups for c in columns]
    return {name: table[:, i].tolist() for i, name in enumerate(names)}


def inserted(groups: list[Group], group: str, column: str, dist: Dist | None) -> list[Group]:
    """`groups` with `column` inserted in the middle of `group`."""
    out = []
    for name, columns in groups:
        if name == group:
            items = list(columns.items())
            mid = len(items) // 2
            columns = dict([*items[:mid], (column, dist), *items[mid:]])
        out.append((name, columns))
    return out


@pytest.mark.parametrize("group", [g for g, _ in GROUPS if not g.startswith("application.") or g == "application.0"])
def test_inserting_a_column_keeps_every_other_columns_draws(group: str) -> None:
    """A column inserted in the middle of a group (a new attribute next to the others, a new step in a stage):
    every resident's draws in every other column, of that group and of every other, are as they were."""
    before = by_name(GROUPS)
    after = by_name(inserted(GROUPS, group, "new", Dist(kind="gamma", mean=10.0, cv=0.5)))
    del after[(group, "new")]
    assert after == before


def test_a_column_is_drawn_from_its_own_named_stream() -> None:
    """Column c of group g of a channel's rows is stream `resident.<channel>.<g>.<c>`, `ROWS` values a block."""
    got = by_name(GROUPS, seed=4, channel="outreach")
    for g, c in [("engagement", "dropout"), ("engagement", "assessment")]:
        dist = dict(GROUPS)[g][c]
        fill = sampler(dist) if dist is not None else lambda gen, n: gen.random(n)
        gen = np.random.Generator(np.random.PCG64(seed_sequence(4, 2, f"resident.outreach.{g}.{c}")))
        want = np.concatenate([fill(gen, ROWS) for _ in range(-(-RESIDENTS // ROWS))])[:RESIDENTS]
        assert got[(g, c)] == want.tolist()


def test_the_journey_reads_columns_by_name() -> None:
    """`Draws` gives each named column its index in the row: the row's columns in group order, none twice."""
    lay = Draws(make_params().resolved)
    names = [(g, c) for g, columns in lay.groups for c in columns]
    index = {name: i for i, name in enumerate(names)}
    assert len(index) == len(names)
    assert lay.engagement.dropout == index[("engagement", "dropout")]
    assert lay.applications[1].checks_pass == index[("application.1", "checks_pass")]
    assert lay.support[0].completion == index[(f"support.{make_params().resolved.support[0].name}", "completion")]
    assert lay.needs == {c: index[("needs", c)] for c in dict(lay.groups)["needs"]}
    assert lay.in_post.when == len(names) - 1
