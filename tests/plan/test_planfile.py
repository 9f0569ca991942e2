"""The plan file: its fields, determinism, slots that continue across periods, reading."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import catalog, offer, server, workload

from costopt.errors import PlanFileError
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.planfile import plan_id_for, read_plan, write_plan


def small_plan():
    w = workload([{"name": "train", "gpus": 4, "gpu_hours": 60, "interruptible": True},
                  {"name": "eval", "gpus": 1, "gpu_hours": 6}],
                 owned={"servers": [server(availability=0.5)]}, monthly_budget_usd=500,
                 cloud={"spot_max_price_ratio": 0.8})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=4.0, rate=0.0))
    return make_plan(w, cat)


def small_document(file: str = "w.yaml", sha: str = "0" * 64) -> dict[str, Any]:
    """small_plan's plan file, as JSON."""
    return to_document(small_plan(), file, sha).as_json()


# small_plan by hand. One day; the owned 4x V100 is there 24 h x 0.5 = 12 h (48 GPU-h) at
# (1650 - 250) W / 4 / 1000 x 0.15 USD/kWh = 0.0525 USD/GPU-h; its fixed cost over 24 h is
# 8,760 / 8,760 x 24 + 0.25 kW x 0.15 x 24 = 24.90 USD. p3.8xlarge (4 GPUs): 12 USD/h on
# demand, 4 on spot (no interruptions). eval (1 GPU, not interruptible) on the cloud would
# keep a whole 4-GPU on-demand instance: 12 USD a GPU-hour, so its 6 GPU-h go to the owned
# server (0.315 USD), for 6 of its 12 hours: train (4 GPUs) never runs beside it, and takes
# the other 6 h, 24 GPU-h (1.26 USD). train's last 36 GPU-h run on spot: 36 / 4 GPUs = 9
# instance-hours x 4 = 36 USD. Variable 1.575 + 36 = 37.575 USD; total 62.475 USD. (Packing
# GPU-hours alone put 42 of train's on the server beside eval's 6: 20.52 USD, 16.5 h of a
# server there 12.)
# Baselines (+ the 24.90 fixed): all on demand: train 12/4 x 60 = 180, eval 12 x 6 = 72:
# 252 -> 276.90. Cheapest per job: train on spot 4/4 x 60 = 60, eval 72: 132 -> 156.90.
# Owned first: train 48 owned (2.52) + 12 on spot (12), eval 72: 86.52 -> 111.42.
T0 = "2027-01-01T00:00:00Z"
SPOT = "aws:us-east-1:p3.8xlarge:spot"


