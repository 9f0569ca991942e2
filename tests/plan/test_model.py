"""Each part of the cost model on a tiny workload whose optimum is worked out by hand."""

from __future__ import annotations

import pytest
from builders import catalog, offer, server, workload

from costopt.plan.model import build_model, model_base
from costopt.plan.planner import make_plan
from costopt.plan.pools import build_pools, eligibility


def cost_of(result, pool_prefix: str = "") -> float:
    return sum(a.cost_usd for a in result.assignments if a.pool.startswith(pool_prefix))


def hours_on(result, job: str, pool: str) -> float:
    return sum(a.gpu_hours for a in result.assignments if a.job == job and a.pool == pool)


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_owned_capacity_and_availability_then_cloud(solver: str) -> None:
    # Owned: 4 GPUs x 24 h x availability 0.5 = 48 GPU-hours in the one day.
    # The job needs 60: 48 owned + 12 on a 4-GPU instance at 12 USD/h.
    # Cloud: 12 GPU-h of a 4-GPU gang = 3 instance-hours = 36 USD.
    # Owned energy: (1650-250) W / 4 GPUs = 0.35 kW/GPU x 0.15 USD/kWh = 0.0525 USD/GPU-h
    # x 48 = 2.52 USD. Variable: 38.52 USD.
    w = workload([{"name": "a", "gpus": 4, "gpu_hours": 60}],
                 owned={"servers": [server(availability=0.5)]},
                 cloud={"markets": ["on_demand"]})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0))
    result = make_plan(w, cat, solver=solver)
    assert result.status == "optimal"
    assert hours_on(result, "a", "owned:box") == pytest.approx(48.0)
    assert hours_on(result, "a", "aws:us-east-1:p3.8xlarge:on_demand") == pytest.approx(12.0)
    assert result.by_market["owned"] == pytest.approx(2.52)
    assert result.by_market["on_demand"] == pytest.approx(36.0)
    assert result.variable_usd == pytest.approx(38.52)
    assert result.binding.owned[0].used_pct == pytest.approx(100.0)


def test_energy_and_fixed_cost_arithmetic() -> None:
    # PUE 1.3 at 0.20 USD/kWh: energy = 1.4 kW / 4 GPUs x 0.20 x 1.3 = 0.091 USD/GPU-h.
    # Fixed over 48 h: amortisation 8760/(1 y x 8760 h) x 48 = 48.00;
    # idle 0.25 kW x 0.20 x 1.3 x 48 = 3.12; ops 73 USD/month x 48/730 = 4.80;
    # two servers: 2 x 55.92 = 111.84 USD.
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 10}], days=2,
                 owned={"electricity_usd_per_kwh": 0.20, "pue": 1.3,
                        "servers": [server(count=2, ops_usd_per_month=73)]})
    result = make_plan(w, catalog())
    pool = result.pools.owned[0]
    assert pool.energy_usd_per_gpu_hour == pytest.approx(0.091)
    assert result.fixed_usd == pytest.approx(111.84)
    assert result.variable_usd == pytest.approx(0.91)
    assert result.total_usd == pytest.approx(112.75)


def test_gang_limit_spreads_a_job_over_days() -> None:
    # 2-GPU gang: at most 2 x 24 = 48 GPU-hours a day although the server has 8 GPUs idle.
    w = workload([{"name": "a", "gpus": 2, "gpu_hours": 90}], days=2,
                 owned={"servers": [server(gpus=8)]})
    result = make_plan(w, catalog())
    per_day = sorted(a.gpu_hours for a in result.assignments)
    assert per_day == pytest.approx([42.0, 48.0])
    assert result.status == "optimal"


def test_gang_limit_shortfall_with_window_reason() -> None:
    # 2 GPUs x 48 h = 96 GPU-hours at most in the window; 100 needed: short by 4.
    w = workload([{"name": "a", "gpus": 2, "gpu_hours": 100}], days=2,
                 owned={"servers": [server(gpus=8)]})
    result = make_plan(w, catalog())
    assert result.status == "infeasible"
    [short] = result.shortfalls
    assert short.job == "a"
    assert short.gpu_hours == pytest.approx(4.0)
    assert short.reason.startswith("deadline window")
    assert "96.0 reference GPU-hours at most, 100 needed" in short.reason
    assert result.notes  # explained before solving


