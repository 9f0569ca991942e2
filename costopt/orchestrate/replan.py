"""Re-planning the remaining work of a plan in force (``costopt plan --resume``,
``watch --replan``): each job's progress from the ledger, the remaining workload
(:mod:`costopt.plan.resume`), a fresh plan of it that records what it resumes.

The new plan is a plan of the same workload: ``apply`` and ``watch`` take over the fleet of
the plan it resumes (plan takeover), so that instances still running where the new plan
wants them are kept; its progress counts the work of both plans' instances from the moment
it resumes (one level: a plan that resumes a resumed plan does not reach the first one's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from costopt.orchestrate.apply import ApplyOutcome
from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.pace import JobPace, PaceState
from costopt.orchestrate.steer import EPOCH, ledger_progress, progress_model
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.plan.resume import resumed_workload, resumes_record, workload_of
from costopt.planfile import PlanDocument, plan_id_for
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import Workload


def done_so_far(workload: Workload, catalog: PriceCatalog, plan: PlanDocument,
                ledger: Ledger | None, at: datetime) -> dict[str, float]:
    """Reference GPU-hours each job of ``workload`` has done by ``at`` under ``plan`` (and
    before it, for a plan that resumes another)."""
    resumes = plan.resumes
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
    ids = {plan.plan_id, plan.resumed_from[0]}
    return sum(r.usd_within(EPOCH, at, at) for r in ledger.runtimes(EPOCH, at)
               if r.plan_id in ids)


def replan(workload: Workload, catalog: PriceCatalog, plan: PlanDocument,
           ledger: Ledger | None, at: datetime, *, workload_file: str, workload_sha256: str,
           solver: str = "highs") -> PlanDocument:
    """The plan file of what is left of ``workload`` at ``at`` under ``plan``."""
    done = done_so_far(workload, catalog, plan, ledger, at)
    spent = spent_usd(ledger, plan, at)
    result = make_plan(resumed_workload(workload, done, at, spent), catalog, solver=solver)
    doc = to_document(result, workload_file, workload_sha256)
    doc.resumes = resumes_record(plan.plan_id, at, done, spent)
    doc.plan_id = plan_id_for(doc.as_json())  # the id hashes what it resumes too
    return doc


@dataclass
class ReplanTrigger:
    """When ``watch --replan`` re-plans: a job falls behind its pace (it was not behind at
    the last look), a job's deadline passes with work left (the plan in force holds no slot
    for it after its deadline: the re-plan makes it due at the horizon's end, on the
    cheapest capacity), or a pool's launches or starts failed in ``failures`` reconciles in
    a row (spot that keeps not being there). Each reason is said once; a re-plan starts the
    counts over."""

    failures: int = 3
    _pressed: set[str] = field(default_factory=set)
    _late: set[str] = field(default_factory=set)
    _streak: dict[str, int] = field(default_factory=dict)

    def reasons(self, outcome: ApplyOutcome, paces: dict[str, JobPace]) -> list[str]:
        """Why to re-plan after ``outcome``, given each job's pace then (none: carry on)."""
        out = []
        pressed = {j for j, p in paces.items()
                   if p.state in (PaceState.BEHIND, PaceState.CRITICAL)}
        late = {j for j, p in paces.items()
                if p.at >= p.deadline and p.state is not PaceState.FINISHED}
        out += [f"{j} fell behind its pace ({paces[j].state.value})"
                for j in sorted(pressed - self._pressed - late)]
        out += [f"{j} is past its deadline with work left" for j in sorted(late - self._late)]
        self._pressed, self._late = pressed, late
        failed = {a.pool for a in outcome.failed if a.kind in ("launch", "start")}
        self._streak = {p: self._streak.get(p, 0) + 1 for p in failed}
        out += [f"{p} failed in {n} reconciles in a row" for p, n in sorted(self._streak.items())
                if n >= self.failures]
        if out:
            self._streak = {}
        return out
