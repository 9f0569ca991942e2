"""Walking a plan file's fleet instant by instant (``tests/plan/test_fleet*.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from costopt.workload import Workload


def peak(intervals: list[tuple[datetime, datetime, float]]) -> float:
    """The most weight running at any instant (an interval ends before one starts)."""
    events = sorted([(s, 1, w) for s, _e, w in intervals] + [(e, 0, -w) for _s, e, w in intervals])
    running = most = 0.0
    for _t, _kind, w in events:
        running += w
        most = max(most, running)
    return most


def walk_the_layout(w: Workload, doc: dict[str, Any]) -> None:
    """The layout, instant by instant: on every slot the GPUs its uses hold at once are
    at most the instance's; each use is one gang of its job (the job's ``gpus``), every node
    of a multi-node gang carries it over the gang's interval; no job runs more gangs at once
    than ``parallel`` (a multi-node gang counts once); uses lie inside the job's window; and
    each job's GPU-hours on each pool in the uses are the plan's assignments (to 2 s of each
    gang). An optimal plan carries all its cloud work this way."""
    pools = {p["pool"]: p for p in doc["pools"]}
    jobs = {j.name: j for j in w.jobs}
    laid: dict[tuple[str, str], float] = {}
    gangs: dict[object, list[tuple[datetime, datetime, float]]] = {}
    for f in doc["fleet"]:
        room = pools[f["pool"]]["gpus_per_node"]
        for s in f["slots"]:
            uses = [(datetime.fromisoformat(u["start"]), datetime.fromisoformat(u["end"]),
                     u["gpus"], u["job"]) for u in s["uses"]]
            assert peak([(a, b, g) for a, b, g, _j in uses]) <= room
            assert set(s["jobs"]) == {j for *_x, j in uses}
            for a, b, g, name in uses:
                job = jobs[name]
                begin, end = w.job_window(job)
                assert g == job.gpus and begin <= a < b <= end
                assert datetime.fromisoformat(s["setup_end"]) <= a
                assert b <= datetime.fromisoformat(s["end"])
                if job.nodes > 1:
                    assert s["nodes"] == job.nodes and (a, b) == (
                        datetime.fromisoformat(s["setup_end"]), datetime.fromisoformat(s["end"]))
                # one-node gangs over all pools; a multi-node job's gangs per pool (the
                # gangs of one job on two pools are not coordinated: left as it was)
                owner = name if job.nodes == 1 else (name, f["pool"])
                gangs.setdefault(owner, []).append((a, b, 1 / job.nodes))
                key = (name, f["pool"])
                laid[key] = laid.get(key, 0.0) + (b - a).total_seconds() / 3600 * g
    for owner, intervals in gangs.items():
        name = owner if isinstance(owner, str) else owner[0]
        assert peak(intervals) <= jobs[name].parallel + 1e-9
    # Over all pools, owned ones too: no job of an optimal plan runs more GPU-hours in a
    # period than its gangs can at once (owned hours are the LP's per period, cloud hours
    # its uses'; a plan left short assigns the LP's hours its uses do not carry).
    lengths = {w.horizon.period_start(t): hours
               for t, hours in enumerate(w.horizon.period_lengths)}
    in_period: dict[tuple[str, datetime], float] = {}
    for a in doc["assignments"]:
        key = (a["job"], datetime.fromisoformat(a["period_start"]))
        in_period[key] = in_period.get(key, 0.0) + a["gpu_hours"]
    for (name, start), hours in in_period.items():
        assert doc["status"] != "optimal" or \
            hours <= jobs[name].most_gpus * lengths[start] + 0.005, (name, start)
    planned: dict[tuple[str, str], float] = {}
    for a in doc["assignments"]:
        if a["pool"] in {f["pool"] for f in doc["fleet"]}:
            planned[(a["job"], a["pool"])] = planned.get((a["job"], a["pool"]), 0.0) \
                + a["gpu_hours"]
    if doc["status"] == "optimal":
        for key, hours in planned.items():
            if jobs[key[0]].nodes == 1:
                assert laid.get(key, 0.0) == pytest.approx(hours, abs=0.005), key
            else:  # a gang holds its instances for their whole working time
                assert laid.get(key, 0.0) >= hours - 0.005, key


def short_of_layout_only(plan: Any) -> bool:
    """Whether a plan is infeasible only because its layout came up short after the
    planner's last re-solve (``planner.layout_shortfalls``): a known gap of the greedy
    layout and of the share of GPUs it learns (docs/model.md, "The layout"), not of the
    model."""
    return plan.status == "infeasible" and all(
        s.reason.startswith("layout: on ") and "find no GPUs free" in s.reason
        for s in plan.shortfalls)


def laid_out_by_the_loop(plan: Any) -> bool:
    """Whether the plan is not the model's first optimum laid out as it was: the layout
    loop re-solved (``PlanResult.layout_solves``) or left some work short of a layout. Its
    heuristic may lay equal LP optima out at different cost or status (docs/model.md, "The
    layout"), so plans of two exact routes to one LP optimum (merged or plain periods,
    pruned or all pools, CBC or HiGHS) compare only where neither is."""
    return plan.layout_solves > 1 or any(s.reason.startswith("layout: on ")
                                         for s in plan.shortfalls)
