"""The price table: AWS GPU instance offers per region, and the GPU model table.

Two CSV files make a catalog (schemas in ``pricing_data/README.md``):

- an *instance price file* (``instances.csv`` shipped, or a user file written by
  ``costopt pricing refresh``): one row per (instance type, region) with USD per
  instance-hour on demand and on spot, and (optional column) each availability zone's spot
  price;
- the *GPU table* (``gpus.csv``, always the shipped one): memory, TFLOPS, TDP and the
  relative training speed against the reference GPU (V100 = 1.0).

Loading validates columns and numbers and reports the file, row and column of any problem.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from operator import attrgetter
from pathlib import Path

from costopt.core.pool_ids import ZONE_ID as ZONE_ID_PATTERN
from costopt.errors import FieldIssue, PricingDataError
from costopt.files import read_text

INSTANCE_COLUMNS: tuple[str, ...] = (
    "instance_type",
    "family",
    "region",
    "gpu_model",
    "gpus",
    "gpu_memory_gb",
    "vcpus",
    "memory_gib",
    "interconnect",
    "on_demand_usd_per_hour",
    "spot_usd_per_hour",
    "spot_usd_per_hour_min",
    "spot_azs",
    "interruption_band",
    "spot_interruptions_per_hour",
    "price_date",
    "source",
    "spot_zone_prices",
)
"""Columns of an instance price file, shipped or refreshed; same names, same units."""

OPTIONAL_INSTANCE_COLUMNS: frozenset[str] = frozenset({"spot_zone_prices"})
"""Columns a price file may lack (files written before they existed): read as empty."""

REQUIRED_INSTANCE_COLUMNS: tuple[str, ...] = tuple(
    c for c in INSTANCE_COLUMNS if c not in OPTIONAL_INSTANCE_COLUMNS)


GPU_COLUMNS: tuple[str, ...] = (
    "gpu_model",
    "vendor",
    "memory_gb",
    "fp32_tflops",
    "fp16_tensor_tflops",
    "tdp_watts",
    "relative_speed",
    "speed_source",
    "spec_source",
)

_REQUIRED_NUMBERS = ("gpus", "gpu_memory_gb", "vcpus", "on_demand_usd_per_hour")
_OPTIONAL_NUMBERS = (
    "memory_gib",
    "spot_usd_per_hour",
    "spot_usd_per_hour_min",
    "spot_azs",
    "spot_interruptions_per_hour",
)

STALE_AFTER_DAYS = 30
"""Prices older than this many days draw a warning from every command that uses them."""


@dataclass(frozen=True)
class GpuModel:
    """One GPU model of the GPU table. ``relative_speed`` is training throughput per GPU
    relative to the reference GPU (V100 = 1.0)."""

    name: str
    vendor: str
    memory_gb: float
    fp32_tflops: float
    fp16_tensor_tflops: float
    tdp_watts: float
    relative_speed: float


@dataclass(frozen=True)
class ZoneSpotPrice:
    """One availability zone's spot price snapshot for an instance type."""

    zone_id: str  # AWS zone ID, e.g. "use1-az1" (stable across accounts)
    usd_per_hour: float  # USD per instance-hour, Linux
    zone_name: str | None = None  # e.g. "us-east-1a" in the account that refreshed, when known


@dataclass(frozen=True)
class InstanceOffer:
    """An AWS GPU instance type as offered in one region, with its prices.

    Prices are USD per instance-hour, Linux. ``spot_usd_per_hour`` is the median over the
    region's availability zones with a spot offer (``None``: no spot offer seen);
    ``spot_usd_per_hour_min`` the cheapest zone. ``spot_interruptions_per_hour`` is the
    estimated number of spot interruptions per instance-hour (see ``pricing_data/README.md``).
    ``spot_zones`` are the zones' own spot prices, sorted by zone ID; ``()`` when the file
    has none for the offer (an older file, or a source that does not name zones by ID).
    """

    instance_type: str
    family: str
    region: str
    gpu_model: str
    gpus: int
    gpu_memory_gb: float
    vcpus: int
    memory_gib: float
    interconnect: str
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float | None
    spot_usd_per_hour_min: float | None
    interruption_band: str | None
    spot_interruptions_per_hour: float | None
    price_date: date
    spot_zones: tuple[ZoneSpotPrice, ...] = ()  # sorted by zone_id; () when the file has none

    @property
    def quota_family(self) -> str:
        """AWS's vCPU quota family: ``P`` for p2..p5, ``G`` for g3..g6 ("G and VT")."""
        return quota_family(self.instance_type)


