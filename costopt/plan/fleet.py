"""The fleet schedule: each cloud pool's instance-hours per period as whole instances over
intervals (*slots*), with launch overhead and a minimum instance time.

Per pool, slot ``k`` may run in period ``t`` only while ``k < ceil(u[t] / P)`` (it is
*allotted* there): every change below stays inside allotted periods, so the fleet never runs
more instances at once than ``ceil(u/P)`` - within ``max_instances`` and every quota the
model holds (``model.running_at_once``).

1. Place: in a period with ``u`` instance-hours, slots ``0..floor(u/P)-1`` run all of it and
   slot ``floor(u/P)`` the rest - at the start of the period when that slot ran at the end
   of the previous one, at its end when the slot runs all of the next period, else at the
   start. Touching intervals of a slot merge into one *run*.
2. Every run starts with ``setup`` seconds, paid and without work (``cloud.setup_minutes``).
   Where a period's work (reference: what its jobs need, in instance-hours) exceeds what its
   runs deliver after setup, the period's partial slot grows inside the period, or a slot
   that restarts at the period's start keeps running from the previous period (one setup
   fewer).
3. No run is shorter than ``min_run`` and no pause inside a slot is: short runs grow inside
   their periods, short pauses are filled (``cloud.min_instance_minutes``).

4. Lay the jobs out on the runs' GPUs (``layout.py``): each run's ``uses``; where jobs do
   not fit, runs alone in their slot inside a period move to its end (same cost and
   limits); what still does not fit is the schedule's ``short``, which the planner answers
   (a multi-node job's gangs too, where they run beside more of the job's gangs on other
   pools than its ``parallel``).

Steps 2-3 only add paid time, so the fleet's cost is at least the LP's ``price * u``; the
plan reports the fleet's cost (``docs/model.md``, "Launch overhead"). Pure: numbers in,
intervals out; times in whole microseconds from the first period's start.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property

from costopt.plan.layout import Layout, Piece, lay_out
from costopt.plan.model import gang_lanes, running_at_once

TICK = 1_000_000  # time is counted in microseconds: exact for the LP's hours to 1e-6 s
HOUR = 3600 * TICK
MICROSECOND = timedelta(microseconds=1)
ROUNDS = 50  # repair rounds before giving up (each only lengthens runs; a few suffice)


@dataclass(frozen=True)
class Use:
    """Job ``job`` runs on ``gpus`` GPUs of the instance over ``[start, end)`` (a gang of
    it; two gangs of a sweep on one instance are two uses)."""

    job: str
    gpus: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Run:
    """Slot ``slot`` runs ``[start, end)``; its first ``setup_end - start`` is setup;
    ``uses`` what its GPUs run when (``layout.py``): at every instant they sum to at most
    the instance's GPUs."""

    slot: int
    start: datetime
    end: datetime
    setup_end: datetime
    jobs: tuple[str, ...] = ()  # the jobs it serves
    gang: int | None = None  # a multi-node gang's first slot (its nodes share the interval)
    node_rank: int | None = None  # this instance's rank in the gang, 0..nodes-1
    nodes: int = 1
    uses: tuple[Use, ...] = ()

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def work_hours(self) -> float:
        """Instance-hours of work: the run less its setup."""
        return max(0.0, (self.end - self.setup_end).total_seconds() / 3600)


@dataclass(frozen=True)
class PoolSchedule:
    """One cloud pool's runs, its paid instance-hours per period (from the runs), and the
    gang-hours of each (block, job) its runs could not carry (``layout.py``; a multi-node
    job's per node, its instance-hours ``h / gpus`` like a one-node job's)."""

    pool: str
    runs: tuple[Run, ...]
    hours_by_period: dict[int, float]
    short: dict[tuple[int, str], float] = field(default_factory=dict)


@dataclass(frozen=True)
class Periods:
    """Period boundaries: ``starts[t]`` to ``ends[t]``, in order, non-overlapping."""

    starts: Sequence[datetime]
    ends: Sequence[datetime]

    @cached_property
    def origin(self) -> datetime:
        return self.starts[0]

    def micros(self, moment: datetime) -> int:
        """``moment`` in microseconds from the first period's start (exact: a datetime
        holds whole microseconds)."""
        return (moment - self.origin) // MICROSECOND

    def seconds(self, t: int) -> tuple[int, int]:
        """Period ``t``'s start and end in microseconds from the first period's start."""
        return self._bounds[t]

    @cached_property
    def _bounds(self) -> tuple[tuple[int, int], ...]:
        """:meth:`seconds` of every period, worked out once (the layout asks them per run)."""
        return tuple((self.micros(s), self.micros(e))
                     for s, e in zip(self.starts, self.ends, strict=True))


