"""The plan's cost under spot availability, and what it would cost were spot always there.

The model derates spot work per instance-hour by the pool's availability ``a``
(``pools.py``): a spot pool holds ``u`` instance-hours for work that, with spot there all the
time, would take ``a · u``. The plan's cost pays every held hour - the expected cost under
that availability: the hours spot is gone are made up at least at the spot price (the job
waits, or runs on the capacity its deadline reserve keeps). With spot always there the same
work costs ``a`` times the spot part: ``total - sum over spot pool-periods (1 - a) · cost``.
Pure: a solved plan in, USD out.
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
