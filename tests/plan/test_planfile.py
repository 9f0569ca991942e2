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


def test_full_slots_continue_and_a_partial_one_ends_mid_period() -> None:
    # Day 0: 48 instance-hours = slots 0 and 1 all day. Day 1: 30 = slot 0 all day and
    # slot 1 for its first 6 hours (it was running). Day 2: 24 = slot 0.
    slots = fleet_slots(DAYS, 24, {0: 48.0, 1: 30.0, 2: 24.0})
    assert slots == [(0, D0, DAYS[3]), (1, D0, DAYS[1] + timedelta(hours=6))]


def test_a_partial_slot_that_leads_into_a_full_one_runs_at_the_end() -> None:
    # Day 0: 12 instance-hours; day 1: 24. The 12 hours run at the end of day 0 so that the
    # instance runs on without a stop: one interval from 12:00 on day 0 to the end of day 1.
    assert fleet_slots(DAYS, 24, {0: 12.0, 1: 24.0}) == [
        (0, D0 + timedelta(hours=12), DAYS[2])]


def test_gap_days_make_separate_intervals() -> None:
    assert fleet_slots(DAYS, 24, {0: 24.0, 2: 24.0}) == [(0, D0, DAYS[1]), (0, DAYS[2], DAYS[3])]


def test_slots_add_up_to_the_instance_hours() -> None:
    hours = {0: 50.5, 1: 3.25, 2: 71.0}
    slots = fleet_slots(DAYS, 24, hours)
    total = sum((e - s).total_seconds() for _k, s, e in slots) / 3600
    assert total == pytest.approx(sum(hours.values()))


def small_plan():
    w = workload([{"name": "train", "gpus": 4, "gpu_hours": 60, "interruptible": True},
                  {"name": "eval", "gpus": 1, "gpu_hours": 6}],
                 owned={"servers": [server(availability=0.5)]}, monthly_budget_usd=500,
                 cloud={"spot_max_price_ratio": 0.8})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=4.0, rate=0.0))
    return make_plan(w, cat)


def test_document_fields() -> None:
    doc = to_document(small_plan(), "w.yaml", "ab" * 32)
    assert doc["schema"] == "costopt.plan/v1"
    assert doc["plan_id"].startswith("t-") and len(doc["plan_id"]) == 10
    assert doc["status"] == "optimal"
    assert doc["shortfalls"] == []
    assert doc["workload"] == {"name": "t", "file": "w.yaml", "sha256": "ab" * 32}
    assert doc["monthly_budget_usd"] == 500
    cost = doc["cost"]
    assert cost["total_usd"] == pytest.approx(cost["variable_usd"] + cost["fixed_usd"])
    assert sum(cost["by_market"].values()) == pytest.approx(cost["variable_usd"])
    assert sum(a["cost_usd"] for a in doc["assignments"]) == pytest.approx(cost["variable_usd"])
    assert set(doc["baselines"]) == {"all_on_demand", "cheapest_per_job", "owned_first"}
    # Owned: 48 GPU-h (capacity); the rest - 12 GPU-h of train and 6 of eval - on spot,
    # eval is not interruptible: it goes on demand or owned. Check the fleet's pools.
    [spot] = [f for f in doc["fleet"] if f["market"] == "spot"]
    assert spot["pool"] == "aws:us-east-1:p3.8xlarge:spot"
    assert spot["spot_max_price_usd"] == pytest.approx(9.6)  # 0.8 x 12.0 on demand
    assert spot["on_demand_fallback"] is True
    assert spot["slots"][0]["slot"] == 0
    assert {p["pool"] for p in doc["pools"]} >= {"owned:box", "aws:us-east-1:p3.8xlarge:spot"}


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
