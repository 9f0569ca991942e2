"""Where a launch goes next when spot capacity fails: the fallback chain, as data.

A spot launch first goes where AWS places it (no zone asked for; a rank of a multi-node
gang first goes to the zone of the gang's other instances) up to ``spot_attempts`` times;
then once in each availability zone of the region; then - only when every job the plan puts
on the pool allows on-demand - on demand. The chain is walked from the number of capacity
failures the ledger holds for the slot since its last successful launch, so a fallback
carries on from one run to the next instead of starting over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    """One try at launching a slot's instance: the market and, if asked for, the zone."""

    market: Literal["on_demand", "spot"]
    az: str | None = None

    def describe(self) -> str:
        where = f" in {self.az}" if self.az else ""
        return f"{self.market.replace('_', '-')}{where}"


def launch_chain(market: Literal["on_demand", "spot"], zones: list[str], spot_attempts: int,
                 on_demand_allowed: bool) -> list[LaunchTarget]:
    """Every target, in order, for a pool of ``market`` in a region with ``zones``."""
    if market == "on_demand":
        return [LaunchTarget("on_demand")]
    chain = [LaunchTarget("spot")] * max(1, spot_attempts)
    chain += [LaunchTarget("spot", az) for az in sorted(zones)]
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
    of failures still walks the same chain."""
    if zone is None or not targets or targets[0].az is not None:
        return targets
    return [LaunchTarget(targets[0].market, zone), *targets[1:]]
