"""The fleet schedule: slots from instance-hours, setup, and the minimum instance time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from builders import catalog, offer, workload

from costopt.plan.fleet import HOUR, Periods, PoolUse, Use, schedule_pool, schedule_pool_jobs
from costopt.plan.layout import Piece
from costopt.plan.model import gang_lanes
from costopt.plan.planner import make_plan

D0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
DAYS = Periods([D0 + timedelta(days=i) for i in range(4)],
               [D0 + timedelta(days=i + 1) for i in range(4)])
H = timedelta(hours=1)


def runs(hours: dict[int, float], work: dict[int, float] | None = None, setup_min: float = 0,
         min_min: float = 0, periods: Periods = DAYS) -> list[tuple[int, datetime, datetime]]:
    schedule = schedule_pool("p", periods, hours, work or {}, round(setup_min * 60),
                             round(min_min * 60))
    return [(r.slot, r.start, r.end) for r in schedule.runs]


def test_full_slots_continue_and_a_partial_one_ends_mid_period() -> None:
    # Day 0: 48 instance-hours = slots 0 and 1 all day. Day 1: 30 = slot 0 all day and
    # slot 1 for its first 6 hours (it was running). Day 2: 24 = slot 0.
    assert runs({0: 48.0, 1: 30.0, 2: 24.0}) == [(0, D0, D0 + 72 * H),
                                                 (1, D0, D0 + 30 * H)]


def test_solver_noise_is_no_instance() -> None:
    # 48 instance-hours and 2e-6 more on day 0 (a solver's noise: 7 ms) are 2 instances all
    # day, as the planner counts them against its limits (running_at_once), not a third
    # for 7 ms; 2e-6 alone on day 1 is none.
    assert runs({0: 48 + 2e-6, 1: 2e-6}) == [(0, D0, D0 + 24 * H), (1, D0, D0 + 24 * H)]


def test_a_partial_slot_that_leads_into_a_full_one_runs_at_the_end() -> None:
    # Day 0: 12 instance-hours; day 1: 24. The 12 hours run at the end of day 0 so that the
    # instance runs on without a stop: one interval from 12:00 on day 0 to the end of day 1.
    assert runs({0: 12.0, 1: 24.0}) == [(0, D0 + 12 * H, D0 + 48 * H)]


def test_gap_days_make_separate_intervals() -> None:
    assert runs({0: 24.0, 2: 24.0}) == [(0, D0, D0 + 24 * H), (0, D0 + 48 * H, D0 + 72 * H)]


def test_slots_of_mixed_periods_continue_from_hours_into_a_day() -> None:
    # Periods: two of 1 h (00:00, 01:00), then one of 22 h (02:00..24:00), then a day.
    # 1 instance-hour in each hour, 11 in the 22-hour period, 24 on day 1: slot 0 runs
    # 00:00..02:00 and, running at 02:00, goes on for the 22-hour period's 11 hours
    # (02:00 + 11 h = 13:00); then all of day 1.
    bounds = [D0, D0 + H, D0 + 2 * H, D0 + 24 * H, D0 + 48 * H]
    mixed = Periods(bounds[:-1], bounds[1:])
    assert runs({0: 1.0, 1: 1.0, 2: 11.0, 3: 24.0}, periods=mixed) == [
        (0, D0, D0 + 13 * H), (0, D0 + 24 * H, D0 + 48 * H)]


def test_slots_add_up_to_the_instance_hours_without_overhead() -> None:
    hours = {0: 50.5, 1: 3.25, 2: 71.0}
    schedule = schedule_pool("p", DAYS, hours, {}, 0, 0)
    assert sum(r.hours for r in schedule.runs) == pytest.approx(sum(hours.values()))
    assert schedule.hours_by_period == pytest.approx(hours)


def test_a_short_slot_is_lengthened_to_the_minimum_inside_its_period() -> None:
    # 7 minutes of p3.8xlarge (the v1 plan's example) with a 30-minute minimum: one run of
    # 30 minutes from the start of the day.
    assert runs({0: 7 / 60}, min_min=30) == [(0, D0, D0 + 30 * H / 60)]


def test_a_short_pause_inside_a_slot_is_run_through() -> None:
    # Hourly periods: hour 0 full, hour 1 half (at its start: the slot ran at the end of
    # hour 0), hour 2 full: a 30-minute pause at 01:30-02:00. With a 45-minute minimum it
    # is run through: one run 00:00-03:00 (30 minutes more paid).
    hourly = Periods([D0 + i * H for i in range(3)], [D0 + (i + 1) * H for i in range(3)])
    hours = {0: 1.0, 1: 0.5, 2: 1.0}
    assert runs(hours, periods=hourly) == [(0, D0, D0 + 1.5 * H), (0, D0 + 2 * H, D0 + 3 * H)]
    assert runs(hours, min_min=45, periods=hourly) == [(0, D0, D0 + 3 * H)]


def test_setup_is_paid_and_excluded_from_the_work_by_hand() -> None:
    # 6 h of work on day 0, 10 minutes of setup, as the LP paid it: u = 6 h 10 min. One
    # run of 6 h 10 min from the start of the day: 10 minutes of setup, then 6 h of work.
    schedule = schedule_pool("p", DAYS, {0: 6 + 10 / 60}, {0: 6.0}, 600, 1800)
    [run] = schedule.runs
    assert (run.start, run.setup_end, run.end) == (D0, D0 + 10 * H / 60, D0 + 6 * H + 10 * H / 60)
    assert run.work_hours == pytest.approx(6.0)
    assert run.hours == pytest.approx(6 + 1 / 6)


def test_setup_the_lp_did_not_count_is_paid_by_running_longer() -> None:
    # The LP gave 6 h paid for 6 h of work (it counted no start): the fleet's run needs
    # 10 more minutes to do the work after its setup, inside the same day.
    schedule = schedule_pool("p", DAYS, {0: 6.0}, {0: 6.0}, 600, 0)
    [run] = schedule.runs
    assert run.work_hours == pytest.approx(6.0)
    assert schedule.hours_by_period == pytest.approx({0: 6 + 10 / 60})


def test_a_plan_pays_setup_and_the_minimum_and_its_cost_is_its_fleets() -> None:
    # One 1-GPU job of 6 GPU-h on p3.2xlarge on demand (3 USD/h), 10 minutes of setup:
    # 10 min paid without work, then 6 h of work: 6 h 10 min x 3 = 18.50 USD, one slot.
    # (The LP counts u/P = 0.25 of a start; the fleet pays the whole start by running on.)
    w = workload([{"name": "j", "gpu_hours": 6}],
                 cloud={"markets": ["on_demand"], "setup_minutes": 10,
                        "min_instance_minutes": 30})
    result = make_plan(w, catalog(offer(on_demand=3.0)))
    [schedule] = result.fleet
    [run] = schedule.runs
    assert (run.setup_end - run.start, run.end - run.start) == (10 * H / 60, 6 * H + 10 * H / 60)
    assert result.variable_usd == pytest.approx(18.5)
    # A 6-minute job (0.1 GPU-h) pays the 30-minute minimum: 0.5 h x 3 = 1.50 USD.
    w = workload([{"name": "j", "gpu_hours": 0.1}],
                 cloud={"markets": ["on_demand"], "setup_minutes": 10,
                        "min_instance_minutes": 30})
    result = make_plan(w, catalog(offer(on_demand=3.0)))
    [run] = result.fleet[0].runs
    assert run.end - run.start == 30 * H / 60
    assert run.work_hours == pytest.approx(20 / 60)  # 10 min setup, 20 min of room
    assert result.variable_usd == pytest.approx(1.5)


def test_a_gang_runs_its_nodes_together_each_paying_setup_beside_a_one_node_job() -> None:
    # A 2-node gang of 12 instance-hours of work on day 0 (6 h per node) and a one-node job
    # of 4 h (its work, the gang's apart), 10 minutes of setup, runs of at least 30 minutes.
    # The LP paid u = 12 + 4 + 3 x 1/6 (three starts) = 16.5 h. The gang: 6 h + 10 min per
    # node, both nodes over the same interval (ranks 0 and 1 of gang 0); the rest:
    # 16.5 - 2 x 6 1/6 = 4 1/6 h, one run of 10 minutes of setup and 4 h of work, in slot 2
    # (after the gang's two), serving "one" on its 1 GPU (of 1) for those 4 h.
    use = PoolUse(gangs={"big": (2, {0: 12.0})}, pieces={0: [Piece("one", 1, 4 * HOUR)]},
                  gang_gpus={"big": 1})
    schedule = schedule_pool_jobs("p", DAYS, {0: 16.5}, {0: 4.0}, 600, 1800, use)
    setup = 10 * H / 60
    assert [(r.slot, r.start, r.setup_end, r.end, r.jobs, r.gang, r.node_rank, r.nodes)
            for r in schedule.runs] == [
        (0, D0, D0 + setup, D0 + 6 * H + setup, ("big",), 0, 0, 2),
        (1, D0, D0 + setup, D0 + 6 * H + setup, ("big",), 0, 1, 2),
        (2, D0, D0 + setup, D0 + 4 * H + setup, ("one",), None, None, 1)]
    assert schedule.hours_by_period == pytest.approx({0: 16.5})
    assert schedule.runs[2].uses == (Use("one", 1, D0 + setup, D0 + 4 * H + setup),)
    assert schedule.runs[0].uses == (Use("big", 1, D0 + setup, D0 + 6 * H + setup),)
    assert schedule.short == {}


def test_hours_beyond_a_gangs_with_no_one_node_job_are_no_instance() -> None:
    # The same gang alone: the LP paid 16.5 h, the gang's two nodes use 2 x 6 1/6 = 12 1/3;
    # no one-node job works on the pool, so the other 4 1/6 h are no instance (one ran
    # empty over a quota beside a gang, found at a random seed of test_fleet_limits.py).
    use = PoolUse(gangs={"big": (2, {0: 12.0})}, gang_gpus={"big": 1})
    schedule = schedule_pool_jobs("p", DAYS, {0: 16.5}, {}, 600, 1800, use)
    assert [(r.slot, r.gang) for r in schedule.runs] == [(0, 0), (1, 0)]
    assert schedule.hours_by_period == pytest.approx({0: 2 * (6 + 1 / 6)})


def test_each_gang_of_a_job_pays_its_own_setup() -> None:
    """Found at a random seed of tests/plan/test_fleet_limits.py: a 3-node job of 1 GPU per
    node (4 gangs at once allowed), 70.02 GPU-hours in a 12-hour period, 25 minutes of
    setup. Its 23.34 gang-hours fit 2 gangs by ``ceil((d + s) / L) = ceil(23.76 / 12)``,
    but each gang pays its setup: 2 x (12 - 25/60) = 23.17 < 23.34, so 3 gangs, the
    third 0.59 h (setup and 0.17 h of work). Where a gang carries on from the period
    before without a setup, 2 suffice: 23.34 + 25/60 = 23.76 <= 24. The fleet once ran 2
    and left 0.4 GPU-hours of the job undone."""
    setup = 25 / 60
    assert gang_lanes(23.34, 12.0, setup) == 3
    assert gang_lanes(23.0, 12.0, setup) == 2  # 23 + 2 x 25/60 = 23.83 <= 24
    assert gang_lanes(23.34, 12.0, setup, through=1) == 2
    w = workload([{"name": "g", "gpus": 1, "nodes": 3, "parallel": 4, "gpu_hours": 70.02,
                   "interruptible": False}], period_hours=12, days=1,
                 cloud={"markets": ["on_demand"], "setup_minutes": 25})
    w = w.model_copy(update={"jobs": [w.jobs[0].model_copy(update={
        "deadline": datetime(2027, 1, 1, 12, tzinfo=timezone.utc)})]})
    result = make_plan(w, catalog(offer("p3.2xlarge", on_demand=1.0)))
    # 3 nodes x (23.34 + 3 x 25/60) = 73.77 instance-hours at 1 USD/h
    assert result.status == "optimal"
    assert result.total_usd == pytest.approx(3 * (70.02 / 3 + 3 * setup), abs=1e-3)
    work = sum((u.end - u.start).total_seconds() / 3600 * u.gpus
               for s in result.fleet for r in s.runs for u in r.uses)
    assert work == pytest.approx(70.02, abs=1e-3)
