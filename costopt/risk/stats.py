"""The statistics of a sweep: pure, scenario results in, figures out.

- **Quantiles** are empirical (numpy's ``inverted_cdf``): the P90 of ``n`` costs is the
  smallest cost that at least 90 % of the scenarios stay at or under - always one of the
  costs a scenario had, so a case worked by hand reads straight off its list. P10, P50
  (the median), P90 and the maximum of the realised cost are given.
- A job's **miss probability** is the share of scenarios in which it did not finish by its
  deadline (finished late, or not by the horizon's end). Its **P90 finish** is the P90 of
  its finishing times, a scenario where it never finished counting as later than any; when
  more than 10 % never finished it is ``None`` (not finished).
- **Which pools drive the tail**: the tail is the scenarios whose cost is at least the P90;
  a pool's part in it is its mean cost over the tail less its mean cost over all scenarios
  (USD), and its share of the tail's excess (that difference over the total's). The pools'
  capacity is compared the same way (mean availability in the tail and overall).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from costopt.risk.scenario import ScenarioResult

QUANTILES = (("p10", 0.10), ("p50", 0.50), ("p90", 0.90))


def _rank(q: float, n: int) -> int:
    """Index, in ``n`` sorted values, of the smallest that at least ``q`` of them are at or
    under."""
    return max(0, math.ceil(q * n - 1e-9) - 1)


def quantile(values: Sequence[float], q: float) -> float:
    """The smallest value that at least ``q`` of ``values`` are at or under."""
    return sorted(values)[_rank(q, len(values))]


@dataclass(frozen=True)
class CostSpread:
    """Realised cost over the scenarios (USD of the horizon's variable cost)."""

    p10_usd: float
    p50_usd: float
    p90_usd: float
    max_usd: float
    mean_usd: float


@dataclass(frozen=True)
class JobRisk:
    """A job over the scenarios: ``miss_probability`` in [0, 1]; ``p50_finish`` and
    ``p90_finish`` ``None`` when that share of scenarios did not see it finish."""

    job: str
    deadline: datetime
    miss_probability: float
    p50_finish: datetime | None
    p90_finish: datetime | None


@dataclass(frozen=True)
class PoolTail:
    """A pool's part in the tail: mean cost (USD) over all scenarios and over the tail, the
    difference, its share of the tail's excess, and its mean availability in both (``None``
    for a pool without a trace: on-demand, owned or untraced)."""

    pool: str
    mean_usd: float
    tail_mean_usd: float
    excess_usd: float
    excess_share: float
    mean_availability: float | None
    tail_availability: float | None


@dataclass(frozen=True)
class RiskSummary:
    scenarios: int
    cost: CostSpread
    jobs: tuple[JobRisk, ...]
    tail: tuple[PoolTail, ...]
    tail_scenarios: int


def _finish_quantile(finishes: list[datetime | None], q: float) -> datetime | None:
    """``None`` (never finished) sorts after any time."""
    done = sorted(f for f in finishes if f is not None)
    k = _rank(q, len(finishes))
    return done[k] if k < len(done) else None


def summarise(results: Sequence[ScenarioResult]) -> RiskSummary:
    """The figures of a sweep (at least one scenario)."""
    costs = [r.realised_usd for r in results]
    p90 = quantile(costs, 0.90)
    spread = CostSpread(*(quantile(costs, q) for _n, q in QUANTILES), max(costs),
                        float(np.mean(costs)))
    names = [j.job for j in results[0].jobs]
    jobs = []
    for i, name in enumerate(names):
        outcomes = [r.jobs[i] for r in results]
        finishes = [o.finished_at for o in outcomes]
        jobs.append(JobRisk(
            job=name, deadline=outcomes[0].deadline,
            miss_probability=sum(1 for o in outcomes if not o.met_deadline) / len(outcomes),
            p50_finish=_finish_quantile(finishes, 0.5),
            p90_finish=_finish_quantile(finishes, 0.9)))
    tail = [r for r in results if r.realised_usd >= p90]
    return RiskSummary(scenarios=len(results), cost=spread, jobs=tuple(jobs),
                       tail=_tail(results, tail), tail_scenarios=len(tail))


def _mean(rows: Sequence[dict[str, float]], key: str) -> float | None:
    values = [row[key] for row in rows if key in row]
    return float(np.mean(values)) if values else None


def _tail(results: Sequence[ScenarioResult], tail: Sequence[ScenarioResult]) -> tuple[
        PoolTail, ...]:
    usd = [dict(r.pool_usd) for r in results]
    tail_usd = [dict(r.pool_usd) for r in tail]
    up = [dict(r.availability) for r in results]
    tail_up = [dict(r.availability) for r in tail]
    pools = sorted({p for row in usd for p in row} | {p for row in up for p in row})
    mean = {p: sum(row.get(p, 0.0) for row in usd) / len(usd) for p in pools}
    tail_mean = {p: sum(row.get(p, 0.0) for row in tail_usd) / len(tail_usd) for p in pools}
    excess = sum(tail_mean.values()) - sum(mean.values())
    rows = [PoolTail(pool=p, mean_usd=mean[p], tail_mean_usd=tail_mean[p],
                     excess_usd=tail_mean[p] - mean[p],
                     excess_share=(tail_mean[p] - mean[p]) / excess if excess > 1e-9 else 0.0,
                     mean_availability=_mean(up, p), tail_availability=_mean(tail_up, p))
            for p in pools]
    return tuple(sorted(rows, key=lambda t: (-t.excess_usd, t.pool)))
