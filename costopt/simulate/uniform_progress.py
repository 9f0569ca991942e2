"""Uniform Progress ("Can't Be Late", NSDI'24), the reference execution is judged against
(``tests/simulate``, ``scripts/bench_execution.py``) - written from facts.md's reading, not
from the product's pace arithmetic.

Per job: a straight line from 0 work at the job's start to all of its work at the deadline
less the restart overhead still to pay (``setup_minutes + checkpoint_minutes / 2``). While
the work done is below the line, run on-demand (a spot instance running is swapped for
one); while above it and spot is there, run spot; an on-demand instance already running is
kept until the job is *safely* ahead - above the line by one restart's work - and then
ended. A finished job runs nothing. The plan's one spot pool runs its gangs meanwhile (the
plan's other pools are left out).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from costopt.orchestrate.policy import Desired, ProgressNow, gangs
from costopt.orchestrate.reconcile import MarketChoice
from costopt.plan.planfile import PlanDocument, Slot


class UniformProgress:
    name = "uniform-progress"
    review_seconds = 900.0

    def desired(self, plan: PlanDocument, at: datetime, progress: ProgressNow) -> Desired:
        (job,) = progress().values()  # the reference handles one job on one spot pool
        (pool,) = [p for p in plan.fleet if p.market == "spot"]
        if job.finished:
            return Desired(plan.model_copy(update={"fleet": [pool.model_copy(
                update={"slots": []})]}))
        overhead_h = (job.setup_minutes + job.checkpoint_minutes / 2) / 60
        start = job.start or at
        line_end = job.deadline - timedelta(hours=overhead_h)
        share = min(1.0, max(0.0, (at - start) / (line_end - start)))
        target = job.needed_gpu_hours * share
        restart_work = overhead_h * job.speed[pool.pool]  # one GPU per gang here
        if job.done_gpu_hours < target:
            choice = MarketChoice("on_demand", "swap")
        elif job.done_gpu_hours >= target + restart_work:
            choice = MarketChoice("spot", "end")
        else:
            choice = MarketChoice("spot", "keep")
        period = timedelta(hours=float(plan.horizon["period_hours"]))
        slots = [Slot(slot=k, start=at, end=at + period) for k in range(gangs(pool))]
        return Desired(plan.model_copy(update={"fleet": [pool.model_copy(
            update={"slots": slots})]}), {pool.pool: choice})
