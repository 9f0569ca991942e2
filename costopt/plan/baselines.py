"""The simple plans the optimum is compared with (``workload.md``, "Baselines").

Each baseline uses the same prices, buys nothing, and ignores owned capacity limits other
than its own bookkeeping and the budget. On equal terms with the plan: a job's cloud part pays
``cloud.setup_minutes`` per instance and at least ``cloud.min_instance_minutes`` of it, runs
no more instances at once than the pool's own bound (``max_instances``, a quota alone), and
does spot work at the pool's availability. A job only owned servers can run (``allow:
[owned]``, or no cloud pool fits it) is costed in every baseline as the plan does it, so the
saving compares the jobs a baseline can run, like with like. A job that cannot fit its
window is marked so, and the baseline is then not feasible. So are the jobs whose instances
would exceed a limit shared between jobs (a quota's vCPUs over several jobs' instances) where
their windows meet: the plan holds every limit with the instances of a run of periods
counted at once, and a baseline that does not is no plan the planner could have made
(``_within_shared_limits``). Totals include the owned
servers' fixed cost over the horizon, as the plan's total does: the servers cost it whether
used or not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from costopt.plan.model import apart_from, fleet_limits, gang_pools
from costopt.plan.pools import CloudPool, ConcurrencyLimit, Eligible, OwnedPool, Pools
from costopt.workload import Workload

if TYPE_CHECKING:
    from costopt.plan.planner import Assignment

BASELINE_NAMES = ("all_on_demand", "cheapest_per_job", "owned_first")


@dataclass(frozen=True)
class BaselineJob:
    """One job's part of a baseline: where it runs and what that costs (USD)."""

    job: str
    pool: str | None  # the cloud pool of the job's cloud part; None when it has none
    owned_gpu_hours: float  # GPU-hours on owned servers (owned_first only)
    variable_usd: float
    fits: bool  # False: it cannot be done in its window this way
    note: str = ""
    instances: int = 0  # instances of its cloud pool at once


@dataclass(frozen=True)
class Baseline:
    name: str
    jobs: tuple[BaselineJob, ...]
    fixed_usd: float

    @property
    def feasible(self) -> bool:
        return all(j.fits for j in self.jobs)

    @property
    def variable_usd(self) -> float:
        return sum(j.variable_usd for j in self.jobs)

    @property
    def total_usd(self) -> float:
        return self.variable_usd + self.fixed_usd


def compute_baselines(w: Workload, pools: Pools, pairs: list[Eligible],
                      planned: Sequence[Assignment] = ()) -> dict[str, Baseline]:
    """All three baselines, keyed by name; ``planned`` the plan's assignments, which cost
    the jobs only owned servers can run."""
    fixed = sum(p.fixed_usd for p in pools.owned if p.buy_max is None)
    by_job: dict[int, list[Eligible]] = {}
    for e in pairs:
        by_job.setdefault(e.job, []).append(e)
    as_planned = _as_planned(w, pools, by_job, planned)
    on_demand = _per_job(w, pools, by_job, lambda pool: pool.market == "on_demand",
                         as_planned)
    cheapest = _per_job(w, pools, by_job, lambda pool: True, as_planned)
    owned_first = _owned_first(w, pools, by_job)
    limits = fleet_limits(pools, gang_pools(w, pools, pairs))
    return {name: Baseline(name, _within_shared_limits(w, limits, jobs), fixed)
            for name, jobs in (("all_on_demand", on_demand), ("cheapest_per_job", cheapest),
                               ("owned_first", owned_first))}


