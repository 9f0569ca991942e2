"""Runs of identical periods merged and split back: the same optimum as the plain model."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from builders import at, catalog, offer, random_case, server, workload
from fleet_walk import laid_out_by_the_loop
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from costopt.errors import WorkloadError
from costopt.plan.aggregate import aggregate, mergeable, split
from costopt.plan.model import build_model
from costopt.plan.planner import make_plan
from costopt.plan.pools import build_pools, eligibility
from costopt.plan.solve import solve
from costopt.workload import Horizon, Workload
from costopt.workload_checks import parse_workload


def test_runs_of_periods_with_the_same_jobs_merge() -> None:
    # Two days of hours; "a" holds all of them, "b" 06:00 on day 0 to 12:00 on day 1:
    # runs [0, 6) (a), [6, 36) (a, b), [36, 48) (a) -> merged periods of 6, 30 and 12 h.
    w = workload([{"name": "a", "gpu_hours": 1},
                  {"name": "b", "gpu_hours": 1, "start": at(6), "deadline": at(36)}],
                 days=2, period_hours=1)
    agg = aggregate(w)
    assert agg.merged.tolist() == [6.0, 30.0, 12.0]
    assert agg.coarse.horizon.period_lengths == (6, 30, 12)
    assert agg.group[[0, 5, 6, 35, 36, 47]].tolist() == [0, 0, 1, 1, 2, 2]
    assert agg.offset[[0, 5, 6, 7, 36]].tolist() == [0.0, 5.0, 0.0, 1.0, 0.0]
    assert [agg.coarse.job_periods(job) for job in agg.coarse.jobs] == [range(0, 3),
                                                                       range(1, 2)]


def test_a_merged_period_runs_its_work_from_its_start() -> None:
    # One owned 8-GPU server, a 2-GPU gang, 90 GPU-hours in 48 hourly periods, merged into
    # one: the gang allows 2 GPU-hours an hour, so the split runs the job at its full gang
    # for 45 hours from the start (2 x 45 = 90) and not at all in the last 3.
    w = workload([{"name": "a", "gpus": 2, "gpu_hours": 90}], days=2, period_hours=1,
                 owned={"servers": [server(gpus=8)]})
    result = make_plan(w, catalog())
    assert result.solved_periods == 1
    hours = sorted((a.period, a.gpu_hours) for a in result.assignments)
    assert [t for t, _h in hours] == list(range(45))
    assert [h for _t, h in hours] == pytest.approx([2.0] * 45)


def _two_jobs_split_over_two_pools() -> tuple[Workload, object]:
    """Issue 20's case where merged and plain plans once differed (``repro_agg``)."""
    cat = catalog(offer("g4dn.12xlarge", gpu="T4", gpus=4, vcpus=48, on_demand=1.0),
                  offer("p3.2xlarge", on_demand=1.0))
    w = workload([{"name": "j0", "gpus": 1, "gpu_hours": 41.0, "interruptible": False,
                   "deadline": "2027-01-01T08:00:00Z", "parallel": 8},
                  {"name": "j1", "gpus": 1, "gpu_hours": 1.0, "interruptible": False,
                   "deadline": "2027-01-01T02:00:00Z"}],
                 period_hours=2, cloud={"regions": ["us-east-1"], "deadline_reserve": True,
                                        "spot_availability_default": 0.59})
    return w, cat


SPLIT_OVER_TWO_POOLS = _two_jobs_split_over_two_pools()


def _split_and_whole(w: Workload, cat) -> tuple[float, float] | None:
    """The merged model's solution split back, checked against every row and bound of the
    model of the original periods: its variable cost, and that model's optimum solved
    whole (None when there is none)."""
    pools = build_pools(w, cat)
    pairs = eligibility(w, pools, cat)
    fine = build_model(w, pools, pairs)
    whole = solve(fine, "highs")
    agg = aggregate(w)
    coarse = build_model(agg.coarse, pools, pairs)
    merged = solve(coarse, "highs")
    assert merged.status == whole.status
    if not whole.is_ok:
        return None
    x = split(agg, coarse, fine, merged.x)
    act = fine.activity(x)
    assert (act <= fine.row_upper + 1e-6 * np.maximum(1.0, np.abs(fine.row_upper))).all()
    assert (act >= fine.row_lower - 1e-6 * np.maximum(1.0, np.abs(fine.row_lower))).all()
    assert (x >= -1e-9).all() and (x <= fine.col_upper + 1e-6).all()
    assert fine.variable_cost @ x == pytest.approx(coarse.variable_cost @ merged.x, rel=1e-9)
    return float(fine.variable_cost @ x), float(fine.variable_cost @ whole.x)


