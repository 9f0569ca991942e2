"""The plan file (``costopt.plan/v3``): the contract between ``plan``, which writes it, and
``apply``, ``watch``, ``simulate`` and ``report``, which read it.

A leaf: it imports nothing of the planner, so the readers never do either. Self-contained
(the prices and owned-server figures it used, each job's speed on each pool, the workload's
hash, the concurrency limits its fleet keeps) and deterministic for the same input: no
timestamps of its own, numbers rounded to 6 places. One typed document
(:class:`PlanDocument`), no field that is not declared, written and read by the same models.
The *fleet schedule* holds each cloud pool's slots - whole instances over ``[start, end)``
intervals, the first ``setup_end - start`` of each paid setup without work - and what each
slot's GPUs run when (``uses``: at every instant at most the instance's GPUs). v2 added spot
pools per zone, the slots' setup, the launch overhead and the limits; v3 the slots' uses and
the jobs' speeds. v1 and v2 files stay readable (a v1 spot pool launches anywhere in its
region; a slot of a v1 or v2 file lists its jobs without their GPUs).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime, timedelta
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

from costopt.core.fields import field_issue
from costopt.core.periods import Periods
from costopt.core.times import ts
from costopt.errors import MISSING, FieldIssue, PlanFileError
from costopt.files import read_input, write_atomically
from costopt.workload import slug

SCHEMA = "costopt.plan/v3"
SCHEMAS = ("costopt.plan/v1", "costopt.plan/v2", SCHEMA)
"""Plan files ``apply`` and ``report`` read: v1 (no zones, no setup), v2 (no uses, no
speeds) and v3."""
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
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Cost(_Doc):
    """What the plan costs (USD over the horizon): its variable cost (owned energy,
    on-demand and spot, the fleet's paid instance-hours: every hour a spot slot is held
    paid), fixed cost and total; carried out (``plan/expected.py``): ``expected_usd``, the
    total with spot there as often as its availability (held spot hours without capacity
    not paid, preemptions, and ``expected_on_demand_usd`` of on-demand making up for spot
    that falls short of a deadline), and ``spot_always_there_usd``, the same plan were spot
    always there. Each None in files written before it was recorded."""

    variable_usd: float
    fixed_usd: float
    total_usd: float
    by_market: dict[str, float]
    spot_always_there_usd: float | None = None
    expected_usd: float | None = None
    expected_on_demand_usd: float | None = None


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


class SlotUse(_Doc):
    """Job ``job`` runs a gang on ``gpus`` of the instance's GPUs over ``[start, end)``."""

    job: str
    gpus: int = Field(ge=1, le=64)
    start: AwareDatetime
    end: AwareDatetime


class Slot(_Doc):
    """One instance over ``[start, end)``; ``slot`` numbers the instances of a pool at once.
    ``jobs``: the jobs it serves; ``uses`` (v3) what its GPUs run when, within its working
    time (``setup_end`` to ``end``), at every instant at most the instance's GPUs; a
    multi-node gang's ``nodes`` instances share ``gang`` (its first slot) and the interval,
    with ranks ``node_rank`` 0..nodes-1."""

    slot: int = Field(ge=0, le=MAX_SLOT)
    start: AwareDatetime
    end: AwareDatetime
    setup_end: AwareDatetime | None = None  # v2: work starts here; None in v1 (no setup)
    jobs: list[str] = Field(default_factory=list)
    gang: int | None = Field(default=None, ge=0, le=MAX_SLOT)
    node_rank: int | None = Field(default=None, ge=0)
    nodes: int = Field(default=1, ge=1, le=MAX_NODES)
    uses: list[SlotUse] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Slot:
        if self.end <= self.start:
            raise ValueError(f"slot {self.slot} ends ({ts(self.end)}) before it starts "
                             f"({ts(self.start)}); valid: end after start")
        if self.end > LATEST:
            raise ValueError(f"slot {self.slot} ends in {self.end.year}; valid: before 9000")
        if (self.gang is None) != (self.node_rank is None) or (
                self.node_rank is not None and self.node_rank >= self.nodes):
            raise ValueError(f"slot {self.slot}: gang {self.gang}, node_rank "
                             f"{self.node_rank} of {self.nodes} nodes; valid: both or neither, "
                             "and 0 <= node_rank < nodes")
        outside = [u.job for u in self.uses if not (
            (self.setup_end or self.start) <= u.start < u.end <= self.end)]
        if outside:
            raise ValueError(f"slot {self.slot}: the uses of {', '.join(outside)} are not "
                             f"within its working time {ts(self.setup_end or self.start)}.."
                             f"{ts(self.end)}; valid: setup_end <= start < end <= the "
                             "slot's end")
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
    """A job as the instances that serve it need it: its gang's shape and its commands;
    ``speeds`` (v3): its work per GPU-hour on each pool it may use (reference GPU-hours,
    spot's efficiency not included), so that no reader rebuilds the pools to learn it."""

    job: str
    gpus: int = Field(ge=1, le=64)
    nodes: int = Field(default=1, ge=1, le=MAX_NODES)
    parallel: int = Field(default=1, ge=1, le=1024)
    run: str | None = None
    setup: str | None = None
    speeds: dict[PoolId, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)


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
    spot_availability: float | None = Field(default=None, ge=0, le=1)
    spot_availability_source: str | None = None


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
            raise ValueError(f"start {ts(self.start)}, end {ts(self.end)}, {self.periods} "
                             f"periods of {self.period_hours} h (at most) and the period "
                             "runs do not agree")
        return self

    def grid(self) -> Periods:
        """The periods: where each starts, and the horizon's end."""
        runs = self.period_runs or [PeriodRun(hours=self.period_hours, count=self.periods)]
        return Periods.of_runs(self.start, [(r.hours, r.count) for r in runs])


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


