"""The watch loop and its stop flag."""

from __future__ import annotations

import os
import signal
from datetime import datetime

from fleet_plans import at, plan

from costopt.orchestrate.apply import ApplyOutcome
from costopt.orchestrate.reconcile import Reconciliation
from costopt.orchestrate.watch import StopFlag, watch


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
