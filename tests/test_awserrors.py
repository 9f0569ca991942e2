"""The one AWS edge error mapper: every kind of botocore failure reads the same way."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.parsers import ResponseParserError

from costopt.awserrors import aws_errors, failure_of
from costopt.errors import AwsError

HTML_500 = ("Unable to parse response (syntax error: line 1, column 0), invalid XML received. "
            "Further retries may succeed:\nb'<!doctype html>\\n<html lang=en>\\n<title>500 "
            "Internal Server Error</title>\\n<h1>Internal Server Error</h1>'")


def test_each_kind_of_failure_has_a_code_and_one_line() -> None:
    client = ClientError({"Error": {"Code": "AccessDenied", "Message": "no\nmore"}}, "GetProducts")
    assert str(failure_of(client)) == "AccessDenied: no"
    assert str(failure_of(NoCredentialsError())) == "NoCredentials: no AWS credentials found"
    assert str(failure_of(ResponseParserError(HTML_500))) == (
        "NotAnAwsResponse: the endpoint answered with something that is no AWS response "
        "(500 Internal Server Error)")
    down = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    assert str(failure_of(down)).startswith("EndpointConnectionError: Could not connect")


def test_the_context_turns_a_parser_error_into_an_aws_error_with_a_fix() -> None:
    with pytest.raises(AwsError) as info, aws_errors("DescribeInstanceTypes in nowhere-1"):
        raise ResponseParserError(HTML_500)
    assert str(info.value).startswith("DescribeInstanceTypes in nowhere-1 failed: "
                                      "NotAnAwsResponse: ")
    assert "To fix: check the region name and AWS_ENDPOINT_URL" in str(info.value)
    with pytest.raises(AwsError) as denied, aws_errors("GetProducts", {"AccessDenied": "ask"}):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetProducts")
    assert str(denied.value) == "GetProducts failed: AccessDenied: no. To fix: ask"
