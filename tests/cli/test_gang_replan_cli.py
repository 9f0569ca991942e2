"""A re-plan keeps a running multi-node gang whole: end to end, the installed ``costopt`` in a
child process against moto in server mode on 127.0.0.1.

The issue's case: with an identical fleet, the new plan terminated the older plan's 2-node
gang and launched it again, and left one old rank stopped (9 instances where 7 were wanted).
"""

from __future__ import annotations

from pathlib import Path

import boto3
from cli.fleet_cli import apply, plan, states, tags

from costopt.orchestrate.ledger import Ledger

WORKLOAD = """
name: gang-replan
horizon: {start: 2027-01-04, days: 1, period_hours: 12}
cloud:
  regions: [us-east-1]
  instance_types: [p3.2xlarge]
  markets: [on_demand]
  setup_minutes: 0
  min_instance_minutes: 0
  price_overrides:
    - {instance_type: p3.2xlarge, region: us-east-1, market: on_demand, usd_per_hour: 3.0}
jobs:
  - {name: pair, gpus: 1, nodes: 2, gpu_hours: 48, run: "python train.py"}
  - {name: solo, gpus: 1, gpu_hours: 24, run: "python eval.py"}
"""
START = "2027-01-04T00:00:00Z"


def test_a_replan_claims_a_running_gang_whole_and_starts_its_stopped_rank(
        tmp_path: Path, aws: str) -> None:
    """Each job needs a p3.2xlarge (1 GPU, 3.00 USD/h) all day: 48 GPU-h on 2 nodes and 24
    GPU-h on one in 24 h. The plan runs the gang on slots 0 and 1 (ranks 0 and 1) and solo on
    slot 2 from 00:00: 3 launches. At 01:00 rank 1 has been stopped behind costopt's back, and
    the plan is made again from its progress (``plan --resume``: another plan id). Applying it
    claims the three instances, starts the stopped rank: the same 3 ids, all running, none
    launched or terminated."""
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    state = tmp_path / "state"
    first = plan(tmp_path / "w.yaml", tmp_path / "first.json")
    result = apply(tmp_path / "first.json", state, START, aws, "--yes")
    assert result.returncode == 0, result.stderr + result.stdout
    launched = states("us-east-1")
    assert sorted(launched.values()) == ["running"] * 3
    ranks = {tags(i)["costopt:node-rank"]: i for page in boto3.client(
        "ec2", region_name="us-east-1").get_paginator("describe_instances").paginate()
        for r in page["Reservations"] for i in r["Instances"] if "costopt:gang" in tags(i)}
    assert sorted(ranks) == ["0", "1"]
    gang_id = tags(ranks["0"])["costopt:gang-id"]
    assert tags(ranks["1"])["costopt:gang-id"] == gang_id and gang_id.startswith(f"{first}.g")
    boto3.client("ec2", region_name="us-east-1").stop_instances(
        InstanceIds=[ranks["1"]["InstanceId"]])

    second = plan(tmp_path / "w.yaml", tmp_path / "second.json", "--resume",
                  str(tmp_path / "first.json"), "--at", "2027-01-04T01:00:00Z",
                  "--state-dir", str(state))
    assert second != first
    result = apply(tmp_path / "second.json", state, "2027-01-04T01:00:00Z", aws, "--yes")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Changes: 0 to launch, 1 to start, 0 to stop, 0 to terminate, 3 to claim from an " \
        "older plan." in result.stdout
    now = {i["InstanceId"]: i for page in boto3.client(
        "ec2", region_name="us-east-1").get_paginator("describe_instances").paginate()
        for r in page["Reservations"] for i in r["Instances"]}
    assert {k: i["State"]["Name"] for k, i in now.items()} == {k: "running" for k in launched}
    assert {tags(i)["costopt:plan"] for i in now.values()} == {second}
    # the ranks are still one gang: the id their user data finds rank 0 by is kept
    assert sorted((tags(i)["costopt:node-rank"], tags(i)["costopt:gang-id"])
                  for i in now.values() if "costopt:gang" in tags(i)) == [
        ("0", gang_id), ("1", gang_id)]
    with Ledger.open(state) as ledger:
        assert {i.plan_id for i in ledger.instances()} == {second}
        assert sorted(a.kind for a in ledger.actions(second)) == [
            "claim", "claim", "claim", "start"]

    again = apply(tmp_path / "second.json", state, "2027-01-04T02:00:00Z", aws)
    assert "No changes: the fleet matches the plan." in again.stdout, again.stdout
