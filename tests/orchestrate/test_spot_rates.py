"""``spot_rates``: the interruption rate a re-plan takes for each spot zone is the one seen
there, weighed against the prior."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from builders import catalog, offer, workload

from costopt.orchestrate.ledger import InstanceRecord, Interruption, Runtime
from costopt.orchestrate.replan import plan_rest
from costopt.orchestrate.spot_rates import ZoneExposure, exposures, with_seen_rates
from costopt.pricing.catalog import ZoneSpotPrice

T0 = datetime(2027, 1, 1, tzinfo=UTC)
AZ1 = "aws:us-east-1:p3.2xlarge:spot:use1-az1"
AZ2 = "aws:us-east-1:p3.2xlarge:spot:use1-az2"
KEY1 = ("p3.2xlarge", "us-east-1", "use1-az1")
KEY2 = ("p3.2xlarge", "us-east-1", "use1-az2")


def _instance(instance_id: str, az: str | None, market: str = "spot") -> InstanceRecord:
    return InstanceRecord(instance_id, "p", AZ1, "us-east-1", "p3.2xlarge", market, 0, az,
                          1.0, T0, None)


def _run(instance_id: str, start_h: float, end_h: float | None) -> Runtime:
    end = None if end_h is None else T0 + timedelta(hours=end_h)
    return Runtime(instance_id, "p", AZ1, "us-east-1", "p3.2xlarge", "spot",
                   T0 + timedelta(hours=start_h), end, 1.0)


def _cut(instance_id: str, at_h: float) -> Interruption:
    return Interruption(instance_id, "p", AZ1, T0 + timedelta(hours=at_h), "reclaimed")


def test_exposure_counts_each_zones_spot_hours_and_interruptions_by_then() -> None:
    # i-a in use1-az1 by ID: 0-1.5 h (cut), 2-? h (running: 1 h by 3 h). i-b in use1-az1 by
    # its name here (us-east-1b): 1-1.5 h (cut). i-c in use1-az2: 0-0.5 h (cut), and a cut
    # at 3.5 h, after the moment asked for. i-d on-demand: not spot, not counted.
    # use1-az1: 1.5 + 1 + 0.5 = 3 h, 2 cuts; use1-az2: 0.5 h, 1 cut.
    instances = [_instance("i-a", "use1-az1"), _instance("i-b", "us-east-1b"),
                 _instance("i-c", "use1-az2"), _instance("i-d", "use1-az1", "on_demand")]
    runs = [_run("i-a", 0, 1.5), _run("i-a", 2, None), _run("i-b", 1, 1.5),
            _run("i-c", 0, 0.5), _run("i-d", 0, 3)]
    cuts = [_cut("i-a", 1.5), _cut("i-b", 1.5), _cut("i-c", 0.5), _cut("i-c", 3.5)]
    seen = exposures(instances, runs, cuts, T0 + timedelta(hours=3),
                     {"us-east-1b": "use1-az1"})
    assert seen == [ZoneExposure(KEY1, pytest.approx(3.0), 2),
                    ZoneExposure(KEY2, pytest.approx(0.5), 1)]


def test_the_seen_rate_counts_the_prior_as_four_hours_seen() -> None:
    # (2 cuts + 0.25/h x 4 h) / (3 h + 4 h) = 3 / 7 per hour.
    assert ZoneExposure(KEY1, 3.0, 2).rate(0.25) == pytest.approx(3 / 7)


def test_a_zone_seen_interrupted_often_is_re_planned_elsewhere() -> None:
    # One 1-GPU job of 10 GPU-h, checkpoints every 30 min, 10 min of setup (a restart loses
    # 15 + 10 minutes); spot in use1-az1 at 1.0 USD/h, use1-az2 at 1.5, the price data's
    # rate 0. Planned at that rate, use1-az1 does the job: 10 h + 10 min = 10.17 USD.
    # Seen: 12 interruptions in 4 spot-hours in use1-az1 -> (12 + 0) / (4 + 4) = 1.5 per
    # hour, work per instance-hour 1 - 1.5 x 25/60 = 0.375: 1.0 / 0.375 = 2.67 USD per
    # GPU-h there against 1.5 in use1-az2, so the job moves: 10 h + 10 min x 1.5 = 15.25 USD.
    east = replace(offer(on_demand=3.0, spot=1.5, rate=0.0), spot_zones=(
        ZoneSpotPrice("use1-az1", 1.0, "us-east-1b"),
        ZoneSpotPrice("use1-az2", 1.5, "us-east-1a")))
    w = workload([{"name": "j", "gpu_hours": 10, "interruptible": True,
                   "checkpoint_minutes": 30}],
                 cloud={"markets": ["spot"], "setup_minutes": 10})
    before = plan_rest(w, catalog(east), {})
    assert [s.pool for s in before.fleet] == [AZ1]
    assert round(before.total_usd, 2) == 10.17
    seen = with_seen_rates(w, [ZoneExposure(KEY1, 4.0, 12)], {KEY1: 0.0, KEY2: 0.0})
    [line] = seen.cloud.spot_interruptions_per_hour
    assert (line.az, line.rate) == ("use1-az1", pytest.approx(1.5))
    after = plan_rest(seen, catalog(east), {})
    assert [s.pool for s in after.fleet] == [AZ2]
    assert round(after.total_usd, 2) == 15.25


def test_zones_never_run_or_not_planned_leave_the_workload_as_it_is() -> None:
    w = workload([{"name": "j", "gpu_hours": 1, "interruptible": True}],
                 cloud={"markets": ["spot"]})
    assert with_seen_rates(w, [ZoneExposure(KEY1, 0.0, 0)], {KEY1: 0.0}) is w
    assert with_seen_rates(w, [ZoneExposure(KEY2, 2.0, 1)], {KEY1: 0.0}) is w
