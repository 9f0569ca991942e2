"""A horizon's periods, and which period a moment falls in: the one place that answers it
for a plan file's horizon (the planner's own :class:`costopt.workload.Horizon` counts in
hours from its start)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from costopt.core.times import parse_ts


@dataclass(frozen=True)
class Periods:
    """``bounds`` holds each period's start and then the horizon's end (UTC)."""

    bounds: tuple[datetime, ...]

    @classmethod
    def of_runs(cls, start: datetime, runs: Iterable[tuple[int, int]]) -> Periods:
        """From the horizon's start and its runs of periods, ``(hours, count)`` in order."""
        lengths = [timedelta(hours=hours) for hours, count in runs for _ in range(count)]
        return cls(tuple(accumulate(lengths, initial=start)))

    @classmethod
    def of_plan(cls, horizon: Mapping[str, Any]) -> Periods:
        """From a plan file's ``horizon`` record: its ``period_runs`` (mixed lengths), else
        periods of ``period_hours`` from ``start`` to ``end``."""
        start = parse_ts(str(horizon["start"]))
        hours = int(horizon["period_hours"])
        runs = horizon.get("period_runs") or [{"hours": hours, "count": (
            parse_ts(str(horizon["end"])) - start) // timedelta(hours=hours)}]
        return cls.of_runs(start, [(int(r["hours"]), int(r["count"])) for r in runs])

    @property
    def start(self) -> datetime:
        return self.bounds[0]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]

    def index(self, moment: datetime) -> int:
        """The number of the period holding ``moment`` (0 from the first); a moment before
        the horizon counts in the first period, one at or after its end in the last."""
        return min(max(bisect_right(self.bounds, moment) - 1, 0), len(self.bounds) - 2)

    def period(self, moment: datetime) -> tuple[datetime, datetime]:
        """``[start, end)`` of the period holding ``moment`` (as :meth:`index` counts)."""
        i = self.index(moment)
        return self.bounds[i], self.bounds[i + 1]
