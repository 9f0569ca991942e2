"""The watch loop and its stop flag."""

from __future__ import annotations

import os
import signal
from datetime import datetime

import pytest
from fleet_plans import at, plan

from costopt.errors import AwsError, CostoptError
from costopt.orchestrate.apply import ApplyOutcome
from costopt.orchestrate.reconcile import Reconciliation
from costopt.orchestrate.watch import Backoff, StopFlag, watch


def outcome(moment: datetime, *, failed: bool = False) -> ApplyOutcome:
    result = ApplyOutcome(plan().plan_id, moment, False, Reconciliation(()), [])
    if failed:
        result.failed.append(None)  # type: ignore[arg-type]
    return result


class FakeTime:
    """A clock that moves only when the loop waits."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def flag(self) -> StopFlag:
        fake = self

        class Flag(StopFlag):
            def wait(self, seconds: float) -> bool:
                fake.waits.append(seconds)
                fake.now = fake.now + (at(1) - at(0))
                return self.raised

        return Flag()


def test_runs_until_the_plan_has_ended() -> None:
    time = FakeTime(at(45))
    seen: list[datetime] = []
    outcomes = watch(lambda m: seen.append(m) or outcome(m), clock=time.clock,
                     plan_end=at(48), interval_s=3600, stop=time.flag())
    assert seen == [at(45), at(46), at(47), at(48)]
    assert len(outcomes) == 4 and time.waits == [3600] * 3


def test_a_failed_last_run_is_tried_again() -> None:
    time = FakeTime(at(48))
    results = iter([True, False])
    outcomes = watch(lambda m: outcome(m, failed=next(results)), clock=time.clock,
                     plan_end=at(48), interval_s=60, stop=time.flag())
    assert [o.at for o in outcomes] == [at(48), at(49)]


def test_a_raised_flag_ends_the_loop_after_the_run_under_way() -> None:
    time = FakeTime(at(0))
    stop = time.flag()

    def tick(moment: datetime) -> ApplyOutcome:
        stop.raise_flag("SIGINT")  # arrives mid-run: the run still completes
        return outcome(moment)

    outcomes = watch(tick, clock=time.clock, plan_end=at(48), interval_s=60, stop=stop)
    assert len(outcomes) == 1 and time.waits == []


def test_signals_raise_the_flag_instead_of_interrupting() -> None:
    stop = StopFlag()
    said: list[str] = []
    before = signal.getsignal(signal.SIGTERM)
    with stop.on_signals(said.append):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)
    assert stop.raised and stop.signal_name == "SIGINT" and said == ["SIGTERM"]
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_aws_error_is_reported_and_tried_again_after_a_growing_wait() -> None:
    time = FakeTime(at(47))
    errors = iter([AwsError("DescribeInstances in us-east-1 failed: Unavailable: x. To fix: "
                            "wait"), AwsError("again"), None])
    reported: list[tuple[str, int, float]] = []

    def tick(moment: datetime) -> ApplyOutcome:
        error = next(errors, None)
        if error is not None:
            raise error
        return outcome(moment)

    outcomes = watch(tick, clock=time.clock, plan_end=at(48), interval_s=600,
                     stop=time.flag(), backoff=Backoff(base_s=5, cap_s=300, jitter=0.5),
                     on_error=lambda e, n, d: reported.append((str(e)[:19], n, d)),
                     rand=lambda: 0.0)
    # two failures: waits of 5 and 5 x 2 = 10 s (no jitter drawn), then the run succeeds
    # at 49:00 (each wait moves the fake clock an hour), past the plan's end: done
    assert reported == [("DescribeInstances i", 1, 5.0), ("again", 2, 10.0)]
    assert time.waits == [5.0, 10.0]
    assert [o.at for o in outcomes] == [at(49)]


def test_an_unforeseen_fault_is_reported_and_tried_again_a_refusal_of_ours_ends_the_loop() -> None:
    """A tick that raises something not of costopt's own (a bug, a driver's error) must not
    leave the fleet unwatched: it is retried as an AWS error is (one wait of 5 s, no jitter
    drawn). A CostoptError other than AwsError (a lease lost, a damaged ledger) ends it."""
    time = FakeTime(at(47))
    faults = iter([KeyError("slot"), None])

    def tick(moment: datetime) -> ApplyOutcome:
        fault = next(faults, None)
        if fault is not None:
            raise fault
        return outcome(moment)

    reported: list[tuple[str, int]] = []
    outcomes = watch(tick, clock=time.clock, plan_end=at(48), interval_s=600,
                     stop=time.flag(), backoff=Backoff(base_s=5, cap_s=300, jitter=0.5),
                     on_error=lambda e, n, d: reported.append((type(e).__name__, n)),
                     rand=lambda: 0.0)
    assert reported == [("KeyError", 1)] and time.waits == [5.0]
    assert [o.at for o in outcomes] == [at(48)]

    def refused(moment: datetime) -> ApplyOutcome:
        raise CostoptError("this watch lost its lease")

    with pytest.raises(CostoptError, match="lost its lease"):
        watch(refused, clock=time.clock, plan_end=at(48), interval_s=600, stop=time.flag())


def test_the_backoff_doubles_is_capped_and_jittered() -> None:
    backoff = Backoff(base_s=5, cap_s=300, jitter=0.5)
    assert [backoff.delay_s(n, lambda: 0.0) for n in range(1, 8)] == [
        5, 10, 20, 40, 80, 160, 300]  # 5 x 2^6 = 320 is capped at 300
    assert backoff.delay_s(3, lambda: 1.0) == 10.0  # 20 less the most jitter, half
    assert backoff.delay_s(1000, lambda: 0.0) == 300  # no overflow after many failures


def test_a_flag_raised_before_the_first_run_runs_nothing() -> None:
    time = FakeTime(at(0))
    stop = time.flag()
    stop.raise_flag("SIGINT")
    assert watch(lambda m: outcome(m), clock=time.clock, plan_end=at(48), interval_s=60,
                 stop=stop) == []
    assert time.waits == []


def test_a_flag_raised_while_waiting_to_retry_ends_the_loop() -> None:
    time = FakeTime(at(0))
    stop = time.flag()

    def failing(moment: datetime) -> ApplyOutcome:
        raise AwsError("no")

    outcomes = watch(failing, clock=time.clock, plan_end=at(48), interval_s=60, stop=stop,
                     on_error=lambda *_: stop.raise_flag("SIGTERM"))
    assert outcomes == [] and len(time.waits) == 1