def test_document_fields() -> None:
    doc = small_document(sha="ab" * 32)
    assert doc["schema"] == "costopt.plan/v3"
    assert doc["plan_id"].startswith("t-") and len(doc["plan_id"]) == 10
    assert (doc["status"], doc["solver"], doc["shortfalls"]) == ("optimal", "highs", [])
    [note] = doc["notes"]  # the test offer has no zone prices: a regional spot pool
    assert note.startswith("spot priced per region, not per zone, for p3.8xlarge in us-east-1")
    assert doc["workload"] == {"name": "t", "file": "w.yaml", "sha256": "ab" * 32}
    assert doc["horizon"] == {"start": T0, "end": "2027-01-02T00:00:00Z", "period_hours": 24,
                              "periods": 1, "period_runs": [{"hours": 24, "count": 1}]}
    assert (doc["budget_usd"], doc["monthly_budget_usd"]) == (None, 500)
    assert doc["prices"] == {"source": "test-prices.csv", "price_date": "2026-11-01"}
    assert doc["objective_usd"] == 37.575  # the LP minimises the variable cost
    assert doc["cost"] == {"variable_usd": 37.575, "fixed_usd": 24.9, "total_usd": 62.475,
                           "by_market": {"owned": 1.575, "on_demand": 0.0, "spot": 36.0},
                           "spot_always_there_usd": 62.475,  # spot availability 1 here:
                           "expected_usd": 62.475, "expected_on_demand_usd": 0.0}  # as held
    assert doc["assignments"] == [
        {"job": "train", "pool": "owned:box", "period_start": T0, "gpu_hours": 24.0,
         "work_gpu_hours": 24.0, "cost_usd": 1.26},
        {"job": "train", "pool": SPOT, "period_start": T0, "gpu_hours": 36.0,
         "work_gpu_hours": 36.0, "cost_usd": 36.0},
        {"job": "eval", "pool": "owned:box", "period_start": T0, "gpu_hours": 6.0,
         "work_gpu_hours": 6.0, "cost_usd": 0.315}]
    assert doc["instance_hours"] == [{"pool": SPOT, "period_start": T0, "instance_hours": 9.0,
                                      "cost_usd": 36.0}]
    # One spot instance for 9 h from the start of the day; MaxPrice 0.8 x 12 on demand;
    # train allows on demand, so the orchestrator may fall back to it.
    assert doc["fleet"] == [{
        "pool": SPOT, "region": "us-east-1", "instance_type": "p3.8xlarge", "market": "spot",
        "usd_per_hour": 4.0, "on_demand_usd_per_hour": 12.0, "spot_max_price_usd": 9.6,
        "on_demand_fallback": True, "zone": None, "spot_zone_prices": {},
        "slots": [{"slot": 0, "start": T0, "end": "2027-01-01T09:00:00Z", "setup_end": T0,
                   "jobs": ["train"], "gang": None, "node_rank": None, "nodes": 1,
                   # train's 36 GPU-hours on all 4 of the instance's GPUs: 9 h
                   "uses": [{"job": "train", "gpus": 4, "start": T0,
                             "end": "2027-01-01T09:00:00Z"}]}]}]
    assert doc["launch_overhead"] == {"setup_minutes": 0.0, "min_instance_minutes": 0.0}
    assert doc["limits"] == []
    # Speeds on the pools the file holds (V100 is the reference: 1); eval is not
    # interruptible, so it has none on spot.
    assert doc["jobs"] == [
        {"job": "train", "gpus": 4, "nodes": 1, "parallel": 1, "run": None, "setup": None,
         "speeds": {"owned:box": 1.0, SPOT: 1.0}},
        {"job": "eval", "gpus": 1, "nodes": 1, "parallel": 1, "run": None, "setup": None,
         "speeds": {"owned:box": 1.0}}]
    assert {n: (b["variable_usd"], b["total_usd"], b["savings_usd"], b["feasible"])
            for n, b in doc["baselines"].items()} == {
        "all_on_demand": (252.0, 276.9, 214.425, True),
        "cheapest_per_job": (132.0, 156.9, 94.425, True),
        "owned_first": (86.52, 111.42, 48.945, True)}
    # The server is full in its hours (12 of 12: train's 6 and eval's 6), not in GPU-hours.
    assert doc["binding"] == {
        "owned": [{"pool": "owned:box", "used_gpu_hours": 30.0, "capacity_gpu_hours": 48.0,
                   "used_pct": 62.5, "full_periods": 0}],
        "limits": [], "jobs_on_deadline": ["train", "eval"]}
    spot, box = doc["pools"]
    assert (spot["pool"], spot["vcpus"], spot["usd_per_hour"], spot["price_source"]) == (
        SPOT, 32, 4.0, "table")
    assert (box["pool"], box["count"], box["energy_usd_per_gpu_hour"], box["fixed_usd"]) == (
        "owned:box", 1, 0.0525, 24.9)
    assert (doc["purchases"], doc["no_buy_total_usd"], doc["buy_saving_usd"]) == ([], None, None)


def test_same_input_same_document() -> None:
    first = json.dumps(small_document(), sort_keys=True)
    second = json.dumps(small_document(), sort_keys=True)
    assert first == second


def test_write_and_read_back(tmp_path: Path) -> None:
    doc = to_document(small_plan(), "w.yaml", "0" * 64)
    path = tmp_path / "out" / "plan.json"
    write_plan(doc, path)
    back = read_plan(path)
    assert back == doc  # written and read by the same models
    assert back.fleet[0].slots[0].start.tzinfo is not None
    assert back.pool("owned:box") is not None


def test_reading_a_file_that_is_not_a_plan(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"schema": "something/v9"}')
    with pytest.raises(PlanFileError) as info:
        read_plan(path)
    assert ("schema = 'something/v9': expected one of costopt.plan/v1, costopt.plan/v2, "
            "costopt.plan/v3" in str(info.value))


