"""``costopt apply``, ``status`` and ``watch`` end to end: the real CLI against moto in server
mode on 127.0.0.1 (``AWS_ENDPOINT_URL``), over a plan made by ``costopt plan``.

The test workload plans (UTC hours of 2027-01-04, periods of 12 h):
- ``aws:us-east-1:p3.2xlarge:on_demand`` at 3.00 USD/h: slot 0 over [00:00, 18:00) and
  slot 1 over [00:00, 06:00) (three 1-GPU eval jobs: 12 + 6 GPU-hours by noon, 6 after);
- ``aws:us-west-2:p3.8xlarge:spot`` at 3.60 USD/h (12.00 on demand, the spot MaxPrice):
  slot 0 over [00:00, 08:00) and [12:00, 20:00) (two 4-GPU jobs of 32 GPU-hours, one each
  half-day); the jobs allow on-demand, so the pool may fall back to it.
The plan's cloud cost is 24 h x 3.00 + 16 h x 3.60 = 129.60 USD. The prices are the shipped
table's without zone prices (an old price file): the spot pool is regional, as in v1 plans.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from cli.fleet_cli import COSTOPT, IMAGE, fleet, run_cli, states, tags
from orchestrate import fleet_plans
from orchestrate.aws_faults import Crash, Faults, no_spot_anywhere, spot_without_zone
from rich.console import Console
from typer.testing import CliRunner

from costopt.aws import RETRY_MODES
from costopt.cli.common import Env
from costopt.cli.main import app
from costopt.cli.orchestrate import RetryModeName
from costopt.orchestrate.ledger import Ledger
from costopt.planfile import InstanceHoursRecord, plan_id_for, write_plan
from costopt.pricing.catalog import shipped_data_dir

OD = "aws:us-east-1:p3.2xlarge:on_demand"
SPOT = "aws:us-west-2:p3.8xlarge:spot"

WORKLOAD = """
name: orch-test
horizon: {start: 2027-01-04, days: 2, period_hours: 12}
monthly_budget_usd: 10000
cloud:
  regions: [us-east-1, us-west-2]
  instance_types: [p3.2xlarge, p3.8xlarge]
  setup_minutes: 0            # the slots below are the LP's hours as they are
  min_instance_minutes: 0
  spot_availability_default: 1.0   # and spot planned as always there, without a reserve
  deadline_reserve: false
  pricing: prices.csv         # the shipped table without zone prices: regional spot pools
  price_overrides:
    - {instance_type: p3.8xlarge, region: us-west-2, market: spot, usd_per_hour: 3.6}
    - {instance_type: p3.8xlarge, region: us-west-2, market: on_demand, usd_per_hour: 12.0}
    - {instance_type: p3.2xlarge, region: us-east-1, market: on_demand, usd_per_hour: 3.0}
  spot_interruptions_per_hour:
    - {instance_type: p3.8xlarge, region: us-west-2, rate: 0}
jobs:
  - {name: pretrain-a, gpus: 4, gpu_hours: 32, interruptible: true, regions: [us-west-2],
     allow: [on_demand, spot], deadline: "2027-01-04T12:00:00Z"}
  - {name: pretrain-b, gpus: 4, gpu_hours: 32, interruptible: true, regions: [us-west-2],
     allow: [on_demand, spot], start: "2027-01-04T12:00:00Z", deadline: "2027-01-05T00:00:00Z"}
  - {name: eval-1, gpus: 1, gpu_hours: 12, regions: [us-east-1], deadline: "2027-01-04T12:00:00Z"}
  - {name: eval-2, gpus: 1, gpu_hours: 6, regions: [us-east-1], deadline: "2027-01-04T12:00:00Z"}
  - {name: eval-3, gpus: 1, gpu_hours: 6, regions: [us-east-1], start: "2027-01-04T12:00:00Z",
     deadline: "2027-01-05T00:00:00Z"}
