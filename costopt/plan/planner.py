"""From a validated workload and a price catalog to a solved plan.

``make_plan`` checks the workload against the price data, explains obvious impossibilities
before solving, solves the LP, and when it cannot be done solves the elastic model to say
which job falls short by how many reference GPU-hours and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import numpy as np

from costopt.errors import SolverError, WorkloadError
from costopt.plan.aggregate import Aggregation, aggregate, mergeable, split
from costopt.plan.baselines import Baseline, compute_baselines
from costopt.plan.binding import Binding, analyse, shortfall_reasons, window_impossibilities
from costopt.plan.fleet import (
    HOUR,
    Periods,
    PoolSchedule,
    PoolUse,
    Run,
    hours_in_periods,
    schedule_pool_jobs,
)
from costopt.plan.layout import Piece
from costopt.plan.model import (
    INF,
    LinearProgram,
    ModelBase,
    build_model,
    concurrency_excess,
    first_periods,
    holds_node_alone,
    limit_terms,
    model_base,
    period_hours,
    run_periods,
    running_at_once,
    setup_hours,
)
from costopt.plan.pools import (
    Eligible,
    OwnedPool,
    Pools,
    build_pools,
    eligibility,
    over_bid_notes,
    over_quota_notes,
    prune_dominated,
    regional_spot_notes,
    unplaceable_jobs,
)
from costopt.plan.size import size_issues
from costopt.plan.solve import DEFAULT_SOLVER, MIP_REL_GAP, Solution, SolveStatus, solve
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import Workload
from costopt.workload_checks import check_against_catalog

T = TypeVar("T")
EPS = 1e-6  # GPU-hours or instance-hours below this are solver noise
LaidOut = tuple[LinearProgram, Solution, tuple[PoolSchedule, ...], frozenset[tuple[int, int]],
                int]
"""A solution whose fleet was laid out: the model, its solution, the fleet, the layout rows,
and which solve of the layout loop found it (1: the model's first optimum, as it was)."""


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
class Tolerances:
    """How close to exact ``make_plan`` solves.

    ``mip_rel_gap``: relative gap to its proven bound within which a MILP (integer instance
    counts, servers to buy) stops, and within which a rounded solution counts as the optimum
    (``_Model.within_limits``). ``short_hours``: gang-hours of a job (over all its pools and
    runs of periods) the fleet's layout may leave unplaced and the plan still count as laid
    out: the layout loop (``_Model.laid_out``) stops there, and ``layout_shortfalls`` does not
    report it. ``solves``: the most times the layout loop solves the model; then the
    solution that left least short beyond ``short_hours`` stands (the last of equals), and
    what it leaves short is reported as usual (None: no limit). Under such a limit, once
    a solution is laid out, the loop goes on only while each solve is laid out and
    cheaper (its fleet's cost, ``_laid_out_usd``); else the cheapest laid out stands. Rows
    learned from a laid-out solution only refine the model, while the heuristics a short
    one leads to (jobs kept to one pool, lowered fills) can make it far dearer (a re-plan
    of the example half done: 1,120.30 USD within 6 solves, 2,471.02 at the 13th). The
    defaults are exact: ``plan`` makes the plan a team commits to."""

    mip_rel_gap: float = MIP_REL_GAP
    short_hours: float = 0.0
    solves: int | None = None


EXACT = Tolerances()


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
    fleet: tuple[PoolSchedule, ...] = ()  # the cloud pools' runs: what the cloud cost is of
    spot_zone_prices: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    """(instance type, region) -> zone ID -> spot USD per instance-hour, before pruning:
    where a spot slot may fall back to."""
    timings: dict[str, float] = field(default_factory=dict)
    """Wall seconds by stage: ``prepare`` (pools, eligibility, pruning), ``build`` (the LP
    arrays), ``aggregate`` (merging identical periods, the merged LP), ``solve`` (the
    solver, elastic re-solve included), ``split`` (the merged solution back to the
    periods), ``extract`` (the plan, baselines, what binds); summed over the no-buy re-plan
    when there is one."""
    solved_periods: int = 0  # periods of the model the solver saw (fewer when merged)
    lp_bound_usd: float | None = None
    """A lower bound on the variable cost (USD) of any fleet that does all the work within
    the limits, where ``variable_usd`` is what the plan's fleet pays: the LP's objective -
    cloud instance-hours at their prices, setup as the LP counts it (shares of runs of
    periods), owned servers' energy; no tie-break, penalty or fixed cost - at the last
    optimum of the layout loop (``_Model.laid_out``) whose model holds only rows every such
    fleet keeps: each concurrency limit taken as hours (``_Model.within_limits``, step 1)
    and the ``layout`` rows learned so far, not the loop's jobs kept to one pool or lowered
    fills, which are its heuristics. To the MILP's relative gap where servers to buy make it
    a MILP. ``None`` where the LP itself could not do all the work (``shortfalls`` says
    what); where only the layout could not (``layout_shortfalls``), the bound stands for any
    fleet that does."""
    layout_solves: int = 1
    """Which solve of the layout loop (``_Model.laid_out``) the plan stands on: 1 where the
    model's first optimum laid out as it was; more where the loop learned rows, kept jobs
    to one pool or lowered a pool's fill - a heuristic, so which of several optima of
    equal cost a solver returns can lead it to plans of different cost or status."""

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
              u_upper: Mapping[tuple[str, int], float] | None = None,
              tolerances: Tolerances = EXACT, held: bool = False) -> PlanResult:
    """Plan ``workload`` at ``catalog``'s prices. Raises :class:`WorkloadError` for a
    workload that names unknown things or has a job no pool can take, and
    :class:`SolverError` when the solver does not prove optimality.

    Pools that another pool dominates are left out first (``prune_dominated``; exact: a
    pool ``u_upper`` caps dominates none) unless ``prune`` is False; runs of identical
    periods are solved as one (``aggregate.py``; exact) unless ``merge`` is False.
    ``u_upper`` caps cloud instance-hours per (pool id, period) (see
    :func:`~costopt.plan.model.build_model`); ``held``: they hold pools out for a while
    (a re-plan's), so setup is counted per run of the capped periods
    (:func:`~costopt.plan.model.model_base`). ``tolerances``: how close to exact
    (:class:`Tolerances`)."""
    started = time.perf_counter()
    issues = check_against_catalog(workload, catalog)
    if issues:  # before the pools: a server of an unknown GPU model has none
        raise WorkloadError(source, issues)
    pools = build_pools(workload, catalog)
    pairs = eligibility(workload, pools, catalog)
    issues = unplaceable_jobs(workload, pools, pairs)
    if issues:
        raise WorkloadError(source, issues)
    zone_prices: dict[tuple[str, str], dict[str, float]] = {}
    for pool in pools.cloud:
        if pool.zone is not None:
            zone_prices.setdefault((pool.instance_type, pool.region), {})[pool.zone] = \
                pool.usd_per_hour
    if prune:
        pools, pairs = prune_dominated(workload, pools, pairs,
                                       capped={pool for pool, _t in u_upper or {}})
    issues = size_issues(workload, pools, pairs)
    if issues:  # a model this size would take hours to build and solve: say so now
        raise WorkloadError(source, issues)
    result = _plan(workload, catalog, pools, pairs, solver, time_limit_s, merge, u_upper,
                   tolerances, held)
    result = replace(result, spot_zone_prices=zone_prices,
                     notes=result.notes + over_quota_notes(pools)
                     + over_bid_notes(pools, workload.cloud.spot_max_price_ratio
                                      if workload.cloud else 1.0)
                     + regional_spot_notes(pools, catalog.source,
                                           {ph.pool for ph in result.pool_hours}))
    result.timings["prepare"] = time.perf_counter() - started - sum(result.timings.values())
    if not result.purchases:
        return result
    without = _plan(workload, catalog, _without_candidates(pools), pairs_without(pairs, pools),
                    solver, time_limit_s, merge, u_upper, tolerances, held)
    no_buy = without.total_usd if without.status == "optimal" else None
    timings = {k: v + without.timings.get(k, 0.0) for k, v in result.timings.items()}
    return replace(result, no_buy_total_usd=no_buy, timings=timings)