def quota_family(instance_type: str) -> str:
    """The on-demand/spot vCPU quota family of an instance type (``p3.2xlarge`` -> ``P``)."""
    return instance_type[:1].upper()


@dataclass(frozen=True)
class PriceCatalog:
    """All offers and GPU models in use, and where and when the prices come from."""

    offers: tuple[InstanceOffer, ...]
    gpus: Mapping[str, GpuModel]  # upper-case model name -> model
    source: str
    price_date: date  # the oldest price date of the offers: what staleness is judged by
    _by_key: dict[tuple[str, str], InstanceOffer] = field(
        default_factory=dict, repr=False, compare=False
    )
    _zone_ids: dict[str, dict[str, str | None]] = field(
        default_factory=dict, repr=False, compare=False
    )  # region -> zone ID or name -> zone ID (None: a name mapped to two IDs)

    def __post_init__(self) -> None:
        self._by_key.update({(o.instance_type, o.region): o for o in self.offers})
        self._zone_ids.update(zone_index(self.offers))

    def gpu(self, name: str) -> GpuModel | None:
        """The GPU model of that name, matched without regard to case."""
        return self.gpus.get(name.upper())

    def with_gpus(self, models: Collection[GpuModel]) -> PriceCatalog:
        """This catalog with more GPU models (a workload's own); a model of a name the table
        has replaces that row."""
        if not models:
            return self
        return replace(self, gpus={**self.gpus, **{m.name.upper(): m for m in models}},
                       _by_key={}, _zone_ids={})

    def offer(self, instance_type: str, region: str) -> InstanceOffer | None:
        return self._by_key.get((instance_type, region))

    def zone_id(self, region: str, zone: str) -> str | None:
        """A zone ID for ``zone`` (an ID passes through if the region's offers know it; a zone
        NAME is resolved through the price file's own name->ID mapping from `pricing refresh`);
        None when it cannot be resolved."""
        return self._zone_ids.get(region, {}).get(zone)

    @cached_property
    def instance_types(self) -> frozenset[str]:
        return frozenset(o.instance_type for o in self.offers)

    @cached_property
    def regions(self) -> frozenset[str]:
        return frozenset(o.region for o in self.offers)

    def any_offer(self, instance_type: str) -> InstanceOffer | None:
        """Some region's offer of the type: its facts (GPUs, vCPUs) are the same everywhere."""
        return next((o for o in self.offers if o.instance_type == instance_type), None)

    def offers_for(self, instance_types: Collection[str] | None = None,
                   regions: Collection[str] | None = None) -> tuple[InstanceOffer, ...]:
        """The offers of these types and regions (``None`` or empty: all)."""
        return tuple(o for o in self.offers
                     if (not instance_types or o.instance_type in instance_types)
                     and (not regions or o.region in regions))

    def price_date_for(self, instance_types: Collection[str] | None = None,
                       regions: Collection[str] | None = None) -> date:
        """The oldest price date among the offers of these types and regions (``None`` or
        empty: all): what a plan that may use only them is judged by."""
        dates = [o.price_date for o in self.offers_for(instance_types, regions)]
        return min(dates, default=self.price_date)

    def staleness_warning(self, today: date, offers: Collection[InstanceOffer] | None = None,
                          rows: str = "in the file") -> str | None:
        """A warning when prices are older than :data:`STALE_AFTER_DAYS`, else ``None``.

        One rule for every command: the age of the **oldest row among the rows the command
        uses** (``offers``: those a workload may use, those shown, those compared; default
        every row). The message names those rows (``rows`` says which), the oldest date and
        how many rows of which families carry it."""
        used = tuple(offers) if offers else self.offers
        when = min(o.price_date for o in used)
        age = (today - when).days
        if age <= STALE_AFTER_DAYS:
            return None
        oldest = [o for o in used if o.price_date == when]
        families = ", ".join(sorted({o.family for o in oldest}))
        return (
            f"prices in {self.source} are {age} days old (from {when.isoformat()}) in "
            f"{len(oldest):,} of the {len(used):,} rows {rows} ({families}); staleness is the "
            "age of the oldest row in use, and spot prices move hourly. "
            "To fix: run `costopt pricing refresh`."
        )


