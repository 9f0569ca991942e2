"""A job's work walked over time, whole or resumed, worked by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from costopt.orchestrate.accrual import LOSS, RATE, Accrual, events_of

T0 = datetime(2027, 1, 4, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_walk_resumed_where_it_stopped_reaches_the_need_when_a_whole_walk_does() -> None:
    """2 GPU-h an hour from 00:00 to 10:00, 3 GPU-h lost at 04:00, 10 needed: 8 done by
    04:00, 5 after the loss, 10 at 04:00 + (10 - 5) / 2 h = 06:30. Walked in one go, and in
    two walks stopped before 04:00 (after the first: nothing done yet, at 2 an hour since
    00:00), the same."""
    events = events_of([(at(0), at(10), 2.0)], [(at(4), 3.0)])
    assert events == [(at(0), RATE, 2.0), (at(4), LOSS, 3.0), (at(10), RATE, -2.0)]
    whole = Accrual()
    whole.walk(events, 10.0, 10.0 - 1e-4)
    assert whole.result == (10.0, at(6.5))
    first = Accrual()
    first.walk(events[:1], 10.0, 10.0 - 1e-4)
    assert (first.work, first.rate, first.previous, first.result) == (0.0, 2.0, at(0),
                                                                     (0.0, None))
    resumed = first.copy()
    resumed.walk(events[1:], 10.0, 10.0 - 1e-4)
    assert resumed.result == whole.result
    assert first.result == (0.0, None)  # a copy walks on, not the walk it was copied from


def test_work_is_never_lost_below_nothing_and_a_need_not_reached_is_what_was_done() -> None:
    """1 GPU-h an hour 00:00-02:00 (2 done), 5 lost at 02:00 (0, not -3), then 1 an hour
    03:00-04:00: 1 done of 10, not reached."""
    walk = Accrual()
    walk.walk(events_of([(at(0), at(2), 1.0), (at(3), at(4), 1.0)], [(at(2), 5.0)]),
              10.0, 10.0 - 1e-4)
    assert walk.result == (1.0, None)
