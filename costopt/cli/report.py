"""``costopt report``: the monthly budget report (``docs/report.md``)."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from costopt.cli.common import Env, ExitCode, get_env, guarded
from costopt.cli.state import StateDir, StateUrl

if TYPE_CHECKING:
    from costopt.core.months import Month
    from costopt.report.spend import LedgerView, MonthReport

class ReportFormat(str, Enum):
    """``report --format``: Markdown, a self-contained HTML page, CSV or JSON."""

    MD = "md"
    HTML = "html"
    CSV = "csv"
    JSON = "json"


class Source(str, Enum):
    """``report --source``: the ledger alone, or AWS Cost Explorer's actuals beside it."""

    LEDGER = "ledger"
    AWS = "aws"


def register(app: typer.Typer) -> None:
    app.command("report")(report)


MonthOption = Annotated[str, typer.Option("--month", help="The calendar month (UTC) to report.",
                                          metavar="YYYY-MM")]
BudgetOption = Annotated[float | None, typer.Option(
    min=0, help="USD for the month. Default: the workload's monthly_budget_usd, else that of "
    "the plans in force.", metavar="USD")]
WorkloadOption = Annotated[Path | None, typer.Option(
    "--workload", help="A workload file: its owned servers and monthly_budget_usd replace "
    "those of the plans in the ledger.", metavar="FILE")]
ReportFormatOption = Annotated[ReportFormat, typer.Option(
    "--format", help="What to print: md (Markdown), html (a self-contained page), csv or "
    "json.")]
OutDirOption = Annotated[Path | None, typer.Option(
    "-o", "--output-dir", help="Write every format (report.md, report.csv, report.json, "
    "report.html) and the charts (PNG) into this folder.", metavar="DIR")]
SourceOption = Annotated[Source, typer.Option(
    "--source", help="ledger, or aws: also AWS Cost Explorer's actuals for the costopt:plan "
    "tag, beside the ledger's figures.")]
AtOption = Annotated[str | None, typer.Option(
    "--at", help="Report as of this time (ISO 8601, UTC); default now.", metavar="TIME")]


@guarded
def report(
    ctx: typer.Context,
    month: MonthOption,
    budget: BudgetOption = None,
    workload_file: WorkloadOption = None,
    fmt: ReportFormatOption = ReportFormat.MD,
    out_dir: OutDirOption = None,
    source: SourceOption = Source.LEDGER,
    state_dir: StateDir = None,
    at: AtOption = None,
    state: StateUrl = None,
) -> None:
    """The monthly budget report: spend so far (ledger runtimes x the price in force, owned
    servers' amortisation and energy), the budget used, the month-end forecast (plans'
    remaining cost, and run-rate) with alert bands at 50/80/100 %, breakdowns by market,
    instance type, region, job and day, savings against all on-demand, interruptions.
    Exits 3 when the forecast is over the budget.

    Example: costopt report --month 2026-12 --budget 9000 -o reports/2026-12
    """
    from costopt.core.months import Month
    from costopt.report.inputs import read_ledger

    env, the_month = get_env(ctx), Month.parse(month)
    view = read_ledger(state_dir, the_month, state)
    result = _month_report(the_month, view, workload_file, budget, env.time_option(at))
    if not result.has_data:
        _say_no_data(the_month, (state, state_dir), env)
        return
    if source == "aws":
        result = _with_cost_explorer(result, view, env)
    pace = _jobs_pace(view, (state, state_dir), result.as_of)
    if out_dir is None:
        env.console.out(_text(result, fmt, pace), end="", highlight=False)
    else:
        _write_all(result, out_dir, env, pace)
    _exit_if_over_budget(result, env)


