"""The deadline-aware policy's choices at one moment, from progress given by hand.

The plan: one 1-GPU job of 10 GPU-h due at the end of 2027-01-01 (one 24-hour period), on
spot p3.2xlarge (1 USD/h; 3 on demand), slot 0 from 00:00 to 10:00. Setup 10 minutes and
checkpoint every 60: a restart costs 40 minutes.
"""

from __future__ import annotations

import pytest
from fleet_plans import at as fleet_at
from fleet_plans import iso
from fleet_plans import plan as fleet_plan
from fleet_plans import pool as fleet_pool
from simulate.sim_cases import SPOT, T0, at, one_job, planned, prices

from costopt.orchestrate.policy import POLICIES, DeadlineAware, gangs, planned_work
from costopt.orchestrate.progress import JobProgress, PlanMix
from costopt.orchestrate.reconcile import MarketChoice
from costopt.planfile import AssignmentRecord, PlanDocument

POLICY = DeadlineAware()


def progress(done: float, **fields: float) -> dict[str, JobProgress]:
    return {"train": JobProgress("train", 10.0, at(24), T0, 60.0, 10.0, {SPOT: 1.0},
                                 done_gpu_hours=done, **fields)}  # type: ignore[arg-type]


def test_the_default_is_the_controller_and_deadline_a_baseline() -> None:
    assert list(POLICIES) == ["plan", "deadline"]
    assert POLICIES["plan"] is None and isinstance(POLICIES["deadline"], DeadlineAware)


@pytest.mark.parametrize(("hours", "done", "choice"), [
    # need0 = 10 / (24 - 2/3) = 0.4286. At 12:00 with 4 done: 6 / (12 - 2/3) = 0.529: behind;
    # as Uniform Progress does, a spot instance still running is swapped for on-demand.
    (12, 4.0, MarketChoice("on_demand", "swap")),
    # At 12:00 with 5.2 done: 4.8 / 11.333 = 0.4235; with a switch 5.467 / 11.333 = 0.482:
    # ahead, not safely.
    (12, 5.2, MarketChoice("spot", "keep")),
    # With 8 done: 2 / 11.333 = 0.176; with a switch 0.235: safely ahead.
    (12, 8.0, MarketChoice("spot", "end")),
    # At 20:00 with 5 done: 5 / 3.333 = 1.5: critical; the spot instance is swapped.
    (20, 5.0, MarketChoice("on_demand", "swap")),
])
def test_the_market_follows_the_pace(hours: float, done: float, choice: MarketChoice) -> None:
    plan = planned(one_job(10), prices())
    desired = POLICY.desired(plan, at(hours), lambda: progress(done))
    (pool,) = desired.plan.fleet
    # The pool runs its one gang now, past the plan's slot (00:00-10:00).
    assert [(s.slot, s.start) for s in pool.slots] == [(0, at(hours))]
    assert desired.markets == {SPOT: choice}
    assert desired.plan.plan_id == plan.plan_id


def test_a_finished_job_runs_nothing() -> None:
    plan = planned(one_job(10), prices())
    desired = POLICY.desired(plan, at(5), lambda: progress(10.0))
    assert [p.slots for p in desired.plan.fleet] == [[]]


@pytest.mark.parametrize(("interruptions", "choice"), [
    # Safely ahead. Spot at 1 USD/h against 3 saves 2/3 of the price; each interruption costs
    # 2/3 h of work: break-even at 1 interruption a spot-hour. Over 1 spot-hour and the price
    # data's prior hour (rate 0) 2 are expected there; clearly dearer beyond
    # 2 + 2 x sqrt(2) = 4.83.
    (4, MarketChoice("spot", "end")),
    (5, MarketChoice("on_demand", "keep")),
])
def test_spot_clearly_dearer_gives_way_to_on_demand(interruptions: int,
                                                    choice: MarketChoice) -> None:
    plan = planned(one_job(10), prices())
    desired = POLICY.desired(plan, at(12), lambda: progress(8.0, interruptions=interruptions,
                                                             spot_hours=1.0))
    assert desired.markets == {SPOT: choice}


def test_without_on_demand_allowed_the_pool_stays_on_spot() -> None:
    plan = planned(one_job(10, allow=["spot"]), prices())
    desired = POLICY.desired(plan, at(12), lambda: progress(4.0))
    assert desired.markets == {SPOT: MarketChoice("spot", "keep")}


