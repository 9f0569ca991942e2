"""Sweeps (``parallel``) and multi-node gangs (``nodes``) through the model, the baselines
and the fleet schedule, on tiny workloads worked out by hand."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from builders import catalog, offer, random_case, server, workload
from hypothesis import HealthCheck, given, settings
from hypothesis_profiles import examples

from costopt.errors import PlanFileError, WorkloadError
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.planfile import read_plan

P3 = "aws:us-east-1:p3.2xlarge:on_demand"
P3_16 = "aws:us-east-1:p3.16xlarge:on_demand"
P4D = "aws:us-east-1:p4d.24xlarge:on_demand"
WORKSTATION = server("ws", gpu="GTX-1080-TI", gpus=3, power_watts=950, idle_watts=110)


def hours_on(result, job: str, pool: str) -> float:
    return sum(a.gpu_hours for a in result.assignments if a.job == job and a.pool == pool)


def sweep_plan(parallel: int):
    """A 1-GPU sweep of 60 reference GPU-hours due in one day; an idle 3x GTX 1080 Ti
    workstation (speed 0.5) and p3.2xlarge (1 V100) at 3 USD/h on demand."""
    w = workload([{"name": "sweep", "gpus": 1, "gpu_hours": 60, "parallel": parallel}],
                 owned={"servers": [WORKSTATION]}, cloud={"markets": ["on_demand"]})
    return make_plan(w, catalog(offer(on_demand=3.0)))


def test_a_sweep_parallel_1_cannot_meet_is_planned_with_parallel_8_owned_first() -> None:
    # parallel 1: one GPU at a time, 24 h x best speed 1.0 = 24 reference GPU-hours < 60.
    one = sweep_plan(1)
    assert one.status == "infeasible"
    assert one.shortfalls[0].reason.startswith("deadline window: 1 GPU x 24 h")
    # parallel 8: up to 8 trials at once, 8 x 24 = 192 GPU-hours of room. The workstation's
    # 3 idle GPUs first: 3 x 24 h = 72 GPU-h x 0.5 = 36 reference GPU-h, at
    # (950 - 110) W / 3 / 1000 x 0.15 USD/kWh = 0.042 USD/GPU-h = 3.024 USD. The other 24 on
    # a V100 (speed 1): 24 GPU-h = 24 instance-hours x 3 = 72 USD. Variable 75.024 USD.
    eight = sweep_plan(8)
    assert eight.status == "optimal"
    assert hours_on(eight, "sweep", "owned:ws") == pytest.approx(72.0)
    assert eight.binding.owned[0].used_pct == pytest.approx(100.0)
    assert hours_on(eight, "sweep", P3) == pytest.approx(24.0)
    assert eight.variable_usd == pytest.approx(75.024)


@pytest.mark.parametrize(("parallel", "instance_hours"), [(8, 12.0), (4, 24.0)])
def test_trials_of_a_sweep_share_an_instance_up_to_parallel(parallel: int,
                                                            instance_hours: float) -> None:
    # 96 GPU-hours of 1-GPU trials in a day on p3.16xlarge (8 V100, 24 USD/h). With 8 at once
    # an instance holds 8 trials: 96 / 8 = 12 instance-hours = 288 USD. With 4 at once it
    # holds 4: 96 / 4 = 24 instance-hours (one instance all day) = 576 USD.
    w = workload([{"name": "sweep", "gpus": 1, "gpu_hours": 96, "parallel": parallel}],
                 cloud={"markets": ["on_demand"]})
    result = make_plan(w, catalog(offer("p3.16xlarge", gpus=8, vcpus=64, on_demand=24.0)))
    [ph] = result.pool_hours
    assert ph.instance_hours == pytest.approx(instance_hours)
    assert result.variable_usd == pytest.approx(24.0 * instance_hours)
    # all_on_demand: 24 / (1 GPU x min(parallel, 8) x speed 1) x 96: the same, never less.
    assert result.baselines["all_on_demand"].variable_usd == pytest.approx(
        24.0 / min(parallel, 8) * 96)


def two_node_plan(**cloud: object):
    """A 2-node gang of 8 A100s per node (speed 2.0): 2 x 8 x 2.0 = 32 reference GPU-hours
    an hour, 960 of them = 30 gang-hours over two days; p4d.24xlarge at 32 USD/h."""
    w = workload([{"name": "big", "gpus": 8, "nodes": 2, "gpu_hours": 960}], days=2,
                 cloud={"markets": ["on_demand"], **cloud})
    cat = catalog(offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96,
                        on_demand=32.0))
    return w, cat, make_plan(w, cat)


def test_a_two_node_gang_holds_two_instances_together_never_one_alone() -> None:
    # Earliest first: 24 gang-hours on day 0, 6 on day 1. Each gang-hour holds 2 instances:
    # 48 + 12 = 60 instance-hours x 32 = 1,920 USD (= price / (gpus x s) x work =
    # 32 / 16 x 960, the all-on-demand baseline: nothing cheaper exists).
    w, _cat, result = two_node_plan()
    assert result.status == "optimal"
    assert [(ph.period, ph.instance_hours) for ph in result.pool_hours] == [
        (0, pytest.approx(48.0)), (1, pytest.approx(12.0))]
    assert result.variable_usd == pytest.approx(1920.0)
    assert result.baselines["all_on_demand"].variable_usd == pytest.approx(1920.0)
    doc = to_document(result, "w.yaml", "0" * 64).as_json()
    [fleet] = doc["fleet"]
    start = w.horizon.start
    # Slots 0 and 1 are the gang's ranks 0 and 1, over the same interval: 30 h from the start,
    # each carrying the gang on its 8 GPUs all that time.
    assert fleet["slots"] == [
        {"slot": k, "start": "2027-01-01T00:00:00Z", "end": "2027-01-02T06:00:00Z",
         "setup_end": "2027-01-01T00:00:00Z",  # the builders' workload: no setup time
         "jobs": ["big"], "gang": 0, "node_rank": k, "nodes": 2,
         "uses": [{"job": "big", "gpus": 8, "start": "2027-01-01T00:00:00Z",
                   "end": "2027-01-02T06:00:00Z"}]} for k in (0, 1)]
    for t in range(w.horizon.periods):  # in every period the job runs: exactly 2 at once
        begin = start + timedelta(days=t)
        moments = [begin + timedelta(hours=h) for h in range(24)]
        running = [sum(1 for s in fleet["slots"] if s["start"] <= _iso(m) < s["end"])
                   for m in moments]
        assert set(running) <= {0, 2}
    # its speed on the p4d as planned: 60 instance-hours x 8 GPUs = 480 GPU-hours do its
    # 960 reference GPU-hours, s = 2
    assert doc["jobs"] == [{"job": "big", "gpus": 8, "nodes": 2, "parallel": 1, "run": None,
                            "setup": None, "speeds": {P4D: 2.0}}]


def test_a_gang_whose_setup_leaves_its_window_short_runs_a_second_gang() -> None:
    # Found by the random profile (tests/plan/test_fleet_limits.py, seed 3). A 3-node
    # gang of 4 T4s per node (speed 0.5): 36 reference GPU-hours are 72 GPU-hours,
    # 18 node-hours, due in 6 hours, with 10 minutes of setup per instance. One gang works
    # 3 x 5 h 50 = 17.5 node-hours; the other 0.5 need a second gang (parallel 2) of 3
    # nodes, each 10 minutes of setup and 10 of work: 1 instance-hour. 18 + 1 = 19
    # instance-hours at 1 USD. (The fleet once ran the one gang and a lone fourth
    # instance of 21 minutes that carried nothing, leaving the gang 0.5 node-hours short.)
    w = workload([{"name": "g", "gpus": 4, "gpu_hours": 36.0, "nodes": 3, "parallel": 2,
                   "deadline": "2027-01-01T06:00:00Z", "interruptible": False}],
                 period_hours=6, cloud={"setup_minutes": 10, "markets": ["on_demand"]})
    result = make_plan(w, catalog(offer("g4dn.12xlarge", gpu="T4", gpus=4, vcpus=48,
                                        on_demand=1.0)))
    assert result.status == "optimal" and result.total_usd == pytest.approx(19.0)
    [fleet] = result.fleet
    spans = sorted((r.gang, r.node_rank, r.end - r.start) for r in fleet.runs)
    assert spans == [(0, k, timedelta(hours=6)) for k in range(3)] + [
        (3, k, timedelta(minutes=20)) for k in range(3)]


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_one_node_job_on_the_same_pool_gets_slots_of_its_own() -> None:
    # The gang's nodes are its own: a 4-GPU job of 96 reference GPU-hours beside it (48
    # GPU-hours on A100s) runs 48 / 4 = 12 hours on an instance of its own, not in the
    # gang's instance-hours (packing alone would let it take 48 / 8 = 6 of them).
    w = workload([{"name": "big", "gpus": 8, "nodes": 2, "gpu_hours": 960},
                  {"name": "small", "gpus": 4, "gpu_hours": 96}], days=2,
                 cloud={"markets": ["on_demand"]})
    cat = catalog(offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96,
                        on_demand=32.0))
    doc = to_document(make_plan(w, cat), "w.yaml", "0" * 64).as_json()
    slots = doc["fleet"][0]["slots"]
    gang = [s for s in slots if s.get("gang") is not None]
    others = [s for s in slots if s.get("gang") is None]
    assert {s["slot"] for s in gang} == {0, 1} and all(s["jobs"] == ["big"] for s in gang)
    assert others and all(s["jobs"] == ["small"] and s["slot"] >= 2 for s in others)
    # 60 instance-hours of the gang + 48 GPU-h / 4 GPUs = 12 of the small job's.
    hours = sum(_hours(s) for s in slots)
    assert hours == pytest.approx(72.0)
    assert doc["cost"]["variable_usd"] == pytest.approx(72 * 32.0)


def _hours(slot: dict) -> float:
    parse = datetime.fromisoformat
    return (parse(slot["end"].replace("Z", "+00:00"))
            - parse(slot["start"].replace("Z", "+00:00"))).total_seconds() / 3600


@pytest.mark.parametrize(("cloud", "fix"), [
    # 2 x 96 vCPUs at once = 192 > 128
    ({"quotas": [{"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 128}]},
     f"{P4D}: 2 x 96 vCPUs > the us-east-1 on_demand P quota of 128"),
    ({"max_instances": [{"instance_type": "p4d.24xlarge", "region": "us-east-1",
                         "market": "on_demand", "count": 1}]}, f"{P4D} has max_instances 1"),
])
def test_a_gang_that_quotas_or_caps_cannot_hold_at_once_is_an_input_error(
        cloud: dict, fix: str) -> None:
    with pytest.raises(WorkloadError) as err:
        two_node_plan(**cloud)
    [issue] = err.value.issues
    assert (issue.path, issue.value) == ("jobs[0].nodes", 2)
    assert fix in issue.message


def test_owned_multi_node_needs_count_at_least_nodes() -> None:
    # Two 4-GPU V100 servers of one entry hold a 2-node gang of 4 GPUs; one does not.
    job = {"name": "big", "gpus": 4, "nodes": 2, "gpu_hours": 96}
    ok = make_plan(workload([job], owned={"servers": [server(count=2)]}), catalog())
    # 2 x 4 GPUs x 24 h = 192 GPU-h of room; 96 needed: 12 h of the gang.
    assert ok.status == "optimal"
    assert hours_on(ok, "big", "owned:box") == pytest.approx(96.0)
    with pytest.raises(WorkloadError) as err:
        make_plan(workload([job], owned={"servers": [server(count=1)]}), catalog())
    assert err.value.issues[0].path == "jobs[0].nodes"
    assert "count >= 2" in err.value.issues[0].message
    assert "(owned:box has 1 server(s))" in err.value.issues[0].message


def test_gang_row_bounds_parallel_nodes_gpus() -> None:
    # parallel 2 of 2 nodes of 4 GPUs: 16 GPUs at once x 24 h = 384 GPU-h a day on two
    # 2x4-GPU... four servers of 4 V100 (count 4): 400 needed: 16 short in a one-day window.
    job = {"name": "j", "gpus": 4, "nodes": 2, "parallel": 2, "gpu_hours": 400}
    result = make_plan(workload([job], owned={"servers": [server(count=4)]}), catalog())
    assert result.status == "infeasible"
    assert result.shortfalls[0].gpu_hours == pytest.approx(16.0)
    assert result.shortfalls[0].reason.startswith(
        "deadline window: 2 gangs x 2 nodes x 4 GPUs x 24 h")


@settings(max_examples=examples(40, ci=15), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(random_case())
def test_fleet_holds_each_gang_whole_and_costs_the_instance_hours(case) -> None:
    w, cat = case
    result = make_plan(w, cat, solver="highs")
    doc = to_document(result, "w.yaml", "0" * 64).as_json()
    nodes = {job.name: job.nodes for job in w.jobs}
    for fleet in doc["fleet"]:
        slots = fleet["slots"]
        groups: dict[tuple, list[dict]] = {}
        for s in slots:
            if s.get("gang") is not None:
                groups.setdefault((s["gang"], s["start"], s["end"]), []).append(s)
        for (_gang, _start, _end), members in groups.items():
            [job] = members[0]["jobs"]
            # N instances over the same interval, ranks 0..N-1: never one alone
            assert sorted(m["node_rank"] for m in members) == list(range(nodes[job]))
        on_pool = {a.job for a in result.assignments if a.pool == fleet["pool"]}
        assert all(set(s["jobs"]) <= on_pool for s in slots)
        # the slots' hours are the pool's instance-hours (each slot at least a minute)
        hours = sum(ph.instance_hours for ph in result.pool_hours if ph.pool == fleet["pool"])
        assert sum(_hours(s) for s in slots) == pytest.approx(hours, abs=0.02 * len(slots))


@pytest.mark.parametrize(("change", "message"), [
    ({"node_rank": 2}, "node_rank 2 of 2 nodes"),  # ranks are 0..nodes-1
    ({"gang": None}, "both or neither"),
    ({"nodes": 0}, "greater than or equal to 1"),
])
def test_a_damaged_gang_slot_in_a_plan_file_is_refused(tmp_path, change: dict,
                                                       message: str) -> None:
    _w, _cat, result = two_node_plan()
    doc = to_document(result, "w.yaml", "0" * 64).as_json()
    doc["fleet"][0]["slots"][1].update(change)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))  # as damaged: write_plan writes a valid document only
    with pytest.raises(PlanFileError) as err:
        read_plan(path)
    assert message in str(err.value)


def test_a_gangs_on_two_pools_run_one_after_another_within_parallel() -> None:
    # A 2-node job of 1 GPU per node, 2 gangs at once, 180 reference GPU-hours in a day, no
    # setup. p3.2xlarge (V100, 1 USD/h per node) does 1 per node-hour, p4d.24xlarge (A100,
    # twice the speed, 8 USD/h) 2: its gangs hold at most 2 x 2 x 24 = 96 GPU-hours, so
    # with a on p4d and b on p3, 2a + b = 180 and a + b <= 96, cheapest at a = 84, b = 12:
    # 84 x 8 + 12 x 1 = 684 USD, every instant of the day running 2 gangs. p4d: one gang
    # all day and one for 18 h; p3: one gang for 6 h, in the 6 h the second p4d gang
    # leaves (once both pools ran theirs from 00:00: 3 gangs at once till 06:00; found at
    # random seeds of tests/plan/test_fleet_limits.py).
    w = workload([{"name": "g", "gpus": 1, "nodes": 2, "parallel": 2, "gpu_hours": 180.0,
                   "interruptible": False}], cloud={"markets": ["on_demand"]})
    cat = catalog(offer("p3.2xlarge", on_demand=1.0),
                  offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96, on_demand=8.0))
    result = make_plan(w, cat)
    assert result.status == "optimal" and result.total_usd == pytest.approx(684.0)
    gangs = {(s.pool, r.gang, r.start, r.end) for s in result.fleet for r in s.runs}
    assert sorted(end - start for _p, _g, start, end in gangs) == [
        timedelta(hours=6), timedelta(hours=18), timedelta(hours=24)]
    day = w.horizon.start
    for hour in range(24):  # two gangs (of two nodes each) at every hour
        moment = day + timedelta(hours=hour, minutes=30)
        assert sum(1 for s in result.fleet for r in s.runs if r.start <= moment < r.end) == 4