"""


def at(hour: int) -> str:
    return f"2027-01-04T{hour:02d}:00:00Z"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_plan_file(tmp_path_factory.mktemp("plan"), WORKLOAD)


def make_plan_file(folder: Path, workload: str) -> Path:
    """``costopt plan`` of ``workload`` in ``folder``, with the shipped prices without zone
    prices: ``folder/plan.json``."""
    (folder / "workload.yaml").write_text(workload)
    with (shipped_data_dir() / "instances.csv").open(newline="") as shipped, \
            (folder / "prices.csv").open("w", newline="") as old:
        rows = csv.DictReader(shipped)
        columns = [c for c in rows.fieldnames or [] if c != "spot_zone_prices"]
        out = csv.DictWriter(old, columns, extrasaction="ignore")
        out.writeheader()
        out.writerows(rows)
    result = CliRunner().invoke(app, ["plan", str(folder / "workload.yaml"), "-o",
                                      str(folder / "plan.json")])
    assert result.exit_code == 0, result.output
    return folder / "plan.json"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def owner_id(state: Path) -> str | None:
    with Ledger.open(state) as ledger:
        return ledger.owner_id(create=False)


def cli(*args: str, faults: Faults | None = None, width: int = 200):
    faults = faults or Faults()
    env = Env(console=Console(width=width), err=Console(stderr=True, width=width),
              session_factory=faults.session)
    return CliRunner().invoke(app, list(args), obj=env)


def apply(plan_file: Path, state: Path, hour: int, *extra: str, faults: Faults | None = None):
    return cli("apply", str(plan_file), "--at", at(hour), "--state-dir", str(state),
               "--image-id", IMAGE, "--yes", "--policy", "plan", *extra, faults=faults)


def test_dry_run_changes_nothing(plan_file: Path, state: Path, aws: str) -> None:
    result = run_cli("apply", str(plan_file), "--at", at(0), "--state-dir", str(state),
                     env_url=aws, process=True)  # apply end to end, through the console script
    assert result.returncode == 0, result.stderr
    assert "3 to launch, 0 to start, 0 to stop, 0 to terminate" in result.stdout
    assert "0.0000 -> 9.6000 USD/h (+9.6000 USD/h)" in result.stdout
    assert "Dry run: nothing was changed" in result.stdout
    assert fleet("us-east-1") == [] and fleet("us-west-2") == []
    assert not state.exists()  # not even a ledger is written


def test_apply_at_start_launches_tagged_instances(plan_file: Path, state: Path,
                                                  aws: str) -> None:
    plan_id = json.loads(plan_file.read_text())["plan_id"]
    result = run_cli("apply", str(plan_file), "--at", at(0), "--state-dir", str(state),
                     "--image-id", f"us-east-1={IMAGE}", "--image-id", IMAGE, "--yes",
                     "--policy", "plan", env_url=aws)
    assert result.returncode == 0, result.stderr + result.stdout
    east, west = fleet("us-east-1"), fleet("us-west-2")
    assert sorted((tags(i)["costopt:pool"], tags(i)["costopt:slot"]) for i in east) == [
        (OD, "0"), (OD, "1")]
    assert all("InstanceLifecycle" not in i and i["InstanceType"] == "p3.2xlarge"
               for i in east)
    [spot] = west
    assert spot["InstanceLifecycle"] == "spot" and spot["InstanceType"] == "p3.8xlarge"
    assert tags(spot) == {"costopt:plan": plan_id, "costopt:pool": SPOT, "costopt:slot": "0",
                          "costopt:workload": "orch-test", "costopt:market": "spot",
                          "costopt:spot-request": "persistent", "costopt:jobs": "pretrain-a",
                          "Name": f"{plan_id}/p3.8xlarge/0",
                          "costopt:owner": owner_id(state)}  # the ledger's own id
    assert spot["ClientToken"].startswith("costopt-") and len(spot["ClientToken"]) <= 64
    with Ledger.open(state) as ledger:
        assert [(a.kind, a.status) for a in ledger.actions()] == [("launch", "ok")] * 3
        assert sorted((i.pool, i.market, i.usd_per_hour) for i in ledger.instances()) == [
            (OD, "on_demand", 3.0), (OD, "on_demand", 3.0), (SPOT, "spot", 3.6)]

    again = Faults()
    result = apply(plan_file, state, 0, faults=again)
    assert result.exit_code == 0, result.output
    assert "No changes: the fleet matches the plan." in result.output
    assert again.changing_calls() == []
    assert set(again.calls) == {"DescribeInstances"}


def test_later_times_stop_start_and_terminate_as_the_slots_say(plan_file: Path, state: Path,
                                                               aws: str) -> None:
    assert apply(plan_file, state, 0).exit_code == 0
    east0 = {tags(i)["costopt:slot"]: i["InstanceId"] for i in fleet("us-east-1")}
    [spot_id] = states("us-west-2")

    result = apply(plan_file, state, 6)
    assert "1 to terminate" in result.output
    assert states("us-east-1") == {east0["0"]: "running", east0["1"]: "terminated"}

    result = apply(plan_file, state, 8)
    assert "1 to stop" in result.output and "not wanted until 01-04 12:00" in result.output
    assert states("us-west-2") == {spot_id: "stopped"}

    result = apply(plan_file, state, 12)
    assert "1 to start" in result.output
    assert states("us-west-2") == {spot_id: "running"}  # the same instance, started again

    apply(plan_file, state, 18)
    assert states("us-east-1") == {east0["0"]: "terminated", east0["1"]: "terminated"}
    apply(plan_file, state, 20)
    assert states("us-west-2") == {spot_id: "terminated"}
    result = apply(plan_file, state, 23)
    assert "No changes" in result.output

    with Ledger.open(state) as ledger:
        start = datetime(2027, 1, 1, tzinfo=timezone.utc)
        end = datetime(2027, 2, 1, tzinfo=timezone.utc)
        runs = ledger.runtimes(start, end)
        # slot 0: 18 h, slot 1: 6 h at 3.00; spot: 8 h + 8 h at 3.60 = 129.60 USD in all,
        # the plan's own cloud cost.
        assert sorted(round(r.hours_within(start, end, end), 6) for r in runs) == [
            6.0, 8.0, 8.0, 18.0]
        assert sum(r.usd_within(start, end, end) for r in runs) == pytest.approx(129.6)


def test_spot_interruption_is_recorded_and_replaced(plan_file: Path, state: Path,
                                                    aws: str) -> None:
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models.instances import StateReason

    assert apply(plan_file, state, 0).exit_code == 0
    [lost] = states("us-west-2")
    inst = get_backend("ec2")[DEFAULT_ACCOUNT_ID]["us-west-2"].get_instance(lost)
    inst.terminate()
    inst.state_reason = StateReason("Server.SpotInstanceTermination: Spot instance "
                                    "termination", "Server.SpotInstanceTermination")

    result = apply(plan_file, state, 2)
    assert result.exit_code == 0, result.output
    assert f"{lost} ({SPOT} slot 0) was reclaimed by AWS" in result.output
    assert f"replaces {lost} interrupted by AWS" in result.output
    west = states("us-west-2")
    assert west[lost] == "terminated"
    [replacement] = [i for i, s in west.items() if s == "running"]
    with Ledger.open(state) as ledger:
        [record] = ledger.interruptions()
        assert (record.instance_id, record.pool, record.reason) == (
            lost, SPOT, "Server.SpotInstanceTermination")
        ended = {i.instance_id: i.ended_at for i in ledger.instances()}
        assert ended[lost] is not None and ended[replacement] is None

    status = cli("status", str(plan_file), "--state-dir", str(state), "--at", at(3))
    assert status.exit_code == 0, status.output
    assert "Spot interruptions" in status.output and lost in status.output

    again = apply(plan_file, state, 2)  # recorded once, replaced once
    assert "No changes" in again.output and "reclaimed" not in again.output


def test_no_spot_capacity_falls_back_to_other_zones(plan_file: Path, state: Path,
                                                    aws: str) -> None:
    faults = Faults(capacity=spot_without_zone)
    result = apply(plan_file, state, 0, faults=faults)
    assert result.exit_code == 0, result.output
    assert result.output.count("no capacity for aws:us-west-2:p3.8xlarge:spot slot 0 (spot)"
                               ) == 2  # --spot-attempts 2
    [spot] = fleet("us-west-2")
    assert spot["Placement"]["AvailabilityZone"] == "us-west-2a"  # the first zone
    assert spot["InstanceLifecycle"] == "spot"
    with Ledger.open(state) as ledger:
        launches = [(a.status, a.detail) for a in ledger.actions() if a.pool == SPOT]
    assert [s for s, _d in launches] == ["failed", "failed", "ok"]
    assert launches[0][1].startswith("capacity: InsufficientInstanceCapacity")
    assert launches[2][1] == "spot in us-west-2a"


def test_no_spot_capacity_anywhere_falls_back_to_on_demand(plan_file: Path, state: Path,
                                                           aws: str) -> None:
    result = apply(plan_file, state, 0, "--spot-attempts", "1",
                   faults=Faults(capacity=no_spot_anywhere))
    assert result.exit_code == 0, result.output
    zones = [z["ZoneName"] for z in boto3.client("ec2", region_name="us-west-2")
             .describe_availability_zones()["AvailabilityZones"]]
    for zone in zones:
        assert f"(spot in {zone}): InsufficientInstanceCapacity" in result.output
    assert "on-demand (fallback), 12.0000 USD/h" in result.output
    [inst] = fleet("us-west-2")
    assert "InstanceLifecycle" not in inst
    assert tags(inst)["costopt:market"] == "on_demand" and tags(inst)["costopt:pool"] == SPOT
    with Ledger.open(state) as ledger:
        [record] = [i for i in ledger.instances() if i.pool == SPOT]
        assert (record.market, record.usd_per_hour) == ("on_demand", 12.0)
    # The refusal is kept in the ledger: while the pool is held (an hour after a first
    # refusal) the on-demand stand-in is the slot's instance, even for another apply.
    assert "No changes" in apply(plan_file, state, 0).output
    # Once the hold is out, spot is tried again: the stand-in ends once the spot instance
    # runs (moto runs it at once, so in the same apply).
    back = apply(plan_file, state, 1)
    assert "slot 0 moves to spot" in back.output
    assert f"replaces {inst['InstanceId']} once it runs" in back.output
    assert sorted((tags(i)["costopt:market"], i["State"]["Name"]) for i in fleet("us-west-2")
                  ) == [("on_demand", "terminated"), ("spot", "running")]


def test_crash_between_call_and_result_converges_without_duplicates(
        plan_file: Path, state: Path, aws: str) -> None:
    result = apply(plan_file, state, 0, faults=Faults(crash_after_launches=1))
    assert isinstance(result.exception, Crash)
    with Ledger.open(state) as ledger:
        assert [(a.kind, a.status) for a in ledger.actions()] == [("launch", "ok"),
                                                                  ("launch", "intent")]
    launched = states("us-east-1")
    assert len(launched) == 2  # the second launch happened at AWS, unrecorded

    result = apply(plan_file, state, 0)
    assert result.exit_code == 0, result.output
    assert "did happen" in result.output
    assert states("us-east-1") == launched  # no duplicate
    assert len(states("us-west-2")) == 1
    with Ledger.open(state) as ledger:
        actions = ledger.actions()
        assert [(a.kind, a.status) for a in actions] == [("launch", "ok")] * 3
        assert {a.instance_id for a in actions if a.pool == OD} == set(launched)
    assert "No changes" in apply(plan_file, state, 0).output


def test_a_launch_cut_short_before_aws_saw_it_is_sent_again_with_its_token(
        plan_file: Path, state: Path, aws: str) -> None:
    result = apply(plan_file, state, 0, faults=Faults(crash_before="RunInstances"))
    assert isinstance(result.exception, Crash)
    with Ledger.open(state) as ledger:
        [intent] = ledger.pending(json.loads(plan_file.read_text())["plan_id"])
    assert fleet("us-east-1") == []

    assert apply(plan_file, state, 0).exit_code == 0
    [again] = [i for i in fleet("us-east-1") if tags(i)["costopt:slot"] == str(intent.slot)]
    assert again["ClientToken"] == intent.client_token  # AWS would answer with the same one
    with Ledger.open(state) as ledger:
        assert [a.status for a in ledger.actions()] == ["failed", "ok", "ok", "ok"]


def test_launch_over_budget_is_refused(plan_file: Path, state: Path, aws: str) -> None:
    faults = Faults()
    result = apply(plan_file, state, 0, "--monthly-budget", "15", faults=faults)
    assert result.exit_code == 1
    # Each launch alone passes 15 USD: OD slot 0 18 h x 3.00 = 54.00, slot 1 6 h x 3.00 =
    # 18.00, spot 16 h x 12.00 = 192.00 (at its MaxPrice bid, the on-demand price: what AWS
    # may charge, not the 3.60 the plan expects).
    assert ("launch of aws:us-east-1:p3.2xlarge:on_demand slot 0 refused: it would take the "
            "projected spend for 2027-01 to 54.00 USD, past the monthly budget of 15.00 USD"
            ) in result.output
    assert "slot 1 refused: it would take the projected spend for 2027-01 to 18.00 USD" \
        in result.output
    assert "to 192.00 USD" in result.output
    assert faults.changing_calls() == []
    assert fleet("us-east-1") == [] and fleet("us-west-2") == []
    with Ledger.open(state) as ledger:
        assert [(a.kind, a.status) for a in ledger.actions()] == [("launch", "refused")] * 3

    allowed = apply(plan_file, state, 0, "--monthly-budget", "15", "--allow-over-budget")
    assert allowed.exit_code == 0 and len(fleet("us-east-1")) == 2


def test_throttling_on_every_other_call_still_converges(
        plan_file: Path, state: Path, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.endpoint

    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", slept.append)
    faults = Faults(throttle_every_other=True)
    result = apply(plan_file, state, 0, faults=faults)
    assert result.exit_code == 0, result.output
    assert faults.throttled >= 4
    assert len(slept) == faults.throttled  # every throttled call backed off, then retried
    assert len(fleet("us-east-1")) == 2 and len(fleet("us-west-2")) == 1
    assert "No changes" in apply(plan_file, state, 0).output


def test_status_shows_instances_and_cost_so_far(plan_file: Path, state: Path,
                                                aws: str) -> None:
    assert apply(plan_file, state, 0).exit_code == 0
    result = cli("status", "--state-dir", str(state), "--at", at(2), "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["instances"]
    # two hours each: 2 x 3.00, 2 x 3.00, 2 x 3.60
    assert sorted(r["cost_usd"] for r in rows) == [6.0, 6.0, 7.2]
    assert {r["state"] for r in rows} == {"running"} and {r["age_hours"] for r in rows} == {2.0}
    table = cli("status", "--state-dir", str(state), "--at", at(2))
    assert "Running now: 9.6000 USD/h" in table.output
    assert "No spot interruptions recorded." in table.output


def test_status_prices_instances_the_ledger_does_not_know_from_the_plan(
        plan_file: Path, state: Path, aws: str, tmp_path: Path) -> None:
    assert apply(plan_file, state, 0).exit_code == 0
    # another machine's view: the plan file, and a ledger that never saw these instances
    result = run_cli("status", str(plan_file), "--state-dir", str(tmp_path / "elsewhere"),
                     env_url=aws, process=True)  # status end to end
    assert result.returncode == 0, result.stderr
    assert "Running now: 9.6000 USD/h" in result.stdout  # 3.00 + 3.00 + 3.60 from the plan
    assert "3 instance(s) not in the ledger: priced at their plan's pool from their launch" \
        in result.stdout
    rows = json.loads(run_cli("status", str(plan_file), "--state-dir", str(tmp_path / "x"),
                              "--format", "json", env_url=aws).stdout)["instances"]
    assert sorted(r["usd_per_hour"] for r in rows) == [3.0, 3.0, 3.6]
    assert {r["in_ledger"] for r in rows} == {False}


def test_watch_after_the_plan_ends_terminates_everything(plan_file: Path, state: Path,
                                                         aws: str) -> None:
    assert apply(plan_file, state, 0).exit_code == 0
    ended = datetime(2027, 1, 6, tzinfo=timezone.utc)
    env = Env(clock=lambda: ended)
    result = CliRunner().invoke(app, ["watch", str(plan_file), "--state-dir", str(state),
                                      "--image-id", IMAGE, "--yes", "--policy", "plan",
                                      "--interval", "1"],
                                obj=env, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "The plan has ended and its fleet is gone after 1 reconcile(s)." in result.output
    assert set(states("us-east-1").values()) == {"terminated"}
    assert set(states("us-west-2").values()) == {"terminated"}


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_watch_stops_cleanly_on_a_signal_once_it_began(plan_file: Path, state: Path, aws: str,
                                                       signum: signal.Signals) -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": aws, "COLUMNS": "200"}
    child = subprocess.Popen([COSTOPT, "watch", str(plan_file),
                              "--state-dir", str(state), "--image-id", IMAGE, "--yes",
                              "--policy", "plan", "--interval", "30"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (state / "ledger.db").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        # the first reconcile (before the plan starts: nothing to do) puts the plan in force
        while time.monotonic() < deadline:
            with Ledger.open(state) as ledger:
                if ledger.plan_in_force("orch-test"):
                    break
            time.sleep(0.1)
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert f"{signum.name}: stopping after the reconcile under way." in err
    assert f"Stopped on {signum.name} after 1 reconcile(s)." in out


SIGINT_WHILE_IMPORTING = """
import signal, sys
from costopt.cli.entry import run

