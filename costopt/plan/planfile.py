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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costopt.errors import FieldIssue, PlanFileError
from costopt.files import write_atomically
from costopt.plan.planner import PlanResult
from costopt.plan.pools import CloudPool, OwnedPool
from costopt.workload import Horizon, iso, price_date_of, slug

SCHEMA = "costopt.plan/v1"
MIN_SLOT_SECONDS = 60  # AWS bills Linux per second with a one-minute minimum


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
    """One interval of one instance. ``jobs``: the jobs it serves; a multi-node gang's
    ``nodes`` instances share ``gang`` (its first slot) and the interval, with ranks
    ``node_rank`` 0..nodes-1."""

    slot: int
    start: datetime
    end: datetime
    jobs: list[str] = Field(default_factory=list)
    gang: int | None = None
    node_rank: int | None = None
    nodes: int = 1


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


class JobRecord(_Doc):
    """A job as the instances that serve it need it: its gang's shape and its commands."""

    job: str
    gpus: int
    nodes: int = 1
    parallel: int = 1
    run: str | None = None
    setup: str | None = None


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


class PlanDocument(_Doc):
    """The plan file, as written and as read back by ``apply`` and ``report``."""

    schema_: Literal["costopt.plan/v1"] = Field(alias="schema")
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
    jobs: list[JobRecord] = Field(default_factory=list)
    purchases: list[dict[str, Any]] = Field(default_factory=list)
    no_buy_total_usd: float | None = None
    buy_saving_usd: float | None = None

    def pool(self, pool_id: str) -> PoolRecord | None:
        return next((p for p in self.pools if p.pool == pool_id), None)

    def job(self, name: str) -> JobRecord | None:
        return next((j for j in self.jobs if j.job == name), None)


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
        "notes": list(result.notes),
        "jobs": [{"job": job.name, "gpus": job.gpus, "nodes": job.nodes,
                  "parallel": job.parallel, "run": job.run, "setup": job.setup}
                 for job in w.jobs],
    }
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    doc["plan_id"] = f"{slug(w.name)}-{hashlib.sha256(body.encode()).hexdigest()[:8]}"
    return doc


def _slot_record(s: FleetSlot) -> dict[str, Any]:
    record: dict[str, Any] = {"slot": s.slot, "start": iso(s.start), "end": iso(s.end),
                              "jobs": list(s.jobs)}
    if s.gang is not None:
        record.update(gang=s.gang, node_rank=s.node_rank, nodes=s.nodes)
    return record


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
            "price_source": pool.price_source}


def write_plan(doc: dict[str, Any], path: Path) -> None:
    """Write the plan file atomically (a crash never leaves half a file)."""
    text = json.dumps(doc, indent=2) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


def read_plan(path: Path) -> PlanDocument:
    """Read and validate a plan file written by ``costopt plan``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanFileError.about_file(path, "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanFileError.about_file(path, f"not a JSON plan file: {exc}") from None
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        found = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
        raise PlanFileError(str(path), [FieldIssue("schema", found,
                                                   f"expected {SCHEMA!r}; To fix: make the plan "
                                                   "with `costopt plan`")])
    try:
        return PlanDocument.model_validate(raw)
    except ValidationError as exc:
        issues = [FieldIssue(".".join(str(p) for p in e["loc"]), e.get("input"), e["msg"])
                  for e in exc.errors(include_url=False)]
        raise PlanFileError(str(path), issues) from None