def test_deadline_window_uses_only_whole_periods() -> None:
    # Horizon 3 days; start at noon of day 1 and deadline at midnight of day 3: only day 2
    # (period 1) lies wholly inside the window.
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 5, "start": "2027-01-01T12:00:00Z",
                   "deadline": "2027-01-03"}], days=3,
                 owned={"servers": [server()]})
    result = make_plan(w, catalog())
    assert {a.period for a in result.assignments} == {1}
    assert result.binding.on_deadline == ("a",)


@pytest.mark.parametrize(("rate", "expected_pool", "expected_usd"), [
    # e = 1 - 0.1 x (60/2 + 10)/60 = 0.93333; 93.333 GPU-h of work on spot at 1 USD/h
    # takes 100 h = 100 USD, against 93.333 x 1.2 = 112 USD on demand: spot.
    (0.1, "aws:us-east-1:p3.2xlarge:spot", 100.0),
    # e = 1 - 0.5 x 40/60 = 0.66667: spot would cost 140 USD: on demand at 112 USD.
    (0.5, "aws:us-east-1:p3.2xlarge:on_demand", 112.0),
])
def test_spot_efficiency(rate: float, expected_pool: str, expected_usd: float) -> None:
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 93.333333, "interruptible": True}],
                 days=5, cloud={})
    cat = catalog(offer(on_demand=1.2, spot=1.0, rate=rate))
    result = make_plan(w, cat)
    assert {a.pool for a in result.assignments} == {expected_pool}
    assert result.variable_usd == pytest.approx(expected_usd, rel=1e-6)


def test_spot_needs_interruptible() -> None:
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 10}], cloud={})
    result = make_plan(w, catalog(offer(on_demand=3.0, spot=0.5, rate=0.0)))
    assert {a.pool for a in result.assignments} == {"aws:us-east-1:p3.2xlarge:on_demand"}


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_small_jobs_pack_onto_a_multi_gpu_instance(solver: str) -> None:
    # Four 1-GPU jobs of 24 GPU-h in one day. One 4-GPU instance for 24 h: 4 x 24 = 96 USD;
    # four 1-GPU instances would cost 4 x 24 x 1.5 = 144 USD.
    jobs = [{"name": f"j{i}", "gpus": 1, "gpu_hours": 24} for i in range(4)]
    w = workload(jobs, cloud={"markets": ["on_demand"]})
    cat = catalog(offer("p3.2xlarge", on_demand=1.5),
                  offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=4.0))
    result = make_plan(w, cat, solver=solver)
    assert result.variable_usd == pytest.approx(96.0)
    assert {a.pool for a in result.assignments} == {"aws:us-east-1:p3.8xlarge:on_demand"}
    assert result.baselines["all_on_demand"].variable_usd == pytest.approx(144.0)


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_lone_job_pays_for_the_whole_instance(solver: str) -> None:
    # Wall time: 10 GPU-h of a 1-GPU job on an 8-GPU instance keeps it 10 h: 80 USD, not 10.
    # (HiGHS adds this wall-time row lazily: without it u would be 10/8 h.)
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 10}], cloud={})
    cat = catalog(offer("p3.16xlarge", gpus=8, vcpus=64, on_demand=8.0))
    result = make_plan(w, cat, solver=solver)
    assert result.variable_usd == pytest.approx(80.0)
    assert result.pool_hours[0].instance_hours == pytest.approx(10.0)


def three_day_jobs_two_regions(**cloud: object):
    jobs = [{"name": f"j{i}", "gpus": 1, "gpu_hours": 24} for i in range(3)]
    w = workload(jobs, cloud={"markets": ["on_demand"], **cloud})
    cat = catalog(offer(region="us-east-1", on_demand=3.06),
                  offer(region="us-west-2", on_demand=3.5))
    return make_plan(w, cat)