def test_the_plan_id_hashes_the_content_not_the_workloads_path() -> None:
    here = small_document()
    there = small_document("./elsewhere/../w.yaml")
    other = small_document(sha="1" * 64)  # another workload content
    assert here["plan_id"] == there["plan_id"] == plan_id_for(here)
    assert other["plan_id"] != here["plan_id"]


def damage(doc: dict[str, Any], change: Callable[[dict[str, Any]], object],
           rehash: bool) -> dict[str, Any]:
    broken = copy.deepcopy(doc)
    change(broken)
    if rehash:  # as an adversary would: the id made to match, so the fields must be checked
        broken["plan_id"] = plan_id_for(broken)
    return broken


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]

    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        for p in parents:
            node = node[p]
        node[last] = value
    return change


def _extra_slots(doc: dict[str, Any]) -> None:
    # The "500 slots, no budget -> 501 launches": slots 1..500 added to a pool whose
    # instance-hours (4.5 in a 24 h period) allow ceil(4.5 / 24) = 1 instance at once.
    doc["monthly_budget_usd"] = None
    doc["fleet"][0]["slots"] += [{"slot": k, "start": T0, "end": "2027-01-02T00:00:00Z"}
                                 for k in range(1, 501)]


def _slot_twice(doc: dict[str, Any]) -> None:
    # The fuzz's find: slot 0 of the pool written twice, so one instance is asked to be two.
    doc["fleet"][0]["slots"].append(dict(doc["fleet"][0]["slots"][0]))


DAMAGED = [
    ("horizon", _set("horizon", {}), "horizon.start: is required"),
    ("period_hours abc", _set("horizon.period_hours", "abc"),
     "horizon.period_hours = 'abc': Input should be a valid integer"),
    ("no zone", _set("fleet.0.slots.0.start", "2027-01-01T00:00:00"),
     "fleet[0].slots[0].start = '2027-01-01T00:00:00': Input should have timezone info"),
    ("slot 10^30", _set("fleet.0.slots.0.slot", 10**30),
     "fleet[0].slots[0].slot = 1000000000000000000000000000000: Input should be less than or "
     "equal to 100000"),
    ("NaN price", _set("fleet.0.usd_per_hour", math.nan),
     "fleet[0].usd_per_hour = nan: Input should be a finite number"),
    ("inf price", _set("pools.0.usd_per_hour", math.inf),
     "pools[0].usd_per_hour = inf: Input should be a finite number"),
    ("negative price", _set("fleet.0.on_demand_usd_per_hour", -12.0),
     "fleet[0].on_demand_usd_per_hour = -12.0: Input should be greater than or equal to 0"),
    ("garbage pool", _set("fleet.0.pool", "garbage"),
     "fleet[0].pool = 'garbage': not a pool id; valid: aws:REGION:INSTANCE_TYPE:MARKET"),
    ("pool of another region", _set("fleet.0.pool", "aws:us-west-2:p3.8xlarge:spot"),
     "fleet[0]: pool 'aws:us-west-2:p3.8xlarge:spot' does not match its region "
     "'us-east-1'"),
    ("slot ends before it starts", _set("fleet.0.slots.0.end", "2026-12-31T00:00:00Z"),
     "slot 0 ends (2026-12-31T00:00:00Z) before it starts (2027-01-01T00:00:00Z)"),
    ("slot outside the horizon", _set("fleet.0.slots.0.end", "2027-03-01T00:00:00Z"),
     "fleet[0].slots[0] = '2027-01-01T00:00:00Z..2027-03-01T00:00:00Z': outside the plan's "
     "horizon 2027-01-01T00:00:00Z..2027-01-02T00:00:00Z"),
    ("500 slots", _extra_slots,
     "fleet[0].slots[1].slot = 1: the plan's instance-hours of aws:us-east-1:p3.8xlarge:spot "
     "allow at most 1 instance(s) at once (slots 0..0)"),
    ("slot held twice", _slot_twice,
     "fleet[0].slots[1].slot = 0: slot 0 of aws:us-east-1:p3.8xlarge:spot is already held "
     "2027-01-01T00:00:00Z.."),
    ("workload without a name", _set("workload.name", ""),
     "workload.name = '': String should have at least 1 character"),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in DAMAGED],
                         ids=[c[0] for c in DAMAGED])
