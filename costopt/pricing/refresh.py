"""``costopt pricing refresh``: current AWS prices into a price file of the shipped schema.

Three AWS sources per region:

- on demand: the Price List API (``pricing:GetProducts``, service ``AmazonEC2``; the API is
  served from us-east-1), Linux, shared tenancy, no pre-installed software, capacity status
  ``Used``, GPU instances of the region; the ``OnDemand`` term's hourly USD price;
- spot: ``ec2:DescribeSpotPriceHistory`` (``Linux/UNIX``) over the last 7 days, per zone:
  the latest price and the time-weighted 7-day median; the history names zones by *name*
  (``us-east-1a``, which means a different zone in each account), so
  ``ec2:DescribeAvailabilityZones`` maps each name to its zone ID (``use1-az1``, the same in
  every account), and the file stores both;
- facts: ``ec2:DescribeInstanceTypes`` (vCPUs, memory, GPU model, count and memory).

The core (``parse_*``, ``zone_spot``, ``region_spot``, ``price_rows``) takes records and
returns rows; the ``fetch_*`` functions and :func:`refresh` are the AWS edge. Every describe
call goes through a paginator.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from costopt.awserrors import aws_exceptions, failure_of
from costopt.files import write_atomically
from costopt.pricing.catalog import (
    INSTANCE_COLUMNS,
    ZoneSpotPrice,
    format_number,
    format_zone_prices,
)
from costopt.pricing.names import canonical_gpu_name, family, interconnect
from costopt.pricing.spot import band_for, interruptions_per_hour, zone_summary

SOURCE = "aws-price-list-api+describe-spot-price-history"
PRICING_API_REGION = "us-east-1"
SPOT_WINDOW = timedelta(days=7)
SPOT_PRODUCT = "Linux/UNIX"
DEFAULT_FAMILIES: tuple[str, ...] = (
    "p2", "p3", "p3dn", "p4d", "p4de", "p5", "g4dn", "g4ad", "g5", "g6",
)
"""The GPU families of the shipped snapshot: what a refresh fetches unless told otherwise."""

PRICE_LIST_FILTERS: tuple[tuple[str, str], ...] = (
    ("instanceFamily", "GPU instance"),
    ("operatingSystem", "Linux"),
    ("tenancy", "Shared"),
    ("preInstalledSw", "NA"),
    ("capacitystatus", "Used"),
)
"""``TERM_MATCH`` filters of the Price List query, with ``regionCode`` added per region."""

Key = tuple[str, str]  # (instance type, availability zone)


@dataclass(frozen=True)
class OnDemandPrice:
    """One Price List record: an instance type's on-demand price in a region, USD per
    instance-hour."""

    instance_type: str
    region: str
    usd_per_hour: float


@dataclass(frozen=True)
class InstanceFacts:
    """What ``DescribeInstanceTypes`` says about a GPU instance type. ``gpu_memory_gb`` is
    per GPU (the GPU table's nominal figure where the model is known)."""

    instance_type: str
    gpu_model: str
    gpus: int
    gpu_memory_gb: float
    vcpus: int
    memory_gib: float


@dataclass(frozen=True)
class SpotPricePoint:
    """One ``DescribeSpotPriceHistory`` record: from ``timestamp`` on, the zone's spot price
    is ``usd_per_hour`` (USD per instance-hour)."""

    instance_type: str
    availability_zone: str
    usd_per_hour: float
    timestamp: datetime


@dataclass(frozen=True)
class ZoneSpot:
    """A zone's spot price now and its median over the window, USD per instance-hour."""

    latest_usd_per_hour: float
    median_usd_per_hour: float


@dataclass(frozen=True)
class RegionSpot:
    """A region's spot prices, USD per instance-hour: the median and the cheapest of the
    zones' latest prices (the price file's columns), the median of the zones' 7-day
    medians (reported, not written), and each zone's latest price under its zone ID (the
    zones whose ID is known)."""

    usd_per_hour: float
    usd_per_hour_min: float
    azs: int
    median_7d_usd_per_hour: float
    zones: tuple[ZoneSpotPrice, ...] = ()


@dataclass(frozen=True)
class RegionResult:
    """The rows fetched for one region, with what was left out and why."""

    region: str
    families: tuple[str, ...]
    rows: list[dict[str, str]]
    spot_7d: dict[str, float]  # instance type -> median of the zones' 7-day medians, USD/h
    notes: list[str]


@dataclass
class RefreshResult:
    """All regions of a refresh: the ones that worked and the ones that failed, with why."""

    regions: list[RegionResult] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # region -> error message

    @property
    def rows(self) -> list[dict[str, str]]:
        return [row for r in self.regions for row in r.rows]


# --- the pure core ----------------------------------------------------------------------


def parse_price_list_item(raw: str) -> OnDemandPrice | None:
    """An on-demand price from one Price List ``PriceList`` entry (a JSON string in the
    ``aws_v1`` format); ``None`` when it has no hourly USD on-demand price above zero.

    Raises ``ValueError`` when the entry is not the documented shape.
    """
    try:
        item = json.loads(raw)
        attributes = item["product"]["attributes"]
        instance_type = attributes["instanceType"]
        region = attributes["regionCode"]
        terms = item.get("terms", {}).get("OnDemand", {})
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"a Price List record is not in the aws_v1 format: {exc!r}") from None
    prices = {
        float(dimension["pricePerUnit"]["USD"])
        for term in terms.values()
        for dimension in term.get("priceDimensions", {}).values()
        if dimension.get("unit") == "Hrs" and "USD" in dimension.get("pricePerUnit", {})
    }
    prices.discard(0.0)
    if len(prices) != 1:
        return None
    return OnDemandPrice(instance_type, region, prices.pop())


