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
import math
import re
from bisect import bisect_right
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from costopt.errors import MISSING, FieldIssue, PlanFileError
from costopt.files import write_atomically
from costopt.plan.planner import PlanResult
from costopt.plan.pools import CloudPool, OwnedPool
from costopt.plan.protection import protection
from costopt.workload import Horizon, iso, price_date_of, slug
from costopt.workload import _path as field_path

SCHEMA = "costopt.plan/v2"
SCHEMAS = ("costopt.plan/v1", SCHEMA)
"""Plan files ``apply`` and ``report`` read: v1 (no zones, no setup) and v2."""
MAX_PLAN_BYTES = 256 * 2**20  # a plan file larger than this is not one `plan` wrote
MAX_SLOT = 100_000  # slot numbers are instances at once: 0 .. count - 1
MAX_NODES = 64  # a multi-node gang's nodes, as the workload bounds them
LATEST = datetime.fromisoformat("9000-01-01T00:00:00+00:00")  # far from datetime's overflow

AWS_POOL = re.compile(r"aws:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):(?P<instance_type>[a-z0-9-]+"
                      r"\.[a-z0-9-]+):(?P<market>on_demand|spot)(?::(?P<az>[a-z0-9-]+))?")
"""A cloud pool id: ``aws:REGION:TYPE:MARKET`` (a spot pool of one zone: ``...:spot:AZ``)."""
POOL = re.compile(rf"(?:{AWS_POOL.pattern})|(?:(?:owned|buy):[^\x00-\x1f]{{1,200}})")
"""Any pool id: a cloud pool, ``owned:NAME`` or ``buy:NAME`` (a purchase candidate)."""

PoolId = Annotated[str, Field(pattern=rf"^(?:{POOL.pattern})$", max_length=300)]
Usd = Annotated[float, Field(ge=0)]
"""USD (or USD per hour): finite (the model refuses inf and NaN) and never negative."""
Hours = Annotated[float, Field(ge=0)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)


class Cost(_Doc):
    variable_usd: float
    fixed_usd: float
    total_usd: float
    by_market: dict[str, float]


class ShortfallRecord(_Doc):
    job: str
    gpu_hours: Hours
    reason: str


class AssignmentRecord(_Doc):
    job: str
    pool: PoolId
    period_start: AwareDatetime
    gpu_hours: Hours
    work_gpu_hours: Hours
    cost_usd: Usd


class InstanceHoursRecord(_Doc):
    pool: PoolId
    period_start: AwareDatetime
    instance_hours: Hours
    cost_usd: Usd


class Slot(_Doc):
    """One instance over ``[start, end)``; ``slot`` numbers the instances of a pool at once.
    ``jobs``: the jobs it serves; a multi-node gang's ``nodes`` instances share ``gang`` (its
    first slot) and the interval, with ranks ``node_rank`` 0..nodes-1."""

    slot: int = Field(ge=0, le=MAX_SLOT)
    start: AwareDatetime
    end: AwareDatetime
    setup_end: AwareDatetime | None = None  # v2: work starts here; None in v1 (no setup)
    jobs: list[str] = Field(default_factory=list)
    gang: int | None = Field(default=None, ge=0, le=MAX_SLOT)
    node_rank: int | None = Field(default=None, ge=0)
    nodes: int = Field(default=1, ge=1, le=MAX_NODES)

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Slot:
        if self.end <= self.start:
            raise ValueError(f"slot {self.slot} ends ({iso(self.end)}) before it starts "
                             f"({iso(self.start)}); valid: end after start")
        if self.end > LATEST:
            raise ValueError(f"slot {self.slot} ends in {self.end.year}; valid: before 9000")
        if (self.gang is None) != (self.node_rank is None) or (
                self.node_rank is not None and self.node_rank >= self.nodes):
            raise ValueError(f"slot {self.slot}: gang {self.gang}, node_rank "
                             f"{self.node_rank} of {self.nodes} nodes; valid: both or neither, "
                             "and 0 <= node_rank < nodes")
        return self


