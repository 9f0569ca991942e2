"""Sweeps of tiny cases carried out by ``simulate``, worked by hand.

The case (``tests/simulate/sim_cases.py``): one 1-GPU job of 10 GPU-hours due at the end of
2027-01-01, p3.2xlarge in us-east-1 at 1 USD/h spot and 3 USD/h on demand; 10 minutes of
setup per launch. By default each scenario runs the controller ``apply`` and ``watch`` run
(``--policy plan``), re-planning on events; ``replan=False`` (``--no-replan``) carries the
plan out as written (a spot slot that finds no capacity falls back to on-demand until the
slot ends).
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import catalog, offer
from simulate.sim_cases import SPOT, at, hourly, one_job, planned, prices, stretched

from costopt.errors import InputFileError
from costopt.risk.assess import assess
from costopt.risk.scenario import RiskInputs
from costopt.risk.scenarios import (
    DEFAULT_STATS,
    SyntheticSource,
    WindowSource,
    ZoneStats,
    plan_zone_stats,
    scenario_seeds,
    synthetic_source,
)
from costopt.traces import Trace

ALWAYS = SyntheticSource({SPOT: ZoneStats(1.0, 0.25)})
"""Spot always there: availability 1, no drops."""


SETUP_PAID = {"setup_minutes": 10}
"""The workload planned with the 10 minutes of setup each launch pays."""


def test_spot_always_there_every_scenario_costs_the_plan() -> None:
    """The plan, setup paid: one spot slot 00:00-10:10 (10 GPU-h + 10 min setup) =
    10.1667 USD. With spot always there the controller carries it out as written - no
    refusal, the job on its planned progress, done as its slot ends - so no event and no
    re-plan: every scenario costs 10.1667 USD, the job done at 10:10, never late."""
    w, cat = one_job(10, **SETUP_PAID), prices()
    plan = planned(w, cat)
    doc = assess(RiskInputs(plan, w, cat, ALWAYS), scenarios=5, seed=3, workers=1)
    assert plan.cost.variable_usd == pytest.approx(10 + 10 / 60)
    assert [s["realised_usd"] for s in doc["scenario_results"]] == [
        pytest.approx(10 + 10 / 60, abs=1e-4)] * 5
    assert doc["cost"]["p10_usd"] == doc["cost"]["max_usd"] == pytest.approx(10.1667,
                                                                               abs=1e-4)
    (job,) = doc["jobs"]
    assert (job["miss_probability"], job["p50_finish"], job["p90_finish"]) == (
        0.0, "2027-01-01T10:10:00Z", "2027-01-01T10:10:00Z")
    assert (doc["completed"], doc["failed"], doc["policy"], doc["replan"]) == (
        5, [], "plan", True)


def test_spot_always_there_as_written_the_plans_missing_setup_makes_a_miss() -> None:
    # --no-replan. The plan without setup: one spot slot 00:00-10:00 = 10 USD. With spot
    # always there each scenario runs it as written: 10 USD. The plan budgets no setup, so
    # the job does 10 h less the 10 minutes of setup = 9.83 of 10 GPU-h: it misses its
    # deadline in every scenario.
    w, cat = one_job(10), prices()
    plan = planned(w, cat)
    doc = assess(RiskInputs(plan, w, cat, ALWAYS, replan=False), scenarios=5, seed=3,
                 workers=1)
    assert plan.cost.variable_usd == pytest.approx(10.0)
    assert [s["realised_usd"] for s in doc["scenario_results"]] == [10.0] * 5
    assert doc["cost"] == {"p10_usd": 10.0, "p50_usd": 10.0, "p90_usd": 10.0,
                           "max_usd": 10.0, "mean_usd": 10.0}
    (job,) = doc["jobs"]
    assert (job["miss_probability"], job["p50_finish"], job["p90_finish"]) == (1.0, None, None)
    assert (doc["completed"], doc["failed"]) == (5, [])


ONE_OUTAGE = WindowSource(library=(("hand.json", Trace(3 * 3600.0, np.asarray(
    [0, 1, 1, 1, 1, 1, 1, 1, 1]))),))
"""Nine 3-hour ticks, no spot in the first: a 24-hour window starts at tick 0 (the outage
at 00:00-03:00) or tick 1 (spot all day), nothing else."""


def test_one_known_outage_gives_two_costs_with_their_frequencies() -> None:
    """Re-planning (the default). The plan, setup paid: spot 00:00-10:10, 10.1667 USD.
    Window at tick 1 (spot all day): as planned, 10.1667 USD, done at 10:10.
    Window at tick 0 (no spot 00:00-03:00): at 00:00 the spot launch finds no capacity (2
    tries) and falls back to on-demand (3 USD/h); the refusal holds the pool 1 h and
    re-plans, the new plan keeping that instance. At 01:00 the hold has run out: spot is
    tried again, refused, the pool held 2 h (to 03:00), and the rest re-planned from 01:00
    with 0.8333 GPU-h done (on-demand 00:10-01:00): 9.1667 GPU-h + 10 min setup on spot from
    03:00 = 03:00-12:20, cheaper than on-demand meanwhile, so the on-demand instance ends.
    1 h x 3 + 9.3333 h x 1 = 12.3333 USD, done at 12:20. No miss (due at 24:00)."""
    w, cat = one_job(10, **SETUP_PAID), prices()
    inputs = RiskInputs(planned(w, cat), w, cat, ONE_OUTAGE)
    n = 20
    doc = assess(inputs, scenarios=n, seed=0, workers=1)
    outage = [int(inputs.traces(s)[0].trace.counts[0] == 0) for s in scenario_seeds(0, n)]
    k = sum(outage)  # scenarios whose window holds the outage
    assert 0 < k < n  # both windows drawn (seeded)
    dear, cheap = 3 + 9 + 1 / 3, 10 + 1 / 6
    assert [s["realised_usd"] for s in doc["scenario_results"]] == [
        pytest.approx(dear if o else cheap, abs=1e-4) for o in outage]
    # Sorted: n - k cheap costs then k dear ones; quantile q is the ceil(q n)-th value.
    late = {q: np.ceil(q * n) > n - k for q in (0.1, 0.5, 0.9)}
    expected = {q: dear if late[q] else cheap for q in late}
    assert doc["cost"] == {"p10_usd": pytest.approx(expected[0.1], abs=1e-4),
                           "p50_usd": pytest.approx(expected[0.5], abs=1e-4),
                           "p90_usd": pytest.approx(expected[0.9], abs=1e-4),
                           "max_usd": pytest.approx(dear, abs=1e-4),
                           "mean_usd": pytest.approx((cheap * (n - k) + dear * k) / n,
                                                     abs=1e-4)}
    (job,) = doc["jobs"]
    finish = {q: "2027-01-01T12:20:00Z" if late[q] else "2027-01-01T10:10:00Z" for q in late}
    assert (job["miss_probability"], job["p50_finish"], job["p90_finish"]) == (
        0.0, finish[0.5], finish[0.9])


def test_spot_never_there_and_spot_only_every_scenario_misses() -> None:
    """Re-planning, the job allowed spot only (no on-demand), and no spot capacity all day:
    every launch is refused, every re-plan waits for spot that never comes; nothing runs:
    0 USD in every scenario and the job misses its deadline in all (probability 1)."""
    w, cat = one_job(10, markets=["spot"], **SETUP_PAID), prices()
    never = WindowSource(library=(("never.json", Trace(3 * 3600.0, np.zeros(9, np.int64))),))
    plan = planned(w, cat)
    assert {p.market for p in plan.fleet} == {"spot"}
    doc = assess(RiskInputs(plan, w, cat, never), scenarios=3, seed=1, workers=1)
    assert [s["realised_usd"] for s in doc["scenario_results"]] == [0.0] * 3
    (job,) = doc["jobs"]
    assert (job["miss_probability"], job["p50_finish"], job["p90_finish"]) == (1.0, None, None)


def test_one_known_outage_as_written_gives_two_costs_with_their_frequencies() -> None:
    # --no-replan. The plan stretched to one spot slot 00:00-12:00 (the job needs 10 h + 10
    # min setup), carried out as written. Window at tick 0: at 00:00 the spot launch finds
    # no capacity (2 tries), the slot falls back to on-demand; 03:00 spot is back: a spot instance
    # replaces it (a swap) until 12:00: 3 h x 3 + 9 h x 1 = 18 USD; 2.8333 h of work on
    # on-demand (00:10-03:00), 7.1667 on spot from 03:10: done at 10:20. Window at tick 1:
    # spot 00:00-12:00 = 12 USD, done at 10:10. No miss.
    w, cat = one_job(10), prices()
    inputs = RiskInputs(stretched(w, cat, 12), w, cat, ONE_OUTAGE, replan=False)
    n = 20
    doc = assess(inputs, scenarios=n, seed=0, workers=1)
    outage = [int(inputs.traces(s)[0].trace.counts[0] == 0) for s in scenario_seeds(0, n)]
    k = sum(outage)  # scenarios whose window holds the outage
    assert 0 < k < n  # both windows drawn (seeded)
    assert [s["realised_usd"] for s in doc["scenario_results"]] == [
        18.0 if o else 12.0 for o in outage]
    # Sorted: n - k twelves then k 18s; quantile q is the ceil(q n)-th value.
    late = {q: np.ceil(q * n) > n - k for q in (0.1, 0.5, 0.9)}
    expected = {q: 18.0 if late[q] else 12.0 for q in late}
    assert doc["cost"] == {"p10_usd": expected[0.1], "p50_usd": expected[0.5],
                           "p90_usd": expected[0.9], "max_usd": 18.0,
                           "mean_usd": pytest.approx((12 * (n - k) + 18 * k) / n)}
    (job,) = doc["jobs"]
    finish = {q: "2027-01-01T10:20:00Z" if late[q] else "2027-01-01T10:10:00Z" for q in late}
    assert (job["miss_probability"], job["p50_finish"], job["p90_finish"]) == (
        0.0, finish[0.5], finish[0.9])
    # With P90 = 18 the tail is the k outage scenarios: the pool's 18 against its mean; its
    # capacity 7 of 8 ticks there against (7k + 8(n - k)) / 8n overall.
    if expected[0.9] == 18.0:
        (pool,) = doc["tail_pools"]
        assert (pool["pool"], pool["tail_mean_usd"], pool["excess_share"]) == (SPOT, 18.0, 1.0)
        assert pool["tail_availability"] == 0.875
        assert pool["mean_availability"] == pytest.approx((7 * k + 8 * (n - k)) / (8 * n),
                                                          abs=1e-4)


def test_a_window_source_shorter_than_the_horizon_is_refused() -> None:
    w, cat = one_job(10), prices()
    short = WindowSource(library=(("short.json", Trace(3600.0, np.ones(23, dtype=np.int64))),))
    with pytest.raises(InputFileError) as caught:
        short.check(stretched(w, cat, 12))
    assert "short.json" in str(caught.value)
    assert "24 h" in str(caught.value)


def test_manifest_windows_are_one_stretch_of_time_for_every_pool() -> None:
    # A manifest trace of the pool from 12 hours before the plan's day: 48 hourly ticks,
    # tick k holding k. A window is 24 ticks from one whole hour in 0..24 of the trace, put
    # at the plan's start: counts first..first+23, every first drawn in range.
    w, cat = one_job(10), prices()
    plan = stretched(w, cat, 12)
    source = WindowSource(manifest=(hourly(list(range(48)), start=at(-12)),))
    source.check(plan)
    firsts = set()
    for seed in scenario_seeds(5, 40):
        (trace,) = source.traces(plan, seed)
        first = int(trace.trace.counts[0])
        assert (trace.start, list(trace.trace.counts)) == (at(0), list(range(first, first + 24)))
        firsts.add(first)
    assert firsts <= set(range(25)) and len(firsts) > 10


def test_plan_zone_stats_default_to_the_public_traces_median() -> None:
    # The tiny plan assumed its spot availability (no cloud.spot_availability, no traces):
    # 0.59, and 0.44 preemptions per spot-hour -> outages of 0.41 / (0.44 x 0.59) = 1.579 h.
    w, cat = one_job(10), prices()
    (stats,) = plan_zone_stats(planned(w, cat)).values()
    assert stats.availability == 0.59
    assert stats.mean_outage_hours == pytest.approx(0.41 / (0.44 * 0.59))
    assert stats.interruptions_per_hour == 0.0
    # Given in the workload (cloud.spot_availability), the plan records it and it is used.
    given = one_job(10, spot_availability=[{"instance_type": "p3.2xlarge",
                                            "region": "us-east-1", "availability": 0.8}])
    (stats,) = plan_zone_stats(planned(given, cat)).values()
    assert stats.availability == 0.8
    assert stats.mean_outage_hours == pytest.approx(0.2 / (0.44 * 0.8))


def test_options_put_their_statistics_in_place_of_the_plans() -> None:
    w, cat = one_job(10), prices()
    plan = planned(w, cat)
    # --availability 0.8 alone: outages 0.2 / (0.44 x 0.8) = 0.568 h; with a mean outage too.
    (s,) = synthetic_source(plan, availability=0.8).stats.values()
    assert (s.availability, s.mean_outage_hours) == (0.8, pytest.approx(0.2 / 0.352))
    (s,) = synthetic_source(plan, mean_outage_hours=3.0, interruptions_per_hour=0.1
                            ).stats.values()
    assert (s.availability, s.mean_outage_hours, s.interruptions_per_hour) == (0.59, 3.0, 0.1)
    # An outage shorter than a 5-minute tick cannot be drawn: refused, naming the option.
    with pytest.raises(ValueError) as caught:
        synthetic_source(plan, mean_outage_hours=0.01)
    assert str(caught.value).startswith(f"synthetic traces for {SPOT}: ")
    assert "--mean-outage-hours = 0.01: must be at least one tick (0.0833333 h)" in str(
        caught.value)


def test_re_planning_scenarios_trace_every_spot_pool_the_workload_allows() -> None:
    """The job may run in us-east-1 (spot 1 USD/h) or us-west-2 (spot 1.5 USD/h): the plan
    holds the cheaper pool only. A re-plan may move the job west, so each scenario draws a
    trace for the west pool too (else its spot would always be there), after the plan's:
    the plan's own trace is the one drawn without re-planning. Outside the fleet, the pool
    holds the fleet's instances (1) while up."""
    cat = catalog(offer("p3.2xlarge", "us-east-1", on_demand=3.0, spot=1.0, rate=0.0),
                  offer("p3.2xlarge", "us-west-2", on_demand=3.0, spot=1.5, rate=0.0))
    w = one_job(10, regions=["us-east-1", "us-west-2"], **SETUP_PAID)
    plan = planned(w, cat)
    assert {p.pool for p in plan.fleet if p.market == "spot"} == {SPOT}
    west = SPOT.replace("us-east-1", "us-west-2")
    source = SyntheticSource({SPOT: ZoneStats(0.6, 1.0)})
    replanning, as_written = RiskInputs(plan, w, cat, source), RiskInputs(
        plan, w, cat, source, replan=False)
    assert replanning.spot_pools == [SPOT, west] and as_written.spot_pools == [SPOT]
    for seed in scenario_seeds(4, 3):
        east_trace, west_trace = replanning.traces(seed)
        (alone,) = as_written.traces(seed)
        assert (east_trace.pool.text, west_trace.pool.text) == (SPOT, west)
        assert list(east_trace.trace.counts) == list(alone.trace.counts)
        assert set(west_trace.trace.counts) <= {0, 1}
    # the west pool's statistics: the default (0.59), not the east pool's 0.6
    assert source.default == DEFAULT_STATS
