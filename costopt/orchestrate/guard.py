"""The budget guard: refuse a launch that would take the month's projected cloud spend past
the monthly budget.

Projected spend for the calendar month (UTC) of ``at`` = cloud spend so far this month (the
ledger's runtimes of the workload's plans, at the price in force, and what AWS shows of the
instances carrying the workload's name that the ledger does not know:
:func:`unrecorded_spend_usd`) + what the instances kept running will cost until their slots
end or the month does + the same for every launch and start already accepted in this run +
the one being judged. What is still to come is counted at :func:`guarded_price`: a spot
instance at its ``MaxPrice``, the most AWS may charge for it, not at the price the plan
expects. So the projection is a bound on the worst case, not a forecast: with the default
bid (the on-demand price) the example month's one spot instance counts 8,603.92 USD where
the plan expects 982.90. A refusal says how much of the projection is that margin, and that
a lower bid (``cloud.spot_max_price_ratio``) tightens it. Owned servers are not counted: a
launch does not change what they cost. Pure: every figure is passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from costopt.core.months import Month
from costopt.core.times import ts
from costopt.orchestrate.reconcile import LIVE, FleetAction, ObservedInstance, instance_price
from costopt.planfile import FleetPool


def slot_hours(pool: FleetPool, slot: int, start: datetime, end: datetime) -> float:
    """Instance-hours slot ``slot`` of ``pool`` is scheduled for inside ``[start, end)``."""
    seconds = sum(max(0.0, (min(s.end, end) - max(s.start, start)).total_seconds())
                  for s in pool.slots if s.slot == slot)
    return seconds / 3600


SHOWN_USD = 0.005
"""The least bid margin (USD) a refusal names: less rounds to 0.00 in its message."""


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
    action_bid_margin_usd: float = 0.0  # of action_usd: spot at its bid above the plan's price
    bid_margin_usd: float = 0.0  # of projected_usd: the same for the fleet and this instance

    def message(self, action: FleetAction) -> str:
        return (f"{action.kind} of {action.pool} slot {action.slot} refused: it would take "
                f"the projected spend for {self.month} to {self.projected_usd:,.2f} USD, past the "
                f"monthly budget of {self.budget_usd:,.2f} USD (spent {self.spent_usd:,.2f} so "
                f"far + {self.committed_usd:,.2f} for the fleet until its slots or the month "
                f"end + {self.action_usd:,.2f} for this instance){self._bound()}. To fix: raise "
                f"monthly_budget_usd, pass --monthly-budget{self._lower_bid()}, or "
                "--allow-over-budget")

    def _bound(self) -> str:
        if self.bid_margin_usd < SHOWN_USD:
            return ""
        return (f"; spot to come is counted at its MaxPrice bid, the most AWS may charge, so "
                f"this is a bound on the worst case: {self.bid_margin_usd:,.2f} USD of it is "
                "the bids above the plan's spot prices")

    def _lower_bid(self) -> str:
        return ", lower cloud.spot_max_price_ratio and plan again (a tighter bound)" \
            if self.bid_margin_usd >= SHOWN_USD else ""


def guarded_price(pool: FleetPool, market: str) -> float:
    """USD per instance-hour the guard counts for an instance of ``pool`` to come: on spot,
    its ``MaxPrice`` bid when the plan sets one (AWS may charge up to it), else the plan's
    price."""
    if market == "spot" and pool.spot_max_price_usd is not None:
        return max(pool.spot_max_price_usd, instance_price(pool, market))
    return instance_price(pool, market)


def unrecorded_spend_usd(observed: Iterable[ObservedInstance], known: Collection[str],
                         pools: dict[str, FleetPool], start: datetime, at: datetime) -> float:
    """USD spent in ``[start, at)`` by the instances AWS shows carrying the workload's name
    that the ledger does not know (a ledger moved away or lost, another ledger's): each from
    its ``LaunchTime`` (or ``start``) until ``at`` while it runs, or until AWS says it
    stopped, at :func:`guarded_price` of its pool in ``pools`` (others have no price at
    hand: not counted). A lower bound: AWS shows an instance ended only for about an hour,
    and its ``LaunchTime`` is its last start."""
    total = 0.0
    for o in observed:
        if o.instance_id in known or o.pool not in pools:
            continue
        if o.state in LIVE:
            end = at
        elif o.changed_at is not None:
            end = min(o.changed_at, at)
        else:
            continue
        hours = max(0.0, (end - max(o.launched_at, start)).total_seconds() / 3600)
        total += hours * guarded_price(pools[o.pool], o.market)
    return total


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
        costs = [self._cost(fleet[o.pool], k, o.market) for o, k in kept if o.pool in fleet]
        self.committed_usd = sum(usd for usd, _ in costs)
        self.committed_bid_margin_usd = sum(margin for _, margin in costs)

    def _cost(self, pool: FleetPool, slot: int, market: str) -> tuple[float, float]:
        """USD the slot costs until it or the month ends at :func:`guarded_price`, and the
        part of it above the plan's price (spot at its bid)."""
        hours = slot_hours(pool, slot, self.at, self.month_end)
        usd_per_hour = guarded_price(pool, market)
        return hours * usd_per_hour, hours * (usd_per_hour - instance_price(pool, market))

    def judge(self, action: FleetAction) -> Verdict:
        """Accept (and commit) or refuse one launch or start."""
        pool = self.fleet[action.pool]
        cost, margin = self._cost(pool, action.slot or 0, action.market)
        if action.replaces is not None:  # a swap: the instance it replaces (kept, so
            # committed) ends once this one runs
            gone, gone_margin = self._cost(pool, action.slot or 0, action.replaces.market)
            cost, margin = cost - gone, margin - gone_margin
        projected = self.spent_usd + self.committed_usd + cost
        allowed = projected <= self.budget_usd + 1e-9
        verdict = Verdict(allowed, cost, projected, self.budget_usd, self.spent_usd,
                          self.committed_usd, Month.of(self.at).label, margin,
                          self.committed_bid_margin_usd + margin)
        if allowed:
            self.committed_usd += cost
            self.committed_bid_margin_usd += margin
        return verdict

    def withdraw(self, verdict: Verdict) -> None:
        """Take back an accepted verdict (its launch failed, or goes elsewhere at another
        price)."""
        if verdict.allowed:
            self.committed_usd -= verdict.action_usd
            self.committed_bid_margin_usd -= verdict.action_bid_margin_usd


CLOCK_TOLERANCE = timedelta(minutes=5)
"""How far ``--at`` may be from the real clock for a run that changes AWS."""
FAKE_CLOCK_VARIABLE = "COSTOPT_FAKE_CLOCK"
"""Set to 1 where AWS is a stand-in (moto, a replay): ``--at`` is then carried out at any
time. Against a real account it would let the guard judge spend at a time that is not now."""


def far_clock_refusal(at: datetime, now: datetime, fake_clock: bool) -> str | None:
    """Why a run that changes AWS may not reconcile for ``at`` when the real clock says
    ``now`` (None when it may): instances launch *now* whatever ``at`` says, so the budget
    guard judges spend and the month at the real moment; ``at`` is for dry runs."""
    if fake_clock or abs(at - now) <= CLOCK_TOLERANCE:
        return None
    hours = abs(at - now).total_seconds() / 3600
    return (f"--at {ts(at)} is {hours:,.2f} h {'after' if at > now else 'before'} the real "
            f"clock ({ts(now)}) and --yes would change AWS now: the budget guard would judge "
            "spend at another moment than the one money is spent in, and the plan's schedule "
            "would be carried out at the wrong time. Nothing was changed. To fix: leave --at "
            f"out with --yes (or keep it within {CLOCK_TOLERANCE.total_seconds() / 60:.0f} "
            "minutes of now); use --at for dry runs; only against a stand-in for AWS (moto) "
            f"set {FAKE_CLOCK_VARIABLE}=1")
