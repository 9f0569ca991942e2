"""The monthly report's arithmetic: a month's spend, its breakdowns and the report that
holds them with the forecast and budget.

Pure: the ledger's rows, the plan documents it recorded and the time ``now`` come in;
frozen dataclasses come out. No I/O, no clock. Every amount is USD; hours are UTC.

The rules (``docs/report.md`` says the same for readers), each where it is computed:

- **Elapsed window** ``[month start, as_of)`` with ``as_of = min(month end, now)``.
- **Plans in force** and time cut by day and period: :mod:`costopt.report.windows`.
- **Cloud spend, owned servers, by job**: the charges of :mod:`costopt.report.attribution`;
  every breakdown here is a sum of the same charges, so each adds up to the total.
- **Forecast and budget**: :mod:`costopt.report.forecast`.
- **Savings**: the same cloud instance-hours priced at each pool's on-demand USD per
  instance-hour (from the plans' pools), less what they cost. Owned servers are left out.
- **Cost Explorer** beside the ledger: :mod:`costopt.report.comparison`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from costopt.core.months import Month
from costopt.orchestrate.ledger import Interruption, Runtime
from costopt.planfile import PlanDocument
from costopt.report.attribution import (
    MARKETS,
    OWNED,
    Charge,
    OwnedCost,
    cloud_charges,
    owned_charges,
)
from costopt.report.comparison import AwsComparison
from costopt.report.forecast import (
    Budget,
    BudgetStatus,
    Forecast,
    budget_status,
    forecast_of,
    planned_cloud,
)
from costopt.report.windows import DAY, hours_between, midnight, overlapping, plan_windows


@dataclass(frozen=True)
class LedgerView:
    """What the report reads from the ledger: runtimes overlapping the month,
    interruptions, and the plan documents in the order they were recorded."""

    runtimes: Sequence[Runtime]
    interruptions: Sequence[Interruption]
    plans: Sequence[PlanDocument]


@dataclass(frozen=True)
class SpendLine:
    """One group's spend over the elapsed month. ``instance_hours`` are cloud
    instance-hours (server-hours for owned servers' fixed cost); ``gpu_hours`` are GPU-hours
    (cloud: instance-hours x GPUs per instance; owned: the GPU-hours the plans assigned)."""

    name: str
    usd: float
    instance_hours: float
    gpu_hours: float


@dataclass(frozen=True)
class DaySpend:
    """One UTC day's spend by market (USD)."""

    day: date
    owned_usd: float = 0.0
    on_demand_usd: float = 0.0
    spot_usd: float = 0.0

    @property
    def usd(self) -> float:
        return self.owned_usd + self.on_demand_usd + self.spot_usd


@dataclass(frozen=True)
class TypeDaySpend:
    """Cloud spend of one instance type on one UTC day (USD): the ledger side of the Cost
    Explorer join."""

    day: date
    instance_type: str
    usd: float


@dataclass(frozen=True)
class Savings:
    """Cloud spend against the same instance-hours all on-demand (USD)."""

    cloud_usd: float
    on_demand_usd: float

    @property
    def savings_usd(self) -> float:
        return self.on_demand_usd - self.cloud_usd

    @property
    def savings_pct(self) -> float | None:
        return None if self.on_demand_usd == 0 else 100 * self.savings_usd / self.on_demand_usd


@dataclass(frozen=True)
class MonthReport:
    """The month's figures. Spend is over ``[month start, as_of)``; every breakdown adds up
    to ``total_usd``."""

    month: Month
    now: datetime
    as_of: datetime
    total_usd: float
    by_market: tuple[SpendLine, ...]
    by_instance_type: tuple[SpendLine, ...]
    by_region: tuple[SpendLine, ...]
    by_job: tuple[SpendLine, ...]
    daily: tuple[DaySpend, ...]  # every day begun by as_of
    remaining_daily: tuple[DaySpend, ...]  # the plans' remaining cost, day by day
    cloud_daily_by_type: tuple[TypeDaySpend, ...]
    forecast: Forecast
    budget: BudgetStatus | None
    savings: Savings
    interruptions: tuple[Interruption, ...]
    plans: tuple[str, ...]  # ids of the plans in force during the month
    owned_pools: tuple[str, ...]
    runtimes: int  # ledger runtimes with time in the elapsed month
    notes: tuple[str, ...] = ()
    aws: AwsComparison | None = None

    @property
    def elapsed_hours(self) -> float:
        return (self.as_of - self.month.start).total_seconds() / 3600

    @property
    def has_data(self) -> bool:
        """Anything to report: a runtime, an owned server or a plan in force."""
        return bool(self.runtimes or self.owned_pools or self.plans)


def _lines(charges: Iterable[Charge], key: str) -> tuple[SpendLine, ...]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for c in charges:
        s = sums[getattr(c, key)]
        s[0] += c.usd
        s[1] += c.instance_hours
        s[2] += c.gpu_hours
    lines = [SpendLine(name, *v) for name, v in sums.items()]
    return tuple(sorted(lines, key=lambda line: (-line.usd, line.name)))


def _days(lo: datetime, hi: datetime, amounts: Iterable[tuple[date, str, float]]
          ) -> tuple[DaySpend, ...]:
    """Every day begun in ``[lo, hi)``, with its amounts by market summed."""
    sums: dict[date, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MARKETS, 0.0))
    for day, market, usd in amounts:
        sums[day][market] += usd
    out = []
    day = midnight(lo)
    while day < hi:
        m = sums.get(day.date(), dict.fromkeys(MARKETS, 0.0))
        out.append(DaySpend(day.date(), m[OWNED], m["on_demand"], m["spot"]))
        day += DAY
    return tuple(out)


