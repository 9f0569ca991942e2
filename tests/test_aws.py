"""The one AWS edge: every client costopt makes has one retry policy (``costopt.aws``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from costopt.aws import MAX_ATTEMPTS, RETRY_MODES, THROTTLED_FIX, THROTTLING_CODES, Clients
from costopt.awserrors import aws_errors
from costopt.errors import AwsError


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class Throttler:
    """Answers the first ``times`` EC2 requests with ``code`` (HTTP 400, as EC2 does); later
    ones go through to moto."""

    def __init__(self, code: str, times: int) -> None:
        self.code, self.times, self.sent = code, times, 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.sent += 1
        if self.sent > self.times:
            return None
        body = (f"<Response><Errors><Error><Code>{self.code}</Code><Message>Rate exceeded"
                "</Message></Error></Errors><RequestID>t</RequestID></Response>").encode()
        return AWSResponse(request.url, 400, {}, _Raw(body))

    def session(self) -> boto3.Session:
        session = boto3.Session(region_name="us-east-1")
        session.events.register_first("before-send.ec2.*", self)
        return session


@pytest.fixture(scope="module", autouse=True)
def moto() -> Iterator[None]:
    """One in-process moto for the module (starting one takes seconds)."""
    with mock_aws():
        yield


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's backoff, recorded instead of waited."""
    pauses: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", pauses.append)
    return pauses


@pytest.mark.parametrize(("code", "mode"), [
    *((code, "standard") for code in sorted(THROTTLING_CODES)),
    ("RequestLimitExceeded", "adaptive"),  # its token bucket waits seconds: once is enough
])
def test_every_listed_throttling_code_is_retried_with_backoff(code: str, mode: str,
                                                              slept: list[float]) -> None:
    """Throttled twice, the call's third attempt reaches moto and succeeds; each retry
    backed off first (two pauses)."""
    throttler = Throttler(code, times=2)
    zones = Clients(throttler.session(), mode)("ec2", "us-east-1") \
        .describe_availability_zones()["AvailabilityZones"]
    assert zones and throttler.sent == 3
    assert len(slept) == 2


def test_a_call_throttled_on_every_attempt_gives_up_with_the_fix(slept: list[float]) -> None:
    throttler = Throttler("RequestLimitExceeded", times=10**6)
    client = Clients(throttler.session())("ec2", "us-east-1")
    with pytest.raises(AwsError) as failed, aws_errors("DescribeAvailabilityZones in us-east-1"):
        client.describe_availability_zones()
    assert throttler.sent == MAX_ATTEMPTS  # the first attempt and 9 retries
    assert len(slept) == MAX_ATTEMPTS - 1
    assert str(failed.value) == ("DescribeAvailabilityZones in us-east-1 failed: "
                                 "RequestLimitExceeded: Rate exceeded. To fix: "
                                 f"{THROTTLED_FIX}")


def test_another_error_is_not_retried(slept: list[float]) -> None:
    throttler = Throttler("UnauthorizedOperation", times=1)
    client = Clients(throttler.session())("ec2", "us-east-1")
    with pytest.raises(AwsError), aws_errors("DescribeAvailabilityZones"):
        client.describe_availability_zones()
    assert throttler.sent == 1 and slept == []


@pytest.mark.parametrize("mode", RETRY_MODES)
def test_clients_are_made_once_per_service_and_region_in_the_mode_asked(mode: str) -> None:
    clients = Clients(boto3.Session(region_name="us-east-1"), mode)
    ec2 = clients("ec2", "us-east-1")
    assert clients("ec2", "us-east-1") is ec2
    assert clients("ec2", "us-west-2") is not ec2
    assert clients("ce", "us-east-1").meta.service_model.service_name == "ce"
    assert ec2.meta.config.retries == {"mode": mode, "total_max_attempts": MAX_ATTEMPTS}


def test_an_unknown_retry_mode_is_refused() -> None:
    with pytest.raises(ValueError) as refused:
        Clients(boto3.Session(region_name="us-east-1"), "legacy")
    assert str(refused.value) == "retry mode 'legacy'; valid: standard, adaptive"
