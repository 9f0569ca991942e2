"""Pools, and which job may use which pool at what speed (``workload.md``, "The model").

A *pool* is capacity of one kind: an owned server entry (``owned:NAME``) or an AWS
(region, instance type, market) with a price (``aws:REGION:TYPE:MARKET``). For each job and
pool this module works out the speed ``s``, the spot efficiency ``e`` and the blocking factor
``b`` the LP needs. Pure: data in, data out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, TypeVar

from costopt.core.gangs import gangs_per_instance
from costopt.core.pool_ids import is_local_zone, parse_pool_id
from costopt.costs import energy_usd_per_gpu_hour, fixed_usd
from costopt.errors import FieldIssue, WorkloadError
from costopt.pricing.catalog import InstanceOffer, PriceCatalog
from costopt.workload import (
    CloudSpec,
    Job,
    Market,
    OwnedServer,
    Quota,
    ServerSpec,
    Workload,
    speed_for,
)


@dataclass(frozen=True)
class OwnedPool:
    """Identical servers: owned ones (``owned:NAME``, ``buy_max`` None) or candidates to buy
    (``buy:NAME``, up to ``buy_max``). Energy is USD per GPU-hour of work above idle;
    ``fixed_usd`` is amortisation + idle energy + ops over the whole horizon, for all the
    owned servers of the entry, or for one candidate server."""

    id: str
    server: ServerSpec
    gpu_model: str
    gpu_memory_gb: float
    energy_usd_per_gpu_hour: float
    fixed_usd: float
    buy_max: int | None = None

    market = "owned"

    @property
    def gpus_per_node(self) -> int:
        return self.server.gpus

    @property
    def nodes(self) -> int:
        """Servers in the pool: the owned count, or one unit of a candidate."""
        return self.server.count if isinstance(self.server, OwnedServer) else 1

    def capacity_gpu_hours(self, period_hours: int) -> float:
        """GPU-hours the pool (one unit, for a candidate) can take in one period
        (``count * gpus * P * availability``)."""
        s = self.server
        return self.nodes * s.gpus * period_hours * s.availability


@dataclass(frozen=True)
class CloudPool:
    """One AWS instance type in one region and market. Prices are USD per instance-hour."""

    id: str
    region: str
    instance_type: str
    market: Market
    gpu_model: str
    gpus_per_node: int
    gpu_memory_gb: float
    vcpus: int
    usd_per_hour: float
    on_demand_usd_per_hour: float
    interruptions_per_hour: float  # spot interruptions per instance-hour; 0 on demand
    max_instances: int | None
    price_source: str  # "table" or "override"
    zone: str | None = None  # spot: the zone ID (use1-az1); None on demand or no zone prices
    availability: float = 1.0  # share of time spot can be had (spec v2's a); 1 on demand
    availability_source: str = "assumed"  # "given" (cloud.spot_availability), "traces", "assumed"

    @property
    def quota_family(self) -> str:
        return self.instance_type[:1].upper()


@dataclass(frozen=True)
class ConcurrencyLimit:
    """A bound on what runs at once over several pools, per instant: a quota line (each
    instance weighs its vCPUs) or a spot ``max_instances`` line over a region's zones (each
    weighs 1). ``members`` pairs pool ids with their weight; ``bound`` is in ``unit``."""

    kind: Literal["quota", "max_instances"]
    name: str  # "us-east-1 on_demand P"
    members: tuple[tuple[str, float], ...]
    bound: float
    unit: str  # "vCPUs" or "instance(s)"

    def weight(self, pool_id: str) -> float | None:
        return self._weights.get(pool_id)

    @cached_property
    def _weights(self) -> dict[str, float]:
        """``members`` by pool id (the first weight of a pool listed twice)."""
        out: dict[str, float] = {}
        for pid, w in self.members:
            out.setdefault(pid, w)
        return out


@dataclass(frozen=True)
class OverQuota:
    """A pool left out because one instance exceeds its quota (vCPUs)."""

    pool: str
    vcpus: int
    quota: str
    quota_vcpus: float
    gpus_per_node: int

    def explain(self) -> str:
        return (f"{self.pool}: one instance has {self.vcpus} vCPUs, above the quota "
                f"{self.quota} of {self.quota_vcpus:g} vCPUs (running at once)")


Pool = OwnedPool | CloudPool


@dataclass(frozen=True)
class Eligible:
    """Job ``job`` (index) may run on pool ``pool`` (index into ``Pools.all``).

    ``speed`` is work per GPU-hour in reference GPU-hours; ``efficiency`` the share of
    spot time that is useful; ``blocking`` the share of a node's GPUs the job holds.
    """

    job: int
    pool: int
    speed: float
    efficiency: float
    blocking: float
    gangs_per_node: int = 1
    """Gangs of the job one node (instance) holds at once: a wall-time bound."""

    @property
    def work_per_gpu_hour(self) -> float:
        return self.speed * self.efficiency


@dataclass(frozen=True)
class Pools:
    """All pools of a workload: owned ones first, then cloud ones (sorted by id)."""

    owned: tuple[OwnedPool, ...]
    cloud: tuple[CloudPool, ...]
    limits: tuple[ConcurrencyLimit, ...] = ()
    over_quota: tuple[OverQuota, ...] = ()  # pools left out: one instance is over its quota
    over_bid: tuple[CloudPool, ...] = ()  # spot pools left out: priced above the spot bid

    @cached_property
    def all(self) -> tuple[Pool, ...]:
        """Owned pools, then cloud ones (made once: the model's builders index it per
        column)."""
        return (*self.owned, *self.cloud)

    def instance_bound(self, pool: CloudPool) -> int | None:
        """The most instances of ``pool`` at once: its ``max_instances`` and, for each limit
        over it, as many as the limit holds alone (``floor(bound / weight)``)."""
        bounds = [] if pool.max_instances is None else [pool.max_instances]
        for limit in self.limits:
            weight = limit.weight(pool.id)
            if weight:
                bounds.append(math.floor(limit.bound / weight + 1e-9))
        return min(bounds, default=None)


def owned_id(name: str) -> str:
    return f"owned:{name}"


def buy_id(name: str) -> str:
    """The pool id of a server one could buy."""
    return f"buy:{name}"


def cloud_id(region: str, instance_type: str, market: str, zone: str | None = None) -> str:
    """``aws:REGION:TYPE:MARKET``, and ``:ZONE_ID`` for a spot pool of one zone."""
    return f"aws:{region}:{instance_type}:{market}" + (f":{zone}" if zone else "")


def build_pools(workload: Workload, catalog: PriceCatalog) -> Pools:
    """Every pool the workload allows, with its prices and limits."""
    owned_spec = workload.owned
    owned: list[OwnedPool] = []
    if owned_spec is not None:
        kwh, pue = owned_spec.electricity_usd_per_kwh, owned_spec.pue
        entries: list[tuple[str, ServerSpec, int | None]] = [
            (owned_id(s.name), s, None) for s in owned_spec.servers]
        entries += [(buy_id(c.name), c, c.max_count) for c in owned_spec.candidates]
        for pool_id, server, buy_max in entries:
            gpu = catalog.gpu(server.gpu)
            if gpu is None:  # check_against_catalog reports it first
                raise WorkloadError("workload", [FieldIssue(f"{pool_id}.gpu", server.gpu,
                                                            "unknown GPU model")])
            owned.append(OwnedPool(
                id=pool_id,
                server=server,
                gpu_model=gpu.name,
                gpu_memory_gb=gpu.memory_gb,
                energy_usd_per_gpu_hour=energy_usd_per_gpu_hour(server, kwh, pue),
                fixed_usd=fixed_usd(server, kwh, pue, workload.horizon.hours),
                buy_max=buy_max,
            ))
    cloud = _cloud_pools(workload, catalog)
    limits = concurrency_limits(workload, catalog, cloud)
    over = [OverQuota(p.id, p.vcpus, lim.name, lim.bound, p.gpus_per_node) for lim in limits
            if lim.kind == "quota" for p in cloud if lim.weight(p.id) and p.vcpus > lim.bound]
    ratio = workload.cloud.spot_max_price_ratio if workload.cloud else 1.0
    over_bid = tuple(p for p in cloud if p.market == "spot"
                     and p.usd_per_hour > p.on_demand_usd_per_hour * ratio + 1e-9)
    out = {o.pool for o in over} | {p.id for p in over_bid}
    kept = tuple(p for p in cloud if p.id not in out)
    return Pools(owned=tuple(owned), cloud=kept,
                 limits=tuple(_without(lim, out) for lim in limits),
                 over_quota=tuple(over), over_bid=over_bid)


def _without(limit: ConcurrencyLimit, pool_ids: set[str]) -> ConcurrencyLimit:
    return replace(limit, members=tuple(m for m in limit.members if m[0] not in pool_ids))


Key = tuple[str, str, str, "str | None"]
"""(instance type, region, market, zone ID or None): what a cloud pool is."""


def _zone(catalog: PriceCatalog, region: str, az: str | None) -> str | None:
    """A zone named by ID or name as its ID (``check_against_catalog`` reports unknown ones)."""
    return None if az is None else catalog.zone_id(region, az)


def _allowed_zones(cloud: CloudSpec, catalog: PriceCatalog) -> Callable[[str], bool]:
    """Whether ``cloud.zones`` allows a zone ID: the zones it names; without it every zone
    but the Local Zones (``usw2-lax1-az1``), which an AWS account must opt in to first:
    they take ``cloud.local_zones: true`` or their names in ``zones``."""
    if cloud.zones is None:
        return lambda zone: cloud.local_zones or not is_local_zone(zone)
    named = {z for name in cloud.zones for region in catalog.regions
             if (z := catalog.zone_id(region, name)) is not None}
    return named.__contains__


def _table_prices(cloud: CloudSpec, catalog: PriceCatalog, wanted: Callable[..., bool],
                  zones: Callable[[str], bool]) -> dict[Key, tuple[InstanceOffer, float, str]]:
    """Pools the price table offers: on demand per region, spot per zone (per region for
    an offer without zone prices: an old price file)."""
    prices: dict[Key, tuple[InstanceOffer, float, str]] = {}
    for o in catalog.offers:
        t, r = o.instance_type, o.region
        if wanted(t, r, "on_demand"):
            prices[(t, r, "on_demand", None)] = (o, o.on_demand_usd_per_hour, "table")
        if not wanted(t, r, "spot"):
            continue
        if o.spot_zones:
            for z in o.spot_zones:
                if zones(z.zone_id):
                    prices[(t, r, "spot", z.zone_id)] = (o, z.usd_per_hour, "table")
        elif o.spot_usd_per_hour is not None:
            prices[(t, r, "spot", None)] = (o, o.spot_usd_per_hour, "table")
    return prices


def _override_prices(cloud: CloudSpec, catalog: PriceCatalog, wanted: Callable[..., bool],
                     zones: Callable[[str], bool],
                     prices: dict[Key, tuple[InstanceOffer, float, str]]) -> None:
    """Apply ``price_overrides``: a spot line without ``az`` sets every zone of the region
    (the zones the table has, else a regional pool); with ``az`` one zone. Lines with a
    zone go last, so they win over the region's."""
    for o in sorted(cloud.price_overrides, key=lambda o: o.az is not None):
        t, r, m = o.instance_type, o.region, o.market
        offer = catalog.offer(t, r) or catalog.any_offer(t)
        if offer is None or not wanted(t, r, m):
            continue
        if m == "on_demand":
            keys: list[Key] = [(t, r, m, None)]
        elif o.az is not None:
            zone = _zone(catalog, r, o.az)
            keys = [(t, r, m, zone)] if zone and zones(zone) else []
        else:
            local = catalog.offer(t, r)
            table_zones = [z.zone_id for z in local.spot_zones] if local else []
            keys = [(t, r, m, z) for z in table_zones if zones(z)] \
                if table_zones else [(t, r, m, None)]
        for key in keys:
            prices[key] = (offer, o.usd_per_hour, "override")


