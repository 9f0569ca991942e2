"""Stored times: the one format written and the one parser."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from costopt.core.times import EPOCH, is_time, micros, parse_ts, ts


def test_a_moment_is_written_in_utc_to_the_second() -> None:
    """09:30:15.7 at +02:00 is 07:30:15.7 UTC; the fraction is dropped, not rounded."""
    moment = datetime(2027, 1, 4, 9, 30, 15, 700_000, tzinfo=timezone(timedelta(hours=2)))
    assert ts(moment) == "2027-01-04T07:30:15Z"


def test_what_is_written_reads_back_as_the_same_moment() -> None:
    moment = datetime(2027, 2, 28, 23, 59, 59, tzinfo=timezone.utc)
    assert parse_ts(ts(moment)) == moment
    assert parse_ts("2027-01-04T06:00:00+02:00") == datetime(2027, 1, 4, 4, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2027-02-30T00:00:00Z", "2027-01-04T29:00:00Z",
                                  "2027-01-39T00:00:00Z", "soon", ""])
def test_an_impossible_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ts(text)
    assert not is_time(text)


def test_the_epoch_is_1970_in_utc() -> None:
    assert ts(EPOCH) == "1970-01-01T00:00:00Z"
    assert is_time(ts(EPOCH))


UTC = timezone.utc


@pytest.mark.parametrize(("a", "b"), [
    (datetime(2027, 1, 4, tzinfo=UTC), datetime(2027, 1, 4, 0, 0, 0, 1, tzinfo=UTC)),
    (datetime(2027, 1, 4, 9, 30, 15, 700_001, tzinfo=UTC),
     datetime(2027, 2, 1, 3, 7, 59, 123_457, tzinfo=UTC)),
    (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 1, 4, 0, 0, 0, 3, tzinfo=UTC)),
])
def test_a_span_in_micros_is_its_total_seconds_to_the_last_bit(a: datetime, b: datetime) -> None:
    """``planned_work`` sums spans as ``(micros(b) - micros(a)) / 1,000,000``: the same float
    as ``(b - a).total_seconds()``, so its figures do not move. 1 us after the epoch is 1."""
    assert micros(EPOCH + timedelta(microseconds=1)) == 1
    assert (micros(b) - micros(a)) / 1_000_000 == (b - a).total_seconds()