def on_demand_by_type(prices: Iterable[OnDemandPrice]) -> tuple[dict[str, float], list[str]]:
    """Instance type -> on-demand USD per hour; a type with conflicting records is left out
    and named in the notes."""
    seen: dict[str, set[float]] = defaultdict(set)
    for price in prices:
        seen[price.instance_type].add(price.usd_per_hour)
    table = {t: next(iter(p)) for t, p in seen.items() if len(p) == 1}
    notes = [f"{t}: conflicting on-demand prices {sorted(p)}, left out"
             for t, p in sorted(seen.items()) if len(p) > 1]
    return table, notes


def parse_instance_type(entry: Mapping[str, Any],
                        gpu_memory_gb: Mapping[str, float]) -> InstanceFacts | None:
    """Facts from one ``DescribeInstanceTypes`` entry; ``None`` for a type without GPUs.

    ``gpu_memory_gb`` maps upper-case GPU model names to the GPU table's memory per GPU (GB),
    the figure the shipped snapshot uses; a model not in it gets EC2's MiB / 1024.
    """
    instance_type = entry["InstanceType"]
    gpus = entry.get("GpuInfo", {}).get("Gpus", [])
    if not gpus:
        return None
    first = gpus[0]
    memory_mib = int(first.get("MemoryInfo", {}).get("SizeInMiB", 0))
    model = canonical_gpu_name(first.get("Manufacturer", ""), first["Name"], memory_mib,
                               instance_type)
    return InstanceFacts(
        instance_type=instance_type,
        gpu_model=model,
        gpus=sum(int(g.get("Count", 0)) for g in gpus),
        gpu_memory_gb=gpu_memory_gb.get(model.upper(), round(memory_mib / 1024, 1)),
        vcpus=int(entry["VCpuInfo"]["DefaultVCpus"]),
        memory_gib=entry["MemoryInfo"]["SizeInMiB"] / 1024,
    )


