"""The EC2 edge: the only module that calls AWS for the orchestrator (boto3).

One client per region from :class:`costopt.aws.Clients` (one retry policy: throttling such as
``RequestLimitExceeded`` is retried with jittered exponential backoff, never in a tight
loop; ``--retry-mode adaptive`` also slows down on the client's side); every describe goes
through a paginator and filters on the plan's tag. Errors become
:class:`~costopt.errors.AwsError` with what to do, except a lack of capacity
(:class:`CapacityError`), which the apply shell answers with the fallback chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Literal

from costopt.aws import Clients
from costopt.awserrors import DEFAULT_FIX, aws_error, aws_exceptions, failure_of
from costopt.orchestrate.fallback import CAPACITY_ERRORS, LaunchTarget
from costopt.orchestrate.reconcile import LIVE, ObservedInstance
from costopt.orchestrate.userdata import jobs_tag
from costopt.planfile import FleetPool, Slot

TAG_PLAN = "costopt:plan"
TAG_POOL = "costopt:pool"
TAG_SLOT = "costopt:slot"
TAG_WORKLOAD = "costopt:workload"
TAG_MARKET = "costopt:market"
TAG_SPOT_REQUEST = "costopt:spot-request"
TAG_JOBS = "costopt:jobs"
TAG_GANG = "costopt:gang"
TAG_NODE_RANK = "costopt:node-rank"
TAG_GANG_ID = "costopt:gang-id"  # a multi-node gang's identity, kept when a newer plan claims it
TAG_NODES = "costopt:nodes"  # a multi-node gang's instances
TAG_PROGRESS = "costopt:progress"  # set by a job on its own instance: JOB=GPU_HOURS[,...]
TAG_OWNER = "costopt:owner"  # the id of the ledger whose run launched it (ownership.py)

DEFAULT_IMAGE_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id")
"""The public SSM parameter of AWS's Deep Learning Base GPU AMI (Ubuntu 22.04), used when
neither ``--image-id`` nor ``--launch-template`` is given."""

class CapacityError(Exception):
    """AWS has no capacity for this launch here (see :data:`CAPACITY_ERRORS`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class LaunchSettings:
    """How instances boot: an AMI per region (``"*"`` for any), or a launch template by name
    (its default version), which may also carry key pair, security groups and subnets."""

    image_ids: dict[str, str]
    launch_template: str | None = None

    def image_for(self, region: str) -> str | None:
        return self.image_ids.get(region) or self.image_ids.get("*")


@dataclass(frozen=True)
class ZonePlacement:
    """Where a launch in one zone goes in this account: the zone's name (zone IDs are the
    same in every account, names are not) and a subnet there, if the account has one."""

    zone_id: str
    zone_name: str
    subnet_id: str | None = None

    def params(self) -> dict[str, Any]:
        """``SubnetId`` when there is a subnet in the zone, else ``Placement``."""
        if self.subnet_id:
            return {"SubnetId": self.subnet_id}
        return {"Placement": {"AvailabilityZone": self.zone_name}}


def zone_placements(zones: list[dict[str, Any]],
                    subnets: list[dict[str, Any]]) -> dict[str, ZonePlacement]:
    """Zone ID -> placement, from DescribeAvailabilityZones and DescribeSubnets: per zone,
    its default subnet, else the available subnet of the lowest id."""
    out = {}
    for z in zones:
        if z.get("ZoneType", "availability-zone") != "availability-zone" or "ZoneId" not in z:
            continue
        here = sorted((not s.get("DefaultForAz", False), s["SubnetId"]) for s in subnets
                      if s.get("AvailabilityZoneId") == z["ZoneId"]
                      and s.get("State", "available") == "available")
        out[z["ZoneId"]] = ZonePlacement(z["ZoneId"], z["ZoneName"],
                                         here[0][1] if here else None)
    return out


@dataclass(frozen=True)
class LaunchRequest:
    """One ``RunInstances`` call for one slot of one pool."""

    plan_id: str
    workload: str
    pool: FleetPool
    slot: int
    target: LaunchTarget
    attempt: int  # completed launch calls for this slot before this one
    persistent: bool  # spot: a persistent request that stops on interruption
    serves: Slot | None = None  # the slot's interval: its jobs, and its gang if multi-node
    user_data: str | None = None  # the script it runs (``userdata.user_data``)
    owner: str | None = None  # the launching ledger's id (``Ledger.owner_id``)
    gang_id: str | None = None  # a multi-node gang's ``costopt:gang-id``

    def tags(self) -> dict[str, str]:
        tags = {TAG_PLAN: self.plan_id, TAG_POOL: self.pool.pool, TAG_SLOT: str(self.slot),
                TAG_WORKLOAD: self.workload, TAG_MARKET: self.target.market,
                "Name": f"{self.plan_id}/{self.pool.instance_type}/{self.slot}"}
        if self.owner is not None:
            tags[TAG_OWNER] = self.owner
        if self.target.market == "spot":
            tags[TAG_SPOT_REQUEST] = "persistent" if self.persistent else "one-time"
        serves = self.serves
        if serves is not None and serves.jobs:
            tags[TAG_JOBS] = jobs_tag(serves.jobs)
        if serves is not None and serves.gang is not None:
            tags[TAG_GANG] = str(serves.gang)
            tags[TAG_NODE_RANK] = str(serves.node_rank)
            tags[TAG_NODES] = str(serves.nodes)
            if self.gang_id is not None:
                tags[TAG_GANG_ID] = self.gang_id
        return tags


def run_instances_params(request: LaunchRequest, image_id: str | None,
                         launch_template: str | None,
                         placement: ZonePlacement | None = None) -> dict[str, Any]:
    """The ``RunInstances`` parameters, ``ClientToken`` included.

    The token is a hash of every other parameter and the attempt number: the same call
    retried after a crash carries the same token (AWS then returns the instance it already
    launched), while a call with other parameters - another zone, market or image - or a
    later attempt carries another (AWS answers ``IdempotentParameterMismatch`` to a token
    reused with other parameters). Tokens are per region and at most 64 ASCII characters.
    """
    pool = request.pool
    tags = [{"Key": k, "Value": v} for k, v in request.tags().items()]
    kinds = ["instance", "volume"] + (["spot-instances-request"]
                                      if request.target.market == "spot" else [])
    params: dict[str, Any] = {
        "InstanceType": pool.instance_type, "MinCount": 1, "MaxCount": 1,
        "TagSpecifications": [{"ResourceType": kind, "Tags": tags} for kind in kinds],
    }
    if image_id:
        params["ImageId"] = image_id
    if launch_template:
        params["LaunchTemplate"] = {"LaunchTemplateName": launch_template, "Version": "$Default"}
    if request.user_data:  # else a launch template's own user data is kept
        params["UserData"] = request.user_data
    if request.target.az:
        params["Placement"] = {"AvailabilityZone": request.target.az}
    if placement is not None:
        params.update(placement.params())
    if request.target.market == "spot":
        spot: dict[str, Any] = {
            "SpotInstanceType": "persistent" if request.persistent else "one-time",
            "InstanceInterruptionBehavior": "stop" if request.persistent else "terminate"}
        if pool.spot_max_price_usd is not None:
            spot["MaxPrice"] = f"{pool.spot_max_price_usd:.6f}".rstrip("0").rstrip(".")
        params["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": spot}
    digest = hashlib.sha256(json.dumps([pool.region, request.attempt, params],
                                       sort_keys=True).encode()).hexdigest()
    params["ClientToken"] = f"costopt-{digest[:48]}"
    return params


_WHEN = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:UTC|GMT)\)")


