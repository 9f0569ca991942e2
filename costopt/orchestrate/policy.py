"""Policies that steer the fleet instead of the plan in force: baselines the controller
(:mod:`costopt.orchestrate.controller`, ``--policy plan``, the default) is measured against.

A policy answers, at a moment, *which fleet schedule to reconcile towards, and on which
market* (:class:`Desired`), given the plan and (if it wants it) each job's progress. The
reconcile, fallback chain, budget guard and ledger then carry that out unchanged.

- ``deadline`` (:class:`DeadlineAware`): spec v2, "Carrying a plan out on time".
  Each spot pool of the plan runs its gangs while a job the plan puts on it is unfinished,
  on the market its pace calls for (:mod:`costopt.orchestrate.pace`). Where Uniform
  Progress's line says on-demand is needed it takes Uniform Progress's decision: behind (or
  critical) - on-demand now, a spot instance still running swapped for it; ahead - spot,
  retried at every reconcile (an on-demand instance already running is kept); safely ahead -
  spot only, the on-demand instances ended. It improves on Uniform Progress only where that
  cannot cost more on the whole: the work the plan still has a job do on owned servers and
  on-demand pools counts towards its pace (less left for spot to catch up), and spot whose
  interruptions show it clearly dearer per unit of work than on-demand
  (:func:`~costopt.orchestrate.pace.spot_dearer`) is not used: on-demand runs instead,
  whatever the pace. (Keeping a running spot instance while behind was measured: 2.9 %
  cheaper in total on 96 synthetic traces, but dearer than Uniform Progress on 20 of them,
  by up to 13 % - an interruption before the job catches up leaves it later on the line.)
  On-demand pools and owned servers do what the plan has for them (their future work counts
  towards the job's pace); every pool ends once its jobs are done. Measured against the
  controller in docs/simulate.md: it pays several times what the plan expects.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Protocol

from costopt.core.pool_ids import is_owned_pool
from costopt.core.times import micros
from costopt.orchestrate.pace import JobPace, PaceState, spot_dearer
from costopt.orchestrate.progress import JobProgress, PlanMix, PlannedWork, held_gpus
from costopt.orchestrate.reconcile import MarketChoice
from costopt.planfile import FleetPool, PlanDocument, Slot

ProgressNow = Callable[[], dict[str, JobProgress]]
"""Each job's progress now, computed only when a policy asks for it."""


@dataclass(frozen=True)
class Desired:
    """The schedule to reconcile towards, and the market a policy chooses per pool id (a pool
    without a choice runs as the plan says, with its fallback chain)."""

    plan: PlanDocument
    markets: dict[str, MarketChoice] = field(default_factory=dict)


class Policy(Protocol):
    """Decides the fleet schedule to reconcile towards at ``at``. ``review_seconds``: how
    often it wants to be asked even when nothing else happens (``None``: only when a slot
    starts or ends, an instance is interrupted, or capacity returns to a pool left short)."""

    name: str
    review_seconds: float | None

    def desired(self, plan: PlanDocument, at: datetime, progress: ProgressNow) -> Desired:
        ...


def gangs(pool: FleetPool) -> int:
    """The most slots of ``pool`` the plan runs at once."""
    return max((sum(1 for s in pool.slots if s.start <= m < s.end) for m in
                {s.start for s in pool.slots}), default=0)


def _now(pool: FleetPool, k: int, at: datetime, period: timedelta) -> Slot:
    """Slot ``k`` of ``pool`` over ``[at, at + period)``, serving what the plan's slot ``k``
    serves (its jobs, and its gang and rank): an instance runs its slot's user data."""
    plan_slot = next((s for s in pool.slots if s.slot == k), None)
    if plan_slot is None:
        return Slot(slot=k, start=at, end=at + period)
    return plan_slot.model_copy(update={"start": at, "end": at + period})


