"""The shipped snapshot: complete, consistent with its sources, loadable by the planner.

Expected figures are read by hand from the reference data the snapshot is compiled from
(SkyPilot catalog v9 rows and the Spot Advisor file; see pricing_data/README.md).
"""

from __future__ import annotations

import csv
import statistics

import pytest

from costopt.pricing.catalog import INSTANCE_COLUMNS, load_catalog, shipped_data_dir
from costopt.pricing.spot import interruptions_per_hour

DATA = shipped_data_dir()


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(DATA / "instances.csv", DATA / "gpus.csv")


def test_header_is_the_price_file_schema() -> None:
    with (DATA / "instances.csv").open() as handle:
        assert tuple(next(csv.reader(handle))) == INSTANCE_COLUMNS


def test_every_family_the_spec_names_is_there(catalog) -> None:
    families = {o.family for o in catalog.offers}
    assert families == {"p2", "p3", "p3dn", "p4d", "p4de", "p5", "g4dn", "g4ad", "g5", "g6"}


def test_one_row_per_type_and_region(catalog) -> None:
    keys = [(o.instance_type, o.region) for o in catalog.offers]
    assert len(keys) == len(set(keys))


def test_every_gpu_model_is_in_the_gpu_table(catalog) -> None:
    assert {o.gpu_model for o in catalog.offers} <= {g.name for g in catalog.gpus.values()}
    for name in ("GTX-1060-6GB", "GTX-1080-TI", "RTX-2080-TI", "RTX-3060", "RTX-3090",
                 "TITAN-RTX", "QUADRO-RTX-6000", "V100-PCIE-16GB", "M60"):
        assert catalog.gpu(name) is not None, name
    assert catalog.gpu("v100-sxm2-16gb").relative_speed == 1.0


def test_p4d_us_east_1_carries_the_2025_price_cut_and_the_zone_median(catalog) -> None:
    offer = catalog.offer("p4d.24xlarge", "us-east-1")
    assert offer.on_demand_usd_per_hour == pytest.approx(21.957642)
    # zone prices 2.5084, 7.6435, 8.0553, 8.3524 -> median (7.6435 + 8.0553) / 2
    assert offer.spot_usd_per_hour == pytest.approx(7.8494)
    assert offer.spot_usd_per_hour_min == pytest.approx(2.5084)
    assert (offer.gpu_model, offer.gpus, offer.gpu_memory_gb) == ("A100-SXM4-40GB", 8, 40)
    assert offer.interconnect == "NVLink"
    assert offer.interruption_band == "10-15%"


def test_g4dn_xlarge_us_east_1_spot_and_interruption_rate(catalog) -> None:
    offer = catalog.offer("g4dn.xlarge", "us-east-1")
    assert offer.on_demand_usd_per_hour == pytest.approx(0.526)
    # zones 0.2017, 0.2019, 0.2020, 0.2060, 0.2106 -> median 0.2020
    assert offer.spot_usd_per_hour == pytest.approx(0.2020)
    assert offer.interconnect == "PCIe"
    # band 15-20% -> f = 0.175 -> r = -ln(0.825) / 24 = 0.0080155
    assert offer.spot_interruptions_per_hour == pytest.approx(0.0080155, abs=1e-6)


def test_region_missing_from_the_advisor_takes_the_types_median_band(catalog) -> None:
    # p4d bands listed: <5% x5, 5-10%, 10-15%, >20% x3 -> the lower median is <5%
    offer = catalog.offer("p4d.24xlarge", "eu-north-1")
    assert offer.interruption_band == "<5%"
    with (DATA / "instances.csv").open() as handle:
        row = next(r for r in csv.DictReader(handle)
                   if (r["instance_type"], r["region"]) == ("p4d.24xlarge", "eu-north-1"))
    assert "median" in row["source"]


def test_p2_comes_from_the_legacy_catalog_with_its_date(catalog) -> None:
    offer = catalog.offer("p2.xlarge", "us-east-1")
    assert (offer.gpu_model, offer.on_demand_usd_per_hour) == ("K80", 0.9)
    assert offer.price_date.year == 2022


def test_rates_come_from_bands_and_cheapest_zone_below_median(catalog) -> None:
    for o in catalog.offers:
        assert o.spot_interruptions_per_hour == pytest.approx(
            interruptions_per_hour(o.interruption_band), abs=1e-6)
        if o.spot_usd_per_hour is not None:
            assert o.spot_usd_per_hour_min <= o.spot_usd_per_hour


def test_p4d_us_east_1_zone_prices_are_the_catalogs_rows(catalog) -> None:
    offer = catalog.offer("p4d.24xlarge", "us-east-1")
    # The four S1 rows of p4d.24xlarge in us-east-1, by zone ID.
    assert [(z.zone_id, z.usd_per_hour) for z in offer.spot_zones] == [
        ("use1-az1", 2.5084), ("use1-az2", 8.0553), ("use1-az4", 8.3524), ("use1-az6", 7.6435)]
    assert catalog.zone_id("us-east-1", "use1-az1") == "use1-az1"
    # The snapshot knows no zone names (S1 names zones by ID only).
    assert catalog.zone_id("us-east-1", "us-east-1a") is None


def test_zone_prices_agree_with_the_region_columns_and_p2_has_none(catalog) -> None:
    for o in catalog.offers:
        if o.family == "p2":
            assert o.spot_zones == () and o.spot_usd_per_hour is not None
            continue
        prices = sorted(z.usd_per_hour for z in o.spot_zones)
        if not prices:
            assert o.spot_usd_per_hour is None
            continue
        assert len(prices) == len(o.spot_zones) and o.spot_usd_per_hour_min == prices[0]
        assert o.spot_usd_per_hour == pytest.approx(statistics.median(prices), abs=1e-6)
