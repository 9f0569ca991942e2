"""The risk chart draws what the document says (read back through the artists' gids)."""

from __future__ import annotations

from costopt.risk.chart import risk_figure


def test_the_chart_draws_the_costs_the_lines_and_the_miss_bars() -> None:
    # Three scenarios at 12, 12 and 36 USD; P50 12, P90 36; planned 10, all on-demand 36.
    doc = {"completed": 3, "planned_usd": 10.0, "on_demand_only_usd": 36.0,
           "cost": {"p50_usd": 12.0, "p90_usd": 36.0},
           "scenario_results": [{"realised_usd": u} for u in (12.0, 12.0, 36.0)],
           "jobs": [{"job": "a", "miss_probability": 0.0},
                    {"job": "b", "miss_probability": 2 / 3}]}
    fig = risk_figure(doc)
    costs_ax, miss_ax = fig.axes
    bars = [p for p in costs_ax.patches if p.get_gid() == "costs"]
    assert sum(p.get_height() for p in bars) == 3
    lines = {line.get_gid(): line.get_xdata()[0] for line in costs_ax.get_lines()}
    assert lines == {"planned": 10.0, "p50": 12.0, "p90": 36.0, "on-demand": 36.0}
    heights = [p.get_height() for p in miss_ax.patches if p.get_gid() == "miss"]
    assert heights == [0.0, 2 / 3]
    assert [t.get_text() for t in miss_ax.texts] == ["0%", "67%"]