@st.composite
def hourly_case(draw: st.DrawFn, overhead: bool = False):
    """A small workload in periods of 1-6 hours, windows on any period boundary, servers,
    sometimes a quota, a max_instances line, a budget and servers to buy: many runs of
    identical periods. With ``overhead``, launch overhead of 0, 10 or 25 minutes."""
    w, cat = draw(random_case())
    period_hours = draw(st.sampled_from([1, 2, 3, 6]))
    periods = w.horizon.days * 24 // period_hours
    raw = w.model_dump(mode="json", by_alias=True, exclude_none=True)
    raw["horizon"]["period_hours"] = period_hours
    for job in raw["jobs"]:
        first = draw(st.integers(0, periods - 1))
        last = draw(st.integers(first + 1, periods))
        job["start"], job["deadline"] = at(first * period_hours), at(last * period_hours)
    first_offer = cat.offers[0]
    raw["cloud"] = {
        "setup_minutes": draw(st.sampled_from([0, 10, 25])) if overhead else 0,
        "min_instance_minutes": 0,
        "quotas": [{"region": "us-east-1", "market": "on_demand", "family": "P",
                    "vcpus": draw(st.sampled_from([8, 32, 96]))}] if draw(st.booleans()) else [],
        "max_instances": [{"instance_type": first_offer.instance_type,
                           "region": first_offer.region, "market": "on_demand", "count": 1}]
        if draw(st.booleans()) else []}
    if draw(st.booleans()):
        raw["budget_usd"] = draw(st.sampled_from([50.0, 500.0, 5000.0]))
    if draw(st.integers(0, 3)) == 0:  # servers to buy: a MILP (their counts have no period)
        raw.setdefault("owned", {})["candidates"] = [server("buy", purchase_usd=2000,
                                                            max_count=2)]
    return parse_workload(raw, "test.yaml"), cat


def test_launch_overhead_is_counted_over_runs_so_periods_still_merge() -> None:
    # 24 hourly periods, one run of 24 h: an instance-hour works 1 - (10/60)/24 of the hour
    # in every hour of the run (its setup spread over the run), so the day merges into one
    # period - with integer counts of instances at once too, which hold per run.
    w = workload([{"name": "a", "gpu_hours": 1}], days=1, period_hours=1,
                 cloud={"setup_minutes": 10,
                        "quotas": [{"region": "us-east-1", "market": "on_demand",
                                    "family": "P", "vcpus": 64}]})
    cat = catalog(offer(), offer("p3.8xlarge", gpus=4, vcpus=32))
    pools = build_pools(w, cat)
    lp = build_model(w, pools, eligibility(w, pools, cat), counted=frozenset({(0, 0)}))
    packing = [r for r, f in enumerate(lp.row_family) if f == "packing"]
    assert len(packing) == 48  # 2 pools x 24 hours
    u_entries = lp.a_val[np.isin(lp.a_row, packing) & np.isin(lp.a_col, list(lp.u.values()))]
    f = 1 - 10 / 60 / 24  # -G f per instance-hour: G = 1 and 4 GPUs
    assert sorted(set(np.round(u_entries, 12))) == pytest.approx([-4 * f, -f])
    assert sorted(lp.n_run) == [(0, 0), (1, 0)]  # one count per pool for the day's run
    assert lp.row_family.count("count") == 48 and lp.row_family.count("quota") == 1
    assert mergeable(lp)


@settings(max_examples=40, deadline=None)
@given(hourly_case(overhead=True))
@example(SPLIT_OVER_TWO_POOLS)
def test_the_split_solution_is_an_optimum_of_the_plain_model(case) -> None:
    w, cat = case
    try:
        costs = _split_and_whole(w, cat)
    except WorkloadError:  # a job no pool can take
        return
    if costs is not None:
        split_usd, whole_usd = costs
        gap = 1e-4 if w.candidates else 1e-6  # HiGHS's mip_rel_gap when servers may be bought
        assert split_usd == pytest.approx(whole_usd, rel=gap, abs=0.01)


