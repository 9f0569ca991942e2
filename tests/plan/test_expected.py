"""The expected cost of a plan carried out (``plan/expected.py``), worked by hand: held spot
hours without capacity are not paid, preemptions cost what they lose, and spot that falls
short of a deadline is made up as the controller does: other zones' spot, cheapest first,
then on demand."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from builders import catalog, offer, workload

from costopt.plan.expected import expected_cost, expected_shortfall, make_up_walk, spot_run
from costopt.plan.fleet import Run, Use
from costopt.plan.planfile import to_document
from costopt.plan.planner import PlanResult, make_plan
from costopt.plan.pools import CloudPool
from costopt.pricing.catalog import ZoneSpotPrice

START = datetime(2027, 1, 1, tzinfo=UTC)


def test_the_expected_shortfall_of_a_normal() -> None:
    # E[max(0, X)], X ~ N(m, s^2) = m Phi(m/s) + s phi(m/s): m = 0: s / sqrt(2 pi);
    # m = s = 1: Phi(1) = 0.841345, phi(1) = 0.241971, 1.083316; far below 0: nothing;
    # no spread: max(0, m).
    assert expected_shortfall(0.0, 2.0) == pytest.approx(2 / math.sqrt(2 * math.pi))
    assert expected_shortfall(1.0, 1.0) == pytest.approx(1.083316, abs=1e-6)
    assert expected_shortfall(-50.0, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert (expected_shortfall(3.0, 0.0), expected_shortfall(-3.0, 0.0)) == (3.0, 0.0)


def traced_pool(availability: float, rate: float) -> CloudPool:
    return CloudPool(id="aws:us-east-1:p3.2xlarge:spot", region="us-east-1",
                     instance_type="p3.2xlarge", market="spot", gpu_model="V100-SXM2-16GB",
                     gpus_per_node=1, gpu_memory_gb=16, vcpus=8, usd_per_hour=1.0,
                     on_demand_usd_per_hour=3.0, interruptions_per_hour=rate,
                     max_instances=None, price_source="table", availability=availability,
                     availability_source="traces")


def one_job(deadline_hours: float):
    return workload([{"name": "j", "gpus": 1, "gpu_hours": 10, "interruptible": True,
                      "checkpoint_minutes": 0,
                      "deadline": (START + timedelta(hours=deadline_hours)).isoformat()}],
                    days=2, period_hours=4, cloud={"spot_restart_minutes": 0})


def held(hours: float) -> Run:
    end = START + timedelta(hours=hours)
    return Run(slot=0, start=START, end=end, setup_end=START, jobs=("j",),
               uses=(Use("j", 1, START, end),))


def test_a_run_due_at_its_end_falls_short_half_the_time() -> None:
    """A traced pool at a = 0.5 with 0.5 preemptions per spot-hour: up spells of 2 h,
    outages of 2 h, variance of up time ``2 x 2^2 x 2^2 / 4^3 = 0.5`` h per hour. A run held
    20 h for 10 h of work (no checkpoint loss, no restart): up time over the 20 h is 10 h on
    average, sd sqrt(0.5 x 20) = sqrt(10); the job due at the run's end is short by
    ``E[max(0, 10 - U)] = sqrt(10) / sqrt(2 pi) = 1.26157`` h, run on demand; spot runs
    ``10 - 1.26157 = 8.73843`` h."""
    spot = spot_run(traced_pool(0.5, 0.5), held(20), one_job(20))
    assert spot.held_hours == pytest.approx(20.0)
    assert spot.on_demand_hours == pytest.approx(math.sqrt(10 / (2 * math.pi)))
    assert spot.spot_hours == pytest.approx(10 - 1.261566, abs=1e-6)


def test_slack_after_the_run_leaves_less_to_make_up() -> None:
    """The same run due 12 h after its end: up time over 32 h has mean 16 and sd
    sqrt(0.5 x 32) = 4; the shortfall ``m = 10 - 16 = -6``, ``z = -1.5``: ``-6 Phi(-1.5) + 4
    phi(1.5) = -6 x 0.0668072 + 4 x 0.1295176 = 0.117227`` h on demand."""
    spot = spot_run(traced_pool(0.5, 0.5), held(20), one_job(32))
    assert spot.on_demand_hours == pytest.approx(0.117227, abs=1e-6)
    assert spot.spot_hours == pytest.approx(10 - 0.117227, abs=1e-6)


def test_preemptions_at_the_public_traces_rate_where_none_was_traced() -> None:
    """10 GPU-h (1 V100, checkpoint 60 min, restart 10 min), spot only at the assumed a = 0.5,
    the catalog's 0.12 interruptions an hour, a week to do it. The plan holds
    ``10 / (0.5 x 0.92) = 21.74`` h (0.92 = 1 - 0.12 x 40/60), 21.74 USD at 1 USD/h. A
    running instance is ended at every outage, 0.44 times a spot-hour (the public traces'
    median, above the catalog's rate), each losing 40 minutes: the work takes ``10 / (1 -
    0.44 x 40/60) = 14.151`` h of spot; a week's slack leaves nothing to make up on demand
    (the shortfall is 7 sd below 0). Spot always there: half the held hours, 10.87 USD."""
    w = workload([{"name": "train", "gpus": 1, "gpu_hours": 10, "interruptible": True,
                   "checkpoint_minutes": 60}], days=7,
                 cloud={"regions": ["us-east-1"], "markets": ["spot"],
                        "spot_availability_default": 0.5})
    result = make_plan(w, catalog(offer("p3.2xlarge", "us-east-1", on_demand=3.0, spot=1.0,
                                        rate=0.12)))
    cost = expected_cost(result)
    assert cost.held_usd == pytest.approx(10 / (0.5 * 0.92), rel=1e-4)
    assert cost.expected_usd == pytest.approx(10 / (1 - 0.44 * 40 / 60), rel=1e-4)
    assert cost.on_demand_usd == pytest.approx(0.0, abs=1e-6)
    assert cost.spot_always_there_usd == pytest.approx(10 / 0.92, rel=1e-4)
    doc = to_document(result, "w.yaml", "0" * 64).as_json()["cost"]
    assert (doc["total_usd"], doc["expected_usd"], doc["expected_on_demand_usd"]) == (
        pytest.approx(21.7391, abs=1e-4), pytest.approx(14.1509, abs=1e-4), 0.0)


def test_a_short_spot_hour_walks_the_other_zones_cheapest_first() -> None:
    """Home use1-az1 at a = 0.5; use1-az3 at 2 USD/h and use1-az2 at 3 USD/h. A short
    spot-hour runs in az3 half the time (2 x 0.5 = 1 USD), else in az2 half the rest (3 x
    0.25 = 0.75 USD), else (0.25) on demand: 0.75 of it in other zones at 1.75 USD. Jobs
    that may not run on demand leave that 0.25 waiting for the home zone; a pool with no
    zone (regional) has no other zone to walk."""
    pool = replace(traced_pool(0.5, 0.5), zone="use1-az1")
    prices = {"use1-az1": 1.0, "use1-az2": 3.0, "use1-az3": 2.0}
    walk = make_up_walk(pool, prices, on_demand=True)
    assert (walk.other_zones, walk.other_zones_usd, walk.on_demand) == (0.75, 1.75, 0.25)
    assert make_up_walk(pool, prices, on_demand=False).waiting == 0.25
    regional = make_up_walk(replace(pool, zone=None), prices, on_demand=True)
    assert (regional.other_zones, regional.on_demand) == (0.0, 1.0)


def zoned_job(zones: tuple[ZoneSpotPrice, ...], markets: list[str]) -> PlanResult:
    """10 GPU-h on one V100, due 20 h into the day, spot at a = 0.5 with 0.5 preemptions an
    hour (the catalog's, above the public traces' 0.44), no checkpoint or restart loss."""
    offered = replace(offer("p3.2xlarge", "us-east-1", on_demand=4.0, spot=1.0, rate=0.5),
                      spot_zones=zones)
    w = workload([{"name": "j", "gpus": 1, "gpu_hours": 10, "interruptible": True,
                   "checkpoint_minutes": 0, "deadline": "2027-01-01T20:00:00Z"}],
                 period_hours=4, cloud={"regions": ["us-east-1"], "markets": markets,
                                        "spot_restart_minutes": 0,
                                        "spot_availability_default": 0.5})
    return make_plan(w, catalog(offered))


THREE_ZONES = (ZoneSpotPrice("use1-az1", 1.0), ZoneSpotPrice("use1-az2", 3.0),
               ZoneSpotPrice("use1-az3", 2.0))
SHORT = math.sqrt(10 / (2 * math.pi))  # 1.261566 spot-hours (the derivation below)


def test_a_run_with_no_slack_is_made_up_in_other_zones_then_on_demand() -> None:
    """The plan holds use1-az1 spot (1 USD/h) all 20 h to the deadline: 10 GPU-h at a = 0.5,
    20 USD held. Up spells of 2 h, outages of 2 h: up time over the 20 h has mean 10 and
    variance 0.5 x 20, so spot falls short of the 10 h of work by ``sqrt(10 / 2 pi) =
    1.261566`` h on average (no slack after the run). The controller's walk makes those up
    in use1-az3 (2 USD/h) half the time, use1-az2 (3 USD/h) a quarter, on demand (4 USD/h)
    a quarter: ``(10 - 1.261566) x 1 + 1.261566 x (0.5 x 2 + 0.25 x 3) + 1.261566 x 0.25
    x 4 = 8.738434 + 2.207740 + 1.261566 = 12.207740`` USD."""
    cost = expected_cost(zoned_job(THREE_ZONES, ["spot", "on_demand"]))
    assert cost.held_usd == pytest.approx(20.0)
    assert cost.other_zones_usd == pytest.approx(1.75 * SHORT)
    assert cost.on_demand_usd == pytest.approx(SHORT)
    assert cost.expected_usd == pytest.approx(10 - SHORT + 1.75 * SHORT + SHORT)
    assert cost.expected_usd == pytest.approx(12.207740, abs=1e-6)


def test_one_zone_and_no_slack_is_made_up_on_demand() -> None:
    """The same job where the region prices spot in its home zone only: nowhere else to
    walk, so every short spot-hour runs on demand (no preemption slows it there):
    ``8.738434 + 1.261566 x 4 = 13.784698`` USD."""
    cost = expected_cost(zoned_job((ZoneSpotPrice("use1-az1", 1.0),), ["spot", "on_demand"]))
    assert (cost.other_zones_usd, cost.on_demand_usd) == (0.0, pytest.approx(4 * SHORT))
    assert cost.expected_usd == pytest.approx(13.784698, abs=1e-6)


def test_spot_only_jobs_wait_for_the_home_zone_where_the_walk_would_end_on_demand() -> None:
    """``cloud.markets: [spot]``: the walk starts over on spot instead of ending on demand,
    so the quarter of the short hours that would run on demand waits for use1-az1 at 1
    USD/h: ``8.738434 + 2.207740 + 0.25 x 1.261566 = 11.261566`` USD."""
    cost = expected_cost(zoned_job(THREE_ZONES, ["spot"]))
    assert cost.on_demand_usd == 0.0
    assert cost.expected_usd == pytest.approx(11.261566, abs=1e-6)


def test_a_job_without_a_deadline_is_due_at_the_horizons_end() -> None:
    """The run of the first test, its job without a deadline in a one-day horizon: due at
    the day's end, 4 h after the run. Up time over 24 h: mean 12, sd ``sqrt(0.5 x 24) =
    3.464102``; ``m = 10 - 12 = -2``, ``z = -0.577350``: ``-2 Phi(-0.577350) + 3.464102
    phi(0.577350) = -2 x 0.281851 + 3.464102 x 0.337697 = 0.606115`` h on demand."""
    w = workload([{"name": "j", "gpus": 1, "gpu_hours": 10, "interruptible": True,
                   "checkpoint_minutes": 0}], days=1, cloud={"spot_restart_minutes": 0})
    spot = spot_run(traced_pool(0.5, 0.5), held(20), w)
    assert spot.on_demand_hours == pytest.approx(0.606115, abs=1e-6)
    assert spot.spot_hours == pytest.approx(10 - 0.606115, abs=1e-6)


def test_a_runs_setup_is_paid_running_time_without_work() -> None:
    """10 GPU-h (1 V100, checkpoint 60 min) on spot only, a week to do it: the assumed a =
    0.5, the catalog's 0.12 interruptions an hour, 10 minutes of restart, 30 of setup. The
    LP derates spot to ``0.5 x (1 - 0.12 x 40/60) = 0.46``: ``10 / 0.46 = 21.739130`` h of
    work, after the run's half hour of setup: held 22.239130 h at 1 USD/h. Carried out, the
    work takes ``0.5 x 21.739130 x 0.92 = 10`` instance-hours uninterrupted, ``10 / (1 -
    0.44 x 40/60) = 14.150943`` h of spot at the public traces' 0.44 preemptions, plus the
    setup's 0.5 h, paid and without work: 14.65 USD (counting the setup as derated work, as
    before, gave ``0.5 x 22.239130 x 0.92 / 0.706667 = 14.48``); a week's slack leaves
    nothing to make up."""
    w = workload([{"name": "train", "gpus": 1, "gpu_hours": 10, "interruptible": True,
                   "checkpoint_minutes": 60}], days=7,
                 cloud={"regions": ["us-east-1"], "markets": ["spot"], "setup_minutes": 30,
                        "spot_availability_default": 0.5})
    result = make_plan(w, catalog(offer("p3.2xlarge", "us-east-1", on_demand=3.0, spot=1.0,
                                        rate=0.12)))
    cost = expected_cost(result)
    assert round(cost.held_usd, 2) == 22.24
    assert round(cost.expected_usd, 2) == 14.65
    assert cost.on_demand_usd == pytest.approx(0.0, abs=1e-6)
