"""``costopt progress JOB --done GPU_HOURS``: a job says how far it has got."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from costopt.cli.common import get_env, guarded
from costopt.cli.state import StateDir, StateUrl
from costopt.core.times import ts
from costopt.errors import CostoptError

if TYPE_CHECKING:
    from costopt.orchestrate.ledger import Ledger


def register(app: typer.Typer) -> None:
    app.command("progress")(progress)


JobArgument = Annotated[str, typer.Argument(help="The job's name, as in the workload.")]
DoneOption = Annotated[float, typer.Option(
    "--done", help="Reference GPU-hours the job has done so far (V100 = 1.0).", min=0)]
PlanOption = Annotated[Path | None, typer.Option(
    "--plan", help="The plan the job runs under (default: the last plan applied that has it).",
    metavar="PLAN.json")]
AtOption = Annotated[str | None, typer.Option(
    "--at", help="When it had done that (ISO 8601, UTC); default now.", metavar="TIME")]


@guarded
def progress(
    ctx: typer.Context,
    job: JobArgument,
    done: DoneOption,
    plan_file: PlanOption = None,
    at: AtOption = None,
    state_dir: StateDir = None,
    state: StateUrl = None,
) -> None:
    """Record how much work a job has done, for the deadline-aware policy and `status`.

    The job's progress is then this report plus what its instances do from now on.

    Example: costopt progress vit-pretrain --done 412.5
    """
    from costopt.orchestrate.ledger import Ledger, state_location

    env = get_env(ctx)
    if not math.isfinite(done):
        raise typer.BadParameter(f"{done!r}; valid: a finite number >= 0", param_hint="--done")
    moment = env.time_option(at)
    with Ledger.connect(state_location(state, state_dir)) as ledger:
        plan_id = _plan_of(job, plan_file, ledger)
        ledger.report_progress(plan_id=plan_id, job=job, at=moment, done_gpu_hours=done,
                               source="cli")
    env.console.print(f"{job}: {done:,.2f} GPU-hours done at "
                      f"{ts(moment)} (plan {plan_id}).",
                      highlight=False)


def _plan_of(job: str, plan_file: Path | None, ledger: Ledger) -> str:
    """The id of the plan ``job`` runs under: ``plan_file``'s when given, else the last
    plan applied that has it; an error naming the jobs there are when none has it."""
    from costopt.planfile import read_plan

    if plan_file is not None:
        plan = read_plan(plan_file).model_dump(mode="json", by_alias=True)
        candidates = [plan] if _jobs(plan) & {job} else []
    else:
        candidates = [d for d in ledger.plans() if job in _jobs(d)]
    if not candidates:
        where = str(plan_file) if plan_file else "the ledger's plans"
        known = sorted(set().union(*(_jobs(d) for d in ledger.plans()))) \
            if plan_file is None else sorted(_jobs(plan))
        raise CostoptError(f"no job named {job!r} in {where} (jobs: "
                           f"{', '.join(known) or 'none'}). To fix: name a job of the "
                           "plan, or apply its plan first")
    return str(candidates[-1]["plan_id"])


def _jobs(document: dict) -> set[str]:
    return {a["job"] for a in document.get("assignments", [])} | {
        s["job"] for s in document.get("shortfalls", [])}
