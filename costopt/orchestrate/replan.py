"""Re-planning the remaining work of a plan in force (``costopt plan --resume``,
``watch --replan``): each job's progress from the ledger, the remaining workload
(:mod:`costopt.plan.resume`), a fresh plan of it that records what it resumes.

The new plan's instances are tagged with its own id; ``apply`` and ``watch`` look for those
of the plan it resumes too, so that instances still running where the new plan wants them
are kept (one level: a plan that resumes a resumed plan does not reach the first one's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from costopt.orchestrate.apply import plan_ids
from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.steer import EPOCH, ledger_progress, progress_model
from costopt.plan.planfile import PlanDocument, to_document
from costopt.plan.planner import make_plan
from costopt.plan.resume import resumed_workload, resumes_record, workload_of
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import Workload


def done_so_far(workload: Workload, catalog: PriceCatalog, plan: PlanDocument,
                ledger: Ledger | None, at: datetime) -> dict[str, float]:
    """Reference GPU-hours each job of ``workload`` has done by ``at`` under ``plan`` (and
    before it, for a plan that resumes another)."""
    resumes = (plan.model_extra or {}).get("resumes")
    model = progress_model(plan, workload_of(resumes, workload), catalog)
    before = dict((resumes or {}).get("done_gpu_hours", {}))
    now = ledger_progress(model, ledger, plan, at)
    return {j.name: before.get(j.name, 0.0) + (now[j.name].done_gpu_hours if j.name in now
                                               else j.gpu_hours - before.get(j.name, 0.0))
            for j in workload.jobs}


def spent_usd(ledger: Ledger | None, plan: PlanDocument, at: datetime) -> float:
    """Cloud spend (USD) of the plan's instances, and those of the plan it resumes, by ``at``."""
    if ledger is None:
        return 0.0
    ids = set(plan_ids(plan))
    return sum(r.usd_within(EPOCH, at, at) for r in ledger.runtimes(EPOCH, at)
               if r.plan_id in ids)


def replan(workload: Workload, catalog: PriceCatalog, plan: PlanDocument,
           ledger: Ledger | None, at: datetime, *, workload_file: str, workload_sha256: str,
           solver: str = "highs") -> dict[str, Any]:
    """The plan file of what is left of ``workload`` at ``at`` under ``plan``."""
    done = done_so_far(workload, catalog, plan, ledger, at)
    spent = spent_usd(ledger, plan, at)
    result = make_plan(resumed_workload(workload, done, at, spent), catalog, solver=solver)
    doc = to_document(result, workload_file, workload_sha256)
    doc["resumes"] = resumes_record(plan.plan_id, at, done, spent)
    return doc
