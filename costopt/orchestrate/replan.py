"""Re-planning the remaining work of a plan in force (``costopt plan --resume``, the
controller's re-plans): each job's progress from the ledger, the remaining workload
(:mod:`costopt.plan.resume`), a fresh plan of it that records what it resumes.

The new plan is a plan of the same workload: ``apply`` and ``watch`` take over the fleet of
the plan it resumes (plan takeover), so that instances still running where the new plan
wants them are kept; its progress counts the work of both plans' instances from the moment
it resumes (one level: a plan that resumes a resumed plan does not reach the first one's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.steer import EPOCH, ledger_progress, progress_model
from costopt.plan.planfile import to_document
from costopt.plan.planner import PlanResult, Tolerances, make_plan
from costopt.plan.resume import resumed_workload, resumes_record, workload_of
from costopt.planfile import PlanDocument, plan_id_for
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import Workload

REPLAN_TOLERANCES = Tolerances(mip_rel_gap=0.01, short_hours=5 / 60, solves=6)
"""How close to exact a re-plan first solves (``make_plan``'s ``tolerances``; ``plan`` is
exact). Where that leaves work short, :data:`THOROUGH_REPLAN` solves it again
(:func:`plan_rest`).

A re-plan is made under uncertainty and is itself replaced at the next event (the example
month on zone traces makes about 20): its spot work is an estimate (derated by an
availability the traces do not keep to), and what it realises varies between traces far
more than 1 % of its cost. Chasing the last fraction of it cost most of a re-plan's time:

- ``mip_rel_gap`` 1 %: the MILPs of instance counts under a concurrency limit stop within
  1 % of their proven bound (``plan``: 1e-6);
- ``short_hours`` 5 minutes: a job whose gangs the fleet's layout leaves at most 5 minutes
  (gang-time) short counts as laid out. The controller ticks every 5 minutes in
  ``simulate`` and reviews at least every 15 in ``watch``; a job that far behind is well
  inside its ``behind_share`` tolerance, and its floor rule and the next re-plan carry the
  rest. Chasing such seconds re-solved the model up to 10 times, MILPs included: 60-100
  CPU-s per re-plan, where the plan it led to was short all the same
  (``scripts/bench_replan.py``);
- ``solves`` 6: the layout loop solves the model at most 6 times, then the solution that
  left least short stands. The example's re-plans lay out within 4."""

THOROUGH_REPLAN = replace(REPLAN_TOLERANCES, solves=30)
"""A re-plan's second solve, where the first left work short: up to 30 layout solves, and
setup counted per run of the periods a held pool splits (``make_plan``'s ``held``).

The lab month (``examples/lab-month.yaml``, eight jobs on a shared spot quota) needs 17-26
solves: ``plan`` lays it out in 26, and its re-plans on zone traces (seed 1) in 17-23,
learning whole setups a few at a time for about 8 solves before keeping jobs to one pool and
lowering fills. With 6, every one of the lab's first 10 re-plans stopped 61-507 GPU-h short,
"infeasible" (``scripts/bench_replan.py --lab-simulated``). A solve costs mostly 0.1-3.5
CPU-s there since a held pool no longer turns pruning off (5-12 before), though one whose
MILPs of instance counts are hard still takes a minute in all. Once a solution is laid out
the loop goes on only while it finds cheaper ones laid out (:class:`Tolerances`).

Why not always: on the example's synth-zones traces (seeds 1-5, 2026-12-07) every re-plan
solved this way realised 894.46 / 896.45 / 2,007.21 / 865.45 / 3,247.49 USD; the quick
solve first, this one only where it leaves work short, 894.46 / 896.45 / 1,460.40 / 865.45 /
3,234.81. (Quick alone: seed 3 1,334.65, seed 5 3,234.81; but then the lab's re-plans stay
short.) No deadline missed in any."""


def plan_rest(rest: Workload, catalog: PriceCatalog, caps: Mapping[tuple[str, int], float],
              solver: str = "highs") -> PlanResult:
    """The plan of what is left (``rest``), with the held pools' instance-hour ``caps``: the
    quick solve (:data:`REPLAN_TOLERANCES`), else, where it leaves work short, the thorough
    one (:data:`THOROUGH_REPLAN`)."""
    result = make_plan(rest, catalog, solver=solver, u_upper=dict(caps) or None,
                       tolerances=REPLAN_TOLERANCES)
    if result.status == "optimal":
        return result
    return make_plan(rest, catalog, solver=solver, u_upper=dict(caps) or None,
                     tolerances=THOROUGH_REPLAN, held=True)


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


def held_caps(rest: Workload, held: Mapping[str, datetime]) -> dict[tuple[str, int], float]:
    """Instance-hour caps (``make_plan``'s ``u_upper``) that keep each pool of ``held``
    (pool id -> until when) out of the remaining workload ``rest`` while it is held: zero in
    every period that ends by then, and in the one it ends in when most of that is held."""
    caps = {}
    h = rest.horizon
    for t in range(h.periods):
        start, hours = h.period_start(t), h.period_lengths[t]
        for pool, until in held.items():
            if (until - start) >= timedelta(hours=hours / 2):
                caps[(pool, t)] = 0.0
    return caps


def replan(workload: Workload, catalog: PriceCatalog, plan: PlanDocument,
           ledger: Ledger | None, at: datetime, *, workload_file: str, workload_sha256: str,
           solver: str = "highs", held: Mapping[str, datetime] | None = None) -> PlanDocument:
    """The plan file of what is left of ``workload`` at ``at`` under ``plan``; the pools in
    ``held`` (pool id -> until when: seen without capacity) are left out until then: a
    held pool dominates no other in pruning (``prune_dominated``); where the quick solve
    leaves work short, the thorough one counts setup per run of the held periods
    (:func:`plan_rest`).

    The new plan records the moment it resumes from in whole seconds (``resumes.at``), and
    its progress counts from that second on; so the work done and the spend are measured
    at that second too. Measured at ``at`` itself, the fraction of a second between them
    was counted twice, once under each plan: a job handed over at moments between seconds
    (a tick at a slot boundary of a microsecond layout, ``watch``'s clock) was asked a
    little less at each hand-over (on zone traces, seed 5, one of the example's 71
    hand-overs came at 21:07:31.823: an owned-server job ended 0.000228 GPU-h short of its
    200, beyond the 0.0002 a job may be short and done)."""
    at = at.replace(microsecond=0)
    done = done_so_far(workload, catalog, plan, ledger, at)
    spent = spent_usd(ledger, plan, at)
    rest = resumed_workload(workload, done, at, spent)
    caps = held_caps(rest, held or {})
    result = plan_rest(rest, catalog, caps, solver)
    doc = to_document(result, workload_file, workload_sha256)
    doc.resumes = resumes_record(plan.plan_id, at, done, spent)
    doc.plan_id = plan_id_for(doc.as_json())  # the id hashes what it resumes too
    return doc
