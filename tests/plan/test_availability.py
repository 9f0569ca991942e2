"""Spot availability in the spot efficiency (spec v3): ``e = a · (1 - r · (checkpoint/2 +
restart)/60)``, ``a`` per zone from the zone's own trace in ``cloud.spot_traces`` (over the
horizon, or its last four weeks), else ``cloud.spot_availability`` lines, else the default
0.59 - and the plan names the pools it assumed. And the deadline reserve built on it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from builders import at, catalog, offer, server, workload
from fleet_walk import short_of_layout_only
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costopt.plan.model import build_model, first_periods, identical_runs
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.plan.pools import build_pools, eligibility
from costopt.plan.protection import protection
from costopt.pricing.catalog import ZoneSpotPrice
from costopt.workload import DEFAULT_SPOT_AVAILABILITY, CloudSpec
from costopt.workload_checks import load_workload

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


def test_without_availability_the_default_of_public_traces_is_assumed() -> None:
    # r = 0.12 an hour x (60/2 + 10) min = 0.08 lost: 0.92; with the default a = 0.59 (the
    # median of 21 public AWS GPU traces): e = 0.59 x 0.92 = 0.5428.
    assert CloudSpec().spot_availability_default == DEFAULT_SPOT_AVAILABILITY == 0.59
    assert spot_efficiency_of(spot_availability_default=DEFAULT_SPOT_AVAILABILITY) == (
        pytest.approx(0.5428), "assumed")
    assert spot_efficiency_of(spot_availability_default=1.0) == (pytest.approx(0.92), "assumed")


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


EAST_ZONES = replace(PRICES.offers[0], spot_zones=(ZoneSpotPrice("use1-az1", 1.0, None),
                                                   ZoneSpotPrice("use1-az2", 1.0, None)))


def zone_availability(tmp_path: Path, traces: dict[str, tuple[str, list[int]]]
                      ) -> dict[str, tuple[float, str]]:
    """Each spot pool's availability and its source, with one hourly trace per zone
    (zone -> (start, data)), for a one-day horizon from 2027-01-01."""
    lines = []
    for zone, (start, data) in traces.items():
        (tmp_path / f"{zone}.json").write_text(json.dumps(
            {"metadata": {"gap_seconds": 3600}, "data": data}))
        lines.append(f"- {{pool: '{SPOT}:{zone}', file: {zone}.json, start: {start}}}")
    (tmp_path / "traces.yaml").write_text("\n".join(lines) + "\n")
    w = workload([JOB], cloud={"regions": ["us-east-1"], "spot_traces": tmp_path / "traces.yaml"})
    return {p.zone: (p.availability, p.availability_source)
            for p in build_pools(w, catalog(EAST_ZONES)).cloud if p.market == "spot"}


def test_each_zone_gets_its_own_trace_not_the_regions_best(tmp_path: Path) -> None:
    # use1-az1 has capacity 6 hours of 24 (0.25), use1-az2 18 of 24 (0.75).
    day = "2027-01-01T00:00:00Z"
    got = zone_availability(tmp_path, {"use1-az1": (day, [1] * 6 + [0] * 18),
                                       "use1-az2": (day, [1] * 18 + [0] * 6)})
    assert got == {"use1-az1": (0.25, "traces"), "use1-az2": (0.75, "traces")}


def test_a_trace_counts_over_the_horizon_or_else_its_last_four_weeks(tmp_path: Path) -> None:
    # use1-az1: two days from 2026-12-31, the first all 0, the horizon's day 12 of 24 -> 0.5
    # (the whole file would say 0.25). use1-az2: five weeks ending before the horizon, the
    # first week 0 and the last four 1 -> 1.0 over its last four weeks (the file: 0.8).
    week = 7 * 24
    got = zone_availability(tmp_path, {
        "use1-az1": ("2026-12-31T00:00:00Z", [0] * 24 + [1, 0] * 12),
        "use1-az2": ("2026-11-01T00:00:00Z", [0] * week + [1] * 4 * week)})
    assert got == {"use1-az1": (0.5, "traces"), "use1-az2": (1.0, "traces")}


def reserve_case(gpu_hours: float, parallel: int = 1, **cloud: object):
    """One 1-GPU job due at the end of one day of two 12-hour periods, on p3.2xlarge (spot
    1 USD/h, on demand 3), the deadline reserve on."""
    job = {"name": "train", "gpus": 1, "gpu_hours": gpu_hours, "interruptible": True,
           "deadline": "2027-01-02T00:00:00Z", "parallel": parallel}
    return workload([job], period_hours=12,
                    cloud={"regions": ["us-east-1"], "deadline_reserve": True, **cloud})


def test_the_reserve_row_keeps_the_work_left_within_on_demand_reach() -> None:
    # At 12:00 on-demand can still do 12 h x 1 GPU = 12 GPU-h by the deadline, so of 20
    # GPU-h at least 8 must be done before: reserve[train,2027-01-01T12:00] >= 8, over the
    # job's GPU-hours of period 0 on both pools at their work per GPU-hour (1 on demand;
    # spot 0.5 x 1 at availability 0.5).
    w = reserve_case(20, spot_availability_default=0.5)
    pools = build_pools(w, PRICES)
    pairs = eligibility(w, pools, PRICES)
    lp = build_model(w, pools, pairs)
    (row,) = [r for r in range(lp.num_rows) if lp.row_family[r] == "reserve"]
    assert lp.row_name(row) == "reserve[train,2027-01-01T12:00]"
    assert lp.row_lower[row] == pytest.approx(8.0)
    terms = {lp.col_name(int(c)): v for r, c, v in zip(lp.a_row, lp.a_col, lp.a_val,
                                                        strict=True) if r == row}
    assert terms == {
        "h[train,aws:us-east-1:p3.2xlarge:on_demand,2027-01-01T00:00]": pytest.approx(1.0),
        f"h[train,{SPOT},2027-01-01T00:00]": pytest.approx(0.5 * 0.92),
        "unreserved[train]": 1.0}  # what cannot be kept, at a penalty (zero here)
    # What it cannot keep costs a tenth of the shortfall penalty: 100 x the dearest USD per
    # unit of work (3, on demand).
    unreserved = lp.unreserved[0]
    assert (lp.cost[unreserved], lp.variable_cost[unreserved]) == (pytest.approx(300.0), 0.0)
    result = make_plan(w, PRICES)  # it keeps it: 8 GPU-h of work or more before 12:00
    assert sum(a.work_gpu_hours for a in result.assignments if a.period == 0) >= 8 - 1e-6
    # 10 GPU-h fit on-demand after 12:00 whole: no row. Without the reserve: none either.
    assert "reserve" not in build_model(reserve_case(10), pools, pairs).row_family
    assert "reserve" not in build_model(reserve_case(20, deadline_reserve=False), pools,
                                        pairs).row_family


def test_a_job_whose_work_outgrows_on_demand_gets_no_reserve_and_is_not_protected() -> None:
    # 30 GPU-h in 24 h, two trials at once: spot runs both (48 GPU-h), but on demand holds
    # one instance, 24 GPU-h at most, so no boundary can keep the reserve; the plan runs
    # spot and says the job is not protected, rather than failing.
    cap = {"instance_type": "p3.2xlarge", "region": "us-east-1", "market": "on_demand",
           "count": 1}
    w = reserve_case(30, parallel=2, max_instances=[cap])
    result = make_plan(w, PRICES)
    assert result.status == "optimal"
    (verdict,) = protection(result)
    assert not verdict.protected and verdict.reason.startswith("deadline:")


def test_the_plan_file_holds_the_held_cost_and_the_cost_were_spot_always_there() -> None:
    # 10 GPU-h, spot only, availability 0.5, no interruptions priced: the spot instance is
    # held 10 / (0.5 x 0.92) = 21.74 h at 1 USD/h (every held hour paid; the expected cost
    # carried out is worked out in test_expected.py); were spot always
    # there the same work takes half the hours: 10.87 USD.
    w = workload([JOB], cloud={"regions": ["us-east-1"], "markets": ["spot"],
                               "spot_availability_default": 0.5})
    doc = to_document(make_plan(w, PRICES), "w.yaml", "0" * 64).as_json()
    assert doc["cost"]["total_usd"] == pytest.approx(10 / (0.5 * 0.92), rel=1e-4)
    assert doc["cost"]["spot_always_there_usd"] == pytest.approx(10 / 0.92, rel=1e-4)


@st.composite
def reserve_cases(draw: st.DrawFn):
    """One to three jobs with a deadline that may use spot and on demand, each with work a
    share of 0.5 to 1 of what one gang does on demand in its window of 2 to 6 twelve-hour
    periods - so its reserve binds at a boundary or more - spot at availability 0.59 and
    on demand at 3 USD/h, sometimes an owned server. No setup: with it the plan's costs and
    assignments are its fleet's, which lays the LP's instance-hours out anew (``fleet.py``)
    - two equal LP optima then cost a little differently (1.50 USD of 360 on a drawn case,
    CBC against HiGHS), and work moves within a run; this tests the model."""
    periods = draw(st.integers(2, 6))
    offers = [offer("p3.2xlarge", on_demand=3.0, spot=draw(st.floats(0.3, 2.0)), rate=0.1),
              offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0,
                    spot=draw(st.floats(1.2, 8.0)), rate=0.2)]
    jobs = []
    for i in range(draw(st.integers(1, 3))):
        first = draw(st.integers(0, periods - 2))
        last = draw(st.integers(first + 2, periods))
        gpus = draw(st.sampled_from([1, 4]))
        share = draw(st.floats(0.5, 1.0))
        jobs.append({"name": f"j{i}", "gpus": gpus, "interruptible": True,
                     "gpu_hours": round(share * gpus * 12 * (last - first), 3),
                     "start": at(12 * first), "deadline": at(12 * last)})
    owned = {"servers": [server(gpus=4, availability=draw(st.floats(0.3, 1.0)))]} \
        if draw(st.booleans()) else None
    cloud = {"deadline_reserve": True, "spot_availability_default": DEFAULT_SPOT_AVAILABILITY}
    return workload(jobs, days=periods // 2 + 1, period_hours=12, owned=owned,
                    cloud=cloud), catalog(*offers)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reserve_cases())
def test_reserves_hold_and_merged_runs_stay_exact(case) -> None:
    # Every reserve row at a boundary between runs of identical periods holds on the plan's
    # work before it (or the job is reported as not protected), merging runs gives the
    # model's own optimum, and the two solvers agree. Inside a run the plan's assignments
    # are its fleet's, which spreads a job's cloud hours evenly over the run (``fleet.py``)
    # while its owned hours stay where the LP put them: that can move work past an inner
    # boundary the LP kept (found here: 6 GPU-h of 12 before noon) - the layout's to keep.
    w, cat = case
    merged = make_plan(w, cat, solver="highs")
    whole = make_plan(w, cat, solver="highs", merge=False)
    cbc = make_plan(w, cat, solver="cbc")
    # The model's statuses agree; the plan's may not where the greedy layout leaves one
    # optimum's job short and not another's, and that plan is then infeasible for its
    # layout alone (a known gap, ``planner.layout_shortfalls``; found here: j0 1 GPU 24
    # GPU-h beside two 4-GPU jobs, owned, on demand and spot in one 24-hour run).
    assert len({p.status for p in (merged, whole, cbc) if not short_of_layout_only(p)}) <= 1
    # Equal costs across merging and solvers is not asserted: the fleet's layout is a
    # greedy, and where it cannot sequence a job split over pools the planner keeps the job
    # to one pool, so two equal LP optima may still cost differently (found here: three
    # 1-GPU jobs over owned, on demand and spot in one 24-hour run, 83.18 USD merged against
    # 127.26 unmerged, where one on-demand instance carries two jobs one after the other).
    pools = build_pools(w, cat)
    pairs = eligibility(w, pools, cat)
    lp = build_model(w, pools, pairs)
    starts = first_periods(identical_runs(w))
    rows = [r for r in range(lp.num_rows) if lp.row_family[r] == "reserve"
            and starts[lp.row_key[r][1]] == lp.row_key[r][1]]
    kept = {v.job: v.protected for v in protection(whole)}
    for r in rows:
        j, k = lp.row_key[r]
        done = sum(a.work_gpu_hours for a in whole.assignments
                   if a.job == w.jobs[j].name and a.period < k)
        assert done >= lp.row_lower[r] - 1e-6 or not kept.get(w.jobs[j].name, True)


def _j0_beside(*, gpus: int, gpu_hours: float, start: int, deadline: int, days: int):
    """Hypothesis's reserve cases: j0 (1 GPU, 18 GPU-h from hour 0 to 24) beside j1 (its
    GPUs and work, from hour ``start`` to ``deadline``), 12-hour periods, spot availability
    0.59 and the reserve on; p3.2xlarge (3 USD/h on demand, 1 spot) and p3.8xlarge (12, 2)."""
    w = workload([{"name": "j0", "gpus": 1, "gpu_hours": 18.0, "interruptible": True,
                   "start": at(0), "deadline": at(24)},
                  {"name": "j1", "gpus": gpus, "gpu_hours": gpu_hours, "interruptible": True,
                   "start": at(start), "deadline": at(deadline)}],
                 days=days, period_hours=12,
                 cloud={"deadline_reserve": True, "spot_availability_default": 0.59})
    return w, catalog(offer("p3.2xlarge", on_demand=3.0, spot=1.0, rate=0.1),
                      offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=2.0,
                            rate=0.2))


def test_keeping_a_job_to_spot_never_makes_a_feasible_plan_infeasible() -> None:
    # Hypothesis's simplest case: no owned servers, on demand unlimited, so it is feasible.
    # Spot does e = 0.59 x (1 - 0.1/h x (30 + 10) min / 60) = 0.550667 work per GPU-hour
    # (availability, then checkpoint and restart losses). Both 1-GPU jobs run their whole
    # windows, spot (1 USD/h) where they can and on demand (3 USD/h, e = 1) for the rest:
    # j0, 18 GPU-h in 24 h: on demand o0 = (18 - 24 e) / (1 - e) = 10.6469 h; j1, 36 GPU-h
    # in 48 h: o1 = (36 - 48 e) / (1 - e) = 2 o0. Cost: 72 h x 1 + 2 x (o0 + o1) = 72 +
    # 6 o0 = 135.881 USD (the reserves - j0 6 GPU-h before 12:00, j1 12 before day 2 and 24
    # before its noon - hold on that, work early). The fleet's layout of the unmerged
    # optimum left a job short, and keeping each split job to its main pool kept j0 to spot,
    # where 24 h do 13.2 GPU-h of its 18: that re-solve is infeasible, and the plan said so.
    e = 0.59 * (1 - 0.1 * (30 + 10) / 60)
    o0 = (18 - 24 * e) / (1 - e)
    w, cat = _j0_beside(gpus=1, gpu_hours=36.0, start=0, deadline=48, days=3)
    for plan in (make_plan(w, cat, solver="highs", merge=False),
                 make_plan(w, cat, solver="highs"), make_plan(w, cat, solver="cbc")):
        assert plan.status == "optimal" and not plan.shortfalls
        assert plan.variable_usd == pytest.approx(72 + 6 * o0, abs=0.01)
        assert plan.variable_usd == pytest.approx(135.881, abs=0.01)


def test_the_cost_does_not_depend_on_which_equal_optimum_the_solver_returns() -> None:
    # Hypothesis's case: j0 (1 GPU, 18 GPU-h in 24 h) and j1 (4 GPUs, 96 GPU-h, 12:00 to
    # 36:00), spot at availability 0.59 (e = 0.550667 work per GPU-hour, as above). j1 runs
    # on p3.8xlarge on demand throughout (24 h x 12 USD = 288; 4 x 1 GPU on spot or demand
    # would cost no less). j0, as in the case above, runs its whole 24 h: o0 = (18 - 24 e) /
    # (1 - e) = 10.6469 h on demand, the other 13.3531 h on spot: 24 + 2 o0 = 45.29 USD.
    # Total 288 + 24 + 2 o0 = 333.29 USD. The LP may put j0's on-demand hours in either
    # 12-hour period (its reserve, 6 GPU-h before noon, holds both ways): HiGHS unmerged puts
    # them after noon, where the spot instance that ran all morning carries on for 1.35 h;
    # the layout then runs j0 on demand after that stretch, not beside it (it once kept j0
    # to on demand there instead: 334.18 USD). CBC puts them before noon.
    e = 0.59 * (1 - 0.1 * (30 + 10) / 60)
    o0 = (18 - 24 * e) / (1 - e)
    w, cat = _j0_beside(gpus=4, gpu_hours=96.0, start=12, deadline=36, days=2)
    for plan in (make_plan(w, cat, solver="highs", merge=False),
                 make_plan(w, cat, solver="highs"), make_plan(w, cat, solver="cbc"),
                 make_plan(w, cat, solver="cbc", merge=False)):
        assert plan.status == "optimal" and not plan.shortfalls
        assert plan.variable_usd == pytest.approx(288 + 24 + 2 * o0, abs=0.01)
        assert plan.variable_usd == pytest.approx(333.29, abs=0.01)
        # j0 runs on one instance at a time: its stretches on the two pools never overlap.
        j0 = sorted((u.start, u.end) for s in plan.fleet for r in s.runs for u in r.uses
                    if u.job == "j0")
        assert all(a[1] <= b[0] for a, b in zip(j0, j0[1:], strict=False))
        assert sum((b - a).total_seconds() for a, b in j0) / 3600 == pytest.approx(24.0)