def interrupt_on_import(event, args):
    if event == "import" and args[0] == "costopt.cli.main":
        signal.raise_signal(signal.SIGINT)

sys.addaudithook(interrupt_on_import)
sys.argv = ["costopt", *sys.argv[1:]]
run()
"""


def test_ctrl_c_while_starting_is_said_and_nothing_is_done(plan_file: Path, state: Path,
                                                           aws: str) -> None:
    """The console script's ``run`` with a SIGINT raised as it starts importing the
    application (an audit hook on that import): the signal is noted, the command never
    begins (no ledger), the exit code is 130 with a message and no traceback."""
    env = {**os.environ, "AWS_ENDPOINT_URL": aws, "COLUMNS": "200"}
    child = subprocess.run([sys.executable, "-c", SIGINT_WHILE_IMPORTING, "watch",
                            str(plan_file), "--state-dir", str(state), "--image-id", IMAGE,
                            "--yes", "--interval", "30"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert child.returncode == 130, child.stderr
    assert child.stderr == ("costopt: stopped on SIGINT while starting, before the command "
                            "began: nothing was done.\n")
    assert not (state / "ledger.db").exists()


@pytest.mark.slow
def test_watch_goes_on_after_aws_errors_and_says_how_to_fix_them(tmp_path: Path,
                                                                 aws: str) -> None:
    # A plan whose slot holds now (one p3.2xlarge from yesterday until the day after
    # tomorrow, UTC), watched without --image-id: each reconcile asks SSM for AWS's GPU
    # AMI, which moto does not have - an AWS error in every reconcile. The loop reports it
    # and tries again.
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    (tmp_path / "w.yaml").write_text(f"""
name: watch-errors
horizon: {{start: {yesterday}, days: 3, period_hours: 24}}
cloud:
  regions: [us-east-1]
  instance_types: [p3.2xlarge]
  markets: [on_demand]
  setup_minutes: 0            # 72 GPU-h in 72 h leave no time for a setup
