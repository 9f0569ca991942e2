"""The deadline-aware policy end to end: ``costopt watch`` (the default policy) against moto
in server mode, spot refused then back (botocore's hooks inject
``InsufficientInstanceCapacity``), and ``status``/``progress`` reading the same ledger.

One 1-GPU job of 10 GPU-hours due at the end of 2027-01-04, p3.2xlarge in us-east-1 at
1 USD/h on spot and 3 on demand; setup 10 minutes, checkpoint every 60 (a restart costs
40 minutes). Uniform Progress's pace: 10 / (24 - 2/3) = 0.4286 of the time left.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from cli.fleet_cli import IMAGE, StopFlagThatNeverSleeps, fleet, tags
from orchestrate.aws_faults import Faults
from rich.console import Console
from typer.testing import CliRunner, Result

from costopt.cli.common import Env
from costopt.cli.main import app
from costopt.orchestrate.ledger import Ledger

T0 = datetime(2027, 1, 4, tzinfo=timezone.utc)
WORKLOAD = """
name: deadline-e2e
horizon: {start: 2027-01-04, days: 1}
cloud:
  regions: [us-east-1]
  instance_types: [p3.2xlarge]
  spot_availability_default: 1.0   # planned as one 10-hour spot slot, spot always there
  price_overrides:
    - {instance_type: p3.2xlarge, region: us-east-1, market: spot, usd_per_hour: 1.0}
    - {instance_type: p3.2xlarge, region: us-east-1, market: on_demand, usd_per_hour: 3.0}
  spot_interruptions_per_hour:
    - {instance_type: p3.2xlarge, region: us-east-1, rate: 0}
jobs:
  - {name: train, gpus: 1, gpu_hours: 10, interruptible: true, checkpoint_minutes: 60}
