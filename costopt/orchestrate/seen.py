"""What the fleet has seen of each spot pool, and the availability a re-plan assumes for it
(issue 21): a pool the fleet ran in, was refused by or was interrupted in is estimated from
the ledger, shrunk toward the prior the first plan used; a pool never tried keeps the prior
- unless a zone of its instance type and region is seen failing: then the zones not seen
failing are credited optimistically, so that a re-plan can leave a failing home zone for
another zone's spot.

The estimate (pure: ledger facts in, figures out), for one pool:

- ``up_hours``: hours (of time, not instance-hours) at least one spot instance of the pool
  ran, from its runtimes;
- ``down_hours``: hours the pool was seen without capacity: from each refusal or
  interruption to the pool's next event (another refusal, or a spot instance starting),
  at most :data:`LOOKED_HOURS` after it (a pool nobody tried again counts nothing more);
- availability ``(prior * W + up) / (W + up + down)``, with ``W`` = :data:`PRIOR_HOURS`: as
  if ``W`` hours had been seen at the prior. A pool is *seen failing* when that is below its
  prior by more than :data:`NOISE` (5 %): it is planned at the estimate. A pool seen better
  than its prior keeps the prior;
- *a failing home*: in an instance type and region with a pool seen failing, every other
  zone's pool is estimated the same way but toward :data:`OPTIMISTIC_AVAILABILITY` (0.9),
  not the prior: a zone never tried counts at 0.9, one tried as it showed, shrunk to 0.9.

Why the optimism (measured on the example's synth-zones seeds, docs/orchestrator.md, "What
a re-plan assumes of each spot pool"): derated alone, a failing home zone stays the
cheapest per hour of work (seed 5: use1-az1's p4d at 2.51 USD/h and 0.39, 6.4 USD per hour
of work, against another zone's 7.64 at the prior 0.59, 12.9), and with one p4d spot
instance allowed in the region the work its derating leaves goes to on-demand (21.96): the
LP never buys the other zones, so their better availability (0.75-0.80 there) is never
seen. Credited optimistically, a zone the LP may need costs 7.64 / 0.9 = 8.5 per hour of
work; once tried, what it shows replaces the credit (optimism in the face of uncertainty,
as a bandit's upper confidence bound).

Measured too, and not kept: taking a pool seen better than its prior at its estimate
everywhere (seed 1 +2.6 %), and interruption rates estimated the same way (seed 5 +23 %:
the re-plans planned on-demand for the work a much-interrupted zone was derated out of).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from costopt.core.times import EPOCH
from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.ledger.store import Action, Interruption, Runtime
from costopt.plan.pools import CloudPool, build_pools
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import SpotAvailability, SpotInterruptionRate, Workload

PRIOR_HOURS = 24.0
"""Weight of the prior, in hours of time seen at it: a day of the fleet's own evidence
counts as much as the prior (public traces' outages last 0.2-0.8 h at the median, up to
days, facts.md; a day covers several up and down spells of a typical pool)."""

LOOKED_HOURS = 1.0
"""A refusal or interruption counts the pool down until its next event, at most this long
(hours): the controller's first hold, after which the pool is tried again if any plan
still wants it."""

NOISE = 0.05
"""An estimate within this share of its prior keeps the prior: one refusal (an hour down
against a day's prior) is no reason to trade a zone for another of the same price, and a
re-plan that moves a job's pool ends the instance running in the old one
(``tests/cli/test_deadline_e2e.py``)."""

OPTIMISTIC_AVAILABILITY = 0.90
"""What a zone not seen failing is credited with, where another zone of its instance type
and region is (a failing home): the top of the public traces' range (0.12-0.90, facts.md),
so that the LP tries it before on-demand; once tried, what it shows counts against it."""

SMALLEST_AVAILABILITY = 1e-3
"""The least availability estimated (the workload contract wants it above 0)."""


@dataclass(frozen=True)
class PoolSeen:
    """What the fleet saw of one spot pool: ``up_hours`` with spot running there and
    ``down_hours`` seen without capacity (hours of time)."""

    up_hours: float = 0.0
    down_hours: float = 0.0

    def availability(self, prior: float, weight_hours: float = PRIOR_HOURS) -> float:
        """Share of the time spot can be had, ``prior`` shrunk toward what was seen."""
        seen = (prior * weight_hours + self.up_hours) / (
            weight_hours + self.up_hours + self.down_hours)
        return max(SMALLEST_AVAILABILITY, min(1.0, seen))


def _hours(spans: Iterable[tuple[datetime, datetime]]) -> float:
    """Hours the union of ``spans`` covers."""
    total, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += (end - start).total_seconds() / 3600
            reach = end
    return total


def zone_pool(pool: str, az: str | None) -> str:
    """The id of the spot pool an instance of slot pool ``pool`` ran in, being in zone
    ``az``: a launch behind its line may walk to another zone of the region than its slot's
    (``aws:REGION:TYPE:spot:ZONE``); a regional pool or an unknown zone keeps ``pool``."""
    parts = pool.split(":")
    return ":".join(parts[:4] + [az]) if az and len(parts) == 5 else pool


def seen_pools(runtimes: Iterable[Runtime], interruptions: Iterable[Interruption],
               refusals: Iterable[Action], at: datetime, zones: Mapping[str, str | None],
               looked_hours: float = LOOKED_HOURS) -> dict[str, PoolSeen]:
    """What the fleet saw of each spot pool by ``at``: spot ``runtimes`` (others are left
    out) and ``interruptions``, each in its instance's zone (``zones``: instance id -> zone
    ID), and spot capacity ``refusals`` (failed launches or starts) in the pool they were
    met in (:func:`refused_pool`)."""
    looked = timedelta(hours=looked_hours)
    up: dict[str, list[tuple[datetime, datetime]]] = {}
    starts: dict[str, list[datetime]] = {}
    for r in runtimes:
        if r.market == "spot" and r.start < at:
            pool = zone_pool(r.pool, zones.get(r.instance_id))
            up.setdefault(pool, []).append((r.start, min(r.end or at, at)))
            starts.setdefault(pool, []).append(r.start)
    failures: dict[str, list[datetime]] = {}
    for i in interruptions:
        if i.at <= at:
            failures.setdefault(zone_pool(i.pool, zones.get(i.instance_id)), []).append(i.at)
    for a in refusals:
        if a.at <= at:
            failures.setdefault(refused_pool(a), []).append(a.at)
    seen = {}
    for pool in sorted(set(up) | set(failures)):
        events = sorted(failures.get(pool, []) + starts.get(pool, []))
        down = []
        for t in failures.get(pool, []):
            k = bisect_right(events, t)  # the pool's next event after t
            down.append((t, min(events[k] if k < len(events) else at, t + looked, at)))
        seen[pool] = PoolSeen(_hours(up.get(pool, [])), _hours(down))
    return seen


TRIED = re.compile(r"\((?P<market>on-demand|spot)(?: in (?P<zone>[\w-]+))?\)$")
"""The end of a failed launch's detail: what it tried (``LaunchTarget.describe``)."""


