"""The reconcile diff: (plan, time, observed instances) -> the actions that make AWS match.

Pure: no AWS, no clock, no ledger. The apply shell (:mod:`costopt.orchestrate.apply`)
observes, calls :func:`reconcile`, guards the budget and carries the actions out.

The rules, for each cloud pool of the plan's fleet schedule at time ``at``:

1. *Wanted* slots: those with an interval ``[start, end)`` that holds ``at``.
2. *Live* instances (``pending``/``running``) each claim a wanted slot: first the slot of
   their ``costopt:slot`` tag, then the lowest unclaimed one that does the same work (the
   same commands, gang and rank, as its tags say: an instance runs what its launch's user
   data says).
3. Too few live instances: start stopped instances of the pool first (those tagged with a
   missing slot first; only for a slot of the same work), then launch one instance per
   slot still missing.
4. Too many: the surplus goes, unclaimed instances first, then the newest first. An instance
   is *stopped* rather than terminated when the pool wants it again within the next period
   (more slots wanted at some moment of ``(at, at + period]`` than now) and its market allows
   a stop (on-demand, or spot launched as a persistent request); otherwise terminated.
   Stopped instances beyond what the next period wants are terminated too.
5. Instances AWS interrupted (``Server.SpotInstanceTermination``) are not live: a stopped one
   is terminated (AWS would restart it whenever it pleases) and its slot relaunched.
6. Pools the plan does not hold, and every pool after its last slot, end with nothing.
7. *Takeover*: instances of another plan of the same workload (an older plan this one
   replaces) count as the pool's own, after them: they claim wanted slots the plan's own
   instances leave free, may be started, stopped or kept stopped like its own, and end
   otherwise. Each one the plan keeps gets a ``claim`` action (re-tagged with this plan).
   As in rules 2-3 they serve only slots that run what they run, and one that can serve no
   slot of the pool is terminated, never stopped or kept stopped. A multi-node gang of
   another plan is taken over whole (:func:`carried_gangs`): its ranks, known as one gang by
   their ``costopt:gang-id`` tag whichever plan launched them, serve the ranks of one gang of
   this plan with the same jobs and nodes (wanted now first); a running rank is claimed, a
   stopped one started (or kept stopped, or ended, like any other), a missing one launched
   into the same gang. A gang's instance without that tag, or of a gang no gang of this
   plan matches, serves no slot (its ranks could not find each other under this plan).
8. A policy may choose a pool's market now (:class:`MarketChoice`): its missing slots launch
   on that market with no fallback to the other (the policy chose); a live instance on the
   other market is kept, swapped (an instance on the chosen market is launched for its slot
   and the other terminated once it runs) or ended (terminated, its slot launched on the
   chosen market); a stopped instance on the other market is not started but terminated.
   Its ``zones`` say where a spot launch of a zoned pool may go (the launch's
   :attr:`FleetAction.zones`): its home zone only, or the region's zones then on-demand
   (the choice on-demand with ``zones="all"``: spot in any zone is tried before it). A live
   spot instance the choice names in ``home`` (running in a dearer zone than its pool's
   own) is swapped home: a launch in the home zone for its slot, and the instance
   terminated once that one runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

from costopt.core.pool_ids import market_label, parse_pool_id
from costopt.planfile import FleetPool, PlanDocument

LIVE = frozenset({"pending", "running"})
STOPPED = frozenset({"stopping", "stopped"})
GONE = frozenset({"shutting-down", "terminated"})

SPOT_INTERRUPTION_CODES = frozenset({"Server.SpotInstanceTermination",
                                     "Server.SpotInstanceShutdown"})
"""``StateReason`` codes AWS gives an instance it reclaimed from the spot market."""

ActionKind = Literal["claim", "launch", "start", "stop", "terminate"]
Market = Literal["on_demand", "spot"]
ZoneScope = Literal["home", "all"]
"""Where a policy's spot launch of a zoned pool may go: its ``home`` zone only, or ``all`` the
region's zones (the home zone first, then the others by price)."""


