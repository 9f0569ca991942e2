"""A job's pace, worked by hand: 48 GPU-h due 60 h after its start, one gang doing 1 GPU-h
an hour, a restart costing 40 minutes (10 of setup + half of a 60-minute checkpoint
interval), as is a switch of market."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from costopt.orchestrate.pace import JobPace, PaceState, spot_efficiency

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
RESTART_H = (10 + 60 / 2) / 60  # hours


def pace(hours: float, remaining: float, availability: float | None = None) -> JobPace:
    return JobPace("train", T0 + timedelta(hours=hours), T0, T0 + timedelta(hours=60), 48.0,
                   remaining, 1.0, RESTART_H, RESTART_H, availability)


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


def test_critical_when_only_running_without_a_break_finishes() -> None:
    # At 50 h, 9.5 GPU-h to go in 10 - 2/3 h: need 1.018.
    assert pace(50, 9.5).state is PaceState.CRITICAL
    assert pace(50, 9.0).state is not PaceState.CRITICAL  # 0.964
    assert pace(60, 1.0).state is PaceState.CRITICAL  # no time left at all


def test_known_availability_lowers_the_bar_to_what_spot_gives() -> None:
    # With spot there 90 % of the time the line is max(0.80899, 0.9) = 0.9: 40 to go at
    # 10 h (need 0.8108, with a switch 0.8243) is safely ahead, no longer behind.
    assert pace(10, 40, availability=0.9).state is PaceState.SAFE
    assert pace(10, 40, availability=0.5).state is PaceState.BEHIND  # line stays 0.80899


def test_nothing_left_is_finished() -> None:
    assert pace(10, 0.0).state is PaceState.FINISHED


def test_spot_efficiency_from_the_interruptions_seen() -> None:
    # 2 interruptions in 1 spot-hour, no prior rate, drawn over 1 prior hour: 2/2 = 1 an hour;
    # each costs 2/3 h: e = 1 - 2/3.
    assert spot_efficiency(interruptions=2, spot_hours=1.0, prior_per_hour=0.0,
                           overhead_hours=RESTART_H) == pytest.approx(1 / 3)
    # Before any spot-hour the price data's rate: 0.3 an hour -> e = 1 - 0.2 = 0.8.
    assert spot_efficiency(interruptions=0, spot_hours=0.0, prior_per_hour=0.3,
                           overhead_hours=RESTART_H) == pytest.approx(0.8)
    # Never below 0.
    assert spot_efficiency(interruptions=10, spot_hours=0.5, prior_per_hour=0.0,
                           overhead_hours=RESTART_H) == 0.0
