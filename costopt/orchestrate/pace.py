"""A job's pace against its deadline: the arithmetic a deadline-aware policy decides on.

Pure. For a job at moment ``t`` with deadline ``D``:

- ``C``: the work still to do where the policy drives it (reference GPU-hours): what remains
  less the work the plan still has for it where the policy does not steer (owned servers,
  on-demand pools) before its deadline;
- ``R``: the work per wall hour when all its gangs on the pools the policy drives run;
- ``o``: the overhead of one restart still to pay (hours): ``setup_minutes`` of a fresh
  instance plus ``checkpoint_minutes / 2`` lost to an interruption;
- ``need = C / (R · (D − t − o))``: the share of the time left the job must run;
  ``need0`` the same at the job's start for all of its work (the slope of Uniform
  Progress's straight line, as a share of ``R``).

Uniform Progress is behind exactly when ``need > need0`` (its line from 0 at the start to
the work at ``D − o`` lies above the work done). With the spot availability ``a`` of the
job's pools known, the job is behind only when ``need > max(need0, a)``: spot alone, at the
availability it has, would no longer finish it - a line never above Uniform Progress's.
*Safely ahead* adds one switch's overhead to ``C``; *critical* is ``need >= 1``: only running
without a break from now on finishes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class PaceState(str, Enum):
    """Where a job stands, from the most pressed to the least."""

    CRITICAL = "critical"  # must run without a break from now on (need >= 1)
    BEHIND = "behind"  # behind the pace line
    AHEAD = "ahead"  # on or ahead of the line, not by a switch's overhead
    SAFE = "safe"  # ahead of the line by more than a switch's overhead
    FINISHED = "finished"  # nothing left to do where the policy steers


@dataclass(frozen=True)
class JobPace:
    """A job's pace at ``at``. ``remaining_gpu_hours``: ``C`` above; ``rate_gpu_hours_per_hour``:
    ``R``; ``overhead_hours``: ``o``; ``availability``: ``a`` (``None``: not known)."""

    job: str
    at: datetime
    start: datetime
    deadline: datetime
    needed_gpu_hours: float
    remaining_gpu_hours: float
    rate_gpu_hours_per_hour: float
    overhead_hours: float
    switch_hours: float
    availability: float | None = None

    def _need(self, work: float, start: datetime) -> float:
        hours = (self.deadline - start).total_seconds() / 3600 - self.overhead_hours
        if work <= 1e-9:
            return 0.0
        if hours <= 0 or self.rate_gpu_hours_per_hour <= 0:
            return float("inf")
        return work / (self.rate_gpu_hours_per_hour * hours)

    @property
    def need(self) -> float:
        """``need``: the share of the time left the job must run to finish by its deadline."""
        return self._need(self.remaining_gpu_hours, self.at)

    @property
    def line(self) -> float:
        """The need above which the job is behind: ``need0``, or ``max(need0, a)``."""
        need0 = self._need(self.needed_gpu_hours, min(self.start, self.at))
        return need0 if self.availability is None else max(need0, self.availability)

    @property
    def state(self) -> PaceState:
        if self.remaining_gpu_hours <= 1e-9:
            return PaceState.FINISHED
        need = self.need
        if need >= 1.0:
            return PaceState.CRITICAL
        if need > self.line:
            return PaceState.BEHIND
        safe_need = self._need(self.remaining_gpu_hours
                               + self.rate_gpu_hours_per_hour * self.switch_hours, self.at)
        return PaceState.SAFE if safe_need <= self.line else PaceState.AHEAD


def spot_efficiency(*, interruptions: int, spot_hours: float, prior_per_hour: float,
                    overhead_hours: float, prior_hours: float = 1.0) -> float:
    """The work a spot instance-hour does, as a share of an on-demand one (``e`` of spec v2
    without the availability): ``1 - r · o`` with ``r`` the interruptions per spot-hour seen
    so far, drawn towards the price data's ``prior_per_hour`` as if it had been seen for
    ``prior_hours``, and ``o`` what each costs (a fresh instance's setup and half a
    checkpoint interval, hours). At least 0."""
    rate = (interruptions + prior_per_hour * prior_hours) / (spot_hours + prior_hours)
    return max(0.0, 1.0 - rate * overhead_hours)