@dataclass(frozen=True)
class MarketChoice:
    """What a policy wants a pool's slots to run as now: ``market``; and what becomes of a
    live instance on the other market: ``keep`` it, ``swap`` it (replaced once an instance on
    ``market`` runs for its slot) or ``end`` it (terminated; its slot launched on ``market``)."""

    market: Market
    other: Literal["keep", "swap", "end"] = "keep"
    zones: ZoneScope | None = None  # spot: where a launch may go; on-demand with "all": a
    # launch tries spot in every zone first (None: the market alone, as before)
    home: frozenset[str] = frozenset()  # live spot instances to swap back to the home zone


@dataclass(frozen=True)
class ObservedInstance:
    """An instance that carries the plan's tags, as ``DescribeInstances`` shows it."""

    instance_id: str
    pool: str  # the ``costopt:pool`` tag
    region: str
    state: str  # EC2's state name: pending, running, stopping, stopped, shutting-down, ...
    market: Literal["on_demand", "spot"]  # what it really runs as
    launched_at: datetime
    slot: int | None = None  # the ``costopt:slot`` tag
    az: str | None = None
    state_reason: str | None = None  # ``StateReason.Code``
    stoppable: bool = True  # on-demand, or spot from a persistent request
    spot_request_id: str | None = None
    instance_type: str | None = None
    client_token: str | None = None
    changed_at: datetime | None = None  # when AWS says its state last changed, if it says

    spot_request_status: str | None = None  # the spot request's status code, if looked up
    plan_id: str | None = None  # the ``costopt:plan`` tag; None: the plan reconciled
    jobs: tuple[str, ...] = ()  # the ``costopt:jobs`` tag: the jobs its user data runs
    gang: int | None = None  # the ``costopt:gang`` tag of a multi-node gang's instance
    node_rank: int | None = None  # the ``costopt:node-rank`` tag
    progress: str | None = None  # the ``costopt:progress`` tag a job may set: JOB=GPU_HOURS,...
    owner: str | None = None  # the ``costopt:owner`` tag: the id of the ledger that launched it
    gang_id: str | None = None  # the ``costopt:gang-id`` tag: its gang, the same in every plan
    nodes: int | None = None  # the ``costopt:nodes`` tag: how many instances its gang has

    @property
    def interrupted(self) -> bool:
        """AWS reclaimed it from the spot market: its state reason says so, or its spot
        request was closed or disabled by AWS (``instance-terminated-no-capacity`` ...)."""
        status = self.spot_request_status or ""
        return self.state_reason in SPOT_INTERRUPTION_CODES or (
            status.startswith(("instance-terminated-", "instance-stopped-"))
            and not status.endswith("-by-user"))


@dataclass(frozen=True)
class FleetAction:
    """One change to one instance. ``usd_per_hour`` is the price of the instance it acts on
    (USD per instance-hour); ``usd_per_hour_change`` is what the fleet's hourly cost moves by."""

    kind: ActionKind
    pool: str
    region: str
    instance_type: str
    market: Literal["on_demand", "spot"]
    usd_per_hour: float
    reason: str
    slot: int | None = None
    instance_id: str | None = None
    running: bool = True  # for stop/terminate: whether the instance runs (and costs) now
    spot_request_id: str | None = None  # cancelled before a terminate
    fallback: bool = True  # for a launch: may the chain end on the other market
    replaces: FleetAction | None = None  # for a launch: the terminate to carry out once it runs
    zones: ZoneScope | None = None  # for a spot launch a policy chose: the zones it may walk,
    # from the chain's start at every run (None: the plan's chain, walked on from the
    # ledger's count of failures)

    @property
    def usd_per_hour_change(self) -> float:
        if self.kind == "claim":
            return 0.0
        if self.kind in ("launch", "start"):
            return self.usd_per_hour
        return -self.usd_per_hour if self.running else 0.0


