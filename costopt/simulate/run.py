"""The simulation: carry a plan out against spot traces with the apply shell, and score it.

At each moment that can change something, in time order:

1. the in-process EC2 (:class:`~costopt.simulate.ec2.SimulatedEc2`) takes the traces' counts
   for that moment, interrupting spot instances beyond them;
2. when a slot starts or ends there, an instance was interrupted, capacity came back to a
   pool that was left short (refused at the last tick, or held unavailable since: at the
   end of its hold if its trace holds capacity then, else at its next rise), or the policy
   asked to review then (``review_seconds``), the
   policy gives the schedule to follow and
   :func:`~costopt.orchestrate.apply.apply_plan` reconciles towards it (``--yes``), writing
   an in-memory ledger exactly as ``apply`` writes its own.

Ticks where no trace changes and no slot starts or ends are skipped: nothing would happen
there. The runs in the ledger then give each job's progress, each piece of a run credited by
the plan whose slot its instance served then (:mod:`costopt.simulate.whole`), and the
ledger's runtimes what it cost.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from costopt.core.pool_ids import parse_pool_id
from costopt.orchestrate.apply import ApplyOptions
from costopt.orchestrate.controller import Controller, ControllerOptions, WorkloadContext
from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.policy import Policy
from costopt.orchestrate.progress import (
    JobProgress,
    Run,
    runs_from_ledger,
)
from costopt.orchestrate.steer import progress_model
from costopt.plan.pools import build_pools
from costopt.planfile import PlanDocument
from costopt.pricing.catalog import PriceCatalog
from costopt.simulate.ec2 import SimulatedEc2
from costopt.simulate.whole import InForce, whole_progress
from costopt.traces import PoolTrace, check_coverage, traces_by_pool
from costopt.workload import Workload
from costopt.workload_checks import price_date_of

Say = Callable[[str, str], None]


@dataclass
class Simulation:
    """What a simulation did. USD figures are what the ledger's runtimes cost at the plan's
    prices (cloud) and the owned energy of the plans in force (each while it was)."""

    policy: str
    plan: PlanDocument
    jobs: dict[str, JobProgress]
    runs: list[Run]
    cloud_usd: float
    owned_usd: float
    reconciles: int = 0
    replans: int = 0
    moments: int = 0  # moments looked at (trace changes and slot boundaries)
    launches: int = 0
    interruptions: int = 0
    said: dict[str, int] = field(default_factory=dict)  # messages of the apply shell, by kind
    notes: list[str] = field(default_factory=list)

    @property
    def realised_usd(self) -> float:
        return self.cloud_usd + self.owned_usd

    @property
    def unattributed_usd(self) -> float:
        """Cloud cost credited to no job: instances serving no slot with uses, in
        pool-periods their plan assigns no job to."""
        return self.cloud_usd - sum(p.cloud_usd for p in self.jobs.values())


def _moments(sources: dict[str, list[PoolTrace]], always: set[datetime], start: datetime,
             end: datetime) -> list[tuple[datetime, list[tuple[str, int]]]]:
    """Each moment to look at - those ``always`` looked at and every trace change - with the
    pools whose capacity is set then (pool, count): a pool of one trace has the count its
    change gives, one of several (a regional pool's zones) their counts then, added up.
    (Each change's count taken as it comes, not looked up again: 89 -> 56 ms for the
    example's 57 traces of 8,064 ticks, under 1 % of a scenario; docs/risk.md.)"""
    by_moment: dict[datetime, dict[str, int]] = {m: {} for m in always if start <= m <= end}
    for pool, pool_traces in sources.items():
        for t in pool_traces:
            for moment, count in t.changes(start, end):
                pools = by_moment.setdefault(moment, {})
                if pool not in pools:
                    pools[pool] = count if len(pool_traces) == 1 else sum(
                        other.count_at(moment) for other in pool_traces)
    return [(m, sorted(pools.items())) for m, pools in sorted(by_moment.items())]


def _notes(plan: PlanDocument, workload: Workload, catalog: PriceCatalog,
           traces: list[PoolTrace], sources: dict[str, list[PoolTrace]]) -> list[str]:
    """Traces the plan has no pool for; price data other than the plan's."""
    used = {id(t) for pool_traces in sources.values() for t in pool_traces}
    spot_pools = ", ".join(p.pool for p in plan.fleet if p.market == "spot") or "it has none"
    notes = [f"the trace {t.file} of {t.pool.text} matches no spot pool of the plan "
             f"({spot_pools}); it is not used" for t in traces if id(t) not in used]
    today = price_date_of(workload, catalog).isoformat()
    if (catalog.source, today) != (plan.prices.get("source"), plan.prices.get("price_date")):
        notes.append(f"the plan was made with the prices of {plan.prices.get('source')} "
                     f"({plan.prices.get('price_date')}); the hindsight optimum uses "
                     f"{catalog.source} ({today}), so the two are not priced alike")
    return notes


def _spot_pool_ids(plan: PlanDocument, context: WorkloadContext | None) -> list[str]:
    """The spot pools the plan, or a re-plan of its workload, may run."""
    ids = [p.pool for p in plan.fleet if p.market == "spot"]
    if context is not None:
        ids += [p.id for p in build_pools(context.workload, context.catalog).cloud
                if p.market == "spot"]
    return list(dict.fromkeys(ids))


def simulate(plan: PlanDocument, *, workload: Workload, catalog: PriceCatalog,
             traces: list[PoolTrace], policy: Policy | None = None,
             options: ApplyOptions | None = None, replan: bool = True,
             hold: timedelta | None = None, say: Say | None = None) -> Simulation:
    """Carry ``plan`` out against ``traces`` from its horizon's start to its end, as
    ``watch`` would (re-plans included unless ``replan`` is false). ``policy``: steer by a
    named policy instead (a baseline: no re-plan). ``hold``: how long a pool that refused
    spot is held unavailable at first (the controller's default otherwise)."""
    model = progress_model(plan, workload, catalog)
    start, end = model.mix.period_starts[0], model.mix.end
    context = WorkloadContext(workload, catalog, str(plan.workload.get("file") or ""),
                              str(plan.workload.get("sha256") or ""))
    replans = replan and policy is None
    sources = traces_by_pool(_spot_pool_ids(plan, context if replans else None), traces)
    check_coverage(sources, start, end)
    notes = _notes(plan, workload, catalog, traces, sources)
    settings = ControllerOptions(replace(options or ApplyOptions(), yes=True),
                                 replan=replans)
    if hold is not None:
        settings = replace(settings, hold=hold)
    review = policy.review_seconds if policy is not None else \
        settings.review.total_seconds() if replans else None  # as written: slots and traces
    always = {m for p in plan.fleet for s in p.slots for m in (s.start, s.end)} | {start, end}
    if review:
        step = timedelta(seconds=review)
        always |= {start + k * step for k in range(int((end - start) / step) + 1)}
    said: dict[str, int] = {}

    def tell(kind: str, message: str) -> None:
        said[kind] = said.get(kind, 0) + 1
        if say is not None:
            say(kind, message)

    fleet = SimulatedEc2(start)
    fleet.zone_ids = {parse_pool_id(p).zone_id for p in sources} - {None} | {
        p.zone for p in plan.fleet if p.zone}
    ledger = Ledger.in_memory()
    controller = Controller(plan, fleet=fleet, ledger=lambda: nullcontext(ledger),
                            options=settings, say=tell, context=context, policy=policy)
    in_force = [InForce(start, plan.plan_id, model)]
    try:
        short: set[str] = set()  # pools left without an instance they wanted
        hold_ends: dict[datetime, set[str]] = {}  # when a short pool's hold runs out
        reconciles = interrupted = 0
        moments = _moments(sources, always, start, end)
        queue = list(moments)  # sorted; a new plan's slot boundaries join it as they come
        while queue:
            moment, counts = heapq.heappop(queue)
            while queue and queue[0][0] == moment:  # one tick a moment, all it sets at once
                counts = counts + heapq.heappop(queue)[1]
            fleet.advance(moment)
            lost = 0
            came_back = False
            for pool, count in counts:
                before = fleet.capacity.get(pool)
                lost += fleet.set_capacity(pool, count)
                came_back |= pool in short and (before is None or count > before)
            interrupted += lost
            came_back |= any(fleet.capacity.get(pool, 1) > 0
                             for pool in hold_ends.pop(moment, set()) & short)
            if not (lost or came_back or moment in always):
                continue
            outcome = controller.tick(moment)
            if outcome.replanned is not None:
                new = outcome.replanned
                in_force.append(InForce(moment, new.plan_id, controller.model(new)))
                later = {m for p in new.fleet for s in p.slots
                         for m in (s.start, s.end) if moment < m <= end} - always
                always |= later
                for m in later:
                    heapq.heappush(queue, (m, []))
            reconciles += len(outcome.applied)
            held = controller.offerings.held(moment)  # still short until it is tried again
            short = {a.pool for a in outcome.applied[-1].capacity_refused} | (short & set(held))
            for pool in short & set(held):
                if held[pool] <= end and pool not in hold_ends.get(held[pool], set()):
                    hold_ends.setdefault(held[pool], set()).add(pool)
                    heapq.heappush(queue, (held[pool], []))
        runs = runs_from_ledger(ledger.runtimes(start, end), ledger.interruptions(start, end),
                                end)
        jobs = whole_progress(model, in_force, runs, fleet.served, end)
    finally:
        ledger.close()
    return Simulation(
        policy=policy.name if policy is not None else "plan", plan=plan, jobs=jobs, runs=runs,
        cloud_usd=sum((r.end - r.start).total_seconds() / 3600 * r.usd_per_hour for r in runs),
        owned_usd=sum(p.owned_usd for p in jobs.values()), reconciles=reconciles,
        moments=len(moments), launches=fleet.launch_calls, interruptions=interrupted,
        replans=controller.replans, said=said, notes=notes)
