"""Writing the plan file: a solved plan (:class:`PlanResult`) as the typed document of
:mod:`costopt.planfile`, the contract its readers share."""

from __future__ import annotations

from typing import Any

from costopt.core.times import ts
from costopt.plan.expected import expected_cost, falls_back_on_demand
from costopt.plan.planner import PlanResult
from costopt.plan.pools import CloudPool, OwnedPool, eligibility
from costopt.plan.protection import protection
from costopt.planfile import (
    SCHEMA,
    AssignmentRecord,
    BaselineRecord,
    Cost,
    FleetPool,
    InstanceHoursRecord,
    JobRecord,
    LaunchOverhead,
    LimitMember,
    LimitRecord,
    PlanDocument,
    PoolRecord,
    ProtectionRecord,
    ShortfallRecord,
    Slot,
    SlotUse,
    plan_id_for,
)
from costopt.workload import Horizon
from costopt.workload_checks import price_date_of


def _r(value: float) -> float:
    return round(float(value), 6) + 0.0


def to_document(result: PlanResult, workload_file: str, workload_sha256: str) -> PlanDocument:
    """The plan file's document (``plan_id`` derived from the rest)."""
    w = result.workload
    h = w.horizon
    used = {a.pool for a in result.assignments} | {ph.pool for ph in result.pool_hours}
    pools_by_id = {p.id: p for p in result.pools.all}
    plan_total = result.total_usd
    expected = expected_cost(result)
    guarded = protection(result)
    bought = {b.pool: b.count for b in result.purchases}
    cloud = w.cloud
    recorded = used | {p.id for p in result.pools.owned}
    speeds: dict[str, dict[str, float]] = {}
    for e in eligibility(w, result.pools, result.catalog):
        pid = result.pools.all[e.pool].id
        if pid in recorded:
            speeds.setdefault(w.jobs[e.job].name, {})[pid] = _r(e.speed)
    doc = PlanDocument(
        schema=SCHEMA,
        plan_id="pending",  # plan_id_for hashes the content without it
        status=result.status,  # type: ignore[arg-type]
        workload={"name": w.name, "file": workload_file, "sha256": workload_sha256},
        horizon=_horizon_record(h),
        budget_usd=w.budget_usd,
        monthly_budget_usd=w.monthly_budget_usd,
        prices={"source": result.catalog.source,
                "price_date": price_date_of(w, result.catalog).isoformat()},
        solver=result.solver,
        objective_usd=_r(result.variable_usd),
        cost=Cost(variable_usd=_r(result.variable_usd), fixed_usd=_r(result.fixed_usd),
                  total_usd=_r(plan_total),
                  by_market={k: _r(v) for k, v in result.by_market.items()},
                  spot_always_there_usd=_r(expected.spot_always_there_usd),
                  expected_usd=_r(expected.expected_usd),
                  expected_on_demand_usd=_r(expected.on_demand_usd)),
        shortfalls=[ShortfallRecord(job=s.job, gpu_hours=_r(s.gpu_hours), reason=s.reason)
                    for s in result.shortfalls],
        assignments=[AssignmentRecord(job=a.job, pool=a.pool, period_start=a.period_start,
                                      gpu_hours=_r(a.gpu_hours),
                                      work_gpu_hours=_r(a.work_gpu_hours),
                                      cost_usd=_r(a.cost_usd)) for a in result.assignments],
        instance_hours=[InstanceHoursRecord(pool=ph.pool, period_start=ph.period_start,
                                            instance_hours=_r(ph.instance_hours),
                                            cost_usd=_r(ph.cost_usd))
                        for ph in result.pool_hours],
        fleet=_fleet(result),
        pools=[_pool_record(pools_by_id[pid], w, bought) for pid in sorted(used)]
        + [_pool_record(p, w, bought) for p in result.pools.owned if p.id not in used],
        purchases=[{"pool": b.pool, "count": b.count, "max_count": b.max_count,
                    "fixed_usd": _r(b.fixed_usd)} for b in result.purchases],
        no_buy_total_usd=None if result.no_buy_total_usd is None
        else _r(result.no_buy_total_usd),
        buy_saving_usd=None if result.no_buy_total_usd is None
        else _r(result.no_buy_total_usd - plan_total),
        baselines={
            name: BaselineRecord(
                variable_usd=_r(b.variable_usd), total_usd=_r(b.total_usd),
                feasible=b.feasible, savings_usd=_r(b.total_usd - plan_total),
                jobs=[{"job": j.job, "pool": j.pool, "owned_gpu_hours": _r(j.owned_gpu_hours),
                       "variable_usd": _r(j.variable_usd), "fits": j.fits, "note": j.note}
                      for j in b.jobs])
            for name, b in result.baselines.items()
        },
        binding={
            "owned": [{"pool": o.pool, "used_gpu_hours": _r(o.used_gpu_hours),
                       "capacity_gpu_hours": _r(o.capacity_gpu_hours),
                       "used_pct": _r(o.used_pct), "full_periods": o.full_periods}
                      for o in result.binding.owned],
            "limits": [{"kind": lim.kind, "name": lim.name, "periods": list(lim.periods),
                        "detail": lim.detail} for lim in result.binding.limits],
            "jobs_on_deadline": list(result.binding.on_deadline),
        },
        notes=list(result.notes) + [f"{v.job} is not protected against losing its spot "
                                    f"capacity: {v.reason}" for v in guarded if not v.protected],
        limits=_limits(result, used),
        launch_overhead=LaunchOverhead(
            setup_minutes=cloud.setup_minutes if cloud else 0.0,
            min_instance_minutes=cloud.min_instance_minutes if cloud else 0.0),
        protection=[ProtectionRecord(job=v.job, protected=v.protected, reason=v.reason)
                    for v in guarded],
        spot_availability_assumed=sorted(
            p.id for p in result.pools.cloud if p.id in used and p.market == "spot"
            and p.availability_source == "assumed"),
        jobs=[JobRecord(job=job.name, gpus=job.gpus, nodes=job.nodes, parallel=job.parallel,
                        run=job.run, setup=job.setup, speeds=speeds.get(job.name, {}))
              for job in w.jobs],
    )
    doc.plan_id = plan_id_for(doc.as_json())
    return doc