class FleetPool(_Doc):
    """A cloud pool's schedule. ``spot_max_price_usd`` is the ``MaxPrice`` to bid (USD per
    instance-hour); ``on_demand_fallback`` says whether every job on this spot pool allows
    on-demand, so that the orchestrator may fall back to it."""

    pool: str = Field(pattern=rf"^(?:{AWS_POOL.pattern})$")
    region: str
    instance_type: str
    market: Literal["on_demand", "spot"]
    usd_per_hour: Usd
    on_demand_usd_per_hour: Usd
    spot_max_price_usd: Usd | None = None
    on_demand_fallback: bool = False
    slots: list[Slot]
    zone: str | None = None  # v2: a spot pool's zone ID (use1-az1); None: anywhere in region
    spot_zone_prices: dict[str, Usd] = Field(default_factory=dict)
    """v2: USD per instance-hour of this type's spot in each zone of the region (zone ID ->
    price): where ``apply`` falls back to, at that price."""

    @model_validator(mode="after")
    def _id_matches_fields(self) -> FleetPool:
        match = AWS_POOL.fullmatch(self.pool)
        parts = match.groupdict() if match else {}
        wrong = [f"{k} {getattr(self, k)!r}" for k in ("region", "instance_type", "market")
                 if parts.get(k) != getattr(self, k)]
        if wrong:
            raise ValueError(f"pool {self.pool!r} does not match its {', '.join(wrong)}; "
                             "valid: the pool id aws:REGION:INSTANCE_TYPE:MARKET of the same "
                             "region, instance type and market")
        return self


class JobRecord(_Doc):
    """A job as the instances that serve it need it: its gang's shape and its commands."""

    job: str
    gpus: int = Field(ge=1, le=64)
    nodes: int = Field(default=1, ge=1, le=MAX_NODES)
    parallel: int = Field(default=1, ge=1, le=1024)
    run: str | None = None
    setup: str | None = None


class PoolRecord(_Doc):
    """A pool the plan uses, with the prices (USD per instance-hour) or the owned-server
    figures it was planned with."""

    pool: PoolId
    market: Literal["owned", "on_demand", "spot"]
    gpu_model: str
    gpus_per_node: int = Field(ge=1)
    region: str | None = None
    instance_type: str | None = None
    vcpus: int | None = None
    usd_per_hour: Usd | None = None
    on_demand_usd_per_hour: Usd | None = None
    interruptions_per_hour: Hours | None = None
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


class PeriodRun(_Doc):
    """``count`` periods of ``hours`` hours each, one after another."""

    hours: int = Field(ge=1, le=168)
    count: int = Field(ge=1)


class HorizonRecord(_Doc):
    """The plan's horizon: ``periods`` periods from ``start`` to ``end``, of ``period_hours``
    hours each - or, where ``period_runs`` is given, of those runs' lengths in order (then
    ``period_hours`` is the longest)."""

    start: AwareDatetime
    end: AwareDatetime
    period_hours: int = Field(ge=1, le=168)
    periods: int = Field(ge=1, le=200_000)
    period_runs: list[PeriodRun] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> HorizonRecord:
        if self.end > LATEST:
            raise ValueError(f"end is in {self.end.year}; valid: before 9000")
        runs = self.period_runs or [PeriodRun(hours=self.period_hours, count=self.periods)]
        count = sum(r.count for r in runs)
        hours = sum(r.hours * r.count for r in runs)
        if count != self.periods or self.end - self.start != timedelta(hours=hours) \
                or max(r.hours for r in runs) != self.period_hours:
            raise ValueError(f"start {iso(self.start)}, end {iso(self.end)}, {self.periods} "
                             f"periods of {self.period_hours} h (at most) and the period "
                             "runs do not agree")
        return self

    def boundaries(self) -> list[datetime]:
        """Where each period starts, and the horizon's end last."""
        runs = self.period_runs or [PeriodRun(hours=self.period_hours, count=self.periods)]
        lengths = [timedelta(hours=r.hours) for r in runs for _ in range(r.count)]
        return list(accumulate(lengths, initial=self.start))