def _without_candidates(pools: Pools) -> Pools:
    return replace(pools, owned=tuple(p for p in pools.owned if p.buy_max is None))


def pairs_without(pairs: list[Eligible], pools: Pools) -> list[Eligible]:
    """The eligible pairs re-indexed for the pools without candidates."""
    kept = _without_candidates(pools).all
    index = {pool.id: i for i, pool in enumerate(kept)}
    return [replace(e, pool=index[pools.all[e.pool].id]) for e in pairs
            if pools.all[e.pool].id in index]


def _plan(workload: Workload, catalog: PriceCatalog, pools: Pools, pairs: list[Eligible],
          solver: str, time_limit_s: float | None, merge: bool,
          u_upper: Mapping[tuple[str, int], float] | None = None,
          tolerances: Tolerances = EXACT, held: bool = False) -> PlanResult:
    clock = _StageClock()
    notes = tuple(window_impossibilities(workload, pairs).values())
    agg = clock.run("aggregate", aggregate, workload, u_upper) if merge else None
    model = _Model(workload, pools, pairs, u_upper or {}, agg, solver, time_limit_s,
                   tolerances, clock, held)
    status = "optimal"
    laid = model.laid_out(elastic=False) if not notes else None
    if laid is None or laid[1].status is SolveStatus.INFEASIBLE:
        status = "infeasible"
        learned = laid[3] if laid is not None else model.layout
        laid = replace(model, layout=learned).laid_out(elastic=True)
        if laid[1].status is not SolveStatus.OPTIMAL:
            raise SolverError(f"the elastic re-solve failed ({laid[1].status.value})")
    lp, sol, fleet, _learned, layout_solves = laid
    result = clock.run("extract", _result, workload, catalog, pools, pairs, lp, sol, status,
                       notes, fleet)
    if result.status == "optimal":  # the LP did all the work (the layout may still not)
        result = replace(result, lp_bound_usd=model.relaxation.usd)
    unfit = layout_shortfalls(workload, pools, pairs, fleet, tolerances.short_hours)
    if unfit:  # the loop's last re-solve still buys too little instance time to lay out
        result = replace(result, status="infeasible", shortfalls=result.shortfalls + unfit)
    result.timings.update(clock.seconds)
    periods = agg.coarse.horizon.periods if agg is not None else workload.horizon.periods
    return replace(result, solved_periods=periods, layout_solves=layout_solves)


