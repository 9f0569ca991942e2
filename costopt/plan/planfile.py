"""The plan file (``costopt.plan/v1``): what ``plan`` writes and ``apply``/``report`` read.

Self-contained (the prices and owned-server figures it used, the workload's hash) and
deterministic for the same input: no timestamps of its own, numbers rounded to 6 places.
The *fleet schedule* turns each cloud pool's instance-hours per period into slots - whole
instances over ``[start, end)`` intervals - where slot ``k`` continues from one period into
the next while it is still wanted.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
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

SCHEMA = "costopt.plan/v1"
MIN_SLOT_SECONDS = 60  # AWS bills Linux per second with a one-minute minimum
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


class PlanDocument(_Doc):
    """The plan file, as written and as read back by ``apply`` and ``report``."""

    schema_: Literal["costopt.plan/v1"] = Field(alias="schema")
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


def fleet_slots(period_starts: list[datetime], period_hours: Sequence[int],
                hours_by_period: dict[int, float]) -> list[tuple[int, datetime, datetime]]:
    """Slots ``(k, start, end)`` of one pool from its instance-hours per period
    (``period_hours[t]``: period ``t``'s length in hours).

    In a period of ``P`` hours with ``u`` instance-hours, slots ``0..floor(u/P)-1`` run the
    whole period
    and slot ``floor(u/P)`` runs the rest: at the start of the period if it ran at the end
    of the previous one, at the end if it runs the whole next period, else at the start.
    Intervals of a slot that touch are merged, so an instance is not stopped at a period
    boundary only to be started again.
    """
    full = {t: math.floor(h / period_hours[t] + 1e-9) for t, h in hours_by_period.items()}
    intervals: dict[int, list[list[datetime]]] = {}
    running_at_end: set[int] = set()  # slots running at the end of period t-1
    for t in sorted(hours_by_period):
        if t - 1 not in hours_by_period:
            running_at_end = set()
        begin = period_starts[t]
        end = begin + timedelta(hours=period_hours[t])
        n = full[t]
        spans = [(k, begin, end) for k in range(n)]
        rest = round((hours_by_period[t] - n * period_hours[t]) * 3600)
        if rest >= 1:
            rest = max(rest, MIN_SLOT_SECONDS)
            at_end = n not in running_at_end and full.get(t + 1, 0) > n
            spans.append((n, end - timedelta(seconds=rest), end) if at_end
                         else (n, begin, begin + timedelta(seconds=rest)))
        running_at_end = {k for k, _s, e in spans if e == end}
        for k, s, e in spans:
            runs = intervals.setdefault(k, [])
            if runs and runs[-1][1] == s:
                runs[-1][1] = e
            else:
                runs.append([s, e])
    return sorted((k, s, e) for k, runs in intervals.items() for s, e in runs)


@dataclass(frozen=True)
class FleetSlot:
    """One interval ``[start, end)`` of slot ``slot``, the jobs it serves, and for a
    multi-node gang its first slot, this instance's rank and the gang's nodes."""

    slot: int
    start: datetime
    end: datetime
    jobs: tuple[str, ...]
    gang: int | None = None
    node_rank: int | None = None
    nodes: int = 1


@dataclass(frozen=True)
class PoolUse:
    """What runs on one cloud pool: its instance-hours per period, the instance-hours per
    period of each multi-node job (``nodes`` and hours; such a gang's nodes are its own),
    the jobs that run on it per period, and which jobs have a ``run`` command."""

    instance_hours: dict[int, float]
    gangs: dict[str, tuple[int, dict[int, float]]]
    jobs: dict[int, set[str]]
    commanded: frozenset[str] = frozenset()


def pool_slots(period_starts: list[datetime], period_hours: Sequence[int],
               use: PoolUse) -> list[FleetSlot]:
    """The slots of one pool. Each multi-node job's gangs come first: its instance-hours
    over its ``nodes`` are gang-hours, laid out by :func:`fleet_slots`, and every gang slot
    becomes ``nodes`` slots with the same intervals (never one alone). The pool's other
    instance-hours follow as :func:`fleet_slots` lays them out, each interval serving the
    one-node jobs that run on the pool in the periods it overlaps. A slot runs the same
    commands in all its intervals (its instance's user data holds them): an interval that
    would serve other jobs with a ``run`` gets a slot number of its own."""
    out: list[FleetSlot] = []
    base = 0
    rest = dict(use.instance_hours)
    for job, (nodes, hours) in sorted(use.gangs.items()):
        spans = fleet_slots(period_starts, period_hours, {t: h / nodes for t, h in hours.items()})
        for k, start, end in spans:
            first = base + k * nodes
            out += [FleetSlot(first + r, start, end, (job,), first, r, nodes)
                    for r in range(nodes)]
        base += nodes * (1 + max((k for k, _s, _e in spans), default=-1))
        for t, h in hours.items():
            rest[t] = rest.get(t, 0.0) - h
    single = {t: names - set(use.gangs) for t, names in use.jobs.items()}
    spans = fleet_slots(period_starts, period_hours, {t: h for t, h in rest.items() if h > 1e-6})
    number: dict[tuple[int, frozenset[str]], int] = {}  # (k, commands run) -> slot number
    extra = base + 1 + max((k for k, _s, _e in spans), default=-1)
    for k, start, end in spans:
        jobs = tuple(sorted(set().union(*(
            names for t, names in single.items()
            if period_starts[t] < end
            and start < period_starts[t] + timedelta(hours=period_hours[t])))))
        key = (k, use.commanded & set(jobs))
        if key not in number:
            taken = any(known[0] == k for known in number)
            number[key] = extra if taken else base + k
            extra += taken
        out.append(FleetSlot(number[key], start, end, jobs))
    return sorted(out, key=lambda s: (s.slot, s.start))


def pool_uses(result: PlanResult) -> dict[str, PoolUse]:
    """Each cloud pool's :class:`PoolUse` from a solved plan."""
    jobs = {job.name: job for job in result.workload.jobs}
    commanded = frozenset(name for name, job in jobs.items() if job.run)
    uses: dict[str, PoolUse] = {}
    for ph in result.pool_hours:
        use = uses.setdefault(ph.pool, PoolUse({}, {}, {}, commanded))
        use.instance_hours[ph.period] = ph.instance_hours
    for a in result.assignments:
        use = uses.get(a.pool)
        if use is None:
            continue  # an owned pool
        use.jobs.setdefault(a.period, set()).add(a.job)
        job = jobs[a.job]
        if job.nodes > 1:
            hours = use.gangs.setdefault(a.job, (job.nodes, {}))[1]
            hours[a.period] = a.gpu_hours / job.gpus
    return uses


def _r(value: float) -> float:
    return round(float(value), 6) + 0.0


def to_document(result: PlanResult, workload_file: str, workload_sha256: str) -> dict[str, Any]:
    """The plan file's content as a JSON-ready dict (``plan_id`` derived from the rest)."""
    w = result.workload
    h = w.horizon
    period_starts = [h.period_start(t) for t in range(h.periods)]
    used = {a.pool for a in result.assignments} | {ph.pool for ph in result.pool_hours}
    pools_by_id = {p.id: p for p in result.pools.all}
    cloud = w.cloud
    ratio = cloud.spot_max_price_ratio if cloud else 1.0
    fleet = []
    uses = pool_uses(result)
    for pool in result.pools.cloud:
        if pool.id not in uses:
            continue
        jobs = {a.job for a in result.assignments if a.pool == pool.id}
        fallback = pool.market == "spot" and all(
            "on_demand" in job.allowed_kinds() for job in w.jobs if job.name in jobs
        ) and (cloud is None or "on_demand" in cloud.markets)
        fleet.append({
            "pool": pool.id, "region": pool.region, "instance_type": pool.instance_type,
            "market": pool.market, "usd_per_hour": _r(pool.usd_per_hour),
            "on_demand_usd_per_hour": _r(pool.on_demand_usd_per_hour),
            "spot_max_price_usd": _r(pool.on_demand_usd_per_hour * ratio)
            if pool.market == "spot" else None,
            "on_demand_fallback": fallback,
            "slots": [_slot_record(s) for s in pool_slots(period_starts, h.period_lengths,
                                                           uses[pool.id])],
        })
    plan_total = result.total_usd
    guarded = protection(result)
    bought = {b.pool: b.count for b in result.purchases}
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "plan_id": "",
        "status": result.status,
        "workload": {"name": w.name, "file": workload_file, "sha256": workload_sha256},
        "horizon": _horizon_record(h),
        "budget_usd": w.budget_usd,
        "monthly_budget_usd": w.monthly_budget_usd,
        "prices": {"source": result.catalog.source,
                   "price_date": price_date_of(w, result.catalog).isoformat()},
        "solver": result.solver,
        "objective_usd": _r(result.variable_usd),
        "cost": {"variable_usd": _r(result.variable_usd), "fixed_usd": _r(result.fixed_usd),
                 "total_usd": _r(plan_total),
                 "by_market": {k: _r(v) for k, v in result.by_market.items()}},
        "shortfalls": [{"job": s.job, "gpu_hours": _r(s.gpu_hours), "reason": s.reason}
                       for s in result.shortfalls],
        "assignments": [{"job": a.job, "pool": a.pool, "period_start": iso(a.period_start),
                         "gpu_hours": _r(a.gpu_hours), "work_gpu_hours": _r(a.work_gpu_hours),
                         "cost_usd": _r(a.cost_usd)} for a in result.assignments],
        "instance_hours": [{"pool": ph.pool, "period_start": iso(ph.period_start),
                            "instance_hours": _r(ph.instance_hours), "cost_usd": _r(ph.cost_usd)}
                           for ph in result.pool_hours],
        "fleet": fleet,
        "pools": [_pool_record(pools_by_id[pid], w, bought) for pid in sorted(used)]
        + [_pool_record(p, w, bought) for p in result.pools.owned if p.id not in used],
        "purchases": [{"pool": b.pool, "count": b.count, "max_count": b.max_count,
                       "fixed_usd": _r(b.fixed_usd)} for b in result.purchases],
        "no_buy_total_usd": None if result.no_buy_total_usd is None
        else _r(result.no_buy_total_usd),
        "buy_saving_usd": None if result.no_buy_total_usd is None
        else _r(result.no_buy_total_usd - plan_total),
        "baselines": {
            name: {"variable_usd": _r(b.variable_usd), "total_usd": _r(b.total_usd),
                   "feasible": b.feasible, "savings_usd": _r(b.total_usd - plan_total),
                   "jobs": [{"job": j.job, "pool": j.pool, "owned_gpu_hours": _r(j.owned_gpu_hours),
                             "variable_usd": _r(j.variable_usd), "fits": j.fits, "note": j.note}
                            for j in b.jobs]}
            for name, b in result.baselines.items()
        },
        "binding": {
            "owned": [{"pool": o.pool, "used_gpu_hours": _r(o.used_gpu_hours),
                       "capacity_gpu_hours": _r(o.capacity_gpu_hours),
                       "used_pct": _r(o.used_pct), "full_periods": o.full_periods}
                      for o in result.binding.owned],
            "limits": [{"kind": lim.kind, "name": lim.name, "periods": list(lim.periods),
                        "detail": lim.detail} for lim in result.binding.limits],
            "jobs_on_deadline": list(result.binding.on_deadline),
        },
        "notes": list(result.notes) + [f"{v.job} is not protected against losing its spot "
                                       f"capacity: {v.reason}" for v in guarded if not v.protected],
        "protection": [{"job": v.job, "protected": v.protected, "reason": v.reason}
                       for v in guarded],
        "spot_availability_assumed": sorted(
            p.id for p in result.pools.cloud if p.id in used and p.market == "spot"
            and p.availability_source == "assumed"),
        "jobs": [{"job": job.name, "gpus": job.gpus, "nodes": job.nodes,
                  "parallel": job.parallel, "run": job.run, "setup": job.setup}
                 for job in w.jobs],
    }
    doc["plan_id"] = plan_id_for(doc)
    return doc


def _slot_record(s: FleetSlot) -> dict[str, Any]:
    record: dict[str, Any] = {"slot": s.slot, "start": iso(s.start), "end": iso(s.end),
                              "jobs": list(s.jobs)}
    if s.gang is not None:
        record.update(gang=s.gang, node_rank=s.node_rank, nodes=s.nodes)
    return record


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


def _pool_record(pool: CloudPool | OwnedPool, w: Any, bought: dict[str, int]) -> dict[str, Any]:
    if isinstance(pool, OwnedPool):
        s = pool.server
        owned = w.owned
        count = pool.nodes if pool.buy_max is None else bought.get(pool.id, 0)
        return {"pool": pool.id, "market": "owned", "gpu_model": pool.gpu_model,
                "gpus_per_node": s.gpus, "count": count, "max_count": pool.buy_max,
                "purchase_usd": s.purchase_usd,
                "lifetime_years": s.lifetime_years, "power_watts": s.power_watts,
                "idle_watts": s.idle_watts, "availability": s.availability,
                "ops_usd_per_month": s.ops_usd_per_month,
                "electricity_usd_per_kwh": owned.electricity_usd_per_kwh, "pue": owned.pue,
                "energy_usd_per_gpu_hour": _r(pool.energy_usd_per_gpu_hour),
                "fixed_usd": _r(pool.fixed_usd)}  # per server for a candidate
    return {"pool": pool.id, "market": pool.market, "gpu_model": pool.gpu_model,
            "gpus_per_node": pool.gpus_per_node, "region": pool.region,
            "instance_type": pool.instance_type, "vcpus": pool.vcpus,
            "usd_per_hour": _r(pool.usd_per_hour),
            "on_demand_usd_per_hour": _r(pool.on_demand_usd_per_hour),
            "interruptions_per_hour": _r(pool.interruptions_per_hour),
            "price_source": pool.price_source,
            **({"spot_availability": _r(pool.availability),
                "spot_availability_source": pool.availability_source}
               if pool.market == "spot" else {})}


def write_plan(doc: dict[str, Any], path: Path) -> None:
    """Write the plan file atomically (a crash never leaves half a file)."""
    text = json.dumps(doc, indent=2) + "\n"
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
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        found = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
        raise PlanFileError(str(path), [FieldIssue("schema", found,
                                                   f"expected {SCHEMA!r}; To fix: make the plan "
                                                   "with `costopt plan`")])
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
    ``u`` instance-hours of ``P`` hours, at most ``ceil(u / P)``; slots are numbered from 0)."""
    h = HorizonRecord.model_validate(plan.horizon)
    edges = h.boundaries()

    def at_once(record: InstanceHoursRecord) -> int:
        t = min(max(bisect_right(edges, record.period_start) - 1, 0), len(edges) - 2)
        hours = (edges[t + 1] - edges[t]).total_seconds() / 3600
        return math.ceil(record.instance_hours / hours - 1e-6)

    issues = []
    for i, pool in enumerate(plan.fleet):
        most = max((at_once(r) for r in plan.instance_hours if r.pool == pool.pool), default=0)
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
