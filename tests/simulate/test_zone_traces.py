"""Synthetic traces for every spot pool of a workload, zones that differ."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sim_cases import SPOT, T0, one_job, prices

from costopt.plan.pools import build_pools
from costopt.simulate.zones import (
    ZONE_AVAILABILITY,
    ZONE_INTERRUPTIONS_PER_HOUR,
    ZONE_MEAN_OUTAGE_HOURS,
    ZONE_MEAN_UP_HOURS_MIN,
    region_zone_ids,
    zone_spec,
    zone_traces,
)
from costopt.traces import traces_by_pool


def _spot_pool():  # type: ignore[no-untyped-def]
    (pool,) = [p for p in build_pools(one_job(), prices()).cloud if p.market == "spot"]
    return pool


def test_zone_ids_are_spelled_as_aws_does() -> None:
    assert region_zone_ids("us-east-1", 2) == ["use1-az1", "use1-az2"]
    assert region_zone_ids("us-west-2", 1) == ["usw2-az1"]


def test_a_regional_pool_gets_a_trace_per_zone_that_add_up_for_it() -> None:
    traced = zone_traces([_spot_pool()], start=T0, hours=48, seed=1, zones=3, capacity=2)
    pools = [t.pool.text for t, _spec in traced]
    assert pools == [f"{SPOT}:use1-az{k}" for k in (1, 2, 3)]
    assert all(t.start == T0 and len(t.trace.counts) == 48 * 12 for t, _spec in traced)
    assert set(np.unique(np.concatenate([t.trace.counts for t, _s in traced]))) <= {0, 2}
    assert len(traces_by_pool([SPOT], [t for t, _s in traced])[SPOT]) == 3
    specs = [spec for _t, spec in traced]
    assert len({s.availability for s in specs}) == 3  # the zones differ


def test_a_pool_of_one_zone_gets_its_zone_and_the_same_seed_the_same_traces() -> None:
    zoned = replace(_spot_pool(), id=f"{SPOT}:use1-az4", zone="use1-az4")
    (first, _s), = zone_traces([zoned], start=T0, hours=24, seed=7)
    (again, _s), = zone_traces([zoned], start=T0, hours=24, seed=7)
    assert first.pool.text == f"{SPOT}:use1-az4" and first.file == \
        "p3.2xlarge-us-east-1-use1-az4.json"
    assert np.array_equal(first.trace.counts, again.trace.counts)


def test_zone_statistics_stay_in_their_ranges() -> None:
    # Mean outages are drawn in 15 min-24 h and raised, where availability is low, so that up
    # spells last ZONE_MEAN_UP_HOURS_MIN (45 min) on average or more: with A = 0.2 and
    # R = 0.02 a drawn 15-minute outage would leave up spells of about 4 minutes.
    rng = np.random.default_rng(0)
    for k in range(200):
        spec = zone_spec(rng, 24, k)
        assert ZONE_AVAILABILITY[0] <= spec.availability <= ZONE_AVAILABILITY[1]
        assert ZONE_INTERRUPTIONS_PER_HOUR[0] <= spec.interruptions_per_hour \
            <= ZONE_INTERRUPTIONS_PER_HOUR[1]
        assert ZONE_MEAN_OUTAGE_HOURS[0] <= spec.mean_outage_hours
        assert spec.mean_up_hours() >= ZONE_MEAN_UP_HOURS_MIN
        assert spec.problems() == []
