"""What binds: which limits the optimum runs into, and why a job falls short.

Read from a solved model's row activities and column values: owned capacity full, quotas
and ``max_instances`` at their limit, the budget spent, jobs running up to their deadline.
Pure: arrays in, plain records out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from costopt.plan.model import (
    LinearProgram,
    apart_from,
    first_periods,
    instances_at_once,
    period_hours,
    period_label,
)
from costopt.plan.pools import CloudPool, Eligible, OwnedPool, Pools
from costopt.workload import Workload, gang_shape

TOL = 1e-6


@dataclass(frozen=True)
class OwnedUse:
    """How full an owned pool is over the horizon (blocking included)."""

    pool: str
    used_gpu_hours: float
    capacity_gpu_hours: float
    full_periods: int

    @property
    def used_pct(self) -> float:
        if not self.capacity_gpu_hours:
            return 0.0
        return 100.0 * self.used_gpu_hours / self.capacity_gpu_hours


@dataclass(frozen=True)
class Limit:
    """A limit at its bound in some periods: a quota, a ``max_instances`` cap, the budget."""

    kind: str  # "quota", "max_instances", "budget", "gang"
    name: str
    periods: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class Binding:
    owned: tuple[OwnedUse, ...]
    limits: tuple[Limit, ...]
    on_deadline: tuple[str, ...]  # jobs that run in the last period of their window


def _at_upper(lp: LinearProgram, activity: np.ndarray, r: int) -> bool:
    hi = lp.row_upper[r]
    return bool(np.isfinite(hi)) and activity[r] >= hi - TOL * max(1.0, abs(hi))


def analyse(w: Workload, pools: Pools, lp: LinearProgram, x: np.ndarray) -> Binding:
    """The binding limits of a solution ``x`` of ``lp``."""
    act = lp.activity(x)
    lengths = w.horizon.period_lengths
    units = {p: round(float(x[col])) for p, col in lp.n.items()}  # candidates bought
    used: dict[int, float] = {}
    full: dict[int, int] = {}
    for r, fam in enumerate(lp.row_family):
        if fam == "capacity":
            p, t = lp.row_key[r]
            pool = pools.all[p]
            assert isinstance(pool, OwnedPool)
            cap = pool.capacity_gpu_hours(lengths[t]) * units.get(p, 1)
            load = act[r] + (cap if p in units else 0.0)  # a candidate's row is load - cap*n
            used[p] = used.get(p, 0.0) + load
            full[p] = full.get(p, 0) + int(cap > 0 and load >= cap - TOL * max(1.0, cap))
    owned_uses = [
        OwnedUse(pool.id, float(used.get(p, 0.0)),
                 pool.capacity_gpu_hours(w.horizon.hours) * units.get(p, 1),
                 full.get(p, 0))
        for p, pool in enumerate(pools.all)
        if isinstance(pool, OwnedPool) and (pool.buy_max is None or units.get(p))
    ]
    limits = concurrency_limits(w, pools, lp, x)
    hours = period_hours(w)
    capped: dict[int, list[str]] = {}
    for (p, t), col in lp.u.items():
        ub = lp.col_upper[col]
        own = pools.all[p].max_instances  # type: ignore[union-attr]
        if own is not None and ub == own * hours[t] and x[col] >= ub - TOL * max(1.0, ub):
            capped.setdefault(p, []).append(period_label(w, t))
    for p, periods in sorted(capped.items()):
        pool = pools.all[p]
        assert isinstance(pool, CloudPool)
        limits.append(Limit("max_instances", pool.id, tuple(periods),
                            f"{pool.max_instances} instance(s) at once"))
    for r, fam in enumerate(lp.row_family):
        if fam == "budget" and _at_upper(lp, act, r):
            limits.append(Limit("budget", "budget_usd", (), f"{lp.row_upper[r]:.2f} USD"))
    return Binding(tuple(owned_uses), tuple(limits), _on_deadline(w, lp, x))


def concurrency_limits(w: Workload, pools: Pools, lp: LinearProgram,
                       x: np.ndarray) -> list[Limit]:
    """Quotas and zone-spanning caps with no room for one more instance in some period,
    each with its peak (what runs at once at most, in the limit's unit). Counted per run of
    identical periods, as the fleet runs them (``model.instances_at_once``): every period of
    a full run is full."""
    at_once = instances_at_once(w, lp, x)
    first = first_periods(lp.runs)
    index = {pool.id: i for i, pool in enumerate(pools.all)}
    out = []
    for limit in pools.limits:
        members = {index[pid]: weight for pid, weight in limit.members if pid in index}
        if not members:
            continue
        load: dict[int, float] = {}
        for (p, t), count in at_once.items():
            if p in members:
                load[t] = load.get(t, 0.0) + members[p] * count
        peak = max(load.values(), default=0.0)
        if peak <= 0:
            continue
        smallest = min(members.values())
        full = [period_label(w, t) for t in range(len(first))
                if load.get(int(first[t]), 0.0) + smallest > limit.bound + TOL]
        if full:
            out.append(Limit(limit.kind, limit.name, tuple(full),
                             f"{limit.bound:g} {limit.unit} (peak {peak:g} {limit.unit} at once)"))
    return out


def _on_deadline(w: Workload, lp: LinearProgram, x: np.ndarray) -> tuple[str, ...]:
    """Jobs that still run in the last period of their window: no slack left."""
    last_used: dict[int, int] = {}
    for (j, _p, t), col in lp.h.items():
        if x[col] > TOL:
            last_used[j] = max(last_used.get(j, -1), t)
    return tuple(job.name for j, job in enumerate(w.jobs)
                 if w.job_periods(job) and last_used.get(j) == w.job_periods(job)[-1])


def _best_rates(pairs: list[Eligible]) -> dict[int, float]:
    """Job -> its best reference GPU-hours per GPU-hour (``s*e``) over its pools: one pass."""
    best: dict[int, float] = {}
    for e in pairs:
        best[e.job] = max(best.get(e.job, 0.0), e.work_per_gpu_hour)
    return best


def window_impossibilities(w: Workload, pairs: list[Eligible]) -> dict[int, str]:
    """Jobs whose work cannot fit their window even alone on the fastest pool, explained:
    ``parallel * nodes * gpus * best(s*e) * window hours`` reference GPU-hours at most."""
    out = {}
    best_rate = _best_rates(pairs)
    for j, job in enumerate(w.jobs):
        hours = w.job_hours(job)
        most = job.most_gpus * best_rate.get(j, 0.0) * hours
        if most + TOL < job.gpu_hours:
            best = most / (job.most_gpus * hours) if hours else 0.0
            out[j] = (
                f"deadline window: {job.shape} x {hours} h x best speed {best:.3g} "
                f"= {most:.1f} reference GPU-hours at most, {job.gpu_hours:g} needed. "
                "To fix: a later deadline, a larger gang or more parallel gangs, faster "
                "GPUs, or less work"
            )
    return out


def shortfall_reasons(w: Workload, short: Collection[int], pools: Pools,
                      pairs: list[Eligible], lp: LinearProgram, x: np.ndarray,
                      binding: Binding) -> dict[int, str]:
    """Why each job of ``short`` falls short in the elastic solution: the limits its options
    run into. What every job shares (row activities, full rows, each job's pools and
    columns) is worked out once, in passes over the model, not once per job."""
    if not short:
        return {}
    windows = window_impossibilities(w, pairs)
    act = lp.activity(x)
    bounded = np.flatnonzero(np.isfinite(lp.row_upper))
    upper = lp.row_upper[bounded]
    full = np.zeros(lp.num_rows, dtype=bool)
    full[bounded] = act[bounded] >= upper - TOL * np.maximum(1.0, np.abs(upper))
    pools_of: dict[int, set[int]] = {}
    for e in pairs:
        pools_of.setdefault(e.job, set()).add(e.pool)
    gang_full: dict[int, int] = {}
    full_capacity: dict[int, set[int]] = {}  # pool -> periods its owned capacity is full
    for r in np.flatnonzero(full):
        fam, key = lp.row_family[r], lp.row_key[r]
        if fam == "gang":
            gang_full[key[0]] = gang_full.get(key[0], 0) + 1
        elif fam == "capacity":
            full_capacity.setdefault(key[0], set()).add(key[1])
    rows_of = _full_rows_by_job(lp, full, set(short))
    return {j: windows.get(j) or _reason(w, j, pools, pools_of.get(j, set()), gang_full,
                                         full_capacity, rows_of.get(j, []), lp, binding)
            for j in short}


def _reason(w: Workload, j: int, pools: Pools, mine: set[int], gang_full: dict[int, int],
            full_capacity: dict[int, set[int]], rows: list[int], lp: LinearProgram,
            binding: Binding) -> str:
    """One short job's reason, from the passes of :func:`shortfall_reasons`."""
    job = w.jobs[j]
    periods = set(w.job_periods(job))
    reasons: list[str] = []
    if gang_full.get(j, 0) == len(periods):
        reasons.append(f"deadline window: runs at its full {job.shape} in all "
                       f"{len(periods)} periods of its window")
    if w.cloud is not None and any(lp.row_family[r] == "cloud_gang" for r in rows):
        reasons.append(f"launch overhead: {w.cloud.setup_minutes:g} minutes of setup per "
                       "instance (cloud.setup_minutes) leave its gangs too little of its window "
                       "on cloud pools")
    for r in rows:
        if lp.row_family[r] == "layout":
            reasons.append(_apart(w, pools, *lp.row_key[r][:2]))
            break
    for r in rows:
        if lp.row_family[r] in ("beside", "beside_wide"):
            reasons.append(_beside(w, pools, *lp.row_key[r][:-1]))
            break
    for p in sorted(mine):
        if full_capacity.get(p, set()) & periods:
            reasons.append(f"owned capacity: {pools.all[p].id} full")
            break
    members = {lim.name: {pid for pid, _w in lim.members} for lim in pools.limits}
    mine_ids = {pools.all[p].id for p in mine}
    for limit in binding.limits:
        covers = limit.name in mine_ids or bool(members.get(limit.name, set()) & mine_ids)
        if limit.kind == "budget":
            reasons.append(f"budget: variable cost at budget_usd = {limit.detail}")
        elif limit.kind == "max_instances" and covers:
            reasons.append(f"availability: {limit.name} at {limit.detail}")
        elif limit.kind == "quota" and covers:
            reasons.append(f"quota: {limit.name} at {limit.detail}")
    if not reasons:
        reasons.append("the limits on its pools leave no room for it")
    rows = sorted(rows, key=lp.row_name)
    named = ", ".join(lp.row_name(r) for r in rows[:SHOWN_ROWS])
    more = f" and {len(rows) - SHOWN_ROWS} more" if len(rows) > SHOWN_ROWS else ""
    at_limit = f" (rows at their limit: {named}{more})" if rows else ""
    return "; ".join(dict.fromkeys(reasons)) + at_limit + ". To fix: raise the limit " \
        "named, move the deadline, or allow more pools"


def _apart(w: Workload, pools: Pools, k: int, p: int) -> str:
    """Why job ``k`` needs instance time of its own on pool ``p`` (a ``layout`` row)."""
    pool = pools.all[p]
    others = sorted(apart_from(w, pools, k, p) - {k})
    shown = ", ".join(f"{w.jobs[i].name} ({w.jobs[i].shape})" for i in others[:SHOWN_ROWS])
    more = f" and {len(others) - SHOWN_ROWS} more" if len(others) > SHOWN_ROWS else ""
    return (f"layout: on {pool.id} ({pool.gpus_per_node} GPUs per instance) "
            f"{w.jobs[k].name} ({w.jobs[k].shape}) never fits one instance at once beside "
            f"{shown}{more}, so each needs instance time of its own")


def _beside(w: Workload, pools: Pools, i: int, *rest: int) -> str:
    """Why sweep ``i`` and job ``k`` need more instance time on pool ``p`` than their
    GPU-hours (a ``beside`` row, ``rest = (k, p)``), or sweep ``i`` and the jobs wider than
    half the instance (a ``beside_wide`` row, ``rest = (p,)``)."""
    pool, sweep = pools.all[rest[-1]], w.jobs[i]
    at_once = min(sweep.parallel, pool.gpus_per_node // sweep.gpus)
    head = f"layout: on {pool.id} ({pool.gpus_per_node} GPUs per instance) {sweep.name} runs "
    if len(rest) == 1:
        return (head + f"none of its {at_once} gangs of {gang_shape(sweep.gpus)} while a job "
                "wider than half the instance runs there, so they need instance time of "
                "their own")
    other = w.jobs[rest[0]]
    beside = (pool.gpus_per_node - other.gpus) // sweep.gpus
    return (head + f"{beside} of its {at_once} gangs of {gang_shape(sweep.gpus)} at once "
            f"while {other.name} ({other.shape}) runs there, so the two need more instance "
            "time than their GPU-hours")


SHOWN_ROWS = 3
"""Rows at their limit named in a shortfall's reason (the rest are counted)."""


def _full_rows_by_job(lp: LinearProgram, full: np.ndarray, jobs: set[int]
                      ) -> dict[int, list[int]]:
    """Job -> the rows at their upper limit (other than its work row) that hold its
    GPU-hours, for the jobs of ``jobs``: one pass over the model's entries."""
    job_of_col = np.full(lp.num_cols, -1, dtype=np.int64)
    for (j, _p, _t), col in lp.h.items():
        if j in jobs:
            job_of_col[col] = j
    entry_job = job_of_col[lp.a_col]
    keep = (entry_job >= 0) & full[lp.a_row]
    found = np.unique(np.stack([entry_job[keep], lp.a_row[keep]]), axis=1)
    out: dict[int, list[int]] = {}
    for j, r in found.T.tolist():
        if lp.row_family[r] != "work":
            out.setdefault(j, []).append(r)
    return out