def planned_work(plan: PlanDocument, mix: PlanMix, job: str, at: datetime, until: datetime,
                 leave_out: frozenset[str] = frozenset()) -> float:
    """Work (reference GPU-hours) the plan does for ``job`` in ``[at, until)`` on its pools
    but those left out: on a pool whose slots name their uses (v3) and whose speed for the
    job the plan records, the job's uses there as written (GPUs x speed x hours; progress
    credits them the same way: :func:`~costopt.orchestrate.progress.run_shares`);
    elsewhere each period's assignment spread evenly over it. ``mix`` is the plan's (it
    keeps what is read of the plan for the job, :attr:`PlanMix.planned`)."""
    kept = mix.planned.get(job)
    if kept is None or kept[0] is not plan:
        kept = mix.planned[job] = (plan, _planned_work_of(plan, mix, job), {})
    a, b = micros(at), micros(until)  # a use outside [at, until) adds nothing: left out
    asked = kept[2]  # the last moment's answers: a tick asks the same more than once (the
    # floor, the pace line)
    if (a, b, leave_out) in asked:
        return asked[(a, b, leave_out)]
    # (min(b, end) and max(a, start) written out: the builtins were called 540,000 times
    # in a scenario of the example; the same integers, so the same figures)
    work = sum(sum(rate * (((end if end < b else b) - (start if start > a else a)) / 1_000_000)
                   for rate, start, end in _within(uses, order, a, b) if start < b and end > a)
               / 3600 for (pool, uses), order in zip(kept[1].by_uses, kept[1].in_order,
                                                     strict=True) if pool not in leave_out)
    for pool, gpu_hours, start, end, seconds in kept[1].by_period:
        if pool not in leave_out and start < b and end > a:
            work += gpu_hours * (((end if end < b else b) - (start if start > a else a))
                                 / 1_000_000) / seconds
    if len(asked) >= PLANNED_KEPT:
        asked.clear()
    asked[(a, b, leave_out)] = work
    return work


PLANNED_KEPT = 8
"""Answers of :func:`planned_work` a plan's mix keeps per job."""


def _within(uses: tuple[tuple[float, int, int], ...],
            order: tuple[list[int], list[int]] | None, a: int, b: int
            ) -> tuple[tuple[float, int, int], ...]:
    """The part of ``uses`` (``(rate, start, end)``) that holds every use overlapping
    ``[a, b)``, in their order: uses in order of start (``order``: their starts and running
    latest ends) from the first whose end, or an earlier one's, is after ``a`` up to the
    first that starts at ``b`` or later; else all of them."""
    if order is None:
        return uses
    starts, latest_ends = order
    return uses[bisect_right(latest_ends, a):bisect_left(starts, b)]


def _planned_work_of(plan: PlanDocument, mix: PlanMix, job: str) -> PlannedWork:
    """What :func:`planned_work` reads of ``plan`` for ``job``."""
    by_uses = []
    for pool in plan.fleet:
        speed = plan.speed(job, pool.pool)
        if speed is not None and any(s.uses for s in pool.slots):
            by_uses.append((pool.pool, tuple((u.gpus * speed, micros(u.start), micros(u.end))
                                             for s in pool.slots for u in s.uses
                                             if u.job == job)))
    on_uses = {pool for pool, _uses in by_uses}
    by_period = []
    for a in plan.assignments:
        if a.job == job and a.pool not in on_uses:
            t = mix.period_of(a.period_start)
            start, end = mix.owned_window(t) if is_owned_pool(a.pool) else (
                mix.period_starts[t], mix.period_end(t))
            by_period.append((a.pool, a.work_gpu_hours, micros(start), micros(end),
                              (end - start).total_seconds()))
    in_order = []
    for _pool, uses in by_uses:
        starts = [start for _rate, start, _end in uses]
        in_order.append((starts, list(accumulate((end for _rate, _start, end in uses), max)))
                        if starts == sorted(starts) else None)
    return PlannedWork(tuple(by_uses), tuple(by_period), tuple(in_order))


CHOICE = {
    PaceState.CRITICAL: MarketChoice("on_demand", "swap"),
    PaceState.BEHIND: MarketChoice("on_demand", "swap"),
    PaceState.AHEAD: MarketChoice("spot", "keep"),
    PaceState.SAFE: MarketChoice("spot", "end"),
}
"""The market of a spot pool whose jobs may run on-demand, by the most pressed job's pace:
Uniform Progress's choices."""

