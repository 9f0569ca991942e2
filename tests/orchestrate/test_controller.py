"""The controller's decisions and its re-plans, worked by hand (issue 21)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import zone_cases
from simulate.sim_cases import hourly, planned
from zone_cases import AZ1, AZ2

from costopt.orchestrate.apply import ApplyOptions
from costopt.orchestrate.controller import (
    Controller,
    ControllerOptions,
    UnavailableOfferings,
    WorkloadContext,
    floor_jobs,
)
from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.progress import JobProgress
from costopt.orchestrate.replan import held_caps
from costopt.orchestrate.steer import progress_model
from costopt.plan.resume import resumed_workload
from costopt.pricing.catalog import PriceCatalog
from costopt.simulate.ec2 import SimulatedEc2
from costopt.simulate.run import simulate
from costopt.workload import Workload

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def two_zones() -> tuple[Workload, PriceCatalog]:
    """10 GPU-h of a 1-GPU job due at 16:00, 4-hour periods, 10 minutes of setup a launch,
    checkpoint every 60 minutes; p3.2xlarge spot at 1.00 USD/h in use1-az1 and 1.20 in
    use1-az2, 3.00 on demand."""
    return zone_cases.two_zones(home_usd=1.0, away_usd=1.2, on_demand_usd=3.0,
                                deadline="2027-01-01T16:00:00Z", period_hours=4)


def test_a_zone_outage_mid_slot_moves_the_job_to_the_other_zone_once_it_is_behind() -> None:
    """The plan: use1-az1 spot 00:00-10:10 (10 min setup + 10 h), 10.1667 USD. The zone's
    spot goes at 03:00 for the rest of the day (held unavailable for it: ``hold`` 24 h).
    03:00: the instance is interrupted after 2.8333 h of work, less half a checkpoint
    interval (0.5 h) lost = 2.3333 done. The job is ahead of Uniform Progress's line (a
    restart o = 10/60 + 0.5 = 0.6667 h; the line from 0 at 0:40 to 10 at 15:20 needs
    10 / 14.6667 = 0.6818 of the time left, the job 7.6667 / (16 - 3 - 0.6667) = 0.6216),
    so its relaunch waits for spot in its home zone, use1-az1 (not use1-az2's dearer spot,
    nor on-demand); the refusal holds use1-az1 for 24 h but re-plans nothing (a job
    waiting for its home zone). 04:15: behind (7.6667 / (16 - 4.25 - 0.6667) = 0.6917 >
    0.6818; at 04:00 0.6765 was not): the relaunch walks the zones - use1-az1 refused,
    use1-az2's spot at 1.20 - before on-demand. 05:00: behind its plan (1.75 GPU-h) too: the
    rest is re-planned, and the new plan claims the instance at its zone's price, 1.20.
    Setup to 04:25, then 7.6667 h: done at 12:05, before 16:00; the instance ends at the
    first tick after (12:15). No on-demand instance runs. Realised: 3 h x 1.00 + 8 h x 1.20
    = 12.60 USD."""
    w, cat = two_zones()
    plan = planned(w, cat)
    (pool,) = plan.fleet
    assert (pool.pool, pool.slots[0].start, pool.slots[0].end) == (AZ1, at(0), at(10 + 1 / 6))
    traces = [hourly([1, 1, 1] + [0] * 21, AZ1), hourly([1] * 24, AZ2)]
    sim = simulate(plan, workload=w, catalog=cat, traces=traces, hold=timedelta(hours=24))
    assert sim.replans == 1
    runs = sorted((r.pool, r.market, r.start, r.end, r.usd_per_hour) for r in sim.runs)
    assert runs == [(AZ1, "spot", at(0), at(3), 1.0), (AZ1, "spot", at(4.25), at(12.25), 1.2)]
    assert sim.realised_usd == pytest.approx(3 * 1.0 + 8 * 1.2)
    (job,) = sim.jobs.values()
    assert job.finished_at is not None and job.met_deadline  # the new plan's work is
    # recorded to 6 places: done within a second of 12:05
    assert abs(job.finished_at - at(12 + 5 / 60)) < timedelta(seconds=1)


def test_an_offering_is_held_longer_at_each_refusal_in_a_row() -> None:
    cache = UnavailableOfferings()
    assert cache.refused(AZ1, at(0)) == at(1)
    assert cache.held(at(0.5)) == {AZ1: at(1)} and cache.held(at(1)) == {}
    assert cache.refused(AZ1, at(1)) == at(3)  # the second in a row: 2 h
    assert cache.refused(AZ1, at(3)) == at(7)  # 4 h
    cache.ran(AZ1)  # spot ran there: the next refusal starts over
    assert cache.refused(AZ1, at(8)) == at(9)
    assert UnavailableOfferings(first_hold=timedelta(hours=16)).refused(AZ1, at(0)) \
        == at(16)
    for _k in range(2):
        cache.refused(AZ2, at(0))
    assert cache.refused(AZ2, at(0)) == at(4)


def test_a_held_pool_is_capped_to_nothing_while_held() -> None:
    """The rest from 02:30 of a 4-hour-period day: hourly periods 02:00, 03:00, then the
    4-hour periods from 04:00. Held until 05:30: the hours 02:00 and 03:00 wholly, and the
    period 04:00-08:00 half held (1.5 h of 4: not most of it, so left open)."""
    w, _cat = two_zones()
    rest = resumed_workload(w, {"train": 2.0}, at(2.5))
    assert rest.horizon.period_lengths[:3] == (1, 1, 4)
    assert held_caps(rest, {AZ1: at(5.5)}) == {(AZ1, 0): 0.0, (AZ1, 1): 0.0}
    assert held_caps(rest, {AZ1: at(6)}) == {(AZ1, 0): 0.0, (AZ1, 1): 0.0, (AZ1, 2): 0.0}


def test_the_floor_is_uniform_progress_rule() -> None:
    """7.6667 GPU-h left at 1 GPU-h an hour on the fastest pool, a restart of 10 minutes'
    setup + 30 minutes' lost work: 8.3333 h needed. Due at 16:00, looked at every 15
    minutes: at 07:15, 16 - 7.25 - 0.25 = 8.5 h are left after the next look: not yet; at
    07:30, 8.25 h: on the floor (on-demand now)."""
    w, cat = two_zones()
    plan = planned(w, cat)
    model = progress_model(plan, w, cat)
    needs = JobProgress("train", 10.0, at(16), at(0), 60.0, 10.0, {AZ1: 1.0},
                        done_gpu_hours=10 - 7 - 2 / 3, gpus=1.0)
    review = timedelta(minutes=15)
    assert floor_jobs(plan, model, {"train": needs}, at(7.25), review) == []
    assert floor_jobs(plan, model, {"train": needs}, at(7.5), review) == ["train"]
    done = replace(needs, done_gpu_hours=10.0, finished_at=at(7))
    assert floor_jobs(plan, model, {"train": done}, at(15), review) == []


def test_a_job_on_the_floor_that_no_slot_serves_runs_on_demand_at_once() -> None:
    """At 11:00 the plan's one slot (00:00-10:10) is over and the job has done nothing (no
    instance ran): 10 GPU-h + a restart's 0.6667 h cannot wait for the next look before
    16:00 (16 - 11 - 0.25 = 4.75 h left). The tick gives it a slot of one review
    (11:00-11:15, slot 1 of use1-az1's pool, after the plan's slot 0) on-demand at once,
    without waiting for a re-plan (off here): one on-demand launch at 3.00 USD/h."""
    w, cat = two_zones()
    plan = planned(w, cat)
    fleet = SimulatedEc2(at(11))
    fleet.zone_ids = {"use1-az1", "use1-az2"}
    ledger = Ledger.in_memory()
    controller = Controller(plan, fleet=fleet, ledger=lambda: nullcontext(ledger),
                            options=ControllerOptions(ApplyOptions(yes=True), replan=False),
                            say=lambda kind, message: None,
                            context=WorkloadContext(w, cat, "test.yaml", "0" * 64))
    outcome = controller.tick(at(11))
    # behind its plan too: 10 GPU-h planned by 10:10, none done
    assert sorted(e.kind.value for e in outcome.events) == ["behind", "floor"]
    (launch,) = outcome.applied[0].done
    assert (launch.kind, launch.pool, launch.slot, launch.market, launch.usd_per_hour) == (
        "launch", AZ1, 1, "on_demand", 3.0)
    ledger.close()


def test_a_job_on_the_floor_that_its_slot_has_no_use_for_now_gets_a_slot_of_its_own() -> None:
    """The plan's slot 0 holds 00:00-16:00 but its uses run the job only 00:10-10:10 (a
    shared instance whose uses have it wait is alike). At 11:00 nothing is done (no
    instance ran): on the floor as above (10 + 0.6667 h > 4.75 h left). Slot 0 holds the
    job in its ``jobs`` but runs it nothing now - progress credits a slot's uses as
    written - so it does not serve the job: the tick gives it slot 1 (11:00-11:15) of
    use1-az1's pool on-demand at 3.00 USD/h (the pool's market: slot 0, still in the plan,
    is launched on-demand too), renewed at every tick: by 12:00 its 10 minutes' setup and
    50 minutes' work, 0.8333 GPU-h. On 1e53734 slot 0 counted as serving it: one
    on-demand launch, of slot 0, which credits it nothing (0 GPU-h at 12:00)."""
    w, cat = two_zones()
    doc = planned(w, cat)
    (pool,) = doc.fleet
    idle = pool.model_copy(update={"slots": [pool.slots[0].model_copy(update={"end": at(16)})]})
    plan = doc.model_copy(update={"fleet": [idle]})
    fleet = SimulatedEc2(at(11))
    fleet.zone_ids = {"use1-az1", "use1-az2"}
    fleet.set_capacity(AZ1, 0)
    ledger = Ledger.in_memory()
    controller = Controller(plan, fleet=fleet, ledger=lambda: nullcontext(ledger),
                            options=ControllerOptions(ApplyOptions(yes=True), replan=False),
                            say=lambda kind, message: None,
                            context=WorkloadContext(w, cat, "test.yaml", "0" * 64))
    launches = {(a.kind, a.pool, a.slot, a.market, a.usd_per_hour)
                for a in controller.tick(at(11)).applied[0].done}
    assert ("launch", AZ1, 1, "on_demand", 3.0) in launches
    for quarter in range(1, 5):
        fleet.advance(at(11 + quarter / 4))
        controller.tick(at(11 + quarter / 4))
    (progress,) = controller.progress(plan, ledger, at(12)).values()
    assert progress.done_gpu_hours == pytest.approx(50 / 60)
    ledger.close()


def slot_with_no_use_after_ten(now: datetime
                               ) -> tuple[Controller, SimulatedEc2, Ledger, list[str]]:
    """two_zones' job (10 GPU-h due at 16:00) on a plan whose slot 0 holds 00:00-20:00 and
    whose uses run it 00:10-10:10 only; a controller at ``now`` with what it says kept."""
    w, cat = two_zones()
    doc = planned(w, cat)
    (pool,) = doc.fleet
    idle = pool.model_copy(update={"slots": [pool.slots[0].model_copy(update={"end": at(20)})]})
    fleet = SimulatedEc2(now)
    fleet.zone_ids = {"use1-az1", "use1-az2"}
    ledger = Ledger.in_memory()
    said: list[str] = []
    controller = Controller(doc.model_copy(update={"fleet": [idle]}), fleet=fleet,
                            ledger=lambda: nullcontext(ledger),
                            options=ControllerOptions(ApplyOptions(yes=True)),
                            say=lambda kind, message: said.append(kind),
                            context=WorkloadContext(w, cat, "test.yaml", "0" * 64))
    return controller, fleet, ledger, said


def test_a_job_past_its_deadline_on_a_slot_with_no_use_for_it_is_late_at_once() -> None:
    """The plan's slot 0 holds 00:00-20:00, its uses run the job 00:10-10:10 only. At 16:15
    nothing is done and the deadline (16:00) is past: slot 0 runs it nothing, so no slot
    serves it - it is late, a LATE event that re-plans at once and says it late. On
    1e53734 slot 0 counted as serving it: no event, no re-plan, while it did nothing."""
    controller, fleet, ledger, said = slot_with_no_use_after_ten(at(16.25))
    outcome = controller.tick(at(16.25))
    assert "late" in [e.kind.value for e in outcome.events]
    assert outcome.replanned is not None and "late" in said
    ledger.close()


def test_a_job_on_the_floor_before_its_deadline_is_still_late_after_it() -> None:
    """The case above, ticked at 15:45 first: nothing done, 10 GPU-h due at 16:00, no slot
    serving it - on the floor, it gets an on-demand slot of one review (a FLOOR event that
    waits, no re-plan). At 16:15 it is past its deadline with its work not done: a LATE
    event that re-plans at once and says it late. Before, the late job was keyed as the
    floor's event, said once per plan in force, so the second tick saw nothing: the lab
    month's llm-finetune (seed 1) then ran seven days past its deadline on slots of one
    review with no re-plan."""
    controller, fleet, ledger, said = slot_with_no_use_after_ten(at(15.75))
    first = controller.tick(at(15.75))
    fleet.advance(at(16.25))
    second = controller.tick(at(16.25))
    assert ("floor", False) in [(e.kind.value, e.replans) for e in first.events]
    assert first.replanned is None  # behind too, but not urgent: the rate limit waits
    assert [e.kind.value for e in second.events] == ["late"]
    assert second.replanned is not None and "late" in said
    ledger.close()


def test_a_job_behind_re_plans_only_where_it_may_move_to_a_spot_pool_it_is_not_on() -> None:
    """At 11:00 the plan's one slot (00:00-10:00 or 10:10) is over and the job has done none
    of its 10 GPU-h: behind its plan and its line. With use1-az1 and use1-az2 (two_zones)
    the plan has it on use1-az1 only, so a re-plan may move it to use1-az2: the event
    re-plans. With one spot pool (``sim_cases.one_job``), which the plan already has it on,
    a re-plan could only re-time it there - what the pace rule does as it goes - and would
    restart its line: the event re-plans nothing."""
    from simulate.sim_cases import one_job, prices

    for (w, cat), replans in ((two_zones(), True), ((one_job(10), prices()), False)):
        fleet = SimulatedEc2(at(11))
        fleet.zone_ids = {"use1-az1", "use1-az2"}
        ledger = Ledger.in_memory()
        controller = Controller(planned(w, cat), fleet=fleet,
                                ledger=lambda ledger=ledger: nullcontext(ledger),
                                options=ControllerOptions(ApplyOptions(yes=True), replan=False),
                                say=lambda kind, message: None,
                                context=WorkloadContext(w, cat, "test.yaml", "0" * 64))
        (behind,) = [e for e in controller.tick(at(11)).events if e.kind.value == "behind"]
        assert behind.replans is replans
        ledger.close()


def test_a_later_apply_knows_the_refusals_of_an_earlier_one() -> None:
    """Two ``apply`` processes a quarter of an hour apart on one ledger, use1-az1 without
    spot capacity: the first is refused at 00:00 and holds the pool until 01:00 (the first
    hold, an hour) - in the ledger. The second, a new controller, reads the hold: its own
    refusal at 00:15 is no new strike (the hold stays until 01:00, one strike), and no
    re-plan is made for it (a short hold is waited out)."""
    w, cat = two_zones()
    plan = planned(w, cat)
    ledger = Ledger.in_memory()
    fleet = SimulatedEc2(at(0))
    fleet.zone_ids = {"use1-az1", "use1-az2"}
    fleet.set_capacity(AZ1, 0)
    events = []
    for k in range(2):
        fleet.advance(at(k / 4))
        controller = Controller(plan, fleet=fleet, ledger=lambda: nullcontext(ledger),
                                options=ControllerOptions(ApplyOptions(yes=True)),
                                say=lambda kind, message: None,
                                context=WorkloadContext(w, cat, "test.yaml", "0" * 64))
        outcome = controller.tick(at(k / 4))
        assert [a.pool for a in outcome.applied[0].capacity_refused] == [AZ1]
        assert outcome.replanned is None
        assert ledger.offering_holds() == {AZ1: (at(1), 1)}
        events.append([(e.kind.value, e.replans) for e in outcome.events])
    assert events == [[("refused", False)], []]  # the second: held already, no new event
    ledger.close()


def test_on_demand_is_kept_when_its_spot_replacement_is_found_reclaimed() -> None:
    """The single-job grid's job (``scripts/bench_execution.py``): 48 GPU-h due 60 h after
    2027-03-01 00:00, checkpoint every 30 minutes, 10 minutes of setup; its plan puts it on
    p3.2xlarge on-demand to 03-02 07:20, then use1-az1's spot. Its line: from 00:25 (a
    restart after its first slot) to 11:35 on 03-03, 48 / 59.17 = 0.8113 GPU-h an hour.
    Spot is out to 03:30, up 03:30-04:00, out 04:00-05:00, up after (5-minute ticks).
    00:30: behind, on-demand (working from 00:40). 03:45: safely ahead at the end of a
    review's lead (04:00: 3.333 done >= 0.8113 x 3.583 + 0.417 = 3.324; at 03:30 for 03:45,
    3.083 < 3.121): spot first moves the slot to spot, launched, the on-demand instance kept
    until the spot one runs. 04:00: AWS has reclaimed it - the ledger learns so only in the
    apply run, after the decision - so on-demand is kept (before: ended at 04:00 for a spot
    instance already gone, nothing ran to 04:45, then a new on-demand instance, setup paid
    again, to 09:00: 39.17 USD against 31.12). 05:00: spot runs again; 05:15 the next tick
    sees it run and ends on-demand."""
    import numpy as np

    from costopt.core.pool_ids import parse_pool_id
    from costopt.plan.planfile import to_document
    from costopt.plan.planner import make_plan
    from costopt.pricing.catalog import load_catalog
    from costopt.traces import PoolTrace, Trace
    from costopt.workload_checks import parse_workload

    w = parse_workload({
        "name": "grid-job", "horizon": {"start": "2027-03-01", "days": 3, "period_hours": 12},
        "cloud": {"regions": ["us-east-1"], "instance_types": ["p3.2xlarge"],
                  "zones": ["use1-az1"]},
        "jobs": [{"name": "train", "gpus": 1, "gpu_hours": 48, "interruptible": True,
                  "checkpoint_minutes": 30, "deadline": "2027-03-03T12:00:00Z"}]}, "grid job")
    cat = load_catalog(None)
    plan = to_document(make_plan(w, cat), "grid-job.yaml", "0" * 64)
    (spot,) = [p.pool for p in plan.fleet if p.market == "spot"]
    start = datetime(2027, 3, 1, tzinfo=timezone.utc)
    up = np.ones(72 * 12, dtype=np.int64)
    up[:42] = 0  # to 03:30
    up[48:60] = 0  # 04:00-05:00
    sim = simulate(plan, workload=w, catalog=cat, say=lambda kind, message: None,
                   traces=[PoolTrace(parse_pool_id(spot), "hand.json", start, Trace(300.0, up))])

    def hour(moment: datetime) -> float:
        return (moment - start).total_seconds() / 3600

    assert [(r.market, hour(r.start), hour(r.end), r.interrupted) for r in sim.runs][:3] == [
        ("on_demand", 0.5, 5.25, False), ("spot", 3.75, 4.0, True), ("spot", 5.0, 48.75, False)]
    assert sim.jobs["train"].met_deadline
