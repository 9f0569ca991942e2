"""A sweep from end to end: seeds spawned, scenarios fanned out, figures summarised, the
document made (:func:`assess`); and planning for the tail (:func:`plan_for_tail`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from costopt.planfile import PlanDocument
from costopt.risk.document import risk_document
from costopt.risk.fanout import Done, run_sweep
from costopt.risk.scenario import RiskInputs
from costopt.risk.scenarios import plan_zone_stats, scenario_seeds, spot_pools
from costopt.risk.stats import summarise
from costopt.workload import SpotAvailability, Workload


def assess(inputs: RiskInputs, *, scenarios: int, seed: int, workers: int | None = None,
           ray_address: str | None = None, retries: int = 2,
           on_done: Done | None = None) -> dict[str, Any]:
    """Run ``scenarios`` scenarios of ``inputs`` from the master ``seed`` and return the
    document of :func:`~costopt.risk.document.risk_document`."""
    sweep = run_sweep(inputs, scenario_seeds(seed, scenarios), workers=workers,
                      ray_address=ray_address, retries=retries, on_done=on_done)
    summary = summarise(sweep.results) if sweep.results else None
    return risk_document(inputs.plan, sweep, summary, seed=seed,
                         source=inputs.source.describe(), policy=inputs.policy,
                         replan=inputs.replans)


DERATING = (1.0, 0.8, 0.64, 0.512, 0.41)
"""Factors the plan's spot availability is multiplied by, in turn, when planning for the
tail: the planner then buys less spot work per instance-hour and keeps more slack."""


@dataclass(frozen=True)
class TailAttempt:
    """One plan tried: made with the spot availability times ``factor``; its risk document."""

    factor: float
    plan: PlanDocument
    risk: dict[str, Any]

    @property
    def p90_usd(self) -> float | None:
        return self.risk["cost"]["p90_usd"] if self.risk["cost"] else None


def derated(workload: Workload, plan: PlanDocument, factor: float) -> Workload:
    """``workload`` with every spot pool of ``plan`` given ``factor`` times the availability
    the plan assumed for it (``cloud.spot_availability`` lines by instance type, region and
    zone, in place of the workload's for those types and regions; ``cloud.spot_traces``
    left out, since a traced availability would win)."""
    stats = plan_zone_stats(plan)
    records = {r.pool: r for r in plan.pools}
    lines = [SpotAvailability(instance_type=r.instance_type, region=r.region, az=r.zone,
                              availability=max(1e-3, stats[p].availability * factor))
             for p in spot_pools(plan) if (r := records.get(p)) and r.instance_type and r.region]
    if workload.cloud is None:
        return workload
    derated_types = {(a.instance_type, a.region) for a in lines}
    kept = [a for a in workload.cloud.spot_availability
            if (a.instance_type, a.region) not in derated_types]
    cloud = workload.cloud.model_copy(update={"spot_traces": None,
                                              "spot_availability": kept + lines})
    return workload.model_copy(update={"cloud": cloud})


def plan_for_tail(inputs: RiskInputs, budget_usd: float,
                  replan: Callable[[Workload], PlanDocument],
                  risk: Callable[[RiskInputs], dict[str, Any]]) -> list[TailAttempt]:
    """Plan for the tail: the plan of ``inputs`` first, then re-plans of the workload with
    the spot availability derated by each factor of :data:`DERATING` in turn, until a
    plan's P90 is within ``budget_usd`` (or a re-plan is infeasible). The scenarios stay
    those of the first plan's statistics: derating changes what is planned, not what spot
    will do. Every attempt is returned; the first within the budget is the one to use (when
    none is, the caller picks, say the one of least P90)."""
    attempts = [TailAttempt(1.0, inputs.plan, risk(inputs))]
    for factor in DERATING[1:]:
        p90 = attempts[-1].p90_usd
        if p90 is not None and p90 <= budget_usd:
            break
        plan = replan(derated(inputs.workload, inputs.plan, factor))
        if plan.status != "optimal":  # derated further, it would not be feasible either
            break
        attempt = replace(inputs, plan=plan)
        attempts.append(TailAttempt(factor, plan, risk(attempt)))
    return attempts
