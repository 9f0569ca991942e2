"""The plan for people: its figures laid out as lines and tables (data, not drawing: the
CLI draws them), read from the plan document (``PlanDocument.as_json()``).

Sections, in order: the heading; where and when each job runs (a sweep's or multi-node
job's GPUs at once beside its name); the cost by market; purchases; the baselines; what
binds; shortfalls.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from costopt.core.money import usd
from costopt.core.pool_ids import market_label, pool_words
from costopt.core.tables import Col, TableData
from costopt.workload import gang_shape

TABLE_ROWS = 200
"""Rows of the jobs table a terminal shows: a plan of 10,000 jobs has the rest in its file
(and printing them all took 12 s of the 45 s such a plan takes)."""

Block = TableData | str
"""A table, or a line of text (Rich markup allowed)."""


def plan_blocks(doc: dict[str, Any], candidates: list[str] | None = None) -> list[Block]:
    """The plan's sections; ``candidates`` are the servers the workload offered to buy."""
    return [_heading(doc), _jobs(doc), _costs(doc["cost"]), *_purchases(doc, candidates or []),
            _baselines(doc["baselines"]), *_binding(doc["binding"]), *_shortfalls(doc)]


def _heading(doc: dict[str, Any]) -> str:
    return (f"[bold]{doc['plan_id']}[/bold]  status: [bold]{doc['status']}[/bold]  "
            f"solver: {doc['solver']}  prices: {doc['prices']['source']} "
            f"({doc['prices']['price_date']})")


