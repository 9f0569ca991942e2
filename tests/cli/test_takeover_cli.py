"""A newer plan of a workload takes the older plan's fleet over: end to end, the installed
``costopt`` in a child process against moto in server mode on 127.0.0.1.

The issue's case: plan ``examples/workload.yaml``, change its ``budget_usd``, plan again and
apply both. At 2027-01-04T00:00 each plan runs one spot instance in us-east-1 (the deadline
policy, the default, runs a spot pool while its jobs are in their windows): slot 0 of
p4d.24xlarge in use1-az1 (the cheapest zone; the 96-vCPU spot P quota holds one p4d at
once). Before the takeover, the second apply launched another beside the first: 2 running.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from cli.fleet_cli import IMAGE, apply, fleet, plan, run_cli, running, states, tags
from orchestrate.aws_faults import Crash, Faults

from costopt.orchestrate.ledger import Ledger

EXAMPLE = Path(__file__).parents[2] / "examples" / "workload.yaml"
START = "2027-01-04T00:00:00Z"
DEADLINE = ("--policy", "deadline")  # the takeover cases were worked with the deadline
# policy (a baseline now), which runs the p4d spot pool from the horizon's start
pytestmark = pytest.mark.xdist_group("takeover")  # one worker plans the example, once


@pytest.fixture(scope="module")
def example_plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    folder = tmp_path_factory.mktemp("example")
    text = EXAMPLE.read_text()
    assert "budget_usd: 12000 " in text
    (folder / "w.yaml").write_text(text)
    (folder / "sub").mkdir()
    (folder / "sub" / "w.yaml").write_text(text.replace("budget_usd: 12000 ",
                                                        "budget_usd: 11000 "))
    first = plan(folder / "w.yaml", folder / "first.json")
    # the same workload through another path is the same plan: the id hashes no path
    assert plan(folder / "sub" / ".." / "w.yaml", folder / "again.json") == first
    second = plan(folder / "sub" / "w.yaml", folder / "second.json")
    assert second != first and second.startswith("lab-jan-2027-")
    return folder / "first.json", folder / "second.json", first, second


def test_a_replan_takes_the_fleet_over_instead_of_starting_a_second_one(
        example_plans: tuple[Path, Path, str, str], tmp_path: Path, aws: str) -> None:
    first_file, second_file, first, second = example_plans
    state = tmp_path / "state"
    result = apply(first_file, state, START, aws, *DEADLINE, "--yes")
    assert result.returncode == 0, result.stderr + result.stdout
    assert sorted(i["InstanceType"] for i in running()) == ["p4d.24xlarge"]

    diff = apply(second_file, state, START, aws, *DEADLINE)  # dry run: the diff
    assert diff.returncode == 0, diff.stderr
    assert "found 1 instance(s) of its workload, 1 running, before any change; 1 older " \
        "plan(s) of the workload to take over." in diff.stdout
    assert diff.stdout.count(f"of the plan {first} this one replaces; serves slot 0") == 1
    assert "Changes: 0 to launch, 0 to start, 0 to stop, 0 to terminate, 1 to claim from an " \
        "older plan. Fleet cost" in diff.stdout

    result = apply(second_file, state, START, aws, *DEADLINE, "--yes")
    assert result.returncode == 0, result.stderr + result.stdout
    now = running()
    assert len(now) == 1  # not 2: the new plan's fleet only
    assert sorted(i["InstanceType"] for i in now) == ["p4d.24xlarge"]
    assert {tags(i)["costopt:plan"] for i in now} == {second}
    assert {tags(i)["Name"].split("/")[0] for i in now} == {second}
    with Ledger.open(state) as ledger:
        assert ledger.plan_in_force("lab-jan-2027")[0] == second
        assert {i.plan_id for i in ledger.instances()} == {second}
        assert [(a.kind, a.status) for a in ledger.actions(second)] == [("claim", "ok")]

    again = apply(second_file, state, START, aws, *DEADLINE, "--yes")
    assert "No changes: the fleet matches the plan." in again.stdout


def test_an_older_plan_is_refused_after_a_newer_one_unless_reinstated(
        example_plans: tuple[Path, Path, str, str], tmp_path: Path, aws: str) -> None:
    first_file, second_file, first, second = example_plans
    state = tmp_path / "state"
    assert apply(first_file, state, START, aws, *DEADLINE, "--yes").returncode == 0
    assert apply(second_file, state, START, aws, *DEADLINE, "--yes").returncode == 0
    before = states("us-east-1")

    older = apply(first_file, state, "2027-01-04T01:00:00Z", aws, "--yes")
    assert older.returncode == 1 and "Traceback" not in older.stderr
    assert f"plan {first} of workload 'lab-jan-2027' was replaced by plan {second} on " \
        "2027-01-04T00:00:00Z" in older.stderr.replace("\n", "")
    assert states("us-east-1") == before

    # The plan's own slots (--policy plan), an hour into its p4d slot: by this plan's ledger
    # its jobs did nothing while the newer plan held the instance, so the deadline policy
    # would find them behind and swap the spot instance for on-demand, as Uniform Progress
    # does.
    (slot,) = next(f for f in json.loads(first_file.read_text())["fleet"]
                   if "p4d" in f["pool"])["slots"][:1]
    hour_in = (datetime.fromisoformat(slot["start"]) + timedelta(hours=1)).isoformat()
    back = apply(first_file, state, hour_in, aws, "--yes", "--reinstate", "--policy", "plan")
    assert back.returncode == 0, back.stderr
    assert states("us-east-1") == before  # the same instance, claimed back
    assert {tags(i)["costopt:plan"] for i in running()} == {first}


SMALL = """
name: takeover-small
horizon: {start: 2027-01-04, days: 1, period_hours: 12}
cloud:
  regions: [us-east-1]
  instance_types: [p3.2xlarge]
  markets: [on_demand]
  setup_minutes: 0            # the slots below are the hours as planned
  min_instance_minutes: 0
  price_overrides:
    - {instance_type: p3.2xlarge, region: us-east-1, market: on_demand, usd_per_hour: 3.0}
