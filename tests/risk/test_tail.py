"""Planning for the tail: re-plans with the spot availability derated until the P90 fits."""

from __future__ import annotations

from typing import Any

import pytest
from simulate.sim_cases import one_job, planned, prices

from costopt.plan.planfile import PlanDocument, to_document
from costopt.plan.planner import make_plan
from costopt.risk.assess import derated, plan_for_tail
from costopt.risk.scenario import RiskInputs
from costopt.risk.scenarios import SyntheticSource
from costopt.workload import Workload


def test_derating_multiplies_the_plans_availability() -> None:
    # The plan assumed its spot availability: 0.59; times 0.8 = 0.472 for p3.2xlarge in
    # us-east-1, given to the planner through cloud.spot_availability.
    w, cat = one_job(10), prices()
    (line,) = derated(w, planned(w, cat), 0.8).cloud.spot_availability
    assert (line.instance_type, line.region, line.az) == ("p3.2xlarge", "us-east-1", None)
    assert line.availability == pytest.approx(0.472)


def test_plan_for_tail_stops_at_the_first_plan_within_the_budget() -> None:
    # A stand-in risk gives P90 50, 40, 30, 20 USD to the 1st, 2nd, 3rd, 4th plan: with a
    # budget of 35 the third (availability x 0.64) is the first within it, and no more are
    # tried. The re-plans are the planner's on the derated workloads (0.59 x 0.8, x 0.64).
    w, cat = one_job(10), prices()
    seen: list[float] = []

    def replan(workload: Workload) -> PlanDocument:
        seen.append(workload.cloud.spot_availability[0].availability)
        return to_document(make_plan(workload, cat), "test.yaml", "0" * 64)

    p90s = iter([50.0, 40.0, 30.0, 20.0])

    def risk(_inputs: RiskInputs) -> dict[str, Any]:
        return {"cost": {"p90_usd": next(p90s)}}

    inputs = RiskInputs(planned(w, cat), w, cat, SyntheticSource({}), policy="plan")
    attempts = plan_for_tail(inputs, 35.0, replan, risk)
    assert [(a.factor, a.p90_usd) for a in attempts] == [(1.0, 50.0), (0.8, 40.0),
                                                          (0.64, 30.0)]
    assert seen == [pytest.approx(0.472), pytest.approx(0.3776)]
    assert all(a.plan.status == "optimal" for a in attempts)
