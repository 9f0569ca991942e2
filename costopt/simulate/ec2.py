"""An in-process EC2 that follows spot-capacity traces, behind the apply shell's
:class:`~costopt.orchestrate.fleet.Fleet` interface.

- A spot launch (or the start of a stopped spot instance) is refused with
  ``InsufficientInstanceCapacity`` while the pool's instances running on spot already number
  what its trace holds now (0 = none at all). A pool without a trace has spot always there.
- When a trace falls below the spot instances running in its pool, the newest of them are
  interrupted (state reason ``Server.SpotInstanceTermination``): one from a persistent
  request is stopped, as AWS does with ``InstanceInterruptionBehavior: stop``; a one-time
  one is terminated.
- On-demand is always there. ``ClientToken`` is idempotent, as on AWS.
- The region has no further zones to fall back to (:meth:`zones` is empty, and
  :meth:`placements` knows only the plan's own zones, ``zone_ids``): each traced pool stands
  for the one zone its trace was taken in.
- A zoned spot pool's launch that the fallback chain places in another zone
  (``aws:R:T:spot:use1-az1`` launched in use1-az6) lives by that zone's pool
  (``aws:R:T:spot:use1-az6``) when it is traced: refused at its count, interrupted when it
  falls. When it is not traced, by the home pool's trace, as if it were in the home zone
  (a simulation that does not re-plan traces only the plan's own pools).
- A terminated instance is shown by one ``describe`` after it ends, then forgotten (AWS
  keeps them about an hour), so that a month of simulation does not drag its history along.
- ``served`` keeps, for every instance, which plan and slot its tags named from when (its
  launch, each claim by a newer plan): what the score credits each run to.

The clock is the simulation's: :meth:`advance` moves it, :meth:`set_capacity` applies a
trace's count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from costopt.core.pool_ids import parse_pool_id
from costopt.orchestrate.ec2 import (
    TAG_PLAN,
    TAG_POOL,
    TAG_SLOT,
    TAG_SPOT_REQUEST,
    TAG_WORKLOAD,
    CapacityError,
    ZonePlacement,
)
from costopt.orchestrate.reconcile import LIVE, ObservedInstance

INTERRUPTED = "Server.SpotInstanceTermination"


@dataclass(frozen=True)
class Served:
    """From ``since`` on, an instance carried slot ``slot`` of plan ``plan_id``."""

    since: datetime
    plan_id: str
    slot: int | None


@dataclass
class _Instance:
    instance_id: str
    plan_id: str
    pool: str
    region: str
    instance_type: str
    slot: int | None
    market: Literal["on_demand", "spot"]
    persistent: bool
    client_token: str | None
    launched_at: datetime
    az: str | None
    workload: str = ""
    capacity_pool: str = ""  # the traced pool whose capacity it lives by (see the module)
    state: str = "running"
    state_reason: str | None = None
    changed_at: datetime | None = None
    shown_gone: bool = False

    def observed(self) -> ObservedInstance:
        return ObservedInstance(
            instance_id=self.instance_id, pool=self.pool, region=self.region, state=self.state,
            market=self.market, launched_at=self.launched_at, slot=self.slot, az=self.az,
            state_reason=self.state_reason, stoppable=self.market == "on_demand"
            or self.persistent, spot_request_id=f"sir-{self.instance_id[2:]}"
            if self.market == "spot" else None, instance_type=self.instance_type,
            client_token=self.client_token, changed_at=self.changed_at, plan_id=self.plan_id)


class SimulatedEc2:
    """EC2 for one simulation. ``capacity`` holds each traced pool's count now; pools not in
    it have spot always there."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.capacity: dict[str, int] = {}
        self._instances: dict[str, _Instance] = {}
        self._tokens: dict[str, str] = {}
        self._next = 0
        self.launch_calls = 0
        self.zone_ids: set[str] = set()  # the zones of the plan's spot pools
        self.served: dict[str, list[Served]] = {}  # instance -> its plan and slot, from when

    def advance(self, now: datetime) -> None:
        self.now = now

    def _spot_running(self, pool: str) -> list[_Instance]:
        return [i for i in self._instances.values()
                if i.capacity_pool == pool and i.market == "spot" and i.state in LIVE]

    def set_capacity(self, pool: str, count: int) -> int:
        """The pool's trace holds ``count`` from now on; interrupts the newest spot
        instances beyond it. Returns how many were interrupted."""
        self.capacity[pool] = count
        running = sorted(self._spot_running(pool), key=lambda i: (i.launched_at, i.instance_id))
        lost = running[count:] if len(running) > count else []
        for inst in lost:
            inst.state = "stopped" if inst.persistent else "terminated"
            inst.state_reason, inst.changed_at = INTERRUPTED, self.now
        return len(lost)

    def _check_capacity(self, pool: str, instance_type: str) -> None:
        count = self.capacity.get(pool)
        if count is not None and len(self._spot_running(pool)) >= count:
            raise CapacityError("InsufficientInstanceCapacity",
                                f"there is no spot capacity for {instance_type} in {pool} now "
                                f"(the trace holds {count})")

    def _capacity_pool(self, pool: str, az: str | None) -> str:
        """The pool whose trace a spot instance of ``pool`` placed in zone ``az`` (a zone ID
        here: :meth:`placements`) lives by: the zone's own pool when traced, else ``pool``."""
        home = parse_pool_id(pool)
        if home.zone_id is None or az is None or az == home.zone_id:
            return pool
        there = f"{home.regional.text}:{az}"
        return there if there in self.capacity else pool

    # -- the Fleet interface -------------------------------------------------------------
    def describe(self, plan_id: str, regions: list[str]) -> list[ObservedInstance]:
        return self._describe(lambda inst: inst.plan_id == plan_id, regions)

    def describe_workload(self, workload: str, regions: list[str]) -> list[ObservedInstance]:
        return self._describe(lambda inst: inst.workload == workload, regions)

    def _describe(self, wanted: Callable[[_Instance], bool],
                  regions: list[str]) -> list[ObservedInstance]:
        found = []
        for inst in list(self._instances.values()):
            if not wanted(inst) or inst.region not in regions:
                continue
            if inst.state == "terminated":
                if inst.shown_gone:
                    del self._instances[inst.instance_id]
                    continue
                inst.shown_gone = True
            found.append(inst.observed())
        return sorted(found, key=lambda o: (o.region, o.pool, o.launched_at, o.instance_id))

    def zones(self, region: str) -> list[str]:
        return []

    def placements(self, region: str) -> dict[str, ZonePlacement]:
        return {z: ZonePlacement(z, z) for z in sorted(self.zone_ids)}

    def default_image(self, region: str) -> str:
        return "ami-simulated"

    def launch(self, params: dict[str, Any], region: str) -> tuple[str, str | None]:
        token = params.get("ClientToken")
        if token in self._tokens:
            known = self._instances.get(self._tokens[token])
            if known is not None:
                return known.instance_id, known.az
        tags = {t["Key"]: t["Value"] for spec in params.get("TagSpecifications", [])
                if spec["ResourceType"] == "instance" for t in spec["Tags"]}
        pool = tags[TAG_POOL]
        spot = (params.get("InstanceMarketOptions") or {}).get("MarketType") == "spot"
        az = (params.get("Placement") or {}).get("AvailabilityZone")
        lives_by = self._capacity_pool(pool, az)
        self.launch_calls += 1
        if spot:
            self._check_capacity(lives_by, params["InstanceType"])
        self._next += 1
        slot = tags.get(TAG_SLOT, "")
        inst = _Instance(
            instance_id=f"i-sim{self._next:013d}", plan_id=tags[TAG_PLAN], pool=pool,
            region=region, instance_type=params["InstanceType"],
            slot=int(slot) if slot.isdigit() else None, market="spot" if spot else "on_demand",
            persistent=tags.get(TAG_SPOT_REQUEST) == "persistent", client_token=token,
            launched_at=self.now, az=az, workload=tags.get(TAG_WORKLOAD, ""),
            capacity_pool=lives_by)
        self._instances[inst.instance_id] = inst
        self.served[inst.instance_id] = [Served(self.now, inst.plan_id, inst.slot)]
        if token:
            self._tokens[token] = inst.instance_id
        return inst.instance_id, inst.az

    def claim(self, region: str, instance_id: str, plan_id: str, slot: int | None,
              instance_type: str, gang: int | None = None) -> None:
        inst = self._instances[instance_id]
        inst.plan_id, inst.slot = plan_id, slot
        self.served[instance_id].append(Served(self.now, plan_id, slot))

    def start(self, region: str, instance_id: str) -> None:
        inst = self._instances[instance_id]
        if inst.market == "spot":
            self._check_capacity(inst.capacity_pool, inst.instance_type)
        inst.state, inst.state_reason, inst.changed_at = "running", None, self.now

    def stop(self, region: str, instance_id: str) -> None:
        inst = self._instances[instance_id]
        inst.state, inst.state_reason, inst.changed_at = "stopped", "Client.UserInitiated", \
            self.now

    def terminate(self, region: str, instance_id: str, spot_request_id: str | None) -> None:
        inst = self._instances[instance_id]
        inst.state, inst.changed_at = "terminated", self.now