def test_two_jobs_split_over_two_pools_merged_and_plain_have_one_optimum() -> None:
    # Periods of 2 h; j0 (41 reference GPU-hours, up to 8 gangs of 1 GPU) by 08:00, j1 (1)
    # by 02:00. g4dn.12xlarge: 4 T4s (speed 0.5) at 1 USD/h, 0.25 USD per GPU-hour;
    # p3.2xlarge: 1 V100 at 1 USD/h. j1 on a g4dn GPU for 2 h: 0.5 USD. j0: A GPU-hours on
    # g4dn, B on p3, 0.5 A + B = 41 and A + B <= 8 gangs x 8 h = 64; it costs
    # 0.25 A + B = 41 - 0.25 A, least at A = 46, B = 18: 29.5 USD. 30 USD in all, nothing
    # short. A schedule keeps it: 00-02 one g4dn (j1 + 3 gangs of j0) and 5 p3; 02-07 two
    # g4dn full of j0; 07-08 eight p3 - 8 gangs at every instant, 12 g4dn and 18 p3
    # instance-hours. The merged model and the plain one have that optimum (the LP's);
    # the plans once differed (4.0 and 5.25 GPU-hours short) because the fleet's greedy
    # layout found no such schedule for either's optimum (docs/model.md, "The layout").
    costs = _split_and_whole(*SPLIT_OVER_TWO_POOLS)
    assert costs == pytest.approx((30.0, 30.0))


@pytest.mark.xfail(strict=True, reason="the LP's optimum runs j0's 8 gangs at every instant of "
                   "02:00-08:00: beside g4dn's 8 instance-hours there, 4 p3.2xlarge at once "
                   "for 4 h, and the fleet runs at most ceil(16/6) = 3 of them at once "
                   "(docs/model.md, \"The layout\")")
def test_two_jobs_split_over_two_pools_are_planned_as_the_schedule_by_hand() -> None:
    # The schedule of the test above, 30 USD.
    w, cat = SPLIT_OVER_TWO_POOLS
    for merge in (False, True):
        plan = make_plan(w, cat, merge=merge)
        assert plan.status == "optimal"
        assert plan.total_usd == pytest.approx(30.0)


@settings(max_examples=25, deadline=None)
@given(hourly_case(), st.sampled_from(["highs", "cbc"]))
@example(SPLIT_OVER_TWO_POOLS, "highs")
def test_planning_merged_gives_the_plain_models_optimum(case, solver) -> None:
    # Both plans stand on the LP's first optimum (which merging keeps: the test above); where
    # the layout loop re-solved either, its heuristic may lay equal optima out differently
    # (docs/model.md, "The layout"; PlanResult.layout_solves), as it did the example.
    w, cat = case
    try:  # the reference: the plain model, whole, CBC (which closes a MILP's gap)
        plain = make_plan(w, cat, merge=False, solver="cbc")
    except WorkloadError:
        return
    merged = make_plan(w, cat, solver=solver)
    if laid_out_by_the_loop(plain) or laid_out_by_the_loop(merged):
        event("laid out by the layout loop: its heuristic's plans may differ")
        return
    assert merged.status == plain.status
    assert sum(s.gpu_hours for s in merged.shortfalls) == pytest.approx(
        sum(s.gpu_hours for s in plain.shortfalls), abs=1e-4)
    if w.candidates and solver == "highs":
        # HiGHS stops a MILP within 1e-4 of the objective (mip_rel_gap), and in the elastic
        # re-solve that objective is mostly the shortfall's penalty: only totals of
        # feasible plans are that close.
        if plain.status == "optimal":
            assert merged.total_usd == pytest.approx(plain.total_usd, rel=1e-4)
        return
    assert merged.total_usd == pytest.approx(plain.total_usd, rel=1e-6, abs=0.01)


def _horizon(w: Workload, **periods) -> Workload:
    h = Horizon(start=w.horizon.start, days=w.horizon.days, **periods)
    return w.model_copy(update={"horizon": h})


@settings(max_examples=25, deadline=None)
@given(random_case())
def test_mixed_periods_equal_the_plain_model_where_they_coincide(case) -> None:
    # Windows on whole days (random_case's with 24-hour periods): the first day in 24 hourly
    # periods and the rest daily is the same model as every day in one period, and as
    # every hour in its own; each solved whole (no merging), so this checks the model.
    w, cat = case
    assume(w.horizon.period_hours == 24)
    days = w.horizon.days
    runs = [{"hours": 1, "count": 24}] + ([{"hours": 24, "count": days - 1}] if days > 1
                                          else [])
    try:
        daily = make_plan(w, cat, merge=False)
    except WorkloadError:
        return
    for other in (_horizon(w, periods=runs), _horizon(w, period_hours=1)):
        plan = make_plan(other, cat, merge=False)
        assert plan.status == daily.status
        assert plan.variable_usd == pytest.approx(daily.variable_usd, rel=1e-6, abs=0.01)
        assert plan.total_usd == pytest.approx(daily.total_usd, rel=1e-6, abs=0.01)


