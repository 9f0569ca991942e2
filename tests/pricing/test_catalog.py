"""Loading a price file: the per-zone spot prices (``spot_zone_prices``) and zone lookup."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from costopt.errors import FieldIssue, PricingDataError
from costopt.pricing.catalog import (
    INSTANCE_COLUMNS,
    REQUIRED_INSTANCE_COLUMNS,
    PriceCatalog,
    ZoneSpotPrice,
    format_zone_prices,
    load_offers,
    parse_zone_prices,
)

ROW = {"instance_type": "p3.2xlarge", "family": "p3", "region": "us-east-1",
       "gpu_model": "V100-SXM2-16GB", "gpus": "1", "gpu_memory_gb": "16", "vcpus": "8",
       "memory_gib": "61", "interconnect": "PCIe", "on_demand_usd_per_hour": "3.06",
       "spot_usd_per_hour": "0.9", "spot_usd_per_hour_min": "0.8", "spot_azs": "3",
       "interruption_band": ">20%", "spot_interruptions_per_hour": "0.011987",
       "price_date": "2026-11-20", "source": "test"}


def write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = INSTANCE_COLUMNS,
          ) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def parse(raw: str, region: str = "us-east-1") -> tuple[tuple[ZoneSpotPrice, ...],
                                                       list[FieldIssue]]:
    issues: list[FieldIssue] = []
    return parse_zone_prices(raw, region, "row 2.spot_zone_prices", issues), issues


# --- the cell -----------------------------------------------------------------------------


def test_a_cell_gives_its_zones_sorted_by_id_with_names_where_given() -> None:
    zones, issues = parse(" use1-az6/us-east-1a=0.9 ; use1-az1=0.8;use1-az4=1.0253 ")
    assert issues == []
    assert zones == (ZoneSpotPrice("use1-az1", 0.8), ZoneSpotPrice("use1-az4", 1.0253),
                     ZoneSpotPrice("use1-az6", 0.9, "us-east-1a"))
    # Written back: sorted by ID, at most six decimals, no trailing zeros.
    assert format_zone_prices(zones) == "use1-az1=0.8;use1-az4=1.0253;use1-az6/us-east-1a=0.9"


def test_an_empty_cell_is_no_zone_prices() -> None:
    assert parse("  ") == ((), [])


def test_a_local_zone_id_is_a_zone_id() -> None:
    zones, issues = parse("usw2-lax1-az1/us-west-2-lax-1a=1.5", region="us-west-2")
    assert issues == [] and zones == (ZoneSpotPrice("usw2-lax1-az1", 1.5, "us-west-2-lax-1a"),)


@pytest.mark.parametrize(("raw", "says"), [
    ("us-east-1a=0.9", "'us-east-1a' is not a zone ID like 'use1-az1' (that is a zone name, "
                       "which differs per account"),
    ("use1-az1", "'use1-az1' is not ZONE_ID=USD"),
    ("use1-az1=0.9;;use1-az2=1", "'' is not ZONE_ID=USD"),
    ("use1-az1=0", "the price of use1-az1 ('0') must be a finite number > 0"),
    ("use1-az1=-1", "the price of use1-az1 ('-1') must be a finite number > 0"),
    ("use1-az1=nan", "the price of use1-az1 ('nan') must be a finite number > 0"),
    ("use1-az1=inf", "the price of use1-az1 ('inf') must be a finite number > 0"),
    ("use1-az1=cheap", "the price of use1-az1 ('cheap') must be a finite number > 0"),
    ("use1-az1=0.9;use1-az1=1.0", "zone 'use1-az1' appears more than once"),
    ("use1-az1/us-east-1a=0.9;use1-az2/us-east-1a=1", "zone 'us-east-1a' appears more than once"),
    ("use1-az1/eu-west-1a=0.9", "zone name 'eu-west-1a' is not a zone of us-east-1"),
])
def test_a_bad_cell_is_one_issue_naming_the_value_and_the_format(raw: str, says: str) -> None:
    zones, issues = parse(raw)
    assert zones == ()
    (issue,) = issues
    assert (issue.path, issue.value) == ("row 2.spot_zone_prices", raw)
    assert says in issue.message
    assert "Valid: ZONE_ID=USD or ZONE_ID/ZONE_NAME=USD per zone" in issue.message


# --- the file -----------------------------------------------------------------------------


def test_offers_carry_their_zone_prices(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", [
        {**ROW, "spot_zone_prices": "use1-az4=1;use1-az1/us-east-1b=0.8;use1-az2=0.9"},
        {**ROW, "instance_type": "p3.8xlarge", "spot_zone_prices": ""}])
    p3, p3_8 = load_offers(path)
    assert p3.spot_zones == (ZoneSpotPrice("use1-az1", 0.8, "us-east-1b"),
                             ZoneSpotPrice("use1-az2", 0.9), ZoneSpotPrice("use1-az4", 1.0))
    assert p3_8.spot_zones == ()


def test_a_file_written_before_zone_prices_still_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "old.csv", [ROW], columns=REQUIRED_INSTANCE_COLUMNS)
    (offer,) = load_offers(path)
    assert (offer.spot_usd_per_hour, offer.spot_zones) == (0.9, ())


def test_bad_zone_prices_are_reported_with_file_row_column_and_value(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", [
        ROW,
        {**ROW, "instance_type": "p3.8xlarge", "spot_zone_prices": "use1-az1=0.9;us-east-1b=1"},
        {**ROW, "instance_type": "p3.16xlarge", "spot_usd_per_hour": "",
         "spot_zone_prices": "use1-az1=0.9"}])
    with pytest.raises(PricingDataError) as caught:
        load_offers(path)
    text = str(caught.value)
    assert f"price file {path} has 2 problems" in text
    # Row 3 of the file (the second data row): the cell as read, what is wrong.
    assert (f"{path}: row 3.spot_zone_prices = 'use1-az1=0.9;us-east-1b=1': 'us-east-1b' is "
            "not a zone ID") in text
    # Zone prices without the region's median: the two views would disagree on spot.
    assert (f"{path}: row 4.spot_usd_per_hour = '': is empty but the row has zone spot "
            "prices") in text


# --- zone lookup --------------------------------------------------------------------------


def catalog(tmp_path: Path, rows: list[dict[str, str]]) -> PriceCatalog:
    offers = load_offers(write(tmp_path / "p.csv", rows))
    return PriceCatalog(offers, {}, "test", min(o.price_date for o in offers))


def test_zone_id_passes_ids_through_and_resolves_names_through_the_file(tmp_path: Path) -> None:
    cat = catalog(tmp_path, [
        {**ROW, "spot_zone_prices": "use1-az1/us-east-1b=0.8;use1-az6/us-east-1a=1"},
        {**ROW, "instance_type": "p3.8xlarge", "spot_zone_prices": "use1-az4=3.5"},
        {**ROW, "region": "eu-west-1", "spot_zone_prices": "euw1-az1=1.1"}])
    assert cat.zone_id("us-east-1", "use1-az4") == "use1-az4"  # an ID of another type's row
    assert cat.zone_id("us-east-1", "us-east-1a") == "use1-az6"  # a name the refresh mapped
    assert cat.zone_id("us-east-1", "use1-az3") is None  # an ID no offer prices
    assert cat.zone_id("us-east-1", "us-east-1d") is None  # a name the file does not map
    assert cat.zone_id("us-east-1", "euw1-az1") is None  # a zone of another region
    assert cat.zone_id("eu-west-1", "euw1-az1") == "euw1-az1"
    assert cat.zone_id("ap-south-1", "aps1-az1") is None  # a region the file lacks


def test_a_name_the_file_maps_to_two_ids_is_not_resolved(tmp_path: Path) -> None:
    # Two rows refreshed from two accounts, where us-east-1a is a different zone.
    cat = catalog(tmp_path, [
        {**ROW, "spot_zone_prices": "use1-az1/us-east-1a=0.8"},
        {**ROW, "instance_type": "p3.8xlarge", "spot_zone_prices": "use1-az6/us-east-1a=3"}])
    assert cat.zone_id("us-east-1", "us-east-1a") is None
    assert cat.zone_id("us-east-1", "use1-az6") == "use1-az6"


# --- numbers ------------------------------------------------------------------------------


def test_every_number_of_a_price_file_is_finite_and_whole_where_it_counts(
        tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", [
        {**ROW, "on_demand_usd_per_hour": "inf"},
        {**ROW, "instance_type": "p3.8xlarge", "spot_usd_per_hour": "nan"},
        {**ROW, "instance_type": "p3.16xlarge", "memory_gib": "1e308"},
        {**ROW, "instance_type": "p4d.24xlarge", "gpus": "2.5", "vcpus": "true"}])
    with pytest.raises(PricingDataError) as caught:
        load_offers(path)
    text = str(caught.value)
    assert f"price file {path} has 5 problems" in text
    for cell in ("row 2.on_demand_usd_per_hour = 'inf'", "row 3.spot_usd_per_hour = 'nan'",
                 "row 4.memory_gib = '1e308'"):
        assert f"{path}: {cell}: must be a finite number from 0 to 1e+09" in text
    assert f"{path}: row 5.gpus = '2.5': must be a whole number" in text
    assert f"{path}: row 5.vcpus = 'true': is not a number" in text
