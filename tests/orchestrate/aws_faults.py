"""Faults injected into boto3 through botocore's event hooks, for the orchestrator's tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError


class Crash(Exception):
    """The process dies between a call and the ledger's result (a test's stand-in)."""


@dataclass
class Faults:
    """What a test wants to go wrong, and what went through. ``session()`` makes a boto3
    session with the hooks installed; pass it as ``Env(session_factory=faults.session)``."""

    capacity: Callable[[dict[str, Any]], str | None] = lambda params: None
    crash_after_launches: int | None = None
    crash_before_launch: bool = False
    crash_after_call: str | None = None  # an EC2 operation: the process dies once it returns
    throttle_every_other: bool = False
    calls: list[str] = field(default_factory=list)
    sends: int = 0
    throttled: int = 0
    launches: int = 0

    def session(self) -> boto3.Session:
        session = boto3.Session(region_name="us-east-1")
        events = session.events
        events.register("before-parameter-build.ec2.*", self._record)
        events.register("before-parameter-build.ec2.RunInstances", self._capacity)
        events.register("after-call.ec2.RunInstances", self._crash)
        events.register_first("before-send.ec2.*", self._throttle)
        if self.crash_after_call:
            events.register(f"after-call.ec2.{self.crash_after_call}", self._crash_after)
        return session

    def _crash_after(self, **_: Any) -> None:
        raise Crash(f"the process died after {self.crash_after_call} returned")

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def _capacity(self, params: dict[str, Any], **_: Any) -> None:
        if self.crash_before_launch:
            raise Crash("the process died before RunInstances was sent")
        code = self.capacity(params)
        if code:
            raise ClientError({"Error": {"Code": code, "Message": "injected by the test"}},
                              "RunInstances")

    def _crash(self, **_: Any) -> None:
        self.launches += 1
        if self.crash_after_launches is not None and self.launches > self.crash_after_launches:
            raise Crash("the process died after RunInstances returned")

    def _throttle(self, request: Any, **_: Any) -> AWSResponse | None:
        if not self.throttle_every_other:
            return None
        self.sends += 1
        if self.sends % 2:
            return None
        self.throttled += 1
        body = (b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request "
                b"limit exceeded.</Message></Error></Errors><RequestID>t</RequestID></Response>")
        return AWSResponse(request.url, 503, {}, _Raw(body))

    def changing_calls(self) -> list[str]:
        return [c for c in self.calls if not c.startswith("Describe")]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def spot_without_zone(params: dict[str, Any]) -> str | None:
    """No spot capacity where AWS would place the instance; every zone asked for has some."""
    spot = "InstanceMarketOptions" in params
    return "InsufficientInstanceCapacity" if spot and "Placement" not in params else None


def no_spot_anywhere(params: dict[str, Any]) -> str | None:
    return "InsufficientInstanceCapacity" if "InstanceMarketOptions" in params else None
