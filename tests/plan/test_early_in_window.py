"""A plan leaves a job slack before its deadline where that costs nothing: a job that holds
an instance alone is not made dearer by the fill the layout learned for the jobs that share
one (``model.py``, 4. packing), so of plans of equal cost it still runs early."""

from __future__ import annotations

import pytest
from builders import catalog, offer, workload

from costopt.plan.model import build_model
from costopt.plan.pools import build_pools, eligibility
from costopt.plan.solve import solve

POOL = "aws:us-east-1:p3.16xlarge:on_demand"
PRICE = catalog(offer("p3.16xlarge", gpus=8, vcpus=64, on_demand=10.0))


def solved(jobs: list[dict], days: int, day_one_fill: float, solver: str, **cloud: object):
    """The model of ``jobs`` on p3.16xlarge on-demand (8 V100s, 10 USD/h), the pool's fill
    in day 1 lowered to ``day_one_fill`` (as the planner's layout loop learns it where the
    layout came up short), solved: (the LP, its solution, the pool's index)."""
    w = workload(jobs, days=days, cloud={"markets": ["on_demand"], **cloud})
    pools = build_pools(w, PRICE)
    (pool,) = (p for p, one in enumerate(pools.all) if one.id == POOL)
    lp = build_model(w, pools, eligibility(w, pools, PRICE), filled={(pool, 0): day_one_fill})
    sol = solve(lp, solver)
    assert sol.is_ok
    return lp, sol, pool


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_job_due_later_on_a_capped_pool_still_runs_early_in_its_window(solver: str) -> None:
    """Two days, one p3.16xlarge at most (8 V100s, 10 USD/h). "sweep": 1-GPU trials, 8 at
    once, 32 GPU-hours, due at the end of day 1; its gangs were found to fill half the
    GPUs at once there (fill 0.5), so it takes 32 / 0.5 / 8 = 8 instance-hours of day 1.
    "vit": one 8-GPU gang of 128 GPU-hours (16 instance-hours, the instance alone), due at
    the end of day 2. Day 1 has 24 - 8 = 16 hours left: "vit" fits there or on day 2, at
    16 x 10 = 160 USD either way; with the sweep's 80 USD, 240 USD. Of equal plans the
    tie-break takes the earlier day: "vit" is done a day before its deadline.

    Were "vit"'s GPU-hours lowered by the sweep's fill too (the rule before), each of its
    day-1 hours would need two instance-hours: 32 of them, more than day 1 holds, and
    dearer - so "vit" ran on day 2, up to its deadline (the example's p4d, 2027-01)."""
    vit = {"name": "vit", "gpus": 8, "gpu_hours": 128, "deadline": "2027-01-03"}
    sweep = {"name": "sweep", "gpus": 1, "parallel": 8, "gpu_hours": 32,
             "deadline": "2027-01-02"}
    cap = [{"instance_type": "p3.16xlarge", "region": "us-east-1", "market": "on_demand",
            "count": 1}]
    lp, sol, pool = solved([vit, sweep], 2, 0.5, solver, max_instances=cap)
    assert float(lp.variable_cost @ sol.x) == pytest.approx(240.0)
    assert [sol.x[lp.h[(0, pool, t)]] for t in (0, 1)] == pytest.approx([128.0, 0.0])
    assert [sol.x[lp.u[(pool, t)]] for t in (0, 1)] == pytest.approx([24.0, 0.0])


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_lowered_fill_costs_the_sharing_jobs_only(solver: str) -> None:
    """One day, no cap. "whole" is one 8-GPU gang of 48 GPU-hours: 6 instance-hours.
    "sweep" is 1-GPU trials, 8 at once, 8 GPU-hours. Fill 0.5: the sweep's GPU-hours count
    8 / 0.5 = 16, so (48 + 16) / 8 = 8 instance-hours, 80 USD (unlowered: (48 + 8) / 8 = 7 h,
    70 USD: the lowering costs the sweep's share, 10 USD). "whole" alone: its 6 h, 60 USD
    (lowering it too would ask 48 / (8 x 0.5) = 12 h, 120 USD)."""
    whole = {"name": "whole", "gpus": 8, "gpu_hours": 48}
    sweep = {"name": "sweep", "gpus": 1, "parallel": 8, "gpu_hours": 8}
    usd = {}
    for name, jobs, share in (("both", [whole, sweep], 0.5), ("unlowered", [whole, sweep], 1.0),
                              ("whole alone", [whole], 0.5)):
        lp, sol, _pool = solved(jobs, 1, share, solver)
        usd[name] = float(lp.variable_cost @ sol.x)
    assert usd == pytest.approx({"both": 80.0, "unlowered": 70.0, "whole alone": 60.0})
