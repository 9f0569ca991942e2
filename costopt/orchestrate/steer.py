"""A policy steering ``apply``, ``watch`` and ``simulate``: each job's progress from the
ledger, and the schedule and markets the policy wants from it.

Progress is not stored twice: it is worked out, whenever a policy or ``status`` asks, from
what the ledger holds - the plan's instances' runtimes and interruptions
(:func:`~costopt.orchestrate.progress.job_progress`) and the jobs' own reports
(``costopt progress JOB --done GPU_HOURS``, the ``costopt:progress`` tag).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from costopt.errors import AwsError, CostoptError
from costopt.orchestrate.ledger import Ledger, ProgressReport
from costopt.orchestrate.policy import FOLLOW_PLAN, Desired, Policy
from costopt.orchestrate.progress import (
    DEFAULT_SETUP_MINUTES,
    JobNeeds,
    JobProgress,
    PlanMix,
    ProgressModel,
    Run,
    reported_progress,
    runs_from_ledger,
)
from costopt.plan.planfile import PlanDocument
from costopt.plan.pools import build_pools, eligibility
from costopt.plan.resume import since
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import Workload

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def setup_minutes_of(plan: PlanDocument, workload: Workload) -> float:
    """``setup_minutes`` from the plan if it records it (v2: ``launch_overhead``), else the
    workload's ``cloud.setup_minutes`` if it has one, else 10."""
    if plan.launch_overhead is not None:
        return plan.launch_overhead.setup_minutes
    recorded = (plan.model_extra or {}).get("setup_minutes")
    if isinstance(recorded, (int, float)) and not isinstance(recorded, bool):
        return float(recorded)
    return float(getattr(workload.cloud, "setup_minutes", DEFAULT_SETUP_MINUTES))


def progress_model(plan: PlanDocument, workload: Workload, catalog: PriceCatalog) -> ProgressModel:
    """The jobs' needs, their speed on each pool (from the workload and the price data's GPU
    table), the plan's mix and the setup minutes."""
    pools = build_pools(workload, catalog)
    speed = {(workload.jobs[e.job].name, pools.all[e.pool].id): e.speed
             for e in eligibility(workload, pools, catalog)}
    windows = {j.name: workload.job_window(j) for j in workload.jobs}
    jobs = tuple(JobNeeds(j.name, j.gpu_hours, j.checkpoint_minutes, windows[j.name][1],
                          windows[j.name][0], float(j.gpus)) for j in workload.jobs)
    return ProgressModel(jobs, speed, PlanMix.of(plan, {j.name: float(j.gpus)
                                                        for j in workload.jobs}),
                         setup_minutes_of(plan, workload))


def ledger_runs(ledger: Ledger, plan: PlanDocument, at: datetime) -> list[Run]:
    """The runs of the plan's instances until ``at``, as the ledger has them; for a plan
    that resumes another, those of both that ran after it took over."""
    old, since = resumed_from(plan)
    ids = {plan.plan_id, old} - {None}
    start = since or EPOCH
    runtimes = [r for r in ledger.runtimes(start, at) if r.plan_id in ids]
    lost = [i for i in ledger.interruptions(start, at) if i.plan_id in ids]
    return runs_from_ledger(runtimes, lost, at)


def ledger_progress(model: ProgressModel, ledger: Ledger | None, plan: PlanDocument,
                    at: datetime) -> dict[str, JobProgress]:
    """Each job's progress at ``at``: its instances' work as the ledger's runtimes say, from
    its last report if it made one (a plan that resumes another counts from nothing done
    when it took over: its jobs need what was left then). No ledger: nothing done yet."""
    _old, since = resumed_from(plan)
    reports = [] if since is None else [ProgressReport(j.name, since, 0.0, "resume")
                                        for j in model.jobs]
    if ledger is None:
        return reported_progress(model, [], at, reports)
    reports += [r for r in ledger.progress_reports(plan.plan_id)
                if since is None or r.at >= since]
    return reported_progress(model, ledger_runs(ledger, plan, at), at, reports)


def resumed_from(plan: PlanDocument) -> tuple[str | None, datetime | None]:
    """The plan ``plan`` resumes and from when (``None``s if it resumes none)."""
    return since((plan.model_extra or {}).get("resumes"))


def steer(policy: Policy, plan: PlanDocument, at: datetime,
          model: Callable[[], ProgressModel], ledger: Ledger | None) -> Desired:
    """What ``policy`` wants at ``at``; the progress model is asked for only when the
    policy asks for progress (the plan policy never does)."""
    def progress() -> dict[str, JobProgress]:
        return ledger_progress(model(), ledger, plan, at)

    return policy.desired(plan, at, progress)


def steer_or_follow(policy: Policy, plan: PlanDocument, at: datetime,
                    model: Callable[[], ProgressModel], ledger: Ledger | None
                    ) -> tuple[Desired, str | None]:
    """:func:`steer`, or - when the policy cannot steer (its progress needs a workload that
    is gone, changed or no longer valid) - the plan as written, with why: a watch carries on
    with the plan in force rather than stop with its instances running. AWS's errors are not
    caught (the watch tries those again)."""
    try:
        return steer(policy, plan, at, model, ledger), None
    except AwsError:
        raise
    except CostoptError as exc:
        return steer(FOLLOW_PLAN, plan, at, model, ledger), str(exc)