@dataclass(frozen=True)
class Reconciliation:
    """The actions, and the live instances kept, each with the slot it serves."""

    actions: tuple[FleetAction, ...]
    kept: tuple[tuple[ObservedInstance, int], ...] = field(default=())

    def count(self, kind: ActionKind) -> int:
        return sum(1 for a in self.actions if a.kind == kind)

    def summary(self) -> list[tuple[ActionKind, str, int, float]]:
        """``(kind, pool, count, USD per hour change)`` per kind and pool, in action order."""
        groups: dict[tuple[ActionKind, str], list[FleetAction]] = {}
        for a in self.actions:
            groups.setdefault((a.kind, a.pool), []).append(a)
        return [(kind, pool, len(acts), sum(a.usd_per_hour_change for a in acts))
                for (kind, pool), acts in groups.items()]


SlotWork = tuple[frozenset[str], int | None, int | None]


def slot_work(pool: FleetPool, slot: int | None, commanded: frozenset[str]) -> SlotWork:
    """What an instance of ``slot`` runs: the jobs it serves that have a ``run`` command,
    its gang and rank (nothing for no slot)."""
    return next(((commanded & set(s.jobs), s.gang, s.node_rank) for s in pool.slots
                 if s.slot == slot), (frozenset(), None, None))


def instance_work(o: ObservedInstance, plan_id: str, commanded: frozenset[str],
                  carried: Mapping[str, int] | None = None) -> SlotWork:
    """What an instance runs, from the tags its launch gave it (:func:`slot_work` of its
    slot then). A gang's instance of an older plan runs, under this plan, the gang
    ``carried`` maps its gang id to (:func:`carried_gangs`), and otherwise serves no slot."""
    if o.gang is not None and _foreign(o, plan_id):
        gang = (carried or {}).get(o.gang_id or "")
        if gang is None:
            return (frozenset({"(a gang of another plan)"}), o.gang, o.node_rank)
        return (commanded & set(o.jobs), gang, o.node_rank)
    return (commanded & set(o.jobs), o.gang, o.node_rank)


def carried_gangs(pool: FleetPool, at: datetime, observed: Iterable[ObservedInstance],
                  plan_id: str, commanded: frozenset[str]) -> dict[str, int]:
    """Rule 7 for gangs: which gang of ``pool`` each multi-node gang of an older plan becomes,
    by its ``costopt:gang-id``. A gang of this plan takes one older gang whole when it runs
    the same jobs on as many nodes, has not ended by ``at``, and none of this plan's own
    instances holds it yet; the gangs wanted at ``at`` are matched first (then by their
    next start), the older gangs with the most running ranks first."""
    shapes: dict[int, tuple[frozenset[str], int]] = {}
    starts: dict[int, datetime] = {}
    for s in pool.slots:
        if s.gang is not None and s.end > at:
            shapes.setdefault(s.gang, (commanded & set(s.jobs), s.nodes))
            starts[s.gang] = min(starts.get(s.gang, s.start), s.start)
    observed = [o for o in observed if o.state not in GONE]
    taken = {o.gang for o in observed if not _foreign(o, plan_id)}
    free = sorted((g for g in shapes if g not in taken),
                  key=lambda g: (starts[g] > at, starts[g], g))
    groups: dict[str, list[ObservedInstance]] = {}
    for o in observed:
        if _foreign(o, plan_id) and o.gang_id and o.gang is not None and o.nodes:
            groups.setdefault(o.gang_id, []).append(o)
    out: dict[str, int] = {}
    for gang_id, ranks in sorted(groups.items(), key=lambda kv: (
            -sum(o.state in LIVE for o in kv[1]), kv[0])):
        shape = (commanded & set(ranks[0].jobs), ranks[0].nodes)
        match = next((g for g in free if shapes[g] == shape), None)
        if match is not None:
            out[gang_id] = match
            free.remove(match)
    return out


def gang_slot(pool: FleetPool, gang: int, node_rank: int | None) -> int | None:
    """The slot of ``pool`` that is rank ``node_rank`` of ``gang``."""
    return next((s.slot for s in pool.slots if s.gang == gang and s.node_rank == node_rank),
                None)


def wanted_slots(pool: FleetPool, at: datetime) -> list[int]:
    """The slots of ``pool`` whose interval holds ``at``, lowest first."""
    return sorted({s.slot for s in pool.slots if s.start <= at < s.end})