def zone_index(offers: Collection[InstanceOffer]) -> dict[str, dict[str, str | None]]:
    """Per region: every zone ID its offers price, to itself, and every zone name they know,
    to its ID. A name the file maps to two IDs (rows refreshed from two accounts) maps to
    ``None``: it cannot be resolved."""
    index: dict[str, dict[str, str | None]] = {}
    for offer in offers:
        known = index.setdefault(offer.region, {})
        for zone in offer.spot_zones:
            known[zone.zone_id] = zone.zone_id
    for offer in offers:
        known = index[offer.region]
        for zone in offer.spot_zones:
            if zone.zone_name and zone.zone_name not in known:
                known[zone.zone_name] = zone.zone_id
            elif zone.zone_name and known[zone.zone_name] != zone.zone_id:
                known[zone.zone_name] = None
    return index


def format_number(value: float) -> str:
    """A price-file number: at most six decimals, no trailing zeros (``21.957642``, ``3``)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def format_zone_prices(zones: Collection[ZoneSpotPrice]) -> str:
    """The ``spot_zone_prices`` cell: ``ID=price`` or ``ID/NAME=price`` per zone, sorted by
    zone ID, ``;``-separated; prices as :func:`format_number` writes them
    (``use1-az1=0.9121``)."""
    def one(zone: ZoneSpotPrice) -> str:
        where = f"{zone.zone_id}/{zone.zone_name}" if zone.zone_name else zone.zone_id
        return f"{where}={format_number(zone.usd_per_hour)}"

    return ";".join(one(z) for z in sorted(zones, key=lambda z: z.zone_id))


ZONE_CELL_FORMAT = ("ZONE_ID=USD or ZONE_ID/ZONE_NAME=USD per zone, ';'-separated, e.g. "
                    "'use1-az1=0.9121;use1-az4/us-east-1a=1.02'")


def parse_zone_prices(raw: str, region: str, where: str,
                      issues: list[FieldIssue]) -> tuple[ZoneSpotPrice, ...]:
    """The zones of a ``spot_zone_prices`` cell (see :func:`format_zone_prices`), sorted by
    zone ID; ``()`` for an empty cell. Zone IDs must look like IDs (``use1-az1``, not the
    account-specific name ``us-east-1a``), appear once, and name no zone name outside
    ``region``; prices must be finite and above zero. Problems are appended to ``issues``
    and the cell then gives ``()``."""
    text = raw.strip()
    if not text:
        return ()
    zones: list[ZoneSpotPrice] = []
    problems: list[str] = []
    for cell in text.split(";"):
        part = cell.strip()
        zone, sep, price_text = part.partition("=")
        zone_id, _, zone_name = zone.partition("/")
        zone_id, zone_name = zone_id.strip(), zone_name.strip()
        if not part or not sep:
            problems.append(f"{part!r} is not ZONE_ID=USD")
            continue
        if not ZONE_ID_PATTERN.match(zone_id):
            hint = (" (that is a zone name, which differs per account; use the zone ID "
                    "DescribeAvailabilityZones gives)" if zone_id.startswith(region) else "")
            problems.append(f"{zone_id!r} is not a zone ID like 'use1-az1'{hint}")
        if "/" in zone and not (zone_name.startswith(region) and len(zone_name) > len(region)):
            problems.append(f"zone name {zone_name!r} is not a zone of {region}")
        try:
            price = float(price_text)
        except ValueError:
            price = math.nan
        if not (math.isfinite(price) and price > 0):
            problems.append(f"the price of {zone_id} ({price_text.strip()!r}) must be a finite "
                            "number > 0 (USD per instance-hour)")
        zones.append(ZoneSpotPrice(zone_id, price, zone_name or None))
    seen = [z.zone_id for z in zones] + [z.zone_name for z in zones if z.zone_name]
    if len(set(seen)) < len(seen):
        problems += [f"zone {z!r} appears more than once" for z in sorted(set(seen))
                     if seen.count(z) > 1]
    if problems:
        issues.append(FieldIssue(where, raw, "; ".join(problems) + f". Valid: {ZONE_CELL_FORMAT}"))
        return ()
    return tuple(sorted(zones, key=attrgetter("zone_id")))


def shipped_data_dir() -> Path:
    """The ``pricing_data`` folder: inside the installed package (``costopt/pricing_data``,
    beside this module's package; found without ``importlib.resources``, whose readers
    ``validate`` would import for this alone), else the source checkout."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "pricing_data"
    return packaged if packaged.is_dir() else package.parent / "pricing_data"


