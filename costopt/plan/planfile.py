"""The plan file (``costopt.plan/v2``): what ``plan`` writes and ``apply``/``report`` read.

Self-contained (the prices and owned-server figures it used, the workload's hash, the
concurrency limits its fleet keeps) and deterministic for the same input: no timestamps of
its own, numbers rounded to 6 places. One typed document (:class:`PlanDocument`), written
and read by the same models. The *fleet schedule* holds each cloud pool's slots - whole
instances over ``[start, end)`` intervals, the first ``setup_end - start`` of each paid
setup without work (``costopt.plan.fleet``). v2 adds spot pools per zone (``zone``), the
slots' setup, the launch overhead and the limits; ``apply`` reads v1 files too (a v1 spot
pool launches anywhere in its region).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costopt.errors import FieldIssue, PlanFileError
from costopt.files import write_atomically
from costopt.plan.planner import PlanResult
from costopt.plan.pools import CloudPool, OwnedPool
from costopt.workload import iso, price_date_of, slug

SCHEMA = "costopt.plan/v2"
SCHEMAS = ("costopt.plan/v1", SCHEMA)
"""Plan files ``apply`` and ``report`` read: v1 (no zones, no setup) and v2."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Cost(_Doc):
    variable_usd: float
    fixed_usd: float
    total_usd: float
    by_market: dict[str, float]


class ShortfallRecord(_Doc):
    job: str
    gpu_hours: float
    reason: str


class AssignmentRecord(_Doc):
    job: str
    pool: str
    period_start: datetime
    gpu_hours: float
    work_gpu_hours: float
    cost_usd: float


class InstanceHoursRecord(_Doc):
    pool: str
    period_start: datetime
    instance_hours: float
    cost_usd: float


class Slot(_Doc):
    """One instance over ``[start, end)``; its work starts at ``setup_end`` (v2; ``None``
    in a v1 file: no setup)."""

    slot: int
    start: datetime
    end: datetime
    setup_end: datetime | None = None


class FleetPool(_Doc):
    """A cloud pool's schedule. ``spot_max_price_usd`` is the ``MaxPrice`` to bid (USD per
    instance-hour); ``on_demand_fallback`` says whether every job on this spot pool allows
    on-demand, so that the orchestrator may fall back to it."""

    pool: str
    region: str
    instance_type: str
    market: Literal["on_demand", "spot"]
    usd_per_hour: float
    on_demand_usd_per_hour: float
    spot_max_price_usd: float | None = None
    on_demand_fallback: bool = False
    slots: list[Slot]
    zone: str | None = None  # v2: a spot pool's zone ID (use1-az1); None: anywhere in region
    spot_zone_prices: dict[str, float] = Field(default_factory=dict)
    """v2: USD per instance-hour of this type's spot in each zone of the region (zone ID ->
    price): where ``apply`` falls back to, at that price."""


class PoolRecord(_Doc):
    """A pool the plan uses, with the prices (USD per instance-hour) or the owned-server
    figures it was planned with."""

    pool: str
    market: Literal["owned", "on_demand", "spot"]
    gpu_model: str
    gpus_per_node: int
    region: str | None = None
    instance_type: str | None = None
    vcpus: int | None = None
    usd_per_hour: float | None = None
    on_demand_usd_per_hour: float | None = None
    interruptions_per_hour: float | None = None
    price_source: str | None = None
    zone: str | None = None  # v2: a spot pool's zone ID
    count: int | None = None  # servers (for a candidate: the number bought)
    max_count: int | None = None  # a candidate's most to buy; None for servers owned
    purchase_usd: float | None = None
    lifetime_years: float | None = None
    power_watts: float | None = None
    idle_watts: float | None = None
    availability: float | None = None
    ops_usd_per_month: float | None = None
    electricity_usd_per_kwh: float | None = None
    pue: float | None = None
    energy_usd_per_gpu_hour: float | None = None
    fixed_usd: float | None = None


class BaselineRecord(_Doc):
    variable_usd: float
    total_usd: float
    feasible: bool
    savings_usd: float  # baseline total minus the plan's total
    jobs: list[dict[str, Any]]


class LimitMember(_Doc):
    pool: str
    weight: float  # vCPUs of one instance (a quota), or 1 (instances)


class LimitRecord(_Doc):
    """What may run at once (v2): a quota line, or a ``max_instances`` cap (over one pool,
    or over a region's spot zones). At every instant of the fleet schedule, the sum over
    the members' running slots of their weight is at most ``bound``."""

    kind: Literal["quota", "max_instances"]
    name: str
    bound: float
    unit: str
    members: list[LimitMember]


class LaunchOverhead(_Doc):
    """v2: minutes every launch and start is paid without work, and the shortest run and
    pause of a slot."""

    setup_minutes: float
    min_instance_minutes: float