def schedule_pool(pool: str, periods: Periods, paid_hours: dict[int, float],
                  work_hours: dict[int, float], setup_s: int, min_run_s: int) -> PoolSchedule:
    """The runs of one pool: ``paid_hours[t]`` instance-hours (the LP's ``u``) and at least
    ``work_hours[t]`` instance-hours of work after setup in each period."""
    plan = _Slots(periods, paid_hours, setup_s * TICK)
    plan.place()
    for _ in range(ROUNDS):
        changed = plan.fill_pauses(min_run_s * TICK) | plan.lengthen_short_runs(min_run_s * TICK)
        changed |= plan.repair_work(work_hours)
        if not changed:
            break
    origin = periods.origin
    runs = tuple(Run(k, origin + timedelta(microseconds=s), origin + timedelta(microseconds=e),
                     origin + timedelta(microseconds=min(e, s + setup_s * TICK)))
                 for k, s, e in plan.runs())
    return PoolSchedule(pool, runs, {t: plan.paid(t) / HOUR for t in sorted(paid_hours)})


def hours_in_periods(runs: Sequence[Run], periods: Periods, *,
                     working: bool = False) -> dict[int, float]:
    """Instance-hours of ``runs`` in each period they touch (``working``: after setup)."""
    out: dict[int, float] = {}
    begins = [periods.seconds(t)[0] for t in range(len(periods.starts))]
    for r in runs:
        s, e = periods.micros(r.setup_end if working else r.start), periods.micros(r.end)
        t = max(0, bisect.bisect_right(begins, s) - 1)
        while t < len(begins) and begins[t] < e:
            inside = min(e, periods.seconds(t)[1]) - max(s, begins[t])
            if inside > 0:
                out[t] = out.get(t, 0.0) + inside / HOUR
            t += 1
    return out


def _ticks(hours: float) -> int:
    """``hours`` in microseconds, rounded to a whole millisecond: a solver's 11.999999997 h
    is the period's 12 h, not a run that stops 11 microseconds short of it (and restarts,
    paying setup, at the next period)."""
    return round(hours * HOUR / 1000) * 1000


@dataclass(frozen=True)
class PoolUse:
    """What runs on one cloud pool besides its hours: per multi-node job its ``nodes`` and
    its instance-hours of work per period (``h / gpus``; such a gang's nodes are its own),
    which jobs have a ``run`` command, and the one-node jobs' gang-time per period to lay
    out on instances of ``gpus_per_node`` GPUs."""

    gangs: dict[str, tuple[int, dict[int, float]]] = field(default_factory=dict)
    commanded: frozenset[str] = frozenset()
    pieces: dict[int, list[Piece]] = field(default_factory=dict)
    gpus_per_node: int = 1
    gang_gpus: dict[str, int] = field(default_factory=dict)  # a multi-node job's per node
    gang_parallel: dict[str, int] = field(default_factory=dict)  # its gangs at once at most
    busy: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """Each job's gangs on other pools (microseconds from the periods' origin): the
    layout runs no more of its gangs at once than ``parallel`` over all pools."""
    gang_charged: dict[int, float] = field(default_factory=dict)
    """Per period, the instance-hours the LP charged the multi-node gangs (``model.gang_charge``):
    the one-node jobs' instances get no more than the rest, however few the gangs' runs
    take."""


