"""``costopt plan``, ``costopt validate`` and ``costopt init``."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from costopt.cli.common import (
    Env,
    ExitCode,
    OutputFormat,
    Solver,
    WorkloadArgument,
    get_env,
    guarded,
)
from costopt.core.times import ts
from costopt.errors import CostoptError

if TYPE_CHECKING:
    from rich.console import Console

    from costopt.pricing.catalog import PriceCatalog
    from costopt.workload import Workload


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("validate")(validate)
    app.command("init")(init)


SUGGEST_HIGHS_AFTER_S = 20.0
"""Above this many seconds of planning with CBC, suggest HiGHS."""
STAGES = ("prepare", "build", "aggregate", "solve", "split", "extract", "write")
"""The stages ``-v`` times, in the order they run."""


def _load(workload_file: Path, env: Env) -> tuple[Any, Any]:
    """The workload and the price catalog it asks for, its warnings shown."""
    from costopt.cli.validation import load_for_planning

    loaded = load_for_planning(workload_file, env.clock())
    env.warn_stale(loaded.stale_prices, loaded.catalog.source)
    if loaded.horizon_started:
        env.warn(loaded.horizon_started)
    return loaded.workload, loaded.catalog


OutputOption = Annotated[Path, typer.Option("-o", "--output",
                                            help="Where to write the plan file.")]
SolverOption = Annotated[Solver, typer.Option(
    help="LP solver: highs (highspy, the fast one) or cbc (bundled with PuLP).")]
PlanFormatOption = Annotated[OutputFormat, typer.Option(
    "--format", help="table (for people) or json (the plan file on stdout; errors as JSON on "
    "stderr).")]
TimeLimitOption = Annotated[float | None, typer.Option(
    help="Give up after this many seconds of solving.")]
ResumeOption = Annotated[Path | None, typer.Option(
    "--resume", help="Re-plan only what is left of this plan in force: each job's progress "
    "from the ledger; instances still wanted are kept.", metavar="PLAN.json")]
ResumeAtOption = Annotated[str | None, typer.Option(
    "--at", help="With --resume: re-plan from this time (ISO 8601, UTC); default now.",
    metavar="TIME")]
PlanStateDirOption = Annotated[Path | None, typer.Option(
    "--state-dir", help="Where the ledger lives (default ~/.local/state/costopt): --resume "
    "reads progress there; the plan in force is looked up there.")]
ForceOption = Annotated[bool, typer.Option(
    "--force", help="Overwrite the plan file even when it holds the plan in force.")]
RiskOption = Annotated[int | None, typer.Option(
    "--risk", help="Then carry the plan out in N scenarios of spot capacity and print its "
    "risk line: P50/P90 cost, jobs at risk (docs/risk.md).", metavar="N", min=1)]
RiskBudgetOption = Annotated[float | None, typer.Option(
    "--risk-budget", help="With --risk, plan for the tail: re-plan with the spot availability "
    "derated until the P90 is within this many USD (docs/risk.md).", metavar="USD", min=0)]


@dataclass(frozen=True)
class PlanRequest:
    """What ``costopt plan`` was asked for: where the plan goes and how it is solved."""

    workload_file: Path
    output: Path
    solver: str  # "highs" or "cbc"
    time_limit_s: float | None
    risk_scenarios: int | None
    risk_budget_usd: float | None
    state_dir: Path | None  # the ledger that names the plan in force
    force: bool  # overwrite the plan in force
    fmt: OutputFormat


@guarded
def plan(
    ctx: typer.Context,
    workload_file: WorkloadArgument,
    output: OutputOption = Path("plan.json"),
    solver: SolverOption = Solver.HIGHS,
    fmt: PlanFormatOption = OutputFormat.TABLE,
    time_limit: TimeLimitOption = None,
    resume: ResumeOption = None,
    at: ResumeAtOption = None,
    state_dir: PlanStateDirOption = None,
    force: ForceOption = False,
    risk: RiskOption = None,
    risk_budget: RiskBudgetOption = None,
) -> None:
    """Plan the workload at the lowest cost that meets every deadline, and write the plan.

    When the output file holds a plan already, what changes is shown first (as `costopt
    diff`); the plan in force (the one `apply` carries out) is overwritten only with --force.

    Example: costopt plan examples/workload.yaml -o plan.json
    """
    env = get_env(ctx)
    workload, catalog = _load(workload_file, env)
    if resume is not None:
        _resume(workload, catalog, workload_file, resume, env.time_option(at), state_dir,
                solver.value, output, fmt.value, env)
        return
    _plan_and_write(workload, catalog, PlanRequest(
        workload_file, output, solver.value, time_limit, risk, risk_budget, state_dir, force,
        fmt), env)


def _plan_and_write(workload: Workload, catalog: PriceCatalog, ask: PlanRequest,
                    env: Env) -> None:
    """Solve, price the risk when asked, show what changes from the plan ``ask.output``
    holds (refusing to overwrite the plan in force), write the plan and say so."""
    import time

    from costopt.plan.planfile import to_document
    from costopt.planfile import write_plan
    from costopt.workload_checks import workload_sha256

    result = _solved(workload, catalog, ask.workload_file, ask.solver, ask.time_limit_s, env)
    started = time.perf_counter()
    document = to_document(result, str(ask.workload_file), workload_sha256(ask.workload_file))
    risk_line = None
    if ask.risk_scenarios is not None or ask.risk_budget_usd is not None:
        risk_started = time.perf_counter()
        document, risk_line = _with_risk(document, workload, catalog, ask.workload_file,
                                         (ask.risk_scenarios, ask.risk_budget_usd),
                                         (ask.solver, ask.time_limit_s), env)
        started += time.perf_counter() - risk_started  # the sweep is no part of writing
    doc = document.as_json()
    _before_overwrite(ask.output, doc, workload.name, ask.state_dir, ask.force,
                      env.err if ask.fmt == "json" else env.console)
    write_plan(document, ask.output)
    if env.verbose:
        _say_timings(result, workload, time.perf_counter() - started, env)
    _written(doc, ask.output, ask.fmt, env, [c.name for c in workload.candidates])
    if risk_line:
        (env.err if ask.fmt == "json" else env.console).print(risk_line, highlight=False,
                                                              soft_wrap=True)


def _solved(workload: Workload, catalog: PriceCatalog, workload_file: Path, solver: str,
            time_limit: float | None, env: Env) -> Any:
    """The planner's result (``PlanResult``), its notes warned; with CBC on a model that
    took long, a hint to use HiGHS."""
    from costopt.plan.planner import make_plan

    with env.busy(f"Planning {len(workload.jobs):,} job(s) with {solver}..."):
        result = make_plan(workload, catalog, solver=solver, source=str(workload_file),
                           time_limit_s=time_limit)
    for note in result.notes:
        env.warn(note)
    seconds = sum(result.timings.values())
    if solver == "cbc" and seconds > SUGGEST_HIGHS_AFTER_S:
        env.warn(f"planning took {seconds:.0f} s with CBC ({result.variables:,} variables); "
                 "--solver highs finds the same optimum much faster on models this size")
    return result


def _with_risk(document: Any, workload: Workload, catalog: PriceCatalog, workload_file: Path,
               risk: tuple[int | None, float | None], solving: tuple[str, float | None],
               env: Env) -> tuple[Any, str | None]:
    """``--risk N`` / ``--risk-budget USD``: the plan (re-planned for the tail when a budget
    is given) and its risk line."""
    from costopt.cli.risk import plan_risk
    from costopt.plan.planfile import to_document
    from costopt.plan.planner import make_plan
    from costopt.workload_checks import workload_sha256

    scenarios, budget_usd = risk
    solver, time_limit = solving
    return plan_risk(env, document, workload, catalog, scenarios=scenarios,
                     budget_usd=budget_usd, replan=lambda w: to_document(
                         make_plan(w, catalog, solver=solver, source=str(workload_file),
                                   time_limit_s=time_limit), str(workload_file),
                         workload_sha256(workload_file)))


def _say_timings(result: Any, workload: Workload, write_s: float, env: Env) -> None:
    """``-v``: the model's size and each stage's seconds, in the order they run."""
    timings = {**result.timings, "write": write_s}
    order = [s for s in STAGES if s in timings] + [s for s in timings if s not in STAGES]
    env.err.print(f"{result.variables:,} variables, {result.constraints:,} constraints; "
                  f"{workload.horizon.periods} period(s) solved as "
                  f"{result.solved_periods} (runs of identical periods merged)",
                  highlight=False)
    env.err.print("timings (s): " + ", ".join(f"{k} {timings[k]:.2f}" for k in order),
                  highlight=False)


def _before_overwrite(output: Path, new: dict[str, Any], workload: str,
                      state_dir: Path | None, force: bool, out: Console) -> None:
    """Before ``output`` is written over: show what changes from the plan it holds; refuse,
    unless ``force``, when that plan is the one in force for the workload in the ledger."""
    from costopt.cli.diff import render_diff
    from costopt.orchestrate.ledger import Ledger, ledger_path
    from costopt.plan.diff import diff_plans
    from costopt.planfile import read_plan

    if not output.is_file():
        return
    try:
        old = read_plan(output).as_json()
    except CostoptError:
        return  # not a plan file: nothing to compare
    if old["plan_id"] == new["plan_id"]:
        return
    out.print(f"{output} holds a plan already; what changes:", highlight=False)
    render_diff(diff_plans(old, new), out)
    if force or not ledger_path(state_dir).exists():
        return
    with Ledger.open(state_dir) as ledger:
        in_force = ledger.plan_in_force(workload)
    if in_force is not None and in_force[0] == old["plan_id"]:
        raise CostoptError(
            f"{output} holds {old['plan_id']}, the plan in force for {workload} since "
            f"{ts(in_force[1])}; nothing was written. To fix: "
            f"write the new plan elsewhere (-o plan-new.json) and compare with `costopt diff "
            f"{output} plan-new.json`, or pass --force to overwrite it")


def _resume(workload: Workload, catalog: PriceCatalog, workload_file: Path, resume: Path,
            at: datetime, state_dir: Path | None, solver: str, output: Path, fmt: str,
            env: Env) -> None:
    """``plan --resume``: the rest of the plan in force, from the ledger's progress."""
    from costopt.orchestrate.ledger import Ledger, ledger_path
    from costopt.orchestrate.replan import replan
    from costopt.planfile import read_plan, write_plan
    from costopt.workload_checks import workload_sha256

    old = read_plan(resume)
    ledger = Ledger.open(state_dir) if ledger_path(state_dir).exists() else None
    try:
        doc = replan(workload, catalog, old, ledger, at, workload_file=str(workload_file),
                     workload_sha256=workload_sha256(workload_file), solver=solver)
    finally:
        if ledger is not None:
            ledger.close()
    for note in doc.notes:
        env.warn(note)
    write_plan(doc, output)
    resumes = doc.as_json()["resumes"]
    done = resumes["done_gpu_hours"]
    env.err.print(f"Resuming {old.plan_id} at {resumes['at']}: " + ", ".join(
        f"{job} {d:,.2f} of {j.gpu_hours:,.2f} GPU-h done" for j in workload.jobs
        for job, d in done.items() if job == j.name), highlight=False, soft_wrap=True)
    _written(doc.as_json(), output, fmt, env)


