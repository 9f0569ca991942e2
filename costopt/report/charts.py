"""The report's three charts, drawn from a :class:`MonthReport` as PNG bytes.

- ``daily``: spend per UTC day, stacked by market, and the plans' remaining cost per day
  (light, hatched) for the rest of the month;
- ``cumulative``: spend so far against the budget line, the 80-100 % and over-budget bands
  shaded, and both month-end forecasts (the plans' remaining cost, and the run-rate);
- ``markets``: spend by market (owned / on-demand / spot).

Same colours as the breakeven chart. Every drawn series carries a ``gid`` (``daily:spot``,
``daily:planned``, ``cumulative:actual``, ``forecast:plan``, ``forecast:run-rate``,
``budget``, ``market:owned`` ...) so tests can read back what was drawn. matplotlib's object
API (no pyplot, no global state); import this module only where charts are wanted.
"""

from __future__ import annotations

import io
from itertools import accumulate

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from costopt.core.money import usd_whole
from costopt.core.pool_ids import market_label
from costopt.report.attribution import MARKETS
from costopt.report.spend import MonthReport

WIDTH_PX = 1000
HEIGHT_PX = 420
DPI = 100
CHARTS = ("daily", "cumulative", "markets")
"""Chart names, in the order the page shows them; each is ``WIDTH_PX`` x ``HEIGHT_PX``."""

COLOURS = {"owned": "#1f3b73", "on_demand": "#d9822b", "spot": "#2e8b57"}
_PLANNED = "#b8b8b8"
_BUDGET = "#c0392b"


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    ax = fig.subplots()
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.88)
    ax.yaxis.set_major_formatter(FuncFormatter(usd_whole))
    ax.set_ylabel("USD")
    ax.grid(alpha=0.3, axis="y")
    return fig, ax


def _finish(ax: Axes, title: str, xlabel: str, legend: str | None) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    if legend:
        ax.legend(fontsize=8, loc=legend)


def daily_figure(report: MonthReport) -> Figure:
    fig, ax = _figure()
    days = [d.day.day for d in report.daily]
    bottom = [0.0] * len(days)
    for market in MARKETS:
        values = [getattr(d, f"{market}_usd") for d in report.daily]
        ax.bar(days, values, bottom=bottom, color=COLOURS[market], width=0.8,
               label=market_label(market), gid=f"daily:{market}")
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ahead = [d for d in report.remaining_daily if d.usd > 0]
    if ahead:
        tops = {d.day.day: b for d, b in zip(report.daily, bottom, strict=True)}
        ax.bar([d.day.day for d in ahead], [d.usd for d in ahead],
               bottom=[tops.get(d.day.day, 0.0) for d in ahead], color=_PLANNED, alpha=0.6,
               hatch="//", edgecolor="white", width=0.8, label="planned (rest of month)",
               gid="daily:planned")
    ax.set_xlim(0.4, report.month.hours / 24 + 0.6)
    _finish(ax, f"Daily spend, {report.month.label} (USD, UTC days)", "day of the month",
            "upper right")
    return fig


def cumulative_figure(report: MonthReport) -> Figure:
    fig, ax = _figure()
    month_days = report.month.hours / 24
    elapsed = report.elapsed_hours / 24
    x = [0.0] + [min(i + 1.0, elapsed) for i in range(len(report.daily))]
    y = [0.0, *accumulate(d.usd for d in report.daily)]
    ax.plot(x, y, color=COLOURS["owned"], lw=2.5, label="spent", gid="cumulative:actual")
    f = report.forecast
    px, py, running = [elapsed], [report.total_usd], report.total_usd
    for d in report.remaining_daily:  # the plans' remaining cost, day by day
        running += d.usd
        px.append((d.day - report.month.start.date()).days + 1.0)
        py.append(running)
    ax.plot(px, py, color=COLOURS["on_demand"], lw=2, ls="--", gid="forecast:plan",
            label=f"forecast, plans' remaining cost: {f.plan_usd:,.0f}")
    if f.run_rate_usd is not None:
        ax.plot([elapsed, month_days], [report.total_usd, f.run_rate_usd],
                color=COLOURS["spot"], lw=2, ls=":", gid="forecast:run-rate",
                label=f"forecast, run-rate: {f.run_rate_usd:,.0f}")
    top = max([f.plan_usd, f.run_rate_usd or 0.0, report.total_usd, 1.0])
    b = report.budget
    if b is not None:
        ax.axhspan(0.8 * b.budget_usd, b.budget_usd, color="#f5c542", alpha=0.15, lw=0,
                   gid="band:80")
        ax.axhspan(b.budget_usd, max(top, b.budget_usd) * 1.15, color=_BUDGET, alpha=0.08,
                   lw=0, gid="band:100")
        ax.axhline(b.budget_usd, color=_BUDGET, lw=2, gid="budget",
                   label=f"budget: {b.budget_usd:,.0f}")
        ax.axhline(0.5 * b.budget_usd, color=_BUDGET, lw=1, ls="--", gid="alert:50",
                   label=f"50 % alert: {0.5 * b.budget_usd:,.0f}")
        top = max(top, b.budget_usd)
    ax.axvline(elapsed, color="grey", lw=1, ls=":", gid="as-of")
    ax.set_xlim(0, month_days)
    ax.set_ylim(0, top * 1.15)
    _finish(ax, f"Cumulative spend against the budget, {report.month.label} (USD)",
            "days into the month", "lower right")
    return fig


def market_figure(report: MonthReport) -> Figure:
    fig, ax = _figure()
    fig.subplots_adjust(left=0.12)
    spend = {line.name: line.usd for line in report.by_market}
    names = [m for m in MARKETS if m in spend] or list(MARKETS)
    values = [spend.get(m, 0.0) for m in names]
    for i, (market, usd) in enumerate(zip(names, values, strict=True)):
        ax.barh(i, usd, color=COLOURS[market], height=0.6, gid=f"market:{market}")
        share = f" ({usd / report.total_usd:.0%})" if report.total_usd > 0 else ""
        ax.text(usd, i, f"  {usd:,.2f}{share}", va="center", fontsize=9)
    ax.set_yticks(range(len(names)), [market_label(m) for m in names])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(usd_whole))
    ax.set_xlim(0, max([*values, 1.0]) * 1.25)
    ax.set_ylabel("")
    ax.grid(alpha=0.3, axis="x")
    _finish(ax, f"Spend by market, {report.month.label} so far (USD)", "USD", None)
    return fig


_FIGURES = {"daily": daily_figure, "cumulative": cumulative_figure, "markets": market_figure}


def figures(report: MonthReport) -> dict[str, Figure]:
    return {name: _FIGURES[name](report) for name in CHARTS}


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def chart_pngs(report: MonthReport) -> dict[str, bytes]:
    """The three charts as PNG bytes, by name (``CHARTS``)."""
    return {name: png(fig) for name, fig in figures(report).items()}
