"""A job's pace, worked by hand: 48 GPU-h due 60 h after its start, one gang doing 1 GPU-h
an hour, a restart costing 40 minutes (10 of setup + half of a 60-minute checkpoint
interval), as is a switch of market."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from costopt.orchestrate.pace import JobPace, PaceState, spot_dearer

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
RESTART_H = (10 + 60 / 2) / 60  # hours


def pace(hours: float, remaining: float) -> JobPace:
    return JobPace("train", T0 + timedelta(hours=hours), T0, T0 + timedelta(hours=60), 48.0,
                   remaining, 1.0, RESTART_H, RESTART_H)


def test_uniform_progress_line_is_the_need_at_the_start() -> None:
    # need0 = 48 / (1 x (60 - 2/3)) = 0.80899
    assert pace(0, 48).line == pytest.approx(48 / (60 - RESTART_H))
    assert pace(0, 48).state is PaceState.AHEAD  # exactly on the line, not by a switch


def test_behind_ahead_and_safely_ahead_at_ten_hours() -> None:
    # At 10 h, 49.333 h are left before the overhead: 40 GPU-h to go needs 0.8108 > 0.80899.
    assert pace(10, 40).state is PaceState.BEHIND
    # 39.6 to go: need 0.8027, on the line's good side; with a switch's 0.667 more, 0.8162:
    # not safely.
    assert pace(10, 39.6).state is PaceState.AHEAD
    # 39 to go: 0.7905; plus a switch 39.667 / 49.333 = 0.8041 <= 0.80899: safely ahead.
    assert pace(10, 39).state is PaceState.SAFE


def test_safely_ahead_counts_the_on_demand_work_of_the_lead() -> None:
    # On-demand runs on for a lead of 0.25 h after a switch to spot (until the spot instance
    # runs). Judged at 10 h, safely ahead needs C + 2/3 <= 0.80899 x 49.333 = 39.910: at
    # most 39.243 to go. Judged at the lead's end, 10.25 h, with its 0.25 GPU-h done:
    # C - 0.25 + 2/3 <= 0.80899 x (60 - 10.25 - 2/3) = 39.708: at most 39.291 to go.
    assert pace(10, 39.27).state is PaceState.AHEAD
    lead = replace(pace(10, 39.27), lead_hours=0.25)
    assert lead.state is PaceState.SAFE
    assert replace(pace(10, 39.3), lead_hours=0.25).state is PaceState.AHEAD
    # The lead moves only the safe side: behind stays behind (40 to go at 10 h).
    assert replace(pace(10, 40), lead_hours=0.25).state is PaceState.BEHIND


def test_critical_when_only_running_without_a_break_finishes() -> None:
    # At 50 h, 9.5 GPU-h to go in 10 - 2/3 h: need 1.018.
    assert pace(50, 9.5).state is PaceState.CRITICAL
    assert pace(50, 9.0).state is not PaceState.CRITICAL  # 0.964
    assert pace(60, 1.0).state is PaceState.CRITICAL  # no time left at all


def test_nothing_left_is_finished() -> None:
    assert pace(10, 0.0).state is PaceState.FINISHED


def dearer(interruptions: int, spot_hours: float, prior: float = 0.0,
           spot_usd: float = 1.0) -> bool:
    return spot_dearer(interruptions=interruptions, spot_hours=spot_hours, prior_per_hour=prior,
                       overhead_hours=RESTART_H, spot_usd_per_hour=spot_usd,
                       on_demand_usd_per_hour=3.0)


def test_spot_is_dearer_only_beyond_chance_at_the_break_even_rate() -> None:
    # Spot at 1 USD/h against 3 on demand saves 2/3 of an hour's price; each interruption
    # costs 2/3 h of work: break-even at r* = (2/3) / (2/3) = 1 interruption a spot-hour.
    # 3 spot-hours and the prior hour: 4 expected at r*, dearer beyond 4 + 2 x sqrt(4) = 8.
    assert not dearer(8, 3.0)
    assert dearer(9, 3.0)
    # Before any spot-hour the price data's rate, as if seen for an hour: 1 expected, the bar
    # 1 + 2 x 1 = 3: a rate of 2 an hour is not clearly dearer, 4 an hour is.
    assert not dearer(0, 0.0, prior=2.0)
    assert dearer(0, 0.0, prior=4.0)
    # Spot priced at on-demand's is dearer whatever it did.
    assert dearer(0, 10.0, spot_usd=3.0)
