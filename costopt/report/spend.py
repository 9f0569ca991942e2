"""The monthly report's arithmetic: a month's spend, forecast, budget and breakdowns.

Pure: the ledger's rows, the plan documents it recorded and the time ``now`` come in;
frozen dataclasses come out. No I/O, no clock. Every amount is USD; hours are UTC.

The rules (``docs/report.md`` says the same for readers):

- **Elapsed window** ``[month start, as_of)`` with ``as_of = min(month end, now)``.
- **Cloud spend**: each ledger runtime clipped to the elapsed window (a runtime still
  running runs to ``now``) x the USD per instance-hour in force, under the market the
  instance really ran as (a spot pool that fell back to on-demand counts as on-demand).
- **Plans in force**: a recorded plan is in force over its horizon until a plan of the
  same workload recorded after it begins (a re-plan takes over from its own start).
- **Owned servers**: an owned server is owned all month, so its fixed cost (amortisation +
  idle energy + ops, ``workload.md``'s fixed-cost formula per hour) accrues every elapsed
  hour; its active energy is the GPU-hours the plans in force assigned to it (spread evenly
  over each period) x its energy USD per GPU-hour.
- **By job**: a cloud pool's spend in a plan period goes to the jobs that plan assigned to
  the pool in that period, in proportion to their GPU-hours there; spend with no assignment
  goes to ``(unassigned)``; owned energy goes to the job it was assigned to; owned fixed
  cost is its own line. Every breakdown adds up to the total.
- **Forecast**: (a) ``plan``: spend so far + the plans in force's remaining cost from
  ``as_of`` to month end (fleet slots x their USD per instance-hour; owned fixed cost and
  planned energy); (b) ``run-rate``: spend so far / elapsed hours x the month's hours. The
  larger one is *the* forecast; the alert band is the highest of 50/80/100 % of the budget
  it reaches; it is over budget when it is more than the budget.
- **Savings**: the same cloud instance-hours priced at each pool's on-demand USD per
  instance-hour (from the plans' pools), less what they cost. Owned servers are left out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import accumulate

from pydantic import ValidationError

from costopt.core.months import Month
from costopt.errors import ReportError
from costopt.orchestrate.ledger import Interruption, Runtime, parse_ts
from costopt.plan.pools import energy_usd_per_gpu_hour, fixed_usd
from costopt.planfile import PlanDocument, PoolRecord
from costopt.workload import OwnedServer, ServerSpec, Workload

OWNED = "owned"
MARKETS = (OWNED, "on_demand", "spot")
MARKET_LABELS = {OWNED: "owned", "on_demand": "on-demand", "spot": "spot"}
OWNED_REGION = "on-premises"
UNASSIGNED = "(unassigned)"
OWNED_FIXED = "(owned fixed cost)"
BANDS_PCT = (50, 80, 100)
_DAY = timedelta(days=1)
_NOBODY = [(UNASSIGNED, 1.0)]


@dataclass(frozen=True)
class OwnedCost:
    """An owned server entry (``servers`` identical servers): ``fixed_usd_per_hour`` is
    amortisation + idle energy + ops of all of them, accrued every hour;
    ``energy_usd_per_gpu_hour`` is the energy above idle of one GPU-hour of work."""

    pool: str
    servers: int
    fixed_usd_per_hour: float
    energy_usd_per_gpu_hour: float


@dataclass(frozen=True)
class Budget:
    """The month's budget (USD) and where it came from (for the reader)."""

    usd: float
    source: str


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
class AwsCost:
    """A Cost Explorer figure: unblended cost of one instance type on one UTC day (USD);
    ``estimated`` while AWS has not closed the day."""

    day: date
    instance_type: str
    usd: float
    estimated: bool = False


@dataclass(frozen=True)
class JoinedCost:
    """The ledger's and Cost Explorer's cost of one instance type on one day (USD)."""

    day: date
    instance_type: str
    ledger_usd: float
    aws_usd: float
    estimated: bool

    @property
    def difference_usd(self) -> float:
        """AWS minus the ledger: positive when AWS billed more than the ledger knows of."""
        return self.aws_usd - self.ledger_usd


@dataclass(frozen=True)
class AwsComparison:
    """Cost Explorer's actuals beside the ledger's figures, day by instance type."""

    plan_ids: tuple[str, ...]  # the values of the ``costopt:plan`` tag asked for
    rows: tuple[JoinedCost, ...]

    @property
    def ledger_usd(self) -> float:
        return sum(r.ledger_usd for r in self.rows)

    @property
    def aws_usd(self) -> float:
        return sum(r.aws_usd for r in self.rows)

    @property
    def difference_usd(self) -> float:
        return self.aws_usd - self.ledger_usd


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


