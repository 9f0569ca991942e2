"""Uniform Progress's rule laid over the plan (orchestrate/markets.py), worked by hand.

The plan: one job, ``train`` (20 GPU-h due at 30:00), on an on-demand slot 00:00-10:00 and
then a spot slot 10:00-20:00 of the same instance type and region - the order the LP, which
is indifferent to it, happened to write. Its pace (no start grace here: the JobPace is built
by hand): 1 GPU-h an hour, a restart of 0.5 h, so Uniform Progress's line needs
20 / (30 - 0.5) = 0.6780 of the time left. At 02:00, 27.5 h are left before the line's end:
behind with more than 0.6780 x 27.5 = 18.644 GPU-h to go (done < 1.356), safely ahead with
at most 18.644 - 0.5 = 18.144 to go (done >= 1.856), ahead between.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fleet_plans import at, plan, pool

from costopt.orchestrate.markets import pace_choice, spot_first, spot_markets
from costopt.orchestrate.pace import JobPace, PaceState
from costopt.orchestrate.reconcile import MarketChoice
from costopt.planfile import PlanDocument

OD = "aws:us-east-1:p3.2xlarge:on_demand"
SPOT = "aws:us-east-1:p3.2xlarge:spot"


def od_then_spot() -> PlanDocument:
    doc = plan(pool(OD, [(0, 0, 10)]),
               pool(SPOT, [(0, 10, 20)], usd_per_hour=1.0, on_demand=3.0, fallback=True))
    fleet = [p.model_copy(update={"slots": [s.model_copy(update={"jobs": ["train"]})
                                            for s in p.slots]}) for p in doc.fleet]
    return doc.model_copy(update={"fleet": fleet})


def paces(done: float, hours: float = 2.0) -> dict[str, JobPace]:
    return {"train": JobPace("train", at(hours), at(0), at(30), 20.0, 20.0 - done, 1.0,
                             0.5, 0.5)}


def slots(doc: PlanDocument, pool_id: str) -> list[tuple[int, float, float]]:
    (found,) = [p for p in doc.fleet if p.pool == pool_id]
    return sorted((s.slot, (s.start - at(0)).total_seconds() / 3600,
                   (s.end - at(0)).total_seconds() / 3600) for s in found.slots)


@pytest.mark.parametrize(("done", "state"), [(1.3, PaceState.BEHIND), (1.5, PaceState.AHEAD),
                                             (1.9, PaceState.SAFE)])
def test_the_states_at_two_o_clock(done: float, state: PaceState) -> None:
    assert paces(done)["train"].state is state


def test_a_job_safely_ahead_runs_its_on_demand_slot_on_its_spot_pool_first() -> None:
    # Nothing runs yet: the on-demand slot moves whole to the spot pool from 02:00 to its
    # end (10:00), numbered as that pool's next slot of the same job (0), so the instance
    # carries on into the plan's own spot slot at 10:00.
    moved = spot_first(od_then_spot(), at(2), paces(1.9), set(), {})
    assert slots(moved, SPOT) == [(0, 2.0, 10.0), (0, 10.0, 20.0)]
    assert slots(moved, OD) == []


def test_on_demand_is_ended_only_once_the_spot_instance_runs() -> None:
    # Safely ahead with an on-demand instance running: both slots are wanted (the spot one
    # launched, the on-demand one kept) until a spot instance of the pool runs.
    both = spot_first(od_then_spot(), at(2), paces(1.9), set(), {OD: {"on_demand"}})
    assert slots(both, OD) == [(0, 0.0, 10.0)]
    assert slots(both, SPOT) == [(0, 2.0, 10.0), (0, 10.0, 20.0)]
    swapped = spot_first(od_then_spot(), at(2), paces(1.9), set(),
                         {OD: {"on_demand"}, SPOT: {"spot"}})
    assert slots(swapped, OD) == []


def test_safely_ahead_is_judged_at_the_end_of_the_on_demand_slots_lead() -> None:
    # The on-demand slot runs on until the next tick sees the spot instance run: a lead of
    # one review (15 minutes). Judged then, at 02:15, with the on-demand instance's 0.25
    # GPU-h done meanwhile: safely ahead with C - 0.25 + 0.5 <= 0.6780 x (30 - 2.25 - 0.5)
    # = 18.475 GPU-h, so done >= 1.775 now (not 1.856). At 1.8 done, ahead without the lead
    # (nothing moves: the on-demand instance is kept), safely ahead with it (the slot moves
    # to spot; the on-demand one is kept until the spot instance runs).
    running = {OD: {"on_demand"}}
    assert spot_first(od_then_spot(), at(2), paces(1.8), set(), running) == od_then_spot()
    led = spot_first(od_then_spot(), at(2), paces(1.8), set(), running,
                     timedelta(minutes=15))
    assert slots(led, SPOT) == [(0, 2.0, 10.0), (0, 10.0, 20.0)]
    assert slots(led, OD) == [(0, 0.0, 10.0)]
    assert spot_first(od_then_spot(), at(2), paces(1.77), set(), running,
                      timedelta(minutes=15)) == od_then_spot()


def test_a_job_ahead_keeps_the_on_demand_instance_it_has_and_one_behind_the_plan() -> None:
    # Ahead but not safely: with an on-demand instance running nothing moves (no switch
    # paid to win back less than it costs); with none running, spot is tried first. Behind:
    # the plan's on-demand slot runs as written.
    kept = spot_first(od_then_spot(), at(2), paces(1.5), set(), {OD: {"on_demand"}})
    assert kept == od_then_spot()
    assert slots(spot_first(od_then_spot(), at(2), paces(1.5), set(), {}), OD) == []
    assert spot_first(od_then_spot(), at(2), paces(1.3), set(), {}) == od_then_spot()
    # On the floor, a job runs as the plan says too, however far ahead its line has it.
    assert spot_first(od_then_spot(), at(2), paces(1.9), {"train"}, {}) == od_then_spot()


def test_a_spot_slot_runs_on_the_market_its_job_pace_calls_for() -> None:
    # At 12:00 the spot slot serves the job: 17.5 h to the line's end, 0.6780 x 17.5 =
    # 11.864 GPU-h to go at most (done >= 8.136), safely ahead at done >= 8.636.
    doc = od_then_spot()
    assert spot_markets(doc, at(12), paces(8.0, 12), set()) == {  # behind: a spot instance
        SPOT: MarketChoice("on_demand", "keep")}  # running is kept, a launch is on-demand (a
    # pool with no other zone priced: test_zone_moves has one that walks the zones first)
    assert spot_markets(doc, at(12), paces(8.3, 12), set()) == {
        SPOT: MarketChoice("spot", "keep", zones="home")}
    assert spot_markets(doc, at(12), paces(8.7, 12), set()) == {
        SPOT: MarketChoice("spot", "swap", zones="home")}
    assert spot_markets(doc, at(12), paces(8.7, 12), {"train"}) == {
        SPOT: MarketChoice("on_demand", "swap")}
    assert spot_markets(doc, at(2), paces(1.9), set()) == {}  # no spot slot at 02:00


def test_pace_choice_is_uniform_progress_keeping_spot_that_runs_until_critical() -> None:
    assert [pace_choice(s) for s in (PaceState.CRITICAL, PaceState.BEHIND, PaceState.AHEAD,
                                     PaceState.SAFE)] == [
        MarketChoice("on_demand", "swap"), MarketChoice("on_demand", "keep", zones="all"),
        MarketChoice("spot", "keep", zones="home"), MarketChoice("spot", "swap", zones="home")]


def test_spot_first_judges_an_on_demand_slot_by_the_jobs_working_in_it_now() -> None:
    # The on-demand slot 00:00-10:00 carries ``train`` (working 00:00-10:00, safely ahead at
    # 02:00: 1.9 done) and ``later`` (its GPUs' use starts at 06:00; nothing done: behind).
    # At 02:00 only ``train`` works, so the slot runs on spot, as rule 1 judges a spot slot
    # (``working``); ``later`` waiting cannot be helped by the market. At 06:00 both work and
    # ``later`` is behind: the slot stays on-demand.
    from costopt.planfile import SlotUse

    doc = od_then_spot()
    uses = [SlotUse(job="train", gpus=1, start=at(0), end=at(10)),
            SlotUse(job="later", gpus=1, start=at(6), end=at(10))]
    fleet = [p.model_copy(update={"slots": [s.model_copy(update={
        "jobs": ["train", "later"], "uses": uses}) for s in p.slots]}) if p.pool == OD else p
        for p in doc.fleet]
    doc = doc.model_copy(update={"fleet": fleet})
    behind = {"later": JobPace("later", at(2), at(0), at(30), 20.0, 20.0, 1.0, 0.5, 0.5)}
    moved = spot_first(doc, at(2), {**paces(1.9), **behind}, set(), {})
    # numbered after the spot pool's own slots: the spot slot carries ``train`` alone
    assert slots(moved, SPOT) == [(0, 10.0, 20.0), (1, 2.0, 10.0)]
    assert slots(moved, OD) == []
    behind6 = {"later": JobPace("later", at(6), at(0), at(30), 20.0, 20.0, 1.0, 0.5, 0.5)}
    kept = spot_first(doc, at(6), {**paces(5.9, 6.0), **behind6}, set(), {})
    assert slots(kept, OD) == [(0, 0.0, 10.0)]
