"""The hindsight optimum: what a clairvoyant planner would pay for the same work.

The plan's LP (:func:`costopt.plan.planner.make_plan`) with each traced spot pool's
instance-hours in each period capped by its trace, exactly aggregated: the sum over the
period's ticks of ``min(count, max_instances)`` times the tick's hours inside the period
(traces of several zones of one regional pool add up, each capped by itself). Dominated pools
are not pruned: a cheaper pool the traces starve no longer dominates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from costopt.plan.planner import PlanResult, make_plan
from costopt.plan.pools import build_pools
from costopt.pricing.catalog import PriceCatalog
from costopt.traces import PoolTrace, check_coverage, traces_by_pool
from costopt.workload import Workload


@dataclass(frozen=True)
class Hindsight:
    """The hindsight optimum's variable cost (USD), ``None`` when the traces leave it no
    way to do all the work (``note`` says which jobs fall short)."""

    usd: float | None
    note: str
    result: PlanResult


def capacity_caps(workload: Workload, catalog: PriceCatalog,
                  traces: list[PoolTrace]) -> dict[tuple[str, int], float]:
    """Instance-hours per (spot pool id, period index) the traces allow."""
    h = workload.horizon
    pools = {p.id: p for p in build_pools(workload, catalog).cloud if p.market == "spot"}
    sources = traces_by_pool(sorted(pools), traces)
    check_coverage(sources, h.start, h.end)
    caps: dict[tuple[str, int], float] = {}
    for pool_id, pool_traces in sources.items():
        most = pools[pool_id].max_instances
        for t in range(h.periods):
            start = h.period_start(t)
            end = start + timedelta(hours=h.period_lengths[t])
            caps[(pool_id, t)] = sum(
                tr.capacity_hours(start, end, math.inf if most is None else float(most))
                for tr in pool_traces)
    return caps


def clairvoyant(workload: Workload) -> Workload:
    """The workload as a planner that knows the traces plans it: spot is there whenever the
    traces' caps say (no availability estimate to derate it by) and no deadline reserve
    (nothing vanishes unforeseen)."""
    if workload.cloud is None:
        return workload
    cloud = workload.cloud.model_copy(update={
        "spot_availability_default": 1.0, "spot_availability": [], "spot_traces": None,
        "deadline_reserve": False})
    return workload.model_copy(update={"cloud": cloud})


def hindsight(workload: Workload, catalog: PriceCatalog, traces: list[PoolTrace], *,
              solver: str = "cbc") -> Hindsight:
    workload = clairvoyant(workload)
    caps = capacity_caps(workload, catalog, traces)
    result = make_plan(workload, catalog, solver=solver, prune=False, u_upper=caps)
    if result.status != "optimal":
        short = "; ".join(f"{s.job} short {s.gpu_hours:,.1f} GPU-h ({s.reason})"
                          for s in result.shortfalls)
        return Hindsight(None, f"no way to do all the work within the traces: {short}", result)
    return Hindsight(result.variable_usd, "", result)
