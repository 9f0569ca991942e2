"""``costopt breakeven``: when owning a GPU server beats renting its cloud equivalent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from costopt.cli.common import Env, MarketName, OutputFormat, get_env, guarded
from costopt.core.money import usd
from costopt.core.pool_ids import market_label

if TYPE_CHECKING:
    from datetime import date

    from costopt.buy.breakeven import BuyOrRent, OwnedSide, RentedSide
    from costopt.pricing.catalog import PriceCatalog
    from costopt.workload import Market, ServerSpec, Workload



def register(app: typer.Typer) -> None:
    app.command("breakeven")(breakeven)


ServerArgument = Annotated[str, typer.Argument(
    help="A server of pricing_data/servers.csv (e.g. used-4x-v100-sxm2), or with --workload "
    "one of its owned servers or purchase candidates.", metavar="SERVER")]
VsOption = Annotated[str, typer.Option(
    "--vs", help="The AWS instance type to rent instead, e.g. p3.8xlarge.",
    metavar="INSTANCE_TYPE")]
RegionOption = Annotated[str | None, typer.Option(
    metavar="REGION", help="AWS region of the instance's prices. Default: the global "
    "--region, else us-east-1.")]
MarketOption = Annotated[MarketName, typer.Option(
    "--market", help="The market the verdict is about (both are shown).")]
ElectricityOption = Annotated[float | None, typer.Option(
    min=0, help="USD per kWh. Default: the workload's, else 0.15.")]
PueOption = Annotated[float | None, typer.Option(
    min=1.0, max=3.0, help="Power usage effectiveness. Default: the workload's, else 1.0.")]
UtilizationOption = Annotated[float, typer.Option(
    min=0.0, max=1.0, help="Share of the month's 730 hours the server does work.")]
WorkloadOption = Annotated[Path | None, typer.Option(
    "--workload", help="A workload file: SERVER is one of its owned servers or candidates; "
    "its electricity, PUE, price file and cloud overrides apply.", metavar="FILE")]
OpsOption = Annotated[float | None, typer.Option(
    min=0, help="Colocation and admin per server and month (default: the server's own, 0 for "
    "catalog builds).")]
CheckpointOption = Annotated[float, typer.Option(
    min=0, help="Checkpoint interval of the work, for spot's lost time.")]
ChartOption = Annotated[Path | None, typer.Option(
    help="Write the chart (PNG) here: monthly cost against utilisation, and cumulative cost "
    "over the lifetime.", metavar="PATH.png")]
FormatOption = Annotated[OutputFormat, typer.Option(
    "--format", help="table (for people) or json (errors as JSON on stderr).")]


@guarded
def breakeven(
    ctx: typer.Context,
    server: ServerArgument,
    vs: VsOption,
    region: RegionOption = None,
    market_choice: MarketOption = MarketName.ON_DEMAND,
    electricity: ElectricityOption = None,
    pue: PueOption = None,
    utilization: UtilizationOption = 0.6,
    workload_file: WorkloadOption = None,
    ops_usd_per_month: OpsOption = None,
    checkpoint_minutes: CheckpointOption = 60.0,
    chart: ChartOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Buy or rent: the utilisation above which owning SERVER beats renting INSTANCE_TYPE
    for the same work, and at --utilization the monthly costs, the months to pay back the
    purchase and the saving over its lifetime.

    Example: costopt breakeven used-4x-v100-sxm2 --vs p3.8xlarge --utilization 0.5 --chart buy.png
    """
    from costopt.buy.breakeven import compare

    env = get_env(ctx)
    market: Market = market_choice.value  # type: ignore[assignment]
    owned_server, kwh, default_pue, workload = _server(server, workload_file)
    if ops_usd_per_month is not None:
        owned_server = owned_server.model_copy(update={"ops_usd_per_month": ops_usd_per_month})
    where = region or env.region or "us-east-1"
    catalog = _catalog(workload, vs, where, env)
    owned, offers = _sides(owned_server, catalog, (kwh if electricity is None else electricity,
                                                   default_pue if pue is None else pue),
                           (vs, where, market), workload, checkpoint_minutes)
    result = compare(owned, offers, utilization)
    if chart is not None:
        from costopt.buy.chart import write_chart

        write_chart(result, chart, market)
    _show(result, market, catalog.source, catalog.price_date_for([vs], [where]), chart,
          fmt, env)


