"""The refresh core (records -> rows) and its AWS edge: Price List and spot history stubbed
with botocore's Stubber (moto has neither), DescribeInstanceTypes from moto."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from pricing.aws_records import (
    P3_2XLARGE_US_EAST_1,
    Ec2Split,
    price_list_item,
    spot_record,
)

from costopt.pricing.catalog import (
    INSTANCE_COLUMNS,
    ZoneSpotPrice,
    load_gpu_table,
    load_offers,
    shipped_data_dir,
)
from costopt.pricing.refresh import (
    PRICE_LIST_FILTERS,
    SOURCE,
    InstanceFacts,
    OnDemandPrice,
    RefreshResult,
    RegionResult,
    RegionSpot,
    SpotPricePoint,
    ZoneSpot,
    fetch_on_demand,
    fetch_spot_points,
    fetch_zone_ids,
    merge_rows,
    on_demand_by_type,
    parse_instance_type,
    parse_price_list_item,
    price_rows,
    refresh,
    region_spot,
    unmapped_zones,
    weighted_median,
    write_price_file,
    write_price_rows,
    zone_spot,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
GPU_MEMORY = {"A10G": 24.0, "A100-SXM4-40GB": 40.0, "V100-SXM2-16GB": 16.0}


# --- Price List records -------------------------------------------------------------------


def test_a_documented_price_list_record_gives_its_on_demand_hourly_price() -> None:
    # The OnDemand term says 3.06 USD/h; the Reserved term's 1.953 is not an on-demand price.
    assert parse_price_list_item(P3_2XLARGE_US_EAST_1) == OnDemandPrice(
        "p3.2xlarge", "us-east-1", 3.06)


def test_a_record_without_a_positive_hourly_price_gives_none() -> None:
    assert parse_price_list_item(price_list_item("p3.2xlarge", "us-east-1", 0)) is None


@pytest.mark.parametrize("raw", ["not json", '{"terms": {}}', '{"product": []}'])
def test_a_record_not_in_the_documented_shape_is_an_error(raw: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_price_list_item(raw)
    assert "aws_v1" in str(caught.value)


def test_conflicting_prices_for_one_type_leave_it_out_and_say_so() -> None:
    table, notes = on_demand_by_type([
        OnDemandPrice("g5.xlarge", "us-east-1", 1.006),
        OnDemandPrice("g5.xlarge", "us-east-1", 1.006),
        OnDemandPrice("p3.2xlarge", "us-east-1", 3.06),
        OnDemandPrice("p3.2xlarge", "us-east-1", 3.5),
    ])
    assert table == {"g5.xlarge": 1.006}
    assert notes == ["p3.2xlarge: conflicting on-demand prices [3.06, 3.5], left out"]


# --- DescribeInstanceTypes (moto) ----------------------------------------------------------


@pytest.fixture
def moto_types() -> dict[str, dict[str, Any]]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        names = ["g5.xlarge", "p4d.24xlarge", "m5.large"]
        return {t["InstanceType"]: t
                for t in ec2.describe_instance_types(InstanceTypes=names)["InstanceTypes"]}


def test_instance_facts_from_describe_instance_types(moto_types: dict[str, Any]) -> None:
    # g5.xlarge: 1 A10G (22,888 MiB usable; the GPU table says 24 GB), 4 vCPUs, 16,384 MiB
    # = 16 GiB. p4d.24xlarge: 8 A100 40 GB, 96 vCPUs, 1,179,648 MiB = 1,152 GiB.
    assert parse_instance_type(moto_types["g5.xlarge"], GPU_MEMORY) == InstanceFacts(
        "g5.xlarge", "A10G", 1, 24.0, 4, 16.0)
    assert parse_instance_type(moto_types["p4d.24xlarge"], GPU_MEMORY) == InstanceFacts(
        "p4d.24xlarge", "A100-SXM4-40GB", 8, 40.0, 96, 1152.0)
    assert parse_instance_type(moto_types["m5.large"], GPU_MEMORY) is None


def test_a_gpu_not_in_the_gpu_table_gets_ec2s_memory(moto_types: dict[str, Any]) -> None:
    # 22,888 MiB / 1024 = 22.35 GB -> 22.4 (one decimal).
    facts = parse_instance_type(moto_types["g5.xlarge"], {})
    assert facts is not None
    assert facts.gpu_memory_gb == 22.4


# --- spot arithmetic -----------------------------------------------------------------------


def test_weighted_median_is_the_value_where_half_the_weight_is_reached() -> None:
    # Weights 1, 1, 2 (total 4, half 2): 1.0 reaches 1, 2.0 reaches 2 -> 2.0.
    assert weighted_median([(3.0, 2.0), (1.0, 1.0), (2.0, 1.0)]) == 2.0
    # 1.0 alone weighs 3 of 4 -> 1.0.
    assert weighted_median([(1.0, 3.0), (5.0, 1.0)]) == 1.0


def test_zone_latest_and_seven_day_median_by_hand() -> None:
    start = NOW - timedelta(days=7)  # 168 h window
    points = [
        # zone a: 0.90 since before the window (counts from its start) until -48 h = 120 h;
        # 1.20 for the last 48 h. Latest 1.20; median: 0.90 holds 120 of 168 h -> 0.90.
        SpotPricePoint("g5.xlarge", "us-east-1a", 0.90, start - 72 * H),
        SpotPricePoint("g5.xlarge", "us-east-1a", 1.20, NOW - 48 * H),
        # zone b: 0.50 for 24 h, 0.70 for 24 h, 0.60 for 120 h: 0.60 holds 120 h -> 0.60;
        # latest 0.60. A price after "now" does not count.
        SpotPricePoint("g5.xlarge", "us-east-1b", 0.50, start),
        SpotPricePoint("g5.xlarge", "us-east-1b", 0.70, start + 24 * H),
        SpotPricePoint("g5.xlarge", "us-east-1b", 0.60, start + 48 * H),
        SpotPricePoint("g5.xlarge", "us-east-1b", 9.99, NOW + H),
        # zone c: 0.40 for 100 h then 0.30 for 68 h: sorted 0.30 (68) < 84, 0.40 reaches
        # 168 -> median 0.40; latest 0.30.
        SpotPricePoint("g5.xlarge", "us-east-1c", 0.40, start),
        SpotPricePoint("g5.xlarge", "us-east-1c", 0.30, start + 100 * H),
    ]
    zones = zone_spot(points, NOW)
    assert zones == {
        ("g5.xlarge", "us-east-1a"): ZoneSpot(1.20, 0.90),
        ("g5.xlarge", "us-east-1b"): ZoneSpot(0.60, 0.60),
        ("g5.xlarge", "us-east-1c"): ZoneSpot(0.30, 0.40),
    }
    # Region: latest prices 1.20, 0.60, 0.30 -> median 0.60, cheapest 0.30, 3 zones;
    # 7-day medians 0.90, 0.60, 0.40 -> 0.60.
    assert region_spot(zones) == {"g5.xlarge": RegionSpot(0.60, 0.30, 3, 0.60)}


def test_zone_prices_are_written_under_the_zone_id_of_their_name() -> None:
    zones = {("g5.xlarge", "us-east-1a"): ZoneSpot(1.20, 0.90),
             ("g5.xlarge", "us-east-1b"): ZoneSpot(0.60, 0.60),
             ("g5.xlarge", "us-east-1c"): ZoneSpot(0.30, 0.40)}
    ids = {"us-east-1a": "use1-az6", "us-east-1b": "use1-az1"}  # 1c: no ID known
    (spot,) = region_spot(zones, ids).values()
    # The region's figures still count all three zones: median 0.60, cheapest 0.30, 3 zones.
    assert (spot.usd_per_hour, spot.usd_per_hour_min, spot.azs) == (0.60, 0.30, 3)
    # Per zone only those with an ID, sorted by ID: use1-az1 (1b) 0.60, use1-az6 (1a) 1.20.
    assert spot.zones == (ZoneSpotPrice("use1-az1", 0.60, "us-east-1b"),
                          ZoneSpotPrice("use1-az6", 1.20, "us-east-1a"))
    assert unmapped_zones(zones, ids) == [
        "us-east-1c: no zone ID from DescribeAvailabilityZones; its spot prices count in the "
        "region's median but are not written per zone"]


def test_zone_ids_come_from_describe_availability_zones() -> None:
    with mock_aws():
        ids = fetch_zone_ids(boto3.client("ec2", region_name="eu-west-1"))
    # moto's eu-west-1: three zones, each name with the ID moto gives it.
    assert ids == {"eu-west-1a": "euw1-az3", "eu-west-1b": "euw1-az1", "eu-west-1c": "euw1-az2"}


def test_a_price_set_exactly_now_is_the_latest_and_the_median() -> None:
    zones = zone_spot([SpotPricePoint("g5.xlarge", "z", 0.5, NOW)], NOW)
    assert zones == {("g5.xlarge", "z"): ZoneSpot(0.5, 0.5)}


# --- rows ----------------------------------------------------------------------------------


FACTS = {
    "g5.xlarge": InstanceFacts("g5.xlarge", "A10G", 1, 24.0, 4, 16.0),
    "p4d.24xlarge": InstanceFacts("p4d.24xlarge", "A100-SXM4-40GB", 8, 40.0, 96, 1152.0),
    "g5.2xlarge": InstanceFacts("g5.2xlarge", "A10G", 1, 24.0, 8, 32.0),
}


def test_rows_have_the_price_file_columns_and_units() -> None:
    zones = (ZoneSpotPrice("use1-az1", 0.4, "us-east-1b"), ZoneSpotPrice("use1-az6", 0.5))
    rows, notes = price_rows(
        "us-east-1", FACTS,
        on_demand={"g5.xlarge": 1.006, "p4d.24xlarge": 21.957642, "g6.xlarge": 0.8048},
        spot={"g5.xlarge": RegionSpot(0.45, 0.4, 2, 0.5, zones)},
        bands={("g5.xlarge", "us-east-1"): "<5%"}, today=date(2026, 11, 24))
    assert [r["instance_type"] for r in rows] == ["g5.xlarge", "p4d.24xlarge"]
    g5, p4d = rows
    assert tuple(g5) == INSTANCE_COLUMNS
    assert g5 == {
        "instance_type": "g5.xlarge", "family": "g5", "region": "us-east-1",
        "gpu_model": "A10G", "gpus": "1", "gpu_memory_gb": "24", "vcpus": "4",
        "memory_gib": "16", "interconnect": "PCIe", "on_demand_usd_per_hour": "1.006",
        "spot_usd_per_hour": "0.45", "spot_usd_per_hour_min": "0.4", "spot_azs": "2",
        # <5%: f = 0.025, r = -ln(0.975) / 24 = 0.025318 / 24 = 0.001055 per instance-hour.
        "interruption_band": "<5%", "spot_interruptions_per_hour": "0.001055",
        "price_date": "2026-11-24", "source": f"{SOURCE}; band kept from the previous table",
        # Every zone under its ID, sorted by ID, with its name where the refresh knew it.
        "spot_zone_prices": "use1-az1/us-east-1b=0.4;use1-az6=0.5",
    }
    # No spot price: empty spot columns, 0 zones; NVLink for p4d. No band for p4d anywhere
    # in the table: the worst band, >20%: f = 0.25, r = -ln(0.75) / 24 = 0.011987.
    assert (p4d["spot_usd_per_hour"], p4d["spot_usd_per_hour_min"], p4d["spot_azs"],
            p4d["spot_zone_prices"]) == ("", "", "0", "")
    assert (p4d["interruption_band"], p4d["spot_interruptions_per_hour"]) == (
        ">20%", "0.011987")
    assert p4d["interconnect"] == "NVLink"
    assert p4d["source"] == f"{SOURCE}; band not listed for the type, the worst assumed"
    assert notes == [
        "g6.xlarge: an on-demand price but no GPU facts from DescribeInstanceTypes, left out",
        "g5.2xlarge: no on-demand price in the Price List, left out",
    ]


def test_a_written_price_file_loads_as_a_catalog(tmp_path: Path) -> None:
    rows, _ = price_rows("us-east-1", FACTS, {"g5.xlarge": 1.006},
                         {"g5.xlarge": RegionSpot(0.45, 0.4, 6, 0.5)},
                         {("g5.xlarge", "us-east-1"): "<5%"}, date(2026, 11, 24))
    path = tmp_path / "deep" / "prices.csv"
    write_price_file(rows, path)
    (offer,) = load_offers(path)
    assert (offer.on_demand_usd_per_hour, offer.spot_usd_per_hour, offer.spot_usd_per_hour_min,
            offer.spot_interruptions_per_hour, offer.price_date) == (
        1.006, 0.45, 0.4, 0.001055, date(2026, 11, 24))
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["prices.csv"]  # no partial


def test_merge_replaces_only_the_refreshed_regions_and_families() -> None:
    old = [{"instance_type": t, "region": r, "family": t.split(".")[0], "price_date": "old"}
           for t, r in [("g5.xlarge", "us-east-1"), ("p3.2xlarge", "us-east-1"),
                        ("g5.xlarge", "eu-west-1")]]
    new = {"instance_type": "g5.xlarge", "region": "us-east-1", "family": "g5",
           "price_date": "new"}
    result = RefreshResult([RegionResult("us-east-1", ("g5",), [new], {}, [])],
                           failures={"eu-west-1": "AccessDenied"})
    merged = merge_rows(old, result)
    # us-east-1 g5 replaced; us-east-1 p3 (family not refreshed) and eu-west-1 (failed) kept.
    assert [(r["instance_type"], r["region"], r["price_date"]) for r in merged] == [
        ("g5.xlarge", "eu-west-1", "old"), ("g5.xlarge", "us-east-1", "new"),
        ("p3.2xlarge", "us-east-1", "old")]


# --- the AWS edge: pagination, a failing region -------------------------------------------


def price_list_filters(region: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": f, "Value": v}
            for f, v in (*PRICE_LIST_FILTERS, ("regionCode", region))]


def test_get_products_is_paginated_and_filtered() -> None:
    pricing = boto3.client("pricing", region_name="us-east-1")
    stub = Stubber(pricing)
    expected = {"ServiceCode": "AmazonEC2", "Filters": price_list_filters("us-east-1"),
                "FormatVersion": "aws_v1"}
    stub.add_response("get_products", {
        "FormatVersion": "aws_v1", "NextToken": "page-2",
        "PriceList": [P3_2XLARGE_US_EAST_1, price_list_item("g4dn.xlarge", "us-east-1", 0.526)],
    }, expected)
    stub.add_response("get_products", {
        "FormatVersion": "aws_v1",
        "PriceList": [price_list_item("g5.xlarge", "us-east-1", 1.006)],
    }, {**expected, "NextToken": "page-2"})
    with stub:
        table, notes = fetch_on_demand(pricing, "us-east-1", {"p3", "g5"})
    stub.assert_no_pending_responses()
    # Both pages read; g4dn is not a family asked for.
    assert table == {"p3.2xlarge": 3.06, "g5.xlarge": 1.006}
    assert notes == []


def test_spot_history_is_paginated_over_the_last_seven_days() -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    stub = Stubber(ec2)
    expected = {"InstanceTypes": ["g5.xlarge"], "ProductDescriptions": ["Linux/UNIX"],
                "StartTime": NOW - timedelta(days=7), "EndTime": NOW}
    stub.add_response("describe_spot_price_history", {
        "NextToken": "more",
        "SpotPriceHistory": [spot_record("g5.xlarge", "us-east-1a", "0.450000", NOW - H)]},
        expected)
    stub.add_response("describe_spot_price_history", {
        "SpotPriceHistory": [spot_record("g5.xlarge", "us-east-1b", "0.400000", NOW - 2 * H)]},
        {**expected, "NextToken": "more"})
    with stub:
        points = fetch_spot_points(ec2, {"g5.xlarge"}, NOW)
    stub.assert_no_pending_responses()
    assert [(p.availability_zone, p.usd_per_hour) for p in points] == [
        ("us-east-1a", 0.45), ("us-east-1b", 0.40)]


def test_a_failing_region_is_reported_and_the_others_kept() -> None:
    with mock_aws():
        pricing = boto3.client("pricing", region_name="us-east-1")
        pricing_stub = Stubber(pricing)
        # us-east-1 answers; eu-west-1's Price List call is refused.
        pricing_stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
            price_list_item("g5.xlarge", "us-east-1", 1.006),
            price_list_item("p4d.24xlarge", "us-east-1", 21.957642)]})
        pricing_stub.add_client_error("get_products", "AccessDeniedException",
                                      "not authorized to perform pricing:GetProducts")
        spot_ec2 = boto3.client("ec2", region_name="us-east-1")
        spot_stub = Stubber(spot_ec2)
        spot_stub.add_response("describe_spot_price_history", {"SpotPriceHistory": [
            spot_record("g5.xlarge", "us-east-1a", "0.45", NOW - 24 * H),
            spot_record("g5.xlarge", "us-east-1b", "0.35", NOW - 24 * H)]})

        def clients(service: str, region: str) -> Any:
            if service == "pricing":
                return pricing
            return Ec2Split(boto3.client("ec2", region_name=region), spot_ec2)

        seen: list[str] = []
        with pricing_stub, spot_stub:
            result = refresh(["us-east-1", "eu-west-1"], clients=clients,
                             families={"g5", "p4d"}, now=NOW, bands={},
                             gpu_memory_gb=GPU_MEMORY, on_region=seen.append)
    assert seen == ["us-east-1", "eu-west-1"]
    assert list(result.failures) == ["eu-west-1"]
    assert "AccessDeniedException" in result.failures["eu-west-1"]
    (region,) = result.regions
    # moto lists 8 g5 sizes and p4d.24xlarge; only g5.xlarge and p4d have a price.
    assert [(r["instance_type"], r["on_demand_usd_per_hour"], r["spot_usd_per_hour"])
            for r in result.rows] == [("g5.xlarge", "1.006", "0.4"),
                                      ("p4d.24xlarge", "21.957642", "")]
    # Zones at 0.45 and 0.35: median 0.40, cheapest 0.35; both held for 24 h -> 7-day
    # median of the zones' medians (0.45, 0.35) = 0.40.
    assert result.rows[0]["spot_usd_per_hour_min"] == "0.35"
    # moto's us-east-1 maps us-east-1a -> use1-az6 and us-east-1b -> use1-az1.
    assert result.rows[0]["spot_zone_prices"] == "use1-az1/us-east-1b=0.35;use1-az6/us-east-1a=0.45"
    assert result.rows[1]["spot_zone_prices"] == ""
    assert region.spot_7d == {"g5.xlarge": pytest.approx(0.40)}
    assert "g5.12xlarge: no on-demand price in the Price List, left out" in region.notes


# --- the same columns and units as the shipped snapshot -----------------------------------


def test_a_refreshed_row_matches_the_snapshots_columns_and_units(
        moto_types: dict[str, Any]) -> None:
    snapshot = shipped_data_dir() / "instances.csv"
    with snapshot.open() as handle:
        shipped = list(csv.DictReader(handle))
    memory = {k: g.memory_gb for k, g in load_gpu_table(shipped_data_dir() / "gpus.csv").items()}
    facts = parse_instance_type(moto_types["g5.xlarge"], memory)
    assert facts is not None
    rows, _ = price_rows("us-east-1", {"g5.xlarge": facts}, {"g5.xlarge": 1.006},
                         {"g5.xlarge": RegionSpot(0.45, 0.4, 6, 0.5)}, {}, date(2026, 11, 24))
    buffer = io.StringIO()
    write_price_rows(rows, buffer)
    header = buffer.getvalue().splitlines()[0].split(",")
    assert header == list(shipped[0])
    (old,) = [r for r in shipped if (r["instance_type"], r["region"]) == ("g5.xlarge",
                                                                          "us-east-1")]
    new = rows[0]
    # Facts in the same units (GB per GPU, GiB, counts) and the same names.
    for column in ("family", "gpu_model", "gpus", "gpu_memory_gb", "vcpus", "memory_gib",
                   "interconnect"):
        assert new[column] == old[column], column
    # Prices per instance-hour in USD: the same order of magnitude as the snapshot's.
    assert 0.5 < float(new["on_demand_usd_per_hour"]) / float(old["on_demand_usd_per_hour"]) < 2


def test_a_region_whose_price_list_is_not_in_the_documented_shape_fails_alone() -> None:
    with mock_aws():
        pricing = boto3.client("pricing", region_name="us-east-1")
        stub = Stubber(pricing)
        stub.add_response("get_products", {"FormatVersion": "aws_v1",
                                           "PriceList": ['{"product": "?"}']})
        with stub:
            result = refresh(["us-east-1"], clients=lambda service, region: (
                pricing if service == "pricing" else boto3.client("ec2", region_name=region)),
                families={"g5"}, now=NOW, bands={}, gpu_memory_gb=GPU_MEMORY)
    assert result.regions == []
    assert result.failures["us-east-1"].startswith("a Price List record is not in the aws_v1")


def test_a_region_whose_zones_cannot_be_described_fails_with_the_reason() -> None:
    class NoZones(Ec2Split):
        def describe_availability_zones(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "not "
                              "authorized to perform ec2:DescribeAvailabilityZones"}},
                              "DescribeAvailabilityZones")

    with mock_aws():
        pricing = boto3.client("pricing", region_name="us-east-1")
        pricing_stub = Stubber(pricing)
        pricing_stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
            price_list_item("g5.xlarge", "us-east-1", 1.006)]})
        spot_ec2 = boto3.client("ec2", region_name="us-east-1")
        spot_stub = Stubber(spot_ec2)
        spot_stub.add_response("describe_spot_price_history", {"SpotPriceHistory": [
            spot_record("g5.xlarge", "us-east-1a", "0.45", NOW - H)]})
        with pricing_stub, spot_stub:
            result = refresh(["us-east-1"], clients=lambda service, region: (
                pricing if service == "pricing"
                else NoZones(boto3.client("ec2", region_name=region), spot_ec2)),
                families={"g5"}, now=NOW, bands={}, gpu_memory_gb=GPU_MEMORY)
    # Written without zone IDs the file would silently lose its zone prices: the region fails.
    assert result.regions == []
    assert "UnauthorizedOperation" in result.failures["us-east-1"]
