"""What a launched instance runs: the user data script, run for real by bash, and as AWS
(moto) holds it after ``apply``."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from builders import catalog, offer, workload
from fleet_plans import IMAGE
from moto import mock_aws

from costopt.errors import PlanFileError
from costopt.orchestrate.apply import ApplyOptions, apply_plan
from costopt.orchestrate.ec2 import Ec2Fleet, LaunchRequest, LaunchSettings, run_instances_params
from costopt.orchestrate.fallback import LaunchTarget
from costopt.orchestrate.ledger import Ledger
from costopt.orchestrate.policy import DeadlineAware
from costopt.orchestrate.progress import JobProgress
from costopt.orchestrate.userdata import checked_user_data, jobs_tag, user_data
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.planfile import PlanDocument

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
P4D = "aws:us-east-1:p4d.24xlarge:on_demand"
P3 = "aws:us-east-1:p3.16xlarge:on_demand"
# A command with every kind of quote and a variable that must reach bash as written.
RUN = ("printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$COSTOPT_JOB\" \"$COSTOPT_SLOT\" \"$COSTOPT_NODE_RANK\" "
       "\"$COSTOPT_NODES\" \"$COSTOPT_GPUS\" \"$COSTOPT_GANGS\" \"it's \\\"quoted\\\" $((40+2))\";"
       " cat \"$COSTOPT_LOG_DIR/setup-ran\"; echo \"master=${MASTER_ADDR:-none}\"")
SETUP = "echo yes > \"$COSTOPT_LOG_DIR/setup-ran\""


def planned(**big: object) -> PlanDocument:
    """Two jobs with commands over two days: ``big``, a 2-node gang of 8 A100s per node (960
    reference GPU-hours at 2 x 8 x 2.0 = 32 an hour: 30 h, so it ends on day 2 at 06:00),
    and ``sweep``, 1-GPU trials, 8 at once, of 96 V100 GPU-hours: 12 h of a p3.16xlarge at
    12 USD/h = 144 USD, less than 48 A100 GPU-hours on a p4d (6 h x 32 = 192 USD)."""
    w = workload([{"name": "big", "gpus": 8, "nodes": 2, "gpu_hours": 960, "run": RUN,
                   "setup": SETUP, "min_gpu_memory_gb": 40, **big},
                  {"name": "sweep", "gpus": 1, "parallel": 8, "gpu_hours": 96, "run": RUN,
                   "regions": ["us-east-1"]}],
                 days=2, cloud={"markets": ["on_demand"]})
    cat = catalog(offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96, on_demand=32.0),
                  offer("p3.16xlarge", gpus=8, vcpus=64, on_demand=12.0))
    doc = to_document(make_plan(w, cat), "w.yaml", "0" * 64)
    return PlanDocument.model_validate(doc)


def slot(plan: PlanDocument, pool_id: str, k: int):
    pool = next(p for p in plan.fleet if p.pool == pool_id)
    return pool, next(s for s in pool.slots if s.slot == k)


def run_script(script: str, tmp_path: Path, job: str, path: str = "") -> str:
    """Run the user data with bash as cloud-init would (as a file), its log folder and
    per-boot copy under ``tmp_path``; the job's log once it has written three lines."""
    file = tmp_path / "part-001"
    file.write_text(script)
    env = {**os.environ, "COSTOPT_LOG_DIR": str(tmp_path / "log"),
           "COSTOPT_PER_BOOT": str(tmp_path / "per-boot" / "costopt.sh"),
           "PATH": f"{path}:{os.environ['PATH']}" if path else os.environ["PATH"]}
    env.pop("MASTER_ADDR", None)
    subprocess.run(["bash", str(file)], env=env, check=True, timeout=30)
    log = tmp_path / "log" / f"{job}.log"
    for _ in range(200):  # the job runs detached: wait for its three lines
        if log.exists() and len(log.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert (tmp_path / "per-boot" / "costopt.sh").read_text() == script
    return log.read_text()


def test_rank_0_runs_setup_then_run_with_its_variables(tmp_path: Path) -> None:
    plan = planned()
    pool, first = slot(plan, P4D, 0)
    script = user_data(plan, pool, first)
    assert script is not None
    assert f"COSTOPT_PLAN={plan.plan_id}" in script and f"COSTOPT_POOL={P4D}" in script
    out = run_script(script, tmp_path, "big").splitlines()
    # job | slot | rank | nodes | GPUs per node | gangs here | the quoted argument as written
    assert out[0] == "big|0|0|2|8|1|it's \"quoted\" 42"
    assert out[1] == "yes"  # setup ran first
    assert out[2].startswith("master=") and out[2] != "master=none"  # rank 0's own address


def test_rank_1_finds_rank_0_through_its_gangs_id(tmp_path: Path) -> None:
    """By the ``costopt:gang-id`` its launch was given, which a newer plan that takes the
    gang over keeps (the plan's own tag changes then)."""
    plan = planned()
    pool, second = slot(plan, P4D, 1)
    script = user_data(plan, pool, second, "t-1.g0.ledger-1")
    assert script is not None
    # A stand-in for the AWS CLI that answers as DescribeInstances would, and records the
    # filters it was asked for.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/asked\necho 10.0.0.5\n")
    (bin_dir / "aws").chmod(0o755)
    out = run_script(script, tmp_path, "big", path=str(bin_dir)).splitlines()
    assert out[0] == "big|1|1|2|8|1|it's \"quoted\" 42"
    assert out[2] == "master=10.0.0.5"
    asked = (tmp_path / "asked").read_text()
    for wanted in ("Name=tag:costopt:gang-id,Values=t-1.g0.ledger-1",
                   "Name=tag:costopt:node-rank,Values=0"):
        assert wanted in asked
    assert "costopt:plan" not in asked


def test_a_sweep_instance_knows_how_many_trials_it_holds(tmp_path: Path) -> None:
    plan = planned()
    pool, first = slot(plan, P3, 0)
    script = user_data(plan, pool, first)
    assert script is not None and "COSTOPT_GANG=" not in script
    # 8 trials at once, 8 GPUs of 1: COSTOPT_GANGS = min(8, 8 / 1) = 8; one node, rank 0.
    out = run_script(script, tmp_path, "sweep").splitlines()
    assert out[0] == "sweep|0|0|1|1|8|it's \"quoted\" 42"


def test_no_run_no_user_data_and_too_long_is_an_error() -> None:
    bare = planned(run=None, setup=None)
    pool, first = slot(bare, P4D, 0)
    assert user_data(bare, pool, first) is None
    # Two jobs on one slot, 9 KB of run each: 18 KB > AWS's 16 KB.
    long = planned(run="true " + "x" * 9000)
    raw = long.model_dump(mode="json", by_alias=True)
    raw["jobs"][1]["run"] = "true " + "y" * 9000
    long = PlanDocument.model_validate(raw)
    pool, first = slot(long, P4D, 0)
    two = first.model_copy(update={"jobs": ["big", "sweep"]})
    with pytest.raises(PlanFileError) as err:
        checked_user_data(long, pool, two, "plan.json")
    assert "longer than AWS's 16384 bytes" in str(err.value)


def renamed(plan: PlanDocument, old: str, new: str) -> PlanDocument:
    """``plan`` with job ``old`` called ``new`` everywhere (as an editor of its file would)."""
    raw = plan.model_dump(mode="json", by_alias=True)
    for job in raw["jobs"]:
        job["job"] = new if job["job"] == old else job["job"]
    for pool in raw["fleet"]:
        for s in pool["slots"]:
            s["jobs"] = [new if j == old else j for j in s["jobs"]]
    return PlanDocument.model_validate(raw)


def test_a_job_name_reaches_bash_as_a_word_and_shell_text_in_it_is_refused(
        tmp_path: Path) -> None:
    """The issue's attack: a job name from an edited (and re-hashed) plan file went into the
    log redirect unquoted, so ``x;touch PWNED;y`` ran ``touch`` on the instance. The log
    path is now quoted (the script, run by bash, makes no PWNED and logs to the file of that
    odd name), and apply's checked user data refuses such a name before anything launches."""
    odd = "x;touch PWNED;y"
    plan = renamed(planned(), "sweep", odd)
    pool, first = slot(plan, P3, 0)
    script = user_data(plan, pool, first)
    assert script is not None
    out = run_script(script, tmp_path, odd).splitlines()
    assert out[0] == f"{odd}|0|0|1|1|8|it's \"quoted\" 42"
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
    with pytest.raises(PlanFileError) as err:
        checked_user_data(plan, pool, first, "plan.json")
    assert f"jobs[1].job = '{odd}': is no name `costopt plan` writes" in str(err.value)
    fine = renamed(planned(), "sweep", "sweep-2.v1_a")
    assert checked_user_data(fine, *slot(fine, P3, 0), "plan.json") is not None


def test_jobs_tag_fits_256_characters() -> None:
    assert jobs_tag(["a", "b"]) == "a,b"
    names = [f"job-{i:02d}-" + "x" * 50 for i in range(10)]  # 57 characters each
    tag = jobs_tag(names)
    # four names (4 x 57 + 3 commas = 231) and ",+6" fit; a fifth would not
    assert tag == ",".join(names[:4]) + ",+6" and len(tag) <= 256


def test_apply_launches_the_gang_with_its_ranks_in_user_data(tmp_path: Path) -> None:
    plan = planned()
    options = ApplyOptions(yes=True, launch=LaunchSettings({"*": IMAGE}))
    with mock_aws(), Ledger.open(tmp_path) as ledger:
        apply_plan(plan, T0, fleet=Ec2Fleet(boto3.Session()), ledger=ledger, options=options,
                   say=lambda _kind, _message: None)
        ec2 = boto3.client("ec2", region_name="us-east-1")
        found = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        described = Ec2Fleet(boto3.Session()).describe(plan.plan_id, ["us-east-1"])
        ledger_id = ledger.owner_id(create=False)
        seen = {}
        for inst in found:
            tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
            raw = ec2.describe_instance_attribute(InstanceId=inst["InstanceId"],
                                                  Attribute="userData")
            script = base64.b64decode(raw["UserData"]["Value"]).decode()
            seen[(tags["costopt:pool"], tags["costopt:slot"])] = (tags, script)
    # At 00:00 the gang's two p4d and the sweep's p3.16xlarge run.
    assert sorted(seen) == [(P3, "0"), (P4D, "0"), (P4D, "1")]
    for rank in (0, 1):
        tags, script = seen[(P4D, str(rank))]
        assert (tags["costopt:jobs"], tags["costopt:gang"], tags["costopt:node-rank"]) == (
            "big", "0", str(rank))
        assert f"COSTOPT_NODE_RANK={rank} COSTOPT_NODES=2" in script
        assert "COSTOPT_JOB=big COSTOPT_GPUS=8" in script
        # one gang id for both ranks: the plan's, its gang's and this ledger's
        assert tags["costopt:gang-id"] == f"{plan.plan_id}.g0.{ledger_id}"
        assert tags["costopt:nodes"] == "2"
        assert script == user_data(plan, *slot(plan, P4D, rank), tags["costopt:gang-id"])
        # describe reads back what the instance runs, for reconcile
        o = next(d for d in described if d.pool == P4D and d.slot == rank)
        assert (o.jobs, o.gang, o.node_rank, o.nodes) == (("big",), 0, rank, 2)
    tags, script = seen[(P3, "0")]
    assert tags["costopt:jobs"] == "sweep" and "costopt:gang" not in tags
    assert "COSTOPT_JOB=sweep" in script and "bash -c 'printf '\"'\"'%s|" in script


def test_a_launch_templates_user_data_is_kept_unless_a_job_has_run() -> None:
    plan = planned()
    pool, first = slot(plan, P4D, 0)
    script = user_data(plan, pool, first)

    def params(user_data: str | None) -> dict:
        return run_instances_params(
            LaunchRequest(plan.plan_id, "t", pool, 0, LaunchTarget("on_demand"), 0, False,
                          serves=first, user_data=user_data), None, "gpu-nodes")

    assert "UserData" not in params(None)  # the template's own user data applies
    with_run = params(script)
    assert with_run["UserData"] == script
    assert with_run["LaunchTemplate"] == {"LaunchTemplateName": "gpu-nodes",
                                          "Version": "$Default"}
    # the script is part of the call, so a changed script is another ClientToken
    assert with_run["ClientToken"] != params(None)["ClientToken"]


def test_a_missing_rank_is_launched_in_the_zone_of_its_gang(tmp_path: Path) -> None:
    plan = planned()
    options = ApplyOptions(yes=True, launch=LaunchSettings({"*": IMAGE}))
    with mock_aws(), Ledger.open(tmp_path) as ledger:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        tags = [{"Key": "costopt:plan", "Value": plan.plan_id},
                {"Key": "costopt:workload", "Value": "t"},
                {"Key": "costopt:pool", "Value": P4D}, {"Key": "costopt:slot", "Value": "0"}]
        ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="p4d.24xlarge",
                          Placement={"AvailabilityZone": "us-east-1c"},
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
        apply_plan(plan, T0, fleet=Ec2Fleet(boto3.Session()), ledger=ledger, options=options,
                   say=lambda _kind, _message: None)
        zones = {}
        for r in ec2.describe_instances()["Reservations"]:
            for inst in r["Instances"]:
                tags_of = {t["Key"]: t["Value"] for t in inst["Tags"]}
                zones[(tags_of["costopt:pool"], tags_of["costopt:slot"])] = \
                    inst["Placement"]["AvailabilityZone"]
    # rank 0 ran in us-east-1c already (adopted); rank 1 joins it there
    assert zones[(P4D, "0")] == zones[(P4D, "1")] == "us-east-1c"


def test_the_deadline_policy_runs_a_gangs_slots_as_the_plan_has_them() -> None:
    # The 2-node gang on spot (10 USD/h a p4d, 32 on demand): the deadline-aware policy
    # runs the pool's slots from now for a period; they still serve job big as ranks 0
    # and 1 of gang 0, so that their user data and tags are the gang's.
    w = workload([{"name": "big", "gpus": 8, "nodes": 2, "gpu_hours": 960, "run": RUN,
                   "interruptible": True}], days=2, cloud={"regions": ["us-east-1"]})
    cat = catalog(offer("p4d.24xlarge", gpu="A100-SXM4-40GB", gpus=8, vcpus=96,
                        on_demand=32.0, spot=10.0, rate=0.0))
    plan = PlanDocument.model_validate(to_document(make_plan(w, cat), "w.yaml", "0" * 64))
    [spot] = [p.pool for p in plan.fleet]
    now = T0 + timedelta(hours=1)
    progress = {"big": JobProgress("big", 960.0, T0 + timedelta(days=2), T0,
                                   speed={spot: 2.0}, done_gpu_hours=32.0)}
    desired = DeadlineAware().desired(plan, now, lambda: progress)
    [pool] = desired.plan.fleet
    assert [(s.slot, s.start, s.jobs, s.gang, s.node_rank, s.nodes) for s in pool.slots] == [
        (k, now, ["big"], 0, k, 2) for k in (0, 1)]