jobs:
  - {name: eval-long, gpus: 1, gpu_hours: 24}
"""
SHORT_JOB = '  - {name: eval-short, gpus: 1, gpu_hours: 12, deadline: "2027-01-04T12:00:00Z"}\n'


def test_a_newer_plan_that_wants_less_ends_the_rest_and_status_prices_what_it_claimed(
        tmp_path: Path, aws: str) -> None:
    # The older plan runs eval-long on slot 0 over [00:00, 24:00) and eval-short on slot 1
    # over [00:00, 12:00), one p3.2xlarge each at 3.00 USD/h; the newer one drops eval-short.
    (tmp_path / "both.yaml").write_text(SMALL + SHORT_JOB)
    (tmp_path / "one.yaml").write_text(SMALL)
    older = plan(tmp_path / "both.yaml", tmp_path / "older.json")
    newer = plan(tmp_path / "one.yaml", tmp_path / "newer.json")
    state = tmp_path / "state"
    assert apply(tmp_path / "older.json", state, START, aws, "--yes").returncode == 0
    assert len(running()) == 2

    result = apply(tmp_path / "newer.json", state, "2027-01-04T01:00:00Z", aws, "--yes")
    assert result.returncode == 0, result.stderr
    [kept] = running()
    assert tags(kept)["costopt:plan"] == newer
    assert sorted(states("us-east-1").values()) == ["running", "terminated"]
    assert f"(of the plan {older} this one replaces)" in result.stdout

    status = run_cli("status", str(tmp_path / "newer.json"), "--state-dir", str(state),
                     "--at", "2027-01-04T02:00:00Z", "--format", "json", env_url=aws)
    assert status.returncode == 0, status.stderr
    [row] = json.loads(status.stdout)["instances"]
    # claimed at 01:00 at the same price: billed 3.00 USD/h since 00:00, 2 h = 6.00 USD
    assert (row["instance_id"], row["usd_per_hour"], row["cost_usd"]) == (
        kept["InstanceId"], 3.0, 6.0)


@pytest.fixture(scope="module")
def small_plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The older plan of SMALL with eval-short, the newer without (as above), and its id."""
    folder = tmp_path_factory.mktemp("small")
    (folder / "both.yaml").write_text(SMALL + SHORT_JOB)
    (folder / "one.yaml").write_text(SMALL)
    plan(folder / "both.yaml", folder / "older.json")
    return folder / "older.json", folder / "newer.json", plan(folder / "one.yaml",
                                                              folder / "newer.json")


