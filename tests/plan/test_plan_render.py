"""The plan laid out for people (``plan/render.py``): figures worked out by hand."""

from __future__ import annotations

from typing import Any

from costopt.core.tables import TableData
from costopt.plan.render import plan_blocks

POOL = "aws:us-east-1:p3.2xlarge:spot"


def _doc() -> dict[str, Any]:
    """Job a on spot p3.2xlarge in two daily periods (3 + 5 GPU-h at 0.9 USD each: 7.20)."""
    return {
        "plan_id": "p-1", "status": "optimal", "solver": "highs",
        "prices": {"source": "shipped", "price_date": "2026-12-01"},
        "horizon": {"start": "2027-01-04T00:00:00Z", "period_runs": [{"hours": 24, "count": 2}]},
        "assignments": [
            {"job": "a", "pool": POOL, "period_start": "2027-01-04T00:00:00Z", "gpu_hours": 3.0,
             "work_gpu_hours": 3.0, "cost_usd": 2.7},
            {"job": "a", "pool": POOL, "period_start": "2027-01-05T00:00:00Z", "gpu_hours": 5.0,
             "work_gpu_hours": 5.0, "cost_usd": 4.5}],
        "jobs": [{"job": "a", "gpus": 1, "nodes": 1, "parallel": 1}],
        "cost": {"by_market": {"spot": 7.2}, "variable_usd": 7.2, "fixed_usd": 0.0,
                 "total_usd": 7.2},
        "baselines": {"all on-demand": {"feasible": True, "total_usd": 24.48,
                                        "savings_usd": 17.28, "jobs": []}},
        "binding": {"owned": [], "limits": [], "jobs_on_deadline": []},
        "shortfalls": [],
    }


def test_a_job_on_one_pool_is_one_row_summed_over_its_periods() -> None:
    jobs = plan_blocks(_doc())[1]
    assert isinstance(jobs, TableData)
    assert jobs.rows == [("a", "spot p3.2xlarge us-east-1", "8.0", "8.0", "01-04..01-05",
                          "7.20")]


def test_the_saving_against_a_baseline_is_a_share_of_the_baseline() -> None:
    """17.28 saved of 24.48: 70.588...% -> 70.6."""
    baselines = plan_blocks(_doc())[3]
    assert isinstance(baselines, TableData)
    assert baselines.rows == [("all on-demand", "24.48", "17.28", "70.6", "")]


def test_nothing_binds_and_no_shortfall_table_without_shortfalls() -> None:
    blocks = plan_blocks(_doc())
    assert blocks[-2:] == ["[bold]What binds[/bold]", "  - nothing: every limit has room"]
    assert not [b for b in blocks if isinstance(b, TableData) and "Shortfalls" in b.title]


def test_a_candidate_not_bought_is_said() -> None:
    lines = [b for b in plan_blocks(_doc(), ["dgx"]) if isinstance(b, str)]
    assert any(line.startswith("[bold]Not bought[/bold]: candidate dgx") for line in lines)