def _catalog(workload: Workload | None, vs: str, where: str, env: Env) -> PriceCatalog:
    """The price catalog (the workload's, else the default), its staleness warned for the
    prices compared (``vs`` in ``where``)."""
    from costopt.pricing.catalog import load_catalog
    from costopt.workload_checks import catalog_for

    catalog = catalog_for(workload) if workload else load_catalog()
    stale = catalog.staleness_warning(env.clock().date(), catalog.offers_for([vs], [where]),
                                      "compared")
    env.warn_stale(stale, catalog.source)
    return catalog


def _sides(owned_server: ServerSpec, catalog: PriceCatalog, energy: tuple[float, float],
           rented: tuple[str, str, Market], workload: Workload | None,
           checkpoint_minutes: float) -> tuple[OwnedSide, dict[Market, RentedSide]]:
    """The owned side (``energy``: USD per kWh and PUE) and the rented offers of ``rented``
    (instance type, region, the market asked about, which must have a price)."""
    from costopt.buy.breakeven import owned_side, rentals
    from costopt.errors import CostoptError

    vs, where, market = rented
    owned = owned_side(owned_server, catalog, *energy)
    offers = rentals(catalog, vs, where, cloud=workload.cloud if workload else None,
                     checkpoint_minutes=checkpoint_minutes)
    if market not in offers:
        raise CostoptError(f"{vs} has no {market_label(market)} price in {where} in "
                           f"{catalog.source}. To fix: --market on_demand, or another region")
    return owned, offers


def _show(result: BuyOrRent, market: Market, source: str, price_date: date,
          chart: Path | None, fmt: OutputFormat, env: Env) -> None:
    """The verdict as JSON or for people, with where the prices come from (``price_date``:
    of the prices compared, not the oldest of the file)."""
    from costopt.buy.breakeven import to_document

    if fmt == "json":
        doc = to_document(result, market)
        doc["prices"] = {"source": source, "price_date": price_date.isoformat()}
        doc["chart"] = str(chart) if chart else None
        env.console.print_json(json.dumps(doc))
        return
    _render(result, market, env)
    env.console.print(f"Prices: {source} ({price_date.isoformat()}).", highlight=False)
    if chart is not None:
        env.console.print(f"Chart written to [bold]{chart}[/bold].", highlight=False)


def _server(name: str, workload_file: Path | None
            ) -> tuple[ServerSpec, float, float, Workload | None]:
    """The owned server, the default electricity price and PUE, and the workload it comes
    from (its cloud section and GPU models apply)."""
    from costopt.buy.servers import find_by_name, load_servers, shipped_server_file
    from costopt.workload import OwnedSpec
    from costopt.workload_checks import load_workload

    if workload_file is None:
        defaults = OwnedSpec()
        build = find_by_name(load_servers(), name, str(shipped_server_file()),
                             "a name from the catalog, or --workload FILE with one of its "
                             "owned servers")
        return (build.owned_server(), defaults.electricity_usd_per_kwh, defaults.pue, None)
    workload = load_workload(workload_file)
    owned = workload.owned or OwnedSpec()
    entries: dict[str, ServerSpec] = {s.name: s for s in [*owned.servers, *owned.candidates]}
    found = find_by_name(entries, name, str(workload_file),
                         "the name of one of the workload's owned.servers or "
                         "owned.candidates, or leave out --workload to use the server catalog")
    return found, owned.electricity_usd_per_kwh, owned.pue, workload


def _share(value: float | None) -> str:
    return "never" if value is None else f"{value:.1%}"


def _months(value: float | None) -> str:
    return "never" if value is None else f"{value:,.1f}"