def _written(doc: dict[str, Any], output: Path, fmt: str, env: Env,
             candidates: list[str] | None = None) -> None:
    """Say what plan was written, and exit 1 for an infeasible one."""
    if fmt == "json":
        env.console.print_json(json.dumps(doc))
    else:
        render_plan(doc, env, candidates or [])
        env.console.print(f"Plan written to [bold]{output}[/bold] ({doc['plan_id']}).")
    if doc["status"] != "optimal":
        env.err.print(f"[red]infeasible:[/red] the workload cannot be done as asked; "
                      f"shortfalls are in {output}.", highlight=False)
        raise typer.Exit(ExitCode.USER_ERROR)


def render_plan(doc: dict[str, Any], env: Env, candidates: list[str] | None = None) -> None:
    """The plan for people (:mod:`costopt.plan.render` lays it out)."""
    from costopt.cli.tables import show_data
    from costopt.plan.render import plan_blocks

    for block in plan_blocks(doc, candidates):
        if isinstance(block, str):
            env.console.print(block, highlight=False)
        else:
            show_data(env.console, block)


@guarded
def validate(
    ctx: typer.Context,
    workload_file: WorkloadArgument,
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", help="table (for people) or json (a summary on stdout; errors as JSON "
        "on stderr).")] = OutputFormat.TABLE,
) -> None:
    """Check a workload file and say precisely what is wrong (file, field, value, what is
    valid).

    Example: costopt validate examples/workload.yaml
    """
    from costopt.cli.validation import checked_pools, valid_line

    env = get_env(ctx)
    workload, catalog = _load(workload_file, env)
    pools = checked_pools(workload_file, workload, catalog)
    if fmt == OutputFormat.JSON:
        env.console.print_json(json.dumps({
            "file": str(workload_file), "valid": True, "jobs": len(workload.jobs),
            "owned_pools": len(pools.owned), "cloud_pools": len(pools.cloud),
            "periods": workload.horizon.periods}))
        return
    env.say(valid_line(workload_file, workload, pools))


@guarded
def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Where to write workload.yaml.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing workload.yaml.")] = False,
) -> None:
    """Write a commented example workload.yaml to start from.

    Example: costopt init my-lab && costopt validate my-lab/workload.yaml
    """
    from costopt.files import write_atomically
    from costopt.pricing.catalog import shipped_data_dir

    env = get_env(ctx)
    target = directory / "workload.yaml"
    if target.exists() and not force:
        raise CostoptError(f"{target} exists; To fix: pass --force to overwrite it")
    example = shipped_data_dir().parent / "examples" / "workload.yaml"
    write_atomically(target, lambda partial: shutil.copyfile(example, partial))
    env.console.print(f"Wrote {target}. Next: costopt validate {target}", highlight=False)