jobs:
  - {{name: all-days, gpus: 1, gpu_hours: 72}}
""")
    assert run_cli("plan", str(tmp_path / "w.yaml"), "-o", str(tmp_path / "p.json"),
                   env_url=aws).returncode == 0
    env = {**os.environ, "AWS_ENDPOINT_URL": aws, "COLUMNS": "200"}
    log = tmp_path / "stderr.txt"
    with log.open("w") as err_file:
        child = subprocess.Popen([COSTOPT, "watch", str(tmp_path / "p.json"), "--state-dir",
                                  str(tmp_path / "state"), "--yes", "--interval", "1"],
                                 env=env, stdout=subprocess.PIPE, stderr=err_file, text=True)
        try:
            deadline = time.monotonic() + 60
            while log.read_text().count("the watch goes on") < 3:
                assert time.monotonic() < deadline, log.read_text()
                assert child.poll() is None, log.read_text()  # the loop never dies
                time.sleep(0.1)
            child.send_signal(signal.SIGINT)
            out, _ = child.communicate(timeout=60)
        finally:
            child.kill()
    err = log.read_text()
    assert child.returncode == 0, err
    assert "ParameterNotFound" in err and "To fix:" in err and "Traceback" not in err
    # backoff from min(interval, 5) = 1 s: 0.5-1 s, then 1-2 s, then 2-4 s
    waits = [float(w) for w in re.findall(r"next try in ([0-9.]+) s", err)]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 2.0 <= waits[2] <= 4.0
    assert "The reconcile failed (3 in a row)" in err
    assert "Stopped on SIGINT after 0 reconcile(s)." in out
    assert fleet("us-east-1") == []


LEDGER_DAMAGE = [
    ("invalid JSON in a stored plan", "UPDATE plans SET document = '{\"plan_id\": '",
     "the document is not a costopt.plan/v1 plan (Expecting value"),
    ("text in a price column", "UPDATE runtimes SET usd_per_hour = 'three'",
     "runtimes row 1: usd_per_hour = 'three'; valid: a number of USD from 0"),
    ("a stored plan without fleet", "UPDATE plans SET document = json_remove(document, "
     "'$.fleet')", "the document is not a costopt.plan/v1 plan (fleet: Field required"),
    ("a dropped table", "DROP TABLE runtimes", "the table 'runtimes' is missing"),
]


@pytest.mark.parametrize(("sql", "expected"), [d[1:] for d in LEDGER_DAMAGE],
                         ids=[d[0] for d in LEDGER_DAMAGE])
def test_a_damaged_ledger_is_an_error_in_every_command(plan_file: Path, state: Path, aws: str,
                                                       sql: str, expected: str) -> None:
    assert apply(plan_file, state, 0).exit_code == 0
    path = state / "ledger.db"
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()
    before = path.read_bytes()
    for args in (["status", "--state-dir", str(state)],
                 ["report", "--month", "2027-01", "--state-dir", str(state)],
                 ["apply", str(plan_file), "--at", at(1), "--state-dir", str(state), "--yes",
                  "--image-id", IMAGE]):
        result = run_cli(*args, env_url=aws)
        message = " ".join(result.stderr.split())
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert f"error: the ledger {path} is damaged: " in message and expected in message
        assert "Traceback" not in result.stderr and "To fix:" in message
    assert path.read_bytes() == before  # no table made again, nothing written
    assert len(fleet("us-east-1")) == 2  # and nothing launched


def test_errors_are_messages_not_tracebacks(plan_file: Path, state: Path, aws: str,
                                            tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "costopt.plan/v0"}')
    result = cli("apply", str(bad), "--state-dir", str(state))
    assert result.exit_code == 1
    assert "expected one of costopt.plan/v1, costopt.plan/v2, costopt.plan/v3" in result.output
    result = cli("apply", str(plan_file), "--at", "tomorrow", "--state-dir", str(state))
    assert result.exit_code == 2 and "ISO 8601" in result.output
    result = cli("apply", str(plan_file), "--image-id", "us-east-1=nope", "--state-dir",
                 str(state))
    assert result.exit_code == 2 and "REGION=ami-" in result.output
    result = cli("status", "--state-dir", str(state))
    assert result.exit_code == 1 and "no plan has been applied" in result.output


def zone_plan(folder: Path, zone_id: str, zone_prices: dict[str, float]) -> Path:
    """A v2 plan: one p3.8xlarge spot slot in ``zone_id`` over [00:00, 12:00) at its zone's
    price, the region's other zones priced for the fallback."""
    pool_id = f"aws:us-east-1:p3.8xlarge:spot:{zone_id}"
    spot = {"pool": pool_id, "region": "us-east-1", "instance_type": "p3.8xlarge",
            "market": "spot", "zone": zone_id, "usd_per_hour": zone_prices[zone_id],
            "on_demand_usd_per_hour": 12.0, "spot_max_price_usd": 12.0,
            "on_demand_fallback": True, "spot_zone_prices": zone_prices,
            "slots": [{"slot": 0, "start": at(0), "end": at(12), "setup_end": at(0)}]}
    hours = InstanceHoursRecord(pool=pool_id, period_start=fleet_plans.T0, instance_hours=12.0,
                                cost_usd=12.0 * zone_prices[zone_id])
    doc = fleet_plans.plan(spot, plan_id="zones-0001").model_copy(
        update={"schema_": "costopt.plan/v2", "instance_hours": [hours]})
    doc.plan_id = plan_id_for(doc.as_json())  # as `costopt plan` writes it
    path = folder / "zone-plan.json"
    write_plan(doc, path)
    return path


