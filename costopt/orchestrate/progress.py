"""Job progress as the orchestrator accounts it (spec v2, "Carrying a plan out on time").

Pure: the plan's mix, the jobs' needs and the instances' runs in, each job's progress out.

- **Work, by the slot.** An instance serving slot ``k`` of a v3 plan (its slot as the ledger
  has it) does, for each of the slot's uses, ``gpus * speed(j,p)`` reference GPU-hours an
  hour while the use's ``[start, end)`` and the run's working time overlap; the run's
  instance-hours, spot and on-demand, and its cost go to the slot's jobs by their GPU-hours
  of use in it (:func:`_slot_shares`).
- **Work, by the mix** (a v1 or v2 plan, whose slots name no uses, or an instance serving a
  slot the plan does not hold - one the controller adds for a job on the floor): an
  instance-hour of cloud pool ``p`` in period ``t`` does, for job ``j``,
  ``gpus[j,p,t] * speed(j,p)`` reference GPU-hours, where ``gpus[j,p,t] = h[j,p,t] / u[p,t]``
  is the plan's mix: the GPU-hours the plan assigns ``j`` on ``p`` in ``t`` per instance-hour
  it buys there. Time in a pool-period the plan assigns no job to goes to the jobs the plan
  puts on that pool whose window holds it, by their GPUs per instance-hour where the plan
  has them there (:meth:`PlanMix.shares`); time on a pool the plan gives no job does no
  work. The same shares split each instance's cost and its spot and on-demand hours among
  the jobs.
- **Setup.** Every run of an instance (a launch or a start) does no work for its first
  ``setup_minutes``. The plan's instance-hours include its slots' setup (v2); the mix
  divides the plan's GPU-hours by the working instance-hours only (without the slots'
  ``[start, setup_end)``), so that setup is not counted twice.
- **Interruptions.** An instance AWS reclaims loses, for each job it serves, the work of
  ``checkpoint_minutes / 2`` (the mean since the last checkpoint), at most what that run did.
- **Owned servers** do the plan's work on them, spread evenly over each period (traces do not
  touch them), at the plan's energy cost.
- A job is **finished** at the moment its work reaches its ``gpu_hours``, within
  :func:`done_tolerance` (a millionth of it, at least 0.0001 GPU-hours): 1,999.999995 of
  2,000 is done, and nothing shown rounded to 4 places reads as done while it is not.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from costopt.core.periods import Periods
from costopt.core.pool_ids import is_owned_pool
from costopt.orchestrate.accrual import Accrual, events_of
from costopt.orchestrate.ledger import Interruption, ProgressReport, Runtime
from costopt.orchestrate.pace import PaceBasis
from costopt.planfile import PlanDocument

DEFAULT_SETUP_MINUTES = 10.0
"""Minutes a launched or started instance is paid for before it works (``cloud.setup_minutes``)."""

DONE_TOLERANCE_SHARE = 1e-6
"""Work within this share of what a job needs counts as all of it (float sums of many runs)."""
DONE_TOLERANCE_GPU_HOURS = 1e-4
"""...and within at least this many reference GPU-hours: more than half the last place the
JSON documents round to (4 places), so a figure shown as the whole need is the whole need."""


def done_tolerance(needed_gpu_hours: float) -> float:
    """Reference GPU-hours short of ``needed_gpu_hours`` that still count as done."""
    return max(DONE_TOLERANCE_GPU_HOURS, DONE_TOLERANCE_SHARE * needed_gpu_hours)


def is_done(done_gpu_hours: float, needed_gpu_hours: float) -> bool:
    """Whether ``done_gpu_hours`` is all of ``needed_gpu_hours`` (:func:`done_tolerance`)."""
    return done_gpu_hours >= needed_gpu_hours - done_tolerance(needed_gpu_hours)


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
    slot: int | None = None  # the plan's slot it serves (None: not known)


@dataclass(frozen=True)
class JobNeeds:
    """What a job must do: ``gpu_hours`` of work (reference GPU-hours) by ``deadline``,
    from ``start`` (its earliest start; ``None``: the horizon's)."""

    name: str
    gpu_hours: float
    checkpoint_minutes: float
    deadline: datetime
    start: datetime | None = None
    gpus: float | None = None  # GPUs it holds while it runs; None: not known
    parallel: int = 1  # its gangs that may run at once (a sweep's trials)
    nodes: int = 1  # instances each gang runs on at once (a multi-node gang's)


@dataclass(frozen=True)
class OwnedWork:
    """Work the plan does for a job on an owned server in ``[start, end)``, and its energy
    cost (USD)."""

    job: str
    start: datetime
    end: datetime
    work_gpu_hours: float
    usd: float

    @cached_property
    def hours(self) -> float:
        """Hours from its start to its end."""
        return _hours(self.start, self.end)

    @cached_property
    def rate(self) -> float:
        """Reference GPU-hours an hour, spread evenly."""
        return self.work_gpu_hours / self.hours

    def usd_within(self, a: datetime, b: datetime) -> float:
        """Its energy cost (USD) in ``[a, b)``, within ``[start, end)``."""
        return self.usd * _hours(a, b) / self.hours


OwnedOfJob = tuple[tuple[OwnedWork, ...], bool]
"""A job's owned work, in the plan's order, and whether that is in order of start."""


@dataclass(frozen=True)
class SlotWork:
    """What a v3 slot's use says: ``job`` holds ``gpus`` GPUs of the instance over
    ``[start, end)``."""

    job: str
    gpus: float
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PlannedWork:
    """What a plan has one job do, as :func:`~costopt.orchestrate.policy.planned_work` reads
    it: ``by_uses``, per pool (in the fleet's order) whose slots name their uses (v3) and
    whose speed for the job the plan records, the job's uses there as ``(GPUs x speed,
    start, end)``; ``by_period``, the job's assignments on the other pools as ``(pool, work
    in reference GPU-hours, period start, period end, period seconds)``. Times in
    microseconds since the epoch (:func:`~costopt.core.times.micros`). ``in_order``, per
    pool of ``by_uses``, where its uses are in order of start: their starts and the latest
    end of each use and those before it (a span's uses are found by bisection), else
    ``None``."""

    by_uses: tuple[tuple[str, tuple[tuple[float, int, int], ...]], ...]
    by_period: tuple[tuple[str, float, int, int, float], ...]
    in_order: tuple[tuple[list[int], list[int]] | None, ...] = ()


@dataclass(frozen=True)
class PlanMix:
    """The plan's mix: per (cloud pool, period index) the GPUs per instance-hour each job
    holds; per cloud pool and job the GPUs per instance-hour in the periods the plan gives
    the job there (``pool_gpus``, for periods the plan leaves the pool empty); the owned work;
    the periods' starts and the horizon's end; per (cloud pool, slot number) the uses of a
    v3 plan's slots (``uses``: which jobs the instance serving that slot runs when) and the
    slots' ``[start, end)`` (``spans``); per pool the GPUs of one instance."""

    period_starts: tuple[datetime, ...]
    end: datetime
    gpus: dict[tuple[str, int], dict[str, float]]
    owned: tuple[OwnedWork, ...]
    pool_gpus: dict[str, dict[str, float]] = field(default_factory=dict)
    uses: dict[tuple[str, int], tuple[SlotWork, ...]] = field(default_factory=dict)
    spans: dict[tuple[str, int], tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict)
    in_force: datetime | None = None
    """When the plan took over (a re-plan's resume moment; ``None``: from its start)."""
    instance_gpus: dict[str, int] = field(default_factory=dict)
    """Per pool of the plan, the GPUs of one of its instances (nodes)."""
    planned: dict[str, tuple[PlanDocument, PlannedWork,
                             dict[tuple[int, int, frozenset[str]], float]]] = field(
        default_factory=dict, compare=False, hash=False, repr=False)
    """Per job, the plan this mix is of, what
    :func:`~costopt.orchestrate.policy.planned_work` reads of it for the job and its last
    answers (by the span asked for, in microseconds, and the pools left out), kept for the
    next call (a controller asks it for every job at every tick)."""
    paced: dict[str, tuple[PlanDocument, PaceBasis]] = field(
        default_factory=dict, compare=False, hash=False, repr=False)
    """Per job, the plan this mix is of and the job's
    :class:`~costopt.orchestrate.pace.PaceBasis` under it, kept likewise."""

    @cached_property
    def owned_by_job(self) -> dict[str, OwnedOfJob]:
        """The owned work per job, in the order of :attr:`owned`, and whether it is in order
        of start (for :func:`credit_owned`)."""
        works: dict[str, list[OwnedWork]] = {}
        for w in self.owned:
            works.setdefault(w.job, []).append(w)
        return {job: (tuple(ws), all(ws[i].start <= ws[i + 1].start
                                     for i in range(len(ws) - 1)))
                for job, ws in works.items()}

    @cached_property
    def held_at_once(self) -> dict[tuple[str, str], float]:
        """Per (job, cloud pool) whose slots name their uses (v3), the most GPUs the job's
        uses there hold at once, over all of the pool's slots: the gangs the plan runs for
        it at once on that pool, on as many instances as it gives it."""
        events: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
        for (pool, _slot), works in self.uses.items():
            for w in works:
                events.setdefault((w.job, pool), []).extend(((w.start, w.gpus),
                                                            (w.end, -w.gpus)))
        out = {}
        for key, changes in events.items():
            held = most = 0.0
            for _at, gpus in sorted(changes):  # at one moment, ends (-) before starts
                held += gpus
                most = max(most, held)
            out[key] = most
        return out

    @cached_property
    def periods(self) -> Periods:
        """The plan's periods (:class:`~costopt.core.periods.Periods`)."""
        return Periods((*self.period_starts, self.end))

    def period_of(self, moment: datetime) -> int:
        """The index of the period holding ``moment`` as :meth:`Periods.index
        <costopt.core.periods.Periods.index>` answers it, but -1 before the horizon: no
        period of the plan holds that moment, so :meth:`shares` finds no job the plan puts
        there (a policy asked before the horizon runs nothing for its first period)."""
        return -1 if moment < self.periods.start else self.periods.index(moment)

    def period_end(self, t: int) -> datetime:
        return self.periods.bounds[t + 1]

    def owned_window(self, t: int) -> tuple[datetime, datetime]:
        """When period ``t``'s owned work is done: a re-plan's horizon starts on the hour
        before the moment it resumes from, so its first hour's owned work is done after that
        moment, when the plan is in force (from the hour, the minutes before would be
        credited to no plan)."""
        start = self.period_starts[t]
        if self.in_force is not None and self.in_force > start:
            start = self.in_force
        return start, self.period_end(t)

    @classmethod
    def of(cls, plan: PlanDocument, job_gpus: Mapping[str, float] | None = None) -> PlanMix:
        """The plan's mix. With ``job_gpus`` (each job's GPUs while it runs), a pool-period's
        working instance-hours count only as many as its jobs keep busy (``sum_j h / gpus``,
        when fewer): time a slot is kept beyond its work - to its minimum length, a whole
        instance for a fraction of one - does not thin the GPUs a job holds."""
        periods = Periods.of_plan(plan.horizon)
        starts, end = periods.bounds[:-1], periods.end
        mix = cls(starts, end, {}, (), in_force=plan.resumed_from[1])
        setup = mix._setup_hours(plan)
        instance_hours = {(r.pool, t): r.instance_hours - setup.get((r.pool, t), 0.0)
                          for r in plan.instance_hours
                          for t in [mix.period_of(r.period_start)]}
        assigned: dict[tuple[str, int], dict[str, float]] = {}  # (pool, t) -> job -> GPU-h
        owned = []
        for a in plan.assignments:
            t = mix.period_of(a.period_start)
            if instance_hours.get((a.pool, t), 0.0) > 1e-9:
                on = assigned.setdefault((a.pool, t), {})
                on[a.job] = on.get(a.job, 0.0) + a.gpu_hours
            elif is_owned_pool(a.pool):
                owned.append(OwnedWork(a.job, *mix.owned_window(t), a.work_gpu_hours,
                                       a.cost_usd))
        gpus: dict[tuple[str, int], dict[str, float]] = {}
        planned: dict[tuple[str, str], list[float]] = {}  # (pool, job) -> [GPU-h, instance-h]
        for (pool, t), on in assigned.items():
            u = instance_hours[(pool, t)]
            if job_gpus is not None and all(job_gpus.get(j) for j in on):
                u = min(u, sum(g / job_gpus[j] for j, g in on.items()))
            gpus[(pool, t)] = {j: g / u for j, g in on.items()}
            for j, g in on.items():
                total = planned.setdefault((pool, j), [0.0, 0.0])
                total[0] += g
                total[1] += u
        pool_gpus: dict[str, dict[str, float]] = {}
        for (pool, job), (gpu_hours, hours) in planned.items():
            pool_gpus.setdefault(pool, {})[job] = gpu_hours / hours
        uses: dict[tuple[str, int], list[SlotWork]] = {}
        spans: dict[tuple[str, int], list[tuple[datetime, datetime]]] = {}
        for fleet_pool in plan.fleet:
            for slot in fleet_pool.slots:
                if slot.uses:
                    key = (fleet_pool.pool, slot.slot)
                    working = slot.setup_end or slot.start  # a use from then begins with
                    # the slot: the setup is the run's own, from its start (a run taken
                    # over from an older plan works on at once)
                    uses.setdefault(key, []).extend(
                        SlotWork(u.job, float(u.gpus), slot.start if u.start <= working
                                 else u.start, u.end) for u in slot.uses)
                    spans.setdefault(key, []).append((slot.start, slot.end))
        return cls(starts, end, gpus, tuple(owned), pool_gpus,
                   {key: tuple(works) for key, works in uses.items()},
                   {key: tuple(spans[key]) for key in uses}, mix.in_force,
                   {r.pool: r.gpus_per_node for r in plan.pools})

    def _setup_hours(self, plan: PlanDocument) -> dict[tuple[str, int], float]:
        """Per (cloud pool, period index) the instance-hours its slots spend in setup (v2:
        ``[start, setup_end)``): paid, in the plan's instance-hours, but no work."""
        out: dict[tuple[str, int], float] = {}
        for pool in plan.fleet:
            for slot in pool.slots:
                if slot.setup_end is None:
                    continue
                t = self.periods.index(slot.start)
                a = slot.start
                while a < slot.setup_end and t < len(self.period_starts):
                    b = min(slot.setup_end, self.period_end(t))
                    out[(pool.pool, t)] = out.get((pool.pool, t), 0.0) + _hours(a, b)
                    a, t = b, t + 1
        return out

    def shares(self, pool: str, t: int, windows: dict[str, tuple[datetime, datetime]],
               moment: datetime) -> dict[str, float]:
        """GPUs per instance-hour each job holds on ``pool`` in period ``t``: the plan's for
        that period; else, among the pool's jobs whose window ``[start, deadline)`` holds
        ``moment``, each one's GPUs per instance-hour in the periods the plan gives it there,
        scaled down to the most the plan ever puts on the pool at once."""
        planned = self.gpus.get((pool, t))
        if planned:
            return planned
        live = {job: g for job, g in self.pool_gpus.get(pool, {}).items()
                if job in windows and windows[job][0] <= moment < windows[job][1]}
        most = max((sum(s.values()) for (p, _t), s in self.gpus.items() if p == pool),
                   default=0.0)
        total = sum(live.values())
        return {job: g * most / total for job, g in live.items()} if total > most else live


@dataclass(frozen=True)
class RunShare:
    """What one run did for one job: its share of the run's instance-hours on each market
    and of its cost (USD), the work segments ``(from, to, reference GPU-hours per hour)``,
    the work done (reference GPU-hours), and the GPUs per instance-hour the job held at the
    run's end (what an interruption loses)."""

    job: str
    cloud_usd: float
    spot_hours: float
    on_demand_hours: float
    segments: tuple[tuple[datetime, datetime, float], ...]
    done_gpu_hours: float
    gpus_at_end: float | None


@dataclass
class RunsMade:
    """What :func:`runs_from_ledger` made last, to make the next answer from while the
    ledger's records are the same (a row read again unchanged gives back the same record):
    the runtimes and interruptions it was made of, the runtimes in order of instance and
    start, the run of each that ended (``None``: open, it runs until the moment asked for)
    and where the open ones are."""

    runtimes: list[Runtime] = field(default_factory=list)
    interruptions: list[Interruption] = field(default_factory=list)
    order: list[Runtime] = field(default_factory=list)
    ended: list[Run | None] = field(default_factory=list)
    open: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ProgressModel:
    """Everything progress is computed from but the runs. ``speed`` is reference GPU-hours
    per GPU-hour of a job on a pool (no spot efficiency: interruptions are counted).

    ``shares`` keeps what each run that ended did for the jobs (:func:`run_shares`): a run
    that ended does the same whenever progress is asked for again, so a tick's progress
    works out only the runs that are new or still running."""

    jobs: tuple[JobNeeds, ...]
    speed: dict[tuple[str, str], float]
    mix: PlanMix
    setup_minutes: float = DEFAULT_SETUP_MINUTES
    shares: dict[Run, tuple[RunShare, ...]] = field(default_factory=dict, compare=False,
                                                     hash=False, repr=False)
    past: dict[tuple[datetime, tuple[JobNeeds, ...], tuple[tuple[object, ...], ...]],
               dict[str, JobProgress]] = field(default_factory=dict, compare=False,
                                               hash=False, repr=False)
    """Progress at past moments (:func:`progress_then`), by the moment, the jobs' needs and
    the runs as they were by then."""
    speeds: dict[str, dict[str, float]] = field(default_factory=dict, compare=False,
                                                hash=False, repr=False)
    """``speed`` by job, then pool (:func:`no_progress` gives every tick's progress each
    job's)."""
    walked: dict[tuple[JobNeeds, ...], Walked] = field(default_factory=dict, compare=False,
                                                       hash=False, repr=False)
    """Per jobs' needs, where :func:`job_progress` left each job's walk over its work."""
    runs_made: RunsMade = field(default_factory=RunsMade, compare=False,
                                hash=False, repr=False)
    """What :func:`runs_from_ledger` made last of the ledger's runs of the model's plan."""
    grown: dict[tuple[datetime, tuple[float, ...]], ProgressModel] = field(
        default_factory=dict, compare=False, hash=False, repr=False)
    """This model with its jobs' needs grown by what was done before a re-plan took over
    (:func:`~costopt.orchestrate.steer.ledger_progress`), by that moment and that work."""


@dataclass
class JobProgress:
    """A job's progress at some moment. Hours are instance-hours attributed to the job;
    USD its share of what the instances cost, and its owned energy. ``start``,
    ``checkpoint_minutes``, ``setup_minutes`` and ``speed`` (reference GPU-hours per GPU-hour
    on each cloud pool) are what it was measured with, for a policy to judge its pace."""

    job: str
    needed_gpu_hours: float
    deadline: datetime
    start: datetime | None = None
    checkpoint_minutes: float = 60.0
    setup_minutes: float = DEFAULT_SETUP_MINUTES
    speed: dict[str, float] = field(default_factory=dict)
    done_gpu_hours: float = 0.0
    finished_at: datetime | None = None
    spot_hours: float = 0.0
    on_demand_hours: float = 0.0
    interruptions: int = 0
    cloud_usd: float = 0.0
    owned_usd: float = 0.0
    _segments: list[tuple[datetime, datetime, float]] = field(default_factory=list, repr=False)
    _losses: list[tuple[datetime, float]] = field(default_factory=list, repr=False)
    gpus: float | None = None  # GPUs it holds while it runs (JobNeeds.gpus)
    parallel: int = 1  # JobNeeds.parallel
    nodes: int = 1  # JobNeeds.nodes

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def met_deadline(self) -> bool:
        return self.finished_at is not None and self.finished_at <= self.deadline

    @property
    def restart_hours(self) -> float:
        """Hours a restart costs: a fresh instance's setup and half a checkpoint interval."""
        return (self.setup_minutes + self.checkpoint_minutes / 2) / 60

    @property
    def remaining_gpu_hours(self) -> float:
        return max(0.0, self.needed_gpu_hours - self.done_gpu_hours)

    @property
    def usd(self) -> float:
        return self.cloud_usd + self.owned_usd


def held_gpus(jobs: Mapping[str, JobProgress]) -> dict[str, float]:
    """Each job's GPUs while it runs, where known (for :meth:`PlanMix.of`)."""
    return {name: p.gpus for name, p in jobs.items() if p.gpus}


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


@dataclass
class _Part:
    """What a run did for one job so far (see :class:`RunShare`)."""

    usd: float = 0.0
    spot_hours: float = 0.0
    on_demand_hours: float = 0.0
    segments: list[tuple[datetime, datetime, float]] = field(default_factory=list)
    gpus_at_end: float | None = None

    def add_hours(self, run: Run, hours: float) -> None:
        self.usd += hours * run.usd_per_hour
        if run.market == "spot":
            self.spot_hours += hours
        else:
            self.on_demand_hours += hours

    def work(self, a: datetime, b: datetime, rate: float) -> None:
        if a < b and rate > 0:
            self.segments.append((a, b, rate))


def run_shares(model: ProgressModel, run: Run, end: datetime,
               since: datetime | None = None) -> tuple[RunShare, ...]:
    """What ``run``, clipped to ``[since, end)``, did for each job it served (its setup
    counted from its own start): within the v3 slot it serves, for the jobs of its uses
    (:func:`_slot_parts`); outside it by the plan's mix (:func:`_mix_parts`). Jobs in the
    order they are first met."""
    mix = model.mix
    a = max(run.start, mix.period_starts[0], since or run.start)  # before the horizon: not
    # the plan's work
    key = (run.pool, run.slot if run.slot is not None else -1)
    works = mix.uses.get(key, ())
    covered = _union([(max(a, s), min(end, e)) for s, e in mix.spans.get(key, ())])
    parts: dict[str, _Part] = {}
    last: dict[str, float] = {}
    for b, e in _gaps(a, end, covered):
        last = _mix_parts(model, run, b, e, parts)
    for part in parts.values():
        part.gpus_at_end = None
    if covered:
        _slot_parts(model, run, a, end, covered, works, parts)
    if not covered or covered[-1][1] < end:  # the mix's at the run's end
        for job, gpus in last.items():
            parts[job].gpus_at_end = gpus
    return tuple(RunShare(job, p.usd, p.spot_hours, p.on_demand_hours, tuple(p.segments),
                          sum(rate * _hours(x, y) for x, y, rate in p.segments), p.gpus_at_end)
                 for job, p in parts.items())


def _union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The non-empty ``spans`` merged where they touch or overlap, in time order."""
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(s for s in spans if s[0] < s[1]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _gaps(a: datetime, end: datetime, covered: list[tuple[datetime, datetime]]
          ) -> list[tuple[datetime, datetime]]:
    """The parts of ``[a, end)`` outside ``covered`` (merged spans within it)."""
    out, at = [], a
    for b, e in covered:
        if at < b:
            out.append((at, b))
        at = max(at, e)
    return out + [(at, end)] if at < end else out


def _mix_parts(model: ProgressModel, run: Run, a: datetime, end: datetime,
               parts: dict[str, _Part]) -> dict[str, float]:
    """Add what ``run`` did over ``[a, end)`` by the plan's mix, period by period, to
    ``parts``; the GPUs per instance-hour of the last period's jobs."""
    mix = model.mix
    windows = {j.name: (j.start or mix.period_starts[0], j.deadline) for j in model.jobs}
    useful = run.start + timedelta(minutes=model.setup_minutes)
    t = mix.periods.index(a)
    shares: dict[str, float] = {}
    while a < end and t < len(mix.period_starts):
        b = min(end, mix.period_end(t))
        shares = mix.shares(run.pool, t, windows, a)
        total = sum(shares.values())
        for job, gpus in shares.items():
            p = parts.setdefault(job, _Part())
            p.add_hours(run, _hours(a, b) * gpus / total)
            p.work(max(a, min(b, useful)), b, gpus * model.speed.get((job, run.pool), 0.0))
        a, t = b, t + 1
    return shares


def _slot_parts(model: ProgressModel, run: Run, a: datetime, end: datetime,
                covered: list[tuple[datetime, datetime]], works: tuple[SlotWork, ...],
                parts: dict[str, _Part]) -> None:
    """Add what ``run`` did over ``covered`` (the parts of ``[a, end)`` within its slot's
    span) to ``parts``: each use works ``gpus * speed`` reference GPU-hours an hour after
    the run's setup; the covered hours and their cost (setup and idle time too) go to the
    uses' jobs by their GPU-hours of use within ``[a, end)`` - all of the slot's when none
    falls there - so that they add up to the run's."""
    useful = run.start + timedelta(minutes=model.setup_minutes)
    weight: dict[str, float] = {}
    for w in works:
        overlap = _hours(max(a, w.start), min(end, w.end))
        if overlap > 0:
            weight[w.job] = weight.get(w.job, 0.0) + w.gpus * overlap
            p = parts.setdefault(w.job, _Part())
            p.work(max(a, useful, w.start), min(end, w.end),
                   w.gpus * model.speed.get((w.job, run.pool), 0.0))
        if w.start < end <= w.end:
            p = parts.setdefault(w.job, _Part())
            p.gpus_at_end = (p.gpus_at_end or 0.0) + w.gpus
    if not weight:
        for w in works:
            weight[w.job] = weight.get(w.job, 0.0) + w.gpus * _hours(w.start, w.end)
            parts.setdefault(w.job, _Part())
    hours = sum(_hours(b, e) for b, e in covered)
    total = sum(weight.values())
    for job, g in weight.items():
        parts[job].add_hours(run, hours * g / total)


def no_progress(model: ProgressModel) -> dict[str, JobProgress]:
    """Each job of ``model`` with nothing done yet."""
    start = model.mix.period_starts[0]
    speeds = model.speeds
    if not speeds:
        for (job, pool), s in model.speed.items():
            speeds.setdefault(job, {})[pool] = s
    return {j.name: JobProgress(j.name, j.gpu_hours, j.deadline, j.start or start,
                                j.checkpoint_minutes, model.setup_minutes,
                                dict(speeds.get(j.name, {})), gpus=j.gpus,
                                parallel=j.parallel, nodes=j.nodes) for j in model.jobs}


def credit_run(out: dict[str, JobProgress], model: ProgressModel, run: Run,
               parts: Iterable[RunShare], at: datetime, walked: datetime | None = None
               ) -> None:
    """Add what ``run`` did (``parts``, worked out with ``model``) to the jobs of ``out``
    it served; an interrupted run that ended by ``at`` loses, for each job holding GPUs
    when it ended, half its checkpoint interval's work on them (at most what it did). A run
    that ended before ``walked`` adds its hours and cost only: its work was walked before
    then (:func:`job_progress`)."""
    work = walked is None or run.end >= walked
    for part in parts:
        p = out.get(part.job)
        if p is None:
            continue
        p.cloud_usd += part.cloud_usd
        p.spot_hours += part.spot_hours
        p.on_demand_hours += part.on_demand_hours
        if work:
            p._segments += part.segments
        if run.interrupted and run.end <= at and part.gpus_at_end is not None:
            p.interruptions += 1
            if work:
                lost = p.checkpoint_minutes / 120 * part.gpus_at_end * model.speed.get(
                    (part.job, run.pool), 0.0)
                p._losses.append((run.end, min(lost, part.done_gpu_hours)))


def credit_owned(out: dict[str, JobProgress], owned: Mapping[str, OwnedOfJob],
                 since: datetime, at: datetime, walked: datetime | None = None,
                 ended: Mapping[str, tuple[int, float]] | None = None
                 ) -> dict[str, tuple[int, float]]:
    """Add the owned work of ``owned`` (:attr:`PlanMix.owned_by_job`) done in ``[since,
    at)`` (each spread evenly over its interval) and its energy cost to the jobs of
    ``out``; of the work that ended before ``walked``, its cost only (its work was walked
    before then: :func:`job_progress`). ``ended``: per job, how many of its first works
    ended before ``walked`` and what they cost, added up as this returns it for ``at`` -
    they cost the same now, so their sum is taken as it was, not added up again. Returns,
    per job, its first works that ended before ``at`` and their cost so far, for a later
    call with ``walked=at`` (the same ``since``)."""
    out_ended = {}
    for job, (works, in_order) in owned.items():
        p = out.get(job)
        if p is None:
            continue
        first, usd = ended[job] if ended and job in ended else (0, p.owned_usd)
        count, ended_usd = first, usd
        for i in range(first, len(works)):
            w = works[i]
            if w.start >= at:  # nothing of it in [since, at): most, early on
                if in_order:  # nor of any after it
                    break
                continue
            if w.end > since:
                a, b = max(w.start, since), min(w.end, at)
                if a < b:
                    usd += w.usd_within(a, b)
                    if walked is None or b >= walked:
                        p._segments.append((a, b, w.rate))
            if count == i and w.end < at:
                count, ended_usd = i + 1, usd
        p.owned_usd = usd
        out_ended[job] = (count, ended_usd)
    return out_ended


def finish(out: dict[str, JobProgress]) -> dict[str, JobProgress]:
    """``out`` with each job's work and the moment it was done worked out from what was
    credited to it."""
    walk_on(out, {}, None, None)
    return out


def walk_on(out: dict[str, JobProgress], walks: Mapping[str, Accrual], since: datetime | None,
            at: datetime | None) -> dict[str, Accrual]:
    """Work out each job's work and the moment it was done, in ``out``, by walking on from
    its walk by ``since`` (``walks``; none: from nothing done) over the events of what was
    credited to it from ``since`` on; each job's walk by ``at`` (before its events at
    ``at``), to walk on from later."""
    by_at = {}
    for name, p in out.items():
        if not p._segments and not p._losses:  # nothing credited since: where it stood
            by_at[name] = walks[name] if since is not None else Accrual()  # (never changed:
            p.done_gpu_hours, p.finished_at = by_at[name].result  # a walk on copies it)
            continue
        events = events_of(p._segments, p._losses)
        walk = walks[name].copy() if since is not None else Accrual()
        needed = p.needed_gpu_hours
        done_from = needed - done_tolerance(needed)  # :func:`is_done`'s bound
        first = 0 if since is None else bisect_left(events, (since,))
        cut = len(events) if at is None else bisect_left(events, (at,), first)
        walk.walk(events[first:cut], needed, done_from)
        by_at[name] = walk.copy()
        walk.walk(events[cut:], needed, done_from)
        p.done_gpu_hours, p.finished_at = walk.result
    return by_at


@dataclass(frozen=True)
class Walked:
    """Where :func:`job_progress`'s last call for some jobs' needs left their walks: each
    job's walk over the events before ``upto`` (its moment), and what those events came of:
    ``closed``, the first runs, all of them ended before ``upto``, and ``runs``, what the
    rest did before then (:func:`_runs_before`). What those first runs and the owned work
    ended before ``upto`` added to each job: ``credited``, their cost, spot and on-demand
    hours and interruptions; ``owned``, :func:`credit_owned`'s answer."""

    upto: datetime
    runs: tuple[tuple[object, ...], ...]
    walks: dict[str, Accrual]
    closed: list[Run] = field(default_factory=list)
    credited: dict[str, tuple[float, float, float, int]] = field(default_factory=dict)
    owned: dict[str, tuple[int, float]] = field(default_factory=dict)

    def same_before(self, runs: list[Run]) -> bool:
        """Whether ``runs`` did before ``upto`` what the runs walked then did."""
        first = len(self.closed)
        return runs[:first] == self.closed and _runs_before(runs[first:], self.upto) == self.runs


def _runs_before(runs: Sequence[Run], moment: datetime, *, ended_then: bool = False
                 ) -> tuple[tuple[object, ...], ...]:
    """What the work of ``runs`` before ``moment`` (``ended_then``: by it, an interruption
    at ``moment`` included) comes of, in their order: each run that started before then,
    without its end and whether it was interrupted if it ran on past that (it did the same
    by then however long it ran on)."""
    return tuple((r.instance_id, r.pool, r.market, r.start, r.usd_per_hour, r.slot)
                 + ((r.end, r.interrupted) if r.end < moment or ended_then and r.end == moment
                    else ())
                 for r in runs if r.start < moment)


WALKS_KEPT = 8
"""Jobs' needs a model keeps walks for (:attr:`ProgressModel.walked`): a resumed plan's
progress is measured against its jobs' needs grown by what was done before it took over."""


def job_progress(model: ProgressModel, runs: Iterable[Run], at: datetime) -> dict[str, JobProgress]:
    """Each job's progress at ``at`` from the runs of its pools (clipped to ``at``). What a
    run that ended by ``at`` did is kept on ``model`` (:attr:`ProgressModel.shares`) for the
    next call; so is where each job's walk over its work stands by ``at``
    (:attr:`ProgressModel.walked`): the next call at ``at`` or later, with the runs the
    same before ``at``, walks on from there over what happened since (a run that ended
    before then adds its hours and cost, not its work again)."""
    runs = list(runs)
    out = no_progress(model)
    last = model.walked.get(model.jobs)
    since = last.upto if last is not None and last.upto <= at and last.same_before(runs) \
        else None
    first = 0
    if since is not None:  # the first runs ended before then: they add what they added then
        first = len(last.closed)
        for name, (usd, spot, on_demand, interruptions) in last.credited.items():
            p = out[name]
            p.cloud_usd, p.spot_hours, p.on_demand_hours = usd, spot, on_demand
            p.interruptions = interruptions
    kept = model.shares
    if len(kept) > 4 * len(runs) + 256:  # runs read no more (a run still open ends later)
        kept.clear()
    closed, credited = len(runs), None  # the first runs that ended before ``at``
    for i in range(first, len(runs)):
        run = runs[i]
        if credited is None and run.end >= at:
            closed, credited = i, _credited(out)
        end = min(run.end, at)
        if end <= run.start:
            continue
        if run.end <= at:
            parts = kept.get(run)
            if parts is None:
                parts = kept[run] = run_shares(model, run, end)
        else:
            parts = run_shares(model, run, end)
        credit_run(out, model, run, parts, at, since)
    if credited is None:
        credited = _credited(out)
    owned = credit_owned(out, model.mix.owned_by_job, model.mix.period_starts[0], at, since,
                         last.owned if since is not None else None)
    walks = walk_on(out, last.walks if last is not None else {}, since, at)
    if last is None or at >= last.upto:  # not for a moment in the past (a report's)
        if len(model.walked) >= WALKS_KEPT:
            model.walked.clear()
        model.walked[model.jobs] = Walked(at, _runs_before(runs[closed:], at), walks,
                                          runs[:closed], credited, owned)
    return out


def _credited(out: dict[str, JobProgress]) -> dict[str, tuple[float, float, float, int]]:
    """Each job's cost, spot and on-demand hours and interruptions credited so far."""
    return {name: (p.cloud_usd, p.spot_hours, p.on_demand_hours, p.interruptions)
            for name, p in out.items()}


PAST_KEPT = 64
"""Past moments' progress a model keeps (:attr:`ProgressModel.past`)."""


def progress_then(model: ProgressModel, runs: Sequence[Run],
                  when: datetime) -> dict[str, JobProgress]:
    """:func:`job_progress` at ``when``, kept on ``model`` for the runs as they were by then:
    a run open at ``when`` does the same by then whenever it ends (a tick asks again for
    the moment a plan took over, or a report was made). Read only: the figures are shared."""
    key = (when, model.jobs, _runs_before(runs, when, ended_then=True))
    out = model.past.get(key)
    if out is None:
        if len(model.past) >= PAST_KEPT:
            model.past.clear()
        out = model.past[key] = job_progress(model, runs, when)
    return out


def reported_progress(model: ProgressModel, runs: list[Run], at: datetime,
                      reports: Iterable[ProgressReport]) -> dict[str, JobProgress]:
    """Each job's progress at ``at``, from its last report at or before ``at`` (what the job
    said it had done then) plus the work its instances did since, as :func:`job_progress`
    accounts it; a job with no report as :func:`job_progress` has it."""
    out = job_progress(model, runs, at)
    latest = {r.job: r for r in sorted(reports, key=lambda r: r.at) if r.at <= at}
    then: dict[datetime, dict[str, JobProgress]] = {}  # reports made at one moment (a
    # resumed plan's, every job's) ask once
    for job, report in latest.items():
        p = out.get(job)
        if p is None:
            continue
        if report.at not in then:
            then[report.at] = progress_then(model, runs, report.at)
        since = p.done_gpu_hours - then[report.at][job].done_gpu_hours
        done = min(p.needed_gpu_hours, report.done_gpu_hours + max(0.0, since))
        if is_done(report.done_gpu_hours, p.needed_gpu_hours):
            p.finished_at = report.at
        elif not is_done(done, p.needed_gpu_hours):
            p.finished_at = None
        p.done_gpu_hours = p.needed_gpu_hours if p.finished_at else done
    return out


def parse_progress_tag(value: str) -> tuple[dict[str, float], str | None]:
    """The ``costopt:progress`` tag, ``JOB=GPU_HOURS[,JOB=GPU_HOURS...]`` (reference
    GPU-hours done): the jobs' figures, and what is wrong with the parts left out."""
    said: dict[str, float] = {}
    bad = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        job, _, figure = part.partition("=")
        try:
            done = float(figure)
        except ValueError:
            done = math.nan
        if not job.strip() or not math.isfinite(done) or done < 0:
            bad.append(part)
        else:
            said[job.strip()] = done
    problem = f"not JOB=GPU_HOURS (a number >= 0): {', '.join(bad)}" if bad else None
    return said, problem


def runs_from_ledger(runtimes: Iterable[Runtime], interruptions: Iterable[Interruption],
                     at: datetime, made: RunsMade | None = None) -> list[Run]:
    """The ledger's runtimes as runs (a runtime still open runs until ``at``); the last
    runtime of an interrupted instance is the interrupted one. With ``made`` (kept from
    call to call), runs of the same records as last time are those made then, but the open
    ones'; any other record, a new, changed or gone row, makes all of them again."""
    runtimes, interruptions = list(runtimes), list(interruptions)
    if made is None or made.runtimes != runtimes or made.interruptions != interruptions:
        lost = {i.instance_id for i in interruptions}
        order = sorted(runtimes, key=lambda r: (r.instance_id, r.start))
        last = {r.instance_id: r.start for r in order}
        if made is None:
            made = RunsMade()
        made.runtimes, made.interruptions, made.order = runtimes, interruptions, order
        made.ended = [None if r.end is None else Run(
            r.instance_id, r.pool, r.market, r.start, r.end, r.usd_per_hour,
            r.instance_id in lost and r.start == last[r.instance_id], r.slot) for r in order]
        made.open = [k for k, run in enumerate(made.ended) if run is None]
    out: list[Run] = made.ended.copy()  # type: ignore[assignment]  # the open ones follow
    for k in made.open:
        r = made.order[k]
        out[k] = Run(r.instance_id, r.pool, r.market, r.start, at, r.usd_per_hour, False, r.slot)
    return out
