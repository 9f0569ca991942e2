"""Each job's progress from the ledger, for the controller, its baselines and ``status``.

Progress is not stored twice: it is worked out, whenever a policy or ``status`` asks, from
what the ledger holds - the plan's instances' runtimes and interruptions
(:func:`~costopt.orchestrate.progress.job_progress`) and the jobs' own reports
(``costopt progress JOB --done GPU_HOURS``, the ``costopt:progress`` tag).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from costopt.core.times import EPOCH
from costopt.orchestrate.ledger import Ledger, ProgressReport
from costopt.orchestrate.progress import (
    DEFAULT_SETUP_MINUTES,
    JobNeeds,
    JobProgress,
    PlanMix,
    ProgressModel,
    Run,
    RunsMade,
    progress_then,
    reported_progress,
    runs_from_ledger,
)
from costopt.planfile import PlanDocument
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import Workload, speed_for


def setup_minutes_of(plan: PlanDocument, workload: Workload) -> float:
    """``setup_minutes`` from the plan if it records it (v2: ``launch_overhead``), else the
    workload's ``cloud.setup_minutes`` if it has one, else 10."""
    if plan.launch_overhead is not None:
        return plan.launch_overhead.setup_minutes
    if plan.setup_minutes is not None:
        return plan.setup_minutes
    return float(getattr(workload.cloud, "setup_minutes", DEFAULT_SETUP_MINUTES))


def progress_model(plan: PlanDocument, workload: Workload, catalog: PriceCatalog) -> ProgressModel:
    """The jobs' needs, their speed on each pool of the plan, the plan's mix and the setup
    minutes. The speeds are the plan's own (v3); a v1 or v2 plan recorded none, so they
    are the workload's ``speed`` for the pool's GPU model, else the price data's GPU
    table's (what ``plan`` planned with)."""
    speed = {}
    for job in workload.jobs:
        for pool in plan.pools:
            recorded = plan.speed(job.name, pool.pool)
            gpu = catalog.gpu(pool.gpu_model)
            found = recorded if recorded is not None else speed_for(
                job, pool.gpu_model, gpu.relative_speed if gpu else 0.0)
            if found > 0:
                speed[(job.name, pool.pool)] = found
    windows = {j.name: workload.job_window(j) for j in workload.jobs}
    jobs = tuple(JobNeeds(j.name, j.gpu_hours, j.checkpoint_minutes, windows[j.name][1],
                          windows[j.name][0], float(j.gpus), j.parallel, j.nodes)
                 for j in workload.jobs)
    return ProgressModel(jobs, speed, PlanMix.of(plan, {j.name: float(j.gpus)
                                                        for j in workload.jobs}),
                         setup_minutes_of(plan, workload))


def ledger_runs(ledger: Ledger, plan: PlanDocument, at: datetime,
                made: RunsMade | None = None) -> list[Run]:
    """The runs of the plan's instances until ``at``, as the ledger has them; for a plan
    that resumes another, those of both that ran after it took over. ``made``: what the
    last call made, kept (:func:`~costopt.orchestrate.progress.runs_from_ledger`)."""
    old, since = plan.resumed_from
    ids = {plan.plan_id, old} - {None}
    start = since or EPOCH
    runtimes = ledger.runtimes(start, at, ids)
    lost = ledger.interruptions(start, at + timedelta(seconds=1), ids)  # one at ``at``
    # itself has happened by then (the ledger keeps whole seconds)
    return runs_from_ledger(runtimes, lost, at, made)


def ledger_progress(model: ProgressModel, ledger: Ledger | None, plan: PlanDocument,
                    at: datetime) -> dict[str, JobProgress]:
    """Each job's progress at ``at``: its instances' work as the ledger's runtimes say, from
    its last report if it made one (a plan that resumes another counts from nothing done
    when it took over: its jobs need what was left then). No ledger: nothing done yet."""
    _old, since = plan.resumed_from
    if ledger is None:
        reports = [] if since is None else [ProgressReport(j.name, since, 0.0, "resume")
                                            for j in model.jobs]
        return reported_progress(model, [], at, reports)
    runs = ledger_runs(ledger, plan, at, model.runs_made)
    reports = [r for r in ledger.progress_reports(plan.plan_id)
               if since is None or r.at >= since]
    if since is None:
        return reported_progress(model, runs, at, reports)
    return _resumed_progress(model, runs, at, since, reports)


GROWN_KEPT = 8
"""Grown models a model keeps (:attr:`ProgressModel.grown`)."""


def _resumed_progress(model: ProgressModel, runs: list[Run], at: datetime, since: datetime,
                      reports: list[ProgressReport]) -> dict[str, JobProgress]:
    """Progress under a plan that took over at ``since``: the runs it took over worked
    before then too (the work of the last plan), so each job is measured against what it
    needed then plus that work, from a report of that work at ``since``, and both are taken
    off after - a job's work is never capped short of what it needs by work done before."""
    before = {name: p.done_gpu_hours
              for name, p in progress_then(model, runs, since).items()}
    key = (since, tuple(before[j.name] for j in model.jobs))
    grown = model.grown.get(key)
    if grown is None:  # the same while the plan is in force, the runs before it unchanged
        if len(model.grown) >= GROWN_KEPT:
            model.grown.clear()
        grown = model.grown[key] = replace(model, jobs=tuple(
            replace(j, gpu_hours=j.gpu_hours + before[j.name]) for j in model.jobs))
    shifted = [ProgressReport(j.name, since, before[j.name], "resume") for j in model.jobs]
    shifted += [replace(r, done_gpu_hours=r.done_gpu_hours + before.get(r.job, 0.0))
                for r in reports]
    out = reported_progress(grown, runs, at, shifted)
    for name, p in out.items():
        p.needed_gpu_hours -= before[name]
        p.done_gpu_hours = max(0.0, p.done_gpu_hours - before[name])
    return out