@dataclass
class _Relaxation:
    """The greatest variable cost (USD) of an optimum of a model holding only rows every
    fleet within the limits that does all the work keeps (``PlanResult.lp_bound_usd``)."""

    usd: float | None = None


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
    tolerances: Tolerances
    clock: _StageClock
    held: bool  # ``u_upper`` holds pools out (``make_plan``)
    layout: frozenset[tuple[int, int]] = frozenset()
    kept: frozenset[tuple[int, int, int]] = frozenset()
    filled: tuple[tuple[tuple[int, int], float], ...] = ()
    """((cloud pool, period), the share of its GPUs its jobs fill at once there)."""
    fill_steps: int = 0  # times ``filled`` was lowered
    setups: frozenset[tuple[int, int, int]] = frozenset()
    """(one-node job, cloud pool, run's first period) paying a whole setup (``setup_cuts``)."""
    bases: dict[tuple[bool, bool], ModelBase] = field(default_factory=dict, compare=False)
    """(coarse, elastic) -> the model's part its re-solves share (``model_base``), made on
    first use and shared by the copies the layout loop makes (``replace``)."""
    relaxation: _Relaxation = field(default_factory=_Relaxation, compare=False)
    """``PlanResult.lp_bound_usd`` so far; shared by the copies the layout loop makes, like
    ``bases``."""

    def laid_out(self, *, elastic: bool) -> LaidOut:
        """The optimum within every limit whose fleet carries its jobs at every instant
        (``layout.py``), that fleet, and the ``layout`` rows learned. Where the layout finds
        a job short on a pool, the model learns the ``layout`` rows of that job and pool
        (``model.py``, 8) and is solved again. Where no row is learned and no job is kept
        to one pool (below), the pools left short are taken to fill a smaller share of
        their GPUs at once (``lowered_fill``: the LP's packing bought too little) and the
        model is solved again, at most ``FILL_STEPS`` times (and at most
        ``tolerances.solves`` solves in all, :class:`Tolerances`), and only while the
        lowerings leave less short: where two in a row shrank nothing, the solution before
        them stands (as short, and no dearer: the lowered model asks more instance time). A
        lowering whose pool cannot buy more time (a limit at once) moves sharing work off
        it instead, and the layout of what is left may come up as short once (the lab
        month, ``examples/lab-month.yaml``); the next, deeper one moved enough. What is
        short then stays short, and the plan is infeasible for it (``layout_shortfalls``).

        Keeping jobs to one pool (``kept_to_one_pool``) only helps the fleet lay a solution
        out; it is no limit of the workload's. Where it leaves the model infeasible, or
        shorter of work than the solution before it (its main pool may be spot, whose
        derated work cannot carry the job alone), the solution before it stands, with the
        layout its fleet found."""
        model = self
        before: LaidOut | None = None
        unfilled: tuple[float, LaidOut] | None = None
        # (gang-hours short, the solution) that the lowerings of ``filled`` stand on: the
        # first one lowered, or the last whose lowering shrank what is short; ``stalled``:
        # whether the lowering since shrank nothing
        stalled = False
        least: tuple[float, float, LaidOut] | None = None
        # (gang-hours short, USD, the solution) that left least short so far, the cheapest
        # of those, for ``tolerances.solves``
        solves = 0
        while True:
            lp, sol = model.within_limits(elastic=elastic)
            if before is not None and _worse(lp, sol, before[0], before[1]):
                return before
            before = None
            if sol.status is not SolveStatus.OPTIMAL:
                return lp, sol, (), model.layout, solves + 1
            fleet = model.clock.run("extract", fleet_schedule, self.workload, self.pools,
                                    self.pairs, lp, sol.x)
            learned = model.layout | layout_cuts(
                self.workload, self.pools, self.pairs, lp, sol.x,
                model.base(coarse=False, elastic=elastic).factor)
            setups = model.setups | setup_cuts(self.workload, lp, sol.x, fleet)
            short = _short_hours(fleet, self.tolerances.short_hours)
            solves += 1
            found = (lp, sol, fleet, learned, solves)
            usd = _laid_out_usd(self.pools, lp, sol.x, fleet)
            budget = self.tolerances.solves
            if budget is not None and least is not None and not least[0] and (
                    short or usd >= least[1] - EPS):
                return least[2]  # laid out, and the loop found nothing cheaper laid out
            if least is None or (short, usd) <= least[:2]:
                least = (short, usd, found)
            if budget is not None and solves >= budget:
                return least[2]
            if learned == model.layout and setups == model.setups:
                if not short:
                    return found
                kept = model.kept | kept_to_one_pool(self.workload, lp, sol.x, fleet)
                if kept == model.kept:
                    shrank = unfilled is None or short < unfilled[0] - EPS
                    if not (shrank or stalled):
                        stalled = True  # lower once more before giving the lowering up
                    elif not shrank:
                        return unfilled[1]  # two lowerings in a row shrank nothing
                    else:
                        unfilled, stalled = (short, found), False
                    if model.fill_steps >= FILL_STEPS:
                        return unfilled[1]
                    filled = lowered_fill(self.workload, dict(model.filled), self.pools,
                                          self.pairs, lp, sol.x, fleet)
                    before = found
                    model = replace(model, filled=tuple(sorted(filled.items())),
                                    fill_steps=model.fill_steps + 1)
                    continue
                before = found
                model = replace(model, kept=kept)
            model = replace(model, layout=learned, setups=setups)

    def solved(self, *, elastic: bool) -> tuple[LinearProgram, Solution]:
        """The model of the workload's own periods and its optimum (or why there is none)."""
        clock, agg = self.clock, self.agg
        lp = clock.run("build", build_model, self.workload, self.pools, self.pairs,
                       elastic=elastic, u_upper=self.u_upper, layout=self.layout,
                       kept=self.kept, filled=dict(self.filled), setups=self.setups,
                       base=self.base(coarse=False, elastic=elastic))
        if agg is None or not agg.merges or not clock.run("aggregate", mergeable, lp):
            return lp, self._solve(lp)
        coarse = clock.run("aggregate", build_model, agg.coarse, self.pools, self.pairs,
                           elastic=elastic, u_upper=agg.u_upper, layout=self.layout,
                           kept=frozenset((j, p, int(agg.group[t])) for j, p, t in self.kept),
                           filled={(p, int(agg.group[t])): share
                                   for (p, t), share in sorted(self.filled, key=lambda f: -f[1])},
                           setups=frozenset((j, p, int(agg.group[r])) for j, p, r in self.setups),
                           base=self.base(coarse=True, elastic=elastic))
        sol = self._solve(coarse)
        return lp, replace(sol, x=clock.run("split", split, agg, coarse, lp, sol.x))

    def base(self, *, coarse: bool, elastic: bool) -> ModelBase:
        """The part of the model (of the merged periods: ``coarse``) that the layout loop's
        re-solves share, made once (``model.model_base``)."""
        key = (coarse, elastic)
        if key not in self.bases:
            agg = self.agg
            w, caps = (agg.coarse, agg.u_upper) if coarse and agg is not None else (
                self.workload, self.u_upper)
            self.bases[key] = self.clock.run("aggregate" if coarse else "build", model_base,
                                             w, self.pools, self.pairs, elastic=elastic,
                                             u_upper=caps, held=self.held)
        return self.bases[key]

    def _solve(self, lp: LinearProgram) -> Solution:
        return _checked(self.clock.run("solve", solve, lp, self.solver, self.time_limit_s,
                                       self.tolerances.mip_rel_gap))

    def within_limits(self, *, elastic: bool) -> tuple[LinearProgram, Solution]:
        """The optimum whose fleet stays within every concurrency limit at every instant.

        1. Solve with each limit relaxed to hours (``quota_hours``; merged periods where
           that is exact). Within every limit at once (``instances_at_once`` per run of
           periods, as the fleet runs them): done.
        2. Else round: cap each pool of an exceeded (limit, run) at whole instances that
           fit the limit (dropping the instance that carries the fewest hours) and solve
           again. A solution within the limits that costs what the relaxation cost is the
           optimum (the relaxation's cost is a lower bound; to the MILP's relative gap,
           ``tolerances.mip_rel_gap``).
           (Not where a multi-node job's gangs are among the instances: rounding counts
           none.)
        3. Else integer counts (``running``, and ``lanes`` of gangs) for every run of
           each limit exceeded so far, solved as a MILP, until no limit is exceeded: each
           model is a relaxation of the one with counts everywhere, and its optimum is
           within every limit, so it is that model's optimum too."""
        w, pools, clock = self.workload, self.pools, self.clock
        lp, sol = self.solved(elastic=elastic)
        if sol.status is not SolveStatus.OPTIMAL:
            return lp, sol
        if not (elastic or self.kept or self.filled):  # only rows every fleet keeps
            self.relaxation.usd = max(self.relaxation.usd or 0.0, _variable_usd(lp, sol.x))
        excess = concurrency_excess(w, pools, lp, sol.x)
        if not excess:
            return lp, sol
        bound = float(lp.cost @ sol.x)
        seen = set(excess)
        upper = lp.col_upper.copy()
        trial, tsol = lp, sol
        terms = limit_terms(lp.limits, pools, lp.u, lp.gang_pools)
        gangs = any(p in lp.gang_pools for key in excess for p, _w in terms[key])
        for _ in range(0 if gangs else ROUNDING_TRIES):  # rounding counts no gangs
            for (p, t), hours in _rounded_caps(w, pools, trial, tsol.x, excess).items():
                upper[lp.u[(p, t)]] = min(upper[lp.u[(p, t)]], hours)
            trial = replace(lp, col_upper=upper.copy())
            tsol = self._solve(trial)
            if tsol.status is not SolveStatus.OPTIMAL:
                break
            excess = concurrency_excess(w, pools, trial, tsol.x)
            seen |= excess
            if not excess:
                gap = self.tolerances.mip_rel_gap
                if float(trial.cost @ tsol.x) <= bound + gap * max(1.0, abs(bound)):
                    return trial, tsol
                break
        counted = frozenset(key for key in terms if key[0] in {g for g, _t in seen})
        while True:
            lp = clock.run("build", build_model, w, pools, self.pairs, elastic=elastic,
                           u_upper=self.u_upper, counted=counted, layout=self.layout,
                           kept=self.kept, filled=dict(self.filled), setups=self.setups,
                           base=self.base(coarse=False, elastic=elastic))
            first = first_periods(lp.runs)
            counted_u = [col for (p, t), col in lp.u.items() if (p, int(first[t])) in lp.n_run]
            lp = replace(lp, lazy=lp.lazy & ~_rows_of(lp, counted_u))
            sol = self._solve(lp)
            if sol.status is not SolveStatus.OPTIMAL:
                return lp, sol
            excess = concurrency_excess(w, pools, lp, sol.x) - counted
            if not excess:
                return lp, sol
            counted |= {key for key in limit_terms(lp.limits, pools, lp.u, lp.gang_pools)
                        if key[0] in {g for g, _t in excess}}


