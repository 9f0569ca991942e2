"""The simple plans the optimum is compared with (``workload.md``, "Baselines").

Each baseline uses the same prices, buys nothing, and ignores owned capacity limits other
than its own bookkeeping, quotas, ``max_instances`` and the budget. A job that cannot fit
its window is marked so, and the baseline is then not feasible. Totals include the owned
servers' fixed cost over the horizon, as the plan's total does: the servers cost it whether
used or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from costopt.plan.pools import CloudPool, Eligible, OwnedPool, Pools
from costopt.workload import Workload

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


def compute_baselines(w: Workload, pools: Pools, pairs: list[Eligible]) -> dict[str, Baseline]:
    """All three baselines, keyed by name."""
    fixed = sum(p.fixed_usd for p in pools.owned if p.buy_max is None)
    by_job: dict[int, list[Eligible]] = {}
    for e in pairs:
        by_job.setdefault(e.job, []).append(e)
    on_demand = _per_job(w, pools, by_job, lambda pool: pool.market == "on_demand")
    cheapest = _per_job(w, pools, by_job, lambda pool: True)
    return {
        "all_on_demand": Baseline("all_on_demand", on_demand, fixed),
        "cheapest_per_job": Baseline("cheapest_per_job", cheapest, fixed),
        "owned_first": Baseline("owned_first", _owned_first(w, pools, by_job), fixed),
    }


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


def _cheapest_cloud(w: Workload, j: int, work: float, wall_hours: float,
                    offers: list[tuple[Eligible, CloudPool]]) -> BaselineJob:
    """The job's ``work`` alone on its cheapest offer: ``price / (gpus * c * s * e) * work``
    (``c`` of its gangs share an instance; an N-node gang pays N instances for ``1/N`` of
    the time), preferring offers that finish within ``wall_hours`` with all its gangs
    (``work / (parallel * nodes * gpus * s * e)`` hours)."""
    job = w.jobs[j]
    if not offers:
        return BaselineJob(job.name, None, 0.0, 0.0, False, "no eligible cloud pool")
    rated = sorted(
        (pool.usd_per_hour / (job.gpus * e.gangs_per_node * e.work_per_gpu_hour) * work,
         work / (job.most_gpus * e.work_per_gpu_hour), pool.id)
        for e, pool in offers
    )
    fitting = [r for r in rated if r[1] <= wall_hours + 1e-9]
    usd, hours, pool_id = (fitting or rated)[0]
    note = "" if fitting else (f"needs {hours:.1f} h at its gang but only {wall_hours:.1f} h "
                               "are left in its window")
    return BaselineJob(job.name, pool_id, 0.0, usd, bool(fitting), note)


def _per_job(w: Workload, pools: Pools, by_job: dict[int, list[Eligible]],
             keep: Callable[[CloudPool], bool]) -> tuple[BaselineJob, ...]:
    return tuple(
        _cheapest_cloud(w, j, job.gpu_hours, _window_hours(w, j),
                        _cloud_offers(pools, by_job.get(j, []), keep))
        for j, job in enumerate(w.jobs)
    )


def _owned_first(w: Workload, pools: Pools,
                 by_job: dict[int, list[Eligible]]) -> tuple[BaselineJob, ...]:
    """Jobs by deadline fill owned capacity earliest-period-first (fastest server first);
    what is left goes to the job's cheapest cloud offer."""
    lengths = w.horizon.period_lengths
    free = {(p, t): pool.capacity_gpu_hours(lengths[t])
            for p, pool in enumerate(pools.all)
            if isinstance(pool, OwnedPool) and pool.buy_max is None
            for t in range(w.horizon.periods)}
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
                h = min(gang_left[t], free[(e.pool, t)] / e.blocking, left / e.speed)
                if h <= 1e-12:
                    continue
                free[(e.pool, t)] -= h * e.blocking
                gang_left[t] -= h
                left -= h * e.speed
                owned_h += h
                usd += h * pool.energy_usd_per_gpu_hour
        if left <= 1e-9:
            results[j] = BaselineJob(job.name, None, owned_h, usd, True)
            continue
        wall = sum(gang_left.values()) / job.most_gpus
        rest = _cheapest_cloud(w, j, left, wall, _cloud_offers(pools, options, lambda p: True))
        results[j] = BaselineJob(job.name, rest.pool, owned_h, usd + rest.variable_usd,
                                 rest.fits, rest.note)
    return tuple(results[j] for j in range(len(w.jobs)))
