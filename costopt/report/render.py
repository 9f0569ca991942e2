"""The report as Markdown (terminal, chat), CSV (spreadsheets), JSON (scripts) and a
self-contained HTML page (charts embedded as ``data:`` URIs, inline CSS, no external
request).

Markdown and HTML show the same tables (:func:`tables`); CSV is the JSON document's
figures one per row (``section,name,metric,value,unit``). JSON amounts are USD rounded to
the cent, hours and percentages to 4 places.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from costopt.core.money import usd
from costopt.core.pool_ids import market_label
from costopt.report.attribution import OWNED
from costopt.report.spend import MonthReport, SpendLine

SCHEMA = "costopt.report/v1"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def _hours(value: float) -> str:
    return f"{value:,.1f}"


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _band(report: MonthReport) -> tuple[str, str]:
    """The alert band in words, and as the page's CSS class."""
    b = report.budget
    if b is None:
        return "no budget", "band-none"
    if b.over:
        return "over budget", "band-over"
    if b.band_pct:
        return f"alert {b.band_pct} %", f"band-{b.band_pct}"
    return "on track", "band-ok"


def no_data_message(month: str, ledger: Path | str) -> str:
    """What a month with nothing to report says (exit 0)."""
    return (f"no spend recorded for {month} in {ledger}: no instance ran, no plan was in "
            "force and no owned server is known. Run `costopt apply PLAN.json --yes` to "
            "carry out a plan, pass --workload FILE for owned servers, or choose another "
            "--month.")


def cloud_usd(report: MonthReport) -> float:
    """The month's cloud spend (on-demand and spot): what the launch guard counts against
    ``monthly_budget_usd``. The report's spend adds the owned servers' costs."""
    return sum(line.usd for line in report.by_market if line.name != OWNED)


def headline(report: MonthReport) -> str:
    """One sentence: spend (cloud and owned, as the budget counts it here), budget, forecast
    and the alert band."""
    f, b = report.forecast, report.budget
    cloud = cloud_usd(report)
    spent = (f"As of {_utc(report.as_of)}, spent USD {usd(report.total_usd)} (cloud "
             f"{usd(cloud)} + owned servers {usd(report.total_usd - cloud)})")
    forecast = f"forecast USD {usd(f.usd)} by month end ({f.basis})"
    if b is None:
        return (f"{spent}; {forecast}. No budget: give --budget USD or a workload's "
                "monthly_budget_usd.")
    return (f"{spent} of a USD {usd(b.budget_usd)} budget ({_pct(b.used_pct)}); {forecast}, "
            f"{_pct(b.forecast_pct)} of the budget: {_band(report)[0]}.")


# -- tables for Markdown and HTML ----------------------------------------------------------

