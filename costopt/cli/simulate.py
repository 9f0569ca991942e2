"""``costopt simulate``: carry a plan out against spot traces, and score it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from costopt.cli.common import (
    Env,
    ExitCode,
    OutputFormat,
    PlanArgument,
    Solver,
    get_env,
    guarded,
)
from costopt.cli.steering import (
    PolicyName,
    SpotAttempts,
    WorkloadFile,
    plan_workload,
    policy_named,
)
from costopt.cli.tables import Col, show, styled, table_of
from costopt.core.money import usd


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


TracesOption = Annotated[Path, typer.Option(
    "--traces", help="traces.yaml: the spot pools' capacity traces (docs/simulate.md).",
    metavar="traces.yaml")]
FormatOption = Annotated[OutputFormat, typer.Option(
    "--format", help="table or json (errors as JSON on stderr).")]
OutputOption = Annotated[Path | None, typer.Option(
    "-o", "--output", help="Also write the JSON result to this file.")]
SolverOption = Annotated[Solver, typer.Option(
    help="LP solver of the hindsight bound (many jobs).")]
ReplanOption = Annotated[bool, typer.Option(
    "--replan/--no-replan", help="Re-plan on events as watch does (the default); --no-replan "
    "carries the plan out as written.")]


@guarded
def simulate(
    ctx: typer.Context,
    plan_file: PlanArgument,
    traces_file: TracesOption,
    workload_file: WorkloadFile = None,
    policy: PolicyName = "plan",
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    solver: SolverOption = Solver.HIGHS,
    spot_attempts: SpotAttempts = 2,
    replan: ReplanOption = True,
) -> None:
    """Carry a plan out against spot-capacity traces with apply's own reconcile, fallback,
    budget guard and ledger, and score it: realised cost and each job's finish against the
    plan, all on-demand and the hindsight optimum.

    Example: costopt simulate plan.json --traces traces.yaml --format json -o score.json
    """
    from costopt.files import write_atomically

    env = get_env(ctx)
    doc = _scored(plan_file, traces_file, workload_file, policy,
                  (solver.value, spot_attempts, replan), env)
    for note in doc["notes"]:
        env.warn(note)
    if output is not None:
        text = json.dumps(doc, indent=2) + "\n"
        write_atomically(output, lambda partial: partial.write_text(text, encoding="utf-8"))
    if fmt == "json":
        env.console.print_json(json.dumps(doc))
    else:
        _tables(doc, env)
    missed = [j["job"] for j in doc["jobs"] if not j["met_deadline"]]
    if missed:
        env.err.print(f"[red]deadline missed:[/red] {', '.join(missed)} (exit code "
                      f"{ExitCode.DEADLINE_MISSED.value})", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.DEADLINE_MISSED)


def _scored(plan_file: Path, traces_file: Path, workload_file: Path | None, policy: str,
            how: tuple[str, int, bool], env: Env) -> dict[str, Any]:
    """The score document of the plan carried out against the traces (``how``: the
    hindsight's solver, spot attempts per slot, re-plan on events)."""
    from costopt.orchestrate.apply import ApplyOptions
    from costopt.orchestrate.steer import setup_minutes_of
    from costopt.planfile import read_plan
    from costopt.simulate.hindsight import hindsight
    from costopt.simulate.run import simulate as run
    from costopt.simulate.score import score_document
    from costopt.traces import load_manifest
    from costopt.workload_checks import catalog_for

    solver, spot_attempts, replan = how
    driver = policy_named(policy)
    plan = read_plan(plan_file)
    workload, _path = plan_workload(plan, workload_file)
    catalog = catalog_for(workload)
    traces = load_manifest(traces_file)
    with env.busy(f"Simulating {plan.plan_id} against {len(traces)} trace(s)..."):
        sim = run(plan, workload=workload, catalog=catalog, traces=traces,
                  policy=driver, options=ApplyOptions(spot_attempts=spot_attempts),
                  replan=replan, say=_verbose(env))
        best = hindsight(workload, catalog, traces, solver=solver,
                         setup_minutes=setup_minutes_of(plan, workload))
        return score_document(sim, best, traces)


def _verbose(env: Env) -> Any:
    if not env.verbose:
        return None
    return lambda kind, message: env.err.print(f"{kind}: {message}", highlight=False,
                                               soft_wrap=True)


def _when(stamp: str | None) -> str:
    """``2027-01-25T00:00:00Z`` -> ``01-25 00:00``."""
    return stamp[5:16].replace("T", " ") if stamp else ""


HINDSIGHT_LABEL = {"exact": "hindsight optimum (exact)",
                   "bound": "hindsight bound (LP, a lower bound)"}


def done_percent(job: dict[str, Any]) -> str:
    """The share of its work a job did, to 0.1 %, rounded down: 99.97 % is ``99.9``, so
    ``100.0`` means done, never "not done"."""
    if job["finished"]:
        return "100.0"
    share = job["done_gpu_hours"] / job["needed_gpu_hours"] if job["needed_gpu_hours"] else 0.0
    return f"{math.floor(share * 1000) / 10:.1f}"


def _tables(doc: dict[str, Any], env: Env) -> None:
    out = env.console
    out.print(f"[bold]{doc['plan_id']}[/bold] simulated with policy [bold]{doc['policy']}"
              f"[/bold], {doc['horizon']['start']} to {doc['horizon']['end']}: "
              f"{doc['reconciles']} reconciles at {doc['moments']} moments, "
              f"{doc['interruptions']} interruptions.", highlight=False)
    summary = table_of("Variable cost of the horizon", [
        Col("figure"), Col("USD", "number"), Col("realised\n= 1", "number")])
    realised = doc["realised_usd"]
    for label, key in (("realised (the simulation)", "realised_usd"),
                       ("planned", "planned_usd"),
                       ("all on-demand (baseline)", "on_demand_only_usd"),
                       (HINDSIGHT_LABEL.get(doc["hindsight_kind"], "hindsight"),
                        "hindsight_usd")):
        value = doc[key]
        ratio = f"{value / realised:.2f}" if value is not None and realised else "-"
        summary.add_row(label, usd(value), ratio)
    show(out, summary)
    if doc["hindsight_usd"] is None:
        out.print(f"hindsight: {doc['hindsight_note']}", highlight=False, soft_wrap=True)
    jobs = table_of(f"Jobs (times UTC, {doc['horizon']['start'][:4]}; hours are "
                    "instance-hours)", [
                        Col("job", "name"), Col("due", "stamp"), Col("state", "word"),
                        Col("finished", "stamp"), Col("USD", "number"),
                        Col("spot\nh", "number", optional=True),
                        Col("on-demand\nh", "number", optional=True),
                        Col("interrup-\ntions", "number", optional=True),
                        Col("done\nGPU-h", "number"), Col("done\n%", "number")])
    for j in doc["jobs"]:
        state = "met" if j["met_deadline"] else "late" if j["finished"] else "not done"
        jobs.add_row(j["job"], _when(j["deadline"]), styled(state), _when(j["finished"]),
                     usd(j["realised_usd"]), f"{j['spot_hours']:,.1f}",
                     f"{j['on_demand_hours']:,.1f}", str(j["interruptions"]),
                     f"{j['done_gpu_hours']:,.2f}", done_percent(j))
    show(out, jobs)
    if doc["unattributed_usd"] > 0.005:
        out.print(f"{doc['unattributed_usd']:,.2f} USD of instance time fell in periods the "
                  "plan assigns no job to the pool.", highlight=False)