def schedule_pool_jobs(pool: str, periods: Periods, paid_hours: dict[int, float],
                       work_hours: dict[int, float], setup_s: int, min_run_s: int,
                       use: PoolUse) -> PoolSchedule:
    """The runs of one pool and the jobs each serves; ``work_hours`` is the work of its
    one-node jobs (instance-hours per period), the gangs' is in ``use``. Each multi-node
    job's gangs come first: its work over its ``nodes`` is gang-hours, on as many gangs at
    once as it needs, each paid with a setup where a gang's run starts (a period its gang
    did not fill before), scheduled as :func:`schedule_pool` does (setup per run, no run or
    pause shorter than ``min_run_s``), and every run becomes ``nodes`` runs with the same
    interval (never one alone). The pool's other instance-hours and work follow, each run
    serving the one-node jobs of the periods it overlaps. A slot runs the same commands in
    all its runs (its instance's user data holds them): a run that would serve other jobs
    with a ``run`` gets a slot number of its own."""
    runs: list[Run] = []
    hours_by_period: dict[int, float] = {}
    base = 0
    crowded: dict[tuple[int, str], float] = {}  # a gang's time beside too many of its own
    for job, (nodes, hours) in sorted(use.gangs.items()):
        gang_work = {t: h / nodes for t, h in hours.items()}
        gang_paid = {}
        for t, h in sorted(gang_work.items()):
            begin, end = periods.seconds(t)
            length = (end - begin) / HOUR
            before = t - 1 if t > 0 and periods.seconds(t - 1)[1] == begin else None
            # gangs running all through the period before carry on without a setup
            through = 0 if before is None else int(gang_paid.get(before, 0.0) / (
                (periods.seconds(before)[1] - periods.seconds(before)[0]) / HOUR) + 1e-9)
            # the job's gangs at once, each new one paying its setup, as the model counts
            # them (``gang_lanes``, ``instances_at_once``), never more than it may run
            lanes = min(gang_lanes(h, length, setup_s / 3600, through),
                        use.gang_parallel.get(job, 1))
            gang_paid[t] = min(lanes * length, h + setup_s / 3600 * max(0, lanes - through))
        schedule = schedule_pool(pool, periods, gang_paid, gang_work, setup_s, min_run_s)
        schedule = _beside_own_gangs(schedule, periods, use.busy.get(job, []),
                                     use.gang_parallel.get(job, 1), min_run_s * TICK)
        for r, hours in _crowded(use.busy.get(job, []), schedule.runs, periods,
                                 use.gang_parallel.get(job, 1)).items():
            crowded[(r, job)] = crowded.get((r, job), 0.0) + hours * nodes
        for r in schedule.runs:
            first = base + r.slot * nodes
            gang_use = (Use(job, use.gang_gpus.get(job, 1), r.setup_end, r.end),)
            runs += [replace(r, slot=first + k, jobs=(job,), gang=first, node_rank=k,
                             nodes=nodes, uses=gang_use) for k in range(nodes)]
        base += nodes * (1 + max((r.slot for r in schedule.runs), default=-1))
        for t, h in schedule.hours_by_period.items():
            hours_by_period[t] = hours_by_period.get(t, 0.0) + h * nodes
    # The rest is the pool's hours less the gangs', as their runs take them or as the LP
    # charged them where more (the gangs carry on from the period before without a setup,
    # or stop early: those hours are no instance of the one-node jobs, which the LP's
    # ``count`` rows did not count; such an empty one ran 12 minutes over a quota). The rest
    # holds its jobs' work even where the gangs' setups took more than the LP gave; where no
    # one-node job works, the LP's hours beyond the gangs' are no instance (an empty one ran
    # over a quota beside a gang that needed no second setup).
    rest_paid = {t: h - max(hours_by_period.get(t, 0.0), use.gang_charged.get(t, 0.0))
                 for t, h in paid_hours.items()}
    paid = {t: max(h, work_hours.get(t, 0.0)) for t, h in rest_paid.items()
            if max(h, work_hours.get(t, 0.0)) > 1e-6 and work_hours.get(t, 0.0) > 1e-6}
    rest = schedule_pool(pool, periods, paid, {t: work_hours.get(t, 0.0) for t in paid},
                         setup_s, min_run_s)
    rest_runs, uses, short = _laid_out(list(rest.runs), periods, use, min_run_s * TICK)
    number: dict[tuple[int, frozenset[str]], int] = {}  # (slot, commands run) -> slot number
    extra = base + 1 + max((r.slot for r in rest.runs), default=-1)
    for r, placed in zip(rest_runs, uses, strict=True):
        jobs = tuple(sorted({u.job for u in placed}))
        key = (r.slot, use.commanded & set(jobs))
        if key not in number:
            taken = any(known[0] == r.slot for known in number)
            number[key] = extra if taken else base + r.slot
            extra += taken
        runs.append(replace(r, slot=number[key], jobs=jobs, uses=tuple(placed)))
    for t, h in rest.hours_by_period.items():
        hours_by_period[t] = hours_by_period.get(t, 0.0) + h
    for key, hours in crowded.items():
        short[key] = short.get(key, 0.0) + hours
    return PoolSchedule(pool, tuple(sorted(runs, key=lambda r: (r.slot, r.start))),
                        {t: hours_by_period.get(t, 0.0) for t in sorted(paid_hours)}, short)


