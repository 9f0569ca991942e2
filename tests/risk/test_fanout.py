"""The same N and seed give the same figures in this process, in local processes and on a
local Ray; a scenario that fails is reported with its index, never dropped."""

from __future__ import annotations

import os
import sys

import pytest
from simulate.sim_cases import SPOT, one_job, prices, stretched

from costopt.risk.fanout import run_sweep
from costopt.risk.scenario import RiskInputs, ScenarioResult, run_scenario
from costopt.risk.scenarios import SyntheticSource, ZoneStats, scenario_seeds


def inputs() -> RiskInputs:
    """The 10 GPU-hour job's 12-hour spot slot, carried out by the controller re-planning
    (risk's default), on synthetic spot there 60 % of the time in 1-hour outages (so
    scenarios differ)."""
    w, cat = one_job(10), prices()
    return RiskInputs(stretched(w, cat, 12), w, cat,
                      SyntheticSource({SPOT: ZoneStats(0.6, 1.0, 0.2)}))


SEEDS = scenario_seeds(11, 6)
pytestmark = pytest.mark.xdist_group("risk_fanout")  # one worker runs `here`'s sweep, once


@pytest.fixture(scope="module")
def here() -> list[ScenarioResult]:
    sweep = run_sweep(inputs(), SEEDS, workers=1)
    assert sweep.failures == []
    return sweep.results


def test_scenarios_differ_and_seeds_come_from_the_master_seed(
        here: list[ScenarioResult]) -> None:
    assert [r.index for r in here] == list(range(6))
    assert [r.seed for r in here] == SEEDS
    assert len({r.realised_usd for r in here}) > 1
    # Another master seed gives other scenarios.
    assert scenario_seeds(12, 6) != SEEDS
    assert scenario_seeds(11, 8)[:6] == SEEDS  # more scenarios add to the same first ones


def test_local_processes_give_the_same_results(here: list[ScenarioResult]) -> None:
    seen: list[int] = []
    sweep = run_sweep(inputs(), SEEDS, workers=2, on_done=lambda r: seen.append(r.index))
    assert sweep.runner == "2 local processes"
    assert sweep.results == here
    assert sorted(seen) == list(range(6))


def test_a_local_ray_gives_the_same_results(here: list[ScenarioResult]) -> None:
    # CI installs the extra costopt[ray] (.ci/run) and never skips this; elsewhere it runs
    # where Ray is installed.
    ray = __import__("ray") if os.environ.get("CI") else pytest.importorskip("ray")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # fail_second, to workers
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        sweep = run_sweep(inputs(), SEEDS, ray_address="local")
        assert sweep.runner == "Ray (local, 2 CPUs)"
        assert sweep.results == here
        failing = run_sweep(inputs(), SEEDS[:3], ray_address="local", retries=1,
                            run=fail_second)
    finally:
        ray.shutdown()
    assert [r.index for r in failing.results] == [0, 2]
    (failure,) = failing.failures
    assert (failure.index, failure.seed) == (1, SEEDS[1])
    assert "RuntimeError: scenario 1 breaks" in failure.error


def fail_second(inputs: RiskInputs, index: int, seed: int) -> ScenarioResult:
    if index == 1:
        raise RuntimeError(f"scenario {index} breaks")
    return run_scenario(inputs, index, seed)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_scenario_is_reported_not_dropped(workers: int) -> None:
    sweep = run_sweep(inputs(), SEEDS[:3], workers=workers, run=fail_second)
    assert [r.index for r in sweep.results] == [0, 2]
    (failure,) = sweep.failures
    assert (failure.index, failure.seed, failure.error) == (
        1, SEEDS[1], "RuntimeError: scenario 1 breaks")