def layout_shortfalls(w: Workload, pools: Pools, pairs: list[Eligible],
                      fleet: tuple[PoolSchedule, ...],
                      accepted_hours: float = 0.0) -> tuple[Shortfall, ...]:
    """The work the fleet's layout could not place, per job and pool: what the layout loop
    (``_Model.laid_out``) left short after its last re-solve, but for the jobs short of at
    most ``accepted_hours`` gang-hours in all (``Tolerances.short_hours``). Each gang-hour
    short is ``gpus`` GPU-hours at the job's work per GPU-hour on the pool (reference
    GPU-hours)."""
    index = {pool.id: p for p, pool in enumerate(pools.all)}
    names = {job.name: j for j, job in enumerate(w.jobs)}
    rate = {(e.job, e.pool): e.work_per_gpu_hour for e in pairs}
    short: dict[tuple[str, str], tuple[float, int]] = {}  # (job, pool) -> (h, first period)
    beyond = _short_jobs(fleet, accepted_hours)
    for schedule in fleet:
        for (first, name), hours in sorted(schedule.short.items()):
            if name not in beyond:
                continue
            had, since = short.get((name, schedule.pool), (0.0, first))
            short[(name, schedule.pool)] = (had + hours, min(since, first))
    out = []
    for (name, pool_id), (hours, since) in sorted(short.items()):
        j, p = names[name], index[pool_id]
        job, pool = w.jobs[j], pools.all[p]
        out.append(Shortfall(name, hours * job.gpus * rate[(j, p)], (
            f"layout: on {pool_id} ({pool.gpus_per_node} GPUs per instance) {hours:.2f} h of "
            f"{name}'s gangs ({job.shape}) from {w.horizon.period_start(since):%Y-%m-%d %H:%M} "
            "find no GPUs free at once on the instance time the plan buys, beside the pool's "
            "other jobs and the job's own stretches on other pools (the plan's GPU-hour "
            "packing bought too little to lay them out). To fix: move the deadline, allow "
            "more pools, or plan the job in a workload of its own")))
    return tuple(out)


FILL_STEPS = 10
"""Times a pool's share of GPUs its jobs fill at once is learned before what its layout
still leaves short makes the plan infeasible (``layout_shortfalls``)."""

FILL_MARGIN = 0.01
"""Each lowering takes at least this share off, so a layout seconds short converges."""

LEAST_FILLED = 0.25
"""The least share of a pool's GPUs its jobs are taken to fill at once."""


def lowered_fill(w: Workload, filled: dict[tuple[int, int], float], pools: Pools,
                 pairs: list[Eligible], lp: LinearProgram, x: np.ndarray,
                 fleet: tuple[PoolSchedule, ...]) -> dict[tuple[int, int], float]:
    """Each (cloud pool, period)'s share of the pool's GPUs its jobs fill at once, lowered
    in the LP's runs of periods where the pool's layout came up short - the LP's packing
    bought too little there, and a layout on a little more time may still leave some short:
    sized so that ``packing`` asks at least twice the short GPU-hours ``s`` more than the
    instances bought work for. What ``packing`` charges the jobs the share applies to,
    those that share an instance (``_shared_charge``: ``C`` GPU-hours in the run; a job
    whose gang holds a node alone is charged as before), over the share times
    ``1 - (slack + 2 s) / C - FILL_MARGIN`` grows to more than ``C + slack + 2 s``: past
    the row's slack, by ``2 s``. (Sized against all the GPU-hours the pool paid, a lowering
    bought less than that where such a job ran beside the sharing ones, and nothing where it
    did not use up the row's slack.) At most by half; never below ``LEAST_FILLED``. The
    next solve buys more instance time, or moves the work."""
    index = {pool.id: p for p, pool in enumerate(pools.all)}
    gpus = {job.name: job.gpus for job in w.jobs}
    periods_of = run_periods(lp.runs)
    charged = _shared_charge(w, pools, pairs, lp, x, filled)
    activity = lp.activity(x)
    slack = {key: max(0.0, -float(activity[r]))
             for r, (family, key) in enumerate(zip(lp.row_family, lp.row_key, strict=True))
             if family == "packing"}
    out = dict(filled)
    for s in fleet:
        p = index[s.pool]
        missing: dict[int, float] = {}
        for (first, name), hours in s.short.items():
            missing[first] = missing.get(first, 0.0) + hours * gpus[name]
        for first, short in missing.items():
            charge = sum(charged.get((p, t), 0.0) for t in periods_of[first])
            room = sum(slack.get((p, t), 0.0) for t in periods_of[first])
            lower = max(0.5, 1.0 - (room + 2 * short) / charge - FILL_MARGIN) \
                if charge > 0 else 0.5
            for t in periods_of[first]:
                out[(p, t)] = max(LEAST_FILLED, out.get((p, t), 1.0) * lower)
    return out