def _cloud_pools(workload: Workload, catalog: PriceCatalog) -> list[CloudPool]:
    cloud = workload.cloud
    if cloud is None:
        return []
    regions = set(cloud.regions) if cloud.regions else None
    types = set(cloud.instance_types) if cloud.instance_types else None
    markets = set(cloud.markets)
    on_demand_overrides = {(o.instance_type, o.region): o.usd_per_hour
                           for o in cloud.price_overrides if o.market == "on_demand"}
    rates = {(r.instance_type, r.region, _zone(catalog, r.region, r.az)): r.rate
             for r in cloud.spot_interruptions_per_hour}
    given = {(a.instance_type, a.region, _zone(catalog, a.region, a.az)): a.availability
             for a in cloud.spot_availability}
    manifest = cloud.spot_traces
    h = workload.horizon
    traced = _trace_stats(manifest, manifest.stat().st_mtime_ns if manifest.exists() else 0,
                          h.start, h.end) if manifest else {}
    caps = own_caps(cloud, catalog)

    def wanted(instance_type: str, region: str, market: str) -> bool:
        return (
            market in markets
            and (regions is None or region in regions)
            and (types is None or instance_type in types)
        )

    zones = _allowed_zones(cloud, catalog)
    prices = _table_prices(cloud, catalog, wanted, zones)
    _override_prices(cloud, catalog, wanted, zones, prices)

    pools = []
    for key, (offer, price, price_source) in sorted(prices.items(),
                                                    key=lambda kv: _sort_key(kv[0])):
        instance_type, region, market, zone = key
        local = catalog.offer(instance_type, region)
        on_demand = (local or offer).on_demand_usd_per_hour
        override_od = on_demand_overrides.get((instance_type, region))
        rate, availability, source = 0.0, 1.0, "assumed"
        if market == "spot":
            stats = for_zone(traced, instance_type, region, zone, lambda ar: ar[0])
            table_rate = stats[1] if stats else (
                (local.spot_interruptions_per_hour if local else None) or 0.0)
            rate = rates.get((instance_type, region, zone),
                             rates.get((instance_type, region, None), table_rate))
            line = for_zone(given, instance_type, region, zone, float)
            availability, source = (
                (stats[0], "traces") if stats else (line, "given") if line is not None
                else (cloud.spot_availability_default, "assumed"))
        pools.append(CloudPool(
            id=cloud_id(region, instance_type, market, zone),
            region=region,
            instance_type=instance_type,
            market=market,  # type: ignore[arg-type]
            gpu_model=offer.gpu_model,
            gpus_per_node=offer.gpus,
            gpu_memory_gb=offer.gpu_memory_gb,
            vcpus=offer.vcpus,
            usd_per_hour=price,
            on_demand_usd_per_hour=override_od if override_od is not None else on_demand,
            interruptions_per_hour=rate,
            max_instances=caps.get(key),
            price_source=price_source,
            zone=zone,
            availability=availability,
            availability_source=source,
        ))
    return pools


