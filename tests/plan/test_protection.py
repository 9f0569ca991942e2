"""Protection of interruptible jobs against losing spot (spec v2), worked by hand.

One 1-GPU job on 2027-01-01, one 24-hour period; p3.2xlarge (V100, speed 1) in us-east-1 at
1 USD/h spot and 3 on demand; no interruptions priced in.
"""

from __future__ import annotations

from typing import Any

from builders import catalog, offer, server, workload

from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.plan.protection import protection

V100 = offer("p3.2xlarge", "us-east-1", on_demand=3.0, spot=1.0, rate=0.0)


def verdicts(gpu_hours: float = 10, *, allow: list[str] | None = None, offers: tuple = (V100,),
             **fields: Any) -> list[tuple[str, bool, str]]:
    job: dict[str, Any] = {"name": "train", "gpus": 1, "gpu_hours": gpu_hours,
                           "interruptible": True}
    if allow:
        job["allow"] = allow
    cloud = {"regions": ["us-east-1"], **fields.pop("cloud", {})}
    result = make_plan(workload([job], cloud=cloud, **fields), catalog(*offers))
    return [(v.job, v.protected, v.reason) for v in protection(result)]


def test_on_demand_room_protects() -> None:
    # Spot 10 h; if it fails at 00:00 on-demand has 24 h for the 10 GPU-h.
    ((job, protected, _reason),) = verdicts()
    assert (job, protected) == ("train", True)


def test_a_job_that_may_not_run_on_demand_is_named() -> None:
    ((_job, protected, reason),) = verdicts(allow=["spot"])
    assert not protected and reason == "it may run on no on-demand or owned pool (allow: spot)"


def test_a_spot_only_cloud_section_is_named_as_the_cause() -> None:
    # The job allows every kind; it is the workload that offers only spot and no servers.
    ((_job, protected, reason),) = verdicts(cloud={"markets": ["spot"]})
    assert not protected
    assert reason == ("no on-demand or owned pool to fall back on: cloud.markets is [spot], "
                      "without on_demand; the workload has no owned servers")


def test_a_quota_without_room_for_one_instance() -> None:
    # p3.2xlarge has 8 vCPUs; an on-demand P quota of 4 holds none.
    quota = {"region": "us-east-1", "market": "on_demand", "family": "P", "vcpus": 4}
    ((_job, protected, reason),) = verdicts(cloud={"quotas": [quota]})
    assert not protected and reason.startswith("the quota or max_instances leaves no room")


def test_too_little_time_on_the_slower_on_demand_pool() -> None:
    # 30 GPU-h on A100 spot (speed 2: 15 h); A100 on-demand capped at 0 instances, so the
    # fallback is the V100 on demand: 24 h x 1 = 24 GPU-h < 30 if spot fails at 00:00.
    a100 = offer("p4.a100", "us-east-1", gpu="A100-SXM4-40GB", on_demand=30.0, spot=1.5,
                 rate=0.0)
    cap = {"instance_type": "p4.a100", "region": "us-east-1", "market": "on_demand", "count": 0}
    ((_job, protected, reason),) = verdicts(30, offers=(V100, a100),
                                           cloud={"max_instances": [cap]})
    assert not protected
    assert reason == ("deadline: if spot fails from 2027-01-01 00:00, 30.0 GPU-hours are "
                      "left and on-demand/owned can do 24.0 by its deadline")


def test_a_budget_without_room_to_redo_spot_work_on_demand() -> None:
    # Plan 10 USD of spot. Redone on demand from 00:00: 10 h x 3 = 30 USD instead of the 10
    # of spot: 20 more, 30 in all, past a budget of 15.
    ((_job, protected, reason),) = verdicts(budget_usd=15)
    assert not protected
    assert reason == ("budget: redoing its spot work on on-demand from 2027-01-01 00:00 "
                      "costs 20.00 USD more, past budget_usd 15.00 (plan 10.00)")


def test_the_plan_file_records_protection_and_notes_the_unprotected() -> None:
    job = {"name": "train", "gpus": 1, "gpu_hours": 10, "interruptible": True,
           "allow": ["spot"]}
    doc = to_document(make_plan(workload([job], cloud={"regions": ["us-east-1"]}),
                                catalog(V100)), "w.yaml", "0" * 64).as_json()
    assert doc["protection"] == [{"job": "train", "protected": False, "reason":
                                  "it may run on no on-demand or owned pool (allow: spot)"}]
    assert "train is not protected against losing its spot capacity: it may run on no " \
        "on-demand or owned pool (allow: spot)" in doc["notes"]


def test_owned_servers_protect_only_with_gpus_the_plan_leaves_free() -> None:
    # One 1-GPU server there 10 % of the time: 2.4 GPU-h in the day, all planned for the job
    # (energy 1400 W x 0.15 USD/kWh = 0.21 USD/GPU-h, under spot's 1); spot does the other
    # 7.6. If spot fails at 00:00, 7.6 GPU-h are left and the server has none free.
    owned = {"servers": [server(gpus=1, availability=0.1)]}
    ((_job, protected, reason),) = verdicts(allow=["owned", "spot"], owned=owned)
    assert not protected
    assert reason.startswith("deadline: if spot fails from 2027-01-01 00:00, 7.6 GPU-hours "
                             "are left and on-demand/owned can do 0.0")
    # A server dearer than spot (9750 W above idle: 1.46 USD/GPU-h) there half the time: the
    # plan leaves it idle and runs spot; its 12 free GPU-h in the day cover the 10.
    dear = {"servers": [server(gpus=1, availability=0.5, power_watts=10000)]}
    ((_job, protected, _reason),) = verdicts(allow=["owned", "spot"], owned=dear)
    assert protected
