"""What binds: which limits the optimum runs into, and why a job falls short.

Read from a solved model's row activities and column values: owned capacity full, quotas
and ``max_instances`` at their limit, the budget spent, jobs running up to their deadline.
Pure: arrays in, plain records out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costopt.plan.model import LinearProgram, period_label
from costopt.plan.pools import CloudPool, Eligible, OwnedPool, Pools
from costopt.workload import Workload

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
    limits: list[Limit] = []
    quota_periods: dict[int, list[str]] = {}
    for r, fam in enumerate(lp.row_family):
        if fam == "quota" and _at_upper(lp, act, r):
            q, t = lp.row_key[r]
            quota_periods.setdefault(q, []).append(period_label(w, t))
    for q, periods in sorted(quota_periods.items()):
        quota = w.cloud.quotas[q]  # type: ignore[union-attr]
        limits.append(Limit("quota", f"{quota.region} {quota.market} {quota.family}",
                            tuple(periods), f"{quota.vcpus} vCPUs"))
    capped: dict[int, list[str]] = {}
    for (p, t), col in lp.u.items():
        ub = lp.col_upper[col]
        if np.isfinite(ub) and x[col] >= ub - TOL * max(1.0, ub):
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


def _on_deadline(w: Workload, lp: LinearProgram, x: np.ndarray) -> tuple[str, ...]:
    """Jobs that still run in the last period of their window: no slack left."""
    last_used: dict[int, int] = {}
    for (j, _p, t), col in lp.h.items():
        if x[col] > TOL:
            last_used[j] = max(last_used.get(j, -1), t)
    return tuple(job.name for j, job in enumerate(w.jobs)
                 if w.job_periods(job) and last_used.get(j) == w.job_periods(job)[-1])


def window_limit(w: Workload, j: int, pairs: list[Eligible]) -> float:
    """The most reference GPU-hours job ``j`` could do in its window with all its gangs on
    its fastest pool: ``parallel * nodes * gpus * best(s*e) * window hours``."""
    job = w.jobs[j]
    best = max((e.work_per_gpu_hour for e in pairs if e.job == j), default=0.0)
    return job.most_gpus * best * w.job_hours(job)


def window_impossibilities(w: Workload, pairs: list[Eligible]) -> dict[int, str]:
    """Jobs whose work cannot fit their window even alone on the fastest pool, explained."""
    out = {}
    for j, job in enumerate(w.jobs):
        most = window_limit(w, j, pairs)
        if most + TOL < job.gpu_hours:
            hours = w.job_hours(job)
            best = most / (job.most_gpus * hours) if hours else 0.0
            out[j] = (
                f"deadline window: {job.shape} x {hours} h x best speed {best:.3g} "
                f"= {most:.1f} reference GPU-hours at most, {job.gpu_hours:g} needed. "
                "To fix: a later deadline, a larger gang or more parallel gangs, faster "
                "GPUs, or less work"
            )
    return out


def shortfall_reason(w: Workload, j: int, pools: Pools, pairs: list[Eligible],
                     lp: LinearProgram, x: np.ndarray, binding: Binding) -> str:
    """Why job ``j`` falls short in the elastic solution: the limits its options run into."""
    window = window_impossibilities(w, pairs).get(j)
    if window:
        return window
    job = w.jobs[j]
    act = lp.activity(x)
    mine = {e.pool for e in pairs if e.job == j}
    periods = set(w.job_periods(job))
    reasons: list[str] = []
    gang_full = [r for r, fam in enumerate(lp.row_family)
                 if fam == "gang" and lp.row_key[r][0] == j and _at_upper(lp, act, r)]
    if len(gang_full) == len(periods):
        reasons.append(f"deadline window: runs at its full {job.shape} in all "
                       f"{len(periods)} periods of its window")
    for r, fam in enumerate(lp.row_family):
        if fam == "capacity":
            p, t = lp.row_key[r]
            if p in mine and t in periods and _at_upper(lp, act, r):
                reasons.append(f"owned capacity: {pools.all[p].id} full")
                break
    for limit in binding.limits:
        if limit.kind == "budget":
            reasons.append(f"budget: variable cost at budget_usd = {limit.detail}")
        elif limit.kind == "max_instances" and any(
                pools.all[p].id == limit.name for p in mine):
            reasons.append(f"availability: {limit.name} at {limit.detail}")
        elif limit.kind == "quota" and any(
                isinstance(pools.all[p], CloudPool) and _quota_covers(limit.name, pools.all[p])
                for p in mine):
            reasons.append(f"quota: {limit.name} at {limit.detail}")
    if not reasons:
        reasons.append("the limits on its pools leave no room for it")
    rows = _full_rows_of_job(lp, act, j)
    named = ", ".join(lp.row_name(r) for r in rows[:SHOWN_ROWS])
    more = f" and {len(rows) - SHOWN_ROWS} more" if len(rows) > SHOWN_ROWS else ""
    at_limit = f" (rows at their limit: {named}{more})" if rows else ""
    return "; ".join(dict.fromkeys(reasons)) + at_limit + ". To fix: raise the limit " \
        "named, move the deadline, or allow more pools"


SHOWN_ROWS = 3
"""Rows at their limit named in a shortfall's reason (the rest are counted)."""


def _full_rows_of_job(lp: LinearProgram, act: np.ndarray, j: int) -> list[int]:
    """Rows holding job ``j``'s GPU-hours that are at their upper limit, by name."""
    cols = [c for (job, _p, _t), c in lp.h.items() if job == j]
    rows = np.unique(lp.a_row[np.isin(lp.a_col, cols)])
    full = [int(r) for r in rows if lp.row_family[r] != "work" and _at_upper(lp, act, int(r))]
    return sorted(full, key=lp.row_name)


def _quota_covers(name: str, pool: CloudPool) -> bool:
    return name == f"{pool.region} {pool.market} {pool.quota_family}"
