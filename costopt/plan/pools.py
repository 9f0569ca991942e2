"""Pools, and which job may use which pool at what speed (``workload.md``, "The model").

A *pool* is capacity of one kind: an owned server entry (``owned:NAME``) or an AWS
(region, instance type, market) with a price (``aws:REGION:TYPE:MARKET``). For each job and
pool this module works out the speed ``s``, the spot efficiency ``e`` and the blocking factor
``b`` the LP needs. Pure: data in, data out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from costopt.errors import FieldIssue, WorkloadError
from costopt.pricing.catalog import InstanceOffer, PriceCatalog
from costopt.workload import Job, Market, OwnedServer, Quota, ServerSpec, Workload, speed_for

HOURS_PER_YEAR = 8760
HOURS_PER_MONTH = 730


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
    availability: float = 1.0  # share of time spot can be had (spec v2's a); 1 on demand
    availability_source: str = "assumed"  # "given" (cloud.spot_availability), "traces", "assumed"

    @property
    def quota_family(self) -> str:
        return self.instance_type[:1].upper()


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

    @property
    def all(self) -> tuple[Pool, ...]:
        return (*self.owned, *self.cloud)


def owned_id(name: str) -> str:
    return f"owned:{name}"


def buy_id(name: str) -> str:
    """The pool id of a server one could buy."""
    return f"buy:{name}"


def cloud_id(region: str, instance_type: str, market: str) -> str:
    return f"aws:{region}:{instance_type}:{market}"


def energy_usd_per_gpu_hour(server: ServerSpec, usd_per_kwh: float, pue: float) -> float:
    """Energy above idle per GPU-hour: ``(power - idle) / gpus / 1000 * $/kWh * PUE``."""
    return (server.power_watts - server.idle_watts) / server.gpus / 1000 * usd_per_kwh * pue


def fixed_usd(server: ServerSpec, usd_per_kwh: float, pue: float, hours: float) -> float:
    """Cost over ``hours`` whether used or not - amortisation, idle energy, ops - of all the
    servers of an owned entry (``count`` of them), or of one candidate server."""
    per_server = (
        server.purchase_usd / (server.lifetime_years * HOURS_PER_YEAR) * hours
        + server.idle_watts / 1000 * usd_per_kwh * pue * hours
        + server.ops_usd_per_month * hours / HOURS_PER_MONTH
    )
    return getattr(server, "count", 1) * per_server


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
    return Pools(owned=tuple(owned), cloud=tuple(_cloud_pools(workload, catalog)))


def _cloud_pools(workload: Workload, catalog: PriceCatalog) -> list[CloudPool]:
    cloud = workload.cloud
    if cloud is None:
        return []
    regions = set(cloud.regions) if cloud.regions else None
    types = set(cloud.instance_types) if cloud.instance_types else None
    markets = set(cloud.markets)
    overrides = {(o.instance_type, o.region, o.market): o.usd_per_hour
                 for o in cloud.price_overrides}
    rates = {(r.instance_type, r.region): r.rate for r in cloud.spot_interruptions_per_hour}
    given: dict[tuple[str, str], float] = {}
    for line in sorted(cloud.spot_availability, key=lambda a: a.az is None):
        given[(line.instance_type, line.region)] = max(  # a line for the region wins
            line.availability, 0.0 if line.az is None else given.get(
                (line.instance_type, line.region), 0.0))
    manifest = cloud.spot_traces
    traced = _trace_stats(manifest, manifest.stat().st_mtime_ns if manifest.exists() else 0) \
        if manifest else {}
    caps = {(m.instance_type, m.region, m.market): m.count for m in cloud.max_instances}

    def wanted(instance_type: str, region: str, market: str) -> bool:
        return (
            market in markets
            and (regions is None or region in regions)
            and (types is None or instance_type in types)
        )

    prices: dict[tuple[str, str, str], tuple[InstanceOffer, float, str]] = {}
    for offer in catalog.offers:
        for market, price in (("on_demand", offer.on_demand_usd_per_hour),
                              ("spot", offer.spot_usd_per_hour)):
            if price is not None and wanted(offer.instance_type, offer.region, market):
                prices[(offer.instance_type, offer.region, market)] = (offer, price, "table")
    for (instance_type, region, market), price in overrides.items():
        offer = catalog.offer(instance_type, region) or catalog.any_offer(instance_type)
        if offer is not None and wanted(instance_type, region, market):
            prices[(instance_type, region, market)] = (offer, price, "override")

    pools = []
    for (instance_type, region, market), (offer, price, price_source) in sorted(prices.items()):
        local = catalog.offer(instance_type, region)
        on_demand = (local or offer).on_demand_usd_per_hour
        override_od = overrides.get((instance_type, region, "on_demand"))
        rate, availability, source = 0.0, 1.0, "assumed"
        if market == "spot":
            stats = traced.get((instance_type, region))
            rate = rates.get((instance_type, region), stats[1] if stats else
                             (local.spot_interruptions_per_hour if local else None) or 0.0)
            if (instance_type, region) in given:
                availability, source = given[(instance_type, region)], "given"
            elif stats:
                availability, source = stats[0], "traces"
        pools.append(CloudPool(
            id=cloud_id(region, instance_type, market),
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
            max_instances=caps.get((instance_type, region, market)),
            price_source=price_source,
            availability=availability,
            availability_source=source,
        ))
    return pools


@lru_cache(maxsize=8)
def _trace_stats(manifest: Path, _mtime_ns: int) -> dict[tuple[str, str], tuple[float, float]]:
    return spot_trace_stats(manifest)  # read once per manifest version, not per build


def spot_trace_stats(manifest: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """``(instance type, region) -> (availability, interruptions per spot-hour)`` from the
    traces a ``traces.yaml`` manifest names (``traces stats``); where several zones of a
    region are traced, the best zone's (a launch without a zone may land in any)."""
    from costopt.simulate.traces import load_manifest, trace_stats

    out: dict[tuple[str, str], tuple[float, float]] = {}
    for t in load_manifest(manifest):
        stats = trace_stats(t.trace)
        key = (t.pool.instance_type, t.pool.region)
        if key not in out or stats.availability > out[key][0]:
            out[key] = (stats.availability, stats.preemptions_per_spot_hour)
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