def parse_spot_record(record: Mapping[str, Any]) -> SpotPricePoint:
    """One ``SpotPriceHistory`` entry as a :class:`SpotPricePoint`."""
    return SpotPricePoint(
        instance_type=record["InstanceType"],
        availability_zone=record["AvailabilityZone"],
        usd_per_hour=float(record["SpotPrice"]),
        timestamp=record["Timestamp"],
    )


def weighted_median(values: Iterable[tuple[float, float]]) -> float:
    """The lower weighted median of (value, weight) pairs: the smallest value at which the
    cumulative weight reaches half the total. Weights must not all be zero."""
    pairs = sorted(values)
    half = sum(w for _, w in pairs) / 2
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    raise ValueError("weighted_median of nothing")


def zone_spot(points: Iterable[SpotPricePoint], now: datetime,
              window: timedelta = SPOT_WINDOW) -> dict[Key, ZoneSpot]:
    """Per (instance type, zone): the latest price and the median over ``[now - window,
    now]`` of the price in force, each price weighted by the hours it held.

    A price recorded before the window (AWS returns the one in force at its start) counts
    from the window's start.
    """
    start = now - window
    by_zone: dict[Key, list[SpotPricePoint]] = defaultdict(list)
    for p in points:
        if p.timestamp <= now:
            by_zone[(p.instance_type, p.availability_zone)].append(p)
    out: dict[Key, ZoneSpot] = {}
    for key, zone_points in by_zone.items():
        ordered = sorted(zone_points, key=lambda p: p.timestamp)
        ends = [p.timestamp for p in ordered[1:]] + [now]
        held = [(p.usd_per_hour, (end - max(p.timestamp, start)).total_seconds())
                for p, end in zip(ordered, ends, strict=True) if end > start]
        latest = ordered[-1].usd_per_hour
        total = sum(w for _, w in held)
        out[key] = ZoneSpot(latest, weighted_median(held) if total > 0 else latest)
    return out


def region_spot(zones: Mapping[Key, ZoneSpot],
                zone_ids: Mapping[str, str] | None = None) -> dict[str, RegionSpot]:
    """Per instance type: the region's spot prices from its zones (see :class:`RegionSpot`).
    ``zone_ids`` maps zone names to zone IDs (``DescribeAvailabilityZones``); a zone without
    an ID counts in the median and the cheapest but gets no zone price."""
    ids = zone_ids or {}
    by_type: dict[str, list[tuple[str, ZoneSpot]]] = defaultdict(list)
    for (instance_type, zone), spot in zones.items():
        by_type[instance_type].append((zone, spot))
    out: dict[str, RegionSpot] = {}
    for instance_type, spots in by_type.items():
        summary = zone_summary(s.latest_usd_per_hour for _, s in spots)
        if summary is None:
            continue
        median, cheapest, azs = summary
        priced = sorted((ZoneSpotPrice(ids[name], s.latest_usd_per_hour, name)
                         for name, s in spots if name in ids and s.latest_usd_per_hour > 0),
                        key=lambda z: z.zone_id)
        out[instance_type] = RegionSpot(
            median, cheapest, azs, statistics.median(s.median_usd_per_hour for _, s in spots),
            tuple(priced))
    return out


def unmapped_zones(zones: Iterable[Key], zone_ids: Mapping[str, str]) -> list[str]:
    """Notes on the zone names of spot prices that have no zone ID."""
    return [f"{name}: no zone ID from DescribeAvailabilityZones; its spot prices count in "
            "the region's median but are not written per zone"
            for name in sorted({name for _, name in zones} - set(zone_ids))]