def test_quota_in_vcpus() -> None:
    # 16 vCPUs of P in us-east-1 = two 8-vCPU instances; the third job goes to us-west-2.
    # 48 x 3.06 + 24 x 3.5 = 146.88 + 84 = 230.88 USD.
    result = three_day_jobs_two_regions(
        quotas=[{"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 16}])
    assert result.variable_usd == pytest.approx(230.88)
    [limit] = result.binding.limits
    assert (limit.kind, limit.name, limit.detail) == ("quota", "us-east-1 on_demand P",
                                                       "16 vCPUs (peak 16 vCPUs at once)")


def test_max_instances() -> None:
    # One instance at once in us-east-1: 24 x 3.06 + 48 x 3.5 = 73.44 + 168 = 241.44 USD.
    result = three_day_jobs_two_regions(max_instances=[
        {"instance_type": "p3.2xlarge", "region": "us-east-1", "market": "on_demand",
         "count": 1}])
    assert result.variable_usd == pytest.approx(241.44)
    assert result.binding.limits[0].kind == "max_instances"


def three_jobs_one_region(**cloud: object):
    jobs = [{"name": f"j{i}", "gpus": 1, "gpu_hours": 24} for i in range(3)]
    w = workload(jobs, cloud={"markets": ["on_demand"], **cloud})
    return make_plan(w, catalog(offer(on_demand=3.06)))


@pytest.mark.parametrize(("cloud", "reason"), [
    # 16 vCPUs = two 8-vCPU instances x 24 h = 48 GPU-h of the 72 asked: 24 short.
    ({"quotas": [{"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 16}]},
     "quota: us-east-1 on_demand P at 16 vCPUs"),
    # Two instances at once: the same 48 GPU-h.
    ({"max_instances": [{"instance_type": "p3.2xlarge", "region": "us-east-1",
                         "market": "on_demand", "count": 2}]},
     "availability: aws:us-east-1:p3.2xlarge:on_demand at 2 instance(s) at once"),
])
def test_quota_and_availability_shortfalls_name_their_limit(cloud: dict, reason: str) -> None:
    result = three_jobs_one_region(**cloud)
    assert result.status == "infeasible"
    assert sum(s.gpu_hours for s in result.shortfalls) == pytest.approx(24.0)
    assert result.shortfalls and all(reason in s.reason for s in result.shortfalls)
    assert result.variable_usd == pytest.approx(48 * 3.06)


def test_budget_leaves_a_shortfall() -> None:
    # 48 GPU-h at 3 USD/h = 144 USD; the budget of 100 USD buys 33.333 GPU-h: short 14.667.
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 48}], days=2, budget_usd=100,
                 cloud={"markets": ["on_demand"]})
    result = make_plan(w, catalog(offer(on_demand=3.0)))
    assert result.status == "infeasible"
    [short] = result.shortfalls
    assert short.gpu_hours == pytest.approx(48 - 100 / 3)
    assert "budget" in short.reason
    assert result.variable_usd == pytest.approx(100.0)


def test_budget_that_fits_is_not_binding() -> None:
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 48}], days=2, budget_usd=144,
                 cloud={"markets": ["on_demand"]})
    result = make_plan(w, catalog(offer(on_demand=3.0)))
    assert result.status == "optimal"
    assert result.variable_usd == pytest.approx(144.0)


def test_owned_capacity_shortfall_reason() -> None:
    # Owned only: 4 GPUs x 24 h = 96 GPU-h a day, two 4-GPU jobs of 60 each need 120.
    w = workload([{"name": "a", "gpus": 4, "gpu_hours": 60, "allow": ["owned"]},
                  {"name": "b", "gpus": 4, "gpu_hours": 60, "allow": ["owned"]}],
                 owned={"servers": [server()]})
    result = make_plan(w, catalog())
    assert result.status == "infeasible"
    assert sum(s.gpu_hours for s in result.shortfalls) == pytest.approx(24.0)
    assert all("owned capacity: owned:box full" in s.reason for s in result.shortfalls)
    # the row at its limit is named as the model names it (the workload starts 2027-01-01)
    assert all("capacity[owned:box,2027-01-01]" in s.reason for s in result.shortfalls)


