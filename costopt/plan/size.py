"""How big a plan may be: the limits on periods and LP columns, checked before anything is
built (by ``plan``, and by ``validate`` without loading the solver)."""

from __future__ import annotations

from costopt.errors import FieldIssue
from costopt.plan.pools import Eligible, Pools
from costopt.workload import Workload

MAX_PERIODS = 8_784
"""The most periods a plan holds: a leap year of hourly periods."""
MAX_VARIABLES = 3_000_000
"""The most LP columns a plan is built with (GPU-hours per job, pool and period, and
instance-hours per cloud pool and period): HiGHS builds 3.6 million in ~5 s, PuLP for CBC
in ~120 s (``facts.md``)."""
_PERIOD_HOURS = (2, 3, 4, 6, 8, 12, 24, 48, 72, 168)


def size_issues(w: Workload, pools: Pools, pairs: list[Eligible]) -> list[FieldIssue]:
    """A horizon of more than :data:`MAX_PERIODS` periods, or a model of more than
    :data:`MAX_VARIABLES` columns, with the numbers and how to make it smaller."""
    h = w.horizon
    longer = None if h.period_runs else next(
        (p for p in _PERIOD_HOURS if p > h.period_hours and not h.hours % p
         and h.hours // p <= MAX_PERIODS), None)
    fix = (f"To fix: longer periods (period_hours: {longer} gives {h.hours // longer:,} "
           "periods)" if longer else "To fix: longer periods") + " or a shorter horizon"
    if h.periods > MAX_PERIODS:
        return [FieldIssue("horizon", f"{h.days} days of {h.runs_text}",
                           f"makes {h.periods:,} periods, more than the {MAX_PERIODS:,} a plan "
                           f"holds (a year of hourly periods); {fix}")]
    periods = [len(w.job_periods(job)) for job in w.jobs]
    columns = sum(periods[e.job] for e in pairs) + len(pools.cloud) * h.periods
    if columns > MAX_VARIABLES:
        return [FieldIssue("(model)", f"{len(w.jobs):,} jobs, {len(pools.all):,} pools, "
                           f"{h.periods:,} periods",
                           f"make {columns:,} LP variables, more than the {MAX_VARIABLES:,} a "
                           f"plan is built with; {fix}, fewer instance types or regions, or "
                           "fewer jobs")]
    return []
