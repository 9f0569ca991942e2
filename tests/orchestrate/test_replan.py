"""``replan.plan_rest``: a re-plan solves quickly, and thoroughly only where that leaves work
short."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import catalog, offer, workload

from costopt.orchestrate.replan import REPLAN_TOLERANCES, plan_rest
from costopt.plan.planner import make_plan
from costopt.pricing.catalog import ZoneSpotPrice

EAST = replace(offer(on_demand=3.0, spot=1.5, rate=0.0), spot_zones=(
    ZoneSpotPrice("use1-az1", 1.0, "us-east-1b"), ZoneSpotPrice("use1-az2", 1.5, "us-east-1a")))
AZ1 = "aws:us-east-1:p3.2xlarge:spot:use1-az1"
AZ2 = "aws:us-east-1:p3.2xlarge:spot:use1-az2"


def test_a_quick_re_plan_that_leaves_work_short_is_solved_again_thoroughly() -> None:
    # use1-az1 (1.0 USD/h) is held for the first 6 of 24 hourly periods; use1-az2 (1.5) is
    # free; setup s = 50 minutes per instance start; 20 GPU-h of a 1-GPU job due at the end
    # of the day. The quick solve counts setup over the workload's one 24-hour run: it takes
    # use1-az1's 18 h to do 18 (1 - s/24) GPU-h, where its instance does 18 - s: short by
    # s 6/24 = 0.2083 GPU-h, beyond the 5 minutes a re-plan lets pass. So the thorough solve
    # counts setup per run of the held periods: use1-az1 06:00-24:00 does 18 - 5/6 =
    # 17.1667, use1-az2 the 2.8333 left plus its setup, 3.6667 h from 00:00.
    # 18 x 1.0 + 3.6667 x 1.5 = 23.50 USD.
    w = workload([{"name": "j", "gpu_hours": 20, "interruptible": True}], period_hours=1,
                 cloud={"markets": ["spot"], "setup_minutes": 50})
    held = {(AZ1, t): 0.0 for t in range(6)}
    quick = make_plan(w, catalog(EAST), u_upper=held, tolerances=REPLAN_TOLERANCES)
    assert [(s.job, round(s.gpu_hours, 4)) for s in quick.shortfalls] == [("j", 0.2083)]
    result = plan_rest(w, catalog(EAST), held)
    assert result.status == "optimal"
    assert {s.pool: sum(r.hours for r in s.runs) for s in result.fleet} == {
        AZ1: pytest.approx(18.0), AZ2: pytest.approx(3.6667, abs=1e-4)}
    assert round(result.total_usd, 2) == 23.50


def test_a_re_plan_the_quick_solve_lays_out_is_not_solved_again() -> None:
    # Nothing held, 20 GPU-h in a day: one use1-az1 instance for 20 h + 10 min of setup,
    # 20.1667 USD, laid out at the first solve (the thorough one would find the same).
    w = workload([{"name": "j", "gpu_hours": 20, "interruptible": True}], period_hours=1,
                 cloud={"markets": ["spot"], "setup_minutes": 10})
    result = plan_rest(w, catalog(EAST), {})
    assert result.status == "optimal"
    assert result.layout_solves == 1
    assert round(result.total_usd, 2) == 20.17