def _sort_key(key: Key) -> tuple[str, str, str, str]:
    instance_type, region, market, zone = key
    return (instance_type, region, market, zone or "")


def own_caps(cloud: CloudSpec, catalog: PriceCatalog) -> dict[Key, int]:
    """``max_instances`` lines that cap one pool: on demand, a spot line with ``az``, or
    a spot line without it where the region's spot pool is regional (no zone prices).
    A spot line without ``az`` over zone pools is a :class:`ConcurrencyLimit` instead."""
    caps: dict[Key, int] = {}
    for m in cloud.max_instances:
        zone = _zone(catalog, m.region, m.az)
        if m.market == "spot" and m.az is None and _has_zones(catalog, m.instance_type, m.region):
            continue
        caps[(m.instance_type, m.region, m.market, zone)] = m.count
    return caps


def _has_zones(catalog: PriceCatalog, instance_type: str, region: str) -> bool:
    offer = catalog.offer(instance_type, region)
    return bool(offer and offer.spot_zones)


def concurrency_limits(workload: Workload, catalog: PriceCatalog,
                       cloud_pools: Sequence[CloudPool]) -> tuple[ConcurrencyLimit, ...]:
    """The limits on instances running at once over several pools: every quota line
    (vCPUs of its region, market and family), and every spot ``max_instances`` line
    without ``az`` over a region's zone pools (instances)."""
    cloud = workload.cloud
    if cloud is None:
        return ()
    out = []
    for q in cloud.quotas:
        members = tuple((p.id, float(p.vcpus)) for p in cloud_pools
                        if (p.region, p.market, p.quota_family) == (q.region, q.market, q.family))
        out.append(ConcurrencyLimit("quota", f"{q.region} {q.market} {q.family}", members,
                                    float(q.vcpus), "vCPUs"))
    for m in cloud.max_instances:
        if m.market == "spot" and m.az is None and _has_zones(catalog, m.instance_type, m.region):
            members = tuple((p.id, 1.0) for p in cloud_pools
                            if (p.instance_type, p.region, p.market)
                            == (m.instance_type, m.region, "spot"))
            out.append(ConcurrencyLimit("max_instances",
                                        f"{m.region} spot {m.instance_type} (all zones)",
                                        members, float(m.count), "instance(s)"))
    return tuple(out)


