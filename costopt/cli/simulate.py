"""``costopt simulate``: carry a plan out against spot traces, and score it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from costopt.cli.common import Env, get_env, guarded
from costopt.cli.steering import PolicyName, WorkloadFile, plan_workload, policy_named


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


@guarded
def simulate(
    ctx: typer.Context,
    plan_file: Annotated[Path, typer.Argument(help="The plan file written by `costopt plan`.",
                                              metavar="PLAN.json")],
    traces_file: Annotated[Path, typer.Option(
        "--traces", help="traces.yaml: the spot pools' capacity traces (docs/simulate.md).",
        metavar="traces.yaml")],
    workload_file: WorkloadFile = None,
    policy: PolicyName = "deadline",
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Also write the JSON result to this file.")] = None,
    solver: Annotated[str, typer.Option(help="LP solver of the hindsight optimum: cbc or "
                                        "highs.")] = "cbc",
    spot_attempts: Annotated[int, typer.Option(
        help="Spot launches per slot before the fallback chain moves on (as apply).",
        min=1)] = 2,
) -> None:
    """Carry a plan out against spot-capacity traces with apply's own reconcile, fallback,
    budget guard and ledger, and score it: realised cost and each job's finish against the
    plan, all on-demand and the hindsight optimum.

    Example: costopt simulate plan.json --traces traces.yaml --format json -o score.json
    """
    from costopt.files import write_atomically
    from costopt.orchestrate.apply import ApplyOptions
    from costopt.plan.planfile import read_plan
    from costopt.simulate.hindsight import hindsight
    from costopt.simulate.run import simulate as run
    from costopt.simulate.score import score_document
    from costopt.simulate.traces import load_manifest
    from costopt.workload import catalog_for

    env = get_env(ctx)
    driver = policy_named(policy)
    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"{fmt!r}; valid: table, json", param_hint="--format")
    if solver not in ("cbc", "highs"):
        raise typer.BadParameter(f"{solver!r}; valid: cbc, highs", param_hint="--solver")
    plan = read_plan(plan_file)
    workload, _path = plan_workload(plan, workload_file)
    catalog = catalog_for(workload)
    traces = load_manifest(traces_file)
    sim = run(plan, workload=workload, catalog=catalog, traces=traces,
              policy=driver, options=ApplyOptions(spot_attempts=spot_attempts),
              say=_verbose(env))
    doc = score_document(sim, hindsight(workload, catalog, traces, solver=solver), traces)
    for note in doc["notes"]:
        env.warn(note)
    if output is not None:
        text = json.dumps(doc, indent=2) + "\n"
        write_atomically(output, lambda partial: partial.write_text(text, encoding="utf-8"))
    if fmt == "json":
        env.console.print_json(json.dumps(doc))
    else:
        _tables(doc, env)


def _verbose(env: Env) -> Any:
    if not env.verbose:
        return None
    return lambda kind, message: env.err.print(f"{kind}: {message}", highlight=False,
                                               soft_wrap=True)


def _when(stamp: str | None) -> str:
    """``2027-01-25T00:00:00Z`` -> ``01-25 00:00``."""
    return stamp[5:16].replace("T", " ") if stamp else ""


def _usd(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _tables(doc: dict[str, Any], env: Env) -> None:
    out = env.console
    out.print(f"[bold]{doc['plan_id']}[/bold] simulated with policy [bold]{doc['policy']}"
              f"[/bold], {doc['horizon']['start']} to {doc['horizon']['end']}: "
              f"{doc['reconciles']} reconciles at {doc['moments']} moments, "
              f"{doc['interruptions']} interruptions.", highlight=False)
    summary = Table(title="Variable cost of the horizon (USD)", title_justify="left")
    for col in ("figure", "USD", "/ realised"):
        summary.add_column(col, justify="left" if col == "figure" else "right")
    realised = doc["realised_usd"]
    for label, key in (("realised (the simulation)", "realised_usd"),
                       ("planned", "planned_usd"),
                       ("all on-demand (baseline)", "on_demand_only_usd"),
                       ("hindsight optimum", "hindsight_usd")):
        value = doc[key]
        ratio = f"{value / realised:.2f}" if value is not None and realised else "-"
        summary.add_row(label, _usd(value), ratio)
    out.print(summary)
    if doc["hindsight_usd"] is None:
        out.print(f"hindsight: {doc['hindsight_note']}", highlight=False, soft_wrap=True)
    jobs = Table(title=f"Jobs (times UTC, {doc['horizon']['start'][:4]}; hours are "
                 "instance-hours; OD on-demand)", title_justify="left", box=box.SIMPLE_HEAD,
                 padding=(0, 0))
    for col in ("job", "due", "finished", "USD", "spot h", "OD h", "intr.", "done"):
        jobs.add_column(col, justify="left" if col in ("job", "due", "finished") else "right",
                        no_wrap=True)
    for j in doc["jobs"]:
        done = j["done_gpu_hours"] / j["needed_gpu_hours"] if j["needed_gpu_hours"] else 1.0
        finished = _when(j["finished"]) if j["met_deadline"] else (
            f"[red]late {_when(j['finished'])}[/red]" if j["finished"] else "[red]not done[/red]")
        jobs.add_row(j["job"], _when(j["deadline"]), finished, _usd(j["realised_usd"]),
                     f"{j['spot_hours']:,.1f}", f"{j['on_demand_hours']:,.1f}",
                     str(j["interruptions"]), f"{done:.1%}")
    out.print(jobs)
    if doc["unattributed_usd"] > 0.005:
        out.print(f"{doc['unattributed_usd']:,.2f} USD of instance time fell in periods the "
                  "plan assigns no job to the pool.", highlight=False)
