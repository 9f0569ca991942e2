"""Moving between zones (spec v3, design 5; orchestrate/markets.py), worked by hand.

The workload: one 1-GPU job, ``train``, 10 GPU-h due at 24:00, 10 minutes of setup a launch,
a checkpoint every 60 minutes (a restart o = 10/60 + 60/2/60 = 0.6667 h); p3.2xlarge spot at
2.00 USD/h in its home zone use1-az1 and 8.00 in use1-az2, 32.00 on demand. The plan: one
slot of use1-az1's spot pool, 00:00-10:10 (setup + 10 h). The controller ticks every quarter
hour and does not re-plan here (``move_after`` and ``behind_share`` out of reach), so what
runs is the zone rule alone.

Uniform Progress's line (markets.job_paces) starts one restart after the slot's start, at
00:40, and needs 10 / (24 - 0.6667 - 0.6667) = 0.44118 of the time left. With nothing done
the job is on its line until 00:40 (ahead, not safely: one switch more would need
10.6667 / 23.3333 = 0.457 > 0.441 at 00:00) and behind after it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone

import pytest
from simulate.sim_cases import planned
from zone_cases import AZ1, AZ2, two_zones

from costopt.orchestrate.apply import ApplyOptions, apply_plan
from costopt.orchestrate.controller import Controller, ControllerOptions, WorkloadContext
from costopt.orchestrate.ledger import InstanceRecord, Ledger
from costopt.orchestrate.markets import AwayRun, leaves_home, spot_markets, worth_moving_home
from costopt.orchestrate.pace import JobPace
from costopt.orchestrate.reconcile import MarketChoice
from costopt.planfile import PlanDocument
from costopt.pricing.catalog import PriceCatalog
from costopt.simulate.ec2 import SimulatedEc2
from costopt.workload import Workload

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def the_case() -> tuple[Workload, PriceCatalog, PlanDocument]:
    """The module's workload, prices and plan."""
    w, cat = two_zones(home_usd=2.0, away_usd=8.0, on_demand_usd=32.0,
                       deadline="2027-01-02T00:00:00Z", period_hours=24)
    return w, cat, planned(w, cat)


def carried_out(until: float, az1: Callable[[float], int],
                az2: Callable[[float], int] = lambda h: 1) -> list[InstanceRecord]:
    """The instances the controller ran from 00:00 to ``until`` (hours, exclusive), ticking
    every quarter hour, with use1-az1's spot capacity ``az1(hour)`` and use1-az2's
    ``az2(hour)`` (always 1 unless given)."""
    w, cat, plan = the_case()
    (pool,) = plan.fleet
    assert (pool.pool, pool.slots[0].start, pool.slots[0].end) == (AZ1, at(0), at(10 + 1 / 6))
    fleet = SimulatedEc2(at(0))
    fleet.zone_ids = {"use1-az1", "use1-az2"}
    ledger = Ledger.in_memory()
    options = ControllerOptions(ApplyOptions(yes=True), behind_share=1.0,
                                move_after=timedelta(days=30))
    controller = Controller(plan, fleet=fleet, ledger=lambda: nullcontext(ledger),
                            options=options, say=lambda kind, message: None,
                            context=WorkloadContext(w, cat, "test.yaml", "0" * 64))
    for k in range(int(until * 4)):
        fleet.advance(at(k / 4))
        fleet.set_capacity(AZ1, az1(k / 4))
        fleet.set_capacity(AZ2, az2(k / 4))
        assert controller.tick(at(k / 4)).replanned is None
    try:
        return ledger.instances()
    finally:
        ledger.close()


def ran(instances: list[InstanceRecord]) -> list[tuple[str | None, str, float, float, float]]:
    """(zone, market, USD/h, from, to) of each instance, hours from 00:00 (to: -1 if running)."""
    def hours(moment: datetime | None) -> float:
        return -1.0 if moment is None else (moment - T0).total_seconds() / 3600
    return [(i.az, i.market, i.usd_per_hour, hours(i.launched_at), hours(i.ended_at))
            for i in instances]


def test_a_job_ahead_waits_for_its_home_zone() -> None:
    # use1-az1 has no spot until 00:30. At 00:00 and 00:15 the job is on its line (ahead):
    # its launch tries use1-az1 only, though use1-az2 has spot (at 4x the price); at 00:30
    # use1-az1 has capacity again and the instance runs there, at 2.00 USD/h.
    assert ran(carried_out(0.75, lambda h: 0 if h < 0.5 else 1)) == [
        ("use1-az1", "spot", 2.0, 0.5, -1.0)]


