"""The baselines, worked by hand, and properties of the optimum against them."""

from __future__ import annotations

import pytest
from builders import catalog, offer, random_case, server, workload
from fleet_walk import short_of_layout_only
from hypothesis import HealthCheck, event, given, settings
from hypothesis import example as hypothesis_example
from hypothesis import strategies as st
from hypothesis_profiles import examples

from costopt.errors import WorkloadError
from costopt.plan.model import identical_runs
from costopt.plan.planner import make_plan
from costopt.workload import Quota

# One day. Owned: 4x V100, energy 1.4 kW / 4 x 0.15 USD/kWh = 0.0525 USD/GPU-h, fixed
# 8760 USD / 8760 h x 24 h + 0.25 kW x 0.15 x 24 h = 24.90 USD.
# Cloud: p3.2xlarge (1 GPU) 3 USD/h on demand, 1 USD/h spot; p3.8xlarge (4 GPUs) 12 / 4.
# Jobs: A 4 GPUs 80 GPU-h, not interruptible; B 1 GPU 20 GPU-h, interruptible.


def example():
    w = workload([{"name": "A", "gpus": 4, "gpu_hours": 80},
                  {"name": "B", "gpus": 1, "gpu_hours": 20, "interruptible": True}],
                 owned={"servers": [server()]}, cloud={})
    cat = catalog(offer("p3.2xlarge", on_demand=3.0, spot=1.0, rate=0.0),
                  offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=4.0, rate=0.0))
    return make_plan(w, cat)


def test_all_on_demand() -> None:
    # A alone on p3.8xlarge: 12 / (4 x 1) x 80 = 240; B alone on p3.2xlarge: 3 x 20 = 60.
    b = example().baselines["all_on_demand"]
    assert [(j.job, j.pool, j.variable_usd) for j in b.jobs] == [
        ("A", "aws:us-east-1:p3.8xlarge:on_demand", pytest.approx(240.0)),
        ("B", "aws:us-east-1:p3.2xlarge:on_demand", pytest.approx(60.0))]
    assert b.total_usd == pytest.approx(300.0 + 24.90)


def test_cheapest_per_job() -> None:
    # A is not interruptible: 240 on demand; B on spot: 1 x 20 = 20.
    b = example().baselines["cheapest_per_job"]
    assert b.variable_usd == pytest.approx(260.0)


def test_owned_first() -> None:
    # A fills the server, all 4 GPUs for 20 h: 80 GPU-h x 0.0525 = 4.20. B (1 GPU) never
    # runs on it beside A, so it gets the 4 h A leaves (4 GPU-h, 0.21), not the 16 GPU-h
    # the server has free, and 16 GPU-h on spot (16.00) in the 20 hours of its gang left:
    # 20.41 USD.
    b = example().baselines["owned_first"]
    assert [j.owned_gpu_hours for j in b.jobs] == [pytest.approx(80.0), pytest.approx(4.0)]
    assert b.variable_usd == pytest.approx(20.41)
    assert b.feasible


def test_plan_matches_the_best_baseline_here() -> None:
    result = example()
    assert result.variable_usd == pytest.approx(20.41)
    assert result.fixed_usd == pytest.approx(24.90)


def test_a_job_that_cannot_fit_its_window_is_marked() -> None:
    # 1 GPU for 24 h gives 24 GPU-h on the fastest pool; 30 cannot be done.
    w = workload([{"name": "B", "gpus": 1, "gpu_hours": 30}], cloud={})
    result = make_plan(w, catalog(offer(on_demand=3.0)))
    b = result.baselines["all_on_demand"]
    assert not b.feasible
    assert "needs 30.0 h at its gang but only 24.0 h" in b.jobs[0].note


