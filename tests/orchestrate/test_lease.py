"""The lease keeper: heartbeat, standby, takeover, and an apply's wait or refusal."""

from __future__ import annotations

import time

import pytest

from costopt.orchestrate.lease import LeaseKeeper, WorkloadHeld, take_for_apply
from costopt.orchestrate.ledger import Lease, LeaseLost, Ledger, StateLocation


def keeper(location: StateLocation, name: str, role: str = "watch", ttl_s: float = 0.3,
           clock_s=time.time) -> LeaseKeeper:  # noqa: ANN001
    return LeaseKeeper(lambda: Ledger.connect(location), "lab", role, ttl_s, clock_s=clock_s,
                       holder=name, host=f"host-{name}", pid=1)


def test_the_heartbeat_keeps_the_lease_and_release_frees_it(location: StateLocation) -> None:
    a, b = keeper(location, "a", ttl_s=0.6), keeper(location, "b")
    with Ledger.connect(location) as ledger:
        assert a.mine(a.try_take(ledger))
        with a.kept():
            time.sleep(1.5)  # 2.5 times the lease's life: renewed every 0.2 s meanwhile
            assert b.try_take(ledger).holder == "a"
        assert ledger.lease_of("lab") is None  # released: b may take it at once
        assert b.mine(b.try_take(ledger))


def test_a_standby_takes_over_once_the_leader_stops_renewing(location: StateLocation) -> None:
    dead, standby = keeper(location, "dead", ttl_s=0.4), keeper(location, "standby")
    told: list[Lease] = []
    with Ledger.connect(location) as ledger:
        dead.try_take(ledger)  # then never renewed, as after a kill -9
        start = time.monotonic()
        assert standby.wait_for(ledger, poll_s=0.05, wait=lambda s: time.sleep(s) or False,
                                on_standby=told.append)
        took = time.monotonic() - start
        assert 0.2 < took < 1.0  # the lease's 0.4 s, less the time to start the wait
        assert [lease.holder for lease in told] == ["dead"]  # told once who leads
        assert ledger.lease_of("lab").holder == "standby"


def test_a_paused_leader_finds_its_lease_taken_and_stops(location: StateLocation) -> None:
    leader = keeper(location, "leader", ttl_s=0.3)
    # the other controller's clock reads 100 s later: to it, the lease has lapsed
    other = keeper(location, "other", clock_s=lambda: time.time() + 100)
    with Ledger.connect(location) as ledger:
        leader.try_take(ledger)
        with leader.kept():
            other.try_take(ledger)
            deadline = time.monotonic() + 10  # the heartbeat's next beat (and connection)
            while leader.lost_to is None and time.monotonic() < deadline:
                time.sleep(0.05)
            with pytest.raises(LeaseLost) as info:
                leader.check()
    assert "this watch lost its lease on workload 'lab'; the watch of pid 1 on host-other " \
        "holds it now" in str(info.value)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_an_apply_waits_for_another_apply_and_says_how_long(location: StateLocation) -> None:
    clock = FakeTime()
    first = keeper(location, "first", role="apply", ttl_s=1.0, clock_s=lambda: clock.now)
    second = keeper(location, "second", role="apply", clock_s=lambda: clock.now)
    said: list[tuple[str, str]] = []
    with Ledger.connect(location) as ledger:
        first.try_take(ledger)  # until 1001.0; it finishes without releasing (killed)
        take_for_apply(second, ledger, sleep=clock.sleep,
                       say=lambda kind, message: said.append((kind, message)))
        assert ledger.lease_of("lab").holder == "second"
    # polled every 0.2 s: free at the first poll past 1001.0, i.e. after 5 polls (1.0 s)
    assert said == [
        ("waiting", "the apply of pid 1 on host-first is applying a plan of workload 'lab'; "
                    "this apply waits for it to finish (up to 600 s)"),
        ("waited", "1.0 s for another apply of workload 'lab'; the fleet is looked at afresh "
                   "now")]


def test_an_apply_refuses_a_workload_a_watch_leads(location: StateLocation) -> None:
    clock = FakeTime()
    watch = keeper(location, "w", ttl_s=60, clock_s=lambda: clock.now)
    apply = keeper(location, "a", role="apply", clock_s=lambda: clock.now)
    with Ledger.connect(location) as ledger:
        watch.try_take(ledger)
        clock.sleep(12)
        watch.ticked(ledger)
        clock.sleep(3)
        with pytest.raises(WorkloadHeld) as info:
            take_for_apply(apply, ledger, sleep=clock.sleep, say=lambda _k, _m: None)
        assert ledger.lease_of("lab").holder == "w"
    # ticked 3 s ago; the lease, taken at 1000 s for 60 s, runs 45 s more
    assert str(info.value).startswith(
        "workload 'lab' is in the hands of the watch of pid 1 on host-w (last reconcile 3 s "
        "ago; its lease runs 45 s more unless renewed). Nothing was changed.")
