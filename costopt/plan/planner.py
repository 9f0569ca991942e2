"""From a validated workload and a price catalog to a solved plan.

``make_plan`` checks the workload against the price data, explains obvious impossibilities
before solving, solves the LP, and when it cannot be done solves the elastic model to say
which job falls short by how many reference GPU-hours and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from costopt.errors import FieldIssue, SolverError, WorkloadError
from costopt.plan.aggregate import Aggregation, aggregate, mergeable, split
from costopt.plan.baselines import Baseline, compute_baselines
from costopt.plan.binding import Binding, analyse, shortfall_reasons, window_impossibilities
from costopt.plan.model import LinearProgram, build_model
from costopt.plan.pools import (
    CloudPool,
    Eligible,
    OwnedPool,
    Pools,
    build_pools,
    eligibility,
    prune_dominated,
    unplaceable_jobs,
)
from costopt.plan.solve import DEFAULT_SOLVER, Solution, SolveStatus, solve
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import Workload, check_against_catalog

T = TypeVar("T")
EPS = 1e-6  # GPU-hours or instance-hours below this are solver noise


@dataclass(frozen=True)
class Assignment:
    """GPU-hours a job runs on a pool in a period, the work that does (reference
    GPU-hours), and its share of the cost (USD)."""

    job: str
    pool: str
    period: int
    period_start: datetime
    gpu_hours: float
    work_gpu_hours: float
    cost_usd: float


@dataclass(frozen=True)
class PoolHours:
    """Instance-hours of a cloud pool in a period and their cost (USD)."""

    pool: str
    period: int
    period_start: datetime
    instance_hours: float
    cost_usd: float


@dataclass(frozen=True)
class Shortfall:
    """Work of a job, in reference GPU-hours, that the plan cannot do, and why."""

    job: str
    gpu_hours: float
    reason: str


@dataclass(frozen=True)
class Purchase:
    """Servers of a candidate the plan buys, and their fixed cost over the horizon (USD)."""

    pool: str
    count: int
    max_count: int
    fixed_usd: float


@dataclass(frozen=True)
class PlanResult:
    """A solved plan: what runs where and when, what it costs, and what binds."""

    workload: Workload
    catalog: PriceCatalog
    pools: Pools
    status: str  # "optimal" or "infeasible"
    solver: str
    assignments: tuple[Assignment, ...]
    pool_hours: tuple[PoolHours, ...]
    shortfalls: tuple[Shortfall, ...]
    baselines: dict[str, Baseline]
    binding: Binding
    notes: tuple[str, ...]
    variables: int
    constraints: int
    purchases: tuple[Purchase, ...] = ()
    no_buy_total_usd: float | None = None  # the best plan without buying; None: none bought
    timings: dict[str, float] = field(default_factory=dict)
    """Wall seconds by stage: ``prepare`` (pools, eligibility, pruning), ``build`` (the LP
    arrays), ``aggregate`` (merging identical periods, the merged LP), ``solve`` (the
    solver, elastic re-solve included), ``split`` (the merged solution back to the
    periods), ``extract`` (the plan, baselines, what binds); summed over the no-buy re-plan
    when there is one."""
    solved_periods: int = 0  # periods of the model the solver saw (fewer when merged)

    @property
    def by_market(self) -> dict[str, float]:
        """Variable cost (USD) by market: owned energy (bought servers too), on demand,
        spot."""
        out = {"owned": 0.0, "on_demand": 0.0, "spot": 0.0}
        owned = {p.id for p in self.pools.owned}
        for a in self.assignments:
            if a.pool in owned:
                out["owned"] += a.cost_usd
        markets = {p.id: p.market for p in self.pools.cloud}
        for ph in self.pool_hours:
            out[markets[ph.pool]] += ph.cost_usd
        return out

    @property
    def variable_usd(self) -> float:
        return sum(self.by_market.values())

    @property
    def fixed_usd(self) -> float:
        """Owned servers' fixed cost over the horizon, and that of the servers bought."""
        owned = sum(p.fixed_usd for p in self.pools.owned if p.buy_max is None)
        return owned + sum(b.fixed_usd for b in self.purchases)

    @property
    def total_usd(self) -> float:
        return self.variable_usd + self.fixed_usd