class WorkloadRecord(_Doc):
    """Which workload the plan is of: its name (the workload's identity in tags and the
    ledger), the file it was read from and the SHA-256 of its content."""

    name: str = Field(min_length=1, max_length=200)
    file: str | None = None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


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
    plan_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    status: Literal["optimal", "infeasible"]
    workload: dict[str, Any]
    horizon: dict[str, Any]
    budget_usd: Usd | None = None
    monthly_budget_usd: Usd | None = None
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
    jobs: list[JobRecord] = Field(default_factory=list)
    purchases: list[dict[str, Any]] = Field(default_factory=list)
    no_buy_total_usd: float | None = None
    buy_saving_usd: float | None = None
    limits: list[LimitRecord] = Field(default_factory=list)  # v2
    launch_overhead: LaunchOverhead | None = None  # v2

    @field_validator("workload")
    @classmethod
    def _workload(cls, value: dict[str, Any]) -> dict[str, Any]:
        WorkloadRecord.model_validate(value)
        return value

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Checked as a :class:`HorizonRecord`; kept a dict, its times written as UTC."""
        h = HorizonRecord.model_validate(value)
        return {**value, "start": iso(h.start), "end": iso(h.end),
                "period_hours": h.period_hours, "periods": h.periods}  # period_runs as given

    def pool(self, pool_id: str) -> PoolRecord | None:
        return next((p for p in self.pools if p.pool == pool_id), None)

    def job(self, name: str) -> JobRecord | None:
        return next((j for j in self.jobs if j.job == name), None)

    @property
    def workload_name(self) -> str:
        """The workload's identity: its name, as tagged on instances (``costopt:workload``)
        and kept in the ledger. Plans of one workload take over each other's fleet."""
        return str(self.workload["name"])

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
    guarded = protection(result)
    bought = {b.pool: b.count for b in result.purchases}
    cloud = w.cloud
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
        notes=list(result.notes) + [f"{v.job} is not protected against losing its spot "
                                    f"capacity: {v.reason}" for v in guarded if not v.protected],
        limits=_limits(result, used),
        launch_overhead=LaunchOverhead(
            setup_minutes=cloud.setup_minutes if cloud else 0.0,
            min_instance_minutes=cloud.min_instance_minutes if cloud else 0.0),
        protection=[{"job": v.job, "protected": v.protected, "reason": v.reason}
                    for v in guarded],
        spot_availability_assumed=sorted(
            p.id for p in result.pools.cloud if p.id in used and p.market == "spot"
            and p.availability_source == "assumed"),
        jobs=[JobRecord(job=job.name, gpus=job.gpus, nodes=job.nodes, parallel=job.parallel,
                        run=job.run, setup=job.setup) for job in w.jobs],
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
            slots=[Slot(slot=r.slot, start=r.start, end=r.end, setup_end=r.setup_end,
                        jobs=list(r.jobs), gang=r.gang, node_rank=r.node_rank,
                        nodes=r.nodes) for r in schedule.runs]))
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


