"""The budget guard: refuse a launch that would take the month's projected cloud spend past
the monthly budget.

Projected spend for the calendar month (UTC) of ``at`` = cloud spend so far this month (the
ledger's runtimes of the workload's plans, at the price in force) + what the instances kept
running will cost until their slots end or the month does + the same for every launch and
start already accepted in this run + the one being judged. Owned servers are not counted:
a launch does not change what they cost. Pure: every figure is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from costopt.months import Month
from costopt.orchestrate.reconcile import FleetAction, ObservedInstance, instance_price
from costopt.planfile import FleetPool


def slot_hours(pool: FleetPool, slot: int, start: datetime, end: datetime) -> float:
    """Instance-hours slot ``slot`` of ``pool`` is scheduled for inside ``[start, end)``."""
    seconds = sum(max(0.0, (min(s.end, end) - max(s.start, start)).total_seconds())
                  for s in pool.slots if s.slot == slot)
    return seconds / 3600


@dataclass(frozen=True)
class Verdict:
    """The guard's answer for one launch or start, with the figures (USD) behind it."""

    allowed: bool
    action_usd: float  # what this instance costs until its slot or the month ends
    projected_usd: float  # the month's projected spend with it
    budget_usd: float
    spent_usd: float
    committed_usd: float  # running and accepted instances until slot or month end
    month: str  # YYYY-MM

    def message(self, action: FleetAction) -> str:
        return (f"{action.kind} of {action.pool} slot {action.slot} refused: it would take "
                f"the projected spend for {self.month} to {self.projected_usd:,.2f} USD, past the "
                f"monthly budget of {self.budget_usd:,.2f} USD (spent {self.spent_usd:,.2f} so "
                f"far + {self.committed_usd:,.2f} for the fleet until its slots or the month "
                f"end + {self.action_usd:,.2f} for this instance). To fix: raise "
                "monthly_budget_usd, pass --monthly-budget, or --allow-over-budget")


class BudgetGuard:
    """Judges launches and starts in order; each accepted one adds to what is committed."""

    def __init__(self, *, budget_usd: float, spent_usd: float, at: datetime,
                 fleet: dict[str, FleetPool],
                 kept: Iterable[tuple[ObservedInstance, int]]) -> None:
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        self.at = at
        self.month_end = Month.of(at).end
        self.fleet = fleet
        self.committed_usd = sum(self._cost(fleet[o.pool], k, o.market) for o, k in kept
                                 if o.pool in fleet)

    def _cost(self, pool: FleetPool, slot: int, market: str) -> float:
        return slot_hours(pool, slot, self.at, self.month_end) * instance_price(pool, market)

    def judge(self, action: FleetAction) -> Verdict:
        """Accept (and commit) or refuse one launch or start."""
        cost = self._cost(self.fleet[action.pool], action.slot or 0, action.market)
        projected = self.spent_usd + self.committed_usd + cost
        allowed = projected <= self.budget_usd + 1e-9
        verdict = Verdict(allowed, cost, projected, self.budget_usd, self.spent_usd,
                          self.committed_usd, Month.of(self.at).label)
        if allowed:
            self.committed_usd += cost
        return verdict

    def withdraw(self, verdict: Verdict) -> None:
        """Take back an accepted verdict (its launch failed, or goes elsewhere at another
        price)."""
        if verdict.allowed:
            self.committed_usd -= verdict.action_usd
