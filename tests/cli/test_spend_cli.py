"""Nothing spent that nobody asked for (issue 26), end to end: the real CLI against moto in
server mode on 127.0.0.1, over the plan of ``test_orchestrate_cli`` (at 2027-01-04T00:00 it
runs slots 0 and 1 of ``aws:us-east-1:p3.2xlarge:on_demand`` at 3.00 USD/h and slot 0 of
``aws:us-west-2:p3.8xlarge:spot`` at 3.60 USD/h)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli.fleet_cli import IMAGE, fleet, run_cli
from cli.test_orchestrate_cli import at, plan_file  # noqa: F401 (a fixture)

from costopt.orchestrate.guard import FAKE_CLOCK_VARIABLE


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