@dataclass(frozen=True)
class Table:
    """A titled table of formatted cells; the ``text`` columns are left-aligned, the others
    (figures) right-aligned."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""
    text: tuple[int, ...] = (0,)


def _summary(report: MonthReport) -> Table:
    f, b, m = report.forecast, report.budget, report.month
    cloud = cloud_usd(report)
    rows = [("spent so far: cloud + owned", usd(report.total_usd),
             f"{report.elapsed_hours / 24:g} of {m.hours / 24:g} days; owned servers' "
             "amortisation, idle power, ops and energy included"),
            ("of which cloud", usd(cloud), "on-demand + spot: what apply's budget guard "
             "counts against monthly_budget_usd")]
    if b is not None:
        rows += [("budget", usd(b.budget_usd), b.source),
                 ("used", _pct(b.used_pct), "spent so far / budget")]
    rows += [
        ("forecast: spent + plans' remaining cost", usd(f.plan_usd),
         f"remaining USD {usd(f.remaining_usd)} from {_utc(report.as_of)} to month end"),
        ("forecast: run-rate", "-" if f.run_rate_usd is None else usd(f.run_rate_usd),
         f"spent / {_hours(report.elapsed_hours)} h x {_hours(m.hours)} h"),
        ("forecast (the larger)", usd(f.usd), f.basis),
    ]
    if b is not None:
        rows += [("forecast / budget", _pct(b.forecast_pct), _band(report)[0])]
    return Table("Summary", ("figure", "value", "how"), tuple(rows), text=(0, 2))


def _breakdown(title: str, lines: tuple[SpendLine, ...], total: float, label: str,
               name: Callable[[str], str] = str) -> Table:
    rows = tuple((name(x.name), usd(x.usd),
                  _pct(100 * x.usd / total) if total else "-", _hours(x.instance_hours),
                  _hours(x.gpu_hours)) for x in lines)
    return Table(title, (label, "USD", "share", "instance-hours", "GPU-hours"), rows)


def _daily(report: MonthReport) -> Table:
    rows, running = [], 0.0
    for d in report.daily:
        running += d.usd
        rows.append((d.day.isoformat(), usd(d.owned_usd), usd(d.on_demand_usd),
                     usd(d.spot_usd), usd(d.usd), usd(running)))
    return Table("Daily spend (UTC days)",
                 ("day", "owned", "on-demand", "spot", "total", "cumulative"), tuple(rows))


def _savings(report: MonthReport) -> Table:
    s = report.savings
    return Table("Savings against all on-demand", ("figure", "USD"), (
        ("cloud spend", usd(s.cloud_usd)),
        ("the same instance-hours at on-demand prices", usd(s.on_demand_usd)),
        ("saved", f"{usd(s.savings_usd)} ({_pct(s.savings_pct)})"),
    ), note="Owned servers are not in this comparison.")


def _interruptions(report: MonthReport) -> Table:
    rows = tuple((i.instance_id, i.pool, _utc(i.at), i.reason) for i in report.interruptions)
    return Table(f"Spot interruptions: {len(rows)}", ("instance", "pool", "at", "reason"), rows,
                 text=(0, 1, 2, 3))


def _aws(report: MonthReport) -> Table | None:
    a = report.aws
    if a is None:
        return None
    rows = [(r.day.isoformat(), r.instance_type, usd(r.ledger_usd), usd(r.aws_usd),
             usd(r.difference_usd), "estimated" if r.estimated else "") for r in a.rows]
    rows.append(("total", "", usd(a.ledger_usd), usd(a.aws_usd), usd(a.difference_usd), ""))
    tags = ", ".join(a.plan_ids) or "(none)"
    return Table("AWS Cost Explorer against the ledger (cloud, USD)",
                 ("day", "instance type", "ledger", "AWS", "AWS - ledger", ""), tuple(rows),
                 note=f"Unblended cost of resources tagged costopt:plan = {tags}. Cost "
                 "Explorer lags about a day; the tag counts only once activated as a "
                 "cost-allocation tag.", text=(0, 1, 5))


def tables(report: MonthReport) -> list[Table]:
    """The report's tables, in reading order."""
    total = report.total_usd
    out = [
        _summary(report),
        _breakdown("By market", report.by_market, total, "market", market_label),
        _breakdown("By instance type", report.by_instance_type, total, "instance type"),
        _breakdown("By region", report.by_region, total, "region"),
        _breakdown("By job", report.by_job, total, "job"),
        _daily(report),
        _savings(report),
        _interruptions(report),
    ]
    aws = _aws(report)
    return out + ([aws] if aws else [])


def _title(report: MonthReport) -> str:
    return f"GPU spend, {report.month.label}"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def pace_table(pace: Sequence[Mapping[str, Any]]) -> Table:
    """Each job against its plan's pace (rows as ``status --format json`` has them)."""
    return Table("Jobs against their plans' pace", (
        "plan", "job", "done GPU-h", "planned by now GPU-h", "needed GPU-h", "due (UTC)",
        "state"), tuple((j["plan_id"], j["job"], f"{j['done_gpu_hours']:,.2f}",
                         f"{j['planned_by_now_gpu_hours']:,.2f}", f"{j['needed_gpu_hours']:,.2f}",
                         j["deadline"], j["pace"]) for j in pace),
        note="GPU-h: reference GPU-hours (V100 = 1.0); the states are defined in "
             "`costopt status --help`.", text=(0, 1, 5, 6))


def markdown_table(t: Table) -> list[str]:
    """One table as Markdown lines, under its heading."""
    out = [f"## {t.title}", ""]
    if t.rows:
        out.append("| " + " | ".join(t.columns) + " |")
        out.append("|" + "|".join(" --- " if i in t.text else " ---: "
                                  for i in range(len(t.columns))) + "|")
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    else:
        out.append("(none)")
    return out + [""] + ([t.note, ""] if t.note else [])