def plan_id_for(doc: dict[str, Any]) -> str:
    """The plan id of a JSON-ready plan document: the workload's name (as a slug) and 8 hex
    digits of a SHA-256 of the rest of its content - not of ``plan_id`` itself, nor of the
    path the workload was read from (the same workload planned from another path is the same
    plan)."""
    workload = doc.get("workload")
    name = str(workload.get("name", "")) if isinstance(workload, dict) else ""
    content = {**doc, "plan_id": ""}
    if isinstance(workload, dict):
        content["workload"] = {k: v for k, v in workload.items() if k != "file"}
    body = json.dumps(content, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()[:8]
    return f"{slug(name)[:40].strip('-') or 'workload'}-{digest}"


def _horizon_record(h: Horizon) -> dict[str, Any]:
    """The horizon and its periods: ``period_hours`` their length when they are equal (the
    longest when they are not), ``period_runs`` their lengths in order."""
    runs = [{"hours": h.period_hours, "count": h.periods}] if h.period_runs is None else [
        {"hours": r.hours, "count": r.count} for r in h.period_runs]
    return {"start": iso(h.start), "end": iso(h.end), "period_hours": max(h.period_lengths),
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


def write_plan(doc: PlanDocument, path: Path) -> None:
    """Write the plan file atomically (a crash never leaves half a file)."""
    text = json.dumps(doc.as_json(), indent=2) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


def read_plan(path: Path) -> PlanDocument:
    """Read and validate a plan file written by ``costopt plan``: every field (types, finite
    and non-negative numbers, timestamps with a zone, pool ids), its fleet against its own
    instance-hours, and its ``plan_id`` against its content (a file changed after ``plan``
    wrote it is refused). Raises :class:`PlanFileError` naming each field path and value."""
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise PlanFileError.about_file(path, f"larger than {MAX_PLAN_BYTES // 2**20} MB; "
                                           "not a plan file `costopt plan` wrote")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanFileError.about_file(path, "file not found") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise PlanFileError.about_file(path, f"not a JSON plan file: {first}") from None
    if not isinstance(raw, dict) or raw.get("schema") not in SCHEMAS:
        found = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
        raise PlanFileError(str(path), [FieldIssue("schema", found,
                                                   f"expected one of {', '.join(SCHEMAS)}; To "
                                                   "fix: make the plan with `costopt plan`")])
    try:
        plan = PlanDocument.model_validate(raw)
    except ValidationError as exc:
        raise PlanFileError(str(path), _few([_issue(e) for e in exc.errors(
            include_url=False)])) from None
    issues = fleet_issues(plan)
    expected = plan_id_for(raw)
    if plan.plan_id != expected:
        issues.append(FieldIssue("plan_id", plan.plan_id, f"does not match the plan's content "
                                 f"(that gives {expected!r}): the file was changed after "
                                 "`costopt plan` wrote it. To fix: make the plan again with "
                                 "`costopt plan`"))
    if issues:
        raise PlanFileError(str(path), _few(issues))
    return plan


_PATTERNS = {
    "pool": "not a pool id; valid: aws:REGION:INSTANCE_TYPE:MARKET (on_demand or spot), "
    "owned:NAME or buy:NAME",
    "plan_id": "valid: 1 to 64 lower-case letters, digits and dashes, as `costopt plan` "
    "writes it",
    "sha256": "valid: 64 hex digits",
}


def _issue(err: Any) -> FieldIssue:
    """One pydantic error as a field issue: path, value as found, what is valid."""
    loc = tuple(err["loc"])
    value = err.get("input")
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        value, message = MISSING, "is required"
    elif err["type"] == "string_pattern_mismatch":
        message = _PATTERNS.get(str(loc[-1]), message)
    if isinstance(value, dict):
        value = MISSING  # a whole section: the message says what is wrong in it
    elif isinstance(value, list):
        value = f"list of {len(value)}"
    elif isinstance(value, str) and len(value) > 80:
        value = value[:77] + "..."
    return FieldIssue(field_path(loc), value, message)


def _few(issues: list[FieldIssue], most: int = 20) -> list[FieldIssue]:
    """At most ``most`` issues, and how many more there are."""
    if len(issues) <= most:
        return issues
    return [*issues[:most], FieldIssue("...", MISSING, f"and {len(issues) - most} more "
                                       "problems like these")]


def fleet_issues(plan: PlanDocument) -> list[FieldIssue]:
    """What is wrong with the fleet schedule against the rest of the plan: slots outside the
    horizon, or more instances at once than the pool's instance-hours allow (in a period with
    ``u`` instance-hours of ``P`` hours, at most ``ceil(u / P)``, and ``N`` more for each
    multi-node gang of ``N`` of the pool: the planner counts a gang's nodes at once beside the
    rest's whole instances, and a short gang runs ``N`` at once on less than ``P``
    instance-hours; slots are numbered from 0)."""
    h = HorizonRecord.model_validate(plan.horizon)
    edges = h.boundaries()

    def at_once(record: InstanceHoursRecord) -> int:
        t = min(max(bisect_right(edges, record.period_start) - 1, 0), len(edges) - 2)
        hours = (edges[t + 1] - edges[t]).total_seconds() / 3600
        return math.ceil(record.instance_hours / hours - 1e-6)

    issues = []
    for i, pool in enumerate(plan.fleet):
        gangs = {(s.gang, s.nodes) for s in pool.slots if s.gang is not None and s.nodes > 1}
        most = max((at_once(r) for r in plan.instance_hours if r.pool == pool.pool),
                   default=0) + sum(nodes for _gang, nodes in gangs)
        for j, s in enumerate(pool.slots):
            where = f"fleet[{i}].slots[{j}]"
            if s.start < h.start or s.end > h.end:
                issues.append(FieldIssue(where, f"{iso(s.start)}..{iso(s.end)}",
                                         f"outside the plan's horizon {iso(h.start)}.."
                                         f"{iso(h.end)}"))
            elif s.slot >= most:
                issues.append(FieldIssue(f"{where}.slot", s.slot, f"the plan's instance-hours "
                                         f"of {pool.pool} allow at most {most} instance(s) at "
                                         f"once (slots 0..{most - 1})"))
    return issues