def zone_ids(region: str) -> dict[str, str]:
    """Zone ID -> zone name in moto's account."""
    ec2 = boto3.client("ec2", region_name=region)
    return {z["ZoneId"]: z["ZoneName"]
            for z in ec2.describe_availability_zones()["AvailabilityZones"]}


def subnet_zone(subnet_id: str) -> str:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    [subnet] = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    return subnet["AvailabilityZoneId"]


def test_a_spot_slot_launches_in_its_zone(tmp_path: Path, state: Path, aws: str) -> None:
    ids = sorted(zone_ids("us-east-1"))
    home = ids[1]
    path = zone_plan(tmp_path, home, {ids[0]: 1.5, home: 1.2})
    result = apply(path, state, 1)
    assert result.exit_code == 0, result.output
    [inst] = fleet("us-east-1")
    # A default subnet of the pool's zone (DescribeSubnets' AvailabilityZoneId), so the
    # instance is in the zone the plan priced, whatever the zone's name in this account.
    assert subnet_zone(inst["SubnetId"]) == home
    assert inst["Placement"]["AvailabilityZone"] == zone_ids("us-east-1")[home]
    assert tags(inst)["costopt:pool"] == f"aws:us-east-1:p3.8xlarge:spot:{home}"


def test_no_spot_in_the_zone_falls_back_to_the_cheapest_other_zone_at_its_price(
        tmp_path: Path, state: Path, aws: str) -> None:
    ids = sorted(zone_ids("us-east-1"))
    home, cheap, dear = ids[0], ids[1], ids[2]
    path = zone_plan(tmp_path, home, {home: 1.0, cheap: 1.4, dear: 2.0})
    ec2 = boto3.client("ec2", region_name="us-east-1")
    home_subnets = {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]
                    if s["AvailabilityZoneId"] == home}

    def no_spot_at_home(params: dict) -> str | None:
        return "InsufficientInstanceCapacity" if params.get("SubnetId") in home_subnets \
            else None

    result = apply(path, state, 1, "--spot-attempts", "1",
                   faults=Faults(capacity=no_spot_at_home))
    assert result.exit_code == 0, result.output
    [inst] = fleet("us-east-1")
    assert subnet_zone(inst["SubnetId"]) == cheap
    text = " ".join(result.output.split())
    assert f"spot in {cheap} (fallback), 1.4000 USD/h" in text