def make_plan(workload: Workload, catalog: PriceCatalog, *, solver: str = DEFAULT_SOLVER,
              source: str = "workload", time_limit_s: float | None = None,
              prune: bool = True, merge: bool = True,
              u_upper: Mapping[tuple[str, int], float] | None = None) -> PlanResult:
    """Plan ``workload`` at ``catalog``'s prices. Raises :class:`WorkloadError` for a
    workload that names unknown things or has a job no pool can take, and
    :class:`SolverError` when the solver does not prove optimality.

    Pools that another pool dominates are left out first (``prune_dominated``; exact)
    unless ``prune`` is False; runs of identical periods are solved as one
    (``aggregate.py``; exact) unless ``merge`` is False. ``u_upper`` caps cloud
    instance-hours per (pool id, period) (see :func:`~costopt.plan.model.build_model`);
    pruning knows nothing of it."""
    started = time.perf_counter()
    issues = check_against_catalog(workload, catalog)
    if issues:  # before the pools: a server of an unknown GPU model has none
        raise WorkloadError(source, issues)
    pools = build_pools(workload, catalog)
    pairs = eligibility(workload, pools, catalog)
    issues = unplaceable_jobs(workload, pools, pairs)
    if issues:
        raise WorkloadError(source, issues)
    if prune:
        pools, pairs = prune_dominated(workload, pools, pairs)
    issues = size_issues(workload, pools, pairs)
    if issues:  # a model this size would take hours to build and solve: say so now
        raise WorkloadError(source, issues)
    result = _plan(workload, catalog, pools, pairs, solver, time_limit_s, merge, u_upper)
    result.timings["prepare"] = time.perf_counter() - started - sum(result.timings.values())
    if not result.purchases:
        return result
    without = _plan(workload, catalog, _without_candidates(pools), pairs_without(pairs, pools),
                    solver, time_limit_s, merge, u_upper)
    no_buy = without.total_usd if without.status == "optimal" else None
    timings = {k: v + without.timings.get(k, 0.0) for k, v in result.timings.items()}
    return replace(result, no_buy_total_usd=no_buy, timings=timings)


MAX_PERIODS = 8_784
"""The most periods a plan holds: a leap year of hourly periods."""
MAX_VARIABLES = 3_000_000
"""The most LP columns a plan is built with (GPU-hours per job, pool and period, and
instance-hours per cloud pool and period): HiGHS builds 3.6 million in ~5 s, PuLP for CBC
in ~120 s (``facts.md``)."""
_PERIOD_HOURS = (2, 3, 4, 6, 8, 12, 24, 48, 72, 168)


