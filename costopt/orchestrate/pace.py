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

The job is behind exactly when ``need > need0``: Uniform Progress's line, from 0 at the start
to the work at ``D − o``, lies above the work done. (A line lowered to the pools' spot
availability ``a`` where ``a > need0`` - on-demand only once spot alone would no longer
finish - was measured dearer than Uniform Progress on 7 of 96 synthetic traces, by up to
30 %: a bet on ``a`` that loses whenever spot does worse than its average.) *Safely ahead*
adds one switch's overhead to ``C``; *critical* is ``need >= 1``: only running without a
break from now on finishes it.

*Lead*: where a switch from on-demand to spot keeps the on-demand instance running until a
later look sees the spot one run (``lead_hours``: the controller's spot-first rule keeps the
plan's on-demand slot to its next tick, one review), the job is safely ahead when it will be
once that lead is over, the on-demand instance's work in it counted:
``C - R · lead + R · switch <= need0 · R · (D - (t + lead) - o)``. Uniform Progress ends
on-demand the moment the job is safely ahead; judged at ``t``, the controller paid one review
of on-demand more than it at every such switch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    ``R``; ``overhead_hours``: ``o``; ``switch_hours``: the overhead of one switch of market
    (hours); ``lead_hours``: how long on-demand runs on after a switch to spot (the lead
    above)."""

    job: str
    at: datetime
    start: datetime
    deadline: datetime
    needed_gpu_hours: float
    remaining_gpu_hours: float
    rate_gpu_hours_per_hour: float
    overhead_hours: float
    switch_hours: float
    lead_hours: float = 0.0

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
        """The need above which the job is behind: ``need0``, Uniform Progress's slope."""
        return self._need(self.needed_gpu_hours, min(self.start, self.at))

    @property
    def state(self) -> PaceState:
        if self.remaining_gpu_hours <= 1e-9:
            return PaceState.FINISHED
        need = self.need
        if need >= 1.0:
            return PaceState.CRITICAL
        if need > self.line:
            return PaceState.BEHIND
        rate, lead = self.rate_gpu_hours_per_hour, self.lead_hours
        safe_need = self._need(self.remaining_gpu_hours + rate * (self.switch_hours - lead),
                               self.at + timedelta(hours=lead))
        return PaceState.SAFE if safe_need <= self.line else PaceState.AHEAD


def spot_dearer(*, interruptions: int, spot_hours: float, prior_per_hour: float,
                overhead_hours: float, spot_usd_per_hour: float,
                on_demand_usd_per_hour: float, prior_hours: float = 1.0,
                sigmas: float = 2.0) -> bool:
    """Whether spot has shown itself dearer per unit of work than on-demand, beyond chance.

    A spot instance-hour does ``1 - r · o`` of an on-demand one's work, with ``r`` its
    interruptions per spot-hour and ``o`` what each costs (a fresh instance's setup and half a
    checkpoint interval, hours); it costs ``s / d`` of one (spot and on-demand USD per
    instance-hour). Spot is dearer once ``r`` passes the break-even ``r* = (1 - s / d) / o``.
    The interruptions seen, ``n``, over ``h`` spot-hours (the price data's
    ``prior_per_hour`` counted as if seen for ``prior_hours`` more) are judged: dearer when
    ``n > r* · h + sigmas · sqrt(r* · h)``, more than chance (Poisson) would give at the
    break-even rate by ``sigmas`` standard deviations. Where spot is near break-even,
    leaving it is a bet that can only lose what it would save, so it takes clear evidence.
    Spot at or above the on-demand price is always dearer."""
    if spot_usd_per_hour >= on_demand_usd_per_hour:
        return True
    if overhead_hours <= 0:
        return False
    saved = 1.0 - spot_usd_per_hour / on_demand_usd_per_hour
    expected = saved / overhead_hours * (spot_hours + prior_hours)
    seen = interruptions + prior_per_hour * prior_hours
    return seen > expected + sigmas * math.sqrt(expected)


@dataclass(frozen=True)
class PaceBasis:
    """What a job's line takes from the plan in force, the same at every tick of it:
    ``first``, when its cloud work begins (its first use less its slot's setup, else its
    first slot; ``None``: no slot of the plan serves it), and ``rate``, the reference
    GPU-hours per hour of its line (:func:`~costopt.orchestrate.markets.shared_rate`, else
    :func:`~costopt.orchestrate.markets.cloud_rate`)."""

    first: datetime | None
    rate: float
