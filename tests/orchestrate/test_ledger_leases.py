"""Leases (one controller in charge of a workload) and launch claims, on both engines."""

from __future__ import annotations

import threading

import pytest
from fleet_plans import at

from costopt.orchestrate.ledger import LeaseLost, Ledger, SlotClaimed, StateLocation

POOL = "aws:us-east-1:p3.2xlarge:spot"


def take(ledger: Ledger, holder: str, now: float, ttl: float = 10.0, role: str = "watch"):
    return ledger.take_lease("lab", holder=holder, role=role, host=f"host-{holder}", pid=7,
                             now_epoch_s=now, ttl_s=ttl)


def launch(ledger: Ledger, run_id: str, slot: int) -> int:
    return ledger.intent(run_id=run_id, plan_id="p", at=at(0), kind="launch", pool=POOL,
                         slot=slot)


def test_a_lease_is_held_renewed_lapses_and_is_released(location: StateLocation) -> None:
    with Ledger.connect(location) as ledger:
        first = take(ledger, "a", 100.0)
        assert (first.holder, first.expires_epoch_s) == ("a", 110.0)
        # b asks while a's lease runs (until 110 s): it is a's still
        assert take(ledger, "b", 109.0).holder == "a"
        renewed = take(ledger, "a", 105.0)  # a renews: until 115 s, taken at 100 s still
        assert (renewed.acquired_epoch_s, renewed.expires_epoch_s) == (100.0, 115.0)
        ledger.lease_ticked("lab", "a", 106.0)
        assert ledger.lease_of("lab").last_tick_epoch_s == 106.0
        # a died: at 115 s its lease has lapsed and b takes it, its own from 115 s
        taken = take(ledger, "b", 115.0, role="apply")
        assert (taken.holder, taken.role, taken.acquired_epoch_s, taken.last_tick_epoch_s) \
            == ("b", "apply", 115.0, None)
        ledger.release_lease("lab", "a")  # not a's any more: nothing happens
        assert ledger.lease_of("lab").holder == "b"
        ledger.release_lease("lab", "b")
        assert ledger.lease_of("lab") is None and ledger.leases() == []


def test_intents_stop_once_the_lease_is_another_controllers(location: StateLocation) -> None:
    with Ledger.connect(location) as old, Ledger.connect(location) as new:
        take(old, "a", 100.0)
        old.hold("lab", "a")
        launch(old, "run-a", 0)
        take(new, "b", 111.0)  # a's lease lapsed at 110 s (a paused, say)
        with pytest.raises(LeaseLost) as info:
            launch(old, "run-a", 1)
        assert "the watch of pid 7 on host-b holds it now" in str(info.value)
        assert [a.slot for a in new.pending("p")] == [0]  # nothing written after the loss


def test_a_slot_launched_by_another_run_since_this_one_looked_is_refused(
        location: StateLocation) -> None:
    with Ledger.connect(location) as a, Ledger.connect(location) as b:
        launch(a, "run-0", 0)  # an earlier run launched slot 0: before anyone looked
        a.look()
        b.look()
        launch(b, "run-b", 0)  # a relaunch of slot 0 by b after both looked
        with pytest.raises(SlotClaimed) as info:
            launch(a, "run-a", 0)
        assert f"{POOL} slot 0 of plan p was launched by another controller (run run-b" in \
            str(info.value)
        launch(a, "run-a", 1)  # another slot: free
        launch(a, "run-a", 1)  # the same run again (its fallback to another zone): allowed
        b.result(b.pending("p")[1].id, "failed", detail="capacity: none")
        launch(a, "run-a", 0)  # b's launch failed: the slot is free again
        assert [(x.run_id, x.slot) for x in a.pending("p")] == [
            ("run-0", 0), ("run-a", 1), ("run-a", 1), ("run-a", 0)]


def test_two_controllers_claiming_one_slot_at_once_one_wins(location: StateLocation) -> None:
    """Twelve rounds of two threads, each with its own connection, looking and then claiming
    slot ``round`` together: exactly one launch intent per slot every round."""
    outcomes: list[str] = []
    for slot in range(12):
        gate = threading.Barrier(2)

        def claim(name: str, slot: int = slot, gate: threading.Barrier = gate) -> None:
            try:
                with Ledger.connect(location) as ledger:
                    ledger.look()
                    gate.wait(timeout=30)  # a thread that failed before it must not hang the other
                    try:
                        launch(ledger, name, slot)
                        outcomes.append("won")
                    except SlotClaimed:
                        outcomes.append("refused")
            except Exception as exc:  # the test reads it below, not the thread's hook
                outcomes.append(f"{type(exc).__name__}: {exc}")
                gate.abort()

        threads = [threading.Thread(target=claim, args=(f"run-{slot}-{i}",)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    with Ledger.connect(location) as ledger:
        slots = [x.slot for x in ledger.pending("p")]
    assert sorted(slots) == list(range(12))
    assert outcomes.count("won") == 12 and outcomes.count("refused") == 12
