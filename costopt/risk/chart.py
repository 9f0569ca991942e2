"""The sweep's chart, from its document (:func:`costopt.risk.document.risk_document`), as PNG:
left, a histogram of the scenarios' realised cost with the planned cost, P50, P90 and all
on-demand marked; right, each job's probability of missing its deadline.

matplotlib's object API as :mod:`costopt.report.charts` (no pyplot); every drawn series
carries a ``gid`` (``costs``, ``planned``, ``p50``, ``p90``, ``on-demand``, ``miss``) so
tests can read back what was drawn.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from costopt.report.charts import COLOURS, DPI, HEIGHT_PX, WIDTH_PX, png


def risk_figure(doc: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    costs_ax, miss_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.2, top=0.88, wspace=0.35)
    costs = [s["realised_usd"] for s in doc["scenario_results"]]
    if costs:
        costs_ax.hist(costs, bins=min(30, max(5, len(costs) // 5)), color=COLOURS["spot"],
                      alpha=0.8, gid="costs", label="scenarios")
    c = doc["cost"] or {}
    for gid, label, value, style in (
            ("planned", "planned", doc["planned_usd"], ":"),
            ("p50", "P50", c.get("p50_usd"), "--"),
            ("p90", "P90", c.get("p90_usd"), "-"),
            ("on-demand", "all on-demand", doc["on_demand_only_usd"], "-.")):
        if value is not None:
            costs_ax.axvline(value, linestyle=style, color=COLOURS["owned"] if gid != "on-demand"
                             else COLOURS["on_demand"], gid=gid, label=f"{label} {value:,.0f}")
    costs_ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    costs_ax.set_xlabel("realised cost of the horizon (USD)")
    costs_ax.set_ylabel("scenarios")
    costs_ax.set_title(f"Realised cost, {doc['completed']} scenarios", fontsize=11)
    costs_ax.legend(fontsize=8)
    jobs = doc["jobs"]
    bars = miss_ax.bar([j["job"] for j in jobs], [j["miss_probability"] for j in jobs],
                       color=COLOURS["on_demand"], gid="miss")
    miss_ax.bar_label(bars, labels=[f"{j['miss_probability']:.0%}" for j in jobs], fontsize=8)
    miss_ax.set_ylim(0, 1)
    miss_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    miss_ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    miss_ax.set_title("Probability of missing the deadline", fontsize=11)
    return fig


def risk_png(doc: dict[str, Any]) -> bytes:
    return png(risk_figure(doc))
