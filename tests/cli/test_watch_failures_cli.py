"""A watch never leaves money running on an error (issue 26): end to end, ``costopt watch
--replan`` (in-process, its clock injected) against moto in server mode, over the one-job
plan of ``test_deadline_e2e`` (10 GPU-hours due at the end of 2027-01-04, p3.2xlarge in
us-east-1 at 1 USD/h spot, 3 on demand)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cli.fleet_cli import IMAGE, fleet
from cli.test_deadline_e2e import WORKLOAD, env, hours, plan_in
from orchestrate.aws_faults import Faults
from typer.testing import CliRunner, Result

from costopt.cli.main import app
from costopt.orchestrate.ledger import Ledger


@pytest.fixture
def planned(tmp_path: Path) -> Path:
    return plan_in(tmp_path)


def watch(planned: Path, state: Path, looks: list[float], at_each: dict[float, object],
          spot_back_at: float = 5, all_back_at: float = 0) -> Result:
    """``costopt watch --replan`` whose clock reads the hours ``looks`` in turn, calling
    ``at_each[hour]`` as it reads that hour; spot is refused until ``spot_back_at``, every
    launch until ``all_back_at``."""
    ticks: Iterator[float] = iter(looks)
    now = {"t": hours(0)}

    def clock() -> datetime:
        h = next(ticks)
        if h in at_each:
            at_each[h]()  # type: ignore[operator]
        now["t"] = hours(h)
        return now["t"]

    faults = Faults(capacity=lambda params: "InsufficientInstanceCapacity"
                    if now["t"] < hours(all_back_at) or (
                        "InstanceMarketOptions" in params and now["t"] < hours(spot_back_at))
                    else None)
    return CliRunner().invoke(app, ["watch", str(planned), "--state-dir", str(state),
                                    "--image-id", IMAGE, "--yes", "--interval", "1",
                                    "--replan"], obj=env(faults, clock))


def test_a_workload_that_becomes_invalid_mid_run_does_not_stop_the_watch(
        planned: Path, tmp_path: Path, aws: str) -> None:
    """Spot refused, on-demand launched and the rest re-planned (as in test_deadline_e2e).
    Then the workload file is changed into one that is no workload (a job of -5 GPU-hours)
    at 09:00. Before, the watch stopped there with exit 1 and the on-demand instance running
    (3 USD/h for ever). The controller read the workload when the watch started and goes on
    with it (re-plans included); at 24:00 the plan has ended and its fleet is gone: exit 0,
    nothing running."""
    workload = planned.parent / "workload.yaml"
    state = tmp_path / "state"

    def break_the_workload() -> None:
        workload.write_text(WORKLOAD.replace("gpu_hours: 10", "gpu_hours: -5"))

    result = watch(planned, state, [0, 4, 9, 12, 24], {9: break_the_workload})
    assert result.exit_code == 0, result.output
    assert "replanned: " in result.output and "no re-plan can be made" not in result.output
    assert "The plan has ended and its fleet is gone after 5 reconcile(s)." in result.output
    assert [i for i in fleet("us-east-1") if i["State"]["Name"] in ("pending", "running")] == []
    with Ledger.open(state) as ledger:
        assert all(r.end is not None and r.end <= hours(24)
                   for r in ledger.runtimes(hours(-1), hours(48)))


LATE = WORKLOAD.replace("days: 1}", "days: 2, period_hours: 12}").replace(
    "checkpoint_minutes: 60}", 'checkpoint_minutes: 60, deadline: "2027-01-04T12:00:00Z"}')
"""The job of WORKLOAD due at 12:00 on a horizon of two days (periods of 12 h)."""


def test_a_job_past_its_deadline_is_reported_late_and_finished(tmp_path: Path,
                                                                aws: str) -> None:
    """The issue's case: a job whose deadline passed stopped the watch (its rest was no valid
    workload). Here no capacity of any market is there until 13:00, so the 10 GPU-hours due
    at 12:00 cannot be done in time. The controller re-plans at each look before (spot
    refused, the job behind its plan) but every launch fails; at 13:00 the job is past its
    deadline with no slot serving it (the LATE event): the rest is re-planned due at the
    new plan's end (two days from 13:00), said late, and run on spot at 1 USD/h, the
    cheapest, from 13:00: 10 min of setup then 10 h, done at 23:10; the look at 06:00 ends
    it. Nothing runs at the end, and every instance that ran was the late re-plan's."""
    planned = plan_in(tmp_path, LATE)
    state = tmp_path / "state"
    result = watch(planned, state, [0, 4, 9, 11, 13, 14, 16, 20, 30, 48], {},
                   all_back_at=13)
    assert result.exit_code == 0, result.output
    assert result.output.count("replanned: train is past its deadline, its work not done, and "
                               "no slot serves it") == 1
    assert "late: train is past its deadline and not done: it is due at the new plan's end " \
        "(2027-01-06T13:00:00Z), on the cheapest capacity" in result.output
    assert "The plan has ended and its fleet is gone after 10 reconcile(s)." in result.output
    assert [i for i in fleet("us-east-1") if i["State"]["Name"] in ("pending", "running")] == []
    with Ledger.open(state) as ledger:
        late_plan = ledger.plan_in_force("deadline-e2e")[0]
        runs = sorted((r.start, r.end, r.market, r.plan_id)
                      for r in ledger.runtimes(hours(-1), hours(72)))
    assert runs == [(hours(13), hours(30), "spot", late_plan)]
    status = CliRunner().invoke(app, ["status", str(planned.with_name(
        f"plan.{late_plan}.json")), "--state-dir", str(state), "--at", hours(30).isoformat(),
        "--format", "json"], obj=env(Faults()))
    assert status.exit_code == 0, status.output
    (job,) = json.loads(status.output)["jobs"]
    assert (job["done_gpu_hours"], job["finished"]) == (10.0, "2027-01-04T23:10:00Z")
