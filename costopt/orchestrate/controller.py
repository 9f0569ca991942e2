"""The controller: one tick that observes, decides and reconciles (spec v3, designs 3-5).

``apply`` runs one tick, ``watch`` a tick per interval and ``simulate`` a tick per moment
that can change something; all three build a :class:`Controller` and call
:meth:`Controller.tick`. The moment is passed in (the controller has no clock); the fleet
(boto3's edge or the simulation's EC2), the ledger and the workload are injected.

A tick at ``at``:

1. *Observe*: each job's progress (the ledger's runs and reports, when the workload the plan
   was made from is known), the offerings held unavailable.
2. *Decide*: the plan in force is carried out - every slot it holds at ``at`` - with
   these corrections (:mod:`costopt.orchestrate.markets`: Uniform Progress's rule laid over
   the plan):
   a. slots whose jobs are all done are dropped (the plan would run them idle);
   b. a spot slot runs on-demand while one of its jobs is behind Uniform Progress's line
      (or on the floor), on spot otherwise; a spot launch that finds no capacity does not
      fall back to on-demand: a job ahead of its line waits for spot in its slot's home
      zone (tried again at every tick), a job behind tries every zone's spot before
      on-demand, and on-demand ends only once the spot instance replacing it runs; a slot
      of a job ahead running in a dearer zone than its pool's is moved home when that pays
      (the instances the ledger has running at another zone's price); a slot on-demand
      whose home zone is held swaps to any zone's spot once safely ahead by two switches;
   c. spot first: an on-demand slot whose jobs are ahead runs on the plan's spot pool of
      those jobs instead (the plan's reserve is spent last);
   d. the floor: a job that could no longer finish if it waited one more review, even on
      its fastest capacity without a break, and that no slot serves, gets an on-demand slot
      of one review now.
3. *Reconcile*: :func:`~costopt.orchestrate.apply.apply_plan` towards that schedule.
4. *Events* (each re-plans what is left, :func:`~costopt.orchestrate.replan.replan`, puts
   the new plan in force and reconciles towards it in the same tick; the takeover keeps
   the instances the new plan still wants):
   - REFUSED: a spot pool refused capacity and its hold (:class:`UnavailableOfferings`)
     reached ``move_after`` while the workload has a spot pool not held - a long outage,
     another zone may do better (a short one is waited out without an LP; a refusal while
     its pool is held is no new strike; one met only by launches waiting for their home
     zone - jobs ahead, :mod:`costopt.orchestrate.markets` - holds it but re-plans
     nothing);
   - BEHIND: a job behind its *planned* progress by more than the tolerance and behind
     Uniform Progress's line too (its deadline at risk), with a spot pool not held that the
     plan gives it no slot on (:meth:`Controller._may_move`);
   - DONE_EARLY: a job done while the plan still holds slots for it, with others left;
   - FLOOR: a job on the floor that no slot serves (at once, whatever the rate limit).
   Re-plans are rate-limited: at most one per ``replan_gap`` unless urgent, and made in
   the first ``review`` of an hour (a re-plan's horizon starts at the hour: later in it, the
   plan counts on work in the part gone - owned servers' work that is never done); events
   that wait are kept for the first tick that may. The holds are kept in the ledger
   (``offering_holds``), so a later ``apply`` knows what an earlier one was refused.

Interruptions are not events of their own: an interrupted slot is relaunched as the plan
says; a relaunch that finds no capacity is a refusal, and the work lost shows as the job
falling behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from costopt.core.times import ts
from costopt.errors import CostoptError
from costopt.orchestrate.apply import (
    ApplyOptions,
    ApplyOutcome,
    Failed,
    QuietRun,
    Say,
    apply_plan,
)
from costopt.orchestrate.fleet import Fleet
from costopt.orchestrate.ledger import InstanceRecord, Ledger
from costopt.orchestrate.markets import (
    AwayRun,
    AwayRuns,
    LiveMarkets,
    cloud_rate,
    job_paces,
    pace_basis,
    pace_choice,
    serving,
    spot_first,
    spot_markets,
)
from costopt.orchestrate.pace import JobPace, PaceState
from costopt.orchestrate.policy import Policy, planned_work
from costopt.orchestrate.progress import JobProgress, ProgressModel
from costopt.orchestrate.reconcile import LIVE, MarketChoice
from costopt.orchestrate.replan import replan
from costopt.orchestrate.steer import ledger_progress, progress_model
from costopt.plan.pools import build_pools
from costopt.plan.resume import DONE, late_jobs, workload_of
from costopt.planfile import FleetPool, PlanDocument, Slot
from costopt.pricing.catalog import PriceCatalog
from costopt.workload import Workload

LedgerSource = Callable[[], AbstractContextManager[Ledger | None]]
"""Opens the ledger for one tick (and closes it after, where it is a connection)."""


class EventKind(str, Enum):
    """What makes the controller re-plan."""

    REFUSED = "refused"  # a spot launch or start found no capacity in its pool
    BEHIND = "behind"  # a job behind its planned progress by more than the tolerance
    DONE_EARLY = "done early"  # a job done while the plan still holds slots for it
    FLOOR = "floor"  # a job that must run now on any capacity, and no slot serves it
    LATE = "late"  # a job past its deadline, its work not done, and no slot serves it


URGENT = frozenset({EventKind.FLOOR, EventKind.LATE})
"""Events that re-plan at once, whatever the rate limit."""


@dataclass(frozen=True)
class Event:
    """What the controller saw; ``replans``: whether it calls for a re-plan (a refusal
    waited out does not)."""

    kind: EventKind
    detail: str
    replans: bool = True


@dataclass
class UnavailableOfferings:
    """Spot pools seen without capacity, each held unavailable until a moment (like
    Karpenter's unavailable-offerings cache): ``first_hold`` after a first refusal, doubled
    at each refusal in a row up to ``longest_hold``; a spot instance that runs there clears
    it. Public traces' outages last 0.2-0.8 h at the median, up to days (facts.md)."""

    first_hold: timedelta = timedelta(hours=1)
    longest_hold: timedelta = timedelta(hours=24)
    until: dict[str, datetime] = field(default_factory=dict)
    strikes: dict[str, int] = field(default_factory=dict)

    def refused(self, pool: str, at: datetime) -> datetime:
        """Hold ``pool`` from ``at``; until when."""
        self.strikes[pool] = self.strikes.get(pool, 0) + 1
        hold = min(self.longest_hold, self.first_hold * 2 ** min(self.strikes[pool] - 1, 16))
        self.until[pool] = at + hold
        return self.until[pool]

    def ran(self, pool: str) -> bool:
        """Spot ran in ``pool``: its hold and strikes go; whether it had any."""
        had = pool in self.strikes
        self.strikes.pop(pool, None)
        self.until.pop(pool, None)
        return had

    def load(self, holds: dict[str, tuple[datetime, int]]) -> None:
        """Take the holds the ledger keeps (pool -> until, strikes): another process's
        refusals count here too."""
        self.until = {pool: until for pool, (until, _n) in holds.items()}
        self.strikes = {pool: n for pool, (_until, n) in holds.items()}

    def held(self, at: datetime) -> dict[str, datetime]:
        return {pool: until for pool, until in self.until.items() if until > at}


@dataclass(frozen=True)
class WorkloadContext:
    """The workload a plan was made from, its price data and file: what progress is
    measured with and what a re-plan solves."""

    workload: Workload
    catalog: PriceCatalog
    file: str
    sha256: str


@dataclass(frozen=True)
class ControllerOptions:
    """``review``: how often a tick comes at the least (the floor looks that far ahead);
    ``replan``: re-plan on events (``watch --no-replan``: never); ``replan_gap``: the least
    time between two re-plans but urgent ones; ``behind_share``: the tolerance a job may lag
    its planned progress by, as a share of its work (plus one restart's work); ``hold``: how
    long a pool that refused spot is held unavailable at first; ``move_after``: a hold at
    least this long re-plans (a long outage), a shorter one is waited out."""

    apply: ApplyOptions = field(default_factory=ApplyOptions)
    review: timedelta = timedelta(minutes=15)
    replan: bool = True
    replan_gap: timedelta = timedelta(hours=1)
    behind_share: float = 0.05
    solver: str = "highs"
    hold: timedelta = timedelta(hours=1)  # a pool's first hold after a refusal (doubled at
    # each refusal in a row, up to a day)
    move_after: timedelta = timedelta(hours=2)  # a hold this long re-plans (another zone)


@dataclass
class TickOutcome:
    """What one tick saw and did: the apply runs (two when it re-planned: towards the plan
    it had, then towards the new one), the events, the new plan if one was made."""

    at: datetime
    applied: list[ApplyOutcome] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    replanned: PlanDocument | None = None

    @property
    def failed(self) -> list[Failed]:
        return self.applied[-1].failed if self.applied else []

    @property
    def refused(self) -> bool:
        return any(o.refused for o in self.applied)


def floor_jobs(plan: PlanDocument, model: ProgressModel, jobs: dict[str, JobProgress],
               at: datetime, review: timedelta) -> list[str]:
    """Uniform Progress's floor: the unfinished jobs that could no longer finish by their
    deadline if they waited one more ``review`` - running from then on without a break on
    their fastest cloud pool (all of the gangs the plan runs there at once, else one
    instance's: :func:`~costopt.orchestrate.markets.cloud_rate`), one restart paid - for
    the work the plan does not leave to owned servers before the deadline. (An
    hour more in hand, for a re-plan's slots that start at the hour, was measured: once on
    the floor a job stays there to its end, so it ran the last 1.25 h on-demand where
    Uniform Progress ran spot - 5 % dearer on short-outage traces.)"""
    cloud = frozenset(p.pool for p in plan.fleet)
    out = []
    for name, p in jobs.items():
        rate = 0.0 if p.finished else cloud_rate(p, model.mix, cloud)
        if rate <= 0:
            continue
        left = p.remaining_gpu_hours - planned_work(plan, model.mix, name, at, p.deadline,
                                                    cloud)
        hours_left = (p.deadline - at - review).total_seconds() / 3600
        if left > 0 and left / rate + p.restart_hours >= hours_left:
            out.append(name)
    return out


def behind_jobs(plan: PlanDocument, model: ProgressModel, jobs: dict[str, JobProgress],
                at: datetime, share: float) -> dict[str, float]:
    """The unfinished jobs whose work done lags what the plan has them do by ``at`` by more
    than ``share`` of their work plus one restart's work (the restart hours at the rate of
    their pace line, :func:`~costopt.orchestrate.markets.pace_basis`: a restart stops all
    of their gangs), with the lag (reference GPU-hours)."""
    start = model.mix.period_starts[0]
    cloud = frozenset(p.pool for p in plan.fleet)
    out = {}
    for name, p in jobs.items():
        if p.finished:
            continue
        lag = planned_work(plan, model.mix, name, start, at) - p.done_gpu_hours
        restart = pace_basis(plan, model, p, cloud).rate * p.restart_hours
        if lag > share * p.needed_gpu_hours + restart:
            out[name] = lag
    return out


def _serves(pool: FleetPool, at: datetime, jobs: set[str]) -> bool:
    """Whether a slot of ``pool`` that holds ``at`` serves one of ``jobs``."""
    return any(s.start <= at < s.end and jobs & set(s.jobs) for s in pool.slots)


def _extra_slots(plan: PlanDocument, jobs: Mapping[str, MarketChoice],
                 progress: dict[str, JobProgress], at: datetime, review: timedelta,
                 markets: dict[str, MarketChoice]) -> tuple[PlanDocument, set[str]]:
    """``plan`` with a slot of one review from ``at`` for each of ``jobs`` (no slot serving
    them; job -> the market it must run on now), and the jobs given one. On-demand: on the
    job's fastest on-demand pool of the plan, else its fastest spot pool that may fall back
    (run on-demand, ``markets``). Spot: on its fastest spot pool of the plan that serves it
    somewhere (so it may run on spot there), the cheapest of those, with no fallback (a plan
    without one: on-demand). A job with no such pool (or
    a gang) is left to the re-plan. The slot's number follows the pool's own, so it is the
    same at every tick of one plan."""
    if not jobs:
        return plan, set()
    fleet = {p.pool: p for p in plan.fleet}
    placed = set()
    for job, wanted in sorted(jobs.items()):
        p = progress[job]
        runs = [f for f in plan.fleet if p.speed.get(f.pool, 0.0) > 0]
        spot = [f for f in runs if f.market == "spot" and any(job in s.jobs for s in f.slots)]
        market = "spot" if wanted.market == "spot" and spot else "on_demand"
        usable = spot if market == "spot" else [
            f for f in runs if f.market == "on_demand" or f.on_demand_fallback]
        if not usable or any(s.nodes > 1 for f in usable for s in f.slots if job in s.jobs):
            continue
        placed.add(job)
        pool = max((fleet[f.pool] for f in usable),
                   key=lambda f: (f.market == "on_demand", p.speed.get(f.pool, 0.0),
                                  -f.usd_per_hour))
        k = max((s.slot for s in pool.slots), default=-1) + 1
        fleet[pool.pool] = pool.model_copy(update={"slots": [*pool.slots, Slot(
            slot=k, start=at, end=at + review, jobs=[job])]})
        if pool.market == "spot" and market == "on_demand":
            markets[pool.pool] = MarketChoice("on_demand", "swap")
        elif pool.pool not in markets:
            markets[pool.pool] = wanted if wanted.market == market \
                else MarketChoice(market, "keep")
    return plan.model_copy(update={"fleet": [fleet[f.pool] for f in plan.fleet]}), placed


def _without_done(plan: PlanDocument, done: set[str]) -> PlanDocument:
    """``plan`` less the slots whose jobs (named) are all done."""
    if not done:
        return plan
    fleet = [p.model_copy(update={"slots": [s for s in p.slots
                                             if not s.jobs or set(s.jobs) - done]})
             for p in plan.fleet]
    return plan.model_copy(update={"fleet": fleet})


def _on_demand_now(plan: PlanDocument, at: datetime) -> int:
    """How many on-demand slots of ``plan`` hold ``at``."""
    return sum(1 for p in plan.fleet if p.market == "on_demand" for s in p.slots
               if s.start <= at < s.end)


def _running(ledger: Ledger | None, plan: PlanDocument) -> list[InstanceRecord]:
    """The instances of ``plan`` (and of the plan it resumes) the ledger has not seen end."""
    if ledger is None:
        return []
    ids = {plan.plan_id, plan.resumed_from[0]} - {None}
    return [i for i in ledger.instances(plan_ids=ids)  # type: ignore[arg-type]
            if i.ended_at is None]


def _live_markets(running: list[InstanceRecord]) -> LiveMarkets:
    """The markets of ``running``, per pool."""
    out: dict[str, set[str]] = {}
    for i in running:
        out.setdefault(i.pool, set()).add(i.market)
    return out


def _away(running: list[InstanceRecord], plan: PlanDocument) -> AwayRuns:
    """The spot instances of ``running`` that the fallback chain launched outside their
    pool's home zone, at a dearer price than the plan's for the pool, per pool."""
    home = {p.pool: p.usd_per_hour for p in plan.fleet if p.market == "spot" and p.zone}
    out: dict[str, list[AwayRun]] = {}
    for i in running:
        if i.market == "spot" and i.pool in home and i.usd_per_hour > home[i.pool] + 1e-9:
            out.setdefault(i.pool, []).append(AwayRun(i.instance_id, i.slot, i.usd_per_hour))
    return out


class Controller:
    """Carries the plan in force out, one :meth:`tick` at a time, and re-plans on events.

    ``context``: the workload the plan was made from (``None``: progress is not measured -
    the plan is carried out as written, no floor, no re-plan). ``policy``: a policy to steer
    by instead of the plan in force (a named baseline, ``--policy deadline``).
    ``on_replan(new plan)``: keeps the new plan (``watch`` writes it next to the first) and
    says where; ``plan_path``: the plan file's path, for the instances' user data."""

    def __init__(self, plan: PlanDocument, *, fleet: Fleet, ledger: LedgerSource,
                 options: ControllerOptions, say: Say, context: WorkloadContext | None = None,
                 policy: Policy | None = None, plan_path: str | None = None,
                 on_replan: Callable[[PlanDocument], str] | None = None) -> None:
        self.plan = plan
        self.fleet = fleet
        self.ledger = ledger
        self.options = options
        self.say = say
        self.context = context
        self.policy = policy
        self.plan_path = plan_path
        self.on_replan = on_replan
        self.offerings = UnavailableOfferings(first_hold=options.hold)
        self.replans = 0
        self._models: dict[str, ProgressModel] = {}
        self._waiting: list[Event] = []  # events held back by the rate limit
        self._said: set[tuple[EventKind, str]] = set()  # per plan: each job's event once
        self._last_replan: datetime | None = None
        self._last_failure: str | None = None
        self._workload_spot: frozenset[str] | None = None
        self._quiet: QuietRun | None = None  # the last run, if it changed nothing
        self._paced: tuple[PlanDocument, dict[str, JobProgress], datetime,
                           dict[str, JobPace]] | None = None  # the last paces worked out

    def model(self, plan: PlanDocument) -> ProgressModel | None:
        """The progress model of ``plan`` (``None`` without a workload)."""
        if self.context is None:
            return None
        if plan.plan_id not in self._models:
            workload = workload_of(plan.resumes, self.context.workload)
            self._models[plan.plan_id] = progress_model(plan, workload, self.context.catalog)
        return self._models[plan.plan_id]

    def progress(self, plan: PlanDocument, ledger: Ledger | None,
                 at: datetime) -> dict[str, JobProgress] | None:
        model = self.model(plan)
        return None if model is None else ledger_progress(model, ledger, plan, at)

    def tick(self, at: datetime) -> TickOutcome:
        """Observe, decide and reconcile at ``at``; re-plan on events."""
        out = TickOutcome(at)
        with self.ledger() as ledger:
            if ledger is not None:
                self.offerings.load(ledger.offering_holds())
            jobs = self.progress(self.plan, ledger, at)
            target, markets, events = self._decide(self.plan, at, ledger, jobs)
            out.applied.append(self._apply(at, ledger, target, markets))
            events += self._observe(out.applied[-1], at, jobs, ledger)
            out.events = events
            new = self._maybe_replan(events, at, ledger)
            if new is not None:
                out.replanned = new
                jobs = self.progress(new, ledger, at)
                target, markets, _events = self._decide(self.plan, at, ledger, jobs)
                out.applied.append(self._apply(at, ledger, target, markets))
        return out

    def _apply(self, at: datetime, ledger: Ledger | None, target: PlanDocument,
               markets: dict[str, MarketChoice]) -> ApplyOutcome:
        outcome = apply_plan(self.plan, at, fleet=self.fleet, ledger=ledger,
                             options=self.options.apply, say=self.say,
                             plan_path=self.plan_path, target=target, markets=markets,
                             quiet=self._quiet)
        self._quiet = outcome.quiet
        return outcome

    def _decide(self, plan: PlanDocument, at: datetime, ledger: Ledger | None,
                jobs: dict[str, JobProgress] | None
                ) -> tuple[PlanDocument, dict[str, MarketChoice], list[Event]]:
        """The schedule and markets to reconcile towards, and the events seen deciding. A
        job on the floor that no slot serves gets an on-demand slot of one review now; a
        job whose slots in the plan are all over but whose work is not done gets one too,
        on spot while it is ahead of its line, on-demand once behind (a FLOOR event
        re-plans only for a job that could be given none; a job past its deadline is a
        LATE event, which re-plans at once: the re-plan says it late and gives it to the
        new plan's end)."""
        if self.policy is not None:
            desired = self.policy.desired(plan, at, lambda: jobs or {})
            return desired.plan, dict(desired.markets), []
        events: list[Event] = []
        if jobs is None:
            return plan, {}, events
        done = {name for name, p in jobs.items() if p.finished}
        target = _without_done(plan, done)
        if len(done) < len(jobs):  # with nothing left there is nothing to re-plan
            events += self._once(EventKind.DONE_EARLY, [
                (name, f"{name} is done and the plan still holds slots for it")
                for name in sorted(done) if any(name in s.jobs for p in plan.fleet
                                                for s in p.slots if s.end > at and (
                                                    not s.uses or any(  # v3: its own uses
                                                        u.job == name and u.end > at
                                                        for u in s.uses)))])
        model = self.model(plan)
        floor = set(floor_jobs(plan, model, jobs, at, self.options.review)) if model else set()
        running = _running(ledger, plan)
        live = _live_markets(running)
        if self.options.replan:
            paces = self._paces(plan, model, jobs, at) if model else {}
            moved = spot_first(target, at, paces, floor, live, self.options.review)
            if _on_demand_now(moved, at) < _on_demand_now(target, at):
                running = self._still_running(plan, running)
                live = _live_markets(running)
                moved = spot_first(target, at, paces, floor, live, self.options.review)
            target = moved
            stuck = {p for p in self.offerings.held(at) if "on_demand" in live.get(p, ())}
            markets = spot_markets(target, at, paces, floor, _away(running, target), stuck)
        else:
            paces, markets = {}, self._as_written(target, at, floor, live)
        served = {j for f in target.fleet for s in f.slots if s.start <= at < s.end
                  for j in serving(s, at)}
        unserved = {j for j, p in jobs.items() if not p.finished and j not in served}
        slotted = {j for f in plan.fleet for s in f.slots for j in s.jobs}
        over = {j for j in unserved & slotted  # a job left to owned servers gets no cloud
                if j in paces and paces[j].remaining_gpu_hours > DONE  # slot (BEHIND re-plans)
                and not any(j in s.jobs and s.end > at for f in plan.fleet for s in f.slots)}
        late = {j for j in unserved if jobs[j].deadline <= at} \
            if self._may_replan(ledger) else set()  # the re-plan says them late
        wants = {j: pace_choice(PaceState.CRITICAL if j in floor or j not in paces
                                else paces[j].state) for j in (unserved & floor | over) - late}
        target, placed = _extra_slots(target, wants, jobs, at, self.options.review, markets)
        events += self._once(EventKind.FLOOR, [
            (j, f"{j} must run now to meet its deadline and no slot serves it")
            for j in sorted((unserved & floor) - late)], waited=placed)
        events += self._once(EventKind.LATE, [  # its own event: a floor one may be said
            (j, f"{j} is past its deadline, its work not done, and no slot serves it")
            for j in sorted(late)])
        return target, markets, events

    def _still_running(self, plan: PlanDocument,
                       running: list[InstanceRecord]) -> list[InstanceRecord]:
        """``running`` less the spot instances AWS shows reclaimed or gone: the ledger learns
        of an interruption only in the apply run after this decision, and spot first ends an
        on-demand slot once its spot replacement runs (on the 105-case single-job grid it
        ended on-demand 43 times for a spot instance found interrupted in the same run)."""
        spot = {i.instance_id for i in running if i.market == "spot"}
        regions = sorted({p.region for p in plan.fleet})
        gone = {o.instance_id for o in self.fleet.describe_workload(plan.workload_name, regions)
                if o.instance_id in spot and (o.interrupted or o.state not in LIVE)}
        return [i for i in running if i.instance_id not in gone]

    def _paces(self, plan: PlanDocument, model: ProgressModel, jobs: dict[str, JobProgress],
               at: datetime) -> dict[str, JobPace]:
        """:func:`~costopt.orchestrate.markets.job_paces`, worked out once for one plan, one
        tick's progress and moment (the decision asks, and the events again)."""
        kept = self._paced
        if kept is None or kept[0] is not plan or kept[1] is not jobs or kept[2] != at:
            kept = self._paced = (plan, jobs, at, job_paces(plan, model, jobs, at))
        return kept[3]

    def _as_written(self, plan: PlanDocument, at: datetime, floor: set[str],
                    live: LiveMarkets) -> dict[str, MarketChoice]:
        """The markets of the plan carried out as written (``--no-replan``): each spot pool
        on its market with its fallback chain, but on-demand (swapped) while it serves a
        job on the floor, and back to spot (swapped) once the hold of a pool that fell
        back to on-demand while this controller ran is out."""
        markets = {}
        held = self.offerings.held(at)
        for pool in plan.fleet:
            if pool.market != "spot" or not pool.on_demand_fallback:
                continue
            if floor and _serves(pool, at, floor):
                markets[pool.pool] = MarketChoice("on_demand", "swap")
            elif "on_demand" in live.get(pool.pool, set()) \
                    and pool.pool in self.offerings.strikes and pool.pool not in held:
                markets[pool.pool] = MarketChoice("spot", "swap")
        return markets

    def _spot_pools(self) -> frozenset[str]:
        """Every spot pool the workload may use (a re-plan may move a job to any)."""
        if self._workload_spot is None:
            ctx = self.context
            self._workload_spot = frozenset() if ctx is None else frozenset(
                p.id for p in build_pools(ctx.workload, ctx.catalog).cloud
                if p.market == "spot")
        return self._workload_spot

    def _once(self, kind: EventKind, found: list[tuple[str, str]],
              waited: set[str] | frozenset[str] = frozenset()) -> list[Event]:
        """Each ``(key, detail)`` found as an event, once per plan in force; those keyed in
        ``waited`` call for no re-plan."""
        out = [Event(kind, detail, replans=key not in waited) for key, detail in found
               if (kind, key) not in self._said]
        self._said |= {(kind, key) for key, _d in found}
        return out

    def _observe(self, outcome: ApplyOutcome, at: datetime,
                 jobs: dict[str, JobProgress] | None, ledger: Ledger | None) -> list[Event]:
        """Refusals (their pools held unavailable; a refusal while held is no new strike),
        spot that ran again, jobs behind their plan and Uniform Progress's line; the holds
        kept in the ledger."""
        refused = {a.pool for a in outcome.capacity_refused}
        for pool in {a.pool for a in outcome.done if a.kind in ("launch", "start")
                     and a.market == "spot"} - refused:
            if self.offerings.ran(pool) and ledger is not None:
                ledger.release_offering(pool)
        held = self.offerings.held(at)
        spot = {p.pool for p in self.plan.fleet if p.market == "spot"}
        waiting = refused - {a.pool for a in outcome.capacity_refused if a.zones != "home"}
        events = []
        for pool in sorted(refused & spot - set(held)):
            until = self.offerings.refused(pool, at)
            if ledger is not None:
                ledger.hold_offering(pool, until, self.offerings.strikes[pool])
            events.append(Event(EventKind.REFUSED, f"{pool} has no spot capacity: held "
                                f"unavailable until {ts(until)}",
                                replans=until - at >= self.options.move_after
                                and self._may_move(at) and pool not in waiting))
        model = self.model(self.plan)
        if jobs is not None and model is not None and self.policy is None:
            lag = behind_jobs(self.plan, model, jobs, at, self.options.behind_share)
            paces = self._paces(self.plan, model, jobs, at) if lag else {}
            events += self._once(EventKind.BEHIND, [
                (j, f"{j} is {g:,.2f} GPU-h behind its planned progress and its pace line")
                for j, g in sorted(lag.items())
                if paces[j].state in (PaceState.CRITICAL, PaceState.BEHIND)],
                waited=frozenset(j for j in lag if not self._may_move(at, j)))
        return events

    def _may_move(self, at: datetime, job: str | None = None) -> bool:
        """Whether a re-plan has somewhere to move work to: a spot pool of the workload not
        held (with every one held, it could only drop spot for the rest of the hold - the
        pace rule runs on-demand meanwhile, and keeps the plan's spot pool to go back to);
        for ``job``, one the plan in force gives it no slot on. (A job behind whose plan
        already has it on every spot pool can only be re-timed on them, which the pace rule
        does as it goes; the re-plan restarted its line from where it stood. Without those
        re-plans, on the single-job grids of one spot pool: 105 cases 10,109.90 -> 10,094.81
        USD, 96 synthetic traces 8,904.92 -> 8,909.80, cases more than 2 % dearer than
        Uniform Progress 4 -> 4 and 5 -> 4, none missed.)"""
        free = self._spot_pools() - set(self.offerings.held(at))
        if job is not None:
            free -= {p.pool for p in self.plan.fleet if any(job in s.jobs for s in p.slots)}
        return bool(free)

    def _may_replan(self, ledger: Ledger | None) -> bool:
        return self.context is not None and ledger is not None and self.options.replan \
            and self.options.apply.yes and self.policy is None

    def _maybe_replan(self, events: list[Event], at: datetime,
                      ledger: Ledger | None) -> PlanDocument | None:
        """A new plan of what is left when an event calls for it (and the rate limit lets
        it), put in force; ``None`` otherwise."""
        if not self._may_replan(ledger):
            return None
        waiting = self._waiting + [e for e in events if e.replans]
        if not waiting:
            return None
        urgent = any(e.kind in URGENT for e in waiting)
        hour = at.replace(minute=0, second=0, microsecond=0)
        if not urgent and (at - hour >= self.options.review or (
                self._last_replan is not None
                and at - self._last_replan < self.options.replan_gap)):
            self._waiting = waiting  # a re-plan's horizon starts at the hour: made later
            # in the hour, it plans work in the part gone (owned servers' work never done)
            return None
        self._waiting = []
        reasons = "; ".join(dict.fromkeys(e.detail for e in waiting))
        ctx = self.context
        try:
            doc = replan(ctx.workload, ctx.catalog, self.plan, ledger, at,
                         workload_file=ctx.file, workload_sha256=ctx.sha256,
                         solver=self.options.solver, held=self.offerings.held(at))
            where = self.on_replan(doc) if self.on_replan else doc.plan_id
        except CostoptError as exc:  # the fleet goes on under the plan in force
            said = f"{reasons}, but no re-plan can be made: {exc}. Plan " \
                f"{self.plan.plan_id} stays in force and is carried on"
            if said != self._last_failure:
                self.say("failed", said)
            self._last_failure = said
            self._last_replan = at
            return None
        self.say("replanned", f"{reasons}: the rest re-planned from "
                 f"{ts(at)} as {doc.plan_id}, {where}")
        done = (doc.resumes or {}).get("done_gpu_hours", {})
        for job in late_jobs(ctx.workload, done, at):
            self.say("late", f"{job} is past its deadline and not done: it is due at the new "
                     f"plan's end ({doc.horizon['end']}), on the cheapest capacity")
        self.plan = doc
        self.replans += 1
        self._last_replan = at
        self._said = set()
        return doc

