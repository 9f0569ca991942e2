"""Re-planning the remaining work from a moment (``costopt plan WORKLOAD --resume PLAN.json``,
``watch --replan``). Pure: the workload, what each job has done and the moment in, the
workload of what is left out.

The remaining workload:
- its horizon starts at the hour holding the moment and ends where the workload's ends
  (rounded up to whole days, the extra hours past every job's deadline): hourly periods up
  to the workload's next period boundary, then the workload's own periods;
- each job with work left keeps its name, needs ``gpu_hours - done`` and may start at that
  hour at the earliest, with its deadline as it was - a job already past its deadline is
  *late*: it is due at the remaining horizon's end, so it finishes on the cheapest capacity
  rather than make the rest no workload at all; finished jobs are left out;
- ``budget_usd`` less what has been spent.

A plan made from it records ``resumes``: the plan it follows on, the moment, and the work
done then, so that the same remaining workload can be derived again from the workload file
(:func:`workload_of`), for the orchestrator to measure its progress against.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from costopt.core.times import parse_ts, ts
from costopt.errors import CostoptError
from costopt.workload import Workload
from costopt.workload_checks import parse_workload

DONE = 1e-6  # GPU-hours: a job this close to its work is finished


def resumed_workload(workload: Workload, done: dict[str, float], at: datetime,
                     spent_usd: float = 0.0) -> Workload:
    """What is left of ``workload`` at ``at`` given each job's work ``done`` (reference
    GPU-hours) and the cloud spend so far (USD)."""
    h = workload.horizon
    start = at.replace(minute=0, second=0, microsecond=0)
    if start >= h.end:
        raise CostoptError(f"nothing to re-plan: {ts(at)} is past the horizon's end "
                           f"({ts(h.end)})")
    boundaries = [h.period_start(t) for t in range(h.periods)]
    later = [t for t, b in enumerate(boundaries) if b >= start]
    head = int(((boundaries[later[0]] if later else h.end) - start).total_seconds() // 3600)
    lengths = [1] * head + [h.period_lengths[t] for t in later]
    days = math.ceil(sum(lengths) / 24)
    lengths += [1] * (days * 24 - sum(lengths))
    jobs = []
    for job in workload.jobs:
        left = job.gpu_hours - done.get(job.name, 0.0)
        if left <= DONE:
            continue
        job_start, deadline = workload.job_window(job)
        if deadline <= at:  # late (late_jobs): due at the remaining horizon's end
            deadline = start + timedelta(hours=days * 24)
        jobs.append({**job.model_dump(mode="json", exclude_none=True, by_alias=True),
                     "gpu_hours": left, "start": ts(max(job_start, start)),
                     "deadline": ts(deadline)})
    if not jobs:
        raise CostoptError("nothing to re-plan: every job has done its work")
    raw = workload.model_dump(mode="json", exclude_none=True, by_alias=True)
    raw["horizon"] = {"start": ts(start), "days": days, "periods": _runs(lengths)}
    raw["jobs"] = jobs
    if workload.budget_usd is not None:
        raw["budget_usd"] = max(0.0, workload.budget_usd - spent_usd)
    return parse_workload(raw, f"{workload.name} (the rest from {ts(at)})")


def late_jobs(workload: Workload, done: dict[str, float], at: datetime) -> list[str]:
    """The jobs with work left whose deadline is not after ``at``: :func:`resumed_workload`
    gives them until its horizon's end."""
    return [j.name for j in workload.jobs if j.gpu_hours - done.get(j.name, 0.0) > DONE
            and workload.job_window(j)[1] <= at]


def _runs(lengths: list[int]) -> list[dict[str, int]]:
    runs: list[dict[str, int]] = []
    for hours in lengths:
        if runs and runs[-1]["hours"] == hours:
            runs[-1]["count"] += 1
        else:
            runs.append({"hours": hours, "count": 1})
    return runs


def resumes_record(plan_id: str, at: datetime, done: dict[str, float],
                   spent_usd: float) -> dict[str, Any]:
    """The ``resumes`` field of a plan made from :func:`resumed_workload`."""
    return {"plan_id": plan_id, "at": ts(at), "spent_usd": round(spent_usd, 6),
            "done_gpu_hours": {job: round(d, 6) for job, d in sorted(done.items())}}


def workload_of(resumes: dict[str, Any] | None, workload: Workload) -> Workload:
    """The workload a plan was made from: ``workload`` itself, or for a plan that resumes
    another (its ``resumes`` record) what was left of it then."""
    if not resumes:
        return workload
    at = parse_ts(str(resumes["at"]))
    return resumed_workload(workload, dict(resumes["done_gpu_hours"]), at,
                            float(resumes.get("spent_usd", 0.0)))
