"""The remaining workload (``plan --resume``), worked by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from builders import workload

from costopt.errors import CostoptError
from costopt.plan.resume import late_jobs, resumed_workload, resumes_record, workload_of

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)


def three_days():  # type: ignore[no-untyped-def]
    return workload([{"name": "a", "gpu_hours": 48, "deadline": "2027-01-03T12:00:00Z"},
                     {"name": "b", "gpu_hours": 5}], days=3, budget_usd=100)


def test_the_rest_from_half_past_five() -> None:
    # From 05:30 on day 1: the horizon starts at 05:00; 19 hourly periods to the next
    # boundary (day 2 00:00), then the two daily periods: 67 h, rounded up to 3 days with 5
    # hourly periods past every deadline. a: 48 - 10 = 38 GPU-h from 05:00, due as before;
    # b finished (5 of 5): left out. Budget 100 - 30 spent = 70.
    rest = resumed_workload(three_days(), {"a": 10.0, "b": 5.0}, T0 + timedelta(hours=5.5),
                            spent_usd=30.0)
    h = rest.horizon
    assert (h.start, h.days, h.runs_text) == (T0 + timedelta(hours=5), 3,
                                              "19x1 h, then 2x24 h, then 5x1 h")
    (job,) = rest.jobs
    assert (job.name, job.gpu_hours) == ("a", 38.0)
    assert rest.job_window(job) == (T0 + timedelta(hours=5), T0 + timedelta(hours=60))
    assert rest.budget_usd == 70.0


def test_on_a_period_boundary_no_hourly_head() -> None:
    rest = resumed_workload(three_days(), {}, T0 + timedelta(days=1))
    assert (rest.horizon.days, rest.horizon.runs_text) == (2, "2x24 h")
    assert [j.gpu_hours for j in rest.jobs] == [48, 5]


def test_nothing_left_is_said() -> None:
    with pytest.raises(CostoptError) as done:
        resumed_workload(three_days(), {"a": 48.0, "b": 5.0}, T0 + timedelta(hours=1))
    with pytest.raises(CostoptError) as late:
        resumed_workload(three_days(), {}, T0 + timedelta(days=3))
    assert "every job has done its work" in str(done.value)
    assert "past the horizon's end" in str(late.value)


def test_the_record_gives_the_same_rest_back() -> None:
    at = T0 + timedelta(hours=5.5)
    record = resumes_record("old-1", at, {"a": 10.0, "b": 5.0}, 30.0)
    assert workload_of(record, three_days()) == resumed_workload(
        three_days(), {"a": 10.0, "b": 5.0}, at, 30.0)
    assert workload_of(None, three_days()) == three_days()


def test_a_job_past_its_deadline_is_late_not_an_invalid_rest() -> None:
    """The issue's case: the rest of a workload with a job past its deadline was refused
    ("deadline is not after the job's start") and the watch stopped with an instance
    running. From 13:30 on day 3 (a was due at 12:00, 40 of 48 done): the horizon starts at
    13:00; 11 hourly periods to the workload's end, rounded up to a day (24 h, to day 4 at
    13:00). a is late: due at that end; b keeps its deadline, the workload's end."""
    at = T0 + timedelta(hours=61.5)
    assert late_jobs(three_days(), {"a": 40.0}, at) == ["a"]
    assert late_jobs(three_days(), {"a": 48.0}, at) == []  # done: not late
    rest = resumed_workload(three_days(), {"a": 40.0}, at)
    assert (rest.horizon.days, rest.horizon.runs_text) == (1, "24x1 h")
    a, b = rest.jobs
    assert (a.name, a.gpu_hours) == ("a", 8.0)
    assert rest.job_window(a) == (T0 + timedelta(hours=61), T0 + timedelta(hours=85))
    assert rest.job_window(b) == (T0 + timedelta(hours=61), T0 + timedelta(hours=72))