def test_launch_overhead_shortfall_reason() -> None:
    # A 1-GPU job of 24 GPU-h due in its one day on 1-GPU instances with 60 minutes of setup:
    # its gang works 24 - 1 = 23 h of the day (cloud_gang: 1 x 24 x (1 - 1/24)), 1 GPU-h
    # short; a second gang it may not have (parallel 1).
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 24}],
                 cloud={"markets": ["on_demand"], "setup_minutes": 60})
    result = make_plan(w, catalog(offer(on_demand=3.0)))
    assert result.status == "infeasible"
    (short,) = result.shortfalls
    assert short.gpu_hours == pytest.approx(1.0)
    assert short.reason.startswith("launch overhead: 60 minutes of setup per instance")
    assert "cloud_gang[a,2027-01-01]" in short.reason


VIT = {"name": "vit", "gpus": 1, "gpu_hours": 10, "interruptible": True}


def under_one_quota(jobs: list[dict]) -> tuple:
    """``jobs`` beside an owned server, with two spot types under one spot quota of 40
    vCPUs (p3.2xlarge: 8, p3.8xlarge: 32) and a budget of 100 USD: the workload and prices."""
    w = workload(jobs, owned={"servers": [server()]}, cloud={"quotas": [
        {"region": "us-east-1", "market": "spot", "family": "P", "vcpus": 40}]},
                 budget_usd=100)
    return w, catalog(offer(on_demand=3.0, spot=1.0),
                      offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.0, spot=4.0))


def test_rows_and_columns_have_readable_names() -> None:
    # Two spot types under one quota: its relaxation in hours, and where it is counted
    # (as the planner does where a solution exceeds it), integer instances per pool.
    w, cat = under_one_quota([VIT])
    pools = build_pools(w, cat)
    lp = build_model(w, pools, eligibility(w, pools, cat), counted=frozenset({(0, 0)}))
    rows = {lp.row_name(r) for r in range(lp.num_rows)}
    assert {"work[vit]", "gang[vit,2027-01-01]", "capacity[owned:box,2027-01-01]",
            "packing[aws:us-east-1:p3.2xlarge:spot,2027-01-01]",
            "walltime[vit,aws:us-east-1:p3.2xlarge:on_demand,2027-01-01]",
            "quota[us-east-1,spot,P,2027-01-01]", "quota_hours[us-east-1,spot,P,2027-01-01]",
            "count[aws:us-east-1:p3.8xlarge:spot,2027-01-01]", "budget"} <= rows
    cols = {lp.col_name(c) for c in range(lp.num_cols)}
    assert {"h[vit,owned:box,2027-01-01]", "u[aws:us-east-1:p3.2xlarge:spot,2027-01-01]",
            "running[aws:us-east-1:p3.2xlarge:spot,2027-01-01]"} <= cols


def test_speed_prefix_changes_the_cost() -> None:
    # The job runs twice as fast on any V100 (prefix key): 20 GPU-h of work = 10 h x 2 USD.
    w = workload([{"name": "a", "gpus": 1, "gpu_hours": 20, "speed": {"V100": 2.0}}],
                 cloud={})
    result = make_plan(w, catalog(offer(on_demand=2.0)))
    assert result.variable_usd == pytest.approx(20.0)
    assert result.assignments[0].work_gpu_hours == pytest.approx(20.0)


