"""The apply shell: observe AWS, settle the ledger, reconcile, guard the budget, act.

One run at time ``at``:

0. Refuse a plan of the workload that a newer plan has replaced (the ledger keeps which
   plan of each workload is in force), unless asked to put it back in force.
1. Describe every instance of the plan's workload (tag ``costopt:workload``) in the plan's
   regions and those of the ledger's instances of the workload: the plan's own, and those
   of older plans of it, which this plan takes over (claims or ends). Those of a workload of
   the same name that another ledger runs are left alone, and reported
   (:mod:`costopt.orchestrate.ownership`).
2. Settle intents an earlier run wrote but never closed (a crash between the call and its
   result) from what AWS shows: an instance carrying the launch's ``ClientToken`` or its
   slot's tags is the launch's result, so nothing is launched twice.
3. Bring the ledger's runtimes in line with AWS (instances stopped, terminated or
   interrupted behind costopt's back) and record spot interruptions.
4. :func:`~costopt.orchestrate.reconcile.reconcile` gives the actions; the budget guard
   judges each launch and start.
5. Without ``yes`` that is all (a dry run: the ledger and AWS are left as they were).
   With it, stops and terminations go first, then starts, then launches, each written to
   the ledger before the call (intent) and after it (result). A launch that finds no spot
   capacity walks the fallback chain (:mod:`costopt.orchestrate.fallback`). An action AWS
   refuses (termination protection, a permission) is recorded, said and counted as failed;
   the run goes on with the others, and the next run tries it again.

A run that changed nothing is kept (:class:`QuietRun`); the next run of the same plan on the
same ledger, unwritten since, still describes AWS and reconciles, but where it sees the same
instances and no action it skips steps 0, 2 and 3 (each idempotent: they would find all as
that run left it) and the budget (nothing to judge). A run whose only changes were the
intents and results of calls AWS refused for want of capacity (a slot waiting for spot in
its home zone, tried at every tick) changed nothing either: the next run that sees the same
instances skips steps 0, 2 and 3 the same way, and judges and carries out its actions.
``simulate`` and ``risk`` tick every 15 minutes, mostly with nothing to do; ``apply`` runs
once and ``watch`` opens its ledger anew at each tick, so neither skips anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum

from costopt.core.months import Month
from costopt.core.pool_ids import parse_pool_id
from costopt.core.times import ts
from costopt.errors import AwsError, PlanReplaced
from costopt.orchestrate.ec2 import (
    CapacityError,
    LaunchRequest,
    LaunchSettings,
    run_instances_params,
)
from costopt.orchestrate.fallback import (
    LaunchTarget,
    gang_zone_first,
    launch_chain,
    remaining_chain,
)
from costopt.orchestrate.fleet import Fleet
from costopt.orchestrate.guard import BudgetGuard, Verdict, unrecorded_spend_usd
from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.ownership import Owner, split_by_owner
from costopt.orchestrate.progress import parse_progress_tag
from costopt.orchestrate.reconcile import (
    GONE,
    LIVE,
    FleetAction,
    MarketChoice,
    ObservedInstance,
    Reconciliation,
    instance_price,
    reconcile,
    resumes_within,
)
from costopt.orchestrate.userdata import checked_user_data, new_gang_id, slot_at
from costopt.planfile import FleetPool, PlanDocument, Slot

Say = Callable[[str, str], None]
"""``(kind, message)``: how the shell tells the user what it does, as it does it."""

ORDER = {"claim": 0, "terminate": 1, "stop": 2, "start": 3, "launch": 4}
UNSEEN = "no instance found after an interrupted run; the slot is launched again"


@dataclass(frozen=True)
class ApplyOptions:
    """What the user asked for. ``monthly_budget_usd`` overrides the plan's."""

    yes: bool = False
    monthly_budget_usd: float | None = None
    allow_over_budget: bool = False
    spot_attempts: int = 2
    launch: LaunchSettings = field(default_factory=lambda: LaunchSettings({}))
    reinstate: bool = False  # put back in force a plan a newer one of its workload replaced


class FailReason(str, Enum):
    """Why an action of a run failed."""

    CAPACITY = "capacity"  # no capacity anywhere the launch's chain allows (or to start in)
    AWS = "aws"  # AWS refused the call for another reason (a permission, a protection ...)
    BUDGET = "budget"  # the budget guard refused the fallback the chain came to