def refusals_of(actions: Iterable[Action]) -> list[Action]:
    """The spot capacity refusals among failed ``actions`` (their detail starts
    ``capacity:``; a launch's ends with what it tried, and an on-demand one is left out)."""
    out = []
    for a in actions:
        detail = a.detail or ""
        tried = TRIED.search(detail)
        if a.status == "failed" and detail.startswith("capacity:") \
                and (tried is None or tried["market"] == "spot"):
            out.append(a)
    return out


def refused_pool(refusal: Action) -> str:
    """The spot pool ``refusal`` was met in: the zone its launch tried (a job behind walks
    the region's zones from its slot's pool), else its action's pool (a start)."""
    tried = TRIED.search(refusal.detail or "")
    return zone_pool(refusal.pool, tried["zone"] if tried else None)


@dataclass(frozen=True)
class SpotPrior:
    """What the first plan assumed of a spot pool: its availability (share of time) and
    interruptions per instance-hour."""

    instance_type: str
    region: str
    zone: str | None
    availability: float
    interruptions_per_hour: float


def seen_estimates(priors: Mapping[str, SpotPrior], seen: Mapping[str, PoolSeen],
                   weight_hours: float = PRIOR_HOURS) -> dict[str, float]:
    """Pool id -> the availability a re-plan assumes: each pool of ``priors`` at its prior,
    derated where what was ``seen`` of it says less by more than :data:`NOISE` of it (seen
    failing); in an instance type and region with a pool seen failing, its other pools
    estimated toward :data:`OPTIMISTIC_AVAILABILITY` instead of their prior."""
    out, failing = {}, set()
    for pool, prior in priors.items():
        estimate = (seen.get(pool) or PoolSeen()).availability(prior.availability,
                                                                weight_hours)
        if estimate < prior.availability * (1 - NOISE):
            out[pool] = estimate
            failing.add((prior.instance_type, prior.region))
    for pool, prior in priors.items():
        if pool in out:
            continue
        out[pool] = prior.availability
        if (prior.instance_type, prior.region) in failing:
            out[pool] = max(prior.availability, (seen.get(pool) or PoolSeen()).availability(
                OPTIMISTIC_AVAILABILITY, weight_hours))
    return out