def _changed_at(reason: str | None) -> datetime | None:
    """The time in a ``StateTransitionReason`` such as ``User initiated (2027-01-04 10:00:00
    GMT)``."""
    match = _WHEN.search(reason or "")
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)


def observed_instance(raw: dict[str, Any], region: str) -> ObservedInstance | None:
    """An instance of ``DescribeInstances`` as the reconcile sees it; ``None`` without a pool
    tag (not costopt's)."""
    tags = {t["Key"]: t["Value"] for t in raw.get("Tags", [])}
    if TAG_POOL not in tags:
        return None
    market: Literal["on_demand", "spot"] = (
        "spot" if raw.get("InstanceLifecycle") == "spot" else "on_demand")
    return ObservedInstance(
        instance_id=raw["InstanceId"], pool=tags[TAG_POOL], region=region,
        state=raw["State"]["Name"], market=market,
        launched_at=raw["LaunchTime"].astimezone(timezone.utc),
        slot=_whole(tags.get(TAG_SLOT)),
        az=(raw.get("Placement") or {}).get("AvailabilityZone"),
        state_reason=(raw.get("StateReason") or {}).get("Code") or None,
        stoppable=market == "on_demand" or tags.get(TAG_SPOT_REQUEST) == "persistent",
        spot_request_id=raw.get("SpotInstanceRequestId"),
        instance_type=raw.get("InstanceType"),
        client_token=raw.get("ClientToken") or None,
        changed_at=_changed_at(raw.get("StateTransitionReason")),
        plan_id=tags.get(TAG_PLAN),
        jobs=tuple(name for name in tags.get(TAG_JOBS, "").split(",") if name),
        gang=_whole(tags.get(TAG_GANG)),
        node_rank=_whole(tags.get(TAG_NODE_RANK)),
        progress=tags.get(TAG_PROGRESS),
        owner=tags.get(TAG_OWNER),
        gang_id=tags.get(TAG_GANG_ID),
        nodes=_whole(tags.get(TAG_NODES)),
    )