def user_price_file() -> Path:
    """Where ``costopt pricing refresh`` writes by default, and ``plan`` looks first."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "costopt" / "prices.csv"


def default_price_file() -> Path:
    """The refreshed user price file when there is one, else the shipped snapshot."""
    user = user_price_file()
    return user if user.is_file() else shipped_data_dir() / "instances.csv"


def load_catalog(price_file: Path | None = None, gpu_file: Path | None = None) -> PriceCatalog:
    """Load and validate a price file and the GPU table into a :class:`PriceCatalog`."""
    price_path = price_file or default_price_file()
    gpu_path = gpu_file or shipped_data_dir() / "gpus.csv"
    gpus = load_gpu_table(gpu_path)
    offers = load_offers(price_path)
    return PriceCatalog(
        offers=offers,
        gpus=gpus,
        source=str(price_path),
        price_date=min(o.price_date for o in offers),
    )


def read_checked_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a CSV file of strings that must have ``columns``, each row a dict by
    column name; a clear error otherwise. Lines starting with ``#`` and blank lines are
    skipped; a short row is padded with empty cells, a row with more cells than the header
    is an error naming its line."""
    text = read_text(path, PricingDataError)
    lines = [line for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    try:
        table = list(csv.reader(lines, strict=True))
    except csv.Error as exc:
        raise PricingDataError.about_file(path, f"not a readable CSV file: {exc}") from None
    if not table:
        raise PricingDataError.about_file(path, "not a readable CSV file: no header")
    header = [name.strip() for name in table[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise PricingDataError(
            str(path),
            [
                FieldIssue(
                    "(header)",
                    header,
                    f"missing column(s) {', '.join(missing)}; a price file has the columns "
                    f"{', '.join(columns)}",
                )
            ],
        )
    long = next((i for i, cells in enumerate(table) if len(cells) > len(header)), None)
    if long is not None:
        raise PricingDataError.about_file(path, f"not a readable CSV file: row {long + 1} has "
                                          f"{len(table[long])} cells, the header "
                                          f"{len(header)}")
    if len(table) == 1:
        raise PricingDataError.about_file(path, "has no rows")
    return [dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))
            for cells in table[1:]]


MAX_NUMBER = 1e9
"""The largest number a price file may hold in any column (USD per hour, GPUs, GiB ...):
larger ones are typing errors, and would overflow a plan's costs to infinity."""


def parse_number(raw: str, where: str, issues: list[FieldIssue], *,
                 required: bool, whole: bool = False) -> float | None:
    """A finite number from 0 to :data:`MAX_NUMBER` (a whole one if ``whole``) from a CSV
    cell; a problem is appended to ``issues``."""
    text = raw.strip()
    if not text:
        if required:
            issues.append(FieldIssue(where, raw, "is empty; a number >= 0 is required"))
        return None
    try:
        value = float(text)
    except ValueError:
        issues.append(FieldIssue(where, raw, "is not a number"))
        return None
    if not math.isfinite(value) or not 0 <= value <= MAX_NUMBER:
        issues.append(FieldIssue(where, raw, f"must be a finite number from 0 to {MAX_NUMBER:g}"))
        return None
    if whole and not value.is_integer():
        issues.append(FieldIssue(where, raw, "must be a whole number"))
        return None
    return value


def load_offers(path: Path) -> tuple[InstanceOffer, ...]:
    """Read an instance price file; every problem is reported with its row and column."""
    rows = read_checked_csv(path, REQUIRED_INSTANCE_COLUMNS)
    issues: list[FieldIssue] = []
    offers: list[InstanceOffer] = []
    for i, row in enumerate(rows):
        line = i + 2  # 1-based, after the header
        nums: dict[str, float | None] = {}
        for col in _REQUIRED_NUMBERS:
            nums[col] = parse_number(row[col], f"row {line}.{col}", issues, required=True,
                                     whole=col in ("gpus", "vcpus"))
        for col in _OPTIONAL_NUMBERS:
            nums[col] = parse_number(row[col], f"row {line}.{col}", issues, required=False)
        try:
            when = date.fromisoformat(row["price_date"].strip())
        except ValueError:
            issues.append(
                FieldIssue(f"row {line}.price_date", row["price_date"], "must be YYYY-MM-DD")
            )
            continue
        region = row["region"].strip()
        zones = parse_zone_prices(row.get("spot_zone_prices", ""), region,
                                  f"row {line}.spot_zone_prices", issues)
        if zones and nums["spot_usd_per_hour"] is None:
            issues.append(FieldIssue(f"row {line}.spot_usd_per_hour", row["spot_usd_per_hour"],
                                     "is empty but the row has zone spot prices; give the "
                                     "region's spot price (the median over the zones) too"))
        if any(nums[c] is None for c in _REQUIRED_NUMBERS):
            continue
        offers.append(
            InstanceOffer(
                instance_type=row["instance_type"].strip(),
                family=row["family"].strip(),
                region=region,
                gpu_model=row["gpu_model"].strip(),
                gpus=int(nums["gpus"] or 0),
                gpu_memory_gb=float(nums["gpu_memory_gb"] or 0.0),
                vcpus=int(nums["vcpus"] or 0),
                memory_gib=float(nums["memory_gib"] or 0.0),
                interconnect=row["interconnect"].strip(),
                on_demand_usd_per_hour=float(nums["on_demand_usd_per_hour"] or 0.0),
                spot_usd_per_hour=nums["spot_usd_per_hour"],
                spot_usd_per_hour_min=nums["spot_usd_per_hour_min"],
                interruption_band=row["interruption_band"].strip() or None,
                spot_interruptions_per_hour=nums["spot_interruptions_per_hour"],
                price_date=when,
                spot_zones=zones,
            )
        )
    if issues:
        raise PricingDataError(str(path), issues)
    return tuple(offers)


def load_gpu_table(path: Path) -> dict[str, GpuModel]:
    """Read the GPU table, keyed by upper-case model name."""
    rows = read_checked_csv(path, GPU_COLUMNS)
    issues: list[FieldIssue] = []
    table: dict[str, GpuModel] = {}
    for i, row in enumerate(rows):
        line = i + 2
        nums = {
            c: parse_number(row[c], f"row {line}.{c}", issues, required=c == "relative_speed")
            for c in ("memory_gb", "fp32_tflops", "fp16_tensor_tflops", "tdp_watts",
                      "relative_speed")
        }
        name = row["gpu_model"].strip()
        table[name.upper()] = GpuModel(
            name=name,
            vendor=row["vendor"].strip(),
            memory_gb=nums["memory_gb"] or 0.0,
            fp32_tflops=nums["fp32_tflops"] or 0.0,
            fp16_tensor_tflops=nums["fp16_tensor_tflops"] or 0.0,
            tdp_watts=nums["tdp_watts"] or 0.0,
            relative_speed=nums["relative_speed"] or 0.0,
        )
    if issues:
        raise PricingDataError(str(path), issues)
    return table
