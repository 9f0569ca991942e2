"""Is each interruptible job protected against losing its spot capacity? (spec v2, "Spot as
it is"). Pure: a solved plan in, a verdict per job that the plan puts on spot out.

A job is *protected* when, if spot fails at the start of any period ``k`` of its window (and
stays gone), the rest of its work still fits by its deadline without spot:

    W - done_before(k)  <=  planned_elsewhere_from(k) + room_from(k)

- ``done_before(k)``: the work the plan does for it before ``k``, on any pool;
- ``planned_elsewhere_from(k)``: the work the plan still does for it from ``k`` on pools
  other than spot (owned servers, on-demand);
- ``room_from(k)``: what one gang of it can do on the best *fallback* from ``k`` to the
  deadline: an on-demand pool it may use whose quota lines hold one instance and whose
  ``max_instances`` is not 0, at ``gpus · speed`` an hour less what the plan already has it
  do there; else owned servers it may use, with the GPUs the plan leaves free in each period.
- the budget: the plan's variable cost plus what redoing that spot work on on-demand costs
  beyond the spot it replaces must stay within ``budget_usd``.

A job that fails names the first reason: no fallback it may use, the quota, the deadline
(with the period and the figures), or the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from costopt.core.pool_ids import is_owned_pool, parse_pool_id
from costopt.plan.pools import CloudPool, OwnedPool, Pool, Pools, eligibility
from costopt.workload import Job, Workload

if TYPE_CHECKING:  # read with the plan file, which needs neither numpy nor the solvers
    from costopt.plan.planner import Assignment, PlanResult


@dataclass(frozen=True)
class Protection:
    """Whether ``job`` can still finish by its deadline if its spot capacity is lost."""

    job: str
    protected: bool
    reason: str


def protection(result: PlanResult) -> list[Protection]:
    """A verdict for each interruptible job the plan puts on spot."""
    w, pools = result.workload, result.pools
    cloud = w.cloud
    hours = [float(h) for h in w.horizon.period_lengths]
    spot = {p.id for p in pools.cloud if p.market == "spot"}
    pairs = eligibility(w, pools, result.catalog)
    used_owned: dict[tuple[str, int], float] = {}
    by_job: dict[str, list[Assignment]] = {}
    for a in result.assignments:
        by_job.setdefault(a.job, []).append(a)
        if is_owned_pool(a.pool):
            used_owned[(a.pool, a.period)] = used_owned.get((a.pool, a.period), 0.0) + a.gpu_hours
    options: dict[int, list[tuple[Pool, float]]] = {}
    for e in pairs:
        if pools.all[e.pool].market in ("on_demand", "owned"):
            options.setdefault(e.job, []).append((pools.all[e.pool], e.speed))
    out = []
    for j, job in enumerate(w.jobs):
        mine = by_job.get(job.name, [])
        if not job.interruptible or not any(a.pool in spot for a in mine):
            continue
        window = list(w.job_periods(job))
        fallbacks = options.get(j, [])
        on_demand = [(p, s) for p, s in fallbacks if isinstance(p, CloudPool)
                     and _fits_quota(p, cloud)]
        if not fallbacks and not ("on_demand" in job.allowed_kinds()
                                  and _on_demand_over_quota(pools)):
            out.append(Protection(job.name, False, _no_fallback(job, w)))
            continue
        if not on_demand and not any(isinstance(p, OwnedPool) for p, _s in fallbacks):
            out.append(Protection(job.name, False, "the quota or max_instances leaves no room "
                                  "for one on-demand instance of the pools it may use"))
            continue
        verdict = None
        for k in window:
            done = sum(a.work_gpu_hours for a in mine if a.period < k)
            elsewhere = sum(a.work_gpu_hours for a in mine if a.period >= k
                            and a.pool not in spot)
            room, usd = _room(job.gpus, [t for t in window if t >= k], hours, on_demand,
                              [(p, s) for p, s in fallbacks if isinstance(p, OwnedPool)],
                              used_owned, {(a.pool, a.period): a.gpu_hours for a in mine})
            missing = job.gpu_hours - done - elsewhere
            if missing > room + 1e-6:
                verdict = Protection(
                    job.name, False, f"deadline: if spot fails from "
                    f"{w.horizon.period_start(k):%Y-%m-%d %H:%M}, {missing:,.1f} GPU-hours are "
                    f"left and on-demand/owned can do {room:,.1f} by its deadline")
                break
            spot_usd = sum(a.cost_usd for a in mine if a.period >= k and a.pool in spot)
            extra = missing / room * usd - spot_usd if room > 0 else 0.0
            if w.budget_usd is not None and result.variable_usd + extra > w.budget_usd + 1e-6:
                verdict = Protection(
                    job.name, False, f"budget: redoing its spot work on on-demand from "
                    f"{w.horizon.period_start(k):%Y-%m-%d %H:%M} costs {extra:,.2f} USD more, "
                    f"past budget_usd {w.budget_usd:,.2f} (plan {result.variable_usd:,.2f})")
                break
        out.append(verdict or Protection(job.name, True, "on-demand or owned room to finish "
                                         "by its deadline from any period"))
    return out


def _no_fallback(job: Job, w: Workload) -> str:
    """Why a job has no on-demand or owned pool: its ``allow``, else what the workload
    offers (``cloud.markets``, owned servers) or what fits it."""
    kinds = job.allowed_kinds()
    if not kinds & {"on_demand", "owned"}:
        return f"it may run on no on-demand or owned pool (allow: {', '.join(sorted(kinds))})"
    causes = []
    if "on_demand" in kinds:
        markets = w.cloud.markets if w.cloud else []
        causes.append(f"cloud.markets is [{', '.join(markets)}], without on_demand"
                      if "on_demand" not in markets else "no on-demand pool fits it (GPUs, "
                      "memory, regions or cloud.instance_types)")
    if "owned" in kinds:
        causes.append("the workload has no owned servers" if not w.servers
                      else "no owned server fits it")
    return "no on-demand or owned pool to fall back on: " + "; ".join(causes)


def _on_demand_over_quota(pools: Pools) -> bool:
    """Whether an on-demand pool was left out because one instance is over its quota."""
    return any(parse_pool_id(o.pool).market == "on_demand" for o in pools.over_quota)


def _fits_quota(pool: CloudPool, cloud: object) -> bool:
    """One instance of ``pool`` within its quota lines and ``max_instances``."""
    if pool.max_instances == 0:
        return False
    quotas = getattr(cloud, "quotas", [])
    return all(q.vcpus >= pool.vcpus for q in quotas
               if (q.region, q.market, q.family) == (pool.region, pool.market,
                                                      pool.quota_family))


def _room(gang: int, periods: list[int], hours: list[float],
          on_demand: list[tuple[CloudPool, float]], owned: list[tuple[OwnedPool, float]],
          used_owned: dict[tuple[str, int], float],
          mine: dict[tuple[str, int], float]) -> tuple[float, float]:
    """Work (reference GPU-hours) one gang can add over ``periods`` on the best fallback, and
    what that costs (USD): the fastest on-demand pool (the cheapest of equals), else owned
    spare GPUs."""
    if on_demand:
        pool, speed = max(on_demand, key=lambda ps: (ps[1], -ps[0].usd_per_hour))
        gpu_hours = sum(max(0.0, gang * hours[t] - mine.get((pool.id, t), 0.0))
                        for t in periods)
        instance_hours = gpu_hours / gang
        return gpu_hours * speed, instance_hours * pool.usd_per_hour
    work = usd = 0.0
    for t in periods:
        free_gang = gang * hours[t]
        for pool, speed in owned:
            spare = pool.capacity_gpu_hours(int(hours[t])) - used_owned.get((pool.id, t), 0.0)
            take = max(0.0, min(free_gang, spare))
            free_gang -= take
            work += take * speed
            usd += take * pool.energy_usd_per_gpu_hour
    return work, usd