@dataclass(frozen=True)
class Failed:
    """An action that failed, and why."""

    action: FleetAction
    reason: FailReason


@dataclass
class ApplyOutcome:
    """What one run saw and did. USD per hour figures are the fleet's hourly cost."""

    plan_id: str
    at: datetime
    dry_run: bool
    reconciliation: Reconciliation
    observed: list[ObservedInstance]
    refused: list[tuple[FleetAction, Verdict]] = field(default_factory=list)
    done: list[FleetAction] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    capacity_refused: list[FleetAction] = field(default_factory=list)  # met a capacity
    # refusal on their own market (a fallback may then have run them elsewhere)
    budget_usd: float | None = None
    pools: dict[str, FleetPool] = field(default_factory=dict)
    foreign: list[ObservedInstance] = field(default_factory=list)  # another ledger's: untouched
    quiet: QuietRun | None = None  # what it saw, when it changed nothing (the next run's
    # ``quiet``)

    @property
    def usd_per_hour_before(self) -> float:
        return sum(a.usd_per_hour for a in self.reconciliation.actions
                   if a.kind in ("stop", "terminate") and a.running) + sum(
            instance_price(self.pools[o.pool], o.market)
            for o, _k in self.reconciliation.kept if o.pool in self.pools)

    @property
    def usd_per_hour_change(self) -> float:
        refused = {a for a, _v in self.refused}
        return sum(a.usd_per_hour_change for a in self.reconciliation.actions
                   if a not in refused)


@dataclass(frozen=True)
class QuietRun:
    """What a run that changed nothing saw: no write to ``ledger`` by its bookkeeping
    (steps 0-4) and no progress tag; no action, or only actions AWS refused for want of
    capacity, whose intents and results are all it wrote (the ledger was then at
    ``version``: :meth:`~costopt.orchestrate.ledger.Ledger.version`). A later run of the
    same plan on the same ledger, unwritten since, that describes the same instances would
    find the ledger's bookkeeping (steps 0-3: the plan in force, intents - its own all
    closed -, runtimes, interruptions, tags) as this run left it, every step idempotent: it
    skips them; with no action it has nothing to judge or do either. An instance changed
    from outside (terminated by hand, interrupted) describes differently: so it has
    them."""

    plan: PlanDocument
    plan_path: str | None
    options: ApplyOptions
    ledger: Ledger
    version: tuple[object, ...]
    regions: list[str]
    owner: Owner
    observed: list[ObservedInstance]
    foreign: list[ObservedInstance]

    def holds(self, plan: PlanDocument, plan_path: str | None, options: ApplyOptions,
              ledger: Ledger | None, version: tuple[object, ...] | None) -> bool:
        """Whether a run of ``plan`` on ``ledger`` at ``version`` starts where this one
        ended (the same plan object, path, options and ledger connection, nothing written)."""
        return plan is self.plan and ledger is self.ledger and version == self.version \
            and plan_path == self.plan_path and options == self.options


