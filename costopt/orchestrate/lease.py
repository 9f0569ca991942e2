"""One controller in charge of a workload: the lease a ``watch`` or an ``apply`` holds in
the ledger while it acts (:meth:`~costopt.orchestrate.ledger.Ledger.take_lease`).

A :class:`LeaseKeeper` takes the lease - or waits for it as a standby, polling - and keeps
it from a heartbeat thread (its own connection) that renews it every third of its time to
live. A controller that dies (``kill -9``, a machine gone) renews no more: its lease lapses
``ttl_s`` seconds after the last renewal and a standby takes over at its next poll. A
controller that was only paused past its lease finds it gone at its next intent
(:class:`~costopt.orchestrate.ledger.LeaseLost`) and acts no more.

Lease times are the wall clock (seconds since 1970 UTC) of the machines involved: a team's
machines keep their clocks in step (NTP) to well under a lease's time to live.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from costopt.errors import CostoptError
from costopt.orchestrate.ledger import Lease, LeaseLost, Ledger

OpenLedger = Callable[[], Ledger]
"""Opens a new handle on the ledger (the heartbeat thread keeps one of its own)."""


@dataclass
class LeaseKeeper:
    """This process's claim to be in charge of ``workload`` as a ``role`` (watch or apply)
    for ``ttl_s`` seconds at a time."""

    open_ledger: OpenLedger
    workload: str
    role: str
    ttl_s: float
    clock_s: Callable[[], float] = time.time
    holder: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    lost_to: Lease | None = None  # set by the heartbeat when another controller took over
    last_error: Exception | None = None  # the heartbeat's last failure to reach the ledger

    def try_take(self, ledger: Ledger) -> Lease:
        """One attempt: the lease as it now stands (this keeper's when taken)."""
        return ledger.take_lease(self.workload, holder=self.holder, role=self.role,
                                 host=self.host, pid=self.pid, now_epoch_s=self.clock_s(),
                                 ttl_s=self.ttl_s)

    def mine(self, lease: Lease) -> bool:
        return lease.holder == self.holder

    def wait_for(self, ledger: Ledger, *, poll_s: float, wait: Callable[[float], bool],
                 on_standby: Callable[[Lease], None]) -> bool:
        """Take the lease, polling every ``poll_s`` seconds while another controller holds
        it (``on_standby`` is told who, once per holder). ``wait(seconds)`` sleeps and says
        whether to give up (a stop signal, a deadline): then ``False``."""
        told: str | None = None
        while True:
            lease = self.try_take(ledger)
            if self.mine(lease):
                return True
            if lease.holder != told:
                on_standby(lease)
                told = lease.holder
            if wait(poll_s):
                return False

    def check(self) -> None:
        """Raise :class:`LeaseLost` once the heartbeat found the lease in another's name."""
        if self.lost_to is not None:
            raise LeaseLost(f"this {self.role} lost its lease on workload {self.workload!r}; "
                            f"{self.lost_to.describe()} holds it now. It changes nothing "
                            "more. To fix: nothing - the controller in charge carries the "
                            "plan on; run `costopt status` to see it")

    def ticked(self, ledger: Ledger) -> None:
        """A reconcile finished now (``status`` shows it as the leader's last tick)."""
        ledger.lease_ticked(self.workload, self.holder, self.clock_s())

    @contextmanager
    def kept(self) -> Iterator[LeaseKeeper]:
        """Renew the lease (taken already) from a heartbeat thread while the block runs;
        release it after, so that a standby takes over at once."""
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(done,), daemon=True,
                                name=f"lease-{self.workload}")
        beat.start()
        try:
            yield self
        finally:
            done.set()
            beat.join()
            with self.open_ledger() as ledger:
                ledger.release_lease(self.workload, self.holder)

    def _heartbeat(self, done: threading.Event) -> None:
        """Renew at once (the thread's connection made), then every third of the lease's
        life, until ``done`` or another controller holds the lease."""
        ledger: Ledger | None = None
        while True:
            try:
                ledger = ledger or self.open_ledger()
                lease = self.try_take(ledger)
            except Exception as exc:  # noqa: BLE001 - the database is out of reach for now:
                self.last_error = exc  # try again at the next beat; the fence guards intents
            else:
                if not self.mine(lease):
                    self.lost_to = lease  # the next tick or intent raises LeaseLost
                    break
            if done.wait(self.ttl_s / 3):
                break
        if ledger is not None:
            ledger.close()


class WorkloadHeld(CostoptError):
    """Another controller is in charge of the workload: this one changes nothing."""


APPLY_TTL_S = 30.0
"""An apply's lease lives 30 s between renewals (a killed apply frees its workload then)."""
APPLY_WAIT_S = 600.0
"""How long an apply waits for another apply of the workload to finish."""


def take_for_apply(keeper: LeaseKeeper, ledger: Ledger, *, sleep: Callable[[float], None],
                   say: Callable[[str, str], None], wait_s: float = APPLY_WAIT_S) -> None:
    """Take the workload's lease for one apply run. While another apply holds it, wait (up
    to ``wait_s`` seconds, saying so, then saying how long); while a watch holds it, refuse
    (:class:`WorkloadHeld`: who, and what to do)."""
    start = keeper.clock_s()

    def standby(lease: Lease) -> None:
        if lease.role == "watch":
            raise WorkloadHeld(held_message(lease, keeper.workload, keeper.clock_s()))
        say("waiting", f"{lease.describe()} is applying a plan of workload "
            f"{keeper.workload!r}; this apply waits for it to finish (up to {wait_s:,.0f} s)")

    def waited(poll_s: float) -> bool:
        sleep(poll_s)
        return keeper.clock_s() - start > wait_s

    if not keeper.wait_for(ledger, poll_s=0.2, wait=waited, on_standby=standby):
        raise WorkloadHeld(f"workload {keeper.workload!r} was still held by another apply "
                           f"after {wait_s:,.0f} s; nothing was changed. To fix: run "
                           "`costopt status` to see who holds it, and try again")
    took = keeper.clock_s() - start
    if took >= 0.2:
        say("waited", f"{took:,.1f} s for another apply of workload {keeper.workload!r}; "
            "the fleet is looked at afresh now")


def held_message(lease: Lease, workload: str, now_epoch_s: float) -> str:
    """Why an apply refuses a workload a watch leads, and what to do."""
    tick = "no reconcile yet" if lease.last_tick_epoch_s is None else \
        f"last reconcile {now_epoch_s - lease.last_tick_epoch_s:,.0f} s ago"
    return (f"workload {workload!r} is in the hands of {lease.describe()} ({tick}; its lease "
            f"runs {lease.expires_epoch_s - now_epoch_s:,.0f} s more unless renewed). Nothing "
            "was changed. To fix: let that watch carry the plan out, stop it first (Ctrl-C "
            "lets it finish its reconcile), or pass --force (a launch is still claimed in "
            "the ledger first, so no slot is launched twice)")