def _whole(tag: str | None) -> int | None:
    """A tag holding a whole number, else None."""
    return int(tag) if tag is not None and tag.isdigit() else None


_FIXES = {
    "AuthFailure": "check the credentials of the profile in use (aws sts get-caller-identity)",
    "UnauthorizedOperation": "grant the role ec2:RunInstances, ec2:DescribeInstances, "
    "ec2:StartInstances, ec2:StopInstances, ec2:TerminateInstances, ec2:CreateTags and "
    "ec2:CancelSpotInstanceRequests (docs/orchestrator.md lists the policy)",
    "InvalidAMIID.NotFound": "pass an AMI of this region with --image-id REGION=ami-...",
    "InvalidAMIID.Malformed": "pass an AMI id such as ami-0123456789abcdef0",
    "VcpuLimitExceeded": "ask AWS for a higher vCPU quota for this instance family, or plan "
    "with the quota in the workload's cloud.quotas",
    "MaxSpotInstanceCountExceeded": "ask AWS for a higher spot vCPU quota",
}


@contextmanager
def aws_errors(what: str, default_fix: str = DEFAULT_FIX) -> Iterator[None]:
    """Turn boto3's errors into :class:`AwsError` (or :class:`CapacityError`) with a fix
    (the one AWS edge mapper, :mod:`costopt.awserrors`, with EC2's fixes; ``default_fix``
    for any other code)."""
    try:
        yield
    except aws_exceptions() as exc:
        failure = failure_of(exc)
        if failure.code in CAPACITY_ERRORS:
            raise CapacityError(failure.code, failure.message) from None
        raise aws_error(what, failure, _FIXES, default_fix) from None