def apply_plan(plan: PlanDocument, at: datetime, *, fleet: Fleet, ledger: Ledger | None,
               options: ApplyOptions, say: Say, plan_path: str | None = None,
               target: PlanDocument | None = None,
               markets: Mapping[str, MarketChoice] | None = None,
               quiet: QuietRun | None = None) -> ApplyOutcome:
    """Reconcile AWS with ``plan`` at ``at``; change nothing unless ``options.yes``.
    ``ledger`` may be ``None`` only for a dry run with no ledger yet. A policy steers with
    ``target`` (the schedule to reconcile towards instead of the plan's, same pools) and
    ``markets`` (its market choice per pool, :class:`~costopt.orchestrate.reconcile.MarketChoice`);
    the ledger records ``plan``. ``quiet``: the last run's :attr:`ApplyOutcome.quiet` (the
    ledger's bookkeeping is skipped where it would find everything as that run left it)."""
    pools = {p.pool: p for p in (target or plan).fleet}
    workload = plan.workload_name
    version = ledger.version() if ledger is not None else None
    known = quiet if quiet is not None and quiet.holds(plan, plan_path, options, ledger,
                                                       version) else None
    regions, owner = (known.regions, known.owner) if known is not None \
        else _take_charge(plan, at, ledger, options, plan_path)
    observed, foreign = split_by_owner(fleet.describe_workload(workload, regions), owner)
    recon = reconcile(target or plan, at, observed, markets)
    budget = options.monthly_budget_usd if options.monthly_budget_usd is not None \
        else plan.monthly_budget_usd
    outcome = ApplyOutcome(plan.plan_id, at, not options.yes, recon, observed,
                           budget_usd=budget, pools=pools, foreign=foreign)
    booked = known is not None and (observed, foreign) == (known.observed, known.foreign)
    if booked and not recon.actions:
        outcome.quiet = known  # step 2-4's bookkeeping would find all as the run it
        return outcome  # saw left it, and step 5 has nothing to do
    if options.yes and ledger is not None:
        if not booked:  # else it would find all as the run it saw left it
            _settle_pending(plan, observed, ledger, at, say)
            _sync_ledger(plan, observed, ledger, at, say)
            _record_progress_tags(plan, observed, ledger, at, say)
    else:
        for o in observed:
            if o.interrupted and o.state not in LIVE:
                say("interrupted", f"{o.instance_id} ({o.pool} slot {o.slot}) was reclaimed "
                    f"by AWS ({o.state_reason})")
    if ledger is not None and recon.count("claim"):
        recon = outcome.reconciliation = _claims_at_own_price(recon, ledger)
    gang_ids, gang_zones = _gangs(target or plan, at, recon, observed, owner.owner_id)
    scripts = _user_data(target or plan, at, recon, plan_path or plan.plan_id, gang_ids)
    judged: list[tuple[FleetAction, Verdict | None]] = [(a, None) for a in recon.actions]
    guard = None
    if budget is not None and any(a.kind in ("launch", "start") for a in recon.actions):
        recorded = {i.instance_id for i in ledger.instances()} if ledger else set()
        spent = _spent_this_month(plan, ledger, at, observed) + unrecorded_spend_usd(
            observed + foreign, recorded, pools, Month.of(at).start, at)
        guard = BudgetGuard(budget_usd=budget, spent_usd=spent, at=at, fleet=pools,
                            kept=recon.kept)
        judged = [(a, guard.judge(a) if a.kind in ("launch", "start") else None)
                  for a in recon.actions]
        outcome.refused = [(a, v) for a, v in judged if v is not None and not v.allowed
                           and not options.allow_over_budget]
    if not options.yes or ledger is None:
        return outcome
    unwritten = version is not None and ledger.version() == version \
        and not any(o.progress for o in observed)  # steps 0-4 wrote nothing
    if not recon.actions:
        if unwritten:
            outcome.quiet = QuietRun(plan, plan_path, options, ledger, version, regions,
                                     owner, observed, foreign)
        return outcome

    carrier = _Carrier(target or plan, at, uuid.uuid4().hex[:12], fleet, ledger, options, say,
                       guard, owner.owner_id, scripts, gang_zones, gang_ids)
    for action, verdict in sorted(judged, key=lambda pair: ORDER[pair[0].kind]):
        if verdict is not None and not verdict.allowed and not options.allow_over_budget:
            carrier.refuse(action, verdict)
            continue
        failure = carrier.launch(action, verdict) if action.kind == "launch" \
            else carrier.change(action)
        if failure is None:
            outcome.done.append(action)
        else:
            outcome.failed.append(Failed(action, failure))
        if (action.pool, action.slot) in carrier.short:
            outcome.capacity_refused.append(action)
    if unwritten and not outcome.done and not outcome.refused \
            and all(f.reason is FailReason.CAPACITY for f in outcome.failed):
        outcome.quiet = QuietRun(plan, plan_path, options, ledger, ledger.version(), regions,
                                 owner, observed, foreign)  # it wrote only its closed
        # intents of calls AWS refused for want of capacity: the fleet is as it saw it
    return outcome


