"""The hindsight optimum against a brute force, and the exact aggregation of traces."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sim_cases import SPOT, at, hourly, one_job, prices

from costopt.errors import InputFileError
from costopt.pool_ids import parse_pool_id
from costopt.simulate.hindsight import capacity_caps, clairvoyant, hindsight
from costopt.traces import PoolTrace, Trace

PERIOD_H = 8  # three periods of 8 h in the day


def brute_force(caps: list[int], gpu_hours: int, *, on_demand: bool) -> float | None:
    """The cheapest whole-hour schedule of a 1-GPU job over three 8-hour periods: in period
    t, s_t <= caps[t] hours on spot (1 USD/h) and o_t on demand (3 USD/h), s_t + o_t <= 8
    (one GPU at a time), sum >= gpu_hours. Every choice is enumerated."""
    best = math.inf
    options = [[(s, o) for s in range(min(c, PERIOD_H) + 1)
                for o in range(PERIOD_H - s + 1 if on_demand else 1)] for c in caps]
    for choice in itertools.product(*options):
        if sum(s + o for s, o in choice) >= gpu_hours:
            best = min(best, sum(s * 1.0 + o * 3.0 for s, o in choice))
    return None if best == math.inf else best


@pytest.mark.parametrize("seed", range(6))
def test_hindsight_matches_a_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = (rng.random(24) < rng.uniform(0.2, 0.9)).astype(int).tolist()
    gpu_hours = int(rng.integers(4, 23))
    caps = [sum(counts[8 * t:8 * t + 8]) for t in range(3)]
    for allow in (None, ["spot"]):
        w = one_job(gpu_hours, allow=allow, period_hours=PERIOD_H)
        h = hindsight(w, prices(), [hourly(counts)], solver="highs")
        expected = brute_force(caps, gpu_hours, on_demand=allow is None)
        if expected is None:
            assert h.usd is None and "train short" in h.note
        else:
            assert h.usd == pytest.approx(expected, abs=1e-6), (counts, gpu_hours, allow)


def test_caps_are_the_trace_summed_over_each_period() -> None:
    # Half-hour ticks from 23:45 the day before (not on a period boundary), counts 1,2,3,4,...
    # Period 0 (00:00-08:00): tick 0 (23:45-00:15) counts 1 x 0.25 h; ticks 1-15 whole:
    # (2+3+4+1) x 3 + (2+3+4) = 39 x 0.5 = 19.5; tick 16 (07:45-08:15) 1 x 0.25. = 20.0.
    # With max_instances 2: 0.25 + ((2+2+2+1) x 3 + (2+2+2)) x 0.5 + 0.25 = 14.0.
    trace = PoolTrace(parse_pool_id(SPOT), "hand.json", at(-0.25),
                      Trace(1800.0, np.arange(60) % 4 + 1))
    caps = capacity_caps(one_job(4, period_hours=PERIOD_H), prices(), [trace])
    assert caps[(SPOT, 0)] == pytest.approx(20.0)
    capped = one_job(4, period_hours=PERIOD_H, max_instances=[
        {"instance_type": "p3.2xlarge", "region": "us-east-1", "market": "spot", "count": 2}])
    assert capacity_caps(capped, prices(), [trace])[(SPOT, 0)] == pytest.approx(14.0)


def test_hindsight_needs_traces_that_cover_the_horizon() -> None:
    with pytest.raises(InputFileError):
        hindsight(one_job(4), prices(), [hourly([1] * 23)])


def test_hindsight_plans_with_the_traces_not_the_availability_estimate() -> None:
    # 10 GPU-h due at the end of the day, spot at 0.5 availability and the reserve on: the
    # plan derates spot (20 h held); the clairvoyant planner knows when spot is there from
    # the traces' caps, so it plans at a = 1 and keeps no reserve. With spot there the
    # whole day (24 h of caps), hindsight pays 10 h x 1 USD.
    w = one_job(10, spot_availability_default=0.5, deadline_reserve=True)
    seen = clairvoyant(w).cloud
    assert seen is not None
    assert (seen.spot_availability_default, seen.deadline_reserve) == (1.0, False)
    full_day = PoolTrace(parse_pool_id(SPOT), "t.json", at(0), Trace(3600.0, np.ones(24, int)))
    assert hindsight(w, prices(), [full_day]).usd == pytest.approx(10.0)