def _within_shared_limits(w: Workload, limits: Sequence[ConcurrencyLimit],
                          jobs: tuple[BaselineJob, ...]) -> tuple[BaselineJob, ...]:
    """``jobs``, with those marked as not fitting whose instances at once, beside the other
    jobs on pools of one limit whose windows hold the same instant, exceed the limit (a
    quota's vCPUs, instances at once): the plan counts them at once within a run of periods,
    so such a baseline is not comparable, with the reason."""
    window = {job.name: w.job_window(job) for job in w.jobs}
    out = list(jobs)
    for limit in limits:
        on = [(i, b.instances * weight) for i, b in enumerate(jobs)
              for weight in [limit.weight(b.pool) if b.pool else None] if weight]
        for start in sorted({window[jobs[i].job][0] for i, _need in on}):
            meet = [(i, need) for i, need in on
                    if window[jobs[i].job][0] <= start < window[jobs[i].job][1]]
            need = sum(n for _i, n in meet)
            if need <= limit.bound + 1e-9:
                continue
            names = ", ".join(jobs[i].job for i, _n in meet)
            note = (f"{names} at once need {need:g} {limit.unit} of {limit.kind} "
                    f"{limit.name}, above its {limit.bound:g}: not comparable (the plan "
                    "counts a run of periods' instances at once)")
            for i, _n in meet:
                if out[i].fits:  # else its own reason stands
                    out[i] = replace(out[i], fits=False, note=note)
    return tuple(out)


OWNED_ONLY_NOTE = "only owned servers can run it: costed as in the plan"


def _as_planned(w: Workload, pools: Pools, by_job: dict[int, list[Eligible]],
                planned: Sequence[Assignment]) -> dict[int, BaselineJob]:
    """The jobs no cloud pool can take but owned servers can, as the plan runs them."""
    cloud = {p.id for p in pools.cloud}
    out: dict[int, BaselineJob] = {}
    for j, job in enumerate(w.jobs):
        options = by_job.get(j, [])
        if not options or any(pools.all[e.pool].id in cloud for e in options):
            continue
        mine = [a for a in planned if a.job == job.name]
        done = sum(a.work_gpu_hours for a in mine) >= job.gpu_hours * (1 - 1e-6)
        out[j] = BaselineJob(job.name, None, sum(a.gpu_hours for a in mine),
                             sum(a.cost_usd for a in mine), done, OWNED_ONLY_NOTE if done
                             else "only owned servers can run it, and they cannot do it all")
    return out


def _window_hours(w: Workload, j: int) -> float:
    return w.job_hours(w.jobs[j])


def _cloud_offers(pools: Pools, options: list[Eligible],
                  keep: Callable[[CloudPool], bool]) -> list[tuple[Eligible, CloudPool]]:
    out = []
    for e in options:
        pool = pools.all[e.pool]
        if isinstance(pool, CloudPool) and keep(pool):
            out.append((e, pool))
    return out


@dataclass(frozen=True)
class _Way:
    """One way to run a job's cloud work: ``gangs`` of it at once on ``instances``
    instances of a pool, each for ``hours`` of work after setup."""

    usd: float
    hours: float
    pool: str
    fits: bool
    instances: int


def _ways(w: Workload, j: int, work: float, wall_hours: float, e: Eligible,
          pool: CloudPool, bound: int | None) -> list[_Way]:
    """Every number of gangs ``g`` at once (1 to ``parallel``) within the pool's bound:
    ``n = nodes * ceil(g / c)`` instances (``c`` of its gangs share one), each running
    ``H = work / (g * nodes * gpus * s * e)`` hours of work after ``setup``, paid for at
    least the minimum instance time: ``price * n * max(H + setup, min)``."""
    job, cloud = w.jobs[j], w.cloud
    setup = cloud.setup_minutes / 60 if cloud else 0.0
    least = cloud.min_instance_minutes / 60 if cloud else 0.0
    out = []
    for g in range(1, job.parallel + 1):
        n = job.nodes * math.ceil(g / e.gangs_per_node)
        if bound is not None and n > bound:
            break
        hours = work / (g * job.gang_gpus * e.work_per_gpu_hour)
        out.append(_Way(pool.usd_per_hour * n * max(hours + setup, least), hours + setup,
                        pool.id, hours + setup <= wall_hours + 1e-9, n))
    return out


