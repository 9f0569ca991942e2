"""The hindsight optimum: the exact programme against every schedule of tiny traces, against
Uniform Progress, and by hand; the LP bound for many jobs; the exact aggregation of traces."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from builders import catalog, offer, workload
from sim_cases import SPOT, T0, at, hourly, issue_job, one_job, planned, prices

from costopt.core.pool_ids import parse_pool_id
from costopt.errors import InputFileError
from costopt.plan.pools import build_pools
from costopt.simulate.hindsight import capacity_caps, frictionless, hindsight, lp_bound
from costopt.simulate.run import simulate
from costopt.simulate.uniform_progress import UniformProgress
from costopt.traces import PoolTrace, SynthSpec, Trace, synth

PERIOD_H = 8  # three periods of 8 h in the day

# -- the exact programme against every schedule --------------------------------------------

EAST, WEST = "aws:us-east-1:p3.2xlarge", "aws:us-west-2:p3.2xlarge"
PRICE = {f"{EAST}:spot": 1.0, f"{EAST}:on_demand": 3.0, f"{WEST}:spot": 1.2,
         f"{WEST}:on_demand": 3.2}
STEP_H = 0.5  # decisions every half hour: the half-hour ticks, setups and losses below


def _two_regions(gpu_hours: float, setup_minutes: int = 30,
                 checkpoint_minutes: int = 60):  # type: ignore[no-untyped-def]
    """One 1-GPU job due three hours after midnight, p3.2xlarge (speed 1) spot and on-demand
    in two regions (the prices in ``PRICE``)."""
    return workload([{"name": "train", "gpus": 1, "gpu_hours": gpu_hours, "interruptible": True,
                      "checkpoint_minutes": checkpoint_minutes,
                      "deadline": "2027-01-01T03:00:00Z"}], days=1, period_hours=3,
                    cloud={"regions": ["us-east-1", "us-west-2"],
                           "setup_minutes": setup_minutes})


def _two_region_prices():  # type: ignore[no-untyped-def]
    return catalog(offer("p3.2xlarge", "us-east-1", on_demand=3.0, spot=1.0, rate=0.0),
                   offer("p3.2xlarge", "us-west-2", on_demand=3.2, spot=1.2, rate=0.0))


def brute_force(up: dict[str, list[bool]], gpu_hours: float, steps: int, *,
                setup_h: float = 0.5, lost_h: float = 0.5) -> float | None:
    """The least USD over every schedule: at each half-hour step stay idle, start a run of a
    pool (its spot there that step), or go on with the run; worked out in hours by the
    simulation's rules - a run pays from its start and works after ``setup_h``; a spot run
    whose trace falls to none at a step's start is ended and loses min(``lost_h`` of work,
    what it did); the job stops paying the moment its work is done."""
    pools = sorted(PRICE)
    best = math.inf
    for schedule in itertools.product(["idle", "go on", *pools], repeat=steps):
        usd = work = run_work = age = 0.0
        running: str | None = None
        for k, act in enumerate(schedule):
            if running in up and not up[running][k]:  # interrupted at the step's start
                work -= min(lost_h, run_work)
                running = None
            if act == "idle":
                running = None
            elif act != "go on":
                running, age, run_work = act, 0.0, 0.0
            if running is None:
                if act == "go on":
                    break  # nothing to go on with: not a schedule
                continue
            if running in up and not up[running][k]:
                break  # spot that is not there cannot start
            working_h = STEP_H - min(STEP_H, max(0.0, setup_h - age))
            if work + working_h >= gpu_hours - 1e-12:
                best = min(best, usd + PRICE[running] * (STEP_H - working_h
                                                         + gpu_hours - work))
                break
            work, run_work, age = work + working_h, run_work + working_h, age + STEP_H
            usd += PRICE[running] * STEP_H
    return None if best == math.inf else best


def _half_hourly(counts: list[int], pool: str) -> PoolTrace:
    return PoolTrace(parse_pool_id(pool), "hand.json", T0,
                     Trace(1800.0, np.asarray(counts, dtype=np.int64)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("setup_minutes,checkpoint_minutes", [(30, 60), (0, 60), (30, 0),
                                                              (60, 120)])
def test_exact_hindsight_is_the_least_over_every_schedule(
        seed: int, setup_minutes: int, checkpoint_minutes: int) -> None:
    rng = np.random.default_rng(seed + 10 * setup_minutes + checkpoint_minutes)
    counts = {pool: (rng.random(6) < 0.6).astype(int).tolist()
              for pool in PRICE if pool.endswith("spot")}
    gpu_hours = float(rng.choice([0.75, 1.25, 1.5, 2.0, 2.25]))
    traces = [_half_hourly(c, pool) for pool, c in counts.items()]
    h = hindsight(_two_regions(gpu_hours, setup_minutes, checkpoint_minutes),
                  _two_region_prices(), traces)
    up = {pool: [bool(n) for n in c] for pool, c in counts.items()}
    expected = brute_force(up, gpu_hours, steps=6, setup_h=setup_minutes / 60,
                           lost_h=checkpoint_minutes / 120)
    assert h.kind == "exact"
    assert expected is not None  # on-demand is always there
    assert round(h.usd, 2) == round(expected, 2), (counts, gpu_hours)


@pytest.mark.parametrize("gpu_hours,usd", [(1.5, 2.0), (2.0, 6.0)])
def test_what_the_trace_ends_and_what_a_run_ended_by_choice_keeps(gpu_hours: float,
                                                                  usd: float) -> None:
    # East spot up in hours 0 and 1, down in 2; west spot down; due at 3:00.
    # 1.5 GPU-h: on east spot from 0:00, setup to 0:30, 1.5 h of work to 2:00, done just as
    # the trace falls: 2 h x 1 USD = 2.00.
    # 2 GPU-h: east spot 0:00-2:00 would do 1.5 h of work and lose 0.5 when the trace falls
    # at 2:00, leaving 1 h for on-demand that can do only 0.5. Ended by choice at 1:30 it
    # keeps its 1 h of work (1.50 USD), and on-demand 1:30-3:00 does the other 1 h after its
    # setup (1.5 h x 3 = 4.50): 6.00, against 7.50 all on-demand (2.5 h).
    traces = [hourly([1, 1, 0], f"{EAST}:spot"), hourly([0, 0, 0], f"{WEST}:spot")]
    h = hindsight(_two_regions(gpu_hours), _two_region_prices(), traces)
    assert h.usd == pytest.approx(usd)
    assert brute_force({f"{EAST}:spot": [True] * 4 + [False] * 2,
                        f"{WEST}:spot": [False] * 6}, gpu_hours, 6) == pytest.approx(usd)


# -- by hand, and against Uniform Progress ---------------------------------------------------

def _synth_trace(a: float, outage_h: float, seed: int) -> PoolTrace:
    return PoolTrace(parse_pool_id(SPOT), f"a{a}-{outage_h}h-{seed}.json", T0,
                     synth(SynthSpec(a, outage_h, 0.2, 72, seed=seed)))


def test_spot_always_there_pays_one_setup() -> None:
    # One spot run from 0:00: 10 minutes of setup, then 48 h of work: 48 1/6 h x 1 USD.
    h = hindsight(issue_job(), prices(), [hourly([1] * 72)], setup_minutes=10)
    assert h.kind == "exact" and h.usd == pytest.approx(48 + 1 / 6)


def test_no_spot_at_all_pays_on_demand_and_one_setup() -> None:
    # 48 1/6 h of on-demand at 3 USD = 144.50.
    h = hindsight(issue_job(), prices(), [hourly([0] * 72)], setup_minutes=10)
    assert h.usd == pytest.approx(144.5)


def test_spot_only_near_the_deadline_does_the_last_hours() -> None:
    # Spot only from 58 h on, 2 h before the deadline: a spot run 58:00-60:00 does 1 5/6 h
    # of work after its setup (2.00 USD), saving 2 USD an hour of work against on-demand for
    # one more setup; on-demand from 0:00 does the other 46 1/6 h (to 46:20, 46 1/3 h x 3 =
    # 139.00): 141.00, against 144.50 on-demand alone.
    h = hindsight(issue_job(), prices(), [hourly([0] * 58 + [1] * 14)], setup_minutes=10)
    assert h.usd == pytest.approx(141.0)


@pytest.mark.parametrize("a,outage_h,seed", [(0.3, 0.25, 1), (0.5, 4.0, 2), (0.7, 24.0, 3),
                                             (0.9, 0.25, 1)])
def test_never_above_uniform_progress(a: float, outage_h: float, seed: int) -> None:
    # Uniform Progress's runs are one schedule among those the programme weighs (its reviews
    # every 15 minutes and the 5-minute ticks fall on the programme's 5-minute steps), and it
    # pays on to its next review after the work is done.
    w, cat = issue_job(), prices()
    traces = [_synth_trace(a, outage_h, seed)]
    up = simulate(planned(w, cat), workload=w, catalog=cat, traces=traces,
                  policy=UniformProgress())
    best = hindsight(w, cat, traces, setup_minutes=10)
    assert next(iter(up.jobs.values())).met_deadline
    assert best.kind == "exact"
    assert best.usd <= up.realised_usd + 1e-9
    assert best.usd <= 144.5  # all on-demand, one setup


def test_the_lp_is_a_bound_below_the_exact_optimum() -> None:
    # Without setup or lost work, and with spot counted per 12-hour period wherever it falls
    # in it, the LP pays no more than the best schedule (the job's window is whole periods).
    w, cat = issue_job(), prices()
    for a, outage_h, seed in [(0.3, 0.25, 1), (0.5, 4.0, 2), (0.7, 24.0, 3), (0.9, 0.25, 1)]:
        traces = [_synth_trace(a, outage_h, seed)]
        exact = hindsight(w, cat, traces, setup_minutes=10)
        bound = hindsight(w, cat, traces, setup_minutes=10, exact=False)
        assert bound.kind == "bound" and "lower bound" in bound.note
        assert bound.usd <= exact.usd + 1e-6, (a, outage_h, seed)


# -- many jobs: the LP bound ----------------------------------------------------------------

def brute_force_lp(caps: list[int], gpu_hours: int, *, on_demand: bool) -> float | None:
    """The cheapest whole-hour schedule of a 1-GPU job over three 8-hour periods: in period
    t, s_t <= caps[t] hours on spot (1 USD/h) and o_t on demand (3 USD/h), s_t + o_t <= 8
    (one GPU at a time), sum >= gpu_hours. Every choice is enumerated."""
    best = math.inf
    options = [[(s, o) for s in range(min(c, PERIOD_H) + 1)
                for o in range(PERIOD_H - s + 1 if on_demand else 1)] for c in caps]
    for choice in itertools.product(*options):
        if sum(s + o for s, o in choice) >= gpu_hours:
            best = min(best, sum(s * 1.0 + o * 3.0 for s, o in choice))
    return None if best == math.inf else best


@pytest.mark.parametrize("seed", range(4))
def test_the_bound_is_the_lp_with_caps_per_period(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = (rng.random(24) < rng.uniform(0.2, 0.9)).astype(int).tolist()
    gpu_hours = int(rng.integers(4, 23))
    caps = [sum(counts[8 * t:8 * t + 8]) for t in range(3)]
    for allow in (None, ["spot"]):
        w = one_job(gpu_hours, allow=allow, period_hours=PERIOD_H)
        h = hindsight(w, prices(), [hourly(counts)], exact=False)
        expected = brute_force_lp(caps, gpu_hours, on_demand=allow is None)
        assert h.kind == "bound"
        if expected is None:
            assert h.usd is None and "train short" in h.note
        else:
            assert h.usd == pytest.approx(expected, abs=1e-6), (counts, gpu_hours, allow)


def test_two_jobs_get_the_bound_and_say_why() -> None:
    # Two 1-GPU jobs of 5 GPU-h, spot 10 h a day: both on spot, 10 USD, as a bound.
    w = workload([{"name": n, "gpus": 1, "gpu_hours": 5, "interruptible": True}
                  for n in ("a", "b")], cloud={"regions": ["us-east-1"]})
    h = hindsight(w, prices(), [hourly([1] * 10 + [0] * 14)])
    assert (h.kind, h.usd) == ("bound", pytest.approx(10.0))
    assert "2 jobs" in h.note


def test_one_job_on_pools_of_two_speeds_gets_the_bound_and_says_why() -> None:
    # p3.2xlarge (V100, speed 1) and g4dn.xlarge (T4, speed 0.5): work per step differs, so
    # the programme does not apply. The bound: g4dn.xlarge spot (no trace: always there) at
    # 0.4 USD/h does a GPU-h for 0.8 USD against p3.2xlarge spot's 1.0: 20 h x 0.4 = 8 USD.
    cat = catalog(offer("p3.2xlarge", "us-east-1", on_demand=3.0, spot=1.0, rate=0.0),
                  offer("g4dn.xlarge", "us-east-1", gpu="T4", on_demand=0.5, spot=0.4,
                        rate=0.0))
    h = hindsight(one_job(10), cat, [hourly([1] * 24)])
    assert (h.kind, h.usd) == ("bound", pytest.approx(8.0))
    assert "train runs at 2 speeds" in h.note


def _three_3_gpu_jobs_on_p4d_spot(counts: list[int]):  # type: ignore[no-untyped-def]
    """Three 3-GPU jobs of 60 GPU-hours (20 h each) due at the end of one day, p4d.24xlarge
    (8 A100s) spot only at 10 USD/h, its trace ``counts`` instances each hour: the
    hindsight of the workload, catalogue and traces."""
    cat = catalog(offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96,
                        on_demand=30.0, spot=10.0, rate=0.0))
    w = workload([{"name": f"j{i}", "gpus": 3, "gpu_hours": 60, "interruptible": True,
                   "speed": {"A100-SXM4-40GB": 1.0}} for i in range(3)],
                 cloud={"regions": ["us-east-1"], "markets": ["spot"]})
    (pool,) = [p.id for p in build_pools(w, cat).cloud]
    return hindsight(w, cat, [hourly(counts, pool)])


@pytest.mark.parametrize("hours_of_two", [9, 12, 24])
def test_where_the_layout_gives_up_the_bound_is_the_lps(hours_of_two: int) -> None:
    """Two 3-GPU gangs share a p4d (each holds 4 GPUs), a job one gang at a time. With two
    instances for ``x`` hours and one for the rest of the day, the jobs get at most
    3 x + 2 (24 - x) = 48 + x gang-hours (three jobs on four lanes, then two lanes): 60
    needs x >= 12. At x = 9 no schedule does it, so no layout can: the layout gives up. At
    x = 12 one does - all three jobs for the 12 h of two instances, then two at a time
    wrapped over the 12 h of one (8 h each) - paying 36 instance-hours, 360 USD, the least
    (48 + x >= 60 whenever the instances run). The LP packs GPU-hours: 3 x 20 h x 4 / 8 =
    30 instance-hours, 300 USD, within the trace's 33, 36 or 48. The hindsight is that 300
    as a lower bound in every case, saying where the layout found no fleet (measured: at
    x = 12 too, 0.86 GPU-h short; at x = 24 it lays out 362.95 USD, above the least 360,
    so a fleet's cost is no bound), never "no way to do all the work"."""
    h = _three_3_gpu_jobs_on_p4d_spot([2] * hours_of_two + [1] * (24 - hours_of_two))
    assert h.kind == "bound" and "lower bound" in h.note
    assert h.usd == pytest.approx(300.0)
    assert h.result is not None
    assert ("layout found no fleet" in h.note) == (h.result.status == "infeasible")
    if hours_of_two < 12:
        assert h.result.status == "infeasible"
    else:
        assert h.usd <= 360.0


def test_caps_are_the_trace_summed_over_each_period() -> None:
    # Half-hour ticks from 23:45 the day before (not on a period boundary), counts 1,2,3,4,...
    # Period 0 (00:00-08:00): tick 0 (23:45-00:15) counts 1 x 0.25 h; ticks 1-15 whole:
    # (2+3+4+1) x 3 + (2+3+4) = 39 x 0.5 = 19.5; tick 16 (07:45-08:15) 1 x 0.25. = 20.0.
    # With max_instances 2: 0.25 + ((2+2+2+1) x 3 + (2+2+2)) x 0.5 + 0.25 = 14.0.
    trace = PoolTrace(parse_pool_id(SPOT), "hand.json", at(-0.25),
                      Trace(1800.0, np.arange(60) % 4 + 1))
    caps = capacity_caps(one_job(4, period_hours=PERIOD_H), prices(), [trace])
    assert caps[(SPOT, 0)] == pytest.approx(20.0)
    capped = one_job(4, period_hours=PERIOD_H, max_instances=[
        {"instance_type": "p3.2xlarge", "region": "us-east-1", "market": "spot", "count": 2}])
    assert capacity_caps(capped, prices(), [trace])[(SPOT, 0)] == pytest.approx(14.0)


@pytest.mark.parametrize("exact", [True, False])
def test_hindsight_needs_traces_that_cover_the_horizon(exact: bool) -> None:
    with pytest.raises(InputFileError):
        hindsight(one_job(4), prices(), [hourly([1] * 23)], exact=exact)


def test_hindsight_plans_with_the_traces_not_the_availability_estimate() -> None:
    # 10 GPU-h due at the end of the day, spot at 0.5 availability and the reserve on: the
    # plan derates spot (20 h held); the clairvoyant planner knows when spot is there from
    # the traces' caps, so it plans at a = 1 and keeps no reserve. With spot there the
    # whole day (24 h of caps), hindsight pays 10 h x 1 USD.
    w = one_job(10, spot_availability_default=0.5, deadline_reserve=True)
    seen = frictionless(w).cloud
    assert seen is not None
    assert (seen.spot_availability_default, seen.deadline_reserve) == (1.0, False)
    full_day = PoolTrace(parse_pool_id(SPOT), "t.json", at(0), Trace(3600.0, np.ones(24, int)))
    assert lp_bound(w, prices(), [full_day]).usd == pytest.approx(10.0)
