"""The EC2 edge: RunInstances parameters and tokens, parsing DescribeInstances, pagination,
terminating a persistent spot instance, and errors (moto in-process, botocore's Stubber)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.stub import Stubber
from fleet_plans import IMAGE, plan, pool
from moto import mock_aws

from costopt.errors import AwsError
from costopt.orchestrate.ec2 import (
    CapacityError,
    Ec2Fleet,
    LaunchRequest,
    aws_errors,
    observed_instance,
    run_instances_params,
)
from costopt.orchestrate.fallback import LaunchTarget

SPOT = "aws:us-west-2:p3.8xlarge:spot"


SPOT_TARGET = LaunchTarget("spot")


def request(target: LaunchTarget = SPOT_TARGET, *, attempt: int = 0,
            persistent: bool = True) -> LaunchRequest:
    spot = plan(pool(SPOT, [(0, 0, 8)], usd_per_hour=3.6, on_demand=12.24)).fleet[0]
    return LaunchRequest("t-0001", "lab", spot, 0, target, attempt, persistent)


def test_spot_parameters_and_tags() -> None:
    params = run_instances_params(request(), "ami-1", None)
    assert params["InstanceMarketOptions"] == {"MarketType": "spot", "SpotOptions": {
        "SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop",
        "MaxPrice": "12.24"}}
    assert params["ImageId"] == "ami-1" and "LaunchTemplate" not in params
    assert (params["InstanceType"], params["MinCount"], params["MaxCount"]) == (
        "p3.8xlarge", 1, 1)
    kinds = [t["ResourceType"] for t in params["TagSpecifications"]]
    assert kinds == ["instance", "volume", "spot-instances-request"]
    tags = {t["Key"]: t["Value"] for t in params["TagSpecifications"][0]["Tags"]}
    assert tags == {"costopt:plan": "t-0001", "costopt:pool": SPOT, "costopt:slot": "0",
                    "costopt:workload": "lab", "costopt:market": "spot",
                    "costopt:spot-request": "persistent", "Name": "t-0001/p3.8xlarge/0"}
    one_time = run_instances_params(request(persistent=False), "ami-1", None)
    assert one_time["InstanceMarketOptions"]["SpotOptions"]["SpotInstanceType"] == "one-time"


def test_on_demand_fallback_and_launch_template() -> None:
    params = run_instances_params(request(LaunchTarget("on_demand")), None, "gpu-nodes")
    assert "InstanceMarketOptions" not in params and "ImageId" not in params
    assert params["LaunchTemplate"] == {"LaunchTemplateName": "gpu-nodes",
                                        "Version": "$Default"}
    assert [t["ResourceType"] for t in params["TagSpecifications"]] == ["instance", "volume"]


def test_client_token_is_deterministic_and_changes_with_the_call() -> None:
    token = run_instances_params(request(), "ami-1", None)["ClientToken"]
    assert token == run_instances_params(request(), "ami-1", None)["ClientToken"]
    assert len(token) <= 64 and token.isascii() and token.startswith("costopt-")
    others = {run_instances_params(request(attempt=1), "ami-1", None)["ClientToken"],
              run_instances_params(request(LaunchTarget("spot", "us-west-2b")), "ami-1",
                                   None)["ClientToken"],
              run_instances_params(request(), "ami-2", None)["ClientToken"]}
    assert token not in others and len(others) == 3


def raw_instance(**fields: Any) -> dict[str, Any]:
    base = {"InstanceId": "i-1", "InstanceType": "p3.8xlarge",
            "State": {"Code": 48, "Name": "terminated"},
            "LaunchTime": datetime(2027, 1, 4, tzinfo=timezone.utc),
            "Placement": {"AvailabilityZone": "us-west-2b"}, "InstanceLifecycle": "spot",
            "SpotInstanceRequestId": "sir-1", "ClientToken": "costopt-abc",
            "StateReason": {"Code": "Server.SpotInstanceTermination", "Message": "..."},
            "StateTransitionReason": "Service initiated (2027-01-04 03:20:00 GMT)",
            "Tags": [{"Key": "costopt:pool", "Value": SPOT}, {"Key": "costopt:slot",
                                                              "Value": "2"},
                     {"Key": "costopt:spot-request", "Value": "persistent"}]}
    return {**base, **fields}


def test_observed_instance_from_describe() -> None:
    o = observed_instance(raw_instance(), "us-west-2")
    assert o is not None
    assert (o.instance_id, o.pool, o.slot, o.state, o.market, o.az) == (
        "i-1", SPOT, 2, "terminated", "spot", "us-west-2b")
    assert o.interrupted and o.stoppable and o.spot_request_id == "sir-1"
    assert o.changed_at == datetime(2027, 1, 4, 3, 20, tzinfo=timezone.utc)
    on_demand = observed_instance(raw_instance(InstanceLifecycle=None, StateReason={},
                                               StateTransitionReason=""), "us-west-2")
    assert on_demand is not None
    assert on_demand.market == "on_demand" and not on_demand.interrupted
    assert on_demand.changed_at is None
    assert observed_instance(raw_instance(Tags=[]), "us-west-2") is None


@mock_aws
def test_describe_pages_and_filters_by_the_plan_tag() -> None:
    """moto pages DescribeInstances at 100 reservations unless asked for fewer (facts.md);
    the session here asks for pages of 5 (``MaxResults`` added to every DescribeInstances
    call, as a page size would be), so 11 launches of the plan take three pages: the fleet
    must follow the NextToken to the last one."""
    ec2 = boto3.client("ec2", region_name="us-east-1")

    def launch(plan_id: str) -> None:
        ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="p3.2xlarge",
                          TagSpecifications=[{"ResourceType": "instance", "Tags": [
                              {"Key": "costopt:plan", "Value": plan_id},
                              {"Key": "costopt:pool", "Value": "aws:us-east-1:p3.2xlarge:"
                               "on_demand"}, {"Key": "costopt:slot", "Value": "0"}]}])

    for _ in range(11):  # one reservation each
        launch("t-0001")
    launch("other-plan")
    pages: list[dict[str, Any]] = []

    def five_a_page(params: dict[str, Any], **_: Any) -> None:
        params["MaxResults"] = 5
        pages.append(dict(params))

    session = boto3.Session()
    session.events.register("provide-client-params.ec2.DescribeInstances", five_a_page)
    found = Ec2Fleet(session).describe("t-0001", ["us-east-1"])
    assert len(found) == 11
    assert {o.pool for o in found} == {"aws:us-east-1:p3.2xlarge:on_demand"}
    assert len(pages) == 3 and [("NextToken" in p) for p in pages] == [False, True, True]


def test_terminating_a_persistent_spot_instance_cancels_its_request_first() -> None:
    client = boto3.client("ec2", region_name="us-west-2")
    session = _OneClient(client)
    with Stubber(client) as stub:
        stub.add_response("cancel_spot_instance_requests", {},
                          {"SpotInstanceRequestIds": ["sir-1"]})
        stub.add_response("terminate_instances", {}, {"InstanceIds": ["i-1"]})
        Ec2Fleet(session).terminate("us-west-2", "i-1", "sir-1")
        stub.assert_no_pending_responses()
    with Stubber(client) as stub:
        stub.add_response("terminate_instances", {}, {"InstanceIds": ["i-2"]})
        Ec2Fleet(session).terminate("us-west-2", "i-2", None)
        stub.assert_no_pending_responses()


class _OneClient:
    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, *_: Any, **__: Any) -> Any:
        return self._client


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "said AWS"}}, "RunInstances")


def test_errors_become_messages_with_a_fix() -> None:
    with pytest.raises(CapacityError) as capacity, aws_errors("RunInstances"):
        raise _client_error("InsufficientInstanceCapacity")
    assert capacity.value.code == "InsufficientInstanceCapacity"
    with pytest.raises(AwsError) as denied, aws_errors("RunInstances of p3.2xlarge"):
        raise _client_error("UnauthorizedOperation")
    assert str(denied.value).startswith("RunInstances of p3.2xlarge failed: "
                                        "UnauthorizedOperation: said AWS. To fix: grant")
    with pytest.raises(AwsError) as creds, aws_errors("DescribeInstances in us-east-1"):
        raise NoCredentialsError()
    assert "no AWS credentials found" in str(creds.value)


def test_a_spot_request_closed_by_aws_counts_as_an_interruption() -> None:
    client = boto3.client("ec2", region_name="us-west-2")
    stopped = raw_instance(InstanceId="i-1", State={"Code": 80, "Name": "stopped"},
                           StateReason={"Code": "Client.UserInitiatedShutdown"})
    ended = raw_instance(InstanceId="i-2", SpotInstanceRequestId="sir-2",
                         StateReason={"Code": "Client.UserInitiatedShutdown"})
    running = raw_instance(InstanceId="i-3", State={"Code": 16, "Name": "running"},
                           SpotInstanceRequestId="sir-3", StateReason={})
    with Stubber(client) as stub:
        stub.add_response("describe_instances", {"Reservations": [
            {"Instances": [stopped, ended, running]}]})
        stub.add_response(
            "describe_spot_instance_requests",
            {"SpotInstanceRequests": [
                {"SpotInstanceRequestId": "sir-1",
                 "Status": {"Code": "instance-stopped-no-capacity"}},
                {"SpotInstanceRequestId": "sir-2",
                 "Status": {"Code": "instance-terminated-by-user"}}]},
            {"Filters": [{"Name": "spot-instance-request-id", "Values": ["sir-1", "sir-2"]}]})
        found = Ec2Fleet(_OneClient(client)).describe("t-0001", ["us-west-2"])
        stub.assert_no_pending_responses()
    by_id = {o.instance_id: o for o in found}
    assert by_id["i-1"].interrupted  # AWS stopped it: no capacity
    assert not by_id["i-2"].interrupted  # the user ended it
    assert not by_id["i-3"].interrupted and by_id["i-3"].spot_request_status is None
