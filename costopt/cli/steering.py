"""What the commands that drive a fleet by a policy share (``apply``, ``watch``,
``simulate``, ``status``, ``progress``): the ``--policy`` option and the workload a plan was
made from, which progress is measured with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from costopt.errors import CostoptError

if TYPE_CHECKING:
    from costopt.orchestrate.apply import ApplyOutcome
    from costopt.orchestrate.ledger import Ledger
    from costopt.orchestrate.policy import Policy
    from costopt.orchestrate.progress import ProgressModel
    from costopt.orchestrate.replan import ReplanTrigger
    from costopt.planfile import PlanDocument
    from costopt.workload import Workload

class PolicyChoice(str, Enum):
    """``--policy``: the names of ``orchestrate.policy.POLICIES``."""

    DEADLINE = "deadline"
    PLAN = "plan"


PolicyName = Annotated[PolicyChoice, typer.Option(
    "--policy", help="How the fleet is driven: deadline (spot while each job keeps the pace "
    "its deadline needs, on-demand when it falls behind; docs/orchestrator.md) or plan (the "
    "plan's schedule and fallback chain as written).")]
WorkloadFile = Annotated[Path | None, typer.Option(
    "--workload", help="The workload the plan was made from (default: the file the plan "
    "names; its hash is checked).", metavar="FILE")]


def policy_named(name: str) -> Policy:
    from costopt.orchestrate.policy import POLICIES

    if name not in POLICIES:
        raise typer.BadParameter(f"{name!r}; valid: {', '.join(POLICIES)}",
                                 param_hint="--policy")
    return POLICIES[name]


def plan_workload(plan: PlanDocument, given: Path | None) -> tuple[Workload, Path]:
    """The workload the plan was made from: ``given``, else the file the plan names; its
    hash must be the one the plan records."""
    from costopt.workload_checks import load_workload, workload_sha256

    recorded = plan.workload.get("file")
    path = given or (Path(recorded) if recorded else None)
    if path is None or not path.exists():
        raise CostoptError(f"the workload plan {plan.plan_id} was made from is needed "
                           f"({recorded or 'no file recorded'} is not there): its jobs' speeds "
                           "give their progress. To fix: pass it with --workload FILE (apply and "
                           "watch can instead follow the plan as written: --policy plan)")
    digest = workload_sha256(path)
    if digest != plan.workload.get("sha256"):
        raise CostoptError(f"{path} is not the workload plan {plan.plan_id} was made from "
                           f"(sha256 {digest[:12]}..., the plan records "
                           f"{str(plan.workload.get('sha256'))[:12]}...). To fix: pass the "
                           "workload the plan was made from with --workload, or plan again")
    return load_workload(path), path


def progress_model_for(plan: PlanDocument, given: Path | None) -> ProgressModel:
    """The progress model of ``plan`` (its workload, the workload's price data)."""
    from costopt.orchestrate.steer import progress_model
    from costopt.plan.resume import workload_of
    from costopt.workload_checks import catalog_for

    original, _path = plan_workload(plan, given)
    workload = workload_of(plan.resumes, original)
    return progress_model(plan, workload, catalog_for(workload))


def job_rows(plans: list[PlanDocument], ledger: Ledger | None,
             at: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    """Per job of each plan: its progress (the ledger's runs and reports), the work the plan
    has it do by ``at`` (its pace) and where it stands against its deadline; and a note per
    plan whose workload cannot be read (its jobs' speeds are needed)."""
    from costopt.orchestrate.job_state import job_state
    from costopt.orchestrate.policy import DeadlineAware, planned_work
    from costopt.orchestrate.progress import PlanMix, held_gpus
    from costopt.orchestrate.steer import ledger_progress

    rows: list[dict[str, Any]] = []
    notes = []
    for plan in plans:
        try:
            model = progress_model_for(plan, None)
        except CostoptError as exc:
            notes.append(f"progress of plan {plan.plan_id} not shown: {exc}")
            continue
        jobs = ledger_progress(model, ledger, plan, at)
        mix = PlanMix.of(plan, held_gpus(jobs))
        paces = DeadlineAware().paces(plan, at, jobs, mix)
        for name, p in jobs.items():
            rows.append({
                "plan_id": plan.plan_id, "job": name,
                "done_gpu_hours": round(p.done_gpu_hours, 4),
                "needed_gpu_hours": p.needed_gpu_hours,
                "planned_by_now_gpu_hours": round(planned_work(
                    plan, mix, name, mix.period_starts[0], at), 4),
                "deadline": p.deadline.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "finished": p.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                if p.finished_at else None,
                "pace": job_state(finished=p.finished, done_gpu_hours=p.done_gpu_hours,
                                  at=at, start=p.start or mix.period_starts[0],
                                  deadline=p.deadline, pace=paces[name].state.value).value,
                "spot_hours": round(p.spot_hours, 4),
                "on_demand_hours": round(p.on_demand_hours, 4),
                "interruptions": p.interruptions})
    return rows, notes


@dataclass
class Replanner:
    """``watch --replan``: after a reconcile, re-plan what is left when
    :class:`~costopt.orchestrate.replan.ReplanTrigger` says so; the new plan is written next
    to the first (``PLAN.<new id>.json``) and followed from then on."""

    plan_file: Path
    workload_file: Path | None
    say: Callable[[str, str], None]
    trigger: ReplanTrigger = field(default_factory=lambda: _trigger())
    _last_failure: str | None = None

    def after(self, plan: PlanDocument, moment: datetime, outcome: ApplyOutcome,
              ledger: Ledger | None) -> tuple[PlanDocument, Path] | None:
        """The plan to follow from now and its file if it changes, else ``None``."""
        from costopt.orchestrate.policy import DeadlineAware
        from costopt.orchestrate.replan import replan
        from costopt.orchestrate.steer import ledger_progress
        from costopt.plan.resume import late_jobs
        from costopt.planfile import write_plan
        from costopt.workload_checks import catalog_for, workload_sha256

        reasons: list[str] = []
        try:
            model = progress_model_for(plan, self.workload_file)
            jobs = ledger_progress(model, ledger, plan, moment)
            paces = DeadlineAware().paces(plan, moment, jobs, model.mix)
            reasons = self.trigger.reasons(outcome, {j: p for j, p in paces.items()
                                                     if not jobs[j].finished})
            if not reasons or ledger is None:
                return None
            workload, path = plan_workload(plan, self.workload_file)
            catalog = catalog_for(workload)
            doc = replan(workload, catalog, plan, ledger, moment, workload_file=str(path),
                         workload_sha256=workload_sha256(path))
            target = self.plan_file.with_name(f"{self.plan_file.stem}.{doc.plan_id}.json")
            write_plan(doc, target)
        except CostoptError as exc:  # the fleet goes on under the plan in force
            said = (f"{'; '.join(reasons)}, but " if reasons else "") + \
                f"no re-plan can be made: {exc}. Plan {plan.plan_id} stays in force and is " \
                "carried on"
            if said != self._last_failure:  # once, not at every reconcile
                self.say("failed", said)
            self._last_failure = said
            return None
        resumes = doc.as_json()["resumes"]
        self.say("replanned", f"{'; '.join(reasons)}: the rest re-planned from "
                 f"{resumes['at']} as {doc.plan_id}, written to {target}")
        for job in late_jobs(workload, resumes["done_gpu_hours"], moment):
            self.say("late", f"{job} is past its deadline and not done: it is due at the new "
                     f"plan's end ({doc.horizon['end']}), on the cheapest capacity")
        return doc, target


def _trigger() -> ReplanTrigger:
    from costopt.orchestrate.replan import ReplanTrigger

    return ReplanTrigger()
