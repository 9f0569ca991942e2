"""What the end-to-end CLI tests of the orchestrator share: the console script in a child
process, and the fleet as moto's EC2 shows it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3

IMAGE = "ami-0123456789abcdef0"
COSTOPT = str(Path(sys.executable).with_name("costopt"))  # the installed console script


def fleet(region: str) -> list[dict]:
    ec2 = boto3.client("ec2", region_name=region)
    return [i for page in ec2.get_paginator("describe_instances").paginate()
            for r in page["Reservations"] for i in r["Instances"]]


def tags(instance: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def states(region: str) -> dict[str, str]:
    return {i["InstanceId"]: i["State"]["Name"] for i in fleet(region)}


def run_cli(*args: str, env_url: str) -> subprocess.CompletedProcess[str]:
    """The installed ``costopt`` console script in a child process."""
    env = {**os.environ, "AWS_ENDPOINT_URL": env_url, "COLUMNS": "200"}
    return subprocess.run([COSTOPT, *args], env=env,
                          capture_output=True, text=True, timeout=120)
