"""The workload file: the user's jobs, owned servers and cloud choices (``workload.md``).

``load_workload`` reads YAML into the pydantic :class:`Workload` and turns every validation
problem into a :class:`~costopt.errors.WorkloadError` naming the file, the field path
(``jobs[2].deadline``), the value and what would be valid. ``check_against_catalog`` adds
the checks that need the price data (unknown GPU model or instance type, a gang larger than
every node).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from bisect import bisect_left, bisect_right
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from itertools import accumulate
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from costopt.boundedyaml import MAX_BYTES, load_bounded
from costopt.errors import MISSING, FieldIssue, WorkloadError
from costopt.files import read_text
from costopt.months import YEARS
from costopt.pricing.catalog import InstanceOffer, PriceCatalog, quota_family

Market = Literal["on_demand", "spot"]
PoolKind = Literal["owned", "on_demand", "spot"]
MARKETS: tuple[Market, ...] = ("on_demand", "spot")
POOL_KINDS: tuple[PoolKind, ...] = ("owned", "on_demand", "spot")


DATE_FORMS = "valid: 2027-01-04 or 2027-01-04T06:00:00Z (UTC)"


def _to_utc(value: Any) -> Any:
    """Dates become midnight UTC; naive datetimes are read as UTC. Text that looks like a
    date but is none (``2027-02-30``) is an error that says why."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            if re.match(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError(f"is not a calendar date ({exc}); {DATE_FORMS}") from None
            return value  # pydantic reports it
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return value


def _in_years(value: datetime) -> datetime:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValueError(f"is outside the years {YEARS[0]} to {YEARS[1]} that a plan can "
                         "cover; To fix: a date such as 2027-01-04")
    return value


def _none_or_some(value: list[str] | None) -> list[str] | None:
    if value is not None and not value:
        raise ValueError("an empty list allows nothing; To fix: leave the field out to allow "
                         "every one, or list some")
    return value


UtcDateTime = Annotated[datetime, BeforeValidator(_to_utc), AfterValidator(_in_years)]
AllowList = Annotated[list[str] | None, AfterValidator(_none_or_some)]
"""An optional allow-list: left out, everything is allowed; given, it may not be empty."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""What a name (of the workload, a job, a server) may be: letters, digits, ``.``, ``_``, ``-``."""
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]


