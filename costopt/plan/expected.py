"""What the plan is expected to cost carried out, with spot there as often as its
availability, and what it would cost were spot always there (docs/model.md, "Expected
cost").

The model derates spot work per instance-hour by the pool's availability ``a`` (``pools.py``):
a spot run held ``L`` hours does work that, with spot always there, takes ``a L``. Carried
out, no one pays for the hours a held run has no capacity: AWS bills running instances, and
``simulate`` bills each instance run. So per spot run (one slot's stretch, ``fleet.py``):

1. **Running hours.** Spot capacity comes and goes as an alternating up/down process with
   ``r`` preemptions per spot-hour (up spells of ``mu_u = 1 / r`` hours) and availability
   ``a`` (outages of ``mu_d = mu_u (1 - a) / a``). ``r`` is the pool's own rate where a
   trace gave it, else at least ``DEFAULT_PREEMPTIONS_PER_SPOT_HOUR`` (the public traces'
   median: a running instance is ended at every outage, far more often than the catalog's
   interruption band says). Each preemption loses ``restart + checkpoint / 2``
   (``pools.spot_efficiency``), so the run's work takes ``R = a (L - f) k + f`` running
   hours, ``k`` the ratio of the planned efficiency to this one (by GPU-hours of the run's
   jobs), ``f`` the run's setup (``cloud.setup_minutes``: paid, no work; the LP derates
   only the run's time after it).
2. **Shortfall.** Up time of the home zone over the run and the slack after it (to the
   earliest deadline of its jobs, ``s``: spot short of the run's work delays all of it; a
   job without a deadline is due at the horizon's end, as the controller paces it) is
   about normal: mean ``a (L + s)``, variance ``v (L + s)`` with ``v = 2 mu_u^2 mu_d^2 /
   (mu_u + mu_d)^3`` (an alternating renewal process of exponential spells). It falls
   short of ``R`` by ``X = (R - U)+`` spot-hours, ``E[X] = m Phi(m / sd) + sd phi(m / sd)``
   with ``m = R - a (L + s)``.
3. **Make-up: the controller's walk.** A job ahead of its pace line waits for its home
   zone (the up time of step 2); spot short of its deadline leaves it behind the line, and
   a job behind does not wait: it tries the region's other zones' spot, cheapest first,
   then on demand (``orchestrate/markets.py``, ``fallback.py``). Zones are taken as
   independent, each up with the pool's own ``a``, so a short spot-hour runs in the
   ``i``-th cheapest other zone with probability ``a (1 - a)^(i - 1)``, at that zone's
   price (USD per instance-hour, ``PlanResult.spot_zone_prices``: before pruning) and
   with the same preemptions (spot-hours for spot-hours), and on demand with probability
   ``(1 - a)^(Z - 1)`` (``Z`` zones priced in the region), where no preemption slows it
   (``E[X]`` times the efficiency on spot, in on-demand hours). Where a job on the pool
   may not run on demand (its ``allow``, ``cloud.markets``) the walk starts over on spot
   instead: that share waits for the home zone, at its price. A regional pool (no zone
   prices) has no other zone to walk: its shortfall runs on demand.
4. **Cost.** ``home price x (R - E[X] + the share waiting) + E[X] x the other zones'
   expected price + on-demand price x the on-demand hours`` in place of the run's held
   ``home price x L``.

The expected total is the plan's total with every spot run costed so; spot always there
(``a = 1``, no preemption beyond the plan's rate) is ``total - sum (1 - a) price L``. A
derivation, not a simulation: pure, a solved plan in, USD out; ``scripts/bench_expected.py``
measures it against ``simulate`` on synthetic traces of the same statistics, every zone
traced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from costopt.plan.pools import CloudPool, spot_efficiency

if TYPE_CHECKING:
    from costopt.plan.fleet import Run
    from costopt.plan.planner import PlanResult
    from costopt.workload import Workload

DEFAULT_PREEMPTIONS_PER_SPOT_HOUR = 0.44
"""Preemptions per spot-hour where no trace gives a pool's own: the median over the 21 public
AWS GPU traces of "Can't Be Late" (NSDI'24; 0.1-1.4, ``facts.md``). With the default
availability 0.59 that is up spells of 2.3 h and outages of 1.6 h on average."""


@dataclass(frozen=True)
class ExpectedCost:
    """The plan's total (USD over the horizon, fixed cost included) carried out three ways:
    every held spot hour paid (``held_usd``, the plan's ``total_usd``); with spot there as
    often as its availability (``expected_usd``), of which ``on_demand_usd`` is the on-demand
    and ``other_zones_usd`` the other zones' spot expected to make up for home-zone spot
    that falls short; and were spot always there."""

    held_usd: float
    expected_usd: float
    on_demand_usd: float
    spot_always_there_usd: float
    other_zones_usd: float


@dataclass(frozen=True)
class MakeUp:
    """Where one spot-hour of work that the home zone fell short of runs (step 3 of the
    module's docstring), as shares of it: in the region's other zones (``other_zones``, at
    ``other_zones_usd`` expected USD per short spot-hour), on demand, and the rest waiting
    for the home zone."""

    other_zones: float
    other_zones_usd: float
    on_demand: float

    @property
    def waiting(self) -> float:
        return 1.0 - self.other_zones - self.on_demand


@dataclass(frozen=True)
class SpotRun:
    """One spot run carried out: instance-hours held by the plan, expected running on the
    home zone's spot (paid), expected in other zones (spot-hours, and their USD) and on
    demand, making up for home-zone spot that fell short."""

    held_hours: float
    spot_hours: float
    on_demand_hours: float
    other_zone_hours: float = 0.0
    other_zones_usd: float = 0.0


def expected_cost(result: PlanResult) -> ExpectedCost:
    """The plan's expected total and its parts (see the module's docstring)."""
    pools = {p.id: p for p in result.pools.cloud if p.market == "spot" and p.availability < 1}
    change = on_demand = other = unavailable = 0.0
    for schedule in result.fleet:
        pool = pools.get(schedule.pool)
        if pool is None:
            continue
        jobs = {a.job for a in result.assignments if a.pool == pool.id}
        walk = make_up_walk(pool, result.spot_zone_prices.get(
            (pool.instance_type, pool.region), {}), falls_back_on_demand(result.workload, jobs))
        for run in schedule.runs:
            spot = spot_run(pool, run, result.workload, walk)
            on_demand += pool.on_demand_usd_per_hour * spot.on_demand_hours
            other += spot.other_zones_usd
            change += pool.usd_per_hour * (spot.spot_hours - spot.held_hours)
            unavailable += (1.0 - pool.availability) * pool.usd_per_hour * spot.held_hours
    return ExpectedCost(held_usd=result.total_usd,
                        expected_usd=result.total_usd + change + other + on_demand,
                        on_demand_usd=on_demand,
                        spot_always_there_usd=result.total_usd - unavailable,
                        other_zones_usd=other)


def falls_back_on_demand(workload: Workload, jobs: Iterable[str]) -> bool:
    """Whether a spot pool serving ``jobs`` may fall back on demand: every one of them allows
    it, and so does ``cloud.markets``."""
    names = set(jobs)
    cloud = workload.cloud
    return all("on_demand" in job.allowed_kinds() for job in workload.jobs
               if job.name in names) and (cloud is None or "on_demand" in cloud.markets)


def make_up_walk(pool: CloudPool, zone_usd_per_hour: dict[str, float],
                 on_demand: bool) -> MakeUp:
    """Where a short spot-hour of ``pool`` runs (step 3 of the module's docstring): the
    region's other zones (zone ID -> spot USD per instance-hour; the pool's own zone is
    skipped), each up with the pool's availability, cheapest first; then on demand, where
    ``on_demand`` allows it."""
    others = sorted(usd for zone, usd in zone_usd_per_hour.items()
                    if pool.zone is not None and zone != pool.zone)
    a, down = pool.availability, 1.0
    share = usd = 0.0
    for price in others:
        share += down * a
        usd += down * a * price
        down *= 1.0 - a
    return MakeUp(other_zones=share, other_zones_usd=usd, on_demand=down if on_demand else 0.0)


ON_DEMAND_ONLY = MakeUp(other_zones=0.0, other_zones_usd=0.0, on_demand=1.0)
"""The walk of a pool with no other zone, whose jobs may all run on demand."""


def preemptions_per_spot_hour(pool: CloudPool) -> float:
    """Preemptions a running spot instance of the pool sees per hour: its trace's, else at
    least the public traces' median (``DEFAULT_PREEMPTIONS_PER_SPOT_HOUR``)."""
    if pool.availability_source == "traces":
        return pool.interruptions_per_hour
    return max(pool.interruptions_per_hour, DEFAULT_PREEMPTIONS_PER_SPOT_HOUR)


def spot_run(pool: CloudPool, run: Run, workload: Workload,
             walk: MakeUp = ON_DEMAND_ONLY) -> SpotRun:
    """A spot run's held hours, expected home-zone spot running hours and make-up (steps
    1-3 of the module's docstring); ``walk``: where a short spot-hour runs."""
    a, held = pool.availability, run.hours
    rate = preemptions_per_spot_hour(pool)
    restart = workload.cloud.spot_restart_minutes if workload.cloud else 0.0
    jobs = {j.name: j for j in workload.jobs}
    weight = planned = actual = 0.0
    for use in run.uses:
        gpu_hours = use.gpus * (use.end - use.start).total_seconds() / 3600
        checkpoint = jobs[use.job].checkpoint_minutes
        weight += gpu_hours
        planned += gpu_hours * spot_efficiency(pool.interruptions_per_hour, checkpoint, restart)
        actual += gpu_hours * spot_efficiency(rate, checkpoint, restart)
    if weight > 0:
        planned, actual = planned / weight, actual / weight
    else:
        planned = actual = 1.0
    work = a * run.work_hours * planned  # instance-hours of work without interruption
    setup = held - run.work_hours
    if actual <= 0:  # spot loses all it does: the work runs on demand
        return SpotRun(held, 0.0, work + setup)
    needed = work / actual + setup
    if not run.jobs or rate <= 0:
        return SpotRun(held, needed, 0.0)
    due = min(workload.job_window(jobs[name])[1] for name in run.jobs)
    slack = max(0.0, (due - run.end).total_seconds() / 3600)
    up_hours = 1.0 / rate
    down_hours = up_hours * (1.0 - a) / a
    spread = math.sqrt(2 * up_hours**2 * down_hours**2 / (up_hours + down_hours) ** 3
                       * (held + slack))
    short = min(needed, expected_shortfall(needed - a * (held + slack), spread))
    return SpotRun(held, needed - short * (1.0 - walk.waiting), short * walk.on_demand * actual,
                   short * walk.other_zones, short * walk.other_zones_usd)


def expected_shortfall(mean: float, spread: float) -> float:
    """``E[max(0, X)]`` for ``X`` normal with this mean and standard deviation."""
    if spread <= 0:
        return max(0.0, mean)
    z = mean / spread
    return mean * 0.5 * math.erfc(-z / math.sqrt(2)) \
        + spread * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
