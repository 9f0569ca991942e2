"""How the suite hands its tests to the xdist workers (``tests/conftest.py``): tests marked
``slow`` first, and each ``xdist_group`` kept on one worker."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("scheduling")


def test_slow_tests_are_collected_before_all_others(request: pytest.FixtureRequest) -> None:
    """The order the workers receive single tests in: no unmarked test before a slow one.
    A worker collects the whole suite even when it runs a part, so on xdist this checks the
    suite's order; run alone, the order of the files named."""
    slow = [item.get_closest_marker("slow") is not None for item in request.session.items]
    assert slow == sorted(slow, reverse=True)


def test_a_grouped_test_carries_its_group_to_the_scheduler(
        request: pytest.FixtureRequest) -> None:
    """xdist's scheduler reads a test's group from the ``@group`` suffix of its node id; a
    test without it is sent to any worker (pytest-dev/pytest-xdist#1386)."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run by an xdist worker with --dist loadgroup")
    assert request.node.nodeid.endswith("@scheduling")
