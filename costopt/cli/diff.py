"""``costopt diff OLD.json NEW.json``: what changed from one plan to the next, in USD."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from costopt.cli.common import OutputFormat, get_env, guarded
from costopt.cli.tables import Col, show, table_of
from costopt.core.pool_ids import market_label, pool_words

if TYPE_CHECKING:
    from rich.console import Console

    from costopt.plan.diff import JobChange, PlanDiff


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)


@guarded
def diff(
    ctx: typer.Context,
    old: Annotated[Path, typer.Argument(help="The plan before.", metavar="OLD.json")],
    new: Annotated[Path, typer.Argument(help="The plan after.", metavar="NEW.json")],
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", help="table or json (errors as JSON on stderr).")] = OutputFormat.TABLE,
) -> None:
    """Show what changed between two plans: jobs moved between pools, pools added and
    removed, the cost by market and the change in USD (+ dearer, - cheaper).

    Example: costopt diff plan.json plan-new.json
    """
    from costopt.plan.diff import diff_plans
    from costopt.planfile import read_plan

    env = get_env(ctx)
    change = diff_plans(read_plan(old).as_json(), read_plan(new).as_json())
    if fmt == "json":
        env.console.print_json(json.dumps({**asdict(change), "change_usd": change.change_usd}))
        return
    render_diff(change, env.console)


def signed(usd: float) -> str:
    """A change in USD with its sign: ``+12.50``, ``-3.00``, ``0.00``."""
    return "0.00" if abs(usd) < 0.005 else f"{usd:+,.2f}"


def _moves(change: JobChange) -> str:
    pools = sorted(set(change.before) | set(change.after))
    return "; ".join(f"{pool_words(p)} {change.before.get(p, 0.0):,.1f} -> "
                     f"{change.after.get(p, 0.0):,.1f} GPU-h" for p in pools
                     if abs(change.before.get(p, 0.0) - change.after.get(p, 0.0)) > 0.05)


def render_diff(change: PlanDiff, out: Console) -> None:
    """The diff for people: ``+`` added, ``-`` removed, ``~`` moved; cost by market."""
    out.print(f"[bold]{change.old_id}[/bold] -> [bold]{change.new_id}[/bold] (status "
              f"{change.status[0]} -> {change.status[1]})", highlight=False)
    if change.unchanged:
        out.print("No changes: the same jobs on the same pools at the same cost.")
        return
    marks = {"added": "[green]+[/]", "removed": "[red]-[/]", "moved": "[yellow]~[/]",
             "changed": "[yellow]~[/]"}
    for job in change.jobs:
        out.print(f"  {marks[job.kind]} job {job.job} {job.kind}: {_moves(job)}",
                  highlight=False)
    for pool in change.pools_added:
        out.print(f"  [green]+[/] pool {pool_words(pool)} ({pool})", highlight=False)
    for pool in change.pools_removed:
        out.print(f"  [red]-[/] pool {pool_words(pool)} ({pool})", highlight=False)
    table = table_of("Cost over the horizon by market", [
        Col("market", "word"), Col("before\nUSD", "number"), Col("after\nUSD", "number"),
        Col("change\nUSD", "number")])
    for market, (before, after) in change.by_market.items():
        table.add_row(market_label(market), f"{before:,.2f}", f"{after:,.2f}",
                      signed(after - before))
    before, after = change.total_usd
    table.add_row("[bold]total[/bold]", f"{before:,.2f}", f"{after:,.2f}",
                  f"[bold]{signed(after - before)}[/bold]")
    show(out, table)
