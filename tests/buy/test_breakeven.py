"""Buy-or-rent arithmetic against the hand-worked case: every figure is derived step by
step in ``hand_case.py`` from the case's inputs (described in ``conftest.py``), and the
derivation is checked against the figures worked by hand once, below."""

from __future__ import annotations

from typing import Any

import pytest
from builders import catalog, offer, server
from buy import hand_case as hand

from costopt.buy.breakeven import (
    BuyOrRent,
    OwnedSide,
    breakeven_utilization,
    compare,
    owned_side,
    rent_usd_per_month,
    rentals,
    to_document,
)
from costopt.costs import fixed_usd
from costopt.errors import CostoptError
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import CandidateServer, CloudSpec, OwnedServer


def test_the_derivation_gives_the_figures_worked_by_hand() -> None:
    """Owned, a month (730 h):
      amortisation   8,760 / 12 months                     = 730.00
      idle energy    0.25 kW x 730 h x 0.10 x 1.2          =  21.90
      fixed F        730 + 21.90 + 100 (ops)               = 851.90
      active energy  1.4 kW x 730 h x U x 0.10 x 1.2       = 122.64 U
    At U = 0.5: active 61.32; running (idle + ops + active) 183.22; total 913.22.
    Work at U = 0.5: 4 GPUs x 1.0 x 730 h x 0.5 = 1,460 reference GPU-hours.
    On demand: 1,460 / 4 = 365 instance-hours x 12 = 4,380 USD (R = 8,760):
      break-even 851.90 / (8,760 - 122.64), payback 8,760 / (4,380 - 183.22) months,
      saving (4,380 - 913.22) x 12.
    Spot: e = 1 - 0.1 x (60/2 + 10) / 60 = 14/15; 1,460 / (4 x 14/15) = 391.0714 h x 4
      = 1,564.2857 USD (R = 3,128.5714): break-even 851.90 / (3,128.5714 - 122.64),
      payback 8,760 / (1,564.2857 - 183.22), saving (1,564.2857 - 913.22) x 12."""
    assert [round(x, 2) for x in (hand.AMORTISATION, hand.IDLE_ENERGY, hand.FIXED,
                                  hand.ACTIVE_PER_U, hand.ACTIVE, hand.RUNNING, hand.TOTAL,
                                  hand.WORK_GPU_HOURS)] == [
        730.0, 21.9, 851.9, 122.64, 61.32, 183.22, 913.22, 1460.0]
    on_demand_by_hand = {
        "instance_hours": 365.0, "usd": 4380.0, "breakeven": 851.9 / (8760 - 122.64),
        "payback_months": 8760 / (4380 - 183.22), "saving_usd": (4380 - 913.22) * 12}
    spot_hours = 1460 / (4 * 14 / 15)
    spot_by_hand = {
        "instance_hours": spot_hours, "usd": spot_hours * 4,
        "breakeven": 851.9 / (spot_hours * 4 / 0.5 - 122.64),
        "payback_months": 8760 / (spot_hours * 4 - 183.22),
        "saving_usd": (spot_hours * 4 - 913.22) * 12}
    assert pytest.approx(on_demand_by_hand) == hand.ON_DEMAND
    assert pytest.approx(spot_by_hand) == hand.SPOT


def test_owned_month_by_hand(hand_result: BuyOrRent) -> None:
    owned = hand_result.owned
    assert owned.amortisation_usd_per_month == pytest.approx(hand.AMORTISATION)
    assert owned.idle_energy_usd_per_month == pytest.approx(hand.IDLE_ENERGY)
    assert owned.ops_usd_per_month == pytest.approx(hand.OPS)
    assert owned.fixed_usd_per_month == pytest.approx(hand.FIXED)
    assert owned.active_energy_usd(hand.U) == pytest.approx(hand.ACTIVE)
    assert owned.running_usd(hand.U) == pytest.approx(hand.RUNNING)
    assert hand_result.owned_usd_per_month == pytest.approx(hand.TOTAL)
    assert hand_result.work_gpu_hours_per_month == pytest.approx(hand.WORK_GPU_HOURS)


def test_fixed_parts_add_up_to_the_planners_fixed_cost(hand_owned: OwnedSide) -> None:
    # The parts shown to people must sum to what the planner charges over 730 hours.
    planner = fixed_usd(hand_owned.server, 0.10, 1.2, 730)
    parts = (hand_owned.amortisation_usd_per_month + hand_owned.idle_energy_usd_per_month
             + hand_owned.ops_usd_per_month)
    assert parts == pytest.approx(planner)
    assert hand_owned.fixed_usd_per_month == pytest.approx(planner)