def test_baselines_pay_setup_and_the_minimum_instance_time() -> None:
    # One 8-GPU job of 80 GPU-h on p3.16xlarge (8 V100s, 24 USD/h on demand), the default
    # 10 minutes of setup: 10 h of work + 1/6 h of setup = 10.1667 h x 24 = 244.00 USD. The
    # plan pays the setup too, so it saves nothing here, and never a negative amount.
    cloud = {"markets": ["on_demand"], "setup_minutes": 10}
    w = workload([{"name": "big", "gpus": 8, "gpu_hours": 80}], cloud=cloud)
    result = make_plan(w, catalog(offer("p3.16xlarge", gpus=8, vcpus=64, on_demand=24.0)))
    b = result.baselines["all_on_demand"]
    assert b.variable_usd == pytest.approx(244.0)
    assert result.total_usd <= b.total_usd + 1e-6
    # 1 GPU-h of work: 1 h + 1/6 h is under a minimum instance time of 2 h: 2 x 24 = 48.
    w = workload([{"name": "small", "gpus": 8, "gpu_hours": 8}],
                 cloud={**cloud, "min_instance_minutes": 120})
    result = make_plan(w, catalog(offer("p3.16xlarge", gpus=8, vcpus=64, on_demand=24.0)))
    assert result.baselines["all_on_demand"].variable_usd == pytest.approx(48.0)


