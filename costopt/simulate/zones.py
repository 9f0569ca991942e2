"""Synthetic traces for every spot pool a workload may use, zones that differ (``costopt
traces synth-zones``).

Each (spot pool, zone) gets its own seeded :class:`~costopt.traces.SynthSpec`,
drawn from ranges that hold the public AWS GPU traces' statistics (facts.md: spot could be
had 12-90 % of the time, 0.1-1.4 preemptions per spot-hour, median outages 0.2-0.8 h but
the longest 5-341 h; zones of one region differ more than regions do):

- availability ``A`` uniform in ``ZONE_AVAILABILITY`` (0.2-0.9);
- mean outage ``H`` log-uniform in ``ZONE_MEAN_OUTAGE_HOURS`` (15 min to 24 h; raised, where
  ``A`` is low and ``H`` short, to what leaves up spells of ``ZONE_MEAN_UP_HOURS_MIN`` on
  average);
- one-tick interruptions ``R`` per up hour log-uniform in ``ZONE_INTERRUPTIONS_PER_HOUR``.

A pool of one zone (``aws:R:T:spot:ZONE_ID``) gets a trace of that zone; a regional pool
(``aws:R:T:spot``) one per zone of ``zones`` synthetic zone IDs of its region
(``use1-az1`` ...), whose counts add up (:func:`~costopt.traces.traces_by_pool`).
Pure: the traces are returned, not written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

import numpy as np

from costopt.core.pool_ids import PoolId
from costopt.plan.pools import CloudPool, cloud_id
from costopt.traces import PoolTrace, SynthSpec, synth

ZONE_AVAILABILITY = (0.2, 0.9)
ZONE_MEAN_OUTAGE_HOURS = (0.25, 24.0)
ZONE_INTERRUPTIONS_PER_HOUR = (0.02, 0.4)
ZONE_MEAN_UP_HOURS_MIN = 0.75
"""Up spells last at least this long on average (so that preemptions per spot-hour stay
near the public traces' 0.1-1.4): a short mean outage is raised where availability is low."""


def zone_spec(rng: np.random.Generator, hours: float, seed: int, *, gap_seconds: float = 300.0,
              capacity: int = 1) -> SynthSpec:
    """One zone's statistics, drawn from the ranges above."""
    availability = float(rng.uniform(*ZONE_AVAILABILITY))
    lo, hi = (math.log(x) for x in ZONE_MEAN_OUTAGE_HOURS)
    outage = math.exp(rng.uniform(lo, hi))
    lo, hi = (math.log(x) for x in ZONE_INTERRUPTIONS_PER_HOUR)
    rate = math.exp(rng.uniform(lo, hi))
    spec = SynthSpec(availability, outage, rate, hours, seed, gap_seconds, capacity)
    pi = spec.up_share()  # up spells of U on average need H >= U (1 - pi) / pi
    shortest = max(ZONE_MEAN_UP_HOURS_MIN, gap_seconds / 3600) * (1 - pi) / pi * 1.01
    return SynthSpec(availability, max(outage, shortest), rate, hours, seed, gap_seconds,
                     capacity)


def region_zone_ids(region: str, zones: int) -> list[str]:
    """``zones`` zone IDs of the region as AWS spells them: ``us-east-1`` -> ``use1-az1``..."""
    parts = region.split("-")
    prefix = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]
    return [f"{prefix}-az{k}" for k in range(1, zones + 1)]


def zone_traces(spot_pools: Iterable[CloudPool], *, start: datetime, hours: float, seed: int,
                zones: int = 3, gap_seconds: float = 300.0,
                capacity: int = 1) -> list[tuple[PoolTrace, SynthSpec]]:
    """A trace from ``start`` for each zone of each spot pool (see the module docstring),
    each with the spec it was drawn from; files named ``TYPE-ZONE_ID.json``."""
    rng = np.random.default_rng(seed)
    out: list[tuple[PoolTrace, SynthSpec]] = []
    for pool in sorted(spot_pools, key=lambda p: p.id):
        ids = [pool.zone] if pool.zone else region_zone_ids(pool.region, zones)
        for zone in ids:
            zoned = PoolId(f"{cloud_id(pool.region, pool.instance_type, 'spot')}:{zone}", "aws",
                           region=pool.region, instance_type=pool.instance_type,
                           market="spot", zone_id=zone)
            spec = zone_spec(rng, hours, int(rng.integers(2**31)), gap_seconds=gap_seconds,
                             capacity=capacity)
            out.append((PoolTrace(zoned, _file_name(zoned), start, synth(spec)), spec))
    return out


def _file_name(pool: PoolId) -> str:
    return f"{pool.instance_type}-{pool.region}-{pool.zone_id}.json"