def _paid_by_run(fleet: tuple[PoolSchedule, ...], first: np.ndarray
                 ) -> dict[tuple[str, int], float]:
    """(pool id, a run's first period) -> the instance-hours the fleet pays there (``first``:
    each period's run's first period, ``model.first_periods``)."""
    paid: dict[tuple[str, int], float] = {}
    for s in fleet:
        for t, hours in s.hours_by_period.items():
            paid[(s.pool, int(first[t]))] = paid.get((s.pool, int(first[t])), 0.0) + hours
    return paid


def _laid_out_usd(pools: Pools, lp: LinearProgram, x: np.ndarray,
                  fleet: tuple[PoolSchedule, ...]) -> float:
    """The variable cost (USD) of solution ``x`` as its plan reports it: its fleet's cloud
    instance-hours at their prices and its owned GPU-hours at their energy."""
    price = {pool.id: pool.usd_per_hour for pool in pools.cloud}
    cloud = sum(h * price[s.pool] for s in fleet for h in s.hours_by_period.values())
    owned = 0.0
    for (_j, p, t), col in lp.h.items():
        pool = pools.all[p]
        if (p, t) not in lp.u and isinstance(pool, OwnedPool):
            owned += pool.energy_usd_per_gpu_hour * float(x[col])
    return cloud + owned


def _shared_charge(w: Workload, pools: Pools, pairs: list[Eligible], lp: LinearProgram,
                   x: np.ndarray, filled: Mapping[tuple[int, int], float]
                   ) -> dict[tuple[int, int], float]:
    """(cloud pool, period) -> the GPU-hours ``packing`` charges there the jobs that share
    the pool's instances (``b h`` over the share ``filled``; a job whose gang holds a node
    alone is charged ``b h`` whatever the share: ``model.holds_node_alone``)."""
    blocking = {(e.job, e.pool): e.blocking for e in pairs}
    out: dict[tuple[int, int], float] = {}
    for (j, p, t), col in lp.h.items():
        b = blocking[(j, p)]
        if (p, t) in lp.u and x[col] > EPS and not holds_node_alone(
                b, w.jobs[j].gpus, pools.all[p].gpus_per_node):
            out[(p, t)] = out.get((p, t), 0.0) + b * float(x[col]) / filled.get((p, t), 1.0)
    return out


def _worse(lp: LinearProgram, sol: Solution, lp0: LinearProgram, sol0: Solution) -> bool:
    """Whether ``sol`` (solved with more jobs kept to one pool) is no solution, or falls
    shorter of work than ``sol0`` (the elastic re-solve's ``z``) did."""
    if sol.status is not SolveStatus.OPTIMAL:
        return True
    def short(lp: LinearProgram, x: np.ndarray) -> float:
        return sum(float(x[col]) for col in lp.z.values())
    return short(lp, sol.x) > short(lp0, sol0.x) + EPS


ROUNDING_TRIES = 3
"""Rounded instance counts tried before integer counts (each an LP solve)."""


def _rounded_caps(w: Workload, pools: Pools, lp: LinearProgram, x: np.ndarray,
                  excess: set[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """Instance-hour caps (whole instances x P, in each period of the run) on the pools of
    each exceeded (limit, run) that fit the limit: from ``ceil(U/L)`` instances over the
    run, drop the ones carrying the fewest hours until the limit holds."""
    terms = limit_terms(lp.limits, pools, lp.u, lp.gang_pools)
    periods_of = run_periods(lp.runs)
    hours = period_hours(w)
    caps: dict[tuple[int, int], float] = {}
    for g, r in sorted(excess):
        members = periods_of[r]
        length = float(hours[members].sum())
        used = {p: sum(float(x[lp.u[(p, t)]]) for t in members) for p, _w in terms[(g, r)]}
        count = {p: running_at_once(h, length) for p, h in used.items()}
        weight = dict(terms[(g, r)])
        while sum(weight[p] * n for p, n in count.items()) > lp.limits[g].bound + 1e-9:
            p = min((p for p, n in count.items() if n), key=lambda p: (
                used[p] - (count[p] - 1) * length, p))
            count[p] -= 1
        for p, n in count.items():
            for t in members:
                caps[(p, t)] = min(caps.get((p, t), INF), n * float(hours[t]))
    return caps


def _variable_usd(lp: LinearProgram, x: np.ndarray) -> float:
    """``x``'s variable cost (USD): the objective without tie-break, penalty or the fixed
    cost of servers bought."""
    bought = list(lp.n.values())
    return float(lp.variable_cost @ x - lp.variable_cost[bought] @ x[bought])


def _rows_of(lp: LinearProgram, cols: list[int]) -> np.ndarray:
    """Rows with a term in any of ``cols``."""
    mask = np.zeros(lp.num_rows, dtype=bool)
    mask[lp.a_row[np.isin(lp.a_col, cols)]] = True
    return mask


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
            lp: LinearProgram, sol: Solution, status: str, notes: tuple[str, ...],
            fleet: tuple[PoolSchedule, ...]) -> PlanResult:
    x = sol.x
    rate = {(e.job, e.pool): e for e in pairs}
    # The cloud cost of a pool over a run of periods (the fleet's unit, ``fleet_schedule``)
    # is shared among the run's jobs by the GPUs they hold (b*h).
    first = first_periods(lp.runs)
    held: dict[tuple[int, int], float] = {}
    for (j, p, t), col in lp.h.items():
        if (p, t) in lp.u and x[col] > EPS:
            key = (p, int(first[t]))
            held[key] = held.get(key, 0.0) + rate[(j, p)].blocking * x[col]
    paid = _paid_by_run(fleet, first)
    gpu_hours = {key: float(x[col]) for key, col in lp.h.items()}
    gpu_hours.update(_as_the_fleet_runs(w, pools, lp, x, fleet))
    assignments = []
    for (j, p, t), h in sorted(gpu_hours.items()):
        if h <= EPS:
            continue
        pool, e = pools.all[p], rate[(j, p)]
        if isinstance(pool, OwnedPool):
            usd = pool.energy_usd_per_gpu_hour * h
        else:
            share = e.blocking * h / held[(p, int(first[t]))]
            usd = share * pool.usd_per_hour * paid.get((pool.id, int(first[t])), 0.0)
        assignments.append(Assignment(w.jobs[j].name, pool.id, t, w.horizon.period_start(t), h,
                                      h * e.work_per_gpu_hour, usd))
    prices = {pool.id: pool.usd_per_hour for pool in pools.cloud}
    pool_hours = [PoolHours(s.pool, t, w.horizon.period_start(t), hours,
                            hours * prices[s.pool])
                  for s in fleet for t, hours in sorted(s.hours_by_period.items())
                  if hours > EPS]
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
        shortfalls=tuple(shortfalls), baselines=compute_baselines(w, pools, pairs, assignments),
        binding=binding, notes=notes, variables=lp.num_cols, constraints=lp.num_rows,
        purchases=tuple(purchases), fleet=fleet,
    )


