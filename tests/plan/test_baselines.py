"""The baselines, worked by hand, and properties of the optimum against them."""

from __future__ import annotations

import pytest
from builders import catalog, offer, random_case, server, workload
from hypothesis import HealthCheck, given, settings

from costopt.plan.planner import make_plan

# One day. Owned: 4x V100, energy 1.4 kW / 4 x 0.15 USD/kWh = 0.0525 USD/GPU-h, fixed
# 8760 USD / 8760 h x 24 h + 0.25 kW x 0.15 x 24 h = 24.90 USD.
# Cloud: p3.2xlarge (1 GPU) 3 USD/h on demand, 1 USD/h spot; p3.8xlarge (4 GPUs) 12 / 4.
# Jobs: A 4 GPUs 80 GPU-h, not interruptible; B 1 GPU 20 GPU-h, interruptible.


def example():
    w = workload([{"name": "A", "gpus": 4, "gpu_hours": 80},
                  {"name": "B", "gpus": 1, "gpu_hours": 20, "interruptible": True}],
                 owned={"servers": [server()]}, cloud={})
    cat = catalog(offer("p3.2xlarge", on_demand=3.0, spot=1.0, rate=0.0),
                  offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=4.0, rate=0.0))
    return make_plan(w, cat)


def test_all_on_demand() -> None:
    # A alone on p3.8xlarge: 12 / (4 x 1) x 80 = 240; B alone on p3.2xlarge: 3 x 20 = 60.
    b = example().baselines["all_on_demand"]
    assert [(j.job, j.pool, j.variable_usd) for j in b.jobs] == [
        ("A", "aws:us-east-1:p3.8xlarge:on_demand", pytest.approx(240.0)),
        ("B", "aws:us-east-1:p3.2xlarge:on_demand", pytest.approx(60.0))]
    assert b.total_usd == pytest.approx(300.0 + 24.90)


def test_cheapest_per_job() -> None:
    # A is not interruptible: 240 on demand; B on spot: 1 x 20 = 20.
    b = example().baselines["cheapest_per_job"]
    assert b.variable_usd == pytest.approx(260.0)


def test_owned_first() -> None:
    # A fills the server: 80 GPU-h x 0.0525 = 4.20, leaving 16 GPU-h. B takes them
    # (0.84) and 4 GPU-h on spot (4.00) in the 8 hours of its gang left: 9.04 USD.
    b = example().baselines["owned_first"]
    assert [j.owned_gpu_hours for j in b.jobs] == [pytest.approx(80.0), pytest.approx(16.0)]
    assert b.variable_usd == pytest.approx(9.04)
    assert b.feasible


def test_plan_matches_the_best_baseline_here() -> None:
    result = example()
    assert result.variable_usd == pytest.approx(9.04)
    assert result.fixed_usd == pytest.approx(24.90)


def test_a_job_that_cannot_fit_its_window_is_marked() -> None:
    # 1 GPU for 24 h gives 24 GPU-h on the fastest pool; 30 cannot be done.
    w = workload([{"name": "B", "gpus": 1, "gpu_hours": 30}], cloud={})
    result = make_plan(w, catalog(offer(on_demand=3.0)))
    b = result.baselines["all_on_demand"]
    assert not b.feasible
    assert "needs 30.0 h at its gang but only 24.0 h" in b.jobs[0].note


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_case())
def test_plan_never_costs_more_than_a_feasible_baseline_and_solvers_agree(case) -> None:
    w, cat = case
    cbc = make_plan(w, cat, solver="cbc")
    highs = make_plan(w, cat, solver="highs")
    assert cbc.status == highs.status
    assert cbc.variable_usd == pytest.approx(highs.variable_usd, rel=1e-6, abs=0.01)
    assert sum(s.gpu_hours for s in cbc.shortfalls) == pytest.approx(
        sum(s.gpu_hours for s in highs.shortfalls), rel=1e-6, abs=1e-4)
    for name, baseline in cbc.baselines.items():
        if baseline.feasible:
            assert cbc.status == "optimal", name
            assert cbc.total_usd <= baseline.total_usd + 0.01 + 1e-6 * baseline.total_usd, name