def _take_charge(plan: PlanDocument, at: datetime, ledger: Ledger | None,
                 options: ApplyOptions, plan_path: str | None) -> tuple[list[str], Owner]:
    """Steps 0-1 before AWS is described: refuse a replaced plan; with ``options.yes``,
    record the plan and put it in force. The regions to describe (the plan's and those of
    the ledger's instances and plans of the workload), and what makes an instance the
    ledger's."""
    workload = plan.workload_name
    if ledger is not None and not options.reinstate:
        _refuse_if_replaced(plan, ledger)
    same = (ledger.plan_ids_of(workload) if ledger else set()) | {plan.plan_id}
    known_regions = {i.region for i in ledger.instances(plan_ids=same)} | {
        p["region"] for d in ledger.plans() if d["plan_id"] in same for p in d["fleet"]
    } if ledger else set()
    regions = sorted({p.region for p in plan.fleet} | known_regions)
    if options.yes:
        if ledger is None:
            raise ValueError("a run that changes AWS needs a ledger")
        if not ledger.has_plan(plan.plan_id, plan_path):
            ledger.record_plan(plan.model_dump(mode="json", by_alias=True), plan_path, at)
        ledger.put_in_force(workload, plan.plan_id, at)
    owner = Owner(ledger.owner_id(create=options.yes) if ledger else None,
                  {i.instance_id for i in ledger.instances()} if ledger else set(), same)
    return regions, owner


def _claims_at_own_price(recon: Reconciliation, ledger: Ledger) -> Reconciliation:
    """``recon`` with each claim of a spot instance at the price the ledger has it at: one
    the fallback chain launched in another zone goes on costing that zone's price under the
    plan that takes it over (it was re-priced at its pool's home zone's price)."""
    paid = {i.instance_id: i.usd_per_hour for i in ledger.instances() if i.market == "spot"}
    return replace(recon, actions=tuple(
        replace(a, usd_per_hour=paid[a.instance_id]) if a.kind == "claim"
        and a.market == "spot" and a.instance_id in paid else a for a in recon.actions))


def _user_data(plan: PlanDocument, at: datetime, recon: Reconciliation, plan_file: str,
               gang_ids: Mapping[tuple[str, int], str]
               ) -> dict[tuple[str, int], tuple[Slot, str | None]]:
    """The slot each launch serves and its user data, by (pool, slot); all made before
    anything is launched, so that a script too long for AWS stops the run whole."""
    pools = {p.pool: p for p in plan.fleet}
    out: dict[tuple[str, int], tuple[Slot, str | None]] = {}
    for action in recon.actions:
        if action.kind != "launch" or action.slot is None:
            continue
        pool = pools[action.pool]
        slot = slot_at(pool, action.slot, at)
        if slot is not None:
            gang_id = gang_ids.get((pool.pool, slot.gang)) if slot.gang is not None else None
            out[(pool.pool, action.slot)] = (slot, checked_user_data(plan, pool, slot,
                                                                     plan_file, gang_id))
    return out


def _gangs(plan: PlanDocument, at: datetime, recon: Reconciliation,
           observed: list[ObservedInstance], owner_id: str | None
           ) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]]:
    """``(gang id, zone)`` of each multi-node gang of the plan, by (pool, gang): the
    ``costopt:gang-id`` of the ranks the run keeps or starts (whichever plan launched them),
    else a new one (:func:`~costopt.orchestrate.userdata.new_gang_id`); and the zone its
    running ranks are in, where one runs."""
    pools = {p.pool: p for p in plan.fleet}
    by_id = {o.instance_id: o for o in observed}
    serving = list(recon.kept) + [(by_id[a.instance_id], a.slot) for a in recon.actions
                                  if a.kind == "start" and a.instance_id in by_id
                                  and a.slot is not None]
    ids: dict[tuple[str, int], str] = {}
    zones: dict[tuple[str, int], str] = {}
    for o, k in serving:
        slot = slot_at(pools[o.pool], k, at) if o.pool in pools else None
        if slot is None or slot.gang is None:
            continue
        if o.gang_id:
            ids.setdefault((o.pool, slot.gang), o.gang_id)
        if o.state in LIVE and o.az:
            zones.setdefault((o.pool, slot.gang), o.az)
    for pool in plan.fleet:
        for gang in {s.gang for s in pool.slots if s.gang is not None}:
            ids.setdefault((pool.pool, gang), new_gang_id(plan.plan_id, gang, owner_id))
    return ids, zones