def test_a_gangs_setup_is_its_own_not_another_instance_under_a_quota() -> None:
    # A 2-node gang of 1 GPU each, 1 GPU-h (0.5 h per node), 10 minutes of setup, an
    # on-demand P quota of 64 vCPUs: two p3.8xlarge (32 vCPUs each, 1 USD/h) at once, each
    # 0.5 + 1/6 h: 1.3333 USD, as the baseline does it. The model once counted the gang's
    # setup share of its instance-hours (h / (gpus f) - h / gpus) as a third instance
    # ("running"), 96 vCPUs, and ran the job on g4dn.12xlarge at half speed (2.3333 USD).
    w = workload([{"name": "gang", "gpus": 1, "gpu_hours": 1.0, "nodes": 2}],
                 cloud={"setup_minutes": 10, "quotas": [
                     {"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 64}]})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=1.0, rate=0.0),
                  offer("g4dn.12xlarge", gpu="T4", gpus=4, vcpus=48, on_demand=1.0, rate=0.0))
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert result.total_usd == pytest.approx(2 * (0.5 + 10 / 60), abs=1e-4)
        assert {a.pool for a in result.assignments} == {"aws:us-east-1:p3.8xlarge:on_demand"}
        assert result.baselines["all_on_demand"].total_usd == pytest.approx(4 / 3)


def _gang_beside_a_job_under_one_quota():
    """j0 (1 GPU-h) and j1 (a 2-node gang of 1 GPU each, 1 GPU-h) in one 12-hour period,
    p3.8xlarge (32 vCPUs, 1 USD/h) only, an on-demand P quota of 64 vCPUs."""
    w = workload([{"name": "j0", "gpu_hours": 1.0, "interruptible": False},
                  {"name": "j1", "gpu_hours": 1.0, "nodes": 2, "interruptible": False}],
                 days=1, period_hours=12, cloud={"quotas": [
                     {"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 64}]})
    return w, catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=1.0, rate=0.0))


GANG_BESIDE_A_JOB_UNDER_ONE_QUOTA = _gang_beside_a_job_under_one_quota()


def test_a_baseline_over_a_quota_shared_between_jobs_is_not_comparable() -> None:
    # Each baseline runs j0 on one p3.8xlarge for 1 h (1 USD) and j1's gang on two for
    # 0.5 h (1 USD): 2 USD, with 1 + 2 = 3 instances, 96 vCPUs, if their windows (the whole
    # day, both) see them at once: above the 64 of the quota. The plan counts a run of
    # periods' instances at once (here the 12-hour period), so it finds no room and falls
    # 1 GPU-hour short; such a baseline is no plan it could have made: not comparable.
    w, cat = GANG_BESIDE_A_JOB_UNDER_ONE_QUOTA
    result = make_plan(w, cat)
    assert result.status == "infeasible"
    for baseline in result.baselines.values():
        assert not baseline.feasible and baseline.total_usd == pytest.approx(2.0)
        assert [(j.job, j.instances, j.fits) for j in baseline.jobs] == [
            ("j0", 1, False), ("j1", 2, False)]
        assert baseline.jobs[0].note.startswith(
            "j0, j1 at once need 96 vCPUs of quota us-east-1 on_demand P, above its 64")


def test_a_quota_shared_between_jobs_with_room_for_both_leaves_baselines_comparable() -> None:
    # The same with a quota of 96 vCPUs: both fit at once, so the baselines compare; the
    # plan runs them for the 2 USD the baselines pay.
    w, cat = GANG_BESIDE_A_JOB_UNDER_ONE_QUOTA
    quota = w.cloud.quotas[0].model_copy(update={"vcpus": 96})
    w = w.model_copy(update={"cloud": w.cloud.model_copy(update={"quotas": [quota]})})
    result = make_plan(w, cat)
    assert result.status == "optimal" and result.total_usd == pytest.approx(2.0)
    assert all(b.feasible for b in result.baselines.values())


def test_a_small_job_beside_a_gang_pays_no_more_than_owned_first() -> None:
    # 10 minutes of setup; a 1-GPU server s0 (1.4 kW x 0.15 USD/kWh = 0.21 USD/GPU-h,
    # 24.90 USD fixed); j0 (1 GPU-h) and j1 (1 GPU-h on 2 GPUs). owned_first: j0 on s0 for
    # 0.21 USD, j1 on a p3.8xlarge (2 USD/h) for 0.5 h + 10 min: 1.3333; 26.4433 USD in all.
    # The first solve put 0.571 GPU-h of j0 on the p3.8xlarge, priced at 0.571 of a setup
    # (the ``launch`` rows' share): laid out, its instance ran 0.571 h + 10 min, 26.4662
    # USD. The fleet paid more setup than the LP priced there, so the planner learns the
    # whole setup (``setup_cuts``): j0 runs 0.5 GPU-h beside j1 on the instance j1 pays
    # for anyway (0.5 h after its setup, on one of its two free GPUs) and 0.5 GPU-h on s0
    # (0.105 USD): 1.3333 + 0.105 + 24.90 = 26.3383 USD.
    w = workload([{"name": "j0", "gpu_hours": 1.0, "interruptible": False},
                  {"name": "j1", "gpus": 2, "gpu_hours": 1.0, "interruptible": False}],
                 owned={"servers": [server("s0", gpus=1)]},
                 cloud={"setup_minutes": 10, "quotas": [
                     {"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 64}]})
    cat = catalog(offer("p3.2xlarge", on_demand=1.0),
                  offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=2.0),
                  offer("g4dn.12xlarge", gpu="T4", gpus=4, vcpus=48, on_demand=2.0))
    result = make_plan(w, cat)
    assert result.baselines["owned_first"].total_usd == pytest.approx(0.21 + 4 / 3 + 24.9)
    assert result.total_usd == pytest.approx(4 / 3 + 0.5 * 0.21 + 24.9, abs=1e-6)
    [run] = [r for s in result.fleet for r in s.runs]
    assert run.hours == pytest.approx(0.5 + 1 / 6, abs=1e-6)
    assert {u.job: (u.end - u.start).total_seconds() for u in run.uses} == {
        "j0": pytest.approx(1800, abs=1), "j1": pytest.approx(1800, abs=1)}


def test_a_gangs_setup_is_not_counted_twice_beside_a_job_elsewhere() -> None:
    """10 minutes of setup; a 1-GPU server s0 (0.21 USD/GPU-h, 24.90 USD fixed) runs j0
    (1 GPU-h): 0.21 USD. j1, a 2-node gang of 1 GPU each (1 GPU-h), runs on two p3.8xlarge
    (1 USD/h) for 0.5 h + 10 min each: 4/3 USD. 26.4433 USD, owned_first's. j0 may use
    the p3.8xlarge too, and its ``walltime`` row there (0 GPU-hours of it) counted the
    gang's instance-hours, setup included, against ``f u`` (``f = 1 - (1/6) / 24``): the
    LP bought (4/3) / f = 1.3426 instance-hours and the fleet ran the spare 34 seconds as
    a third instance carrying nothing (26.4527 USD; found at seed 9 of the property
    below)."""
    w = workload([{"name": "j0", "gpu_hours": 1.0, "interruptible": False},
                  {"name": "j1", "gpu_hours": 1.0, "nodes": 2, "interruptible": False}],
                 owned={"servers": [server("s0", gpus=1)]}, cloud={"setup_minutes": 10})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=1.0, rate=0.0))
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert result.total_usd == pytest.approx(0.21 + 4 / 3 + 24.9, abs=1e-6)
        assert result.baselines["owned_first"].total_usd == pytest.approx(result.total_usd)
        assert [(r.hours, r.jobs) for s in result.fleet for r in s.runs] == [
            (pytest.approx(2 / 3), ("j1",))] * 2


def test_setup_is_paid_per_instance_not_per_hour_of_the_day() -> None:
    """1 GPU-hour (V100) in a day with 10 minutes of setup: p3.2xlarge (1 V100, 3 USD/h)
    works 1 h, pays 1 + 1/6 h = 3.50 USD; p4d.24xlarge (8 A100s at twice the speed, 6
    USD/h) works 0.5 h, pays 0.5 + 1/6 h = 4.00 USD. Setup counted only as a day's share of
    each instance-hour (``f = 1 - (1/6) / 24``) made them tie at 3/f = 3.02 USD, and a solver
    that took p4d planned 4.00 against the baselines' 3.50 (the property below found it).
    The ``launch`` rows charge the setup the one instance pays: p3.2xlarge, 3.50, with
    either solver."""
    w = workload([{"name": "j", "gpus": 1, "gpu_hours": 1.0}],
                 cloud={"markets": ["on_demand"], "setup_minutes": 10})
    cat = catalog(offer("p3.2xlarge", on_demand=3.0),
                  offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96, on_demand=6.0))
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert {a.pool for a in result.assignments} == {"aws:us-east-1:p3.2xlarge:on_demand"}
        assert result.total_usd == pytest.approx(3.5, abs=1e-6)
        assert result.baselines["all_on_demand"].total_usd == pytest.approx(3.5, abs=1e-6)


def test_a_gang_that_spills_onto_a_second_pool_pays_its_whole_setup_there() -> None:
    """A 2-node gang of 1 GPU per node, 50 GPU-h (V100) in a day, 30 minutes of setup, two
    gangs at once allowed. p3.2xlarge (1 V100, 1 USD/h) is capped at 2 instances, one gang:
    at most 2 x (24 - 0.5) = 47 GPU-h; p4d.24xlarge (A100s, twice the speed, 2 USD/h) has
    no cap. Split: p3.2xlarge 2 x 24 h = 48 USD, the last 3 GPU-h on p4d in 1.5 A100 GPU-h,
    0.75 h per node + 0.5 h setup, 2 nodes: 2.5 h x 2 = 5 USD; 53 USD. Whole on p4d: 25
    A100 GPU-h, 12.5 h per node + 0.5, 2 nodes: 26 h x 2 = 52 USD, what every baseline
    pays. The ``launch`` rows charged the p4d slice a share 2 x 0.5 x (3 / 50) of its two
    setups (the LP saw 51.06 for the split) and the plan paid 53, 1 USD above the
    baselines; ``gang_setup`` charges the whole of them (``started``): 52, with either
    solver."""
    w = workload([{"name": "gang", "gpus": 1, "nodes": 2, "parallel": 2, "gpu_hours": 50}],
                 cloud={"markets": ["on_demand"], "setup_minutes": 30, "max_instances": [
                     {"instance_type": "p3.2xlarge", "region": "us-east-1",
                      "market": "on_demand", "count": 2}]})
    cat = catalog(offer("p3.2xlarge", on_demand=1.0, rate=0.0),
                  offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96, on_demand=2.0,
                        rate=0.0))
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert {a.pool for a in result.assignments} == {"aws:us-east-1:p4d.24xlarge:on_demand"}
        assert result.total_usd == pytest.approx(52.0, abs=1e-6)
        assert min(b.total_usd for b in result.baselines.values()) == pytest.approx(52.0)


def test_two_gangs_on_one_pool_each_pay_their_own_setups() -> None:
    """Found by the wide profile (``test_baselines``, the property below): j0, a 2-node
    gang, and j1, a 3-node gang, each 1 GPU per node and 1 GPU-h (V100) in a day; two owned
    1-GPU V100 servers (energy (1650 - 250) W x 0.15 USD/kWh = 0.21 USD per server-hour);
    p3.8xlarge 1 USD/h on demand, 10 minutes of setup. j1 (3 nodes) fits only the cloud:
    3 instances x (1/3 h of work + 1/6 h of setup) = 1.50 USD. j0 on the two servers, 0.5 h
    each: 0.21 USD; in the cloud it would pay 2 x (0.5 + 1/6) h = 1.33 USD. Least: 1.71
    USD, what ``owned_first`` pays. Each gang's ``gang_setup`` row asked the pool's
    instance-hours for *its own* work and setups, and both rows were met by the same ones:
    j0's cloud slice rode on j1's (the LP saw 1.6072), and the fleet ran two more instances
    for it, 2.43 USD. One row per pool and run adds up every gang's: 1.71, either solver."""
    w = workload([{"name": "j0", "gpus": 1, "nodes": 2, "gpu_hours": 1.0},
                  {"name": "j1", "gpus": 1, "nodes": 3, "gpu_hours": 1.0}],
                 owned={"servers": [server(gpus=1, count=2)]}, cloud={"setup_minutes": 10})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=1.0, spot=None, rate=0.0))
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert [(a.job, a.pool) for a in result.assignments] == [
            ("j0", "owned:box"), ("j1", "aws:us-east-1:p3.8xlarge:on_demand")]
        assert result.variable_usd == pytest.approx(0.21 + 1.5, abs=1e-6)
        assert result.total_usd == pytest.approx(result.baselines["owned_first"].total_usd,
                                                 abs=1e-6)


def test_a_job_all_day_beside_a_sweep_shares_an_instance_with_either_solver() -> None:
    """Found at ``--hypothesis-seed=26`` (wide profile) of the property below: CBC planned
    37.07 USD, HiGHS 50.52. One day; p3.2xlarge (1 V100), p3.8xlarge (4 V100s),
    g4dn.12xlarge (4 T4s, half speed), each 1 USD/h on demand; 64 vCPUs of P quota (two
    p3.8xlarge at once). j0: 1 GPU, 24 GPU-h (one GPU all day at V100 speed); j1: 2-GPU
    trials, 8 at once, 100.296875 GPU-h. j0 holds a p3.8xlarge all day (24 USD), which
    runs one trial of j1 beside it (48 GPU-h; the fourth GPU idles: trials take 2); the
    other 52.296875 GPU-h run as two trials on a second p3.8xlarge for 13.0742 h. 37.0742
    USD, the least: j0 on a p3.2xlarge instead costs 24 + 100.296875 / 4 = 49.07. Both
    solvers find that LP optimum; HiGHS's exact figures leave the layout no millisecond
    to spare, and it used to find no GPU for j0 (``layout._greedy``'s wrap), lowered the
    pool's fill and bought 50.52."""
    cat = catalog(offer("p3.2xlarge", on_demand=1.0, spot=None, rate=0.0),
                  offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=1.0, spot=None, rate=0.0),
                  offer("g4dn.12xlarge", gpu="T4", gpus=4, vcpus=48, on_demand=1.0, spot=None,
                        rate=0.0))
    w = workload([{"name": "j0", "gpus": 1, "gpu_hours": 24.0},
                  {"name": "j1", "gpus": 2, "gpu_hours": 100.296875, "parallel": 8}],
                 cloud={"quotas": [{"region": "us-east-1", "market": "on_demand",
                                    "family": "P", "vcpus": 64}]})
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert result.status == "optimal", solver
        assert result.total_usd == pytest.approx(24 + 52.296875 / 4, abs=1e-4), solver


def test_the_minimum_instance_time_is_priced_before_the_pool_is_chosen() -> None:
    """A 2-GPU job of 1 GPU-hour (V100), 30 minutes at least per instance, no setup.
    p4d.24xlarge (A100s, twice the speed, 3 USD/h) works 0.25 h and is paid 0.5 h: 1.50
    USD; p3.8xlarge (4 V100s, 2 USD/h) works 0.5 h: 1.00 USD. Without the minimum in the
    LP, p4d looked cheaper (0.75 USD) and the plan paid 1.50."""
    w = workload([{"name": "j", "gpus": 2, "gpu_hours": 1.0}],
                 cloud={"markets": ["on_demand"], "min_instance_minutes": 30})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=2.0),
                  offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96, on_demand=3.0))
    result = make_plan(w, cat)
    assert {a.pool for a in result.assignments} == {"aws:us-east-1:p3.8xlarge:on_demand"}
    assert result.total_usd == pytest.approx(1.0, abs=1e-6)


