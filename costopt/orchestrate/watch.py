"""``costopt watch``: reconcile in a loop until the plan ends or the user stops it.

SIGINT (Ctrl-C) and SIGTERM only raise a flag: the reconcile under way finishes - every
intent gets its result - and the loop ends before the next one. Never half a reconcile.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType

from costopt.orchestrate.apply import ApplyOutcome


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


def watch(tick: Callable[[datetime], ApplyOutcome], *, clock: Callable[[], datetime],
          plan_end: datetime, interval_s: float, stop: StopFlag) -> list[ApplyOutcome]:
    """Run ``tick`` now and every ``interval_s`` seconds until the plan has ended and its
    fleet is gone, or ``stop`` is raised. Returns every run's outcome."""
    outcomes: list[ApplyOutcome] = []
    while True:
        at = clock()
        outcome = tick(at)
        outcomes.append(outcome)
        if at >= plan_end and not outcome.failed:
            return outcomes
        if stop.raised or stop.wait(interval_s):
            return outcomes
