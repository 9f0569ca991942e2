"""Calendar months in UTC: what the budget guard and the monthly report both count in."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from costopt.errors import ReportError

YEARS = (1970, 2999)
"""The years a plan can cover: of the workload's dates and of a report's month (a horizon of
at most 3,660 days from the last of them still ends inside Python's calendar)."""


@dataclass(frozen=True)
class Month:
    """A calendar month in UTC, ``[start, end)``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` exactly (no spaces), a month from 01 to 12 of a year in
        :data:`YEARS`."""
        found = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if (found is None or not 1 <= int(found[2]) <= 12
                or not YEARS[0] <= int(found[1]) <= YEARS[1]):
            raise ReportError(f"month {text!r} is not valid: expected YYYY-MM with a month "
                              f"from 01 to 12 of a year from {YEARS[0]} to {YEARS[1]}. "
                              "To fix: e.g. --month 2026-12")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        """The month that holds ``moment``."""
        moment = moment.astimezone(timezone.utc)
        return cls(moment.year, moment.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """The first instant of the next month (exclusive)."""
        return self.start + timedelta(days=calendar.monthrange(self.year, self.month)[1])

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600