def test_a_wide_job_takes_instance_time_of_its_own_beside_a_sweep_and_a_small_job() -> None:
    """One 12-hour window; p3.2xlarge (1 V100, 1 USD/h), p3.8xlarge (4 V100s, 1 USD/h),
    g4dn.12xlarge (4 T4s at half the speed, 1 USD/h) under nothing; an on-demand P quota
    of 64 vCPUs. j0: 1 GPU, 1 GPU-h; j1: a sweep of two 2-GPU trials, 1 GPU-h; j2: 4 GPUs,
    1 GPU-h. On one p3.8xlarge, j2 runs alone (0.25 h); j1 runs one trial beside j0 (1 + 2
    of 4 GPUs, two trials and j0 are 5) and the rest as two trials at once. With x hours of
    j0 there and 1 - x on a p3.2xlarge: 0.25 + x + (1 - 2x) / 4 + (1 - x) = 1.5 - x / 2
    USD for x <= 1/2, and 0.25 + x + (1 - x) = 1.25 above: 1.25 USD. Every baseline pays
    1.5 (j0 alone on a p3.2xlarge, 1 h; j1's two trials 0.25 h and j2 0.25 h on a
    p3.8xlarge). Found at seed 26 of the property below: the ``beside`` row of j1 and j0
    left j2's 0.25 h out, the LP bought 0.5833 h on the p3.8xlarge for x = 1/3 where the
    layout needs 0.6667, and CBC kept j0 to the p3.2xlarge: 1.5 USD, HiGHS 1.25."""
    w = workload([{"name": "j0", "gpu_hours": 1.0, "interruptible": False},
                  {"name": "j1", "gpus": 2, "gpu_hours": 1.0, "parallel": 2,
                   "interruptible": False},
                  {"name": "j2", "gpus": 4, "gpu_hours": 1.0, "interruptible": False}],
                 days=1, period_hours=12, cloud={"quotas": [
                     {"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 64}]})
    cat = catalog(offer("p3.2xlarge", on_demand=1.0, rate=0.0),
                  offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=1.0, rate=0.0),
                  offer("g4dn.12xlarge", gpu="T4", gpus=4, vcpus=48, on_demand=1.0, rate=0.0))
    for solver in ("cbc", "highs"):
        result = make_plan(w, cat, solver=solver)
        assert result.status == "optimal", solver
        assert result.total_usd == pytest.approx(1.25, abs=1e-6), solver
        assert [b.total_usd for b in result.baselines.values()] == [pytest.approx(1.5)] * 3


def test_a_sweep_baseline_runs_as_many_trials_at_once_as_pay_off() -> None:
    # 8 trials of 1 GPU, 16 GPU-h in all, on a 4-GPU instance (12 USD/h) with 30 minutes of
    # setup: g trials at once take ceil(g/4) instances for 16/g h each. g = 4: one instance,
    # 4 h + 0.5 h = 54 USD; g = 8: two for 2.5 h = 60; g = 1: 16.5 h x 12 = 198.
    w = workload([{"name": "sweep", "gpus": 1, "parallel": 8, "gpu_hours": 16}],
                 cloud={"markets": ["on_demand"], "setup_minutes": 30})
    result = make_plan(w, catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0)))
    assert result.baselines["all_on_demand"].variable_usd == pytest.approx(54.0)


def test_owned_only_jobs_are_costed_as_planned_so_every_baseline_compares() -> None:
    # "lab" may run only on the owned 1-GPU server (24 GPU-h a day); "train" anywhere.
    # Without owned-only jobs at the plan's cost, all_on_demand could not do "lab" and
    # would compare nothing. Here it
    # is costed as in the plan (its energy: 10 GPU-h x 1.4 kW x 0.15 USD/kWh = 2.10 USD) in
    # every baseline, and "train" alone on p3.2xlarge on demand: 20 x 3 = 60 USD.
    w = workload([{"name": "lab", "gpus": 1, "gpu_hours": 10, "allow": ["owned"]},
                  {"name": "train", "gpus": 1, "gpu_hours": 20}],
                 owned={"servers": [server(gpus=1)]}, cloud={})
    result = make_plan(w, catalog(offer(on_demand=3.0)))
    b = result.baselines["all_on_demand"]
    lab = next(j for j in b.jobs if j.job == "lab")
    assert b.feasible and (lab.fits, lab.owned_gpu_hours) == (True, pytest.approx(10.0))
    assert lab.variable_usd == pytest.approx(10 * 1.4 * 0.15)
    assert b.variable_usd == pytest.approx(60.0 + 2.10)
    assert b.total_usd - result.total_usd >= 0


@st.composite
def case_with_launch_overhead(draw: st.DrawFn):
    """A random case with setup and quotas shared between jobs drawn (where a quota leaves
    a multi-node gang too little, the plan refuses it, explained). Known gaps of the plan
    (docs/model.md, "Baselines"), found again by drawing them, stay out: setup where the
    jobs' windows make more than one run of identical periods (the model pays an
    instance's setup again across a run boundary, ``model.work_factor``, where a baseline
    running the job in one stretch pays it once: a 2-node job over a day of two runs with
    45 minutes of setup, 76.01 USD planned against 74.51). Setup is priced per instance by
    the ``launch`` rows (``model.py``), the minimum instance time too (worked by hand above;
    not drawn here: drawing it changes the fixed examples of the ``ci`` profile, which then
    hit a quota shared between jobs that binds - a baseline ignores it, docs/model.md)."""
    w, cat = draw(random_case())
    setup = draw(st.sampled_from([0.0, 10.0, 45.0])) if identical_runs(w).max() == 0 else 0.0
    quotas = [Quota(region="us-east-1", market=market, family=family,
                    vcpus=draw(st.sampled_from([64, 96, 200])))
              for market in ("on_demand", "spot") for family in ("P", "G")
              if draw(st.integers(0, 2)) == 0]
    cloud = w.cloud.model_copy(update={"setup_minutes": setup, "quotas": quotas,
                                       "min_instance_minutes": 0.0})
    return w.model_copy(update={"cloud": cloud}), cat


def _a_sliver_beside_a_gang():
    """Found at seed 4 of the property below (the random profile): a 2-node gang j0 split
    between two owned 8-GPU servers and two p3.8xlarge, and j1 (2 GPUs) on an owned
    4-GPU server but for 0.12 GPU-hours on a third p3.8xlarge: the LP saw them ride on
    the share of the gang's two setups that the ``launch`` rows leave out of ``u``, the
    fleet paid a whole instance for them (156.98 USD against owned_first's 156.21). Now
    the plan is owned_first's."""
    w = workload([{"name": "j0", "gpus": 2, "gpu_hours": 78.75636212921899, "parallel": 2,
                   "nodes": 2},
                  {"name": "j1", "gpus": 2, "gpu_hours": 15.293133648342607, "parallel": 2}],
                 owned={"servers": [
                     server("s0", gpu="RTX-2080-TI", gpus=8, availability=0.59, count=2),
                     server("s1", gpu="RTX-2080-TI", availability=0.5693046109347005)]},
                 cloud={"setup_minutes": 10, "quotas": [
                     {"region": "us-east-1", "market": "spot", "family": "P", "vcpus": 96}]})
    return w, catalog(offer("g4dn.12xlarge", gpu="T4", gpus=4, vcpus=48,
                            on_demand=27.11548618118022, rate=0.0),
                      offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=3.9663393994673872,
                            rate=0.3638872311242077),
                      offer("p3.2xlarge", on_demand=26.245619272020942, rate=0.3196140908993548))


