"""The sweep's statistics on results written out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from costopt.risk.scenario import JobOutcome, ScenarioResult
from costopt.risk.stats import quantile, summarise

T0 = datetime(2027, 1, 1, tzinfo=timezone.utc)
DUE = T0 + timedelta(hours=24)


def result(index: int, usd: dict[str, float], finished: float | None,
           availability: float) -> ScenarioResult:
    at = T0 + timedelta(hours=finished) if finished is not None else None
    return ScenarioResult(
        index=index, seed=index, realised_usd=sum(usd.values()), cloud_usd=sum(usd.values()),
        owned_usd=0.0, interruptions=0,
        jobs=(JobOutcome("train", DUE, at, at is not None and at <= DUE, sum(usd.values())),),
        pool_usd=tuple(sorted(usd.items())), availability=(("spot-a", availability),))


def test_quantiles_are_costs_a_scenario_had() -> None:
    # Ten costs 1..10: P10 is the smallest with at least 1 of 10 at or under it (1); P50 the
    # smallest with 5 (5); P90 with 9 (9); a q of 0.95 needs 9.5 -> 10 of 10 (10).
    costs = [7.0, 1.0, 10.0, 3.0, 2.0, 9.0, 4.0, 8.0, 6.0, 5.0]
    assert [quantile(costs, q) for q in (0.1, 0.5, 0.9, 0.95)] == [1.0, 5.0, 9.0, 10.0]
    # Two values at 1/2 each: the median is the smaller (half are at or under it).
    assert quantile([36.0, 12.0], 0.5) == 12.0


def test_summary_of_ten_scenarios_worked_by_hand() -> None:
    # Eight scenarios cost 12 on spot-a (job done at 10 h); one 36 (6 spot-a + 30
    # on-demand-b, done at 20 h); one 40 (10 + 30, done at 30 h: late, its deadline is 24 h).
    rows = [result(i, {"spot-a": 12.0}, 10.0, 1.0) for i in range(8)]
    rows.append(result(8, {"spot-a": 6.0, "od-b": 30.0}, 20.0, 0.5))
    rows.append(result(9, {"spot-a": 10.0, "od-b": 30.0}, 30.0, 0.25))
    s = summarise(rows)
    # Sorted: 12 x 8, 36, 40. P10 = P50 = 12 (the 1st and 5th), P90 = 36 (the 9th), max 40.
    # Mean (8 x 12 + 36 + 40) / 10 = 17.2.
    assert (s.cost.p10_usd, s.cost.p50_usd, s.cost.p90_usd, s.cost.max_usd) == (
        12.0, 12.0, 36.0, 40.0)
    assert s.cost.mean_usd == pytest.approx(17.2)
    (job,) = s.jobs
    # Missed in 1 of 10; finishes sorted 10 x 8, 20, 30: P50 the 5th (10 h), P90 the 9th.
    assert job.miss_probability == pytest.approx(0.1)
    assert (job.p50_finish, job.p90_finish) == (T0 + timedelta(hours=10),
                                                T0 + timedelta(hours=20))
    # The tail: costs >= P90 = 36, scenarios 8 and 9. od-b: mean 60/10 = 6, tail 30, excess
    # 24; spot-a: mean (96 + 16)/10 = 11.2, tail 8, excess -3.2. Tail total 38 - 17.2 =
    # 20.8: od-b's share 24/20.8, spot-a's -3.2/20.8. spot-a's availability: mean
    # (8 + 0.75)/10 = 0.875, tail 0.375; od-b has no trace.
    assert s.tail_scenarios == 2
    od, spot = s.tail
    assert (od.pool, od.mean_usd, od.tail_mean_usd) == ("od-b", pytest.approx(6.0), 30.0)
    assert od.excess_usd == pytest.approx(24.0)
    assert od.excess_share == pytest.approx(24 / 20.8)
    assert od.mean_availability is None and od.tail_availability is None
    assert (spot.pool, spot.excess_usd, spot.excess_share) == (
        "spot-a", pytest.approx(-3.2), pytest.approx(-3.2 / 20.8))
    assert (spot.mean_availability, spot.tail_availability) == (
        pytest.approx(0.875), pytest.approx(0.375))


def test_p90_finish_is_none_when_more_than_a_tenth_never_finish() -> None:
    # 8 of 10 finish at 10 h, 2 never: the 9th finish is missing, so P90 is not finished,
    # and the median (the 5th) is 10 h; miss probability 2/10.
    rows = [result(i, {"spot-a": 12.0}, 10.0 if i < 8 else None, 1.0) for i in range(10)]
    (job,) = summarise(rows).jobs
    assert (job.miss_probability, job.p50_finish, job.p90_finish) == (
        pytest.approx(0.2), T0 + timedelta(hours=10), None)
