"""The in-process EC2 that follows traces, as apply's fleet adapter sees it."""

from __future__ import annotations

import pytest
from sim_cases import SPOT, at, one_job, planned, prices

from costopt.orchestrate.ec2 import (
    TAG_POOL,
    CapacityError,
    Ec2Fleet,
    LaunchRequest,
    run_instances_params,
)
from costopt.orchestrate.fallback import LaunchTarget
from costopt.orchestrate.fleet import Fleet
from costopt.simulate.ec2 import SimulatedEc2


def params(market: str = "spot", slot: int = 0, attempt: int = 0,
           persistent: bool = False) -> dict:
    pool = planned(one_job(10), prices()).fleet[0]
    request = LaunchRequest("plan-1", "t", pool, slot, LaunchTarget(market),  # type: ignore[arg-type]
                            attempt, persistent)
    return run_instances_params(request, "ami-1", None)


def test_both_fleets_satisfy_the_protocol() -> None:
    assert isinstance(SimulatedEc2(at(0)), Fleet)
    assert isinstance(Ec2Fleet(session=None), Fleet)
    assert not isinstance(object(), Fleet)


def test_spot_is_refused_at_the_trace_count_and_on_demand_never() -> None:
    ec2 = SimulatedEc2(at(0))
    pool = SPOT
    ec2.set_capacity(pool, 1)
    first, _az = ec2.launch(params(slot=0), "us-east-1")
    with pytest.raises(CapacityError) as err:
        ec2.launch(params(slot=1), "us-east-1")
    assert err.value.code == "InsufficientInstanceCapacity"
    ec2.launch(params("on_demand", slot=1), "us-east-1")
    # The same ClientToken returns the same instance, as on AWS.
    assert ec2.launch(params(slot=0), "us-east-1")[0] == first
    seen = ec2.describe("plan-1", ["us-east-1"])
    assert sorted((o.market, o.slot, o.state) for o in seen) == [
        ("on_demand", 1, "running"), ("spot", 0, "running")]


def test_a_fall_interrupts_the_newest_spot_instances() -> None:
    ec2 = SimulatedEc2(at(0))
    pool = SPOT
    old, _ = ec2.launch(params(slot=0), "us-east-1")
    ec2.advance(at(1))
    new, _ = ec2.launch(params(slot=1, persistent=True), "us-east-1")
    ec2.advance(at(2))
    assert ec2.set_capacity(pool, 1) == 1
    by_id = {o.instance_id: o for o in ec2.describe("plan-1", ["us-east-1"])}
    assert by_id[old].state == "running"
    # A persistent request stops on interruption, as AWS does with the stop behaviour.
    assert (by_id[new].state, by_id[new].interrupted, by_id[new].changed_at) == (
        "stopped", True, at(2))
    with pytest.raises(CapacityError):  # no room to start it again while the old one runs
        ec2.start("us-east-1", new)


def test_a_terminated_instance_is_shown_once_then_forgotten() -> None:
    ec2 = SimulatedEc2(at(0))
    instance, _ = ec2.launch(params(slot=0), "us-east-1")
    ec2.set_capacity(SPOT, 0)
    (gone,) = ec2.describe("plan-1", ["us-east-1"])
    assert (gone.instance_id, gone.state, gone.interrupted) == (instance, "terminated", True)
    assert ec2.describe("plan-1", ["us-east-1"]) == []


def test_a_fallback_to_another_zone_lives_by_that_zones_trace_when_traced() -> None:
    """A launch of the use1-az1 pool placed in use1-az2 by the fallback chain: while
    use1-az2 is traced it is refused at use1-az2's count (not use1-az1's) and interrupted
    when use1-az2's trace falls, whatever use1-az1 does. Untraced, use1-az6 goes by the home
    zone's trace (today's behaviour, for a simulation tracing only the plan's pools)."""
    home, other = f"{SPOT}:use1-az1", f"{SPOT}:use1-az2"

    def zoned(slot: int, zone: str) -> dict:
        p = params(slot=slot)
        p["TagSpecifications"][0]["Tags"] = [
            {**t, "Value": home} if t["Key"] == TAG_POOL else t
            for t in p["TagSpecifications"][0]["Tags"]]
        return {**p, "Placement": {"AvailabilityZone": zone}}

    ec2 = SimulatedEc2(at(0))
    ec2.set_capacity(home, 0)
    ec2.set_capacity(other, 1)
    moved, az = ec2.launch(zoned(0, "use1-az2"), "us-east-1")
    assert az == "use1-az2"
    with pytest.raises(CapacityError):  # use1-az2 holds 1, and it runs there
        ec2.launch(zoned(1, "use1-az2"), "us-east-1")
    with pytest.raises(CapacityError):  # use1-az6 is not traced: use1-az1's 0
        ec2.launch(zoned(1, "use1-az6"), "us-east-1")
    ec2.set_capacity(home, 3)
    assert ec2.launch(zoned(1, "use1-az6"), "us-east-1")[1] == "use1-az6"
    assert ec2.set_capacity(other, 0) == 1  # the one in use1-az2
    by_id = {o.instance_id: o for o in ec2.describe("plan-1", ["us-east-1"])}
    assert by_id[moved].interrupted
    assert ec2.set_capacity(home, 0) == 1  # the one in use1-az6, by the home zone's trace