def price_rows(region: str, facts: Mapping[str, InstanceFacts],
               on_demand: Mapping[str, float], spot: Mapping[str, RegionSpot],
               bands: Mapping[tuple[str, str], str], today: date,
               ) -> tuple[list[dict[str, str]], list[str]]:
    """Price-file rows (the columns of ``INSTANCE_COLUMNS``, as text) for one region, and
    notes on the types left out.

    A row needs facts and an on-demand price; spot columns are empty without a spot price.
    ``bands`` ((instance type, region) -> Spot Advisor band) come from the table in use: the
    refresh keeps a type's band; a type the table does not list in the region gets the
    type's median band elsewhere, else the worst band (``spot.band_for``).
    """
    rows: list[dict[str, str]] = []
    notes = [f"{t}: an on-demand price but no GPU facts from DescribeInstanceTypes, left out"
             for t in sorted(set(on_demand) - set(facts))]
    notes += [f"{t}: no on-demand price in the Price List, left out"
              for t in sorted(set(facts) - set(on_demand))]
    for instance_type in sorted(set(facts) & set(on_demand)):
        fact = facts[instance_type]
        region_spot_price = spot.get(instance_type)
        band, how = band_for(bands, instance_type, region)
        rows.append({
            "instance_type": instance_type,
            "family": family(instance_type),
            "region": region,
            "gpu_model": fact.gpu_model,
            "gpus": str(fact.gpus),
            "gpu_memory_gb": format_number(fact.gpu_memory_gb),
            "vcpus": str(fact.vcpus),
            "memory_gib": format_number(fact.memory_gib),
            "interconnect": interconnect(instance_type),
            "on_demand_usd_per_hour": format_number(on_demand[instance_type]),
            "spot_usd_per_hour": (format_number(region_spot_price.usd_per_hour)
                                  if region_spot_price else ""),
            "spot_usd_per_hour_min": (format_number(region_spot_price.usd_per_hour_min)
                                      if region_spot_price else ""),
            "spot_azs": str(region_spot_price.azs if region_spot_price else 0),
            "interruption_band": band,
            "spot_interruptions_per_hour": f"{interruptions_per_hour(band):.6f}",
            "price_date": today.isoformat(),
            "source": f"{SOURCE}; {how or 'band kept from the previous table'}",
            "spot_zone_prices": (format_zone_prices(region_spot_price.zones)
                                 if region_spot_price else ""),
        })
    return rows, notes


def merge_rows(existing: Iterable[Mapping[str, str]], result: RefreshResult,
               ) -> list[dict[str, str]]:
    """The rows of an existing price file with the refreshed (region, family) pairs replaced:
    rows of regions or families not fetched this time (or whose region failed) stay."""
    replaced = {(r.region, f) for r in result.regions for f in r.families}
    kept = [dict(row) for row in existing if (row["region"], row["family"]) not in replaced]
    return sorted(kept + result.rows, key=lambda r: (r["instance_type"], r["region"]))