def verdict_figures(verdict: Any) -> dict[str, float | None]:
    return {"instance_hours": verdict.instance_hours_per_month,
            "usd": verdict.rent_usd_per_month, "breakeven": verdict.breakeven_utilization,
            "payback_months": verdict.payback_months,
            "saving_usd": verdict.lifetime_saving_usd}


def test_on_demand_by_hand(hand_result: BuyOrRent) -> None:
    od = hand_result.markets["on_demand"]
    assert od.rented.efficiency == 1.0
    assert verdict_figures(od) == pytest.approx(hand.ON_DEMAND)


def test_spot_by_hand(hand_result: BuyOrRent) -> None:
    spot = hand_result.markets["spot"]
    assert spot.rented.efficiency == pytest.approx(hand.SPOT_EFFICIENCY)
    assert verdict_figures(spot) == pytest.approx(hand.SPOT)


def test_costs_are_equal_at_the_break_even(hand_result: BuyOrRent) -> None:
    owned = hand_result.owned
    for verdict in hand_result.markets.values():
        u = verdict.breakeven_utilization
        assert u is not None
        assert owned.total_usd(u) == pytest.approx(rent_usd_per_month(owned, verdict.rented, u))
        # A little above it owning is cheaper, a little below renting is.
        assert owned.total_usd(u + 0.01) < rent_usd_per_month(owned, verdict.rented, u + 0.01)
        assert owned.total_usd(u - 0.01) > rent_usd_per_month(owned, verdict.rented, u - 0.01)


def test_never_when_renting_costs_less_than_the_energy(hand_owned: OwnedSide) -> None:
    # Work 2,920 U ref GPU-h / 4 GPUs = 730 U instance-hours x 0.02 USD = 14.6 U a month,
    # less than the owned server's active energy alone (A = 122.64 U): never.
    cheap = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=0.02))
    result = compare(hand_owned, rentals(cheap, "p3.8xlarge", "us-east-1"), 0.5)
    od = result.markets["on_demand"]
    assert od.breakeven_utilization is None
    # Rent 7.30, running 183.22: the purchase never pays back.
    assert od.payback_months is None
    # (7.30 - 913.22) x 12 = -10,871.04: owning loses that much.
    assert od.lifetime_saving_usd == pytest.approx(-10871.04)
    assert "spot" not in result.markets  # the offer has no spot price


def test_no_crossing_above_the_servers_availability(hand_catalog: PriceCatalog) -> None:
    # Crossing on demand at 9.86% of hours, but the server works only 5% of hours.
    box = OwnedServer.model_validate(server(ops_usd_per_month=100, availability=0.05))
    owned = owned_side(box, hand_catalog, 0.10, 1.2)
    rented = rentals(hand_catalog, "p3.8xlarge", "us-east-1")["on_demand"]
    assert breakeven_utilization(owned, rented) is None
    with pytest.raises(CostoptError) as err:
        compare(owned, {"on_demand": rented}, 0.5)
    assert "outside [0, 0.05]" in str(err.value)
    assert "To fix" in str(err.value)


def test_count_scales_money_not_the_break_even(hand_catalog: PriceCatalog) -> None:
    two = OwnedServer.model_validate(server(ops_usd_per_month=100, count=2))
    result = compare(owned_side(two, hand_catalog, 0.10, 1.2),
                     rentals(hand_catalog, "p3.8xlarge", "us-east-1"), 0.5)
    od = result.markets["on_demand"]
    assert result.owned.purchase_usd == 17520.0
    assert result.work_gpu_hours_per_month == pytest.approx(2 * hand.WORK_GPU_HOURS)
    assert od.breakeven_utilization == pytest.approx(hand.ON_DEMAND["breakeven"])
    assert od.payback_months == pytest.approx(hand.ON_DEMAND["payback_months"])
    assert od.lifetime_saving_usd == pytest.approx(2 * hand.ON_DEMAND["saving_usd"])


def test_slower_gpus_do_less_work_per_hour() -> None:
    # 3x GTX 1080 Ti (speed 0.5) vs p3.2xlarge (1x V100, 3 USD/h), U = 1:
    # work 3 x 0.5 x 730 = 1,095 ref GPU-h -> 1,095 instance-hours x 3 = 3,285 USD.
    # Owned: 6,000 / 48 = 125 amortisation; idle 0.11 kW x 730 x 0.15 = 12.045;
    # active 0.84 kW x 730 x 0.15 = 91.98. F = 137.045, A = 91.98, R = 3,285.
    # Break-even 137.045 / (3,285 - 91.98) = 0.0429203...
    cat = catalog(offer("p3.2xlarge", gpus=1, on_demand=3.0))
    box = CandidateServer(name="gtx", gpu="GTX-1080-TI", gpus=3, purchase_usd=6000,
                          lifetime_years=4, power_watts=950, idle_watts=110)
    result = compare(owned_side(box, cat, 0.15, 1.0),
                     rentals(cat, "p3.2xlarge", "us-east-1"), 1.0)
    od = result.markets["on_demand"]
    assert result.owned.count == 1
    assert result.work_gpu_hours_per_month == pytest.approx(1095.0)
    assert od.rent_usd_per_month == pytest.approx(3285.0)
    assert result.owned_usd_per_month == pytest.approx(125 + 12.045 + 91.98)
    assert od.breakeven_utilization == pytest.approx(137.045 / (3285 - 91.98))


