"""Buy or rent: owning a GPU server against renting the same work on AWS, month by month.

Both sides are compared on the same work, in reference GPU-hours (V100 = 1.0, the GPU
table's relative training speed). At utilisation ``U`` (the share of the month's 730 hours
the server does work):

- work a month: ``W(U) = gpus * speed_owned * 730 * U`` reference GPU-hours;
- owning costs ``F + A * U`` USD a month: the fixed part ``F`` (amortisation
  ``purchase / lifetime months``, idle energy, ops; the planner's ``fixed_usd`` over 730 h)
  and active energy ``A * U = (power - idle) / 1000 * 730 * U * $/kWh * PUE`` (the
  planner's ``energy_usd_per_gpu_hour`` times GPU-hours);
- renting costs ``R * U`` USD a month: ``W(U) / (instance GPUs * instance speed * e)``
  instance-hours times USD per instance-hour, with ``e`` the spot efficiency (1 on demand).

Break-even utilisation ``U* = F / (R - A)``: owning is cheaper above it. It does not exist
("never") when renting costs no more than the owned server's energy (``R <= A``) or when
``U*`` is above the share of hours the server can work (its availability, 1.0 by default).

At ``U`` the purchase pays back in ``purchase / (R*U - running(U))`` months, ``running``
being what owning costs a month besides the purchase (idle and active energy, ops); the
saving over the lifetime is ``(R*U - (F + A*U)) * lifetime months`` (negative: a loss).
All money is USD; months are 730 hours.
"""

from __future__ import annotations

from dataclasses import dataclass

from costopt.core.near import did_you_mean
from costopt.costs import (
    HOURS_PER_MONTH,
    amortisation_usd,
    energy_usd_per_gpu_hour,
    fixed_usd,
    idle_energy_usd,
    ops_usd,
    servers_of,
)
from costopt.errors import CostoptError
from costopt.plan.pools import spot_efficiency
from costopt.pricing.catalog import InstanceOffer, PriceCatalog
from costopt.workload import MARKETS, CloudSpec, Market, ServerSpec

MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class OwnedSide:
    """A server one owns or could buy (``count`` of them for an owned entry, else one), its
    GPU's relative speed and the power price.

    ``speed`` is reference GPU-hours of work per GPU-hour; ``usd_per_kwh`` and ``pue`` as in
    the workload's ``owned`` section.
    """

    server: ServerSpec
    gpu_model: str
    speed: float
    usd_per_kwh: float
    pue: float

    @property
    def count(self) -> int:
        """Servers compared: an owned entry's ``count``, one for a candidate or build."""
        return servers_of(self.server)

    @property
    def gpus(self) -> int:
        """GPUs of all ``count`` servers."""
        return self.server.gpus * self.count

    @property
    def purchase_usd(self) -> float:
        return self.server.purchase_usd * self.count

    @property
    def lifetime_months(self) -> float:
        return self.server.lifetime_years * MONTHS_PER_YEAR

    @property
    def max_utilization(self) -> float:
        """The share of hours the server can take work (its ``availability``)."""
        return self.server.availability

    @property
    def amortisation_usd_per_month(self) -> float:
        return self.count * amortisation_usd(self.server, HOURS_PER_MONTH)

    @property
    def idle_energy_usd_per_month(self) -> float:
        return self.count * idle_energy_usd(self.server, self.usd_per_kwh, self.pue,
                                            HOURS_PER_MONTH)

    @property
    def ops_usd_per_month(self) -> float:
        return self.count * ops_usd(self.server, HOURS_PER_MONTH)

    @property
    def fixed_usd_per_month(self) -> float:
        """Amortisation + idle energy + ops: what a month costs whether used or not."""
        return fixed_usd(self.server, self.usd_per_kwh, self.pue, HOURS_PER_MONTH)

    @property
    def energy_usd_per_gpu_hour(self) -> float:
        """Energy above idle per GPU-hour of work."""
        return energy_usd_per_gpu_hour(self.server, self.usd_per_kwh, self.pue)

    def work_gpu_hours(self, utilization: float) -> float:
        """Work done in a month at ``utilization``, in reference GPU-hours."""
        return self.gpus * self.speed * HOURS_PER_MONTH * utilization

    def active_energy_usd(self, utilization: float) -> float:
        """Energy above idle in a month at ``utilization``."""
        return self.energy_usd_per_gpu_hour * self.gpus * HOURS_PER_MONTH * utilization

    def running_usd(self, utilization: float) -> float:
        """A month's cost besides the purchase: idle and active energy, ops."""
        return (self.idle_energy_usd_per_month + self.ops_usd_per_month
                + self.active_energy_usd(utilization))

    def total_usd(self, utilization: float) -> float:
        """A month's cost of owning: amortisation + idle energy + ops + active energy."""
        return self.fixed_usd_per_month + self.active_energy_usd(utilization)