class _Strict(BaseModel):
    """Unknown fields are errors; numbers are finite, and ``true`` is no number (strict)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class PeriodRun(_Strict):
    """``count`` consecutive periods of ``hours`` hours each."""

    hours: int = Field(ge=1, le=168)
    count: int = Field(ge=1, le=87840)


class Horizon(_Strict):
    """The planning window: ``days`` days from ``start``, cut into periods of
    ``period_hours`` hours, or into the runs of ``periods`` (mixed lengths: hourly near the
    start, daily after, say; they must add up to the ``days``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: UtcDateTime
    days: int = Field(gt=0, le=3660)
    period_hours: int = Field(default=24, ge=1, le=168)
    period_runs: list[PeriodRun] | None = Field(default=None, alias="periods", min_length=1)

    @field_validator("period_hours")
    @classmethod
    def _divides(cls, value: int, info: ValidationInfo) -> int:
        days = info.data.get("days")
        if days is not None and (days * 24) % value:
            raise ValueError(
                f"does not divide days*24 = {days * 24}; To fix: choose a divisor of "
                f"{days * 24} such as 1, 2, 3, 4, 6, 8, 12 or 24"
            )
        return value

    @model_validator(mode="after")
    def _ends_in_years(self) -> Horizon:
        if self.end.year > YEARS[1]:
            raise ValueError(f"ends on {self.end.date()}, after {YEARS[1]}, the last year a "
                             "plan can cover; To fix: an earlier start or fewer days")
        return self

    @model_validator(mode="after")
    def _runs_fill_the_days(self) -> Horizon:
        if self.period_runs is None:
            return self
        if "period_hours" in self.model_fields_set:
            raise ValueError("has both period_hours and periods; To fix: give period_hours "
                             "(periods of equal length) or periods (runs of lengths), not both")
        total = sum(r.hours * r.count for r in self.period_runs)
        if total != self.days * 24:
            runs = self.runs_text.replace(", then ", " + ")
            raise ValueError(f"periods add up to {runs} = {total} h, but days: {self.days} is "
                             f"{self.days * 24} h; To fix: make the periods' hours x count add "
                             "up to days*24 (whole days)")
        return self

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @cached_property
    def period_lengths(self) -> tuple[int, ...]:
        """Each period's length in hours, in order."""
        if self.period_runs is None:
            return (self.period_hours,) * (self.days * 24 // self.period_hours)
        return tuple(r.hours for r in self.period_runs for _ in range(r.count))

    @cached_property
    def period_offsets(self) -> tuple[int, ...]:
        """Hours from the start to each period's start, and to the end (one more entry)."""
        return (0, *accumulate(self.period_lengths))

    @property
    def periods(self) -> int:
        return len(self.period_lengths)

    @property
    def runs_text(self) -> str:
        """The periods in words: ``28x24 h`` or ``48x1 h, then 26x24 h``."""
        runs = self.period_runs or [PeriodRun(hours=self.period_hours, count=self.periods)]
        return ", then ".join(f"{r.count}x{r.hours} h" for r in runs)

    @property
    def hours(self) -> int:
        return self.days * 24

    def period_start(self, t: int) -> datetime:
        return self.start + timedelta(hours=self.period_offsets[t])

    def window_periods(self, start: datetime, end: datetime) -> range:
        """Periods that lie wholly inside ``[start, end)``."""
        offsets = self.period_offsets
        lo = (start - self.start).total_seconds() / 3600
        hi = (end - self.start).total_seconds() / 3600
        first = bisect_left(offsets, lo)
        last = min(self.periods, bisect_right(offsets, hi) - 1)
        return range(first, max(first, last))


class PriceOverride(_Strict):
    """An exact USD per instance-hour for one pool; may admit a pool the table lacks."""

    instance_type: str
    region: str
    market: Market
    usd_per_hour: float = Field(ge=0)
    az: str | None = None
    """Spot only: one availability zone (ID ``use1-az1``, or a name resolved through the
    price data); without it a spot override sets every zone of the region."""


class SpotInterruptionRate(_Strict):
    """Spot interruptions per instance-hour for one instance type in one region."""

    instance_type: str
    region: str
    rate: float = Field(ge=0)
    az: str | None = None  # one zone (ID or name); without it every zone of the region


class SpotAvailability(_Strict):
    """Extension (spec v2): the share of time spot of one instance type can be had in a
    region, or in one of its zones (``az``, a zone ID such as ``use1-az1``)."""

    instance_type: str
    region: str
    az: str | None = None
    availability: float = Field(gt=0, le=1)


class Quota(_Strict):
    """An AWS service quota in vCPUs (as AWS counts them) for a region, market and family."""

    region: str
    market: Market
    family: str = Field(pattern=r"^[A-Za-z]+$")
    vcpus: int = Field(ge=0)

    @field_validator("family")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class MaxInstances(_Strict):
    """At most ``count`` instances of a pool at once (spot capacity, say)."""

    instance_type: str
    region: str
    market: Market
    count: int = Field(ge=0)
    az: str | None = None
    """Spot only: the cap of one zone's pool; without it the cap holds for all the region's
    zones together."""


DEFAULT_SPOT_AVAILABILITY = 0.59
"""Share of the time spot can be had where nothing better is known: the median over the 21
public AWS GPU traces of "Can't Be Late" (NSDI'24; 0.12-0.90, ``facts.md``). The median, not
a low quantile: it is what the expected cost is for; deadlines are kept by the reserve,
which assumes spot may vanish altogether."""


class CloudSpec(_Strict):
    """Which AWS regions, markets and instance types may be used, and at what prices."""

    regions: AllowList = None
    markets: list[Market] = Field(default_factory=lambda: list(MARKETS), min_length=1)
    instance_types: AllowList = None
    pricing: Path | None = Field(default=None, strict=False)  # from a YAML string
    price_overrides: list[PriceOverride] = Field(default_factory=list)
    spot_interruptions_per_hour: list[SpotInterruptionRate] = Field(default_factory=list)
    spot_restart_minutes: float = Field(default=10, ge=0)
    quotas: list[Quota] = Field(default_factory=list)
    max_instances: list[MaxInstances] = Field(default_factory=list)
    spot_max_price_ratio: float = Field(default=1.0, gt=0)
    """Extension: the spot ``MaxPrice`` the orchestrator bids, as a multiple of the pool's
    on-demand price. AWS's default is the on-demand price (1.0). A spot pool priced above
    its bid is left out of the plan, named in a warning; a bid below every spot price is
    refused."""
    zones: AllowList = None
    """Spot v2: the availability zones (IDs such as ``usw2-az1``) spot may use; default all."""
    setup_minutes: float = Field(default=10, ge=0, le=1440)
    """Spot v2: every launch and start is paid and does no work for this long (boot, image,
    data staging)."""
    min_instance_minutes: float = Field(default=30, ge=0, le=1440)
    """Spot v2: no instance runs for a shorter interval, and no pause inside a slot is
    shorter."""
    spot_availability: list[SpotAvailability] = Field(default_factory=list)
    """Extension (spec v2): spot availability ``a`` per instance type and region (or zone)."""
    spot_traces: Path | None = Field(default=None, strict=False)  # from a YAML string
    """Extension (spec v2): a ``traces.yaml`` manifest whose traces' statistics give spot
    pools their availability and interruption rate (docs/simulate.md)."""
    spot_availability_default: float = Field(default=DEFAULT_SPOT_AVAILABILITY, gt=0, le=1)
    """Spec v3: the availability of a spot pool that neither a trace nor a
    ``spot_availability`` line covers (docs/model.md, "Spot availability")."""
    deadline_reserve: bool = True
    """Spec v3: every job with a deadline keeps work it could still finish on capacity that
    does not vanish (docs/model.md, "The deadline reserve")."""
    local_zones: bool = False
    """Spec v3: plan spot in AWS Local Zones (``usw2-lax1-az1``; opt-in per account) without
    naming them in ``zones``."""


class ServerSpec(_Strict):
    """A GPU server: its GPUs, purchase price (USD), lifetime, power (W) and availability."""

    name: Name
    gpu: str
    gpus: int = Field(ge=1, le=64)
    purchase_usd: float = Field(ge=0, le=1e9)
    lifetime_years: float = Field(ge=0.1, le=100)
    power_watts: float = Field(ge=0, le=1e6)
    idle_watts: float = Field(ge=0)
    availability: float = Field(default=1.0, gt=0, le=1)
    ops_usd_per_month: float = Field(default=0, ge=0, le=1e9)

    @field_validator("idle_watts")
    @classmethod
    def _idle_below_load(cls, value: float, info: ValidationInfo) -> float:
        power = info.data.get("power_watts")
        if power is not None and value > power:
            raise ValueError(
                f"exceeds power_watts = {power:g}; To fix: power_watts is the whole server "
                "at full load, idle_watts the whole server idle"
            )
        return value


class OwnedServer(ServerSpec):
    """``count`` identical servers the team owns: their fixed cost is sunk."""

    count: int = Field(default=1, ge=1)


class CandidateServer(ServerSpec):
    """A server the team could buy, up to ``max_count`` of them (extension of the spec's
    "Later: owned.candidates"): the plan buys a whole number of them when their fixed cost
    over the horizon is less than what they save."""

    max_count: int = Field(default=1, ge=1, le=1000)


class OwnedSpec(_Strict):
    """The team's own servers, the ones it could buy, and what electricity costs."""

    electricity_usd_per_kwh: float = Field(default=0.15, ge=0, le=100)
    pue: float = Field(default=1.0, ge=1.0, le=3.0)
    servers: list[OwnedServer] = Field(default_factory=list)
    candidates: list[CandidateServer] = Field(default_factory=list)


COMMAND_BYTES_MAX = 12 * 1024
"""Most bytes a job's ``setup`` and ``run`` may hold together: AWS takes at most 16 KB of
user data, and costopt's own script around the commands needs the rest."""


class Job(_Strict):
    """A piece of planned GPU work. ``gpu_hours`` is in GPU-hours of the reference GPU
    (V100 = 1.0); ``gpus`` GPUs per node run it at once (the gang), on ``nodes`` nodes of
    one pool together; up to ``parallel`` such gangs run at once, independently (the trials
    of a sweep). ``run`` (and ``setup`` before it) is the shell command an instance that
    serves the job runs."""

    name: Name
    gpus: int = Field(default=1, ge=1, le=64)
    gpu_hours: float = Field(gt=0)
    min_gpu_memory_gb: float = Field(default=0, ge=0)
    start: UtcDateTime | None = None
    deadline: UtcDateTime | None = None
    interruptible: bool = False
    checkpoint_minutes: float = Field(default=60, ge=0)
    speed: dict[str, float] = Field(default_factory=dict)
    regions: AllowList = None
    allow: list[PoolKind] | None = None
    parallel: int = Field(default=1, ge=1, le=1024)
    nodes: int = Field(default=1, ge=1, le=64)
    run: str | None = Field(default=None, min_length=1)
    setup: str | None = Field(default=None, min_length=1)

    @field_validator("speed")
    @classmethod
    def _positive_speeds(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v < 0}
        if bad:
            raise ValueError(f"speeds must be >= 0 (0 forbids a GPU model); got {bad}")
        return value

    @property
    def shape(self) -> str:
        """The GPUs it holds at once, in words: ``8 GPUs``, ``2 nodes x 8 GPUs``."""
        return gang_shape(self.gpus, self.nodes, self.parallel)

    @property
    def gang_gpus(self) -> int:
        """GPUs one gang holds at once: ``nodes * gpus``."""
        return self.nodes * self.gpus

    @property
    def most_gpus(self) -> int:
        """GPUs the job may hold at once: ``parallel * nodes * gpus``."""
        return self.parallel * self.gang_gpus

    def allowed_kinds(self) -> frozenset[PoolKind]:
        """Pool kinds the job may use: its ``allow`` list, less spot unless interruptible."""
        kinds = set(self.allow if self.allow is not None else POOL_KINDS)
        if not self.interruptible:
            kinds.discard("spot")
        return frozenset(kinds)


def gang_shape(gpus: int, nodes: int = 1, parallel: int = 1) -> str:
    """``8 GPUs``, ``2 nodes x 8 GPUs``, ``8 gangs x 1 GPU``: GPUs held at once, in words."""
    shape = [f"{parallel} gangs"] if parallel > 1 else []
    shape += [f"{nodes} nodes"] if nodes > 1 else []
    return " x ".join([*shape, f"{gpus} GPU{'s' if gpus != 1 else ''}"])


class GpuDeclaration(_Strict):
    """A GPU model of the user's own, for GPUs the built-in table lacks (``gpu_models:``).

    ``memory_gb`` is GB per GPU; ``relative_speed`` training throughput per GPU against the
    reference GPU (V100-SXM2-16GB = 1.0); ``power_watts`` board power per GPU in watts
    (informational: owned servers give their own ``power_watts``). A declared name equal to
    one of the built-in table replaces that row for this workload."""

    name: Annotated[str, Field(min_length=1, max_length=64,
                               pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    memory_gb: float = Field(gt=0, le=4096)
    relative_speed: float = Field(gt=0, le=100)
    power_watts: float = Field(default=0, ge=0, le=10_000)
    vendor: str = Field(default="", max_length=64)


class Workload(_Strict):
    """The whole workload file."""

    name: Name
    horizon: Horizon
    budget_usd: float | None = Field(default=None, ge=0)
    monthly_budget_usd: float | None = Field(default=None, ge=0)
    cloud: CloudSpec | None = None
    owned: OwnedSpec | None = None
    gpu_models: list[GpuDeclaration] = Field(default_factory=list)
    """GPU models of the user's own, usable by owned servers, candidates and ``speed:``
    keys like the table's (:class:`GpuDeclaration`)."""
    jobs: list[Job] = Field(min_length=1)

    def job_window(self, job: Job) -> tuple[datetime, datetime]:
        """The job's ``[start, deadline)``, defaulting to the horizon's."""
        return (job.start or self.horizon.start, job.deadline or self.horizon.end)

    def job_periods(self, job: Job) -> range:
        """Periods that lie wholly inside the job's window."""
        return self.horizon.window_periods(*self.job_window(job))

    def job_hours(self, job: Job) -> int:
        """Hours of the periods that lie wholly inside the job's window."""
        window, lengths = self.job_periods(job), self.horizon.period_lengths
        return sum(lengths[window.start:window.stop])

    @property
    def servers(self) -> list[OwnedServer]:
        return self.owned.servers if self.owned else []

    @property
    def candidates(self) -> list[CandidateServer]:
        return self.owned.candidates if self.owned else []


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "constrained-")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return node


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at the parent of ``loc`` (for "did you mean")."""
    model: Any = Workload
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = _fields_by_name(model) if hasattr(model, "model_fields") else {}
        field = fields.get(part)
        if field is None:
            return []
        model = _inner_model(field.annotation)
        if model is None:
            return []
    return list(_fields_by_name(model)) if hasattr(model, "model_fields") else []


def _fields_by_name(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the name the YAML file uses (its alias where it has one)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _issue(err: dict[str, Any], raw: Any) -> FieldIssue:
    loc = tuple(err["loc"])
    kind = err["type"]
    value = _lookup(raw, loc)
    if isinstance(value, dict):
        value = MISSING  # a whole section: the message says what is wrong in it
    if isinstance(value, date):
        value = value.isoformat()  # as the file has it
    msg = err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        known = _known_fields(loc)
        near = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{near[0]}'? " if near else ""
        msg = f"unknown field; {hint}valid fields here: {', '.join(known)}"
    elif kind == "finite_number":
        msg = "is not a finite number; valid: a number (not .inf or .nan)"
    elif kind == "missing":
        msg = "is required"
    elif kind in ("model_type", "dict_type"):
        known = _known_fields((*loc, ""))
        msg = "must be a mapping" + (f" with the fields {', '.join(known)}" if known else "")
    elif kind in ("datetime_from_date_parsing", "datetime_parsing", "datetime_type"):
        msg = f"is not a date or datetime; {DATE_FORMS}"
    elif kind in ("int_type", "float_type") and isinstance(value, (bool, str)):
        what = "a whole number" if kind == "int_type" else "a number"
        msg = (f"is {'true/false' if isinstance(value, bool) else 'text'}, not {what}; "
               f"valid: {what} such as 4{'' if kind == 'int_type' else ' or 1.0e3'}"
               + ("" if isinstance(value, bool) else " (written unquoted)"))
    return FieldIssue(_path(loc), value, msg)


def parse_workload(raw: Any, file: str) -> Workload:
    """Validate already-parsed YAML; raise :class:`WorkloadError` with every problem."""
    if not isinstance(raw, dict):
        raise WorkloadError(
            file, [FieldIssue("(top level)", type(raw).__name__, "must be a mapping of fields")]
        )
    try:
        workload = Workload.model_validate(raw)
    except ValidationError as exc:
        issues = [_issue(e, raw) for e in exc.errors(include_url=False)]
        raise WorkloadError(file, issues) from None
    issues = check_consistency(workload)
    if issues:
        raise WorkloadError(file, issues)
    return workload


def load_workload(path: Path) -> Workload:
    """Read and validate a workload file."""
    raw = _read_yaml(path)
    workload = parse_workload(raw, str(path))
    cloud = workload.cloud
    if cloud is not None and cloud.pricing is not None:
        resolved = (path.parent / cloud.pricing).resolve()  # an absolute path stays itself
        if resolved.exists() and not resolved.is_file():
            raise WorkloadError(str(path), [FieldIssue(
                "cloud.pricing", str(cloud.pricing),
                f"is not a file ({resolved} is a folder or a device); To fix: name a price "
                "file (CSV), such as one `costopt pricing refresh -o prices.csv` writes")])
        cloud = cloud.model_copy(update={"pricing": resolved})
        workload = workload.model_copy(update={"cloud": cloud})
    if cloud is not None and cloud.spot_traces is not None:  # relative to the workload too
        cloud = cloud.model_copy(update={"spot_traces": (path.parent / cloud.spot_traces)
                                         .resolve()})
        workload = workload.model_copy(update={"cloud": cloud})
    return workload


def _read_yaml(path: Path) -> Any:
    """The file's YAML, read within bounds (:mod:`costopt.boundedyaml`): size, depth, alias
    expansion, duplicate keys."""
    text = read_text(path, WorkloadError, MAX_BYTES)
    try:
        return load_bounded(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise WorkloadError(
            str(path), [FieldIssue(where, MISSING, f"not valid YAML: {problem}")]
        ) from None


def horizon_started(w: Workload, now: datetime) -> str | None:
    """A warning when the horizon has already begun at ``now``: its past periods are still
    planned, though no one can run work in them."""
    if now <= w.horizon.start:
        return None
    past = "ended" if now >= w.horizon.end else "started"
    return (f"the horizon {past} on {iso(w.horizon.start if past == 'started' else w.horizon.end)}"
            f" (it is now {iso(now)}): work planned before now cannot run then. To fix: set "
            "horizon.start to a date to come")


def workload_sha256(path: Path) -> str:
    """The hash of the workload file's bytes, recorded in the plan file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_consistency(w: Workload) -> list[FieldIssue]:
    """Checks across fields that need no price data: unique names, windows, deadlines."""
    issues: list[FieldIssue] = []
    labelled = [("jobs", i, j.name) for i, j in enumerate(w.jobs)]
    seen: set[str] = set()
    for label, i, name in labelled:
        if name in seen:
            issues.append(FieldIssue(f"{label}[{i}].name", name,
                                     "is used twice; job names must be unique"))
        seen.add(name)
    seen = set()
    for i, gpu in enumerate(w.gpu_models):
        if gpu.name.upper() in seen:
            issues.append(FieldIssue(f"gpu_models[{i}].name", gpu.name,
                                     "is declared twice (names match without regard to case)"))
        seen.add(gpu.name.upper())
    seen = set()
    servers = [("owned.servers", i, s.name) for i, s in enumerate(w.servers)]
    servers += [("owned.candidates", i, s.name) for i, s in enumerate(w.candidates)]
    for label, i, name in servers:
        if name in seen:
            issues.append(FieldIssue(f"{label}[{i}].name", name,
                                     "is used twice; server and candidate names must be unique"))
        seen.add(name)
    h = w.horizon
    for i, job in enumerate(w.jobs):
        start, deadline = w.job_window(job)
        if deadline <= start:
            issues.append(FieldIssue(
                f"jobs[{i}].deadline", iso(deadline),
                f"is not after the job's start ({iso(start)}); To fix: a deadline later "
                "than the start"))
            continue
        if not w.job_periods(job):
            issues.append(FieldIssue(
                f"jobs[{i}]", f"{iso(start)} .. {iso(deadline)}",
                f"the window [start, deadline) holds no whole {period_words(h)} of the "
                f"horizon {iso(h.start)} .. {iso(h.end)}; To fix: widen the window or "
                f"shorten horizon.{'period_hours' if h.period_runs is None else 'periods'}"))
        issues.extend(_command_issues(i, job))
        if job.allow is not None and not job.allowed_kinds():
            issues.append(FieldIssue(
                f"jobs[{i}].allow", job.allow,
                "leaves no pool kind: spot needs interruptible: true; To fix: add owned or "
                "on_demand, or set interruptible: true"))
    cloud = w.cloud
    if cloud is not None:
        issues += _check_launch_overhead(cloud, h)
        for label, rows in (("price_overrides", cloud.price_overrides),
                            ("max_instances", cloud.max_instances)):
            for i, row in enumerate(rows):
                if row.az is not None and row.market != "spot":
                    issues.append(FieldIssue(f"cloud.{label}[{i}].az", row.az,
                                             "zones apply to spot only (on-demand pools are "
                                             "regional); To fix: remove az or use market: spot"))
        for i, q in enumerate(cloud.quotas):
            if q.family not in ("P", "G", "VT", "DL", "INF", "TRN", "F", "X"):
                issues.append(FieldIssue(f"cloud.quotas[{i}].family", q.family,
                                         "unknown quota family; valid: P (p2..p5), G (g3..g6)"))
    return issues


def _check_launch_overhead(cloud: CloudSpec, h: Horizon) -> list[FieldIssue]:
    """A slot lies within the periods it is planned in: the minimum slot and the setup
    must fit the shortest period."""
    issues = []
    period_minutes = min(h.period_lengths) * 60
    if cloud.min_instance_minutes > period_minutes:
        issues.append(FieldIssue("cloud.min_instance_minutes", cloud.min_instance_minutes,
                                 f"is longer than the shortest period ({period_minutes} "
                                 "minutes); To fix: a value <= the shortest period in minutes"))
    if cloud.setup_minutes >= period_minutes:
        issues.append(FieldIssue("cloud.setup_minutes", cloud.setup_minutes,
                                 f"leaves no working time in a period of {period_minutes} "
                                 "minutes; To fix: a value below the shortest period in minutes"))
    return issues


def _command_issues(i: int, job: Job) -> list[FieldIssue]:
    """``setup`` without ``run``, and commands too long for AWS's user data."""
    if job.setup is not None and job.run is None:
        return [FieldIssue(f"jobs[{i}].setup", job.setup,
                           "is given without run; To fix: add run: (the command setup "
                           "prepares for), or drop setup")]
    size = sum(len(c.encode()) for c in (job.setup, job.run) if c)
    if size > COMMAND_BYTES_MAX:
        return [FieldIssue(f"jobs[{i}].run", f"{size} bytes (setup + run)",
                           f"is longer than {COMMAND_BYTES_MAX} bytes: AWS takes at most 16 KB "
                           "of user data; To fix: put the commands in a script on the image "
                           "or in object storage, and run that")]
    return []



def period_words(h: Horizon) -> str:
    """``24-hour period``, or ``period (48x1 h, then 26x24 h)`` for mixed lengths."""
    if h.period_runs is None:
        return f"{h.period_hours}-hour period"
    return f"period ({h.runs_text})"


def iso(moment: datetime) -> str:
    """A UTC timestamp as the plan file writes it: ``2027-01-04T00:00:00Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _near(value: str, options: set[str] | frozenset[str]) -> str:
    near = difflib.get_close_matches(value, sorted(options), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(near)}?" if near else ""


def offers_of(w: Workload, catalog: PriceCatalog) -> tuple[InstanceOffer, ...]:
    """The price rows the workload may use: its regions and instance types (all when it
    names none). Staleness is judged by them, not by offers it cannot use."""
    cloud = w.cloud
    if cloud is None:
        return catalog.offers
    return catalog.offers_for(cloud.instance_types, cloud.regions)


def price_date_of(w: Workload, catalog: PriceCatalog) -> date:
    """The date of the oldest price the workload may use (see :func:`offers_of`)."""
    return min((o.price_date for o in offers_of(w, catalog)), default=catalog.price_date)


def catalog_for(w: Workload, catalog: PriceCatalog | None = None) -> PriceCatalog:
    """The price catalog the workload asks for (``cloud.pricing``, else the shipped one;
    ``catalog`` when given), with the GPU models it declares (``gpu_models:``) added."""
    from costopt.pricing.catalog import GpuModel, load_catalog

    base = catalog or load_catalog(w.cloud.pricing if w.cloud else None)
    return base.with_gpus([GpuModel(name=g.name, vendor=g.vendor, memory_gb=g.memory_gb,
                                    fp32_tflops=0.0, fp16_tensor_tflops=0.0,
                                    tdp_watts=g.power_watts, relative_speed=g.relative_speed)
                           for g in w.gpu_models])


def check_against_catalog(w: Workload, catalog: PriceCatalog) -> list[FieldIssue]:
    """Checks that need the price data: GPU models, instance types, regions, gang sizes."""
    issues: list[FieldIssue] = []
    gpu_names = {g.name for g in catalog.gpus.values()}
    servers = [("owned.servers", i, s) for i, s in enumerate(w.servers)]
    servers += [("owned.candidates", i, s) for i, s in enumerate(w.candidates)]
    for label, i, server in servers:
        if catalog.gpu(server.gpu) is None:
            issues.append(FieldIssue(
                f"{label}[{i}].gpu", server.gpu,
                f"unknown GPU model.{_near(server.gpu.upper(), {n.upper() for n in gpu_names})}"
                f" Valid: {', '.join(sorted(gpu_names))}"))
    for i, job in enumerate(w.jobs):
        for key in job.speed:
            if not _speed_key_matches(key, gpu_names):
                issues.append(FieldIssue(
                    f"jobs[{i}].speed.{key}", key,
                    "matches no GPU model (an exact name, or a prefix ending at a dash such as "
                    f"V100).{_near(key.upper(), {n.upper() for n in gpu_names})}"))
    cloud = w.cloud
    if cloud is not None:
        known_types = catalog.instance_types
        regions = set(catalog.regions) | {o.region for o in cloud.price_overrides}
        for i, name in enumerate(cloud.instance_types or []):
            if name not in known_types:
                issues.append(FieldIssue(
                    f"cloud.instance_types[{i}]", name,
                    f"unknown instance type in {catalog.source}.{_near(name, known_types)}"))
        for i, region in enumerate(cloud.regions or []):
            if region not in regions:
                issues.append(FieldIssue(f"cloud.regions[{i}]", region,
                                         f"no GPU offers in this region.{_near(region, regions)}"))
        for label, rows in (("price_overrides", cloud.price_overrides),
                            ("spot_interruptions_per_hour", cloud.spot_interruptions_per_hour),
                            ("spot_availability", cloud.spot_availability),
                            ("max_instances", cloud.max_instances)):
            for i, row in enumerate(rows):
                if row.instance_type not in known_types:
                    issues.append(FieldIssue(
                        f"cloud.{label}[{i}].instance_type", row.instance_type,
                        f"unknown instance type.{_near(row.instance_type, known_types)}"))
        issues += _check_zones(cloud, catalog)
        issues += _check_spot_bid(cloud, offers_of(w, catalog))
        families = {quota_family(t) for t in known_types}
        for i, q in enumerate(cloud.quotas):
            if q.family not in families and not any(f.startswith(q.family) for f in families):
                issues.append(FieldIssue(f"cloud.quotas[{i}].family", q.family,
                                         f"no instance type in this family; valid: "
                                         f"{', '.join(sorted(families))}"))
    for i, job in enumerate(w.jobs):
        for r, region in enumerate(job.regions or []):
            if cloud is not None and region not in catalog.regions:
                issues.append(FieldIssue(f"jobs[{i}].regions[{r}]", region,
                                         f"no GPU offers in this region."
                                         f"{_near(region, catalog.regions)}"))
    return issues


def _check_zones(cloud: CloudSpec, catalog: PriceCatalog) -> list[FieldIssue]:
    """Every zone the workload names is one the price data knows (by ID, or by the name
    it has in the account that refreshed the prices)."""
    how = ("a zone ID such as use1-az1 (zone names such as us-east-1a differ by account and "
           "resolve only through a price file from `costopt pricing refresh`)")
    issues = []
    for label, rows in (("price_overrides", cloud.price_overrides),
                        ("spot_interruptions_per_hour", cloud.spot_interruptions_per_hour),
                        ("max_instances", cloud.max_instances)):
        for i, row in enumerate(rows):
            if row.az is not None and catalog.zone_id(row.region, row.az) is None:
                issues.append(FieldIssue(f"cloud.{label}[{i}].az", row.az,
                                         f"no zone of {row.region} by that ID or name in "
                                         f"{catalog.source}; To fix: {how}"))
    for i, zone in enumerate(cloud.zones or []):
        if not any(catalog.zone_id(region, zone) for region in catalog.regions):
            issues.append(FieldIssue(f"cloud.zones[{i}]", zone,
                                     f"no zone by that ID or name in {catalog.source}; "
                                     f"To fix: {how}"))
    return issues


def _check_spot_bid(cloud: CloudSpec, offers: tuple[InstanceOffer, ...]) -> list[FieldIssue]:
    """A spot bid (``MaxPrice`` = on-demand price x ``spot_max_price_ratio``) below the spot
    price of every instance the workload may use: AWS would fill no spot request, yet the
    plan would count on spot."""
    needed = [o.spot_usd_per_hour / o.on_demand_usd_per_hour for o in offers
              if o.spot_usd_per_hour and o.on_demand_usd_per_hour]
    if "spot" not in cloud.markets or not needed or cloud.spot_max_price_ratio >= min(needed):
        return []
    lowest = min(needed)
    return [FieldIssue("cloud.spot_max_price_ratio", cloud.spot_max_price_ratio,
                       f"bids below the spot price of every instance the workload may use (the "
                       f"lowest is {lowest:.4f} x the on-demand price): spot would be planned "
                       f"and never run. To fix: raise it to at least {lowest:.4f}, leave it out "
                       "(1.0, AWS's default bid), or plan without spot (cloud.markets)")]


def _speed_key_matches(key: str, gpu_names: set[str]) -> bool:
    k = key.upper()
    return any(n.upper() == k or n.upper().startswith(k + "-") for n in gpu_names) or (
        k.endswith("-") and any(n.upper().startswith(k) for n in gpu_names)
    )


def speed_for(job: Job, gpu_model: str, table_speed: float) -> float:
    """The job's speed on a GPU model: an exact ``speed`` key wins, then the longest prefix
    ending at a dash, else the GPU table's relative training speed."""
    model = gpu_model.upper()
    best: tuple[int, float] | None = None
    for key, value in job.speed.items():
        k = key.upper().rstrip("-")
        if k == model:
            return value
        if model.startswith(k + "-") and (best is None or len(k) > best[0]):
            best = (len(k), value)
    return best[1] if best is not None else table_speed


_SLUG = re.compile(r"[^a-z0-9-]+")


def slug(name: str) -> str:
    """A name safe in tags and plan ids (lower case, dashes)."""
    return _SLUG.sub("-", name.lower()).strip("-") or "workload"
