"""What the end-to-end CLI tests of the orchestrator share: ``costopt`` against moto's server
(in this process, or the console script in a child process with ``process=True``:
:mod:`in_process` says when which), and the fleet as moto's EC2 shows it."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from in_process import invoke_costopt
from orchestrate.fleet_plans import IMAGE  # noqa: F401 (the end-to-end tests' image)

from costopt.orchestrate.watch import StopFlag

COSTOPT = str(Path(sys.executable).with_name("costopt"))  # the installed console script


class StopFlagThatNeverSleeps(StopFlag):
    """A watch's stop flag (``Env(stop_flag=...)``) whose waits return at once: the watch
    reads the test's clock, so a real second between two of its looks is only time lost
    (``--interval`` is at least 1 s)."""

    def wait(self, seconds: float) -> bool:
        return self.raised


def ec2(region: str) -> Any:
    """EC2 in ``region`` of the moto server at ``AWS_ENDPOINT_URL``: one client per region
    and server in a test process (making a client builds its ~600 methods afresh, ~0.1
    CPU-s, and the tests look at the fleet many times)."""
    return _ec2(region, os.environ["AWS_ENDPOINT_URL"])


@functools.cache
def _ec2(region: str, endpoint_url: str) -> Any:
    return boto3.client("ec2", region_name=region, endpoint_url=endpoint_url)


def fleet(region: str) -> list[dict]:
    return [i for page in ec2(region).get_paginator("describe_instances").paginate()
            for r in page["Reservations"] for i in r["Instances"]]


def tags(instance: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def states(region: str) -> dict[str, str]:
    return {i["InstanceId"]: i["State"]["Name"] for i in fleet(region)}


def run_cli(*args: str, env_url: str, process: bool = False
            ) -> subprocess.CompletedProcess[str]:
    """``costopt ARGS`` with AWS at ``env_url``, 200 columns wide."""
    changes = {"AWS_ENDPOINT_URL": env_url, "COLUMNS": "200"}
    if not process:
        return invoke_costopt(args, env=changes)
    return subprocess.run([COSTOPT, *args], env={**os.environ, **changes},
                          capture_output=True, text=True, timeout=120)


def plan(workload: Path, out: Path, *extra: str) -> str:
    """``costopt plan WORKLOAD -o OUT EXTRA...``: the plan's id."""
    result = run_cli("plan", str(workload), "-o", str(out), *extra,
                     env_url="http://127.0.0.1:9")
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())["plan_id"]


def apply(plan_file: Path, state: Path, when: str, url: str, *extra: str
          ) -> subprocess.CompletedProcess[str]:
    """``costopt apply PLAN --at WHEN`` with the ledger in ``state`` and moto's image."""
    return run_cli("apply", str(plan_file), "--at", when, "--state-dir", str(state),
                   "--image-id", IMAGE, *extra, env_url=url)


def running(region: str = "us-east-1") -> list[dict]:
    return [i for i in fleet(region) if i["State"]["Name"] in ("pending", "running")]