@pytest.mark.parametrize("rehash", [True, False], ids=["id-matches", "id-stale"])
def test_a_damaged_plan_is_refused_naming_field_and_value(
        tmp_path: Path, change: Callable[[dict[str, Any]], object], expected: str,
        rehash: bool) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(damage(small_document(), change,
                                      rehash)))
    with pytest.raises(PlanFileError) as info:
        read_plan(path)
    assert expected in str(info.value)
    assert str(info.value).startswith(f"plan file {path} has ")


@pytest.mark.parametrize(("plan_id", "expected"), [
    ("", "plan_id = '': String should have at least 1 character"),
    ("a" * 300, "plan_id = '" + "a" * 77 + "...': String should have at most 64 characters"),
    ("t-00000000", "plan_id = 't-00000000': does not match the plan's content (that gives "),
])
def test_a_plan_id_that_is_not_the_contents_is_refused(tmp_path: Path, plan_id: str,
                                                         expected: str) -> None:
    doc = small_document()
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({**doc, "plan_id": plan_id}))
    with pytest.raises(PlanFileError) as info:
        read_plan(path)
    assert expected in str(info.value)


def test_five_hundred_problems_are_summed_up_after_twenty(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(damage(small_document(),
                                      _extra_slots, True)))
    with pytest.raises(PlanFileError) as info:
        read_plan(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 1 + 20 + 1  # the head, 20 problems, "and 480 more"
    assert lines[-1].endswith("and 480 more problems like these")


def test_periods_of_mixed_lengths_bound_each_period_by_its_own_length(tmp_path: Path) -> None:
    # The day as a 12 h period and two of 6 h. 12 instance-hours in the 6 h period from
    # 12:00 allow ceil(12 / 6) = 2 instances at once there: slot 1 over [12:00, 18:00) is
    # fine (with equal 12 h periods it would be ceil(12 / 12) = 1: refused).
    doc = small_document()
    doc["horizon"] = {**doc["horizon"], "period_hours": 12, "periods": 3,
                      "period_runs": [{"hours": 12, "count": 1}, {"hours": 6, "count": 2}]}
    doc["instance_hours"].append({"pool": SPOT, "period_start": "2027-01-01T12:00:00Z",
                                  "instance_hours": 12.0, "cost_usd": 48.0})
    doc["fleet"][0]["slots"].append({"slot": 1, "start": "2027-01-01T12:00:00Z",
                                     "end": "2027-01-01T18:00:00Z"})
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({**doc, "plan_id": plan_id_for(doc)}))
    assert [s.slot for s in read_plan(path).fleet[0].slots] == [0, 1]

    equal = {**doc, "horizon": {k: v for k, v in doc["horizon"].items() if k != "period_runs"}}
    equal["horizon"]["periods"] = 2
    path.write_text(json.dumps({**equal, "plan_id": plan_id_for(equal)}))
    with pytest.raises(PlanFileError) as equal_periods:
        read_plan(path)
    equal["horizon"]["periods"] = 3  # 3 x 12 h is not the day from start to end
    path.write_text(json.dumps({**equal, "plan_id": plan_id_for(equal)}))
    with pytest.raises(PlanFileError) as disagree:
        read_plan(path)
    assert "fleet[0].slots[1].slot = 1: the plan's instance-hours of " + SPOT + " allow at " \
        "most 1 instance(s) at once" in str(equal_periods.value)
    assert "horizon: start 2027-01-01T00:00:00Z, end 2027-01-02T00:00:00Z, 3 periods of 12 " \
        "h (at most) and the period runs do not agree" in str(disagree.value)


def test_a_v2_plan_file_written_before_v3_is_still_read() -> None:
    """``data/v2_example.plan.json``: ``costopt plan examples/workload.yaml`` as main wrote it
    before v3 (commit 638577e). Read as it is: its slots list their jobs without uses, its
    jobs have no speeds, its plan_id still matches its content."""
    plan = read_plan(Path(__file__).parent / "data" / "v2_example.plan.json")
    assert (plan.schema_, plan.plan_id) == ("costopt.plan/v2", "lab-jan-2027-1948ae80")
    slots = [s for pool in plan.fleet for s in pool.slots]
    assert slots and all(s.jobs and not s.uses for s in slots)
    assert plan.jobs and all(not j.speeds for j in plan.jobs)
    assert plan.speed("vit-pretrain", plan.fleet[0].pool) is None
    assert plan.cost.total_usd == 1719.423489 and plan.cost.spot_always_there_usd is None