# -- plans in force ----------------------------------------------------------------------

@dataclass(frozen=True)
class PeriodGrid:
    """A plan's periods: ``bounds`` holds each period's start and then the horizon's end."""

    bounds: tuple[datetime, ...]

    @property
    def start(self) -> datetime:
        return self.bounds[0]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]

    def period(self, moment: datetime) -> tuple[datetime, datetime]:
        """``[start, end)`` of the period holding ``moment`` (inside the horizon)."""
        i = bisect_right(self.bounds, moment) - 1
        return self.bounds[i], self.bounds[i + 1]


@dataclass(frozen=True)
class PlanWindow:
    """A plan and the interval ``[start, end)`` it is in force, and the plan's periods."""

    plan: PlanDocument
    start: datetime
    end: datetime
    grid: PeriodGrid


def _horizon(plan: PlanDocument) -> PeriodGrid:
    """The plan's periods: its ``period_runs`` (mixed lengths), else equal periods of
    ``period_hours`` (plan files written before period runs)."""
    h = plan.horizon
    start, end = parse_ts(str(h["start"])), parse_ts(str(h["end"]))
    runs = h.get("period_runs") or [{"hours": int(h["period_hours"]), "count": int(
        (end - start) / timedelta(hours=int(h["period_hours"])))}]
    lengths = [timedelta(hours=int(r["hours"])) for r in runs for _ in range(int(r["count"]))]
    return PeriodGrid(tuple(accumulate(lengths, initial=start)))


def plan_windows(plans: Sequence[PlanDocument]) -> list[PlanWindow]:
    """Each plan's window: its horizon, until a plan of the same workload recorded after it
    (later in ``plans``) begins. Plans wholly superseded have no window."""
    out = []
    for i, plan in enumerate(plans):
        grid = _horizon(plan)
        name = plan.workload.get("name")
        later = [_horizon(p).start for p in plans[i + 1:] if p.workload.get("name") == name]
        until = min([grid.end, *later])
        if until > grid.start:
            out.append(PlanWindow(plan, grid.start, until, grid))
    return out


def _overlapping(windows: Iterable[PlanWindow], lo: datetime, hi: datetime
                 ) -> list[PlanWindow]:
    return [w for w in windows if w.start < hi and w.end > lo]


# -- owned servers and the budget ----------------------------------------------------------

def _owned_cost(pool: str, server: OwnedServer, usd_per_kwh: float, pue: float) -> OwnedCost:
    return OwnedCost(pool, server.count, fixed_usd(server, usd_per_kwh, pue, 1.0),
                     energy_usd_per_gpu_hour(server, usd_per_kwh, pue))


def owned_from_workload(workload: Workload) -> list[OwnedCost]:
    """The workload's owned servers (not its purchase candidates)."""
    owned = workload.owned
    if owned is None:
        return []
    return [_owned_cost(f"owned:{s.name}", s, owned.electricity_usd_per_kwh, owned.pue)
            for s in owned.servers]


def _server_of(plan_id: str, record: PoolRecord) -> tuple[OwnedServer, float, float]:
    """The owned server entry a plan's pool record describes, its USD/kWh and PUE."""
    fields = {"name": record.pool.removeprefix("owned:"), "gpu": record.gpu_model,
              "gpus": record.gpus_per_node, "count": record.count,
              **{k: getattr(record, k) for k in ServerSpec.model_fields
                 if k not in ("name", "gpu", "gpus")}}
    kwh, pue = record.electricity_usd_per_kwh, record.pue
    bad = [k for k, v in (("electricity_usd_per_kwh", kwh), ("pue", pue)) if v is None]
    try:
        server = OwnedServer.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        bad += sorted({str(e["loc"][0]) for e in exc.errors()})
    else:
        if kwh is not None and pue is not None:
            return server, kwh, pue
    raise ReportError(f"plan {plan_id}: owned pool {record.pool} has no valid "
                      f"{', '.join(bad)}. To fix: give the owned servers with --workload FILE")


def owned_from_plans(plans: Sequence[PlanDocument], month: Month) -> list[OwnedCost]:
    """The owned servers (``owned:`` pools, not purchase candidates) of the plans in force
    during the month; a pool in several plans is taken from the last recorded."""
    found: dict[str, OwnedCost] = {}
    for w in _overlapping(plan_windows(plans), month.start, month.end):
        for record in w.plan.pools:
            if record.market == OWNED and record.pool.startswith("owned:"):
                server, kwh, pue = _server_of(w.plan.plan_id, record)
                found[record.pool] = _owned_cost(record.pool, server, kwh, pue)
    return [found[k] for k in sorted(found)]


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
    for w in _overlapping(plan_windows(plans), month.start, month.end):
        if w.plan.monthly_budget_usd is not None:
            latest[str(w.plan.workload.get("name"))] = w.plan
    if not latest:
        return None
    ids = ", ".join(p.plan_id for p in latest.values())
    return Budget(sum(p.monthly_budget_usd or 0.0 for p in latest.values()),
                  f"monthly_budget_usd of plan{'s' if len(latest) > 1 else ''} {ids}")


