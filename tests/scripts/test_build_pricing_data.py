"""``scripts/build_pricing_data.py`` on a tiny hand-made set of inputs: the rows it compiles,
worked out by hand, per-zone spot prices included."""

from __future__ import annotations

import csv
from pathlib import Path
from types import ModuleType

import pytest
from script_modules import script

from costopt.pricing.catalog import ZoneSpotPrice, load_offers
from costopt.pricing.refresh import write_price_file

CATALOG_HEADER = ["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB",
                  "GpuInfo", "Price", "SpotPrice", "Region", "AvailabilityZone"]
V100 = ("{'Gpus': [{'Name': 'V100', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo': "
        "{'SizeInMiB': 16384}}], 'TotalGpuMemoryInMiB': 16384}")
A10G = ("{'Gpus': [{'Name': 'A10G', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo': "
        "{'SizeInMiB': 22888}}], 'TotalGpuMemoryInMiB': 22888}")
K80 = ("{'Gpus': [{'Name': 'K80', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo': "
       "{'SizeInMiB': 12288}}], 'TotalGpuMemoryInMiB': 12288}")
GPU_MEMORY = {"V100-SXM2-16GB": 16.0, "A10G": 24.0, "K80": 12.0}


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return script("build_pricing_data")


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def inputs(folder: Path, build: ModuleType, p3_zones: list[tuple[str, str]]) -> Path:
    # p3.2xlarge us-east-1 at 3.06 on demand in the given zones; g5.xlarge us-east-1 at 1.006
    # with no spot offer in either zone; p2.xlarge us-east-1 (legacy, zones by NAME).
    write_csv(folder / build.CATALOG_2026, CATALOG_HEADER, [
        *(["p3.2xlarge", "V100", "1.0", "8.0", "61.0", V100, "3.06", spot, "us-east-1", zone]
          for zone, spot in p3_zones),
        ["g5.xlarge", "A10G", "1.0", "4.0", "16.0", A10G, "1.006", "", "us-east-1", "use1-az1"],
        ["g5.xlarge", "A10G", "1.0", "4.0", "16.0", A10G, "1.006", "", "us-east-1", "use1-az2"],
    ])
    write_csv(folder / build.CATALOG_P2, CATALOG_HEADER, [
        ["p2.xlarge", "K80", "1.0", "4.0", "61.0", K80, "0.9", "0.3", "us-east-1", "us-east-1a"],
        ["p2.xlarge", "K80", "1.0", "4.0", "61.0", K80, "0.9", "0.5", "us-east-1", "us-east-1b"],
    ])
    write_csv(folder / build.ADVISOR,
              ["region", "os", "instance_type", "interruption_frequency"],
              [["us-east-1", "Linux", "p3.2xlarge", ">20%"],
               ["us-east-1", "Linux", "g5.xlarge", "<5%"],
               ["us-east-1", "Windows", "p2.xlarge", "<5%"]])
    return folder


P3_ZONES = [("use1-az6", "0.5"), ("use1-az1", "0.9"), ("use1-az2", ""), ("use1-az4", "1.2")]


def test_rows_carry_each_zones_spot_price_by_zone_id(build: ModuleType, tmp_path: Path) -> None:
    rows = build.compile_rows(inputs(tmp_path, build, P3_ZONES), GPU_MEMORY)
    by_type = {r["instance_type"]: r for r in rows}
    assert [r["instance_type"] for r in rows] == ["g5.xlarge", "p2.xlarge", "p3.2xlarge"]
    p3, g5, p2 = by_type["p3.2xlarge"], by_type["g5.xlarge"], by_type["p2.xlarge"]
    # p3: zones with an offer 0.5, 0.9, 1.2 (use1-az2 has none) -> median 0.9, cheapest 0.5,
    # 3 zones; per zone, sorted by ID: az1 0.9, az4 1.2, az6 0.5.
    assert (p3["spot_usd_per_hour"], p3["spot_usd_per_hour_min"], p3["spot_azs"],
            p3["spot_zone_prices"]) == ("0.9", "0.5", 3, "use1-az1=0.9;use1-az4=1.2;use1-az6=0.5")
    # g5: no zone has an offer -> every spot column empty, 0 zones.
    assert (g5["spot_usd_per_hour"], g5["spot_usd_per_hour_min"], g5["spot_azs"],
            g5["spot_zone_prices"]) == ("", "", 0, "")
    # p2: zone names only (us-east-1a/b mean other zones in every account) -> the region's
    # median (0.3 + 0.5) / 2 = 0.4 and cheapest 0.3, but no per-zone prices. Only a Windows
    # band is listed for p2 -> the worst band.
    assert (p2["spot_usd_per_hour"], p2["spot_usd_per_hour_min"], p2["spot_azs"],
            p2["spot_zone_prices"], p2["interruption_band"]) == ("0.4", "0.3", 2, "", ">20%")


def test_the_compiled_rows_load_with_their_zones(build: ModuleType, tmp_path: Path) -> None:
    rows = build.compile_rows(inputs(tmp_path, build, P3_ZONES), GPU_MEMORY)
    write_price_file(rows, tmp_path / "instances.csv")
    offers = {o.instance_type: o for o in load_offers(tmp_path / "instances.csv")}
    assert offers["p3.2xlarge"].spot_zones == (ZoneSpotPrice("use1-az1", 0.9),
                                               ZoneSpotPrice("use1-az4", 1.2),
                                               ZoneSpotPrice("use1-az6", 0.5))
    assert offers["p2.xlarge"].spot_zones == ()


def test_a_zone_name_in_the_catalog_that_names_zones_by_id_stops_the_build(
        build: ModuleType, tmp_path: Path) -> None:
    folder = inputs(tmp_path, build, [("use1-az1", "0.9"), ("us-east-1a", "1.0")])
    with pytest.raises(SystemExit) as stopped:
        build.compile_rows(folder, GPU_MEMORY)
    assert str(stopped.value) == "p3.2xlarge us-east-1: 'us-east-1a' is not a zone ID"