def test_a_free_server_pays_back_at_once(hand_catalog: PriceCatalog) -> None:
    free = OwnedServer.model_validate(server(purchase_usd=0))
    result = compare(owned_side(free, hand_catalog, 0.10, 1.0),
                     rentals(hand_catalog, "p3.8xlarge", "us-east-1"), 0.5)
    assert result.markets["on_demand"].payback_months == 0.0


def test_workload_overrides_apply_to_the_rental(hand_catalog: PriceCatalog) -> None:
    cloud = CloudSpec.model_validate({
        "price_overrides": [{"instance_type": "p3.8xlarge", "region": "us-east-1",
                             "market": "spot", "usd_per_hour": 3.0}],
        "spot_interruptions_per_hour": [{"instance_type": "p3.8xlarge",
                                         "region": "us-east-1", "rate": 0.0}],
    })
    offers = rentals(hand_catalog, "p3.8xlarge", "us-east-1", cloud=cloud)
    assert offers["spot"].usd_per_hour == 3.0
    assert offers["spot"].price_source == "override"
    assert offers["spot"].efficiency == 1.0  # no interruptions
    assert offers["on_demand"].usd_per_hour == 12.0
    assert offers["on_demand"].price_source == "table"


def test_override_admits_a_region_the_table_lacks(hand_catalog: PriceCatalog) -> None:
    cloud = CloudSpec.model_validate({"price_overrides": [
        {"instance_type": "p3.8xlarge", "region": "eu-west-1", "market": "on_demand",
         "usd_per_hour": 14.0}]})
    offers = rentals(hand_catalog, "p3.8xlarge", "eu-west-1", cloud=cloud)
    assert list(offers) == ["on_demand"]
    assert offers["on_demand"].gpus == 4


def test_checkpoint_minutes_set_spot_efficiency(hand_catalog: PriceCatalog) -> None:
    # 1 - 0.1 x (10/2 + 10) / 60 = 0.975
    offers = rentals(hand_catalog, "p3.8xlarge", "us-east-1", checkpoint_minutes=10)
    assert offers["spot"].efficiency == pytest.approx(0.975)


def test_unknown_instance_type_names_near_matches(hand_catalog: PriceCatalog) -> None:
    with pytest.raises(CostoptError) as err:
        rentals(hand_catalog, "p3.8xlarg", "us-east-1")
    assert "unknown instance type 'p3.8xlarg'" in str(err.value)
    assert "Did you mean p3.8xlarge?" in str(err.value)


def test_instance_type_outside_the_region(hand_catalog: PriceCatalog) -> None:
    with pytest.raises(CostoptError) as err:
        rentals(hand_catalog, "p3.8xlarge", "ap-south-1")
    assert "no price in ap-south-1" in str(err.value)
    assert "priced in us-east-1" in str(err.value)


def test_unknown_gpu_of_the_server(hand_catalog: PriceCatalog) -> None:
    odd = OwnedServer.model_validate(server(gpu="MI300X"))
    with pytest.raises(CostoptError) as err:
        owned_side(odd, hand_catalog, 0.15, 1.0)
    assert "'MI300X' is not in the GPU table" in str(err.value)
    assert "V100-SXM2-16GB" in str(err.value)


def test_document_carries_the_headline_market(hand_result: BuyOrRent) -> None:
    doc = to_document(hand_result, "spot")
    assert doc["schema"] == "costopt.breakeven/v1"
    assert doc["market"] == "spot"
    assert doc["breakeven_utilization"] == pytest.approx(hand.SPOT["breakeven"])
    assert doc["payback_months"] == pytest.approx(hand.SPOT["payback_months"])
    assert doc["lifetime_saving_usd"] == pytest.approx(hand.SPOT["saving_usd"])
    assert doc["owned_usd_per_month"] == pytest.approx(
        {"amortisation": hand.AMORTISATION, "idle_energy": hand.IDLE_ENERGY, "ops": hand.OPS,
         "active_energy": hand.ACTIVE, "running": hand.RUNNING, "total": hand.TOTAL})
    assert set(doc["rent"]) == {"on_demand", "spot"}  # type: ignore[arg-type]
