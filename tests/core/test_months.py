"""Calendar months: strict parsing of ``--month``."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from costopt.core.months import Month
from costopt.errors import ReportError


def test_a_month_is_parsed_with_its_bounds() -> None:
    month = Month.parse("2027-02")
    assert (month.year, month.month, month.label) == (2027, 2, "2027-02")
    assert month.end == datetime(2027, 3, 1, tzinfo=timezone.utc)
    assert month.hours == 28 * 24
    assert Month.parse("2999-12").end == datetime(3000, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["0000-01", "9999-12", "1969-12", "3000-01", " 2027-01",
                                  "2027-01 ", "2027-1", "2027-13", "2027-00", "27-01", ""])
def test_anything_else_is_a_clear_error(text: str) -> None:
    with pytest.raises(ReportError) as info:
        Month.parse(text)
    assert str(info.value).startswith(f"month {text!r} is not valid: expected YYYY-MM with a "
                                      "month from 01 to 12 of a year from 1970 to 2999")
