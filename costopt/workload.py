"""The workload file's model: the user's jobs, owned servers and cloud choices
(``workload.md``), as pydantic models that check each field and the fields of one entry
together. Reading a file into it and the checks across entries and against the price data
are in :mod:`costopt.workload_checks`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from itertools import accumulate
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from costopt.core.months import YEARS
from costopt.core.times import parse_ts

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
        text = value.strip()
        try:
            parsed = parse_ts(text)
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
    """Unknown fields are errors; numbers are finite, and ``true`` is no number (strict).

    An empty list or mapping is a field's default as ``default=[]`` (pydantic copies it for
    each instance), not ``default_factory=list``: pydantic reads a factory's signature, and
    ``inspect`` parses a builtin's from text (18M of the 690M instructions that importing
    this module costs, callgrind, and every ``costopt validate`` imports it)."""

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
    price_overrides: list[PriceOverride] = Field(default=[])
    spot_interruptions_per_hour: list[SpotInterruptionRate] = Field(default=[])
    spot_restart_minutes: float = Field(default=10, ge=0)
    quotas: list[Quota] = Field(default=[])
    max_instances: list[MaxInstances] = Field(default=[])
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
    spot_availability: list[SpotAvailability] = Field(default=[])
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
    servers: list[OwnedServer] = Field(default=[])
    candidates: list[CandidateServer] = Field(default=[])


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
    speed: dict[str, float] = Field(default={})
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
    gpu_models: list[GpuDeclaration] = Field(default=[])
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


def period_words(h: Horizon) -> str:
    """``24-hour period``, or ``period (48x1 h, then 26x24 h)`` for mixed lengths."""
    if h.period_runs is None:
        return f"{h.period_hours}-hour period"
    return f"period ({h.runs_text})"


def speed_key_matches(key: str, gpu_names: set[str]) -> bool:
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