def _render(result: BuyOrRent, headline: Market, env: Env) -> None:
    """The comparison for people: what is compared, the monthly table, the verdict."""
    out = env.console
    owned, u = result.owned, result.utilization
    s = owned.server
    count = f"{owned.count} x " if owned.count > 1 else ""
    out.print(f"[bold]Buy[/bold] {count}{s.name}: {owned.gpus} x {owned.gpu_model} (speed "
              f"{owned.speed:.2f}), USD {usd(owned.purchase_usd)}, {s.lifetime_years:g}-year "
              f"life, {s.power_watts:,.0f} W at load, {s.idle_watts:,.0f} W idle; electricity "
              f"{owned.usd_per_kwh:.3f} USD/kWh x PUE {owned.pue:.2f}", highlight=False)
    first = next(iter(result.markets.values())).rented
    out.print(f"[bold]or rent[/bold] {first.instance_type} in {first.region}: {first.gpus} x "
              f"{first.gpu_model} (speed {first.speed:.2f})", highlight=False)
    out.print(f"Same work: {result.work_gpu_hours_per_month:,.1f} reference GPU-hours a month "
              f"at {u:.0%} utilisation ({owned.gpus} GPUs x speed {owned.speed:.2f} x 730 h x "
              f"{u:.0%})", highlight=False)
    out.print(_month_table(result))
    out.print(_verdict(result, headline), highlight=False)


def _month_table(result: BuyOrRent) -> Table:
    """A month at the utilisation asked, USD: the owned column and one per market rented."""
    owned, u = result.owned, result.utilization
    markets = list(result.markets.items())
    table = Table(title=f"A month at {u:.0%} utilisation (USD)", title_justify="left")
    table.add_column("")
    table.add_column("owned", justify="right")
    for m, _ in markets:
        table.add_column(f"rent {market_label(m)}", justify="right")
    blank = [""] * len(markets)
    table.add_row("USD per instance-hour", "",
                  *(f"{v.rented.usd_per_hour:,.3f}" for _, v in markets))
    table.add_row("useful share of instance time", "",
                  *(f"{v.rented.efficiency:.1%}" for _, v in markets))
    table.add_row("instance-hours", "", *(f"{v.instance_hours_per_month:,.1f}" for _, v in markets))
    table.add_row("amortisation", usd(owned.amortisation_usd_per_month), *blank)
    table.add_row("idle energy", usd(owned.idle_energy_usd_per_month), *blank)
    table.add_row("ops", usd(owned.ops_usd_per_month), *blank)
    table.add_row("active energy", usd(owned.active_energy_usd(u)), *blank)
    table.add_row("[bold]cost a month[/bold]", usd(owned.total_usd(u)),
                  *(usd(v.rent_usd_per_month) for _, v in markets))
    table.add_row("break-even utilisation", "", *(_share(v.breakeven_utilization)
                                                  for _, v in markets))
    table.add_row("months to pay back", "", *(_months(v.payback_months) for _, v in markets))
    table.add_row(f"saving over {owned.lifetime_months:g} months", "",
                  *(usd(v.lifetime_saving_usd) for _, v in markets))
    return table


def _verdict(result: BuyOrRent, headline: Market) -> str:
    owned, u = result.owned, result.utilization
    v = result.markets[headline]
    label = f"{v.rented.instance_type} {market_label(headline)}"
    life = f"{owned.lifetime_months:g}-month life"
    if v.breakeven_utilization is None:
        head = (f"Verdict against {label}: owning never breaks even (renting costs less at "
                f"every utilisation up to {owned.max_utilization:.0%}).")
    else:
        head = (f"Verdict against {label}: owning is cheaper above "
                f"{_share(v.breakeven_utilization)} utilisation.")
    if v.lifetime_saving_usd > 0:
        tail = (f" At {u:.0%} it pays back in {_months(v.payback_months)} months and saves "
                f"USD {usd(v.lifetime_saving_usd)} over its {life}.")
    else:
        paid = ("never pays back" if v.payback_months is None
                else f"would pay back only after {_months(v.payback_months)} months")
        tail = (f" At {u:.0%} renting is cheaper: owning {paid} and costs USD "
                f"{usd(-v.lifetime_saving_usd)} more over its {life}.")
    return head + tail