def _as_the_fleet_runs(w: Workload, pools: Pools, lp: LinearProgram, x: np.ndarray,
                       fleet: tuple[PoolSchedule, ...]) -> dict[tuple[int, int, int], float]:
    """Each job's cloud GPU-hours per period as its pool's slots do the work: its GPU-hours
    over a run of periods (the LP's, which may fall anywhere in the run) spread over the
    run's periods in proportion to the GPU-hours its uses (``layout.py``) run in each. The
    fleet starts an instance with its setup, so the plan's periods then say what the fleet
    does in them, which progress and pace read (``orchestrate/progress.py``)."""
    first = first_periods(lp.runs)
    used = _use_gpu_hours(w, fleet)
    total: dict[tuple[int, int, int], float] = {}
    for (j, p, t), col in lp.h.items():
        if (p, t) in lp.u and x[col] > EPS:
            key = (j, p, int(first[t]))
            total[key] = total.get(key, 0.0) + float(x[col])
    out: dict[tuple[int, int, int], float] = {}
    members_of = run_periods(lp.runs)
    for (j, p, f), hours in total.items():
        work = used.get((pools.all[p].id, w.jobs[j].name), {})
        members = members_of[f]
        done = sum(work.get(t, 0.0) for t in members)
        if done <= EPS:
            continue
        for t in members:
            out[(j, p, t)] = hours * work.get(t, 0.0) / done
    return out


def _use_gpu_hours(w: Workload, fleet: Iterable[PoolSchedule]
                   ) -> dict[tuple[str, str], dict[int, float]]:
    """(pool id, job) -> period -> the GPU-hours the job's uses run there."""
    periods = _spans(w, list(range(w.horizon.periods)))
    out: dict[tuple[str, str], dict[int, float]] = {}
    for s in fleet:
        for r in s.runs:
            for u in r.uses:
                mine = out.setdefault((s.pool, u.job), {})
                for t, hours in hours_in_periods([Run(r.slot, u.start, u.end, u.start)],
                                                 periods).items():
                    mine[t] = mine.get(t, 0.0) + u.gpus * hours
    return out


def _spans(w: Workload, firsts: list[int]) -> Periods:
    """The spans from each of ``firsts`` (period indices, ascending) to the next, the last
    to the horizon's end: the workload's periods, or its runs of periods."""
    ends = [*firsts[1:], w.horizon.periods]
    return Periods([w.horizon.period_start(f) for f in firsts],
                   [w.horizon.period_start(e) for e in ends])


def apart_needs(w: Workload, pools: Pools, per_node: dict[tuple[int, int], int],
                wall: dict[tuple[int, int, int], float]
                ) -> dict[tuple[int, int], list[tuple[int, float]]]:
    """(pool, run) -> per job ``k`` whose gangs never share an instance (one per node), the
    instance-hours of work the jobs of ``model.apart_from(k, pool)`` need there: ``k`` and
    the jobs wider than half the instance and than what ``k`` leaves (multi-node gangs:
    always), which run one at a time on each instance. ``wall``: (job, pool, run) ->
    gang-hours (``h / gpus``)."""
    by_run: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for (j, p, r), hours in wall.items():
        by_run.setdefault((p, r), []).append((j, hours))
    out: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for (p, r), jobs in by_run.items():
        room = pools.all[p].gpus_per_node
        wide = [(j, w.jobs[j].gpus, hours) for j, hours in jobs
                if 2 * w.jobs[j].gpus > room or w.jobs[j].nodes > 1]
        if not wide:
            continue
        out[(p, r)] = [(k, hours + sum(h for i, g, h in wide if i != k and (
            g > room - w.jobs[k].gpus or w.jobs[i].nodes > 1)))
            for k, hours in jobs if w.jobs[k].nodes == 1 and per_node[(k, p)] == 1]
    return out


def _with_uses(busy: dict[str, list[tuple[int, int]]], schedule: PoolSchedule,
               periods: Periods) -> dict[str, list[tuple[int, int]]]:
    """``busy`` and the gangs of ``schedule`` (microseconds from the origin): each
    one-node gang, and each multi-node gang once (its first node's)."""
    out = {job: list(spans) for job, spans in busy.items()}
    for r in schedule.runs:
        if r.gang is None or r.node_rank == 0:
            for u in r.uses:
                out.setdefault(u.job, []).append((periods.micros(u.start),
                                                  periods.micros(u.end)))
    return out


LAYOUT_TOL = 1e-4
"""Instance-hours by which a ``layout`` row may be exceeded before it counts as violated."""


