"""``costopt risk``: what a plan will really cost, with odds (docs/risk.md); and the risk
line ``costopt plan --risk N`` prints."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from costopt.cli.common import Env, ExitCode, PlanArgument, get_env, guarded
from costopt.cli.steering import (
    PolicyName,
    SpotAttempts,
    WorkloadFile,
    plan_workload,
    policy_named,
)

if TYPE_CHECKING:
    from costopt.planfile import PlanDocument
    from costopt.pricing.catalog import PriceCatalog
    from costopt.risk.fanout import Done
    from costopt.risk.scenario import RiskInputs
    from costopt.workload import Workload

class RiskFormat(str, Enum):
    """``risk --format``: for people, JSON, or an HTML page."""

    TABLE = "table"
    JSON = "json"
    HTML = "html"


def register(app: typer.Typer) -> None:
    app.command("risk")(risk)


ScenariosOption = Annotated[int, typer.Option(
    "-n", "--scenarios", help="Scenarios of spot capacity to carry the plan out in.", min=1)]
SeedOption = Annotated[int, typer.Option(
    help="Master seed: the same seed and count give the same figures on any runner.", min=0)]
TracesOption = Annotated[Path | None, typer.Option(
    "--traces", help="Draw windows of recorded traces: a traces.yaml manifest, or a folder of "
    "trace files in the public format (default: synthetic traces from each spot pool's "
    "statistics).", metavar="PATH")]
AvailabilityOption = Annotated[float | None, typer.Option(
    help="Synthetic traces: share of the time spot can be had, for every spot pool (default: "
    "the plan's assumption where given or traced, else 0.59).")]
MeanOutageOption = Annotated[float | None, typer.Option(
    help="Synthetic traces: mean outage, hours (default: from the pool's preemptions per "
    "spot-hour, else 0.44).")]
DropsOption = Annotated[float, typer.Option(
    help="Synthetic traces: one-tick drops per up hour on top of outages.")]
ReplanOption = Annotated[bool, typer.Option(
    "--replan/--no-replan", help="With --policy plan: re-plan on events as watch does (the "
    "default); --no-replan carries the plan out as written.")]
WorkersOption = Annotated[int | None, typer.Option(
    help="Local processes (default: every core; 1 runs in this process).", min=1)]
RayOption = Annotated[str | None, typer.Option(
    "--ray", help="Run on Ray: a cluster address (auto, ray://HEAD:10001) or `local`; default "
    "the RAY_ADDRESS variable, else local processes. Needs pip install 'costopt[ray]'.",
    metavar="ADDRESS")]
RetriesOption = Annotated[int, typer.Option(
    help="On Ray: tries again of a failed scenario before it is reported.", min=0)]
RiskFormatOption = Annotated[RiskFormat, typer.Option("--format", help="table, json or html.")]
OutputOption = Annotated[Path | None, typer.Option(
    "-o", "--output", help="Also write the JSON (or, with --format html, the page) here.")]
WriteTracesOption = Annotated[Path | None, typer.Option(
    "--write-traces", help="Write each scenario's traces to DIR/scenario-K/ with a "
    "traces.yaml, to replay with `costopt simulate`.", metavar="DIR")]


@guarded
def risk(
    ctx: typer.Context,
    plan_file: PlanArgument,
    scenarios: ScenariosOption = 100,
    seed: SeedOption = 0,
    traces: TracesOption = None,
    availability: AvailabilityOption = None,
    mean_outage_hours: MeanOutageOption = None,
    interruptions_per_hour: DropsOption = 0.0,
    workload_file: WorkloadFile = None,
    policy: PolicyName = "plan",
    replan: ReplanOption = True,
    workers: WorkersOption = None,
    ray_address: RayOption = None,
    retries: RetriesOption = 2,
    fmt: RiskFormatOption = RiskFormat.TABLE,
    output: OutputOption = None,
    write_traces: WriteTracesOption = None,
    spot_attempts: SpotAttempts = 2,
) -> None:
    """Carry a plan out in N scenarios of spot capacity with the controller apply and watch
    run (re-planning included, as simulate does), and give the odds: realised cost
    P10/P50/P90/max against the plan and all on-demand, each job's probability of missing its
    deadline and its P90 finish, and the pools that drive the tail.

    Example: costopt risk plan.json -n 200 --format html -o risk.html
    """
    env = get_env(ctx)
    plan, workload, catalog = _plan_to_assess(plan_file, workload_file, policy)
    inputs = _inputs(plan, workload, catalog, traces, availability, mean_outage_hours,
                     interruptions_per_hour, policy, spot_attempts, replan)
    if write_traces is not None:
        _write_traces(inputs, seed, scenarios, write_traces)
    with _progress(env, scenarios) as done:
        doc = _assess(inputs, scenarios, seed, workers, ray_address or os.environ.get(
            "RAY_ADDRESS"), retries, done)
    _emit(doc, fmt, output, env)
    _exit_if_any_failed(doc, env)


def _exit_if_any_failed(doc: dict[str, Any], env: Env) -> None:
    """Scenarios that failed (the figures are over the others): say so, exit 1."""
    if doc["failed"]:
        env.err.print(f"[red]error:[/red] {len(doc['failed'])} of {doc['scenarios']} "
                      "scenario(s) failed (their errors are in the output's `failed`); the "
                      "figures are over the others.", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.USER_ERROR)


def _plan_to_assess(plan_file: Path, workload_file: Path | None, policy: str
                    ) -> tuple[PlanDocument, Workload, PriceCatalog]:
    """The plan, the workload it was made from (``workload_file`` when given) and its price
    catalog; ``policy`` checked first."""
    from costopt.planfile import read_plan
    from costopt.workload_checks import catalog_for

    policy_named(policy)
    plan = read_plan(plan_file)
    workload, _path = plan_workload(plan, workload_file)
    return plan, workload, catalog_for(workload)


def _inputs(plan: PlanDocument, workload: Workload, catalog: PriceCatalog,
            traces: Path | None, availability: float | None, mean_outage_hours: float | None,
            interruptions_per_hour: float, policy: str, spot_attempts: int,
            replan: bool = True) -> RiskInputs:
    from costopt.errors import CostoptError
    from costopt.risk.replay import load_source
    from costopt.risk.scenario import RiskInputs
    from costopt.risk.scenarios import synthetic_source

    if traces is not None:
        source: Any = load_source(traces)
        source.check(plan)
    else:
        try:
            source = synthetic_source(plan, availability=availability,
                                      mean_outage_hours=mean_outage_hours,
                                      interruptions_per_hour=interruptions_per_hour)
        except ValueError as exc:
            raise CostoptError(f"{exc}. To fix: give values the generator can reach "
                               "(docs/risk.md)") from None
    return RiskInputs(plan=plan, workload=workload, catalog=catalog, source=source,
                      policy=getattr(policy, "value", policy),  # the name, not the enum
                      spot_attempts=spot_attempts, replan=replan)


def _assess(inputs: RiskInputs, scenarios: int, seed: int, workers: int | None,
            ray_address: str | None, retries: int, done: Done | None) -> dict[str, Any]:
    from costopt.errors import CostoptError
    from costopt.risk.assess import assess

    if ray_address is not None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise CostoptError("--ray (or RAY_ADDRESS) needs Ray. To fix: pip install "
                               "'costopt[ray]', or leave --ray out to use local processes"
                               ) from None
    return assess(inputs, scenarios=scenarios, seed=seed, workers=workers,
                  ray_address=ray_address, retries=retries, on_done=done)


def _write_traces(inputs: RiskInputs, seed: int, scenarios: int, folder: Path) -> None:
    from costopt.risk.replay import write_scenario
    from costopt.risk.scenarios import scenario_seeds

    for index, scenario_seed in enumerate(scenario_seeds(seed, scenarios)):
        write_scenario(inputs.traces(scenario_seed), folder / f"scenario-{index:04d}")


@contextmanager
def _progress(env: Env, total: int) -> Iterator[Done | None]:
    """A Rich progress bar on stderr while scenarios come back (none when not a terminal)."""
    if not env.err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("scenarios", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=env.err, transient=True) as bar:
        task = bar.add_task("scenarios", total=total)
        yield lambda _outcome: bar.advance(task)


def _emit(doc: dict[str, Any], fmt: str, output: Path | None, env: Env) -> None:
    from costopt.files import write_atomically

    if fmt == "html":
        from costopt.risk.chart import risk_png
        from costopt.risk.document import html_page

        text = html_page(doc, risk_png(doc))
    else:
        text = json.dumps(doc, indent=2) + "\n"
    if output is not None:
        write_atomically(output, lambda partial: partial.write_text(text, encoding="utf-8"))
    if fmt == "json":
        env.console.print_json(json.dumps(doc))
    elif fmt == "html" and output is None:
        env.console.out(text, end="")
    elif fmt == "table":
        _tables(doc, env)


def _tables(doc: dict[str, Any], env: Env) -> None:
    from costopt.risk.document import headline, tables

    env.console.print(f"[bold]{doc['plan_id']}[/bold] in {doc['scenarios']} scenario(s) "
                      f"({doc['source']}; policy {doc['policy']}"
                      f"{', re-planning' if doc['replan'] else ''}; seed {doc['seed']}; "
                      f"{doc['runner']}).", highlight=False, soft_wrap=True)
    for t in tables(doc):
        rich = Table(title=t.title, title_justify="left", caption=t.note or None,
                     caption_justify="left")
        for i, col in enumerate(t.columns):
            rich.add_column(col, justify="left" if i in t.text else "right",
                            no_wrap=i not in t.text, overflow="fold")  # ids never cut
        for row in t.rows:
            rich.add_row(*row)
        env.console.print(rich)
    env.console.print(headline(doc), highlight=False, soft_wrap=True)


def plan_risk(env: Env, plan: PlanDocument, workload: Workload, catalog: PriceCatalog, *,
              scenarios: int | None, budget_usd: float | None,
              replan: Callable[[Workload], PlanDocument]) -> tuple[PlanDocument, str | None]:
    """``plan --risk N [--risk-budget USD]``: the plan to write and its risk line (none for
    an infeasible plan). With a budget, plans for the tail
    (:func:`costopt.risk.assess.plan_for_tail`)."""
    from costopt.risk.assess import plan_for_tail
    from costopt.risk.document import headline

    if scenarios is None:
        raise typer.BadParameter("plans for the tail of N scenarios: give --risk N too",
                                 param_hint="--risk-budget")
    if plan.status != "optimal":
        return plan, None

    inputs = _inputs(plan, workload, catalog, None, None, None, 0.0, "plan", 2)

    def run(attempt: RiskInputs) -> dict[str, Any]:
        with _progress(env, scenarios) as done:
            return _assess(attempt, scenarios, 0, None, os.environ.get("RAY_ADDRESS"), 2, done)

    if budget_usd is None:
        return plan, headline(run(inputs))
    attempts = plan_for_tail(inputs, budget_usd, replan, run)
    for a in attempts:
        env.err.print(f"spot availability x {a.factor:g}: P90 "
                      f"{a.p90_usd if a.p90_usd is not None else float('nan'):,.2f} USD "
                      f"(planned {a.plan.cost.variable_usd:,.2f})", highlight=False)
    best = next((a for a in attempts if a.p90_usd is not None and a.p90_usd <= budget_usd),
                None)
    if best is None:
        best = min(attempts, key=lambda a: a.p90_usd if a.p90_usd is not None else
                   float("inf"))
        env.warn(f"no plan tried has its P90 within {budget_usd:,.2f} USD; keeping the one "
                 f"of least P90 (spot availability x {best.factor:g})")
    return best.plan, headline(best.risk)
