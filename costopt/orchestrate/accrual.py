"""Work accrued over time (pure): a job's work is done at rates over segments of time and
lost at moments (an interruption's), and its need is reached at some moment, or not yet.

The events are walked in time order (:func:`events_of`); an :class:`Accrual` is where such a
walk stands, so a walk stopped before some moment resumes there when later events come
(progress is asked tick after tick, and what happened before the last tick stays as it was).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter

Event = tuple[datetime, int, float]
"""``(moment, kind, change)``: kind 0, the rate of work changes by ``change`` (reference
GPU-hours per hour); kind 1, ``change`` reference GPU-hours are lost."""

RATE = 0
LOSS = 1


def events_of(segments: Iterable[tuple[datetime, datetime, float]],
              losses: Iterable[tuple[datetime, float]]) -> list[Event]:
    """The events of work done at ``rate`` over segments ``(from, to, rate)`` and of losses
    ``(moment, GPU-hours)``, in time order; at one moment the rates change before the losses,
    each kind in the order given."""
    events: list[Event] = []
    for a, b, rate in segments:
        events.append((a, RATE, rate))
        events.append((b, RATE, -rate))
    events += [(moment, LOSS, lost) for moment, lost in losses]
    events.sort(key=itemgetter(0, 1))
    return events


@dataclass
class Accrual:
    """A walk over a job's events: the work done by the last event walked (reference
    GPU-hours, never below 0), the rate after it (per hour) and its moment; once the work
    reached what the job needs, ``reached``: the need and that moment (the walk stops)."""

    work: float = 0.0
    rate: float = 0.0
    previous: datetime | None = None
    reached: tuple[float, datetime] | None = None

    def copy(self) -> Accrual:
        return Accrual(self.work, self.rate, self.previous, self.reached)

    def walk(self, events: Iterable[Event], needed: float, done_from: float) -> None:
        """Walk ``events`` (in time order, none before the last walked): the need
        ``needed`` is reached at the moment the work reaches ``done_from`` (the need less
        its tolerance), within the segment it is reached in."""
        if self.reached is not None:
            return
        work, rate, previous = self.work, self.rate, self.previous
        for moment, kind, change in events:
            if previous is not None and rate > 1e-12:
                gained = rate * ((moment - previous).total_seconds() / 3600)
                if work + gained >= done_from:  # within the tolerance: by ``moment`` at
                    # the latest
                    self.reached = (needed, min(moment, previous + timedelta(
                        hours=(needed - work) / rate)))
                    return
                work += gained
            if kind == RATE:
                rate += change
            else:
                work = max(0.0, work - change)
            previous = moment
        self.work, self.rate, self.previous = work, rate, previous

    @property
    def result(self) -> tuple[float, datetime | None]:
        """The work done (the need once reached) and the moment the need was reached."""
        return self.reached if self.reached is not None else (self.work, None)