class Ec2Fleet:
    """EC2 calls for one plan's fleet, a client per region from an injected boto3 session."""

    def __init__(self, session: Any, *, retry_mode: str = "standard") -> None:
        self._clients = Clients(session, retry_mode)
        self._zones: dict[str, list[str]] = {}
        self._placements: dict[str, dict[str, ZonePlacement]] = {}

    def client(self, region: str, service: str = "ec2") -> Any:
        return self._clients(service, region)

    def describe(self, plan_id: str, regions: list[str]) -> list[ObservedInstance]:
        """Every instance tagged with ``plan_id`` in ``regions``, in any state."""
        return self._describe(TAG_PLAN, plan_id, regions)

    def describe_workload(self, workload: str, regions: list[str]) -> list[ObservedInstance]:
        """Every instance of every plan of ``workload`` in ``regions``, in any state (tag
        ``costopt:workload``): the plan's fleet and what older plans of it left running."""
        return self._describe(TAG_WORKLOAD, workload, regions)

    def _describe(self, tag: str, value: str, regions: list[str]) -> list[ObservedInstance]:
        found: list[ObservedInstance] = []
        for region in regions:
            with aws_errors(f"DescribeInstances in {region}"):
                pages = self.client(region).get_paginator("describe_instances").paginate(
                    Filters=[{"Name": f"tag:{tag}", "Values": [value]}])
                for page in pages:
                    for reservation in page.get("Reservations", []):
                        for raw in reservation.get("Instances", []):
                            inst = observed_instance(raw, region)
                            if inst is not None:
                                found.append(inst)
        found = self._with_spot_request_status(found)
        return sorted(found, key=lambda o: (o.region, o.pool, o.launched_at, o.instance_id))

    def _with_spot_request_status(self, found: list[ObservedInstance]
                                  ) -> list[ObservedInstance]:
        """Spot instances that no longer run, with their request's status code: a request
        AWS closed (``instance-terminated-no-capacity`` ...) is an interruption too."""
        asked: dict[str, list[str]] = {}
        for o in found:
            if o.spot_request_id and o.state not in LIVE:
                asked.setdefault(o.region, []).append(o.spot_request_id)
        status: dict[str, str] = {}
        for region, ids in asked.items():
            with aws_errors(f"DescribeSpotInstanceRequests in {region}"):
                pages = self.client(region).get_paginator(
                    "describe_spot_instance_requests").paginate(
                    Filters=[{"Name": "spot-instance-request-id", "Values": ids}])
                for page in pages:
                    for request in page.get("SpotInstanceRequests", []):
                        status[request["SpotInstanceRequestId"]] = request["Status"]["Code"]
        return [replace(o, spot_request_status=status[o.spot_request_id])
                if o.spot_request_id in status else o for o in found]

    def zones(self, region: str) -> list[str]:
        """The region's available availability zones (not local or wavelength zones)."""
        if region not in self._zones:
            with aws_errors(f"DescribeAvailabilityZones in {region}"):
                raw = self.client(region).describe_availability_zones(
                    Filters=[{"Name": "state", "Values": ["available"]}])
            self._zones[region] = sorted(
                z["ZoneName"] for z in raw["AvailabilityZones"]
                if z.get("ZoneType", "availability-zone") == "availability-zone")
        return self._zones[region]

    def placements(self, region: str) -> dict[str, ZonePlacement]:
        """Zone ID -> where a launch in that zone goes in this account (a subnet there, else
        the zone's name), from DescribeAvailabilityZones and DescribeSubnets."""
        if region not in self._placements:
            client = self.client(region)
            with aws_errors(f"DescribeAvailabilityZones in {region}"):
                zones = client.describe_availability_zones(
                    Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]
            with aws_errors(f"DescribeSubnets in {region}"):
                subnets = [s for page in client.get_paginator("describe_subnets").paginate()
                           for s in page["Subnets"]]
            self._placements[region] = zone_placements(zones, subnets)
        return self._placements[region]

    def default_image(self, region: str) -> str:
        """AWS's Deep Learning Base GPU AMI for ``region``, from its public SSM parameter."""
        fix = (f"no AMI was given for {region}, and AWS's public one could not be read; pass "
               f"--image-id {region}=ami-... (an AMI of that region) or --launch-template "
               "NAME; nothing further was changed")
        with aws_errors(f"reading {DEFAULT_IMAGE_PARAMETER} in {region}", default_fix=fix):
            raw = self.client(region, "ssm").get_parameter(Name=DEFAULT_IMAGE_PARAMETER)
        return str(raw["Parameter"]["Value"])

    def launch(self, params: dict[str, Any], region: str) -> tuple[str, str | None]:
        """Run one instance; its id and zone. Raises :class:`CapacityError` when AWS has no
        capacity for it."""
        with aws_errors(f"RunInstances of {params['InstanceType']} in {region}"):
            raw = self.client(region).run_instances(**params)
        inst = raw["Instances"][0]
        return inst["InstanceId"], (inst.get("Placement") or {}).get("AvailabilityZone")

    def claim(self, region: str, instance_id: str, plan_id: str, slot: int | None,
              instance_type: str, gang: int | None = None) -> None:
        """Re-tag an instance of an older plan as this plan's (``costopt:plan``, its slot,
        ``Name``, and the number ``gang`` of the gang it is a rank of in this plan): a
        takeover. Its ``costopt:gang-id`` stays: its gang's ranks still find each other."""
        tags = {TAG_PLAN: plan_id, TAG_SLOT: "" if slot is None else str(slot),
                "Name": f"{plan_id}/{instance_type}/{'' if slot is None else slot}"}
        if gang is not None:
            tags[TAG_GANG] = str(gang)
        with aws_errors(f"CreateTags on {instance_id}"):
            self.client(region).create_tags(
                Resources=[instance_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def start(self, region: str, instance_id: str) -> None:
        with aws_errors(f"StartInstances of {instance_id}"):
            self.client(region).start_instances(InstanceIds=[instance_id])

    def stop(self, region: str, instance_id: str) -> None:
        with aws_errors(f"StopInstances of {instance_id}"):
            self.client(region).stop_instances(InstanceIds=[instance_id])

    def terminate(self, region: str, instance_id: str, spot_request_id: str | None) -> None:
        """Terminate; a persistent spot request is cancelled first, or AWS would launch a
        new instance for it."""
        if spot_request_id:
            with aws_errors(f"CancelSpotInstanceRequests of {spot_request_id}"):
                self.client(region).cancel_spot_instance_requests(
                    SpotInstanceRequestIds=[spot_request_id])
        with aws_errors(f"TerminateInstances of {instance_id}"):
            self.client(region).terminate_instances(InstanceIds=[instance_id])