def _beside_own_gangs(schedule: PoolSchedule, periods: Periods,
                      busy: list[tuple[int, int]], parallel: int,
                      min_run: int) -> PoolSchedule:
    """A multi-node job's gang runs on this pool moved clear of its gangs on pools laid
    out before (``busy``, their working time), as the layout does a one-node job's: each
    run alone in its slot inside a period goes to the period's end, or to start where one
    of those gangs ends (as long, the same cost and limits), whichever runs fewest of the
    job's gangs at once beyond ``parallel``, then overlaps them least; its setup may
    overlap their work. A 2-node job of 2 gangs at once, one gang all day and one till
    13:31 on p4d, ran its third on p3.2xlarge from 00:00 rather than from 13:31. The
    periods are passed over again while a pass moved a run: a run moved in a later period
    may leave one of an earlier period alone in its slot (a 30-minute gang at 12:00 could
    go to 23:30, beside a gang on another pool till then, only once the slot's next run
    moved from 00:00 to 00:50). What still runs beside too many of the job's gangs is
    ``short`` (``_crowded``)."""
    if not busy:
        return schedule
    runs = list(schedule.runs)
    best = _crowding(busy, runs, periods, parallel)
    for _ in range(ROUNDS):  # a move in a later period may free a run in an earlier one
        start = best
        for t in range(len(periods.starts)):
            begin, end = periods.seconds(t)
            for anchor in [end] + sorted({e for _s, e in busy if begin < e < end}):
                moved = [_moved_to(r, periods, runs, begin, end, min_run, anchor)
                         for r in runs]
                if _crowding(busy, moved, periods, parallel) < best:
                    runs, best = moved, _crowding(busy, moved, periods, parallel)
        if best == start:
            break
    return replace(schedule, runs=tuple(runs))


def _crowded(busy: list[tuple[int, int]], runs: Sequence[Run], periods: Periods,
             parallel: int) -> dict[int, float]:
    """Per period (a block of them, as laid out), the hours of the working time of ``runs``
    (one multi-node job's gangs on one pool) while the job runs more than ``parallel`` of
    its gangs at once, ``busy`` (its gangs on the pools laid out before) counted first:
    time its gangs here cannot have, which the pool's ``short`` reports."""
    mine = [(periods.micros(r.setup_end), periods.micros(r.end)) for r in runs]
    mine = [(s, e) for s, e in mine if s < e]
    edges = sorted({m for span in busy + mine for m in span})
    out: dict[int, float] = {}
    for a, b in zip(edges, edges[1:], strict=False):
        there = sum(s <= a and b <= e for s, e in busy)
        here = sum(s <= a and b <= e for s, e in mine)
        over = min(here, max(0, there + here - parallel))
        if not over:
            continue
        for t in range(len(periods.starts)):
            begin, end = periods.seconds(t)
            inside = min(b, end) - max(a, begin)
            if inside > 0:
                out[t] = out.get(t, 0.0) + over * inside / HOUR
    return out


def _crowding(busy: list[tuple[int, int]], runs: Sequence[Run], periods: Periods,
              parallel: int) -> tuple[int, int]:
    """How far the working time of ``runs`` beside ``busy`` (microseconds) exceeds
    ``parallel`` at its most, and for how long the two overlap."""
    mine = [(periods.micros(r.setup_end), periods.micros(r.end)) for r in runs]
    spans = [(s, e) for s, e in busy + mine if s < e]
    edges = sorted([(s, 1) for s, _e in spans] + [(e, -1) for _s, e in spans])
    most = running = 0
    for _at, step in edges:
        running += step
        most = max(most, running)
    overlap = sum(max(0, min(e, f) - max(s, b)) for s, e in mine for b, f in busy)
    return max(0, most - parallel), overlap


