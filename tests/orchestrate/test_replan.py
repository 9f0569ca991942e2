"""When ``watch --replan`` re-plans (:class:`ReplanTrigger`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from costopt.orchestrate.apply import ApplyOutcome
from costopt.orchestrate.pace import JobPace
from costopt.orchestrate.reconcile import FleetAction, Reconciliation
from costopt.orchestrate.replan import ReplanTrigger

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
POOL = "aws:us-east-1:p3.2xlarge:spot"


def outcome(failed: bool) -> ApplyOutcome:
    launch = FleetAction("launch", POOL, "us-east-1", "p3.2xlarge", "spot", 1.0, "slot 0",
                         slot=0)
    return ApplyOutcome("p", T0, False, Reconciliation((launch,)), [],
                        failed=[launch] if failed else [])


def pace(remaining: float) -> dict[str, JobPace]:
    # 10 GPU-h due in 24 h at 1 an hour, 2/3 h of restart; at 12:00: need0 0.4286, and
    # 6 to go is 6 / 11.33 = 0.53 (behind), 4 to go 0.35 (ahead).
    return {"train": JobPace("train", T0 + timedelta(hours=12), T0, T0 + timedelta(hours=24),
                             10.0, remaining, 1.0, 2 / 3, 2 / 3)}


def test_a_job_that_falls_behind_is_said_once() -> None:
    trigger = ReplanTrigger()
    assert trigger.reasons(outcome(False), pace(4.0)) == []
    assert trigger.reasons(outcome(False), pace(6.0)) == ["train fell behind its pace (behind)"]
    assert trigger.reasons(outcome(False), pace(6.0)) == []  # still behind: not again
    assert trigger.reasons(outcome(False), pace(4.0)) == []
    assert trigger.reasons(outcome(False), pace(6.0)) != []  # behind again


def test_a_pool_that_keeps_failing() -> None:
    trigger = ReplanTrigger(failures=3)
    assert trigger.reasons(outcome(True), pace(4.0)) == []
    assert trigger.reasons(outcome(True), pace(4.0)) == []
    assert trigger.reasons(outcome(True), pace(4.0)) == [f"{POOL} failed in 3 reconciles in a row"]
    assert trigger.reasons(outcome(True), pace(4.0)) == []  # counts start over
    assert trigger.reasons(outcome(False), pace(4.0)) == []  # a success breaks the row
    assert trigger.reasons(outcome(True), pace(4.0)) == []


def test_a_job_past_its_deadline_with_work_left_is_said_once() -> None:
    """Due at 24:00: at 25:00 with 2 GPU-h left it is late (and critical: a need of
    2 / (-1 - 2/3) h is no need that can be met), said as late, not as behind; once."""
    def late(remaining: float) -> dict[str, JobPace]:
        return {"train": JobPace("train", T0 + timedelta(hours=25), T0,
                                 T0 + timedelta(hours=24), 10.0, remaining, 1.0, 2 / 3, 2 / 3)}

    trigger = ReplanTrigger()
    assert trigger.reasons(outcome(False), pace(4.0)) == []
    assert trigger.reasons(outcome(False), late(2.0)) == ["train is past its deadline with "
                                                          "work left"]
    assert trigger.reasons(outcome(False), late(2.0)) == []  # still late: not again
    assert trigger.reasons(outcome(False), late(0.0)) == []  # done, though after its deadline
