"""Job progress as the orchestrator accounts it (spec v2, "Carrying a plan out on time").

Pure: the plan's mix, the jobs' needs and the instances' runs in, each job's progress out.

- **Work.** An instance-hour of cloud pool ``p`` in period ``t`` does, for job ``j``,
  ``gpus[j,p,t] * speed(j,p)`` reference GPU-hours, where ``gpus[j,p,t] = h[j,p,t] / u[p,t]``
  is the plan's mix: the GPU-hours the plan assigns ``j`` on ``p`` in ``t`` per instance-hour
  it buys there. (The plan file does not yet say which job a slot serves: a pool's
  instance-hours are shared among its jobs in proportion to the plan's assignments for that
  pool and period. Time in a pool-period the plan assigns no job to does no work.) The
  same shares split each instance's cost and its spot and on-demand hours among the jobs.
- **Setup.** Every run of an instance (a launch or a start) does no work for its first
  ``setup_minutes``.
- **Interruptions.** An instance AWS reclaims loses, for each job it serves, the work of
  ``checkpoint_minutes / 2`` (the mean since the last checkpoint), at most what that run did.
- **Owned servers** do the plan's work on them, spread evenly over each period (traces do not
  touch them), at the plan's energy cost.
- A job is **finished** at the moment its work reaches its ``gpu_hours``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from costopt.orchestrate.ledger import Interruption, Runtime
from costopt.plan.planfile import PlanDocument

DEFAULT_SETUP_MINUTES = 10.0
"""Minutes a launched or started instance is paid for before it works (``cloud.setup_minutes``)."""


@dataclass(frozen=True)
class Run:
    """One interval ``[start, end)`` an instance ran (from a launch or a start) at
    ``usd_per_hour`` (USD per instance-hour); ``interrupted`` when AWS ended it."""

    instance_id: str
    pool: str
    market: str  # what it really ran as: on_demand or spot
    start: datetime
    end: datetime
    usd_per_hour: float
    interrupted: bool = False


@dataclass(frozen=True)
class JobNeeds:
    """What a job must do: ``gpu_hours`` of work (reference GPU-hours) by ``deadline``."""

    name: str
    gpu_hours: float
    checkpoint_minutes: float
    deadline: datetime


@dataclass(frozen=True)
class OwnedWork:
    """Work the plan does for a job on an owned server in ``[start, end)``, and its energy
    cost (USD)."""

    job: str
    start: datetime
    end: datetime
    work_gpu_hours: float
    usd: float


@dataclass(frozen=True)
class PlanMix:
    """The plan's mix: per (cloud pool, period index) the GPUs per instance-hour each job
    holds; the owned work; the periods' starts and the horizon's end."""

    period_starts: tuple[datetime, ...]
    end: datetime
    gpus: dict[tuple[str, int], dict[str, float]]
    owned: tuple[OwnedWork, ...]

    def period_of(self, moment: datetime) -> int:
        """The index of the period holding ``moment`` (-1 before the horizon)."""
        return bisect_right(self.period_starts, moment) - 1

    def period_end(self, t: int) -> datetime:
        return self.period_starts[t + 1] if t + 1 < len(self.period_starts) else self.end

    @classmethod
    def of(cls, plan: PlanDocument) -> PlanMix:
        h = plan.horizon
        start = datetime.fromisoformat(h["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(h["end"].replace("Z", "+00:00"))
        step = timedelta(hours=h["period_hours"])
        starts = tuple(start + k * step for k in range(int(h["periods"])))
        mix = cls(starts, end, {}, ())
        instance_hours = {(r.pool, mix.period_of(r.period_start)): r.instance_hours
                          for r in plan.instance_hours}
        gpus: dict[tuple[str, int], dict[str, float]] = {}
        owned = []
        for a in plan.assignments:
            t = mix.period_of(a.period_start)
            u = instance_hours.get((a.pool, t))
            if u:
                shares = gpus.setdefault((a.pool, t), {})
                shares[a.job] = shares.get(a.job, 0.0) + a.gpu_hours / u
            elif a.pool.startswith(("owned:", "buy:")):
                owned.append(OwnedWork(a.job, starts[t], mix.period_end(t), a.work_gpu_hours,
                                       a.cost_usd))
        return cls(starts, end, gpus, tuple(owned))


@dataclass(frozen=True)
class ProgressModel:
    """Everything progress is computed from but the runs. ``speed`` is reference GPU-hours
    per GPU-hour of a job on a pool (no spot efficiency: interruptions are counted)."""

    jobs: tuple[JobNeeds, ...]
    speed: dict[tuple[str, str], float]
    mix: PlanMix
    setup_minutes: float = DEFAULT_SETUP_MINUTES


@dataclass
class JobProgress:
    """A job's progress at some moment. Hours are instance-hours attributed to the job;
    USD its share of what the instances cost, and its owned energy."""

    job: str
    needed_gpu_hours: float
    deadline: datetime
    done_gpu_hours: float = 0.0
    finished_at: datetime | None = None
    spot_hours: float = 0.0
    on_demand_hours: float = 0.0
    interruptions: int = 0
    cloud_usd: float = 0.0
    owned_usd: float = 0.0
    _segments: list[tuple[datetime, datetime, float]] = field(default_factory=list, repr=False)
    _losses: list[tuple[datetime, float]] = field(default_factory=list, repr=False)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def met_deadline(self) -> bool:
        return self.finished_at is not None and self.finished_at <= self.deadline

    @property
    def remaining_gpu_hours(self) -> float:
        return max(0.0, self.needed_gpu_hours - self.done_gpu_hours)

    @property
    def usd(self) -> float:
        return self.cloud_usd + self.owned_usd


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def job_progress(model: ProgressModel, runs: Iterable[Run], at: datetime) -> dict[str, JobProgress]:
    """Each job's progress at ``at`` from the runs of its pools (clipped to ``at``)."""
    out = {j.name: JobProgress(j.name, j.gpu_hours, j.deadline) for j in model.jobs}
    checkpoint = {j.name: j.checkpoint_minutes for j in model.jobs}
    setup = timedelta(minutes=model.setup_minutes)
    mix = model.mix
    for run in runs:
        end = min(run.end, at)
        if end <= run.start:
            continue
        done: dict[str, float] = {}
        t = max(0, mix.period_of(run.start))
        a = run.start
        shares: dict[str, float] = {}
        while a < end and t < len(mix.period_starts):
            b = min(end, mix.period_end(t))
            shares = mix.gpus.get((run.pool, t), {})
            total = sum(shares.values())
            useful = max(a, min(b, run.start + setup))
            for job, gpus in shares.items():
                p = out[job]
                share = _hours(a, b) * gpus / total
                p.cloud_usd += share * run.usd_per_hour
                if run.market == "spot":
                    p.spot_hours += share
                else:
                    p.on_demand_hours += share
                rate = gpus * model.speed.get((job, run.pool), 0.0)
                if useful < b and rate > 0:
                    p._segments.append((useful, b, rate))
                    done[job] = done.get(job, 0.0) + rate * _hours(useful, b)
            a, t = b, t + 1
        if run.interrupted and run.end <= at:
            for job, gpus in shares.items():
                out[job].interruptions += 1
                lost = checkpoint[job] / 120 * gpus * model.speed.get((job, run.pool), 0.0)
                out[job]._losses.append((run.end, min(lost, done.get(job, 0.0))))
    for w in mix.owned:
        if w.start < at and w.job in out:
            b = min(w.end, at)
            part = _hours(w.start, b) / _hours(w.start, w.end)
            out[w.job].owned_usd += w.usd * part
            out[w.job]._segments.append((w.start, b, w.work_gpu_hours / _hours(w.start, w.end)))
    for p in out.values():
        p.done_gpu_hours, p.finished_at = _accumulate(p._segments, p._losses, p.needed_gpu_hours)
    return out


