"""The simulation on tiny traces, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sim_cases import SPOT, T0, at, hourly, one_job, planned, prices, stretched

from costopt.core.pool_ids import parse_pool_id
from costopt.errors import InputFileError
from costopt.orchestrate.policy import Desired
from costopt.simulate.run import _moments, simulate
from costopt.traces import PoolTrace, Trace

# The plan carried out exactly, without re-plans: what these hand-worked cases check.


def test_always_available_spot_costs_what_was_planned() -> None:
    # 10 GPU-h on a 1-GPU instance: one spot slot 00:00-10:00 at 1 USD/h = 10 USD planned.
    w, cat = one_job(10), prices()
    plan = planned(w, cat)
    assert plan.cost.variable_usd == pytest.approx(10.0)
    for traces in ([], [hourly([1] * 24)]):  # no trace: spot always there; or a trace of 1s
        sim = simulate(plan, workload=w, catalog=cat, traces=traces, replan=False)
        assert sim.notes == []
        assert sim.realised_usd == pytest.approx(plan.cost.variable_usd, abs=1e-6)
        (job,) = sim.jobs.values()
        assert (job.spot_hours, job.on_demand_hours, job.interruptions) == (
            pytest.approx(10.0), 0.0, 0)
        # The plan budgets no setup: 10 h less the first 10 minutes = 9.8333 GPU-h of 10.
        assert job.done_gpu_hours == pytest.approx(10 - 10 / 60)
        assert not job.finished


def test_an_outage_moves_the_slot_to_on_demand_and_back_once_spot_runs() -> None:
    # Slot 00:00-12:00 for a job of 10 GPU-h; spot there 00-03, gone 03-05, back from 05.
    # The plan as written (no re-plan) looks at slot boundaries and trace changes only.
    # 00:00 launch on spot. 03:00 the trace falls to 0: interrupted; the relaunch finds no
    # spot (2 tries) and falls back to on-demand at 03:00; the pool is held unavailable for
    # 1 h. 05:00 spot is back (the hold is out): a spot instance is launched to replace the
    # on-demand one (a swap), and the on-demand one is ended once it runs.
    # Work: spot 00:10-03:00 = 2.8333 GPU-h, less 60/2 min lost = 2.3333; on-demand
    # 03:10-05:00 = 1.8333 (4.1667); spot from 05:10 does the other 5.8333: finished 11:00.
    # Cost: (3 + 7) h spot x 1 + 2 h on-demand x 3 = 16 USD (kept on on-demand to the slot's
    # end, as the plan's fallback once did: 3 + 9 x 3 = 30).
    w, cat = one_job(10), prices()
    plan = stretched(w, cat, 12)
    sim = simulate(plan, workload=w, catalog=cat, traces=[hourly([1, 1, 1, 0, 0] + [1] * 19)],
                   replan=False)
    (job,) = sim.jobs.values()
    assert job.spot_hours == pytest.approx(10.0)
    assert job.on_demand_hours == pytest.approx(2.0)
    assert job.interruptions == 1
    assert job.finished_at == at(11)
    assert job.met_deadline
    assert sim.realised_usd == pytest.approx(16.0)
    assert sim.launches == 5  # spot, spot and spot refused then on-demand; spot at 05:00


def test_spot_back_while_its_pool_is_held_is_taken_when_the_hold_ends() -> None:
    # Risk's one-job case, smallest: half-hour ticks, no spot 00:00-00:30, then spot all day.
    # 00:00 spot refused (2 tries): on-demand (fallback), the pool held until 01:00. 00:30
    # spot comes back while held: nothing to do. 01:00 the hold ends with spot there: a spot
    # instance replaces the on-demand one. (Once, nothing looked again until the slot's end:
    # on-demand 00:00-12:00, 36 USD.) Work: on-demand 00:10-01:00 = 0.8333, spot from 01:10
    # the other 9.1667: done 10:20. Cost: 1 h x 3 + 11 h of spot to the slot's end x 1 = 14.
    w, cat = one_job(10), prices()
    trace = PoolTrace(parse_pool_id(SPOT), "hand.json", T0,
                      Trace(1800.0, np.asarray([0] + [1] * 47, dtype=np.int64)))
    sim = simulate(stretched(w, cat, 12), workload=w, catalog=cat, traces=[trace],
                   replan=False)
    (job,) = sim.jobs.values()
    assert [(r.market, r.start, r.end) for r in sim.runs] == [
        ("on_demand", at(0), at(1)), ("spot", at(1), at(12))]
    assert job.finished_at == at(10 + 1 / 3) and sim.realised_usd == pytest.approx(14.0)


def test_without_on_demand_the_slot_waits_for_spot_to_come_back() -> None:
    # As above but the job may not run on demand: at 03:00 the relaunch fails (2 tries) and
    # the slot stays empty; at 05:00 capacity returns and spot is launched again until 12:00.
    # Work: 2.3333 + (05:10-12:00 = 6.8333) = 9.1667 GPU-h of 10: not finished.
    # Cost: 3 h + 7 h of spot at 1 USD/h = 10 USD.
    w, cat = one_job(10, allow=["spot"]), prices()
    plan = stretched(w, cat, 12, fallback=False)
    sim = simulate(plan, workload=w, catalog=cat, traces=[hourly([1, 1, 1, 0, 0] + [1] * 19)],
                   replan=False)
    (job,) = sim.jobs.values()
    assert (job.spot_hours, job.on_demand_hours) == (pytest.approx(10.0), 0.0)
    assert job.interruptions == 1
    assert job.done_gpu_hours == pytest.approx(2.8333333 - 0.5 + 6.8333333)
    assert not job.finished and not job.met_deadline
    assert sim.realised_usd == pytest.approx(10.0)
    assert sim.launches == 4  # spot; 2 refused at 03:00; spot at 05:00


def test_a_drop_below_the_running_count_interrupts_only_the_newest() -> None:
    # The spot pool with two slots 00:00-12:00; the trace holds 2, 2, then 1 at 02:00, then
    # 2 again: at 02:00 one of the two instances (the newer) is interrupted, the other runs on.
    w, cat = one_job(20), prices()
    plan = stretched(w, cat, 12)
    fleet = plan.fleet[0]
    fleet.slots.append(fleet.slots[0].model_copy(update={"slot": 1}))
    plan.instance_hours[0].instance_hours = 24.0  # two instances for 12 h
    sim = simulate(plan, workload=w, catalog=cat, traces=[hourly([2, 2, 1] + [2] * 21)],
                   replan=False)
    assert sim.interruptions == 1
    spot = sorted((r.instance_id, r.start, r.end, r.interrupted) for r in sim.runs
                  if r.market == "spot")
    assert sorted(s[1:] for s in spot) == [(at(0), at(2), True), (at(0), at(12), False),
                                           (at(3), at(12), False)]
    # Its slot is replaced on demand (no spot left at 02:00; the pool held for an hour);
    # at 03:00 spot is back and the hold out: a spot instance replaces the on-demand one.
    on_demand = [(r.start, r.end) for r in sim.runs if r.market == "on_demand"]
    assert on_demand == [(at(2), at(3))]


def test_a_trace_that_does_not_cover_the_horizon_is_refused() -> None:
    w, cat = one_job(10), prices()
    with pytest.raises(InputFileError) as err:
        simulate(planned(w, cat), workload=w, catalog=cat, traces=[hourly([1] * 20)],
                 replan=False)
    assert "does not cover the plan's horizon" in str(err.value)


def test_a_trace_of_a_pool_the_plan_does_not_use_is_noted() -> None:
    w, cat = one_job(10), prices()
    other = hourly([0] * 24, pool="aws:us-west-2:p3.2xlarge:spot")
    sim = simulate(planned(w, cat), workload=w, catalog=cat, traces=[other], replan=False)
    assert sim.realised_usd == pytest.approx(10.0)  # its zeros touch nothing
    (note,) = sim.notes
    assert "aws:us-west-2:p3.2xlarge:spot matches no spot pool of the plan" in note


def test_a_policy_that_reviews_is_asked_at_its_interval() -> None:
    w, cat = one_job(10), prices()
    plan = planned(w, cat)
    asked = []

    class Every6h:
        name = "every-6h"
        review_seconds = 6 * 3600.0

        def desired(self, plan, at, progress):  # type: ignore[no-untyped-def]
            asked.append((at, progress()["train"].done_gpu_hours))
            return Desired(plan)

    sim = simulate(plan, workload=w, catalog=cat, traces=[], policy=Every6h())
    # Slot 00:00-10:00 and the horizon's end, plus every 6 h: 00, 06, 10, 12, 18, 24.
    assert [a for a, _done in asked] == [at(h) for h in (0, 6, 10, 12, 18, 24)]
    # Progress as the policy sees it: at 06:00, 6 h less 10 minutes of setup.
    assert asked[1][1] == pytest.approx(6 - 10 / 60)
    assert sim.policy == "every-6h"


def test_prices_other_than_the_plans_are_noted() -> None:
    w, cat = one_job(10), prices()
    plan = planned(w, cat)
    plan.prices["price_date"] = "2026-01-01"
    sim = simulate(plan, workload=w, catalog=cat, traces=[], replan=False)
    (note,) = sim.notes
    assert "test-prices.csv (2026-01-01); the hindsight optimum uses test-prices.csv " \
        "(2026-11-01)" in note


def test_a_stopped_spot_instance_waits_for_capacity_to_start_again() -> None:
    # Slot 0 runs 00:00-04:00 and 08:00-12:00: a persistent spot request, stopped at 04:00 and
    # started at 08:00 - but the trace holds 0 from 06:00 to 10:00, so the start is refused
    # (recorded as failed) and done when capacity returns at 10:00. Spot 4 h + 2 h = 6 USD.
    w, cat = one_job(10), prices()
    plan = stretched(w, cat, 12)
    start = plan.fleet[0].slots[0]
    plan.fleet[0].slots = [start.model_copy(update={"end": at(4)}),
                           start.model_copy(update={"start": at(8)})]
    plan.instance_hours[0].instance_hours = 8.0
    sim = simulate(plan, workload=w, catalog=cat,
                   traces=[hourly([1] * 6 + [0] * 4 + [1] * 14)], replan=False)
    assert [(r.start, r.end, r.market) for r in sim.runs] == [
        (at(0), at(4), "spot"), (at(10), at(12), "spot")]
    assert len({r.instance_id for r in sim.runs}) == 1  # the same instance, started again
    assert sim.said["failed"] == 1 and sim.interruptions == 0
    assert sim.realised_usd == pytest.approx(6.0)


def test_the_moments_looked_at_carry_each_changed_pools_count() -> None:
    # Pool A is traced by two zones whose counts add up, B by one trace; 00:30 is a moment
    # looked at anyway (a slot boundary). A: 1+0, 1+2 from 01:00, 0+2 from 02:00, 0+0 from
    # 03:00; B: 1, 0 from 01:00, 1 from 02:00 (its 03:00 tick is no change).
    sources = {"A": [hourly([1, 1, 0, 0]), hourly([0, 2, 2, 0])], "B": [hourly([1, 0, 1, 1])]}
    assert _moments(sources, {at(0.5), at(9)}, at(0), at(4)) == [
        (at(0), [("A", 1), ("B", 1)]), (at(0.5), []), (at(1), [("A", 3), ("B", 0)]),
        (at(2), [("A", 2), ("B", 1)]), (at(3), [("A", 0)])]