def _cheapest_cloud(w: Workload, pools: Pools, j: int, work: float, wall_hours: float,
                    offers: list[tuple[Eligible, CloudPool]]) -> BaselineJob:
    """The job's ``work`` alone on its cheapest way (:func:`_ways`) that finishes within
    ``wall_hours``; when none does, the fastest, marked as not fitting."""
    job = w.jobs[j]
    ways = [way for e, pool in offers
            for way in _ways(w, j, work, wall_hours, e, pool, pools.instance_bound(pool))]
    if not ways:
        return BaselineJob(job.name, None, 0.0, 0.0, False, "no eligible cloud pool" if not offers
                           else "no cloud pool holds its gang within max_instances and quotas")
    fitting = [way for way in ways if way.fits]
    if fitting:
        best = min(fitting, key=lambda way: (way.usd, way.hours, way.pool))
        return BaselineJob(job.name, best.pool, 0.0, best.usd, True, instances=best.instances)
    fastest = min(ways, key=lambda way: (way.hours, way.usd, way.pool))
    return BaselineJob(job.name, fastest.pool, 0.0, fastest.usd, False,
                       f"needs {fastest.hours:.1f} h at its gang but only {wall_hours:.1f} h "
                       "are left in its window", fastest.instances)


def _per_job(w: Workload, pools: Pools, by_job: dict[int, list[Eligible]],
             keep: Callable[[CloudPool], bool],
             as_planned: dict[int, BaselineJob]) -> tuple[BaselineJob, ...]:
    return tuple(
        as_planned[j] if j in as_planned else
        _cheapest_cloud(w, pools, j, job.gpu_hours, _window_hours(w, j),
                        _cloud_offers(pools, by_job.get(j, []), keep))
        for j, job in enumerate(w.jobs)
    )


def _owned_first(w: Workload, pools: Pools,
                 by_job: dict[int, list[Eligible]]) -> tuple[BaselineJob, ...]:
    """Jobs by deadline fill owned capacity earliest-period-first (fastest server first);
    what is left goes to the job's cheapest cloud offer. Jobs that cannot share a server at
    once take turns on it, as in the plan (``model.py``, ``layout`` rows on an owned pool):
    ``turns[(s, t)][k]`` is the server-hours the jobs of ``apart_from(k, s)`` took."""
    lengths = w.horizon.period_lengths
    free = {(p, t): pool.capacity_gpu_hours(lengths[t])
            for p, pool in enumerate(pools.all)
            if isinstance(pool, OwnedPool) and pool.buy_max is None
            for t in range(w.horizon.periods)}
    turns: dict[tuple[int, int], dict[int, float]] = {key: {} for key in free}
    apart = {p: [apart_from(w, pools, k, p) for k in range(len(w.jobs))]
             for p in {p for p, _t in free}}
    order = sorted(range(len(w.jobs)), key=lambda j: (w.job_window(w.jobs[j])[1], j))
    results: dict[int, BaselineJob] = {}
    for j in order:
        job = w.jobs[j]
        options = by_job.get(j, [])
        owned = sorted((e for e in options if (e.pool, 0) in free),
                       key=lambda e: (-e.speed, e.pool))
        left, owned_h, usd = job.gpu_hours, 0.0, 0.0
        gang_left = {t: job.most_gpus * lengths[t] for t in w.job_periods(job)}
        for t in w.job_periods(job):
            for e in owned:
                if left <= 1e-9:
                    break
                pool = pools.all[e.pool]
                assert isinstance(pool, OwnedPool)
                server_hours = pool.capacity_gpu_hours(lengths[t]) / pool.gpus_per_node
                beside = [k for k, members in enumerate(apart[e.pool]) if j in members]
                turn = min(server_hours - turns[(e.pool, t)].get(k, 0.0) for k in beside)
                h = min(gang_left[t], free[(e.pool, t)] / e.blocking, left / e.speed,
                        turn * job.gpus)
                if h <= 1e-12:
                    continue
                free[(e.pool, t)] -= h * e.blocking
                for k in beside:
                    turns[(e.pool, t)][k] = turns[(e.pool, t)].get(k, 0.0) + h / job.gpus
                gang_left[t] -= h
                left -= h * e.speed
                owned_h += h
                usd += h * pool.energy_usd_per_gpu_hour
        if left <= 1e-9:
            results[j] = BaselineJob(job.name, None, owned_h, usd, True)
            continue
        wall = sum(gang_left.values()) / job.most_gpus
        rest = _cheapest_cloud(w, pools, j, left, wall,
                               _cloud_offers(pools, options, lambda p: True))
        results[j] = BaselineJob(job.name, rest.pool, owned_h, usd + rest.variable_usd,
                                 rest.fits, rest.note, rest.instances)
    return tuple(results[j] for j in range(len(w.jobs)))