def _accumulate(segments: list[tuple[datetime, datetime, float]],
                losses: list[tuple[datetime, float]],
                needed: float) -> tuple[float, datetime | None]:
    """Work done (reference GPU-hours, at most ``needed`` once reached) and the moment it
    reached ``needed``, from work done at ``rate`` over segments and losses at moments."""
    events: list[tuple[datetime, int, float]] = []  # (moment, order, change); losses last
    for a, b, rate in segments:
        events += [(a, 0, rate), (b, 0, -rate)]
    events += [(moment, 1, lost) for moment, lost in losses]
    events.sort(key=lambda e: (e[0], e[1]))
    work = rate = 0.0
    previous: datetime | None = None
    for moment, order, change in events:
        if previous is not None and rate > 1e-12:
            gained = rate * _hours(previous, moment)
            if work + gained >= needed - 1e-9:
                return needed, previous + timedelta(hours=(needed - work) / rate)
            work += gained
        if order == 0:
            rate += change
        else:
            work = max(0.0, work - change)
        previous = moment
    return work, None


def runs_from_ledger(runtimes: Iterable[Runtime], interruptions: Iterable[Interruption],
                     at: datetime) -> list[Run]:
    """The ledger's runtimes as runs (a runtime still open runs until ``at``); the last
    runtime of an interrupted instance is the interrupted one."""
    lost = {i.instance_id for i in interruptions}
    runs = sorted(runtimes, key=lambda r: (r.instance_id, r.start))
    last = {r.instance_id: r.start for r in runs}
    return [Run(r.instance_id, r.pool, r.market, r.start, r.end or at, r.usd_per_hour,
                r.instance_id in lost and r.start == last[r.instance_id] and r.end is not None)
            for r in runs]
