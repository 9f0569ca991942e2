"""The one way costopt makes AWS clients, with one retry policy (the EC2 orchestrator,
``pricing refresh`` and Cost Explorer alike); the one error mapper is :mod:`costopt.awserrors`.

Retries are botocore's own (``Config(retries=...)``): ``standard`` mode retries throttling
(the codes in :data:`THROTTLING_CODES`, among the ones botocore lists) and transient errors
(HTTP 500-504, time-outs, dropped connections) with jittered exponential backoff, up to
:data:`MAX_ATTEMPTS` attempts in all; ``adaptive`` mode (``--retry-mode adaptive``) also
slows the client down on its own after throttling (a token bucket), for fleets large enough
to hit the account's request rate. Any other error surfaces at once.

boto3 is imported only when a client is made: the commands that never call AWS do not pay
for it.
"""

from __future__ import annotations

from typing import Any

RETRY_MODES = ("standard", "adaptive")
"""botocore's retry modes costopt offers (``legacy`` retries fewer errors, less evenly)."""
MAX_ATTEMPTS = 10
"""Attempts per call, the first included: with botocore's backoff (up to 20 s each, jittered)
a throttled call is given up after about a minute."""
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
    "LimitExceededException", "RequestThrottled", "EC2ThrottledException",
})
"""The codes with which EC2, SSM, the Price List and Cost Explorer say "too many requests":
retried by botocore's standard and adaptive modes (``tests/test_aws.py`` throttles a call
with each); one still failing after :data:`MAX_ATTEMPTS` gets the fix :data:`THROTTLED_FIX`."""
THROTTLED_FIX = (f"AWS still throttled the call after {MAX_ATTEMPTS} attempts with backoff; "
                 "run the command again later, or pass --retry-mode adaptive where it is "
                 "offered (apply, watch) to slow down on the client's side")


def retry_config(retry_mode: str = "standard") -> Any:
    """botocore's ``Config`` with costopt's retry policy in ``retry_mode``."""
    from botocore.config import Config

    if retry_mode not in RETRY_MODES:
        raise ValueError(f"retry mode {retry_mode!r}; valid: {', '.join(RETRY_MODES)}")
    return Config(retries={"mode": retry_mode, "total_max_attempts": MAX_ATTEMPTS})


class Clients:
    """AWS clients of one boto3 session, one per (service, region), made on first use with
    :func:`retry_config` of ``retry_mode``. Called as ``clients("ec2", "us-east-1")``."""

    def __init__(self, session: Any, retry_mode: str = "standard") -> None:
        self._session = session
        self._config = retry_config(retry_mode)
        self._made: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._made:
            self._made[key] = self._session.client(service, region_name=region,
                                                   config=self._config)
        return self._made[key]