def gangs_per_node(gpus_per_node: int, job: Job) -> int:
    """Gangs of the job one node holds at once: ``min(parallel, floor(G / gpus))`` for
    one-node gangs (the trials of a sweep share an instance), 1 for a multi-node gang."""
    if job.nodes > 1:
        return 1
    return min(job.parallel, gpus_per_node // job.gpus)


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
                                    gangs_per_node(pool.gpus_per_node, job)))
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
                      else FieldIssue(f"jobs[{j}]", job.name, _why_unplaceable(job, pools)))
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


def _why_unplaceable(job: Job, pools: Pools) -> str:
    candidates = list(pools.all)
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


def prune_dominated(workload: Workload, pools: Pools,
                    pairs: list[Eligible]) -> tuple[Pools, list[Eligible]]:
    """Drop cloud pools that another pool of the same instance type and market dominates.

    Pool ``q`` dominates pool ``p`` when both are the same instance type and market (same
    GPUs, memory, vCPUs), ``q`` costs no more per instance-hour, loses no more time to spot
    interruptions, every job that may use ``p`` may use ``q``, and no quota line or
    ``max_instances`` cap limits ``q``. Exact: in any plan, moving all of ``p``'s GPU-hours and
    instance-hours onto ``q`` keeps every constraint (``q`` has no limit; work, gang,
    packing and wall-time rows are the same for the same GPUs) and costs no more. Ties go to
    the lower (price, rate, id), so two equal pools never remove each other; a chain of
    dominated pools ends at one that stays.
    """
    cloud = workload.cloud
    if cloud is None or not pools.cloud:
        return pools, pairs
    limited = {(q.region, q.market, q.family) for q in cloud.quotas}
    capped = {(m.instance_type, m.region, m.market) for m in cloud.max_instances}
    jobs_of: dict[int, set[int]] = {}
    for e in pairs:
        jobs_of.setdefault(e.pool, set()).add(e.job)
    offset = len(pools.owned)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, pool in enumerate(pools.cloud):
        groups.setdefault((pool.instance_type, pool.market), []).append(offset + i)

    def free(p: int) -> bool:
        pool = pools.all[p]
        assert isinstance(pool, CloudPool)
        return ((pool.region, pool.market, pool.quota_family) not in limited
                and (pool.instance_type, pool.region, pool.market) not in capped)

    def rank(p: int) -> tuple[float, float, str]:
        pool = pools.all[p]
        assert isinstance(pool, CloudPool)
        return (pool.usd_per_hour, pool.interruptions_per_hour, pool.id)

    def dominates(q: int, p: int) -> bool:
        (q_usd, q_rate, _), (p_usd, p_rate, _) = rank(q), rank(p)
        return (q != p and free(q) and q_usd <= p_usd and q_rate <= p_rate
                and rank(q) < rank(p) and jobs_of.get(p, set()) <= jobs_of.get(q, set()))

    dropped = {p for members in groups.values() for p in members
               if any(dominates(q, p) for q in members)}
    if not dropped:
        return pools, pairs
    kept = Pools(owned=pools.owned,
                 cloud=tuple(pl for i, pl in enumerate(pools.cloud) if offset + i not in dropped))
    index = {pool.id: i for i, pool in enumerate(kept.all)}
    return kept, [replace(e, pool=index[pools.all[e.pool].id]) for e in pairs
                  if e.pool not in dropped]