def markdown(report: MonthReport, pace: Sequence[Mapping[str, Any]] = ()) -> str:
    """The report as Markdown, with the jobs' pace when given."""
    out = [f"# {_title(report)}", "", f"**{headline(report)}**", ""]
    for t in tables(report) + ([pace_table(pace)] if pace else []):
        out += markdown_table(t)
    out += _notes(report)
    return "\n".join(out).rstrip() + "\n"


def _notes(report: MonthReport) -> list[str]:
    plans = ", ".join(report.plans) or "none"
    owned = ", ".join(report.owned_pools) or "none"
    return ["## Sources", "", f"- Plans in force: {plans}", f"- Owned servers: {owned}",
            *(f"- Note: {n}" for n in report.notes), ""]


# -- JSON and CSV ----------------------------------------------------------------------------

def _c(value: float) -> float:
    return round(value, 2) + 0.0


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4) + 0.0


def _line(x: SpendLine) -> dict[str, Any]:
    return {"name": x.name, "usd": _c(x.usd), "instance_hours": _r(x.instance_hours),
            "gpu_hours": _r(x.gpu_hours)}


def json_document(report: MonthReport) -> dict[str, Any]:
    """The report for scripts (``"schema": "costopt.report/v1"``)."""
    f, b, s, a = report.forecast, report.budget, report.savings, report.aws
    days = [{"day": d.day.isoformat(), "owned_usd": _c(d.owned_usd),
             "on_demand_usd": _c(d.on_demand_usd), "spot_usd": _c(d.spot_usd), "usd": _c(d.usd)}
            for d in report.daily]
    ahead = [{"day": d.day.isoformat(), "usd": _c(d.usd)} for d in report.remaining_daily]
    return {
        "schema": SCHEMA,
        "month": report.month.label,
        "now": report.now.isoformat(), "as_of": report.as_of.isoformat(),
        "elapsed_hours": _r(report.elapsed_hours), "month_hours": _r(report.month.hours),
        "total_usd": _c(report.total_usd),
        "budget": None if b is None else {
            "budget_usd": _c(b.budget_usd), "source": b.source, "used_pct": _r(b.used_pct),
            "forecast_pct": _r(b.forecast_pct), "band_pct": b.band_pct, "over": b.over},
        "forecast": {"plan_usd": _c(f.plan_usd), "remaining_usd": _c(f.remaining_usd),
                     "run_rate_usd": None if f.run_rate_usd is None else _c(f.run_rate_usd),
                     "usd": _c(f.usd), "basis": f.basis},
        "by_market": [_line(x) for x in report.by_market],
        "by_instance_type": [_line(x) for x in report.by_instance_type],
        "by_region": [_line(x) for x in report.by_region],
        "by_job": [_line(x) for x in report.by_job],
        "daily": days,
        "remaining_daily": ahead,
        "savings": {"cloud_usd": _c(s.cloud_usd), "on_demand_usd": _c(s.on_demand_usd),
                    "savings_usd": _c(s.savings_usd), "savings_pct": _r(s.savings_pct)},
        "interruptions": [{"instance_id": i.instance_id, "plan_id": i.plan_id, "pool": i.pool,
                           "at": i.at.isoformat(), "reason": i.reason}
                          for i in report.interruptions],
        "aws": None if a is None else {
            "plan_ids": list(a.plan_ids), "ledger_usd": _c(a.ledger_usd),
            "aws_usd": _c(a.aws_usd), "difference_usd": _c(a.difference_usd),
            "rows": [{"day": r.day.isoformat(), "instance_type": r.instance_type,
                      "ledger_usd": _c(r.ledger_usd), "aws_usd": _c(r.aws_usd),
                      "difference_usd": _c(r.difference_usd), "estimated": r.estimated}
                     for r in a.rows]},
        "plans": list(report.plans),
        "owned_pools": list(report.owned_pools),
        "notes": list(report.notes),
    }


_UNITS = {"instance_hours": "instance-hours", "gpu_hours": "GPU-hours", "hours": "hours",
          "usd": "USD", "pct": "%"}  # longest suffix first


def _unit(metric: str) -> str:
    return next((u for suffix, u in _UNITS.items() if metric.endswith(suffix)), "")


