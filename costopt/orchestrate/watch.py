"""``costopt watch``: reconcile in a loop until the plan ends or the user stops it - a
controller that does not die.

SIGINT (Ctrl-C) and SIGTERM only raise a flag: the reconcile under way finishes - every
intent gets its result - and the loop ends before the next one. Never half a reconcile.
A reconcile that fails on an AWS error (:class:`~costopt.errors.AwsError`: the call, the
code and what to do) is reported and tried again after an exponential, capped and jittered
backoff; the loop goes on until the plan ends or a signal stops it.
"""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from costopt.errors import AwsError, CostoptError

if TYPE_CHECKING:  # not imported at run time: watch installs its signal handlers first
    from costopt.orchestrate.controller import TickOutcome


class StopFlag:
    """Raised by a signal, read between reconciles; :meth:`wait` sleeps until it is raised."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    def raise_flag(self, signal_name: str) -> None:
        self.signal_name = signal_name
        self._event.set()

    @property
    def raised(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; ``True`` when the flag was raised meanwhile."""
        return self._event.wait(max(0.0, seconds))

    @contextmanager
    def on_signals(self, on_raise: Callable[[str], None]) -> Iterator[StopFlag]:
        """Raise the flag on SIGINT and SIGTERM while the block runs (main thread only)."""
        def handler(signum: int, _frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if not self.raised:
                on_raise(name)
            self.raise_flag(name)

        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


@dataclass(frozen=True)
class Backoff:
    """How long to wait after the ``n``-th failed reconcile in a row, in seconds:
    ``min(cap_s, base_s * 2**(n-1))``, less a random share of up to ``jitter`` of it (so
    that many watchers do not retry in step)."""

    base_s: float = 5.0
    cap_s: float = 300.0
    jitter: float = 0.5

    def delay_s(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        raw = min(self.cap_s, self.base_s * 2.0 ** min(failures - 1, 60))
        return raw * (1.0 - self.jitter * rand())


OnError = Callable[[Exception, int, float], None]
"""``(error, failures in a row, seconds until the next try)``: how the loop reports one."""


def watch(tick: Callable[[datetime], TickOutcome], *, clock: Callable[[], datetime],
          plan_end: datetime, interval_s: float, stop: StopFlag,
          backoff: Backoff | None = None, on_error: OnError | None = None,
          rand: Callable[[], float] = random.random) -> list[TickOutcome]:
    """Run ``tick`` (the controller's) now and every ``interval_s`` seconds until the plan
    has ended and its
    fleet is gone, or ``stop`` is raised (also before the first run). A run that raises
    :class:`AwsError`, or an error that is not one of costopt's own (a fault nobody
    foresaw: the fleet must not be left unwatched for it), is reported through ``on_error``
    and tried again after ``backoff``'s delay. costopt's other errors (a lease lost, a
    damaged ledger) end the loop: retrying cannot mend them. Returns every completed run's
    outcome."""
    backoff = backoff or Backoff()
    outcomes: list[TickOutcome] = []
    failures = 0
    while not stop.raised:
        at = clock()
        try:
            outcome = tick(at)
        except Exception as exc:
            if isinstance(exc, CostoptError) and not isinstance(exc, AwsError):
                raise
            failures += 1
            delay = backoff.delay_s(failures, rand)
            if on_error is not None:
                on_error(exc, failures, delay)
            if stop.wait(delay):
                break
            continue
        failures = 0
        outcomes.append(outcome)
        if at >= plan_end and not outcome.failed:
            break
        if stop.raised or stop.wait(interval_s):
            break
    return outcomes
