"""Spot availability in the spot efficiency (spec v2): ``e = a · (1 - r · (checkpoint/2 +
restart)/60)``, ``a`` from ``cloud.spot_availability`` lines, else from the statistics of
``cloud.spot_traces``, else assumed 1 - and the plan names the pools it assumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import catalog, offer, workload

from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.plan.pools import build_pools, eligibility
from costopt.workload import load_workload

SPOT = "aws:us-east-1:p3.2xlarge:spot"
PRICES = catalog(offer("p3.2xlarge", "us-east-1", on_demand=3.0, spot=1.0, rate=0.12))
JOB = {"name": "train", "gpus": 1, "gpu_hours": 10, "interruptible": True,
       "checkpoint_minutes": 60}


def spot_efficiency_of(**cloud: object) -> tuple[float, str]:
    w = workload([JOB], cloud={"regions": ["us-east-1"], **cloud})
    pools = build_pools(w, PRICES)
    (pair,) = [e for e in eligibility(w, pools, PRICES) if pools.all[e.pool].id == SPOT]
    (pool,) = [p for p in pools.cloud if p.id == SPOT]
    return pair.efficiency, pool.availability_source


def test_without_availability_it_is_assumed_one() -> None:
    # r = 0.12 an hour x (60/2 + 10) min = 0.08 lost: e = 0.92
    assert spot_efficiency_of() == (pytest.approx(0.92), "assumed")


def test_a_line_sets_the_availability() -> None:
    # a = 0.5: e = 0.5 x 0.92 = 0.46
    line = {"instance_type": "p3.2xlarge", "region": "us-east-1", "availability": 0.5}
    assert spot_efficiency_of(spot_availability=[line]) == (pytest.approx(0.46), "given")
    # Zone lines for a regional pool: the best zone (a launch may land in any); a line for
    # the region wins over them.
    zones = [{**line, "az": "use1-az1", "availability": 0.3},
             {**line, "az": "use1-az2", "availability": 0.6}]
    assert spot_efficiency_of(spot_availability=zones)[0] == pytest.approx(0.6 * 0.92)
    assert spot_efficiency_of(spot_availability=[*zones, line])[0] == pytest.approx(0.46)


def test_traces_give_availability_and_interruptions(tmp_path: Path) -> None:
    # Ten hourly ticks 1 1 1 1 0 1 1 1 0 0: capacity 7 ticks of 10 (a = 0.7); 2 falls to 0
    # in 7 spot-hours (r = 2/7 an hour). e = 0.7 x (1 - 2/7 x 40/60) = 0.56667.
    (tmp_path / "t.json").write_text(json.dumps(
        {"metadata": {"gap_seconds": 3600}, "data": [1, 1, 1, 1, 0, 1, 1, 1, 0, 0]}))
    (tmp_path / "traces.yaml").write_text(
        f"- {{pool: '{SPOT}', file: t.json, start: 2027-01-01T00:00:00Z}}\n")
    efficiency, source = spot_efficiency_of(spot_traces=tmp_path / "traces.yaml")
    assert source == "traces"
    assert efficiency == pytest.approx(0.7 * (1 - 2 / 7 * 40 / 60))


def test_a_workloads_traces_path_is_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "name: t\nhorizon: {start: 2027-01-01, days: 1}\n"
        "cloud: {regions: [us-east-1], spot_traces: sub/traces.yaml}\n"
        "jobs: [{name: a, gpu_hours: 1}]\n")
    w = load_workload(tmp_path / "w.yaml")
    assert w.cloud is not None and w.cloud.spot_traces == (tmp_path / "sub/traces.yaml")


def test_the_plan_names_the_pools_whose_availability_it_assumed() -> None:
    w = workload([JOB], cloud={"regions": ["us-east-1"]})
    doc = to_document(make_plan(w, PRICES), "w.yaml", "0" * 64).as_json()
    assert doc["spot_availability_assumed"] == [SPOT]
    (record,) = [p for p in doc["pools"] if p["pool"] == SPOT]
    assert (record["spot_availability"], record["spot_availability_source"]) == (1.0, "assumed")
    line = {"instance_type": "p3.2xlarge", "region": "us-east-1", "availability": 0.9}
    w = workload([JOB], cloud={"regions": ["us-east-1"], "spot_availability": [line]})
    doc = to_document(make_plan(w, PRICES), "w.yaml", "0" * 64).as_json()
    assert doc["spot_availability_assumed"] == []
