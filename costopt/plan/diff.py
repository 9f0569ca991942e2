"""What changed from one plan to the next (``costopt diff OLD.json NEW.json``).

Pure: two plan documents (as their JSON) in, a :class:`PlanDiff` out. Like ``terraform
plan`` or an Infracost diff: the jobs that moved between pools, the pools that came and went,
and the cost by market with its change, in USD over the plan's horizon.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

MOVE_GPU_HOURS = 0.05
"""A job's GPU-hours on a pool must change by more than this to count as moved (solver noise
stays below it)."""


@dataclass(frozen=True)
class JobChange:
    """A job whose pools changed: GPU-hours per pool id, before and after (0 where absent)."""

    job: str
    before: dict[str, float]
    after: dict[str, float]

    @property
    def kind(self) -> str:
        """``added``, ``removed``, ``moved`` (to or from a pool) or ``changed`` (the same
        pools, other GPU-hours)."""
        if not self.before:
            return "added"
        if not self.after:
            return "removed"
        return "changed" if set(self.before) == set(self.after) else "moved"


@dataclass(frozen=True)
class PlanDiff:
    """The difference of two plans. USD figures are over each plan's horizon; ``by_market``
    maps a market (``owned``, ``on_demand``, ``spot``, ``fixed``) to (before, after)."""

    old_id: str
    new_id: str
    jobs: tuple[JobChange, ...]
    pools_added: tuple[str, ...]
    pools_removed: tuple[str, ...]
    by_market: dict[str, tuple[float, float]]
    total_usd: tuple[float, float]
    status: tuple[str, str]

    @property
    def unchanged(self) -> bool:
        return (not self.jobs and not self.pools_added and not self.pools_removed
                and abs(self.total_usd[1] - self.total_usd[0]) < 0.005
                and self.status[0] == self.status[1])

    @property
    def change_usd(self) -> float:
        return self.total_usd[1] - self.total_usd[0]


def _job_pools(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """job -> pool -> GPU-hours of the plan's assignments."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for a in doc.get("assignments", []):
        out[a["job"]][a["pool"]] += a["gpu_hours"]
    return {job: dict(pools) for job, pools in out.items()}


def _markets(doc: dict[str, Any]) -> dict[str, float]:
    cost = doc["cost"]
    return {**cost.get("by_market", {}), "fixed": cost.get("fixed_usd", 0.0)}


def diff_plans(old: dict[str, Any], new: dict[str, Any]) -> PlanDiff:
    """The difference from ``old`` to ``new`` (plan documents as JSON dicts)."""
    before, after = _job_pools(old), _job_pools(new)
    jobs = []
    for job in sorted(set(before) | set(after)):
        b, a = before.get(job, {}), after.get(job, {})
        if any(abs(b.get(p, 0.0) - a.get(p, 0.0)) > MOVE_GPU_HOURS for p in set(b) | set(a)):
            jobs.append(JobChange(job, b, a))
    old_pools = {p for pools in before.values() for p in pools}
    new_pools = {p for pools in after.values() for p in pools}
    m_old, m_new = _markets(old), _markets(new)
    return PlanDiff(
        old_id=old["plan_id"], new_id=new["plan_id"], jobs=tuple(jobs),
        pools_added=tuple(sorted(new_pools - old_pools)),
        pools_removed=tuple(sorted(old_pools - new_pools)),
        by_market={m: (m_old.get(m, 0.0), m_new.get(m, 0.0))
                   for m in [*m_old, *(k for k in m_new if k not in m_old)]},
        total_usd=(old["cost"]["total_usd"], new["cost"]["total_usd"]),
        status=(old["status"], new["status"]))
