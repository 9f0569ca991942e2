"""Every solve path reaches the optimum of the whole model.

CBC through PuLP solves the whole model at once. HiGHS starts from the seed columns and
the non-lazy rows and generates the rest: whatever the seed, the optimum must not move.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from builders import catalog, offer, random_case, server, workload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

from costopt.plan.model import build_model, seed_pairs
from costopt.plan.pools import build_pools, eligibility
from costopt.plan.solve import MIP_REL_GAP, SolveStatus, _HighsMaster, solve


def _model(w, cat, elastic=False):
    pools = build_pools(w, cat)
    pairs = eligibility(w, pools, cat)
    return build_model(w, pools, pairs, elastic=elastic), pools, pairs


@settings(max_examples=examples(40, ci=15), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(random_case(), st.integers(0, 2**32 - 1))
def test_highs_with_any_seed_matches_cbc_on_the_whole_model(case, seed) -> None:
    w, cat = case
    lp, _pools, _pairs = _model(w, cat, elastic=True)  # elastic: always feasible
    whole = solve(lp, "cbc")
    assert whole.status is SolveStatus.OPTIMAL
    best = float(lp.cost @ whole.x)
    h_cols = np.array(sorted(lp.h.values()))
    rng = np.random.default_rng(seed)
    for mask in (np.ones(lp.num_cols, bool),           # everything from the start
                 ~np.isin(np.arange(lp.num_cols), h_cols),  # no job column at all
                 rng.random(lp.num_cols) < 0.3):       # a random third
        sol = solve(replace(lp, seed=mask), "highs")
        assert sol.status is SolveStatus.OPTIMAL
        assert float(lp.cost @ sol.x) == pytest.approx(best, rel=1e-7, abs=1e-6)
        assert np.all(lp.activity(sol.x) <= lp.row_upper + 1e-6 * np.maximum(
            1.0, np.abs(lp.row_upper)))
        assert np.all(lp.activity(sol.x) >= lp.row_lower - 1e-6 * np.maximum(
            1.0, np.abs(lp.row_lower)))


def test_seed_is_owned_pools_and_each_jobs_three_cheapest_cloud_pools() -> None:
    # Per reference GPU-hour: a 1 USD/h, b 2, c 3, d 4 (1-GPU, V100 on demand) -> d is left
    # out; the owned server is always in.
    cat = catalog(*(offer(f"p3.{n}", on_demand=usd) for n, usd in
                    (("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0))))
    w = workload([{"name": "j", "gpu_hours": 10}], owned={"servers": [server()]}, cloud={})
    pools = build_pools(w, cat)
    pairs = eligibility(w, pools, cat)
    seeded = {pools.all[p].id for _j, p in seed_pairs(pools, pairs)}
    assert seeded == {"owned:box", "aws:us-east-1:p3.a:on_demand",
                      "aws:us-east-1:p3.b:on_demand", "aws:us-east-1:p3.c:on_demand"}


def test_a_column_outside_the_seed_joins_when_it_pays() -> None:
    # Four 1-GPU jobs of 24 GPU-h in one day; 1-GPU offers at 1, 1.5, 2 and 4 USD/h, the
    # three cheap ones capped at one instance. Every job's seed is the three cheap pools,
    # so the start cannot place the fourth job (the elastic model lets it fall short, at
    # a penalty); pricing must bring p3.d in: 24 x (1 + 1.5 + 2 + 4) = 204 USD.
    prices = (("a", 1.0), ("b", 1.5), ("c", 2.0), ("d", 4.0))
    cat = catalog(*(offer(f"p3.{n}", on_demand=usd) for n, usd in prices))
    caps = [{"instance_type": f"p3.{n}", "region": "us-east-1", "market": "on_demand",
             "count": 1} for n in "abc"]
    w = workload([{"name": f"j{i}", "gpu_hours": 24} for i in range(4)],
                 cloud={"max_instances": caps})
    lp, pools, pairs = _model(w, cat, elastic=True)
    d = next(i for i, p in enumerate(pools.all) if "p3.d" in p.id)
    assert not any(p == d for _j, p in seed_pairs(pools, pairs))
    sol = solve(lp, "highs")
    assert sol.status is SolveStatus.OPTIMAL
    assert float(lp.variable_cost @ sol.x) == pytest.approx(204.0)
    assert sum(sol.x[c] for c in lp.z.values()) == pytest.approx(0.0, abs=1e-9)
    priced = int(sol.detail.split(" column(s) priced in")[0].split()[-1])
    assert priced > 0


def test_highs_is_held_to_the_gap_it_is_given() -> None:
    # A MILP (a server to buy: an integer count) stops within the relative gap asked for:
    # ``plan``'s 1e-6 by default, a re-plan's wider one when given (``planner.Tolerances``).
    # 20 GPU-hours in a day: renting 20 x 3 = 60 USD; the box (8,760 USD over 8,760 h)
    # costs 24 over the day: it is bought.
    cat = catalog(offer(on_demand=3.0))
    w = workload([{"name": "j", "gpu_hours": 20}], cloud={"markets": ["on_demand"]},
                 owned={"candidates": [{"name": "box", "gpu": "V100-SXM2-16GB", "gpus": 1,
                                        "purchase_usd": 8760, "lifetime_years": 1,
                                        "power_watts": 0, "idle_watts": 0, "max_count": 2}]})
    lp, _pools, _pairs = _model(w, cat)
    assert lp.integer.any()
    assert _HighsMaster(lp, None, MIP_REL_GAP).highs.getOptionValue("mip_rel_gap")[1] == 1e-6
    assert _HighsMaster(lp, None, 0.01).highs.getOptionValue("mip_rel_gap")[1] == 0.01
    sol = solve(lp, "highs", mip_rel_gap=0.01)
    assert sol.status is SolveStatus.OPTIMAL
    assert float(lp.variable_cost @ sol.x) == pytest.approx(24.0)
