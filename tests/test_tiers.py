"""Every test has exactly one tier (unit, model, statistical, system): the list tests/conftest.py keeps at collection.

Without xdist the conftest hook stops the session itself; under `-n 2` (make test, make test-fast) this test fails.
"""

from __future__ import annotations

import pytest
from conftest import TIERS, UNTIERED, untiered_message

pytestmark = pytest.mark.unit


def test_every_collected_test_has_exactly_one_tier(request: pytest.FixtureRequest) -> None:
    bad = request.config.stash[UNTIERED]
    assert not bad, untiered_message(bad)


def test_the_tiers_are_the_registered_markers(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":", 1)[0].strip() for line in pytestconfig.getini("markers")}
    assert set(TIERS) <= registered
    assert pytestconfig.option.strict_markers or "--strict-markers" in pytestconfig.getini("addopts")