@pytest.mark.parametrize(("call", "hour", "kind", "reached", "when"), [
    ("StopInstances", 8, "stop", "stopped", "after"),
    ("StartInstances", 12, "start", "running", "after"),
    ("TerminateInstances", 20, "terminate", "terminated", "after"),
    ("StopInstances", 8, "stop", "stopped", "before"),  # settled alike for the three
])
def test_a_stop_start_or_terminate_cut_short_converges(
        plan_file: Path, state: Path, aws: str, call: str, hour: int, kind: str, reached: str,
        when: str) -> None:
    """The spot slot in us-west-2 runs 0-8 h and 12-20 h: stopped at 8, started at 12,
    terminated at 20. The run that makes that change dies just before the call is sent or
    just after AWS answered it; the next run at the same hour finds the intent open, settles
    it from AWS's state (done: recorded as done; not done: failed, and done now), and the
    one after that has nothing to do."""
    assert apply(plan_file, state, 0).exit_code == 0
    [spot_id] = states("us-west-2")
    for earlier in (8, 12, 18):  # 18: us-east-1 ends, leaving 20 to the spot slot alone
        if earlier < hour:
            assert apply(plan_file, state, earlier).exit_code == 0
    before = states("us-west-2")[spot_id]

    faults = Faults(crash_before=call) if when == "before" else Faults(crash_after=call)
    assert isinstance(apply(plan_file, state, hour, faults=faults).exception, Crash)
    assert states("us-west-2")[spot_id] == (before if when == "before" else reached)
    with Ledger.open(state) as ledger:
        [intent] = ledger.pending(json.loads(plan_file.read_text())["plan_id"])
    assert (intent.kind, intent.instance_id) == (kind, spot_id)

    recovery = apply(plan_file, state, hour)
    assert recovery.exit_code == 0, recovery.output
    assert states("us-west-2") == {spot_id: reached}  # the same instance, no other
    if when == "after":
        assert f"the {kind} of {spot_id} cut short by an earlier run did happen" \
            in " ".join(recovery.output.split())
    with Ledger.open(state) as ledger:
        mine = [a.status for a in ledger.actions()
                if (a.kind, a.instance_id) == (kind, spot_id)]
        assert ledger.pending(intent.plan_id) == []
    assert mine == (["failed", "ok"] if when == "before" else ["ok"])
    assert "No changes" in apply(plan_file, state, hour).output


