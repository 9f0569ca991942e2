"""``costopt pricing show`` and ``costopt pricing refresh``."""

from __future__ import annotations

import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from costopt.cli.common import Env, ExitCode, get_env, guarded
from costopt.core.money import usd
from costopt.errors import AwsError, CostoptError, PricingDataError

if TYPE_CHECKING:
    from costopt.pricing.catalog import InstanceOffer, PriceCatalog
    from costopt.pricing.refresh import RefreshResult

INTEGER_COLUMNS = ("gpus", "vcpus", "spot_azs")
NUMBER_COLUMNS = ("gpu_memory_gb", "memory_gib", "on_demand_usd_per_hour", "spot_usd_per_hour",
                  "spot_usd_per_hour_min", "spot_interruptions_per_hour")
SORTED_BY = "on_demand_usd_per_gpu_hour"
ZONES_SORTED_BY = "spot_usd_per_gpu_hour"
ZONE_COLUMNS = ("instance_type", "region", "zone_id", "zone_name", "gpu_model", "gpus",
                "spot_usd_per_hour", "spot_usd_per_gpu_hour", "region_spot_usd_per_hour",
                "vs_region")
"""The rows of ``pricing show --zones`` (json and csv), one per (offer, zone)."""


class PriceFormat(str, Enum):
    """``pricing show --format``: for people, JSON, or CSV (a price file)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The AWS price table in use: show it, refresh it from AWS.",
                        no_args_is_help=True)
    group.command("show")(show)
    group.command("refresh")(refresh)
    app.add_typer(group, name="pricing")


def _split(values: list[str] | None, *, lower: bool = False) -> list[str]:
    """Repeated and comma-separated option values as one list (``--regions a,b --regions c``);
    lower-cased for names AWS spells in lower case (regions, families)."""
    out = [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]
    return [v.lower() for v in out] if lower else out


def _matches_gpu(model: str, wanted: list[str]) -> bool:
    """An exact model name, or a prefix ending at a dash (``V100`` covers ``V100-SXM2-16GB``),
    without regard to case, as ``speed:`` keys are matched."""
    upper = model.upper()
    return any(upper == w.upper() or upper.startswith(w.upper() + "-") for w in wanted)


def _typed(record: dict[str, str]) -> dict[str, Any]:
    """A price-file row with numbers as numbers (``None`` where empty)."""
    out: dict[str, Any] = dict(record)
    for col in INTEGER_COLUMNS:
        out[col] = int(float(record[col])) if record[col].strip() else None
    for col in NUMBER_COLUMNS:
        out[col] = float(record[col]) if record[col].strip() else None
    gpus = out["gpus"] or 1
    out["on_demand_usd_per_gpu_hour"] = out["on_demand_usd_per_hour"] / gpus
    spot = out["spot_usd_per_hour"]
    out["spot_usd_per_gpu_hour"] = spot / gpus if spot is not None else None
    return out


def _select(records: list[dict[str, str]], source: Path, families: list[str],
            regions: list[str], gpus: list[str]) -> list[dict[str, Any]]:
    """The rows that match every filter given, cheapest on-demand GPU-hour first; an error
    that lists the valid values when nothing matches."""
    chosen = [r for r in records
              if (not families or r["family"] in families)
              and (not regions or r["region"] in regions)
              and (not gpus or _matches_gpu(r["gpu_model"], gpus))]
    if not chosen:
        def valid(col: str) -> str:
            return ", ".join(sorted({r[col] for r in records}))

        raise CostoptError(
            f"no offers in {source} match family {families or 'any'}, region "
            f"{regions or 'any'}, GPU {gpus or 'any'}. Families: {valid('family')}. Regions: "
            f"{valid('region')}. GPUs: {valid('gpu_model')}.")
    typed = [_typed(r) for r in chosen]
    return sorted(typed, key=lambda r: (r[SORTED_BY], r["instance_type"], r["region"]))


def _with_zones(rows: list[dict[str, Any]], catalog: PriceCatalog) -> list[dict[str, Any]]:
    """The offers with their zone prices as a list (``spot_zones``), for json."""
    out = []
    for r in rows:
        offer = catalog.offer(r["instance_type"], r["region"])
        zones = offer.spot_zones if offer else ()
        out.append({**r, "spot_zones": [{"zone_id": z.zone_id, "zone_name": z.zone_name,
                                         "usd_per_hour": z.usd_per_hour} for z in zones]})
    return out


def _zone_rows(rows: list[dict[str, Any]], catalog: PriceCatalog,
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per zone price of the offers shown (``ZONE_COLUMNS``), cheapest spot GPU-hour
    first; and the offers shown that have no zone prices (``type region``). ``vs_region`` is
    the zone's price over the region's spot price (the median over its zones)."""
    zones: list[dict[str, Any]] = []
    without: list[str] = []
    for r in rows:
        offer = catalog.offer(r["instance_type"], r["region"])
        if offer is None or not offer.spot_zones:
            without.append(f"{r['instance_type']} {r['region']}")
            continue
        median = offer.spot_usd_per_hour
        zones += [{"instance_type": offer.instance_type, "region": offer.region,
                   "zone_id": z.zone_id, "zone_name": z.zone_name,
                   "gpu_model": offer.gpu_model, "gpus": offer.gpus,
                   "spot_usd_per_hour": z.usd_per_hour,
                   "spot_usd_per_gpu_hour": z.usd_per_hour / (offer.gpus or 1),
                   "region_spot_usd_per_hour": median,
                   "vs_region": z.usd_per_hour / median if median else None}
                  for z in offer.spot_zones]
    zones.sort(key=lambda z: (z[ZONES_SORTED_BY], z["instance_type"], z["region"],
                              z["zone_id"]))
    return zones, without


