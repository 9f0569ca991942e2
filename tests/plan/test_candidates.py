"""Purchase decisions: servers one could buy (``owned.candidates``), worked by hand.

28 days = 672 h. A candidate 1x V100 server costs 8,760 USD over a 1-year life: 1 USD/h of
amortisation, 672 USD over the horizon; no power figures, so no energy. Renting the same
GPU on demand costs 3 USD/h.
"""

from __future__ import annotations

import pytest
from builders import catalog, offer, workload

from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan

CANDIDATE = {"name": "v100-box", "gpu": "V100-SXM2-16GB", "gpus": 1, "purchase_usd": 8760,
             "lifetime_years": 1, "power_watts": 0, "idle_watts": 0}


def plan(jobs: list[dict], max_count: int = 1, solver: str = "cbc",
         candidate: dict = CANDIDATE):
    w = workload(jobs, days=28, cloud={"markets": ["on_demand"]},
                 owned={"electricity_usd_per_kwh": 0.10,
                        "candidates": [{**candidate, "max_count": max_count}]})
    return make_plan(w, catalog(offer(on_demand=3.0)), solver=solver)


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_buying_pays_at_full_utilisation(solver: str) -> None:
    # One GPU busy all 672 h: renting 672 x 3 = 2,016 USD; owning 672 USD. Saves 1,344.
    result = plan([{"name": "a", "gpu_hours": 672}], solver=solver)
    [buy] = result.purchases
    assert (buy.pool, buy.count, buy.fixed_usd) == ("buy:v100-box", 1, pytest.approx(672.0))
    assert result.total_usd == pytest.approx(672.0)
    assert result.no_buy_total_usd == pytest.approx(2016.0)
    doc = to_document(result, "w.yaml", "0" * 64).as_json()
    assert doc["buy_saving_usd"] == pytest.approx(1344.0)
    assert doc["purchases"] == [{"pool": "buy:v100-box", "count": 1, "max_count": 1,
                                 "fixed_usd": 672.0}]


def test_buying_does_not_pay_at_low_utilisation() -> None:
    # 100 GPU-h: renting costs 300 USD, less than the 672 USD the server costs: rent.
    result = plan([{"name": "a", "gpu_hours": 100}])
    assert result.purchases == ()
    assert result.total_usd == pytest.approx(300.0)
    assert result.no_buy_total_usd is None


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_whole_servers_only(solver: str) -> None:
    # 672 + 300 GPU-h. Buy 0: 2,916 USD; buy 1: 672 + 300 x 3 = 1,572; buy 2: 1,344.
    # (The LP relaxation would buy 1.45 servers for 972 USD.)
    result = plan([{"name": "a", "gpu_hours": 672}, {"name": "b", "gpu_hours": 300}],
                  max_count=2, solver=solver)
    [buy] = result.purchases
    assert buy.count == 2
    assert result.total_usd == pytest.approx(1344.0)
    assert result.no_buy_total_usd == pytest.approx(2916.0)
    assert result.baselines["all_on_demand"].total_usd == pytest.approx(2916.0)


# The same server drawing power: 1,000 W at load, 200 W idle, ops 73 USD a month, at
# 0.10 USD/kWh. Energy (1,000 - 200) W / 1 GPU / 1000 x 0.10 = 0.08 USD per GPU-hour; fixed
# over 672 h: 672 amortisation + 0.2 kW x 0.10 x 672 = 13.44 idle + 73 x 672 / 730 = 67.20
# ops = 752.64 USD.
POWERED = {**CANDIDATE, "power_watts": 1000, "idle_watts": 200, "ops_usd_per_month": 73}


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_a_powered_candidate_pays_at_full_use(solver: str) -> None:
    # 672 GPU-h: owning 752.64 + 672 x 0.08 = 806.40 against renting 672 x 3 = 2,016:
    # buying saves 1,209.60.
    result = plan([{"name": "a", "gpu_hours": 672}], solver=solver, candidate=POWERED)
    assert [(b.count, b.fixed_usd) for b in result.purchases] == [(1, pytest.approx(752.64))]
    assert result.by_market["owned"] == pytest.approx(53.76)
    assert result.total_usd == pytest.approx(806.40)
    assert result.no_buy_total_usd == pytest.approx(2016.0)
    assert result.no_buy_total_usd - result.total_usd == pytest.approx(1209.60)


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_a_powered_candidate_does_not_pay_when_its_energy_tips_it(solver: str) -> None:
    # 255 GPU-h: owning 752.64 + 255 x 0.08 = 773.04 against renting 255 x 3 = 765: rent.
    # (Without its energy the server's 752.64 would have beaten renting.)
    result = plan([{"name": "a", "gpu_hours": 255}], solver=solver, candidate=POWERED)
    assert result.purchases == ()
    assert result.total_usd == pytest.approx(765.0)
    assert result.no_buy_total_usd is None