def _short_with_either_solver():
    """Found at ``--hypothesis-seed=26`` (wide profile): j0 (1 GPU, 25 GPU-h due in a day:
    1 GPU-h more than a day holds, short whatever the plan), j1 (2-GPU trials, 8 at once,
    97 GPU-h) and j2 (1 GPU-h) on p3.2xlarge (1 USD/h) and p3.8xlarge (14 USD/h), p4d
    being over the 64 vCPUs of quota. Both solvers fall 1 GPU-h short; HiGHS's layout
    once found no GPU for j0 beside j1's trials and fell 12.75 short (``layout._greedy``'s
    wrap, the case worked by hand above)."""
    window = {"interruptible": False, "start": "2027-01-01T00:00:00Z",
              "deadline": "2027-01-02T00:00:00Z"}
    w = workload([{"name": "j0", "gpu_hours": 25.0, **window},
                  {"name": "j1", "gpus": 2, "gpu_hours": 97.0, "parallel": 8, **window},
                  {"name": "j2", "gpu_hours": 1.0, **window}], days=2,
                 cloud={"quotas": [{"region": "us-east-1", "market": "on_demand",
                                    "family": "P", "vcpus": 64}]})
    return w, catalog(offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96,
                            on_demand=1.0, rate=0.0),
                      offer("p3.2xlarge", on_demand=1.0, rate=0.0),
                      offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=14.0, rate=0.0))