def _refuse_if_replaced(plan: PlanDocument, ledger: Ledger) -> None:
    """Raise :class:`PlanReplaced` when a newer plan of the workload replaced this one."""
    current = ledger.plan_in_force(plan.workload_name)
    if current is None or current[0] == plan.plan_id \
            or not ledger.was_in_force(plan.workload_name, plan.plan_id):
        return
    newer, since = current
    raise PlanReplaced(
        f"plan {plan.plan_id} of workload {plan.workload_name!r} was replaced by plan {newer} "
        f"on {ts(since)}; applying it would take the fleet back to "
        f"an older plan. Nothing was changed. To fix: apply the plan file of {newer}, make a "
        "new plan with `costopt plan`, or pass --reinstate to put this plan back in force")


def _spent_this_month(plan: PlanDocument, ledger: Ledger | None, at: datetime,
                      observed: list[ObservedInstance]) -> float:
    """Cloud spend (USD) of the workload's plans from the month's start until ``at``: every
    plan of the workload the ledger holds or AWS shows an instance of, not only this one."""
    if ledger is None:
        return 0.0
    start = Month.of(at).start
    same = ledger.plan_ids_of(plan.workload_name) | {plan.plan_id} | {
        o.plan_id for o in observed if o.plan_id}
    return ledger.spent_usd(same, start, at)


def _settle_pending(plan: PlanDocument, observed: list[ObservedInstance], ledger: Ledger,
                    at: datetime, say: Say) -> None:
    """Close the intents a crashed run left open, from AWS's own state."""
    pending = ledger.pending(plan.plan_id)
    if not pending:
        return
    known = {i.instance_id for i in ledger.instances()}
    by_id = {o.instance_id: o for o in observed}
    pools = {p.pool: p for p in plan.fleet}
    for intent in pending:
        if intent.kind == "launch":
            found = next((o for o in observed if intent.client_token
                          and o.client_token == intent.client_token), None) or next(
                (o for o in observed if o.pool == intent.pool and o.slot == intent.slot
                 and o.plan_id in (None, plan.plan_id) and o.instance_id not in known
                 and o.state not in GONE), None)
            if found is None:
                ledger.result(intent.id, "failed", detail=UNSEEN)
                continue
            ledger.result(intent.id, "ok", instance_id=found.instance_id,
                          detail="settled from AWS after an interrupted run")
            known.add(found.instance_id)
            price = instance_price(pools[intent.pool], found.market) \
                if intent.pool in pools else (intent.usd_per_hour or 0.0)
            _record_running(ledger, plan, found, intent.at, price)
            say("recovered", f"the launch of {intent.pool} slot {intent.slot} cut short by an "
                f"earlier run did happen: {found.instance_id}; not launched again")
            continue
        inst = by_id.get(intent.instance_id or "")
        reached = inst is not None and (
            (intent.kind == "start" and inst.state in LIVE)
            or (intent.kind == "stop" and inst.state not in LIVE)
            or (intent.kind == "terminate" and inst.state in GONE)
            or (intent.kind == "claim" and inst.plan_id == intent.plan_id))
        if reached and inst is not None:  # finish it: the record first, then the result
            if intent.kind == "claim":  # AWS's tags say the takeover happened
                ledger.instance_claimed(inst.instance_id, plan_id=intent.plan_id,
                                        slot=intent.slot, usd_per_hour=intent.usd_per_hour
                                        or 0.0, at=intent.at)
            elif intent.kind == "start":
                _record_running(ledger, plan, inst, intent.at,
                                intent.usd_per_hour or 0.0)
            else:
                ledger.instance_halted(inst.instance_id, intent.at,
                                       ended=intent.kind == "terminate")
            say("recovered", f"the {intent.kind} of {inst.instance_id} cut short by an earlier "
                "run did happen")
        ledger.result(intent.id, "ok" if reached else "failed",
                      detail="settled from AWS after an interrupted run" if reached else
                      "not done at AWS when an earlier run was cut short: undone")


def _record_progress_tags(plan: PlanDocument, observed: list[ObservedInstance],
                          ledger: Ledger, at: datetime, say: Say) -> None:
    """What jobs say on their instances' ``costopt:progress`` tags, recorded as reports the
    first time a value is seen (the tag does not say when the job set it)."""
    last = {r.job: r.done_gpu_hours for r in ledger.progress_reports(plan.plan_id)}
    for o in observed:
        if not o.progress:
            continue
        said, problem = parse_progress_tag(o.progress)
        if problem:
            say("failed", f"{o.instance_id}: costopt:progress = {o.progress!r} ignored: {problem}")
        for job, done in said.items():
            if last.get(job) != done:
                ledger.report_progress(plan_id=plan.plan_id, job=job, at=at,
                                       done_gpu_hours=done, source="tag")
                last[job] = done