@dataclass(frozen=True)
class RentedSide:
    """One AWS instance type in one region and market, as a way to do the same work.

    ``usd_per_hour`` is per instance-hour; ``efficiency`` the useful share of spot time
    (1.0 on demand); ``price_source`` is ``table`` or ``override`` (the workload's).
    """

    instance_type: str
    region: str
    market: Market
    gpu_model: str
    gpus: int
    speed: float
    usd_per_hour: float
    efficiency: float
    price_source: str

    @property
    def work_per_instance_hour(self) -> float:
        """Reference GPU-hours of work one instance-hour does."""
        return self.gpus * self.speed * self.efficiency

    def instance_hours(self, work_gpu_hours: float) -> float:
        return work_gpu_hours / self.work_per_instance_hour

    def usd(self, work_gpu_hours: float) -> float:
        return self.instance_hours(work_gpu_hours) * self.usd_per_hour


@dataclass(frozen=True)
class MarketVerdict:
    """Owning against renting in one market, at the compared utilisation."""

    rented: RentedSide
    breakeven_utilization: float | None  # None: owning never beats renting in [0, max]
    instance_hours_per_month: float
    rent_usd_per_month: float
    payback_months: float | None  # None: the purchase never pays back at this utilisation
    lifetime_saving_usd: float  # renting minus owning over the lifetime; < 0: owning loses


@dataclass(frozen=True)
class BuyOrRent:
    """The whole comparison at ``utilization``: owning, and each market of the instance."""

    owned: OwnedSide
    utilization: float
    markets: dict[Market, MarketVerdict]

    @property
    def work_gpu_hours_per_month(self) -> float:
        return self.owned.work_gpu_hours(self.utilization)

    @property
    def owned_usd_per_month(self) -> float:
        return self.owned.total_usd(self.utilization)


def rent_usd_per_month(owned: OwnedSide, rented: RentedSide, utilization: float) -> float:
    """What renting the owned server's work at ``utilization`` costs a month."""
    return rented.usd(owned.work_gpu_hours(utilization))


def breakeven_utilization(owned: OwnedSide, rented: RentedSide) -> float | None:
    """``U*`` where owning costs what renting does: ``F / (R - A)``, or None if no crossing
    in ``[0, max_utilization]``."""
    rent_slope = rent_usd_per_month(owned, rented, 1.0)
    energy_slope = owned.active_energy_usd(1.0)
    if rent_slope <= energy_slope:
        return None
    crossing = owned.fixed_usd_per_month / (rent_slope - energy_slope)
    return crossing if crossing <= owned.max_utilization else None


def payback_months(owned: OwnedSide, rented: RentedSide, utilization: float) -> float | None:
    """Months until the purchase is paid back by renting's cost less owning's running cost
    at ``utilization``; None if renting costs no more than running the server."""
    margin = rent_usd_per_month(owned, rented, utilization) - owned.running_usd(utilization)
    if owned.purchase_usd == 0:
        return 0.0
    return owned.purchase_usd / margin if margin > 0 else None


def lifetime_saving_usd(owned: OwnedSide, rented: RentedSide, utilization: float) -> float:
    """Renting minus owning over the server's lifetime at ``utilization`` (USD)."""
    monthly = rent_usd_per_month(owned, rented, utilization) - owned.total_usd(utilization)
    return monthly * owned.lifetime_months


def compare(owned: OwnedSide, rentals: dict[Market, RentedSide],
            utilization: float) -> BuyOrRent:
    """Owning against each rental market at ``utilization`` (a share of 730 hours)."""
    if not 0 <= utilization <= owned.max_utilization:
        raise CostoptError(
            f"utilisation {utilization:g} is outside [0, {owned.max_utilization:g}] (the "
            f"server {owned.server.name} can take work {owned.max_utilization:.0%} of hours); "
            f"To fix: --utilization between 0 and {owned.max_utilization:g}")
    work = owned.work_gpu_hours(utilization)
    markets = {
        market: MarketVerdict(
            rented=rented,
            breakeven_utilization=breakeven_utilization(owned, rented),
            instance_hours_per_month=rented.instance_hours(work),
            rent_usd_per_month=rented.usd(work),
            payback_months=payback_months(owned, rented, utilization),
            lifetime_saving_usd=lifetime_saving_usd(owned, rented, utilization),
        )
        for market, rented in rentals.items()
    }
    return BuyOrRent(owned=owned, utilization=utilization, markets=markets)


def owned_side(server: ServerSpec, catalog: PriceCatalog, usd_per_kwh: float,
               pue: float) -> OwnedSide:
    """The owned side of a comparison, its GPU's speed from the GPU table."""
    gpu = catalog.gpu(server.gpu)
    if gpu is None or gpu.relative_speed <= 0:
        known = ", ".join(sorted(g.name for g in catalog.gpus.values()))
        why = "is not in the GPU table" if gpu is None else "has no relative speed"
        raise CostoptError(
            f"server {server.name}: GPU model {server.gpu!r} {why}, so its work cannot be "
            f"compared. To fix: a GPU model of the GPU table ({known})")
    return OwnedSide(server=server, gpu_model=gpu.name, speed=gpu.relative_speed,
                     usd_per_kwh=usd_per_kwh, pue=pue)


