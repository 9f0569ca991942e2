"""Where a launch goes next when spot capacity fails: the fallback chain, as data.

A spot pool of one zone (plan v2, ``aws:REGION:TYPE:spot:ZONE_ID``) launches in its zone up
to ``spot_attempts`` times; then once in each other zone of the region with a price, the
cheapest first, at that zone's price. A regional spot pool (a v1 plan, or a price file
without zone prices) first goes where AWS places it (no zone asked for) up to
``spot_attempts`` times; then once in each availability zone of the region. A rank of a
multi-node gang first goes to the zone of the gang's other instances. Then - only when
every job the plan puts on the pool allows on-demand - on demand. The chain is walked from
the number of capacity failures the ledger holds for the slot since its last successful
launch, so a fallback carries on from one run to the next instead of starting over.

A launch whose zones a policy chose (``FleetAction.zones``, the controller's zone rule in
:mod:`costopt.orchestrate.markets`) walks its chain from the start at every run instead: its
home zone only (``home``), or every zone then on-demand (``all``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from costopt.core.pool_ids import market_label

CAPACITY_ERRORS = frozenset({
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "SpotMaxPriceTooLow",
    "MaxSpotInstanceCountExceeded",
    "Unsupported",  # the type is not offered in the zone asked for
})
"""Error codes of ``RunInstances`` that say "no capacity here", not "your request is wrong"."""


@dataclass(frozen=True)
class LaunchTarget:
    """One try at launching a slot's instance: the market and, if asked for, the zone - by
    name (``az``, a regional pool's walk) or by ID (``zone_id``, at ``usd_per_hour``)."""

    market: Literal["on_demand", "spot"]
    az: str | None = None
    zone_id: str | None = None
    usd_per_hour: float | None = None  # the zone's spot price; None: the pool's price

    def describe(self) -> str:
        zone = self.az or self.zone_id
        where = f" in {zone}" if zone else ""
        return f"{market_label(self.market)}{where}"


def launch_chain(market: Literal["on_demand", "spot"], zones: list[str], spot_attempts: int,
                 on_demand_allowed: bool, *, home_zone: str | None = None,
                 zone_prices: dict[str, float] | None = None) -> list[LaunchTarget]:
    """Every target, in order, for a pool of ``market`` in a region with ``zones`` (names);
    a spot pool of ``home_zone`` (an ID) walks the region's ``zone_prices`` instead (zone
    ID -> USD per instance-hour)."""
    if market == "on_demand":
        return [LaunchTarget("on_demand")]
    if home_zone is None:
        chain = [LaunchTarget("spot")] * max(1, spot_attempts)
        chain += [LaunchTarget("spot", az) for az in sorted(zones)]
    else:
        prices = zone_prices or {}
        chain = [LaunchTarget("spot", zone_id=home_zone, usd_per_hour=prices.get(home_zone))]
        chain *= max(1, spot_attempts)
        chain += [LaunchTarget("spot", zone_id=z, usd_per_hour=usd)
                  for z, usd in sorted(prices.items(), key=lambda kv: (kv[1], kv[0]))
                  if z != home_zone]
    if on_demand_allowed:
        chain.append(LaunchTarget("on_demand"))
    return chain


def remaining_chain(chain: list[LaunchTarget], failures: int) -> list[LaunchTarget]:
    """What is left to try after ``failures`` capacity failures. A chain that ends on spot
    (on-demand not allowed) starts over: spot capacity comes back."""
    if failures < len(chain):
        return chain[failures:]
    if chain[-1].market == "on_demand":
        return chain[-1:]
    return chain[failures % len(chain):]


def gang_zone_first(targets: list[LaunchTarget], zone: str | None) -> list[LaunchTarget]:
    """``targets`` with a first step that lets AWS choose the zone sent to ``zone``, where
    the other instances of a multi-node gang run (its ranks talk all the time: one zone is
    faster and free of cross-zone traffic). Replaced, not added, so that the ledger's count
    of failures still walks the same chain. A pool of one zone (v2) keeps its chain: its
    gang's instances all start in that zone."""
    if zone is None or not targets or targets[0].az is not None or targets[0].zone_id:
        return targets
    return [LaunchTarget(targets[0].market, zone), *targets[1:]]