def write_price_rows(rows: Iterable[Mapping[str, object]], handle: TextIO) -> None:
    """Price-file CSV (the columns of ``INSTANCE_COLUMNS``) to an open text stream."""
    writer = csv.DictWriter(handle, fieldnames=INSTANCE_COLUMNS, lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


def write_price_file(rows: Iterable[Mapping[str, object]], path: Path) -> None:
    """Write a price file, atomically (a reader never sees half of it)."""

    def write(partial: Path) -> None:
        with partial.open("w", newline="") as handle:
            write_price_rows(rows, handle)

    write_atomically(path, write)


# --- the AWS edge -----------------------------------------------------------------------


def fetch_on_demand(pricing: Any, region: str, families: Collection[str],
                    ) -> tuple[dict[str, float], list[str]]:
    """On-demand USD per instance-hour by instance type of ``families`` in ``region``."""
    filters = [{"Type": "TERM_MATCH", "Field": name, "Value": value}
               for name, value in (*PRICE_LIST_FILTERS, ("regionCode", region))]
    prices: list[OnDemandPrice] = []
    paginator = pricing.get_paginator("get_products")
    for page in paginator.paginate(ServiceCode="AmazonEC2", Filters=filters,
                                   FormatVersion="aws_v1"):
        for raw in page.get("PriceList", []):
            price = parse_price_list_item(raw)
            if price and price.region == region and family(price.instance_type) in families:
                prices.append(price)
    return on_demand_by_type(prices)


def fetch_instance_facts(ec2: Any, families: Collection[str],
                         gpu_memory_gb: Mapping[str, float]) -> dict[str, InstanceFacts]:
    """GPU facts of the region's instance types of ``families``."""
    paginator = ec2.get_paginator("describe_instance_types")
    facts: dict[str, InstanceFacts] = {}
    pages = paginator.paginate(Filters=[{"Name": "instance-type",
                                         "Values": [f"{f}.*" for f in sorted(families)]}])
    for page in pages:
        for entry in page.get("InstanceTypes", []):
            fact = parse_instance_type(entry, gpu_memory_gb)
            if fact and family(fact.instance_type) in families:
                facts[fact.instance_type] = fact
    return facts


def fetch_spot_points(ec2: Any, instance_types: Collection[str], now: datetime,
                      window: timedelta = SPOT_WINDOW) -> list[SpotPricePoint]:
    """The region's Linux spot price history of ``instance_types`` over the window."""
    if not instance_types:
        return []
    paginator = ec2.get_paginator("describe_spot_price_history")
    pages = paginator.paginate(InstanceTypes=sorted(instance_types),
                               ProductDescriptions=[SPOT_PRODUCT],
                               StartTime=now - window, EndTime=now)
    return [parse_spot_record(r) for page in pages for r in page.get("SpotPriceHistory", [])]


def fetch_zone_ids(ec2: Any) -> dict[str, str]:
    """The region's zone names -> zone IDs (``us-east-1a`` -> ``use1-az4``) as this account
    sees them; every zone, opted in or not, so that no zone with a spot price lacks an ID."""
    zones = ec2.describe_availability_zones(AllAvailabilityZones=True)["AvailabilityZones"]
    return {z["ZoneName"]: z["ZoneId"] for z in zones}


def refresh_region(region: str, *, pricing: Any, ec2: Any, families: Collection[str],
                   now: datetime, bands: Mapping[tuple[str, str], str],
                   gpu_memory_gb: Mapping[str, float]) -> RegionResult:
    """Fetch one region's facts, on-demand and spot prices, and turn them into rows."""
    facts = fetch_instance_facts(ec2, families, gpu_memory_gb)
    on_demand, notes = fetch_on_demand(pricing, region, families)
    points = fetch_spot_points(ec2, set(facts) & set(on_demand), now)
    zones = zone_spot(points, now)
    zone_ids = fetch_zone_ids(ec2) if zones else {}
    spot = region_spot(zones, zone_ids)
    rows, left_out = price_rows(region, facts, on_demand, spot, bands, now.date())
    return RegionResult(region, tuple(sorted(families)), rows,
                        {t: s.median_7d_usd_per_hour for t, s in spot.items()},
                        notes + left_out + unmapped_zones(zones, zone_ids))


ClientFactory = Callable[[str, str], Any]
"""(service name, region) -> a boto3 client."""


def refresh(regions: Iterable[str], *, clients: ClientFactory, families: Collection[str],
            now: datetime, bands: Mapping[tuple[str, str], str],
            gpu_memory_gb: Mapping[str, float],
            on_region: Callable[[str], None] = lambda region: None) -> RefreshResult:
    """Refresh every region; a region whose calls fail is recorded in ``failures`` (the first
    line of the error: a server's HTML error page is not repeated) and the others go on.
    ``on_region`` is called after each region (a progress bar)."""
    pricing = clients("pricing", PRICING_API_REGION)
    result = RefreshResult()
    for region in regions:
        try:
            result.regions.append(refresh_region(
                region, pricing=pricing, ec2=clients("ec2", region), families=families,
                now=now, bands=bands, gpu_memory_gb=gpu_memory_gb))
        except aws_exceptions() as exc:
            result.failures[region] = str(failure_of(exc))
        except ValueError as exc:
            result.failures[region] = str(exc).strip().splitlines()[0][:300]
        on_region(region)
    return result
