"""The tie-break between plans of equal cost: each job's work early in its own window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from builders import catalog, offer, workload

from costopt.plan.planner import make_plan

POOL = "aws:us-east-1:p3.2xlarge:on_demand"


def hours_by_day(result, job: str) -> list[float]:
    """GPU-hours the job runs on each day of the horizon (2027-01-01 on)."""
    days = [0.0] * result.workload.horizon.periods
    for a in result.assignments:
        if a.job == job:
            assert a.pool == POOL
            days[(a.period_start.day - 1)] += a.gpu_hours
    return days


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_job_sharing_a_capped_pool_is_done_early_in_its_window(solver: str) -> None:
    """Three 1-GPU jobs of 24 GPU-hours, one p3.2xlarge on-demand at most (3 USD/h), four
    days: "soon" due at the end of day 2, "later" at the end of day 3, "whenever" with no
    deadline (its window: all 4 days). Days 1-2 hold 48 of the 72 hours: "soon" and one of
    the others; the third runs on day 3. Either way it costs 3 x 72 = 216 USD, so only the
    tie-break chooses, and by the place in the *horizon* both ways weigh the same (24
    GPU-hours in days 1-2, 24 on day 3): "later" may run on day 3, up to its deadline.

    By the place in each job's own window (the midpoint of the days it runs over the
    window's hours), per GPU-hour in units of 1e-5 USD: days 1-2 (midpoint 24 h) cost
    "later" 24/72 = 1/3 and "whenever" 24/96 = 1/4; day 3 (midpoint 60 h) costs "later"
    60/72 = 5/6 and "whenever" 60/96 = 5/8. "later" early, "whenever" on day 3:
    1/3 + 5/8 = 0.958; the other way: 1/4 + 5/6 = 1.083. So "later" runs in days 1-2, a
    whole day before its deadline, "whenever" on day 3; the tie-break adds at most
    72 x 1e-5 = 0.00072 USD, far below a cent."""
    jobs = [{"name": "whenever", "gpus": 1, "gpu_hours": 24},
            {"name": "later", "gpus": 1, "gpu_hours": 24, "deadline": "2027-01-04"},
            {"name": "soon", "gpus": 1, "gpu_hours": 24, "deadline": "2027-01-03"}]
    w = workload(jobs, days=4, cloud={"markets": ["on_demand"], "max_instances": [
        {"instance_type": "p3.2xlarge", "region": "us-east-1", "market": "on_demand",
         "count": 1}]})
    result = make_plan(w, catalog(offer(on_demand=3.0)), solver=solver)
    assert result.status == "optimal"
    assert result.variable_usd == pytest.approx(216.0)
    assert sum(hours_by_day(result, "soon")[:2]) == pytest.approx(24.0)
    assert sum(hours_by_day(result, "later")[:2]) == pytest.approx(24.0)
    assert hours_by_day(result, "whenever") == pytest.approx([0.0, 0.0, 24.0, 0.0])
    [slot] = [run for schedule in result.fleet for run in schedule.runs]
    ends = {use.job: use.end for use in slot.uses}
    assert ends["later"] <= datetime(2027, 1, 3, tzinfo=UTC)
