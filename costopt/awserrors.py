"""How a failed AWS call reads: the one error mapper of every AWS edge (EC2, the Price List
and spot prices of ``pricing refresh``, Cost Explorer), whose clients :mod:`costopt.aws` makes.

botocore raises three kinds of error, and a call must expect all of them:
``ClientError`` (AWS answered with an error code), ``BotoCoreError`` (no credentials, no
connection, ...) and ``ResponseParserError``, which is neither: the endpoint answered with
something that is no AWS response, such as an HTML error page (a proxy, a wrong
``AWS_ENDPOINT_URL``, moto's "500 Internal Server Error" for a region it does not know).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from costopt.aws import THROTTLED_FIX, THROTTLING_CODES
from costopt.errors import AwsError

NO_CREDENTIALS = "NoCredentials"
NOT_AWS = "NotAnAwsResponse"

GENERIC_FIXES: Mapping[str, str] = {
    NO_CREDENTIALS: "configure a profile (aws configure) and pass --profile, or set "
    "AWS_PROFILE",
    NOT_AWS: "check the region name and AWS_ENDPOINT_URL (a proxy or a wrong endpoint "
    "answers with a web page); a later retry may succeed",
    **dict.fromkeys(THROTTLING_CODES, THROTTLED_FIX),
}
DEFAULT_FIX = "see the message; nothing further was changed"


@dataclass(frozen=True)
class AwsFailure:
    """What a failed call says: AWS's error code (or :data:`NO_CREDENTIALS`,
    :data:`NOT_AWS`, botocore's error class) and the first line of its message."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def describe(self, fixes: Mapping[str, str] | None = None,
                 default_fix: str = DEFAULT_FIX) -> str:
        """``code: message. To fix: ...`` with the fix for the code."""
        fix = {**GENERIC_FIXES, **(fixes or {})}.get(self.code, default_fix)
        return f"{self}. To fix: {fix}"


def aws_exceptions() -> tuple[type[Exception], ...]:
    """Every exception a boto3 call may raise for a failure of the call itself."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    return (ClientError, BotoCoreError, ResponseParserError)


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:300] if lines else ""


def failure_of(exc: Exception) -> AwsFailure:
    """The code and message of an exception of :func:`aws_exceptions`."""
    from botocore.exceptions import ClientError, NoCredentialsError
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return AwsFailure(str(err.get("Code", "Unknown")), _first_line(err.get("Message", "")))
    if isinstance(exc, NoCredentialsError):
        return AwsFailure(NO_CREDENTIALS, "no AWS credentials found")
    if isinstance(exc, ResponseParserError):
        title = re.search(r"<title>(.*?)</title>", str(exc), re.IGNORECASE | re.DOTALL)
        page = f" ({title[1].strip()[:100]})" if title else ""
        return AwsFailure(NOT_AWS, f"the endpoint answered with something that is no AWS "
                          f"response{page}")
    return AwsFailure(type(exc).__name__, _first_line(exc))


def aws_error(what: str, failure: AwsFailure, fixes: Mapping[str, str] | None = None,
              default_fix: str = DEFAULT_FIX) -> AwsError:
    """``WHAT failed: code: message. To fix: ...``"""
    return AwsError(f"{what} failed: {failure.describe(fixes, default_fix)}")


@contextmanager
def aws_errors(what: str, fixes: Mapping[str, str] | None = None,
               default_fix: str = DEFAULT_FIX) -> Iterator[None]:
    """Turn every failure of the AWS calls inside into an :class:`AwsError` with a fix."""
    try:
        yield
    except aws_exceptions() as exc:
        raise aws_error(what, failure_of(exc), fixes, default_fix) from None
