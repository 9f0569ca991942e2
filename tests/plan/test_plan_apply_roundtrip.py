"""A plan ``plan`` writes is a plan ``apply`` accepts (issue 26): random small workloads are
planned, written as ``costopt plan`` writes them and read back through ``apply``'s reader
(``read_plan``: every field, the fleet against the plan's instance-hours, the id against
the content). The issue found two it refused ("slots 0..0"): a short 2-node gang, and slot
numbers beyond what its check allowed."""

from __future__ import annotations

from pathlib import Path

from builders import catalog, offer, workload
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

from costopt.errors import InfeasiblePlan
from costopt.plan.planfile import to_document
from costopt.plan.planner import make_plan
from costopt.planfile import read_plan, write_plan

CATALOG = catalog(offer("p3.2xlarge", gpus=1, vcpus=8, on_demand=3.0, spot=1.0, rate=0.05),
                  offer("p3.16xlarge", gpus=8, vcpus=64, on_demand=24.0, spot=8.0, rate=0.05))


def planned_and_read(jobs: list[dict], tmp: Path, period_hours: int = 12,  # type: ignore[no-untyped-def]
                     **cloud: object):
    w = workload(jobs, days=1, period_hours=period_hours,
                 cloud={"regions": ["us-east-1"], **cloud})
    doc = to_document(make_plan(w, CATALOG), "w.yaml", "0" * 64)
    path = tmp / "plan.json"
    write_plan(doc, path)
    return doc, read_plan(path)


def test_a_short_two_node_gang_is_read_back(tmp_path: Path) -> None:
    """8 GPU-hours of a 2-node gang of 8 GPUs: half an hour of two p3.16xlarge, 1.0
    instance-hour in a 12 h period; ceil(1.0 / 12) = 1 instance at once by the hours, but
    the gang runs its 2 nodes at once: slots 0 and 1."""
    doc, back = planned_and_read([{"name": "big", "gpus": 8, "nodes": 2, "gpu_hours": 8}],
                                 tmp_path, markets=["on_demand"])
    (pool,) = back.fleet
    assert sorted(s.slot for s in pool.slots) == [0, 1]
    assert back.plan_id == doc.plan_id


JOB = st.fixed_dictionaries({
    "gpus": st.sampled_from([1, 2, 4, 8]),
    "nodes": st.sampled_from([1, 1, 2, 3]),
    "gpu_hours": st.integers(min_value=1, max_value=200),
    "interruptible": st.booleans(),
}, optional={"deadline_hours": st.sampled_from([6, 12, 18, 24]),
             "parallel": st.integers(min_value=1, max_value=4)})


@settings(max_examples=examples(100, ci=30), deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(jobs=st.lists(JOB, min_size=1, max_size=4),
       markets=st.sampled_from([["on_demand"], ["on_demand", "spot"]]),
       setup=st.sampled_from([0, 10]))
def test_every_plan_written_is_read_back_by_apply(jobs: list[dict], markets: list[str],
                                                   setup: int, tmp_path: Path) -> None:
    named = []
    for i, job in enumerate(jobs):
        job = dict(job)
        hours = job.pop("deadline_hours", None)
        if job["nodes"] > 1:
            job["gpus"] = 8  # a multi-node gang takes whole instances
            job.pop("parallel", None)
        if hours is not None:
            job["deadline"] = f"2027-01-01T{hours:02d}:00:00Z" if hours < 24 \
                else "2027-01-02T00:00:00Z"
        named.append({"name": f"j{i}", **job})
    try:
        doc, back = planned_and_read(named, tmp_path, 6, markets=markets,
                                     setup_minutes=setup, min_instance_minutes=0)
    except InfeasiblePlan:
        assume(False)  # no plan at all: nothing written
        return
    assert back.plan_id == doc.plan_id
    assert [p.pool for p in back.fleet] == [p.pool for p in doc.fleet]