def test_a_launch_template_boots_the_fleet_without_an_image_id(plan_file: Path, state: Path,
                                                               aws: str) -> None:
    """``--launch-template`` alone: each region's template of that name (its default
    version) gives the image; the instances carry costopt's tags as ever."""
    templates = {}
    for region, image in (("us-east-1", "ami-0a1b2c3d4e5f60718"),
                          ("us-west-2", "ami-0f1e2d3c4b5a60718")):
        made = boto3.client("ec2", region_name=region).create_launch_template(
            LaunchTemplateName="gpu-boot", LaunchTemplateData={"ImageId": image})
        templates[region] = (made["LaunchTemplate"]["LaunchTemplateId"], image)
    result = cli("apply", str(plan_file), "--at", at(0), "--state-dir", str(state),
                 "--launch-template", "gpu-boot", "--yes", "--policy", "plan")
    assert result.exit_code == 0, result.output
    for region, count in (("us-east-1", 2), ("us-west-2", 1)):
        launched = fleet(region)
        assert len(launched) == count
        template_id, image = templates[region]
        assert {i["ImageId"] for i in launched} == {image}
        assert {tags(i)["aws:ec2launchtemplate:id"] for i in launched} == {template_id}
        assert {tags(i)["costopt:plan"] for i in launched} == {
            json.loads(plan_file.read_text())["plan_id"]}


