"""The month-end forecast and the budget it is judged against.

- **Forecast**: (a) ``plan``: spend so far + the plans in force's remaining cost from
  ``as_of`` to month end (fleet slots x their USD per instance-hour; owned fixed cost and
  planned energy); (b) ``run-rate``: spend so far / elapsed hours x the month's hours. The
  larger one is *the* forecast.
- **Budget**: ``--budget``, else the workload's, else the plans' in force. The alert band is
  the highest of 50/80/100 % of the budget the forecast reaches; it is over budget when it is
  more than the budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from costopt.core.months import Month
from costopt.planfile import PlanDocument
from costopt.report.windows import PlanWindow, by_day, overlapping, plan_windows
from costopt.workload import Workload

BANDS_PCT = (50, 80, 100)


@dataclass(frozen=True)
class Budget:
    """The month's budget (USD) and where it came from (for the reader)."""

    usd: float
    source: str


@dataclass(frozen=True)
class Forecast:
    """Month-end spend, two ways (USD). ``usd`` is the larger; ``basis`` says which."""

    plan_usd: float  # spend so far + the plans in force's remaining cost
    remaining_usd: float  # the plans in force's cost from as_of to month end
    run_rate_usd: float | None  # None before the month has begun
    usd: float
    basis: str  # "plan" or "run-rate"


@dataclass(frozen=True)
class BudgetStatus:
    """Spend and forecast against the budget. Percentages are of the budget (None when the
    budget is 0); ``band_pct`` is the highest of 50/80/100 the forecast reaches, else 0."""

    budget_usd: float
    source: str
    used_pct: float | None
    forecast_pct: float | None
    band_pct: int
    over: bool  # the forecast is more than the budget


def choose_budget(budget_usd: float | None, workload: Workload | None,
                  plans: Sequence[PlanDocument], month: Month) -> Budget | None:
    """``--budget``, else the workload's ``monthly_budget_usd``, else the sum over the
    workloads with a plan in force in the month of the last such plan's
    ``monthly_budget_usd``; None when there is none."""
    if budget_usd is not None:
        return Budget(budget_usd, "--budget")
    if workload is not None and workload.monthly_budget_usd is not None:
        return Budget(workload.monthly_budget_usd,
                      f"monthly_budget_usd of workload {workload.name}")
    latest: dict[str, PlanDocument] = {}
    for w in overlapping(plan_windows(plans), month.start, month.end):
        if w.plan.monthly_budget_usd is not None:
            latest[w.plan.workload_name] = w.plan
    if not latest:
        return None
    ids = ", ".join(p.plan_id for p in latest.values())
    return Budget(sum(p.monthly_budget_usd or 0.0 for p in latest.values()),
                  f"monthly_budget_usd of plan{'s' if len(latest) > 1 else ''} {ids}")


def planned_cloud(windows: Sequence[PlanWindow], lo: datetime, hi: datetime
                   ) -> Iterator[tuple[date, str, float]]:
    """The fleet's slots inside ``[lo, hi)`` and each plan's window: (day, market, USD)."""
    for w in overlapping(windows, lo, hi):
        s_lo, s_hi = max(lo, w.start), min(hi, w.end)
        for pool in w.plan.fleet:
            for slot in pool.slots:
                for day, h in by_day(max(s_lo, slot.start), min(s_hi, slot.end)):
                    yield day, pool.market, h * pool.usd_per_hour


def band_pct(forecast_usd: float, budget_usd: float) -> int:
    """The highest of 50, 80, 100 (% of the budget) the forecast reaches; 0 below 50 %."""
    return max((b for b in BANDS_PCT if forecast_usd >= budget_usd * b / 100), default=0)


def _pct(usd: float, budget_usd: float) -> float | None:
    return None if budget_usd == 0 else 100 * usd / budget_usd


def forecast_of(spent_usd: float, remaining_usd: float, elapsed_hours: float,
                month_hours: float) -> Forecast:
    """The month-end forecast from the spend so far (USD), the plans' remaining cost (USD)
    and the hours elapsed of the month's: the larger of ``plan`` (spent + remaining) and
    ``run-rate`` (spent / elapsed x the month's hours; none before the month began)."""
    run_rate = spent_usd / elapsed_hours * month_hours if elapsed_hours > 0 else None
    larger, basis = spent_usd + remaining_usd, "plan"
    if run_rate is not None and run_rate > larger:
        larger, basis = run_rate, "run-rate"
    return Forecast(spent_usd + remaining_usd, remaining_usd, run_rate, larger, basis)


def budget_status(budget: Budget, spent_usd: float, forecast: Forecast) -> BudgetStatus:
    """The spend so far and the forecast (USD) against the budget."""
    return BudgetStatus(budget.usd, budget.source, _pct(spent_usd, budget.usd),
                        _pct(forecast.usd, budget.usd), band_pct(forecast.usd, budget.usd),
                        forecast.usd > budget.usd)