def _laid_out(runs: list[Run], periods: Periods, use: PoolUse, min_run: int
              ) -> tuple[list[Run], list[list[Use]], dict[tuple[int, str], float]]:
    """The runs, each run's uses and the gang-hours per (period, job) that did not fit: per
    period, its one-node jobs laid out (``layout.lay_out``) on the working time (after
    setup) of the runs in it, beside their gangs on other pools (``use.busy``). Where some
    do not fit, the runs that lie inside the period, alone in their slot there, move (as
    many instances, as long, in the same period: the same cost and limits) to the period's
    end, or to start where a gang of a job left short ends on another pool, whichever
    fits the jobs best - a job that runs on another pool for a while goes on here after
    it."""
    uses: list[list[Use]] = [[] for _ in runs]
    short: dict[tuple[int, str], float] = {}
    origin = periods.origin
    for t, pieces in sorted(use.pieces.items()):
        begin, end = periods.seconds(t)
        inside, layout = _lay_out_in(runs, periods, begin, end, use, pieces)
        anchors = [] if not layout.short else [end] + sorted(
            {e for job in layout.short for _s, e in use.busy.get(job, ()) if begin < e < end})
        placed = runs
        for anchor in anchors:
            moved = [_moved_to(r, periods, placed, begin, end, min_run, anchor) for r in placed]
            again, second = _lay_out_in(moved, periods, begin, end, use, pieces)
            if sum(second.short.values()) < sum(layout.short.values()):
                runs, inside, layout = moved, again, second
        for p in layout.placements:
            uses[inside[p.bin][0]].append(Use(p.job, p.gpus,
                                              origin + timedelta(microseconds=p.start),
                                              origin + timedelta(microseconds=p.end)))
        short.update({(t, job): micros / HOUR for job, micros in layout.short.items()})
    return runs, [sorted(u, key=lambda u: (u.start, u.job)) for u in uses], short


def _lay_out_in(runs: list[Run], periods: Periods, begin: int, end: int, use: PoolUse,
                pieces: list[Piece]) -> tuple[list[tuple[int, int, int]], Layout]:
    """The runs' working time in ``[begin, end)`` (run index, start, end) and the layout
    of ``pieces`` on it."""
    inside = [(i, max(begin, periods.micros(r.setup_end)), min(end, periods.micros(r.end)))
              for i, r in enumerate(runs)]
    inside = [(i, s, e) for i, s, e in inside if s < e]
    return inside, lay_out([(s, e) for _i, s, e in inside], use.gpus_per_node, pieces,
                           use.busy)


def _moved_to(r: Run, periods: Periods, runs: list[Run], begin: int, end: int,
              min_run: int, anchor: int) -> Run:
    """``r`` moved to start at ``anchor`` (to end at ``end`` where it would run past it) if
    it lies inside ``[begin, end)`` and no other run of its slot comes within ``min_run``
    of the period; else ``r``."""
    s, e = periods.micros(r.start), periods.micros(r.end)
    alone = not any(o.slot == r.slot and o is not r
                    and periods.micros(o.start) < end + min_run
                    and periods.micros(o.end) > begin - min_run for o in runs)
    if not (begin <= s and e < end and alone):
        return r
    shift = timedelta(microseconds=min(anchor, end - (e - s)) - s)
    return replace(r, start=r.start + shift, end=r.end + shift, setup_end=r.setup_end + shift)