def _render_zones(zones: list[dict[str, Any]], without: list[str], env: Env) -> None:
    """The zone rows in 80 columns, and which offers shown have no zone prices."""
    table = _table(caption="USD per instance-hour, Linux: each zone's spot price snapshot. "
                   "spot/GPU: per GPU-hour; x med: the zone's price over the region's spot "
                   "price (the median over its zones). Name cloud.zones by zone ID (use1-az1): "
                   "a zone name (us-east-1a) is a different zone in each AWS account.")
    for name in ("type", "region", "zone", "name", "GPUs", "spot", "spot/GPU", "x med"):
        table.add_column(name, justify="right" if name in ("spot", "spot/GPU", "x med")
                         else "left", overflow="fold")
    for z in zones:
        ratio = z["vs_region"]
        table.add_row(z["instance_type"], z["region"], z["zone_id"], z["zone_name"] or "-",
                      str(z["gpus"]), usd(z["spot_usd_per_hour"]),
                      usd(z["spot_usd_per_gpu_hour"]), "-" if ratio is None else f"{ratio:.2f}")
    env.console.print(table)
    if without:
        env.console.print("No zone prices in the file (only the region's spot price) for: "
                          f"{', '.join(without)}.", highlight=False, soft_wrap=True)


def _table(**fields: Any) -> Table:
    """A compact table: a rule under the header, one space between columns."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=0,
                 title_justify="left", caption_justify="left", **fields)


def _render_table(rows: list[dict[str, Any]], env: Env) -> None:
    """The rows in 80 columns: short headers, units in the caption (json and csv have every
    column at full precision)."""
    table = _table(caption="USD per instance-hour, Linux. od: on demand; od/GPU: on demand per "
                  "GPU-hour; spot: the median over the region's zones; min: the cheapest zone; "
                  "azs: zones with a spot price (--zones lists them). int/h: spot "
                  "interruptions per instance-hour.")
    for name in ("type", "region", "GPUs", "od", "od/GPU", "spot", "min", "azs", "int/h"):
        table.add_column(name, justify="left" if name in ("type", "region", "GPUs") else "right",
                         overflow="fold")
    for r in rows:
        rate = r["spot_interruptions_per_hour"]
        table.add_row(r["instance_type"], r["region"], f"{r['gpus']}x {r['gpu_model']}",
                      usd(r["on_demand_usd_per_hour"]), usd(r["on_demand_usd_per_gpu_hour"]),
                      usd(r["spot_usd_per_hour"]), usd(r["spot_usd_per_hour_min"]),
                      str(r["spot_azs"] or "-"), "-" if rate is None else f"{rate:.4f}")
    env.console.print(table)


FamilyOption = Annotated[list[str] | None, typer.Option(
    "--family", metavar="FAMILY", help="Only these families (p3, g5 ...); repeat or "
    "comma-separate.")]
RegionsShownOption = Annotated[list[str] | None, typer.Option(
    "--region", metavar="REGION", help="Only these regions; repeat or comma-separate.")]
GpuOption = Annotated[list[str] | None, typer.Option(
    "--gpu", metavar="GPU", help="Only these GPU models, or a prefix ending at a dash (V100).")]
ZonesOption = Annotated[bool, typer.Option(
    "--zones", help="One row per availability zone's spot price, cheapest spot GPU-hour "
    "first: the zone IDs to write in cloud.zones.")]
PriceFormatOption = Annotated[PriceFormat, typer.Option(
    "--format", help="table, json or csv (a price file; with --zones, the zone rows).")]
PricesOption = Annotated[Path | None, typer.Option(
    "--prices", help="The price file to show (default: the refreshed user file when there is "
    "one, else the shipped snapshot).")]


@guarded
def show(
    ctx: typer.Context,
    family: FamilyOption = None,
    region: RegionsShownOption = None,
    gpu: GpuOption = None,
    zones: ZonesOption = False,
    fmt: PriceFormatOption = PriceFormat.TABLE,
    prices: PricesOption = None,
) -> None:
    """Show the price table in use, its snapshot date and source, cheapest first.

    Example: costopt pricing show --family p3 --region us-east-1 --zones
    """
    from costopt.pricing.catalog import (
        REQUIRED_INSTANCE_COLUMNS,
        default_price_file,
        load_catalog,
        read_checked_csv,
    )

    env = get_env(ctx)
    path = prices or default_price_file()
    catalog = load_catalog(path)
    records = read_checked_csv(path, REQUIRED_INSTANCE_COLUMNS)
    rows = _select(records, path, _split(family, lower=True), _split(region, lower=True),
                   _split(gpu))
    shown = {(r["instance_type"], r["region"]) for r in rows}
    stale = catalog.staleness_warning(
        env.clock().date(), [o for o in catalog.offers if (o.instance_type, o.region) in shown],
        "shown")
    env.warn_stale(stale, catalog.source)
    head = {"price_file": str(path), "price_date": min(r["price_date"] for r in rows),
            "sources": sorted({r["source"].split(";")[0].strip() for r in rows})}
    if zones:
        _show_zones(rows, catalog, fmt, env, head)
    else:
        _show_offers(rows, catalog, fmt, env, head)


def _show_offers(rows: list[dict[str, Any]], catalog: PriceCatalog, fmt: str, env: Env,
                 head: dict[str, Any]) -> None:
    """``pricing show`` (an offer a row) in the format asked."""
    from costopt.pricing.refresh import write_price_rows

    if fmt == "json":
        env.console.print_json(json.dumps({**head, "sorted_by": SORTED_BY,
                                           "offers": _with_zones(rows, catalog)}))
    elif fmt == "csv":
        buffer = io.StringIO()
        write_price_rows(rows, buffer)
        env.console.out(buffer.getvalue(), end="", highlight=False)
    else:
        dates = sorted({r["price_date"] for r in rows})
        env.console.print(
            f"[bold]Prices from {head['price_file']}[/bold]: {len(rows)} offer(s), cheapest "
            f"on-demand GPU-hour first; prices of {', '.join(dates)}; source: "
            f"{' | '.join(head['sources'])}", highlight=False, soft_wrap=True)
        _render_table(rows, env)


def _show_zones(rows: list[dict[str, Any]], catalog: PriceCatalog, fmt: str, env: Env,
                head: dict[str, Any]) -> None:
    """``pricing show --zones`` in the format asked."""
    zone_rows, without = _zone_rows(rows, catalog)
    if fmt == "json":
        env.console.print_json(json.dumps({**head, "sorted_by": ZONES_SORTED_BY,
                                           "zones": zone_rows, "without_zone_prices": without}))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=ZONE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(zone_rows)
        env.console.out(buffer.getvalue(), end="", highlight=False)
    else:
        env.console.print(
            f"[bold]Zone spot prices from {head['price_file']}[/bold]: {len(zone_rows)} zone "
            f"price(s) of {len(rows) - len(without)} offer(s), cheapest spot GPU-hour first; "
            f"prices of {', '.join(sorted({r['price_date'] for r in rows}))}; source: "
            f"{' | '.join(head['sources'])}",
            highlight=False, soft_wrap=True)
        _render_zones(zone_rows, without, env)


def _current_offers(env: Env) -> tuple[InstanceOffer, ...]:
    """The offers of the table in use, whose regions a refresh fetches by default and whose
    Spot Advisor bands it keeps (AWS has no API for the bands); the shipped snapshot's when
    the table in use is unreadable."""
    from costopt.pricing.catalog import default_price_file, load_offers, shipped_data_dir

    try:
        return load_offers(default_price_file())
    except PricingDataError as exc:
        env.warn(f"{exc}\nUsing the regions and bands of the shipped snapshot instead.")
        return load_offers(shipped_data_dir() / "instances.csv")


def _summary(result: RefreshResult, env: Env) -> None:
    from costopt.pricing.catalog import format_number

    table = _table(title="Refreshed")
    for name in ("region", "types", "with spot", "left out"):
        table.add_column(name, justify="left" if name == "region" else "right")
    for r in result.regions:
        table.add_row(r.region, str(len(r.rows)), str(sum(1 for x in r.rows
                                                          if x["spot_usd_per_hour"])),
                      str(len(r.notes)))
    env.console.print(table)
    if env.verbose:
        spot = _table(title="USD per instance-hour: on demand; spot now (the median over "
                      "zones, the price file's figure); the median of the zones' 7-day medians")
        for name in ("type", "region", "on-demand", "spot now", "spot 7-day median"):
            spot.add_column(name, justify="left" if name in ("type", "region") else "right")
        for r in result.regions:
            for row in r.rows:
                spot.add_row(row["instance_type"], r.region, row["on_demand_usd_per_hour"],
                             row["spot_usd_per_hour"] or "-",
                             format_number(r.spot_7d[row["instance_type"]])
                             if row["instance_type"] in r.spot_7d else "-")
        env.console.print(spot)
        for r in result.regions:
            for note in r.notes:
                env.console.print(f"  {r.region}: {note}", highlight=False, soft_wrap=True)


RegionsOption = Annotated[list[str] | None, typer.Option(
    "--regions", metavar="REGION,...", help="Regions to refresh; repeat or comma-separate "
    "(default: the workload's cloud.regions with --workload, else the global --region, else "
    "the regions of the table in use).")]
RefreshWorkloadOption = Annotated[Path | None, typer.Option(
    "--workload", metavar="WORKLOAD.yaml", help="Refresh the regions this workload names "
    "(cloud.regions).")]
FamiliesOption = Annotated[list[str] | None, typer.Option(
    "--families", metavar="FAMILY,...", help="Instance families; repeat or comma-separate "
    "(default: p2 p3 p3dn p4d p4de p5 g4dn g4ad g5 g6).")]
PriceOutputOption = Annotated[Path | None, typer.Option(
    "-o", "--output", help="The price file to write (default: "
    "~/.local/share/costopt/prices.csv, which plan then uses).")]


@guarded
def refresh(
    ctx: typer.Context,
    regions: RegionsOption = None,
    workload_file: RefreshWorkloadOption = None,
    families: FamiliesOption = None,
    output: PriceOutputOption = None,
) -> None:
    """Fetch current AWS prices into a price file (the shipped snapshot's columns and units).

    On demand: the AWS Price List API. Spot: each zone's latest price (7 days of history),
    written per zone under its zone ID (and this account's zone name), and as the region's
    median and cheapest zone.

    Rows of regions and families not fetched this time stay as they are in the file.

    Needs pricing:GetProducts, ec2:DescribeSpotPriceHistory, ec2:DescribeInstanceTypes,
    ec2:DescribeAvailabilityZones.

    Example: costopt pricing refresh --regions us-east-1,us-west-2 --families p3,g5
    """
    from costopt.pricing import refresh as core
    from costopt.pricing.catalog import REQUIRED_INSTANCE_COLUMNS, read_checked_csv, user_price_file

    env = get_env(ctx)
    target = output or user_price_file()
    existing = (read_checked_csv(target, REQUIRED_INSTANCE_COLUMNS)
                if target.is_file() else [])
    result = _fetched(env, regions, workload_file, families)
    if not result.rows:
        failed = " ".join(failure_lines(result.failures))
        why = f"Failed: {failed}" if failed else "No rows for the families asked."
        raise AwsError(f"no prices fetched, {target} left as it is. {why} To fix: check the "
                       "credentials, the permissions pricing:GetProducts, "
                       "ec2:DescribeInstanceTypes, ec2:DescribeSpotPriceHistory and "
                       "ec2:DescribeAvailabilityZones, and the region and family names.")
    rows = core.merge_rows(existing, result)
    core.write_price_file(rows, target)
    _say_refreshed(result, len(rows), target, env)


def _say_refreshed(result: RefreshResult, written: int, target: Path, env: Env) -> None:
    """What a refresh wrote (``written`` rows to ``target``); the regions that failed, with
    exit 1."""
    from costopt.pricing.catalog import user_price_file

    _summary(result, env)
    used = " `costopt plan` uses it by default." if target == user_price_file() else (
        f" Use it with `cloud: {{pricing: {target}}}` or `costopt pricing show --prices "
        f"{target}`.")
    env.console.print(f"Wrote {written} row(s) to {target} ({len(result.rows)} refreshed in "
                      f"{len(result.regions)} region(s), prices of {env.clock().date()}).{used}",
                      highlight=False, soft_wrap=True)
    if result.failures:
        for line in failure_lines(result.failures):
            env.err.print(f"[red]failed:[/red] {line}", highlight=False, soft_wrap=True)
        env.err.print(f"{len(result.failures)} region(s) failed and kept their previous rows "
                      f"in {target}, if any. To fix: run again with --regions "
                      f"{','.join(result.failures)}.", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.USER_ERROR)


def _fetched(env: Env, regions: list[str] | None, workload_file: Path | None,
             families: list[str] | None) -> Any:
    """The prices fetched from AWS (``RefreshResult``) for the regions and families asked
    (defaults: the workload's regions, else ``--region``, else those of the table in use;
    the default families), a progress bar on stderr meanwhile. The interruption bands of
    the table in use are kept."""
    from rich.progress import Progress

    from costopt.aws import Clients
    from costopt.pricing import refresh as core
    from costopt.pricing.catalog import load_gpu_table, shipped_data_dir

    current = _current_offers(env)
    bands = {(o.instance_type, o.region): o.interruption_band
             for o in current if o.interruption_band}
    wanted_regions = (_split(regions, lower=True) or _workload_regions(workload_file)
                      or ([env.region] if env.region else sorted({o.region for o in current})))
    wanted_families = _split(families, lower=True) or list(core.DEFAULT_FAMILIES)
    gpu_memory = {k: g.memory_gb for k, g in
                  load_gpu_table(shipped_data_dir() / "gpus.csv").items()}
    with Progress(console=env.err, transient=True) as progress:
        task = progress.add_task("Fetching prices", total=len(wanted_regions))
        return core.refresh(
            wanted_regions, clients=Clients(env.boto3_session()), families=set(wanted_families),
            now=env.clock(), bands=bands, gpu_memory_gb=gpu_memory,
            on_region=lambda region: progress.update(task, advance=1,
                                                     description=f"{region} done"))


FAILURE_CHARS = 160
"""Most characters of one failure's message shown (an HTML error page is cut, with "...")."""


def failure_lines(failures: dict[str, str]) -> list[str]:
    """One line per kind of failure (the message with its region's name taken out), naming
    the regions it hit: ``23 regions (af-south-1, ...): 500: <!doctype html>...``."""
    kinds: dict[str, list[str]] = {}
    for region, message in failures.items():
        text = " ".join(message.replace(region, "REGION").split())
        if len(text) > FAILURE_CHARS:
            text = text[:FAILURE_CHARS].rsplit(" ", 1)[0] + " ..."
        kinds.setdefault(text, []).append(region)
    return [f"{len(where)} region{'s' if len(where) > 1 else ''} ({', '.join(where)}): {text}"
            for text, where in kinds.items()]


def _workload_regions(workload_file: Path | None) -> list[str]:
    """The regions a workload's ``cloud.regions`` names ([] without one)."""
    if workload_file is None:
        return []
    from costopt.workload_checks import load_workload

    cloud = load_workload(workload_file).cloud
    return list(cloud.regions or []) if cloud else []
