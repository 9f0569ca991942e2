"""Nothing spent that nobody asked for (issue 26), end to end: the real CLI against moto in
server mode on 127.0.0.1, over the plan of ``test_orchestrate_cli`` (at 2027-01-04T00:00 it
runs slots 0 and 1 of ``aws:us-east-1:p3.2xlarge:on_demand`` at 3.00 USD/h and slot 0 of
``aws:us-west-2:p3.8xlarge:spot`` at 3.60 USD/h)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli.fleet_cli import IMAGE, fleet, run_cli
from cli.test_orchestrate_cli import WORKLOAD, at, make_plan_file

from costopt.orchestrate.guard import FAKE_CLOCK_VARIABLE


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_plan_file(tmp_path_factory.mktemp("plan"), WORKLOAD)


@pytest.fixture(scope="module")
def other_team_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another team's workload, also named ``orch-test`` (another budget: another plan)."""
    assert "monthly_budget_usd: 10000" in WORKLOAD
    return make_plan_file(tmp_path_factory.mktemp("other"), WORKLOAD.replace(
        "monthly_budget_usd: 10000", "monthly_budget_usd: 9000"))


def live(region: str) -> list[dict]:
    return [i for i in fleet(region) if i["State"]["Name"] in ("pending", "running")]


def test_a_run_that_changes_aws_is_judged_at_the_real_clock(
        plan_file: Path, tmp_path: Path, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's walk-around: a launch refused in February went ahead with ``--at`` in
    March and ``--yes``; ``--at`` before the plan's start terminated the fleet. With the
    real clock (2026-12 as these tests run, a month before the plan), ``--at`` of the plan's
    start with ``--yes`` is refused before anything is read or written: no instance, no
    ledger. A dry run at that time still shows the diff."""
    monkeypatch.delenv(FAKE_CLOCK_VARIABLE)
    state = tmp_path / "state"
    result = run_cli("apply", str(plan_file), "--at", at(0), "--state-dir", str(state),
                     "--image-id", IMAGE, "--yes", env_url=aws)
    assert result.returncode == 1
    assert f"--at {at(0)} is " in result.stderr and " h after the real clock (" in result.stderr
    assert "Nothing was changed. To fix: leave --at out with --yes" in result.stderr
    assert "Traceback" not in result.stderr
    assert live("us-east-1") == [] and live("us-west-2") == []
    assert not state.exists()
    dry = run_cli("apply", str(plan_file), "--at", at(0), "--state-dir", str(state),
                  "--image-id", IMAGE, env_url=aws)
    assert dry.returncode == 0, dry.stderr
    assert "Changes: 3 to launch" in dry.stdout
    # With the stand-in's override, the same run is carried out at --at (how tests walk).
    monkeypatch.setenv(FAKE_CLOCK_VARIABLE, "1")
    done = run_cli("apply", str(plan_file), "--at", at(0), "--state-dir", str(state),
                   "--image-id", IMAGE, "--yes", "--policy", "plan", env_url=aws)
    assert done.returncode == 0, done.stderr
    assert len(live("us-east-1")) == 2 and len(live("us-west-2")) == 1


def apply_at(plan_file: Path, state: Path, hour: int, url: str, *extra: str):
    return run_cli("apply", str(plan_file), "--at", at(hour), "--state-dir", str(state),
                   "--image-id", IMAGE, "--yes", "--policy", "plan", *extra, env_url=url)


def test_one_instance_that_cannot_be_terminated_is_one_problem(
        plan_file: Path, tmp_path: Path, aws: str) -> None:
    """The issue's case: an instance with termination protection made every reconcile stop
    at its terminate, so a slot due elsewhere never launched. At 12:00 slot 1 of the
    on-demand pool is over (its instance is to go: protected, it cannot) and slot 0 of the
    spot pool runs again (its instance was ended behind costopt's back: a launch). The
    launch happens; the terminate fails on its own, said, exit 1; once the protection is
    lifted the next run ends the instance."""
    import boto3

    state = tmp_path / "state"
    first = apply_at(plan_file, state, 0, aws)
    assert first.returncode == 0, first.stderr
    east = boto3.client("ec2", region_name="us-east-1")
    west = boto3.client("ec2", region_name="us-west-2")
    slot1 = next(i["InstanceId"] for i in live("us-east-1")
                 if {"Key": "costopt:slot", "Value": "1"} in i["Tags"])
    east.modify_instance_attribute(InstanceId=slot1, DisableApiTermination={"Value": True})
    [spot] = live("us-west-2")
    west.terminate_instances(InstanceIds=[spot["InstanceId"]])

    stuck = apply_at(plan_file, state, 12, aws)
    assert stuck.returncode == 1
    assert f"terminate of {slot1} (aws:us-east-1:p3.2xlarge:on_demand) failed: " \
        "TerminateInstances" in stuck.stdout
    assert "OperationNotPermitted" in stuck.stdout and "Traceback" not in stuck.stderr
    assert [i["InstanceId"] for i in live("us-west-2")] != [spot["InstanceId"]]
    assert len(live("us-west-2")) == 1  # the spot slot launched all the same
    assert slot1 in [i["InstanceId"] for i in live("us-east-1")]

    east.modify_instance_attribute(InstanceId=slot1, DisableApiTermination={"Value": False})
    again = apply_at(plan_file, state, 12, aws)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [i["InstanceId"] for i in live("us-east-1")] != [] and slot1 not in [
        i["InstanceId"] for i in live("us-east-1")]
    assert len(live("us-west-2")) == 1


def test_two_workloads_of_one_name_never_touch_each_others_fleet(
        plan_file: Path, other_team_plan: Path, tmp_path: Path, aws: str) -> None:
    """The issue's case: two teams, two ledgers, one account, two workloads both named
    ``orch-test``: each apply took the other's instances for the plan it replaces and ended
    them (36 launches in 6 rounds where 6 were needed). Each ledger tags its launches
    ``costopt:owner`` with its own id: each team runs its own 3 instances (2 on-demand in
    us-east-1, 1 spot in us-west-2), however often both apply, and each sees the other's."""
    import json

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for _round in range(2):
        for plan, state in ((plan_file, ours), (other_team_plan, theirs)):
            result = apply_at(plan, state, 0, aws)
            assert result.returncode == 0, result.stdout + result.stderr
    every = fleet("us-east-1") + fleet("us-west-2")
    assert len(every) == 6  # 6 launches, nothing ended
    assert {i["State"]["Name"] for i in every} == {"running"}
    owners: dict[str, list[str]] = {}
    for i in every:
        owners.setdefault({t["Key"]: t["Value"] for t in i["Tags"]}["costopt:owner"],
                          []).append(i["InstanceId"])
    assert sorted(len(v) for v in owners.values()) == [3, 3]
    again = apply_at(plan_file, ours, 0, aws)
    assert "No changes: the fleet matches the plan." in again.stdout
    assert "3 instance(s) carry the workload's name but belong to another ledger" \
        in again.stdout
    status = run_cli("status", "--state-dir", str(ours), "--at", at(1), "--format", "json",
                     env_url=aws)
    assert status.returncode == 0, status.stderr
    seen = json.loads(status.stdout)
    mine = {r["instance_id"] for r in seen["instances"]}
    other = {r["instance_id"] for r in seen["foreign_instances"]}
    assert len(mine) == 3 and len(other) == 3 and not mine & other
    assert mine | other == {i["InstanceId"] for i in every}


def test_a_ledger_moved_away_does_not_forget_what_was_spent(
        plan_file: Path, tmp_path: Path, aws: str) -> None:
    """The issue's case: moving the ledger away (as the damaged-ledger error advises) forgot
    the month's spend, and a refused launch was then allowed. At 00:00 the first ledger
    launches the plan's 3 instances. At 12:00, with a fresh ledger (they are another
    ledger's now: left alone), the plan's slot 0 of each pool is launched again, under a
    budget of 150 USD: with nothing spent, 6 h x 3.00 = 18.00 and 8 h x 12.00 (spot at its
    MaxPrice) = 96.00 would pass. AWS shows the 3 instances running: each counts from its
    LaunchTime (or the month's start) until 12:00 at its pool's price, spot at its bid."""
    import re
    from datetime import datetime

    from costopt.core.months import Month

    assert apply_at(plan_file, tmp_path / "first", 0, aws).returncode == 0
    moment = datetime.fromisoformat(at(12).replace("Z", "+00:00"))
    price = {"us-east-1": 3.0, "us-west-2": 12.0}
    spent = sum((moment - max(i["LaunchTime"], Month.of(moment).start)).total_seconds() / 3600
                * price[region] for region in price for i in live(region))
    result = apply_at(plan_file, tmp_path / "moved", 12, aws, "--monthly-budget", "150")
    assert result.returncode == 1
    said = [float(x.replace(",", "")) for x in re.findall(r"\(spent ([\d,.]+) so far",
                                                          result.stdout)]
    assert said and all(x == pytest.approx(spent, abs=0.01) for x in said)
    assert spent > 150
    assert len(live("us-east-1")) == 2 and len(live("us-west-2")) == 1  # nothing launched