def slots_wanted_soon(pool: FleetPool, at: datetime, period: timedelta) -> int:
    """The most slots wanted at once at any moment of ``(at, at + period]``."""
    moments = {s.start for s in pool.slots if at < s.start <= at + period}
    return max((len(wanted_slots(pool, m)) for m in moments), default=0)


def resumes_within(pool: FleetPool, period: timedelta) -> bool:
    """Whether some slot of ``pool`` pauses and resumes within ``period``: its spot instances
    are then launched as persistent requests that can be stopped and started again."""
    by_slot: dict[int, list[tuple[datetime, datetime]]] = {}
    for s in pool.slots:
        by_slot.setdefault(s.slot, []).append((s.start, s.end))
    return any(b[0] - a[1] <= period for spans in by_slot.values()
               for a, b in pairwise(sorted(spans)))


def instance_price(pool: FleetPool, market: str) -> float:
    """USD per instance-hour of one instance of ``pool`` running on ``market`` (a spot pool
    that fell back to on-demand pays the on-demand price)."""
    return pool.usd_per_hour if market == pool.market else pool.on_demand_usd_per_hour


def slot_interval(pool: FleetPool, slot: int, at: datetime) -> tuple[datetime, datetime] | None:
    """The interval of ``slot`` that holds ``at``."""
    return next(((s.start, s.end) for s in pool.slots if s.slot == slot and s.start <= at < s.end),
                None)


def _when(moment: datetime) -> str:
    return moment.strftime("%m-%d %H:%M")


def reconcile(plan: PlanDocument, at: datetime, observed: Iterable[ObservedInstance],
              markets: Mapping[str, MarketChoice] | None = None) -> Reconciliation:
    """What to launch, start, stop and terminate at ``at`` so the fleet matches the plan;
    ``markets``: a policy's market choice per pool id (rule 8)."""
    period = timedelta(hours=int(plan.horizon["period_hours"]))
    by_pool: dict[str, list[ObservedInstance]] = {}
    for o in observed:
        by_pool.setdefault(o.pool, []).append(o)
    actions: list[FleetAction] = []
    kept: list[tuple[ObservedInstance, int]] = []
    fleet = {p.pool: p for p in plan.fleet}
    commanded = frozenset(j.job for j in plan.jobs if j.run)
    carried = {p.pool: carried_gangs(p, at, by_pool.get(p.pool, []), plan.plan_id, commanded)
               for p in plan.fleet}
    for pool in plan.fleet:
        pool_actions, pool_kept = _reconcile_pool(pool, at, period, by_pool.get(pool.pool, []),
                                                  plan.plan_id,
                                                  (markets or {}).get(pool.pool),
                                                  commanded, carried[pool.pool])
        actions += pool_actions
        kept += pool_kept
    for pool_id in sorted(set(by_pool) - set(fleet)):
        for o in by_pool[pool_id]:
            if o.state not in GONE:
                actions.append(_end(o, "terminate", o.state in LIVE, 0.0,
                                    "pool not in this plan" + _of_older(o, plan.plan_id)))
    return Reconciliation(tuple(_claims(plan, actions, kept, observed, carried))
                          + tuple(actions), tuple(kept))


def _foreign(o: ObservedInstance, plan_id: str) -> bool:
    return o.plan_id is not None and o.plan_id != plan_id


def _of_older(o: ObservedInstance, plan_id: str) -> str:
    return f" (of the plan {o.plan_id} this one replaces)" if _foreign(o, plan_id) else ""


def _claims(plan: PlanDocument, actions: list[FleetAction],
            kept: list[tuple[ObservedInstance, int]],
            observed: Iterable[ObservedInstance],
            carried: Mapping[str, Mapping[str, int]]) -> list[FleetAction]:
    """A ``claim`` for each instance of an older plan that this plan keeps (rule 7); a rank of
    a gang taken over whole and kept stopped is claimed for its rank's slot."""
    fleet = {p.pool: p for p in plan.fleet}
    slot_of = {o.instance_id: k for o, k in kept}
    ended = {a.instance_id for a in actions if a.kind == "terminate"}
    for a in actions:
        if a.kind == "start":
            slot_of[a.instance_id or ""] = a.slot if a.slot is not None else -1
    claims = []
    for o in observed:
        if not _foreign(o, plan.plan_id) or o.state in GONE or o.instance_id in ended \
                or o.pool not in fleet:
            continue
        slot = slot_of.get(o.instance_id)
        serves = f"serves slot {slot}" if slot is not None else "kept stopped"
        gang = carried[o.pool].get(o.gang_id or "")
        if slot is None and gang is not None:
            slot = gang_slot(fleet[o.pool], gang, o.node_rank)
        claims.append(FleetAction(
            "claim", o.pool, o.region, o.instance_type or parse_pool_id(o.pool).instance_type,
            o.market,
            instance_price(fleet[o.pool], o.market),
            f"of the plan {o.plan_id} this one replaces; {serves}", slot=slot,
            instance_id=o.instance_id, running=o.state in LIVE))
    return claims