def layout_cuts(w: Workload, pools: Pools, pairs: list[Eligible], lp: LinearProgram,
                x: np.ndarray, factor: np.ndarray) -> set[tuple[int, int]]:
    """(job, cloud pool) pairs whose ``layout`` rows (``model.py``, 8) ``x`` violates in a
    run of periods: the jobs that cannot run beside
    the job on one instance at once need more instance-hours of work than ``x`` buys
    (``factor``: the model's work per instance-hour, ``ModelBase.factor``)."""
    per_node = {(e.job, e.pool): e.gangs_per_node for e in pairs}
    first = first_periods(lp.runs)
    wall: dict[tuple[int, int, int], float] = {}
    for (j, p, t), col in lp.h.items():
        if (p, t) in lp.u and x[col] > EPS:
            key = (j, p, int(first[t]))
            wall[key] = wall.get(key, 0.0) + float(x[col]) / w.jobs[j].gpus
    bought: dict[tuple[int, int], float] = {}
    for (p, t), col in lp.u.items():
        key = (p, int(first[t]))
        bought[key] = bought.get(key, 0.0) + factor[t] * float(x[col])
    needs = apart_needs(w, pools, per_node, wall)
    if not any(need > bought.get(key, 0.0) + LAYOUT_TOL
               for key, more in needs.items() for _k, need in more):
        return set()
    return {(k, p) for (p, r), more in needs.items()
            if any(need > NEAR * bought.get((p, r), 0.0) for _k, need in more)
            for k, _need in more}


def setup_cuts(w: Workload, lp: LinearProgram, x: np.ndarray,
               fleet: tuple[PoolSchedule, ...]) -> set[tuple[int, int, int]]:
    """(one-node job, cloud pool, run's first period) where the job spills over to the pool
    from another pool in the run and the fleet pays more instance time on the pool in the
    run than ``x`` bought: the job's ``launch`` rows charged the pool a share of the setup
    its instance pays whole (a job of 1 GPU-hour with 0.57 of it beside a gang: 0.57 of a
    setup priced, a whole one paid), so the model learns to charge it whole
    (``model._whole_setup_rows``)."""
    if setup_hours(w) <= 0:
        return set()
    first = first_periods(lp.runs)
    bought: dict[tuple[str, int], float] = {}
    for (p, t), col in lp.u.items():
        key = (lp.naming.pools[p], int(first[t]))
        bought[key] = bought.get(key, 0.0) + float(x[col])
    paid = _paid_by_run(fleet, first)
    over = {key for key, hours in paid.items() if hours > bought.get(key, 0.0) + LAYOUT_TOL}
    on: dict[tuple[int, int], set[int]] = {}  # (job, run) -> pools it runs on
    for (j, p, t), col in lp.h.items():
        if x[col] > EPS and w.jobs[j].nodes == 1:
            on.setdefault((j, int(first[t])), set()).add(p)
    return {(j, p, r) for (j, r), pools in on.items() if len(pools) > 1 for p in pools
            if (j, p, r) not in lp.started and (lp.naming.pools[p], r) in over}


NEAR = 0.5
"""Once some ``layout`` row is violated, the rows of every pool and run whose jobs that
cannot share an instance need this share of its instance time or more are added too: the
LP would move its work there next, one solve at a time."""


def kept_to_one_pool(w: Workload, lp: LinearProgram, x: np.ndarray,
                     fleet: tuple[PoolSchedule, ...]) -> set[tuple[int, int, int]]:
    """(job, pool, period) for the jobs that run on two or more cloud pools in one run of
    periods, once the fleet's layout left some such job short: its gangs on the pools could
    not be laid out one after the other (each pool's instances run where the pool's own jobs
    need them). Every such one-node job is kept, in every period of the run, to the pool
    that carries most of its hours there - all at once, not one solve per job. None where
    no job is short."""
    if not any(schedule.short for schedule in fleet):
        return set()
    first = first_periods(lp.runs)
    hours: dict[tuple[int, int], dict[int, float]] = {}  # (job, run) -> pool -> GPU-hours
    for (j, p, t), col in lp.h.items():
        if (p, t) in lp.u and x[col] > EPS and w.jobs[j].nodes == 1:
            on = hours.setdefault((j, int(first[t])), {})
            on[p] = on.get(p, 0.0) + float(x[col])
    periods_of = run_periods(lp.runs)
    out = set()
    for (k, r), on in hours.items():
        if len(on) > 1:
            main = max(sorted(on), key=on.__getitem__)
            out.update((k, main, t) for t in periods_of[r])
    return out


def beside_owned(w: Workload, lp: LinearProgram, x: np.ndarray,
                 fleet: tuple[PoolSchedule, ...]) -> set[int]:
    """The LP's runs of periods (first periods) where a job on both owned and cloud pools
    runs more GPU-hours in some period than its gangs can at once (the ``gang`` row,
    ``most_gpus * P_h``): its owned GPU-hours are the LP's per period, and the fleet may
    have run its cloud work anywhere in the run (a job of 1 GPU with 11.25 h owned in each
    of two days and 25.5 h on a cloud pool over both ran 24 h there on the first day)."""
    owned: dict[tuple[int, int], float] = {}  # (job, period) -> owned GPU-hours
    for (j, p, t), col in lp.h.items():
        if (p, t) not in lp.u and x[col] > EPS:
            owned[(j, t)] = owned.get((j, t), 0.0) + float(x[col])
    names = {job.name: j for j, job in enumerate(w.jobs)}
    mixed = {w.jobs[j].name for j, _t in owned}
    cloud: dict[tuple[int, int], float] = {}
    for (_pool, name), hours in _use_gpu_hours(w, fleet).items():
        if name in mixed:
            for t, h in hours.items():
                cloud[(names[name], t)] = cloud.get((names[name], t), 0.0) + h
    first, lengths = first_periods(lp.runs), period_hours(w)
    out = set()
    for (j, t), hours in cloud.items():
        most = w.jobs[j].most_gpus * lengths[t]
        if hours + owned.get((j, t), 0.0) > most + EPS * max(1.0, most):
            out.add(int(first[t]))
    return out


def fleet_schedule(w: Workload, pools: Pools, pairs: list[Eligible], lp: LinearProgram,
                   x: np.ndarray) -> tuple[PoolSchedule, ...]:
    """Each used cloud pool's runs (``fleet.py``), laid out over the LP's runs of periods
    (``lp.runs``; every hour of a run offers the same, and the LP counts setup over a run,
    so a run's hours and work may fall anywhere in it; but a run where that puts a job on
    both owned and cloud pools over its gangs at once, ``beside_owned``, is laid out again
    period by period, as the LP's own per-period hours): a pool's instance-hours per run,
    and the work its one-node jobs need there in instance-hours: the GPUs they hold over the
    node's (``sum b h / G``), and at least the longest job's wall time (``h / (gpus * c)``,
    ``c`` of its gangs on one node); a multi-node job's gangs apart (their instance-hours
    ``h / gpus`` over their nodes); the jobs each slot serves. Its hours per period are
    the time its runs spend in each period of the workload; what a layout leaves short is
    keyed by the LP's run (its first period)."""
    first = first_periods(lp.runs)
    fleet = _fleet_over(w, pools, pairs, lp, x, first)
    crowded = beside_owned(w, lp, x, fleet)
    if not crowded:
        return fleet
    return _fleet_over(w, pools, pairs, lp, x,
                       np.where(np.isin(first, sorted(crowded)), np.arange(len(first)), first))