def _runs(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(job, pool) -> its periods, GPU-hours, work (reference GPU-hours) and USD."""
    runs: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"periods": [], "gpu_hours": 0.0, "work": 0.0, "usd": 0.0})
    for a in doc["assignments"]:
        run = runs[(a["job"], a["pool"])]
        run["periods"].append(a["period_start"])
        run["gpu_hours"] += a["gpu_hours"]
        run["work"] += a["work_gpu_hours"]
        run["usd"] += a["cost_usd"]
    return runs


def _jobs(doc: dict[str, Any]) -> TableData:
    """Where and when each job runs: a row per (job, pool), the job named once."""
    daily = all(run["hours"] % 24 == 0 for run in doc["horizon"]["period_runs"])
    stamp = slice(5, 10) if daily else slice(5, 16)  # MM-DD, or MM-DDTHH:MM
    table = TableData(f"Where and when each job runs (periods of {doc['horizon']['start'][:4]}"
                      ", UTC)", [Col("job", "name"), Col("pool"), Col("GPU-h", "number"),
                                 Col("work\nref GPU-h", "number"), Col("periods", "stamp"),
                                 Col("USD", "number")])
    shapes = {j["job"]: gang_shape(j["gpus"], j["nodes"], j["parallel"])
              for j in doc.get("jobs", []) if j["nodes"] > 1 or j["parallel"] > 1}
    rows = sorted(_runs(doc).items(), key=lambda kv: (kv[0][0], -kv[1]["work"]))
    if len(rows) > TABLE_ROWS:
        table.caption = (f"... and {len(rows) - TABLE_ROWS:,} more rows (job, pool): the plan "
                         "file holds every assignment")
    previous = None
    for (job, pool), run in rows[:TABLE_ROWS]:
        label = f"{job} ({shapes[job]})" if job in shapes else job
        table.add_row(label if job != previous else "", pool_words(pool),
                      f"{run['gpu_hours']:,.1f}", f"{run['work']:,.1f}",
                      f"{min(run['periods'])[stamp]}..{max(run['periods'])[stamp]}",
                      usd(run["usd"]))
        previous = job
    return table


def _costs(cost: dict[str, Any]) -> TableData:
    """The cost over the horizon: variable by market, fixed, total (USD)."""
    table = TableData("Cost over the horizon", [Col("part"), Col("USD", "number")])
    for market, amount in cost["by_market"].items():
        table.add_row(f"variable: {market_label(market)}", usd(amount))
    table.add_row("variable cost", usd(cost["variable_usd"]))
    table.add_row("fixed: owned servers (amortisation, idle power, ops)", usd(cost["fixed_usd"]))
    table.add_row("[bold]total[/bold] (every held spot hour paid)",
                  f"[bold]{usd(cost['total_usd'])}[/bold]")
    if cost.get("expected_usd") is not None:
        table.add_row(f"expected total (spot as available; {usd(cost['expected_on_demand_usd'])} "
                      "of it on demand)", usd(cost["expected_usd"]))
    if cost.get("spot_always_there_usd") is not None:
        table.add_row("total were spot always there", usd(cost["spot_always_there_usd"]))
    return table


def _purchases(doc: dict[str, Any], candidates: list[str]) -> list[str]:
    """What to buy, the candidates not bought, and what buying saves."""
    lines = [f"[bold]Buy[/bold] {buy['count']} of {buy['pool']} (at most {buy['max_count']}): "
             f"{usd(buy['fixed_usd'])} USD of fixed cost over the horizon"
             for buy in doc.get("purchases", [])]
    bought = {buy["pool"] for buy in doc.get("purchases", [])}
    lines += [f"[bold]Not bought[/bold]: candidate {name} - buying it would cost more over the "
              "horizon (its fixed cost) than it saves." for name in candidates
              if f"buy:{name}" not in bought]
    if doc.get("buy_saving_usd") is not None:
        lines.append(f"Buying saves {usd(doc['buy_saving_usd'])} USD against the best plan "
                     f"without buying ({usd(doc['no_buy_total_usd'])} USD).")
    return lines


def _baselines(baselines: dict[str, Any]) -> TableData:
    """Each baseline's total and what the plan saves against it (USD and % of its total)."""
    table = TableData("Against the baselines (same prices, setup and spot availability; "
                      "ignoring owned capacity beyond their own and the budget; not "
                      "comparable over a limit shared between jobs; "
                      "jobs only owned servers can run cost in each what they cost in the plan)",
                      [Col("baseline", "name"), Col("total\nUSD", "number"),
                       Col("plan saves\nUSD", "number"), Col("saves\n%", "number"),
                       Col("note")])
    for name, b in baselines.items():
        if not b["feasible"]:  # it leaves work undone: no saving to compare
            misfits = [j for j in b["jobs"] if not j["fits"]]
            why = dict.fromkeys(j["note"] for j in misfits if j["note"])  # each reason once
            table.add_row(name, usd(b["total_usd"]), "not comparable", "-",
                          "not feasible, cannot do: "
                          + (", ".join(j["job"] for j in misfits) or "all the work")
                          + "".join(f"; {reason}" for reason in why))
            continue
        pct = 100 * b["savings_usd"] / b["total_usd"] if b["total_usd"] else 0.0
        table.add_row(name, usd(b["total_usd"]), usd(b["savings_usd"]), f"{pct:.1f}", "")
    return table


def _binding(binding: dict[str, Any]) -> list[str]:
    """What binds: full owned servers, limits at their bound, jobs up to their deadline."""
    lines = [f"owned {o['pool']}: {o['used_pct']:.0f}% used, full in {o['full_periods']} "
             f"period(s)" for o in binding["owned"]]
    lines += [f"{lim['kind']} {lim['name']} at {lim['detail']}"
              + (f" in {len(lim['periods'])} period(s)" if lim["periods"] else "")
              for lim in binding["limits"]]
    if binding["jobs_on_deadline"]:
        lines.append("jobs running up to their deadline: " + ", ".join(binding["jobs_on_deadline"]))
    return ["[bold]What binds[/bold]",
            *(f"  - {line}" for line in lines or ["nothing: every limit has room"])]


def _shortfalls(doc: dict[str, Any]) -> list[TableData]:
    """The work that cannot be done, if any (reference GPU-hours)."""
    if not doc["shortfalls"]:
        return []
    table = TableData("Shortfalls: work that cannot be done", [
        Col("job", "name"), Col("short\nref GPU-h", "number"), Col("why")])
    for s in doc["shortfalls"]:
        table.add_row(s["job"], f"{s['gpu_hours']:,.1f}", s["reason"])
    return [table]