class PlanDocument(_Doc):
    """The plan file, as written and as read back by ``apply`` and ``report``."""

    schema_: Literal["costopt.plan/v1", "costopt.plan/v2"] = Field(alias="schema")
    plan_id: str
    status: Literal["optimal", "infeasible"]
    workload: dict[str, Any]
    horizon: dict[str, Any]
    budget_usd: float | None = None
    monthly_budget_usd: float | None = None
    prices: dict[str, Any]
    solver: str
    objective_usd: float | None = None  # the LP's objective: the variable cost, USD
    cost: Cost
    shortfalls: list[ShortfallRecord]
    assignments: list[AssignmentRecord]
    instance_hours: list[InstanceHoursRecord]
    fleet: list[FleetPool]
    pools: list[PoolRecord]
    baselines: dict[str, BaselineRecord]
    binding: dict[str, Any]
    notes: list[str] = Field(default_factory=list)
    purchases: list[dict[str, Any]] = Field(default_factory=list)
    no_buy_total_usd: float | None = None
    buy_saving_usd: float | None = None
    limits: list[LimitRecord] = Field(default_factory=list)  # v2
    launch_overhead: LaunchOverhead | None = None  # v2

    def pool(self, pool_id: str) -> PoolRecord | None:
        return next((p for p in self.pools if p.pool == pool_id), None)

    def as_json(self) -> dict[str, Any]:
        """The document as the file holds it (JSON types, ``schema`` by its name)."""
        return self.model_dump(mode="json", by_alias=True)


def _r(value: float) -> float:
    return round(float(value), 6) + 0.0


def to_document(result: PlanResult, workload_file: str, workload_sha256: str) -> PlanDocument:
    """The plan file's document (``plan_id`` derived from the rest)."""
    w = result.workload
    h = w.horizon
    used = {a.pool for a in result.assignments} | {ph.pool for ph in result.pool_hours}
    pools_by_id = {p.id: p for p in result.pools.all}
    plan_total = result.total_usd
    bought = {b.pool: b.count for b in result.purchases}
    cloud = w.cloud
    doc = PlanDocument(
        schema=SCHEMA,
        plan_id="",
        status=result.status,  # type: ignore[arg-type]
        workload={"name": w.name, "file": workload_file, "sha256": workload_sha256},
        horizon={"start": iso(h.start), "end": iso(h.end), "period_hours": h.period_hours,
                 "periods": h.periods},
        budget_usd=w.budget_usd,
        monthly_budget_usd=w.monthly_budget_usd,
        prices={"source": result.catalog.source,
                "price_date": price_date_of(w, result.catalog).isoformat()},
        solver=result.solver,
        objective_usd=_r(result.variable_usd),
        cost=Cost(variable_usd=_r(result.variable_usd), fixed_usd=_r(result.fixed_usd),
                  total_usd=_r(plan_total),
                  by_market={k: _r(v) for k, v in result.by_market.items()}),
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
        notes=list(result.notes),
        limits=_limits(result, used),
        launch_overhead=LaunchOverhead(
            setup_minutes=cloud.setup_minutes if cloud else 0.0,
            min_instance_minutes=cloud.min_instance_minutes if cloud else 0.0),
    )
    body = json.dumps(doc.as_json(), sort_keys=True, separators=(",", ":"))
    doc.plan_id = f"{slug(w.name)}-{hashlib.sha256(body.encode()).hexdigest()[:8]}"
    return doc


def _fleet(result: PlanResult) -> list[FleetPool]:
    """Each used cloud pool's slots from the plan's fleet schedule."""
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
        fallback = pool.market == "spot" and all(
            "on_demand" in job.allowed_kinds() for job in w.jobs if job.name in jobs
        ) and (cloud is None or "on_demand" in cloud.markets)
        fleet.append(FleetPool(
            pool=pool.id, region=pool.region, instance_type=pool.instance_type,
            market=pool.market, zone=pool.zone, usd_per_hour=_r(pool.usd_per_hour),
            on_demand_usd_per_hour=_r(pool.on_demand_usd_per_hour),
            spot_max_price_usd=_r(pool.on_demand_usd_per_hour * ratio)
            if pool.market == "spot" else None,
            on_demand_fallback=fallback,
            spot_zone_prices={z: _r(usd) for z, usd in result.spot_zone_prices.get(
                (pool.instance_type, pool.region), {}).items()} if pool.zone else {},
            slots=[Slot(slot=r.slot, start=r.start, end=r.end, setup_end=r.setup_end)
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
        price_source=pool.price_source)


def write_plan(doc: PlanDocument, path: Path) -> None:
    """Write the plan file atomically (a crash never leaves half a file)."""
    text = json.dumps(doc.as_json(), indent=2) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


def read_plan(path: Path) -> PlanDocument:
    """Read and validate a plan file written by ``costopt plan``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanFileError.about_file(path, "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanFileError.about_file(path, f"not a JSON plan file: {exc}") from None
    if not isinstance(raw, dict) or raw.get("schema") not in SCHEMAS:
        found = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
        raise PlanFileError(str(path), [FieldIssue("schema", found,
                                                   f"expected one of {', '.join(SCHEMAS)}; To "
                                                   "fix: make the plan with `costopt plan`")])
    try:
        return PlanDocument.model_validate(raw)
    except ValidationError as exc:
        issues = [FieldIssue(".".join(str(p) for p in e["loc"]), e.get("input"), e["msg"])
                  for e in exc.errors(include_url=False)]
        raise PlanFileError(str(path), issues) from None
