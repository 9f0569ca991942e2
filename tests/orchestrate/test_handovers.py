"""A job handed over from plan to plan keeps all its work, however many hand-overs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from builders import catalog, offer, server, workload
from simulate.sim_cases import planned

from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.policy import planned_work
from costopt.orchestrate.replan import replan
from costopt.orchestrate.steer import progress_model
from costopt.plan.resume import workload_of
from costopt.simulate.whole import InForce, whole_progress

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)


def test_a_job_handed_over_at_moments_between_seconds_keeps_all_its_work() -> None:
    """"eval" needs 24 GPU-h by 24:00 and may run only on the owned 1-GPU server: every
    plan of it runs the server all day, 1 GPU-h an hour (hourly periods), so by any moment
    ``m`` it has done exactly ``hours(m)``. It is handed over six times, at half a second
    past the hours 01:00-06:00 (a controller ticks at slot boundaries of the plans'
    microsecond layouts, and ``watch`` at its clock's). A plan file keeps whole seconds:
    each new plan resumes from ``hh:00:00``, and its progress counts from then. So the
    work done must be measured at ``hh:00:00`` too: 1, 2, ... 6 GPU-h, each plan asked for
    the 23, 22, ... 18 left; scored as ``simulate`` scores it (each plan's owned work from
    the moment it took over), the job is done at 24:00 with all 24 GPU-h. Measured at
    ``hh:00:00.5`` instead, each hand-over counted the half second before it twice
    (0.000139 GPU-h): after six, the last plan was asked 0.000833 GPU-h too little, more
    than the 0.0001 a job may be short and done."""
    w = workload([{"name": "eval", "gpus": 1, "gpu_hours": 24, "allow": ["owned"],
                   "interruptible": False}],
                 period_hours=1, owned={"servers": [server(gpus=1)]},
                 cloud={"regions": ["us-east-1"]})
    cat = catalog(offer(on_demand=3.0))
    plan = planned(w, cat)
    first = progress_model(plan, w, cat)
    in_force = [InForce(T0, plan.plan_id, first)]
    ledger = Ledger.in_memory()
    try:
        for hour in range(1, 7):
            moment = T0 + timedelta(hours=hour, milliseconds=500)
            plan = replan(w, cat, plan, ledger, moment, workload_file="test.yaml",
                          workload_sha256="0" * 64)
            assert plan.resumes["done_gpu_hours"] == {"eval": pytest.approx(hour, abs=1e-9)}
            in_force.append(InForce(moment, plan.plan_id, progress_model(
                plan, workload_of(plan.resumes, w), cat)))
    finally:
        ledger.close()
    end = T0 + timedelta(hours=24)
    job = whole_progress(first, in_force, [], {}, end)["eval"]
    assert job.done_gpu_hours == pytest.approx(24.0, abs=1e-6)
    assert job.met_deadline


def test_a_plan_resumed_within_an_hour_does_its_first_hours_owned_work_after_taking_over() -> None:
    """"eval" needs 24 GPU-h by 24:00 on the owned 1-GPU server (a day of one period), so
    it runs all day. Handed over at 05:30, it has done 5.5 GPU-h; the new plan's horizon
    starts on the hour (05:00, hourly periods to 24:00: 19 GPU-h of server for the 18.5
    left), and whatever it puts in 05:00-06:00 is done after 05:30, when it is in force: the
    minutes before were the old plan's. Scored from the hand-over, the job has all 24 GPU-h
    at 24:00 (counted from 05:00, the first hour's work was cut by what fell before 05:30).
    The pace line reads the same window: from 05:30 to 24:00 the plan does the 18.5 GPU-h
    left, and by 06:00 its first hour's work (counted from 05:00, half of it would have
    fallen before the plan was in force and the job looked ahead by that)."""
    w = workload([{"name": "eval", "gpus": 1, "gpu_hours": 24, "allow": ["owned"],
                   "interruptible": False}],
                 owned={"servers": [server(gpus=1)]}, cloud={"regions": ["us-east-1"]})
    cat = catalog(offer(on_demand=3.0))
    plan = planned(w, cat)
    first = progress_model(plan, w, cat)
    moment = T0 + timedelta(hours=5, minutes=30)
    ledger = Ledger.in_memory()
    try:
        again = replan(w, cat, plan, ledger, moment, workload_file="test.yaml",
                       workload_sha256="0" * 64)
    finally:
        ledger.close()
    assert again.resumes["done_gpu_hours"] == {"eval": pytest.approx(5.5)}
    assert again.horizon["start"] == "2027-01-01T05:00:00Z"
    model = progress_model(again, workload_of(again.resumes, w), cat)
    assert min(work.start for work in model.mix.owned) == moment
    assert sum(work.work_gpu_hours for work in model.mix.owned) == pytest.approx(18.5)
    first_hour = sum(a.work_gpu_hours for a in again.assignments
                     if a.period_start == T0 + timedelta(hours=5))
    assert first_hour > 0
    six = T0 + timedelta(hours=6)
    assert planned_work(again, model.mix, "eval", moment, six) == pytest.approx(first_hour)
    assert planned_work(again, model.mix, "eval", moment, T0 + timedelta(hours=24)) == (
        pytest.approx(18.5))
    job = whole_progress(first, [InForce(T0, plan.plan_id, first),
                                 InForce(moment, again.plan_id, model)], [], {},
                         T0 + timedelta(hours=24))["eval"]
    assert job.done_gpu_hours == pytest.approx(24.0, abs=1e-6)
    assert job.met_deadline