PRESSED = [PaceState.CRITICAL, PaceState.BEHIND, PaceState.AHEAD, PaceState.SAFE]


class DeadlineAware:
    """The deadline-aware policy (``--policy deadline``, the default): see the module."""

    name = "deadline"
    review_seconds: float | None = 900.0  # spot is retried at least every 15 minutes

    def paces(self, plan: PlanDocument, at: datetime, jobs: dict[str, JobProgress],
              mix: PlanMix) -> dict[str, JobPace]:
        """Each job's pace on the plan's spot pools (the pools this policy drives)."""
        spot = {p.pool: p for p in plan.fleet if p.market == "spot"}
        out = {}
        for name, p in jobs.items():
            rate = 0.0
            for pool_id, pool in spot.items():
                gpus = mix.pool_gpus.get(pool_id, {}).get(name, 0.0)
                if gpus > 0:
                    rate += gangs(pool) * gpus * p.speed.get(pool_id, 0.0)
            elsewhere = planned_work(plan, mix, name, at, p.deadline, frozenset(spot))
            out[name] = JobPace(name, at, p.start or at, p.deadline, p.needed_gpu_hours,
                                max(0.0, p.remaining_gpu_hours - elsewhere), rate,
                                p.restart_hours, p.restart_hours)
        return out

    @staticmethod
    def spot_pays(plan: PlanDocument, pool: FleetPool, at: datetime,
                  jobs: list[JobProgress]) -> bool:
        """Whether spot on ``pool`` pays: no job on it has seen interruptions there that show
        spot clearly dearer per unit of work than on-demand (the price data's rate before)."""
        record = plan.pool(pool.pool)
        prior = (record.interruptions_per_hour if record else None) or 0.0
        return not any(spot_dearer(
            interruptions=p.interruptions, spot_hours=p.spot_hours, prior_per_hour=prior,
            overhead_hours=p.restart_hours,
            spot_usd_per_hour=pool.usd_per_hour,
            on_demand_usd_per_hour=pool.on_demand_usd_per_hour) for p in jobs)

    def desired(self, plan: PlanDocument, at: datetime, progress: ProgressNow) -> Desired:
        jobs = progress()
        mix = PlanMix.of(plan, held_gpus(jobs))
        paces = self.paces(plan, at, jobs, mix)
        windows = {name: (p.start or at, p.deadline) for name, p in jobs.items()}
        t = mix.period_of(at)
        period = timedelta(hours=float(plan.horizon["period_hours"]))
        fleet = []
        markets: dict[str, MarketChoice] = {}
        for pool in plan.fleet:
            on_pool = [j for j in mix.shares(pool.pool, t, windows, at) if j in jobs]
            if pool.market != "spot":  # as the plan says, until its jobs are done
                busy = any(not jobs[j].finished for j in on_pool)
                fleet.append(pool if busy else pool.model_copy(update={"slots": []}))
                continue
            live = [paces[j].state for j in on_pool
                    if paces[j].state is not PaceState.FINISHED]
            if not live:
                fleet.append(pool.model_copy(update={"slots": []}))
                continue
            slots = [_now(pool, k, at, period) for k in range(gangs(pool))]
            fleet.append(pool.model_copy(update={"slots": slots}))
            choice = CHOICE[min(live, key=PRESSED.index)]
            if not pool.on_demand_fallback:
                choice = MarketChoice("spot", "keep")
            elif choice.market == "spot" and not self.spot_pays(
                    plan, pool, at, [jobs[j] for j in on_pool]):
                choice = MarketChoice("on_demand", "keep")
            markets[pool.pool] = choice
        return Desired(plan.model_copy(update={"fleet": fleet}), markets)


POLICIES: dict[str, Policy | None] = {"plan": None, "deadline": DeadlineAware()}
"""The policies ``--policy`` may name; the first is the default. ``plan`` (``None``): the
controller's own - the plan in force carried out exactly, re-planned on events
(:mod:`costopt.orchestrate.controller`); ``deadline``: the pace policy of spec v2, kept as
a baseline to measure the controller against (it does not re-plan)."""