def month_report(month: Month, now: datetime, ledger: LedgerView, *,
                 owned: Sequence[OwnedCost], budget: Budget | None) -> MonthReport:
    """The month's report as of ``now``: spend so far, forecast, budget, breakdowns."""
    as_of = min(max(now, month.start), month.end)
    lo, hi = month.start, month.end
    notes: list[str] = []
    windows = plan_windows(ledger.plans)
    in_month = overlapping(windows, lo, hi)
    cloud = list(cloud_charges(ledger.runtimes, ledger.plans, lo, as_of, now, notes))
    charges = cloud + list(owned_charges(owned, windows, lo, as_of))
    total = sum(c.usd for c in charges)

    planned = [(c.day, OWNED, c.usd) for c in owned_charges(owned, windows, as_of, hi)]
    planned += list(planned_cloud(windows, as_of, hi))
    remaining = sum(usd for _d, _m, usd in planned)
    forecast = forecast_of(total, remaining, hours_between(lo, as_of), month.hours)
    status = budget_status(budget, total, forecast) if budget is not None else None

    by_type: dict[tuple[date, str], float] = defaultdict(float)
    for c in cloud:
        by_type[(c.day, c.instance_type)] += c.usd
    counted = [r for r in ledger.runtimes if r.clipped(lo, as_of, now) is not None]
    return MonthReport(
        month=month, now=now, as_of=as_of, total_usd=total,
        by_market=_lines(charges, "market"),
        by_instance_type=_lines(charges, "instance_type"),
        by_region=_lines(charges, "region"),
        by_job=_lines(charges, "job"),
        daily=_days(lo, as_of, ((c.day, c.market, c.usd) for c in charges)),
        remaining_daily=_days(as_of, hi, planned),
        cloud_daily_by_type=tuple(TypeDaySpend(d, t, usd)
                                  for (d, t), usd in sorted(by_type.items())),
        forecast=forecast,
        budget=status,
        savings=Savings(sum(c.usd for c in cloud), sum(c.on_demand_usd for c in cloud)),
        interruptions=tuple(i for i in ledger.interruptions if lo <= i.at < as_of),
        plans=tuple(w.plan.plan_id for w in in_month),
        owned_pools=tuple(o.pool for o in owned),
        runtimes=len(counted),
        notes=tuple(notes),
    )