class _LimiterClock:
    """A clock for botocore's adaptive rate limiter (``bucket.Clock``'s methods) that moves
    only when the limiter waits: from 0, by each wait and a millisecond more, as a real wait
    overshoots (an exact step can leave the bucket a rounding short of a token, for ever)."""

    def __init__(self) -> None:
        self.now = 0.0

    def current_time(self) -> float:
        return self.now

    def sleep(self, amount: float) -> None:
        self.now += amount + 0.001


def test_the_retry_modes_offered_are_the_aws_edges() -> None:
    assert [m.value for m in RetryModeName] == list(RETRY_MODES)


def test_adaptive_retry_mode_converges_under_throttling(
        plan_file: Path, state: Path, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--retry-mode adaptive``: every other call is throttled; each is retried after a
    backoff, botocore's adaptive mode also rate-limits the client (its token bucket waits),
    and the fleet is the plan's, launched once. The backoffs and the bucket's waits are
    recorded instead of slept (they were most of the test's ~10 s): the bucket runs on a
    clock of its own that each wait moves on."""
    import botocore.endpoint
    from botocore.retries import bucket

    import costopt.aws

    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", slept.append)
    clock, waited = _LimiterClock(), []

    class Waits(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            waited.append(timeout)
            clock.sleep(timeout or 0.0)
            return False

    monkeypatch.setattr(bucket, "Clock", lambda: clock)
    monkeypatch.setattr(bucket, "threading", SimpleNamespace(Lock=threading.Lock,
                                                             Condition=Waits))
    modes: list[str] = []
    config = costopt.aws.retry_config
    monkeypatch.setattr(costopt.aws, "retry_config",
                        lambda mode="standard": modes.append(mode) or config(mode))
    faults = Faults(throttle_every_other=True)
    result = apply(plan_file, state, 0, "--retry-mode", "adaptive", faults=faults)
    assert result.exit_code == 0, result.output
    assert modes == ["adaptive"]  # the one client factory of the run, in the mode asked
    assert faults.throttled >= 4
    assert len(slept) == faults.throttled
    assert waited and all(w > 0 for w in waited)  # the client was rate-limited
    assert len(fleet("us-east-1")) == 2 and len(fleet("us-west-2")) == 1
    assert "No changes" in apply(plan_file, state, 0, "--retry-mode", "adaptive").output