def _fleet_over(w: Workload, pools: Pools, pairs: list[Eligible], lp: LinearProgram,
                x: np.ndarray, first: np.ndarray) -> tuple[PoolSchedule, ...]:
    """:func:`fleet_schedule` over blocks of periods: ``first`` per period, its block's
    first period (the LP's runs, or some of them cut into their periods)."""
    blocking = {(e.job, e.pool): e.blocking for e in pairs}
    per_node = {(e.job, e.pool): e.gangs_per_node for e in pairs}
    commanded = frozenset(job.name for job in w.jobs if job.run)
    runs = sorted(set(first.tolist()))
    run_of = {f: r for r, f in enumerate(runs)}
    uses: dict[int, PoolUse] = {}
    packed: dict[tuple[int, int], float] = {}
    wall: dict[tuple[int, int, int], float] = {}
    for (j, p, t), col in lp.h.items():
        if (p, t) in lp.u and x[col] > EPS:
            job, r = w.jobs[j], run_of[int(first[t])]
            use = uses.setdefault(p, PoolUse(commanded=commanded,
                                             gpus_per_node=pools.all[p].gpus_per_node))
            if job.nodes > 1:
                gang = use.gangs.setdefault(job.name, (job.nodes, {}))[1]
                gang[r] = gang.get(r, 0.0) + float(x[col]) / job.gpus
                use.gang_charged[r] = use.gang_charged.get(r, 0.0) + float(x[col]) * \
                    lp.gang_hours.get(col, 1.0 / job.gpus)
                use.gang_gpus[job.name] = job.gpus
                use.gang_parallel[job.name] = job.parallel
                continue
            packed[(p, r)] = packed.get((p, r), 0.0) + \
                blocking[(j, p)] * x[col] / pools.all[p].gpus_per_node
            wall[(j, p, r)] = wall.get((j, p, r), 0.0) + float(x[col]) / job.gpus
    for (j, p, r), hours in wall.items():
        job = w.jobs[j]
        uses[p].pieces.setdefault(r, []).append(
            Piece(job.name, job.gpus, round(hours * HOUR), job.parallel))
    work = dict(packed)
    for (j, p, r), hours in wall.items():
        work[(p, r)] = max(work[(p, r)], hours / per_node[(j, p)])
    for (p, r), needs in apart_needs(w, pools, per_node, wall).items():
        work[(p, r)] = max([work[(p, r)]] + [hours for _k, hours in needs])
    blocks, periods = _spans(w, runs), _spans(w, list(range(w.horizon.periods)))
    cloud = w.cloud
    setup_s = round(cloud.setup_minutes * 60) if cloud else 0
    min_s = round(cloud.min_instance_minutes * 60) if cloud else 0
    paid: dict[int, dict[int, float]] = {}
    for (p, t), col in sorted(lp.u.items()):
        if x[col] > EPS:
            r = run_of[int(first[t])]
            paid.setdefault(p, {})[r] = paid.get(p, {}).get(r, 0.0) + float(x[col])

    def laid_out(order: list[int]) -> dict[int, PoolSchedule]:
        """Each pool's schedule, laid out in ``order``: a pool's one-node jobs beside their
        gangs on the pools laid out before it."""
        out: dict[int, PoolSchedule] = {}
        busy: dict[str, list[tuple[int, int]]] = {}  # each job's gangs on the pools laid out
        for p in order:
            use = replace(uses.get(p, PoolUse(commanded=commanded)), busy=busy)
            out[p] = schedule_pool_jobs(pools.all[p].id, blocks, paid[p],
                                        {r: work.get((p, r), 0.0) for r in paid[p]}, setup_s,
                                        min_s, use)
            busy = _with_uses(busy, out[p], blocks)
        return out

    order = sorted(paid)
    best = laid_out(order)
    for _ in range(len(order) - 1):
        short = _short_hours(best.values())
        if not short:
            break
        # A job split over pools runs on them one after the other: a pool whose runs are
        # fixed where they are (carried over from a period before) left it short beside a
        # pool laid out before it, whose runs could have moved out of the way
        # (``fleet._laid_out``). Lay the pools that came up short out first.
        order = [p for p in order if best[p].short] + [p for p in order if not best[p].short]
        again = laid_out(order)
        if _short_hours(again.values()) >= short:
            break
        best = again
    lp_first = first_periods(lp.runs)
    return tuple(replace(s, hours_by_period=hours_in_periods(s.runs, periods),
                         short=_by_lp_run(s.short, [int(lp_first[f]) for f in runs]))
                 for _p, s in sorted(best.items()))


def _by_lp_run(short: dict[tuple[int, str], float], lp_run: list[int]
               ) -> dict[tuple[int, str], float]:
    """Gang-hours short per (block, job) summed per (the LP's run's first period, job)."""
    out: dict[tuple[int, str], float] = {}
    for (r, name), hours in short.items():
        out[(lp_run[r], name)] = out.get((lp_run[r], name), 0.0) + hours
    return out


def _short_jobs(schedules: Iterable[PoolSchedule], accepted_hours: float = 0.0
                ) -> dict[str, float]:
    """Job -> gang-hours the schedules' layouts could not carry of it, over all pools, for
    the jobs short of more than ``accepted_hours``."""
    short: dict[str, float] = {}
    for s in schedules:
        for (_first, name), hours in s.short.items():
            short[name] = short.get(name, 0.0) + hours
    return {name: hours for name, hours in short.items() if hours > accepted_hours}


def _short_hours(schedules: Iterable[PoolSchedule], accepted_hours: float = 0.0) -> float:
    """Gang-hours the schedules' layouts could not carry, over all pools and the jobs short
    of more than ``accepted_hours``."""
    return sum(_short_jobs(schedules, accepted_hours).values())