def _month_report(month: Month, view: LedgerView, workload_file: Path | None,
                  budget_usd: float | None, at: datetime) -> MonthReport:
    """The month's report as of ``at``: owned servers and the budget from the workload file
    when given, else from the plans in the ledger (``budget_usd`` before either)."""
    from costopt.report.attribution import owned_from_plans, owned_from_workload
    from costopt.report.forecast import choose_budget
    from costopt.report.spend import month_report
    from costopt.workload_checks import load_workload

    workload = load_workload(workload_file) if workload_file else None
    owned = (owned_from_workload(workload) if workload
             else owned_from_plans(view.plans, month))
    return month_report(month, at, view, owned=owned,
                        budget=choose_budget(budget_usd, workload, view.plans, month))


def _say_no_data(month: Month, state: tuple[str | None, Path | None], env: Env) -> None:
    """The month has nothing to report: say so, naming the ledger read."""
    from costopt.orchestrate.ledger import state_location
    from costopt.report.render import no_data_message

    env.console.print(no_data_message(month.label, state_location(*state).shown),
                      highlight=False, soft_wrap=True)


def _exit_if_over_budget(result: MonthReport, env: Env) -> None:
    """Warn and exit 3 when the month-end forecast is over the budget."""
    if result.budget is not None and result.budget.over:
        env.warn(f"the forecast for {result.month.label}, USD {result.forecast.usd:,.2f} "
                 f"({result.forecast.basis}), is over the budget of USD "
                 f"{result.budget.budget_usd:,.2f}")
        raise typer.Exit(ExitCode.OVER_BUDGET)


def _with_cost_explorer(result: MonthReport, view: LedgerView, env: Env) -> MonthReport:
    from costopt.report.comparison import join_cost_explorer, tagged_plan_ids
    from costopt.report.costexplorer import daily_costs, window

    plan_ids = tagged_plan_ids(result, view.runtimes)
    span = window(result.month.start, result.as_of)
    costs = daily_costs(env.boto3_session(), *span, plan_ids) if span else []
    return join_cost_explorer(result, costs, plan_ids)


def _jobs_pace(view: LedgerView, state: tuple[str | None, Path | None],
               at: datetime) -> list[dict[str, Any]]:
    """Each job of the plans that ran this month against its plan's pace at ``at`` (as
    ``status`` shows it); plans whose workload cannot be read are left out."""
    from costopt.cli.steering import job_rows
    from costopt.orchestrate.ledger import Ledger, state_location

    ran = {r.plan_id for r in view.runtimes}
    plans = [p for p in view.plans if p.plan_id in ran]
    if not plans:
        return []
    with Ledger.connect(state_location(*state)) as ledger:
        rows, _notes = job_rows(plans, ledger, at)
    return rows


def _text(result: MonthReport, fmt: str, pace: list[dict[str, Any]]) -> str:
    from costopt.report import render

    if fmt == "html":
        from costopt.report.charts import chart_pngs

        return render.html_page(result, chart_pngs(result), pace)
    if fmt == "json":
        return json.dumps({**render.json_document(result), "jobs_pace": pace}, indent=2) + "\n"
    return render.csv_text(result) if fmt == "csv" else render.markdown(result, pace)


def _write_all(result: MonthReport, out_dir: Path, env: Env,
               pace: list[dict[str, Any]]) -> None:
    """Every format and the chart PNGs into ``out_dir``; the headline and the files on
    stdout."""
    from costopt.files import write_atomically
    from costopt.report import render
    from costopt.report.charts import chart_pngs

    pngs = chart_pngs(result)
    files = {
        "report.md": _text(result, "md", pace).encode(),
        "report.csv": render.csv_text(result).encode(),
        "report.json": _text(result, "json", pace).encode(),
        "report.html": render.html_page(result, pngs, pace).encode(),
        **{f"chart-{name}.png": data for name, data in pngs.items()},
    }
    for name, data in files.items():
        write_atomically(out_dir / name, lambda partial, data=data: partial.write_bytes(data))
    env.console.print(render.headline(result), highlight=False, soft_wrap=True)
    env.console.print(f"Written to {out_dir}: {', '.join(files)}", highlight=False,
                      soft_wrap=True)
