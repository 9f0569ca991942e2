"""The simulation's score as a JSON-ready document (``costopt simulate --format json``).

Every USD figure is the variable cost of the plan's horizon: cloud instance-hours at the
plan's prices plus owned servers' energy (fixed owned costs are the same whatever happens
and are left out). Hours are instance-hours.
"""

from __future__ import annotations

from typing import Any

from costopt.core.times import ts
from costopt.simulate.hindsight import Hindsight
from costopt.simulate.run import Simulation
from costopt.traces import PoolTrace, trace_stats


def _r(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places) + 0.0


def score_document(sim: Simulation, hindsight: Hindsight | None,
                   traces: list[PoolTrace]) -> dict[str, Any]:
    plan = sim.plan
    on_demand = plan.baselines.get("all_on_demand")
    return {
        "policy": sim.policy,
        "plan_id": plan.plan_id,
        "horizon": {"start": plan.horizon["start"], "end": plan.horizon["end"]},
        "realised_usd": _r(sim.realised_usd),
        "planned_usd": _r(plan.cost.variable_usd),
        "on_demand_only_usd": _r(on_demand.variable_usd) if on_demand else None,
        "hindsight_usd": _r(hindsight.usd) if hindsight else None,
        "hindsight_kind": hindsight.kind if hindsight else None,
        "hindsight_note": hindsight.note if hindsight else "not computed",
        "cloud_usd": _r(sim.cloud_usd),
        "owned_usd": _r(sim.owned_usd),
        "unattributed_usd": _r(sim.unattributed_usd),
        "jobs_met_deadline": sum(1 for p in sim.jobs.values() if p.met_deadline),
        "interruptions": sim.interruptions,
        "launch_calls": sim.launches,
        "reconciles": sim.reconciles,
        "moments": sim.moments,
        "actions": dict(sorted(sim.said.items())),
        "notes": list(sim.notes),
        "jobs": [{
            "job": p.job, "deadline": ts(p.deadline),
            "finished": ts(p.finished_at) if p.finished_at else None,
            "met_deadline": p.met_deadline, "realised_usd": _r(p.usd),
            "spot_hours": _r(p.spot_hours), "on_demand_hours": _r(p.on_demand_hours),
            "interruptions": p.interruptions, "needed_gpu_hours": _r(p.needed_gpu_hours),
            "done_gpu_hours": _r(p.done_gpu_hours),
        } for p in sim.jobs.values()],
        "traces": [{"pool": t.pool.text, "file": t.file, "start": ts(t.start),
                    **{k: _r(v) if isinstance(v, float) else v
                       for k, v in vars(trace_stats(t.trace)).items()}} for t in traces],
    }
