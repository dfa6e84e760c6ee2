"""A resident's draws by name: the groups of their row (`Streams.residents`) and where each column is.

A group is a small frozen dataclass whose fields are its columns. `Draws` builds each group twice: with
each column's distribution (None: uniforms), what the streams draw, and with each column's index in the
row, what the journey reads (`u[draws.engagement.dropout]`: an attribute and an index, no string
hashing). Each column is drawn from its own stream, keyed by its group's name and its own, so a column
added, removed or moved anywhere leaves every other column's draws as they were: a new column is a field
of its group where it is drawn and an attribute where it is read, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from sim.params.distributions import Dist
from sim.params.schedule import Duration, Piecewise, Resolved
from sim.params.schema import NEEDS
from sim.params.streams import Column, Group

T = TypeVar("T")  # a column's distribution (Column) when drawn, its index in the row (int) when read

NO_TIME = Duration(Dist(kind="fixed", mean=0.0), Piecewise([0.0], [1.0]))  # a support place held until the start


@dataclass(frozen=True, slots=True)
class Attributes(Generic[T]):
    """Who a resident is, from the channel's profile (their needs are group `needs`, one column per need)."""

    quintile: T
    band: T
    qualification: T
    preference: T  # sector preference


@dataclass(frozen=True, slots=True)
class Engagement(Generic[T]):
    patience: T  # waiting for an adviser's caseload place
    assessment: T
    dropout: T


@dataclass(frozen=True, slots=True)
class Stage(Generic[T]):
    """A support stage or a course."""

    patience: T  # waiting for a place
    duration: T
    completion: T


@dataclass(frozen=True, slots=True)
class Training(Generic[T]):
    need: T  # whether they need a course
    course: T  # which of the courses they are eligible for


@dataclass(frozen=True, slots=True)
class Application(Generic[T]):
    """One of the `max_applications` tries: job search to a start."""

    search: T
    vacancy_patience: T
    pick: T  # which open post
    repick: T  # another post of the role, if theirs went to someone else before the start
    shortlist: T
    interview_patience: T
    interview: T
    interview_pass: T
    accept: T
    checks: T
    withdraw: T  # patience from application to start
    checks_pass: T


@dataclass(frozen=True, slots=True)
class InPost(Generic[T]):
    leaves: T  # whether they leave within the first year
    when: T  # when in it


class Draws:
    """The groups of a resident's row and, by name, the index of each of their columns.

    attributes; needs (a uniform per need of `NEEDS`, by the resident's flag); engagement; support (a
    `Stage` per support stage, in `plan.support` order, group `support.<name>`); training; courses (a
    `Stage` per course, group `course.<name>`); applications (one per try, group `application.<a>`);
    in_post. `groups` is what `Streams.residents` draws: (group name, {column: distribution}), in row order.
    """

    def __init__(self, plan: Resolved):
        self.groups: list[Group] = []
        u = None  # a column of uniforms
        self.attributes: Attributes[int] = self._add(
            "attributes", Attributes(quintile=u, band=u, qualification=u, preference=u))
        self.needs: dict[str, int] = self._add_columns("needs", {flag: u for flag in NEEDS.values()})
        self.engagement: Engagement[int] = self._add("engagement", Engagement(
            patience=plan.adviser_patience.dist, assessment=plan.assessment.dist, dropout=u))
        self.support: list[Stage[int]] = [self._add(f"support.{s.name}", Stage(
            patience=s.patience.dist, duration=(s.duration or NO_TIME).dist, completion=u)) for s in plan.support]
        self.training: Training[int] = self._add("training", Training(need=u, course=u))
        self.courses: list[Stage[int]] = [self._add(f"course.{c.name}", Stage(
            patience=c.patience.dist, duration=c.duration.dist, completion=u)) for c in plan.courses]
        application = Application(
            search=plan.search.dist, vacancy_patience=plan.vacancy_patience.dist, pick=u, repick=u, shortlist=u,
            interview_patience=plan.interview_patience.dist, interview=plan.interview_duration.dist,
            interview_pass=u, accept=u, checks=plan.checks.dist, withdraw=plan.withdrawal_patience.dist,
            checks_pass=u)
        self.applications: list[Application[int]] = [self._add(f"application.{a}", application)
                                                      for a in range(plan.max_applications)]
        self.in_post: InPost[int] = self._add("in_post", InPost(leaves=u, when=u))

    def _add(self, name: str, group: Any) -> Any:
        """Append group `name`, built with its columns' distributions; the same group of their indices in the row."""
        at = self._add_columns(name, {f.name: getattr(group, f.name) for f in fields(group)})
        return type(group)(**at)

    def _add_columns(self, name: str, columns: dict[str, Column]) -> dict[str, int]:
        """Append group `name` with `columns`; each column's index in the row."""
        start = sum(len(c) for _, c in self.groups)
        self.groups.append((name, columns))
        return {column: start + i for i, column in enumerate(columns)}
