"""Spot pools per availability zone, priced at the zone's price."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from builders import catalog, offer, workload

from costopt.core.pool_ids import parse_pool_id
from costopt.errors import WorkloadError
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.plan.pools import build_pools, eligibility, prune_dominated
from costopt.planfile import read_plan, write_plan
from costopt.pricing.catalog import ZoneSpotPrice, load_catalog
from costopt.traces import load_manifest
from costopt.workload_checks import check_against_catalog

NO_OVERHEAD = {"setup_minutes": 0, "min_instance_minutes": 0}


def zoned(o, *zones: tuple[str, float, str | None]):
    """The offer with per-zone spot prices (zone ID, USD per instance-hour, zone name)."""
    return replace(o, spot_zones=tuple(ZoneSpotPrice(z, usd, name) for z, usd, name in zones))


EAST = zoned(offer(on_demand=3.0, spot=1.5, rate=0.0),
             ("use1-az1", 1.0, "us-east-1b"), ("use1-az2", 1.5, "us-east-1a"),
             ("use1-az4", 2.0, None))


def pool_prices(cloud: dict, *offers) -> dict[str, float]:
    w = workload([{"name": "j", "gpu_hours": 1, "interruptible": True}], cloud=cloud)
    cat = catalog(*(offers or (EAST,)))
    assert check_against_catalog(w, cat) == []
    return {p.id: p.usd_per_hour for p in build_pools(w, cat).cloud if p.market == "spot"}


def test_a_spot_pool_per_zone_at_the_zones_price() -> None:
    assert pool_prices({}) == {"aws:us-east-1:p3.2xlarge:spot:use1-az1": 1.0,
                               "aws:us-east-1:p3.2xlarge:spot:use1-az2": 1.5,
                               "aws:us-east-1:p3.2xlarge:spot:use1-az4": 2.0}


def test_an_offer_without_zone_prices_keeps_a_regional_spot_pool_and_the_plan_says_so() -> None:
    assert pool_prices({}, offer(spot=1.5)) == {"aws:us-east-1:p3.2xlarge:spot": 1.5}
    w = workload([{"name": "j", "gpu_hours": 1, "interruptible": True}],
                 cloud={"markets": ["spot"], **NO_OVERHEAD})
    result = make_plan(w, catalog(offer(spot=1.5, rate=0.0)))
    assert any("spot priced per region" in n and "p3.2xlarge in us-east-1" in n
               for n in result.notes)


def test_cloud_zones_limits_spot_to_those_zones() -> None:
    assert pool_prices({"zones": ["use1-az2", "us-east-1b"]}) == {
        "aws:us-east-1:p3.2xlarge:spot:use1-az1": 1.0,  # us-east-1b is use1-az1 here
        "aws:us-east-1:p3.2xlarge:spot:use1-az2": 1.5}


@pytest.mark.parametrize(("override", "expected"), [
    # Without az: every zone of the region.
    ({}, {"use1-az1": 0.7, "use1-az2": 0.7, "use1-az4": 0.7}),
    # With az (an ID, or a name the price data maps): that zone only.
    ({"az": "use1-az4"}, {"use1-az1": 1.0, "use1-az2": 1.5, "use1-az4": 0.7}),
    ({"az": "us-east-1a"}, {"use1-az1": 1.0, "use1-az2": 0.7, "use1-az4": 2.0}),
])
def test_spot_price_overrides_by_region_or_zone(override: dict, expected: dict) -> None:
    line = {"instance_type": "p3.2xlarge", "region": "us-east-1", "market": "spot",
            "usd_per_hour": 0.7, **override}
    prices = pool_prices({"price_overrides": [line]})
    assert prices == {f"aws:us-east-1:p3.2xlarge:spot:{z}": usd for z, usd in expected.items()}


def test_an_unknown_zone_is_an_error_naming_the_field() -> None:
    w = workload([{"name": "j", "gpu_hours": 1, "interruptible": True}], cloud={
        "price_overrides": [{"instance_type": "p3.2xlarge", "region": "us-east-1",
                             "market": "spot", "usd_per_hour": 0.7, "az": "us-east-1f"}],
        "zones": ["usw2-az9"]})
    issues = {i.path: i for i in check_against_catalog(w, catalog(EAST))}
    assert set(issues) == {"cloud.price_overrides[0].az", "cloud.zones[0]"}
    message = issues["cloud.price_overrides[0].az"].message
    assert "no zone of us-east-1 by that ID or name" in message
    with pytest.raises(WorkloadError) as caught:
        make_plan(w, catalog(EAST))
    assert "cloud.price_overrides[0].az" in str(caught.value)


def test_zone_lines_for_rates_and_caps() -> None:
    w = workload([{"name": "j", "gpu_hours": 1, "interruptible": True}], cloud={
        "spot_interruptions_per_hour": [
            {"instance_type": "p3.2xlarge", "region": "us-east-1", "rate": 0.1},
            {"instance_type": "p3.2xlarge", "region": "us-east-1", "rate": 0.3,
             "az": "use1-az2"}],
        "max_instances": [
            {"instance_type": "p3.2xlarge", "region": "us-east-1", "market": "spot",
             "count": 2, "az": "use1-az4"},
            {"instance_type": "p3.2xlarge", "region": "us-east-1", "market": "spot",
             "count": 3}]})
    pools = build_pools(w, catalog(EAST))
    spot = {p.zone: p for p in pools.cloud if p.market == "spot"}
    assert {z: p.interruptions_per_hour for z, p in spot.items()} == {
        "use1-az1": 0.1, "use1-az2": 0.3, "use1-az4": 0.1}
    assert {z: p.max_instances for z, p in spot.items()} == {
        "use1-az1": None, "use1-az2": None, "use1-az4": 2}
    [limit] = pools.limits  # the line without az caps the region's zones together
    assert (limit.kind, limit.bound) == ("max_instances", 3.0)
    assert {pid for pid, _w in limit.members} == {p.id for p in spot.values()}


def test_dearer_zones_are_pruned_even_under_the_regional_quota() -> None:
    # A quota covers every zone of the region alike: moving a dearer zone's instances to
    # the cheapest zone keeps it, so only use1-az1 (1.0 USD/h) stays.
    w = workload([{"name": "j", "gpu_hours": 1, "interruptible": True}], cloud={
        "markets": ["spot"],
        "quotas": [{"region": "us-east-1", "market": "spot", "family": "P", "vcpus": 16}]})
    cat = catalog(EAST)
    pools = build_pools(w, cat)
    kept, _pairs = prune_dominated(w, pools, eligibility(w, pools, cat))
    assert [p.id for p in kept.cloud] == ["aws:us-east-1:p3.2xlarge:spot:use1-az1"]
    assert [m for m, _w in kept.limits[0].members] == ["aws:us-east-1:p3.2xlarge:spot:use1-az1"]


def test_a_zone_a_re_plan_holds_dominates_no_other_zone() -> None:
    # A re-plan holds a zone seen without capacity (``replan.held_caps``: its instance-hours
    # capped at 0) and prunes as ``plan`` does. 10 GPU-h of a 1-GPU spot job, no
    # interruptions, no setup; use1-az1 (1.0 USD/h) held all day. Pruned without the caps,
    # use1-az1 dominated the other zones and, held, left no spot pool: all 10 GPU-h short.
    # use1-az2 (1.5 USD/h) dominates use1-az4 (2.0) and is no longer dominated by the held
    # zone: 10 instance-hours there, 10 x 1.5 = 15.00 USD.
    w = workload([{"name": "j", "gpu_hours": 10, "interruptible": True}],
                 cloud={"markets": ["spot"]})
    held = {("aws:us-east-1:p3.2xlarge:spot:use1-az1", 0): 0.0}
    result = make_plan(w, catalog(EAST), u_upper=held)
    assert result.status == "optimal"
    assert [p.id for p in result.pools.cloud] == ["aws:us-east-1:p3.2xlarge:spot:use1-az1",
                                                  "aws:us-east-1:p3.2xlarge:spot:use1-az2"]
    [hours] = result.pool_hours
    assert (hours.pool, hours.instance_hours) == ("aws:us-east-1:p3.2xlarge:spot:use1-az2",
                                                  pytest.approx(10.0))
    assert round(result.total_usd, 2) == 15.00


def test_a_held_zone_splits_the_runs_setup_is_counted_over() -> None:
    # A re-plan holds use1-az1 (1.0 USD/h) for the first 2 of 24 hourly periods; use1-az2
    # (1.5) is free; 10 minutes of setup per instance start; 23.6 GPU-h of a 1-GPU job due
    # at the end of the day. The fleet: use1-az2 for the first two hours, use1-az1 from
    # 02:00 for 22 h, each paying its setup.
    # Setup counted over the workload's own runs (one of 24 h, the hindsight bound's way):
    # f = 1 - (1/6)/24 everywhere, so the LP asks 22 x f = 21.8472 GPU-h of use1-az1's
    # 22 h, whose instance does 22 - 1/6 = 21.8333: 0.0139 h short, the plan infeasible
    # (nothing the layout loop learns shortens it: the job holds its instance alone).
    # Counted per run of the held periods (``held``): f = 1 - (1/6)/2 in 00:00-02:00 and
    # 1 - (1/6)/22 after: use1-az1 does 21.8333, use1-az2 the 1.7667 left, its instance
    # 1.7667 + 1/6 = 1.9333 h (00:00-01:56). 22 x 1.0 + 1.9333 x 1.5 = 24.90 USD.
    w = workload([{"name": "j", "gpu_hours": 23.6, "interruptible": True}], period_hours=1,
                 cloud={"markets": ["spot"], "setup_minutes": 10})
    held = {("aws:us-east-1:p3.2xlarge:spot:use1-az1", t): 0.0 for t in (0, 1)}
    bound = make_plan(w, catalog(EAST), u_upper=held)
    replanned = make_plan(w, catalog(EAST), u_upper=held, held=True)
    assert bound.status == "infeasible"
    assert [(s.job, round(s.gpu_hours, 4)) for s in bound.shortfalls] == [("j", 0.0139)]
    assert replanned.status == "optimal"
    assert {s.pool: sum(r.hours for r in s.runs) for s in replanned.fleet} == {
        "aws:us-east-1:p3.2xlarge:spot:use1-az1": pytest.approx(22.0),
        "aws:us-east-1:p3.2xlarge:spot:use1-az2": pytest.approx(1.9333, abs=1e-4)}
    assert round(replanned.total_usd, 2) == 24.90


# The shipped table's p4d.24xlarge spot rows (2026-01-01): us-east-1 median 7.8494, cheapest
# zone 2.5084, 0.005564 interruptions per hour; us-west-2 median 8.4142, cheapest 7.9968,
# 0.011987. Four zones each, with those medians and minima.
P4D = offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96, on_demand=21.957642)
P4D_EAST = zoned(replace(P4D, spot_usd_per_hour=7.8494, spot_interruptions_per_hour=0.005564),
                 ("use1-az1", 7.1, None), ("use1-az2", 8.5988, None),
                 ("use1-az4", 2.5084, None), ("use1-az6", 9.0, None))
P4D_WEST = zoned(replace(P4D, region="us-west-2", spot_usd_per_hour=8.4142,
                         spot_interruptions_per_hour=0.011987),
                 ("usw2-az1", 7.9968, None), ("usw2-az2", 8.2, None),
                 ("usw2-az3", 8.6284, None), ("usw2-az4", 9.1, None))


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_8_a100_spot_for_20_hours_is_planned_at_the_cheapest_zone(solver: str) -> None:
    # 8 A100 (speed 2) for 20 h = 320 reference GPU-h. In use1-az4: e = 1 - 0.005564 x
    # (60/2 + 10) / 60 = 0.99629, so 20 / 0.99629 = 20.0745 instance-hours x 2.5084 =
    # 50.35 USD (v1 priced the region's median: 20.0745 x 7.8494 = 157.57 USD).
    w = workload([{"name": "a100", "gpus": 8, "gpu_hours": 320, "interruptible": True}],
                 cloud={"markets": ["spot"], "regions": ["us-east-1", "us-west-2"],
                        **NO_OVERHEAD})
    result = make_plan(w, catalog(P4D_EAST, P4D_WEST), solver=solver)
    [hours] = result.pool_hours
    assert hours.pool == "aws:us-east-1:p4d.24xlarge:spot:use1-az4"
    # (the fleet schedule runs whole seconds)
    assert hours.instance_hours == pytest.approx(20 / (1 - 0.005564 * 40 / 60), abs=1 / 3600)
    assert round(result.variable_usd, 2) == 50.35


def test_8_a100_spot_for_20_hours_at_the_shipped_tables_cheapest_zone() -> None:
    # pricing_data/instances.csv, p4d.24xlarge spot: us-east-1 zones use1-az1 2.5084,
    # use1-az2 8.0553, use1-az4 8.3524, use1-az6 7.6435 (median 7.8494), r = 0.005564;
    # us-west-2 zones from 7.9968. use1-az1: 20 / (1 - 0.005564 x 40/60) = 20.0745
    # instance-hours x 2.5084 = 50.35 USD (v1: x 7.8494 = 157.57 USD).
    w = workload([{"name": "a100", "gpus": 8, "gpu_hours": 160, "interruptible": True,
                   "speed": {"A100-SXM4-40GB": 1.0}}],
                 cloud={"markets": ["spot"], "regions": ["us-east-1", "us-west-2"],
                        "instance_types": ["p4d.24xlarge"], **NO_OVERHEAD})
    result = make_plan(w, load_catalog(), solver="highs")
    [hours] = result.pool_hours
    assert hours.pool == "aws:us-east-1:p4d.24xlarge:spot:use1-az1"
    assert round(result.variable_usd, 2) == 50.35


WEST = zoned(offer("g4dn.xlarge", "us-west-2", gpu="T4", on_demand=0.5, spot=0.3, rate=0.0),
             ("usw2-az1", 0.3, "us-west-2a"), ("usw2-lax1-az1", 0.2, "us-west-2-lax-1a"))


def test_local_zones_only_when_named_or_opted_in() -> None:
    # The Local Zone is cheaper, but an account must opt in to it: by default it is left out.
    lax = "aws:us-west-2:g4dn.xlarge:spot:usw2-lax1-az1"
    assert pool_prices({}, WEST) == {"aws:us-west-2:g4dn.xlarge:spot:usw2-az1": 0.3}
    assert pool_prices({"zones": ["usw2-lax1-az1"]}, WEST) == {lax: 0.2}
    assert pool_prices({"local_zones": True}, WEST) == {
        "aws:us-west-2:g4dn.xlarge:spot:usw2-az1": 0.3, lax: 0.2}


def test_a_local_zone_pool_id_plan_writes_is_read_back_everywhere(tmp_path: Path) -> None:
    w = workload([{"name": "j", "gpus": 1, "gpu_hours": 2, "interruptible": True}],
                 cloud={"markets": ["spot"], "zones": ["usw2-lax1-az1"]})
    result = make_plan(w, catalog(WEST))
    (pool,) = {a.pool for a in result.assignments}
    assert pool == "aws:us-west-2:g4dn.xlarge:spot:usw2-lax1-az1"
    assert parse_pool_id(pool).zone_id == "usw2-lax1-az1"
    write_plan(to_document(result, "w.yaml", "0" * 64), tmp_path / "plan.json")
    assert {s.pool for s in read_plan(tmp_path / "plan.json").fleet} == {pool}
    (tmp_path / "t.json").write_text('{"metadata": {"gap_seconds": 3600}, "data": [1, 0]}')
    (tmp_path / "traces.yaml").write_text(
        f"- {{pool: '{pool}', file: t.json, start: 2027-01-01T00:00:00Z}}\n")
    (trace,) = load_manifest(tmp_path / "traces.yaml")
    assert trace.pool.text == pool