def rentals(catalog: PriceCatalog, instance_type: str, region: str, *,
            cloud: CloudSpec | None = None,
            checkpoint_minutes: float = 60.0) -> dict[Market, RentedSide]:
    """The instance type's on-demand and (where priced) spot offers in ``region``.

    A workload's ``cloud`` section, if given, contributes its price overrides, spot
    interruption rates and restart minutes, as it does for the planner. Spot efficiency
    uses ``checkpoint_minutes`` (the job default, 60, unless told).
    """
    spec = cloud or CloudSpec()
    overrides = {o.market: o.usd_per_hour for o in spec.price_overrides
                 if (o.instance_type, o.region) == (instance_type, region)}
    offer = catalog.offer(instance_type, region)
    if offer is None and overrides:
        offer = catalog.any_offer(instance_type)
    if offer is None:
        raise CostoptError(_no_offer(catalog, instance_type, region))
    gpu = catalog.gpu(offer.gpu_model)
    if gpu is None or gpu.relative_speed <= 0:
        raise CostoptError(
            f"{instance_type}: its GPU model {offer.gpu_model!r} has no relative speed in the "
            "GPU table. To fix: compare against an instance type with a known GPU model")
    local = catalog.offer(instance_type, region)
    rate = next((r.rate for r in spec.spot_interruptions_per_hour
                 if (r.instance_type, r.region) == (instance_type, region)),
                (local.spot_interruptions_per_hour if local else None) or 0.0)
    prices: dict[Market, float | None] = {
        "on_demand": local.on_demand_usd_per_hour if local else None,
        "spot": local.spot_usd_per_hour if local else None,
    }
    out: dict[Market, RentedSide] = {}
    for market in MARKETS:
        price = overrides.get(market, prices[market])
        if price is None:
            continue
        eff = 1.0
        if market == "spot":
            eff = spot_efficiency(rate, checkpoint_minutes, spec.spot_restart_minutes)
            if eff <= 0:
                continue
        out[market] = RentedSide(
            instance_type=instance_type, region=region, market=market,
            gpu_model=gpu.name, gpus=offer.gpus, speed=gpu.relative_speed,
            usd_per_hour=price, efficiency=eff,
            price_source="override" if market in overrides else "table")
    return out


def _no_offer(catalog: PriceCatalog, instance_type: str, region: str) -> str:
    offers: list[InstanceOffer] = [o for o in catalog.offers if o.instance_type == instance_type]
    if not offers:
        hint = did_you_mean(instance_type, catalog.instance_types)
        return (f"unknown instance type {instance_type!r} in {catalog.source}.{hint} To fix: "
                "an instance type of `costopt pricing show`")
    regions = ", ".join(sorted(o.region for o in offers))
    return (f"{instance_type} has no price in {region} in {catalog.source}; it is priced in "
            f"{regions}. To fix: --region one of those")


def to_document(result: BuyOrRent, market: Market) -> dict[str, object]:
    """The comparison as JSON-ready data (``costopt.breakeven/v1``); ``market`` is the
    headline market whose figures also appear at the top level. Full precision: round
    when showing, not here."""
    owned, u = result.owned, result.utilization
    s = owned.server
    head = result.markets[market]
    return {
        "schema": "costopt.breakeven/v1",
        "server": {"name": s.name, "gpu": owned.gpu_model, "gpus": s.gpus, "count": owned.count,
                   "speed": owned.speed, "purchase_usd": s.purchase_usd,
                   "lifetime_years": s.lifetime_years, "power_watts": s.power_watts,
                   "idle_watts": s.idle_watts, "availability": s.availability,
                   "ops_usd_per_month": s.ops_usd_per_month},
        "electricity_usd_per_kwh": owned.usd_per_kwh,
        "pue": owned.pue,
        "utilization": u,
        "market": market,
        "breakeven_utilization": head.breakeven_utilization,
        "payback_months": head.payback_months,
        "lifetime_months": owned.lifetime_months,
        "lifetime_saving_usd": head.lifetime_saving_usd,
        "work_gpu_hours_per_month": result.work_gpu_hours_per_month,
        "owned_usd_per_month": {
            "amortisation": owned.amortisation_usd_per_month,
            "idle_energy": owned.idle_energy_usd_per_month,
            "ops": owned.ops_usd_per_month,
            "active_energy": owned.active_energy_usd(u),
            "running": owned.running_usd(u),
            "total": owned.total_usd(u),
        },
        "rent": {
            m: {"instance_type": v.rented.instance_type, "region": v.rented.region,
                "gpu": v.rented.gpu_model, "gpus": v.rented.gpus, "speed": v.rented.speed,
                "usd_per_hour": v.rented.usd_per_hour, "price_source": v.rented.price_source,
                "efficiency": v.rented.efficiency,
                "instance_hours_per_month": v.instance_hours_per_month,
                "usd_per_month": v.rent_usd_per_month,
                "breakeven_utilization": v.breakeven_utilization,
                "payback_months": v.payback_months,
                "lifetime_saving_usd": v.lifetime_saving_usd}
            for m, v in result.markets.items()
        },
    }