def _record_running(ledger: Ledger, plan: PlanDocument, o: ObservedInstance, at: datetime,
                    usd_per_hour: float) -> None:
    ledger.instance_running(instance_id=o.instance_id, plan_id=o.plan_id or plan.plan_id,
                            pool=o.pool,
                            region=o.region, instance_type=o.instance_type
                            or parse_pool_id(o.pool).instance_type, market=o.market,
                            slot=o.slot, az=o.az,
                            usd_per_hour=usd_per_hour, at=at)


def _sync_ledger(plan: PlanDocument, observed: list[ObservedInstance], ledger: Ledger,
                 at: datetime, say: Say) -> None:
    """Runtimes and interruptions as AWS shows them (changes made behind costopt's back),
    for the instances of every plan of the workload. An instance the ledger does not know
    is *adopted*: billed from when AWS says it launched, at the plan's price for its pool."""
    pools = {p.pool: p for p in plan.fleet}
    same = ledger.plan_ids_of(plan.workload_name) | {plan.plan_id} | {
        o.plan_id for o in observed if o.plan_id}
    known = {i.instance_id: i for i in ledger.instances(plan_ids=same)}
    running = ledger.open_runtime_starts(*same)
    for o in observed:
        price = instance_price(pools[o.pool], o.market) if o.pool in pools else 0.0
        halted_at = o.changed_at if o.changed_at and running.get(
            o.instance_id, at) <= o.changed_at <= at else at
        if o.instance_id not in known:
            if o.state in LIVE:
                since = min(o.launched_at, at)
                _record_running(ledger, plan, o, since, price)
                say("adopted", f"{o.instance_id} carries the tags of workload "
                    f"{plan.workload_name!r} but was not in the ledger; it is counted from its "
                    f"launch at {ts(since)}")
        elif o.state in LIVE and o.instance_id not in running:
            _record_running(ledger, plan, o, at, known[o.instance_id].usd_per_hour)
        elif o.state not in LIVE and o.instance_id in running:
            ledger.instance_halted(o.instance_id, halted_at, ended=o.state in GONE)
        elif o.state in GONE and known[o.instance_id].ended_at is None:
            ledger.instance_halted(o.instance_id, halted_at, ended=True)
        if o.interrupted and o.state not in LIVE and ledger.record_interruption(
                instance_id=o.instance_id, plan_id=plan.plan_id, pool=o.pool, at=halted_at,
                reason=o.state_reason or ""):
            say("interrupted", f"{o.instance_id} ({o.pool} slot {o.slot}) was reclaimed by "
                f"AWS ({o.state_reason}); recorded, and its slot is replaced")
    seen = {o.instance_id for o in observed}
    for instance_id, record in known.items():
        if instance_id not in seen and record.ended_at is None:
            ledger.instance_halted(instance_id, at, ended=True)