def size_issues(w: Workload, pools: Pools, pairs: list[Eligible]) -> list[FieldIssue]:
    """A horizon of more than :data:`MAX_PERIODS` periods, or a model of more than
    :data:`MAX_VARIABLES` columns, with the numbers and how to make it smaller."""
    h = w.horizon
    longer = None if h.period_runs else next(
        (p for p in _PERIOD_HOURS if p > h.period_hours and not h.hours % p
         and h.hours // p <= MAX_PERIODS), None)
    fix = (f"To fix: longer periods (period_hours: {longer} gives {h.hours // longer:,} "
           "periods)" if longer else "To fix: longer periods") + " or a shorter horizon"
    if h.periods > MAX_PERIODS:
        return [FieldIssue("horizon", f"{h.days} days of {h.runs_text}",
                           f"makes {h.periods:,} periods, more than the {MAX_PERIODS:,} a plan "
                           f"holds (a year of hourly periods); {fix}")]
    periods = [len(w.job_periods(job)) for job in w.jobs]
    columns = sum(periods[e.job] for e in pairs) + len(pools.cloud) * h.periods
    if columns > MAX_VARIABLES:
        return [FieldIssue("(model)", f"{len(w.jobs):,} jobs, {len(pools.all):,} pools, "
                           f"{h.periods:,} periods",
                           f"make {columns:,} LP variables, more than the {MAX_VARIABLES:,} a "
                           f"plan is built with; {fix}, fewer instance types or regions, or "
                           "fewer jobs")]
    return []


def _without_candidates(pools: Pools) -> Pools:
    return Pools(owned=tuple(p for p in pools.owned if p.buy_max is None), cloud=pools.cloud)


def pairs_without(pairs: list[Eligible], pools: Pools) -> list[Eligible]:
    """The eligible pairs re-indexed for the pools without candidates."""
    kept = _without_candidates(pools).all
    index = {pool.id: i for i, pool in enumerate(kept)}
    return [replace(e, pool=index[pools.all[e.pool].id]) for e in pairs
            if pools.all[e.pool].id in index]


def _plan(workload: Workload, catalog: PriceCatalog, pools: Pools, pairs: list[Eligible],
          solver: str, time_limit_s: float | None, merge: bool,
          u_upper: Mapping[tuple[str, int], float] | None = None) -> PlanResult:
    clock = _StageClock()
    notes = tuple(window_impossibilities(workload, pairs).values())
    agg = clock.run("aggregate", aggregate, workload, u_upper) if merge else None
    model = _Model(workload, pools, pairs, u_upper or {}, agg, solver, time_limit_s, clock)
    status = "optimal"
    lp, sol = model.solved(elastic=False) if not notes else (None, None)
    if lp is None or sol is None or sol.status is SolveStatus.INFEASIBLE:
        status = "infeasible"
        lp, sol = model.solved(elastic=True)
        if sol.status is not SolveStatus.OPTIMAL:
            raise SolverError(f"the elastic re-solve failed ({sol.status.value})")
    result = clock.run("extract", _result, workload, catalog, pools, pairs, lp, sol, status,
                       notes)
    result.timings.update(clock.seconds)
    periods = agg.coarse.horizon.periods if agg is not None else workload.horizon.periods
    return replace(result, solved_periods=periods)


@dataclass(frozen=True)
class _Model:
    """The cost model of one workload, solved merged when runs of its periods merge."""

    workload: Workload
    pools: Pools
    pairs: list[Eligible]
    u_upper: Mapping[tuple[str, int], float]
    agg: Aggregation | None
    solver: str
    time_limit_s: float | None
    clock: _StageClock

    def solved(self, *, elastic: bool) -> tuple[LinearProgram, Solution]:
        """The model of the workload's own periods and its optimum (or why there is none)."""
        clock, agg = self.clock, self.agg
        lp = clock.run("build", build_model, self.workload, self.pools, self.pairs,
                       elastic=elastic, u_upper=self.u_upper)
        if agg is None or not agg.merges or not clock.run("aggregate", mergeable, lp):
            return lp, self._solve(lp)
        coarse = clock.run("aggregate", build_model, agg.coarse, self.pools, self.pairs,
                           elastic=elastic, u_upper=agg.u_upper)
        sol = self._solve(coarse)
        return lp, replace(sol, x=clock.run("split", split, agg, coarse, lp, sol.x))

    def _solve(self, lp: LinearProgram) -> Solution:
        return _checked(self.clock.run("solve", solve, lp, self.solver, self.time_limit_s))


@dataclass
class _StageClock:
    """Wall seconds spent per stage of a plan."""

    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, stage: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed


def _checked(sol: Solution) -> Solution:
    if sol.status in (SolveStatus.OPTIMAL, SolveStatus.INFEASIBLE):
        return sol
    if sol.status is SolveStatus.UNBOUNDED:
        raise SolverError(f"{sol.solver} says the model is unbounded: a bug; please report it")
    raise SolverError(f"{sol.solver} stopped before proving optimality ({sol.detail}); "
                      "To fix: allow more time or try --solver highs")


def _result(w: Workload, catalog: PriceCatalog, pools: Pools, pairs: list[Eligible],
            lp: LinearProgram, sol: Solution, status: str, notes: tuple[str, ...]) -> PlanResult:
    x = sol.x
    rate = {(e.job, e.pool): e for e in pairs}
    # Cloud cost of a pool-period is shared among its jobs by the GPUs they hold (b*h).
    held: dict[tuple[int, int], float] = {}
    for (j, p, t), col in lp.h.items():
        if (p, t) in lp.u and x[col] > EPS:
            held[(p, t)] = held.get((p, t), 0.0) + rate[(j, p)].blocking * x[col]
    assignments = []
    for (j, p, t), col in sorted(lp.h.items()):
        h = float(x[col])
        if h <= EPS:
            continue
        pool, e = pools.all[p], rate[(j, p)]
        if isinstance(pool, OwnedPool):
            usd = pool.energy_usd_per_gpu_hour * h
        else:
            share = e.blocking * h / held[(p, t)]
            usd = share * pool.usd_per_hour * float(x[lp.u[(p, t)]])
        assignments.append(Assignment(w.jobs[j].name, pool.id, t, w.horizon.period_start(t), h,
                                      h * e.work_per_gpu_hour, usd))
    pool_hours = []
    for (p, t), col in sorted(lp.u.items()):
        hours = float(x[col])
        pool = pools.all[p]
        assert isinstance(pool, CloudPool)
        if hours > EPS:
            pool_hours.append(PoolHours(pool.id, t, w.horizon.period_start(t), hours,
                                        hours * pool.usd_per_hour))
    binding = analyse(w, pools, lp, x)
    short = [j for j, col in sorted(lp.z.items()) if x[col] > EPS]
    reasons = shortfall_reasons(w, short, pools, pairs, lp, x, binding)
    shortfalls = [Shortfall(w.jobs[j].name, float(x[lp.z[j]]), reasons[j]) for j in short]
    if status == "infeasible" and not shortfalls:
        status = "optimal"  # the first solve's infeasibility was numerical noise
    purchases = []
    for p, col in sorted(lp.n.items()):
        pool = pools.all[p]
        assert isinstance(pool, OwnedPool) and pool.buy_max is not None
        count = int(round(x[col]))
        if count:
            purchases.append(Purchase(pool.id, count, pool.buy_max, count * pool.fixed_usd))
    return PlanResult(
        workload=w, catalog=catalog, pools=pools, status=status, solver=sol.solver,
        assignments=tuple(assignments), pool_hours=tuple(pool_hours),
        shortfalls=tuple(shortfalls), baselines=compute_baselines(w, pools, pairs),
        binding=binding, notes=notes, variables=lp.num_cols, constraints=lp.num_rows,
        purchases=tuple(purchases),
    )
