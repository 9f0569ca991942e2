"""The plan's cost under spot availability, and what it would cost were spot always there.

The model derates spot work per instance-hour by the pool's availability ``a``
(``pools.py``): a spot pool holds ``u`` instance-hours for work that, with spot there all the
time, would take ``a · u``. The plan's cost pays every held hour. With spot always there the
same work costs ``a`` times the spot part: ``total - sum over spot pool-periods (1 - a) ·
cost``. Carried out, a held hour without spot is not paid (a job waits) or is paid
on-demand (a job that cannot wait), so the least the plan can be carried out for is the
spot-always-there figure (the example's hindsight on traces at the default availability:
815.16 USD variable against 816.97 here and 1,219.96 held; docs/model.md, "Expected
cost"). Pure: a solved plan in, USD out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from costopt.plan.planner import PlanResult


def spot_always_there_usd(result: PlanResult) -> float:
    """The plan's total (USD) were spot there whenever planned: its spot instance-hours
    doing their work in ``a`` of the time (``a`` each pool's availability)."""
    availability = {p.id: p.availability for p in result.pools.cloud if p.market == "spot"}
    saved = sum((1.0 - availability[ph.pool]) * ph.cost_usd for ph in result.pool_hours
                if ph.pool in availability)
    return result.total_usd - saved