def _end(o: ObservedInstance, kind: ActionKind, running: bool, usd_per_hour: float,
         reason: str) -> FleetAction:
    return FleetAction(kind=kind, pool=o.pool, region=o.region,
                       instance_type=o.instance_type or parse_pool_id(o.pool).instance_type,
                       market=o.market,
                       usd_per_hour=usd_per_hour, reason=reason, slot=o.slot,
                       instance_id=o.instance_id, running=running,
                       spot_request_id=o.spot_request_id)


def _reconcile_pool(pool: FleetPool, at: datetime, period: timedelta,
                    observed: list[ObservedInstance], plan_id: str,
                    choice: MarketChoice | None = None,
                    commanded: frozenset[str] = frozenset(),
                    carried: Mapping[str, int] | None = None,
                    ) -> tuple[list[FleetAction], list[tuple[ObservedInstance, int]]]:
    wanted = wanted_slots(pool, at)
    market: Market = choice.market if choice else pool.market
    live = sorted((o for o in observed if o.state in LIVE),
                  key=lambda o: (o.launched_at, o.instance_id))
    stopped = [o for o in observed if o.state in STOPPED and not o.interrupted]
    actions = [_end(o, "terminate", False, instance_price(pool, o.market),
                    "interrupted by AWS while stopped; its slot is relaunched")
               for o in observed if o.state in STOPPED and o.interrupted]
    if choice is not None:
        moved = f"the policy runs this pool on {market_label(market)} now"
        actions += [_end(o, "terminate", o.state in LIVE, instance_price(pool, o.market), moved)
                    for o in live + stopped if o.market != market
                    and (o.state not in LIVE or choice.other == "end")]
        live = [o for o in live if o.market == market or choice.other != "end"]
        stopped = [o for o in stopped if o.market == market]

    claims: dict[int, ObservedInstance] = {}
    unclaimed: list[ObservedInstance] = []
    for o in live:
        if o.slot in wanted and o.slot not in claims and not _foreign(o, plan_id):
            claims[o.slot] = o
        else:
            unclaimed.append(o)
    unclaimed.sort(key=lambda o: _foreign(o, plan_id))  # the plan's own first (stable)
    for o in list(unclaimed):
        work = instance_work(o, plan_id, commanded, carried)
        free = [k for k in wanted
                if k not in claims and slot_work(pool, k, commanded) == work]
        if free:
            claims[free[0]] = o
            unclaimed.remove(o)
    missing = [k for k in wanted if k not in claims]
    kept = [(o, k) for k, o in sorted(claims.items())]

    def start_order(o: ObservedInstance) -> tuple[bool, bool, datetime, str]:
        foreign = _foreign(o, plan_id)
        return (foreign, foreign or o.slot not in missing, o.launched_at, o.instance_id)

    for o in sorted(stopped, key=start_order):
        work = instance_work(o, plan_id, commanded, carried)
        same = [k for k in missing if slot_work(pool, k, commanded) == work]
        if not same:
            continue
        k = o.slot if o.slot in same and not _foreign(o, plan_id) else same[0]
        missing.remove(k)
        stopped.remove(o)
        actions.append(FleetAction("start", pool.pool, pool.region, pool.instance_type,
                                   o.market, instance_price(pool, o.market),
                                   _slot_reason(pool, k, at), slot=k, instance_id=o.instance_id))
    launch_market, zones = market, None
    if choice is not None and choice.zones is not None and pool.market == "spot":
        launch_market, zones = "spot", choice.zones  # "all" on-demand: spot zones first
    for k in missing:
        actions.append(FleetAction("launch", pool.pool, pool.region, pool.instance_type,
                                   launch_market, instance_price(pool, launch_market),
                                   _slot_reason(pool, k, at, observed), slot=k,
                                   fallback=choice is None or market != launch_market,
                                   zones=zones))
    if choice is not None and choice.other == "swap":
        for o, k in kept:
            if o.market != market:
                old = _end(o, "terminate", True, instance_price(pool, o.market),
                           f"replaced by {market_label(market)} for slot {k}")
                actions.append(FleetAction(
                    "launch", pool.pool, pool.region, pool.instance_type, market,
                    instance_price(pool, market), f"slot {k} moves to "
                    f"{market_label(market)}; replaces {o.instance_id} once it runs",
                    slot=k, fallback=False, replaces=old,
                    zones=choice.zones if market == "spot" else None))
    for o, k in kept if choice is not None else ():
        if o.instance_id in choice.home and o.market == "spot":
            old = _end(o, "terminate", True, instance_price(pool, o.market),
                       f"replaced by spot in the home zone for slot {k}")
            actions.append(FleetAction(
                "launch", pool.pool, pool.region, pool.instance_type, "spot",
                instance_price(pool, "spot"), f"slot {k} moves back to its home zone "
                f"{pool.zone}; replaces {o.instance_id} once it runs", slot=k,
                fallback=False, replaces=old, zones="home"))

    soon = max(0, slots_wanted_soon(pool, at, period) - len(wanted))
    useless = [o for o in stopped if not _can_serve(pool, o, plan_id, commanded, carried)]
    stopped = [o for o in stopped if o not in useless]
    room = max(0, soon - len(stopped))
    for o in sorted(unclaimed, key=lambda o: (not _foreign(o, plan_id), o.launched_at,
                                              o.instance_id), reverse=True):
        price = instance_price(pool, o.market)
        if room and o.stoppable and _can_serve(pool, o, plan_id, commanded, carried):
            room -= 1
            resume = min(s.start for s in pool.slots if s.start > at)
            actions.append(_end(o, "stop", True, price,
                                f"not wanted until {_when(resume)}"))
        else:
            actions.append(_end(o, "terminate", True, price,
                                _gone_reason(pool, at) + _of_older(o, plan_id)))
    for o in sorted(stopped, key=lambda o: (_foreign(o, plan_id), o.launched_at,
                                            o.instance_id))[soon:]:
        actions.append(_end(o, "terminate", False, instance_price(pool, o.market),
                            "stopped and " + _gone_reason(pool, at) + _of_older(o, plan_id)))
    actions += [_end(o, "terminate", False, instance_price(pool, o.market),
                     "stopped, and it runs no slot of this plan" + _of_older(o, plan_id))
                for o in useless]
    return actions, kept


def _can_serve(pool: FleetPool, o: ObservedInstance, plan_id: str,
               commanded: frozenset[str], carried: Mapping[str, int] | None) -> bool:
    """Whether some slot of ``pool`` runs what ``o`` runs: one that can serve none (a rank
    of an older plan's gang) is ended, never kept stopped for later."""
    work = instance_work(o, plan_id, commanded, carried)
    return any(slot_work(pool, k, commanded) == work for k in {s.slot for s in pool.slots})


def _gone_reason(pool: FleetPool, at: datetime) -> str:
    if all(s.end <= at for s in pool.slots):
        return "the plan's last slot of this pool has ended"
    return "not wanted within the next period"


def _slot_reason(pool: FleetPool, slot: int, at: datetime,
                 observed: Iterable[ObservedInstance] = ()) -> str:
    interval = slot_interval(pool, slot, at)
    reason = f"slot {slot} runs until {_when(interval[1])}" if interval else f"slot {slot}"
    lost = [o.instance_id for o in observed if o.slot == slot and o.interrupted]
    if lost:
        reason += f"; replaces {', '.join(lost)} interrupted by AWS"
    return reason
