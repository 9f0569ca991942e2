"""Concurrent quotas: a quota bounds the vCPUs of instances running at the same instant."""

from __future__ import annotations

import pytest
from builders import catalog, offer, workload

from costopt.errors import WorkloadError
from costopt.plan.planner import make_plan
from costopt.plan.pools import build_pools

NO_OVERHEAD = {"setup_minutes": 0, "min_instance_minutes": 0}
P4D = offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96, on_demand=32.77)
P3_16 = offer("p3.16xlarge", gpus=8, vcpus=64, on_demand=24.48)
OD_P_64 = [{"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 64}]


def eight_gpu_job(*offers, **cloud):
    w = workload([{"name": "train", "gpus": 8, "gpu_hours": 72}],
                 cloud={"markets": ["on_demand"], **NO_OVERHEAD, **cloud})
    return w, catalog(*offers)


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_a_p4d_over_a_64_vcpu_quota_is_not_used_and_the_plan_says_why(solver: str) -> None:
    # Without the quota: the A100s (speed 2) do 72 GPU-h in 72 / (8 x 2) = 4.5 h on a
    # p4d.24xlarge: 4.5 x 32.77 = 147.465 USD; the p3.16xlarge needs 72 / 8 = 9 h:
    # 9 x 24.48 = 220.32 USD.
    free = make_plan(*eight_gpu_job(P4D, P3_16), solver=solver)
    assert free.variable_usd == pytest.approx(147.465)
    # With 64 vCPUs of P on demand, one p4d (96 vCPUs) can never run: the p3.16xlarge
    # (64 vCPUs) it is, and the plan notes the p4d with the numbers.
    result = make_plan(*eight_gpu_job(P4D, P3_16, quotas=OD_P_64), solver=solver)
    assert result.status == "optimal"
    assert {ph.pool for ph in result.pool_hours} == {"aws:us-east-1:p3.16xlarge:on_demand"}
    assert result.variable_usd == pytest.approx(220.32)
    assert any("p4d.24xlarge" in n and "96 vCPUs" in n and "64 vCPUs" in n
               for n in result.notes)
    [limit] = result.binding.limits
    assert (limit.kind, limit.name) == ("quota", "us-east-1 on_demand P")
    assert limit.detail == "64 vCPUs (peak 64 vCPUs at once)"


def test_a_job_only_over_quota_pools_could_take_is_an_input_error_naming_the_quota() -> None:
    w, cat = eight_gpu_job(P4D, quotas=OD_P_64)
    with pytest.raises(WorkloadError) as caught:
        make_plan(w, cat)
    text = str(caught.value)
    assert "jobs[0]" in text
    assert "aws:us-east-1:p4d.24xlarge:on_demand" in text
    assert "96 vCPUs, above the quota us-east-1 on_demand P of 64 vCPUs" in text


def test_over_quota_pools_are_left_out_of_the_pools() -> None:
    w, cat = eight_gpu_job(P4D, P3_16, quotas=OD_P_64)
    pools = build_pools(w, cat)
    assert [p.id for p in pools.cloud] == ["aws:us-east-1:p3.16xlarge:on_demand"]
    [over] = pools.over_quota
    assert (over.pool, over.vcpus, over.quota_vcpus) == (
        "aws:us-east-1:p4d.24xlarge:on_demand", 96, 64)


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_a_40_vcpu_spot_quota_never_runs_two_p3_8xlarge_at_once(solver: str) -> None:
    # Two 4-GPU jobs of 48 GPU-h each, both due after 12 h: each needs a p3.8xlarge
    # (4 GPUs, 32 vCPUs) for the whole 12 h. Two on spot at once would be 64 vCPUs > 40:
    # one runs on spot (12 h x 4.00 = 48 USD), the other on demand (12 h x 12.24 =
    # 146.88 USD): 194.88 USD.
    jobs = [{"name": f"j{i}", "gpus": 4, "gpu_hours": 48, "interruptible": True,
             "deadline": "2027-01-01T12:00:00Z"} for i in range(2)]
    w = workload(jobs, period_hours=12, cloud={**NO_OVERHEAD, "quotas": [
        {"region": "us-east-1", "market": "spot", "family": "P", "vcpus": 40}]})
    cat = catalog(offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=12.24, spot=4.0, rate=0.0))
    result = make_plan(w, cat, solver=solver)
    hours = {ph.pool: ph.instance_hours for ph in result.pool_hours}
    assert hours == pytest.approx({"aws:us-east-1:p3.8xlarge:spot": 12.0,
                                   "aws:us-east-1:p3.8xlarge:on_demand": 12.0})
    assert result.variable_usd == pytest.approx(194.88)
    [limit] = result.binding.limits
    assert limit.name == "us-east-1 spot P"
    assert limit.detail == "40 vCPUs (peak 32 vCPUs at once)"


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_two_types_share_a_quota_in_whole_instances(solver: str) -> None:
    # 48 vCPUs of P on demand over a 1-GPU type (8 vCPUs, 3 USD/h) and a 4-GPU type (32
    # vCPUs, 10 USD/h). Eight 1-GPU jobs of 24 GPU-h in one day: at most 6 GPUs at once
    # (6 small = 48 vCPUs, or 1 large + 2 small = 48 vCPUs); the cheaper is 24 x (10 + 2 x
    # 3) = 384 USD (6 small: 432). The other two jobs fall short (48 GPU-h), naming the
    # quota.
    jobs = [{"name": f"j{i}", "gpu_hours": 24} for i in range(8)]
    w = workload(jobs, cloud={**NO_OVERHEAD, "markets": ["on_demand"], "quotas": [
        {"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 48}]})
    cat = catalog(offer("p3.2xlarge", on_demand=3.0),
                  offer("p3.8xlarge", gpus=4, vcpus=32, on_demand=10.0))
    result = make_plan(w, cat, solver=solver)
    assert result.status == "infeasible"
    assert sum(s.gpu_hours for s in result.shortfalls) == pytest.approx(48.0)
    assert all("quota: us-east-1 on_demand P" in s.reason for s in result.shortfalls)
    assert result.variable_usd == pytest.approx(384.0)