class _Slots:
    """Intervals per slot, in microseconds, and the allotment that bounds them."""

    def __init__(self, periods: Periods, paid_hours: dict[int, float], setup_s: int) -> None:
        """Slot ``k`` is allotted in period ``t`` while ``k < running_at_once(paid, length)``:
        the count the planner holds to its limits, solver noise ignored; the paid time is
        cut to the allotted slots (the noise above whole instances is no instance)."""
        self.periods = periods
        self.setup_s = setup_s
        self.bounds = {t: periods.seconds(t) for t in paid_hours}
        self.allotted = {t: running_at_once(h, (b[1] - b[0]) / HOUR)
                         for t, h in paid_hours.items() for b in [self.bounds[t]]}
        self.paid_s = {t: min(_ticks(h), self.allotted[t] * (b[1] - b[0]))
                       for t, h in paid_hours.items() for b in [self.bounds[t]]}
        self.spans: dict[int, list[list[int]]] = {}  # slot -> sorted [start, end) intervals

    def place(self) -> None:
        """Step 1 (module docstring)."""
        running_at_end: set[int] = set()
        order = sorted(self.bounds)
        for i, t in enumerate(order):
            begin, end = self.bounds[t]
            if i == 0 or self.bounds[order[i - 1]][1] != begin:
                running_at_end = set()
            length = end - begin
            full = self.paid_s[t] // length
            spans = [(k, begin, end) for k in range(full)]
            rest = self.paid_s[t] - full * length
            if rest >= 1:
                nxt = order[i + 1] if i + 1 < len(order) else None
                nb, ne = self.bounds[nxt] if nxt is not None else (None, None)
                continues = nb == end and self.paid_s[nxt] // (ne - nb) > full  # type: ignore
                at_end = full not in running_at_end and continues
                spans.append((full, end - rest, end) if at_end else (full, begin, begin + rest))
            running_at_end = {k for k, _s, e in spans if e == end}
            for k, s, e in spans:
                self._add(k, s, e)

    def _add(self, k: int, s: int, e: int) -> None:
        runs = self.spans.setdefault(k, [])
        runs.append([s, e])
        runs.sort()
        merged: list[list[int]] = []
        for run in runs:
            if merged and run[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], run[1])
            else:
                merged.append(list(run))
        self.spans[k] = merged

    def runs(self) -> list[tuple[int, int, int]]:
        return sorted((k, s, e) for k, spans in self.spans.items() for s, e in spans)

    def period_of(self, moment: int, *, ending: bool = False) -> int | None:
        """The period holding ``moment`` (its end, when ``ending``) among the pool's."""
        for t, (b, e) in self.bounds.items():
            if (b < moment <= e) if ending else (b <= moment < e):
                return t
        return None

    def is_allotted(self, k: int, t: int | None) -> bool:
        return t is not None and k < self.allotted[t]

    def paid(self, t: int) -> int:
        b, e = self.bounds[t]
        return sum(max(0, min(e, re) - max(b, rs)) for _k, rs, re in self.runs())

    def work(self, t: int) -> int:
        """Seconds of work in period ``t``: paid time less the setups that fall in it."""
        b, e = self.bounds[t]
        setup = sum(max(0, min(e, rs + self.setup_s, re) - max(b, rs))
                    for _k, rs, re in self.runs())
        return self.paid(t) - setup

    def repair_work(self, work_hours: dict[int, float]) -> bool:
        """Step 2: grow runs where a period's work falls short of what its jobs need."""
        changed = False
        for t in sorted(self.bounds):
            short = _ticks(work_hours.get(t, 0.0)) - self.work(t)
            if short > 0:
                changed |= self._grow_in(t, short)
        return changed

    def _grow_in(self, t: int, seconds: int) -> bool:
        """Lengthen runs in period ``t`` by up to ``seconds``: first a slot whose time in
        the period does not fill it (away from the edge it touches), then a slot that
        restarts at the period's start, run through from the previous period."""
        b, e = self.bounds[t]
        for k in range(self.allotted[t]):
            covered = [(max(s, b), min(f, e)) for s, f in self.spans.get(k, [])
                       if max(s, b) < min(f, e)]
            if not covered or covered == [(b, e)]:
                continue
            s, f = covered[0]
            if f < e:
                self._add(k, f, min(e, f + seconds))
            else:
                self._add(k, max(b, s - seconds), s)
            return True
        before = self.period_of(b, ending=True)
        if before is None:
            return False
        pb = self.bounds[before][0]
        for k in range(self.allotted[t]):
            restarts = any(s == b for s, _f in self.spans.get(k, []))
            prior = [f for s, f in self.spans.get(k, []) if s < b and f > pb]
            if restarts and prior and self.is_allotted(k, before):
                self._add(k, max(prior), b)
                return True
        return False

    def lengthen_short_runs(self, min_run_s: int) -> bool:
        """Step 3: a run shorter than ``min_run_s`` grows forward inside the period of its
        end, then backward inside the period of its start."""
        changed = False
        for k, s, e in self.runs():
            if e - s >= min_run_s:
                continue
            last = self.period_of(e, ending=True)
            first = self.period_of(s)
            new_e = min(self.bounds[last][1], s + min_run_s) if last is not None else e
            new_s = max(self.bounds[first][0], new_e - min_run_s) if first is not None else s
            if (new_s, new_e) != (s, e):
                self._add(k, new_s, new_e)
                changed = True
        return changed

    def fill_pauses(self, min_run_s: int) -> bool:
        """Step 3: a pause inside a slot shorter than ``min_run_s`` is run through (it lies
        in the periods of the runs on either side, where the slot is allotted)."""
        changed = False
        for k, spans in list(self.spans.items()):
            for (_s1, e1), (s2, _e2) in zip(spans, spans[1:], strict=False):
                if 0 < s2 - e1 < min_run_s:
                    self._add(k, e1, s2)
                    changed = True
                    break
        return changed
