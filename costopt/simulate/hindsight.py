"""The hindsight optimum: the least a clairvoyant would pay for the same work, setup paid at
every start (spec v3, design 6).

- **One job** (one gang of one node, cloud pools of one speed, no owned server): *exact*, a
  dynamic programme over steps of the traces' ticks (:func:`exact_usd`) under the rules the
  simulation accounts progress by (:mod:`costopt.orchestrate.progress`): every run of an
  instance is paid from its launch and works only after ``setup_minutes``; a spot run the
  trace ends loses the work since the last checkpoint (``checkpoint_minutes / 2``, at most
  what that run did); a run ended by choice loses nothing; the job is done the moment its
  work reaches ``gpu_hours``, and pays no further.
- **Otherwise** a *lower bound*: the plan's LP (:func:`costopt.plan.planner.make_plan`) with
  each traced spot pool's instance-hours per period capped by its trace, exactly aggregated
  (:func:`capacity_caps`), and the real world's frictions taken out - no setup, no lost
  work, no minimum instance time, spot work undiscounted. It may move work anywhere inside
  a period (the trace's outages in it are only counted, not placed), so it pays no more than
  any schedule that meets the deadlines, where jobs' windows are whole periods. The bound is
  the LP's objective (``PlanResult.lp_bound_usd``: its rows that every fleet keeps, not the
  layout loop's heuristics), not what the fleet the plan lays out pays - a heuristic's
  fleet may pay more than the least schedule. Where the layout finds no fleet for all the
  work, the bound stands and says so: it binds any schedule that does the work, which may
  or may not exist; where the LP itself cannot do the work, there is none.

Pure except that the LP calls its solver.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from costopt.plan.planner import PlanResult, make_plan
from costopt.plan.pools import CloudPool, build_pools, eligibility
from costopt.plan.solve import DEFAULT_SOLVER
from costopt.pricing.catalog import PriceCatalog
from costopt.traces import PoolTrace, check_coverage, traces_by_pool
from costopt.workload import Workload

HindsightKind = Literal["exact", "bound"]

MAX_DP_CELLS = 300_000_000
"""Steps x work levels x run states beyond which the exact programme is not tried: the
bound is given instead, and says why. Measured 2026-12-06 on this machine (shared): about 7
million a second (the single-job grid's 5 million in 0.7 s), so this is under a minute."""


@dataclass(frozen=True)
class Hindsight:
    """The hindsight optimum's variable cost (USD), ``None`` when the traces leave it no
    way to do all the work (``note`` says why). ``kind`` is ``exact`` (the least cost) or
    ``bound`` (no more than the least cost; ``note`` says why it is not exact); ``result``
    the bound's LP."""

    usd: float | None
    note: str
    kind: HindsightKind
    result: PlanResult | None = None


# -- one job, exactly --------------------------------------------------------------------

@dataclass(frozen=True)
class Capacity:
    """One way to run the job: a pool (and so a market) at ``usd_per_hour`` (USD per
    instance-hour), there in step ``k`` when ``up[k]``."""

    pool: str
    usd_per_hour: float
    up: np.ndarray  # bool, one per step


@dataclass(frozen=True)
class OneJob:
    """A one-job hindsight problem in steps of ``step_hours``: the job needs
    ``needed_steps`` steps of work (a step of work is a step's hours at the one work rate
    of every capacity; may end in a fraction), each run first pays ``setup_steps`` steps
    that do no work, and a run the trace ends loses ``min(loss_steps, its steps of work)``."""

    step_hours: float
    needed_steps: float
    setup_steps: int
    loss_steps: int
    capacities: tuple[Capacity, ...]


def exact_usd(case: OneJob) -> float | None:
    """The least USD to do the job within its steps; ``None`` when it cannot be done.

    The state at each step boundary is the work done (whole steps) and what runs: nothing,
    a run of capacity ``c`` ``a`` steps into its setup (``0 < a < setup_steps``), or a run of
    ``c`` set up with ``r`` steps of work since it started (``r`` counted up to
    ``loss_steps``: what an interruption would lose). At each boundary, in order:

    1. a run whose capacity is gone this step is interrupted: its work falls by ``r``;
    2. any run may be ended (no loss) - *free* is the least cost with nothing running;
    3. during the step: stay idle (free), start a run of a capacity that is there (from
       free), or go on with a run (setup, then work): each step run costs its price times
       ``step_hours``; the step that reaches ``needed_steps`` pays only its part of the step.
    """
    need = max(1, math.ceil(case.needed_steps - 1e-9))
    last_part = case.needed_steps - (need - 1)  # of the step that finishes the job
    S, L = case.setup_steps, case.loss_steps
    idle = np.full(need, np.inf)
    idle[0] = 0.0
    setup = [[np.full(need, np.inf) for _a in range(1, S)] for _c in case.capacities]
    work = [[np.full(need, np.inf) for _r in range(L + 1)] for _c in case.capacities]
    done = math.inf
    steps = len(case.capacities[0].up) if case.capacities else 0
    for k in range(steps):
        free = idle
        for c, cap in enumerate(case.capacities):
            for r, runs in enumerate(work[c]):
                if not cap.up[k]:  # 1. interrupted: r steps of work lost
                    free = np.minimum(free, np.concatenate((runs[r:], np.full(r, np.inf))))
                else:  # 2. ended by choice
                    free = np.minimum(free, runs)
            for runs in setup[c]:
                free = np.minimum(free, runs)
        for c, cap in enumerate(case.capacities):
            if not cap.up[k]:
                setup[c] = [np.full(need, np.inf) for _a in range(1, S)]
                work[c] = [np.full(need, np.inf) for _r in range(L + 1)]
                continue
            usd = cap.usd_per_hour * case.step_hours
            # runs by the setup steps they have paid before this step: 0 (a start) .. S-1
            paying = [free, *setup[c]] if S else []
            working = [np.minimum(free, work[c][0]) if not S else work[c][0], *work[c][1:]]
            new_work = [np.full(need, np.inf) for _r in range(L + 1)]
            for r, runs in enumerate(working):
                done = min(done, runs[-1] + usd * last_part)
                ahead = min(L, r + 1)
                new_work[ahead][1:] = np.minimum(new_work[ahead][1:], runs[:-1] + usd)
            if S:
                new_work[0] = np.minimum(new_work[0], paying[-1] + usd)
            setup[c] = [runs + usd for runs in paying[:-1]]
            work[c] = new_work
        idle = free
    return None if done == math.inf else done


def one_job(workload: Workload, catalog: PriceCatalog, traces: Sequence[PoolTrace],
            setup_minutes: float) -> OneJob | str:
    """The workload as a :class:`OneJob`, or why it is not one: more than one job, a gang
    of several nodes or gangs, an owned server it may use, pools of different speeds, or
    times that share no whole second."""
    if len(workload.jobs) != 1:
        return f"{len(workload.jobs)} jobs: the exact programme takes one"
    (job,) = workload.jobs
    if job.nodes > 1 or job.parallel > 1:
        return f"{job.name} runs {job.shape} at once: the exact programme takes one instance"
    bare = frictionless(workload)  # every pool the job may use, whatever spot's estimates
    pools = build_pools(bare, catalog)
    pairs = [(pools.all[e.pool], e.speed) for e in eligibility(bare, pools, catalog)]
    if any(not isinstance(pool, CloudPool) for pool, _s in pairs):
        return f"{job.name} may run on an owned server: the exact programme takes cloud pools"
    speeds = {round(s * job.gpus, 12) for _p, s in pairs}
    if len(speeds) != 1:
        return f"{job.name} runs at {len(speeds)} speeds: the exact programme takes one"
    rate = speeds.pop()  # reference GPU-hours per instance-hour
    start, deadline = workload.job_window(job)
    cloud = [pool for pool, _s in pairs if isinstance(pool, CloudPool)]
    sources = traces_by_pool([p.id for p in cloud if p.market == "spot"], list(traces))
    check_coverage(sources, start, deadline)
    seconds = [(deadline - start).total_seconds(), setup_minutes * 60,
               job.checkpoint_minutes * 30]
    for pool_traces in sources.values():
        for t in pool_traces:
            seconds += [t.trace.gap_seconds, (t.start - start).total_seconds()]
    if any(not float(s).is_integer() for s in seconds):
        return "the traces' ticks, the setup and half the checkpoint interval share no " \
               "whole second"
    step = math.gcd(*(int(s) for s in seconds))
    steps = round((deadline - start).total_seconds()) // step
    capacities = tuple(Capacity(p.id, p.usd_per_hour, _up(sources.get(p.id), start, step, steps))
                       for p in cloud)
    step_hours = step / 3600
    case = OneJob(step_hours, job.gpu_hours / (rate * step_hours),
                  round(setup_minutes * 60) // step, round(job.checkpoint_minutes * 30) // step,
                  capacities)
    cells = steps * math.ceil(case.needed_steps) * len(capacities) * (
        case.setup_steps + case.loss_steps + 1)
    if cells > MAX_DP_CELLS:
        return f"{cells:,} states to visit, above the {MAX_DP_CELLS:,} the exact programme takes"
    return case


def _up(pool_traces: list[PoolTrace] | None, start: datetime, step: int,
        steps: int) -> np.ndarray:
    """Per step from ``start``, whether the traces (added up) hold an instance; always
    without traces."""
    if pool_traces is None:
        return np.ones(steps, dtype=bool)
    moments = [start + timedelta(seconds=step * k) for k in range(steps)]
    counts = np.zeros(steps, dtype=np.int64)
    for t in pool_traces:
        counts += t.trace.counts[[t.tick_of(m) for m in moments]]
    return counts > 0


# -- many jobs, a bound ------------------------------------------------------------------

def capacity_caps(workload: Workload, catalog: PriceCatalog,
                  traces: list[PoolTrace]) -> dict[tuple[str, int], float]:
    """Instance-hours per (spot pool id, period index) the traces allow."""
    h = workload.horizon
    pools = {p.id: p for p in build_pools(workload, catalog).cloud if p.market == "spot"}
    sources = traces_by_pool(sorted(pools), traces)
    check_coverage(sources, h.start, h.end)
    caps: dict[tuple[str, int], float] = {}
    for pool_id, pool_traces in sources.items():
        most = pools[pool_id].max_instances
        for t in range(h.periods):
            start = h.period_start(t)
            end = start + timedelta(hours=h.period_lengths[t])
            caps[(pool_id, t)] = sum(
                tr.capacity_hours(start, end, math.inf if most is None else float(most))
                for tr in pool_traces)
    return caps


def frictionless(workload: Workload) -> Workload:
    """The workload without what the bound leaves out: no setup or minimum instance time,
    no restart or checkpoint loss discounting spot, no availability estimate (the traces'
    caps say it) and no deadline reserve (nothing vanishes unforeseen)."""
    jobs = [j.model_copy(update={"checkpoint_minutes": 0.0}) for j in workload.jobs]
    cloud = workload.cloud.model_copy(update={
        "setup_minutes": 0.0, "min_instance_minutes": 0.0, "spot_restart_minutes": 0.0,
        "spot_availability": [], "spot_traces": None, "spot_availability_default": 1.0,
        "deadline_reserve": False}) if workload.cloud else None
    return workload.model_copy(update={"jobs": jobs, "cloud": cloud})


def lp_bound(workload: Workload, catalog: PriceCatalog, traces: list[PoolTrace], *,
             solver: str = DEFAULT_SOLVER, why: str = "") -> Hindsight:
    """The LP's lower bound (the module docstring); ``why`` it is not exact, for the note."""
    caps = capacity_caps(workload, catalog, traces)
    result = make_plan(frictionless(workload), catalog, solver=solver, prune=False,
                       u_upper=caps)
    if result.lp_bound_usd is None:
        short = "; ".join(f"{s.job} short {s.gpu_hours:,.1f} GPU-h ({s.reason})"
                          for s in result.shortfalls)
        return Hindsight(None, f"no way to do all the work within the traces: {short}",
                         "bound", result)
    note = "a lower bound (the LP without setup or lost work, capacity per period)"
    if result.status != "optimal":
        unplaced = sum(s.gpu_hours for s in result.shortfalls)
        note += (f"; the plan's layout found no fleet for {unplaced:,.1f} GPU-h of it, so no "
                 "schedule within the traces is known to do all the work: if one does, it "
                 "pays at least this")
    return Hindsight(result.lp_bound_usd, f"{note}: {why}" if why else note, "bound", result)


def hindsight(workload: Workload, catalog: PriceCatalog, traces: list[PoolTrace], *,
              setup_minutes: float | None = None, solver: str = DEFAULT_SOLVER,
              exact: bool = True) -> Hindsight:
    """The hindsight optimum: exact for one job (unless ``exact`` is False), else the LP's
    bound. ``setup_minutes``: what each run pays before it works (default the workload's
    ``cloud.setup_minutes``; the simulation's is the plan's)."""
    if setup_minutes is None:
        setup_minutes = workload.cloud.setup_minutes if workload.cloud else 0.0
    case = one_job(workload, catalog, traces, setup_minutes) if exact else "not asked for"
    if isinstance(case, str):
        return lp_bound(workload, catalog, traces, solver=solver, why=case)
    usd = exact_usd(case)
    if usd is None:
        return Hindsight(None, f"no schedule does {workload.jobs[0].name}'s work by its "
                         "deadline within the traces", "exact")
    return Hindsight(usd, "exact: the least cost over every schedule of the traces' ticks",
                     "exact")
