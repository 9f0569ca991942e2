"""Spot interruption rates the controller has seen, per zone: what a re-plan derates spot by
(spec v3, design 4: "interruption rates per pool").

Pure. A plan derates each spot pool's work per instance-hour by its interruption rate
(:func:`~costopt.plan.pools.spot_efficiency`): the workload's ``spot_interruptions_per_hour``
line, else the price data's band - 0.0056 per hour for the example's p4d in us-east-1. On
synth-zones seed 5 the p4d spot instances in use1-az1 were interrupted 146 times in 92
instance-hours (1.6 per hour: a run of 0.6 h pays 10 minutes of setup and loses 15 minutes
of work), and every one of the 37 re-plans still planned the rest there at the band's rate,
so each found the job behind again. A re-plan takes each zone's rate as seen instead, where
spot ran there: the interruptions of the instances that ran in the zone over their spot
instance-hours, with the prior rate counted as :data:`PRIOR_HOURS` hours already seen (one
interruption in a first short run does not make a zone look hopeless).

Every instance of the ledger counts, whatever its plan or workload: the rate is the zone's
market's, not the job's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from costopt.orchestrate.ledger import InstanceRecord, Interruption, Runtime
from costopt.workload import SpotInterruptionRate, Workload

PRIOR_HOURS = 4.0
"""Spot instance-hours the prior rate stands for (the workload's or the price data's): a
zone's seen rate is ``(interruptions + prior x 4) / (spot hours + 4)``."""

ZoneKey = tuple[str, str, str]
"""(instance type, region, zone ID)."""


@dataclass(frozen=True)
class ZoneExposure:
    """Spot instance-hours run in one zone (``key``) and the interruptions they met."""

    key: ZoneKey
    spot_hours: float
    interruptions: int

    def rate(self, prior_per_hour: float, prior_hours: float = PRIOR_HOURS) -> float:
        """Interruptions per spot instance-hour, the prior counted as ``prior_hours`` seen."""
        return (self.interruptions + prior_per_hour * prior_hours) \
            / (self.spot_hours + prior_hours)


def exposures(instances: Iterable[InstanceRecord], runtimes: Iterable[Runtime],
              interruptions: Iterable[Interruption], at: datetime,
              zone_ids: Mapping[str, str]) -> list[ZoneExposure]:
    """Each zone's spot exposure by ``at``: the spot runtimes and interruptions of the
    instances whose zone is known (``zone_ids``: zone name -> zone ID; a zone ID is its own
    name), keyed by the instance's type, region and zone ID."""
    zone_of: dict[str, ZoneKey] = {}
    for i in instances:
        zone = zone_ids.get(i.az or "", i.az)
        if i.market == "spot" and zone:
            zone_of[i.instance_id] = (i.instance_type, i.region, zone)
    hours: dict[ZoneKey, float] = {}
    for r in runtimes:
        key = zone_of.get(r.instance_id)
        if key is not None and r.start < at:
            hours[key] = hours.get(key, 0.0) + r.hours_within(r.start, at, at)
    count: dict[ZoneKey, int] = {}
    for x in interruptions:
        key = zone_of.get(x.instance_id)
        if key is not None and x.at < at:
            count[key] = count.get(key, 0) + 1
    return [ZoneExposure(k, hours.get(k, 0.0), count.get(k, 0))
            for k in sorted(hours.keys() | count.keys())]


def with_seen_rates(workload: Workload, seen: Iterable[ZoneExposure],
                    prior: Mapping[ZoneKey, float]) -> Workload:
    """``workload`` with a ``spot_interruptions_per_hour`` line for each zone of ``seen``
    that it plans spot in (``prior``: zone -> the rate the plan took for it), at the seen
    rate; a zone's own line in the workload gives way to it."""
    lines = {(r.instance_type, r.region, r.az): r
             for r in (workload.cloud.spot_interruptions_per_hour if workload.cloud else [])}
    added = False
    for e in seen:
        if e.key in prior and e.spot_hours > 0:
            kind, region, zone = e.key
            lines[e.key] = SpotInterruptionRate(instance_type=kind, region=region, az=zone,
                                                rate=e.rate(prior[e.key]))
            added = True
    if not added or workload.cloud is None:
        return workload
    cloud = workload.cloud.model_copy(update={"spot_interruptions_per_hour": list(lines.values())})
    return workload.model_copy(update={"cloud": cloud})
