"""Which market the plan in force's cloud slots run on now: Uniform Progress's rule laid
over the plan (the controller's decision between re-plans, :mod:`costopt.orchestrate.controller`).

Pure. Each unfinished job has Uniform Progress's pace (:mod:`costopt.orchestrate.pace`): a
straight line from nothing at its start to all of its work at its deadline less one
restart, on its fastest cloud pool of the plan (its GPUs there at once x speed, reference
GPU-hours per hour: the GPUs the plan gives it there, on all of its instances, when its
slots name them, else one instance's gangs - :func:`pool_rate`), the work the plan leaves
to owned servers counted as done. The line starts one
restart after the plan's first cloud slot for the job (or the job's start, if later): the
plan's schedule, not the job's window, says when its cloud work begins (a line from the
window's start finds a job the plan starts days later behind at once, and runs its shared
instance on-demand for hundreds of hours), and its first instance's setup is not lag
(without that, a job is behind from its first minute and spot is swapped for on-demand
before it could work). Then, at a moment:

1. *Spot slots* (of a spot pool whose jobs may run on-demand) serving a job now run, by the
   most pressed of their jobs working now (:func:`working`): critical or on the floor -
   on-demand, a spot instance swapped for it; behind the line - on-demand for a launch, a
   spot instance that runs kept (it works as fast as on-demand would; swapping it pays a
   restart for insurance the floor gives later: on the 105-case single-job grid, keeping it
   cost 10,095.65 USD against 10,160.96 for swapping, 3 cases more than 2 % dearer than
   Uniform Progress against 4, 5 dearer than all on-demand against 7, none late in either);
   ahead - spot, an on-demand instance already running kept;
   safely ahead (by one restart's work) - spot, an on-demand instance swapped (ended only
   once the spot one runs). A launch that finds no spot does not fall back: the job waits
   for spot while it is ahead, and runs on-demand once it is behind.
   *Zones* (a spot pool of one zone, whose region prices spot in others): a job ahead
   launches in its slot's home zone only - it waits for capacity there rather than pay
   another zone's price (3x the home zone's for the example's p4d); a job behind walks the
   region's zones, cheapest first, before on-demand (another zone's spot is still a
   quarter of on-demand's price; where the region prices no other zone, it launches
   on-demand as above); and a slot of a job ahead that runs in a dearer zone
   (:class:`AwayRun`) is swapped home - a launch in the home zone, tried at every tick,
   the dear instance ended once it runs - when the saving over the slot's remaining
   hours beats the restart (:func:`worth_moving_home`). A slot *stuck* on-demand (its
   on-demand instance runs while its home zone is held after a refusal) swaps to spot in
   any zone, home first, once its jobs are safely ahead by two switches
   (:func:`leaves_home`): waiting for a failing home zone kept the example's p4d
   on-demand for tens of hours on synth-zones seed 5 (docs/orchestrator.md).
2. *Spot first*: an on-demand slot whose jobs working now are all safely ahead - or ahead, with no
   on-demand instance of its pool running - runs now on a spot pool of the plan of the
   same instance type and region that serves one of them later (the plan's reserve is
   spent last, as Uniform Progress spends it): the slot moves to that pool, numbered as
   the pool's next slot of the same jobs (so the instance carries on into it), and the
   on-demand slot is kept until a spot instance of that pool runs - seen at the next tick,
   one review (``lead``) later, so *safely ahead* is judged at the end of that lead, the
   on-demand instance's work in it counted (:class:`~costopt.orchestrate.pace.JobPace`'s
   ``lead_hours``): its on-demand hours end when Uniform Progress's would.

The plan's LP is indifferent to the order of a job's hours; carried out as written, the
on-demand hours it puts first are paid whether or not spot would have done them (the
single-job grid paid all on-demand's price: docs/simulate.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from costopt.core.gangs import gangs_per_instance
from costopt.orchestrate.pace import JobPace, PaceBasis, PaceState
from costopt.orchestrate.policy import planned_work
from costopt.orchestrate.progress import JobProgress, PlanMix, ProgressModel
from costopt.orchestrate.reconcile import MarketChoice
from costopt.planfile import FleetPool, PlanDocument, Slot

PRESSED = (PaceState.CRITICAL, PaceState.BEHIND, PaceState.AHEAD, PaceState.SAFE)
"""Pace states from the most pressed to the least."""

LiveMarkets = Mapping[str, set[str]]
"""Pool id -> the markets of its instances running now."""


@dataclass(frozen=True)
class AwayRun:
    """A spot instance of a pool of one zone that the fallback chain launched in another zone,
    running now for ``slot`` at ``usd_per_hour`` (that zone's price, USD per instance-hour)."""

    instance_id: str
    slot: int | None
    usd_per_hour: float


AwayRuns = Mapping[str, Sequence[AwayRun]]
"""Pool id -> its spot instances running outside its home zone."""


def worth_moving_home(away_usd_per_hour: float, home_usd_per_hour: float, hours_left: float,
                      restart_hours: float) -> bool:
    """Whether an instance running at ``away_usd_per_hour`` for ``hours_left`` more hours of
    its slot is cheaper moved to its home zone: staying costs ``away x hours_left``; moving
    costs ``home x (hours_left + restart_hours)`` - the work since the last checkpoint and
    the new instance's setup bought again, at home (what the away instance already did is
    paid either way). So: ``(away - home) x hours_left > home x restart_hours``."""
    return (away_usd_per_hour - home_usd_per_hour) * hours_left \
        > home_usd_per_hour * restart_hours


def one_instance_gpus(p: JobProgress, instance_gpus: int) -> float:
    """GPUs ``p``'s job holds at once on one instance of ``instance_gpus`` GPUs: a one-node
    job runs ``min(parallel, floor(instance_gpus / gpus))`` of its gangs there (at least
    one: a pool whose GPUs are not known holds one), a multi-node gang its ``nodes x gpus``
    on its ``nodes`` instances (the nodes are its own, and run together)."""
    gpus = p.gpus or 1.0
    return p.nodes * gpus * gangs_per_instance(instance_gpus, gpus, p.nodes, p.parallel)


def pool_rate(p: JobProgress, mix: PlanMix, pool: str) -> float:
    """Reference GPU-hours per hour ``p``'s job does on ``pool``: its GPUs there at once x
    its speed there - the most the plan's uses of the pool hold for it at once, on all of
    its slots there (:attr:`PlanMix.held_at_once`), where they name their uses (v3); else
    one instance's (:func:`one_instance_gpus`). A sweep of 1-GPU trials on an 8-GPU
    instance does 8 x speed, not 1 x speed: rated as one trial, the floor put the two-week
    lab's ``sweep`` on-demand days early."""
    held = mix.held_at_once.get((p.job, pool))
    if held is None:
        held = one_instance_gpus(p, mix.instance_gpus.get(pool, 0))
    return held * p.speed.get(pool, 0.0)


def cloud_rate(p: JobProgress, mix: PlanMix, cloud: frozenset[str]) -> float:
    """Reference GPU-hours per hour ``p``'s job does on its fastest pool of ``cloud``
    (:func:`pool_rate`)."""
    return max((pool_rate(p, mix, pool) for pool in cloud if pool in p.speed), default=0.0)


def shared_rate(p: JobProgress, model: ProgressModel) -> float:
    """Reference GPU-hours per hour ``p``'s job does on the plan's fastest cloud pool for it
    with the GPUs the plan gives it there: on an instance it shares, its share - the line a
    job can keep to there, not the one it would keep alone. Where the plan's slots name
    their uses (v3), the most GPUs its uses hold at once on a pool, on all of its slots
    there (:func:`pool_rate`); else its GPUs per instance-hour there
    (``PlanMix.pool_gpus``)."""
    mix = model.mix
    return max([pool_rate(p, mix, pool) for job, pool in mix.held_at_once if job == p.job]
               or [gpus * p.speed.get(pool, 0.0) for pool, by_job in mix.pool_gpus.items()
                   for job, gpus in by_job.items() if job == p.job], default=0.0)


def pace_basis(plan: PlanDocument, model: ProgressModel, p: JobProgress,
               cloud: frozenset[str]) -> PaceBasis:
    """``p``'s job's :class:`PaceBasis` under ``plan`` (worked out once per plan: kept on
    ``model.mix``, :attr:`~costopt.orchestrate.progress.PlanMix.paced`)."""
    kept = model.mix.paced.get(p.job)
    if kept is None or kept[0] is not plan:
        name = p.job
        first = min((u.start - ((s.setup_end or s.start) - s.start) for f in plan.fleet
                     for s in f.slots for u in s.uses if u.job == name),  # v3: its first
                    # use, less its slot's setup (the restart below pays it)
                    default=min((s.start for f in plan.fleet for s in f.slots
                                 if name in s.jobs), default=None))
        kept = model.mix.paced[name] = (plan, PaceBasis(
            first, shared_rate(p, model) or cloud_rate(p, model.mix, cloud)))
    return kept[1]


def job_paces(plan: PlanDocument, model: ProgressModel, jobs: Mapping[str, JobProgress],
              at: datetime) -> dict[str, JobPace]:
    """Each unfinished job's pace at ``at`` (the module's line)."""
    cloud = frozenset(p.pool for p in plan.fleet)
    out = {}
    for name, p in jobs.items():
        if p.finished:
            continue
        owned = planned_work(plan, model.mix, name, at, p.deadline, cloud)
        basis = pace_basis(plan, model, p, cloud)
        begun = p.start or at
        restart = p.restart_hours
        start = (begun if basis.first is None else max(begun, basis.first)) \
            + timedelta(hours=restart)
        out[name] = JobPace(name, at, start, p.deadline, p.needed_gpu_hours,
                            max(0.0, p.remaining_gpu_hours - owned), basis.rate,
                            restart, restart)
    return out


def _state(jobs: list[str], paces: Mapping[str, JobPace], floor: set[str]) -> PaceState:
    """The most pressed state of ``jobs`` (those on the floor count as critical)."""
    states = [PaceState.CRITICAL if j in floor else paces[j].state for j in jobs
              if j in paces and (j in floor or paces[j].state is not PaceState.FINISHED)]
    return min(states, key=PRESSED.index, default=PaceState.FINISHED)


def _now(pool: FleetPool, at: datetime) -> list[Slot]:
    return [s for s in pool.slots if s.start <= at < s.end]


def pace_choice(state: PaceState) -> MarketChoice:
    """Rule 1's market for a job's (or a slot's most pressed job's) pace state, with the
    zones a spot launch may go to."""
    if state is PaceState.CRITICAL:
        return MarketChoice("on_demand", "swap")
    if state is PaceState.BEHIND:
        return MarketChoice("on_demand", "keep", zones="all")
    return MarketChoice("spot", "swap" if state is PaceState.SAFE else "keep", zones="home")


def working(slot: Slot, at: datetime) -> list[str]:
    """The jobs ``slot`` runs at ``at``: those its GPUs' uses (v3) have working then, else
    all of its jobs. A job the plan has wait for another on a shared instance cannot be
    helped by its market, and must not move the others (one 1-GPU job behind put a shared
    8-GPU instance on-demand for 230 h of the example month)."""
    if not slot.uses:
        return list(slot.jobs)
    return [u.job for u in slot.uses if u.start <= at < u.end]


def serving(slot: Slot, at: datetime) -> list[str]:
    """The jobs ``slot`` serves at ``at``: all of its jobs while its setup runs, else those
    it runs then (:func:`working`). A job a shared instance's uses have waiting (or done)
    is not served by it - progress credits a slot's uses as written, so that instance does
    it no work: on the floor, it needs a slot of its own, and must not put the shared one
    on-demand. (Lab month, zone traces seed 1: the re-plan of 02-02 13:00 named
    ablation-small on a shared p3.8xlarge slot of 02-02 13:00 to 02-09 with its only use
    there from 02-05 08:42; it did no work for the ten hours that plan held. The re-plan of
    02-04 03:00 named it on slots that hold past its deadline, 02-06 00:00, its uses ending
    there: short of its 100 GPU-h at 02-06 00:00, it counted as served, so never late, and
    no event re-planned it in the 23 h 50 min measured after, while it did nothing.)"""
    if slot.setup_end is not None and at < slot.setup_end:
        return list(slot.jobs)
    return working(slot, at)


def spot_markets(plan: PlanDocument, at: datetime, paces: Mapping[str, JobPace],
                 floor: set[str], away: AwayRuns | None = None,
                 stuck: Collection[str] = ()) -> dict[str, MarketChoice]:
    """Rule 1: the market of each spot pool that may fall back and serves a job now; with
    ``away``, the instances of a pool on spot that go back to its home zone; a pool of
    ``stuck`` (an on-demand instance of it runs, and its home zone refused spot lately:
    held) swaps its jobs well ahead off on-demand into any zone (:func:`leaves_home`)."""
    out = {}
    for pool in plan.fleet:
        if pool.market != "spot" or not pool.on_demand_fallback:
            continue
        slots = _now(pool, at)
        if not any(j in paces for s in slots for j in s.jobs):
            continue
        state = _state([j for s in slots for j in serving(s, at)
                        if j in floor or j in working(s, at)], paces, floor)
        choice = pace_choice(state) if state is not PaceState.FINISHED \
            else MarketChoice("spot", "keep", zones="home")  # no job of its works now (its
        # setup runs): none is pressed
        if choice.zones == "home" and pool.pool in stuck and leaves_home(
                [paces[j] for s in slots for j in s.jobs if j in paces]) \
                and set(pool.spot_zone_prices) - {pool.zone}:
            choice = replace(choice, zones="all")
        elif choice.zones == "home":
            choice = replace(choice, home=_going_home(pool, slots, at, paces,
                                                      (away or {}).get(pool.pool, ())))
        elif choice.zones == "all" and not set(pool.spot_zone_prices) - {pool.zone}:
            choice = replace(choice, zones=None)  # no other zone: on-demand, as Uniform
            # Progress (spot of the one zone tried first was dearer on the single-job grid)
        out[pool.pool] = choice
    return out


def leaves_home(paces: Sequence[JobPace]) -> bool:
    """Whether a slot of jobs with ``paces`` may swap on-demand for spot in another zone than
    its home's: every one of them safely ahead by two switches, so that the move's restart
    and an interruption soon after it (the work since the last checkpoint, up to a whole
    interval: at most one more switch) still leave it on its line. A move between zones
    pays a restart at another zone's price; it is worth it only to get off on-demand."""
    return bool(paces) and all(p.state is PaceState.SAFE and replace(
        p, remaining_gpu_hours=p.remaining_gpu_hours
        + p.rate_gpu_hours_per_hour * p.switch_hours).state is PaceState.SAFE for p in paces)


def _going_home(pool: FleetPool, slots: list[Slot], at: datetime,
                paces: Mapping[str, JobPace], away: Sequence[AwayRun]) -> frozenset[str]:
    """The instances of ``away`` whose slot now is worth moving home (:func:`worth_moving_home`,
    the restart of its slowest-restarting job)."""
    out = set()
    for run in away:
        slot = next((s for s in slots if s.slot == run.slot), None)
        if slot is None:
            continue
        restart = max((paces[j].overhead_hours for j in slot.jobs if j in paces), default=0.0)
        if worth_moving_home(run.usd_per_hour, pool.usd_per_hour,
                             (slot.end - at).total_seconds() / 3600, restart):
            out.add(run.instance_id)
    return frozenset(out)


def _spot_for(plan: PlanDocument, od: FleetPool, slot: Slot, at: datetime
              ) -> tuple[FleetPool, int] | None:
    """The spot pool ``slot`` of on-demand pool ``od`` may move to, and its slot number."""
    jobs = set(slot.jobs)
    for pool in plan.fleet:
        if pool.market != "spot" or not pool.on_demand_fallback \
                or (pool.instance_type, pool.region) != (od.instance_type, od.region):
            continue
        same = [s for s in pool.slots if set(s.jobs) == jobs and s.end > at]
        if same:
            return pool, min(same, key=lambda s: s.start).slot
        if any(jobs & set(s.jobs) for s in pool.slots):
            return pool, max(s.slot for s in pool.slots) + 1 + slot.slot
    return None


def spot_first(plan: PlanDocument, at: datetime, paces: Mapping[str, JobPace],
               floor: set[str], live: LiveMarkets, lead: timedelta = timedelta(0)
               ) -> PlanDocument:
    """Rule 2: ``plan`` with the on-demand slots that may run on spot now moved there;
    ``lead``: how long the on-demand slot runs on after the move (until the next tick sees
    the spot instance run: the controller's review)."""
    led: Mapping[str, JobPace] | None = None  # the paces judged at the lead's end, made
    # once a tick, and only where an on-demand slot runs now
    fleet = {p.pool: p for p in plan.fleet}
    for od in plan.fleet:
        if od.market != "on_demand":
            continue
        for slot in _now(od, at):
            if led is None:
                led = {j: replace(p, lead_hours=lead.total_seconds() / 3600)
                       for j, p in paces.items()} if lead else paces
            now = working(slot, at) or slot.jobs  # none working yet: its setup runs
            state = _state([j for j in slot.jobs if j in floor or j in now], led, floor)
            running = "on_demand" in live.get(od.pool, set())
            if slot.nodes > 1 or not (state is PaceState.SAFE or (
                    state is PaceState.AHEAD and not running)):
                continue
            found = _spot_for(plan, od, slot, at)
            if found is None:
                continue
            spot, k = found
            moved = slot.model_copy(update={"slot": k, "start": at, "setup_end": None,
                                            "uses": []})
            fleet[spot.pool] = fleet[spot.pool].model_copy(
                update={"slots": [*fleet[spot.pool].slots, moved]})
            if "spot" in live.get(spot.pool, set()) or not running:
                fleet[od.pool] = fleet[od.pool].model_copy(update={"slots": [
                    s for s in fleet[od.pool].slots if s is not slot]})
    if all(fleet[p.pool] is p for p in plan.fleet):
        return plan  # no slot moved
    return plan.model_copy(update={"fleet": [fleet[p.pool] for p in plan.fleet]})