def test_blocking_three_gpu_job_on_four_gpu_server() -> None:
    # b = 4/3: a 3-GPU job holds the whole 4-GPU node. 72 GPU-h of it fill the capacity of
    # 96 GPU-h (72 x 4/3 = 96), leaving none for the 1-GPU job. The least shortfall gives
    # up 0.75 GPU-h of the big job (frees 0.75 x 4/3 = 1 GPU-h) rather than 1 of the small.
    w = workload([{"name": "big", "gpus": 3, "gpu_hours": 72, "allow": ["owned"]},
                  {"name": "small", "gpus": 1, "gpu_hours": 1, "allow": ["owned"]}],
                 owned={"servers": [server()]})
    result = make_plan(w, catalog())
    assert result.status == "infeasible"
    [short] = result.shortfalls
    assert (short.job, short.gpu_hours) == ("big", pytest.approx(0.75))


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_jobs_that_cannot_share_an_owned_server_take_turns_on_it(solver: str) -> None:
    # One server of 2 V100s for 2 days (daily periods), energy (1650-250) W / 2 GPUs =
    # 0.7 kW x 0.15 USD/kWh = 0.105 USD per GPU-hour; p3.2xlarge (1 GPU) at 2 USD/h.
    # "wide" is a 2-GPU gang of 51 GPU-hours: only the server holds it, for 25.5 h of
    # the 48. "narrow" (1 GPU, one at a time) needs 48 GPU-hours: every hour of the two
    # days. The two never run on the server at once, so while "wide" runs, "narrow" runs
    # on the cloud: 25.5 h x 2 USD = 51 USD, and 48 - 25.5 = 22.5 h on the server.
    # Energy: (51 + 22.5) x 0.105 = 7.7175 USD. Variable: 58.7175 USD. (Packing GPU-hours
    # alone fills the server's 96 with 51 + 45 and puts 3 h on the cloud: 16.08 USD, a
    # plan no schedule keeps.) Per day: 12.75 h of "wide"'s gang, "narrow" 11.25 h on the
    # server and 12.75 h on the cloud - 24 h, one at a time.
    w = workload([{"name": "wide", "gpus": 2, "gpu_hours": 51, "interruptible": False},
                  {"name": "narrow", "gpus": 1, "gpu_hours": 48, "interruptible": False}],
                 days=2, owned={"servers": [server(gpus=2)]}, cloud={"markets": ["on_demand"]})
    result = make_plan(w, catalog(offer(on_demand=2.0)), solver=solver)
    assert result.status == "optimal"
    assert result.variable_usd == pytest.approx(51.0 + 73.5 * 0.105)
    for day in (0, 1):
        narrow = {a.pool: a.gpu_hours for a in result.assignments
                  if a.job == "narrow" and a.period == day}
        assert narrow == pytest.approx({"owned:box": 11.25,
                                        "aws:us-east-1:p3.2xlarge:on_demand": 12.75})


def test_a_shared_base_gives_the_model_built_afresh() -> None:
    # The planner's layout loop builds the model again with counted limits, layout rows,
    # jobs kept to a pool and a lowered fill, on one base (model_base) made once: each
    # model must be the one build_model makes from nothing, row for row and column for
    # column, whatever was built on the base before it (the base is never changed).
    w, cat = under_one_quota([VIT, {"name": "wide", "gpus": 4, "gpu_hours": 8}])
    pools = build_pools(w, cat)
    pairs = eligibility(w, pools, cat)
    spot8 = next(p for p, pool in enumerate(pools.all)
                 if pool.id == "aws:us-east-1:p3.8xlarge:spot")
    variants = [{}, {"counted": frozenset({(0, 0)})}, {"layout": frozenset({(0, spot8)})},
                {"kept": frozenset({(0, spot8, 0)}), "filled": {(spot8, 0): 0.5}},
                {"counted": frozenset({(0, 0)}), "layout": frozenset({(0, spot8)})}]
    for elastic in (False, True):
        base = model_base(w, pools, pairs, elastic=elastic)
        for how in variants:
            shared = build_model(w, pools, pairs, elastic=elastic, base=base, **how)
            fresh = build_model(w, pools, pairs, elastic=elastic, **how)
            for name in ("cost", "col_upper", "integer", "row_lower", "row_upper", "lazy",
                         "a_row", "a_col", "a_val"):
                assert getattr(shared, name).tolist() == getattr(fresh, name).tolist(), name
            assert shared.row_key == fresh.row_key
            assert (shared.h, shared.u, shared.z, shared.n_run, shared.unreserved) == (
                fresh.h, fresh.u, fresh.z, fresh.n_run, fresh.unreserved)
    assert "quota" in shared.row_family and "layout" in shared.row_family
    with pytest.raises(ValueError) as raised:
        build_model(w, pools, pairs, elastic=False, base=base)
    assert "elastic=True" in str(raised.value)