"""


@pytest.fixture
def planned(tmp_path: Path) -> Path:
    return plan_in(tmp_path)


def plan_in(folder: Path, workload: str = WORKLOAD) -> Path:
    """``costopt plan`` of ``workload`` in ``folder``: ``folder/plan.json``."""
    (folder / "workload.yaml").write_text(workload)
    result = CliRunner().invoke(app, ["plan", str(folder / "workload.yaml"), "-o",
                                      str(folder / "plan.json")])
    assert result.exit_code == 0, result.output
    return folder / "plan.json"


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def env(faults: Faults, clock: object = None) -> Env:
    wide = Console(width=200)
    return Env(console=wide, err=Console(stderr=True, width=200), session_factory=faults.session,
               stop_flag=StopFlagThatNeverSleeps, **({"clock": clock} if clock else {}))


def watch_while_spot_is_refused_until_five(planned: Path, state: Path, looks: list[float],
                                           *extra: str) -> Result:
    """``costopt watch`` whose clock reads the hours ``looks`` one after another, with spot
    refused everywhere (where AWS places it and in every zone) until 05:00."""
    ticks: Iterator[float] = iter(looks)
    now = {"t": hours(0)}

    def clock() -> datetime:
        now["t"] = hours(next(ticks))
        return now["t"]

    faults = Faults(capacity=lambda params: "InsufficientInstanceCapacity"
                    if "InstanceMarketOptions" in params and now["t"] < hours(5) else None)
    return CliRunner().invoke(app, ["watch", str(planned), "--state-dir", str(state),
                                    "--image-id", IMAGE, "--yes", "--interval", "1", *extra],
                              obj=env(faults, clock))


def test_watch_goes_on_demand_when_behind_and_back_to_spot(planned: Path, tmp_path: Path,
                                                           aws: str) -> None:
    state = tmp_path / "state"
    result = watch_while_spot_is_refused_until_five(planned, state, [0, 4, 9, 12, 15, 24],
                                                    "--policy", "deadline")
    assert result.exit_code == 0, result.output
    # The deadline policy (a baseline now).
    # 00:00 nothing done, need 10 / 23.33 = 0.4286, on the pace: spot only, refused.
    # 04:00 need 10 / (20 - 2/3) = 0.517 > 0.4286: behind -> on-demand launched.
    # 09:00 on-demand did 5 h less 10 min of setup = 4.8333; 5.1667 to go in 15 - 2/3 h
    #   (0.3605; with a switch's 2/3 more, 0.407 <= 0.4286): safely ahead -> the on-demand
    #   instance ends, spot (back since 05:00) launched.
    # 12:00 spot runs on. 14:20 finished (4.8333 + 5.1667 after 09:10). 15:00 nothing to
    #   do: the spot instance ends. 24:00 the plan's horizon is over.
    with Ledger.open(state) as ledger:
        runs = sorted((r.market, r.start, r.end, r.usd_per_hour)
                      for r in ledger.runtimes(hours(-1), hours(48)))
        refused_spot = [a for a in ledger.actions() if a.kind == "launch"
                        and a.status == "failed" and (a.detail or "").startswith("capacity:")]
    assert runs == [("on_demand", hours(4), hours(9), 3.0), ("spot", hours(9), hours(15), 1.0)]
    assert refused_spot and all(a.at == hours(0) for a in refused_spot)
    assert {i["State"]["Name"] for i in fleet("us-east-1")} == {"terminated"}
    markets = sorted(tags(i)["costopt:market"] for i in fleet("us-east-1"))
    assert markets == ["on_demand", "spot"]

    # status reads the job's progress from the same ledger: done when the runtimes say.
    status = CliRunner().invoke(app, ["status", str(planned), "--state-dir", str(state),
                                      "--at", hours(16).isoformat(), "--format", "json"],
                                obj=env(Faults()))
    assert status.exit_code == 0, status.output
    (job,) = json.loads(status.output)["jobs"]
    assert (job["done_gpu_hours"], job["finished"], job["pace"]) == (
        10.0, "2027-01-04T14:20:00Z", "finished")
    assert (job["on_demand_hours"], job["spot_hours"], job["interruptions"]) == (5.0, 6.0, 0)
    # The monthly report shows the same against the plan's pace.
    report = CliRunner().invoke(app, ["report", "--month", "2027-01", "--state-dir",
                                      str(state), "--at", hours(16).isoformat(), "--format",
                                      "json"], obj=env(Faults()))
    assert report.exit_code == 0, report.output
    (row,) = json.loads(report.output)["jobs_pace"]
    assert (row["job"], row["done_gpu_hours"], row["pace"]) == ("train", 10.0, "finished")

    # A report wins over the reckoning from then on: 3.0 done at 06:00, then the on-demand
    # instance's hour to 07:00 -> 4.0 (the ledger alone says 2.8333 at 07:00).
    said = CliRunner().invoke(app, ["progress", "train", "--done", "3", "--at",
                                    hours(6).isoformat(), "--state-dir", str(state)],
                              obj=env(Faults()))
    assert said.exit_code == 0, said.output
    status = CliRunner().invoke(app, ["status", str(planned), "--state-dir", str(state),
                                      "--at", hours(7).isoformat(), "--format", "json"],
                                obj=env(Faults()))
    (job,) = json.loads(status.output)["jobs"]
    assert job["done_gpu_hours"] == pytest.approx(4.0)
    # Planned by 07:00: the plan's slot uses 1 GPU for train from 00:10 (after setup): 6.8333.
    assert job["planned_by_now_gpu_hours"] == pytest.approx(7 - 1 / 6, abs=1e-4)


def test_progress_of_an_unknown_job_is_a_clear_error(planned: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["progress", "nope", "--done", "1", "--plan",
                                      str(planned), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "no job named 'nope'" in result.output and "jobs: train" in result.output


def test_resume_plans_what_is_left_and_keeps_the_running_instance(
        planned: Path, tmp_path: Path, aws: str) -> None:
    state = tmp_path / "state"
    first = CliRunner().invoke(app, ["apply", str(planned), "--at", hours(0).isoformat(),
                                     "--state-dir", str(state), "--image-id", IMAGE, "--yes"],
                               obj=env(Faults()))
    assert first.exit_code == 0, first.output
    (running,) = [i["InstanceId"] for i in fleet("us-east-1")]
    # At 05:00 the spot instance has done 5 h less 10 min of setup: 4.8333 of 10 GPU-h.
    rest = tmp_path / "rest.json"
    result = CliRunner().invoke(app, [
        "plan", str(tmp_path / "workload.yaml"), "--resume", str(planned), "--at",
        hours(5).isoformat(), "--state-dir", str(state), "-o", str(rest)], obj=env(Faults()))
    assert result.exit_code == 0, result.output
    doc = json.loads(rest.read_text())
    old_id = json.loads(planned.read_text())["plan_id"]
    assert (doc["resumes"]["plan_id"], doc["resumes"]["at"]) == (old_id, "2027-01-04T05:00:00Z")
    assert doc["resumes"]["done_gpu_hours"]["train"] == pytest.approx(5 - 1 / 6)
    # Only the rest is planned: 5.1667 GPU-h from 05:00 (19 hourly periods to the day's end)
    assert sum(a["work_gpu_hours"] for a in doc["assignments"]) == pytest.approx(
        10 - (5 - 1 / 6), abs=1e-4)
    assert min(a["period_start"] for a in doc["assignments"]) >= "2027-01-04T05:00:00Z"
    assert doc["horizon"]["start"] == "2027-01-04T05:00:00Z"
    # Applying the new plan keeps the instance that runs where it is wanted: it takes it
    # over from the plan it resumes (re-tagged), launches and ends nothing.
    second = CliRunner().invoke(app, ["apply", str(rest), "--at", hours(5).isoformat(),
                                      "--state-dir", str(state), "--image-id", IMAGE,
                                      "--yes"], obj=env(Faults()))
    assert second.exit_code == 0, second.output
    assert "0 to launch, 0 to start, 0 to stop, 0 to terminate, 1 to claim" in second.output
    (kept,) = fleet("us-east-1")
    assert (kept["InstanceId"], kept["State"]["Name"], tags(kept)["costopt:plan"]) == (
        running, "running", doc["plan_id"])
    # Its progress counts from the resume: by 08:00 three more hours, no new setup.
    status = CliRunner().invoke(app, ["status", str(rest), "--state-dir", str(state), "--at",
                                      hours(8).isoformat(), "--format", "json"],
                                obj=env(Faults()))
    assert status.exit_code == 0, status.output
    (job,) = json.loads(status.output)["jobs"]
    assert (job["done_gpu_hours"], job["needed_gpu_hours"]) == (
        pytest.approx(3.0), pytest.approx(10 - (5 - 1 / 6), abs=1e-4))


def test_watch_waits_out_a_refusal_and_replans_once_behind(planned: Path, tmp_path: Path,
                                                          aws: str) -> None:
    """The controller (the default): the plan is one spot slot in use1-az1 from 00:00 (10 h
    of work, a restart o = 10 min of setup + 30 min of lost work = 0.6667 h).
    00:00: spot refused in every zone. The job is not behind Uniform Progress's line (it
    starts one restart late), so it waits for spot: no on-demand fallback, nothing runs;
    use1-az1 is held until 01:00 - a short hold, waited out without a re-plan.
    04:00: nothing done. The line needs 10 / (24 - 2 x 0.6667) = 0.4412 of the time left,
    the job 10 / (24 - 4 - 0.6667) = 0.5172: behind - the slot runs on-demand (a swap). It is
    behind its plan too (its slot's use of 1 GPU from 00:10: 3.83 by 04:00, more than
    5 % of 10 + 0.67), and use1-az1 is no longer held: re-planned from 04:00 (plan 2), which
    claims the on-demand instance.
    09:00: spot is back (since 05:00). On-demand has done 5 h less 10 min of setup = 4.8333
    of plan 2's 10: 5.1667 + a switch's 0.6667 over 24 - 9 - 0.6667 h = 0.407, within plan
    2's line (10 / (20 - 2 x 0.6667) = 0.5357): safely ahead - spot is launched and the
    on-demand instance ended once it runs. The next look is at 24:00: the spot instance
    (done at 14:20) ends then."""
    state = tmp_path / "state"
    result = watch_while_spot_is_refused_until_five(planned, state, [0, 4, 9, 24])
    assert result.exit_code == 0, result.output
    assert "replanned: aws:us-east-1:p3.2xlarge:spot:use1-az1 has no spot" not in result.output
    assert result.output.count("replanned:") == 1
    assert "replanned: train is 3.83 GPU-h behind its planned progress and its pace line" \
        in result.output
    assert len(list(planned.parent.glob("plan.*.json"))) == 1
    with Ledger.open(state) as ledger:
        runs = sorted((r.market, r.start, r.end) for r in ledger.runtimes(hours(-1), hours(48)))
    assert runs == [("on_demand", hours(4), hours(9)), ("spot", hours(9), hours(24))]


def test_a_job_reports_its_progress_on_its_instance_tag(planned: Path, tmp_path: Path,
                                                         aws: str) -> None:
    state = tmp_path / "state"

    def apply_at(h: float) -> None:
        result = CliRunner().invoke(app, ["apply", str(planned), "--at", hours(h).isoformat(),
                                          "--state-dir", str(state), "--image-id", IMAGE,
                                          "--yes"], obj=env(Faults()))
        assert result.exit_code == 0, result.output

    apply_at(0)
    (instance,) = fleet("us-east-1")
    boto3.client("ec2", region_name="us-east-1").create_tags(
        Resources=[instance["InstanceId"]], Tags=[{"Key": "costopt:progress",
                                                   "Value": "train=6.5"}])
    apply_at(2)  # seen at 02:00: the job had done 6.5 GPU-h (the ledger alone says 1.8333)
    apply_at(3)  # the same value again: not a new report
    with Ledger.open(state) as ledger:
        plan_id = json.loads(planned.read_text())["plan_id"]
        assert [(r.at, r.done_gpu_hours, r.source) for r in ledger.progress_reports(plan_id)
                ] == [(hours(2), 6.5, "tag")]
    status = CliRunner().invoke(app, ["status", str(planned), "--state-dir", str(state),
                                      "--at", hours(3).isoformat(), "--format", "json"],
                                obj=env(Faults()))
    (job,) = json.loads(status.output)["jobs"]
    assert job["done_gpu_hours"] == pytest.approx(7.5)  # 6.5 at 02:00 + an hour since
