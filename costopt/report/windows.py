"""Plans in force over time, and time cut into pieces (UTC days, a plan's periods): what
the monthly report's figures are summed over.

A recorded plan is in force over its horizon until a plan of the same workload recorded
after it begins (a re-plan takes over from its own start).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from costopt.core.periods import Periods
from costopt.planfile import PlanDocument

DAY = timedelta(days=1)


@dataclass(frozen=True)
class PlanWindow:
    """A plan and the interval ``[start, end)`` it is in force, and the plan's periods."""

    plan: PlanDocument
    start: datetime
    end: datetime
    grid: Periods


def plan_windows(plans: Sequence[PlanDocument]) -> list[PlanWindow]:
    """Each plan's window: its horizon, until a plan of the same workload recorded after it
    (later in ``plans``) begins. Plans wholly superseded have no window."""
    out = []
    for i, plan in enumerate(plans):
        grid = Periods.of_plan(plan.horizon)
        name = plan.workload_name
        later = [Periods.of_plan(p.horizon).start for p in plans[i + 1:]
                 if p.workload_name == name]
        until = min([grid.end, *later])
        if until > grid.start:
            out.append(PlanWindow(plan, grid.start, until, grid))
    return out


def overlapping(windows: Iterable[PlanWindow], lo: datetime, hi: datetime
                 ) -> list[PlanWindow]:
    return [w for w in windows if w.start < hi and w.end > lo]


# -- owned servers and the budget ----------------------------------------------------------


def hours_between(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def by_day(a: datetime, b: datetime) -> Iterator[tuple[date, float]]:
    """``[a, b)`` cut at UTC midnights: (day, hours) pieces."""
    while a < b:
        cut = min(b, midnight(a) + DAY)
        yield a.date(), hours_between(a, cut)
        a = cut


def by_period(a: datetime, b: datetime, grid: Periods
               ) -> Iterator[tuple[datetime | None, datetime, datetime]]:
    """``[a, b)`` cut at a plan's period boundaries: (period start, or None outside the
    horizon; piece start; piece end)."""
    start, end = grid.start, grid.end
    while a < b:
        if start <= a < end:
            period, period_end = grid.period(a)
            cut = min(b, period_end)
            yield period, a, cut
        else:
            cut = min(b, start) if a < start else b
            yield None, a, cut
        a = cut