def test_gangs_is_the_most_slots_at_once() -> None:
    plan = planned(one_job(10), prices())
    assert gangs(plan.fleet[0]) == 1


def test_planned_work_spreads_each_period_and_reads_each_plan_of_a_mix_afresh() -> None:
    # Two 12-hour periods; "a" gets 24 GPU-h of work on the on-demand pool in period 0 and
    # 12 on the owned server in period 1. In [06:00, 18:00): 24 x 6/12 + 12 x 6/12 = 18;
    # leaving the owned server out, 12. A second plan (same mix object) moves period 1's
    # work to 36 GPU-h: what the mix kept for the first plan must not answer for it.
    od = "aws:us-east-1:p3.2xlarge:on_demand"
    owned = "owned:lab"

    def with_work(second: float) -> PlanDocument:
        doc = fleet_plan(fleet_pool(od, [(0, 0, 12)]), days=1)
        return doc.model_copy(update={"assignments": [AssignmentRecord(
            job="a", pool=p, period_start=iso(h), gpu_hours=g, work_gpu_hours=g, cost_usd=0)
            for p, h, g in ((od, 0, 24.0), (owned, 12, second))]})

    first, second = with_work(12.0), with_work(36.0)
    mix = PlanMix.of(first)
    assert planned_work(first, mix, "a", fleet_at(6), fleet_at(18)) == pytest.approx(18.0)
    assert planned_work(first, mix, "a", fleet_at(6), fleet_at(18),
                        frozenset({owned})) == pytest.approx(12.0)
    assert planned_work(second, mix, "a", fleet_at(6), fleet_at(18)) == pytest.approx(30.0)
    assert planned_work(first, mix, "b", fleet_at(0), fleet_at(24)) == 0


def test_planned_work_on_uses_finds_each_use_of_a_span_in_order_of_start_or_not() -> None:
    # Job "a" (1.5 reference GPU-h per GPU-hour on the on-demand pool, 2.0 on spot). On
    # demand, slot 0 holds uses 00-04 (1 GPU) and 06-10 (2 GPUs), slot 1 02-05 (1 GPU): the
    # pool's uses are not in order of start. On spot, slot 0 holds 00-02 and 04-12 (1 GPU):
    # in order. In [03:00, 08:00): on demand 1 h x 1.5 + 2 h x 3.0 + 2 h x 1.5 = 10.5; on
    # spot 4 h x 2.0 = 8.0. In [05:00, 08:00), inside spot's second use: 2 h x 3.0 on
    # demand, 3 h x 2.0 on spot. In [00:00, 01:00): 1.5 + 2.0. In [12:00, 20:00): nothing.
    od, spot = "aws:us-east-1:p3.2xlarge:on_demand", "aws:us-east-1:p3.2xlarge:spot"

    def uses(*spans: tuple[float, float, int]) -> list[dict[str, object]]:
        return [{"job": "a", "gpus": g, "start": iso(s), "end": iso(e)} for s, e, g in spans]

    doc = fleet_plan(fleet_pool(od, [(0, 0, 10), (1, 2, 5)]), fleet_pool(spot, [(0, 0, 12)]),
                     days=1)
    on = {(od, 0): uses((0, 4, 1), (6, 10, 2)), (od, 1): uses((2, 5, 1)),
          (spot, 0): uses((0, 2, 1), (4, 12, 1))}
    doc = PlanDocument.model_validate({**doc.as_json(), "jobs": [
        {"job": "a", "gpus": 2, "speeds": {od: 1.5, spot: 2.0}}], "fleet": [
        {**p.model_dump(mode="json"), "slots": [
            {**s.model_dump(mode="json"), "jobs": ["a"], "uses": on[(p.pool, s.slot)]}
            for s in p.slots]} for p in doc.fleet]})
    mix = PlanMix.of(doc)
    assert planned_work(doc, mix, "a", fleet_at(3), fleet_at(8)) == pytest.approx(18.5)
    assert planned_work(doc, mix, "a", fleet_at(3), fleet_at(8),
                        frozenset({spot})) == pytest.approx(10.5)
    assert planned_work(doc, mix, "a", fleet_at(5), fleet_at(8)) == pytest.approx(12.0)
    assert planned_work(doc, mix, "a", fleet_at(0), fleet_at(1)) == pytest.approx(3.5)
    assert planned_work(doc, mix, "a", fleet_at(12), fleet_at(20)) == 0