def spot_priors(pools: Iterable[CloudPool]) -> dict[str, SpotPrior]:
    """The spot pools among ``pools`` (of the workload's first plan), with what it assumed."""
    return {p.id: SpotPrior(p.instance_type, p.region, p.zone, p.availability,
                            p.interruptions_per_hour)
            for p in pools if p.market == "spot"}


def with_seen(rest: Workload, priors: Mapping[str, SpotPrior],
              estimates: Mapping[str, float]) -> Workload:
    """``rest`` with every spot pool of ``priors`` given its availability of ``estimates``
    as a ``cloud.spot_availability`` line of its zone, and its prior interruption rate as a
    ``cloud.spot_interruptions_per_hour`` line (these win over the workload's lines of the
    same pool; ``cloud.spot_traces`` goes, since a traced figure would win over a line, and
    every traced pool's figures are in ``priors``)."""
    if rest.cloud is None or not priors:
        return rest
    cloud = rest.cloud
    availability = [SpotAvailability(instance_type=p.instance_type, region=p.region,
                                     az=p.zone, availability=estimates[pool])
                    for pool, p in priors.items()]
    rates = [SpotInterruptionRate(instance_type=p.instance_type, region=p.region, az=p.zone,
                                  rate=p.interruptions_per_hour)
             for p in priors.values()]
    return rest.model_copy(update={"cloud": cloud.model_copy(update={
        "spot_traces": None,
        "spot_availability": list(cloud.spot_availability) + availability,
        "spot_interruptions_per_hour": list(cloud.spot_interruptions_per_hour) + rates})})


def seen_workload(workload: Workload, rest: Workload, catalog: PriceCatalog,
                  ledger: Ledger, at: datetime) -> Workload:
    """``rest`` (what is left of ``workload`` at ``at``) with each spot pool's availability
    derated as the fleet has seen it by ``at`` (the ledger's spot runtimes, interruptions
    and capacity refusals), the pools of ``workload`` the prior (their interruption rates
    kept)."""
    priors = spot_priors(build_pools(workload, catalog).cloud)
    zones = {i.instance_id: i.az for i in ledger.instances()}
    seen = seen_pools(ledger.runtimes(EPOCH, at), ledger.interruptions(end=at),
                      refusals_of(ledger.actions(status="failed")), at, zones)
    return with_seen(rest, priors, seen_estimates(priors, seen))
