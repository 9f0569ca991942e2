"""Compile ``pricing_data/instances.csv`` from the public reference data.

Inputs (see ``pricing_data/README.md`` for their sources and dates):

- SkyPilot's AWS catalog (v9, 2026): one row per instance type, region and availability
  zone (by zone ID), with the region's on-demand price and the zone's spot price;
- the same project's older catalog (v3, about 2022) for p2, retired from the newer one; it
  names zones by zone *name*, which means a different zone in each AWS account, so its rows
  get the region's spot median and cheapest zone but no per-zone prices;
- AWS Spot Instance Advisor data (2025-06-28): the interruption band per region and type.

Output: one row per (instance type, region) in the price-file schema of
``costopt.pricing.catalog.INSTANCE_COLUMNS``: spot as the median over the zones with an offer
and the cheapest zone (``costopt.pricing.spot.zone_summary``), each zone's spot price under
its zone ID (``spot_zone_prices``), the advisor band and the interruptions per
instance-hour it stands for (``interruptions_per_hour``).

Usage: ``python scripts/build_pricing_data.py [--data DIR] [-o FILE]``.
"""

from __future__ import annotations

import argparse
import ast
import csv
from collections import Counter, defaultdict
from pathlib import Path

from costopt.core.pool_ids import ZONE_ID as ZONE_ID_PATTERN
from costopt.pricing.catalog import (
    ZoneSpotPrice,
    format_number,
    format_zone_prices,
    load_gpu_table,
)
from costopt.pricing.names import canonical_gpu_name, interconnect
from costopt.pricing.refresh import write_price_rows
from costopt.pricing.spot import band_for, interruptions_per_hour, zone_summary

REPO = Path(__file__).resolve().parents[1]
CATALOG_2026 = "aws_gpu_catalog_2026.csv"
CATALOG_P2 = "aws_p2_catalog_legacy.csv"
ADVISOR = "aws_spot_advisor_gpu_linux_2025-06-28.csv"

SOURCES = {
    CATALOG_2026: ("2026-01-01", "skypilot-catalog v9@3e9a1751 (2026)"),
    CATALOG_P2: ("2022-01-01", "skypilot-catalog v3 (about 2022)"),
}
"""Price date and source per input. Only the year of each snapshot is known, so the date is
its first day: staleness warnings err on the side of refreshing."""

ZONES_BY_ID = {CATALOG_2026: True, CATALOG_P2: False}
"""Whether an input's ``AvailabilityZone`` is the zone ID (per-zone prices are written) or
the account-specific zone name (they are not: the name says nothing about which zone)."""

ADVISOR_SOURCE = "spot-advisor 2025-06-28"


def read_advisor(path: Path) -> dict[tuple[str, str], str]:
    """(instance type, region) -> interruption band, Linux only."""
    with path.open(newline="") as handle:
        return {
            (row["instance_type"], row["region"]): row["interruption_frequency"]
            for row in csv.DictReader(handle)
            if row["os"] == "Linux"
        }


def zone_prices(offered: list[dict[str, str]], itype: str, region: str) -> str:
    """The ``spot_zone_prices`` cell of the zones with a spot offer; every zone must be
    named by its ID."""
    for row in offered:
        if not ZONE_ID_PATTERN.match(row["AvailabilityZone"]):
            raise SystemExit(f"{itype} {region}: {row['AvailabilityZone']!r} is not a zone ID")
    return format_zone_prices([ZoneSpotPrice(r["AvailabilityZone"], float(r["SpotPrice"]))
                               for r in offered])


def compile_rows(data_dir: Path, gpu_memory: dict[str, float]) -> list[dict[str, object]]:
    """One price-file row per (instance type, region) across both catalogs."""
    bands = read_advisor(data_dir / ADVISOR)
    zones: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    origin: dict[tuple[str, str], str] = {}
    for name in (CATALOG_2026, CATALOG_P2):
        with (data_dir / name).open(newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["InstanceType"], row["Region"])
                zones[key].append(row)
                origin[key] = name
    rows: list[dict[str, object]] = []
    for (itype, region), azs in sorted(zones.items()):
        first = azs[0]
        gpu = ast.literal_eval(first["GpuInfo"])["Gpus"][0]
        model = canonical_gpu_name(
            gpu["Manufacturer"], gpu["Name"], int(gpu["MemoryInfo"]["SizeInMiB"]), itype
        )
        on_demand = {float(r["Price"]) for r in azs}
        if len(on_demand) != 1:
            raise SystemExit(f"{itype} {region}: on-demand price differs by zone: {on_demand}")
        offered = [r for r in azs if r["SpotPrice"].strip()]
        spot = zone_summary(float(r["SpotPrice"]) for r in offered)
        band, how = band_for(bands, itype, region)
        band_note = f"{ADVISOR_SOURCE}; {how}" if how else ADVISOR_SOURCE
        price_date, source = SOURCES[origin[(itype, region)]]
        rows.append(
            {
                "instance_type": itype,
                "family": itype.split(".")[0],
                "region": region,
                "gpu_model": model,
                "gpus": int(float(first["AcceleratorCount"])),
                "gpu_memory_gb": format_number(gpu_memory[model.upper()]),
                "vcpus": int(float(first["vCPUs"])),
                "memory_gib": format_number(float(first["MemoryGiB"])),
                "interconnect": interconnect(itype),
                "on_demand_usd_per_hour": format_number(on_demand.pop()),
                "spot_usd_per_hour": format_number(spot[0]) if spot else "",
                "spot_usd_per_hour_min": format_number(spot[1]) if spot else "",
                "spot_azs": spot[2] if spot else 0,
                "interruption_band": band,
                "spot_interruptions_per_hour": f"{interruptions_per_hour(band):.6f}",
                "price_date": price_date,
                "source": f"{source}; {band_note}",
                "spot_zone_prices": (zone_prices(offered, itype, region)
                                     if ZONES_BY_ID[origin[(itype, region)]] else ""),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("-o", "--output", type=Path,
                        default=REPO / "pricing_data" / "instances.csv")
    args = parser.parse_args()
    gpus = load_gpu_table(REPO / "pricing_data" / "gpus.csv")
    rows = compile_rows(args.data, {k: g.memory_gb for k, g in gpus.items()})
    with args.output.open("w", newline="") as handle:
        write_price_rows(rows, handle)
    families = Counter(str(r["family"]) for r in rows)
    print(f"wrote {len(rows)} rows to {args.output}: "
          + ", ".join(f"{f} {n}" for f, n in sorted(families.items())))


if __name__ == "__main__":
    main()