ZoneKey = tuple[str, str, "str | None"]
"""(instance type, region, zone ID or None for the whole region)."""
V = TypeVar("V")


def for_zone(table: Mapping[ZoneKey, V], instance_type: str, region: str, zone: str | None,
             availability: Callable[[V], float]) -> V | None:
    """What ``table`` says for a pool: a zone pool its zone's entry, else its region's; a
    regional pool (no zone prices) its region's entry, else its best zone's by
    ``availability`` (a launch without a zone may land in any). ``None`` when it says
    nothing."""
    if (instance_type, region, zone) in table:
        return table[(instance_type, region, zone)]
    if zone is not None:
        return table.get((instance_type, region, None))
    zones = [v for (t, r, _z), v in table.items() if (t, r) == (instance_type, region)]
    return max(zones, key=availability, default=None)


@lru_cache(maxsize=8)
def _trace_stats(manifest: Path, _mtime_ns: int, start: datetime,
                 end: datetime) -> dict[ZoneKey, tuple[float, float]]:
    return spot_trace_stats(manifest, start, end)  # read once per manifest version and horizon


def spot_trace_stats(manifest: Path, start: datetime,
                     end: datetime) -> dict[ZoneKey, tuple[float, float]]:
    """``(instance type, region, zone ID) -> (availability, interruptions per spot-hour)``
    from each trace a ``traces.yaml`` manifest names, over the horizon ``[start, end)`` or
    the trace's last weeks (:meth:`~costopt.traces.PoolTrace.stats_for`); zone ``None`` for
    a regional trace. Each zone its own trace: a region's zones differ more than regions
    do (``facts.md``)."""
    from costopt.traces import load_manifest  # numpy: only for a workload with traces

    out: dict[ZoneKey, tuple[float, float]] = {}
    for t in load_manifest(manifest):
        stats = t.stats_for(start, end)
        out[(t.pool.instance_type, t.pool.region, t.pool.zone_id)] = (
            stats.availability, stats.preemptions_per_spot_hour)
    return out