def test_mixed_periods_plan_hourly_then_daily() -> None:
    # 2 days: 24 hourly periods, then one of a day. A 1-GPU job of 30 GPU-hours on a 1-GPU
    # server runs in all 24 hours of day 0 (1 GPU-hour each, earliest first) and 6 hours
    # of day 1's period.
    w = _horizon(workload([{"name": "a", "gpu_hours": 30}], days=2,
                          owned={"servers": [server(gpus=1)]}),
                 periods=[{"hours": 1, "count": 24}, {"hours": 24, "count": 1}])
    result = make_plan(w, catalog(offer()))
    by_period = {a.period: a.gpu_hours for a in result.assignments}
    assert by_period == pytest.approx({**{t: 1.0 for t in range(24)}, 24: 6.0})
    assert result.assignments[-1].period_start == w.horizon.start + timedelta(days=1)


def test_only_servers_bought_may_be_integer_where_periods_merge() -> None:
    # Candidates' counts have no period: merging stays exact. An integer column with a
    # period (made here by hand) would not merge exactly, so the model is solved whole.
    w = workload([{"name": "a", "gpu_hours": 10}], days=1, period_hours=1,
                 owned={"candidates": [server("new", max_count=2)]})
    pools = build_pools(w, catalog())
    lp = build_model(w, pools, eligibility(w, pools, catalog()))
    assert lp.n and lp.integer.any()
    assert mergeable(lp)
    lp.integer[next(iter(lp.h.values()))] = True
    assert not mergeable(lp)


def test_a_row_tying_two_periods_together_is_not_merged() -> None:
    # gang[a,1] made (by hand) to hold a column of period 0 as well: merging would see the
    # two periods as one, so the model is solved whole.
    w = workload([{"name": "a", "gpu_hours": 10}], days=1, period_hours=1,
                 owned={"servers": [server()]})
    pools = build_pools(w, catalog())
    lp = build_model(w, pools, eligibility(w, pools, catalog()))
    assert mergeable(lp)
    gang_1 = lp.row_key.index((0, 1))  # work[a] is row 0, then gang[a,0], gang[a,1], ...
    assert lp.row_family[gang_1] == "gang"
    lp.a_row = np.append(lp.a_row, gang_1)
    lp.a_col = np.append(lp.a_col, lp.h[(0, 0, 0)])
    lp.a_val = np.append(lp.a_val, 1.0)
    assert not mergeable(lp)


def test_caps_on_u_merge_where_they_are_the_same_per_hour() -> None:
    # Hourly for 2 days, one job over all of it; pool "x" capped at 1 instance-hour an hour
    # until 10:00, then at 0.5: two merged periods, [0, 10) and [10, 48), capped at
    # 10 x 1 = 10 and 38 x 0.5 = 19 instance-hours.
    w = workload([{"name": "a", "gpu_hours": 1}], days=2, period_hours=1)
    caps = {("x", t): 1.0 if t < 10 else 0.5 for t in range(48)}
    agg = aggregate(w, caps)
    assert agg.merged.tolist() == [10.0, 38.0]
    assert agg.u_upper == {("x", 0): 10.0, ("x", 1): 19.0}


@settings(max_examples=25, deadline=None)
@given(hourly_case(), st.data())
def test_planning_merged_under_caps_on_u_gives_the_plain_optimum(case, data) -> None:
    # Caps per (pool, period) as the hindsight planner gives them: a pool's cap per hour
    # changes at a random period (so some runs merge and some do not).
    w, cat = case
    periods = w.horizon.periods
    caps = {}
    for pool in build_pools(w, cat).cloud:
        if data.draw(st.booleans()):
            change = data.draw(st.integers(0, periods))
            before, after = (data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])) for _ in "ab")
            caps.update({(pool.id, t): (before if t < change else after)
                         * w.horizon.period_lengths[t] for t in range(periods)})
    try:
        plain = make_plan(w, cat, merge=False, solver="cbc", u_upper=caps)
    except WorkloadError:
        return
    merged = make_plan(w, cat, solver="cbc", u_upper=caps)
    assert merged.status == plain.status
    assert merged.total_usd == pytest.approx(plain.total_usd, rel=1e-6, abs=0.01)
    assert sum(s.gpu_hours for s in merged.shortfalls) == pytest.approx(
        sum(s.gpu_hours for s in plain.shortfalls), abs=1e-4)