def test_a_job_behind_takes_another_zone_before_on_demand() -> None:
    # use1-az1 has no spot all along. Until 00:40 the job waits (ahead); at 00:45, with
    # nothing done, it is behind its line (needs 10 / (24 - 0.75 - 0.6667) = 0.4428 >
    # 0.44118, not critical), so its launch walks the zones - use1-az1 refused, use1-az2 at
    # 8.00 USD/h - before on-demand at 32.00.
    assert ran(carried_out(1.0, lambda h: 0)) == [("use1-az2", "spot", 8.0, 0.75, -1.0)]


def test_a_slot_in_a_dearer_zone_is_swapped_home_once_the_home_zone_has_capacity() -> None:
    """As above, the job runs in use1-az2 from 00:45 (8.00 USD/h); its setup ends at 00:55.
    By 01:15 it is ahead of its line again: done 1.25 - 0.9167 = 0.3333 GPU-h, 9.6667 to go
    in 24 - 1.25 - 0.6667 = 22.0833 h needs 0.4377 <= 0.44118. From then on every tick tries
    use1-az1 for the slot (refused until 03:00). At 03:00 use1-az1 has spot: staying in
    use1-az2 for the slot's 7.1667 h left would cost 8.00 x 7.1667 = 57.33 USD, moving home
    2.00 x (7.1667 + 0.6667) = 15.67 (the restart bought again), so it moves: the home
    instance is launched at 03:00 and the use1-az2 one ended in the same tick, once it runs.
    Paid to 04:00: 2.25 h x 8.00 + 1 h x 2.00 = 20.00 USD."""
    instances = carried_out(4.0, lambda h: 0 if h < 3 else 1)
    assert ran(instances) == [("use1-az2", "spot", 8.0, 0.75, 3.0),
                              ("use1-az1", "spot", 2.0, 3.0, -1.0)]
    paid = sum(((i.ended_at or at(4)) - i.launched_at).total_seconds() / 3600 * i.usd_per_hour
               for i in instances)
    assert paid == pytest.approx(2.25 * 8.0 + 1 * 2.0)


def test_moving_home_pays_when_the_saving_beats_the_restart() -> None:
    # (8 - 2) x h > 2 x 0.6667: worth it for more than 0.2222 h of the slot left.
    assert worth_moving_home(8.0, 2.0, 0.25, 0.6667)
    assert not worth_moving_home(8.0, 2.0, 0.2, 0.6667)
    assert not worth_moving_home(2.0, 2.0, 100.0, 0.6667)


def test_only_a_job_ahead_is_moved_home() -> None:
    # The plan of the module at 03:00, the instance i-away running its slot 0 in use1-az2
    # at 8.00 USD/h. Ahead (2.0833 done, as above): moved home. Behind (nothing done: needs
    # 10 / (24 - 3 - 0.6667) = 0.4918 > 0.44118): kept, and a launch walks every zone.
    plan = the_case()[2]
    away = {AZ1: [AwayRun("i-away", 0, 8.0)]}

    def pace(done: float) -> dict[str, JobPace]:
        return {"train": JobPace("train", at(3), at(2 / 3), at(24), 10.0, 10.0 - done, 1.0,
                                 2 / 3, 2 / 3)}

    assert spot_markets(plan, at(3), pace(2.0833), set(), away) == {
        AZ1: MarketChoice("spot", "swap", zones="home", home=frozenset({"i-away"}))}
    assert spot_markets(plan, at(3), pace(0.0), set(), away) == {
        AZ1: MarketChoice("on_demand", "keep", zones="all")}