# -- cutting time into pieces --------------------------------------------------------------

def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _by_day(a: datetime, b: datetime) -> Iterator[tuple[date, float]]:
    """``[a, b)`` cut at UTC midnights: (day, hours) pieces."""
    while a < b:
        cut = min(b, _midnight(a) + _DAY)
        yield a.date(), _hours(a, cut)
        a = cut


def _by_period(a: datetime, b: datetime, grid: PeriodGrid
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


# -- charges: the unit every figure is summed from -----------------------------------------

@dataclass(frozen=True)
class _Charge:
    day: date
    market: str
    instance_type: str
    region: str
    job: str
    usd: float
    instance_hours: float = 0.0
    gpu_hours: float = 0.0
    on_demand_usd: float = 0.0  # cloud: the same hours at the pool's on-demand price


def _pool_facts(plans: Sequence[PlanDocument]) -> dict[str, tuple[int, float]]:
    """Cloud pool -> (GPUs per instance, on-demand USD per instance-hour), from the plans'
    pool records (the last recorded wins)."""
    return {r.pool: (r.gpus_per_node, r.on_demand_usd_per_hour) for plan in plans
            for r in plan.pools if r.market != OWNED and r.on_demand_usd_per_hour is not None}


def _shares(plan: PlanDocument) -> dict[tuple[str, datetime], list[tuple[str, float]]]:
    """(pool, period start) -> [(job, share of the pool's GPU-hours there)]."""
    hours: dict[tuple[str, datetime], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for a in plan.assignments:
        if a.gpu_hours > 0:
            hours[(a.pool, a.period_start)][a.job] += a.gpu_hours
    out = {}
    for key, jobs in hours.items():
        total = sum(jobs.values())
        out[key] = [(job, h / total) for job, h in sorted(jobs.items())]
    return out


def _cloud_charges(runtimes: Sequence[Runtime], plans: Sequence[PlanDocument], lo: datetime,
                   hi: datetime, now: datetime, notes: list[str]) -> Iterator[_Charge]:
    """The runtimes' spend inside ``[lo, hi)``, cut by day and by their plan's periods."""
    facts = _pool_facts(plans)
    grids = {plan.plan_id: _horizon(plan) for plan in plans}
    shares = {plan.plan_id: _shares(plan) for plan in plans}
    unknown: set[str] = set()
    for r in runtimes:
        clipped = r.clipped(lo, hi, now)
        if clipped is None:
            continue
        a, b = clipped
        if r.pool not in facts:
            unknown.add(r.pool)
        gpus, od_rate = facts.get(r.pool, (0, r.usd_per_hour))
        grid = grids.get(r.plan_id)
        plan_shares = shares.get(r.plan_id, {})
        pieces = _by_period(a, b, grid) if grid else [(None, a, b)]
        for period, pa, pb in pieces:
            split = plan_shares.get((r.pool, period), _NOBODY)
            for day, h in _by_day(pa, pb):
                for job, share in split:
                    hours = h * share
                    yield _Charge(day, r.market, r.instance_type, r.region, job,
                                  hours * r.usd_per_hour, hours, hours * gpus, hours * od_rate)
    if unknown:
        notes.append(f"pool(s) {', '.join(sorted(unknown))} in no recorded plan: their GPU-hours "
                     "are not known (counted 0) and their hours count at their own price in "
                     "the savings against on-demand")


def _owned_charges(owned: Sequence[OwnedCost], windows: Sequence[PlanWindow], lo: datetime,
                   hi: datetime) -> Iterator[_Charge]:
    """Owned servers inside ``[lo, hi)``: fixed cost every hour, and the energy of the
    GPU-hours the plans in force assigned to them (spread evenly over each period)."""
    rates = {o.pool: o for o in owned}
    for o in owned:
        for day, h in _by_day(lo, hi):
            yield _Charge(day, OWNED, o.pool, OWNED_REGION, OWNED_FIXED,
                          h * o.fixed_usd_per_hour, h * o.servers)
    for w in _overlapping(windows, lo, hi):
        a_lo, a_hi = max(lo, w.start), min(hi, w.end)
        for a in w.plan.assignments:
            o = rates.get(a.pool)
            if o is None:
                continue
            begin, end = w.grid.period(a.period_start)
            for day, h in _by_day(max(a_lo, begin), min(a_hi, end)):
                gpu_hours = a.gpu_hours * h / _hours(begin, end)
                yield _Charge(day, OWNED, o.pool, OWNED_REGION, a.job,
                              gpu_hours * o.energy_usd_per_gpu_hour, 0.0, gpu_hours)


def _planned_cloud(windows: Sequence[PlanWindow], lo: datetime, hi: datetime
                   ) -> Iterator[tuple[date, str, float]]:
    """The fleet's slots inside ``[lo, hi)`` and each plan's window: (day, market, USD)."""
    for w in _overlapping(windows, lo, hi):
        s_lo, s_hi = max(lo, w.start), min(hi, w.end)
        for pool in w.plan.fleet:
            for slot in pool.slots:
                for day, h in _by_day(max(s_lo, slot.start), min(s_hi, slot.end)):
                    yield day, pool.market, h * pool.usd_per_hour


# -- summing up ----------------------------------------------------------------------------

def _lines(charges: Iterable[_Charge], key: str) -> tuple[SpendLine, ...]:
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
    day = _midnight(lo)
    while day < hi:
        m = sums.get(day.date(), dict.fromkeys(MARKETS, 0.0))
        out.append(DaySpend(day.date(), m[OWNED], m["on_demand"], m["spot"]))
        day += _DAY
    return tuple(out)


def band_pct(forecast_usd: float, budget_usd: float) -> int:
    """The highest of 50, 80, 100 (% of the budget) the forecast reaches; 0 below 50 %."""
    return max((b for b in BANDS_PCT if forecast_usd >= budget_usd * b / 100), default=0)


def _pct(usd: float, budget_usd: float) -> float | None:
    return None if budget_usd == 0 else 100 * usd / budget_usd


def month_report(month: Month, now: datetime, ledger: LedgerView, *,
                 owned: Sequence[OwnedCost], budget: Budget | None) -> MonthReport:
    """The month's report as of ``now``: spend so far, forecast, budget, breakdowns."""
    as_of = min(max(now, month.start), month.end)
    lo, hi = month.start, month.end
    notes: list[str] = []
    windows = plan_windows(ledger.plans)
    in_month = _overlapping(windows, lo, hi)
    cloud = list(_cloud_charges(ledger.runtimes, ledger.plans, lo, as_of, now, notes))
    charges = cloud + list(_owned_charges(owned, windows, lo, as_of))
    total = sum(c.usd for c in charges)

    planned = [(c.day, OWNED, c.usd) for c in _owned_charges(owned, windows, as_of, hi)]
    planned += list(_planned_cloud(windows, as_of, hi))
    remaining = sum(usd for _d, _m, usd in planned)
    elapsed = _hours(lo, as_of)
    run_rate = total / elapsed * month.hours if elapsed > 0 else None
    larger, basis = total + remaining, "plan"
    if run_rate is not None and run_rate > larger:
        larger, basis = run_rate, "run-rate"
    forecast = Forecast(total + remaining, remaining, run_rate, larger, basis)

    status = None
    if budget is not None:
        status = BudgetStatus(budget.usd, budget.source, _pct(total, budget.usd),
                              _pct(forecast.usd, budget.usd), band_pct(forecast.usd, budget.usd),
                              forecast.usd > budget.usd)

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


def join_cost_explorer(report: MonthReport, costs: Sequence[AwsCost],
                       plan_ids: Sequence[str]) -> MonthReport:
    """The report with Cost Explorer's daily cost per instance type beside the ledger's
    (an outer join on day and instance type; a side with no figure counts 0)."""
    ledger = {(t.day, t.instance_type): t.usd for t in report.cloud_daily_by_type}
    aws: dict[tuple[date, str], float] = defaultdict(float)
    estimated: set[tuple[date, str]] = set()
    for c in costs:
        aws[(c.day, c.instance_type)] += c.usd
        if c.estimated:
            estimated.add((c.day, c.instance_type))
    rows = tuple(JoinedCost(day, itype, ledger.get((day, itype), 0.0), aws.get((day, itype), 0.0),
                            (day, itype) in estimated)
                 for day, itype in sorted(set(ledger) | set(aws)))
    return replace(report, aws=AwsComparison(tuple(plan_ids), rows))


def tagged_plan_ids(report: MonthReport, runtimes: Sequence[Runtime]) -> list[str]:
    """The ``costopt:plan`` tag values to ask Cost Explorer for: the plans in force in the
    month and those of the runtimes in it."""
    return sorted(set(report.plans) | {r.plan_id for r in runtimes})

