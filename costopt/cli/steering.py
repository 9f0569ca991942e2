"""What the commands that drive a fleet share (``apply``, ``watch``, ``simulate``,
``status``, ``progress``): the ``--policy`` option and the workload a plan was made from,
which progress is measured with and re-plans solve."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from costopt.core.times import ts
from costopt.errors import CostoptError

if TYPE_CHECKING:
    from costopt.orchestrate.controller import WorkloadContext
    from costopt.orchestrate.ledger import Ledger
    from costopt.orchestrate.policy import Policy
    from costopt.orchestrate.progress import ProgressModel
    from costopt.planfile import PlanDocument
    from costopt.workload import Workload

class PolicyChoice(str, Enum):
    """``--policy``: the names of ``orchestrate.policy.POLICIES``."""

    PLAN = "plan"
    DEADLINE = "deadline"


PolicyName = Annotated[PolicyChoice, typer.Option(
    "--policy", help="How the fleet is driven: plan (the plan in force carried out exactly, "
    "re-planned on events: refusals, a job behind its plan, a job done early; "
    "docs/orchestrator.md) or deadline (spec v2's pace policy, a baseline: spot while each "
    "job keeps its pace, on-demand when it falls behind; no re-plan).")]
WorkloadFile = Annotated[Path | None, typer.Option(
    "--workload", help="The workload the plan was made from (default: the file the plan "
    "names; its hash is checked).", metavar="FILE")]
SpotAttempts = Annotated[int, typer.Option(
    "--spot-attempts", help="Failed spot launches where AWS places the instance before "
    "trying each zone, then on-demand where the jobs allow it.", min=1)]


def policy_named(name: str) -> Policy | None:
    """The baseline policy ``--policy`` names; ``None`` for ``plan`` (the controller's own)."""
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


def workload_context(plan: PlanDocument, given: Path | None) -> WorkloadContext:
    """The workload ``plan`` was made from (checked), its price data and file: what the
    controller measures progress with and re-plans."""
    from costopt.orchestrate.controller import WorkloadContext
    from costopt.workload_checks import catalog_for

    workload, path = plan_workload(plan, given)
    return WorkloadContext(workload, catalog_for(workload), str(path),
                           str(plan.workload.get("sha256")))


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
                "deadline": ts(p.deadline),
                "finished": ts(p.finished_at)
                if p.finished_at else None,
                "pace": job_state(finished=p.finished, done_gpu_hours=p.done_gpu_hours,
                                  at=at, start=p.start or mix.period_starts[0],
                                  deadline=p.deadline, pace=paces[name].state.value).value,
                "spot_hours": round(p.spot_hours, 4),
                "on_demand_hours": round(p.on_demand_hours, 4),
                "interruptions": p.interruptions})
    return rows, notes

