"""Which period a moment falls in."""

from __future__ import annotations

from datetime import datetime, timezone

from costopt.core.periods import Periods

START = datetime(2027, 1, 4, tzinfo=timezone.utc)


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, tzinfo=timezone.utc)


def test_mixed_runs_give_their_bounds_in_order() -> None:
    """2 x 1 h then 1 x 24 h from 01-04 00:00: starts at 00:00 and 01:00 and 02:00, end 01-05
    02:00."""
    periods = Periods.of_runs(START, [(1, 2), (24, 1)])
    assert periods.bounds == (_at(4, 0), _at(4, 1), _at(4, 2), _at(5, 2))
    assert (periods.start, periods.end) == (_at(4), _at(5, 2))


def test_a_moment_falls_in_the_period_that_holds_it_a_bound_in_the_next() -> None:
    periods = Periods.of_runs(START, [(1, 2), (24, 1)])
    assert periods.index(_at(4, 0)) == 0
    assert periods.index(datetime(2027, 1, 4, 1, 59, tzinfo=timezone.utc)) == 1
    assert periods.period(_at(4, 2)) == (_at(4, 2), _at(5, 2))


def test_moments_outside_count_in_the_first_or_the_last_period() -> None:
    periods = Periods.of_runs(START, [(24, 2)])
    assert periods.index(_at(1)) == 0
    assert periods.index(_at(6)) == 1  # the end itself: the last period
    assert periods.index(_at(9)) == 1


def test_a_plan_files_horizon_without_runs_is_equal_periods_to_its_end() -> None:
    """48 h of 12-hour periods: 4 periods, bounds every 12 h."""
    periods = Periods.of_plan({"start": "2027-01-04T00:00:00Z", "end": "2027-01-06T00:00:00Z",
                               "period_hours": 12, "periods": 4})
    assert periods.bounds == (_at(4, 0), _at(4, 12), _at(5, 0), _at(5, 12), _at(6, 0))
    runs = Periods.of_plan({"start": "2027-01-04T00:00:00Z", "period_hours": 24,
                            "period_runs": [{"hours": 1, "count": 2}, {"hours": 24, "count": 1}]})
    assert runs == Periods.of_runs(START, [(1, 2), (24, 1)])