@settings(max_examples=examples(60, ci=20), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case_with_launch_overhead())
@hypothesis_example(_a_sliver_beside_a_gang())
@hypothesis_example(GANG_BESIDE_A_JOB_UNDER_ONE_QUOTA)
@hypothesis_example(_short_with_either_solver())
def test_plan_never_costs_more_than_a_feasible_baseline_and_solvers_agree(case) -> None:
    w, cat = case
    try:
        cbc = make_plan(w, cat, solver="cbc")
    except WorkloadError:  # a quota drawn leaves a gang no pool: explained, not planned
        return
    highs = make_plan(w, cat, solver="highs")
    if short_of_layout_only(cbc) or short_of_layout_only(highs):
        event("a layout short after the last re-solve: infeasible, known gap")
        return
    assert cbc.status == highs.status, [s.reason for s in cbc.shortfalls + highs.shortfalls]
    assert cbc.variable_usd == pytest.approx(highs.variable_usd, rel=1e-6, abs=0.01)
    assert sum(s.gpu_hours for s in cbc.shortfalls) == pytest.approx(
        sum(s.gpu_hours for s in highs.shortfalls), rel=1e-6, abs=1e-4)
    for name, baseline in cbc.baselines.items():
        if baseline.feasible:
            assert cbc.status == "optimal", name
            assert cbc.total_usd <= baseline.total_usd + 0.01 + 1e-6 * baseline.total_usd, name

