"""The controller carries the plan in force out exactly (issue 21): end to end, the installed
``costopt apply`` (the default policy: the controller's) in a child process against moto in
server mode, over the two-day plan of ``test_orchestrate_cli`` (two pretraining jobs on
p3.8xlarge spot in us-west-2, three evaluations on p3.2xlarge on-demand in us-east-1)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from cli.fleet_cli import IMAGE, fleet, run_cli, tags
from cli.test_orchestrate_cli import WORKLOAD, make_plan_file

from costopt.planfile import read_plan

LIVE = ("pending", "running")


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    return make_plan_file(tmp_path, WORKLOAD)


def live_slots() -> Counter[tuple[str, str]]:
    """(pool, slot) of every live instance in both regions."""
    return Counter((tags(i)["costopt:pool"], tags(i)["costopt:slot"])
                   for region in ("us-east-1", "us-west-2") for i in fleet(region)
                   if i["State"]["Name"] in LIVE)


def apply_at(plan_file: Path, state: Path, moment: str, aws: str) -> str:
    result = run_cli("apply", str(plan_file), "--at", moment, "--state-dir", str(state),
                     "--image-id", IMAGE, "--yes", env_url=aws)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_apply_again_a_minute_later_changes_nothing(plan_file: Path, tmp_path: Path, aws: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Five minutes into the plan (the issue's case: the old default policy launched two
    p3.8xlarge spot instances the plan does not hold there, and changed the fleet again a
    minute later) ``apply`` runs exactly the slots the plan holds at 00:05; ``apply`` at
    00:06, nothing having changed, does nothing: the same instances, no action."""
    monkeypatch.setenv("COSTOPT_FAKE_CLOCK", "1")
    state = tmp_path / "state"
    plan = read_plan(plan_file)
    moment = "2027-01-04T00:05:00Z"
    t = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    held = Counter((p.pool, str(s.slot)) for p in plan.fleet for s in p.slots
                   if s.start <= t < s.end)
    assert held  # the plan runs something at 00:05

    apply_at(plan_file, state, moment, aws)
    assert live_slots() == held  # what runs is what the plan holds, nothing else
    ids = {i["InstanceId"] for region in ("us-east-1", "us-west-2") for i in fleet(region)}

    again = apply_at(plan_file, state, "2027-01-04T00:06:00Z", aws)
    assert "No changes: the fleet matches the plan." in again
    assert {i["InstanceId"] for region in ("us-east-1", "us-west-2")
            for i in fleet(region)} == ids
    assert live_slots() == held