def spot_efficiency(rate: float, checkpoint_minutes: float, restart_minutes: float) -> float:
    """Useful share of spot time: ``max(0, 1 - r * (checkpoint/2 + restart) / 60)`` (spec v2
    multiplies it by the pool's availability ``a``: :func:`eligibility`)."""
    return max(0.0, 1.0 - rate * (checkpoint_minutes / 2 + restart_minutes) / 60)


def blocking(gpus_per_node: int, gang: int) -> float:
    """``G / (gang * floor(G / gang))``: a node's GPUs a gang holds, idle leftovers included."""
    return gpus_per_node / (gang * (gpus_per_node // gang))


def job_blocking(gpus_per_node: int, job: Job) -> float:
    """The share of a node's GPUs the job holds: ``blocking`` for a one-node gang; a node of
    a multi-node gang is the gang's alone (``G / gpus``), as its ranks share the node's
    network with no one."""
    if job.nodes > 1:
        return gpus_per_node / job.gpus
    return blocking(gpus_per_node, job.gpus)


def gang_fits(job: Job, pool: Pool, quotas: list[Quota]) -> bool:
    """Whether ``nodes`` nodes of the pool can run at once (:func:`gang_misfit`)."""
    return gang_misfit(job, pool, quotas) is None


def gang_misfit(job: Job, pool: Pool, quotas: list[Quota]) -> str | None:
    """Why ``nodes`` nodes of the pool cannot run at once, or None when they can: an owned
    entry needs at least ``nodes`` servers (and is not a candidate), a cloud pool a
    ``max_instances`` and quotas that allow ``nodes`` instances at once."""
    n = job.nodes
    if n == 1:
        return None
    if isinstance(pool, OwnedPool):
        if pool.buy_max is not None:
            return f"{pool.id} is a server to buy"
        return None if pool.nodes >= n else f"{pool.id} has {pool.nodes} server(s)"
    if pool.max_instances is not None and pool.max_instances < n:
        return f"{pool.id} has max_instances {pool.max_instances}"
    for q in quotas:
        if (q.region, q.market, q.family) == (pool.region, pool.market, pool.quota_family) \
                and n * pool.vcpus > q.vcpus:
            return (f"{pool.id}: {n} x {pool.vcpus} vCPUs > the {q.region} {q.market} "
                    f"{q.family} quota of {q.vcpus}")
    return None


def eligibility(workload: Workload, pools: Pools, catalog: PriceCatalog) -> list[Eligible]:
    """Every (job, pool) pair the model may use, with ``s``, ``e`` and ``b``."""
    restart = workload.cloud.spot_restart_minutes if workload.cloud else 0.0
    quotas = workload.cloud.quotas if workload.cloud else []
    out: list[Eligible] = []
    for j, job in enumerate(workload.jobs):
        for p, pool in enumerate(pools.all):
            pair = _pair(job, pool, catalog, restart)
            if pair is not None and gang_fits(job, pool, quotas):
                speed, eff = pair
                out.append(Eligible(j, p, speed, eff, job_blocking(pool.gpus_per_node, job),
                                    gangs_per_instance(pool.gpus_per_node, job.gpus,
                                                       job.nodes, job.parallel)))
    return out


def _pair(job: Job, pool: Pool, catalog: PriceCatalog,
          restart: float) -> tuple[float, float] | None:
    if pool.gpus_per_node < job.gpus or pool.gpu_memory_gb < job.min_gpu_memory_gb:
        return None
    if pool.market not in job.allowed_kinds():
        return None
    if isinstance(pool, CloudPool) and job.regions is not None and pool.region not in job.regions:
        return None
    gpu = catalog.gpu(pool.gpu_model)
    speed = speed_for(job, pool.gpu_model, gpu.relative_speed if gpu else 0.0)
    if speed <= 0:
        return None
    eff = 1.0
    if isinstance(pool, CloudPool) and pool.market == "spot":
        eff = pool.availability * spot_efficiency(pool.interruptions_per_hour,
                                                  job.checkpoint_minutes, restart)
    if eff <= 0 or not math.isfinite(speed):
        return None
    return speed, eff


def unplaceable_jobs(workload: Workload, pools: Pools, pairs: list[Eligible]) -> list[FieldIssue]:
    """Jobs no pool can take, each explained: the largest node, the nodes of a multi-node
    gang, memory, markets, regions."""
    usable = {e.job for e in pairs}
    quotas = workload.cloud.quotas if workload.cloud else []
    issues = []
    for j, job in enumerate(workload.jobs):
        if j in usable:
            continue
        nodes = _why_no_nodes(job, pools, quotas)
        issues.append(FieldIssue(f"jobs[{j}].nodes", job.nodes, nodes) if nodes
                      else FieldIssue(f"jobs[{j}]", job.name,
                                      _why_unplaceable(job, pools, workload)))
    return issues


def _why_no_nodes(job: Job, pools: Pools, quotas: list[Quota]) -> str | None:
    """Why no pool with nodes large enough holds a multi-node gang; None if one does, or
    if no node is large enough at all (that reason comes first)."""
    fits = [p for p in pools.all if p.gpus_per_node >= job.gpus]
    misfits = [gang_misfit(job, p, quotas) for p in fits]
    if job.nodes == 1 or not fits or None in misfits:
        return None
    shown = "; ".join(str(m) for m in misfits[:SHOWN_MISFITS])
    more = f" and {len(misfits) - SHOWN_MISFITS} more" if len(misfits) > SHOWN_MISFITS else ""
    return (f"a gang of {job.nodes} nodes of >= {job.gpus} GPUs needs an owned server entry "
            f"of count >= {job.nodes}, or a cloud pool whose max_instances and vCPU quotas "
            f"allow {job.nodes} instances at once, and none does ({shown}{more}); To fix: "
            "fewer nodes, more servers of one entry, or a higher quota")


SHOWN_MISFITS = 3
"""Pools named when no pool can hold a multi-node gang (the rest are counted)."""


def _why_unplaceable(job: Job, pools: Pools, w: Workload) -> str:
    over = [o for o in pools.over_quota if o.gpus_per_node >= job.gpus]
    if over:
        shown = "; ".join(o.explain() for o in over[:SHOWN_OVER_QUOTA])
        more = f" and {len(over) - SHOWN_OVER_QUOTA} more" if len(over) > SHOWN_OVER_QUOTA else ""
        rest = replace(pools, over_quota=())
        return (f"the pools with {job.gpus} GPU(s) per node or more that it could use are over "
                f"their vCPU quota: {shown}{more}; To fix: raise the quota (AWS Service "
                "Quotas) and cloud.quotas, or allow an instance type that fits it"
                + (f", then: {_why_unplaceable(job, rest, w)}" if rest.all else
                   " (no other pool is left)"))
    candidates = list(pools.all)
    if not candidates and w.cloud is not None:
        return ("the cloud section allows no pool: no instance type of the price data "
                "matches its regions, markets, instance_types and zones"
                + ("" if w.servers else ", and the workload has no owned servers")
                + "; To fix: widen the cloud section, or add owned.servers")
    if not candidates:
        return ("no pool at all: the workload has no owned servers and no cloud section; "
                "To fix: add owned.servers or a cloud: section")
    largest = max(p.gpus_per_node for p in candidates)
    if job.gpus > largest:
        return (f"gang of {job.gpus} GPUs is larger than every node (the largest has {largest} "
                f"GPU{'s' if largest != 1 else ''}); To fix: gpus <= {largest}, or allow "
                "larger instance types")
    kinds = job.allowed_kinds()
    reasons = []
    fits = [p for p in candidates if p.gpus_per_node >= job.gpus]
    roomy = [p for p in fits if p.gpu_memory_gb >= job.min_gpu_memory_gb]
    if not roomy:
        most = max(p.gpu_memory_gb for p in fits)
        reasons.append(f"min_gpu_memory_gb={job.min_gpu_memory_gb:g} but the largest GPU "
                       f"memory on a node of >= {job.gpus} GPUs is {most:g} GB")
    elif not [p for p in roomy if p.market in kinds]:
        reasons.append(f"the pools with enough GPUs and memory are "
                       f"{sorted({p.market for p in roomy})} but the job allows {sorted(kinds)}"
                       + ("" if job.interruptible else " (spot needs interruptible: true)"))
    else:
        reasons.append("every pool that fits is outside the job's regions or has speed 0")
    return "; ".join(reasons) + "; To fix: relax the job's requirements or add pools"


SHOWN_OVER_QUOTA = 3
"""Over-quota pools named in one explanation (the rest are counted)."""


def over_quota_notes(pools: Pools) -> tuple[str, ...]:
    """One line per instance type and market left out because it is over its quota."""
    seen: dict[str, str] = {}
    for o in pools.over_quota:
        kind = parse_pool_id(o.pool).regional.text  # the zones of a spot type share one line
        seen.setdefault(kind, f"not used: {kind}" + (" (every zone)" if kind != o.pool else "")
                        + f": one instance has {o.vcpus} vCPUs, above the quota {o.quota} of "
                        f"{o.quota_vcpus:g} vCPUs running at once")
    return tuple(seen.values())


def over_bid_notes(pools: Pools, ratio: float) -> tuple[str, ...]:
    """One line per spot instance type and region left out because its spot price is above
    the bid (``MaxPrice`` = on-demand price x ``cloud.spot_max_price_ratio``): AWS would fill
    no request there, so the plan does not count on it."""
    seen: dict[str, str] = {}
    for p in pools.over_bid:
        kind = cloud_id(p.region, p.instance_type, p.market)
        zones = sorted(q.zone or p.region for q in pools.over_bid
                       if cloud_id(q.region, q.instance_type, q.market) == kind)
        seen.setdefault(kind, f"not used: {kind} ({', '.join(zones)}): its spot price "
                        f"{p.usd_per_hour:.4f} USD/h is above the bid "
                        f"{p.on_demand_usd_per_hour * ratio:.4f} USD/h (on-demand "
                        f"{p.on_demand_usd_per_hour:.4f} x cloud.spot_max_price_ratio "
                        f"{ratio:g}); AWS would fill no spot request there. To fix: raise "
                        "cloud.spot_max_price_ratio to use it")
    return tuple(seen.values())


def regional_spot_notes(pools: Pools, source: str, used: set[str]) -> tuple[str, ...]:
    """A note when the plan uses regional spot pools (ids in ``used``): the price data has
    no zone prices for them (a price file from before zones), so they are priced at the
    region's median and launch wherever AWS places them."""
    regional = sorted({f"{p.instance_type} in {p.region}" for p in pools.cloud
                       if p.market == "spot" and p.zone is None and p.id in used})
    if not regional:
        return ()
    shown = ", ".join(regional[:SHOWN_OVER_QUOTA])
    more = f" and {len(regional) - SHOWN_OVER_QUOTA} more" if len(regional) > SHOWN_OVER_QUOTA \
        else ""
    return (f"spot priced per region, not per zone, for {shown}{more}: {source} has no zone "
            "prices for them, so such a pool is planned at the region's spot price and "
            "launches in any zone; To fix: `costopt pricing refresh` writes zone prices",)


def prune_dominated(workload: Workload, pools: Pools, pairs: list[Eligible],
                    capped: Collection[str] = ()) -> tuple[Pools, list[Eligible]]:
    """Drop cloud pools that another pool of the same instance type and market dominates.

    Pool ``q`` dominates pool ``p`` when both are the same instance type and market (same
    GPUs, memory, vCPUs), ``q`` costs no more per instance-hour, loses no more time to spot
    interruptions and is no less available, every job that may use ``p`` may use ``q``, ``q`` has no
    ``max_instances`` cap of its own, and every concurrency limit over ``q`` (a quota, a
    spot cap over a region's zones) is over ``p`` too. Exact: in any plan, moving all of
    ``p``'s GPU-hours, instance-hours and instance counts onto ``q`` keeps every constraint
    (work, gang, packing and wall-time rows are the same for the same GPUs; a limit over
    both sees the same weight, one over ``p`` alone only loosens; ``q`` has no cap of its
    own) and costs no more. So the zones of a spot type under one regional quota reduce to
    the cheapest. Ties go to the lower (price, rate, id), so two equal pools never remove
    each other; a chain of dominated pools ends at one that stays. The pools in ``capped``
    (ids: caps of their own in some periods, ``make_plan``'s ``u_upper``, as a re-plan
    holds a pool seen without capacity) are such a cap: they dominate none, but may be
    dominated.
    """
    if workload.cloud is None or not pools.cloud:
        return pools, pairs
    limits_of: dict[str, frozenset[int]] = {
        pool.id: frozenset(i for i, lim in enumerate(pools.limits) if lim.weight(pool.id))
        for pool in pools.cloud}
    jobs_of: dict[int, set[int]] = {}
    for e in pairs:
        jobs_of.setdefault(e.pool, set()).add(e.job)
    offset = len(pools.owned)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, pool in enumerate(pools.cloud):
        groups.setdefault((pool.instance_type, pool.market), []).append(offset + i)

    def cloud_pool(p: int) -> CloudPool:
        pool = pools.all[p]
        assert isinstance(pool, CloudPool)
        return pool

    def rank(p: int) -> tuple[float, float, str]:
        pool = cloud_pool(p)
        return (pool.usd_per_hour, pool.interruptions_per_hour, pool.id)

    def dominates(q: int, p: int) -> bool:
        (q_usd, q_rate, _), (p_usd, p_rate, _) = rank(q), rank(p)
        pq, pp = cloud_pool(q), cloud_pool(p)
        return (q != p and pq.max_instances is None and pq.id not in capped
                and limits_of[pq.id] <= limits_of[pp.id]
                and q_usd <= p_usd and q_rate <= p_rate and pq.availability >= pp.availability
                and rank(q) < rank(p) and jobs_of.get(p, set()) <= jobs_of.get(q, set()))

    dropped = {p for members in groups.values() for p in members
               if any(dominates(q, p) for q in members)}
    if not dropped:
        return pools, pairs
    gone = {pools.all[p].id for p in dropped}
    kept = replace(pools, cloud=tuple(pl for pl in pools.cloud if pl.id not in gone),
                   limits=tuple(_without(lim, gone) for lim in pools.limits))
    index = {pool.id: i for i, pool in enumerate(kept.all)}
    return kept, [replace(e, pool=index[pools.all[e.pool].id]) for e in pairs
                  if e.pool not in dropped]
