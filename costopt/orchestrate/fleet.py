"""The fleet adapter that ``apply`` drives: what the orchestrator needs from EC2.

:class:`~costopt.orchestrate.ec2.Ec2Fleet` satisfies it against AWS;
:class:`~costopt.simulate.ec2.SimulatedEc2` against spot-capacity traces, so that
``costopt simulate`` runs the same reconcile, fallback, guard and ledger code as ``apply``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from costopt.orchestrate.reconcile import ObservedInstance

if TYPE_CHECKING:
    from costopt.orchestrate.ec2 import ZonePlacement


@runtime_checkable
class Fleet(Protocol):
    """EC2 as the apply shell sees it. ``launch`` raises
    :class:`~costopt.orchestrate.ec2.CapacityError` when there is no capacity for it, other
    failures :class:`~costopt.errors.AwsError`."""

    def describe(self, plan_id: str, regions: list[str]) -> list[ObservedInstance]:
        """Every instance tagged with ``plan_id`` in ``regions``, in any state."""
        ...

    def describe_workload(self, workload: str, regions: list[str]) -> list[ObservedInstance]:
        """Every instance of any plan of ``workload`` in ``regions``, in any state."""
        ...

    def claim(self, region: str, instance_id: str, plan_id: str, slot: int | None,
              instance_type: str, gang: int | None = None) -> None:
        """Re-tag an older plan's instance as ``plan_id``'s, serving ``slot`` (as a rank of
        ``gang``, a multi-node gang's number in ``plan_id``)."""
        ...

    def zones(self, region: str) -> list[str]:
        """The region's availability zones a spot launch may be placed in, by name."""
        ...

    def placements(self, region: str) -> dict[str, ZonePlacement]:
        """Zone ID -> where a launch in that zone goes (a subnet, else the zone's name)."""
        ...

    def default_image(self, region: str) -> str:
        """The AMI to launch when the user gave none."""
        ...

    def launch(self, params: dict[str, Any], region: str) -> tuple[str, str | None]:
        """``RunInstances`` with ``params``: the instance id and its zone."""
        ...

    def start(self, region: str, instance_id: str) -> None: ...

    def stop(self, region: str, instance_id: str) -> None: ...

    def terminate(self, region: str, instance_id: str, spot_request_id: str | None) -> None: ...