@dataclass
class _Carrier:
    """Carries the actions of one run out, each with its intent and result in the ledger."""

    plan: PlanDocument
    at: datetime
    run_id: str
    fleet: Fleet
    ledger: Ledger
    options: ApplyOptions
    say: Say
    guard: BudgetGuard | None
    owner_id: str | None
    scripts: dict[tuple[str, int], tuple[Slot, str | None]] = field(default_factory=dict)
    gang_zones: dict[tuple[str, int], str] = field(default_factory=dict)
    gang_ids: dict[tuple[str, int], str] = field(default_factory=dict)
    short: set[tuple[str, int | None]] = field(default_factory=set)  # (pool, slot) refused
    # for want of capacity on the market asked for

    def _intent(self, action: FleetAction, **fields: object) -> int:
        return self.ledger.intent(run_id=self.run_id, plan_id=self.plan.plan_id, at=self.at,
                                  kind=action.kind, pool=action.pool, slot=action.slot,
                                  region=action.region, **fields)  # type: ignore[arg-type]

    def refuse(self, action: FleetAction, verdict: Verdict, usd_per_hour: float | None = None,
               prefix: str = "") -> None:
        """Record and say a launch or start the budget guard refused."""
        message = verdict.message(action)
        self.ledger.result(self._intent(action, instance_id=action.instance_id,
                                        usd_per_hour=usd_per_hour or action.usd_per_hour,
                                        detail=message), "refused")
        self.say("refused", prefix + message)

    def change(self, action: FleetAction) -> FailReason | None:
        """Claim, start, stop or terminate one instance; why it failed, if it did."""
        instance_id = action.instance_id or ""
        intent = self._intent(action, instance_id=instance_id,
                              usd_per_hour=action.usd_per_hour, detail=action.reason)
        try:
            if action.kind == "claim":
                pool = next(p for p in self.plan.fleet if p.pool == action.pool)
                serves = slot_at(pool, action.slot, self.at) if action.slot is not None \
                    else None
                self.fleet.claim(action.region, instance_id, self.plan.plan_id, action.slot,
                                 action.instance_type, serves.gang if serves else None)
            elif action.kind == "start":
                self.fleet.start(action.region, instance_id)
            elif action.kind == "stop":
                self.fleet.stop(action.region, instance_id)
            else:
                self.fleet.terminate(action.region, instance_id, action.spot_request_id)
        except CapacityError as exc:  # a stopped spot instance with no capacity to start in
            self.ledger.result(intent, "failed", detail=f"capacity: {exc}")
            self.short.add((action.pool, action.slot))
            self.say("failed", f"no capacity to start {instance_id} ({action.pool}): "
                     f"{exc.code}; the next run tries again")
            return FailReason.CAPACITY
        except AwsError as exc:  # one stuck instance is one problem: the rest goes on
            self.ledger.result(intent, "failed", detail=str(exc))
            self.say("failed", f"{action.kind} of {instance_id} ({action.pool}) failed: {exc}; "
                     "the other changes go on, and the next run tries it again")
            return FailReason.AWS
        # Intent, call, the instance's record, then the result: a run killed in between
        # leaves the intent open, and the next run finishes it from AWS's state
        # (_settle_pending; each record is idempotent).
        if action.kind == "claim":
            self.ledger.instance_claimed(instance_id, plan_id=self.plan.plan_id,
                                         slot=action.slot, usd_per_hour=action.usd_per_hour,
                                         at=self.at)
        elif action.kind == "start":
            self.ledger.instance_running(
                instance_id=instance_id, plan_id=self.plan.plan_id, pool=action.pool,
                region=action.region, instance_type=action.instance_type,
                market=action.market, slot=action.slot, az=None,
                usd_per_hour=action.usd_per_hour, at=self.at)
        else:
            self.ledger.instance_halted(instance_id, self.at, ended=action.kind == "terminate")
        self.ledger.result(intent, "ok")
        self.say(action.kind, f"{action.kind} {instance_id} ({action.pool}): {action.reason}")
        return None

    def _no_zone(self, action: FleetAction, target: LaunchTarget, price: float) -> None:
        """A zone the plan names that this account's DescribeAvailabilityZones does not
        show: a failed step of the walk (the next run goes on from the step after)."""
        intent = self._intent(action, usd_per_hour=price, detail=target.describe())
        self.ledger.result(intent, "failed", detail=_no_zone_detail(target))
        self.say("fallback", f"{action.pool} slot {action.slot}: zone {target.zone_id} is not "
                 "offered to this account; trying the next step")

    def launch(self, action: FleetAction, verdict: Verdict | None) -> FailReason | None:
        """Launch one slot's instance, walking the fallback chain when capacity fails; why
        it failed, if it did."""
        pool = next(p for p in self.plan.fleet if p.pool == action.pool)
        failures, attempt = self.ledger.launch_history(self.plan.plan_id, pool.pool,
                                                       action.slot, UNSEEN)
        home_only = action.zones == "home"
        regional_spot = action.market == "spot" and pool.zone is None
        zones = self.fleet.zones(pool.region) if regional_spot and not home_only else []
        zoned = action.market == "spot" and pool.zone is not None
        placements = self.fleet.placements(pool.region) if zoned else {}
        prices = {pool.zone: pool.usd_per_hour} if pool.zone is not None and (
            home_only or not pool.spot_zone_prices) else pool.spot_zone_prices
        chain = launch_chain(action.market, zones, self.options.spot_attempts,
                             pool.on_demand_fallback and action.fallback,
                             home_zone=pool.zone if zoned else None,
                             zone_prices=prices if zoned else {})
        settings = self.options.launch
        image = settings.image_for(pool.region)
        if image is None and settings.launch_template is None:
            image = self.fleet.default_image(pool.region)
        period = timedelta(hours=int(self.plan.horizon["period_hours"]))
        serves, script = self.scripts.get((pool.pool, action.slot or 0), (None, None))
        gang = (pool.pool, serves.gang) if serves and serves.gang is not None else None
        targets = remaining_chain(chain, failures) if action.zones is None else chain
        if gang is not None:
            targets = gang_zone_first(targets, self.gang_zones.get(gang))
        for target in targets:
            price = instance_price(pool, target.market) if target.usd_per_hour is None \
                else target.usd_per_hour
            placement = placements.get(target.zone_id) if target.zone_id else None
            if target.zone_id and placement is None:
                self._no_zone(action, target, price)
                continue
            if (target.market, price) != (action.market, action.usd_per_hour) \
                    and self.guard and verdict:
                self.guard.withdraw(verdict)
                verdict = self.guard.judge(_on(action, target, price))
                if not verdict.allowed and not self.options.allow_over_budget:
                    self.guard.withdraw(verdict)
                    self.refuse(action, verdict, price, f"fallback to {target.describe()}: ")
                    return FailReason.BUDGET
            request = LaunchRequest(self.plan.plan_id, self.plan.workload_name,
                                    pool, action.slot or 0, target, attempt,
                                    persistent=resumes_within(pool, period), serves=serves,
                                    user_data=script, owner=self.owner_id,
                                    gang_id=self.gang_ids.get(gang) if gang else None)
            params = run_instances_params(request, image, settings.launch_template, placement)
            intent = self._intent(action, client_token=params["ClientToken"],
                                  usd_per_hour=price, detail=target.describe())
            attempt += 1
            try:
                instance_id, az = self.fleet.launch(params, pool.region)
            except CapacityError as exc:
                self.ledger.result(intent, "failed",
                                   detail=f"capacity: {exc} ({target.describe()})")
                if target.market == action.market and action.zones != "all":
                    self.short.add((action.pool, action.slot))  # not a job behind's walk to
                    # on-demand: its pace runs it there anyway, no hold or re-plan is owed
                self.say("fallback", f"no capacity for {pool.pool} slot {action.slot} "
                         f"({target.describe()}): {exc.code}; trying the next step")
                continue
            except AwsError as exc:  # not for want of capacity: the other slots go on
                self.ledger.result(intent, "failed", detail=str(exc))
                if self.guard and verdict:
                    self.guard.withdraw(verdict)
                self.say("failed", f"the launch of {pool.pool} slot {action.slot} failed: "
                         f"{exc}; the other changes go on, and the next run tries it again")
                return FailReason.AWS
            self.ledger.result(intent, "ok", instance_id=instance_id)
            if gang is not None and az:
                self.gang_zones.setdefault(gang, az)
            self.ledger.instance_running(
                instance_id=instance_id, plan_id=self.plan.plan_id, pool=pool.pool,
                region=pool.region, instance_type=pool.instance_type, market=target.market,
                slot=action.slot, az=az, usd_per_hour=price, at=self.at)
            fell_back = " (fallback)" if target != chain[0] else ""
            self.say("launch", f"launch {instance_id} ({pool.pool} slot {action.slot}, "
                     f"{target.describe()}{fell_back}, {price:,.4f} USD/h): {action.reason}")
            if action.replaces is not None:
                self.change(action.replaces)
            return None
        if self.guard and verdict:
            self.guard.withdraw(verdict)
        self.say("failed", f"no capacity for {pool.pool} slot {action.slot} anywhere the plan "
                 "allows (" + ", ".join(t.describe() for t in chain) + "); the next run tries "
                 "again")
        return FailReason.CAPACITY


def _no_zone_detail(target: LaunchTarget) -> str:
    return (f"capacity: zone {target.zone_id} is not offered to this account "
            f"({target.describe()})")


def _on(action: FleetAction, target: LaunchTarget, price: float) -> FleetAction:
    """``action`` on ``target``'s market at ``price``: still the swap it was (a swap to spot
    in another zone, judged without the instance it ends, was refused as a second instance
    and kept on-demand to its slot's end)."""
    return replace(action, market=target.market, usd_per_hour=price)