class ProtectionRecord(_Doc):
    """Whether a job keeps its deadline if it loses its spot capacity, and why."""

    job: str
    protected: bool
    reason: str


class ResumesRecord(_Doc):
    """What a plan made with ``--resume`` follows on: the plan, the moment, the work done
    then (reference GPU-hours per job) and the USD spent."""

    plan_id: str
    at: AwareDatetime
    spent_usd: float = 0.0
    done_gpu_hours: dict[str, float]


class LaunchOverhead(_Doc):
    """v2: minutes every launch and start is paid without work, and the shortest run and
    pause of a slot."""

    setup_minutes: float
    min_instance_minutes: float


class PlanDocument(_Doc):
    """The plan file, as written and as read back by ``apply`` and ``report``."""

    schema_: Literal["costopt.plan/v1", "costopt.plan/v2", "costopt.plan/v3"] = Field(
        alias="schema")
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
    protection: list[ProtectionRecord] = Field(default_factory=list)
    spot_availability_assumed: list[str] = Field(default_factory=list)
    resumes: dict[str, Any] | None = None  # a plan made with --resume (ResumesRecord)
    setup_minutes: float | None = None  # v1: the setup minutes, before launch_overhead

    @field_validator("resumes")
    @classmethod
    def _resumes(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """Checked as a :class:`ResumesRecord`; kept a dict, as ``plan_id_for`` hashes it."""
        if value is not None:
            ResumesRecord.model_validate(value)
        return value

    @property
    def resumed_from(self) -> tuple[str | None, datetime | None]:
        """The plan this plan resumes and from when (``None``s for one that resumes none)."""
        if not self.resumes:
            return None, None
        record = ResumesRecord.model_validate(self.resumes)
        return record.plan_id, record.at

    def speed(self, job: str, pool: str) -> float | None:
        """Work per GPU-hour of ``job`` on ``pool`` as the plan recorded it (v3; None where
        it did not)."""
        record = self.job(job)
        return None if record is None else record.speeds.get(pool)

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
        return {**value, "start": ts(h.start), "end": ts(h.end),
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




def write_plan(doc: PlanDocument, path: Path) -> None:
    """Write the plan file atomically (a crash never leaves half a file)."""
    text = json.dumps(doc.as_json(), indent=2) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


def read_plan(path: Path) -> PlanDocument:
    """Read and validate a plan file written by ``costopt plan``: every field (types, finite
    and non-negative numbers, timestamps with a zone, pool ids), its fleet against its own
    instance-hours, and its ``plan_id`` against its content (a file changed after ``plan``
    wrote it is refused). Raises :class:`PlanFileError` naming each field path and value."""
    raw = read_input(path, json.loads, PlanFileError, "a JSON plan file", MAX_PLAN_BYTES)
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
    """One pydantic error as a field issue (:func:`~costopt.core.fields.field_issue`), with
    what is valid for a pattern and a long value shortened."""
    issue = field_issue(err)
    value, message = issue.value, issue.message
    if err["type"] == "string_pattern_mismatch":
        message = _PATTERNS.get(str(err["loc"][-1]), message)
    if isinstance(value, dict):
        value = MISSING  # a whole section: the message says what is wrong in it
    elif isinstance(value, list):
        value = f"list of {len(value)}"
    elif isinstance(value, str) and len(value) > 80:
        value = value[:77] + "..."
    return FieldIssue(issue.path, value, message)


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
    grid = h.grid()

    def at_once(record: InstanceHoursRecord) -> int:
        start, end = grid.period(record.period_start)
        hours = (end - start).total_seconds() / 3600
        return math.ceil(record.instance_hours / hours - 1e-6)

    issues = []
    for i, pool in enumerate(plan.fleet):
        gangs = {(s.gang, s.nodes) for s in pool.slots if s.gang is not None and s.nodes > 1}
        most = max((at_once(r) for r in plan.instance_hours if r.pool == pool.pool),
                   default=0) + sum(nodes for _gang, nodes in gangs)
        for j, s in enumerate(pool.slots):
            where = f"fleet[{i}].slots[{j}]"
            if s.start < h.start or s.end > h.end:
                issues.append(FieldIssue(where, f"{ts(s.start)}..{ts(s.end)}",
                                         f"outside the plan's horizon {ts(h.start)}.."
                                         f"{ts(h.end)}"))
            elif s.slot >= most:
                issues.append(FieldIssue(f"{where}.slot", s.slot, f"the plan's instance-hours "
                                         f"of {pool.pool} allow at most {most} instance(s) at "
                                         f"once (slots 0..{most - 1})"))
        issues += _slots_held_twice(i, pool)
    return issues


def _slots_held_twice(i: int, pool: FleetPool) -> list[FieldIssue]:
    """A slot number is one instance: two slots of ``pool`` (``fleet[i]``) with the same
    number whose times overlap would ask one instance to be two at once."""
    issues = []
    seen: dict[int, tuple[int, Slot]] = {}
    for j, s in sorted(enumerate(pool.slots), key=lambda js: (js[1].slot, js[1].start)):
        before = seen.get(s.slot)
        if before is not None and s.start < before[1].end:
            issues.append(FieldIssue(f"fleet[{i}].slots[{j}].slot", s.slot,
                                     f"slot {s.slot} of {pool.pool} is already held "
                                     f"{ts(before[1].start)}..{ts(before[1].end)} "
                                     f"(fleet[{i}].slots[{before[0]}]); a slot number is one "
                                     "instance: give overlapping slots numbers of their own"))
        if before is None or s.end > before[1].end:
            seen[s.slot] = (j, s)
    return issues
