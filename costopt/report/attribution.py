"""Who and what each dollar of the month is charged to: the charges every figure of the
monthly report is summed from (``spend.py`` sums them), and the owned servers' costs.

- **Cloud spend**: each ledger runtime clipped to the window x the USD per instance-hour
  in force, under the market the instance really ran as; cut by UTC day and by its plan's
  periods. A cloud pool's spend in a plan period goes to the jobs that plan assigned to the
  pool in that period, in proportion to their GPU-hours there; spend with no assignment
  goes to ``(unassigned)``.
- **Owned servers**: owned all month, so the fixed cost (amortisation + idle energy + ops)
  accrues every hour, as its own line; active energy is the GPU-hours the plans in force
  assigned to a server (spread evenly over each period) x its energy USD per GPU-hour, and
  goes to the job it was assigned to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import ValidationError

from costopt.core.months import Month
from costopt.core.periods import Periods
from costopt.costs import energy_usd_per_gpu_hour, fixed_usd
from costopt.errors import ReportError
from costopt.orchestrate.ledger import Runtime
from costopt.planfile import PlanDocument, PoolRecord
from costopt.report.windows import (
    PlanWindow,
    by_day,
    by_period,
    hours_between,
    overlapping,
    plan_windows,
)
from costopt.workload import OwnedServer, ServerSpec, Workload

OWNED = "owned"
MARKETS = (OWNED, "on_demand", "spot")
OWNED_REGION = "on-premises"
UNASSIGNED = "(unassigned)"
OWNED_FIXED = "(owned fixed cost)"
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
    for w in overlapping(plan_windows(plans), month.start, month.end):
        for record in w.plan.pools:
            if record.market == OWNED and record.pool.startswith("owned:"):
                server, kwh, pue = _server_of(w.plan.plan_id, record)
                found[record.pool] = _owned_cost(record.pool, server, kwh, pue)
    return [found[k] for k in sorted(found)]


@dataclass(frozen=True)
class Charge:
    """One piece of spend (USD): a day, a market, an instance type, a region and the job it
    is charged to, with its instance-hours, GPU-hours and (cloud) the same hours at the
    pool's on-demand price."""

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


def cloud_charges(runtimes: Sequence[Runtime], plans: Sequence[PlanDocument], lo: datetime,
                   hi: datetime, now: datetime, notes: list[str]) -> Iterator[Charge]:
    """The runtimes' spend inside ``[lo, hi)``, cut by day and by their plan's periods."""
    facts = _pool_facts(plans)
    grids = {plan.plan_id: Periods.of_plan(plan.horizon) for plan in plans}
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
        pieces = by_period(a, b, grid) if grid else [(None, a, b)]
        for period, pa, pb in pieces:
            split = plan_shares.get((r.pool, period), _NOBODY)
            for day, h in by_day(pa, pb):
                for job, share in split:
                    hours = h * share
                    yield Charge(day, r.market, r.instance_type, r.region, job,
                                  hours * r.usd_per_hour, hours, hours * gpus, hours * od_rate)
    if unknown:
        notes.append(f"pool(s) {', '.join(sorted(unknown))} in no recorded plan: their GPU-hours "
                     "are not known (counted 0) and their hours count at their own price in "
                     "the savings against on-demand")


def owned_charges(owned: Sequence[OwnedCost], windows: Sequence[PlanWindow], lo: datetime,
                   hi: datetime) -> Iterator[Charge]:
    """Owned servers inside ``[lo, hi)``: fixed cost every hour, and the energy of the
    GPU-hours the plans in force assigned to them (spread evenly over each period)."""
    rates = {o.pool: o for o in owned}
    for o in owned:
        for day, h in by_day(lo, hi):
            yield Charge(day, OWNED, o.pool, OWNED_REGION, OWNED_FIXED,
                          h * o.fixed_usd_per_hour, h * o.servers)
    for w in overlapping(windows, lo, hi):
        a_lo, a_hi = max(lo, w.start), min(hi, w.end)
        for a in w.plan.assignments:
            o = rates.get(a.pool)
            if o is None:
                continue
            begin, end = w.grid.period(a.period_start)
            for day, h in by_day(max(a_lo, begin), min(a_hi, end)):
                gpu_hours = a.gpu_hours * h / hours_between(begin, end)
                yield Charge(day, OWNED, o.pool, OWNED_REGION, a.job,
                              gpu_hours * o.energy_usd_per_gpu_hour, 0.0, gpu_hours)