def test_a_newer_plan_that_takes_an_instance_in_another_zone_over_keeps_its_price() -> None:
    # The plan carried out as written at 00:00 with use1-az1 out: the chain launches its
    # slot in use1-az2 at 8.00 USD/h. A re-plan (the same plan, another id) takes it over at
    # 01:00: it still runs in use1-az2, so it still costs 8.00 (it was re-priced at the
    # pool's 2.00). Paid to 02:00: 2 h x 8.00 = 16.00 USD.
    plan = the_case()[2]
    newer = plan.model_copy(update={"plan_id": plan.plan_id + "-2"})
    fleet = SimulatedEc2(at(0))
    fleet.zone_ids = {"use1-az1", "use1-az2"}
    fleet.set_capacity(AZ1, 0)
    fleet.set_capacity(AZ2, 1)
    ledger = Ledger.in_memory()
    apply_plan(plan, at(0), fleet=fleet, ledger=ledger, options=ApplyOptions(yes=True),
               say=lambda kind, message: None)
    fleet.advance(at(1))
    outcome = apply_plan(newer, at(1), fleet=fleet, ledger=ledger,
                         options=ApplyOptions(yes=True), say=lambda kind, message: None)
    assert [(a.kind, a.usd_per_hour) for a in outcome.done] == [("claim", 8.0)]
    (instance,) = ledger.instances()
    assert (instance.az, instance.plan_id, instance.usd_per_hour) == ("use1-az2",
                                                                      newer.plan_id, 8.0)
    assert ledger.spent_usd({plan.plan_id, newer.plan_id}, at(0), at(2)) == pytest.approx(16.0)
    ledger.close()


def test_a_job_well_ahead_on_demand_leaves_a_held_home_for_any_zone() -> None:
    """The plan of the module at 03:00, an on-demand instance running its slot and use1-az1
    held (refused lately): a pool ``stuck``. The line needs 10 / (24 - 0.6667 - 0.6667) =
    0.441176 of the time; at 03:00, 24 - 3 - 0.6667 = 20.3333 h are left for the work, so
    the job is safely ahead (one switch, 0.6667 GPU-h, more) with at most 0.441176 x 20.3333
    - 0.6667 = 8.3039 GPU-h left, and by two switches with at most 7.6373.
    - 7.5 left (2.5 done): by two switches - the swap to spot walks every zone (home first),
      not the held home alone;
    - 8.0 left: safely ahead by one switch only - it waits for its home zone, as before (an
      interruption soon after a move would leave it behind);
    - 7.5 left, the pool not stuck (no hold, or no on-demand instance): its home zone only."""
    plan = the_case()[2]

    def pace(left: float) -> dict[str, JobPace]:
        return {"train": JobPace("train", at(3), at(2 / 3), at(24), 10.0, left, 1.0,
                                 2 / 3, 2 / 3)}

    assert spot_markets(plan, at(3), pace(7.5), set(), None, {AZ1}) == {
        AZ1: MarketChoice("spot", "swap", zones="all")}
    assert spot_markets(plan, at(3), pace(8.0), set(), None, {AZ1}) == {
        AZ1: MarketChoice("spot", "swap", zones="home")}
    assert spot_markets(plan, at(3), pace(7.5), set(), None, set()) == {
        AZ1: MarketChoice("spot", "swap", zones="home")}
    assert leaves_home([pace(7.63)["train"]]) and not leaves_home([pace(7.64)["train"]])


def test_a_job_on_demand_leaves_its_failing_home_for_another_zone_once_well_ahead() -> None:
    """use1-az1 has no spot all day; use1-az2 none until 04:00. 00:00-00:40 the job waits for
    its home zone (ahead): refused, use1-az1 held to 01:00. 00:45, behind: the walk finds no
    spot in either zone, so on-demand at 32.00 USD/h; setup to 00:55, then 1 GPU-h an hour:
    done(t) = t - 0.9167. Safely ahead (one switch) once (10 - done + 0.6667) / (24 - t -
    0.6667) <= 0.441176, t >= 2.307: at 02:30 the swap to spot tries its home zone only -
    refused, held 2 h (a second strike) to 04:30: the pool is stuck. By two switches once
    12.25 - t <= 0.441176 x (23.3333 - t), t >= 3.5: from 03:30 the swap walks every zone
    (use1-az2 refuses until 04:00); at 04:00 it runs in use1-az2 at 8.00 and the on-demand
    instance ends in the same tick. Done by then 3.0833, the rest 6.9167 after setup: done at
    11:05, ended at 11:15. Paid: 3.25 h x 32.00 + 7.25 h x 8.00 = 104.00 + 58.00 = 162.00
    USD, where staying on-demand to the end (its home never comes back) pays 10.25 h x 32.00
    = 328.00."""
    instances = carried_out(12.0, lambda h: 0, lambda h: 0 if h < 4 else 1)
    assert ran(instances) == [(None, "on_demand", 32.0, 0.75, 4.0),
                              ("use1-az2", "spot", 8.0, 4.0, 11.25)]
    paid = sum((i.ended_at - i.launched_at).total_seconds() / 3600 * i.usd_per_hour
               for i in instances if i.ended_at is not None)
    assert paid == pytest.approx(3.25 * 32.0 + 7.25 * 8.0)