def _dies_after(monkeypatch: pytest.MonkeyPatch, method: str, when: Callable[..., bool]
                ) -> None:
    """``Ledger.method`` does its work, then the process dies (the first call ``when``
    accepts)."""
    original = getattr(Ledger, method)

    def then_die(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        if when(*args, **kwargs):
            raise Crash(f"the process died after Ledger.{method}")
        return out

    monkeypatch.setattr(Ledger, method, then_die)


KILL_POINTS = {
    "the claim's intent": ("intent", lambda **kw: kw.get("kind") == "claim"),
    "CreateTags": None,
    "the instance's new record": ("instance_claimed", lambda *a, **kw: True),
    "the claim's result": ("result", lambda *a, **kw: a[1:] == ("ok",)),
}


@pytest.mark.parametrize("kill_after", list(KILL_POINTS))
def test_a_takeover_killed_after_any_call_ends_with_tags_and_ledger_agreeing(
        kill_after: str, small_plans: tuple[Path, Path, str], tmp_path: Path, aws: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: SIGKILL after CreateTags went through left AWS saying the new plan
    owns the instance and the ledger the old plan, for good. The takeover is intent, then
    tags, then the ledger's record, then the result; the process dies after each in turn
    (before the terminate of the instance the newer plan does not want). The next run
    finishes or undoes it: one instance runs, tagged with the newer plan, which the ledger
    holds it under at its price (3.00 USD/h); the claim is done once, and nothing is open."""
    from rich.console import Console
    from typer.testing import CliRunner

    from costopt.cli.common import Env
    from costopt.cli.main import app

    older_file, newer_file, newer = small_plans
    state = tmp_path / "state"
    assert apply(older_file, state, START, aws, "--yes").returncode == 0
    before = {i["InstanceId"] for i in running()}

    point = KILL_POINTS[kill_after]
    faults = Faults(crash_after="CreateTags" if point is None else None)
    with monkeypatch.context() as patch:
        if point is not None:
            _dies_after(patch, *point)
        killed = CliRunner().invoke(app, [
            "apply", str(newer_file), "--at", "2027-01-04T01:00:00Z", "--state-dir",
            str(state), "--image-id", IMAGE, "--yes"],
            obj=Env(console=Console(width=200), err=Console(stderr=True, width=200),
                    session_factory=faults.session))
    assert isinstance(killed.exception, Crash), killed.output
    assert len(running()) == 2  # killed before the terminate

    again = apply(newer_file, state, "2027-01-04T01:00:00Z", aws, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    [now] = running()
    assert now["InstanceId"] in before and tags(now)["costopt:plan"] == newer
    with Ledger.open(state) as ledger:
        record = next(i for i in ledger.instances() if i.instance_id == now["InstanceId"])
        assert (record.plan_id, record.usd_per_hour) == (newer, 3.0)
        assert ledger.pending(newer) == []
        claims = [a.status for a in ledger.actions(newer) if a.kind == "claim"]
    # killed before AWS saw it: undone, claimed again; after: finished, not claimed again
    assert claims == (["failed", "ok"] if kill_after == "the claim's intent" else ["ok"])
    assert "No changes" in apply(newer_file, state, "2027-01-04T01:00:00Z", aws).stdout


GANG = '  - {name: pair, gpus: 1, nodes: 2, gpu_hours: 48, run: "python train.py"}\n'


def test_a_replan_claims_a_running_gang_whole_and_starts_its_stopped_rank(
        tmp_path: Path, aws: str) -> None:
    """The issue's case: with an identical fleet, the new plan terminated the older plan's
    2-node gang and launched it again, and left one old rank stopped (9 instances where 7
    were wanted). Each job of SMALL + GANG needs p3.2xlarge (1 GPU, 3.00 USD/h) all day: 48
    GPU-h on 2 nodes and 24 GPU-h on one in 24 h: the plan runs the gang's ranks 0 and 1 and
    eval-long from 00:00, 3 launches. At 01:00 rank 1 has been stopped behind costopt's back, and
    the plan is made again from its progress (``plan --resume``: another plan id). Applying it
    claims the three instances, starts the stopped rank: the same 3 ids, all running, none
    launched or terminated."""
    (tmp_path / "w.yaml").write_text(SMALL + GANG)
    state = tmp_path / "state"
    first = plan(tmp_path / "w.yaml", tmp_path / "first.json")
    result = apply(tmp_path / "first.json", state, START, aws, "--yes")
    assert result.returncode == 0, result.stderr + result.stdout
    launched = states("us-east-1")
    assert sorted(launched.values()) == ["running"] * 3
    ranks = {tags(i)["costopt:node-rank"]: i for i in fleet("us-east-1")
             if "costopt:gang" in tags(i)}
    assert sorted(ranks) == ["0", "1"]
    gang_ids = {tags(i).get("costopt:gang-id") for i in ranks.values()}
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
    now = {i["InstanceId"]: i for i in fleet("us-east-1")}
    assert {k: i["State"]["Name"] for k, i in now.items()} == {k: "running" for k in launched}
    assert {tags(i)["costopt:plan"] for i in now.values()} == {second}
    # the ranks are still one gang: the id their user data finds rank 0 by is kept
    [gang_id] = gang_ids
    assert gang_id is not None and gang_id.startswith(f"{first}.g")
    assert sorted((tags(i)["costopt:node-rank"], tags(i)["costopt:gang-id"])
                  for i in now.values() if "costopt:gang" in tags(i)) == [
        ("0", gang_id), ("1", gang_id)]
    with Ledger.open(state) as ledger:
        assert {i.plan_id for i in ledger.instances()} == {second}
        assert sorted(a.kind for a in ledger.actions(second)) == [
            "claim", "claim", "claim", "start"]

    again = apply(tmp_path / "second.json", state, "2027-01-04T02:00:00Z", aws)
    assert "No changes: the fleet matches the plan." in again.stdout, again.stdout

    # The first plan's file, now that its re-plan is in force: apply follows the plan in
    # force (docs/orchestrator.md), written beside the file, and changes nothing.
    stale = apply(tmp_path / "first.json", state, "2027-01-04T02:00:00Z", aws, "--yes")
    assert stale.returncode == 0, stale.stderr + stale.stdout
    assert f"following: plan {first} was re-planned since (1 re-plan(s)): this apply carries " \
        f"out the plan in force, {second} (since 2027-01-04T01:00:00Z), written to " \
        f"{tmp_path / f'first.{second}.json'}" in " ".join(stale.stdout.split())
    assert "No changes: the fleet matches the plan." in stale.stdout
    assert {tags(i)["costopt:plan"] for i in fleet("us-east-1")} == {second}