def _fleet(result: PlanResult) -> list[FleetPool]:
    """Each used cloud pool's slots from the plan's fleet schedule: the jobs each serves, and
    for a multi-node gang its first slot, the instance's rank and the gang's nodes."""
    w = result.workload
    cloud = w.cloud
    ratio = cloud.spot_max_price_ratio if cloud else 1.0
    schedules = {s.pool: s for s in result.fleet}
    fleet = []
    for pool in result.pools.cloud:
        schedule = schedules.get(pool.id)
        if schedule is None or not schedule.runs:
            continue
        jobs = {a.job for a in result.assignments if a.pool == pool.id}
        fallback = pool.market == "spot" and falls_back_on_demand(w, jobs)
        fleet.append(FleetPool(
            pool=pool.id, region=pool.region, instance_type=pool.instance_type,
            market=pool.market, zone=pool.zone, usd_per_hour=_r(pool.usd_per_hour),
            on_demand_usd_per_hour=_r(pool.on_demand_usd_per_hour),
            spot_max_price_usd=_r(pool.on_demand_usd_per_hour * ratio)
            if pool.market == "spot" else None,
            on_demand_fallback=fallback,
            spot_zone_prices={z: _r(usd) for z, usd in result.spot_zone_prices.get(
                (pool.instance_type, pool.region), {}).items()} if pool.zone else {},
            slots=[Slot(slot=r.slot, start=r.start, end=r.end, setup_end=r.setup_end,
                        jobs=list(r.jobs), gang=r.gang, node_rank=r.node_rank,
                        nodes=r.nodes, uses=[SlotUse(job=u.job, gpus=u.gpus, start=u.start,
                                                     end=u.end) for u in r.uses])
                   for r in schedule.runs]))
    return fleet


def _limits(result: PlanResult, used: set[str]) -> list[LimitRecord]:
    """The concurrency limits over the pools the plan uses, and their own caps."""
    out = [LimitRecord(kind=lim.kind, name=lim.name, bound=lim.bound, unit=lim.unit,
                       members=[LimitMember(pool=pid, weight=wt) for pid, wt in lim.members
                                if pid in used])
           for lim in result.pools.limits]
    out += [LimitRecord(kind="max_instances", name=p.id, bound=float(p.max_instances),
                        unit="instance(s)", members=[LimitMember(pool=p.id, weight=1.0)])
            for p in result.pools.cloud if p.max_instances is not None and p.id in used]
    return [lim for lim in out if lim.members]


def _horizon_record(h: Horizon) -> dict[str, Any]:
    """The horizon and its periods: ``period_hours`` their length when they are equal (the
    longest when they are not), ``period_runs`` their lengths in order."""
    runs = [{"hours": h.period_hours, "count": h.periods}] if h.period_runs is None else [
        {"hours": r.hours, "count": r.count} for r in h.period_runs]
    return {"start": ts(h.start), "end": ts(h.end), "period_hours": max(h.period_lengths),
            "periods": h.periods, "period_runs": runs}


def _pool_record(pool: CloudPool | OwnedPool, w: Any, bought: dict[str, int]) -> PoolRecord:
    if isinstance(pool, OwnedPool):
        s = pool.server
        owned = w.owned
        count = pool.nodes if pool.buy_max is None else bought.get(pool.id, 0)
        return PoolRecord(
            pool=pool.id, market="owned", gpu_model=pool.gpu_model, gpus_per_node=s.gpus,
            count=count, max_count=pool.buy_max, purchase_usd=s.purchase_usd,
            lifetime_years=s.lifetime_years, power_watts=s.power_watts,
            idle_watts=s.idle_watts, availability=s.availability,
            ops_usd_per_month=s.ops_usd_per_month,
            electricity_usd_per_kwh=owned.electricity_usd_per_kwh, pue=owned.pue,
            energy_usd_per_gpu_hour=_r(pool.energy_usd_per_gpu_hour),
            fixed_usd=_r(pool.fixed_usd))  # per server for a candidate
    return PoolRecord(
        pool=pool.id, market=pool.market, gpu_model=pool.gpu_model,
        gpus_per_node=pool.gpus_per_node, region=pool.region,
        instance_type=pool.instance_type, vcpus=pool.vcpus, zone=pool.zone,
        usd_per_hour=_r(pool.usd_per_hour),
        on_demand_usd_per_hour=_r(pool.on_demand_usd_per_hour),
        interruptions_per_hour=_r(pool.interruptions_per_hour),
        price_source=pool.price_source,
        **({"spot_availability": _r(pool.availability),
            "spot_availability_source": pool.availability_source}
           if pool.market == "spot" else {}))


