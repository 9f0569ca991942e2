"""The plan file: its fields, determinism, slots that continue across periods, reading."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from builders import catalog, offer, server, workload

from costopt.errors import PlanFileError
from costopt.plan.planfile import fleet_slots, read_plan, to_document, write_plan
from costopt.plan.planner import make_plan

UTC = timezone.utc
D0 = datetime(2027, 1, 1, tzinfo=UTC)
DAYS = [D0 + timedelta(days=i) for i in range(4)]
DAILY = [24] * len(DAYS)


def test_full_slots_continue_and_a_partial_one_ends_mid_period() -> None:
    # Day 0: 48 instance-hours = slots 0 and 1 all day. Day 1: 30 = slot 0 all day and
    # slot 1 for its first 6 hours (it was running). Day 2: 24 = slot 0.
    slots = fleet_slots(DAYS, DAILY, {0: 48.0, 1: 30.0, 2: 24.0})
    assert slots == [(0, D0, DAYS[3]), (1, D0, DAYS[1] + timedelta(hours=6))]


def test_a_partial_slot_that_leads_into_a_full_one_runs_at_the_end() -> None:
    # Day 0: 12 instance-hours; day 1: 24. The 12 hours run at the end of day 0 so that the
    # instance runs on without a stop: one interval from 12:00 on day 0 to the end of day 1.
    assert fleet_slots(DAYS, DAILY, {0: 12.0, 1: 24.0}) == [
        (0, D0 + timedelta(hours=12), DAYS[2])]


def test_gap_days_make_separate_intervals() -> None:
    assert fleet_slots(DAYS, DAILY, {0: 24.0, 2: 24.0}) == [(0, D0, DAYS[1]), (0, DAYS[2], DAYS[3])]


def test_slots_add_up_to_the_instance_hours() -> None:
    hours = {0: 50.5, 1: 3.25, 2: 71.0}
    slots = fleet_slots(DAYS, DAILY, hours)
    total = sum((e - s).total_seconds() for _k, s, e in slots) / 3600
    assert total == pytest.approx(sum(hours.values()))


def test_slots_of_mixed_periods_continue_from_hours_into_a_day() -> None:
    # Periods: two of 1 h (00:00, 01:00), then one of 22 h (02:00..24:00), then a day.
    # 1 instance-hour in each hour, 11 in the 22-hour period, 24 on day 1: slot 0 runs
    # 00:00..02:00 and, running at 02:00, goes on for the 22-hour period's 11 hours
    # (02:00 + 11 h = 13:00); then all of day 1.
    starts = [D0, D0 + timedelta(hours=1), D0 + timedelta(hours=2), DAYS[1]]
    assert fleet_slots(starts, [1, 1, 22, 24], {0: 1.0, 1: 1.0, 2: 11.0, 3: 24.0}) == [
        (0, D0, D0 + timedelta(hours=13)), (0, DAYS[1], DAYS[2])]


def small_plan():
    w = workload([{"name": "train", "gpus": 4, "gpu_hours": 60, "interruptible": True},
                  {"name": "eval", "gpus": 1, "gpu_hours": 6}],
                 owned={"servers": [server(availability=0.5)]}, monthly_budget_usd=500,
                 cloud={"spot_max_price_ratio": 0.8})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=4.0, rate=0.0))
    return make_plan(w, cat)


# small_plan by hand. One day; the owned 4x V100 gives 4 x 24 h x 0.5 = 48 GPU-h at
# (1650 - 250) W / 4 / 1000 x 0.15 USD/kWh = 0.0525 USD/GPU-h; its fixed cost over 24 h is
# 8,760 / 8,760 x 24 + 0.25 kW x 0.15 x 24 = 24.90 USD. p3.8xlarge (4 GPUs): 12 USD/h on
# demand, 4 on spot (no interruptions). eval (1 GPU, not interruptible) on the cloud would
# keep a whole 4-GPU on-demand instance: 12 USD a GPU-hour, so its 6 GPU-h go to the owned
# server (0.315 USD) and train takes the other 42 (2.205 USD). train's last 18 GPU-h run on
# spot: 18 / 4 GPUs = 4.5 instance-hours x 4 = 18 USD. Variable 2.52 + 18 = 20.52 USD;
# total 45.42 USD.
# Baselines (+ the 24.90 fixed): all on demand: train 12/4 x 60 = 180, eval 12 x 6 = 72:
# 252 -> 276.90. Cheapest per job: train on spot 4/4 x 60 = 60, eval 72: 132 -> 156.90.
# Owned first: train 48 owned (2.52) + 12 on spot (12), eval 72: 86.52 -> 111.42.
T0 = "2027-01-01T00:00:00Z"
SPOT = "aws:us-east-1:p3.8xlarge:spot"


def test_document_fields() -> None:
    doc = to_document(small_plan(), "w.yaml", "ab" * 32)
    assert doc["schema"] == "costopt.plan/v1"
    assert doc["plan_id"].startswith("t-") and len(doc["plan_id"]) == 10
    assert (doc["status"], doc["solver"], doc["shortfalls"], doc["notes"]) == (
        "optimal", "highs", [], [])
    assert doc["workload"] == {"name": "t", "file": "w.yaml", "sha256": "ab" * 32}
    assert doc["horizon"] == {"start": T0, "end": "2027-01-02T00:00:00Z", "period_hours": 24,
                              "periods": 1, "period_runs": [{"hours": 24, "count": 1}]}
    assert (doc["budget_usd"], doc["monthly_budget_usd"]) == (None, 500)
    assert doc["prices"] == {"source": "test-prices.csv", "price_date": "2026-11-01"}
    assert doc["objective_usd"] == 20.52  # the LP minimises the variable cost
    assert doc["cost"] == {"variable_usd": 20.52, "fixed_usd": 24.9, "total_usd": 45.42,
                           "by_market": {"owned": 2.52, "on_demand": 0.0, "spot": 18.0}}
    assert doc["assignments"] == [
        {"job": "train", "pool": "owned:box", "period_start": T0, "gpu_hours": 42.0,
         "work_gpu_hours": 42.0, "cost_usd": 2.205},
        {"job": "train", "pool": SPOT, "period_start": T0, "gpu_hours": 18.0,
         "work_gpu_hours": 18.0, "cost_usd": 18.0},
        {"job": "eval", "pool": "owned:box", "period_start": T0, "gpu_hours": 6.0,
         "work_gpu_hours": 6.0, "cost_usd": 0.315}]
    assert doc["instance_hours"] == [{"pool": SPOT, "period_start": T0, "instance_hours": 4.5,
                                      "cost_usd": 18.0}]
    # One spot instance for 4.5 h from the start of the day; MaxPrice 0.8 x 12 on demand;
    # train allows on demand, so the orchestrator may fall back to it.
    assert doc["fleet"] == [{
        "pool": SPOT, "region": "us-east-1", "instance_type": "p3.8xlarge", "market": "spot",
        "usd_per_hour": 4.0, "on_demand_usd_per_hour": 12.0, "spot_max_price_usd": 9.6,
        "on_demand_fallback": True,
        "slots": [{"slot": 0, "start": T0, "end": "2027-01-01T04:30:00Z",
                   "jobs": ["train"]}]}]
    assert doc["jobs"] == [
        {"job": "train", "gpus": 4, "nodes": 1, "parallel": 1, "run": None, "setup": None},
        {"job": "eval", "gpus": 1, "nodes": 1, "parallel": 1, "run": None, "setup": None}]
    assert {n: (b["variable_usd"], b["total_usd"], b["savings_usd"], b["feasible"])
            for n, b in doc["baselines"].items()} == {
        "all_on_demand": (252.0, 276.9, 231.48, True),
        "cheapest_per_job": (132.0, 156.9, 111.48, True),
        "owned_first": (86.52, 111.42, 66.0, True)}
    assert doc["binding"] == {
        "owned": [{"pool": "owned:box", "used_gpu_hours": 48.0, "capacity_gpu_hours": 48.0,
                   "used_pct": 100.0, "full_periods": 1}],
        "limits": [], "jobs_on_deadline": ["train", "eval"]}
    spot, box = doc["pools"]
    assert (spot["pool"], spot["vcpus"], spot["usd_per_hour"], spot["price_source"]) == (
        SPOT, 32, 4.0, "table")
    assert (box["pool"], box["count"], box["energy_usd_per_gpu_hour"], box["fixed_usd"]) == (
        "owned:box", 1, 0.0525, 24.9)
    assert (doc["purchases"], doc["no_buy_total_usd"], doc["buy_saving_usd"]) == ([], None, None)


def test_same_input_same_document() -> None:
    first = json.dumps(to_document(small_plan(), "w.yaml", "0" * 64), sort_keys=True)
    second = json.dumps(to_document(small_plan(), "w.yaml", "0" * 64), sort_keys=True)
    assert first == second


def test_write_and_read_back(tmp_path: Path) -> None:
    doc = to_document(small_plan(), "w.yaml", "0" * 64)
    path = tmp_path / "out" / "plan.json"
    write_plan(doc, path)
    back = read_plan(path)
    assert back.plan_id == doc["plan_id"]
    assert back.fleet[0].slots[0].start.tzinfo is not None
    assert back.pool("owned:box") is not None


def test_reading_a_file_that_is_not_a_plan(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"schema": "something/v9"}')
    with pytest.raises(PlanFileError) as info:
        read_plan(path)
    assert "schema = 'something/v9': expected 'costopt.plan/v1'" in str(info.value)
