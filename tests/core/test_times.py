"""Stored times: the one format written and the one parser."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from costopt.core.times import EPOCH, is_time, parse_ts, ts


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