def _rows(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, str, object]]:
    """(section, name, metric, value) for every figure of the JSON document."""
    yield "summary", "month", "total_usd", doc["total_usd"]
    for key in ("elapsed_hours", "month_hours"):
        yield "summary", "month", key, doc[key]
    for section in ("budget", "forecast", "savings"):
        for metric, value in (doc[section] or {}).items():
            yield "summary", section, metric, value
    for section in ("by_market", "by_instance_type", "by_region", "by_job"):
        for line in doc[section]:
            for metric in ("usd", "instance_hours", "gpu_hours"):
                yield section.removeprefix("by_"), line["name"], metric, line[metric]
    for d in doc["daily"]:
        for metric in ("owned_usd", "on_demand_usd", "spot_usd", "usd"):
            yield "daily", d["day"], metric, d[metric]
    for d in doc["remaining_daily"]:
        yield "remaining_daily", d["day"], "usd", d["usd"]
    for i in doc["interruptions"]:
        yield "interruption", i["instance_id"], "pool", i["pool"]
        yield "interruption", i["instance_id"], "at", i["at"]
    for r in (doc["aws"] or {}).get("rows", []):
        for metric in ("ledger_usd", "aws_usd", "difference_usd"):
            yield "aws", f"{r['day']} {r['instance_type']}", metric, r[metric]


def csv_text(report: MonthReport) -> str:
    """Every figure on its own row: ``section,name,metric,value,unit``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "name", "metric", "value", "unit"))
    for section, name, metric, value in _rows(json_document(report)):
        shown = "" if value is None else str(value).lower() if isinstance(value, bool) else value
        writer.writerow((section, name, metric, shown, _unit(metric)))
    return buffer.getvalue()


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1060px; color: #1d2330; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #dde1e8; }
.headline { font-size: 1.05rem; padding: .8rem 1rem; border-radius: 6px; }
.band-ok { background: #e8f5ec; } .band-50 { background: #eef3fb; }
.band-80, .band-100 { background: #fdf3d8; } .band-over { background: #fbe3e1; }
.band-none { background: #f1f2f4; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .92rem; }
@media (max-width: 600px) { body { margin: 1rem auto; padding: 0 .5rem; }
  th, td { padding: .2rem .4rem; } table { font-size: .8rem; } }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e6e8ec; text-align: right; }
.text { text-align: left; }
th { background: #f5f6f8; }
img { display: block; width: 100%; max-width: 1000px; height: auto; margin: .6rem 0; }
.note { color: #5b6270; font-size: .88rem; }
"""


def _html_table(t: Table) -> str:
    e = html.escape
    def cls(i: int) -> str:
        return ' class="text"' if i in t.text else ""

    head = "".join(f"<th{cls(i)}>{e(c)}</th>" for i, c in enumerate(t.columns))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{e(c)}</td>" for i, c in enumerate(row))
                   + "</tr>" for row in t.rows)
    body = body or f'<tr><td class="text" colspan="{len(t.columns)}">(none)</td></tr>'
    note = f'<p class="note">{e(t.note)}</p>' if t.note else ""
    return (f'<h2>{e(t.title)}</h2><div class="scroll"><table><tr>{head}</tr>{body}</table>'
            f"</div>{note}")


_ALT = {"daily": "Daily spend by market, and the plans' remaining cost per day",
        "cumulative": "Cumulative spend against the budget line, with both forecasts",
        "markets": "Spend by market"}


def html_page(report: MonthReport, charts: Mapping[str, bytes],
              pace: Sequence[Mapping[str, Any]] = ()) -> str:
    """One self-contained page: the headline, the charts (PNG ``data:`` URIs), the tables,
    the jobs' pace when given. Wide tables scroll inside their own box on a narrow screen
    (a phone's 420 px), never the page."""
    e = html.escape
    images = "".join(
        f'<img id="chart-{name}" alt="{e(_ALT.get(name, name))}" '
        f'src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'
        for name, data in charts.items())
    parts = [_html_table(t) for t in tables(report) + ([pace_table(pace)] if pace else [])]
    sources = "".join(f"<li>{e(line[2:])}</li>" for line in _notes(report) if
                      line.startswith("- "))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(_title(report))}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{e(_title(report))}</h1>"
        f'<p class="headline {_band(report)[1]}">{e(headline(report))}</p>'
        f"{parts[0]}{images}{''.join(parts[1:])}"
        f"<h2>Sources</h2><ul>{sources}</ul>"
        f'<p class="note">Made by costopt report on {e(_utc(report.now))}. USD throughout; '
        "UTC days.</p></body></html>\n"
    )
